// SPDX-License-Identifier: MIT
/*
 * p2pbclient - a p2pd client for the VM daemon scenarios (daemon-tests.sh),
 * built on libp2pclient only.
 *
 *   p2pbclient SOCKET alloc UID PROVIDER PEER SIZE
 *	as UID: alloc a p2p buffer, check type/backend/provider, fdinfo, mmap
 *	and a pattern.  Prints "OK id=N size=N direct_io=V" (V: the reply's
 *	"direct_io", true/false/null, or "absent") or "ERR <errno> <message>".
 *   p2pbclient SOCKET alloc-host UID SIZE
 *	the same for a host buffer (no provider, no peer).
 *   p2pbclient SOCKET revoke PROVIDER PEER
 *	as root: alloc, mmap, admin-revoke on a second connection, expect
 *	SIGBUS on access.  Prints "OK" or "ERR ...".
 *   p2pbclient SOCKET revoke-busy PROVIDER PEER
 *	as root: alloc a p2p buffer, let the test importer map it for PEER with
 *	a 2 s device job in flight (a fence on its reservation), admin-revoke it
 *	on a second connection and, while the kernel's REVOKE waits for that
 *	fence, ask STATS on a third: that answer must come within 500 ms, the
 *	revoke's after about 2 s.  Prints "OK stats N ms revoke M ms".
 *   p2pbclient SOCKET hold PROVIDER PEER READYFILE
 *	alloc, mmap, write a pattern, create READYFILE, wait for SIGUSR1, then
 *	check the buffer still works (it must outlive a daemon restart).
 *   p2pbclient SOCKET hold-as UID SIZE PROVIDER PEER READYFILE
 *	the same as UID with a SIZE-byte buffer (quota accounting across a
 *	daemon restart).
 * Exit status 0 only on "OK".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "p2pclient.h"
#include "p2pb_test_importer.h"
#include "linux/p2pbroker.h"

static const char *sock;

static int fail(const char *fmt, const char *a, int err)
{
	printf("ERR %s %s: %s\n", a, fmt, err ? strerror(err) : "");
	return 1;
}

static int read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

static int do_alloc_json(struct p2p_conn *c, const char *prov, const char *peer, uint64_t size,
			 struct p2p_buffer_info *bi, int *fd, char **json)
{
	const char *peers[1] = {peer};
	struct p2p_alloc_req req = {
	    .size = size,
	    .provider = prov,
	    .peers = peers,
	    .npeers = peer ? 1 : 0,
	    .types = prov ? P2P_BUF_P2P : P2P_BUF_HOST,
	    .name = "vmtest",
	};

	return p2p_alloc(c, &req, bi, fd, json);
}

static int do_alloc(struct p2p_conn *c, const char *prov, const char *peer, uint64_t size,
		    struct p2p_buffer_info *bi, int *fd)
{
	return do_alloc_json(c, prov, peer, size, bi, fd, NULL);
}

/* The reply's "direct_io" (true, false, null), as text; "absent" if none. */
static const char *direct_io_of(const char *json)
{
	const char *v = json ? strstr(json, "\"direct_io\"") : NULL;

	if (!v)
		return "absent";
	v += strlen("\"direct_io\"");
	while (*v == ' ' || *v == ':')
		v++;
	return !strncmp(v, "true", 4) ? "true" : !strncmp(v, "false", 5) ? "false" : "null";
}

static void fill(uint32_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint32_t)i * 2654435761u ^ seed;
}

static int check(const uint32_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ((uint32_t)i * 2654435761u ^ seed))
			return 0;
	return 1;
}

