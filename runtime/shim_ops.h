/* SPDX-License-Identifier: Apache-2.0 */
/* The shim's state and its control-socket server: one handler per ctl_proto op, looked up in a
 * table (shim_ops.c). Internal to the shim (shim.c, shim_ops.c). */
#ifndef RUNM_RUNTIME_SHIM_OPS_H
#define RUNM_RUNTIME_SHIM_OPS_H

#include <limits.h>
#include <stdbool.h>

#include "host_view.h"
#include "net/net.h"
#include "pod.h"
#include "relay.h"
#include "spec.h"
#include "state.h"

#define MAX_EXECS RELAY_MAX_EXECS /* relay.h sizes its slots for these */

struct execp {
	bool used;
	char id[72];
	int conn; /* control connection waiting for the exit reply */
	int fds[3];
	int nfds;
	int status;
	bool exited;
};

struct shim {
	const char *id;
	char dir[PATH_MAX];
	struct spec spec;
	struct cstate st;
	struct guest *g;
	struct relays rs;
	struct execp ex[MAX_EXECS + 1]; /* [0] unused: owner 0 is init */
	int lsock, sfd;
	int tty_slave; /* host pty slave for the init's terminal, -1 without */
	bool init_exited;
	int init_status;
	char before_pause[16]; /* the status resume returns to (created stays created) */
	struct net_state net;
	struct pod_info pod;
	struct host_view hv;   /* the container's view as our mount namespace, once created */
	char cgroup[PATH_MAX]; /* our cgroup on the host (host_cgroup.h), "" when not joined */
};

/* Serve the one request of the accepted connection CONN (closed, or kept by an exec). */
void shim_serve(struct shim *s, int conn);
/* An exec that exited and drained: its exit reply, slot freed. */
void shim_finish_exec(struct shim *s, int slot);
/* STATUS into state.json (logged on failure). */
void shim_save_state(struct shim *s, const char *status);
/* The host pty's size to the init's terminal in the guest. */
void shim_forward_winsize(struct shim *s);

#endif
