// SPDX-License-Identifier: MIT
/*
 * p2pctl.c - the admin CLI: argument parsing, offline mode (--fsroot: read a
 * sysfs tree directly, no daemon), and the human renderings of the JSON
 * documents that both modes produce.
 */
#include "escape.h"
#include "io.h"
#include "json.h"
#include "p2pctl.h"
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdi.h"
#include "kernel.h"
#include "render-dot.h"
#include "names.h"
#include "report.h"
#include "rules.h"
#include "snapshot.h"
#include "topo.h"
#include "verdict.h"

#define P2PCTL_VERSION "0.1"

void p2pctl_err(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "p2pctl: %s\n", p2pctl_escape(msg)); /* messages may quote p2pd */
}

void p2pctl_print_json(FILE *out, struct json_object *doc)
{
	fprintf(out, "%s\n",
		json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
							JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Names for humans: libpci, loaded on first use (names.h). */
void p2pctl_pci_name(unsigned vendor, unsigned device, char *buf, size_t size)
{
	names_device(buf, size, (uint16_t)vendor, (uint16_t)device);
}

/* ---- rendering: proto/json.h's getters; strings escaped for the terminal ---- */

/* A string member, escaped (NULL when absent or not a string). */
static const char *shown_str(struct json_object *o, const char *k)
{
	return p2pctl_escape(json_get_str(o, k, NULL));
}

static unsigned hexval(const char *s)
{
	return s ? (unsigned)strtoul(s, NULL, 16) : 0;
}

/* ---- kernel ---- */

void p2pctl_render_kernel(FILE *out, struct json_object *doc)
{
	const char *rules = shown_str(doc, "rules"), *note = shown_str(doc, "rules_note");
	if (!rules)
		return;
	struct json_object *k = json_get_object(doc, "kernel"), *p2p;
	fprintf(out, "Kernel: %s\n", p2pctl_escape(note ? note : rules));
	if (json_object_object_get_ex(doc, "kernel_p2pdma", &p2p) &&
	    json_object_is_type(p2p, json_type_boolean) && !json_object_get_boolean(p2p)) {
		const char *line = k ? shown_str(k, "p2pdma_note") : NULL;
		fprintf(out, "NO P2P: %s\n",
			line ? p2pctl_escape(line) : "kernel built without CONFIG_PCI_P2PDMA");
	}
	struct json_object *cl = k ? json_get_object(k, "cmdline") : NULL;
	const char *acs = cl ? shown_str(cl, "pci_disable_acs_redir") : NULL;
	const char *iommu = cl ? shown_str(cl, "iommu") : NULL;
	if (acs || iommu)
		fprintf(out, "Command line: %s%s%s%s\n", iommu ? p2pctl_escape(iommu) : "",
			iommu && acs ? " " : "", acs ? "pci=disable_acs_redir=" : "",
			acs ? p2pctl_escape(acs) : "");
}

/* ---- topo ---- */

/* -v: vendor/device/class names as lspci -v prints them (libpci, pci.ids).
 * Without it the tree shows ids and the class category only, and the name
 * database (a 1.3 MB parse, most of lspci -tv's time) is never loaded. */
static bool render_names;

static void render_dev_line(FILE *out, struct json_object *d)
{
	const char *bdf = shown_str(d, "bdf"), *vendor = shown_str(d, "vendor");
	const char *device = shown_str(d, "device"), *cls = shown_str(d, "class");
	const char *kind = shown_str(d, "kind"), *driver = shown_str(d, "driver");
	const char *cat = shown_str(d, "class_name");
	char name[128], cname[96];
	fprintf(out, "%s [%04x:%04x] %s", bdf ? bdf : "?", hexval(vendor), hexval(device),
		!render_names ? (cat ? cat : "")
			      : names_device(name, sizeof(name), (uint16_t)hexval(vendor),
					     (uint16_t)hexval(device)));
	if (kind && strcmp(kind, "endpoint"))
		fprintf(out, " <%s>", kind);
	else if (render_names && cls && names_class(cname, sizeof(cname), hexval(cls))[0])
		fprintf(out, " (%s)", cname);
	struct json_object *link = json_get_object(d, "link");
	if (link) {
		double gts = json_get_double(link, "speed_gts", 0);
		int w = 0;
		w = json_get_int(link, "width", w);
		if (gts > 0 && w)
			fprintf(out, " x%d@%gGT/s", w, gts);
	}
	int numa = json_get_int(d, "numa_node", -1);
	if (numa >= 0)
		fprintf(out, " numa%d", numa);
	struct json_object *acs = json_get_object(d, "acs");
	const char *st = acs ? shown_str(acs, "state") : NULL;
	if (st && !strcmp(st, "present")) {
		unsigned ctrl = hexval(shown_str(acs, "ctrl"));
		fprintf(out, " ACS[%s%s%s%s]", ctrl & 0x4 ? "RR " : "", ctrl & 0x8 ? "CR " : "",
			ctrl & 0x20 ? "EC " : "", (ctrl & 0x2c) ? "redirect" : "no-redirect");
	} else if (st && !strcmp(st, "unknown") && strcmp(kind ? kind : "endpoint", "endpoint")) {
		fprintf(out, " ACS[?]");
	}
	if (driver)
		fprintf(out, " drv=%s", driver);
	struct json_object *gpu = json_get_array(d, "gpu_nodes");
	for (size_t i = 0; gpu && i < json_object_array_length(gpu); i++)
		fprintf(out, "%s%s", i ? "," : " drm=",
			p2pctl_escape(json_object_get_string(json_object_array_get_idx(gpu, i))));
	fputc('\n', out);
}

/*
 * The devices of a tree: a topology document's "devices" array (p2pd's reply,
 * --json), or, offline, the scanned topology itself, asked for one device
 * object at a time (report_device()).  A big tree's objects are then never all
 * in memory at once: at 4096 functions they were 25 MB, and on a VM the first
 * touch of that memory cost more than building it.
 */
struct dev_src {
	struct json_object *devs; /* NULL: from t */
	const struct topo *t;
};

static size_t dev_src_len(const struct dev_src *src)
{
	return src->devs ? json_object_array_length(src->devs) : (size_t)src->t->nfuncs;
}

/* The tree, indexed once: children of each device and root-bus devices of
 * each host bridge as lists in document order. */
struct tree_index {
	int *first; /* per device: first child, -1 none; [n + h]: first root of bridge h */
	int *next;  /* per device: next sibling, -1 last */
};

struct bdf_slot {
	const char *bdf;
	int idx;
};

static int bdf_slot_cmp(const void *a, const void *b)
{
	return strcmp(((const struct bdf_slot *)a)->bdf, ((const struct bdf_slot *)b)->bdf);
}

/* Per device of a document: the index of its parent, else of its host bridge
 * in @hbs (-1 both: not found, so it is not shown).  Names are matched as
 * sent (escaping is for printing: its buffers are reused). */
static int doc_links(struct json_object *devs, struct json_object *hbs, int *parent, int *hb)
{
	size_t n = json_object_array_length(devs), nh = json_object_array_length(hbs);
	struct bdf_slot *slots = malloc((n + 1) * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	size_t ns = 0;
	for (size_t i = 0; i < n; i++) {
		const char *bdf = json_get_str(json_object_array_get_idx(devs, i), "bdf", NULL);
		if (bdf)
			slots[ns++] = (struct bdf_slot){bdf, (int)i};
	}
	qsort(slots, ns, sizeof(*slots), bdf_slot_cmp);
	for (size_t i = 0; i < n; i++) {
		struct json_object *d = json_object_array_get_idx(devs, i);
		const char *p = json_get_str(d, "parent", NULL);
		const char *h = json_get_str(d, "host_bridge", NULL);
		parent[i] = hb[i] = -1;
		if (p) {
			struct bdf_slot key = {p, -1}, *hit;
			hit = bsearch(&key, slots, ns, sizeof(*slots), bdf_slot_cmp);
			parent[i] = hit ? hit->idx : -1;
			continue;
		}
		for (size_t k = 0; h && k < nh && hb[i] < 0; k++) {
			const char *name =
			    json_get_str(json_object_array_get_idx(hbs, k), "name", NULL);
			if (name && !strcmp(name, h))
				hb[i] = (int)k;
		}
	}
	free(slots);
	return 0;
}

static int tree_index_build(struct tree_index *ti, const struct dev_src *src,
			    struct json_object *hbs)
{
	size_t n = dev_src_len(src), nh = json_object_array_length(hbs);
	ti->first = malloc((n + nh + 1) * sizeof(int));
	ti->next = malloc((n + 1) * sizeof(int));
	int *parent = malloc((n + 1) * sizeof(int)), *hb = malloc((n + 1) * sizeof(int));
	int r = -ENOMEM;
	if (!ti->first || !ti->next || !parent || !hb)
		goto out;
	if (src->devs) {
		r = doc_links(src->devs, hbs, parent, hb);
		if (r < 0)
			goto out;
	} else {
		for (size_t i = 0; i < n; i++) {
			parent[i] = src->t->funcs[i].parent;
			hb[i] = parent[i] < 0 ? src->t->funcs[i].hb : -1;
		}
	}
	for (size_t i = 0; i < n + nh; i++)
		ti->first[i] = -1;
	/* Backwards, prepending: every list ends up in document order. */
	for (size_t i = n; i-- > 0;) {
		int *head = NULL;
		if (parent[i] >= 0)
			head = &ti->first[parent[i]];
		else if (hb[i] >= 0 && (size_t)hb[i] < nh)
			head = &ti->first[n + (size_t)hb[i]];
		ti->next[i] = -1;
		if (head) {
			ti->next[i] = *head;
			*head = (int)i;
		}
	}
	r = 0;
out:
	free(parent);
	free(hb);
	return r;
}

static void render_subtree(FILE *out, const struct dev_src *src, const struct tree_index *ti,
			   int first, char *prefix, size_t plen)
{
	for (int i = first; i >= 0; i = ti->next[i]) {
		bool last = ti->next[i] < 0;
		fprintf(out, "%s%s", prefix, last ? "└─ " : "├─ ");
		if (src->devs) {
			render_dev_line(out, json_object_array_get_idx(src->devs, (size_t)i));
		} else {
			struct json_object *d = report_device(src->t, i);
			render_dev_line(out, d);
			json_object_put(d);
		}
		size_t len = strlen(prefix);
		if (len + 8 < plen) {
			strcat(prefix, last ? "   " : "│  ");
			render_subtree(out, src, ti, ti->first[i], prefix, plen);
			prefix[len] = '\0';
		}
	}
}

/* @topo's header, host bridges and warnings, with the devices of @src. */
static int render_topo_src(FILE *out, struct json_object *topo, const struct dev_src *src)
{
	struct json_object *hbs = json_get_array(topo, "host_bridges");
	if (!hbs || (!src->devs && !src->t))
		return -EINVAL;
	struct tree_index ti;
	if (tree_index_build(&ti, src, hbs) < 0) {
		free(ti.first);
		free(ti.next);
		return -ENOMEM;
	}
	struct json_object *cpu = json_get_object(topo, "cpu");
	if (cpu) {
		const char *v = shown_str(cpu, "vendor");
		int fam = -1;
		fam = json_get_int(cpu, "family", fam);
		fprintf(out, "CPU: %s family %s%x (%s)\n", v ? v : "unknown", fam >= 0 ? "0x" : "",
			fam >= 0 ? (unsigned)fam : 0u,
			shown_str(cpu, "source") ? shown_str(cpu, "source") : "?");
	}
	p2pctl_render_kernel(out, topo);
	for (size_t h = 0; h < json_object_array_length(hbs); h++) {
		struct json_object *hb = json_object_array_get_idx(hbs, h);
		const char *name = shown_str(hb, "name"), *dev = shown_str(hb, "device");
		int numa = -1;
		numa = json_get_int(hb, "numa_node", numa);
		fprintf(out, "%s", name ? name : "?");
		if (numa >= 0)
			fprintf(out, " numa%d", numa);
		if (dev)
			fprintf(out, " (host bridge device %s [%04x:%04x])", dev,
				hexval(shown_str(hb, "vendor")),
				hexval(shown_str(hb, "device_id")));
		else
			fprintf(out, " (no host bridge device)");
		fputc('\n', out);
		char prefix[512] = "";
		render_subtree(out, src, &ti, ti.first[dev_src_len(src) + h], prefix,
			       sizeof(prefix));
	}
	free(ti.first);
	free(ti.next);
	struct json_object *w = json_get_array(topo, "warnings");
	for (size_t i = 0; w && i < json_object_array_length(w); i++)
		fprintf(out, "warning: %s\n",
			p2pctl_escape(json_object_get_string(json_object_array_get_idx(w, i))));
	return 0;
}

int p2pctl_render_topo(FILE *out, struct json_object *topo)
{
	struct dev_src src = {.devs = json_get_array(topo, "devices")};
	return src.devs ? render_topo_src(out, topo, &src) : -EINVAL;
}

/* ---- matrix ---- */

int p2pctl_render_matrix(FILE *out, struct json_object *m)
{
	struct json_object *devs = json_get_array(m, "devices"), *rows = json_get_array(m, "rows");
	if (!devs || !rows)
		return -EINVAL;
	size_t n = json_object_array_length(devs);
	p2pctl_render_kernel(out, m);
	if (n == 0) {
		fprintf(out, "no p2p-relevant devices (GPU, NVMe, NIC, accelerator); try --all\n");
		return 0;
	}
	fprintf(out, "%-14s", "");
	for (size_t j = 0; j < n; j++)
		fprintf(out, " D%-7zu", j);
	fputc('\n', out);
	for (size_t i = 0; i < json_object_array_length(rows) && i < n; i++) {
		struct json_object *row = json_object_array_get_idx(rows, i);
		struct json_object *cells = json_get_array(row, "cells");
		const char *bdf = shown_str(row, "bdf");
		fprintf(out, "D%-3zu%-10s", i, "");
		for (size_t j = 0; cells && j < json_object_array_length(cells); j++) {
			struct json_object *c = json_object_array_get_idx(cells, j);
			const char *cls = shown_str(c, "class"), *mt = shown_str(c, "map_type");
			int d = -1;
			d = json_get_int(c, "distance", d);
			char cell[16];
			if (i == j)
				snprintf(cell, sizeof(cell), "X");
			else if (!mt || !strcmp(mt, "not_supported"))
				snprintf(cell, sizeof(cell), "%s -", cls ? cls : "?");
			else
				snprintf(cell, sizeof(cell), "%s %d%s", cls ? cls : "?", d,
					 strcmp(mt, "thru_host_bridge") ? "" : "h");
			fprintf(out, " %-8s", cell);
		}
		(void)bdf;
		fputc('\n', out);
	}
	fprintf(out, "\n");
	for (size_t j = 0; j < n; j++) {
		const char *bdf =
		    p2pctl_escape(json_object_get_string(json_object_array_get_idx(devs, j)));
		fprintf(out, "D%-3zu %s\n", j, bdf ? bdf : "?");
	}
	fprintf(out,
		"\nLegend: CLASS DISTANCE (kernel p2pdma distance)\n"
		"  X    = self\n"
		"  PIX  = through at most one PCIe switch       PXB = through several switches\n"
		"  PHB  = through a root port / host bridge     NODE = across host bridges, one "
		"NUMA node\n"
		"  SYS  = across NUMA nodes\n"
		"  N    = p2p with bus addresses (bus_addr)     Nh = p2p routed through the host "
		"bridge\n"
		"  -    = p2p not supported (see: p2pctl check A B)\n");
	return 0;
}

/* ---- check ---- */

int p2pctl_render_check(FILE *out, struct json_object *c)
{
	const char *mt = shown_str(c, "map_type"), *kmt = shown_str(c, "kernel_map_type");
	if (!mt)
		return -EINVAL;
	int dist = -1, kdist = -1;
	dist = json_get_int(c, "distance", dist);
	kdist = json_get_int(c, "kernel_distance", kdist);
	const char *cls = shown_str(c, "class");
	fprintf(out, "provider:   %s\nclient:     %s\n", shown_str(c, "provider"),
		shown_str(c, "client"));
	const char *what = !strcmp(mt, "bus_addr") ? "p2p supported, bus addresses"
			   : !strcmp(mt, "thru_host_bridge")
			       ? "p2p supported, through the host bridge"
			       : "p2p NOT supported";
	fprintf(out, "verdict:    %s (%s), distance %d, class %s\n", mt, what, dist,
		cls ? cls : "?");
	if (kmt)
		fprintf(out, "kernel:     %s, distance %d (%s)%s\n", kmt, kdist,
			shown_str(c, "rules") ? shown_str(c, "rules") : "",
			json_get_bool(c, "overridden", false) ? "; admin override applied" : "");
	struct json_object *kv = json_get_object(c, "kernel");
	if (kv) {
		int kd = -1;
		kd = json_get_int(kv, "distance", kd);
		const char *err = shown_str(kv, "error");
		if (err)
			fprintf(out, "live kernel: %s\n", err);
		else
			fprintf(out, "live kernel: %s, distance %d (pci_p2pdma_distance_many)%s\n",
				shown_str(kv, "map_type") ? shown_str(kv, "map_type") : "?", kd,
				json_get_bool(kv, "agrees", false) ? ", agrees" : ", DISAGREES");
	}
	struct json_object *path = json_get_array(c, "path");
	const char *common = shown_str(c, "common_bridge");
	if (path) {
		fprintf(out, "path:       ");
		for (size_t i = 0; i < json_object_array_length(path); i++) {
			const char *b = p2pctl_escape(
			    json_object_get_string(json_object_array_get_idx(path, i)));
			bool is_common = common && b && !strcmp(b, common);
			fprintf(out, "%s%s%s%s", i ? " -> " : "", is_common ? "[" : "", b,
				is_common ? "]" : "");
		}
		if (!common)
			fprintf(out, "  (no common bridge: via the host bridge)");
		fputc('\n', out);
	}
	double g = json_get_double(c, "bottleneck_gbps", 0);
	if (g > 0)
		fprintf(out, "bottleneck: %.2f GB/s at %s\n", g, shown_str(c, "bottleneck"));
	struct json_object *rs = json_get_array(c, "reasons");
	fprintf(out, "reasons:\n");
	for (size_t i = 0; rs && i < json_object_array_length(rs); i++) {
		struct json_object *r = json_object_array_get_idx(rs, i);
		fprintf(out, "  - %s: %s\n", shown_str(r, "code"), shown_str(r, "message"));
	}
	const char *fix = shown_str(c, "fix_hint");
	if (fix)
		fprintf(out, "fix:        add the kernel parameter %s\n", fix);
	return 0;
}

/* ---- offline mode ---- */

/*
 * The JSON document of a big tree is tens of MiB of small json-c objects
 * (about 8 KiB a function), built once and freed at exit: its page faults,
 * one per 4 KiB, cost more than building it.  Before a whole document of @t is
 * built, grow the heap in one step sized for it and ask for transparent huge
 * pages there (what glibc's glibc.malloc.hugetlb=1 tunable does); where the
 * heap is not brk-based (sanitizers) or THP is off, the madvise() is refused
 * or ignored and nothing changes.
 */
static void heap_reserve(const struct topo *t)
{
	const uintptr_t huge = 2u << 20;
	size_t bytes = (size_t)t->nfuncs * 8192;

	if (bytes < 4 * huge)
		return;
	if (bytes > (30u << 20))
		bytes = 30u << 20; /* below glibc's largest M_MMAP_THRESHOLD, 32 MiB */
	mallopt(M_MMAP_THRESHOLD, (int)bytes + 4096);
	mallopt(M_TRIM_THRESHOLD, (int)bytes * 2);
	mallopt(M_TOP_PAD, (int)bytes);
	char *p = malloc(bytes);
	if (!p)
		return;
	uintptr_t start = ((uintptr_t)p + huge - 1) & ~(huge - 1);
	uintptr_t end = ((uintptr_t)p + bytes) & ~(huge - 1);

	if (end > start)
		(void)madvise((void *)start, end - start, MADV_HUGEPAGE);
	free(p);
}

/* @want: which facts the command shows (no_gpu, skip); the rest from @o. */
static int offline_open(const struct p2pctl_opts *o, const struct topo_opts *want,
			struct topo **ret, struct kernel_facts *ret_kernel)
{
	const char *root = o->fsroot ? o->fsroot : "/";
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		p2pctl_err("cannot open --fsroot %s: %s", root, strerror(errno));
		return -errno;
	}
	struct topo_opts topts = *want;
	topts.cpu_override = o->cpu;
	int r = topo_scan(fd, &topts, ret);
	kernel_read(fd, o->kernel_release, ret_kernel);
	close(fd);
	if (r == -ENOENT)
		p2pctl_err("no PCI functions found under %s/sys (not a sysfs root or snapshot?)",
			   root);
	else if (r == -EINVAL && o->cpu)
		p2pctl_err("bad --cpu '%s': expected VENDOR:FAMILY, e.g. amd:0x17 or intel:6",
			   o->cpu);
	else if (r < 0)
		p2pctl_err("reading the topology under %s: %s", root, strerror(-r));
	return r;
}

/* The last document printed is left for exit to reclaim, as git's UNLEAK()
 * does: taking a big topology's document apart member by member was about a
 * third of `p2pctl topo`'s instructions on a 4096-function tree.  It stays
 * reachable from here, so leak checkers do not count it. */
static struct json_object *printed_doc;

/* @doc as JSON, or as text by @render, or (@render NULL) as a topology tree
 * whose devices come from @src. */
static int emit(const struct p2pctl_opts *o, struct json_object *doc,
		int (*render)(FILE *, struct json_object *), const struct dev_src *src)
{
	if (!doc) {
		p2pctl_err("out of memory");
		return 1;
	}
	if (o->json)
		p2pctl_print_json(stdout, doc);
	else if ((render ? render(stdout, doc) : render_topo_src(stdout, doc, src)) < 0)
		p2pctl_err("malformed document");
	json_object_put(printed_doc);
	printed_doc = doc;
	return 0;
}

/* topo --format dot|svg: the tree, shaded by the bus_addr groups of the matrix. */
static int offline_topo_graph(const struct p2pctl_opts *o, struct topo *t,
			      const struct kernel_facts *kf)
{
	heap_reserve(t);
	struct json_object *topo = report_topo(t), *matrix = NULL;
	struct verdict_ctx *ctx = NULL;
	char why[300] = "";
	int n = report_matrix_count(t, false), r;

	if (topo)
		report_kernel(topo, kf);
	if (n > REPORT_MATRIX_MAX_DEVICES) {
		report_matrix_too_big(n, why, sizeof(why));
	} else if (verdict_ctx_new(t, NULL, 0, NULL, 0, &ctx) == 0) {
		verdict_ctx_set_kernel(ctx, kf);
		matrix = report_matrix(t, ctx, false);
	}
	if (!topo || (!matrix && !why[0])) {
		p2pctl_err("out of memory");
		r = -ENOMEM;
	} else {
		r = render_dot_topo(stdout, o->format, topo, matrix, why[0] ? why : NULL);
	}
	json_object_put(matrix);
	json_object_put(topo);
	verdict_ctx_free(ctx);
	return r < 0 ? 1 : 0;
}

static int offline_cmd(int argc, char **argv, const struct p2pctl_opts *o)
{
	const char *cmd = argv[0];
	if (!strcmp(cmd, "snapshot")) {
		if (argc != 2) {
			p2pctl_err("usage: p2pctl [--fsroot DIR] snapshot FILE.tar");
			return 2;
		}
		const char *root = o->fsroot ? o->fsroot : "/";
		int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0) {
			p2pctl_err("cannot open %s: %s", root, strerror(errno));
			return 1;
		}
		int out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (out < 0) {
			p2pctl_err("cannot create %s: %s", argv[1], strerror(errno));
			close(rootfd);
			return 1;
		}
		char err[256] = "";
		struct snapshot_stats st;
		int r = snapshot_write(rootfd, out, &st, err, sizeof(err));
		close(rootfd);
		if (close(out) < 0 && r >= 0)
			r = -errno;
		if (r < 0) {
			p2pctl_err("snapshot failed: %s", err[0] ? err : strerror(-r));
			unlink(argv[1]);
			return 1;
		}
		fprintf(
		    stderr,
		    "p2pctl: wrote %s: %d files, %d links, %d dirs (%lld bytes); "
		    "read back with: mkdir DIR && tar xf %s -C DIR && p2pctl --fsroot DIR topo\n",
		    argv[1], st.files, st.links, st.dirs, st.bytes, argv[1]);
		return 0;
	}

	bool is_check = !strcmp(cmd, "check");
	if (strcmp(cmd, "topo") && strcmp(cmd, "matrix") && !is_check) {
		p2pctl_err("'%s' needs the daemon (not available with --fsroot)", cmd);
		return 2;
	}
	if (is_check && argc != 3) {
		p2pctl_err("usage: p2pctl check PROVIDER CLIENT");
		return 2;
	}
	if (!is_check && argc != 1) {
		p2pctl_err("unexpected argument '%s'", argv[1]);
		return 2;
	}
	if (is_check) {
		uint32_t d;
		uint8_t b, v, f;
		for (int i = 1; i < 3; i++)
			if (topo_parse_bdf(argv[i], &d, &b, &v, &f) < 0) {
				p2pctl_err("'%s' is not a PCI address (expected [DDDD:]BB:DD.F)",
					   argv[i]);
				return 2;
			}
	}
	struct topo *t;
	struct kernel_facts kf;
	/* Read only what the command shows.  libdrm: topo prints GPU nodes and
	 * matrix picks its p2p-relevant devices by them (not with --all); check
	 * never uses them.  BARs, local CPUs and IOMMU groups: only the JSON
	 * topology shows them; drivers: only the topology. */
	bool is_topo = !strcmp(cmd, "topo");
	struct topo_opts want = {
	    .no_gpu = !is_topo && (is_check || o->all),
	    .skip = is_topo && o->json ? 0
				       : TOPO_SKIP_BARS | TOPO_SKIP_CPUS | TOPO_SKIP_IOMMU |
					     (is_topo ? 0 : TOPO_SKIP_DRIVER),
	};
	if (offline_open(o, &want, &t, &kf) < 0)
		return 1;
	int rc = 0;
	if (!strcmp(cmd, "topo") && o->format) {
		rc = offline_topo_graph(o, t, &kf);
	} else if (!strcmp(cmd, "topo")) {
		if (o->json)
			heap_reserve(t);
		/* The text asks for one device object at a time (dev_src). */
		struct json_object *doc = o->json ? report_topo(t) : report_topo_frame(t);
		struct dev_src src = {.t = t};
		if (doc)
			report_kernel(doc, &kf);
		rc = emit(o, doc, NULL, &src);
	} else {
		struct verdict_ctx *ctx;
		if (verdict_ctx_new(t, NULL, 0, NULL, 0, &ctx) < 0) {
			p2pctl_err("out of memory");
			topo_free(t);
			return 1;
		}
		verdict_ctx_set_kernel(ctx, &kf);
		int n = is_check ? 0 : report_matrix_count(t, o->all);
		if (n > REPORT_MATRIX_MAX_DEVICES) {
			char msg[300];
			report_matrix_too_big(n, msg, sizeof(msg));
			p2pctl_err("%s", msg);
			rc = 1;
		} else if (!is_check) {
			heap_reserve(t);
			rc = emit(o, report_matrix(t, ctx, o->all), p2pctl_render_matrix, NULL);
		} else {
			int p = topo_find(t, argv[1]), c = topo_find(t, argv[2]);
			if (p < 0 || c < 0) {
				uint32_t d;
				uint8_t b, v, f;
				topo_parse_bdf(p < 0 ? argv[1] : argv[2], &d, &b, &v, &f);
				p2pctl_err("no PCI function %04x:%02x:%02x.%x under %s", d, b, v, f,
					   o->fsroot ? o->fsroot : "/");
				rc = 1;
			} else {
				struct verdict v;
				verdict_pair(ctx, p, c, &v);
				struct json_object *doc = report_check(t, &v, p, c);
				if (doc && o->kernel)
					json_object_object_add(
					    doc, "kernel",
					    json_object_new_string(
						"the live kernel's verdict needs p2pd and "
						"p2pbroker.ko (not available offline)"));
				rc = emit(o, doc, p2pctl_render_check, NULL);
			}
		}
		verdict_ctx_free(ctx);
	}
	topo_free(t);
	return rc;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: p2pctl [OPTIONS] COMMAND [ARGS]\n"
		"\n"
		"Inspect PCIe peer-to-peer DMA topology and manage p2pd buffers.\n"
		"\n"
		"Commands (offline with --fsroot, or on this machine when p2pd is not running):\n"
		"  topo                  the PCI tree with link, NUMA, ACS, driver and GPU nodes\n"
		"  topo --format svg|dot the tree as a picture (Graphviz): p2p groups, ACS\n"
		"  matrix [--all]        p2p verdict for every pair of p2p-relevant endpoints\n"
		"  check A B [--kernel]  explain whether provider A and client B can do p2p\n"
		"  snapshot FILE.tar     capture the PCI sysfs and kernel facts for --fsroot\n"
		"  cdi [group=G|none]    a CDI spec giving containers the p2pd socket\n"
		"Commands that need p2pd:\n"
		"  status, alloc, buffers, clients, revoke ID, reload, stats\n"
		"  metrics               p2pd's state as Prometheus text (admin)\n"
		"  read FILE | write FILE [--offset N] [--length N] [--provider BDF]\n"
		"        [--direct-only]  P2P I/O: a p2p buffer near FILE's NVMe, data moved\n"
		"                        by O_DIRECT (or bounced); write reads standard input\n"
		"\n"
		"Options:\n"
		"  --fsroot DIR      read DIR/sys and DIR/proc instead of asking p2pd\n"
		"  --offline         read this machine's /sys directly even if p2pd runs\n"
		"  --cpu VENDOR:FAM  CPU for the kernel's Zen rule (amd:0x17, intel:6)\n"
		"  --kernel-release RELEASE  apply that kernel's p2p rules (default: the\n"
		"                    release under --fsroot, proc/sys/kernel/osrelease)\n"
		"  --socket PATH     p2pd socket (default $P2PD_SOCKET or " P2P_DEFAULT_SOCKET ")\n"
		"  --json            machine-readable output (see p2pctl(1))\n"
		"  -v, --verbose     topo: vendor, device and class names (as lspci -v)\n"
		"  -h, --help        this text;  --version\n");
}

