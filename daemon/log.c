/* SPDX-License-Identifier: MIT */
/*
 * log.c - journal or stderr logging for p2pd (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

static bool log_to_journal;
static int log_max_prio = LOG_INFO;

void log_setup(int journal, int max_prio)
{
	if (journal < 0)
		log_to_journal = getenv("JOURNAL_STREAM") != NULL;
	else
		log_to_journal = journal != 0;
	log_max_prio = max_prio;
}

static const char *log_prio_name(int prio)
{
	static const char *const names[] = {"emerg",   "alert",	 "crit", "error",
					    "warning", "notice", "info", "debug"};

	return prio >= 0 && prio <= LOG_DEBUG ? names[prio] : "?";
}

static void log_emit(int prio, const struct log_ctx *ctx, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void log_emit(int prio, const struct log_ctx *ctx, const char *fmt, va_list ap)
{
	char msg[1024];

	if (prio > log_max_prio)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_to_journal) {
		char f[6][160];
		struct iovec iov[6];
		int n = 0;

		snprintf(f[n], sizeof(f[n]), "PRIORITY=%d", prio);
		n++;
		if (ctx && ctx->uid >= 0) {
			snprintf(f[n], sizeof(f[n]), "P2P_CLIENT_UID=%ld", ctx->uid);
			n++;
		}
		if (ctx && ctx->pid >= 0) {
			snprintf(f[n], sizeof(f[n]), "P2P_CLIENT_PID=%ld", ctx->pid);
			n++;
		}
		if (ctx && ctx->device) {
			snprintf(f[n], sizeof(f[n]), "P2P_DEVICE=%.100s", ctx->device);
			n++;
		}
		if (ctx && ctx->buffer) {
			snprintf(f[n], sizeof(f[n]), "P2P_BUFFER=%llu",
				 (unsigned long long)ctx->buffer);
			n++;
		}
		for (int i = 0; i < n; i++) {
			iov[i].iov_base = f[i];
			iov[i].iov_len = strlen(f[i]);
		}
		{
			char m[1040];

			snprintf(m, sizeof(m), "MESSAGE=%s", msg);
			iov[n].iov_base = m;
			iov[n].iov_len = strlen(m);
			sd_journal_sendv(iov, n + 1);
		}
		return;
	}
	if (ctx && (ctx->uid >= 0 || ctx->device || ctx->buffer)) {
		char extra[200] = "";
		size_t o = 0;

		if (ctx->uid >= 0)
			o += (size_t)snprintf(extra + o, sizeof(extra) - o, " uid=%ld pid=%ld",
					      ctx->uid, ctx->pid);
		if (ctx->device && o < sizeof(extra))
			o += (size_t)snprintf(extra + o, sizeof(extra) - o, " device=%.64s",
					      ctx->device);
		if (ctx->buffer && o < sizeof(extra))
			snprintf(extra + o, sizeof(extra) - o, " buffer=%llu",
				 (unsigned long long)ctx->buffer);
		fprintf(stderr, "p2pd: %s: %s [%s]\n", log_prio_name(prio), msg, extra + 1);
	} else {
		fprintf(stderr, "p2pd: %s: %s\n", log_prio_name(prio), msg);
	}
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(prio, NULL, fmt, ap);
	va_end(ap);
}

void log_ctx(int prio, const struct log_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(prio, ctx, fmt, ap);
	va_end(ap);
}
