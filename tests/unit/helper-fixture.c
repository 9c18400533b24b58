// SPDX-License-Identifier: MIT
#include "helper-fixture.h"

/* Paths here are short and ours; truncation would only garble a test tree. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
/* Fixture tables name the leading fields only (as the tests' own do). */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/pci_regs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void mkdirs(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0755);
			*p = '/';
		}
	}
	mkdir(buf, 0755);
}

int fx_init(struct fx *fx)
{
	snprintf(fx->root, sizeof(fx->root), "/tmp/p2p-fx-XXXXXX");
	if (!mkdtemp(fx->root))
		return -errno;
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/sys/bus/pci/devices", fx->root);
	mkdirs(p);
	snprintf(p, sizeof(p), "%s/sys/devices", fx->root);
	mkdirs(p);
	return 0;
}

void fx_fini(struct fx *fx)
{
	char cmd[PATH_MAX + 16];
	if (strncmp(fx->root, "/tmp/p2p-fx-", 12) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", fx->root);
}

void fx_write(struct fx *fx, const char *rel, const void *data, size_t len)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", fx->root, rel);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", p);
	char *slash = strrchr(dir, '/');
	*slash = '\0';
	mkdirs(dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		abort();
	if (write(fd, data, len) != (ssize_t)len)
		abort();
	close(fd);
}

static void fx_printf(struct fx *fx, const char *dir, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fx_printf(struct fx *fx, const char *dir, const char *name, const char *fmt, ...)
{
	char rel[PATH_MAX], buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	snprintf(rel, sizeof(rel), "%s/%s", dir, name);
	fx_write(fx, rel, buf, (size_t)n);
}

void fx_symlink(struct fx *fx, const char *target, const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", fx->root, rel);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", p);
	*strrchr(dir, '/') = '\0';
	mkdirs(dir);
	unlink(p);
	if (symlink(target, p) < 0)
		abort();
}

void fx_cpu(struct fx *fx, const char *vendor, int family)
{
	if (!vendor)
		return;
	char buf[256];
	int n = snprintf(buf, sizeof(buf),
			 "processor\t: 0\nvendor_id\t: %s\ncpu family\t: %d\nmodel\t\t: 1\n\n"
			 "processor\t: 1\nvendor_id\t: %s\ncpu family\t: %d\n",
			 vendor, family, vendor, family);
	fx_write(fx, "proc/cpuinfo", buf, (size_t)n);
}

static void put16(uint8_t *c, int off, uint16_t v)
{
	c[off] = v & 0xff;
	c[off + 1] = v >> 8;
}

static void put32(uint8_t *c, int off, uint32_t v)
{
	put16(c, off, v & 0xffff);
	put16(c, off + 2, v >> 16);
}

void fx_add(struct fx *fx, const struct fx_func *f)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "sys/devices/%s", f->path);
	char full[PATH_MAX];
	snprintf(full, sizeof(full), "%s/%s", fx->root, dir);
	mkdirs(full);
	const char *bdf = strrchr(f->path, '/') + 1;
	bool bridge = f->sec_bus >= 0 && (f->class_code >> 8) == 0x0604;

	fx_printf(fx, dir, "vendor", "0x%04x\n", f->vendor);
	fx_printf(fx, dir, "device", "0x%04x\n", f->device);
	fx_printf(fx, dir, "subsystem_vendor", "0x%04x\n", f->vendor);
	fx_printf(fx, dir, "subsystem_device", "0x0000\n");
	fx_printf(fx, dir, "class", "0x%06x\n", f->class_code);
	fx_printf(fx, dir, "numa_node", "%d\n", f->numa);
	fx_printf(fx, dir, "resource",
		  "0x00000000fe000000 0x00000000fe3fffff 0x0000000000140204\n"
		  "0x0000000000000000 0x0000000000000000 0x0000000000000000\n");
	if (f->speed > 0) {
		fx_printf(fx, dir, "current_link_speed", "%.1f GT/s PCIe\n", f->speed);
		fx_printf(fx, dir, "current_link_width", "%d\n", f->width);
		fx_printf(fx, dir, "max_link_speed", "%.1f GT/s PCIe\n", f->speed);
		fx_printf(fx, dir, "max_link_width", "%d\n", f->width);
	}
	if (bridge && !f->no_bus_files) {
		fx_printf(fx, dir, "secondary_bus_number", "%d\n", f->sec_bus);
		fx_printf(fx, dir, "subordinate_bus_number", "%d\n", f->sub_bus);
	}
	if (f->driver) {
		char rel[PATH_MAX];
		snprintf(rel, sizeof(rel), "%s/driver", dir);
		char target[PATH_MAX];
		snprintf(target, sizeof(target), "../../../../bus/pci/drivers/%s", f->driver);
		fx_symlink(fx, target, rel);
	}

	if (f->cfg != FX_CFG_NONE) {
		uint8_t cfg[4096];
		memset(cfg, 0, sizeof(cfg));
		put16(cfg, 0, f->vendor);
		put16(cfg, 2, f->device);
		cfg[9] = f->class_code & 0xff;
		cfg[10] = (f->class_code >> 8) & 0xff;
		cfg[11] = (f->class_code >> 16) & 0xff;
		cfg[PCI_HEADER_TYPE] = bridge ? 1 : 0;
		if (bridge) {
			cfg[PCI_SECONDARY_BUS] = (uint8_t)f->sec_bus;
			cfg[PCI_SUBORDINATE_BUS] = (uint8_t)f->sub_bus;
		}
		if (f->pcie_type >= 0) {
			put16(cfg, PCI_STATUS, PCI_STATUS_CAP_LIST);
			cfg[PCI_CAPABILITY_LIST] = 0x40;
			cfg[0x40] = PCI_CAP_ID_EXP;
			cfg[0x41] = 0;
			put16(cfg, 0x42, (uint16_t)((f->pcie_type << 4) | 2));
			/* Extended caps: AER at 0x100 -> ACS at 0x148. */
			put32(cfg, 0x100, 0x0001 | (1u << 16) | (f->acs >= 0 ? 0x148u << 20 : 0));
			if (f->acs >= 0) {
				put32(cfg, 0x148, PCI_EXT_CAP_ID_ACS | (1u << 16));
				put16(cfg, 0x148 + PCI_ACS_CAP, 0x5f);
				put16(cfg, 0x148 + PCI_ACS_CTRL, (uint16_t)f->acs);
			}
		}
		size_t len = f->cfg == FX_CFG_4096 ? 4096 : f->cfg == FX_CFG_256 ? 256 : 64;
		char rel[PATH_MAX];
		snprintf(rel, sizeof(rel), "%s/config", dir);
		fx_write(fx, rel, cfg, len);
	}
	if (!f->no_bus_list) {
		char rel[PATH_MAX], target[PATH_MAX];
		snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s", bdf);
		snprintf(target, sizeof(target), "../../../devices/%s", f->path);
		fx_symlink(fx, target, rel);
	}
}

