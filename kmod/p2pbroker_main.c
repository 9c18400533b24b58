// SPDX-License-Identifier: GPL-2.0
/*
 * Module init/exit and the /dev/p2pbroker ioctl ABI
 * (include/uapi/linux/p2pbroker.h).
 *
 * Dispatch tolerates older (smaller) and newer (larger) structs, as
 * drivers/dma-buf/dma-heap.c does: the user's struct is copied with
 * copy_struct_from_user() (missing tail zero-filled, extra bytes must be
 * zero) and at most the user's size is copied back.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/dma-buf.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/nospec.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "p2pbroker_internal.h"

unsigned long p2pb_max_alloc_bytes = 1UL << 30;
module_param_named(max_alloc_bytes, p2pb_max_alloc_bytes, ulong, 0644);
MODULE_PARM_DESC(max_alloc_bytes, "Largest single buffer in bytes (default 1 GiB)");

static long p2pb_ioc_version(void *kdata, void __user *uarg, size_t usize)
{
	struct p2pb_version *v = kdata;

	v->major = P2PB_VERSION_MAJOR;
	v->minor = P2PB_VERSION_MINOR;
	v->flags = IS_ENABLED(CONFIG_PCI_P2PDMA) ? P2PB_VERSION_F_P2PDMA : 0;
	return 0;
}

static long p2pb_ioc_verdict(void *kdata, void __user *uarg, size_t usize)
{
	return p2pb_verdict(kdata);
}

/* Copies the result out itself: the fd is installed only once that worked. */
static long p2pb_ioc_alloc(void *kdata, void __user *uarg, size_t usize)
{
	struct p2pb_alloc *req = kdata;
	struct dma_buf *dmabuf;
	int fd, ret;

	/* A caller that cannot receive the fd and id would leak the buffer. */
	if (usize < offsetofend(struct p2pb_alloc, id))
		return -EINVAL;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;

	ret = p2pb_buf_alloc(req, &dmabuf);
	if (ret)
		goto put_fd;

	req->fd = fd;
	if (copy_to_user(uarg, req, min(usize, sizeof(*req)))) {
		ret = -EFAULT;
		goto put_buf;
	}
	fd_install(fd, dmabuf->file);
	return 0;

put_buf:
	dma_buf_put(dmabuf);
put_fd:
	put_unused_fd(fd);
	return ret;
}

static long p2pb_ioc_describe(void *kdata, void __user *uarg, size_t usize)
{
	struct p2pb_describe *d = kdata;

	if (d->reserved)
		return -EINVAL;
	return p2pb_buf_describe(d->fd, &d->info);
}

static long p2pb_ioc_list(void *kdata, void __user *uarg, size_t usize)
{
	struct p2pb_list *l = kdata;
	struct p2pb_buf_info *entries = NULL;
	u32 count, total;
	int ret;

	if (l->count > P2PB_MAX_LIST_ENTRIES)
		return -EINVAL;
	if (l->count && !l->entries)
		return -EINVAL;
	if (l->count) {
		entries = kvcalloc(l->count, sizeof(*entries), GFP_KERNEL);
		if (!entries)
			return -ENOMEM;
	}
	ret = p2pb_buf_list(entries, l->count, &count, &total);
	if (!ret && count &&
	    copy_to_user(u64_to_user_ptr(l->entries), entries,
			 array_size(count, sizeof(*entries))))
		ret = -EFAULT;
	kvfree(entries);
	if (ret)
		return ret;
	l->count = count;
	l->total = total;
	return 0;
}

static long p2pb_ioc_revoke(void *kdata, void __user *uarg, size_t usize)
{
	struct p2pb_revoke *r = kdata;

	if (r->flags & ~P2PB_REVOKE_VALID_FLAGS || r->reserved)
		return -EINVAL;
	return p2pb_buf_revoke_id(r->id);
}

struct p2pb_ioctl_desc {
	unsigned int cmd;
	bool copies_out;	/* the handler copies its result out itself */
	long (*fn)(void *kdata, void __user *uarg, size_t usize);
};

