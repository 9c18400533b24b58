/* SPDX-License-Identifier: MIT */
/*
 * idmap.c - 64-bit key -> pointer hash table (see idmap.h).
 */
#include "idmap.h"

#include <errno.h>
#include <stdlib.h>

#define IDMAP_MIN_SIZE 16

static size_t idmap_hash(const struct idmap *m, uint64_t key)
{
	/* Fibonacci hashing: sequential ids spread over the table */
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (m->size - 1);
}

void idmap_init(struct idmap *m)
{
	m->slots = NULL;
	m->size = 0;
	m->count = 0;
}

void idmap_fini(struct idmap *m)
{
	free(m->slots);
	idmap_init(m);
}

static size_t idmap_slot_of(const struct idmap *m, uint64_t key)
{
	size_t h = idmap_hash(m, key);

	while (m->slots[h].value && m->slots[h].key != key)
		h = (h + 1) & (m->size - 1);
	return h;
}

static int idmap_grow(struct idmap *m)
{
	struct idmap old = *m;
	size_t size = m->size ? m->size * 2 : IDMAP_MIN_SIZE;

	if (size < m->size)
		return -ENOMEM;
	m->slots = calloc(size, sizeof(*m->slots));
	if (!m->slots) {
		*m = old;
		return -ENOMEM;
	}
	m->size = size;
	for (size_t i = 0; i < old.size; i++)
		if (old.slots[i].value)
			m->slots[idmap_slot_of(m, old.slots[i].key)] = old.slots[i];
	free(old.slots);
	return 0;
}

int idmap_insert(struct idmap *m, uint64_t key, void *value)
{
	size_t h;

	if (!value)
		return -EINVAL;
	if (idmap_find(m, key))
		return -EEXIST;
	/* keep the load at most 1/2: probes stay short */
	if ((m->count + 1) * 2 > m->size) {
		int r = idmap_grow(m);

		if (r < 0)
			return r;
	}
	h = idmap_slot_of(m, key);
	m->slots[h].key = key;
	m->slots[h].value = value;
	m->count++;
	return 0;
}

void *idmap_find(const struct idmap *m, uint64_t key)
{
	if (!m->size)
		return NULL;
	return m->slots[idmap_slot_of(m, key)].value;
}

void *idmap_remove(struct idmap *m, uint64_t key)
{
	size_t h, j;
	void *value;

	if (!m->size)
		return NULL;
	h = idmap_slot_of(m, key);
	value = m->slots[h].value;
	if (!value)
		return NULL;
	m->slots[h].value = NULL;
	m->count--;
	/* backward shift: move up later entries whose probe passed through h */
	for (j = (h + 1) & (m->size - 1); m->slots[j].value; j = (j + 1) & (m->size - 1)) {
		size_t home = idmap_hash(m, m->slots[j].key);

		/* j's entry may fill h when h lies cyclically in [home, j) */
		if ((j > h && (home <= h || home > j)) || (j < h && home <= h && home > j)) {
			m->slots[h] = m->slots[j];
			m->slots[j].value = NULL;
			h = j;
		}
	}
	return value;
}

void *idmap_next(const struct idmap *m, size_t *pos, uint64_t *ret_key)
{
	for (; *pos < m->size; (*pos)++) {
		if (m->slots[*pos].value) {
			size_t i = (*pos)++;

			if (ret_key)
				*ret_key = m->slots[i].key;
			return m->slots[i].value;
		}
	}
	return NULL;
}
