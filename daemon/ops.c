/* SPDX-License-Identifier: MIT */
/*
 * ops.c - the operations of proto.h, one thin handler each (see ops.h):
 * read the request, ask the module that decides (topo/verdict/report in
 * core, policy, alloc, buffer), build the reply.
 */
#include "ops.h"
#include "ops-internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer.h"
#include "client.h"
#include "log.h"
#include "policy.h"
#include "report.h"
#include "server.h"
#include "worker.h"

#ifndef P2P_SERVER_VERSION
#define P2P_SERVER_VERSION "0.1"
#endif
#define SERVER_NAME "p2pd " P2P_SERVER_VERSION

/* ---- replies ---- */

/* Queueing a reply for @c failed: drop it.  Returns -1. */
static int ops_queue_failed(struct p2p_server *srv, struct p2p_client *c, int r)
{
	struct log_ctx lc = ops_client_ctx(c);

	/* a peer that went away mid-request is routine; one that does not read
	 * is worth a notice */
	log_ctx(r == -EPIPE || r == -ECONNRESET || r == -ESHUTDOWN ? LOG_DEBUG : LOG_NOTICE, &lc,
		"client %llu dropped: %s", (unsigned long long)c->id,
		r == -ENOBUFS ? "not reading its replies" : strerror(-r));
	server_drop_client(srv, c);
	return -1;
}

/* Serialise @reply and queue it; takes @fd (buffer @watch_id's, or 0).
 * Returns 0 or -1 when the client was dropped. */
static int ops_send_json(struct p2p_server *srv, struct p2p_client *c, uint8_t op, uint64_t id,
			 struct json_object *reply, int fd, uint64_t watch_id)
{
	const char *text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
	int r =
	    client_queue_take_fd_watch(c, op, id, P2P_FLAG_REPLY, text, strlen(text), fd, watch_id);

	return r < 0 ? ops_queue_failed(srv, c, r) : 0;
}

int ops_reply_ok_watch(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		       struct json_object *reply, int fd, uint64_t watch_id)
{
	int r;

	json_object_object_add(reply, "ok", json_object_new_boolean(1));
	r = ops_send_json(srv, c, h->opcode, h->id, reply, fd, watch_id);
	json_object_put(reply);
	return r;
}

int ops_reply_ok(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		 struct json_object *reply, int fd)
{
	return ops_reply_ok_watch(srv, c, h, reply, fd, 0);
}

int ops_reply_err(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		  int err, const char *message)
{
	struct json_object *o = json_object_new_object();
	int r;

	if (err < 0)
		err = -err;
	srv->stats.errors++;
	if (!o) {
		server_drop_client(srv, c);
		return -1;
	}
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "errno", json_object_new_int(err));
	json_object_object_add(o, "code", json_object_new_string(conn_errno_name(err)));
	json_object_object_add(o, "message",
			       json_object_new_string(message ? message : strerror(err)));
	r = ops_send_json(srv, c, h->opcode, h->id, o, -1, 0);
	json_object_put(o);
	return r;
}

/* @o (taken) with "ok": true added, as one shared reply; NULL on ENOMEM.
 * Touches nothing the loop owns: the matrix worker builds with it too. */
static struct p2p_reply *ops_shared_reply_new(struct json_object *o)
{
	const char *text = NULL;
	struct p2p_reply *r;

	if (o) {
		json_object_object_add(o, "ok", json_object_new_boolean(1));
		text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	}
	r = text ? client_reply_new(text, strlen(text)) : NULL;
	json_object_put(o);
	return r;
}

/*
 * A reply that is the same for every client until the topology or the config
 * changes (server_forget_replies()): @o (taken; "ok" added) becomes *@cache
 * when it is still empty, and every request shares that one copy.  Returns 0,
 * or -1 when the client was dropped.
 */
static int ops_reply_shared(struct p2p_server *srv, struct p2p_client *c,
			    const struct p2p_msg_hdr *h, struct p2p_reply **cache,
			    struct json_object *o)
{
	int r;