static int cmd_alloc(uid_t uid, const char *prov, const char *peer, uint64_t size)
{
	struct p2p_buffer_info bi;
	struct p2p_conn *c;
	char path[64], buf[1024], want[96], *json = NULL;
	int r, fd;
	void *p;

	if (uid != 0) {
		/* every test user is in the socket's group, nogroup */
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(uid) < 0)
			return fail("drop privileges", "setuid", errno);
		fd = open("/dev/p2pbroker", O_RDWR | O_CLOEXEC);
		if (fd >= 0 || errno != EACCES)
			return fail("unprivileged open of /dev/p2pbroker not refused", "EACCES", 0);
	}
	r = p2p_connect(sock, &c);
	if (r < 0)
		return fail("connect", "p2p_connect", -r);
	r = do_alloc_json(c, prov, peer, size, &bi, &fd, &json);
	if (r < 0) {
		printf("ERR %s %s\n", strerrorname_np(-r), p2p_last_message(c));
		p2p_disconnect(c);
		return 1;
	}
	if (bi.type != (prov ? P2P_BUF_P2P : P2P_BUF_HOST) || strcmp(bi.backend, "kmod") ||
	    strcmp(bi.provider, prov ? prov : ""))
		return fail("wrong buffer", bi.backend, 0);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (prov)
		snprintf(want, sizeof(want), "name:\tp2p:%s\n", prov);
	else
		snprintf(want, sizeof(want), "name:\thost\n");
	if (read_text(path, buf, sizeof(buf)) < 0 || !strstr(buf, "exp_name:\tp2pbroker\n") ||
	    !strstr(buf, want))
		return fail("fdinfo lacks exp_name/name", buf, 0);
	p = mmap(NULL, bi.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("mmap", "mmap", errno);
	fill(p, bi.size / 4, 7);
	if (!check(p, bi.size / 4, 7))
		return fail("pattern", "mmap", 0);
	munmap(p, bi.size);
	printf("OK id=%llu size=%llu direct_io=%s\n", (unsigned long long)bi.id,
	       (unsigned long long)bi.size, direct_io_of(json));
	free(json);
	close(fd);
	p2p_disconnect(c);
	return 0;
}

static int cmd_revoke(const char *prov, const char *peer)
{
	struct p2p_buffer_info bi;
	struct p2p_conn *c, *admin;
	int r, fd, st;
	uint32_t *p;
	pid_t pid;

	if (p2p_connect(sock, &c) < 0 || p2p_connect(sock, &admin) < 0)
		return fail("connect", "p2p_connect", errno);
	r = do_alloc(c, prov, peer, 1 << 20, &bi, &fd);
	if (r < 0)
		return fail(p2p_last_message(c), "alloc", -r);
	p = mmap(NULL, bi.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("mmap", "mmap", errno);
	fill(p, bi.size / 4, 9);
	r = p2p_admin_revoke(admin, bi.id);
	if (r < 0)
		return fail(p2p_last_message(admin), "revoke", -r);
	pid = fork();
	if (pid == 0) {
		volatile uint32_t x = p[3];

		(void)x;
		_exit(0);
	}
	waitpid(pid, &st, 0);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGBUS)
		return fail("access after daemon revoke did not SIGBUS", "revoke", 0);
	printf("OK revoked id=%llu\n", (unsigned long long)bi.id);
	munmap(p, bi.size);
	close(fd);
	p2p_disconnect(admin);
	p2p_disconnect(c);
	return 0;
}

