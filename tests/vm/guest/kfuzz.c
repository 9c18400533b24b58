// SPDX-License-Identifier: MIT
/*
 * kfuzz - a bounded, seeded fuzzer of /dev/p2pbroker, run as root inside the
 * guest (make vmcheck-fuzz, on the lockdep+KASAN+DMA-API-debug kernel).
 *
 *   kfuzz SECONDS [SEED]
 *
 * Several processes race for SECONDS: random ioctls with random sizes,
 * flags, reserved fields, BDFs and user pointers (bad ones included);
 * allocations that are mmapped, touched, shared, described, revoked and
 * closed in random order; importer attach/map/remap/release through
 * p2pb_test_importer; and one process that unbinds and rebinds the
 * providers.  Every op is counted in shared memory.  The kernel's verdict on
 * all of it is dmesg: the guest init counts WARN/BUG/KASAN/lockdep/DMA-API
 * reports and prints "kmod-fuzz: N ops, M kernel splats".
 *
 * Prints "KFUZZ: ops N" at the end; exit status 0 unless the fuzzer itself
 * could not run (no device, no provider).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/p2pbroker.h>

#include "p2pb_test_importer.h"

#define MAX_PROV 16
#define MAX_FNS 64
#define MAX_HELD 16
#define WORKERS 4

struct shared {
	atomic_ullong ops;
	atomic_ullong allocs;
	atomic_ullong revokes;
	atomic_ullong unbinds;
	atomic_ullong imports;
};

static struct shared *sh;
static char prov[MAX_PROV][32];
static uint64_t prov_bdf[MAX_PROV];
static int nprov;
static uint64_t fn_bdf[MAX_FNS];
static int nfns;
static uint64_t rng;
static sigjmp_buf jmp;
static volatile sig_atomic_t in_touch;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from the seed. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static uint64_t pick(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static void on_fault(int sig)
{
	(void)sig;
	if (in_touch)
		siglongjmp(jmp, 1);
	_exit(3);
}

static int read_line(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -1 : 0;
}

static uint64_t packed(const char *bdf)
{
	unsigned int d, b, s, f;

	if (sscanf(bdf, "%x:%x:%x.%x", &d, &b, &s, &f) != 4)
		return 0;
	return P2PB_BDF(d, b, (s << 3) | f);
}

/* Providers: functions that have p2p memory now (p2pbroker-bound or NVMe CMB). */
static void scan(void)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	char path[300], buf[64];

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (nfns < MAX_FNS)
			fn_bdf[nfns++] = packed(e->d_name);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/p2pmem/size", e->d_name);
		if (nprov < MAX_PROV && read_line(path, buf, sizeof(buf)) == 0) {
			snprintf(prov[nprov], sizeof(prov[0]), "%s", e->d_name);
			prov_bdf[nprov++] = packed(e->d_name);
		}
	}
	if (d)
		closedir(d);
}

/* A size: mostly small page multiples, sometimes zero, odd, huge. */
static uint64_t fuzz_size(void)
{
	switch (pick(8)) {
	case 0:
		return 0;
	case 1:
		return 1 + pick(8191);
	case 2:
		return rnd();
	case 3:
		return (1ULL << (20 + pick(20)));
	default:
		return (1 + pick(64)) * 4096ULL;
	}
}

static uint64_t fuzz_bdf(void)
{
	switch (pick(4)) {
	case 0:
		return rnd();
	case 1:
		return nfns ? fn_bdf[pick((uint64_t)nfns)] : 0;
	default:
		return nprov ? prov_bdf[pick((uint64_t)nprov)] : 0;
	}
}

/* A user pointer: valid, NULL, unmapped, kernel-half, or read-only. */
static uint64_t fuzz_ptr(void *valid)
{
	static const char ro[64];

	switch (pick(6)) {
	case 0:
		return 0;
	case 1:
		return 0x10;
	case 2:
		return 0xffff888000000000ULL;
	case 3:
		return (uint64_t)(uintptr_t)ro;
	default:
		return (uint64_t)(uintptr_t)valid;
	}
}

