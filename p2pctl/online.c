/* SPDX-License-Identifier: MIT */
/*
 * p2pctl-online.c - p2pctl commands that talk to p2pd through libp2pclient
 * (p2pctl_online(), declared in p2pctl.h).  Topology documents are the same
 * report.h JSON as offline mode and are rendered by the same functions.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "escape.h"
#include "json.h"
#include "p2pclient.h"
#include "metrics.h"
#include "p2pctl.h"
#include "proto.h"
#include "render-dot.h"
#include "report.h"

static int online_connect(const struct p2pctl_opts *o, struct p2p_conn **ret)
{
	const char *path = o->socket;
	int r;

	if (!path || !*path)
		path = getenv(P2P_SOCKET_ENV);
	if (!path || !*path)
		path = P2P_DEFAULT_SOCKET;
	r = p2p_connect(path, ret);
	if (r < 0) {
		/* p2p_strerror(-ENOENT) also means "no such buffer": say which */
		p2pctl_err("cannot connect to p2pd at %s: %s", path,
			   r == -ENOENT ? "no such socket (is p2pd running? systemctl status "
					  "p2pd.socket; --socket or $P2PD_SOCKET name another)"
					: p2p_strerror(r));
		return r;
	}
	r = p2p_hello(*ret, NULL);
	if (r < 0) {
		p2pctl_err("hello: %s", p2p_last_message(*ret));
		p2p_disconnect(*ret);
		return r;
	}
	return 0;
}

static int online_fail(struct p2p_conn *c, const char *what, int r)
{
	const char *m = p2p_last_message(c);

	p2pctl_err("%s: %s", what, m && *m ? m : p2p_strerror(r));
	return 1;
}

static struct json_object *online_parse(const char *text)
{
	struct json_object *o = json_tokener_parse(text);

	if (!o)
		p2pctl_err("p2pd sent malformed JSON");
	return o;
}

/* Fetch a document with @fetch and print it as JSON or with @render. */
static int online_doc(struct p2p_conn *c, const struct p2pctl_opts *o, const char *what, int r,
		      char *text, int (*render)(FILE *, struct json_object *))
{
	struct json_object *doc;
	int rc = 0;

	if (r < 0)
		return online_fail(c, what, r);
	doc = online_parse(text);
	free(text);
	if (!doc)
		return 1;
	if (!strcmp(what, "topology"))
		report_topo_class_names(doc); /* p2pd's categories -> the names in force */
	if (o->json || !render)
		p2pctl_print_json(stdout, doc);
	else if (render(stdout, doc) < 0) {
		p2pctl_err("%s: unexpected document shape", what);
		rc = 1;
	}
	json_object_put(doc);
	return rc;
}

/* A scalar member as table text, escaped for the terminal ("-" when null or absent). */
static const char *cell(struct json_object *o, const char *k)
{
	return p2pctl_escape(json_get_text(o, k, "-"));
}

/* check: the shared rendering, plus the live kernel's verdict (--kernel) */
static int online_check(struct p2p_conn *c, const struct p2pctl_opts *o, int r, char *text)
{
	struct json_object *doc, *k;
	int rc;

	if (r < 0)
		return online_fail(c, "check", r);
	doc = online_parse(text);
	free(text);
	if (!doc)
		return 1;
	if (o->json) {
		p2pctl_print_json(stdout, doc);
		json_object_put(doc);
		return 0;
	}
	rc = p2pctl_render_check(stdout, doc) < 0 ? 1 : 0;
	k = json_get_object(doc, "kernel_live");
	if (k && json_get_text(k, "error", NULL))
		printf("live kernel: unavailable: %s\n", cell(k, "error"));
	else if (k)
		printf("live kernel: %s, distance %s (%s p2pd's kernel rules)\n",
		       cell(k, "map_type"), cell(k, "distance"),
		       json_get_bool(k, "agrees", false) ? "agrees with" : "DIFFERS from");
	json_object_put(doc);
	return rc;
}

static int render_buffers(FILE *out, struct json_object *arr)
{
	if (!json_object_is_type(arr, json_type_array))
		return -EINVAL;
	fprintf(out, "%-6s %-6s %-9s %-14s %12s %-7s %-8s %s\n", "ID", "TYPE", "BACKEND",
		"PROVIDER", "SIZE", "CLIENT", "UID", "NAME");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *b = json_object_array_get_idx(arr, i);

		bool released = json_get_bool(b, "released", false);

		fprintf(out, "%-6s %-6s %-9s %-14s %12s %-7s %-8s %s%s\n", cell(b, "id"),
			cell(b, "type"), cell(b, "backend"), cell(b, "provider"), cell(b, "size"),
			cell(b, "client"), cell(b, "uid"), cell(b, "name"),
			released ? " (released, still held by the client: counts against its uid)"
				 : "");
	}
	if (json_object_array_length(arr) == 0)
		fprintf(out, "(no buffers)\n");
	return 0;
}

