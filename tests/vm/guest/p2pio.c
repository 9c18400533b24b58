// SPDX-License-Identifier: MIT
/*
 * p2pio - the P2P I/O scenarios (issue 10), run as root in the `max` guest
 * after p2pbtest, with p2pbroker.ko loaded and the ivshmem providers bound.
 *
 *   p2pio          kernel >= 6.2: p2p_io_read p2p_io_write p2p_io_refused p2p_io_revoke
 *                  p2p_io_pin_outlives p2p_io_unbind_pinned
 *                  kernel <  6.2: p2p_io_fallback
 *                  and /run/p2pio-devices (IV8, IV2X, NVME) for p2pio-ctl.sh
 *   p2pio crc DEV OFF LEN   the zlib CRC-32 of DEV's range (read O_DIRECT), as
 *                  p2pctl read/write print it
 *
 * The file is the raw NVMe namespace (/dev/nvme0n1): run-vm.sh fills its
 * backing image on the host with random bytes from 1 MiB on.  Buffers come
 * straight from /dev/p2pbroker; data moves with libp2pclient's
 * p2p_buffer_pread/pwrite.
 *
 * Host-side proof: "P2PVM: HOSTCHECK NAME ivshmem8 BAR_OFF nvme FILE_OFF LEN"
 * asks run-vm.sh's watcher to compare the 8 MiB ivshmem's memory-backend file
 * at BAR_OFF with the NVMe's backing file at FILE_OFF; the watcher writes its
 * verdict ("P2PVM-HOST-SAME\n" or "P2PVM-HOST-DIFF\n") over the first 16
 * bytes of that range of the ivshmem file, where the guest sees it through
 * the buffer's mapping.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/io_uring.h>
#include <linux/p2pbroker.h>

#include <zlib.h>

#include "p2pclient.h"

#define MIB (1024ULL * 1024ULL)
#define NVME_DEV "/dev/nvme0n1"

struct fn {
	char bdf[32];
	unsigned dom, bus, dev, func;
	uint64_t bar2;
	uint64_t bar2_size;
};

static int devfd = -1;
static struct fn iv8, iv2x, nvme;
static int n_fail;

struct sc {
	const char *name;
	bool failed;
	char why[512];
};

static void sc_fail(struct sc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sc_fail(struct sc *s, const char *fmt, ...)
{
	va_list ap;

	if (s->failed)
		return;
	s->failed = true;
	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
}

#define CHECK(s, cond, ...)                                                                        \
	do {                                                                                       \
		if (!(cond))                                                                       \
			sc_fail((s), __VA_ARGS__);                                                 \
	} while (0)

static void sc_end(struct sc *s)
{
	if (s->failed)
		n_fail++;
	printf("P2PVM: %s %s%s%s\n", s->failed ? "FAIL" : "PASS", s->name, s->failed ? ": " : "",
	       s->failed ? s->why : "");
	fflush(stdout);
}

static void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void info(const char *fmt, ...)
{
	va_list ap;

	printf("P2PVM: INFO ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static long long file_num(const char *path)
{
	char buf[64] = "";
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return buf[0] ? strtoll(buf, NULL, 0) : -1;
}

static long long sysfs_num(const char *bdf, const char *attr)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	return file_num(path);
}

/* Find the 8 MiB ivshmem (same switch as the NVMe), the 2 MiB one (other host
 * bridge) and the NVMe. */
static void scan(void)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		struct fn f = {0};
		char path[300];
		unsigned long long s = 0, en = 0, fl;
		FILE *r;

		if (sscanf(e->d_name, "%x:%x:%x.%x", &f.dom, &f.bus, &f.dev, &f.func) != 4)
			continue;
		if (strlen(e->d_name) >= sizeof(f.bdf))
			continue;
		memcpy(f.bdf, e->d_name, strlen(e->d_name) + 1);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", f.bdf);
		r = fopen(path, "re");
		for (int i = 0; r && i < 3; i++)
			if (fscanf(r, "%llx %llx %llx", &s, &en, &fl) != 3)
				s = en = 0;
		if (r)
			fclose(r);
		f.bar2 = s;
		f.bar2_size = en ? en - s + 1 : 0;
		if (sysfs_num(f.bdf, "class") == 0x010802)
			nvme = f;
		else if (sysfs_num(f.bdf, "vendor") == 0x1af4 &&
			 sysfs_num(f.bdf, "device") == 0x1110) {
			if (f.bar2_size == 8 * MIB)
				iv8 = f;
			else if (f.bar2_size == 2 * MIB)
				iv2x = f;
		}
	}
	if (d)
		closedir(d);
}

/* Bind @f to p2pbroker unless it already publishes p2p memory. */
static void bind_provider(const struct fn *f)
{
	char path[256];
	FILE *w;

	if (sysfs_num(f->bdf, "p2pmem/size") > 0)
		return;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", f->bdf);
	if ((w = fopen(path, "we"))) {
		fputs("p2pbroker", w);
		fclose(w);
	}
	if ((w = fopen("/sys/bus/pci/drivers_probe", "we"))) {
		fputs(f->bdf, w);
		fclose(w);
	}
}

static long long pool_available(const struct fn *f)
{
	return sysfs_num(f->bdf, "p2pmem/available");
}

static int alloc_p2p(const struct fn *prov, uint64_t size, uint64_t *ret_id)
{
	struct p2pb_alloc a = {
	    .size = size,
	    .provider = P2PB_BDF(prov->dom, prov->bus, (prov->dev << 3) | prov->func),
	    .type = P2PB_BUF_P2P,
	    .owner_uid = 4242,
	};

	if (ioctl(devfd, P2PB_IOC_ALLOC, &a) < 0)
		return -errno;
	if (ret_id)
		*ret_id = a.id;
	return a.fd;
}

static uint32_t buf_flags(int fd)
{
	struct p2pb_describe d = {.fd = fd};

	return ioctl(devfd, P2PB_IOC_DESCRIBE, &d) < 0 ? 0xffffffffu : d.info.flags;
}

/* Physical address of the page mapped at @p (/proc/self/pagemap), or 0. */
static uint64_t phys_of(const void *p)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	off_t off = (off_t)((uintptr_t)p / 4096 * 8);

	if (fd < 0)
		return 0;
	if (pread(fd, &e, 8, off) != 8)
		e = 0;
	close(fd);
	if (!(e & (1ULL << 63)))
		return 0;
	return (e & ((1ULL << 55) - 1)) * 4096;
}

/* Pages of NVME_DEV's page cache resident in [off, off + len). */
static long cached_pages(uint64_t off, size_t len)
{
	int fd = open(NVME_DEV, O_RDONLY | O_CLOEXEC);
	unsigned char vec[1024];
	long n = 0;
	void *m;

	if (fd < 0 || len / 4096 > sizeof(vec))
		return -1;
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)off);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	if (mincore(m, len, vec) < 0)
		n = -1;
	for (size_t i = 0; n >= 0 && i < len / 4096; i++)
		n += vec[i] & 1;
	munmap(m, len);
	return n;
}

/* Read [off, off + len) of the NVMe with O_DIRECT into host memory. */
static void *read_direct(uint64_t off, size_t len)
{
	int fd = open(NVME_DEV, O_RDONLY | O_DIRECT | O_CLOEXEC);
	void *p = NULL;

	if (fd >= 0 && posix_memalign(&p, 4096, len) == 0 &&
	    pread(fd, p, len, (off_t)off) != (ssize_t)len) {
		free(p);
		p = NULL;
	}
	if (fd >= 0)
		close(fd);
	return p;
}

