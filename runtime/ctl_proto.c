/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI ↔ shim protocol's encoders and decoders (ctl_proto.h), on common/json. */
#include "ctl_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static const char *const OP_NAMES[CTL_OP_COUNT] = {
    [CTL_OP_START] = "start",	[CTL_OP_KILL] = "kill", [CTL_OP_RESIZE] = "resize", [CTL_OP_PAUSE] = "pause",
    [CTL_OP_RESUME] = "resume", [CTL_OP_OOM] = "oom",	[CTL_OP_PS] = "ps",	    [CTL_OP_STATS] = "stats",
    [CTL_OP_UPDATE] = "update", [CTL_OP_EXEC] = "exec",
};

/* The fields each op may carry besides "v" and "op" (space-separated). */
static const char *const OP_FIELDS[CTL_OP_COUNT] = {
    [CTL_OP_KILL] = " process signal all ",
    [CTL_OP_RESIZE] = " process rows cols ",
    [CTL_OP_UPDATE] = " resources ",
    [CTL_OP_EXEC] = " id tty stdin process ",
};

#define MAX_FIELDS 16

const char *ctl_op_name(enum ctl_op op)
{
	return (unsigned)op < CTL_OP_COUNT ? OP_NAMES[op] : NULL;
}

static int op_by_name(const char *name)
{
	for (int i = 0; i < CTL_OP_COUNT; i++)
		if (!strcmp(OP_NAMES[i], name))
			return i;
	return -1;
}

/* --- encoding ------------------------------------------------------------------------------ */

/* KEY: the JSON object in the text JS (parsed with json_parse's limits). */
static int gen_nested(struct json_gen *pg, const char *what, const char *key, const char *js, char *err,
		      size_t errlen)
{
	char perr[256];
	yajl_val v = js ? json_parse(js, strlen(js), perr, sizeof(perr)) : NULL;
	if (!v || !YAJL_IS_OBJECT(v)) {
		snprintf(err, errlen, "%s request: %s: %s", what, key,
			 !js ? "missing"
			 : v ? "not a JSON object"
			     : perr);
		if (v)
			yajl_tree_free(v);
		errno = EINVAL;
		return -1;
	}
	json_gen_key(pg, key);
	if (!pg->err)
		json_gen_value(pg->g, v);
	yajl_tree_free(v);
	return 0;
}

static int gen_req_fields(struct json_gen *pg, const struct ctl_req *r, char *err, size_t errlen)
{
	switch (r->op) {
	case CTL_OP_KILL:
		if (r->kill.signal < 0 || r->kill.signal > 64) {
			snprintf(err, errlen, "kill request: signal %d: not in 0..64", r->kill.signal);
			return -1;
		}
		if (r->kill.process)
			json_gen_str(pg, "process", r->kill.process);
		json_gen_int(pg, "signal", r->kill.signal);
		json_gen_bool(pg, "all", r->kill.all);
		return 0;
	case CTL_OP_RESIZE:
		if (!r->resize.rows || !r->resize.cols || r->resize.rows > 65535 || r->resize.cols > 65535) {
			snprintf(err, errlen, "resize request: %ux%u: not in 1..65535", r->resize.rows,
				 r->resize.cols);
			return -1;
		}
		if (r->resize.process)
			json_gen_str(pg, "process", r->resize.process);
		json_gen_int(pg, "rows", r->resize.rows);
		json_gen_int(pg, "cols", r->resize.cols);
		return 0;
	case CTL_OP_UPDATE:
		return gen_nested(pg, "update", "resources", r->update.resources, err, errlen);
	case CTL_OP_EXEC:
		if (!r->exec.id || !r->exec.id[0] || strlen(r->exec.id) > CTL_EXEC_ID_MAX) {
			snprintf(err, errlen, "exec request: the id must be 1..%d bytes", CTL_EXEC_ID_MAX);
			return -1;
		}
		json_gen_str(pg, "id", r->exec.id);
		json_gen_bool(pg, "tty", r->exec.tty);
		json_gen_bool(pg, "stdin", r->exec.want_stdin);
		return gen_nested(pg, "exec", "process", r->exec.process, err, errlen);
	default:
		return 0;
	}
}

