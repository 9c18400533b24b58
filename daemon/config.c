/* SPDX-License-Identifier: MIT */
/*
 * config.c - load and validate p2pd.json into plain C structs (see config.h and
 * p2pd.json(5)).
 *
 * Order of work: bound the text, parse it with json-c's strict tokener (syntax
 * errors carry the tokener's offset as line:column), reject duplicate keys with
 * a small scanner over the already valid text, then walk the schema with a type
 * check before every getter.  Semantic errors name the JSON path; their line is
 * found by walking the same path through the text with that scanner.
 */
#include "config.h"
#include "proto.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX_KEYS 64	     /* keys in one JSON object */
#define CONFIG_MAX_SIZE (1ull << 52) /* 4 PiB: anything above is a mistake */
#define CONFIG_NSS_BUF_MAX (1 << 20) /* getpwnam_r/getgrnam_r buffer cap */

struct path_comp {
	const char *key; /* NULL: array index */
	int idx;
};

struct cfg_ctx {
	const char *text;
	size_t len;
	const char *name;
	char *err;
	size_t errlen;
	struct path_comp path[CONFIG_MAX_DEPTH + 4];
	int depth;
};

/* ---------------------------------------------------------------------------
 * A minimal scanner over JSON text json-c has already accepted: used to find
 * the line of a JSON path and to spot duplicate keys.  Defensive anyway: every
 * access is bounds checked and anything unexpected just stops it.
 */
struct scan {
	const char *s;
	size_t n, i;
};

static void sc_ws(struct scan *s)
{
	while (s->i < s->n && (s->s[s->i] == ' ' || s->s[s->i] == '\t' || s->s[s->i] == '\r' ||
			       s->s[s->i] == '\n'))
		s->i++;
}

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

/* At a '"': decode the string into @out (cut to @outlen-1 bytes; *ret_cut set
 * when cut or when it holds an escape it cannot represent). */
static bool sc_string(struct scan *s, char *out, size_t outlen, bool *ret_cut)
{
	size_t o = 0;
	bool cut = false;

	if (s->i >= s->n || s->s[s->i] != '"')
		return false;
	s->i++;
	while (s->i < s->n) {
		char ch = s->s[s->i++];
		if (ch == '"') {
			if (out && outlen)
				out[o < outlen ? o : outlen - 1] = '\0';
			if (ret_cut)
				*ret_cut = cut;
			return true;
		}
		if (ch == '\\') {
			if (s->i >= s->n)
				return false;
			ch = s->s[s->i++];
			switch (ch) {
			case 'b':
				ch = '\b';
				break;
			case 'f':
				ch = '\f';
				break;
			case 'n':
				ch = '\n';
				break;
			case 'r':
				ch = '\r';
				break;
			case 't':
				ch = '\t';
				break;
			case 'u': {
				unsigned v = 0;
				if (s->n - s->i < 4)
					return false;
				for (int k = 0; k < 4; k++) {
					int h = hexval(s->s[s->i + k]);
					if (h < 0)
						return false;
					v = v * 16 + (unsigned)h;
				}
				s->i += 4;
				if (v == 0 || v >= 0x80) {
					cut = true; /* not comparable byte-wise */
					ch = '?';
				} else {
					ch = (char)v;
				}
				break;
			}
			default:
				break; /* '"', '\\', '/' stand for themselves */
			}
		}
		if (out && o + 1 < outlen)
			out[o++] = ch;
		else
			cut = true;
	}
	return false;
}

static bool sc_skip(struct scan *s, int depth)
{
	if (depth > CONFIG_MAX_DEPTH + 2)
		return false;
	sc_ws(s);
	if (s->i >= s->n)
		return false;
	char ch = s->s[s->i];
	if (ch == '"')
		return sc_string(s, NULL, 0, NULL);
	if (ch == '{' || ch == '[') {
		char close = ch == '{' ? '}' : ']';
		s->i++;
		sc_ws(s);
		if (s->i < s->n && s->s[s->i] == close) {
			s->i++;
			return true;
		}
		for (;;) {
			if (ch == '{') {
				sc_ws(s);
				if (!sc_string(s, NULL, 0, NULL))
					return false;
				sc_ws(s);
				if (s->i >= s->n || s->s[s->i] != ':')
					return false;
				s->i++;
			}
			if (!sc_skip(s, depth + 1))
				return false;
			sc_ws(s);
			if (s->i >= s->n)
				return false;
			if (s->s[s->i] == ',') {
				s->i++;
				continue;
			}
			if (s->s[s->i] == close) {
				s->i++;
				return true;
			}
			return false;
		}
	}
	size_t start = s->i;
	while (s->i < s->n && strchr("+-0123456789.eEtrufalsn", s->s[s->i]) && s->s[s->i])
		s->i++;
	return s->i > start;
}

/* Offset of the JSON path c->path[0..ncomp) in the text: of the last key, or of
 * the array element.  Returns the deepest offset it could reach. */