/* Ask the host to compare; wait for its verdict in the buffer. */
static void host_check(struct sc *s, const char *name, volatile const char *map, uint64_t bar_off,
		       uint64_t file_off, size_t len)
{
	char got[17] = "";

	printf("P2PVM: HOSTCHECK %s ivshmem8 %" PRIu64 " nvme %" PRIu64 " %zu\n", name, bar_off,
	       file_off, len);
	fflush(stdout);
	for (int i = 0; i < 1200; i++) { /* 60 s */
		for (int k = 0; k < 16; k++)
			got[k] = map[k];
		if (!memcmp(got, "P2PVM-HOST-", 11))
			break;
		usleep(50000);
	}
	CHECK(s, !memcmp(got, "P2PVM-HOST-SAME\n", 16), "host side: %s",
	      memcmp(got, "P2PVM-HOST-", 11) ? "no verdict from run-vm.sh's watcher in 60 s"
					     : "the ivshmem memory-backend file differs from the "
					       "NVMe image");
}

static const char *path_name(const struct p2p_io_stats *st)
{
	return st->bytes_bounced ? (st->bytes_direct ? "mixed" : "bounce") : "direct";
}

/* p2p_io_read / p2p_io_write: NVMe <-> a buffer on the ivshmem behind the
 * same switch, all direct, checked on the host, no page cache. */
static void sc_rw(bool write)
{
	struct sc s = {.name = write ? "p2p_io_write" : "p2p_io_read"};
	const uint64_t size = 1 * MIB, file_off = write ? 5 * MIB : 2 * MIB;
	long long before = pool_available(&iv8);
	struct p2p_buffer *buf = NULL;
	struct p2p_io_stats st = {0};
	uint64_t phys;
	int64_t r;
	char *map = NULL, *ref = NULL;
	long cached;
	int fd, nfd;

	fd = alloc_p2p(&iv8, size, NULL);
	CHECK(&s, fd >= 0, "ALLOC on %s: %s", iv8.bdf, strerror(-fd));
	if (fd < 0)
		goto out;
	CHECK(&s, buf_flags(fd) == P2PB_BUF_F_DIRECT_IO, "DESCRIBE flags %#x, want DIRECT_IO",
	      buf_flags(fd));
	CHECK(&s, p2p_buffer_map(fd, size, &buf) == 0, "p2p_buffer_map failed");
	if (!buf)
		goto out;
	map = p2p_buffer_data(buf);
	nfd = open(NVME_DEV, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	CHECK(&s, nfd >= 0, "%s: %s", NVME_DEV, strerror(errno));
	if (nfd < 0)
		goto out;
	CHECK(&s, cached_pages(file_off, size) == 0, "page cache populated before the I/O");
	if (write) {
		int u = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

		CHECK(&s, u >= 0 && read(u, map, size) == (ssize_t)size, "urandom");
		if (u >= 0)
			close(u);
		r = p2p_buffer_pwrite(buf, 0, nfd, file_off, size, 0, &st);
	} else {
		r = p2p_buffer_pread(buf, 0, nfd, file_off, size, 0, &st);
	}
	info("%s: %" PRId64 " bytes, path %s (direct %" PRIu64 ", bounced %" PRIu64 ", %s)", s.name,
	     r, path_name(&st), st.bytes_direct, st.bytes_bounced, strerror(-st.direct_error));
	CHECK(&s, r == (int64_t)size, "p2p_buffer_%s: %s", write ? "pwrite" : "pread",
	      r < 0 ? strerror((int)-r) : "short");
	CHECK(&s, st.bytes_direct == size && st.bytes_bounced == 0,
	      "path not direct: direct %" PRIu64 " bounced %" PRIu64 " (%s)", st.bytes_direct,
	      st.bytes_bounced, strerror(-st.direct_error));
	cached = cached_pages(file_off, size);
	CHECK(&s, cached == 0, "%ld page-cache pages populated for the range", cached);
	ref = read_direct(file_off, size);
	CHECK(&s, ref && !memcmp(ref, map, size), "guest: buffer differs from the NVMe range");
	phys = phys_of(map);
	CHECK(&s, phys >= iv8.bar2 && phys + size <= iv8.bar2 + iv8.bar2_size,
	      "buffer page at %#" PRIx64 " not in %s's BAR2", phys, iv8.bdf);
	if (!s.failed)
		host_check(&s, s.name, map, phys - iv8.bar2, file_off, size);
	close(nfd);
	/* The pages are the buffer's, not the mapping's: unmapping returns nothing. */
	p2p_buffer_unmap(buf);
	buf = NULL;
	CHECK(&s, pool_available(&iv8) == before - (long long)size,
	      "p2pmem/available %lld after munmap, want %lld (pages went back with the mapping)",
	      pool_available(&iv8), before - (long long)size);
out:
	p2p_buffer_unmap(buf);
	if (fd >= 0)
		close(fd);
	free(ref);
	CHECK(&s, pool_available(&iv8) == before, "p2pmem/available %lld after close, want %lld",
	      pool_available(&iv8), before);
	sc_end(&s);
}

/* p2p_io_refused (a pair the kernel refuses) and, on < 6.2, p2p_io_fallback:
 * DIRECT_ONLY fails with @want_err, the default bounces with the right data. */
static void sc_bounced(const char *name, const struct fn *prov, int want_err)
{
	struct sc s = {.name = name};
	const uint64_t size = 1 * MIB, file_off = 3 * MIB;
	long long before = pool_available(prov);
	struct p2p_buffer *buf = NULL;
	struct p2p_io_stats st = {0};
	uint32_t fl;
	char *ref = NULL;
	int64_t r;
	int fd, nfd = -1;

	fd = alloc_p2p(prov, size, NULL);
	CHECK(&s, fd >= 0, "ALLOC on %s: %s", prov->bdf, strerror(-fd));
	if (fd < 0)
		goto out;
	fl = buf_flags(fd);
	CHECK(&s, fl == (want_err == -EOPNOTSUPP ? 0 : P2PB_BUF_F_DIRECT_IO), "DESCRIBE flags %#x",
	      fl);
	CHECK(&s, p2p_buffer_map(fd, size, &buf) == 0, "p2p_buffer_map failed");
	nfd = open(NVME_DEV, O_RDONLY | O_CLOEXEC);
	CHECK(&s, nfd >= 0, "%s: %s", NVME_DEV, strerror(errno));
	if (!buf || nfd < 0)
		goto out;
	r = p2p_buffer_pread(buf, 0, nfd, file_off, size, P2P_IO_DIRECT_ONLY, &st);
	CHECK(&s, r == want_err, "P2P_IO_DIRECT_ONLY: %" PRId64 " (%s), want %s", r,
	      r < 0 ? strerror((int)-r) : "no error", strerror(-want_err));
	r = p2p_buffer_pread(buf, 0, nfd, file_off, size, 0, &st);
	info("%s: %" PRId64 " bytes, path %s (direct %" PRIu64 ", bounced %" PRIu64 ", %s)", name,
	     r, path_name(&st), st.bytes_direct, st.bytes_bounced, strerror(-st.direct_error));
	CHECK(&s, r == (int64_t)size, "default pread: %" PRId64, r);
	CHECK(&s, st.bytes_bounced == size && st.bytes_direct == 0 && st.direct_error == want_err,
	      "path: direct %" PRIu64 " bounced %" PRIu64 " error %d, want all bounced with %d",
	      st.bytes_direct, st.bytes_bounced, st.direct_error, want_err);
	ref = read_direct(file_off, size);
	CHECK(&s, ref && !memcmp(ref, p2p_buffer_data(buf), size),
	      "bounced data differs from the NVMe range");
out:
	if (nfd >= 0)
		close(nfd);
	p2p_buffer_unmap(buf);
	if (fd >= 0)
		close(fd);
	free(ref);
	CHECK(&s, pool_available(prov) == before, "p2pmem/available %lld after close, want %lld",
	      pool_available(prov), before);
	sc_end(&s);
}

struct shared {
	volatile long ok, errors, other, consecutive;
	volatile int last_err;
	volatile int stop;
};

/* p2p_io_revoke: revoke a buffer while a reader streams into it. */
static void sc_revoke(void)
{
	struct sc s = {.name = "p2p_io_revoke"};
	const uint64_t size = 2 * MIB;
	long long before = pool_available(&iv8);
	struct shared *sh =
	    mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct p2p_buffer *buf = NULL;
	uint64_t id = 0;
	int fd, st = 0, rv;
	pid_t pid;

	fd = alloc_p2p(&iv8, size, &id);
	CHECK(&s, fd >= 0 && sh != MAP_FAILED, "ALLOC: %s", strerror(-fd));
	if (fd < 0 || sh == MAP_FAILED)
		goto out;
	memset((void *)sh, 0, sizeof(*sh));
	pid = fork();
	if (pid == 0) {
		int nfd = open(NVME_DEV, O_RDONLY | O_CLOEXEC);
		time_t end = time(NULL) + 60;

		if (nfd < 0 || p2p_buffer_map(fd, size, &buf) < 0)
			_exit(2);
		for (uint64_t i = 0; !sh->stop && time(NULL) < end; i++) {
			int64_t r = p2p_buffer_pread(buf, (i % 2) * MIB, nfd, MIB + (i % 6) * MIB,
						     MIB, 0, NULL);

			if (r == (int64_t)MIB) {
				sh->ok++;
				sh->consecutive = 0;
			} else if (r == -EFAULT) {
				sh->errors++;
				sh->consecutive++;
			} else {
				sh->other++;
				sh->last_err = (int)r;
			}
			if (sh->consecutive >= 20)
				break;
		}
		p2p_buffer_unmap(buf);
		_exit(0);
	}
	for (int i = 0; i < 600 && sh->ok < 5; i++)
		usleep(50000);
	CHECK(&s, sh->ok >= 5, "the reader did only %ld reads before the revoke", sh->ok);
	rv = ioctl(devfd, P2PB_IOC_REVOKE, &(struct p2pb_revoke){.id = id}) < 0 ? -errno : 0;
	CHECK(&s, rv == 0, "REVOKE: %s", strerror(-rv));
	for (int i = 0; i < 600 && sh->consecutive < 20; i++)
		usleep(50000);
	sh->stop = 1;
	waitpid(pid, &st, 0);
	info("p2p_io_revoke: reader did %ld reads, then %ld errors (-EFAULT), %ld others (last %d)",
	     sh->ok, sh->errors, sh->other, sh->last_err);
	CHECK(&s, WIFEXITED(st) && WEXITSTATUS(st) == 0, "reader died (status %#x%s)", st,
	      WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS ? ", SIGBUS" : "");
	CHECK(&s, sh->consecutive >= 20, "reader saw %ld consecutive errors after the revoke",
	      sh->consecutive);
	CHECK(&s, sh->other == 0, "errors other than EFAULT: %ld (last %s)", sh->other,
	      strerror(-sh->last_err));
	CHECK(&s, buf_flags(fd) & P2PB_BUF_F_REVOKED, "DESCRIBE does not say revoked");
out:
	if (fd >= 0)
		close(fd);
	if (sh != MAP_FAILED)
		munmap((void *)sh, 4096);
	CHECK(&s, pool_available(&iv8) == before,
	      "pool not whole: p2pmem/available %lld, want %lld", pool_available(&iv8), before);
	sc_end(&s);
}

/* ---- p2p_io_pin_outlives ---------------------------------------------- */

#define PIN_BUF (2 * MIB)			  /* the buffer the reads target */
#define PIN_FILE_OFF (1 * MIB)			  /* its bytes on the NVMe (never written) */
#define PIN_READS 16				  /* polled reads in flight at once, */
#define PIN_READ_LEN ((int)(PIN_BUF / PIN_READS)) /* each into its own slice */
#define PIN_PROBE_MAX 16			  /* 1 MiB ALLOCs while the reads pin */
#define PIN_CLOSE_MS 1000			  /* the last close() returns within */
#define PIN_GONE_MS 2000			  /* reaped: the buffer is gone within */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		rc = -errno;
	close(fd);
	return rc;
}

