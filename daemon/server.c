/* SPDX-License-Identifier: MIT */
/*
 * server.c - p2pd's event loop, listening sockets, request dispatch and the
 * operations of proto.h (see server.h).
 */
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/netlink.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"
#include "report.h"

#define SERVER_NAME "p2pd " P2P_SERVER_VERSION
#ifndef P2P_SERVER_VERSION
#define P2P_SERVER_VERSION "0.1"
#endif
#define SERVER_DRAIN_SEC 2

static struct log_ctx server_client_ctx(const struct p2p_client *c)
{
	return (struct log_ctx){.uid = (long)c->uid, .pid = (long)c->pid};
}

/* ---- replies ---- */

/* Serialise @reply (adds "ok": true) and queue it; takes @fd.  Returns 0 or
 * -1 when the client was dropped. */
static int server_send_json(struct p2p_server *srv, struct p2p_client *c, uint8_t op, uint64_t id,
			    struct json_object *reply, int fd)
{
	const char *text;
	size_t len;
	int r;

	text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
	len = strlen(text);
	r = client_queue_take_fd(c, op, id, P2P_FLAG_REPLY, text, len, fd);
	if (r < 0) {
		struct log_ctx lc = server_client_ctx(c);

		/* a peer that went away mid-request is routine; one that does not
		 * read is worth a notice */
		log_ctx(r == -EPIPE || r == -ECONNRESET ? LOG_DEBUG : LOG_NOTICE, &lc,
			"client %llu dropped: %s", (unsigned long long)c->id,
			r == -ENOBUFS ? "not reading its replies" : strerror(-r));
		server_drop_client(srv, c);
		return -1;
	}
	return 0;
}

static int server_reply_ok(struct p2p_server *srv, struct p2p_client *c,
			   const struct p2p_msg_hdr *h, struct json_object *reply, int fd)
{
	int r;

	json_object_object_add(reply, "ok", json_object_new_boolean(1));
	r = server_send_json(srv, c, h->opcode, h->id, reply, fd);
	json_object_put(reply);
	return r;
}

