/* SPDX-License-Identifier: MIT */
/*
 * io.h - p2pctl read FILE / write FILE (p2pctl/io.c): P2P I/O through a
 * buffer from p2pd near the file.
 */
#pragma once

/* The index in @argv of a "read" or "write" command word (the first word that
 * is neither an option nor an option's value), or 0 for any other command. */
int io_command(int argc, char **argv);

/* Run read/write (@argv[@cmd] is the command word; all of @argv is parsed).
 * Returns the exit status: 0 done, 1 failed, 2 usage. */
int io_main(int argc, char **argv, int cmd);
