/* SPDX-License-Identifier: MIT */
/*
 * test-policy.c - admin rights, rule matching (uid, gid, group, first match,
 * default), device patterns, buffer types and quota boundaries, on a small
 * hand-made topology.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "policy.h"
#include "topo.h"

enum {
	F_HB = 0,  /* 0000:00:00.0 8086:1234 host bridge */
	F_GPU,	   /* 0000:03:00.0 10de:2330 3D controller 0x030200 */
	F_NVME,	   /* 0000:04:00.0 144d:a80a NVMe 0x010802 */
	F_NIC,	   /* 0000:05:00.0 15b3:101b ethernet 0x020000 */
	F_UNKNOWN, /* 0001:06:00.1 1af4:1110 class unknown */
	F_GPU2,	   /* 0000:07:00.0 10de:20b0 VGA 0x030000 */
	F_COUNT
};

static struct topo_func funcs[F_COUNT];
static struct topo topo = {.funcs = funcs, .nfuncs = F_COUNT};

static void set_func(int i, uint32_t dom, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t ven,
		     uint16_t did, uint32_t cls)
{
	struct topo_func *f = &funcs[i];
	memset(f, 0, sizeof(*f));
	snprintf(f->bdf, sizeof(f->bdf), "%04x:%02x:%02x.%x", (unsigned)dom, bus, dev, fn);
	f->domain = dom;
	f->bus = bus;
	f->dev = dev;
	f->fn = fn;
	f->idx = i;
	f->parent = -1;
	f->vendor = ven;
	f->device = did;
	f->class_code = cls;
	f->numa_node = -1;
	f->iommu_group = -1;
	f->pcie_type = -1;
	f->sec_bus = f->sub_bus = -1;
}

static int fake_groups_calls;

/* Fake group database: uid -> groups (besides the peer's gid). */
static int fake_groups(uid_t uid, gid_t gid, gid_t *groups, int max)
{
	(void)gid;
	fake_groups_calls++;
	if (uid == 1000) {
		static const gid_t g[] = {1000, 44, 27};
		for (int i = 0; i < 3 && i < max; i++)
			groups[i] = g[i];
		return 3;
	}
	if (uid == 1002) { /* many groups: the wanted one beyond the first 64 */
		for (int i = 0; i < 100 && i < max; i++)
			groups[i] = (gid_t)(5000 + i);
		return 100;
	}
	if (max > 0)
		groups[0] = (gid_t)uid;
	return 1;
}

static int setup(void **state)
{
	(void)state;
	set_func(F_HB, 0, 0, 0, 0, 0x8086, 0x1234, 0x060000);
	set_func(F_GPU, 0, 3, 0, 0, 0x10de, 0x2330, 0x030200);
	set_func(F_NVME, 0, 4, 0, 0, 0x144d, 0xa80a, 0x010802);
	set_func(F_NIC, 0, 5, 0, 0, 0x15b3, 0x101b, 0x020000);
	set_func(F_UNKNOWN, 1, 6, 0, 1, 0x1af4, 0x1110, UINT32_MAX);
	set_func(F_GPU2, 0, 7, 0, 0, 0x10de, 0x20b0, 0x030000);
	policy_set_groups_fn(fake_groups);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	policy_set_groups_fn(NULL);
	return 0;
}

static struct p2p_config *parse(const char *text)
{
	struct p2p_config *cfg = NULL;
	char err[512] = "";
	int r = config_parse(text, strlen(text), "p.json", &cfg, err, sizeof(err));
	if (r)
		fail_msg("config: %d %s", r, err);
	return cfg;
}

static int alloc(const struct p2p_config *cfg, uid_t uid, gid_t gid, int prov, const char *type,
		 uint64_t size, uint64_t cur_bytes, uint32_t cur_bufs, char *why, size_t whylen)
{
	struct policy_usage cur = {.bytes = cur_bytes, .buffers = cur_bufs};
	return policy_check_alloc(cfg, &topo, uid, gid, prov,
				  (enum alloc_type)alloc_type_from_name(type), size, &cur, why,
				  whylen);
}

