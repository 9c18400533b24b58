// SPDX-License-Identifier: GPL-2.0
/*
 * Typed dma-buf buffers: p2p (a provider's BAR memory from
 * the kernel's p2pdma pool) and host (system pages).
 *
 * Lifetime: a buffer belongs to its dma-buf; it is freed in the dma-buf's
 * release(), i.e. when the last fd, mmap and importer reference is gone.
 * Revoke zaps CPU mappings, tells dynamic importers (move_notify), refuses
 * new attachments and mappings, and waits for the fences importers attached
 * to the reservation (device DMA in flight); the memory still returns to its
 * pool only at release(), except when the provider goes away
 * (p2pb_buf_provider_leaving()), which returns it early once no device
 * mapping is left, or after a deadline when an importer never unmaps.
 *
 * Guarantees per buffer type and importer kind (see the uapi header):
 * - p2p: importers must attach dynamically (allow_peer2peer).  One that
 *   honours move_notify unmaps at once; one that keeps its mapping (a
 *   pinning importer such as RDMA's pinned umem, or a buggy one) is
 *   reported by REVOKE (-EBUSY), and provider unbind reclaims the memory
 *   from under it after revoke_timeout_ms rather than hang.
 * - host: a static importer pins the buffer and the dma-buf core keeps its
 *   mapping; revoke cannot take that mapping back (the pages stay allocated
 *   until release(), so no memory is reused): REVOKE says so with -EBUSY.
 *
 * CPU mappings (mmap of the dma-buf, shared only): on kernels with p2p I/O
 * (P2PB_HAVE_P2P_IO, >= 6.2) a p2p buffer is mapped as its pool pages, as the
 * kernel's own p2pmem_alloc_mmap() does, so that O_DIRECT on an NVMe can pin
 * them (FOLL_PCI_P2PDMA) and DMA straight into the BAR; elsewhere, and for
 * host buffers, as PFNs.  The BUFFER owns the pages (one reference each,
 * from the pool, returned by pci_free_p2pmem()): a mapping takes and drops
 * its own reference, and so does a GUP pin.  A pin outlives revoke, munmap
 * and close while its I/O is in flight, so the memory goes back to the pool
 * only once no page is held any more: never while a device may still write
 * it for a previous owner.  The last close() does not wait for that I/O: a
 * buffer released with pinned pages stays on the registry (LIST shows it
 * with P2PB_BUF_F_RELEASED) and a delayed work item polls until the pins
 * are gone, then returns its memory and forgets it (p2pb_buf_reclaim()).
 * Such pending work holds a module reference.
 *
 * Memory accounting: host pages, page arrays and sg tables are charged
 * (__GFP_ACCOUNT) to the memory cgroup of the task that allocates them,
 * i.e. p2pd's for ALLOC and the importer's for its mappings; allocations
 * fail with -ENOMEM rather than invoke the OOM killer.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/delay.h>
#include <linux/dma-resv.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/io.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci-p2pdma.h>
#include <linux/scatterlist.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "p2pbroker_internal.h"

#define P2PB_EXP_NAME "p2pbroker"

struct p2pb_buf {
	u64 id;
	u32 type;
	u32 owner_uid;
	size_t size;
	unsigned long nr_pages;
	struct page **pages;		/* host pages, or the p2p pages of @p2p_vaddr */
	struct pci_dev *provider;	/* P2P only, reference held */
	void *p2p_vaddr;		/* P2P only; NULL once returned to the pool */
	struct dma_buf *dmabuf;

	/* @lock serialises @revoked against the mmap fault handler. */
	struct mutex lock;
	bool revoked;			/* written under @lock and dmabuf->resv */

	atomic_t attachments;
	/*
	 * Live device (sg_table) mappings, of every attachment and device.
	 * Changed only in map/unmap, under dmabuf->resv (the core calls both
	 * with it held for this dynamic exporter), so it is exact there; read
	 * without the lock only by waits for it to drop to zero.
	 */
	atomic_t mappings;
	wait_queue_head_t unmapped;	/* woken when @mappings drops */

	struct list_head node;		/* in p2pb_bufs, under p2pb_bufs_lock */
	struct list_head reap;		/* in a provider revocation's list */

	/*
	 * Set under p2pb_bufs_lock when release() begins: no fd, mapping or
	 * importer is left, @dmabuf is gone (NULL), and the buffer stays on
	 * p2pb_bufs until its memory is back in the pool.
	 */
	bool released;
	unsigned long released_at;	/* jiffies */
	unsigned int poll_ms;		/* next pin poll, backing off */
	bool warned;			/* "still pinned" said once */
	struct delayed_work reclaim;
};

/* A provider between BUS_NOTIFY_UNBIND_DRIVER and BUS_NOTIFY_UNBOUND_DRIVER. */
struct p2pb_departing {
	struct pci_dev *pdev;		/* reference held */
	struct list_head node;		/* in p2pb_departing, under p2pb_bufs_lock */
};

/*
 * p2pb_bufs_lock protects p2pb_bufs, p2pb_next_id and p2pb_departing.  It is
 * never held across a wait for an importer or a fence.
 */
static DEFINE_MUTEX(p2pb_bufs_lock);
static LIST_HEAD(p2pb_bufs);
static LIST_HEAD(p2pb_departing);
static u64 p2pb_next_id = 1;