static int render_clients(FILE *out, struct json_object *arr)
{
	if (!json_object_is_type(arr, json_type_array))
		return -EINVAL;
	fprintf(out, "%-6s %-8s %-8s %-8s %-6s %8s %14s %9s %s\n", "ID", "PID", "UID", "GID",
		"ADMIN", "BUFFERS", "BYTES", "REQUESTS", "NAME");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *k = json_object_array_get_idx(arr, i);

		fprintf(out, "%-6s %-8s %-8s %-8s %-6s %8s %14s %9s %s%s\n", cell(k, "id"),
			cell(k, "pid"), cell(k, "uid"), cell(k, "gid"), cell(k, "admin"),
			cell(k, "buffers"), cell(k, "bytes"), cell(k, "requests"), cell(k, "name"),
			strcmp(cell(k, "self"), "true") == 0 ? " (this p2pctl)" : "");
	}
	return 0;
}

static int render_stats(FILE *out, struct json_object *s)
{
	if (!json_object_is_type(s, json_type_object))
		return -EINVAL;
	json_object_object_foreach(s, key, val)
	{
		if (!strncmp(key, "rules", 5) || !strncmp(key, "kernel", 6))
			continue; /* the Kernel: line says it */
		fprintf(out, "%-22s %s\n", p2pctl_escape(key),
			p2pctl_escape(json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN)));
	}
	return 0;
}

/* The kernel keys of report_kernel() from @from into @doc (status). */
static void status_kernel(struct json_object *doc, struct json_object *from)
{
	static const char *const keys[] = {"rules",	     "rules_fit",     "rules_note",
					   "kernel_release", "kernel_p2pdma", "kernel"};
	struct json_object *v;

	for (size_t i = 0; from && i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_object_get_ex(from, keys[i], &v))
			json_object_object_add(doc, keys[i], json_object_get(v));
}

static int online_status(struct p2p_conn *c, const struct p2pctl_opts *o)
{
	struct p2p_hello_info hi;
	struct json_object *doc, *st = NULL;
	char *stats = NULL;
	int r;

	r = p2p_hello(c, &hi);
	if (r < 0)
		return online_fail(c, "hello", r);
	if (hi.admin && p2p_admin_stats_json(c, &stats) == 0) {
		st = online_parse(stats);
		free(stats);
	}
	doc = json_object_new_object();
	if (!doc) {
		json_object_put(st);
		return 1;
	}
	json_object_object_add(doc, "server", json_object_new_string(hi.server));
	json_object_object_add(doc, "protocol", json_object_new_int((int)hi.version));
	json_object_object_add(doc, "uid", json_object_new_int64(hi.uid));
	json_object_object_add(doc, "admin", json_object_new_boolean(hi.admin));
	json_object_object_add(doc, "max_message_size", json_object_new_int64(hi.max_message_size));
	if (st)
		json_object_object_add(doc, "stats", st);
	/* the kernel p2pd judges under: in the admin stats, else in the topology */
	if (st && json_object_object_get_ex(st, "rules", NULL)) {
		status_kernel(doc, st);
	} else if (p2p_topology_json(c, &stats) == 0) {
		struct json_object *topo = online_parse(stats);

		free(stats);
		status_kernel(doc, topo);
		json_object_put(topo);
	}
	if (o->json) {
		p2pctl_print_json(stdout, doc);
	} else {
		printf("%s, protocol %u, running; you are uid %u (%s)\n", p2pctl_escape(hi.server),
		       hi.version, hi.uid, hi.admin ? "admin" : "not admin");
		p2pctl_render_kernel(stdout, doc);
		if (st)
			render_stats(stdout, st);
	}
	json_object_put(doc);
	return 0;
}

static volatile sig_atomic_t online_stop;

static void online_on_signal(int s)
{
	(void)s;
	online_stop = 1;
}

