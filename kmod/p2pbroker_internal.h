/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Contract between the parts of p2pbroker.ko:
 *   p2pbroker_main.c     module init/exit, /dev/p2pbroker and its ioctls
 *   p2pbroker_buf.c      buffers: allocation, dma-buf ops, registry, revoke
 *   p2pbroker_pci.c      the "p2pbroker" PCI driver that registers BARs
 *   p2pbroker_verdict.c  the kernel's p2pdma verdict for device pairs
 */
#ifndef P2PBROKER_INTERNAL_H
#define P2PBROKER_INTERNAL_H

#include <linux/pci.h>
#include <linux/types.h>
#include <linux/p2pbroker.h>

struct dma_buf;

extern unsigned long p2pb_max_alloc_bytes;
extern int p2pb_p2p_bar;

/* Look up a PCI function by packed BDF; returns a reference or NULL. */
struct pci_dev *p2pb_pci_get(u64 bdf);
u64 p2pb_pci_bdf(struct pci_dev *pdev);

/* Buffers (p2pbroker_buf.c); all return >= 0 or -errno. */
int p2pb_buf_alloc(struct p2pb_alloc *req, struct dma_buf **ret_dmabuf);
int p2pb_buf_describe(int fd, struct p2pb_buf_info *ret_info);
int p2pb_buf_list(struct p2pb_buf_info *entries, u32 capacity, u32 *ret_count,
		  u32 *ret_total);
int p2pb_buf_revoke_id(u64 id);
void p2pb_buf_provider_leaving(struct pci_dev *pdev);
void p2pb_buf_provider_gone(struct pci_dev *pdev);
int p2pb_buf_init(void);
void p2pb_buf_exit(void);

/* PCI driver (p2pbroker_pci.c). */
int p2pb_pci_register(void);
void p2pb_pci_unregister(void);

/* Verdicts (p2pbroker_verdict.c). */
int p2pb_verdict(struct p2pb_verdict *req);

#endif /* P2PBROKER_INTERNAL_H */