/* The finished object of PG into *OUT / *LEN, at most CTL_MAX_LINE bytes. */
static int gen_finish(struct json_gen *pg, const char *what, char **out, size_t *len, char *err,
		      size_t errlen)
{
	const char *js;
	size_t n;
	*out = NULL;
	if (json_gen_end(pg, &js, &n) < 0) {
		snprintf(err, errlen, "%s: out of memory", what);
		errno = ENOMEM;
		return -1;
	}
	if (n > CTL_MAX_LINE) {
		snprintf(err, errlen, "the %s is %zu bytes: over the shim's limit of %d bytes (1 MiB)", what,
			 n, CTL_MAX_LINE);
		errno = EMSGSIZE;
		return -1;
	}
	*out = strndup(js, n);
	if (!*out) {
		snprintf(err, errlen, "%s: out of memory", what);
		errno = ENOMEM;
		return -1;
	}
	*len = n;
	return 0;
}

int ctl_req_encode(const struct ctl_req *req, char **out, size_t *len, char *err, size_t errlen)
{
	struct json_gen pg;
	*out = NULL;
	const char *name = ctl_op_name(req->op);
	if (!name) {
		snprintf(err, errlen, "request: op %d is not one of the protocol's", (int)req->op);
		errno = EINVAL;
		return -1;
	}
	if (json_gen_begin(&pg) < 0) {
		snprintf(err, errlen, "request: out of memory");
		errno = ENOMEM;
		return -1;
	}
	json_gen_int(&pg, "v", CTL_PROTO_VERSION);
	json_gen_str(&pg, "op", name);
	int r = -1;
	if (gen_req_fields(&pg, req, err, errlen) < 0)
		errno = errno == EINVAL || errno == ENOMEM ? errno : EINVAL;
	else
		r = gen_finish(&pg, "request", out, len, err, errlen);
	json_gen_free(&pg);
	return r;
}

int ctl_reply_encode(const struct ctl_reply *rep, char **out, size_t *len, char *err, size_t errlen)
{
	struct json_gen pg;
	*out = NULL;
	if (json_gen_begin(&pg) < 0) {
		snprintf(err, errlen, "reply: out of memory");
		errno = ENOMEM;
		return -1;
	}
	json_gen_int(&pg, "v", CTL_PROTO_VERSION);
	int r = 0;
	if (rep->error) {
		json_gen_str(&pg, "error", rep->error);
	} else {
		json_gen_bool(&pg, "ok", 1);
		if (rep->started)
			json_gen_bool(&pg, "started", 1);
		if (rep->has_exit)
			json_gen_int(&pg, "exit", rep->exit);
		if (rep->has_oom)
			json_gen_int(&pg, "oom_kills", rep->oom_kills);
		if (rep->data)
			r = gen_nested(&pg, "reply", "data", rep->data, err, errlen);
	}
	if (r == 0)
		r = gen_finish(&pg, "reply", out, len, err, errlen);
	json_gen_free(&pg);
	return r;
}

/* --- decoding ------------------------------------------------------------------------------ */

/* LINE as an object of at most MAX_FIELDS distinct keys with protocol version "v" == 1. */
static yajl_val parse_msg(const char *what, const char *line, size_t len, char *err, size_t errlen)
{
	char perr[256];
	if (len > CTL_MAX_LINE || strlen(line) != len) {
		snprintf(err, errlen, "%s: %s", what,
			 len > CTL_MAX_LINE ? "longer than the protocol's 1 MiB" : "NUL byte in the line");
		return NULL;
	}
	yajl_val v = json_parse(line, len, perr, sizeof(perr));
	if (!v || !YAJL_IS_OBJECT(v)) {
		snprintf(err, errlen, "%s: %s", what, v ? "not a JSON object" : perr);
		goto bad;
	}
	size_t n = v->u.object.len;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n && n <= MAX_FIELDS; j++)
			if (!strcmp(v->u.object.keys[i], v->u.object.keys[j])) {
				snprintf(err, errlen, "%s: field \"%.64s\" given twice", what,
					 v->u.object.keys[i]);
				goto bad;
			}
	if (n > MAX_FIELDS) {
		snprintf(err, errlen, "%s: %zu fields, at most %d", what, n, MAX_FIELDS);
		goto bad;
	}
	yajl_val ver = json_get(v, "v", yajl_t_any);
	if (!ver) {
		snprintf(err, errlen,
			 "%s without a protocol version (runm and the shim are from different builds: "
			 "this one speaks v%d)",
			 what, CTL_PROTO_VERSION);
		goto bad;
	}
	if (!YAJL_IS_INTEGER(ver) || YAJL_GET_INTEGER(ver) != CTL_PROTO_VERSION) {
		char got[32] = "not an integer";
		if (YAJL_IS_INTEGER(ver))
			snprintf(got, sizeof(got), "v%lld", YAJL_GET_INTEGER(ver));
		snprintf(err, errlen,
			 "%s is control protocol %s, this side speaks v%d (runm and the shim are from "
			 "different builds)",
			 what, got, CTL_PROTO_VERSION);
		goto bad;
	}
	return v;
