/* SPDX-License-Identifier: MIT */
/*
 * report.h - topology and verdicts as JSON (json-c): the one representation
 * shared by `p2pctl --json`, p2pctl's human tables, and p2pd's topology/check
 * replies.  Field names are the stable interface documented in p2pctl(1).
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "kernel.h"
#include "topo.h"
#include "verdict.h"

/* {"rules", "rules_fit", "rules_note", "kernel_release", "kernel_p2pdma", "kernel",
 *  "cpu", "host_bridges": [...], "devices": [...], "warnings": [...]}; the kernel keys
 * say "unknown kernel" until report_kernel() overwrites them.
 * Returns a new object (caller puts it) or NULL on ENOMEM. */
struct json_object *report_topo(const struct topo *t);

/* report_topo() with "devices" empty, and the object it holds for @t's
 * function @i: for a renderer that walks a big tree one device at a time
 * (p2pctl's offline text), so that all of them are never in memory at once. */
struct json_object *report_topo_frame(const struct topo *t);
struct json_object *report_device(const struct topo *t, int idx);

/*
 * Where a device's "class_name" comes from.  NULL (the default) is
 * topo_class_name()'s short categories ("NVMe", "memory"); p2pctl installs
 * libpci's names_class() for --json and -v, so the JSON says what lspci and
 * the -v text say ("Non-Volatile memory controller", "RAM memory").  A
 * lookup that yields "" (no pci.ids entry) falls back to the category.
 */
typedef const char *report_class_fn(char *buf, size_t size, uint32_t class_code);
void report_set_class_names(report_class_fn *fn);

/* Rewrite "class_name" of every device of a topology document (one from
 * report_topo() or p2pd's) from its "class" with the lookup in force. */
void report_topo_class_names(struct json_object *topo);

/* Set the kernel keys of @doc from @k: "rules" (table name), "rules_fit",
 * "rules_note" (which table and why), "kernel_release" (string or null),
 * "kernel_p2pdma" (bool or null), "kernel": {release_source, config, p2pdma_note,
 * cmdline: {pci_disable_acs_redir, iommu, iommu_off, iommu_passthrough} or null}. */
void report_kernel(struct json_object *doc, const struct kernel_facts *k);

/* {"provider","client","map_type","distance","kernel_map_type","kernel_distance",
 *  "class","bottleneck_gbps","bottleneck","common_bridge","path":[...],
 *  "acs_redirect":[...],"fix_hint","overridden","reasons":[{code,message}],
 *  "rules","kernel_release","kernel_p2pdma"} */
struct json_object *report_check(const struct topo *t, const struct verdict *v, int provider,
				 int client);

/* Largest matrix built as a JSON document: 512 devices = 262144 cells, ~15 MB of
 * JSON text (json-c objects cost ~300 bytes a cell, so 4096 devices would take GBs). */
#define REPORT_MATRIX_MAX_DEVICES 512

/* Devices a matrix covers: the p2p-relevant endpoints, or every function. */
int report_matrix_count(const struct topo *t, bool all);

/* {"devices":[bdf...], "rows":[{"bdf","cells":[{"map_type","distance","class"}]}],
 *  + the kernel keys of report_kernel() for the context's kernel}
 * over the p2p-relevant endpoints, or every function when @all. */
struct json_object *report_matrix(const struct topo *t, const struct verdict_ctx *ctx, bool all);

/* One error sentence for a matrix over @n > REPORT_MATRIX_MAX_DEVICES devices. */
void report_matrix_too_big(int n, char *buf, size_t size);
