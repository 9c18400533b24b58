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

int conn_recv(int sock, void *buf, size_t bufsize, bool expect_reply, struct conn_msg *ret)
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
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
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

int conn_json_parse(const char *text, size_t len, struct json_object **ret_obj, char *err,
		    size_t errlen)
{
	struct json_tokener *tok;
	struct json_object *obj;
	size_t end;

	if (len == 0) {
		conn_seterr(err, errlen, "empty payload, a JSON object expected");
		return -EINVAL;
	}
	if (len > INT32_MAX) {
		conn_seterr(err, errlen, "payload too large");
		return -EINVAL;
	}
	if (memchr(text, '\0', len)) {
		conn_seterr(err, errlen, "NUL byte in JSON payload");
		return -EINVAL;
	}
	tok = json_tokener_new_ex(P2P_PROTO_MAX_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	if (!obj) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		conn_seterr(err, errlen, "invalid JSON at byte %zu: %s",
			    json_tokener_get_parse_end(tok),
			    e == json_tokener_continue ? "unexpected end of input"
						       : json_tokener_error_desc(e));
		json_tokener_free(tok);
		return -EINVAL;
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (end < len &&
	       (text[end] == ' ' || text[end] == '\n' || text[end] == '\t' || text[end] == '\r'))
		end++;
	if (end != len) {
		json_object_put(obj);
		conn_seterr(err, errlen, "trailing data after the JSON object at byte %zu", end);
		return -EINVAL;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		conn_seterr(err, errlen, "payload is not a JSON object");
		return -EINVAL;
	}
	*ret_obj = obj;
	return 0;
}

static const struct conn_field *conn_find_field(const struct conn_field *fields, size_t n,
						const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(fields[i].key, key) == 0)
			return &fields[i];
	return NULL;
}

static int conn_check_string(struct json_object *v, size_t max, const char *key, char *err,
			     size_t errlen)
{
	size_t l;

	if (!json_object_is_type(v, json_type_string)) {
		conn_seterr(err, errlen, "field '%s': a string expected", key);
		return -EINVAL;
	}
	l = (size_t)json_object_get_string_len(v);
	if (l == 0 || l > max) {
		conn_seterr(err, errlen, "field '%s': string length %zu not in 1..%zu", key, l,
			    max);
		return -EINVAL;
	}
	if (strlen(json_object_get_string(v)) != l) {
		conn_seterr(err, errlen, "field '%s': NUL byte in string", key);
		return -EINVAL;
	}
	return 0;
}

int conn_json_check(struct json_object *obj, const struct conn_field *fields, size_t nfields,
		    char *err, size_t errlen)
{
	size_t i;
	int r;

	if (!json_object_is_type(obj, json_type_object)) {
		conn_seterr(err, errlen, "a JSON object expected");
		return -EINVAL;
	}
	json_object_object_foreach(obj, key, val)
	{
		const struct conn_field *f = conn_find_field(fields, nfields, key);

		if (!f) {
			conn_seterr(err, errlen, "unknown field '%.64s'", key);
			return -EINVAL;
		}
		switch (f->type) {
		case CONN_F_STRING:
			r = conn_check_string(val, f->max_len ? f->max_len : P2P_PROTO_MAX_STRING,
					      key, err, errlen);
			if (r < 0)
				return r;
			break;
		case CONN_F_U64: {
			uint64_t u, max = f->max_val ? f->max_val : (uint64_t)INT64_MAX;

			if (!json_object_is_type(val, json_type_int)) {
				conn_seterr(err, errlen, "field '%s': an integer expected", key);
				return -EINVAL;
			}
			if (json_object_get_int64(val) < 0) {
				conn_seterr(err, errlen, "field '%s': negative value", key);
				return -ERANGE;
			}
			u = json_object_get_uint64(val);
			if (u > max) {
				conn_seterr(err, errlen,
					    "field '%s': value out of range (max %llu)", key,
					    (unsigned long long)max);
				return -ERANGE;
			}
			break;
		}
		case CONN_F_BOOL:
			if (!json_object_is_type(val, json_type_boolean)) {
				conn_seterr(err, errlen, "field '%s': true or false expected", key);
				return -EINVAL;
			}
			break;
		case CONN_F_STRARRAY: {
			size_t n, j, max = f->max_len ? f->max_len : 64;

			if (!json_object_is_type(val, json_type_array)) {
				conn_seterr(err, errlen, "field '%s': an array of strings expected",
					    key);
				return -EINVAL;
			}
			n = json_object_array_length(val);
			if (n > max) {
				conn_seterr(err, errlen, "field '%s': %zu entries, at most %zu",
					    key, n, max);
				return -E2BIG;
			}
			for (j = 0; j < n; j++) {
				r = conn_check_string(json_object_array_get_idx(val, j),
						      P2P_PROTO_MAX_STRING, key, err, errlen);
				if (r < 0)
					return r;
			}
			break;
		}
		}
	}
	for (i = 0; i < nfields; i++) {
		if (fields[i].required && !json_object_object_get_ex(obj, fields[i].key, NULL)) {
			conn_seterr(err, errlen, "field '%s' is required", fields[i].key);
			return -EINVAL;
		}
	}
	return 0;
}

