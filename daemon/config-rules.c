/* SPDX-License-Identifier: MIT */
/*
 * config-rules.c - the who-may-do-what part of p2pd.json (see config.h and
 * p2pd.json(5)): "rules", "default", their device patterns and buffer types,
 * and the built-in rules when the file has none.
 */
#include "config-schema.h"
#include "nss.h"
#include "config.h"
#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------
 * Device patterns, BDFs, ids.
 */

static const struct {
	const char *name;
	uint32_t value, mask;
} class_names[] = {
    {"gpu", 0x030000, 0xff0000},	 {"display", 0x030000, 0xff0000},
    {"storage", 0x010000, 0xff0000},	 {"nvme", 0x010800, 0xffff00},
    {"network", 0x020000, 0xff0000},	 {"accelerator", 0x120000, 0xff0000},
    {"memory", 0x050000, 0xff0000},	 {"cxl-memory", 0x050200, 0xffff00},
    {"coprocessor", 0x0b4000, 0xffff00}, {"bridge", 0x060000, 0xff0000},
};

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* 1..@maxdig hex digits, optional 0x; the whole string. */
static int parse_hex(const char *s, int maxdig, uint32_t *ret, int *ret_ndig)
{
	uint32_t v = 0;
	int n = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; *s; s++, n++) {
		int h = hexval(*s);
		if (h < 0 || n >= maxdig)
			return -EINVAL;
		v = v * 16 + (uint32_t)h;
	}
	if (!n)
		return -EINVAL;
	*ret = v;
	if (ret_ndig)
		*ret_ndig = n;
	return 0;
}

static void canon_bdf(char *buf, size_t len, uint32_t d, uint8_t b, uint8_t dv, uint8_t f)
{
	snprintf(buf, len, "%04x:%02x:%02x.%x", (unsigned)d, b, dv, f);
}

int config_parse_devpat(const char *s, struct config_devpat *ret, char *err, size_t errlen)
{
	struct config_devpat p = {0};
	char e[256] = "";

	if (!s || !*s) {
		snprintf(e, sizeof(e), "empty device pattern");
		goto fail;
	}
	if (strlen(s) >= sizeof(p.text)) {
		snprintf(e, sizeof(e), "device pattern too long (at most %zu bytes)",
			 sizeof(p.text) - 1);
		goto fail;
	}
	strcpy(p.text, s);
	if (strcmp(s, "*") == 0) {
		p.kind = CONFIG_DEV_ANY;
		goto ok;
	}
	if (strcmp(s, "p2p-relevant") == 0) {
		p.kind = CONFIG_DEV_RELEVANT;
		goto ok;
	}
	for (size_t i = 0; i < sizeof(class_names) / sizeof(class_names[0]); i++) {
		if (strcmp(s, class_names[i].name) == 0) {
			p.kind = CONFIG_DEV_CLASS;
			p.class_value = class_names[i].value;
			p.class_mask = class_names[i].mask;
			goto ok;
		}
	}
	if (strncmp(s, "class:", 6) == 0) {
		uint32_t v;
		int nd;
		const char *h = s + 6;
		if (!(h[0] == '0' && (h[1] == 'x' || h[1] == 'X')) ||
		    parse_hex(h, 6, &v, &nd) < 0 || (nd != 2 && nd != 4 && nd != 6)) {
			snprintf(e, sizeof(e),
				 "bad class pattern \"%s\": expected class:0xCC, class:0xCCSS or "
				 "class:0xCCSSPP",
				 s);
			goto fail;
		}
		p.kind = CONFIG_DEV_CLASS;
		p.class_mask = nd == 2 ? 0xff0000 : nd == 4 ? 0xffff00 : 0xffffff;
		p.class_value = v << (4 * (6 - nd));
		goto ok;
	}
	if (strchr(s, '.')) {
		if (topo_parse_bdf(s, &p.domain, &p.bus, &p.dev, &p.fn) < 0) {
			snprintf(e, sizeof(e), "bad PCI address \"%s\" (expected dddd:bb:dd.f)", s);
			goto fail;
		}
		p.kind = CONFIG_DEV_BDF;
		goto ok;
	}
	const char *colon = strchr(s, ':');
	if (colon && !strchr(colon + 1, ':')) {
		char ven[8];
		uint32_t v, d;
		size_t vl = (size_t)(colon - s);
		if (vl == 0 || vl >= sizeof(ven))
			goto bad_id;
		memcpy(ven, s, vl);
		ven[vl] = '\0';
		if (parse_hex(ven, 4, &v, NULL) < 0)
			goto bad_id;
		p.vendor = (uint16_t)v;
		if (strcmp(colon + 1, "*") == 0) {
			p.device_any = true;
		} else {
			if (parse_hex(colon + 1, 4, &d, NULL) < 0)
				goto bad_id;
			p.device = (uint16_t)d;
		}
		p.kind = CONFIG_DEV_ID;
		goto ok;
	bad_id:
		snprintf(e, sizeof(e),
			 "bad vendor:device \"%s\" (expected hex like 10de:2330 or 10de:*)", s);
		goto fail;
	}
	snprintf(e, sizeof(e),
		 "unknown device pattern \"%s\" (expected \"*\", a PCI address, vendor:device, "
		 "class:0x.., or a class name such as gpu, nvme, network)",
		 s);
fail:
	if (err && errlen)
		snprintf(err, errlen, "%s", e);
	return -EINVAL;
ok:
	*ret = p;
	return 0;
}

