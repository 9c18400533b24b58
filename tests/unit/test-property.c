// SPDX-License-Identifier: MIT
/*
 * test-property.c - properties checked on many random inputs, where tables of
 * hand-picked cases stop scaling:
 *
 * 1. On random fabrics (host bridges with whitelisted, same-bridge-only,
 *    unlisted or no host-bridge device; root ports, switch cascades, bridges,
 *    multi-function devices; random ACS redirect bits; Zen or not), for every
 *    ordered pair: verdict_pair(), the fast path verdict_fast(), the matrix
 *    path verdict_quick() and verdict_distance_many() agree with each other
 *    and with a naive restatement of the kernel's calc_map_type_and_dist()
 *    written here from drivers/pci/p2pdma.c, without and with random admin
 *    overrides.
 * 2. The wire codec: every valid request (random, of every opcode) and reply
 *    round-trips through conn_send()/conn_recv() and conn_decode_request()
 *    unchanged; every single-byte corruption of the header's version, flags
 *    and length bytes is refused by conn_recv(); a corrupted opcode is either
 *    refused by the decoder or reported as what it is.
 *
 * P2P_PROPERTY_SEED=N repeats one run; the seed is printed on failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "topo.h"
#include "verdict.h"

static uint64_t rng_state;
static uint64_t seed0;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static int rnd_below(int n)
{
	return n <= 0 ? 0 : (int)(rnd() % (uint64_t)n);
}

static bool chance(int percent)
{
	return rnd_below(100) < percent;
}

static int seed_setup(void **state)
{
	(void)state;
	const char *s = getenv("P2P_PROPERTY_SEED");
	seed0 = s ? strtoull(s, NULL, 0) : 0x5eed2026ULL;
	if (!seed0)
		seed0 = 1;
	return 0;
}

/* ---- 1. verdicts on random fabrics ------------------------------------ */

#define MAXF 96

/* Host-bridge device ids with a fixed meaning in every kernel's whitelist
 * since 5.15: 8086:2030 any host bridge, 8086:2f00 same host bridge only,
 * 8086:1234 not listed. */
enum hb_wl { HB_WL_ANY, HB_WL_SAME, HB_WL_NONE, HB_NODEV };

struct gen {
	struct topo t;
	struct topo_func f[MAXF];
	struct topo_hostbridge h[4];
	enum hb_wl wl[4];
	int next_bus;
	int bus_limit; /* first bus of the next host bridge */
};

struct pre { /* a function before sorting */
	uint32_t dom;
	int bus, dev, fn;
	int parent; /* index in pre[] */
	int hb;
	enum topo_kind kind;
	bool bridge;
	uint16_t vendor, device;
	bool acs_redir;
	enum topo_acs acs;
	int numa;
};

static struct pre pre[MAXF];
static int npre;

static int add_pre(int hb, int bus, int dev, int fn, int parent, enum topo_kind kind)
{
	if (npre >= MAXF)
		return -1;
	struct pre *p = &pre[npre];
	memset(p, 0, sizeof(*p));
	p->dom = 0;
	p->bus = bus;
	p->dev = dev;
	p->fn = fn;
	p->parent = parent;
	p->hb = hb;
	p->kind = kind;
	p->bridge = kind != TOPO_KIND_ENDPOINT && kind != TOPO_KIND_HOST_BRIDGE;
	p->vendor = 0x10de;
	p->device = (uint16_t)(0x2000 + npre);
	/* ACS: most functions none, some unknown, ports sometimes redirect (an
	 * endpoint with ACS RR happens too: multi-function devices) */
	p->acs = chance(10) ? TOPO_ACS_UNKNOWN : chance(50) ? TOPO_ACS_PRESENT : TOPO_ACS_ABSENT;
	p->acs_redir = p->acs == TOPO_ACS_PRESENT && chance(p->bridge ? 25 : 8);
	p->numa = -1;
	return npre++;
}

