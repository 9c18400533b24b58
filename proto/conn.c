/* SPDX-License-Identifier: MIT */
/*
 * conn.c - proto.h framing over SOCK_SEQPACKET, SCM_RIGHTS, strict JSON.
 * Shared by p2pd (libp2pcore.a) and libp2pclient.so.
 */
#include "conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static void conn_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conn_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int conn_send(int sock, const struct p2p_msg_hdr *hdr, const void *payload, size_t len, int fd)
{
	struct p2p_msg_hdr h = *hdr;
	struct iovec iov[2];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct msghdr msg = {0};
	ssize_t n;

	if (len > UINT32_MAX)
		return -EMSGSIZE;
	h.len = (uint32_t)len;
	h.version = P2P_PROTO_VERSION;
	if (fd >= 0)
		h.flags |= P2P_FLAG_FD;
	else
		h.flags &= (uint16_t)~P2P_FLAG_FD;

	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = (void *)payload;
	iov[1].iov_len = len;
	msg.msg_iov = iov;
	msg.msg_iovlen = len ? 2 : 1;
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof(cbuf.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if ((size_t)n != sizeof(h) + len)
		return -EIO; /* SEQPACKET is all or nothing; be safe */
	return 0;
}

/* How received fds nobody may keep are disposed of (conn_set_fd_closer()). */
static void conn_close_plain(int fd)
{
	close(fd);
}

static void (*conn_fd_close)(int fd) = conn_close_plain;

void conn_set_fd_closer(void (*closer)(int fd))
{
	conn_fd_close = closer ? closer : conn_close_plain;
}

/* Close every fd in the control messages of @msg; returns how many there were. */
static int conn_close_fds(struct msghdr *msg, int *keep)
{
	struct cmsghdr *c;
	int count = 0;

	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t n, i;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		if (c->cmsg_len < CMSG_LEN(0))
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (keep && *keep < 0 && count == 0 && n == 1) {
				*keep = fd;
			} else {
				conn_fd_close(fd);
			}
			count++;
		}
	}
	return count;
}

static int conn_recv_flags(int sock, void *buf, size_t bufsize, bool expect_reply, int flags,
			   struct conn_msg *ret)
{
	struct iovec iov = {.iov_base = buf, .iov_len = bufsize};
	union {
		struct cmsghdr align;
		/* room for a few fds so that excess ones are seen (and closed)
		 * rather than silently truncated */
		char buf[CMSG_SPACE(8 * sizeof(int))];
	} cbuf;
	struct msghdr msg = {0};
	struct p2p_msg_hdr h;
	ssize_t n;
	int fd = -1, nfds;

	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;

	/* Take at most one fd, and only where one may come. */
	nfds = conn_close_fds(&msg, expect_reply ? &fd : NULL);
	if (msg.msg_flags & MSG_CTRUNC) {
		if (fd >= 0)
			conn_fd_close(fd);
		return -ENOBUFS;
	}
	if (nfds > 1 || (nfds == 1 && !expect_reply)) {
		if (fd >= 0)
			conn_fd_close(fd);
		return -EBADF;
	}
	if (msg.msg_flags & MSG_TRUNC) {
		if (fd >= 0)
			conn_fd_close(fd);
		return -EMSGSIZE;
	}
	if (n == 0) {
		/* SEQPACKET: a zero-length read is EOF (an empty datagram cannot
		 * be a valid message either). */
		if (fd >= 0)
			conn_fd_close(fd);
		return 0;
	}
	if ((size_t)n < sizeof(h)) {
		if (fd >= 0)
			conn_fd_close(fd);
		return -EBADMSG;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.version != P2P_PROTO_VERSION) {
		if (fd >= 0)
			conn_fd_close(fd);
		return -EPROTONOSUPPORT;
	}
	if ((h.flags & ~P2P_FLAG_VALID) || (size_t)h.len != (size_t)n - sizeof(h) ||
	    !!(h.flags & P2P_FLAG_REPLY) != expect_reply ||
	    (!expect_reply && (h.flags & (P2P_FLAG_FD | P2P_FLAG_MORE))) ||
	    !!(h.flags & P2P_FLAG_FD) != (fd >= 0)) {
		if (fd >= 0)
			conn_fd_close(fd);
		return -EBADMSG;
	}
	ret->hdr = h;
	ret->payload = (const char *)buf + sizeof(h);
	ret->fd = fd;
	return (int)n;
}

int conn_recv(int sock, void *buf, size_t bufsize, bool expect_reply, struct conn_msg *ret)
{
	return conn_recv_flags(sock, buf, bufsize, expect_reply, MSG_DONTWAIT, ret);
}

int conn_recv_wait(int sock, void *buf, size_t bufsize, bool expect_reply, struct conn_msg *ret)
{
	return conn_recv_flags(sock, buf, bufsize, expect_reply, 0, ret);
}

int conn_json_parse(const char *text, size_t len, struct json_object **ret_obj, char *err,
		    size_t errlen)
{
	static const struct json_limits lim = {.max_depth = P2P_PROTO_MAX_DEPTH, .what = "payload"};
	struct json_doc doc;
	struct json_error jerr;
	int r;

	if (len == 0) {
		conn_seterr(err, errlen, "empty payload, a JSON object expected");
		return -EINVAL;
	}
	r = json_doc_parse(&doc, text, len, &lim, &jerr);
	if (r == -EINVAL)
		json_error_format(&jerr, "payload", err, errlen);
	if (r < 0)
		return r;
	if (!json_object_is_type(doc.root, json_type_object)) {
		json_doc_fini(&doc);
		conn_seterr(err, errlen, "payload is not a JSON object");
		return -EINVAL;
	}
	*ret_obj = doc.root;
	doc.root = NULL;
	json_doc_fini(&doc);
	return 0;
}

