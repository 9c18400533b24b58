/* SPDX-License-Identifier: MIT */
/*
 * blockdev.h - which PCI function(s) a file's storage sits behind, for
 * "a buffer near this file": /sys/dev/block/MAJ:MIN -> the disk (a partition's
 * parent) -> its controller -> the PCI function.  NVMe multipath namespaces
 * (nvme-subsystem, no PCI parent) give every path's controller; stacked
 * devices (device-mapper, md) every member's.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#define BLOCKDEV_BDF_LEN 16 /* "0000:00:00.0" */
#define BLOCKDEV_MAX_FUNCS 16

/*
 * blockdev_of_fd() - the block device holding @fd's data (borrowed): the
 * device itself for a block device, else the filesystem's (st_dev).
 * Returns 0 and *ret_dev, -ENODEV when the file is on no block device
 * (tmpfs, a pipe, an anonymous st_dev such as btrfs subvolumes), or -errno.
 */
int blockdev_of_fd(int fd, dev_t *ret_dev);

/*
 * blockdev_pci_functions() - the PCI functions behind block device @dev, read
 * from @sysroot + "/sys" (@sysroot "" or NULL: this machine), deduplicated, in
 * path order, at most @max of them into @ret_bdfs.
 * Returns how many (> 0), -ENODEV when none is found (a virtual device, or a
 * controller not on PCI), -EINVAL for bad arguments, or -errno.
 */
int blockdev_pci_functions(const char *sysroot, dev_t dev, char (*ret_bdfs)[BLOCKDEV_BDF_LEN],
			   int max);
