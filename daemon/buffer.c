/* SPDX-License-Identifier: MIT */
/*
 * buffer.c - a buffer's life in p2pd (see buffer.h).
 */
#include "buffer.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "closer.h"

void buffer_table_init(struct buffer_table *bt, struct alloc_set *alloc)
{
	bt->alloc = alloc;
	idmap_init(&bt->ids);
	idmap_init(&bt->uids);
	list_init(&bt->orphans);
	list_init(&bt->held);
	/* -1 when it fails: memfd buffers then count until released, as before */
	bt->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	idmap_init(&bt->wds);
	bt->on_held = NULL;
	bt->on_held_arg = NULL;
	bt->next_id = 1;
	bt->n_buffers = 0;
	bt->n_bytes = 0;
}

void buffer_table_fini(struct buffer_table *bt)
{
	list_for_each_safe (struct p2p_buffer, b, &bt->orphans, link) {
		buffer_free(bt, b);
	}
	list_for_each_safe (struct p2p_buffer, b, &bt->held, link) {
		buffer_free(bt, b);
	}
	idmap_fini(&bt->ids);
	idmap_fini(&bt->wds);
	if (bt->inotify_fd >= 0)
		close(bt->inotify_fd);
	bt->inotify_fd = -1;
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
		buffer_release(bt, b);
	}
}

/* ---- is the memory still held? ---- */

/* The "count:" of /proc/self/fdinfo/@fd (a dma-buf's file count), or -1. */
static long buffer_fd_count(int fd)
{
	char path[64], line[128];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "count: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Start following the memory behind @fd (borrowed, still open: the count
 * read now includes it). */
static void buffer_watch(struct buffer_table *bt, struct p2p_buffer *b, int fd)
{
	char path[64];
	long n;

	if (b->type != ALLOC_TYPE_MEMFD) {
		b->dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (b->dup_fd < 0)
			return;
		n = buffer_fd_count(b->dup_fd);
		if (n < 2) { /* not a dma-buf after all: cannot tell */
			close(b->dup_fd);
			b->dup_fd = -1;
			return;
		}
		b->count_alone = n - 1; /* less @fd, which goes to the client */
		return;
	}
	if (bt->inotify_fd < 0)
		return;
	/* IN_IGNORED always comes; the mask only has to be non-empty */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	b->wd = inotify_add_watch(bt->inotify_fd, path, IN_DELETE_SELF);
	if (b->wd >= 0 && idmap_insert(&bt->wds, (uint64_t)b->wd, b) < 0) {
		inotify_rm_watch(bt->inotify_fd, b->wd);
		b->wd = -1;
	}
}

/* True while something other than p2pd may still hold @b's memory. */
static bool buffer_still_held(const struct p2p_buffer *b)
{
	if (b->watch_pending)
		return true; /* its fd waits in a reply queue */
	if (b->wd >= 0)
		return true; /* until IN_IGNORED */
	if (b->dup_fd >= 0)
		return buffer_fd_count(b->dup_fd) > b->count_alone;
	return false;
}

void buffer_release(struct buffer_table *bt, struct p2p_buffer *b)
{
	if (!b)
		return;
	if (b->owner) {
		b->owner->usage.buffers--;
		b->owner->usage.bytes -= b->size;
		b->owner = NULL;
	}
	if (!buffer_still_held(b)) {
		buffer_free(bt, b);
		return;
	}
	b->released = true;
	list_remove(&b->link);
	list_insert(&bt->held, &b->link);
	if (b->dup_fd >= 0 && bt->on_held)
		bt->on_held(bt->on_held_arg);
}

int buffer_refresh_held(struct buffer_table *bt)
{
	int polled = 0;

	list_for_each_safe (struct p2p_buffer, b, &bt->held, link) {
		if (!buffer_still_held(b))
			buffer_free(bt, b);
		else if (b->dup_fd >= 0)
			polled++;
	}
	return polled;
}

int buffer_watch_fd(const struct buffer_table *bt)
{
	return bt->inotify_fd;
}

void buffer_watch_late(struct buffer_table *bt, uint64_t id, int fd)
{
	struct p2p_buffer *b = buffer_find(bt, id);

	if (!b || !b->watch_pending)
		return;
	b->watch_pending = false;
	buffer_watch(bt, b, fd);
	if (b->released && !buffer_still_held(b))
		buffer_free(bt, b);
}

