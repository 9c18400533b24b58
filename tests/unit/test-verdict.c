// SPDX-License-Identifier: MIT
/*
 * test-verdict.c - the kernel's p2pdma rules on built trees.  Every expected
 * value below is worked out by hand from drivers/pci/p2pdma.c (Linux 6.1),
 * including the facts measured from a real 6.1 kernel in QEMU (DESIGN.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/pci_regs.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Fixture tables list the leading fields positionally; the rest default. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include "helper-fixture.h"
#include "topo.h"
#include "verdict.h"

#define ACS_RR_CR (PCI_ACS_RR | PCI_ACS_CR)
#define EP PCI_EXP_TYPE_ENDPOINT

struct world {
	struct fx fx;
	struct topo *t;
	struct verdict_ctx *ctx;
};

/* The VM topology of DESIGN.md (fx_build_q35(), with its root-bus NIC).
 * @rp_acs: ACS control of the root ports (intel-iommu). */
static void build_q35(struct fx *fx, int rp_acs)
{
	fx_build_q35(fx, rp_acs, true);
}

static struct world *world_new(void (*build)(struct fx *, int), int arg, const char *cpu)
{
	struct world *w = test_calloc(1, sizeof(*w));
	assert_int_equal(fx_init(&w->fx), 0);
	build(&w->fx, arg);
	fx_cpu(&w->fx, "GenuineIntel", 6);
	int fd = fx_rootfd(&w->fx);
	struct topo_opts o = {.cpu_override = cpu, .no_gpu = true};
	assert_int_equal(topo_scan(fd, &o, &w->t), 0);
	close(fd);
	assert_int_equal(verdict_ctx_new(w->t, NULL, 0, NULL, 0, &w->ctx), 0);
	return w;
}

static void world_free(struct world *w)
{
	verdict_ctx_free(w->ctx);
	topo_free(w->t);
	fx_fini(&w->fx);
	test_free(w);
}

/* Assert map type and (kernel) distance of an ordered pair, via both the full
 * and the fast path. */
static void expect(struct world *w, const char *p, const char *c, enum verdict_map m, int dist)
{
	int pi = topo_find(w->t, p), ci = topo_find(w->t, c);
	assert_true(pi >= 0);
	assert_true(ci >= 0);
	struct verdict v;
	verdict_pair(w->ctx, pi, ci, &v);
	if (v.map != m || v.distance != dist)
		fail_msg("%s -> %s: got %s/%d, want %s/%d", p, c, verdict_map_name(v.map),
			 v.distance, verdict_map_name(m), dist);
	/* The fast path is the kernel's answer alone (no admin overrides). */
	int fd;
	assert_int_equal(verdict_fast(w->ctx, pi, ci, &fd), v.kernel_map);
	assert_int_equal(fd, v.kernel_distance);
	if (!v.overridden && m != VERDICT_NOT_SUPPORTED)
		assert_int_equal(fd, dist);
	/* The matrix path agrees with the full verdict, overrides included. */
	enum verdict_map qm;
	enum verdict_class qc;
	int qd;
	verdict_quick(w->ctx, pi, ci, &qm, &qd, &qc);
	assert_int_equal(qm, v.map);
	assert_int_equal(qd, v.distance);
	assert_int_equal(qc, v.cls);
}

static bool has_reason(const struct verdict *v, enum verdict_reason r)
{
	for (int i = 0; i < v->nreasons; i++)
		if (v->reasons[i].code == r)
			return true;
	return false;
}

