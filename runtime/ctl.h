/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI ↔ shim control socket <dir>/shim.sock: the transport of ctl_proto.h (one request per
 * connection, one line each way, fds as SCM_RIGHTS on the request's first byte), on common/io. */
#ifndef RUNM_RUNTIME_CTL_H
#define RUNM_RUNTIME_CTL_H

#include <stddef.h>

#include "ctl_proto.h"

#define CTL_SOCK "shim.sock"
/* A shim that does not answer within this long gives -ETIMEDOUT: no verb hangs on a wedged shim. */
#define CTL_CALL_TIMEOUT_MS 60000

/* Connect to DIR/shim.sock (works for paths longer than sun_path). -1 with errno. */
int ctl_connect(const char *dir);

/* The one client call: connect to DIR's shim, send REQ with NFDS fds, decode its reply into *REP
 * within TIMEOUT_MS (0: no limit). 0 with *REP set (ok or an error reply; ctl_reply_free it), or
 * -errno: the connect's (ENOENT, ECONNREFUSED: no shim), ETIMEDOUT, ECONNRESET; EMSGSIZE or EINVAL
 * when REQ cannot be encoded and EBADMSG when the reply cannot be decoded, the reason in ERR.
 * CONN non-NULL: the connection stays open in *CONN, without timeouts, for ctl_read_reply. */
int ctl_call(const char *dir, const struct ctl_req *req, const int *fds, int nfds, int timeout_ms,
	     struct ctl_reply *rep, int *conn, char *err, size_t errlen);
/* The next reply on CONN (exec's exit status): as ctl_call's. */
int ctl_read_reply(int conn, struct ctl_reply *rep, char *err, size_t errlen);

/* Server side: listen on DIR/shim.sock (non-blocking). -1 with errno. */
int ctl_listen(const char *dir);
/* One request line with up to MAXFDS fds (more fail the read, all closed): malloc'd, or NULL. */
char *ctl_read_request(int conn, int *fds, int maxfds, int *nfds);
/* REP as one line on CONN. 0 or -errno. */
int ctl_send_reply(int conn, const struct ctl_reply *rep);

#endif
