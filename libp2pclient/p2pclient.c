/* SPDX-License-Identifier: MIT */
/*
 * p2pclient.c - libp2pclient.so: the public client API of p2pd (p2pclient.h)
 * on top of the framing in conn.c.  Not thread-safe per connection.
 */
#include "p2pclient.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "proto.h"

#define P2P_EVENT_QUEUE 64
#define P2P_MAX_NOWAIT 64 /* releases in flight without a waiting caller */
/* The request ids of no-reply releases carry this bit, so that a failure's
 * answer (the only one such a release gets) is known as one by its id. */
#define P2P_NOREPLY_ID (UINT64_C(1) << 63)
/* Between two looks at what the daemon sent, the failures of no-reply
 * releases wait in the socket at most this deep. */
#define P2P_NOREPLY_BATCH 16

struct p2p_conn {
	int fd;
	uint64_t next_id;
	int timeout_ms;
	char last_message[256];
	struct p2p_event events[P2P_EVENT_QUEUE];
	size_t ev_head, ev_count;
	/* request ids of p2p_release_nowait() calls not answered yet, oldest first */
	uint64_t nowait[P2P_MAX_NOWAIT];
	unsigned nowait_n;
	int deferred_err; /* the first of them that failed, -errno; 0 none */
	/* the daemon answers a release only when it fails (hello listed
	 * P2P_FEATURE_RELEASE_NOREPLY): then p2p_release_nowait() sends those */
	bool noreply;
	uint64_t noreply_unsynced; /* sent since the last answered request */
	unsigned noreply_unread;   /* sent since the socket was last read */
	char deferred_message[256];
	unsigned char rbuf[P2P_PROTO_MAX_DATAGRAM];
};

static p2p_log_fn p2p_log_handler;
static void *p2p_log_userdata;

P2P_EXPORT void p2p_set_log_handler(p2p_log_fn fn, void *userdata)
{
	p2p_log_handler = fn;
	p2p_log_userdata = userdata;
}

static void p2p_log(enum p2p_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void p2p_log(enum p2p_log_level level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!p2p_log_handler)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	p2p_log_handler(level, buf, p2p_log_userdata);
}

P2P_EXPORT int p2p_connect(const char *path, struct p2p_conn **ret_conn)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct p2p_conn *c;
	int fd;

	if (!ret_conn)
		return -EINVAL;
	if (!path || !*path)
		path = getenv(P2P_SOCKET_ENV);
	if (!path || !*path)
		path = P2P_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int r = -errno;

		free(c);
		return r;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		p2p_log(P2P_LOG_DEBUG, "connect %s: %s", path, strerror(-r));
		close(fd);
		free(c);
		return r;
	}
	c->fd = fd;
	c->next_id = 1;
	p2p_conn_set_timeout(c, 30000);
	*ret_conn = c;
	return 0;
}

P2P_EXPORT void p2p_disconnect(struct p2p_conn *conn)
{
	if (!conn)
		return;
	close(conn->fd);
	free(conn);
}

P2P_EXPORT int p2p_conn_fd(const struct p2p_conn *conn)
{
	return conn ? conn->fd : -EINVAL;
}

