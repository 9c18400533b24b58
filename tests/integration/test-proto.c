/* SPDX-License-Identifier: MIT */
/*
 * test-proto.c - cmocka tests of the wire codec (proto/conn.c): framing
 * over a real SEQPACKET socketpair, SCM_RIGHTS handling, strict JSON, schemas.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "conn.h"

static int sv[2];
static unsigned char buf[P2P_PROTO_MAX_DATAGRAM];

static int setup(void **state)
{
	(void)state;
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}

static int teardown(void **state)
{
	(void)state;
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void send_raw(const struct p2p_msg_hdr *h, const char *json)
{
	char b[512];
	size_t l = json ? strlen(json) : 0;

	memcpy(b, h, sizeof(*h));
	if (l)
		memcpy(b + sizeof(*h), json, l);
	assert_int_equal(send(sv[0], b, sizeof(*h) + l, 0), (ssize_t)(sizeof(*h) + l));
}

static void test_roundtrip(void **state)
{
	struct p2p_msg_hdr h = {.opcode = P2P_OP_HELLO, .id = 42};
	struct conn_msg m;

	(void)state;
	assert_int_equal(sizeof(struct p2p_msg_hdr), 16);
	assert_int_equal(conn_send(sv[0], &h, "{\"version\":1}", 13, -1), 0);
	assert_int_equal(conn_recv(sv[1], buf, sizeof(buf), false, &m), 16 + 13);
	assert_int_equal(m.hdr.opcode, P2P_OP_HELLO);
	assert_int_equal(m.hdr.id, 42);
	assert_int_equal(m.hdr.len, 13);
	assert_int_equal(m.fd, -1);
	assert_memory_equal(m.payload, "{\"version\":1}", 13);
	/* nothing more queued */
	assert_int_equal(conn_recv(sv[1], buf, sizeof(buf), false, &m), -EAGAIN);
}

static void test_reply_with_fd(void **state)
{
	struct p2p_msg_hdr h = {.opcode = P2P_OP_ALLOC, .flags = P2P_FLAG_REPLY, .id = 7};
	struct conn_msg m;
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(conn_send(sv[1], &h, "{\"ok\":true}", 11, p[0]), 0);
	assert_true(conn_recv(sv[0], buf, sizeof(buf), true, &m) > 0);
	assert_true(m.hdr.flags & P2P_FLAG_FD);
	assert_true(m.fd >= 0 && m.fd != p[0]);
	assert_true(fcntl(m.fd, F_GETFD) & FD_CLOEXEC);
	close(m.fd);
	close(p[0]);
	close(p[1]);
}