	if (!*cache)
		*cache = ops_shared_reply_new(o);
	else
		json_object_put(o);
	if (!*cache)
		return ops_reply_err(srv, c, h, ENOMEM, NULL);
	r = client_queue_reply_take_fd(c, h->opcode, h->id, P2P_FLAG_REPLY, *cache, -1);
	return r < 0 ? ops_queue_failed(srv, c, r) : 0;
}

/* ---- operations ---- */

static bool ops_is_admin(struct p2p_server *srv, const struct p2p_client *c)
{
	return policy_is_admin(srv->cfg, c->uid, c->gid);
}

static int op_hello(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		    struct json_object *req)
{
	struct json_object *o, *feat;
	uint64_t v = json_get_u64(req, "version", 0);
	char msg[128];

	if (v != P2P_PROTO_VERSION) {
		snprintf(msg, sizeof(msg), "protocol version %llu not supported (p2pd speaks %d)",
			 (unsigned long long)v, P2P_PROTO_VERSION);
		return ops_reply_err(srv, c, h, EPROTONOSUPPORT, msg);
	}
	snprintf(c->name, sizeof(c->name), "%s", json_get_str(req, "client", ""));
	o = json_object_new_object();
	feat = json_object_new_array();
	if (!o || !feat) {
		json_object_put(o);
		json_object_put(feat);
		return ops_reply_err(srv, c, h, ENOMEM, NULL);
	}
	json_object_array_add(feat, json_object_new_string("chunked-replies"));
	json_object_array_add(feat, json_object_new_string("events"));
	json_object_array_add(feat, json_object_new_string(P2P_FEATURE_RELEASE_NOREPLY));
	for (int t = 0; t < ALLOC_TYPE__COUNT; t++) {
		const struct alloc_backend *b = alloc_set_backend(srv->alloc, (enum alloc_type)t);
		char f[40];

		if (!b)
			continue;
		snprintf(f, sizeof(f), "type:%s", alloc_type_name((enum alloc_type)t));
		json_object_array_add(feat, json_object_new_string(f));
	}
	json_object_object_add(o, "version", json_object_new_int(P2P_PROTO_VERSION));
	json_object_object_add(o, "server", json_object_new_string(SERVER_NAME));
	json_object_object_add(o, "features", feat);
	json_object_object_add(o, "uid", json_object_new_int64(c->uid));
	json_object_object_add(o, "gid", json_object_new_int64(c->gid));
	json_object_object_add(o, "pid", json_object_new_int64(c->pid));
	json_object_object_add(o, "admin", json_object_new_boolean(ops_is_admin(srv, c)));
	json_object_object_add(o, "max_message_size",
			       json_object_new_int64(srv->cfg->limits.max_message_size));
	json_object_object_add(o, "chunk", json_object_new_int(P2P_PROTO_CHUNK));
	return ops_reply_ok(srv, c, h, o, -1);
}

static int op_topology(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h)
{
	struct json_object *o = NULL, *t;

	if (!ops_have_topo(srv))
		return ops_reply_err(srv, c, h, ENODEV, OPS_NO_TOPO);
	/* the same document for everyone until the topology changes: built once */
	if (!srv->topo_reply) {
		o = json_object_new_object();
		t = report_topo(srv->topo);
		if (!t || !o) {
			json_object_put(t);
			json_object_put(o);
			return ops_reply_err(srv, c, h, ENOMEM, NULL);
		}
		report_kernel(t, &srv->kernel);
		json_object_object_add(o, "topology", t);
	}
	return ops_reply_shared(srv, c, h, &srv->topo_reply, o);
}

int ops_find_dev(struct p2p_server *srv, const char *bdf, const char *role, char *msg, size_t len)
{
	int idx = topo_find(srv->topo, bdf);

	if (idx < 0) {
		snprintf(msg, len, "%s '%.40s' is not a PCI function of this machine", role, bdf);
		return -ENODEV;
	}
	return idx;
}

/* "kernel_live": the running kernel's own answer (through p2pbroker.ko), next
 * to the rules p2pd applies itself. */
