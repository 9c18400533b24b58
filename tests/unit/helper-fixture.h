/* SPDX-License-Identifier: MIT */
/*
 * helper-fixture.h - build small sysfs trees in a temp directory for unit tests
 * (the committed fixture cases live in tests/fixtures/sysfs/).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fx {
	char root[256];
};

enum fx_cfg {
	FX_CFG_4096 = 0, /* PCIe, extended config readable */
	FX_CFG_256,	 /* conventional PCI */
	FX_CFG_64,	 /* gathered as non-root */
	FX_CFG_NONE,	 /* no config file */
};

struct fx_func {
	const char *path; /* "pci0000:00/0000:00:01.0/0000:01:00.0" under sys/devices */
	uint16_t vendor, device;
	uint32_t class_code;
	int pcie_type; /* PCI_EXP_TYPE_*, -1 none */
	int acs;       /* -1 no ACS capability, else the ACS control word */
	enum fx_cfg cfg;
	int sec_bus, sub_bus; /* bridges: >= 0 written as files and config */
	bool no_bus_files;    /* bridges: leave out secondary/subordinate_bus_number */
	bool no_bus_list;     /* leave out of sys/bus/pci/devices */
	int numa;	      /* written as numa_node */
	const char *driver;   /* driver symlink (dangling is fine) */
	double speed;	      /* current_link_speed, 0 = no link files */
	int width;
};

/* New empty tree under /tmp; returns 0 or -errno. */
int fx_init(struct fx *fx);
/* Remove the whole tree. */
void fx_fini(struct fx *fx);
/* Add one function (its parent directories must exist or are created plain). */
void fx_add(struct fx *fx, const struct fx_func *f);
/* /proc/cpuinfo with these values (NULL vendor: no file). */
void fx_cpu(struct fx *fx, const char *vendor, int family);
/* Write/overwrite a file or symlink under the root. */
void fx_write(struct fx *fx, const char *rel, const void *data, size_t len);
void fx_symlink(struct fx *fx, const char *target, const char *rel);
/*
 * The VM topology of DESIGN.md: q35 host bridge, a root port with a 3-port
 * switch (ivshmem 03, nvme 04, ivshmem 05), a second root port with a
 * two-function NIC (06.0/06.1), and a pxb-pcie host bridge with a root port
 * and an nvme (41); @root_nic: with a NIC on the root bus (00:02.0) too.
 * @rp_acs: the ACS control word of the root ports.
 */
void fx_build_q35(struct fx *fx, int rp_acs, bool root_nic);
/* Open the root as a directory fd. */
int fx_rootfd(struct fx *fx);
