/* SPDX-License-Identifier: MIT */
/*
 * sysattr.h - the one bounded reader of small sysfs/procfs text files
 * (attributes, /proc/cmdline, osrelease, cpuinfo) below a directory fd, and
 * the number parsers that go with it.  Every file is untrusted input: a
 * snapshot may hold anything (a FIFO, a huge file, NUL bytes).
 */
#ifndef P2P_CORE_SYSATTR_H
#define P2P_CORE_SYSATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum sysattr_flags {
	/* A file longer than the buffer is cut to its first size - 1 bytes
	 * (e.g. /proc/cpuinfo, whose head is all that is wanted) instead of
	 * refused with -EFBIG. */
	SYSATTR_PREFIX = 1 << 0,
	/* A sysfs attribute: the kernel formats it whole and hands it out in
	 * one read, so a read shorter than asked is the end of the file (one
	 * read() per attribute instead of two).  Not for procfs files that
	 * come a record at a time (cpuinfo). */
	SYSATTR_SYSFS = 1 << 1,
};

/*
 * sysattr_read() - read the text file @name below @dirfd into @buf
 * @size: the buffer's size, at least 1 (at most @size - 1 bytes of text)
 * @flags: SYSATTR_*
 *
 * Opens with O_NONBLOCK (a FIFO planted in a snapshot reads as empty instead
 * of blocking), reads until end of file (retrying EINTR), NUL-terminates and
 * strips trailing newlines, spaces and tabs.
 *
 * Return: the length of the text in @buf, or -errno: -ENOENT (and the
 * other openat() errors), -EFBIG when the file holds more than @size - 1
 * bytes (unless SYSATTR_PREFIX), -EINVAL when it contains a NUL byte or
 * @size is 0.  @buf is "" on every error.
 */
ssize_t sysattr_read(int dirfd, const char *name, char *buf, size_t size, unsigned flags);

/* Parse all of @s as an unsigned number (base 0: "0x10de", "017", "17") no
 * larger than @max.  Return: 0 with *@ret set, or -EINVAL. */
int sysattr_parse_ulong(const char *s, unsigned long max, unsigned long *ret);

/* sysattr_read(SYSATTR_SYSFS) + sysattr_parse_ulong().  Return: 0, -ENOENT (missing,
 * unreadable or empty) or -EINVAL (not a number, or over @max). */
int sysattr_read_ulong(int dirfd, const char *name, unsigned long max, unsigned long *ret);

/* A signed number (base 0) in [@min, @max].  Return: 0, -ENOENT or -EINVAL. */
int sysattr_read_long(int dirfd, const char *name, long min, long max, long *ret);

/* The last path component of the symlink @name's target (dangling links are
 * fine, trailing slashes dropped).  Return: its length, or -errno
 * (-ENAMETOOLONG when it does not fit @size). */
ssize_t sysattr_read_link_base(int dirfd, const char *name, char *buf, size_t size);

/* @rootfd is this machine's "/" (not a snapshot or another --fsroot). */
bool sysattr_is_real_root(int rootfd);

/* sys/ below @rootfd is a sysfs mount (not a snapshot's copy of one). */
bool sysattr_is_live_sysfs(int rootfd);

#endif
