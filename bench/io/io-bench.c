/* SPDX-License-Identifier: MIT */
/*
 * io-bench.c - P2P I/O, direct vs bounce, for the same transfer (runs as root
 * in the VM guest: tests/vm, setup max, after p2pio; or on a real server).
 *
 *   io-bench DEV PROVIDER_BDF [MIB [ROUNDS]]
 *
 * Reads MIB MiB (default 8) of DEV from 1 MiB on into a p2p buffer on
 * PROVIDER (from /dev/p2pbroker), ROUNDS times (default 3) each way,
 * interleaved: p2p_buffer_pread() direct (P2P_IO_DIRECT_ONLY) and bounced
 * (P2P_IO_BOUNCE, GPUDirect Storage's compat mode).  The block device's page
 * cache is flushed (BLKFLSBUF) before every transfer, so both read the NVMe.
 *
 * Per byte moved it reports the bytes that crossed host memory: the device's
 * DMA into the page cache (measured: /proc/meminfo Buffers grows by it) plus
 * the CPU copy out of it into the buffer (the bytes the library bounced), and
 * the CPU time (user + system, getrusage) per GiB; then the ratios side by
 * side.  Prints "bench-io: ..." lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <linux/p2pbroker.h>

#include "p2pclient.h"

#define MIB ((uint64_t)1024 * 1024)

struct mode {
	const char *name;
	unsigned flags;
	double cpu_s, wall_s;
	uint64_t moved, cache_bytes, copied;
};

static long long meminfo_kb(const char *key)
{
	char line[256];
	long long v = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			v = strtoll(line + strlen(key) + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static double cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double wall_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int run(struct mode *m, struct p2p_buffer *buf, int fd, uint64_t len)
{
	struct p2p_io_stats st;
	long long kb0, kb1;
	double c0, w0;
	int64_t r;

	if (ioctl(fd, BLKFLSBUF, 0) < 0)
		return -errno;
	kb0 = meminfo_kb("Buffers");
	c0 = cpu_now();
	w0 = wall_now();
	r = p2p_buffer_pread(buf, 0, fd, MIB, len, m->flags, &st);
	m->wall_s += wall_now() - w0;
	m->cpu_s += cpu_now() - c0;
	kb1 = meminfo_kb("Buffers");
	if (r != (int64_t)len)
		return r < 0 ? (int)r : -EIO;
	m->moved += (uint64_t)r;
	m->cache_bytes += kb1 > kb0 ? (uint64_t)(kb1 - kb0) * 1024 : 0;
	m->copied += st.bytes_bounced;
	return 0;
}

static double per_byte(const struct mode *m)
{
	return m->moved ? (double)(m->cache_bytes + m->copied) / (double)m->moved : 0;
}

static double cpu_per_gib(const struct mode *m)
{
	return m->moved ? m->cpu_s / ((double)m->moved / (1024.0 * MIB)) : 0;
}

int main(int argc, char **argv)
{
	struct mode modes[2] = {{.name = "direct", .flags = P2P_IO_DIRECT_ONLY},
				{.name = "bounce", .flags = P2P_IO_BOUNCE}};
	unsigned dom, bus, dev, func;
	uint64_t len;
	int rounds, fd, pfd, r = 0;
	struct p2pb_alloc a = {.type = P2PB_BUF_P2P};
	struct p2p_buffer *buf;

	if (argc < 3 || sscanf(argv[2], "%x:%x:%x.%x", &dom, &bus, &dev, &func) != 4) {
		fprintf(stderr, "usage: io-bench DEV PROVIDER_BDF [MIB [ROUNDS]]\n");
		return 2;
	}
	len = (argc > 3 ? strtoull(argv[3], NULL, 0) : 8) * MIB;
	rounds = argc > 4 ? atoi(argv[4]) : 3;
	if (!len || rounds <= 0)
		return 2;
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	pfd = open("/dev/p2pbroker", O_RDWR | O_CLOEXEC);
	a.size = len;
	a.provider = P2PB_BDF(dom, bus, (dev << 3) | func);
	if (fd < 0 || pfd < 0 || ioctl(pfd, P2PB_IOC_ALLOC, &a) < 0) {
		fprintf(stderr, "bench-io: %s, /dev/p2pbroker, ALLOC on %s: %s\n", argv[1], argv[2],
			strerror(errno));
		return 1;
	}
	if (p2p_buffer_map(a.fd, len, &buf) < 0) {
		fprintf(stderr, "bench-io: cannot map the buffer\n");
		return 1;
	}
	for (int i = 0; i < rounds && !r; i++)
		for (int k = 0; k < 2 && !r; k++)
			r = run(&modes[k], buf, fd, len);
	if (r) {
		fprintf(stderr, "bench-io: %s transfer failed: %s\n",
			modes[0].moved ? "bounce" : "direct", strerror(-r));
		return 1;
	}
	printf("bench-io: %s -> p2p buffer on %s, %d x %" PRIu64 " MiB each way\n", argv[1],
	       argv[2], rounds, (uint64_t)(len / MIB));
	for (int k = 0; k < 2; k++)
		printf("bench-io: %-6s  host-memory bytes per byte moved %.2f (page cache %" PRIu64
		       " B, CPU copy %" PRIu64 " B), CPU %.3f s/GiB, %.1f MB/s\n",
		       modes[k].name, per_byte(&modes[k]), modes[k].cache_bytes, modes[k].copied,
		       cpu_per_gib(&modes[k]), (double)modes[k].moved / 1e6 / modes[k].wall_s);
	printf("bench-io: ratios bounce/direct: host-memory bytes %.2f vs %.2f per byte; CPU time "
	       "x%.2f (%.3f vs %.3f s/GiB); wall time x%.2f\n",
	       per_byte(&modes[1]), per_byte(&modes[0]),
	       cpu_per_gib(&modes[0]) > 0 ? cpu_per_gib(&modes[1]) / cpu_per_gib(&modes[0]) : 0,
	       cpu_per_gib(&modes[1]), cpu_per_gib(&modes[0]),
	       modes[0].wall_s > 0 ? modes[1].wall_s / modes[0].wall_s : 0);
	p2p_buffer_unmap(buf);
	close(a.fd);
	return 0;
}
