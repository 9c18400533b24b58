/* SPDX-License-Identifier: MIT */
/*
 * pcicfg.h - parse a PCI function's config space (as read from sysfs "config").
 *
 * Non-root readers get only the first 64 bytes; the PCIe capability and the
 * ACS extended capability then stay "unknown".  Capability lists are untrusted:
 * walks are bounded and loops detected.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct pcicfg_info {
	int header_type;     /* 0, 1, 2; -1 unknown */
	int pcie_type;	     /* PCI_EXP_TYPE_* from the PCIe capability, -1 unknown/none */
	int acs_known;	     /* 1 when extended config was readable (>= 0x104 bytes) */
	int acs_present;     /* ACS extended capability found */
	uint16_t acs_cap, acs_ctrl;
	int acs_offset;      /* 0 none */
	int sec_bus, sub_bus; /* type-1 header bytes 0x19/0x1a, -1 unknown */
	uint16_t vendor, device;
	uint32_t class_code;	    /* 24 bits */
	uint16_t subsys_vendor, subsys_device; /* type-0 headers only, else 0 */
	int exp_offset;		    /* PCIe capability, 0 none/unknown */
	double cur_speed_gts, max_speed_gts; /* from Link Status/Capabilities, 0 unknown */
	int cur_width, max_width;
};

/* Parse @len bytes of config space.  Always fills @ret (unknowns as above);
 * returns 0, or -EINVAL when @len < 64 or the header is all-ones/empty. */
int pcicfg_parse(const uint8_t *cfg, size_t len, struct pcicfg_info *ret);
