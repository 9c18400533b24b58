// SPDX-License-Identifier: GPL-2.0
/*
 * A test-only dma-buf importer: acts as a given PCI
 * function importing a dma-buf, with or without allow_peer2peer, and reports
 * what the exporter and the DMA API did.  Used by tests/vm.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-buf.h>
#include <linux/dma-direct.h>
#include <linux/dma-fence.h>
#include <linux/dma-resv.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/iommu.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include <linux/p2pbroker.h>
#include "compat.h"
#include "p2pb_test_importer.h"

/* One per open file; @lock serialises the ioctls of that file. */
struct p2pb_ti {
	struct mutex lock;			/* serialises this file's ioctls */
	struct list_head node;			/* p2pb_ti_all, open to release */
	struct dma_buf *dmabuf;			/* held attachment, if any */
	struct dma_buf_attachment *attach;
	struct pci_dev *pdev;
	struct sg_table *sgt;			/* under dmabuf->resv */
	u32 move_notify;			/* under dmabuf->resv */
	bool pinned;
	bool lazy;				/* ignores move_notify */
	struct dma_fence *fence;		/* last added, reference held */
	struct delayed_work signal_work;	/* signals @fence */
	spinlock_t fence_lock;			/* the fence's lock */
	u64 fence_context;
	u64 fence_seqno;
};

/*
 * Every open file, for the unbind notifier: a driver that goes away from its
 * device unmaps what it mapped for it first, and so does this importer when
 * the device it acts as loses its driver (else the DMA API debug code reports
 * the device's mappings as leaked).  Order: p2pb_ti_all_lock, then ti->lock.
 */
static LIST_HEAD(p2pb_ti_all);
static DEFINE_MUTEX(p2pb_ti_all_lock);

/*
 * Devices whose driver is unbinding (BUS_NOTIFY_UNBIND_DRIVER, seen first
 * in the chain, to BUS_NOTIFY_UNBOUND_DRIVER, seen last, after the DMA API
 * debug code checked that nothing is left mapped for them): a driver maps
 * nothing for a device it is leaving, and no import acts as one either.
 * An import checks under its ti->lock, and the unbind marks before it takes
 * every ti->lock to drop what is held: an import either sees the mark or
 * ends before the drop.  p2pb_ti_departing_lock is innermost.
 */
struct p2pb_ti_departing {
	struct device *dev;
	struct list_head node;		/* in p2pb_ti_departing */
};

static LIST_HEAD(p2pb_ti_departing);
static DEFINE_SPINLOCK(p2pb_ti_departing_lock);	/* p2pb_ti_departing */

static bool p2pb_ti_is_departing(struct device *dev)
{
	struct p2pb_ti_departing *d;
	bool ret = false;

	spin_lock(&p2pb_ti_departing_lock);
	list_for_each_entry(d, &p2pb_ti_departing, node)
		ret |= d->dev == dev;
	spin_unlock(&p2pb_ti_departing_lock);
	return ret;
}

static const char *p2pb_ti_fence_name(struct dma_fence *fence)
{
	return "p2pb_test_importer";
}

static const struct dma_fence_ops p2pb_ti_fence_ops = {
	.get_driver_name = p2pb_ti_fence_name,
	.get_timeline_name = p2pb_ti_fence_name,
};

static void p2pb_ti_signal_work(struct work_struct *work)
{
	struct p2pb_ti *ti = container_of(to_delayed_work(work),
					  struct p2pb_ti, signal_work);

	dma_fence_signal(ti->fence);
}

/* Signal and drop the pending fence now (file release, new fence). */
static void p2pb_ti_fence_drop(struct p2pb_ti *ti)
{
	if (!ti->fence)
		return;
	cancel_delayed_work_sync(&ti->signal_work);
	dma_fence_signal(ti->fence);
	dma_fence_put(ti->fence);
	ti->fence = NULL;
}