P2P_EXPORT int p2p_conn_set_timeout(struct p2p_conn *conn, int timeout_ms)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};

	if (!conn || timeout_ms < 0)
		return -EINVAL;
	conn->timeout_ms = timeout_ms;
	/* a reply is waited for in recvmsg() itself (one syscall, not
	 * recvmsg+poll+recvmsg); this bounds that wait */
	(void)setsockopt(conn->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

P2P_EXPORT const char *p2p_last_message(const struct p2p_conn *conn)
{
	return conn ? conn->last_message : "";
}

static void p2p_queue_event(struct p2p_conn *c, const char *payload, size_t len)
{
	struct json_object *o = NULL;
	struct p2p_event *ev;

	if (conn_json_parse(payload, len, &o, NULL, 0) < 0)
		return;
	if (c->ev_count == P2P_EVENT_QUEUE) { /* drop the oldest */
		c->ev_head = (c->ev_head + 1) % P2P_EVENT_QUEUE;
		c->ev_count--;
		p2p_log(P2P_LOG_WARNING, "event queue full, oldest event dropped");
	}
	ev = &c->events[(c->ev_head + c->ev_count) % P2P_EVENT_QUEUE];
	memset(ev, 0, sizeof(*ev));
	snprintf(ev->event, sizeof(ev->event), "%s", json_get_str(o, "event", "unknown"));
	ev->id = json_get_u64(o, "id", 0);
	snprintf(ev->reason, sizeof(ev->reason), "%s", json_get_str(o, "reason", ""));
	c->ev_count++;
	json_object_put(o);
}

static int64_t p2p_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for and receive one datagram; -ETIMEDOUT past @deadline (0 = none). */
static int p2p_recv_one(struct p2p_conn *c, int64_t deadline, struct conn_msg *m)
{
	for (;;) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int r, tmo = -1;

		/* blocks (SO_RCVTIMEO: timeout_ms) unless the application made
		 * the socket non-blocking, then poll() below waits; past the
		 * deadline only what is queued already is taken (a daemon that
		 * sends events without end cannot keep a call waiting) */
		if (deadline && p2p_now_ms() >= deadline)
			r = conn_recv(c->fd, c->rbuf, sizeof(c->rbuf), true, m);
		else
			r = conn_recv_wait(c->fd, c->rbuf, sizeof(c->rbuf), true, m);
		if (r > 0)
			return 0;
		if (r == 0)
			return -ECONNRESET;
		/* The kernel reports ECONNRESET (daemon closed with our request
		 * unread) before the datagrams still queued for us, e.g. the
		 * error saying why: read those first. */
		if (r == -ECONNRESET)
			return conn_recv(c->fd, c->rbuf, sizeof(c->rbuf), true, m) > 0
				   ? 0
				   : -ECONNRESET;
		if (r != -EAGAIN)
			return r;
		if (deadline) {
			int64_t left = deadline - p2p_now_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			tmo = left > INT32_MAX ? INT32_MAX : (int)left;
		}
		r = poll(&p, 1, tmo);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
	}
}

/*
 * A reply to a p2p_release_nowait() request?  Then it is consumed here: a
 * failure is kept for the next p2p_release_nowait()/p2p_flush().  Replies
 * come in request order, so it can only be the oldest one in flight.
 */
static bool p2p_nowait_reply(struct p2p_conn *c, const struct conn_msg *m)
{
	/* a no-reply release's answer: it failed (or the daemon says so anyway) */
	bool noreply =
	    c->noreply && (m->hdr.id & P2P_NOREPLY_ID) && m->hdr.opcode == P2P_OP_RELEASE;
	struct json_object *o = NULL;

	if (!noreply) { /* those are not in c->nowait */
		if (c->nowait_n == 0 || m->hdr.id != c->nowait[0] || m->hdr.opcode == P2P_OP_EVENT)
			return false;
		memmove(c->nowait, c->nowait + 1, --c->nowait_n * sizeof(c->nowait[0]));
	}
	if (m->fd >= 0)
		close(m->fd);
	if (c->deferred_err)
		return true;
	if (conn_json_parse(m->payload, m->hdr.len, &o, NULL, 0) < 0) {
		c->deferred_err = -EPROTO;
		snprintf(c->deferred_message, sizeof(c->deferred_message),
			 "release: malformed reply");
		return true;
	}
	if (!json_get_bool(o, "ok", false)) {
		int e = (int)json_get_u64(o, "errno", 0);

		c->deferred_err = e > 0 && e < 4096 ? -e : -EPROTO;
		snprintf(c->deferred_message, sizeof(c->deferred_message), "release: %s",
			 json_get_str(o, "message", "request failed"));
	}
	json_object_put(o);
	return true;
}

/*
 * One request/reply round trip.  Returns 0 with *ret_reply (ok: true), or
 * -errno (the daemon's errno for ok: false, with last_message set).
 */
