/* SPDX-License-Identifier: MIT */
/*
 * closer.h - close file descriptors off the event loop.
 *
 * close() can block for as long as someone else likes: the last close of a
 * file on a FUSE mount sends FLUSH and waits for the FUSE server, in an
 * uninterruptible sleep.  Fds a client attaches to a request (which p2pd
 * never expects) are therefore handed to a closer thread and the loop goes
 * on serving everyone.
 */
#pragma once

struct closer;

/* Start the thread.  Returns 0 and *ret, or -errno.  One per process
 * (closer_take_fd_default() uses it). */
int closer_new(struct closer **ret);
/* Close what is queued, stop the thread (waits for a close in progress) and
 * free; NULL is fine. */
void closer_free(struct closer *cl);

/* Queue @fd (taken) for closing; never blocks.  The queue grows as needed
 * (what waits in it are open fds: RLIMIT_NOFILE bounds it); only without a
 * thread, or out of memory, is the fd closed here. */
void closer_take_fd(struct closer *cl, int fd);

/* closer_take_fd() on the process's closer, or close() when there is none:
 * the signature conn_set_fd_closer() wants. */
void closer_take_fd_default(int fd);

/* Tests: the function the thread closes with (NULL: close()). */
void closer_set_close_fn(int (*fn)(int fd));
