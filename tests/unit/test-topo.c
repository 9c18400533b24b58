// SPDX-License-Identifier: MIT
/*
 * test-topo.c - topology discovery on built trees, one quirk of real sysfs
 * snapshots at a time, and the snapshot writer read back through --fsroot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Fixture tables list the leading fields positionally; the rest default. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "helper-fixture.h"
#include "report.h"
#include "snapshot.h"
#include "topo.h"

#define EP PCI_EXP_TYPE_ENDPOINT

static struct topo *scan(struct fx *fx)
{
	int fd = fx_rootfd(fx);
	struct topo *t = NULL;
	struct topo_opts o = {.no_gpu = true};
	assert_int_equal(topo_scan(fd, &o, &t), 0);
	close(fd);
	return t;
}

static const struct topo_func *func(const struct topo *t, const char *bdf)
{
	int i = topo_find(t, bdf);
	if (i < 0)
		fail_msg("%s not found", bdf);
	return &t->funcs[i];
}

static const char *parent_of(const struct topo *t, const char *bdf)
{
	const struct topo_func *f = func(t, bdf);
	return f->parent >= 0 ? t->funcs[f->parent].bdf : "-";
}

static bool warned(const struct topo *t, const char *needle)
{
	for (int i = 0; i < t->nwarnings; i++)
		if (strstr(t->warnings[i], needle))
			return true;
	return false;
}

static void base_tree(struct fx *fx)
{
	const struct fx_func funcs[] = {
	    {"pci0000:00/0000:00:00.0", 0x8086, 0x2020, 0x060000, -1, -1, FX_CFG_256, -1, -1},
	    {"pci0000:00/0000:00:01.0", 0x8086, 0x2030, 0x060400, PCI_EXP_TYPE_ROOT_PORT, 0x5d,
	     FX_CFG_4096, 1, 3, false, false, 0, "pcieport", 16.0, 16},
	    {"pci0000:00/0000:00:01.0/0000:01:00.0", 0x10b5, 0x8747, 0x060400,
	     PCI_EXP_TYPE_UPSTREAM, -1, FX_CFG_4096, 2, 3, false, false, 0, "pcieport", 8.0, 16},
	    {"pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:08.0", 0x10b5, 0x8747, 0x060400,
	     PCI_EXP_TYPE_DOWNSTREAM, 0, FX_CFG_4096, 3, 3},
	    {"pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:08.0/0000:03:00.0", 0x10de, 0x2330,
	     0x030200, EP, -1, FX_CFG_4096, -1, -1, false, false, 0, "nvidia", 16.0, 16},
	};
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		fx_add(fx, &funcs[i]);
	fx_cpu(fx, "AuthenticAMD", 25);
}

static void test_basic_tree(void **state)
{
	(void)state;
	struct fx fx;
	assert_int_equal(fx_init(&fx), 0);
	base_tree(&fx);
	struct topo *t = scan(&fx);
	assert_int_equal(t->nfuncs, 5);
	assert_int_equal(t->nhbs, 1);
	assert_string_equal(t->hbs[0].name, "pci0000:00");
	assert_int_equal(t->hbs[0].hbdev, topo_find(t, "00:00.0"));
	assert_string_equal(parent_of(t, "0000:03:00.0"), "0000:02:08.0");
	assert_string_equal(parent_of(t, "0000:02:08.0"), "0000:01:00.0");
	assert_string_equal(parent_of(t, "0000:00:01.0"), "-");
	const struct topo_func *gpu = func(t, "03:00.0");
	assert_int_equal(gpu->vendor, 0x10de);
	assert_int_equal(gpu->device, 0x2330);
	assert_int_equal(gpu->class_code, 0x030200);
	assert_int_equal(gpu->depth, 3);
	assert_string_equal(gpu->driver, "nvidia"); /* dangling link: name from the target */
	assert_int_equal(gpu->cur_width, 16);
	assert_true(gpu->cur_speed_gts == 16.0);
	assert_true(topo_is_p2p_relevant(gpu));
	assert_int_equal(gpu->bars[0].start, 0xfe000000);
	assert_int_equal(gpu->bars[0].end, 0xfe3fffff);
	const struct topo_func *rp = func(t, "00:01.0");
	assert_int_equal(rp->kind, TOPO_KIND_ROOT_PORT);
	assert_int_equal(rp->acs, TOPO_ACS_PRESENT);
	assert_int_equal(rp->acs_ctrl, 0x5d);
	assert_true(rp->acs_redir); /* 0x5d has RR (0x4) and CR (0x8) */
	assert_int_equal(rp->sec_bus, 1);
	assert_int_equal(rp->sub_bus, 3);
	assert_int_equal(func(t, "01:00.0")->kind, TOPO_KIND_SWITCH_UP);
	assert_int_equal(func(t, "02:08.0")->kind, TOPO_KIND_SWITCH_DOWN);
	assert_false(func(t, "02:08.0")->acs_redir);
	assert_int_equal(func(t, "00:00.0")->kind, TOPO_KIND_HOST_BRIDGE);
	assert_int_equal(func(t, "00:00.0")->acs, TOPO_ACS_ABSENT); /* 256-byte conventional */
	assert_int_equal(t->cpu.vendor, TOPO_CPU_AMD);
	assert_int_equal(t->cpu.family, 25);
	assert_int_equal(t->nwarnings, 0);
	assert_int_equal(topo_find(t, "0000:09:00.0"), -1);
	topo_free(t);
	fx_fini(&fx);
}

