// SPDX-License-Identifier: MIT
/*
 * topo.c - discover the PCI topology from sysfs under a root directory fd.
 *
 * Two sources, merged: the device tree (sys/devices/pci<dom>:<bus>/...), whose
 * nesting gives each function's upstream bridge, and the flat bus list
 * (sys/bus/pci/devices/<BDF>), which copied or partial snapshots sometimes hold
 * alone.  When a function has no place in the tree, its parent is taken from the
 * path its bus-list link names, else from bridge bus ranges (as the kernel's
 * own bus numbering implies).
 */
#include "topo.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <linux/pci_regs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gpu.h"
#include "sysattr.h"
#include "topo-func.h"

#define MAX_WARNINGS 256
#define NO_KEY UINT64_MAX

struct scan {
	int rootfd;
	struct topo *t;
	int cap_funcs;
	uint64_t *parent_key; /* per func (pre-sort): key of the upstream bridge or NO_KEY */
	int cap_hbs;
	int *hash;		 /* open addressing: func index + 1, 0 empty */
	size_t hash_size;	 /* power of two, at least 2x the functions */
	struct topo_func_src rd; /* how functions are read */
	int threads;		 /* topo_opts.threads */
};

static uint64_t bdf_key(uint32_t domain, uint8_t bus, uint8_t dev, uint8_t fn)
{
	return ((uint64_t)domain << 16) | ((uint64_t)bus << 8) | ((uint64_t)dev << 3) | fn;
}

static uint64_t func_key(const struct topo_func *f)
{
	return bdf_key(f->domain, f->bus, f->dev, f->fn);
}

void topo_warn(struct topo *t, const char *fmt, ...)
{
	if (t->nwarnings >= MAX_WARNINGS)
		return;
	if (!t->warnings) {
		t->warnings = calloc(MAX_WARNINGS, sizeof(char *));
		if (!t->warnings)
			return;
	}
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) >= 0)
		t->warnings[t->nwarnings++] = s;
	va_end(ap);
}

int topo_parse_bdf(const char *s, uint32_t *domain, uint8_t *bus, uint8_t *dev, uint8_t *fn)
{
	unsigned long d = 0, b, v, f;
	char *end;
	const char *p = s;
	if (!s)
		return -EINVAL;
	size_t len = strnlen(s, TOPO_BDF_LEN);
	if (len == 0 || len >= TOPO_BDF_LEN)
		return -EINVAL;
	int colons = 0;
	for (size_t i = 0; i < len; i++)
		colons += s[i] == ':';
	if (colons == 2) {
		if (!isxdigit((unsigned char)*p))
			return -EINVAL;
		d = strtoul(p, &end, 16);
		if (*end != ':' || end - p > 8)
			return -EINVAL;
		p = end + 1;
	} else if (colons != 1) {
		return -EINVAL;
	}
	if (!isxdigit((unsigned char)p[0]))
		return -EINVAL;
	b = strtoul(p, &end, 16);
	if (*end != ':' || end - p > 2)
		return -EINVAL;
	p = end + 1;
	if (!isxdigit((unsigned char)p[0]))
		return -EINVAL;
	v = strtoul(p, &end, 16);
	if (*end != '.' || end - p > 2 || v > 0x1f)
		return -EINVAL;
	p = end + 1;
	if (p[0] < '0' || p[0] > '7' || p[1] != '\0')
		return -EINVAL;
	f = (unsigned long)(p[0] - '0');
	*domain = (uint32_t)d;
	*bus = (uint8_t)b;
	*dev = (uint8_t)v;
	*fn = (uint8_t)f;
	return 0;
}

/* "pci0000:00" -> domain, bus */
static int parse_hb_name(const char *s, uint32_t *domain, uint8_t *bus)
{
	if (strncmp(s, "pci", 3) != 0 || strlen(s) >= TOPO_HB_NAME_LEN)
		return -EINVAL;
	char *end;
	const char *p = s + 3;
	if (!isxdigit((unsigned char)*p))
		return -EINVAL;
	unsigned long d = strtoul(p, &end, 16);
	if (*end != ':' || end - p > 8)
		return -EINVAL;
	p = end + 1;
	if (!isxdigit((unsigned char)*p))
		return -EINVAL;
	unsigned long b = strtoul(p, &end, 16);
	if (*end || end - p > 2)
		return -EINVAL;
	*domain = (uint32_t)d;
	*bus = (uint8_t)b;
	return 0;
}

