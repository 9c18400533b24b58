/* SPDX-License-Identifier: MIT */
/*
 * test-config.c - p2pd.json loading: defaults, good files with every value
 * checked, and every kind of bad input answered with the right path and line.
 * Fixtures: tests/fixtures/config/{good,bad} (or $P2P_CONFIG_FIXTURES).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static const char *fixdir(void)
{
	const char *d = getenv("P2P_CONFIG_FIXTURES");
	return d ? d : "tests/fixtures/config";
}

static void fixpath(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s/%s", fixdir(), rel);
}

/* Parse @text expecting failure @want_r with @want in the message. */
static void expect_parse_error(const char *text, int want_r, const char *want)
{
	struct p2p_config *cfg = NULL;
	char err[512];
	int r = config_parse(text, strlen(text), "t.json", &cfg, err, sizeof(err));
	if (r != want_r || !strstr(err, want))
		fail_msg("text %s\n  want %d \"%s\"\n  got  %d \"%s\"", text, want_r, want, r, err);
	assert_null(cfg);
}

static struct p2p_config *expect_parse_ok(const char *text)
{
	struct p2p_config *cfg = NULL;
	char err[512] = "";
	int r = config_parse(text, strlen(text), "t.json", &cfg, err, sizeof(err));
	if (r != 0)
		fail_msg("text %s\n  unexpected error %d: %s", text, r, err);
	assert_non_null(cfg);
	return cfg;
}

static void check_builtin_defaults(const struct p2p_config *cfg)
{
	assert_string_equal(cfg->socket_path, "/run/p2pd/p2pd.sock");
	assert_int_equal(cfg->socket_mode, 0660);
	assert_false(cfg->has_socket_gid);
	assert_false(cfg->has_admin_gid);
	assert_int_equal(cfg->n_providers, 0);
	assert_int_equal(cfg->n_overrides, 0);
	assert_int_equal(cfg->n_whitelist, 0);
	assert_int_equal(cfg->limits.max_buffers, 64);
	assert_true(cfg->limits.max_bytes == (1ull << 30));
	assert_int_equal(cfg->limits.max_connections, 256);
	assert_int_equal(cfg->limits.max_pending_per_client, 16);
	assert_int_equal(cfg->limits.max_message_size, 65536);
	assert_true(cfg->limits.max_queued_bytes == (1ull << 20));
	assert_true(cfg->limits.max_queued_bytes_per_uid == (16ull << 20));
	/* uid 0: everything */
	assert_int_equal(cfg->n_rules, 1);
	assert_int_equal(cfg->rules[0].match, CONFIG_MATCH_UID);
	assert_int_equal(cfg->rules[0].uid, 0);
	assert_int_equal(cfg->rules[0].types, CONFIG_TYPE_ALL);
	assert_int_equal(cfg->rules[0].n_devices, 1);
	assert_int_equal(cfg->rules[0].devices[0].kind, CONFIG_DEV_ANY);
	/* everyone else: host and memfd, not p2p */
	assert_int_equal(cfg->default_rule.match, CONFIG_MATCH_DEFAULT);
	assert_int_equal(cfg->default_rule.types, CONFIG_TYPE_HOST | CONFIG_TYPE_MEMFD);
	assert_int_equal(cfg->default_rule.max_buffers, 64);
	assert_true(cfg->default_rule.max_bytes == (1ull << 30));
}

