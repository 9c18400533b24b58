/* SPDX-License-Identifier: MIT */
/*
 * bench/alloc.c - p2pd buffer allocation against its limit, in one run:
 *  (a) the limit: memfd_create+ftruncate in-process, plus a bare SEQPACKET
 *      round trip carrying one SCM_RIGHTS fd between two processes;
 *  (a1w) a1 plus what p2pd must do for each memfd buffer besides: seals and
 *      an inotify watch on its inode, and reading the events its end brings
 *      (the limit of a daemon that keeps memfd bytes on the quota until the
 *      memory is gone);
 *  (b0) p2pd alloc + p2p_release() through libp2pclient, one client: two
 *      blocking round trips per op;
 *  (b) p2pd alloc + p2p_release_nowait(), one client: one round trip per op
 *      (with the daemon's release-noreply feature the release is not
 *      answered at all; without it its answer is read with the next alloc's);
 *  (c) (b) with 16 concurrent clients (forked, connected and said hello before
 *      the clock starts; it stops when the last one is done);
 * "floor (a1w + a2)/(a)" is the best (b)/(a) a daemon can reach that seals its
 * memfds and watches them for the quota, with no cost of its own beyond them;
 * p50/p99 latency, ops/s, the ratios, and p2pd's RSS per 10k live buffers.
 * a1, a1w, a2, b0, b and c run in ROUNDS (5) interleaved rounds of OPS/ROUNDS each
 * (c: split among the clients); each row is the median over rounds, and
 * (c)/(b) is also given per round (this machine's noise moves it most).
 * Ratios are printed, not asserted.
 *
 * usage: bench-alloc P2PD FIXTURE_ROOT [OPS]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "p2pclient.h"

#define BUF_SIZE 65536
#define NCLIENTS 16
#define ROUNDS 5

static char tmpdir[64], sock_path[128], cfg_path[128];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct result {
	double p50_us, p99_us, ops_s;
};

static struct result summarize(uint64_t *lat, size_t n, uint64_t wall_ns, size_t total_ops)
{
	struct result r;

	qsort(lat, n, sizeof(*lat), cmp_u64);
	r.p50_us = (double)lat[n / 2] / 1000.0;
	r.p99_us = (double)lat[(n * 99) / 100] / 1000.0;
	r.ops_s = (double)total_ops / ((double)wall_ns / 1e9);
	return r;
}

static void print_row(const char *name, struct result r)
{
	printf("%-58s p50 %9.2f us   p99 %9.2f us   %10.0f ops/s\n", name, r.p50_us, r.p99_us,
	       r.ops_s);
}

/* (a1) memfd_create + ftruncate + close, in-process.  With @guard, also what
 * p2pd does for every memfd buffer beyond that: seal it against resizing and
 * watch its inode (inotify IN_DELETE_SELF through /proc/self/fd) so that its
 * bytes leave the uid's quota only when the memory is gone, then read the
 * events its end brings (a1w). */
static struct result bench_memfd(size_t ops, bool guard)
{
	uint64_t *lat = calloc(ops, sizeof(*lat)), t0 = now_ns();
	int in = guard ? inotify_init1(IN_NONBLOCK | IN_CLOEXEC) : -1;
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct result r;

	if (guard && in < 0)
		exit(1);
	for (size_t i = 0; i < ops; i++) {
		uint64_t s = now_ns();
		int fd = memfd_create("bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);

		if (fd < 0 || ftruncate(fd, BUF_SIZE) < 0)
			exit(1);
		if (guard) {
			char path[40];

			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW) < 0 ||
			    inotify_add_watch(in, path, IN_DELETE_SELF) < 0)
				exit(1);
		}
		close(fd);
		while (guard && read(in, ev, sizeof(ev)) > 0)
			;
		lat[i] = now_ns() - s;
	}
	r = summarize(lat, ops, now_ns() - t0, ops);
	if (in >= 0)
		close(in);
	free(lat);
	return r;
}

static int send_fd(int sock, const void *buf, size_t len, int fd)
{
	struct iovec iov = {(void *)buf, len};
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(cbuf, 0, sizeof(cbuf));
		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static int recv_fd(int sock, void *buf, size_t len)
{
	struct iovec iov = {buf, len};
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;
	int fd = -1;

	if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) <= 0)
		return -2;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* (a2) request -> reply with one fd, between two processes */
