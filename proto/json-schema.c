/* SPDX-License-Identifier: MIT */
/*
 * json-schema.c - the typed getters of the strict JSON front end (see json.h):
 * each checks a value at a JSON path (struct json_ctx) and says what is wrong
 * with it in one line naming that path; schemas are tables of them.
 */
#include "json.h"

#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define JSON_DEFAULT_STRING 256
#define JSON_DEFAULT_ENTRIES 64

static void path_format(char *buf, size_t len, int depth, const char *const *keys,
			const size_t *idx)
{
	size_t o = 0;
	int k;

	if (!len)
		return;
	buf[0] = '\0';
	for (k = 0; k < depth && k < JSON_PATH_MAX && o < len; k++) {
		int r = keys[k] ? snprintf(buf + o, len - o, "%s%s", o ? "." : "", keys[k])
				: snprintf(buf + o, len - o, "[%zu]", idx[k]);

		if (r < 0)
			break;
		o += (size_t)r;
	}
	if (depth > JSON_PATH_MAX && o < len)
		snprintf(buf + o, len - o, "...");
	if (!buf[0])
		snprintf(buf, len, "(top level)");
}

/* ---- typed getters -------------------------------------------------------------- */

void json_ctx_init(struct json_ctx *c, const struct json_doc *doc, const char *name, char *err,
		   size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->doc = doc;
	c->name = name;
	c->err = err;
	c->errlen = errlen;
}

void json_push_key(struct json_ctx *c, const char *key, const struct json_object *v)
{
	if (c->depth >= 0 && c->depth < JSON_PATH_MAX) {
		c->path[c->depth].key = key;
		c->path[c->depth].idx = 0;
		c->path[c->depth].val = v;
	}
	c->depth++;
}

void json_push_idx(struct json_ctx *c, size_t idx, const struct json_object *v)
{
	if (c->depth >= 0 && c->depth < JSON_PATH_MAX) {
		c->path[c->depth].key = NULL;
		c->path[c->depth].idx = idx;
		c->path[c->depth].val = v;
	}
	c->depth++;
}

void json_pop(struct json_ctx *c)
{
	if (c->depth > 0)
		c->depth--;
}

void json_ctx_path(const struct json_ctx *c, char *buf, size_t len)
{
	const char *keys[JSON_PATH_MAX];
	size_t idx[JSON_PATH_MAX];
	int k;

	for (k = 0; k < c->depth && k < JSON_PATH_MAX; k++) {
		keys[k] = c->path[k].key;
		idx[k] = c->path[k].idx;
	}
	path_format(buf, len, c->depth, keys, idx);
}

int json_ctx_line(const struct json_ctx *c)
{
	int k, line;

	if (!c->doc)
		return 0;
	for (k = (c->depth < JSON_PATH_MAX ? c->depth : JSON_PATH_MAX) - 1; k >= 0; k--) {
		line = json_doc_line(c->doc, c->path[k].val);
		if (line)
			return line;
	}
	line = json_doc_line(c->doc, c->doc->root);
	return line ? line : 1;
}

int json_fail(struct json_ctx *c, int r, const char *fmt, ...)
{
	char msg[320], path[192];
	va_list ap;

	if (!c->err || !c->errlen)
		return r;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_ctx_path(c, path, sizeof(path));
	if (c->name)
		snprintf(c->err, c->errlen, "%s:%d: %s: %s", c->name, json_ctx_line(c), path, msg);
	else
		snprintf(c->err, c->errlen, "%s: %s", path, msg);
	json_printable(c->err);
	return r;
}

const char *json_type_desc(const struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
		return "a fractional number";
	case json_type_int:
		return "an integer";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	}
	return "something else";
}