static void test_q35_non_zen(void **state)
{
	(void)state;
	struct world *w = world_new(build_q35, 0, "amd:15"); /* TCG -cpu max: family 15 */
	expect(w, "03:00.0", "03:00.0", VERDICT_BUS_ADDR, 0);
	expect(w, "03:00.0", "04:00.0", VERDICT_BUS_ADDR, 4); /* one switch */
	expect(w, "04:00.0", "05:00.0", VERDICT_BUS_ADDR, 4);
	expect(w, "06:00.0", "06:00.1", VERDICT_BUS_ADDR, 2);	    /* two functions, one RP */
	expect(w, "03:00.0", "06:00.0", VERDICT_NOT_SUPPORTED, -1); /* different RPs */
	expect(w, "00:02.0", "06:00.0", VERDICT_NOT_SUPPORTED, -1);
	expect(w, "06:00.0", "41:00.0", VERDICT_NOT_SUPPORTED, -1); /* different HBs */
	/* A switch port and its own endpoint: the bridge is in the client chain. */
	expect(w, "02:01.0", "04:00.0", VERDICT_BUS_ADDR, 1);
	world_free(w);
}

static void test_q35_zen(void **state)
{
	(void)state;
	struct world *w = world_new(build_q35, 0, "amd:0x17"); /* -cpu EPYC */
	expect(w, "03:00.0", "04:00.0", VERDICT_BUS_ADDR, 4);
	expect(w, "06:00.0", "41:00.0", VERDICT_THRU_HOST_BRIDGE, 4); /* 2 + 2 */
	expect(w, "00:02.0", "06:00.0", VERDICT_THRU_HOST_BRIDGE, 3); /* root bus: 1 + 2 */
	expect(w, "03:00.0", "06:00.0", VERDICT_THRU_HOST_BRIDGE, 6); /* 4 + 2 */
	expect(w, "06:00.0", "03:00.0", VERDICT_THRU_HOST_BRIDGE, 6);
	expect(w, "00:02.0", "00:00.0", VERDICT_THRU_HOST_BRIDGE, 2); /* two root-bus functions */
	struct verdict v;
	verdict_pair(w->ctx, topo_find(w->t, "03:00.0"), topo_find(w->t, "41:00.0"), &v);
	assert_int_equal(v.distance, 6);
	assert_true(has_reason(&v, R_CPU_ZEN));
	assert_true(has_reason(&v, R_NO_COMMON_BRIDGE));
	assert_int_equal(v.common, -1);
	world_free(w);
}

static void test_q35_acs_redirect(void **state)
{
	(void)state;
	/* intel_iommu=on: the root ports get RR|CR. */
	struct world *w = world_new(build_q35, ACS_RR_CR, "amd:15");
	expect(w, "06:00.0", "06:00.1", VERDICT_NOT_SUPPORTED, -1);
	struct verdict v;
	verdict_pair(w->ctx, topo_find(w->t, "06:00.0"), topo_find(w->t, "06:00.1"), &v);
	assert_int_equal(v.kernel_distance, 2);
	assert_string_equal(v.acs_list, "0000:00:1d.0");
	assert_string_equal(v.fix_hint, "pci=disable_acs_redir=0000:00:1d.0");
	assert_true(has_reason(&v, R_ACS_REDIRECT));
	assert_true(has_reason(&v, R_HB_NOT_WHITELISTED));
	/* The switch's own ports have no ACS: below the root port nothing changes. */
	expect(w, "03:00.0", "04:00.0", VERDICT_BUS_ADDR, 4);
	/* Root port as the common bridge *and* the provider side: counted. */
	expect(w, "00:1c.0", "03:00.0", VERDICT_NOT_SUPPORTED, -1);
	world_free(w);

	/* On Zen the same redirect goes through the host bridge, distance kept. */
	w = world_new(build_q35, ACS_RR_CR, "amd:0x19");
	expect(w, "06:00.0", "06:00.1", VERDICT_THRU_HOST_BRIDGE, 2);
	world_free(w);
}

/* ACS on the client side counts only below the common bridge; on the provider
 * side up to and including it. */