int p2pctl_parse_size(const char *s, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	if (*end == 'K' || *end == 'k')
		end++, v = v > UINT64_MAX >> 10 ? UINT64_MAX : v << 10;
	else if (*end == 'M')
		end++, v = v > UINT64_MAX >> 20 ? UINT64_MAX : v << 20;
	else if (*end == 'G')
		end++, v = v > UINT64_MAX >> 30 ? UINT64_MAX : v << 30;
	if (*end || v == UINT64_MAX)
		return -1;
	*ret = v;
	return 0;
}

int main(int argc, char **argv)
{
	struct p2pctl_opts o = {0};
	bool offline = false;
	enum {
		OPT_FSROOT = 256,
		OPT_CPU,
		OPT_SOCKET,
		OPT_JSON,
		OPT_ALL,
		OPT_KERNEL,
		OPT_VERSION,
		OPT_OFFLINE,
		OPT_KERNEL_RELEASE,
		OPT_FORMAT
	};
	static const struct option longopts[] = {
	    {"fsroot", required_argument, NULL, OPT_FSROOT},
	    {"cpu", required_argument, NULL, OPT_CPU},
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"all", no_argument, NULL, OPT_ALL},
	    {"kernel", no_argument, NULL, OPT_KERNEL},
	    {"kernel-release", required_argument, NULL, OPT_KERNEL_RELEASE},
	    {"offline", no_argument, NULL, OPT_OFFLINE},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {"help", no_argument, NULL, 'h'},
	    {"verbose", no_argument, NULL, 'v'},
	    {0},
	};
	int c;
	/* read/write FILE have options of their own (p2pctl/io.c). */
	if ((c = io_command(argc, argv)) > 0)
		return io_main(argc, argv, c);
	/* GNU getopt permutes: options may follow the command (matrix --all). */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FSROOT:
			o.fsroot = optarg;
			break;
		case OPT_CPU:
			o.cpu = optarg;
			break;
		case OPT_SOCKET:
			o.socket = optarg;
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case OPT_ALL:
			o.all = true;
			break;
		case OPT_KERNEL:
			o.kernel = true;
			break;
		case OPT_OFFLINE:
			offline = true;
			break;
		case OPT_KERNEL_RELEASE:
			o.kernel_release = optarg;
			break;
		case OPT_FORMAT: {
			enum render_dot_format f;
			if (render_dot_parse_format(optarg, &f) < 0) {
				p2pctl_err("bad --format '%s': expected svg or dot", optarg);
				return 2;
			}
			o.format = f;
			break;
		}
		case OPT_VERSION:
			printf("p2pctl %s (p2p rules of drivers/pci/p2pdma.c, tables %s to %s)\n",
			       P2PCTL_VERSION, rules_tables(NULL)->name, rules_newest()->name);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case 'v':
			render_names = true;
			break;
		case '?':
		default:
			if (optopt && optopt < 256)
				p2pctl_err("unknown option '-%c' (see p2pctl --help)", optopt);
			else
				p2pctl_err("unknown or incomplete option '%s' (see p2pctl --help)",
					   argv[optind - 1]);
			return 2;
		}
	}
	int nargs = argc - optind;
	char **args = argv + optind;
	int rc;
	struct topo_cpu tc;
	/* names as lspci prints them wherever names are shown: --json and -v */
	if (o.json || render_names)
		report_set_class_names(names_class);
	if (nargs == 0) {
		usage(stderr);
		rc = 2;
	} else if (!strcmp(args[0], "cdi")) {
		/* A file for container runtimes: needs no daemon and no sysfs. */
		const char *sock = o.socket ? o.socket : getenv(P2P_SOCKET_ENV);
		rc = cdi_main(nargs, args, sock && *sock ? sock : P2P_DEFAULT_SOCKET);
	} else if (!strcmp(args[0], "metrics")) {
		/* Always p2pd's; --fsroot only says where sysfs p2pmem is read. */
		rc = p2pctl_online(nargs, args, &o);
	} else if (o.format && (strcmp(args[0], "topo") || o.json)) {
		p2pctl_err("--format svg|dot goes with topo only, without --json");
		rc = 2;
	} else if (o.cpu && topo_parse_cpu(o.cpu, &tc) < 0) {
		p2pctl_err("bad --cpu '%s': expected VENDOR:FAMILY, e.g. amd:0x17 or intel:6",
			   o.cpu);
		rc = 2;
	} else if (o.kernel_release && !o.kernel_release[0]) {
		p2pctl_err("--kernel-release needs a release such as 6.1.0-28-amd64");
		rc = 2;
	} else if ((o.cpu || o.kernel_release) && !o.fsroot && !offline &&
		   strcmp(args[0], "snapshot")) {
		/* A what-if CPU or kernel is an offline question about this machine's tree. */
		rc = offline_cmd(nargs, args, &o);
	} else if (o.fsroot || offline || !strcmp(args[0], "snapshot")) {
		rc = offline_cmd(nargs, args, &o);
	} else {
		const char *sock = o.socket ? o.socket : getenv(P2P_SOCKET_ENV);
		if (!sock || !*sock)
			sock = P2P_DEFAULT_SOCKET;
		struct stat st;
		bool local = !strcmp(args[0], "topo") || !strcmp(args[0], "matrix") ||
			     !strcmp(args[0], "check");
		if (local && stat(sock, &st) < 0 && !o.kernel) {
			/* No daemon: the read-only views work from /sys directly. */
			rc = offline_cmd(nargs, args, &o);
		} else {
			rc = p2pctl_online(nargs, args, &o);
		}
	}
	names_free();
	return rc;
}
