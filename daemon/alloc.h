/* SPDX-License-Identifier: MIT */
/*
 * alloc.h - buffer backends behind one ops table.
 *
 * Each buffer has exactly one type (DESIGN.md "Buffers: typed dma-bufs"):
 *   ALLOC_TYPE_P2P   "p2p"   dma-buf in a provider's BAR    backends: kmod
 *   ALLOC_TYPE_HOST  "host"  dma-buf of system pages        kmod, udmabuf, dma-heap
 *   ALLOC_TYPE_MEMFD "memfd" sealed memfd, NOT a dma-buf    memfd
 * For a type, the first backend (in the order above) that opened on this
 * machine is used.  The kmod slot (p2pbroker.ko, /dev/p2pbroker) is
 * implemented in alloc-kmod.c, which defines alloc_backend_kmod; when that
 * file is absent from the tree the slot stays empty (mk/daemon.mk defines
 * P2P_HAVE_ALLOC_KMOD when it exists).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "topo.h"

enum alloc_type { ALLOC_TYPE_P2P = 0, ALLOC_TYPE_HOST, ALLOC_TYPE_MEMFD, ALLOC_TYPE__COUNT };

#define ALLOC_TYPE_BIT(t) (1u << (t))

/*
 * Whether O_DIRECT I/O to or from the buffer's CPU mapping moves the data
 * without a bounce (the JSON "direct_io": true, false or null): ordinary
 * pages (memfd, the module's host buffers) can be pinned by the block layer;
 * a p2p buffer only where the module maps its pages (P2PB_BUF_F_DIRECT_IO:
 * kernels >= 6.2 with CONFIG_PCI_P2PDMA); a udmabuf or dma-heap mapping is
 * the exporter's business (pfn maps on recent kernels): unknown.
 */
enum alloc_direct_io { ALLOC_DIO_UNKNOWN = 0, ALLOC_DIO_NO, ALLOC_DIO_YES };
#define ALLOC_NAME_LEN 32 /* DMA_BUF_NAME_LEN */

struct alloc_request {
	enum alloc_type type;
	uint64_t size;			  /* bytes requested (> 0) */
	const struct topo_func *provider; /* ALLOC_TYPE_P2P: the device whose BAR holds it */
	char dmabuf_name[ALLOC_NAME_LEN]; /* "p2p:0000:03:00.0", "host" (DMA_BUF_SET_NAME) */
	uid_t owner_uid;		  /* for the backend's own records */
};

/* A buffer the backend still holds (LIST), for a restarted p2pd. */
struct alloc_live {
	uint64_t handle; /* as alloc_result.handle */
	enum alloc_type type;
	uint64_t size;
	char provider[TOPO_BDF_LEN]; /* "" for host memory */
	uid_t owner_uid;
	bool revoked;
	bool released; /* its last fd and mapping are gone, but I/O still pins
			* its memory (kmod's P2PB_BUF_F_RELEASED): it still counts */
	enum alloc_direct_io direct_io;
};

#define ALLOC_LIST_MAX 65536 /* live buffers adopted per backend */

struct alloc_result {
	int fd;		 /* new fd (O_CLOEXEC), owned by the caller */
	uint64_t size;	 /* bytes actually allocated (page-rounded for dma-bufs) */
	uint64_t handle; /* backend's id for release/revoke (kmod buffer id), 0 none */
	enum alloc_direct_io direct_io;
};

/*
 * A backend.  All functions return >= 0 or -errno; none logs (the caller does).
 * @open: probe this machine; -ENODEV when the backend is not available (device
 *        node missing), which is normal and not an error.  *ret_state is the
 *        backend's private data (may be NULL).
 * @alloc: create one buffer of req->type (always one of @types).
 * @release: the daemon dropped its accounting (client released or went away);
 *        optional.
 * @revoke: an admin revoked the buffer: make the memory inaccessible if the
 *        backend can; -EOPNOTSUPP when it cannot (memfd, udmabuf, dma-heap:
 *        only the accounting is dropped).  Optional.
 */
