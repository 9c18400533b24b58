// SPDX-License-Identifier: MIT
/*
 * render-dot.c - the PCI tree as a Graphviz graph (render-dot.h).
 *
 * One cluster per host bridge (inside one per NUMA node when the tree has
 * several), one node per function, an edge from each bridge to what sits
 * below it, laid out left to right so a server with hundreds of functions
 * grows downwards, not into a line kilometres wide.  Endpoints that can all
 * do bus_addr p2p with each other (both directions, from the matrix document)
 * are filled with the same colour and carry the group number; bridges whose
 * ACS control redirects p2p upstream get a red border.
 *
 * Every string in a label comes from sysfs, pci.ids or p2pd: all go through
 * html_put(), which escapes XML, drops control characters and replaces
 * invalid UTF-8 and doubles backslashes (dot expands \N and friends even in
 * HTML labels), so neither dot nor an SVG viewer sees markup from a device.
 * Node names are our own (d<index>), never a device string.
 */
#include "render-dot.h"
#include "json.h"
#include "p2pctl.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define NAME_MAX_CHARS 56    /* device names are cut here: nodes stay narrow */
#define LEGEND_MAX_GROUPS 24 /* groups listed one by one in the legend */

/* ColorBrewer Set3/Paired pastels: distinct, dark text stays readable. */
static const char *const group_colors[] = {
    "#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462",
    "#b3de69", "#fccde5", "#bc80bd", "#ccebc5", "#ffed6f", "#a6cee3",
};
#define NCOLORS (sizeof(group_colors) / sizeof(group_colors[0]))
#define BRIDGE_FILL "#e6e6e6"
#define HOSTBRIDGE_FILL "#cfcfcf"
#define ACS_COLOR "#d00000"

int render_dot_parse_format(const char *s, enum render_dot_format *ret)
{
	if (!strcmp(s, "dot"))
		*ret = RENDER_DOT_DOT;
	else if (!strcmp(s, "svg"))
		*ret = RENDER_DOT_SVG;
	else
		return -EINVAL;
	return 0;
}

/* ---- escaping ---- */

/* Length of the valid UTF-8 sequence at @s (1-4), or 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static int utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))
			return 0;
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

/* @s as text inside a Graphviz HTML-like label, at most @max characters
 * (then "..."): XML-escaped, control characters and invalid UTF-8 as '?'. */
static void html_put(FILE *out, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = 0;

	for (; *p; n++) {
		if (n == max) {
			fputs("...", out);
			return;
		}
		int len = utf8_len(p);
		if (len == 0 || *p < 0x20 || *p == 0x7f) {
			fputc('?', out);
			p++;
			continue;
		}
		switch (*p) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		case '\\':
			/* dot expands \N, \G, \L ... even in HTML labels: \\ is one \ */
			fputs("\\\\", out);
			break;
		default:
			fwrite(p, 1, (size_t)len, out);
		}
		p += len;
	}
}

/* ---- JSON access: proto/json.h's getters (the documents come from p2pd too) ---- */

static unsigned jhexval(struct json_object *o, const char *k)
{
	const char *s = json_get_str(o, k, NULL);

	return s ? (unsigned)strtoul(s, NULL, 16) : 0;
}

/* ---- what a function is ---- */

/* The role an admin looks for, from the class code (and DRM nodes). */
static const char *dev_role(struct json_object *d)
{
	const char *cls = json_get_str(d, "class", NULL);
	struct json_object *gpu;
	unsigned c = cls ? (unsigned)strtoul(cls, NULL, 16) : 0xffffffffu;

	if (((gpu = json_get_array(d, "gpu_nodes")) && json_object_array_length(gpu) > 0) ||
	    (cls && (c >> 16) == 0x03))
		return "GPU";
	if (!cls)
		return "unknown";
	if ((c & 0xffffff) == 0x010802)
		return "NVMe";
	if ((c >> 8) == 0x0207)
		return "NIC (InfiniBand)";
	if ((c >> 16) == 0x02)
		return "NIC";
	if ((c >> 16) == 0x12 || (c >> 8) == 0x0b40 || (c >> 16) == 0x11)
		return "accelerator";
	if ((c >> 8) == 0x0502)
		return "CXL memory";
	if ((c >> 16) == 0x05)
		return "memory";
	if ((c >> 16) == 0x01)
		return "storage";
	return json_get_str(d, "class_name", NULL) ? json_get_str(d, "class_name", NULL) : "other";
}

