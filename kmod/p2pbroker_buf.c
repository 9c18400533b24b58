// SPDX-License-Identifier: GPL-2.0
/*
 * Typed dma-buf buffers: p2p (a provider's BAR memory from
 * the kernel's p2pdma pool) and host (system pages).
 *
 * Lifetime: a buffer belongs to its dma-buf; it is freed in the dma-buf's
 * release(), i.e. when the last fd, mmap and importer reference is gone.
 * Revoke zaps CPU mappings, tells dynamic importers (move_notify) and refuses
 * new mappings; the memory still returns to its pool only at release(),
 * except when the provider goes away (p2pb_buf_revoke_provider()), which
 * returns it early when no device mapping is left.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci-p2pdma.h>
#include <linux/scatterlist.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/wait.h>

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
	atomic_t mappings;		/* live device (sg_table) mappings */
	wait_queue_head_t unmapped;	/* woken when @mappings drops */

	struct list_head node;		/* in p2pb_bufs, under p2pb_bufs_lock */
};

/* p2pb_bufs_lock protects p2pb_bufs and p2pb_next_id. */
static DEFINE_MUTEX(p2pb_bufs_lock);
static LIST_HEAD(p2pb_bufs);
static u64 p2pb_next_id = 1;

static const struct dma_buf_ops p2pb_dmabuf_ops;

static void p2pb_buf_free_mem(struct p2pb_buf *buf)
{
	unsigned long i;

	if (buf->type == P2PB_BUF_P2P) {
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

static int p2pb_buf_alloc_p2p(struct p2pb_buf *buf, u64 bdf)
{
	unsigned long i;

	if (!IS_ENABLED(CONFIG_PCI_P2PDMA))
		return -EOPNOTSUPP;

	buf->provider = p2pb_pci_get(bdf);
	if (!buf->provider)
		return -ENODEV;
	if (!pci_has_p2pmem(buf->provider))
		return -EOPNOTSUPP;

	buf->pages = kvcalloc(buf->nr_pages, sizeof(*buf->pages), GFP_KERNEL);
	if (!buf->pages)
		return -ENOMEM;

	buf->p2p_vaddr = pci_alloc_p2pmem(buf->provider, buf->size);
	if (!buf->p2p_vaddr)
		return -ENOMEM;

	/* The pool hands out memory a previous user wrote: never leak it. */
	memset(buf->p2p_vaddr, 0, buf->size);
	for (i = 0; i < buf->nr_pages; i++)
		buf->pages[i] = virt_to_page(buf->p2p_vaddr + i * PAGE_SIZE);
	return 0;
}

static int p2pb_buf_alloc_host(struct p2pb_buf *buf)
{
	unsigned long i;

	buf->pages = kvcalloc(buf->nr_pages, sizeof(*buf->pages), GFP_KERNEL);
	if (!buf->pages)
		return -ENOMEM;

	for (i = 0; i < buf->nr_pages; i++) {
		if (fatal_signal_pending(current))
			return -EINTR;
		buf->pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO | __GFP_ACCOUNT);
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

/* The memory never moves: pinning is a no-op, but it makes us dynamic. */
static int p2pb_dmabuf_pin(struct dma_buf_attachment *attach)
{
	return 0;
}

static void p2pb_dmabuf_unpin(struct dma_buf_attachment *attach)
{
}

/*
 * BAR memory takes no CPU cache maintenance (see p2pb_dmabuf_sync()), and
 * several devices may map the same BAR range at once.
 */
static unsigned long p2pb_dma_attrs(const struct p2pb_buf *buf)
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

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);

	ret = sg_alloc_table_from_pages(sgt, buf->pages, buf->nr_pages, 0,
					buf->size, GFP_KERNEL);
	if (ret)
		goto free_sgt;

	/* For p2p pages this yields bus addresses, or -EREMOTEIO. */
	ret = dma_map_sgtable(attach->dev, sgt, dir, p2pb_dma_attrs(buf));
	if (ret)
		goto free_table;

	a->sgt = sgt;
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

	if (a->sgt == sgt)
		a->sgt = NULL;
	dma_unmap_sgtable(attach->dev, sgt, dir, p2pb_dma_attrs(buf));
	sg_free_table(sgt);
	kfree(sgt);
	if (atomic_dec_and_test(&buf->mappings))
		wake_up_all(&buf->unmapped);
}

static vm_fault_t p2pb_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct p2pb_buf *buf = vma->vm_private_data;
	vm_fault_t ret;

	if (vmf->pgoff >= buf->nr_pages)
		return VM_FAULT_SIGBUS;

	mutex_lock(&buf->lock);
	if (buf->revoked)
		ret = VM_FAULT_SIGBUS;
	else
		ret = vmf_insert_pfn(vma, vmf->address,
				     page_to_pfn(buf->pages[vmf->pgoff]));
	mutex_unlock(&buf->lock);
	return ret;
}

