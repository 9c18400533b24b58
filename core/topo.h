/* SPDX-License-Identifier: MIT */
/*
 * topo.h - PCIe topology discovered from sysfs.
 *
 * Everything is read relative to a filesystem root directory fd (the real "/" or
 * a captured snapshot, like hwloc's HWLOC_FSROOT), so tests run on fixture trees.
 * Every file read is untrusted: bounded, validated, and a missing or malformed
 * file degrades that one fact to "unknown" instead of failing the scan.
 */
#pragma once

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOPO_BDF_LEN 24	     /* "ffffffff:ff:1f.7" + NUL, with room */
#define TOPO_HB_NAME_LEN 32  /* "pci10000:00" */
#define TOPO_MAX_FUNCS 65536 /* hard cap on functions scanned */
#define TOPO_MAX_DEPTH 64    /* deeper chains are cut (and warned about) */
#define TOPO_NBARS 6
#define TOPO_CPULIST_LEN 128  /* longest local_cpulist kept */
#define TOPO_GPU_NODES_LEN 96 /* longest gpu_nodes list kept */

enum topo_acs {
	TOPO_ACS_UNKNOWN = 0, /* config space not readable past 64 bytes */
	TOPO_ACS_ABSENT,      /* extended config readable, no ACS capability */
	TOPO_ACS_PRESENT,     /* acs_cap/acs_ctrl valid */
};

/* Role of a function, from the PCIe port type or, without it, the class code. */
enum topo_kind {
	TOPO_KIND_ENDPOINT = 0,
	TOPO_KIND_ROOT_PORT,
	TOPO_KIND_SWITCH_UP,
	TOPO_KIND_SWITCH_DOWN,
	TOPO_KIND_BRIDGE,      /* other or unknown bridge (PCI-PCI, PCIe-PCI ...) */
	TOPO_KIND_HOST_BRIDGE, /* class 0x0600 */
};

struct topo_bar {
	uint64_t start, end, flags; /* from "resource"; end == 0 means unused */
};

struct topo_func {
	char bdf[TOPO_BDF_LEN]; /* dddd:bb:dd.f, domain as wide as it is */
	uint32_t domain;
	uint8_t bus, dev, fn;
	int idx;    /* index in topo->funcs */
	int parent; /* index of the upstream bridge, -1 on a root bus */
	int hb;	    /* index in topo->hbs */
	int depth;  /* 0 on a root bus */
	uint16_t vendor, device, subsys_vendor, subsys_device;
	uint32_t class_code; /* 24-bit class/subclass/prog-if; UINT32_MAX unknown */
	int numa_node;	     /* -1 unknown */
	int iommu_group;     /* -1 none/unknown */
	char driver[64];     /* "" when unbound or unreadable */
	char *local_cpus;    /* local_cpulist (malloc'd), NULL unknown */
	struct topo_bar bars[TOPO_NBARS];
	double cur_speed_gts, max_speed_gts; /* 0 unknown */
	int cur_width, max_width;	     /* 0 unknown */
	int sec_bus, sub_bus;		     /* bridges only, -1 unknown/invalid */
	bool is_bridge;			     /* has a secondary bus (type 1 header or children) */
	bool in_bus_list;		     /* present in bus/pci/devices */
	bool in_tree;			     /* present under devices/pci* */
	int cfg_size;			     /* bytes of config readable (0 none) */
	uint32_t cfg_bytes_read;	     /* bytes read from its config file */
	int pcie_type;			     /* PCI_EXP_TYPE_*, -1 unknown/not PCIe */
	enum topo_kind kind;
	enum topo_acs acs;
	uint16_t acs_cap, acs_ctrl;
	bool acs_redir;	 /* ACS ctrl has RR, CR or EC (kernel's rule) */
	char *gpu_nodes; /* "card0,renderD128" from gpu.h (malloc'd), NULL none */
};

struct topo_hostbridge {
	char name[TOPO_HB_NAME_LEN]; /* "pci0000:17" */
	uint32_t domain;
	uint8_t bus;
	int hbdev;     /* index of the kernel's "host bridge device", -1 none */
	int numa_node; /* of the first function with one, -1 unknown */
};

enum topo_cpu_vendor {
	TOPO_CPU_UNKNOWN = 0,
	TOPO_CPU_AMD,
	TOPO_CPU_INTEL,
	TOPO_CPU_OTHER,
};