void buffer_watch_read(struct buffer_table *bt)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n = (ssize_t)sizeof(buf);

	/* a read that did not fill the buffer took every event there was (the
	 * loop's level-triggered watch calls again if more came since): no
	 * second read() just to hear EAGAIN */
	while (n > (ssize_t)(sizeof(buf) / 2) && (n = read(bt->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;
			struct p2p_buffer *b;

			p += sizeof(*e) + e->len;
			if (!(e->mask & IN_IGNORED))
				continue;
			b = idmap_remove(&bt->wds, (uint64_t)e->wd);
			if (!b)
				continue;
			b->wd = -1; /* the kernel dropped it: the memory is gone */
			if (b->released)
				buffer_free(bt, b);
		}
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
	b->pid = owner->pid;
	b->client_id = owner->client_id;
	b->dup_fd = -1;
	b->wd = -1;
	b->type = spec->type;
	b->backend = spec->backend;
	b->handle = spec->handle;
	b->size = spec->size;
	b->direct_io = spec->direct_io;
	snprintf(b->provider, sizeof(b->provider), "%s", spec->provider ? spec->provider : "");
	snprintf(b->name, sizeof(b->name), "%s", spec->name ? spec->name : "");
	b->peers = peers;
	list_init(&b->link);
	r = buffer_add(bt, b);
	if (r < 0)
		return r;
	if (spec->watch_late && spec->type == ALLOC_TYPE_MEMFD)
		b->watch_pending = true;
	else if (spec->watch && spec->fd >= 0)
		buffer_watch(bt, b, spec->fd);
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
	if (b->wd >= 0) {
		idmap_remove(&bt->wds, (uint64_t)b->wd);
		inotify_rm_watch(bt->inotify_fd, b->wd);
	}
	/* p2pd's dup may be the dma-buf's last reference: its release runs in
	 * the closing task, and p2pbroker.ko's can wait there for O_DIRECT pins
	 * on the pages (an NVMe I/O timeout: 30 s).  Never on the loop. */
	if (b->dup_fd >= 0)
		closer_take_fd_default(b->dup_fd);
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
	b->dup_fd = -1;
	b->wd = -1;
	b->seen = true;
	b->type = l->type;
	b->backend = be;
	b->handle = l->handle;
	b->size = l->size;
	b->direct_io = l->direct_io;
	snprintf(b->provider, sizeof(b->provider), "%s", l->provider);
	/* a buffer closed while O_DIRECT I/O pinned it outlives its fds (and
	 * p2pd's record of it): the kernel lists it until the I/O ends */
	b->pinned = l->released;
	snprintf(b->name, sizeof(b->name), "%s",
		 l->released ? "(closed, memory pinned by I/O)" : "(from before a restart)");
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
	json_object_object_add(o, "direct_io",
			       b->direct_io == ALLOC_DIO_UNKNOWN
				   ? NULL
				   : json_object_new_boolean(b->direct_io == ALLOC_DIO_YES));
	json_object_object_add(o, "name", json_object_new_string(b->name));
	json_object_object_add(o, "peers", json_object_get(b->peers));
	if (with_owner && b->owner) {
		json_object_object_add(o, "client", json_object_new_uint64(b->owner->client_id));
		json_object_object_add(o, "uid", json_object_new_int64(b->owner->uid));
		json_object_object_add(o, "pid", json_object_new_int64(b->owner->pid));
	} else if (with_owner && b->released) {
		/* still counted against the uid: a client holds the memory */
		json_object_object_add(o, "client", json_object_new_uint64(b->client_id));
		json_object_object_add(o, "uid", json_object_new_int64(b->uid));
		json_object_object_add(o, "pid", json_object_new_int64(b->pid));
		json_object_object_add(o, "released", json_object_new_boolean(1));
	} else if (with_owner) {
		json_object_object_add(o, "client", NULL);
		json_object_object_add(o, "uid", json_object_new_int64(b->uid));
		json_object_object_add(o, "orphaned", json_object_new_boolean(1));
		if (b->pinned)
			json_object_object_add(o, "released", json_object_new_boolean(1));
	}
	return o;
}