/* Endpoints (possibly multi-function) or a switch below a port's secondary
 * bus.  @depth bounds the cascade. */
static void gen_below(struct gen *g, int hb, int port, int depth)
{
	if (g->next_bus + 2 >= g->bus_limit)
		return;
	int bus = g->next_bus++;
	if (depth < 4 && chance(40)) {
		int up = add_pre(hb, bus, 0, 0, port, TOPO_KIND_SWITCH_UP);
		if (up < 0)
			return;
		int bus2 = g->next_bus++;
		int ndown = 1 + rnd_below(4);
		for (int d = 0; d < ndown; d++) {
			int dn = add_pre(hb, bus2, d, 0, up, TOPO_KIND_SWITCH_DOWN);
			if (dn < 0)
				return;
			if (chance(85))
				gen_below(g, hb, dn, depth + 1);
		}
		return;
	}
	if (chance(10)) { /* a PCIe-to-PCI bridge with a conventional device */
		int br = add_pre(hb, bus, 0, 0, port, TOPO_KIND_BRIDGE);
		if (br >= 0)
			add_pre(hb, g->next_bus++, 0, 0, br, TOPO_KIND_ENDPOINT);
		return;
	}
	int nfn = chance(30) ? 2 + rnd_below(3) : 1;
	for (int f = 0; f < nfn; f++)
		add_pre(hb, bus, 0, f, port, TOPO_KIND_ENDPOINT);
}

static int cmp_pre(const void *a, const void *b)
{
	const struct pre *x = &pre[*(const int *)a], *y = &pre[*(const int *)b];
	uint64_t kx = ((uint64_t)x->dom << 16) | (x->bus << 8) | (x->dev << 3) | x->fn;
	uint64_t ky = ((uint64_t)y->dom << 16) | (y->bus << 8) | (y->dev << 3) | y->fn;
	return kx < ky ? -1 : kx > ky;
}

