// SPDX-License-Identifier: MIT
/* test-gpu.c - DRM nodes: substituted ops, snapshot links, attachment to topology. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/pci_regs.h>
#include <string.h>
#include <unistd.h>

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include "gpu.h"
#include "helper-fixture.h"
#include "topo.h"

static int fake_calls;

static int fake_enumerate(int rootfd, int real_root, struct gpu_node *nodes, int max)
{
	(void)rootfd;
	fake_calls++;
	assert_int_equal(real_root, 0); /* a fixture is never the live root */
	assert_true(max >= 2);
	memset(nodes, 0, 2 * sizeof(*nodes));
	strcpy(nodes[0].bdf, "0000:01:00.0");
	strcpy(nodes[0].card, "card0");
	strcpy(nodes[0].render, "renderD128");
	strcpy(nodes[1].bdf, "0000:77:00.0"); /* not in the tree: ignored */
	strcpy(nodes[1].card, "card9");
	return 2;
}

static int failing_enumerate(int rootfd, int real_root, struct gpu_node *nodes, int max)
{
	(void)rootfd, (void)real_root, (void)nodes, (void)max;
	return -EACCES;
}

static void tree(struct fx *fx)
{
	const struct fx_func funcs[] = {
	    {"pci0000:00/0000:00:01.0", 0x8086, 0x2030, 0x060400, PCI_EXP_TYPE_ROOT_PORT, -1,
	     FX_CFG_4096, 1, 1},
	    {"pci0000:00/0000:00:01.0/0000:01:00.0", 0x1234, 0x1111, 0x038000,
	     PCI_EXP_TYPE_ENDPOINT, -1, FX_CFG_4096, -1, -1},
	};
	for (size_t i = 0; i < 2; i++)
		fx_add(fx, &funcs[i]);
}

static void test_substituted_ops(void **state)
{
	(void)state;
	static const struct gpu_ops fake = {.enumerate = fake_enumerate};
	struct fx fx;
	assert_int_equal(fx_init(&fx), 0);
	tree(&fx);
	gpu_set_ops(&fake);
	int fd = fx_rootfd(&fx);
	struct topo *t;
	assert_int_equal(topo_scan(fd, NULL, &t), 0);
	assert_int_equal(fake_calls, 1);
	const struct topo_func *f = &t->funcs[topo_find(t, "01:00.0")];
	assert_string_equal(f->gpu_nodes, "card0,renderD128");
	assert_true(topo_is_p2p_relevant(f));
	topo_free(t);
	/* no_gpu skips enumeration entirely */
	struct topo_opts o = {.no_gpu = true};
	assert_int_equal(topo_scan(fd, &o, &t), 0);
	assert_int_equal(fake_calls, 1);
	topo_free(t);
	/* A failing enumerator degrades to a warning, never a failed scan. */
	static const struct gpu_ops failing = {.enumerate = failing_enumerate};
	gpu_set_ops(&failing);
	assert_int_equal(topo_scan(fd, NULL, &t), 0);
	assert_int_equal(t->nwarnings, 1);
	assert_non_null(strstr(t->warnings[0], "DRM devices not enumerated"));
	topo_free(t);
	gpu_set_ops(NULL);
	assert_ptr_equal(gpu_get_ops(), &gpu_ops_drm);
	close(fd);
	fx_fini(&fx);
}

static void test_snapshot_links(void **state)
{
	(void)state;
	struct fx fx;
	assert_int_equal(fx_init(&fx), 0);
	tree(&fx);
	fx_symlink(&fx, "../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/drm/card3",
		   "sys/class/drm/card3");
	fx_symlink(&fx, "../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/drm/renderD130",
		   "sys/class/drm/renderD130");
	fx_symlink(&fx, "../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/drm/card3/card3-DP-1",
		   "sys/class/drm/card3-DP-1"); /* connectors are not nodes */
	fx_symlink(&fx, "../../devices/virtual/drm/ttm", "sys/class/drm/ttm");
	fx_symlink(&fx, "../../devices/platform/vgem/drm/card0", "sys/class/drm/card0");
	int fd = fx_rootfd(&fx);
	struct gpu_node nodes[8];
	int n = gpu_ops_drm.enumerate(fd, 0, nodes, 8);
	assert_int_equal(n, 1);
	assert_string_equal(nodes[0].bdf, "0000:01:00.0");
	assert_string_equal(nodes[0].card, "card3");
	assert_string_equal(nodes[0].render, "renderD130");
	assert_int_equal(gpu_ops_drm.enumerate(fd, 0, nodes, 0), 0);
	close(fd);
	fx_fini(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_substituted_ops),
	    cmocka_unit_test(test_snapshot_links),
	};
	return cmocka_run_group_tests_name("gpu", tests, NULL, NULL);
}
