// SPDX-License-Identifier: MIT
/*
 * report.c - topology and verdicts as JSON documents (see report.h and
 * p2pctl(1) for the field list; names here are a stable interface).
 */
#include "report.h"

#include <linux/pci_regs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct json_object *jstr_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

static struct json_object *jhex(unsigned v, int width)
{
	char buf[16];
	snprintf(buf, sizeof(buf), "0x%0*x", width, v);
	return json_object_new_string(buf);
}

/* Keys are string literals (the macro refuses anything else): json-c keeps
 * the pointer instead of a copy, one malloc and free less per member.  Each
 * key is added once per object, so json-c need not look for it first. */
static void add_literal(struct json_object *o, const char *k, struct json_object *v, unsigned flags)
{
	json_object_object_add_ex(o, k, v, JSON_C_OBJECT_ADD_CONSTANT_KEY | flags);
}
/* add(): a member new to an object this function made (json-c skips the
 * lookup); set(): a member of an object passed in, replaced if present. */
#define add(o, k, v) add_literal((o), "" k, (v), JSON_C_OBJECT_ADD_KEY_IS_NEW)
#define set(o, k, v) add_literal((o), "" k, (v), 0)

static report_class_fn *class_lookup;

void report_set_class_names(report_class_fn *fn)
{
	class_lookup = fn;
}

static struct json_object *class_name(uint32_t class_code)
{
	char buf[128];
	if (class_lookup && class_code != UINT32_MAX &&
	    class_lookup(buf, sizeof(buf), class_code)[0])
		return json_object_new_string(buf);
	return json_object_new_string(topo_class_name(class_code));
}

static const char *pcie_type_name(int type)
{
	switch (type) {
	case PCI_EXP_TYPE_ENDPOINT:
		return "endpoint";
	case PCI_EXP_TYPE_LEG_END:
		return "legacy-endpoint";
	case PCI_EXP_TYPE_ROOT_PORT:
		return "root-port";
	case PCI_EXP_TYPE_UPSTREAM:
		return "upstream-port";
	case PCI_EXP_TYPE_DOWNSTREAM:
		return "downstream-port";
	case PCI_EXP_TYPE_PCI_BRIDGE:
		return "pcie-to-pci-bridge";
	case PCI_EXP_TYPE_PCIE_BRIDGE:
		return "pci-to-pcie-bridge";
	case PCI_EXP_TYPE_RC_END:
		return "rc-integrated-endpoint";
	case PCI_EXP_TYPE_RC_EC:
		return "rc-event-collector";
	default:
		return NULL;
	}
}

static struct json_object *report_cpu(const struct topo_cpu *c)
{
	struct json_object *o = json_object_new_object();
	add(o, "vendor", jstr_or_null(c->vendor_id));
	add(o, "family", c->family >= 0 ? json_object_new_int(c->family) : NULL);
	add(o, "zen",
	    c->vendor == TOPO_CPU_UNKNOWN
		? NULL
		: json_object_new_boolean(c->vendor == TOPO_CPU_AMD && c->family >= 0x17));
	add(o, "source",
	    json_object_new_string(c->from_override		   ? "override"
				   : c->vendor == TOPO_CPU_UNKNOWN ? "unknown"
								   : "cpuinfo"));
	return o;
}

static struct json_object *report_link(const struct topo_func *f)
{
	if (!f->cur_width && !f->max_width && f->cur_speed_gts <= 0 && f->max_speed_gts <= 0)
		return NULL;
	struct json_object *o = json_object_new_object();
	add(o, "speed_gts", f->cur_speed_gts > 0 ? json_object_new_double(f->cur_speed_gts) : NULL);
	add(o, "width", f->cur_width ? json_object_new_int(f->cur_width) : NULL);
	add(o, "max_speed_gts",
	    f->max_speed_gts > 0 ? json_object_new_double(f->max_speed_gts) : NULL);
	add(o, "max_width", f->max_width ? json_object_new_int(f->max_width) : NULL);
	double g = topo_link_gbps(f->cur_speed_gts, f->cur_width);
	add(o, "gbps", g > 0 ? json_object_new_double(g) : NULL);
	return o;
}

