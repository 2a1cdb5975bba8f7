/* SPDX-License-Identifier: Apache-2.0 */
/* Control requests (ops.c): one handler per op (docs/protocol.md). */
#ifndef RUNM_AGENT_OPS_H
#define RUNM_AGENT_OPS_H

#include <stdbool.h>
#include <stddef.h>

struct proto_msg;

/* What a handler needs of the connection it answers (registered by server.c). */
struct ops_conn_ops {
	int (*send)(void *conn, const char *json, size_t len); /* a reply frame; 0 or -1 */
	void (*set_events)(void *conn, bool on);	       /* hello's "events" */
	void (*quit)(void);				       /* shutdown, after its reply */
};
void ops_set_conn_ops(const struct ops_conn_ops *t);
/* Handle request M of connection CONN; the reply is sent (or, for wait, deferred). */
int ops_dispatch(void *conn, struct proto_msg *m);

#endif
