// SPDX-License-Identifier: GPL-2.0
/*
 * What the running kernel says about a provider and
 * its clients: pci_p2pdma_distance_many() for the set, pci_p2pdma_distance()
 * per client.  It works for any pair of functions; the provider need not
 * have p2p memory.  The kernel does not export the mapping type, so for a
 * pair it accepts the type is derived with the same walk as its
 * calc_map_type_and_dist(): a common upstream bridge and no ACS redirect on
 * the path is BUS_ADDR, anything else THRU_HOST_BRIDGE.  When the provider
 * has p2p memory, a real one-page DMA mapping also reports the kernel's own
 * choice (dma_map_type).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "p2pbroker_internal.h"

/* As the kernel's pci_bridge_has_acs_redir(). */
static bool p2pb_acs_redirects(struct pci_dev *pdev)
{
	u16 ctrl;

	if (!pdev->acs_cap)
		return false;
	pci_read_config_word(pdev, pdev->acs_cap + PCI_ACS_CTRL, &ctrl);
	return ctrl & (PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC);
}

static u32 p2pb_path_map_type(struct pci_dev *provider, struct pci_dev *client)
{
	struct pci_dev *a, *bb;
	bool redirect = false;

	for (a = provider; a; a = pci_upstream_bridge(a)) {
		if (p2pb_acs_redirects(a))
			redirect = true;
		for (bb = client; bb; bb = pci_upstream_bridge(bb))
			if (bb == a)
				goto common;
	}
	return P2PB_MAP_THRU_HOST_BRIDGE;

common:
	for (bb = client; bb != a; bb = pci_upstream_bridge(bb))
		if (p2pb_acs_redirects(bb))
			redirect = true;
	return redirect ? P2PB_MAP_THRU_HOST_BRIDGE : P2PB_MAP_BUS_ADDR;
}

/*
 * Map one page of @provider's p2p memory for @client and see what the DMA
 * API made of it: the kernel's own decision, not a re-derivation.
 */
static u32 p2pb_dma_map_type(struct pci_dev *provider, struct pci_dev *client)
{
	struct scatterlist sg;
	struct sg_table sgt = { .sgl = &sg, .nents = 1, .orig_nents = 1 };
	u32 type;
	void *va;
	int ret;

	if (!IS_ENABLED(CONFIG_PCI_P2PDMA) || !pci_has_p2pmem(provider))
		return P2PB_MAP_UNKNOWN;
	va = pci_alloc_p2pmem(provider, PAGE_SIZE);
	if (!va)
		return P2PB_MAP_UNKNOWN;

	sg_init_table(&sg, 1);
	sg_set_page(&sg, virt_to_page(va), PAGE_SIZE, 0);
	ret = dma_map_sgtable(&client->dev, &sgt, DMA_BIDIRECTIONAL,
			      DMA_ATTR_SKIP_CPU_SYNC);
	if (ret == -EREMOTEIO) {
		type = P2PB_MAP_NOT_SUPPORTED;
	} else if (ret) {
		type = P2PB_MAP_UNKNOWN;
	} else {
		type = p2pb_sg_dma_is_bus_address(&sg) ? P2PB_MAP_BUS_ADDR :
			P2PB_MAP_THRU_HOST_BRIDGE;
		dma_unmap_sgtable(&client->dev, &sgt, DMA_BIDIRECTIONAL,
				  DMA_ATTR_SKIP_CPU_SYNC);
	}
	pci_free_p2pmem(provider, va, PAGE_SIZE);
	return type;
}

/**
 * p2pb_verdict() - fill @req's outputs and its clients array
 * @req: copied from userspace; @req->clients is a user pointer
 *
 * Return: 0, -EINVAL bad input, -ENODEV unknown function, -EFAULT, -ENOMEM.
 */
int p2pb_verdict(struct p2pb_verdict *req)
{
	struct p2pb_verdict_client *cl;
	struct pci_dev *provider, **pdevs;
	struct device **devs;
	u32 i, n = req->num_clients;
	int ret = 0;

	if (req->flags & ~P2PB_VERDICT_VALID_FLAGS || req->reserved)
		return -EINVAL;
	if (!n || n > P2PB_MAX_VERDICT_CLIENTS || !req->clients)
		return -EINVAL;

	cl = kcalloc(n, sizeof(*cl), GFP_KERNEL);
	pdevs = kcalloc(n, sizeof(*pdevs), GFP_KERNEL);
	devs = kcalloc(n, sizeof(*devs), GFP_KERNEL);
	if (!cl || !pdevs || !devs) {
		ret = -ENOMEM;
		goto free;
	}
	if (copy_from_user(cl, u64_to_user_ptr(req->clients),
			   array_size(n, sizeof(*cl)))) {
		ret = -EFAULT;
		goto free;
	}

	for (i = 0; i < n; i++) {
		if (cl[i].reserved) {
			ret = -EINVAL;
			goto free;
		}
	}

	provider = p2pb_pci_get(req->provider);
	if (!provider) {
		ret = -ENODEV;
		goto free;
	}
	for (i = 0; i < n; i++) {
		pdevs[i] = p2pb_pci_get(cl[i].bdf);
		if (!pdevs[i]) {
			ret = -ENODEV;
			goto put;
		}
		devs[i] = &pdevs[i]->dev;
	}

	req->distance = pci_p2pdma_distance_many(provider, devs, n, false);
	for (i = 0; i < n; i++) {
		cl[i].distance = pci_p2pdma_distance(provider, devs[i], false);
		if (cl[i].distance < 0)
			cl[i].map_type = P2PB_MAP_NOT_SUPPORTED;
		else
			cl[i].map_type = p2pb_path_map_type(provider, pdevs[i]);
		cl[i].dma_map_type = p2pb_dma_map_type(provider, pdevs[i]);
	}

	if (copy_to_user(u64_to_user_ptr(req->clients), cl,
			 array_size(n, sizeof(*cl))))
		ret = -EFAULT;

put:
	for (i = 0; i < n; i++)
		pci_dev_put(pdevs[i]);
	pci_dev_put(provider);
free:
	kfree(devs);
	kfree(pdevs);
	kfree(cl);
	return ret;
}
