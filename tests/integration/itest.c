/* SPDX-License-Identifier: MIT */
/*
 * itest.c - integration tests: the real p2pd on a socket in a temp dir with
 * an --fsroot fixture, driven through libp2pclient, p2pctl and raw sockets.
 *
 * usage: itest P2PD P2PCTL FIXTURE_ROOT [BIG_FIXTURE_ROOT|-]
 * Prints "ok - name" / "FAIL - name: why" per test and, last,
 * "itest: N passed, N failed"; exits 1 on any failure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "p2pclient.h"
#include "proto.h"

static const char *p2pd_bin, *p2pctl_bin, *fixture, *big_fixture;
static char tmpdir[256], sock_path[300], cfg_path[300], log_path[300], notify_path[300];
static pid_t p2pd_pid = -1;
static int n_pass, n_fail;
/* p2pds a test started (start_p2pd()): a failed test's are killed, since
 * its early return skipped their stop */
static pid_t test_spawned[64];
static int n_test_spawned;
static bool in_test;
static char why[1024];

#define NOBODY 65534

static void fail_why(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail_why(const char *fmt, ...)
{
	va_list ap;

	char tmp[sizeof(why)]; /* the arguments may include why itself */

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	memcpy(why, tmp, sizeof(why));
}

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fail_why(__VA_ARGS__);                                                     \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

/* sd_notify() blocks when the NOTIFY_SOCKET queue is full (as under a stuck
 * systemd): keep it drained as PID 1 would. */
static int notify_fd = -1;

static void drain_notify(void)
{
	char junk[512];

	while (notify_fd >= 0 && recv(notify_fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
}

/* Everything queued on the notify socket, concatenated. */
static void collect_notify(char *out, size_t len)
{
	size_t off = 0;

	out[0] = '\0';
	while (notify_fd >= 0 && off + 2 < len) {
		ssize_t n = recv(notify_fd, out + off, len - off - 2, MSG_DONTWAIT);

		if (n <= 0)
			break;
		off += (size_t)n;
		out[off++] = '\n';
		out[off] = '\0';
	}
}

static void run_test(const char *name, int (*fn)(void))
{
	drain_notify();
	const char *only = getenv("ITEST_ONLY");

	if (only) { /* comma-separated substrings */
		char buf[256], *save = NULL;
		bool hit = false;

		snprintf(buf, sizeof(buf), "%s", only);
		for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
			if (strstr(name, t))
				hit = true;
		if (!hit)
			return;
	}
	why[0] = '\0';
	n_test_spawned = 0;
	in_test = true;
	if (fn() == 0) {
		printf("ok - %s\n", name);
		n_pass++;
	} else {
		printf("FAIL - %s: %s\n", name, why[0] ? why : "(no reason)");
		n_fail++;
		for (int i = 0; i < n_test_spawned; i++) {
			pid_t pid = test_spawned[i];

			if (pid != p2pd_pid && waitpid(pid, NULL, WNOHANG) == 0) {
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
			}
		}
	}
	in_test = false;
	fflush(stdout);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- config files ---- */

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	fputs(text, f);
	/* p2pd refuses a group- or world-writable config: whatever the umask */
	if (fchmod(fileno(f), 0644) < 0) {
		int r = -errno;

		fclose(f);
		return r;
	}
	fclose(f);
	return 0;
}

static int write_config(const char *path, unsigned nobody_max_buffers, unsigned max_conn)
{
	char text[2048];

	snprintf(
	    text, sizeof(text),
	    "{\n"
	    "  \"version\": 1,\n"
	    "  \"socket\": { \"path\": \"%s\", \"mode\": \"0660\", \"group\": \"nogroup\" },\n"
	    "  \"limits\": { \"max_connections\": %u, \"max_buffers\": 64, \"max_bytes\": \"1G\",\n"
	    "              \"max_message_size\": 65536, \"max_pending_per_client\": 16 },\n"
	    "  \"providers\": [ { \"device\": \"0000:06:00.0\", \"bar\": 2 },\n"
	    "                 { \"device\": \"0000:03:00.0\", \"bar\": 2 } ],\n"
	    "  \"rules\": [\n"
	    "    { \"uid\": 0, \"devices\": [\"*\"], \"types\": [\"p2p\", \"host\", \"memfd\"] },\n"
	    "    { \"uid\": %d, \"devices\": [\"0000:03:00.0\", \"0000:04:00.0\"],\n"
	    "      \"types\": [\"host\", \"memfd\"], \"max_bytes\": \"1M\", \"max_buffers\": %u }\n"
	    "  ],\n"
	    "  \"default\": { \"devices\": [], \"types\": [] }\n"
	    "}\n",
	    sock_path, max_conn, NOBODY, nobody_max_buffers);
	return write_file(path, text);
}

/* ---- the daemon ---- */

static int watchdog_usec; /* start_p2pd() sets WATCHDOG_USEC when non-zero */
static rlim_t p2pd_nofile; /* start_p2pd() sets RLIMIT_NOFILE when non-zero */
static const char *log_target = "stderr";
static const char *const *p2pd_extra; /* more options, NULL-terminated; NULL none */
static rlim_t p2pd_nofile_hard;	      /* with p2pd_nofile: a higher hard limit */
static const char *listen_fds_env;    /* start_p2pd() sets LISTEN_FDS (and LISTEN_PID) */
static int listen_pass_fd = -1;	      /* ... and passes this fd as fd 3 */

/* Start p2pd with NOTIFY_SOCKET and wait for READY=1.  Returns the pid. */
static pid_t start_p2pd(const char *fsroot, const char *config, const char *sockp, char *status,
			size_t statuslen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int64_t deadline;
	char mainpid[32];
	pid_t pid;

	if (notify_fd < 0) {
		notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", notify_path);
		if (bind(notify_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			fail_why("bind notify socket: %m");
			return -1;
		}
	}
	drain_notify(); /* stale notifications: reloads send READY=1 too */
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int lf = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (lf >= 0) {
			dup2(lf, 2);
			dup2(lf, 1);
		}
		setenv("NOTIFY_SOCKET", notify_path, 1);
		if (p2pd_nofile) {
			struct rlimit rl = {.rlim_cur = p2pd_nofile,
					    .rlim_max =
						p2pd_nofile_hard ? p2pd_nofile_hard : p2pd_nofile};

			setrlimit(RLIMIT_NOFILE, &rl);
		}
		if (watchdog_usec) {
			char v[32];

			snprintf(v, sizeof(v), "%d", (int)getpid());
			setenv("WATCHDOG_PID", v, 1);
			snprintf(v, sizeof(v), "%d", watchdog_usec);
			setenv("WATCHDOG_USEC", v, 1);
		}
		unsetenv("JOURNAL_STREAM");
		if (listen_fds_env) {
			char v[32];

			if (listen_pass_fd >= 0 && dup2(listen_pass_fd, 3) != 3)
				_exit(126);
			snprintf(v, sizeof(v), "%d", (int)getpid());
			setenv("LISTEN_PID", v, 1);
			setenv("LISTEN_FDS", listen_fds_env, 1);
		}
		{
			const char *argv[24] = {p2pd_bin,   "--foreground", "--log", log_target,
						"--no-gpu", "--fsroot",	    fsroot,  "--config",
						config,	    "--socket",	    sockp};
			int n = 11;

			if (getenv("P2PD_BACKENDS")) { /* the VM run restricts the backends */
				argv[n++] = "--backends";
				argv[n++] = getenv("P2PD_BACKENDS");
			}
			for (int i = 0; p2pd_extra && p2pd_extra[i] && n < 23; i++)
				argv[n++] = p2pd_extra[i];
			argv[n] = NULL;
			execv(p2pd_bin, (char *const *)argv);
		}
		_exit(127);
	}
	if (in_test && n_test_spawned < (int)(sizeof(test_spawned) / sizeof(test_spawned[0])))
		test_spawned[n_test_spawned++] = pid;
	deadline = now_ms() + 20000;
	while (now_ms() < deadline) {
		struct pollfd p = {.fd = notify_fd, .events = POLLIN};
		char buf[512];
		ssize_t n;

		if (poll(&p, 1, 200) <= 0) {
			int st;

			if (waitpid(pid, &st, WNOHANG) == pid) {
				fail_why("p2pd exited before READY=1 (status %d), see %s", st,
					 log_path);
				return -1;
			}
			continue;
		}
		n = recv(notify_fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		snprintf(mainpid, sizeof(mainpid), "MAINPID=%d", (int)pid);
		if (strstr(buf, "READY=1") && strstr(buf, mainpid)) {
			if (status)
				snprintf(status, statuslen, "%s", buf);
			return pid;
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_why("no READY=1 on NOTIFY_SOCKET within 20 s");
	return -1;
}

/* SIGTERM and wait; returns the exit status or -1. */
static int stop_p2pd(pid_t pid)
{
	int64_t deadline = now_ms() + 15000;
	int st;

	kill(pid, SIGTERM);
	while (now_ms() < deadline) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(20000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* Wait (15 s at most, then SIGKILL) for a p2pd already told to stop; its exit
 * status, or 128 + the signal. */
static int wait_exit(pid_t pid)
{
	int64_t deadline = now_ms() + 15000;
	int st = 0;

	while (waitpid(pid, &st, WNOHANG) != pid) {
		if (now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		usleep(10000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int count_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* ---- helpers ---- */

static struct p2p_conn *conn_open(void)
{
	struct p2p_conn *c = NULL;

	if (p2p_connect(sock_path, &c) < 0)
		return NULL;
	p2p_conn_set_timeout(c, 10000);
	return c;
}

static int raw_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int raw_send(int fd, uint8_t version, uint8_t op, uint16_t flags, uint32_t len_field,
		    const void *payload, size_t len)
{
	struct p2p_msg_hdr h = {
	    .version = version, .opcode = op, .flags = flags, .len = len_field, .id = 77};
	char *buf = malloc(sizeof(h) + len);
	ssize_t n;

	if (!buf)
		return -1;
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), payload, len);
	n = send(fd, buf, sizeof(h) + len, MSG_NOSIGNAL);
	free(buf);
	return n == (ssize_t)(sizeof(h) + len) ? 0 : -1;
}

static int raw_req(int fd, uint8_t op, const char *json)
{
	return raw_send(fd, P2P_PROTO_VERSION, op, 0, (uint32_t)strlen(json), json, strlen(json));
}

/* Receive one reply datagram (timeout ms): 1 with JSON in *ret (caller puts),
 * 0 on EOF, -1 on timeout/error. */
static int raw_recv(int fd, int timeout, struct json_object **ret, struct p2p_msg_hdr *ret_hdr)
{
	static char buf[P2P_PROTO_MAX_DATAGRAM + 16];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	if (poll(&p, 1, timeout) <= 0)
		return -1;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n == 0)
		return 0;
	if (n < (ssize_t)sizeof(struct p2p_msg_hdr))
		return -1;
	if (ret_hdr)
		memcpy(ret_hdr, buf, sizeof(*ret_hdr));
	buf[n] = '\0';
	*ret = json_tokener_parse(buf + sizeof(struct p2p_msg_hdr));
	return *ret ? 1 : -1;
}

static const char *jget(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, k, &v))
		return NULL;
	return json_object_get_string(v);
}

/* Expect an error reply with @code, then (if @then_eof) EOF. */
static int expect_error(int fd, const char *code, bool then_eof)
{
	struct json_object *o = NULL;
	int r = raw_recv(fd, 5000, &o, NULL);
	const char *got;

	CHECK(r == 1, "no error reply (recv %d)", r);
	got = jget(o, "code");
	if (!got || strcmp(got, code) != 0 || !jget(o, "message")) {
		fail_why("expected code %s, got %s", code,
			 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		return -1;
	}
	json_object_put(o);
	if (then_eof) {
		r = raw_recv(fd, 5000, &o, NULL);
		if (r == 1)
			json_object_put(o);
		CHECK(r == 0, "connection not closed after framing error (recv %d)", r);
	}
	return 0;
}

/* The daemon still serves a fresh client. */
static int still_serving(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_hello_info hi;
	int r;

	CHECK(c, "cannot connect after bad input");
	r = p2p_hello(c, &hi);
	p2p_disconnect(c);
	CHECK(r == 0, "hello after bad input: %s", p2p_strerror(r));
	CHECK(kill(p2pd_pid, 0) == 0, "p2pd died");
	return 0;
}

static bool have_dev(const char *p)
{
	return access(p, F_OK) == 0;
}

static bool backend_enabled(const char *name)
{
	const char *only = getenv("P2PD_BACKENDS");

	return !only || strstr(only, name);
}

/* What "host" must be on this machine: the first backend that exists (among
 * those enabled with $P2PD_BACKENDS). */
static const char *expected_host_backend(void)
{
	if (have_dev("/dev/p2pbroker") && backend_enabled("kmod"))
		return "kmod";
	if (have_dev("/dev/udmabuf") && backend_enabled("udmabuf"))
		return "udmabuf";
	if (have_dev("/dev/dma_heap/system") && backend_enabled("dma-heap"))
		return "dma-heap";
	return NULL;
}

/* fdinfo of a dma-buf has "exp_name:"; a memfd has none. */
static int fdinfo_field(int fd, const char *key, char *out, size_t len)
{
	char path[64], line[256];
	FILE *f;
	int found = -1;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, strlen(key)) == 0) {
			char *v = line + strlen(key);

			while (*v == ' ' || *v == '\t')
				v++;
			v[strcspn(v, "\n")] = '\0';
			snprintf(out, len, "%s", v);
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

/* Run @fn in a child as uid/gid nobody; returns 0 when it returned 0. */
static int as_nobody(int (*fn)(void))
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int r;

		if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0) {
			printf("  (as_nobody: cannot drop privileges: %m)\n");
			_exit(3);
		}
		r = fn();
		if (r != 0)
			printf("  (as nobody: %s)\n", why);
		fflush(stdout);
		_exit(r == 0 ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fail_why("child as uid %d failed (status 0x%x)", NOBODY, st);
		return -1;
	}
	return 0;
}

/* Run a command, capture stdout into @out; returns exit status. */
static int run_cmd(char *out, size_t outlen, const char *const argv[])
{
	int pfd[2];
	pid_t pid;
	size_t off = 0;
	int st;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		setenv("P2PD_SOCKET", sock_path, 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t n = read(pfd[0], out + off, outlen - 1 - off);

		if (n <= 0)
			break;
		off += (size_t)n;
		if (off == outlen - 1)
			break;
	}
	out[off] = '\0';
	close(pfd[0]);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* ---- tests ---- */

static char ready_status[512];

static int t_readiness(void)
{
	CHECK(strstr(ready_status, "READY=1"), "no READY=1");
	CHECK(strstr(ready_status, "STATUS=Serving"), "no STATUS= in '%s'", ready_status);
	CHECK(strstr(ready_status, "MAINPID="), "no MAINPID= in '%s'", ready_status);
	return 0;
}

static int t_hello(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_hello_info hi;
	int r;

	CHECK(c, "connect");
	r = p2p_hello(c, &hi);
	p2p_disconnect(c);
	CHECK(r == 0, "hello: %s", p2p_strerror(r));
	CHECK(hi.version == P2P_PROTO_VERSION, "version %u", hi.version);
	CHECK(hi.admin && hi.uid == 0, "root is not admin (uid %u)", hi.uid);
	CHECK(hi.pid == (uint32_t)getpid(), "SO_PEERCRED pid %u != %d", hi.pid, (int)getpid());
	CHECK(hi.max_message_size == 65536, "max_message_size %u", hi.max_message_size);
	return 0;
}

static int t_wrong_version_json(void)
{
	int fd = raw_connect(), r;

	CHECK(fd >= 0, "connect");
	raw_req(fd, P2P_OP_HELLO, "{\"version\":2}");
	r = expect_error(fd, "EPROTONOSUPPORT", false);
	if (r == 0) { /* the connection stays usable */
		struct json_object *o = NULL;

		raw_req(fd, P2P_OP_HELLO, "{\"version\":1}");
		r = raw_recv(fd, 5000, &o, NULL) == 1 && jget(o, "ok") &&
			    strcmp(jget(o, "ok"), "true") == 0
			? 0
			: (fail_why("hello v1 after v2 failed"), -1);
		json_object_put(o);
	}
	close(fd);
	return r;
}

static int t_topology(void)
{
	struct p2p_conn *c = conn_open();
	struct json_object *doc, *devs;
	char *text = NULL;
	int r;

	CHECK(c, "connect");
	r = p2p_topology_json(c, &text);
	p2p_disconnect(c);
	CHECK(r == 0, "topology: %s", p2p_strerror(r));
	doc = json_tokener_parse(text);
	free(text);
	CHECK(doc, "topology not JSON");
	r = json_object_object_get_ex(doc, "devices", &devs) &&
	    json_object_array_length(devs) == 20;
	json_object_put(doc);
	CHECK(r, "expected the 20 functions of the qemu-q35 fixture");
	return 0;
}

static int t_check(void)
{
	struct p2p_conn *c = conn_open();
	struct json_object *doc;
	char *text = NULL;
	const char *mt;
	int r, ok;

	CHECK(c, "connect");
	r = p2p_check_json(c, "0000:03:00.0", "0000:04:00.0", &text);
	if (r == 0) {
		doc = json_tokener_parse(text);
		free(text);
		mt = jget(doc, "map_type");
		ok = mt && strcmp(mt, "bus_addr") == 0 && jget(doc, "distance") &&
		     strcmp(jget(doc, "distance"), "4") == 0;
		json_object_put(doc);
		if (!ok) {
			p2p_disconnect(c);
			CHECK(0, "03:00.0 -> 04:00.0 should be bus_addr distance 4");
		}
	}
	CHECK(r == 0 || (p2p_disconnect(c), 0), "check: %s", p2p_strerror(r));
	/* the live kernel's verdict rides along when asked (kmod only) */
	r = p2p_check_ex_json(c, "0000:03:00.0", "0000:04:00.0", P2P_CHECK_KERNEL, &text);
	if (r == 0) {
		struct json_object *k;

		doc = json_tokener_parse(text);
		free(text);
		ok = doc && json_object_object_get_ex(doc, "kernel_live", &k) &&
		     (have_dev("/dev/p2pbroker")
			  ? jget(k, "map_type") != NULL
			  : jget(k, "error") && strstr(jget(k, "error"), "p2pbroker"));
		json_object_put(doc);
		if (!ok) {
			p2p_disconnect(c);
			CHECK(0, "check with kernel: true: no (truthful) kernel_live");
		}
	}
	CHECK(r == 0 || (p2p_disconnect(c), 0), "check kernel: %s", p2p_strerror(r));
	r = p2p_check_json(c, "0000:99:00.0", "0000:04:00.0", &text);
	{ /* a known provider, an unknown client: the client is named */
		char *t2 = NULL, m2[256];
		int r2 = p2p_check_json(c, "0000:03:00.0", "0000:99:00.0", &t2);

		snprintf(m2, sizeof(m2), "%s", p2p_last_message(c));
		free(t2);
		p2p_disconnect(c);
		CHECK(r == -ENODEV, "unknown provider: got %d, want -ENODEV", r);
		CHECK(r2 == -ENODEV &&
			  strstr(m2, "client '0000:99:00.0' is not a PCI function of this machine"),
		      "unknown client: got %d '%s', want -ENODEV naming the client", r2, m2);
	}
	return 0;
}

static int t_matrix(void)
{
	struct p2p_conn *c = conn_open();
	char *text = NULL;
	struct json_object *doc, *rows;
	int r;

	CHECK(c, "connect");
	r = p2p_matrix_json(c, true, &text);
	p2p_disconnect(c);
	CHECK(r == 0, "matrix: %s", p2p_strerror(r));
	doc = json_tokener_parse(text);
	free(text);
	r = doc && json_object_object_get_ex(doc, "rows", &rows) &&
	    json_object_array_length(rows) == 20;
	json_object_put(doc);
	CHECK(r, "matrix --all should have 20 rows");
	return 0;
}

/* alloc memfd: fd size, seals, name, data across processes, list, release */
static int t_alloc_memfd(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_alloc_req req = {.size = 65536 + 123, .types = P2P_BUF_MEMFD, .name = "t1"};
	struct p2p_buffer_info info, *list = NULL;
	size_t n = 0;
	struct stat st;
	int fd = -1, r, seals, status;
	char *p, tmp[64], *json = NULL;
	pid_t pid;

	CHECK(c, "connect");
	r = p2p_alloc(c, &req, &info, &fd, &json);
	CHECK(r == 0, "alloc: %s (%s)", p2p_strerror(r), p2p_last_message(c));
	CHECK(info.type == P2P_BUF_MEMFD && strcmp(info.type_name, "memfd") == 0, "type %s",
	      info.type_name);
	/* ordinary shmem pages: O_DIRECT can use the mapping */
	CHECK(json && strstr(json, "\"direct_io\":true"), "direct_io: %s", json ? json : "(null)");
	free(json);
	CHECK(fstat(fd, &st) == 0 && st.st_size == (off_t)req.size, "fstat size %lld",
	      (long long)st.st_size);
	seals = fcntl(fd, F_GET_SEALS);
	CHECK(seals >= 0 && (seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) ==
				(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
	      "seals 0x%x", seals);
	CHECK(fdinfo_field(fd, "exp_name:", tmp, sizeof(tmp)) < 0, "memfd claims to be a dma-buf");
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "fd not CLOEXEC");
	CHECK(ftruncate(fd, 10) < 0, "memfd could shrink");
	/* a child writes, the parent reads */
	pid = fork();
	if (pid == 0) {
		char *q = mmap(NULL, req.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		if (q == MAP_FAILED)
			_exit(1);
		memcpy(q + 1000, "written by the child", 21);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child mmap failed");
	p = mmap(NULL, req.size, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "mmap");
	r = memcmp(p + 1000, "written by the child", 21);
	munmap(p, req.size);
	CHECK(r == 0, "data written by one process not seen by the other");

	r = p2p_list(c, &list, &n);
	CHECK(r == 0 && n == 1 && list[0].id == info.id && strcmp(list[0].name, "t1") == 0,
	      "list: r=%d n=%zu", r, n);
	free(list);
	r = p2p_release(c, info.id);
	CHECK(r == 0, "release: %s", p2p_strerror(r));
	r = p2p_list(c, &list, &n);
	CHECK(r == 0 && n == 0, "list after release: n=%zu", n);
	free(list);
	r = p2p_release(c, info.id);
	CHECK(r == -ENOENT, "double release: %d", r);
	close(fd);
	p2p_disconnect(c);
	return 0;
}

/*
 * p2p_release_nowait(): alloc+release in one round trip.  The answers are read
 * with the next request; a failed one (unknown id) is reported by the next
 * p2p_release_nowait()/p2p_flush(); more than 64 in flight still all arrive.
 */
static int t_release_nowait(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_alloc_req req = {.size = 4096, .types = P2P_BUF_MEMFD, .name = "nw"};
	struct p2p_buffer_info info, *list = NULL;
	uint64_t ids[40];
	size_t n = 0;
	int fd, r, ok = 1;

	CHECK(c, "connect");
	/* 40 buffers (the test config allows 64), then 80 releases in flight:
	 * the 40 real ones and 40 of ids that do not exist */
	for (int i = 0; i < 40 && ok; i++) {
		r = p2p_alloc(c, &req, &info, &fd, NULL);
		ok = r == 0;
		if (ok) {
			close(fd);
			ids[i] = info.id;
		}
	}
	CHECK(ok, "alloc: %s (%s)", p2p_strerror(r), p2p_last_message(c));
	/* a failed one is reported by a later release_nowait or the flush */
	int reported = 0, other = 0;
	char msg[256] = "";

	for (int i = 0; i < 80; i++) {
		r = p2p_release_nowait(c, i < 40 ? ids[i] : (uint64_t)1 << 40 | (uint64_t)i);
		if (r == -ENOENT && i > 40) {
			reported++;
			snprintf(msg, sizeof(msg), "%s", p2p_last_message(c));
		} else if (r != 0) {
			other = r;
		}
	}
	r = p2p_flush(c);
	if (r == -ENOENT) {
		reported++;
		snprintf(msg, sizeof(msg), "%s", p2p_last_message(c));
	} else if (r != 0) {
		other = r;
	}
	CHECK(other == 0, "release_nowait/flush: %s", p2p_strerror(other));
	CHECK(reported >= 1, "40 releases of unknown ids: no failure reported");
	CHECK(strstr(msg, "release:") != NULL, "message '%s'", msg);
	CHECK(p2p_flush(c) == 0, "flush: a failure was reported twice: %s",
	      p2p_last_message(c));
	r = p2p_list(c, &list, &n);
	free(list);
	CHECK(r == 0 && n == 0, "list after 80 pipelined releases: r=%d n=%zu", r, n);

	/* a failure is reported by the next release_nowait, after other requests */
	r = p2p_release_nowait(c, ids[0]);
	CHECK(r == 0, "release_nowait of a released id failed at once: %d", r);
	r = p2p_alloc(c, &req, &info, &fd, NULL);
	CHECK(r == 0, "alloc after a failed pipelined release: %s", p2p_strerror(r));
	close(fd);
	r = p2p_release_nowait(c, info.id);
	CHECK(r == -ENOENT, "the earlier failure was not reported: %d", r);
	CHECK(p2p_flush(c) == 0, "flush: %s", p2p_last_message(c));
	r = p2p_list(c, &list, &n);
	free(list);
	CHECK(r == 0 && n == 0, "list: r=%d n=%zu", r, n);
	p2p_disconnect(c);
	return 0;
}

/* One request with id @id on a raw connection. */
static int raw_req_id(int fd, uint8_t op, uint64_t id, const char *json)
{
	struct p2p_msg_hdr h = {
	    .version = P2P_PROTO_VERSION, .opcode = op, .len = (uint32_t)strlen(json), .id = id};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)json, strlen(json)}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};

	return sendmsg(fd, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* The next reply on @fd is @op/@id with "ok" @ok (and "code" @code when not
 * ok); *ret_reply gets it when not NULL (caller puts). */
static int raw_expect(int fd, uint8_t op, uint64_t id, bool ok, const char *code,
		      struct json_object **ret_reply)
{
	struct json_object *o = NULL, *v = NULL;
	struct p2p_msg_hdr h = {0};
	int r = raw_recv(fd, 5000, &o, &h);

	CHECK(r == 1, "no reply to request %llu (recv %d)", (unsigned long long)id, r);
	json_object_object_get_ex(o, "ok", &v);
	if (h.opcode != op || h.id != id || !json_object_is_type(v, json_type_boolean) ||
	    json_object_get_boolean(v) != ok ||
	    (code && (!jget(o, "code") || strcmp(jget(o, "code"), code) != 0))) {
		fail_why("want the reply to op %u id %llu (ok %d %s), got op %u id %llu: %s", op,
			 (unsigned long long)id, ok, code ? code : "", h.opcode,
			 (unsigned long long)h.id,
			 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		return -1;
	}
	if (ret_reply)
		*ret_reply = o;
	else
		json_object_put(o);
	return 0;
}

/*
 * release-noreply: a release with "reply": false is answered only when it
 * fails, the error keeping its opcode and id; the next request's reply comes
 * next; sync answers after everything before it.  libp2pclient uses it after
 * p2p_hello(): failures come back from p2p_flush() or the next
 * p2p_release_nowait(), and thousands of failures unread never wedge the
 * connection.
 */
static int t_release_noreply(void)
{
	struct p2p_alloc_req req = {.size = 4096, .types = P2P_BUF_MEMFD, .name = "nr"};
	struct json_object *o = NULL, *feat = NULL, *v = NULL;
	struct p2p_buffer_info info, *list = NULL;
	struct p2p_hello_info hi;
	struct p2p_conn *c;
	char text[96];
	uint64_t id;
	size_t n = 0;
	bool has = false;
	int fd, bfd, r;

	fd = raw_connect();
	CHECK(fd >= 0, "connect");
	if (raw_req_id(fd, P2P_OP_HELLO, 1, "{\"version\":1}") < 0 ||
	    raw_expect(fd, P2P_OP_HELLO, 1, true, NULL, &o) < 0)
		goto fail;
	json_object_object_get_ex(o, "features", &feat);
	for (size_t i = 0;
	     json_object_is_type(feat, json_type_array) && i < json_object_array_length(feat); i++)
		has |= strcmp(json_object_get_string(json_object_array_get_idx(feat, i)),
			      P2P_FEATURE_RELEASE_NOREPLY) == 0;
	json_object_put(o);
	if (!has) {
		fail_why("hello does not list \"%s\"", P2P_FEATURE_RELEASE_NOREPLY);
		goto fail;
	}
	if (raw_req_id(fd, P2P_OP_ALLOC, 2, "{\"size\":4096,\"types\":[\"memfd\"]}") < 0 ||
	    raw_expect(fd, P2P_OP_ALLOC, 2, true, NULL, &o) < 0)
		goto fail;
	if (json_object_object_get_ex(o, "buffer", &v))
		json_object_object_get_ex(v, "id", &v);
	id = (uint64_t)json_object_get_int64(v);
	json_object_put(o);
	/* success: no reply; the list's reply is the next one, without the buffer */
	snprintf(text, sizeof(text), "{\"id\":%llu,\"reply\":false}", (unsigned long long)id);
	if (raw_req_id(fd, P2P_OP_RELEASE, 3, text) < 0 ||
	    raw_req_id(fd, P2P_OP_LIST, 4, "{}") < 0 ||
	    raw_expect(fd, P2P_OP_LIST, 4, true, NULL, &o) < 0)
		goto fail;
	v = NULL;
	json_object_object_get_ex(o, "buffers", &v);
	r = json_object_is_type(v, json_type_array) ? (int)json_object_array_length(v) : -1;
	json_object_put(o);
	if (r != 0) {
		fail_why("the no-reply release did not release: %d buffers listed", r);
		goto fail;
	}
	/* failure: answered, with the release's opcode and id, before the sync's */
	if (raw_req_id(fd, P2P_OP_RELEASE, 5, text) < 0 ||
	    raw_req_id(fd, P2P_OP_SYNC, 6, "{}") < 0 ||
	    raw_expect(fd, P2P_OP_RELEASE, 5, false, "ENOENT", NULL) < 0 ||
	    raw_expect(fd, P2P_OP_SYNC, 6, true, NULL, &o) < 0)
		goto fail;
	r = json_object_object_length(o);
	json_object_put(o);
	if (r != 1) {
		fail_why("the sync reply has %d members, want only \"ok\"", r);
		goto fail;
	}
	/* "reply": true, or none, is answered as before */
	snprintf(text, sizeof(text), "{\"id\":%llu,\"reply\":true}", (unsigned long long)id);
	if (raw_req_id(fd, P2P_OP_RELEASE, 7, text) < 0 ||
	    raw_expect(fd, P2P_OP_RELEASE, 7, false, "ENOENT", NULL) < 0)
		goto fail;
	close(fd);

	c = conn_open();
	CHECK(c, "connect");
	CHECK(p2p_hello(c, &hi) == 0, "hello: %s", p2p_last_message(c));
	r = p2p_alloc(c, &req, &info, &bfd, NULL);
	CHECK(r == 0, "alloc: %s", p2p_last_message(c));
	close(bfd);
	CHECK(p2p_release_nowait(c, info.id) == 0, "release_nowait: %s", p2p_last_message(c));
	/* it went out at once: with nothing more done on @c, another
	 * connection sees the buffer gone (the memory is not held until @c's
	 * next request) */
	{
		struct p2p_conn *adm = conn_open();
		size_t live = 1;

		CHECK(adm, "connect (admin)");
		for (int i = 0; i < 200 && live; i++) {
			char *btext = NULL;
			struct json_object *arr;

			if (p2p_admin_buffers_json(adm, &btext) != 0)
				break;
			arr = json_tokener_parse(btext);
			free(btext);
			live = json_object_is_type(arr, json_type_array)
				   ? json_object_array_length(arr)
				   : 1;
			json_object_put(arr);
			if (live)
				usleep(10000);
		}
		p2p_disconnect(adm);
		CHECK(live == 0, "a no-reply release not followed by a request: the buffer is "
				 "still live for p2pd after 2 s (%zu listed)",
		      live);
	}
	r = p2p_list(c, &list, &n);
	free(list);
	CHECK(r == 0 && n == 0, "list after release_nowait: r=%d n=%zu", r, n);
	/* a failure: p2p_flush() reports it (through a sync), once */
	CHECK(p2p_release_nowait(c, info.id) == 0,
	      "release_nowait of a released id failed at once");
	r = p2p_flush(c);
	CHECK(r == -ENOENT && strstr(p2p_last_message(c), "release:"),
	      "flush after a failed no-reply release: r=%d '%s'", r, p2p_last_message(c));
	CHECK(p2p_flush(c) == 0, "flush: the failure was reported twice: %s", p2p_last_message(c));
	/* or the next p2p_release_nowait(), when another request read it */
	CHECK(p2p_release_nowait(c, info.id) == 0, "release_nowait failed at once");
	r = p2p_alloc(c, &req, &info, &bfd, NULL);
	CHECK(r == 0, "alloc after a failed no-reply release: %s", p2p_last_message(c));
	close(bfd);
	r = p2p_release_nowait(c, info.id);
	CHECK(r == -ENOENT, "the earlier failure was not reported by the next nowait: %d", r);
	CHECK(p2p_flush(c) == 0, "flush: %s", p2p_last_message(c));
	/* 3000 failures nobody waits for: the library reads them as it goes, so
	 * neither side's queue fills and a send never blocks */
	{
		struct timeval tv = {.tv_sec = 5};
		int reported = 0, other = 0;

		setsockopt(p2p_conn_fd(c), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		for (int i = 0; i < 3000 && !other; i++) {
			r = p2p_release_nowait(c, (uint64_t)1 << 40 | (uint64_t)i);
			if (r == -ENOENT)
				reported++;
			else if (r)
				other = r;
		}
		CHECK(other == 0, "3000 failing no-reply releases: %s (%s)", p2p_strerror(other),
		      p2p_last_message(c));
		r = p2p_flush(c);
		CHECK(reported > 0 || r == -ENOENT, "3000 failures, none reported (flush %d)", r);
		CHECK(p2p_flush(c) == 0, "flush: %s", p2p_last_message(c));
	}
	r = p2p_list(c, &list, &n);
	free(list);
	CHECK(r == 0 && n == 0, "list at the end: r=%d n=%zu", r, n);
	p2p_disconnect(c);
	return 0;
fail:
	close(fd);
	return -1;
}

/* host type: truthful for what this machine has */
static int t_alloc_host_truthful(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_alloc_req req = {.size = 8192, .types = P2P_BUF_HOST};
	struct p2p_buffer_info info;
	const char *want = expected_host_backend();
	int fd = -1, r;
	char name[64];

	CHECK(c, "connect");
	r = p2p_alloc(c, &req, &info, &fd, NULL);
	if (!want) {
		printf("  (no /dev/p2pbroker, /dev/udmabuf or /dev/dma_heap/system here: "
		       "host buffers must be refused)\n");
		CHECK(r == -ENODEV, "host alloc without a dma-buf backend: got %d, want -ENODEV",
		      r);
		CHECK(strstr(p2p_last_message(c), "udmabuf"), "message does not say why: %s",
		      p2p_last_message(c));
		/* and with memfd accepted, the fallback is called memfd */
		req.types = P2P_BUF_HOST | P2P_BUF_MEMFD;
		r = p2p_alloc(c, &req, &info, &fd, NULL);
		CHECK(r == 0 && info.type == P2P_BUF_MEMFD, "fallback: r=%d type=%s", r,
		      info.type_name);
		CHECK(fcntl(fd, F_GET_SEALS) > 0, "fallback buffer is not a sealed memfd");
	} else {
		CHECK(r == 0, "host alloc with %s present: %s", want, p2p_last_message(c));
		CHECK(info.type == P2P_BUF_HOST && strcmp(info.backend, want) == 0,
		      "type %s backend %s, want host/%s", info.type_name, info.backend, want);
		CHECK(fdinfo_field(fd, "exp_name:", name, sizeof(name)) == 0,
		      "host buffer has no exp_name in fdinfo (not a dma-buf)");
		printf("  (host buffer from %s: exp_name %s", info.backend, name);
		if (fdinfo_field(fd, "name:", name, sizeof(name)) == 0) {
			printf(", name %s)\n", name);
			CHECK(strcmp(name, "host") == 0, "dma-buf name '%s', want 'host'", name);
		} else {
			printf(")\n");
		}
		CHECK(fcntl(fd, F_GET_SEALS) < 0, "host buffer is a memfd, not a dma-buf");
		{ /* a child writes through its mapping, the parent reads */
			int st;
			char *p;
			pid_t pid = fork();

			if (pid == 0) {
				char *q =
				    mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

				if (q == MAP_FAILED)
					_exit(1);
				memcpy(q + 5000, "dma-buf data", 13);
				_exit(0);
			}
			waitpid(pid, &st, 0);
			CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			      "child cannot mmap the dma-buf");
			p = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
			CHECK(p != MAP_FAILED, "mmap of the dma-buf: %m");
			st = memcmp(p + 5000, "dma-buf data", 13);
			munmap(p, 8192);
			CHECK(st == 0, "data written by one process not seen by the other");
		}
	}
	close(fd);
	p2p_disconnect(c);
	return 0;
}

/* udmabuf refuses buffers over its size_limit_mb (64 MiB by default): the
 * next host backend (dma-heap) serves them */
static int t_host_fallback(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_alloc_req req = {.size = 96ull << 20, .types = P2P_BUF_HOST};
	struct p2p_buffer_info info;
	const char *want = expected_host_backend();
	long limit_mb = 64;
	int fd = -1, r;
	FILE *f;

	CHECK(c, "connect");
	f = fopen("/sys/module/udmabuf/parameters/size_limit_mb", "re");
	if (f) {
		if (fscanf(f, "%ld", &limit_mb) != 1)
			limit_mb = 64;
		fclose(f);
	}
	if (want && strcmp(want, "udmabuf") == 0 && limit_mb < 96 &&
	    have_dev("/dev/dma_heap/system") && backend_enabled("dma-heap"))
		want = "dma-heap";
	else if (want && strcmp(want, "udmabuf") == 0 && limit_mb < 96)
		want = NULL; /* nothing can serve it */
	r = p2p_alloc(c, &req, &info, &fd, NULL);
	printf("  (96 MiB host buffer: %s%s%s)\n", r == 0 ? info.backend : p2p_last_message(c),
	       want ? ", expected " : "", want ? want : "");
	if (r == 0)
		close(fd);
	p2p_disconnect(c);
	if (!want)
		CHECK(r < 0, "a 96 MiB host buffer from %s, which cannot serve it", info.backend);
	else
		CHECK(r == 0 && strcmp(info.backend, want) == 0, "want %s: r=%d backend %s", want,
		      r, r == 0 ? info.backend : "-");
	return 0;
}

static int t_alloc_p2p_without_kmod(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_alloc_req req = {.size = 4096, .types = P2P_BUF_P2P, .provider = "0000:03:00.0"};
	const char *peers[] = {"0000:04:00.0"};
	struct p2p_buffer_info info;
	int fd = -1, r;

	CHECK(c, "connect");
	req.peers = peers;
	req.npeers = 1;
	r = p2p_alloc(c, &req, &info, &fd, NULL);
	if (have_dev("/dev/p2pbroker")) {
		/* on a fixture tree the provider is not a real device: any answer but
		 * a crash is fine; when it works the type must be p2p */
		if (r == 0) {
			CHECK(info.type == P2P_BUF_P2P, "type %s", info.type_name);
			close(fd);
		}
	} else {
		CHECK(r == -ENODEV && strstr(p2p_last_message(c), "p2pbroker"),
		      "p2p without kmod: r=%d msg=%s", r, p2p_last_message(c));
		/* "auto" picks the configured provider closest to the peers (as
		 * pci_p2pmem_find_many): 03:00.0 for a peer on its switch, 06:00.0
		 * for its sibling function, none for a peer neither reaches */
		req.provider = "auto";
		r = p2p_alloc(c, &req, &info, &fd, NULL);
		CHECK(r == -ENODEV && strstr(p2p_last_message(c), "provider 0000:03:00.0 chosen"),
		      "auto for peer 04:00.0: %s", p2p_last_message(c));
		peers[0] = "0000:06:00.1";
		r = p2p_alloc(c, &req, &info, &fd, NULL);
		CHECK(r == -ENODEV && strstr(p2p_last_message(c), "provider 0000:06:00.0 chosen"),
		      "auto for peer 06:00.1: %s", p2p_last_message(c));
		peers[0] = "0000:41:00.0"; /* behind the second host bridge, not Zen */
		r = p2p_alloc(c, &req, &info, &fd, NULL);
		CHECK(r == -ENODEV &&
			  strstr(p2p_last_message(c), "no provider device reaches all peers"),
		      "auto for peer 41:00.0: %s", p2p_last_message(c));
	}
	/* unknown peer */
	peers[0] = "0000:77:00.0";
	req.types = P2P_BUF_MEMFD;
	r = p2p_alloc(c, &req, &info, &fd, NULL);
	CHECK(r == -ENODEV, "unknown peer: %d", r);
	p2p_disconnect(c);
	return 0;
}

static int t_disconnect_frees(void)
{
	struct p2p_conn *c = conn_open(), *adm = conn_open();
	struct p2p_alloc_req req = {.size = 4096, .types = P2P_BUF_MEMFD};
	struct p2p_buffer_info info;
	char *text = NULL;
	int fd, r;
	struct json_object *arr;
	size_t n;

	CHECK(c && adm, "connect");
	for (int i = 0; i < 3; i++) {
		r = p2p_alloc(c, &req, &info, &fd, NULL);
		CHECK(r == 0, "alloc %d: %s", i, p2p_last_message(c));
		close(fd);
	}
	r = p2p_admin_buffers_json(adm, &text);
	CHECK(r == 0, "buffers: %s", p2p_strerror(r));
	arr = json_tokener_parse(text);
	free(text);
	n = json_object_array_length(arr);
	json_object_put(arr);
	CHECK(n == 3, "3 live buffers expected, got %zu", n);
	p2p_disconnect(c);
	usleep(100000);
	r = p2p_admin_buffers_json(adm, &text);
	arr = json_tokener_parse(text);
	free(text);
	n = json_object_array_length(arr);
	json_object_put(arr);
	p2p_disconnect(adm);
	CHECK(r == 0 && n == 0, "buffers after disconnect: %zu", n);
	return 0;
}

static int t_p2pctl(void)
{
	char out[65536];
	struct json_object *o, *v;
	int rc;
	const char *status[] = {p2pctl_bin, "--json", "status", NULL};
	const char *alloc[] = {p2pctl_bin,    "--json",	  "alloc", "64K",
			       "types=memfd", "name=cli", NULL};
	const char *topo[] = {p2pctl_bin, "topo", NULL};
	const char *check[] = {p2pctl_bin, "--json", "check", "03:00.0", "05:00.0", NULL};
	const char *bad[] = {p2pctl_bin, "revoke", "999999", NULL};

	rc = run_cmd(out, sizeof(out), status);
	CHECK(rc == 0, "p2pctl status exit %d", rc);
	o = json_tokener_parse(out);
	rc = o && json_object_object_get_ex(o, "stats", &v) && jget(o, "admin") &&
	     strcmp(jget(o, "admin"), "true") == 0;
	json_object_put(o);
	CHECK(rc, "status --json: %s", out);

	rc = run_cmd(out, sizeof(out), alloc);
	CHECK(rc == 0, "p2pctl alloc exit %d", rc);
	o = json_tokener_parse(out);
	rc = o && json_object_object_get_ex(o, "buffer", &v) && jget(v, "type") &&
	     strcmp(jget(v, "type"), "memfd") == 0 && strcmp(jget(v, "size"), "65536") == 0;
	json_object_put(o);
	CHECK(rc, "alloc --json: %s", out);

	rc = run_cmd(out, sizeof(out), topo);
	CHECK(rc == 0 && strstr(out, "0000:03:00.0"), "p2pctl topo (online): exit %d", rc);
	rc = run_cmd(out, sizeof(out), check);
	o = json_tokener_parse(out);
	CHECK(rc == 0 && o && jget(o, "map_type") && strcmp(jget(o, "map_type"), "bus_addr") == 0,
	      "p2pctl check: %s", out);
	json_object_put(o);
	rc = run_cmd(out, sizeof(out), bad);
	CHECK(rc == 1, "p2pctl revoke of an unknown id: exit %d, want 1", rc);
	return 0;
}

/* --- unprivileged --- */

static int nobody_body(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_hello_info hi;
	struct p2p_alloc_req req = {.size = 4096, .types = P2P_BUF_MEMFD};
	const char *peers[1];
	struct p2p_buffer_info info;
	char *text = NULL;
	int fd, r, fds[8], nfds = 0;

	CHECK(c, "connect as nobody");
	r = p2p_hello(c, &hi);
	CHECK(r == 0 && !hi.admin && hi.uid == NOBODY, "hello: r=%d admin=%d uid=%u", r, hi.admin,
	      hi.uid);
	CHECK(p2p_admin_stats_json(c, &text) == -EPERM, "stats allowed for nobody");
	CHECK(p2p_admin_clients_json(c, &text) == -EPERM, "clients allowed for nobody");
	CHECK(p2p_admin_buffers_json(c, &text) == -EPERM, "buffers allowed for nobody");
	CHECK(p2p_admin_revoke(c, 1) == -EPERM, "revoke allowed for nobody");
	CHECK(p2p_admin_reload(c) == -EPERM, "reload allowed for nobody");
	CHECK(strstr(p2p_last_message(c), "admin"), "EPERM message: %s", p2p_last_message(c));
	/* a device the rule does not list */
	req.provider = "0000:05:00.0";
	r = p2p_alloc(c, &req, &info, &fd, NULL);
	CHECK(r == -EPERM, "provider 05:00.0 not allowed: got %d", r);
	req.provider = NULL;
	peers[0] = "0000:06:00.0";
	req.peers = peers;
	req.npeers = 1;
	r = p2p_alloc(c, &req, &info, &fd, NULL);
	CHECK(r == -EPERM, "peer 06:00.0 not allowed: got %d", r);
	/* an allowed device and type */
	peers[0] = "0000:04:00.0";
	/* quota: max_buffers 4 */
	uint64_t ids[4];
	for (int i = 0; i < 4; i++) {
		r = p2p_alloc(c, &req, &info, &fds[nfds], NULL);
		CHECK(r == 0, "alloc %d as nobody: %s", i, p2p_last_message(c));
		ids[i] = info.id;
		nfds++;
	}
	r = p2p_alloc(c, &req, &info, &fd, NULL);
	CHECK(r == -EDQUOT, "5th buffer: got %d, want -EDQUOT", r);
	CHECK(strstr(p2p_last_message(c), "max_buffers") || strstr(p2p_last_message(c), "buffers"),
	      "quota message: %s", p2p_last_message(c));
	/* The quota is the uid's, not the connection's: a second connection of
	 * the same user gets nothing more, until the first releases one. */
	struct p2p_conn *c2 = conn_open();
	CHECK(c2, "second connection as nobody");
	r = p2p_alloc(c2, &req, &info, &fd, NULL);
	CHECK(r == -EDQUOT, "second connection past the uid's quota: got %d", r);
	struct p2p_buffer_info *held = NULL;
	size_t nheld = 0;
	CHECK(p2p_list(c, &held, &nheld) == 0 && nheld == 4, "list: %zu buffers", nheld);
	free(held);
	/* its fd closed first: a released buffer still held counts on (16/6) */
	close(fds[0]);
	fds[0] = -1;
	CHECK(p2p_release(c, ids[0]) == 0, "release one");
	{
		int64_t deadline = now_ms() + 3000;

		do {
			r = p2p_alloc(c2, &req, &info, &fd, NULL);
			if (r == -EDQUOT)
				usleep(20000);
		} while (r == -EDQUOT && now_ms() < deadline);
	}
	CHECK(r == 0, "second connection after a release: %d %s", r, p2p_last_message(c2));
	close(fd);
	p2p_disconnect(c2);
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	p2p_disconnect(c);
	/* bytes: max_bytes 1M on a fresh connection */
	c = conn_open();
	CHECK(c, "reconnect");
	req.size = 2 << 20;
	r = p2p_alloc(c, &req, &info, &fd, NULL);
	CHECK(r == -EDQUOT, "2 MiB over a 1 MiB quota: got %d", r);
	/* a type the rule does not allow */
	req.size = 4096;
	req.types = P2P_BUF_P2P;
	req.provider = "0000:03:00.0";
	r = p2p_alloc(c, &req, &info, &fd, NULL);
	CHECK(r == -EPERM || r == -ENODEV, "p2p for nobody: got %d", r);
	p2p_disconnect(c);
	return 0;
}

static int t_unprivileged(void)
{
	return as_nobody(nobody_body);
}

static uint64_t revoke_id;

static int t_revoke(void)
{
	struct p2p_conn *owner = conn_open(), *adm = conn_open();
	struct p2p_alloc_req req = {.size = 4096, .types = P2P_BUF_MEMFD};
	struct p2p_buffer_info info, *list = NULL;
	struct p2p_event ev;
	size_t n = 9;
	int fd, r;
	int64_t deadline;

	CHECK(owner && adm, "connect");
	r = p2p_alloc(owner, &req, &info, &fd, NULL);
	CHECK(r == 0, "alloc");
	revoke_id = info.id;
	r = p2p_admin_revoke(adm, info.id);
	CHECK(r == 0, "revoke: %s", p2p_last_message(adm));
	deadline = now_ms() + 3000;
	do {
		r = p2p_next_event(owner, &ev);
		if (r == 0)
			usleep(10000);
	} while (r == 0 && now_ms() < deadline);
	CHECK(r == 1 && strcmp(ev.event, "revoked") == 0 && ev.id == info.id,
	      "owner not told of the revoke (r=%d)", r);
	r = p2p_list(owner, &list, &n);
	CHECK(r == 0 && n == 0, "owner still lists the revoked buffer");
	free(list);
	CHECK(p2p_admin_revoke(adm, info.id) == -ENOENT, "second revoke not ENOENT");
	close(fd);
	p2p_disconnect(owner);
	p2p_disconnect(adm);
	return 0;
}

/* ---- revokes racing other requests: p2pd is stopped (SIGSTOP) while the
 * requests are queued, so one turn of its loop reads them all, in the order
 * sent, before the worker's answer to the first is taken ---- */

/* SIGSTOP p2pd and wait until it is stopped.  First, while its main thread
 * is not yet waiting in epoll_wait, give it up to 5 s to get there. */
static int p2pd_freeze(pid_t pid)
{
	char path[64], buf[512], *p;
	int64_t deadline = now_ms() + 5000;

	snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
	while (now_ms() < deadline) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = '\0';
		if (n <= 0 || strstr(buf, "epoll") || strcmp(buf, "0") == 0)
			break; /* there, or this kernel does not say */
		usleep(2000);
	}
	deadline = now_ms() + 5000;
	kill(pid, SIGSTOP);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	while (now_ms() < deadline) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = '\0';
			p = strrchr(buf, ')');
			if (p && p[1] == ' ' && p[2] == 'T')
				return 0;
		}
		usleep(5000);
	}
	kill(pid, SIGCONT);
	fail_why("p2pd did not stop on SIGSTOP");
	return -1;
}

/* A raw connection p2pd has accepted (a HELLO answered). */
static int raw_ready(void)
{
	struct json_object *o = NULL;
	int fd = raw_connect();

	if (fd < 0)
		return -1;
	if (raw_req(fd, P2P_OP_HELLO, "{\"version\":1}") < 0 || raw_recv(fd, 5000, &o, NULL) != 1) {
		json_object_put(o);
		close(fd);
		return -1;
	}
	json_object_put(o);
	return fd;
}

/* A 4 KiB memfd buffer owned by raw connection @fd (its fd discarded). */
static int raw_alloc(int fd, uint64_t *ret_id)
{
	struct json_object *o = NULL, *b, *v;
	int r = raw_req(fd, P2P_OP_ALLOC, "{\"size\":4096,\"types\":[\"memfd\"]}");

	if (r == 0)
		r = raw_recv(fd, 5000, &o, NULL) == 1 &&
			    json_object_object_get_ex(o, "buffer", &b) &&
			    json_object_object_get_ex(b, "id", &v)
			? 0
			: -1;
	if (r == 0)
		*ret_id = (uint64_t)json_object_get_int64(v);
	json_object_put(o);
	return r;
}

static int64_t stats_revokes(void)
{
	struct p2p_conn *c = conn_open();
	struct json_object *o = NULL, *v;
	char *text = NULL;
	int64_t n = -1;

	if (c && p2p_admin_stats_json(c, &text) == 0 && (o = json_tokener_parse(text)) &&
	    json_object_object_get_ex(o, "revokes", &v))
		n = json_object_get_int64(v);
	json_object_put(o);
	free(text);
	p2p_disconnect(c);
	return n;
}

/* Two admins revoke the same buffer at once: one revoke runs and is answered,
 * the other is refused with EINPROGRESS naming the buffer; the owner gets
 * exactly one "revoked" event, and STATS counts one revoke. */
static int t_revoke_in_progress(void)
{
	struct json_object *o[2] = {NULL, NULL}, *ev = NULL, *hello = NULL;
	struct p2p_msg_hdr eh = {0}, hh = {0};
	int owner = raw_ready(), a1 = raw_ready(), a2 = raw_ready(), r1 = -1, r2 = -1, re, rh;
	int64_t revokes0 = stats_revokes(), revokes1;
	char req[64], busy[96];
	const char *c0, *c1;
	uint64_t id = 0;
	int ok = -1;

	if (owner >= 0 && a1 >= 0 && a2 >= 0 && raw_alloc(owner, &id) == 0 &&
	    p2pd_freeze(p2pd_pid) == 0) {
		snprintf(req, sizeof(req), "{\"id\":%llu}", (unsigned long long)id);
		ok = raw_req(a1, P2P_OP_REVOKE, req) | raw_req(a2, P2P_OP_REVOKE, req);
		kill(p2pd_pid, SIGCONT);
		r1 = raw_recv(a1, 5000, &o[0], NULL);
		r2 = raw_recv(a2, 5000, &o[1], NULL);
	}
	/* the event comes before any later reply */
	re = owner >= 0 ? raw_recv(owner, 5000, &ev, &eh) : -1;
	rh = owner >= 0 && raw_req(owner, P2P_OP_HELLO, "{\"version\":1}") == 0
		 ? raw_recv(owner, 5000, &hello, &hh)
		 : -1;
	revokes1 = stats_revokes();
	c0 = jget(o[0], "code");
	c1 = jget(o[1], "code");
	snprintf(busy, sizeof(busy), "buffer %llu: a revoke is in progress",
		 (unsigned long long)id);
	if (ok == 0 && r1 == 1 && r2 == 1) {
		struct json_object *done = c0 ? o[1] : o[0], *refused = c0 ? o[0] : o[1];
		const char *code = c0 ? c0 : c1, *msg = jget(refused, "message");

		ok = (!c0 != !c1) && strcmp(code, "EINPROGRESS") == 0 && msg &&
			     strcmp(msg, busy) == 0 && jget(done, "ok") &&
			     strcmp(jget(done, "ok"), "true") == 0 &&
			     json_object_get_uint64(json_object_object_get(done, "id")) == id
			 ? 0
			 : -1;
		if (ok < 0)
			fail_why("replies: %s / %s",
				 json_object_to_json_string_ext(o[0], JSON_C_TO_STRING_PLAIN),
				 json_object_to_json_string_ext(o[1], JSON_C_TO_STRING_PLAIN));
	} else if (!why[0]) {
		fail_why("setup or replies failed (send %d, recv %d/%d)", ok, r1, r2);
		ok = -1;
	}
	if (ok == 0 && !(re == 1 && eh.opcode == P2P_OP_EVENT && jget(ev, "event") &&
			 strcmp(jget(ev, "event"), "revoked") == 0)) {
		fail_why("the owner's first message is not the revoked event: %s",
			 ev ? json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN) : "none");
		ok = -1;
	}
	if (ok == 0 && !(rh == 1 && hh.opcode == P2P_OP_HELLO)) {
		fail_why("after the event the owner got opcode %u, not its HELLO reply (a second "
			 "event?)",
			 (unsigned)hh.opcode);
		ok = -1;
	}
	if (ok == 0 && revokes1 != revokes0 + 1) {
		fail_why("STATS revokes went from %lld to %lld, not by one", (long long)revokes0,
			 (long long)revokes1);
		ok = -1;
	}
	for (int i = 0; i < 2; i++)
		json_object_put(o[i]);
	json_object_put(ev);
	json_object_put(hello);
	if (owner >= 0)
		close(owner);
	if (a1 >= 0)
		close(a1);
	if (a2 >= 0)
		close(a2);
	return ok;
}

/* The owner releases its buffer while an admin's revoke of it is queued: the
 * release is answered, the revoke too (owner_notified false: nobody owns it
 * any more), no event reaches the former owner, and the buffer is gone. */
static int t_revoke_released_meanwhile(void)
{
	struct json_object *rv = NULL, *rl = NULL, *next = NULL, *lst = NULL, *v;
	struct p2p_msg_hdr nh = {0};
	int owner = raw_ready(), adm = raw_ready(), rr = -1, rlr = -1, rn = -1, ok = -1;
	int64_t revokes0 = stats_revokes(), revokes1;
	char req[64];
	uint64_t id = 0;
	bool listed = true;

	/* the admin's connection is the last one p2pd read before it is stopped:
	 * its REVOKE is read first then, even if epoll still lists it */
	if (owner >= 0 && adm >= 0 && raw_alloc(owner, &id) == 0 &&
	    raw_req(adm, P2P_OP_HELLO, "{\"version\":1}") == 0 &&
	    raw_recv(adm, 5000, &rv, NULL) == 1 && (json_object_put(rv), rv = NULL, true) &&
	    p2pd_freeze(p2pd_pid) == 0) {
		snprintf(req, sizeof(req), "{\"id\":%llu}", (unsigned long long)id);
		ok = raw_req(adm, P2P_OP_REVOKE, req) | raw_req(owner, P2P_OP_RELEASE, req);
		kill(p2pd_pid, SIGCONT);
		rr = raw_recv(adm, 5000, &rv, NULL);
		rlr = raw_recv(owner, 5000, &rl, NULL);
		/* the revoke is answered: an event, if any, was queued before this */
		if (raw_req(owner, P2P_OP_HELLO, "{\"version\":1}") == 0)
			rn = raw_recv(owner, 5000, &next, &nh);
		if (raw_req(adm, P2P_OP_BUFFERS, "{}") == 0 &&
		    raw_recv(adm, 5000, &lst, NULL) == 1 &&
		    json_object_object_get_ex(lst, "buffers", &v)) {
			listed = false;
			for (size_t i = 0; i < json_object_array_length(v); i++) {
				struct json_object *b = json_object_array_get_idx(v, i), *bid;

				if (json_object_object_get_ex(b, "id", &bid) &&
				    json_object_get_uint64(bid) == id)
					listed = true;
			}
		}
	}
	revokes1 = stats_revokes();
	if (ok != 0 || rr != 1 || rlr != 1) {
		fail_why("setup or replies failed (send %d, recv %d/%d)", ok, rr, rlr);
		ok = -1;
	} else if (!jget(rv, "ok") || strcmp(jget(rv, "ok"), "true") != 0 ||
		   !jget(rv, "owner_notified") ||
		   strcmp(jget(rv, "owner_notified"), "false") != 0) {
		fail_why("revoke reply: %s",
			 json_object_to_json_string_ext(rv, JSON_C_TO_STRING_PLAIN));
		ok = -1;
	} else if (!jget(rl, "ok") || strcmp(jget(rl, "ok"), "true") != 0) {
		fail_why("release reply: %s",
			 json_object_to_json_string_ext(rl, JSON_C_TO_STRING_PLAIN));
		ok = -1;
	} else if (rn != 1 || nh.opcode != P2P_OP_HELLO) {
		fail_why(
		    "the former owner got opcode %u after its release, not its HELLO reply: %s",
		    (unsigned)nh.opcode,
		    next ? json_object_to_json_string_ext(next, JSON_C_TO_STRING_PLAIN) : "none");
		ok = -1;
	} else if (listed) {
		fail_why("BUFFERS still lists buffer %llu (or failed)", (unsigned long long)id);
		ok = -1;
	} else if (revokes1 != revokes0 + 1) {
		fail_why("STATS revokes went from %lld to %lld, not by one", (long long)revokes0,
			 (long long)revokes1);
		ok = -1;
	}
	json_object_put(rv);
	json_object_put(rl);
	json_object_put(next);
	json_object_put(lst);
	if (owner >= 0)
		close(owner);
	if (adm >= 0)
		close(adm);
	return ok;
}

/*
 * An owner that stops reading while an admin revokes its buffers one by one:
 * its "revoked" events pile up in p2pd until its queue (4096 messages) is
 * full; the revoke that finds it full drops the owner (owner_notified false),
 * which frees its other buffers, so the later revokes find nothing (ENOENT);
 * the owner, reading at last, gets the events that were sent, then EOF.
 */
#define QF_BUFFERS 5500 /* more than the queue, plus what the socket holds */
#define QF_WINDOW 16	/* requests in flight per connection */

static int t_owner_queue_full(void)
{
	char qsock[300], qcfg[300], text[1024], req[64], saved[300];
	static uint64_t ids[QF_BUFFERS];
	int owner = -1, adm = -1, n_ok = 0, n_dropped = 0, n_gone = 0, events = 0, eof = 0;
	int first_dropped = -1, bad = 0;
	pid_t pid;

	snprintf(qsock, sizeof(qsock), "%s/qfull.sock", tmpdir);
	snprintf(qcfg, sizeof(qcfg), "%s/qfull.json", tmpdir);
	snprintf(
	    text, sizeof(text),
	    "{ \"version\": 1,\n"
	    "  \"socket\": { \"path\": \"%s\", \"mode\": \"0600\" },\n"
	    "  \"limits\": { \"max_buffers\": %d, \"max_bytes\": \"1G\" },\n"
	    "  \"rules\": [ { \"uid\": 0, \"devices\": [\"*\"], \"types\": [\"memfd\"] } ] }\n",
	    qsock, QF_BUFFERS + 10);
	CHECK(write_file(qcfg, text) == 0, "write %s", qcfg);
	pid = start_p2pd(fixture, qcfg, qsock, NULL, 0);
	CHECK(pid > 0, "start p2pd for the queue test: %s", why);
	snprintf(saved, sizeof(saved), "%s", sock_path);
	snprintf(sock_path, sizeof(sock_path), "%s", qsock);
	owner = raw_ready();
	adm = raw_ready();
	snprintf(sock_path, sizeof(sock_path), "%s", saved);
	if (owner < 0 || adm < 0) {
		fail_why("connect to the queue test's p2pd");
		goto out;
	}
	/* the owner's buffers, QF_WINDOW requests at a time */
	for (int i = 0; i < QF_BUFFERS && !bad; i += QF_WINDOW) {
		int k = QF_BUFFERS - i < QF_WINDOW ? QF_BUFFERS - i : QF_WINDOW;

		for (int j = 0; j < k; j++)
			bad |=
			    raw_req(owner, P2P_OP_ALLOC, "{\"size\":4096,\"types\":[\"memfd\"]}");
		for (int j = 0; j < k && !bad; j++) {
			struct json_object *o = NULL, *b, *v;

			if (raw_recv(owner, 10000, &o, NULL) == 1 &&
			    json_object_object_get_ex(o, "buffer", &b) &&
			    json_object_object_get_ex(b, "id", &v))
				ids[i + j] = json_object_get_uint64(v);
			else
				bad = 1;
			json_object_put(o);
		}
	}
	if (bad) {
		fail_why("the owner's allocations failed");
		goto out;
	}
	/* the owner reads nothing now; the admin revokes every buffer */
	for (int i = 0; i < QF_BUFFERS && !bad; i += QF_WINDOW) {
		int k = QF_BUFFERS - i < QF_WINDOW ? QF_BUFFERS - i : QF_WINDOW;

		for (int j = 0; j < k; j++) {
			snprintf(req, sizeof(req), "{\"id\":%llu}", (unsigned long long)ids[i + j]);
			bad |= raw_req(adm, P2P_OP_REVOKE, req);
		}
		for (int j = 0; j < k && !bad; j++) {
			struct json_object *o = NULL;
			const char *code, *notified;

			if (raw_recv(adm, 10000, &o, NULL) != 1) {
				bad = 1;
				break;
			}
			code = jget(o, "code");
			notified = jget(o, "owner_notified");
			if (!code && notified && strcmp(notified, "true") == 0 && !n_dropped)
				n_ok++;
			else if (!code && notified && strcmp(notified, "false") == 0 && !n_dropped)
				n_dropped++, first_dropped = i + j;
			else if (code && strcmp(code, "ENOENT") == 0 && n_dropped)
				n_gone++;
			else
				bad = 2;
			json_object_put(o);
		}
	}
	/* the owner reads: the events sent before it was dropped, then EOF */
	for (;;) {
		struct json_object *o = NULL;
		int r = raw_recv(owner, 5000, &o, NULL);

		if (r == 1 && jget(o, "event") && strcmp(jget(o, "event"), "revoked") == 0)
			events++;
		json_object_put(o);
		if (r != 1) {
			eof = r == 0;
			break;
		}
	}
	if (bad) {
		fail_why("revoke replies out of order (%d): %d notified, %d dropped, %d gone", bad,
			 n_ok, n_dropped, n_gone);
		goto out;
	}
	if (n_dropped != 1 || n_ok < 4096 || n_ok + 1 + n_gone != QF_BUFFERS) {
		fail_why("%d revokes notified the owner, %d dropped it (at %d), %d found nothing",
			 n_ok, n_dropped, first_dropped, n_gone);
		bad = 1;
	} else if (!eof || events != n_ok - 4096) {
		fail_why(
		    "the dropped owner read %d events (%d were sent, 4096 more queued), then %s",
		    events, n_ok - 4096, eof ? "EOF" : "no EOF");
		bad = 1;
	} else {
		printf("  (owner dropped at revoke %d: %d events sent, 4096 queued)\n",
		       first_dropped + 1, events);
	}
out:
	if (owner >= 0)
		close(owner);
	if (adm >= 0)
		close(adm);
	if (stop_p2pd(pid) != 0 && !bad && !why[0]) {
		fail_why("p2pd of the queue test did not exit cleanly");
		bad = 1;
	}
	unlink(qcfg);
	return bad || why[0] ? -1 : 0;
}

/* ---- a second real uid (issue 15): rules by uid not gid, one client cannot
 * release another's buffer, byte quota after release, exact back-pressure ---- */

#define NOBODY2 65533 /* a second unprivileged uid (no passwd entry needed) */

/* Fork a child with exactly these credentials (@supp: supplementary groups)
 * running @fn; returns its pid, or -1. */
static pid_t spawn_as(uid_t uid, gid_t gid, gid_t supp, int (*fn)(void))
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid != 0)
		return pid;
	if (setgroups(1, &supp) < 0 || setgid(gid) < 0 || setuid(uid) < 0 || getuid() != uid ||
	    getgid() != gid) {
		printf("  (spawn_as %u/%u: cannot set credentials: %m)\n", (unsigned)uid,
		       (unsigned)gid);
		_exit(3);
	}
	int r = fn();
	if (r != 0)
		printf("  (as uid %u gid %u: %s)\n", (unsigned)uid, (unsigned)gid, why);
	fflush(stdout);
	_exit(r == 0 ? 0 : 1);
}

static int wait_child(pid_t pid, const char *who)
{
	int st;

	CHECK(pid > 0, "fork for %s failed", who);
	CHECK(waitpid(pid, &st, 0) == pid, "waitpid %s", who);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed (status 0x%x)", who, st);
	return 0;
}

/* The memfd request the NOBODY rule allows (peer 04:00.0 is on its list). */
static struct p2p_alloc_req nobody_req(uint64_t size)
{
	static const char *peers[1] = {"0000:04:00.0"};
	struct p2p_alloc_req req = {.size = size, .types = P2P_BUF_MEMFD, .peers = peers, .npeers = 1};

	return req;
}

/* uid 65533 whose gid is 65534: the "uid 65534" rule is not its rule. */
static int uid_rule_other_uid(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_hello_info hi;
	struct p2p_alloc_req req = nobody_req(4096);
	struct p2p_buffer_info info;
	int fd = -1, r;

	CHECK(c, "connect");
	r = p2p_hello(c, &hi);
	CHECK(r == 0 && hi.uid == NOBODY2, "hello: r=%d uid=%u", r, hi.uid);
	r = p2p_alloc(c, &req, &info, &fd, NULL);
	if (fd >= 0)
		close(fd);
	CHECK(r == -EPERM, "uid %d (gid %d) got the uid-%d rule: alloc %d (%s)", NOBODY2, NOBODY,
	      NOBODY, r, p2p_last_message(c));
	CHECK(strstr(p2p_last_message(c), "default"), "refusal does not name the default rule: %s",
	      p2p_last_message(c));
	p2p_disconnect(c);
	return 0;
}

/* uid 65534 whose gid is 65533: its uid rule applies. */
static int uid_rule_own_uid(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_alloc_req req = nobody_req(4096);
	struct p2p_buffer_info info;
	int fd = -1, r;

	CHECK(c, "connect");
	r = p2p_alloc(c, &req, &info, &fd, NULL);
	CHECK(r == 0, "uid %d with gid %d: alloc %d (%s)", NOBODY, NOBODY2, r,
	      p2p_last_message(c));
	close(fd);
	p2p_disconnect(c);
	return 0;
}

static int t_uid_rule_not_gid(void)
{
	CHECK(wait_child(spawn_as(NOBODY2, NOBODY, NOBODY, uid_rule_other_uid),
			 "uid 65533/gid 65534") == 0,
	      "%s", why);
	CHECK(wait_child(spawn_as(NOBODY, NOBODY2, NOBODY, uid_rule_own_uid),
			 "uid 65534/gid 65533") == 0,
	      "%s", why);
	return 0;
}

static int id_pipe[2] = {-1, -1}, go_pipe[2] = {-1, -1};
static uint64_t victim_id;

static int read_full(int fd, void *p, size_t len)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN};

	if (poll(&pf, 1, 10000) <= 0)
		return -1;
	return read(fd, p, len) == (ssize_t)len ? 0 : -1;
}

/* The owner: allocates, tells the id, waits, then checks the buffer is still
 * its own and releases it. */
static int release_owner(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_alloc_req req = nobody_req(8192);
	struct p2p_buffer_info info, *list = NULL;
	size_t n = 0;
	int fd = -1, r;
	char go;

	CHECK(c, "connect");
	r = p2p_alloc(c, &req, &info, &fd, NULL);
	CHECK(r == 0, "owner alloc: %d (%s)", r, p2p_last_message(c));
	CHECK(write(id_pipe[1], &info.id, sizeof(info.id)) == sizeof(info.id), "write id");
	CHECK(read_full(go_pipe[0], &go, 1) == 0, "no go from the parent");
	r = p2p_list(c, &list, &n);
	CHECK(r == 0 && n == 1 && list[0].id == info.id,
	      "the owner lost its buffer to another uid's release (r=%d n=%zu)", r, n);
	free(list);
	r = p2p_release(c, info.id);
	CHECK(r == 0, "owner release: %d", r);
	close(fd);
	p2p_disconnect(c);
	return 0;
}

/* Another uid: the id is not its to release. */
static int release_thief(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_buffer_info *list = NULL;
	size_t n = 9;
	int r;

	CHECK(c, "connect");
	r = p2p_release(c, victim_id);
	CHECK(r == -ENOENT, "uid %d released uid %d's buffer %llu: %d", NOBODY2, NOBODY,
	      (unsigned long long)victim_id, r);
	r = p2p_list(c, &list, &n);
	CHECK(r == 0 && n == 0, "the other uid lists buffers: n=%zu", n);
	free(list);
	p2p_disconnect(c);
	return 0;
}

static int t_release_other_uid(void)
{
	pid_t owner;
	int r = 0;

	CHECK(pipe2(id_pipe, O_CLOEXEC) == 0 && pipe2(go_pipe, O_CLOEXEC) == 0, "pipes");
	owner = spawn_as(NOBODY, NOBODY, NOBODY, release_owner);
	if (read_full(id_pipe[0], &victim_id, sizeof(victim_id)) < 0) {
		fail_why("owner did not report a buffer id");
		r = -1;
	}
	if (r == 0 && wait_child(spawn_as(NOBODY2, NOBODY, NOBODY, release_thief),
				 "uid 65533 release") < 0)
		r = -1;
	if (r == 0) { /* not root either: admins revoke, they do not release */
		struct p2p_conn *adm = conn_open();
		int rr = adm ? p2p_release(adm, victim_id) : -EIO;

		p2p_disconnect(adm);
		if (rr != -ENOENT) {
			fail_why("root's connection released uid %d's buffer: %d", NOBODY, rr);
			r = -1;
		}
	}
	if (write(go_pipe[1], "g", 1) != 1 && r == 0) {
		fail_why("write go");
		r = -1;
	}
	char saved[sizeof(why)];
	memcpy(saved, why, sizeof(why));
	int ro = wait_child(owner, "owner");
	if (r == 0 && ro < 0)
		r = -1;
	else if (r < 0)
		memcpy(why, saved, sizeof(why));
	close(id_pipe[0]);
	close(id_pipe[1]);
	close(go_pipe[0]);
	close(go_pipe[1]);
	return r;
}

/* max_bytes 1 MiB for NOBODY: a release gives the bytes back, exactly (while
 * the uid still holds another buffer, so its usage entry stays). */
static int release_bytes_body(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_alloc_req big = nobody_req(768 << 10), half = nobody_req(512 << 10),
			     rest = nobody_req((512 << 10) - 4096), page = nobody_req(4096);
	struct p2p_buffer_info info, a;
	int fp = -1, fa = -1, fb = -1, fc = -1, fd = -1, r;
	int64_t deadline;

	CHECK(c, "connect");
	r = p2p_alloc(c, &page, &info, &fp, NULL);
	CHECK(r == 0, "4 KiB: %d (%s)", r, p2p_last_message(c));
	r = p2p_alloc(c, &big, &a, &fa, NULL);
	CHECK(r == 0, "768 KiB: %d (%s)", r, p2p_last_message(c));
	r = p2p_alloc(c, &half, &info, &fd, NULL);
	CHECK(r == -EDQUOT, "4 + 768 + 512 KiB over 1 MiB: got %d", r);
	close(fa);
	CHECK(p2p_release(c, a.id) == 0, "release");
	/* the bytes come back (allow a moment for a quota that waits until the
	 * memory is really gone) */
	deadline = now_ms() + 2000;
	do {
		r = p2p_alloc(c, &half, &info, &fb, NULL);
		if (r == -EDQUOT)
			usleep(20000);
	} while (r == -EDQUOT && now_ms() < deadline);
	CHECK(r == 0, "512 KiB after releasing 768 KiB: %d (%s)", r, p2p_last_message(c));
	r = p2p_alloc(c, &rest, &info, &fc, NULL);
	CHECK(r == 0, "up to exactly 1 MiB held: %d (%s)", r, p2p_last_message(c));
	r = p2p_alloc(c, &page, &info, &fd, NULL);
	CHECK(r == -EDQUOT, "one page past 1 MiB: got %d", r);
	CHECK(strstr(p2p_last_message(c), "bytes"), "quota message: %s", p2p_last_message(c));
	close(fp);
	close(fb);
	close(fc);
	p2p_disconnect(c);
	return 0;
}

/* The byte quota checks the page-rounded size a dma-buf is accounted with
 * (issue 16 item 6): 1 byte of memfd held, then a host buffer of 1 MiB - 1
 * bytes fits unrounded but not rounded (1 MiB + 1 > the 1 MiB quota). */
static int page_round_body(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_alloc_req one = nobody_req(1), host = nobody_req((1 << 20) - 1);
	struct p2p_buffer_info info;
	int f1 = -1, f2 = -1, r;

	CHECK(c, "connect");
	host.types = P2P_BUF_HOST;
	r = p2p_alloc(c, &one, &info, &f1, NULL);
	CHECK(r == 0, "1 byte memfd: %d (%s)", r, p2p_last_message(c));
	r = p2p_alloc(c, &host, &info, &f2, NULL);
	if (f2 >= 0)
		close(f2);
	close(f1);
	p2p_disconnect(c);
	CHECK(r == -EDQUOT, "host buffer of 1 MiB - 1 with 1 byte held under a 1 MiB quota: %d "
			    "(accounted %llu bytes)",
	      r, r == 0 ? (unsigned long long)info.size : 0ull);
	return 0;
}

/* ---- issue 16 item 6: a quota counts a buffer until its memory is gone ---- */

static int qh_go[2], qh_done[2];
static unsigned qh_types = P2P_BUF_MEMFD;

/* Allocate until it works (the memory of a closed fd goes a moment later)
 * or 3 s pass; the last result. */
static int qh_alloc_soon(struct p2p_conn *c, const struct p2p_alloc_req *req, int *ret_fd)
{
	struct p2p_buffer_info info;
	int64_t deadline = now_ms() + 3000;
	int r;

	do {
		r = p2p_alloc(c, req, &info, ret_fd, NULL);
		if (r == -EDQUOT)
			usleep(20000);
	} while (r == -EDQUOT && now_ms() < deadline);
	return r;
}

/* As nobody (4 buffers at most): released buffers held by fds and a mapping
 * keep counting until those are gone, across connections too. */
static int quota_held_body(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_alloc_req req = nobody_req(4096);
	struct p2p_buffer_info info;
	int f[4] = {-1, -1, -1, -1}, g[3] = {-1, -1, -1}, x = -1, r;
	uint64_t ids[4];
	void *map;
	char ch;

	req.types = qh_types;
	CHECK(c, "connect");
	for (int i = 0; i < 4; i++) {
		r = p2p_alloc(c, &req, &info, &f[i], NULL);
		CHECK(r == 0, "alloc %d: %d (%s)", i, r, p2p_last_message(c));
		ids[i] = info.id;
	}
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, f[3], 0);
	CHECK(map != MAP_FAILED, "mmap: %m");
	close(f[3]); /* only the mapping holds it now */
	for (int i = 0; i < 4; i++)
		CHECK(p2p_release(c, ids[i]) == 0, "release %d: %s", i, p2p_last_message(c));
	usleep(300000);
	r = p2p_alloc(c, &req, &info, &x, NULL);
	CHECK(r == -EDQUOT,
	      "4 released buffers still held (3 fds, 1 mapping) under a 4-buffer quota: a 5th "
	      "alloc got %d, want EDQUOT",
	      r);
	CHECK(write(qh_done[1], "a", 1) == 1 && read(qh_go[0], &ch, 1) == 1, "sync");
	/* the fds go, their memory with them, and the quota comes back */
	close(f[0]);
	close(f[1]);
	CHECK(qh_alloc_soon(c, &req, &g[0]) == 0, "after closing 2 fds: %s", p2p_last_message(c));
	CHECK(qh_alloc_soon(c, &req, &g[1]) == 0, "after closing 2 fds, the 2nd: %s",
	      p2p_last_message(c));
	r = p2p_alloc(c, &req, &info, &x, NULL);
	CHECK(r == -EDQUOT, "2 released still held + 2 new: a 5th got %d", r);
	munmap(map, 4096);
	CHECK(qh_alloc_soon(c, &req, &g[2]) == 0, "after munmap: %s", p2p_last_message(c));
	/* leaving with every fd held: still counted on the next connection */
	p2p_disconnect(c);
	c = conn_open();
	CHECK(c, "reconnect");
	usleep(300000);
	r = p2p_alloc(c, &req, &info, &x, NULL);
	CHECK(r == -EDQUOT, "a new connection while the old one's 4 buffers are held: got %d", r);
	close(f[2]);
	CHECK(qh_alloc_soon(c, &req, &x) == 0, "after closing a held fd: %s", p2p_last_message(c));
	close(x);
	for (int i = 0; i < 3; i++)
		close(g[i]);
	p2p_disconnect(c);
	return 0;
}

