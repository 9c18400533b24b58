/* SPDX-License-Identifier: MIT */
/*
 * test-sysattr.c - core/sysattr.c, the one bounded reader of small
 * sysfs/procfs files: whole files only (a file longer than the buffer is
 * -EFBIG unless a prefix is asked for), missing files, NUL termination of
 * text that has none, embedded NUL bytes refused, EINTR and short reads
 * retried, FIFOs never block, and the number/link helpers on top.
 *
 * read() is interposed below (the test binary's definition wins over libc's
 * for libp2pcore.a's calls) to inject EINTR and one-byte reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "sysattr.h"

static int inject_eintr;  /* this many read() calls fail with EINTR first */
static bool inject_short; /* every read() returns at most one byte */
static int read_calls;

ssize_t read(int fd, void *buf, size_t len);
ssize_t read(int fd, void *buf, size_t len)
{
	read_calls++;
	if (inject_eintr > 0) {
		inject_eintr--;
		errno = EINTR;
		return -1;
	}
	if (inject_short && len > 1)
		len = 1;
	return syscall(SYS_read, fd, buf, len);
}

struct fix {
	char dir[40];
	int dfd;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/p2p-sysattr-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	inject_eintr = 0;
	inject_short = false;
	read_calls = 0;
	*state = f;
	return f->dfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	char cmd[80];