struct alloc_backend {
	const char *name; /* "kmod", "udmabuf", "dma-heap", "memfd" */
	unsigned types;	  /* ALLOC_TYPE_BIT()s */
	int (*open)(void **ret_state);
	void (*close)(void *state);
	int (*alloc)(void *state, const struct alloc_request *req, struct alloc_result *ret);
	void (*release)(void *state, uint64_t handle);
	int (*revoke)(void *state, uint64_t handle);
	/*
	 * Optional (kmod): the running kernel's own verdict for the pair, as
	 * pci_p2pdma_distance_many() computes it.  *ret_map gets an enum
	 * verdict_map value, *ret_distance the distance (-1 when refused).
	 * -ENODEV when a function does not exist in the kernel.
	 */
	int (*kernel_verdict)(void *state, const struct topo_func *provider,
			      const struct topo_func *client, int *ret_map, int *ret_distance);
	/*
	 * Optional (kmod): the buffers the backend still holds, which outlive a
	 * p2pd restart (clients keep their fds).  Fills up to @max entries and
	 * returns how many are live (may exceed @max), or -errno.
	 */
	int (*list)(void *state, struct alloc_live *out, int max);
	/*
	 * Optional: one sentence an admin should see in `p2pctl status` (e.g. the
	 * kernel cannot do p2p).  Returns 1 with @buf filled, 0 when all is well.
	 */
	int (*note)(void *state, char *buf, size_t len);
};

#ifdef P2P_HAVE_ALLOC_KMOD
extern const struct alloc_backend alloc_backend_kmod; /* alloc-kmod.c */
#endif
extern const struct alloc_backend alloc_backend_udmabuf;
extern const struct alloc_backend alloc_backend_dmaheap;
extern const struct alloc_backend alloc_backend_memfd;

/* The backends that opened on this machine, in preference order. */
struct alloc_set;

/*
 * alloc_set_new() - open every backend (or only those named in @only, a
 * comma-separated list such as "udmabuf,memfd"; NULL = all).
 * Returns 0 and *ret_set, -EINVAL for an unknown name in @only, -ENOMEM.
 * Backends that are unavailable are simply absent.
 */
int alloc_set_new(const char *only, struct alloc_set **ret_set);
/* A set of exactly these backends (at most 4; tests use their own fakes);
 * returns 0 and *ret_set, -EINVAL, -ENOMEM. */
int alloc_set_new_backends(const struct alloc_backend *const *backends, int n,
			   struct alloc_set **ret_set);
void alloc_set_free(struct alloc_set *set);

/* The backend that would serve @type, or NULL. */
const struct alloc_backend *alloc_set_backend(const struct alloc_set *set, enum alloc_type type);

/* Allocate through the first backend for req->type that succeeds (in the
 * preference order).  Returns 0 and *ret (with *ret_backend), -ENODEV when no
 * backend serves the type, or the last backend's -errno. */
int alloc_set_alloc(struct alloc_set *set, const struct alloc_request *req,
		    struct alloc_result *ret, const struct alloc_backend **ret_backend);
void alloc_set_release(struct alloc_set *set, const struct alloc_backend *b, uint64_t handle);
int alloc_set_revoke(struct alloc_set *set, const struct alloc_backend *b, uint64_t handle);

/* The live kernel's verdict through the first backend that offers one;
 * -EOPNOTSUPP when none does (p2pbroker.ko not loaded). */
int alloc_set_kernel_verdict(struct alloc_set *set, const struct topo_func *provider,
			     const struct topo_func *client, int *ret_map, int *ret_distance);

/*
 * alloc_set_list() - call @cb for every live buffer of every backend that can
 * list them.  Returns the number reported, or -errno (-ENOMEM).
 */
int alloc_set_list(struct alloc_set *set,
		   void (*cb)(void *userdata, const struct alloc_backend *b,
			      const struct alloc_live *live),
		   void *userdata);

/* Call @cb with every opened backend's note (see alloc_backend.note). */
void alloc_set_notes(const struct alloc_set *set, void (*cb)(void *userdata, const char *note),
		     void *userdata);

/* Names of the opened backends, comma-separated ("udmabuf,memfd"). */
const char *alloc_set_describe(const struct alloc_set *set, char *buf, size_t len);

const char *alloc_type_name(enum alloc_type t); /* "p2p" ... */
int alloc_type_from_name(const char *name);	/* enum value or -EINVAL */
