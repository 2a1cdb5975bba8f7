/* SPDX-License-Identifier: Apache-2.0 */
/* The caller's terminal for a foreground `runm run` with process.terminal (run_tty.c). */
#ifndef RUNM_RUNTIME_RUN_TTY_H
#define RUNM_RUNTIME_RUN_TTY_H

#include <limits.h>
#include <sys/types.h>
#include <termios.h>

/* A terminal of ours, as runc finds it: stderr, stdout or stdin, else /dev/tty (its error
 * logged as runc's "open /dev/tty: …"). A new fd, or -1. */
int host_console(void);
/* Raw mode on FD, the old settings in SAVED. */
int tty_raw(int fd, struct termios *saved);
/* FROM's window size onto TO (when FROM has one). */
void tty_copy_size(int from, int to);

/* A temporary console socket that runm itself receives the pty master on. */
struct console_rx {
	char dir[PATH_MAX], path[PATH_MAX];
	int lsock;
};
int console_listen(struct console_rx *rx);
/* The master the shim sent (it did before reporting "created"), or -1. */
int console_receive(struct console_rx *rx);
void console_rx_close(struct console_rx *rx);

/* Relay MASTER with our stdin/stdout, CONSOLE's size on SIGWINCH, other signals to SHIM,
 * until SHIM exited and its output drained; returns its status (code or 128+signal). */
int tty_relay_wait(int master, int console, pid_t shim);

#endif