/*
 * Re-probe the NVMe with @n polled (interrupt-less) I/O queues: the driver
 * reads its poll_queues parameter only at probe.  Return: 0 once
 * NVME_DEV is back with io_poll = !!@n, else -errno.
 */
static int nvme_poll_queues(int n)
{
	char val[16], buf[16] = "";
	int rc, fd;

	snprintf(val, sizeof(val), "%d", n);
	rc = write_str("/sys/module/nvme/parameters/poll_queues", val);
	if (!rc)
		rc = write_str("/sys/bus/pci/drivers/nvme/unbind", nvme.bdf);
	if (!rc)
		rc = write_str("/sys/bus/pci/drivers/nvme/bind", nvme.bdf);
	if (rc)
		return rc;
	for (int i = 0; i < 300; i++) { /* the driver probes asynchronously */
		fd = open("/sys/block/nvme0n1/queue/io_poll", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t r = read(fd, buf, sizeof(buf) - 1);

			buf[r > 0 ? r : 0] = 0;
			close(fd);
		}
		if (fd >= 0 && atoi(buf) == !!n && access(NVME_DEV, R_OK) == 0)
			return 0;
		usleep(100000);
	}
	return -ETIMEDOUT;
}

/* An io_uring (raw syscalls: the guest has no liburing). */
struct uring {
	int fd;
	void *sq, *cq;
	size_t sq_len, cq_len, sqes_len;
	struct io_uring_sqe *sqes;
	unsigned *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_cqe *cqes;
};

static void uring_fini(struct uring *u)
{
	if (u->sqes && u->sqes != MAP_FAILED)
		munmap(u->sqes, u->sqes_len);
	if (u->cq && u->cq != MAP_FAILED && u->cq != u->sq)
		munmap(u->cq, u->cq_len);
	if (u->sq && u->sq != MAP_FAILED)
		munmap(u->sq, u->sq_len);
	if (u->fd >= 0)
		close(u->fd);
	memset(u, 0, sizeof(*u));
	u->fd = -1;
}

static int uring_init(struct uring *u, unsigned entries, unsigned flags)
{
	struct io_uring_params p = {.flags = flags};
	int rc;

	memset(u, 0, sizeof(*u));
	u->fd = (int)syscall(SYS_io_uring_setup, entries, &p);
	if (u->fd < 0) {
		rc = -errno;
		u->fd = -1;
		return rc;
	}
	u->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	u->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		u->sq_len = u->cq_len = u->sq_len > u->cq_len ? u->sq_len : u->cq_len;
	u->sq = mmap(NULL, u->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd,
		     IORING_OFF_SQ_RING);
	u->cq = (p.features & IORING_FEAT_SINGLE_MMAP)
		    ? u->sq
		    : mmap(NULL, u->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			   u->fd, IORING_OFF_CQ_RING);
	u->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	u->sqes = mmap(NULL, u->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd,
		       IORING_OFF_SQES);
	if (u->sq == MAP_FAILED || u->cq == MAP_FAILED || u->sqes == MAP_FAILED) {
		rc = -errno;
		uring_fini(u);
		return rc;
	}
	u->sq_tail = (unsigned *)((char *)u->sq + p.sq_off.tail);
	u->sq_mask = (unsigned *)((char *)u->sq + p.sq_off.ring_mask);
	u->sq_array = (unsigned *)((char *)u->sq + p.sq_off.array);
	u->cq_head = (unsigned *)((char *)u->cq + p.cq_off.head);
	u->cq_tail = (unsigned *)((char *)u->cq + p.cq_off.tail);
	u->cq_mask = (unsigned *)((char *)u->cq + p.cq_off.ring_mask);
	u->cqes = (struct io_uring_cqe *)((char *)u->cq + p.cq_off.cqes);
	return 0;
}