static void test_short_config(void **state)
{
	(void)state;
	struct fx fx;
	assert_int_equal(fx_init(&fx), 0);
	/* Gathered as non-root: 64 bytes, no port types, no ACS. */
	const struct fx_func funcs[] = {
	    {"pci0000:00/0000:00:03.0", 0x8086, 0x2032, 0x060400, PCI_EXP_TYPE_ROOT_PORT, 0x1d,
	     FX_CFG_64, 1, 2},
	    {"pci0000:00/0000:00:03.0/0000:01:00.0", 0x10b5, 0x8747, 0x060400,
	     PCI_EXP_TYPE_UPSTREAM, -1, FX_CFG_64, 2, 2},
	    {"pci0000:00/0000:00:03.0/0000:01:00.0/0000:02:00.0", 0x10b5, 0x8747, 0x060400,
	     PCI_EXP_TYPE_DOWNSTREAM, -1, FX_CFG_64, -1, -1},
	    {"pci0000:00/0000:00:03.0/0000:01:00.0/0000:02:00.0/0000:03:00.0", 0x144d, 0xa808,
	     0x010802, EP, -1, FX_CFG_NONE, -1, -1},
	};
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		fx_add(&fx, &funcs[i]);
	struct topo *t = scan(&fx);
	const struct topo_func *rp = func(t, "00:03.0");
	assert_int_equal(rp->acs, TOPO_ACS_UNKNOWN);
	assert_false(rp->acs_redir); /* the control word is not readable */
	assert_int_equal(rp->pcie_type, -1);
	assert_int_equal(rp->cfg_size, 64);
	/* Kinds inferred from position; the root port is the hb device. */
	assert_int_equal(rp->kind, TOPO_KIND_ROOT_PORT);
	assert_int_equal(func(t, "01:00.0")->kind, TOPO_KIND_SWITCH_UP);
	assert_int_equal(func(t, "02:00.0")->kind, TOPO_KIND_SWITCH_DOWN);
	assert_int_equal(t->hbs[0].hbdev, topo_find(t, "00:03.0"));
	assert_true(warned(t, "taken as a root port"));
	/* A function with no config file at all still has its sysfs facts. */
	assert_int_equal(func(t, "03:00.0")->cfg_size, 0);
	assert_int_equal(func(t, "03:00.0")->class_code, 0x010802);
	/* Bus range from config bytes when the files are missing? (here: files) */
	assert_int_equal(func(t, "01:00.0")->sec_bus, 2);
	topo_free(t);
	fx_fini(&fx);
}

static void test_bus_list_quirks(void **state)
{
	(void)state;
	struct fx fx;
	assert_int_equal(fx_init(&fx), 0);
	base_tree(&fx);
	/* In the tree, missing from bus/pci/devices. */
	const struct fx_func hidden = {"pci0000:00/0000:00:02.0",
				       0x8086,
				       0x1533,
				       0x020000,
				       EP,
				       -1,
				       FX_CFG_4096,
				       -1,
				       -1,
				       false,
				       true,
				       -1};
	fx_add(&fx, &hidden);
	/* In bus/pci/devices with a trailing slash. */
	fx_symlink(&fx, "../../../devices/pci0000:00/0000:00:01.0/",
		   "sys/bus/pci/devices/0000:00:01.0");
	/* In bus/pci/devices, target missing from the tree: no facts, skipped. */
	fx_symlink(
	    &fx, "../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:08.0/0000:03:00.1",
	    "sys/bus/pci/devices/0000:03:00.1");
	/* Target outside the tree walk (an uncaptured part): parent from the path. */
	fx_write(&fx, "sys/devices/elsewhere/0000:03:00.2/vendor", "0x10de\n", 7);
	fx_symlink(&fx, "../../../devices/elsewhere/0000:03:00.2/",
		   "sys/bus/pci/devices/0000:03:00.2");
	/* A plain directory (a copied tree): parent from bus ranges. */
	fx_write(&fx, "sys/bus/pci/devices/0000:02:10.0/vendor", "0x10b5\n", 7);
	fx_write(&fx, "sys/bus/pci/devices/0000:02:10.0/device", "0x8747\n", 7);
	fx_write(&fx, "sys/bus/pci/devices/0000:02:10.0/class", "0x060400\n", 9);
	/* Garbage names are ignored with a warning. */
	fx_write(&fx, "sys/bus/pci/devices/not-a-bdf/vendor", "0x1\n", 4);
	/* Dangling firmware_node symlink and a plain-file "driver". */
	fx_symlink(&fx, "../../../../LNXSYSTM:00/missing",
		   "sys/devices/pci0000:00/0000:00:02.0/firmware_node");
	struct topo *t = scan(&fx);
	assert_int_equal(t->nfuncs, 8);
	assert_int_equal(topo_find(t, "03:00.1"), -1);
	assert_true(warned(t, "0000:03:00.1: bus/pci/devices link is dangling"));
	assert_int_equal(func(t, "03:00.2")->vendor, 0x10de);
	assert_true(warned(t, "0000:03:00.2: missing from the device tree"));
	assert_string_equal(parent_of(t, "03:00.2"), "0000:02:08.0");
	assert_int_equal(t->nhbs, 1); /* no phantom pci0000:03 */
	assert_false(func(t, "00:02.0")->in_bus_list);
	assert_true(func(t, "00:02.0")->in_tree);
	assert_int_equal(func(t, "00:02.0")->numa_node, -1);
	assert_true(func(t, "00:01.0")->in_bus_list);
	assert_string_equal(parent_of(t, "02:10.0"), "0000:01:00.0");
	assert_int_equal(func(t, "02:10.0")->vendor, 0x10b5);
	assert_true(warned(t, "0000:02:10.0: bus/pci/devices entry is a plain directory"));
	assert_true(warned(t, "not-a-bdf"));
	topo_free(t);
	fx_fini(&fx);
}

