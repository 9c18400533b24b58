/* SPDX-License-Identifier: MIT */
/*
 * server.c - p2pd's event loop: listening sockets, accept, signals,
 * sd_notify, the watchdog and reload (see server.h).  The operations are in
 * ops.c, a buffer's life in buffer.c.
 */
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "closer.h"
#include "hotplug.h"
#include "log.h"
#include "nss.h"
#include "policy.h"
#include "sockfile.h"
#include "worker.h"

#define SERVER_DRAIN_SEC 2

static struct log_ctx server_client_ctx(const struct p2p_client *c)
{
	return (struct log_ctx){.uid = (long)c->uid, .pid = (long)c->pid};
}

void server_protocol_error(struct p2p_server *srv, struct p2p_client *c, int err, const char *what)
{
	struct log_ctx lc = server_client_ctx(c);
	char text[300];
	struct p2p_msg_hdr h = {.version = P2P_PROTO_VERSION, .flags = P2P_FLAG_REPLY};
	int n;

	srv->stats.protocol_errors++;
	log_ctx(LOG_NOTICE, &lc, "client %llu: protocol error: %s; disconnecting",
		(unsigned long long)c->id, what);
	/* best effort, bypassing the queue: the connection ends here */
	n = snprintf(text, sizeof(text),
		     "{\"ok\":false,\"errno\":%d,\"code\":\"%s\",\"message\":\"protocol error: %s; "
		     "disconnecting\"}",
		     err < 0 ? -err : err, conn_errno_name(err), what);
	if (n > 0 && (size_t)n < sizeof(text))
		(void)conn_send(c->fd, &h, text, (size_t)n, -1);
	server_drop_client(srv, c);
}

void server_check_drained(struct p2p_server *srv)
{
	if (!srv->stopping)
		return;
	list_for_each (struct p2p_client, c, &srv->clients, link) {
		if (!list_empty(&c->out))
			return;
	}
	event_base_loopbreak(srv->base);
}

void server_drop_client(struct p2p_server *srv, struct p2p_client *c)
{
	struct log_ctx lc = server_client_ctx(c);

	list_remove(&c->link);
	srv->n_clients--;
	log_ctx(LOG_DEBUG, &lc, "client %llu gone (%u buffers released)", (unsigned long long)c->id,
		c->own.usage.buffers);
	client_free(c);
	if (srv->stopping && list_empty(&srv->clients))
		event_base_loopbreak(srv->base);
}

struct p2p_client *server_find_client(struct p2p_server *srv, uint64_t id)
{
	list_for_each (struct p2p_client, c, &srv->clients, link) {
		if (c->id == id)
			return c;
	}
	return NULL;
}

/* ---- accept ---- */

/* nss.c answered for @uid: its waiting connections may send requests now. */
static void server_on_nss_ready(void *arg, uid_t uid)
{
	struct p2p_server *srv = arg;

	list_for_each (struct p2p_client, c, &srv->clients, link) {
		if (c->uid != uid || !c->nss_wait)
			continue;
		c->nss_wait = false;
		client_update_reading(c);
	}
}

/*
 * The connection caps (issue 16 item 4): max_connections in total, of which
 * reserved_admin_connections only admins may take, and max_connections_per_uid
 * for any one non-admin uid.  True when @fd was refused (an EUSERS reply was
 * sent; the caller closes it).
 */
