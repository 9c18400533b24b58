/* SPDX-License-Identifier: MIT */
/*
 * config.c - load and validate p2pd.json into plain C structs (see config.h and
 * p2pd.json(5)).
 *
 * The text goes through the one strict JSON front end (proto/json.h: json-c's
 * strict tokener plus duplicate keys, single quotes and invalid UTF-8 refused,
 * with the line of every value), then the schema is walked with its typed
 * getters; every error names the JSON path and its line.
 */
#include "config.h"
#include "nss.h"
#include "config-schema.h"
#include "json.h"
#include "proto.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX_KEYS 64 /* keys in one JSON object */

/* A string value without NUL bytes, shorter than @len, copied into @buf. */
int cfg_str(struct json_ctx *c, struct json_object *v, char *buf, size_t len, bool allow_empty)
{
	const char *s;
	size_t n;
	int r = json_want_string(c, v, allow_empty ? 0 : 1, len - 1, 0, &s, &n);

	if (r < 0)
		return -EINVAL;
	memcpy(buf, s, n + 1);
	return 0;
}

int cfg_array(struct json_ctx *c, struct json_object *v, size_t max)
{
	return json_want_array(c, v, max) < 0 ? -EINVAL : 0;
}

int cfg_uint(struct json_ctx *c, struct json_object *v, uint64_t min, uint64_t max, uint64_t *ret)
{
	return json_want_uint(c, v, min, max, ret) < 0 ? -EINVAL : 0;
}

