/* SPDX-License-Identifier: MIT */
/*
 * test-io.c - p2p_buffer_pread()/p2p_buffer_pwrite() on this machine (make
 * check-io): a memfd buffer (ordinary pages, so O_DIRECT into it works on any
 * kernel) against a file in $BUILD.  Checks the data, the split into direct
 * middle and bounced head/tail, P2P_IO_DIRECT_ONLY, end of file, an fd already
 * opened O_DIRECT, concurrent calls, and argument validation.  The p2p paths
 * (device pages, EREMOTEIO, 6.1's refusal, revoke) are tested in the VM tier
 * (tests/vm/guest/p2pio.c).
 * Prints "io: N passed, N failed".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "p2pclient.h"

#define MIB (1024u * 1024u)
#define FILE_SIZE (4 * MIB + 1000) /* not a multiple of the block size */

static int passed, failed;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			passed++;                                                                  \
		} else {                                                                           \
			failed++;                                                                  \
			printf("FAIL io line %d: ", __LINE__);                                     \
			printf(__VA_ARGS__);                                                       \
			printf("\n");                                                              \
		}                                                                                  \
	} while (0)

static uint8_t pattern(uint64_t off)
{
	uint64_t x = off * 0x9E3779B97F4A7C15ull;

	return (uint8_t)(x >> 56) ^ (uint8_t)off;
}

static bool same_as_file(const uint8_t *p, uint64_t file_off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pattern(file_off + i))
			return false;
	return true;
}

struct thr {
	struct p2p_buffer *buf;
	int fd;
	uint64_t off;
	int64_t r;
};

