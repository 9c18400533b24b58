/* SPDX-License-Identifier: MIT */
/*
 * conn.h - framing of proto.h messages on a SOCK_SEQPACKET socket, SCM_RIGHTS,
 * and the strict JSON decoding both sides use.  Linked into p2pd and
 * libp2pclient.so (hidden there); not a public API.
 *
 * Nothing here logs; every function returns >= 0 or -errno.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "proto.h"

/* One received datagram, header validated. */
struct conn_msg {
	struct p2p_msg_hdr hdr;
	const char *payload; /* points into the caller's buffer; hdr.len bytes */
	int fd;		     /* received fd (CLOEXEC, now owned by the caller), -1 none */
};

/*
 * conn_send() - send one datagram: @hdr (its len is set from @len) + @payload.
 * @fd: an fd to attach with SCM_RIGHTS (borrowed; P2P_FLAG_FD is set), or -1.
 * Non-blocking when the socket is.  MSG_NOSIGNAL.
 * Returns 0, -EAGAIN (nothing sent), -EMSGSIZE, or another -errno.
 */
int conn_send(int sock, const struct p2p_msg_hdr *hdr, const void *payload, size_t len, int fd);

/*
 * conn_recv() - receive one datagram into @buf (@bufsize bytes) and validate it.
 * @expect_reply: true on the client (replies/events expected), false in p2pd.
 * Received fds are CLOEXEC.  Any fd arriving where none may (on a request, or
 * more than one) is closed.
 * Returns the datagram's total size (> 0) with *ret filled, 0 on orderly EOF,
 * or -errno: -EAGAIN nothing queued; -EMSGSIZE datagram larger than @bufsize
 * (MSG_TRUNC); -EBADMSG short datagram, length mismatch, reserved flag bits;
 * -EPROTONOSUPPORT wrong version; -ENOBUFS control data truncated
 * (MSG_CTRUNC); -EBADF an unexpected fd was attached (closed).  On every
 * error no fd is left open.
 */
int conn_recv(int sock, void *buf, size_t bufsize, bool expect_reply, struct conn_msg *ret);

/* As conn_recv(), but waits as a blocking socket does (SO_RCVTIMEO bounds
 * the wait: -EAGAIN then, and at once on a non-blocking socket). */
int conn_recv_wait(int sock, void *buf, size_t bufsize, bool expect_reply, struct conn_msg *ret);

/*
 * conn_set_fd_closer() - how conn_recv() gets rid of the fds it refuses
 * (@closer takes each one; NULL: close()).  close() can block forever (a file
 * on a stalled FUSE mount), so p2pd hands them to a closer thread.
 */
void conn_set_fd_closer(void (*closer)(int fd));

/*
 * conn_json_parse() - a message's JSON through the strict front end
 * (json.h): @len bytes (need not be NUL terminated), one top-level object,
 * nothing after it, depth <= P2P_PROTO_MAX_DEPTH, valid UTF-8, no NUL byte,
 * no repeated key.  Returns 0 and a new object in *ret_obj (caller puts it)
 * or -EINVAL with a reason in @err, -ENOMEM.
 */
int conn_json_parse(const char *text, size_t len, struct json_object **ret_obj, char *err,
		    size_t errlen);

/*
 * conn_decode_request() - the daemon's decoder for one request datagram
 * payload: strict JSON object + the schema of @opcode (unknown keys, wrong
 * types refused; every string a client sends is a name: valid UTF-8 without
 * control characters).  Returns 0 and the object (caller puts it),
 * -EOPNOTSUPP unknown opcode, -EINVAL/-ERANGE/-E2BIG with a sentence naming
 * the op and the JSON path in @err ("alloc request: name: control character
 * U+001B at byte 3 (names are printable text)"), -ENOMEM.  This is the function
 * tests/fuzz/fuzz-proto.c drives.
 */
int conn_decode_request(uint8_t opcode, const char *payload, size_t len,
			struct json_object **ret_obj, char *err, size_t errlen);

/* "hello", "alloc" ...; NULL for an unknown opcode. */
const char *conn_op_name(uint8_t opcode);
bool conn_op_is_admin(uint8_t opcode);

/* Stable error name for an errno, either sign ("EPERM"; glibc's
 * strerrorname_np()); unknown values give "EUNKNOWN". */
const char *conn_errno_name(int err);
/* Inverse of conn_errno_name(); 0 when unknown. */
int conn_errno_from_name(const char *name);