/* How long revoke waits for importers' fences and unmaps, in ms. */
static unsigned int p2pb_revoke_timeout_ms = 5000;
module_param_named(revoke_timeout_ms, p2pb_revoke_timeout_ms, uint, 0644);
MODULE_PARM_DESC(revoke_timeout_ms,
		 "How long revoke and provider unbind wait for importers to unmap and their DMA fences to signal (ms)");

/* Buffers whose memory went back to a departing provider while still mapped. */
static atomic_t p2pb_forced_reclaims = ATOMIC_INIT(0);
module_param_named(forced_reclaims, p2pb_forced_reclaims.counter, int, 0444);
MODULE_PARM_DESC(forced_reclaims,
		 "Buffers reclaimed at provider unbind although an importer never unmapped them");

static const struct dma_buf_ops p2pb_dmabuf_ops;

/* Runs p2pb_buf_reclaim() for buffers released while I/O pinned them. */
static struct workqueue_struct *p2pb_reclaim_wq;

#define P2PB_RECLAIM_POLL_MIN_MS 5
#define P2PB_RECLAIM_POLL_MAX_MS 50

/* @buf's CPU mappings are made of its pages (see the top of this file). */
static bool p2pb_buf_page_mapped(const struct p2pb_buf *buf)
{
	return P2PB_HAVE_P2P_IO && buf->type == P2PB_BUF_P2P;
}

/*
 * Whether a page of @buf has a reference besides the buffer's own: a CPU
 * mapping or a GUP pin (O_DIRECT in flight).  Once every mapping is zapped
 * (revoke) or gone (release), only pins are left.  Under @buf->lock: the
 * pages are only looked at while they are still the buffer's.
 */
static bool p2pb_buf_pages_held(struct p2pb_buf *buf)
{
	unsigned long i;
	bool held = false;

	if (!p2pb_buf_page_mapped(buf))
		return false;
	mutex_lock(&buf->lock);
	for (i = 0; buf->p2p_vaddr && i < buf->nr_pages && !held; i++)
		held = page_ref_count(buf->pages[i]) > 1;
	mutex_unlock(&buf->lock);
	return held;
}

/*
 * Wait until no page of @buf is held (the I/O that pinned them is done), or
 * until @deadline (jiffies).
 * Return: 0, or -ETIMEDOUT.
 */
static int p2pb_buf_wait_unheld(struct p2pb_buf *buf, unsigned long deadline)
{
	while (p2pb_buf_pages_held(buf)) {
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
		usleep_range(2000, 5000);
	}
	return 0;
}

/*
 * Before @buf's memory goes back to the pool: wait for the pins, however
 * long (block I/O completes or times out), saying so once the revoke
 * timeout has passed.  Never hands pinned memory to the next owner.
 */
static void p2pb_buf_drain_pins(struct p2pb_buf *buf)
{
	unsigned long t = msecs_to_jiffies(p2pb_revoke_timeout_ms);

	if (!p2pb_buf_wait_unheld(buf, jiffies + t))
		return;
	pr_warn("buffer %llu: pages still pinned by I/O after %u ms; its memory stays allocated until the I/O ends\n",
		buf->id, p2pb_revoke_timeout_ms);
	while (p2pb_buf_wait_unheld(buf, jiffies + t))
		;
}

static void p2pb_buf_free_mem(struct p2pb_buf *buf)
{
	unsigned long i;

	if (buf->type == P2PB_BUF_P2P) {
		/* Callers made sure no page is pinned any more. */
		if (buf->p2p_vaddr)
			pci_free_p2pmem(buf->provider, buf->p2p_vaddr, buf->size);
		buf->p2p_vaddr = NULL;
	} else if (buf->pages) {
		for (i = 0; i < buf->nr_pages; i++) {
			if (buf->pages[i])
				__free_page(buf->pages[i]);
			cond_resched();
		}
	}
	kvfree(buf->pages);
	buf->pages = NULL;
}

static void p2pb_buf_free(struct p2pb_buf *buf)
{
	p2pb_buf_free_mem(buf);
	pci_dev_put(buf->provider);
	kfree(buf);
}

static bool p2pb_provider_departing(struct pci_dev *pdev)
{
	struct p2pb_departing *d;

	lockdep_assert_held(&p2pb_bufs_lock);
	list_for_each_entry(d, &p2pb_departing, node)
		if (d->pdev == pdev)
			return true;
	return false;
}

/*
 * Zero BAR memory through its I/O mapping, in chunks: large buffers must not
 * hog the CPU, and a killed caller stops early.
 */
static int p2pb_zero_io(void *vaddr, size_t size)
{
	size_t off, n;

	for (off = 0; off < size; off += n) {
		if (fatal_signal_pending(current))
			return -EINTR;
		n = min_t(size_t, size - off, SZ_1M);
		memset_io((void __iomem __force *)(vaddr + off), 0, n);
		cond_resched();
	}
	return 0;
}