int fx_rootfd(struct fx *fx)
{
	return open(fx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

void fx_build_q35(struct fx *fx, int rp_acs, bool root_nic)
{
	static const struct fx_func nic = {
	    "pci0000:00/0000:00:02.0", 0x8086, 0x100e, 0x020000, -1, -1, FX_CFG_256, -1, -1};
	const struct fx_func funcs[] = {
	    {"pci0000:00/0000:00:00.0", 0x8086, 0x29c0, 0x060000, -1, -1, FX_CFG_256, -1, -1},
	    {"pci0000:00/0000:00:1c.0", 0x1b36, 0x000c, 0x060400, PCI_EXP_TYPE_ROOT_PORT, rp_acs,
	     FX_CFG_4096, 1, 5},
	    {"pci0000:00/0000:00:1c.0/0000:01:00.0", 0x104c, 0x8232, 0x060400,
	     PCI_EXP_TYPE_UPSTREAM, -1, FX_CFG_4096, 2, 5},
	    {"pci0000:00/0000:00:1c.0/0000:01:00.0/0000:02:00.0", 0x104c, 0x8233, 0x060400,
	     PCI_EXP_TYPE_DOWNSTREAM, -1, FX_CFG_4096, 3, 3},
	    {"pci0000:00/0000:00:1c.0/0000:01:00.0/0000:02:00.0/0000:03:00.0", 0x1af4, 0x1110,
	     0x050000, -1, -1, FX_CFG_256, -1, -1},
	    {"pci0000:00/0000:00:1c.0/0000:01:00.0/0000:02:01.0", 0x104c, 0x8233, 0x060400,
	     PCI_EXP_TYPE_DOWNSTREAM, -1, FX_CFG_4096, 4, 4},
	    {"pci0000:00/0000:00:1c.0/0000:01:00.0/0000:02:01.0/0000:04:00.0", 0x1b36, 0x0010,
	     0x010802, PCI_EXP_TYPE_ENDPOINT, -1, FX_CFG_4096, -1, -1},
	    {"pci0000:00/0000:00:1c.0/0000:01:00.0/0000:02:02.0", 0x104c, 0x8233, 0x060400,
	     PCI_EXP_TYPE_DOWNSTREAM, -1, FX_CFG_4096, 5, 5},
	    {"pci0000:00/0000:00:1c.0/0000:01:00.0/0000:02:02.0/0000:05:00.0", 0x1af4, 0x1110,
	     0x050000, -1, -1, FX_CFG_256, -1, -1},
	    {"pci0000:00/0000:00:1d.0", 0x1b36, 0x000c, 0x060400, PCI_EXP_TYPE_ROOT_PORT, rp_acs,
	     FX_CFG_4096, 6, 6},
	    {"pci0000:00/0000:00:1d.0/0000:06:00.0", 0x8086, 0x10d3, 0x020000,
	     PCI_EXP_TYPE_ENDPOINT, -1, FX_CFG_4096, -1, -1},
	    {"pci0000:00/0000:00:1d.0/0000:06:00.1", 0x8086, 0x10d3, 0x020000,
	     PCI_EXP_TYPE_ENDPOINT, -1, FX_CFG_4096, -1, -1},
	    {"pci0000:40/0000:40:00.0", 0x1b36, 0x000c, 0x060400, PCI_EXP_TYPE_ROOT_PORT, rp_acs,
	     FX_CFG_4096, 0x41, 0x41},
	    {"pci0000:40/0000:40:00.0/0000:41:00.0", 0x1b36, 0x0010, 0x010802,
	     PCI_EXP_TYPE_ENDPOINT, -1, FX_CFG_4096, -1, -1},
	};
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++) {
		fx_add(fx, &funcs[i]);
		if (root_nic && i == 0)
			fx_add(fx, &nic);
	}
}
