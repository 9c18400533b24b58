/* SPDX-License-Identifier: MIT */
/*
 * kernel.h - what the kernel of a machine (live, or a snapshot) tells about p2p:
 * its release (which rules table applies), whether it was built with
 * CONFIG_PCI_P2PDMA, and the command-line settings that change the story
 * (pci=disable_acs_redir=, IOMMU switches).  Read relative to the same root
 * directory fd as the topology, so snapshots answer the same questions.
 */
#pragma once

#include <stdbool.h>

#include "rules.h"

enum kernel_src {
	KERNEL_SRC_NONE = 0,  /* not known */
	KERNEL_SRC_OSRELEASE, /* <root>/proc/sys/kernel/osrelease */
	KERNEL_SRC_UNAME,     /* uname(2) (live root without a readable osrelease) */
	KERNEL_SRC_OPTION,    /* --kernel-release */
};

struct kernel_facts {
	struct rules_sel rules; /* rules.release is the release ("" unknown) */
	enum kernel_src release_src;
	int p2pdma;		/* 1 CONFIG_PCI_P2PDMA=y, 0 built without, -1 unknown */
	char config[96];	/* where p2pdma came from: "proc/config.gz", "boot/config-R" */
	bool cmdline_known;	/* <root>/proc/cmdline was read */
	char acs_redir[256];	/* the pci=disable_acs_redir= list, "" none */
	char iommu[192];	/* IOMMU parameters as written, space-separated, "" none */
	bool iommu_off;		/* the command line switches the IOMMU off */
	bool iommu_passthrough; /* iommu=pt / iommu.passthrough=1 */
};

/* Facts of an unknown kernel: no release (newest table), P2PDMA unknown. */
void kernel_facts_unknown(struct kernel_facts *ret);

/*
 * kernel_read() - read the facts under @rootfd (an O_DIRECTORY fd of "/" or a
 * snapshot).  @release_override (--kernel-release) replaces the release read
 * from <root>/proc/sys/kernel/osrelease (or uname(2) on the live root).
 * P2PDMA comes from <root>/proc/config.gz (the running kernel's; skipped when
 * the override names another release), else <root>/boot/config-<release>
 * (gzip or plain); the command line from <root>/proc/cmdline.  Missing files
 * leave facts unknown.  Always fills *ret and returns 0.
 */
int kernel_read(int rootfd, const char *release_override, struct kernel_facts *ret);

/* Parse a kernel command line into @k's cmdline facts (exposed for tests). */
void kernel_parse_cmdline(const char *cmdline, struct kernel_facts *k);

/* One line of a kernel config: 1 "CONFIG_PCI_P2PDMA=y", 0 "# CONFIG_PCI_P2PDMA
 * is not set" (a config without the line at all also means 0: its dependencies
 * are not met), -1 any other line. */
int kernel_config_line(const char *line);

/* "osrelease", "uname", "option" or NULL for KERNEL_SRC_NONE. */
const char *kernel_src_name(enum kernel_src src);

/* One human line about P2PDMA, e.g. "kernel 6.1.0-28-amd64 was built without
 * CONFIG_PCI_P2PDMA: no PCIe p2p at all ...", or "" when it has it or unknown. */
void kernel_p2pdma_line(const struct kernel_facts *k, char *buf, int size);