static void test_bad_bus_ranges_and_domains(void **state)
{
	(void)state;
	struct fx fx;
	assert_int_equal(fx_init(&fx), 0);
	const struct fx_func funcs[] = {
	    /* secondary < own bus: invalid, ignored */
	    {"pci0000:00/0000:00:01.0", 0x8086, 0x2030, 0x060400, PCI_EXP_TYPE_ROOT_PORT, -1,
	     FX_CFG_4096, 0, 0},
	    /* bus-range files missing: taken from config bytes 0x19/0x1a */
	    {"pci0000:00/0000:00:02.0", 0x8086, 0x2031, 0x060400, PCI_EXP_TYPE_ROOT_PORT, -1,
	     FX_CFG_4096, 5, 7, true},
	    /* VMD-style 32-bit domain under its own root bus */
	    {"pci0000:00/0000:00:0e.0", 0x8086, 0x467f, 0x010400, EP, -1, FX_CFG_4096, -1, -1},
	    {"pci0000:00/0000:00:0e.0/pci10000:e0/10000:e0:06.0", 0x8086, 0x464d, 0x060400,
	     PCI_EXP_TYPE_ROOT_PORT, -1, FX_CFG_4096, 0xe1, 0xe1},
	    {"pci0000:00/0000:00:0e.0/pci10000:e0/10000:e0:06.0/10000:e1:00.0", 0x144d, 0xa80a,
	     0x010802, EP, -1, FX_CFG_4096, -1, -1},
	};
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		fx_add(&fx, &funcs[i]);
	struct topo *t = scan(&fx);
	assert_int_equal(func(t, "00:01.0")->sec_bus, -1);
	assert_true(warned(t, "0000:00:01.0: invalid bridge bus range"));
	assert_int_equal(func(t, "00:02.0")->sec_bus, 5);
	assert_int_equal(func(t, "00:02.0")->sub_bus, 7);
	const struct topo_func *nv = func(t, "10000:e1:00.0");
	assert_string_equal(nv->bdf, "10000:e1:00.0");
	assert_int_equal(nv->domain, 0x10000);
	assert_string_equal(parent_of(t, "10000:e1:00.0"), "10000:e0:06.0");
	assert_string_equal(parent_of(t, "10000:e0:06.0"), "-"); /* own root bus */
	assert_string_equal(t->hbs[nv->hb].name, "pci10000:e0");
	assert_int_equal(t->nhbs, 2);
	topo_free(t);
	fx_fini(&fx);
}