/* A BDF string, canonicalized into @out. */
int cfg_bdf(struct json_ctx *c, struct json_object *v, char *out, size_t outlen)
{
	char buf[TOPO_BDF_LEN];
	uint32_t d;
	uint8_t b, dv, f;
	int r = cfg_str(c, v, buf, sizeof(buf), false);
	if (r < 0)
		return r;
	if (topo_parse_bdf(buf, &d, &b, &dv, &f) < 0)
		return cfg_fail(c, "bad PCI address \"%s\" (expected dddd:bb:dd.f)", buf);
	canon_bdf(out, outlen, d, b, dv, f);
	return 0;
}

int cfg_id16(struct json_ctx *c, struct json_object *v, uint16_t *ret)
{
	char buf[16];
	uint32_t u;
	int r = cfg_str(c, v, buf, sizeof(buf), false);
	if (r < 0)
		return r;
	if (parse_hex(buf, 4, &u, NULL) < 0 || u == 0 || u == 0xffff)
		return cfg_fail(c, "expected a PCI id as 1-4 hex digits like \"8086\", got \"%s\"",
				buf);
	*ret = (uint16_t)u;
	return 0;
}

unsigned config_type_from_name(const char *name)
{
	if (!name)
		return 0;
	if (strcmp(name, "p2p") == 0)
		return CONFIG_TYPE_P2P;
	if (strcmp(name, "host") == 0)
		return CONFIG_TYPE_HOST;
	if (strcmp(name, "memfd") == 0)
		return CONFIG_TYPE_MEMFD;
	return 0;
}

const char *config_types_str(unsigned types, char *buf, size_t len)
{
	static const char *const names[] = {"p2p", "host", "memfd"};
	size_t o = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	for (unsigned i = 0; i < 3; i++) {
		if (!(types & (1u << i)))
			continue;
		int r = snprintf(buf + o, len - o, "%s%s", o ? "," : "", names[i]);
		if (r < 0 || (size_t)r >= len - o)
			break;
		o += (size_t)r;
	}
	if (!buf[0])
		snprintf(buf, len, "none");
	return buf;
}

static int add_devpat_any(struct config_rule *r)
{
	r->devices = calloc(1, sizeof(*r->devices));
	if (!r->devices)
		return -ENOMEM;
	r->devices[0].kind = CONFIG_DEV_ANY;
	strcpy(r->devices[0].text, "*");
	r->n_devices = 1;
	return 0;
}

