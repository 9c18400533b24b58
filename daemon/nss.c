/* SPDX-License-Identifier: MIT */
/*
 * nss.c - user/group lookups, cached and refreshed off the loop (see nss.h).
 */
#include "nss.h"

#include <errno.h>
#include <event2/event.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "idmap.h"
#include "list.h"

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

struct nss_req {
	struct list_link link;
	uid_t uid;
};

struct nss_cache {
	struct event_base *base;
	void (*on_ready)(void *userdata, uid_t uid);
	void *userdata;
	pthread_t worker;
	bool started;
	int efd; /* eventfd: the worker wakes the loop */
	struct event *ev;

	pthread_mutex_t lock; /* protects everything below */
	pthread_cond_t cond;  /* the worker waits for requests or stop */
	bool stop;
	struct idmap entries;	/* uid -> struct nss_entry */
	struct list_link queue; /* struct nss_req, for the worker */
	struct list_link done;	/* struct nss_req, answered, for the loop */
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

/* Queue a lookup of @e (lock held); false on ENOMEM. */
static bool nss_queue_locked(struct nss_cache *nc, struct nss_entry *e)
{
	struct nss_req *q;

	if (e->queued)
		return true;
	q = calloc(1, sizeof(*q));
	if (!q)
		return false;
	q->uid = e->uid;
	list_append(&nc->queue, &q->link);
	e->queued = true;
	pthread_cond_signal(&nc->cond);
	return true;
}

/* The entry of @uid, created (and queued) when missing; lock held. */
static struct nss_entry *nss_entry_locked(struct nss_cache *nc, uid_t uid, gid_t gid)
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

static void *nss_worker(void *arg)
{
	struct nss_cache *nc = arg;

	pthread_mutex_lock(&nc->lock);
	for (;;) {
		struct nss_req *q;
		struct nss_entry *e;
		gid_t *g = NULL, gid;
		int n = 0, max = NSS_GROUPS_FIRST;
		uint64_t one = 1;

		while (!nc->stop && list_empty(&nc->queue))
			pthread_cond_wait(&nc->cond, &nc->lock);
		if (nc->stop)
			break;
		q = list_first(&nc->queue, struct nss_req, link);
		list_remove(&q->link);
		e = idmap_find(&nc->entries, q->uid);
		gid = e ? e->gid : 0;
		pthread_mutex_unlock(&nc->lock);

		/* the slow part, without the lock */
		for (int tries = 0; tries < 3; tries++) {
			gid_t *ng = realloc(g, (size_t)max * sizeof(*g));

			if (!ng) {
				n = -ENOMEM;
				break;
			}
			g = ng;
			n = nss_lookup_fn(q->uid, gid, g, max);
			if (n <= max || max >= NSS_GROUPS_MAX)
				break;
			max = n < NSS_GROUPS_MAX ? n : NSS_GROUPS_MAX;
		}

		pthread_mutex_lock(&nc->lock);
		e = idmap_find(&nc->entries, q->uid);
		if (e) {
			e->queued = false;
			if (n >= 0) {
				free(e->groups);
				e->groups = g;
				g = NULL;
				e->n = n;
				e->stored = n < max ? n : max;
				e->valid = true;
				e->fetched = nss_now();
			}
		}
		free(g);
		list_append(&nc->done, &q->link);
		if (write(nc->efd, &one, sizeof(one)) < 0) {
			/* the counter is saturated: the loop is woken anyway */
		}
	}
	pthread_mutex_unlock(&nc->lock);
	return NULL;
}

/* On the loop: tell the owner which uids are known now. */
static void nss_on_done(evutil_socket_t fd, short what, void *arg)
{
	struct nss_cache *nc = arg;
	struct list_link done;
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing new */
	}
	list_init(&done);
	pthread_mutex_lock(&nc->lock);
	list_for_each_safe (struct nss_req, q, &nc->done, link) {
		list_remove(&q->link);
		list_append(&done, &q->link);
	}
	pthread_mutex_unlock(&nc->lock);
	list_for_each_safe (struct nss_req, q, &done, link) {
		list_remove(&q->link);
		if (nc->on_ready)
			nc->on_ready(nc->userdata, q->uid);
		free(q);
	}
}

