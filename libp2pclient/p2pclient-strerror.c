/* SPDX-License-Identifier: MIT */
/*
 * p2pclient-strerror.c - p2p_strerror(): a sentence for each -errno the
 * library returns (p2pclient.h), in p2pd's terms where it has some.
 */
#include "p2pclient.h"

#include <errno.h>
#include <string.h>

P2P_EXPORT const char *p2p_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return "success";
	case EPERM:
		return "not permitted by p2pd policy";
	case EDQUOT:
		return "quota exceeded";
	case ENODEV:
		return "no such device, or no backend for the accepted buffer types";
	case ENOENT:
		return "no such buffer, or p2pd socket not found";
	case ECONNREFUSED:
		return "p2pd is not running (connection refused)";
	case ECONNRESET:
		return "connection to p2pd lost";
	case EPROTO:
		return "protocol error talking to p2pd";
	case EPROTONOSUPPORT:
		return "p2pd speaks another protocol version";
	case ETIMEDOUT:
		return "p2pd did not answer in time";
	case EMSGSIZE:
		return "message too large";
	case EUSERS:
		return "p2pd connection limit reached";
	case EAGAIN:
		return "p2pd is busy, try again";
	default: {
		const char *d = strerrordesc_np(err); /* static, thread-safe */

		return d ? d : "unknown error";
	}
	}
}
