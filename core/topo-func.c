// SPDX-License-Identifier: MIT
/*
 * topo-func.c - one PCI function's facts from its sysfs directory: identity,
 * class, BARs, link, bus numbers, ACS, NUMA node, driver, IOMMU group.  Config
 * space (pcicfg.c) where it is readable and needed, the attribute files
 * (sysattr.c) for the rest.  Building the tree out of functions is topo.c's.
 */
#include "topo-func.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcicfg.h"
#include "sysattr.h"

#define ATTR_MAX 4096

static double parse_speed(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v <= 0 || v > 1000)
		return 0;
	return v;
}

static void read_resources(int dirfd, struct topo_func *f)
{
	char buf[ATTR_MAX];
	if (sysattr_read(dirfd, "resource", buf, sizeof(buf), SYSATTR_SYSFS) <= 0)
		return;
	char *line = buf;
	for (int i = 0; i < TOPO_NBARS && line; i++) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		unsigned long long a, b, c;
		if (sscanf(line, "%llx %llx %llx", &a, &b, &c) == 3 && b >= a) {
			f->bars[i].start = a;
			f->bars[i].end = b;
			f->bars[i].flags = c;
		}
		line = next;
	}
}

/* Link facts from the sysfs files (when config space does not hold them). */
static void read_link_files(int dirfd, struct topo_func *f)
{
	char buf[64];
	long l;
	if (sysattr_read(dirfd, "current_link_speed", buf, sizeof(buf), SYSATTR_SYSFS) > 0)
		f->cur_speed_gts = parse_speed(buf);
	if (sysattr_read(dirfd, "max_link_speed", buf, sizeof(buf), SYSATTR_SYSFS) > 0)
		f->max_speed_gts = parse_speed(buf);
	if (sysattr_read_long(dirfd, "current_link_width", 0, 64, &l) == 0)
		f->cur_width = (int)l;
	if (sysattr_read_long(dirfd, "max_link_width", 0, 64, &l) == 0)
		f->max_width = (int)l;
}

/* Identity facts from the sysfs files (when config space is not readable, or on
 * a live sysfs without "uevent").  True when vendor, device and class were all
 * there. */
static bool read_id_files(int dirfd, struct topo_func *f)
{
	unsigned long v;
	int have = 0;
	if (sysattr_read_ulong(dirfd, "vendor", 0xffff, &v) == 0) {
		f->vendor = (uint16_t)v;
		have++;
	}
	if (sysattr_read_ulong(dirfd, "device", 0xffff, &v) == 0) {
		f->device = (uint16_t)v;
		have++;
	}
	if (sysattr_read_ulong(dirfd, "subsystem_vendor", 0xffff, &v) == 0)
		f->subsys_vendor = (uint16_t)v;
	if (sysattr_read_ulong(dirfd, "subsystem_device", 0xffff, &v) == 0)
		f->subsys_device = (uint16_t)v;
	if (sysattr_read_ulong(dirfd, "class", 0xffffff, &v) == 0) {
		f->class_code = (uint32_t)v;
		have++;
	}
	return have == 3;
}

/* Ids and class from "uevent" (PCI_CLASS, PCI_ID, PCI_SUBSYS_ID: values the
 * kernel keeps in struct pci_dev, so no config access); true when all three
 * were there. */
static bool read_uevent_ids(int dirfd, struct topo_func *f)
{
	char buf[1024];
	unsigned a, b;
	int have = 0;
	if (sysattr_read(dirfd, "uevent", buf, sizeof(buf), SYSATTR_SYSFS) <= 0)
		return false;
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char end;
		if (sscanf(line, "PCI_CLASS=%x%c", &a, &end) == 1 && a <= 0xffffff) {
			f->class_code = a;
			have |= 1;
		} else if (sscanf(line, "PCI_ID=%x:%x%c", &a, &b, &end) == 2 && a <= 0xffff &&
			   b <= 0xffff) {
			f->vendor = (uint16_t)a;
			f->device = (uint16_t)b;
			have |= 2;
		} else if (sscanf(line, "PCI_SUBSYS_ID=%x:%x%c", &a, &b, &end) == 2 &&
			   a <= 0xffff && b <= 0xffff) {
			f->subsys_vendor = (uint16_t)a;
			f->subsys_device = (uint16_t)b;
			have |= 4;
		}
	}
	return have == 7;
}