bad:
	if (v)
		yajl_tree_free(v);
	return NULL;
}

/* Every key of V is "v", EXTRA or one of the space-separated FIELDS. */
static int known_fields(yajl_val v, const char *what, const char *extra, const char *fields, char *err,
			size_t errlen)
{
	for (size_t i = 0; i < v->u.object.len; i++) {
		const char *k = v->u.object.keys[i];
		char pat[80];
		snprintf(pat, sizeof(pat), " %.64s ", k);
		if (strcmp(k, "v") && strcmp(k, extra) &&
		    !(fields && strstr(fields, pat) && !strchr(k, ' '))) {
			snprintf(err, errlen, "%s: unknown field \"%.64s\"", what, k);
			return -1;
		}
	}
	return 0;
}

static int want_int(yajl_val v, const char *what, const char *key, long long min, long long max, bool need,
		    long long *out, char *err, size_t errlen)
{
	if (!json_get(v, key, yajl_t_any) && !need)
		return 0;
	if (json_get_int(v, key, min, max, out) == 0)
		return 0;
	snprintf(err, errlen, "%s: field \"%s\" %s: want an integer in %lld..%lld", what, key,
		 json_get(v, key, yajl_t_any) ? "is wrong" : "is missing", min, max);
	return -1;
}

static int want_bool(yajl_val v, const char *what, const char *key, bool *out, char *err, size_t errlen)
{
	int b = json_get_bool(v, key, 0);
	if (b < 0) {
		snprintf(err, errlen, "%s: field \"%s\": want true or false", what, key);
		return -1;
	}
	*out = b == 1;
	return 0;
}

/* An optional string KEY (a process id). */
static int want_str(yajl_val v, const char *what, const char *key, bool need, const char **out, char *err,
		    size_t errlen)
{
	yajl_val s = json_get(v, key, yajl_t_any);
	if (!s && !need)
		return 0;
	if (s && YAJL_IS_STRING(s) && s->u.string[0] && strlen(s->u.string) <= CTL_EXEC_ID_MAX) {
		*out = s->u.string;
		return 0;
	}
	snprintf(err, errlen, "%s: field \"%s\" %s: want a string of 1..%d bytes", what, key,
		 s ? "is wrong" : "is missing", CTL_EXEC_ID_MAX);
	return -1;
}

/* The object KEY of V as JSON text (malloc'd into *OUT). */
static int want_nested(yajl_val v, const char *what, const char *key, char **out, char *err, size_t errlen)
{
	yajl_val o = json_get(v, key, yajl_t_object);
	if (!o) {
		snprintf(err, errlen, "%s: field \"%s\" %s: want a JSON object", what, key,
			 json_get(v, key, yajl_t_any) ? "is wrong" : "is missing");
		return -1;
	}
	if (!(*out = json_to_text(o))) {
		snprintf(err, errlen, "%s: out of memory", what);
		return -1;
	}
	return 0;
}

static int decode_fields(yajl_val v, struct ctl_req *r, char *err, size_t errlen)
{
	long long n = 0, m = 0;
	switch (r->op) {
	case CTL_OP_KILL:
		if (want_int(v, "kill request", "signal", 0, 64, true, &n, err, errlen) < 0 ||
		    want_bool(v, "kill request", "all", &r->kill.all, err, errlen) < 0 ||
		    want_str(v, "kill request", "process", false, &r->kill.process, err, errlen) < 0)
			return -1;
		r->kill.signal = (int)n;
		return 0;
	case CTL_OP_RESIZE:
		if (want_int(v, "resize request", "rows", 1, 65535, true, &n, err, errlen) < 0 ||
		    want_int(v, "resize request", "cols", 1, 65535, true, &m, err, errlen) < 0 ||
		    want_str(v, "resize request", "process", false, &r->resize.process, err, errlen) < 0)
			return -1;
		r->resize.rows = (unsigned)n;
		r->resize.cols = (unsigned)m;
		return 0;
	case CTL_OP_UPDATE:
		if (want_nested(v, "update request", "resources", &r->nested_, err, errlen) < 0)
			return -1;
		r->update.resources = r->nested_;
		return 0;
	case CTL_OP_EXEC:
		if (want_str(v, "exec request", "id", true, &r->exec.id, err, errlen) < 0 ||
		    want_bool(v, "exec request", "tty", &r->exec.tty, err, errlen) < 0 ||
		    want_bool(v, "exec request", "stdin", &r->exec.want_stdin, err, errlen) < 0 ||
		    want_nested(v, "exec request", "process", &r->nested_, err, errlen) < 0)
			return -1;
		r->exec.process = r->nested_;
		return 0;
	default:
		return 0;
	}
}

