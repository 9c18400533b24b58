/* SPDX-License-Identifier: MIT */
/*
 * test-sockfile.c - p2pd's socket file (daemon/sockfile.c): only a stale
 * socket is ever replaced (a mistyped --socket must not delete a file, nor
 * follow a symlink), the probe of a live socket cannot hang (full backlog),
 * the file is born with its mode, and a directory others may write to is
 * refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sockfile.h"

struct fix {
	char dir[40];
	char path[100];
	char why[512];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-sockfile.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/p2pd.sock", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", f->dir);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static bool file_is(const char *path, const char *text)
{
	char buf[256] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n == (ssize_t)strlen(text) && memcmp(buf, text, (size_t)n) == 0;
}

/* A socket bound at @path; @backlog < 0: bound but not listening. */
static int bound_at(const char *path, int backlog)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (backlog >= 0)
		assert_int_equal(listen(fd, backlog), 0);
	return fd;
}

static void test_fresh(void **state)
{
	struct fix *f = *state;
	struct stat st;
	char sub[160];
	int fd;

	fd = sockfile_bind(f->path, 0660, false, 0, f->why, sizeof(f->why));
	assert_true(fd >= 0);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660); /* whatever the umask */
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
	/* a missing directory is created */
	snprintf(sub, sizeof(sub), "%s/run/p2pd.sock", f->dir);
	fd = sockfile_bind(sub, 0600, false, 0, f->why, sizeof(f->why));
	assert_true(fd >= 0);
	assert_int_equal(lstat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	close(fd);
}

static void test_never_deletes_other_files(void **state)
{
	struct fix *f = *state;
	char target[160];

	/* a mistyped --socket naming the config */
	write_file(f->path, "{\"precious\": true}");
	assert_int_equal(sockfile_bind(f->path, 0660, false, 0, f->why, sizeof(f->why)), -EEXIST);
	assert_non_null(strstr(f->why, "not a socket"));
	assert_true(file_is(f->path, "{\"precious\": true}"));
	unlink(f->path);

	/* a symlink (to a file, or to a stale socket) is not followed */
	snprintf(target, sizeof(target), "%s/target", f->dir);
	write_file(target, "keep");
	assert_int_equal(symlink(target, f->path), 0);
	assert_int_equal(sockfile_bind(f->path, 0660, false, 0, f->why, sizeof(f->why)), -EEXIST);
	assert_true(file_is(target, "keep"));
	struct stat st;
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));

	/* a directory */
	unlink(f->path);
	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_int_equal(sockfile_bind(f->path, 0660, false, 0, f->why, sizeof(f->why)), -EEXIST);
}

static void test_stale_and_live(void **state)
{
	struct fix *f = *state;
	int old, fd;

	/* a dead p2pd's socket: nobody listens, it is replaced */
	old = bound_at(f->path, -1);
	close(old);
	fd = sockfile_bind(f->path, 0660, false, 0, f->why, sizeof(f->why));
	assert_true(fd >= 0);
	/* now a live one: refused, and left in place */
	assert_int_equal(sockfile_bind(f->path, 0660, false, 0, f->why, sizeof(f->why)),
			 -EADDRINUSE);
	assert_non_null(strstr(f->why, "listening"));
	close(fd);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A listener whose backlog is full: a blocking probe would hang start-up. */
static void test_full_backlog_does_not_hang(void **state)
{
	struct fix *f = *state;
	int lfd = bound_at(f->path, 0), status = -1, filled = 0;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int conns[64];
	double t0;
	pid_t pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	for (int i = 0; i < 64; i++) {
		int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		assert_true(c >= 0);
		if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			assert_int_equal(errno, EAGAIN);
			close(c);
			break;
		}
		conns[filled++] = c;
	}
	assert_true(filled < 64); /* the backlog is full now */
	t0 = now_s();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char why[512];
		int r = sockfile_bind(f->path, 0660, false, 0, why, sizeof(why));

		_exit(r == -EADDRINUSE ? 0 : 1);
	}
	while (now_s() - t0 < 5) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(10000);
	}
	if (waitpid(pid, &status, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fail_msg("sockfile_bind() hung on a listener with a full backlog");
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0); /* live: -EADDRINUSE */
	assert_true(now_s() - t0 < 2);
	for (int i = 0; i < filled; i++)
		close(conns[i]);
	close(lfd);
}

static void test_dir_writable_by_others(void **state)
{
	struct fix *f = *state;
	int fd;

	assert_int_equal(chmod(f->dir, 0777), 0);
	assert_int_equal(sockfile_bind(f->path, 0660, false, 0, f->why, sizeof(f->why)), -EPERM);
	assert_non_null(strstr(f->why, "writable by others"));
	assert_int_equal(chmod(f->dir, 01777), 0); /* sticky does not help */
	assert_int_equal(sockfile_bind(f->path, 0660, false, 0, f->why, sizeof(f->why)), -EPERM);
	assert_int_equal(chmod(f->dir, 0755), 0);
	fd = sockfile_bind(f->path, 0660, false, 0, f->why, sizeof(f->why));
	assert_true(fd >= 0);
	close(fd);
}

