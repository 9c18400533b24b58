/* SPDX-License-Identifier: MIT */
/*
 * test-report.c - core/report.c, the JSON documents p2pctl --json prints and
 * p2pd replies with: the exact report_check() text for representative
 * verdicts (p2p through one switch, refused for an ACS redirect with its fix
 * hint, the IOMMU on the kernel command line named in that reason, a
 * whitelisted host bridge, Zen, a kernel built without P2PDMA, an admin
 * override), so a dropped or reworded reason, a lost key or a changed value
 * fails; report_topo() and report_matrix() for one fixture.  The trees are
 * the committed fixtures (tests/fixtures/sysfs, or $P2P_SYSFS_FIXTURES).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernel.h"
#include "names.h"
#include "report.h"
#include "topo.h"
#include "verdict.h"

struct world {
	struct topo *t;
	struct verdict_ctx *ctx;
};

static struct world *world_new(const char *fixture, const char *cpu, const char *cmdline,
			       int p2pdma, const struct verdict_override *ovr, int n_ovr)
{
	const char *dir = getenv("P2P_SYSFS_FIXTURES");
	char root[512];
	struct world *w = test_calloc(1, sizeof(*w));

	snprintf(root, sizeof(root), "%s/%s", dir ? dir : "tests/fixtures/sysfs", fixture);
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct topo_opts o = {.cpu_override = cpu, .no_gpu = true, .read_mode = TOPO_READ_SNAPSHOT};
	assert_int_equal(topo_scan(fd, &o, &w->t), 0);
	close(fd);
	assert_int_equal(verdict_ctx_new(w->t, NULL, 0, ovr, n_ovr, &w->ctx), 0);
	struct kernel_facts k;
	kernel_facts_unknown(&k);
	if (cmdline) {
		k.cmdline_known = true;
		kernel_parse_cmdline(cmdline, &k);
	}
	k.p2pdma = p2pdma;
	verdict_ctx_set_kernel(w->ctx, &k);
	return w;
}

static void world_free(struct world *w)
{
	verdict_ctx_free(w->ctx);
	topo_free(w->t);
	test_free(w);
}

/* report_check() of @a -> @b as plain JSON text equals @want. */
static void check_text(struct world *w, const char *a, const char *b, const char *want)
{
	int p = topo_find(w->t, a), c = topo_find(w->t, b);
	assert_true(p >= 0 && c >= 0);
	struct verdict v;
	verdict_pair(w->ctx, p, c, &v);
	struct json_object *o = report_check(w->t, &v, p, c);
	assert_non_null(o);
	const char *got = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (strcmp(got, want))
		print_error("%s -> %s\n got: %s\nwant: %s\n", a, b, got, want);
	assert_string_equal(got, want);
	json_object_put(o);
}

/* p2p allowed through one switch: bus_addr, PIX, the common bridge named */
static void test_switch_bus_addr(void **state)
{
	(void)state;
	struct world *w = world_new("qemu-q35", NULL, NULL, -1, NULL, 0);

	check_text(
	    w, "0000:03:00.0", "0000:04:00.0",
	    "{\"provider\":\"0000:03:00.0\",\"client\":\"0000:04:00.0\","
	    "\"map_type\":\"bus_addr\",\"distance\":4,\"supported\":true,"
	    "\"kernel_map_type\":\"bus_addr\",\"kernel_distance\":4,\"path_length\":4,"
	    "\"class\":\"PIX\",\"bottleneck_gbps\":null,\"bottleneck\":null,"
	    "\"common_bridge\":\"0000:01:00.0\",\"path\":[\"0000:03:00.0\",\"0000:02:00.0\","
	    "\"0000:01:00.0\",\"0000:02:01.0\",\"0000:04:00.0\"],\"acs_redirect\":[],"
	    "\"fix_hint\":null,\"overridden\":false,\"reasons\":[{\"code\":\"common_bridge\","
	    "\"message\":\"common upstream bridge 0000:01:00.0 (switch-upstream),"
	    " 4 hops\"}],\"rules\":\"linux-7.3\",\"kernel_release\":null,"
	    "\"kernel_p2pdma\":null}");
	check_text(w, "0000:03:00.0", "0000:41:00.0",
		   "{\"provider\":\"0000:03:00.0\",\"client\":\"0000:41:00.0\","
		   "\"map_type\":\"not_supported\",\"distance\":-1,\"supported\":false,"
		   "\"kernel_map_type\":\"not_supported\",\"kernel_distance\":-1,"
		   "\"path_length\":6,\"class\":\"NODE\",\"bottleneck_gbps\":0.25,"
		   "\"bottleneck\":\"0000:01:00.0\",\"common_bridge\":null,"
		   "\"path\":[\"0000:03:00.0\",\"0000:02:00.0\",\"0000:01:00.0\",\"0000:00:1c.0\","
		   "\"0000:40:00.0\",\"0000:41:00.0\"],\"acs_redirect\":[],\"fix_hint\":null,"
		   "\"overridden\":false,\"reasons\":[{\"code\":\"no_common_bridge\","
		   "\"message\":\"no common upstream bridge: traffic must cross the host bridges"
		   " (pci0000:00 and pci0000:40)\"},"
		   "{\"code\":\"cpu_not_zen\",\"message\":\"CPU is AuthenticAMD family 0xf,"
		   " not AMD Zen: the host bridge must be whitelisted\"},"
		   "{\"code\":\"host_bridge_not_whitelisted\","
		   "\"message\":\"host bridge pci0000:00 (0000:00:00.0,"
		   " 8086:29c0) is not in the P2PDMA whitelist of linux-7.3\"},"
		   "{\"code\":\"host_bridge_not_whitelisted\","
		   "\"message\":\"host bridge pci0000:40 (0000:40:00.0,"
		   " 1b36:000c) is not in the P2PDMA whitelist of linux-7.3\"}],"
		   "\"rules\":\"linux-7.3\",\"kernel_release\":null,\"kernel_p2pdma\":null}");
	world_free(w);
}

