/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API drift between the releases p2pbroker.ko builds on (Debian 12's
 * 6.1 and the 6.12 backport; newer where noted), keyed on LINUX_VERSION_CODE.
 * Every shim is named p2pb_* so that a distribution backport of the upstream
 * helper cannot clash with it.  Drift that needs no shim:
 *   - no_llseek: NULL since 6.0, removed in 6.12.  The fops leave .llseek
 *     unset, which means the same on both (nonseekable_open() too).
 */
#ifndef P2PBROKER_COMPAT_H
#define P2PBROKER_COMPAT_H

#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/version.h>

/* 6.3: vma->vm_flags became read-only; writers use vm_flags_set(). */
static inline void p2pb_vm_flags_set(struct vm_area_struct *vma,
				     vm_flags_t flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/*
 * Take a reference on @file unless its count already dropped to zero (it is
 * being released).  The caller keeps the struct file itself alive.
 * 6.7: files are SLAB_TYPESAFE_BY_RCU and get_file_rcu() takes a __rcu
 * pointer to the pointer; get_file_active() is the live-count check.
 * Return: true when a reference was taken (drop it with fput()).
 */
static inline bool p2pb_get_file_live(struct file *file)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	return get_file_active(&file);
#else
	return get_file_rcu(file);
#endif
}

/* 6.5: sg_is_dma_bus_address() renamed sg_dma_is_bus_address(). */
static inline bool p2pb_sg_dma_is_bus_address(struct scatterlist *sg)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	return sg_dma_is_bus_address(sg);
#else
	return sg_is_dma_bus_address(sg);
#endif
}

/*
 * 6.2: GUP pins p2pdma ZONE_DEVICE pages for callers that ask with
 * FOLL_PCI_P2PDMA (the block layer's O_DIRECT on a queue that supports
 * p2pdma), and refuses them to every other caller.  From then on p2p buffers
 * are mapped as pages so that NVMe can read and write them directly; before,
 * any GUP user could pin BAR memory through a page mapping, so they stay PFN
 * maps (O_DIRECT into them fails with -EFAULT).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0) && IS_ENABLED(CONFIG_PCI_P2PDMA)
#define P2PB_HAVE_P2P_IO 1
#else
#define P2PB_HAVE_P2P_IO 0
#endif

/* 6.13: MODULE_IMPORT_NS() takes a string literal. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#define P2PB_MODULE_IMPORT_DMA_BUF() MODULE_IMPORT_NS("DMA_BUF")
#else
#define P2PB_MODULE_IMPORT_DMA_BUF() MODULE_IMPORT_NS(DMA_BUF)
#endif

#endif /* P2PBROKER_COMPAT_H */