static struct json_object *report_acs(const struct topo_func *f)
{
	struct json_object *o = json_object_new_object();
	const char *state = f->acs == TOPO_ACS_PRESENT	? "present"
			    : f->acs == TOPO_ACS_ABSENT ? "absent"
							: "unknown";
	add(o, "state", json_object_new_string(state));
	if (f->acs == TOPO_ACS_PRESENT) {
		add(o, "cap", jhex(f->acs_cap, 4));
		add(o, "ctrl", jhex(f->acs_ctrl, 4));
	}
	add(o, "redirect",
	    f->acs == TOPO_ACS_UNKNOWN ? NULL : json_object_new_boolean(f->acs_redir));
	return o;
}

struct json_object *report_device(const struct topo *t, int idx)
{
	const struct topo_func *f = &t->funcs[idx];
	struct json_object *o = json_object_new_object();
	add(o, "bdf", json_object_new_string(f->bdf));
	add(o, "parent", f->parent >= 0 ? json_object_new_string(t->funcs[f->parent].bdf) : NULL);
	add(o, "host_bridge", json_object_new_string(t->hbs[f->hb].name));
	add(o, "depth", json_object_new_int(f->depth));
	add(o, "vendor", jhex(f->vendor, 4));
	add(o, "device", jhex(f->device, 4));
	add(o, "subsystem_vendor", jhex(f->subsys_vendor, 4));
	add(o, "subsystem_device", jhex(f->subsys_device, 4));
	add(o, "class", f->class_code == UINT32_MAX ? NULL : jhex(f->class_code, 6));
	add(o, "class_name", class_name(f->class_code));
	add(o, "kind", json_object_new_string(topo_kind_name(f->kind)));
	add(o, "pcie_type", jstr_or_null(pcie_type_name(f->pcie_type)));
	add(o, "numa_node", json_object_new_int(f->numa_node));
	add(o, "local_cpus", jstr_or_null(f->local_cpus));
	add(o, "driver", jstr_or_null(f->driver));
	add(o, "iommu_group", f->iommu_group >= 0 ? json_object_new_int(f->iommu_group) : NULL);
	add(o, "config_size", json_object_new_int(f->cfg_size));
	add(o, "link", report_link(f));
	add(o, "acs", report_acs(f));
	if (f->is_bridge) {
		add(o, "secondary_bus", f->sec_bus >= 0 ? json_object_new_int(f->sec_bus) : NULL);
		add(o, "subordinate_bus", f->sub_bus >= 0 ? json_object_new_int(f->sub_bus) : NULL);
	}
	struct json_object *bars = json_object_new_array();
	for (int i = 0; i < TOPO_NBARS; i++) {
		const struct topo_bar *b = &f->bars[i];
		if (!b->end)
			continue;
		struct json_object *bo = json_object_new_object();
		char buf[32];
		add(bo, "index", json_object_new_int(i));
		snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)b->start);
		add(bo, "start", json_object_new_string(buf));
		add(bo, "size", json_object_new_int64((int64_t)(b->end - b->start + 1)));
		add(bo, "prefetchable", json_object_new_boolean(b->flags & 0x2000));
		add(bo, "mem64", json_object_new_boolean(b->flags & 0x100000));
		json_object_array_add(bars, bo);
	}
	add(o, "bars", bars);
	struct json_object *gpu = json_object_new_array();
	if (f->gpu_nodes) {
		char buf[TOPO_GPU_NODES_LEN];
		snprintf(buf, sizeof(buf), "%s", f->gpu_nodes);
		char *save = NULL;
		for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			json_object_array_add(gpu, json_object_new_string(tok));
	}
	add(o, "gpu_nodes", gpu);
	add(o, "p2p_relevant", json_object_new_boolean(topo_is_p2p_relevant(f)));
	add(o, "in_bus_list", json_object_new_boolean(f->in_bus_list));
	add(o, "in_tree", json_object_new_boolean(f->in_tree));
	return o;
}

