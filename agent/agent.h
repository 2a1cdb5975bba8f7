/* SPDX-License-Identifier: Apache-2.0 */
/* runm-agent internals shared between its files. */
#ifndef RUNM_AGENT_H
#define RUNM_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "proto/proto.h"
#include "userns.h"

/* ---- agent-wide state (main.c) ---- */
struct agent_opts {
	const char *listen_unix; /* host test mode: AF_UNIX path answering CONNECT <port> */
	bool pid1;               /* we are the guest's init: PID-1-only steps, reboot at the end */
	bool debug;
};
extern struct agent_opts g_opts;

/* ---- PID-1 duties (init.c) ---- */
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

/* snprintf into ERR; returns -1 (for "return ERR(...)"). */
int agent_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- OCI spec (spec.c) ---- */
#define SPEC_CAP_SETS 5 /* bounding, effective, inheritable, permitted, ambient */
struct spec_rlimit {
	int resource;
	rlim_t soft, hard;
};
struct spec_process {
	char **args, **env;
	const char *cwd;
	uid_t uid;
	gid_t gid;
	gid_t *gids;
	size_t ngids;
	bool terminal;
	bool has_caps;
	uint64_t caps[SPEC_CAP_SETS];
	struct spec_rlimit *rlimits;
	size_t nrlimits;
	bool no_new_privs;
	bool has_oom;
	int oom_score_adj;
	bool has_umask;
	mode_t umask;
	unsigned short rows, cols; /* consoleSize */
};
struct spec_mount {
	const char *dest, *type, *source;
	unsigned long flags;       /* MS_* applied at mount time (and remount for bind) */
	unsigned long propagation; /* MS_SHARED/SLAVE/PRIVATE/UNBINDABLE (+MS_REC) or 0 */
	char *data;                /* filesystem options */
	bool bind;
	bool tmpcopyup; /* tmpfs: start with a copy of the directory it covers */
};
struct spec_device {
	const char *path;
	mode_t type; /* S_IFCHR, S_IFBLK, S_IFIFO */
	unsigned major, minor;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};
struct spec_kv {
	const char *key, *val;
};
enum { NS_PID, NS_NET, NS_IPC, NS_UTS, NS_MNT, NS_CGROUP, NS_USER, NS_TIME, NS_COUNT };
struct spec {
	yajl_val root; /* owns every string below */
	struct spec_process proc;
	char *root_path; /* absolute */
	bool root_ro;
	const char *hostname, *domainname;
	bool ns_new[NS_COUNT];
	const char *ns_path[NS_COUNT];
	const char *ns_ctr[NS_COUNT]; /* {"type":…,"container":ID}: join that container's (net/ipc/uts) */
	struct spec_mount *mounts;
	size_t nmounts;
	const char **masked, **readonly;
	size_t nmasked, nreadonly;
	struct spec_kv *sysctl;
	size_t nsysctl;
	struct spec_device *devices;
	size_t ndevices;
	unsigned long rootfs_propagation;
	bool rootfs_propagation_set; /* given by the spec: applied to the new root after pivot_root too */
	yajl_val seccomp;   /* linux.seccomp or NULL */
	yajl_val resources; /* linux.resources or NULL */
	const char *cgroups_path;
	struct userns_maps userns; /* linux.uidMappings / gidMappings (userns.c) */
};
int ns_clone_flag(int ns);
const char *ns_name(int ns);
/* *FD: /proc/PID/ns/NAME opened, or -1 when it is our own namespace (nothing to join). */
int ns_open_of(pid_t pid, const char *name, int *fd);
/* Parse config.json text; BUNDLE resolves a relative root.path. 0, or -1 with ERR. */
int spec_parse(const char *json, const char *bundle, struct spec *s, char *err, size_t errlen);
/* Parse a process object (exec); keeps TREE alive in *owner. */
int spec_process_parse_json(const char *json, yajl_val *owner, struct spec_process *p, char *err,
			    size_t errlen);
int spec_process_parse(yajl_val proc, struct spec_process *p, char *err, size_t errlen);
void spec_process_free(struct spec_process *p);
void spec_free(struct spec *s);
int spec_cap_from_name(const char *name); /* -1 unknown */

/* ---- child-side setup: a failing step reports (step, target, errno); err 0: target is the whole
 * message (runc's wording, e.g. the program lookup) ---- */
