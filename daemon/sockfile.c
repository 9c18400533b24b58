/* SPDX-License-Identifier: MIT */
/*
 * sockfile.c - p2pd's listening socket file (see sockfile.h).
 */
#include "sockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Is a p2pd (or anyone) listening on the socket at @sa?  Never blocks.
 * Returns 1 live, 0 stale (nobody listens), -errno when it cannot tell. */
static int sockfile_probe(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), r;

	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (r == 0 || errno == EAGAIN || errno == EINPROGRESS)
		r = 1; /* accepted, or a listener whose backlog is full */
	else if (errno == ECONNREFUSED)
		r = 0;
	else
		r = -errno;
	close(fd);
	return r;
}

/* The socket's directory: create it when missing, refuse one others may
 * write to. */
static int sockfile_dir(const char *path, char *why, size_t whylen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		int r = -errno;

		snprintf(why, whylen, "mkdir %s: %s", dir, strerror(-r));
		return r;
	}
	if (stat(dir, &st) < 0) {
		int r = -errno;

		snprintf(why, whylen, "%s: %s", dir, strerror(-r));
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "%s: not a directory", dir);
		return -ENOTDIR;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(why, whylen,
			 "%s is writable by others (mode %04o): anyone could replace the socket; "
			 "use a directory only root (or p2pd's user) may write to",
			 dir, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* What is at @path now may be replaced: nothing, or a stale socket. */
static int sockfile_clear(const struct sockaddr_un *sa, char *why, size_t whylen)
{
	const char *path = sa->sun_path;
	struct stat st;
	int r;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		snprintf(why, whylen, "%s: %s", path, strerror(-r));
		return r;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, whylen, "%s exists and is not a socket (%s): not replacing it", path,
			 S_ISLNK(st.st_mode)   ? "a symlink"
			 : S_ISDIR(st.st_mode) ? "a directory"
			 : S_ISREG(st.st_mode) ? "a regular file"
					       : "another kind of file");
		return -EEXIST;
	}
	r = sockfile_probe(sa);
	if (r > 0) {
		snprintf(why, whylen, "%s: another p2pd is listening there", path);
		return -EADDRINUSE;
	}
	if (r < 0) {
		snprintf(why, whylen, "%s: cannot tell whether it is in use: %s", path,
			 strerror(-r));
		return r;
	}
	/* a stale socket of a dead p2pd */
	if (unlink(path) < 0 && errno != ENOENT) {
		r = -errno;
		snprintf(why, whylen, "remove stale socket %s: %s", path, strerror(-r));
		return r;
	}
	return 0;
}

int sockfile_bind(const char *path, mode_t mode, bool set_gid, gid_t gid, char *why, size_t whylen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t old_umask;
	int fd, r;

	if (!path || !path[0] || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, whylen, "socket path empty or too long: %s", path ? path : "");
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	r = sockfile_dir(path, why, whylen);
	if (r < 0)
		return r;
	r = sockfile_clear(&sa, why, whylen);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(why, whylen, "socket: %s", strerror(-r));
		return r;
	}
	/* the file is born with its mode: no chmod that could follow a link */
	old_umask = umask(~mode & 0777);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old_umask);
	if (r < 0) {
		snprintf(why, whylen, "bind %s: %s", path, strerror(-r));
		close(fd);
		return r;
	}
	why[0] = '\0';
	if (set_gid && fchownat(AT_FDCWD, path, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) < 0)
		snprintf(why, whylen, "%s: cannot set group %u: %s", path, (unsigned)gid,
			 strerror(errno)); /* a warning: the socket works, for fewer users */
	if (listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		snprintf(why, whylen, "listen %s: %s", path, strerror(-r));
		close(fd);
		unlink(path);
		return r;
	}
	return fd;
}
