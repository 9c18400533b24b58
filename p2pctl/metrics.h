/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - `p2pctl metrics`: p2pd's state in the Prometheus text exposition
 * format (version 0.0.4), for node_exporter's textfile collector
 * (systemd/p2pd-metrics.timer) or any scraper that runs a command.
 */
#pragma once

#include <json-c/json.h>
#include <stdio.h>

/*
 * metrics_write() - print the metrics on @out from p2pd's admin documents:
 * @stats (the stats reply), @buffers (the buffers list), @clients (the clients
 * list, may be NULL), all borrowed; @rootfd (borrowed) is the sysfs root where
 * the kernel's p2pmem size/available of each provider is read; -1 skips that.
 * @up false prints only p2pd_up 0 (the daemon could not be asked).
 * Returns 0, or -EINVAL when a document has the wrong shape.
 */
int metrics_write(FILE *out, int up, struct json_object *stats, struct json_object *buffers,
		  struct json_object *clients, int rootfd);
