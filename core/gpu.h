/* SPDX-License-Identifier: MIT */
/*
 * gpu.h - DRM devices (card/render nodes) mapped to PCI BDFs, via libdrm's
 * drmGetDevices2().  Kept behind this header so tests substitute it.
 */
#pragma once

#define GPU_NODE_LEN 48

struct gpu_node {
	char bdf[24];		   /* dddd:bb:dd.f */
	char card[GPU_NODE_LEN];   /* "card0" or "" */
	char render[GPU_NODE_LEN]; /* "renderD128" or "" */
};

struct gpu_ops {
	/*
	 * Fill up to @max entries; returns the count (>= 0) or -errno.  On the real
	 * root (@real_root) the libdrm implementation asks drmGetDevices2(); on a
	 * snapshot it reads <root>/sys/class/drm/ links instead.
	 */
	int (*enumerate)(int rootfd, int real_root, struct gpu_node *nodes, int max);
};

/* The libdrm implementation. */
extern const struct gpu_ops gpu_ops_drm;

/* The ops topo_scan() uses; tests swap in their own with gpu_set_ops(). NULL
 * restores libdrm. */
void gpu_set_ops(const struct gpu_ops *ops);
const struct gpu_ops *gpu_get_ops(void);
