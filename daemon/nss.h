/* SPDX-License-Identifier: MIT */
/*
 * nss.h - user and group lookups (NSS: files, LDAP, SSSD ...) for p2pd.
 *
 * A lookup may block for as long as a directory server likes, so the event
 * loop never makes one on a request path: a connection's uid is looked up by
 * a worker thread when it connects (its requests are read once the answer is
 * there), policy decisions read the cache, and stale entries are refreshed
 * in the background while the old answer still serves.
 *
 * The blocking lookups are exported too, for places where blocking is fine
 * (loading the configuration): one retry loop for the get*_r buffer size.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct event_base;

#define NSS_TTL_SEC 30 /* a cached group list older than this is refreshed */

/* Blocking: the uid of user @name.  0, -ENOENT (no such user), -errno. */
int nss_user_uid(const char *name, uid_t *ret_uid);
/* Blocking: the gid of group @name.  0, -ENOENT (no such group), -errno. */
int nss_group_gid(const char *name, gid_t *ret_gid);
/*
 * Blocking: the groups of @uid (its passwd primary group and supplementary
 * groups; an unknown uid has just @gid) into @groups (up to @max).  Returns
 * how many there are (more than @max: the list was cut), or -errno.  The
 * signature of policy_groups_fn.
 */
int nss_groups_lookup(uid_t uid, gid_t gid, gid_t *groups, int max);

/* The cache of group lists, with its worker thread. */
struct nss_cache;

/*
 * nss_cache_new() - start the worker; @on_ready(@userdata, uid) runs on
 * @base's loop whenever a uid's groups became known.  There is one cache per
 * process (nss_cache_groups() reads it).  Returns 0 and *ret, or -errno.
 */
int nss_cache_new(struct event_base *base, void (*on_ready)(void *userdata, uid_t uid),
		  void *userdata, struct nss_cache **ret);
/* Stop the worker (waits for a lookup in progress) and free.  NULL is fine. */
void nss_cache_free(struct nss_cache *nc);

/*
 * nss_cache_want() - will @uid's groups be needed soon (a client connected)?
 * Returns true when they are known (a stale entry is refreshed in the
 * background), false when a lookup was queued: on_ready(uid) follows.
 * Never blocks.
 */
bool nss_cache_want(struct nss_cache *nc, uid_t uid, gid_t gid);

/* Mark every entry stale (config reload: groups may have changed). */
void nss_cache_expire(struct nss_cache *nc);

/*
 * nss_cache_groups() - policy_groups_fn on the cache: never blocks.  A uid not
 * looked up yet has just @gid (and a lookup is queued).  Returns as
 * nss_groups_lookup().
 */
int nss_cache_groups(uid_t uid, gid_t gid, gid_t *groups, int max);

/* Tests: the worker's lookup (set before nss_cache_new; NULL: the default). */
void nss_cache_set_lookup(int (*fn)(uid_t uid, gid_t gid, gid_t *groups, int max));