static void gen_fabric(struct gen *g)
{
	memset(g, 0, sizeof(*g));
	npre = 0;
	int nhb = 1 + rnd_below(3);
	g->next_bus = 0;
	for (int h = 0; h < nhb; h++) {
		int root = g->next_bus = h * 0x40;
		g->next_bus++;
		g->bus_limit = root + 0x40;
		struct topo_hostbridge *hb = &g->h[h];
		snprintf(hb->name, sizeof(hb->name), "pci0000:%02x", root);
		hb->bus = (uint8_t)root;
		hb->numa_node = nhb > 1 && chance(60) ? h % 2 : -1;
		hb->hbdev = -1;
		g->wl[h] = (enum hb_wl)rnd_below(4);
		int dev = g->wl[h] == HB_NODEV ? 1 : 0;
		int first = -1;
		if (g->wl[h] != HB_NODEV && chance(50)) {
			/* a host-bridge function at 00.0 */
			first = add_pre(h, root, 0, 0, -1, TOPO_KIND_HOST_BRIDGE);
			dev = 1;
		}
		int nrp = 1 + rnd_below(4);
		for (int r = 0; r < nrp; r++) {
			int rp = add_pre(h, root, dev + r, 0, -1, TOPO_KIND_ROOT_PORT);
			if (rp < 0)
				break;
			if (first < 0)
				first = rp;
			if (chance(85))
				gen_below(g, h, rp, 0);
		}
		if (chance(40)) /* an endpoint on the root bus */
			add_pre(h, root, 0x10 + rnd_below(8), 0, -1, TOPO_KIND_ENDPOINT);
		if (g->wl[h] == HB_NODEV) {
			/* no host-bridge device: first function neither 00.0 nor a
			 * root port -> put an RC endpoint at devfn 00.1 first */
			int e = add_pre(h, root, 0, 1, -1, TOPO_KIND_ENDPOINT);
			(void)e;
		} else if (first >= 0) {
			pre[first].vendor = 0x8086;
			pre[first].device = g->wl[h] == HB_WL_ANY    ? 0x2030
					    : g->wl[h] == HB_WL_SAME ? 0x2f00
								     : 0x1234;
		}
	}
	/* sort by BDF, as topo_scan() leaves them */
	int order[MAXF], where[MAXF];
	for (int i = 0; i < npre; i++)
		order[i] = i;
	qsort(order, (size_t)npre, sizeof(int), cmp_pre);
	for (int i = 0; i < npre; i++)
		where[order[i]] = i;
	for (int i = 0; i < npre; i++) {
		const struct pre *p = &pre[order[i]];
		struct topo_func *f = &g->f[i];
		memset(f, 0, sizeof(*f));
		snprintf(f->bdf, sizeof(f->bdf), "%04x:%02x:%02x.%d", p->dom, p->bus, p->dev,
			 p->fn);
		f->domain = p->dom;
		f->bus = (uint8_t)p->bus;
		f->dev = (uint8_t)p->dev;
		f->fn = (uint8_t)p->fn;
		f->idx = i;
		f->parent = p->parent >= 0 ? where[p->parent] : -1;
		f->hb = p->hb;
		f->vendor = p->vendor;
		f->device = p->device;
		f->class_code = p->kind == TOPO_KIND_HOST_BRIDGE ? 0x060000
				: p->bridge			 ? 0x060400
								 : 0x030200;
		f->kind = p->kind;
		f->is_bridge = p->bridge;
		f->acs = p->acs;
		f->acs_redir = p->acs_redir;
		f->numa_node = -1;
		f->iommu_group = -1;
		f->pcie_type = -1;
		f->sec_bus = f->sub_bus = -1;
		f->cur_speed_gts = chance(70) ? 2.5 * (1 << rnd_below(5)) : 0;
		f->cur_width = f->cur_speed_gts > 0 ? 1 << rnd_below(5) : 0;
	}
	for (int i = 0; i < npre; i++) {
		int d = 0;
		for (int p = g->f[i].parent; p >= 0; p = g->f[p].parent)
			d++;
		g->f[i].depth = d;
	}
	/* the kernel's host-bridge device: first function on the root bus if it
	 * is at 00.0 or a root port */
	for (int h = 0; h < nhb; h++) {
		for (int i = 0; i < npre; i++) {
			const struct topo_func *f = &g->f[i];
			if (f->hb != h || f->parent >= 0)
				continue;
			if ((f->dev == 0 && f->fn == 0) || f->kind == TOPO_KIND_ROOT_PORT)
				g->h[h].hbdev = i;
			break;
		}
		if (g->h[h].hbdev < 0)
			g->wl[h] = HB_NODEV;
	}
	g->t.funcs = g->f;
	g->t.nfuncs = npre;
	g->t.hbs = g->h;
	g->t.nhbs = nhb;
	bool zen = chance(30);
	g->t.cpu.vendor = zen || chance(30) ? TOPO_CPU_AMD : TOPO_CPU_INTEL;
	g->t.cpu.family = zen ? 0x17 + rnd_below(3) : g->t.cpu.vendor == TOPO_CPU_AMD ? 0x15 : 6;
}

/* The kernel's rules, restated as plainly as p2pdma.c writes them. */
static enum verdict_map naive_kernel(const struct gen *g, int p, int c, int *ret_dist)
{
	const struct topo_func *f = g->f;
	int dist_a = 0;
	bool acs = false;
	for (int a = p; a >= 0; a = f[a].parent, dist_a++) {
		int dist_b = 0;
		bool acs_b = false;
		for (int b = c; b >= 0; b = f[b].parent, dist_b++) {
			if (a == b) {
				/* provider side: p .. a inclusive; client side: c .. a exclusive */
				*ret_dist = dist_a + dist_b;
				if (!(acs || f[a].acs_redir || acs_b))
					return VERDICT_BUS_ADDR;
				goto host_bridge;
			}
			acs_b = acs_b || f[b].acs_redir;
		}
		acs = acs || f[a].acs_redir;
	}
	*ret_dist = (f[p].depth + 1) + (f[c].depth + 1);
host_bridge:;
	bool zen = g->t.cpu.vendor == TOPO_CPU_AMD && g->t.cpu.family >= 0x17;
	int ha = f[p].hb, hb = f[c].hb;
	bool wl;
	if (ha == hb)
		wl = g->wl[ha] == HB_WL_ANY || g->wl[ha] == HB_WL_SAME;
	else
		wl = g->wl[ha] == HB_WL_ANY && g->wl[hb] == HB_WL_ANY;
	return zen || wl ? VERDICT_THRU_HOST_BRIDGE : VERDICT_NOT_SUPPORTED;
}