static int p2p_call(struct p2p_conn *c, uint8_t op, struct json_object *req,
		    struct json_object **ret_reply, int *ret_fd)
{
	struct p2p_msg_hdr h = {.version = P2P_PROTO_VERSION, .opcode = op};
	const char *text = req ? json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN) : "{}";
	struct json_object *reply = NULL, *v;
	char *acc = NULL;
	size_t acc_len = 0;
	int64_t deadline;
	int fd = -1, r, e;

	if (!c)
		return -EINVAL;
	c->last_message[0] = '\0';
	h.id = c->next_id++;
	r = conn_send(c->fd, &h, text, strlen(text), -1);
	if (r == -EPIPE || r == -ECONNRESET) {
		/* the daemon may have said why before closing (connection limit) */
		struct conn_msg m;

		if (conn_recv(c->fd, c->rbuf, sizeof(c->rbuf), true, &m) > 0 && m.hdr.id == 0 &&
		    m.hdr.opcode != P2P_OP_EVENT) {
			struct json_object *eo = NULL;

			if (m.fd >= 0)
				close(m.fd);
			if (conn_json_parse(m.payload, m.hdr.len, &eo, NULL, 0) == 0) {
				e = (int)json_get_u64(eo, "errno", 0);
				snprintf(c->last_message, sizeof(c->last_message), "%s",
					 json_get_str(eo, "message", "connection closed by p2pd"));
				json_object_put(eo);
				if (e > 0 && e < 4096)
					return -e;
			}
		}
		snprintf(c->last_message, sizeof(c->last_message), "connection closed by p2pd");
		return -ECONNRESET;
	}
	if (r < 0) {
		snprintf(c->last_message, sizeof(c->last_message), "send: %s", p2p_strerror(r));
		return r;
	}
	deadline = c->timeout_ms ? p2p_now_ms() + c->timeout_ms : 0;
	for (;;) {
		struct conn_msg m;
		char *n;

		r = p2p_recv_one(c, deadline, &m);
		if (r < 0)
			goto fail;
		if (m.hdr.opcode == P2P_OP_EVENT && m.hdr.id == 0) {
			if (m.fd >= 0)
				close(m.fd);
			p2p_queue_event(c, m.payload, m.hdr.len);
			continue;
		}
		if (p2p_nowait_reply(c, &m))
			continue;
		if (m.hdr.id == 0 && acc_len == 0) {
			/* a connection-level error (framing violation, connection
			 * limit): the daemon closes the connection after it */
			struct json_object *eo = NULL;

			if (m.fd >= 0)
				close(m.fd);
			r = -EPROTO;
			if (conn_json_parse(m.payload, m.hdr.len, &eo, NULL, 0) == 0) {
				e = (int)json_get_u64(eo, "errno", 0);
				if (e > 0 && e < 4096)
					r = -e;
				snprintf(c->last_message, sizeof(c->last_message), "%s",
					 json_get_str(eo, "message", "connection refused by p2pd"));
				json_object_put(eo);
			}
			goto fail;
		}
		if (m.hdr.id != h.id) {
			/* a late reply to a request that timed out: drop it */
			if (m.fd >= 0)
				close(m.fd);
			continue;
		}
		if (m.hdr.opcode != op && m.hdr.opcode != 0) {
			if (m.fd >= 0)
				close(m.fd);
			r = -EPROTO;
			goto fail;
		}
		if (m.fd >= 0) {
			if (fd >= 0)
				close(fd);
			fd = m.fd;
		}
		if (acc_len + m.hdr.len > P2P_PROTO_MAX_REPLY) {
			r = -EMSGSIZE;
			goto fail;
		}
		n = realloc(acc, acc_len + m.hdr.len + 1);
		if (!n) {
			r = -ENOMEM;
			goto fail;
		}
		acc = n;
		memcpy(acc + acc_len, m.payload, m.hdr.len);
		acc_len += m.hdr.len;
		acc[acc_len] = '\0';
		if (!(m.hdr.flags & P2P_FLAG_MORE)) {
			/* answered in order: every earlier no-reply release was
			 * handled and its failure, if any, read above */
			c->noreply_unsynced = 0;
			c->noreply_unread = 0;
			break;
		}
	}
	r = conn_json_parse(acc, acc_len, &reply, c->last_message, sizeof(c->last_message));
	free(acc);
	acc = NULL;
	if (r < 0) {
		r = -EPROTO;
		goto fail;
	}
	if (!json_object_object_get_ex(reply, "ok", &v) ||
	    !json_object_is_type(v, json_type_boolean)) {
		snprintf(c->last_message, sizeof(c->last_message), "reply without \"ok\"");
		r = -EPROTO;
		goto fail;
	}
	if (!json_object_get_boolean(v)) {
		e = (int)json_get_u64(reply, "errno", 0);
		if (e <= 0 || e > 4095)
			e = conn_errno_from_name(json_get_str(reply, "code", NULL));
		if (e <= 0)
			e = EPROTO;
		snprintf(c->last_message, sizeof(c->last_message), "%s",
			 json_get_str(reply, "message", "request failed"));
		p2p_log(P2P_LOG_DEBUG, "%s: %s", conn_op_name(op) ? conn_op_name(op) : "?",
			c->last_message);
		r = -e;
		goto fail;
	}
	if (ret_fd)
		*ret_fd = fd;
	else if (fd >= 0)
		close(fd);
	*ret_reply = reply;
	return 0;