static void ops_check_kernel(struct p2p_server *srv, struct json_object *chk,
			     const struct verdict *v, int p, int cl)
{
	struct json_object *k = json_object_new_object();
	int kmap = 0, kdist = -1, kr;

	if (!k)
		return;
	kr = alloc_set_kernel_verdict(srv->alloc, &srv->topo->funcs[p], &srv->topo->funcs[cl],
				      &kmap, &kdist);
	if (kr == 0) {
		json_object_object_add(
		    k, "map_type",
		    json_object_new_string(verdict_map_name((enum verdict_map)kmap)));
		json_object_object_add(k, "distance", json_object_new_int(kdist));
		json_object_object_add(k, "agrees",
				       json_object_new_boolean(kmap == (int)v->kernel_map &&
							       (kmap == VERDICT_NOT_SUPPORTED ||
								kdist == v->kernel_distance)));
	} else {
		json_object_object_add(k, "error",
				       json_object_new_string(kr == -EOPNOTSUPP
								  ? "the live kernel verdict needs "
								    "p2pbroker.ko (/dev/p2pbroker)"
								  : strerror(-kr)));
	}
	json_object_object_add(chk, "kernel_live", k);
}

static int op_check(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		    struct json_object *req)
{
	struct json_object *o, *chk;
	struct verdict *v;
	char msg[200];
	int p, cl;

	if (!ops_have_topo(srv))
		return ops_reply_err(srv, c, h, ENODEV, OPS_NO_TOPO);
	p = ops_find_dev(srv, json_get_str(req, "provider", ""), "provider", msg, sizeof(msg));
	if (p < 0)
		return ops_reply_err(srv, c, h, -p, msg);
	cl = ops_find_dev(srv, json_get_str(req, "client", ""), "client", msg, sizeof(msg));
	if (cl < 0)
		return ops_reply_err(srv, c, h, -cl, msg);
	v = calloc(1, sizeof(*v));
	if (!v)
		return ops_reply_err(srv, c, h, ENOMEM, NULL);
	verdict_pair(srv->vctx, p, cl, v);
	chk = report_check(srv->topo, v, p, cl);
	if (chk && json_get_bool(req, "kernel", false))
		ops_check_kernel(srv, chk, v, p, cl);
	free(v);
	o = json_object_new_object();
	if (!chk || !o) {
		json_object_put(chk);
		json_object_put(o);
		return ops_reply_err(srv, c, h, ENOMEM, NULL);
	}
	json_object_object_add(o, "check", chk);
	return ops_reply_ok(srv, c, h, o, -1);
}

/*
 * MATRIX: N^2 verdicts, megabytes on a big tree (0.3 s for 600 functions).
 * Built once per model (topology + config) and shared by every client that
 * asks (issue 16 item 5), and built on report_worker, off the loop, so the
 * first request after a start, reload or rescan does not stall everyone
 * else.  A client waiting for it is not read from (op_wait): its requests
 * stay in order.
 */
struct matrix_waiter {
	uint64_t client_id;
	struct p2p_msg_hdr hdr;
};

struct matrix_job {
	struct p2p_server *srv;
	const struct topo *topo; /* the model it reads: held until done */
	const struct verdict_ctx *vctx;
	uint64_t gen;
	bool all;
	struct p2p_reply *reply; /* built by the worker */
	struct matrix_waiter *waiters;
	size_t n_waiters, cap_waiters;
};

static int matrix_run(void *arg)
{
	struct matrix_job *j = arg;
	struct json_object *m = report_matrix(j->topo, j->vctx, j->all);
	struct json_object *o = json_object_new_object();

	if (!m || !o) {
		json_object_put(m);
		json_object_put(o);
		return -ENOMEM;
	}
	json_object_object_add(o, "matrix", m);
	j->reply = ops_shared_reply_new(o);
	return j->reply ? 0 : -ENOMEM;
}

static int matrix_request(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
			  bool all);