struct naive_ovr {
	int a, b;
	bool allow;
};

static const struct naive_ovr *naive_find_ovr(const struct naive_ovr *o, int n, int p, int c)
{
	for (int i = 0; i < n; i++)
		if ((o[i].a == p && o[i].b == c) || (o[i].a == c && o[i].b == p))
			return &o[i];
	return NULL;
}

static void check_fabric(const struct gen *g, const struct naive_ovr *no, int nno,
			 const struct verdict_ctx *ctx, uint64_t fabric_seed)
{
	int n = g->t.nfuncs;
	for (int p = 0; p < n; p++) {
		for (int c = 0; c < n; c++) {
			int kd, fd, qd, rd;
			enum verdict_map km = naive_kernel(g, p, c, &kd);
			const struct naive_ovr *o = naive_find_ovr(no, nno, p, c);
			enum verdict_map want = km;
			bool overridden = false;
			if (o && !o->allow) {
				want = VERDICT_NOT_SUPPORTED;
				overridden = true;
			} else if (o && km == VERDICT_NOT_SUPPORTED) {
				want = VERDICT_THRU_HOST_BRIDGE;
				overridden = true;
			}
			int want_dist = want == VERDICT_NOT_SUPPORTED ? -1 : kd;

			struct verdict v;
			verdict_pair(ctx, p, c, &v);
			enum verdict_map fm = verdict_fast(ctx, p, c, &fd);
			enum verdict_map qm;
			enum verdict_class qc;
			verdict_quick(ctx, p, c, &qm, &qd, &qc);
			int dm = verdict_distance_many(ctx, p, &c, 1, true);
			int dk = verdict_distance_many(ctx, p, &c, 1, false);
			verdict_fast(ctx, c, p, &rd);

			if (v.kernel_map != km || v.kernel_distance != kd || fm != km || fd != kd ||
			    v.map != want || v.distance != want_dist ||
			    v.overridden != overridden || qm != v.map || qd != v.distance ||
			    qc != v.cls || dm != want_dist ||
			    dk != (km == VERDICT_NOT_SUPPORTED ? -1 : kd) || rd != kd)
				fail_msg(
				    "seed 0x%llx fabric 0x%llx (%d functions, %d overrides): "
				    "%s -> %s: naive kernel %s/%d want %s/%d ovr %d; "
				    "pair kernel %s/%d map %s/%d ovr %d; fast %s/%d; quick %s/%d "
				    "cls %d/%d; many %d/%d; reverse distance %d",
				    (unsigned long long)seed0, (unsigned long long)fabric_seed, n,
				    nno, g->f[p].bdf, g->f[c].bdf, verdict_map_name(km), kd,
				    verdict_map_name(want), want_dist, overridden,
				    verdict_map_name(v.kernel_map), v.kernel_distance,
				    verdict_map_name(v.map), v.distance, v.overridden,
				    verdict_map_name(fm), fd, verdict_map_name(qm), qd, qc, v.cls,
				    dm, dk, rd);
			/* the path runs provider .. client through the common bridge */
			if (v.npath < 1 || v.path[0] != p || v.path[v.npath - 1] != c)
				fail_msg("seed 0x%llx fabric 0x%llx: %s -> %s: path does not run "
					 "from the provider to the client",
					 (unsigned long long)seed0, (unsigned long long)fabric_seed,
					 g->f[p].bdf, g->f[c].bdf);
			if ((v.map == VERDICT_BUS_ADDR) != (km == VERDICT_BUS_ADDR && !overridden))
				fail_msg("bus_addr changed by an override");
		}
	}
	/* distance_many over a random client set: the sum, or -1 if any refused */
	for (int k = 0; k < 8 && n > 1; k++) {
		int p = rnd_below(n), cl[6], ncl = 1 + rnd_below(6), sum = 0;
		for (int i = 0; i < ncl; i++) {
			cl[i] = rnd_below(n);
			struct verdict v;
			verdict_pair(ctx, p, cl[i], &v);
			sum = sum < 0 || v.map == VERDICT_NOT_SUPPORTED ? -1 : sum + v.distance;
		}
		assert_int_equal(verdict_distance_many(ctx, p, cl, ncl, true), sum);
	}
}

