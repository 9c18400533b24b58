// SPDX-License-Identifier: MIT
/*
 * snapshot.c - a tar writer for sysfs snapshots.  sysfs reports every regular
 * file as 4096 bytes, so each file is read first and its real length written.
 */
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel.h"
#include "topo.h"

#define SNAP_FILE_MAX 65536
#define SNAP_BIG_MAX (4 << 20) /* kernel configs: ~260 KiB plain, ~70 KiB gzip */
#define SNAP_DEPTH_MAX 64

/* Attribute files worth keeping in a PCI function's directory. */
static const char *const func_files[] = {
    "vendor",
    "device",
    "subsystem_vendor",
    "subsystem_device",
    "class",
    "revision",
    "numa_node",
    "local_cpulist",
    "local_cpus",
    "resource",
    "current_link_speed",
    "current_link_width",
    "max_link_speed",
    "max_link_width",
    "secondary_bus_number",
    "subordinate_bus_number",
    "config",
    "enable",
    "irq",
    "label",
    "modalias",
    "driver_override",
    "sriov_numvfs",
    "sriov_totalvfs",
    NULL,
};
static const char *const func_links[] = {"driver", "iommu_group", "firmware_node", "physfn", NULL};
/* The p2pdma provider attributes (drivers/pci/p2pdma.c, p2pmem_group); the
 * "allocate" binary attribute is an mmap interface, not data. */
static const char *const p2pmem_files[] = {"size", "available", "published", NULL};

struct snap {
	int outfd;
	struct snapshot_stats st;
	char *err;
	size_t errlen;
};

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Zero-padded octal in @width - 1 digits plus NUL (tar numeric fields). */
static void octal(char *dst, size_t width, unsigned long long v)
{
	dst[width - 1] = '\0';
	for (size_t i = width - 1; i-- > 0; v >>= 3)
		dst[i] = (char)('0' + (v & 7));
}

static int put_header(struct snap *s, const char *name, char type, unsigned mode,
		      unsigned long long size, const char *link);

/* GNU long name/link record ('L' or 'K') followed by the name's blocks. */
static int put_long(struct snap *s, char type, const char *str)
{
	size_t len = strlen(str) + 1;
	int r = put_header(s, "././@LongLink", type, 0644, len, NULL);
	if (r < 0)
		return r;
	char block[512];
	for (size_t off = 0; off < len; off += 512) {
		memset(block, 0, sizeof(block));
		memcpy(block, str + off, len - off < 512 ? len - off : 512);
		r = write_all(s->outfd, block, sizeof(block));
		if (r < 0)
			return r;
	}
	return 0;
}

static int put_header(struct snap *s, const char *name, char type, unsigned mode,
		      unsigned long long size, const char *link)
{
	char h[512];
	int r;
	if (strlen(name) >= 100 && type != 'L' && type != 'K' && (r = put_long(s, 'L', name)) < 0)
		return r;
	if (link && strlen(link) >= 100 && (r = put_long(s, 'K', link)) < 0)
		return r;
	memset(h, 0, sizeof(h));
	memcpy(h, name, strnlen(name, 99));
	octal(h + 100, 8, mode);
	octal(h + 108, 8, 0);
	octal(h + 116, 8, 0);
	octal(h + 124, 12, size);
	octal(h + 136, 12, 0);
	h[156] = type;
	if (link)
		memcpy(h + 157, link, strnlen(link, 99));
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	return write_all(s->outfd, h, sizeof(h));
}

static int put_file(struct snap *s, int dirfd, const char *file, const char *path)
{
	int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return 0; /* absent or unreadable: a snapshot of what can be read */
	static char buf[SNAP_FILE_MAX];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n < 0)
		return 0;
	int r = put_header(s, path, '0', 0444, (unsigned long long)n, NULL);
	if (r < 0)
		return r;
	size_t padded = ((size_t)n + 511) & ~(size_t)511;
	memset(buf + n, 0, padded - (size_t)n);
	r = write_all(s->outfd, buf, padded);
	if (r < 0)
		return r;
	s->st.files++;
	s->st.bytes += n;
	return 0;
}