/* Queue a read of @len bytes at @off of @fd into @dst. */
static void uring_read(struct uring *u, int fd, void *dst, unsigned len, uint64_t off, uint64_t tag)
{
	unsigned tail = *u->sq_tail, idx = tail & *u->sq_mask;

	u->sqes[idx] = (struct io_uring_sqe){
	    .opcode = IORING_OP_READ,
	    .fd = fd,
	    .addr = (uint64_t)(uintptr_t)dst,
	    .len = len,
	    .off = off,
	    .user_data = tag,
	};
	u->sq_array[idx] = idx;
	__atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
}

static int uring_enter(struct uring *u, unsigned submit, unsigned wait, unsigned flags)
{
	long r = syscall(SYS_io_uring_enter, u->fd, submit, wait, flags, NULL, 0);

	return r < 0 ? -errno : (int)r;
}

/* Completions posted and not yet consumed. */
static unsigned uring_ready(struct uring *u)
{
	return __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE) - *u->cq_head;
}

/* The state letter of task @tid (a thread of this process or a child: R, S,
 * D ...), or 0 once it is gone. */
static char task_state(pid_t tid)
{
	char path[64], line[512] = "", *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	p = strrchr(line, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * Flags LIST reports for buffer @id: 0 and the flags when listed, -ENOENT
 * when not, else -errno.
 */
static int list_flags(uint64_t id, uint32_t *ret_flags)
{
	static struct p2pb_buf_info e[P2PB_MAX_LIST_ENTRIES];
	struct p2pb_list l = {.entries = (uintptr_t)e, .count = P2PB_MAX_LIST_ENTRIES};

	if (ioctl(devfd, P2PB_IOC_LIST, &l) < 0)
		return -errno;
	for (uint32_t i = 0; i < l.count; i++) {
		if (e[i].id == id) {
			*ret_flags = e[i].flags;
			return 0;
		}
	}
	return -ENOENT;
}

/* Live buffers according to P2PB_IOC_LIST, or -errno. */
static int list_total(void)
{
	struct p2pb_list l = {0};

	return ioctl(devfd, P2PB_IOC_LIST, &l) < 0 ? -errno : (int)l.total;
}

#define KLOG_PINNED "still pinned" /* the module's warnings about pinned I/O */
#define KLOG_UNBIND_WAITS "unbind waits for that I/O to end"

/* Lines of the kernel log the guest's dmesg_clean counts as a splat (@what
 * NULL), or p2pbroker's lines that contain @what. */
static int klog_count(const char *what)
{
	static char log[1 << 20];
	const char *bad[] = {"BUG:",	   "WARNING:",
			     "Oops",	   "general protection",
			     "refcount_t", "list_del corruption",
			     "Call Trace"};
	int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, sizeof(log) - 1), count = 0;

	if (n < 0)
		return -1;
	log[n] = 0;
	for (char *line = log, *nl; *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = 0;
		else
			nl = line + strlen(line);
		if (what) {
			count += strstr(line, "p2pbroker") && strstr(line, what) ? 1 : 0;
			continue;
		}
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if (strstr(line, bad[i])) {
				count++;
				break;
			}
	}
	return count;
}

/* The thread that closes the buffer's only fd: its release() runs in this
 * thread's close(). */
struct pin_closer {
	pthread_t th;
	int fd;
	volatile pid_t tid;
	volatile int rc, done;
	volatile double t_start, t_end;
};

static void *pin_closer_run(void *arg)
{
	struct pin_closer *c = arg;

	c->tid = gettid();
	c->t_start = now_ms();
	c->rc = close(c->fd) < 0 ? -errno : 0;
	c->t_end = now_ms();
	c->done = 1;
	return NULL;
}

/* A 1 MiB buffer allocated while the old one's close waits. */
struct pin_probe {
	int fd;
	unsigned char *map;
	uint64_t phys;
};

static bool pattern_intact(const unsigned char *p, size_t len, unsigned char c)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != c)
			return false;
	return true;
}

/* Compare the BAR range of @iv8 at @bar_off (through the BAR's own sysfs
 * mapping, not the buffer's) with @want.  Return: 0 same, 1 differs,
 * -errno. */
static int bar_compare(uint64_t bar_off, const void *want, size_t len)
{
	char path[300];
	const char *bar;
	int fd, rc;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource2", iv8.bdf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	bar = mmap(NULL, iv8.bar2_size, PROT_READ, MAP_SHARED, fd, 0);
	rc = bar == MAP_FAILED ? -errno : 0;
	close(fd);
	if (rc)
		return rc;
	rc = memcmp(bar + bar_off, want, len) ? 1 : 0;
	munmap((void *)bar, iv8.bar2_size);
	return rc;
}

/*
 * Polled O_DIRECT reads held in flight into a p2p buffer's mapping (the
 * set-up of p2p_io_pin_outlives and p2p_io_unbind_pinned): the NVMe is
 * re-probed with a polled (interrupt-less) queue and PIN_READS reads are
 * submitted through an IORING_SETUP_IOPOLL io_uring, so they stay in flight
 * -- bios issued, pages pinned -- until pin_io_reap() polls them.
 */
struct pin_io {
	struct uring u;
	bool poll_on;		       /* the NVMe was re-probed with a polled queue */
	int fd, nfd;		       /* the buffer's only dma-buf fd (-1 once closed), NVME_DEV */
	uint64_t id;		       /* the buffer's id */
	uint64_t phys;		       /* physical address of its first page */
	char *map;		       /* its mapping, MAP_FAILED once unmapped */
	char *ref;		       /* the NVMe range, read into host memory */
	int submitted;		       /* reads in flight */
	int got, ok, failed, last_err; /* pin_io_reap() */
	double t_reap, t_reaped;
};

static void pin_io_init(struct pin_io *p)
{
	memset(p, 0, sizeof(*p));
	p->u.fd = p->fd = p->nfd = -1;
	p->map = MAP_FAILED;
}

/*
 * Allocate a PIN_BUF p2p buffer on iv8, map it, fault it in, and submit the
 * reads into it.  Return: true once they are in flight; else @s has failed
 * (pin_io_fini() undoes what was done).
 */
