// SPDX-License-Identifier: MIT
/* test-pcicfg.c - config-space parsing on hand-built byte images. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcicfg.h"

static uint8_t cfg[4096];

static void put16(int off, uint16_t v)
{
	cfg[off] = v & 0xff;
	cfg[off + 1] = v >> 8;
}

static void put32(int off, uint32_t v)
{
	put16(off, v & 0xffff);
	put16(off + 2, v >> 16);
}

/* A PCIe root port: caps 0x40 (PM) -> 0x60 (PCIe); ext 0x100 AER -> 0x148 ACS. */
static void root_port(uint16_t acs_ctrl)
{
	memset(cfg, 0, sizeof(cfg));
	put16(0, 0x1b36);
	put16(2, 0x000c);
	cfg[PCI_HEADER_TYPE] = 0x81; /* multifunction bridge */
	cfg[PCI_SECONDARY_BUS] = 4;
	cfg[PCI_SUBORDINATE_BUS] = 9;
	put16(PCI_STATUS, PCI_STATUS_CAP_LIST);
	cfg[PCI_CAPABILITY_LIST] = 0x40;
	cfg[0x40] = PCI_CAP_ID_PM;
	cfg[0x41] = 0x60;
	cfg[0x60] = PCI_CAP_ID_EXP;
	cfg[0x61] = 0;
	put16(0x62, (PCI_EXP_TYPE_ROOT_PORT << 4) | 2);
	put32(0x60 + PCI_EXP_LNKCAP, 0x4 | (16 << 4)); /* 16 GT/s x16 */
	put16(0x60 + PCI_EXP_LNKSTA, 0x3 | (8 << 4));  /* trained at 8 GT/s x8 */
	put32(0x100, 0x0001 | (1u << 16) | (0x148u << 20));
	put32(0x148, PCI_EXT_CAP_ID_ACS | (1u << 16));
	put16(0x14c, 0x5f);
	put16(0x14e, acs_ctrl);
}

static void test_root_port(void **state)
{
	(void)state;
	struct pcicfg_info ci;
	root_port(PCI_ACS_RR | PCI_ACS_CR);
	assert_int_equal(pcicfg_parse(cfg, sizeof(cfg), &ci), 0);
	assert_int_equal(ci.header_type, 1);
	assert_int_equal(ci.pcie_type, PCI_EXP_TYPE_ROOT_PORT);
	assert_int_equal(ci.acs_known, 1);
	assert_int_equal(ci.acs_present, 1);
	assert_int_equal(ci.acs_offset, 0x148);
	assert_int_equal(ci.acs_cap, 0x5f);
	assert_int_equal(ci.acs_ctrl, PCI_ACS_RR | PCI_ACS_CR);
	assert_int_equal(ci.sec_bus, 4);
	assert_int_equal(ci.sub_bus, 9);
	assert_int_equal(ci.vendor, 0x1b36);
	assert_int_equal(ci.device, 0x000c);
	assert_int_equal(ci.exp_offset, 0x60);
	assert_true(ci.max_speed_gts == 16.0);
	assert_int_equal(ci.max_width, 16);
	assert_true(ci.cur_speed_gts == 8.0);
	assert_int_equal(ci.cur_width, 8);
}

static void test_short_reads(void **state)
{
	(void)state;
	struct pcicfg_info ci;
	root_port(PCI_ACS_RR);
	/* 64 bytes (non-root): header only. */
	assert_int_equal(pcicfg_parse(cfg, 64, &ci), 0);
	assert_int_equal(ci.pcie_type, -1);
	assert_int_equal(ci.acs_known, 0);
	assert_int_equal(ci.sec_bus, 4);
	/* 256 bytes of a PCIe function: port type, ACS unknown (no ext space). */
	assert_int_equal(pcicfg_parse(cfg, 256, &ci), 0);
	assert_int_equal(ci.pcie_type, PCI_EXP_TYPE_ROOT_PORT);
	assert_int_equal(ci.acs_known, 0);
	/* Cut in the middle of the ACS capability: present header but no ctrl. */
	assert_int_equal(pcicfg_parse(cfg, 0x14c, &ci), 0);
	assert_int_equal(ci.acs_present, 0);
	assert_int_equal(pcicfg_parse(cfg, 63, &ci), -EINVAL);
	assert_int_equal(pcicfg_parse(NULL, 4096, &ci), -EINVAL);
}

