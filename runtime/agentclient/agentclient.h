/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host side of the runm agent protocol (common/proto/proto.h, docs/protocol.md).
 *
 *   struct agentclient *ac = ac_connect("/run/runm/ID/vsock.sock", 5000, err, sizeof(err));
 *   ac_hello(ac, false);
 *   ac_create(ac, "init", "/bundle", config_json, &(struct ac_stdio){.out = true, .err = true}, false, &pid);
 *   int out = ac_attach(uds, "init", PROTO_STDOUT, 5000, err, sizeof(err));   (before start)
 *   ac_start(ac, "init");
 *   ... relay out with ac_relay() ...
 *   ac_wait(ac, "init", &ex);     → ex.exit_code (code, or 128+signal), after all output
 *   ac_shutdown(ac); ac_close(ac);
 *
 * Every call is synchronous on its connection: 0 on success, -1 with the reason in ac_error()
 * (the agent's message, e.g. "create init: mount /x/proc (type proc): Operation not permitted").
 * ac_wait blocks its connection until the process exits: use a second connection for
 * concurrent requests (signals, resize).  Not thread-safe per connection.
 */
#ifndef RUNM_AGENTCLIENT_H
#define RUNM_AGENTCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proto/proto.h"

/* Longest wait for the agent's answer to a request (container set-up under a loaded TCG host
 * included): past it the call fails, so no verb hangs on a dead guest. */
#define AC_CALL_TIMEOUT_MS   60000
#define AC_CALL_TIMEOUT_TEXT "60 s"

struct agentclient;

/* Connect through the hybrid vsock UDS, send "CONNECT <port>\n", expect "OK <n>\n".
 * Retries (refused / no such socket / closed by the VMM because nobody listens yet) until
 * timeout_ms.  Returns a blocking fd, or -1 with ERR. */
int ac_dial(const char *uds, unsigned port, int timeout_ms, char *err, size_t errlen);
/* The same, asking alive(opaque) before each retry: once it says false the wait ends
 * (-1, ERR from the last attempt) instead of running into the timeout. */
int ac_dial_while(const char *uds, unsigned port, int timeout_ms, bool (*alive)(void *), void *opaque,
		  char *err, size_t errlen);

struct agentclient *ac_connect(const char *uds, int timeout_ms, char *err, size_t errlen);
/* ac_connect with ac_dial_while's liveness check. */
struct agentclient *ac_connect_while(const char *uds, int timeout_ms, bool (*alive)(void *), void *opaque,
				     char *err, size_t errlen);
/* Wrap an already connected control fd (after the handshake); takes ownership. */
struct agentclient *ac_from_fd(int fd);
void ac_close(struct agentclient *ac);
const char *ac_error(const struct agentclient *ac);
int ac_fd(const struct agentclient *ac);

struct ac_stdio {
	bool in, out, err; /* which streams the host will attach (ignored with a terminal) */
};
struct ac_exit {
	pid_t pid;
	int status;    /* raw wait status */
	int exit_code; /* code, or 128+signal */
	int signal;    /* 0 unless killed by a signal */
};

/* hello: protocol version check; sets the guest clock to ours; EVENTS subscribes this
 * connection to asynchronous "exit" events. */
int ac_hello(struct agentclient *ac, bool events);
/* Name container ID (its init's process id) in every container-wide request from now on
 * (exec, ps, pause, resume, update, stats): a pod member's shim.  NULL: the VM's own (the
 * default).  -1 when ID is longer than PROTO_MAX_ID. */
int ac_set_container(struct agentclient *ac, const char *id);
int ac_mount(struct agentclient *ac, const char *source, const char *target, const char *fstype,
	     const char *options, bool readonly);
/* Create the container: CONFIG is config.json text with guest paths; BUNDLE (guest path)
 * resolves a relative root.path.  The init is held in the created state until ac_start. */
int ac_create(struct agentclient *ac, const char *id, const char *bundle, const char *config,
	      const struct ac_stdio *io, bool no_pivot, pid_t *pid);
int ac_start(struct agentclient *ac, const char *id);
/* Run another process in the container (process.json text); it starts at once, its output
 * waits in the agent's pipe until the streams are attached. */
int ac_exec(struct agentclient *ac, const char *id, const char *process_json, const struct ac_stdio *io,
	    pid_t *pid);
/* Run the N hooks of KIND (createContainer, startContainer) inside the container of ID, with
 * STATE (the OCI state JSON) on their stdin (op "hooks"); returns when they are done.  -1 with
 * the agent's reason in ac_error() ("error running createContainer hook #0 (/x): exit status 3,
 * stdout: …, stderr: …"). */
struct proto_hook;
int ac_hooks(struct agentclient *ac, const char *id, const char *kind, const struct proto_hook *h, size_t n,
	     const char *state);
int ac_signal(struct agentclient *ac, const char *id, int sig, bool all);
int ac_resize(struct agentclient *ac, const char *id, unsigned rows, unsigned cols);
/* pause / resume the whole container with the guest's cgroup v2 freezer (returns once the
 * cgroup is frozen / thawed; an error when the container has no cgroup). */
int ac_pause(struct agentclient *ac, bool pause);
/* New cgroup limits for the container (op "update"): the members of RES that are set. */
int ac_update(struct agentclient *ac, const struct proto_resources *res);
/* Network of the container whose init was created as CONTAINER (the shim's "init"): the NICs
 * the VM was booted with (found by match_mac) become N's interfaces in the container's netns,
 * with N's addresses, routes and neighbours (op "network", proto_net.h).  Idempotent: a second
 * call with the same or more interfaces succeeds.  -1 with the agent's reason in ac_error()
 * ("network: eth0: add address fd00::2/64: Permission denied"). */
struct proto_net;
int ac_network(struct agentclient *ac, const char *container, const struct proto_net *n);
/* The container's processes (guest pids, sorted, with command lines): *procs malloc'd. */
int ac_ps(struct agentclient *ac, struct proto_ps_entry **procs, size_t *n);
/* Blocks until ID exited and its stdout/stderr/tty were drained to EOF. */
int ac_wait(struct agentclient *ac, const char *id, struct ac_exit *ex);
/* Stats as the agent's JSON response (caller frees). */
int ac_stats(struct agentclient *ac, char **json);
/* Kill everything and power the VM off (host mode: the agent exits). */
int ac_shutdown(struct agentclient *ac);
/* Receive one asynchronous event on a subscribed connection (timeout_ms < 0: forever). */
int ac_next_event(struct agentclient *ac, struct ac_exit *ex, char *process, size_t len, int timeout_ms);

/* Any event: "exit" (EXIT filled) or "oom" (OOM_KILLS filled); unknown events are returned
 * too (name set), so callers can skip them. */
struct ac_event {
	char name[16];
	char process[PROTO_MAX_ID + 1];
	struct ac_exit exit;
	long long oom_kills;
};
int ac_next_event_any(struct agentclient *ac, struct ac_event *ev, int timeout_ms);

/* Open stream KIND of process ID: a blocking fd carrying raw bytes, or -1 with ERR. */
int ac_attach(const char *uds, const char *id, enum proto_stream kind, int timeout_ms, char *err,
	      size_t errlen);

/* Relay bytes between fd pairs until every source reached EOF (then its destination is shut
 * down for writing / closed when close_to is set).  Back-pressure: a pair only reads when its
 * bounded buffer (or pipe, for splice) has room.  SIGNAL_FD (or -1) is polled too: when it
 * becomes readable, on_signal(arg) is called.  0 when done, -1 on a poll error. */
struct ac_pipe {
	int from, to;
	bool close_to;
	bool optional; /* ac_relay returns once every non-optional pipe is done (e.g. stdin) */
	/* private */
	char *buf;
	size_t len, off;
	bool eof, done, nosplice, out_blocked;
};
int ac_relay(struct ac_pipe *pipes, size_t n, int signal_fd, void (*on_signal)(void *), void *arg);

#endif
