// SPDX-License-Identifier: MIT
/*
 * rules.c - pci_p2pdma_whitelist[] and pci_host_bridge_dev() of
 * drivers/pci/p2pdma.c as they were in each kernel release, as data.
 *
 * Provenance: the 5.15 entries, 8086:09a2 and the root-port rule were checked
 * against Linux 6.1 (linux-source-6.1, Debian 6.1.192) and the upstream
 * commits named below; the 7.2 Intel accelerator ids against commit
 * 0ba76b19fd4c (also queued for 7.1-stable in July 2026, so late 7.1.y kernels
 * have them: a distro kernel may be ahead of its version number, which is why
 * every output names the table it used).  The 7.1 Google and 7.3 NVIDIA
 * entries follow DESIGN.md ("Kernel versions"); no source tree with them was
 * available here to check against.
 */
#include "rules.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V(maj, min) RULES_VERSION(maj, min)

/* Every entry the whitelist ever had, in the kernel's order (7.3). */
static const struct rules_entry entries[] = {
    /* Intel Xeon E5/Core i7, Xeon E7 v3/E5 v3/Core i7: same host bridge only */
    {0x8086, 0x3c00, true, V(5, 15), "v5.15 table (added before 5.15)"},
    {0x8086, 0x3c01, true, V(5, 15), "v5.15 table (added before 5.15)"},
    {0x8086, 0x2f00, true, V(5, 15), "v5.15 table (added before 5.15)"},
    {0x8086, 0x2f01, true, V(5, 15), "v5.15 table (added before 5.15)"},
    /* Intel Skylake-E */
    {0x8086, 0x2030, false, V(5, 15), "v5.15 table (added before 5.15)"},
    {0x8086, 0x2031, false, V(5, 15), "7b94b53db34f (before 5.15)"},
    {0x8086, 0x2032, false, V(5, 15), "7b94b53db34f (before 5.15)"},
    {0x8086, 0x2033, false, V(5, 15), "7b94b53db34f (before 5.15)"},
    {0x8086, 0x2020, false, V(5, 15), "v5.15 table (added before 5.15)"},
    /* 3rd Gen Xeon Scalable (Ice Lake) and every Xeon since: first device 09a2 */
    {0x8086, 0x09a2, false, V(5, 18), "feaea1fe8b36 (v5.18)"},
    /* Xeon accelerators first on a root bus of their own: DSA/IAX SPR,
     * DSA GNR-D, DSA/IAA DMR, QAT 4xxx/401xx/402xx/420xx/6xxx */
    {0x8086, 0x0b25, false, V(7, 2), "0ba76b19fd4c (v7.2)"},
    {0x8086, 0x0cfe, false, V(7, 2), "0ba76b19fd4c (v7.2)"},
    {0x8086, 0x11fb, false, V(7, 2), "0ba76b19fd4c (v7.2)"},
    {0x8086, 0x1212, false, V(7, 2), "0ba76b19fd4c (v7.2)"},
    {0x8086, 0x1216, false, V(7, 2), "0ba76b19fd4c (v7.2)"},
    {0x8086, 0x4940, false, V(7, 2), "0ba76b19fd4c (v7.2)"},
    {0x8086, 0x4942, false, V(7, 2), "0ba76b19fd4c (v7.2)"},
    {0x8086, 0x4944, false, V(7, 2), "0ba76b19fd4c (v7.2)"},
    {0x8086, 0x4946, false, V(7, 2), "0ba76b19fd4c (v7.2)"},
    {0x8086, 0x4948, false, V(7, 2), "0ba76b19fd4c (v7.2)"},
    /* Google SoCs: any device of vendor 1ae0 */
    {0x1ae0, RULES_ANY_DEVICE, false, V(7, 1), "v7.1 (DESIGN.md)"},
    /* NVIDIA CPUs */
    {0x10de, 0x2f95, false, V(7, 3), "v7.3 (DESIGN.md)"},
    {0x10de, 0x2f96, false, V(7, 3), "v7.3 (DESIGN.md)"},
    {0x10de, 0x2f97, false, V(7, 3), "v7.3 (DESIGN.md)"},
    {0x10de, 0x2f98, false, V(7, 3), "v7.3 (DESIGN.md)"},
};
#define N_ENTRIES ((int)(sizeof(entries) / sizeof(entries[0])))

/* One table per release that changed the rules. */
static const struct rules_table tables[] = {
    {"linux-5.15", V(5, 15), V(5, 17), RULES_HBDEV_DEVFN0},
    {"linux-5.18", V(5, 18), V(5, 18), RULES_HBDEV_DEVFN0},
    /* 1af7c26c59eb: the first root-bus device counts when it is a Root Port */
    {"linux-5.19", V(5, 19), V(7, 0), RULES_HBDEV_DEVFN0_OR_RP},
    {"linux-7.1", V(7, 1), V(7, 1), RULES_HBDEV_DEVFN0_OR_RP},
    {"linux-7.2", V(7, 2), V(7, 2), RULES_HBDEV_DEVFN0_OR_RP},
    {"linux-7.3", V(7, 3), 0, RULES_HBDEV_DEVFN0_OR_RP},
};
#define N_TABLES ((int)(sizeof(tables) / sizeof(tables[0])))

