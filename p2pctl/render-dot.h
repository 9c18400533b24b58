/* SPDX-License-Identifier: MIT */
/*
 * render-dot.h - `p2pctl topo --format dot|svg`: the PCI tree as a Graphviz
 * graph (host bridges, switches, endpoints, ACS-redirecting bridges, the
 * groups of endpoints that can do bus_addr p2p with each other, a legend).
 * Works on the report.h JSON documents, so online and offline draw alike.
 */
#pragma once

#include <json-c/json.h>
#include <stdio.h>

enum render_dot_format {
	RENDER_DOT_NONE = 0, /* no --format: the text tree */
	RENDER_DOT_DOT,	     /* plain DOT source */
	RENDER_DOT_SVG,	     /* DOT laid out by Graphviz's dot(1) as SVG */
};

/* "dot" or "svg" into *@ret. Returns 0, or -EINVAL for anything else. */
int render_dot_parse_format(const char *s, enum render_dot_format *ret);

/*
 * render_dot_topo() - write @topo (report_topo() shape) as DOT on @out, or, for
 * RENDER_DOT_SVG, pipe that DOT through `dot -Tsvg` whose output goes to @out's
 * file descriptor. @matrix (report_matrix() shape over the p2p-relevant
 * endpoints) gives the bus_addr groups; NULL draws no groups and says why with
 * @why_no_groups (borrowed, may be NULL). All borrowed.
 * Returns 0; -EINVAL for a document of the wrong shape; -ENOENT when dot(1) is
 * not installed; -EIO when dot fails; -ENOMEM. Prints its own error line.
 */
int render_dot_topo(FILE *out, enum render_dot_format fmt, struct json_object *topo,
		    struct json_object *matrix, const char *why_no_groups);
