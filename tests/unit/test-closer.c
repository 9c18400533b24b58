/* SPDX-License-Identifier: MIT */
/*
 * test-closer.c - daemon/closer.c: an fd whose close() blocks (a file on a
 * stalled FUSE mount) never holds up the caller (the event loop); every
 * queued fd is really closed, in order, by the time the closer stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "closer.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int closed[256], nclosed;

/* A close() that takes 200 ms, like a FLUSH to a slow FUSE server. */
static int slow_close(int fd)
{
	usleep(200000);
	closed[__atomic_fetch_add(&nclosed, 1, __ATOMIC_SEQ_CST)] = fd;
	return close(fd);
}

static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void test_slow_close_off_the_caller(void **state)
{
	struct closer *cl;
	int fds[6];
	double t0;

	(void)state;
	nclosed = 0;
	closer_set_close_fn(slow_close);
	assert_int_equal(closer_new(&cl), 0);
	for (int i = 0; i < 6; i++) {
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		assert_true(fds[i] >= 0);
	}
	t0 = now_s();
	for (int i = 0; i < 6; i++)
		closer_take_fd_default(fds[i]);
	/* 6 x 200 ms of closing, and the caller waited for none of it */
	assert_true(now_s() - t0 < 0.1);
	closer_free(cl); /* closes what is queued */
	assert_int_equal(nclosed, 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(closed[i], fds[i]); /* in order */
		assert_false(is_open(fds[i]));
	}
	closer_set_close_fn(NULL);
}

static void test_many_and_without_thread(void **state)
{
	struct closer *cl;
	int fd;

	(void)state;
	assert_int_equal(closer_new(&cl), 0);
	/* more than the first ring holds: it grows */
	int fds[200];
	for (int i = 0; i < 200; i++) {
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		assert_true(fds[i] >= 0);
		closer_take_fd(cl, fds[i]);
	}
	closer_take_fd(cl, -1); /* ignored */
	closer_free(cl);
	for (int i = 0; i < 200; i++)
		assert_false(is_open(fds[i]));
	/* no closer: closed right here */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	closer_take_fd_default(fd);
	assert_false(is_open(fd));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_slow_close_off_the_caller),
	    cmocka_unit_test(test_many_and_without_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