static void test_errors_and_parsers(void **state)
{
	(void)state;
	struct fx fx;
	assert_int_equal(fx_init(&fx), 0);
	int fd = fx_rootfd(&fx);
	struct topo *t = NULL;
	assert_int_equal(topo_scan(fd, NULL, &t), -ENOENT); /* empty tree */
	struct topo_opts o = {.cpu_override = "via:6", .no_gpu = true};
	base_tree(&fx);
	assert_int_equal(topo_scan(fd, &o, &t), -EINVAL);
	o.cpu_override = "intel:6";
	assert_int_equal(topo_scan(fd, &o, &t), 0);
	assert_int_equal(t->cpu.vendor, TOPO_CPU_INTEL);
	assert_true(t->cpu.from_override);
	topo_free(t);
	close(fd);
	fx_fini(&fx);

	uint32_t d;
	uint8_t b, v, f;
	assert_int_equal(topo_parse_bdf("0000:03:00.0", &d, &b, &v, &f), 0);
	assert_int_equal(b, 3);
	assert_int_equal(topo_parse_bdf("03:1f.7", &d, &b, &v, &f), 0);
	assert_int_equal(d, 0);
	assert_int_equal(v, 0x1f);
	assert_int_equal(f, 7);
	assert_int_equal(topo_parse_bdf("10000:e1:00.0", &d, &b, &v, &f), 0);
	assert_int_equal(d, 0x10000);
	const char *bad[] = {"",
			     "03:00",
			     "03:20.0",
			     "03:00.8",
			     "0000:03:00.0x",
			     "g0:00.0",
			     "123456789:00:00.0",
			     "0000:100:00.0",
			     ":00:00.0",
			     "0000:03:00.0/",
			     NULL};
	for (int i = 0; bad[i]; i++)
		if (topo_parse_bdf(bad[i], &d, &b, &v, &f) != -EINVAL)
			fail_msg("accepted bad BDF '%s'", bad[i]);
	assert_int_equal(topo_parse_bdf(NULL, &d, &b, &v, &f), -EINVAL);
	struct topo_cpu c;
	assert_int_equal(topo_parse_cpu("amd:0x17", &c), 0);
	assert_int_equal(c.family, 0x17);
	assert_int_equal(topo_parse_cpu("AuthenticAMD:25", &c), 0);
	assert_int_equal(c.vendor, TOPO_CPU_AMD);
	assert_int_equal(topo_parse_cpu("amd", &c), -EINVAL);
	assert_int_equal(topo_parse_cpu("amd:-1", &c), -EINVAL);
	assert_int_equal(topo_parse_cpu("amd:zen", &c), -EINVAL);
	/* Link math: 16 GT/s x16 = 31.5 GB/s; 2.5 GT/s x1 = 0.25 GB/s. */
	assert_true(topo_link_gbps(16.0, 16) > 31.4 && topo_link_gbps(16.0, 16) < 31.6);
	assert_true(topo_link_gbps(2.5, 1) > 0.249 && topo_link_gbps(2.5, 1) < 0.251);
	assert_true(topo_link_gbps(0, 4) == 0);
}

static void test_garbage_attributes(void **state)
{
	(void)state;
	struct fx fx;
	assert_int_equal(fx_init(&fx), 0);
	base_tree(&fx);
	const char *dir =
	    "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:08.0/0000:03:00.0";
	char p[512];
	snprintf(p, sizeof(p), "%s/vendor", dir);
	fx_write(&fx, p, "0xzz\n", 5);
	snprintf(p, sizeof(p), "%s/numa_node", dir);
	fx_write(&fx, p, "99999999999999999999\n", 21);
	snprintf(p, sizeof(p), "%s/current_link_width", dir);
	fx_write(&fx, p, "-4\n", 3);
	snprintf(p, sizeof(p), "%s/current_link_speed", dir);
	fx_write(&fx, p, "Unknown\n", 8);
	snprintf(p, sizeof(p), "%s/resource", dir);
	fx_write(&fx, p, "garbage\n0x10 0x1\n", 17);
	snprintf(p, sizeof(p), "%s/config", dir);
	uint8_t ones[64];
	memset(ones, 0xff, sizeof(ones));
	fx_write(&fx, p, ones, sizeof(ones));
	fx_write(&fx, "proc/cpuinfo", "vendor_id : Whatever\n", 21);
	/* FIFOs where files should be: must not block the scan. */
	char fifo[600];
	snprintf(fifo, sizeof(fifo), "%s/%s/numa_node", fx.root, dir);
	unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	snprintf(fifo, sizeof(fifo), "%s/sys/devices/pci0000:00/0000:00:01.0/config", fx.root);
	unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	struct topo *t = scan(&fx);
	const struct topo_func *g = func(t, "03:00.0");
	assert_int_equal(g->vendor, 0);
	assert_int_equal(g->numa_node, -1);
	assert_int_equal(g->cur_width, 0);
	assert_true(g->cur_speed_gts == 0);
	assert_int_equal(g->bars[0].end, 0);
	assert_int_equal(g->bars[1].end, 0); /* end < start rejected */
	assert_int_equal(g->acs, TOPO_ACS_UNKNOWN);
	assert_int_equal(t->cpu.vendor, TOPO_CPU_OTHER);
	assert_int_equal(func(t, "00:01.0")->cfg_size, 0);
	assert_int_equal(func(t, "00:01.0")->vendor, 0x8086); /* from the files instead */
	topo_free(t);
	fx_fini(&fx);
}

