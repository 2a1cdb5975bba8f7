/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's server (server.c): owns the event loop, the listeners (AF_VSOCK in the guest,
 * AF_UNIX with the hybrid CONNECT handshake in host mode) and the control connections; hands
 * requests to ops.c and registers the hooks the lower layers report through. */
#ifndef RUNM_AGENT_SERVER_H
#define RUNM_AGENT_SERVER_H

/* Serve until shutdown (or the end of the VM's container); the exit code for main. */
int server_run(void);

#endif
