// SPDX-License-Identifier: MIT
/*
 * topo-names.c - facts about a topology that need no scan: the CPU vendor and
 * family (from an override or proc/cpuinfo), link bandwidth, and the names of
 * function kinds and class codes.
 */
#include "topo.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sysattr.h"
#include "topo-func.h"

int topo_parse_cpu(const char *s, struct topo_cpu *ret_cpu)
{
	struct topo_cpu c = {.vendor = TOPO_CPU_UNKNOWN, .family = -1, .from_override = true};
	const char *colon = s ? strchr(s, ':') : NULL;
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(c.vendor_id))
		return -EINVAL;
	char vendor[sizeof(c.vendor_id)];
	memcpy(vendor, s, (size_t)(colon - s));
	vendor[colon - s] = '\0';
	unsigned long fam;
	if (sysattr_parse_ulong(colon + 1, 0xffff, &fam) < 0)
		return -EINVAL;
	if (!strcasecmp(vendor, "amd") || !strcmp(vendor, "AuthenticAMD")) {
		c.vendor = TOPO_CPU_AMD;
		strcpy(c.vendor_id, "AuthenticAMD");
	} else if (!strcasecmp(vendor, "intel") || !strcmp(vendor, "GenuineIntel")) {
		c.vendor = TOPO_CPU_INTEL;
		strcpy(c.vendor_id, "GenuineIntel");
	} else if (!strcasecmp(vendor, "hygon") || !strcmp(vendor, "HygonGenuine")) {
		/* The kernel's X86_VENDOR_AMD check does not include Hygon. */
		c.vendor = TOPO_CPU_OTHER;
		strcpy(c.vendor_id, "HygonGenuine");
	} else {
		return -EINVAL;
	}
	c.family = (int)fam;
	*ret_cpu = c;
	return 0;
}

void topo_read_cpu(int rootfd, struct topo_cpu *cpu)
{
	memset(cpu, 0, sizeof(*cpu));
	cpu->family = -1;
	/* the first processor's lines are all that is wanted */
	char buf[8192];
	if (sysattr_read(rootfd, "proc/cpuinfo", buf, sizeof(buf), SYSATTR_PREFIX) <= 0)
		return;
	bool have_vendor = false, have_family = false;
	for (char *line = buf, *next; line && *line && !(have_vendor && have_family); line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		char *val = colon + 1;
		while (*val == ' ' || *val == '\t')
			val++;
		if (!have_vendor && !strncmp(line, "vendor_id", 9)) {
			snprintf(cpu->vendor_id, sizeof(cpu->vendor_id), "%s", val);
			have_vendor = true;
		} else if (!have_family && !strncmp(line, "cpu family", 10)) {
			unsigned long fam;
			if (sysattr_parse_ulong(val, 0xffff, &fam) == 0) {
				cpu->family = (int)fam;
				have_family = true;
			}
		}
	}
	if (!have_vendor)
		cpu->vendor = TOPO_CPU_UNKNOWN;
	else if (!strcmp(cpu->vendor_id, "AuthenticAMD"))
		cpu->vendor = TOPO_CPU_AMD;
	else if (!strcmp(cpu->vendor_id, "GenuineIntel"))
		cpu->vendor = TOPO_CPU_INTEL;
	else
		cpu->vendor = TOPO_CPU_OTHER;
	if (!have_family && cpu->vendor != TOPO_CPU_OTHER)
		cpu->vendor = TOPO_CPU_UNKNOWN;
}

double topo_link_gbps(double gts, int width)
{
	if (gts <= 0 || width <= 0)
		return 0;
	double enc;
	if (gts < 7)
		enc = 8.0 / 10.0; /* 2.5 and 5 GT/s: 8b/10b */
	else if (gts < 60)
		enc = 128.0 / 130.0; /* 8, 16, 32 GT/s */
	else
		enc = 242.0 / 256.0; /* 64 GT/s FLIT mode */
	return gts * width * enc / 8.0;
}

const char *topo_kind_name(enum topo_kind k)
{
	switch (k) {
	case TOPO_KIND_ENDPOINT:
		return "endpoint";
	case TOPO_KIND_ROOT_PORT:
		return "root-port";
	case TOPO_KIND_SWITCH_UP:
		return "switch-upstream";
	case TOPO_KIND_SWITCH_DOWN:
		return "switch-downstream";
	case TOPO_KIND_BRIDGE:
		return "bridge";
	case TOPO_KIND_HOST_BRIDGE:
		return "host-bridge";
	}
	return "unknown";
}

const char *topo_class_name(uint32_t c)
{
	static const struct {
		uint32_t code, mask;
		const char *name;
	} tab[] = {
	    {0x010802, 0xffffff, "NVMe"},
	    {0x010000, 0xff0000, "storage"},
	    {0x020700, 0xffff00, "InfiniBand"},
	    {0x020000, 0xff0000, "network"},
	    {0x030200, 0xffff00, "3D controller"},
	    {0x030000, 0xff0000, "display"},
	    {0x040000, 0xff0000, "multimedia"},
	    {0x050200, 0xffff00, "CXL memory"},
	    {0x050000, 0xff0000, "memory"},
	    {0x060000, 0xffff00, "host bridge"},
	    {0x060100, 0xffff00, "ISA bridge"},
	    {0x060400, 0xffff00, "PCI bridge"},
	    {0x060900, 0xffff00, "PCI bridge"},
	    {0x060000, 0xff0000, "bridge"},
	    {0x080000, 0xff0000, "system peripheral"},
	    {0x0b4000, 0xffff00, "co-processor"},
	    {0x0c0300, 0xffff00, "USB"},
	    {0x0c0000, 0xff0000, "serial bus"},
	    {0x110000, 0xff0000, "signal processing"},
	    {0x120000, 0xff0000, "accelerator"},
	};
	if (c == UINT32_MAX)
		return "unknown";
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if ((c & tab[i].mask) == tab[i].code)
			return tab[i].name;
	return "other";
}

bool topo_is_p2p_relevant(const struct topo_func *f)
{
	if (f->class_code == UINT32_MAX || f->is_bridge)
		return false;
	switch (f->class_code >> 16) {
	case 0x01: /* storage, NVMe */
	case 0x02: /* network */
	case 0x03: /* display / 3D (GPUs) */
	case 0x05: /* memory (CXL, ivshmem-style BAR memory) */
	case 0x0b: /* processors / co-processors */
	case 0x11: /* signal processing */
	case 0x12: /* processing accelerators */
		return true;
	default:
		return f->gpu_nodes != NULL;
	}
}