static void test_snapshot_roundtrip(void **state)
{
	(void)state;
	struct fx fx;
	assert_int_equal(fx_init(&fx), 0);
	base_tree(&fx);
	fx_write(&fx,
		 "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:08.0/0000:03:00.0/drm/"
		 "card1/dev",
		 "226:1\n", 6);
	fx_symlink(&fx,
		   "../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:08.0/0000:03:00.0/"
		   "drm/card1",
		   "sys/class/drm/card1");
	char tarpath[300], out[300], cmd[800];
	snprintf(tarpath, sizeof(tarpath), "%s.tar", fx.root);
	snprintf(out, sizeof(out), "%s-out", fx.root);
	int rootfd = fx_rootfd(&fx);
	int tfd = open(tarpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(tfd >= 0);
	char err[256] = "";
	struct snapshot_stats st;
	assert_int_equal(snapshot_write(rootfd, tfd, &st, err, sizeof(err)), 0);
	close(tfd);
	close(rootfd);
	assert_true(st.files > 20);
	assert_true(st.links >= 5);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && tar xf '%s' -C '%s'", out, tarpath, out);
	assert_int_equal(system(cmd), 0);

	struct fx back;
	snprintf(back.root, sizeof(back.root), "%s", out);
	int fd = fx_rootfd(&back);
	struct topo *t = NULL;
	struct topo_opts o = {.no_gpu = false};
	assert_int_equal(topo_scan(fd, &o, &t), 0);
	close(fd);
	struct topo *orig = scan(&fx);
	assert_int_equal(t->nfuncs, orig->nfuncs);
	for (int i = 0; i < t->nfuncs; i++) {
		assert_string_equal(t->funcs[i].bdf, orig->funcs[i].bdf);
		assert_int_equal(t->funcs[i].parent, orig->funcs[i].parent);
		assert_int_equal(t->funcs[i].acs_ctrl, orig->funcs[i].acs_ctrl);
		assert_int_equal(t->funcs[i].cfg_size, orig->funcs[i].cfg_size);
		assert_string_equal(t->funcs[i].driver, orig->funcs[i].driver);
	}
	assert_int_equal(t->cpu.family, 25);
	/* The DRM class link came along and maps to the GPU (snapshot mode). */
	assert_string_equal(func(t, "03:00.0")->gpu_nodes, "card1");
	/* JSON report keeps the stable field names. */
	struct json_object *j = report_topo(t);
	struct json_object *devs, *d0, *v;
	assert_true(json_object_object_get_ex(j, "devices", &devs));
	d0 = json_object_array_get_idx(devs, (size_t)topo_find(t, "03:00.0"));
	assert_true(json_object_object_get_ex(d0, "parent", &v));
	assert_string_equal(json_object_get_string(v), "0000:02:08.0");
	assert_true(json_object_object_get_ex(d0, "host_bridge", &v));
	assert_string_equal(json_object_get_string(v), "pci0000:00");
	assert_true(json_object_object_get_ex(d0, "vendor", &v));
	assert_string_equal(json_object_get_string(v), "0x10de");
	assert_true(json_object_object_get_ex(d0, "class", &v));
	assert_string_equal(json_object_get_string(v), "0x030200");
	assert_true(json_object_object_get_ex(d0, "numa_node", &v));
	assert_int_equal(json_object_get_int(v), 0);
	json_object_put(j);
	topo_free(t);
	topo_free(orig);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", out, tarpath);
	assert_int_equal(system(cmd), 0);
	fx_fini(&fx);
}

/* Gathered as non-root (64-byte config, no port types): a switch below a
 * switch.  The kinds follow from position all the way down: below a root port
 * or a switch downstream port sits a switch upstream port, below that its
 * downstream ports. */
static void test_short_config_cascade(void **state)
{
	(void)state;
	struct fx fx;
	assert_int_equal(fx_init(&fx), 0);
	const struct fx_func funcs[] = {
	    {"pci0000:00/0000:00:00.0", 0x8086, 0x2020, 0x060000, -1, -1, FX_CFG_64, -1, -1},
	    {"pci0000:00/0000:00:03.0", 0x8086, 0x2032, 0x060400, PCI_EXP_TYPE_ROOT_PORT, -1,
	     FX_CFG_64, 1, 6},
	    {"pci0000:00/0000:00:03.0/0000:01:00.0", 0x10b5, 0x8747, 0x060400,
	     PCI_EXP_TYPE_UPSTREAM, -1, FX_CFG_64, 2, 6},
	    {"pci0000:00/0000:00:03.0/0000:01:00.0/0000:02:00.0", 0x10b5, 0x8747, 0x060400,
	     PCI_EXP_TYPE_DOWNSTREAM, -1, FX_CFG_64, 3, 5},
	    {"pci0000:00/0000:00:03.0/0000:01:00.0/0000:02:00.0/0000:03:00.0", 0x10b5, 0x8724,
	     0x060400, PCI_EXP_TYPE_UPSTREAM, -1, FX_CFG_64, 4, 5},
	    {"pci0000:00/0000:00:03.0/0000:01:00.0/0000:02:00.0/0000:03:00.0/0000:04:00.0", 0x10b5,
	     0x8724, 0x060400, PCI_EXP_TYPE_DOWNSTREAM, -1, FX_CFG_64, 5, 5},
	    {"pci0000:00/0000:00:03.0/0000:01:00.0/0000:02:00.0/0000:03:00.0/0000:04:00.0/"
	     "0000:05:00.0",
	     0x10de, 0x2330, 0x030200, EP, -1, FX_CFG_64, -1, -1},
	    {"pci0000:00/0000:00:03.0/0000:01:00.0/0000:02:01.0", 0x10b5, 0x8747, 0x060400,
	     PCI_EXP_TYPE_DOWNSTREAM, -1, FX_CFG_64, 6, 6},
	    {"pci0000:00/0000:00:03.0/0000:01:00.0/0000:02:01.0/0000:06:00.0", 0x144d, 0xa808,
	     0x010802, EP, -1, FX_CFG_64, -1, -1},
	};
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		fx_add(&fx, &funcs[i]);
	struct topo *t = scan(&fx);
	assert_int_equal(t->nfuncs, 9);
	assert_int_equal(func(t, "00:03.0")->pcie_type, -1);
	assert_int_equal(func(t, "00:03.0")->kind, TOPO_KIND_ROOT_PORT);
	assert_int_equal(func(t, "01:00.0")->kind, TOPO_KIND_SWITCH_UP);
	assert_int_equal(func(t, "02:00.0")->kind, TOPO_KIND_SWITCH_DOWN);
	assert_int_equal(func(t, "02:01.0")->kind, TOPO_KIND_SWITCH_DOWN);
	/* the second switch, below a downstream port */
	assert_int_equal(func(t, "03:00.0")->pcie_type, -1);
	assert_int_equal(func(t, "03:00.0")->kind, TOPO_KIND_SWITCH_UP);
	assert_int_equal(func(t, "04:00.0")->kind, TOPO_KIND_SWITCH_DOWN);
	assert_int_equal(func(t, "05:00.0")->kind, TOPO_KIND_ENDPOINT);
	assert_int_equal(func(t, "05:00.0")->depth, 5);
	assert_int_equal(func(t, "00:00.0")->kind, TOPO_KIND_HOST_BRIDGE);
	assert_int_equal(t->hbs[0].hbdev, topo_find(t, "00:00.0"));
	topo_free(t);
	fx_fini(&fx);
}

/* A bus-list function whose link names an upstream bridge that is nowhere
 * to be found (its directory in the tree is a symlink, which the walk never
 * follows, and the bridge has no bus-list entry): the parent comes from the
 * bridges' bus ranges instead, with a warning. */
static void test_missing_parent_bus_range_fallback(void **state)
{
	(void)state;
	struct fx fx;
	assert_int_equal(fx_init(&fx), 0);
	const struct fx_func funcs[] = {
	    {"pci0000:00/0000:00:00.0", 0x8086, 0x2020, 0x060000, -1, -1, FX_CFG_256, -1, -1},
	    {"pci0000:00/0000:00:1c.0", 0x8086, 0xa110, 0x060400, PCI_EXP_TYPE_ROOT_PORT, 0,
	     FX_CFG_4096, 6, 6},
	    {"pci0000:00/0000:00:1d.0", 0x8086, 0xa118, 0x060400, PCI_EXP_TYPE_ROOT_PORT, 0,
	     FX_CFG_4096, 7, 7},
	    /* the function's real directory, outside the pci* tree */
	    {"elsewhere/0000:06:00.0", 0x15b3, 0x101b, 0x020000, EP, -1, FX_CFG_4096, -1, -1, false,
	     true},
	};
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		fx_add(&fx, &funcs[i]);
	/* pci0000:00/0000:00:1c.4 is a symlinked directory: not walked */
	fx_symlink(&fx, "../elsewhere", "sys/devices/pci0000:00/0000:00:1c.4");
	fx_symlink(&fx, "../../../devices/pci0000:00/0000:00:1c.4/0000:06:00.0",
		   "sys/bus/pci/devices/0000:06:00.0");
	struct topo *t = scan(&fx);
	assert_int_equal(t->nfuncs, 4);
	assert_int_equal(topo_find(t, "00:1c.4"), -1); /* no device invented */
	const struct topo_func *nic = func(t, "06:00.0");
	assert_true(nic->in_bus_list);
	assert_false(nic->in_tree);
	assert_int_equal(nic->vendor, 0x15b3);
	assert_true(warned(t, "0000:06:00.0: upstream bridge missing from the tree"));
	/* bus 06 is 00:1c.0's secondary bus */
	assert_string_equal(parent_of(t, "06:00.0"), "0000:00:1c.0");
	assert_int_equal(nic->depth, 1);
	assert_string_equal(t->hbs[nic->hb].name, "pci0000:00");
	assert_int_equal(t->nhbs, 1);
	topo_free(t);
	fx_fini(&fx);
}

/* The committed fixture trees (tests/fixtures/sysfs, or $P2P_SYSFS_FIXTURES)
 * one by one: the next one's name, its path in @root; NULL after the last. */
struct fixtures {
	DIR *d;
	const char *dir;
};

static const char *next_fixture(struct fixtures *f, char *root, size_t len)
{
	if (!f->d) {
		f->dir = getenv("P2P_SYSFS_FIXTURES");
		if (!f->dir)
			f->dir = "tests/fixtures/sysfs";
		f->d = opendir(f->dir);
		assert_non_null(f->d);
	}
	for (struct dirent *de; (de = readdir(f->d));) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(root, len, "%s/%s", f->dir, de->d_name);
		return de->d_name;
	}
	closedir(f->d);
	f->d = NULL;
	return NULL;
}