static void *reader(void *arg)
{
	struct thr *t = arg;

	t->r = p2p_buffer_pread(t->buf, t->off, t->fd, t->off, MIB, 0, NULL);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "build";
	struct p2p_io_stats st;
	struct p2p_buffer *buf = NULL;
	char path[4096];
	uint8_t *p, *data;
	int64_t r;
	int mfd, fd, dfd;

	snprintf(path, sizeof(path), "%s/test-io.dat", dir);
	data = malloc(FILE_SIZE);
	if (!data)
		return 1;
	for (uint64_t i = 0; i < FILE_SIZE; i++)
		data[i] = pattern(i);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || pwrite(fd, data, FILE_SIZE, 0) != FILE_SIZE || fsync(fd) < 0) {
		printf("FAIL io: cannot write %s: %s\nio: 0 passed, 1 failed\n", path,
		       strerror(errno));
		return 1;
	}

	mfd = memfd_create("test-io", MFD_CLOEXEC);
	CHECK(mfd >= 0 && ftruncate(mfd, 8 * MIB) == 0, "memfd: %s", strerror(errno));
	CHECK(p2p_buffer_map(mfd, 8 * MIB, &buf) == 0, "p2p_buffer_map failed");
	if (!buf) {
		printf("io: %d passed, %d failed\n", passed, failed + 1);
		return 1;
	}
	close(mfd); /* the library keeps its own duplicate */
	p = p2p_buffer_data(buf);
	CHECK(p && p2p_buffer_size(buf) == 8 * MIB, "data/size");

	/* Aligned: all direct. */
	r = p2p_buffer_pread(buf, 0, fd, 0, 2 * MIB, 0, &st);
	CHECK(r == 2 * MIB && same_as_file(p, 0, 2 * MIB), "aligned pread: %" PRId64, r);
	CHECK(st.bytes_direct == 2 * MIB && st.bytes_bounced == 0 && st.direct_error == 0,
	      "aligned pread path: direct %" PRIu64 " bounced %" PRIu64 " err %d", st.bytes_direct,
	      st.bytes_bounced, st.direct_error);
	r = p2p_buffer_pread(buf, 0, fd, 0, 2 * MIB, P2P_IO_DIRECT_ONLY, &st);
	CHECK(r == 2 * MIB && st.bytes_direct == 2 * MIB, "aligned DIRECT_ONLY: %" PRId64, r);

	/* Unaligned both ends, same phase: bounced head and tail, direct middle. */
	memset(p, 0, 8 * MIB);
	r = p2p_buffer_pread(buf, 100, fd, 100, MIB + 300, 0, &st);
	CHECK(r == MIB + 300 && same_as_file(p + 100, 100, MIB + 300), "unaligned pread: %" PRId64,
	      r);
	CHECK(st.bytes_bounced > 0 && st.bytes_direct > 0 &&
		  st.bytes_direct + st.bytes_bounced == MIB + 300 && st.direct_error == 0,
	      "unaligned pread path: direct %" PRIu64 " bounced %" PRIu64, st.bytes_direct,
	      st.bytes_bounced);
	CHECK(p[99] == 0 && p[100 + MIB + 300] == 0, "wrote outside the range");
	CHECK(p2p_buffer_pread(buf, 100, fd, 100, MIB + 300, P2P_IO_DIRECT_ONLY, &st) == -EINVAL,
	      "DIRECT_ONLY of an unaligned range not refused");

	/* P2P_IO_BOUNCE: everything bounced, no error; not with DIRECT_ONLY. */
	memset(p, 0, 8 * MIB);
	r = p2p_buffer_pread(buf, 0, fd, 0, MIB, P2P_IO_BOUNCE, &st);
	CHECK(r == MIB && same_as_file(p, 0, MIB) && st.bytes_bounced == MIB &&
		  st.bytes_direct == 0 && st.direct_error == 0,
	      "P2P_IO_BOUNCE: %" PRId64 " direct %" PRIu64, r, st.bytes_direct);
	CHECK(p2p_buffer_pread(buf, 0, fd, 0, MIB, P2P_IO_BOUNCE | P2P_IO_DIRECT_ONLY, &st) ==
		  -EINVAL,
	      "BOUNCE|DIRECT_ONLY accepted");

	/* Out of phase: everything bounced, still right. */
	memset(p, 0, 8 * MIB);
	r = p2p_buffer_pread(buf, 1, fd, 4096, MIB, 0, &st);
	CHECK(r == MIB && same_as_file(p + 1, 4096, MIB) && st.bytes_bounced == MIB &&
		  st.bytes_direct == 0 && st.direct_error == -EINVAL,
	      "out-of-phase pread: %" PRId64 " bounced %" PRIu64 " err %d", r, st.bytes_bounced,
	      st.direct_error);

	/* End of file: a short count, from the direct and the bounced part. */
	memset(p, 0, 8 * MIB);
	r = p2p_buffer_pread(buf, 0, fd, 3 * MIB, 2 * MIB, 0, &st);
	CHECK(r == MIB + 1000 && same_as_file(p, 3 * MIB, MIB + 1000),
	      "pread across EOF: %" PRId64 " (want %u)", r, MIB + 1000);
	r = p2p_buffer_pread(buf, 0, fd, FILE_SIZE, 4096, 0, &st);
	CHECK(r == 0, "pread at EOF: %" PRId64, r);

	/* An fd opened O_DIRECT: the bounce path reopens it without. */
	dfd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	CHECK(dfd >= 0, "open O_DIRECT: %s", strerror(errno));
	memset(p, 0, 8 * MIB);
	r = p2p_buffer_pread(buf, 7, dfd, 7, 3 * 4096, 0, &st);
	CHECK(r == 3 * 4096 && same_as_file(p + 7, 7, 3 * 4096) && st.bytes_direct >= 2 * 4096 &&
		  st.bytes_bounced > 0,
	      "O_DIRECT fd: %" PRId64 " direct %" PRIu64, r, st.bytes_direct);
	CHECK(fcntl(dfd, F_GETFL) & O_DIRECT, "caller's fd flags changed");
	close(dfd);

	/* pwrite: round trip through the file, then its contents. */
	for (uint64_t i = 0; i < 2 * MIB; i++)
		p[i] = (uint8_t)(pattern(i) ^ 0xff);
	r = p2p_buffer_pwrite(buf, 50, fd, 50, MIB, 0, &st);
	CHECK(r == MIB && st.bytes_direct > 0 && st.bytes_bounced > 0, "pwrite: %" PRId64, r);
	{
		uint8_t *back = malloc(MIB);
		bool ok = back && pread(fd, back, MIB, 50) == MIB;

		for (size_t i = 0; ok && i < MIB; i++) {
			uint8_t want = pattern(50 + i) ^ 0xff;

			ok = back[i] == want;
		}
		CHECK(ok, "file after pwrite differs");
		free(back);
	}
	CHECK(pwrite(fd, data, FILE_SIZE, 0) == FILE_SIZE, "restore");

	/* Concurrent calls on one buffer, disjoint ranges. */
	{
		struct thr t[4];
		pthread_t th[4];
		bool ok = true;

		memset(p, 0, 8 * MIB);
		for (int i = 0; i < 4; i++) {
			t[i] = (struct thr){.buf = buf, .fd = fd, .off = (uint64_t)i * MIB};
			pthread_create(&th[i], NULL, reader, &t[i]);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			ok = ok && t[i].r == MIB;
		}
		CHECK(ok && same_as_file(p, 0, 4 * MIB), "concurrent preads");
	}

	/* Validation. */
	CHECK(p2p_buffer_pread(buf, 8 * MIB - 10, fd, 0, 11, 0, &st) == -EINVAL, "range past end");
	CHECK(p2p_buffer_pread(buf, 9 * MIB, fd, 0, 0, 0, &st) == -EINVAL, "offset past end");
	CHECK(p2p_buffer_pread(buf, 0, fd, 0, 10, 1u << 5, &st) == -EINVAL, "unknown flag");
	CHECK(p2p_buffer_pread(buf, 0, -1, 0, 10, 0, &st) == -EINVAL, "bad fd");
	CHECK(p2p_buffer_pread(NULL, 0, fd, 0, 10, 0, &st) == -EINVAL, "NULL buffer");
	CHECK(p2p_buffer_pread(buf, 0, fd, UINT64_MAX - 5, 10, 0, &st) == -EINVAL, "offset wrap");
	CHECK(p2p_buffer_map(-1, MIB, &buf) == -EINVAL, "map bad fd");
	CHECK(p2p_buffer_map(fd, 0, &buf) == -EINVAL, "map size 0");
	{
		int pfd[2];
		CHECK(pipe2(pfd, O_CLOEXEC) == 0, "pipe");
		CHECK(p2p_buffer_pread(buf, 0, pfd[0], 0, 10, 0, &st) == -ESPIPE,
		      "pipe: not -ESPIPE");
		close(pfd[0]);
		close(pfd[1]);
	}

	/* A file that cannot be opened O_DIRECT (procfs): the direct middle
	 * fails, everything is bounced and the reason is reported; refused
	 * under DIRECT_ONLY. */
	{
		int kfd = open("/proc/kallsyms", O_RDONLY | O_CLOEXEC);
		uint8_t *ref = malloc(8192);
		size_t got = 0;
		ssize_t n = 1;

		while (kfd >= 0 && ref && got < 8192 &&
		       (n = pread(kfd, ref + got, 8192 - got, (off_t)got)) > 0)
			got += (size_t)n;
		if (got < 8192) {
			printf("  (no 8 KiB of /proc/kallsyms here: the failed-O_DIRECT fallback "
			       "is not checked)\n");
		} else {
			memset(p, 0, 8192);
			r = p2p_buffer_pread(buf, 0, kfd, 0, 8192, 0, &st);
			CHECK(r == 8192 && memcmp(p, ref, 8192) == 0 && st.bytes_direct == 0 &&
				  st.bytes_bounced == 8192 && st.direct_error == -EINVAL,
			      "procfs file: %" PRId64 " direct %" PRIu64 " bounced %" PRIu64
			      " err %d",
			      r, st.bytes_direct, st.bytes_bounced, st.direct_error);
			CHECK(p2p_buffer_pread(buf, 0, kfd, 0, 8192, P2P_IO_DIRECT_ONLY, &st) ==
				  -EINVAL,
			      "DIRECT_ONLY on a file without O_DIRECT not refused");
		}
		if (kfd >= 0)
			close(kfd);
		free(ref);
	}

	/* Mapping what cannot be mapped, and accessors without a buffer. */
	{
		struct p2p_buffer *nb = NULL;
		int pfd[2], closed;

		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pfd) == 0, "socketpair");
		CHECK(p2p_buffer_map(pfd[0], 4096, &nb) == -ENODEV && !nb,
		      "map a socket: not -ENODEV");
		closed = pfd[0];
		close(pfd[0]);
		close(pfd[1]);
		CHECK(p2p_buffer_map(closed, 4096, &nb) == -EBADF && !nb,
		      "map a closed fd: not -EBADF");
		CHECK(p2p_buffer_map(fd, 4096, NULL) == -EINVAL, "map without ret_buf");
		CHECK(p2p_buffer_data(NULL) == NULL && p2p_buffer_size(NULL) == 0,
		      "data/size of no buffer");
	}

	p2p_buffer_unmap(buf);
	p2p_buffer_unmap(NULL);
	close(fd);
	unlink(path);
	free(data);
	printf("io: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
