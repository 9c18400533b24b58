/* SPDX-License-Identifier: MIT */
/*
 * test-json.c - the strict JSON front end (proto/json.c) and the wire
 * decoder built on it (conn_decode_request): every refusal json-c alone lets
 * through (each invalid UTF-8 class, unpaired surrogate escapes, duplicate
 * keys, single quotes), names with control characters, the JSON path in
 * messages, lines, the typed getters, and what must still be accepted (valid
 * multi-byte UTF-8).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conn.h"
#include "json.h"

static const struct json_limits lim = {.max_depth = 16, .positions = true, .what = "text"};

/* Parse @text: 0 and the formatted error in @out on failure. */
static int parse(const char *text, size_t len, char *out, size_t outlen)
{
	struct json_doc doc;
	struct json_error e;
	int r = json_doc_parse(&doc, text, len, &lim, &e);

	if (r == 0)
		json_doc_fini(&doc);
	else
		json_error_format(&e, "t", out, outlen);
	return r;
}

static void expect_refused(const char *text, size_t len, const char *want)
{
	char err[512] = "";
	int r = parse(text, len, err, sizeof(err));

	if (r != -EINVAL || !strstr(err, want))
		fail_msg("text \"%.*s\": got %d \"%s\", want -EINVAL \"%s\"", (int)len, text, r,
			 err, want);
}

static void expect_accepted(const char *text)
{
	char err[512] = "";

	if (parse(text, strlen(text), err, sizeof(err)) != 0)
		fail_msg("text \"%s\" refused: %s", text, err);
}

/* Each class of ill-formed UTF-8, raw in a string value and in a key. */
static const struct {
	const char *bytes, *what;
} bad_utf8[] = {
    {"\x80", "lone continuation byte"},
    {"\xbf", "lone continuation byte (last)"},
    {"\xc0\xaf", "overlong 2-byte '/'"},
    {"\xc1\xbf", "overlong 2-byte"},
    {"\xe0\x80\xaf", "overlong 3-byte '/'"},
    {"\xe0\x9f\xbf", "overlong 3-byte (U+07FF)"},
    {"\xf0\x80\x80\xaf", "overlong 4-byte '/'"},
    {"\xf0\x8f\xbf\xbf", "overlong 4-byte (U+FFFF)"},
    {"\xed\xa0\x80", "surrogate U+D800"},
    {"\xed\xbf\xbf", "surrogate U+DFFF"},
    {"\xed\xa0\xbd\xed\xb8\x80", "CESU-8 surrogate pair"},
    {"\xf4\x90\x80\x80", "above U+10FFFF"},
    {"\xf5\x80\x80\x80", "lead byte F5"},
    {"\xff", "byte FF"},
    {"\xe2\x82", "truncated 3-byte"},
    {"\xf0\x9f\x98", "truncated 4-byte"},
    {"\xe2\x28\xa1", "bad continuation"},
    {"\xc3", "lead byte at the end"},
};

static const char *const good_utf8[] = {
    "\xc3\xbc",		/* U+00FC */
    "\xc2\xa0",		/* U+00A0, the first after C1 */
    "\xdf\xbf",		/* U+07FF */
    "\xe0\xa0\x80",	/* U+0800 */
    "\xe2\x82\xac",	/* U+20AC */
    "\xed\x9f\xbf",	/* U+D7FF, just below the surrogates */
    "\xee\x80\x80",	/* U+E000, just above */
    "\xef\xbf\xbd",	/* U+FFFD */
    "\xf0\x90\x80\x80", /* U+10000 */
    "\xf0\x9f\x98\x80", /* U+1F600 */
    "\xf4\x8f\xbf\xbf", /* U+10FFFF, the last */
    "gr\xc3\xbc\xc3\x9f"
    "e", /* mixed */
};

static void test_utf8_validator(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		char buf[32];
		size_t n = strlen(bad_utf8[i].bytes);

		if (json_utf8_valid(bad_utf8[i].bytes, n) == n)
			fail_msg("%s accepted", bad_utf8[i].what);
		/* the offset of the bad sequence, after valid text */
		snprintf(buf, sizeof(buf), "ab%s", bad_utf8[i].bytes);
		assert_int_equal(json_utf8_valid(buf, strlen(buf)), 2);
	}
	for (size_t i = 0; i < sizeof(good_utf8) / sizeof(good_utf8[0]); i++) {
		size_t n = strlen(good_utf8[i]);

		if (json_utf8_valid(good_utf8[i], n) != n)
			fail_msg("good UTF-8 #%zu refused", i);
	}
	assert_int_equal(json_utf8_valid("", 0), 0);
}