fail:
	free(acc);
	if (fd >= 0)
		close(fd);
	json_object_put(reply);
	if (!c->last_message[0])
		snprintf(c->last_message, sizeof(c->last_message), "%s", p2p_strerror(r));
	return r;
}

/* Call and return one member of the reply (or the whole reply) as a string. */
static int p2p_call_json(struct p2p_conn *c, uint8_t op, struct json_object *req,
			 const char *member, char **ret_json)
{
	struct json_object *reply, *v;
	char *s;
	int r;

	if (!ret_json)
		return -EINVAL;
	r = p2p_call(c, op, req, &reply, NULL);
	if (r < 0)
		return r;
	v = reply;
	if (member && !json_object_object_get_ex(reply, member, &v)) {
		json_object_put(reply);
		return -EPROTO;
	}
	s = strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	json_object_put(reply);
	if (!s)
		return -ENOMEM;
	*ret_json = s;
	return 0;
}

/* Does the hello reply @reply list feature @name? */
static bool p2p_reply_has_feature(struct json_object *reply, const char *name)
{
	struct json_object *feat = json_get_array(reply, "features");
	size_t n = feat ? json_object_array_length(feat) : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *f = json_object_array_get_idx(feat, i);

		if (json_object_is_type(f, json_type_string) &&
		    strcmp(json_object_get_string(f), name) == 0)
			return true;
	}
	return false;
}

P2P_EXPORT int p2p_hello(struct p2p_conn *conn, struct p2p_hello_info *ret_info)
{
	struct json_object *req = json_object_new_object(), *reply;
	int r;

	if (!req)
		return -ENOMEM;
	json_object_object_add(req, "version", json_object_new_int(P2P_PROTO_VERSION));
	json_object_object_add(req, "client", json_object_new_string("libp2pclient"));
	r = p2p_call(conn, P2P_OP_HELLO, req, &reply, NULL);
	json_object_put(req);
	if (r < 0)
		return r;
	if (json_get_u64(reply, "version", 0) != P2P_PROTO_VERSION) {
		json_object_put(reply);
		return -EPROTONOSUPPORT;
	}
	if (ret_info) {
		memset(ret_info, 0, sizeof(*ret_info));
		ret_info->version = (unsigned)json_get_u64(reply, "version", 0);
		snprintf(ret_info->server, sizeof(ret_info->server), "%s",
			 json_get_str(reply, "server", ""));
		ret_info->admin = json_get_bool(reply, "admin", false);
		ret_info->uid = (uint32_t)json_get_u64(reply, "uid", UINT32_MAX);
		ret_info->gid = (uint32_t)json_get_u64(reply, "gid", UINT32_MAX);
		ret_info->pid = (uint32_t)json_get_u64(reply, "pid", 0);
		ret_info->max_message_size = (uint32_t)json_get_u64(reply, "max_message_size", 0);
	}
	conn->noreply = p2p_reply_has_feature(reply, P2P_FEATURE_RELEASE_NOREPLY);
	json_object_put(reply);
	return 0;
}