static bool pin_io_start(struct sc *s, struct pin_io *p)
{
	int rc = nvme_poll_queues(1);

	CHECK(s, rc == 0, "NVMe with a polled queue: %s", strerror(-rc));
	p->poll_on = rc == 0;
	if (rc)
		return false;
	rc = uring_init(&p->u, 64, IORING_SETUP_IOPOLL);
	CHECK(s, rc == 0, "io_uring_setup(IOPOLL): %s", strerror(-rc));
	p->fd = alloc_p2p(&iv8, PIN_BUF, &p->id);
	CHECK(s, p->fd >= 0, "ALLOC on %s: %s", iv8.bdf, strerror(-p->fd));
	if (rc || p->fd < 0)
		return false;
	p->map = mmap(NULL, PIN_BUF, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
	CHECK(s, p->map != MAP_FAILED, "mmap: %s", strerror(errno));
	p->nfd = open(NVME_DEV, O_RDONLY | O_DIRECT | O_CLOEXEC);
	CHECK(s, p->nfd >= 0, "%s: %s", NVME_DEV, strerror(errno));
	p->ref = read_direct(PIN_FILE_OFF, PIN_BUF);
	CHECK(s, p->ref != NULL, "reading the NVMe range into host memory failed");
	if (p->map == MAP_FAILED || p->nfd < 0 || !p->ref)
		return false;
	for (size_t o = 0; o < PIN_BUF; o += 4096) /* fault every page in */
		(void)*(volatile char *)(p->map + o);
	p->phys = phys_of(p->map);
	CHECK(s, p->phys >= iv8.bar2 && p->phys + PIN_BUF <= iv8.bar2 + iv8.bar2_size,
	      "buffer page at %#" PRIx64 " not in %s's BAR2", p->phys, iv8.bdf);
	if (s->failed)
		return false;

	/* Pin: each read's bio holds its pages until it is reaped. */
	for (int i = 0; i < PIN_READS; i++) {
		/* Disjoint: DMA-API debugging reports overlapping
		 * DMA_FROM_DEVICE mappings of one cacheline. */
		size_t off = (size_t)i * PIN_READ_LEN;

		uring_read(&p->u, p->nfd, p->map + off, PIN_READ_LEN, PIN_FILE_OFF + off,
			   (uint64_t)i);
	}
	p->submitted = uring_enter(&p->u, PIN_READS, 0, 0);
	CHECK(s, p->submitted == PIN_READS, "io_uring_enter: %d (%s)", p->submitted,
	      p->submitted < 0 ? strerror(-p->submitted) : "short");
	return p->submitted > 0;
}

/* Reap every read submitted (30 s at most), counting how each ended. */
static void pin_io_reap(struct sc *s, struct pin_io *p)
{
	int rc;

	p->t_reap = now_ms();
	while (p->got < p->submitted) {
		rc = uring_enter(&p->u, 0, (unsigned)(p->submitted - p->got),
				 IORING_ENTER_GETEVENTS);
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN) {
			sc_fail(s, "io_uring_enter(GETEVENTS): %s", strerror(-rc));
			break;
		}
		while (uring_ready(&p->u)) {
			struct io_uring_cqe *c = &p->u.cqes[*p->u.cq_head & *p->u.cq_mask];

			if (c->res == PIN_READ_LEN) {
				p->ok++;
			} else {
				p->failed++;
				p->last_err = -c->res;
				CHECK(s, c->res < 0, "read %llu returned %d of %d",
				      (unsigned long long)c->user_data, c->res, PIN_READ_LEN);
			}
			__atomic_store_n(p->u.cq_head, *p->u.cq_head + 1, __ATOMIC_RELEASE);
			p->got++;
		}
		if (now_ms() > p->t_reap + 30000) {
			sc_fail(s, "only %d of %d reads reaped in 30 s", p->got, p->submitted);
			break;
		}
	}
	p->t_reaped = now_ms();
}

/* Undo pin_io_start(), after pin_io_reap(): the NVMe gets its interrupt
 * queues back. */
static void pin_io_fini(struct sc *s, struct pin_io *p)
{
	int rc;

	uring_fini(&p->u);
	if (p->map != MAP_FAILED)
		munmap(p->map, PIN_BUF);
	if (p->fd >= 0)
		close(p->fd);
	if (p->nfd >= 0)
		close(p->nfd);
	free(p->ref);
	if (p->poll_on) {
		rc = nvme_poll_queues(0);
		CHECK(s, rc == 0, "NVMe back without polled queues: %s", strerror(-rc));
	}
	pin_io_init(p);
}

/*
 * p2p_io_pin_outlives: the reads of pin_io_start() pin a p2p buffer's
 * pages.  Meanwhile the client munmaps and closes the buffer's only fd, and
 * the reads stay unreaped for longer than the module's revoke_timeout_ms:
 *   - that close() returns at once (within PIN_CLOSE_MS): the last close
 *     never waits for the I/O, whoever makes it (p2pd, an exit);
 *   - the memory does not go back to the pool: p2pmem/available stays
 *     without it, 1 MiB ALLOCs of all the free memory (each filled with a
 *     pattern) all land outside it, and LIST keeps the buffer, flagged
 *     P2PB_BUF_F_RELEASED;
 *   - once reaped, every read has completed (or failed with an errno), the
 *     bytes are in the old buffer's BAR range (read through the BAR's sysfs
 *     mapping), the probes' patterns are intact, and soon after the buffer
 *     leaves LIST and its memory is back;
 *   - the pool is whole afterwards, nothing listed, no splat.
 */
static void sc_pin_outlives(void)
{
	struct sc s = {.name = "p2p_io_pin_outlives"};
	long long before = pool_available(&iv8), avail, worst = -1;
	long long hold_ms = file_num("/sys/module/p2pbroker/parameters/revoke_timeout_ms");
	int list_before = list_total(), splats_before = klog_count(NULL);
	int pinned_before = klog_count(KLOG_PINNED), list_min = 1 << 30, nprobe = 0, overlap = 0;
	int rc;
	struct pin_io pi;
	struct pin_closer cl = {.fd = -1};
	struct pin_probe probe[PIN_PROBE_MAX];
	bool closer_started = false, closed_early = false;
	long samples = 0, above = 0, listed = 0, released = 0, unlisted = 0;
	uint32_t lflags = 0;
	double t_gone = -1;
	double t_unmap = 0;
	unsigned posted_early = 0;
	uint64_t probe_bytes = 0;

	/* Ask the revoke timeout from the module; the hold outlasts it. */
	if (hold_ms <= 0)
		hold_ms = 5000;
	hold_ms += 1000;
	pin_io_init(&pi);
	if (!pin_io_start(&s, &pi))
		goto out;

	/* munmap, then close the only fd in another thread. */
	t_unmap = now_ms();
	CHECK(&s, munmap(pi.map, PIN_BUF) == 0, "munmap: %s", strerror(errno));
	pi.map = MAP_FAILED;
	cl.fd = pi.fd;
	pi.fd = -1;
	if (pthread_create(&cl.th, NULL, pin_closer_run, &cl)) {
		sc_fail(&s, "pthread_create failed");
		close(cl.fd);
		goto reap;
	}
	closer_started = true;

	/* Hold the reads past the revoke timeout; watch the pool meanwhile. */
	while (now_ms() < t_unmap + (double)hold_ms) {
		int lt;

		avail = pool_available(&iv8);
		lt = list_total() - nprobe; /* the probes' buffers are listed too */
		samples++;
		if (cl.done) { /* only once the last close is made */
			rc = list_flags(pi.id, &lflags);
			if (rc == 0) {
				listed++;
				released += (lflags & P2PB_BUF_F_RELEASED) ? 1 : 0;
			} else {
				unlisted++;
			}
		}
		if (lt >= 0 && lt < list_min)
			list_min = lt;
		if (avail + (long long)probe_bytes > before - (long long)PIN_BUF) {
			above++;
			worst = avail;
		}
		if (!nprobe && (cl.done || (cl.tid && task_state(cl.tid) == 'D'))) {
			/* The close waits: take all the free memory, 1 MiB a time. */
			for (; nprobe < PIN_PROBE_MAX; nprobe++) {
				struct pin_probe *p = &probe[nprobe];
				int pfd = alloc_p2p(&iv8, MIB, NULL);

				if (pfd == -ENOMEM)
					break;
				if (pfd < 0) {
					sc_fail(&s, "probe ALLOC: %s", strerror(-pfd));
					break;
				}
				p->fd = pfd;
				p->map =
				    mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_SHARED, pfd, 0);
				if (p->map == MAP_FAILED) {
					sc_fail(&s, "probe mmap: %s", strerror(errno));
					close(pfd);
					break;
				}
				memset(p->map, 0x5a ^ nprobe, MIB);
				p->phys = phys_of(p->map);
				probe_bytes += MIB;
				if (p->phys < pi.phys + PIN_BUF && p->phys + MIB > pi.phys)
					overlap++;
			}
			if (!nprobe)
				nprobe = -1; /* tried */
		}
		usleep(5000);
	}
	if (nprobe < 0)
		nprobe = 0;
	posted_early = uring_ready(&pi.u);
	closed_early = cl.done;
	CHECK(&s, closed_early && cl.t_end - cl.t_start < PIN_CLOSE_MS,
	      "the last close() %s %.1f ms after it began, with %d reads pinning the buffer's "
	      "pages (nothing reaped): it waits for the I/O",
	      closed_early ? "returned" : "still blocked",
	      (closed_early ? cl.t_end : now_ms()) - cl.t_start, pi.submitted);
	CHECK(&s, listed > 0 && unlisted == 0 && released == listed,
	      "LIST while the reads pinned the closed buffer: listed %ld times (%ld with "
	      "P2PB_BUF_F_RELEASED), missing %ld times",
	      listed, released, unlisted);
	CHECK(&s, above == 0,
	      "p2pmem/available was %lld (want at most %lld) while reads pinned the buffer: its "
	      "memory was free under DMA",
	      worst, before - (long long)PIN_BUF - (long long)probe_bytes);
	CHECK(&s, nprobe > 0, "no 1 MiB ALLOC fitted while the close waited");
	CHECK(&s, overlap == 0,
	      "%d of the 1 MiB ALLOCs got the old buffer's memory while its reads pinned it",
	      overlap);