static bool server_refuse_over_limit(struct p2p_server *srv, int fd)
{
	const struct config_limits *l = &srv->cfg->limits;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char text[256];
	unsigned same_uid = 0;
	int n = -1;

	_Static_assert(EUSERS == 87, "EUSERS");
	if (srv->n_clients >= l->max_connections) {
		n = snprintf(text, sizeof(text), "too many connections (limits.max_connections)");
	} else if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		   len != sizeof(cred)) {
		return false; /* client_new_take_fd() reports it */
	} else if (!policy_is_admin(srv->cfg, cred.uid, cred.gid)) {
		if (srv->n_clients >= l->max_connections - l->reserved_admin_connections) {
			n = snprintf(text, sizeof(text),
				     "too many connections (limits.max_connections; the last %u "
				     "are reserved for admins)",
				     l->reserved_admin_connections);
		} else {
			list_for_each (struct p2p_client, c, &srv->clients, link)
				same_uid += c->uid == cred.uid;
			if (same_uid >= l->max_connections_per_uid)
				n = snprintf(text, sizeof(text),
					     "too many connections of uid %u "
					     "(limits.max_connections_per_uid is %u)",
					     (unsigned)cred.uid, l->max_connections_per_uid);
		}
	}
	if (n < 0)
		return false;
	{
		char msg[400];
		struct p2p_msg_hdr h = {.flags = P2P_FLAG_REPLY};
		int m = snprintf(
		    msg, sizeof(msg),
		    "{\"ok\":false,\"errno\":87,\"code\":\"EUSERS\",\"message\":\"%s\"}", text);

		(void)conn_send(fd, &h, msg, (size_t)m, -1);
	}
	return true;
}

static void server_listen_enable(struct p2p_server *srv, bool on)
{
	for (int i = 0; i < srv->n_listen; i++) {
		if (!srv->listen_ev[i])
			continue;
		if (on)
			event_add(srv->listen_ev[i], NULL);
		else
			event_del(srv->listen_ev[i]);
	}
}

static void server_on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct p2p_server *srv = arg;

	(void)fd;
	(void)what;
	srv->accept_paused = false;
	if (!srv->stopping)
		server_listen_enable(srv, true);
}

/*
 * accept() failed for want of file descriptors: the pending connection stays
 * in the backlog and the listening socket stays readable, so retrying at once
 * would spin the loop.  Stop watching the listening sockets for
 * SERVER_ACCEPT_PAUSE_MS and log at most one line a minute (with how many
 * failures it stands for).
 */
#define SERVER_ACCEPT_PAUSE_MS 250
#define SERVER_ACCEPT_LOG_MS 60000
static void server_accept_exhausted(struct p2p_server *srv, int err)
{
	struct timeval tv = {.tv_usec = SERVER_ACCEPT_PAUSE_MS * 1000};
	struct timespec ts;
	int64_t now;

	srv->stats.accept_fd_exhausted++;
	srv->accept_fails_unlogged++;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (!srv->accept_fail_logged_ms ||
	    now - srv->accept_fail_logged_ms >= SERVER_ACCEPT_LOG_MS) {
		log_msg(LOG_WARNING,
			"accept: %s (%llu times since the last report); not accepting for %d ms "
			"at a time until descriptors are free (%u clients)",
			strerror(err), (unsigned long long)srv->accept_fails_unlogged,
			SERVER_ACCEPT_PAUSE_MS, srv->n_clients);
		srv->accept_fails_unlogged = 0;
		srv->accept_fail_logged_ms = now;
	}
	if (srv->accept_paused)
		return;
	if (!srv->ev_accept_resume)
		srv->ev_accept_resume = evtimer_new(srv->base, server_on_accept_resume, srv);
	if (!srv->ev_accept_resume)
		return; /* out of memory: keep trying, the log is bounded anyway */
	server_listen_enable(srv, false);
	srv->accept_paused = true;
	evtimer_add(srv->ev_accept_resume, &tv);
}

static void server_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct p2p_server *srv = arg;

	(void)what;
	for (int i = 0; i < 64; i++) {
		struct p2p_client *c;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), r;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				server_accept_exhausted(srv, errno);
			return;
		}
		srv->stats.connections_total++;
		if (server_refuse_over_limit(srv, fd)) {
			srv->stats.connections_rejected++;
			close(fd);
			continue;
		}
		r = client_new_take_fd(srv, fd, srv->next_client_id++, &c);
		if (r < 0) {
			log_msg(LOG_WARNING, "new client: %s", strerror(-r));
			continue;
		}
		list_insert(&srv->clients, &c->link);
		srv->n_clients++;
	}
}

/* ---- released buffers still held by a client (buffer.h) ---- */

#define SERVER_HELD_POLL_MS 500

static void server_on_buffers_gone(evutil_socket_t fd, short what, void *arg)
{
	struct p2p_server *srv = arg;

	(void)fd;
	(void)what;
	buffer_watch_read(&srv->buffers);
}