static int hb_get(struct scan *s, uint32_t domain, uint8_t bus)
{
	struct topo *t = s->t;
	for (int i = 0; i < t->nhbs; i++)
		if (t->hbs[i].domain == domain && t->hbs[i].bus == bus)
			return i;
	if (t->nhbs == s->cap_hbs) {
		int cap = s->cap_hbs ? s->cap_hbs * 2 : 8;
		struct topo_hostbridge *n = realloc(t->hbs, (size_t)cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		t->hbs = n;
		s->cap_hbs = cap;
	}
	struct topo_hostbridge *h = &t->hbs[t->nhbs];
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "pci%04x:%02x", domain, bus);
	h->domain = domain;
	h->bus = bus;
	h->hbdev = -1;
	h->numa_node = -1;
	return t->nhbs++;
}

static size_t hash_slot(const struct scan *s, uint64_t key)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & (s->hash_size - 1);
}

/* Index of the function with @key among those scanned so far, or -1. */
static int find_unsorted(const struct scan *s, uint64_t key)
{
	if (!s->hash_size)
		return -1;
	for (size_t h = hash_slot(s, key);; h = (h + 1) & (s->hash_size - 1)) {
		int i = s->hash[h] - 1;
		if (i < 0)
			return -1;
		if (func_key(&s->t->funcs[i]) == key)
			return i;
	}
}

static int hash_insert(struct scan *s, int idx)
{
	if ((size_t)s->t->nfuncs * 2 >= s->hash_size) {
		size_t size = s->hash_size ? s->hash_size * 2 : 256;
		int *nh = calloc(size, sizeof(int));
		if (!nh)
			return -ENOMEM;
		free(s->hash);
		s->hash = nh;
		s->hash_size = size;
		for (int i = 0; i < s->t->nfuncs; i++)
			if (i != idx)
				hash_insert(s, i);
	}
	size_t h = hash_slot(s, func_key(&s->t->funcs[idx]));
	while (s->hash[h])
		h = (h + 1) & (s->hash_size - 1);
	s->hash[h] = idx + 1;
	return 0;
}

