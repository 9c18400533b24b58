/* SPDX-License-Identifier: MIT */
/*
 * cdi.h - `p2pctl cdi`: a Container Device Interface spec (kind
 * p2pbroker.io/broker, device "default") that gives a container the p2pd
 * socket: a bind mount of the socket's directory and P2PD_SOCKET. Runtimes
 * (podman, containerd, CRI-O) read it from /etc/cdi or /var/run/cdi.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CDI_KIND "p2pbroker.io/broker"
#define CDI_DEVICE "default"

/*
 * cdi_spec() - the spec for the socket at @socket_path; @has_gid adds @gid as
 * additionalGids (the group the socket admits). cdiVersion is the lowest that
 * has the fields used (0.6.0, or 0.7.0 with additionalGids), so older
 * runtimes accept it too.
 * Returns 0 and a new object in *@ret (caller puts it); -EINVAL when the path
 * is unfit (relative, not normalised, too long for a socket, control
 * characters, or in a directory shared with other things, which would be
 * mounted whole into containers), with a sentence in @err; -ENOMEM.
 */
int cdi_spec(const char *socket_path, bool has_gid, gid_t gid, struct json_object **ret, char *err,
	     size_t errlen);

/*
 * cdi_main() - `p2pctl cdi [group=NAME|GID|none]` (argv[0] is "cdi"): print
 * the spec for @socket_path on stdout. Without group=, the socket's group when
 * the socket exists, else the group "p2p" when it exists, else none.
 * Returns the exit status (0, 1 failed, 2 usage).
 */
int cdi_main(int argc, char **argv, const char *socket_path);
