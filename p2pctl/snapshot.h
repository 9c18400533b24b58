/* SPDX-License-Identifier: MIT */
/*
 * snapshot.h - capture the PCI-relevant part of sysfs (and /proc/cpuinfo) as a
 * tar archive that `--fsroot` reads back after unpacking (tar xf FILE -C DIR).
 */
#pragma once

#include <stddef.h>

struct snapshot_stats {
	int files, links, dirs;
	long long bytes;
};

/*
 * snapshot_write() - write a ustar archive (GNU long names where needed) of
 * <root>/sys/bus/pci/devices, <root>/sys/devices/pci* (PCI attribute files,
 * config space, driver/iommu_group/firmware_node/physfn links, p2pmem/
 * size/available/published), <root>/sys/class/drm, <root>/proc/cpuinfo, and the
 * kernel's facts: proc/sys/kernel/osrelease, proc/cmdline and its config
 * (proc/config.gz, else boot/config-<release>) to @outfd.  Paths in the archive
 * are relative ("sys/...", "proc/cpuinfo").  Returns 0, or -errno with a line
 * in @err.
 */
int snapshot_write(int rootfd, int outfd, struct snapshot_stats *ret_stats, char *err,
		   size_t errlen);