/* A file that may exceed SNAP_FILE_MAX (the kernel config), read to its end. */
static int put_big_file(struct snap *s, int dirfd, const char *file, const char *path)
{
	int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return 0;
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	int r = 0;
	while (buf) {
		if (len == cap) {
			char *nb = cap < SNAP_BIG_MAX ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				r = cap < SNAP_BIG_MAX ? -ENOMEM : -EFBIG;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				r = -errno;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	if (!buf)
		return -ENOMEM;
	if (r == 0) {
		r = put_header(s, path, '0', 0444, len, NULL);
		size_t padded = (len + 511) & ~(size_t)511;
		char *nb = r == 0 && padded > cap ? realloc(buf, padded) : buf;
		if (!nb) {
			r = -ENOMEM;
		} else {
			buf = nb;
			memset(buf + len, 0, padded - len);
			if (r == 0)
				r = write_all(s->outfd, buf, padded);
		}
		if (r == 0) {
			s->st.files++;
			s->st.bytes += (long long)len;
		}
	} else if (r != -ENOMEM) {
		r = 0; /* unreadable or too big: left out, as any unreadable file */
	}
	free(buf);
	return r;
}

static int put_link(struct snap *s, int dirfd, const char *file, const char *path)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(dirfd, file, target, sizeof(target) - 1);
	if (n < 0)
		return 0;
	target[n] = '\0';
	int r = put_header(s, path, '2', 0777, 0, target);
	if (r == 0)
		s->st.links++;
	return r;
}

static int put_dir(struct snap *s, const char *path)
{
	int r = put_header(s, path, '5', 0755, 0, NULL);
	if (r == 0)
		s->st.dirs++;
	return r;
}

static bool is_bdf(const char *name)
{
	uint32_t d;
	uint8_t b, v, f;
	return topo_parse_bdf(name, &d, &b, &v, &f) == 0 && strchr(name, ':') != strrchr(name, ':');
}

/* A function (or root bus) directory: its attributes, then child functions,
 * nested root buses, and drm/ nodes. */
static int walk(struct snap *s, int dirfd, const char *path, bool is_func, int depth)
{
	int r = put_dir(s, path);
	if (r < 0 || depth > SNAP_DEPTH_MAX)
		return r;
	char sub[PATH_MAX];
	if (is_func) {
		for (int i = 0; func_files[i] && r >= 0; i++) {
			snprintf(sub, sizeof(sub), "%s/%s", path, func_files[i]);
			r = put_file(s, dirfd, func_files[i], sub);
		}
		for (int i = 0; func_links[i] && r >= 0; i++) {
			snprintf(sub, sizeof(sub), "%s/%s", path, func_links[i]);
			r = put_link(s, dirfd, func_links[i], sub);
		}
		int pfd = openat(dirfd, "p2pmem", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (pfd >= 0) {
			snprintf(sub, sizeof(sub), "%s/p2pmem", path);
			if (r >= 0)
				r = put_dir(s, sub);
			for (int i = 0; p2pmem_files[i] && r >= 0; i++) {
				snprintf(sub, sizeof(sub), "%s/p2pmem/%s", path, p2pmem_files[i]);
				r = put_file(s, pfd, p2pmem_files[i], sub);
			}
			close(pfd);
		}
	}
	int dfd = dup(dirfd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return r;
	}
	struct dirent *de;
	while (r >= 0 && (de = readdir(d))) {
		bool child_func = is_bdf(de->d_name);
		bool child_hb =
		    !child_func && !strncmp(de->d_name, "pci", 3) && strchr(de->d_name, ':');
		bool drm = is_func && !strcmp(de->d_name, "drm");
		if (!child_func && !child_hb && !drm)
			continue;
		int cfd =
		    openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) < sizeof(sub)) {
			if (drm)
				r = put_dir(s, sub); /* cardN dirs: the class links point here */
			else
				r = walk(s, cfd, sub, child_func, depth + 1);
			if (drm && r >= 0) {
				DIR *dd = fdopendir(dup(cfd));
				struct dirent *e;
				char sub2[PATH_MAX];
				while (dd && r >= 0 && (e = readdir(dd)))
					if (e->d_name[0] != '.' &&
					    (size_t)snprintf(sub2, sizeof(sub2), "%s/%s", sub,
							     e->d_name) < sizeof(sub2))
						r = put_dir(s, sub2);
				if (dd)
					closedir(dd);
			}
		}
		close(cfd);
	}
	closedir(d);
	return r;
}