void report_kernel(struct json_object *o, const struct kernel_facts *k)
{
	set(o, "rules", json_object_new_string(k->rules.table->name));
	set(o, "rules_fit", json_object_new_string(rules_fit_name(k->rules.fit)));
	set(o, "rules_note", json_object_new_string(k->rules.note));
	set(o, "kernel_release", jstr_or_null(k->rules.release));
	set(o, "kernel_p2pdma", k->p2pdma < 0 ? NULL : json_object_new_boolean(k->p2pdma > 0));
	struct json_object *d = json_object_new_object();
	add(d, "release_source", jstr_or_null(kernel_src_name(k->release_src)));
	add(d, "config", jstr_or_null(k->config));
	char line[300];
	kernel_p2pdma_line(k, line, sizeof(line));
	add(d, "p2pdma_note", jstr_or_null(line));
	struct json_object *cl = NULL;
	if (k->cmdline_known) {
		cl = json_object_new_object();
		add(cl, "pci_disable_acs_redir", jstr_or_null(k->acs_redir));
		add(cl, "iommu", jstr_or_null(k->iommu));
		add(cl, "iommu_off", json_object_new_boolean(k->iommu_off));
		add(cl, "iommu_passthrough", json_object_new_boolean(k->iommu_passthrough));
	}
	add(d, "cmdline", cl);
	set(o, "kernel", d);
}

static struct json_object *topo_doc(const struct topo *t, bool devices)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	struct kernel_facts unknown;
	kernel_facts_unknown(&unknown);
	report_kernel(o, &unknown);
	add(o, "cpu", report_cpu(&t->cpu));
	struct json_object *hbs = json_object_new_array();
	for (int h = 0; h < t->nhbs; h++) {
		const struct topo_hostbridge *hb = &t->hbs[h];
		struct json_object *ho = json_object_new_object();
		add(ho, "name", json_object_new_string(hb->name));
		add(ho, "numa_node", json_object_new_int(hb->numa_node));
		if (hb->hbdev >= 0) {
			const struct topo_func *d = &t->funcs[hb->hbdev];
			add(ho, "device", json_object_new_string(d->bdf));
			add(ho, "vendor", jhex(d->vendor, 4));
			add(ho, "device_id", jhex(d->device, 4));
		} else {
			add(ho, "device", NULL);
		}
		json_object_array_add(hbs, ho);
	}
	add(o, "host_bridges", hbs);
	struct json_object *devs = json_object_new_array_ext(devices ? t->nfuncs : 0);
	for (int i = 0; devices && i < t->nfuncs; i++)
		json_object_array_add(devs, report_device(t, i));
	add(o, "devices", devs);
	struct json_object *w = json_object_new_array();
	for (int i = 0; i < t->nwarnings; i++)
		json_object_array_add(w, json_object_new_string(t->warnings[i]));
	add(o, "warnings", w);
	return o;
}

struct json_object *report_topo(const struct topo *t)
{
	return topo_doc(t, true);
}

struct json_object *report_topo_frame(const struct topo *t)
{
	return topo_doc(t, false);
}