/* ---- read modes (perf): the targeted live reader against the whole-file one ---- */

static struct topo *scan_dir_mode(const char *root, enum topo_read_mode mode)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct topo *t = NULL;
	struct topo_opts o = {.no_gpu = true, .read_mode = mode};
	assert_int_equal(topo_scan(fd, &o, &t), 0);
	close(fd);
	return t;
}

/*
 * Every committed fixture tree read both ways: as a snapshot (config files read
 * whole) and as a live sysfs (small reads of what the attribute files lack,
 * trusting the kernel's attribute visibility).  The quirks-* trees break that
 * visibility on purpose, so there LIVE only has to survive.  Every fact a
 * verdict or a report uses must agree, and LIVE must stay within 64 config
 * bytes per function on average.
 */
static void test_read_modes_agree(void **state)
{
	(void)state;
	struct fixtures fx_dir = {0};
	int compared = 0;
	char root[512];
	for (const char *name; (name = next_fixture(&fx_dir, root, sizeof(root)));) {
		struct topo *live = scan_dir_mode(root, TOPO_READ_LIVE);
		struct topo *snap = scan_dir_mode(root, TOPO_READ_SNAPSHOT);
		assert_true(live->live);
		assert_false(snap->live);
		if (!strncmp(name, "quirks-", 7)) {
			topo_free(live);
			topo_free(snap);
			continue;
		}
		assert_int_equal(live->nfuncs, snap->nfuncs);
		uint64_t whole = 0;
		for (int i = 0; i < live->nfuncs; i++) {
			const struct topo_func *a = &live->funcs[i], *b = &snap->funcs[i];
			assert_string_equal(a->bdf, b->bdf);
			/* gen-fabric writes no link attributes for root-complex integrated
			 * endpoints, where a live kernel shows them for every PCIe
			 * function: LIVE then takes the function as conventional PCI. */
			bool rciep = b->pcie_type == PCI_EXP_TYPE_RC_END;
			assert_int_equal(a->parent, b->parent);
			assert_int_equal(a->kind, b->kind);
			if (!rciep)
				assert_int_equal(a->pcie_type, b->pcie_type);
			assert_int_equal(a->is_bridge, b->is_bridge);
			assert_int_equal(a->sec_bus, b->sec_bus);
			assert_int_equal(a->sub_bus, b->sub_bus);
			assert_int_equal(a->acs, b->acs);
			assert_int_equal(a->acs_cap, b->acs_cap);
			assert_int_equal(a->acs_ctrl, b->acs_ctrl);
			assert_int_equal(a->acs_redir, b->acs_redir);
			assert_int_equal(a->vendor, b->vendor);
			assert_int_equal(a->device, b->device);
			assert_int_equal(a->class_code, b->class_code);
			if (!a->is_bridge) /* bridges: sysfs has the SSID capability's ids */
				assert_int_equal(a->subsys_vendor, b->subsys_vendor);
			assert_int_equal(a->cfg_size, b->cfg_size);
			assert_int_equal(a->cur_width, b->cur_width);
			assert_int_equal(a->max_width, b->max_width);
			assert_true(a->cur_speed_gts == b->cur_speed_gts);
			assert_true(a->max_speed_gts == b->max_speed_gts);
			assert_int_equal(a->numa_node, b->numa_node);
			assert_string_equal(a->driver, b->driver);
			assert_int_equal(b->cfg_bytes_read, (uint32_t)b->cfg_size);
			whole += b->cfg_bytes_read;
		}
		assert_int_equal(snap->cfg_bytes_read, whole);
		if (live->cfg_bytes_read > 64u * (uint64_t)live->nfuncs)
			fail_msg("%s: %llu config bytes for %d functions", name,
				 (unsigned long long)live->cfg_bytes_read, live->nfuncs);
		compared++;
		topo_free(live);
		topo_free(snap);
	}
	assert_true(compared >= 5);
}