/* refused for an ACS redirect on the root port above a two-function device, not
 * Zen: the redirect names the IOMMU switched on by the command line, the fix hint
 * names the port, the host bridge is not whitelisted */
static void test_acs_redirect_iommu(void **state)
{
	(void)state;
	struct world *w = world_new("qemu-q35-acs", NULL,
				    "BOOT_IMAGE=/vmlinuz root=/dev/vda intel_iommu=on", 1, NULL, 0);

	check_text(w, "0000:06:00.0", "0000:06:00.1",
		   "{\"provider\":\"0000:06:00.0\",\"client\":\"0000:06:00.1\","
		   "\"map_type\":\"not_supported\",\"distance\":-1,\"supported\":false,"
		   "\"kernel_map_type\":\"not_supported\",\"kernel_distance\":-1,"
		   "\"path_length\":2,\"class\":\"PHB\",\"bottleneck_gbps\":null,"
		   "\"bottleneck\":null,\"common_bridge\":\"0000:00:1c.1\","
		   "\"path\":[\"0000:06:00.0\",\"0000:00:1c.1\",\"0000:06:00.1\"],"
		   "\"acs_redirect\":[\"0000:00:1c.1\"],"
		   "\"fix_hint\":\"pci=disable_acs_redir=0000:00:1c.1\",\"overridden\":false,"
		   "\"reasons\":[{\"code\":\"common_bridge\","
		   "\"message\":\"common upstream bridge 0000:00:1c.1 (root-port), 2 hops\"},"
		   "{\"code\":\"acs_redirect\","
		   "\"message\":\"ACS redirect (RR\\/CR\\/EC) is set on 0000:00:1c.1: requests are"
		   " routed through the host bridge (the kernel command line enables the IOMMU"
		   " with 'intel_iommu=on': IOMMU drivers turn ACS redirection on at boot)\"},"
		   "{\"code\":\"cpu_not_zen\",\"message\":\"CPU is AuthenticAMD family 0xf,"
		   " not AMD Zen: the host bridge must be whitelisted\"},"
		   "{\"code\":\"host_bridge_not_whitelisted\","
		   "\"message\":\"host bridge pci0000:00 (0000:00:00.0,"
		   " 8086:29c0) is not in the P2PDMA whitelist of linux-7.3\"}],"
		   "\"rules\":\"linux-7.3\",\"kernel_release\":null,\"kernel_p2pdma\":true}");
	world_free(w);
}

