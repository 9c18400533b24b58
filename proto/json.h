/* SPDX-License-Identifier: MIT */
/*
 * json.h - the one strict JSON front end of p2pbroker: the wire (conn.c, for
 * requests in p2pd and replies in libp2pclient) and the config file
 * (daemon/config.c) parse and type-check through it, so both refuse the same
 * things.  Linked into p2pd and libp2pclient.so (hidden there); not a public
 * API.  Nothing here logs.
 *
 * Parsing is json-c's strict tokener plus what json-c lacks:
 *  - duplicate keys are refused (json-c silently keeps the last one),
 *  - single-quoted strings are refused (json-c's strict mode takes them),
 *  - strings are valid UTF-8 (RFC 3629): json-c only counts continuation
 *    bytes, so overlong forms (C0 AF, E0 80 AF), surrogates (ED A0 80) and
 *    code points above U+10FFFF (F4 90 80 80) pass it; here they do not,
 *    nor do unpaired UTF-16 surrogates in \u escapes,
 *  - no NUL byte in the text, nothing after the top-level value.
 * It is done by walking the text once more beside json-c's tree (the two
 * agree on every accepted input), which also gives each value's line.
 *
 * Then typed getters with a JSON path for messages (struct json_ctx): an
 * unknown key, a wrong type, an integer out of range, a string too long or a
 * "name" with control characters is an error naming the path:
 * "rules[1].max_bytes: expected an integer in 0..4503599627370496, got -1".
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_PATH_MAX 32 /* path components kept for messages */

struct json_limits {
	int max_depth;	  /* nesting (json-c's tokener depth) */
	size_t max_keys;  /* keys of one object; 0 = no limit */
	bool positions;	  /* remember each value's offset: json_doc_line() */
	const char *what; /* the text in messages: "file", "payload" */
};

struct json_pos {
	const struct json_object *obj;
	size_t off; /* of a member's key, of an element's value */
};

/* A parsed text.  Zero-initialize; json_doc_fini() frees what it holds. */
struct json_doc {
	struct json_object *root; /* owned (json_object_put in json_doc_fini) */
	const char *text;	  /* borrowed: the parsed text, for lines */
	size_t len;
	struct json_pos *pos; /* sorted by obj (limits.positions) */
	size_t npos;
};

/* Where and why a text was refused. */
struct json_error {
	int line;	/* 1-based */
	int column;	/* 1-based byte column; 0 = not given */
	bool syntax;	/* a syntax error, else a problem at @path */
	char path[192]; /* "socket.mode", "(top level)" */
	char msg[224];
};

/*
 * json_doc_parse() - parse @len bytes of @text (need not be NUL terminated)
 * into @doc as described above.  The top-level value may be of any type.
 * Returns 0, -EINVAL with @err filled (may be NULL), or -ENOMEM.
 */
int json_doc_parse(struct json_doc *doc, const char *text, size_t len,
		   const struct json_limits *lim, struct json_error *err);
void json_doc_fini(struct json_doc *doc);

/* Line of @v in the text (of its key for a member), 0 if unknown. */
int json_doc_line(const struct json_doc *doc, const struct json_object *v);

/* Line (and 1-based column) of byte @off of @text. */
int json_line_of(const char *text, size_t len, size_t off, int *ret_col);

/*
 * json_error_format() - @e as one line of printable text:
 * "NAME:LINE: syntax error at column C: MSG", "NAME:LINE: syntax error: MSG"
 * or "NAME:LINE: PATH: MSG".  Control characters become '?'.
 */
void json_error_format(const struct json_error *e, const char *name, char *buf, size_t len);

/* Replace every control character (C0, DEL) in the C string @s by '?'. */
void json_printable(char *s);

/*
 * json_utf8_valid() - offset of the first byte of @s[0..n) that does not
 * start a well-formed UTF-8 sequence (RFC 3629 table 3-7: no overlong
 * forms, no surrogates, nothing above U+10FFFF, no truncation), or @n.
 */
size_t json_utf8_valid(const void *s, size_t n);

/*
 * json_name_check() - may @s (@n bytes) be a name a client gives and the
 * daemon stores and relays?  Valid UTF-8 without NUL or control characters
 * (C0, DEL, C1).  Returns 0, or -EINVAL with why in @why ("control character
 * U+001B at byte 3").
 */
int json_name_check(const char *s, size_t n, char *why, size_t whylen);

/* ---- typed getters with a JSON path (json-schema.c) ------------------------- */

struct json_ctx {
	const struct json_doc *doc; /* for lines; NULL: none */
	const char *name;	    /* "p2pd.json": "NAME:LINE: PATH: why"; NULL: "PATH: why" */
	char *err;
	size_t errlen;
	struct {
		const char *key; /* NULL: array index */
		size_t idx;
		const struct json_object *val;
	} path[JSON_PATH_MAX];
	int depth;
};

