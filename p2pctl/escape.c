/* SPDX-License-Identifier: MIT */
/*
 * escape.c - escaping what p2pctl prints (see escape.h).
 */
#include "escape.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

#define ESCAPE_MAX 1024 /* bytes of one escaped string */

/* Length of the well-formed multi-byte UTF-8 sequence at @s (s[0] >= 0x80),
 * 0 if none. */
static size_t seq_len(const unsigned char *s, size_t left)
{
	size_t len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;

	if (len > left)
		return 0;
	return json_utf8_valid(s, len) == len ? len : 0;
}

/* Printable ASCII other than the backslash: printed as it is. */
static bool plain_ascii(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '\\';
}

/* Does byte @i of @s start something to escape?  *ret_len: its length. */
static bool needs_escape(const unsigned char *s, size_t n, size_t i, size_t *ret_len)
{
	if (s[i] < 0x80) { /* ASCII, nearly everything printed: no UTF-8 decoding */
		*ret_len = 1;
		return !plain_ascii(s[i]);
	}
	size_t l = seq_len(s + i, n - i);

	*ret_len = l ? l : 1;
	if (!l) /* not UTF-8 */
		return true;
	return l == 2 && s[i] == 0xc2 && s[i + 1] <= 0x9f; /* C1 */
}

const char *p2pctl_escape(const char *str)
{
	static char slots[P2PCTL_ESCAPE_SLOTS][ESCAPE_MAX];
	static unsigned next;
	const unsigned char *s = (const unsigned char *)str;
	size_t n, i, l, o = 0;
	char *out;

	if (!str)
		return NULL;
	n = strlen(str);
	for (i = 0; i < n; i += l)
		if (needs_escape(s, n, i, &l))
			break;
	if (i == n)
		return str;
	out = slots[next++ % P2PCTL_ESCAPE_SLOTS];
	for (i = 0; i < n; i += l) {
		char tmp[8];
		const char *piece = tmp;
		size_t pl;

		if (!needs_escape(s, n, i, &l)) {
			piece = str + i;
			pl = l;
		} else if (l == 2) {
			pl = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", s[i + 1]);
		} else if (s[i] == '\\') {
			pl = 2;
			piece = "\\\\";
		} else {
			pl = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", s[i]);
		}
		if (o + pl + 4 > ESCAPE_MAX) {
			memcpy(out + o, "...", 4);
			return out;
		}
		memcpy(out + o, piece, pl);
		o += pl;
	}
	out[o] = '\0';
	return out;
}
