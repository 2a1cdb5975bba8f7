/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a container's VM sockets live. A unix socket path holds 107 bytes, and engines put state
 * directories deep (Docker: /run/docker/runtime-runc/moby/<64 hex>, containerd:
 * /run/containerd/runc/k8s.io/<64 hex>). When the state directory is too long for
 * "<dir>/vsock.sock_<port>", the sockets are reached through a short symlink to it,
 * SOCKDIR_BASE/<16 hex of the state directory's path> (/tmp/runm-s-<uid>/… when not root): the
 * files stay in the state directory; only the path that names them is short.
 */
#ifndef RUNM_RUNTIME_SOCKDIR_H
#define RUNM_RUNTIME_SOCKDIR_H

#include <stdbool.h>
#include <stddef.h>

#define SOCKDIR_BASE "/run/runm/s"

/* Whether STATE_DIR itself can hold every socket name runm uses. */
bool sock_dir_fits(const char *dir);
/* The directory to name sockets by: STATE_DIR itself, or a short symlink to it (made here).
 * 0, or -1 with ERR. */
int sock_dir(const char *state_dir, char *out, size_t cap, char *err, size_t errlen);
/* Remove the short symlink of STATE_DIR (if it has one and it still points there). */
void sock_dir_remove(const char *state_dir);

#endif