/* the same pair on Zen: through the host bridge, the redirect still reported */
static void test_acs_redirect_zen(void **state)
{
	(void)state;
	struct world *w = world_new("qemu-q35-acs", "amd:0x17", NULL, -1, NULL, 0);

	check_text(w, "0000:06:00.0", "0000:06:00.1",
		   "{\"provider\":\"0000:06:00.0\",\"client\":\"0000:06:00.1\","
		   "\"map_type\":\"thru_host_bridge\",\"distance\":2,\"supported\":true,"
		   "\"kernel_map_type\":\"thru_host_bridge\",\"kernel_distance\":2,"
		   "\"path_length\":2,\"class\":\"PHB\",\"bottleneck_gbps\":null,"
		   "\"bottleneck\":null,\"common_bridge\":\"0000:00:1c.1\","
		   "\"path\":[\"0000:06:00.0\",\"0000:00:1c.1\",\"0000:06:00.1\"],"
		   "\"acs_redirect\":[\"0000:00:1c.1\"],"
		   "\"fix_hint\":\"pci=disable_acs_redir=0000:00:1c.1\",\"overridden\":false,"
		   "\"reasons\":[{\"code\":\"common_bridge\","
		   "\"message\":\"common upstream bridge 0000:00:1c.1 (root-port), 2 hops\"},"
		   "{\"code\":\"acs_redirect\","
		   "\"message\":\"ACS redirect (RR\\/CR\\/EC) is set on 0000:00:1c.1: requests are"
		   " routed through the host bridge\"},"
		   "{\"code\":\"cpu_zen\","
		   "\"message\":\"CPU is AMD family 0x17 (Zen or newer): the kernel allows p2p"
		   " through the host bridge\"}],"
		   "\"rules\":\"linux-7.3\",\"kernel_release\":null,\"kernel_p2pdma\":null}");
	world_free(w);
}

/* two whitelisted Skylake-SP host bridges: thru_host_bridge, each bridge
 * named with the table and commit that whitelists it, the bottleneck link */
static void test_host_bridge_whitelist(void **state)
{
	(void)state;
	struct world *w = world_new("skylake-wl", NULL, NULL, -1, NULL, 0);

	check_text(w, "0000:18:00.0", "0000:3b:00.0",
		   "{\"provider\":\"0000:18:00.0\",\"client\":\"0000:3b:00.0\","
		   "\"map_type\":\"thru_host_bridge\",\"distance\":4,\"supported\":true,"
		   "\"kernel_map_type\":\"thru_host_bridge\",\"kernel_distance\":4,"
		   "\"path_length\":4,\"class\":\"NODE\",\"bottleneck_gbps\":15.753846153846155,"
		   "\"bottleneck\":\"0000:18:00.0\",\"common_bridge\":null,"
		   "\"path\":[\"0000:18:00.0\",\"0000:17:00.0\",\"0000:3a:02.0\",\"0000:3b:00.0\"],"
		   "\"acs_redirect\":[],\"fix_hint\":null,\"overridden\":false,"
		   "\"reasons\":[{\"code\":\"no_common_bridge\","
		   "\"message\":\"no common upstream bridge: traffic must cross the host bridges"
		   " (pci0000:17 and pci0000:3a)\"},"
		   "{\"code\":\"cpu_not_zen\",\"message\":\"CPU is GenuineIntel family 0x6,"
		   " not AMD Zen: the host bridge must be whitelisted\"},"
		   "{\"code\":\"host_bridge_whitelisted\","
		   "\"message\":\"host bridge pci0000:17 (8086:2030) is whitelisted in linux-7.3"
		   " (v5.15 table (added before 5.15))\"},"
		   "{\"code\":\"host_bridge_whitelisted\","
		   "\"message\":\"host bridge pci0000:3a (8086:2032) is whitelisted in linux-7.3"
		   " (7b94b53db34f (before 5.15))\"}],"
		   "\"rules\":\"linux-7.3\",\"kernel_release\":null,\"kernel_p2pdma\":null}");
	world_free(w);
}

/* a kernel built without CONFIG_PCI_P2PDMA refuses even a same-switch pair,
 * and says so first */