int ctl_req_decode(const char *line, size_t len, struct ctl_req *req, char *err, size_t errlen)
{
	memset(req, 0, sizeof(*req));
	yajl_val v = parse_msg("request", line, len, err, errlen);
	if (!v)
		return -1;
	const char *op = json_get_str(v, "op");
	int i = op ? op_by_name(op) : -1;
	if (i < 0) {
		if (op)
			snprintf(err, errlen, "unknown request \"%.64s\"", op);
		else
			snprintf(err, errlen, "request: field \"op\" is %s: want a string",
				 json_get(v, "op", yajl_t_any) ? "wrong" : "missing");
		yajl_tree_free(v);
		return -1;
	}
	char what[32];
	snprintf(what, sizeof(what), "%s request", OP_NAMES[i]);
	req->op = (enum ctl_op)i;
	req->tree_ = v;
	if (known_fields(v, what, "op", OP_FIELDS[i], err, errlen) < 0 ||
	    decode_fields(v, req, err, errlen) < 0) {
		ctl_req_free(req);
		return -1;
	}
	return 0;
}

void ctl_req_free(struct ctl_req *req)
{
	if (req->tree_)
		yajl_tree_free(req->tree_);
	free(req->nested_);
	memset(req, 0, sizeof(*req));
}

static int decode_reply_ok(yajl_val v, struct ctl_reply *rep, char *err, size_t errlen)
{
	const char *what = "reply";
	long long n = 0;
	if (want_bool(v, what, "started", &rep->started, err, errlen) < 0)
		return -1;
	rep->has_exit = json_get(v, "exit", yajl_t_any) != NULL;
	if (want_int(v, what, "exit", -1, 65535, false, &n, err, errlen) < 0)
		return -1;
	rep->exit = (int)n;
	rep->has_oom = json_get(v, "oom_kills", yajl_t_any) != NULL;
	if (want_int(v, what, "oom_kills", 0, (long long)(~0ULL >> 1), false, &rep->oom_kills, err, errlen) <
	    0)
		return -1;
	yajl_val d = json_get(v, "data", yajl_t_any);
	if (d && !YAJL_IS_OBJECT(d)) {
		snprintf(err, errlen, "reply: field \"data\" is wrong: want a JSON object");
		return -1;
	}
	rep->data_val = d;
	return 0;
}

int ctl_reply_decode(const char *line, size_t len, struct ctl_reply *rep, char *err, size_t errlen)
{
	memset(rep, 0, sizeof(*rep));
	yajl_val v = parse_msg("reply", line, len, err, errlen);
	if (!v)
		return -1;
	rep->tree_ = v;
	yajl_val e = json_get(v, "error", yajl_t_any);
	int ok = json_get_bool(v, "ok", 0);
	if (e) {
		if (!YAJL_IS_STRING(e) || known_fields(v, "error reply", "error", NULL, err, errlen) < 0) {
			if (!YAJL_IS_STRING(e))
				snprintf(err, errlen, "reply: field \"error\" is wrong: want a string");
			goto bad;
		}
		rep->error = e->u.string;
		return 0;
	}
	if (ok != 1) {
		snprintf(err, errlen, "reply: neither \"ok\":true nor an \"error\"");
		goto bad;
	}
	if (known_fields(v, "reply", "ok", " started exit oom_kills data ", err, errlen) < 0 ||
	    decode_reply_ok(v, rep, err, errlen) < 0)
		goto bad;
	return 0;
bad:
	ctl_reply_free(rep);
	return -1;
}

void ctl_reply_free(struct ctl_reply *rep)
{
	if (rep->tree_)
		yajl_tree_free(rep->tree_);
	memset(rep, 0, sizeof(*rep));
}