static bool has_attr(int dirfd, const char *name)
{
	return faccessat(dirfd, name, F_OK, 0) == 0;
}

/* On a live sysfs, whether reads past the first 64 bytes of config work is the
 * same for every function (the kernel checks the opener's CAP_SYS_ADMIN): one
 * byte read at 0x40 of the first function decides it for the whole scan. */
static size_t live_cfg_limit(struct topo_func_src *s, struct pcicfg_src *src)
{
	if (!s->cfg_limit && src->size > 64) {
		uint8_t b;
		s->cfg_limit = pcicfg_read(src, 64, &b, 1) == 0 ? PCI_CFG_SPACE_EXP_SIZE : 64;
	}
	return s->cfg_limit ? (size_t)s->cfg_limit : src->size;
}

/*
 * Config space of one function into @ci.  Returns the bytes readable (the
 * "config_size"; 0 when there is no readable config file) and stores the
 * query's result in *ret_ok (0 or -errno).
 *
 * A snapshot's config file is plain bytes: read whole (one syscall) and
 * parsed for everything.  A live sysfs pays a bus access (a hypervisor trap in
 * a VM) per dword, so there only the registers sysfs does not already give are
 * read: ids and class come from "uevent", the kernel's attribute visibility
 * says which functions are PCIe ("current_link_speed") and which have a type-1
 * header ("secondary_bus_number"); the config reads are then the status word,
 * the capability pointer and headers up to the PCIe capability (port type and
 * the link registers: two accesses, where the four link attributes would make
 * the kernel do five), the bus numbers of bridges (the bus-number attributes
 * read those same bytes on every read) and the extended headers up to ACS.
 */
