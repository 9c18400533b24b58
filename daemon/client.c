/* SPDX-License-Identifier: MIT */
/*
 * client.c - a p2pd client connection: receive, queue, send (see client.h).
 */
#include "client.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "nss.h"
#include "ops.h"
#include "policy.h"
#include "server.h"

/* Requests handled per wakeup before yielding to other clients.  A wakeup
 * ends early after a request that is answered: its client most likely waits
 * for the answer and sent nothing more, and a recvmsg() only to hear EAGAIN
 * is a syscall the loop's level-triggered epoll makes unneeded (it reports
 * the socket again when more is queued).  Releases are read on from: the
 * next request usually follows right behind one. */
#define CLIENT_BATCH 16
/* Hard cap of queued replies and events: a client that lets this many pile
 * up is dropped (requests stop being read long before; events still come). */
#define CLIENT_MAX_QUEUED 4096

static void client_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct p2p_client *c = arg;
	struct p2p_server *srv = c->srv;

	(void)fd;
	(void)what;
	/* another connection of its uid may have filled the uid's share since
	 * this one was armed */
	client_update_reading(c);
	for (int i = 0; i < CLIENT_BATCH && c->reading; i++) {
		struct conn_msg m;
		int r = conn_recv(c->fd, srv->rbuf, srv->rbuf_size, false, &m);

		if (r == -EAGAIN)
			return;
		if (r == 0) {
			/* the client shut its sending side (or closed): what it
			 * asked for is still owed to it, then the connection ends */
			c->eof = true;
			if (list_empty(&c->out)) {
				server_drop_client(srv, c);
				return;
			}
			client_update_reading(c);
			return;
		}
		if (r < 0) {
			const char *what_s;

			switch (r) {
			case -EMSGSIZE:
				what_s = "datagram larger than max_message_size";
				break;
			case -EBADMSG:
				what_s = "malformed header (short datagram, length mismatch or "
					 "reserved flags)";
				break;
			case -EPROTONOSUPPORT:
				what_s = "unsupported protocol version";
				break;
			case -ENOBUFS:
				what_s = "control data truncated (MSG_CTRUNC)";
				break;
			case -EBADF:
				what_s = "requests must not carry file descriptors";
				break;
			default:
				if (r == -ECONNRESET || r == -EPIPE) {
					server_drop_client(srv, c);
					return;
				}
				what_s = "receive failed";
				break;
			}
			server_protocol_error(srv, c, r, what_s);
			return;
		}
		client_touch(c);
		if (ops_dispatch(srv, c, &m) < 0)
			return; /* c was dropped */
		if (m.hdr.opcode != P2P_OP_RELEASE)
			return;
	}
}

static void client_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct p2p_client *c = arg;

	(void)fd;
	(void)what;
	struct p2p_server *srv = c->srv;

	if (client_flush(c) < 0)
		server_drop_client(srv, c);
	else
		server_check_drained(srv);
}

void client_touch(struct p2p_client *c)
{
	struct timeval tv = {.tv_sec = c->srv->cfg->limits.idle_timeout};

	event_add(c->ev_idle, &tv);
}

/* limits.idle_timeout passed without a request: a connection that holds no
 * buffer and has nothing queued only takes a slot, drop it (issue 16 item 4). */
static void client_on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct p2p_client *c = arg;
	struct p2p_server *srv = c->srv;

	(void)fd;
	(void)what;
	if (c->own.usage.buffers || !list_empty(&c->out) || srv->stopping) {
		client_touch(c);
		return;
	}
	log_msg(LOG_INFO, "client %llu (uid %u, pid %d) idle for %u s without buffers: closed",
		(unsigned long long)c->id, (unsigned)c->uid, (int)c->pid,
		srv->cfg->limits.idle_timeout);
	srv->stats.idle_closed++;
	server_drop_client(srv, c);
}

