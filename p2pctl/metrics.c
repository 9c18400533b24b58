// SPDX-License-Identifier: MIT
/*
 * metrics.c - p2pd's state as Prometheus text (metrics.h).
 *
 * Names follow the Prometheus conventions: the p2pd_ prefix, _total on
 * counters, base units in the name (_bytes, _seconds), every family with
 * # HELP and # TYPE, label values escaped (\\, \" and \n). Live buffers are
 * summed from the buffers list by (type, provider); the p2p memory of each
 * provider is the kernel's own account (sysfs p2pmem/size and available).
 */
#include "metrics.h"

#include "json.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void label_put(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample of a family whose value comes from stats[@key]. */
static void stat_sample(FILE *out, struct json_object *stats, const char *name, const char *type,
			const char *help, const char *key, int64_t scale)
{
	int64_t v = json_get_i64(stats, key, INT64_MIN);

	if (v == INT64_MIN) /* absent (or not an integer) */
		return;
	family(out, name, type, help);
	fprintf(out, "%s %" PRId64 "\n", name, v * scale);
}

struct bucket {
	const char *type, *provider;
	int64_t buffers, bytes;
};

static void buffers_by(FILE *out, struct json_object *buffers)
{
	size_t n = json_object_array_length(buffers), nb = 0;
	struct bucket *b = calloc(n + 1, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < n; i++) {
		struct json_object *x = json_object_array_get_idx(buffers, i);
		const char *type = json_get_str(x, "type", "unknown"),
			   *prov = json_get_str(x, "provider", "");
		int64_t size = json_get_i64(x, "size", 0);
		size_t k;

		for (k = 0; k < nb; k++)
			if (!strcmp(b[k].type, type) && !strcmp(b[k].provider, prov))
				break;
		if (k == nb) {
			b[nb].type = type;
			b[nb++].provider = prov;
		}
		b[k].buffers++;
		b[k].bytes += size;
	}
	family(out, "p2pd_buffers", "gauge",
	       "Live buffers by type (p2p, host, memfd) and provider device (\"\" = none).");
	for (size_t k = 0; k < nb; k++) {
		fputs("p2pd_buffers{type=\"", out);
		label_put(out, b[k].type);
		fputs("\",provider=\"", out);
		label_put(out, b[k].provider);
		fprintf(out, "\"} %" PRId64 "\n", b[k].buffers);
	}
	family(out, "p2pd_buffers_bytes", "gauge", "Bytes in live buffers by type and provider.");
	for (size_t k = 0; k < nb; k++) {
		fputs("p2pd_buffers_bytes{type=\"", out);
		label_put(out, b[k].type);
		fputs("\",provider=\"", out);
		label_put(out, b[k].provider);
		fprintf(out, "\"} %" PRId64 "\n", b[k].bytes);
	}
	free(b);
}