static void test_defaults(void **state)
{
	struct p2p_config *cfg = NULL;
	char err[256] = "x";
	(void)state;
	assert_int_equal(config_load(NULL, &cfg, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	check_builtin_defaults(cfg);
	config_free(cfg);
	config_free(NULL);
}

static void test_minimal_is_defaults(void **state)
{
	struct p2p_config *cfg = NULL;
	char path[PATH_MAX], err[256];
	(void)state;
	fixpath(path, sizeof(path), "good/minimal.json");
	int r = config_load(path, &cfg, err, sizeof(err));
	if (r)
		fail_msg("%s: %d %s", path, r, err);
	check_builtin_defaults(cfg);
	assert_string_equal(cfg->source, path);
	config_free(cfg);
}

static void test_full(void **state)
{
	struct p2p_config *cfg = NULL;
	char path[PATH_MAX], err[256];
	(void)state;
	fixpath(path, sizeof(path), "good/full.json");
	int r = config_load(path, &cfg, err, sizeof(err));
	if (r)
		fail_msg("%s: %d %s", path, r, err);

	assert_string_equal(cfg->socket_path, "/tmp/p2pd-test/p2pd.sock");
	assert_int_equal(cfg->socket_mode, 0640);
	assert_string_equal(cfg->socket_group, "root");
	assert_true(cfg->has_socket_gid);
	assert_int_equal(cfg->socket_gid, 0);
	assert_true(cfg->has_admin_gid);
	assert_int_equal(cfg->admin_gid, 0);
	assert_string_equal(cfg->admin_group, "root");

	assert_int_equal(cfg->limits.max_connections, 10);
	assert_int_equal(cfg->limits.max_buffers, 100);
	assert_true(cfg->limits.max_bytes == 2147483648ull);
	assert_int_equal(cfg->limits.max_message_size, 8192);
	assert_int_equal(cfg->limits.max_pending_per_client, 4);
	assert_true(cfg->limits.max_queued_bytes == (2ull << 20));
	assert_true(cfg->limits.max_queued_bytes_per_uid == (32ull << 20));

	assert_int_equal(cfg->n_providers, 2);
	assert_string_equal(cfg->providers[0].device, "0000:03:00.0");
	assert_int_equal(cfg->providers[0].bar, 2);
	assert_true(cfg->providers[0].size == 256ull << 20);
	assert_string_equal(cfg->providers[1].device, "10000:e1:00.1");
	assert_int_equal(cfg->providers[1].bar, 4);
	assert_true(cfg->providers[1].size == 0);

	assert_int_equal(cfg->n_rules, 4);
	const struct config_rule *r0 = &cfg->rules[0], *r1 = &cfg->rules[1], *r2 = &cfg->rules[2],
				 *r3 = &cfg->rules[3];
	assert_int_equal(r0->match, CONFIG_MATCH_UID);
	assert_int_equal(r0->uid, 1000);
	assert_int_equal(r0->types, CONFIG_TYPE_P2P);
	assert_true(r0->max_bytes == 1ull << 30);
	assert_int_equal(r0->max_buffers, 8);
	assert_int_equal(r0->line, 17);
	assert_int_equal(r1->line, 18);
	assert_int_equal(r2->line, 19);
	assert_int_equal(r3->line, 20);
	assert_string_equal(r0->label, "rules[0]");
	assert_int_equal(r0->n_devices, 3);
	assert_int_equal(r0->devices[0].kind, CONFIG_DEV_BDF);
	assert_int_equal(r0->devices[0].bus, 3);
	assert_int_equal(r0->devices[1].kind, CONFIG_DEV_ID);
	assert_int_equal(r0->devices[1].vendor, 0x10de);
	assert_int_equal(r0->devices[1].device, 0x2330);
	assert_false(r0->devices[1].device_any);
	assert_int_equal(r0->devices[2].kind, CONFIG_DEV_ID);
	assert_int_equal(r0->devices[2].vendor, 0x15b3);
	assert_true(r0->devices[2].device_any);

	assert_int_equal(r1->match, CONFIG_MATCH_UID);
	assert_int_equal(r1->uid, 0);
	assert_string_equal(r1->name, "root");
	assert_int_equal(r1->types, CONFIG_TYPE_ALL);
	assert_int_equal(r1->n_devices, 1); /* devices absent: "*" */
	assert_int_equal(r1->devices[0].kind, CONFIG_DEV_ANY);
	assert_true(r1->max_bytes == 2147483648ull); /* from limits */
	assert_int_equal(r1->max_buffers, 100);

	assert_int_equal(r2->match, CONFIG_MATCH_GID);
	assert_int_equal(r2->gid, 44);
	assert_int_equal(r2->types, CONFIG_TYPE_HOST | CONFIG_TYPE_MEMFD);
	assert_int_equal(r2->max_buffers, 0);
	assert_int_equal(r2->n_devices, 3);
	assert_int_equal(r2->devices[0].kind, CONFIG_DEV_CLASS);
	assert_int_equal(r2->devices[0].class_value, 0x030200);
	assert_int_equal(r2->devices[0].class_mask, 0xffff00);
	assert_int_equal(r2->devices[1].kind, CONFIG_DEV_CLASS);
	assert_int_equal(r2->devices[1].class_value, 0x010800);
	assert_int_equal(r2->devices[2].kind, CONFIG_DEV_RELEVANT);

	assert_int_equal(r3->match, CONFIG_MATCH_GROUP);
	assert_int_equal(r3->gid, 0);
	assert_int_equal(r3->n_devices, 0);
	assert_int_equal(r3->types, 0);

	assert_int_equal(cfg->default_rule.match, CONFIG_MATCH_DEFAULT);
	assert_int_equal(cfg->default_rule.types, CONFIG_TYPE_MEMFD);
	assert_true(cfg->default_rule.max_bytes == 4096);
	assert_int_equal(cfg->default_rule.max_buffers, 100);
	assert_int_equal(cfg->default_rule.n_devices, 1);
	assert_int_equal(cfg->default_rule.line, 22);

	assert_int_equal(cfg->n_overrides, 2);
	assert_string_equal(cfg->overrides[0].a, "0000:03:00.0");
	assert_string_equal(cfg->overrides[0].b, "0000:41:00.0"); /* canonical */
	assert_false(cfg->overrides[0].allow);
	assert_string_equal(cfg->overrides[0].why, "flaky link");
	assert_true(cfg->overrides[1].allow);
	assert_string_equal(cfg->overrides[1].why, "");

	assert_int_equal(cfg->n_whitelist, 2);
	assert_int_equal(cfg->whitelist[0].vendor, 0x8086);
	assert_int_equal(cfg->whitelist[0].device, 0x09a2);
	assert_true(cfg->whitelist[0].same_host_bridge_only);
	assert_int_equal(cfg->whitelist[1].vendor, 0x1022);
	assert_int_equal(cfg->whitelist[1].device, 0x14b5);
	assert_false(cfg->whitelist[1].same_host_bridge_only);
	config_free(cfg);
}

static void test_sizes(void **state)
{
	struct p2p_config *cfg = NULL;
	char path[PATH_MAX], err[256];
	(void)state;
	fixpath(path, sizeof(path), "good/sizes.json");
	int r = config_load(path, &cfg, err, sizeof(err));
	if (r)
		fail_msg("%s: %d %s", path, r, err);
	assert_true(cfg->limits.max_bytes == 1ull << 40);
	assert_int_equal(cfg->limits.max_buffers, 1048576);
	assert_true(cfg->default_rule.max_bytes == 512ull << 20);
	assert_int_equal(cfg->n_rules, 0); /* "rules": [] replaces the built-in rule */
	config_free(cfg);

	cfg = expect_parse_ok("{\"limits\": {\"max_bytes\": \"4K\"}}");
	assert_true(cfg->limits.max_bytes == 4096);
	config_free(cfg);
	cfg = expect_parse_ok("{\"limits\": {\"max_bytes\": \"3\"}}");
	assert_true(cfg->limits.max_bytes == 3);
	/* built-in rules follow the configured limits */
	assert_true(cfg->rules[0].max_bytes == 3);
	assert_true(cfg->default_rule.max_bytes == 3);
	config_free(cfg);
	expect_parse_error("{\"limits\": {\"max_bytes\": \"1.5G\"}}", -EINVAL,
			   "t.json:1: limits.max_bytes: expected a size");
	expect_parse_error("{\"limits\": {\"max_bytes\": \"1GB\"}}", -EINVAL,
			   "limits.max_bytes: expected a size");
	expect_parse_error("{\"limits\": {\"max_bytes\": \"99999999999999999999T\"}}", -EINVAL,
			   "limits.max_bytes: size \"99999999999999999999T\" out of range");
	expect_parse_error("{\"limits\": {\"max_bytes\": \"16383T\"}}", -EINVAL,
			   "out of range 1..4503599627370496");
	expect_parse_error("{\"limits\": {\"max_bytes\": 0}}", -EINVAL,
			   "limits.max_bytes: expected an integer in 1..");
	expect_parse_error("{\"limits\": {\"max_bytes\": true}}", -EINVAL,
			   "limits.max_bytes: expected a size (an integer >= 0 or a string like "
			   "\"1G\"), got a boolean");
}

static void test_example_config(void **state)
{
	struct p2p_config *cfg = NULL;
	char path[PATH_MAX], err[256];
	(void)state;
	/* the shipped, documented example must load (groups exist on Debian) */
	snprintf(path, sizeof(path), "%s/../../../config/p2pd.json", fixdir());
	int r = config_load(path, &cfg, err, sizeof(err));
	if (r)
		fail_msg("%s: %d %s", path, r, err);
	assert_int_equal(cfg->n_rules, 2);
	assert_int_equal(cfg->rules[1].match, CONFIG_MATCH_GROUP);
	assert_true(cfg->limits.max_bytes == 64ull << 30);
	assert_int_equal(cfg->n_providers, 1);
	assert_int_equal(cfg->n_overrides, 1);
	assert_int_equal(cfg->n_whitelist, 1);
	config_free(cfg);
}

struct bad_case {
	const char *file;
	int r;
	const char *want; /* substring after "FILE:" */
};

static const struct bad_case bad_cases[] = {
    {"syntax-trailing-comma", -EINVAL, ":4: syntax error at column 3: unexpected character"},
    {"syntax-eof", -EINVAL, ":3: syntax error: unexpected end of file"},
    {"empty", -EINVAL, ":1: syntax error: unexpected end of file (the file is empty)"},
    {"trailing-data", -EINVAL, ":2: syntax error"},
    {"not-object", -EINVAL, ":1: (top level): expected an object, got an array"},
    {"wrong-type", -EINVAL,
     ":3: limits.max_buffers: expected an integer in 1..1048576, got a string"},
    {"unknown-key-nested", -EINVAL, ":6: rules[1].devics: unknown key"},
    {"unknown-key-top", -EINVAL, ":3: socket_path: unknown key"},
    {"negative", -EINVAL,
     ":4: rules[1].max_bytes: expected an integer in 0..4503599627370496, got -1"},
    {"huge", -EINVAL,
     ":2: limits.max_bytes: expected an integer in 1..4503599627370496, got a number too large"},
    {"fraction", -EINVAL,
     ":2: limits.max_buffers: expected an integer in 1..1048576, got a fractional number"},
    {"rule-over-limit", -EINVAL,
     ":3: rules[0].max_bytes: 2147483648 exceeds limits.max_bytes (1073741824)"},
    {"bad-bdf", -EINVAL, ":3: providers[0].device: bad PCI address \"0000:03:20.0\""},
    {"bad-pattern", -EINVAL, ":2: rules[0].devices[1]: unknown device pattern \"graphics\""},
    {"bad-mode", -EINVAL, ":2: socket.mode: mode \"0666\" gives access to other users"},
    {"bad-mode-int", -EINVAL,
     ":2: socket.mode: expected an octal mode string like \"0660\", got an integer"},
    {"unknown-user", -EINVAL, ":2: rules[0].uid: unknown user \"no-such-user-p2pd\""},
    {"unknown-group", -EINVAL, ":2: admin_group: unknown group \"no-such-group-p2pd\""},
    {"duplicate-key", -EINVAL, ":4: limits: duplicate key"},
    {"bad-type-name", -EINVAL, ":2: default.types[1]: unknown buffer type \"dmabuf\""},
    {"two-matchers", -EINVAL,
     ":2: rules[0]: a rule needs exactly one of \"uid\", \"gid\", \"group\" (found 2"},
    {"missing-types", -EINVAL, ":2: rules[0]: missing key \"types\""},
    {"override-same", -EINVAL, ":2: overrides[0].pair[1]: a pair needs two different devices"},
    {"override-action", -EINVAL, ":2: overrides[0].action: expected \"allow\" or \"deny\""},
    {"whitelist-id", -EINVAL, ":2: whitelist[0].vendor: expected a PCI id"},
    {"provider-bar", -EINVAL, ":2: providers[0].bar: expected an integer in 0..5, got 6"},
    {"provider-dup", -EINVAL,
     ":4: providers[1]: 0000:03:00.0 BAR 2 is already listed as providers[0]"},
    {"socket-relative", -EINVAL, ":2: socket.path: expected an absolute path"},
    {"nul-in-string", -EINVAL, ":2: admin_group: string contains a NUL byte"},
    {"default-with-uid", -EINVAL, ":2: default.uid: unknown key"},
    {"too-many-rules", -EINVAL, ":2: rules: too many entries (1025, at most 1024)"},
};

static void test_bad_fixtures(void **state)
{
	int failures = 0;
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		struct p2p_config *cfg = NULL;
		char path[PATH_MAX], rel[128], want[PATH_MAX + 512], err[PATH_MAX + 512] = "";
		snprintf(rel, sizeof(rel), "bad/%s.json", bc->file);
		fixpath(path, sizeof(path), rel);
		snprintf(want, sizeof(want), "%s%s", path, bc->want);
		int r = config_load(path, &cfg, err, sizeof(err));
		if (r != bc->r || strncmp(err, want, strlen(want)) != 0) {
			print_error("%s:\n  want %d \"%s\"\n  got  %d \"%s\"\n", bc->file, bc->r,
				    want, r, err);
			failures++;
		}
		if (cfg) {
			print_error("%s: config returned on error\n", bc->file);
			failures++;
			config_free(cfg);
		}
		if (strchr(err, '\n')) {
			print_error("%s: message is more than one line\n", bc->file);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

/* Every case has its file, and every file under bad/ has a case (a new
 * fixture without an expectation fails). */
static void test_bad_fixtures_all_listed(void **state)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int nfiles = 0;
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		char rel[128];
		snprintf(rel, sizeof(rel), "bad/%s.json", bad_cases[i].file);
		fixpath(path, sizeof(path), rel);
		if (access(path, R_OK) != 0)
			fail_msg("fixture %s missing", path);
	}
	fixpath(path, sizeof(path), "bad");
	d = opendir(path);
	if (!d)
		fail_msg("cannot open %s", path);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		bool listed = false;
		if (de->d_name[0] == '.')
			continue;
		nfiles++;
		for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
			if (n == strlen(bad_cases[i].file) + 5 &&
			    strncmp(de->d_name, bad_cases[i].file, n - 5) == 0 &&
			    strcmp(de->d_name + n - 5, ".json") == 0)
				listed = true;
		if (!listed) {
			closedir(d);
			fail_msg("fixture bad/%s has no expectation in bad_cases[]", de->d_name);
		}
	}
	closedir(d);
	assert_int_equal(nfiles, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
}

static void test_syntax_inline(void **state)
{
	(void)state;
	expect_parse_error("{\n\n  \"version\": 1\n  \"limits\": {}\n}", -EINVAL,
			   "t.json:4: syntax error at column 3");
	expect_parse_error("{\"version\": 1, \"x\": nul}", -EINVAL, "t.json:1: syntax error");
	/* json-c's strict mode takes these; p2pd does not */
	expect_parse_error("{'version': 1}", -EINVAL,
			   "t.json:1: syntax error at column 2: expected a double-quoted key");
	expect_parse_error("{\n\"admin_group\": 'root'}", -EINVAL,
			   "t.json:2: syntax error at column 16: unexpected character");
	expect_parse_error("{\"version\": NaN}", -EINVAL, "t.json:1: syntax error");
	expect_parse_error("{\"version\": Infinity}", -EINVAL, "t.json:1: syntax error");
	expect_parse_error("{\"version\": -Infinity}", -EINVAL, "t.json:1: syntax error");
	expect_parse_error("{\"version\": 01}", -EINVAL, "t.json:1: syntax error");
	expect_parse_error("{\"a\": 1} // comment", -EINVAL, "t.json:1: syntax error");
	expect_parse_error("   \n  \n", -EINVAL, "t.json:1: syntax error: unexpected end of file");
	/* invalid UTF-8 (a lone continuation byte, an overlong encoding) */
	expect_parse_error("{\n\"admin_group\": \"r\x80t\"}", -EINVAL, "t.json:2: syntax error");
	expect_parse_error("{\"admin_group\": \"\xc0\xafx\"}", -EINVAL,
			   "t.json:1: syntax error at column 18: invalid UTF-8 in a string");
	expect_parse_error("{\"a\xed\xa0\x80\": 1}", -EINVAL, /* a surrogate, in a key */
			   "t.json:1: syntax error at column 4: invalid UTF-8 in a string");
	expect_parse_error("{\"a\": \"\xf4\x90\x80\x80\"}", -EINVAL, /* above U+10FFFF */
			   "invalid UTF-8 in a string");
	/* valid multi-byte UTF-8 is fine (here in an unknown key's message) */
	expect_parse_error("{\"gr\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80\": 1}", -EINVAL,
			   "t.json:1: gr\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80: unknown key");
	/* a NUL byte in the text */
	{
		const char text[] = "{\n\"version\": 1\0}";
		struct p2p_config *cfg = NULL;
		char err[256];
		assert_int_equal(
		    config_parse(text, sizeof(text) - 1, "n.json", &cfg, err, sizeof(err)),
		    -EINVAL);
		assert_string_equal(err, "n.json:2: syntax error: NUL byte in the file");
	}
	/* nesting deeper than CONFIG_MAX_DEPTH */
	{
		char text[256] = "{\"rules\":";
		for (int i = 0; i < 20; i++)
			strcat(text, "[");
		for (int i = 0; i < 20; i++)
			strcat(text, "]");
		strcat(text, "}");
		expect_parse_error(text, -EINVAL, "t.json:1: syntax error");
	}
	/* no err buffer at all is fine */
	{
		struct p2p_config *cfg = NULL;
		assert_int_equal(config_parse("{x", 2, NULL, &cfg, NULL, 0), -EINVAL);
		assert_null(cfg);
	}
}

static void test_types_inline(void **state)
{
	(void)state;
	expect_parse_error("{\"version\": 2}", -EINVAL,
			   "t.json:1: version: expected an integer in 1..1");
	expect_parse_error("{\"socket\": []}", -EINVAL, "socket: expected an object, got an array");
	expect_parse_error("{\"socket\": {\"path\": 5}}", -EINVAL,
			   "socket.path: expected a string, got an integer");
	expect_parse_error("{\"rules\": {}}", -EINVAL, "rules: expected an array, got an object");
	expect_parse_error("{\"rules\": [5]}", -EINVAL,
			   "rules[0]: expected an object, got an integer");
	expect_parse_error("{\"rules\": [{\"uid\": true, \"types\": []}]}", -EINVAL,
			   "rules[0].uid: expected a user name or number, got a boolean");
	expect_parse_error("{\"rules\": [{\"uid\": -1, \"types\": []}]}", -EINVAL,
			   "rules[0].uid: expected an integer in 0..4294967294, got -1");
	expect_parse_error("{\"rules\": [{\"uid\": 4294967295, \"types\": []}]}", -EINVAL,
			   "rules[0].uid: expected an integer in 0..4294967294");
	expect_parse_error("{\"rules\": [{\"group\": 5, \"types\": []}]}", -EINVAL,
			   "rules[0].group: expected a group name, got an integer");
	expect_parse_error("{\"rules\": [{\"gid\": \"root\", \"types\": []}]}", -EINVAL,
			   "rules[0].gid: expected an integer");
	expect_parse_error("{\"rules\": [{\"gid\": 0, \"types\": \"host\"}]}", -EINVAL,
			   "rules[0].types: expected an array, got a string");
	expect_parse_error("{\"rules\": [{\"gid\": 0, \"types\": [1]}]}", -EINVAL,
			   "rules[0].types[0]: expected a string, got an integer");
	expect_parse_error("{\"rules\": [{\"gid\": 0, \"types\": [], \"devices\": [null]}]}",
			   -EINVAL, "rules[0].devices[0]: expected a string, got null");
	expect_parse_error("{\"whitelist\": [{\"vendor\": \"8086\", \"device\": \"1\", "
			   "\"same_host_bridge_only\": 1}]}",
			   -EINVAL, "whitelist[0].same_host_bridge_only: expected true or false");
	expect_parse_error("{\"whitelist\": [{\"vendor\": 32902, \"device\": \"1\"}]}", -EINVAL,
			   "whitelist[0].vendor: expected a string, got an integer");
	expect_parse_error("{\"whitelist\": [{\"vendor\": \"ffff\", \"device\": \"1\"}]}", -EINVAL,
			   "whitelist[0].vendor: expected a PCI id");
	expect_parse_error("{\"whitelist\": [{\"vendor\": \"8086\"}]}", -EINVAL,
			   "whitelist[0]: missing key \"device\"");
	expect_parse_error(
	    "{\"overrides\": [{\"pair\": [\"0000:03:00.0\"], \"action\": \"deny\"}]}", -EINVAL,
	    "overrides[0].pair: expected an array of two PCI addresses");
	expect_parse_error(
	    "{\"overrides\": [{\"pair\": [\"0000:03:00.0\", \"x\"], \"action\": \"deny\"}]}",
	    -EINVAL, "overrides[0].pair[1]: bad PCI address \"x\"");
	expect_parse_error("{\"overrides\": [{\"pair\": [\"0000:03:00.0\", \"04:00.0\"]}]}",
			   -EINVAL, "overrides[0]: missing key \"action\"");
	expect_parse_error(
	    "{\"providers\": [{\"device\": \"0000:03:00.0\", \"bar\": 0, \"size\": 100}]}", -EINVAL,
	    "providers[0].size: expected a multiple of 4096 bytes, got 100");
	expect_parse_error(
	    "{\"overrides\": [\n"
	    "{\"pair\": [\"0000:03:00.0\", \"04:00.0\"], \"action\": \"deny\"},\n"
	    "{\"pair\": [\"0000:04:00.0\", \"03:00.0\"], \"action\": \"allow\"}]}",
	    -EINVAL,
	    "t.json:3: overrides[1].pair: the pair 0000:04:00.0, 0000:03:00.0 is already "
	    "listed as overrides[0]");
	expect_parse_error("{\"providers\": [{\"bar\": 0}]}", -EINVAL,
			   "providers[0]: missing key \"device\"");
	expect_parse_error("{\"providers\": [{\"device\": \"0000:03:00.0\"}]}", -EINVAL,
			   "providers[0]: missing key \"bar\"");
	expect_parse_error("{\"limits\": {\"max_connections\": 0}}", -EINVAL,
			   "limits.max_connections: expected an integer in 1..65536, got 0");
	expect_parse_error("{\"limits\": {\"max_message_size\": 63}}", -EINVAL,
			   "limits.max_message_size: expected an integer in 64..65536, got 63");
	expect_parse_error("{\"limits\": {\"max_message_size\": 65537}}", -EINVAL,
			   "limits.max_message_size: expected an integer in 64..65536, got 65537");
	expect_parse_error(
	    "{\"limits\": {\"max_queued_bytes\": 1000}}", -EINVAL,
	    "limits.max_queued_bytes: expected an integer in 61440..67108864, got 1000");
	expect_parse_error("{\"limits\": {\"max_pending_per_client\": 9223372036854775807}}",
			   -EINVAL,
			   "limits.max_pending_per_client: expected an integer in 1..4096");
	expect_parse_error("{\"limits\": {\"max_buffers\": 8}, \"default\": {\"types\": [], "
			   "\"max_buffers\": 9}}",
			   -EINVAL, "default.max_buffers: 9 exceeds limits.max_buffers (8)");
	expect_parse_error(
	    "{\"rules\": [{\"types\": []}]}", -EINVAL,
	    "rules[0]: a rule needs exactly one of \"uid\", \"gid\", \"group\" (found 0");
	expect_parse_error(
	    "{\"rules\": [{\"uid\": \"1000\", \"types\": []}]}", -EINVAL,
	    "rules[0].uid: unknown user \"1000\" (write a uid as a number, without quotes)");
	expect_parse_error(
	    "{\"admin_group\": \"27\"}", -EINVAL,
	    "admin_group: unknown group \"27\" (write a gid as a number, without quotes)");
	expect_parse_error("{\"admin_group\": \"\"}", -EINVAL,
			   "admin_group: expected a non-empty string");
	expect_parse_error("{\"admin_group\": true}", -EINVAL,
			   "admin_group: expected a group name or number, got a boolean");
	/* overlong strings */
	{
		char text[400];
		char longname[200];
		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		snprintf(text, sizeof(text), "{\"socket\": {\"path\": \"/%s\"}}", longname);
		expect_parse_error(text, -EINVAL,
				   "socket.path: string too long (200 bytes, at most 107)");
		snprintf(text, sizeof(text), "{\"admin_group\": \"%s\"}", longname);
		expect_parse_error(text, -EINVAL, "admin_group: string too long");
		snprintf(text, sizeof(text),
			 "{\"overrides\": [{\"pair\": [\"0000:03:00.0\", \"04:00.0\"], \"action\": "
			 "\"deny\", \"reason\": \"%s\"}]}",
			 longname);
		expect_parse_error(text, -EINVAL,
				   "overrides[0].reason: string too long (199 bytes, at most 127)");
	}
}

/* Error paths of sections and values no other case reaches: each refused
 * with the key path and what was expected. */
static void test_types_more(void **state)
{
	char longname[400];
	(void)state;
	expect_parse_error("{\"socket\": {\"group\": -1}}", -EINVAL,
			   "socket.group: expected an integer in 0..4294967294");
	expect_parse_error("{\"limits\": []}", -EINVAL, "limits: expected an object, got an array");
	expect_parse_error("{\"limits\": {\"max_bytes\": \"17179869184G\"}}", -EINVAL,
			   "limits.max_bytes: size \"17179869184G\" out of range");
	expect_parse_error("{\"providers\": {}}", -EINVAL,
			   "providers: expected an array, got an object");
	expect_parse_error("{\"providers\": [{\"device\": 5, \"bar\": 2}]}", -EINVAL,
			   "providers[0].device: expected a string, got an integer");
	expect_parse_error(
	    "{\"providers\": [{\"device\": \"0000:03:00.0\", \"bar\": 2, \"size\": true}]}",
	    -EINVAL,
	    "providers[0].size: expected a size (an integer >= 0 or a string like \"1G\"), got a "
	    "boolean");
	expect_parse_error("{\"overrides\": {}}", -EINVAL,
			   "overrides: expected an array, got an object");
	expect_parse_error(
	    "{\"overrides\": [{\"pair\": [\"0000:03:00.0\", \"0000:04:00.0\"], \"action\": 5}]}",
	    -EINVAL, "overrides[0].action: expected \"allow\" or \"deny\"");
	expect_parse_error("{\"whitelist\": {}}", -EINVAL,
			   "whitelist: expected an array, got an object");
	expect_parse_error("{\"whitelist\": [5]}", -EINVAL,
			   "whitelist[0]: expected an object, got an integer");
	expect_parse_error("{\"rules\": [{\"gid\": 0, \"types\": [], \"devices\": {}}]}", -EINVAL,
			   "rules[0].devices: expected an array, got an object");
	expect_parse_error("{\"rules\": [{\"group\": \"no-such-group-p2pd\", \"types\": []}]}",
			   -EINVAL, "rules[0].group: unknown group \"no-such-group-p2pd\"");
	memset(longname, 'u', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	{
		char text[600];

		snprintf(text, sizeof(text), "{\"rules\": [{\"uid\": \"%s\", \"types\": []}]}",
			 longname);
		expect_parse_error(text, -EINVAL,
				   "rules[0].uid: string too long (399 bytes, at most 63)");
	}
}

/* Misuse of the API: refused, nothing allocated. */
static void test_api_misuse(void **state)
{
	struct p2p_config *cfg = NULL;
	char err[64] = "x";
	(void)state;
	assert_int_equal(config_parse(NULL, 0, "t.json", &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "");
	assert_int_equal(config_parse("{}", 2, "t.json", NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(config_load(NULL, NULL, err, sizeof(err)), -EINVAL);
	assert_null(cfg);
}

static void test_socket_modes(void **state)
{
	static const struct {
		const char *mode;
		unsigned want; /* 0 = error */
	} cases[] = {
	    {"0660", 0660}, {"660", 0660}, {"0600", 0600}, {"0640", 0640}, {"0666", 0},
	    {"0760", 0},    {"0460", 0},   {"00660", 0},   {"0x1b0", 0},   {"", 0},
	    {"06600", 0},   {"0680", 0},   {"-660", 0},	   {"0670", 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[128], err[256] = "";
		struct p2p_config *cfg = NULL;
		snprintf(text, sizeof(text), "{\"socket\": {\"mode\": \"%s\"}}", cases[i].mode);
		int r = config_parse(text, strlen(text), "m.json", &cfg, err, sizeof(err));
		if (cases[i].want) {
			if (r != 0)
				fail_msg("mode %s: %s", cases[i].mode, err);
			assert_int_equal(cfg->socket_mode, cases[i].want);
			config_free(cfg);
		} else {
			if (r != -EINVAL || !strstr(err, "m.json:1: socket.mode: "))
				fail_msg("mode \"%s\": want error, got %d \"%s\"", cases[i].mode, r,
					 err);
		}
	}
}

static void test_semantic_lines(void **state)
{
	(void)state;
	/* the error points at the offending key even when the same key appears earlier */
	expect_parse_error("{\n"
			   "  \"rules\": [\n"
			   "    { \"uid\": 0, \"types\": [\"p2p\"], \"max_buffers\": 1 },\n"
			   "    { \"uid\": 1,\n"
			   "      \"types\": [\"host\"],\n"
			   "      \"max_buffers\": -3 }\n"
			   "  ]\n"
			   "}\n",
			   -EINVAL, "t.json:6: rules[1].max_buffers:");
	/* keys with escapes are still located */
	expect_parse_error("{\n\"soc\\u006bet\": {\n\n\"mode\": 1}}", -EINVAL,
			   "t.json:4: socket.mode:");
	/* duplicate key reported at the second occurrence, nested */
	expect_parse_error("{\"socket\": {\n\"mode\": \"0660\",\n\"mode\": \"0600\"}}", -EINVAL,
			   "t.json:3: socket.mode: duplicate key");
	/* control characters from the file never reach the one-line message */
	expect_parse_error("{\"lim\\nits\": 1}", -EINVAL, "t.json:1: lim?its: unknown key");
	expect_parse_error("{\"admin_group\": \"x\\ty\"}", -EINVAL,
			   "t.json:1: admin_group: unknown group \"x?y\"");
	/* an object with too many keys */
	{
		char text[2048] = "{";
		for (int i = 0; i < 70; i++) {
			char k[16];
			snprintf(k, sizeof(k), "%s\"k%d\":1", i ? "," : "", i);
			strcat(text, k);
		}
		strcat(text, "}");
		expect_parse_error(text, -EINVAL, "(top level): more than 64 keys in one object");
	}
}

static void test_devpat(void **state)
{
	struct config_devpat p;
	char err[256];
	(void)state;
	assert_int_equal(config_parse_devpat("*", &p, err, sizeof(err)), 0);
	assert_int_equal(p.kind, CONFIG_DEV_ANY);
	assert_int_equal(config_parse_devpat("10000:e1:1f.7", &p, err, sizeof(err)), 0);
	assert_int_equal(p.kind, CONFIG_DEV_BDF);
	assert_int_equal(p.domain, 0x10000);
	assert_int_equal(p.bus, 0xe1);
	assert_int_equal(p.dev, 0x1f);
	assert_int_equal(p.fn, 7);
	assert_int_equal(config_parse_devpat("03:00.1", &p, err, sizeof(err)), 0);
	assert_int_equal(p.domain, 0);
	assert_int_equal(p.fn, 1);
	assert_int_equal(config_parse_devpat("10DE:2330", &p, err, sizeof(err)), 0);
	assert_int_equal(p.kind, CONFIG_DEV_ID);
	assert_int_equal(p.vendor, 0x10de);
	assert_int_equal(p.device, 0x2330);
	assert_int_equal(config_parse_devpat("class:0x03", &p, err, sizeof(err)), 0);
	assert_int_equal(p.class_value, 0x030000);
	assert_int_equal(p.class_mask, 0xff0000);
	assert_int_equal(config_parse_devpat("class:0x010802", &p, err, sizeof(err)), 0);
	assert_int_equal(p.class_value, 0x010802);
	assert_int_equal(p.class_mask, 0xffffff);
	assert_int_equal(config_parse_devpat("network", &p, err, sizeof(err)), 0);
	assert_int_equal(p.class_value, 0x020000);
	assert_int_equal(config_parse_devpat("gpu", &p, err, sizeof(err)), 0);
	assert_string_equal(p.text, "gpu");

	static const char *const bad[] = {
	    "",
	    "**",
	    "class:0x3",
	    "class:03",
	    "class:0x0302001",
	    "class:",
	    "10de:23301",
	    "10de:",
	    ":2330",
	    "1g:2330",
	    "0000:03:00.8",
	    "0000:03:20.0",
	    "0:0:0:0.0",
	    "gpus",
	    "10de:2330:1",
	    "0123456789abcdef0123456789abcdef",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (config_parse_devpat(bad[i], &p, err, sizeof(err)) != -EINVAL || !err[0])
			fail_msg("pattern \"%s\" accepted", bad[i]);
	}
}

static void test_names(void **state)
{
	char buf[32];
	(void)state;
	assert_int_equal(config_type_from_name("p2p"), CONFIG_TYPE_P2P);
	assert_int_equal(config_type_from_name("host"), CONFIG_TYPE_HOST);
	assert_int_equal(config_type_from_name("memfd"), CONFIG_TYPE_MEMFD);
	assert_int_equal(config_type_from_name("P2P"), 0);
	assert_int_equal(config_type_from_name(NULL), 0);
	assert_string_equal(config_types_str(CONFIG_TYPE_ALL, buf, sizeof(buf)), "p2p,host,memfd");
	assert_string_equal(config_types_str(CONFIG_TYPE_MEMFD, buf, sizeof(buf)), "memfd");
	assert_string_equal(config_types_str(0, buf, sizeof(buf)), "none");
}

static void test_load_errors(void **state)
{
	struct p2p_config *cfg = NULL;
	char dir[] = "/tmp/test-config-XXXXXX", path[PATH_MAX], err[512];
	(void)state;
	assert_non_null(mkdtemp(dir));

	snprintf(path, sizeof(path), "%s/missing.json", dir);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "missing.json:0: cannot open"));

	/* a directory */
	assert_int_equal(config_load(dir, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));

	/* a FIFO: refused, without blocking on open */
	snprintf(path, sizeof(path), "%s/fifo.json", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	unlink(path);

	/* world-writable */
	snprintf(path, sizeof(path), "%s/ww.json", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{}", 2), 2);
	close(fd);
	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "world-writable"));
	/* group-writable (issue 16 item 8) */
	assert_int_equal(chmod(path, 0664), 0);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "group-writable"));
	assert_null(cfg);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
	config_free(cfg);
	cfg = NULL;
	/* owned by another uid (root only: chown needs CAP_CHOWN) */
	if (geteuid() == 0) {
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "owned by uid 65534"));
		assert_null(cfg);
		assert_int_equal(chown(path, 0, 0), 0);
		assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
		config_free(cfg);
		cfg = NULL;
	} else {
		fprintf(stderr,
			"test_load_errors: SKIP foreign-owner case (needs root for chown)\n");
	}
	unlink(path);

	/* too large */
	snprintf(path, sizeof(path), "%s/big.json", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, CONFIG_MAX_FILE_SIZE + 1), 0);
	close(fd);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "file too large"));
	unlink(path);
	assert_null(cfg);

	/* config_parse bounds too */
	{
		size_t n = CONFIG_MAX_FILE_SIZE + 1;
		char *big = malloc(n);
		assert_non_null(big);
		memset(big, ' ', n);
		assert_int_equal(config_parse(big, n, "b.json", &cfg, err, sizeof(err)), -EFBIG);
		free(big);
	}
	rmdir(dir);
}