static const struct p2pb_ioctl_desc p2pb_ioctls[] = {
	[_IOC_NR(P2PB_IOC_VERSION)] = { P2PB_IOC_VERSION, false, p2pb_ioc_version },
	[_IOC_NR(P2PB_IOC_KERNEL_VERDICT)] = { P2PB_IOC_KERNEL_VERDICT, false, p2pb_ioc_verdict },
	[_IOC_NR(P2PB_IOC_ALLOC)] = { P2PB_IOC_ALLOC, true, p2pb_ioc_alloc },
	[_IOC_NR(P2PB_IOC_DESCRIBE)] = { P2PB_IOC_DESCRIBE, false, p2pb_ioc_describe },
	[_IOC_NR(P2PB_IOC_LIST)] = { P2PB_IOC_LIST, false, p2pb_ioc_list },
	[_IOC_NR(P2PB_IOC_REVOKE)] = { P2PB_IOC_REVOKE, false, p2pb_ioc_revoke },
};

/* Large enough for every struct in the table above. */
union p2pb_ioctl_data {
	struct p2pb_version version;
	struct p2pb_verdict verdict;
	struct p2pb_alloc alloc;
	struct p2pb_describe describe;
	struct p2pb_list list;
	struct p2pb_revoke revoke;
};

static long p2pb_ioctl(struct file *file, unsigned int ucmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	const struct p2pb_ioctl_desc *desc;
	union p2pb_ioctl_data kdata;
	unsigned int nr = _IOC_NR(ucmd);
	size_t usize, ksize;
	long ret;

	if (_IOC_TYPE(ucmd) != P2PB_IOC_MAGIC || nr >= ARRAY_SIZE(p2pb_ioctls))
		return -ENOTTY;
	nr = array_index_nospec(nr, ARRAY_SIZE(p2pb_ioctls));
	desc = &p2pb_ioctls[nr];
	if (!desc->fn || _IOC_DIR(ucmd) != _IOC_DIR(desc->cmd))
		return -ENOTTY;

	usize = _IOC_SIZE(ucmd);
	ksize = _IOC_SIZE(desc->cmd);
	if (WARN_ON_ONCE(ksize > sizeof(kdata)))
		return -EINVAL;

	memset(&kdata, 0, sizeof(kdata));
	if (_IOC_DIR(desc->cmd) & _IOC_WRITE) {
		ret = copy_struct_from_user(&kdata, ksize, uarg, usize);
		if (ret)
			return ret;
	}

	ret = desc->fn(&kdata, uarg, usize);
	if (ret < 0 || desc->copies_out)
		return ret;

	if ((_IOC_DIR(desc->cmd) & _IOC_READ) &&
	    copy_to_user(uarg, &kdata, min(usize, ksize)))
		return -EFAULT;
	return ret;
}

/*
 * Mode 0600 is not enough: VERDICT DMA-maps a page into any device's DMA
 * domain, even one owned by VFIO or another driver.  Like /dev/mem needs
 * CAP_SYS_RAWIO, opening needs CAP_SYS_ADMIN (p2pd's unit keeps it).
 */
static int p2pb_open(struct inode *inode, struct file *file)
{
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	return nonseekable_open(inode, file);
}

static const struct file_operations p2pb_fops = {
	.owner = THIS_MODULE,
	.open = p2pb_open,
	.unlocked_ioctl = p2pb_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice p2pb_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "p2pbroker",
	.fops = &p2pb_fops,
	.mode = 0600,
};

static int __init p2pb_init(void)
{
	int ret;

	ret = p2pb_buf_init();
	if (ret)
		return ret;

	ret = p2pb_pci_register();
	if (ret) {
		p2pb_buf_exit();
		return ret;
	}

	ret = misc_register(&p2pb_miscdev);
	if (ret)
		goto unregister_pci;

	if (!IS_ENABLED(CONFIG_PCI_P2PDMA))
		pr_info("p2p unsupported by this kernel (CONFIG_PCI_P2PDMA unset): host buffers only\n");
	return 0;

unregister_pci:
	p2pb_pci_unregister();
	return ret;
}

static void __exit p2pb_exit(void)
{
	misc_deregister(&p2pb_miscdev);
	p2pb_pci_unregister();
}

module_init(p2pb_init);
module_exit(p2pb_exit);

MODULE_DESCRIPTION("PCIe peer-to-peer DMA broker: typed dma-bufs from p2p BAR memory or system pages");
MODULE_LICENSE("GPL");
P2PB_MODULE_IMPORT_DMA_BUF();