static void server_on_buffers_poll(evutil_socket_t fd, short what, void *arg)
{
	struct p2p_server *srv = arg;
	struct timeval tv = {.tv_usec = SERVER_HELD_POLL_MS * 1000};

	(void)fd;
	(void)what;
	if (buffer_refresh_held(&srv->buffers) > 0)
		evtimer_add(srv->ev_buffers_poll, &tv);
}

/* buffer.c: a released dma-buf is still held; look again until it is not. */
static void server_on_buffer_held(void *arg)
{
	struct p2p_server *srv = arg;
	struct timeval tv = {.tv_usec = SERVER_HELD_POLL_MS * 1000};

	if (srv->ev_buffers_poll && !evtimer_pending(srv->ev_buffers_poll, NULL))
		evtimer_add(srv->ev_buffers_poll, &tv);
}

static int server_watch_buffers(struct p2p_server *srv)
{
	int fd = buffer_watch_fd(&srv->buffers);

	srv->ev_buffers_poll = evtimer_new(srv->base, server_on_buffers_poll, srv);
	if (!srv->ev_buffers_poll)
		return -ENOMEM;
	srv->buffers.on_held = server_on_buffer_held;
	srv->buffers.on_held_arg = srv;
	if (fd < 0) {
		log_msg(LOG_WARNING,
			"inotify_init1 failed: a released memfd buffer stops counting "
			"against its uid's quota at once, even while a client holds it");
		return 0;
	}
	srv->ev_buffers_gone =
	    event_new(srv->base, fd, EV_READ | EV_PERSIST, server_on_buffers_gone, srv);
	if (!srv->ev_buffers_gone || event_add(srv->ev_buffers_gone, NULL) < 0)
		return -ENOMEM;
	return 0;
}

/* ---- config, topology, reload ---- */

/* A model swapped out while a job still reads it (server_model_hold()). */
struct server_retired {
	struct list_link link;
	struct p2p_config *cfg; /* NULL: a rescan kept the config */
	struct topo *topo;
	struct verdict_ctx *vctx;
};

void server_model_hold(struct p2p_server *srv)
{
	srv->model_users++;
}

static void server_free_retired(struct p2p_server *srv)
{
	list_for_each_safe (struct server_retired, r, &srv->retired, link) {
		list_remove(&r->link);
		verdict_ctx_free(r->vctx);
		topo_free(r->topo);
		config_free(r->cfg);
		free(r);
	}
}

void server_model_release(struct p2p_server *srv)
{
	if (srv->model_users && --srv->model_users == 0)
		server_free_retired(srv);
}

/*
 * Make @t/@v (and @cfg, unless NULL: a rescan keeps the config) the model.
 * The old one is freed now, or kept until the last job reading it is done.
 * Returns 0, or -ENOMEM with nothing changed (the caller frees the new one).
 */
static int server_swap_model(struct p2p_server *srv, struct p2p_config *cfg, struct topo *t,
			     struct verdict_ctx *v)
{
	if (srv->model_users) {
		struct server_retired *r = calloc(1, sizeof(*r));

		if (!r)
			return -ENOMEM;
		*r = (struct server_retired){
		    .cfg = cfg ? srv->cfg : NULL, .topo = srv->topo, .vctx = srv->vctx};
		list_append(&srv->retired, &r->link);
	} else {
		verdict_ctx_free(srv->vctx);
		topo_free(srv->topo);
		if (cfg)
			config_free(srv->cfg);
	}
	server_forget_replies(srv);
	if (cfg)
		srv->cfg = cfg;
	srv->topo = t;
	srv->vctx = v;
	srv->model_gen++;
	return 0;
}

void server_forget_replies(struct p2p_server *srv)
{
	client_reply_unref(srv->topo_reply);
	srv->topo_reply = NULL;
	for (size_t i = 0; i < sizeof(srv->matrix_reply) / sizeof(srv->matrix_reply[0]); i++) {
		client_reply_unref(srv->matrix_reply[i]);
		srv->matrix_reply[i] = NULL;
	}
}

/* Descriptors p2pd needs beside one per connection: those open now, plus
 * room for an alloc's fds in flight, dma-buf references, /proc reads. */