static void test_utf8_in_text(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		char text[64];

		/* in a value: the column is that of the first bad byte (byte 10) */
		snprintf(text, sizeof(text), "{\"k\": \"ab%s\"}", bad_utf8[i].bytes);
		expect_refused(text, strlen(text), "t:1: syntax error");
		if (!strstr(bad_utf8[i].what, "lone") && !strstr(bad_utf8[i].what, "truncated") &&
		    !strstr(bad_utf8[i].what, "FF") && !strstr(bad_utf8[i].what, "bad cont") &&
		    !strstr(bad_utf8[i].what, "end"))
			/* what json-c lets through, refused by us with the column */
			expect_refused(text, strlen(text),
				       "t:1: syntax error at column 10: invalid UTF-8 in a string");
		/* in a key */
		snprintf(text, sizeof(text), "{\"k%s\": 1}", bad_utf8[i].bytes);
		expect_refused(text, strlen(text), "t:1: syntax error");
	}
	for (size_t i = 0; i < sizeof(good_utf8) / sizeof(good_utf8[0]); i++) {
		char text[64];

		snprintf(text, sizeof(text), "{\"k%s\": [\"%s\"]}", good_utf8[i], good_utf8[i]);
		expect_accepted(text);
	}
}

static void test_escapes(void **state)
{
	struct json_doc doc;
	struct json_error e;
	const char *t;

	(void)state;
	expect_refused("{\"a\": \"\\ud800\"}", sizeof("{\"a\": \"\\ud800\"}") - 1,
		       "unpaired UTF-16 surrogate");
	expect_refused("{\"a\": \"\\udc00x\"}", sizeof("{\"a\": \"\\udc00x\"}") - 1,
		       "unpaired UTF-16 surrogate");
	expect_refused("{\"a\": \"\\ud800\\u0041\"}", sizeof("{\"a\": \"\\ud800\\u0041\"}") - 1,
		       "unpaired UTF-16 surrogate");
	expect_refused("{\"\\ud800\": 1}", sizeof("{\"\\ud800\": 1}") - 1,
		       "unpaired UTF-16 surrogate");
	expect_refused("{\"a\\u0000b\": 1}", sizeof("{\"a\\u0000b\": 1}") - 1,
		       "NUL (\\u0000) in a key");
	expect_refused("{\"a\": \"\\x41\"}", sizeof("{\"a\": \"\\x41\"}") - 1, "syntax error");
	/* a proper pair is U+1F600, stored as UTF-8 */
	t = "{\"a\": \"\\ud83d\\ude00\", \"\\u00fc\": \"\\u20ac\"}";
	assert_int_equal(json_doc_parse(&doc, t, strlen(t), &lim, &e), 0);
	assert_string_equal(json_get_str(doc.root, "a", ""), "\xf0\x9f\x98\x80");
	assert_string_equal(json_get_str(doc.root, "\xc3\xbc", ""), "\xe2\x82\xac");
	json_doc_fini(&doc);
}

/*
 * Keys spelled with escapes: the strict walk pairs each key with json-c's tree
 * by its decoded bytes (every escape form: \b \f \t, upper-case hex, 3-byte
 * and surrogate-pair \u), so a repeat written differently is still refused, a
 * key's value gets its line, and skipping earlier values (strings holding
 * quotes and brackets, nested objects and arrays) finds a later repeat.
 */
