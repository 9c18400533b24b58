/* SPDX-License-Identifier: MIT */
/*
 * hotplug.c - PCI hotplug events through libudev (see hotplug.h).
 */
#include "hotplug.h"

#include <errno.h>
#include <event2/event.h>
#include <libudev.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOTPLUG_BATCH 64 /* events read per wakeup */

struct hotplug {
	struct udev *udev;
	struct udev_monitor *mon;
	struct event *ev_read, *ev_delay;
	void (*on_change)(void *userdata);
	void *userdata;
};

/* Does this action change the topology or who drives a function? */
static bool hotplug_action_matters(const char *action)
{
	static const char *const actions[] = {"add", "remove", "bind", "unbind"};

	for (size_t i = 0; action && i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(action, actions[i]) == 0)
			return true;
	return false;
}

static void hotplug_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct hotplug *hp = arg;
	bool change = false;

	(void)fd;
	(void)what;
	for (int i = 0; i < HOTPLUG_BATCH; i++) {
		struct udev_device *d;

		errno = 0;
		d = udev_monitor_receive_device(hp->mon);
		if (!d) {
			if (errno == ENOBUFS) /* overrun: some were lost, rescan anyway */
				change = true;
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
				break;
			continue; /* one bad message (wrong sender, filtered out) */
		}
		if (hotplug_action_matters(udev_device_get_action(d)))
			change = true;
		udev_device_unref(d);
	}
	if (change) {
		struct timeval tv = {0, HOTPLUG_DELAY_MS * 1000};

		evtimer_add(hp->ev_delay, &tv);
	}
}

static void hotplug_on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct hotplug *hp = arg;

	(void)fd;
	(void)what;
	hp->on_change(hp->userdata);
}

int hotplug_new(struct event_base *base, void (*on_change)(void *userdata), void *userdata,
		struct hotplug **ret)
{
	struct hotplug *hp = calloc(1, sizeof(*hp));
	/* udevd announces itself with its control socket */
	const char *source = access("/run/udev/control", F_OK) == 0 ? "udev" : "kernel";
	int r = -ENOMEM;

	if (!hp)
		return -ENOMEM;
	hp->on_change = on_change;
	hp->userdata = userdata;
	hp->udev = udev_new();
	if (!hp->udev)
		goto fail;
	errno = 0;
	hp->mon = udev_monitor_new_from_netlink(hp->udev, source);
	if (!hp->mon) {
		r = errno ? -errno : -EPROTONOSUPPORT;
		goto fail;
	}
	r = udev_monitor_filter_add_match_subsystem_devtype(hp->mon, "pci", NULL);
	if (r >= 0)
		r = udev_monitor_enable_receiving(hp->mon);
	if (r < 0)
		goto fail;
	hp->ev_read = event_new(base, udev_monitor_get_fd(hp->mon), EV_READ | EV_PERSIST,
				hotplug_on_read, hp);
	hp->ev_delay = evtimer_new(base, hotplug_on_delay, hp);
	r = -ENOMEM;
	if (!hp->ev_read || !hp->ev_delay || event_add(hp->ev_read, NULL) < 0)
		goto fail;
	*ret = hp;
	return 0;
fail:
	hotplug_free(hp);
	return r;
}

void hotplug_free(struct hotplug *hp)
{
	if (!hp)
		return;
	if (hp->ev_read)
		event_free(hp->ev_read);
	if (hp->ev_delay)
		event_free(hp->ev_delay);
	udev_monitor_unref(hp->mon);
	udev_unref(hp->udev);
	free(hp);
}
