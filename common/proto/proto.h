/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runm host <-> agent protocol, version 1 (compiled by both sides; see docs/protocol.md).
 *
 * Transport: hybrid vsock.  The control connection is guest port PROTO_PORT_CONTROL, every
 * process stream (stdin, stdout, stderr or the one tty stream) is its own connection to
 * PROTO_PORT_STREAM.  Every message is a frame: u32 big-endian length, then that many bytes of
 * one JSON object.  Frames larger than PROTO_MAX_MSG are a protocol error (connection closed).
 *
 *   request   {"id":N,"op":"<op>",...}
 *   response  {"id":N,"ok":true,...}  or  {"id":N,"ok":false,"error":"<step>: <target>: <why>"}
 *   event     {"event":"exit","process":"<id>",...}   (no "id"; only on subscribed connections)
 *
 * A stream connection starts with one frame {"process":"<id>","stream":"stdout"} answered by a
 * response frame {"ok":true} (or an error and close); after that it carries raw bytes.
 */
#ifndef RUNM_COMMON_PROTO_H
#define RUNM_COMMON_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "json.h"

#define PROTO_VERSION	    1
#define PROTO_PORT_CONTROL  1024
#define PROTO_PORT_STREAM   1025
#define PROTO_MAX_MSG	    (4u << 20) /* biggest frame either side accepts */
#define PROTO_MAX_ID	    64	       /* process id length limit (bytes, without NUL) */
#define PROTO_HANDSHAKE_MAX 32	       /* "CONNECT 4294967295\n" fits */

enum proto_stream { PROTO_STDIN = 0, PROTO_STDOUT, PROTO_STDERR, PROTO_TTY, PROTO_NSTREAMS };
const char *proto_stream_name(enum proto_stream s);
/* -1 when NAME is not a stream name. */
int proto_stream_parse(const char *name);

/* --- framing -------------------------------------------------------------------------------- */
/* Incremental, bounded frame receiver for non-blocking sockets. */
struct proto_rx {
	uint8_t hdr[4];
	size_t hdr_got;
	uint32_t len;
	size_t got;
	char *buf; /* len + 1 bytes, NUL terminated when complete */
};
/* Read from FD: 1 = a complete frame is in rx->buf (rx->len bytes; take it with
 * proto_rx_take), 0 = need more (EAGAIN), -1 = EOF/error/oversized (errno: 0 for clean EOF
 * between frames, EPROTO for oversized or truncated). */
int proto_rx_read(struct proto_rx *rx, int fd);
/* Detach the completed frame (caller frees) and reset for the next one. */
char *proto_rx_take(struct proto_rx *rx, size_t *len);
void proto_rx_free(struct proto_rx *rx);

/* Blocking helpers (retry on EINTR/short I/O). 0 on success, -1 with errno. */
int proto_write_frame(int fd, const char *json, size_t len);
/* The same, giving up with ETIMEDOUT when a non-blocking FD stays full for TIMEOUT_MS. */
int proto_write_frame_timeout(int fd, const char *json, size_t len, int timeout_ms);
/* Reads one frame into a malloc'd NUL-terminated buffer; errno EPROTO when oversized,
 * ECONNRESET (and *out NULL) on EOF, ETIMEDOUT when no whole frame came within timeout_ms
 * (< 0: wait forever; a blocking FD is made non-blocking for the call). */
int proto_read_frame(int fd, char **out, size_t *len, int timeout_ms);

/* --- hybrid vsock handshake ------------------------------------------------------------------ */
/* Parse "CONNECT <port>\n" (exactly, no extras): port or -1. */
long proto_parse_connect(const char *line, size_t len);
/* Parse "OK <n>\n": 0 or -1. */
int proto_parse_ok(const char *line, size_t len);

/* --- messages -------------------------------------------------------------------------------- */
enum proto_kind { PROTO_REQUEST = 1, PROTO_RESPONSE, PROTO_EVENT };