/* A flat directory of links (bus/pci/devices, class/drm), links kept as links. */
static int links_of(struct snap *s, int rootfd, const char *rel)
{
	DIR *d;
	if (topo_opendir(rootfd, rel, &d) <= 0)
		return 0; /* absent or unreadable: a snapshot of what can be read */
	int dfd = dirfd(d);
	int r = put_dir(s, rel);
	char sub[PATH_MAX];
	struct dirent *de;
	while (r >= 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", rel, de->d_name);
		r = put_link(s, dfd, de->d_name, sub);
	}
	closedir(d);
	return r;
}

/* The kernel's facts (kernel.h): release, command line, and its config. */
static int put_kernel(struct snap *s, int rootfd)
{
	char release[RULES_RELEASE_LEN + 1] = "";
	int r = put_dir(s, "proc/sys");
	if (r >= 0)
		r = put_dir(s, "proc/sys/kernel");
	if (r >= 0)
		r = put_file(s, rootfd, "proc/sys/kernel/osrelease", "proc/sys/kernel/osrelease");
	if (r >= 0)
		r = put_file(s, rootfd, "proc/cmdline", "proc/cmdline");
	if (r < 0)
		return r;
	struct kernel_facts k;
	kernel_read(rootfd, NULL, &k); /* the release (uname on the live root) */
	snprintf(release, sizeof(release), "%s", k.rules.release);
	if (faccessat(rootfd, "proc/config.gz", R_OK, 0) == 0)
		return put_big_file(s, rootfd, "proc/config.gz", "proc/config.gz");
	char rel[RULES_RELEASE_LEN + 16];
	snprintf(rel, sizeof(rel), "boot/config-%s", release);
	if (!release[0] || faccessat(rootfd, rel, R_OK, 0) < 0)
		return 0;
	r = put_dir(s, "boot");
	return r < 0 ? r : put_big_file(s, rootfd, rel, rel);
}

int snapshot_write(int rootfd, int outfd, struct snapshot_stats *ret_stats, char *err,
		   size_t errlen)
{
	struct snap s = {.outfd = outfd, .err = err, .errlen = errlen};
	int r = 0;
	int dfd = openat(rootfd, "sys/devices", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open sys/devices: %s", strerror(errno));
		return r;
	}
	const char *const parents[] = {"sys",	      "sys/bus",   "sys/bus/pci",
				       "sys/devices", "sys/class", "proc"};
	for (size_t i = 0; i < sizeof(parents) / sizeof(parents[0]) && r >= 0; i++)
		r = put_dir(&s, parents[i]);
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -ENOMEM;
	}
	struct dirent *de;
	char path[PATH_MAX];
	while (r >= 0 && (de = readdir(d))) {
		if (strncmp(de->d_name, "pci", 3) || !strchr(de->d_name, ':'))
			continue;
		int hfd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (hfd < 0)
			continue;
		snprintf(path, sizeof(path), "sys/devices/%s", de->d_name);
		r = walk(&s, hfd, path, false, 0);
		close(hfd);
	}
	closedir(d);
	if (r >= 0)
		r = links_of(&s, rootfd, "sys/bus/pci/devices");
	if (r >= 0)
		r = links_of(&s, rootfd, "sys/class/drm");
	if (r >= 0)
		r = put_file(&s, rootfd, "proc/cpuinfo", "proc/cpuinfo");
	if (r >= 0)
		r = put_kernel(&s, rootfd);
	if (r >= 0) {
		static const char zero[1024];
		r = write_all(outfd, zero, sizeof(zero));
	}
	if (r < 0) {
		snprintf(err, errlen, "writing the archive: %s", strerror(-r));
		return r;
	}
	if (ret_stats)
		*ret_stats = s.st;
	return 0;
}
