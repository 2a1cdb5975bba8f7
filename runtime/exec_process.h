/* SPDX-License-Identifier: Apache-2.0 */
/* The process object of `runm exec` without --process: the container's, with the flags'
 * changes (exec_process.c). */
#ifndef RUNM_RUNTIME_EXEC_PROCESS_H
#define RUNM_RUNTIME_EXEC_PROCESS_H

#include <stdbool.h>
#include <yajl/yajl_tree.h>

struct exec_overrides {
	const char **args;
	int nargs;
	bool tty;
	const char **env; /* -e, appended */
	int nenv;
	const char *cwd, *user; /* NULL: the container's */
	const char **gids;	/* -g, appended */
	int ngids;
	const char **caps; /* --cap, added to every set */
	int ncaps;
	bool no_new_privs;
	const char *apparmor, *label;
	unsigned rows, cols; /* consoleSize, 0: none */
};

/* PROC: the container's "process" object (NULL: none). Malloc'd JSON text or NULL. */
char *exec_process_json(yajl_val proc, const struct exec_overrides *x);

#endif