int nss_cache_new(struct event_base *base, void (*on_ready)(void *userdata, uid_t uid),
		  void *userdata, struct nss_cache **ret)
{
	struct nss_cache *nc = calloc(1, sizeof(*nc));
	int r;

	if (!nc)
		return -ENOMEM;
	nc->base = base;
	nc->on_ready = on_ready;
	nc->userdata = userdata;
	idmap_init(&nc->entries);
	list_init(&nc->queue);
	list_init(&nc->done);
	pthread_mutex_init(&nc->lock, NULL);
	pthread_cond_init(&nc->cond, NULL);
	nc->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (nc->efd < 0) {
		r = -errno;
		goto fail;
	}
	nc->ev = event_new(base, nc->efd, EV_READ | EV_PERSIST, nss_on_done, nc);
	if (!nc->ev || event_add(nc->ev, NULL) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	r = -pthread_create(&nc->worker, NULL, nss_worker, nc);
	if (r < 0)
		goto fail;
	nc->started = true;
	nss_active = nc;
	*ret = nc;
	return 0;
fail:
	nss_cache_free(nc);
	return r;
}

void nss_cache_free(struct nss_cache *nc)
{
	size_t pos = 0;
	struct nss_entry *e;

	if (!nc)
		return;
	if (nss_active == nc)
		nss_active = NULL;
	if (nc->started) {
		pthread_mutex_lock(&nc->lock);
		nc->stop = true;
		pthread_cond_signal(&nc->cond);
		pthread_mutex_unlock(&nc->lock);
		pthread_join(nc->worker, NULL);
	}
	if (nc->ev)
		event_free(nc->ev);
	if (nc->efd >= 0)
		close(nc->efd);
	list_for_each_safe (struct nss_req, q, &nc->queue, link) {
		free(q);
	}
	list_for_each_safe (struct nss_req, q, &nc->done, link) {
		free(q);
	}
	while ((e = idmap_next(&nc->entries, &pos, NULL))) {
		free(e->groups);
		free(e);
	}
	idmap_fini(&nc->entries);
	pthread_cond_destroy(&nc->cond);
	pthread_mutex_destroy(&nc->lock);
	free(nc);
}

bool nss_cache_want(struct nss_cache *nc, uid_t uid, gid_t gid)
{
	struct nss_entry *e;
	bool known;

	pthread_mutex_lock(&nc->lock);
	e = nss_entry_locked(nc, uid, gid);
	if (!e) { /* out of memory: go on without groups rather than wait */
		pthread_mutex_unlock(&nc->lock);
		return true;
	}
	known = e->valid;
	if (!known || nss_now() - e->fetched >= NSS_TTL_SEC) {
		e->gid = gid;
		if (!nss_queue_locked(nc, e))
			known = true; /* cannot queue: do not wait for nothing */
	}
	pthread_mutex_unlock(&nc->lock);
	return known;
}

void nss_cache_expire(struct nss_cache *nc)
{
	size_t pos = 0;
	struct nss_entry *e;

	pthread_mutex_lock(&nc->lock);
	while ((e = idmap_next(&nc->entries, &pos, NULL)))
		e->fetched = nss_now() - NSS_TTL_SEC;
	pthread_mutex_unlock(&nc->lock);
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
	pthread_mutex_lock(&nc->lock);
	e = nss_entry_locked(nc, uid, gid);
	if (e && e->valid) {
		n = e->n;
		memcpy(groups, e->groups,
		       (size_t)(e->stored < max ? e->stored : max) * sizeof(*groups));
		if (nss_now() - e->fetched >= NSS_TTL_SEC)
			(void)nss_queue_locked(nc, e);
	} else {
		if (e)
			(void)nss_queue_locked(nc, e);
		if (max > 0)
			groups[0] = gid;
	}
	pthread_mutex_unlock(&nc->lock);
	return n;
}