static int quota_held_run(unsigned types)
{
	const char *argv[] = {p2pctl_bin, "buffers", NULL};
	struct p2p_conn *adm = conn_open();
	char out[8192] = "", *text = NULL, ch;
	struct json_object *arr = NULL;
	int released = 0, rc = -1, shown = 0, w;
	pid_t child;

	CHECK(adm, "connect");
	CHECK(pipe2(qh_go, O_CLOEXEC) == 0 && pipe2(qh_done, O_CLOEXEC) == 0, "pipe");
	qh_types = types;
	child = spawn_as(NOBODY, NOBODY, NOBODY, quota_held_body);
	close(qh_done[1]); /* a child that fails early: EOF, not a hang */
	close(qh_go[0]);
	if (child > 0 && read(qh_done[0], &ch, 1) == 1) {
		if (p2p_admin_buffers_json(adm, &text) == 0)
			arr = json_tokener_parse(text);
		for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
			struct json_object *b = json_object_array_get_idx(arr, i), *v;

			if (json_object_object_get_ex(b, "released", &v) &&
			    json_object_get_boolean(v) && json_object_object_get_ex(b, "uid", &v) &&
			    json_object_get_int64(v) == NOBODY)
				released++;
		}
		json_object_put(arr);
		free(text);
		rc = run_cmd(out, sizeof(out), argv);
		for (const char *p = out; (p = strstr(p, "released, still held")); p++)
			shown++;
		(void)!write(qh_go[1], "b", 1);
	}
	close(qh_go[1]);
	w = wait_child(child, "uid 65534");
	close(qh_done[0]);
	p2p_disconnect(adm);
	if (w < 0)
		return -1;
	CHECK(released == 4, "admin buffers: %d of 4 released-but-held buffers listed", released);
	CHECK(rc == 0 && shown == 4, "p2pctl buffers (exit %d) shows %d of 4 as released, still "
				     "held:\n%s",
	      rc, shown, out);
	return still_serving();
}