P2P_EXPORT int p2p_topology_json(struct p2p_conn *conn, char **ret_json)
{
	return p2p_call_json(conn, P2P_OP_TOPOLOGY, NULL, "topology", ret_json);
}

P2P_EXPORT int p2p_check_json(struct p2p_conn *conn, const char *provider, const char *client,
			      char **ret_json)
{
	return p2p_check_ex_json(conn, provider, client, 0, ret_json);
}

P2P_EXPORT int p2p_check_ex_json(struct p2p_conn *conn, const char *provider, const char *client,
				 unsigned flags, char **ret_json)
{
	struct json_object *req;
	int r;

	if (!provider || !client || (flags & ~P2P_CHECK_KERNEL))
		return -EINVAL;
	req = json_object_new_object();
	if (!req)
		return -ENOMEM;
	json_object_object_add(req, "provider", json_object_new_string(provider));
	json_object_object_add(req, "client", json_object_new_string(client));
	if (flags & P2P_CHECK_KERNEL)
		json_object_object_add(req, "kernel", json_object_new_boolean(1));
	r = p2p_call_json(conn, P2P_OP_CHECK, req, "check", ret_json);
	json_object_put(req);
	return r;
}

P2P_EXPORT int p2p_matrix_json(struct p2p_conn *conn, bool all, char **ret_json)
{
	struct json_object *req = json_object_new_object();
	int r;

	if (!req)
		return -ENOMEM;
	json_object_object_add(req, "all", json_object_new_boolean(all));
	r = p2p_call_json(conn, P2P_OP_MATRIX, req, "matrix", ret_json);
	json_object_put(req);
	return r;
}

P2P_EXPORT const char *p2p_buf_type_name(enum p2p_buf_type t)
{
	switch (t) {
	case P2P_BUF_P2P:
		return P2P_TYPE_NAME_P2P;
	case P2P_BUF_HOST:
		return P2P_TYPE_NAME_HOST;
	case P2P_BUF_MEMFD:
		return P2P_TYPE_NAME_MEMFD;
	}
	return NULL;
}

static int p2p_info_from_json(struct json_object *b, struct p2p_buffer_info *ret)
{
	const char *type = json_get_str(b, "type", "");

	memset(ret, 0, sizeof(*ret));
	ret->id = json_get_u64(b, "id", 0);
	ret->size = json_get_u64(b, "size", 0);
	if (strcmp(type, P2P_TYPE_NAME_P2P) == 0)
		ret->type = P2P_BUF_P2P;
	else if (strcmp(type, P2P_TYPE_NAME_HOST) == 0)
		ret->type = P2P_BUF_HOST;
	else if (strcmp(type, P2P_TYPE_NAME_MEMFD) == 0)
		ret->type = P2P_BUF_MEMFD;
	else
		return -EPROTO;
	snprintf(ret->type_name, sizeof(ret->type_name), "%s", type);
	snprintf(ret->backend, sizeof(ret->backend), "%s", json_get_str(b, "backend", ""));
	snprintf(ret->provider, sizeof(ret->provider), "%s", json_get_str(b, "provider", ""));
	snprintf(ret->name, sizeof(ret->name), "%s", json_get_str(b, "name", ""));
	return ret->id ? 0 : -EPROTO;
}

P2P_EXPORT int p2p_alloc(struct p2p_conn *conn, const struct p2p_alloc_req *req,
			 struct p2p_buffer_info *ret_info, int *ret_fd, char **ret_json)
{
	struct json_object *o, *arr, *reply = NULL, *b;
	struct p2p_buffer_info info;
	unsigned types;
	size_t i;
	int r, fd = -1;