static void build_switch_acs(struct fx *fx, int where)
{
	/* where: 0 = ACS EC on the upstream port (common bridge), 1 = on the
	 * client's downstream port, 2 = on the root port above the common bridge */
	const struct fx_func funcs[] = {
	    {"pci0000:00/0000:00:00.0", 0x8086, 0x1234, 0x060000, -1, -1, FX_CFG_256, -1, -1},
	    {"pci0000:00/0000:00:01.0", 0x8086, 0x1235, 0x060400, PCI_EXP_TYPE_ROOT_PORT,
	     where == 2 ? PCI_ACS_EC : 0, FX_CFG_4096, 1, 4},
	    {"pci0000:00/0000:00:01.0/0000:01:00.0", 0x10b5, 0x8747, 0x060400,
	     PCI_EXP_TYPE_UPSTREAM, where == 0 ? PCI_ACS_EC : 0, FX_CFG_4096, 2, 4},
	    {"pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:08.0", 0x10b5, 0x8747, 0x060400,
	     PCI_EXP_TYPE_DOWNSTREAM, 0, FX_CFG_4096, 3, 3},
	    {"pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:08.0/0000:03:00.0", 0x10de, 0x2330,
	     0x030200, EP, -1, FX_CFG_4096, -1, -1, false, false, 0, NULL, 16.0, 16},
	    {"pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:10.0", 0x10b5, 0x8747, 0x060400,
	     PCI_EXP_TYPE_DOWNSTREAM, where == 1 ? PCI_ACS_RR : 0, FX_CFG_4096, 4, 4},
	    {"pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:10.0/0000:04:00.0", 0x15b3, 0x101b,
	     0x020700, EP, -1, FX_CFG_4096, -1, -1, false, false, 0, NULL, 8.0, 8},
	};
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		fx_add(fx, &funcs[i]);
}

static void test_acs_path_rules(void **state)
{
	(void)state;
	/* EC on the common upstream port: provider side includes it. */
	struct world *w = world_new(build_switch_acs, 0, "intel:6");
	expect(w, "03:00.0", "04:00.0", VERDICT_NOT_SUPPORTED, -1);
	world_free(w);
	/* RR on the client's downstream port. */
	w = world_new(build_switch_acs, 1, "intel:6");
	expect(w, "03:00.0", "04:00.0", VERDICT_NOT_SUPPORTED, -1);
	expect(w, "04:00.0", "03:00.0", VERDICT_NOT_SUPPORTED, -1); /* provider side now */
	world_free(w);
	/* EC above the common bridge: not on the path. */
	w = world_new(build_switch_acs, 2, "intel:6");
	expect(w, "03:00.0", "04:00.0", VERDICT_BUS_ADDR, 4);
	struct verdict v;
	verdict_pair(w->ctx, topo_find(w->t, "03:00.0"), topo_find(w->t, "04:00.0"), &v);
	assert_int_equal(v.cls, VERDICT_CLASS_PIX);
	/* Bottleneck: the x8 8 GT/s NIC link, 7.88 GB/s. */
	assert_string_equal(v.bottleneck_bdf, "0000:04:00.0");
	assert_true(v.bottleneck_gbps > 7.8 && v.bottleneck_gbps < 7.9);
	assert_int_equal(v.npath, 5);
	assert_int_equal(v.path[2], topo_find(w->t, "01:00.0"));
	world_free(w);
}

