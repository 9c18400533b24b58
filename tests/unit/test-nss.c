/* SPDX-License-Identifier: MIT */
/*
 * test-nss.c - nss.c: the blocking lookups (one retry loop), and the cache
 * that keeps them off the event loop: a slow directory never makes a policy
 * question wait, the answer arrives on the loop, a stale entry still serves
 * while it is refreshed.
 */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "nss.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_blocking_lookups(void **state)
{
	uid_t uid = 1234;
	gid_t gid = 1234, g[64];
	int n;

	(void)state;
	assert_int_equal(nss_user_uid("root", &uid), 0);
	assert_int_equal(uid, 0);
	assert_int_equal(nss_group_gid("root", &gid), 0);
	assert_int_equal(gid, 0);
	uid = 77;
	assert_int_equal(nss_user_uid("no-such-user-p2pbroker", &uid), -ENOENT);
	assert_int_equal(uid, 77); /* untouched */
	assert_int_equal(nss_group_gid("no-such-group-p2pbroker", &gid), -ENOENT);
	/* root is in group 0; an unknown uid has just the gid it came with */
	n = nss_groups_lookup(0, 0, g, 64);
	assert_true(n >= 1);
	bool has0 = false;
	for (int i = 0; i < n && i < 64; i++)
		has0 |= g[i] == 0;
	assert_true(has0);
	n = nss_groups_lookup(3999999, 4242, g, 64);
	assert_int_equal(n, 1);
	assert_int_equal(g[0], 4242);
}

/* A directory server that takes its time. */
static int slow_calls;
static int slow_lookup(uid_t uid, gid_t gid, gid_t *groups, int max)
{
	(void)uid;
	__atomic_add_fetch(&slow_calls, 1, __ATOMIC_SEQ_CST);
	usleep(300000);
	if (max < 3)
		return 3;
	groups[0] = gid;
	groups[1] = 5000;
	groups[2] = 6000;
	return 3;
}

struct ready {
	struct event_base *base;
	uid_t uid;
	int calls;
};

static void on_ready(void *userdata, uid_t uid)
{
	struct ready *r = userdata;

	r->uid = uid;
	r->calls++;
	event_base_loopbreak(r->base);
}

static void test_cache_off_the_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct ready rd = {.base = base, .uid = (uid_t)-1};
	struct timeval limit = {3, 0};
	struct nss_cache *nc;
	gid_t g[8];
	double t0;
	int n;

	(void)state;
	assert_non_null(base);
	slow_calls = 0;
	nss_cache_set_lookup(slow_lookup);
	assert_int_equal(nss_cache_new(base, on_ready, &rd, &nc), 0);

	/* not known yet: want() queues and answers at once */
	t0 = now_s();
	assert_false(nss_cache_want(nc, 1001, 100));
	/* a policy question meanwhile: only the peer's gid, and no waiting */
	n = nss_cache_groups(1001, 100, g, 8);
	assert_true(now_s() - t0 < 0.1);
	assert_int_equal(n, 1);
	assert_int_equal(g[0], 100);

	/* the answer arrives on the loop */
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	assert_int_equal(rd.calls, 1);
	assert_int_equal(rd.uid, 1001);
	assert_int_equal(slow_calls, 1); /* one lookup for both questions */
	assert_true(nss_cache_want(nc, 1001, 100));
	n = nss_cache_groups(1001, 100, g, 8);
	assert_int_equal(n, 3);
	assert_int_equal(g[1], 5000);
	assert_int_equal(g[2], 6000);

	/* stale after a reload: still answers at once, refreshed behind */
	nss_cache_expire(nc);
	t0 = now_s();
	assert_true(nss_cache_want(nc, 1001, 100));
	n = nss_cache_groups(1001, 100, g, 8);
	assert_true(now_s() - t0 < 0.1);
	assert_int_equal(n, 3);
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	assert_int_equal(rd.calls, 2);
	assert_int_equal(slow_calls, 2);

	nss_cache_free(nc);
	nss_cache_set_lookup(NULL);
	/* without a cache the answer is the gid alone, never a lookup */
	n = nss_cache_groups(1001, 100, g, 8);
	assert_int_equal(n, 1);
	event_base_free(base);
}

