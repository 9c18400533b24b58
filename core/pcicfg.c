// SPDX-License-Identifier: MIT
/*
 * pcicfg.c - parse PCI config space bytes: header type, PCIe port type, ACS.
 */
#include "pcicfg.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <string.h>

#define CAP_WALK_MAX 48	 /* standard capabilities: at most (256-64)/4 */
#define ECAP_WALK_MAX 480 /* extended capabilities: (4096-256)/8 */

static uint16_t rd16(const uint8_t *c, size_t off)
{
	return (uint16_t)(c[off] | (c[off + 1] << 8));
}

static uint32_t rd32(const uint8_t *c, size_t off)
{
	return (uint32_t)c[off] | ((uint32_t)c[off + 1] << 8) | ((uint32_t)c[off + 2] << 16) |
	       ((uint32_t)c[off + 3] << 24);
}

/* Offset of standard capability @id, 0 when absent or unreadable. */
static int find_cap(const uint8_t *cfg, size_t len, int id)
{
	if (!(rd16(cfg, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	size_t pos = cfg[PCI_CAPABILITY_LIST] & ~3u;
	for (int n = 0; n < CAP_WALK_MAX && pos >= 0x40; n++) {
		if (pos + 2 > len)
			return 0;
		if (cfg[pos] == id)
			return (int)pos;
		pos = cfg[pos + 1] & ~3u;
	}
	return 0;
}

/* Offset of extended capability @id, 0 when absent or not readable. */
static int find_ext_cap(const uint8_t *cfg, size_t len, int id)
{
	size_t pos = PCI_CFG_SPACE_SIZE;
	for (int n = 0; n < ECAP_WALK_MAX; n++) {
		if (pos < PCI_CFG_SPACE_SIZE || pos + 4 > len)
			return 0;
		uint32_t hdr = rd32(cfg, pos);
		if (hdr == 0 || hdr == 0xffffffffu)
			return 0;
		if ((int)PCI_EXT_CAP_ID(hdr) == id)
			return (int)pos;
		pos = PCI_EXT_CAP_NEXT(hdr);
		if (pos == 0)
			return 0;
	}
	return 0;
}

int pcicfg_parse(const uint8_t *cfg, size_t len, struct pcicfg_info *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->header_type = -1;
	ret->pcie_type = -1;
	ret->sec_bus = -1;
	ret->sub_bus = -1;
	if (!cfg || len < 64)
		return -EINVAL;
	uint16_t vendor = rd16(cfg, PCI_VENDOR_ID);
	if (vendor == 0xffff || vendor == 0)
		return -EINVAL;

	ret->vendor = vendor;
	ret->device = rd16(cfg, PCI_DEVICE_ID);
	ret->class_code = rd32(cfg, PCI_CLASS_REVISION) >> 8;
	ret->header_type = cfg[PCI_HEADER_TYPE] & 0x7f;
	if (ret->header_type == PCI_HEADER_TYPE_NORMAL) {
		ret->subsys_vendor = rd16(cfg, PCI_SUBSYSTEM_VENDOR_ID);
		ret->subsys_device = rd16(cfg, PCI_SUBSYSTEM_ID);
	}
	if (ret->header_type == PCI_HEADER_TYPE_BRIDGE) {
		ret->sec_bus = cfg[PCI_SECONDARY_BUS];
		ret->sub_bus = cfg[PCI_SUBORDINATE_BUS];
	}
	if (len < 256)
		return 0; /* capabilities live above 0x40: unknown */

	int exp = find_cap(cfg, len, PCI_CAP_ID_EXP);
	if (exp && (size_t)exp + 4 <= len) {
		ret->exp_offset = exp;
		ret->pcie_type = (rd16(cfg, exp + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_TYPE) >> 4;
	}
	if (exp && (size_t)exp + PCI_EXP_LNKSTA + 2 <= len) {
		static const double gts[] = {0, 2.5, 5.0, 8.0, 16.0, 32.0, 64.0};
		uint32_t cap = rd32(cfg, exp + PCI_EXP_LNKCAP);
		uint16_t sta = rd16(cfg, exp + PCI_EXP_LNKSTA);
		unsigned ms = cap & PCI_EXP_LNKCAP_SLS, cs = sta & PCI_EXP_LNKSTA_CLS;
		ret->max_speed_gts = ms < 7 ? gts[ms] : 0;
		ret->cur_speed_gts = cs < 7 ? gts[cs] : 0;
		ret->max_width = (int)((cap & PCI_EXP_LNKCAP_MLW) >> 4);
		ret->cur_width = (int)((sta & PCI_EXP_LNKSTA_NLW) >> PCI_EXP_LNKSTA_NLW_SHIFT);
	}

	/* Extended config exists only for PCIe functions with 4096 bytes readable. */
	if (len >= PCI_CFG_SPACE_EXP_SIZE || (exp && len > PCI_CFG_SPACE_SIZE)) {
		ret->acs_known = 1;
		int acs = find_ext_cap(cfg, len, PCI_EXT_CAP_ID_ACS);
		if (acs && (size_t)acs + 8 <= len) {
			ret->acs_present = 1;
			ret->acs_offset = acs;
			ret->acs_cap = rd16(cfg, acs + PCI_ACS_CAP);
			ret->acs_ctrl = rd16(cfg, acs + PCI_ACS_CTRL);
		}
	} else if (len >= PCI_CFG_SPACE_SIZE && !exp) {
		/* Conventional PCI function, 256 bytes readable: no extended space, so
		 * no ACS capability can exist.  Known absent. */
		ret->acs_known = 1;
	}
	return 0;
}