reap:
	pin_io_reap(&s, &pi);
	if (closer_started) {
		pthread_join(cl.th, NULL);
		closer_started = false;
		CHECK(&s, cl.rc == 0, "close: %s", strerror(-cl.rc));
	}
	info("p2p_io_pin_outlives: %d polled reads of %d KiB into a %llu KiB p2p buffer at "
	     "%#" PRIx64 " (BAR %s+%#" PRIx64 "), then munmap and close of its only fd",
	     pi.submitted, PIN_READ_LEN / 1024, PIN_BUF / 1024, pi.phys, iv8.bdf,
	     pi.phys - iv8.bar2);
	info("p2p_io_pin_outlives: reads held unreaped for %.0f ms (close() %s); %ld "
	     "samples of p2pmem/available, %ld with the buffer's memory free; LIST listed at "
	     "least %d buffer(s) (%d before); %d x 1 MiB ALLOCs took all the free memory, %d "
	     "inside the old buffer; %u completions posted unreaped",
	     pi.t_reap - t_unmap, closed_early ? "had returned" : "still blocked", samples, above,
	     list_min == 1 << 30 ? -1 : list_min, list_before, nprobe, overlap, posted_early);
	info("p2p_io_pin_outlives: reaped %.1f ms after munmap (%d ok, %d failed, last errno "
	     "%s) in %.1f ms; close() returned %.1f ms after munmap, %.1f ms after reaping "
	     "began",
	     pi.t_reap - t_unmap, pi.ok, pi.failed, pi.last_err ? strerror(pi.last_err) : "none",
	     pi.t_reaped - pi.t_reap, cl.t_end - t_unmap, cl.t_end - pi.t_reap);
	CHECK(&s, pi.got == pi.submitted && pi.ok + pi.failed == pi.submitted,
	      "%d of %d reads completed", pi.got, pi.submitted);
	CHECK(&s, pi.ok > 0, "every read failed (last %s)", strerror(pi.last_err));
	/* Collected: the module returns the memory and forgets the buffer. */
	for (double t0 = now_ms(); now_ms() < t0 + PIN_GONE_MS; usleep(5000)) {
		if (list_flags(pi.id, &lflags) == -ENOENT) {
			t_gone = now_ms() - pi.t_reaped;
			break;
		}
	}
	info("p2p_io_pin_outlives: LIST listed the closed buffer %ld times while pinned (%ld "
	     "with RELEASED); it left LIST %.1f ms after the reads were reaped",
	     listed, released, t_gone);
	CHECK(&s, t_gone >= 0, "buffer %" PRIu64 " still listed %d ms after its reads were reaped",
	      pi.id, PIN_GONE_MS);

	/* The reads' bytes are in the old buffer's BAR range. */
	if (!s.failed && !pi.failed) {
		rc = bar_compare(pi.phys - iv8.bar2, pi.ref, PIN_BUF);
		info("p2p_io_pin_outlives: BAR %s+%#" PRIx64 " (read through resource2) %s the "
		     "NVMe range",
		     iv8.bdf, pi.phys - iv8.bar2, rc == 0 ? "equals" : "differs from");
		CHECK(&s, rc == 0, "BAR %s+%#" PRIx64 ": %s", iv8.bdf, pi.phys - iv8.bar2,
		      rc > 0 ? "differs from the NVMe range" : strerror(-rc));
	}
	/* No new owner's data was written by the old reads. */
	for (int k = 0; k < nprobe; k++) {
		CHECK(&s, pattern_intact(probe[k].map, MIB, (unsigned char)(0x5a ^ k)),
		      "ALLOC %d (%#" PRIx64 "): its pattern was overwritten", k, probe[k].phys);
		munmap(probe[k].map, MIB);
		close(probe[k].fd);
	}
	nprobe = 0;
out:
	if (closer_started)
		pthread_join(cl.th, NULL);
	for (int k = 0; k < nprobe; k++) {
		munmap(probe[k].map, MIB);
		close(probe[k].fd);
	}
	pin_io_fini(&s, &pi);
	CHECK(&s, pool_available(&iv8) == before,
	      "pool not whole: p2pmem/available %lld, want %lld", pool_available(&iv8), before);
	CHECK(&s, list_total() == list_before, "LIST: %d buffers, %d before", list_total(),
	      list_before);
	CHECK(&s, klog_count(NULL) == splats_before, "kernel log: %d new splat line(s)",
	      klog_count(NULL) - splats_before);
	info("p2p_io_pin_outlives: afterwards p2pmem/available %lld (before %lld), LIST %d "
	     "(before %d); p2pbroker logged %d \"still pinned\" warning(s)",
	     pool_available(&iv8), before, list_total(), list_before,
	     klog_count(KLOG_PINNED) - pinned_before);
	sc_end(&s);
}

/* ---- p2p_io_unbind_pinned --------------------------------------------- */

#define REVOKE_TIMEOUT_PARAM "/sys/module/p2pbroker/parameters/revoke_timeout_ms"
#define UNB_TIMEOUT_MS 1000		    /* revoke_timeout_ms meanwhile */
#define UNB_HOLD_MS (UNB_TIMEOUT_MS + 1500) /* reads held after the unbind began */
#define UNB_ENTER_MS 5000		    /* the unbind reaches the module within */
#define UNB_LIST_MS 500			    /* LIST answers within, meanwhile */
#define UNB_DONE_MS 2000		    /* reaped: the unbind returns within */

static long long forced_reclaims(void)
{
	return file_num("/sys/module/p2pbroker/parameters/forced_reclaims");
}

/* A 1 MiB ALLOC on @prov (NULL: host memory), closed at once.
 * Return: 0 or -errno. */
static int alloc_try(const struct fn *prov)
{
	struct p2pb_alloc a = {.size = MIB, .type = P2PB_BUF_HOST, .owner_uid = 4242};

	if (prov) {
		a.type = P2PB_BUF_P2P;
		a.provider = P2PB_BDF(prov->dom, prov->bus, (prov->dev << 3) | prov->func);
	}
	if (ioctl(devfd, P2PB_IOC_ALLOC, &a) < 0)
		return -errno;
	close(a.fd);
	return 0;
}