static void test_escaped_keys(void **state)
{
	static const char *const repeats[] = {
	    "{\"a\\tb\": 1, \"a\\u0009b\": 2}",
	    "{\"\\b\\f\": 1, \"\\u0008\\u000C\": 2}",
	    "{\"\\u00FC\": 1, \"\xc3\xbc\": 2}",
	    "{\"\\u20AC\": 1, \"\xe2\x82\xac\": 2}",
	    "{\"\\uD83D\\uDE00\": 1, \"\xf0\x9f\x98\x80\": 2}",
	    /* the repeat is not the first key: earlier values are skipped */
	    "{\"s\": \"x\\\"}{[\", \"b\": 1, \"b\": 2}",
	    "{\"o\": {\"x\": [1, \"]}\", {\"y\": null}]}, \"n\": -1.5e+3, \"b\": 1, \"b\": 2}",
	    "{\"o\": {}, \"l\": [[], {}], \"b\": true, \"b\": false}",
	};
	struct json_doc doc;
	struct json_error e;
	struct json_object *v;
	const char *t;

	(void)state;
	for (size_t i = 0; i < sizeof(repeats) / sizeof(repeats[0]); i++) {
		t = repeats[i];
		if (json_doc_parse(&doc, t, strlen(t), &lim, &e) != -EINVAL || e.syntax ||
		    strcmp(e.msg, "duplicate key") != 0) {
			fail_msg("%s: a repeat written with escapes: not refused (%s)", t, e.msg);
		}
	}
	/* the duplicate's name is the decoded key */
	t = "{\"x\": 0, \"\\u20ACk\": 1, \"\xe2\x82\xack\": 2}";
	assert_int_equal(json_doc_parse(&doc, t, strlen(t), &lim, &e), -EINVAL);
	assert_string_equal(e.path, "\xe2\x82\xack");

	/* accepted, and each escaped key's value has its own line */
	t = "{\"\\t\": 1,\n \"\\u00E9\\u20AC\": [2],\n \"\\ud83d\\ude00\": {\"\\b\": 3},\n"
	    " \"n\": 1E-2}";
	assert_int_equal(json_doc_parse(&doc, t, strlen(t), &lim, &e), 0);
	assert_true(json_object_object_get_ex(doc.root, "\t", &v));
	assert_int_equal(json_doc_line(&doc, v), 1);
	assert_true(json_object_object_get_ex(doc.root, "\xc3\xa9\xe2\x82\xac", &v));
	assert_int_equal(json_doc_line(&doc, v), 2);
	assert_true(json_object_object_get_ex(doc.root, "\xf0\x9f\x98\x80", &v));
	assert_int_equal(json_doc_line(&doc, v), 3);
	assert_true(json_object_object_get_ex(v, "\b", &v));
	assert_int_equal(json_doc_line(&doc, v), 3);
	assert_true(json_object_object_get_ex(doc.root, "n", &v));
	assert_int_equal(json_doc_line(&doc, v), 4);
	json_doc_fini(&doc);

	/* numbers json-c and the walk both refuse */
	expect_refused("{\"a\": 1.}", sizeof("{\"a\": 1.}") - 1, "syntax error");
	expect_refused("{\"a\": 1e}", sizeof("{\"a\": 1e}") - 1, "syntax error");
	expect_refused("{\"a\": -}", sizeof("{\"a\": -}") - 1, "syntax error");
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	expect_refused("{\"a\": 1, \"a\": 2}", sizeof("{\"a\": 1, \"a\": 2}") - 1,
		       "t:1: a: duplicate key");
	expect_refused("{\"a\": 1,\n \"b\": 2,\n \"a\": 3}",
		       sizeof("{\"a\": 1,\n \"b\": 2,\n \"a\": 3}") - 1, "t:3: a: duplicate key");
	expect_refused("{\"x\": [1, {\"k\": true, \"k\": false}]}",
		       sizeof("{\"x\": [1, {\"k\": true, \"k\": false}]}") - 1,
		       "t:1: x[1].k: duplicate key");
	/* the same key written with an escape */
	expect_refused("{\"ab\": 1, \"a\\u0062\": 2}", sizeof("{\"ab\": 1, \"a\\u0062\": 2}") - 1,
		       "ab: duplicate key");
	/* a repeated key whose values are objects with other keys: the repeat is
	 * named, not a key inside the first value */
	expect_refused("{\"a\": {\"x\": 1}, \"a\": {\"y\": 2}}",
		       sizeof("{\"a\": {\"x\": 1}, \"a\": {\"y\": 2}}") - 1,
		       "t:1: a: duplicate key");
	expect_refused("{\"a\": {\"x\": {\"p\": 1}}, \"b\": 0, \"a\": 5}",
		       sizeof("{\"a\": {\"x\": {\"p\": 1}}, \"b\": 0, \"a\": 5}") - 1,
		       "t:1: a: duplicate key");
	/* not repeats: the same key in different objects, prefixes, case */
	expect_accepted("{\"a\": {\"b\": 1}, \"b\": {\"a\": 2}}");
	expect_accepted("{\"a\": 1, \"ab\": 2, \"A\": 3, \"\\u00fc\": 4, \"u\": 5}");
	expect_accepted("[{\"a\": 1}, {\"a\": 2}]");
}

