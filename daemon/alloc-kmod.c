/* SPDX-License-Identifier: MIT */
/*
 * alloc-kmod.c - the kmod backend: p2p and host dma-bufs from p2pbroker.ko
 * through /dev/p2pbroker (ABI: kmod/include/uapi/linux/p2pbroker.h).
 *
 * A p2p provider needs published p2p memory.  Devices whose own driver
 * publishes it (an NVMe CMB) are used as they are; an unbound device is bound
 * to the module's "p2pbroker" PCI driver (driver_override + drivers_probe),
 * which registers its largest memory BAR.  A device bound to another driver is
 * never taken from it (-EBUSY).
 * Memory goes back to the kernel when the last fd of a buffer is closed, so
 * release() has nothing to do; revoke() makes the buffer inaccessible.
 */
#include "alloc.h"
#include "verdict.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/p2pbroker.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define KMOD_DEV "/dev/p2pbroker"
#define KMOD_PCI_DEVICES "/sys/bus/pci/devices"

struct kmod_state {
	int fd;		/* /dev/p2pbroker */
	uint32_t minor; /* the module's P2PB_VERSION_MINOR */
};

static int kmod_fd(void *state)
{
	return ((struct kmod_state *)state)->fd;
}

/* Does the module set P2PB_BUF_F_DIRECT_IO and P2PB_BUF_F_RELEASED (minor
 * version 1)?  An older one never does: "not set" says nothing there. */
static bool kmod_has_buf_flags(void *state)
{
	return ((struct kmod_state *)state)->minor >= 1;
}

static int kmod_open(void **ret_state)
{
	struct p2pb_version v = {0};
	int fd, r;

	fd = open(KMOD_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENXIO || errno == ENODEV ? -ENODEV : -errno;
	if (ioctl(fd, P2PB_IOC_VERSION, &v) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (v.major != P2PB_VERSION_MAJOR) {
		close(fd);
		return -EPROTO;
	}
	struct kmod_state *st = malloc(sizeof(*st));

	if (!st) {
		close(fd);
		return -ENOMEM;
	}
	st->fd = fd;
	st->minor = v.minor;
	*ret_state = st;
	return 0;
}

static void kmod_close(void *state)
{
	close(kmod_fd(state));
	free(state);
}

static int kmod_write_sysfs(const char *path, const char *val)
{
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		r = -errno;
	close(fd);
	return r;
}

/*
 * Make @bdf a provider: nothing to do when it has p2p memory, bind it to the
 * p2pbroker driver when it has no driver, -EBUSY when another driver owns it.
 */
static int kmod_bind_provider(const char *bdf)
{
	char path[256];
	struct stat st;
	int r;

	if (strchr(bdf, '/') || strlen(bdf) >= 64)
		return -EINVAL;
	snprintf(path, sizeof(path), KMOD_PCI_DEVICES "/%s/p2pmem", bdf);
	if (stat(path, &st) == 0)
		return 0;
	snprintf(path, sizeof(path), KMOD_PCI_DEVICES "/%s/driver", bdf);
	if (lstat(path, &st) == 0)
		return -EBUSY;
	snprintf(path, sizeof(path), KMOD_PCI_DEVICES "/%s/driver_override", bdf);
	r = kmod_write_sysfs(path, "p2pbroker");
	if (r < 0)
		return r;
	r = kmod_write_sysfs("/sys/bus/pci/drivers_probe", bdf);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), KMOD_PCI_DEVICES "/%s/p2pmem", bdf);
	return stat(path, &st) == 0 ? 0 : -EOPNOTSUPP;
}

/* A p2p buffer's mapping is pinnable only where the module maps its pages
 * (DESCRIBE's P2PB_BUF_F_DIRECT_IO, from minor version 1: an older module
 * cannot say); host buffers are ordinary pages. */
static enum alloc_direct_io kmod_dio_flags(void *state, uint32_t type, uint32_t flags)
{
	if (type != P2PB_BUF_P2P)
		return ALLOC_DIO_YES;
	if (!kmod_has_buf_flags(state))
		return ALLOC_DIO_UNKNOWN;
	return flags & P2PB_BUF_F_DIRECT_IO ? ALLOC_DIO_YES : ALLOC_DIO_NO;
}

static enum alloc_direct_io kmod_direct_io(void *state, int fd, uint32_t type)
{
	struct p2pb_describe d = {.fd = fd};

	/* only a p2p buffer's answer depends on the kernel: ask for those */
	if (type != P2PB_BUF_P2P)
		return kmod_dio_flags(state, type, 0);
	if (!kmod_has_buf_flags(state) || ioctl(kmod_fd(state), P2PB_IOC_DESCRIBE, &d) < 0)
		return ALLOC_DIO_UNKNOWN;
	return kmod_dio_flags(state, type, d.info.flags);
}

