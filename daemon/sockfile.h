/* SPDX-License-Identifier: MIT */
/*
 * sockfile.h - p2pd's own listening socket at a path (when not
 * socket-activated): what may be at that path before, and how the new
 * socket file gets its mode and group.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/*
 * sockfile_bind() - a listening SOCK_SEQPACKET Unix socket (CLOEXEC,
 * non-blocking) at @path:
 *  - the directory is created (0755) when missing; a directory writable by
 *    others is refused (-EPERM): anyone could replace the socket there;
 *  - an existing entry is replaced only when it is a socket (lstat, so
 *    never through a symlink) and nothing listens on it: the probe connects
 *    without blocking, so a listener with a full backlog counts as live
 *    (-EADDRINUSE) instead of hanging start-up;  anything else at @path
 *    (a file, a symlink, a directory) is left alone (-EEXIST);
 *  - the socket file is created with @mode (umask around bind(), nothing to
 *    chmod afterwards) and, when @set_gid, group @gid (fchownat without
 *    following symlinks; failing that is only a warning in @why).
 * @why/@whylen: on failure one sentence for the log; on success "" or a
 * warning.
 * Returns the fd (>= 0, owned by the caller) or -errno.
 */
int sockfile_bind(const char *path, mode_t mode, bool set_gid, gid_t gid, char *why, size_t whylen);
