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

/*
 * conn_set_fd_closer() - how conn_recv() gets rid of the fds it refuses
 * (@closer takes each one; NULL: close()).  close() can block forever (a file
 * on a stalled FUSE mount), so p2pd hands them to a closer thread.
 */
void conn_set_fd_closer(void (*closer)(int fd));

/*
 * conn_json_parse() - strict JSON: @len bytes (need not be NUL terminated),
 * one top-level object, nothing after it, depth <= P2P_PROTO_MAX_DEPTH, valid
 * UTF-8, no NUL bytes.  Returns 0 and a new object in *ret_obj (caller puts
 * it) or -EINVAL with a reason in @err.
 */
int conn_json_parse(const char *text, size_t len, struct json_object **ret_obj, char *err,
		    size_t errlen);

/* Field types of a request schema. */
enum conn_ftype {
	CONN_F_STRING,	 /* string, 1..P2P_PROTO_MAX_STRING bytes (or max_len) */
	CONN_F_U64,	 /* non-negative integer (not a double, not a string) */
	CONN_F_BOOL,	 /* true/false */
	CONN_F_STRARRAY, /* array of strings, at most max_len entries */
};

struct conn_field {
	const char *key;
	enum conn_ftype type;
	bool required;
	size_t max_len;	  /* CONN_F_STRING bytes / CONN_F_STRARRAY entries; 0 = default */
	uint64_t max_val; /* CONN_F_U64 upper bound (inclusive); 0 = UINT64 max */
};

/*
 * conn_json_check() - validate @obj (an object) against @fields: every key
 * known, each value of its type and within bounds, required keys present.
 * Returns 0 or -EINVAL / -ERANGE with "field 'x': why" in @err.
 */
int conn_json_check(struct json_object *obj, const struct conn_field *fields, size_t nfields,
		    char *err, size_t errlen);

/* Getters for a checked object; absent keys yield the default. */
const char *conn_json_str(struct json_object *obj, const char *key, const char *dflt);
uint64_t conn_json_u64(struct json_object *obj, const char *key, uint64_t dflt);
bool conn_json_bool(struct json_object *obj, const char *key, bool dflt);

/*
 * conn_decode_request() - the daemon's decoder for one request datagram
 * payload: strict JSON object + the schema of @opcode.  Returns 0 and the
 * object (caller puts it), -EOPNOTSUPP unknown opcode, -EINVAL/-ERANGE with a
 * reason in @err.  This is the function tests/fuzz/fuzz-proto.c drives.
 */
int conn_decode_request(uint8_t opcode, const char *payload, size_t len,
			struct json_object **ret_obj, char *err, size_t errlen);

/* "hello", "alloc" ...; NULL for an unknown opcode. */
const char *conn_op_name(uint8_t opcode);
bool conn_op_is_admin(uint8_t opcode);

/* Stable error name for an errno ("EPERM"), "E<num>" style fallback into a
 * static buffer is avoided: unknown values give "EUNKNOWN". */
const char *conn_errno_name(int err);
/* Inverse of conn_errno_name(); 0 when unknown. */
int conn_errno_from_name(const char *name);