struct topo_cpu {
	enum topo_cpu_vendor vendor;
	int family;	    /* -1 unknown */
	char vendor_id[32]; /* as in /proc/cpuinfo, "" unknown */
	bool from_override; /* --cpu VENDOR:FAMILY */
};

struct topo {
	struct topo_func *funcs; /* sorted by (domain, bus, dev, fn) */
	int nfuncs;
	struct topo_hostbridge *hbs;
	int nhbs;
	struct topo_cpu cpu;
	char **warnings; /* quirks met while scanning, for humans */
	int nwarnings;
	bool live;		 /* read from a live sysfs (else a snapshot) */
	uint64_t cfg_bytes_read; /* config bytes read, all functions together */
};

/* How config space is read (see topo.c read_config()). */
enum topo_read_mode {
	TOPO_READ_AUTO = 0, /* LIVE when sys/ is a sysfs mount, else SNAPSHOT */
	TOPO_READ_LIVE,	    /* small reads of the registers sysfs lacks; trust the kernel's
			       attribute visibility (PCIe: link attributes; bridges: bus numbers) */
	TOPO_READ_SNAPSHOT, /* config files are plain bytes: read whole */
};

struct topo_opts {
	const char *cpu_override; /* "amd:0x17", "intel:6", NULL = from cpuinfo */
	bool no_gpu;		  /* skip libdrm enumeration */
	enum topo_read_mode read_mode;
	unsigned skip; /* TOPO_SKIP_*: facts the caller will not look at */
	int threads;   /* host bridges' subtrees walked in parallel by up to this many
			  threads; 0: the online CPUs (at most 8) on trees of 512
			  functions or more, else 1 (serial).  Same result either way. */
};

/* Facts a caller may leave unread (they stay empty/unknown).  No verdict uses
 * them; the JSON topology and the daemon do. */
enum {
	TOPO_SKIP_BARS = 1 << 0,   /* bars[] ("resource") */
	TOPO_SKIP_CPUS = 1 << 1,   /* local_cpus ("local_cpulist") */
	TOPO_SKIP_IOMMU = 1 << 2,  /* iommu_group */
	TOPO_SKIP_DRIVER = 1 << 3, /* driver */
};

/*
 * topo_scan() - discover the PCI topology under @rootfd (an O_PATH/O_DIRECTORY
 * fd of the filesystem root: holds sys/ and optionally proc/).
 * Returns 0 and stores a new topology in *ret_topo (free with topo_free()), or
 * -errno: -ENOENT when <root>/sys/bus/pci/devices and <root>/sys/devices hold no
 * PCI functions at all, -ENOMEM, -E2BIG beyond TOPO_MAX_FUNCS, -EINVAL for a
 * bad cpu override.  Quirks never fail the scan; they land in topo->warnings.
 */
int topo_scan(int rootfd, const struct topo_opts *opts, struct topo **ret_topo);
void topo_free(struct topo *t);

/* Add a printf-formatted quirk to @t->warnings (at most 256 are kept; a
 * warning that cannot be allocated is dropped). */
void topo_warn(struct topo *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Index of the function with this BDF ("0000:03:00.0", or short "03:00.0"
 * meaning domain 0), or -1. */
int topo_find(const struct topo *t, const char *bdf);

/* Parse "[dddd:]bb:dd.f" into its parts; 0 or -EINVAL. */
int topo_parse_bdf(const char *s, uint32_t *domain, uint8_t *bus, uint8_t *dev, uint8_t *fn);

/* Parse a "VENDOR:FAMILY" CPU override ("amd:0x17", "intel:6"); 0 or -EINVAL. */
int topo_parse_cpu(const char *s, struct topo_cpu *ret_cpu);

/* Human kind name ("root-port", "switch-up", ...) and class description. */
const char *topo_kind_name(enum topo_kind k);
const char *topo_class_name(uint32_t class_code);

/* True for endpoints p2p users care about: GPUs/display, NVMe/storage,
 * network, processing accelerators, memory controllers (CXL), co-processors. */
bool topo_is_p2p_relevant(const struct topo_func *f);

/* Open the directory @rel below @dirfd as a stream (close with closedir()).
 * Returns 1 and *ret_dir, 0 when it does not exist (an absent part of a
 * snapshot is empty, not an error), or -errno. */
int topo_opendir(int dirfd, const char *rel, DIR **ret_dir);

/* GB/s of a link (speed in GT/s x width, with line encoding); 0 unknown. */
double topo_link_gbps(double gts, int width);