static int count_log_lines(const char *needle);

static int t_quota_held(void)
{
	if (count_log_lines("inotify_init1 failed") > 0) /* a kernel without INOTIFY_USER */
		printf("  SKIP: p2pd has no inotify here (CONFIG_INOTIFY_USER): the memfd half "
		       "is not exercised\n");
	else if (quota_held_run(P2P_BUF_MEMFD) < 0)
		return -1;
	if (!expected_host_backend()) {
		printf("  SKIP: no host backend here (/dev/udmabuf, /dev/dma_heap/system, "
		       "/dev/p2pbroker): the dma-buf (fdinfo count) half is not exercised\n");
		return 0;
	}
	return quota_held_run(P2P_BUF_HOST);
}

static int t_quota_page_round(void)
{
	if (!expected_host_backend()) {
		printf("  SKIP: no host backend here (/dev/udmabuf, /dev/dma_heap/system, "
		       "/dev/p2pbroker): the page-rounded quota check is not exercised\n");
		return 0;
	}
	return as_nobody(page_round_body);
}

/* This connection's own entry of the admin clients list: buffers and bytes. */
static int self_usage(struct p2p_conn *c, int64_t *buffers, int64_t *bytes)
{
	char *text = NULL;
	struct json_object *o, *arr, *e, *v;
	int found = -1;

	if (p2p_admin_clients_json(c, &text) < 0)
		return -1;
	o = json_tokener_parse(text);
	free(text);
	arr = o; /* the library hands over the "clients" array */
	if (o && json_object_is_type(o, json_type_object) &&
	    !json_object_object_get_ex(o, "clients", &arr))
		arr = NULL;
	if (!arr || !json_object_is_type(arr, json_type_array)) {
		json_object_put(o);
		return -1;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		e = json_object_array_get_idx(arr, i);
		if (!json_object_object_get_ex(e, "self", &v) || !json_object_get_boolean(v))
			continue;
		if (json_object_object_get_ex(e, "buffers", &v))
			*buffers = json_object_get_int64(v);
		if (json_object_object_get_ex(e, "bytes", &v))
			*bytes = json_object_get_int64(v);
		found = 0;
	}
	json_object_put(o);
	return found;
}

static int t_release_bytes(void)
{
	struct p2p_conn *c;
	struct p2p_alloc_req a = {.size = 64 << 10, .types = P2P_BUF_MEMFD},
			     b = {.size = 128 << 10, .types = P2P_BUF_MEMFD};
	struct p2p_buffer_info ia, ib;
	int fa = -1, fb = -1, r;
	int64_t nbuf = -1, nbytes = -1;

	if (wait_child(spawn_as(NOBODY, NOBODY, NOBODY, release_bytes_body), "uid 65534") < 0)
		return -1;
	/* the connection's own usage, as admins see it, drops by the bytes too */
	c = conn_open();
	CHECK(c, "connect");
	r = p2p_alloc(c, &a, &ia, &fa, NULL);
	CHECK(r == 0, "alloc 64 KiB: %d", r);
	r = p2p_alloc(c, &b, &ib, &fb, NULL);
	CHECK(r == 0, "alloc 128 KiB: %d", r);
	CHECK(self_usage(c, &nbuf, &nbytes) == 0 && nbuf == 2 && nbytes == (192 << 10),
	      "clients: own usage %lld buffers %lld bytes, want 2 and 196608", (long long)nbuf,
	      (long long)nbytes);
	close(fb);
	CHECK(p2p_release(c, ib.id) == 0, "release");
	CHECK(self_usage(c, &nbuf, &nbytes) == 0 && nbuf == 1 && nbytes == (64 << 10),
	      "clients after a release: own usage %lld buffers %lld bytes, want 1 and 65536",
	      (long long)nbuf, (long long)nbytes);
	close(fa);
	p2p_disconnect(c);
	return 0;
}

static int64_t stats_requests(struct p2p_conn *adm)
{
	char *text = NULL;
	struct json_object *o, *s, *v;
	int64_t n = -1;

	if (p2p_admin_stats_json(adm, &text) < 0)
		return -1;
	o = json_tokener_parse(text);
	if (o && json_object_object_get_ex(o, "stats", &s) &&
	    json_object_object_get_ex(s, "requests", &v))
		n = json_object_get_int64(v);
	else if (o && json_object_object_get_ex(o, "requests", &v))
		n = json_object_get_int64(v);
	json_object_put(o);
	free(text);
	return n;
}

/*
 * A client that sends and never reads: p2pd answers until the socket holds
 * no more (K replies, counted here with SIOCINQ), queues exactly
 * max_pending_per_client (16) more, and then stops reading that client.
 */
static int t_backpressure_exact(void)
{
	char hello[] = "{\"version\":1}";
	static char rbuf[P2P_PROTO_MAX_DATAGRAM];
	struct p2p_conn *adm = conn_open();
	int fd = raw_connect(), inq = -1, outq = -1, fl, sent = 0;
	ssize_t s;
	int64_t before, after, last_ok;

	CHECK(adm && fd >= 0, "connect");
	CHECK(raw_send(fd, 1, P2P_OP_HELLO, 0, 13, hello, 13) == 0, "hello");
	struct pollfd p = {.fd = fd, .events = POLLIN};
	CHECK(poll(&p, 1, 5000) == 1, "no hello reply");
	s = recv(fd, rbuf, sizeof(rbuf), 0);
	CHECK(s > (ssize_t)sizeof(struct p2p_msg_hdr), "hello reply: %zd", s);
	before = stats_requests(adm);
	CHECK(before > 0, "stats");
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	last_ok = now_ms();
	while (now_ms() - last_ok < 500 && sent < 100000) {
		if (raw_send(fd, 1, P2P_OP_HELLO, 0, 13, hello, 13) == 0) {
			sent++;
			last_ok = now_ms();
		} else {
			CHECK(errno == EAGAIN, "send: %m");
			usleep(2000);
		}
	}
	usleep(300000); /* let p2pd settle */
	CHECK(ioctl(fd, SIOCINQ, &inq) == 0 && ioctl(fd, SIOCOUTQ, &outq) == 0, "ioctl: %m");
	after = stats_requests(adm);
	CHECK(after > before, "stats");
	int64_t handled = after - before - 1; /* one stats request in between */
	CHECK(inq % s == 0, "queued reply bytes %d not a multiple of the reply size %zd", inq, s);
	int64_t in_socket = inq / s;
	CHECK(outq > 0, "p2pd read all %d requests (none left unread): no back-pressure seen",
	      sent);
	CHECK(handled - in_socket == 16,
	      "p2pd handled %lld requests, %lld replies wait in the socket: %lld queued in p2pd, "
	      "want exactly max_pending_per_client (16)",
	      (long long)handled, (long long)in_socket, (long long)(handled - in_socket));
	close(fd);
	p2p_disconnect(adm);
	usleep(100000);
	return still_serving();
}

/* ---- libp2pclient against a scripted fake daemon: what the library does
 * with replies p2pd itself never sends (stale ids, events in between, chunks,
 * connection-level errors, wrong opcodes, extra fds, silence) ---- */

static char fake_path[320];

/* One datagram from the fake daemon, with @nfds copies of @sendfd attached. */
static int fake_send(int fd, uint8_t op, uint64_t id, uint16_t flags, const char *json,
		     int sendfd, int nfds)
{
	struct p2p_msg_hdr h = {.version = P2P_PROTO_VERSION,
				.opcode = op,
				.flags = (uint16_t)(flags | P2P_FLAG_REPLY),
				.len = (uint32_t)strlen(json),
				.id = id};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)json, strlen(json)}};
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};

	if (sendfd >= 0 && nfds > 0) {
		int fds[4] = {sendfd, sendfd, sendfd, sendfd};
		struct cmsghdr *c;

		memset(cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	return sendmsg(fd, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* Read one request; returns its header (id 0 on failure). */
static struct p2p_msg_hdr fake_read(int fd)
{
	char b[P2P_PROTO_MAX_DATAGRAM];
	struct p2p_msg_hdr h = {0};
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (poll(&p, 1, 5000) == 1 && recv(fd, b, sizeof(b), 0) >= (ssize_t)sizeof(h))
		memcpy(&h, b, sizeof(h));
	return h;
}

/* Read one request and its JSON (NUL-terminated in @text); id 0 on failure. */
static struct p2p_msg_hdr fake_read_text(int fd, char *text, size_t len)
{
	char b[P2P_PROTO_MAX_DATAGRAM];
	struct p2p_msg_hdr h = {0};
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n = poll(&p, 1, 5000) == 1 ? recv(fd, b, sizeof(b), 0) : -1;

	text[0] = '\0';
	if (n >= (ssize_t)sizeof(h)) {
		memcpy(&h, b, sizeof(h));
		snprintf(text, len, "%.*s", (int)(n - (ssize_t)sizeof(h)), b + sizeof(h));
	}
	return h;
}

static int fake_script_id; /* which behaviour the child plays */
static int fake_pipe[2] = {-1, -1};

static void fake_play(int fd)
{
	struct p2p_msg_hdr h, h2;
	char ev[160];

	if (fake_script_id == 20) /* gone before the first request */
		return;
	if (fake_script_id == 23) { /* says why and closes, the request unread */
		usleep(300000);
		fake_send(fd, P2P_OP_HELLO, 0, 0,
			  "{\"ok\":false,\"errno\":87,\"message\":\"limit reached\"}", -1, 0);
		return;
	}
	if (fake_script_id == 21) { /* says why, then closes without reading */
		fake_send(fd, P2P_OP_HELLO, 0, P2P_FLAG_FD,
			  "{\"ok\":false,\"errno\":87,\"message\":\"no more for you\"}",
			  fake_pipe[0], 1);
		usleep(100000);
		return;
	}
	h = fake_read(fd);
	switch (fake_script_id) {
	case 0: /* stale reply, an event, then the reply in three chunks */
		fake_send(fd, h.opcode, h.id + 1000, 0, "{\"ok\":true,\"stale\":1}", -1, 0);
		fake_send(fd, P2P_OP_EVENT, 0, 0,
			  "{\"event\":\"revoked\",\"id\":5,\"reason\":\"by the admin\"}", -1, 0);
		fake_send(fd, h.opcode, h.id, P2P_FLAG_MORE, "{\"ok\":true,", -1, 0);
		fake_send(fd, h.opcode, h.id, P2P_FLAG_MORE, "\"version\":1,\"server\":\"fake\",",
			  -1, 0);
		fake_send(fd, h.opcode, h.id, 0,
			  "\"uid\":11,\"gid\":12,\"pid\":13,\"admin\":false,\"max_message_size\":4096}",
			  -1, 0);
		break;
	case 1: /* connection-level error, then close */
		fake_send(fd, P2P_OP_HELLO, 0, 0,
			  "{\"ok\":false,\"errno\":87,\"code\":\"EUSERS\",\"message\":\"too many "
			  "connections for uid 1000\"}",
			  -1, 0);
		break;
	case 2: /* a reply of another opcode */
		fake_send(fd, P2P_OP_STATS, h.id, 0, "{\"ok\":true}", -1, 0);
		break;
	case 3: /* an error named only by its code */
		fake_send(fd, h.opcode, h.id, 0,
			  "{\"ok\":false,\"code\":\"EDQUOT\",\"message\":\"over the quota\"}", -1, 0);
		h = fake_read(fd);
		fake_send(fd, h.opcode, h.id, 0, "{\"ok\":false,\"code\":\"EWHAT\"}", -1, 0);
		h = fake_read(fd);
		fake_send(fd, h.opcode, h.id, 0, "{\"okay\":true}", -1, 0);
		h = fake_read(fd);
		fake_send(fd, h.opcode, h.id, 0, "{\"ok\":true,\"buffers\":7}", -1, 0);
		h = fake_read(fd);
		fake_send(fd, h.opcode, h.id, 0, "[1,2]", -1, 0);
		break;
	case 4: /* no reply at all: close */
		break;
	case 5: /* silence until the client gives up */
		usleep(1500000);
		break;
	case 6: /* a reply with two fds */
		fake_send(fd, h.opcode, h.id, P2P_FLAG_FD, "{\"ok\":true}", fake_pipe[0], 2);
		break;
	case 7: /* a flood of events before the reply */
		for (int i = 1; i <= 100; i++) {
			snprintf(ev, sizeof(ev), "{\"event\":\"revoked\",\"id\":%d,\"reason\":\"r\"}",
				 i);
			fake_send(fd, P2P_OP_EVENT, 0, 0, ev, -1, 0);
		}
		fake_send(fd, h.opcode, h.id, 0, "{\"ok\":true,\"buffers\":[]}", -1, 0);
		break;
	case 8: /* a daemon of another protocol version */
		fake_send(fd, h.opcode, h.id, 0, "{\"ok\":true,\"version\":2}", -1, 0);
		break;
	case 9: /* one datagram far past the largest a reply may be */
	case 10: /* a header of another wire version */
	case 11: { /* a header whose length is not the datagram's */
		static char big[4 * P2P_PROTO_MAX_DATAGRAM];
		struct p2p_msg_hdr bh = {.version = P2P_PROTO_VERSION,
					 .opcode = h.opcode,
					 .flags = P2P_FLAG_REPLY,
					 .len = sizeof(big) - sizeof(bh),
					 .id = h.id};
		size_t n = sizeof(big);

		memset(big, ' ', sizeof(big));
		if (fake_script_id == 10) {
			bh.version = 9;
			bh.len = 11;
			n = sizeof(bh) + 11;
		} else if (fake_script_id == 11) {
			bh.len = 5000;
			n = sizeof(bh) + 11;
		}
		memcpy(big, &bh, sizeof(bh));
		memcpy(big + sizeof(bh), "{\"ok\":true}", 11);
		(void)!send(fd, big, n, MSG_NOSIGNAL);
		break;
	}
	case 12: /* the first chunk of a reply, then the daemon dies */
		fake_send(fd, h.opcode, h.id, P2P_FLAG_MORE, "{\"ok\":true,\"version\":", -1, 0);
		return;
	case 13: /* chunks without end, past P2P_PROTO_MAX_REPLY */
		fake_send(fd, h.opcode, h.id, P2P_FLAG_MORE, "{\"ok\":true,\"x\":\"", -1, 0);
		{
			static char chunk[P2P_PROTO_CHUNK + 1];

			memset(chunk, 'a', P2P_PROTO_CHUNK);
			for (int i = 0; i < P2P_PROTO_MAX_REPLY / P2P_PROTO_CHUNK + 8; i++)
				if (fake_send(fd, h.opcode, h.id, P2P_FLAG_MORE, chunk, -1, 0) < 0)
					break;
		}
		break;
	case 14: /* an fd on a reply that carries none */
		fake_send(fd, h.opcode, h.id, P2P_FLAG_FD,
			  "{\"ok\":true,\"version\":1,\"server\":\"fake\",\"uid\":1,\"gid\":1,"
			  "\"pid\":1,\"admin\":false,\"max_message_size\":4096}",
			  fake_pipe[0], 1);
		break;
	case 16: /* lists of each type, then malformed entries and replies */
		fake_send(fd, h.opcode, h.id, 0,
			  "{\"ok\":true,\"buffers\":[{\"id\":1,\"type\":\"p2p\",\"size\":4096,"
			  "\"backend\":\"kmod\",\"provider\":\"0000:03:00.0\",\"name\":\"a\"},"
			  "{\"id\":2,\"type\":\"host\",\"size\":8192},"
			  "{\"id\":3,\"type\":\"memfd\",\"size\":1}]}",
			  -1, 0);
		h = fake_read(fd);
		fake_send(fd, h.opcode, h.id, 0,
			  "{\"ok\":true,\"buffers\":[{\"id\":1,\"type\":\"gpu\"}]}", -1, 0);
		h = fake_read(fd);
		fake_send(fd, h.opcode, h.id, 0,
			  "{\"ok\":true,\"buffers\":[{\"id\":0,\"type\":\"host\"}]}", -1, 0);
		h = fake_read(fd);
		fake_send(fd, h.opcode, h.id, 0, "{\"ok\":true}", -1, 0);
		h = fake_read(fd);
		fake_send(fd, h.opcode, h.id, 0,
			  "{\"ok\":false,\"errno\":5000,\"code\":\"EPERM\",\"message\":\"nope\"}",
			  -1, 0);
		break;
	case 17: /* alloc replies: no fd; an fd but no buffer; a buffer of no type */
		fake_send(fd, h.opcode, h.id, 0,
			  "{\"ok\":true,\"buffer\":{\"id\":1,\"type\":\"memfd\",\"size\":4096}}",
			  -1, 0);
		h = fake_read(fd);
		fake_send(fd, h.opcode, h.id, P2P_FLAG_FD, "{\"ok\":true}", fake_pipe[0], 1);
		h = fake_read(fd);
		fake_send(fd, h.opcode, h.id, P2P_FLAG_FD,
			  "{\"ok\":true,\"buffer\":{\"id\":1,\"type\":\"tape\",\"size\":4096}}",
			  fake_pipe[0], 1);
		break;
	case 18: /* release_nowait: a malformed answer (with an fd), a second
		  * failure, then a stale reply, an event and a connection-level
		  * error while the client flushes */
		h2 = fake_read(fd);
		fake_send(fd, h.opcode, h.id, P2P_FLAG_FD, "nonsense", fake_pipe[0], 1);
		fake_send(fd, h2.opcode, h2.id, 0,
			  "{\"ok\":false,\"errno\":2,\"message\":\"second\"}", -1, 0);
		h = fake_read(fd);
		fake_send(fd, h.opcode, h.id, 0, "{\"ok\":false,\"errno\":0}", -1, 0);
		h = fake_read(fd);
		fake_send(fd, h.opcode, h.id + 77, P2P_FLAG_FD, "{\"ok\":true}", fake_pipe[0], 1);
		fake_send(fd, P2P_OP_EVENT, 0, 0,
			  "{\"event\":\"revoked\",\"id\":9,\"reason\":\"flushed\"}", -1, 0);
		fake_send(fd, P2P_OP_RELEASE, 0, 0,
			  "{\"ok\":false,\"errno\":71,\"message\":\"framing\"}", -1, 0);
		usleep(1500000); /* the error itself, not EOF, must end the flush */
		break;
	case 19: /* an answer to a release_nowait, an event with an fd, then EOF */
		fake_send(fd, h.opcode, h.id, 0, "{\"ok\":true}", -1, 0);
		fake_send(fd, P2P_OP_EVENT, 0, P2P_FLAG_FD,
			  "{\"event\":\"revoked\",\"id\":4,\"reason\":\"r\"}", fake_pipe[0], 1);
		fake_send(fd, P2P_OP_EVENT, 0, 0, "{\"event\":", -1, 0); /* malformed: dropped */
		return;
	case 22: /* fds on an event, a stale reply and a reply of another
		  * opcode; then a reply in two chunks each with an fd; then a
		  * connection-level error with an fd and no errno */
		fake_send(fd, P2P_OP_EVENT, 0, P2P_FLAG_FD,
			  "{\"event\":\"revoked\",\"id\":1,\"reason\":\"x\"}", fake_pipe[0], 1);
		fake_send(fd, h.opcode, h.id + 50, P2P_FLAG_FD, "{\"ok\":true}", fake_pipe[0], 1);
		fake_send(fd, P2P_OP_STATS, h.id, P2P_FLAG_FD, "{\"ok\":true}", fake_pipe[0], 1);
		h = fake_read(fd);
		fake_send(fd, h.opcode, h.id, P2P_FLAG_FD | P2P_FLAG_MORE, "{\"ok\":true,",
			  fake_pipe[0], 1);
		fake_send(fd, h.opcode, h.id, P2P_FLAG_FD, "\"check\":{\"map_type\":\"x\"}}",
			  fake_pipe[0], 1);
		h = fake_read(fd);
		fake_send(fd, h.opcode, 0, P2P_FLAG_FD, "{\"ok\":false,\"message\":\"bye\"}",
			  fake_pipe[0], 1);
		break;
	case 24: /* chatty: an event every 50 ms for 1.5 s, no reply */
		for (int i = 1; i <= 30; i++) {
			snprintf(ev, sizeof(ev),
				 "{\"event\":\"revoked\",\"id\":%d,\"reason\":\"r\"}", i);
			if (fake_send(fd, P2P_OP_EVENT, 0, 0, ev, -1, 0) < 0)
				break;
			usleep(50000);
		}
		break;
	case 25: { /* 64 releases in flight; late answers with an event first */
		uint64_t ids[64];

		ids[0] = h.id;
		for (int i = 1; i < 64; i++)
			ids[i] = fake_read(fd).id;
		usleep(200000);
		fake_send(fd, P2P_OP_EVENT, 0, 0,
			  "{\"event\":\"revoked\",\"id\":77,\"reason\":\"while full\"}", -1, 0);
		for (int i = 0; i < 64; i++)
			fake_send(fd, P2P_OP_RELEASE, ids[i], 0, "{\"ok\":true}", -1, 0);
		h = fake_read(fd);
		fake_send(fd, h.opcode, h.id, 0, "{\"ok\":true}", -1, 0);
		break;
	}
	case 26: { /* a daemon without release-noreply: a release as before */
		char text[128];

		fake_send(
		    fd, h.opcode, h.id, 0,
		    "{\"ok\":true,\"version\":1,\"server\":\"old\",\"features\":[\"events\"]}", -1,
		    0);
		h = fake_read_text(fd, text, sizeof(text));
		fake_send(fd, h.opcode, h.id, 0,
			  strcmp(text, "{\"id\":5}") == 0
			      ? "{\"ok\":false,\"errno\":2,\"message\":\"old-style answered\"}"
			      : "{\"ok\":false,\"errno\":22,\"message\":\"not an old release\"}",
			  -1, 0);
		break;
	}
	case 27: { /* release-noreply: success silent, a failure by its id, sync */
		char text[128];

		fake_send(fd, h.opcode, h.id, 0,
			  "{\"ok\":true,\"version\":1,\"server\":\"new\",\"features\":[\"events\","
			  "\"release-noreply\"]}",
			  -1, 0);
		for (int i = 1; i <= 2; i++) {
			char want[64];

			h = fake_read_text(fd, text, sizeof(text));
			snprintf(want, sizeof(want), "{\"id\":%d,\"reply\":false}", i);
			if (h.opcode != P2P_OP_RELEASE || strcmp(text, want) != 0)
				return; /* not a no-reply release: the client sees EOF */
		}
		fake_send(fd, P2P_OP_RELEASE, h.id, 0,
			  "{\"ok\":false,\"errno\":2,\"message\":\"second\"}", -1, 0);
		h = fake_read(fd);
		if (h.opcode != P2P_OP_SYNC)
			return;
		fake_send(fd, h.opcode, h.id, 0, "{\"ok\":true}", -1, 0);
		break; /* and no answer to anything more */
	}
	case 15: /* an alloc reply claiming more than its fd holds */
		fake_send(fd, h.opcode, h.id, P2P_FLAG_FD,
			  "{\"ok\":true,\"buffer\":{\"id\":1,\"type\":\"memfd\",\"backend\":"
			  "\"memfd\",\"provider\":null,\"size\":1073741824,\"name\":\"\","
			  "\"peers\":[]}}",
			  fake_pipe[0], 1);
		break;
	}
	usleep(100000);
}

/* Fork the fake daemon: it accepts one connection and plays @script. */
static pid_t fake_start(int script, int *ret_listen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	pid_t pid;

	snprintf(fake_path, sizeof(fake_path), "%s/fake.sock", tmpdir);
	unlink(fake_path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fake_path);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 4) < 0) {
		if (l >= 0)
			close(l);
		return -1;
	}
	fake_script_id = script;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0)
			fake_play(fd);
		_exit(0);
	}
	*ret_listen = l;
	return pid;
}