int client_new_take_fd(struct p2p_server *srv, int fd, uint64_t id, struct p2p_client **ret)
{
	struct p2p_client *c;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred)) {
		int r = -errno;

		close(fd);
		return r ? r : -EIO;
	}
	{ /* room for a few whole reply chunks whatever net.core.wmem_default says */
		int sndbuf = 4 * P2P_PROTO_MAX_DATAGRAM;

		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->srv = srv;
	c->id = id;
	c->fd = fd;
	c->pid = cred.pid;
	c->uid = cred.uid;
	c->gid = cred.gid;
	buffer_owner_init(&c->own, id, cred.uid, cred.pid);
	list_init(&c->out);
	list_init(&c->link);
	c->quid = idmap_find(&srv->client_uids, cred.uid);
	if (!c->quid) {
		c->quid = calloc(1, sizeof(*c->quid));
		if (!c->quid || idmap_insert(&srv->client_uids, cred.uid, c->quid) < 0) {
			free(c->quid);
			c->quid = NULL;
			client_free(c);
			return -ENOMEM;
		}
		c->quid->uid = cred.uid;
	}
	c->quid->conns++;
	c->ev_read = event_new(srv->base, fd, EV_READ | EV_PERSIST, client_on_read, c);
	c->ev_write = event_new(srv->base, fd, EV_WRITE | EV_PERSIST, client_on_write, c);
	c->ev_idle = evtimer_new(srv->base, client_on_idle, c);
	if (!c->ev_read || !c->ev_write || !c->ev_idle) {
		client_free(c);
		return -ENOMEM;
	}
	client_touch(c);
	/* requests are read once policy can see the uid's groups (nss.h) */
	c->nss_wait = !nss_cache_want(srv->nss, c->uid, c->gid);
	client_update_reading(c);
	*ret = c;
	return 0;
}

static void client_set_reading(struct p2p_client *c, bool on)
{
	if (on == c->reading)
		return;
	if (on)
		event_add(c->ev_read, NULL);
	else
		event_del(c->ev_read);
	c->reading = on;
}

static bool client_uid_over(const struct p2p_client *c)
{
	const struct p2p_server *srv = c->srv;

	return c->quid->queued >= srv->cfg->limits.max_queued_bytes_per_uid &&
	       !policy_is_admin(srv->cfg, c->uid, c->gid);
}

void client_update_reading(struct p2p_client *c)
{
	const struct config_limits *l = &c->srv->cfg->limits;

	client_set_reading(c, !c->nss_wait && !c->op_wait && !c->srv->stopping && !c->eof &&
				  c->out_count < l->max_pending_per_client &&
				  c->out_bytes < l->max_queued_bytes && !client_uid_over(c));
}

void client_stop_reading(struct p2p_client *c)
{
	client_set_reading(c, false);
}

/* @n more (or fewer) reply bytes wait for @c.  When its uid's total drops
 * back under limits.max_queued_bytes_per_uid, the uid's other connections
 * paused for it may read again. */
static void client_account_out(struct p2p_client *c, int64_t n)
{
	struct p2p_server *srv = c->srv;
	uint64_t bound = srv->cfg->limits.max_queued_bytes_per_uid;
	bool was_over = c->quid->queued >= bound;

	c->out_bytes += (uint64_t)n;
	c->quid->queued += (uint64_t)n;
	if (!was_over || c->quid->queued >= bound || srv->stopping)
		return;
	list_for_each (struct p2p_client, k, &srv->clients, link) {
		if (k != c && k->quid == c->quid && !k->reading)
			client_update_reading(k);
	}
}

/* Done with a reply's @fd (sent, or dropped with the reply): buffer
 * @watch_id's (or 0) is watched through it first. */
static void client_close_fd(struct p2p_client *c, int fd, uint64_t watch_id)
{
	if (fd < 0)
		return;
	if (watch_id)
		buffer_watch_late(&c->srv->buffers, watch_id, fd);
	close(fd);
}

static void client_outmsg_close_fd(struct p2p_client *c, struct p2p_outmsg *o)
{
	client_close_fd(c, o->fd, o->watch_id);
	o->fd = -1;
}

static void client_outmsg_free(struct p2p_client *c, struct p2p_outmsg *o)
{
	list_remove(&o->link);
	c->out_count--;
	if (o->off < o->reply->len)
		client_account_out(c, -(int64_t)(o->reply->len - o->off));
	client_outmsg_close_fd(c, o);
	client_reply_unref(o->reply);
	free(o);
}

struct p2p_reply *client_reply_new(const char *data, size_t len)
{
	struct p2p_reply *r = malloc(sizeof(*r) + len);