static int p2pb_ti_fence(struct p2pb_ti *ti, struct p2pb_ti_fence *f)
{
	struct dma_fence *fence;
	int ret;

	if (f->flags & ~P2PB_TI_FENCE_ADD || f->reserved)
		return -EINVAL;
	if (f->flags & P2PB_TI_FENCE_ADD) {
		if (!ti->attach)
			return -ENOENT;
		p2pb_ti_fence_drop(ti);
		fence = kzalloc(sizeof(*fence), GFP_KERNEL);
		if (!fence)
			return -ENOMEM;
		dma_fence_init(fence, &p2pb_ti_fence_ops, &ti->fence_lock,
			       ti->fence_context, ++ti->fence_seqno);
		dma_resv_lock(ti->dmabuf->resv, NULL);
		ret = dma_resv_reserve_fences(ti->dmabuf->resv, 1);
		if (!ret)
			dma_resv_add_fence(ti->dmabuf->resv, fence,
					   DMA_RESV_USAGE_BOOKKEEP);
		dma_resv_unlock(ti->dmabuf->resv);
		if (ret) {
			dma_fence_put(fence);
			return ret;
		}
		ti->fence = fence;
		schedule_delayed_work(&ti->signal_work,
				      msecs_to_jiffies(f->ms));
	}
	f->signaled = ti->fence ? dma_fence_is_signaled(ti->fence) : 1;
	return 0;
}

static void p2pb_ti_move_notify(struct dma_buf_attachment *attach)
{
	struct p2pb_ti *ti = attach->importer_priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	ti->move_notify++;
	if (ti->sgt && !ti->lazy) {
		dma_buf_unmap_attachment(attach, ti->sgt, DMA_BIDIRECTIONAL);
		ti->sgt = NULL;
	}
}

static const struct dma_buf_attach_ops p2pb_ti_attach_ops = {
	.allow_peer2peer = true,
	.move_notify = p2pb_ti_move_notify,
};

static struct sg_table *p2pb_ti_map(struct dma_buf_attachment *attach)
{
	struct sg_table *sgt;

	dma_resv_lock(attach->dmabuf->resv, NULL);
	sgt = dma_buf_map_attachment(attach, DMA_BIDIRECTIONAL);
	dma_resv_unlock(attach->dmabuf->resv);
	return sgt;
}

static void p2pb_ti_unmap(struct dma_buf_attachment *attach,
			  struct sg_table *sgt)
{
	dma_resv_lock(attach->dmabuf->resv, NULL);
	dma_buf_unmap_attachment(attach, sgt, DMA_BIDIRECTIONAL);
	dma_resv_unlock(attach->dmabuf->resv);
}

static void p2pb_ti_drop(struct p2pb_ti *ti)
{
	struct sg_table *sgt;

	if (!ti->attach)
		return;
	dma_resv_lock(ti->dmabuf->resv, NULL);
	sgt = ti->sgt;
	ti->sgt = NULL;
	if (sgt)
		dma_buf_unmap_attachment(ti->attach, sgt, DMA_BIDIRECTIONAL);
	if (ti->pinned)
		dma_buf_unpin(ti->attach);
	ti->pinned = false;
	dma_resv_unlock(ti->dmabuf->resv);
	dma_buf_detach(ti->dmabuf, ti->attach);
	dma_buf_put(ti->dmabuf);
	pci_dev_put(ti->pdev);
	ti->attach = NULL;
	ti->dmabuf = NULL;
	ti->pdev = NULL;
	ti->move_notify = 0;
	ti->lazy = false;
}

