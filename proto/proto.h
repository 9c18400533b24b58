/* SPDX-License-Identifier: MIT */
/*
 * proto.h - the p2pd wire protocol, single source of truth for p2pd and
 * libp2pclient.  Every message's JSON fields are documented in
 * p2pd-protocol(7) (man/p2pd-protocol.7); keep the two in step.
 *
 * Transport: an AF_UNIX SOCK_SEQPACKET socket (default /run/p2pd/p2pd.sock).
 * One message per datagram: a 16-byte struct p2p_msg_hdr followed by exactly
 * hdr.len bytes of UTF-8 JSON (one object, no NUL).  Host byte order (the
 * socket never leaves the machine).
 *
 * A request carries an opcode and a client-chosen id; its reply carries the
 * same opcode and id with P2P_FLAG_REPLY set.  A reply whose JSON does not fit
 * in one datagram (the topology of a big server) is split: every datagram but
 * the last has P2P_FLAG_MORE set, the JSON is the concatenation of all their
 * payloads, and the whole is bounded by P2P_PROTO_MAX_REPLY.  Unsolicited
 * events (a buffer revoked by an admin) use P2P_OP_EVENT with id 0.
 *
 * Only an alloc reply carries a file descriptor (SCM_RIGHTS, P2P_FLAG_FD set).
 * Requests never carry one: the daemon closes any it receives and drops the
 * connection.  Framing violations (short or oversized datagram, bad version,
 * reserved flags, length mismatch, truncated control data) get one error
 * reply with id 0 where possible and then a disconnect; a request that fails
 * gets an error reply and the connection stays.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define P2P_PROTO_VERSION 1

#define P2P_DEFAULT_SOCKET "/run/p2pd/p2pd.sock"
#define P2P_SOCKET_ENV "P2PD_SOCKET"

/* Limits.  The daemon may be configured with a smaller max request size
 * (limits.max_message_size in p2pd.json); it says so in the hello reply. */
#define P2P_PROTO_HDR_SIZE 16
#define P2P_PROTO_MIN_MESSAGE 64	  /* smallest configurable request limit */
#define P2P_PROTO_MAX_REQUEST (64 * 1024) /* default max_message_size (header incl.) */
#define P2P_PROTO_CHUNK (60 * 1024)	  /* JSON bytes per reply datagram */
#define P2P_PROTO_MAX_DATAGRAM (P2P_PROTO_HDR_SIZE + P2P_PROTO_CHUNK)
#define P2P_PROTO_MAX_REPLY (64 * 1024 * 1024) /* bytes of one reassembled reply */
#define P2P_PROTO_MAX_DEPTH 16		       /* JSON nesting of requests */
#define P2P_PROTO_MAX_PEERS 64		       /* "peers" of an alloc request */
#define P2P_PROTO_MAX_NAME 63		       /* bytes of a buffer name */
#define P2P_PROTO_MAX_STRING 256	       /* any other string in a request */
#define P2P_PROTO_MAX_SIZE (1ULL << 46)	       /* bytes of one buffer (64 TiB) */

/* struct p2p_msg_hdr.flags */
#define P2P_FLAG_FD (1u << 0)	 /* one fd attached with SCM_RIGHTS (replies only) */
#define P2P_FLAG_REPLY (1u << 1) /* a reply (or event) from the daemon */
#define P2P_FLAG_MORE (1u << 2)	 /* more datagrams of this reply follow */
#define P2P_FLAG_VALID (P2P_FLAG_FD | P2P_FLAG_REPLY | P2P_FLAG_MORE)

struct p2p_msg_hdr {
	uint8_t version; /* P2P_PROTO_VERSION */
	uint8_t opcode;	 /* enum p2p_op */
	uint16_t flags;	 /* P2P_FLAG_*, other bits zero */
	uint32_t len;	 /* bytes of JSON that follow in this datagram */
	uint64_t id;	 /* request id, echoed in the reply; 0 for events */
};
_Static_assert(sizeof(struct p2p_msg_hdr) == P2P_PROTO_HDR_SIZE, "wire header is 16 bytes");
_Static_assert(offsetof(struct p2p_msg_hdr, id) == 8, "id at offset 8");