/* a request carrying an fd: refused, and the fd closed */
static void test_request_with_fd(void **state)
{
	struct p2p_msg_hdr h = {.opcode = P2P_OP_HELLO, .flags = 0};
	struct conn_msg m;
	int p[2], before;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(conn_send(sv[0], &h, "{}", 2, p[0]), 0);
	close(p[0]);
	before = fcntl(p[1], F_GETFD);
	assert_int_equal(conn_recv(sv[1], buf, sizeof(buf), false, &m), -EBADF);
	/* the only remaining read end was the one received, now closed:
	 * writing must fail with EPIPE */
	assert_true(before >= 0);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(write(p[1], "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	close(p[1]);
}

static void test_framing_errors(void **state)
{
	struct p2p_msg_hdr h = {.version = P2P_PROTO_VERSION, .opcode = 1, .len = 2};
	struct conn_msg m;
	char small[4] = {1, 1, 0, 0};

	(void)state;
	assert_int_equal(send(sv[0], small, sizeof(small), 0), 4);
	assert_int_equal(conn_recv(sv[1], buf, sizeof(buf), false, &m), -EBADMSG);

	h.version = 2;
	send_raw(&h, "{}");
	assert_int_equal(conn_recv(sv[1], buf, sizeof(buf), false, &m), -EPROTONOSUPPORT);

	h.version = 1;
	h.len = 3; /* lies */
	send_raw(&h, "{}");
	assert_int_equal(conn_recv(sv[1], buf, sizeof(buf), false, &m), -EBADMSG);

	h.len = 2;
	h.flags = 0x100; /* reserved */
	send_raw(&h, "{}");
	assert_int_equal(conn_recv(sv[1], buf, sizeof(buf), false, &m), -EBADMSG);

	h.flags = P2P_FLAG_REPLY; /* a reply where a request is expected */
	send_raw(&h, "{}");
	assert_int_equal(conn_recv(sv[1], buf, sizeof(buf), false, &m), -EBADMSG);

	h.flags = P2P_FLAG_FD; /* claims an fd, has none */
	send_raw(&h, "{}");
	assert_int_equal(conn_recv(sv[1], buf, sizeof(buf), false, &m), -EBADMSG);

	h.flags = 0; /* and a valid request still frames */
	send_raw(&h, "{}");
	assert_int_equal(conn_recv(sv[1], buf, 64, false, &m), 18);
}

static void test_oversized_and_eof(void **state)
{
	struct p2p_msg_hdr h = {.version = 1, .opcode = 1, .len = 100};
	char big[16 + 100];
	struct conn_msg m;

	(void)state;
	memcpy(big, &h, 16);
	memset(big + 16, ' ', 100);
	assert_int_equal(send(sv[0], big, sizeof(big), 0), (ssize_t)sizeof(big));
	assert_int_equal(conn_recv(sv[1], buf, 64, false, &m), -EMSGSIZE);
	shutdown(sv[0], SHUT_WR);
	assert_int_equal(conn_recv(sv[1], buf, sizeof(buf), false, &m), 0);
}

static void test_json_parse(void **state)
{
	static const char *const bad[] = {
	    "",
	    "not json",
	    "[1]",
	    "\"s\"",
	    "{\"a\":1} x",
	    "{\"a\":1}{}",
	    "{\"a\":",
	    "{\"a\":1,}",
	    "{\"a\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}",
	    "{\"a\":\"\xff\xfe\"}",
	};
	struct json_object *o = NULL;
	char err[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(conn_json_parse(bad[i], strlen(bad[i]), &o, err, sizeof(err)),
				 -EINVAL);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(conn_json_parse("{\"a\":1}\0x", 9, &o, err, sizeof(err)), -EINVAL);
	assert_int_equal(conn_json_parse("{\"a\":1}\n", 8, &o, err, sizeof(err)), 0);
	json_object_put(o);
}

static void test_schema(void **state)
{
	static const struct {
		uint8_t op;
		const char *json;
		int want;
	} cases[] = {
	    {P2P_OP_HELLO, "{\"version\":1}", 0},
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"x\"}", 0},
	    {P2P_OP_HELLO, "{}", -EINVAL},
	    {P2P_OP_HELLO, "{\"version\":256}", -ERANGE},
	    {P2P_OP_HELLO, "{\"version\":1,\"x\":1}", -EINVAL},
	    {P2P_OP_ALLOC, "{\"size\":1,\"peers\":[\"a\"],\"types\":[\"memfd\"]}", 0},
	    {P2P_OP_ALLOC, "{\"size\":true}", -EINVAL},
	    {P2P_OP_ALLOC, "{\"size\":1.5}", -EINVAL},
	    {P2P_OP_ALLOC, "{\"size\":-5}", -ERANGE},
	    {P2P_OP_ALLOC, "{\"size\":70368744177665}", -ERANGE},
	    {P2P_OP_ALLOC, "{\"size\":1,\"types\":[\"a\",\"b\",\"c\",\"d\"]}", -E2BIG},
	    {P2P_OP_ALLOC,
	     "{\"size\":1,\"name\":\"0123456789012345678901234567890123456789"
	     "012345678901234567890123\"}",
	     -EINVAL},
	    {P2P_OP_MATRIX, "{\"all\":1}", -EINVAL},
	    {P2P_OP_RELEASE, "{\"id\":18446744073709551615}", -ERANGE},
	    /* "reply" (release-noreply): a boolean, and on a release only */
	    {P2P_OP_RELEASE, "{\"id\":1,\"reply\":false}", 0},
	    {P2P_OP_RELEASE, "{\"id\":1,\"reply\":true}", 0},
	    {P2P_OP_RELEASE, "{\"id\":1,\"reply\":0}", -EINVAL},
	    {P2P_OP_RELEASE, "{\"id\":1,\"reply\":\"no\"}", -EINVAL},
	    {P2P_OP_RELEASE, "{\"id\":1,\"reply\":null}", -EINVAL},
	    {P2P_OP_RELEASE, "{\"reply\":false}", -EINVAL},
	    {P2P_OP_REVOKE, "{\"id\":1,\"reply\":false}", -EINVAL},
	    {P2P_OP_ALLOC, "{\"size\":1,\"reply\":false}", -EINVAL},
	    {P2P_OP_LIST, "{\"reply\":false}", -EINVAL},
	    /* the sync barrier takes nothing */
	    {P2P_OP_SYNC, "{}", 0},
	    {P2P_OP_SYNC, "{\"reply\":false}", -EINVAL},
	    {P2P_OP_SYNC, "[]", -EINVAL},
	    {200, "{}", -EOPNOTSUPP},
	};
	struct json_object *o;
	char err[200];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		o = NULL;
		err[0] = '\0';
		int r = conn_decode_request(cases[i].op, cases[i].json, strlen(cases[i].json), &o,
					    err, sizeof(err));

		if (r != cases[i].want)
			fail_msg("case %zu (%s): got %d want %d (%s)", i, cases[i].json, r,
				 cases[i].want, err);
		if (r == 0)
			json_object_put(o);
		else
			assert_null(o);
	}
	assert_true(conn_op_is_admin(P2P_OP_REVOKE));
	assert_false(conn_op_is_admin(P2P_OP_ALLOC));
	assert_false(conn_op_is_admin(P2P_OP_SYNC));
	assert_string_equal(conn_op_name(P2P_OP_SYNC), "sync");
	assert_string_equal(conn_errno_name(EDQUOT), "EDQUOT");
	assert_int_equal(conn_errno_from_name("EDQUOT"), EDQUOT);
	assert_string_equal(conn_errno_name(-EPERM), "EPERM");
}


/* ---- framing gaps found by mutation (issue 15): exact fd counts, a length
 * field smaller than the payload, an fd without the flag ---- */

/* Send a datagram with @nfds copies of @fd attached (SCM_RIGHTS). */
static void send_with_fds(const struct p2p_msg_hdr *h, const char *json, int fd, int nfds)
{
	size_t l = strlen(json);
	struct iovec iov[2] = {{(void *)h, sizeof(*h)}, {(void *)json, l}};
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(16 * sizeof(int))];
	} cbuf;
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
	int fds[16];

	assert_true(nfds >= 1 && nfds <= 16);
	for (int i = 0; i < nfds; i++)
		fds[i] = fd;
	memset(&cbuf, 0, sizeof(cbuf));
	msg.msg_control = cbuf.b;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	assert_int_equal(sendmsg(sv[1], &msg, 0), (ssize_t)(sizeof(*h) + l));
}