static void test_kernel_without_p2pdma(void **state)
{
	(void)state;
	struct world *w = world_new("qemu-q35", NULL, NULL, 0, NULL, 0);

	check_text(w, "0000:03:00.0", "0000:04:00.0",
		   "{\"provider\":\"0000:03:00.0\",\"client\":\"0000:04:00.0\","
		   "\"map_type\":\"not_supported\",\"distance\":-1,\"supported\":false,"
		   "\"kernel_map_type\":\"not_supported\",\"kernel_distance\":-1,"
		   "\"path_length\":4,\"class\":\"PIX\",\"bottleneck_gbps\":null,"
		   "\"bottleneck\":null,\"common_bridge\":\"0000:01:00.0\","
		   "\"path\":[\"0000:03:00.0\",\"0000:02:00.0\",\"0000:01:00.0\",\"0000:02:01.0\","
		   "\"0000:04:00.0\"],\"acs_redirect\":[],\"fix_hint\":null,\"overridden\":false,"
		   "\"reasons\":[{\"code\":\"kernel_no_p2pdma\","
		   "\"message\":\"kernel (release unknown) was built without CONFIG_PCI_P2PDMA: it"
		   " does no PCIe peer-to-peer DMA at all (Debian's stock kernels are built so);"
		   " the facts below say what a kernel with it would decide\"},"
		   "{\"code\":\"common_bridge\","
		   "\"message\":\"common upstream bridge 0000:01:00.0 (switch-upstream),"
		   " 4 hops\"}],\"rules\":\"linux-7.3\",\"kernel_release\":null,"
		   "\"kernel_p2pdma\":false}");
	world_free(w);
}

/* admin overrides: an allow on a refused pair and a deny on a bus_addr pair;
 * the kernel's own answer stays in kernel_map_type/kernel_distance */
static void test_overrides(void **state)
{
	(void)state;
	struct verdict_override ov[2] = {
	    {.a = "0000:41:00.0", .b = "0000:03:00.0", .allow = true, .why = "lab rig, tested"},
	    {.a = "0000:03:00.0", .b = "0000:05:00.0", .allow = false, .why = "keep apart"},
	};
	struct world *w = world_new("qemu-q35", NULL, NULL, -1, ov, 2);

	check_text(w, "0000:03:00.0", "0000:41:00.0",
		   "{\"provider\":\"0000:03:00.0\",\"client\":\"0000:41:00.0\","
		   "\"map_type\":\"thru_host_bridge\",\"distance\":6,\"supported\":true,"
		   "\"kernel_map_type\":\"not_supported\",\"kernel_distance\":-1,"
		   "\"path_length\":6,\"class\":\"NODE\",\"bottleneck_gbps\":0.25,"
		   "\"bottleneck\":\"0000:01:00.0\",\"common_bridge\":null,"
		   "\"path\":[\"0000:03:00.0\",\"0000:02:00.0\",\"0000:01:00.0\",\"0000:00:1c.0\","
		   "\"0000:40:00.0\",\"0000:41:00.0\"],\"acs_redirect\":[],\"fix_hint\":null,"
		   "\"overridden\":true,\"reasons\":[{\"code\":\"no_common_bridge\","
		   "\"message\":\"no common upstream bridge: traffic must cross the host bridges"
		   " (pci0000:00 and pci0000:40)\"},"
		   "{\"code\":\"cpu_not_zen\",\"message\":\"CPU is AuthenticAMD family 0xf,"
		   " not AMD Zen: the host bridge must be whitelisted\"},"
		   "{\"code\":\"host_bridge_not_whitelisted\","
		   "\"message\":\"host bridge pci0000:00 (0000:00:00.0,"
		   " 8086:29c0) is not in the P2PDMA whitelist of linux-7.3\"},"
		   "{\"code\":\"host_bridge_not_whitelisted\","
		   "\"message\":\"host bridge pci0000:40 (0000:40:00.0,"
		   " 1b36:000c) is not in the P2PDMA whitelist of linux-7.3\"},"
		   "{\"code\":\"policy_allow\","
		   "\"message\":\"allowed by an admin override: lab rig,"
		   " tested (the kernel's own check still applies to importers)\"}],"
		   "\"rules\":\"linux-7.3\",\"kernel_release\":null,\"kernel_p2pdma\":null}");
	check_text(w, "0000:05:00.0", "0000:03:00.0",
		   "{\"provider\":\"0000:05:00.0\",\"client\":\"0000:03:00.0\","
		   "\"map_type\":\"not_supported\",\"distance\":-1,\"supported\":false,"
		   "\"kernel_map_type\":\"bus_addr\",\"kernel_distance\":4,\"path_length\":4,"
		   "\"class\":\"PIX\",\"bottleneck_gbps\":0.25,\"bottleneck\":\"0000:05:00.0\","
		   "\"common_bridge\":\"0000:01:00.0\",\"path\":[\"0000:05:00.0\",\"0000:02:02.0\","
		   "\"0000:01:00.0\",\"0000:02:00.0\",\"0000:03:00.0\"],\"acs_redirect\":[],"
		   "\"fix_hint\":null,\"overridden\":true,\"reasons\":[{\"code\":\"common_bridge\","
		   "\"message\":\"common upstream bridge 0000:01:00.0 (switch-upstream),"
		   " 4 hops\"},{\"code\":\"policy_deny\","
		   "\"message\":\"denied by an admin override: keep apart\"}],"
		   "\"rules\":\"linux-7.3\",\"kernel_release\":null,\"kernel_p2pdma\":null}");
	world_free(w);
}