/* Two root buses whose first functions are whitelisted (or not) devices. */
static void build_two_hb(struct fx *fx, int variant)
{
	/* variant 0: Skylake-E root ports 8086:2030 at 00:00.0 and 17:00.0
	 * variant 1: Xeon E5 v3 host bridges 8086:2f00 (same host bridge only)
	 * variant 2: first function of pci0000:17 is an endpoint at 17:03.0 */
	uint16_t dev = variant == 1 ? 0x2f00 : 0x2030;
	uint32_t cls = variant == 1 ? 0x060000 : 0x060400;
	int type = variant == 1 ? -1 : PCI_EXP_TYPE_ROOT_PORT;
	struct fx_func funcs[] = {
	    {"pci0000:00/0000:00:00.0", 0x8086, dev, cls, type, -1, FX_CFG_4096,
	     variant == 1 ? -1 : 1, 1},
	    {"pci0000:00/0000:00:02.0", 0x8086, 0x2031, 0x060400, PCI_EXP_TYPE_ROOT_PORT, -1,
	     FX_CFG_4096, 2, 2},
	    {"pci0000:00/0000:00:02.0/0000:02:00.0", 0x10de, 0x2330, 0x030200, EP, -1, FX_CFG_4096,
	     -1, -1},
	    {"pci0000:00/0000:00:03.0", 0x8086, 0x2032, 0x060400, PCI_EXP_TYPE_ROOT_PORT, -1,
	     FX_CFG_4096, 3, 3},
	    {"pci0000:00/0000:00:03.0/0000:03:00.0", 0x10de, 0x2330, 0x030200, EP, -1, FX_CFG_4096,
	     -1, -1},
	    {"pci0000:17/0000:17:00.0", 0x8086, dev, cls, type, -1, FX_CFG_4096,
	     variant == 1 ? -1 : 0x18, 0x18},
	    {"pci0000:17/0000:17:02.0", 0x8086, 0x2031, 0x060400, PCI_EXP_TYPE_ROOT_PORT, -1,
	     FX_CFG_4096, 0x19, 0x19},
	    {"pci0000:17/0000:17:02.0/0000:19:00.0", 0x144d, 0xa808, 0x010802, EP, -1, FX_CFG_4096,
	     -1, -1},
	};
	if (variant == 2) {
		funcs[5].path = "pci0000:17/0000:17:01.0";
		funcs[5].device = 0x1111;
		funcs[5].class_code = 0x088000;
		funcs[5].pcie_type = PCI_EXP_TYPE_RC_END;
		funcs[5].sec_bus = funcs[5].sub_bus = -1;
	}
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		fx_add(fx, &funcs[i]);
}

static void test_whitelist(void **state)
{
	(void)state;
	struct world *w = world_new(build_two_hb, 0, "intel:6");
	expect(w, "02:00.0", "03:00.0", VERDICT_THRU_HOST_BRIDGE, 4); /* same HB */
	expect(w, "02:00.0", "19:00.0", VERDICT_THRU_HOST_BRIDGE, 4); /* both whitelisted */
	world_free(w);

	w = world_new(build_two_hb, 1, "intel:6");
	expect(w, "02:00.0", "03:00.0", VERDICT_THRU_HOST_BRIDGE, 4); /* same HB: ok */
	expect(w, "02:00.0", "19:00.0", VERDICT_NOT_SUPPORTED, -1);   /* same-only entry */
	struct verdict v;
	verdict_pair(w->ctx, topo_find(w->t, "02:00.0"), topo_find(w->t, "19:00.0"), &v);
	assert_true(has_reason(&v, R_HB_SAME_ONLY));
	world_free(w);

	/* pci0000:17's first function (17:01.0) is neither 00.0 nor a root port:
	 * no host-bridge device, whatever sits later on the bus. */
	w = world_new(build_two_hb, 2, "intel:6");
	assert_int_equal(w->t->hbs[w->t->funcs[topo_find(w->t, "19:00.0")].hb].hbdev, -1);
	expect(w, "02:00.0", "19:00.0", VERDICT_NOT_SUPPORTED, -1);
	verdict_pair(w->ctx, topo_find(w->t, "02:00.0"), topo_find(w->t, "19:00.0"), &v);
	assert_true(has_reason(&v, R_HB_NO_DEVICE));
	assert_int_equal(v.kernel_distance, 4);
	world_free(w);
}

