// SPDX-License-Identifier: MIT
/*
 * test-rules.c - the versioned host-bridge rules (rules.c), the kernel facts
 * (kernel.c: release, CONFIG_PCI_P2PDMA, command line) and what they do to
 * verdicts.  The tables are checked entry by entry against DESIGN.md,
 * "Kernel versions"; the flips against drivers/pci/p2pdma.c of each release.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/pci_regs.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include "helper-fixture.h"
#include "kernel.h"
#include "rules.h"
#include "topo.h"
#include "verdict.h"

/* ---- tables ---- */

static void test_parse_release(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		unsigned v; /* 0 = unparsable */
	} cases[] = {
	    {"6.1.0-28-amd64", RULES_VERSION(6, 1)},
	    {"6.12.57+deb12-amd64", RULES_VERSION(6, 12)},
	    {"5.15.0-91-generic", RULES_VERSION(5, 15)},
	    {"4.18.0-513.5.1.el8_9.x86_64", RULES_VERSION(4, 18)},
	    {"7.3", RULES_VERSION(7, 3)},
	    {"7.3-rc2", RULES_VERSION(7, 3)},
	    {"10.0.1", RULES_VERSION(10, 0)},
	    {"", 0},
	    {"linux", 0},
	    {"6", 0},
	    {"6.", 0},
	    {"6.x", 0},
	    {".6.1", 0},
	    {"6.1x", 0},
	    {"0.9", 0},
	    {"300.1", 0},
	    {"6.1000", 0},
	    {"-6.1", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned v = 12345;
		int r = rules_parse_release(cases[i].s, &v);
		if (cases[i].v == 0) {
			if (r != -EINVAL)
				fail_msg("'%s' parsed as %x", cases[i].s, v);
			assert_int_equal(v, 12345); /* untouched on failure */
		} else if (r != 0 || v != cases[i].v) {
			fail_msg("'%s': r=%d v=%x want %x", cases[i].s, r, v, cases[i].v);
		}
	}
	assert_int_equal(rules_parse_release(NULL, &(unsigned){0}), -EINVAL);
}

