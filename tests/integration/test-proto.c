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
	assert_string_equal(conn_errno_name(EDQUOT), "EDQUOT");
	assert_int_equal(conn_errno_from_name("EDQUOT"), EDQUOT);
	assert_string_equal(conn_errno_name(-EPERM), "EPERM");
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
	};

	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
