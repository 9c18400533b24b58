// SPDX-License-Identifier: GPL-2.0
/*
 * A test-only dma-buf importer: acts as a given PCI
 * function importing a dma-buf, with or without allow_peer2peer, and reports
 * what the exporter and the DMA API did.  Used by tests/vm.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <linux/p2pbroker.h>
#include "compat.h"
#include "p2pb_test_importer.h"

/* One per open file; @lock serialises the ioctls of that file. */
struct p2pb_ti {
	struct mutex lock;			/* serialises this file's ioctls */
	struct dma_buf *dmabuf;			/* held attachment, if any */
	struct dma_buf_attachment *attach;
	struct pci_dev *pdev;
	struct sg_table *sgt;			/* under dmabuf->resv */
	u32 move_notify;			/* under dmabuf->resv */
};

static void p2pb_ti_move_notify(struct dma_buf_attachment *attach)
{
	struct p2pb_ti *ti = attach->importer_priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	ti->move_notify++;
	if (ti->sgt) {
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
	dma_resv_unlock(ti->dmabuf->resv);
	dma_buf_detach(ti->dmabuf, ti->attach);
	dma_buf_put(ti->dmabuf);
	pci_dev_put(ti->pdev);
	ti->attach = NULL;
	ti->dmabuf = NULL;
	ti->pdev = NULL;
	ti->move_notify = 0;
}

static int p2pb_ti_import(struct p2pb_ti *ti, struct p2pb_ti_import *req)
{
	struct dma_buf_attachment *attach;
	struct scatterlist *sg;
	struct dma_buf *dmabuf;
	struct pci_dev *pdev;
	struct sg_table *sgt;
	bool hold = req->flags & P2PB_TI_F_HOLD;
	unsigned int i;

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
	dmabuf = dma_buf_get(req->fd);
	if (IS_ERR(dmabuf)) {
		pci_dev_put(pdev);
		return PTR_ERR(dmabuf);
	}

	if (req->flags & P2PB_TI_F_PEER2PEER)
		attach = dma_buf_dynamic_attach(dmabuf, &pdev->dev,
						&p2pb_ti_attach_ops, ti);
	else
		attach = dma_buf_attach(dmabuf, &pdev->dev);
	if (IS_ERR(attach)) {
		req->stage = P2PB_TI_STAGE_ATTACH;
		req->error = PTR_ERR(attach);
		goto put;
	}

	sgt = p2pb_ti_map(attach);
	if (IS_ERR(sgt)) {
		req->stage = P2PB_TI_STAGE_MAP;
		req->error = PTR_ERR(sgt);
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
		dma_resv_lock(dmabuf->resv, NULL);
		ti->sgt = sgt;
		dma_resv_unlock(dmabuf->resv);
		return 0;
	}
	p2pb_ti_unmap(attach, sgt);
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

static long p2pb_ti_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct p2pb_ti *ti = file->private_data;
	void __user *uarg = (void __user *)arg;
	struct p2pb_ti_import imp;
	struct p2pb_ti_query q;
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
	file->private_data = ti;
	return nonseekable_open(inode, file);
}

static int p2pb_ti_release(struct inode *inode, struct file *file)
{
	struct p2pb_ti *ti = file->private_data;

	p2pb_ti_drop(ti);
	kfree(ti);
	return 0;
}

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

module_misc_device(p2pb_ti_miscdev);

MODULE_DESCRIPTION("p2pbroker test dma-buf importer (tests only)");
MODULE_LICENSE("GPL");
P2PB_MODULE_IMPORT_DMA_BUF();