static int p2pb_buf_alloc_p2p(struct p2pb_buf *buf, u64 bdf)
{
	unsigned long i;
	bool departing;
	int ret;

	if (!IS_ENABLED(CONFIG_PCI_P2PDMA))
		return -EOPNOTSUPP;

	buf->provider = p2pb_pci_get(bdf);
	if (!buf->provider)
		return -ENODEV;
	if (!pci_has_p2pmem(buf->provider))
		return -EOPNOTSUPP;
	mutex_lock(&p2pb_bufs_lock);
	departing = p2pb_provider_departing(buf->provider);
	mutex_unlock(&p2pb_bufs_lock);
	if (departing)
		return -ENODEV;

	buf->pages = kvcalloc(buf->nr_pages, sizeof(*buf->pages),
			      GFP_KERNEL_ACCOUNT);
	if (!buf->pages)
		return -ENOMEM;

	buf->p2p_vaddr = pci_alloc_p2pmem(buf->provider, buf->size);
	if (!buf->p2p_vaddr)
		return -ENOMEM;

	/* The pool hands out memory a previous user wrote: never leak it. */
	ret = p2pb_zero_io(buf->p2p_vaddr, buf->size);
	if (ret)
		return ret;
	for (i = 0; i < buf->nr_pages; i++)
		buf->pages[i] = virt_to_page(buf->p2p_vaddr + i * PAGE_SIZE);
	return 0;
}

static int p2pb_buf_alloc_host(struct p2pb_buf *buf)
{
	unsigned long i;

	buf->pages = kvcalloc(buf->nr_pages, sizeof(*buf->pages),
			      GFP_KERNEL_ACCOUNT);
	if (!buf->pages)
		return -ENOMEM;

	for (i = 0; i < buf->nr_pages; i++) {
		if (fatal_signal_pending(current))
			return -EINTR;
		/* Fail the ALLOC rather than OOM-kill for pages no RSS shows. */
		buf->pages[i] = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO |
					   __GFP_RETRY_MAYFAIL | __GFP_NOWARN);
		if (!buf->pages[i])
			return -ENOMEM;
		cond_resched();
	}
	return 0;
}

static struct p2pb_buf *p2pb_buf_from_dmabuf(struct dma_buf *dmabuf)
{
	return dmabuf->ops == &p2pb_dmabuf_ops ? dmabuf->priv : NULL;
}

/* ---- dma-buf ops ------------------------------------------------------ */

struct p2pb_attach {
	struct p2pb_buf *buf;
	struct sg_table *sgt;	/* latest mapping, under dmabuf->resv */
	unsigned int maps;	/* live mappings, under dmabuf->resv */
};

static int p2pb_dmabuf_attach(struct dma_buf *dmabuf,
			      struct dma_buf_attachment *attach)
{
	struct p2pb_buf *buf = dmabuf->priv;
	struct p2pb_attach *a;

	if (READ_ONCE(buf->revoked))
		return -ENODEV;

	if (buf->type == P2PB_BUF_P2P) {
		/* Only importers that declared they can take bus addresses. */
		if (!attach->peer2peer)
			return -EOPNOTSUPP;
		if (pci_p2pdma_distance(buf->provider, attach->dev, false) < 0)
			return -EREMOTEIO;
	}

	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	a->buf = buf;
	attach->priv = a;
	atomic_inc(&buf->attachments);
	return 0;
}

static void p2pb_dmabuf_detach(struct dma_buf *dmabuf,
			       struct dma_buf_attachment *attach)
{
	struct p2pb_attach *a = attach->priv;

	atomic_dec(&a->buf->attachments);
	kfree(a);
}

/*
 * The memory never moves, so pinning has nothing to do.  The core pins
 * static importers, and dynamic ones too on kernels without
 * CONFIG_DMABUF_MOVE_NOTIFY; revoke finds the mappings that outlive
 * move_notify by counting them per attachment (p2pb_attach.maps).
 */
static int p2pb_dmabuf_pin(struct dma_buf_attachment *attach)
{
	struct p2pb_buf *buf = attach->dmabuf->priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	return buf->revoked ? -ENODEV : 0;
}

static void p2pb_dmabuf_unpin(struct dma_buf_attachment *attach)
{
}

/*
 * The longest segment @dev can map: contiguous buffers must not become one
 * segment larger than the device's DMA limits (swiotlb-bounced guests).
 */
static unsigned int p2pb_max_segment(struct device *dev)
{
	size_t max = min_t(size_t, dma_max_mapping_size(dev),
			   dma_get_max_seg_size(dev));

	max = min_t(size_t, max, UINT_MAX);
	return max_t(unsigned int, round_down(max, PAGE_SIZE), PAGE_SIZE);
}

/*
 * DMA attributes of a new mapping of @buf.
 *
 * BAR memory takes no CPU cache maintenance (see p2pb_dmabuf_sync()), and
 * several devices may map the same BAR range at once.
 *
 * Host pages may be mapped many times at once: by several devices, and by
 * one device through several attachments (two contexts of one driver), all
 * legitimate dma-buf use.  The DMA API does not allow a mapping that asks
 * for CPU cache maintenance of memory another live mapping covers: its
 * debug code tracks active mappings by physical cacheline, whatever the
 * device, and reports "overlapping mappings aren't supported" unless the
 * overlapping mapping is made with DMA_ATTR_SKIP_CPU_SYNC.  So only the
 * first live mapping of the buffer makes the CPU's writes visible
 * to the devices; from then on the buffer belongs to the devices, a later
 * mapping adds a device without another hand-over (DMA_ATTR_SKIP_CPU_SYNC,
 * as amdgpu's and drm_gem_map_dma_buf() do for every mapping), and the CPU
 * reaches the memory only through begin/end_cpu_access, which syncs every
 * live mapping.  Swiotlb bounces the data in at map time whatever the
 * attribute.  Under dmabuf->resv, which makes @buf->mappings exact.
 */
