/* SPDX-License-Identifier: MIT */
/*
 * provider.c - the provider choice (see provider.h).
 */
#include "provider.h"

#include <errno.h>
#include <stddef.h>

int provider_choose(const struct verdict_ctx *ctx, const int *candidates, int ncandidates,
		    const int *peers, int npeers, int *ret_distance)
{
	int best = -ENODEV, bestd = -1;

	if (!ctx || ncandidates < 0 || npeers < 0 || (ncandidates && !candidates) ||
	    (npeers && !peers))
		return -EINVAL;
	for (int i = 0; i < ncandidates; i++) {
		int d = 0;

		if (candidates[i] < 0)
			continue;
		if (npeers) {
			/* like pci_p2pdma_distance_many(): -1 when any peer is refused */
			d = verdict_distance_many(ctx, candidates[i], peers, npeers, true);
			if (d < 0)
				continue;
		}
		if (best < 0 || d < bestd) {
			best = candidates[i];
			bestd = d;
		}
	}
	if (best >= 0 && ret_distance)
		*ret_distance = bestd;
	return best;
}