static unsigned int fuzz_ioc_size(unsigned int real)
{
	switch (pick(6)) {
	case 0:
		return 0;
	case 1:
		return real / 2;
	case 2:
		return real + 8 * (1 + (unsigned int)pick(8));
	default:
		return real;
	}
}

/* The ioctl number with a fuzzed size field (dispatch must tolerate it). */
static unsigned long with_size(unsigned long cmd, unsigned int size)
{
	return (cmd & ~((unsigned long)_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
	       ((unsigned long)(size & _IOC_SIZEMASK) << _IOC_SIZESHIFT);
}

struct held {
	int fd;
	uint64_t id;
	size_t size;
	void *map;
};

static struct held held[MAX_HELD];

static void held_drop(struct held *h)
{
	if (h->map)
		munmap(h->map, h->size);
	if (h->fd >= 0)
		close(h->fd);
	memset(h, 0, sizeof(*h));
	h->fd = -1;
}

static void touch(struct held *h)
{
	volatile uint8_t *volatile p = h->map;

	if (!p)
		return;
	in_touch = 1;
	if (!sigsetjmp(jmp, 1)) {
		size_t off = pick(h->size) & ~(size_t)7;

		p[off] = (uint8_t)rnd();
		(void)p[pick(h->size)];
	}
	in_touch = 0;
}

static void op_alloc(int dev)
{
	struct held *h = &held[pick(MAX_HELD)];
	uint8_t raw[sizeof(struct p2pb_alloc) + 64];
	struct p2pb_alloc *a = (struct p2pb_alloc *)raw;
	unsigned int sz = fuzz_ioc_size(sizeof(*a));
	int ret;

	memset(raw, 0, sizeof(raw));
	a->size = pick(4) ? (1 + pick(16)) * 4096ULL : fuzz_size();
	a->type = pick(6) ? (uint32_t)(1 + pick(2)) : (uint32_t)rnd();
	a->provider = a->type == P2PB_BUF_HOST && pick(8) ? 0 : fuzz_bdf();
	a->flags = pick(8) ? 0 : (uint32_t)rnd();
	a->owner_uid = (uint32_t)pick(70000);
	if (!pick(8))
		raw[sizeof(*a) + pick(64)] = (uint8_t)rnd();
	ret = ioctl(dev, with_size(P2PB_IOC_ALLOC, sz), raw);
	if (ret < 0 || sz < sizeof(*a))
		return;
	atomic_fetch_add(&sh->allocs, 1);
	held_drop(h);
	h->fd = (int)a->fd;
	h->id = a->id;
	h->size = (size_t)a->size;
	if (pick(4)) {
		int flags = pick(8) ? MAP_SHARED : MAP_PRIVATE;
		void *p = mmap(NULL, h->size, PROT_READ | PROT_WRITE, flags, h->fd,
			       (off_t)(pick(4) ? 0 : pick(4) * 4096));

		h->map = p == MAP_FAILED ? NULL : p;
	}
}

static void op_describe(int dev)
{
	struct p2pb_describe d;

	memset(&d, 0, sizeof(d));
	d.fd = pick(4) ? held[pick(MAX_HELD)].fd : (int)pick(64) - 2;
	d.reserved = pick(8) ? 0 : (uint32_t)rnd();
	ioctl(dev, with_size(P2PB_IOC_DESCRIBE, fuzz_ioc_size(sizeof(d))), &d);
}

static void op_list(int dev)
{
	struct p2pb_buf_info e[32];
	struct p2pb_list l;

	memset(&l, 0, sizeof(l));
	l.count = pick(4) ? (uint32_t)pick(33) : (uint32_t)rnd();
	l.entries = fuzz_ptr(e);
	ioctl(dev, with_size(P2PB_IOC_LIST, fuzz_ioc_size(sizeof(l))), &l);
}

static void op_revoke(int dev)
{
	struct p2pb_revoke r;

	memset(&r, 0, sizeof(r));
	r.id = pick(4) ? held[pick(MAX_HELD)].id + pick(2) : rnd();
	r.flags = pick(8) ? 0 : (uint32_t)rnd();
	r.reserved = pick(8) ? 0 : (uint32_t)rnd();
	if (ioctl(dev, P2PB_IOC_REVOKE, &r) == 0)
		atomic_fetch_add(&sh->revokes, 1);
}

static void op_verdict(int dev)
{
	struct p2pb_verdict_client c[P2PB_MAX_VERDICT_CLIENTS + 2];
	struct p2pb_verdict v;
	uint32_t i;

	memset(c, 0, sizeof(c));
	memset(&v, 0, sizeof(v));
	v.provider = fuzz_bdf();
	v.num_clients = pick(4) ? (uint32_t)pick(P2PB_MAX_VERDICT_CLIENTS + 2) : (uint32_t)rnd();
	for (i = 0; i < P2PB_MAX_VERDICT_CLIENTS + 2; i++) {
		c[i].bdf = fuzz_bdf();
		if (!pick(16))
			memset((char *)&c[i] + sizeof(c[i].bdf), 0xff,
			       sizeof(c[i]) - sizeof(c[i].bdf));
	}
	v.clients = fuzz_ptr(c);
	ioctl(dev, with_size(P2PB_IOC_KERNEL_VERDICT, fuzz_ioc_size(sizeof(v))), &v);
}

static void op_garbage(int dev)
{
	uint8_t raw[256];
	unsigned long cmd = (unsigned long)rnd() & 0xffffffffUL;

	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)rnd();
	if (pick(2))
		cmd = _IOC(pick(4), P2PB_IOC_MAGIC, pick(12), pick(256));
	ioctl(dev, cmd, pick(8) ? (unsigned long)(uintptr_t)raw : (unsigned long)rnd());
}

static void op_import(int ti)
{
	struct p2pb_ti_import im;
	struct p2pb_ti_query q;

	if (ti < 0)
		return;
	switch (pick(3)) {
	case 0:
		memset(&im, 0, sizeof(im));
		im.fd = held[pick(MAX_HELD)].fd;
		im.flags = (uint32_t)pick(4) | (pick(16) ? 0 : (uint32_t)rnd());
		im.bdf = fuzz_bdf();
		if (ioctl(ti, P2PB_TI_IOC_IMPORT, &im) == 0)
			atomic_fetch_add(&sh->imports, 1);
		break;
	case 1:
		memset(&q, 0, sizeof(q));
		q.flags = (uint32_t)pick(2);
		ioctl(ti, P2PB_TI_IOC_QUERY, &q);
		break;
	default:
		ioctl(ti, P2PB_TI_IOC_RELEASE);
		break;
	}
}

static void worker(int idx, time_t end)
{
	int dev = open("/dev/p2pbroker", O_RDWR | O_CLOEXEC);
	int ti = open("/dev/p2pb_test_importer", O_RDWR | O_CLOEXEC);
	unsigned long long n = 0;

	rng ^= (uint64_t)(idx + 1) * 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < MAX_HELD; i++)
		held[i].fd = -1;
	while (time(NULL) < end) {
		struct held *h = &held[pick(MAX_HELD)];

		switch (pick(16)) {
		case 0:
		case 1:
		case 2:
			op_alloc(dev);
			break;
		case 3:
			op_describe(dev);
			break;
		case 4:
			op_list(dev);
			break;
		case 5:
			op_revoke(dev);
			break;
		case 6:
			op_verdict(dev);
			break;
		case 7:
			op_garbage(dev);
			break;
		case 8:
		case 9:
			op_import(ti);
			break;
		case 10:
		case 11:
			touch(h);
			break;
		case 12:
			held_drop(h);
			break;
		case 13:
			if (ti >= 0 && !pick(4)) {
				/* Drop the importer fd with whatever it holds. */
				close(ti);
				ti = open("/dev/p2pb_test_importer", O_RDWR | O_CLOEXEC);
			}
			break;
		case 14:
			if (h->fd >= 0 && !pick(2)) {
				/* Share with a short-lived child that touches and exits. */
				pid_t pid = fork();

				if (pid == 0) {
					touch(h);
					_exit(0);
				}
				if (pid > 0)
					waitpid(pid, NULL, 0);
			}
			break;
		default:
			if (h->map && h->size)
				madvise(h->map, h->size, pick(2) ? MADV_DONTNEED : MADV_WILLNEED);
			break;
		}
		n++;
		if (!(n & 63)) {
			atomic_fetch_add(&sh->ops, 64);
			n -= 64;
		}
	}
	atomic_fetch_add(&sh->ops, n);
	for (int i = 0; i < MAX_HELD; i++)
		held_drop(&held[i]);
	if (ti >= 0)
		close(ti);
	if (dev >= 0)
		close(dev);
}