/*
 * Opcodes.  Request fields ("->") and reply fields ("<-") below; every reply
 * also has "ok": true, or "ok": false plus "errno" (positive int), "code"
 * (stable name such as "EPERM") and "message" (one human sentence).  Unknown
 * request keys and wrongly typed values are errors (EINVAL).
 */
enum p2p_op {
	P2P_OP_HELLO = 1,
	/* -> {"version": int, "client"?: string}
	 * <- {"version", "server", "features": [string], "uid", "gid", "pid",
	 *     "admin": bool, "max_message_size", "chunk"} */
	P2P_OP_TOPOLOGY = 2,
	/* -> {}   <- {"topology": report_topo() object} */
	P2P_OP_CHECK = 3,
	/* -> {"provider": BDF, "client": BDF}   <- {"check": report_check() object} */
	P2P_OP_MATRIX = 4,
	/* -> {"all"?: bool}   <- {"matrix": report_matrix() object} */
	P2P_OP_ALLOC = 5,
	/* -> {"size": int, "provider"?: BDF|"auto", "peers"?: [BDF],
	 *     "types"?: ["p2p"|"host"|"memfd"], "name"?: string}
	 * <- {"buffer": BUFFER} + fd (P2P_FLAG_FD) */
	P2P_OP_RELEASE = 6,
	/* -> {"id": int, "reply"?: bool}   <- {"id": int}
	 * "reply": false (only when hello lists P2P_FEATURE_RELEASE_NOREPLY):
	 * no reply on success; a failure is still answered, with this request's
	 * opcode and id, before the reply to any later request. */
	P2P_OP_LIST = 7,
	/* -> {}   <- {"buffers": [BUFFER]} (this connection's) */
	P2P_OP_SYNC = 8,
	/* -> {}   <- {} (only when hello lists P2P_FEATURE_RELEASE_NOREPLY).
	 * A barrier: requests are handled and answered in order, so when this
	 * reply arrives every earlier request of the connection was handled and
	 * any answer it had (a no-reply release's error) came before it. */

	/* Admin: uid 0 or the config's admin_group, else EPERM. */
	P2P_OP_CLIENTS = 16,
	/* -> {}   <- {"clients": [{"id","pid","uid","gid","admin","buffers","bytes",
	 *                           "requests","queued_bytes","name"}]} */
	P2P_OP_BUFFERS = 17,
	/* -> {}   <- {"buffers": [BUFFER + "client", "uid", "pid"]} (all clients;
	 *    + "released": true while a released buffer's memory is still held) */
	P2P_OP_REVOKE = 18,
	/* -> {"id": int}   <- {"id", "owner_notified": bool, "memory_revoked": bool} */
	P2P_OP_RELOAD = 19,
	/* -> {}   <- {"config": path, "devices": int} or an error naming the problem */
	P2P_OP_STATS = 20,
	/* -> {}   <- {"stats": {"uptime_s","connections","connections_total",
	 *                        "connections_rejected","requests","errors",
	 *                        "protocol_errors","buffers","bytes","allocs",
	 *                        "releases","revokes","reloads","backends":[..],
	 *                        "rss_kib","fds"}} */

	P2P_OP_EVENT = 32,
	/* daemon -> client, id 0: {"event": "revoked", "id": int, "reason": string} */
};

/* Features of the hello reply. */
#define P2P_FEATURE_RELEASE_NOREPLY "release-noreply" /* "reply": false, P2P_OP_SYNC */

/* BUFFER = {"id": int, "type": "p2p"|"host"|"memfd", "backend": string,
 *           "provider": BDF|null, "size": int, "name": string,
 *           "peers": [{"peer": BDF, "map_type", "distance", "class"}]} */

#define P2P_TYPE_NAME_P2P "p2p"
#define P2P_TYPE_NAME_HOST "host"
#define P2P_TYPE_NAME_MEMFD "memfd"