/* Room for @cap functions in all (never less than there are). */
static int funcs_reserve(struct scan *s, int cap)
{
	struct topo_func *nf = realloc(s->t->funcs, (size_t)cap * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	s->t->funcs = nf;
	uint64_t *np = realloc(s->parent_key, (size_t)cap * sizeof(*np));
	if (!np)
		return -ENOMEM;
	s->parent_key = np;
	s->cap_funcs = cap;
	return 0;
}

/* Room for one more function at the end (not yet sorted): its index, or
 * -errno.  The caller fills it and parent_key[], then hash_insert(). */
static int func_slot(struct scan *s)
{
	struct topo *t = s->t;
	if (t->nfuncs >= TOPO_MAX_FUNCS)
		return -E2BIG;
	if (t->nfuncs == s->cap_funcs) {
		int r = funcs_reserve(s, s->cap_funcs ? s->cap_funcs * 2 : 64);
		if (r < 0)
			return r;
	}
	return t->nfuncs++;
}

/* The strings a function owns. */
static void func_free_strings(struct topo_func *f)
{
	free(f->local_cpus);
	free(f->gpu_nodes);
}

/* Append a function (not yet sorted).  Returns its index or -errno. */
static int func_add(struct scan *s, uint32_t domain, uint8_t bus, uint8_t dev, uint8_t fn,
		    uint64_t parent_key, int hb)
{
	int i = func_slot(s);
	if (i < 0)
		return i;
	struct topo_func *f = &s->t->funcs[i];
	memset(f, 0, sizeof(*f));
	f->domain = domain;
	f->bus = bus;
	f->dev = dev;
	f->fn = fn;
	f->hb = hb;
	f->parent = -1;
	snprintf(f->bdf, sizeof(f->bdf), "%04x:%02x:%02x.%x", domain, bus, dev, fn);
	s->parent_key[i] = parent_key;
	int r = hash_insert(s, i);
	return r < 0 ? r : i;
}

/* Walk one directory of the device tree: subdirectories named as BDFs are
 * functions below @parent_key, ones named pci<dom>:<bus> are new root buses
 * (VMD and similar).  Symlinks are never followed. */
static int walk_tree_take(struct scan *s, int dirfd, uint64_t parent_key, int hb, int depth);

/* Root bus directory @name (pci<@dom>:<@bus>) of @dirfd, walked as a host
 * bridge of its own.  One that does not open is not part of the tree. */
static int walk_root_bus(struct scan *s, int dirfd, const char *name, uint32_t dom, uint8_t bus,
			 int depth)
{
	int hfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (hfd < 0)
		return 0;
	int h = hb_get(s, dom, bus);
	if (h < 0) {
		close(hfd);
		return h;
	}
	return walk_tree_take(s, hfd, NO_KEY, h, depth);
}

/* One entry of a tree directory: a function (recursed into when it can have
 * children) or a nested root bus. */
static int walk_entry(struct scan *s, int dirfd, const char *name, uint64_t parent_key, int hb,
		      int depth)
{
	uint32_t dom;
	uint8_t bus, dev, fn;
	bool is_func = topo_parse_bdf(name, &dom, &bus, &dev, &fn) == 0 &&
		       strchr(name, ':') != strrchr(name, ':');
	if (!is_func)
		return parse_hb_name(name, &dom, &bus) == 0
			   ? walk_root_bus(s, dirfd, name, dom, bus, depth + 1)
			   : 0;
	int cfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cfd < 0)
		return 0; /* a symlink or vanished: not part of the tree */
	int r = 0;
	if (find_unsorted(s, bdf_key(dom, bus, dev, fn)) >= 0) {
		topo_warn(s->t, "%s: appears twice in the device tree", name);
	} else {
		int i = func_add(s, dom, bus, dev, fn, parent_key, hb);
		if (i < 0) {
			r = i;
		} else {
			struct topo_func *f = &s->t->funcs[i];
			f->in_tree = true;
			topo_func_read(&s->rd, cfd, f);
			/* Only bridges, and RAID-class controllers that host their
			 * own root bus (Intel VMD is 0x0104), have PCI functions
			 * below them; other endpoints' directories are not read.
			 * A domain hidden below some other class is still found
			 * through /sys/bus/pci (in_tree false). */
			if (f->is_bridge || f->class_code == UINT32_MAX ||
			    (f->class_code >> 8) == 0x0104)
				return walk_tree_take(s, cfd, bdf_key(dom, bus, dev, fn), hb,
						      depth + 1);
		}
	}
	close(cfd);
	return r;
}

/* Walk one directory of the device tree: subdirectories named as BDFs are
 * functions below @parent_key, ones named pci<dom>:<bus> are new root buses
 * (VMD and similar).  Symlinks are never followed.  Takes @dirfd (closed). */
static int walk_tree_take(struct scan *s, int dirfd, uint64_t parent_key, int hb, int depth)
{
	if (depth > TOPO_MAX_DEPTH) {
		topo_warn(s->t, "device tree deeper than %d levels; cut", TOPO_MAX_DEPTH);
		close(dirfd);
		return 0;
	}
	DIR *d = fdopendir(dirfd);
	if (!d) {
		int err = -errno;
		close(dirfd);
		return err;
	}
	int r = 0;
	struct dirent *de;
	errno = 0;
	while (r >= 0 && (de = readdir(d))) {
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		r = walk_entry(s, dirfd, de->d_name, parent_key, hb, depth);
		errno = 0;
	}
	if (r >= 0 && errno && errno != EINTR)
		r = -errno;
	closedir(d);
	return r;
}

int topo_opendir(int dirfd, const char *rel, DIR **ret_dir)
{
	int dfd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		int err = errno;
		close(dfd);
		return -err;
	}
	*ret_dir = d;
	return 1;
}

/*
 * Big trees: the host bridges' subtrees are walked in parallel, each into a
 * partial topology of its own (struct sub), then merged in the order of the
 * serial walk, so that the result (host bridge numbering, function order
 * before sorting, warnings) is the serial walk's.  A function met in two
 * subtrees makes the merge give up: the serial walk then runs (it warns and
 * skips the second one, as always).
 */
#define SCAN_PARALLEL_MIN_FUNCS 512 /* bus-list entries from which it pays */
#define SCAN_MAX_THREADS 8