static unsigned long p2pb_dma_map_attrs(struct p2pb_buf *buf)
{
	dma_resv_assert_held(buf->dmabuf->resv);
	if (buf->type == P2PB_BUF_P2P || atomic_read(&buf->mappings))
		return DMA_ATTR_SKIP_CPU_SYNC;
	return 0;
}

/*
 * DMA attributes of an unmap of @buf.  Host pages always sync, also while
 * other mappings stay: that sync belongs to the one mapping going away (its
 * swiotlb slot is copied back: skipping it would lose what a bounced device
 * wrote), and the overlap rule above is about new mappings only.
 */
static unsigned long p2pb_dma_unmap_attrs(const struct p2pb_buf *buf)
{
	return buf->type == P2PB_BUF_P2P ? DMA_ATTR_SKIP_CPU_SYNC : 0;
}

/* Each attachment gets its own sg_table, mapped for its own device. */
static struct sg_table *p2pb_dmabuf_map(struct dma_buf_attachment *attach,
					enum dma_data_direction dir)
{
	struct p2pb_buf *buf = attach->dmabuf->priv;
	struct p2pb_attach *a = attach->priv;
	struct sg_table *sgt;
	int ret;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (buf->revoked)
		return ERR_PTR(-ENODEV);

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL_ACCOUNT);
	if (!sgt)
		return ERR_PTR(-ENOMEM);

	ret = sg_alloc_table_from_pages_segment(sgt, buf->pages, buf->nr_pages,
						0, buf->size,
						p2pb_max_segment(attach->dev),
						GFP_KERNEL_ACCOUNT);
	if (ret)
		goto free_sgt;

	/* For p2p pages this yields bus addresses, or -EREMOTEIO. */
	ret = dma_map_sgtable(attach->dev, sgt, dir, p2pb_dma_map_attrs(buf));
	if (ret)
		goto free_table;

	a->sgt = sgt;
	a->maps++;
	atomic_inc(&buf->mappings);
	return sgt;

free_table:
	sg_free_table(sgt);
free_sgt:
	kfree(sgt);
	return ERR_PTR(ret);
}

static void p2pb_dmabuf_unmap(struct dma_buf_attachment *attach,
			      struct sg_table *sgt,
			      enum dma_data_direction dir)
{
	struct p2pb_buf *buf = attach->dmabuf->priv;
	struct p2pb_attach *a = attach->priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (a->sgt == sgt)
		a->sgt = NULL;
	a->maps--;
	dma_unmap_sgtable(attach->dev, sgt, dir, p2pb_dma_unmap_attrs(buf));
	sg_free_table(sgt);
	kfree(sgt);
	if (atomic_dec_and_test(&buf->mappings))
		wake_up_all(&buf->unmapped);
}

/*
 * Map one of the buffer's pages.  The PTE takes its own reference (dropped
 * when it is zapped), unlike p2pmem_alloc_mmap(), which hands the pool's
 * reference to the mapping: here the buffer keeps it until release().
 * VM_MIXEDMAP is set at mmap() time, so this runs under the fault's lock.
 */
static vm_fault_t p2pb_vmf_insert_page(struct vm_area_struct *vma,
				       unsigned long addr, struct page *page)
{
	int err = vm_insert_page(vma, addr, page);

	switch (err) {
	case 0:
	case -EBUSY:	/* another thread's fault mapped it first */
		return VM_FAULT_NOPAGE;
	case -ENOMEM:
		return VM_FAULT_OOM;
	default:
		return VM_FAULT_SIGBUS;
	}
}

static vm_fault_t p2pb_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct p2pb_buf *buf = vma->vm_private_data;
	struct page *page;
	vm_fault_t ret;

	if (vmf->pgoff >= buf->nr_pages)
		return VM_FAULT_SIGBUS;

	mutex_lock(&buf->lock);
	page = buf->pages[vmf->pgoff];
	if (buf->revoked)
		ret = VM_FAULT_SIGBUS;
	else if (p2pb_buf_page_mapped(buf))
		ret = p2pb_vmf_insert_page(vma, vmf->address, page);
	else
		ret = vmf_insert_pfn(vma, vmf->address, page_to_pfn(page));
	mutex_unlock(&buf->lock);
	return ret;
}

static const struct vm_operations_struct p2pb_vm_ops = {
	.fault = p2pb_vm_fault,
};

static int p2pb_dmabuf_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	struct p2pb_buf *buf = dmabuf->priv;

	/* Device memory and PFN maps cannot be copy-on-write. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (READ_ONCE(buf->revoked))
		return -ENODEV;

	/* Pages: GUP (O_DIRECT) may pin them; VM_IO or VM_PFNMAP forbid it. */
	if (p2pb_buf_page_mapped(buf))
		p2pb_vm_flags_set(vma, VM_MIXEDMAP | VM_DONTEXPAND |
				  VM_DONTDUMP);
	else
		p2pb_vm_flags_set(vma, VM_PFNMAP | VM_IO | VM_DONTEXPAND |
				  VM_DONTDUMP);
	vma->vm_ops = &p2pb_vm_ops;
	vma->vm_private_data = buf;
	return 0;
}