/* Request schemas, one per opcode.  Every string is a name (JSON_K_NAME, and
 * the entries of a JSON_K_STRARRAY): the daemon stores, logs and relays them. */
static const struct json_field conn_hello_fields[] = {
    {.key = "version", .kind = JSON_K_UINT, .required = true, .max = 255},
    {.key = "client", .kind = JSON_K_NAME, .max_len = P2P_PROTO_MAX_NAME},
};
static const struct json_field conn_check_fields[] = {
    {.key = "provider", .kind = JSON_K_NAME, .required = true, .max_len = 32},
    {.key = "client", .kind = JSON_K_NAME, .required = true, .max_len = 32},
    {.key = "kernel", .kind = JSON_K_BOOL},
};
static const struct json_field conn_matrix_fields[] = {
    {.key = "all", .kind = JSON_K_BOOL},
};
static const struct json_field conn_alloc_fields[] = {
    {.key = "size", .kind = JSON_K_UINT, .required = true, .max = P2P_PROTO_MAX_SIZE},
    {.key = "provider", .kind = JSON_K_NAME, .max_len = 32},
    {.key = "peers", .kind = JSON_K_STRARRAY, .max_len = P2P_PROTO_MAX_PEERS},
    {.key = "types", .kind = JSON_K_STRARRAY, .max_len = 3},
    {.key = "name", .kind = JSON_K_NAME, .max_len = P2P_PROTO_MAX_NAME},
};
static const struct json_field conn_id_fields[] = {
    {.key = "id", .kind = JSON_K_UINT, .required = true},
};
static const struct json_field conn_release_fields[] = {
    {.key = "id", .kind = JSON_K_UINT, .required = true},
    {.key = "reply", .kind = JSON_K_BOOL},
};

struct conn_op_desc {
	uint8_t op;
	const char *name;
	bool admin;
	const struct json_field *fields;
	size_t nfields;
};

#define CONN_OP(o, n, a, f)                                                                        \
	{                                                                                          \
		o, n, a, f, sizeof(f) / sizeof((f)[0])                                             \
	}
#define CONN_OP0(o, n, a)                                                                          \
	{                                                                                          \
		o, n, a, NULL, 0                                                                   \
	}
static const struct conn_op_desc conn_ops[] = {
    CONN_OP(P2P_OP_HELLO, "hello", false, conn_hello_fields),
    CONN_OP0(P2P_OP_TOPOLOGY, "topology", false),
    CONN_OP(P2P_OP_CHECK, "check", false, conn_check_fields),
    CONN_OP(P2P_OP_MATRIX, "matrix", false, conn_matrix_fields),
    CONN_OP(P2P_OP_ALLOC, "alloc", false, conn_alloc_fields),
    CONN_OP(P2P_OP_RELEASE, "release", false, conn_release_fields),
    CONN_OP0(P2P_OP_LIST, "list", false),
    CONN_OP0(P2P_OP_SYNC, "sync", false),
    CONN_OP0(P2P_OP_CLIENTS, "clients", true),
    CONN_OP0(P2P_OP_BUFFERS, "buffers", true),
    CONN_OP(P2P_OP_REVOKE, "revoke", true, conn_id_fields),
    CONN_OP0(P2P_OP_RELOAD, "reload", true),
    CONN_OP0(P2P_OP_STATS, "stats", true),
};

static const struct conn_op_desc *conn_op_find(uint8_t op)
{
	size_t i;

	for (i = 0; i < sizeof(conn_ops) / sizeof(conn_ops[0]); i++)
		if (conn_ops[i].op == op)
			return &conn_ops[i];
	return NULL;
}

const char *conn_op_name(uint8_t opcode)
{
	const struct conn_op_desc *d = conn_op_find(opcode);

	if (opcode == P2P_OP_EVENT)
		return "event";
	return d ? d->name : NULL;
}

bool conn_op_is_admin(uint8_t opcode)
{
	const struct conn_op_desc *d = conn_op_find(opcode);

	return d && d->admin;
}

int conn_decode_request(uint8_t opcode, const char *payload, size_t len,
			struct json_object **ret_obj, char *err, size_t errlen)
{
	const struct conn_op_desc *d = conn_op_find(opcode);
	struct json_object *obj = NULL;
	struct json_ctx c;
	char why[256];
	int r;

	if (!d) {
		conn_seterr(err, errlen, "unknown opcode %u", opcode);
		return -EOPNOTSUPP;
	}
	r = conn_json_parse(payload, len, &obj, why, sizeof(why));
	if (r == 0) {
		json_ctx_init(&c, NULL, NULL, why, sizeof(why));
		r = json_check_fields(&c, obj, d->fields, d->nfields);
		if (r < 0) {
			json_object_put(obj);
			obj = NULL;
		}
	}
	if (r < 0) {
		conn_seterr(err, errlen, "%s request: %s", d->name, why);
		return r;
	}
	*ret_obj = obj;
	return 0;
}

const char *conn_errno_name(int err)
{
	const char *name = strerrorname_np(err < 0 ? -err : err);

	return name ? name : "EUNKNOWN";
}

int conn_errno_from_name(const char *name)
{
	int e;

	if (!name)
		return 0;
	for (e = 1; e <= 133; e++) { /* EPERM .. EHWPOISON */
		const char *n = strerrorname_np(e);

		if (n && strcmp(n, name) == 0)
			return e;
	}
	return 0;
}