static void test_select(void **state)
{
	(void)state;
	static const struct {
		const char *release;
		const char *table;
		enum rules_fit fit;
	} cases[] = {
	    {"5.15.0-91-generic", "linux-5.15", RULES_FIT_KNOWN},
	    {"5.17.15", "linux-5.15", RULES_FIT_KNOWN},
	    {"5.18.19", "linux-5.18", RULES_FIT_KNOWN},
	    {"5.19.0", "linux-5.19", RULES_FIT_KNOWN},
	    {"6.1.0-28-amd64", "linux-5.19", RULES_FIT_KNOWN},
	    {"6.12.57+deb12-amd64", "linux-5.19", RULES_FIT_KNOWN},
	    {"6.18.44", "linux-5.19", RULES_FIT_KNOWN},
	    {"7.0.3", "linux-5.19", RULES_FIT_KNOWN},
	    {"7.1.2", "linux-7.1", RULES_FIT_KNOWN},
	    {"7.2.0", "linux-7.2", RULES_FIT_KNOWN},
	    {"7.3.1", "linux-7.3", RULES_FIT_KNOWN},
	    {"7.4.0", "linux-7.3", RULES_FIT_NEWER},
	    {"8.0", "linux-7.3", RULES_FIT_NEWER},
	    {"4.18.0-513.el8.x86_64", "linux-5.15", RULES_FIT_OLDER},
	    {"5.14.0", "linux-5.15", RULES_FIT_OLDER},
	    {"custom-kernel", "linux-7.3", RULES_FIT_UNPARSABLE},
	    {"", "linux-7.3", RULES_FIT_NO_RELEASE},
	    {NULL, "linux-7.3", RULES_FIT_NO_RELEASE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rules_sel s;
		rules_select(cases[i].release, &s);
		if (strcmp(s.table->name, cases[i].table) || s.fit != cases[i].fit)
			fail_msg("%s: got %s/%s, want %s/%s", cases[i].release, s.table->name,
				 rules_fit_name(s.fit), cases[i].table,
				 rules_fit_name(cases[i].fit));
		/* the note names the table, and the release when there is one */
		assert_non_null(strstr(s.note, cases[i].table));
		if (cases[i].release && cases[i].release[0])
			assert_non_null(strstr(s.note, cases[i].release));
		if (s.fit != RULES_FIT_KNOWN)
			assert_non_null(
			    strstr(s.note, s.fit == RULES_FIT_OLDER ? "oldest" : "newest"));
	}
}

/* The whitelist of every table, exactly (DESIGN.md "Kernel versions"). */
static void test_tables(void **state)
{
	(void)state;
	static const struct {
		const char *table;
		int n; /* entries */
		enum rules_hbdev hbdev;
	} want[] = {
	    {"linux-5.15", 9, RULES_HBDEV_DEVFN0},
	    {"linux-5.18", 10, RULES_HBDEV_DEVFN0},
	    {"linux-5.19", 10, RULES_HBDEV_DEVFN0_OR_RP},
	    {"linux-7.1", 11, RULES_HBDEV_DEVFN0_OR_RP},
	    {"linux-7.2", 21, RULES_HBDEV_DEVFN0_OR_RP},
	    {"linux-7.3", 25, RULES_HBDEV_DEVFN0_OR_RP},
	};
	int n;
	const struct rules_table *tabs = rules_tables(&n);
	assert_int_equal(n, 6);
	for (int i = 0; i < n; i++) {
		const struct rules_entry *e[64];
		assert_string_equal(tabs[i].name, want[i].table);
		assert_ptr_equal(rules_find(want[i].table), &tabs[i]);
		assert_int_equal(rules_whitelist(&tabs[i], e, 64), want[i].n);
		assert_int_equal(tabs[i].hbdev, want[i].hbdev);
		for (int j = 0; j < want[i].n; j++) {
			assert_true(e[j]->since <= tabs[i].version);
			assert_non_null(e[j]->origin);
			assert_true(e[j]->origin[0] != '\0');
		}
	}
	assert_ptr_equal(rules_newest(), &tabs[n - 1]);
	assert_null(rules_find("linux-6.1"));

	/* Same-host-bridge-only entries, and the ids that appear by release. */
	const struct rules_table *t515 = rules_find("linux-5.15"), *t518 = rules_find("linux-5.18");
	const struct rules_table *t519 = rules_find("linux-5.19"), *t71 = rules_find("linux-7.1");
	const struct rules_table *t72 = rules_find("linux-7.2"), *t73 = rules_find("linux-7.3");
	static const uint16_t same_only[] = {0x3c00, 0x3c01, 0x2f00, 0x2f01};
	for (size_t i = 0; i < 4; i++) {
		const struct rules_entry *e = rules_lookup(t515, 0x8086, same_only[i]);
		assert_non_null(e);
		assert_true(e->same_host_bridge_only);
		assert_true(rules_lookup(t73, 0x8086, same_only[i])->same_host_bridge_only);
	}
	static const uint16_t skl[] = {0x2030, 0x2031, 0x2032, 0x2033, 0x2020};
	for (size_t i = 0; i < 5; i++)
		assert_false(rules_lookup(t515, 0x8086, skl[i])->same_host_bridge_only);
	assert_null(rules_lookup(t515, 0x8086, 0x2034));
	assert_null(rules_lookup(t515, 0x8086, 0x09a2));
	assert_non_null(rules_lookup(t518, 0x8086, 0x09a2));
	assert_null(rules_lookup(t519, 0x1ae0, 0x0042));
	assert_non_null(rules_lookup(t71, 0x1ae0, 0x0042)); /* any Google device */
	assert_non_null(rules_lookup(t71, 0x1ae0, 0xffff));
	static const uint16_t accel[] = {0x0b25, 0x0cfe, 0x11fb, 0x1212, 0x1216,
					 0x4940, 0x4942, 0x4944, 0x4946, 0x4948};
	for (size_t i = 0; i < 10; i++) {
		assert_null(rules_lookup(t71, 0x8086, accel[i]));
		assert_non_null(rules_lookup(t72, 0x8086, accel[i]));
	}
	assert_null(rules_lookup(t73, 0x8086, 0x4941)); /* the VF ids are not listed */
	for (uint16_t d = 0x2f95; d <= 0x2f98; d++) {
		assert_null(rules_lookup(t72, 0x10de, d));
		assert_non_null(rules_lookup(t73, 0x10de, d));
	}
	assert_null(rules_lookup(t73, 0x10de, 0x2f94));
	assert_null(rules_lookup(t73, 0x10de, 0x2f99));
}

/* ---- verdicts under each table ---- */

struct world {
	struct fx fx;
	struct topo *t;
	struct verdict_ctx *ctx;
};

/* Two root buses whose first functions are @hb0 and @hb1 (vendor<<16|device)
 * at devfn 00.0, each with a root port and an endpoint; root bus 40 also has
 * a third root port (8086:2032, at devfn 02.0 on its own root bus 80). */
static struct world *world_new(uint32_t hb0, uint32_t hb1)
{
	struct world *w = test_calloc(1, sizeof(*w));
	assert_int_equal(fx_init(&w->fx), 0);
	const struct fx_func funcs[] = {
	    {"pci0000:00/0000:00:00.0", hb0 >> 16, hb0 & 0xffff, 0x060000, -1, -1, FX_CFG_256, -1,
	     -1},
	    {"pci0000:00/0000:00:01.0", 0x8086, 0x347a, 0x060400, PCI_EXP_TYPE_ROOT_PORT, 0,
	     FX_CFG_4096, 1, 1},
	    {"pci0000:00/0000:00:01.0/0000:01:00.0", 0x10de, 0x2330, 0x030200,
	     PCI_EXP_TYPE_ENDPOINT, -1, FX_CFG_4096, -1, -1},
	    {"pci0000:40/0000:40:00.0", hb1 >> 16, hb1 & 0xffff, 0x060000, -1, -1, FX_CFG_256, -1,
	     -1},
	    {"pci0000:40/0000:40:01.0", 0x8086, 0x347a, 0x060400, PCI_EXP_TYPE_ROOT_PORT, 0,
	     FX_CFG_4096, 0x41, 0x41},
	    {"pci0000:40/0000:40:01.0/0000:41:00.0", 0x144d, 0xa80a, 0x010802,
	     PCI_EXP_TYPE_ENDPOINT, -1, FX_CFG_4096, -1, -1},
	    {"pci0000:80/0000:80:02.0", 0x8086, 0x2032, 0x060400, PCI_EXP_TYPE_ROOT_PORT, 0,
	     FX_CFG_4096, 0x81, 0x81},
	    {"pci0000:80/0000:80:02.0/0000:81:00.0", 0x144d, 0xa80a, 0x010802,
	     PCI_EXP_TYPE_ENDPOINT, -1, FX_CFG_4096, -1, -1},
	};
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		fx_add(&w->fx, &funcs[i]);
	fx_cpu(&w->fx, "GenuineIntel", 6);
	int fd = fx_rootfd(&w->fx);
	struct topo_opts o = {.no_gpu = true};
	assert_int_equal(topo_scan(fd, &o, &w->t), 0);
	close(fd);
	assert_int_equal(verdict_ctx_new(w->t, NULL, 0, NULL, 0, &w->ctx), 0);
	return w;
}

static void world_free(struct world *w)
{
	verdict_ctx_free(w->ctx);
	topo_free(w->t);
	fx_fini(&w->fx);
	test_free(w);
}

static void set_release(struct world *w, const char *release, int p2pdma)
{
	struct kernel_facts k;
	kernel_facts_unknown(&k);
	rules_select(release, &k.rules);
	k.p2pdma = p2pdma;
	verdict_ctx_set_kernel(w->ctx, &k);
}

static bool has_reason(const struct verdict *v, enum verdict_reason r)
{
	for (int i = 0; i < v->nreasons; i++)
		if (v->reasons[i].code == r)
			return true;
	return false;
}

/* Map type of one ordered pair under @release, via the full and fast paths. */
static enum verdict_map map_under(struct world *w, const char *release, const char *p,
				  const char *c)
{
	set_release(w, release, 1);
	int pi = topo_find(w->t, p), ci = topo_find(w->t, c), d;
	assert_true(pi >= 0 && ci >= 0);
	struct verdict v;
	verdict_pair(w->ctx, pi, ci, &v);
	assert_int_equal(verdict_fast(w->ctx, pi, ci, &d), v.map);
	assert_string_equal(v.rules, verdict_ctx_kernel(w->ctx)->rules.table->name);
	assert_string_equal(v.kernel_release, release);
	return v.map;
}

static void test_flip_09a2(void **state)
{
	(void)state;
	/* Ice Lake and later Xeons: 8086:09a2 first on every root bus (5.18). */
	struct world *w = world_new(0x808609a2, 0x808609a2);
	assert_int_equal(map_under(w, "5.15.0-91-generic", "01:00.0", "41:00.0"),
			 VERDICT_NOT_SUPPORTED);
	assert_int_equal(map_under(w, "5.17.1", "01:00.0", "41:00.0"), VERDICT_NOT_SUPPORTED);
	assert_int_equal(map_under(w, "5.18.0", "01:00.0", "41:00.0"), VERDICT_THRU_HOST_BRIDGE);
	assert_int_equal(map_under(w, "6.1.0-28-amd64", "01:00.0", "41:00.0"),
			 VERDICT_THRU_HOST_BRIDGE);
	assert_int_equal(map_under(w, "7.3.0", "41:00.0", "01:00.0"), VERDICT_THRU_HOST_BRIDGE);
	/* The reason names the table and where the entry came from. */
	struct verdict v;
	verdict_pair(w->ctx, topo_find(w->t, "01:00.0"), topo_find(w->t, "41:00.0"), &v);
	assert_true(has_reason(&v, R_HB_WHITELISTED));
	set_release(w, "5.15.0-91-generic", 1);
	verdict_pair(w->ctx, topo_find(w->t, "01:00.0"), topo_find(w->t, "41:00.0"), &v);
	assert_true(has_reason(&v, R_HB_NOT_WHITELISTED));
	bool named = false;
	for (int i = 0; i < v.nreasons; i++)
		named |= strstr(v.reasons[i].message, "linux-5.15") != NULL;
	assert_true(named);
	/* Bus-address pairs never consult the table. */
	assert_int_equal(map_under(w, "5.15.0", "01:00.0", "00:01.0"), VERDICT_BUS_ADDR);
	world_free(w);
}

static void test_flip_nvidia_google_intel(void **state)
{
	(void)state;
	struct world *w = world_new(0x10de2f95, 0x10de2f98); /* NVIDIA CPUs (7.3) */
	assert_int_equal(map_under(w, "7.2.0", "01:00.0", "41:00.0"), VERDICT_NOT_SUPPORTED);
	assert_int_equal(map_under(w, "7.3.0", "01:00.0", "41:00.0"), VERDICT_THRU_HOST_BRIDGE);
	assert_int_equal(map_under(w, "9.1.0", "01:00.0", "41:00.0"), VERDICT_THRU_HOST_BRIDGE);
	/* same host bridge: a different root port below 10de:2f95 */
	assert_int_equal(map_under(w, "6.12.57+deb12-amd64", "01:00.0", "00:00.0"),
			 VERDICT_NOT_SUPPORTED);
	assert_int_equal(map_under(w, "7.3.0", "01:00.0", "00:00.0"), VERDICT_THRU_HOST_BRIDGE);
	world_free(w);

	w = world_new(0x1ae00042, 0x1ae01234); /* Google, any device (7.1) */
	assert_int_equal(map_under(w, "7.0.9", "01:00.0", "41:00.0"), VERDICT_NOT_SUPPORTED);
	assert_int_equal(map_under(w, "7.1.0", "01:00.0", "41:00.0"), VERDICT_THRU_HOST_BRIDGE);
	world_free(w);

	w = world_new(0x80864940, 0x808609a2); /* QAT 4xxx first on its root bus (7.2) */
	assert_int_equal(map_under(w, "7.1.5", "01:00.0", "41:00.0"), VERDICT_NOT_SUPPORTED);
	assert_int_equal(map_under(w, "7.2.0", "01:00.0", "41:00.0"), VERDICT_THRU_HOST_BRIDGE);
	world_free(w);

	w = world_new(0x80863c00, 0x80863c00); /* same host bridge only, every release */
	assert_int_equal(map_under(w, "5.15.0", "01:00.0", "00:00.0"), VERDICT_THRU_HOST_BRIDGE);
	assert_int_equal(map_under(w, "7.3.0", "01:00.0", "41:00.0"), VERDICT_NOT_SUPPORTED);
	world_free(w);
}

static void test_flip_root_port_rule(void **state)
{
	(void)state;
	/* Root bus 80 starts with Skylake root port 8086:2032 at devfn 02.0:
	 * before 5.19 only devfn 00.0 counted as the host-bridge device. */
	struct world *w = world_new(0x80862020, 0x808609a2);
	int h80 = w->t->funcs[topo_find(w->t, "80:02.0")].hb;
	set_release(w, "5.18.5", 1);
	assert_int_equal(verdict_ctx_hbdev(w->ctx, h80), -1);
	assert_int_equal(map_under(w, "5.18.5", "01:00.0", "81:00.0"), VERDICT_NOT_SUPPORTED);
	struct verdict v;
	verdict_pair(w->ctx, topo_find(w->t, "01:00.0"), topo_find(w->t, "81:00.0"), &v);
	assert_true(has_reason(&v, R_HB_NO_DEVICE));
	assert_int_equal(map_under(w, "5.19.0", "01:00.0", "81:00.0"), VERDICT_THRU_HOST_BRIDGE);
	assert_int_equal(verdict_ctx_hbdev(w->ctx, h80), topo_find(w->t, "80:02.0"));
	/* Both ends must be whitelisted: 8086:2020 is, since before 5.15. */
	assert_int_equal(map_under(w, "5.15.0", "01:00.0", "41:00.0"), VERDICT_NOT_SUPPORTED);
	assert_int_equal(map_under(w, "5.18.0", "01:00.0", "41:00.0"), VERDICT_THRU_HOST_BRIDGE);
	world_free(w);
}

/* ---- no P2PDMA ---- */

static void test_no_p2pdma(void **state)
{
	(void)state;
	struct world *w = world_new(0x808609a2, 0x808609a2);
	verdict_ctx_free(w->ctx);
	struct verdict_override ov[1] = {0};
	snprintf(ov[0].a, sizeof(ov[0].a), "0000:01:00.0");
	snprintf(ov[0].b, sizeof(ov[0].b), "0000:81:00.0");
	ov[0].allow = true;
	assert_int_equal(verdict_ctx_new(w->t, NULL, 0, ov, 1, &w->ctx), 0);
	set_release(w, "6.1.0-28-amd64", 0);
	for (int p = 0; p < w->t->nfuncs; p++)
		for (int c = 0; c < w->t->nfuncs; c++) {
			struct verdict v;
			int d;
			verdict_pair(w->ctx, p, c, &v);
			assert_int_equal(v.map, VERDICT_NOT_SUPPORTED);
			assert_int_equal(v.kernel_map, VERDICT_NOT_SUPPORTED);
			assert_int_equal(v.distance, -1);
			assert_true(v.kernel_distance >= 0); /* the path is still known */
			assert_int_equal(v.kernel_p2pdma, 0);
			assert_int_equal(v.reasons[0].code, R_KERNEL_NO_P2PDMA);
			assert_non_null(strstr(v.reasons[0].message, "CONFIG_PCI_P2PDMA"));
			assert_non_null(strstr(v.reasons[0].message, "6.1.0-28-amd64"));
			assert_non_null(strstr(v.reasons[0].message, "Debian"));
			assert_int_equal(verdict_fast(w->ctx, p, c, &d), VERDICT_NOT_SUPPORTED);
			assert_false(v.overridden); /* an allow cannot add P2PDMA */
		}
	int clients[1] = {topo_find(w->t, "81:00.0")};
	assert_int_equal(
	    verdict_distance_many(w->ctx, topo_find(w->t, "01:00.0"), clients, 1, true), -1);
	/* Unknown counts as built with it. */
	set_release(w, "6.1.0-28-amd64", -1);
	assert_int_equal(map_under(w, "6.1.0-28-amd64", "01:00.0", "00:01.0"), VERDICT_BUS_ADDR);
	world_free(w);
}

/* ---- kernel facts from files ---- */

static void write_gz(struct fx *fx, const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", fx->root, rel);
	fx_write(fx, rel, "", 0); /* creates the directories */
	gzFile gz = gzopen(path, "wb");
	assert_non_null(gz);
	assert_int_equal(gzputs(gz, text), (int)strlen(text));
	assert_int_equal(gzclose(gz), Z_OK);
}

/* A plausible config: 150 options, with or without the P2PDMA line. */
static void config_text(char *buf, size_t size, const char *p2pline)
{
	size_t len = (size_t)snprintf(buf, size, "#\n# Automatically generated file\n#\n");
	for (int i = 0; i < 150; i++) {
		len += (size_t)snprintf(buf + len, size - len, "CONFIG_OPT_%d=y\n", i);
		if (i == 75 && p2pline)
			len += (size_t)snprintf(buf + len, size - len, "%s\n", p2pline);
	}
}

static void read_facts(struct fx *fx, const char *override, struct kernel_facts *k)
{
	int fd = fx_rootfd(fx);
	assert_int_equal(kernel_read(fd, override, k), 0);
	close(fd);
}

static void test_kernel_read(void **state)
{
	(void)state;
	static char cfg[16384];
	struct fx fx;
	struct kernel_facts k;
	assert_int_equal(fx_init(&fx), 0);

	read_facts(&fx, NULL, &k); /* nothing: all unknown */
	assert_string_equal(k.rules.release, "");
	assert_int_equal(k.release_src, KERNEL_SRC_NONE);
	assert_int_equal(k.rules.fit, RULES_FIT_NO_RELEASE);
	assert_int_equal(k.p2pdma, -1);
	assert_false(k.cmdline_known);

	fx_write(&fx, "proc/sys/kernel/osrelease", "5.15.0-91-generic\n", 18);
	config_text(cfg, sizeof(cfg), "CONFIG_PCI_P2PDMA=y");
	write_gz(&fx, "proc/config.gz", cfg);
	read_facts(&fx, NULL, &k);
	assert_string_equal(k.rules.release, "5.15.0-91-generic");
	assert_int_equal(k.release_src, KERNEL_SRC_OSRELEASE);
	assert_string_equal(k.rules.table->name, "linux-5.15");
	assert_int_equal(k.p2pdma, 1);
	assert_string_equal(k.config, "proc/config.gz");

	/* --kernel-release of another kernel: the running kernel's config.gz does
	 * not describe it; boot/config-<release> (plain text) does. */
	read_facts(&fx, "7.3.0-1-amd64", &k);
	assert_int_equal(k.release_src, KERNEL_SRC_OPTION);
	assert_string_equal(k.rules.table->name, "linux-7.3");
	assert_int_equal(k.p2pdma, -1);
	config_text(cfg, sizeof(cfg), "# CONFIG_PCI_P2PDMA is not set");
	fx_write(&fx, "boot/config-7.3.0-1-amd64", cfg, strlen(cfg));
	read_facts(&fx, "7.3.0-1-amd64", &k);
	assert_int_equal(k.p2pdma, 0);
	assert_string_equal(k.config, "boot/config-7.3.0-1-amd64");
	char line[300];
	kernel_p2pdma_line(&k, line, sizeof(line));
	assert_non_null(strstr(line, "without CONFIG_PCI_P2PDMA"));
	assert_non_null(strstr(line, "7.3.0-1-amd64"));

	/* No config.gz: boot/config-<osrelease>, gzip or plain; a config without
	 * the option at all (dependencies unmet) means built without it. */
	char gzpath[600];
	snprintf(gzpath, sizeof(gzpath), "%s/proc/config.gz", fx.root);
	assert_int_equal(unlink(gzpath), 0);
	config_text(cfg, sizeof(cfg), NULL);
	write_gz(&fx, "boot/config-5.15.0-91-generic", cfg);
	read_facts(&fx, NULL, &k);
	assert_int_equal(k.p2pdma, 0);
	assert_string_equal(k.config, "boot/config-5.15.0-91-generic");
	/* A file that is no config at all says nothing. */
	fx_write(&fx, "boot/config-5.15.0-91-generic", "hello\n", 6);
	read_facts(&fx, NULL, &k);
	assert_int_equal(k.p2pdma, -1);

	/* An osrelease that cannot be a release is not used. */
	fx_write(&fx, "proc/sys/kernel/osrelease", "../../etc/x\n", 12);
	read_facts(&fx, NULL, &k);
	assert_int_equal(k.release_src, KERNEL_SRC_NONE);
	fx_write(&fx, "proc/sys/kernel/osrelease", "weird_kernel\n", 13);
	read_facts(&fx, NULL, &k);
	assert_int_equal(k.rules.fit, RULES_FIT_UNPARSABLE);
	assert_string_equal(k.rules.table->name, "linux-7.3");

	fx_write(&fx, "proc/cmdline", "BOOT_IMAGE=/vmlinuz intel_iommu=on iommu=pt\n", 44);
	read_facts(&fx, NULL, &k);
	assert_true(k.cmdline_known);
	assert_string_equal(k.iommu, "intel_iommu=on iommu=pt");
	assert_true(k.iommu_passthrough);
	assert_false(k.iommu_off);
	fx_fini(&fx);
}

static void test_config_line(void **state)
{
	(void)state;
	assert_int_equal(kernel_config_line("CONFIG_PCI_P2PDMA=y\n"), 1);
	assert_int_equal(kernel_config_line("CONFIG_PCI_P2PDMA=y"), 1);
	assert_int_equal(kernel_config_line("# CONFIG_PCI_P2PDMA is not set\n"), 0);
	assert_int_equal(kernel_config_line("CONFIG_PCI_P2PDMA=n\n"), 0);
	assert_int_equal(kernel_config_line("CONFIG_PCI_P2PDMA=yes\n"), 0);
	assert_int_equal(kernel_config_line("CONFIG_PCI_P2PDMA_X=y\n"), -1);
	assert_int_equal(kernel_config_line("CONFIG_PCI=y\n"), -1);
	assert_int_equal(kernel_config_line("#CONFIG_PCI_P2PDMA is not set\n"), -1);
}

static void test_cmdline(void **state)
{
	(void)state;
	struct kernel_facts k;
	kernel_facts_unknown(&k);
	kernel_parse_cmdline("root=/dev/sda1 pci=noats,disable_acs_redir=0000:00:01.0;01:00.0,"
			     "realloc amd_iommu=off pci=disable_acs_redir=0000:40:01.0 "
			     "quiet -- iommu=pt",
			     &k);
	assert_string_equal(k.acs_redir, "0000:00:01.0;01:00.0;0000:40:01.0");
	assert_string_equal(k.iommu, "amd_iommu=off");
	assert_true(k.iommu_off);
	assert_false(k.iommu_passthrough); /* after "--": init's, not the kernel's */
	kernel_parse_cmdline("iommu.passthrough=1 foo=\"a b\" intel_iommu=on,sm_on", &k);
	assert_string_equal(k.acs_redir, "");
	assert_string_equal(k.iommu, "iommu.passthrough=1 intel_iommu=on,sm_on");
	assert_true(k.iommu_passthrough);
	assert_false(k.iommu_off);
	kernel_parse_cmdline("", &k);
	assert_true(k.cmdline_known);
	assert_string_equal(k.iommu, "");
}

/* The command line changes the ACS story: the IOMMU explains the redirect,
 * and an existing pci=disable_acs_redir= list is extended, not replaced. */
static void test_cmdline_in_verdicts(void **state)
{
	(void)state;
	struct world *w = test_calloc(1, sizeof(*w));
	assert_int_equal(fx_init(&w->fx), 0);
	const struct fx_func funcs[] = {
	    {"pci0000:00/0000:00:00.0", 0x8086, 0x1234, 0x060000, -1, -1, FX_CFG_256, -1, -1},
	    {"pci0000:00/0000:00:01.0", 0x8086, 0x347a, 0x060400, PCI_EXP_TYPE_ROOT_PORT,
	     PCI_ACS_RR | PCI_ACS_CR, FX_CFG_4096, 1, 1},
	    {"pci0000:00/0000:00:01.0/0000:01:00.0", 0x8086, 0x10d3, 0x020000,
	     PCI_EXP_TYPE_ENDPOINT, -1, FX_CFG_4096, -1, -1},
	    {"pci0000:00/0000:00:01.0/0000:01:00.1", 0x8086, 0x10d3, 0x020000,
	     PCI_EXP_TYPE_ENDPOINT, -1, FX_CFG_4096, -1, -1},
	};
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		fx_add(&w->fx, &funcs[i]);
	fx_cpu(&w->fx, "AuthenticAMD", 0x19);
	int fd = fx_rootfd(&w->fx);
	struct topo_opts o = {.no_gpu = true};
	assert_int_equal(topo_scan(fd, &o, &w->t), 0);
	close(fd);
	assert_int_equal(verdict_ctx_new(w->t, NULL, 0, NULL, 0, &w->ctx), 0);
	int p = topo_find(w->t, "01:00.0"), c = topo_find(w->t, "01:00.1");
	struct verdict v;
	struct kernel_facts k;
	kernel_facts_unknown(&k);
	kernel_parse_cmdline("amd_iommu=on", &k);
	verdict_ctx_set_kernel(w->ctx, &k);
	verdict_pair(w->ctx, p, c, &v);
	assert_int_equal(v.map, VERDICT_THRU_HOST_BRIDGE);
	assert_string_equal(v.fix_hint, "pci=disable_acs_redir=0000:00:01.0");
	bool iommu = false;
	for (int i = 0; i < v.nreasons; i++)
		iommu |= v.reasons[i].code == R_ACS_REDIRECT &&
			 strstr(v.reasons[i].message, "amd_iommu=on") != NULL;
	assert_true(iommu);

	kernel_parse_cmdline("pci=disable_acs_redir=0000:40:01.0", &k);
	verdict_ctx_set_kernel(w->ctx, &k);
	verdict_pair(w->ctx, p, c, &v);
	assert_string_equal(v.fix_hint, "pci=disable_acs_redir=0000:40:01.0;0000:00:01.0");

	/* Already listed (short form) yet redirecting: said so. */
	kernel_parse_cmdline("pci=disable_acs_redir=00:01.0", &k);
	verdict_ctx_set_kernel(w->ctx, &k);
	verdict_pair(w->ctx, p, c, &v);
	assert_string_equal(v.fix_hint, "pci=disable_acs_redir=00:01.0");
	bool after_boot = false;
	for (int i = 0; i < v.nreasons; i++)
		after_boot |= strstr(v.reasons[i].message, "after boot") != NULL;
	assert_true(after_boot);
	world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_release),
	    cmocka_unit_test(test_select),
	    cmocka_unit_test(test_tables),
	    cmocka_unit_test(test_flip_09a2),
	    cmocka_unit_test(test_flip_nvidia_google_intel),
	    cmocka_unit_test(test_flip_root_port_rule),
	    cmocka_unit_test(test_no_p2pdma),
	    cmocka_unit_test(test_config_line),
	    cmocka_unit_test(test_kernel_read),
	    cmocka_unit_test(test_cmdline),
	    cmocka_unit_test(test_cmdline_in_verdicts),
	};
	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