#define SERVER_FD_SPARE 32

int server_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

/*
 * limits.max_connections must fit RLIMIT_NOFILE (after server_raise_nofile):
 * otherwise accept() meets EMFILE with the cap not reached, and connections
 * wait in the backlog unanswered instead of getting EUSERS.  Lower it (and
 * reserved_admin_connections with it) with a log line; -EMFILE with @err when
 * not even one connection fits.
 */
/*
 * Lower @l->max_connections to what RLIMIT_NOFILE leaves: the descriptors
 * p2pd holds itself (all but its client connections, which are what the cap
 * counts) and SERVER_FD_SPARE.  Run once everything p2pd opens for itself is
 * open (backends, threads' eventfds, sockets, udev), and on every reload.
 */
static int server_fit_nofile(const struct p2p_server *srv, struct config_limits *l, char *err,
			     size_t errlen)
{
	struct rlimit rl;
	int used = server_count_fds();
	uint64_t room;

	if (used >= 0)
		used = used > (int)srv->n_clients ? used - (int)srv->n_clients : 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || used < 0)
		return 0;
	room = rl.rlim_cur > (rlim_t)used + SERVER_FD_SPARE
		   ? rl.rlim_cur - (rlim_t)used - SERVER_FD_SPARE
		   : 0;
	if (l->max_connections <= room)
		return 0;
	if (room < 1) {
		snprintf(err, errlen,
			 "RLIMIT_NOFILE is %llu: with %d descriptors in use and %d spare, no "
			 "client connection fits (raise LimitNOFILE=)",
			 (unsigned long long)rl.rlim_cur, used, SERVER_FD_SPARE);
		return -EMFILE;
	}
	log_msg(LOG_WARNING,
		"limits.max_connections %u does not fit RLIMIT_NOFILE %llu (%d descriptors in use, "
		"%d spare): using %llu",
		l->max_connections, (unsigned long long)rl.rlim_cur, used, SERVER_FD_SPARE,
		(unsigned long long)room);
	l->max_connections = (uint32_t)room;
	if (l->reserved_admin_connections >= l->max_connections)
		l->reserved_admin_connections = l->max_connections / 4;
	return 0;
}

static int server_load(struct p2p_server *srv, struct p2p_config **ret_cfg, struct topo **ret_topo,
		       struct verdict_ctx **ret_vctx, char *err, size_t errlen)
{
	struct p2p_config *cfg = NULL;
	struct topo *t = NULL;
	struct verdict_ctx *v = NULL;
	struct topo_opts to = {.cpu_override = srv->opts.cpu_override, .no_gpu = srv->opts.no_gpu};
	const char *path = srv->cfg_path[0] ? srv->cfg_path : NULL;
	int r;

	r = config_load(path, &cfg, err, errlen);
	if (r < 0) {
		if (err && errlen && !err[0])
			snprintf(err, errlen, "%s: %s", path ? path : "defaults", strerror(-r));
		return r;
	}
	/* at start-up p2pd opens more of its own first: server_setup() fits */
	r = srv->base ? server_fit_nofile(srv, &cfg->limits, err, errlen) : 0;
	if (r < 0) {
		config_free(cfg);
		return r;
	}
	r = topo_scan(srv->rootfd, &to, &t);
	if (r == -ENOENT) {
		t = NULL; /* no PCI at all: serve host buffers only */
	} else if (r < 0) {
		snprintf(err, errlen, "topology scan of %s failed: %s", srv->opts.fsroot,
			 strerror(-r));
		config_free(cfg);
		return r;
	} else {
		r = verdict_ctx_new(t, cfg->whitelist, cfg->n_whitelist, cfg->overrides,
				    cfg->n_overrides, &v);
		if (r == 0)
			verdict_ctx_set_kernel(v, &srv->kernel);
		if (r < 0) {
			snprintf(err, errlen, "verdict context: %s", strerror(-r));
			topo_free(t);
			config_free(cfg);
			return r;
		}
	}
	*ret_cfg = cfg;
	*ret_topo = t;
	*ret_vctx = v;
	return 0;
}

