/* SPDX-License-Identifier: MIT */
/*
 * test-provider.c - the provider choice (core/provider.c): the candidate
 * with the shortest total distance to all peers wins, one that cannot reach
 * every peer never does, ties keep the caller's order, admin overrides count.
 * On the VM topology of DESIGN.md (as test-verdict.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/pci_regs.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include "helper-fixture.h"
#include "provider.h"
#include "topo.h"
#include "verdict.h"

#define EP PCI_EXP_TYPE_ENDPOINT

struct world {
	struct fx fx;
	struct topo *t;
	struct verdict_ctx *ctx;
};

static struct world *world_new(const char *cpu, const struct verdict_override *ovr, int novr)
{
	struct world *w = test_calloc(1, sizeof(*w));
	assert_int_equal(fx_init(&w->fx), 0);
	fx_build_q35(&w->fx, 0, false); /* no device on the root bus */
	fx_cpu(&w->fx, "GenuineIntel", 6);
	int fd = fx_rootfd(&w->fx);
	struct topo_opts o = {.cpu_override = cpu, .no_gpu = true};
	assert_int_equal(topo_scan(fd, &o, &w->t), 0);
	close(fd);
	assert_int_equal(verdict_ctx_new(w->t, NULL, 0, ovr, novr, &w->ctx), 0);
	return w;
}

static void world_free(struct world *w)
{
	verdict_ctx_free(w->ctx);
	topo_free(w->t);
	fx_fini(&w->fx);
	test_free(w);
}

static int idx(struct world *w, const char *bdf)
{
	int i = topo_find(w->t, bdf);
	assert_true(i >= 0);
	return i;
}

/* Choose among @cands (BDFs) for @peers (BDFs); returns the chosen BDF or
 * NULL, and the distance in *d. */
static const char *choose(struct world *w, const char *const *cands, int nc,
			  const char *const *peers, int np, int *d)
{
	int ci[8], pi[8], r;

	for (int i = 0; i < nc; i++)
		ci[i] = idx(w, cands[i]);
	for (int i = 0; i < np; i++)
		pi[i] = idx(w, peers[i]);
	*d = -100;
	r = provider_choose(w->ctx, ci, nc, pi, np, d);
	if (r == -ENODEV)
		return NULL;
	assert_true(r >= 0);
	return w->t->funcs[r].bdf;
}

static void test_non_zen(void **state)
{
	struct world *w = world_new("amd:15", NULL, 0);
	const char *far_first[] = {"41:00.0", "03:00.0", "05:00.0"};
	const char *rev[] = {"05:00.0", "03:00.0"};
	const char *p04[] = {"04:00.0"};
	const char *p04_41[] = {"04:00.0", "41:00.0"};
	const char *p06[] = {"06:00.0"};
	const char *mixed[] = {"03:00.0", "06:00.1"};
	int d;

	(void)state;
	/* 41 is behind another host bridge (refused without Zen); 03 and 05 share
	 * the switch with 04 (distance 4 each): the first listed wins the tie */
	assert_string_equal(choose(w, far_first, 3, p04, 1, &d), "0000:03:00.0");
	assert_int_equal(d, 4);
	assert_string_equal(choose(w, rev, 2, p04, 1, &d), "0000:05:00.0");
	/* nobody reaches both a switch device and the other host bridge */
	assert_null(choose(w, far_first, 3, p04_41, 2, &d));
	assert_int_equal(d, -100); /* untouched on failure */
	/* the other function of the same device: distance 2, and 03 is refused */
	assert_string_equal(choose(w, mixed, 2, p06, 1, &d), "0000:06:00.1");
	assert_int_equal(d, 2);
	/* no peers: the first candidate */
	assert_string_equal(choose(w, rev, 2, NULL, 0, &d), "0000:05:00.0");
	assert_int_equal(d, 0);
	world_free(w);
}

static void test_zen_sum_of_distances(void **state)
{
	struct world *w = world_new("amd:0x17", NULL, 0);
	const char *cands[] = {"03:00.0", "06:00.1", "41:00.0"};
	const char *p06[] = {"06:00.0"};
	const char *p04_41[] = {"04:00.0", "41:00.0"};
	const char *p04_06[] = {"04:00.0", "06:00.0"};
	int d;

	(void)state;
	/* through the host bridge now allowed: shortest still wins (2 < 6 < ...) */
	assert_string_equal(choose(w, cands, 3, p06, 1, &d), "0000:06:00.1");
	assert_int_equal(d, 2);
	/* sum over peers: 41 gives 6 + 0, 03 gives 4 + 6, 06:00.1 gives 6 + 4 */
	assert_string_equal(choose(w, cands, 3, p04_41, 2, &d), "0000:41:00.0");
	assert_int_equal(d, 6);
	/* 03: 4 + 6 = 10; 06:00.1: 6 + 2 = 8; 41: 6 + 4 = 10 */
	assert_string_equal(choose(w, cands, 3, p04_06, 2, &d), "0000:06:00.1");
	assert_int_equal(d, 8);
	world_free(w);
}

static void test_overrides_and_args(void **state)
{
	const struct verdict_override deny = {
	    .a = "0000:03:00.0", .b = "0000:04:00.0", .allow = false, .why = "test"};
	struct world *w = world_new("amd:15", &deny, 1);
	const char *cands[] = {"03:00.0", "05:00.0"};
	const char *p04[] = {"04:00.0"};
	int ci[2] = {-1, idx(w, "05:00.0")}, pi = idx(w, "04:00.0"), d;

	(void)state;
	/* the admin denied 03 <-> 04: 05 is chosen although 03 is listed first */
	assert_string_equal(choose(w, cands, 2, p04, 1, &d), "0000:05:00.0");
	/* a negative candidate is skipped; bad arguments are refused */
	assert_int_equal(provider_choose(w->ctx, ci, 2, &pi, 1, NULL), ci[1]);
	assert_int_equal(provider_choose(w->ctx, ci, -1, &pi, 1, NULL), -EINVAL);
	assert_int_equal(provider_choose(w->ctx, NULL, 2, &pi, 1, NULL), -EINVAL);
	assert_int_equal(provider_choose(w->ctx, ci, 2, NULL, 1, NULL), -EINVAL);
	assert_int_equal(provider_choose(NULL, ci, 2, &pi, 1, NULL), -EINVAL);
	assert_int_equal(provider_choose(w->ctx, ci, 0, &pi, 1, NULL), -ENODEV);
	world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_non_zen),
	    cmocka_unit_test(test_zen_sum_of_distances),
	    cmocka_unit_test(test_overrides_and_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