/* A member of many groups (more than the worker's first guess of 64). */
static int big_calls, big_max_seen;
static int big_lookup(uid_t uid, gid_t gid, gid_t *groups, int max)
{
	(void)uid;
	__atomic_add_fetch(&big_calls, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&big_max_seen, max, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 100 && i < max; i++)
		groups[i] = i ? 7000 + (gid_t)i : gid;
	return 100;
}

/* A directory server that is down. */
static int down_calls;
static int down_lookup(uid_t uid, gid_t gid, gid_t *groups, int max)
{
	(void)uid;
	(void)gid;
	(void)groups;
	(void)max;
	__atomic_add_fetch(&down_calls, 1, __ATOMIC_SEQ_CST);
	return -EIO;
}

static void wait_ready(struct event_base *base)
{
	struct timeval limit = {3, 0};

	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
}

/* More groups than the worker's first buffer: it asks again with room for
 * all; a caller's smaller buffer gets the head and the full count. */
static void test_cache_many_groups(void **state)
{
	struct event_base *base = event_base_new();
	struct ready rd = {.base = base, .uid = (uid_t)-1};
	struct nss_cache *nc;
	gid_t g[128];
	int n;

	(void)state;
	big_calls = 0;
	nss_cache_set_lookup(big_lookup);
	assert_int_equal(nss_cache_new(base, on_ready, &rd, &nc), 0);
	assert_false(nss_cache_want(nc, 2002, 200));
	wait_ready(base);
	assert_int_equal(rd.calls, 1);
	assert_int_equal(big_calls, 2);
	assert_int_equal(big_max_seen, 100);
	memset(g, 0, sizeof(g));
	n = nss_cache_groups(2002, 200, g, 128);
	assert_int_equal(n, 100);
	assert_int_equal(g[0], 200);
	assert_int_equal(g[99], 7099);
	assert_int_equal(g[100], 0);
	memset(g, 0, sizeof(g));
	n = nss_cache_groups(2002, 200, g, 10);
	assert_int_equal(n, 100); /* cut: the caller sees there are more */
	assert_int_equal(g[9], 7009);
	assert_int_equal(g[10], 0);
	nss_cache_free(nc);
	nss_cache_set_lookup(NULL);
	event_base_free(base);
}

/* A failed lookup: the loop still hears of it, the uid has its gid alone,
 * and the next question asks the directory again. */
static void test_cache_lookup_fails(void **state)
{
	struct event_base *base = event_base_new();
	struct ready rd = {.base = base, .uid = (uid_t)-1};
	struct nss_cache *nc;
	gid_t g[8];
	int n;

	(void)state;
	down_calls = 0;
	nss_cache_set_lookup(down_lookup);
	assert_int_equal(nss_cache_new(base, on_ready, &rd, &nc), 0);
	assert_false(nss_cache_want(nc, 3003, 300));
	wait_ready(base);
	assert_int_equal(rd.calls, 1);
	assert_int_equal(rd.uid, 3003);
	assert_int_equal(down_calls, 1);
	n = nss_cache_groups(3003, 300, g, 8);
	assert_int_equal(n, 1);
	assert_int_equal(g[0], 300);
	/* not cached as known: asked again */
	wait_ready(base);
	assert_int_equal(down_calls, 2);
	assert_false(nss_cache_want(nc, 3003, 300));
	wait_ready(base);
	assert_int_equal(down_calls, 3);
	/* no room at all: the count, nothing written */
	g[0] = 1;
	assert_int_equal(nss_cache_groups(3003, 300, g, 0), 1);
	assert_int_equal(g[0], 1);
	nss_cache_free(nc);
	nss_cache_set_lookup(NULL);
	event_base_free(base);
}

/* The blocking lookup with too small a buffer: the count needed, and
 * nothing written past it. */
static void test_blocking_groups_cut(void **state)
{
	gid_t g[2] = {4242, 4242};
	int n;

	(void)state;
	n = nss_groups_lookup(0, 0, g, 0);
	assert_true(n >= 1);
	assert_int_equal(g[0], 4242);
	/* an unknown uid with no room: just its gid would be there */
	assert_int_equal(nss_groups_lookup(4000000000u, 77, g, 0), 1);
	assert_int_equal(g[0], 4242);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_blocking_lookups),	cmocka_unit_test(test_cache_off_the_loop),
	    cmocka_unit_test(test_cache_many_groups),	cmocka_unit_test(test_cache_lookup_fails),
	    cmocka_unit_test(test_blocking_groups_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