static const struct vm_operations_struct p2pb_vm_ops = {
	.fault = p2pb_vm_fault,
};

static int p2pb_dmabuf_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	struct p2pb_buf *buf = dmabuf->priv;

	/* PFN maps cannot be copy-on-write. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (READ_ONCE(buf->revoked))
		return -ENODEV;

	p2pb_vm_flags_set(vma, VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP);
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

static void p2pb_dmabuf_release(struct dma_buf *dmabuf)
{
	struct p2pb_buf *buf = dmabuf->priv;

	mutex_lock(&p2pb_bufs_lock);
	list_del_init(&buf->node);
	mutex_unlock(&p2pb_bufs_lock);
	p2pb_buf_free(buf);
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
	 * A provider being removed unpublishes its memory before it revokes
	 * the buffers on this list: refuse to add one it would miss.
	 */
	if (buf->provider && !pci_has_p2pmem(buf->provider)) {
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
 * Revoke @buf: refuse new maps, tell dynamic importers, zap CPU mappings.
 * Called with p2pb_bufs_lock held, which keeps @buf alive: release() waits
 * for that lock before freeing.
 */
static void p2pb_buf_revoke(struct p2pb_buf *buf)
{
	struct dma_buf *dmabuf = buf->dmabuf;
	struct file *file = dmabuf->file;

	lockdep_assert_held(&p2pb_bufs_lock);

	/* Revoking twice changes nothing and notifies nobody again. */
	if (READ_ONCE(buf->revoked))
		return;

	/*
	 * A file whose count already hit zero is being released: no fd, mmap
	 * or importer is left, only the flag needs setting.
	 */
	if (!p2pb_get_file_live(file)) {
		WRITE_ONCE(buf->revoked, true);
		return;
	}

	mutex_lock(&buf->lock);
	dma_resv_lock(dmabuf->resv, NULL);
	WRITE_ONCE(buf->revoked, true);
	dma_buf_move_notify(dmabuf);
	dma_resv_unlock(dmabuf->resv);
	mutex_unlock(&buf->lock);

	/* Faults after this see @revoked and get SIGBUS. */
	unmap_mapping_range(file->f_mapping, 0, 0, 1);
	fput(file);
}

/**
 * p2pb_buf_revoke_id() - revoke the buffer with id @id
 * @id: buffer id
 *
 * Return: 0 (also when already revoked) or -ENOENT.
 */
int p2pb_buf_revoke_id(u64 id)
{
	struct p2pb_buf *buf;
	int ret = -ENOENT;

	mutex_lock(&p2pb_bufs_lock);
	list_for_each_entry(buf, &p2pb_bufs, node) {
		if (buf->id == id) {
			p2pb_buf_revoke(buf);
			ret = 0;
			break;
		}
	}
	mutex_unlock(&p2pb_bufs_lock);
	return ret;
}

/**
 * p2pb_buf_revoke_provider() - revoke every buffer of a departing provider
 * @pdev: the provider being unbound
 *
 * Memory with no device mapping left goes back to the pool right away, so the
 * p2pdma teardown that follows does not wait for userspace to close fds.
 */
void p2pb_buf_revoke_provider(struct pci_dev *pdev)
{
	struct p2pb_buf *buf;

	mutex_lock(&p2pb_bufs_lock);
	list_for_each_entry(buf, &p2pb_bufs, node) {
		if (buf->provider != pdev)
			continue;
		p2pb_buf_revoke(buf);
		if (!wait_event_timeout(buf->unmapped,
					!atomic_read(&buf->mappings), 5 * HZ)) {
			pci_warn(pdev, "buffer %llu still mapped by an importer; teardown waits for it\n",
				 buf->id);
			continue;
		}
		mutex_lock(&buf->lock);
		if (buf->p2p_vaddr)
			pci_free_p2pmem(buf->provider, buf->p2p_vaddr, buf->size);
		buf->p2p_vaddr = NULL;
		mutex_unlock(&buf->lock);
	}
	mutex_unlock(&p2pb_bufs_lock);
}
