/* SPDX-License-Identifier: MIT */
/*
 * verdict.h - may provider P and client C do PCIe peer-to-peer DMA, and why not.
 *
 * The map type and distance follow the kernel's drivers/pci/p2pdma.c
 * (calc_map_type_and_dist) exactly, under the host-bridge rules of one kernel
 * release (rules.h; the newest table until verdict_ctx_set_kernel() says
 * otherwise), and a kernel built without CONFIG_PCI_P2PDMA refuses every pair;
 * on top come an nvidia-smi-style class, the bottleneck link, reasons with stable
 * codes and sentences, fix hints, and admin overrides (applied last, and said so).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernel.h"
#include "rules.h"
#include "topo.h"

#define VERDICT_MAX_REASONS 12

enum verdict_map {
	VERDICT_NOT_SUPPORTED = 0,
	VERDICT_BUS_ADDR,	  /* common upstream bridge, no ACS redirect */
	VERDICT_THRU_HOST_BRIDGE, /* routed via the root complex (Zen CPU or whitelisted) */
};

enum verdict_class {
	VERDICT_CLASS_X = 0, /* same function */
	VERDICT_CLASS_PIX,   /* at most one switch (or one bridge) */
	VERDICT_CLASS_PXB,   /* several switches, below one root port */
	VERDICT_CLASS_PHB,   /* through one host bridge */
	VERDICT_CLASS_NODE,  /* across host bridges in one NUMA node */
	VERDICT_CLASS_SYS,   /* across NUMA nodes */
};

enum verdict_reason {
	R_SAME_FUNCTION = 0,
	R_COMMON_BRIDGE,
	R_NO_COMMON_BRIDGE,
	R_ACS_REDIRECT,
	R_ACS_UNKNOWN,
	R_CPU_ZEN,
	R_CPU_NOT_ZEN,
	R_CPU_UNKNOWN,
	R_HB_WHITELISTED,
	R_HB_NOT_WHITELISTED,
	R_HB_SAME_ONLY,
	R_HB_NO_DEVICE,
	R_CROSS_NUMA,
	R_POLICY_ALLOW,
	R_POLICY_DENY,
	R_NOT_FOUND,
	R_KERNEL_NO_P2PDMA,
	R__COUNT
};

struct verdict_whitelist_entry {
	uint16_t vendor, device;
	bool same_host_bridge_only; /* the kernel's REQ_SAME_HOST_BRIDGE */
};

/* Admin pair override from the config: applies to (a,b) in either order. */
struct verdict_override {
	char a[TOPO_BDF_LEN], b[TOPO_BDF_LEN];
	bool allow;
	char why[128];
};

/* Precomputed per-topology context; cheap pair queries (16.7M pairs < 1 s). */
struct verdict_ctx;

struct verdict_reason_item {
	enum verdict_reason code;
	char message[256];
};

struct verdict {
	enum verdict_map kernel_map; /* what the kernel would decide */
	int kernel_distance;	     /* kernel's distance (path length), even when not supported */
	enum verdict_map map;	     /* after admin overrides */
	int distance;		     /* -1 when map == NOT_SUPPORTED */
	enum verdict_class cls;
	double bottleneck_gbps;		   /* 0 unknown */
	char bottleneck_bdf[TOPO_BDF_LEN]; /* function whose upstream link is slowest */
	int common;			   /* index of the common upstream bridge, -1 none */
	int path[2 * TOPO_MAX_DEPTH + 2];  /* provider ... common ... client (indices) */
	int npath;
	char acs_list[256]; /* "0000:00:01.0;0000:01:00.0" (kernel's order) */
	char fix_hint[300]; /* "pci=disable_acs_redir=..." or "" */
	bool overridden;
	const char *rules;			/* name of the rules table applied ("linux-5.19") */
	char kernel_release[RULES_RELEASE_LEN]; /* "" unknown */
	int kernel_p2pdma; /* 1 CONFIG_PCI_P2PDMA, 0 built without, -1 unknown */
	struct verdict_reason_item reasons[VERDICT_MAX_REASONS];
	int nreasons;
};

/*
 * verdict_ctx_new() - precompute chains and host-bridge facts of @t.
 * @extra_wl/@n_extra: config whitelist entries added to the kernel's table.
 * @ovr/@n_ovr: admin pair overrides (copied).
 * Returns 0 and *ret_ctx, or -ENOMEM.  @t must outlive the context.
 */
int verdict_ctx_new(const struct topo *t, const struct verdict_whitelist_entry *extra_wl,
		    int n_extra, const struct verdict_override *ovr, int n_ovr,
		    struct verdict_ctx **ret_ctx);
void verdict_ctx_free(struct verdict_ctx *ctx);

/*
 * verdict_ctx_set_kernel() - judge under the kernel facts @k (copied): the
 * rules table of its release, no p2p at all when it was built without
 * CONFIG_PCI_P2PDMA (p2pdma 0; unknown counts as built with it), and its
 * command line in the reasons and fix hints.  A new context has the facts of
 * kernel_facts_unknown(): the newest table.
 */
void verdict_ctx_set_kernel(struct verdict_ctx *ctx, const struct kernel_facts *k);

/* The kernel facts in force (for reports). */
const struct kernel_facts *verdict_ctx_kernel(const struct verdict_ctx *ctx);

/* Index of the "host bridge device" of host bridge @h under the context's
 * rules (pci_host_bridge_dev()), -1 none. */
int verdict_ctx_hbdev(const struct verdict_ctx *ctx, int h);

/* Fast path: kernel map type and distance only (no reasons, no overrides).
 * Returns the map type; *ret_dist gets the kernel distance. */
enum verdict_map verdict_fast(const struct verdict_ctx *ctx, int provider, int client,
			      int *ret_dist);

/* Matrix path: map type and distance after admin overrides, and the class,
 * without building reasons or the path. */
void verdict_quick(const struct verdict_ctx *ctx, int provider, int client,
		   enum verdict_map *ret_map, int *ret_dist, enum verdict_class *ret_cls);

/* Full verdict for one ordered pair (indices into t->funcs). Always fills *ret. */
void verdict_pair(const struct verdict_ctx *ctx, int provider, int client, struct verdict *ret);

/* Kernel's pci_p2pdma_distance_many(): sum of distances, -1 if any client is
 * not supported (after overrides when @with_overrides). */
int verdict_distance_many(const struct verdict_ctx *ctx, int provider, const int *clients,
			  int nclients, bool with_overrides);

const char *verdict_map_name(enum verdict_map m);	/* "bus_addr" ... */
const char *verdict_class_name(enum verdict_class c);	/* "PIX" ... */
const char *verdict_reason_code(enum verdict_reason r); /* "acs_redirect" ... */