static void matrix_done(void *arg, int result)
{
	struct matrix_job *j = arg;
	struct p2p_server *srv = j->srv;

	srv->matrix_job[j->all] = NULL;
	server_model_release(srv);
	if (result == 0 && j->gen == srv->model_gen && !srv->matrix_reply[j->all]) {
		srv->matrix_reply[j->all] = j->reply;
		j->reply = NULL;
	}
	client_reply_unref(j->reply);
	for (size_t i = 0; i < j->n_waiters; i++) {
		struct p2p_client *c = server_find_client(srv, j->waiters[i].client_id);
		const struct p2p_msg_hdr *h = &j->waiters[i].hdr;
		int r;

		if (!c)
			continue; /* it went away meanwhile */
		c->op_wait = false;
		if (result == -ECANCELED || srv->stopping)
			r = ops_reply_err(srv, c, h, ECANCELED, "p2pd is stopping");
		else if (result < 0 && j->gen == srv->model_gen)
			r = ops_reply_err(srv, c, h, -result, NULL);
		else /* the shared copy, or a new job for the model that replaced it */
			r = matrix_request(srv, c, h, j->all);
		if (r == 0 && !c->op_wait)
			client_update_reading(c);
	}
	free(j->waiters);
	free(j);
}

/* Queue @c's request @h behind the job that builds matrix[@all], starting
 * one when none runs.  Returns 0, or -errno (nothing queued). */
static int matrix_wait(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		       bool all)
{
	struct matrix_job *j = srv->matrix_job[all];
	bool new_job = !j;
	int r;

	if (!srv->report_worker || srv->stopping)
		return -ECANCELED;
	if (new_job) {
		j = calloc(1, sizeof(*j));
		if (!j)
			return -ENOMEM;
		*j = (struct matrix_job){.srv = srv,
					 .topo = srv->topo,
					 .vctx = srv->vctx,
					 .gen = srv->model_gen,
					 .all = all};
	}
	if (j->n_waiters == j->cap_waiters) {
		/* one entry per waiting connection: bounded by max_connections */
		size_t cap = j->cap_waiters ? 2 * j->cap_waiters : 4;
		struct matrix_waiter *w = realloc(j->waiters, cap * sizeof(*w));

		if (!w) {
			if (new_job)
				free(j);
			return -ENOMEM;
		}
		j->waiters = w;
		j->cap_waiters = cap;
	}
	if (new_job) {
		r = worker_submit(srv->report_worker, matrix_run, matrix_done, j);
		if (r < 0) {
			free(j->waiters);
			free(j);
			return r;
		}
		server_model_hold(srv);
		srv->matrix_job[all] = j;
	}
	j->waiters[j->n_waiters++] = (struct matrix_waiter){.client_id = c->id, .hdr = *h};
	c->op_wait = true;
	client_update_reading(c);
	return 0;
}

/* Answer from the shared copy, or wait for it.  Returns 0, or -1 when @c
 * was dropped. */
static int matrix_request(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
			  bool all)
{
	int n, r;

	if (!ops_have_topo(srv))
		return ops_reply_err(srv, c, h, ENODEV, OPS_NO_TOPO);
	/* N^2 cells: past the limit the document would take gigabytes */
	n = report_matrix_count(srv->topo, all);
	if (n > REPORT_MATRIX_MAX_DEVICES) {
		char msg[300];

		report_matrix_too_big(n, msg, sizeof(msg));
		return ops_reply_err(srv, c, h, E2BIG, msg);
	}
	if (srv->matrix_reply[all])
		return ops_reply_shared(srv, c, h, &srv->matrix_reply[all], NULL);
	r = matrix_wait(srv, c, h, all);
	if (r < 0)
		return ops_reply_err(srv, c, h, -r,
				     r == -ECANCELED ? "p2pd is stopping"
						     : "cannot build the matrix");
	return 0;
}

static int op_matrix(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		     struct json_object *req)
{
	return matrix_request(srv, c, h, json_get_bool(req, "all", false));
}

static const char *const refuse_names[SERVER_REFUSE__COUNT] = {
    [SERVER_REFUSE_INVALID] = "invalid",
    [SERVER_REFUSE_POLICY] = "policy",
    [SERVER_REFUSE_QUOTA] = "quota",
    [SERVER_REFUSE_NO_MEMORY] = "no_memory",
    [SERVER_REFUSE_UNAVAILABLE] = "unavailable",
};

