/* SPDX-License-Identifier: MIT */
/*
 * test-buffer.c - a buffer's life (buffer.c): ids, the id table, usage per
 * connection and per uid, release and revoke reaching the backend, dropping
 * a connection, orphans adopted from a backend's list and forgotten when
 * their memory is gone; plus the list and id table modules it stands on.
 */
#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc.h"
#include "buffer.h"
#include "closer.h"
#include "idmap.h"
#include "list.h"

/* ---- a fake backend: records release/revoke, lists what the test says ---- */

#define FAKE_MAX 16
static uint64_t released[FAKE_MAX], revoked_h[FAKE_MAX];
static int n_released, n_revoked;
static struct alloc_live live[FAKE_MAX];
static int n_live;

static int fake_open(void **state)
{
	*state = NULL;
	return 0;
}

static int fake_alloc(void *state, const struct alloc_request *req, struct alloc_result *ret)
{
	(void)state;
	(void)req;
	(void)ret;
	return -ENOSYS;
}

static void fake_release(void *state, uint64_t handle)
{
	(void)state;
	if (n_released < FAKE_MAX)
		released[n_released++] = handle;
}

static int fake_revoke(void *state, uint64_t handle)
{
	(void)state;
	if (n_revoked < FAKE_MAX)
		revoked_h[n_revoked++] = handle;
	return 0;
}

static int fake_list(void *state, struct alloc_live *out, int max)
{
	(void)state;
	for (int i = 0; i < n_live && i < max; i++)
		out[i] = live[i];
	return n_live;
}

static const struct alloc_backend fake = {
    .name = "fake",
    .types = ALLOC_TYPE_BIT(ALLOC_TYPE_P2P) | ALLOC_TYPE_BIT(ALLOC_TYPE_HOST),
    .open = fake_open,
    .alloc = fake_alloc,
    .release = fake_release,
    .revoke = fake_revoke,
    .list = fake_list,
};

struct fix {
	struct alloc_set *set;
	struct buffer_table bt;
	struct buffer_owner a1, a2, b; /* a1, a2: two connections of uid 1000 */
};

static int setup(void **state)
{
	static const struct alloc_backend *const backends[] = {&fake};
	struct fix *f = calloc(1, sizeof(*f));

	if (!f || alloc_set_new_backends(backends, 1, &f->set) < 0)
		return -1;
	buffer_table_init(&f->bt, f->set);
	buffer_owner_init(&f->a1, 1, 1000, 100);
	buffer_owner_init(&f->a2, 2, 1000, 101);
	buffer_owner_init(&f->b, 3, 2000, 200);
	n_released = n_revoked = n_live = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	buffer_owner_drop(&f->bt, &f->a1);
	buffer_owner_drop(&f->bt, &f->a2);
	buffer_owner_drop(&f->bt, &f->b);
	buffer_table_fini(&f->bt);
	alloc_set_free(f->set);
	free(f);
	return 0;
}

static struct p2p_buffer *mk(struct fix *f, struct buffer_owner *o, uint64_t handle, uint64_t size)
{
	struct buffer_spec spec = {
	    .type = ALLOC_TYPE_HOST, .backend = &fake, .handle = handle, .size = size, .name = "t"};
	struct p2p_buffer *b = NULL;

	assert_int_equal(buffer_new_take_peers(&f->bt, o, &spec, NULL, &b), 0);
	assert_non_null(b);
	return b;
}

static void test_ids_and_table(void **state)
{
	struct fix *f = *state;
	struct p2p_buffer *x = mk(f, &f->a1, 11, 4096), *y = mk(f, &f->a1, 12, 8192);

	assert_int_not_equal(x->id, 0);
	assert_int_not_equal(x->id, y->id);
	assert_ptr_equal(buffer_find(&f->bt, x->id), x);
	assert_ptr_equal(buffer_find(&f->bt, y->id), y);
	assert_null(buffer_find(&f->bt, y->id + 100));
	assert_int_equal(f->bt.n_buffers, 2);
	assert_int_equal(f->bt.n_bytes, 4096 + 8192);
	assert_int_equal(list_length(&f->a1.buffers), 2);

	uint64_t xid = x->id;
	buffer_free(&f->bt, x);
	assert_null(buffer_find(&f->bt, xid));
	assert_ptr_equal(buffer_find(&f->bt, y->id), y);
	assert_int_equal(f->bt.n_buffers, 1);
	assert_int_equal(f->bt.n_bytes, 8192);
	/* release reached the backend with the buffer's own handle */
	assert_int_equal(n_released, 1);
	assert_int_equal(released[0], 11);
	/* ids are never reused */
	struct p2p_buffer *z = mk(f, &f->a2, 13, 1);
	assert_true(z->id > y->id);
}

