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
#include "server.h"

/* Requests handled per wakeup before yielding to other clients. */
#define CLIENT_BATCH 16
/* Hard cap of queued datagrams (a topology reply may be many chunks). */
#define CLIENT_MAX_QUEUED 4096

static void client_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct p2p_client *c = arg;
	struct p2p_server *srv = c->srv;

	(void)fd;
	(void)what;
	for (int i = 0; i < CLIENT_BATCH && c->reading; i++) {
		struct conn_msg m;
		int r = conn_recv(c->fd, srv->rbuf, srv->rbuf_size, false, &m);

		if (r == -EAGAIN)
			return;
		if (r == 0) {
			server_drop_client(srv, c);
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
	client_set_reading(c, true);
	*ret = c;
	return 0;
}

void client_set_reading(struct p2p_client *c, bool on)
{
	if (c->nss_wait)
		on = false;
	if (on == c->reading)
		return;
	if (on)
		event_add(c->ev_read, NULL);
	else
		event_del(c->ev_read);
	c->reading = on;
}

static void client_outmsg_free(struct p2p_outmsg *o)
{
	list_remove(&o->link);
	if (o->fd >= 0)
		close(o->fd);
	free(o);
}

void client_free(struct p2p_client *c)
{
	if (!c)
		return;
	buffer_owner_drop(&c->srv->buffers, &c->own);
	list_for_each_safe (struct p2p_outmsg, o, &c->out, link) {
		client_outmsg_free(o);
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
	unsigned max_pending = c->srv->cfg->limits.max_pending_per_client;

	while ((o = list_first(&c->out, struct p2p_outmsg, link))) {
		int r = conn_send(c->fd, &o->hdr, o->data, o->len, o->fd);

		if (r == -EAGAIN)
			break;
		if (r < 0)
			return r;
		c->out_count--;
		client_outmsg_free(o);
	}
	if (!list_empty(&c->out))
		event_add(c->ev_write, NULL);
	else
		event_del(c->ev_write);
	/* back-pressure: stop reading while many replies wait for the client */
	if (!c->srv->stopping)
		client_set_reading(c, c->out_count < max_pending);
	return 0;
}

int client_queue_take_fd(struct p2p_client *c, uint8_t op, uint64_t id, uint16_t flags,
			 const char *data, size_t len, int fd)
{
	size_t off = 0;
	bool first = true;

	if (c->out_count > CLIENT_MAX_QUEUED) {
		if (fd >= 0)
			close(fd);
		return -ENOBUFS;
	}
	do {
		size_t n = len - off > P2P_PROTO_CHUNK ? P2P_PROTO_CHUNK : len - off;
		struct p2p_outmsg *o = malloc(sizeof(*o) + n);

		if (!o) {
			if (first && fd >= 0)
				close(fd);
			return -ENOMEM;
		}
		o->hdr = (struct p2p_msg_hdr){
		    .version = P2P_PROTO_VERSION, .opcode = op, .flags = flags, .id = id};
		if (off + n < len)
			o->hdr.flags |= P2P_FLAG_MORE;
		o->fd = first ? fd : -1;
		o->len = n;
		memcpy(o->data, data + off, n);
		list_append(&c->out, &o->link);
		c->out_count++;
		off += n;
		first = false;
	} while (off < len);
	return client_flush(c);
}