static void test_hostile_lists(void **state)
{
	(void)state;
	struct pcicfg_info ci;
	/* Capability list that loops on itself. */
	root_port(0);
	cfg[0x41] = 0x40;
	assert_int_equal(pcicfg_parse(cfg, sizeof(cfg), &ci), 0);
	assert_int_equal(ci.pcie_type, -1);
	/* Pointer below 0x40 ends the walk. */
	root_port(0);
	cfg[0x41] = 0x10;
	assert_int_equal(pcicfg_parse(cfg, sizeof(cfg), &ci), 0);
	assert_int_equal(ci.pcie_type, -1);
	/* Extended list that loops, and one that points into standard space. */
	root_port(0);
	put32(0x148, 0x0002 | (1u << 16) | (0x100u << 20));
	assert_int_equal(pcicfg_parse(cfg, sizeof(cfg), &ci), 0);
	assert_int_equal(ci.acs_present, 0);
	assert_int_equal(ci.acs_known, 1);
	root_port(0);
	put32(0x100, 0x0001 | (1u << 16) | (0x80u << 20));
	assert_int_equal(pcicfg_parse(cfg, sizeof(cfg), &ci), 0);
	assert_int_equal(ci.acs_present, 0);
	/* Pointer past the end. */
	root_port(0);
	put32(0x100, 0x0001 | (1u << 16) | (0xffcu << 20));
	assert_int_equal(pcicfg_parse(cfg, sizeof(cfg), &ci), 0);
	assert_int_equal(ci.acs_present, 0);
	/* All-ones (device gone) and all-zero. */
	memset(cfg, 0xff, sizeof(cfg));
	assert_int_equal(pcicfg_parse(cfg, sizeof(cfg), &ci), -EINVAL);
	memset(cfg, 0, sizeof(cfg));
	assert_int_equal(pcicfg_parse(cfg, sizeof(cfg), &ci), -EINVAL);
}

static void test_conventional(void **state)
{
	(void)state;
	struct pcicfg_info ci;
	memset(cfg, 0, sizeof(cfg));
	put16(0, 0x1af4);
	put16(2, 0x1110);
	assert_int_equal(pcicfg_parse(cfg, 256, &ci), 0);
	assert_int_equal(ci.header_type, 0);
	assert_int_equal(ci.pcie_type, -1);
	assert_int_equal(ci.acs_known, 1); /* no PCIe cap: no extended space, no ACS */
	assert_int_equal(ci.acs_present, 0);
	assert_int_equal(ci.sec_bus, -1);
}

/* The targeted reader on a real file: same answers as the whole-buffer parse,
 * a handful of small reads, and a short read past 64 bytes (what a non-root
 * reader of a live sysfs gets) turns the capabilities into "unknown". */
static void test_targeted_reads(void **state)
{
	(void)state;
	char path[] = "/tmp/test-pcicfg-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	root_port(PCI_ACS_RR | PCI_ACS_CR);
	assert_int_equal(pwrite(fd, cfg, sizeof(cfg), 0), (ssize_t)sizeof(cfg));

	struct pcicfg_info whole, ci;
	assert_int_equal(pcicfg_parse(cfg, sizeof(cfg), &whole), 0);
	struct pcicfg_src src = pcicfg_src_fd(fd, sizeof(cfg));
	assert_int_equal(pcicfg_query(&src, PCICFG_ALL, &ci), 0);
	assert_memory_equal(&ci, &whole, sizeof(ci));
	/* ids 4+4+1, buses 2, status 2, ptr 1, 2 cap headers, flags 2, link 4+2,
	 * 2 ext headers, ACS cap+ctrl 4 */
	assert_int_equal(src.bytes, 4 + 4 + 1 + 2 + 2 + 1 + 2 * 2 + 2 + 6 + 2 * 4 + 4);
	assert_true(src.reads <= 16);

	/* Only what sysfs lacks: port type, link, ACS. */
	src = pcicfg_src_fd(fd, sizeof(cfg));
	assert_int_equal(pcicfg_query(&src, PCICFG_EXP | PCICFG_ACS, &ci), 0);
	assert_int_equal(ci.pcie_type, PCI_EXP_TYPE_ROOT_PORT);
	assert_int_equal(ci.acs_ctrl, PCI_ACS_RR | PCI_ACS_CR);
	assert_int_equal(ci.cur_width, 8);
	assert_int_equal(ci.vendor, 0); /* not asked */
	assert_int_equal(src.bytes, 2 + 1 + 2 * 2 + 2 + 6 + 2 * 4 + 4);

	/* The file holds less than it claims: reads past its end come back short. */
	assert_int_equal(ftruncate(fd, 64), 0);
	src = pcicfg_src_fd(fd, sizeof(cfg));
	assert_int_equal(pcicfg_query(&src, PCICFG_ALL, &ci), 0);
	assert_int_equal(src.size, 64);
	assert_int_equal(ci.vendor, 0x1b36);
	assert_int_equal(ci.pcie_type, -1);
	assert_int_equal(ci.acs_known, 0);
	assert_int_equal(ci.cur_width, 0);

	/* A gone device (all-ones) is refused even when the ids were not asked. */
	memset(cfg, 0xff, sizeof(cfg));
	assert_int_equal(pwrite(fd, cfg, sizeof(cfg), 0), (ssize_t)sizeof(cfg));
	src = pcicfg_src_fd(fd, sizeof(cfg));
	assert_int_equal(pcicfg_query(&src, PCICFG_EXP | PCICFG_ACS, &ci), -EINVAL);
	assert_true(src.bytes <= 2);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_root_port),	   cmocka_unit_test(test_short_reads),
	    cmocka_unit_test(test_hostile_lists),  cmocka_unit_test(test_conventional),
	    cmocka_unit_test(test_targeted_reads),
	};
	return cmocka_run_group_tests_name("pcicfg", tests, NULL, NULL);
}