/* ---- parallel walk: the same topology as the serial one ---- */

/* Everything report_topo() shows (functions with all their facts, host
 * bridges, warnings) of the tree at @rootfd, scanned by @threads threads. */
static char *scan_report(int rootfd, enum topo_read_mode mode, int threads)
{
	struct topo *t = NULL;
	struct topo_opts o = {.no_gpu = true, .read_mode = mode, .threads = threads};
	assert_int_equal(topo_scan(rootfd, &o, &t), 0);
	struct json_object *doc = report_topo(t);
	assert_non_null(doc);
	char *text = strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
	assert_non_null(text);
	json_object_put(doc);
	topo_free(t);
	return text;
}

static void assert_parallel_same(int rootfd, const char *what)
{
	for (int mode = TOPO_READ_LIVE; mode <= TOPO_READ_SNAPSHOT; mode++) {
		char *serial = scan_report(rootfd, mode, 1);
		for (int threads = 2; threads <= 16; threads *= 2) {
			char *par = scan_report(rootfd, mode, threads);
			if (strcmp(serial, par))
				fail_msg(
				    "%s: %d threads, mode %d: topology differs from the serial "
				    "walk's",
				    what, threads, mode);
			free(par);
		}
		free(serial);
	}
}

/*
 * Host bridges' subtrees walked in parallel give exactly the serial result:
 * on every committed fixture, and on a tree with a nested root bus (as Intel
 * VMD makes, numbered after its parent's host bridge) and a function that
 * sits below two host bridges (the merge gives up: serial walk, one warning).
 */