static struct result bench_seqpacket(size_t ops)
{
	uint64_t *lat = calloc(ops, sizeof(*lat)), t0;
	char req[64] = "{\"size\":65536}", rep[256];
	struct result r;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		int mfd = memfd_create("bench", MFD_CLOEXEC);

		close(sv[0]);
		memset(rep, 'x', sizeof(rep));
		for (;;) {
			if (recv(sv[1], req, sizeof(req), 0) <= 0)
				_exit(0);
			if (send_fd(sv[1], rep, 200, mfd) < 0)
				_exit(0);
		}
	}
	close(sv[1]);
	t0 = now_ns();
	for (size_t i = 0; i < ops; i++) {
		uint64_t s = now_ns();
		int fd;

		send(sv[0], req, 16 + strlen(req), 0);
		fd = recv_fd(sv[0], rep, sizeof(rep));
		if (fd < 0)
			exit(1);
		close(fd);
		lat[i] = now_ns() - s;
	}
	r = summarize(lat, ops, now_ns() - t0, ops);
	close(sv[0]);
	waitpid(pid, NULL, 0);
	free(lat);
	return r;
}

/* (b0)/(b)/(c) a client as a program has it: connected, and told the library
 * what the daemon can (hello).  Not part of the timed ops. */
static struct p2p_conn *client_open(void)
{
	struct p2p_conn *c;

	if (p2p_connect(sock_path, &c) < 0)
		return NULL;
	if (p2p_hello(c, NULL) < 0) {
		fprintf(stderr, "hello: %s\n", p2p_last_message(c));
		p2p_disconnect(c);
		return NULL;
	}
	return c;
}

/* One client's loop: alloc memfd, close the fd, release; then wait for the
 * last release's answer, if any (p2p_flush()). */
static int client_loop(struct p2p_conn *c, size_t ops, uint64_t *lat, bool nowait)
{
	struct p2p_alloc_req req = {.size = BUF_SIZE, .types = P2P_BUF_MEMFD};
	struct p2p_buffer_info info;

	for (size_t i = 0; i < ops; i++) {
		uint64_t s = now_ns();
		int fd, r = p2p_alloc(c, &req, &info, &fd, NULL);

		if (r < 0) {
			fprintf(stderr, "alloc: %s\n", p2p_last_message(c));
			return -1;
		}
		close(fd);
		r = nowait ? p2p_release_nowait(c, info.id) : p2p_release(c, info.id);
		if (r < 0) {
			fprintf(stderr, "release: %s\n", p2p_last_message(c));
			return -1;
		}
		lat[i] = now_ns() - s;
	}
	if (p2p_flush(c) < 0) {
		fprintf(stderr, "release: %s\n", p2p_last_message(c));
		return -1;
	}
	return 0;
}

/* A forked client of (c): connect, say it is ready, wait for the start (EOF
 * on @go), run, and store when it finished in *@end. */
static int client_child(size_t ops, uint64_t *lat, bool nowait, int ready, int go, uint64_t *end)
{
	struct p2p_conn *c = client_open();
	char b = c ? 'r' : 'x';
	int r;

	if (write(ready, &b, 1) != 1 || !c)
		return 1;
	while (read(go, &b, 1) < 0 && errno == EINTR)
		;
	r = client_loop(c, ops, lat, nowait);
	*end = now_ns();
	p2p_disconnect(c);
	return r < 0;
}

/*
 * @nclients clients of @ops ops each.  Every client is connected before the
 * clock starts, and the clock stops when the last one is done: the ops/s are
 * the daemon's steady-state rate, not that plus 16 forks, connects and hellos
 * (those took about 40 ms of a 4000-op (c) on the 2-vCPU VM).
 */
