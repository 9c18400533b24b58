// SPDX-License-Identifier: MIT
/*
 * verdict.c - the kernel's p2pdma rules (drivers/pci/p2pdma.c,
 * calc_map_type_and_dist and host_bridge_whitelist) on a struct topo, plus the
 * facts an admin wants beside them.
 *
 * Kernel walk, restated: for each element a of the provider's chain (the
 * provider, then each upstream bridge), look for a in the client's chain.  The
 * first hit is the lowest common ancestor; distance = steps from the provider
 * to it + steps from the client to it.  Without one, distance = both chain
 * lengths.  Since the chains are tree paths, the first hit is the LCA found by
 * depth alignment, and the ACS counts come from per-function prefix sums, so a
 * pair costs O(depth) with no allocation.
 */
#include "verdict.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ovr {
	int a, b;
	bool allow;
	char why[128];
};

struct verdict_ctx {
	const struct topo *t;
	int *acs_up;	  /* redirecting functions from i up to its root, inclusive */
	int *unknown_up;  /* functions with unknown ACS from i up to its root */
	bool *hb_wl_any;  /* host bridge device whitelisted without "same only" */
	bool *hb_wl_same; /* whitelisted at all (ok for pairs on the same host bridge) */
	const struct verdict_whitelist_entry **hb_entry; /* config entry matched, or NULL */
	const struct rules_entry **hb_kentry;		 /* kernel table entry matched, or NULL */
	int *hbdev; /* host-bridge device under the rules, -1 none */
	const struct verdict_whitelist_entry *extra_wl;
	int n_extra;
	struct kernel_facts k; /* release, rules table, P2PDMA, command line */
	bool cpu_zen;
	struct ovr *ovr;
	int novr;
};

static const struct verdict_whitelist_entry *wl_lookup(const struct verdict_whitelist_entry *tab,
						       int n, uint16_t vendor, uint16_t device)
{
	for (int i = 0; n < 0 ? tab[i].vendor != 0 : i < n; i++)
		if (tab[i].vendor == vendor && tab[i].device == device)
			return &tab[i];
	return NULL;
}

/* The kernel's pci_host_bridge_dev(): the first function on the root bus
 * (lowest devfn), if it is at devfn 00.0 or, from 5.19, a PCIe Root Port. */
static int host_bridge_dev(const struct verdict_ctx *c, int h)
{
	const struct topo *t = c->t;
	const struct topo_hostbridge *hb = &t->hbs[h];
	for (int i = 0; i < t->nfuncs; i++) {
		const struct topo_func *f = &t->funcs[i];
		if (f->hb != h || f->parent >= 0 || f->bus != hb->bus || f->domain != hb->domain)
			continue;
		if (f->dev == 0 && f->fn == 0)
			return i;
		if (c->k.rules.table->hbdev == RULES_HBDEV_DEVFN0_OR_RP &&
		    f->kind == TOPO_KIND_ROOT_PORT)
			return i;
		return -1;
	}
	return -1;
}

/* Host-bridge devices and their whitelist entries under the current rules. */
static void hb_facts(struct verdict_ctx *c)
{
	const struct topo *t = c->t;
	for (int h = 0; h < t->nhbs; h++) {
		int dev = host_bridge_dev(c, h);
		c->hbdev[h] = dev;
		c->hb_entry[h] = NULL;
		c->hb_kentry[h] = NULL;
		c->hb_wl_same[h] = c->hb_wl_any[h] = false;
		if (dev < 0)
			continue;
		const struct topo_func *f = &t->funcs[dev];
		const struct rules_entry *k = rules_lookup(c->k.rules.table, f->vendor, f->device);
		const struct verdict_whitelist_entry *e =
		    k || !c->extra_wl ? NULL
				      : wl_lookup(c->extra_wl, c->n_extra, f->vendor, f->device);
		c->hb_kentry[h] = k;
		c->hb_entry[h] = e;
		bool same_only = k ? k->same_host_bridge_only : e && e->same_host_bridge_only;
		c->hb_wl_same[h] = k || e;
		c->hb_wl_any[h] = (k || e) && !same_only;
	}
}

