/* SPDX-License-Identifier: MIT */
/*
 * test-worker.c - daemon/worker.c: a job that blocks (a REVOKE waiting for
 * importers) runs off the loop; its done() comes back on the loop with run()'s
 * result, jobs finish in submission order, and worker_free() answers every
 * job exactly once (-ECANCELED for those that never ran).
 */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "worker.h"

struct job {
	int sleep_ms;
	int ret;
	int done_calls;
	int result;
	int order;
	struct event_base *base;
};

static int done_seq;
static int jobs_left;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int job_run(void *arg)
{
	struct job *j = arg;

	usleep((useconds_t)j->sleep_ms * 1000);
	return j->ret;
}

static void job_done(void *arg, int result)
{
	struct job *j = arg;

	j->done_calls++;
	j->result = result;
	j->order = done_seq++;
	if (--jobs_left == 0 && j->base)
		event_base_loopbreak(j->base);
}

static void test_blocking_job_off_the_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct worker *w;
	struct job j[3] = {{.sleep_ms = 300, .ret = -ETIMEDOUT},
			   {.sleep_ms = 10, .ret = 7},
			   {.sleep_ms = 0, .ret = 0}};
	double t0;

	(void)state;
	assert_non_null(base);
	assert_int_equal(worker_new(base, &w), 0);
	done_seq = 0;
	jobs_left = 3;
	t0 = now_s();
	for (int i = 0; i < 3; i++) {
		j[i].base = base;
		assert_int_equal(worker_submit(w, job_run, job_done, &j[i]), 0);
	}
	/* submitting never waited for the 300 ms job */
	assert_true(now_s() - t0 < 0.2);
	assert_int_equal(worker_pending(w), 3);
	assert_int_equal(j[0].done_calls, 0);
	event_base_dispatch(base);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(j[i].done_calls, 1);
		assert_int_equal(j[i].result, j[i].ret);
		assert_int_equal(j[i].order, i);
	}
	assert_int_equal(worker_pending(w), 0);
	worker_free(w);
	for (int i = 0; i < 3; i++)
		assert_int_equal(j[i].done_calls, 1);
	event_base_free(base);
}

static void test_free_cancels_the_queue(void **state)
{
	struct event_base *base = event_base_new();
	struct worker *w;
	struct job j[4] = {{.sleep_ms = 200, .ret = 5}, {.ret = 1}, {.ret = 2}, {.ret = 3}};

	(void)state;
	assert_non_null(base);
	assert_int_equal(worker_new(base, &w), 0);
	done_seq = 0;
	jobs_left = 4;
	for (int i = 0; i < 4; i++)
		assert_int_equal(worker_submit(w, job_run, job_done, &j[i]), 0);
	usleep(50000); /* the thread has taken job 0 */
	worker_free(w);
	assert_int_equal(j[0].done_calls, 1);
	assert_int_equal(j[0].result, 5);
	for (int i = 1; i < 4; i++) {
		assert_int_equal(j[i].done_calls, 1);
		assert_int_equal(j[i].result, -ECANCELED);
	}
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_blocking_job_off_the_loop),
	    cmocka_unit_test(test_free_cancels_the_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