static struct result bench_clients(int nclients, size_t ops, bool nowait)
{
	size_t n = (size_t)nclients * ops;
	size_t shared = (n + (size_t)nclients) * sizeof(uint64_t);
	uint64_t *lat =
	    mmap(NULL, shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t *end, t0, t1 = 0;
	struct result r;
	int bad = 0, ready[2], go[2];

	if (lat == MAP_FAILED)
		exit(1);
	end = lat + n;
	if (nclients == 1) {
		struct p2p_conn *c = client_open();

		if (!c)
			exit(1);
		t0 = now_ns();
		bad = client_loop(c, ops, lat, nowait) < 0;
		t1 = now_ns();
		p2p_disconnect(c);
	} else {
		if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
			exit(1);
		for (int i = 0; i < nclients; i++) {
			if (fork() == 0) {
				close(ready[0]);
				close(go[1]);
				_exit(client_child(ops, lat + (size_t)i * ops, nowait, ready[1],
						   go[0], &end[i]));
			}
		}
		close(ready[1]);
		close(go[0]);
		for (int i = 0; i < nclients; i++) {
			char b = 'x';

			if (read(ready[0], &b, 1) != 1 || b != 'r')
				bad = 1;
		}
		close(ready[0]);
		t0 = now_ns();
		close(go[1]); /* EOF: every client starts */
		for (int i = 0; i < nclients; i++) {
			int st;

			wait(&st);
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				bad = 1;
		}
		for (int i = 0; i < nclients; i++)
			t1 = end[i] > t1 ? end[i] : t1;
	}
	if (bad) {
		fprintf(stderr, "bench-alloc: a client failed\n");
		exit(1);
	}
	r = summarize(lat, n, t1 - t0, n);
	munmap(lat, shared);
	return r;
}

/* Does the daemon answer a release only when it fails? */
static bool daemon_noreply(void)
{
	struct p2p_conn *c;
	char *json = NULL;
	bool yes;

	if (p2p_connect(sock_path, &c) < 0)
		return false;
	yes = p2p_request_json(c, 1 /* hello */, "{\"version\":1}", &json) == 0 &&
	      strstr(json, "\"release-noreply\"");
	free(json);
	p2p_disconnect(c);
	return yes;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of each field over @n rounds. */
static struct result median_of(struct result *r, int n)
{
	double v[ROUNDS];
	struct result m;

	for (int i = 0; i < n; i++)
		v[i] = r[i].p50_us;
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	m.p50_us = v[n / 2];
	for (int i = 0; i < n; i++)
		v[i] = r[i].p99_us;
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	m.p99_us = v[n / 2];
	for (int i = 0; i < n; i++)
		v[i] = r[i].ops_s;
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	m.ops_s = v[n / 2];
	return m;
}

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	size_t ops = argc > 3 ? strtoul(argv[3], NULL, 10) : 20000;
	struct result memfd, guard, seq, one, two, many, rm[ROUNDS], rw[ROUNDS], rs[ROUNDS],
	    r1[ROUNDS], r2[ROUNDS], rc[ROUNDS];
	double cb[ROUNDS];
	size_t per;
	char tmpl[] = "/tmp/p2pd-bench.XXXXXX";
	struct p2p_conn *c = NULL;
	pid_t pid;
	FILE *f;
	long rss0, rss1;

	if (argc < 3) {
		fprintf(stderr, "usage: bench-alloc P2PD FIXTURE_ROOT [OPS]\n");
		return 2;
	}
	if (!mkdtemp(tmpl))
		return 1;
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	snprintf(sock_path, sizeof(sock_path), "%s/p2pd.sock", tmpdir);
	snprintf(cfg_path, sizeof(cfg_path), "%s/p2pd.json", tmpdir);
	f = fopen(cfg_path, "we");
	if (!f)
		return 1;
	fprintf(f,
		"{ \"version\": 1, \"socket\": { \"path\": \"%s\", \"mode\": \"0600\" },\n"
		"  \"limits\": { \"max_connections\": 64, \"max_buffers\": 20000,\n"
		"              \"max_bytes\": \"1T\" },\n"
		"  \"default\": { \"types\": [\"host\", \"memfd\"], \"max_buffers\": 20000,\n"
		"               \"max_bytes\": \"1T\" } }\n",
		sock_path);
	fclose(f);

	pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);

		dup2(nul, 2);
		execl(argv[1], argv[1], "--log", "stderr", "--no-gpu", "--fsroot", argv[2],
		      "--config", cfg_path, "--socket", sock_path, "--backends", "memfd",
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && p2p_connect(sock_path, &c) < 0; i++)
		usleep(10000);
	if (!c) {
		fprintf(stderr, "bench-alloc: p2pd did not start\n");
		kill(pid, SIGKILL);
		return 1;
	}
	p2p_disconnect(c);