static void fake_stop(pid_t pid, int l)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (l >= 0)
		close(l);
	unlink(fake_path);
}

static int log_warnings;
static void count_log(enum p2p_log_level level, const char *msg, void *userdata)
{
	(void)msg;
	(void)userdata;
	if (level == P2P_LOG_WARNING)
		log_warnings++;
}

static long proc_rss_kib(pid_t pid);

static int log_debug_seen;
static void count_debug_log(enum p2p_log_level level, const char *msg, void *userdata)
{
	(void)userdata;
	if (level == P2P_LOG_DEBUG && strstr(msg, P2P_DEFAULT_SOCKET))
		log_debug_seen++;
}

/*
 * RSS bounds mean nothing when p2pd and this test run under ASan (make asan
 * passes SAN=...): freed memory waits in its quarantine (256 MiB) and every
 * allocation carries redzones.  make check and the valgrind run check them.
 */
static bool rss_checked(void)
{
	const char *san = getenv("SAN");

	if (san && *san) {
		printf("  (RSS bound not checked under SAN=%s: the sanitizer's quarantine counts in "
		       "RSS; make check checks it)\n",
		       san);
		return false;
	}
	return true;
}

static int fake_case(int script)
{
	struct p2p_conn *c = NULL;
	struct p2p_hello_info hi;
	struct p2p_event ev;
	struct p2p_buffer_info *list = NULL;
	size_t n = 0;
	char *text = NULL;
	int l = -1, r, ok = -1;
	int64_t t0;
	pid_t pid = fake_start(script, &l);

	if (pid < 0) {
		fail_why("fake daemon: %m");
		return -1;
	}
	if (p2p_connect(fake_path, &c) < 0) {
		fail_why("connect to the fake daemon");
		goto out;
	}
	p2p_conn_set_timeout(c, 5000);
	switch (script) {
	case 0:
		r = p2p_hello(c, &hi);
		if (r != 0 || hi.uid != 11 || hi.gid != 12 || hi.pid != 13 ||
		    strcmp(hi.server, "fake") != 0 || hi.max_message_size != 4096) {
			fail_why("chunked hello after a stale reply and an event: r=%d uid=%u "
				 "server=%s",
				 r, hi.uid, r == 0 ? hi.server : "-");
			goto out;
		}
		r = p2p_next_event(c, &ev);
		if (r != 1 || strcmp(ev.event, "revoked") != 0 || ev.id != 5 ||
		    strcmp(ev.reason, "by the admin") != 0) {
			fail_why("the event that came before the reply: r=%d", r);
			goto out;
		}
		if (p2p_next_event(c, &ev) != 0) {
			fail_why("a second event out of nowhere");
			goto out;
		}
		break;
	case 1:
		r = p2p_hello(c, &hi);
		if (r != -EUSERS || strcmp(p2p_last_message(c), "too many connections for uid 1000")) {
			fail_why("connection-level error: r=%d message '%s'", r, p2p_last_message(c));
			goto out;
		}
		break;
	case 2:
		r = p2p_hello(c, &hi);
		if (r != -EPROTO) {
			fail_why("reply of another opcode: r=%d, want -EPROTO", r);
			goto out;
		}
		break;
	case 3:
		r = p2p_release(c, 1);
		if (r != -EDQUOT || strcmp(p2p_last_message(c), "over the quota")) {
			fail_why("error by code only: r=%d '%s'", r, p2p_last_message(c));
			goto out;
		}
		r = p2p_release(c, 1);
		if (r != -EPROTO) {
			fail_why("error with an unknown code: r=%d, want -EPROTO", r);
			goto out;
		}
		r = p2p_release(c, 1);
		if (r != -EPROTO || !strstr(p2p_last_message(c), "ok")) {
			fail_why("reply without ok: r=%d '%s'", r, p2p_last_message(c));
			goto out;
		}
		r = p2p_list(c, &list, &n);
		if (r != -EPROTO) {
			fail_why("list whose buffers is not an array: r=%d", r);
			free(list);
			goto out;
		}
		r = p2p_list_json(c, &text);
		if (r != -EPROTO) {
			fail_why("a reply that is not an object: r=%d", r);
			free(text);
			goto out;
		}
		break;
	case 4:
		r = p2p_hello(c, &hi);
		if (r != -ECONNRESET || !p2p_last_message(c)[0]) {
			fail_why("daemon closed without a reply: r=%d '%s'", r, p2p_last_message(c));
			goto out;
		}
		break;
	case 5:
		p2p_conn_set_timeout(c, 200);
		t0 = now_ms();
		r = p2p_hello(c, &hi);
		t0 = now_ms() - t0;
		if (r != -ETIMEDOUT || t0 < 150 || t0 > 1400) {
			fail_why("silent daemon: r=%d after %lld ms, want -ETIMEDOUT after ~200 ms", r,
				 (long long)t0);
			goto out;
		}
		break;
	case 6:
		r = p2p_hello(c, &hi);
		if (r >= 0) {
			fail_why("a reply with two fds accepted");
			goto out;
		}
		break;
	case 7:
		log_warnings = 0;
		p2p_set_log_handler(count_log, NULL);
		r = p2p_list(c, &list, &n);
		p2p_set_log_handler(NULL, NULL);
		free(list);
		if (r != 0 || n != 0) {
			fail_why("list after 100 events: r=%d n=%zu", r, n);
			goto out;
		}
		uint64_t prev = 0;
		int got = 0;
		while (p2p_next_event(c, &ev) == 1) {
			if (prev && ev.id != prev + 1) {
				fail_why("events out of order: %llu after %llu",
					 (unsigned long long)ev.id, (unsigned long long)prev);
				goto out;
			}
			prev = ev.id;
			got++;
		}
		if (got < 1 || prev != 100 || (got < 100 && log_warnings == 0)) {
			fail_why("event flood: %d kept, last id %llu, %d warnings logged", got,
				 (unsigned long long)prev, log_warnings);
			goto out;
		}
		break;
	case 8:
		r = p2p_hello(c, &hi);
		if (r != -EPROTONOSUPPORT) {
			fail_why("hello from a version-2 daemon: r=%d", r);
			goto out;
		}
		break;
	case 9:
	case 10:
	case 11:
	case 12:
	case 13:
	case 14: {
		static const char *const what[] = {"an oversized datagram",
						   "a header of wire version 9",
						   "a length field that lies",
						   "a reply cut off after its first chunk",
						   "a reply of endless chunks",
						   "an fd on a hello reply"};
		long rss0 = proc_rss_kib(getpid());

		r = p2p_hello(c, &hi);
		if (script == 14 ? r != 0 : (r >= 0 || r == -ETIMEDOUT)) {
			fail_why("%s: hello returned %d (%s)", what[script - 9], r,
				 p2p_last_message(c));
			goto out;
		}
		if (script == 13 && rss_checked() &&
		    proc_rss_kib(getpid()) - rss0 > 2 * (P2P_PROTO_MAX_REPLY >> 10)) {
			fail_why("%s: the client grew by %ld KiB", what[script - 9],
				 proc_rss_kib(getpid()) - rss0);
			goto out;
		}
		break;
	}
	case 16: {
		const char *want_types[] = {"p2p", "host", "memfd"};

		r = p2p_list(c, &list, &n);
		if (r != 0 || n != 3) {
			fail_why("a list of three buffers: r=%d n=%zu", r, n);
			free(list);
			goto out;
		}
		for (size_t i = 0; i < 3; i++) {
			if (list[i].type != (enum p2p_buf_type)(1u << i) ||
			    strcmp(list[i].type_name, want_types[i]) != 0 || list[i].id != i + 1) {
				fail_why("list entry %zu: type %d '%s' id %llu", i, list[i].type,
					 list[i].type_name, (unsigned long long)list[i].id);
				free(list);
				goto out;
			}
		}
		if (strcmp(list[0].provider, "0000:03:00.0") || strcmp(list[0].backend, "kmod") ||
		    list[1].size != 8192) {
			fail_why("list entry fields: provider '%s' backend '%s'", list[0].provider,
				 list[0].backend);
			free(list);
			goto out;
		}
		free(list);
		list = NULL;
		r = p2p_list(c, &list, &n);
		if (r != -EPROTO) {
			fail_why("a buffer of an unknown type: r=%d", r);
			free(list);
			goto out;
		}
		r = p2p_list(c, &list, &n);
		if (r != -EPROTO) {
			fail_why("a buffer with id 0: r=%d", r);
			free(list);
			goto out;
		}
		r = p2p_list_json(c, &text);
		if (r != -EPROTO) {
			fail_why("a list reply without buffers: r=%d", r);
			free(text);
			goto out;
		}
		r = p2p_release(c, 1);
		if (r != -EPERM || strcmp(p2p_last_message(c), "nope") != 0) {
			fail_why("errno out of range, code EPERM: r=%d '%s'", r,
				 p2p_last_message(c));
			goto out;
		}
		break;
	}
	case 17: {
		struct p2p_alloc_req req = {.size = 4096, .types = P2P_BUF_MEMFD};
		struct p2p_buffer_info info;
		int bfd = -1;
		static const char *const want[] = {"without a file descriptor", "malformed",
						   "malformed"};

		for (int i = 0; i < 3; i++) {
			r = p2p_alloc(c, &req, &info, &bfd, NULL);
			if (r != -EPROTO || bfd >= 0 || !strstr(p2p_last_message(c), want[i])) {
				fail_why("alloc reply %d: r=%d fd=%d '%s', want '%s'", i, r, bfd,
					 p2p_last_message(c), want[i]);
				goto out;
			}
		}
		break;
	}
	case 18:
		if (p2p_release_nowait(c, 1) != 0 || p2p_release_nowait(c, 2) != 0) {
			fail_why("release_nowait before any answer: %s", p2p_last_message(c));
			goto out;
		}
		r = p2p_flush(c);
		if (r != -EPROTO || strcmp(p2p_last_message(c), "release: malformed reply") != 0) {
			fail_why("flush after a malformed answer: r=%d '%s'", r,
				 p2p_last_message(c));
			goto out;
		}
		if (p2p_flush(c) != 0) {
			fail_why("a second flush reports the first error again");
			goto out;
		}
		if (p2p_release_nowait(c, 3) != 0 || (r = p2p_flush(c)) != -EPROTO) {
			fail_why("an answer with errno 0: r=%d", r);
			goto out;
		}
		p2p_conn_set_timeout(c, 1000);
		if (p2p_release_nowait(c, 4) != 0 || (r = p2p_flush(c)) != -ECONNRESET) {
			fail_why("a connection-level error while flushing: r=%d", r);
			goto out;
		}
		r = p2p_next_event(c, &ev);
		if (r != 1 || ev.id != 9 || strcmp(ev.reason, "flushed") != 0) {
			fail_why("the event that came while flushing: r=%d", r);
			goto out;
		}
		break;
	case 19:
		if (p2p_release_nowait(c, 1) != 0) {
			fail_why("release_nowait: %s", p2p_last_message(c));
			goto out;
		}
		usleep(300000);
		r = p2p_next_event(c, &ev);
		if (r != 1 || ev.id != 4) {
			fail_why("the event after a release answer: r=%d", r);
			goto out;
		}
		if ((r = p2p_next_event(c, &ev)) != -ECONNRESET) {
			fail_why("next_event after the daemon closed: r=%d, want -ECONNRESET", r);
			goto out;
		}
		if ((r = p2p_flush(c)) != 0) {
			fail_why("flush with nothing in flight: r=%d", r);
			goto out;
		}
		break;
	case 20:
	case 21:
		usleep(300000);
		r = p2p_hello(c, &hi);
		if (script == 20
			? (r != -ECONNRESET ||
			   strcmp(p2p_last_message(c), "connection closed by p2pd") != 0)
			: (r != -EUSERS || strcmp(p2p_last_message(c), "no more for you") != 0)) {
			fail_why("hello to a daemon that closed: r=%d '%s'", r,
				 p2p_last_message(c));
			goto out;
		}
		if (script == 20 && ((r = p2p_release_nowait(c, 1)) >= 0 ||
				     !strstr(p2p_last_message(c), "release: send:"))) {
			fail_why("release_nowait to a daemon that closed: r=%d '%s'", r,
				 p2p_last_message(c));
			goto out;
		}
		break;
	case 22:
		r = p2p_hello(c, &hi);
		if (r != -EPROTO) {
			fail_why("a reply of another opcode after fds on an event and a stale "
				 "reply: r=%d",
				 r);
			goto out;
		}
		r = p2p_check_json(c, "0000:03:00.0", "0000:04:00.0", &text);
		if (r != 0 || !text || strcmp(text, "{\"map_type\":\"x\"}") != 0) {
			fail_why("a chunked check reply with fds: r=%d %s", r, text ? text : "-");
			free(text);
			goto out;
		}
		free(text);
		text = NULL;
		r = p2p_release(c, 1);
		if (r != -EPROTO || strcmp(p2p_last_message(c), "bye") != 0) {
			fail_why("a connection-level error without errno: r=%d '%s'", r,
				 p2p_last_message(c));
			goto out;
		}
		if (p2p_next_event(c, &ev) != 1 || ev.id != 1) {
			fail_why("the event that carried an fd was not kept");
			goto out;
		}
		break;
	case 23:
		r = p2p_hello(c, &hi);
		if (r != -EUSERS || strcmp(p2p_last_message(c), "limit reached") != 0) {
			fail_why("a daemon that closed with the request unread, after saying why: "
				 "r=%d '%s'",
				 r, p2p_last_message(c));
			goto out;
		}
		break;
	case 24:
		p2p_conn_set_timeout(c, 300);
		t0 = now_ms();
		r = p2p_hello(c, &hi);
		t0 = now_ms() - t0;
		if (r != -ETIMEDOUT || t0 < 250 || t0 > 1300) {
			fail_why("a daemon sending only events: r=%d after %lld ms, want "
				 "-ETIMEDOUT after ~300 ms",
				 r, (long long)t0);
			goto out;
		}
		break;
	case 25:
		for (int i = 1; i <= 65; i++) {
			if ((r = p2p_release_nowait(c, (uint64_t)i)) != 0) {
				fail_why("release_nowait %d of 65: r=%d '%s'", i, r,
					 p2p_last_message(c));
				goto out;
			}
		}
		if ((r = p2p_flush(c)) != 0) {
			fail_why("flush after 65 releases: r=%d", r);
			goto out;
		}
		r = p2p_next_event(c, &ev);
		if (r != 1 || ev.id != 77 || strcmp(ev.reason, "while full") != 0) {
			fail_why("the event that came while release_nowait waited for room: r=%d",
				 r);
			goto out;
		}
		break;
	case 26:
		if ((r = p2p_hello(c, &hi)) != 0 || (r = p2p_release_nowait(c, 5)) != 0) {
			fail_why("an older daemon: hello or release_nowait: r=%d '%s'", r,
				 p2p_last_message(c));
			goto out;
		}
		r = p2p_flush(c);
		if (r != -ENOENT || !strstr(p2p_last_message(c), "old-style answered")) {
			fail_why("a daemon without release-noreply: want the release as before, "
				 "its answer waited for: r=%d '%s'",
				 r, p2p_last_message(c));
			goto out;
		}
		break;
	case 27:
		if ((r = p2p_hello(c, &hi)) != 0 || (r = p2p_release_nowait(c, 1)) != 0 ||
		    (r = p2p_release_nowait(c, 2)) != 0) {
			fail_why("release-noreply: hello or release_nowait: r=%d '%s'", r,
				 p2p_last_message(c));
			goto out;
		}
		r = p2p_flush(c);
		if (r != -ENOENT || strcmp(p2p_last_message(c), "release: second") != 0) {
			fail_why("release-noreply: flush: want the failure by its id before the "
				 "sync: r=%d '%s'",
				 r, p2p_last_message(c));
			goto out;
		}
		if ((r = p2p_flush(c)) != 0) {
			fail_why("release-noreply: a second flush, nothing sent since: r=%d '%s'",
				 r, p2p_last_message(c));
			goto out;
		}
		break;
	case 15: {
		struct p2p_alloc_req req = {.size = 4096, .types = P2P_BUF_MEMFD};
		struct p2p_buffer_info info;
		int bfd = -1;

		r = p2p_alloc(c, &req, &info, &bfd, NULL);
		if (r != -EPROTO || bfd >= 0 || !strstr(p2p_last_message(c), "holds")) {
			fail_why("an alloc reply claiming 1 GiB on an empty fd: r=%d fd=%d '%s'", r,
				 bfd, p2p_last_message(c));
			goto out;
		}
		break;
	}
	}
	ok = 0;
out:
	p2p_disconnect(c);
	fake_stop(pid, l);
	return ok;
}

static int t_client_library_fake_daemon(void)
{
	int fds0 = count_fds(getpid());

	for (int s = 0; s <= 27; s++) {
		bool piped = s == 6 || s == 14 || s == 15 || s == 17 || s == 18 || s == 19 ||
			     s == 21 || s == 22;

		if (piped) {
			CHECK(pipe2(fake_pipe, O_CLOEXEC) == 0, "pipe");
		}
		int r = fake_case(s);
		if (piped) {
			close(fake_pipe[0]);
			/* the child is gone and the library closed what it got: no
			 * reader is left on the pipe */
			signal(SIGPIPE, SIG_IGN);
			ssize_t w = write(fake_pipe[1], "x", 1);
			int e = errno;
			close(fake_pipe[1]);
			CHECK(r < 0 || (w < 0 && e == EPIPE),
			      "script %d: the library kept an fd it did not hand out", s);
		}
		if (r < 0)
			return -1;
	}
	CHECK(count_fds(getpid()) == fds0, "the library leaked %d fds against the fake daemons",
	      count_fds(getpid()) - fds0);
	return 0;
}

static int t_client_library_args(void)
{
	struct p2p_conn *c = NULL;
	char longp[200];

	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	CHECK(p2p_connect(sock_path, NULL) == -EINVAL, "connect without ret_conn");
	CHECK(p2p_connect(longp, &c) == -ENAMETOOLONG, "a socket path beyond sun_path");
	snprintf(longp, sizeof(longp), "%s/nothing-here.sock", tmpdir);
	CHECK(p2p_connect(longp, &c) == -ENOENT, "a missing socket");
	c = conn_open();
	CHECK(c, "connect");
	CHECK(p2p_conn_set_timeout(c, -1) == -EINVAL, "negative timeout");
	CHECK(p2p_conn_set_timeout(NULL, 10) == -EINVAL, "NULL conn");
	CHECK(p2p_conn_fd(c) >= 0 && p2p_conn_fd(NULL) == -EINVAL, "conn fd");
	char *out = NULL;
	CHECK(p2p_request_json(c, 0, "{}", &out) == -EINVAL, "opcode 0");
	CHECK(p2p_request_json(c, 256, "{}", &out) == -EINVAL, "opcode 256");
	CHECK(p2p_request_json(c, P2P_OP_LIST, "{not json", &out) == -EINVAL, "bad JSON");
	CHECK(p2p_request_json(c, P2P_OP_LIST, NULL, &out) == 0 && out && strstr(out, "buffers"),
	      "raw list request: %s", out ? out : "(null)");
	free(out);
	CHECK(p2p_list(c, NULL, NULL) == -EINVAL, "list without outputs");
	CHECK(p2p_next_event(c, NULL) == -EINVAL, "next_event without output");
	CHECK(strcmp(p2p_last_message(NULL), "") == 0, "last_message(NULL)");
	CHECK(strstr(p2p_strerror(-EDQUOT), "quota") && strstr(p2p_strerror(ETIMEDOUT), "time") &&
		  strstr(p2p_strerror(-EUSERS), "limit") && strcmp(p2p_strerror(0), "success") == 0 &&
		  strlen(p2p_strerror(-ENOTTY)) > 0,
	      "p2p_strerror");
	CHECK(strcmp(p2p_buf_type_name(P2P_BUF_P2P), "p2p") == 0 &&
		  strcmp(p2p_buf_type_name(P2P_BUF_HOST), "host") == 0 &&
		  strcmp(p2p_buf_type_name(P2P_BUF_MEMFD), "memfd") == 0 &&
		  p2p_buf_type_name((enum p2p_buf_type)8) == NULL,
	      "p2p_buf_type_name");
	CHECK(strstr(p2p_strerror(-EPERM), "policy") && strstr(p2p_strerror(ENODEV), "device") &&
		  strstr(p2p_strerror(-ECONNREFUSED), "not running") &&
		  strstr(p2p_strerror(-EAGAIN), "busy") &&
		  strcmp(p2p_strerror(-100000), "unknown error") == 0,
	      "p2p_strerror: EPERM, ENODEV, ECONNREFUSED, EAGAIN, unknown");
	CHECK(p2p_check_ex_json(c, "0000:03:00.0", "0000:04:00.0", 0x80, &out) == -EINVAL &&
		  p2p_check_json(c, NULL, "0000:04:00.0", &out) == -EINVAL &&
		  p2p_check_json(c, "0000:03:00.0", "0000:04:00.0", NULL) == -EINVAL,
	      "check: unknown flag, no provider, no output");
	{
		struct p2p_alloc_req req = {.size = 4096, .types = P2P_BUF_MEMFD};
		int bfd = -1;

		req.size = 0;
		CHECK(p2p_alloc(c, &req, NULL, &bfd, NULL) == -EINVAL, "alloc of size 0");
		req.size = 4096;
		req.npeers = 1;
		CHECK(p2p_alloc(c, &req, NULL, &bfd, NULL) == -EINVAL, "npeers without peers");
		req.npeers = 0;
		req.types = 1u << 7;
		CHECK(p2p_alloc(c, &req, NULL, &bfd, NULL) == -EINVAL, "an unknown type bit");
		req.types = P2P_BUF_MEMFD;
		CHECK(p2p_alloc(c, &req, NULL, NULL, NULL) == -EINVAL, "alloc without ret_fd");
		CHECK(p2p_alloc(NULL, &req, NULL, &bfd, NULL) == -EINVAL && bfd == -1,
		      "alloc on no connection");
	}
	CHECK(p2p_flush(NULL) == -EINVAL && p2p_release_nowait(NULL, 1) == -EINVAL &&
		  p2p_release(NULL, 1) == -EINVAL,
	      "flush, release_nowait, release without a connection");
	p2p_disconnect(c);
	p2p_disconnect(NULL);

	/* no path: $P2PD_SOCKET, else the default; a failed connect is logged
	 * at debug level to the application's handler */
	{
		const char *old = getenv(P2P_SOCKET_ENV);
		char saved[300] = "";
		int r;

		if (old)
			snprintf(saved, sizeof(saved), "%s", old);
		setenv(P2P_SOCKET_ENV, sock_path, 1);
		c = NULL;
		r = p2p_connect(NULL, &c);
		p2p_disconnect(c);
		CHECK(r == 0, "connect via $" P2P_SOCKET_ENV ": %d", r);
		unsetenv(P2P_SOCKET_ENV);
		log_debug_seen = 0;
		p2p_set_log_handler(count_debug_log, NULL);
		c = NULL;
		r = p2p_connect("", &c);
		p2p_set_log_handler(NULL, NULL);
		p2p_disconnect(c);
		if (old)
			setenv(P2P_SOCKET_ENV, saved, 1);
		if (access(P2P_DEFAULT_SOCKET, F_OK) != 0)
			CHECK(r == -ENOENT && log_debug_seen == 1,
			      "connect to the default " P2P_DEFAULT_SOCKET
			      " (absent): %d, %d debug lines naming it",
			      r, log_debug_seen);
	}
	return 0;
}

/* Run p2pd with @argv (NULL-terminated, argv[0] ignored), stdout and stderr
 * together into @out; killed after 10 s.  Returns the exit status, 128+sig. */
static int run_p2pd_args(char *out, size_t outlen, const char *const *args)
{
	const char *argv[16];
	int pfd[2], st, n = 0;
	size_t off = 0;
	pid_t pid;
	int64_t deadline = now_ms() + 10000;

	argv[n++] = p2pd_bin;
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		unsetenv("NOTIFY_SOCKET");
		execv(p2pd_bin, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		int left = (int)(deadline - now_ms());

		if (left <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, left) <= 0)
			continue;
		ssize_t r = read(pfd[0], out + off, outlen - 1 - off);
		if (r <= 0)
			break;
		off += (size_t)r;
		if (off == outlen - 1)
			break;
	}
	out[off] = '\0';
	close(pfd[0]);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* p2pd's command line: help, bad options, --check-config, a socket it cannot bind. */