	if (!conn || !req || !ret_fd || req->size == 0 || (req->npeers && !req->peers))
		return -EINVAL;
	types = req->types ? req->types : P2P_BUF_ANY_DMABUF;
	if (types & ~(unsigned)(P2P_BUF_P2P | P2P_BUF_HOST | P2P_BUF_MEMFD))
		return -EINVAL;
	o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "size", json_object_new_uint64(req->size));
	json_object_object_add(o, "provider",
			       json_object_new_string(req->provider ? req->provider : "auto"));
	arr = json_object_new_array();
	for (i = 0; arr && i < req->npeers; i++)
		json_object_array_add(arr,
				      json_object_new_string(req->peers[i] ? req->peers[i] : ""));
	json_object_object_add(o, "peers", arr);
	arr = json_object_new_array();
	if (arr && (types & P2P_BUF_P2P))
		json_object_array_add(arr, json_object_new_string(P2P_TYPE_NAME_P2P));
	if (arr && (types & P2P_BUF_HOST))
		json_object_array_add(arr, json_object_new_string(P2P_TYPE_NAME_HOST));
	if (arr && (types & P2P_BUF_MEMFD))
		json_object_array_add(arr, json_object_new_string(P2P_TYPE_NAME_MEMFD));
	json_object_object_add(o, "types", arr);
	if (req->name)
		json_object_object_add(o, "name", json_object_new_string(req->name));
	r = p2p_call(conn, P2P_OP_ALLOC, o, &reply, &fd);
	json_object_put(o);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(reply, "buffer", &b) || p2p_info_from_json(b, &info) < 0 ||
	    fd < 0) {
		snprintf(conn->last_message, sizeof(conn->last_message),
			 fd < 0 ? "alloc reply without a file descriptor"
				: "malformed alloc reply");
		r = -EPROTO;
		goto out;
	}
	{ /* never trust a size the fd does not have (a dma-buf's and a memfd's
	   * inode size is the buffer's) */
		struct stat st = {0};

		if (fstat(fd, &st) < 0 || st.st_size < 0 || (uint64_t)st.st_size < info.size ||
		    info.size < req->size) {
			snprintf(conn->last_message, sizeof(conn->last_message),
				 "alloc reply: the buffer's fd holds %lld bytes, the reply says "
				 "%llu (%llu asked for)",
				 (long long)st.st_size, (unsigned long long)info.size,
				 (unsigned long long)req->size);
			r = -EPROTO;
			goto out;
		}
	}
	if (ret_json) {
		char *s = strdup(json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN));

		if (!s) {
			r = -ENOMEM;
			goto out;
		}
		*ret_json = s;
	}
	if (ret_info)
		*ret_info = info;
	*ret_fd = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	json_object_put(reply);
	return r;
}

static int p2p_call_id(struct p2p_conn *conn, uint8_t op, uint64_t id)
{
	struct json_object *o = json_object_new_object(), *reply;
	int r;

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "id", json_object_new_uint64(id));
	r = p2p_call(conn, op, o, &reply, NULL);
	json_object_put(o);
	if (r < 0)
		return r;
	json_object_put(reply);
	return 0;
}

P2P_EXPORT int p2p_release(struct p2p_conn *conn, uint64_t id)
{
	return p2p_call_id(conn, P2P_OP_RELEASE, id);
}

/* The error of an earlier release_nowait (cleared), or 0. */
static int p2p_take_deferred(struct p2p_conn *c)
{
	int r = c->deferred_err;

	if (r) {
		snprintf(c->last_message, sizeof(c->last_message), "%s", c->deferred_message);
		c->deferred_err = 0;
	}
	return r;
}

/* Read answers to release_nowait requests: until none is in flight (@wait),
 * or only those already here. */
static int p2p_nowait_drain(struct p2p_conn *c, bool wait)
{
	int64_t deadline = c->timeout_ms ? p2p_now_ms() + c->timeout_ms : 0;

	if (!wait)
		c->noreply_unread = 0;
	/* no-reply releases are never waited for here: p2p_flush() syncs */
	while (c->nowait_n > 0 || (!wait && c->noreply_unsynced > 0)) {
		struct conn_msg m;
		int r;

		if (wait) {
			r = p2p_recv_one(c, deadline, &m);
		} else {
			r = conn_recv(c->fd, c->rbuf, sizeof(c->rbuf), true, &m);
			if (r == -EAGAIN)
				return 0;
			r = r == 0 ? -ECONNRESET : r < 0 ? r : 0;
		}
		if (r < 0) {
			snprintf(c->last_message, sizeof(c->last_message), "release: %s",
				 p2p_strerror(r));
			return r;
		}
		if (p2p_nowait_reply(c, &m))
			continue;
		if (m.fd >= 0)
			close(m.fd);
		if (m.hdr.opcode == P2P_OP_EVENT && m.hdr.id == 0)
			p2p_queue_event(c, m.payload, m.hdr.len);
		else if (m.hdr.id == 0)
			return -ECONNRESET; /* the daemon's connection-level error */
	}
	return 0;
}

