/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Ioctl ABI of /dev/p2pb_test_importer, a test-only
 * dma-buf importer (p2pb_test_importer.ko) used by the VM tests to act as a
 * PCI device importing a buffer.  Not for production use.
 */
#ifndef _UAPI_P2PB_TEST_IMPORTER_H
#define _UAPI_P2PB_TEST_IMPORTER_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

/* Attach with dma_buf_dynamic_attach() and allow_peer2peer (else a plain
 * dma_buf_attach(), as an ordinary driver does).
 */
#define P2PB_TI_F_PEER2PEER	_BITUL(0)
/* Keep the attachment and mapping until RELEASE or close (one per fd). */
#define P2PB_TI_F_HOLD		_BITUL(1)
/* Dynamic attach, dma_buf_pin(), keep the mapping on move_notify (RDMA pinned umem). */
#define P2PB_TI_F_PIN		_BITUL(2)
/* A misbehaving importer: ignore move_notify (keep the mapping). */
#define P2PB_TI_F_LAZY		_BITUL(3)
#define P2PB_TI_IMPORT_VALID_FLAGS	(P2PB_TI_F_PEER2PEER | P2PB_TI_F_HOLD | \
					 P2PB_TI_F_PIN | P2PB_TI_F_LAZY)

#define P2PB_TI_STAGE_OK	0
#define P2PB_TI_STAGE_ATTACH	1	/* attach failed */
#define P2PB_TI_STAGE_MAP	2	/* map failed */
#define P2PB_TI_STAGE_PIN	3	/* pin failed */

/**
 * struct p2pb_ti_import - P2PB_TI_IOC_IMPORT
 * @fd: in, dma-buf fd (borrowed)
 * @flags: in, P2PB_TI_F_*
 * @bdf: in, the importing PCI function (P2PB_BDF() of p2pbroker.h)
 * @error: out, 0 or the -errno of the failed @stage
 * @stage: out, P2PB_TI_STAGE_*
 * @dma_addr: out, DMA address of the first segment
 * @dma_len: out, total DMA length
 * @nents: out, number of DMA segments
 * @reserved: must be 0
 */
struct p2pb_ti_import {
	__s32 fd;
	__u32 flags;
	__u64 bdf;
	__s32 error;
	__u32 stage;
	__u64 dma_addr;
	__u64 dma_len;
	__u32 nents;
	__u32 reserved;
};

#define P2PB_TI_Q_REMAP		_BITUL(0)	/* try to map the held attachment again */

/**
 * struct p2pb_ti_query - P2PB_TI_IOC_QUERY, about the held attachment
 * @flags: in, P2PB_TI_Q_*
 * @move_notify: out, move_notify calls received
 * @mapped: out, 1 while the held mapping is live
 * @remap_error: out, with P2PB_TI_Q_REMAP: 0 or -errno of the new map (a
 *		 successful new map is kept as the held mapping)
 */
struct p2pb_ti_query {
	__u32 flags;
	__u32 move_notify;
	__u32 mapped;
	__s32 remap_error;
};

#define P2PB_TI_FENCE_ADD	_BITUL(0)

/**
 * struct p2pb_ti_fence - P2PB_TI_IOC_FENCE, DMA "in flight" on the held
 * attachment's buffer
 * @ms: in, with P2PB_TI_FENCE_ADD: signal the new fence after @ms ms
 * @flags: in, P2PB_TI_FENCE_ADD adds a fence to the buffer's reservation
 *	   (usage BOOKKEEP, as a device job would); 0 only queries
 * @signaled: out, 1 when the (last added) fence has signalled
 * @reserved: must be 0
 */
struct p2pb_ti_fence {
	__u32 ms;
	__u32 flags;
	__s32 signaled;
	__u32 reserved;
};

/**
 * struct p2pb_ti_peek - P2PB_TI_IOC_PEEK, read what the held mapping's
 * device would read: the memory its DMA address reaches (through the
 * device's IOMMU domain, if any), not the exporter's CPU view
 * @offset: in, byte offset in the mapping (its DMA segments in order)
 * @data: in, user address receiving @len bytes
 * @len: in, 1..4096 bytes, not crossing a page of the DMA address space
 * @reserved: must be 0
 *
 * Host memory only (-EOPNOTSUPP for BAR memory); -ENOENT without a held
 * attachment, -ENXIO while it has no mapping or past its end.
 */
struct p2pb_ti_peek {
	__u64 offset;
	__u64 data;
	__u32 len;
	__u32 reserved;
};

#define P2PB_TI_IOC_MAGIC	'Q'
#define P2PB_TI_IOC_IMPORT	_IOWR(P2PB_TI_IOC_MAGIC, 0x00, struct p2pb_ti_import)
#define P2PB_TI_IOC_QUERY	_IOWR(P2PB_TI_IOC_MAGIC, 0x01, struct p2pb_ti_query)
#define P2PB_TI_IOC_RELEASE	_IO(P2PB_TI_IOC_MAGIC, 0x02)
#define P2PB_TI_IOC_FENCE	_IOWR(P2PB_TI_IOC_MAGIC, 0x03, struct p2pb_ti_fence)
#define P2PB_TI_IOC_PEEK	_IOW(P2PB_TI_IOC_MAGIC, 0x04, struct p2pb_ti_peek)

#endif /* _UAPI_P2PB_TEST_IMPORTER_H */