int verdict_ctx_new(const struct topo *t, const struct verdict_whitelist_entry *extra_wl,
		    int n_extra, const struct verdict_override *ovr, int n_ovr,
		    struct verdict_ctx **ret_ctx)
{
	struct verdict_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->t = t;
	size_t nf = t->nfuncs > 0 ? (size_t)t->nfuncs : 1;
	size_t nh = t->nhbs > 0 ? (size_t)t->nhbs : 1;
	c->acs_up = calloc(nf, sizeof(int));
	c->unknown_up = calloc(nf, sizeof(int));
	c->hb_wl_any = calloc(nh, sizeof(bool));
	c->hb_wl_same = calloc(nh, sizeof(bool));
	c->hb_entry = calloc(nh, sizeof(*c->hb_entry));
	c->hb_kentry = calloc(nh, sizeof(*c->hb_kentry));
	c->hbdev = calloc(nh, sizeof(int));
	c->extra_wl = extra_wl;
	c->n_extra = extra_wl ? n_extra : 0;
	kernel_facts_unknown(&c->k);
	c->ovr = calloc(n_ovr > 0 ? (size_t)n_ovr : 1, sizeof(*c->ovr));
	if (!c->acs_up || !c->unknown_up || !c->hb_wl_any || !c->hb_wl_same || !c->hb_entry ||
	    !c->hb_kentry || !c->hbdev || !c->ovr) {
		verdict_ctx_free(c);
		return -ENOMEM;
	}
	/* Prefix sums top-down: parents have smaller depth. */
	for (int d = 0; d <= TOPO_MAX_DEPTH; d++) {
		bool any = false;
		for (int i = 0; i < t->nfuncs; i++) {
			const struct topo_func *f = &t->funcs[i];
			if (f->depth != d)
				continue;
			any = true;
			int p = f->parent;
			c->acs_up[i] = (p >= 0 ? c->acs_up[p] : 0) + (f->acs_redir ? 1 : 0);
			c->unknown_up[i] =
			    (p >= 0 ? c->unknown_up[p] : 0) + (f->acs == TOPO_ACS_UNKNOWN ? 1 : 0);
		}
		if (!any)
			break;
	}
	hb_facts(c);
	c->cpu_zen = t->cpu.vendor == TOPO_CPU_AMD && t->cpu.family >= 0x17;
	for (int i = 0; i < n_ovr; i++) {
		int a = topo_find(t, ovr[i].a), b = topo_find(t, ovr[i].b);
		if (a < 0 || b < 0)
			continue; /* device not present on this machine */
		struct ovr *o = &c->ovr[c->novr++];
		o->a = a;
		o->b = b;
		o->allow = ovr[i].allow;
		snprintf(o->why, sizeof(o->why), "%s", ovr[i].why);
	}
	*ret_ctx = c;
	return 0;
}

void verdict_ctx_free(struct verdict_ctx *c)
{
	if (!c)
		return;
	free(c->acs_up);
	free(c->unknown_up);
	free(c->hb_wl_any);
	free(c->hb_wl_same);
	free(c->hb_entry);
	free(c->hb_kentry);
	free(c->hbdev);
	free(c->ovr);
	free(c);
}

void verdict_ctx_set_kernel(struct verdict_ctx *c, const struct kernel_facts *k)
{
	if (k)
		c->k = *k;
	else
		kernel_facts_unknown(&c->k);
	hb_facts(c);
}

const struct kernel_facts *verdict_ctx_kernel(const struct verdict_ctx *c)
{
	return &c->k;
}

int verdict_ctx_hbdev(const struct verdict_ctx *c, int h)
{
	return h >= 0 && h < c->t->nhbs ? c->hbdev[h] : -1;
}