static int cmd_hold(uid_t uid, uint64_t size, const char *prov, const char *peer,
		    const char *ready)
{
	struct p2p_buffer_info bi;
	struct p2p_conn *c;
	sigset_t set;
	int r, fd, sig;
	uint32_t *p;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (uid != 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(uid) < 0))
		return fail("drop privileges", "setuid", errno);
	if (p2p_connect(sock, &c) < 0)
		return fail("connect", "p2p_connect", errno);
	r = do_alloc(c, prov, peer, size, &bi, &fd);
	if (r < 0)
		return fail(p2p_last_message(c), "alloc", -r);
	p = mmap(NULL, bi.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("mmap", "mmap", errno);
	fill(p, bi.size / 4, 11);
	close(open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	sigwait(&set, &sig);
	if (!check(p, bi.size / 4, 11))
		return fail("buffer changed across the daemon restart", "hold", 0);
	munmap(p, bi.size);
	p = mmap(NULL, bi.size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED || !check(p, bi.size / 4, 11))
		return fail("buffer unusable after the daemon restart", "hold", errno);
	printf("OK held id=%llu\n", (unsigned long long)bi.id);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmd_revoke_busy(const char *prov, const char *peer)
{
	struct p2p_buffer_info bi;
	struct p2p_conn *c, *admin, *other;
	struct p2pb_ti_import imp = {0};
	struct p2pb_ti_fence fence = {.ms = 2000, .flags = P2PB_TI_FENCE_ADD};
	unsigned dom, bus, dev, fn;
	long long t0, dt_stats = -1, dt_revoke = -1;
	int r, fd, tfd, st;
	int pfd[2];
	char *json = NULL;
	pid_t pid;

	if (sscanf(peer, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4)
		return fail("peer is not DDDD:BB:DD.F", peer, 0);
	if (p2p_connect(sock, &c) < 0 || p2p_connect(sock, &admin) < 0 ||
	    p2p_connect(sock, &other) < 0)
		return fail("connect", "p2p_connect", errno);
	r = do_alloc(c, prov, peer, 1 << 20, &bi, &fd);
	if (r < 0)
		return fail(p2p_last_message(c), "alloc", -r);
	tfd = open("/dev/p2pb_test_importer", O_RDWR | O_CLOEXEC);
	if (tfd < 0)
		return fail("open /dev/p2pb_test_importer", "importer", errno);
	imp.fd = fd;
	imp.flags = P2PB_TI_F_PEER2PEER | P2PB_TI_F_HOLD;
	imp.bdf = P2PB_BDF(dom, bus, (dev << 3) | fn);
	if (ioctl(tfd, P2PB_TI_IOC_IMPORT, &imp) < 0 || imp.error)
		return fail("held import", "importer", imp.error ? -imp.error : errno);
	/* a device job writing into the buffer for the next 2 s */
	if (ioctl(tfd, P2PB_TI_IOC_FENCE, &fence) < 0)
		return fail("add a fence", "importer", errno);
	if (pipe(pfd) < 0)
		return fail("pipe", "pipe", errno);
	t0 = now_ms();
	pid = fork();
	if (pid == 0) { /* the admin's revoke, which p2pd must not wait for on its loop */
		long long dt;

		r = p2p_admin_revoke(admin, bi.id);
		dt = now_ms() - t0;
		if (write(pfd[1], &dt, sizeof(dt)) != sizeof(dt))
			_exit(3);
		_exit(r < 0 ? 1 : 0);
	}
	usleep(300000); /* the revoke reached p2pd and the kernel */
	{
		long long t1 = now_ms();

		r = p2p_admin_stats_json(other, &json);
		dt_stats = now_ms() - t1;
		free(json);
	}
	waitpid(pid, &st, 0);
	if (read(pfd[0], &dt_revoke, sizeof(dt_revoke)) != sizeof(dt_revoke))
		dt_revoke = -1;
	ioctl(tfd, P2PB_TI_IOC_RELEASE);
	close(tfd);
	if (r < 0)
		return fail(p2p_last_message(other), "stats during revoke", -r);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return fail("admin revoke failed", "revoke", 0);
	if (dt_stats < 0 || dt_stats >= 500) {
		printf("ERR stats took %lld ms while a revoke waited (p2pd's loop blocked)\n",
		       dt_stats);
		return 1;
	}
	if (dt_revoke < 1500) {
		printf("ERR revoke answered after %lld ms: the kernel did not wait for the 2 s "
		       "fence\n",
		       dt_revoke);
		return 1;
	}
	printf("OK stats %lld ms revoke %lld ms\n", dt_stats, dt_revoke);
	close(fd);
	p2p_disconnect(other);
	p2p_disconnect(admin);
	p2p_disconnect(c);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3)
		return 2;
	sock = argv[1];
	if (!strcmp(argv[2], "alloc") && argc == 7)
		return cmd_alloc((uid_t)atoi(argv[3]), argv[4], argv[5],
				 strtoull(argv[6], NULL, 0));
	if (!strcmp(argv[2], "alloc-host") && argc == 5)
		return cmd_alloc((uid_t)atoi(argv[3]), NULL, NULL, strtoull(argv[4], NULL, 0));
	if (!strcmp(argv[2], "revoke") && argc == 5)
		return cmd_revoke(argv[3], argv[4]);
	if (!strcmp(argv[2], "revoke-busy") && argc == 5)
		return cmd_revoke_busy(argv[3], argv[4]);
	if (!strcmp(argv[2], "hold") && argc == 6)
		return cmd_hold(0, 1 << 20, argv[3], argv[4], argv[5]);
	if (!strcmp(argv[2], "hold-as") && argc == 8)
		return cmd_hold((uid_t)atoi(argv[3]), strtoull(argv[4], NULL, 0), argv[5], argv[6],
				argv[7]);
	fprintf(stderr, "usage: see the source\n");
	return 2;
}
