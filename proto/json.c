/* SPDX-License-Identifier: MIT */
/*
 * json.c - the one strict JSON front end (see json.h).
 *
 * Parsing; the typed getters and schemas are in json-schema.c.
 *
 * json_doc_parse(): json-c's strict tokener builds the tree; then a second
 * walk over the text, beside that tree, refuses what json-c lets through
 * (single quotes, invalid UTF-8, unpaired surrogate escapes, duplicate keys)
 * and records where each value is.  json-c keeps an object's keys in text
 * order and replaces the value of a repeated key in place, so member i of the
 * text is entry i of the tree until a key repeats: the first member whose key
 * differs from its tree entry's (or that has none) is a repeat.
 */
#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 ------------------------------------------------------------------ */

/* Length of the well-formed sequence at @s (@n bytes left), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, k;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
	if (s[0] == 0xe0)
		lo = 0xa0; /* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f; /* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90; /* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (k = 2; k < len; k++)
		if ((s[k] & 0xc0) != 0x80)
			return 0;
	return len;
}

size_t json_utf8_valid(const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i = 0;

	while (i < n) {
		size_t l = utf8_seq(s + i, n - i);

		if (!l)
			return i;
		i += l;
	}
	return n;
}

int json_name_check(const char *s, size_t n, char *why, size_t whylen)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t bad = json_utf8_valid(s, n), i;

	if (bad != n) {
		snprintf(why, whylen, "invalid UTF-8 at byte %zu", bad);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		unsigned cp = u[i];

		if (u[i] == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
			cp = u[i + 1]; /* C1 control, U+0080..U+009F */
		else if (u[i] >= 0x80)
			continue;
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)) {
			snprintf(why, whylen,
				 "control character U+%04X at byte %zu (names are printable text)",
				 cp, i);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- the second walk ----------------------------------------------------------- */

struct lex {
	const unsigned char *s;
	size_t n, i;
	const struct json_limits *lim;
	struct json_error *err;
	struct json_pos *pos;
	size_t npos, cap;
	bool nomem;
	struct {
		const char *key; /* NULL: index */
		size_t idx;
	} path[JSON_PATH_MAX];
	int depth;
	char dupkey[128]; /* the repeated key, for the message */
};

int json_line_of(const char *text, size_t len, size_t off, int *ret_col)
{
	int line = 1;
	size_t bol = 0, i;

	if (off > len)
		off = len;
	for (i = 0; i < off; i++) {
		if (text[i] == '\n') {
			line++;
			bol = i + 1;
		}
	}
	if (ret_col)
		*ret_col = (int)(off - bol) + 1;
	return line;
}

static int lex_syntax(struct lex *L, size_t off, bool column, const char *msg)
{
	if (L->err) {
		memset(L->err, 0, sizeof(*L->err));
		L->err->syntax = true;
		L->err->line = json_line_of((const char *)L->s, L->n, off, &L->err->column);
		if (!column)
			L->err->column = 0;
		snprintf(L->err->msg, sizeof(L->err->msg), "%s", msg);
	}
	return -EINVAL;
}

static int lex_at_path(struct lex *L, size_t off, const char *msg)
{
	struct json_ctx c;
	int k;

	if (!L->err)
		return -EINVAL;
	json_ctx_init(&c, NULL, NULL, NULL, 0);
	for (k = 0; k < L->depth; k++) {
		if (k >= JSON_PATH_MAX)
			json_push_idx(&c, 0, NULL); /* only counted */
		else if (L->path[k].key)
			json_push_key(&c, L->path[k].key, NULL);
		else
			json_push_idx(&c, L->path[k].idx, NULL);
	}
	memset(L->err, 0, sizeof(*L->err));
	L->err->line = json_line_of((const char *)L->s, L->n, off, NULL);
	json_ctx_path(&c, L->err->path, sizeof(L->err->path));
	snprintf(L->err->msg, sizeof(L->err->msg), "%s", msg);
	return -EINVAL;
}

static void lex_push(struct lex *L, const char *key, size_t idx)
{
	if (L->depth < JSON_PATH_MAX) {
		L->path[L->depth].key = key;
		L->path[L->depth].idx = idx;
	}
	L->depth++;
}

static void lex_ws(struct lex *L)
{
	while (L->i < L->n && (L->s[L->i] == ' ' || L->s[L->i] == '\t' || L->s[L->i] == '\n' ||
			       L->s[L->i] == '\r'))
		L->i++;
}

static void lex_record(struct lex *L, const struct json_object *obj, size_t off)
{
	if (!L->lim->positions || !obj || L->nomem)
		return;
	if (L->npos == L->cap) {
		size_t cap = L->cap ? L->cap * 2 : 64;
		struct json_pos *p = realloc(L->pos, cap * sizeof(*p));

		if (!p) {
			L->nomem = true;
			return;
		}
		L->pos = p;
		L->cap = cap;
	}
	L->pos[L->npos].obj = obj;
	L->pos[L->npos].off = off;
	L->npos++;
}

static int hex4(const unsigned char *s, unsigned *ret)
{
	unsigned v = 0;
	int k;

	for (k = 0; k < 4; k++) {
		unsigned char ch = s[k];

		v <<= 4;
		if (ch >= '0' && ch <= '9')
			v |= ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			v |= ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			v |= ch - 'A' + 10;
		else
			return -1;
	}
	*ret = v;
	return 0;
}

/*
 * Decoder of a string already checked by lex_string(): yields its bytes as
 * json-c stores them, one at a time; -1 at the closing quote.
 */
struct dec {
	const unsigned char *s;
	size_t n, i;
	unsigned char buf[4];
	int nbuf, ibuf;
};

static void dec_init(struct dec *d, const unsigned char *s, size_t n, size_t at)
{
	d->s = s;
	d->n = n;
	d->i = at + 1; /* after the opening quote */
	d->nbuf = d->ibuf = 0;
}

static int dec_next(struct dec *d)
{
	unsigned cp, lo;
	unsigned char ch;

	if (d->ibuf < d->nbuf)
		return d->buf[d->ibuf++];
	if (d->i >= d->n || d->s[d->i] == '"')
		return -1;
	ch = d->s[d->i++];
	if (ch != '\\')
		return ch;
	if (d->i >= d->n)
		return -1;
	ch = d->s[d->i++];
	switch (ch) {
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'u':
		break;
	default:
		return ch; /* '"', '\\', '/' */
	}
	if (d->n - d->i < 4 || hex4(d->s + d->i, &cp) < 0)
		return -1;
	d->i += 4;
	if (cp >= 0xd800 && cp <= 0xdbff && d->n - d->i >= 6 && d->s[d->i] == '\\' &&
	    d->s[d->i + 1] == 'u' && hex4(d->s + d->i + 2, &lo) == 0) {
		d->i += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	d->nbuf = d->ibuf = 0;
	if (cp < 0x80) {
		d->buf[d->nbuf++] = (unsigned char)cp;
	} else if (cp < 0x800) {
		d->buf[d->nbuf++] = (unsigned char)(0xc0 | (cp >> 6));
		d->buf[d->nbuf++] = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		d->buf[d->nbuf++] = (unsigned char)(0xe0 | (cp >> 12));
		d->buf[d->nbuf++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		d->buf[d->nbuf++] = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		d->buf[d->nbuf++] = (unsigned char)(0xf0 | (cp >> 18));
		d->buf[d->nbuf++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		d->buf[d->nbuf++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		d->buf[d->nbuf++] = (unsigned char)(0x80 | (cp & 0x3f));
	}
	return d->buf[d->ibuf++];
}

/* Does the string at @at decode to the C string @want? */
static bool dec_equals(const struct lex *L, size_t at, const char *want)
{
	struct dec d;
	size_t k = 0;
	int ch;

	dec_init(&d, L->s, L->n, at);
	while ((ch = dec_next(&d)) >= 0)
		if (!want[k] || (unsigned char)want[k++] != ch)
			return false;
	return !want[k];
}

/* Do the strings at @a and @b decode to the same bytes? */
static bool dec_same(const struct lex *L, size_t a, size_t b)
{
	struct dec da, db;
	int ca, cb;

	dec_init(&da, L->s, L->n, a);
	dec_init(&db, L->s, L->n, b);
	do {
		ca = dec_next(&da);
		cb = dec_next(&db);
		if (ca != cb)
			return false;
	} while (ca >= 0);
	return true;
}

/* At a '"': check the string strictly and step over it. */
static int lex_string(struct lex *L, bool is_key)
{
	size_t start = L->i;

	L->i++;
	for (;;) {
		unsigned char b;
		size_t l;

		if (L->i >= L->n)
			return lex_syntax(L, start, true, "unterminated string");
		b = L->s[L->i];
		if (b == '"') {
			L->i++;
			return 0;
		}
		if (b == '\\') {
			size_t esc = L->i;
			unsigned cp, lo;

			if (L->i + 1 >= L->n)
				return lex_syntax(L, esc, true, "unterminated string");
			b = L->s[L->i + 1];
			if (strchr("\"\\/bfnrt", b) && b) {
				L->i += 2;
				continue;
			}
			if (b != 'u' || L->n - L->i < 6 || hex4(L->s + L->i + 2, &cp) < 0)
				return lex_syntax(L, esc, true, "invalid escape in a string");
			L->i += 6;
			if (cp == 0 && is_key)
				return lex_syntax(L, esc, true, "NUL (\\u0000) in a key");
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return lex_syntax(L, esc, true,
						  "unpaired UTF-16 surrogate in a \\u escape");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (L->n - L->i < 6 || L->s[L->i] != '\\' ||
				    L->s[L->i + 1] != 'u' || hex4(L->s + L->i + 2, &lo) < 0 ||
				    lo < 0xdc00 || lo > 0xdfff)
					return lex_syntax(
					    L, esc, true,
					    "unpaired UTF-16 surrogate in a \\u escape");
				L->i += 6;
			}
			continue;
		}
		if (b < 0x20)
			return lex_syntax(L, L->i, true, "control character in a string");
		l = utf8_seq(L->s + L->i, L->n - L->i);
		if (!l)
			return lex_syntax(L, L->i, true, "invalid UTF-8 in a string");
		L->i += l;
	}
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int lex_number(struct lex *L)
{
	size_t start = L->i;

	if (L->s[L->i] == '-')
		L->i++;
	if (L->i < L->n && L->s[L->i] == '0') {
		L->i++;
	} else if (L->i < L->n && is_digit(L->s[L->i])) {
		while (L->i < L->n && is_digit(L->s[L->i]))
			L->i++;
	} else {
		return lex_syntax(L, start, true, "invalid number");
	}
	if (L->i < L->n && L->s[L->i] == '.') {
		L->i++;
		if (L->i >= L->n || !is_digit(L->s[L->i]))
			return lex_syntax(L, start, true, "invalid number");
		while (L->i < L->n && is_digit(L->s[L->i]))
			L->i++;
	}
	if (L->i < L->n && (L->s[L->i] == 'e' || L->s[L->i] == 'E')) {
		L->i++;
		if (L->i < L->n && (L->s[L->i] == '+' || L->s[L->i] == '-'))
			L->i++;
		if (L->i >= L->n || !is_digit(L->s[L->i]))
			return lex_syntax(L, start, true, "invalid number");
		while (L->i < L->n && is_digit(L->s[L->i]))
			L->i++;
	}
	return 0;
}

static int lex_value(struct lex *L, struct json_object *node, int depth, size_t at);

/* Skip a value already walked (to compare the keys of one object again). */
static void lex_skip(struct lex *L)
{
	int nest = 0;

	lex_ws(L);
	do {
		unsigned char ch;

		if (L->i >= L->n)
			return;
		ch = L->s[L->i];
		if (ch == '"') {
			for (L->i++; L->i < L->n && L->s[L->i] != '"'; L->i++)
				if (L->s[L->i] == '\\')
					L->i++;
			L->i++;
		} else if (ch == '{' || ch == '[') {
			nest++;
			L->i++;
		} else if (ch == '}' || ch == ']') {
			nest--;
			L->i++;
		} else if (nest == 0) {
			while (L->i < L->n && !strchr(",}] \t\r\n", L->s[L->i]))
				L->i++;
			return;
		} else {
			L->i++;
		}
	} while (nest > 0);
}

/* Is the key at @kpos, member of the object at @obj_start, a repeat of an
 * earlier key of that object? */
static bool lex_is_repeat(struct lex *L, size_t obj_start, size_t kpos)
{
	struct lex S = *L;

	S.i = obj_start + 1;
	for (;;) {
		size_t k;

		lex_ws(&S);
		k = S.i;
		if (k >= kpos || S.s[k] != '"')
			return false;
		if (dec_same(L, k, kpos))
			return true;
		for (S.i++; S.i < S.n && S.s[S.i] != '"'; S.i++)
			if (S.s[S.i] == '\\')
				S.i++;
		S.i++;
		lex_ws(&S);
		S.i++; /* ':' */
		lex_skip(&S);
		lex_ws(&S);
		S.i++; /* ',' */
	}
}

static int lex_object(struct lex *L, struct json_object *node, int depth)
{
	size_t start = L->i, nkeys = 0;
	struct lh_entry *e = NULL;
	bool paired = node && json_object_is_type(node, json_type_object);
	int r;

	if (paired)
		e = lh_table_head(json_object_get_object(node));
	L->i++;
	lex_ws(L);
	if (L->i < L->n && L->s[L->i] == '}') {
		L->i++;
		return 0;
	}
	for (;;) {
		size_t kpos;
		struct json_object *child = NULL;
		const char *key = NULL;

		lex_ws(L);
		kpos = L->i;
		if (L->i >= L->n || L->s[L->i] != '"')
			return lex_syntax(L, kpos, true, "expected a double-quoted key");
		if (L->lim->max_keys && ++nkeys > L->lim->max_keys) {
			char msg[64];

			snprintf(msg, sizeof(msg), "more than %zu keys in one object",
				 L->lim->max_keys);
			return lex_at_path(L, start, msg);
		}
		r = lex_string(L, true);
		if (r < 0)
			return r;
		if (paired && e && dec_equals(L, kpos, lh_entry_k(e))) {
			key = lh_entry_k(e);
			child = (struct json_object *)lh_entry_v(e);
			e = lh_entry_next(e);
		} else if (paired && lex_is_repeat(L, start, kpos)) {
			struct dec d;
			size_t o = 0;
			int ch;

			dec_init(&d, L->s, L->n, kpos);
			while ((ch = dec_next(&d)) >= 0 && o + 1 < sizeof(L->dupkey))
				L->dupkey[o++] = (char)ch;
			L->dupkey[o] = '\0';
			lex_push(L, L->dupkey, 0);
			return lex_at_path(L, kpos, "duplicate key");
		} else {
			/* An ancestor's key repeats later (its value here is not
			 * the tree's): walk on unpaired, that repeat is refused. */
			paired = false;
		}
		lex_ws(L);
		if (L->i >= L->n || L->s[L->i] != ':')
			return lex_syntax(L, L->i, true, "expected ':'");
		L->i++;
		lex_push(L, key ? key : "?", 0);
		r = lex_value(L, child, depth + 1, kpos);
		if (r < 0)
			return r;
		L->depth--;
		lex_ws(L);
		if (L->i < L->n && L->s[L->i] == ',') {
			L->i++;
			continue;
		}
		if (L->i < L->n && L->s[L->i] == '}') {
			L->i++;
			return 0;
		}
		return lex_syntax(L, L->i, true, "expected ',' or '}'");
	}
}

static int lex_array(struct lex *L, struct json_object *node, int depth)
{
	bool paired = node && json_object_is_type(node, json_type_array);
	size_t idx = 0, len = paired ? json_object_array_length(node) : 0;
	int r;

	L->i++;
	lex_ws(L);
	if (L->i < L->n && L->s[L->i] == ']') {
		L->i++;
		return 0;
	}
	for (;; idx++) {
		struct json_object *child =
		    paired && idx < len ? json_object_array_get_idx(node, idx) : NULL;

		lex_ws(L);
		lex_push(L, NULL, idx);
		r = lex_value(L, child, depth + 1, L->i);
		if (r < 0)
			return r;
		L->depth--;
		lex_ws(L);
		if (L->i < L->n && L->s[L->i] == ',') {
			L->i++;
			continue;
		}
		if (L->i < L->n && L->s[L->i] == ']') {
			L->i++;
			return 0;
		}
		return lex_syntax(L, L->i, true, "expected ',' or ']'");
	}
}

static int lex_literal(struct lex *L, const char *word)
{
	size_t l = strlen(word);

	if (L->n - L->i < l || memcmp(L->s + L->i, word, l) != 0)
		return lex_syntax(L, L->i, true, "unexpected character");
	L->i += l;
	return 0;
}

/* The value at L->i (after white space); @node: its json-c twin or NULL; @at:
 * the offset recorded for it. */
static int lex_value(struct lex *L, struct json_object *node, int depth, size_t at)
{
	lex_ws(L);
	if (depth > L->lim->max_depth)
		return lex_syntax(L, L->i, true, "nested too deeply");
	if (L->i >= L->n)
		return lex_syntax(L, L->i, false, "unexpected end of text");
	lex_record(L, node, at);
	switch (L->s[L->i]) {
	case '"':
		return lex_string(L, false);
	case '{':
		return lex_object(L, node, depth);
	case '[':
		return lex_array(L, node, depth);
	case 't':
		return lex_literal(L, "true");
	case 'f':
		return lex_literal(L, "false");
	case 'n':
		return lex_literal(L, "null");
	default:
		if (L->s[L->i] == '-' || is_digit(L->s[L->i]))
			return lex_number(L);
		return lex_syntax(L, L->i, true,
				  "unexpected character (strings need double quotes)");
	}
}

static int pos_cmp(const void *a, const void *b)
{
	const struct json_pos *x = a, *y = b;

	return x->obj < y->obj ? -1 : x->obj > y->obj;
}

/* ---- parsing ------------------------------------------------------------------ */

static void error_set(struct json_error *err, const char *text, size_t len, size_t off, bool column,
		      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void error_set(struct json_error *err, const char *text, size_t len, size_t off, bool column,
		      const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	memset(err, 0, sizeof(*err));
	err->syntax = true;
	err->line = json_line_of(text, len, off, &err->column);
	if (!column)
		err->column = 0;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int json_doc_parse(struct json_doc *doc, const char *text, size_t len,
		   const struct json_limits *lim, struct json_error *err)
{
	const char *what = lim->what ? lim->what : "text";
	struct json_tokener *tok;
	struct json_object *root;
	enum json_tokener_error jerr;
	struct lex L = {0};
	const char *nul;
	size_t end;
	int r;

	memset(doc, 0, sizeof(*doc));
	if (len > INT_MAX) {
		error_set(err, text, 0, 0, false, "%s too large", what);
		return -EINVAL;
	}
	nul = memchr(text, '\0', len);
	if (nul) {
		error_set(err, text, len, (size_t)(nul - text), false, "NUL byte in the %s", what);
		return -EINVAL;
	}
	tok = json_tokener_new_ex(lim->max_depth);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr == json_tokener_continue || (!root && jerr == json_tokener_success)) {
		size_t last = len;

		while (last > 0 && is_ws(text[last - 1]))
			last--;
		error_set(
		    err, text, len, last ? last - 1 : 0, false, "unexpected end of %s%s", what,
		    len ? "" : (strcmp(what, "file") ? " (it is empty)" : " (the file is empty)"));
		json_object_put(root);
		return -EINVAL;
	}
	if (jerr != json_tokener_success) {
		error_set(err, text, len, end, true, "%s", json_tokener_error_desc(jerr));
		json_object_put(root);
		return -EINVAL;
	}
	for (; end < len; end++) {
		if (!is_ws(text[end])) {
			error_set(err, text, len, end, false, "data after the top-level value");
			json_object_put(root);
			return -EINVAL;
		}
	}

	L.s = (const unsigned char *)text;
	L.n = len;
	L.lim = lim;
	L.err = err;
	lex_ws(&L);
	r = lex_value(&L, root, 1, L.i);
	if (r == 0) {
		lex_ws(&L);
		if (L.i != L.n)
			r = lex_syntax(&L, L.i, false, "data after the top-level value");
	}
	if (r == 0 && L.nomem)
		r = -ENOMEM;
	if (r < 0) {
		free(L.pos);
		json_object_put(root);
		return r;
	}
	if (L.npos)
		qsort(L.pos, L.npos, sizeof(*L.pos), pos_cmp);
	doc->root = root;
	doc->text = text;
	doc->len = len;
	doc->pos = L.pos;
	doc->npos = L.npos;
	return 0;
}

void json_doc_fini(struct json_doc *doc)
{
	if (!doc)
		return;
	json_object_put(doc->root);
	free(doc->pos);
	memset(doc, 0, sizeof(*doc));
}

int json_doc_line(const struct json_doc *doc, const struct json_object *v)
{
	struct json_pos key = {.obj = v}, *p;

	if (!doc || !doc->npos || !v)
		return 0;
	p = bsearch(&key, doc->pos, doc->npos, sizeof(*doc->pos), pos_cmp);
	return p ? json_line_of(doc->text, doc->len, p->off, NULL) : 0;
}

void json_printable(char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

void json_error_format(const struct json_error *e, const char *name, char *buf, size_t len)
{
	if (!buf || !len)
		return;
	if (!e->syntax)
		snprintf(buf, len, "%s:%d: %s: %s", name, e->line, e->path, e->msg);
	else if (e->column)
		snprintf(buf, len, "%s:%d: syntax error at column %d: %s", name, e->line, e->column,
			 e->msg);
	else
		snprintf(buf, len, "%s:%d: syntax error: %s", name, e->line, e->msg);
	json_printable(buf);
}