/* The built-in rules: uid 0 may do everything; the default: host and memfd. */
int cfg_defaults_rules(struct p2p_config *cfg, bool rules, bool def)
{
	int r;

	if (rules) {
		cfg->rules = calloc(1, sizeof(*cfg->rules));
		if (!cfg->rules)
			return -ENOMEM;
		cfg->n_rules = 1;
		struct config_rule *root = &cfg->rules[0];
		root->match = CONFIG_MATCH_UID;
		root->uid = 0;
		strcpy(root->name, "root");
		root->types = CONFIG_TYPE_ALL;
		root->max_bytes = cfg->limits.max_bytes;
		root->max_buffers = cfg->limits.max_buffers;
		snprintf(root->label, sizeof(root->label), "built-in rule for uid 0");
		r = add_devpat_any(root);
		if (r < 0)
			return r;
	}
	if (def) {
		struct config_rule *d = &cfg->default_rule;
		d->match = CONFIG_MATCH_DEFAULT;
		d->types = CONFIG_TYPE_HOST | CONFIG_TYPE_MEMFD;
		d->max_bytes = cfg->limits.max_bytes;
		d->max_buffers = cfg->limits.max_buffers;
		snprintf(d->label, sizeof(d->label), "built-in default rule");
		r = add_devpat_any(d);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_devices(struct json_ctx *c, struct json_object *a, struct config_rule *rule)
{
	size_t n;
	int r = cfg_array(c, a, CONFIG_MAX_DEVICE_PATTERNS);
	if (r < 0)
		return r;
	n = json_object_array_length(a);
	if (n) {
		rule->devices = calloc(n, sizeof(*rule->devices));
		if (!rule->devices)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		char buf[64], e[256];
		json_push_idx(c, i, json_object_array_get_idx(a, i));
		r = cfg_str(c, json_object_array_get_idx(a, i), buf, sizeof(buf), false);
		if (r < 0)
			return r;
		if (config_parse_devpat(buf, &rule->devices[i], e, sizeof(e)) < 0)
			return cfg_fail(c, "%s", e);
		rule->n_devices++;
		json_pop(c);
	}
	return 0;
}

static int parse_types(struct json_ctx *c, struct json_object *a, unsigned *ret)
{
	unsigned t = 0;
	int r = cfg_array(c, a, 8);
	if (r < 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		char buf[16];
		unsigned one;
		json_push_idx(c, i, json_object_array_get_idx(a, i));
		r = cfg_str(c, json_object_array_get_idx(a, i), buf, sizeof(buf), false);
		if (r < 0)
			return r;
		one = config_type_from_name(buf);
		if (!one)
			return cfg_fail(
			    c, "unknown buffer type \"%s\" (expected p2p, host or memfd)", buf);
		t |= one;
		json_pop(c);
	}
	*ret = t;
	return 0;
}

/* One rule; @is_default: the "default" object (no uid/gid/group). */
int cfg_parse_rule(struct json_ctx *c, struct json_object *o, const struct config_limits *lim,
		   bool is_default, struct config_rule *rule)
{
	static const char *const keys[] = {"uid",   "gid",	 "group",	"devices",
					   "types", "max_bytes", "max_buffers", NULL};
	static const char *const dkeys[] = {"devices", "types", "max_bytes", "max_buffers", NULL};
	struct json_object *v;
	uint64_t u;
	int r = json_want_object(c, o);
	if (r < 0 || (r = json_check_keys(c, o, is_default ? dkeys : keys)) < 0)
		return r;

	if (!rule->line)
		rule->line = json_ctx_line(c);
	rule->max_bytes = lim->max_bytes;
	rule->max_buffers = lim->max_buffers;

	if (!is_default) {
		int nmatch =
		    !!json_member(o, "uid") + !!json_member(o, "gid") + !!json_member(o, "group");
		if (nmatch != 1)
			return cfg_fail(c,
					"a rule needs exactly one of \"uid\", \"gid\", \"group\" "
					"(found %d; use \"default\" for everyone else)",
					nmatch);
	}
	if ((v = json_member(o, "uid"))) {
		json_push_key(c, "uid", v);
		rule->match = CONFIG_MATCH_UID;
		if (json_object_is_type(v, json_type_int)) {
			r = cfg_uint(c, v, 0, UINT32_MAX - 1, &u);
			if (r < 0)
				return r;
			rule->uid = (uid_t)u;
		} else if (json_object_is_type(v, json_type_string)) {
			r = cfg_str(c, v, rule->name, sizeof(rule->name), false);
			if (r < 0)
				return r;
			r = nss_user_uid(rule->name, &rule->uid);
			if (r == -ENOMEM)
				return r;
			if (r < 0)
				return cfg_fail(c, "unknown user \"%s\"%s", rule->name,
						cfg_all_digits(rule->name)
						    ? " (write a uid as a number, without quotes)"
						    : "");
		} else {
			return cfg_fail(c, "expected a user name or number, got %s",
					json_type_desc(v));
		}
		json_pop(c);
	}
	if ((v = json_member(o, "gid"))) {
		json_push_key(c, "gid", v);
		rule->match = CONFIG_MATCH_GID;
		r = cfg_uint(c, v, 0, UINT32_MAX - 1, &u);
		if (r < 0)
			return r;
		rule->gid = (gid_t)u;
		json_pop(c);
	}
	if ((v = json_member(o, "group"))) {
		json_push_key(c, "group", v);
		rule->match = CONFIG_MATCH_GROUP;
		if (!json_object_is_type(v, json_type_string))
			return cfg_fail(c,
					"expected a group name, got %s (use \"gid\" for numbers)",
					json_type_desc(v));
		r = cfg_group(c, v, rule->name, sizeof(rule->name), &rule->gid);
		if (r < 0)
			return r;
		json_pop(c);
	}
	if ((v = json_member(o, "devices"))) {
		json_push_key(c, "devices", v);
		r = parse_devices(c, v, rule);
		if (r < 0)
			return r;
		json_pop(c);
	} else {
		r = add_devpat_any(rule);
		if (r < 0)
			return r;
	}
	if (!(v = json_member(o, "types")))
		return cfg_fail(
		    c, "missing key \"types\" (the buffer types allowed: p2p, host, memfd)");
	json_push_key(c, "types", v);
	r = parse_types(c, v, &rule->types);
	if (r < 0)
		return r;
	json_pop(c);
	if ((v = json_member(o, "max_bytes"))) {
		json_push_key(c, "max_bytes", v);
		r = cfg_size(c, v, 0, CONFIG_MAX_SIZE, &u);
		if (r < 0)
			return r;
		if (u > lim->max_bytes)
			return cfg_fail(c, "%" PRIu64 " exceeds limits.max_bytes (%" PRIu64 ")", u,
					lim->max_bytes);
		rule->max_bytes = u;
		json_pop(c);
	}
	if ((v = json_member(o, "max_buffers"))) {
		json_push_key(c, "max_buffers", v);
		r = cfg_uint(c, v, 0, UINT32_MAX, &u);
		if (r < 0)
			return r;
		if (u > lim->max_buffers)
			return cfg_fail(c, "%" PRIu64 " exceeds limits.max_buffers (%" PRIu32 ")",
					u, lim->max_buffers);
		rule->max_buffers = (uint32_t)u;
		json_pop(c);
	}
	return 0;
}

int cfg_parse_rules(struct json_ctx *c, struct json_object *a, struct p2p_config *cfg)
{
	size_t n;
	int r = cfg_array(c, a, CONFIG_MAX_RULES);
	if (r < 0)
		return r;
	n = json_object_array_length(a);
	cfg->rules = calloc(n ? n : 1, sizeof(*cfg->rules));
	if (!cfg->rules)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct config_rule *rule = &cfg->rules[i];
		json_push_idx(c, i, json_object_array_get_idx(a, i));
		cfg->n_rules++; /* so config_free() sees its devices */
		snprintf(rule->label, sizeof(rule->label), "rules[%zu]", i);
		r = cfg_parse_rule(c, json_object_array_get_idx(a, i), &cfg->limits, false, rule);
		if (r < 0)
			return r;
		json_pop(c);
	}
	return 0;
}