struct setup_err {
	char step[48];
	char target[400];
	int err;
};
/* Everything below runs in the forked child and returns -1 after filling *e. */
int setup_fail(struct setup_err *e, const char *step, const char *target, int err);
int container_setup_rootfs(const struct spec *s, struct setup_err *e);        /* mounts.c */
int container_setup_dev(const struct spec *s, struct setup_err *e);           /* devices.c */
int container_pivot(const struct spec *s, bool no_pivot, struct setup_err *e); /* mounts.c */
int container_finish_rootfs(const struct spec *s, struct setup_err *e);       /* mounts.c */
int container_dev_readonly(const struct spec *s, struct setup_err *e);        /* mounts.c */
int container_sysctl(const struct spec *s, struct setup_err *e);
int process_prepare(const struct spec_process *p, struct setup_err *e);       /* identity.c */
int process_identity(const struct spec_process *p, struct setup_err *e);
int process_caps_bounding(const struct spec_process *p, struct setup_err *e); /* caps.c */
int process_caps(const struct spec_process *p, struct setup_err *e);
int process_seccomp(yajl_val seccomp, struct setup_err *e);                   /* seccomp.c */
/* Bring lo up in the calling process's network namespace (a new one: CLONE_NEWNET). net.c */
int net_lo_up(struct setup_err *e);
/* Resolve args[0] against PATH of the process env; writes into BUF. */
int process_lookup(const struct spec_process *p, char *buf, size_t len, struct setup_err *e);

/* ---- guest cgroups (cgroups.c) ---- */
int cgroup_create(const struct spec *s, const char *id, char *path, size_t len, char *err, size_t errlen);
/* Write the limits set in R to the cgroup at PATH (create and the "update" op). */
struct bpf_insn;
/* devcgroup.c: linux.resources.devices as a cgroup device eBPF program, attached to CGROUP */
int devcg_program(yajl_val resources, struct bpf_insn *prog, size_t max, size_t *len, char *err, size_t errlen);
int devcg_attach(const char *cgroup, yajl_val resources, char *err, size_t errlen);
int cgroup_apply(const char *path, const struct proto_resources *r, char *err, size_t errlen);
int cgroup_enter(const char *path, pid_t pid, struct setup_err *e);
int cgroup_stats(const char *path, struct json_gen *pg);
void cgroup_remove(const char *path);
/* cgroup v2 freezer: write cgroup.freeze and wait up to TIMEOUT_MS for cgroup.events to say
 * "frozen 1" (or 0); an unfinished freeze is undone.  -1 with ERR (also for an empty PATH). */
int cgroup_freeze(const char *path, bool freeze, int timeout_ms, char *err, size_t errlen);
struct container;
/* ---- process listing (ps.c) ---- */
/* The container's processes: its cgroup's cgroup.procs (guest), else every process in the
 * init's pid namespace, plus the agent's own live ones; sorted, unique. */
int ps_list(const struct container *c, struct proto_ps_entry **out, size_t *n, char *err, size_t errlen);
/* memory.events oom_kill counter (-1 if unavailable); inotify fd watching it, or -1. */
long long cgroup_oom_kills(const char *path);
int cgroup_watch_oom(const char *path);
/* The container's cgroup saw new OOM kills: an "oom" event to subscribers. */
void server_broadcast_oom(const char *process, long long kills);

/* ---- container networking (net.c) ---- */
struct proto_net;
/* The "network" op: move the NICs of N (found by match_mac in the calling thread's netns, or
 * already in TARGET_NS by name) into the netns TARGET_NS (an fd of /proc/PID/ns/net), rename,
 * set MAC and MTU, IPv6 DAD/autoconf/RA off, addresses, up; lo up; link routes, gateway
 * routes, permanent neighbours.  Idempotent.  The calling thread ends in its own netns.
 * 0, or -1 with ERR ("network: eth0: add address fd00::2/64: File exists"). */
int net_apply(int target_ns, const struct proto_net *n, char *err, size_t errlen);

struct watch;
/* ---- containers (ctr.c): several per VM (a pod), each named by its init's process id ---- */
struct proc;
struct container {
	char id[PROTO_MAX_ID + 1]; /* = its init's process id ("init" from a standalone shim) */
	struct spec spec;
	struct proc *init;
	bool first;                /* the VM's own container (the sandbox): its end ends the VM */
	struct container *next;
};
extern struct container *g_ctrs;
/* ID NULL: the first container (requests without "container", protocol ≤ pods). */
struct container *ctr_find(const char *id);
/* The container a request names in "container" (absent: the first); NULL + ERR "OP: no container X". */
struct container *ctr_of_request(yajl_val root, const char *op, char *err, size_t errlen);
struct container *ctr_new(const char *id, char *err, size_t errlen);
void ctr_free(struct container *c);
/* Free the containers (not the first) whose every process exited and was reported. */
void ctr_gc(void);
/* open /proc/<init>/ns/<name> of the containers S names in ns_ctr; FDS[i] -1 where none. */
int ctr_join_fds(const struct spec *s, int *fds, char *err, size_t errlen);