/* The unbind of @f's driver, in a child: its exit status says how it went. */
static pid_t unbind_start(const struct fn *f)
{
	char path[300];
	pid_t pid;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", f->bdf);
	pid = fork();
	if (pid == 0)
		_exit(write_str(path, f->bdf) == 0 ? 0 : 1);
	return pid;
}

/*
 * p2p_io_unbind_pinned: the reads of pin_io_start() pin a buffer on the
 * 8 MiB ivshmem; its mapping and only fd are gone (the buffer is RELEASED,
 * see p2p_io_pin_outlives), and the provider's driver is unbound through
 * sysfs (in a child).  What the module promises
 * (p2pb_buf_provider_leaving(), p2pb_buf_wait_released()): the provider is
 * departing from BUS_NOTIFY_UNBIND_DRIVER on (ALLOC refuses it with
 * -ENODEV, the released buffer is flagged revoked), and the unbind waits
 * there -- before the driver's remove() runs and its p2pdma pool is torn
 * down -- until the released buffer's memory is back in the pool, i.e.
 * until the storage DMA that pins it has ended, however long that takes:
 * pinned memory is never taken back by force (forced_reclaims counts
 * importers only), and the wait is logged once after revoke_timeout_ms.
 * So, with revoke_timeout_ms at UNB_TIMEOUT_MS and the reads held for
 * UNB_HOLD_MS after the unbind began:
 *   - the unbind has not returned, the driver's remove() has not run (the
 *     device stays enabled and its p2p memory published), p2pmem/available
 *     never includes the buffer;
 *   - nothing else waits: LIST answers within UNB_LIST_MS and shows the
 *     buffer RELEASED and REVOKED all along; ALLOC on the leaving provider
 *     fails with -ENODEV (at the start and at the end of the hold), while
 *     one on the 2 MiB ivshmem (another provider) and one of host memory
 *     succeed;
 *   - the module logs "unbind waits for that I/O to end" exactly once;
 * then, once the reads are reaped: every read has completed, the unbind
 * returns (successfully) within UNB_DONE_MS, the buffer has left LIST,
 * forced_reclaims is unchanged; rebound, the provider's pool is whole (its
 * BAR size) and its BAR holds the reads' bytes where the buffer was (read
 * through resource2); nothing is listed and the log has no splat.
 */
static void sc_unbind_pinned(void)
{
	struct sc s = {.name = "p2p_io_unbind_pinned"};
	long long before = pool_available(&iv8), forced0 = forced_reclaims(), worst = -1;
	long long timeout0 = file_num(REVOKE_TIMEOUT_PARAM), avail, after = -1;
	int list_before = list_total(), splats_before = klog_count(NULL);
	int waits_before = klog_count(KLOG_UNBIND_WAITS), waits = -1, rc, st = 0;
	int a_leaving = 1, a_leaving_end = 1, a_other = 1, a_host = 1;
	long samples = 0, above = 0, torn = 0, unflagged = 0, slow = 0;
	double t_close = -1, t_unbind = 0, t_entered = -1, t_early = -1, t_done = -1;
	double list_worst = 0, t0;
	bool entered = false, exited = false, rebound = false;
	char path[300], state = 0, tval[24];
	uint32_t lflags = 0;
	struct pin_io pi;
	pid_t pid = -1;

	pin_io_init(&pi);
	snprintf(tval, sizeof(tval), "%d", UNB_TIMEOUT_MS);
	rc = write_str(REVOKE_TIMEOUT_PARAM, tval);
	CHECK(&s, rc == 0 && timeout0 > 0, "revoke_timeout_ms (%lld): %s", timeout0, strerror(-rc));
	CHECK(&s, before == (long long)iv8.bar2_size,
	      "p2pmem/available %lld before, want the whole BAR (%" PRIu64 ")", before,
	      iv8.bar2_size);
	if (s.failed || !pin_io_start(&s, &pi))
		goto out;

	/* Released: no mapping and no fd left, the pins keep it listed. */
	t0 = now_ms();
	CHECK(&s, munmap(pi.map, PIN_BUF) == 0, "munmap: %s", strerror(errno));
	pi.map = MAP_FAILED;
	rc = close(pi.fd) < 0 ? -errno : 0;
	pi.fd = -1;
	t_close = now_ms() - t0;
	CHECK(&s, rc == 0 && t_close < PIN_CLOSE_MS, "munmap + close: %s after %.1f ms",
	      strerror(-rc), t_close);
	rc = list_flags(pi.id, &lflags);
	CHECK(&s, rc == 0 && (lflags & P2PB_BUF_F_RELEASED),
	      "the closed, pinned buffer: LIST %s, flags %#x", strerror(-rc), lflags);
	if (s.failed)
		goto reap;

	t_unbind = now_ms();
	pid = unbind_start(&iv8);
	CHECK(&s, pid > 0, "fork: %s", strerror(errno));
	if (pid <= 0)
		goto reap;
	while (now_ms() < t_unbind + UNB_HOLD_MS) {
		double t1 = now_ms(), dt;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			exited = true;
			t_early = now_ms() - t_unbind;
			break;
		}
		rc = list_flags(pi.id, &lflags);
		dt = now_ms() - t1;
		list_worst = dt > list_worst ? dt : list_worst;
		slow += dt > UNB_LIST_MS;
		if (!entered && rc == 0 && (lflags & P2PB_BUF_F_REVOKED)) {
			/* The module has marked the provider departing. */
			entered = true;
			t_entered = now_ms() - t_unbind;
			a_leaving = alloc_try(&iv8);
			a_other = alloc_try(&iv2x);
			a_host = alloc_try(NULL);
		}
		if (!entered && now_ms() > t_unbind + UNB_ENTER_MS)
			break;
		if (entered) {
			samples++;
			if (rc || (lflags & (P2PB_BUF_F_RELEASED | P2PB_BUF_F_REVOKED)) !=
				      (P2PB_BUF_F_RELEASED | P2PB_BUF_F_REVOKED))
				unflagged++;
			avail = pool_available(&iv8);
			if (avail > before - (long long)PIN_BUF) {
				above++;
				worst = avail;
			}
			if (sysfs_num(iv8.bdf, "enable") != 1 ||
			    sysfs_num(iv8.bdf, "p2pmem/published") != 1)
				torn++;
		} else if (rc) {
			unflagged++;
		}
		usleep(10000);
	}
	if (!exited) {
		state = task_state(pid);
		a_leaving_end = alloc_try(&iv8);
	}
	waits = klog_count(KLOG_UNBIND_WAITS) - waits_before;
	CHECK(&s, !exited,
	      "the unbind returned %.0f ms after it began, with %d reads pinning the released "
	      "buffer's pages (nothing reaped)",
	      t_early, pi.submitted);
	CHECK(&s, entered,
	      "LIST never showed the released buffer REVOKED within %d ms of the unbind (flags "
	      "%#x)",
	      UNB_ENTER_MS, lflags);
	CHECK(&s, torn == 0,
	      "the driver's remove() ran while reads pinned the buffer: %s enable %lld, "
	      "p2pmem/published %lld",
	      iv8.bdf, sysfs_num(iv8.bdf, "enable"), sysfs_num(iv8.bdf, "p2pmem/published"));
	CHECK(&s, above == 0,
	      "p2pmem/available was %lld (want at most %lld) while reads pinned the buffer", worst,
	      before - (long long)PIN_BUF);
	CHECK(&s, unflagged == 0, "LIST missed the buffer or its RELEASED|REVOKED flags %ld times",
	      unflagged);
	CHECK(&s, slow == 0, "LIST took up to %.0f ms while the unbind waited", list_worst);
	CHECK(&s, !entered || (a_leaving == -ENODEV && (exited || a_leaving_end == -ENODEV)),
	      "ALLOC on the leaving %s: %s, then %s (want ENODEV)", iv8.bdf, strerror(-a_leaving),
	      strerror(-a_leaving_end));
	CHECK(&s, !entered || a_other == 0, "ALLOC on %s while %s unbinds: %s", iv2x.bdf, iv8.bdf,
	      strerror(-a_other));
	CHECK(&s, !entered || a_host == 0, "host ALLOC while %s unbinds: %s", iv8.bdf,
	      strerror(-a_host));
	CHECK(&s, waits == 1, "the module logged \"%s\" %d times, want once", KLOG_UNBIND_WAITS,
	      waits);

