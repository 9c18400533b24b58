// SPDX-License-Identifier: MIT
/*
 * cdi.c - the CDI spec for p2pd's socket (cdi.h).
 *
 * The container gets the socket's *directory*, not the socket: p2pd (or
 * systemd's p2pd.socket) recreates the socket on restart, and a bind mount of
 * the old inode would then point nowhere. Read-only is enough: connect(2) on a
 * Unix socket checks write permission on the socket inode, not whether the
 * mount is writable, and the container cannot plant files next to it.
 */
#include "cdi.h"
#include "p2pctl.h"
#include "proto.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#define P2P_DEFAULT_DIR "/run/p2pd" /* dirname(P2P_DEFAULT_SOCKET) */
#define P2P_DEFAULT_GROUP "p2p"	    /* systemd/p2pd.socket SocketGroup= */

/* Directories that hold more than the socket: never mounted into a container. */
static const char *const shared_dirs[] = {
    "/",    "/run",	 "/var/run", "/tmp",  "/var/tmp", "/dev",   "/dev/shm",
    "/etc", "/var",	 "/var/lib", "/home", "/root",	  "/usr",   "/proc",
    "/sys", "/run/user", "/srv",     "/opt",  "/mnt",	  "/media",
};

static int cdi_check_path(const char *path, char *dir, size_t dirlen, char *err, size_t errlen)
{
	const struct sockaddr_un *sun = NULL;
	size_t len = strlen(path);
	const char *slash;

	if (path[0] != '/') {
		snprintf(err, errlen, "the socket path '%s' is not absolute", path);
		return -EINVAL;
	}
	if (len >= sizeof(sun->sun_path)) {
		snprintf(err, errlen,
			 "the socket path is %zu bytes, longer than a Unix socket "
			 "path may be (%zu)",
			 len, sizeof(sun->sun_path) - 1);
		return -EINVAL;
	}
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "the socket path contains a control character");
			return -EINVAL;
		}
	if (strstr(path, "//") || strstr(path, "/./") || strstr(path, "/../") ||
	    path[len - 1] == '/' || (len >= 2 && !strcmp(path + len - 2, "/.")) ||
	    (len >= 3 && !strcmp(path + len - 3, "/.."))) {
		snprintf(err, errlen, "the socket path '%s' is not normalised (//, . or ..)", path);
		return -EINVAL;
	}
	slash = strrchr(path, '/');
	snprintf(dir, dirlen, "%.*s", slash == path ? 1 : (int)(slash - path), path);
	for (size_t i = 0; i < sizeof(shared_dirs) / sizeof(shared_dirs[0]); i++)
		if (!strcmp(dir, shared_dirs[i])) {
			snprintf(
			    err, errlen,
			    "the socket's directory %s would be mounted whole into containers; "
			    "give the socket a directory of its own (default " P2P_DEFAULT_DIR ")",
			    dir);
			return -EINVAL;
		}
	return 0;
}

static int add(struct json_object *o, const char *k, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(o, k, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int push(struct json_object *a, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_array_add(a, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int cdi_spec(const char *socket_path, bool has_gid, gid_t gid, struct json_object **ret, char *err,
	     size_t errlen)
{
	struct json_object *spec, *devices, *dev, *edits, *env, *mounts, *mnt, *opts, *gids;
	static const char *const mount_opts[] = {"bind", "ro", "nosuid", "nodev", "noexec"};
	char dir[PATH_MAX], envvar[PATH_MAX + 32];
	int r = 0;

	r = cdi_check_path(socket_path, dir, sizeof(dir), err, errlen);
	if (r < 0)
		return r;
	snprintf(envvar, sizeof(envvar), "%s=%s", P2P_SOCKET_ENV, socket_path);

	spec = json_object_new_object();
	if (!spec)
		goto nomem;
	r |= add(spec, "cdiVersion", json_object_new_string(has_gid ? "0.7.0" : "0.6.0"));
	r |= add(spec, "kind", json_object_new_string(CDI_KIND));
	r |= add(spec, "devices", devices = json_object_new_array());
	if (r < 0)
		goto nomem;
	r |= push(devices, dev = json_object_new_object());
	if (r < 0)
		goto nomem;
	r |= add(dev, "name", json_object_new_string(CDI_DEVICE));
	r |= add(dev, "containerEdits", edits = json_object_new_object());
	if (r < 0)
		goto nomem;
	r |= add(edits, "env", env = json_object_new_array());
	r |= add(edits, "mounts", mounts = json_object_new_array());
	if (r < 0)
		goto nomem;
	r |= push(env, json_object_new_string(envvar));
	r |= push(mounts, mnt = json_object_new_object());
	if (r < 0)
		goto nomem;
	r |= add(mnt, "hostPath", json_object_new_string(dir));
	r |= add(mnt, "containerPath", json_object_new_string(dir));
	r |= add(mnt, "type", json_object_new_string("bind"));
	r |= add(mnt, "options", opts = json_object_new_array());
	if (r < 0)
		goto nomem;
	for (size_t i = 0; i < sizeof(mount_opts) / sizeof(mount_opts[0]); i++)
		r |= push(opts, json_object_new_string(mount_opts[i]));
	if (has_gid) {
		r |= add(edits, "additionalGids", gids = json_object_new_array());
		if (r == 0)
			r |= push(gids, json_object_new_int64(gid));
	}
	if (r < 0)
		goto nomem;
	*ret = spec;
	return 0;
nomem:
	json_object_put(spec);
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

/* "NAME" or a number into *@ret. Returns 0 or -ENOENT. */
static int cdi_group(const char *name, gid_t *ret)
{
	char buf[16384], *end;
	struct group gr, *res = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(name, &end, 10);
	if (*name && !*end && !errno && v < UINT32_MAX) {
		*ret = (gid_t)v;
		return 0;
	}
	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || !res)
		return -ENOENT;
	*ret = res->gr_gid;
	return 0;
}

int cdi_main(int argc, char **argv, const char *socket_path)
{
	struct json_object *spec;
	bool has_gid = false;
	char err[PATH_MAX + 200];
	struct stat st;
	gid_t gid = 0;

	if (argc > 2 || (argc == 2 && strncmp(argv[1], "group=", 6))) {
		p2pctl_err("usage: p2pctl [--socket PATH] cdi [group=NAME|GID|none]");
		return 2;
	}
	if (argc == 2 && strcmp(argv[1] + 6, "none")) {
		if (cdi_group(argv[1] + 6, &gid) < 0) {
			p2pctl_err("cdi: no group '%s' on this machine", argv[1] + 6);
			return 2;
		}
		if (gid == 0) {
			p2pctl_err("cdi: group 0 would give containers root's group; name the "
				   "group the socket admits (p2p)");
			return 2;
		}
		has_gid = true;
	} else if (argc == 1) {
		/* The group that the running socket admits, else the packaged one. */
		if (stat(socket_path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_gid != 0)
			gid = st.st_gid, has_gid = true;
		else
			has_gid = cdi_group(P2P_DEFAULT_GROUP, &gid) == 0;
	}
	int r = cdi_spec(socket_path, has_gid, gid, &spec, err, sizeof(err));
	if (r < 0) {
		p2pctl_err("cdi: %s", err);
		return r == -EINVAL ? 2 : 1;
	}
	p2pctl_print_json(stdout, spec);
	json_object_put(spec);
	return fflush(stdout) == 0 ? 0 : 1;
}
