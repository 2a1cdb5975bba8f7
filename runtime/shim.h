/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RUNM_RUNTIME_SHIM_H
#define RUNM_RUNTIME_SHIM_H

#include <stdbool.h>

struct shim_args {
	const char *id;
	const char *bundle;
	const char *console_socket;
	const char *pid_file;
	int sync_fd;
	bool detach_stdio; /* run -d: stdio are not the container's */
};

/* Runs the container to completion; returns the exit status (code or 128+signal). */
int shim_main(const struct shim_args *a);
/* Host pty pair; CTTY makes the slave our controlling terminal (SIGWINCH on resize). */
int open_host_pty(int *master, int *slave, bool ctty);
/* Connect to the console socket PATH and send FD (payload "/dev/ptmx"). */
int console_send(const char *path, int fd);

#endif