static int t_p2pd_cli(void)
{
	char out[8192], bad_cfg[400], sockp[400];
	int rc;

	rc = run_p2pd_args(out, sizeof(out), (const char *[]){"--help", NULL});
	CHECK(rc == 0 && strstr(out, "Usage: p2pd") && strstr(out, "--check-config"),
	      "--help: exit %d: %.200s", rc, out);
	rc = run_p2pd_args(out, sizeof(out), (const char *[]){"--no-such-option", NULL});
	CHECK(rc == 2 && strstr(out, "Usage: p2pd"), "unknown option: exit %d: %.200s", rc, out);
	rc = run_p2pd_args(out, sizeof(out), (const char *[]){"--log", "syslog", NULL});
	CHECK(rc == 2 && strstr(out, "--log: journal, stderr or auto"), "--log syslog: exit %d: %s",
	      rc, out);
	rc = run_p2pd_args(out, sizeof(out), (const char *[]){"--foreground", "extra", NULL});
	CHECK(rc == 2 && strstr(out, "unexpected argument 'extra'"), "extra argument: exit %d: %s",
	      rc, out);
	rc = run_p2pd_args(out, sizeof(out),
			   (const char *[]){"--check-config", "--config", cfg_path, NULL});
	CHECK(rc == 0 && strstr(out, ": OK (") && strstr(out, "2 providers"),
	      "--check-config of the test config: exit %d: %s", rc, out);
	snprintf(bad_cfg, sizeof(bad_cfg), "%s/bad.json", tmpdir);
	CHECK(write_file(bad_cfg, "{ \"version\": 1, \"limits\": { \"max_buffers\": -3 } }") == 0,
	      "write");
	rc = run_p2pd_args(out, sizeof(out),
			   (const char *[]){"--check-config", "-c", bad_cfg, NULL});
	CHECK(rc == 1 && strstr(out, "max_buffers"),
	      "--check-config of a bad config: exit %d: %s", rc, out);
	unlink(bad_cfg);
	rc = run_p2pd_args(out, sizeof(out),
			   (const char *[]){"--check-config", "-c", bad_cfg, NULL});
	CHECK(rc == 1 && out[0], "--check-config of a missing explicit config: exit %d: %s", rc,
	      out);
	/* a socket directory that cannot exist: setup fails, exit 1, said why */
	snprintf(sockp, sizeof(sockp), "%s/no/such/dir/p2pd.sock", tmpdir);
	rc = run_p2pd_args(out, sizeof(out),
			   (const char *[]){"--foreground", "--log", "stderr", "--no-gpu",
					    "--no-hotplug", "--fsroot", fixture, "-c", cfg_path,
					    "-s", sockp, NULL});
	CHECK(rc == 1 && strstr(out, "exiting"), "unbindable socket: exit %d: %.300s", rc, out);
	return 0;
}

/* The daemon's own socket path: a live p2pd is never displaced, a file that is
 * not a socket is never deleted, a stale socket is replaced; bad --fsroot and
 * --backends fail setup with a message. */
static int t_socket_path_rules(void)
{
	char out[8192], path[400];
	struct stat st;
	int rc, fd;
	pid_t pid;
	const char *base[] = {"--foreground", "--log", "stderr", "--no-gpu", "--no-hotplug", NULL};

	/* the running p2pd's socket */
	rc = run_p2pd_args(out, sizeof(out),
			   (const char *[]){base[0], base[1], base[2], base[3], base[4], "--fsroot",
					    fixture, "-c", cfg_path, "-s", sock_path, NULL});
	CHECK(rc == 1 && strstr(out, "another p2pd is listening"),
	      "second p2pd on a live socket: exit %d: %.300s", rc, out);
	CHECK(still_serving() == 0, "the first p2pd after a second one tried its socket: %s", why);

	/* a listener (not p2pd) whose backlog is full: the probe must not hang */
	{
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), pend[8], np = 0;
		int64_t t0;

		snprintf(path, sizeof(path), "%s/busy.sock", tmpdir);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		CHECK(l >= 0 && bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(l, 0) == 0,
		      "busy listener: %m");
		while (np < 8) {
			int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

			if (c < 0)
				break;
			if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
				close(c);
				break;
			}
			pend[np++] = c;
		}
		t0 = now_ms();
		rc = run_p2pd_args(out, sizeof(out),
				   (const char *[]){base[0], base[1], base[2], base[3], base[4],
						    "--fsroot", fixture, "-c", cfg_path, "-s", path,
						    NULL});
		t0 = now_ms() - t0;
		for (int i = 0; i < np; i++)
			close(pend[i]);
		close(l);
		unlink(path);
		CHECK(rc == 1 && t0 < 5000,
		      "p2pd vs a busy listener at its path: exit %d after %lld ms: %.200s", rc,
		      (long long)t0, out);
	}

	/* a regular file where the socket would go */
	snprintf(path, sizeof(path), "%s/not-a-socket", tmpdir);
	CHECK(write_file(path, "precious\n") == 0, "write");
	rc = run_p2pd_args(out, sizeof(out),
			   (const char *[]){base[0], base[1], base[2], base[3], base[4], "--fsroot",
					    fixture, "-c", cfg_path, "-s", path, NULL});
	CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 9,
	      "p2pd deleted or replaced a regular file at its socket path (exit %d: %.200s)", rc,
	      out);
	CHECK(rc == 1 && strstr(out, "not a socket"),
	      "a regular file at the socket path: exit %d: %.300s", rc, out);
	unlink(path);

	/* a stale socket (nobody listening): replaced, and served */
	snprintf(path, sizeof(path), "%s/stale.sock", tmpdir);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	{
		struct sockaddr_un sa = {.sun_family = AF_UNIX};

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind: %m");
	}
	close(fd);
	pid = start_p2pd(fixture, cfg_path, path, NULL, 0);
	CHECK(pid > 0, "p2pd over a stale socket did not start: %s", why);
	{
		struct p2p_conn *c = NULL;
		struct p2p_hello_info hi;
		int r = p2p_connect(path, &c);

		if (r == 0)
			r = p2p_hello(c, &hi);
		p2p_disconnect(c);
		rc = stop_p2pd(pid);
		CHECK(r == 0, "hello over the replaced stale socket: %d", r);
		CHECK(rc == 0, "p2pd exit %d", rc);
	}
	drain_notify();

	/* setup failures say why */
	snprintf(path, sizeof(path), "%s/x.sock", tmpdir);
	rc = run_p2pd_args(out, sizeof(out),
			   (const char *[]){base[0], base[1], base[2], base[3], base[4], "--fsroot",
					    "/nonexistent-fsroot", "-c", cfg_path, "-s", path, NULL});
	CHECK(rc == 1 && strstr(out, "--fsroot"), "missing --fsroot: exit %d: %.300s", rc, out);
	rc = run_p2pd_args(out, sizeof(out),
			   (const char *[]){base[0], base[1], base[2], base[3], base[4], "--fsroot",
					    fixture, "-c", cfg_path, "-s", path, "--backends",
					    "floppy", NULL});
	CHECK(rc == 1 && strstr(out, "unknown backend"), "--backends floppy: exit %d: %.300s", rc,
	      out);
	CHECK(access(path, F_OK) != 0, "a failed p2pd left its socket behind");
	return 0;
}

/*
 * Start-up failures say why and exit 1, leaving no socket: a config path too
 * long for p2pd, a config with an error (without --check-config), a sysfs
 * root whose device tree cannot be walked.  --check-config without -c checks
 * the default path, or the built-in defaults when it does not exist.
 */
static int t_startup_failures(void)
{
	const char *base[] = {"--foreground", "--log", "stderr", "--no-gpu", "--no-hotplug", NULL};
	char out[8192], path[400], longcfg[400], root[400], cmd[900];
	int rc;

	snprintf(path, sizeof(path), "%s/start.sock", tmpdir);

	/* a config path longer than p2pd keeps (255 characters) */
	snprintf(longcfg, sizeof(longcfg), "%s/", tmpdir);
	while (strlen(longcfg) < 300)
		strcat(longcfg, "c");
	rc = run_p2pd_args(out, sizeof(out),
			   (const char *[]){base[0], base[1], base[2], base[3], base[4], "--fsroot",
					    fixture, "-c", longcfg, "-s", path, NULL});
	CHECK(rc == 1 && strstr(out, "config path too long") &&
		  strstr(out, "exiting: File name too long"),
	      "a 300-character config path: exit %d: %.300s", rc, out);
	CHECK(access(path, F_OK) != 0, "a p2pd refusing its config path left its socket behind");

	/* a config error at start: the daemon refuses to run, naming the key */
	snprintf(longcfg, sizeof(longcfg), "%s/start-bad.json", tmpdir);
	CHECK(write_file(longcfg, "{ \"version\": 1, \"limits\": { \"max_buffers\": -3 } }") == 0,
	      "write");
	rc = run_p2pd_args(out, sizeof(out),
			   (const char *[]){base[0], base[1], base[2], base[3], base[4], "--fsroot",
					    fixture, "-c", longcfg, "-s", path, NULL});
	unlink(longcfg);
	CHECK(rc == 1 && strstr(out, "max_buffers") && strstr(out, "exiting:"),
	      "a bad config at start: exit %d: %.300s", rc, out);
	CHECK(access(path, F_OK) != 0, "a p2pd refusing its config left its socket behind");

	/* sys/devices is a regular file: the scan fails (not "no PCI") */
	snprintf(root, sizeof(root), "%s/badtree", tmpdir);
	snprintf(cmd, sizeof(cmd),
		 "rm -rf '%s' && mkdir -p '%s' && cp -a '%s/sys' '%s/' && rm -rf '%s/sys/devices' "
		 "&& echo file > '%s/sys/devices'",
		 root, root, fixture, root, root, root);
	CHECK(system(cmd) == 0, "make %s", root);
	rc = run_p2pd_args(out, sizeof(out),
			   (const char *[]){base[0], base[1], base[2], base[3], base[4], "--fsroot",
					    root, "-c", cfg_path, "-s", path, NULL});
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	(void)!system(cmd);
	{
		char want[500];

		snprintf(want, sizeof(want), "topology scan of %s failed: Not a directory", root);
		CHECK(rc == 1 && strstr(out, want), "a device tree that is a file: exit %d: %.300s",
		      rc, out);
	}
	CHECK(access(path, F_OK) != 0, "a p2pd that could not scan left its socket behind");

	/* a list of backends with an unknown one after a known one */
	rc = run_p2pd_args(out, sizeof(out),
			   (const char *[]){base[0], base[1], base[2], base[3], base[4], "--fsroot",
					    fixture, "-c", cfg_path, "-s", path, "--backends",
					    "memfd,floppy", NULL});
	CHECK(rc == 1 && strstr(out, "--backends memfd,floppy: unknown backend"),
	      "--backends memfd,floppy: exit %d: %.300s", rc, out);
	CHECK(access(path, F_OK) != 0, "a p2pd with an unknown backend left its socket behind");

	/* --check-config without -c: the default path, or the built-in defaults */
	rc = run_p2pd_args(out, sizeof(out), (const char *[]){"--check-config", NULL});
	if (access("/etc/p2pd/p2pd.json", F_OK) != 0)
		CHECK(rc == 0 && strncmp(out, "built-in defaults: OK (", 23) == 0,
		      "--check-config without /etc/p2pd/p2pd.json: exit %d: %.300s", rc, out);
	else
		CHECK(strstr(out, "/etc/p2pd/p2pd.json"),
		      "--check-config with /etc/p2pd/p2pd.json present: exit %d: %.300s", rc, out);
	return 0;
}

/*
 * Socket activation gone wrong: an fd passed that is not a listening
 * SEQPACKET unix socket (here a pipe) is said, closed, and p2pd binds its
 * own socket; a LISTEN_FDS that is not a number is said, and the same.
 */
static int t_socket_activation_bad(void)
{
	char asock[300];
	struct p2p_conn *c = NULL;
	struct pollfd pf;
	int p[2], r, before, before2, after, after2, hup;
	pid_t pid;

	snprintf(asock, sizeof(asock), "%s/act-bad.sock", tmpdir);
	CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe: %m");
	before = count_log_lines("ignoring passed fd 3: not a listening SEQPACKET unix socket");
	listen_fds_env = "1";
	listen_pass_fd = p[0];
	pid = start_p2pd(fixture, cfg_path, asock, NULL, 0);
	listen_fds_env = NULL;
	listen_pass_fd = -1;
	close(p[0]);
	if (pid <= 0) {
		close(p[1]);
		return -1;
	}
	r = p2p_connect(asock, &c);
	if (r == 0)
		r = p2p_hello(c, NULL);
	p2p_disconnect(c);
	c = NULL;
	/* p2pd closed the pipe's read end: the write end sees no reader */
	pf = (struct pollfd){.fd = p[1], .events = POLLOUT};
	hup = poll(&pf, 1, 0) == 1 && (pf.revents & POLLERR);
	close(p[1]);
	after = count_log_lines("ignoring passed fd 3: not a listening SEQPACKET unix socket");
	CHECK(stop_p2pd(pid) == 0, "p2pd with a pipe passed did not exit cleanly");
	CHECK(after == before + 1, "'ignoring passed fd 3' logged %d times", after - before);
	CHECK(hup, "p2pd kept the passed pipe open");
	CHECK(r == 0, "hello on p2pd's own socket after a bad passed fd: %s", p2p_strerror(r));

	before2 = count_log_lines("sd_listen_fds: Invalid argument");
	listen_fds_env = "many";
	pid = start_p2pd(fixture, cfg_path, asock, NULL, 0);
	listen_fds_env = NULL;
	CHECK(pid > 0, "start p2pd with LISTEN_FDS=many: %s", why);
	r = p2p_connect(asock, &c);
	if (r == 0)
		r = p2p_hello(c, NULL);
	p2p_disconnect(c);
	after2 = count_log_lines("sd_listen_fds: Invalid argument");
	CHECK(stop_p2pd(pid) == 0, "p2pd with LISTEN_FDS=many did not exit cleanly");
	CHECK(after2 == before2 + 1, "'sd_listen_fds: Invalid argument' logged %d times",
	      after2 - before2);
	CHECK(r == 0, "hello on p2pd's own socket after LISTEN_FDS=many: %s", p2p_strerror(r));
	return 0;
}

/* "Max open files" soft and hard limits of @pid from /proc, -1 when unknown. */
static int proc_nofile(pid_t pid, long long *ret_soft, long long *ret_hard)
{
	char path[64], line[256];
	FILE *f;

	*ret_soft = *ret_hard = -1;
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Max open files %lld %lld", ret_soft, ret_hard) == 2)
			break;
	fclose(f);
	return *ret_soft >= 0 ? 0 : -1;
}

/* A soft RLIMIT_NOFILE below the hard one is raised to it at start: the
 * configured max_connections then fits, and nothing is lowered. */
static int t_nofile_soft_raised(void)
{
	char nsock[300];
	long long soft, hard;
	int before, after;
	pid_t pid;

	snprintf(nsock, sizeof(nsock), "%s/nofile-soft.sock", tmpdir);
	before = count_log_lines("does not fit RLIMIT_NOFILE");
	p2pd_nofile = 32;
	p2pd_nofile_hard = 4096;
	pid = start_p2pd(fixture, cfg_path, nsock, NULL, 0);
	p2pd_nofile = 0;
	p2pd_nofile_hard = 0;
	CHECK(pid > 0, "start p2pd with RLIMIT_NOFILE 32/4096: %s", why);
	proc_nofile(pid, &soft, &hard);
	after = count_log_lines("does not fit RLIMIT_NOFILE");
	CHECK(stop_p2pd(pid) == 0, "p2pd did not exit cleanly");
	CHECK(soft == 4096 && hard == 4096, "RLIMIT_NOFILE of p2pd: %lld/%lld (want 4096/4096)",
	      soft, hard);
	CHECK(after == before, "max_connections was lowered although the hard limit fits it");
	return 0;
}

/* check with "kernel": true asks the live kernel (through p2pbroker.ko) and
 * says so when it cannot. */
static int t_check_kernel_live(void)
{
	struct p2p_conn *c = conn_open();
	char *out = NULL;
	struct json_object *o, *chk, *k, *v;
	int r;

	CHECK(c, "connect");
	r = p2p_request_json(c, P2P_OP_CHECK,
			     "{\"provider\":\"0000:03:00.0\",\"client\":\"0000:04:00.0\","
			     "\"kernel\":true}",
			     &out);
	p2p_disconnect(c);
	CHECK(r == 0 && out, "check kernel: %d", r);
	o = json_tokener_parse(out);
	free(out);
	CHECK(o && json_object_object_get_ex(o, "check", &chk) &&
		  json_object_object_get_ex(chk, "kernel_live", &k),
	      "no check.kernel_live in the reply");
	if (have_dev("/dev/p2pbroker")) {
		CHECK(json_object_object_get_ex(k, "map_type", &v) &&
			  json_object_object_get_ex(k, "agrees", &v) && json_object_get_boolean(v),
		      "live kernel verdict missing or disagreeing");
	} else {
		CHECK(json_object_object_get_ex(k, "error", &v) &&
			  strstr(json_object_get_string(v), "p2pbroker.ko"),
		      "without /dev/p2pbroker the reply does not say why: %s",
		      json_object_to_json_string(k));
	}
	json_object_put(o);
	return 0;
}

/* An admin revoking its own buffer is told by an event too. */
static int t_revoke_own(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_alloc_req req = {.size = 4096, .types = P2P_BUF_MEMFD};
	struct p2p_buffer_info info;
	struct p2p_event ev;
	char *out = NULL, body[64];
	int fd = -1, r;

	CHECK(c, "connect");
	r = p2p_alloc(c, &req, &info, &fd, NULL);
	CHECK(r == 0, "alloc: %d", r);
	snprintf(body, sizeof(body), "{\"id\":%llu}", (unsigned long long)info.id);
	r = p2p_request_json(c, P2P_OP_REVOKE, body, &out);
	CHECK(r == 0 && out && strstr(out, "\"owner_notified\":true"), "revoke own: %d %s", r,
	      out ? out : "");
	free(out);
	r = p2p_next_event(c, &ev);
	CHECK(r == 1 && strcmp(ev.event, "revoked") == 0 && ev.id == info.id,
	      "no revoked event for the own buffer (r=%d)", r);
	close(fd);
	p2p_disconnect(c);
	return 0;
}

/* reload with a good config (takes effect) and a bad one (refused, old stays) */
static int nobody_one_buffer(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_alloc_req req = {.size = 4096, .types = P2P_BUF_MEMFD};
	struct p2p_buffer_info info;
	int fd1 = -1, fd2 = -1, r1, r2;

	CHECK(c, "connect");
	r1 = p2p_alloc(c, &req, &info, &fd1, NULL);
	r2 = p2p_alloc(c, &req, &info, &fd2, NULL);
	p2p_disconnect(c);
	if (fd1 >= 0)
		close(fd1);
	if (fd2 >= 0)
		close(fd2);
	CHECK(r1 == 0 && r2 == -EDQUOT, "with max_buffers 1: r1=%d r2=%d", r1, r2);
	return 0;
}

static int t_reload(void)
{
	struct p2p_conn *adm;
	char out[4096];
	const char *reload[] = {p2pctl_bin, "reload", NULL};
	int r;

	CHECK(write_config(cfg_path, 1, 1100) == 0, "write config");
	r = run_cmd(out, sizeof(out), reload);
	CHECK(r == 0, "p2pctl reload of a good config: exit %d", r);
	collect_notify(out, sizeof(out));
	CHECK(strstr(out, "RELOADING=1") && strstr(out, "READY=1"),
	      "reload did not notify RELOADING=1 then READY=1: '%s'", out);
	CHECK(as_nobody(nobody_one_buffer) == 0, "new limit not in force: %s", why);

	/* bad config via the protocol: refused, old config stays */
	CHECK(write_file(cfg_path,
			 "{ \"version\": 1, \"limits\": { \"max_buffers\": \"many\" } }") == 0,
	      "write");
	adm = conn_open();
	CHECK(adm, "connect");
	r = p2p_admin_reload(adm);
	drain_notify();
	CHECK(r == -EINVAL, "bad config reload: %d", r);
	CHECK(strstr(p2p_last_message(adm), "max_buffers"),
	      "reload error does not name the key: %s", p2p_last_message(adm));
	p2p_disconnect(adm);
	CHECK(as_nobody(nobody_one_buffer) == 0, "old config not kept: %s", why);

	/* a good config that others may write or that another uid owns: refused,
	 * old config stays (issue 16 item 8) */
	CHECK(write_config(cfg_path, 4, 1100) == 0, "write");
	CHECK(chmod(cfg_path, 0664) == 0, "chmod: %s", strerror(errno));
	adm = conn_open();
	CHECK(adm, "connect");
	r = p2p_admin_reload(adm);
	drain_notify();
	CHECK(r == -EPERM && strstr(p2p_last_message(adm), "group-writable"),
	      "group-writable config reload: %d '%s'", r, p2p_last_message(adm));
	CHECK(chmod(cfg_path, 0644) == 0 && chown(cfg_path, NOBODY, NOBODY) == 0, "chown: %s",
	      strerror(errno));
	r = p2p_admin_reload(adm);
	drain_notify();
	CHECK(r == -EPERM && strstr(p2p_last_message(adm), "owned by uid"),
	      "config owned by nobody, reload: %d '%s'", r, p2p_last_message(adm));
	p2p_disconnect(adm);
	CHECK(chown(cfg_path, 0, 0) == 0, "chown back: %s", strerror(errno));
	CHECK(as_nobody(nobody_one_buffer) == 0, "old config not kept after refusal: %s", why);

	/* bad config via SIGHUP: still serving, still the old config */
	CHECK(write_file(cfg_path, "not json at all") == 0, "write");
	kill(p2pd_pid, SIGHUP);
	usleep(200000);
	drain_notify();
	CHECK(still_serving() == 0, "after SIGHUP with a bad config: %s", why);
	CHECK(as_nobody(nobody_one_buffer) == 0, "old config not kept after SIGHUP: %s", why);

	/* restore, via SIGHUP */
	CHECK(write_config(cfg_path, 4, 1100) == 0, "write");
	kill(p2pd_pid, SIGHUP);
	usleep(200000);
	return still_serving();
}

/* --- bad input --- */

static int t_bad_truncated(void)
{
	int fd = raw_connect();
	char b[8] = {1, 1, 0, 0};

	CHECK(fd >= 0, "connect");
	send(fd, b, sizeof(b), MSG_NOSIGNAL);
	CHECK(expect_error(fd, "EBADMSG", true) == 0, "%s", why);
	close(fd);
	return still_serving();
}

static int t_bad_oversized(void)
{
	int fd = raw_connect(), sz = 1 << 20;
	size_t len = 65536 + 100;
	char *p = malloc(len);

	CHECK(fd >= 0 && p, "connect");
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	memset(p, ' ', len);
	p[0] = '{';
	p[len - 1] = '}';
	raw_send(fd, 1, P2P_OP_HELLO, 0, (uint32_t)len, p, len);
	free(p);
	CHECK(expect_error(fd, "EMSGSIZE", true) == 0, "%s", why);
	close(fd);
	return still_serving();
}

static int t_bad_version(void)
{
	int fd = raw_connect();

	CHECK(fd >= 0, "connect");
	raw_send(fd, 9, P2P_OP_HELLO, 0, 2, "{}", 2);
	CHECK(expect_error(fd, "EPROTONOSUPPORT", true) == 0, "%s", why);
	close(fd);
	return still_serving();
}

static int t_bad_length_flags(void)
{
	int fd = raw_connect();

	CHECK(fd >= 0, "connect");
	raw_send(fd, 1, P2P_OP_HELLO, 0, 100, "{}", 2); /* len field lies */
	CHECK(expect_error(fd, "EBADMSG", true) == 0, "length mismatch: %s", why);
	close(fd);
	fd = raw_connect();
	raw_send(fd, 1, P2P_OP_HELLO, 0x8000, 2, "{}", 2); /* reserved flag */
	CHECK(expect_error(fd, "EBADMSG", true) == 0, "reserved flag: %s", why);
	close(fd);
	fd = raw_connect();
	raw_send(fd, 1, P2P_OP_HELLO, P2P_FLAG_REPLY, 2, "{}", 2); /* a "reply" to the daemon */
	CHECK(expect_error(fd, "EBADMSG", true) == 0, "reply flag: %s", why);
	close(fd);
	return still_serving();
}

static int t_bad_opcode_json(void)
{
	static const struct {
		uint8_t op;
		const char *json, *code;
	} cases[] = {
	    {99, "{}", "EOPNOTSUPP"},
	    {0, "{}", "EOPNOTSUPP"},
	    {P2P_OP_EVENT, "{}", "EOPNOTSUPP"},
	    {P2P_OP_HELLO, "this is not json", "EINVAL"},
	    {P2P_OP_HELLO, "[1,2,3]", "EINVAL"},
	    {P2P_OP_HELLO, "{\"version\":1} trailing", "EINVAL"},
	    {P2P_OP_HELLO, "{\"version\":\"1\"}", "EINVAL"},
	    {P2P_OP_HELLO, "{\"version\":1,\"colour\":\"red\"}", "EINVAL"},
	    {P2P_OP_HELLO, "{}", "EINVAL"},
	    {P2P_OP_ALLOC, "{\"size\":\"4096\"}", "EINVAL"},
	    {P2P_OP_ALLOC, "{\"size\":4096.5}", "EINVAL"},
	    {P2P_OP_ALLOC, "{\"size\":-1}", "ERANGE"},
	    {P2P_OP_ALLOC, "{\"size\":99999999999999999999999}", "ERANGE"},
	    {P2P_OP_ALLOC, "{\"size\":1e300}", "EINVAL"},
	    {P2P_OP_ALLOC, "{\"size\":1125899906842624}", "ERANGE"},
	    {P2P_OP_ALLOC, "{\"size\":70368744177664,\"types\":[\"memfd\"]}", "EDQUOT"},
	    {P2P_OP_ALLOC, "{\"size\":0}", "EINVAL"},
	    {P2P_OP_ALLOC, "{\"size\":4096,\"types\":[\"gold\"]}", "EINVAL"},
	    {P2P_OP_ALLOC, "{\"size\":4096,\"types\":\"memfd\"}", "EINVAL"},
	    {P2P_OP_ALLOC, "{\"size\":4096,\"peers\":[1,2]}", "EINVAL"},
	    {P2P_OP_ALLOC, "{\"size\":4096,\"name\":\"\"}", "EINVAL"},
	    {P2P_OP_ALLOC, "{\"size\":4096,\"types\":[\"memfd\"],\"provider\":\"zz:zz.z\"}",
	     "ENODEV"},
	    {P2P_OP_RELEASE, "{\"id\":null}", "EINVAL"},
	    {P2P_OP_RELEASE, "{\"id\":123456789}", "ENOENT"},
	    {P2P_OP_CHECK, "{\"provider\":\"03:00.0\"}", "EINVAL"},
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"a\\u0000b\"}", "EINVAL"},
	    {P2P_OP_HELLO,
	     "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":{\"j\":{\"k\":{\"l\":{"
	     "\"m\":{\"n\":{\"o\":{\"p\":{\"q\":{}}}}}}}}}}}}}}}}}}",
	     "EINVAL"},
	};
	int fd = raw_connect();

	CHECK(fd >= 0, "connect");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		raw_req(fd, cases[i].op, cases[i].json);
		if (expect_error(fd, cases[i].code, false) < 0) {
			char w[1024];

			snprintf(w, sizeof(w), "op %u '%s': %s", cases[i].op, cases[i].json, why);
			snprintf(why, sizeof(why), "%s", w);
			close(fd);
			return -1;
		}
	}
	/* still the same connection, still fine */
	raw_req(fd, P2P_OP_HELLO, "{\"version\":1}");
	{
		struct json_object *o = NULL;
		int r = raw_recv(fd, 5000, &o, NULL);

		CHECK(r == 1 && jget(o, "ok") && strcmp(jget(o, "ok"), "true") == 0,
		      "connection unusable after bad requests");
		json_object_put(o);
	}
	close(fd);
	return still_serving();
}

/* the daemon closes fds sent to it: a pipe's read end we send there ends
 * up with no reader once we close ours */
static int send_fds(int sock, const int *fds, int n)
{
	struct p2p_msg_hdr h = {.version = 1, .opcode = P2P_OP_HELLO, .len = 13};
	char payload[] = "{\"version\":1}";
	struct iovec iov[2] = {{&h, sizeof(h)}, {payload, 13}};
	char cbuf[CMSG_SPACE(sizeof(int) * 32)];
	struct msghdr msg = {.msg_iov = iov,
			     .msg_iovlen = 2,
			     .msg_control = cbuf,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(cbuf, 0, sizeof(cbuf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
	return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static int fd_test(int nfds, const char *code)
{
	int sock = raw_connect(), p[2], fds[32], r;

	CHECK(sock >= 0 && nfds <= 32, "connect");
	CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe");
	for (int i = 0; i < nfds; i++)
		fds[i] = p[0];
	r = send_fds(sock, fds, nfds);
	CHECK(r == 0, "sendmsg with %d fds: %m", nfds);
	close(p[0]);
	r = expect_error(sock, code, true);
	close(sock);
	if (r < 0) {
		close(p[1]);
		return -1;
	}
	usleep(50000);
	signal(SIGPIPE, SIG_IGN);
	r = (int)write(p[1], "x", 1);
	close(p[1]);
	CHECK(r < 0 && errno == EPIPE, "p2pd kept the fd it was sent (write %d)", r);
	return still_serving();
}

/* Names with control characters or invalid UTF-8 are refused at the edge
 * (EINVAL, a sentence naming the field), are never stored, and a valid
 * multi-byte name still is. */
static int t_bad_names(void)
{
	static const struct {
		uint8_t op;
		const char *json, *msg;
	} cases[] = {
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"x\\u001b[2J\"}",
	     "client: control character U+001B"},
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"row\\r\\nforged\"}",
	     "client: control character U+000D"},
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"c1\\u009b1m\"}", "U+009B"},
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"del\\u007f\"}", "U+007F"},
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"over\xc0\xaf\"}", "invalid UTF-8"},
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"sur\xed\xa0\x80\"}", "invalid UTF-8"},
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"big\xf4\x90\x80\x80\"}", "invalid UTF-8"},
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"\\udc00\"}", "surrogate"},
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"a\",\"client\":\"b\"}", "duplicate key"},
	    {P2P_OP_ALLOC, "{\"size\":4096,\"types\":[\"memfd\"],\"name\":\"b\\u001b]0;t\\u0007\"}",
	     "name: control character U+001B"},
	    {P2P_OP_ALLOC, "{\"size\":4096,\"types\":[\"memfd\"],\"name\":\"\xe0\x80\xaf\"}",
	     "invalid UTF-8"},
	};
	struct json_object *o = NULL;
	const char *txt;
	int fd = raw_connect(), r;

	CHECK(fd >= 0, "connect");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *code, *msg;

		raw_req(fd, cases[i].op, cases[i].json);
		r = raw_recv(fd, 5000, &o, NULL);
		if (r != 1) {
			close(fd);
			CHECK(0, "case %zu: no reply (%d)", i, r);
		}
		code = jget(o, "code");
		msg = jget(o, "message");
		if (!code || strcmp(code, "EINVAL") != 0 || !msg || !strstr(msg, cases[i].msg)) {
			fail_why("case %zu: want EINVAL \"%s\", got %s", i, cases[i].msg,
				 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
			json_object_put(o);
			close(fd);
			return -1;
		}
		json_object_put(o);
	}
	/* the connection still works, a multi-byte name is fine, and no refused
	 * name was stored */
	raw_req(fd, P2P_OP_HELLO, "{\"version\":1,\"client\":\"gr\xc3\xbc\xc3\x9f" "e\"}");
	r = raw_recv(fd, 5000, &o, NULL);
	CHECK(r == 1 && jget(o, "ok") && strcmp(jget(o, "ok"), "true") == 0,
	      "hello with a UTF-8 name refused");
	json_object_put(o);
	raw_req(fd, P2P_OP_CLIENTS, "{}");
	r = raw_recv(fd, 5000, &o, NULL);
	CHECK(r == 1, "no clients reply");
	txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	r = strstr(txt, "gr\\u00fc\\u00dfe") || strstr(txt, "gr\xc3\xbc\xc3\x9f" "e") ? 0 : -1;
	if (r == 0 && (strstr(txt, "\\u001b") || strstr(txt, "forged") || strstr(txt, "\\r")))
		r = -1;
	if (r < 0)
		fail_why("clients: %.300s", txt);
	json_object_put(o);
	close(fd);
	return r < 0 ? -1 : still_serving();
}

static int t_bad_fd_sent(void)
{
	return fd_test(1, "EBADF");
}

static int t_bad_ctrunc(void)
{
	/* more fds than p2pd's control buffer holds: MSG_CTRUNC */
	return fd_test(24, "ENOBUFS");
}

static int t_never_reads(void)
{
	int fd = raw_connect(), sent = 0, fl, small = 4096;
	int64_t t0;
	char hello[] = "{\"version\":1}";

	CHECK(fd >= 0, "connect");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	t0 = now_ms();
	while (now_ms() - t0 < 2000) {
		if (raw_send(fd, 1, P2P_OP_TOPOLOGY, 0, 2, "{}", 2) < 0) {
			if (errno != EAGAIN)
				break;
			usleep(1000);
			if (sent > 200)
				break;
			continue;
		}
		sent++;
	}
	(void)hello;
	t0 = now_ms();
	CHECK(still_serving() == 0, "while a client never reads: %s", why);
	CHECK(now_ms() - t0 < 2000, "other clients starved (%lld ms)", (long long)(now_ms() - t0));
	close(fd);
	usleep(100000);
	return still_serving();
}