static int read_config(struct topo_func_src *s, int dirfd, struct topo_func *f, bool have_ids,
		       struct pcicfg_info *ci, int *ret_ok)
{
	*ret_ok = -ENOENT;
	int fd = openat(dirfd, "config", O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return 0;
	struct pcicfg_src src;
	if (!s->live) {
		/* pread fails on a FIFO or device planted in a snapshot: no config. */
		uint8_t cfg[PCI_CFG_SPACE_EXP_SIZE];
		ssize_t n;
		do
			n = pread(fd, cfg, sizeof(cfg), 0);
		while (n < 0 && errno == EINTR);
		f->cfg_bytes_read += n > 0 ? (uint32_t)n : 0;
		close(fd);
		if (n == 0)
			*ret_ok = -EINVAL; /* an empty file: said, unlike a missing one */
		if (n <= 0)
			return 0;
		src = pcicfg_src_mem(cfg, (size_t)n);
		*ret_ok = pcicfg_query(&src, PCICFG_ALL, ci);
		return (int)n;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	size_t size =
	    st.st_size < PCI_CFG_SPACE_EXP_SIZE ? (size_t)st.st_size : PCI_CFG_SPACE_EXP_SIZE;
	src = pcicfg_src_fd(fd, size);
	size_t limit = live_cfg_limit(s, &src);
	if (src.size > limit)
		src.size = limit;
	unsigned what = PCICFG_ACS;
	if (!have_ids)
		what |= PCICFG_IDS;
	if (has_attr(dirfd, "current_link_speed"))
		what |= PCICFG_EXP;
	if (has_attr(dirfd, "secondary_bus_number"))
		what |= PCICFG_BUSES;
	*ret_ok = pcicfg_query(&src, what, ci);
	if (!(what & PCICFG_BUSES) && ci->header_type < 0)
		ci->header_type = PCI_HEADER_TYPE_NORMAL; /* no bridge attributes */
	f->cfg_bytes_read += src.bytes;
	close(fd);
	return (int)src.size;
}

/*
 * See topo-func.h.  See read_config() for which facts come from config space
 * and which from attribute files; whatever config space could not say falls
 * back to the files.
 */
void topo_func_read(struct topo_func_src *s, int dirfd, struct topo_func *f)
{
	struct topo *t = s->t;
	unsigned long v;
	long l;
	char buf[256];

	f->class_code = UINT32_MAX;
	f->numa_node = -1;
	f->iommu_group = -1;
	f->sec_bus = f->sub_bus = -1;
	f->pcie_type = -1;

	bool have_ids = s->live && (read_uevent_ids(dirfd, f) || read_id_files(dirfd, f));
	struct pcicfg_info ci;
	int ok;
	int n = read_config(s, dirfd, f, have_ids, &ci, &ok);
	f->cfg_size = n;
	t->cfg_bytes_read += f->cfg_bytes_read;
	bool cfg_ok = n >= 64 && ok == 0;
	if (cfg_ok) {
		if (!have_ids) {
			f->vendor = ci.vendor;
			f->device = ci.device;
			f->class_code = ci.class_code;
			f->subsys_vendor = ci.subsys_vendor;
			f->subsys_device = ci.subsys_device;
		}
		f->pcie_type = ci.pcie_type;
		if (ci.header_type == PCI_HEADER_TYPE_BRIDGE)
			f->is_bridge = true;
		if (!ci.acs_known) {
			f->acs = TOPO_ACS_UNKNOWN;
		} else if (ci.acs_present) {
			f->acs = TOPO_ACS_PRESENT;
			f->acs_cap = ci.acs_cap;
			f->acs_ctrl = ci.acs_ctrl;
			f->acs_redir = (ci.acs_ctrl & (PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC)) != 0;
		} else {
			f->acs = TOPO_ACS_ABSENT;
		}
		f->sec_bus = ci.sec_bus;
		f->sub_bus = ci.sub_bus;
		f->cur_speed_gts = ci.cur_speed_gts;
		f->max_speed_gts = ci.max_speed_gts;
		f->cur_width = ci.cur_width;
		f->max_width = ci.max_width;
	} else {
		if (ok != -ENOENT || n > 0)
			topo_warn(t, "%s: config space unreadable (%d bytes)", f->bdf, n);
		if (!have_ids)
			read_id_files(dirfd, f);
	}
	/* Link files only when config space could not say: a conventional PCI
	 * function with readable config has no link, and neither has a
	 * root-complex integrated endpoint or event collector (the kernel
	 * shows their link files, but with nothing in them). */
	bool no_link = cfg_ok && n >= PCI_CFG_SPACE_SIZE &&
		       (!ci.exp_offset || ci.pcie_type == PCI_EXP_TYPE_RC_END ||
			ci.pcie_type == PCI_EXP_TYPE_RC_EC);
	if (!f->cur_width && !f->max_width && !no_link)
		read_link_files(dirfd, f);
	if (f->sec_bus < 0 && (f->is_bridge || (f->class_code >> 8) == 0x0604)) {
		if (sysattr_read_long(dirfd, "secondary_bus_number", 0, 255, &l) == 0)
			f->sec_bus = (int)l;
		if (sysattr_read_long(dirfd, "subordinate_bus_number", 0, 255, &l) == 0)
			f->sub_bus = (int)l;
	}
	if (sysattr_read_long(dirfd, "numa_node", -1, 4095, &l) == 0)
		f->numa_node = (int)l;
	bool bridge = f->is_bridge || (f->class_code >> 8) == 0x0604;
	char cpus[TOPO_CPULIST_LEN];
	if (!bridge && !(s->skip & TOPO_SKIP_CPUS) &&
	    sysattr_read(dirfd, "local_cpulist", cpus, sizeof(cpus), SYSATTR_SYSFS) > 0)
		f->local_cpus = strdup(cpus); /* NULL (unknown) if that fails */
	if ((s->skip & TOPO_SKIP_DRIVER) ||
	    sysattr_read_link_base(dirfd, "driver", f->driver, sizeof(f->driver)) < 0)
		f->driver[0] = '\0';
	if (!(s->skip & TOPO_SKIP_IOMMU) &&
	    sysattr_read_link_base(dirfd, "iommu_group", buf, sizeof(buf)) > 0 &&
	    sysattr_parse_ulong(buf, 1u << 30, &v) == 0)
		f->iommu_group = (int)v;
	if (!bridge && !(s->skip & TOPO_SKIP_BARS)) /* a bridge's own BARs are not p2p memory */
		read_resources(dirfd, f);

	if ((f->class_code >> 8) == 0x0604 || (f->class_code >> 8) == 0x0609)
		f->is_bridge = true;
	if (f->is_bridge && f->sec_bus >= 0 && (f->sec_bus <= f->bus || f->sub_bus < f->sec_bus)) {
		topo_warn(t, "%s: invalid bridge bus range %d-%d ignored", f->bdf, f->sec_bus,
			  f->sub_bus);
		f->sec_bus = f->sub_bus = -1;
	}
}