/* Sizes: an integer of bytes or a string "64M", "1GiB", "4096". */
/* Sizes: an integer of bytes or a string "64M", "1GiB", "4096". */
static int parse_size_str(const char *s, uint64_t *ret)
{
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	unsigned shift = 0;
	switch (*p) {
	case '\0':
		break;
	case 'K':
	case 'k':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (*p) {
		p++;
		if (strcmp(p, "") != 0 && strcmp(p, "iB") != 0)
			return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret = v << shift;
	return 0;
}

int cfg_size(struct json_ctx *c, struct json_object *v, uint64_t min, uint64_t max, uint64_t *ret)
{
	if (json_object_is_type(v, json_type_string)) {
		char buf[32];
		uint64_t u;
		int r = cfg_str(c, v, buf, sizeof(buf), false);
		if (r < 0)
			return r;
		r = parse_size_str(buf, &u);
		if (r == -ERANGE || (r == 0 && (u < min || u > max)))
			return cfg_fail(c, "size \"%s\" out of range %" PRIu64 "..%" PRIu64, buf,
					min, max);
		if (r < 0)
			return cfg_fail(
			    c,
			    "expected a size: bytes, or a string like \"512M\", \"1G\", "
			    "\"1GiB\", got \"%s\"",
			    buf);
		*ret = u;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return cfg_fail(c,
				"expected a size (an integer >= 0 or a string like \"1G\"), got %s",
				json_type_desc(v));
	return cfg_uint(c, v, min, max, ret);
}

/* ---------------------------------------------------------------------------
 * Name service lookups (done at load time, through nss.c).
 */

bool cfg_all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* A group given as a name (resolved) or a number. */
int cfg_group(struct json_ctx *c, struct json_object *v, char *name, size_t namelen, gid_t *ret_gid)
{
	if (json_object_is_type(v, json_type_int)) {
		uint64_t u;
		int r = cfg_uint(c, v, 0, UINT32_MAX - 1, &u);
		if (r < 0)
			return r;
		name[0] = '\0';
		*ret_gid = (gid_t)u;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return cfg_fail(c, "expected a group name or number, got %s", json_type_desc(v));
	int r = cfg_str(c, v, name, namelen, false);
	if (r < 0)
		return r;
	r = nss_group_gid(name, ret_gid);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return cfg_fail(c, "unknown group \"%s\"%s", name,
				cfg_all_digits(name) ? " (write a gid as a number, without quotes)"
						     : "");
	return 0;
}

/* ---------------------------------------------------------------------------
 * Schema.
 */

static void defaults_limits(struct config_limits *l)
{
	l->max_connections = 256;
	l->max_connections_per_uid = 32;
	l->reserved_admin_connections = 4; /* unset: min(4, max_connections / 4) */
	l->idle_timeout = 300;
	l->max_buffers = 64;
	l->max_pending_per_client = 16;
	l->max_message_size = P2P_PROTO_MAX_REQUEST;
	l->max_bytes = 1ull << 30;
	l->max_queued_bytes = 1ull << 20;
	l->max_queued_bytes_per_uid = 16ull << 20;
}

static int parse_socket(struct json_ctx *c, struct json_object *o, struct p2p_config *cfg)
{
	static const char *const keys[] = {"path", "mode", "group", NULL};
	struct json_object *v;
	int r = json_want_object(c, o);
	if (r < 0 || (r = json_check_keys(c, o, keys)) < 0)
		return r;

	if ((v = json_member(o, "path"))) {
		json_push_key(c, "path", v);
		r = cfg_str(c, v, cfg->socket_path, sizeof(cfg->socket_path), false);
		if (r < 0)
			return r;
		if (cfg->socket_path[0] != '/')
			return cfg_fail(c, "expected an absolute path");
		json_pop(c);
	}
	if ((v = json_member(o, "mode"))) {
		char buf[8];
		const char *p;
		unsigned m = 0;
		json_push_key(c, "mode", v);
		if (!json_object_is_type(v, json_type_string))
			return cfg_fail(c, "expected an octal mode string like \"0660\", got %s",
					json_type_desc(v));
		r = cfg_str(c, v, buf, sizeof(buf), false);
		if (r < 0)
			return r;
		p = buf[0] == '0' && strlen(buf) == 4 ? buf + 1 : buf;
		if (strlen(p) != 3)
			goto bad_mode;
		for (; *p; p++) {
			if (*p < '0' || *p > '7')
				goto bad_mode;
			m = m * 8 + (unsigned)(*p - '0');
		}
		if (m & 0007)
			return cfg_fail(c, "mode \"%s\" gives access to other users; use a group",
					buf);
		if ((m & 0600) != 0600 || (m & 0111))
			return cfg_fail(
			    c, "mode \"%s\" must be read-write for the owner, never executable",
			    buf);
		cfg->socket_mode = m;
		json_pop(c);
		goto mode_ok;
	bad_mode:
		return cfg_fail(c, "expected an octal mode string like \"0660\", got \"%s\"", buf);
	}
mode_ok:
	if ((v = json_member(o, "group"))) {
		json_push_key(c, "group", v);
		r = cfg_group(c, v, cfg->socket_group, sizeof(cfg->socket_group), &cfg->socket_gid);
		if (r < 0)
			return r;
		cfg->has_socket_gid = true;
		json_pop(c);
	}
	return 0;
}

static int parse_limits(struct json_ctx *c, struct json_object *o, struct config_limits *l)
{
	static const char *const keys[] = {"max_connections",
					   "max_buffers",
					   "max_bytes",
					   "max_pending_per_client",
					   "max_message_size",
					   "max_connections_per_uid",
					   "reserved_admin_connections",
					   "idle_timeout",
					   "max_queued_bytes",
					   "max_queued_bytes_per_uid",
					   NULL};
	static const struct {
		const char *key;
		uint64_t min, max;
	} u32s[] = {
	    {"max_connections", 1, 65536},
	    {"max_buffers", 1, 1u << 20},
	    {"max_pending_per_client", 1, 4096},
	    {"max_message_size", P2P_PROTO_MIN_MESSAGE, P2P_PROTO_MAX_REQUEST},
	    {"max_connections_per_uid", 1, 65536},
	    {"reserved_admin_connections", 0, 65535},
	    {"idle_timeout", 1, 86400},
	};
	uint32_t *dst[] = {&l->max_connections,
			   &l->max_buffers,
			   &l->max_pending_per_client,
			   &l->max_message_size,
			   &l->max_connections_per_uid,
			   &l->reserved_admin_connections,
			   &l->idle_timeout};
	struct json_object *v;
	uint64_t u;
	int r = json_want_object(c, o);
	if (r < 0 || (r = json_check_keys(c, o, keys)) < 0)
		return r;

	for (size_t i = 0; i < sizeof(u32s) / sizeof(u32s[0]); i++) {
		if (!(v = json_member(o, u32s[i].key)))
			continue;
		json_push_key(c, u32s[i].key, v);
		r = cfg_uint(c, v, u32s[i].min, u32s[i].max, &u);
		if (r < 0)
			return r;
		*dst[i] = (uint32_t)u;
		json_pop(c);
	}
	static const struct {
		const char *key;
		uint64_t min, max;
	} sizes[] = {
	    {"max_bytes", 1, CONFIG_MAX_SIZE},
	    {"max_queued_bytes", P2P_PROTO_CHUNK, P2P_PROTO_MAX_REPLY},
	    {"max_queued_bytes_per_uid", P2P_PROTO_CHUNK, 1ull << 40},
	};
	uint64_t *sdst[] = {&l->max_bytes, &l->max_queued_bytes, &l->max_queued_bytes_per_uid};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (!(v = json_member(o, sizes[i].key)))
			continue;
		json_push_key(c, sizes[i].key, v);
		r = cfg_size(c, v, sizes[i].min, sizes[i].max, &u);
		if (r < 0)
			return r;
		*sdst[i] = u;
		json_pop(c);
	}
	if (!(v = json_member(o, "reserved_admin_connections"))) {
		if (l->reserved_admin_connections > l->max_connections / 4)
			l->reserved_admin_connections = l->max_connections / 4;
	} else if (l->reserved_admin_connections >= l->max_connections) {
		json_push_key(c, "reserved_admin_connections", v);
		return cfg_fail(c, "must be less than max_connections (%u)", l->max_connections);
	}
	return 0;
}

static int parse_providers(struct json_ctx *c, struct json_object *a, struct p2p_config *cfg)
{
	static const char *const keys[] = {"device", "bar", "size", NULL};
	size_t n;
	int r = cfg_array(c, a, CONFIG_MAX_PROVIDERS);
	if (r < 0)
		return r;
	n = json_object_array_length(a);
	if (n) {
		cfg->providers = calloc(n, sizeof(*cfg->providers));
		if (!cfg->providers)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(a, i), *v;
		struct config_provider *p = &cfg->providers[i];
		uint64_t u;
		json_push_idx(c, i, o);
		if ((r = json_want_object(c, o)) < 0 || (r = json_check_keys(c, o, keys)) < 0)
			return r;
		if (!(v = json_member(o, "device")))
			return cfg_fail(c, "missing key \"device\" (a PCI address)");
		json_push_key(c, "device", v);
		if ((r = cfg_bdf(c, v, p->device, sizeof(p->device))) < 0)
			return r;
		json_pop(c);
		if (!(v = json_member(o, "bar")))
			return cfg_fail(c, "missing key \"bar\" (0..5)");
		json_push_key(c, "bar", v);
		if ((r = cfg_uint(c, v, 0, TOPO_NBARS - 1, &u)) < 0)
			return r;
		p->bar = (int)u;
		json_pop(c);
		if ((v = json_member(o, "size"))) {
			json_push_key(c, "size", v);
			if ((r = cfg_size(c, v, 0, CONFIG_MAX_SIZE, &u)) < 0)
				return r;
			if (u % 4096)
				return cfg_fail(
				    c, "expected a multiple of 4096 bytes, got %" PRIu64, u);
			p->size = u;
			json_pop(c);
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(cfg->providers[k].device, p->device) == 0 &&
			    cfg->providers[k].bar == p->bar)
				return cfg_fail(c, "%s BAR %d is already listed as providers[%zu]",
						p->device, p->bar, k);
		}
		cfg->n_providers++;
		json_pop(c);
	}
	return 0;
}

static int parse_overrides(struct json_ctx *c, struct json_object *a, struct p2p_config *cfg)
{
	static const char *const keys[] = {"pair", "action", "reason", NULL};
	size_t n;
	int r = cfg_array(c, a, CONFIG_MAX_OVERRIDES);
	if (r < 0)
		return r;
	n = json_object_array_length(a);
	if (n) {
		cfg->overrides = calloc(n, sizeof(*cfg->overrides));
		if (!cfg->overrides)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(a, i), *v;
		struct verdict_override *ov = &cfg->overrides[i];
		char act[16];
		json_push_idx(c, i, o);
		if ((r = json_want_object(c, o)) < 0 || (r = json_check_keys(c, o, keys)) < 0)
			return r;
		if (!(v = json_member(o, "pair")))
			return cfg_fail(c, "missing key \"pair\" ([\"BDF\", \"BDF\"])");
		json_push_key(c, "pair", v);
		if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) != 2)
			return cfg_fail(c, "expected an array of two PCI addresses");
		json_push_idx(c, 0, json_object_array_get_idx(v, 0));
		if ((r = cfg_bdf(c, json_object_array_get_idx(v, 0), ov->a, sizeof(ov->a))) < 0)
			return r;
		json_pop(c);
		json_push_idx(c, 1, json_object_array_get_idx(v, 1));
		if ((r = cfg_bdf(c, json_object_array_get_idx(v, 1), ov->b, sizeof(ov->b))) < 0)
			return r;
		if (strcmp(ov->a, ov->b) == 0)
			return cfg_fail(c, "a pair needs two different devices");
		json_pop(c);
		for (size_t k = 0; k < i; k++) {
			const struct verdict_override *o2 = &cfg->overrides[k];
			if ((strcmp(o2->a, ov->a) == 0 && strcmp(o2->b, ov->b) == 0) ||
			    (strcmp(o2->a, ov->b) == 0 && strcmp(o2->b, ov->a) == 0))
				return cfg_fail(
				    c, "the pair %s, %s is already listed as overrides[%zu]", ov->a,
				    ov->b, k);
		}
		json_pop(c);
		if (!(v = json_member(o, "action")))
			return cfg_fail(c, "missing key \"action\" (\"allow\" or \"deny\")");
		json_push_key(c, "action", v);
		if ((r = cfg_str(c, v, act, sizeof(act), false)) < 0 && r != -EINVAL)
			return r;
		if (r < 0 || (strcmp(act, "allow") != 0 && strcmp(act, "deny") != 0))
			return cfg_fail(c, "expected \"allow\" or \"deny\"");
		ov->allow = strcmp(act, "allow") == 0;
		json_pop(c);
		if ((v = json_member(o, "reason"))) {
			json_push_key(c, "reason", v);
			if ((r = cfg_str(c, v, ov->why, sizeof(ov->why), true)) < 0)
				return r;
			json_pop(c);
		}
		cfg->n_overrides++;
		json_pop(c);
	}
	return 0;
}