static int server_size_rbuf(struct p2p_server *srv, const struct p2p_config *cfg)
{
	size_t want = cfg->limits.max_message_size;
	unsigned char *n;

	if (want < P2P_PROTO_MIN_MESSAGE)
		want = P2P_PROTO_MIN_MESSAGE;
	if (want == srv->rbuf_size)
		return 0;
	n = realloc(srv->rbuf, want);
	if (!n)
		return -ENOMEM;
	srv->rbuf = n;
	srv->rbuf_size = want;
	return 0;
}

int server_reload(struct p2p_server *srv, char *err, size_t errlen)
{
	struct p2p_config *cfg;
	struct topo *t;
	struct verdict_ctx *v;
	int r;

	err[0] = '\0';
	sd_notify(0, "RELOADING=1\nSTATUS=Reloading configuration");
	r = server_load(srv, &cfg, &t, &v, err, errlen);
	if (r == 0 &&
	    ((r = server_size_rbuf(srv, cfg)) < 0 || (r = server_swap_model(srv, cfg, t, v)) < 0)) {
		snprintf(err, errlen, "out of memory");
		verdict_ctx_free(v);
		topo_free(t);
		config_free(cfg);
	}
	if (r < 0) {
		log_msg(LOG_ERR, "reload refused, old configuration stays in force: %s", err);
		sd_notifyf(0, "READY=1\nSTATUS=Serving (reload failed: %.200s)", err);
		return r;
	}
	nss_cache_expire(srv->nss); /* group membership may have changed too */
	srv->stats.reloads++;
	log_msg(LOG_INFO, "reloaded %s; %d PCI functions",
		srv->cfg_path[0] ? srv->cfg_path : "built-in defaults", t ? t->nfuncs : 0);
	sd_notifyf(0, "READY=1\nSTATUS=Serving %d PCI functions, %u clients", t ? t->nfuncs : 0,
		   srv->n_clients);
	return 0;
}

/* ---- signals, watchdog ---- */

static void server_on_sighup(evutil_socket_t s, short what, void *arg)
{
	struct p2p_server *srv = arg;
	char err[512];

	(void)s;
	(void)what;
	(void)server_reload(srv, err, sizeof(err));
}

static void server_on_drain_timeout(evutil_socket_t s, short what, void *arg)
{
	struct p2p_server *srv = arg;

	(void)s;
	(void)what;
	log_msg(LOG_NOTICE, "drain timeout: %u clients still connected", srv->n_clients);
	event_base_loopbreak(srv->base);
}

static void server_on_sigterm(evutil_socket_t s, short what, void *arg)
{
	struct p2p_server *srv = arg;
	struct timeval tv = {.tv_sec = SERVER_DRAIN_SEC};
	bool pending = false;

	(void)what;
	if (srv->stopping)
		return;
	srv->stopping = true;
	log_msg(LOG_INFO, "%s: stopping", s == SIGINT ? "SIGINT" : "SIGTERM");
	sd_notify(0, "STOPPING=1\nSTATUS=Stopping");
	for (int i = 0; i < srv->n_listen; i++)
		if (srv->listen_ev[i])
			event_del(srv->listen_ev[i]);
	/* no new requests; deliver what is queued, then go */
	list_for_each (struct p2p_client, c, &srv->clients, link) {
		client_stop_reading(c);
		if (!list_empty(&c->out))
			pending = true;
	}
	if (!pending) {
		event_base_loopbreak(srv->base);
		return;
	}
	srv->ev_drain = evtimer_new(srv->base, server_on_drain_timeout, srv);
	if (!srv->ev_drain)
		event_base_loopbreak(srv->base);
	else
		evtimer_add(srv->ev_drain, &tv);
}

static void server_on_watchdog(evutil_socket_t s, short what, void *arg)
{
	(void)s;
	(void)what;
	(void)arg;
	sd_notify(0, "WATCHDOG=1");
}

/* ---- PCI hotplug (hotplug.c) -> topology rescan ---- */