static int server_reply_err(struct p2p_server *srv, struct p2p_client *c, uint8_t op, uint64_t id,
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
	r = server_send_json(srv, c, op, id, o, -1);
	json_object_put(o);
	return r;
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

/* ---- operations ---- */

static bool server_is_admin(struct p2p_server *srv, const struct p2p_client *c)
{
	return policy_is_admin(srv->cfg, c->uid, c->gid);
}

static int op_hello(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		    struct json_object *req)
{
	struct json_object *o, *feat;
	uint64_t v = conn_json_u64(req, "version", 0);
	char msg[128];

	if (v != P2P_PROTO_VERSION) {
		snprintf(msg, sizeof(msg), "protocol version %llu not supported (p2pd speaks %d)",
			 (unsigned long long)v, P2P_PROTO_VERSION);
		return server_reply_err(srv, c, h->opcode, h->id, EPROTONOSUPPORT, msg);
	}
	snprintf(c->name, sizeof(c->name), "%s", conn_json_str(req, "client", ""));
	o = json_object_new_object();
	feat = json_object_new_array();
	if (!o || !feat) {
		json_object_put(o);
		json_object_put(feat);
		return server_reply_err(srv, c, h->opcode, h->id, ENOMEM, NULL);
	}
	json_object_array_add(feat, json_object_new_string("chunked-replies"));
	json_object_array_add(feat, json_object_new_string("events"));
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
	json_object_object_add(o, "admin", json_object_new_boolean(server_is_admin(srv, c)));
	json_object_object_add(o, "max_message_size",
			       json_object_new_int64(srv->cfg->limits.max_message_size));
	json_object_object_add(o, "chunk", json_object_new_int(P2P_PROTO_CHUNK));
	return server_reply_ok(srv, c, h, o, -1);
}

static int server_need_topo(struct p2p_server *srv, struct p2p_client *c,
			    const struct p2p_msg_hdr *h)
{
	if (srv->topo && srv->vctx)
		return 0;
	return server_reply_err(srv, c, h->opcode, h->id, ENODEV,
				"no PCI topology: no PCI functions found under the sysfs root") < 0
		   ? -1
		   : 1;
}

static int op_topology(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h)
{
	int r = server_need_topo(srv, c, h);

	if (r)
		return r < 0 ? -1 : 0;
	/* the same document for everyone until the topology changes: built once */
	if (!srv->topo_reply) {
		struct json_object *o = json_object_new_object(), *t = report_topo(srv->topo);

		if (!t || !o) {
			json_object_put(t);
			json_object_put(o);
			return server_reply_err(srv, c, h->opcode, h->id, ENOMEM, NULL);
		}
		json_object_object_add(o, "topology", t);
		json_object_object_add(o, "ok", json_object_new_boolean(1));
		srv->topo_reply = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		if (!srv->topo_reply)
			return server_reply_err(srv, c, h->opcode, h->id, ENOMEM, NULL);
	}
	r = client_queue_take_fd(c, h->opcode, h->id, P2P_FLAG_REPLY, srv->topo_reply,
				 strlen(srv->topo_reply), -1);
	if (r < 0) {
		server_drop_client(srv, c);
		return -1;
	}
	return 0;
}

static int server_find_dev(struct p2p_server *srv, struct p2p_client *c,
			   const struct p2p_msg_hdr *h, const char *bdf, const char *role, int *ret)
{
	char msg[200];
	int idx;

	idx = topo_find(srv->topo, bdf);
	if (idx >= 0) {
		*ret = idx;
		return 0;
	}
	snprintf(msg, sizeof(msg), "%s '%.40s' is not a PCI function of this machine", role, bdf);
	return server_reply_err(srv, c, h->opcode, h->id, ENODEV, msg) < 0 ? -1 : 1;
}

/* "kernel_live": the running kernel's own answer (through p2pbroker.ko), next
 * to the rules p2pd applies itself. */
static void server_check_kernel(struct p2p_server *srv, struct json_object *chk,
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
	int p, cl, r = server_need_topo(srv, c, h);

	if (r)
		return r < 0 ? -1 : 0;
	r = server_find_dev(srv, c, h, conn_json_str(req, "provider", ""), "provider", &p);
	if (r)
		return r < 0 ? -1 : 0;
	r = server_find_dev(srv, c, h, conn_json_str(req, "client", ""), "client", &cl);
	if (r)
		return r < 0 ? -1 : 0;
	v = calloc(1, sizeof(*v));
	if (!v)
		return server_reply_err(srv, c, h->opcode, h->id, ENOMEM, NULL);
	verdict_pair(srv->vctx, p, cl, v);
	chk = report_check(srv->topo, v, p, cl);
	if (chk && conn_json_bool(req, "kernel", false))
		server_check_kernel(srv, chk, v, p, cl);
	free(v);
	o = json_object_new_object();
	if (!chk || !o) {
		json_object_put(chk);
		json_object_put(o);
		return server_reply_err(srv, c, h->opcode, h->id, ENOMEM, NULL);
	}
	json_object_object_add(o, "check", chk);
	return server_reply_ok(srv, c, h, o, -1);
}

static int op_matrix(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		     struct json_object *req)
{
	struct json_object *o, *m;
	bool all = conn_json_bool(req, "all", false);
	int r = server_need_topo(srv, c, h), n = 0;

	if (r)
		return r < 0 ? -1 : 0;
	/* N^2 cells: past the limit the document would take gigabytes to build
	 * and block every other client meanwhile */
	n = report_matrix_count(srv->topo, all);
	if (n > REPORT_MATRIX_MAX_DEVICES) {
		char msg[300];

		report_matrix_too_big(n, msg, sizeof(msg));
		return server_reply_err(srv, c, h->opcode, h->id, E2BIG, msg);
	}
	m = report_matrix(srv->topo, srv->vctx, all);
	o = json_object_new_object();
	if (!m || !o) {
		json_object_put(m);
		json_object_put(o);
		return server_reply_err(srv, c, h->opcode, h->id, ENOMEM, NULL);
	}
	json_object_object_add(o, "matrix", m);
	return server_reply_ok(srv, c, h, o, -1);
}

/* Append "; msg" to a reasons buffer. */
static void server_why_add(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void server_why_add(char *why, size_t len, const char *fmt, ...)
{
	size_t o = strlen(why);
	va_list ap;

	if (o + 3 >= len)
		return;
	if (o) {
		memcpy(why + o, "; ", 3);
		o += 2;
	}
	va_start(ap, fmt);
	vsnprintf(why + o, len - o, fmt, ap);
	va_end(ap);
}

static struct json_object *server_peer_verdicts(struct p2p_server *srv, int provider,
						const int *peers, int npeers)
{
	struct json_object *arr = json_object_new_array();
	struct verdict *v = calloc(1, sizeof(*v));

	if (!arr || !v) {
		json_object_put(arr);
		free(v);
		return NULL;
	}
	for (int i = 0; i < npeers; i++) {
		struct json_object *e = json_object_new_object();
		const struct topo_func *f = &srv->topo->funcs[peers[i]];

		if (!e)
			break;
		json_object_object_add(e, "peer", json_object_new_string(f->bdf));
		if (provider >= 0) {
			verdict_pair(srv->vctx, provider, peers[i], v);
			json_object_object_add(e, "map_type",
					       json_object_new_string(verdict_map_name(v->map)));
			json_object_object_add(e, "distance", json_object_new_int(v->distance));
			json_object_object_add(e, "class",
					       json_object_new_string(verdict_class_name(v->cls)));
		} else {
			json_object_object_add(e, "map_type",
					       json_object_new_string("host_memory"));
			json_object_object_add(e, "numa_node", json_object_new_int(f->numa_node));
		}
		json_object_array_add(arr, e);
	}
	free(v);
	return arr;
}

static int op_alloc(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		    struct json_object *req)
{
	uint64_t size = conn_json_u64(req, "size", 0);
	const char *prov = conn_json_str(req, "provider", "auto");
	const char *name = conn_json_str(req, "name", "");
	struct json_object *jpeers = NULL, *jtypes = NULL, *o, *bj;
	int peers[P2P_PROTO_MAX_PEERS], npeers = 0, provider = -1;
	unsigned accepted = 0;
	char why[1024] = "", msg[1200];
	int worst = ENODEV, r;
	struct alloc_request areq;
	struct alloc_result res = {.fd = -1};
	struct buffer_spec spec;
	const struct alloc_backend *backend = NULL;
	struct p2p_buffer *b;
	struct log_ctx lc = server_client_ctx(c);
	int type = -1;

	if (size == 0)
		return server_reply_err(srv, c, h->opcode, h->id, EINVAL,
					"field 'size': must be > 0");
	json_object_object_get_ex(req, "peers", &jpeers);
	json_object_object_get_ex(req, "types", &jtypes);
	if (jtypes) {
		for (size_t i = 0; i < json_object_array_length(jtypes); i++) {
			const char *tn =
			    json_object_get_string(json_object_array_get_idx(jtypes, i));
			int t = alloc_type_from_name(tn);

			if (t < 0) {
				snprintf(msg, sizeof(msg),
					 "field 'types': unknown type '%.32s' (p2p, host, memfd)",
					 tn);
				return server_reply_err(srv, c, h->opcode, h->id, EINVAL, msg);
			}
			accepted |= ALLOC_TYPE_BIT(t);
		}
	} else {
		accepted = ALLOC_TYPE_BIT(ALLOC_TYPE_P2P) | ALLOC_TYPE_BIT(ALLOC_TYPE_HOST);
	}
	if (!accepted)
		return server_reply_err(srv, c, h->opcode, h->id, EINVAL,
					"field 'types': no type accepted");

	/* peers and provider must be devices of this machine the client may use */
	if ((jpeers && json_object_array_length(jpeers)) || strcmp(prov, "auto") != 0) {
		r = server_need_topo(srv, c, h);
		if (r)
			return r < 0 ? -1 : 0;
	}
	for (size_t i = 0; jpeers && i < json_object_array_length(jpeers); i++) {
		const char *bdf = json_object_get_string(json_object_array_get_idx(jpeers, i));

		r = server_find_dev(srv, c, h, bdf, "peer", &peers[npeers]);
		if (r)
			return r < 0 ? -1 : 0;
		if (!policy_device_allowed(srv->cfg, srv->topo, c->uid, c->gid, peers[npeers])) {
			lc.device = srv->topo->funcs[peers[npeers]].bdf;
			log_ctx(LOG_NOTICE, &lc, "alloc refused: device not allowed as peer");
			snprintf(msg, sizeof(msg), "peer %s: not allowed for uid %u by %s",
				 srv->topo->funcs[peers[npeers]].bdf, (unsigned)c->uid,
				 policy_rule_for(srv->cfg, c->uid, c->gid)->label);
			return server_reply_err(srv, c, h->opcode, h->id, EPERM, msg);
		}
		npeers++;
	}
	if (strcmp(prov, "auto") != 0) {
		r = server_find_dev(srv, c, h, prov, "provider", &provider);
		if (r)
			return r < 0 ? -1 : 0;
		if (!policy_device_allowed(srv->cfg, srv->topo, c->uid, c->gid, provider)) {
			lc.device = srv->topo->funcs[provider].bdf;
			log_ctx(LOG_NOTICE, &lc, "alloc refused: provider not allowed");
			snprintf(msg, sizeof(msg), "provider %s: not allowed for uid %u by %s",
				 srv->topo->funcs[provider].bdf, (unsigned)c->uid,
				 policy_rule_for(srv->cfg, c->uid, c->gid)->label);
			return server_reply_err(srv, c, h->opcode, h->id, EPERM, msg);
		}
	} else if (srv->topo && (accepted & ALLOC_TYPE_BIT(ALLOC_TYPE_P2P))) {
		/* pci_p2pmem_find_many(): the registered provider closest to all peers */
		int best = -1, bestd = -1;

		for (int i = 0; i < srv->cfg->n_providers; i++) {
			int idx = topo_find(srv->topo, srv->cfg->providers[i].device), d = 0;

			if (idx < 0 ||
			    !policy_device_allowed(srv->cfg, srv->topo, c->uid, c->gid, idx))
				continue;
			if (npeers) {
				d = verdict_distance_many(srv->vctx, idx, peers, npeers, true);
				if (d < 0)
					continue;
			}
			if (best < 0 || d < bestd) {
				best = idx;
				bestd = d;
			}
		}
		provider = best;
	}

	/* the first accepted type that policy allows and a backend serves */
	for (int t = 0; t < ALLOC_TYPE__COUNT && type < 0; t++) {
		const char *tn = alloc_type_name((enum alloc_type)t);
		char pwhy[300] = "";

		if (!(accepted & ALLOC_TYPE_BIT(t)))
			continue;
		if (t == ALLOC_TYPE_P2P) {
			if (provider < 0) {
				server_why_add(why, sizeof(why), "p2p: no provider device %s",
					       srv->cfg->n_providers ? "reaches all peers"
								     : "is configured");
				continue;
			}
			if (npeers &&
			    verdict_distance_many(srv->vctx, provider, peers, npeers, true) < 0) {
				server_why_add(why, sizeof(why),
					       "p2p: provider %s cannot do p2p DMA with every peer",
					       srv->topo->funcs[provider].bdf);
				continue;
			}
		}
		struct policy_usage held = buffer_uid_usage(&srv->buffers, c->uid);
		r = policy_check_alloc(srv->cfg, srv->topo, c->uid, c->gid,
				       t == ALLOC_TYPE_P2P ? provider : -1, tn, size, &held, pwhy,
				       sizeof(pwhy));
		if (r == -EDQUOT) {
			log_ctx(LOG_NOTICE, &lc, "alloc refused: %s", pwhy);
			return server_reply_err(srv, c, h->opcode, h->id, EDQUOT, pwhy);
		}
		if (r < 0) {
			server_why_add(why, sizeof(why), "%s: %s", tn,
				       pwhy[0] ? pwhy : strerror(-r));
			if (r == -EPERM)
				worst = EPERM;
			continue;
		}
		if (!alloc_set_backend(srv->alloc, (enum alloc_type)t)) {
			if (t == ALLOC_TYPE_P2P)
				server_why_add(why, sizeof(why),
					       "p2p: provider %s chosen, but p2pbroker.ko "
					       "(/dev/p2pbroker) is not available",
					       srv->topo->funcs[provider].bdf);
			else
				server_why_add(why, sizeof(why), "%s: %s", tn,
					       t == ALLOC_TYPE_HOST
						   ? "neither /dev/udmabuf nor "
						     "/dev/dma_heap/system is available"
						   : "backend disabled");
			continue;
		}
		memset(&areq, 0, sizeof(areq));
		areq.type = (enum alloc_type)t;
		areq.size = size;
		areq.owner_uid = c->uid;
		areq.provider = t == ALLOC_TYPE_P2P ? &srv->topo->funcs[provider] : NULL;
		if (t == ALLOC_TYPE_P2P)
			snprintf(areq.dmabuf_name, sizeof(areq.dmabuf_name), "p2p:%s",
				 srv->topo->funcs[provider].bdf);
		else
			snprintf(areq.dmabuf_name, sizeof(areq.dmabuf_name), "%s", tn);
		r = alloc_set_alloc(srv->alloc, &areq, &res, &backend);
		if (r < 0) {
			server_why_add(why, sizeof(why), "%s: allocation failed: %s", tn,
				       strerror(-r));
			if (r == -ENOMEM || r == -ENOSPC || r == -EFBIG)
				worst = -r;
			continue;
		}
		type = t;
	}
	if (type < 0) {
		snprintf(msg, sizeof(msg), "no buffer: %s", why);
		log_ctx(LOG_INFO, &lc, "alloc of %llu bytes refused: %s", (unsigned long long)size,
			why);
		return server_reply_err(srv, c, h->opcode, h->id, worst, msg);
	}

	spec = (struct buffer_spec){
	    .type = (enum alloc_type)type,
	    .backend = backend,
	    .handle = res.handle,
	    .size = res.size,
	    .provider = type == ALLOC_TYPE_P2P ? srv->topo->funcs[provider].bdf : NULL,
	    .name = name};
	r = buffer_new_take_peers(
	    &srv->buffers, &c->own, &spec,
	    npeers
		? server_peer_verdicts(srv, type == ALLOC_TYPE_P2P ? provider : -1, peers, npeers)
		: NULL,
	    &b);
	if (r < 0) {
		close(res.fd);
		return server_reply_err(srv, c, h->opcode, h->id, -r, NULL);
	}
	srv->stats.allocs++;

	o = json_object_new_object();
	bj = buffer_to_json(b, false);
	if (!o || !bj) {
		json_object_put(o);
		json_object_put(bj);
		close(res.fd);
		buffer_free(&srv->buffers, b);
		return server_reply_err(srv, c, h->opcode, h->id, ENOMEM, NULL);
	}
	lc.buffer = b->id;
	lc.device = b->provider[0] ? b->provider : NULL;
	log_ctx(LOG_DEBUG, &lc, "buffer %llu: %s via %s, %llu bytes", (unsigned long long)b->id,
		alloc_type_name(b->type), backend->name, (unsigned long long)b->size);
	json_object_object_add(o, "buffer", bj);
	return server_reply_ok(srv, c, h, o, res.fd); /* the queue owns the fd now */
}

static int op_release(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		      struct json_object *req)
{
	uint64_t id = conn_json_u64(req, "id", 0);
	struct p2p_buffer *b = buffer_find(&srv->buffers, id);
	struct json_object *o;
	char msg[100];

	if (!b || b->owner != &c->own) {
		snprintf(msg, sizeof(msg), "no buffer %llu on this connection",
			 (unsigned long long)id);
		return server_reply_err(srv, c, h->opcode, h->id, ENOENT, msg);
	}
	buffer_free(&srv->buffers, b);
	srv->stats.releases++;
	o = json_object_new_object();
	if (!o)
		return server_reply_err(srv, c, h->opcode, h->id, ENOMEM, NULL);
	json_object_object_add(o, "id", json_object_new_uint64(id));
	return server_reply_ok(srv, c, h, o, -1);
}

static int op_list(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		   bool all)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();

	if (!o || !arr) {
		json_object_put(o);
		json_object_put(arr);
		return server_reply_err(srv, c, h->opcode, h->id, ENOMEM, NULL);
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
	}
	json_object_object_add(o, "buffers", arr);
	return server_reply_ok(srv, c, h, o, -1);
}

static int op_clients(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();

	if (!o || !arr) {
		json_object_put(o);
		json_object_put(arr);
		return server_reply_err(srv, c, h->opcode, h->id, ENOMEM, NULL);
	}
	list_for_each (struct p2p_client, k, &srv->clients, link) {
		struct json_object *e = json_object_new_object();

		if (!e)
			break;
		json_object_object_add(e, "id", json_object_new_uint64(k->id));
		json_object_object_add(e, "pid", json_object_new_int64(k->pid));
		json_object_object_add(e, "uid", json_object_new_int64(k->uid));
		json_object_object_add(e, "gid", json_object_new_int64(k->gid));
		json_object_object_add(e, "admin",
				       json_object_new_boolean(server_is_admin(srv, k)));
		json_object_object_add(e, "buffers", json_object_new_int64(k->own.usage.buffers));
		json_object_object_add(e, "bytes", json_object_new_uint64(k->own.usage.bytes));
		json_object_object_add(e, "requests", json_object_new_uint64(k->requests));
		json_object_object_add(e, "name", json_object_new_string(k->name));
		json_object_object_add(e, "self", json_object_new_boolean(k == c));
		json_object_array_add(arr, e);
	}
	json_object_object_add(o, "clients", arr);
	return server_reply_ok(srv, c, h, o, -1);
}

static int server_send_event(struct p2p_server *srv, struct p2p_client *c, const char *event,
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

static int op_revoke(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
		     struct json_object *req)
{
	uint64_t id = conn_json_u64(req, "id", 0);
	struct p2p_buffer *b = buffer_find(&srv->buffers, id);
	struct p2p_client *owner;
	struct json_object *o;
	struct log_ctx lc = server_client_ctx(c);
	bool notified = false, revoked;
	char msg[100], reason[128];
	int r;

	if (!b) {
		snprintf(msg, sizeof(msg), "no buffer %llu", (unsigned long long)id);
		return server_reply_err(srv, c, h->opcode, h->id, ENOENT, msg);
	}
	owner = b->owner ? list_entry(b->owner, struct p2p_client, own) : NULL;
	r = buffer_revoke(&srv->buffers, b);
	revoked = r >= 0;
	srv->stats.revokes++;
	lc.buffer = id;
	log_ctx(LOG_NOTICE, &lc, "buffer %llu revoked by admin (memory %s)", (unsigned long long)id,
		revoked ? "revoked" : "still mapped by its holders, accounting dropped");
	snprintf(reason, sizeof(reason), "revoked by uid %u%s", (unsigned)c->uid,
		 revoked ? "" : " (accounting only; the backend cannot revoke the memory)");
	if (owner && owner != c) {
		if (server_send_event(srv, owner, "revoked", id, reason) < 0)
			server_drop_client(srv, owner);
		else
			notified = true;
	} else if (owner == c) {
		notified = server_send_event(srv, c, "revoked", id, reason) == 0;
	}
	o = json_object_new_object();
	if (!o)
		return server_reply_err(srv, c, h->opcode, h->id, ENOMEM, NULL);
	json_object_object_add(o, "id", json_object_new_uint64(id));
	json_object_object_add(o, "owner_notified", json_object_new_boolean(notified));
	json_object_object_add(o, "memory_revoked", json_object_new_boolean(revoked));
	return server_reply_ok(srv, c, h, o, -1);
}

static int op_reload(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h)
{
	char err[512];
	struct json_object *o;
	int r = server_reload(srv, err, sizeof(err));

	if (r < 0)
		return server_reply_err(srv, c, h->opcode, h->id, -r, err);
	o = json_object_new_object();
	if (!o)
		return server_reply_err(srv, c, h->opcode, h->id, ENOMEM, NULL);
	json_object_object_add(
	    o, "config",
	    json_object_new_string(srv->cfg_path[0] ? srv->cfg_path : "(built-in defaults)"));
	json_object_object_add(o, "devices",
			       json_object_new_int(srv->topo ? srv->topo->nfuncs : 0));
	return server_reply_ok(srv, c, h, o, -1);
}

static long server_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static long server_rss_kib(void)
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

static void server_add_note(void *userdata, const char *note)
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
		return server_reply_err(srv, c, h->opcode, h->id, ENOMEM, NULL);
	}
	json_object_object_add(s, "uptime_s", json_object_new_int64(time(NULL) - srv->started));
	json_object_object_add(s, "connections", json_object_new_int64(srv->n_clients));
	json_object_object_add(s, "connections_total",
			       json_object_new_uint64(st->connections_total));
	json_object_object_add(s, "connections_rejected",
			       json_object_new_uint64(st->connections_rejected));
	json_object_object_add(s, "requests", json_object_new_uint64(st->requests));
	json_object_object_add(s, "errors", json_object_new_uint64(st->errors));
	json_object_object_add(s, "protocol_errors", json_object_new_uint64(st->protocol_errors));
	json_object_object_add(s, "buffers", json_object_new_uint64(srv->buffers.n_buffers));
	json_object_object_add(s, "bytes", json_object_new_uint64(srv->buffers.n_bytes));
	json_object_object_add(s, "allocs", json_object_new_uint64(st->allocs));
	json_object_object_add(s, "releases", json_object_new_uint64(st->releases));
	json_object_object_add(s, "revokes", json_object_new_uint64(st->revokes));
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
		alloc_set_notes(srv->alloc, server_add_note, be);
	json_object_object_add(s, "notes", be);
	json_object_object_add(s, "rss_kib", json_object_new_int64(server_rss_kib()));
	json_object_object_add(s, "fds", json_object_new_int64(server_count_fds()));
	json_object_object_add(s, "devices",
			       json_object_new_int(srv->topo ? srv->topo->nfuncs : 0));
	json_object_object_add(
	    s, "config",
	    json_object_new_string(srv->cfg_path[0] ? srv->cfg_path : "(built-in defaults)"));
	json_object_object_add(o, "stats", s);
	return server_reply_ok(srv, c, h, o, -1);
}

