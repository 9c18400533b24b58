/* SPDX-License-Identifier: MIT */
/*
 * test-blockdev.c - a block device's PCI functions (core/blockdev.c) on
 * sysfs trees made here: an NVMe namespace and its partition, a native
 * multipath namespace with two controllers, a device-mapper device on two
 * disks, a virtual device (none), and a missing device.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "blockdev.h"

static char root[PATH_MAX];

static void mk(const char *rel)
{
	char path[PATH_MAX * 2], *p;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = 0;
		mkdir(path, 0755);
		*p = '/';
	}
	mkdir(path, 0755);
}

static void touch(const char *rel)
{
	char path[PATH_MAX * 2];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

/* A symlink at @rel pointing to the absolute @target under root. */
static void link_to(const char *rel, const char *target)
{
	char path[PATH_MAX * 2], tgt[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(tgt, sizeof(tgt), "%s/%s", root, target);
	assert_int_equal(symlink(tgt, path), 0);
}

#define NVME0                                                                                      \
	"sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:02.0/0000:05:00.0/nvme/nvme0"
#define NVME1 "sys/devices/pci0000:40/0000:40:00.0/0000:41:00.0/nvme/nvme1"
#define SUBSYS "sys/devices/virtual/nvme-subsystem/nvme-subsys2"

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/test-blockdev-XXXXXX");
	assert_non_null(mkdtemp(root));
	mk("sys/dev/block");
	/* nvme0n1 and its partition nvme0n1p1 */
	mk(NVME0 "/nvme0n1/nvme0n1p1");
	touch(NVME0 "/nvme0n1/nvme0n1p1/partition");
	link_to("sys/dev/block/259:0", NVME0 "/nvme0n1");
	link_to("sys/dev/block/259:1", NVME0 "/nvme0n1/nvme0n1p1");
	/* multipath namespace nvme2n1 (paths nvme0c0n1, nvme1c1n1), partition p1 */
	mk(NVME0 "/nvme0c0n1");
	mk(NVME1 "/nvme1c1n1");
	mk(SUBSYS "/nvme2n1/multipath");
	mk(SUBSYS "/nvme2n1/nvme2n1p1");
	touch(SUBSYS "/nvme2n1/nvme2n1p1/partition");
	link_to(SUBSYS "/nvme2n1/multipath/nvme0c0n1", NVME0 "/nvme0c0n1");
	link_to(SUBSYS "/nvme2n1/multipath/nvme1c1n1", NVME1 "/nvme1c1n1");
	link_to("sys/dev/block/259:5", SUBSYS "/nvme2n1");
	link_to("sys/dev/block/259:6", SUBSYS "/nvme2n1/nvme2n1p1");
	/* dm-0 on nvme0n1p1 and the multipath namespace */
	mk("sys/devices/virtual/block/dm-0/slaves");
	link_to("sys/devices/virtual/block/dm-0/slaves/nvme0n1p1", NVME0 "/nvme0n1/nvme0n1p1");
	link_to("sys/devices/virtual/block/dm-0/slaves/nvme2n1", SUBSYS "/nvme2n1");
	link_to("sys/dev/block/254:0", "sys/devices/virtual/block/dm-0");
	/* loop0: virtual, nothing behind it */
	mk("sys/devices/virtual/block/loop0");
	link_to("sys/dev/block/7:0", "sys/devices/virtual/block/loop0");
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_disk_and_partition(void **state)
{
	char b[BLOCKDEV_MAX_FUNCS][BLOCKDEV_BDF_LEN];

	(void)state;
	assert_int_equal(blockdev_pci_functions(root, makedev(259, 0), b, BLOCKDEV_MAX_FUNCS), 1);
	assert_string_equal(b[0], "0000:05:00.0");
	assert_int_equal(blockdev_pci_functions(root, makedev(259, 1), b, BLOCKDEV_MAX_FUNCS), 1);
	assert_string_equal(b[0], "0000:05:00.0");
}

static void test_multipath(void **state)
{
	char b[BLOCKDEV_MAX_FUNCS][BLOCKDEV_BDF_LEN];
	int n;

	(void)state;
	for (unsigned mi = 5; mi <= 6; mi++) {
		n = blockdev_pci_functions(root, makedev(259, mi), b, BLOCKDEV_MAX_FUNCS);
		assert_int_equal(n, 2);
		assert_true((!strcmp(b[0], "0000:05:00.0") && !strcmp(b[1], "0000:41:00.0")) ||
			    (!strcmp(b[1], "0000:05:00.0") && !strcmp(b[0], "0000:41:00.0")));
	}
	/* room for one: one, no overflow */
	assert_int_equal(blockdev_pci_functions(root, makedev(259, 5), b, 1), 1);
}

static void test_stacked(void **state)
{
	char b[BLOCKDEV_MAX_FUNCS][BLOCKDEV_BDF_LEN];

	(void)state;
	/* dm-0: nvme0n1p1 (05:00.0) and the multipath namespace (05:00.0 again, 41:00.0) */
	assert_int_equal(blockdev_pci_functions(root, makedev(254, 0), b, BLOCKDEV_MAX_FUNCS), 2);
}

static void test_none(void **state)
{
	char b[BLOCKDEV_MAX_FUNCS][BLOCKDEV_BDF_LEN];

	(void)state;
	assert_int_equal(blockdev_pci_functions(root, makedev(7, 0), b, BLOCKDEV_MAX_FUNCS),
			 -ENODEV);
	assert_int_equal(blockdev_pci_functions(root, makedev(8, 99), b, BLOCKDEV_MAX_FUNCS),
			 -ENODEV);
	assert_int_equal(blockdev_pci_functions(root, makedev(259, 0), NULL, 4), -EINVAL);
	assert_int_equal(blockdev_pci_functions(root, makedev(259, 0), b, 0), -EINVAL);
}

static void test_of_fd(void **state)
{
	int p[2];
	dev_t d;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(blockdev_of_fd(p[0], &d), -ENODEV);
	close(p[0]);
	close(p[1]);
	assert_int_equal(blockdev_of_fd(-1, &d), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_disk_and_partition),
	    cmocka_unit_test(test_multipath),
	    cmocka_unit_test(test_stacked),
	    cmocka_unit_test(test_none),
	    cmocka_unit_test(test_of_fd),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
