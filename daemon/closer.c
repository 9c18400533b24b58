/* SPDX-License-Identifier: MIT */
/*
 * closer.c - a thread that closes fds for the event loop (see closer.h).
 */
#include "closer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

struct closer {
	pthread_t thread;
	pthread_mutex_t lock; /* protects everything below */
	pthread_cond_t cond;  /* the thread waits for fds or stop */
	bool stop;
	int *fds; /* ring of @size */
	size_t size, head, count;
};

static struct closer *closer_active;
static int (*closer_close_fn)(int fd) = close;

void closer_set_close_fn(int (*fn)(int fd))
{
	closer_close_fn = fn ? fn : close;
}

static void *closer_thread(void *arg)
{
	struct closer *cl = arg;
	sigset_t all;

	/* signals are the loop's (main thread) */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);

	pthread_mutex_lock(&cl->lock);
	for (;;) {
		int fd;

		while (!cl->stop && !cl->count)
			pthread_cond_wait(&cl->cond, &cl->lock);
		if (!cl->count) /* stopping, nothing left */
			break;
		fd = cl->fds[cl->head];
		cl->head = (cl->head + 1) % cl->size;
		cl->count--;
		pthread_mutex_unlock(&cl->lock);
		closer_close_fn(fd); /* may take forever: only this thread waits */
		pthread_mutex_lock(&cl->lock);
	}
	pthread_mutex_unlock(&cl->lock);
	return NULL;
}

int closer_new(struct closer **ret)
{
	struct closer *cl = calloc(1, sizeof(*cl));
	int r;

	if (!cl)
		return -ENOMEM;
	pthread_mutex_init(&cl->lock, NULL);
	pthread_cond_init(&cl->cond, NULL);
	r = pthread_create(&cl->thread, NULL, closer_thread, cl);
	if (r) {
		pthread_cond_destroy(&cl->cond);
		pthread_mutex_destroy(&cl->lock);
		free(cl->fds);
		free(cl);
		return -r;
	}
	closer_active = cl;
	*ret = cl;
	return 0;
}

void closer_free(struct closer *cl)
{
	if (!cl)
		return;
	if (closer_active == cl)
		closer_active = NULL;
	pthread_mutex_lock(&cl->lock);
	cl->stop = true;
	pthread_cond_signal(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
	pthread_join(cl->thread, NULL);
	/* the thread closed everything queued before it stopped */
	pthread_cond_destroy(&cl->cond);
	pthread_mutex_destroy(&cl->lock);
	free(cl->fds);
	free(cl);
}

/* Room for one more (lock held): double the ring.  False on ENOMEM. */
static bool closer_grow_locked(struct closer *cl)
{
	size_t size = cl->size ? cl->size * 2 : 64;
	int *fds;

	if (cl->count < cl->size)
		return true;
	fds = malloc(size * sizeof(*fds));
	if (!fds)
		return false;
	for (size_t i = 0; i < cl->count; i++)
		fds[i] = cl->fds[(cl->head + i) % cl->size];
	free(cl->fds);
	cl->fds = fds;
	cl->size = size;
	cl->head = 0;
	return true;
}

void closer_take_fd(struct closer *cl, int fd)
{
	if (fd < 0)
		return;
	if (cl) {
		pthread_mutex_lock(&cl->lock);
		if (closer_grow_locked(cl)) {
			cl->fds[(cl->head + cl->count) % cl->size] = fd;
			cl->count++;
			pthread_cond_signal(&cl->cond);
			pthread_mutex_unlock(&cl->lock);
			return;
		}
		pthread_mutex_unlock(&cl->lock);
	}
	close(fd);
}

void closer_take_fd_default(int fd)
{
	closer_take_fd(closer_active, fd);
}