/* hotplug.c: PCI functions came, went or changed driver. */
static void server_on_rescan(void *arg)
{
	struct p2p_server *srv = arg;
	struct topo_opts to = {.cpu_override = srv->opts.cpu_override, .no_gpu = srv->opts.no_gpu};
	struct topo *t = NULL;
	struct verdict_ctx *v = NULL;
	int r;

	r = topo_scan(srv->rootfd, &to, &t);
	if (r == 0)
		r = verdict_ctx_new(t, srv->cfg->whitelist, srv->cfg->n_whitelist,
				    srv->cfg->overrides, srv->cfg->n_overrides, &v);
	if (r == 0)
		verdict_ctx_set_kernel(v, &srv->kernel);
	if (r == -ENOENT) {
		topo_free(t);
		t = NULL; /* no PCI left at all */
		verdict_ctx_free(v);
		v = NULL;
		r = 0;
	}
	if (r == 0 && (r = server_swap_model(srv, NULL, t, v)) < 0)
		verdict_ctx_free(v);
	if (r < 0) {
		topo_free(t);
		log_msg(LOG_WARNING, "PCI change: rescan failed (%s), keeping the old topology",
			strerror(-r));
		return;
	}
	srv->stats.rescans++;
	log_msg(LOG_INFO, "PCI change: topology rescanned, %d functions",
		srv->topo ? srv->topo->nfuncs : 0);
	sd_notifyf(0, "STATUS=Serving %d PCI functions, %u clients",
		   srv->topo ? srv->topo->nfuncs : 0, srv->n_clients);
}

static void server_watch_hotplug(struct p2p_server *srv)
{
	int r;

	if (srv->opts.no_hotplug || strcmp(srv->opts.fsroot, "/") != 0)
		return; /* a snapshot does not change */
	r = hotplug_new(srv->base, server_on_rescan, srv, &srv->hotplug);
	if (r < 0)
		log_msg(LOG_INFO, "PCI hotplug not watched: %s", strerror(-r));
}

/* ---- listening ---- */

static int server_bind(struct p2p_server *srv, const char *path)
{
	char why[512] = "";
	int fd = sockfile_bind(path, srv->cfg->socket_mode, srv->cfg->has_socket_gid,
			       srv->cfg->socket_gid, why, sizeof(why));

	if (fd < 0) {
		log_msg(LOG_ERR, "%s", why);
		return fd;
	}
	if (why[0])
		log_msg(LOG_WARNING, "%s", why);
	srv->listen_fds[srv->n_listen++] = fd;
	srv->bound_socket = true;
	snprintf(srv->bound_path, sizeof(srv->bound_path), "%s", path);
	return 0;
}

