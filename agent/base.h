/* SPDX-License-Identifier: Apache-2.0 */
/* runm-agent: agent-wide options (main.c) and the error helper every layer uses (spec.c). */
#ifndef RUNM_AGENT_BASE_H
#define RUNM_AGENT_BASE_H

#include <stdbool.h>
#include <stddef.h>

struct agent_opts {
	const char *listen_unix; /* host test mode: AF_UNIX path answering CONNECT <port> */
	bool pid1;		 /* we are the guest's init: PID-1-only steps, reboot at the end */
	bool debug;
};
extern struct agent_opts g_opts;

/* snprintf into ERR; returns -1 (for "return ERR(...)"). */
int agent_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
