/* SPDX-License-Identifier: MIT */
/*
 * log.h - p2pd's logging: the journal with structured fields (P2P_CLIENT_UID=,
 * P2P_CLIENT_PID=, P2P_DEVICE=, P2P_BUFFER=) when stderr is connected to it
 * ($JOURNAL_STREAM, as systemd sets it), else one line per message on stderr.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <syslog.h>

/* Optional structured context of a message; fields < 0 / NULL / 0 are left out. */
struct log_ctx {
	long uid;
	long pid;
	const char *device;
	uint64_t buffer;
};

#define LOG_CTX_NONE ((struct log_ctx){.uid = -1, .pid = -1})

/* @journal: -1 auto ($JOURNAL_STREAM), 0 stderr, 1 journal. @max_prio: LOG_INFO
 * normally, LOG_DEBUG for --verbose. */
void log_setup(int journal, int max_prio);

void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_ctx(int prio, const struct log_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