int server_dispatch(struct p2p_server *srv, struct p2p_client *c, const struct conn_msg *m)
{
	const struct p2p_msg_hdr *h = &m->hdr;
	struct json_object *req = NULL;
	char err[256];
	int r;

	srv->stats.requests++;
	c->requests++;
	r = conn_decode_request(h->opcode, m->payload, h->len, &req, err, sizeof(err));
	if (r < 0)
		return server_reply_err(srv, c, h->opcode, h->id, -r, err);
	if (conn_op_is_admin(h->opcode) && !server_is_admin(srv, c)) {
		struct log_ctx lc = server_client_ctx(c);

		json_object_put(req);
		log_ctx(LOG_NOTICE, &lc, "admin request '%s' refused", conn_op_name(h->opcode));
		snprintf(err, sizeof(err),
			 "'%s' is an admin request: uid 0 or the admin group only (you are uid %u)",
			 conn_op_name(h->opcode), (unsigned)c->uid);
		return server_reply_err(srv, c, h->opcode, h->id, EPERM, err);
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
		r = server_reply_err(srv, c, h->opcode, h->id, EOPNOTSUPP, "unknown opcode");
		break;
	}
	json_object_put(req);
	return r < 0 ? -1 : 0;
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

/* ---- accept ---- */

static void server_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct p2p_server *srv = arg;

	(void)what;
	for (int i = 0; i < 64; i++) {
		struct p2p_client *c;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), r;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				log_msg(LOG_WARNING, "accept: %s", strerror(errno));
			return;
		}
		srv->stats.connections_total++;
		if (srv->n_clients >= srv->cfg->limits.max_connections) {
			static const char text[] =
			    "{\"ok\":false,\"errno\":87,\"code\":\"EUSERS\",\"message\":\"too many "
			    "connections (limits.max_connections)\"}";
			struct p2p_msg_hdr h = {.flags = P2P_FLAG_REPLY};

			_Static_assert(EUSERS == 87, "EUSERS");
			srv->stats.connections_rejected++;
			(void)conn_send(fd, &h, text, sizeof(text) - 1, -1);
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

/* ---- config, topology, reload ---- */

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
	if (r == 0 && (r = server_size_rbuf(srv, cfg)) < 0) {
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
	verdict_ctx_free(srv->vctx);
	topo_free(srv->topo);
	config_free(srv->cfg);
	free(srv->topo_reply);
	srv->topo_reply = NULL;
	srv->cfg = cfg;
	srv->topo = t;
	srv->vctx = v;
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
		client_set_reading(c, false);
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

/* ---- PCI hotplug: kernel uevents -> topology rescan ---- */

#define SERVER_RESCAN_DELAY_MS 200 /* a burst of uevents gives one rescan */

static void server_on_rescan(evutil_socket_t s, short what, void *arg)
{
	struct p2p_server *srv = arg;
	struct topo_opts to = {.cpu_override = srv->opts.cpu_override, .no_gpu = srv->opts.no_gpu};
	struct topo *t = NULL;
	struct verdict_ctx *v = NULL;
	int r;

	(void)s;
	(void)what;
	r = topo_scan(srv->rootfd, &to, &t);
	if (r == 0)
		r = verdict_ctx_new(t, srv->cfg->whitelist, srv->cfg->n_whitelist,
				    srv->cfg->overrides, srv->cfg->n_overrides, &v);
	if (r < 0 && r != -ENOENT) {
		topo_free(t);
		log_msg(LOG_WARNING, "PCI change: rescan failed (%s), keeping the old topology",
			strerror(-r));
		return;
	}
	verdict_ctx_free(srv->vctx);
	topo_free(srv->topo);
	free(srv->topo_reply);
	srv->topo_reply = NULL;
	srv->topo = r == 0 ? t : NULL;
	srv->vctx = r == 0 ? v : NULL;
	srv->stats.rescans++;
	log_msg(LOG_INFO, "PCI change: topology rescanned, %d functions",
		srv->topo ? srv->topo->nfuncs : 0);
	sd_notifyf(0, "STATUS=Serving %d PCI functions, %u clients",
		   srv->topo ? srv->topo->nfuncs : 0, srv->n_clients);
}

/* Is this uevent (NUL-separated KEY=VALUE after "action@devpath") a PCI
 * function appearing, disappearing or changing driver? */
static bool server_uevent_is_pci(const char *buf, size_t len)
{
	bool pci = false, action = false;
	size_t off = strnlen(buf, len) + 1;

	while (off < len) {
		const char *kv = buf + off;
		size_t l = strnlen(kv, len - off);

		if (l == 13 && memcmp(kv, "SUBSYSTEM=pci", 13) == 0)
			pci = true;
		else if ((l == 10 && memcmp(kv, "ACTION=add", 10) == 0) ||
			 (l == 13 && memcmp(kv, "ACTION=remove", 13) == 0) ||
			 (l == 11 && memcmp(kv, "ACTION=bind", 11) == 0) ||
			 (l == 13 && memcmp(kv, "ACTION=unbind", 13) == 0))
			action = true;
		off += l + 1;
	}
	return pci && action;
}

static void server_on_uevent(evutil_socket_t fd, short what, void *arg)
{
	struct p2p_server *srv = arg;
	char buf[8192];
	bool rescan = false;

	(void)what;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_nl sa;
		struct iovec iov = {buf, sizeof(buf) - 1};
		struct msghdr msg = {
		    .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == ENOBUFS) /* overrun: we lost some, rescan anyway */
				rescan = true;
			break;
		}
		/* only the kernel (port 0), never a spoofing process; whole messages */
		if (msg.msg_namelen != sizeof(sa) || sa.nl_pid != 0 ||
		    (msg.msg_flags & MSG_TRUNC) || n == 0)
			continue;
		buf[n] = '\0';
		if (server_uevent_is_pci(buf, (size_t)n))
			rescan = true;
	}
	if (rescan && srv->ev_rescan) {
		struct timeval tv = {0, SERVER_RESCAN_DELAY_MS * 1000};

		evtimer_add(srv->ev_rescan, &tv);
	}
}