/* A reply with no member but "ok" and, when @id is not 0, "id": formatted
 * here, no JSON object built.  Returns 0, or -1 when @c was dropped. */
static int ops_reply_fixed(struct p2p_server *srv, struct p2p_client *c,
			   const struct p2p_msg_hdr *h, uint64_t id)
{
	char text[64];
	int n =
	    id ? snprintf(text, sizeof(text), "{\"id\":%llu,\"ok\":true}", (unsigned long long)id)
	       : snprintf(text, sizeof(text), "{\"ok\":true}");
	int r = client_queue_take_fd(c, h->opcode, h->id, P2P_FLAG_REPLY, text, (size_t)n, -1);

	return r < 0 ? ops_queue_failed(srv, c, r) : 0;
}

/* RELEASE: with "reply": false only a failure is answered (proto.h). */
static int op_release(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		      struct json_object *req)
{
	uint64_t id = json_get_u64(req, "id", 0);
	struct p2p_buffer *b = buffer_find(&srv->buffers, id);
	char msg[100];

	if (!b || b->owner != &c->own) {
		snprintf(msg, sizeof(msg), "no buffer %llu on this connection",
			 (unsigned long long)id);
		return ops_reply_err(srv, c, h, ENOENT, msg);
	}
	buffer_release(&srv->buffers, b); /* counts on while a client holds it */
	srv->stats.releases++;
	if (!json_get_bool(req, "reply", true))
		return 0;
	return ops_reply_fixed(srv, c, h, id);
}

/* SYNC: answered after every earlier request of @c, as every request is. */
static int op_sync(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h)
{
	return ops_reply_fixed(srv, c, h, 0);
}

static int op_list(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		   bool all)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();

	if (!o || !arr) {
		json_object_put(o);
		json_object_put(arr);
		return ops_reply_err(srv, c, h, ENOMEM, NULL);
	}
	if (!all) {
		list_for_each (struct p2p_buffer, b, &c->own.buffers, link) {
			json_object_array_add(arr, buffer_to_json(b, false));
		}
	} else {
		list_for_each (struct p2p_client, k, &srv->clients, link) {
			list_for_each (struct p2p_buffer, b, &k->own.buffers, link) {
				json_object_array_add(arr, buffer_to_json(b, true));
			}
		}
		(void)buffer_refresh_orphans(&srv->buffers);
		list_for_each (struct p2p_buffer, b, &srv->buffers.orphans, link) {
			json_object_array_add(arr, buffer_to_json(b, true));
		}
		(void)buffer_refresh_held(&srv->buffers);
		list_for_each (struct p2p_buffer, b, &srv->buffers.held, link) {
			json_object_array_add(arr, buffer_to_json(b, true));
		}
	}
	json_object_object_add(o, "buffers", arr);
	return ops_reply_ok(srv, c, h, o, -1);
}

static int op_clients(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();

	if (!o || !arr) {
		json_object_put(o);
		json_object_put(arr);
		return ops_reply_err(srv, c, h, ENOMEM, NULL);
	}
	list_for_each (struct p2p_client, k, &srv->clients, link) {
		struct json_object *e = json_object_new_object();

		if (!e)
			break;
		json_object_object_add(e, "id", json_object_new_uint64(k->id));
		json_object_object_add(e, "pid", json_object_new_int64(k->pid));
		json_object_object_add(e, "uid", json_object_new_int64(k->uid));
		json_object_object_add(e, "gid", json_object_new_int64(k->gid));
		json_object_object_add(e, "admin", json_object_new_boolean(ops_is_admin(srv, k)));
		json_object_object_add(e, "buffers", json_object_new_int64(k->own.usage.buffers));
		json_object_object_add(e, "bytes", json_object_new_uint64(k->own.usage.bytes));
		json_object_object_add(e, "requests", json_object_new_uint64(k->requests));
		json_object_object_add(e, "queued_bytes", json_object_new_uint64(k->out_bytes));
		json_object_object_add(e, "name", json_object_new_string(k->name));
		json_object_object_add(e, "self", json_object_new_boolean(k == c));
		json_object_array_add(arr, e);
	}
	json_object_object_add(o, "clients", arr);
	return ops_reply_ok(srv, c, h, o, -1);
}