/*
 * Send one release of buffer @id: a no-reply one (answered only when it
 * fails, its request id marked with P2P_NOREPLY_ID) or an ordinary one.
 * Returns 0 with the request id in *@ret_rid, or -errno with last_message set.
 */
static int p2p_send_release(struct p2p_conn *c, uint64_t id, bool noreply, uint64_t *ret_rid)
{
	struct p2p_msg_hdr h = {.version = P2P_PROTO_VERSION, .opcode = P2P_OP_RELEASE};
	char text[64];
	int r;

	h.id = c->next_id++;
	if (noreply) {
		h.id = (h.id & ~P2P_NOREPLY_ID) | P2P_NOREPLY_ID;
		snprintf(text, sizeof(text), "{\"id\":%llu,\"reply\":false}",
			 (unsigned long long)id);
	} else {
		snprintf(text, sizeof(text), "{\"id\":%llu}", (unsigned long long)id);
	}
	r = conn_send(c->fd, &h, text, strlen(text), -1);
	if (r < 0) {
		snprintf(c->last_message, sizeof(c->last_message), "release: send: %s",
			 p2p_strerror(r));
		return r;
	}
	*ret_rid = h.id;
	return 0;
}

/*
 * A release the daemon answers only when it fails: nothing to wait for, and
 * nothing in flight to count.  It is sent at once (the memory goes back
 * now, not at the next request); the socket is looked at before every
 * P2P_NOREPLY_BATCH of them, so failures never pile up unread.
 */
static int p2p_release_noreply(struct p2p_conn *conn, uint64_t id)
{
	uint64_t rid;
	int r = 0;

	if (conn->noreply_unread >= P2P_NOREPLY_BATCH || conn->nowait_n > 0)
		r = p2p_nowait_drain(conn, false);
	if (r == 0)
		r = p2p_send_release(conn, id, true, &rid);
	if (r < 0)
		return r;
	conn->noreply_unsynced++;
	conn->noreply_unread++;
	return p2p_take_deferred(conn);
}

P2P_EXPORT int p2p_release_nowait(struct p2p_conn *conn, uint64_t id)
{
	uint64_t rid;
	int r;

	if (!conn)
		return -EINVAL;
	if (conn->noreply)
		return p2p_release_noreply(conn, id);
	r = p2p_nowait_drain(conn, false);
	if (r == 0 && conn->nowait_n == P2P_MAX_NOWAIT) {
		/* bounded: wait for the oldest before sending another */
		int64_t deadline = conn->timeout_ms ? p2p_now_ms() + conn->timeout_ms : 0;

		while (r == 0 && conn->nowait_n == P2P_MAX_NOWAIT) {
			struct conn_msg m;

			r = p2p_recv_one(conn, deadline, &m);
			if (r == 0 && !p2p_nowait_reply(conn, &m)) {
				if (m.fd >= 0)
					close(m.fd);
				if (m.hdr.opcode == P2P_OP_EVENT && m.hdr.id == 0)
					p2p_queue_event(conn, m.payload, m.hdr.len);
			}
		}
	}
	if (r < 0)
		return r;
	r = p2p_send_release(conn, id, false, &rid);
	if (r < 0)
		return r;
	conn->nowait[conn->nowait_n++] = rid;
	return p2p_take_deferred(conn);
}

P2P_EXPORT int p2p_flush(struct p2p_conn *conn)
{
	struct json_object *reply;
	int r;

	if (!conn)
		return -EINVAL;
	r = p2p_nowait_drain(conn, true);
	if (r == 0 && conn->noreply_unsynced > 0) {
		/* the barrier: its answer comes after any earlier release's */
		r = p2p_call(conn, P2P_OP_SYNC, NULL, &reply, NULL);
		if (r == 0)
			json_object_put(reply);
		else
			snprintf(conn->last_message, sizeof(conn->last_message),
				 "release: sync: %s", p2p_strerror(r));
	}
	return r < 0 ? r : p2p_take_deferred(conn);
}