static size_t cfg_locate(const struct cfg_ctx *c, int ncomp)
{
	struct scan s = {.s = c->text, .n = c->len, .i = 0};
	size_t found = 0;

	if (ncomp > (int)(sizeof(c->path) / sizeof(c->path[0])))
		ncomp = (int)(sizeof(c->path) / sizeof(c->path[0]));
	sc_ws(&s);
	found = s.i;
	for (int k = 0; k < ncomp; k++) {
		const struct path_comp *p = &c->path[k];
		sc_ws(&s);
		if (s.i >= s.n)
			return found;
		if (p->key) {
			bool hit = false;
			if (s.s[s.i] != '{')
				return found;
			s.i++;
			for (;;) {
				char key[CONFIG_NAME_LEN * 2];
				bool cut = false;
				size_t kpos;
				sc_ws(&s);
				kpos = s.i;
				if (!sc_string(&s, key, sizeof(key), &cut))
					return found;
				sc_ws(&s);
				if (s.i >= s.n || s.s[s.i] != ':')
					return found;
				s.i++;
				if (!cut && strcmp(key, p->key) == 0) {
					found = kpos;
					hit = true;
					break;
				}
				if (!sc_skip(&s, k))
					return found;
				sc_ws(&s);
				if (s.i >= s.n || s.s[s.i] != ',')
					return found;
				s.i++;
			}
			if (!hit)
				return found;
		} else {
			if (s.s[s.i] != '[')
				return found;
			s.i++;
			for (int e = 0; e < p->idx; e++) {
				if (!sc_skip(&s, k))
					return found;
				sc_ws(&s);
				if (s.i >= s.n || s.s[s.i] != ',')
					return found;
				s.i++;
			}
			sc_ws(&s);
			found = s.i;
		}
	}
	return found;
}

static int line_of(const char *text, size_t len, size_t off, int *ret_col)
{
	int line = 1;
	size_t bol = 0;

	if (off > len)
		off = len;
	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			line++;
			bol = i + 1;
		}
	}
	if (ret_col)
		*ret_col = (int)(off - bol) + 1;
	return line;
}

static void path_str(const struct cfg_ctx *c, int ncomp, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	if (ncomp > (int)(sizeof(c->path) / sizeof(c->path[0])))
		ncomp = (int)(sizeof(c->path) / sizeof(c->path[0]));
	for (int k = 0; k < ncomp && o < len; k++) {
		int r;
		if (c->path[k].key)
			r = snprintf(buf + o, len - o, "%s%s", o ? "." : "", c->path[k].key);
		else
			r = snprintf(buf + o, len - o, "[%d]", c->path[k].idx);
		if (r < 0)
			break;
		o += (size_t)r;
	}
	if (!buf[0])
		snprintf(buf, len, "(top level)");
}

/* Record "NAME:LINE: PATH: message" for the current path; returns -EINVAL. */
__attribute__((format(printf, 2, 3))) static int cfg_fail(struct cfg_ctx *c, const char *fmt, ...)
{
	char msg[320], path[192];
	va_list ap;

	if (!c->err || !c->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	path_str(c, c->depth, path, sizeof(path));
	int line = line_of(c->text, c->len, cfg_locate(c, c->depth), NULL);
	snprintf(c->err, c->errlen, "%s:%d: %s: %s", c->name, line, path, msg);
	return -EINVAL;
}

static void push_key(struct cfg_ctx *c, const char *key)
{
	if (c->depth < (int)(sizeof(c->path) / sizeof(c->path[0])))
		c->path[c->depth] = (struct path_comp){.key = key, .idx = -1};
	c->depth++;
}

static void push_idx(struct cfg_ctx *c, int idx)
{
	if (c->depth < (int)(sizeof(c->path) / sizeof(c->path[0])))
		c->path[c->depth] = (struct path_comp){.key = NULL, .idx = idx};
	c->depth++;
}

static void pop(struct cfg_ctx *c)
{
	c->depth--;
}

/* Offset of the first byte of @s[0..n) that is not valid UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or n. */
static size_t utf8_check(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char b = s[i];
		size_t len;
		uint32_t cp, min;
		if (b < 0x80) {
			i++;
			continue;
		}
		if ((b & 0xe0) == 0xc0) {
			len = 2, cp = b & 0x1f, min = 0x80;
		} else if ((b & 0xf0) == 0xe0) {
			len = 3, cp = b & 0x0f, min = 0x800;
		} else if ((b & 0xf8) == 0xf0) {
			len = 4, cp = b & 0x07, min = 0x10000;
		} else {
			return i;
		}
		if (n - i < len)
			return i;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += len;
	}
	return n;
}

static int syntax_fail(struct cfg_ctx *c, size_t off, const char *what)
{
	int col, line = line_of(c->text, c->len, off, &col);
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "%s:%d: syntax error at column %d: %s", c->name, line,
			 col, what);
	return -EINVAL;
}

/* At a '"': skip the string, which must be valid UTF-8; 0 or -EINVAL. */
static int strict_string(struct cfg_ctx *c, struct scan *s, char *out, size_t outlen, bool *cut)
{
	size_t start = s->i, bad;

	if (s->i >= s->n || s->s[s->i] != '"' || !sc_string(s, out, outlen, cut))
		return syntax_fail(c, start, "expected a double-quoted string");
	bad = utf8_check((const unsigned char *)s->s + start + 1, s->i - start - 2);
	if (bad != s->i - start - 2)
		return syntax_fail(c, start + 1 + bad, "invalid UTF-8 in a string");
	return 0;
}

/*
 * Walk the whole text once more, strictly: json-c's "strict" mode still takes
 * single-quoted strings, so anything but RFC 8259 structure is refused here.
 * Also rejects an object with a repeated key (json-c would keep the last one
 * silently) or with more than CONFIG_MAX_KEYS keys.
 */