	per = ops / ROUNDS > 100 ? ops / ROUNDS : 100;
	printf("bench-alloc: %d interleaved rounds of %zu ops of %d-byte buffers; medians over "
	       "rounds\n",
	       ROUNDS, per, BUF_SIZE);
	for (int i = 0; i < ROUNDS; i++) {
		rm[i] = bench_memfd(per, false);
		rw[i] = bench_memfd(per, true);
		rs[i] = bench_seqpacket(per);
		r2[i] = bench_clients(1, per, false);
		r1[i] = bench_clients(1, per, true);
		rc[i] = bench_clients(NCLIENTS, per / NCLIENTS > 100 ? per / NCLIENTS : 100, true);
		cb[i] = rc[i].ops_s / r1[i].ops_s;
	}
	memfd = median_of(rm, ROUNDS);
	guard = median_of(rw, ROUNDS);
	seq = median_of(rs, ROUNDS);
	two = median_of(r2, ROUNDS);
	one = median_of(r1, ROUNDS);
	many = median_of(rc, ROUNDS);
	print_row("(a1) memfd_create+ftruncate, in-process", memfd);
	print_row("(a1w) a1 + seals + inotify watch + its events, in-process", guard);
	print_row("(a2) SEQPACKET round trip + 1 SCM_RIGHTS fd, 2 processes", seq);
	{
		struct result lim = {memfd.p50_us + seq.p50_us, memfd.p99_us + seq.p99_us,
				     1e6 / (memfd.p50_us + seq.p50_us)};

		print_row("(a)  limit = a1 + a2", lim);
		print_row("(b0) p2pd alloc + p2p_release, 1 client", two);
		print_row("(b)  p2pd alloc + p2p_release_nowait, 1 client", one);
		print_row("(c)  (b) with 16 concurrent clients", many);
		printf("release-noreply: %s\n",
		       daemon_noreply() ? "used (p2pd answers a release only when it fails)"
					: "not used (p2pd answers every release)");
		printf("ratio (b)/(a) p50 latency: %.2fx   (b) ops/s / (a) ops/s: %.2f\n",
		       one.p50_us / lim.p50_us, one.ops_s / lim.ops_s);
		printf("ratio (b)/(a1w + a2) p50 latency: %.2fx  (against the limit with p2pd's "
		       "per-buffer seals and lifetime watch)\n",
		       one.p50_us / (guard.p50_us + seq.p50_us));
		printf(
		    "floor (a1w + a2)/(a) p50 latency: %.2fx  (what (b)/(a) would be if p2pd did "
		    "nothing but keep its memfd on the quota until the memory is gone)\n",
		    (guard.p50_us + seq.p50_us) / lim.p50_us);
		printf("ratio (b0)/(a1 + 2*a2) p50 latency: %.2fx  (two round trips per op)\n",
		       two.p50_us / (memfd.p50_us + 2 * seq.p50_us));
		printf("ratio (b0)/(b) p50 latency: %.2fx  (what pipelining the release saves)\n",
		       two.p50_us / one.p50_us);
		printf("ratio (c)/(b) throughput: %.2fx (medians); per round:",
		       many.ops_s / one.ops_s);
		for (int i = 0; i < ROUNDS; i++)
			printf(" %.2f", cb[i]);
		printf("\n");
		printf("goal (b)/(a) p50 <= 1.25x: %s; goal (c)/(b) >= 1.5x: %s\n",
		       one.p50_us / lim.p50_us <= 1.25 ? "MET" : "MISS",
		       many.ops_s / one.ops_s >= 1.5 ? "MET" : "MISS");
	}

	/* RSS per 10k live buffers (fds closed; p2pd keeps the accounting) */
	rss0 = rss_kib(pid);
	if (p2p_connect(sock_path, &c) == 0) {
		struct p2p_alloc_req req = {.size = 4096, .types = P2P_BUF_MEMFD};
		struct p2p_buffer_info info;
		int fd, ok = 0;

		for (int i = 0; i < 10000; i++) {
			if (p2p_alloc(c, &req, &info, &fd, NULL) < 0)
				break;
			close(fd);
			ok++;
		}
		rss1 = rss_kib(pid);
		printf(
		    "p2pd RSS: %ld KiB idle, %ld KiB with %d live buffers: %.1f KiB per 10k buffers"
		    " (%.0f bytes each)\n",
		    rss0, rss1, ok, (double)(rss1 - rss0) * 10000.0 / (ok ? ok : 1),
		    (double)(rss1 - rss0) * 1024.0 / (ok ? ok : 1));
		p2p_disconnect(c);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	unlink(cfg_path);
	rmdir(tmpdir);
	return 0;
}