/* After conn_recv() the pipe's read end must be gone everywhere: the only
 * copies were ours (closed) and the received ones (closed by conn_recv). */
static void assert_read_end_gone(int wr)
{
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(write(wr, "x", 1), -1);
	assert_int_equal(errno, EPIPE);
}

/* A reply carries at most one fd: 2 to 8 (all fit the control buffer) are
 * refused and every one of them closed, whatever the header's flags say. */
static void test_reply_fd_counts(void **state)
{
	(void)state;
	for (int nfds = 1; nfds <= 8; nfds++) {
		for (int flagged = 0; flagged <= 1; flagged++) {
			struct p2p_msg_hdr h = {.version = P2P_PROTO_VERSION,
						.opcode = P2P_OP_ALLOC,
						.flags = (uint16_t)(P2P_FLAG_REPLY |
								    (flagged ? P2P_FLAG_FD : 0)),
						.len = 11,
						.id = 9};
			struct conn_msg m = {.fd = -1};
			int p[2];

			assert_int_equal(pipe2(p, O_CLOEXEC), 0);
			send_with_fds(&h, "{\"ok\":true}", p[0], nfds);
			close(p[0]);
			int r = conn_recv(sv[0], buf, sizeof(buf), true, &m);
			if (nfds == 1 && flagged) {
				if (r != 16 + 11)
					fail_msg("1 fd with the flag: got %d", r);
				assert_true(m.fd >= 0);
				close(m.fd);
			} else if (nfds == 1) {
				/* an fd the header does not announce */
				if (r != -EBADMSG)
					fail_msg("1 fd without the flag: got %d, want -EBADMSG", r);
			} else if (r != -EBADF) {
				fail_msg("%d fds (flag %d): got %d, want -EBADF", nfds, flagged, r);
			}
			assert_read_end_gone(p[1]);
			close(p[1]);
		}
	}
	/* and the socket still frames the next datagram */
	struct p2p_msg_hdr ok = {.opcode = P2P_OP_HELLO, .flags = P2P_FLAG_REPLY, .id = 1};
	struct conn_msg m;
	assert_int_equal(conn_send(sv[1], &ok, "{}", 2, -1), 0);
	assert_int_equal(conn_recv(sv[0], buf, sizeof(buf), true, &m), 18);
	assert_int_equal(m.fd, -1);
}

/* The length field must equal the payload: smaller (a datagram with trailing
 * bytes the header does not own) is as wrong as larger, on both sides. */