static int p2pb_ti_import(struct p2pb_ti *ti, struct p2pb_ti_import *req)
{
	struct dma_buf_attachment *attach;
	struct scatterlist *sg;
	struct dma_buf *dmabuf;
	struct pci_dev *pdev;
	struct sg_table *sgt;
	bool hold = req->flags & P2PB_TI_F_HOLD;
	bool pin = req->flags & P2PB_TI_F_PIN;
	unsigned int i;
	int ret;

	if (req->flags & ~P2PB_TI_IMPORT_VALID_FLAGS || req->reserved)
		return -EINVAL;
	if (hold && ti->attach)
		return -EBUSY;
	if (req->bdf >> 48)
		return -EINVAL;

	pdev = pci_get_domain_bus_and_slot(P2PB_BDF_DOMAIN(req->bdf),
					   P2PB_BDF_BUS(req->bdf),
					   P2PB_BDF_DEVFN(req->bdf));
	if (!pdev)
		return -ENODEV;
	if (p2pb_ti_is_departing(&pdev->dev)) {
		pci_dev_put(pdev);
		return -ENODEV;
	}
	dmabuf = dma_buf_get(req->fd);
	if (IS_ERR(dmabuf)) {
		pci_dev_put(pdev);
		return PTR_ERR(dmabuf);
	}

	if (req->flags & (P2PB_TI_F_PEER2PEER | P2PB_TI_F_PIN))
		attach = dma_buf_dynamic_attach(dmabuf, &pdev->dev,
						&p2pb_ti_attach_ops, ti);
	else
		attach = dma_buf_attach(dmabuf, &pdev->dev);
	if (IS_ERR(attach)) {
		req->stage = P2PB_TI_STAGE_ATTACH;
		req->error = PTR_ERR(attach);
		goto put;
	}

	if (pin) {
		dma_resv_lock(dmabuf->resv, NULL);
		ret = dma_buf_pin(attach);
		dma_resv_unlock(dmabuf->resv);
		if (ret) {
			req->stage = P2PB_TI_STAGE_PIN;
			req->error = ret;
			dma_buf_detach(dmabuf, attach);
			goto put;
		}
	}

	sgt = p2pb_ti_map(attach);
	if (IS_ERR(sgt)) {
		req->stage = P2PB_TI_STAGE_MAP;
		req->error = PTR_ERR(sgt);
		if (pin) {
			dma_resv_lock(dmabuf->resv, NULL);
			dma_buf_unpin(attach);
			dma_resv_unlock(dmabuf->resv);
		}
		dma_buf_detach(dmabuf, attach);
		goto put;
	}

	req->stage = P2PB_TI_STAGE_OK;
	req->error = 0;
	req->nents = sgt->nents;
	req->dma_addr = sg_dma_address(sgt->sgl);
	req->dma_len = 0;
	for_each_sgtable_dma_sg(sgt, sg, i)
		req->dma_len += sg_dma_len(sg);

	if (hold) {
		ti->dmabuf = dmabuf;
		ti->attach = attach;
		ti->pdev = pdev;
		ti->pinned = pin;
		ti->lazy = req->flags & (P2PB_TI_F_LAZY | P2PB_TI_F_PIN);
		dma_resv_lock(dmabuf->resv, NULL);
		ti->sgt = sgt;
		dma_resv_unlock(dmabuf->resv);
		return 0;
	}
	p2pb_ti_unmap(attach, sgt);
	if (pin) {
		dma_resv_lock(dmabuf->resv, NULL);
		dma_buf_unpin(attach);
		dma_resv_unlock(dmabuf->resv);
	}
	dma_buf_detach(dmabuf, attach);
put:
	dma_buf_put(dmabuf);
	pci_dev_put(pdev);
	return 0;
}

static int p2pb_ti_query(struct p2pb_ti *ti, struct p2pb_ti_query *q)
{
	struct sg_table *sgt;

	if (q->flags & ~P2PB_TI_Q_REMAP)
		return -EINVAL;
	if (!ti->attach)
		return -ENOENT;

	dma_resv_lock(ti->dmabuf->resv, NULL);
	q->remap_error = 0;
	if (q->flags & P2PB_TI_Q_REMAP && !ti->sgt) {
		sgt = dma_buf_map_attachment(ti->attach, DMA_BIDIRECTIONAL);
		if (IS_ERR(sgt))
			q->remap_error = PTR_ERR(sgt);
		else
			ti->sgt = sgt;
	}
	q->move_notify = ti->move_notify;
	q->mapped = !!ti->sgt;
	dma_resv_unlock(ti->dmabuf->resv);
	return 0;
}

/*
 * Read @len bytes at @dma as @dev's DMA would: the IOMMU domain's
 * translation (an identity domain gives the address back), else dma-direct's.
 */
static int p2pb_ti_dma_read(struct device *dev, dma_addr_t dma, void *dst,
			    size_t len)
{
	struct iommu_domain *dom = iommu_get_domain_for_dev(dev);
	struct page *page;
	phys_addr_t phys;
	void *va;

	phys = dom ? iommu_iova_to_phys(dom, dma) : dma_to_phys(dev, dma);
	if (!phys || !pfn_valid(PHYS_PFN(phys)))
		return -EOPNOTSUPP;
	page = pfn_to_page(PHYS_PFN(phys));
	if (is_zone_device_page(page))
		return -EOPNOTSUPP;
	va = kmap_local_page(page);
	memcpy(dst, va + offset_in_page(phys), len);
	kunmap_local(va);
	return 0;
}