static int kmod_alloc(void *state, const struct alloc_request *req, struct alloc_result *ret)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	struct p2pb_alloc a = {.owner_uid = (uint32_t)req->owner_uid};
	int r;

	if (!req->size || req->size > UINT64_MAX - pg)
		return -EINVAL;
	a.size = (req->size + pg - 1) & ~(pg - 1);

	switch (req->type) {
	case ALLOC_TYPE_P2P:
		if (!req->provider)
			return -EINVAL;
		a.type = P2PB_BUF_P2P;
		a.provider = P2PB_BDF(req->provider->domain, req->provider->bus,
				      ((unsigned)req->provider->dev << 3) | req->provider->fn);
		break;
	case ALLOC_TYPE_HOST:
		a.type = P2PB_BUF_HOST;
		break;
	default:
		return -EOPNOTSUPP;
	}

	r = ioctl(kmod_fd(state), P2PB_IOC_ALLOC, &a) < 0 ? -errno : 0;
	if (r == -EOPNOTSUPP && req->type == ALLOC_TYPE_P2P) {
		/* no published p2p memory yet: register the device, then retry */
		r = kmod_bind_provider(req->provider->bdf);
		if (r < 0)
			return r == -EBUSY ? -EOPNOTSUPP : r;
		r = ioctl(kmod_fd(state), P2PB_IOC_ALLOC, &a) < 0 ? -errno : 0;
	}
	if (r < 0)
		return r;

	ret->fd = a.fd;
	ret->size = a.size;
	ret->handle = a.id;
	ret->direct_io = kmod_direct_io(state, a.fd, a.type);
	return 0;
}

static void kmod_release(void *state, uint64_t handle)
{
	/* the kernel frees the memory when the last fd and mapping are gone */
	(void)state;
	(void)handle;
}

static int kmod_revoke(void *state, uint64_t handle)
{
	struct p2pb_revoke rv = {.id = handle};

	return ioctl(kmod_fd(state), P2PB_IOC_REVOKE, &rv) < 0 ? -errno : 0;
}

/* The running kernel's verdict: pci_p2pdma_distance_many() for one client. */
static int kmod_kernel_verdict(void *state, const struct topo_func *provider,
			       const struct topo_func *client, int *ret_map, int *ret_distance)
{
	struct p2pb_verdict_client vc = {
	    .bdf = P2PB_BDF(client->domain, client->bus, ((unsigned)client->dev << 3) | client->fn),
	};
	struct p2pb_verdict v = {
	    .provider = P2PB_BDF(provider->domain, provider->bus,
				 ((unsigned)provider->dev << 3) | provider->fn),
	    .clients = (uint64_t)(uintptr_t)&vc,
	    .num_clients = 1,
	};

	if (ioctl(kmod_fd(state), P2PB_IOC_KERNEL_VERDICT, &v) < 0)
		return -errno;
	switch (vc.map_type) {
	case P2PB_MAP_BUS_ADDR:
		*ret_map = VERDICT_BUS_ADDR;
		break;
	case P2PB_MAP_THRU_HOST_BRIDGE:
		*ret_map = VERDICT_THRU_HOST_BRIDGE;
		break;
	case P2PB_MAP_NOT_SUPPORTED:
		*ret_map = VERDICT_NOT_SUPPORTED;
		break;
	default:
		return -EPROTO;
	}
	*ret_distance = vc.distance;
	return 0;
}

/* Live buffers the module holds (they outlive a p2pd restart). */
static int kmod_list(void *state, struct alloc_live *out, int max)
{
	uint32_t cap = max < 0 ? 0 : (uint32_t)max;
	struct p2pb_buf_info *e;
	struct p2pb_list l;

	if (cap > P2PB_MAX_LIST_ENTRIES)
		cap = P2PB_MAX_LIST_ENTRIES;
	e = calloc(cap ? cap : 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	l = (struct p2pb_list){.entries = (uint64_t)(uintptr_t)e, .count = cap};
	if (ioctl(kmod_fd(state), P2PB_IOC_LIST, &l) < 0) {
		int r = -errno;

		free(e);
		return r;
	}
	for (uint32_t i = 0; i < l.count && i < cap; i++) {
		struct alloc_live *a = &out[i];

		memset(a, 0, sizeof(*a));
		a->handle = e[i].id;
		a->type = e[i].type == P2PB_BUF_P2P ? ALLOC_TYPE_P2P : ALLOC_TYPE_HOST;
		a->size = e[i].size;
		a->owner_uid = (uid_t)e[i].owner_uid;
		a->revoked = (e[i].flags & P2PB_BUF_F_REVOKED) != 0;
		a->released = kmod_has_buf_flags(state) && (e[i].flags & P2PB_BUF_F_RELEASED);
		a->direct_io = kmod_dio_flags(state, e[i].type, e[i].flags);
		if (a->type == ALLOC_TYPE_P2P)
			snprintf(a->provider, sizeof(a->provider), "%04x:%02x:%02x.%x",
				 P2PB_BDF_DOMAIN(e[i].provider), P2PB_BDF_BUS(e[i].provider),
				 P2PB_BDF_DEVFN(e[i].provider) >> 3,
				 P2PB_BDF_DEVFN(e[i].provider) & 7);
	}
	free(e);
	return (int)l.total;
}

static int kmod_note(void *state, char *buf, size_t len)
{
	struct p2pb_version v = {0};

	if (ioctl(kmod_fd(state), P2PB_IOC_VERSION, &v) < 0) {
		snprintf(buf, len, "kmod: /dev/p2pbroker does not answer: %s", strerror(errno));
		return 1;
	}
	if (v.flags & P2PB_VERSION_F_P2PDMA)
		return 0;
	snprintf(buf, len,
		 "kmod: p2p unsupported by this kernel (built without "
		 "CONFIG_PCI_P2PDMA): only host buffers, and every pair is refused");
	return 1;
}

const struct alloc_backend alloc_backend_kmod = {
    .name = "kmod",
    .types = ALLOC_TYPE_BIT(ALLOC_TYPE_P2P) | ALLOC_TYPE_BIT(ALLOC_TYPE_HOST),
    .open = kmod_open,
    .close = kmod_close,
    .alloc = kmod_alloc,
    .release = kmod_release,
    .revoke = kmod_revoke,
    .kernel_verdict = kmod_kernel_verdict,
    .list = kmod_list,
    .note = kmod_note,
};