static void test_syntax(void **state)
{
	(void)state;
	/* json-c's strict mode takes single quotes; we do not */
	expect_refused("{'a': 1}", sizeof("{'a': 1}") - 1,
		       "t:1: syntax error at column 2: expected a double-quoted key");
	expect_refused("{\"a\": 'x'}", sizeof("{\"a\": 'x'}") - 1,
		       "t:1: syntax error at column 7: unexpected character");
	expect_refused("{\"a\": \"x\tz\"}", sizeof("{\"a\": \"x\tz\"}") - 1, "t:1: syntax error");
	expect_refused("{\"a\": 1,}", sizeof("{\"a\": 1,}") - 1, "syntax error");
	expect_refused("{\"a\": 01}", sizeof("{\"a\": 01}") - 1, "syntax error");
	expect_refused("{\"a\": NaN}", sizeof("{\"a\": NaN}") - 1, "syntax error");
	expect_refused("{\"a\": 1} x", sizeof("{\"a\": 1} x") - 1, "t:1: syntax error");
	expect_refused("{\"a\": 1}\0", sizeof("{\"a\": 1}\0") - 1,
		       "t:1: syntax error: NUL byte in the text");
	expect_refused("", sizeof("") - 1, "unexpected end of text");
	expect_refused("{\"a\":\n", sizeof("{\"a\":\n") - 1,
		       "t:1: syntax error: unexpected end of text");
	expect_accepted(" {\"a\": [1, -2.5e3, true, false, null, \"s\", {}]} \n");
}

static void test_control_in_message(void **state)
{
	struct json_doc doc;
	struct json_error e;
	struct json_ctx c;
	char err[256];
	const char *t = "{\"a\\u001b[31m\\nb\": 1}";

	(void)state;
	assert_int_equal(json_doc_parse(&doc, t, strlen(t), &lim, &e), 0);
	json_ctx_init(&c, &doc, "t", err, sizeof(err));
	{
		static const char *const allowed[] = {"x", NULL};

		assert_int_equal(json_check_keys(&c, doc.root, allowed), -EINVAL);
	}
	/* one printable line: the escape and the newline became '?' */
	assert_string_equal(err, "t:1: a?[31m?b: unknown key");
	json_doc_fini(&doc);
}