/* ---- processes and streams (proc.c) ---- */
enum proc_state { PROC_CREATED, PROC_RUNNING, PROC_EXITED };
struct conn;
struct stream {
	struct proc *p;
	int kind;       /* enum proto_stream */
	int pfd;        /* process side: pipe read end (out), write end (stdin), pty master (tty) */
	int sock;       /* host connection, -1 until attached */
	bool attached, done;
	bool pfd_eof, sock_eof;
	/* tty only: bounded buffers each way */
	char *to_host, *to_proc;
	size_t th_len, th_off, tp_len, tp_off;
	bool splice_ok;
};
struct waiter {
	struct conn *c;
	uint64_t id;
	struct waiter *next;
};
struct proc {
	char id[PROTO_MAX_ID + 1];
	pid_t pid;
	bool is_init;
	enum proc_state state;
	int wstatus;
	bool complete;       /* exited and its output drained */
	bool reported;       /* exit status delivered to the host */
	int sync_fd;         /* socketpair to the child: start byte, setup errors */
	struct stream *streams[PROTO_NSTREAMS];
	struct waiter *waiters;
	char cgroup[256];
	int oom_fd;          /* inotify on memory.events (container init, guest) */
	long long oom_kills;
	struct watch *oom_watch;
	struct container *ctr; /* the container it belongs to */
	struct proc *next;
};
extern struct proc *g_procs;
struct proc *proc_find(const char *id);
struct stdio_req {
	bool want[PROTO_NSTREAMS];
};
/* create/exec: both return a proc in CREATED (create) or RUNNING (exec) state, or NULL + ERR. */
struct proc *proc_create_container(const char *id, const char *bundle, const char *config, bool no_pivot,
				   const struct stdio_req *io, char *err, size_t errlen);
struct proc *proc_exec(struct container *c, const char *id, const char *process_json, const struct stdio_req *io,
		       char *err, size_t errlen);
int proc_start(struct proc *p, char *err, size_t errlen);
/* Op "hooks" (hooks.c): run the N hooks of KIND in the container of INIT, in order, STATE on
 * their stdin; the first failure stops and fills ERR. */
struct proto_hook;
int hooks_run(const struct proc *init, const char *kind, const struct proto_hook *h, size_t n, const char *state,
	      char *err, size_t errlen);
int proc_signal(struct proc *p, int sig, bool all);
int proc_resize(struct proc *p, unsigned rows, unsigned cols);
/* Attach a host connection SOCK as stream KIND of P; 0 or -1 with ERR. */
int proc_attach(struct proc *p, int kind, int sock, char *err, size_t errlen);
/* SIGCHLD: reap everything. */
void proc_reap(void);
int streams_register(struct proc *p);
void proc_check_complete(struct proc *p);
void streams_process_exited(struct proc *p);
/* Called from the event loop when a stream fd is ready. */
void stream_event(struct stream *st, int fd, uint32_t events);
void proc_free(struct proc *p);
void unlink_proc(struct proc *p);
/* Kill everything (shutdown). */
void proc_kill_all(void);
/* All processes created so far have exited and been reported. */
bool proc_all_reported(void);
bool proc_init_reported(void);
void proc_forget_conn(struct conn *c);
void proc_oom_event(struct proc *p);
int proc_add_waiter(struct proc *p, struct conn *c, uint64_t id);

/* ---- event loop and connections (server.c) ---- */
enum watch_kind { W_LISTEN, W_CONN, W_STREAM, W_OOM, W_SIGNAL };
struct watch {
	enum watch_kind kind;
	void *obj;
	int fd;
};
int loop_add(int fd, uint32_t events, struct watch *w);
int loop_mod(int fd, uint32_t events, struct watch *w);
void loop_del(int fd);
int loop_add_stream(int fd, uint32_t events, struct watch *w); /* W takes ownership */
void server_quit(void);
void conn_set_events(struct conn *c, bool on);
int server_run(void);
/* Send a response/event frame to a control connection (may close it on error). */
int conn_send(struct conn *c, const char *json, size_t len);
int conn_reply_exit(struct conn *c, uint64_t id, struct proc *p);
int server_broadcast_exit(struct proc *p); /* number of connections that got it */
void server_check_done(void);
void set_nonblock(int fd, bool on);

#endif
