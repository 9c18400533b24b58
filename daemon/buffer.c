/* SPDX-License-Identifier: MIT */
/*
 * buffer.c - a buffer's life in p2pd (see buffer.h).
 */
#include "buffer.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buffer_table_init(struct buffer_table *bt, struct alloc_set *alloc)
{
	bt->alloc = alloc;
	idmap_init(&bt->ids);
	idmap_init(&bt->uids);
	list_init(&bt->orphans);
	bt->next_id = 1;
	bt->n_buffers = 0;
	bt->n_bytes = 0;
}

void buffer_table_fini(struct buffer_table *bt)
{
	list_for_each_safe (struct p2p_buffer, b, &bt->orphans, link) {
		buffer_free(bt, b);
	}
	idmap_fini(&bt->ids);
	/* usage entries vanish with their last buffer; anything left is a leak */
	size_t pos = 0;
	void *u;

	while ((u = idmap_next(&bt->uids, &pos, NULL)))
		free(u);
	idmap_fini(&bt->uids);
}

void buffer_owner_init(struct buffer_owner *o, uint64_t client_id, uid_t uid, pid_t pid)
{
	o->client_id = client_id;
	o->uid = uid;
	o->pid = pid;
	list_init(&o->buffers);
	o->usage = (struct policy_usage){0};
}

void buffer_owner_drop(struct buffer_table *bt, struct buffer_owner *o)
{
	list_for_each_safe (struct p2p_buffer, b, &o->buffers, link) {
		buffer_free(bt, b);
	}
}

/* Add (@sign 1) or remove (-1) @b from the counts of its uid. */
static int buffer_account(struct buffer_table *bt, const struct p2p_buffer *b, int sign)
{
	struct policy_usage *u = idmap_find(&bt->uids, b->uid);

	if (sign > 0) {
		if (!u) {
			u = calloc(1, sizeof(*u));
			if (!u)
				return -ENOMEM;
			if (idmap_insert(&bt->uids, b->uid, u) < 0) {
				free(u);
				return -ENOMEM;
			}
		}
		u->buffers++;
		u->bytes += b->size;
		bt->n_buffers++;
		bt->n_bytes += b->size;
		if (b->owner) {
			b->owner->usage.buffers++;
			b->owner->usage.bytes += b->size;
		}
		return 0;
	}
	if (u) {
		u->buffers--;
		u->bytes -= b->size;
		if (!u->buffers)
			free(idmap_remove(&bt->uids, b->uid));
	}
	bt->n_buffers--;
	bt->n_bytes -= b->size;
	if (b->owner) {
		b->owner->usage.buffers--;
		b->owner->usage.bytes -= b->size;
	}
	return 0;
}

/* Id, table and accounting for a filled-in @b; on failure @b is freed and
 * the backend handle released. */
static int buffer_add(struct buffer_table *bt, struct p2p_buffer *b)
{
	b->id = bt->next_id++;
	if (!b->peers)
		b->peers = json_object_new_array();
	if (!b->peers || idmap_insert(&bt->ids, b->id, b) < 0)
		goto fail;
	if (buffer_account(bt, b, 1) < 0) {
		idmap_remove(&bt->ids, b->id);
		goto fail;
	}
	list_insert(b->owner ? &b->owner->buffers : &bt->orphans, &b->link);
	return 0;
fail:
	alloc_set_release(bt->alloc, b->backend, b->handle);
	json_object_put(b->peers);
	free(b);
	return -ENOMEM;
}

int buffer_new_take_peers(struct buffer_table *bt, struct buffer_owner *owner,
			  const struct buffer_spec *spec, struct json_object *peers,
			  struct p2p_buffer **ret)
{
	struct p2p_buffer *b = calloc(1, sizeof(*b));
	int r;

	if (!b) {
		alloc_set_release(bt->alloc, spec->backend, spec->handle);
		json_object_put(peers);
		return -ENOMEM;
	}
	b->owner = owner;
	b->uid = owner->uid;
	b->type = spec->type;
	b->backend = spec->backend;
	b->handle = spec->handle;
	b->size = spec->size;
	snprintf(b->provider, sizeof(b->provider), "%s", spec->provider ? spec->provider : "");
	snprintf(b->name, sizeof(b->name), "%s", spec->name ? spec->name : "");
	b->peers = peers;
	list_init(&b->link);
	r = buffer_add(bt, b);
	if (r < 0)
		return r;
	*ret = b;
	return 0;
}