struct json_object *json_member(const struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;

	if (!obj || !json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

int json_check_keys(struct json_ctx *c, const struct json_object *obj, const char *const *allowed)
{
	json_object_object_foreach((struct json_object *)obj, key, val)
	{
		const char *const *a;
		int r;

		for (a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				break;
		if (*a)
			continue;
		json_push_key(c, key, val);
		r = json_fail(c, -EINVAL, "unknown key");
		json_pop(c);
		return r;
	}
	return 0;
}

int json_want_object(struct json_ctx *c, const struct json_object *v)
{
	if (!json_object_is_type(v, json_type_object))
		return json_fail(c, -EINVAL, "expected an object, got %s", json_type_desc(v));
	return 0;
}

int json_want_array(struct json_ctx *c, const struct json_object *v, size_t max)
{
	if (!json_object_is_type(v, json_type_array))
		return json_fail(c, -EINVAL, "expected an array, got %s", json_type_desc(v));
	if (json_object_array_length(v) > max)
		return json_fail(c, -E2BIG, "too many entries (%zu, at most %zu)",
				 json_object_array_length(v), max);
	return 0;
}

int json_want_bool(struct json_ctx *c, const struct json_object *v, bool *ret)
{
	if (!json_object_is_type(v, json_type_boolean))
		return json_fail(c, -EINVAL, "expected true or false, got %s", json_type_desc(v));
	if (ret)
		*ret = json_object_get_boolean(v);
	return 0;
}

int json_want_uint(struct json_ctx *c, const struct json_object *v, uint64_t min, uint64_t max,
		   uint64_t *ret)
{
	uint64_t u;

	if (!json_object_is_type(v, json_type_int))
		return json_fail(c, -EINVAL,
				 "expected an integer in %" PRIu64 "..%" PRIu64 ", got %s", min,
				 max, json_type_desc(v));
	if (json_object_get_int64(v) < 0)
		return json_fail(c, -ERANGE,
				 "expected an integer in %" PRIu64 "..%" PRIu64 ", got %" PRId64,
				 min, max, json_object_get_int64(v));
	u = json_object_get_uint64(v);
	/* json-c saturates what does not fit in 64 bits */
	if (u == UINT64_MAX || (u > max && u >= (uint64_t)INT64_MAX))
		return json_fail(c, -ERANGE,
				 "expected an integer in %" PRIu64 "..%" PRIu64
				 ", got a number too large",
				 min, max);
	if (u < min || u > max)
		return json_fail(c, -ERANGE,
				 "expected an integer in %" PRIu64 "..%" PRIu64 ", got %" PRIu64,
				 min, max, u);
	if (ret)
		*ret = u;
	return 0;
}

int json_want_string(struct json_ctx *c, const struct json_object *v, size_t min, size_t max,
		     unsigned flags, const char **ret, size_t *ret_len)
{
	const char *s;
	size_t n;

	if (!json_object_is_type(v, json_type_string))
		return json_fail(c, -EINVAL, "expected a string, got %s", json_type_desc(v));
	s = json_object_get_string((struct json_object *)v);
	n = (size_t)json_object_get_string_len(v);
	if (strlen(s) != n)
		return json_fail(c, -EINVAL, "string contains a NUL byte");
	if (n > max)
		return json_fail(c, -EINVAL, "string too long (%zu bytes, at most %zu)", n, max);
	if (n < min && min == 1)
		return json_fail(c, -EINVAL, "expected a non-empty string");
	if (n < min)
		return json_fail(c, -EINVAL, "string too short (%zu bytes, at least %zu)", n, min);
	if (flags & JSON_STR_NAME) {
		char why[96];

		if (json_name_check(s, n, why, sizeof(why)) < 0)
			return json_fail(c, -EINVAL, "%s", why);
	}
	if (ret)
		*ret = s;
	if (ret_len)
		*ret_len = n;
	return 0;
}

/* ---- schemas -------------------------------------------------------------------- */

static int check_field(struct json_ctx *c, const struct json_field *f, const struct json_object *v)
{
	size_t max = f->max_len;
	size_t i, n;
	int r;

	switch (f->kind) {
	case JSON_K_STRING:
	case JSON_K_NAME:
		return json_want_string(c, v, 1, max ? max : JSON_DEFAULT_STRING,
					f->kind == JSON_K_NAME ? JSON_STR_NAME : 0, NULL, NULL);
	case JSON_K_UINT:
		return json_want_uint(c, v, 0, f->max ? f->max : (uint64_t)INT64_MAX, NULL);
	case JSON_K_BOOL:
		return json_want_bool(c, v, NULL);
	case JSON_K_STRARRAY:
		r = json_want_array(c, v, max ? max : JSON_DEFAULT_ENTRIES);
		if (r < 0)
			return r;
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			const struct json_object *e = json_object_array_get_idx(v, i);

			json_push_idx(c, i, e);
			r = json_want_string(c, e, 1, JSON_STRARRAY_MAX, JSON_STR_NAME, NULL, NULL);
			if (r < 0)
				return r;
			json_pop(c);
		}
		return 0;
	}
	return json_fail(c, -EINVAL, "bad schema");
}

int json_check_fields(struct json_ctx *c, const struct json_object *obj,
		      const struct json_field *fields, size_t nfields)
{
	size_t i;
	int r;

	r = json_want_object(c, obj);
	if (r < 0)
		return r;
	json_object_object_foreach((struct json_object *)obj, key, val)
	{
		const struct json_field *f = NULL;

		for (i = 0; i < nfields && !f; i++)
			if (strcmp(fields[i].key, key) == 0)
				f = &fields[i];
		json_push_key(c, key, val);
		r = f ? check_field(c, f, val) : json_fail(c, -EINVAL, "unknown key");
		if (r < 0)
			return r;
		json_pop(c);
	}
	for (i = 0; i < nfields; i++)
		if (fields[i].required && !json_object_object_get_ex(obj, fields[i].key, NULL))
			return json_fail(c, -EINVAL, "missing key \"%s\"", fields[i].key);
	return 0;
}

const char *json_get_str(const struct json_object *obj, const char *key, const char *dflt)
{
	struct json_object *v = json_member(obj, key);

	if (!json_object_is_type(v, json_type_string))
		return dflt;
	return json_object_get_string(v);
}

uint64_t json_get_u64(const struct json_object *obj, const char *key, uint64_t dflt)
{
	struct json_object *v = json_member(obj, key);

	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
		return dflt;
	return json_object_get_uint64(v);
}

bool json_get_bool(const struct json_object *obj, const char *key, bool dflt)
{
	struct json_object *v = json_member(obj, key);

	if (!json_object_is_type(v, json_type_boolean))
		return dflt;
	return json_object_get_boolean(v);
}

int json_get_int(const struct json_object *obj, const char *key, int dflt)
{
	struct json_object *v = json_member(obj, key);
	int64_t i;

	if (!json_object_is_type(v, json_type_int))
		return dflt;
	i = json_object_get_int64(v);
	return i < INT_MIN || i > INT_MAX ? dflt : (int)i;
}

int64_t json_get_i64(const struct json_object *obj, const char *key, int64_t dflt)
{
	struct json_object *v = json_member(obj, key);

	return json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : dflt;
}

double json_get_double(const struct json_object *obj, const char *key, double dflt)
{
	struct json_object *v = json_member(obj, key);

	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
		return dflt;
	return json_object_get_double(v);
}

struct json_object *json_get_object(const struct json_object *obj, const char *key)
{
	struct json_object *v = json_member(obj, key);

	return json_object_is_type(v, json_type_object) ? v : NULL;
}

struct json_object *json_get_array(const struct json_object *obj, const char *key)
{
	struct json_object *v = json_member(obj, key);

	return json_object_is_type(v, json_type_array) ? v : NULL;
}

const char *json_get_text(const struct json_object *obj, const char *key, const char *dflt)
{
	struct json_object *v = json_member(obj, key);

	switch (json_object_get_type(v)) {
	case json_type_string:
	case json_type_int:
	case json_type_double:
	case json_type_boolean:
		return json_object_get_string(v);
	default:
		return dflt;
	}
}
