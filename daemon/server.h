/* SPDX-License-Identifier: MIT */
/*
 * server.h - p2pd's state and request dispatch: listening sockets (socket
 * activation or its own), clients, buffers, the config/topology/verdict
 * triple that reload swaps atomically, sd_notify and the watchdog.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "alloc.h"
#include "buffer.h"
#include "client.h"
#include "config.h"
#include "conn.h"
#include "idmap.h"
#include "list.h"
#include "topo.h"
#include "verdict.h"

struct event_base;
struct event;
struct nss_cache;
struct closer;
struct hotplug;
struct matrix_job;

#define SERVER_MAX_LISTEN 8

struct server_opts {
	const char *config_path;    /* NULL: CONFIG_DEFAULT_PATH if present, else defaults */
	bool config_explicit;	    /* --config given: a missing file is an error */
	const char *socket_path;    /* --socket, overrides the config */
	const char *fsroot;	    /* "/" or a snapshot */
	const char *backends;	    /* --backends LIST, NULL = all */
	const char *cpu_override;   /* --cpu */
	const char *kernel_release; /* --kernel-release: whose p2p rules, NULL = osrelease */
	bool no_gpu;
	bool no_hotplug; /* --no-hotplug: ignore PCI uevents */
};

/* Why an alloc was refused, for the stats counters (names: server_refuse_name). */
enum server_refuse {
	SERVER_REFUSE_INVALID,	   /* bad request, unknown device */
	SERVER_REFUSE_POLICY,	   /* EACCES/EPERM: not allowed */
	SERVER_REFUSE_QUOTA,	   /* EDQUOT */
	SERVER_REFUSE_NO_MEMORY,   /* ENOMEM/ENOSPC: the backend is full */
	SERVER_REFUSE_UNAVAILABLE, /* no provider or backend for the accepted types */
	SERVER_REFUSE__COUNT,
};

struct server_stats {
	uint64_t connections_total, connections_rejected, idle_closed, accept_fd_exhausted;
	uint64_t requests, errors, protocol_errors;
	uint64_t allocs, releases, revokes, reloads, rescans;
	uint64_t alloc_refused[SERVER_REFUSE__COUNT]; /* by enum server_refuse */
};

struct p2p_server {
	struct event_base *base;
	struct server_opts opts;
	int rootfd;
	struct kernel_facts kernel; /* release, rules table, P2PDMA, cmdline: read once */

	/* the model: swapped together by server_reload(), topo and vctx by a
	 * rescan; a thread that reads them holds it (server_model_hold()) */
	struct p2p_config *cfg;
	char cfg_path[256]; /* "" = built-in defaults */
	struct topo *topo;  /* NULL when the root has no PCI at all */
	struct verdict_ctx *vctx;
	uint64_t model_gen;	  /* bumped on every swap */
	unsigned model_users;	  /* holds: jobs reading the model off the loop */
	struct list_link retired; /* models swapped out while held */
	/* replies that are the same for every client of one topology and
	 * config: built on first ask, shared by every queue, dropped on change */
	struct p2p_reply *topo_reply;
	struct p2p_reply *matrix_reply[2]; /* [all] */
	struct matrix_job *matrix_job[2];  /* [all]: being built off the loop (ops.c) */

	struct alloc_set *alloc;
	struct nss_cache *nss;	      /* group lists, looked up off the loop */
	struct closer *closer;	      /* closes the fds clients attach, off the loop */
	struct worker *worker;	      /* blocking backend calls (kmod REVOKE), off the loop */
	struct worker *report_worker; /* matrix documents (N^2 verdicts), off the loop */

	int listen_fds[SERVER_MAX_LISTEN];
	struct event *listen_ev[SERVER_MAX_LISTEN];
	int n_listen;
	bool bound_socket; /* we created socket_path (unlink at exit) */
	char bound_path[108];

	struct event *ev_sighup, *ev_sigterm, *ev_sigint, *ev_watchdog, *ev_drain;
	struct event *ev_accept_resume; /* accept() paused after EMFILE/ENFILE */
	struct event *ev_buffers_gone;	/* buffer_watch_fd(): a memfd's memory is gone */
	struct event *ev_buffers_poll;	/* released dma-bufs still held: look again */
	bool accept_paused;
	uint64_t accept_fails_unlogged; /* EMFILE/ENFILE since the last log line */
	int64_t accept_fail_logged_ms;	/* CLOCK_MONOTONIC of that line, 0 never */
	struct hotplug *hotplug;	/* NULL when not watched */
	bool stopping;

	struct list_link clients; /* struct p2p_client.link */
	unsigned n_clients;
	struct idmap client_uids; /* uid -> struct client_uid (client.h), while connected */
	uint64_t next_client_id;

	struct buffer_table buffers; /* every buffer, orphans included (buffer.h) */

	unsigned char *rbuf; /* max_message_size bytes */
	size_t rbuf_size;

	struct server_stats stats;
	time_t started;
};

/* Load config, scan topology, open backends, listen.  Returns 0 or -errno
 * (logged). */
int server_setup(struct p2p_server *srv, const struct server_opts *o);
/* Run the event loop until SIGTERM/SIGINT; returns 0 or -errno. */
int server_run(struct p2p_server *srv);
void server_cleanup(struct p2p_server *srv);

/* Re-read config and topology; on any failure the old state stays.  Returns 0
 * or -errno with a reason in @err. */
int server_reload(struct p2p_server *srv, char *err, size_t errlen);

/* A framing violation: error reply (id 0) then disconnect. */
void server_protocol_error(struct p2p_server *srv, struct p2p_client *c, int err, const char *what);
/* Disconnect and free @c (unlinks it). */
void server_drop_client(struct p2p_server *srv, struct p2p_client *c);
/* p2pd's open file descriptors (/proc/self/fd), -1 when unknown. */
int server_count_fds(void);
/*
 * A job that reads cfg/topo/vctx on another thread holds the model while it
 * runs: a reload or rescan meanwhile swaps in the new one at once (model_gen
 * tells the job its result is stale) and frees the old one at the last
 * release.  Loop thread only.
 */
void server_model_hold(struct p2p_server *srv);
void server_model_release(struct p2p_server *srv);

/* The connected client with id @id, or NULL (it went away). */
struct p2p_client *server_find_client(struct p2p_server *srv, uint64_t id);

/* The topology changed or the config was reloaded: the cached replies are
 * stale (queues that hold them keep their reference). */
void server_forget_replies(struct p2p_server *srv);

/* While stopping: end the loop once no client has output queued. */
void server_check_drained(struct p2p_server *srv);
