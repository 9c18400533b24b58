/* SPDX-License-Identifier: MIT */
/*
 * rules.h - the kernel's p2pdma host-bridge rules, one table per kernel version.
 *
 * The decision code of drivers/pci/p2pdma.c (calc_map_type_and_dist) is the same
 * from 5.14 through 7.3; what changes between releases is the host-bridge
 * whitelist and which function counts as a root bus's "host bridge device".
 * Those two are data here, each entry with the release and commit it came from,
 * and a table is picked by the kernel release (DESIGN.md, "Kernel versions").
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define RULES_ANY_DEVICE (-1) /* the kernel's PCI_ANY_ID in a whitelist entry */
#define RULES_RELEASE_LEN 65  /* utsname release field */

/* Which function of a root bus is its "host bridge device" (pci_host_bridge_dev). */
enum rules_hbdev {
	RULES_HBDEV_DEVFN0,	  /* first function, only if at devfn 00.0 (< 5.19) */
	RULES_HBDEV_DEVFN0_OR_RP, /* ... or if it is a PCIe Root Port (5.19+) */
};

struct rules_entry {
	uint16_t vendor;
	int32_t device;		    /* 0..0xffff or RULES_ANY_DEVICE */
	bool same_host_bridge_only; /* the kernel's REQ_SAME_HOST_BRIDGE */
	unsigned since;		    /* RULES_VERSION() of the first release with it */
	const char *origin;	    /* commit or release it came from */
};

struct rules_table {
	const char *name; /* "linux-5.19" */
	unsigned version; /* first release it describes */
	unsigned until;	  /* last release before the next table (0: newest) */
	enum rules_hbdev hbdev;
};

#define RULES_VERSION(maj, min) (((unsigned)(maj) << 8) | (unsigned)(min))

/* How the release in a selection relates to the tables. */
enum rules_fit {
	RULES_FIT_KNOWN = 0,  /* a table covers this release */
	RULES_FIT_NO_RELEASE, /* no release known: newest table */
	RULES_FIT_UNPARSABLE, /* not "MAJOR.MINOR...": newest table */
	RULES_FIT_NEWER,      /* newer than every table: newest table */
	RULES_FIT_OLDER,      /* older than the oldest table: oldest table */
};

struct rules_sel {
	const struct rules_table *table;
	enum rules_fit fit;
	char release[RULES_RELEASE_LEN]; /* as given, "" unknown */
	char note[256];			 /* one sentence: which table and why */
};

/*
 * rules_parse_release() - "6.12.57+deb12-amd64" -> RULES_VERSION(6, 12).
 * Returns 0 and *ret_version, or -EINVAL when it does not start with MAJOR.MINOR.
 */
int rules_parse_release(const char *release, unsigned *ret_version);

/*
 * rules_select() - the table for kernel @release (NULL or "" = unknown).
 * Always fills *ret (an unknown, unparsable or newer release gets the newest
 * table, an older one the oldest; ret->fit and ret->note say so).
 */
void rules_select(const char *release, struct rules_sel *ret);

/* The tables, oldest first, and how many. */
const struct rules_table *rules_tables(int *ret_n);
const struct rules_table *rules_newest(void);
const struct rules_table *rules_find(const char *name); /* "linux-7.3" or NULL */

/* Whitelist entries of @table (every entry with since <= table->version),
 * in the kernel's order; returns the count written (at most @max). */
int rules_whitelist(const struct rules_table *table, const struct rules_entry **ret, int max);

/* The entry of @table matching vendor:device, or NULL. */
const struct rules_entry *rules_lookup(const struct rules_table *table, uint16_t vendor,
				       uint16_t device);

/* "linux-5.19 (5.19-7.0)" into @buf. */
void rules_describe(const struct rules_table *table, char *buf, int size);

/* Stable name of a fit for JSON: "known", "no_release", "unparsable", "newer", "older". */
const char *rules_fit_name(enum rules_fit fit);
