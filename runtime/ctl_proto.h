/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI ↔ shim control protocol, defined once (docs/architecture.md, "CLI↔shim protocol").
 *
 * One request per connection on <state dir>/shim.sock, one JSON object per line each way:
 *   request  {"v":1,"op":"kill","signal":9,"all":true}
 *   reply    {"v":1,"ok":true,…}  or  {"v":1,"error":"message"}
 * exec keeps its connection: a second reply {"v":1,"ok":true,"exit":N} when the process ends.
 * File descriptors (exec's stdio) ride along as SCM_RIGHTS on the request's first byte.
 * Nested payloads (exec's process, update's resources) are JSON objects inside the request.
 *
 * The decoders take hostile input: every field is checked for presence, type and range, an
 * unknown field or a version other than CTL_PROTO_VERSION is refused with a reason. */
#ifndef RUNM_RUNTIME_CTL_PROTO_H
#define RUNM_RUNTIME_CTL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_tree.h>

#define CTL_PROTO_VERSION 1
/* A line (request or reply) is at most CTL_MAX_MSG bytes with its '\n'. */
#define CTL_MAX_MSG  (1 << 20)
#define CTL_MAX_LINE (CTL_MAX_MSG - 2)
/* Descriptors a request may carry (exec: stdin, stdout, stderr). */
#define CTL_MAX_FDS 3
/* An exec id fits the shim's slot (72 bytes with its NUL). */
#define CTL_EXEC_ID_MAX 71

enum ctl_op {
	CTL_OP_START,  /* release the created container's init */
	CTL_OP_KILL,   /* signal init, an exec'd process, or all */
	CTL_OP_RESIZE, /* a terminal's window size */
	CTL_OP_PAUSE,  /* freeze the container in the guest */
	CTL_OP_RESUME, /* thaw it */
	CTL_OP_OOM,    /* how many OOM kills the container has seen (runm events) */
	CTL_OP_PS,     /* the guest's processes of the container */
	CTL_OP_STATS,  /* runc's stats object */
	CTL_OP_UPDATE, /* new linux.resources */
	CTL_OP_EXEC,   /* a process in the container, stdio over the request's fds */
	CTL_OP_COUNT
};

/* "kill", "resize", …; NULL for a value out of range. */
const char *ctl_op_name(enum ctl_op op);

struct ctl_kill {
	const char *process; /* NULL: the container's init */
	int signal;	     /* 0..64 */
	bool all;
};

struct ctl_resize {
	const char *process; /* NULL: the container's init */
	unsigned rows, cols; /* 1..65535 */
};

struct ctl_exec {
	const char *id; /* the process's id in the guest, 1..CTL_EXEC_ID_MAX bytes */
	bool tty;	/* fds: a pty slave, or the input and output; else stdin, stdout, stderr */
	bool want_stdin;
	const char *process; /* the runtime-spec process object, as JSON text */
};

struct ctl_update {
	const char *resources; /* the runtime-spec linux.resources object, as JSON text */
};

struct ctl_req {
	enum ctl_op op;
	union {
		struct ctl_kill kill;
		struct ctl_resize resize;
		struct ctl_exec exec;
		struct ctl_update update;
	};
	/* the decoder's memory (strings above point into it): ctl_req_free */
	yajl_val tree_;
	char *nested_;
};

struct ctl_reply {
	const char *error; /* NULL: {"ok":true} */
	bool started;	   /* exec: the process runs */
	bool has_exit;	   /* exec: it ended with status EXIT */
	int exit;
	bool has_oom; /* oom: the count of OOM kills */
	long long oom_kills;
	/* ps, stats: the guest's object. Encoding: DATA (JSON text). Decoded: DATA_VAL. */
	const char *data;
	yajl_val data_val;
	yajl_val tree_; /* the decoder's memory: ctl_reply_free */
};

/* REQ as one line (no '\n', NUL-terminated, malloc'd in *OUT, length in *LEN). -1 with a reason
 * in ERR: a nested payload that is not a JSON object, a field out of range, or a line longer
 * than CTL_MAX_LINE (errno EMSGSIZE then; else EINVAL). */
int ctl_req_encode(const struct ctl_req *req, char **out, size_t *len, char *err, size_t errlen);
/* LINE (LEN bytes, NUL-terminated) into *REQ; 0, or -1 with the reason in ERR (and *REQ empty).
 * ctl_req_free after success. */
int ctl_req_decode(const char *line, size_t len, struct ctl_req *req, char *err, size_t errlen);
void ctl_req_free(struct ctl_req *req);

/* The same for replies. */
int ctl_reply_encode(const struct ctl_reply *rep, char **out, size_t *len, char *err, size_t errlen);
int ctl_reply_decode(const char *line, size_t len, struct ctl_reply *rep, char *err, size_t errlen);
void ctl_reply_free(struct ctl_reply *rep);

#endif