static void test_random_fabrics(void **state)
{
	(void)state;
	int fabrics = 0, pairs = 0, bus_addr = 0, thru = 0, refused = 0;
	rng_state = seed0;
	for (int iter = 0; iter < 300; iter++) {
		uint64_t fabric_seed = rnd() | 1;
		uint64_t saved = rng_state;
		rng_state = fabric_seed;
		struct gen *g = test_malloc(sizeof(*g));
		gen_fabric(g);
		int n = g->t.nfuncs;

		/* without overrides */
		struct verdict_ctx *ctx = NULL;
		assert_int_equal(verdict_ctx_new(&g->t, NULL, 0, NULL, 0, &ctx), 0);
		check_fabric(g, NULL, 0, ctx, fabric_seed);
		for (int p = 0; p < n; p++)
			for (int c = 0; c < n; c++) {
				int d;
				enum verdict_map m = verdict_fast(ctx, p, c, &d);
				bus_addr += m == VERDICT_BUS_ADDR;
				thru += m == VERDICT_THRU_HOST_BRIDGE;
				refused += m == VERDICT_NOT_SUPPORTED;
			}
		verdict_ctx_free(ctx);

		/* with random allow/deny overrides (the first one for a pair wins) */
		int nov = 1 + rnd_below(n);
		struct verdict_override *ov = test_calloc((size_t)nov, sizeof(*ov));
		struct naive_ovr *no = test_calloc((size_t)nov, sizeof(*no));
		for (int i = 0; i < nov; i++) {
			no[i].a = rnd_below(n);
			no[i].b = rnd_below(n);
			no[i].allow = chance(50);
			snprintf(ov[i].a, sizeof(ov[i].a), "%s", g->f[no[i].a].bdf);
			snprintf(ov[i].b, sizeof(ov[i].b), "%s", g->f[no[i].b].bdf);
			ov[i].allow = no[i].allow;
			snprintf(ov[i].why, sizeof(ov[i].why), "property %d", i);
		}
		assert_int_equal(verdict_ctx_new(&g->t, NULL, 0, ov, nov, &ctx), 0);
		check_fabric(g, no, nov, ctx, fabric_seed);
		verdict_ctx_free(ctx);
		test_free(ov);
		test_free(no);

		pairs += n * n;
		fabrics++;
		test_free(g);
		rng_state = saved;
	}
	/* the generator must reach every outcome, or the property says little */
	assert_true(bus_addr > 1000);
	assert_true(thru > 1000);
	assert_true(refused > 1000);
	print_message("%d random fabrics, %d ordered pairs each checked twice "
		      "(%d bus_addr, %d thru_host_bridge, %d not_supported without overrides)\n",
		      fabrics, pairs, bus_addr, thru, refused);
}

/* ---- 2. the wire codec ------------------------------------------------- */

static int sv[2];
static unsigned char rbuf[P2P_PROTO_MAX_DATAGRAM];