static void test_names(void **state)
{
	static const struct {
		const char *s;
		size_t n;
		const char *why; /* NULL: a fine name */
	} cases[] = {
	    {"worker-1", 8, NULL},
	    {"gr\xc3\xbc\xc3\x9f\x65 \xe2\x82\xac \xf0\x9f\x98\x80", 16, NULL},
	    {"nbsp\xc2\xa0ok", 8, NULL},
	    {"a\x1b[31m", 6, "control character U+001B at byte 1"},
	    {"row\nforged", 10, "control character U+000A at byte 3"},
	    {"cr\r", 3, "control character U+000D at byte 2"},
	    {"tab\t", 4, "U+0009"},
	    {"del\x7f", 4, "control character U+007F at byte 3"},
	    {"c1\xc2\x85", 4, "control character U+0085 at byte 2"},
	    {"csi\xc2\x9b", 5, "control character U+009B at byte 3"},
	    {"c1\xc2\x80", 4, "U+0080"},
	    {"over\xc0\xaf", 6, "invalid UTF-8 at byte 4"},
	    {"sur\xed\xa0\x80", 6, "invalid UTF-8 at byte 3"},
	    {"big\xf4\x90\x80\x80", 7, "invalid UTF-8 at byte 3"},
	    {"nul\0x", 5, "U+0000 at byte 3"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char why[128] = "";
		int r = json_name_check(cases[i].s, cases[i].n, why, sizeof(why));

		if (!cases[i].why && r != 0)
			fail_msg("name #%zu refused: %s", i, why);
		if (cases[i].why && (r != -EINVAL || !strstr(why, cases[i].why)))
			fail_msg("name #%zu: got %d \"%s\", want \"%s\"", i, r, why, cases[i].why);
	}
}

/* Getters: paths, lines, ranges, bounds, kinds. */
static void test_getters(void **state)
{
	const char *t = "{\n"
			"  \"outer\": {\n"
			"    \"list\": [1, 2,\n"
			"      {\"zz\": 5}]\n"
			"  },\n"
			"  \"n\": 300, \"neg\": -1, \"f\": 1.5, \"s\": \"hello\", \"b\": true,\n"
			"  \"big\": 99999999999999999999999\n"
			"}";
	static const char *const allowed[] = {"ok", NULL};
	struct json_object *outer, *list, *el;
	struct json_doc doc;
	struct json_error e;
	struct json_ctx c;
	char err[256];
	uint64_t u;
	const char *s;
	size_t n;
	bool b;

	(void)state;
	assert_int_equal(json_doc_parse(&doc, t, strlen(t), &lim, &e), 0);
	json_ctx_init(&c, &doc, "t", err, sizeof(err));
	outer = json_member(doc.root, "outer");
	list = json_member(outer, "list");
	el = json_object_array_get_idx(list, 2);
	assert_int_equal(json_doc_line(&doc, outer), 2);
	assert_int_equal(json_doc_line(&doc, list), 3);
	assert_int_equal(json_doc_line(&doc, el), 4);
	json_push_key(&c, "outer", outer);
	json_push_key(&c, "list", list);
	json_push_idx(&c, 2, el);
	assert_int_equal(json_check_keys(&c, el, allowed), -EINVAL);
	assert_string_equal(err, "t:4: outer.list[2].zz: unknown key");
	json_pop(&c);
	json_pop(&c);
	json_pop(&c);

	json_push_key(&c, "n", json_member(doc.root, "n"));
	assert_int_equal(json_want_uint(&c, json_member(doc.root, "n"), 0, 255, &u), -ERANGE);
	assert_string_equal(err, "t:6: n: expected an integer in 0..255, got 300");
	assert_int_equal(json_want_uint(&c, json_member(doc.root, "n"), 0, 300, &u), 0);
	assert_int_equal(u, 300);
	assert_int_equal(json_want_uint(&c, json_member(doc.root, "neg"), 0, 9, &u), -ERANGE);
	assert_non_null(strstr(err, "got -1"));
	assert_int_equal(json_want_uint(&c, json_member(doc.root, "f"), 0, 9, &u), -EINVAL);
	assert_non_null(strstr(err, "got a fractional number"));
	assert_int_equal(json_want_uint(&c, json_member(doc.root, "s"), 0, 9, &u), -EINVAL);
	assert_int_equal(json_want_uint(&c, json_member(doc.root, "big"), 0, 9, &u), -ERANGE);
	assert_non_null(strstr(err, "a number too large"));
	assert_int_equal(json_want_string(&c, json_member(doc.root, "s"), 1, 4, 0, &s, &n),
			 -EINVAL);
	assert_non_null(strstr(err, "string too long (5 bytes, at most 4)"));
	assert_int_equal(json_want_string(&c, json_member(doc.root, "s"), 6, 9, 0, &s, &n),
			 -EINVAL);
	assert_int_equal(
	    json_want_string(&c, json_member(doc.root, "s"), 1, 5, JSON_STR_NAME, &s, &n), 0);
	assert_int_equal(n, 5);
	assert_string_equal(s, "hello");
	assert_int_equal(json_want_string(&c, json_member(doc.root, "n"), 1, 5, 0, &s, &n),
			 -EINVAL);
	assert_non_null(strstr(err, "expected a string, got an integer"));
	assert_int_equal(json_want_bool(&c, json_member(doc.root, "b"), &b), 0);
	assert_true(b);
	assert_int_equal(json_want_bool(&c, json_member(doc.root, "s"), &b), -EINVAL);
	assert_int_equal(json_want_array(&c, list, 2), -E2BIG);
	assert_non_null(strstr(err, "too many entries (3, at most 2)"));
	assert_int_equal(json_want_array(&c, list, 3), 0);
	assert_int_equal(json_want_object(&c, list), -EINVAL);
	assert_non_null(strstr(err, "expected an object, got an array"));
	json_pop(&c);

	/* checked-object getters: defaults for absent or other types */
	assert_string_equal(json_get_str(doc.root, "s", "d"), "hello");
	assert_string_equal(json_get_str(doc.root, "n", "d"), "d");
	assert_int_equal(json_get_u64(doc.root, "n", 7), 300);
	assert_int_equal(json_get_u64(doc.root, "neg", 7), 7);
	assert_int_equal(json_get_u64(doc.root, "none", 7), 7);
	assert_true(json_get_bool(doc.root, "b", false));
	assert_false(json_get_bool(doc.root, "s", false));
	/* the reply getters p2pctl renders with */
	assert_int_equal(json_get_int(doc.root, "n", 7), 300);
	assert_int_equal(json_get_int(doc.root, "neg", 7), -1);
	assert_int_equal(json_get_int(doc.root, "big", 7), 7);
	assert_int_equal(json_get_int(doc.root, "f", 7), 7);
	assert_int_equal(json_get_int(doc.root, "s", 7), 7);
	assert_true(json_get_double(doc.root, "f", 0) == 1.5);
	assert_true(json_get_double(doc.root, "n", 0) == 300.0);
	assert_true(json_get_double(doc.root, "s", -2) == -2);
	assert_true(json_get_object(doc.root, "outer") == outer);
	assert_null(json_get_object(doc.root, "s"));
	assert_null(json_get_object(outer, "list"));
	assert_true(json_get_array(outer, "list") == list);
	assert_null(json_get_array(doc.root, "outer"));
	assert_null(json_get_array(NULL, "list"));
	assert_string_equal(json_get_text(doc.root, "s", "-"), "hello");
	assert_string_equal(json_get_text(doc.root, "n", "-"), "300");
	assert_string_equal(json_get_text(doc.root, "neg", "-"), "-1");
	assert_string_equal(json_get_text(doc.root, "b", "-"), "true");
	assert_string_equal(json_get_text(doc.root, "f", "-"), "1.5");
	assert_string_equal(json_get_text(doc.root, "outer", "-"), "-");
	assert_string_equal(json_get_text(doc.root, "none", "-"), "-");
	json_doc_fini(&doc);
	{
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "z", NULL);
		json_object_object_add(o, "i", json_object_new_int64((int64_t)INT32_MAX + 1));
		assert_string_equal(json_get_text(o, "z", "-"), "-");
		assert_null(json_get_text(o, "z", NULL));
		assert_int_equal(json_get_int(o, "i", -9), -9);
		assert_true(json_get_i64(o, "i", -9) == (int64_t)INT32_MAX + 1);
		assert_true(json_get_i64(o, "z", -9) == -9);
		json_object_put(o);
	}
}