static void test_extra_whitelist_and_overrides(void **state)
{
	(void)state;
	struct world *w = world_new(build_q35, 0, "intel:6");
	verdict_ctx_free(w->ctx);
	const struct verdict_whitelist_entry wl[] = {{0x8086, 0x29c0, false}};
	struct verdict_override ov[2] = {0};
	snprintf(ov[0].a, sizeof(ov[0].a), "0000:03:00.0");
	snprintf(ov[0].b, sizeof(ov[0].b), "0000:04:00.0");
	ov[0].allow = false;
	snprintf(ov[0].why, sizeof(ov[0].why), "firmware bug");
	snprintf(ov[1].a, sizeof(ov[1].a), "0000:41:00.0");
	snprintf(ov[1].b, sizeof(ov[1].b), "0000:06:00.0");
	ov[1].allow = true;
	assert_int_equal(verdict_ctx_new(w->t, wl, 1, ov, 2, &w->ctx), 0);
	/* 29c0 now whitelisted: same-HB different-RP pairs go through it. */
	expect(w, "03:00.0", "06:00.0", VERDICT_THRU_HOST_BRIDGE, 6);
	/* pxb root port 1b36:000c is not: cross-HB stays refused ... */
	expect(w, "03:00.0", "41:00.0", VERDICT_NOT_SUPPORTED, -1);
	/* ... unless an admin allowed that pair (either order). */
	expect(w, "06:00.0", "41:00.0", VERDICT_THRU_HOST_BRIDGE, 4);
	/* Deny beats the kernel's bus_addr. */
	expect(w, "04:00.0", "03:00.0", VERDICT_NOT_SUPPORTED, -1);
	struct verdict v;
	verdict_pair(w->ctx, topo_find(w->t, "04:00.0"), topo_find(w->t, "03:00.0"), &v);
	assert_int_equal(v.kernel_map, VERDICT_BUS_ADDR);
	assert_true(v.overridden);
	assert_true(has_reason(&v, R_POLICY_DENY));
	assert_non_null(strstr(v.reasons[v.nreasons - 1].message, "firmware bug"));
	int clients[2] = {topo_find(w->t, "04:00.0"), topo_find(w->t, "05:00.0")};
	int p = topo_find(w->t, "03:00.0");
	assert_int_equal(verdict_distance_many(w->ctx, p, clients, 2, false), 8);
	assert_int_equal(verdict_distance_many(w->ctx, p, clients, 2, true), -1);
	assert_int_equal(verdict_distance_many(w->ctx, p, clients + 1, 1, true), 4);
	assert_int_equal(verdict_distance_many(w->ctx, p, clients, 0, false), -1);
	world_free(w);
}

static void test_cpu_unknown_and_classes(void **state)
{
	(void)state;
	struct world *w = test_calloc(1, sizeof(*w));
	assert_int_equal(fx_init(&w->fx), 0);
	build_q35(&w->fx, 0); /* no proc/cpuinfo */
	int fd = fx_rootfd(&w->fx);
	struct topo_opts o = {.no_gpu = true};
	assert_int_equal(topo_scan(fd, &o, &w->t), 0);
	close(fd);
	assert_int_equal(w->t->cpu.vendor, TOPO_CPU_UNKNOWN);
	assert_int_equal(verdict_ctx_new(w->t, NULL, 0, NULL, 0, &w->ctx), 0);
	struct verdict v;
	verdict_pair(w->ctx, topo_find(w->t, "03:00.0"), topo_find(w->t, "06:00.0"), &v);
	assert_int_equal(v.map, VERDICT_NOT_SUPPORTED);
	assert_true(has_reason(&v, R_CPU_UNKNOWN));
	assert_int_equal(v.cls, VERDICT_CLASS_PHB);
	verdict_pair(w->ctx, topo_find(w->t, "03:00.0"), topo_find(w->t, "41:00.0"), &v);
	assert_int_equal(v.cls, VERDICT_CLASS_NODE); /* NUMA 0 on both */
	verdict_pair(w->ctx, topo_find(w->t, "03:00.0"), topo_find(w->t, "03:00.0"), &v);
	assert_int_equal(v.cls, VERDICT_CLASS_X);
	assert_true(has_reason(&v, R_SAME_FUNCTION));
	enum verdict_map m;
	enum verdict_class c;
	int d;
	verdict_quick(w->ctx, topo_find(w->t, "03:00.0"), topo_find(w->t, "05:00.0"), &m, &d, &c);
	assert_int_equal(m, VERDICT_BUS_ADDR);
	assert_int_equal(d, 4);
	assert_int_equal(c, VERDICT_CLASS_PIX);
	verdict_pair(w->ctx, -1, 0, &v);
	assert_int_equal(v.map, VERDICT_NOT_SUPPORTED);
	assert_true(has_reason(&v, R_NOT_FOUND));
	world_free(w);
}

