/* SPDX-License-Identifier: MIT */
/*
 * list.h - one intrusive doubly linked list for every list of p2pbroker
 * (after seatd's common/linked_list.c): a struct embeds a struct list_link,
 * the list head is a struct list_link of its own, and nobody splices
 * prev/next pointers by hand.
 *
 *	struct thing { struct list_link link; ... };
 *	struct list_link things;
 *	list_init(&things);
 *	list_insert(&things, &t->link);			(at the front)
 *	list_insert(things.prev, &t->link);		(at the back)
 *	list_for_each(struct thing, t, &things, link) ...
 *	list_for_each_safe(...) when the body removes t
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct list_link {
	struct list_link *prev, *next;
};

/* An empty list (a head linked to itself); also makes a link "unlinked". */
void list_init(struct list_link *list);
/* Insert @elem right after @list (a head or any element). */
void list_insert(struct list_link *list, struct list_link *elem);
/* Insert @elem at the back of the list headed by @list. */
void list_append(struct list_link *list, struct list_link *elem);
/* Unlink @elem and leave it as an empty list (removing twice is harmless). */
void list_remove(struct list_link *elem);
bool list_empty(const struct list_link *list);
size_t list_length(const struct list_link *list);

#define list_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* The first element of a non-empty list, or NULL. */
#define list_first(list, type, member)                                                             \
	(list_empty(list) ? NULL : list_entry((list)->next, type, member))

/* @pos (declared here, of type @type *) runs over the list; the body must
 * not unlink @pos (use list_for_each_safe). */
#define list_for_each(type, pos, list, member)                                                     \
	for (type *pos = list_entry((list)->next, type, member); &pos->member != (list);           \
	     pos = list_entry(pos->member.next, type, member))

/* As list_for_each, but the body may unlink and free @pos. */
#define list_for_each_safe(type, pos, list, member)                                                \
	for (type *pos = list_entry((list)->next, type, member),                                   \
		  *pos##_next_ = list_entry(pos->member.next, type, member);                       \
	     &pos->member != (list);                                                               \
	     pos = pos##_next_, pos##_next_ = list_entry(pos->member.next, type, member))