static const char *kind_label(const char *kind)
{
	static const struct {
		const char *kind, *label;
	} tab[] = {
	    {"root-port", "root port"},
	    {"switch-upstream", "switch upstream port"},
	    {"switch-downstream", "switch downstream port"},
	    {"bridge", "PCI bridge"},
	    {"host-bridge", "host bridge"},
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (kind && !strcmp(kind, tab[i].kind))
			return tab[i].label;
	return kind ? kind : "?";
}

/* ", x16 8 GT/s" from the link object, or nothing. */
static void put_link(FILE *out, struct json_object *d)
{
	struct json_object *link = json_get_object(d, "link");
	int w;
	double gts;

	if (!link)
		return;
	w = json_get_int(link, "width", 0);
	gts = json_get_double(link, "speed_gts", 0);
	if (w > 0 && gts > 0)
		fprintf(out, ", x%d %g GT/s", w, gts);
}

/* ---- groups: endpoints that can all do bus_addr p2p with each other ---- */

static bool bus_addr_cell(struct json_object *rows, size_t i, size_t j)
{
	struct json_object *row = json_object_array_get_idx(rows, i), *cells, *cell;
	const char *mt;

	cells = json_get_array(row, "cells");
	if (!cells)
		return false;
	cell = json_object_array_get_idx(cells, j);
	mt = cell ? json_get_str(cell, "map_type", NULL) : NULL;
	return mt && !strcmp(mt, "bus_addr");
}

/*
 * Greedy cliques of the "bus_addr both ways" relation, in matrix order: a
 * group holds only endpoints that are all pairwise bus_addr, so "shaded alike"
 * never claims more than the kernel would allow. Endpoints with no partner get
 * group 0 (unshaded). Writes group numbers (1..) for each matrix device into
 * @grp; returns the number of groups of two or more.
 */
static int groups_compute(struct json_object *matrix, size_t n, int *grp)
{
	struct json_object *rows;
	int ngroups = 0;

	rows = json_get_array(matrix, "rows");
	if (!rows || json_object_array_length(rows) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		grp[i] = -1;
	for (size_t i = 0; i < n; i++) {
		if (grp[i] != -1)
			continue;
		int g = ngroups + 1;
		size_t members = 1;
		grp[i] = g;
		for (size_t j = i + 1; j < n; j++) {
			bool all = grp[j] == -1;
			for (size_t k = i; all && k < j; k++)
				if (grp[k] == g &&
				    !(bus_addr_cell(rows, j, k) && bus_addr_cell(rows, k, j)))
					all = false;
			if (all) {
				grp[j] = g;
				members++;
			}
		}
		if (members > 1)
			ngroups++;
		else
			grp[i] = 0;
	}
	return ngroups;
}

/* ---- the graph ---- */

struct dot_ctx {
	FILE *out;
	struct json_object *devs, *hbs;
	size_t ndev;
	int *parent; /* index of each device's parent, -1 on a root bus */
	int *hb;     /* index of each device's host bridge, -1 unknown */
	int *group;  /* bus_addr group of each device, 0 none */
	int *gsize;  /* members per group (index = group) */
	int ngroups;
	bool acs_unknown, acs_redirect, irrelevant;
};

static int find_bdf(struct json_object *arr, const char *key, const char *want)
{
	for (size_t i = 0; want && i < json_object_array_length(arr); i++) {
		const char *s = json_get_str(json_object_array_get_idx(arr, i), key, NULL);
		if (s && !strcmp(s, want))
			return (int)i;
	}
	return -1;
}

static void dot_node(struct dot_ctx *c, size_t i)
{
	struct json_object *d = json_object_array_get_idx(c->devs, i), *acs = NULL;
	const char *kind = json_get_str(d, "kind", NULL);
	bool endpoint = !kind || !strcmp(kind, "endpoint");
	bool relevant = json_get_bool(d, "p2p_relevant", false);
	bool redirect = false, unknown = false;
	FILE *out = c->out;
	char name[160];
	int numa = json_get_int(d, "numa_node", -1);

	p2pctl_pci_name(jhexval(d, "vendor"), jhexval(d, "device"), name, sizeof(name));
	acs = json_get_object(d, "acs");
	if (acs) {
		const char *st = json_get_str(acs, "state", NULL);
		redirect = json_get_bool(acs, "redirect", false);
		unknown = st && !strcmp(st, "unknown") && !endpoint;
	}
	fprintf(out, "\td%zu [", i);
	if (endpoint) {
		int g = c->group[i];
		if (g > 0)
			fprintf(out, "fillcolor=\"%s\", ", group_colors[(g - 1) % NCOLORS]);
		if (!relevant) {
			fputs("fontcolor=\"#707070\", color=\"#a0a0a0\", ", out);
			c->irrelevant = true;
		}
	} else {
		fprintf(out, "shape=box, style=\"filled\", fillcolor=\"%s\", ",
			!strcmp(kind, "host-bridge") ? HOSTBRIDGE_FILL : BRIDGE_FILL);
	}
	if (redirect) {
		fputs("color=\"" ACS_COLOR "\", penwidth=2.5, ", out);
		c->acs_redirect = true;
	}
	c->acs_unknown |= unknown;

	/* line 1: BDF and role */
	fputs("label=<<B>", out);
	html_put(out, json_get_str(d, "bdf", NULL) ? json_get_str(d, "bdf", NULL) : "?", 32);
	fputs("</B> ", out);
	html_put(out, endpoint ? dev_role(d) : kind_label(kind), 32);
	fputs("<BR ALIGN=\"LEFT\"/>", out);
	/* line 2: the name (pci.ids), else the class */
	if (name[0] || json_get_str(d, "class_name", NULL)) {
		html_put(out, name[0] ? name : json_get_str(d, "class_name", NULL), NAME_MAX_CHARS);
		fputs("<BR ALIGN=\"LEFT\"/>", out);
	}
	/* line 3: NUMA node, link, driver, DRM nodes, p2p group */
	if (numa >= 0)
		fprintf(out, "NUMA %d", numa);
	else
		fputs("NUMA -", out);
	put_link(out, d);
	if (json_get_str(d, "driver", NULL)) {
		fputs(", ", out);
		html_put(out, json_get_str(d, "driver", NULL), 24);
	}
	struct json_object *gpu = json_get_array(d, "gpu_nodes");
	if (gpu) {
		for (size_t k = 0; k < json_object_array_length(gpu) && k < 4; k++) {
			struct json_object *s = json_object_array_get_idx(gpu, k);
			fputs(k ? " " : ", ", out);
			if (json_object_is_type(s, json_type_string))
				html_put(out, json_object_get_string(s), 16);
		}
	}
	if (endpoint && c->group[i] > 0)
		fprintf(out, ", <B>p2p group %d</B>", c->group[i]);
	fputs("<BR ALIGN=\"LEFT\"/>", out);
	if (redirect || unknown) {
		unsigned ctrl = acs ? jhexval(acs, "ctrl") : 0;
		if (redirect)
			fprintf(out,
				"<FONT COLOR=\"" ACS_COLOR "\"><B>ACS redirect%s%s%s</B></FONT>",
				ctrl & 0x4 ? " RR" : "", ctrl & 0x8 ? " CR" : "",
				ctrl & 0x20 ? " EC" : "");
		else
			fputs("ACS ?", out);
		fputs("<BR ALIGN=\"LEFT\"/>", out);
	}
	fputs(">];\n", out);
}

static void dot_hb_cluster(struct dot_ctx *c, size_t h, const char *indent)
{
	struct json_object *hb = json_object_array_get_idx(c->hbs, h);
	FILE *out = c->out;
	char name[160];
	const char *dev = json_get_str(hb, "device", NULL);

	fprintf(out, "%ssubgraph cluster_hb%zu {\n", indent, h);
	fprintf(out,
		"%s\tstyle=\"rounded\"; color=\"#404040\"; fontcolor=\"black\"; fontsize=10;\n",
		indent);
	fprintf(out, "%s\tlabel=<<B>", indent);
	html_put(out, json_get_str(hb, "name", NULL) ? json_get_str(hb, "name", NULL) : "?", 32);
	fputs("</B>", out);
	if (dev) {
		p2pctl_pci_name(jhexval(hb, "vendor"), jhexval(hb, "device_id"), name,
				sizeof(name));
		fputs(" host bridge ", out);
		html_put(out, dev, 32);
		fprintf(out, " [%04x:%04x]", jhexval(hb, "vendor"), jhexval(hb, "device_id"));
		if (name[0]) {
			fputs("<BR ALIGN=\"LEFT\"/>", out);
			html_put(out, name, NAME_MAX_CHARS);
		}
	} else {
		fputs(" (no host bridge device: the whitelist cannot match)", out);
	}
	fputs("<BR ALIGN=\"LEFT\"/>>;\n", out);
	for (size_t i = 0; i < c->ndev; i++)
		if (c->hb[i] == (int)h) {
			fputs(indent, out);
			dot_node(c, i);
		}
	fprintf(out, "%s}\n", indent);
}

static void dot_legend(struct dot_ctx *c, const char *why_no_groups)
{
	FILE *out = c->out;
	int listed = 0;

	fputs("\tlegend [shape=plain, margin=0, label=<<TABLE BORDER=\"1\" CELLBORDER=\"0\" "
	      "CELLSPACING=\"3\" CELLPADDING=\"2\" COLOR=\"#404040\">\n"
	      "\t\t<TR><TD COLSPAN=\"2\" ALIGN=\"LEFT\"><B>Legend</B></TD></TR>\n",
	      out);
	for (int g = 1; g <= c->ngroups && listed < LEGEND_MAX_GROUPS; g++, listed++)
		fprintf(out,
			"\t\t<TR><TD BGCOLOR=\"%s\" BORDER=\"1\" WIDTH=\"24\"> </TD><TD "
			"ALIGN=\"LEFT\">p2p group %d: %d endpoints, bus_addr p2p with each "
			"other</TD></TR>\n",
			group_colors[(g - 1) % NCOLORS], g, c->gsize[g]);
	if (c->ngroups > listed)
		fprintf(out,
			"\t\t<TR><TD> </TD><TD ALIGN=\"LEFT\">... %d more groups (colours repeat; "
			"the group number in each box decides)</TD></TR>\n",
			c->ngroups - listed);
	if (why_no_groups) {
		fputs("\t\t<TR><TD> </TD><TD ALIGN=\"LEFT\">no p2p groups drawn: ", out);
		html_put(out, why_no_groups, 120);
		fputs("</TD></TR>\n", out);
	}
	fputs("\t\t<TR><TD BGCOLOR=\"white\" BORDER=\"1\"> </TD><TD ALIGN=\"LEFT\">endpoint with "
	      "no bus_addr peer (p2p through the host bridge or not at all: p2pctl "
	      "matrix)</TD></TR>\n",
	      out);
	if (c->irrelevant)
		fputs("\t\t<TR><TD BORDER=\"1\" COLOR=\"#a0a0a0\"> </TD><TD ALIGN=\"LEFT\"><FONT "
		      "COLOR=\"#707070\">grey text: not a p2p device (no GPU, NVMe, NIC, "
		      "accelerator or memory)</FONT></TD></TR>\n",
		      out);
	fputs("\t\t<TR><TD BGCOLOR=\"" BRIDGE_FILL "\" BORDER=\"1\"> </TD><TD ALIGN=\"LEFT\">"
	      "bridge: root port, switch port, PCI bridge</TD></TR>\n",
	      out);
	fputs("\t\t<TR><TD BORDER=\"3\" COLOR=\"" ACS_COLOR "\"> </TD><TD ALIGN=\"LEFT\">ACS "
	      "redirect (RR/CR/EC set): p2p below it goes up to the host bridge",
	      out);
	fputs(c->acs_redirect ? "" : " (none here)", out);
	fputs("</TD></TR>\n", out);
	if (c->acs_unknown)
		fputs("\t\t<TR><TD> </TD><TD ALIGN=\"LEFT\">ACS ? = ACS not readable (config "
		      "space read without root)</TD></TR>\n",
		      out);
	fputs("\t\t<TR><TD> </TD><TD ALIGN=\"LEFT\">boxes: host bridges (root buses)", out);
	fputs("; edges: bridge to what sits below it</TD></TR>\n\t</TABLE>>];\n", out);
}

static int dot_write(FILE *out, struct json_object *topo, struct json_object *matrix,
		     const char *why_no_groups)
{
	struct dot_ctx c = {.out = out};
	struct json_object *mdevs = NULL, *cpu;
	int *mgrp = NULL, r = -ENOMEM;
	size_t nm = 0;

	c.devs = json_get_array(topo, "devices");
	c.hbs = json_get_array(topo, "host_bridges");
	if (!c.devs || !c.hbs)
		return -EINVAL;
	c.ndev = json_object_array_length(c.devs);
	c.parent = calloc(c.ndev + 1, sizeof(int));
	c.hb = calloc(c.ndev + 1, sizeof(int));
	c.group = calloc(c.ndev + 1, sizeof(int));
	mdevs = json_get_array(matrix, "devices");
	if (mdevs)
		nm = json_object_array_length(mdevs);
	mgrp = calloc(nm + 1, sizeof(int));
	c.gsize = calloc(nm + 2, sizeof(int));
	if (!c.parent || !c.hb || !c.group || !mgrp || !c.gsize)
		goto out;

	for (size_t i = 0; i < c.ndev; i++) {
		struct json_object *d = json_object_array_get_idx(c.devs, i);
		c.parent[i] = find_bdf(c.devs, "bdf", json_get_str(d, "parent", NULL));
		c.hb[i] = find_bdf(c.hbs, "name", json_get_str(d, "host_bridge", NULL));
	}
	if (nm) {
		c.ngroups = groups_compute(matrix, nm, mgrp);
		/* groups_compute numbers groups with members > 1 densely from 1 */
		for (size_t j = 0; j < nm; j++) {
			struct json_object *s = json_object_array_get_idx(mdevs, j);
			int i = json_object_is_type(s, json_type_string)
				    ? find_bdf(c.devs, "bdf", json_object_get_string(s))
				    : -1;
			if (i >= 0 && mgrp[j] > 0) {
				c.group[i] = mgrp[j];
				c.gsize[mgrp[j]]++;
			}
		}
	}

	fputs("digraph p2p_topology {\n"
	      "\tgraph [rankdir=LR, fontname=\"Helvetica\", fontsize=12, nodesep=0.1, "
	      "ranksep=0.3, labelloc=t, labeljust=l, newrank=true, ordering=out];\n"
	      "\tnode [fontname=\"Helvetica\", fontsize=9, shape=box, style=\"rounded,filled\", "
	      "fillcolor=\"white\", margin=\"0.06,0.02\", height=0.2];\n"
	      "\tedge [arrowhead=none, color=\"#606060\"];\n",
	      out);
	fputs("\tlabel=<<B>PCIe topology</B> (p2pctl topo)", out);
	if (json_get_str(topo, "rules", NULL)) {
		fputs("   rules: ", out);
		html_put(out, json_get_str(topo, "rules", NULL), 60);
	}
	cpu = json_get_object(topo, "cpu");
	if (cpu) {
		fputs("   CPU: ", out);
		html_put(out,
			 json_get_str(cpu, "vendor", NULL) ? json_get_str(cpu, "vendor", NULL)
							   : "unknown",
			 32);
		if (json_get_int(cpu, "family", -1) >= 0)
			fprintf(out, " family 0x%x", (unsigned)json_get_int(cpu, "family", 0));
		if (json_get_bool(cpu, "zen", false))
			fputs(" (Zen: p2p across host bridges allowed)", out);
	}
	fputs(">;\n", out);

	/* NUMA clusters only when the tree spans several nodes. */
	size_t nhb = json_object_array_length(c.hbs);
	int numa_min = INT32_MAX, numa_max = -1;
	for (size_t h = 0; h < nhb; h++) {
		int n = json_get_int(json_object_array_get_idx(c.hbs, h), "numa_node", -1);
		if (n >= 0 && n < numa_min)
			numa_min = n;
		if (n > numa_max)
			numa_max = n;
	}
	/* Clusters too are stacked bottom up under rankdir=LR: emit them last first. */
	bool by_numa = numa_max >= 0 && numa_max != numa_min;
	if (!by_numa)
		for (size_t h = nhb; h-- > 0;)
			dot_hb_cluster(&c, h, "\t");
	for (int n = numa_max; by_numa && n >= -1; n--) {
		bool any = false;
		for (size_t h = nhb; h-- > 0;) {
			if (json_get_int(json_object_array_get_idx(c.hbs, h), "numa_node", -1) != n)
				continue;
			if (!any) {
				fprintf(out,
					"\tsubgraph cluster_numa%d {\n\t\tstyle=\"dashed\"; "
					"color=\"#3060a0\"; fontcolor=\"#3060a0\";\n",
					n + 1);
				if (n < 0)
					fputs("\t\tlabel=<<B>NUMA node unknown</B>>;\n", out);
				else
					fprintf(out, "\t\tlabel=<<B>NUMA node %d</B>>;\n", n);
			}
			any = true;
			dot_hb_cluster(&c, h, "\t\t");
		}
		if (any)
			fputs("\t}\n", out);
	}
	/* functions whose host bridge is not in the list (broken trees) */
	for (size_t i = 0; i < c.ndev; i++)
		if (c.hb[i] < 0)
			dot_node(&c, i);
	/* With rankdir=LR and ordering=out, dot stacks a node's children from the
	 * bottom up in edge order: list them last first so they read top down. */
	for (size_t i = c.ndev; i-- > 0;)
		if (c.parent[i] >= 0)
			fprintf(out, "\td%d -> d%zu;\n", c.parent[i], i);
	dot_legend(&c, why_no_groups);
	fputs("}\n", out);
	r = ferror(out) ? -EIO : 0;
out:
	free(c.parent);
	free(c.hb);
	free(c.group);
	free(c.gsize);
	free(mgrp);
	return r;
}

/* ---- through dot(1) ---- */

/* Feed @src to `dot -Tsvg` whose stdout is @out's fd. A socket, not a pipe, so
 * a dot that dies early gives EPIPE from send(MSG_NOSIGNAL) instead of SIGPIPE. */
static int dot_svg(FILE *out, const char *src, size_t len)
{
	char *argv[] = {"dot", "-Tsvg", NULL};
	posix_spawn_file_actions_t fa;
	int sv[2], r, status;
	pid_t pid;

	if (fflush(out) != 0)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	r = posix_spawn_file_actions_init(&fa);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, sv[1], STDIN_FILENO);
	if (r == 0 && fileno(out) != STDOUT_FILENO)
		r = posix_spawn_file_actions_adddup2(&fa, fileno(out), STDOUT_FILENO);
	if (r == 0)
		r = posix_spawnp(&pid, "dot", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (r != 0) {
		close(sv[0]);
		if (r == ENOENT)
			p2pctl_err("--format svg needs Graphviz's dot program (Debian: apt install "
				   "graphviz); --format dot prints the graph without it");
		else
			p2pctl_err("cannot run dot: %s", strerror(r));
		return -r;
	}
	for (size_t off = 0; off < len;) {
		ssize_t n = send(sv[0], src + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* dot went away: its exit status says why */
		off += (size_t)n;
	}
	close(sv[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE)
		return -EPIPE; /* our reader went away (| head): nothing to say */
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		p2pctl_err("dot failed (%s %d) laying out the topology",
			   WIFEXITED(status) ? "exit status" : "signal",
			   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -EIO;
	}
	return 0;
}

int render_dot_topo(FILE *out, enum render_dot_format fmt, struct json_object *topo,
		    struct json_object *matrix, const char *why_no_groups)
{
	char *src = NULL;
	size_t len = 0;
	FILE *mem;
	int r;

	if (fmt == RENDER_DOT_DOT) {
		r = dot_write(out, topo, matrix, why_no_groups);
		if (r == -EINVAL)
			p2pctl_err("malformed topology document");
		return r;
	}
	mem = open_memstream(&src, &len);
	if (!mem) {
		p2pctl_err("out of memory");
		return -ENOMEM;
	}
	r = dot_write(mem, topo, matrix, why_no_groups);
	if (fclose(mem) != 0 && r == 0)
		r = -ENOMEM;
	if (r == 0)
		r = dot_svg(out, src, len);
	else
		p2pctl_err(r == -EINVAL ? "malformed topology document" : "out of memory");
	free(src);
	return r;
}