static int strict_walk(struct cfg_ctx *c, struct scan *s, int depth)
{
	char(*keys)[CONFIG_NAME_LEN] = NULL;
	int nkeys = 0, idx = 0, r = 0;
	bool is_obj;

	if (depth > CONFIG_MAX_DEPTH + 1 || c->depth >= (int)(sizeof(c->path) / sizeof(c->path[0])))
		return syntax_fail(c, s->i, "nested too deeply");
	sc_ws(s);
	if (s->i >= s->n)
		return syntax_fail(c, s->i, "unexpected end of file");
	if (s->s[s->i] == '"')
		return strict_string(c, s, NULL, 0, NULL);
	if (s->s[s->i] != '{' && s->s[s->i] != '[') {
		size_t start = s->i;
		if (!sc_skip(s, depth))
			return syntax_fail(c, start,
					   "unexpected character (strings need double quotes)");
		return 0;
	}
	is_obj = s->s[s->i] == '{';
	s->i++;
	sc_ws(s);
	if (s->i < s->n && s->s[s->i] == (is_obj ? '}' : ']')) {
		s->i++;
		return 0;
	}
	if (is_obj) {
		keys = calloc(CONFIG_MAX_KEYS, sizeof(*keys));
		if (!keys)
			return -ENOMEM;
	}
	for (;; idx++) {
		if (is_obj) {
			char key[CONFIG_NAME_LEN];
			bool cut = false;
			size_t kpos;
			sc_ws(s);
			kpos = s->i;
			if (s->i >= s->n || s->s[s->i] != '"') {
				r = syntax_fail(c, kpos, "expected a double-quoted key");
				goto out;
			}
			r = strict_string(c, s, key, sizeof(key), &cut);
			if (r < 0)
				goto out;
			if (nkeys >= CONFIG_MAX_KEYS) {
				r = cfg_fail(c, "more than %d keys in one object", CONFIG_MAX_KEYS);
				goto out;
			}
			for (int k = 0; k < nkeys && !cut; k++) {
				if (strcmp(keys[k], key) == 0) {
					char path[192];
					push_key(c, key);
					path_str(c, c->depth, path, sizeof(path));
					if (c->err && c->errlen)
						snprintf(c->err, c->errlen,
							 "%s:%d: %s: duplicate key", c->name,
							 line_of(c->text, c->len, kpos, NULL),
							 path);
					r = -EINVAL;
					goto out;
				}
			}
			memcpy(keys[nkeys], key, sizeof(key));
			if (cut)
				keys[nkeys][0] = '\0'; /* an unknown key anyway; never "equal" */
			nkeys++;
			sc_ws(s);
			if (s->i >= s->n || s->s[s->i] != ':') {
				r = syntax_fail(c, s->i, "expected ':'");
				goto out;
			}
			s->i++;
			push_key(c, keys[nkeys - 1]);
		} else {
			push_idx(c, idx);
		}
		r = strict_walk(c, s, depth + 1);
		if (r < 0)
			goto out;
		pop(c);
		sc_ws(s);
		if (s->i < s->n && s->s[s->i] == ',') {
			s->i++;
			continue;
		}
		if (s->i < s->n && s->s[s->i] == (is_obj ? '}' : ']')) {
			s->i++;
			break;
		}
		r = syntax_fail(c, s->i, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
		goto out;
	}
out:
	free(keys);
	return r;
}

/* ---------------------------------------------------------------------------
 * Typed getters: each checks presence and type before reading.
 */

static int check_keys(struct cfg_ctx *c, struct json_object *obj, const char *const *allowed)
{
	json_object_object_foreach(obj, key, val)
	{
		bool ok = false;
		(void)val;
		for (const char *const *a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				ok = true;
		if (!ok) {
			int r;
			push_key(c, key);
			r = cfg_fail(c, "unknown key");
			pop(c);
			return r;
		}
	}
	return 0;
}

static const char *type_name(struct json_object *v)
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

/* Current path must hold @v: an integer in [min, max]. */
static int val_uint(struct cfg_ctx *c, struct json_object *v, uint64_t min, uint64_t max,
		    uint64_t *ret)
{
	if (!json_object_is_type(v, json_type_int))
		return cfg_fail(c, "expected an integer in %" PRIu64 "..%" PRIu64 ", got %s", min,
				max, type_name(v));
	if (json_object_get_int64(v) < 0)
		return cfg_fail(c, "expected an integer in %" PRIu64 "..%" PRIu64 ", got %" PRId64,
				min, max, json_object_get_int64(v));
	uint64_t u = json_object_get_uint64(v);
	if (u == UINT64_MAX || (u > max && u >= (uint64_t)INT64_MAX))
		return cfg_fail(
		    c, "expected an integer in %" PRIu64 "..%" PRIu64 ", got a number too large",
		    min, max);
	if (u < min || u > max)
		return cfg_fail(c, "expected an integer in %" PRIu64 "..%" PRIu64 ", got %s", min,
				max, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	*ret = u;
	return 0;
}

/* A string value without NUL bytes, shorter than @len. */
static int val_str(struct cfg_ctx *c, struct json_object *v, char *buf, size_t len,
		   bool allow_empty)
{
	if (!json_object_is_type(v, json_type_string))
		return cfg_fail(c, "expected a string, got %s", type_name(v));
	const char *s = json_object_get_string(v);
	size_t n = (size_t)json_object_get_string_len(v);
	if (strlen(s) != n)
		return cfg_fail(c, "string contains a NUL byte");
	if (n >= len)
		return cfg_fail(c, "string too long (%zu bytes, at most %zu)", n, len - 1);
	if (!n && !allow_empty)
		return cfg_fail(c, "expected a non-empty string");
	memcpy(buf, s, n + 1);
	return 0;
}

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

static int val_size(struct cfg_ctx *c, struct json_object *v, uint64_t min, uint64_t max,
		    uint64_t *ret)
{
	if (json_object_is_type(v, json_type_string)) {
		char buf[32];
		uint64_t u;
		int r = val_str(c, v, buf, sizeof(buf), false);
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
				type_name(v));
	return val_uint(c, v, min, max, ret);
}

/* Fetch @key of @obj if present: 0 and *ret (NULL when absent). */
static struct json_object *member(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

static int want_object(struct cfg_ctx *c, struct json_object *v)
{
	if (!json_object_is_type(v, json_type_object))
		return cfg_fail(c, "expected an object, got %s", type_name(v));
	return 0;
}

static int want_array(struct cfg_ctx *c, struct json_object *v, size_t max)
{
	if (!json_object_is_type(v, json_type_array))
		return cfg_fail(c, "expected an array, got %s", type_name(v));
	if (json_object_array_length(v) > max)
		return cfg_fail(c, "too many entries (%zu, at most %zu)",
				json_object_array_length(v), max);
	return 0;
}

/* ---------------------------------------------------------------------------
 * Name service lookups (done at load time).
 */

static int lookup_user(const char *name, uid_t *ret_uid)
{
	struct passwd pw, *res = NULL;
	size_t len = 4096;
	char *buf = NULL;
	int r;

	for (;;) {
		char *nb = realloc(buf, len);
		if (!nb) {
			free(buf);
			return -ENOMEM;
		}
		buf = nb;
		r = getpwnam_r(name, &pw, buf, len, &res);
		if (r != ERANGE || len >= CONFIG_NSS_BUF_MAX)
			break;
		len *= 2;
	}
	if (r == 0 && res)
		*ret_uid = res->pw_uid;
	free(buf);
	if (r)
		return -r;
	return res ? 0 : -ENOENT;
}

static int lookup_group(const char *name, gid_t *ret_gid)
{
	struct group gr, *res = NULL;
	size_t len = 4096;
	char *buf = NULL;
	int r;

	for (;;) {
		char *nb = realloc(buf, len);
		if (!nb) {
			free(buf);
			return -ENOMEM;
		}
		buf = nb;
		r = getgrnam_r(name, &gr, buf, len, &res);
		if (r != ERANGE || len >= CONFIG_NSS_BUF_MAX)
			break;
		len *= 2;
	}
	if (r == 0 && res)
		*ret_gid = res->gr_gid;
	free(buf);
	if (r)
		return -r;
	return res ? 0 : -ENOENT;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* A group given as a name (resolved) or a number. */
static int val_group(struct cfg_ctx *c, struct json_object *v, char *name, size_t namelen,
		     gid_t *ret_gid)
{
	if (json_object_is_type(v, json_type_int)) {
		uint64_t u;
		int r = val_uint(c, v, 0, UINT32_MAX - 1, &u);
		if (r < 0)
			return r;
		name[0] = '\0';
		*ret_gid = (gid_t)u;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return cfg_fail(c, "expected a group name or number, got %s", type_name(v));
	int r = val_str(c, v, name, namelen, false);
	if (r < 0)
		return r;
	r = lookup_group(name, ret_gid);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return cfg_fail(c, "unknown group \"%s\"%s", name,
				all_digits(name) ? " (write a gid as a number, without quotes)"
						 : "");
	return 0;
}

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
static int val_bdf(struct cfg_ctx *c, struct json_object *v, char *out, size_t outlen)
{
	char buf[TOPO_BDF_LEN];
	uint32_t d;
	uint8_t b, dv, f;
	int r = val_str(c, v, buf, sizeof(buf), false);
	if (r < 0)
		return r;
	if (topo_parse_bdf(buf, &d, &b, &dv, &f) < 0)
		return cfg_fail(c, "bad PCI address \"%s\" (expected dddd:bb:dd.f)", buf);
	canon_bdf(out, outlen, d, b, dv, f);
	return 0;
}

static int val_id16(struct cfg_ctx *c, struct json_object *v, uint16_t *ret)
{
	char buf[16];
	uint32_t u;
	int r = val_str(c, v, buf, sizeof(buf), false);
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

/* ---------------------------------------------------------------------------
 * Schema.
 */

static void defaults_limits(struct config_limits *l)
{
	l->max_connections = 256;
	l->max_buffers = 64;
	l->max_pending_per_client = 16;
	l->max_message_size = P2P_PROTO_MAX_REQUEST;
	l->max_bytes = 1ull << 30;
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
static int defaults_rules(struct p2p_config *cfg, bool rules, bool def)
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

static int parse_socket(struct cfg_ctx *c, struct json_object *o, struct p2p_config *cfg)
{
	static const char *const keys[] = {"path", "mode", "group", NULL};
	struct json_object *v;
	int r = want_object(c, o);
	if (r < 0 || (r = check_keys(c, o, keys)) < 0)
		return r;

	if ((v = member(o, "path"))) {
		push_key(c, "path");
		r = val_str(c, v, cfg->socket_path, sizeof(cfg->socket_path), false);
		if (r < 0)
			return r;
		if (cfg->socket_path[0] != '/')
			return cfg_fail(c, "expected an absolute path");
		pop(c);
	}
	if ((v = member(o, "mode"))) {
		char buf[8];
		const char *p;
		unsigned m = 0;
		push_key(c, "mode");
		if (!json_object_is_type(v, json_type_string))
			return cfg_fail(c, "expected an octal mode string like \"0660\", got %s",
					type_name(v));
		r = val_str(c, v, buf, sizeof(buf), false);
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
		pop(c);
		goto mode_ok;
	bad_mode:
		return cfg_fail(c, "expected an octal mode string like \"0660\", got \"%s\"", buf);
	}
mode_ok:
	if ((v = member(o, "group"))) {
		push_key(c, "group");
		r = val_group(c, v, cfg->socket_group, sizeof(cfg->socket_group), &cfg->socket_gid);
		if (r < 0)
			return r;
		cfg->has_socket_gid = true;
		pop(c);
	}
	return 0;
}

static int parse_limits(struct cfg_ctx *c, struct json_object *o, struct config_limits *l)
{
	static const char *const keys[] = {"max_connections",  "max_buffers",
					   "max_bytes",	       "max_pending_per_client",
					   "max_message_size", NULL};
	static const struct {
		const char *key;
		uint64_t min, max;
	} u32s[] = {
	    {"max_connections", 1, 65536},
	    {"max_buffers", 1, 1u << 20},
	    {"max_pending_per_client", 1, 4096},
	    {"max_message_size", P2P_PROTO_MIN_MESSAGE, P2P_PROTO_MAX_REQUEST},
	};
	uint32_t *dst[] = {&l->max_connections, &l->max_buffers, &l->max_pending_per_client,
			   &l->max_message_size};
	struct json_object *v;
	uint64_t u;
	int r = want_object(c, o);
	if (r < 0 || (r = check_keys(c, o, keys)) < 0)
		return r;

	for (size_t i = 0; i < sizeof(u32s) / sizeof(u32s[0]); i++) {
		if (!(v = member(o, u32s[i].key)))
			continue;
		push_key(c, u32s[i].key);
		r = val_uint(c, v, u32s[i].min, u32s[i].max, &u);
		if (r < 0)
			return r;
		*dst[i] = (uint32_t)u;
		pop(c);
	}
	if ((v = member(o, "max_bytes"))) {
		push_key(c, "max_bytes");
		r = val_size(c, v, 1, CONFIG_MAX_SIZE, &u);
		if (r < 0)
			return r;
		l->max_bytes = u;
		pop(c);
	}
	return 0;
}

static int parse_devices(struct cfg_ctx *c, struct json_object *a, struct config_rule *rule)
{
	size_t n;
	int r = want_array(c, a, CONFIG_MAX_DEVICE_PATTERNS);
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
		push_idx(c, (int)i);
		r = val_str(c, json_object_array_get_idx(a, i), buf, sizeof(buf), false);
		if (r < 0)
			return r;
		if (config_parse_devpat(buf, &rule->devices[i], e, sizeof(e)) < 0)
			return cfg_fail(c, "%s", e);
		rule->n_devices++;
		pop(c);
	}
	return 0;
}

static int parse_types(struct cfg_ctx *c, struct json_object *a, unsigned *ret)
{
	unsigned t = 0;
	int r = want_array(c, a, 8);
	if (r < 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		char buf[16];
		unsigned one;
		push_idx(c, (int)i);
		r = val_str(c, json_object_array_get_idx(a, i), buf, sizeof(buf), false);
		if (r < 0)
			return r;
		one = config_type_from_name(buf);
		if (!one)
			return cfg_fail(
			    c, "unknown buffer type \"%s\" (expected p2p, host or memfd)", buf);
		t |= one;
		pop(c);
	}
	*ret = t;
	return 0;
}

/* One rule; @is_default: the "default" object (no uid/gid/group). */
static int parse_rule(struct cfg_ctx *c, struct json_object *o, const struct config_limits *lim,
		      bool is_default, struct config_rule *rule)
{
	static const char *const keys[] = {"uid",   "gid",	 "group",	"devices",
					   "types", "max_bytes", "max_buffers", NULL};
	static const char *const dkeys[] = {"devices", "types", "max_bytes", "max_buffers", NULL};
	struct json_object *v;
	uint64_t u;
	int r = want_object(c, o);
	if (r < 0 || (r = check_keys(c, o, is_default ? dkeys : keys)) < 0)
		return r;

	if (!rule->line)
		rule->line = line_of(c->text, c->len, cfg_locate(c, c->depth), NULL);
	rule->max_bytes = lim->max_bytes;
	rule->max_buffers = lim->max_buffers;

	if (!is_default) {
		int nmatch = !!member(o, "uid") + !!member(o, "gid") + !!member(o, "group");
		if (nmatch != 1)
			return cfg_fail(c,
					"a rule needs exactly one of \"uid\", \"gid\", \"group\" "
					"(found %d; use \"default\" for everyone else)",
					nmatch);
	}
	if ((v = member(o, "uid"))) {
		push_key(c, "uid");
		rule->match = CONFIG_MATCH_UID;
		if (json_object_is_type(v, json_type_int)) {
			r = val_uint(c, v, 0, UINT32_MAX - 1, &u);
			if (r < 0)
				return r;
			rule->uid = (uid_t)u;
		} else if (json_object_is_type(v, json_type_string)) {
			r = val_str(c, v, rule->name, sizeof(rule->name), false);
			if (r < 0)
				return r;
			r = lookup_user(rule->name, &rule->uid);
			if (r == -ENOMEM)
				return r;
			if (r < 0)
				return cfg_fail(c, "unknown user \"%s\"%s", rule->name,
						all_digits(rule->name)
						    ? " (write a uid as a number, without quotes)"
						    : "");
		} else {
			return cfg_fail(c, "expected a user name or number, got %s", type_name(v));
		}
		pop(c);
	}
	if ((v = member(o, "gid"))) {
		push_key(c, "gid");
		rule->match = CONFIG_MATCH_GID;
		r = val_uint(c, v, 0, UINT32_MAX - 1, &u);
		if (r < 0)
			return r;
		rule->gid = (gid_t)u;
		pop(c);
	}
	if ((v = member(o, "group"))) {
		push_key(c, "group");
		rule->match = CONFIG_MATCH_GROUP;
		if (!json_object_is_type(v, json_type_string))
			return cfg_fail(c,
					"expected a group name, got %s (use \"gid\" for numbers)",
					type_name(v));
		r = val_group(c, v, rule->name, sizeof(rule->name), &rule->gid);
		if (r < 0)
			return r;
		pop(c);
	}
	if ((v = member(o, "devices"))) {
		push_key(c, "devices");
		r = parse_devices(c, v, rule);
		if (r < 0)
			return r;
		pop(c);
	} else {
		r = add_devpat_any(rule);
		if (r < 0)
			return r;
	}
	if (!(v = member(o, "types")))
		return cfg_fail(
		    c, "missing key \"types\" (the buffer types allowed: p2p, host, memfd)");
	push_key(c, "types");
	r = parse_types(c, v, &rule->types);
	if (r < 0)
		return r;
	pop(c);
	if ((v = member(o, "max_bytes"))) {
		push_key(c, "max_bytes");
		r = val_size(c, v, 0, CONFIG_MAX_SIZE, &u);
		if (r < 0)
			return r;
		if (u > lim->max_bytes)
			return cfg_fail(c, "%" PRIu64 " exceeds limits.max_bytes (%" PRIu64 ")", u,
					lim->max_bytes);
		rule->max_bytes = u;
		pop(c);
	}
	if ((v = member(o, "max_buffers"))) {
		push_key(c, "max_buffers");
		r = val_uint(c, v, 0, UINT32_MAX, &u);
		if (r < 0)
			return r;
		if (u > lim->max_buffers)
			return cfg_fail(c, "%" PRIu64 " exceeds limits.max_buffers (%" PRIu32 ")",
					u, lim->max_buffers);
		rule->max_buffers = (uint32_t)u;
		pop(c);
	}
	return 0;
}

/* The lines of the @n elements of the array under the key at the current
 * path, in one pass (locating each element from the start would be O(n^2)). */
static void rule_lines(struct cfg_ctx *c, struct config_rule *rules, size_t n)
{
	size_t key = cfg_locate(c, c->depth), last = key;
	struct scan s = {.s = c->text, .n = c->len, .i = key};
	int line = line_of(c->text, c->len, key, NULL);

	if (!sc_string(&s, NULL, 0, NULL))
		return;
	sc_ws(&s);
	if (s.i >= s.n || s.s[s.i] != ':')
		return;
	s.i++;
	sc_ws(&s);
	if (s.i >= s.n || s.s[s.i] != '[')
		return;
	s.i++;
	for (size_t i = 0; i < n; i++) {
		sc_ws(&s);
		for (; last < s.i; last++)
			line += c->text[last] == '\n';
		rules[i].line = line;
		if (!sc_skip(&s, 1))
			return;
		sc_ws(&s);
		if (s.i >= s.n || s.s[s.i] != ',')
			return;
		s.i++;
	}
}

static int parse_rules(struct cfg_ctx *c, struct json_object *a, struct p2p_config *cfg)
{
	size_t n;
	int r = want_array(c, a, CONFIG_MAX_RULES);
	if (r < 0)
		return r;
	n = json_object_array_length(a);
	cfg->rules = calloc(n ? n : 1, sizeof(*cfg->rules));
	if (!cfg->rules)
		return -ENOMEM;
	rule_lines(c, cfg->rules, n);
	for (size_t i = 0; i < n; i++) {
		struct config_rule *rule = &cfg->rules[i];
		push_idx(c, (int)i);
		cfg->n_rules++; /* so config_free() sees its devices */
		snprintf(rule->label, sizeof(rule->label), "rules[%zu]", i);
		r = parse_rule(c, json_object_array_get_idx(a, i), &cfg->limits, false, rule);
		if (r < 0)
			return r;
		pop(c);
	}
	return 0;
}

static int parse_providers(struct cfg_ctx *c, struct json_object *a, struct p2p_config *cfg)
{
	static const char *const keys[] = {"device", "bar", "size", NULL};
	size_t n;
	int r = want_array(c, a, CONFIG_MAX_PROVIDERS);
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
		push_idx(c, (int)i);
		if ((r = want_object(c, o)) < 0 || (r = check_keys(c, o, keys)) < 0)
			return r;
		if (!(v = member(o, "device")))
			return cfg_fail(c, "missing key \"device\" (a PCI address)");
		push_key(c, "device");
		if ((r = val_bdf(c, v, p->device, sizeof(p->device))) < 0)
			return r;
		pop(c);
		if (!(v = member(o, "bar")))
			return cfg_fail(c, "missing key \"bar\" (0..5)");
		push_key(c, "bar");
		if ((r = val_uint(c, v, 0, TOPO_NBARS - 1, &u)) < 0)
			return r;
		p->bar = (int)u;
		pop(c);
		if ((v = member(o, "size"))) {
			push_key(c, "size");
			if ((r = val_size(c, v, 0, CONFIG_MAX_SIZE, &u)) < 0)
				return r;
			if (u % 4096)
				return cfg_fail(
				    c, "expected a multiple of 4096 bytes, got %" PRIu64, u);
			p->size = u;
			pop(c);
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(cfg->providers[k].device, p->device) == 0 &&
			    cfg->providers[k].bar == p->bar)
				return cfg_fail(c, "%s BAR %d is already listed as providers[%zu]",
						p->device, p->bar, k);
		}
		cfg->n_providers++;
		pop(c);
	}
	return 0;
}

static int parse_overrides(struct cfg_ctx *c, struct json_object *a, struct p2p_config *cfg)
{
	static const char *const keys[] = {"pair", "action", "reason", NULL};
	size_t n;
	int r = want_array(c, a, CONFIG_MAX_OVERRIDES);
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
		push_idx(c, (int)i);
		if ((r = want_object(c, o)) < 0 || (r = check_keys(c, o, keys)) < 0)
			return r;
		if (!(v = member(o, "pair")))
			return cfg_fail(c, "missing key \"pair\" ([\"BDF\", \"BDF\"])");
		push_key(c, "pair");
		if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) != 2)
			return cfg_fail(c, "expected an array of two PCI addresses");
		push_idx(c, 0);
		if ((r = val_bdf(c, json_object_array_get_idx(v, 0), ov->a, sizeof(ov->a))) < 0)
			return r;
		pop(c);
		push_idx(c, 1);
		if ((r = val_bdf(c, json_object_array_get_idx(v, 1), ov->b, sizeof(ov->b))) < 0)
			return r;
		if (strcmp(ov->a, ov->b) == 0)
			return cfg_fail(c, "a pair needs two different devices");
		pop(c);
		for (size_t k = 0; k < i; k++) {
			const struct verdict_override *o2 = &cfg->overrides[k];
			if ((strcmp(o2->a, ov->a) == 0 && strcmp(o2->b, ov->b) == 0) ||
			    (strcmp(o2->a, ov->b) == 0 && strcmp(o2->b, ov->a) == 0))
				return cfg_fail(
				    c, "the pair %s, %s is already listed as overrides[%zu]", ov->a,
				    ov->b, k);
		}
		pop(c);
		if (!(v = member(o, "action")))
			return cfg_fail(c, "missing key \"action\" (\"allow\" or \"deny\")");
		push_key(c, "action");
		if ((r = val_str(c, v, act, sizeof(act), false)) < 0 && r != -EINVAL)
			return r;
		if (r < 0 || (strcmp(act, "allow") != 0 && strcmp(act, "deny") != 0))
			return cfg_fail(c, "expected \"allow\" or \"deny\"");
		ov->allow = strcmp(act, "allow") == 0;
		pop(c);
		if ((v = member(o, "reason"))) {
			push_key(c, "reason");
			if ((r = val_str(c, v, ov->why, sizeof(ov->why), true)) < 0)
				return r;
			pop(c);
		}
		cfg->n_overrides++;
		pop(c);
	}
	return 0;
}

static int parse_whitelist(struct cfg_ctx *c, struct json_object *a, struct p2p_config *cfg)
{
	static const char *const keys[] = {"vendor", "device", "same_host_bridge_only", NULL};
	size_t n;
	int r = want_array(c, a, CONFIG_MAX_WHITELIST);
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
		push_idx(c, (int)i);
		if ((r = want_object(c, o)) < 0 || (r = check_keys(c, o, keys)) < 0)
			return r;
		if (!(v = member(o, "vendor")))
			return cfg_fail(c, "missing key \"vendor\" (hex id like \"8086\")");
		push_key(c, "vendor");
		if ((r = val_id16(c, v, &w->vendor)) < 0)
			return r;
		pop(c);
		if (!(v = member(o, "device")))
			return cfg_fail(c, "missing key \"device\" (hex id like \"2030\")");
		push_key(c, "device");
		if ((r = val_id16(c, v, &w->device)) < 0)
			return r;
		pop(c);
		if ((v = member(o, "same_host_bridge_only"))) {
			push_key(c, "same_host_bridge_only");
			if (!json_object_is_type(v, json_type_boolean))
				return cfg_fail(c, "expected true or false, got %s", type_name(v));
			w->same_host_bridge_only = json_object_get_boolean(v);
			pop(c);
		}
		cfg->n_whitelist++;
		pop(c);
	}
	return 0;
}

static int parse_top(struct cfg_ctx *c, struct json_object *root, struct p2p_config *cfg)
{
	static const char *const keys[] = {"version",	"socket", "admin_group", "limits",
					   "providers", "rules",  "default",	 "overrides",
					   "whitelist", NULL};
	struct json_object *v;
	int r;

	if (!json_object_is_type(root, json_type_object))
		return cfg_fail(c, "expected an object, got %s", type_name(root));
	if ((r = check_keys(c, root, keys)) < 0)
		return r;
	if ((v = member(root, "version"))) {
		uint64_t u;
		push_key(c, "version");
		if ((r = val_uint(c, v, 1, 1, &u)) < 0)
			return r;
		pop(c);
	}
	/* limits first: rules are checked against them */
	if ((v = member(root, "limits"))) {
		push_key(c, "limits");
		if ((r = parse_limits(c, v, &cfg->limits)) < 0)
			return r;
		pop(c);
	}
	if ((v = member(root, "socket"))) {
		push_key(c, "socket");
		if ((r = parse_socket(c, v, cfg)) < 0)
			return r;
		pop(c);
	}
	if ((v = member(root, "admin_group"))) {
		push_key(c, "admin_group");
		if ((r = val_group(c, v, cfg->admin_group, sizeof(cfg->admin_group),
				   &cfg->admin_gid)) < 0)
			return r;
		cfg->has_admin_gid = true;
		pop(c);
	}
	if ((v = member(root, "providers"))) {
		push_key(c, "providers");
		if ((r = parse_providers(c, v, cfg)) < 0)
			return r;
		pop(c);
	}
	if ((v = member(root, "rules"))) {
		push_key(c, "rules");
		if ((r = parse_rules(c, v, cfg)) < 0)
			return r;
		pop(c);
	}
	if ((v = member(root, "default"))) {
		push_key(c, "default");
		cfg->default_rule.match = CONFIG_MATCH_DEFAULT;
		snprintf(cfg->default_rule.label, sizeof(cfg->default_rule.label), "default");
		if ((r = parse_rule(c, v, &cfg->limits, true, &cfg->default_rule)) < 0)
			return r;
		pop(c);
	}
	if ((v = member(root, "overrides"))) {
		push_key(c, "overrides");
		if ((r = parse_overrides(c, v, cfg)) < 0)
			return r;
		pop(c);
	}
	if ((v = member(root, "whitelist"))) {
		push_key(c, "whitelist");
		if ((r = parse_whitelist(c, v, cfg)) < 0)
			return r;
		pop(c);
	}
	return defaults_rules(cfg, !member(root, "rules"), !member(root, "default"));
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
	if (!err || !errlen)
		return;
	for (char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

int config_parse(const char *text, size_t len, const char *name, struct p2p_config **ret_cfg,
		 char *err, size_t errlen)
{
	struct cfg_ctx c = {.text = text,
			    .len = len,
			    .name = name ? name : "(config)",
			    .err = err,
			    .errlen = errlen};
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL;
	struct p2p_config *cfg = NULL;
	const void *nul;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (!text || !ret_cfg)
		return -EINVAL;
	if (len > CONFIG_MAX_FILE_SIZE) {
		set_err(err, errlen, "%s:0: file too large (%zu bytes, at most %d)", c.name, len,
			CONFIG_MAX_FILE_SIZE);
		return -EFBIG;
	}
	if ((nul = memchr(text, '\0', len))) {
		size_t off = (size_t)((const char *)nul - text);
		set_err(err, errlen, "%s:%d: syntax error: NUL byte in the file", c.name,
			line_of(text, len, off, NULL));
		return -EINVAL;
	}
	tok = json_tokener_new_ex(CONFIG_MAX_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	if (!root || jerr != json_tokener_success) {
		int col, line;
		if (jerr == json_tokener_continue || jerr == json_tokener_success) {
			size_t last = len;
			while (last > 0 && strchr(" \t\r\n", text[last - 1]))
				last--;
			line = line_of(text, len, last ? last - 1 : 0, &col);
			set_err(err, errlen, "%s:%d: syntax error: unexpected end of file%s",
				c.name, line, len ? "" : " (the file is empty)");
		} else {
			line = line_of(text, len, end, &col);
			set_err(err, errlen, "%s:%d: syntax error at column %d: %s", c.name, line,
				col, json_tokener_error_desc(jerr));
		}
		r = -EINVAL;
		goto out;
	}
	for (size_t i = end; i < len; i++) {
		if (!strchr(" \t\r\n", text[i])) {
			set_err(err, errlen, "%s:%d: syntax error: data after the top-level object",
				c.name, line_of(text, len, i, NULL));
			r = -EINVAL;
			goto out;
		}
	}
	if (!json_object_is_type(root, json_type_object)) {
		r = cfg_fail(&c, "expected an object, got %s", type_name(root));
		goto out;
	}
	{
		struct scan s = {.s = text, .n = len, .i = 0};
		r = strict_walk(&c, &s, 0);
		if (r < 0)
			goto out;
		c.depth = 0;
	}
	cfg = config_new();
	if (!cfg) {
		r = -ENOMEM;
		goto out;
	}
	snprintf(cfg->source, sizeof(cfg->source), "%s", c.name);
	r = parse_top(&c, root, cfg);
	if (r < 0)
		goto out;
	*ret_cfg = cfg;
	cfg = NULL;
	r = 0;
out:
	if (r == -ENOMEM)
		set_err(err, errlen, "%s:0: out of memory", c.name);
	if (r < 0)
		err_one_line(err, errlen);
	config_free(cfg);
	json_object_put(root);
	json_tokener_free(tok);
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
		r = defaults_rules(cfg, true, true);
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
	if (st.st_mode & S_IWOTH) {
		r = -EPERM;
		set_err(err, errlen, "%s:0: refusing a world-writable config file (mode %04o)",
			path, (unsigned)(st.st_mode & 07777));
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
