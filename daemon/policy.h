/* SPDX-License-Identifier: MIT */
/*
 * policy.h - who may do what: admin rights, which devices and buffer types a
 * client may use, and per-client quotas, all decided from a loaded config
 * (config.h) and the client's SO_PEERCRED uid/gid.
 *
 * Rules are tried in file order; the first whose uid, gid or group matches the
 * client decides, else the config's default rule.  A gid/group rule matches the
 * peer's primary gid or any group the user belongs to (getgrouplist()).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "alloc.h"
#include "config.h"
#include "topo.h"

/* A client's live usage, counted by the caller (per connection). */
struct policy_usage {
	uint64_t bytes;
	uint32_t buffers;
};

/* True for uid 0 and for members (primary or supplementary) of admin_group. */
bool policy_is_admin(const struct p2p_config *cfg, uid_t uid, gid_t gid);

/* The rule that applies to (uid, gid): a rule of cfg->rules or &cfg->default_rule.
 * Never NULL for a non-NULL @cfg. */
const struct config_rule *policy_rule_for(const struct p2p_config *cfg, uid_t uid, gid_t gid);

/*
 * policy_check_alloc() - may (uid, gid) allocate one more buffer?
 * @provider_idx: index in t->funcs of the provider device, -1 for host memory
 *                (required >= 0 for "p2p").
 * @type: the buffer type.
 * @size: bytes of the new buffer.
 * @cur:  what the client holds now (NULL = nothing).
 * @why/@whylen: on refusal one sentence naming the rule or the quota; may be NULL.
 * Returns 0 allowed; -EPERM the rule does not allow this type or device (why
 * names the rule); -EDQUOT the buffer would exceed max_bytes or max_buffers (why
 * says which, the limit and the current usage); -EINVAL unknown type, bad
 * provider index, size 0.
 */
int policy_check_alloc(const struct p2p_config *cfg, const struct topo *t, uid_t uid, gid_t gid,
		       int provider_idx, enum alloc_type type, uint64_t size,
		       const struct policy_usage *cur, char *why, size_t whylen);

/* May (uid, gid) use function @func_idx of @t at all (as provider or peer)? */
bool policy_device_allowed(const struct p2p_config *cfg, const struct topo *t, uid_t uid, gid_t gid,
			   int func_idx);

/* Does one pattern / a rule's device list match function @f? */
bool policy_devpat_match(const struct config_devpat *p, const struct topo_func *f);
bool policy_rule_allows_device(const struct config_rule *r, const struct topo_func *f);

/*
 * The group lookup used for gid/group rules and admin_group: fills @groups with
 * up to @max gids of @uid (its passwd primary group and its supplementary
 * groups; the peer's current @gid is always checked first by the caller, it
 * need not be listed) and returns how many the user has
 * (more than @max means the list was cut: call again with a larger array), or
 * -errno (an unknown uid is not an error: its groups are just @gid).
 * The default is nss.c's blocking nss_groups_lookup(); p2pd installs its
 * cache (nss_cache_groups(), never blocks); tests install their own.  NULL
 * restores the default.
 */
typedef int (*policy_groups_fn)(uid_t uid, gid_t gid, gid_t *groups, int max);
void policy_set_groups_fn(policy_groups_fn fn);