struct sub {
	struct scan s;
	struct topo t; /* funcs, local host bridges (0: this one), warnings, bytes */
	int dfd;       /* sys/devices */
	const char *name;
	bool absent; /* its directory could not be opened: not part of the tree */
	int r;
};

struct sub_pool {
	struct sub *subs;
	int n;
	atomic_int next;
};

struct hb_dir {
	char name[NAME_MAX + 1];
	uint32_t dom;
	uint8_t bus;
};

static void sub_free(struct sub *u)
{
	for (int i = 0; i < u->t.nfuncs; i++)
		func_free_strings(&u->t.funcs[i]);
	free(u->t.funcs);
	free(u->t.hbs);
	for (int i = 0; i < u->t.nwarnings; i++)
		free(u->t.warnings[i]);
	free(u->t.warnings);
	free(u->s.parent_key);
	free(u->s.hash);
}

static void *sub_worker(void *arg)
{
	struct sub_pool *p = arg;
	for (int i; (i = atomic_fetch_add(&p->next, 1)) < p->n;) {
		struct sub *u = &p->subs[i];
		int hfd = openat(u->dfd, u->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (hfd < 0)
			u->absent = true;
		else
			u->r = walk_tree_take(&u->s, hfd, NO_KEY, 0, 0);
	}
	return NULL;
}

/* Threads for @nsubs subtrees: opts->threads, or (0) the online CPUs on a
 * tree of SCAN_PARALLEL_MIN_FUNCS functions or more; 1 means serial. */
static int scan_threads(const struct scan *s, int nsubs)
{
	int want = s->threads;
	if (nsubs < 2)
		return 1;
	if (want == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		DIR *d;
		int n = 0;
		if (cpus < 2 || topo_opendir(s->rootfd, "sys/bus/pci/devices", &d) <= 0)
			return 1;
		while (readdir(d) && n < SCAN_PARALLEL_MIN_FUNCS + 2)
			n++;
		closedir(d);
		want = n - 2 >= SCAN_PARALLEL_MIN_FUNCS ? (int)cpus : 1;
	}
	if (want > SCAN_MAX_THREADS)
		want = SCAN_MAX_THREADS;
	return want < nsubs ? want : nsubs;
}

/* Append @u's host bridges, functions and warnings to @s. */
static int sub_merge(struct scan *s, struct sub *u)
{
	if (u->absent)
		return 0;
	int *map = calloc((size_t)u->t.nhbs, sizeof(*map));
	if (!map)
		return -ENOMEM;
	int r = 0;
	for (int k = 0; k < u->t.nhbs && r >= 0; k++)
		r = map[k] = hb_get(s, u->t.hbs[k].domain, u->t.hbs[k].bus);
	for (int i = 0; i < u->t.nfuncs && r >= 0; i++) {
		r = func_slot(s);
		if (r < 0)
			break;
		s->t->funcs[r] = u->t.funcs[i];
		u->t.funcs[i].local_cpus = u->t.funcs[i].gpu_nodes = NULL; /* moved */
		s->t->funcs[r].hb = map[u->t.funcs[i].hb];
		s->parent_key[r] = u->s.parent_key[i];
		r = hash_insert(s, r);
	}
	free(map);
	for (int i = 0; i < u->t.nwarnings && r >= 0; i++)
		topo_warn(s->t, "%s", u->t.warnings[i]);
	s->t->cfg_bytes_read += u->t.cfg_bytes_read;
	return r < 0 ? r : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Is some function in two of the subtrees?  1 yes, 0 no, -errno. */
static int subs_overlap(const struct sub *subs, int n)
{
	size_t total = 0, k = 0;
	for (int i = 0; i < n; i++)
		total += (size_t)subs[i].t.nfuncs;
	uint64_t *keys = malloc((total ? total : 1) * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < subs[i].t.nfuncs; j++)
			keys[k++] = func_key(&subs[i].t.funcs[j]);
	qsort(keys, total, sizeof(*keys), cmp_u64);
	int r = 0;
	for (size_t i = 1; i < total && !r; i++)
		r = keys[i] == keys[i - 1];
	free(keys);
	return r;
}

/* Walk the subtrees in @nthreads threads (all signals blocked in them) and
 * merge them into @s.  1: merged; 0: a function is in two subtrees (nothing
 * merged: walk serially); -errno. */
static int scan_parallel(struct scan *s, int dfd, const struct hb_dir *hbd, int n, int nthreads)
{
	struct sub *subs = calloc((size_t)n, sizeof(*subs));
	if (!subs)
		return -ENOMEM;
	int r = 0;
	for (int i = 0; i < n && r >= 0; i++) {
		struct sub *u = &subs[i];
		u->dfd = dfd;
		u->name = hbd[i].name;
		u->s.rootfd = s->rootfd;
		u->s.t = &u->t;
		u->s.rd = s->rd;
		u->s.rd.t = &u->t;
		u->t.live = s->t->live;
		r = hb_get(&u->s, hbd[i].dom, hbd[i].bus); /* local host bridge 0 */
	}
	if (r >= 0) {
		struct sub_pool pool = {.subs = subs, .n = n};
		pthread_t tid[SCAN_MAX_THREADS];
		int started = 0;
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		while (started < nthreads - 1 &&
		       pthread_create(&tid[started], NULL, sub_worker, &pool) == 0)
			started++;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		sub_worker(&pool); /* this thread works too (alone if none started) */
		for (int i = 0; i < started; i++)
			pthread_join(tid[i], NULL);
		for (int i = 0; i < n && r >= 0; i++)
			r = subs[i].r; /* the first failure, as the serial walk stops at it */
	}
	if (r >= 0) {
		r = subs_overlap(subs, n);
		r = r < 0 ? r : !r;
	}
	/* One allocation for the merged functions: growing it by doubling
	 * copied them again and faulted in twice their size. */
	size_t total = (size_t)s->t->nfuncs;
	for (int i = 0; i < n; i++)
		total += (size_t)subs[i].t.nfuncs;
	if (r > 0 && total > (size_t)s->cap_funcs && total <= TOPO_MAX_FUNCS) {
		int m = funcs_reserve(s, (int)total);
		if (m < 0)
			r = m;
	}
	for (int i = 0; i < n && r > 0; i++) {
		int m = sub_merge(s, &subs[i]);
		if (m < 0)
			r = m;
	}
	for (int i = 0; i < n; i++)
		sub_free(&subs[i]);
	free(subs);
	return r;
}

static int scan_tree(struct scan *s)
{
	DIR *d;
	int r = topo_opendir(s->rootfd, "sys/devices", &d);
	if (r <= 0)
		return r;
	int dfd = dirfd(d);
	struct hb_dir *hbd = NULL;
	int n = 0, cap = 0;
	struct dirent *de;
	r = 0;
	while ((de = readdir(d))) {
		uint32_t dom;
		uint8_t bus;
		if (parse_hb_name(de->d_name, &dom, &bus) < 0)
			continue;
		if (n == cap) {
			struct hb_dir *nh =
			    realloc(hbd, (size_t)(cap ? cap * 2 : 16) * sizeof(*nh));
			if (!nh) {
				r = -ENOMEM;
				break;
			}
			hbd = nh;
			cap = cap ? cap * 2 : 16;
		}
		snprintf(hbd[n].name, sizeof(hbd[n].name), "%s", de->d_name);
		hbd[n].dom = dom;
		hbd[n++].bus = bus;
	}
	int threads = r == 0 ? scan_threads(s, n) : 1;
	if (threads > 1)
		r = scan_parallel(s, dfd, hbd, n, threads); /* 0: walk serially after all */
	for (int i = 0; r == 0 && i < n; i++)
		r = walk_root_bus(s, dfd, hbd[i].name, hbd[i].dom, hbd[i].bus, 0);
	free(hbd);
	closedir(d);
	return r < 0 ? r : 0;
}

/* Parent key from a bus-list link target such as
 * "../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/": the BDF before the
 * last component, or NO_KEY when the function sits right below pciDDDD:BB. */
static uint64_t parent_from_link(const char *target, const char *self, uint32_t *ret_hb_dom,
				 uint8_t *ret_hb_bus, bool *ret_have_hb)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", target);
	uint64_t parent = NO_KEY, last = NO_KEY;
	*ret_have_hb = false;
	for (char *save = NULL, *tok = strtok_r(buf, "/", &save); tok;
	     tok = strtok_r(NULL, "/", &save)) {
		uint32_t dom;
		uint8_t bus, dev, fn;
		if (parse_hb_name(tok, &dom, &bus) == 0) {
			*ret_hb_dom = dom;
			*ret_hb_bus = bus;
			*ret_have_hb = true;
			parent = last = NO_KEY;
		} else if (topo_parse_bdf(tok, &dom, &bus, &dev, &fn) == 0 &&
			   strchr(tok, ':') != strrchr(tok, ':')) {
			parent = last;
			last = bdf_key(dom, bus, dev, fn);
			if (!strcmp(tok, self))
				break;
		}
	}
	return parent;
}

static int scan_bus_list(struct scan *s)
{
	DIR *d;
	int r = topo_opendir(s->rootfd, "sys/bus/pci/devices", &d);
	if (r <= 0)
		return r;
	int dfd = dirfd(d);
	r = 0;
	struct dirent *de;
	while ((de = readdir(d)) && r >= 0) {
		uint32_t dom;
		uint8_t bus, dev, fn;
		if (de->d_name[0] == '.')
			continue;
		if (topo_parse_bdf(de->d_name, &dom, &bus, &dev, &fn) < 0 ||
		    strchr(de->d_name, ':') == strrchr(de->d_name, ':')) {
			topo_warn(s->t, "bus/pci/devices/%s: not a BDF; ignored", de->d_name);
			continue;
		}
		int i = find_unsorted(s, bdf_key(dom, bus, dev, fn));
		if (i >= 0) {
			s->t->funcs[i].in_bus_list = true;
			continue;
		}
		/* Not in the tree: a dangling link, a link into a part of the
		 * tree that was not captured, or a plain (copied) directory. */
		char target[PATH_MAX];
		ssize_t n = readlinkat(dfd, de->d_name, target, sizeof(target) - 1);
		uint64_t pkey = NO_KEY;
		bool have_hb = false;
		uint32_t hdom = dom;
		uint8_t hbus = bus;
		if (n > 0) {
			target[n] = '\0';
			pkey = parent_from_link(target, de->d_name, &hdom, &hbus, &have_hb);
		}
		int cfd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cfd < 0 && n > 0) {
			/* No facts at all: warn, but invent no device. */
			topo_warn(s->t, "%s: bus/pci/devices link is dangling (%s); ignored",
				  de->d_name, target);
			continue;
		} else if (cfd < 0) {
			topo_warn(s->t, "%s: unreadable bus/pci/devices entry", de->d_name);
			continue;
		} else if (n <= 0) {
			topo_warn(s->t, "%s: bus/pci/devices entry is a plain directory",
				  de->d_name);
		} else {
			topo_warn(s->t, "%s: missing from the device tree", de->d_name);
		}
		/* Without a host bridge in the link path, the root of the chain
		 * found by bus ranges names it (in resolve()). */
		int h = have_hb ? hb_get(s, hdom, hbus) : -1;
		if (have_hb && h < 0) {
			r = h;
		} else {
			/* Without a link path, the parent comes from bus ranges later. */
			i = func_add(s, dom, bus, dev, fn, have_hb ? pkey : NO_KEY - 1, h);
			if (i < 0) {
				r = i;
			} else {
				s->t->funcs[i].in_bus_list = true;
				topo_func_read(&s->rd, cfd, &s->t->funcs[i]);
			}
		}
		close(cfd);
	}
	closedir(d);
	return r;
}

