// SPDX-License-Identifier: MIT
/*
 * pcicfg.c - read the few config-space registers a p2p verdict needs: header
 * type, PCIe port type and link, ACS capability and control.
 */
#include "pcicfg.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <string.h>
#include <unistd.h>

#define CAP_WALK_MAX 48	  /* standard capabilities: at most (256-64)/4 */
#define ECAP_WALK_MAX 480 /* extended capabilities: (4096-256)/8 */

struct pcicfg_src pcicfg_src_mem(const uint8_t *cfg, size_t len)
{
	return (struct pcicfg_src){.fd = -1, .mem = cfg, .size = cfg ? len : 0};
}

struct pcicfg_src pcicfg_src_fd(int fd, size_t size)
{
	return (struct pcicfg_src){.fd = fd, .size = size};
}

int pcicfg_read(struct pcicfg_src *src, size_t off, void *buf, size_t len)
{
	if (off > src->size || len > src->size - off)
		return -ERANGE;
	if (src->fd < 0) {
		memcpy(buf, src->mem + off, len);
		return 0;
	}
	ssize_t n;
	do
		n = pread(src->fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	src->reads++;
	src->bytes += (uint32_t)n;
	if ((size_t)n < len) {
		/* Non-root readers of a live sysfs get 64 bytes of a 4096-byte file. */
		src->size = off + (size_t)n;
		return -ERANGE;
	}
	return 0;
}

/* rd8/rd16/rd32 store 0 on failure, so no caller reads an unset value. */
static int rd8(struct pcicfg_src *s, size_t off, uint8_t *v)
{
	*v = 0;
	return pcicfg_read(s, off, v, 1);
}

static int rd16(struct pcicfg_src *s, size_t off, uint16_t *v)
{
	uint8_t b[2] = {0, 0};
	int r = pcicfg_read(s, off, b, 2);
	*v = r == 0 ? (uint16_t)(b[0] | (b[1] << 8)) : 0;
	return r;
}

static int rd32(struct pcicfg_src *s, size_t off, uint32_t *v)
{
	uint8_t b[4] = {0, 0, 0, 0};
	int r = pcicfg_read(s, off, b, 4);
	*v = r == 0 ? (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
			  ((uint32_t)b[3] << 24)
		    : 0;
	return r;
}

/* Offset of the PCIe capability, 0 when absent or unreadable.  With @ret_bad,
 * a status word of all-ones (the function is gone; nothing vouched for the ids)
 * sets *ret_bad instead of walking. */
static int find_exp(struct pcicfg_src *s, int *ret_bad)
{
	uint16_t status;
	uint8_t ptr, hdr[2] = {0, 0};
	if (rd16(s, PCI_STATUS, &status) < 0)
		return 0;
	if (status == 0xffff && ret_bad) {
		*ret_bad = 1;
		return 0;
	}
	if (!(status & PCI_STATUS_CAP_LIST) || rd8(s, PCI_CAPABILITY_LIST, &ptr) < 0)
		return 0;
	size_t pos = ptr & ~3u;
	for (int n = 0; n < CAP_WALK_MAX && pos >= 0x40; n++) {
		if (pcicfg_read(s, pos, hdr, 2) < 0)
			return 0;
		if (hdr[0] == PCI_CAP_ID_EXP)
			return (int)pos;
		pos = hdr[1] & ~3u;
	}
	return 0;
}

/* Offset of extended capability @id, 0 when absent or not readable. */
static int find_ext_cap(struct pcicfg_src *s, int id)
{
	size_t pos = PCI_CFG_SPACE_SIZE;
	for (int n = 0; n < ECAP_WALK_MAX; n++) {
		uint32_t hdr;
		if (pos < PCI_CFG_SPACE_SIZE || rd32(s, pos, &hdr) < 0)
			return 0;
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

static void read_link(struct pcicfg_src *s, int exp, struct pcicfg_info *ret)
{
	static const double gts[] = {0, 2.5, 5.0, 8.0, 16.0, 32.0, 64.0};
	uint32_t cap;
	uint16_t sta;
	if (rd32(s, (size_t)exp + PCI_EXP_LNKCAP, &cap) < 0 ||
	    rd16(s, (size_t)exp + PCI_EXP_LNKSTA, &sta) < 0)
		return;
	unsigned ms = cap & PCI_EXP_LNKCAP_SLS, cs = sta & PCI_EXP_LNKSTA_CLS;
	ret->max_speed_gts = ms < 7 ? gts[ms] : 0;
	ret->cur_speed_gts = cs < 7 ? gts[cs] : 0;
	ret->max_width = (int)((cap & PCI_EXP_LNKCAP_MLW) >> 4);
	ret->cur_width = (int)((sta & PCI_EXP_LNKSTA_NLW) >> PCI_EXP_LNKSTA_NLW_SHIFT);
}

static void caps_unknown(struct pcicfg_info *ret)
{
	ret->pcie_type = -1;
	ret->exp_offset = 0;
	ret->acs_known = ret->acs_present = 0;
	ret->acs_offset = 0;
	ret->acs_cap = ret->acs_ctrl = 0;
	ret->cur_speed_gts = ret->max_speed_gts = 0;
	ret->cur_width = ret->max_width = 0;
}

int pcicfg_query(struct pcicfg_src *s, unsigned what, struct pcicfg_info *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->header_type = -1;
	ret->pcie_type = -1;
	ret->sec_bus = -1;
	ret->sub_bus = -1;
	if (s->size < 64)
		return -EINVAL;

	if (what & PCICFG_IDS) {
		uint32_t id, cls;
		if (rd32(s, PCI_VENDOR_ID, &id) < 0 || rd32(s, PCI_CLASS_REVISION, &cls) < 0)
			return -EINVAL;
		uint16_t vendor = (uint16_t)id;
		if (vendor == 0xffff || vendor == 0)
			return -EINVAL;
		ret->vendor = vendor;
		ret->device = (uint16_t)(id >> 16);
		ret->class_code = cls >> 8;
	}
	if (what & (PCICFG_IDS | PCICFG_HEADER | PCICFG_BUSES)) {
		uint8_t ht;
		if (rd8(s, PCI_HEADER_TYPE, &ht) < 0)
			return -EINVAL;
		ret->header_type = ht & 0x7f;
	}
	if ((what & PCICFG_IDS) && ret->header_type == PCI_HEADER_TYPE_NORMAL) {
		uint32_t ss;
		if (rd32(s, PCI_SUBSYSTEM_VENDOR_ID, &ss) == 0) {
			ret->subsys_vendor = (uint16_t)ss;
			ret->subsys_device = (uint16_t)(ss >> 16);
		}
	}
	if ((what & PCICFG_BUSES) && ret->header_type == PCI_HEADER_TYPE_BRIDGE) {
		uint8_t b[2];
		if (pcicfg_read(s, PCI_SECONDARY_BUS, b, 2) == 0) {
			ret->sec_bus = b[0];
			ret->sub_bus = b[1];
		}
	}
	if (s->size < PCI_CFG_SPACE_SIZE || !(what & (PCICFG_EXP | PCICFG_ACS)))
		return 0; /* capabilities live above 0x40: unknown */

	int exp = 0, bad = 0;
	if (what & PCICFG_EXP) {
		exp = find_exp(s, (what & PCICFG_IDS) ? NULL : &bad);
		if (bad) {
			caps_unknown(ret);
			return -EINVAL;
		}
		uint16_t flags;
		if (exp && rd16(s, (size_t)exp + PCI_EXP_FLAGS, &flags) == 0) {
			ret->exp_offset = exp;
			ret->pcie_type = (flags & PCI_EXP_FLAGS_TYPE) >> 4;
			read_link(s, exp, ret);
		}
	}
	/* Extended config exists only for PCIe functions with 4096 bytes readable. */
	if ((what & PCICFG_ACS) &&
	    (s->size >= PCI_CFG_SPACE_EXP_SIZE || (exp && s->size > PCI_CFG_SPACE_SIZE))) {
		ret->acs_known = 1;
		int acs = find_ext_cap(s, PCI_EXT_CAP_ID_ACS);
		uint32_t v;
		if (acs && rd32(s, (size_t)acs + PCI_ACS_CAP, &v) == 0) {
			ret->acs_present = 1;
			ret->acs_offset = acs;
			ret->acs_cap = (uint16_t)v;
			ret->acs_ctrl = (uint16_t)(v >> 16);
		}
	} else if ((what & PCICFG_ACS) && s->size >= PCI_CFG_SPACE_SIZE && !exp) {
		/* Conventional PCI function, 256 bytes readable: no extended space, so
		 * no ACS capability can exist.  Known absent. */
		ret->acs_known = 1;
	}
	/* A read past 64 bytes came back empty: as if only 64 were readable. */
	if (s->size < PCI_CFG_SPACE_SIZE)
		caps_unknown(ret);
	return 0;
}

int pcicfg_parse(const uint8_t *cfg, size_t len, struct pcicfg_info *ret)
{
	struct pcicfg_src s = pcicfg_src_mem(cfg, len);
	return pcicfg_query(&s, PCICFG_ALL, ret);
}