/* Unbind and rebind a provider now and then, with buffers live. */
static void unbinder(time_t end)
{
	char path[300], drv[64];

	while (time(NULL) < end) {
		const char *bdf = prov[pick((uint64_t)nprov)];
		struct timespec ts = {0, (long)(50 + pick(250)) * 1000000L};

		nanosleep(&ts, NULL);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
		if (read_line(path, drv, sizeof(drv)) != 0 || strcmp(drv, "p2pbroker"))
			continue; /* only devices bound through p2pbroker */
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
		if (write_str(path, bdf) == 0)
			atomic_fetch_add(&sh->unbinds, 1);
		nanosleep(&ts, NULL);
		write_str("/sys/bus/pci/drivers_probe", bdf);
		atomic_fetch_add(&sh->ops, 2);
	}
}

/*
 * DMA-API debug prints only its first report (show_num_errors): copy its
 * total error count into dmesg, where the init counts it as a splat, so
 * that a second kind of report after the first is not missed.
 */
static void report_dma_api_errors(void)
{
	static const char path[] = "/sys/kernel/debug/dma-api/error_count";
	char buf[96] = "";
	long long n;

	if (access(path, F_OK) != 0)
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (read_line(path, buf, sizeof(buf)) != 0)
		return; /* a kernel without CONFIG_DMA_API_DEBUG */
	n = strtoll(buf, NULL, 10);
	printf("KFUZZ: DMA-API debug errors %lld\n", n);
	if (n > 1) {
		snprintf(buf, sizeof(buf), "kfuzz: DMA-API: %lld errors, dmesg shows the first\n", n);
		write_str("/dev/kmsg", buf);
	}
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 30;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : (uint64_t)time(NULL);
	struct sigaction sa = {.sa_handler = on_fault};
	pid_t pids[WORKERS + 1];
	time_t end;
	int np = 0, dev;

	if (seconds <= 0 || seconds > 3600) {
		fprintf(stderr, "kfuzz: SECONDS must be 1..3600\n");
		return 2;
	}
	dev = open("/dev/p2pbroker", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		printf("KFUZZ: ERROR /dev/p2pbroker: %s\n", strerror(errno));
		return 1;
	}
	close(dev);
	scan();
	printf("KFUZZ: seed 0x%" PRIx64 ", %d s, %d workers, %d providers\n", seed, seconds,
	       WORKERS, nprov);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	end = time(NULL) + seconds;
	rng = seed | 1;
	for (int i = 0; i < WORKERS; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			worker(i, end);
			_exit(0);
		}
		if (pid > 0)
			pids[np++] = pid;
	}
	if (nprov) {
		pid_t pid = fork();

		if (pid == 0) {
			rng ^= 0xabcdefULL;
			unbinder(end);
			_exit(0);
		}
		if (pid > 0)
			pids[np++] = pid;
	}
	for (int i = 0; i < np; i++) {
		int st;

		if (waitpid(pids[i], &st, 0) > 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			printf("KFUZZ: INFO process %d ended with status 0x%x\n", (int)pids[i], st);
	}
	/* Providers end bound again, for the checks that follow. */
	for (int i = 0; i < nprov; i++)
		write_str("/sys/bus/pci/drivers_probe", prov[i]);
	printf("KFUZZ: allocs %llu revokes %llu unbinds %llu imports %llu\n",
	       (unsigned long long)sh->allocs, (unsigned long long)sh->revokes,
	       (unsigned long long)sh->unbinds, (unsigned long long)sh->imports);
	report_dma_api_errors();
	printf("KFUZZ: ops %llu\n", (unsigned long long)sh->ops);
	return 0;
}
