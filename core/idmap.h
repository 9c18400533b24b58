/* SPDX-License-Identifier: MIT */
/*
 * idmap.h - the one id table of p2pbroker: a hash table from a 64-bit key
 * (buffer id, uid, packed BDF) to a pointer, open addressing with linear
 * probing, grown as needed.  The table never owns what its values point to.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct idmap_slot {
	uint64_t key;
	void *value; /* NULL: empty */
};

struct idmap {
	struct idmap_slot *slots;
	size_t size;  /* 0 or a power of two */
	size_t count; /* occupied slots */
};

/* An empty table (no memory until the first insert). */
void idmap_init(struct idmap *m);
/* Free the slots (not the values); the table is empty afterwards. */
void idmap_fini(struct idmap *m);

/* Add @key -> @value (@value != NULL).  Returns 0, -EEXIST when @key is
 * there already (nothing changes), -EINVAL for a NULL value, -ENOMEM. */
int idmap_insert(struct idmap *m, uint64_t key, void *value);
/* The value of @key, or NULL. */
void *idmap_find(const struct idmap *m, uint64_t key);
/* Remove @key; returns its value, or NULL when it was not there. */
void *idmap_remove(struct idmap *m, uint64_t key);
static inline size_t idmap_count(const struct idmap *m)
{
	return m->count;
}

/*
 * idmap_next() - iterate: start with *@pos = 0; returns the next value and
 * its key in *ret_key (may be NULL), or NULL at the end.  The table must not
 * change during the walk.
 */
void *idmap_next(const struct idmap *m, size_t *pos, uint64_t *ret_key);
