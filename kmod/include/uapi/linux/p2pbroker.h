/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Ioctl ABI of /dev/p2pbroker (p2pbroker.ko).
 *
 * Rules (Documentation/process/botching-up-ioctls.rst): only __u32/__u64 and
 * __s32, pointers passed as __u64, explicit padding, every struct a multiple of
 * 8 bytes, reserved fields and unknown flags must be zero (-EINVAL otherwise).
 * The kernel accepts a smaller struct from an older userspace (missing tail
 * read as zero) and a larger one from a newer userspace as long as the extra
 * bytes are zero (-E2BIG otherwise).
 *
 * A PCI function is named by a packed BDF, see P2PB_BDF().
 */
#ifndef _UAPI_LINUX_P2PBROKER_H
#define _UAPI_LINUX_P2PBROKER_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * Minor versions (compatible additions):
 * 0: the first ABI;
 * 1: P2PB_BUF_F_DIRECT_IO and P2PB_BUF_F_RELEASED in DESCRIBE and LIST (a
 *    minor-0 module never sets them: a caller cannot tell "no" from "not
 *    known" there).
 */
#define P2PB_VERSION_MAJOR	1
#define P2PB_VERSION_MINOR	1

/* Packed PCI address: domain (up to 32 bits), bus, devfn ((slot << 3) | fn). */
#define P2PB_BDF(domain, bus, devfn) \
	(((__u64)(domain) << 16) | ((__u64)((bus) & 0xff) << 8) | ((devfn) & 0xff))
#define P2PB_BDF_DOMAIN(bdf)	((__u32)((bdf) >> 16))
#define P2PB_BDF_BUS(bdf)	((__u32)(((bdf) >> 8) & 0xff))
#define P2PB_BDF_DEVFN(bdf)	((__u32)((bdf) & 0xff))

/* Limits (the module may be built with smaller ones; see VERSION). */
#define P2PB_MAX_VERDICT_CLIENTS	64
#define P2PB_MAX_LIST_ENTRIES		4096

/* Mapping types: same values as the kernel's enum pci_p2pdma_map_type. */
#define P2PB_MAP_UNKNOWN		0
#define P2PB_MAP_NOT_SUPPORTED		1
#define P2PB_MAP_THRU_HOST_BRIDGE	2
#define P2PB_MAP_BUS_ADDR		3

/* Buffer types. */
#define P2PB_BUF_P2P	1	/* memory in a provider's BAR (p2pdma pool) */
#define P2PB_BUF_HOST	2	/* system pages */

/* Version flags (output). */
#define P2PB_VERSION_F_P2PDMA	_BITULL(0)	/* kernel has CONFIG_PCI_P2PDMA */

/**
 * struct p2pb_version - P2PB_IOC_VERSION
 * @major: out, P2PB_VERSION_MAJOR of the module (incompatible changes)
 * @minor: out, P2PB_VERSION_MINOR of the module (compatible additions)
 * @flags: out, P2PB_VERSION_F_*; without P2PB_VERSION_F_P2PDMA the kernel
 *	   cannot do p2p ("p2p unsupported by this kernel"): verdicts report
 *	   NOT_SUPPORTED and P2P allocations fail with -EOPNOTSUPP
 */
struct p2pb_version {
	__u32 major;
	__u32 minor;
	__u64 flags;
};

/**
 * struct p2pb_verdict_client - one client of P2PB_IOC_KERNEL_VERDICT
 * @bdf: in, the client PCI function (P2PB_BDF())
 * @distance: out, pci_p2pdma_distance(provider, client): -1 when the kernel
 *	      refuses the pair, else the distance
 * @map_type: out, P2PB_MAP_*: NOT_SUPPORTED when @distance is -1, else
 *	      BUS_ADDR when provider and client share an upstream bridge and
 *	      no function on the path redirects p2p (ACS RR/CR/EC), else
 *	      THRU_HOST_BRIDGE (the kernel's calc_map_type_and_dist() rules)
 * @dma_map_type: out, P2PB_MAP_*: what the DMA API actually did when one
 *	      page of the provider's p2p memory was mapped for the client
 *	      (bus address, CPU physical address, or -EREMOTEIO); UNKNOWN when
 *	      the provider has no free published p2p memory to try with
 * @reserved: must be 0
 */
struct p2pb_verdict_client {
	__u64 bdf;
	__s32 distance;
	__u32 map_type;
	__u32 dma_map_type;
	__u32 reserved;
};

#define P2PB_VERDICT_VALID_FLAGS	0

/**
 * struct p2pb_verdict - P2PB_IOC_KERNEL_VERDICT
 * @provider: in, the provider PCI function (P2PB_BDF()); it need not have
 *	      p2p memory
 * @clients: in, user pointer to @num_clients struct p2pb_verdict_client
 *	     (bdf in, distance and map_type out)
 * @num_clients: in, 1..P2PB_MAX_VERDICT_CLIENTS
 * @flags: in, must be 0
 * @distance: out, pci_p2pdma_distance_many() over all clients: -1 when any
 *	      client is refused, else the sum of distances
 * @reserved: must be 0
 *
 * Fails with -ENODEV when a named function does not exist.
 */
struct p2pb_verdict {
	__u64 provider;
	__u64 clients;
	__u32 num_clients;
	__u32 flags;
	__s32 distance;
	__u32 reserved;
};

#define P2PB_ALLOC_VALID_FLAGS	0

/**
 * struct p2pb_alloc - P2PB_IOC_ALLOC
 * @size: in, bytes; a non-zero multiple of the page size, at most the
 *	  module's max_alloc_bytes parameter
 * @provider: in, for P2PB_BUF_P2P the provider (P2PB_BDF()) whose published
 *	      p2p memory is used; must be 0 for P2PB_BUF_HOST
 * @type: in, P2PB_BUF_P2P or P2PB_BUF_HOST
 * @flags: in, must be 0
 * @owner_uid: in, the uid the buffer is accounted to (reported by DESCRIBE
 *	       and LIST; the module does not enforce it)
 * @fd: out, a new dma-buf fd (O_RDWR | O_CLOEXEC) owned by the caller
 * @id: out, the buffer id (unique while the module is loaded, never 0)
 *
 * The dma-buf's exporter name is "p2pbroker" and its name (as set by
 * DMA_BUF_SET_NAME) "p2p:<domain:bus:dev.fn>" or "host".
 * Errors: -EINVAL bad size/type/flags, -ENODEV no such provider (or one
 * whose driver is unbinding: from the unbind until its buffers are gone),
 * -EOPNOTSUPP provider without published p2p memory or kernel without
 * p2pdma, -ENOMEM pool or system memory exhausted.
 */
struct p2pb_alloc {
	__u64 size;
	__u64 provider;
	__u32 type;
	__u32 flags;
	__u32 owner_uid;
	__s32 fd;
	__u64 id;
};

/* Buffer state flags (output). */
#define P2PB_BUF_F_REVOKED	_BITUL(0)
/*
 * The buffer's CPU mapping is made of pages that O_DIRECT I/O on a block
 * device with p2pdma support can pin (kernels >= 6.2, p2p buffers): storage
 * reads and writes go straight to the device memory.  Without it, O_DIRECT
 * to or from the mapping fails with -EFAULT and data must be bounced.
 */
#define P2PB_BUF_F_DIRECT_IO	_BITUL(1)
/*
 * LIST only: the last fd and mapping are gone but O_DIRECT I/O still pins
 * its pages; the memory returns to the pool when that I/O ends (then the
 * buffer leaves the list).  Such a buffer still uses its memory: count it.
 * REVOKE of it returns 0 (it has no mapping left to cut).
 */
#define P2PB_BUF_F_RELEASED	_BITUL(2)

/**
 * struct p2pb_buf_info - one live buffer (DESCRIBE, LIST)
 * @id: buffer id
 * @size: bytes
 * @provider: provider BDF (P2PB_BDF()) for P2PB_BUF_P2P, 0 for host
 * @type: P2PB_BUF_*
 * @owner_uid: owner given at ALLOC
 * @flags: P2PB_BUF_F_*
 * @attachments: number of device attachments right now
 */
struct p2pb_buf_info {
	__u64 id;
	__u64 size;
	__u64 provider;
	__u32 type;
	__u32 owner_uid;
	__u32 flags;
	__u32 attachments;
};

/**
 * struct p2pb_describe - P2PB_IOC_DESCRIBE
 * @fd: in, a dma-buf fd (borrowed); -EINVAL if not exported by p2pbroker
 * @reserved: must be 0
 * @info: out
 */
struct p2pb_describe {
	__s32 fd;
	__u32 reserved;
	struct p2pb_buf_info info;
};

/**
 * struct p2pb_list - P2PB_IOC_LIST
 * @entries: in, user pointer to @count struct p2pb_buf_info (may be 0 when
 *	     @count is 0)
 * @count: in, capacity of @entries (at most P2PB_MAX_LIST_ENTRIES);
 *	   out, number of entries written
 * @total: out, number of live buffers (may exceed @count: call again)
 */
struct p2pb_list {
	__u64 entries;
	__u32 count;
	__u32 total;
};

#define P2PB_REVOKE_VALID_FLAGS	0

/**
 * struct p2pb_revoke - P2PB_IOC_REVOKE
 * @id: in, buffer id
 * @flags: in, must be 0
 * @reserved: must be 0
 *
 * Zaps every CPU mapping (later access faults with SIGBUS), tells dynamic
 * importers through move_notify, refuses new attachments, device mappings
 * and mmaps, and returns once every fence importers put on the buffer's
 * reservation has signalled (their DMA in flight is done), or after the
 * module's revoke_timeout_ms.  The memory returns to its pool once the last
 * fd and mapping are gone and no O_DIRECT I/O pins it any more (for
 * P2PB_BUF_P2P also when its provider unbinds).
 *
 * Guarantee per type and importer kind:
 * - Dynamic importers that honour move_notify (unmap in it): after REVOKE
 *   returns 0 none holds a mapping and their announced DMA is done.
 *   P2PB_BUF_P2P importers are always dynamic (peer2peer).
 * - Importers that keep their mapping after move_notify: static importers
 *   of P2PB_BUF_HOST (the dma-buf core pins them and keeps their mapping),
 *   pinning importers (e.g. RDMA pinned umem) or ones that ignore
 *   move_notify.  REVOKE does all of the above and fails with -EBUSY while
 *   one is attached.  Host pages stay allocated until release, so they are
 *   never reused meanwhile; p2p memory of a provider that unbinds is taken
 *   back after the revoke_timeout_ms module parameter (counted in
 *   forced_reclaims), so unbind never hangs on such an importer.
 * A buffer released while O_DIRECT I/O pins it (P2PB_BUF_F_RELEASED) is
 * still found: REVOKE returns 0, there being no mapping left.
 * Errors: -ENOENT no such (live) buffer; -EBUSY a pinned importer keeps its
 * mapping; -ETIMEDOUT an importer's fence did not signal in time (the
 * buffer is revoked all the same).
 */
struct p2pb_revoke {
	__u64 id;
	__u32 flags;
	__u32 reserved;
};

#define P2PB_IOC_MAGIC	'P'
#define P2PB_IOC_VERSION	_IOR(P2PB_IOC_MAGIC, 0x00, struct p2pb_version)
#define P2PB_IOC_KERNEL_VERDICT	_IOWR(P2PB_IOC_MAGIC, 0x01, struct p2pb_verdict)
#define P2PB_IOC_ALLOC		_IOWR(P2PB_IOC_MAGIC, 0x02, struct p2pb_alloc)
#define P2PB_IOC_DESCRIBE	_IOWR(P2PB_IOC_MAGIC, 0x03, struct p2pb_describe)
#define P2PB_IOC_LIST		_IOWR(P2PB_IOC_MAGIC, 0x04, struct p2pb_list)
#define P2PB_IOC_REVOKE		_IOW(P2PB_IOC_MAGIC, 0x05, struct p2pb_revoke)

#endif /* _UAPI_LINUX_P2PBROKER_H */