/* Lowest common ancestor of a and b (each counts as its own ancestor), -1 none. */
static int lca(const struct topo *t, int a, int b)
{
	const struct topo_func *f = t->funcs;
	while (a >= 0 && b >= 0 && f[a].depth > f[b].depth)
		a = f[a].parent;
	while (a >= 0 && b >= 0 && f[b].depth > f[a].depth)
		b = f[b].parent;
	while (a >= 0 && b >= 0 && a != b) {
		a = f[a].parent;
		b = f[b].parent;
	}
	return (a >= 0 && a == b) ? a : -1;
}

static bool hb_whitelisted(const struct verdict_ctx *c, int ha, int hb)
{
	if (ha == hb)
		return c->hb_wl_same[ha];
	return c->hb_wl_any[ha] && c->hb_wl_any[hb];
}

/* Kernel rules.  *ret_acs: ACS redirects on the path (common bridge only). */
static enum verdict_map kernel_map(const struct verdict_ctx *c, int p, int cl, int *ret_dist,
				   int *ret_common, int *ret_acs)
{
	const struct topo *t = c->t;
	const struct topo_func *f = t->funcs;
	int m = lca(t, p, cl);
	*ret_common = m;
	*ret_acs = 0;
	if (m >= 0) {
		*ret_dist = (f[p].depth - f[m].depth) + (f[cl].depth - f[m].depth);
		int acs = c->acs_up[p] - c->acs_up[m] + (f[m].acs_redir ? 1 : 0) + c->acs_up[cl] -
			  c->acs_up[m];
		*ret_acs = acs;
	} else {
		*ret_dist = (f[p].depth + 1) + (f[cl].depth + 1);
	}
	if (c->k.p2pdma == 0) /* pci_p2pdma_distance_many() is a stub returning -1 */
		return VERDICT_NOT_SUPPORTED;
	if (m >= 0 && !*ret_acs)
		return VERDICT_BUS_ADDR;
	if (c->cpu_zen || hb_whitelisted(c, f[p].hb, f[cl].hb))
		return VERDICT_THRU_HOST_BRIDGE;
	return VERDICT_NOT_SUPPORTED;
}

enum verdict_map verdict_fast(const struct verdict_ctx *c, int p, int cl, int *ret_dist)
{
	int common, acs;
	return kernel_map(c, p, cl, ret_dist, &common, &acs);
}

/*
 * nvidia-smi-style class: X same function; PIX common bridge below the root
 * port within one switch (distance <= 4); PXB common bridge below the root port
 * across switches; PHB common root port, or the same host bridge; NODE across
 * host bridges of one NUMA node (or unknown nodes); SYS across NUMA nodes.
 */
static enum verdict_class pair_class(const struct topo *t, int p, int cl, int m, int dist)
{
	const struct topo_func *f = t->funcs;
	if (p == cl)
		return VERDICT_CLASS_X;
	if (m >= 0 && f[m].kind != TOPO_KIND_ROOT_PORT && f[m].depth > 0)
		return dist <= 4 ? VERDICT_CLASS_PIX : VERDICT_CLASS_PXB;
	if (f[p].hb == f[cl].hb)
		return VERDICT_CLASS_PHB;
	int na = t->hbs[f[p].hb].numa_node, nb = t->hbs[f[cl].hb].numa_node;
	if (na >= 0 && nb >= 0 && na != nb)
		return VERDICT_CLASS_SYS;
	return VERDICT_CLASS_NODE;
}

static const struct ovr *find_ovr(const struct verdict_ctx *c, int p, int cl)
{
	for (int i = 0; i < c->novr; i++)
		if ((c->ovr[i].a == p && c->ovr[i].b == cl) ||
		    (c->ovr[i].a == cl && c->ovr[i].b == p))
			return &c->ovr[i];
	return NULL;
}

