/* SPDX-License-Identifier: MIT */
/*
 * config-schema.h - internal to config.c and config-rules.c: the p2pd.json
 * value getters both use (on top of proto/json.h's), and the rules part's
 * entry points.  Every getter checks the current value of @c (json_push_*),
 * copies it out, and on a problem returns -EINVAL with "FILE:LINE: PATH: why"
 * in c->err (or -ENOMEM).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "json.h"

#define CONFIG_MAX_SIZE (1ull << 52) /* 4 PiB: anything above is a mistake */

/* Schema errors are -EINVAL whatever the getter said (-ERANGE, -E2BIG). */
#define cfg_fail(c, ...) json_fail((c), -EINVAL, __VA_ARGS__)

/* A string without NUL bytes, shorter than @len, into @buf. */
int cfg_str(struct json_ctx *c, struct json_object *v, char *buf, size_t len, bool allow_empty);
/* An integer in [min, max]. */
int cfg_uint(struct json_ctx *c, struct json_object *v, uint64_t min, uint64_t max, uint64_t *ret);
/* An array of at most @max entries. */
int cfg_array(struct json_ctx *c, struct json_object *v, size_t max);
/* A size: an integer of bytes or a string such as "64M", "1GiB". */
int cfg_size(struct json_ctx *c, struct json_object *v, uint64_t min, uint64_t max, uint64_t *ret);
/* A group name (resolved with NSS) or number. */
int cfg_group(struct json_ctx *c, struct json_object *v, char *name, size_t namelen,
	      gid_t *ret_gid);
bool cfg_all_digits(const char *s);
/* A PCI address, canonical ("0000:03:00.0") into @out. */
int cfg_bdf(struct json_ctx *c, struct json_object *v, char *out, size_t outlen);
/* A PCI vendor or device id as 1-4 hex digits. */
int cfg_id16(struct json_ctx *c, struct json_object *v, uint16_t *ret);

/* config-rules.c: "rules", one rule (or "default"), the built-in rules. */
int cfg_parse_rules(struct json_ctx *c, struct json_object *a, struct p2p_config *cfg);
int cfg_parse_rule(struct json_ctx *c, struct json_object *o, const struct config_limits *lim,
		   bool is_default, struct config_rule *rule);
int cfg_defaults_rules(struct p2p_config *cfg, bool rules, bool def);
