/* SPDX-License-Identifier: MIT */
/*
 * test-hotplug.c - daemon/hotplug.c on this machine's kernel: a synthetic
 * PCI "add" uevent gives exactly one callback, HOTPLUG_DELAY_MS later, for a
 * whole burst; a "change" (no topology or driver change) gives none; and a
 * monitor that cannot get a socket fails with that errno, leaking nothing.
 * Needs root and a PCI function whose uevent file takes writes (as the
 * integration tier's t_hotplug); without one it fails, saying why.
 */
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hotplug.h"

struct seen {
	int calls;
	double first_ms;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void on_change(void *userdata)
{
	struct seen *s = userdata;

	if (!s->calls++)
		s->first_ms = now_ms();
}

/* The uevent file of the first PCI function, or fail the test. */
static void pci_uevent(char *path, size_t size)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e = NULL;

	if (!d)
		fail_msg("no /sys/bus/pci/devices on this machine: cannot test hotplug");
	while ((e = readdir(d)) && e->d_name[0] == '.')
		;
	if (!e)
		fail_msg("no PCI function on this machine: cannot test hotplug");
	snprintf(path, size, "/sys/bus/pci/devices/%s/uevent", e->d_name);
	closedir(d);
}

static void uevent(const char *path, const char *action)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, action, strlen(action)) != (ssize_t)strlen(action))
		fail_msg("cannot write %s to %s (%s): cannot synthesize a uevent", action, path,
			 strerror(errno));
	close(fd);
}

/* Run @base's loop for @ms. */
static void run_for(struct event_base *base, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void test_burst_gives_one_callback(void **state)
{
	struct event_base *base = event_base_new();
	struct hotplug *hp = NULL;
	struct seen s = {0};
	char path[300];
	double t0;

	(void)state;
	pci_uevent(path, sizeof(path));
	assert_int_equal(hotplug_new(base, on_change, &s, &hp), 0);
	/* a change of attributes only: nothing to rescan */
	uevent(path, "change");
	run_for(base, 3 * HOTPLUG_DELAY_MS);
	assert_int_equal(s.calls, 0);
	/* three adds in a burst: one callback, after the burst settled */
	t0 = now_ms();
	uevent(path, "add");
	uevent(path, "add");
	uevent(path, "add");
	run_for(base, 4 * HOTPLUG_DELAY_MS);
	assert_int_equal(s.calls, 1);
	assert_true(s.first_ms - t0 >= HOTPLUG_DELAY_MS * 0.9);
	/* and again for the next one */
	uevent(path, "add");
	run_for(base, 3 * HOTPLUG_DELAY_MS);
	assert_int_equal(s.calls, 2);
	hotplug_free(hp);
	hotplug_free(NULL);
	event_base_free(base);
}

/* No fd left for the netlink socket: the errno comes back, nothing leaks
 * (ASan/valgrind), the fd limit is restored. */
static void test_no_socket(void **state)
{
	struct event_base *base = event_base_new();
	struct hotplug *hp = (struct hotplug *)&hp;
	struct rlimit old, lim;
	struct seen s = {0};
	int next = open("/dev/null", O_RDONLY | O_CLOEXEC);

	(void)state;
	assert_true(next >= 0);
	close(next);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)next; /* every fd below @next is taken */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	int r = hotplug_new(base, on_change, &s, &hp);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(r, -EMFILE);
	assert_true(hp == (struct hotplug *)&hp); /* untouched */
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_gives_one_callback),
	    cmocka_unit_test(test_no_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
