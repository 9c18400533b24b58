/* SPDX-License-Identifier: MIT */
/*
 * client.h - one client connection of p2pd: SO_PEERCRED identity, its own
 * recvmsg() loop (libevent EV_READ|EV_PERSIST; bufferevents cannot carry fds),
 * a bounded output queue flushed with EV_WRITE only while something is queued,
 * and the buffers the client holds.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "buffer.h"
#include "list.h"
#include "proto.h"

struct p2p_server;
struct event;
struct json_object;

/*
 * The JSON of one reply, shared by every queue that holds it: a document that
 * is the same for everyone (the topology, the matrix of one topology) is built
 * once and queued to any number of connections without a copy.  Refcounted;
 * only the loop's thread touches it.
 */
struct p2p_reply {
	unsigned refs;
	size_t len;
	char data[];
};

/* A reply of @len bytes copied from @data, one reference; NULL on ENOMEM. */
struct p2p_reply *client_reply_new(const char *data, size_t len);
struct p2p_reply *client_reply_ref(struct p2p_reply *r);
/* Drop one reference; NULL is fine. */
void client_reply_unref(struct p2p_reply *r);

/* One queued reply: sent in P2P_PROTO_CHUNK datagrams, P2P_FLAG_MORE on all
 * but the last, the fd on the first. */
struct p2p_outmsg {
	struct list_link link; /* client's out queue */
	struct p2p_msg_hdr hdr;
	int fd;			 /* attached fd (owned until sent), -1 none */
	uint64_t watch_id;	 /* buffer to watch through fd before it is closed, 0 none */
	struct p2p_reply *reply; /* one reference */
	size_t off;		 /* bytes of it sent */
};

/* What the connections of one uid have queued (limits.max_queued_bytes_per_uid). */
struct client_uid {
	uid_t uid;
	unsigned conns;	 /* connections of the uid: the record lives while > 0 */
	uint64_t queued; /* reply bytes not yet sent to any of them */
};

struct p2p_client {
	struct p2p_server *srv;
	uint64_t id;
	int fd;
	struct event *ev_read, *ev_write;
	struct event *ev_idle; /* limits.idle_timeout: re-armed by every request */
	bool reading;	       /* ev_read is armed */
	bool nss_wait;	       /* its uid's groups are being looked up: no reading yet */
	bool op_wait;	       /* its request runs on the worker: no reading until answered */
	bool eof;	       /* the client shut down its sending side: answer, then drop */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char name[P2P_PROTO_MAX_NAME + 1]; /* from hello */
	uint64_t requests;
	struct buffer_owner own; /* its buffers and their usage (buffer.h) */
	struct list_link out;	 /* struct p2p_outmsg.link, oldest first */
	unsigned out_count;	 /* replies queued */
	uint64_t out_bytes;	 /* of their bytes not yet sent (limits.max_queued_bytes) */
	struct client_uid *quid; /* its uid's record (server's client_uids) */
	struct list_link link;	 /* server's clients */
};

/*
 * client_new_take_fd() - adopt the accepted socket @fd (taken; closed on
 * failure).  Reads SO_PEERCRED, registers the read event.  Returns 0 and
 * *ret, or -errno.
 */
int client_new_take_fd(struct p2p_server *srv, int fd, uint64_t id, struct p2p_client **ret);

/* Close the connection, free queued output, drop the client's buffers
 * (buffer_owner_drop).  Does not unlink @c from the server's list.  NULL is
 * fine. */
void client_free(struct p2p_client *c);

/*
 * client_queue_take_fd() - queue a message: @len JSON bytes (copied), split
 * into P2P_PROTO_CHUNK datagrams with P2P_FLAG_MORE; @fd (taken, closed when
 * sent or dropped; -1 none) rides on the first datagram.  Sends right away
 * when nothing is queued.  Returns 0 or -errno (-ENOBUFS: the client is not
 * reading; the caller drops it).
 */
int client_queue_take_fd(struct p2p_client *c, uint8_t op, uint64_t id, uint16_t flags,
			 const char *data, size_t len, int fd);
/* As client_queue_take_fd(); @fd is buffer @watch_id's, watched through it
 * (buffer_watch_late()) once it is sent, so the watch is not on the way of
 * the reply. */
int client_queue_take_fd_watch(struct p2p_client *c, uint8_t op, uint64_t id, uint16_t flags,
			       const char *data, size_t len, int fd, uint64_t watch_id);
/* As client_queue_take_fd() with a shared reply (borrowed: the queue takes
 * its own reference). */
int client_queue_reply_take_fd(struct p2p_client *c, uint8_t op, uint64_t id, uint16_t flags,
			       struct p2p_reply *reply, int fd);

/* Send what the socket takes now; arms/disarms EV_WRITE.  Returns 0, or -errno
 * when the connection is broken or (-ESHUTDOWN) half-closed with everything
 * answered: either way the caller drops it. */
int client_flush(struct p2p_client *c);

/* The connection did something: push its idle deadline (limits.idle_timeout)
 * back. */
void client_touch(struct p2p_client *c);

/*
 * client_update_reading() - read requests only while the connection's queue
 * is under limits.max_pending_per_client replies and limits.max_queued_bytes
 * bytes, its uid's connections together under limits.max_queued_bytes_per_uid
 * (admins exempt), its groups are known (nss_wait), no request of it runs on
 * the worker (op_wait) and the daemon is not stopping.  Back-pressure counts
 * bytes: a request whose reply is megabytes pauses the connection at once.
 */
void client_update_reading(struct p2p_client *c);
/* Pause reading for good (the daemon is stopping). */
void client_stop_reading(struct p2p_client *c);
