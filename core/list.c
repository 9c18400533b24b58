/* SPDX-License-Identifier: MIT */
/*
 * list.c - the intrusive doubly linked list (see list.h).
 */
#include "list.h"

void list_init(struct list_link *list)
{
	list->prev = list;
	list->next = list;
}

void list_insert(struct list_link *list, struct list_link *elem)
{
	elem->prev = list;
	elem->next = list->next;
	list->next->prev = elem;
	list->next = elem;
}

void list_append(struct list_link *list, struct list_link *elem)
{
	list_insert(list->prev, elem);
}

void list_remove(struct list_link *elem)
{
	elem->prev->next = elem->next;
	elem->next->prev = elem->prev;
	list_init(elem);
}

bool list_empty(const struct list_link *list)
{
	return list->next == list;
}

size_t list_length(const struct list_link *list)
{
	size_t n = 0;

	for (const struct list_link *l = list->next; l != list; l = l->next)
		n++;
	return n;
}