static int parse_whitelist(struct json_ctx *c, struct json_object *a, struct p2p_config *cfg)
{
	static const char *const keys[] = {"vendor", "device", "same_host_bridge_only", NULL};
	size_t n;
	int r = cfg_array(c, a, CONFIG_MAX_WHITELIST);
	if (r < 0)
		return r;
	n = json_object_array_length(a);
	if (n) {
		cfg->whitelist = calloc(n, sizeof(*cfg->whitelist));
		if (!cfg->whitelist)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(a, i), *v;
		struct verdict_whitelist_entry *w = &cfg->whitelist[i];
		json_push_idx(c, i, o);
		if ((r = json_want_object(c, o)) < 0 || (r = json_check_keys(c, o, keys)) < 0)
			return r;
		if (!(v = json_member(o, "vendor")))
			return cfg_fail(c, "missing key \"vendor\" (hex id like \"8086\")");
		json_push_key(c, "vendor", v);
		if ((r = cfg_id16(c, v, &w->vendor)) < 0)
			return r;
		json_pop(c);
		if (!(v = json_member(o, "device")))
			return cfg_fail(c, "missing key \"device\" (hex id like \"2030\")");
		json_push_key(c, "device", v);
		if ((r = cfg_id16(c, v, &w->device)) < 0)
			return r;
		json_pop(c);
		if ((v = json_member(o, "same_host_bridge_only"))) {
			json_push_key(c, "same_host_bridge_only", v);
			if (!json_object_is_type(v, json_type_boolean))
				return cfg_fail(c, "expected true or false, got %s",
						json_type_desc(v));
			w->same_host_bridge_only = json_object_get_boolean(v);
			json_pop(c);
		}
		cfg->n_whitelist++;
		json_pop(c);
	}
	return 0;
}