/* sysfs p2pmem/<name> of device @bdf as a number, or -1. */
static int64_t p2pmem_read(int devsfd, const char *bdf, const char *name)
{
	char path[300], buf[32];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/p2pmem/%s", bdf, name);
	fd = openat(devsfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *end;
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	if (errno || end == buf || v < 0)
		return -1;
	return v;
}

/* Every function with a p2pmem directory is a provider the kernel knows. */
static void p2pmem(FILE *out, int rootfd)
{
	int devsfd = openat(rootfd, "sys/bus/pci/devices", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int dupfd;
	DIR *d;
	struct dirent *e;
	bool first = true;

	if (devsfd < 0)
		return;
	dupfd = fcntl(devsfd, F_DUPFD_CLOEXEC, 0);
	d = dupfd >= 0 ? fdopendir(dupfd) : NULL;
	if (!d) {
		if (dupfd >= 0)
			close(dupfd);
		close(devsfd);
		return;
	}
	for (int pass = 0; pass < 2; pass++) {
		const char *name = pass ? "p2pd_p2pmem_available_bytes" : "p2pd_p2pmem_size_bytes";
		rewinddir(d);
		first = true;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			int64_t v = p2pmem_read(devsfd, e->d_name, pass ? "available" : "size");
			if (v < 0)
				continue;
			if (first)
				family(
				    out, name, "gauge",
				    pass
					? "Free p2p memory of a provider device (kernel "
					  "p2pmem/available)."
					: "p2p memory a provider device registered with the kernel "
					  "(p2pmem/size).");
			first = false;
			fputs(name, out);
			fputs("{provider=\"", out);
			label_put(out, e->d_name);
			fprintf(out, "\"} %" PRId64 "\n", v);
		}
	}
	closedir(d);
	close(devsfd);
}

int metrics_write(FILE *out, int up, struct json_object *stats, struct json_object *buffers,
		  struct json_object *clients, int rootfd)
{
	struct json_object *ref, *be;

	family(out, "p2pd_up", "gauge", "1 when p2pd answered p2pctl metrics, else 0.");
	fprintf(out, "p2pd_up %d\n", up ? 1 : 0);
	if (!up)
		return 0;
	if (!json_object_is_type(stats, json_type_object) ||
	    !json_object_is_type(buffers, json_type_array))
		return -EINVAL;

	stat_sample(out, stats, "p2pd_uptime_seconds", "gauge", "Seconds since p2pd started.",
		    "uptime_s", 1);
	buffers_by(out, buffers);
	stat_sample(out, stats, "p2pd_allocations_total", "counter",
		    "Buffers allocated since p2pd started.", "allocs", 1);
	ref = json_get_object(stats, "alloc_refusals");
	if (ref) {
		family(out, "p2pd_allocation_refusals_total", "counter",
		       "Allocations refused, by reason (invalid, policy, quota, no_memory, "
		       "unavailable).");
		json_object_object_foreach(ref, reason, val)
		{
			fputs("p2pd_allocation_refusals_total{reason=\"", out);
			label_put(out, reason);
			fprintf(out, "\"} %" PRId64 "\n", json_object_get_int64(val));
		}
	}
	stat_sample(out, stats, "p2pd_releases_total", "counter",
		    "Buffers released by their owners.", "releases", 1);
	stat_sample(out, stats, "p2pd_revokes_total", "counter", "Buffers revoked by an admin.",
		    "revokes", 1);
	if (json_object_is_type(clients, json_type_array)) {
		int64_t n = 0;
		for (size_t i = 0; i < json_object_array_length(clients); i++) {
			if (!json_get_bool(json_object_array_get_idx(clients, i), "self", false))
				n++;
		}
		family(out, "p2pd_clients", "gauge",
		       "Connected clients, not counting this p2pctl metrics.");
		fprintf(out, "p2pd_clients %" PRId64 "\n", n);
	}
	stat_sample(out, stats, "p2pd_connections", "gauge",
		    "Open connections (this p2pctl included).", "connections", 1);
	stat_sample(out, stats, "p2pd_connections_total", "counter", "Connections accepted.",
		    "connections_total", 1);
	stat_sample(out, stats, "p2pd_connections_rejected_total", "counter",
		    "Connections refused (caps per uid, total).", "connections_rejected", 1);
	stat_sample(out, stats, "p2pd_requests_total", "counter", "Requests answered.", "requests",
		    1);
	stat_sample(out, stats, "p2pd_request_errors_total", "counter",
		    "Requests answered with an error.", "errors", 1);
	stat_sample(out, stats, "p2pd_protocol_errors_total", "counter",
		    "Framing violations (the connection was dropped).", "protocol_errors", 1);
	stat_sample(out, stats, "p2pd_reloads_total", "counter", "Configuration reloads.",
		    "reloads", 1);
	stat_sample(out, stats, "p2pd_rescans_total", "counter", "PCI topology rescans.", "rescans",
		    1);
	stat_sample(out, stats, "p2pd_resident_memory_bytes", "gauge", "p2pd's resident set size.",
		    "rss_kib", 1024);
	stat_sample(out, stats, "p2pd_open_fds", "gauge", "p2pd's open file descriptors.", "fds",
		    1);
	stat_sample(out, stats, "p2pd_pci_functions", "gauge", "PCI functions in p2pd's topology.",
		    "devices", 1);
	be = json_get_array(stats, "backends");
	if (be) {
		family(out, "p2pd_backend_info", "gauge",
		       "Buffer backends p2pd has open (always 1).");
		for (size_t i = 0; i < json_object_array_length(be); i++) {
			struct json_object *s = json_object_array_get_idx(be, i);
			if (!json_object_is_type(s, json_type_string))
				continue;
			fputs("p2pd_backend_info{backend=\"", out);
			label_put(out, json_object_get_string(s));
			fputs("\"} 1\n", out);
		}
	}
	if (rootfd >= 0)
		p2pmem(out, rootfd);
	return ferror(out) ? -EIO : 0;
}