void json_ctx_init(struct json_ctx *c, const struct json_doc *doc, const char *name, char *err,
		   size_t errlen);
/* Enter member @key (value @v) / element @idx (value @v) of the current value. */
void json_push_key(struct json_ctx *c, const char *key, const struct json_object *v);
void json_push_idx(struct json_ctx *c, size_t idx, const struct json_object *v);
void json_pop(struct json_ctx *c);
/* The current path ("rules[1].types", "(top level)") into @buf. */
void json_ctx_path(const struct json_ctx *c, char *buf, size_t len);
/* Line of the current value, 0 if unknown. */
int json_ctx_line(const struct json_ctx *c);

/* Record "[NAME:LINE: ]PATH: why" in c->err and return @r (a -errno). */
int json_fail(struct json_ctx *c, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "an integer", "a string", "null" ... for messages. */
const char *json_type_desc(const struct json_object *v);

/* @key of object @obj, NULL when absent (or a JSON null). */
struct json_object *json_member(const struct json_object *obj, const char *key);

/* Every key of @obj is in the NULL-terminated @allowed, else "KEY: unknown key". */
int json_check_keys(struct json_ctx *c, const struct json_object *obj, const char *const *allowed);

/* Each checks the current value @v (see json_push_*): -EINVAL for a wrong type. */
int json_want_object(struct json_ctx *c, const struct json_object *v);
/* An array of at most @max entries (-E2BIG beyond). */
int json_want_array(struct json_ctx *c, const struct json_object *v, size_t max);
int json_want_bool(struct json_ctx *c, const struct json_object *v, bool *ret);
/* An integer (not a fraction, not a string) in [min, max]; -ERANGE outside. */
int json_want_uint(struct json_ctx *c, const struct json_object *v, uint64_t min, uint64_t max,
		   uint64_t *ret);

#define JSON_STR_NAME (1u << 0) /* json_name_check(): no control characters */

/* A string of @min..@max bytes without NUL bytes; with JSON_STR_NAME also
 * json_name_check().  *ret points into @v. */
int json_want_string(struct json_ctx *c, const struct json_object *v, size_t min, size_t max,
		     unsigned flags, const char **ret, size_t *ret_len);

/* ---- schemas: one table per object ------------------------------------------ */

enum json_kind {
	JSON_K_STRING,	 /* string, 1..max_len bytes */
	JSON_K_NAME,	 /* a JSON_K_STRING that is also a name (JSON_STR_NAME) */
	JSON_K_UINT,	 /* integer in 0..max (0 = INT64_MAX) */
	JSON_K_BOOL,	 /* true/false */
	JSON_K_STRARRAY, /* array of at most max_len names of 1..JSON_STRARRAY_MAX bytes */
};
#define JSON_STRARRAY_MAX 256 /* bytes of one string of a JSON_K_STRARRAY */

struct json_field {
	const char *key;
	enum json_kind kind;
	bool required;
	size_t max_len; /* string bytes / array entries; 0 = 256 / 64 */
	uint64_t max;	/* JSON_K_UINT upper bound (inclusive); 0 = INT64_MAX */
};

/*
 * json_check_fields() - object @obj (the current value) against @fields:
 * every key known, each value of its kind and within bounds, required keys
 * present.  Returns 0 or -EINVAL / -ERANGE / -E2BIG with the path in c->err.
 */
int json_check_fields(struct json_ctx *c, const struct json_object *obj,
		      const struct json_field *fields, size_t nfields);

/* Getters for an object already checked: an absent key (or another type)
 * yields @dflt.  Strings point into @obj. */
const char *json_get_str(const struct json_object *obj, const char *key, const char *dflt);
uint64_t json_get_u64(const struct json_object *obj, const char *key, uint64_t dflt);
bool json_get_bool(const struct json_object *obj, const char *key, bool dflt);
/* A signed integer in [INT_MIN, INT_MAX], else @dflt. */
int json_get_int(const struct json_object *obj, const char *key, int dflt);
/* A signed 64-bit integer, else @dflt. */
int64_t json_get_i64(const struct json_object *obj, const char *key, int64_t dflt);
/* A number (double or integer), else @dflt. */
double json_get_double(const struct json_object *obj, const char *key, double dflt);
/* The member if it is an object / an array, else NULL. */
struct json_object *json_get_object(const struct json_object *obj, const char *key);
struct json_object *json_get_array(const struct json_object *obj, const char *key);
/* A scalar (string, integer, double or boolean) as text ("17", "true"), for
 * table cells; null, absent, objects and arrays yield @dflt.  The text lives
 * in @obj. */
const char *json_get_text(const struct json_object *obj, const char *key, const char *dflt);
