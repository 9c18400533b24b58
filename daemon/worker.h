/* SPDX-License-Identifier: MIT */
/*
 * worker.h - run a blocking call off p2pd's event loop.
 *
 * Some calls may block for seconds: the kernel module's REVOKE waits for
 * importers to unmap and for their fences (up to its revoke_timeout_ms).  The
 * loop must keep answering every other client meanwhile, so such a call is a
 * job: run(arg) in one worker thread, then done(arg, result) back on the
 * loop, in submission order.  run() must touch nothing the loop owns.
 */
#pragma once

struct event_base;
struct worker;

/* Start the thread; done() callbacks run on @base.  0 and *ret, or -errno. */
int worker_new(struct event_base *base, struct worker **ret);

/*
 * worker_submit() - queue run(@arg) for the thread; done(@arg, run's result)
 * follows on the loop.  Returns 0, or -errno (then neither callback runs).
 */
int worker_submit(struct worker *w, int (*run)(void *arg), void (*done)(void *arg, int result),
		  void *arg);

/* Jobs submitted and not yet done()'d. */
unsigned worker_pending(const struct worker *w);

/*
 * worker_free() - wait for the job in progress, stop the thread, then call
 * done(arg, result) for finished jobs and done(arg, -ECANCELED) for jobs that
 * never ran, on the caller's thread.  NULL is fine.
 */
void worker_free(struct worker *w);
