/* SPDX-License-Identifier: MIT */
/*
 * topo-func.h - read one PCI function's facts from its sysfs directory
 * (used by topo_scan(); see topo-func.c).
 */
#ifndef P2P_CORE_TOPO_FUNC_H
#define P2P_CORE_TOPO_FUNC_H

#include <stdbool.h>

#include "topo.h"

/* How a scan reads functions: shared by every function of one topo_scan(). */
struct topo_func_src {
	struct topo *t; /* warnings and the cfg_bytes_read total go here */
	bool live;	/* a live sysfs (see read_config()), else a snapshot */
	unsigned skip;	/* topo_opts.skip */
	int cfg_limit;	/* live: config bytes readable past 64 (0 not probed yet) */
};

/*
 * topo_func_read() - fill @f's facts from its sysfs directory @dirfd
 * @f: bdf, domain, bus, dev and fn already set; everything else is written
 *
 * Facts a file does not give stay unknown (-1, UINT32_MAX, "" as topo.h
 * says); an unreadable config space or a bad bridge bus range adds a warning
 * to @s->t.  Never fails.
 */
void topo_func_read(struct topo_func_src *s, int dirfd, struct topo_func *f);

/* The first processor's vendor and family from <root>/proc/cpuinfo (unknown
 * when unreadable). */
void topo_read_cpu(int rootfd, struct topo_cpu *cpu);

#endif
