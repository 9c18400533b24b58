/* SPDX-License-Identifier: MIT */
/*
 * nss.c - user/group lookups, cached and refreshed off the loop (see nss.h):
 * the lookups run on a worker.c thread, the cache lives on the loop.
 */
#include "nss.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "idmap.h"
#include "worker.h"

#define NSS_BUF_FIRST 4096
#define NSS_BUF_MAX (1 << 20) /* get*_r buffer cap */
#define NSS_GROUPS_FIRST 64
#define NSS_GROUPS_MAX 65536 /* NGROUPS_MAX on Linux */

/* ---- the blocking lookups: one retry loop for every get*_r ---- */

enum nss_kind { NSS_PW_NAM, NSS_PW_UID, NSS_GR_NAM };

struct nss_result {
	struct passwd pw;
	struct group gr;
	char *buf;
};

/* Run one get*_r, growing the buffer on ERANGE.  Returns 1 found (free
 * res->buf after use), 0 not found, or -errno. */
static int nss_get(enum nss_kind kind, const char *name, uid_t uid, struct nss_result *res)
{
	size_t len = NSS_BUF_FIRST;
	void *found = NULL;
	int r;

	res->buf = NULL;
	for (;;) {
		char *nb = realloc(res->buf, len);

		if (!nb) {
			free(res->buf);
			res->buf = NULL;
			return -ENOMEM;
		}
		res->buf = nb;
		switch (kind) {
		case NSS_PW_NAM:
			r = getpwnam_r(name, &res->pw, res->buf, len, (struct passwd **)&found);
			break;
		case NSS_PW_UID:
			r = getpwuid_r(uid, &res->pw, res->buf, len, (struct passwd **)&found);
			break;
		default:
			r = getgrnam_r(name, &res->gr, res->buf, len, (struct group **)&found);
			break;
		}
		if (r != ERANGE || len >= NSS_BUF_MAX)
			break;
		len *= 2;
	}
	if (r == 0 && found)
		return 1;
	free(res->buf);
	res->buf = NULL;
	return r ? -r : 0;
}

int nss_user_uid(const char *name, uid_t *ret_uid)
{
	struct nss_result res;
	int r = nss_get(NSS_PW_NAM, name, 0, &res);

	if (r <= 0)
		return r ? r : -ENOENT;
	*ret_uid = res.pw.pw_uid;
	free(res.buf);
	return 0;
}

int nss_group_gid(const char *name, gid_t *ret_gid)
{
	struct nss_result res;
	int r = nss_get(NSS_GR_NAM, name, 0, &res);

	if (r <= 0)
		return r ? r : -ENOENT;
	*ret_gid = res.gr.gr_gid;
	free(res.buf);
	return 0;
}

int nss_groups_lookup(uid_t uid, gid_t gid, gid_t *groups, int max)
{
	struct nss_result res;
	int n = max, r = nss_get(NSS_PW_UID, NULL, uid, &res);

	if (r <= 0) { /* an unknown uid (or a failed lookup) has just its gid */
		if (max > 0)
			groups[0] = gid;
		return 1;
	}
	/* the passwd primary group and the supplementary ones; the peer's
	 * current gid is checked by the caller */
	if (getgrouplist(res.pw.pw_name, res.pw.pw_gid, groups, &n) < 0)
		n = n > max ? n : max + 1; /* n holds the number needed */
	free(res.buf);
	return n;
}

/* ---- the cache ---- */

struct nss_entry {
	uid_t uid;
	gid_t gid;	/* the peer's gid when it was asked for */
	bool valid;	/* groups/n hold an answer */
	bool queued;	/* in the worker's queue or being looked up */
	time_t fetched; /* CLOCK_MONOTONIC seconds of the answer */
	int n;		/* how many groups (may exceed what is stored) */
	int stored;
	gid_t *groups;
};

struct nss_cache {
	void (*on_ready)(void *userdata, uid_t uid);
	void *userdata;
	struct worker *worker; /* runs the lookups; their answers come back on the loop */
	bool freeing;
	struct idmap entries; /* uid -> struct nss_entry; touched on the loop only */
};

/* One lookup, from nss_queue() to nss_lookup_done(). */
struct nss_req {
	struct nss_cache *nc;
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* the answer (malloc()ed), n groups of which stored fit */
	int n, stored;
};

static struct nss_cache *nss_active; /* the one nss_cache_groups() reads */
static int (*nss_lookup_fn)(uid_t uid, gid_t gid, gid_t *groups, int max) = nss_groups_lookup;

void nss_cache_set_lookup(int (*fn)(uid_t uid, gid_t gid, gid_t *groups, int max))
{
	nss_lookup_fn = fn ? fn : nss_groups_lookup;
}

