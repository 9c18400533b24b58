/* SPDX-License-Identifier: MIT */
/*
 * escape.h - the one escaping helper of everything p2pctl prints: strings
 * from p2pd (client and buffer names, messages), from a snapshot or sysfs
 * (driver and device names) may hold control characters; a terminal must
 * never see them raw (a forged table row, an escape sequence).
 */
#pragma once

/*
 * p2pctl_escape() - @s as printable text: C0 controls, DEL, backslash and
 * bytes that are not well-formed UTF-8 become \xNN, C1 controls \u0080..
 * \u009F; printable UTF-8 stays as it is.  Returns @s itself when nothing
 * needs escaping (NULL stays NULL), else one of P2PCTL_ESCAPE_SLOTS static
 * buffers used in turn (enough for the strings of one printed line); a very
 * long string is cut, ending in "...".  Not thread-safe (p2pctl has one
 * thread).
 */
const char *p2pctl_escape(const char *s);

#define P2PCTL_ESCAPE_SLOTS 16
