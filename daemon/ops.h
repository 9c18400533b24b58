/* SPDX-License-Identifier: MIT */
/*
 * ops.h - p2pd's request handlers: one per opcode of proto.h.
 */
#pragma once

#include "conn.h"

struct p2p_server;
struct p2p_client;

/*
 * ops_dispatch() - decode one framed request of @c, check admin rights, run
 * its handler and queue the reply (an error reply for a failed operation).
 * Returns 0, or -1 when @c was dropped (freed) while handling it.
 */
int ops_dispatch(struct p2p_server *srv, struct p2p_client *c, const struct conn_msg *m);
