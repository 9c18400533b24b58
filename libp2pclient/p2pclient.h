/* SPDX-License-Identifier: MIT */
/*
 * p2pclient.h - libp2pclient, the client library of the p2pd PCIe peer-to-peer
 * DMA broker.  The only installed userspace header.
 *
 * Conventions:
 *  - Every function returns >= 0 on success or a negative errno value
 *    (-EPERM, -EDQUOT, ...); never -1 with errno.  p2p_strerror() describes
 *    a return value; p2p_last_message() gives the daemon's own sentence for
 *    the last failed request on a connection.
 *  - Strings returned through ret_* parameters are malloc()ed and owned by
 *    the caller (free()).  File descriptors returned are O_CLOEXEC and owned
 *    by the caller.
 *  - A struct p2p_conn is NOT thread-safe: use one connection per thread or
 *    serialise calls yourself.  Distinct connections are independent.
 *  - The library logs nothing unless p2p_set_log_handler() installs a handler.
 *  - Calls block (the daemon answers promptly); p2p_conn_set_timeout() bounds
 *    the wait for a reply (default 30 s, -ETIMEDOUT).
 */
#ifndef P2PCLIENT_H
#define P2PCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(P2P_BUILDING_LIB)
#define P2P_EXPORT __attribute__((visibility("default")))
#else
#define P2P_EXPORT
#endif

struct p2p_conn;

/* Buffer types (bit mask for p2p_alloc_req.types). */
enum p2p_buf_type {
	P2P_BUF_P2P = 1u << 0,	 /* dma-buf in a PCIe device's BAR (p2pbroker.ko) */
	P2P_BUF_HOST = 1u << 1,	 /* dma-buf of system pages */
	P2P_BUF_MEMFD = 1u << 2, /* sealed memfd, NOT a dma-buf (last resort) */
};
#define P2P_BUF_ANY_DMABUF (P2P_BUF_P2P | P2P_BUF_HOST)

#define P2P_BDF_LEN 24
#define P2P_NAME_LEN 64

/*
 * p2p_connect() - connect to p2pd.
 * @path: socket path, or NULL for $P2PD_SOCKET, else /run/p2pd/p2pd.sock.
 * Returns 0 and *ret_conn (free with p2p_disconnect()), or -errno
 * (-ENOENT/-ECONNREFUSED no daemon, -EACCES socket permissions, -ENOMEM).
 * Does not send hello; call p2p_hello() to check versions.
 */
P2P_EXPORT int p2p_connect(const char *path, struct p2p_conn **ret_conn);

/* Close the connection; the daemon frees this connection's accounting
 * (buffers already received stay valid as long as their fds are open).
 * NULL is fine. */
P2P_EXPORT void p2p_disconnect(struct p2p_conn *conn);

/* The connection's socket (borrowed), e.g. to poll for events. */
P2P_EXPORT int p2p_conn_fd(const struct p2p_conn *conn);

/* Bound the wait for each reply, in milliseconds (0 = forever; p2p_connect()
 * sets 30000).  The library waits in recvmsg() itself, so this also sets the
 * socket's SO_RCVTIMEO.  Returns 0. */
P2P_EXPORT int p2p_conn_set_timeout(struct p2p_conn *conn, int timeout_ms);

struct p2p_hello_info {
	unsigned version;	   /* daemon's protocol version */
	char server[P2P_NAME_LEN]; /* "p2pd 0.1" */
	bool admin;		   /* this connection may use admin calls */
	uint32_t uid, gid, pid;	   /* as the daemon sees this client */
	uint32_t max_message_size; /* largest request the daemon accepts */
};

/* Version handshake.  -EPROTONOSUPPORT when the daemon speaks another version. */
P2P_EXPORT int p2p_hello(struct p2p_conn *conn, struct p2p_hello_info *ret_info);

/* JSON documents (the shapes of p2pctl --json, see p2pd-protocol(7)).
 * *ret_json is a malloc()ed NUL-terminated string. */
P2P_EXPORT int p2p_topology_json(struct p2p_conn *conn, char **ret_json);
P2P_EXPORT int p2p_check_json(struct p2p_conn *conn, const char *provider, const char *client,
			      char **ret_json);
/* As p2p_check_json(); with P2P_CHECK_KERNEL the reply also carries
 * "kernel_live": the running kernel's own verdict (needs p2pbroker.ko). */
#define P2P_CHECK_KERNEL (1u << 0)
P2P_EXPORT int p2p_check_ex_json(struct p2p_conn *conn, const char *provider, const char *client,
				 unsigned flags, char **ret_json);
P2P_EXPORT int p2p_matrix_json(struct p2p_conn *conn, bool all, char **ret_json);

struct p2p_alloc_req {
	uint64_t size;		  /* bytes, > 0 (rounded up to pages by dma-buf backends) */
	const char *provider;	  /* BDF, "auto" or NULL (= "auto") */
	const char *const *peers; /* BDFs that will import the buffer */
	size_t npeers;
	unsigned types; /* accepted P2P_BUF_* (0 = p2p|host) in preference order p2p, host, memfd */
	const char *name; /* optional label, <= 63 bytes */
};