static void test_max_keys_and_depth(void **state)
{
	const struct json_limits small = {.max_depth = 3, .max_keys = 2, .what = "text"};
	struct json_doc doc;
	struct json_error e;
	const char *t;

	(void)state;
	t = "{\"a\": {\"x\": 1, \"y\": 2, \"z\": 3}}";
	assert_int_equal(json_doc_parse(&doc, t, strlen(t), &small, &e), -EINVAL);
	assert_false(e.syntax);
	assert_string_equal(e.path, "a");
	assert_string_equal(e.msg, "more than 2 keys in one object");
	t = "[[[[1]]]]";
	assert_int_equal(json_doc_parse(&doc, t, strlen(t), &small, &e), -EINVAL);
	assert_true(e.syntax);
}

/* The wire decoder refuses what the config refuses, naming op and path. */
static void test_wire_decoder(void **state)
{
	static const struct {
		uint8_t op;
		const char *json;
		int want;
		const char *msg;
	} cases[] = {
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"ok-\xc3\xbc\xe2\x82\xac\"}", 0, NULL},
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"a\\u001b[2J\"}", -EINVAL,
	     "hello request: client: control character U+001B at byte 1"},
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"x\\r\\nforged row\"}", -EINVAL,
	     "hello request: client: control character U+000D"},
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"c1\\u0085\"}", -EINVAL,
	     "control character U+0085"},
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"del\\u007f\"}", -EINVAL,
	     "control character U+007F"},
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"over\xc0\xaf\"}", -EINVAL,
	     "hello request: payload:1: syntax error at column 28: invalid UTF-8 in a string"},
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"sur\xed\xa0\x80\"}", -EINVAL,
	     "invalid UTF-8 in a string"},
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"big\xf4\x90\x80\x80\"}", -EINVAL,
	     "invalid UTF-8 in a string"},
	    {P2P_OP_HELLO, "{\"version\":1,\"client\":\"\\ud800\"}", -EINVAL,
	     "unpaired UTF-16 surrogate"},
	    {P2P_OP_HELLO, "{\"version\":1,\"version\":2}", -EINVAL, "version: duplicate key"},
	    {P2P_OP_HELLO, "{'version':1}", -EINVAL, "expected a double-quoted key"},
	    {P2P_OP_HELLO, "{\"version\":1,\"colour\":\"red\"}", -EINVAL,
	     "hello request: colour: unknown key"},
	    {P2P_OP_HELLO, "{}", -EINVAL, "hello request: (top level): missing key \"version\""},
	    {P2P_OP_ALLOC, "{\"size\":4096,\"name\":\"buf\\u001b]0;x\\u0007\"}", -EINVAL,
	     "alloc request: name: control character U+001B at byte 3"},
	    {P2P_OP_ALLOC, "{\"size\":4096,\"name\":\"na\\u009bme\"}", -EINVAL,
	     "alloc request: name: control character U+009B"},
	    {P2P_OP_ALLOC, "{\"size\":4096,\"peers\":[\"03:00.0\",\"x\\ny\"]}", -EINVAL,
	     "alloc request: peers[1]: control character U+000A"},
	    {P2P_OP_ALLOC, "{\"size\":4096,\"name\":\"\xf0\x9f\x98\x80 data\"}", 0, NULL},
	    {P2P_OP_ALLOC, "{\"size\":-1}", -ERANGE, "alloc request: size: expected an integer"},
	    {P2P_OP_CHECK, "{\"provider\":\"0\\u001b\",\"client\":\"1\"}", -EINVAL,
	     "check request: provider: control character"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *o = NULL;
		char err[256] = "";
		int r = conn_decode_request(cases[i].op, cases[i].json, strlen(cases[i].json), &o,
					    err, sizeof(err));

		if (r != cases[i].want || (cases[i].msg && !strstr(err, cases[i].msg)))
			fail_msg("case %zu (%s): got %d \"%s\", want %d \"%s\"", i, cases[i].json,
				 r, err, cases[i].want, cases[i].msg ? cases[i].msg : "");
		if (r == 0)
			json_object_put(o);
		else
			assert_null(o);
		for (const char *p = err; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				fail_msg("case %zu: control character in the message", i);
	}
}