static time_t nss_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* On the worker thread: the slow part; touches only @arg. */
static int nss_lookup_run(void *arg)
{
	struct nss_req *q = arg;
	int n = 0, max = NSS_GROUPS_FIRST;

	for (int tries = 0; tries < 3; tries++) {
		gid_t *ng = realloc(q->groups, (size_t)max * sizeof(*ng));

		if (!ng)
			return -ENOMEM;
		q->groups = ng;
		n = nss_lookup_fn(q->uid, q->gid, q->groups, max);
		if (n <= max || max >= NSS_GROUPS_MAX)
			break;
		max = n < NSS_GROUPS_MAX ? n : NSS_GROUPS_MAX;
	}
	if (n < 0)
		return n;
	q->n = n;
	q->stored = n < max ? n : max;
	return 0;
}

/* On the loop: store the answer, tell the owner the uid is known. */
static void nss_lookup_done(void *arg, int result)
{
	struct nss_req *q = arg;
	struct nss_cache *nc = q->nc;
	struct nss_entry *e = idmap_find(&nc->entries, q->uid);

	if (e) {
		e->queued = false;
		if (result >= 0) {
			free(e->groups);
			e->groups = q->groups;
			q->groups = NULL;
			e->n = q->n;
			e->stored = q->stored;
			e->valid = true;
			e->fetched = nss_now();
		}
	}
	free(q->groups);
	if (!nc->freeing && nc->on_ready)
		nc->on_ready(nc->userdata, q->uid);
	free(q);
}

/* Queue a lookup of @e unless one is on its way; false on ENOMEM. */
static bool nss_queue(struct nss_cache *nc, struct nss_entry *e)
{
	struct nss_req *q;

	if (e->queued)
		return true;
	q = calloc(1, sizeof(*q));
	if (!q)
		return false;
	*q = (struct nss_req){.nc = nc, .uid = e->uid, .gid = e->gid};
	if (worker_submit(nc->worker, nss_lookup_run, nss_lookup_done, q) < 0) {
		free(q);
		return false;
	}
	e->queued = true;
	return true;
}

/* The entry of @uid, created when missing. */
static struct nss_entry *nss_entry(struct nss_cache *nc, uid_t uid, gid_t gid)
{
	struct nss_entry *e = idmap_find(&nc->entries, uid);

	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->uid = uid;
	e->gid = gid;
	if (idmap_insert(&nc->entries, uid, e) < 0) {
		free(e);
		return NULL;
	}
	return e;
}

int nss_cache_new(struct event_base *base, void (*on_ready)(void *userdata, uid_t uid),
		  void *userdata, struct nss_cache **ret)
{
	struct nss_cache *nc = calloc(1, sizeof(*nc));
	int r;

	if (!nc)
		return -ENOMEM;
	nc->on_ready = on_ready;
	nc->userdata = userdata;
	idmap_init(&nc->entries);
	r = worker_new(base, &nc->worker);
	if (r < 0) {
		nss_cache_free(nc);
		return r;
	}
	nss_active = nc;
	*ret = nc;
	return 0;
}

void nss_cache_free(struct nss_cache *nc)
{
	size_t pos = 0;
	struct nss_entry *e;

	if (!nc)
		return;
	if (nss_active == nc)
		nss_active = NULL;
	nc->freeing = true;
	worker_free(nc->worker); /* waits for a lookup in progress */
	while ((e = idmap_next(&nc->entries, &pos, NULL))) {
		free(e->groups);
		free(e);
	}
	idmap_fini(&nc->entries);
	free(nc);
}

bool nss_cache_want(struct nss_cache *nc, uid_t uid, gid_t gid)
{
	struct nss_entry *e;
	bool known;

	e = nss_entry(nc, uid, gid);
	if (!e) /* out of memory: go on without groups rather than wait */
		return true;
	known = e->valid;
	if (!known || nss_now() - e->fetched >= NSS_TTL_SEC) {
		e->gid = gid;
		if (!nss_queue(nc, e))
			known = true; /* cannot queue: do not wait for nothing */
	}
	return known;
}

void nss_cache_expire(struct nss_cache *nc)
{
	size_t pos = 0;
	struct nss_entry *e;

	while ((e = idmap_next(&nc->entries, &pos, NULL)))
		e->fetched = nss_now() - NSS_TTL_SEC;
}

int nss_cache_groups(uid_t uid, gid_t gid, gid_t *groups, int max)
{
	struct nss_cache *nc = nss_active;
	struct nss_entry *e;
	int n = 1;

	if (!nc) {
		if (max > 0)
			groups[0] = gid;
		return 1;
	}
	e = nss_entry(nc, uid, gid);
	if (e && e->valid) {
		n = e->n;
		memcpy(groups, e->groups,
		       (size_t)(e->stored < max ? e->stored : max) * sizeof(*groups));
		if (nss_now() - e->fetched >= NSS_TTL_SEC)
			(void)nss_queue(nc, e);
	} else {
		if (e)
			(void)nss_queue(nc, e);
		if (max > 0)
			groups[0] = gid;
	}
	return n;
}