/* alloc SIZE [provider=BDF|auto] [peer=BDF]... [types=p2p,host,memfd] [name=N] [hold=SEC] */
static int online_alloc(struct p2p_conn *c, const struct p2pctl_opts *o, int argc, char **argv)
{
	const char *peers[P2P_PROTO_MAX_PEERS];
	struct p2p_alloc_req req = {0};
	struct p2p_buffer_info info;
	char *end, *json = NULL;
	long hold = 0;
	int fd = -1, r;

	if (argc < 2) {
		p2pctl_err("usage: alloc SIZE [provider=BDF|auto] [peer=BDF]... "
			   "[types=p2p,host,memfd] [name=NAME] [hold=SECONDS]");
		return 2;
	}
	if (p2pctl_parse_size(argv[1], &req.size) < 0 || req.size == 0) {
		p2pctl_err("alloc: bad size '%s' (bytes, or with K, M, G)", argv[1]);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		char *a = argv[i];

		if (strncmp(a, "provider=", 9) == 0) {
			req.provider = a + 9;
		} else if (strncmp(a, "peer=", 5) == 0) {
			if (req.npeers == P2P_PROTO_MAX_PEERS) {
				p2pctl_err("alloc: at most %d peers", P2P_PROTO_MAX_PEERS);
				return 2;
			}
			peers[req.npeers++] = a + 5;
		} else if (strncmp(a, "types=", 6) == 0) {
			char *save = NULL, *dup = strdup(a + 6);

			if (!dup)
				return 1;
			for (char *t = strtok_r(dup, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				if (strcmp(t, "p2p") == 0)
					req.types |= P2P_BUF_P2P;
				else if (strcmp(t, "host") == 0)
					req.types |= P2P_BUF_HOST;
				else if (strcmp(t, "memfd") == 0)
					req.types |= P2P_BUF_MEMFD;
				else {
					p2pctl_err("alloc: unknown type '%s' (p2p, host, memfd)",
						   t);
					free(dup);
					return 2;
				}
			}
			free(dup);
		} else if (strncmp(a, "name=", 5) == 0) {
			req.name = a + 5;
		} else if (strncmp(a, "hold=", 5) == 0) {
			hold = strtol(a + 5, &end, 10);
			if (*end || hold < 0) {
				p2pctl_err("alloc: bad hold '%s'", a + 5);
				return 2;
			}
		} else {
			p2pctl_err("alloc: unknown argument '%s'", a);
			return 2;
		}
	}
	req.peers = peers;
	r = p2p_alloc(c, &req, &info, &fd, &json);
	if (r < 0)
		return online_fail(c, "alloc", r);
	if (o->json) {
		struct json_object *doc = online_parse(json);

		if (doc) {
			json_object_object_del(doc, "ok");
			p2pctl_print_json(stdout, doc);
			json_object_put(doc);
		}
	} else {
		printf("buffer %" PRIu64 ": %s (%s), %" PRIu64 " bytes%s%s, fd %d\n", info.id,
		       p2pctl_escape(info.type_name), p2pctl_escape(info.backend), info.size,
		       info.provider[0] ? " on " : "", p2pctl_escape(info.provider), fd);
	}
	free(json);
	fflush(stdout);
	if (hold) {
		/* keep the buffer (and the connection that accounts for it) alive */
		signal(SIGINT, online_on_signal);
		signal(SIGTERM, online_on_signal);
		for (long s = 0; s < hold * 10 && !online_stop; s++) {
			struct p2p_event ev;

			if (p2p_next_event(c, &ev) == 1)
				printf("event: %s buffer %" PRIu64 " (%s)\n",
				       p2pctl_escape(ev.event), ev.id, p2pctl_escape(ev.reason));
			usleep(100000);
		}
	}
	close(fd);
	return 0;
}

/* topo --format dot|svg: p2pd's topology, shaded by the groups of its matrix. */
static int online_topo_graph(struct p2p_conn *c, const struct p2pctl_opts *o)
{
	struct json_object *topo, *matrix = NULL;
	char *text = NULL, why[256] = "";
	int r;

	r = p2p_topology_json(c, &text);
	if (r < 0)
		return online_fail(c, "topology", r);
	topo = online_parse(text);
	free(text);
	if (!topo)
		return 1;
	text = NULL;
	r = p2p_matrix_json(c, false, &text);
	if (r < 0)
		snprintf(why, sizeof(why), "p2pd's matrix: %s", p2p_last_message(c));
	else if (!(matrix = online_parse(text)))
		snprintf(why, sizeof(why), "p2pd's matrix is not JSON");
	free(text);
	r = render_dot_topo(stdout, o->format, topo, matrix, why[0] ? why : NULL);
	json_object_put(matrix);
	json_object_put(topo);
	return r < 0 ? 1 : 0;
}

/* metrics: stats, buffers and clients as Prometheus text (admin). */
static int online_metrics(struct p2p_conn *c, const struct p2pctl_opts *o)
{
	static const char *const what[] = {"stats", "buffers", "clients"};
	struct json_object *doc[3] = {NULL, NULL, NULL};
	int r = 0, rootfd;

	for (int i = 0; i < 3 && r >= 0; i++) {
		char *text = NULL;
		r = i == 0   ? p2p_admin_stats_json(c, &text)
		    : i == 1 ? p2p_admin_buffers_json(c, &text)
			     : p2p_admin_clients_json(c, &text);
		if (r < 0) {
			online_fail(c, what[i], r);
		} else if (!(doc[i] = online_parse(text))) {
			r = -EPROTO;
		}
		free(text);
	}
	if (r >= 0) {
		rootfd = open(o->fsroot ? o->fsroot : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = metrics_write(stdout, 1, doc[0], doc[1], doc[2], rootfd);
		if (rootfd >= 0)
			close(rootfd);
		if (r < 0)
			p2pctl_err("metrics: p2pd sent documents of an unexpected shape");
	} else {
		metrics_write(stdout, 0, NULL, NULL, NULL, -1);
	}
	for (int i = 0; i < 3; i++)
		json_object_put(doc[i]);
	return r < 0 ? 1 : 0;
}

static int online_id(const char *s, uint64_t *ret)
{
	char *end;

	errno = 0;
	*ret = strtoull(s, &end, 10);
	if (errno || end == s || *end) {
		p2pctl_err("bad buffer id '%s'", s);
		return -EINVAL;
	}
	return 0;
}

int p2pctl_online(int argc, char **argv, const struct p2pctl_opts *o)
{
	const char *cmd = argv[0];
	struct p2p_conn *c;
	char *text = NULL;
	int rc, r;

	if (online_connect(o, &c) < 0) {
		if (strcmp(cmd, "metrics") == 0) /* the scraper still learns it is down */
			metrics_write(stdout, 0, NULL, NULL, NULL, -1);
		return 1;
	}
	if (strcmp(cmd, "status") == 0) {
		rc = online_status(c, o);
	} else if (strcmp(cmd, "topo") == 0 && o->format) {
		rc = online_topo_graph(c, o);
	} else if (strcmp(cmd, "topo") == 0) {
		r = p2p_topology_json(c, &text);
		rc = online_doc(c, o, "topology", r, text, p2pctl_render_topo);
	} else if (strcmp(cmd, "matrix") == 0) {
		r = p2p_matrix_json(c, o->all, &text);
		rc = online_doc(c, o, "matrix", r, text, p2pctl_render_matrix);
	} else if (strcmp(cmd, "check") == 0) {
		if (argc != 3) {
			p2pctl_err("usage: check PROVIDER CLIENT");
			rc = 2;
		} else {
			r = p2p_check_ex_json(c, argv[1], argv[2], o->kernel ? P2P_CHECK_KERNEL : 0,
					      &text);
			rc = online_check(c, o, r, text);
		}
	} else if (strcmp(cmd, "alloc") == 0) {
		rc = online_alloc(c, o, argc, argv);
	} else if (strcmp(cmd, "buffers") == 0) {
		r = p2p_admin_buffers_json(c, &text);
		rc = online_doc(c, o, "buffers", r, text, render_buffers);
	} else if (strcmp(cmd, "clients") == 0) {
		r = p2p_admin_clients_json(c, &text);
		rc = online_doc(c, o, "clients", r, text, render_clients);
	} else if (strcmp(cmd, "stats") == 0) {
		r = p2p_admin_stats_json(c, &text);
		rc = online_doc(c, o, "stats", r, text, render_stats);
	} else if (strcmp(cmd, "metrics") == 0) {
		rc = argc == 1 ? online_metrics(c, o) : (p2pctl_err("usage: p2pctl metrics"), 2);
	} else if (strcmp(cmd, "revoke") == 0) {
		uint64_t id;

		if (argc != 2) {
			p2pctl_err("usage: revoke ID");
			rc = 2;
		} else if (online_id(argv[1], &id) < 0) {
			rc = 2;
		} else if ((r = p2p_admin_revoke(c, id)) < 0) {
			rc = online_fail(c, "revoke", r);
		} else {
			if (o->json)
				printf("{ \"revoked\": %" PRIu64 " }\n", id);
			else
				printf("buffer %" PRIu64 " revoked\n", id);
			rc = 0;
		}
	} else if (strcmp(cmd, "reload") == 0) {
		r = p2p_admin_reload(c);
		if (r < 0) {
			rc = online_fail(c, "reload", r);
		} else {
			if (o->json)
				printf("{ \"reloaded\": true }\n");
			else
				printf("p2pd reloaded its configuration and topology\n");
			rc = 0;
		}
	} else {
		p2pctl_err("unknown command '%s' (see p2pctl --help)", cmd);
		rc = 2;
	}
	p2p_disconnect(c);
	return rc;
}