static int server_listen(struct p2p_server *srv)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names), r = 0;

	if (n < 0)
		log_msg(LOG_WARNING, "sd_listen_fds: %s", strerror(-n));
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;

		if (srv->n_listen < SERVER_MAX_LISTEN &&
		    sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) > 0) {
			int fl = fcntl(fd, F_GETFL);

			(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
			srv->listen_fds[srv->n_listen++] = fd;
			log_msg(LOG_INFO, "socket activation: fd %d (%s)", fd,
				names && names[i] ? names[i] : "?");
		} else {
			log_msg(LOG_WARNING,
				"ignoring passed fd %d: not a listening SEQPACKET unix socket", fd);
			close(fd);
		}
	}
	if (names) {
		for (int i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	if (srv->n_listen == 0) {
		const char *path =
		    srv->opts.socket_path ? srv->opts.socket_path : srv->cfg->socket_path;

		r = server_bind(srv, path);
		if (r < 0)
			return r;
		log_msg(LOG_INFO, "listening on %s", path);
	}
	for (int i = 0; i < srv->n_listen; i++) {
		srv->listen_ev[i] = event_new(srv->base, srv->listen_fds[i], EV_READ | EV_PERSIST,
					      server_on_accept, srv);
		if (!srv->listen_ev[i] || event_add(srv->listen_ev[i], NULL) < 0)
			return -ENOMEM;
	}
	return 0;
}

static void server_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int server_setup(struct p2p_server *srv, const struct server_opts *o)
{
	char err[512] = "", names[128];
	uint64_t wd_usec = 0;
	int r;

	memset(srv, 0, sizeof(*srv));
	srv->rootfd = -1;
	srv->opts = *o;
	srv->next_client_id = 1;
	list_init(&srv->clients);
	list_init(&srv->retired);
	idmap_init(&srv->client_uids);
	buffer_table_init(&srv->buffers, NULL);
	srv->started = time(NULL);
	server_raise_nofile();

	if (o->config_path) {
		if (strlen(o->config_path) >= sizeof(srv->cfg_path)) {
			log_msg(LOG_ERR, "config path too long");
			return -ENAMETOOLONG;
		}
		if (o->config_explicit || access(o->config_path, F_OK) == 0)
			snprintf(srv->cfg_path, sizeof(srv->cfg_path), "%s", o->config_path);
		else
			log_msg(LOG_INFO, "%s not found: using built-in defaults", o->config_path);
	}
	srv->rootfd = open(o->fsroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (srv->rootfd < 0) {
		r = -errno;
		log_msg(LOG_ERR, "--fsroot %s: %s", o->fsroot, strerror(-r));
		return r;
	}
	kernel_read(srv->rootfd, o->kernel_release, &srv->kernel);
	log_msg(srv->kernel.p2pdma == 0 ? LOG_WARNING : LOG_INFO, "%s%s%s", srv->kernel.rules.note,
		srv->kernel.p2pdma == 0 ? "; " : "",
		srv->kernel.p2pdma == 0 ? "built without CONFIG_PCI_P2PDMA: every pair refused"
					: "");
	r = server_load(srv, &srv->cfg, &srv->topo, &srv->vctx, err, sizeof(err));
	if (r < 0) {
		log_msg(LOG_ERR, "%s", err);
		return r;
	}
	if (!srv->topo)
		log_msg(LOG_WARNING, "no PCI functions under %s: host buffers only", o->fsroot);
	r = server_size_rbuf(srv, srv->cfg);
	if (r < 0)
		return r;
	r = alloc_set_new(o->backends, &srv->alloc);
	if (r < 0) {
		log_msg(LOG_ERR, "--backends %s: unknown backend (kmod, udmabuf, dma-heap, memfd)",
			o->backends ? o->backends : "");
		return r;
	}
	srv->buffers.alloc = srv->alloc;
	srv->base = event_base_new();
	if (!srv->base)
		return -ENOMEM;
	r = server_watch_buffers(srv);
	if (r < 0)
		return r;
	/* fds clients attach are closed off the loop (a FUSE close can block) */
	r = closer_new(&srv->closer);
	if (r < 0) {
		log_msg(LOG_ERR, "closer thread: %s", strerror(-r));
		return r;
	}
	conn_set_fd_closer(closer_take_fd_default);
	r = nss_cache_new(srv->base, server_on_nss_ready, srv, &srv->nss);
	if (r < 0) {
		log_msg(LOG_ERR, "user/group lookup thread: %s", strerror(-r));
		return r;
	}
	policy_set_groups_fn(nss_cache_groups);
	r = worker_new(srv->base, &srv->worker);
	if (r == 0)
		r = worker_new(srv->base, &srv->report_worker);
	if (r < 0) {
		log_msg(LOG_ERR, "worker thread: %s", strerror(-r));
		return r;
	}
	r = server_listen(srv);
	if (r < 0)
		return r;

	srv->ev_sighup = evsignal_new(srv->base, SIGHUP, server_on_sighup, srv);
	srv->ev_sigterm = evsignal_new(srv->base, SIGTERM, server_on_sigterm, srv);
	srv->ev_sigint = evsignal_new(srv->base, SIGINT, server_on_sigterm, srv);
	if (!srv->ev_sighup || !srv->ev_sigterm || !srv->ev_sigint ||
	    evsignal_add(srv->ev_sighup, NULL) < 0 || evsignal_add(srv->ev_sigterm, NULL) < 0 ||
	    evsignal_add(srv->ev_sigint, NULL) < 0)
		return -ENOMEM;
	signal(SIGPIPE, SIG_IGN);
	server_watch_hotplug(srv);

	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
		struct timeval tv = {.tv_sec = (time_t)(wd_usec / 2 / 1000000),
				     .tv_usec = (suseconds_t)(wd_usec / 2 % 1000000)};

		srv->ev_watchdog = event_new(srv->base, -1, EV_PERSIST, server_on_watchdog, srv);
		if (!srv->ev_watchdog || event_add(srv->ev_watchdog, &tv) < 0)
			return -ENOMEM;
		log_msg(LOG_INFO, "watchdog every %llu ms", (unsigned long long)(wd_usec / 2000));
	}
	r = server_fit_nofile(srv, &srv->cfg->limits, err, sizeof(err));
	if (r < 0) {
		log_msg(LOG_ERR, "%s", err);
		return r;
	}
	if (buffer_refresh_orphans(&srv->buffers) > 0)
		log_msg(LOG_NOTICE, "adopted %llu live buffers from before a restart",
			(unsigned long long)srv->buffers.n_buffers);
	alloc_set_describe(srv->alloc, names, sizeof(names));
	log_msg(LOG_INFO, "ready: %d PCI functions, backends %s, config %s",
		srv->topo ? srv->topo->nfuncs : 0, names[0] ? names : "(none)",
		srv->cfg_path[0] ? srv->cfg_path : "built-in defaults");
	return 0;
}

int server_run(struct p2p_server *srv)
{
	sd_notifyf(0, "READY=1\nSTATUS=Serving %d PCI functions\nMAINPID=%lu",
		   srv->topo ? srv->topo->nfuncs : 0, (unsigned long)getpid());
	if (event_base_dispatch(srv->base) < 0)
		return -EIO;
	return 0;
}

/* The signals whose libevent handlers server_cleanup() frees. */
static const int stop_signals[] = {SIGTERM, SIGINT, SIGHUP};

void server_cleanup(struct p2p_server *srv)
{
	sigset_t stop;

	/* A second SIGTERM/SIGINT (or a SIGHUP) while p2pd tears down must not
	 * kill it: freeing the signal events below puts back the default
	 * actions.  Held pending here (the other threads block every signal),
	 * then ignored, which drops them.  It is stopping already. */
	sigemptyset(&stop);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		sigaddset(&stop, stop_signals[i]);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	srv->stopping = true; /* freeing one client must not wake another */
	/* a revoke in progress finishes and is answered while its client exists */
	worker_free(srv->worker);
	srv->worker = NULL;
	worker_free(srv->report_worker); /* matrix waiters get ECANCELED */
	srv->report_worker = NULL;
	list_for_each_safe (struct p2p_client, c, &srv->clients, link) {
		list_remove(&c->link);
		srv->n_clients--;
		client_free(c);
	}
	idmap_fini(&srv->client_uids);
	for (int i = 0; i < srv->n_listen; i++) {
		if (srv->listen_ev[i])
			event_free(srv->listen_ev[i]);
		close(srv->listen_fds[i]);
	}
	if (srv->bound_socket)
		unlink(srv->bound_path);
	if (srv->ev_sighup)
		event_free(srv->ev_sighup);
	if (srv->ev_sigterm)
		event_free(srv->ev_sigterm);
	if (srv->ev_sigint)
		event_free(srv->ev_sigint);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		signal(stop_signals[i], SIG_IGN);
	if (srv->ev_watchdog)
		event_free(srv->ev_watchdog);
	if (srv->ev_drain)
		event_free(srv->ev_drain);
	if (srv->ev_accept_resume)
		event_free(srv->ev_accept_resume);
	if (srv->ev_buffers_gone)
		event_free(srv->ev_buffers_gone);
	if (srv->ev_buffers_poll)
		event_free(srv->ev_buffers_poll);
	hotplug_free(srv->hotplug);
	if (srv->nss) {
		policy_set_groups_fn(NULL);
		nss_cache_free(srv->nss);
	}
	if (srv->closer) {
		conn_set_fd_closer(NULL);
		closer_free(srv->closer);
	}
	if (srv->base)
		event_base_free(srv->base);
	buffer_table_fini(&srv->buffers);
	alloc_set_free(srv->alloc);
	server_free_retired(srv);
	verdict_ctx_free(srv->vctx);
	topo_free(srv->topo);
	config_free(srv->cfg);
	free(srv->rbuf);
	server_forget_replies(srv);
	if (srv->rootfd >= 0)
		close(srv->rootfd);
}