reap:
	pin_io_reap(&s, &pi);
	CHECK(&s, pi.got == pi.submitted && pi.ok == pi.submitted,
	      "%d of %d reads completed, %d failed (last %s)", pi.got, pi.submitted, pi.failed,
	      strerror(pi.last_err));
	if (pid > 0 && !exited) {
		/* Reaped: the memory goes back, the unbind goes on. */
		for (int i = 0; i < 3000 && !exited; i++) { /* 30 s */
			if (waitpid(pid, &st, WNOHANG) == pid) {
				exited = true;
				t_done = now_ms() - pi.t_reaped;
				break;
			}
			usleep(10000);
		}
		CHECK(&s, exited && t_done < UNB_DONE_MS,
		      "the unbind %s %.0f ms after the reads were reaped",
		      exited ? "returned" : "still waits", now_ms() - pi.t_reaped);
	}
	if (pid > 0 && exited) {
		CHECK(&s, WIFEXITED(st) && WEXITSTATUS(st) == 0, "unbind failed (status %#x)", st);
		rc = list_flags(pi.id, &lflags);
		CHECK(&s, rc == -ENOENT, "buffer %" PRIu64 " still listed after the unbind (%#x)",
		      pi.id, lflags);
		CHECK(&s, forced_reclaims() == forced0, "forced_reclaims %lld, was %lld",
		      forced_reclaims(), forced0);
		snprintf(path, sizeof(path), "/sys/bus/pci/drivers_probe");
		rc = write_str(path, iv8.bdf);
		CHECK(&s, rc == 0, "rebind %s: %s", iv8.bdf, strerror(-rc));
		rebound = rc == 0;
		after = pool_available(&iv8);
		CHECK(&s, after == (long long)iv8.bar2_size,
		      "rebound: p2pmem/available %lld, want %" PRIu64, after, iv8.bar2_size);
	}
	if (rebound && !s.failed) {
		rc = bar_compare(pi.phys - iv8.bar2, pi.ref, PIN_BUF);
		CHECK(&s, rc == 0, "BAR %s+%#" PRIx64 ": %s", iv8.bdf, pi.phys - iv8.bar2,
		      rc > 0 ? "differs from the NVMe range" : strerror(-rc));
	}
	info("p2p_io_unbind_pinned: %d polled reads pin a released %llu KiB buffer at BAR "
	     "%s+%#" PRIx64 " (munmap + close took %.1f ms); unbind of %s began, the module "
	     "marked it departing after %.0f ms",
	     pi.submitted, PIN_BUF / 1024, iv8.bdf, pi.phys - iv8.bar2, t_close, iv8.bdf,
	     t_entered);
	info("p2p_io_unbind_pinned: reads held %.0f ms after the unbind began (revoke_timeout_ms "
	     "%d): unbind %s (task state %c); %ld samples: %ld with remove() run, %ld with the "
	     "buffer's memory free, %ld LIST misses, LIST worst %.1f ms; ALLOC on %s: %s, "
	     "then %s; on %s: %s; host: %s; \"unbind waits\" logged %d time(s)",
	     pi.t_reap - t_unbind, UNB_TIMEOUT_MS, t_early >= 0 ? "had returned" : "waiting",
	     state ? state : '-', samples, torn, above, unflagged, list_worst, iv8.bdf,
	     strerror(-a_leaving), strerror(-a_leaving_end), iv2x.bdf, strerror(-a_other),
	     strerror(-a_host), waits);
	info("p2p_io_unbind_pinned: reaped in %.1f ms (%d ok, %d failed); the unbind returned "
	     "%.1f ms later; forced_reclaims %lld (was %lld); rebound pool %lld of %" PRIu64,
	     pi.t_reaped - pi.t_reap, pi.ok, pi.failed, t_done, forced_reclaims(), forced0, after,
	     iv8.bar2_size);
out:
	pin_io_fini(&s, &pi);
	if (timeout0 > 0) {
		snprintf(tval, sizeof(tval), "%lld", timeout0);
		write_str(REVOKE_TIMEOUT_PARAM, tval);
	}
	CHECK(&s, list_total() == list_before, "LIST: %d buffers, %d before", list_total(),
	      list_before);
	CHECK(&s, klog_count(NULL) == splats_before, "kernel log: %d new splat line(s)",
	      klog_count(NULL) - splats_before);
	sc_end(&s);
}

static int crc_main(char **argv)
{
	uint64_t off = strtoull(argv[3], NULL, 0), len = strtoull(argv[4], NULL, 0);
	int fd = open(argv[2], O_RDONLY | O_DIRECT | O_CLOEXEC);
	void *p = NULL;

	if (fd < 0 || posix_memalign(&p, 4096, len) ||
	    pread(fd, p, len, (off_t)off) != (ssize_t)len) {
		fprintf(stderr, "p2pio crc: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	printf("%08lx\n", crc32_z(0, p, len));
	free(p);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct utsname u;
	unsigned maj = 0, min = 0;
	bool p2p_io;
	FILE *f;

	if (argc == 5 && !strcmp(argv[1], "crc"))
		return crc_main(argv);

	uname(&u);
	sscanf(u.release, "%u.%u", &maj, &min);
	p2p_io = maj > 6 || (maj == 6 && min >= 2);
	devfd = open("/dev/p2pbroker", O_RDWR | O_CLOEXEC);
	scan();
	if (devfd < 0 || !iv8.bdf[0] || !iv2x.bdf[0] || !nvme.bdf[0] || access(NVME_DEV, R_OK)) {
		const char *why =
		    devfd < 0 ? "no /dev/p2pbroker" : "no ivshmem 8M/2M, NVMe or " NVME_DEV;
		const char *names[] = {"p2p_io_read",	      "p2p_io_write",
				       "p2p_io_refused",      "p2p_io_revoke",
				       "p2p_io_pin_outlives", "p2p_io_unbind_pinned"};

		if (!p2p_io)
			printf("P2PVM: FAIL p2p_io_fallback: %s\n", why);
		for (size_t i = 0; p2p_io && i < sizeof(names) / sizeof(names[0]); i++)
			printf("P2PVM: FAIL %s: %s\n", names[i], why);
		return 1;
	}
	bind_provider(&iv8);
	bind_provider(&iv2x);
	f = fopen("/run/p2pio-devices", "we");
	if (f) {
		fprintf(f, "IV8=%s\nIV2X=%s\nNVME=%s\n", iv8.bdf, iv2x.bdf, nvme.bdf);
		fclose(f);
	}
	info("p2pio: kernel %s, NVMe %s, providers %s (same switch) and %s (other host bridge)",
	     u.release, nvme.bdf, iv8.bdf, iv2x.bdf);
	if (p2p_io) {
		sc_rw(false);
		sc_rw(true);
		sc_bounced("p2p_io_refused", &iv2x, -EREMOTEIO);
		sc_revoke();
		sc_pin_outlives();
		sc_unbind_pinned();
	} else {
		sc_bounced("p2p_io_fallback", &iv8, -EOPNOTSUPP);
	}
	return n_fail;
}