static void test_group(void **state)
{
	struct fix *f = *state;
	struct stat st;
	int fd;

	fd = sockfile_bind(f->path, 0660, true, getgid(), f->why, sizeof(f->why));
	assert_true(fd >= 0);
	assert_string_equal(f->why, "");
	assert_int_equal(lstat(f->path, &st), 0);
	assert_int_equal(st.st_gid, getgid());
	close(fd);
	/* too long a path */
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(sockfile_bind(longp, 0660, false, 0, f->why, sizeof(f->why)),
			 -ENAMETOOLONG);
}

/* The directory: missing parents, a file where the directory should be. */
static void test_dir_errors(void **state)
{
	struct fix *f = *state;
	char path[200];

	snprintf(path, sizeof(path), "%s/no/such/p2pd.sock", f->dir);
	assert_int_equal(sockfile_bind(path, 0660, false, 0, f->why, sizeof(f->why)), -ENOENT);
	assert_non_null(strstr(f->why, "mkdir "));
	assert_non_null(strstr(f->why, "/no/such"));

	snprintf(path, sizeof(path), "%s/file", f->dir);
	write_file(path, "x");
	snprintf(path, sizeof(path), "%s/file/p2pd.sock", f->dir);
	assert_int_equal(sockfile_bind(path, 0660, false, 0, f->why, sizeof(f->why)), -ENOTDIR);
	assert_non_null(strstr(f->why, "not a directory"));

	/* the directory is a dangling symlink: mkdir sees it exists, stat
	 * cannot follow it; nothing is created at its target */
	{
		char link[160], target[160];

		snprintf(link, sizeof(link), "%s/dangling", f->dir);
		snprintf(target, sizeof(target), "%s/gone", f->dir);
		assert_int_equal(symlink(target, link), 0);
		snprintf(path, sizeof(path), "%s/p2pd.sock", link);
		assert_int_equal(sockfile_bind(path, 0660, false, 0, f->why, sizeof(f->why)),
				 -ENOENT);
		assert_non_null(strstr(f->why, "/dangling: "));
		assert_int_equal(access(target, F_OK), -1);
		unlink(link);
	}
}

/* Other kinds of file at the path are left alone and named. */
static void test_fifo_left_alone(void **state)
{
	struct fix *f = *state;
	struct stat st;

	assert_int_equal(mkfifo(f->path, 0600), 0);
	assert_int_equal(sockfile_bind(f->path, 0660, false, 0, f->why, sizeof(f->why)), -EEXIST);
	assert_non_null(strstr(f->why, "another kind of file"));
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	unlink(f->path);
	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_int_equal(sockfile_bind(f->path, 0660, false, 0, f->why, sizeof(f->why)), -EEXIST);
	assert_non_null(strstr(f->why, "(a directory)"));
}

/* A socket of another type listens there: the probe cannot tell whether a
 * p2pd uses it, so it is neither replaced nor taken as stale. */
static void test_probe_cannot_tell(void **state)
{
	struct fix *f = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct stat before, after;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(lstat(f->path, &before), 0);
	assert_int_equal(sockfile_bind(f->path, 0660, false, 0, f->why, sizeof(f->why)),
			 -EPROTOTYPE);
	assert_non_null(strstr(f->why, "cannot tell whether it is in use"));
	assert_int_equal(lstat(f->path, &after), 0);
	assert_true(before.st_ino == after.st_ino);
	close(l);
}

/* A bare file name binds in the current directory. */
static void test_relative_path(void **state)
{
	struct fix *f = *state;
	char cwd[512];
	struct stat st;
	int fd;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	fd = sockfile_bind("p2pd.sock", 0600, false, 0, f->why, sizeof(f->why));
	assert_int_equal(chdir(cwd), 0);
	assert_true(fd >= 0);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	close(fd);
}

/* bind() itself failing (no socket files in /proc) is reported, nothing left. */
static void test_bind_fails(void **state)
{
	struct fix *f = *state;
	int r = sockfile_bind("/proc/p2pd-test.sock", 0660, false, 0, f->why, sizeof(f->why));

	assert_true(r < 0);
	assert_non_null(strstr(f->why, "bind /proc/p2pd-test.sock: "));
	assert_int_equal(access("/proc/p2pd-test.sock", F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_fresh, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_never_deletes_other_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_and_live, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_backlog_does_not_hang, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dir_writable_by_others, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dir_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fifo_left_alone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_probe_cannot_tell, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_relative_path, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bind_fails, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
