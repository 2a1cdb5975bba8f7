/* SPDX-License-Identifier: Apache-2.0 */
/* PID-1 duties of the agent (init.c, switchroot.c, copytree.c). */
#ifndef RUNM_AGENT_INIT_H
#define RUNM_AGENT_INIT_H

#include <stdbool.h>
#include <stddef.h>

int init_mount_basics(void);
/* argv[1] of the agent re-executed by init_leave_initramfs (switchroot.c) */
#define INIT_SWITCHED_ARG "--switched-root"
int init_leave_initramfs(char **argv); /* returns only on failure */
/* copytree.c: copy SDIR's contents into DDIR (MOVE: unlink each copied entry; SKIP: a top-level
 * name left alone). -1 with errno and WHAT naming the entry that failed. */
int tree_copy(int sdir, int ddir, bool move, const char *skip, char *what, size_t wl);
bool init_cmdline_has(const char *word);
int init_set_clock(long long unix_ns);
void init_seed_entropy(const void *seed, size_t n);
void init_poweroff(void) __attribute__((noreturn));

#endif
