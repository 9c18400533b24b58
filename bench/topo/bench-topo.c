/* SPDX-License-Identifier: MIT */
/*
 * bench-topo.c - time topology discovery and the verdict matrix on a sysfs tree.
 *
 *   bench-topo [--runs N] [--sample N] [--cpu VENDOR:FAMILY] [--mode auto|live|snapshot] ROOT
 *
 * ROOT is a filesystem root as topo_scan() takes it (a gen-fabric.py tree, or / for this
 * machine's own sysfs).  Prints one line of key=value pairs (for bench/topo/run.sh) and
 * exits 0, or prints an error and exits 1:
 *   functions  host_bridges  scan_ms (best of N topo_scan + topo_free)
 *   live       1 when config space was read as a live sysfs (small reads), 0 snapshot
 *   cfg_bytes  config bytes one scan read (topo->cfg_bytes_read), cfg_bytes_per_func
 *   ctx_ms     (verdict_ctx_new, best of N)
 *   pairs      fast_ms  (verdict_fast over all ordered pairs, ctx included, best of N)
 *   quick_ms   (verdict_quick over all ordered pairs: map/distance/class after overrides)
 *   pair_us    (verdict_pair, full verdict with reasons, per pair over a sample)
 *   bus_addr thru not_supported  (counts over all pairs: a checksum the compiler must keep)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "topo.h"
#include "verdict.h"

struct bench_opts {
	int runs;
	long sample;
	const char *cpu;
	const char *root;
	enum topo_read_mode mode;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int parse_argv(int argc, char **argv, struct bench_opts *o)
{
	o->runs = 5;
	o->sample = 20000;
	o->cpu = "amd:0x17";
	o->root = NULL;
	o->mode = TOPO_READ_AUTO;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char *end;

		if ((strcmp(a, "--runs") == 0 || strcmp(a, "--sample") == 0) && i + 1 < argc) {
			long v;

			errno = 0;
			v = strtol(argv[++i], &end, 10);
			if (errno || *end || v < 1 || v > 100000000) {
				fprintf(stderr, "bench-topo: bad %s value '%s'\n", a, argv[i]);
				return -EINVAL;
			}
			if (strcmp(a, "--runs") == 0) {
				if (v > 1000)
					return -EINVAL;
				o->runs = (int)v;
			} else {
				o->sample = v;
			}
		} else if (strcmp(a, "--cpu") == 0 && i + 1 < argc) {
			o->cpu = argv[++i];
		} else if (strcmp(a, "--mode") == 0 && i + 1 < argc) {
			const char *m = argv[++i];

			if (strcmp(m, "auto") == 0) {
				o->mode = TOPO_READ_AUTO;
			} else if (strcmp(m, "live") == 0) {
				o->mode = TOPO_READ_LIVE;
			} else if (strcmp(m, "snapshot") == 0) {
				o->mode = TOPO_READ_SNAPSHOT;
			} else {
				fprintf(stderr, "bench-topo: bad --mode '%s'\n", m);
				return -EINVAL;
			}
		} else if (a[0] != '-' && !o->root) {
			o->root = a;
		} else {
			fputs("usage: bench-topo [--runs N] [--sample N] [--cpu VENDOR:FAM] "
			      "[--mode auto|live|snapshot] ROOT\n",
			      stderr);
			return -EINVAL;
		}
	}
	if (!o->root) {
		fprintf(stderr, "bench-topo: ROOT missing\n");
		return -EINVAL;
	}
	return 0;
}

struct counts {
	long long map[3];
	long long dist_sum;
};

static void matrix_fast(const struct verdict_ctx *ctx, int n, struct counts *c)
{
	memset(c, 0, sizeof(*c));
	for (int p = 0; p < n; p++)
		for (int q = 0; q < n; q++) {
			int d = 0;
			enum verdict_map m = verdict_fast(ctx, p, q, &d);

			c->map[m < 3 ? m : 0]++;
			c->dist_sum += d;
		}
}

static void matrix_quick(const struct verdict_ctx *ctx, int n, struct counts *c)
{
	memset(c, 0, sizeof(*c));
	for (int p = 0; p < n; p++)
		for (int q = 0; q < n; q++) {
			enum verdict_map m = VERDICT_NOT_SUPPORTED;
			enum verdict_class cls = VERDICT_CLASS_X;
			int d = 0;

			verdict_quick(ctx, p, q, &m, &d, &cls);
			c->map[m < 3 ? m : 0]++;
			c->dist_sum += d + (int)cls;
		}
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct topo_opts topts = {0};
	double best_scan = 1e300, best_ctx = 1e300, best_fast = 1e300, best_quick = 1e300;
	double pair_us = 0;
	struct counts cf = {0}, cq = {0};
	struct topo *t = NULL;
	struct verdict_ctx *ctx = NULL;
	int rootfd, r, n;
	long npairs_sample = 0;
	long long sink = 0;

	if (parse_argv(argc, argv, &o) < 0)
		return 1;
	rootfd = open(o.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		fprintf(stderr, "bench-topo: %s: %s\n", o.root, strerror(errno));
		return 1;
	}
	topts.cpu_override = o.cpu;
	topts.read_mode = o.mode;
	topts.no_gpu = true;

	for (int i = 0; i < o.runs; i++) {
		struct topo *tt = NULL;
		double t0 = now_ms();

		r = topo_scan(rootfd, &topts, &tt);
		if (r < 0) {
			fprintf(stderr, "bench-topo: topo_scan(%s): %s\n", o.root, strerror(-r));
			close(rootfd);
			return 1;
		}
		topo_free(tt);
		double dt = now_ms() - t0;
		if (dt < best_scan)
			best_scan = dt;
	}
	r = topo_scan(rootfd, &topts, &t);
	close(rootfd);
	if (r < 0) {
		fprintf(stderr, "bench-topo: topo_scan: %s\n", strerror(-r));
		return 1;
	}
	n = t->nfuncs;

	for (int i = 0; i < o.runs; i++) {
		double t0 = now_ms();

		r = verdict_ctx_new(t, NULL, 0, NULL, 0, &ctx);
		if (r < 0) {
			fprintf(stderr, "bench-topo: verdict_ctx_new: %s\n", strerror(-r));
			topo_free(t);
			return 1;
		}
		double t1 = now_ms();
		matrix_fast(ctx, n, &cf);
		double t2 = now_ms();
		if (t1 - t0 < best_ctx)
			best_ctx = t1 - t0;
		if (t2 - t0 < best_fast)
			best_fast = t2 - t0;
		if (i + 1 < o.runs) {
			verdict_ctx_free(ctx);
			ctx = NULL;
		}
	}
	for (int i = 0; i < o.runs; i++) {
		double t0 = now_ms();

		matrix_quick(ctx, n, &cq);
		double dt = now_ms() - t0;
		if (dt < best_quick)
			best_quick = dt;
	}
	if (cq.map[0] != cf.map[0] || cq.map[1] != cf.map[1] || cq.map[2] != cf.map[2]) {
		fprintf(stderr, "bench-topo: verdict_quick and verdict_fast disagree on map types "
				"(no overrides were given)\n");
		verdict_ctx_free(ctx);
		topo_free(t);
		return 1;
	}

	/* Full verdicts (path, reasons, sentences) on a strided sample of pairs. */
	{
		struct verdict *v = malloc(sizeof(*v));
		long long total = (long long)n * n;
		long long step = total / o.sample > 1 ? total / o.sample : 1;

		if (!v) {
			verdict_ctx_free(ctx);
			topo_free(t);
			return 1;
		}
		double t0 = now_ms();
		for (long long k = 0; k < total; k += step) {
			verdict_pair(ctx, (int)(k / n), (int)(k % n), v);
			sink += v->nreasons + v->kernel_distance;
			npairs_sample++;
		}
		double dt = now_ms() - t0;
		pair_us = npairs_sample ? dt * 1e3 / (double)npairs_sample : 0;
		free(v);
	}

	printf("functions=%d host_bridges=%d scan_ms=%.3f live=%d cfg_bytes=%llu "
	       "cfg_bytes_per_func=%.1f ctx_ms=%.3f pairs=%lld fast_ms=%.3f "
	       "quick_ms=%.3f pair_us=%.3f sample=%ld bus_addr=%lld thru=%lld not_supported=%lld "
	       "warnings=%d checksum=%lld\n",
	       n, t->nhbs, best_scan, t->live ? 1 : 0, (unsigned long long)t->cfg_bytes_read,
	       n ? (double)t->cfg_bytes_read / n : 0.0, best_ctx, (long long)n * n, best_fast,
	       best_quick, pair_us, npairs_sample, cf.map[VERDICT_BUS_ADDR],
	       cf.map[VERDICT_THRU_HOST_BRIDGE], cf.map[VERDICT_NOT_SUPPORTED], t->nwarnings,
	       sink + cf.dist_sum + cq.dist_sum);
	verdict_ctx_free(ctx);
	topo_free(t);
	return 0;
}