struct sort_slot {
	uint64_t key;
	int idx;
};

static int cmp_slot(const void *a, const void *b)
{
	uint64_t ka = ((const struct sort_slot *)a)->key, kb = ((const struct sort_slot *)b)->key;
	return ka < kb ? -1 : ka > kb;
}

/* Sort the functions (with their parent keys) by address: the keys are
 * sorted, then the functions moved in place along the permutation's cycles,
 * each once (a function is hundreds of bytes: copying them all out and back
 * faulted in another copy's worth of pages). */
static int sort_funcs(struct scan *s)
{
	struct topo *t = s->t;
	size_t n = (size_t)t->nfuncs;
	struct sort_slot *slot = malloc(n * sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		slot[i] = (struct sort_slot){func_key(&t->funcs[i]), (int)i};
	qsort(slot, n, sizeof(*slot), cmp_slot);
	/* slot[i].idx: where the function that belongs at i is now. */
	for (size_t i = 0; i < n; i++) {
		if (slot[i].idx < 0 || (size_t)slot[i].idx == i)
			continue;
		struct topo_func f = t->funcs[i];
		uint64_t pk = s->parent_key[i];
		size_t dst = i;
		for (;;) {
			size_t src = (size_t)slot[dst].idx;
			slot[dst].idx = -1;
			if (src == i) {
				t->funcs[dst] = f;
				s->parent_key[dst] = pk;
				break;
			}
			t->funcs[dst] = t->funcs[src];
			s->parent_key[dst] = s->parent_key[src];
			dst = src;
		}
	}
	for (size_t i = 0; i < n; i++)
		t->funcs[i].idx = (int)i;
	free(slot);
	return 0;
}

static int find_sorted(const struct topo *t, uint64_t key)
{
	int lo = 0, hi = t->nfuncs - 1;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		uint64_t k = func_key(&t->funcs[mid]);
		if (k == key)
			return mid;
		if (k < key)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

int topo_find(const struct topo *t, const char *bdf)
{
	uint32_t dom;
	uint8_t bus, dev, fn;
	if (!t || topo_parse_bdf(bdf, &dom, &bus, &dev, &fn) < 0)
		return -1;
	return find_sorted(t, bdf_key(dom, bus, dev, fn));
}

/* The bridge whose secondary bus is @f's bus (narrowest range wins). */
static int parent_by_bus_range(const struct topo *t, const struct topo_func *f)
{
	int best = -1, best_span = 1 << 30;
	for (int i = 0; i < t->nfuncs; i++) {
		const struct topo_func *b = &t->funcs[i];
		if (!b->is_bridge || b->domain != f->domain || b->sec_bus != f->bus || b == f)
			continue;
		if (b->sub_bus - b->sec_bus < best_span) {
			best = i;
			best_span = b->sub_bus - b->sec_bus;
		}
	}
	return best;
}

static enum topo_kind kind_of(const struct topo *t, const struct topo_func *f)
{
	switch (f->pcie_type) {
	case PCI_EXP_TYPE_ROOT_PORT:
		return TOPO_KIND_ROOT_PORT;
	case PCI_EXP_TYPE_UPSTREAM:
		return TOPO_KIND_SWITCH_UP;
	case PCI_EXP_TYPE_DOWNSTREAM:
		return TOPO_KIND_SWITCH_DOWN;
	case PCI_EXP_TYPE_PCI_BRIDGE:
	case PCI_EXP_TYPE_PCIE_BRIDGE:
		return TOPO_KIND_BRIDGE;
	default:
		break;
	}
	if ((f->class_code >> 8) == 0x0600)
		return TOPO_KIND_HOST_BRIDGE;
	if (!f->is_bridge)
		return TOPO_KIND_ENDPOINT;
	if (f->pcie_type >= 0)
		return TOPO_KIND_BRIDGE;
	/* Port type unknown (64-byte config): infer from position. */
	if (f->parent < 0)
		return TOPO_KIND_ROOT_PORT;
	enum topo_kind pk = t->funcs[f->parent].kind;
	if (pk == TOPO_KIND_SWITCH_UP)
		return TOPO_KIND_SWITCH_DOWN;
	if (pk == TOPO_KIND_ROOT_PORT || pk == TOPO_KIND_SWITCH_DOWN)
		return TOPO_KIND_SWITCH_UP;
	return TOPO_KIND_BRIDGE;
}

static int resolve(struct scan *s)
{
	struct topo *t = s->t;
	if (t->nfuncs == 0)
		return 0;
	int r = sort_funcs(s);
	if (r < 0)
		return r;

	for (int i = 0; i < t->nfuncs; i++) {
		struct topo_func *f = &t->funcs[i];
		uint64_t pk = s->parent_key[i];
		if (pk == NO_KEY) {
			f->parent = -1;
		} else if (pk == NO_KEY - 1) {
			f->parent = parent_by_bus_range(t, f);
		} else {
			f->parent = find_sorted(t, pk);
			if (f->parent < 0) {
				topo_warn(t, "%s: upstream bridge missing from the tree", f->bdf);
				f->parent = parent_by_bus_range(t, f);
			}
		}
		if (f->parent >= 0)
			t->funcs[f->parent].is_bridge = true;
	}
	/* Depth and host bridge from the chain (parents may be listed later). */
	for (int i = 0; i < t->nfuncs; i++) {
		struct topo_func *f = &t->funcs[i];
		int depth = 0, p = f->parent, root = i;
		while (p >= 0 && depth <= TOPO_MAX_DEPTH) {
			root = p;
			p = t->funcs[p].parent;
			depth++;
		}
		if (depth > TOPO_MAX_DEPTH) {
			topo_warn(t, "%s: upstream chain loops or is too deep; cut", f->bdf);
			f->parent = -1;
			depth = 0;
			root = i;
		}
		f->depth = depth;
		if (t->funcs[root].hb < 0) {
			int h = hb_get(s, t->funcs[root].domain, t->funcs[root].bus);
			if (h < 0)
				return h;
			t->funcs[root].hb = h;
		}
		f->hb = t->funcs[root].hb;
	}
	/* Kinds top-down (inference looks at the parent's kind). */
	for (int d = 0; d <= TOPO_MAX_DEPTH; d++) {
		bool any = false;
		for (int i = 0; i < t->nfuncs; i++) {
			if (t->funcs[i].depth != d)
				continue;
			any = true;
			t->funcs[i].kind = kind_of(t, &t->funcs[i]);
		}
		if (!any)
			break;
	}
	/* The kernel's "host bridge device": first function on the root bus,
	 * if at devfn 00.0 or a root port. */
	for (int h = 0; h < t->nhbs; h++) {
		struct topo_hostbridge *hb = &t->hbs[h];
		for (int i = 0; i < t->nfuncs; i++) {
			struct topo_func *f = &t->funcs[i];
			if (f->hb != h || f->parent >= 0 || f->bus != hb->bus ||
			    f->domain != hb->domain)
				continue;
			if ((f->dev == 0 && f->fn == 0) || f->kind == TOPO_KIND_ROOT_PORT)
				hb->hbdev = i;
			if (f->kind == TOPO_KIND_ROOT_PORT && f->pcie_type < 0)
				topo_warn(
				    t, "%s: port type unknown (short config); taken as a root port",
				    f->bdf);
			break;
		}
		for (int i = 0; i < t->nfuncs && hb->numa_node < 0; i++)
			if (t->funcs[i].hb == h && t->funcs[i].numa_node >= 0)
				hb->numa_node = t->funcs[i].numa_node;
	}
	return 0;
}

int topo_scan(int rootfd, const struct topo_opts *opts, struct topo **ret_topo)
{
	struct topo_opts dflt = {0};
	if (!opts)
		opts = &dflt;
	struct topo *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	struct scan s = {.rootfd = rootfd, .t = t};
	s.rd.t = t;
	s.rd.live = opts->read_mode == TOPO_READ_LIVE ||
		    (opts->read_mode == TOPO_READ_AUTO && sysattr_is_live_sysfs(rootfd));
	t->live = s.rd.live;
	s.rd.skip = opts->skip;
	s.threads = opts->threads < 0 ? 1 : opts->threads;
	int r = 0;
	if (opts->cpu_override) {
		r = topo_parse_cpu(opts->cpu_override, &t->cpu);
		if (r < 0)
			goto fail;
	} else {
		topo_read_cpu(rootfd, &t->cpu);
	}
	r = scan_tree(&s);
	if (r >= 0)
		r = scan_bus_list(&s);
	if (r >= 0 && t->nfuncs == 0)
		r = -ENOENT;
	if (r >= 0)
		r = resolve(&s);
	if (r < 0)
		goto fail;
	free(s.parent_key);
	free(s.hash);
	if (!opts->no_gpu)
		gpu_attach(rootfd, t);
	*ret_topo = t;
	return 0;
fail:
	free(s.parent_key);
	free(s.hash);
	topo_free(t);
	return r;
}

void topo_free(struct topo *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->nfuncs; i++)
		func_free_strings(&t->funcs[i]);
	for (int i = 0; i < t->nwarnings; i++)
		free(t->warnings[i]);
	free(t->warnings);
	free(t->funcs);
	free(t->hbs);
	free(t);
}