const char *conn_json_str(struct json_object *obj, const char *key, const char *dflt)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return dflt;
	return json_object_get_string(v);
}

uint64_t conn_json_u64(struct json_object *obj, const char *key, uint64_t dflt)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
		return dflt;
	return json_object_get_uint64(v);
}

bool conn_json_bool(struct json_object *obj, const char *key, bool dflt)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return dflt;
	return json_object_get_boolean(v);
}

/* Request schemas, one per opcode. */
static const struct conn_field conn_hello_fields[] = {
    {.key = "version", .type = CONN_F_U64, .required = true, .max_val = 255},
    {.key = "client", .type = CONN_F_STRING, .max_len = P2P_PROTO_MAX_NAME},
};
static const struct conn_field conn_check_fields[] = {
    {.key = "provider", .type = CONN_F_STRING, .required = true, .max_len = 32},
    {.key = "client", .type = CONN_F_STRING, .required = true, .max_len = 32},
    {.key = "kernel", .type = CONN_F_BOOL},
};
static const struct conn_field conn_matrix_fields[] = {
    {.key = "all", .type = CONN_F_BOOL},
};
static const struct conn_field conn_alloc_fields[] = {
    {.key = "size", .type = CONN_F_U64, .required = true, .max_val = P2P_PROTO_MAX_SIZE},
    {.key = "provider", .type = CONN_F_STRING, .max_len = 32},
    {.key = "peers", .type = CONN_F_STRARRAY, .max_len = P2P_PROTO_MAX_PEERS},
    {.key = "types", .type = CONN_F_STRARRAY, .max_len = 3},
    {.key = "name", .type = CONN_F_STRING, .max_len = P2P_PROTO_MAX_NAME},
};
static const struct conn_field conn_id_fields[] = {
    {.key = "id", .type = CONN_F_U64, .required = true},
};

struct conn_op_desc {
	uint8_t op;
	const char *name;
	bool admin;
	const struct conn_field *fields;
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
    CONN_OP(P2P_OP_RELEASE, "release", false, conn_id_fields),
    CONN_OP0(P2P_OP_LIST, "list", false),
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
	int r;

	if (!d) {
		conn_seterr(err, errlen, "unknown opcode %u", opcode);
		return -EOPNOTSUPP;
	}
	r = conn_json_parse(payload, len, &obj, err, errlen);
	if (r < 0)
		return r;
	r = conn_json_check(obj, d->fields, d->nfields, err, errlen);
	if (r < 0) {
		json_object_put(obj);
		return r;
	}
	*ret_obj = obj;
	return 0;
}

static const struct {
	int err;
	const char *name;
} conn_errnames[] = {
    {EPERM, "EPERM"},
    {ENOENT, "ENOENT"},
    {EIO, "EIO"},
    {E2BIG, "E2BIG"},
    {EBADF, "EBADF"},
    {EAGAIN, "EAGAIN"},
    {ENOMEM, "ENOMEM"},
    {EACCES, "EACCES"},
    {EBUSY, "EBUSY"},
    {EEXIST, "EEXIST"},
    {ENODEV, "ENODEV"},
    {EINVAL, "EINVAL"},
    {ENFILE, "ENFILE"},
    {EMFILE, "EMFILE"},
    {EFBIG, "EFBIG"},
    {ENOSPC, "ENOSPC"},
    {ERANGE, "ERANGE"},
    {ENOSYS, "ENOSYS"},
    {EBADMSG, "EBADMSG"},
    {EPROTO, "EPROTO"},
    {EMSGSIZE, "EMSGSIZE"},
    {EOPNOTSUPP, "EOPNOTSUPP"},
    {ECONNRESET, "ECONNRESET"},
    {ENOBUFS, "ENOBUFS"},
    {ETIMEDOUT, "ETIMEDOUT"},
    {ECONNREFUSED, "ECONNREFUSED"},
    {EDQUOT, "EDQUOT"},
    {ECANCELED, "ECANCELED"},
    {EPROTONOSUPPORT, "EPROTONOSUPPORT"},
    {ENOTCONN, "ENOTCONN"},
    {EREMOTEIO, "EREMOTEIO"},
    {EUSERS, "EUSERS"},
    {ESTALE, "ESTALE"},
    {ENOTSUP, "ENOTSUP"},
};

const char *conn_errno_name(int err)
{
	size_t i;

	if (err < 0)
		err = -err;
	for (i = 0; i < sizeof(conn_errnames) / sizeof(conn_errnames[0]); i++)
		if (conn_errnames[i].err == err)
			return conn_errnames[i].name;
	return "EUNKNOWN";
}

int conn_errno_from_name(const char *name)
{
	size_t i;

	if (!name)
		return 0;
	for (i = 0; i < sizeof(conn_errnames) / sizeof(conn_errnames[0]); i++)
		if (strcmp(conn_errnames[i].name, name) == 0)
			return conn_errnames[i].err;
	return 0;
}
