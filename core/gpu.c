// SPDX-License-Identifier: MIT
/*
 * gpu.c - DRM card/render nodes by PCI BDF.  On the live system libdrm's
 * drmGetDevices2() answers; on a snapshot (--fsroot) the sys/class/drm links
 * captured with it are read instead, since libdrm only knows the live /dev.
 */
#include "gpu.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xf86drm.h>

#include "sysattr.h"
#include "topo.h"

#define GPU_MAX_DRM 64

static const char *node_base(const char *path)
{
	const char *b = strrchr(path, '/');
	return b ? b + 1 : path;
}

static int gpu_slot(struct gpu_node *nodes, int *n, int max, const char *bdf)
{
	for (int i = 0; i < *n; i++)
		if (!strcmp(nodes[i].bdf, bdf))
			return i;
	if (*n >= max)
		return -1;
	memset(&nodes[*n], 0, sizeof(nodes[*n]));
	snprintf(nodes[*n].bdf, sizeof(nodes[*n].bdf), "%s", bdf);
	return (*n)++;
}

static int enumerate_drm(struct gpu_node *nodes, int max)
{
	drmDevicePtr devs[GPU_MAX_DRM];
	int nd = drmGetDevices2(0, devs, GPU_MAX_DRM);
	if (nd < 0)
		return (nd == -ENODEV || nd == -ENOENT) ? 0 : nd; /* no DRM at all */
	int n = 0;
	for (int i = 0; i < nd && i < GPU_MAX_DRM; i++) {
		drmDevicePtr d = devs[i];
		if (d->bustype != DRM_BUS_PCI || !d->businfo.pci)
			continue;
		char bdf[24];
		snprintf(bdf, sizeof(bdf), "%04x:%02x:%02x.%x", d->businfo.pci->domain,
			 d->businfo.pci->bus, d->businfo.pci->dev, d->businfo.pci->func);
		int s = gpu_slot(nodes, &n, max, bdf);
		if (s < 0)
			break;
		if (d->available_nodes & (1 << DRM_NODE_PRIMARY))
			snprintf(nodes[s].card, sizeof(nodes[s].card), "%s",
				 node_base(d->nodes[DRM_NODE_PRIMARY]));
		if (d->available_nodes & (1 << DRM_NODE_RENDER))
			snprintf(nodes[s].render, sizeof(nodes[s].render), "%s",
				 node_base(d->nodes[DRM_NODE_RENDER]));
	}
	drmFreeDevices(devs, nd < GPU_MAX_DRM ? nd : GPU_MAX_DRM);
	return n;
}

/* Snapshot: sys/class/drm/<node>/device -> ../../../<BDF> (or the class link
 * itself points into the device tree: .../<BDF>/drm/<node>). */
static int enumerate_snapshot(int rootfd, struct gpu_node *nodes, int max)
{
	DIR *d;
	int n = topo_opendir(rootfd, "sys/class/drm", &d);
	if (n <= 0)
		return n;
	int dfd = dirfd(d);
	n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		bool card = !strncmp(de->d_name, "card", 4) && !strchr(de->d_name, '-');
		bool render = !strncmp(de->d_name, "renderD", 7);
		if (!card && !render)
			continue;
		char target[PATH_MAX];
		ssize_t len = readlinkat(dfd, de->d_name, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		/* .../0000:03:00.0/drm/card0: the component before "drm". */
		char *drm = strstr(target, "/drm/");
		if (!drm)
			continue;
		*drm = '\0';
		const char *bdf = node_base(target);
		uint32_t dom;
		uint8_t bus, dev, fn;
		if (topo_parse_bdf(bdf, &dom, &bus, &dev, &fn) < 0)
			continue;
		char norm[24];
		snprintf(norm, sizeof(norm), "%04x:%02x:%02x.%x", dom, bus, dev, fn);
		int s = gpu_slot(nodes, &n, max, norm);
		if (s < 0)
			break;
		size_t nlen = strlen(de->d_name);
		if (nlen < GPU_NODE_LEN)
			memcpy(card ? nodes[s].card : nodes[s].render, de->d_name, nlen + 1);
	}
	closedir(d);
	return n;
}

static int gpu_enumerate(int rootfd, int real_root, struct gpu_node *nodes, int max)
{
	if (max <= 0)
		return 0;
	return real_root ? enumerate_drm(nodes, max) : enumerate_snapshot(rootfd, nodes, max);
}

const struct gpu_ops gpu_ops_drm = {
    .enumerate = gpu_enumerate,
};

static const struct gpu_ops *gpu_current = &gpu_ops_drm;

void gpu_set_ops(const struct gpu_ops *ops)
{
	gpu_current = ops ? ops : &gpu_ops_drm;
}

const struct gpu_ops *gpu_get_ops(void)
{
	return gpu_current;
}

void gpu_attach(int rootfd, struct topo *t)
{
	const struct gpu_ops *ops = gpu_get_ops();
	struct gpu_node nodes[GPU_MAX_DRM];
	bool real = sysattr_is_real_root(rootfd);
	int n = ops && ops->enumerate ? ops->enumerate(rootfd, real, nodes, GPU_MAX_DRM) : 0;
	if (n < 0) {
		topo_warn(t, "DRM devices not enumerated: %s", strerror(-n));
		return;
	}
	for (int i = 0; i < n; i++) {
		int f = topo_find(t, nodes[i].bdf);
		if (f < 0)
			continue;
		char **list = &t->funcs[f].gpu_nodes, buf[TOPO_GPU_NODES_LEN];
		size_t len = (size_t)snprintf(buf, sizeof(buf), "%s", *list ? *list : "");
		const char *parts[2] = {nodes[i].card, nodes[i].render};
		for (int k = 0; k < 2 && len < sizeof(buf); k++) {
			if (!parts[k][0])
				continue;
			int w = snprintf(buf + len, sizeof(buf) - len, "%s%s", len ? "," : "",
					 parts[k]);
			if (w < 0 || (size_t)w >= sizeof(buf) - len) {
				buf[len] = '\0'; /* whole names only */
				break;
			}
			len += (size_t)w;
		}
		char *dup = len ? strdup(buf) : NULL;
		if (dup) {
			free(*list);
			*list = dup;
		}
	}
}
