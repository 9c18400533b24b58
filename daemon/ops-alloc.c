/* SPDX-License-Identifier: MIT */
/*
 * ops-alloc.c - ALLOC: parse the request, resolve the named devices, choose
 * a provider (core/provider.c), try each accepted type that policy allows
 * and a backend serves (alloc.c), link the buffer (buffer.c) and reply with
 * its fd.  The other operations are in ops.c.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer.h"
#include "ops-internal.h"
#include "policy.h"
#include "provider.h"

/* ---- alloc: parse, resolve devices, choose a provider, try types, reply ---- */

/* An alloc request after parsing and resolving. */
struct alloc_args {
	uint64_t size;
	const char *name;
	const char *provider_bdf; /* "auto": choose one */
	unsigned accepted;	  /* ALLOC_TYPE_BIT()s */
	struct json_object *jpeers;
	int peers[P2P_PROTO_MAX_PEERS];
	int npeers;
	int provider; /* index, -1 none */
};

/* Why no type could be served: one clause per type tried, and the errno
 * that explains the refusal best. */
struct alloc_why {
	char text[1024];
	int err;
};

/* Append "; msg" to the reasons. */
static void alloc_why_add(struct alloc_why *why, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void alloc_why_add(struct alloc_why *why, const char *fmt, ...)
{
	size_t o = strlen(why->text), len = sizeof(why->text);
	va_list ap;

	if (o + 3 >= len)
		return;
	if (o) {
		memcpy(why->text + o, "; ", 3);
		o += 2;
	}
	va_start(ap, fmt);
	vsnprintf(why->text + o, len - o, fmt, ap);
	va_end(ap);
}

static struct json_object *alloc_peer_verdicts(struct p2p_server *srv, int provider,
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

/* The request's fields (the only place op_alloc reads its JSON).  Returns 0
 * or -EINVAL with @msg. */
static int alloc_parse(struct json_object *req, struct alloc_args *a, char *msg, size_t len)
{
	struct json_object *jtypes = NULL;

	a->size = json_get_u64(req, "size", 0);
	a->provider_bdf = json_get_str(req, "provider", "auto");
	a->name = json_get_str(req, "name", "");
	a->jpeers = NULL;
	a->npeers = 0;
	a->provider = -1;
	if (a->size == 0) {
		snprintf(msg, len, "field 'size': must be > 0");
		return -EINVAL;
	}
	json_object_object_get_ex(req, "peers", &a->jpeers);
	json_object_object_get_ex(req, "types", &jtypes);
	if (!jtypes) {
		a->accepted = ALLOC_TYPE_BIT(ALLOC_TYPE_P2P) | ALLOC_TYPE_BIT(ALLOC_TYPE_HOST);
		return 0;
	}
	a->accepted = 0;
	for (size_t i = 0; i < json_object_array_length(jtypes); i++) {
		const char *tn = json_object_get_string(json_object_array_get_idx(jtypes, i));
		int t = alloc_type_from_name(tn);

		if (t < 0) {
			snprintf(msg, len, "field 'types': unknown type '%.32s' (p2p, host, memfd)",
				 tn);
			return -EINVAL;
		}
		a->accepted |= ALLOC_TYPE_BIT(t);
	}
	if (!a->accepted) {
		snprintf(msg, len, "field 'types': no type accepted");
		return -EINVAL;
	}
	return 0;
}

/* @bdf as a device the client may use in @role; index, or -errno with @msg. */
static int alloc_device(struct p2p_server *srv, struct p2p_client *c, const char *bdf,
			const char *role, char *msg, size_t len)
{
	struct log_ctx lc = ops_client_ctx(c);
	int idx = ops_find_dev(srv, bdf, role, msg, len);

	if (idx < 0)
		return idx;
	if (!policy_device_allowed(srv->cfg, srv->topo, c->uid, c->gid, idx)) {
		lc.device = srv->topo->funcs[idx].bdf;
		log_ctx(LOG_NOTICE, &lc, "alloc refused: %s",
			strcmp(role, "peer") == 0 ? "device not allowed as peer"
						  : "provider not allowed");
		snprintf(msg, len, "%s %s: not allowed for uid %u by %s", role,
			 srv->topo->funcs[idx].bdf, (unsigned)c->uid,
			 policy_rule_for(srv->cfg, c->uid, c->gid)->label);
		return -EPERM;
	}
	return idx;
}

/* Peers and an explicit provider: devices of this machine the client may
 * use.  Returns 0 or -errno with @msg. */
static int alloc_resolve(struct p2p_server *srv, struct p2p_client *c, struct alloc_args *a,
			 char *msg, size_t len)
{
	size_t n = a->jpeers ? json_object_array_length(a->jpeers) : 0;
	bool auto_provider = strcmp(a->provider_bdf, "auto") == 0;

	if ((n || !auto_provider) && !ops_have_topo(srv)) {
		snprintf(msg, len, "%s", OPS_NO_TOPO);
		return -ENODEV;
	}
	for (size_t i = 0; i < n && a->npeers < P2P_PROTO_MAX_PEERS; i++) {
		const char *bdf = json_object_get_string(json_object_array_get_idx(a->jpeers, i));
		int idx = alloc_device(srv, c, bdf, "peer", msg, len);

		if (idx < 0)
			return idx;
		a->peers[a->npeers++] = idx;
	}
	if (!auto_provider) {
		a->provider = alloc_device(srv, c, a->provider_bdf, "provider", msg, len);
		if (a->provider < 0)
			return a->provider;
	}
	return 0;
}

/* "auto": the registered provider closest to all peers (core/provider.c). */
static void alloc_choose_provider(struct p2p_server *srv, struct p2p_client *c,
				  struct alloc_args *a)
{
	int cand[CONFIG_MAX_PROVIDERS], n = 0, r;

	if (strcmp(a->provider_bdf, "auto") != 0 || !ops_have_topo(srv) ||
	    !(a->accepted & ALLOC_TYPE_BIT(ALLOC_TYPE_P2P)))
		return;
	for (int i = 0; i < srv->cfg->n_providers && n < CONFIG_MAX_PROVIDERS; i++) {
		int idx = topo_find(srv->topo, srv->cfg->providers[i].device);

		if (idx >= 0 && policy_device_allowed(srv->cfg, srv->topo, c->uid, c->gid, idx))
			cand[n++] = idx;
	}
	r = provider_choose(srv->vctx, cand, n, a->peers, a->npeers, NULL);
	a->provider = r >= 0 ? r : -1;
}

/* Can type @t be tried at all (a p2p provider that reaches every peer)? */
static bool alloc_type_possible(struct p2p_server *srv, const struct alloc_args *a,
				enum alloc_type t, struct alloc_why *why)
{
	if (t != ALLOC_TYPE_P2P)
		return true;
	if (a->provider < 0) {
		alloc_why_add(why, "p2p: no provider device %s",
			      srv->cfg->n_providers ? "reaches all peers" : "is configured");
		return false;
	}
	if (a->npeers &&
	    verdict_distance_many(srv->vctx, a->provider, a->peers, a->npeers, true) < 0) {
		alloc_why_add(why, "p2p: provider %s cannot do p2p DMA with every peer",
			      srv->topo->funcs[a->provider].bdf);
		return false;
	}
	return true;
}

/* Try type @t: policy and quota, then the backends.  Returns 0 with *res
 * and *ret_backend, 1 when this type is out (reason added to @why), or
 * -EDQUOT with the quota sentence in @why->text (no other type is tried). */
static int alloc_try_type(struct p2p_server *srv, struct p2p_client *c, const struct alloc_args *a,
			  enum alloc_type t, struct alloc_result *res,
			  const struct alloc_backend **ret_backend, struct alloc_why *why)
{
	const char *tn = alloc_type_name(t);
	const char *prov = t == ALLOC_TYPE_P2P ? srv->topo->funcs[a->provider].bdf : NULL;
	struct policy_usage held = buffer_uid_usage(&srv->buffers, c->uid);
	struct alloc_request areq = {.type = t, .size = a->size, .owner_uid = c->uid};
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE), charged = a->size;
	char pwhy[300] = "";
	int r;

	/* dma-bufs are whole pages and are accounted so: check that size */
	if (t != ALLOC_TYPE_MEMFD)
		charged = a->size > UINT64_MAX - pg ? UINT64_MAX : (a->size + pg - 1) & ~(pg - 1);
	r = policy_check_alloc(srv->cfg, srv->topo, c->uid, c->gid,
			       t == ALLOC_TYPE_P2P ? a->provider : -1, t, charged, &held, pwhy,
			       sizeof(pwhy));
	if (r == -EDQUOT) {
		snprintf(why->text, sizeof(why->text), "%s", pwhy);
		return r;
	}
	if (r < 0) {
		alloc_why_add(why, "%s: %s", tn, pwhy[0] ? pwhy : strerror(-r));
		if (r == -EPERM)
			why->err = EPERM;
		return 1;
	}
	if (!alloc_set_backend(srv->alloc, t)) {
		if (t == ALLOC_TYPE_P2P)
			alloc_why_add(why,
				      "p2p: provider %s chosen, but p2pbroker.ko (/dev/p2pbroker) "
				      "is not available",
				      prov);
		else
			alloc_why_add(why, "%s: %s", tn,
				      t == ALLOC_TYPE_HOST
					  ? "neither /dev/udmabuf nor /dev/dma_heap/system is "
					    "available"
					  : "backend disabled");
		return 1;
	}
	areq.provider = prov ? &srv->topo->funcs[a->provider] : NULL;
	if (prov)
		snprintf(areq.dmabuf_name, sizeof(areq.dmabuf_name), "p2p:%s", prov);
	else
		snprintf(areq.dmabuf_name, sizeof(areq.dmabuf_name), "%s", tn);
	r = alloc_set_alloc(srv->alloc, &areq, res, ret_backend);
	if (r < 0) {
		alloc_why_add(why, "%s: allocation failed: %s", tn, strerror(-r));
		if (r == -ENOMEM || r == -ENOSPC || r == -EFBIG)
			why->err = -r;
		return 1;
	}
	return 0;
}

/* Account the new buffer and answer with it and its fd (taken). */
static int alloc_reply_take_fd(struct p2p_server *srv, struct p2p_client *c,
			       const struct p2p_msg_hdr *h, const struct alloc_args *a,
			       enum alloc_type t, const struct alloc_backend *backend,
			       const struct alloc_result *res)
{
	int prov = t == ALLOC_TYPE_P2P ? a->provider : -1;
	struct buffer_spec spec = {.type = t,
				   .backend = backend,
				   .handle = res->handle,
				   .size = res->size,
				   .direct_io = res->direct_io,
				   .provider = prov >= 0 ? srv->topo->funcs[prov].bdf : NULL,
				   .name = a->name,
				   .watch = true,
				   /* a memfd's inotify watch waits until the reply
				    * with its fd is sent: off the client's wait */
				   .watch_late = t == ALLOC_TYPE_MEMFD,
				   .fd = res->fd};
	struct log_ctx lc = ops_client_ctx(c);
	struct json_object *o, *bj;
	struct p2p_buffer *b;
	int r;

	r = buffer_new_take_peers(
	    &srv->buffers, &c->own, &spec,
	    a->npeers ? alloc_peer_verdicts(srv, prov, a->peers, a->npeers) : NULL, &b);
	if (r < 0) {
		close(res->fd);
		return ops_reply_err(srv, c, h, -r, NULL);
	}
	srv->stats.allocs++;
	o = json_object_new_object();
	bj = buffer_to_json(b, false);
	if (!o || !bj) {
		json_object_put(o);
		json_object_put(bj);
		close(res->fd);
		buffer_free(&srv->buffers, b);
		return ops_reply_err(srv, c, h, ENOMEM, NULL);
	}
	lc.buffer = b->id;
	lc.device = b->provider[0] ? b->provider : NULL;
	log_ctx(LOG_DEBUG, &lc, "buffer %llu: %s via %s, %llu bytes", (unsigned long long)b->id,
		alloc_type_name(b->type), backend->name, (unsigned long long)b->size);
	json_object_object_add(o, "buffer", bj);
	/* the queue owns the fd now */
	return ops_reply_ok_watch(srv, c, h, o, res->fd, b->watch_pending ? b->id : 0);
}

static void ops_count_refusal(struct p2p_server *srv, enum server_refuse why)
{
	srv->stats.alloc_refused[why]++;
}

int op_alloc(struct p2p_server *srv, struct p2p_client *c, const struct p2p_msg_hdr *h,
	     struct json_object *req)
{
	struct alloc_args a;
	struct alloc_why why = {.text = "", .err = ENODEV};
	struct alloc_result res = {.fd = -1};
	const struct alloc_backend *backend = NULL;
	struct log_ctx lc = ops_client_ctx(c);
	char msg[1200];
	int r;

	(void)buffer_refresh_held(&srv->buffers); /* quotas see what is really held */
	r = alloc_parse(req, &a, msg, sizeof(msg));
	if (r == 0)
		r = alloc_resolve(srv, c, &a, msg, sizeof(msg));
	if (r < 0) {
		ops_count_refusal(srv, -r == EACCES || -r == EPERM ? SERVER_REFUSE_POLICY
								   : SERVER_REFUSE_INVALID);
		return ops_reply_err(srv, c, h, -r, msg);
	}
	alloc_choose_provider(srv, c, &a);
	/* the first accepted type that policy allows and a backend serves */
	for (int t = 0; t < ALLOC_TYPE__COUNT; t++) {
		if (!(a.accepted & ALLOC_TYPE_BIT(t)) ||
		    !alloc_type_possible(srv, &a, (enum alloc_type)t, &why))
			continue;
		r = alloc_try_type(srv, c, &a, (enum alloc_type)t, &res, &backend, &why);
		if (r == -EDQUOT) {
			log_ctx(LOG_NOTICE, &lc, "alloc refused: %s", why.text);
			ops_count_refusal(srv, SERVER_REFUSE_QUOTA);
			return ops_reply_err(srv, c, h, EDQUOT, why.text);
		}
		if (r == 0)
			return alloc_reply_take_fd(srv, c, h, &a, (enum alloc_type)t, backend,
						   &res);
	}
	snprintf(msg, sizeof(msg), "no buffer: %s", why.text);
	log_ctx(LOG_INFO, &lc, "alloc of %llu bytes refused: %s", (unsigned long long)a.size,
		why.text);
	ops_count_refusal(srv, why.err == EACCES || why.err == EPERM ? SERVER_REFUSE_POLICY
			       : why.err == ENOMEM || why.err == ENOSPC
				   ? SERVER_REFUSE_NO_MEMORY
				   : SERVER_REFUSE_UNAVAILABLE);
	return ops_reply_err(srv, c, h, why.err, msg);
}