static int t_thousand(void)
{
	enum { N = 1000 };
	static int fds[N];
	struct rlimit rl;
	int ok = 0, opened = 0;

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < N + 100) {
		rl.rlim_cur = rl.rlim_max < N + 200 ? rl.rlim_max : N + 200;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (int i = 0; i < N; i++) {
		fds[i] = raw_connect();
		if (fds[i] < 0)
			break;
		opened++;
	}
	for (int i = 0; i < opened; i++)
		raw_req(fds[i], P2P_OP_HELLO, "{\"version\":1}");
	for (int i = 0; i < opened; i++) {
		struct json_object *o = NULL;

		if (raw_recv(fds[i], 10000, &o, NULL) == 1 && jget(o, "ok") &&
		    strcmp(jget(o, "ok"), "true") == 0)
			ok++;
		json_object_put(o);
	}
	for (int i = 0; i < opened; i++)
		close(fds[i]);
	CHECK(opened == N, "only %d of %d connections opened", opened, N);
	CHECK(ok == N, "only %d of %d connections answered", ok, N);
	usleep(200000);
	return still_serving();
}

static int t_killed_mid_request(void)
{
	struct p2p_conn *adm;
	char *text = NULL;
	struct json_object *arr;
	size_t n;

	for (int i = 0; i < 20; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			int fd = raw_connect();

			raw_req(fd, P2P_OP_ALLOC, "{\"size\":65536,\"types\":[\"memfd\"]}");
			raw_req(fd, P2P_OP_TOPOLOGY, "{}");
			raw_req(fd, P2P_OP_ALLOC, "{\"size\":65536,\"types\":[\"memfd\"]}");
			kill(getpid(), SIGKILL);
			_exit(0);
		}
		waitpid(pid, NULL, 0);
	}
	usleep(200000);
	CHECK(still_serving() == 0, "%s", why);
	adm = conn_open();
	CHECK(adm, "connect");
	CHECK(p2p_admin_buffers_json(adm, &text) == 0, "buffers");
	arr = json_tokener_parse(text);
	free(text);
	n = json_object_array_length(arr);
	json_object_put(arr);
	p2p_disconnect(adm);
	CHECK(n == 0, "%zu buffers of killed clients still accounted", n);
	return 0;
}

static int t_connection_limit(void)
{
	int fds[5], r, opened = 0;
	struct json_object *o = NULL;
	struct p2p_conn *adm = conn_open();

	/* lower the limit to 3 connections, hold 3, the 4th is refused */
	CHECK(adm, "connect");
	CHECK(write_config(cfg_path, 4, 3) == 0, "write");
	CHECK(p2p_admin_reload(adm) == 0, "reload: %s", p2p_last_message(adm));
	drain_notify();
	for (int i = 0; i < 2; i++)
		if ((fds[i] = raw_connect()) >= 0)
			opened++;
	usleep(50000);
	fds[2] = raw_connect();
	r = fds[2] >= 0 ? expect_error(fds[2], "EUSERS", true) : -1;
	if (r == 0) { /* and through the library: -EUSERS with the daemon's sentence */
		struct p2p_conn *c4 = conn_open();
		int h = c4 ? p2p_hello(c4, NULL) : -999;

		if (h != -EUSERS || !strstr(p2p_last_message(c4), "max_connections")) {
			fail_why("library over the limit: %d '%s'", h,
				 c4 ? p2p_last_message(c4) : "");
			r = -1;
		}
		p2p_disconnect(c4);
	}
	for (int i = 0; i < opened; i++)
		close(fds[i]);
	if (fds[2] >= 0)
		close(fds[2]);
	(void)o;
	CHECK(write_config(cfg_path, 4, 1100) == 0, "write");
	CHECK(p2p_admin_reload(adm) == 0, "reload back: %s", p2p_last_message(adm));
	p2p_disconnect(adm);
	CHECK(r == 0, "connection over max_connections=3: %s", why);
	return still_serving();
}

/* ---- issue 16 item 4: per-uid caps, admin slots, idle timeout ---- */

static int slots_want;		   /* connections the child tries to open */
static int slots_ok, slots_refused; /* how many were answered, refused */
static char slots_msg[256];	   /* the last refusal's message */
static int slots_go[2], slots_done[2]; /* parent -> child "release", child -> parent "ready" */

/* Open slots_want connections, say hello on each; report to the parent how many
 * were served and how many refused (EUSERS), then hold them until told. */
static int slots_hold(void)
{
	int fds[16], n = 0, ok = 0, refused = 0;
	char line[320], c;

	for (int i = 0; i < slots_want && i < 16; i++) {
		struct json_object *o = NULL;
		int fd = raw_connect();

		if (fd < 0)
			continue;
		fds[n++] = fd;
		/* a refused connection is answered unasked; asking first would race
		 * with p2pd's close (a request left unread makes it ECONNRESET) */
		if (raw_recv(fd, 2000, &o, NULL) != 1) {
			json_object_put(o);
			o = NULL;
			(void)raw_req(fd, P2P_OP_HELLO, "{\"version\":1}");
			(void)raw_recv(fd, 10000, &o, NULL);
		}
		if (o) {
			const char *code = jget(o, "code");

			if (code && !strcmp(code, "EUSERS")) {
				refused++;
				snprintf(slots_msg, sizeof(slots_msg), "%s", jget(o, "message"));
			} else if (!code) {
				ok++;
			}
		}
		json_object_put(o);
	}
	snprintf(line, sizeof(line), "%d %d %s\n", ok, refused, slots_msg);
	CHECK(write(slots_done[1], line, strlen(line)) > 0, "write");
	(void)read(slots_go[0], &c, 1);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	return 0;
}

static pid_t slots_spawn(uid_t uid, int want)
{
	char line[320];
	ssize_t n;
	pid_t pid;

	slots_want = want;
	pid = spawn_as(uid, NOBODY, NOBODY, slots_hold);
	if (pid < 0)
		return -1;
	n = read(slots_done[0], line, sizeof(line) - 1);
	line[n > 0 ? n : 0] = '\0';
	slots_ok = slots_refused = -1;
	slots_msg[0] = '\0';
	if (sscanf(line, "%d %d %255[^\n]", &slots_ok, &slots_refused, slots_msg) < 2)
		slots_ok = -1;
	return pid;
}

static int write_config_caps(unsigned max_conn, unsigned per_uid, unsigned reserved,
			     unsigned idle)
{
	char text[2048];

	snprintf(
	    text, sizeof(text),
	    "{\n"
	    "  \"version\": 1,\n"
	    "  \"socket\": { \"path\": \"%s\", \"mode\": \"0660\", \"group\": \"nogroup\" },\n"
	    "  \"limits\": { \"max_connections\": %u, \"max_connections_per_uid\": %u,\n"
	    "              \"reserved_admin_connections\": %u, \"idle_timeout\": %u },\n"
	    "  \"rules\": [ { \"uid\": 0, \"devices\": [\"*\"], \"types\": [\"memfd\"] },\n"
	    "             { \"uid\": %d, \"devices\": [\"*\"], \"types\": [\"memfd\"] } ],\n"
	    "  \"default\": { \"devices\": [], \"types\": [] }\n"
	    "}\n",
	    sock_path, max_conn, per_uid, reserved, idle, NOBODY);
	return write_file(cfg_path, text);
}

/* nobody takes every slot it may; root still connects and reloads */
static int t_admin_slots(void)
{
	const char *reload[] = {p2pctl_bin, "reload", NULL};
	struct p2p_conn *adm = conn_open(), *c2;
	char out[4096], m1[256];
	pid_t p1 = -1, p2 = -1;
	int r, ok1, ref1;

	CHECK(adm, "connect");
	CHECK(pipe2(slots_go, O_CLOEXEC) == 0 && pipe2(slots_done, O_CLOEXEC) == 0, "pipe");
	/* 10 slots, the last 3 for admins; at most 4 per uid; adm holds one */
	CHECK(write_config_caps(10, 4, 3, 300) == 0, "write");
	r = p2p_admin_reload(adm);
	drain_notify();
	CHECK(r == 0, "reload: %s", p2p_last_message(adm));
	p1 = slots_spawn(NOBODY, 6);
	ok1 = slots_ok;
	ref1 = slots_refused;
	snprintf(m1, sizeof(m1), "%s", slots_msg);
	p2 = slots_spawn(NOBODY2, 3); /* 2 more fill the 7 open slots */
	c2 = conn_open();
	r = c2 ? p2p_hello(c2, NULL) : -999;
	p2p_disconnect(c2);
	{
		int rc = run_cmd(out, sizeof(out), reload);

		drain_notify();
		if (rc != 0)
			r = -1000 - rc;
	}
	CHECK(write(slots_go[1], "xx", 2) == 2, "release children");
	(void)wait_child(p1, "nobody");
	(void)wait_child(p2, "nobody2");
	close(slots_go[0]);
	close(slots_go[1]);
	close(slots_done[0]);
	close(slots_done[1]);
	CHECK(write_config(cfg_path, 4, 1100) == 0, "write");
	CHECK(p2p_admin_reload(adm) == 0, "reload back: %s", p2p_last_message(adm));
	drain_notify();
	p2p_disconnect(adm);
	CHECK(ok1 == 4 && ref1 == 2 && strstr(m1, "max_connections_per_uid"),
	      "uid nobody: %d served, %d refused (want 4, 2): '%s'", ok1, ref1, m1);
	CHECK(slots_ok == 2 && slots_refused == 1 && strstr(slots_msg, "reserved for admins"),
	      "uid nobody2 with 5 of 10 slots taken: %d served, %d refused (want 2, 1): '%s'",
	      slots_ok, slots_refused, slots_msg);
	CHECK(r == 0, "root locked out while nobody holds every open slot: hello/reload %d", r);
	return still_serving();
}

static int idle_body(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_alloc_req req = {.size = 4096, .types = P2P_BUF_MEMFD};
	struct p2p_buffer_info info;
	struct json_object *o = NULL;
	int bfd = -1, fd = raw_connect(), r;
	int64_t t0 = now_ms();

	CHECK(c && fd >= 0, "connect");
	CHECK(p2p_alloc(c, &req, &info, &bfd, NULL) == 0, "alloc: %s", p2p_last_message(c));
	/* sends nothing: closed after idle_timeout (1 s); generous deadline */
	r = raw_recv(fd, 20000, &o, NULL);
	json_object_put(o);
	close(fd);
	CHECK(r == 0, "silent connection not closed within 20 s (recv %d)", r);
	CHECK(now_ms() - t0 >= 900, "closed before idle_timeout: %lld ms",
	      (long long)(now_ms() - t0));
	/* the one holding a buffer stays: it still answers */
	r = p2p_hello(c, NULL);
	close(bfd);
	p2p_disconnect(c);
	CHECK(r == 0, "connection holding a buffer dropped as idle: %d", r);
	return 0;
}

static int t_idle_timeout(void)
{
	struct p2p_conn *adm = conn_open();
	int r;

	CHECK(adm, "connect");
	CHECK(write_config_caps(1100, 1100, 4, 1) == 0, "write");
	r = p2p_admin_reload(adm);
	drain_notify();
	p2p_disconnect(adm);
	CHECK(r == 0, "reload: %d", r);
	r = as_nobody(idle_body);
	CHECK(write_config(cfg_path, 4, 1100) == 0, "write");
	adm = conn_open();
	CHECK(adm && p2p_admin_reload(adm) == 0, "reload back");
	drain_notify();
	p2p_disconnect(adm);
	CHECK(r == 0, "idle timeout: %s", why);
	return still_serving();
}

/* ---- issue 16 classes: accept() out of descriptors ---- */

static int count_log_lines(const char *needle)
{
	FILE *f = fopen(log_path, "re");
	char line[1024];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* utime + stime of @pid in clock ticks, -1 on error */
static long long proc_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p || !(p = strrchr(buf, ')')))
		return -1;
	/* fields after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

/*
 * p2pd's RLIMIT_NOFILE lowered under it (prlimit), then more connections than
 * it has descriptors: accept() fails with EMFILE while the backlog stays
 * readable.  p2pd must neither spin (CPU time) nor log every failure.
 */
static int t_accept_emfile(void)
{
	struct rlimit old, low;
	int fds[48], n = 0, lines0, lines1, nfd = count_fds(p2pd_pid);
	long long t0, t1;
	int r = 0;

	CHECK(nfd > 0, "count fds");
	CHECK(prlimit(p2pd_pid, RLIMIT_NOFILE, NULL, &old) == 0, "prlimit: %s", strerror(errno));
	low = old;
	low.rlim_cur = (rlim_t)nfd + 6;
	CHECK(prlimit(p2pd_pid, RLIMIT_NOFILE, &low, NULL) == 0, "prlimit: %s", strerror(errno));
	lines0 = count_log_lines("accept: ");
	for (int i = 0; i < 48; i++)
		if ((fds[n] = raw_connect()) >= 0)
			n++;
	usleep(300000); /* let it take what it can */
	t0 = proc_cpu_ticks(p2pd_pid);
	sleep(3);
	t1 = proc_cpu_ticks(p2pd_pid);
	lines1 = count_log_lines("accept: ");
	if (prlimit(p2pd_pid, RLIMIT_NOFILE, &old, NULL) < 0)
		r = -1;
	for (int i = 0; i < n; i++)
		close(fds[i]);
	CHECK(r == 0, "prlimit restore: %s", strerror(errno));
	CHECK(n == 48, "only %d of 48 connects", n);
	CHECK(t0 >= 0 && t1 >= 0, "cpu ticks");
	CHECK(lines1 - lines0 <= 3, "%d 'accept:' log lines in 3 s with descriptors exhausted",
	      lines1 - lines0);
	CHECK(lines1 - lines0 >= 1, "EMFILE never reported in the log (lines %d)", lines1 - lines0);
	/* spinning costs whatever CPU the machine gives; waiting costs ~0: allow 20% */
	CHECK((t1 - t0) * 1000 / sysconf(_SC_CLK_TCK) < 600,
	      "p2pd used %lld ms of CPU in 3 s with descriptors exhausted",
	      (t1 - t0) * 1000 / sysconf(_SC_CLK_TCK));
	usleep(500000); /* the paused accept resumes */
	return still_serving();
}

/* SIGTERM while a client has replies queued that it never reads: p2pd gives
 * the drain a bounded time and still exits cleanly */
static int t_sigterm_drain(void)
{
	char dsock[300], saved[300];
	int64_t t0;
	pid_t pid;
	int fd, st, fl;

	snprintf(dsock, sizeof(dsock), "%s/drain.sock", tmpdir);
	pid = start_p2pd(fixture, cfg_path, dsock, NULL, 0);
	CHECK(pid > 0, "start: %s", why);
	snprintf(saved, sizeof(saved), "%s", sock_path);
	snprintf(sock_path, sizeof(sock_path), "%s", dsock);
	fd = raw_connect();
	snprintf(sock_path, sizeof(sock_path), "%s", saved);
	CHECK(fd >= 0, "connect");
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	for (int i = 0; i < 200; i++)
		if (raw_send(fd, 1, P2P_OP_TOPOLOGY, 0, 2, "{}", 2) < 0)
			break;
	usleep(200000);
	t0 = now_ms();
	st = stop_p2pd(pid);
	close(fd);
	CHECK(st == 0, "exit status %d", st);
	CHECK(now_ms() - t0 < 5000, "took %lld ms to stop", (long long)(now_ms() - t0));
	return 0;
}

/*
 * A stream of SIGTERMs (an impatient admin, a supervisor repeating itself):
 * the first stops p2pd, the rest must not kill it while it tears down --
 * freeing its signal events puts back the default actions.  Exit 0, the
 * socket removed, every time.
 */
static int t_sigterm_repeated(void)
{
	char rsock[300];
	int bad = 0;

	snprintf(rsock, sizeof(rsock), "%s/sigterm-rep.sock", tmpdir);
	for (int round = 0; round < 5 && !bad; round++) {
		pid_t pid = start_p2pd(fixture, cfg_path, rsock, NULL, 0);
		int st = 0;
		long sent = 0;

		CHECK(pid > 0, "start p2pd");
		while (kill(pid, SIGTERM) == 0) {
			sent++;
			if (waitpid(pid, &st, WNOHANG) == pid)
				break;
		}
		if (sent > 0 && waitpid(pid, &st, 0) != pid && errno != ECHILD)
			st = -1;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fail_why("round %d: %ld SIGTERMs: p2pd %s %d", round, sent,
				 WIFSIGNALED(st) ? "killed by signal" : "exit status",
				 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			bad = 1;
		} else if (access(rsock, F_OK) == 0) {
			fail_why("round %d: socket left behind", round);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

/*
 * SIGTERM while a client that stopped reading has replies queued in p2pd:
 * when the client reads them all p2pd exits at once (every reply that it
 * handled delivered, then EOF); when the client closes
 * instead p2pd exits at once too.  Neither waits for the drain timeout (not logged).
 */
static int drain_case(bool reads)
{
	char dsock[300], saved[300];
	static char rbuf[P2P_PROTO_MAX_DATAGRAM];
	struct p2p_conn *adm = NULL;
	int fd = -1, fl, got = 0, eof = 0, st = -1, timeouts = count_log_lines("drain timeout");
	int stopping = count_log_lines("SIGTERM: stopping"), calls = 0, bad = 0;
	int64_t before, now, prev = -1, deadline;
	pid_t pid;

	snprintf(dsock, sizeof(dsock), "%s/drain2.sock", tmpdir);
	pid = start_p2pd(fixture, cfg_path, dsock, NULL, 0);
	CHECK(pid > 0, "start: %s", why);
	snprintf(saved, sizeof(saved), "%s", sock_path);
	snprintf(sock_path, sizeof(sock_path), "%s", dsock);
	fd = raw_ready();
	snprintf(sock_path, sizeof(sock_path), "%s", saved);
	if (fd < 0 || p2p_connect(dsock, &adm) < 0 || (before = stats_requests(adm)) < 0) {
		fail_why("connect");
		bad = 1;
		goto out;
	}
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	for (int i = 0; i < 2000; i++)
		if (raw_send(fd, 1, P2P_OP_TOPOLOGY, 0, 2, "{}", 2) < 0)
			break;
	/* until p2pd stops reading the client: its request count settles */
	deadline = now_ms() + 10000;
	for (;;) {
		usleep(50000);
		now = stats_requests(adm);
		calls++;
		/* settled: only this STATS itself was counted since the last one */
		if ((prev >= 0 && now == prev + 1) || now < 0 || now_ms() > deadline)
			break;
		prev = now;
	}
	p2p_disconnect(adm);
	adm = NULL;
	kill(pid, SIGTERM);
	deadline = now_ms() + 10000;
	while (count_log_lines("SIGTERM: stopping") == stopping && now_ms() < deadline)
		usleep(10000);
	if (reads) {
		fcntl(fd, F_SETFL, fl);
		for (;;) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			ssize_t n;

			if (poll(&p, 1, 10000) != 1)
				break;
			n = recv(fd, rbuf, sizeof(rbuf), 0);
			/* p2pd left requests unread: ECONNRESET is said once, before
			 * the replies still queued here */
			if (n < 0 && errno == ECONNRESET)
				continue;
			if (n == 0) {
				eof = 1;
				break;
			}
			if (n < (ssize_t)sizeof(struct p2p_msg_hdr) ||
			    ((struct p2p_msg_hdr *)rbuf)->opcode != P2P_OP_TOPOLOGY)
				break;
			if (!(((struct p2p_msg_hdr *)rbuf)->flags & P2P_FLAG_MORE))
				got++; /* the last datagram of a reply */
		}
	}
	close(fd);
	fd = -1;
	st = wait_exit(pid);
	pid = -1;
	if (reads && (!eof || got != (int)(now - before - calls))) {
		fail_why("after SIGTERM the client read %d replies then %s; p2pd had handled %lld "
			 "of its requests",
			 got, eof ? "EOF" : "no EOF", (long long)(now - before - calls));
		bad = 1;
	} else if (reads && got < 16) {
		fail_why("only %d replies: nothing was queued in p2pd", got);
		bad = 1;
	} else if (reads) {
		printf("  (%d replies delivered after SIGTERM, then EOF)\n", got);
	}
	if (bad) {
		/* said */
	} else if (st != 0) {
		fail_why("p2pd exit status %d", st);
		bad = 1;
	} else if (count_log_lines("drain timeout") != timeouts) {
		fail_why("p2pd waited for the drain timeout although its client %s",
			 reads ? "read everything" : "was gone");
		bad = 1;
	}
out:
	p2p_disconnect(adm);
	if (fd >= 0)
		close(fd);
	if (pid > 0)
		stop_p2pd(pid);
	return bad ? -1 : 0;
}

static int t_sigterm_drained(void)
{
	if (drain_case(true) < 0)
		return -1;
	return drain_case(false);
}

static int t_watchdog(void)
{
	char wsock[300], note[4096];
	pid_t pid;
	int n = 0;

	snprintf(wsock, sizeof(wsock), "%s/wd.sock", tmpdir);
	watchdog_usec = 200000;
	pid = start_p2pd(fixture, cfg_path, wsock, NULL, 0);
	watchdog_usec = 0;
	CHECK(pid > 0, "start: %s", why);
	usleep(700000);
	collect_notify(note, sizeof(note));
	for (const char *p = note; (p = strstr(p, "WATCHDOG=1")); p++)
		n++;
	CHECK(stop_p2pd(pid) == 0, "p2pd with a watchdog did not exit cleanly");
	/* every 100 ms for 700 ms */
	CHECK(n >= 4, "%d WATCHDOG=1 in 0.7 s with WATCHDOG_USEC=200000", n);
	return 0;
}

/*
 * A machine without PCI (an --fsroot with no bus/pci): p2pd starts, says so
 * once in its log and in READY's STATUS, serves host buffers, and answers
 * every request that needs the topology with ENODEV and why.
 */
static int t_no_pci(void)
{
	static const char *const no_topo = "no PCI topology: no PCI functions found";
	struct p2p_alloc_req req = {.size = 8192, .types = P2P_BUF_MEMFD, .name = "nopci"};
	const char *peers[] = {"0000:03:00.0"};
	char nsock[300], root[300], status[512], *out = NULL;
	struct p2p_conn *c = NULL;
	struct p2p_buffer_info info;
	struct p2p_hello_info hi;
	int before, after, fd = -1, r_topo, r_check, r_kcheck, r_matrix, r_peers, r_alloc, r_stats;
	char m_topo[256] = "", m_check[256] = "", m_matrix[256] = "", m_peers[256] = "";
	bool zero_funcs = false;
	pid_t pid;

	snprintf(root, sizeof(root), "%s/nopci", tmpdir);
	snprintf(nsock, sizeof(nsock), "%s/nopci.sock", tmpdir);
	CHECK(mkdir(root, 0755) == 0 || errno == EEXIST, "mkdir %s: %m", root);
	before = count_log_lines("no PCI functions under");
	pid = start_p2pd(root, cfg_path, nsock, status, sizeof(status));
	CHECK(pid > 0, "start p2pd on an empty sysfs root: %s", why);
	if (p2p_connect(nsock, &c) == 0) {
		p2p_conn_set_timeout(c, 10000);
		(void)p2p_hello(c, &hi);
		r_topo = p2p_topology_json(c, &out);
		snprintf(m_topo, sizeof(m_topo), "%s", p2p_last_message(c));
		free(out), out = NULL;
		r_check = p2p_check_json(c, "0000:03:00.0", "0000:04:00.0", &out);
		snprintf(m_check, sizeof(m_check), "%s", p2p_last_message(c));
		free(out), out = NULL;
		r_kcheck =
		    p2p_check_ex_json(c, "0000:03:00.0", "0000:04:00.0", P2P_CHECK_KERNEL, &out);
		free(out), out = NULL;
		r_matrix = p2p_matrix_json(c, true, &out);
		snprintf(m_matrix, sizeof(m_matrix), "%s", p2p_last_message(c));
		free(out), out = NULL;
		req.peers = peers;
		req.npeers = 1;
		r_peers = p2p_alloc(c, &req, &info, &fd, NULL);
		snprintf(m_peers, sizeof(m_peers), "%s", p2p_last_message(c));
		if (fd >= 0)
			close(fd), fd = -1;
		req.peers = NULL;
		req.npeers = 0;
		r_alloc = p2p_alloc(c, &req, &info, &fd, NULL);
		if (fd >= 0)
			close(fd);
		r_stats = p2p_admin_stats_json(c, &out);
		zero_funcs = out && strstr(out, "\"devices\":0");
		free(out), out = NULL;
		/* a reload finds no PCI either, and says so */
		if (p2p_request_json(c, P2P_OP_RELOAD, NULL, &out) != 0 ||
		    !strstr(out, "\"devices\":0"))
			zero_funcs = false;
		free(out);
		drain_notify();
		p2p_disconnect(c);
	} else {
		r_topo = r_check = r_kcheck = r_matrix = r_peers = r_alloc = r_stats =
		    -ECONNREFUSED;
	}
	after = count_log_lines("no PCI functions under");
	CHECK(stop_p2pd(pid) == 0, "p2pd without PCI did not exit cleanly");
	CHECK(strstr(status, "Serving 0 PCI functions"), "READY's status: %s", status);
	CHECK(after == before + 1, "'no PCI functions under' logged %d times", after - before);
	CHECK(r_topo == -ENODEV && strstr(m_topo, no_topo), "topology: %d '%s'", r_topo, m_topo);
	CHECK(r_check == -ENODEV && strstr(m_check, no_topo), "check: %d '%s'", r_check, m_check);
	CHECK(r_kcheck == -ENODEV, "check with the kernel verdict: %d", r_kcheck);
	CHECK(r_matrix == -ENODEV && strstr(m_matrix, no_topo), "matrix: %d '%s'", r_matrix,
	      m_matrix);
	CHECK(r_peers == -ENODEV && strstr(m_peers, no_topo), "alloc with a peer: %d '%s'", r_peers,
	      m_peers);
	CHECK(r_alloc == 0 && info.type == P2P_BUF_MEMFD && info.size >= 8192 &&
		  strcmp(info.name, "nopci") == 0,
	      "a memfd buffer without PCI: %d", r_alloc);
	CHECK(r_stats == 0 && zero_funcs, "stats and reload: %d, devices 0: %d", r_stats,
	      zero_funcs);
	return 0;
}

/*
 * --cpu, -v and --log auto: an AMD Zen CPU given on the command line makes a
 * pair across root ports go through the host bridge (the fixture's own CPU
 * does not); -v logs the debug lines (a buffer's allocation, a client gone)
 * with the buffer's id; auto without JOURNAL_STREAM logs to stderr.  A
 * revoke's log line names the buffer too.
 */
static int t_cpu_verbose(void)
{
	static const char *const zen_verbose[] = {"--cpu", "amd:0x19", "-v", NULL};
	struct p2p_alloc_req req = {.size = 4096, .types = P2P_BUF_MEMFD, .name = "verbose"};
	char vsock[300], *zen = NULL, *plain = NULL, line[64];
	struct p2p_conn *c = NULL;
	struct p2p_buffer_info info = {0};
	int allocs0 = count_log_lines("via memfd, 4096 bytes"), gone0 = count_log_lines("gone (");
	int revoked0 = count_log_lines("revoked by admin uid 0"), fd = -1, r = -1, rv = -1;
	int tagged0 = count_log_lines(" buffer=");
	pid_t pid;

	snprintf(vsock, sizeof(vsock), "%s/zen.sock", tmpdir);
	p2pd_extra = zen_verbose;
	log_target = "auto";
	pid = start_p2pd(fixture, cfg_path, vsock, NULL, 0);
	p2pd_extra = NULL;
	log_target = "stderr";
	CHECK(pid > 0, "start p2pd --cpu amd:0x19 -v --log auto: %s", why);
	if (p2p_connect(vsock, &c) == 0) {
		p2p_conn_set_timeout(c, 10000);
		(void)p2p_check_json(c, "0000:03:00.0", "0000:06:00.0", &zen);
		r = p2p_alloc(c, &req, &info, &fd, NULL);
		if (r == 0)
			rv = p2p_admin_revoke(c, info.id);
		if (fd >= 0)
			close(fd);
		p2p_disconnect(c);
	}
	usleep(200000); /* the disconnect's debug line */
	CHECK(stop_p2pd(pid) == 0, "p2pd --cpu -v did not exit cleanly");
	c = conn_open();
	CHECK(c, "connect to the main p2pd");
	(void)p2p_check_json(c, "0000:03:00.0", "0000:06:00.0", &plain);
	p2p_disconnect(c);
	bool zen_ok = zen && strstr(zen, "\"map_type\":\"thru_host_bridge\"");
	bool plain_ok = plain && strstr(plain, "\"map_type\":\"not_supported\"");
	free(zen);
	free(plain);
	CHECK(zen_ok && plain_ok,
	      "03:00.0 -> 06:00.0: with --cpu amd:0x19 through the host bridge %d, without not "
	      "supported %d",
	      zen_ok, plain_ok);
	CHECK(r == 0 && rv == 0, "alloc %d, revoke %d", r, rv);
	snprintf(line, sizeof(line), " buffer=%llu]", (unsigned long long)info.id);
	CHECK(count_log_lines("via memfd, 4096 bytes") == allocs0 + 1 &&
		  count_log_lines(" buffer=") - tagged0 == 2 && count_log_lines(line) >= 2,
	      "-v: the allocation's debug line and the revoke's do not both name%s", line);
	CHECK(count_log_lines("gone (") > gone0, "-v: no debug line for the client gone");
	CHECK(count_log_lines("revoked by admin uid 0") == revoked0 + 1,
	      "the revoke was not logged once");
	return 0;
}

/*
 * A reload while the matrix is being built off the event loop: the reload is
 * answered at once (it does not wait for the job), the model the job reads
 * stays alive until the job is done (retired, then freed: p2pd exits cleanly,
 * ASan's leak check included), and the waiting client still gets a whole
 * matrix.
 */
static int t_reload_during_matrix(void)
{
	const bool slow = getenv("SAN") && *getenv("SAN");
	char msock[300];
	struct p2p_conn *adm = NULL;
	int64_t t_reload = -1, t_matrix = -1, t0;
	int st = -1, rr = -1, r2 = -1, ex;
	char *m = NULL;
	pid_t pid, child;

	if (!big_fixture || strcmp(big_fixture, "-") == 0) {
		fail_why("no big fixture generated (tests/fixtures/gen-fabric.py missing?)");
		return -1;
	}
	snprintf(msock, sizeof(msock), "%s/rm.sock", tmpdir);
	pid = start_p2pd(big_fixture, cfg_path, msock, NULL, 0);
	CHECK(pid > 0, "start p2pd on the big tree: %s", why);
	t0 = now_ms();
	fflush(stdout);
	child = fork();
	if (child == 0) {
		struct p2p_conn *c = NULL;
		char *mx = NULL;
		int r = p2p_connect(msock, &c);

		if (r == 0) {
			p2p_conn_set_timeout(c, slow ? 240000 : 60000);
			r = p2p_matrix_json(c, false, &mx);
		}
		_exit(r == 0 && mx && strlen(mx) > 4 * P2P_PROTO_CHUNK ? 0 : 1);
	}
	usleep(slow ? 500000 : 100000); /* the job has started */
	if (p2p_connect(msock, &adm) == 0) {
		p2p_conn_set_timeout(adm, slow ? 240000 : 60000);
		rr = p2p_admin_reload(adm);
		t_reload = now_ms() - t0;
		drain_notify();
	}
	if (child > 0 && waitpid(child, &st, 0) == child)
		t_matrix = now_ms() - t0;
	if (adm) { /* the new model's matrix, built again */
		r2 = p2p_matrix_json(adm, false, &m);
		free(m);
	}
	p2p_disconnect(adm);
	ex = stop_p2pd(pid);
	printf("  (reload answered after %lld ms, the matrix after %lld ms)\n",
	       (long long)t_reload, (long long)t_matrix);
	CHECK(rr == 0, "reload while the matrix was built: %d", rr);
	CHECK(child > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "the client waiting for the matrix got no whole matrix (status %d)", st);
	CHECK(t_reload >= 0 && t_reload < t_matrix,
	      "the reload waited for the matrix job: %lld ms vs %lld ms", (long long)t_reload,
	      (long long)t_matrix);
	CHECK(r2 == 0, "matrix after the reload: %d", r2);
	CHECK(ex == 0, "p2pd exited with %d after a reload during a matrix job (see %s)", ex,
	      log_path);
	return 0;
}

/* a (synthetic) kernel uevent for a PCI function makes p2pd rescan */
static int t_hotplug(void)
{
	char hsock[300], path[300], *text = NULL;
	struct p2p_conn *c = NULL;
	struct json_object *o = NULL, *v;
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	pid_t pid;
	int fd = -1, r, rescans = -1;

	CHECK(d, "no /sys/bus/pci/devices on this machine: cannot test hotplug");
	while ((e = readdir(d)) && e->d_name[0] == '.')
		;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/uevent", e ? e->d_name : "");
	closedir(d);
	CHECK(e, "no PCI function on this machine: cannot test hotplug");
	snprintf(hsock, sizeof(hsock), "%s/hp.sock", tmpdir);
	pid = start_p2pd("/", cfg_path, hsock, NULL, 0);
	CHECK(pid > 0, "start p2pd on the real /sys: %s", why);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	r = fd >= 0 && write(fd, "add", 3) == 3 ? 0 : -errno;
	if (fd >= 0)
		close(fd);
	usleep(800000);
	if (p2p_connect(hsock, &c) == 0 && p2p_admin_stats_json(c, &text) == 0) {
		o = json_tokener_parse(text);
		if (o && json_object_object_get_ex(o, "rescans", &v))
			rescans = json_object_get_int(v);
	}
	json_object_put(o);
	free(text);
	p2p_disconnect(c);
	CHECK(stop_p2pd(pid) == 0, "p2pd on the real /sys did not exit cleanly");
	CHECK(r == 0, "cannot write %s (%s): cannot synthesize a uevent", path, strerror(-r));
	CHECK(rescans >= 1, "no topology rescan after a PCI uevent (rescans %d)", rescans);
	return 0;
}

/*
 * PCI hotplug on a fixture: p2pd watches uevents only with --fsroot /, so a
 * child in a private mount namespace binds a copy of the fixture's sys/ over
 * /sys and starts p2pd there; the copy is then broken and mended, and a real
 * "add" uevent (written through a uevent file opened before the bind) makes
 * p2pd rescan each time.  A failed rescan keeps the old topology and says so;
 * a sysfs without PCI leaves 0 functions; a mended one has them all again.
 */
static char hpf_sys[300], hpf_sock[300];
static int hpf_uevent = -1;

/* STATS "devices" and "rescans" of the p2pd at hpf_sock; -1 when unknown */
static void hpf_stats(int *ret_devices, int *ret_rescans)
{
	struct p2p_conn *c = NULL;
	struct json_object *o = NULL, *v;
	char *text = NULL;

	*ret_devices = *ret_rescans = -1;
	if (p2p_connect(hpf_sock, &c) == 0 && p2p_admin_stats_json(c, &text) == 0 &&
	    (o = json_tokener_parse(text))) {
		if (json_object_object_get_ex(o, "devices", &v))
			*ret_devices = json_object_get_int(v);
		if (json_object_object_get_ex(o, "rescans", &v))
			*ret_rescans = json_object_get_int(v);
	}
	json_object_put(o);
	free(text);
	p2p_disconnect(c);
}

/* Send "add", then wait until @needle is logged once more than before. */
static int hpf_uevent_until(const char *needle)
{
	int before = count_log_lines(needle);
	int64_t deadline = now_ms() + 10000;

	if (pwrite(hpf_uevent, "add", 3, 0) != 3) {
		fail_why("cannot write a uevent: %m");
		return -1;
	}
	while (now_ms() < deadline) {
		if (count_log_lines(needle) > before)
			return 0;
		usleep(50000);
	}
	fail_why("no '%s' logged after a PCI uevent", needle);
	return -1;
}

static int hpf_child(void)
{
	char path[400], moved[400], realev[300];
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	int devices, rescans, before;
	pid_t pid;

	CHECK(d, "no /sys/bus/pci/devices on this machine: cannot send a PCI uevent");
	while ((e = readdir(d)) && e->d_name[0] == '.')
		;
	snprintf(realev, sizeof(realev), "/sys/bus/pci/devices/%s/uevent", e ? e->d_name : "");
	closedir(d);
	CHECK(e, "no PCI function on this machine: cannot send a PCI uevent");
	hpf_uevent = open(realev, O_WRONLY | O_CLOEXEC);
	CHECK(hpf_uevent >= 0, "open %s: %m", realev);
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount(hpf_sys, "/sys", NULL, MS_BIND, NULL) < 0) {
		fail_why("cannot bind the fixture over /sys in a private mount namespace: %m");
		return -1;
	}
	pid = start_p2pd("/", cfg_path, hpf_sock, NULL, 0);
	CHECK(pid > 0, "start p2pd with the fixture as /sys: %s", why);
	/* other tests on this machine may send PCI uevents too: rescans are
	 * compared with the count before each step, not with fixed numbers */
	hpf_stats(&devices, &before);
	if (devices != 20 || before < 0) {
		stop_p2pd(pid);
		fail_why("at start: devices %d (want 20), rescans %d", devices, before);
		return -1;
	}

	/* sys/devices a regular file: the rescan fails, the old topology stays */
	snprintf(path, sizeof(path), "%s/devices", hpf_sys);
	snprintf(moved, sizeof(moved), "%s/devices.off", hpf_sys);
	if (rename(path, moved) < 0 || write_file(path, "not a directory\n") < 0) {
		stop_p2pd(pid);
		fail_why("break the fixture copy: %m");
		return -1;
	}
	if (hpf_uevent_until("PCI change: rescan failed (Not a directory), keeping the old "
			     "topology") < 0) {
		stop_p2pd(pid);
		return -1;
	}
	hpf_stats(&devices, &rescans);
	if (devices != 20 || rescans != before) {
		stop_p2pd(pid);
		fail_why("after a failed rescan: devices %d (want 20), rescans %d (want %d: a "
			 "failed one does not count)",
			 devices, rescans, before);
		return -1;
	}
	before = rescans;

	/* no PCI left at all: 0 functions, not an error */
	unlink(path);
	snprintf(path, sizeof(path), "%s/bus", hpf_sys);
	snprintf(moved, sizeof(moved), "%s/bus.off", hpf_sys);
	if (rename(path, moved) < 0 ||
	    hpf_uevent_until("PCI change: topology rescanned, 0 functions") < 0) {
		if (!why[0])
			fail_why("rename %s: %m", path);
		stop_p2pd(pid);
		return -1;
	}
	hpf_stats(&devices, &rescans);
	if (devices != 0 || rescans <= before) {
		stop_p2pd(pid);
		fail_why("without PCI: devices %d (want 0), rescans %d (want more than %d)",
			 devices, rescans, before);
		return -1;
	}
	before = rescans;

	/* mended: every function is back */
	rename(moved, path);
	snprintf(path, sizeof(path), "%s/devices", hpf_sys);
	snprintf(moved, sizeof(moved), "%s/devices.off", hpf_sys);
	if (rename(moved, path) < 0 ||
	    hpf_uevent_until("PCI change: topology rescanned, 20 functions") < 0) {
		if (!why[0])
			fail_why("rename %s: %m", moved);
		stop_p2pd(pid);
		return -1;
	}
	hpf_stats(&devices, &rescans);
	CHECK(stop_p2pd(pid) == 0, "p2pd on the fixture as /sys did not exit cleanly");
	CHECK(devices == 20 && rescans > before,
	      "mended: devices %d (want 20), rescans %d (want more than %d)", devices, rescans,
	      before);
	return 0;
}

static int t_hotplug_fixture(void)
{
	char cmd[900];
	pid_t pid;
	int st;

	snprintf(hpf_sys, sizeof(hpf_sys), "%s/hpf-sys", tmpdir);
	snprintf(hpf_sock, sizeof(hpf_sock), "%s/hpf.sock", tmpdir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s/sys' '%s'", hpf_sys, fixture, hpf_sys);
	CHECK(system(cmd) == 0, "copy the fixture: %s", cmd);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int r = hpf_child();

		if (r)
			printf("  (hotplug on a fixture: %s)\n", why);
		fflush(stdout);
		_exit(r ? 1 : 0);
	}
	waitpid(pid, &st, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", hpf_sys);
	(void)!system(cmd);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "see the line above");
	return 0;
}

/* --log journal: structured fields reach the journal socket.  A private mount
 * namespace with a tmpfs on /run holds a stand-in journald socket. */
/* nobody asks for a buffer on a provider its rule does not allow */
static int journal_refused_alloc(void)
{
	struct p2p_alloc_req req = {
	    .size = 4096, .provider = "0000:06:00.0", .types = P2P_BUF_MEMFD};
	struct p2p_buffer_info info;
	struct p2p_conn *c = conn_open();
	int fd = -1, r;

	CHECK(c, "connect as nobody");
	r = p2p_alloc(c, &req, &info, &fd, NULL);
	if (fd >= 0)
		close(fd);
	p2p_disconnect(c);
	CHECK(r == -EPERM, "nobody's alloc on 0000:06:00.0: %d, not EPERM", r);
	return 0;
}

static int journal_child(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char jsock[300], buf[4096], revoked[96] = "", field[48] = "";
	bool found = false, found_buffer = false, found_device = false;
	int refused;
	pid_t pid;
	int j, fd;
	int64_t deadline;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") < 0) {
		fail_why("cannot make a private /run for the journal stand-in: %m");
		return -1;
	}
	mkdir("/run/systemd", 0755);
	mkdir("/run/systemd/journal", 0755);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/run/systemd/journal/socket");
	j = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(j >= 0 && bind(j, (struct sockaddr *)&sa, sizeof(sa)) == 0, "journal socket: %m");
	snprintf(jsock, sizeof(jsock), "%s/journal.sock", tmpdir);
	log_target = "journal";
	pid = start_p2pd(fixture, cfg_path, jsock, NULL, 0);
	CHECK(pid > 0, "start p2pd --log journal: %s", why);
	/* a framing violation is logged with the client's uid and pid */
	snprintf(sock_path, sizeof(sock_path), "%s", jsock);
	fd = raw_connect();
	if (fd >= 0) {
		send(fd, "xx", 2, MSG_NOSIGNAL);
		usleep(100000);
		close(fd);
	}
	/* an admin's revoke is logged with the buffer's id */
	{
		struct p2p_alloc_req req = {.size = 4096, .types = P2P_BUF_MEMFD};
		struct p2p_buffer_info info = {0};
		struct p2p_conn *c = NULL;
		int bfd = -1;

		if (p2p_connect(jsock, &c) == 0 && p2p_alloc(c, &req, &info, &bfd, NULL) == 0)
			(void)p2p_admin_revoke(c, info.id);
		if (bfd >= 0)
			close(bfd);
		p2p_disconnect(c);
		snprintf(revoked, sizeof(revoked), "MESSAGE=buffer %llu revoked by admin uid 0",
			 (unsigned long long)info.id);
		snprintf(field, sizeof(field), "\nP2P_BUFFER=%llu\n", (unsigned long long)info.id);
	}
	/* a refused allocation is logged with the device and the client's uid */
	refused = wait_child(spawn_as(NOBODY, NOBODY, NOBODY, journal_refused_alloc),
			     "nobody's refused alloc");
	deadline = now_ms() + 3000;
	while (!(found && found_buffer && found_device) && now_ms() < deadline) {
		struct pollfd p = {.fd = j, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 200) <= 0)
			continue;
		n = recv(j, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strstr(buf, "MESSAGE=client") && strstr(buf, "protocol error") &&
		    strstr(buf, "P2P_CLIENT_UID=0\n") && strstr(buf, "P2P_CLIENT_PID=") &&
		    strstr(buf, "PRIORITY=5"))
			found = true;
		if (strstr(buf, revoked) && strstr(buf, field) && strstr(buf, "P2P_CLIENT_UID=0\n"))
			found_buffer = true;
		if (strstr(buf, "alloc refused: provider not allowed") &&
		    strstr(buf, "\nP2P_DEVICE=0000:06:00.0\n") &&
		    strstr(buf, "P2P_CLIENT_UID=65534\n"))
			found_device = true;
	}
	stop_p2pd(pid);
	CHECK(found,
	      "no journal entry with MESSAGE=, PRIORITY=5, P2P_CLIENT_UID=0, P2P_CLIENT_PID=");
	CHECK(found_buffer, "no journal entry '%s' with P2P_BUFFER= and P2P_CLIENT_UID=0", revoked);
	CHECK(refused == 0, "%s", why);
	CHECK(found_device, "no journal entry 'alloc refused: provider not allowed' with "
			    "P2P_DEVICE=0000:06:00.0 and P2P_CLIENT_UID=65534");
	return 0;
}

