/* SPDX-License-Identifier: MIT */
/*
 * ops-internal.h - what the request handlers share between ops.c (the small
 * operations and the dispatcher) and ops-alloc.c (ALLOC, the one handler with
 * several steps).  Not for the rest of the daemon: that uses ops.h.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "client.h"
#include "log.h"
#include "server.h"

#define OPS_NO_TOPO "no PCI topology: no PCI functions found under the sysfs root"

static inline struct log_ctx ops_client_ctx(const struct p2p_client *c)
{
	return (struct log_ctx){.uid = (long)c->uid, .pid = (long)c->pid};
}

static inline bool ops_have_topo(const struct p2p_server *srv)
{
	return srv->topo && srv->vctx;
}

/* Add "ok": true to @reply (taken) and queue it with @fd (taken). Returns 0,
 * or -1 when @c was dropped. */
int ops_reply_ok(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		 struct json_object *reply, int fd);

/* As ops_reply_ok(); @fd is buffer @watch_id's, made with spec.watch_late:
 * watched once the reply is sent (client_queue_take_fd_watch()). */
int ops_reply_ok_watch(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		       struct json_object *reply, int fd, uint64_t watch_id);

/* Queue an error reply: errno @err, its name and @message (NULL: strerror).
 * Returns 0, or -1 when @c was dropped. */
int ops_reply_err(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		  int err, const char *message);

/* The function @bdf of this machine's topology (index), or -ENODEV with a
 * sentence in @msg naming the @role. */
int ops_find_dev(struct p2p_server *srv, const char *bdf, const char *role, char *msg, size_t len);

/* ALLOC (ops-alloc.c). */
int op_alloc(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
	     struct json_object *req);