/* Refusals each naming the path and what is missing or wrong. */
static void test_semantic_refusals(void **state)
{
	(void)state;
	expect_parse_error("[1, 2]", -EINVAL,
			   "t.json:1: (top level): expected an object, got an array");
	expect_parse_error(
	    "{\"limits\": {\"max_connections\": 8, \"reserved_admin_connections\": 8}}", -EINVAL,
	    "limits.reserved_admin_connections: must be less than max_connections (8)");
	expect_parse_error("{\"overrides\": [{\"action\": \"deny\"}]}", -EINVAL,
			   "overrides[0]: missing key \"pair\"");
	expect_parse_error("{\"overrides\": [{\"pair\": [\"zz\", \"0000:03:00.0\"], "
			   "\"action\": \"deny\"}]}",
			   -EINVAL, "overrides[0].pair[0]:");
	expect_parse_error("{\"overrides\": [{\"pair\": [\"0000:03:00.0\", \"0000:04:00.0\"], "
			   "\"action\": 1}]}",
			   -EINVAL, "overrides[0].action: expected \"allow\" or \"deny\"");
	expect_parse_error("{\"whitelist\": [{\"device\": \"2030\"}]}", -EINVAL,
			   "whitelist[0]: missing key \"vendor\"");
	expect_parse_error("{\"whitelist\": [{\"vendor\": \"8086\", \"device\": 5}]}", -EINVAL,
			   "whitelist[0].device:");
	expect_parse_error("{\"limits\": {\"max_bytes\": \"x1G\"}}", -EINVAL, "limits.max_bytes:");
	expect_parse_error("{\"limits\": {\"max_bytes\": \"\"}}", -EINVAL, "limits.max_bytes:");
	expect_parse_error("{\"admin_group\": \"4242\"}", -EINVAL,
			   "write a gid as a number, without quotes");
}