struct proto_msg {
	enum proto_kind kind;
	uint64_t id;	   /* request / response */
	const char *op;	   /* request: op name; event: event name */
	int ok;		   /* response */
	const char *error; /* response when !ok */
	yajl_val root;	   /* the whole object (owned; proto_msg_free) */
};
/* Parse one frame. 0 on success; -1 with a reason in ERR on malformed input. */
int proto_msg_parse(const char *buf, size_t len, struct proto_msg *m, char *err, size_t errlen);
void proto_msg_free(struct proto_msg *m);
/* --- ps ------------------------------------------------------------------------------------- */
/* Response of op "ps": {"id":N,"ok":true,"processes":[{"pid":7,"cmd":"sleep 1000","ppid":1,
 * "uid":0,"c":0,"start":1700000000,"time":3,"tty":"pts/0"},...]}. pid and cmd are required; the
 * others (added within version 1) are optional: -1 (tty "") when unknown or absent. */
#define PROTO_PS_MAX	 4096 /* processes in one response; more is a protocol error */
#define PROTO_PS_CMD_MAX 256  /* command line bytes kept per process (with NUL) */
#define PROTO_PS_TTY_MAX 16   /* tty name bytes (with NUL), "pts/0"; "?" for none */
struct proto_ps_entry {
	int pid;
	char cmd[PROTO_PS_CMD_MAX];
	int ppid;	 /* parent's guest pid */
	long long uid;	 /* effective uid */
	int c;		 /* ps' C: CPU use in percent over the process's life (0-99) */
	long long start; /* start time, seconds since the epoch (the guest's clock) */
	long long time;	 /* CPU time (user + system), seconds */
	char tty[PROTO_PS_TTY_MAX];
};
/* Emit "processes": the N entries. */
void proto_gen_ps(struct json_gen *pg, const struct proto_ps_entry *e, size_t n);
/* Decode "processes" of a ps response into a malloc'd array (*out NULL when *n is 0).
 * -1 with a reason in ERR when missing, too long, or an entry is not {pid in [1, INT32_MAX],
 * cmd string}, or an optional field is out of range or of the wrong type; a longer cmd or tty
 * is truncated. */
int proto_parse_ps(yajl_val root, struct proto_ps_entry **out, size_t *n, char *err, size_t errlen);

/* --- update (linux.resources) --------------------------------------------------------------- */
/* Request of op "update": {"id":N,"op":"update","resources":{...}}, "resources" in the shape of
 * the runtime-spec's LinuxResources (memory.limit/reservation/swap, cpu.quota/period/shares/
 * cpus/mems, pids.limit); other members are ignored.  As in runc, a memory value of 0 means
 * "unchanged", -1 means "no limit"; a pids limit <= 0 means "no limit". */
#define PROTO_CPUSET_MAX 128 /* "0-3,7" list bytes (with NUL) */
enum {
	PROTO_RES_MEM_LIMIT = 1u << 0,
	PROTO_RES_MEM_RESERVATION = 1u << 1,
	PROTO_RES_MEM_SWAP = 1u << 2,
	PROTO_RES_CPU_QUOTA = 1u << 3,
	PROTO_RES_CPU_PERIOD = 1u << 4,
	PROTO_RES_CPU_SHARES = 1u << 5,
	PROTO_RES_CPU_CPUS = 1u << 6,
	PROTO_RES_CPU_MEMS = 1u << 7,
	PROTO_RES_PIDS_LIMIT = 1u << 8,
};
struct proto_resources {
	unsigned set;					/* PROTO_RES_* of the members present */
	long long mem_limit, mem_reservation, mem_swap; /* bytes, -1 = max */
	long long cpu_quota;				/* usec, <= 0 = max */
	long long cpu_period;				/* usec, [1000, 1000000] */
	long long cpu_shares;				/* [2, 262144] */
	long long pids_limit;				/* <= 0 = max */
	char cpus[PROTO_CPUSET_MAX], mems[PROTO_CPUSET_MAX];
};
/* Emit KEY: the members of R that are set. */
void proto_gen_resources(struct json_gen *pg, const char *key, const struct proto_resources *r);
/* Decode a LinuxResources object (NULL: nothing set). -1 with a reason in ERR for a member of
 * the wrong type or out of range, or a cpus/mems list that is not digits, ',' and '-'. */
int proto_parse_resources(yajl_val res, struct proto_resources *r, char *err, size_t errlen);

/* Exit code as shells and engines report it: code, or 128+signal. */
int proto_exit_code(int wstatus);

#endif