/* ---- p2pd's dup of a dma-buf is closed by the closer thread ---- */

static pthread_t main_thread;
static int dup_closed_fd = -1;
static bool dup_closed_on_main;

static int record_close(int fd)
{
	dup_closed_fd = fd;
	dup_closed_on_main = pthread_equal(pthread_self(), main_thread);
	return close(fd);
}

/*
 * p2pd's dup may hold a dma-buf's last reference: its release then runs in
 * the task that closes it, and p2pbroker.ko's waits there while O_DIRECT
 * still pins the pages (seconds; an NVMe timeout is 30 s).  buffer_free()
 * must hand it to the closer thread, never close it on the loop.
 */
static void test_dup_closed_off_the_loop(void **state)
{
	struct fix *f = *state;
	struct p2p_buffer *x = mk(f, &f->a1, 21, 4096);
	struct closer *cl;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	main_thread = pthread_self();
	dup_closed_fd = -1;
	closer_set_close_fn(record_close);
	assert_int_equal(closer_new(&cl), 0);
	x->dup_fd = fd; /* as buffer_watch() makes for a dma-buf */
	buffer_free(&f->bt, x);
	closer_free(cl); /* waits for what is queued */
	closer_set_close_fn(NULL);
	assert_int_equal(dup_closed_fd, fd);
	assert_false(dup_closed_on_main);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
}

static void test_usage_per_uid(void **state)
{
	struct fix *f = *state;
	struct policy_usage u;

	mk(f, &f->a1, 1, 1000);
	struct p2p_buffer *x = mk(f, &f->a2, 2, 300);
	mk(f, &f->b, 3, 7);

	/* per connection */
	assert_int_equal(f->a1.usage.buffers, 1);
	assert_int_equal(f->a1.usage.bytes, 1000);
	assert_int_equal(f->a2.usage.buffers, 1);
	assert_int_equal(f->a2.usage.bytes, 300);
	/* per uid: both connections of uid 1000 together */
	u = buffer_uid_usage(&f->bt, 1000);
	assert_int_equal(u.buffers, 2);
	assert_int_equal(u.bytes, 1300);
	u = buffer_uid_usage(&f->bt, 2000);
	assert_int_equal(u.buffers, 1);
	assert_int_equal(u.bytes, 7);
	u = buffer_uid_usage(&f->bt, 3000);
	assert_int_equal(u.buffers, 0);
	assert_int_equal(u.bytes, 0);

	buffer_free(&f->bt, x);
	u = buffer_uid_usage(&f->bt, 1000);
	assert_int_equal(u.buffers, 1);
	assert_int_equal(u.bytes, 1000);
	assert_int_equal(f->a2.usage.buffers, 0);
	assert_int_equal(f->a2.usage.bytes, 0);

	/* a connection going away drops all it held, and only that */
	buffer_owner_drop(&f->bt, &f->a1);
	u = buffer_uid_usage(&f->bt, 1000);
	assert_int_equal(u.buffers, 0);
	assert_int_equal(u.bytes, 0);
	assert_true(list_empty(&f->a1.buffers));
	assert_int_equal(f->bt.n_buffers, 1);
	assert_int_equal(f->bt.n_bytes, 7);
	assert_int_equal(n_released, 2);
}

static void test_revoke(void **state)
{
	struct fix *f = *state;
	struct p2p_buffer *x = mk(f, &f->b, 77, 4096);
	uint64_t id = x->id;

	assert_int_equal(buffer_revoke(&f->bt, x), 0);
	assert_int_equal(n_revoked, 1);
	assert_int_equal(revoked_h[0], 77);
	assert_null(buffer_find(&f->bt, id));
	assert_int_equal(buffer_uid_usage(&f->bt, 2000).buffers, 0);
	assert_int_equal(f->b.usage.bytes, 0);
}