	close(f->dfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void put(struct fix *f, const char *name, const void *data, size_t len)
{
	int fd = openat(f->dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void test_text(void **state)
{
	struct fix *f = *state;
	char buf[64];

	put(f, "vendor", "0x10de\n", 7);
	assert_int_equal(sysattr_read(f->dfd, "vendor", buf, sizeof(buf), 0), 6);
	assert_string_equal(buf, "0x10de");
	/* trailing newlines, spaces and tabs go; leading and inner ones stay */
	put(f, "speed", " 8.0 GT/s PCIe \t\n\n", 18);
	assert_int_equal(sysattr_read(f->dfd, "speed", buf, sizeof(buf), 0), 14);
	assert_string_equal(buf, " 8.0 GT/s PCIe");
	put(f, "empty", "", 0);
	assert_int_equal(sysattr_read(f->dfd, "empty", buf, sizeof(buf), 0), 0);
	assert_string_equal(buf, "");
}

static void test_missing(void **state)
{
	struct fix *f = *state;
	char buf[16];

	memcpy(buf, "stale", 6);
	assert_int_equal(sysattr_read(f->dfd, "nope", buf, sizeof(buf), 0), -ENOENT);
	assert_string_equal(buf, "");
	assert_int_equal(sysattr_read(f->dfd, "a/b", buf, sizeof(buf), 0), -ENOENT);
	/* a directory is not a text file */
	assert_int_equal(mkdirat(f->dfd, "d", 0755), 0);
	assert_int_equal(sysattr_read(f->dfd, "d", buf, sizeof(buf), 0), -EISDIR);
	assert_int_equal(sysattr_read(f->dfd, "d", buf, 0, 0), -EINVAL);
}

static void test_too_big(void **state)
{
	struct fix *f = *state;
	char big[200], buf[64];

	memset(big, 'x', sizeof(big));
	/* exactly size - 1 bytes fit */
	put(f, "fits", big, sizeof(buf) - 1);
	assert_int_equal(sysattr_read(f->dfd, "fits", buf, sizeof(buf), 0), 63);
	assert_int_equal(strlen(buf), 63);
	/* one more is refused, not cut */
	put(f, "over", big, sizeof(buf));
	assert_int_equal(sysattr_read(f->dfd, "over", buf, sizeof(buf), 0), -EFBIG);
	assert_string_equal(buf, "");
	put(f, "big", big, sizeof(big));
	assert_int_equal(sysattr_read(f->dfd, "big", buf, sizeof(buf), 0), -EFBIG);
	/* unless the caller wants the head only (cpuinfo) */
	assert_int_equal(sysattr_read(f->dfd, "big", buf, sizeof(buf), SYSATTR_PREFIX), 63);
	assert_int_equal(strlen(buf), 63);
	/* a one-byte buffer holds "" and nothing more */
	assert_int_equal(sysattr_read(f->dfd, "big", buf, 1, 0), -EFBIG);
	put(f, "one", "\n", 1);
	assert_int_equal(sysattr_read(f->dfd, "one", buf, 2, 0), 0);
}

static void test_nul_termination(void **state)
{
	struct fix *f = *state;
	char buf[16];

	/* no newline, no NUL in the file: the reader terminates the text */
	put(f, "raw", "abc", 3);
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(sysattr_read(f->dfd, "raw", buf, sizeof(buf), 0), 3);
	assert_memory_equal(buf, "abc", 4);
	/* a NUL inside would silently cut the text: refused */
	put(f, "nul", "ab\0cd\n", 6);
	assert_int_equal(sysattr_read(f->dfd, "nul", buf, sizeof(buf), 0), -EINVAL);
	assert_string_equal(buf, "");
	put(f, "nulend", "abcd\0", 5);
	assert_int_equal(sysattr_read(f->dfd, "nulend", buf, sizeof(buf), 0), -EINVAL);
}

static void test_eintr_and_short_reads(void **state)
{
	struct fix *f = *state;
	char buf[64];

	put(f, "a", "0000:03:00.0\n", 13);
	inject_eintr = 3;
	assert_int_equal(sysattr_read(f->dfd, "a", buf, sizeof(buf), 0), 12);
	assert_string_equal(buf, "0000:03:00.0");
	assert_int_equal(inject_eintr, 0);
	/* procfs hands out a record per read: all of them are read */
	inject_short = true;
	read_calls = 0;
	assert_int_equal(sysattr_read(f->dfd, "a", buf, sizeof(buf), 0), 12);
	assert_string_equal(buf, "0000:03:00.0");
	assert_true(read_calls >= 13);
	/* and the size check still sees a byte too many */
	put(f, "b", "0123456789", 10);
	inject_eintr = 1;
	assert_int_equal(sysattr_read(f->dfd, "b", buf, 10, 0), -EFBIG);
	inject_eintr = 2;
	assert_int_equal(sysattr_read(f->dfd, "b", buf, 11, 0), 10);
	assert_string_equal(buf, "0123456789");
}

/* A sysfs attribute comes whole in one read: a short read is its end, so one
 * read() per attribute (the EOF read saved on every file of every function),
 * EINTR still retried, a file that fills the buffer still checked for more. */
static void test_sysfs_one_read(void **state)
{
	struct fix *f = *state;
	char buf[64];

	put(f, "numa_node", "1\n", 2);
	read_calls = 0;
	assert_int_equal(sysattr_read(f->dfd, "numa_node", buf, sizeof(buf), SYSATTR_SYSFS), 1);
	assert_string_equal(buf, "1");
	assert_int_equal(read_calls, 1);
	read_calls = 0;
	assert_int_equal(sysattr_read(f->dfd, "numa_node", buf, sizeof(buf), 0), 1);
	assert_int_equal(read_calls, 2); /* without the flag: read to EOF */
	/* the number helpers read attributes */
	long l = 0;
	read_calls = 0;
	assert_int_equal(sysattr_read_long(f->dfd, "numa_node", -1, 4095, &l), 0);
	assert_int_equal(l, 1);
	assert_int_equal(read_calls, 1);
	inject_eintr = 2;
	read_calls = 0;
	assert_int_equal(sysattr_read(f->dfd, "numa_node", buf, sizeof(buf), SYSATTR_SYSFS), 1);
	assert_int_equal(read_calls, 3);
	put(f, "b", "0123456789", 10);
	assert_int_equal(sysattr_read(f->dfd, "b", buf, 10, SYSATTR_SYSFS), -EFBIG);
	assert_int_equal(sysattr_read(f->dfd, "b", buf, 11, SYSATTR_SYSFS), 10);
	/* a FIFO with a writer but no more data yet: the first read's bytes
	 * are the attribute, where a procfs-style read would hit EAGAIN */
	assert_int_equal(mkfifoat(f->dfd, "fifo", 0600), 0);
	int r = openat(f->dfd, "fifo", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	int w = openat(f->dfd, "fifo", O_WRONLY | O_CLOEXEC);
	assert_true(r >= 0 && w >= 0);
	assert_int_equal(write(w, "12\n", 3), 3);
	assert_int_equal(sysattr_read(f->dfd, "fifo", buf, sizeof(buf), SYSATTR_SYSFS), 2);
	assert_string_equal(buf, "12");
	assert_int_equal(write(w, "12\n", 3), 3);
	assert_int_equal(sysattr_read(f->dfd, "fifo", buf, sizeof(buf), 0), -EAGAIN);
	close(w);
	close(r);
}

static void test_fifo_does_not_block(void **state)
{
	struct fix *f = *state;
	char buf[16];

	assert_int_equal(mkfifoat(f->dfd, "fifo", 0600), 0);
	assert_int_equal(sysattr_read(f->dfd, "fifo", buf, sizeof(buf), 0), 0);
	assert_string_equal(buf, "");
}

static void test_numbers(void **state)
{
	struct fix *f = *state;
	unsigned long u = 7;
	long l = 7;

	put(f, "vendor", "0x10de\n", 7);
	assert_int_equal(sysattr_read_ulong(f->dfd, "vendor", 0xffff, &u), 0);
	assert_int_equal(u, 0x10de);
	assert_int_equal(sysattr_read_ulong(f->dfd, "vendor", 0xfff, &u), -EINVAL);
	put(f, "neg", "-1\n", 3);
	assert_int_equal(sysattr_read_ulong(f->dfd, "neg", 0xffff, &u), -EINVAL);
	assert_int_equal(sysattr_read_long(f->dfd, "neg", -1, 4095, &l), 0);
	assert_int_equal(l, -1);
	assert_int_equal(sysattr_read_long(f->dfd, "neg", 0, 4095, &l), -EINVAL);
	put(f, "junk", "12abc\n", 6);
	assert_int_equal(sysattr_read_ulong(f->dfd, "junk", ~0UL, &u), -EINVAL);
	assert_int_equal(sysattr_read_long(f->dfd, "junk", 0, 100, &l), -EINVAL);
	put(f, "empty", "\n", 1);
	assert_int_equal(sysattr_read_ulong(f->dfd, "empty", ~0UL, &u), -ENOENT);
	assert_int_equal(sysattr_read_long(f->dfd, "empty", 0, 100, &l), -ENOENT);
	assert_int_equal(sysattr_read_long(f->dfd, "missing", 0, 100, &l), -ENOENT);
	/* a number longer than the helpers' buffer is refused, not cut to a prefix */
	put(f, "long", "1000000000000000000000000000000000000000000000000000000000000000001", 67);
	assert_int_equal(sysattr_read_ulong(f->dfd, "long", ~0UL, &u), -ENOENT);
	assert_int_equal(u, 0x10de);
	assert_int_equal(sysattr_parse_ulong("", 10, &u), -EINVAL);
	assert_int_equal(sysattr_parse_ulong("010", 10, &u), 0);
	assert_int_equal(u, 8);
	assert_int_equal(sysattr_parse_ulong("99999999999999999999999", ~0UL, &u), -EINVAL);
}

static void test_link_base(void **state)
{
	struct fix *f = *state;
	char buf[16];

	assert_int_equal(symlinkat("../../../bus/pci/drivers/nvme/", f->dfd, "driver"), 0);
	assert_int_equal(sysattr_read_link_base(f->dfd, "driver", buf, sizeof(buf)), 4);
	assert_string_equal(buf, "nvme");
	assert_int_equal(sysattr_read_link_base(f->dfd, "driver", buf, 4), -ENAMETOOLONG);
	assert_int_equal(symlinkat("17", f->dfd, "group"), 0);
	assert_int_equal(sysattr_read_link_base(f->dfd, "group", buf, sizeof(buf)), 2);
	assert_string_equal(buf, "17");
	put(f, "plain", "x", 1);
	assert_int_equal(sysattr_read_link_base(f->dfd, "plain", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(sysattr_read_link_base(f->dfd, "none", buf, sizeof(buf)), -ENOENT);
}

/* What kind of root a directory fd is: this machine's "/", or a copy (the
 * fixture's temporary directory, with a plain sys/ of its own). */
static void test_root_kind(void **state)
{
	struct fix *f = *state;
	int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;

	assert_true(root >= 0);
	assert_true(sysattr_is_real_root(root));
	assert_false(sysattr_is_real_root(f->dfd));
	assert_int_equal(mkdirat(f->dfd, "sys", 0755), 0);
	assert_false(sysattr_is_live_sysfs(f->dfd));
	/* "/" has a live sysfs wherever /sys/devices is there to read */
	if (stat("/sys/devices", &st) == 0)
		assert_true(sysattr_is_live_sysfs(root));
	close(root);
	assert_int_equal(unlinkat(f->dfd, "sys", AT_REMOVEDIR), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_text, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nul_termination, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eintr_and_short_reads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sysfs_one_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fifo_does_not_block, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_numbers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_link_base, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_root_kind, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
