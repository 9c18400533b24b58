/* SPDX-License-Identifier: MIT */
/*
 * alloc.c - buffer backends: udmabuf (/dev/udmabuf + sealed memfd), dma-heap
 * (/dev/dma_heap/system), sealed memfd; plus the kmod slot (alloc-kmod.c).
 */
#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define ALLOC_MAX_BACKENDS 4

struct alloc_slot {
	const struct alloc_backend *b;
	void *state;
};

struct alloc_set {
	struct alloc_slot slots[ALLOC_MAX_BACKENDS];
	int n;
};

static const struct alloc_backend *const alloc_all[] = {
#ifdef P2P_HAVE_ALLOC_KMOD
    &alloc_backend_kmod,
#endif
    &alloc_backend_udmabuf,
    &alloc_backend_dmaheap,
    &alloc_backend_memfd,
};

const char *alloc_type_name(enum alloc_type t)
{
	switch (t) {
	case ALLOC_TYPE_P2P:
		return "p2p";
	case ALLOC_TYPE_HOST:
		return "host";
	case ALLOC_TYPE_MEMFD:
		return "memfd";
	case ALLOC_TYPE__COUNT:
		break;
	}
	return "?";
}

int alloc_type_from_name(const char *name)
{
	if (!name)
		return -EINVAL;
	for (int t = 0; t < ALLOC_TYPE__COUNT; t++)
		if (strcmp(name, alloc_type_name((enum alloc_type)t)) == 0)
			return t;
	return -EINVAL;
}

static uint64_t alloc_page_round(uint64_t size)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);

	if (size > UINT64_MAX - pg)
		return 0;
	return (size + pg - 1) & ~(pg - 1);
}

/* A sealed memfd of @size bytes: it can never shrink (udmabuf needs that). */
static int alloc_memfd_create(const char *name, uint64_t size, unsigned seals)
{
	int fd, r;

	if (size > (uint64_t)INT64_MAX)
		return -EFBIG;
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, seals) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static void alloc_set_dmabuf_name(int fd, const char *name)
{
	/* best effort: names appear in /proc/PID/fdinfo ("name:") */
	(void)ioctl(fd, DMA_BUF_SET_NAME, name);
}

/* ---- udmabuf ---- */

static int alloc_udmabuf_open(void **ret_state)
{
	int fd = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	*ret_state = (void *)(intptr_t)fd;
	return 0;
}

static void alloc_udmabuf_close(void *state)
{
	close((int)(intptr_t)state);
}

static int alloc_udmabuf_alloc(void *state, const struct alloc_request *req,
			       struct alloc_result *ret)
{
	struct udmabuf_create c = {0};
	uint64_t size = alloc_page_round(req->size);
	int memfd, fd;

	if (!size)
		return -EFBIG;
	memfd = alloc_memfd_create("p2pbroker:udmabuf", size, F_SEAL_SHRINK);
	if (memfd < 0)
		return memfd;
	c.memfd = (uint32_t)memfd;
	c.flags = UDMABUF_FLAGS_CLOEXEC;
	c.offset = 0;
	c.size = size;
	fd = ioctl((int)(intptr_t)state, UDMABUF_CREATE, &c);
	if (fd < 0) {
		int r = -errno;

		close(memfd);
		return r;
	}
	close(memfd); /* the dma-buf holds the pages */
	alloc_set_dmabuf_name(fd, req->dmabuf_name);
	ret->fd = fd;
	ret->size = size;
	ret->handle = 0;
	ret->direct_io = ALLOC_DIO_UNKNOWN;
	return 0;
}

const struct alloc_backend alloc_backend_udmabuf = {
    .name = "udmabuf",
    .types = ALLOC_TYPE_BIT(ALLOC_TYPE_HOST),
    .open = alloc_udmabuf_open,
    .close = alloc_udmabuf_close,
    .alloc = alloc_udmabuf_alloc,
};

/* ---- dma-heap ---- */

static int alloc_dmaheap_open(void **ret_state)
{
	int fd = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	*ret_state = (void *)(intptr_t)fd;
	return 0;
}

static int alloc_dmaheap_alloc(void *state, const struct alloc_request *req,
			       struct alloc_result *ret)
{
	struct dma_heap_allocation_data d = {0};
	uint64_t size = alloc_page_round(req->size);