P2P_EXPORT int p2p_list(struct p2p_conn *conn, struct p2p_buffer_info **ret_bufs, size_t *ret_n)
{
	struct json_object *reply, *arr;
	struct p2p_buffer_info *bufs;
	size_t i, n;
	int r;

	if (!ret_bufs || !ret_n)
		return -EINVAL;
	r = p2p_call(conn, P2P_OP_LIST, NULL, &reply, NULL);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(reply, "buffers", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		json_object_put(reply);
		return -EPROTO;
	}
	n = json_object_array_length(arr);
	bufs = calloc(n ? n : 1, sizeof(*bufs));
	if (!bufs) {
		json_object_put(reply);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		if (p2p_info_from_json(json_object_array_get_idx(arr, i), &bufs[i]) < 0) {
			free(bufs);
			json_object_put(reply);
			return -EPROTO;
		}
	}
	json_object_put(reply);
	*ret_bufs = bufs;
	*ret_n = n;
	return 0;
}

P2P_EXPORT int p2p_list_json(struct p2p_conn *conn, char **ret_json)
{
	return p2p_call_json(conn, P2P_OP_LIST, NULL, "buffers", ret_json);
}

P2P_EXPORT int p2p_admin_clients_json(struct p2p_conn *conn, char **ret_json)
{
	return p2p_call_json(conn, P2P_OP_CLIENTS, NULL, "clients", ret_json);
}

P2P_EXPORT int p2p_admin_buffers_json(struct p2p_conn *conn, char **ret_json)
{
	return p2p_call_json(conn, P2P_OP_BUFFERS, NULL, "buffers", ret_json);
}

P2P_EXPORT int p2p_admin_stats_json(struct p2p_conn *conn, char **ret_json)
{
	return p2p_call_json(conn, P2P_OP_STATS, NULL, "stats", ret_json);
}

P2P_EXPORT int p2p_admin_revoke(struct p2p_conn *conn, uint64_t id)
{
	return p2p_call_id(conn, P2P_OP_REVOKE, id);
}

P2P_EXPORT int p2p_admin_reload(struct p2p_conn *conn)
{
	struct json_object *reply;
	int r = p2p_call(conn, P2P_OP_RELOAD, NULL, &reply, NULL);

	if (r < 0)
		return r;
	json_object_put(reply);
	return 0;
}

P2P_EXPORT int p2p_request_json(struct p2p_conn *conn, unsigned opcode, const char *json_request,
				char **ret_json)
{
	struct json_object *req = NULL;
	int r;

	if (opcode == 0 || opcode > 255)
		return -EINVAL;
	if (json_request) {
		r = conn_json_parse(json_request, strlen(json_request), &req, NULL, 0);
		if (r < 0)
			return r;
	}
	r = p2p_call_json(conn, (uint8_t)opcode, req, NULL, ret_json);
	json_object_put(req);
	return r;
}

P2P_EXPORT int p2p_next_event(struct p2p_conn *conn, struct p2p_event *ret)
{
	if (!conn || !ret)
		return -EINVAL;
	/* drain what is readable now without blocking */
	while (conn->ev_count == 0) {
		struct conn_msg m;
		int r = conn_recv(conn->fd, conn->rbuf, sizeof(conn->rbuf), true, &m);

		if (r == -EAGAIN)
			return 0;
		if (r == 0)
			return -ECONNRESET;
		if (r < 0)
			return r;
		if (m.fd >= 0)
			close(m.fd);
		if (p2p_nowait_reply(conn, &m))
			continue;
		if (m.hdr.opcode == P2P_OP_EVENT && m.hdr.id == 0)
			p2p_queue_event(conn, m.payload, m.hdr.len);
		/* anything else is a stale reply: dropped */
	}
	*ret = conn->events[conn->ev_head];
	conn->ev_head = (conn->ev_head + 1) % P2P_EVENT_QUEUE;
	conn->ev_count--;
	return 1;
}