static void test_errno_names(void **state)
{
	(void)state;
	assert_string_equal(conn_errno_name(EPERM), "EPERM");
	assert_string_equal(conn_errno_name(-EDQUOT), "EDQUOT");
	assert_string_equal(conn_errno_name(EAGAIN), "EAGAIN");
	assert_string_equal(conn_errno_name(EOPNOTSUPP), "EOPNOTSUPP");
	assert_string_equal(conn_errno_name(EREMOTEIO), "EREMOTEIO");
	assert_string_equal(conn_errno_name(EHWPOISON), "EHWPOISON");
	assert_string_equal(conn_errno_name(100000), "EUNKNOWN");
	assert_int_equal(conn_errno_from_name("EUSERS"), EUSERS);
	assert_int_equal(conn_errno_from_name("ENOSUCH"), 0);
	assert_int_equal(conn_errno_from_name(NULL), 0);
	/* every name maps back to its number (aliases give the first) */
	for (int e = 1; e <= 133; e++) {
		const char *n = conn_errno_name(e);
		int back = conn_errno_from_name(n);

		if (strcmp(n, "EUNKNOWN") == 0)
			continue;
		if (strcmp(conn_errno_name(back), n) != 0)
			fail_msg("errno %d: %s -> %d", e, n, back);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_utf8_validator),
	    cmocka_unit_test(test_utf8_in_text),
	    cmocka_unit_test(test_escapes),
	    cmocka_unit_test(test_duplicate_keys),
	    cmocka_unit_test(test_escaped_keys),
	    cmocka_unit_test(test_syntax),
	    cmocka_unit_test(test_control_in_message),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_getters),
	    cmocka_unit_test(test_max_keys_and_depth),
	    cmocka_unit_test(test_wire_decoder),
	    cmocka_unit_test(test_errno_names),
	};

	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