static void test_admin(void **state)
{
	struct p2p_config *cfg;
	(void)state;
	assert_true(policy_is_admin(NULL, 0, 0));
	assert_false(policy_is_admin(NULL, 1000, 1000));

	assert_int_equal(config_load(NULL, &cfg, NULL, 0), 0);
	assert_true(policy_is_admin(cfg, 0, 0));
	assert_true(policy_is_admin(cfg, 0, 1234));
	assert_false(policy_is_admin(cfg, 1000, 1000)); /* no admin group by default */
	assert_false(policy_is_admin(cfg, 1000, 0));	/* gid 0 alone is not root */
	config_free(cfg);

	cfg = parse("{\"admin_group\": 27}");
	assert_true(policy_is_admin(cfg, 0, 0));
	assert_true(policy_is_admin(cfg, 1000, 1000)); /* supplementary */
	assert_true(policy_is_admin(cfg, 1001, 27));   /* primary (peer) gid */
	assert_false(policy_is_admin(cfg, 1001, 1001));
	assert_false(policy_is_admin(cfg, 1002, 1002));
	config_free(cfg);

	cfg = parse("{\"admin_group\": 5099}"); /* the 100th of uid 1002's groups */
	assert_true(policy_is_admin(cfg, 1002, 1002));
	assert_false(policy_is_admin(cfg, 1000, 1000));
	config_free(cfg);
	cfg = parse("{\"admin_group\": 5100}"); /* just past them */
	assert_false(policy_is_admin(cfg, 1002, 1002));
	config_free(cfg);
}