void report_topo_class_names(struct json_object *topo)
{
	struct json_object *devs, *d, *c;
	if (!json_object_object_get_ex(topo, "devices", &devs) ||
	    !json_object_is_type(devs, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		d = json_object_array_get_idx(devs, i);
		if (!json_object_is_type(d, json_type_object))
			continue;
		uint32_t code = UINT32_MAX;
		if (json_object_object_get_ex(d, "class", &c) &&
		    json_object_is_type(c, json_type_string)) {
			char *end;
			const char *s = json_object_get_string(c);
			unsigned long v = strtoul(s, &end, 16);
			if (end != s && !*end && v <= 0xffffff)
				code = (uint32_t)v;
		}
		set(d, "class_name", class_name(code));
	}
}

struct json_object *report_check(const struct topo *t, const struct verdict *v, int provider,
				 int client)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	add(o, "provider", provider >= 0 ? json_object_new_string(t->funcs[provider].bdf) : NULL);
	add(o, "client", client >= 0 ? json_object_new_string(t->funcs[client].bdf) : NULL);
	add(o, "map_type", json_object_new_string(verdict_map_name(v->map)));
	add(o, "distance", json_object_new_int(v->distance));
	add(o, "supported", json_object_new_boolean(v->map != VERDICT_NOT_SUPPORTED));
	add(o, "kernel_map_type", json_object_new_string(verdict_map_name(v->kernel_map)));
	add(o, "kernel_distance",
	    json_object_new_int(v->kernel_map == VERDICT_NOT_SUPPORTED ? -1 : v->kernel_distance));
	add(o, "path_length", json_object_new_int(v->kernel_distance));
	add(o, "class", json_object_new_string(verdict_class_name(v->cls)));
	add(o, "bottleneck_gbps",
	    v->bottleneck_gbps > 0 ? json_object_new_double(v->bottleneck_gbps) : NULL);
	add(o, "bottleneck", jstr_or_null(v->bottleneck_bdf));
	add(o, "common_bridge",
	    v->common >= 0 ? json_object_new_string(t->funcs[v->common].bdf) : NULL);
	struct json_object *path = json_object_new_array();
	for (int i = 0; i < v->npath; i++)
		json_object_array_add(path, json_object_new_string(t->funcs[v->path[i]].bdf));
	add(o, "path", path);
	struct json_object *acs = json_object_new_array();
	if (v->acs_list[0]) {
		char buf[sizeof(v->acs_list)];
		snprintf(buf, sizeof(buf), "%s", v->acs_list);
		char *save = NULL;
		for (char *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
			json_object_array_add(acs, json_object_new_string(tok));
	}
	add(o, "acs_redirect", acs);
	add(o, "fix_hint", jstr_or_null(v->fix_hint));
	add(o, "overridden", json_object_new_boolean(v->overridden));
	struct json_object *rs = json_object_new_array();
	for (int i = 0; i < v->nreasons; i++) {
		struct json_object *r = json_object_new_object();
		add(r, "code", json_object_new_string(verdict_reason_code(v->reasons[i].code)));
		add(r, "message", json_object_new_string(v->reasons[i].message));
		json_object_array_add(rs, r);
	}
	add(o, "reasons", rs);
	add(o, "rules", json_object_new_string(v->rules ? v->rules : rules_newest()->name));
	add(o, "kernel_release", jstr_or_null(v->kernel_release));
	add(o, "kernel_p2pdma",
	    v->kernel_p2pdma < 0 ? NULL : json_object_new_boolean(v->kernel_p2pdma > 0));
	return o;
}

int report_matrix_count(const struct topo *t, bool all)
{
	int n = 0;
	for (int i = 0; i < t->nfuncs; i++)
		if (all || topo_is_p2p_relevant(&t->funcs[i]))
			n++;
	return n;
}

void report_matrix_too_big(int n, char *buf, size_t size)
{
	snprintf(buf, size,
		 "a matrix over %d devices is too large to build (limit %d); ask for pairs with "
		 "'check A B', or leave out --all",
		 n, REPORT_MATRIX_MAX_DEVICES);
}

struct json_object *report_matrix(const struct topo *t, const struct verdict_ctx *ctx, bool all)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	int n = 0;
	int *sel = calloc(t->nfuncs > 0 ? (size_t)t->nfuncs : 1, sizeof(int));
	if (!sel) {
		json_object_put(o);
		return NULL;
	}
	for (int i = 0; i < t->nfuncs; i++)
		if (all || topo_is_p2p_relevant(&t->funcs[i]))
			sel[n++] = i;
	struct json_object *devs = json_object_new_array_ext(n);
	for (int i = 0; i < n; i++)
		json_object_array_add(devs, json_object_new_string(t->funcs[sel[i]].bdf));
	add(o, "devices", devs);
	struct json_object *rows = json_object_new_array_ext(n);
	for (int i = 0; i < n; i++) {
		struct json_object *row = json_object_new_object();
		add(row, "bdf", json_object_new_string(t->funcs[sel[i]].bdf));
		struct json_object *cells = json_object_new_array_ext(n);
		for (int j = 0; j < n; j++) {
			enum verdict_map m;
			enum verdict_class c;
			int d;
			verdict_quick(ctx, sel[i], sel[j], &m, &d, &c);
			struct json_object *cell = json_object_new_object();
			add(cell, "map_type", json_object_new_string(verdict_map_name(m)));
			add(cell, "distance", json_object_new_int(d));
			add(cell, "class", json_object_new_string(verdict_class_name(c)));
			json_object_array_add(cells, cell);
		}
		add(row, "cells", cells);
		json_object_array_add(rows, row);
	}
	add(o, "rows", rows);
	free(sel);
	report_kernel(o, verdict_ctx_kernel(ctx));
	return o;
}
