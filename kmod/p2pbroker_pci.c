// SPDX-License-Identifier: GPL-2.0
/*
 * The "p2pbroker" PCI driver.  It has no id table: the
 * daemon binds a device by writing "p2pbroker" to its driver_override and its
 * name to /sys/bus/pci/drivers_probe.  Probe registers one memory BAR as p2p
 * memory (pci_p2pdma_add_resource) and publishes it.  Devices whose own
 * driver registers p2p memory (an NVMe CMB) are used as they are, without
 * binding.  Whichever driver a provider has, a bus notifier marks it
 * departing when its driver starts to unbind (ALLOC refuses it from then on)
 * and revokes our buffers from it before that driver's remove() tears its
 * p2pdma down; it stops departing once the driver has unbound.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>

#include "p2pbroker_internal.h"

int p2pb_p2p_bar = -1;
module_param_named(p2p_bar, p2pb_p2p_bar, int, 0644);
MODULE_PARM_DESC(p2p_bar, "BAR to register on bound devices (-1: the largest memory BAR)");

/**
 * p2pb_pci_get() - look up a PCI function by packed BDF
 * @bdf: P2PB_BDF() value
 *
 * Return: a referenced pci_dev (pci_dev_put() it) or NULL.
 */
struct pci_dev *p2pb_pci_get(u64 bdf)
{
	if (bdf >> 48)
		return NULL;
	return pci_get_domain_bus_and_slot(P2PB_BDF_DOMAIN(bdf),
					   P2PB_BDF_BUS(bdf),
					   P2PB_BDF_DEVFN(bdf));
}

u64 p2pb_pci_bdf(struct pci_dev *pdev)
{
	return P2PB_BDF((u32)pci_domain_nr(pdev->bus), pdev->bus->number,
			pdev->devfn);
}

static int p2pb_pci_pick_bar(struct pci_dev *pdev)
{
	resource_size_t best_size = 0;
	int bar, best = -ENODEV;

	if (p2pb_p2p_bar >= 0) {
		if (p2pb_p2p_bar >= PCI_STD_NUM_BARS ||
		    !(pci_resource_flags(pdev, p2pb_p2p_bar) & IORESOURCE_MEM) ||
		    !pci_resource_len(pdev, p2pb_p2p_bar))
			return -EINVAL;
		return p2pb_p2p_bar;
	}

	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
		if (!(pci_resource_flags(pdev, bar) & IORESOURCE_MEM))
			continue;
		if (pci_resource_len(pdev, bar) > best_size) {
			best_size = pci_resource_len(pdev, bar);
			best = bar;
		}
	}
	return best;
}

static int p2pb_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	int bar, ret;

	if (!IS_ENABLED(CONFIG_PCI_P2PDMA)) {
		pci_err(pdev, "p2p unsupported by this kernel\n");
		return -EOPNOTSUPP;
	}

	bar = p2pb_pci_pick_bar(pdev);
	if (bar < 0) {
		pci_err(pdev, "no usable memory BAR\n");
		return bar;
	}

	ret = pci_enable_device_mem(pdev);
	if (ret)
		return ret;

	/* devres: the p2pdma pool goes away after remove(). */
	ret = pci_p2pdma_add_resource(pdev, bar, 0, 0);
	if (ret) {
		pci_err(pdev, "cannot register BAR %d as p2p memory: %d\n",
			bar, ret);
		goto disable;
	}
	pci_p2pmem_publish(pdev, true);
	pci_info(pdev, "BAR %d (%llu bytes) registered as p2p memory\n", bar,
		 (unsigned long long)pci_resource_len(pdev, bar));
	return 0;

disable:
	pci_disable_device(pdev);
	return ret;
}

/* The bus notifier has revoked every buffer (BUS_NOTIFY_UNBIND_DRIVER). */
static void p2pb_pci_remove(struct pci_dev *pdev)
{
	pci_p2pmem_publish(pdev, false);
	pci_disable_device(pdev);
}

static struct pci_driver p2pb_pci_driver = {
	.name = "p2pbroker",
	.probe = p2pb_pci_probe,
	.remove = p2pb_pci_remove,
};

/*
 * Any provider's driver can unbind (ours, or an NVMe whose remove() first
 * removes its namespaces, for seconds): from BUS_NOTIFY_UNBIND_DRIVER to
 * BUS_NOTIFY_UNBOUND_DRIVER the provider is departing, and our buffers are
 * revoked before the driver's devres teardown, which would otherwise wait
 * for userspace to close them.
 */
static int p2pb_pci_notify(struct notifier_block *nb, unsigned long action,
			   void *data)
{
	struct pci_dev *pdev = to_pci_dev(data);

	switch (action) {
	case BUS_NOTIFY_UNBIND_DRIVER:
		p2pb_buf_provider_leaving(pdev);
		return NOTIFY_OK;
	case BUS_NOTIFY_UNBOUND_DRIVER:
		p2pb_buf_provider_gone(pdev);
		return NOTIFY_OK;
	default:
		return NOTIFY_DONE;
	}
}

static struct notifier_block p2pb_pci_nb = {
	.notifier_call = p2pb_pci_notify,
};

int p2pb_pci_register(void)
{
	int ret;

	ret = bus_register_notifier(&pci_bus_type, &p2pb_pci_nb);
	if (ret)
		return ret;
	ret = pci_register_driver(&p2pb_pci_driver);
	if (ret)
		bus_unregister_notifier(&pci_bus_type, &p2pb_pci_nb);
	return ret;
}

void p2pb_pci_unregister(void)
{
	pci_unregister_driver(&p2pb_pci_driver);
	bus_unregister_notifier(&pci_bus_type, &p2pb_pci_nb);
	p2pb_buf_exit();
}
