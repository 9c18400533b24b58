/* SPDX-License-Identifier: MIT */
/*
 * pcicfg.h - read what p2p verdicts need from a PCI function's config space.
 *
 * On a live sysfs every config dword is a bus access (a trap into the
 * hypervisor in a VM, tens of microseconds each), so the reader asks for
 * exactly the registers it needs with small preads: the header type, the status
 * word, the capabilities pointer, each capability header up to the PCIe
 * capability, that capability's flags and link registers, and each extended
 * capability header up to ACS, whose capability and control words come last.
 * A snapshot's config file is plain bytes: it is read whole and the same walk
 * runs over memory.  Every byte read from the file is counted.
 *
 * Non-root readers get only the first 64 bytes; the PCIe capability and the
 * ACS extended capability then stay "unknown".  Capability lists are untrusted:
 * walks are bounded and loops detected.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct pcicfg_info {
	int header_type; /* 0, 1, 2; -1 unknown */
	int pcie_type;	 /* PCI_EXP_TYPE_* from the PCIe capability, -1 unknown/none */
	int acs_known;	 /* 1 when extended config was readable (>= 0x104 bytes) */
	int acs_present; /* ACS extended capability found */
	uint16_t acs_cap, acs_ctrl;
	int acs_offset;	      /* 0 none */
	int sec_bus, sub_bus; /* type-1 header bytes 0x19/0x1a, -1 unknown */
	uint16_t vendor, device;
	uint32_t class_code;		       /* 24 bits */
	uint16_t subsys_vendor, subsys_device; /* type-0 headers only, else 0 */
	int exp_offset;			       /* PCIe capability, 0 none/unknown */
	double cur_speed_gts, max_speed_gts;   /* from Link Status/Capabilities, 0 unknown */
	int cur_width, max_width;
};

/* Where the bytes come from: an open "config" file read with pread (borrowed
 * fd), or @mem when @fd < 0. */
struct pcicfg_src {
	int fd;
	const uint8_t *mem;
	size_t size;	/* bytes readable; lowered when a read comes back short */
	uint32_t bytes; /* bytes read from @fd so far (the cost counter) */
	uint32_t reads; /* preads issued */
};

/* A source over @len bytes in memory (nothing counted). */
struct pcicfg_src pcicfg_src_mem(const uint8_t *cfg, size_t len);
/* A source over an open config file of which @size bytes are readable. */
struct pcicfg_src pcicfg_src_fd(int fd, size_t size);

/* Read @len bytes at @off.  Returns 0, -ERANGE when they lie beyond what is
 * readable (a short read also lowers src->size to what it proved), or -errno. */
int pcicfg_read(struct pcicfg_src *src, size_t off, void *buf, size_t len);

/* What pcicfg_query() reads (anything else stays unknown). */
enum {
	PCICFG_IDS = 1 << 0,	/* vendor, device, class, subsystem ids (validated) */
	PCICFG_HEADER = 1 << 1, /* header type */
	PCICFG_BUSES = 1 << 2,	/* secondary/subordinate bus of a type-1 header (+HEADER) */
	PCICFG_EXP = 1 << 3,	/* walk the capability list: PCIe port type and link */
	PCICFG_ACS = 1 << 4,	/* walk the extended capability list: ACS */
	PCICFG_ALL = 0x1f,
};

/*
 * Read the registers @what asks for.  Always fills @ret (unknowns as above);
 * returns 0, -EINVAL when fewer than 64 bytes are readable or the function
 * looks absent (vendor or status all-ones / vendor zero), or -errno.
 */
int pcicfg_query(struct pcicfg_src *src, unsigned what, struct pcicfg_info *ret);

/* pcicfg_query(PCICFG_ALL) over @len bytes of config space in memory. */
int pcicfg_parse(const uint8_t *cfg, size_t len, struct pcicfg_info *ret);