struct p2p_buffer_info {
	uint64_t id;
	enum p2p_buf_type type;
	char type_name[8];	    /* "p2p", "host", "memfd" */
	char backend[16];	    /* "kmod", "udmabuf", "dma-heap", "memfd" */
	char provider[P2P_BDF_LEN]; /* "" for host memory */
	uint64_t size;
	char name[P2P_NAME_LEN];
};

/*
 * p2p_alloc() - ask the daemon for a buffer.
 * Returns 0, fills *ret_info and stores the buffer fd (O_CLOEXEC, caller owns)
 * in *ret_fd; or -errno: -EPERM policy, -EDQUOT quota, -ENODEV no backend for
 * the accepted types / unknown device, -EINVAL bad request, -EPROTO a reply
 * that is malformed or whose fd is smaller than the size it claims (the fd
 * is closed).
 * @ret_json: if non-NULL, the full reply object (with per-peer verdicts).
 */
P2P_EXPORT int p2p_alloc(struct p2p_conn *conn, const struct p2p_alloc_req *req,
			 struct p2p_buffer_info *ret_info, int *ret_fd, char **ret_json);

/* Tell the daemon this connection is done with buffer @id.  The fd stays the
 * caller's to close; the buffer counts against the uid's quota until every
 * fd and mapping of it is gone. */
P2P_EXPORT int p2p_release(struct p2p_conn *conn, uint64_t id);

/*
 * p2p_release_nowait() - the same without waiting for the answer: the request
 * is sent and the call returns, so alloc+release costs one round trip.  The
 * answer is read by the next call on @conn that reads anything (any request,
 * p2p_next_event(), p2p_flush()).  If the release failed (say -ENOENT: no
 * such buffer), the next p2p_release_nowait() or p2p_flush() after the
 * failure was read returns that -errno, with p2p_last_message() naming it;
 * only the first failure is kept.
 * When p2p_hello() saw the daemon's "release-noreply" feature the daemon
 * answers such a release only when it fails (the socket is looked at before
 * every 16 of them, so failures never pile up); otherwise at most 64 are in
 * flight and the 65th waits for the oldest answer.  Either way the release
 * is sent before the call returns: the memory goes back now, not at the
 * next request.  Returns 0, an earlier release's error, or -errno when
 * sending failed.
 */
P2P_EXPORT int p2p_release_nowait(struct p2p_conn *conn, uint64_t id);

/* Wait until every earlier p2p_release_nowait() was handled (its answer read,
 * or for no-reply releases one sync request answered); 0, or the first
 * failure. */
P2P_EXPORT int p2p_flush(struct p2p_conn *conn);

/* This connection's live buffers: *ret_bufs (malloc()ed array, caller frees)
 * and *ret_n; or as JSON. */
P2P_EXPORT int p2p_list(struct p2p_conn *conn, struct p2p_buffer_info **ret_bufs, size_t *ret_n);
P2P_EXPORT int p2p_list_json(struct p2p_conn *conn, char **ret_json);

/* Admin calls (uid 0 or the daemon's admin group, else -EPERM). */
P2P_EXPORT int p2p_admin_clients_json(struct p2p_conn *conn, char **ret_json);
P2P_EXPORT int p2p_admin_buffers_json(struct p2p_conn *conn, char **ret_json);
P2P_EXPORT int p2p_admin_stats_json(struct p2p_conn *conn, char **ret_json);
P2P_EXPORT int p2p_admin_revoke(struct p2p_conn *conn, uint64_t id);
/* Reload config and topology; on failure the old config stays in force and
 * p2p_last_message() says why. */
P2P_EXPORT int p2p_admin_reload(struct p2p_conn *conn);

/* Raw request: @opcode with @json_request ("{}" when NULL); *ret_json gets the
 * reply.  For tools and tests. */
P2P_EXPORT int p2p_request_json(struct p2p_conn *conn, unsigned opcode, const char *json_request,
				char **ret_json);

struct p2p_event {
	char event[16]; /* "revoked" */
	uint64_t id;	/* the buffer */
	char reason[128];
};

/*
 * p2p_next_event() - take one queued event (events that arrived while waiting
 * for replies, or now readable on the socket without blocking).
 * Returns 1 with *ret filled, 0 when none, or -errno.
 */
P2P_EXPORT int p2p_next_event(struct p2p_conn *conn, struct p2p_event *ret);

/* The daemon's message for the last failed request on @conn ("" if none). */
P2P_EXPORT const char *p2p_last_message(const struct p2p_conn *conn);

/* Static description of a return value (-EDQUOT -> "quota exceeded"). */
P2P_EXPORT const char *p2p_strerror(int err);

/* "p2p", "host", "memfd"; NULL for anything else. */
P2P_EXPORT const char *p2p_buf_type_name(enum p2p_buf_type t);

