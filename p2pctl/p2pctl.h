/* SPDX-License-Identifier: MIT */
/*
 * p2pctl.h - the admin CLI's internal contract between its parts:
 *   p2pctl.c         main(), argument parsing, offline mode (--fsroot), rendering
 *   p2pctl-online.c  commands that talk to p2pd through libp2pclient
 * Both produce the same JSON documents (report.h shapes) and render them with
 * the functions below, so `p2pctl topo` looks the same online and offline.
 */
#pragma once

#include <stdint.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

struct p2pctl_opts {
	bool json;		    /* --json: print the JSON document instead of a table */
	bool all;		    /* matrix --all */
	bool kernel;		    /* check --kernel */
	const char *fsroot;	    /* --fsroot DIR (offline mode), NULL = online */
	const char *cpu;	    /* --cpu VENDOR:FAMILY */
	const char *kernel_release; /* --kernel-release RELEASE: whose rules apply */
	const char *socket;	    /* --socket PATH (online), NULL = $P2PD_SOCKET or default */
	int format;		    /* topo --format: enum render_dot_format, 0 = text tree */
};

/* Render report.h documents as human tables on @out. Return 0 or -EINVAL on a
 * document of the wrong shape. */
int p2pctl_render_topo(FILE *out, struct json_object *topo);
int p2pctl_render_matrix(FILE *out, struct json_object *matrix);
int p2pctl_render_check(FILE *out, struct json_object *check);

/* The one-line kernel header of topo/matrix/status documents (rules table,
 * release, and "no P2PDMA" when so); nothing when @doc has no kernel keys. */
void p2pctl_render_kernel(FILE *out, struct json_object *doc);
/* "Vendor Device" from pci.ids into @buf, "" when unknown (for humans only). */
void p2pctl_pci_name(unsigned vendor, unsigned device, char *buf, size_t size);

/* Print @doc as pretty JSON on @out. */
void p2pctl_print_json(FILE *out, struct json_object *doc);

/*
 * p2pctl_online() - run an online command (argv[0] is the command name:
 * status topo matrix check alloc buffers clients revoke reload stats ...).
 * Returns the process exit status (0 ok, 1 operation failed, 2 usage).
 * Provided by p2pctl-online.c; p2pctl.c calls it when --fsroot is absent.
 */
int p2pctl_online(int argc, char **argv, const struct p2pctl_opts *o);

/* One error line "p2pctl: ..." on stderr. */
void p2pctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Bytes with an optional K, M or G suffix into *ret; -1 when malformed or
 * too large (the argument parsers of alloc, read and write). */
int p2pctl_parse_size(const char *s, uint64_t *ret);