static void test_parallel_walk_same(void **state)
{
	(void)state;
	struct fixtures fx_dir = {0};
	int compared = 0;
	char root[512];
	for (const char *name; (name = next_fixture(&fx_dir, root, sizeof(root)));) {
		int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_parallel_same(fd, name);
		close(fd);
		compared++;
	}
	assert_true(compared >= 5);

	struct fx fx;
	assert_int_equal(fx_init(&fx), 0);
	const struct fx_func funcs[] = {
	    {"pci0000:00/0000:00:00.0", 0x8086, 0x29c0, 0x060000, -1, -1, FX_CFG_256, -1, -1},
	    {"pci0000:00/0000:00:0e.0", 0x8086, 0x28c0, 0x010400, EP, -1, FX_CFG_4096, -1, -1},
	    {"pci0000:00/0000:00:0e.0/pci10000:00/10000:00:01.0", 0x8086, 0x09ab, 0x060400,
	     PCI_EXP_TYPE_ROOT_PORT, 0x1d, FX_CFG_4096, 1, 1},
	    {"pci0000:00/0000:00:0e.0/pci10000:00/10000:00:01.0/10000:01:00.0", 0x144d, 0xa808,
	     0x010802, EP, -1, FX_CFG_4096, -1, -1},
	    {"pci0000:40/0000:40:01.0", 0x1022, 0x1483, 0x060400, PCI_EXP_TYPE_ROOT_PORT, 0x1d,
	     FX_CFG_4096, 0x41, 0x41},
	    {"pci0000:40/0000:40:01.0/0000:41:00.0", 0x10de, 0x2330, 0x030200, EP, -1, FX_CFG_4096,
	     -1, -1},
	    {"pci0000:80/0000:80:01.0", 0x1022, 0x1483, 0x060400, PCI_EXP_TYPE_ROOT_PORT, 0x1d,
	     FX_CFG_4096, 0x81, 0x81},
	    {"pci0000:80/0000:80:01.0/0000:81:00.0", 0x15b3, 0x101d, 0x020000, EP, -1, FX_CFG_4096,
	     -1, -1},
	};
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		fx_add(&fx, &funcs[i]);
	int fd = fx_rootfd(&fx);
	assert_parallel_same(fd, "nested root bus");
	struct topo *t = NULL;
	struct topo_opts o = {.no_gpu = true, .threads = 4};
	assert_int_equal(topo_scan(fd, &o, &t), 0);
	assert_int_equal(t->nhbs, 4);
	int h0 = func(t, "0000:00:0e.0")->hb; /* the nested one comes right after it */
	assert_true(h0 + 1 < t->nhbs);
	assert_string_equal(t->hbs[h0 + 1].name, "pci10000:00");
	assert_string_equal(t->hbs[func(t, "10000:01:00.0")->hb].name, "pci10000:00");
	assert_string_equal(t->hbs[func(t, "0000:81:00.0")->hb].name, "pci0000:80");
	assert_int_equal(t->nwarnings, 0);
	topo_free(t);

	/* the GPU once more, below the third host bridge too */
	const struct fx_func twice = {"pci0000:80/0000:80:01.0/0000:41:00.0",
				      0x10de,
				      0x2330,
				      0x030200,
				      EP,
				      -1,
				      FX_CFG_4096,
				      -1,
				      -1,
				      .no_bus_list = true};
	fx_add(&fx, &twice);
	assert_parallel_same(fd, "function below two host bridges");
	assert_int_equal(topo_scan(fd, &o, &t), 0);
	assert_true(warned(t, "0000:41:00.0: appears twice in the device tree"));
	assert_int_equal(t->nfuncs, 8);
	topo_free(t);
	close(fd);
	fx_fini(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic_tree),
	    cmocka_unit_test(test_short_config),
	    cmocka_unit_test(test_bus_list_quirks),
	    cmocka_unit_test(test_bad_bus_ranges_and_domains),
	    cmocka_unit_test(test_errors_and_parsers),
	    cmocka_unit_test(test_garbage_attributes),
	    cmocka_unit_test(test_snapshot_roundtrip),
	    cmocka_unit_test(test_short_config_cascade),
	    cmocka_unit_test(test_missing_parent_bus_range_fallback),
	    cmocka_unit_test(test_read_modes_agree),
	    cmocka_unit_test(test_parallel_walk_same),
	};
	return cmocka_run_group_tests_name("topo", tests, NULL, NULL);
}