static int p2pb_ti_peek(struct p2pb_ti *ti, struct p2pb_ti_peek *pk)
{
	struct scatterlist *sg;
	u64 off = pk->offset;
	dma_addr_t dma;
	unsigned int i;
	void *buf;
	int ret;

	if (pk->reserved || !pk->len || pk->len > PAGE_SIZE)
		return -EINVAL;
	if (!ti->attach)
		return -ENOENT;
	buf = kmalloc(pk->len, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;

	dma_resv_lock(ti->dmabuf->resv, NULL);
	ret = -ENXIO;
	if (ti->sgt) {
		for_each_sgtable_dma_sg(ti->sgt, sg, i) {
			if (off >= sg_dma_len(sg)) {
				off -= sg_dma_len(sg);
				continue;
			}
			dma = sg_dma_address(sg) + off;
			if (off + pk->len > sg_dma_len(sg) ||
			    offset_in_page(dma) + pk->len > PAGE_SIZE)
				ret = -EINVAL;
			else
				ret = p2pb_ti_dma_read(&ti->pdev->dev, dma, buf,
						       pk->len);
			break;
		}
	}
	dma_resv_unlock(ti->dmabuf->resv);

	if (!ret && copy_to_user(u64_to_user_ptr(pk->data), buf, pk->len))
		ret = -EFAULT;
	kfree(buf);
	return ret;
}

static long p2pb_ti_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct p2pb_ti *ti = file->private_data;
	void __user *uarg = (void __user *)arg;
	struct p2pb_ti_import imp;
	struct p2pb_ti_query q;
	struct p2pb_ti_fence f;
	struct p2pb_ti_peek pk;
	long ret;

	mutex_lock(&ti->lock);
	switch (cmd) {
	case P2PB_TI_IOC_IMPORT:
		ret = -EFAULT;
		if (copy_from_user(&imp, uarg, sizeof(imp)))
			break;
		ret = p2pb_ti_import(ti, &imp);
		if (!ret && copy_to_user(uarg, &imp, sizeof(imp)))
			ret = -EFAULT;
		break;
	case P2PB_TI_IOC_QUERY:
		ret = -EFAULT;
		if (copy_from_user(&q, uarg, sizeof(q)))
			break;
		ret = p2pb_ti_query(ti, &q);
		if (!ret && copy_to_user(uarg, &q, sizeof(q)))
			ret = -EFAULT;
		break;
	case P2PB_TI_IOC_FENCE:
		ret = -EFAULT;
		if (copy_from_user(&f, uarg, sizeof(f)))
			break;
		ret = p2pb_ti_fence(ti, &f);
		if (!ret && copy_to_user(uarg, &f, sizeof(f)))
			ret = -EFAULT;
		break;
	case P2PB_TI_IOC_PEEK:
		ret = -EFAULT;
		if (copy_from_user(&pk, uarg, sizeof(pk)))
			break;
		ret = p2pb_ti_peek(ti, &pk);
		break;
	case P2PB_TI_IOC_RELEASE:
		ret = ti->attach ? 0 : -ENOENT;
		p2pb_ti_drop(ti);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&ti->lock);
	return ret;
}

static int p2pb_ti_open(struct inode *inode, struct file *file)
{
	struct p2pb_ti *ti;

	ti = kzalloc(sizeof(*ti), GFP_KERNEL);
	if (!ti)
		return -ENOMEM;
	mutex_init(&ti->lock);
	spin_lock_init(&ti->fence_lock);
	INIT_DELAYED_WORK(&ti->signal_work, p2pb_ti_signal_work);
	ti->fence_context = dma_fence_context_alloc(1);
	file->private_data = ti;
	mutex_lock(&p2pb_ti_all_lock);
	list_add(&ti->node, &p2pb_ti_all);
	mutex_unlock(&p2pb_ti_all_lock);
	return nonseekable_open(inode, file);
}