int rules_parse_release(const char *release, unsigned *ret_version)
{
	if (!release || release[0] < '0' || release[0] > '9')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long maj = strtoul(release, &end, 10);
	if (errno || end == release || *end != '.' || maj == 0 || maj > 255)
		return -EINVAL;
	const char *p = end + 1;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	unsigned long min = strtoul(p, &end, 10);
	if (errno || min > 255)
		return -EINVAL;
	/* what may follow: ".patch", "-local", "+deb12", "_custom", or nothing */
	if (*end && *end != '.' && *end != '-' && *end != '+' && *end != '_')
		return -EINVAL;
	*ret_version = V(maj, min);
	return 0;
}

const struct rules_table *rules_tables(int *ret_n)
{
	if (ret_n)
		*ret_n = N_TABLES;
	return tables;
}

const struct rules_table *rules_newest(void)
{
	return &tables[N_TABLES - 1];
}

const struct rules_table *rules_find(const char *name)
{
	for (int i = 0; name && i < N_TABLES; i++)
		if (!strcmp(tables[i].name, name))
			return &tables[i];
	return NULL;
}

void rules_describe(const struct rules_table *t, char *buf, int size)
{
	if (!t->until)
		snprintf(buf, (size_t)size, "%s (%u.%u and newer)", t->name, t->version >> 8,
			 t->version & 0xff);
	else if (t->until == t->version)
		snprintf(buf, (size_t)size, "%s", t->name);
	else
		snprintf(buf, (size_t)size, "%s (%u.%u-%u.%u)", t->name, t->version >> 8,
			 t->version & 0xff, t->until >> 8, t->until & 0xff);
}

void rules_select(const char *release, struct rules_sel *ret)
{
	memset(ret, 0, sizeof(*ret));
	char desc[64];
	unsigned v = 0;
	if (release)
		snprintf(ret->release, sizeof(ret->release), "%s", release);
	if (!release || !release[0]) {
		ret->fit = RULES_FIT_NO_RELEASE;
		ret->table = rules_newest();
	} else if (rules_parse_release(release, &v) < 0) {
		ret->fit = RULES_FIT_UNPARSABLE;
		ret->table = rules_newest();
	} else if (v < tables[0].version) {
		ret->fit = RULES_FIT_OLDER;
		ret->table = &tables[0];
	} else {
		ret->table = &tables[0];
		for (int i = 0; i < N_TABLES; i++)
			if (tables[i].version <= v)
				ret->table = &tables[i];
		ret->fit = ret->table->until || v == ret->table->version ? RULES_FIT_KNOWN
									 : RULES_FIT_NEWER;
	}
	rules_describe(ret->table, desc, sizeof(desc));
	switch (ret->fit) {
	case RULES_FIT_KNOWN:
		snprintf(ret->note, sizeof(ret->note), "kernel %s: rules of %s", ret->release,
			 desc);
		break;
	case RULES_FIT_NO_RELEASE:
		snprintf(ret->note, sizeof(ret->note),
			 "kernel release unknown (no proc/sys/kernel/osrelease; use "
			 "--kernel-release): rules of the newest known table, %s",
			 desc);
		break;
	case RULES_FIT_UNPARSABLE:
		snprintf(ret->note, sizeof(ret->note),
			 "kernel release '%.64s' is not MAJOR.MINOR...: rules of the newest known "
			 "table, %s",
			 ret->release, desc);
		break;
	case RULES_FIT_NEWER:
		snprintf(ret->note, sizeof(ret->note),
			 "kernel %s is newer than every known table: rules of the newest, %s",
			 ret->release, desc);
		break;
	case RULES_FIT_OLDER:
		snprintf(ret->note, sizeof(ret->note),
			 "kernel %s is older than every known table: rules of the oldest, %s "
			 "(approximate before 5.14, whose decision code differs)",
			 ret->release, desc);
		break;
	}
}

int rules_whitelist(const struct rules_table *t, const struct rules_entry **ret, int max)
{
	int n = 0;
	for (int i = 0; i < N_ENTRIES && n < max; i++)
		if (entries[i].since <= t->version)
			ret[n++] = &entries[i];
	return n;
}

const struct rules_entry *rules_lookup(const struct rules_table *t, uint16_t vendor,
				       uint16_t device)
{
	/* The kernel takes the first entry of the vendor whose device matches. */
	for (int i = 0; i < N_ENTRIES; i++) {
		const struct rules_entry *e = &entries[i];
		if (e->since > t->version || e->vendor != vendor)
			continue;
		if (e->device != RULES_ANY_DEVICE && e->device != device)
			continue;
		return e;
	}
	return NULL;
}

const char *rules_fit_name(enum rules_fit fit)
{
	switch (fit) {
	case RULES_FIT_KNOWN:
		return "known";
	case RULES_FIT_NO_RELEASE:
		return "no_release";
	case RULES_FIT_UNPARSABLE:
		return "unparsable";
	case RULES_FIT_NEWER:
		return "newer";
	case RULES_FIT_OLDER:
		return "older";
	}
	return "unknown";
}