static void server_watch_uevents(struct p2p_server *srv)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = 1};
	int fd;

	srv->uevent_fd = -1;
	if (srv->opts.no_hotplug || strcmp(srv->opts.fsroot, "/") != 0)
		return; /* a snapshot does not change */
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_msg(LOG_INFO, "PCI hotplug not watched: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	srv->ev_uevent = event_new(srv->base, fd, EV_READ | EV_PERSIST, server_on_uevent, srv);
	srv->ev_rescan = evtimer_new(srv->base, server_on_rescan, srv);
	if (!srv->ev_uevent || !srv->ev_rescan || event_add(srv->ev_uevent, NULL) < 0) {
		log_msg(LOG_WARNING, "PCI hotplug not watched: out of memory");
		close(fd);
		return;
	}
	srv->uevent_fd = fd;
}

/* ---- listening ---- */

static int server_bind(struct p2p_server *srv, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof(sa.sun_path)];
	char *slash;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_msg(LOG_ERR, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			r = -errno;
			log_msg(LOG_ERR, "mkdir %s: %s", dir, strerror(-r));
			return r;
		}
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* a stale socket of a dead p2pd is replaced; a live one is not */
	if (access(path, F_OK) == 0) {
		int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			close(fd);
			log_msg(LOG_ERR, "%s: another p2pd is listening there", path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		log_msg(LOG_ERR, "bind %s: %s", path, strerror(-r));
		close(fd);
		return r;
	}
	if (chmod(path, srv->cfg->socket_mode) < 0 ||
	    (srv->cfg->has_socket_gid && chown(path, (uid_t)-1, srv->cfg->socket_gid) < 0))
		log_msg(LOG_WARNING, "%s: cannot set mode/group: %s", path, strerror(errno));
	if (listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		close(fd);
		unlink(path);
		return r;
	}
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
	srv->uevent_fd = -1;
	srv->opts = *o;
	srv->next_client_id = 1;
	list_init(&srv->clients);
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
	server_watch_uevents(srv);

	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
		struct timeval tv = {.tv_sec = (time_t)(wd_usec / 2 / 1000000),
				     .tv_usec = (suseconds_t)(wd_usec / 2 % 1000000)};

		srv->ev_watchdog = event_new(srv->base, -1, EV_PERSIST, server_on_watchdog, srv);
		if (!srv->ev_watchdog || event_add(srv->ev_watchdog, &tv) < 0)
			return -ENOMEM;
		log_msg(LOG_INFO, "watchdog every %llu ms", (unsigned long long)(wd_usec / 2000));
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

void server_cleanup(struct p2p_server *srv)
{
	list_for_each_safe (struct p2p_client, c, &srv->clients, link) {
		list_remove(&c->link);
		srv->n_clients--;
		client_free(c);
	}
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
	if (srv->ev_watchdog)
		event_free(srv->ev_watchdog);
	if (srv->ev_drain)
		event_free(srv->ev_drain);
	if (srv->ev_uevent)
		event_free(srv->ev_uevent);
	if (srv->ev_rescan)
		event_free(srv->ev_rescan);
	if (srv->uevent_fd >= 0)
		close(srv->uevent_fd);
	if (srv->base)
		event_base_free(srv->base);
	buffer_table_fini(&srv->buffers);
	alloc_set_free(srv->alloc);
	verdict_ctx_free(srv->vctx);
	topo_free(srv->topo);
	config_free(srv->cfg);
	free(srv->rbuf);
	free(srv->topo_reply);
	if (srv->rootfd >= 0)
		close(srv->rootfd);
}