static int p2pb_ti_release(struct inode *inode, struct file *file)
{
	struct p2pb_ti *ti = file->private_data;

	mutex_lock(&p2pb_ti_all_lock);
	list_del(&ti->node);
	mutex_unlock(&p2pb_ti_all_lock);
	p2pb_ti_drop(ti);
	p2pb_ti_fence_drop(ti);
	kfree(ti);
	return 0;
}

/* First in the chain at BUS_NOTIFY_UNBIND_DRIVER: mark, then drop. */
static int p2pb_ti_unbind_notify(struct notifier_block *nb,
				 unsigned long action, void *data)
{
	struct p2pb_ti_departing *d;
	struct p2pb_ti *ti;

	if (action != BUS_NOTIFY_UNBIND_DRIVER)
		return NOTIFY_DONE;
	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (d) {
		d->dev = data;
		spin_lock(&p2pb_ti_departing_lock);
		list_add(&d->node, &p2pb_ti_departing);
		spin_unlock(&p2pb_ti_departing_lock);
	}
	mutex_lock(&p2pb_ti_all_lock);
	list_for_each_entry(ti, &p2pb_ti_all, node) {
		mutex_lock(&ti->lock);
		if (ti->pdev && &ti->pdev->dev == data)
			p2pb_ti_drop(ti);
		mutex_unlock(&ti->lock);
	}
	mutex_unlock(&p2pb_ti_all_lock);
	return NOTIFY_OK;
}

/* Last in the chain at BUS_NOTIFY_UNBOUND_DRIVER: imports may act as it again. */
static int p2pb_ti_unbound_notify(struct notifier_block *nb,
				  unsigned long action, void *data)
{
	struct p2pb_ti_departing *d, *found = NULL;

	if (action != BUS_NOTIFY_UNBOUND_DRIVER)
		return NOTIFY_DONE;
	spin_lock(&p2pb_ti_departing_lock);
	list_for_each_entry(d, &p2pb_ti_departing, node) {
		if (d->dev == data) {
			found = d;
			list_del(&d->node);
			break;
		}
	}
	spin_unlock(&p2pb_ti_departing_lock);
	kfree(found);
	return NOTIFY_OK;
}

static struct notifier_block p2pb_ti_unbind_nb = {
	.notifier_call = p2pb_ti_unbind_notify,
	.priority = INT_MAX,
};

static struct notifier_block p2pb_ti_unbound_nb = {
	.notifier_call = p2pb_ti_unbound_notify,
	.priority = INT_MIN,
};

static const struct file_operations p2pb_ti_fops = {
	.owner = THIS_MODULE,
	.open = p2pb_ti_open,
	.release = p2pb_ti_release,
	.unlocked_ioctl = p2pb_ti_ioctl,
};

static struct miscdevice p2pb_ti_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "p2pb_test_importer",
	.fops = &p2pb_ti_fops,
	.mode = 0600,
};

static int __init p2pb_ti_init(void)
{
	int ret = bus_register_notifier(&pci_bus_type, &p2pb_ti_unbind_nb);

	if (ret)
		return ret;
	ret = bus_register_notifier(&pci_bus_type, &p2pb_ti_unbound_nb);
	if (ret)
		goto unregister_unbind;
	ret = misc_register(&p2pb_ti_miscdev);
	if (ret)
		goto unregister_unbound;
	return 0;

unregister_unbound:
	bus_unregister_notifier(&pci_bus_type, &p2pb_ti_unbound_nb);
unregister_unbind:
	bus_unregister_notifier(&pci_bus_type, &p2pb_ti_unbind_nb);
	return ret;
}
module_init(p2pb_ti_init);

static void __exit p2pb_ti_exit(void)
{
	struct p2pb_ti_departing *d, *tmp;

	misc_deregister(&p2pb_ti_miscdev);
	bus_unregister_notifier(&pci_bus_type, &p2pb_ti_unbound_nb);
	bus_unregister_notifier(&pci_bus_type, &p2pb_ti_unbind_nb);
	list_for_each_entry_safe(d, tmp, &p2pb_ti_departing, node) {
		list_del(&d->node);
		kfree(d);
	}
}
module_exit(p2pb_ti_exit);

MODULE_DESCRIPTION("p2pbroker test dma-buf importer (tests only)");
MODULE_LICENSE("GPL");
P2PB_MODULE_IMPORT_DMA_BUF();
