// SPDX-License-Identifier: MIT
/*
 * sysattr.c - the bounded small-file reader (see sysattr.h).
 */
#include "sysattr.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

static ssize_t read_retry(int fd, char *buf, size_t len)
{
	ssize_t n;
	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

ssize_t sysattr_read(int dirfd, const char *name, char *buf, size_t size, unsigned flags)
{
	if (size == 0)
		return -EINVAL;
	buf[0] = '\0';
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	size_t len = 0;
	ssize_t n = 0;
	/* procfs and seq_file hand out a page or a record per read: read to the end. */
	while (len < size - 1 && (n = read_retry(fd, buf + len, size - 1 - len)) > 0) {
		len += (size_t)n;
		if ((flags & SYSATTR_SYSFS) && len < size - 1)
			break; /* a short read of an attribute is all of it */
	}
	if (n >= 0 && len == size - 1 && !(flags & SYSATTR_PREFIX)) {
		char more;
		n = read_retry(fd, &more, 1);
		if (n > 0)
			n = -EFBIG;
	}
	close(fd);
	if (n >= 0 && memchr(buf, '\0', len))
		n = -EINVAL;
	if (n < 0) {
		buf[0] = '\0';
		return n;
	}
	buf[len] = '\0';
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		buf[--len] = '\0';
	return (ssize_t)len;
}

int sysattr_parse_ulong(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;
	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (errno || end == s || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

int sysattr_read_ulong(int dirfd, const char *name, unsigned long max, unsigned long *ret)
{
	char buf[64];
	if (sysattr_read(dirfd, name, buf, sizeof(buf), SYSATTR_SYSFS) <= 0)
		return -ENOENT;
	return sysattr_parse_ulong(buf, max, ret);
}

int sysattr_read_long(int dirfd, const char *name, long min, long max, long *ret)
{
	char buf[64], *end;
	if (sysattr_read(dirfd, name, buf, sizeof(buf), SYSATTR_SYSFS) <= 0)
		return -ENOENT;
	errno = 0;
	long v = strtol(buf, &end, 0);
	if (errno || end == buf || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

ssize_t sysattr_read_link_base(int dirfd, const char *name, char *buf, size_t size)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	while (n > 1 && target[n - 1] == '/')
		target[--n] = '\0';
	const char *base = strrchr(target, '/');
	base = base ? base + 1 : target;
	size_t len = strlen(base);
	if (len == 0 || len >= size)
		return -ENAMETOOLONG;
	memcpy(buf, base, len + 1);
	return (ssize_t)len;
}

bool sysattr_is_real_root(int rootfd)
{
	struct stat a, b;
	return fstat(rootfd, &a) == 0 && stat("/", &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

bool sysattr_is_live_sysfs(int rootfd)
{
	struct statfs sfs;
	int fd = openat(rootfd, "sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool live = fstatfs(fd, &sfs) == 0 && sfs.f_type == SYSFS_MAGIC;
	close(fd);
	return live;
}