/*
 * P2P I/O: storage straight into device memory (the vendor-neutral
 * cuFileRead/cuFileWrite).  A struct p2p_buffer is a CPU mapping of a buffer
 * fd (a dma-buf from p2p_alloc(), or a memfd).  Calls on one struct
 * p2p_buffer are thread-safe (they share nothing but the mapping);
 * concurrent calls on overlapping ranges race on the data, as pread does.
 */
struct p2p_buffer;

/*
 * p2p_buffer_map() - map @size bytes of the buffer @fd (borrowed: the library
 * keeps its own O_CLOEXEC duplicate until p2p_buffer_unmap()).
 * Returns 0 and *ret_buf, or -errno (-EINVAL, -ENOMEM, mmap's -ENODEV for a
 * revoked buffer).
 */
P2P_EXPORT int p2p_buffer_map(int fd, uint64_t size, struct p2p_buffer **ret_buf);
/* Unmap and close the library's duplicate; NULL is fine. */
P2P_EXPORT void p2p_buffer_unmap(struct p2p_buffer *buf);
/* The mapping (valid until p2p_buffer_unmap()) and its size. */
P2P_EXPORT void *p2p_buffer_data(const struct p2p_buffer *buf);
P2P_EXPORT uint64_t p2p_buffer_size(const struct p2p_buffer *buf);

/* Fail rather than bounce anything through host memory. */
#define P2P_IO_DIRECT_ONLY (1u << 0)
/* Bounce everything (GPUDirect Storage's force_compat_mode), e.g. to compare. */
#define P2P_IO_BOUNCE (1u << 1)

/* Which path a p2p_buffer_pread()/p2p_buffer_pwrite() call took. */
struct p2p_io_stats {
	uint64_t bytes_direct;	/* moved by the device to/from the buffer (O_DIRECT) */
	uint64_t bytes_bounced; /* copied through host memory (the page cache) */
	int direct_error;	/* why (part of) the range was bounced: 0 none;
				 * -EREMOTEIO the kernel refuses this pair;
				 * -EOPNOTSUPP kernel without p2p I/O (< 6.2);
				 * -EFAULT the mapping cannot be pinned (not p2p
				 * pages on this kernel); -EINVAL no direct I/O
				 * for this file or offsets out of phase; other
				 * -errno from reopening the file O_DIRECT */
};

/*
 * p2p_buffer_pread() - read @len bytes of @fd (borrowed, readable; a regular
 * file or block device) at @file_off into @buf at @buf_off, like pread(2) and
 * cuFileRead().  The part aligned to the file's direct-I/O alignment (statx
 * STATX_DIOALIGN, or the logical block size) goes direct: O_DIRECT on @fd
 * (reopened through /proc/self/fd when not opened so), so on kernels >= 6.2 a
 * p2p buffer near the NVMe receives the data by DMA and no host memory or
 * page cache is used.  Unaligned heads and tails, kernels without p2p I/O and
 * pairs the kernel refuses (EREMOTEIO) are bounced through the page cache,
 * unless @flags has P2P_IO_DIRECT_ONLY, which fails instead (P2P_IO_BOUNCE
 * bounces everything; not both).  @buf_off and
 * @file_off must be equally misaligned for any byte to go direct.
 * *ret_stats (may be NULL), written on success, says which path ran.
 * Returns the bytes read (fewer than @len only at end of file), or -errno:
 * -EINVAL bad range or flags (or, with P2P_IO_DIRECT_ONLY, a range that is not
 * aligned), -EREMOTEIO / -EOPNOTSUPP / -EFAULT with P2P_IO_DIRECT_ONLY (see
 * struct p2p_io_stats), -EFAULT a revoked buffer, or the I/O's own error.
 */
P2P_EXPORT int64_t p2p_buffer_pread(struct p2p_buffer *buf, uint64_t buf_off, int fd,
				    uint64_t file_off, size_t len, unsigned flags,
				    struct p2p_io_stats *ret_stats);
/* p2p_buffer_pwrite() - the reverse: write @len bytes of @buf at @buf_off to
 * @fd (borrowed, writable) at @file_off; same paths, flags and returns. */
P2P_EXPORT int64_t p2p_buffer_pwrite(struct p2p_buffer *buf, uint64_t buf_off, int fd,
				     uint64_t file_off, size_t len, unsigned flags,
				     struct p2p_io_stats *ret_stats);

enum p2p_log_level { P2P_LOG_ERROR = 3, P2P_LOG_WARNING = 4, P2P_LOG_DEBUG = 7 };
typedef void (*p2p_log_fn)(enum p2p_log_level level, const char *msg, void *userdata);
/* Install a process-wide log handler (NULL = silent, the default). */
P2P_EXPORT void p2p_set_log_handler(p2p_log_fn fn, void *userdata);

#ifdef __cplusplus
}
#endif
#endif /* P2PCLIENT_H */