static void test_defaults_policy(void **state)
{
	struct p2p_config *cfg;
	char why[256];
	(void)state;
	assert_int_equal(config_load(NULL, &cfg, NULL, 0), 0);
	/* unprivileged: host and memfd, never p2p */
	assert_int_equal(alloc(cfg, 1000, 1000, F_GPU, "p2p", 4096, 0, 0, why, sizeof(why)),
			 -EPERM);
	assert_non_null(strstr(why, "built-in default rule does not allow p2p buffers (allowed: "
				    "host,memfd)"));
	assert_int_equal(alloc(cfg, 1000, 1000, -1, "host", 4096, 0, 0, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	assert_int_equal(alloc(cfg, 1000, 1000, -1, "memfd", 4096, 0, 0, why, sizeof(why)), 0);
	/* root: everything */
	assert_int_equal(alloc(cfg, 0, 0, F_GPU, "p2p", 4096, 0, 0, why, sizeof(why)), 0);
	/* modest quotas: 64 buffers, 1 GiB */
	assert_int_equal(alloc(cfg, 1000, 1000, -1, "host", 4096, 0, 63, why, sizeof(why)), 0);
	assert_int_equal(alloc(cfg, 1000, 1000, -1, "host", 4096, 0, 64, why, sizeof(why)),
			 -EDQUOT);
	assert_int_equal(alloc(cfg, 1000, 1000, -1, "host", 1ull << 30, 0, 0, why, sizeof(why)), 0);
	assert_int_equal(
	    alloc(cfg, 1000, 1000, -1, "host", (1ull << 30) + 1, 0, 0, why, sizeof(why)), -EDQUOT);
	assert_int_equal(alloc(cfg, 0, 0, -1, "host", (1ull << 30) + 1, 0, 0, why, sizeof(why)),
			 -EDQUOT);
	/* NULL usage = nothing held */
	assert_int_equal(
	    policy_check_alloc(cfg, &topo, 1000, 1000, -1, ALLOC_TYPE_HOST, 1, NULL, NULL, 0), 0);
	config_free(cfg);
}

static void test_first_match(void **state)
{
	struct p2p_config *cfg;
	const struct config_rule *r;
	char why[256];
	(void)state;
	cfg = parse("{\"rules\": [\n"
		    "  {\"uid\": 1000, \"types\": [\"host\"]},\n"
		    "  {\"group\": \"root\", \"types\": [\"memfd\"]},\n"
		    "  {\"gid\": 44, \"types\": [\"p2p\"]}\n"
		    "], \"default\": {\"types\": []}}");
	/* uid 1000 is in group 44 too, but its uid rule comes first */
	r = policy_rule_for(cfg, 1000, 1000);
	assert_ptr_equal(r, &cfg->rules[0]);
	assert_int_equal(alloc(cfg, 1000, 1000, F_GPU, "p2p", 1, 0, 0, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "rules[0] (uid 1000, line 2) does not allow p2p buffers "
				    "(allowed: host)"));
	/* primary gid 44 */
	assert_ptr_equal(policy_rule_for(cfg, 1003, 44), &cfg->rules[2]);
	assert_int_equal(alloc(cfg, 1003, 44, F_GPU, "p2p", 1, 0, 0, why, sizeof(why)), 0);
	/* gid 0 (root group) before gid 44 */
	assert_ptr_equal(policy_rule_for(cfg, 1003, 0), &cfg->rules[1]);
	assert_int_equal(alloc(cfg, 1003, 0, -1, "host", 1, 0, 0, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "rules[1] (group root, line 3) does not allow host buffers"));
	/* nobody matches: the default, which allows nothing */
	assert_ptr_equal(policy_rule_for(cfg, 1004, 1004), &cfg->default_rule);
	assert_int_equal(alloc(cfg, 1004, 1004, -1, "memfd", 1, 0, 0, why, sizeof(why)), -EPERM);
	assert_non_null(
	    strstr(why, "default (line 5) does not allow memfd buffers (allowed: none)"));
	config_free(cfg);

	/* the order reversed: now uid 1000 gets p2p through its group */
	cfg = parse("{\"rules\": [{\"gid\": 44, \"types\": [\"p2p\"]}, "
		    "{\"uid\": 1000, \"types\": [\"host\"]}]}");
	assert_ptr_equal(policy_rule_for(cfg, 1000, 1000), &cfg->rules[0]);
	assert_int_equal(alloc(cfg, 1000, 1000, F_GPU, "p2p", 1, 0, 0, why, sizeof(why)), 0);
	assert_int_equal(alloc(cfg, 1000, 1000, -1, "host", 1, 0, 0, why, sizeof(why)), -EPERM);
	config_free(cfg);

	/* a user name rule */
	cfg = parse("{\"rules\": [{\"uid\": \"root\", \"types\": [\"memfd\"]}]}");
	assert_ptr_equal(policy_rule_for(cfg, 0, 0), &cfg->rules[0]);
	assert_int_equal(alloc(cfg, 0, 0, F_GPU, "p2p", 1, 0, 0, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "rules[0] (user root, line 1)"));
	config_free(cfg);
	assert_null(policy_rule_for(NULL, 0, 0));
}

struct dev_case {
	const char *pattern;
	bool want[F_COUNT];
};

static void test_device_patterns(void **state)
{
	/* HB GPU NVME NIC UNKNOWN GPU2 */
	static const struct dev_case cases[] = {
	    {"*", {1, 1, 1, 1, 1, 1}},
	    {"0000:03:00.0", {0, 1, 0, 0, 0, 0}},
	    {"03:00.0", {0, 1, 0, 0, 0, 0}},
	    {"0001:06:00.1", {0, 0, 0, 0, 1, 0}},
	    {"0000:06:00.1", {0, 0, 0, 0, 0, 0}},
	    {"0001:06:00.0", {0, 0, 0, 0, 0, 0}},
	    {"10de:2330", {0, 1, 0, 0, 0, 0}},
	    {"10de:*", {0, 1, 0, 0, 0, 1}},
	    {"1af4:1110", {0, 0, 0, 0, 1, 0}},
	    {"10de:2331", {0, 0, 0, 0, 0, 0}},
	    {"class:0x0302", {0, 1, 0, 0, 0, 0}},
	    {"class:0x03", {0, 1, 0, 0, 0, 1}},
	    {"class:0x030000", {0, 0, 0, 0, 0, 1}},
	    {"class:0x06", {1, 0, 0, 0, 0, 0}},
	    {"gpu", {0, 1, 0, 0, 0, 1}},
	    {"nvme", {0, 0, 1, 0, 0, 0}},
	    {"storage", {0, 0, 1, 0, 0, 0}},
	    {"network", {0, 0, 0, 1, 0, 0}},
	    {"accelerator", {0, 0, 0, 0, 0, 0}},
	    {"p2p-relevant", {0, 1, 1, 1, 0, 1}},
	};
	int failures = 0;
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		struct p2p_config *cfg;
		snprintf(
		    text, sizeof(text),
		    "{\"rules\": [{\"uid\": 1000, \"devices\": [\"%s\"], \"types\": [\"p2p\"]}]}",
		    cases[i].pattern);
		cfg = parse(text);
		for (int f = 0; f < F_COUNT; f++) {
			bool got = policy_device_allowed(cfg, &topo, 1000, 1000, f);
			bool m = policy_devpat_match(&cfg->rules[0].devices[0], &funcs[f]);
			char why[256] = "";
			int r = alloc(cfg, 1000, 1000, f, "p2p", 4096, 0, 0, why, sizeof(why));
			if (got != cases[i].want[f] || m != got || (r == 0) != got ||
			    (!got && (r != -EPERM || !strstr(why, "does not allow device") ||
				      !strstr(why, funcs[f].bdf)))) {
				print_error("pattern %s on %s: want %d got %d/%d alloc %d \"%s\"\n",
					    cases[i].pattern, funcs[f].bdf, cases[i].want[f], got,
					    m, r, why);
				failures++;
			}
		}
		config_free(cfg);
	}
	assert_int_equal(failures, 0);
}

static void test_device_lists(void **state)
{
	struct p2p_config *cfg;
	(void)state;
	/* several patterns: any may match */
	cfg = parse("{\"rules\": [{\"uid\": 1000, \"devices\": [\"nvme\", \"0000:05:00.0\"], "
		    "\"types\": [\"p2p\", \"host\"]}, "
		    "{\"uid\": 1001, \"devices\": [], \"types\": [\"p2p\", \"host\"]}]}");
	assert_false(policy_device_allowed(cfg, &topo, 1000, 1000, F_GPU));
	assert_true(policy_device_allowed(cfg, &topo, 1000, 1000, F_NVME));
	assert_true(policy_device_allowed(cfg, &topo, 1000, 1000, F_NIC));
	/* an empty list allows no device, but host memory is no device */
	for (int f = 0; f < F_COUNT; f++)
		assert_false(policy_device_allowed(cfg, &topo, 1001, 1001, f));
	assert_int_equal(alloc(cfg, 1001, 1001, -1, "host", 1, 0, 0, NULL, 0), 0);
	assert_int_equal(alloc(cfg, 1001, 1001, F_NVME, "p2p", 1, 0, 0, NULL, 0), -EPERM);
	{
		char why[256];
		assert_int_equal(alloc(cfg, 1001, 1001, F_NVME, "p2p", 1, 0, 0, why, sizeof(why)),
				 -EPERM);
		assert_string_equal(why, "rules[1] (uid 1001, line 1) does not allow device "
					 "0000:04:00.0 (144d:a80a, class 0x010802)");
		assert_int_equal(
		    alloc(cfg, 1000, 1000, F_UNKNOWN, "p2p", 1, 0, 0, why, sizeof(why)), -EPERM);
		assert_string_equal(why, "rules[0] (uid 1000, line 1) does not allow device "
					 "0001:06:00.1 (1af4:1110, class unknown)");
	}
	/* out of range */
	assert_false(policy_device_allowed(cfg, &topo, 1000, 1000, -1));
	assert_false(policy_device_allowed(cfg, &topo, 1000, 1000, F_COUNT));
	assert_false(policy_device_allowed(cfg, NULL, 1000, 1000, 0));
	assert_false(policy_device_allowed(NULL, &topo, 1000, 1000, 0));
	config_free(cfg);
}

static void test_quota_boundaries(void **state)
{
	struct p2p_config *cfg;
	char why[256];
	const uint64_t MiB = 1ull << 20;
	(void)state;
	cfg = parse("{\"rules\": [{\"uid\": 1000, \"types\": [\"host\", \"p2p\"], "
		    "\"max_bytes\": \"1M\", \"max_buffers\": 2}, "
		    "{\"uid\": 1001, \"types\": [\"host\"], \"max_buffers\": 0}]}");
	/* bytes: exactly at the limit is fine, one byte over is not */
	assert_int_equal(alloc(cfg, 1000, 1000, -1, "host", MiB, 0, 0, why, sizeof(why)), 0);
	assert_int_equal(alloc(cfg, 1000, 1000, -1, "host", MiB + 1, 0, 0, why, sizeof(why)),
			 -EDQUOT);
	assert_non_null(strstr(why, "quota: bytes: 1048577 more would exceed the limit 1048576 of "
				    "rules[0] (uid 1000, line 1) (current 0)"));
	assert_int_equal(alloc(cfg, 1000, 1000, -1, "host", 1, MiB - 1, 1, why, sizeof(why)), 0);
	assert_int_equal(alloc(cfg, 1000, 1000, -1, "host", 2, MiB - 1, 1, why, sizeof(why)),
			 -EDQUOT);
	assert_non_null(strstr(why, "(current 1048575)"));
	/* already over (the limit was lowered by a reload) */
	assert_int_equal(alloc(cfg, 1000, 1000, -1, "host", 1, MiB + 5, 1, why, sizeof(why)),
			 -EDQUOT);
	/* no overflow on huge requests */
	assert_int_equal(alloc(cfg, 1000, 1000, -1, "host", UINT64_MAX, 1, 0, why, sizeof(why)),
			 -EDQUOT);
	assert_int_equal(alloc(cfg, 1000, 1000, -1, "host", 1, UINT64_MAX, 0, why, sizeof(why)),
			 -EDQUOT);
	/* buffers: the second is fine, a third is not */
	assert_int_equal(alloc(cfg, 1000, 1000, F_GPU, "p2p", 4096, 4096, 1, why, sizeof(why)), 0);
	assert_int_equal(alloc(cfg, 1000, 1000, F_GPU, "p2p", 4096, 8192, 2, why, sizeof(why)),
			 -EDQUOT);
	assert_non_null(strstr(why, "quota: buffers: limit 2 of rules[0] (uid 1000, line 1) "
				    "reached (current 2)"));
	/* a zero buffer quota refuses everything */
	assert_int_equal(alloc(cfg, 1001, 1001, -1, "host", 1, 0, 0, why, sizeof(why)), -EDQUOT);
	/* a type refusal wins over quota */
	assert_int_equal(alloc(cfg, 1001, 1001, -1, "memfd", 1, 0, 99, why, sizeof(why)), -EPERM);
	config_free(cfg);
}

static void test_invalid_requests(void **state)
{
	struct p2p_config *cfg;
	char why[256];
	(void)state;
	assert_int_equal(config_load(NULL, &cfg, NULL, 0), 0);
	assert_int_equal(alloc(cfg, 0, 0, -1, "dmabuf", 1, 0, 0, why, sizeof(why)), -EINVAL);
	/* names are parsed at the edge (wire, config); policy sees the enum */
	assert_int_equal(alloc_type_from_name("dmabuf"), -EINVAL);
	assert_non_null(strstr(why, "unknown buffer type"));
	assert_int_equal(alloc(cfg, 0, 0, -1, NULL, 1, 0, 0, why, sizeof(why)), -EINVAL);
	assert_int_equal(alloc(cfg, 0, 0, -1, "p2p", 1, 0, 0, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "a p2p buffer needs a provider device"));
	assert_int_equal(alloc(cfg, 0, 0, F_COUNT, "p2p", 1, 0, 0, why, sizeof(why)), -EINVAL);
	assert_int_equal(alloc(cfg, 0, 0, -2, "host", 1, 0, 0, why, sizeof(why)), -EINVAL);
	assert_int_equal(alloc(cfg, 0, 0, -1, "host", 0, 0, 0, why, sizeof(why)), -EINVAL);
	assert_int_equal(
	    policy_check_alloc(cfg, NULL, 0, 0, 0, ALLOC_TYPE_P2P, 1, NULL, why, sizeof(why)),
	    -EINVAL);
	assert_int_equal(
	    policy_check_alloc(NULL, &topo, 0, 0, -1, ALLOC_TYPE_HOST, 1, NULL, why, sizeof(why)),
	    -EINVAL);
	/* a tiny why buffer is still NUL terminated */
	char tiny[8];
	assert_int_equal(alloc(cfg, 1000, 1000, F_GPU, "p2p", 1, 0, 0, tiny, sizeof(tiny)), -EPERM);
	assert_int_equal(strlen(tiny), 7);
	config_free(cfg);
}

/* The real name service: uid 0's passwd primary group is root (0), even when
 * the peer runs with another gid. */
static void test_real_groups(void **state)
{
	struct p2p_config *cfg;
	(void)state;
	policy_set_groups_fn(NULL);
	cfg = parse("{\"rules\": [{\"group\": \"root\", \"types\": [\"memfd\"]}], "
		    "\"admin_group\": \"root\"}");
	assert_ptr_equal(policy_rule_for(cfg, 0, 12345), &cfg->rules[0]);
	assert_ptr_equal(policy_rule_for(cfg, 4000000, 0), &cfg->rules[0]); /* peer gid */
	assert_ptr_equal(policy_rule_for(cfg, 4000000, 12345),
			 &cfg->default_rule); /* unknown uid */
	assert_true(policy_is_admin(cfg, 4000000, 0));
	assert_false(policy_is_admin(cfg, 4000000, 12345));
	config_free(cfg);
	policy_set_groups_fn(fake_groups);
}

/* Resolvers that misbehave: always "more than you gave me", or an error. */
static int greedy_groups(uid_t uid, gid_t gid, gid_t *groups, int max)
{
	(void)uid;
	(void)gid;
	fake_groups_calls++;
	for (int i = 0; i < max; i++)
		groups[i] = 9;
	return max + 1;
}

static int failing_groups(uid_t uid, gid_t gid, gid_t *groups, int max)
{
	(void)uid;
	(void)gid;
	(void)groups;
	(void)max;
	fake_groups_calls++;
	return -EIO;
}

static void test_bad_resolvers(void **state)
{
	struct p2p_config *cfg = parse("{\"admin_group\": 27, \"rules\": [{\"gid\": 9, "
				       "\"types\": [\"host\"]}]}");
	(void)state;
	policy_set_groups_fn(greedy_groups);
	fake_groups_calls = 0;
	/* terminates after a few tries, and uses what it got */
	assert_ptr_equal(policy_rule_for(cfg, 1000, 1000), &cfg->rules[0]);
	assert_true(fake_groups_calls <= 4);
	assert_false(policy_is_admin(cfg, 1000, 1000));
	policy_set_groups_fn(failing_groups);
	/* an error means no extra groups, never a crash or a match */
	assert_ptr_equal(policy_rule_for(cfg, 1000, 1000), &cfg->default_rule);
	assert_false(policy_is_admin(cfg, 1000, 1000));
	assert_true(policy_is_admin(cfg, 1000, 27)); /* the peer's gid needs no lookup */
	policy_set_groups_fn(fake_groups);
	config_free(cfg);
}

/* The group list is fetched at most once per decision, and only when needed. */
static void test_group_lookups(void **state)
{
	struct p2p_config *cfg;
	char text[1024] = "{\"rules\": [{\"uid\": 1001, \"types\": []}";
	(void)state;
	for (int i = 0; i < 10; i++) {
		char one[64];
		snprintf(one, sizeof(one), ", {\"gid\": %d, \"types\": []}", 7000 + i);
		strcat(text, one);
	}
	strcat(text, "]}");
	cfg = parse(text);
	fake_groups_calls = 0;
	assert_ptr_equal(policy_rule_for(cfg, 1001, 1001), &cfg->rules[0]);
	assert_int_equal(fake_groups_calls, 0); /* a uid rule matched first */
	assert_ptr_equal(policy_rule_for(cfg, 1000, 7000), &cfg->rules[1]);
	assert_int_equal(fake_groups_calls, 0); /* the peer's gid matched */
	assert_ptr_equal(policy_rule_for(cfg, 1000, 1000), &cfg->default_rule);
	assert_int_equal(fake_groups_calls, 1); /* ten group rules, one lookup */
	fake_groups_calls = 0;
	assert_ptr_equal(policy_rule_for(cfg, 1002, 1002), &cfg->default_rule);
	assert_int_equal(fake_groups_calls, 2); /* 100 groups: a second, larger call */
	config_free(cfg);
}

/* A uid rule is about the uid alone: a peer whose gid equals the rule's number
 * is not that user, and the user matches whatever its gid. */
static void test_uid_rule_not_gid(void **state)
{
	struct p2p_config *cfg;
	char why[256];
	(void)state;
	cfg = parse("{\"rules\": [\n"
		    "  {\"uid\": 1000, \"types\": [\"host\"]},\n"
		    "  {\"gid\": 2000, \"types\": [\"memfd\"]}\n"
		    "], \"default\": {\"types\": []}}");
	/* uid 1000 with an unrelated gid: its rule */
	assert_ptr_equal(policy_rule_for(cfg, 1000, 3000), &cfg->rules[0]);
	assert_int_equal(alloc(cfg, 1000, 3000, -1, "host", 1, 0, 0, why, sizeof(why)), 0);
	/* gid 1000 but another uid: not the uid rule (the default here) */
	assert_ptr_equal(policy_rule_for(cfg, 3000, 1000), &cfg->default_rule);
	assert_int_equal(alloc(cfg, 3000, 1000, -1, "host", 1, 0, 0, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "default"));
	/* and a gid rule matches the peer's gid */
	assert_ptr_equal(policy_rule_for(cfg, 3000, 2000), &cfg->rules[1]);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_admin),
	    cmocka_unit_test(test_defaults_policy),
	    cmocka_unit_test(test_first_match),
	    cmocka_unit_test(test_device_patterns),
	    cmocka_unit_test(test_device_lists),
	    cmocka_unit_test(test_quota_boundaries),
	    cmocka_unit_test(test_invalid_requests),
	    cmocka_unit_test(test_real_groups),
	    cmocka_unit_test(test_group_lookups),
	    cmocka_unit_test(test_bad_resolvers),
	    cmocka_unit_test(test_uid_rule_not_gid),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