	if (!size)
		return -EFBIG;
	d.len = size;
	d.fd_flags = O_RDWR | O_CLOEXEC;
	if (ioctl((int)(intptr_t)state, DMA_HEAP_IOCTL_ALLOC, &d) < 0)
		return -errno;
	alloc_set_dmabuf_name((int)d.fd, req->dmabuf_name);
	ret->fd = (int)d.fd;
	ret->size = size;
	ret->handle = 0;
	ret->direct_io = ALLOC_DIO_UNKNOWN;
	return 0;
}

const struct alloc_backend alloc_backend_dmaheap = {
    .name = "dma-heap",
    .types = ALLOC_TYPE_BIT(ALLOC_TYPE_HOST),
    .open = alloc_dmaheap_open,
    .close = alloc_udmabuf_close,
    .alloc = alloc_dmaheap_alloc,
};

/* ---- memfd ---- */

static int alloc_memfd_open(void **ret_state)
{
	*ret_state = NULL;
	return 0;
}

static int alloc_memfd_alloc(void *state, const struct alloc_request *req, struct alloc_result *ret)
{
	int fd;

	(void)state;
	/* Fixed size for everyone holding it; still writable (shared memory). */
	fd = alloc_memfd_create("p2pbroker:memfd", req->size,
				F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	if (fd < 0)
		return fd;
	ret->fd = fd;
	ret->size = req->size;
	ret->handle = 0;
	ret->direct_io = ALLOC_DIO_YES; /* ordinary shmem pages */
	return 0;
}

const struct alloc_backend alloc_backend_memfd = {
    .name = "memfd",
    .types = ALLOC_TYPE_BIT(ALLOC_TYPE_MEMFD),
    .open = alloc_memfd_open,
    .alloc = alloc_memfd_alloc,
};

/* ---- the set ---- */

static bool alloc_name_listed(const char *only, const char *name)
{
	size_t l = strlen(name);
	const char *p = only;

	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n == l && strncmp(p, name, l) == 0)
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

/* Add @b to @set when it opens on this machine. */
static void alloc_set_open(struct alloc_set *set, const struct alloc_backend *b)
{
	void *state = NULL;

	if (b->open(&state) < 0)
		return;
	set->slots[set->n].b = b;
	set->slots[set->n].state = state;
	set->n++;
}

int alloc_set_new(const char *only, struct alloc_set **ret_set)
{
	struct alloc_set *set;
	size_t i;

	if (only) { /* every listed name must be known */
		const char *p = only;

		while (*p) {
			const char *e = strchr(p, ',');
			size_t n = e ? (size_t)(e - p) : strlen(p);
			bool known = strncmp(p, "kmod", n) == 0 && n == 4;

			for (i = 0; i < sizeof(alloc_all) / sizeof(alloc_all[0]); i++)
				if (strlen(alloc_all[i]->name) == n &&
				    strncmp(p, alloc_all[i]->name, n) == 0)
					known = true;
			if (!known || n == 0)
				return -EINVAL;
			if (!e)
				break;
			p = e + 1;
		}
	}
	set = calloc(1, sizeof(*set));
	if (!set)
		return -ENOMEM;
	for (i = 0; i < sizeof(alloc_all) / sizeof(alloc_all[0]); i++) {
		if (only && !alloc_name_listed(only, alloc_all[i]->name))
			continue;
		alloc_set_open(set, alloc_all[i]);
	}
	*ret_set = set;
	return 0;
}

int alloc_set_new_backends(const struct alloc_backend *const *backends, int n,
			   struct alloc_set **ret_set)
{
	struct alloc_set *set;

	if (n < 0 || n > ALLOC_MAX_BACKENDS)
		return -EINVAL;
	set = calloc(1, sizeof(*set));
	if (!set)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		alloc_set_open(set, backends[i]);
	*ret_set = set;
	return 0;
}

void alloc_set_free(struct alloc_set *set)
{
	if (!set)
		return;
	for (int i = 0; i < set->n; i++)
		if (set->slots[i].b->close)
			set->slots[i].b->close(set->slots[i].state);
	free(set);
}

static struct alloc_slot *alloc_set_slot(const struct alloc_set *set, enum alloc_type type)
{
	for (int i = 0; i < set->n; i++)
		if (set->slots[i].b->types & ALLOC_TYPE_BIT(type))
			return (struct alloc_slot *)&set->slots[i];
	return NULL;
}

static struct alloc_slot *alloc_set_find(const struct alloc_set *set, const struct alloc_backend *b)
{
	for (int i = 0; i < set->n; i++)
		if (set->slots[i].b == b)
			return (struct alloc_slot *)&set->slots[i];
	return NULL;
}

const struct alloc_backend *alloc_set_backend(const struct alloc_set *set, enum alloc_type type)
{
	struct alloc_slot *s = alloc_set_slot(set, type);

	return s ? s->b : NULL;
}

int alloc_set_alloc(struct alloc_set *set, const struct alloc_request *req,
		    struct alloc_result *ret, const struct alloc_backend **ret_backend)
{
	int r = -ENODEV;

	if (req->type >= ALLOC_TYPE__COUNT || req->size == 0)
		return -EINVAL;
	/* the first backend that works: udmabuf refuses what exceeds its
	 * size_limit_mb, dma-heap may then still serve it */
	for (int i = 0; i < set->n; i++) {
		struct alloc_slot *s = &set->slots[i];
		struct alloc_result res = {.fd = -1};

		if (!(s->b->types & ALLOC_TYPE_BIT(req->type)))
			continue;
		r = s->b->alloc(s->state, req, &res);
		if (r == 0) {
			*ret = res;
			*ret_backend = s->b;
			return 0;
		}
	}
	return r;
}

void alloc_set_release(struct alloc_set *set, const struct alloc_backend *b, uint64_t handle)
{
	struct alloc_slot *s = alloc_set_find(set, b);

	if (s && s->b->release)
		s->b->release(s->state, handle);
}

int alloc_set_revoke(struct alloc_set *set, const struct alloc_backend *b, uint64_t handle)
{
	struct alloc_slot *s = alloc_set_find(set, b);

	if (!s)
		return -ENODEV;
	if (!s->b->revoke)
		return -EOPNOTSUPP;
	return s->b->revoke(s->state, handle);
}

int alloc_set_kernel_verdict(struct alloc_set *set, const struct topo_func *provider,
			     const struct topo_func *client, int *ret_map, int *ret_distance)
{
	for (int i = 0; i < set->n; i++)
		if (set->slots[i].b->kernel_verdict)
			return set->slots[i].b->kernel_verdict(set->slots[i].state, provider,
							       client, ret_map, ret_distance);
	return -EOPNOTSUPP;
}

int alloc_set_list(struct alloc_set *set,
		   void (*cb)(void *userdata, const struct alloc_backend *b,
			      const struct alloc_live *live),
		   void *userdata)
{
	struct alloc_live *buf = NULL;
	int total = 0;

	for (int i = 0; i < set->n; i++) {
		const struct alloc_backend *b = set->slots[i].b;
		int n;

		if (!b->list)
			continue;
		if (!buf) {
			buf = calloc(ALLOC_LIST_MAX, sizeof(*buf));
			if (!buf)
				return -ENOMEM;
		}
		n = b->list(set->slots[i].state, buf, ALLOC_LIST_MAX);
		if (n < 0)
			continue;
		if (n > ALLOC_LIST_MAX)
			n = ALLOC_LIST_MAX;
		for (int k = 0; k < n; k++)
			cb(userdata, b, &buf[k]);
		total += n;
	}
	free(buf);
	return total;
}

void alloc_set_notes(const struct alloc_set *set, void (*cb)(void *userdata, const char *note),
		     void *userdata)
{
	char buf[256];

	for (int i = 0; i < set->n; i++)
		if (set->slots[i].b->note &&
		    set->slots[i].b->note(set->slots[i].state, buf, sizeof(buf)) > 0)
			cb(userdata, buf);
}

const char *alloc_set_describe(const struct alloc_set *set, char *buf, size_t len)
{
	size_t o = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (int i = 0; i < set->n && o < len; i++)
		o +=
		    (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "", set->slots[i].b->name);
	return buf;
}
