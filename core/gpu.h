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

struct topo;

/* Name each function of @t that has DRM nodes in its gpu_nodes
 * ("card0,renderD128"), from the ops in force; a failed enumeration is a
 * warning of @t.  topo_scan() calls it unless told no_gpu. */
void gpu_attach(int rootfd, struct topo *t);

/* The ops topo_scan() uses; tests swap in their own with gpu_set_ops(). NULL
 * restores libdrm. */
void gpu_set_ops(const struct gpu_ops *ops);
const struct gpu_ops *gpu_get_ops(void);