/* Values at the edges of every range are accepted. */
static void test_boundaries_ok(void **state)
{
	struct p2p_config *cfg;
	(void)state;
	cfg = expect_parse_ok("{\"limits\": {\"max_connections\": 65536, \"max_buffers\": 1048576, "
			      "\"max_pending_per_client\": 4096, \"max_message_size\": 65536, "
			      "\"max_bytes\": 4503599627370496}, "
			      "\"rules\": [{\"uid\": 4294967294, \"types\": [\"p2p\", \"p2p\"], "
			      "\"max_bytes\": 4503599627370496, \"max_buffers\": 1048576}]}");
	assert_int_equal(cfg->limits.max_connections, 65536);
	assert_int_equal(cfg->limits.max_message_size, 65536);
	assert_true(cfg->rules[0].uid == 4294967294u);
	assert_int_equal(cfg->rules[0].types, CONFIG_TYPE_P2P);
	assert_true(cfg->rules[0].max_bytes == 1ull << 52);
	config_free(cfg);

	cfg =
	    expect_parse_ok("{\"providers\": [{\"device\": \"ffff:ff:1f.7\", \"bar\": 5, "
			    "\"size\": \"4K\"}], \"socket\": {\"group\": 0}, \"admin_group\": 0}");
	assert_string_equal(cfg->providers[0].device, "ffff:ff:1f.7");
	assert_true(cfg->has_admin_gid);
	assert_int_equal(cfg->admin_gid, 0);
	assert_string_equal(cfg->admin_group, "");
	assert_true(cfg->has_socket_gid);
	config_free(cfg);

	/* 1024 rules is the limit and fine */
	{
		size_t cap = 64 * 1024, o = 0;
		char *text = malloc(cap);
		assert_non_null(text);
		o += (size_t)snprintf(text + o, cap - o, "{\"rules\": [");
		for (int i = 0; i < CONFIG_MAX_RULES; i++)
			o += (size_t)snprintf(text + o, cap - o, "%s{\"uid\": %d, \"types\": []}",
					      i ? "," : "", i);
		snprintf(text + o, cap - o, "]}");
		cfg = expect_parse_ok(text);
		assert_int_equal(cfg->n_rules, CONFIG_MAX_RULES);
		assert_int_equal(cfg->rules[1023].uid, 1023);
		config_free(cfg);
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_minimal_is_defaults),
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_example_config),
	    cmocka_unit_test(test_bad_fixtures),
	    cmocka_unit_test(test_bad_fixtures_all_listed),
	    cmocka_unit_test(test_syntax_inline),
	    cmocka_unit_test(test_types_inline),
	    cmocka_unit_test(test_types_more),
	    cmocka_unit_test(test_api_misuse),
	    cmocka_unit_test(test_socket_modes),
	    cmocka_unit_test(test_semantic_lines),
	    cmocka_unit_test(test_devpat),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_boundaries_ok),
	    cmocka_unit_test(test_semantic_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
