/* SPDX-License-Identifier: Apache-2.0 */
/* CLI ↔ shim control socket <dir>/shim.sock: one request per connection, one JSON line
 * each way. Request {"op":"start"|"kill"|"pause"|"resume"|"ps"|"stats"|"update"|"exec",…};
 * reply {"ok":true,…} or {"error":"message"}. File descriptors (exec stdio) ride along
 * as SCM_RIGHTS on the request. */
#ifndef RUNM_RUNTIME_CTL_H
#define RUNM_RUNTIME_CTL_H

#include <stddef.h>

#define CTL_SOCK "shim.sock"
#define CTL_MAX_MSG (1 << 20)

/* Connect to DIR/shim.sock (works for paths longer than sun_path). -1 with errno. */
int ctl_connect(const char *dir);
/* Send REQ (+ NFDS fds), read the reply line into *REPLY (malloc'd). 0 or -errno; a shim that
 * does not answer within CTL_CALL_TIMEOUT_MS (ctl_call) or TIMEOUT_MS gives -ETIMEDOUT, so no
 * verb hangs on a wedged shim. */
#define CTL_CALL_TIMEOUT_MS 60000
int ctl_call(const char *dir, const char *req, const int *fds, int nfds, char **reply);
int ctl_call_timeout(const char *dir, const char *req, const int *fds, int nfds, char **reply, int timeout_ms);
/* Server side: listen on DIR/shim.sock. */
int ctl_listen(const char *dir);
/* Read one request line with up to MAXFDS fds; returns malloc'd line or NULL. */
char *ctl_read_request(int conn, int *fds, int maxfds, int *nfds);
int ctl_write_all(int fd, const char *buf, size_t len);
/* If REPLY is {"error":…} log it and return 1; if ok return 0. */
int ctl_reply_error(const char *reply);
/* Send fd over a unix socket with a non-empty payload. */
int send_fd(int sock, int fd, const char *payload);

#endif