/* An admin "allow" only lifts a refusal: on a pair the kernel already maps
 * with bus addresses (or through the host bridge) it changes nothing, and the
 * verdict does not claim to be overridden. */
static void test_allow_override_on_allowed_pair(void **state)
{
	(void)state;
	struct world *w = world_new(build_q35, 0, "amd:15");
	verdict_ctx_free(w->ctx);
	struct verdict_override ov[2] = {0};
	snprintf(ov[0].a, sizeof(ov[0].a), "0000:04:00.0");
	snprintf(ov[0].b, sizeof(ov[0].b), "0000:03:00.0");
	ov[0].allow = true;
	snprintf(ov[0].why, sizeof(ov[0].why), "lab setup");
	snprintf(ov[1].a, sizeof(ov[1].a), "0000:06:00.0");
	snprintf(ov[1].b, sizeof(ov[1].b), "0000:41:00.0");
	ov[1].allow = true;
	assert_int_equal(verdict_ctx_new(w->t, NULL, 0, ov, 2, &w->ctx), 0);
	/* bus_addr stays bus_addr, distance kept, in both orders */
	expect(w, "03:00.0", "04:00.0", VERDICT_BUS_ADDR, 4);
	expect(w, "04:00.0", "03:00.0", VERDICT_BUS_ADDR, 4);
	struct verdict v;
	verdict_pair(w->ctx, topo_find(w->t, "03:00.0"), topo_find(w->t, "04:00.0"), &v);
	assert_int_equal(v.kernel_map, VERDICT_BUS_ADDR);
	assert_false(v.overridden);
	assert_false(has_reason(&v, R_POLICY_ALLOW));
	int cl = topo_find(w->t, "04:00.0");
	assert_int_equal(verdict_distance_many(w->ctx, topo_find(w->t, "03:00.0"), &cl, 1, true),
			 4);
	/* the refused pair is lifted, and says so */
	expect(w, "41:00.0", "06:00.0", VERDICT_THRU_HOST_BRIDGE, 4);
	verdict_pair(w->ctx, topo_find(w->t, "41:00.0"), topo_find(w->t, "06:00.0"), &v);
	assert_int_equal(v.kernel_map, VERDICT_NOT_SUPPORTED);
	assert_true(v.overridden);
	assert_true(has_reason(&v, R_POLICY_ALLOW));
	world_free(w);

	/* On Zen the cross-bridge pair is already allowed: the allow is moot. */
	w = world_new(build_q35, 0, "amd:0x17");
	verdict_ctx_free(w->ctx);
	assert_int_equal(verdict_ctx_new(w->t, NULL, 0, ov, 2, &w->ctx), 0);
	expect(w, "06:00.0", "41:00.0", VERDICT_THRU_HOST_BRIDGE, 4);
	verdict_pair(w->ctx, topo_find(w->t, "06:00.0"), topo_find(w->t, "41:00.0"), &v);
	assert_false(v.overridden);
	assert_false(has_reason(&v, R_POLICY_ALLOW));
	expect(w, "03:00.0", "04:00.0", VERDICT_BUS_ADDR, 4);
	world_free(w);
}

/* The q35 switch with a chosen config size for the bridges and for the
 * endpoints: 64 bytes (gathered as non-root) leaves ACS unknown. */