static int p2pb_dmabuf_sync(struct dma_buf *dmabuf,
			    enum dma_data_direction dir, bool for_cpu)
{
	struct p2pb_buf *buf = dmabuf->priv;
	struct dma_buf_attachment *attach;
	struct p2pb_attach *a;

	/* BAR memory is not in any CPU cache the DMA API manages. */
	if (buf->type != P2PB_BUF_HOST)
		return 0;

	dma_resv_lock(dmabuf->resv, NULL);
	list_for_each_entry(attach, &dmabuf->attachments, node) {
		a = attach->priv;
		if (!a || !a->sgt)
			continue;
		if (for_cpu)
			dma_sync_sgtable_for_cpu(attach->dev, a->sgt, dir);
		else
			dma_sync_sgtable_for_device(attach->dev, a->sgt, dir);
	}
	dma_resv_unlock(dmabuf->resv);
	return 0;
}

static int p2pb_dmabuf_begin_cpu(struct dma_buf *dmabuf,
				 enum dma_data_direction dir)
{
	return p2pb_dmabuf_sync(dmabuf, dir, true);
}

static int p2pb_dmabuf_end_cpu(struct dma_buf *dmabuf,
			       enum dma_data_direction dir)
{
	return p2pb_dmabuf_sync(dmabuf, dir, false);
}

static void p2pb_buf_warn_pinned(struct p2pb_buf *buf)
{
	pr_warn("buffer %llu: pages still pinned by I/O after %u ms; its memory stays allocated until the I/O ends\n",
		buf->id, p2pb_revoke_timeout_ms);
}

/*
 * Return the memory of released @buf to its pool once no O_DIRECT I/O pins
 * its pages any more, then unlink and free it; until then, poll again
 * later.  Never waits.  Return: true when @buf is gone.
 */
static bool p2pb_buf_reclaim(struct p2pb_buf *buf)
{
	unsigned long t = msecs_to_jiffies(p2pb_revoke_timeout_ms);

	if (p2pb_buf_pages_held(buf)) {
		if (!buf->warned && time_after(jiffies, buf->released_at + t)) {
			buf->warned = true;
			p2pb_buf_warn_pinned(buf);
		}
		queue_delayed_work(p2pb_reclaim_wq, &buf->reclaim,
				   msecs_to_jiffies(buf->poll_ms));
		buf->poll_ms = min_t(unsigned int, buf->poll_ms * 2,
				     P2PB_RECLAIM_POLL_MAX_MS);
		return false;
	}
	/* Memory back first: the registry counts it until it really is. */
	p2pb_buf_free_mem(buf);
	mutex_lock(&p2pb_bufs_lock);
	list_del_init(&buf->node);
	mutex_unlock(&p2pb_bufs_lock);
	p2pb_buf_free(buf);
	return true;
}

static void p2pb_buf_reclaim_work(struct work_struct *work)
{
	struct p2pb_buf *buf = container_of(to_delayed_work(work),
					    struct p2pb_buf, reclaim);

	/* The last poll drops the reference release() took. */
	if (p2pb_buf_reclaim(buf))
		module_put(THIS_MODULE);
}

/*
 * The last fd, mapping and importer are gone.  Pages that O_DIRECT I/O
 * still pins cannot go back to the pool yet, but this task (maybe p2pd's
 * close(), maybe an exit) must not wait for that I/O: the buffer stays
 * listed as released and p2pb_buf_reclaim() frees it later.
 */
static void p2pb_dmabuf_release(struct dma_buf *dmabuf)
{
	struct p2pb_buf *buf = dmabuf->priv;

	mutex_lock(&p2pb_bufs_lock);
	buf->released = true;
	buf->released_at = jiffies;
	buf->dmabuf = NULL;
	mutex_unlock(&p2pb_bufs_lock);

	/*
	 * Keep the module (and the work function) until the memory is back;
	 * the dma-buf core still holds its own reference here.
	 */
	__module_get(THIS_MODULE);
	buf->poll_ms = P2PB_RECLAIM_POLL_MIN_MS;
	p2pb_buf_reclaim_work(&buf->reclaim.work);
}

static const struct dma_buf_ops p2pb_dmabuf_ops = {
	.attach = p2pb_dmabuf_attach,
	.detach = p2pb_dmabuf_detach,
	.pin = p2pb_dmabuf_pin,
	.unpin = p2pb_dmabuf_unpin,
	.map_dma_buf = p2pb_dmabuf_map,
	.unmap_dma_buf = p2pb_dmabuf_unmap,
	.release = p2pb_dmabuf_release,
	.mmap = p2pb_dmabuf_mmap,
	.begin_cpu_access = p2pb_dmabuf_begin_cpu,
	.end_cpu_access = p2pb_dmabuf_end_cpu,
};

/* ---- allocation and registry ----------------------------------------- */

/**
 * p2pb_buf_alloc() - allocate a buffer and export it as a dma-buf
 * @req: validated request; @req->id is filled in
 * @ret_dmabuf: on success, the new dma-buf (caller owns the reference)
 *
 * Return: 0 or -errno.
 */
