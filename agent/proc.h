/* SPDX-License-Identifier: Apache-2.0 */
/* Processes (proc.c): the table of the agent's children, spawning a child into (or next to) a
 * container, start, signals, teardown.  Below it only streams, oom watches and waiters. */
#ifndef RUNM_AGENT_PROC_H
#define RUNM_AGENT_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "spec.h"

struct stream;
struct container;
enum proc_state { PROC_CREATED, PROC_RUNNING, PROC_EXITED };
struct proc {
	char id[PROTO_MAX_ID + 1];
	pid_t pid;
	bool is_init;
	enum proc_state state;
	int wstatus;
	bool complete; /* exited and its output drained */
	bool reported; /* exit status delivered to the host */
	int sync_fd;   /* socketpair to the child: start byte, setup errors */
	struct stream *streams[PROTO_NSTREAMS];
	char cgroup[256];
	int oom_fd; /* inotify on memory.events (container init, guest) */
	long long oom_kills;
	struct container *ctr; /* the container it belongs to */
	struct proc *next;
};
extern struct proc *g_procs;
struct proc *proc_find(const char *id);
struct stdio_req {
	bool want[PROTO_NSTREAMS];
};

/* ---- spawning: what proc_exec and ctr_create (ctr.c) share ---- */
struct child_args {
	const struct spec *s; /* container init only */
	const struct spec_process *proc;
	yajl_val seccomp;
	int sync;
	int io[3];     /* fds for 0, 1, 2 (-1: /dev/null) */
	bool terminal; /* make a pty inside the container, send the master back */
	bool console;  /* bind the pty slave onto /dev/console (container init) */
	bool no_pivot;
	int nsfd[NS_COUNT]; /* exec: namespaces of the container to join (-1: none);
			     * create: those of other containers (spec ns_ctr) */
	bool wait_cgroup;
	bool clone_in_userns; /* create: cloned inside nsfd[NS_USER], another container's (userns.c) */
};
/* A new process ID (not yet in the table); NULL + ERR (too many, bad or duplicate id). */
struct proc *proc_new(const char *id, char *err, size_t errlen);
/* Make the process-side fds: pipes (or a pty) and the agent's stream ends. */
int proc_setup_io(struct proc *p, const struct stdio_req *io, bool terminal, struct child_args *a, char *err,
		  size_t errlen);
void proc_close_child_io(struct child_args *a);
/* clone the child (FLAGS: CLONE_NEW*) running A; P gets its pid and sync socket. */
int proc_spawn(struct proc *p, struct child_args *a, int flags, char *err, size_t errlen);
/* Wait for the child's 'R' (created) or its setup error. */
int proc_wait_ready(struct proc *p, char *err, size_t errlen);
void proc_link(struct proc *p);
void unlink_proc(struct proc *p);
/* The child failed or was abandoned: make sure it is gone and reaped; frees P. */
void proc_abandon(struct proc *p);
/* *FD: /proc/PID/ns/NAME opened, or -1 when it is our own namespace (nothing to join). */
int ns_open_of(pid_t pid, const char *name, int *fd);

/* exec: a new process in container C, RUNNING, or NULL + ERR. */
struct proc *proc_exec(struct container *c, const char *id, const char *process_json,
		       const struct stdio_req *io, char *err, size_t errlen);
int proc_start(struct proc *p, char *err, size_t errlen);
/* SIG to P; ALL: to every process of its container (its pid namespace, else those we started). */
int proc_signal(struct proc *p, int sig, bool all);
void proc_free(struct proc *p);
/* Kill everything (shutdown). */
void proc_kill_all(void);
/* All processes created so far have exited and been reported. */
bool proc_all_reported(void);

#endif
