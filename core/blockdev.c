/* SPDX-License-Identifier: MIT */
/*
 * blockdev.c - a block device's PCI functions (see blockdev.h), from sysfs:
 *   /sys/dev/block/MAJ:MIN -> .../0000:03:00.0/nvme/nvme0/nvme0n1[/nvme0n1p1]
 * The deepest path component that is a PCI address is the function.  A
 * native-multipath NVMe namespace lives under /sys/devices/virtual/
 * nvme-subsystem/ and lists its paths in DISK/multipath/; a device-mapper or
 * md device lists its members in DEV/slaves/.  Both are followed (bounded).
 */
#include "blockdev.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define BLOCKDEV_MAX_DEPTH 4

struct blockdev_walk {
	const char *root;
	char (*bdfs)[BLOCKDEV_BDF_LEN];
	int n, max;
};

int blockdev_of_fd(int fd, dev_t *ret_dev)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		*ret_dev = st.st_rdev;
		return 0;
	}
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return -ENODEV;
	if (major(st.st_dev) == 0) /* tmpfs, overlay, btrfs subvolume: no disk */
		return -ENODEV;
	*ret_dev = st.st_dev;
	return 0;
}

/* "dddd:bb:dd.f" */
static bool blockdev_is_bdf(const char *s, size_t n)
{
	static const char shape[] = "xxxx:xx:xx.x";

	if (n != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');

		if (shape[i] == 'x' ? !hex : s[i] != shape[i])
			return false;
	}
	return true;
}

static void blockdev_add(struct blockdev_walk *w, const char *bdf)
{
	for (int i = 0; i < w->n; i++)
		if (!strcmp(w->bdfs[i], bdf))
			return;
	if (w->n < w->max)
		snprintf(w->bdfs[w->n++], BLOCKDEV_BDF_LEN, "%s", bdf);
}

/* The deepest PCI address in @real (a resolved sysfs path), or NULL. */
static const char *blockdev_pci_in(const char *real, char *out)
{
	const char *p = real, *found = NULL;

	while (p && *p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (blockdev_is_bdf(p, n))
			found = p;
		p = slash ? slash + 1 : NULL;
	}
	if (!found)
		return NULL;
	memcpy(out, found, BLOCKDEV_BDF_LEN - 4);
	out[BLOCKDEV_BDF_LEN - 4] = 0;
	return out;
}

static void blockdev_walk_dev(struct blockdev_walk *w, const char *devpath, int depth);

/* Follow every entry of @dir (multipath/ or slaves/) as a block device. */
static void blockdev_walk_links(struct blockdev_walk *w, const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX];

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path))
			blockdev_walk_dev(w, path, depth + 1);
	}
	if (d)
		closedir(d);
}

/* @devpath: a sysfs path of a block device (a symlink is fine). */
static void blockdev_walk_dev(struct blockdev_walk *w, const char *devpath, int depth)
{
	char real[PATH_MAX], sub[PATH_MAX + 16], bdf[BLOCKDEV_BDF_LEN];
	struct stat st;

	if (depth > BLOCKDEV_MAX_DEPTH || !realpath(devpath, real))
		return;
	if (blockdev_pci_in(real, bdf)) {
		blockdev_add(w, bdf);
		return;
	}
	/* A partition: its disk is the parent directory. */
	snprintf(sub, sizeof(sub), "%s/partition", real);
	if (stat(sub, &st) == 0) {
		char *slash = strrchr(real, '/');

		if (slash)
			*slash = 0;
	}
	snprintf(sub, sizeof(sub), "%s/multipath", real);
	blockdev_walk_links(w, sub, depth);
	snprintf(sub, sizeof(sub), "%s/slaves", real);
	blockdev_walk_links(w, sub, depth);
}

int blockdev_pci_functions(const char *sysroot, dev_t dev, char (*ret_bdfs)[BLOCKDEV_BDF_LEN],
			   int max)
{
	struct blockdev_walk w = {.root = sysroot ? sysroot : "", .bdfs = ret_bdfs, .max = max};
	char path[PATH_MAX];
	struct stat st;

	if (!ret_bdfs || max <= 0)
		return -EINVAL;
	if (snprintf(path, sizeof(path), "%s/sys/dev/block/%u:%u", w.root, major(dev),
		     minor(dev)) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	blockdev_walk_dev(&w, path, 0);
	return w.n ? w.n : -ENODEV;
}