int p2pb_buf_alloc(struct p2pb_alloc *req, struct dma_buf **ret_dmabuf)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp);
	struct p2pb_buf *buf;
	struct dma_buf *dmabuf;
	char *name;
	int ret;

	if (req->flags & ~P2PB_ALLOC_VALID_FLAGS)
		return -EINVAL;
	if (!req->size || !PAGE_ALIGNED(req->size) ||
	    req->size > p2pb_max_alloc_bytes)
		return -EINVAL;
	if (req->type == P2PB_BUF_HOST && req->provider)
		return -EINVAL;
	if (req->type != P2PB_BUF_HOST && req->type != P2PB_BUF_P2P)
		return -EINVAL;

	buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	buf->type = req->type;
	buf->owner_uid = req->owner_uid;
	buf->size = req->size;
	buf->nr_pages = req->size >> PAGE_SHIFT;
	mutex_init(&buf->lock);
	init_waitqueue_head(&buf->unmapped);
	INIT_LIST_HEAD(&buf->node);
	INIT_LIST_HEAD(&buf->reap);
	INIT_DELAYED_WORK(&buf->reclaim, p2pb_buf_reclaim_work);

	if (req->type == P2PB_BUF_P2P)
		ret = p2pb_buf_alloc_p2p(buf, req->provider);
	else
		ret = p2pb_buf_alloc_host(buf);
	if (ret)
		goto free_buf;

	if (buf->provider)
		name = kasprintf(GFP_KERNEL, "p2p:%s", pci_name(buf->provider));
	else
		name = kstrdup("host", GFP_KERNEL);
	if (!name) {
		ret = -ENOMEM;
		goto free_buf;
	}

	exp.exp_name = P2PB_EXP_NAME;
	exp.ops = &p2pb_dmabuf_ops;
	exp.size = buf->size;
	exp.flags = O_RDWR | O_CLOEXEC;
	exp.priv = buf;
	dmabuf = dma_buf_export(&exp);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto free_name;
	}
	/* From here on, dma_buf_put() frees @buf through release(). */
	buf->dmabuf = dmabuf;
	spin_lock(&dmabuf->name_lock);
	dmabuf->name = name;
	spin_unlock(&dmabuf->name_lock);

	mutex_lock(&p2pb_bufs_lock);
	/*
	 * A provider being removed is marked departing (and, when it is ours,
	 * unpublished) before it revokes the buffers on this list: refuse to
	 * add one it would miss.
	 */
	if (buf->provider && (p2pb_provider_departing(buf->provider) ||
			      !pci_has_p2pmem(buf->provider))) {
		mutex_unlock(&p2pb_bufs_lock);
		dma_buf_put(dmabuf);
		return -ENODEV;
	}
	buf->id = p2pb_next_id++;
	list_add_tail(&buf->node, &p2pb_bufs);
	mutex_unlock(&p2pb_bufs_lock);

	req->id = buf->id;
	*ret_dmabuf = dmabuf;
	return 0;

free_name:
	kfree(name);
free_buf:
	p2pb_buf_free(buf);
	return ret;
}

static void p2pb_buf_info(struct p2pb_buf *buf, struct p2pb_buf_info *info)
{
	memset(info, 0, sizeof(*info));
	info->id = buf->id;
	info->size = buf->size;
	info->provider = buf->provider ? p2pb_pci_bdf(buf->provider) : 0;
	info->type = buf->type;
	info->owner_uid = buf->owner_uid;
	info->flags = READ_ONCE(buf->revoked) ? P2PB_BUF_F_REVOKED : 0;
	if (buf->released)
		info->flags |= P2PB_BUF_F_RELEASED;
	if (p2pb_buf_page_mapped(buf))
		info->flags |= P2PB_BUF_F_DIRECT_IO;
	info->attachments = atomic_read(&buf->attachments);
}

/**
 * p2pb_buf_describe() - describe the p2pbroker dma-buf behind @fd
 * @fd: borrowed fd
 * @ret_info: filled on success
 *
 * Return: 0, -EBADF/-EINVAL (not a dma-buf / not ours).
 */