static int sock_setup(void **state)
{
	(void)state;
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv);
}

static int sock_teardown(void **state)
{
	(void)state;
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void rnd_string(char *out, int maxbytes)
{
	static const char *const pieces[] = {
	    "a",	   "Z", "0", "9", "-", "_", ".", " ", ":", "/", "\xc3\xa9" /* é */,
	    "\xe2\x82\xac" /* € */};
	int len = 0, want = 1 + rnd_below(maxbytes);
	while (len < want) {
		const char *p = pieces[rnd_below(12)];
		int l = (int)strlen(p);
		if (len + l > want)
			break;
		memcpy(out + len, p, (size_t)l);
		len += l;
	}
	if (len == 0)
		out[len++] = 'x';
	out[len] = '\0';
}

static struct json_object *rnd_bdf(void)
{
	char b[32];
	if (chance(50))
		snprintf(b, sizeof(b), "%04x:%02x:%02x.%d", rnd_below(0x10000), rnd_below(256),
			 rnd_below(32), rnd_below(8));
	else
		snprintf(b, sizeof(b), "%02x:%02x.%d", rnd_below(256), rnd_below(32), rnd_below(8));
	return json_object_new_string(b);
}

static uint64_t rnd_u64(uint64_t max)
{
	switch (rnd_below(4)) {
	case 0:
		return 0;
	case 1:
		return max;
	case 2:
		return rnd() % ((max < 4095 ? max : 4095) + 1);
	default:
		return max == UINT64_MAX ? rnd() : rnd() % (max + 1);
	}
}

static const uint8_t ops[] = {P2P_OP_HELLO,   P2P_OP_TOPOLOGY, P2P_OP_CHECK,  P2P_OP_MATRIX,
			      P2P_OP_ALLOC,   P2P_OP_RELEASE,  P2P_OP_LIST,   P2P_OP_CLIENTS,
			      P2P_OP_BUFFERS, P2P_OP_REVOKE,   P2P_OP_RELOAD, P2P_OP_STATS};

/* A random request of @op that the schema allows. */
static struct json_object *rnd_request(uint8_t op)
{
	struct json_object *o = json_object_new_object();
	char s[P2P_PROTO_MAX_NAME + 1];
	switch (op) {
	case P2P_OP_HELLO:
		json_object_object_add(o, "version", json_object_new_uint64(rnd_u64(255)));
		if (chance(50)) {
			rnd_string(s, P2P_PROTO_MAX_NAME);
			json_object_object_add(o, "client", json_object_new_string(s));
		}
		break;
	case P2P_OP_CHECK:
		json_object_object_add(o, "provider", rnd_bdf());
		json_object_object_add(o, "client", rnd_bdf());
		if (chance(50))
			json_object_object_add(o, "kernel", json_object_new_boolean(chance(50)));
		break;
	case P2P_OP_MATRIX:
		if (chance(50))
			json_object_object_add(o, "all", json_object_new_boolean(chance(50)));
		break;
	case P2P_OP_ALLOC: {
		json_object_object_add(o, "size",
				       json_object_new_uint64(rnd_u64(P2P_PROTO_MAX_SIZE)));
		if (chance(50))
			json_object_object_add(
			    o, "provider", chance(20) ? json_object_new_string("auto") : rnd_bdf());
		if (chance(50)) {
			struct json_object *a = json_object_new_array();
			int n = rnd_below(P2P_PROTO_MAX_PEERS + 1);
			for (int i = 0; i < n; i++)
				json_object_array_add(a, rnd_bdf());
			json_object_object_add(o, "peers", a);
		}
		if (chance(50)) {
			static const char *const t[] = {"p2p", "host", "memfd"};
			struct json_object *a = json_object_new_array();
			int n = rnd_below(4);
			for (int i = 0; i < n; i++)
				json_object_array_add(a, json_object_new_string(t[rnd_below(3)]));
			json_object_object_add(o, "types", a);
		}
		if (chance(50)) {
			rnd_string(s, P2P_PROTO_MAX_NAME);
			json_object_object_add(o, "name", json_object_new_string(s));
		}
		break;
	}
	case P2P_OP_RELEASE:
	case P2P_OP_REVOKE:
		json_object_object_add(o, "id", json_object_new_uint64(rnd_u64(INT64_MAX)));
		break;
	default:
		break;
	}
	return o;
}

static void test_codec_roundtrip(void **state)
{
	(void)state;
	rng_state = seed0 ^ 0xc0dec;
	int n = 0;
	for (int iter = 0; iter < 3000; iter++) {
		uint8_t op = ops[rnd_below((int)sizeof(ops))];
		struct json_object *req = rnd_request(op);
		const char *text = json_object_to_json_string_ext(
		    req, chance(50) ? JSON_C_TO_STRING_PLAIN : JSON_C_TO_STRING_SPACED);
		size_t len = strlen(text);
		struct p2p_msg_hdr h = {.opcode = op, .id = rnd()};
		struct conn_msg m;

		/* a request, as p2pd receives it */
		assert_int_equal(conn_send(sv[0], &h, text, len, -1), 0);
		int r = conn_recv(sv[1], rbuf, sizeof(rbuf), false, &m);
		if (r != (int)(16 + len))
			fail_msg("seed 0x%llx: request %s (op %u) framed as %d",
				 (unsigned long long)seed0, text, op, r);
		assert_int_equal(m.hdr.version, P2P_PROTO_VERSION);
		assert_int_equal(m.hdr.opcode, op);
		assert_int_equal(m.hdr.flags, 0);
		assert_int_equal(m.hdr.len, len);
		assert_true(m.hdr.id == h.id);
		assert_int_equal(m.fd, -1);
		assert_memory_equal(m.payload, text, len);
		struct json_object *dec = NULL;
		char err[256] = "";
		r = conn_decode_request(op, m.payload, m.hdr.len, &dec, err, sizeof(err));
		if (r != 0)
			fail_msg("seed 0x%llx: valid request %s (op %u) refused: %d %s",
				 (unsigned long long)seed0, text, op, r, err);
		if (!json_object_equal(dec, req))
			fail_msg("seed 0x%llx: %s decoded as %s", (unsigned long long)seed0, text,
				 json_object_to_json_string(dec));
		json_object_put(dec);

		/* the same payload as a reply (maybe a chunk, maybe with an fd) */
		struct p2p_msg_hdr rh = {
		    .opcode = op,
		    .flags = (uint16_t)(P2P_FLAG_REPLY | (chance(30) ? P2P_FLAG_MORE : 0)),
		    .id = h.id};
		int pfd[2] = {-1, -1};
		bool with_fd = chance(30);
		if (with_fd)
			assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
		assert_int_equal(conn_send(sv[1], &rh, text, len, with_fd ? pfd[0] : -1), 0);
		r = conn_recv(sv[0], rbuf, sizeof(rbuf), true, &m);
		assert_int_equal(r, (int)(16 + len));
		assert_int_equal(m.hdr.flags, rh.flags | (with_fd ? P2P_FLAG_FD : 0));
		assert_true(m.hdr.id == h.id);
		assert_memory_equal(m.payload, text, len);
		if (with_fd) {
			assert_true(m.fd >= 0);
			/* the received fd is the pipe's read end */
			assert_int_equal(write(pfd[1], "p", 1), 1);
			char c = 0;
			assert_int_equal(read(m.fd, &c, 1), 1);
			assert_int_equal(c, 'p');
			close(m.fd);
			close(pfd[0]);
			close(pfd[1]);
		} else {
			assert_int_equal(m.fd, -1);
		}
		json_object_put(req);
		n++;
	}
	assert_int_equal(conn_recv(sv[0], rbuf, sizeof(rbuf), true, &(struct conn_msg){0}),
			 -EAGAIN);
	print_message("%d random valid requests and replies round-tripped\n", n);
}

/* Send @d (a datagram) and frame it; returns conn_recv()'s result. */
static int frame(const unsigned char *d, size_t len, bool as_reply, struct conn_msg *m)
{
	int tx = as_reply ? sv[1] : sv[0], rx = as_reply ? sv[0] : sv[1];
	assert_int_equal(send(tx, d, len, 0), (ssize_t)len);
	return conn_recv(rx, rbuf, sizeof(rbuf), as_reply, m);
}

static void test_header_corruption(void **state)
{
	(void)state;
	rng_state = seed0 ^ 0xbadbad;
	int refused = 0, opcode_cases = 0;
	for (int iter = 0; iter < 24; iter++) {
		bool as_reply = iter % 2;
		uint8_t op = ops[rnd_below((int)sizeof(ops))];
		struct json_object *req = rnd_request(op);
		const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
		size_t len = strlen(text);
		unsigned char d[16 + 8192];
		struct p2p_msg_hdr h = {.version = P2P_PROTO_VERSION,
					.opcode = op,
					.flags = as_reply ? P2P_FLAG_REPLY : 0,
					.len = (uint32_t)len,
					.id = rnd()};
		struct conn_msg m;
		assert_true(len <= 8192);
		memcpy(d, &h, 16);
		memcpy(d + 16, text, len);
		/* the original frames */
		assert_int_equal(frame(d, 16 + len, as_reply, &m), (int)(16 + len));

		for (int byte = 0; byte < 8; byte++) {
			for (int v = 0; v < 256; v++) {
				if (v == d[byte])
					continue;
				unsigned char orig = d[byte];
				d[byte] = (unsigned char)v;
				int r = frame(d, 16 + len, as_reply, &m);
				d[byte] = orig;
				if (byte == 1) {
					/* opcode: framing does not judge it; the decoder refuses
					 * an unknown one, and a known one is reported as sent */
					opcode_cases++;
					assert_int_equal(r, (int)(16 + len));
					assert_int_equal(m.hdr.opcode, v);
					if (!conn_op_name((uint8_t)v) || v == P2P_OP_EVENT) {
						struct json_object *o = NULL;
						assert_int_equal(conn_decode_request((uint8_t)v,
										     m.payload, len,
										     &o, NULL, 0),
								 -EOPNOTSUPP);
					}
					continue;
				}
				/* a reply's MORE bit may legitimately flip */
				if (as_reply && byte == 2 && (v ^ orig) == P2P_FLAG_MORE) {
					assert_int_equal(r, (int)(16 + len));
					continue;
				}
				if (r >= 0)
					fail_msg("seed 0x%llx: %s with header byte %d = 0x%02x "
						 "(was 0x%02x) framed as %d",
						 (unsigned long long)seed0,
						 as_reply ? "reply" : "request", byte, v, orig, r);
				refused++;
			}
		}
		/* the id bytes: any value is an id, carried unchanged */
		for (int byte = 8; byte < 16; byte++) {
			unsigned char orig = d[byte];
			d[byte] ^= (unsigned char)(1 + rnd_below(255));
			struct p2p_msg_hdr want;
			memcpy(&want, d, 16);
			assert_int_equal(frame(d, 16 + len, as_reply, &m), (int)(16 + len));
			assert_true(m.hdr.id == want.id);
			d[byte] = orig;
		}
		json_object_put(req);
	}
	print_message("%d header corruptions refused by framing, %d opcode corruptions "
		      "judged by the decoder\n",
		      refused, opcode_cases);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_fabrics),
	    cmocka_unit_test_setup_teardown(test_codec_roundtrip, sock_setup, sock_teardown),
	    cmocka_unit_test_setup_teardown(test_header_corruption, sock_setup, sock_teardown),
	};
	return cmocka_run_group_tests_name("property", tests, seed_setup, NULL);
}