/* @arr's element whose "bdf" is @bdf, as plain JSON text ("" none). */
static const char *find_bdf(struct json_object *arr, const char *bdf)
{
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		struct json_object *d = json_object_array_get_idx(arr, i), *b;
		if (json_object_object_get_ex(d, "bdf", &b) &&
		    !strcmp(json_object_get_string(b), bdf))
			return json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN);
	}
	return "";
}

/* report_topo(): one device exactly (a root port with ACS), the kernel keys
 * say "unknown" until report_kernel() fills them. */
static void test_topo_device(void **state)
{
	(void)state;
	struct world *w = world_new("qemu-q35", NULL, NULL, -1, NULL, 0);
	struct json_object *o = report_topo(w->t), *devs, *x;

	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "devices", &devs));
	assert_int_equal(json_object_array_length(devs), w->t->nfuncs);
	assert_string_equal(
	    find_bdf(devs, "0000:00:1c.1"),
	    "{\"bdf\":\"0000:00:1c.1\",\"parent\":null,\"host_bridge\":\"pci0000:00\","
	    "\"depth\":0,\"vendor\":\"0x1b36\",\"device\":\"0x000c\","
	    "\"subsystem_vendor\":\"0x0000\",\"subsystem_device\":\"0x0000\","
	    "\"class\":\"0x060400\",\"class_name\":\"PCI bridge\",\"kind\":\"root-port\","
	    "\"pcie_type\":\"root-port\",\"numa_node\":-1,\"local_cpus\":null,"
	    "\"driver\":null,\"iommu_group\":null,\"config_size\":4096,"
	    "\"link\":{\"speed_gts\":2.5,\"width\":1,\"max_speed_gts\":2.5,\"max_width\":1,"
	    "\"gbps\":0.25},\"acs\":{\"state\":\"present\",\"cap\":\"0x001f\",\"ctrl\":\"0x0000\","
	    "\"redirect\":false},\"secondary_bus\":6,\"subordinate_bus\":6,\"bars\":[],"
	    "\"gpu_nodes\":[],\"p2p_relevant\":false,\"in_bus_list\":true,\"in_tree\":true}");
	assert_true(json_object_object_get_ex(o, "kernel_release", &x) && !x);
	assert_true(json_object_object_get_ex(o, "rules_fit", &x));
	assert_string_equal(json_object_get_string(x), "no_release");
	json_object_put(o);
	world_free(w);
}

/* report_matrix(): the p2p-relevant endpoints and one row exactly. */
static void test_matrix(void **state)
{
	(void)state;
	struct world *w = world_new("qemu-q35", NULL, NULL, -1, NULL, 0);
	struct json_object *o = report_matrix(w->t, w->ctx, false), *x;

	assert_non_null(o);
	assert_int_equal(report_matrix_count(w->t, false), 9);
	assert_true(json_object_object_get_ex(o, "devices", &x));
	assert_string_equal(json_object_to_json_string_ext(x, JSON_C_TO_STRING_PLAIN),
			    "[\"0000:00:01.0\",\"0000:00:02.0\",\"0000:00:1f.2\",\"0000:03:00.0\","
			    "\"0000:04:00.0\",\"0000:05:00.0\",\"0000:06:00.0\",\"0000:06:00.1\","
			    "\"0000:41:00.0\"]");
	assert_true(json_object_object_get_ex(o, "rows", &x));
	assert_string_equal(
	    find_bdf(x, "0000:03:00.0"),
	    "{\"bdf\":\"0000:03:00.0\",\"cells\":[{\"map_type\":\"not_supported\","
	    "\"distance\":-1,\"class\":\"PHB\"},{\"map_type\":\"not_supported\","
	    "\"distance\":-1,\"class\":\"PHB\"},{\"map_type\":\"not_supported\","
	    "\"distance\":-1,\"class\":\"PHB\"},{\"map_type\":\"bus_addr\",\"distance\":0,"
	    "\"class\":\"X\"},{\"map_type\":\"bus_addr\",\"distance\":4,\"class\":\"PIX\"},"
	    "{\"map_type\":\"bus_addr\",\"distance\":4,\"class\":\"PIX\"},"
	    "{\"map_type\":\"not_supported\",\"distance\":-1,\"class\":\"PHB\"},"
	    "{\"map_type\":\"not_supported\",\"distance\":-1,\"class\":\"PHB\"},"
	    "{\"map_type\":\"not_supported\",\"distance\":-1,\"class\":\"NODE\"}]}");
	json_object_put(o);

	char msg[200];
	report_matrix_too_big(513, msg, sizeof(msg));
	assert_string_equal(msg, "a matrix over 513 devices is too large to build (limit 512); "
				 "ask for pairs with 'check A B', or leave out --all");
	world_free(w);
}