static int parse_top(struct json_ctx *c, struct json_object *root, struct p2p_config *cfg)
{
	static const char *const keys[] = {"version",	"socket", "admin_group", "limits",
					   "providers", "rules",  "default",	 "overrides",
					   "whitelist", NULL};
	struct json_object *v;
	int r;

	if (!json_object_is_type(root, json_type_object))
		return cfg_fail(c, "expected an object, got %s", json_type_desc(root));
	if ((r = json_check_keys(c, root, keys)) < 0)
		return r;
	if ((v = json_member(root, "version"))) {
		uint64_t u;
		json_push_key(c, "version", v);
		if ((r = cfg_uint(c, v, 1, 1, &u)) < 0)
			return r;
		json_pop(c);
	}
	/* limits first: rules are checked against them */
	if ((v = json_member(root, "limits"))) {
		json_push_key(c, "limits", v);
		if ((r = parse_limits(c, v, &cfg->limits)) < 0)
			return r;
		json_pop(c);
	}
	if ((v = json_member(root, "socket"))) {
		json_push_key(c, "socket", v);
		if ((r = parse_socket(c, v, cfg)) < 0)
			return r;
		json_pop(c);
	}
	if ((v = json_member(root, "admin_group"))) {
		json_push_key(c, "admin_group", v);
		if ((r = cfg_group(c, v, cfg->admin_group, sizeof(cfg->admin_group),
				   &cfg->admin_gid)) < 0)
			return r;
		cfg->has_admin_gid = true;
		json_pop(c);
	}
	if ((v = json_member(root, "providers"))) {
		json_push_key(c, "providers", v);
		if ((r = parse_providers(c, v, cfg)) < 0)
			return r;
		json_pop(c);
	}
	if ((v = json_member(root, "rules"))) {
		json_push_key(c, "rules", v);
		if ((r = cfg_parse_rules(c, v, cfg)) < 0)
			return r;
		json_pop(c);
	}
	if ((v = json_member(root, "default"))) {
		json_push_key(c, "default", v);
		cfg->default_rule.match = CONFIG_MATCH_DEFAULT;
		snprintf(cfg->default_rule.label, sizeof(cfg->default_rule.label), "default");
		if ((r = cfg_parse_rule(c, v, &cfg->limits, true, &cfg->default_rule)) < 0)
			return r;
		json_pop(c);
	}
	if ((v = json_member(root, "overrides"))) {
		json_push_key(c, "overrides", v);
		if ((r = parse_overrides(c, v, cfg)) < 0)
			return r;
		json_pop(c);
	}
	if ((v = json_member(root, "whitelist"))) {
		json_push_key(c, "whitelist", v);
		if ((r = parse_whitelist(c, v, cfg)) < 0)
			return r;
		json_pop(c);
	}
	return cfg_defaults_rules(cfg, !json_member(root, "rules"), !json_member(root, "default"));
}