static int t_journal(void)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int r = journal_child();

		if (r)
			printf("  (journal: %s)\n", why);
		fflush(stdout);
		_exit(r ? 1 : 0);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "see the line above");
	return 0;
}

static int t_big_topology(void)
{
	char bsock[300], st[256], *text = NULL;
	struct p2p_conn *c = NULL;
	struct json_object *doc, *devs;
	pid_t pid;
	int r, n = -1;
	size_t len = 0;

	if (!big_fixture || strcmp(big_fixture, "-") == 0) {
		fail_why("no big fixture generated (tests/fixtures/gen-fabric.py missing?)");
		return -1;
	}
	snprintf(bsock, sizeof(bsock), "%s/big.sock", tmpdir);
	pid = start_p2pd(big_fixture, cfg_path, bsock, st, sizeof(st));
	CHECK(pid > 0, "start p2pd on the big tree: %s", why);
	r = p2p_connect(bsock, &c);
	if (r == 0)
		r = p2p_topology_json(c, &text);
	p2p_disconnect(c);
	if (r == 0) {
		len = strlen(text);
		doc = json_tokener_parse(text);
		if (doc && json_object_object_get_ex(doc, "devices", &devs))
			n = (int)json_object_array_length(devs);
		json_object_put(doc);
	}
	free(text);
	{
		int st2 = stop_p2pd(pid);

		r = r < 0 ? r : st2;
	}
	{ /* the matrix of all 512 functions (+ host bridges) is refused, not built */
		struct p2p_conn *c2 = NULL;
		char *m = NULL;
		int mr = -1;

		pid = start_p2pd(big_fixture, cfg_path, bsock, st, sizeof(st));
		if (pid > 0 && p2p_connect(bsock, &c2) == 0) {
			mr = p2p_matrix_json(c2, true, &m);
			free(m);
			if (mr != -E2BIG || !strstr(p2p_last_message(c2), "check"))
				fail_why("matrix --all of a big tree: %d '%s'", mr,
					 p2p_last_message(c2));
		}
		p2p_disconnect(c2);
		if (pid > 0)
			stop_p2pd(pid);
		CHECK(mr == -E2BIG, "matrix --all of the big tree: %s", why);
	}
	CHECK(n > 0 && len > 4 * P2P_PROTO_CHUNK,
	      "big topology: %d devices, %zu bytes (want > %d: split reply)", n, len,
	      4 * P2P_PROTO_CHUNK);
	CHECK(r == 0, "p2pd on the big tree exited with %d", r);
	printf("  (topology of %d functions: %zu bytes in %zu datagrams)\n", n, len,
	       (len + P2P_PROTO_CHUNK - 1) / P2P_PROTO_CHUNK);
	return 0;
}

/* ---- issue 16 item 5: expensive replies, many connections, one uid ---- */

#define RB_CONNS 25
static char rb_sock[300];
static int rb_go[2], rb_done[2]; /* parent -> child, child -> parent */

static int connect_path(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* As nobody: RB_CONNS connections that each ask for the matrix 4 times and
 * never read; told by the parent when to send and when to close. */
static int rb_flood(void)
{
	int fds[RB_CONNS], n = 0, small = 4096, sent = 0;
	char c;

	for (int i = 0; i < RB_CONNS; i++) {
		fds[n] = connect_path(rb_sock);
		if (fds[n] < 0)
			continue;
		setsockopt(fds[n], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		fcntl(fds[n], F_SETFL, fcntl(fds[n], F_GETFL) | O_NONBLOCK);
		n++;
	}
	CHECK(write(rb_done[1], "c", 1) == 1, "write");
	CHECK(read(rb_go[0], &c, 1) == 1, "read");
	for (int k = 0; k < 4; k++)
		for (int i = 0; i < n; i++)
			sent += raw_req(fds[i], P2P_OP_MATRIX, "{}") == 0;
	CHECK(write(rb_done[1], "s", 1) == 1, "write");
	CHECK(read(rb_go[0], &c, 1) == 1, "read");
	for (int i = 0; i < n; i++)
		close(fds[i]);
	CHECK(n == RB_CONNS && sent == 4 * RB_CONNS, "%d connections, %d requests sent", n, sent);
	return 0;
}

static long proc_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Of uid @uid's connections in a clients reply: how many, how many asked
 * anything, the most requests one asked, and their queued bytes together. */
static int rb_clients(struct p2p_conn *adm, long uid, int *ret_n, int *ret_served,
		      int64_t *ret_maxreq, int64_t *ret_queued)
{
	char *text = NULL;
	struct json_object *o, *arr;
	int r = p2p_admin_clients_json(adm, &text);

	*ret_n = *ret_served = 0;
	*ret_maxreq = *ret_queued = 0;
	if (r < 0)
		return r;
	o = arr = json_tokener_parse(text); /* the "clients" member */
	free(text);
	if (!o || !json_object_is_type(arr, json_type_array)) {
		json_object_put(o);
		return -EBADMSG;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *e = json_object_array_get_idx(arr, i), *v;
		int64_t req = 0, q = 0;

		if (!json_object_object_get_ex(e, "uid", &v) || json_object_get_int64(v) != uid)
			continue;
		(*ret_n)++;
		if (json_object_object_get_ex(e, "requests", &v))
			req = json_object_get_int64(v);
		if (json_object_object_get_ex(e, "queued_bytes", &v))
			q = json_object_get_int64(v);
		else
			q = -1;
		*ret_served += req > 0;
		if (req > *ret_maxreq)
			*ret_maxreq = req;
		*ret_queued = q < 0 || *ret_queued < 0 ? -1 : *ret_queued + q;
	}
	json_object_put(o);
	return 0;
}

/*
 * 25 connections of uid nobody each ask for the matrix of a 600-function
 * tree (megabytes) four times and never read.  p2pd builds the matrix once
 * and shares it (its memory grows by less than one copy, not 25), reads no
 * more requests from a connection whose reply bytes wait (one matrix each),
 * stops reading nobody's connections once the uid has
 * limits.max_queued_bytes_per_uid (16 MiB) queued, and answers root's hello
 * quickly all along.
 */
static int t_reply_bytes(void)
{
	struct p2p_conn *adm = NULL;
	char *m = NULL, st[256], c;
	size_t mlen = 0;
	int64_t worst = 0, maxreq = -1, queued = -1, t_end = 0;
	int n = -1, served = -1, r, hellos = 0, hello_err = 0, n_after = -1;
	long rss0, rss1;
	pid_t pid, child = -1;
	const bool slow = getenv("SAN") && *getenv("SAN"); /* sanitizer build */

	if (!big_fixture || strcmp(big_fixture, "-") == 0) {
		fail_why("no big fixture generated (tests/fixtures/gen-fabric.py missing?)");
		return -1;
	}
	snprintf(rb_sock, sizeof(rb_sock), "%s/rb.sock", tmpdir);
	pid = start_p2pd(big_fixture, cfg_path, rb_sock, st, sizeof(st));
	CHECK(pid > 0, "start p2pd on the big tree: %s", why);
	r = p2p_connect(rb_sock, &adm);
	if (r == 0) {
		/* tens of seconds under ASan on a loaded 2-core machine */
		p2p_conn_set_timeout(adm, slow ? 120000 : 20000);
		r = p2p_matrix_json(adm, false, &m); /* builds it once */
	}
	if (r == 0)
		mlen = strlen(m);
	free(m);
	rss0 = proc_rss_kib(pid);
	if (r == 0 && pipe2(rb_go, O_CLOEXEC) == 0 && pipe2(rb_done, O_CLOEXEC) == 0) {
		child = spawn_as(NOBODY, NOBODY, NOBODY, rb_flood);
		if (child > 0 && read(rb_done[0], &c, 1) == 1 && write(rb_go[1], "g", 1) == 1) {
			struct pollfd pf = {.fd = rb_done[0], .events = POLLIN};

			/* root's hellos while nobody's requests arrive, and 500 ms on */
			while (t_end == 0 || now_ms() < t_end) {
				int64_t t0 = now_ms();

				hello_err += p2p_hello(adm, NULL) != 0;
				hellos++;
				if (now_ms() - t0 > worst)
					worst = now_ms() - t0;
				if (t_end == 0 && poll(&pf, 1, 10) == 1 &&
				    read(rb_done[0], &c, 1) == 1)
					t_end = now_ms() + 500;
				if (hellos > 100000)
					break;
			}
			rss1 = proc_rss_kib(pid);
			int cr = rb_clients(adm, NOBODY, &n, &served, &maxreq, &queued);

			if (cr < 0)
				printf("  (clients: %s)\n", p2p_last_message(adm));
			(void)!write(rb_go[1], "q", 1);
		} else {
			rss1 = -1;
		}
		(void)wait_child(child, "nobody's connections");
		close(rb_go[0]);
		close(rb_go[1]);
		close(rb_done[0]);
		close(rb_done[1]);
		usleep(200000);
		{ /* closing them gave the uid's share back */
			int srv2 = -1;
			int64_t mr2, q2;

			(void)rb_clients(adm, NOBODY, &n_after, &srv2, &mr2, &q2);
		}
	} else {
		rss1 = -1;
	}
	p2p_disconnect(adm);
	stop_p2pd(pid);
	CHECK(r == 0 && mlen > 4 * P2P_PROTO_CHUNK, "matrix of the big tree: %d, %zu bytes", r,
	      mlen);
	CHECK(child > 0 && rss1 > 0, "the nobody child did not run");
	printf("  (matrix %zu bytes; p2pd RSS %ld -> %ld KiB; %d of %d connections served, "
	       "%lld bytes queued; root hello worst %lld ms over %d)\n",
	      mlen, rss0, rss1, served, n, (long long)queued, (long long)worst, hellos);
	CHECK(n == RB_CONNS, "p2pd lists %d of nobody's %d connections", n, RB_CONNS);
	CHECK(queued >= 0, "the clients reply has no queued_bytes");
	CHECK(!rss_checked() || (rss1 - rss0) * 1024 < (long)mlen,
	      "p2pd grew by %ld KiB for %d unread copies of one %zu-byte reply: not shared",
	      rss1 - rss0, served, mlen);
	CHECK(maxreq == 1,
	      "a connection with a matrix unread had %lld requests handled (back-pressure must "
	      "count bytes: 1)",
	      (long long)maxreq);
	CHECK(served >= 1 && (uint64_t)queued <= (16ull << 20) + mlen &&
		  (uint64_t)(served - 1) * (mlen - 8 * P2P_PROTO_MAX_DATAGRAM) < (16ull << 20),
	      "uid nobody: %d connections served, %lld bytes queued: past "
	      "max_queued_bytes_per_uid (16 MiB)",
	      served, (long long)queued);
	CHECK(hello_err == 0 && worst < (slow ? 500 : 100),
	      "root's hello took up to %lld ms (%d errors) while nobody flooded", (long long)worst,
	      hello_err);
	CHECK(n_after == 0, "%d of nobody's connections still listed after they closed", n_after);
	return 0;
}

/* A child that asks for the matrix of the big tree (rb_sock) on its own
 * connection: writes 's' to mo_pipe when about to send, then 'd' for a
 * well-formed reply or 'e'. */
static int mo_pipe[2] = {-1, -1};

static void mo_child(void)
{
	struct p2p_conn *c = NULL;
	char *m = NULL;
	int r = p2p_connect(rb_sock, &c);

	if (r == 0) {
		p2p_conn_set_timeout(c, 60000);
		(void)!write(mo_pipe[1], "s", 1);
		r = p2p_matrix_json(c, false, &m);
	}
	if (r != 0)
		printf("  (matrix client: %s: %s)\n", p2p_strerror(r), c ? p2p_last_message(c) : "");
	fflush(stdout);
	(void)!write(mo_pipe[1], r == 0 && m && strstr(m, "\"rows\"") ? "d" : "e", 1);
	free(m);
	p2p_disconnect(c);
	_exit(0);
}

/* Start mo_child; 0 once it is about to send, -1 otherwise. */
static pid_t mo_start(void)
{
	char ch = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		mo_child();
	if (pid < 0 || read(mo_pipe[0], &ch, 1) != 1 || ch != 's')
		return -1;
	return pid;
}

/*
 * The first matrix of a model (after a start, reload or rescan) is hundreds
 * of ms of verdicts on a 600-function tree: p2pd builds it on a worker
 * thread.  While one connection waits for it, another's hellos are answered
 * (order, not timing: before the fix no hello could be answered before the
 * matrix reply was sent).  A reload in the middle of a build swaps the model
 * under the worker: the waiting client still gets a whole matrix, and
 * p2pd (ASan/valgrind) neither crashes nor reads freed memory.
 */
static int t_matrix_off_loop(void)
{
	struct p2p_conn *adm = NULL;
	char st[256], ch1 = 0, ch2 = 0;
	int r, before = 0, hellos = 0, reload1 = -1, reload2 = -1, hello_after = -1, stopped;
	int64_t worst = 0, t_matrix = 0;
	const bool slow = getenv("SAN") && *getenv("SAN"); /* sanitizer build */
	pid_t pid, child;

	if (!big_fixture || strcmp(big_fixture, "-") == 0) {
		fail_why("no big fixture generated (tests/fixtures/gen-fabric.py missing?)");
		return -1;
	}
	CHECK(pipe2(mo_pipe, O_CLOEXEC) == 0, "pipe: %m");
	snprintf(rb_sock, sizeof(rb_sock), "%s/mo.sock", tmpdir);
	pid = start_p2pd(big_fixture, cfg_path, rb_sock, st, sizeof(st));
	CHECK(pid > 0, "start p2pd on the big tree: %s", why);
	r = p2p_connect(rb_sock, &adm);
	if (r == 0) {
		p2p_conn_set_timeout(adm, 60000);
		/* 1: hellos answered while the matrix is being built */
		child = mo_start();
		t_matrix = now_ms();
		if (child > 0) {
			struct pollfd pf = {.fd = mo_pipe[0], .events = POLLIN};
			int64_t end = now_ms() + 60000;

			while (now_ms() < end && poll(&pf, 1, 0) == 0) {
				int64_t t0 = now_ms();

				if (p2p_hello(adm, NULL) != 0)
					break;
				hellos++;
				/* the matrix reply has not come yet: this hello overtook it */
				if (poll(&pf, 1, 0) == 0) {
					before++;
					if (now_ms() - t0 > worst)
						worst = now_ms() - t0;
				}
				usleep(2000); /* leave the CPU to the build */
			}
			if (read(mo_pipe[0], &ch1, 1) != 1)
				ch1 = 0;
		}
		t_matrix = now_ms() - t_matrix;
		(void)wait_child(child, "matrix client");
		/* 2: a reload while the next model's matrix is built */
		reload1 = p2p_admin_reload(adm);
		child = mo_start();
		if (child > 0) {
			reload2 = p2p_admin_reload(adm); /* swaps the model the worker reads */
			if (read(mo_pipe[0], &ch2, 1) != 1)
				ch2 = 0;
		}
		(void)wait_child(child, "matrix client across a reload");
		hello_after = p2p_hello(adm, NULL);
		p2p_disconnect(adm);
	}
	close(mo_pipe[0]);
	close(mo_pipe[1]);
	stopped = stop_p2pd(pid);
	CHECK(r == 0, "connect: %s", p2p_strerror(r));
	CHECK(ch1 == 'd', "the waiting client got no whole matrix ('%c')", ch1 ? ch1 : '0');
	printf("  (matrix in %lld ms; %d of %d hellos answered before it, worst %lld ms)\n",
	       (long long)t_matrix, before, hellos, (long long)worst);
	/* the loop answers others within 100 ms meanwhile (the issue's bound;
	 * 500 ms under sanitizers): on the loop, the build alone takes longer */
	CHECK(before >= 1 && worst < (slow ? 500 : 100),
	      "hellos while another client's first matrix was built: %d, worst %lld ms", before,
	      (long long)worst);
	CHECK(reload1 == 0 && reload2 == 0, "reloads: %s, %s", p2p_strerror(reload1),
	      p2p_strerror(reload2));
	CHECK(ch2 == 'd', "across a reload the waiting client got no whole matrix ('%c')",
	      ch2 ? ch2 : '0');
	CHECK(hello_after == 0, "p2pd stopped answering after a reload mid-build");
	CHECK(stopped == 0, "p2pd did not exit cleanly after the matrix builds (%d)", stopped);
	return 0;
}

/* Read one whole reply (all its datagrams) on raw @fd: its concatenated JSON
 * in @buf (NUL-terminated); the header of its first datagram in *ret_hdr.
 * Returns the JSON's length, 0 on EOF before any datagram, -1 otherwise. */
static long raw_recv_whole(int fd, int timeout, char *buf, size_t len, struct p2p_msg_hdr *ret_hdr)
{
	static char dg[P2P_PROTO_MAX_DATAGRAM + 16];
	struct p2p_msg_hdr h;
	size_t off = 0;

	for (int first = 1;; first = 0) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, timeout) != 1)
			return -1;
		n = recv(fd, dg, sizeof(dg), 0);
		if (n == 0 && first)
			return 0;
		if (n < (ssize_t)sizeof(h))
			return -1;
		memcpy(&h, dg, sizeof(h));
		if (first && ret_hdr)
			*ret_hdr = h;
		if (off + (size_t)n - sizeof(h) >= len)
			return -1;
		memcpy(buf + off, dg + sizeof(h), (size_t)n - sizeof(h));
		off += (size_t)n - sizeof(h);
		if (!(h.flags & P2P_FLAG_MORE))
			break;
	}
	buf[off] = '\0';
	return (long)off;
}

/*
 * Waiters of the first matrix of a model (built on a worker thread): one that
 * goes away before it is built is skipped, the other gets the whole matrix;
 * one still waiting when p2pd is told to stop gets ECANCELED "p2pd is
 * stopping", then EOF, and p2pd exits cleanly.  p2pd is stopped (SIGSTOP)
 * while the requests are queued, so it reads them together.
 */