/* One device's "class_name" in @doc. */
static const char *class_of(struct json_object *doc, const char *bdf)
{
	struct json_object *devs, *x;

	assert_true(json_object_object_get_ex(doc, "devices", &devs));
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		struct json_object *d = json_object_array_get_idx(devs, i);
		if (json_object_object_get_ex(d, "bdf", &x) &&
		    !strcmp(json_object_get_string(x), bdf))
			return json_object_object_get_ex(d, "class_name", &x)
				   ? json_object_get_string(x)
				   : NULL;
	}
	return NULL;
}

/*
 * "class_name" and p2pctl -v come from one place: with libpci's lookup
 * installed (as p2pctl does for --json and -v) the JSON says what lspci
 * says; without it, the short categories.  A document from elsewhere (p2pd)
 * is renamed the same way.
 */
static void test_class_names(void **state)
{
	(void)state;
	struct world *w = world_new("qemu-q35", NULL, NULL, -1, NULL, 0);
	char buf[128];
	struct json_object *o = report_topo(w->t), *devs, *d;

	assert_string_equal(class_of(o, "0000:00:02.0"), "memory");
	assert_string_equal(class_of(o, "0000:41:00.0"), "NVMe");
	report_set_class_names(names_class);
	json_object_put(o);
	o = report_topo(w->t);
	assert_string_equal(class_of(o, "0000:00:02.0"), "RAM memory");
	assert_string_equal(class_of(o, "0000:00:02.0"), names_class(buf, sizeof(buf), 0x050000));
	assert_string_equal(class_of(o, "0000:41:00.0"), "Non-Volatile memory controller");
	assert_string_equal(class_of(o, "0000:00:1c.0"), "PCI bridge");
	/* a class pci.ids does not know reads as lspci prints it */
	assert_string_equal(names_class(buf, sizeof(buf), 0xee0000), "Class ee00");

	/* a document built with the categories (p2pd's) gets the names in force */
	report_set_class_names(NULL);
	json_object_put(o);
	o = report_topo(w->t);
	assert_true(json_object_object_get_ex(o, "devices", &devs));
	d = json_object_array_get_idx(devs, 0);
	json_object_object_add(d, "class", json_object_new_string("0xee0000"));
	d = json_object_array_get_idx(devs, 1);
	json_object_object_add(d, "class", json_object_new_string("bogus"));
	report_set_class_names(names_class);
	report_topo_class_names(o);
	assert_string_equal(class_of(o, "0000:41:00.0"), "Non-Volatile memory controller");
	assert_string_equal(json_object_get_string(json_object_object_get(
				json_object_array_get_idx(devs, 0), "class_name")),
			    "Class ee00");
	assert_string_equal(json_object_get_string(json_object_object_get(
				json_object_array_get_idx(devs, 1), "class_name")),
			    "unknown");
	report_set_class_names(NULL);
	report_topo_class_names(o);
	assert_string_equal(class_of(o, "0000:41:00.0"), "NVMe");
	json_object_put(o);
	names_free();
	world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_switch_bus_addr),
	    cmocka_unit_test(test_acs_redirect_iommu),
	    cmocka_unit_test(test_acs_redirect_zen),
	    cmocka_unit_test(test_host_bridge_whitelist),
	    cmocka_unit_test(test_kernel_without_p2pdma),
	    cmocka_unit_test(test_overrides),
	    cmocka_unit_test(test_topo_device),
	    cmocka_unit_test(test_matrix),
	    cmocka_unit_test(test_class_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