static int ops_send_event(struct p2p_server *srv, struct p2p_client *c, const char *event,
			  uint64_t id, const char *reason)
{
	struct json_object *o = json_object_new_object();
	const char *text;
	int r;

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "event", json_object_new_string(event));
	json_object_object_add(o, "id", json_object_new_uint64(id));
	json_object_object_add(o, "reason", json_object_new_string(reason));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	r = client_queue_take_fd(c, P2P_OP_EVENT, 0, P2P_FLAG_REPLY, text, strlen(text), -1);
	json_object_put(o);
	(void)srv;
	return r;
}

/*
 * REVOKE: the kernel module's REVOKE waits for importers to unmap and for
 * their fences, up to its revoke_timeout_ms, so it runs on the worker thread.
 * Meanwhile every other client is served; the requesting connection reads no
 * further request until it has its answer (replies stay in request order),
 * and a second REVOKE of the same buffer is refused with EINPROGRESS.
 */
struct revoke_job {
	struct p2p_server *srv;
	struct alloc_set *alloc;
	const struct alloc_backend *backend;
	uint64_t handle, id, client_id;
	uid_t uid;
	struct p2p_msg_hdr hdr;
};

static int revoke_run(void *arg)
{
	struct revoke_job *j = arg;

	return alloc_set_revoke(j->alloc, j->backend, j->handle);
}

static void revoke_done(void *arg, int result)
{
	struct revoke_job *j = arg;
	struct p2p_server *srv = j->srv;
	struct p2p_client *c = server_find_client(srv, j->client_id), *owner = NULL;
	struct p2p_buffer *b = buffer_find(&srv->buffers, j->id);
	struct log_ctx lc = c ? ops_client_ctx(c) : LOG_CTX_NONE;
	bool notified = false, revoked = result >= 0;
	struct json_object *o;
	char reason[128];

	if (b && b->revoking && b->backend == j->backend && b->handle == j->handle) {
		b->revoking = false;
		owner = b->owner ? list_entry(b->owner, struct p2p_client, own) : NULL;
	} else {
		b = NULL; /* released by its owner meanwhile: accounting is gone already */
	}
	if (c)
		c->op_wait = false;
	if (result == -ECANCELED) { /* p2pd stopped before the worker ran it */
		if (c)
			ops_reply_err(srv, c, &j->hdr, ECANCELED, "p2pd is stopping; not revoked");
		free(j);
		return;
	}
	if (b)
		buffer_free(&srv->buffers, b);
	srv->stats.revokes++;
	lc.uid = (long)j->uid;
	lc.buffer = j->id;
	log_ctx(LOG_NOTICE, &lc, "buffer %llu revoked by admin uid %u (memory %s)",
		(unsigned long long)j->id, (unsigned)j->uid,
		revoked ? "revoked" : "still mapped by its holders, accounting dropped");
	snprintf(reason, sizeof(reason), "revoked by uid %u%s", (unsigned)j->uid,
		 revoked ? "" : " (accounting only; the backend cannot revoke the memory)");
	if (owner && owner != c) {
		if (ops_send_event(srv, owner, "revoked", j->id, reason) < 0)
			server_drop_client(srv, owner);
		else
			notified = true;
	} else if (owner && owner == c) {
		notified = ops_send_event(srv, c, "revoked", j->id, reason) == 0;
	}
	if (c) {
		o = json_object_new_object();
		if (!o) {
			ops_reply_err(srv, c, &j->hdr, ENOMEM, NULL);
		} else {
			json_object_object_add(o, "id", json_object_new_uint64(j->id));
			json_object_object_add(o, "owner_notified",
					       json_object_new_boolean(notified));
			json_object_object_add(o, "memory_revoked",
					       json_object_new_boolean(revoked));
			if (ops_reply_ok(srv, c, &j->hdr, o, -1) == 0)
				client_update_reading(c);
		}
	}
	free(j);
}

