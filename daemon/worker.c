// SPDX-License-Identifier: MIT
/*
 * worker.c - one thread for p2pd's blocking calls (worker.h).
 *
 * The queue and the list of finished jobs are guarded by one mutex; the
 * thread wakes the loop with an eventfd, as nss.c's lookup thread does.
 */
#include "worker.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "list.h"

struct worker_job {
	struct list_link link;
	int (*run)(void *arg);
	void (*done)(void *arg, int result);
	void *arg;
	int result;
};

struct worker {
	pthread_t thread;
	bool started;
	int efd;
	struct event *ev;
	unsigned pending; /* loop side: submitted, not yet done()'d */

	pthread_mutex_t lock; /* protects everything below */
	pthread_cond_t cond;
	bool stop;
	struct list_link queue;
	struct list_link finished;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t one = 1;
	sigset_t all;

	/* signals are the loop's (libevent, main thread), never a job's */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct worker_job *j;

		while (!w->stop && list_empty(&w->queue))
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		j = list_first(&w->queue, struct worker_job, link);
		list_remove(&j->link);
		pthread_mutex_unlock(&w->lock);
		j->result = j->run(j->arg);
		pthread_mutex_lock(&w->lock);
		list_append(&w->finished, &j->link);
		if (write(w->efd, &one, sizeof(one)) < 0) {
			/* the counter is saturated: the loop is woken anyway */
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Take the finished jobs (and, when @all, the never-run ones as -ECANCELED). */
static void worker_reap(struct worker *w, bool all)
{
	struct list_link done;

	list_init(&done);
	pthread_mutex_lock(&w->lock);
	list_for_each_safe (struct worker_job, j, &w->finished, link) {
		list_remove(&j->link);
		list_append(&done, &j->link);
	}
	if (all) {
		list_for_each_safe (struct worker_job, j, &w->queue, link) {
			j->result = -ECANCELED;
			list_remove(&j->link);
			list_append(&done, &j->link);
		}
	}
	pthread_mutex_unlock(&w->lock);
	list_for_each_safe (struct worker_job, j, &done, link) {
		list_remove(&j->link);
		w->pending--;
		j->done(j->arg, j->result);
		free(j);
	}
}

static void worker_on_wake(evutil_socket_t fd, short what, void *arg)
{
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: woken for jobs already reaped */
	}
	worker_reap(arg, false);
}

int worker_new(struct event_base *base, struct worker **ret)
{
	struct worker *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	list_init(&w->queue);
	list_init(&w->finished);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		r = -errno;
		goto fail;
	}
	w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, worker_on_wake, w);
	if (!w->ev || event_add(w->ev, NULL) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	r = -pthread_create(&w->thread, NULL, worker_main, w);
	if (r < 0)
		goto fail;
	w->started = true;
	*ret = w;
	return 0;
fail:
	worker_free(w);
	return r;
}

int worker_submit(struct worker *w, int (*run)(void *arg), void (*done)(void *arg, int result),
		  void *arg)
{
	struct worker_job *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	j->run = run;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&w->lock);
	list_append(&w->queue, &j->link);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	w->pending++;
	return 0;
}

unsigned worker_pending(const struct worker *w)
{
	return w->pending;
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	worker_reap(w, true);
	if (w->ev)
		event_free(w->ev);
	if (w->efd >= 0)
		close(w->efd);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
