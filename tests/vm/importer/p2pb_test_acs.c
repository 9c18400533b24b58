// SPDX-License-Identifier: GPL-2.0
/*
 * A test-only module that makes one PCI function's ACS Control register read
 * with extra bits set (default: Egress Control).  QEMU's ACS capability
 * cannot set EC (its write mask covers SV/TB/RR/CR/UF/DT only), so the
 * kernel's and p2pbroker's handling of an EC-only redirect can only be
 * reached this way.  Config reads of the function's bus go through a wrapper
 * of the bus's pci_ops, as drivers/pci/pcie/aer_inject.c does; every other
 * access passes through unchanged.  Unloading restores the bus's ops.
 *
 *   insmod p2pb_test_acs.ko bdf=0000:00:03.0 [bits=0x20]
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/pci.h>

static char *bdf;
module_param(bdf, charp, 0444);
MODULE_PARM_DESC(bdf, "PCI function whose ACS Control reads get @bits (DDDD:BB:DD.F)");

static ushort bits = PCI_ACS_EC;
module_param(bits, ushort, 0444);
MODULE_PARM_DESC(bits, "ACS Control bits ORed into every read (default EC, 0x20)");

/* Set once at load, read-only while the wrapper is installed. */
static struct pci_bus *p2pb_acs_bus;
static struct pci_ops *p2pb_acs_orig;
static struct pci_ops p2pb_acs_ops;
static unsigned int p2pb_acs_devfn;
static int p2pb_acs_ctrl;	/* config offset of ACS Control */

static int p2pb_acs_read(struct pci_bus *bus, unsigned int devfn, int where,
			 int size, u32 *val)
{
	int ret = p2pb_acs_orig->read(bus, devfn, where, size, val);
	int off;

	if (ret || bus != p2pb_acs_bus || devfn != p2pb_acs_devfn)
		return ret;
	/* the two bytes of ACS Control inside [where, where + size) */
	for (off = 0; off < 2; off++) {
		int at = p2pb_acs_ctrl + off - where;

		if (at >= 0 && at < size)
			*val |= (u32)((bits >> (8 * off)) & 0xff) << (8 * at);
	}
	return ret;
}

static int __init p2pb_acs_init(void)
{
	unsigned int dom, busnr, dev, fn;
	struct pci_dev *pdev;

	if (!bdf || sscanf(bdf, "%x:%x:%x.%x", &dom, &busnr, &dev, &fn) != 4)
		return -EINVAL;
	pdev = pci_get_domain_bus_and_slot(dom, busnr, PCI_DEVFN(dev, fn));
	if (!pdev)
		return -ENODEV;
	if (!pdev->acs_cap) {
		pci_dev_put(pdev);
		return -EOPNOTSUPP;
	}
	p2pb_acs_bus = pdev->bus;
	p2pb_acs_devfn = pdev->devfn;
	p2pb_acs_ctrl = pdev->acs_cap + PCI_ACS_CTRL;
	pci_dev_put(pdev);

	p2pb_acs_orig = p2pb_acs_bus->ops;
	p2pb_acs_ops = *p2pb_acs_orig;
	p2pb_acs_ops.read = p2pb_acs_read;
	pci_bus_set_ops(p2pb_acs_bus, &p2pb_acs_ops);
	pr_info("%s: ACS Control reads with %#x set\n", bdf, bits);
	return 0;
}

static void __exit p2pb_acs_exit(void)
{
	pci_bus_set_ops(p2pb_acs_bus, p2pb_acs_orig);
	pr_info("%s: ACS Control reads restored\n", bdf);
}

module_init(p2pb_acs_init);
module_exit(p2pb_acs_exit);
MODULE_DESCRIPTION("p2pbroker test: ACS Control bits injected into config reads (tests only)");
MODULE_LICENSE("GPL");