static int op_revoke(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		     struct json_object *req)
{
	uint64_t id = json_get_u64(req, "id", 0);
	struct p2p_buffer *b = buffer_find(&srv->buffers, id);
	struct revoke_job *j;
	char msg[100];
	int r;

	if (!b) {
		snprintf(msg, sizeof(msg), "no buffer %llu", (unsigned long long)id);
		return ops_reply_err(srv, c, h, ENOENT, msg);
	}
	if (b->revoking) {
		snprintf(msg, sizeof(msg), "buffer %llu: a revoke is in progress",
			 (unsigned long long)id);
		return ops_reply_err(srv, c, h, EINPROGRESS, msg);
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return ops_reply_err(srv, c, h, ENOMEM, NULL);
	*j = (struct revoke_job){.srv = srv,
				 .alloc = srv->alloc,
				 .backend = b->backend,
				 .handle = b->handle,
				 .id = id,
				 .client_id = c->id,
				 .uid = c->uid,
				 .hdr = *h};
	r = worker_submit(srv->worker, revoke_run, revoke_done, j);
	if (r < 0) {
		free(j);
		return ops_reply_err(srv, c, h, -r, "cannot queue the revoke");
	}
	b->revoking = true;
	c->op_wait = true;
	client_update_reading(c);
	return 0;
}

static int op_reload(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h)
{
	char err[512];
	struct json_object *o;
	int r = server_reload(srv, err, sizeof(err));

	if (r < 0)
		return ops_reply_err(srv, c, h, -r, err);
	o = json_object_new_object();
	if (!o)
		return ops_reply_err(srv, c, h, ENOMEM, NULL);
	json_object_object_add(
	    o, "config",
	    json_object_new_string(srv->cfg_path[0] ? srv->cfg_path : "(built-in defaults)"));
	json_object_object_add(o, "devices",
			       json_object_new_int(srv->topo ? srv->topo->nfuncs : 0));
	return ops_reply_ok(srv, c, h, o, -1);
}

static long ops_rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	long pages = -1, rss = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void ops_add_note(void *userdata, const char *note)
{
	json_object_array_add(userdata, json_object_new_string(note));
}

static int op_stats(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h)
{
	struct json_object *o = json_object_new_object(), *s = json_object_new_object(), *be;
	const struct server_stats *st = &srv->stats;
	char names[128];

	if (!o || !s) {
		json_object_put(o);
		json_object_put(s);
		return ops_reply_err(srv, c, h, ENOMEM, NULL);
	}
	(void)buffer_refresh_held(&srv->buffers);
	json_object_object_add(s, "uptime_s", json_object_new_int64(time(NULL) - srv->started));
	json_object_object_add(s, "connections", json_object_new_int64(srv->n_clients));
	json_object_object_add(s, "connections_total",
			       json_object_new_uint64(st->connections_total));
	json_object_object_add(s, "connections_rejected",
			       json_object_new_uint64(st->connections_rejected));
	json_object_object_add(s, "idle_closed", json_object_new_uint64(st->idle_closed));
	json_object_object_add(s, "accept_fd_exhausted",
			       json_object_new_uint64(st->accept_fd_exhausted));
	json_object_object_add(s, "requests", json_object_new_uint64(st->requests));
	json_object_object_add(s, "errors", json_object_new_uint64(st->errors));
	json_object_object_add(s, "protocol_errors", json_object_new_uint64(st->protocol_errors));
	json_object_object_add(s, "buffers", json_object_new_uint64(srv->buffers.n_buffers));
	json_object_object_add(s, "bytes", json_object_new_uint64(srv->buffers.n_bytes));
	json_object_object_add(s, "buffers_released_held",
			       json_object_new_uint64(list_length(&srv->buffers.held)));
	json_object_object_add(s, "allocs", json_object_new_uint64(st->allocs));
	json_object_object_add(s, "releases", json_object_new_uint64(st->releases));
	json_object_object_add(s, "revokes", json_object_new_uint64(st->revokes));
	be = json_object_new_object();
	for (int i = 0; be && i < SERVER_REFUSE__COUNT; i++)
		json_object_object_add(be, refuse_names[i],
				       json_object_new_uint64(st->alloc_refused[i]));
	json_object_object_add(s, "alloc_refusals", be);
	json_object_object_add(s, "reloads", json_object_new_uint64(st->reloads));
	json_object_object_add(s, "rescans", json_object_new_uint64(st->rescans));
	be = json_object_new_array();
	alloc_set_describe(srv->alloc, names, sizeof(names));
	for (char *save = NULL, *tok = strtok_r(names, ",", &save); be && tok;
	     tok = strtok_r(NULL, ",", &save))
		json_object_array_add(be, json_object_new_string(tok));
	json_object_object_add(s, "backends", be);
	be = json_object_new_array();
	if (be)
		alloc_set_notes(srv->alloc, ops_add_note, be);
	json_object_object_add(s, "notes", be);
	json_object_object_add(s, "rss_kib", json_object_new_int64(ops_rss_kib()));
	json_object_object_add(s, "fds", json_object_new_int64(server_count_fds()));
	json_object_object_add(s, "devices",
			       json_object_new_int(srv->topo ? srv->topo->nfuncs : 0));
	json_object_object_add(
	    s, "config",
	    json_object_new_string(srv->cfg_path[0] ? srv->cfg_path : "(built-in defaults)"));
	report_kernel(s, &srv->kernel);
	json_object_object_add(o, "stats", s);
	return ops_reply_ok(srv, c, h, o, -1);
}

int ops_dispatch(struct p2p_server *srv, struct p2p_client *c, const struct conn_msg *m)
{
	const struct p2p_msg_hdr *h = &m->hdr;
	struct json_object *req = NULL;
	char err[256];
	int r;

	srv->stats.requests++;
	c->requests++;
	r = conn_decode_request(h->opcode, m->payload, h->len, &req, err, sizeof(err));
	if (r < 0)
		return ops_reply_err(srv, c, h, -r, err);
	if (conn_op_is_admin(h->opcode) && !ops_is_admin(srv, c)) {
		struct log_ctx lc = ops_client_ctx(c);

		json_object_put(req);
		log_ctx(LOG_NOTICE, &lc, "admin request '%s' refused", conn_op_name(h->opcode));
		snprintf(err, sizeof(err),
			 "'%s' is an admin request: uid 0 or the admin group only (you are uid %u)",
			 conn_op_name(h->opcode), (unsigned)c->uid);
		return ops_reply_err(srv, c, h, EPERM, err);
	}
	switch (h->opcode) {
	case P2P_OP_HELLO:
		r = op_hello(srv, c, h, req);
		break;
	case P2P_OP_TOPOLOGY:
		r = op_topology(srv, c, h);
		break;
	case P2P_OP_CHECK:
		r = op_check(srv, c, h, req);
		break;
	case P2P_OP_MATRIX:
		r = op_matrix(srv, c, h, req);
		break;
	case P2P_OP_ALLOC:
		r = op_alloc(srv, c, h, req);
		break;
	case P2P_OP_RELEASE:
		r = op_release(srv, c, h, req);
		break;
	case P2P_OP_LIST:
		r = op_list(srv, c, h, false);
		break;
	case P2P_OP_SYNC:
		r = op_sync(srv, c, h);
		break;
	case P2P_OP_CLIENTS:
		r = op_clients(srv, c, h);
		break;
	case P2P_OP_BUFFERS:
		r = op_list(srv, c, h, true);
		break;
	case P2P_OP_REVOKE:
		r = op_revoke(srv, c, h, req);
		break;
	case P2P_OP_RELOAD:
		r = op_reload(srv, c, h);
		break;
	case P2P_OP_STATS:
		r = op_stats(srv, c, h);
		break;
	default:
		r = ops_reply_err(srv, c, h, EOPNOTSUPP, "unknown opcode");
		break;
	}
	json_object_put(req);
	return r < 0 ? -1 : 0;
}