	if (!r)
		return NULL;
	r->refs = 1;
	r->len = len;
	memcpy(r->data, data, len);
	return r;
}

struct p2p_reply *client_reply_ref(struct p2p_reply *r)
{
	r->refs++;
	return r;
}

void client_reply_unref(struct p2p_reply *r)
{
	if (r && --r->refs == 0)
		free(r);
}

void client_free(struct p2p_client *c)
{
	if (!c)
		return;
	buffer_owner_drop(&c->srv->buffers, &c->own);
	list_for_each_safe (struct p2p_outmsg, o, &c->out, link) {
		client_outmsg_free(c, o);
	}
	if (c->quid && --c->quid->conns == 0) {
		idmap_remove(&c->srv->client_uids, c->uid);
		free(c->quid);
	}
	if (c->ev_read)
		event_free(c->ev_read);
	if (c->ev_write)
		event_free(c->ev_write);
	if (c->ev_idle)
		event_free(c->ev_idle);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

int client_flush(struct p2p_client *c)
{
	struct p2p_outmsg *o;

	while ((o = list_first(&c->out, struct p2p_outmsg, link))) {
		size_t left = o->reply->len - o->off;
		size_t n = left > P2P_PROTO_CHUNK ? P2P_PROTO_CHUNK : left;
		struct p2p_msg_hdr h = o->hdr;
		int r;

		if (n < left)
			h.flags |= P2P_FLAG_MORE;
		r = conn_send(c->fd, &h, o->reply->data + o->off, n, o->fd);
		if (r == -EAGAIN)
			break;
		if (r < 0)
			return r;
		client_outmsg_close_fd(c, o); /* it rode on the first datagram */
		o->off += n;
		client_account_out(c, -(int64_t)n);
		if (o->off == o->reply->len)
			client_outmsg_free(c, o);
	}
	if (!list_empty(&c->out))
		event_add(c->ev_write, NULL);
	else
		event_del(c->ev_write);
	if (c->eof && list_empty(&c->out))
		return -ESHUTDOWN; /* half-closed and all answered: the caller drops it */
	client_update_reading(c);
	return 0;
}

/* Queue @reply (a reference taken) with @fd (taken), buffer @watch_id's or
 * 0, and send what the socket takes.  Returns 0 or -errno. */
static int client_queue(struct p2p_client *c, uint8_t op, uint64_t id, uint16_t flags,
			struct p2p_reply *reply, int fd, uint64_t watch_id)
{
	struct p2p_outmsg *o;

	if (c->out_count >= CLIENT_MAX_QUEUED || !(o = calloc(1, sizeof(*o)))) {
		client_close_fd(c, fd, watch_id);
		return c->out_count >= CLIENT_MAX_QUEUED ? -ENOBUFS : -ENOMEM;
	}
	o->hdr = (struct p2p_msg_hdr){
	    .version = P2P_PROTO_VERSION, .opcode = op, .flags = flags, .id = id};
	o->fd = fd;
	o->watch_id = fd >= 0 ? watch_id : 0;
	o->reply = client_reply_ref(reply);
	list_append(&c->out, &o->link);
	c->out_count++;
	client_account_out(c, (int64_t)reply->len);
	return client_flush(c);
}

int client_queue_reply_take_fd(struct p2p_client *c, uint8_t op, uint64_t id, uint16_t flags,
			       struct p2p_reply *reply, int fd)
{
	return client_queue(c, op, id, flags, reply, fd, 0);
}

int client_queue_take_fd_watch(struct p2p_client *c, uint8_t op, uint64_t id, uint16_t flags,
			       const char *data, size_t len, int fd, uint64_t watch_id)
{
	struct p2p_reply *reply = client_reply_new(data, len);
	int r;

	if (!reply) {
		client_close_fd(c, fd, watch_id);
		return -ENOMEM;
	}
	r = client_queue(c, op, id, flags, reply, fd, watch_id);
	client_reply_unref(reply);
	return r;
}

int client_queue_take_fd(struct p2p_client *c, uint8_t op, uint64_t id, uint16_t flags,
			 const char *data, size_t len, int fd)
{
	return client_queue_take_fd_watch(c, op, id, flags, data, len, fd, 0);
}