static void test_orphans(void **state)
{
	struct fix *f = *state;
	struct p2p_buffer *held = mk(f, &f->a1, 5, 100);
	struct policy_usage u;

	/* the backend lists a connection's buffer and two it holds for nobody */
	live[0] = (struct alloc_live){
	    .handle = 5, .type = ALLOC_TYPE_HOST, .size = 100, .owner_uid = 1000};
	live[1] = (struct alloc_live){.handle = 6,
				      .type = ALLOC_TYPE_P2P,
				      .size = 2 << 20,
				      .provider = "0000:03:00.0",
				      .owner_uid = 1000};
	live[2] = (struct alloc_live){
	    .handle = 7, .type = ALLOC_TYPE_HOST, .size = 4096, .owner_uid = 2000, .revoked = true};
	n_live = 3;
	assert_int_equal(buffer_refresh_orphans(&f->bt), 1);
	assert_int_equal(list_length(&f->bt.orphans), 1);
	struct p2p_buffer *o = list_first(&f->bt.orphans, struct p2p_buffer, link);
	assert_non_null(o);
	assert_null(o->owner);
	assert_int_equal(o->handle, 6);
	assert_string_equal(o->provider, "0000:03:00.0");
	assert_ptr_equal(buffer_find(&f->bt, o->id), o);
	/* the orphan counts against its owner's uid, beside the live one */
	u = buffer_uid_usage(&f->bt, 1000);
	assert_int_equal(u.buffers, 2);
	assert_int_equal(u.bytes, 100 + (2 << 20));
	assert_int_equal(f->a1.usage.buffers, 1);

	/* the JSON an admin sees */
	struct json_object *j = buffer_to_json(o, true), *v;
	assert_non_null(j);
	assert_true(json_object_object_get_ex(j, "orphaned", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(j, "uid", &v));
	assert_int_equal(json_object_get_int64(v), 1000);
	json_object_put(j);
	j = buffer_to_json(held, true);
	assert_true(json_object_object_get_ex(j, "client", &v));
	assert_int_equal(json_object_get_int64(v), 1);
	assert_true(json_object_object_get_ex(j, "pid", &v));
	assert_int_equal(json_object_get_int64(v), 100);
	json_object_put(j);

	/* a buffer whose fds are all gone while I/O pins its memory: an
	 * orphan that says so, and still counts */
	live[3] = (struct alloc_live){.handle = 8,
				      .type = ALLOC_TYPE_P2P,
				      .size = 1 << 20,
				      .provider = "0000:03:00.0",
				      .owner_uid = 1000,
				      .released = true};
	n_live = 4;
	assert_int_equal(buffer_refresh_orphans(&f->bt), 2);
	struct p2p_buffer *p = NULL;
	list_for_each (struct p2p_buffer, x, &f->bt.orphans, link) {
		if (x->handle == 8)
			p = x;
	}
	assert_non_null(p);
	assert_string_equal(p->name, "(closed, memory pinned by I/O)");
	j = buffer_to_json(p, true);
	assert_true(json_object_object_get_ex(j, "released", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(j, "orphaned", &v));
	json_object_put(j);
	j = buffer_to_json(o, true);
	assert_false(json_object_object_get_ex(j, "released", &v));
	json_object_put(j);
	u = buffer_uid_usage(&f->bt, 1000);
	assert_int_equal(u.bytes, 100 + (2 << 20) + (1 << 20));
	/* its I/O ended and the module freed it: forgotten */
	n_live = 3;
	assert_int_equal(buffer_refresh_orphans(&f->bt), 1);

	/* listed again: nothing new */
	assert_int_equal(buffer_refresh_orphans(&f->bt), 1);
	assert_int_equal(f->bt.n_buffers, 2);
	/* its memory is gone: forgotten */
	n_live = 1;
	assert_int_equal(buffer_refresh_orphans(&f->bt), 0);
	u = buffer_uid_usage(&f->bt, 1000);
	assert_int_equal(u.buffers, 1);
	assert_int_equal(u.bytes, 100);
	assert_int_equal(f->bt.n_buffers, 1);
}

/* ---- list.h ---- */

struct item {
	int v;
	struct list_link link;
};

/*
 * A memfd's inotify watch is made after the reply with its fd was sent
 * (spec.watch_late, buffer_watch_late()): until then the buffer counts as
 * held, a release keeps it, and once watched it goes when its last fd does.
 * A buffer gone before its reply went out (revoked) is left alone.
 */
static void test_watch_late(void **state)
{
	struct fix *f = *state;
	int fd = memfd_create("t", MFD_CLOEXEC), fd2 = memfd_create("t2", MFD_CLOEXEC);
	struct buffer_spec spec = {.type = ALLOC_TYPE_MEMFD,
				   .backend = &fake,
				   .handle = 21,
				   .size = 4096,
				   .watch = true,
				   .watch_late = true,
				   .fd = fd};
	struct p2p_buffer *b = NULL, *b2 = NULL;
	uint64_t id, id2;

	assert_true(fd >= 0 && fd2 >= 0);
	if (f->bt.inotify_fd < 0) {
		close(fd);
		close(fd2);
		skip(); /* no inotify in this kernel: memfds count until released */
	}
	assert_int_equal(buffer_new_take_peers(&f->bt, &f->a1, &spec, NULL, &b), 0);
	id = b->id;
	assert_true(b->watch_pending);
	assert_int_equal(b->wd, -1); /* nothing on the way of the reply */
	/* released while its reply still waits in the queue: still counted */
	buffer_release(&f->bt, b);
	assert_ptr_equal(buffer_find(&f->bt, id), b);
	assert_int_equal(buffer_uid_usage(&f->bt, 1000).buffers, 1);
	assert_int_equal(buffer_refresh_held(&f->bt), 0);
	assert_ptr_equal(buffer_find(&f->bt, id), b);
	/* the reply went out: watched through its fd, still held while open */
	buffer_watch_late(&f->bt, id, fd);
	assert_false(b->watch_pending);
	assert_true(b->wd >= 0);
	buffer_watch_read(&f->bt);
	assert_ptr_equal(buffer_find(&f->bt, id), b);
	/* its last fd closed: the memory is gone, and the buffer with it */
	close(fd);
	buffer_watch_read(&f->bt);
	assert_null(buffer_find(&f->bt, id));
	assert_int_equal(buffer_uid_usage(&f->bt, 1000).buffers, 0);

	/* revoked before its reply was sent: the late watch finds nothing */
	spec.fd = fd2;
	spec.handle = 22;
	assert_int_equal(buffer_new_take_peers(&f->bt, &f->a1, &spec, NULL, &b2), 0);
	id2 = b2->id;
	buffer_free(&f->bt, b2);
	buffer_watch_late(&f->bt, id2, fd2);
	assert_null(buffer_find(&f->bt, id2));
	close(fd2);
}

static void test_list(void **state)
{
	struct item it[5];
	struct list_link l;
	int seen[5], n = 0;

	(void)state;
	list_init(&l);
	assert_true(list_empty(&l));
	assert_null(list_first(&l, struct item, link));
	for (int i = 0; i < 5; i++) {
		it[i].v = i;
		list_append(&l, &it[i].link);
	}
	assert_int_equal(list_length(&l), 5);
	assert_ptr_equal(list_first(&l, struct item, link), &it[0]);
	list_for_each_safe (struct item, p, &l, link) {
		if (p->v % 2)
			list_remove(&p->link);
	}
	list_for_each (struct item, p, &l, link) {
		seen[n++] = p->v;
	}
	assert_int_equal(n, 3);
	assert_int_equal(seen[0], 0);
	assert_int_equal(seen[1], 2);
	assert_int_equal(seen[2], 4);
	list_insert(&l, &it[1].link); /* at the front */
	assert_ptr_equal(list_first(&l, struct item, link), &it[1]);
	list_remove(&it[1].link);
	list_remove(&it[1].link); /* twice is harmless */
	assert_int_equal(list_length(&l), 3);
}

/* ---- idmap.h, against a plain array as the reference ---- */

static void test_idmap(void **state)
{
	enum { N = 5000 };
	static char present[N];
	struct idmap m;
	uint64_t seed = 42;

	(void)state;
	memset(present, 0, sizeof(present));
	idmap_init(&m);
	assert_null(idmap_find(&m, 1));
	assert_null(idmap_remove(&m, 1));
	assert_int_equal(idmap_insert(&m, 1, NULL), -EINVAL);
	for (int step = 0; step < 200000; step++) {
		uint64_t k;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		k = (seed >> 33) % N;
		if ((seed >> 20) & 1) {
			int r = idmap_insert(&m, k << 12, &present[k]);

			assert_int_equal(r, present[k] ? -EEXIST : 0);
			present[k] = 1;
		} else {
			void *v = idmap_remove(&m, k << 12);

			assert_ptr_equal(v, present[k] ? &present[k] : NULL);
			present[k] = 0;
		}
	}
	size_t count = 0, pos = 0;
	uint64_t key;
	void *v;

	for (int k = 0; k < N; k++) {
		assert_ptr_equal(idmap_find(&m, (uint64_t)k << 12),
				 present[k] ? &present[k] : NULL);
		count += present[k];
	}
	assert_int_equal(idmap_count(&m), count);
	while ((v = idmap_next(&m, &pos, &key))) {
		assert_ptr_equal(v, &present[key >> 12]);
		count--;
	}
	assert_int_equal(count, 0);
	idmap_fini(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ids_and_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usage_per_uid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dup_closed_off_the_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_orphans, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watch_late, setup, teardown),
	    cmocka_unit_test(test_list),
	    cmocka_unit_test(test_idmap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