static struct p2p_config *config_new(void)
{
	struct p2p_config *cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return NULL;
	snprintf(cfg->socket_path, sizeof(cfg->socket_path), "%s", CONFIG_DEFAULT_SOCKET);
	cfg->socket_mode = 0660;
	defaults_limits(&cfg->limits);
	return cfg;
}

static void rule_fini(struct config_rule *r)
{
	free(r->devices);
	r->devices = NULL;
	r->n_devices = 0;
}

void config_free(struct p2p_config *cfg)
{
	if (!cfg)
		return;
	for (int i = 0; i < cfg->n_rules; i++)
		rule_fini(&cfg->rules[i]);
	free(cfg->rules);
	rule_fini(&cfg->default_rule);
	free(cfg->providers);
	free(cfg->whitelist);
	free(cfg->overrides);
	free(cfg);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Error text is one line of printable text, whatever the file holds. */
static void err_one_line(char *err, size_t errlen)
{
	if (err && errlen)
		json_printable(err);
}

int config_parse(const char *text, size_t len, const char *name, struct p2p_config **ret_cfg,
		 char *err, size_t errlen)
{
	static const struct json_limits lim = {.max_depth = CONFIG_MAX_DEPTH,
					       .max_keys = CONFIG_MAX_KEYS,
					       .positions = true,
					       .what = "file"};
	struct json_doc doc = {0};
	struct json_error jerr;
	struct json_ctx c;
	struct p2p_config *cfg = NULL;
	int r;

	if (!name)
		name = "(config)";
	if (err && errlen)
		err[0] = '\0';
	if (!text || !ret_cfg)
		return -EINVAL;
	if (len > CONFIG_MAX_FILE_SIZE) {
		set_err(err, errlen, "%s:0: file too large (%zu bytes, at most %d)", name, len,
			CONFIG_MAX_FILE_SIZE);
		return -EFBIG;
	}
	r = json_doc_parse(&doc, text, len, &lim, &jerr);
	if (r == -EINVAL)
		json_error_format(&jerr, name, err, errlen);
	if (r < 0)
		goto out;
	json_ctx_init(&c, &doc, name, err, errlen);
	if (!json_object_is_type(doc.root, json_type_object)) {
		r = cfg_fail(&c, "expected an object, got %s", json_type_desc(doc.root));
		goto out;
	}
	cfg = config_new();
	if (!cfg) {
		r = -ENOMEM;
		goto out;
	}
	snprintf(cfg->source, sizeof(cfg->source), "%s", name);
	r = parse_top(&c, doc.root, cfg);
	if (r < 0)
		goto out;
	*ret_cfg = cfg;
	cfg = NULL;
	r = 0;
out:
	if (r == -ENOMEM)
		set_err(err, errlen, "%s:0: out of memory", name);
	else if (r < 0)
		r = -EINVAL; /* a getter's -ERANGE, -E2BIG: the file is invalid */
	if (r < 0)
		err_one_line(err, errlen);
	config_free(cfg);
	json_doc_fini(&doc);
	return r;
}

int config_load(const char *path, struct p2p_config **ret_cfg, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, r;

	if (err && errlen)
		err[0] = '\0';
	if (!ret_cfg)
		return -EINVAL;
	if (!path) {
		struct p2p_config *cfg = config_new();
		if (!cfg)
			return -ENOMEM;
		snprintf(cfg->source, sizeof(cfg->source), "(built-in defaults)");
		r = cfg_defaults_rules(cfg, true, true);
		if (r < 0) {
			config_free(cfg);
			return r;
		}
		*ret_cfg = cfg;
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK); /* a FIFO must not hang us */
	if (fd < 0) {
		r = -errno;
		set_err(err, errlen, "%s:0: cannot open: %s", path, strerror(-r));
		err_one_line(err, errlen);
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		set_err(err, errlen, "%s:0: cannot stat: %s", path, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		set_err(err, errlen, "%s:0: not a regular file", path);
		goto out;
	}
	/* Whoever may write the file controls the policy: only root or the daemon's own uid. */
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		r = -EPERM;
		set_err(err, errlen,
			"%s:0: refusing a config file owned by uid %u "
			"(it must belong to root or to p2pd's uid %u)",
			path, (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		r = -EPERM;
		set_err(err, errlen, "%s:0: refusing a %s config file (mode %04o; chmod go-w it)",
			path, (st.st_mode & S_IWOTH) ? "world-writable" : "group-writable",
			(unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size > CONFIG_MAX_FILE_SIZE) {
		r = -EFBIG;
		set_err(err, errlen, "%s:0: file too large (%lld bytes, at most %d)", path,
			(long long)st.st_size, CONFIG_MAX_FILE_SIZE);
		goto out;
	}
	buf = malloc(CONFIG_MAX_FILE_SIZE + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, CONFIG_MAX_FILE_SIZE + 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			set_err(err, errlen, "%s:0: cannot read: %s", path, strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_MAX_FILE_SIZE) {
			r = -EFBIG;
			set_err(err, errlen, "%s:0: file too large (at most %d bytes)", path,
				CONFIG_MAX_FILE_SIZE);
			goto out;
		}
	}
	r = config_parse(buf, len, path, ret_cfg, err, errlen);
out:
	if (r < 0)
		err_one_line(err, errlen);
	free(buf);
	close(fd);
	return r;
}
