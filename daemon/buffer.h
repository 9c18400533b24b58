/* SPDX-License-Identifier: MIT */
/*
 * buffer.h - a buffer's whole life in p2pd: creation after a backend
 * allocated it, the id table, usage accounting (per connection and per uid:
 * quotas are per user), release, revoke, and orphans (buffers a backend still
 * holds from before a restart, adopted with their owner's uid).
 *
 * A buffer belongs to one owner (a connection's struct buffer_owner), is
 * released but still held, or is an orphan; it is in the table's id map
 * either way.  Freeing it tells the backend (alloc_set_release) and drops its
 * accounting.
 *
 * A quota counts a buffer until its memory is really gone, not until the
 * owner says "release" or disconnects (issue 16 item 6): a released buffer
 * leaves its connection's usage at once but stays in its uid's while any fd,
 * mapping or importer holds the memory.  How p2pd knows:
 *   dma-buf (p2p, host): p2pd keeps its own dup of the fd; the dma-buf's
 *     file count (/proc/self/fdinfo/N "count:") falls to what p2pd alone
 *     holds once every other fd, mapping and importer (dma_buf_get) is gone.
 *     Polled: buffer_refresh_held().
 *   memfd: an inotify watch on the inode (no dup: it would pin the file);
 *     IN_IGNORED comes when the last file of the inode (fds, mappings, a
 *     reopen through /proc/PID/fd) is gone and the memory with it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "alloc.h"
#include "idmap.h"
#include "list.h"
#include "policy.h"
#include "proto.h"
#include "topo.h"

struct json_object;

/* What a connection holds; embedded in struct p2p_client. */
struct buffer_owner {
	uint64_t client_id;
	uid_t uid;
	pid_t pid;
	struct list_link buffers;  /* struct p2p_buffer.link */
	struct policy_usage usage; /* this connection's buffers and bytes */
};

struct p2p_buffer {
	uint64_t id;
	struct buffer_owner *owner; /* NULL: an orphan */
	uid_t uid;		    /* whom it counts against (owner's, or the backend's record) */
	bool seen;		    /* orphan still listed by its backend */
	bool revoking;		    /* an admin REVOKE of it runs on the worker */
	enum alloc_type type;
	const struct alloc_backend *backend;
	uint64_t handle;
	uint64_t size;
	char provider[TOPO_BDF_LEN]; /* "" for host memory */
	char name[P2P_PROTO_MAX_NAME + 1];
	struct json_object *peers; /* the per-peer verdict array of the alloc reply */
	struct list_link link;	   /* owner->buffers, the table's held or orphans */
	pid_t pid;		   /* the owner's, kept after a release */
	uint64_t client_id;	   /* the owner's, kept after a release */
	bool released;		   /* owner released it (or left); on the held list */
	bool pinned;		   /* an orphan whose fds are all gone, pinned by I/O */
	int dup_fd;		   /* dma-buf: p2pd's own reference, -1 none */
	long count_alone;	   /* its fdinfo "count:" when only p2pd holds it */
	int wd;			   /* memfd: inotify watch, -1 none */
	bool watch_pending;	   /* memfd: watched once its reply is sent (buffer_watch_late) */
	enum alloc_direct_io direct_io;
};

/* Every buffer of the daemon. */
struct buffer_table {
	struct alloc_set *alloc; /* borrowed: release/revoke/list go here */
	struct idmap ids;	 /* id -> struct p2p_buffer */
	struct idmap uids;	 /* uid -> struct policy_usage (heap), while it holds any */
	struct list_link orphans;
	struct list_link held;	    /* released, memory still held by someone */
	int inotify_fd;		    /* memfd watches (IN_IGNORED), -1 none */
	struct idmap wds;	    /* watch descriptor -> struct p2p_buffer */
	void (*on_held)(void *arg); /* a dma-buf entered held: poll it (timer) */
	void *on_held_arg;
	uint64_t next_id;
	uint64_t n_buffers, n_bytes;
};

/* What a backend handed out, to become a buffer. */
struct buffer_spec {
	enum alloc_type type;
	const struct alloc_backend *backend;
	uint64_t handle;
	uint64_t size;
	const char *provider; /* BDF or NULL */
	const char *name;     /* NULL: "" */
	enum alloc_direct_io direct_io;
	bool watch; /* @fd is the buffer's fd (borrowed): follow its memory */
	/* memfd: follow it later, through the fd of its reply, once that is
	 * sent (buffer_watch_late()); until then it counts as held */
	bool watch_late;
	int fd;
};

void buffer_table_init(struct buffer_table *bt, struct alloc_set *alloc);
/* Free the orphans and held buffers (owners must have been dropped before). */
void buffer_table_fini(struct buffer_table *bt);

void buffer_owner_init(struct buffer_owner *o, uint64_t client_id, uid_t uid, pid_t pid);
/* Release every buffer of @o (the connection went away). */
void buffer_owner_drop(struct buffer_table *bt, struct buffer_owner *o);

/* The owner is done with @b: it leaves the owner's usage now, and is freed
 * once its memory is gone (at once when nothing else holds it, or when p2pd
 * cannot tell). */
void buffer_release(struct buffer_table *bt, struct p2p_buffer *b);

/* Free the held buffers whose memory is gone.  Returns how many dma-bufs
 * are still held (to poll again), or 0. */
int buffer_refresh_held(struct buffer_table *bt);

/* The inotify fd of the memfd watches (-1: none could be made) for the loop
 * to watch, and its handler: read the events, free what is gone. */
int buffer_watch_fd(const struct buffer_table *bt);
void buffer_watch_read(struct buffer_table *bt);

/* The watch of a buffer made with spec.watch_late: @fd (borrowed, still open)
 * is its fd, sent to the client or dropped with the reply.  Nothing when
 * buffer @id is gone (revoked) or watched already. */
void buffer_watch_late(struct buffer_table *bt, uint64_t id, int fd);

/*
 * buffer_new_take_peers() - account a new buffer of @owner: id, table, usage.
 * @peers: the verdict array for the reply (taken, even on failure; NULL: an
 * empty one).  Returns 0 and *ret, or -ENOMEM, in which case the backend's
 * handle has been released (the caller still closes its fd).
 */
int buffer_new_take_peers(struct buffer_table *bt, struct buffer_owner *owner,
			  const struct buffer_spec *spec, struct json_object *peers,
			  struct p2p_buffer **ret);

/* The buffer with @id, or NULL. */
struct p2p_buffer *buffer_find(const struct buffer_table *bt, uint64_t id);

/* Free now: unlink, drop the accounting, tell the backend, free.  NULL is
 * fine. */
void buffer_free(struct buffer_table *bt, struct p2p_buffer *b);

/* An admin revoke: ask the backend to revoke the memory, then as
 * buffer_free().  Returns the backend's answer: >= 0 revoked, -EOPNOTSUPP
 * when only the accounting could be dropped, or another -errno. */
int buffer_revoke(struct buffer_table *bt, struct p2p_buffer *b);

/* What @uid holds in all (its connections and its orphans). */
struct policy_usage buffer_uid_usage(const struct buffer_table *bt, uid_t uid);

/* Adopt what the backends list and no connection holds; forget orphans whose
 * memory is gone.  Returns the number of orphans, or -errno from listing. */
int buffer_refresh_orphans(struct buffer_table *bt);

/* The buffer as the alloc/list/buffers replies show it; @with_owner adds
 * client/uid/pid (or "orphaned", or "released": released by its owner,
 * still held by a client).  NULL on ENOMEM. */
struct json_object *buffer_to_json(const struct p2p_buffer *b, bool with_owner);