static void build_switch_cfg(struct fx *fx, int which)
{
	/* which: bit 0 = bridges 64-byte config, bit 1 = endpoints 64-byte config */
	enum fx_cfg bc = (which & 1) ? FX_CFG_64 : FX_CFG_4096;
	enum fx_cfg ec = (which & 2) ? FX_CFG_64 : FX_CFG_4096;
	const struct fx_func funcs[] = {
	    {"pci0000:00/0000:00:00.0", 0x8086, 0x29c0, 0x060000, -1, -1, FX_CFG_256, -1, -1},
	    {"pci0000:00/0000:00:1c.0", 0x1b36, 0x000c, 0x060400, PCI_EXP_TYPE_ROOT_PORT, 0, bc, 1,
	     4},
	    {"pci0000:00/0000:00:1c.0/0000:01:00.0", 0x104c, 0x8232, 0x060400,
	     PCI_EXP_TYPE_UPSTREAM, -1, bc, 2, 4},
	    {"pci0000:00/0000:00:1c.0/0000:01:00.0/0000:02:00.0", 0x104c, 0x8233, 0x060400,
	     PCI_EXP_TYPE_DOWNSTREAM, -1, bc, 3, 3},
	    {"pci0000:00/0000:00:1c.0/0000:01:00.0/0000:02:00.0/0000:03:00.0", 0x1b36, 0x0010,
	     0x010802, EP, -1, ec, -1, -1},
	    {"pci0000:00/0000:00:1c.0/0000:01:00.0/0000:02:01.0", 0x104c, 0x8233, 0x060400,
	     PCI_EXP_TYPE_DOWNSTREAM, -1, bc, 4, 4},
	    {"pci0000:00/0000:00:1c.0/0000:01:00.0/0000:02:01.0/0000:04:00.0", 0x1b36, 0x0010,
	     0x010802, EP, -1, ec, -1, -1},
	};
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		fx_add(fx, &funcs[i]);
}

/* "ACS unknown" is about bridges: an endpoint's ACS never redirects a pair in
 * the kernel's rules, so unknown ACS on endpoints alone says nothing. */
static void test_acs_unknown_only_for_bridges(void **state)
{
	(void)state;
	struct verdict v;
	/* endpoints gathered as non-root, bridges readable: no acs_unknown */
	struct world *w = world_new(build_switch_cfg, 2, "intel:6");
	assert_int_equal(w->t->funcs[topo_find(w->t, "03:00.0")].acs, TOPO_ACS_UNKNOWN);
	assert_int_equal(w->t->funcs[topo_find(w->t, "02:00.0")].acs, TOPO_ACS_ABSENT);
	expect(w, "03:00.0", "04:00.0", VERDICT_BUS_ADDR, 4);
	verdict_pair(w->ctx, topo_find(w->t, "03:00.0"), topo_find(w->t, "04:00.0"), &v);
	assert_false(has_reason(&v, R_ACS_UNKNOWN));
	verdict_pair(w->ctx, topo_find(w->t, "03:00.0"), topo_find(w->t, "03:00.0"), &v);
	assert_false(has_reason(&v, R_ACS_UNKNOWN));
	world_free(w);
	/* bridges gathered as non-root: the pair's ACS is unknown, and said so */
	w = world_new(build_switch_cfg, 1, "intel:6");
	expect(w, "03:00.0", "04:00.0", VERDICT_BUS_ADDR, 4);
	verdict_pair(w->ctx, topo_find(w->t, "03:00.0"), topo_find(w->t, "04:00.0"), &v);
	assert_true(has_reason(&v, R_ACS_UNKNOWN));
	verdict_pair(w->ctx, topo_find(w->t, "04:00.0"), topo_find(w->t, "03:00.0"), &v);
	assert_true(has_reason(&v, R_ACS_UNKNOWN));
	world_free(w);
	/* everything readable: nothing unknown */
	w = world_new(build_switch_cfg, 0, "intel:6");
	verdict_pair(w->ctx, topo_find(w->t, "03:00.0"), topo_find(w->t, "04:00.0"), &v);
	assert_false(has_reason(&v, R_ACS_UNKNOWN));
	world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_q35_non_zen),
	    cmocka_unit_test(test_q35_zen),
	    cmocka_unit_test(test_q35_acs_redirect),
	    cmocka_unit_test(test_acs_path_rules),
	    cmocka_unit_test(test_whitelist),
	    cmocka_unit_test(test_extra_whitelist_and_overrides),
	    cmocka_unit_test(test_cpu_unknown_and_classes),
	    cmocka_unit_test(test_allow_override_on_allowed_pair),
	    cmocka_unit_test(test_acs_unknown_only_for_bridges),
	};
	return cmocka_run_group_tests_name("verdict", tests, NULL, NULL);
}
