/* SPDX-License-Identifier: MIT */
/*
 * provider.h - which device's p2p memory should back a buffer for a set of
 * peers: the kernel's pci_p2pmem_find_many() on p2pbroker's verdicts.
 */
#pragma once

#include "verdict.h"

/*
 * provider_choose() - among @candidates (indexes into the topology's
 * functions, in the caller's order of preference) the one with the shortest
 * total p2p distance to all @peers (verdict_distance_many(), admin overrides
 * applied); a candidate that cannot reach every peer is never chosen.  On a
 * tie the earlier candidate wins.  With no peers the first candidate wins.
 * If @ret_distance is not NULL it gets the chosen one's total distance.
 * Returns the chosen index (>= 0), -ENODEV when no candidate qualifies, or
 * -EINVAL for bad arguments (negative counts, NULL arrays with counts).
 */
int provider_choose(const struct verdict_ctx *ctx, const int *candidates, int ncandidates,
		    const int *peers, int npeers, int *ret_distance);