static int t_matrix_waiters(void)
{
	static char out[16 << 20];
	char msock[300], saved[300], req[64], *m = NULL;
	uint64_t bid = 0;
	struct p2p_msg_hdr h = {0};
	int a = -1, b = -1, c = -1, bad = 1, st;
	bool stopped = false; /* told to stop already: no second SIGTERM */
	long n;
	pid_t pid;

	if (!big_fixture || strcmp(big_fixture, "-") == 0) {
		fail_why("no big fixture generated (tests/fixtures/gen-fabric.py missing?)");
		return -1;
	}
	snprintf(msock, sizeof(msock), "%s/mw.sock", tmpdir);
	pid = start_p2pd(big_fixture, cfg_path, msock, NULL, 0);
	CHECK(pid > 0, "start p2pd on the big tree: %s", why);
	snprintf(saved, sizeof(saved), "%s", sock_path);
	snprintf(sock_path, sizeof(sock_path), "%s", msock);
	a = raw_ready();
	b = raw_ready();
	c = raw_ready();
	snprintf(sock_path, sizeof(sock_path), "%s", saved);
	if (a < 0 || b < 0 || c < 0) {
		fail_why("connect");
		goto out;
	}
	/* A and B ask; B, owner of a buffer, hangs up while it waits: p2pd notices
	 * when it tells B of that buffer's revoke (owner_notified false) */
	if (raw_alloc(b, &bid) < 0 || raw_req(c, P2P_OP_HELLO, "{\"version\":1}") < 0 ||
	    raw_recv_whole(c, 5000, out, sizeof(out), &h) <= 0 || p2pd_freeze(pid) < 0) {
		fail_why("B's buffer, or the freeze");
		goto out;
	}
	raw_req(a, P2P_OP_MATRIX, "{\"all\":false}");
	raw_req(b, P2P_OP_MATRIX, "{\"all\":false}");
	kill(pid, SIGCONT);
	/* both wait now (read in one turn of the loop, before C's hello); B goes,
	 * and C, an admin, revokes B's buffer */
	if (raw_req(c, P2P_OP_HELLO, "{\"version\":1}") < 0 ||
	    raw_recv_whole(c, 5000, out, sizeof(out), &h) <= 0) {
		fail_why("hello while the matrix is built");
		goto out;
	}
	close(b);
	b = -1;
	snprintf(req, sizeof(req), "{\"id\":%llu}", (unsigned long long)bid);
	n = raw_req(c, P2P_OP_REVOKE, req) < 0 ? -1 : raw_recv_whole(c, 5000, out, sizeof(out), &h);
	if (n <= 0 || !strstr(out, "\"owner_notified\":false") || !strstr(out, "\"ok\":true")) {
		fail_why("revoke of the buffer of a waiter that hung up: %.200s", n > 0 ? out : "");
		goto out;
	}
	n = raw_recv_whole(a, 60000, out, sizeof(out), &h);
	if (n <= 0 || h.opcode != P2P_OP_MATRIX || !strstr(out, "\"rows\"")) {
		fail_why("the matrix waiter beside one that left got %ld bytes: %.200s", n,
			 n > 0 ? out : "");
		goto out;
	}
	/* a reload retires the shared matrix: C's request starts a new build,
	 * and p2pd is told to stop before it is done */
	{
		struct p2p_conn *adm = NULL;
		int r = p2p_connect(msock, &adm);

		if (r == 0)
			r = p2p_admin_reload(adm);
		p2p_disconnect(adm);
		if (r != 0) {
			fail_why("reload: %s", p2p_strerror(r));
			goto out;
		}
	}
	if (raw_req(c, P2P_OP_HELLO, "{\"version\":1}") < 0 ||
	    raw_recv_whole(c, 5000, out, sizeof(out), &h) <= 0 || p2pd_freeze(pid) < 0) {
		fail_why("hello before the stop");
		goto out;
	}
	raw_req(c, P2P_OP_MATRIX, "{\"all\":false}");
	kill(pid, SIGTERM);
	kill(pid, SIGCONT);
	n = raw_recv_whole(c, 60000, out, sizeof(out), &h);
	if (n <= 0 || !strstr(out, "\"ECANCELED\"") || !strstr(out, "p2pd is stopping")) {
		fail_why("a matrix waiter at SIGTERM got %ld bytes: %.200s", n, n > 0 ? out : "");
		goto out;
	}
	n = raw_recv_whole(c, 60000, out, sizeof(out), &h);
	if (n != 0) {
		fail_why("no EOF after ECANCELED (%ld)", n);
		goto out;
	}
	stopped = true;
	bad = 0;
out:
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	if (c >= 0)
		close(c);
	free(m);
	st = stopped ? wait_exit(pid) : stop_p2pd(pid);
	if (!bad && st != 0) {
		fail_why("p2pd exit status %d", st);
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* ---- issue 16 classes: half-closed clients, caps against RLIMIT_NOFILE ---- */

/*
 * A client asks twice for the topology of the big tree and once for hello,
 * then shuts down its sending side: all three replies still come, whole,
 * then EOF.
 */
static int t_half_close(void)
{
	char hsock[300], st[256];
	static char buf[P2P_PROTO_MAX_DATAGRAM + 16];
	size_t topo = 0, want = 0;
	int fd = -1, dgrams = 0, hello = 0, eof = 0, other = 0;
	int64_t deadline;
	pid_t pid;

	if (!big_fixture || strcmp(big_fixture, "-") == 0) {
		fail_why("no big fixture generated (tests/fixtures/gen-fabric.py missing?)");
		return -1;
	}
	snprintf(hsock, sizeof(hsock), "%s/hc.sock", tmpdir);
	pid = start_p2pd(big_fixture, cfg_path, hsock, st, sizeof(st));
	CHECK(pid > 0, "start p2pd on the big tree: %s", why);
	{
		struct p2p_conn *c = NULL;
		char *text = NULL;

		if (p2p_connect(hsock, &c) == 0 && p2p_topology_json(c, &text) == 0)
			want = 2 * (strlen(text) + strlen("{\"topology\":,\"ok\":true}"));
		free(text);
		p2p_disconnect(c);
	}
	fd = connect_path(hsock);
	/* p2pd reads all three (no back-pressure yet) and then the EOF, while
	 * most of the replies still wait in its queue: nothing is read yet */
	if (fd >= 0 && raw_req(fd, P2P_OP_TOPOLOGY, "{}") == 0 &&
	    raw_req(fd, P2P_OP_TOPOLOGY, "{}") == 0 &&
	    raw_req(fd, P2P_OP_HELLO, "{\"version\":1}") == 0 && shutdown(fd, SHUT_WR) == 0) {
		usleep(500000);
		deadline = now_ms() + 30000;
		while (!eof && now_ms() < deadline) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			struct p2p_msg_hdr h;
			ssize_t n;

			if (poll(&p, 1, 1000) <= 0)
				continue;
			n = recv(fd, buf, sizeof(buf), 0);
			if (n <= 0) {
				eof = 1;
				break;
			}
			memcpy(&h, buf, sizeof(h));
			if (h.opcode == P2P_OP_TOPOLOGY) {
				topo += h.len;
				dgrams++;
			} else if (h.opcode == P2P_OP_HELLO) {
				hello++;
			} else {
				other++;
			}
		}
	}
	if (fd >= 0)
		close(fd);
	usleep(100000);
	{
		int n = count_fds(pid);
		int s2 = stop_p2pd(pid);

		CHECK(s2 == 0, "p2pd exited %d", s2);
		CHECK(n > 0, "count fds");
	}
	CHECK(fd >= 0, "connect");
	printf("  (after SHUT_WR: %zu topology bytes in %d datagrams, %d hello, eof %d)\n", topo,
	       dgrams, hello, eof);
	CHECK(want > 4 * P2P_PROTO_CHUNK && topo == want && hello == 1 && other == 0,
	      "a half-closed client got %zu of %zu topology bytes, %d hello replies (want all "
	      "and 1)",
	      topo, want, hello);
	CHECK(eof, "no EOF after the replies: the half-closed connection stays open");
	return 0;
}

/*
 * p2pd started with RLIMIT_NOFILE 96 and max_connections 1100: it says so at
 * start and lowers the cap, so the connections past it get EUSERS at once
 * instead of waiting unanswered in the backlog behind accept()'s EMFILE.
 */
static int t_nofile_caps(void)
{
	enum { N = 80 };
	char rsock[300], st[256];
	int fds[N], n = 0, answered = 0, refused = 0, silent = 0, lines, r;
	char *reload_code = NULL;
	pid_t pid;

	snprintf(rsock, sizeof(rsock), "%s/rl.sock", tmpdir);
	lines = count_log_lines("does not fit RLIMIT_NOFILE");
	p2pd_nofile = 96;
	pid = start_p2pd(fixture, cfg_path, rsock, st, sizeof(st));
	p2pd_nofile = 0;
	CHECK(pid > 0, "start p2pd with RLIMIT_NOFILE 96: %s", why);
	lines = count_log_lines("does not fit RLIMIT_NOFILE") - lines;
	for (int i = 0; i < N; i++)
		if ((fds[n] = connect_path(rsock)) >= 0)
			n++;
	usleep(300000);
	for (int i = 0; i < n && silent < 3; i++) {
		struct json_object *o = NULL;
		const char *code;

		(void)raw_req(fds[i], P2P_OP_HELLO, "{\"version\":1}");
		if (raw_recv(fds[i], 1500, &o, NULL) != 1) {
			silent++;
			continue;
		}
		code = jget(o, "code");
		if (code && !strcmp(code, "EUSERS"))
			refused++;
		else if (!code)
			answered++;
		json_object_put(o);
	}
	if (answered > 0) {
		/* a reload with every slot taken: the cap counts p2pd's own
		 * descriptors, not its client connections (it did, and refused) */
		struct json_object *o = NULL;

		(void)raw_req(fds[0], P2P_OP_RELOAD, "{}");
		if (raw_recv(fds[0], 5000, &o, NULL) == 1)
			reload_code = jget(o, "code") ? strdup(jget(o, "code")) : strdup("");
		json_object_put(o);
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
	stop_p2pd(pid);
	printf("  (RLIMIT_NOFILE 96: %d of %d connections answered, %d refused, %d silent; "
	       "reload with them open: %s)\n",
	       answered, n, refused, silent,
	       reload_code ? (*reload_code ? reload_code : "ok") : "no answer");
	CHECK(lines == 1, "%d log lines saying max_connections does not fit RLIMIT_NOFILE", lines);
	CHECK(silent == 0 && answered + refused == n && answered > 0 && refused > 0,
	      "of %d connections %d answered, %d refused, %d left unanswered", n, answered,
	      refused, silent);
	r = reload_code && !*reload_code;
	free(reload_code);
	CHECK(r, "reload with %d connections open was not answered ok", answered);

	/* so little that not one client fits beside p2pd's own descriptors and
	 * the spare: it refuses to start and says what to raise */
	lines = count_log_lines("no client connection fits (raise LimitNOFILE=)");
	p2pd_nofile = 40;
	pid = start_p2pd(fixture, cfg_path, rsock, st, sizeof(st));
	p2pd_nofile = 0;
	if (pid > 0)
		stop_p2pd(pid);
	lines = count_log_lines("no client connection fits (raise LimitNOFILE=)") - lines;
	CHECK(pid <= 0 && lines == 1,
	      "with RLIMIT_NOFILE 40 p2pd %s and logged %d refusal lines (want: no start, 1)",
	      pid > 0 ? "started" : "did not start", lines);
	return 0;
}

/* "using N" of the last 'does not fit RLIMIT_NOFILE' log line, -1 if none */
static long log_nofile_cap(void)
{
	FILE *f = fopen(log_path, "re");
	char line[1024], *p;
	long n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "does not fit RLIMIT_NOFILE") && (p = strstr(line, "): using ")))
			n = strtol(p + 9, NULL, 10);
	fclose(f);
	return n;
}

/*
 * reserved_admin_connections 900 of max_connections 1000, and RLIMIT_NOFILE
 * leaves room for 12 connections: max_connections becomes 12 and the admins'
 * reserve a quarter of it (3), not all of it: nobody gets 9 connections, the
 * rest are refused as reserved for admins, and root still connects.
 */
static int t_reserved_lowered(void)
{
	char rsock[300], rcfg[300], text[1024], saved[300];
	long cap96, cap;
	rlim_t nofile;
	pid_t pid, child = -1;
	int r = -1;

	snprintf(rsock, sizeof(rsock), "%s/resv.sock", tmpdir);
	snprintf(rcfg, sizeof(rcfg), "%s/resv.json", tmpdir);
	snprintf(
	    text, sizeof(text),
	    "{ \"version\": 1,\n"
	    "  \"socket\": { \"path\": \"%s\", \"mode\": \"0660\", \"group\": \"nogroup\" },\n"
	    "  \"limits\": { \"max_connections\": 1000, \"max_connections_per_uid\": 1000,\n"
	    "              \"reserved_admin_connections\": 900 },\n"
	    "  \"rules\": [ { \"uid\": 0, \"devices\": [\"*\"], \"types\": [\"memfd\"] } ] }\n",
	    rsock);
	CHECK(write_file(rcfg, text) == 0, "write %s", rcfg);
	/* how many descriptors p2pd keeps for itself here: room at 96 */
	p2pd_nofile = 96;
	pid = start_p2pd(fixture, rcfg, rsock, NULL, 0);
	p2pd_nofile = 0;
	CHECK(pid > 0, "start p2pd with RLIMIT_NOFILE 96: %s", why);
	cap96 = log_nofile_cap();
	stop_p2pd(pid);
	CHECK(cap96 > 12 && cap96 < 96, "RLIMIT_NOFILE 96: max_connections lowered to %ld", cap96);
	nofile = (rlim_t)(96 - cap96 + 12);
	p2pd_nofile = nofile;
	pid = start_p2pd(fixture, rcfg, rsock, NULL, 0);
	p2pd_nofile = 0;
	CHECK(pid > 0, "start p2pd with RLIMIT_NOFILE %llu: %s", (unsigned long long)nofile, why);
	cap = log_nofile_cap();
	snprintf(saved, sizeof(saved), "%s", sock_path);
	snprintf(sock_path, sizeof(sock_path), "%s", rsock);
	if (cap == 12 && pipe2(slots_go, O_CLOEXEC) == 0) {
		if (pipe2(slots_done, O_CLOEXEC) == 0) {
			child = slots_spawn(NOBODY, 12);
			r = still_serving(); /* root, in a reserved slot */
			(void)!write(slots_go[1], "x", 1);
			(void)wait_child(child, "nobody");
			close(slots_done[0]);
			close(slots_done[1]);
		}
		close(slots_go[0]);
		close(slots_go[1]);
	}
	snprintf(sock_path, sizeof(sock_path), "%s", saved);
	stop_p2pd(pid);
	unlink(rcfg);
	CHECK(cap == 12, "RLIMIT_NOFILE %llu: max_connections lowered to %ld, not 12",
	      (unsigned long long)nofile, cap);
	CHECK(slots_ok == 9 && slots_refused == 3 && strstr(slots_msg, "reserved for admins"),
	      "nobody with 12 slots, a quarter reserved: %d served, %d refused (want 9, 3): '%s'",
	      slots_ok, slots_refused, slots_msg);
	CHECK(r == 0, "root could not connect beside nobody's 9: %s", why);
	return 0;
}

/* RLIMIT_NOFILE lowered under a running p2pd (prlimit) until not one client
 * fits: a reload is refused, saying what to raise, and the old configuration
 * stays in force; with the limit back, a reload succeeds. */
static int t_reload_nofile_shrunk(void)
{
	char psock[300];
	struct rlimit low = {.rlim_cur = 24, .rlim_max = 4096}, back = {4096, 4096};
	struct p2p_conn *c = NULL;
	char m[512] = "";
	int r1 = -1, r2 = -1, h = -1, pr;
	pid_t pid;

	snprintf(psock, sizeof(psock), "%s/prl.sock", tmpdir);
	p2pd_nofile = 4096;
	pid = start_p2pd(fixture, cfg_path, psock, NULL, 0);
	p2pd_nofile = 0;
	CHECK(pid > 0, "start: %s", why);
	if (p2p_connect(psock, &c) == 0) {
		pr = prlimit(pid, RLIMIT_NOFILE, &low, NULL);
		r1 = p2p_admin_reload(c);
		snprintf(m, sizeof(m), "%s", p2p_last_message(c));
		h = p2p_hello(c, NULL);
		if (pr == 0)
			prlimit(pid, RLIMIT_NOFILE, &back, NULL);
		r2 = p2p_admin_reload(c);
	} else {
		pr = -1;
	}
	p2p_disconnect(c);
	CHECK(stop_p2pd(pid) == 0, "p2pd did not exit cleanly");
	CHECK(pr == 0, "prlimit: %m");
	CHECK(r1 < 0 && strstr(m, "RLIMIT_NOFILE is 24") && strstr(m, "raise LimitNOFILE="),
	      "reload with RLIMIT_NOFILE 24: %d '%s'", r1, m);
	CHECK(h == 0, "hello after the refused reload: %d", h);
	CHECK(r2 == 0, "reload with RLIMIT_NOFILE back at 4096: %d", r2);
	return 0;
}

/* ---- issue 16: a soak of everything above while a normal client works ---- */

static int64_t soak_end;
static int soak_seed;

/* root: allocate, map, write, unmap, close, release, again; every one must
 * work, each within a second */
static int soak_normal(void)
{
	struct p2p_conn *c = conn_open();
	struct p2p_alloc_req req = {.size = 64 << 10, .types = P2P_BUF_MEMFD};
	struct p2p_buffer_info info;
	int64_t worst = 0;
	int n = 0, fd;

	CHECK(c, "connect");
	while (now_ms() < soak_end) {
		int64_t t0 = now_ms();
		int r = p2p_alloc(c, &req, &info, &fd, NULL);
		void *m;

		CHECK(r == 0, "normal client: alloc %d failed: %d (%s)", n, r, p2p_last_message(c));
		m = mmap(NULL, req.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		CHECK(m != MAP_FAILED, "mmap: %m");
		((volatile char *)m)[0] = 1;
		munmap(m, req.size);
		close(fd);
		CHECK(p2p_release(c, info.id) == 0, "release: %s", p2p_last_message(c));
		if (now_ms() - t0 > worst)
			worst = now_ms() - t0;
		n++;
	}
	p2p_disconnect(c);
	printf("  (soak: the normal client did %d alloc/map/release rounds, worst %lld ms)\n", n,
	       (long long)worst);
	CHECK(n > 20, "only %d rounds", n);
	CHECK(worst < 1000, "one round took %lld ms", (long long)worst);
	return 0;
}

/* nobody: every kind of rude client, in turn, as fast as it goes */
static int soak_rude(void)
{
	static const char trunc[3] = {1, 2, 3};
	int i = soak_seed, p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	while (now_ms() < soak_end) {
		int fd = raw_connect(), bfd = -1, small = 4096;
		struct p2p_conn *c;
		struct p2p_buffer_info info;
		struct p2p_alloc_req req = nobody_req(4096);
		char buf[256];

		if (fd < 0) {
			usleep(10000);
			continue;
		}
		switch (i++ % 7) {
		case 0: /* disconnect mid-request */
			(void)raw_req(fd, P2P_OP_ALLOC, "{\"size\":4096,\"types\":[\"memfd\"]}");
			break;
		case 1: /* asks for the topology, never reads */
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
			for (int k = 0; k < 20; k++)
				(void)raw_req(fd, P2P_OP_TOPOLOGY, "{}");
			usleep(20000);
			break;
		case 2: /* a truncated datagram */
			(void)!send(fd, trunc, sizeof(trunc), MSG_NOSIGNAL);
			(void)!recv(fd, buf, sizeof(buf), 0);
			break;
		case 3: /* an fd attached to a request */
			(void)send_fds(fd, &p[0], 1);
			(void)!recv(fd, buf, sizeof(buf), 0);
			break;
		case 4: /* alloc, release, keep the fd a while, then go */
			close(fd);
			fd = -1;
			if (p2p_connect(sock_path, &c) == 0) {
				if (p2p_alloc(c, &req, &info, &bfd, NULL) == 0)
					(void)p2p_release(c, info.id);
				p2p_disconnect(c);
			}
			usleep(5000);
			if (bfd >= 0)
				close(bfd);
			break;
		case 5: /* half-closed with replies due */
			(void)raw_req(fd, P2P_OP_TOPOLOGY, "{}");
			(void)raw_req(fd, P2P_OP_HELLO, "{\"version\":1}");
			shutdown(fd, SHUT_WR);
			(void)!recv(fd, buf, sizeof(buf), 0);
			break;
		case 6: /* garbage JSON, then gone */
			(void)raw_req(fd, P2P_OP_CHECK, "{\"provider\":[[[[[[1]]]]]]");
			(void)!recv(fd, buf, sizeof(buf), 0);
			break;
		}
		if (fd >= 0)
			close(fd);
	}
	close(p[0]);
	close(p[1]);
	CHECK(i - soak_seed > 50, "a rude client got through only %d rounds", i - soak_seed);
	if (getenv("ITEST_VERBOSE"))
		printf("  (soak: uid %u did %d rude rounds)\n", (unsigned)getuid(), i - soak_seed);
	return 0;
}

static int soak_run(int seconds, int *ret_failed)
{
	pid_t kids[4];
	int failed = 0;

	soak_end = now_ms() + seconds * 1000;
	for (int k = 0; k < 3; k++) {
		soak_seed = k * 3;
		kids[k] = spawn_as(k == 2 ? NOBODY2 : NOBODY, NOBODY, NOBODY, soak_rude);
	}
	kids[3] = fork();
	if (kids[3] == 0)
		_exit(soak_normal() == 0 ? 0 : (printf("  (soak normal: %s)\n", why), 1));
	for (int k = 0; k < 4; k++)
		if (wait_child(kids[k], k == 3 ? "normal client" : "rude client") < 0)
			failed++;
	*ret_failed = failed;
	return 0;
}

/*
 * 15 s of rude clients of two uids (disconnects mid-request, never-read
 * topology floods, truncated datagrams, fds attached, released buffers held,
 * half-closes, garbage) while root keeps allocating: root is always served,
 * and afterwards p2pd holds the same fds, no buffers, and no more memory
 * than before (a short warm-up first, so the baseline has its caches).
 */
static int t_soak(void)
{
	long rss0, rss1;
	int fds0, fds1, failed = 0;
	int64_t bufs = -1;
	struct p2p_conn *adm;

	soak_run(3, &failed);
	CHECK(failed == 0, "warm-up: %s", why);
	usleep(500000);
	fds0 = count_fds(p2pd_pid);
	rss0 = proc_rss_kib(p2pd_pid);
	soak_run(15, &failed);
	CHECK(failed == 0, "soak: %s", why);
	usleep(1000000); /* held buffers go as their fds close */
	fds1 = count_fds(p2pd_pid);
	rss1 = proc_rss_kib(p2pd_pid);
	adm = conn_open();
	CHECK(adm, "connect");
	{
		char *text = NULL;
		struct json_object *o, *v;

		if (p2p_admin_stats_json(adm, &text) == 0 && (o = json_tokener_parse(text))) {
			if (json_object_object_get_ex(o, "buffers", &v))
				bufs = json_object_get_int64(v);
			json_object_put(o);
		}
		free(text);
	}
	p2p_disconnect(adm);
	printf("  (soak: p2pd fds %d -> %d, RSS %ld -> %ld KiB, %lld buffers left)\n", fds0, fds1,
	       rss0, rss1, (long long)bufs);
	CHECK(fds1 == fds0, "p2pd holds %d fds after the soak, %d before", fds1, fds0);
	CHECK(bufs == 0, "%lld buffers still accounted after every client left", (long long)bufs);
	CHECK(!rss_checked() || rss1 - rss0 < 2048, "p2pd's RSS grew by %ld KiB during the soak",
	      rss1 - rss0);
	return still_serving();
}

static int t_socket_activation(void)
{
	char sa_sock[300], out[4096];
	struct p2p_conn *c = NULL;
	struct p2p_hello_info hi;
	pid_t pid;
	int r = -1, st;
	int64_t deadline;

	if (access("/usr/bin/systemd-socket-activate", X_OK) != 0 &&
	    access("/bin/systemd-socket-activate", X_OK) != 0) {
		fail_why("systemd-socket-activate not installed (package systemd)");
		return -1;
	}
	snprintf(sa_sock, sizeof(sa_sock), "%s/sa.sock", tmpdir);
	pid = fork();
	if (pid == 0) {
		int lf = open(log_path, O_WRONLY | O_APPEND | O_CLOEXEC);

		if (lf >= 0) {
			dup2(lf, 1);
			dup2(lf, 2);
		}
		execlp("systemd-socket-activate", "systemd-socket-activate", "--seqpacket",
		       "--fdname=p2pd", "-l", sa_sock, p2pd_bin, "--log", "stderr", "--no-gpu",
		       "--fsroot", fixture, "--config", cfg_path, (char *)NULL);
		_exit(127);
	}
	deadline = now_ms() + 10000;
	while (now_ms() < deadline && access(sa_sock, F_OK) != 0)
		usleep(20000);
	r = p2p_connect(sa_sock, &c);
	if (r == 0) {
		p2p_conn_set_timeout(c, 10000);
		r = p2p_hello(c, &hi);
	}
	p2p_disconnect(c);
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	CHECK(r == 0, "hello through a socket-activated p2pd: %s", p2p_strerror(r));
	/* p2pd must have used the passed fd, not bound its own */
	{
		FILE *f = fopen(log_path, "re");
		bool seen = false;

		while (f && fgets(out, sizeof(out), f))
			if (strstr(out, "socket activation: fd 3 (p2pd)"))
				seen = true;
		if (f)
			fclose(f);
		CHECK(seen, "p2pd did not log that it took the activated socket");
	}
	return 0;
}

/* ---- main ---- */

static int baseline_fds = -1;

static int t_no_leaks(void)
{
	int n = -1;

	for (int i = 0; i < 50; i++) { /* disconnects are processed asynchronously */
		n = count_fds(p2pd_pid);
		if (n == baseline_fds)
			break;
		usleep(100000);
	}
	CHECK(n == baseline_fds, "p2pd has %d fds, %d at start", n, baseline_fds);
	return 0;
}

static int t_sigterm(void)
{
	char line[512];
	FILE *f;
	int st;
	bool san = false;
	char note[1024];

	drain_notify();
	st = stop_p2pd(p2pd_pid);
	p2pd_pid = -1;
	CHECK(st == 0, "p2pd exit status %d after SIGTERM", st);
	collect_notify(note, sizeof(note));
	CHECK(strstr(note, "STOPPING=1"), "no STOPPING=1 notification: '%s'", note);
	CHECK(access(sock_path, F_OK) != 0, "socket %s left behind", sock_path);
	f = fopen(log_path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "Sanitizer") || strstr(line, "runtime error:"))
			san = true;
	if (f)
		fclose(f);
	CHECK(!san, "sanitizer report in %s", log_path);
	return 0;
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/p2pd-itest.XXXXXX";
	int rc;

	if (argc < 4) {
		fprintf(stderr, "usage: itest P2PD P2PCTL FIXTURE_ROOT [BIG_FIXTURE|-]\n");
		return 2;
	}
	p2pd_bin = argv[1];
	p2pctl_bin = argv[2];
	fixture = argv[3];
	big_fixture = argc > 4 ? argv[4] : NULL;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (getuid() != 0) {
		printf("FAIL - setup: the integration tier needs root (to drop to uid %d)\n",
		       NOBODY);
		printf("itest: 0 passed, 1 failed\n");
		return 1;
	}
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	chmod(tmpdir, 0755);
	snprintf(sock_path, sizeof(sock_path), "%s/p2pd.sock", tmpdir);
	snprintf(cfg_path, sizeof(cfg_path), "%s/p2pd.json", tmpdir);
	snprintf(log_path, sizeof(log_path), "%s/p2pd.log", tmpdir);
	snprintf(notify_path, sizeof(notify_path), "%s/notify", tmpdir);
	if (write_config(cfg_path, 4, 1100) < 0) {
		perror("config");
		return 1;
	}
	chmod(cfg_path, 0644);
	p2pd_pid = start_p2pd(fixture, cfg_path, sock_path, ready_status, sizeof(ready_status));
	if (p2pd_pid < 0) {
		printf("FAIL - start p2pd: %s\n", why);
		printf("itest: 0 passed, 1 failed\n");
		return 1;
	}
	/* settle (sd_notify's socket closes after READY=1 is sent) */
	(void)still_serving();
	usleep(300000);
	baseline_fds = count_fds(p2pd_pid);

	run_test("readiness via NOTIFY_SOCKET (READY=1, STATUS=, MAINPID=)", t_readiness);
	run_test("hello: version, SO_PEERCRED, admin", t_hello);
	run_test("hello with a wrong version in JSON", t_wrong_version_json);
	run_test("topology of the fixture", t_topology);
	run_test("check: verdict and unknown device", t_check);
	run_test("matrix --all", t_matrix);
	run_test("alloc memfd: size, seals, data across processes, list, release", t_alloc_memfd);
	run_test("release_nowait: pipelined, >64 in flight, errors reported later", t_release_nowait);
	run_test("release-noreply: success unanswered, errors keep opcode and id, sync barrier, "
		 "libp2pclient flush/next nowait, 3000 unread failures",
		 t_release_noreply);
	run_test("host buffers are typed truthfully for this machine", t_alloc_host_truthful);
	run_test("host buffers over udmabuf's size limit fall back to dma-heap", t_host_fallback);
	run_test("p2p without p2pbroker.ko, unknown peer", t_alloc_p2p_without_kmod);
	run_test("disconnect frees the accounting", t_disconnect_frees);
	run_test("p2pctl online: status, alloc, topo, check, revoke", t_p2pctl);
	run_test("unprivileged uid: admin ops, devices, types, quotas", t_unprivileged);
	run_test("second uid: a uid rule matches the uid, never the gid", t_uid_rule_not_gid);
	run_test("second uid: cannot release another uid's buffer", t_release_other_uid);
	run_test("byte quota: a release gives the bytes back, exactly", t_release_bytes);
	run_test("back-pressure: exactly max_pending_per_client replies queued", t_backpressure_exact);
	run_test("libp2pclient vs a scripted daemon: stale replies, events, chunks, errors, fds, "
		 "silence, oversized/garbage/truncated/endless replies, a size the fd lacks",
		 t_client_library_fake_daemon);
	run_test("libp2pclient: argument checks and messages", t_client_library_args);
	run_test("p2pd command line: help, bad options, --check-config, unbindable socket", t_p2pd_cli);
	run_test("socket path: live p2pd, busy listener, regular file, stale socket; setup errors",
		 t_socket_path_rules);
	run_test("start-up failures: config path too long, bad config, device tree not a "
		 "directory; --check-config defaults",
		 t_startup_failures);
	run_test("socket activation: a passed pipe is closed, a bad LISTEN_FDS said; own socket "
		 "bound",
		 t_socket_activation_bad);
	run_test("a soft RLIMIT_NOFILE below the hard one is raised at start",
		 t_nofile_soft_raised);
	run_test("check with the live kernel verdict asked for", t_check_kernel_live);
	run_test("an admin revoking its own buffer gets the event", t_revoke_own);
	run_test("revoke tells the owner", t_revoke);
	run_test("two revokes of one buffer at once: one runs, one EINPROGRESS, one event",
		 t_revoke_in_progress);
	run_test("the owner releases its buffer while its revoke is queued: both answered, no "
		 "event",
		 t_revoke_released_meanwhile);
	run_test("an owner not reading while an admin REVOKEs 5500 of its buffers: dropped when "
		 "its queue is full, the rest freed",
		 t_owner_queue_full);
	run_test("reload: good config, bad config, SIGHUP", t_reload);
	run_test("bad input: truncated datagram", t_bad_truncated);
	run_test("bad input: oversized datagram", t_bad_oversized);
	run_test("bad input: wrong header version", t_bad_version);
	run_test("bad input: length mismatch, reserved and reply flags", t_bad_length_flags);
	run_test("bad input: opcodes, non-JSON, wrong types, unknown keys, huge numbers",
		 t_bad_opcode_json);
	run_test("bad input: names with control characters or invalid UTF-8", t_bad_names);
	run_test("bad input: an fd sent by the client is closed", t_bad_fd_sent);
	run_test("bad input: MSG_CTRUNC", t_bad_ctrunc);
	run_test("a client that never reads", t_never_reads);
	run_test("1000 connections at once", t_thousand);
	run_test("clients killed mid-request", t_killed_mid_request);
	run_test("max_connections", t_connection_limit);
	run_test("byte quota checks the page-rounded size (issue 16/6)", t_quota_page_round);
	run_test("quota held: released buffers count until fds and mappings are gone (issue 16/6)",
		 t_quota_held);
	run_test("nobody holding every slot does not lock out root (issue 16/4)", t_admin_slots);
	run_test("a silent connection is closed after idle_timeout (issue 16/4)", t_idle_timeout);
	run_test("accept() with descriptors exhausted: no spin, bounded log (issue 16)",
		 t_accept_emfile);
	/* not named so the valgrind run picks it (its RSS is valgrind's) */
	run_test("soak: rude clients of two uids beside a working root client; no fd, buffer or "
		 "memory growth (issue 16)",
		 t_soak);
	run_test("no fds leaked in p2pd", t_no_leaks);
	run_test("split replies: topology of a big tree; its matrix refused", t_big_topology);
	run_test("expensive replies: shared, byte back-pressure, per-uid bound (issue 16/5)",
		 t_reply_bytes);
	run_test("first matrix of a model built off the loop, model swapped mid-build (issue 16/5)",
		 t_matrix_off_loop);
	run_test("matrix waiters: one that hung up is skipped, one left at a stop gets ECANCELED",
		 t_matrix_waiters);
	run_test("half-closed client: its replies still come whole, then EOF (issue 16)",
		 t_half_close);
	run_test("max_connections lowered to fit RLIMIT_NOFILE, excess refused (issue 16)",
		 t_nofile_caps);
	run_test("connection cap lowered to fit RLIMIT_NOFILE: the admins' reserve becomes a "
		 "quarter of it", t_reserved_lowered);
	run_test("RLIMIT_NOFILE shrunk under a running p2pd: a config swap is refused, the old "
		 "config stays",
		 t_reload_nofile_shrunk);
	run_test("WATCHDOG=1 when WATCHDOG_USEC is set", t_watchdog);
	run_test("no PCI under the sysfs root: host buffers only, ENODEV for the rest", t_no_pci);
	run_test("--cpu, -v, --log auto: a Zen verdict, debug lines naming the buffer",
		 t_cpu_verbose);
	run_test("a config swap while the matrix is built: answered at once, the matrix whole",
		 t_reload_during_matrix);
	run_test("SIGTERM with undelivered replies: bounded drain, clean exit", t_sigterm_drain);
	run_test("SIGTERM with replies queued: p2pd exits once its client read them all, or "
		 "closed",
		 t_sigterm_drained);
	run_test("PCI hotplug: a kernel uevent triggers a rescan", t_hotplug);
	run_test("PCI hotplug on a fixture as /sys: a failed rescan keeps the topology, "
		 "no PCI left is 0 functions",
		 t_hotplug_fixture);
	run_test("--log journal: structured fields", t_journal);
	run_test("socket activation via systemd-socket-activate", t_socket_activation);
	run_test("SIGTERM: clean exit, socket removed, no sanitizer report", t_sigterm);
	run_test("SIGTERM repeated while p2pd stops: never killed by it, exit 0", t_sigterm_repeated);

	/* t_sigterm stops the shared p2pd; not run (ITEST_ONLY) or failed: */
	if (p2pd_pid > 0 && waitpid(p2pd_pid, NULL, WNOHANG) == 0) {
		kill(p2pd_pid, SIGKILL);
		waitpid(p2pd_pid, NULL, 0);
	}
	rc = n_fail ? 1 : 0;
	if (n_fail)
		printf("(p2pd log kept in %s)\n", log_path);
	else {
		unlink(log_path);
		unlink(cfg_path);
		unlink(notify_path);
		rmdir(tmpdir);
	}
	printf("itest: %d passed, %d failed\n", n_pass, n_fail);
	return rc;
}
