/* SPDX-License-Identifier: MIT */
/*
 * hotplug.h - PCI hotplug for p2pd: libudev's netlink monitor, filtered to
 * the "pci" subsystem, reports a function appearing, disappearing or changing
 * driver; a burst of such events gives one callback.
 */
#pragma once

struct event_base;
struct hotplug;

#define HOTPLUG_DELAY_MS 200 /* a burst of events gives one callback */

/*
 * hotplug_new() - watch PCI add/remove/bind/unbind events: from udevd
 * ("udev", after its rules ran) when it runs, else straight from the kernel
 * ("kernel"; libudev accepts only the kernel as sender).  @on_change runs on
 * @base's loop HOTPLUG_DELAY_MS after the last event of a burst.
 * Returns 0 and *ret, or -errno (no netlink here, out of memory).
 */
int hotplug_new(struct event_base *base, void (*on_change)(void *userdata), void *userdata,
		struct hotplug **ret);
/* Stop watching; NULL is fine. */
void hotplug_free(struct hotplug *hp);
