// SPDX-License-Identifier: MIT
/*
 * test-names.c - p2pctl's names (libpci) are the names lspci prints: every
 * function of a fixture tree, compared with `lspci -mm -nn` on the same tree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

static void test_known_and_unknown(void **state)
{
	(void)state;
	char buf[128];
	assert_string_equal(names_class(buf, sizeof(buf), 0x020000), "Ethernet controller");
	assert_string_equal(names_class(buf, sizeof(buf), UINT32_MAX), "");
	assert_string_equal(names_device(buf, sizeof(buf), 0x1234, 0x1111), "Device 1234:1111");
	/* A tiny buffer truncates, never overflows. */
	char small[8];
	names_device(small, sizeof(small), 0x8086, 0x29c0);
	assert_true(strlen(small) < sizeof(small));
	names_free();
	/* Usable again after names_free(). */
	assert_string_equal(names_class(buf, sizeof(buf), 0x010802),
			    "Non-Volatile memory controller");
	names_free();
}

/* Next "quoted field" of an lspci -mm line; NULL at the end. */
static char *next_field(char **p)
{
	char *a = strchr(*p, '"');
	if (!a)
		return NULL;
	char *b = strchr(a + 1, '"');
	if (!b)
		return NULL;
	*b = '\0';
	*p = b + 1;
	return a + 1;
}

/* "Red Hat, Inc. [1af4]" -> name "Red Hat, Inc.", id 0x1af4. */
static int split_id(char *field, unsigned *ret_id)
{
	char *br = strrchr(field, '[');
	if (!br || br == field)
		return -1;
	*ret_id = (unsigned)strtoul(br + 1, NULL, 16);
	br[-1] = '\0';
	return 0;
}

static void test_same_as_lspci(void **state)
{
	(void)state;
	const char *dir = getenv("P2P_SYSFS_FIXTURES");
	char cmd[600];
	snprintf(cmd, sizeof(cmd),
		 "lspci -mm -nn -A linux-sysfs -O sysfs.path=%s/qemu-q35/sys/bus/pci 2>/dev/null",
		 dir ? dir : "tests/fixtures/sysfs");
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	char line[1024];
	int compared = 0, classes = 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *cls = next_field(&p), *ven = next_field(&p), *dev = next_field(&p);
		unsigned c = 0, v = 0, d = 0;
		if (!cls || !ven || !dev || split_id(cls, &c) || split_id(ven, &v) ||
		    split_id(dev, &d))
			fail_msg("cannot parse lspci line: %s", line);
		char buf[256], want[256];
		if (strncmp(cls, "Class", 5)) {
			assert_string_equal(names_class(buf, sizeof(buf), c << 8), cls);
			classes++;
		}
		if (!strcmp(ven, "Vendor") || !strcmp(dev, "Device"))
			continue; /* lspci -mm spells unknown ids its own way */
		snprintf(want, sizeof(want), "%s %s", ven, dev);
		assert_string_equal(names_device(buf, sizeof(buf), (uint16_t)v, (uint16_t)d), want);
		compared++;
	}
	assert_int_equal(pclose(f), 0);
	assert_true(compared >= 10);
	assert_true(classes >= 10);
	names_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_and_unknown),
	    cmocka_unit_test(test_same_as_lspci),
	};
	return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
