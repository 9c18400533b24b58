// SPDX-License-Identifier: MIT
/*
 * p2pio - the P2P I/O scenarios (issue 10), run as root in the `max` guest
 * after p2pbtest, with p2pbroker.ko loaded and the ivshmem providers bound.
 *
 *   p2pio          kernel >= 6.2: p2p_io_read p2p_io_write p2p_io_refused p2p_io_revoke
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
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

static long long sysfs_num(const char *bdf, const char *attr)
{
	char path[256], buf[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return buf[0] ? strtoll(buf, NULL, 0) : -1;
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
		const char *names[] = {"p2p_io_read", "p2p_io_write", "p2p_io_refused",
				       "p2p_io_revoke"};

		if (!p2p_io)
			printf("P2PVM: FAIL p2p_io_fallback: %s\n", why);
		for (int i = 0; p2p_io && i < 4; i++)
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
	} else {
		sc_bounced("p2p_io_fallback", &iv8, -EOPNOTSUPP);
	}
	return n_fail;
}