static void test_length_field_smaller(void **state)
{
	struct conn_msg m;

	(void)state;
	for (int reply = 0; reply <= 1; reply++) {
		int tx = reply ? sv[1] : sv[0], rx = reply ? sv[0] : sv[1];
		for (uint32_t len = 0; len < 13; len++) {
			struct p2p_msg_hdr h = {.version = P2P_PROTO_VERSION,
						.opcode = P2P_OP_HELLO,
						.flags = reply ? P2P_FLAG_REPLY : 0,
						.len = len};
			char d[16 + 13];

			memcpy(d, &h, 16);
			memcpy(d + 16, "{\"version\":1}", 13);
			assert_int_equal(send(tx, d, sizeof(d), 0), (ssize_t)sizeof(d));
			int r = conn_recv(rx, buf, sizeof(buf), reply, &m);
			if (r != -EBADMSG)
				fail_msg("len field %u of 13 (%s): got %d", len,
					 reply ? "reply" : "request", r);
		}
	}
}

/* An fd without P2P_FLAG_FD is refused (and closed) even where fds may come. */
static void test_fd_without_flag(void **state)
{
	struct p2p_msg_hdr h = {.version = P2P_PROTO_VERSION,
				.opcode = P2P_OP_ALLOC,
				.flags = P2P_FLAG_REPLY,
				.len = 11,
				.id = 3};
	struct conn_msg m = {.fd = -1};
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	send_with_fds(&h, "{\"ok\":true}", p[0], 1);
	close(p[0]);
	assert_int_equal(conn_recv(sv[0], buf, sizeof(buf), true, &m), -EBADMSG);
	assert_read_end_gone(p[1]);
	close(p[1]);
	/* a reply chunk (P2P_FLAG_MORE) with an unannounced fd: refused too */
	h.flags = P2P_FLAG_REPLY | P2P_FLAG_MORE;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	send_with_fds(&h, "{\"ok\":true}", p[0], 1);
	close(p[0]);
	assert_int_equal(conn_recv(sv[0], buf, sizeof(buf), true, &m), -EBADMSG);
	assert_read_end_gone(p[1]);
	close(p[1]);
}

/* @n raw bytes (maybe not a header at all) with one fd attached. */
static void send_bytes_with_fd(const void *d, size_t n, int fd)
{
	struct iovec iov = {(void *)d, n};
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;

	memset(&cbuf, 0, sizeof(cbuf));
	msg.msg_control = cbuf.b;
	msg.msg_controllen = sizeof(cbuf.b);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	assert_int_equal(sendmsg(sv[1], &msg, 0), (ssize_t)n);
}

/* A reply that breaks the framing in any way has its (one, announced) fd
 * closed, never handed out: too short for a header, another wire version,
 * larger than the buffer, empty. */
static void test_bad_reply_closes_fd(void **state)
{
	struct p2p_msg_hdr h = {.version = P2P_PROTO_VERSION,
				.opcode = P2P_OP_ALLOC,
				.flags = P2P_FLAG_REPLY | P2P_FLAG_FD,
				.len = 11,
				.id = 5};
	unsigned char d[16 + 200];
	static const struct {
		const char *what;
		size_t n;
		int version;
		size_t bufsize;
		int want;
	} cases[] = {
	    {"4 bytes", 4, P2P_PROTO_VERSION, sizeof(buf), -EBADMSG},
	    {"wire version 2", 16 + 11, 2, sizeof(buf), -EPROTONOSUPPORT},
	    {"larger than the buffer", 16 + 200, P2P_PROTO_VERSION, 64, -EMSGSIZE},
	    {"empty", 0, P2P_PROTO_VERSION, sizeof(buf), 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conn_msg m = {.fd = -1};
		int p[2], r;

		h.version = (uint8_t)cases[i].version;
		h.len = (uint32_t)(cases[i].n > 16 ? cases[i].n - 16 : 11);
		memset(d, ' ', sizeof(d));
		memcpy(d, &h, sizeof(h));
		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		send_bytes_with_fd(d, cases[i].n, p[0]);
		close(p[0]);
		r = conn_recv(sv[0], buf, cases[i].bufsize, true, &m);
		if (r != cases[i].want)
			fail_msg("%s with an fd: got %d, want %d", cases[i].what, r, cases[i].want);
		assert_int_equal(m.fd, -1);
		assert_read_end_gone(p[1]);
		close(p[1]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reply_with_fd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_request_with_fd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_framing_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oversized_and_eof, setup, teardown),
	    cmocka_unit_test(test_json_parse),
	    cmocka_unit_test(test_schema),
	    cmocka_unit_test_setup_teardown(test_reply_fd_counts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_length_field_smaller, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fd_without_flag, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_reply_closes_fd, setup, teardown),
	};

	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