static void add_reason(struct verdict *v, enum verdict_reason code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_reason(struct verdict *v, enum verdict_reason code, const char *fmt, ...)
{
	if (v->nreasons >= VERDICT_MAX_REASONS)
		return;
	struct verdict_reason_item *r = &v->reasons[v->nreasons++];
	r->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}

static void append_list(char *buf, size_t size, const char *bdf)
{
	size_t len = strlen(buf);
	snprintf(buf + len, size - len, "%s%s", len ? ";" : "", bdf);
}

static void hb_reason(const struct verdict_ctx *c, struct verdict *v, int h, bool same)
{
	const struct topo *t = c->t;
	const struct topo_hostbridge *hb = &t->hbs[h];
	const char *rn = c->k.rules.table->name;
	if (c->hbdev[h] < 0) {
		if (c->k.rules.table->hbdev == RULES_HBDEV_DEVFN0)
			add_reason(v, R_HB_NO_DEVICE,
				   "host bridge %s has no host-bridge device (no function at 00.0; "
				   "a root port first on the bus counts only from 5.19, %s rules "
				   "apply), so the whitelist cannot match it",
				   hb->name, rn);
		else
			add_reason(v, R_HB_NO_DEVICE,
				   "host bridge %s has no host-bridge device (no function at 00.0 "
				   "and the first is not a root port), so the whitelist cannot "
				   "match it",
				   hb->name);
		return;
	}
	const struct topo_func *d = &t->funcs[c->hbdev[h]];
	const struct rules_entry *k = c->hb_kentry[h];
	const struct verdict_whitelist_entry *e = c->hb_entry[h];
	bool same_only = k ? k->same_host_bridge_only : e && e->same_host_bridge_only;
	if (!k && !e)
		add_reason(v, R_HB_NOT_WHITELISTED,
			   "host bridge %s (%s, %04x:%04x) is not in the P2PDMA whitelist of %s",
			   hb->name, d->bdf, d->vendor, d->device, rn);
	else if (same_only && !same)
		add_reason(v, R_HB_SAME_ONLY,
			   "host bridge %s (%04x:%04x) is whitelisted only for pairs on the "
			   "same host bridge",
			   hb->name, d->vendor, d->device);
	else if (k)
		add_reason(v, R_HB_WHITELISTED,
			   "host bridge %s (%04x:%04x) is whitelisted in %s (%s)", hb->name,
			   d->vendor, d->device, rn, k->origin);
	else
		add_reason(v, R_HB_WHITELISTED,
			   "host bridge %s (%04x:%04x) is whitelisted by the config (not in %s)",
			   hb->name, d->vendor, d->device, rn);
}

static double func_link(const struct topo_func *f)
{
	if (f->kind == TOPO_KIND_SWITCH_DOWN || f->kind == TOPO_KIND_ROOT_PORT ||
	    f->kind == TOPO_KIND_HOST_BRIDGE || f->depth == 0)
		return 0; /* internal bus or the port's downstream link (counted below) */
	return topo_link_gbps(f->cur_speed_gts, f->cur_width);
}

static void consider_link(struct verdict *v, const struct topo_func *f)
{
	double g = func_link(f);
	if (g > 0 && (v->bottleneck_gbps == 0 || g < v->bottleneck_gbps)) {
		v->bottleneck_gbps = g;
		snprintf(v->bottleneck_bdf, sizeof(v->bottleneck_bdf), "%s", f->bdf);
	}
}

/* Whether the ';'-separated @list names @bdf (the kernel also takes the short
 * form without a domain). */
static bool list_has(const char *list, const char *bdf)
{
	size_t n = strlen(bdf);
	const char *shortb = strlen(bdf) > 5 && !strncmp(bdf, "0000:", 5) ? bdf + 5 : NULL;
	for (const char *p = list; *p;) {
		size_t l = strcspn(p, ";");
		if ((l == n && !strncmp(p, bdf, n)) ||
		    (shortb && l == strlen(shortb) && !strncmp(p, shortb, l)))
			return true;
		p += l;
		if (*p)
			p++;
	}
	return false;
}

/* The ACS reason and fix hint, with what the kernel command line adds. */
static void acs_reason(const struct verdict_ctx *c, struct verdict *v)
{
	const struct kernel_facts *k = &c->k;
	char why[300] = "";
	if (k->iommu[0] && !k->iommu_off)
		snprintf(why, sizeof(why),
			 " (the kernel command line enables the IOMMU with '%s': IOMMU drivers "
			 "turn ACS redirection on at boot)",
			 k->iommu);
	add_reason(v, R_ACS_REDIRECT,
		   "ACS redirect (RR/CR/EC) is set on %s: requests are routed through the "
		   "host bridge%s",
		   v->acs_list, why);
	if (!k->acs_redir[0]) {
		snprintf(v->fix_hint, sizeof(v->fix_hint), "pci=disable_acs_redir=%s", v->acs_list);
		return;
	}
	/* The command line already has a list: extend it with what it lacks. */
	char missing[sizeof(v->acs_list)] = "", buf[sizeof(v->acs_list)];
	snprintf(buf, sizeof(buf), "%s", v->acs_list);
	char *save = NULL;
	for (char *b = strtok_r(buf, ";", &save); b; b = strtok_r(NULL, ";", &save))
		if (!list_has(k->acs_redir, b))
			append_list(missing, sizeof(missing), b);
	if (!missing[0]) {
		add_reason(v, R_ACS_REDIRECT,
			   "the kernel command line has pci=disable_acs_redir=%s, which names "
			   "these ports, yet they redirect: the bits were set again after boot",
			   k->acs_redir);
		snprintf(v->fix_hint, sizeof(v->fix_hint), "pci=disable_acs_redir=%s",
			 k->acs_redir);
		return;
	}
	/* Too long for the hint: say so rather than cut a BDF in half. */
	if (snprintf(v->fix_hint, sizeof(v->fix_hint), "pci=disable_acs_redir=%.*s;%.*s",
		     (int)strlen(k->acs_redir), k->acs_redir, (int)strlen(missing),
		     missing) >= (int)sizeof(v->fix_hint))
		v->fix_hint[0] = 0;
}

void verdict_pair(const struct verdict_ctx *c, int p, int cl, struct verdict *v)
{
	const struct topo *t = c->t;
	const struct topo_func *f = t->funcs;
	memset(v, 0, sizeof(*v));
	v->common = -1;
	v->rules = c->k.rules.table->name;
	snprintf(v->kernel_release, sizeof(v->kernel_release), "%s", c->k.rules.release);
	v->kernel_p2pdma = c->k.p2pdma;
	if (p < 0 || cl < 0 || p >= t->nfuncs || cl >= t->nfuncs) {
		v->kernel_map = v->map = VERDICT_NOT_SUPPORTED;
		v->distance = v->kernel_distance = -1;
		add_reason(v, R_NOT_FOUND, "device not found in the topology");
		return;
	}
	int acs;
	v->kernel_map = kernel_map(c, p, cl, &v->kernel_distance, &v->common, &acs);
	int m = v->common;

	/* Path and ACS list in the kernel's order: provider up to the common
	 * bridge (inclusive), then client up to it (exclusive). */
	bool unknown = false;
	for (int a = p;; a = f[a].parent) {
		if (a < 0)
			break;
		if (v->npath < (int)(sizeof(v->path) / sizeof(v->path[0])))
			v->path[v->npath++] = a;
		if (m >= 0 && f[a].acs_redir)
			append_list(v->acs_list, sizeof(v->acs_list), f[a].bdf);
		if (m >= 0 && f[a].acs == TOPO_ACS_UNKNOWN && f[a].is_bridge)
			unknown = true;
		if (a == m)
			break;
		consider_link(v, &f[a]);
	}
	int cstart = v->npath;
	for (int b = cl; b >= 0 && b != m; b = f[b].parent) {
		if (v->npath < (int)(sizeof(v->path) / sizeof(v->path[0])))
			v->path[v->npath++] = b;
		if (m >= 0 && f[b].acs_redir)
			append_list(v->acs_list, sizeof(v->acs_list), f[b].bdf);
		if (m >= 0 && f[b].acs == TOPO_ACS_UNKNOWN && f[b].is_bridge)
			unknown = true;
		consider_link(v, &f[b]);
	}
	/* Client side was collected bottom-up; the path reads provider -> client. */
	for (int i = cstart, j = v->npath - 1; i < j; i++, j--) {
		int tmp = v->path[i];
		v->path[i] = v->path[j];
		v->path[j] = tmp;
	}

	v->cls = pair_class(t, p, cl, m, v->kernel_distance);

	/* Reasons. */
	if (c->k.p2pdma == 0)
		add_reason(
		    v, R_KERNEL_NO_P2PDMA,
		    "kernel %s was built without CONFIG_PCI_P2PDMA: it does no PCIe "
		    "peer-to-peer DMA at all (Debian's stock kernels are built so); the facts "
		    "below say what a kernel with it would decide",
		    c->k.rules.release[0] ? c->k.rules.release : "(release unknown)");
	if (p == cl) {
		add_reason(v, R_SAME_FUNCTION, "provider and client are the same function");
	} else if (m >= 0) {
		add_reason(v, R_COMMON_BRIDGE, "common upstream bridge %s (%s), %d hops", f[m].bdf,
			   topo_kind_name(f[m].kind), v->kernel_distance);
	} else {
		add_reason(
		    v, R_NO_COMMON_BRIDGE,
		    "no common upstream bridge: traffic must cross the host bridge%s (%s%s%s)",
		    f[p].hb == f[cl].hb ? "" : "s", t->hbs[f[p].hb].name,
		    f[p].hb == f[cl].hb ? "" : " and ",
		    f[p].hb == f[cl].hb ? "" : t->hbs[f[cl].hb].name);
	}
	if (acs)
		acs_reason(c, v);
	if (unknown)
		add_reason(v, R_ACS_UNKNOWN,
			   "ACS state of a bridge on the path is unknown (config space beyond 64 "
			   "bytes not readable; run as root); taken as not redirecting");
	if ((acs || m < 0) && p != cl) { /* the host bridge decides */
		if (c->cpu_zen)
			add_reason(v, R_CPU_ZEN,
				   "CPU is AMD family 0x%x (Zen or newer): the kernel allows p2p "
				   "through the host bridge",
				   t->cpu.family);
		else if (t->cpu.vendor == TOPO_CPU_UNKNOWN)
			add_reason(v, R_CPU_UNKNOWN,
				   "CPU vendor/family unknown (no /proc/cpuinfo; use --cpu): "
				   "taken as not Zen");
		else
			add_reason(v, R_CPU_NOT_ZEN,
				   "CPU is %s family 0x%x, not AMD Zen: the host bridge must be "
				   "whitelisted",
				   t->cpu.vendor_id[0] ? t->cpu.vendor_id : "unknown",
				   t->cpu.family);
		if (!c->cpu_zen) {
			bool same = f[p].hb == f[cl].hb;
			hb_reason(c, v, f[p].hb, same);
			if (!same)
				hb_reason(c, v, f[cl].hb, same);
		}
	}
	if (v->cls == VERDICT_CLASS_SYS)
		add_reason(v, R_CROSS_NUMA, "path crosses NUMA nodes %d and %d",
			   t->hbs[f[p].hb].numa_node, t->hbs[f[cl].hb].numa_node);

	/* Admin overrides apply last. */
	v->map = v->kernel_map;
	const struct ovr *o = find_ovr(c, p, cl);
	if (o && o->allow && c->k.p2pdma == 0) {
		/* Nothing can allow p2p on a kernel without P2PDMA. */
	} else if (o && o->allow && v->map == VERDICT_NOT_SUPPORTED) {
		v->map = VERDICT_THRU_HOST_BRIDGE;
		v->overridden = true;
		add_reason(v, R_POLICY_ALLOW,
			   "allowed by an admin override%s%s (the kernel's own check still applies "
			   "to importers)",
			   o->why[0] ? ": " : "", o->why);
	} else if (o && !o->allow) {
		v->map = VERDICT_NOT_SUPPORTED;
		v->overridden = true;
		add_reason(v, R_POLICY_DENY, "denied by an admin override%s%s",
			   o->why[0] ? ": " : "", o->why);
	}
	v->distance = v->map == VERDICT_NOT_SUPPORTED ? -1 : v->kernel_distance;
}

static enum verdict_map apply_ovr(const struct verdict_ctx *c, int p, int cl, enum verdict_map m)
{
	const struct ovr *o = find_ovr(c, p, cl);
	if (!o)
		return m;
	if (!o->allow || c->k.p2pdma == 0)
		return VERDICT_NOT_SUPPORTED;
	return m == VERDICT_NOT_SUPPORTED ? VERDICT_THRU_HOST_BRIDGE : m;
}

void verdict_quick(const struct verdict_ctx *c, int p, int cl, enum verdict_map *ret_map,
		   int *ret_dist, enum verdict_class *ret_cls)
{
	int common, acs, dist;
	enum verdict_map m = kernel_map(c, p, cl, &dist, &common, &acs);
	*ret_cls = pair_class(c->t, p, cl, common, dist);
	if (c->novr)
		m = apply_ovr(c, p, cl, m);
	*ret_map = m;
	*ret_dist = m == VERDICT_NOT_SUPPORTED ? -1 : dist;
}

int verdict_distance_many(const struct verdict_ctx *c, int provider, const int *clients,
			  int nclients, bool with_overrides)
{
	if (nclients <= 0 || provider < 0 || provider >= c->t->nfuncs)
		return -1;
	int total = 0;
	for (int i = 0; i < nclients; i++) {
		if (clients[i] < 0 || clients[i] >= c->t->nfuncs)
			return -1;
		int d;
		enum verdict_map m = verdict_fast(c, provider, clients[i], &d);
		if (with_overrides)
			m = apply_ovr(c, provider, clients[i], m);
		if (m == VERDICT_NOT_SUPPORTED)
			return -1;
		total += d;
	}
	return total;
}

const char *verdict_map_name(enum verdict_map m)
{
	switch (m) {
	case VERDICT_BUS_ADDR:
		return "bus_addr";
	case VERDICT_THRU_HOST_BRIDGE:
		return "thru_host_bridge";
	case VERDICT_NOT_SUPPORTED:
		return "not_supported";
	}
	return "unknown";
}

const char *verdict_class_name(enum verdict_class c)
{
	static const char *const names[] = {"X", "PIX", "PXB", "PHB", "NODE", "SYS"};
	return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

const char *verdict_reason_code(enum verdict_reason r)
{
	static const char *const codes[R__COUNT] = {
	    [R_SAME_FUNCTION] = "same_function",
	    [R_COMMON_BRIDGE] = "common_bridge",
	    [R_NO_COMMON_BRIDGE] = "no_common_bridge",
	    [R_ACS_REDIRECT] = "acs_redirect",
	    [R_ACS_UNKNOWN] = "acs_unknown",
	    [R_CPU_ZEN] = "cpu_zen",
	    [R_CPU_NOT_ZEN] = "cpu_not_zen",
	    [R_CPU_UNKNOWN] = "cpu_unknown",
	    [R_HB_WHITELISTED] = "host_bridge_whitelisted",
	    [R_HB_NOT_WHITELISTED] = "host_bridge_not_whitelisted",
	    [R_HB_SAME_ONLY] = "host_bridge_same_only",
	    [R_HB_NO_DEVICE] = "host_bridge_no_device",
	    [R_CROSS_NUMA] = "cross_numa",
	    [R_POLICY_ALLOW] = "policy_allow",
	    [R_POLICY_DENY] = "policy_deny",
	    [R_NOT_FOUND] = "not_found",
	    [R_KERNEL_NO_P2PDMA] = "kernel_no_p2pdma",
	};
	return (unsigned)r < R__COUNT && codes[r] ? codes[r] : "unknown";
}