int p2pb_buf_describe(int fd, struct p2pb_buf_info *ret_info)
{
	struct dma_buf *dmabuf;
	struct p2pb_buf *buf;

	dmabuf = dma_buf_get(fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	buf = p2pb_buf_from_dmabuf(dmabuf);
	if (buf)
		p2pb_buf_info(buf, ret_info);
	dma_buf_put(dmabuf);
	return buf ? 0 : -EINVAL;
}

/**
 * p2pb_buf_list() - snapshot of live buffers
 * @entries: kernel array of @capacity entries
 * @capacity: size of @entries
 * @ret_count: entries written
 * @ret_total: live buffers
 *
 * Return: 0.
 */
int p2pb_buf_list(struct p2pb_buf_info *entries, u32 capacity, u32 *ret_count,
		  u32 *ret_total)
{
	struct p2pb_buf *buf;
	u32 n = 0, total = 0;

	mutex_lock(&p2pb_bufs_lock);
	list_for_each_entry(buf, &p2pb_bufs, node) {
		if (n < capacity)
			p2pb_buf_info(buf, &entries[n++]);
		total++;
	}
	mutex_unlock(&p2pb_bufs_lock);
	*ret_count = n;
	*ret_total = total;
	return 0;
}

/*
 * Take a reference on @buf's file unless it is already being released (then
 * no fd, mmap or importer is left).  Called under p2pb_bufs_lock, which
 * keeps @buf and its dma-buf alive until the reference is taken: release()
 * takes that lock (and marks @buf released) before the dma-buf is freed.
 */
static struct file *p2pb_buf_get_file(struct p2pb_buf *buf)
{
	struct file *file;

	lockdep_assert_held(&p2pb_bufs_lock);
	if (buf->released)
		return NULL;
	file = buf->dmabuf->file;
	return p2pb_get_file_live(file) ? file : NULL;
}

/*
 * Revoke @buf, whose file the caller holds a reference on: refuse new
 * attachments and maps, tell dynamic importers, zap CPU mappings.  Does not
 * wait; see p2pb_buf_revoke_wait().
 * Return: the number of attachments still mapped after move_notify (static
 * or pinning importers, or ones that ignore move_notify).
 */
static unsigned int p2pb_buf_revoke(struct p2pb_buf *buf, struct file *file)
{
	struct dma_buf *dmabuf = buf->dmabuf;
	struct dma_buf_attachment *attach;
	unsigned int held = 0;

	mutex_lock(&buf->lock);
	dma_resv_lock(dmabuf->resv, NULL);
	if (!buf->revoked) {
		WRITE_ONCE(buf->revoked, true);
		dma_buf_move_notify(dmabuf);
	}
	list_for_each_entry(attach, &dmabuf->attachments, node) {
		struct p2pb_attach *a = attach->priv;

		if (a && a->maps)
			held++;
	}
	dma_resv_unlock(dmabuf->resv);
	mutex_unlock(&buf->lock);

	/* Faults after this see @revoked and get SIGBUS. */
	unmap_mapping_range(file->f_mapping, 0, 0, 1);
	return held;
}

static long p2pb_jiffies_left(unsigned long deadline)
{
	return max_t(long, (long)(deadline - jiffies), 1);
}

/*
 * Wait until @deadline (jiffies) for the device DMA of @buf's importers to
 * finish: every fence on the reservation (importers add theirs for work in
 * flight, of any usage), and with @unmapped also every mapping gone; and
 * for the storage DMA into its pages (O_DIRECT pins, p2p I/O) to end.
 * Return: 0, or -ETIMEDOUT when the deadline passed first.
 */
static int p2pb_buf_revoke_wait(struct p2pb_buf *buf, unsigned long deadline,
				bool unmapped)
{
	if (dma_resv_wait_timeout(buf->dmabuf->resv, DMA_RESV_USAGE_BOOKKEEP,
				  false, p2pb_jiffies_left(deadline)) <= 0)
		return -ETIMEDOUT;
	if (unmapped &&
	    !wait_event_timeout(buf->unmapped, !atomic_read(&buf->mappings),
				p2pb_jiffies_left(deadline)))
		return -ETIMEDOUT;
	return p2pb_buf_wait_unheld(buf, deadline);
}

static unsigned long p2pb_revoke_deadline(void)
{
	return jiffies + msecs_to_jiffies(p2pb_revoke_timeout_ms);
}

/**
 * p2pb_buf_revoke_id() - revoke the buffer with id @id
 * @id: buffer id
 *
 * Returns once the importers' fences have signalled, i.e. no device DMA the
 * importers announced is still in flight, and no O_DIRECT I/O still pins
 * the buffer's pages (later I/O into the revoked mapping fails with -EFAULT).
 *
 * Return: 0 (also when already revoked, and for a released buffer, which has
 * no mapping left), -ENOENT, -ETIMEDOUT (an importer's
 * fence did not signal, or pinned I/O did not end, in time; the buffer is
 * revoked anyway), -EBUSY (an
 * importer kept its device mapping after move_notify: a static or pinning
 * one, until it detaches).
 */
int p2pb_buf_revoke_id(u64 id)
{
	struct p2pb_buf *buf, *found = NULL;
	struct file *file = NULL;
	unsigned int held;
	int ret;

	mutex_lock(&p2pb_bufs_lock);
	list_for_each_entry(buf, &p2pb_bufs, node) {
		if (buf->id == id) {
			found = buf;
			file = p2pb_buf_get_file(buf);
			if (!file)
				WRITE_ONCE(buf->revoked, true);
			break;
		}
	}
	mutex_unlock(&p2pb_bufs_lock);
	if (!found)
		return -ENOENT;
	if (!file)
		return 0;

	/* @file keeps @found alive from here on. */
	held = p2pb_buf_revoke(found, file);
	ret = p2pb_buf_revoke_wait(found, p2pb_revoke_deadline(), false);
	if (!ret && held)
		ret = -EBUSY;
	fput(file);
	return ret;
}

/* Whether a buffer of @pdev is released but its memory not yet back. */
static bool p2pb_provider_has_released(struct pci_dev *pdev)
{
	struct p2pb_buf *buf;
	bool found = false;

	mutex_lock(&p2pb_bufs_lock);
	list_for_each_entry(buf, &p2pb_bufs, node) {
		if (buf->provider == pdev && buf->released) {
			found = true;
			break;
		}
	}
	mutex_unlock(&p2pb_bufs_lock);
	return found;
}

/*
 * Wait until every released buffer of departing @pdev has its memory back
 * in the pool (O_DIRECT pins end: block I/O completes or times out), saying
 * so once after the revoke timeout.  Pinned pool memory is never freed.
 */
static void p2pb_buf_wait_released(struct pci_dev *pdev)
{
	unsigned long deadline = p2pb_revoke_deadline();
	bool warned = false;

	while (p2pb_provider_has_released(pdev)) {
		if (!warned && time_after(jiffies, deadline)) {
			warned = true;
			pci_warn(pdev, "released buffers still pinned by I/O after %u ms; unbind waits for that I/O to end\n",
				 p2pb_revoke_timeout_ms);
		}
		usleep_range(5000, 10000);
	}
}

/**
 * p2pb_buf_provider_leaving() - a provider's driver is about to unbind
 * @pdev: the provider
 *
 * From now until p2pb_buf_provider_gone(), ALLOC refuses @pdev, and every
 * buffer it has is revoked: its memory goes back to the pool once its
 * importers are done, or after the revoke timeout (logged and counted in
 * the forced_reclaims parameter) so that unbind never hangs on an importer.
 * Waits without holding p2pb_bufs_lock.
 */
void p2pb_buf_provider_leaving(struct pci_dev *pdev)
{
	struct p2pb_departing *d;
	struct p2pb_buf *buf, *tmp;
	unsigned long deadline;
	LIST_HEAD(reap);

	d = kzalloc(sizeof(*d), GFP_KERNEL);

	mutex_lock(&p2pb_bufs_lock);
	if (d && !p2pb_provider_departing(pdev)) {
		d->pdev = pci_dev_get(pdev);
		list_add(&d->node, &p2pb_departing);
		d = NULL;
	}
	list_for_each_entry(buf, &p2pb_bufs, node) {
		struct file *file;

		if (buf->provider != pdev || !list_empty(&buf->reap))
			continue;
		file = p2pb_buf_get_file(buf);
		if (!file) {
			/*
			 * Being released: p2pb_buf_reclaim() returns its
			 * memory, maybe later (pinned by I/O); waited for
			 * below.
			 */
			WRITE_ONCE(buf->revoked, true);
			continue;
		}
		list_add_tail(&buf->reap, &reap);
	}
	mutex_unlock(&p2pb_bufs_lock);
	kfree(d);

	/* The file references taken above keep every buffer on @reap alive. */
	list_for_each_entry(buf, &reap, reap)
		p2pb_buf_revoke(buf, buf->dmabuf->file);

	deadline = p2pb_revoke_deadline();
	list_for_each_entry_safe(buf, tmp, &reap, reap) {
		struct file *file = buf->dmabuf->file;

		if (p2pb_buf_revoke_wait(buf, deadline, true)) {
			pci_err(pdev, "buffer %llu: an importer still maps it or has DMA in flight after %u ms; its memory goes back to the departing provider anyway\n",
				buf->id, p2pb_revoke_timeout_ms);
			atomic_inc(&p2pb_forced_reclaims);
		}
		/* Importers may be forced; pinned storage DMA never is. */
		p2pb_buf_drain_pins(buf);
		mutex_lock(&buf->lock);
		if (buf->p2p_vaddr)
			pci_free_p2pmem(buf->provider, buf->p2p_vaddr,
					buf->size);
		buf->p2p_vaddr = NULL;
		mutex_unlock(&buf->lock);

		mutex_lock(&p2pb_bufs_lock);
		list_del_init(&buf->reap);
		mutex_unlock(&p2pb_bufs_lock);
		fput(file);
	}

	p2pb_buf_wait_released(pdev);
}

/**
 * p2pb_buf_provider_gone() - a provider's driver has unbound
 * @pdev: the provider
 */
void p2pb_buf_provider_gone(struct pci_dev *pdev)
{
	struct p2pb_departing *d, *tmp;

	mutex_lock(&p2pb_bufs_lock);
	list_for_each_entry_safe(d, tmp, &p2pb_departing, node) {
		if (d->pdev != pdev)
			continue;
		list_del(&d->node);
		pci_dev_put(d->pdev);
		kfree(d);
	}
	mutex_unlock(&p2pb_bufs_lock);
}

/* Module init: the reclaim workqueue.  Return: 0 or -ENOMEM. */
int p2pb_buf_init(void)
{
	p2pb_reclaim_wq = alloc_workqueue("p2pbroker_reclaim", WQ_UNBOUND, 0);
	return p2pb_reclaim_wq ? 0 : -ENOMEM;
}

/*
 * Module exit: nothing may be left departing.  No reclaim is pending (each
 * holds a module reference); destroying the workqueue waits for the last
 * one to return from its work function after its module_put().
 */
void p2pb_buf_exit(void)
{
	struct p2pb_departing *d, *tmp;

	mutex_lock(&p2pb_bufs_lock);
	list_for_each_entry_safe(d, tmp, &p2pb_departing, node) {
		list_del(&d->node);
		pci_dev_put(d->pdev);
		kfree(d);
	}
	mutex_unlock(&p2pb_bufs_lock);
	destroy_workqueue(p2pb_reclaim_wq);
}