struct p2p_buffer *buffer_find(const struct buffer_table *bt, uint64_t id)
{
	return idmap_find(&bt->ids, id);
}

void buffer_free(struct buffer_table *bt, struct p2p_buffer *b)
{
	if (!b)
		return;
	list_remove(&b->link);
	idmap_remove(&bt->ids, b->id);
	buffer_account(bt, b, -1);
	alloc_set_release(bt->alloc, b->backend, b->handle);
	json_object_put(b->peers);
	free(b);
}

int buffer_revoke(struct buffer_table *bt, struct p2p_buffer *b)
{
	int r = alloc_set_revoke(bt->alloc, b->backend, b->handle);

	buffer_free(bt, b);
	return r;
}

struct policy_usage buffer_uid_usage(const struct buffer_table *bt, uid_t uid)
{
	const struct policy_usage *u = idmap_find(&bt->uids, uid);

	return u ? *u : (struct policy_usage){0};
}

/* ---- orphans: buffers a backend still holds from before a restart ---- */

static void buffer_orphan_seen(void *userdata, const struct alloc_backend *be,
			       const struct alloc_live *l)
{
	struct buffer_table *bt = userdata;
	struct p2p_buffer *b;
	size_t pos = 0;

	/* known already: an orphan (still there) or a live connection's buffer */
	while ((b = idmap_next(&bt->ids, &pos, NULL))) {
		if (b->backend == be && b->handle == l->handle) {
			if (!b->owner)
				b->seen = true;
			return;
		}
	}
	if (l->revoked || l->type >= ALLOC_TYPE__COUNT)
		return;
	b = calloc(1, sizeof(*b));
	if (!b)
		return;
	b->uid = l->owner_uid;
	b->seen = true;
	b->type = l->type;
	b->backend = be;
	b->handle = l->handle;
	b->size = l->size;
	snprintf(b->provider, sizeof(b->provider), "%s", l->provider);
	snprintf(b->name, sizeof(b->name), "(from before a restart)");
	list_init(&b->link);
	/* the walk above is over: the table may change now */
	(void)buffer_add(bt, b);
}

int buffer_refresh_orphans(struct buffer_table *bt)
{
	int n;

	list_for_each (struct p2p_buffer, b, &bt->orphans, link) {
		b->seen = false;
	}
	n = alloc_set_list(bt->alloc, buffer_orphan_seen, bt);
	if (n < 0)
		return n;
	list_for_each_safe (struct p2p_buffer, b, &bt->orphans, link) {
		if (!b->seen)
			buffer_free(bt, b);
	}
	return (int)list_length(&bt->orphans);
}

struct json_object *buffer_to_json(const struct p2p_buffer *b, bool with_owner)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "id", json_object_new_uint64(b->id));
	json_object_object_add(o, "type", json_object_new_string(alloc_type_name(b->type)));
	json_object_object_add(o, "backend", json_object_new_string(b->backend->name));
	json_object_object_add(o, "provider",
			       b->provider[0] ? json_object_new_string(b->provider) : NULL);
	json_object_object_add(o, "size", json_object_new_uint64(b->size));
	json_object_object_add(o, "name", json_object_new_string(b->name));
	json_object_object_add(o, "peers", json_object_get(b->peers));
	if (with_owner && b->owner) {
		json_object_object_add(o, "client", json_object_new_uint64(b->owner->client_id));
		json_object_object_add(o, "uid", json_object_new_int64(b->owner->uid));
		json_object_object_add(o, "pid", json_object_new_int64(b->owner->pid));
	} else if (with_owner) {
		json_object_object_add(o, "client", NULL);
		json_object_object_add(o, "uid", json_object_new_int64(b->uid));
		json_object_object_add(o, "orphaned", json_object_new_boolean(1));
	}
	return o;
}
