/* SPDX-License-Identifier: Apache-2.0 */
/* Framing, handshake and message encode/decode for the runm agent protocol. */
#include "proto/proto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const stream_names[PROTO_NSTREAMS] = {"stdin", "stdout", "stderr", "tty"};

const char *proto_stream_name(enum proto_stream s)
{
	return (unsigned)s < PROTO_NSTREAMS ? stream_names[s] : "?";
}

int proto_stream_parse(const char *name)
{
	for (int i = 0; name && i < PROTO_NSTREAMS; i++)
		if (strcmp(name, stream_names[i]) == 0)
			return i;
	return -1;
}

/* --- framing ------------------------------------------------------------------------------- */
int proto_rx_read(struct proto_rx *rx, int fd)
{
	for (;;) {
		ssize_t n;
		if (rx->hdr_got < 4) {
			n = read(fd, rx->hdr + rx->hdr_got, 4 - rx->hdr_got);
			if (n == 0) {
				errno = rx->hdr_got ? EPROTO : 0;
				return -1;
			}
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return errno == EAGAIN ? 0 : -1;
			}
			rx->hdr_got += (size_t)n;
			if (rx->hdr_got < 4)
				continue;
			rx->len = (uint32_t)rx->hdr[0] << 24 | (uint32_t)rx->hdr[1] << 16 |
				  (uint32_t)rx->hdr[2] << 8 | rx->hdr[3];
			if (rx->len == 0 || rx->len > PROTO_MAX_MSG) {
				errno = EPROTO;
				return -1;
			}
			rx->buf = malloc(rx->len + 1);
			if (!rx->buf)
				return -1;
			rx->got = 0;
		}
		if (rx->got == rx->len) {
			rx->buf[rx->len] = '\0';
			return 1;
		}
		n = read(fd, rx->buf + rx->got, rx->len - rx->got);
		if (n == 0) {
			errno = EPROTO;
			return -1;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		rx->got += (size_t)n;
	}
}

char *proto_rx_take(struct proto_rx *rx, size_t *len)
{
	char *b = rx->buf;
	if (len)
		*len = rx->len;
	memset(rx, 0, sizeof(*rx));
	return b;
}

void proto_rx_free(struct proto_rx *rx)
{
	free(rx->buf);
	memset(rx, 0, sizeof(*rx));
}

static int write_all(int fd, const void *p, size_t n, int timeout_ms)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pfd = {.fd = fd, .events = POLLOUT};
				int r = poll(&pfd, 1, timeout_ms);
				if (r == 0) {
					errno = ETIMEDOUT;
					return -1;
				}
				continue;
			}
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int proto_write_frame(int fd, const char *json, size_t len)
{
	return proto_write_frame_timeout(fd, json, len, -1);
}

int proto_write_frame_timeout(int fd, const char *json, size_t len, int timeout_ms)
{
	if (len == 0 || len > PROTO_MAX_MSG) {
		errno = EMSGSIZE;
		return -1;
	}
	uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
	if (len <= 4096) {
		char buf[4100];
		memcpy(buf, hdr, 4);
		memcpy(buf + 4, json, len);
		return write_all(fd, buf, len + 4, timeout_ms);
	}
	if (write_all(fd, hdr, 4, timeout_ms) < 0)
		return -1;
	return write_all(fd, json, len, timeout_ms);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int read_frame(int fd, char **out, size_t *len, int timeout_ms);

int proto_read_frame(int fd, char **out, size_t *len, int timeout_ms)
{
	/* A timeout needs non-blocking reads: switch a blocking fd for the duration. */
	int fl = timeout_ms >= 0 ? fcntl(fd, F_GETFL) : -1;
	if (fl >= 0 && !(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	int r = read_frame(fd, out, len, timeout_ms);
	if (fl >= 0 && !(fl & O_NONBLOCK)) {
		int e = errno;
		fcntl(fd, F_SETFL, fl);
		errno = e;
	}
	return r;
}

static int read_frame(int fd, char **out, size_t *len, int timeout_ms)
{
	struct proto_rx rx = {0};
	long long deadline = timeout_ms < 0 ? 0 : now_ms() + timeout_ms;
	*out = NULL;
	for (;;) {
		int r = proto_rx_read(&rx, fd);
		if (r == 1) {
			*out = proto_rx_take(&rx, len);
			return 0;
		}
		if (r < 0) {
			int e = errno ? errno : ECONNRESET;
			proto_rx_free(&rx);
			errno = e;
			return -1;
		}
		/* EAGAIN on a non-blocking fd: wait for more. */
		int wait = -1;
		if (timeout_ms >= 0) {
			long long left = deadline - now_ms();
			if (left <= 0) {
				proto_rx_free(&rx);
				errno = ETIMEDOUT;
				return -1;
			}
			wait = left > INT_MAX ? INT_MAX : (int)left;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, wait) < 0 && errno != EINTR) {
			proto_rx_free(&rx);
			return -1;
		}
	}
}

/* --- handshake ----------------------------------------------------------------------------- */
static long parse_num_line(const char *line, size_t len, const char *prefix)
{
	size_t pl = strlen(prefix);
	if (len < pl + 2 || len > PROTO_HANDSHAKE_MAX || memcmp(line, prefix, pl) != 0 ||
	    line[len - 1] != '\n')
		return -1;
	unsigned long long v = 0;
	size_t i = pl;
	if (line[i] < '0' || line[i] > '9')
		return -1;
	for (; i < len - 1; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(line[i] - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	return (long)v;
}

long proto_parse_connect(const char *line, size_t len)
{
	return parse_num_line(line, len, "CONNECT ");
}

int proto_parse_ok(const char *line, size_t len)
{
	return parse_num_line(line, len, "OK ") < 0 ? -1 : 0;
}

/* --- messages ------------------------------------------------------------------------------ */
int proto_msg_parse(const char *buf, size_t len, struct proto_msg *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	if (len == 0 || len > PROTO_MAX_MSG) {
		snprintf(err, errlen, "message size %zu out of range", len);
		return -1;
	}
	if (buf[len] != '\0') {
		snprintf(err, errlen, "message not terminated");
		return -1;
	}
	m->root = json_parse(buf, len, err, errlen);
	if (!m->root)
		return -1;
	if (!YAJL_IS_OBJECT(m->root)) {
		snprintf(err, errlen, "message is not a JSON object");
		goto bad;
	}
	long long id;
	int has_id = json_get_int(m->root, "id", 0, INT64_MAX, &id) == 0;
	if (json_get(m->root, "id", yajl_t_any) && !has_id) {
		snprintf(err, errlen, "\"id\" must be a non-negative integer");
		goto bad;
	}
	m->id = has_id ? (uint64_t)id : 0;
	const char *op = json_get_str(m->root, "op");
	const char *ev = json_get_str(m->root, "event");
	int ok = json_get_bool(m->root, "ok", -2);
	if (op && has_id) {
		m->kind = PROTO_REQUEST;
		m->op = op;
	} else if (ev && !op) {
		m->kind = PROTO_EVENT;
		m->op = ev;
	} else if (ok >= 0 && !op) {
		m->kind = PROTO_RESPONSE;
		m->ok = ok;
		m->error = json_get_str(m->root, "error");
		if (!ok && !m->error) {
			snprintf(err, errlen, "error response without \"error\"");
			goto bad;
		}
	} else {
		snprintf(err, errlen, "message is neither request (id+op), response (ok) nor event");
		goto bad;
	}
	if ((m->op && (strlen(m->op) == 0 || strlen(m->op) > 32))) {
		snprintf(err, errlen, "bad op/event name");
		goto bad;
	}
	return 0;
bad:
	yajl_tree_free(m->root);
	memset(m, 0, sizeof(*m));
	return -1;
}

void proto_msg_free(struct proto_msg *m)
{
	if (m->root)
		yajl_tree_free(m->root);
	memset(m, 0, sizeof(*m));
}

int proto_exit_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 255;
}

void proto_gen_ps(struct json_gen *pg, const struct proto_ps_entry *e, size_t n)
{
	json_gen_key(pg, "processes");
	if (pg->err)
		return;
	yajl_gen_array_open(pg->g);
	for (size_t i = 0; i < n; i++) {
		yajl_gen_map_open(pg->g);
		json_gen_int(pg, "pid", e[i].pid);
		json_gen_str(pg, "cmd", e[i].cmd);
		if (e[i].ppid >= 0)
			json_gen_int(pg, "ppid", e[i].ppid);
		if (e[i].uid >= 0)
			json_gen_int(pg, "uid", e[i].uid);
		if (e[i].c >= 0)
			json_gen_int(pg, "c", e[i].c);
		if (e[i].start >= 0)
			json_gen_int(pg, "start", e[i].start);
		if (e[i].time >= 0)
			json_gen_int(pg, "time", e[i].time);
		if (e[i].tty[0])
			json_gen_str(pg, "tty", e[i].tty);
		yajl_gen_map_close(pg->g);
	}
	if (yajl_gen_array_close(pg->g) != yajl_gen_status_ok)
		pg->err = 1;
}

/* The optional members of one ps entry: absent → -1 (""), present → checked. */
static int ps_optional(yajl_val o, struct proto_ps_entry *e, char *err, size_t errlen)
{
	static const struct {
		const char *key;
		long long max;
	} f[] = {
	    {"ppid", INT32_MAX}, {"uid", UINT32_MAX}, {"c", 99}, {"start", INT64_MAX}, {"time", INT64_MAX}};
	long long v[5];
	for (size_t k = 0; k < 5; k++) {
		v[k] = -1;
		if (json_get(o, f[k].key, yajl_t_any) && json_get_int(o, f[k].key, 0, f[k].max, &v[k]) < 0) {
			snprintf(err, errlen, "ps: process %d: \"%s\" must be an integer in [0, %lld]",
				 e->pid, f[k].key, f[k].max);
			return -1;
		}
	}
	e->ppid = (int)v[0];
	e->uid = v[1];
	e->c = (int)v[2];
	e->start = v[3];
	e->time = v[4];
	const char *tty = json_get_str(o, "tty");
	if (json_get(o, "tty", yajl_t_any) && !tty) {
		snprintf(err, errlen, "ps: process %d: \"tty\" must be a string", e->pid);
		return -1;
	}
	snprintf(e->tty, sizeof(e->tty), "%s", tty ? tty : "");
	return 0;
}

int proto_parse_ps(yajl_val root, struct proto_ps_entry **out, size_t *n, char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	yajl_val a = json_get(root, "processes", yajl_t_array);
	if (!a) {
		snprintf(err, errlen, "ps: response has no \"processes\" array");
		return -1;
	}
	size_t len = a->u.array.len;
	if (len > PROTO_PS_MAX) {
		snprintf(err, errlen, "ps: %zu processes (more than %d)", len, PROTO_PS_MAX);
		return -1;
	}
	if (len == 0)
		return 0;
	struct proto_ps_entry *e = calloc(len, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "ps: out of memory");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		yajl_val o = a->u.array.values[i];
		long long pid;
		const char *cmd = json_get_str(o, "cmd");
		if (!YAJL_IS_OBJECT(o) || json_get_int(o, "pid", 1, INT32_MAX, &pid) < 0 || !cmd) {
			snprintf(err, errlen, "ps: process %zu: needs \"pid\" in [1, %d] and \"cmd\"", i,
				 INT32_MAX);
			free(e);
			return -1;
		}
		e[i].pid = (int)pid;
		snprintf(e[i].cmd, sizeof(e[i].cmd), "%s", cmd);
		if (ps_optional(o, &e[i], err, errlen) < 0) {
			free(e);
			return -1;
		}
	}
	*out = e;
	*n = len;
	return 0;
}

/* --- update --------------------------------------------------------------------------------- */
static void gen_member(struct json_gen *pg, const char *key, const struct proto_resources *r, unsigned mask,
		       const char *const names[], const long long *vals[], size_t n)
{
	if (!(r->set & mask))
		return;
	json_gen_key(pg, key);
	yajl_gen_map_open(pg->g);
	for (size_t i = 0; i < n; i++)
		if (r->set & (1u << (__builtin_ctz(mask) + i)))
			json_gen_int(pg, names[i], *vals[i]);
	if (!strcmp(key, "cpu")) {
		if (r->set & PROTO_RES_CPU_CPUS)
			json_gen_str(pg, "cpus", r->cpus);
		if (r->set & PROTO_RES_CPU_MEMS)
			json_gen_str(pg, "mems", r->mems);
	}
	yajl_gen_map_close(pg->g);
}

void proto_gen_resources(struct json_gen *pg, const char *key, const struct proto_resources *r)
{
	static const char *const mem[] = {"limit", "reservation", "swap"},
				 *const cpu[] = {"quota", "period", "shares"}, *const pids[] = {"limit"};
	const long long *mv[] = {&r->mem_limit, &r->mem_reservation, &r->mem_swap},
			*cv[] = {&r->cpu_quota, &r->cpu_period, &r->cpu_shares}, *pv[] = {&r->pids_limit};
	json_gen_key(pg, key);
	yajl_gen_map_open(pg->g);
	gen_member(pg, "memory", r, PROTO_RES_MEM_LIMIT | PROTO_RES_MEM_RESERVATION | PROTO_RES_MEM_SWAP, mem,
		   mv, 3);
	gen_member(pg, "cpu", r,
		   PROTO_RES_CPU_QUOTA | PROTO_RES_CPU_PERIOD | PROTO_RES_CPU_SHARES | PROTO_RES_CPU_CPUS |
		       PROTO_RES_CPU_MEMS,
		   cpu, cv, 3);
	gen_member(pg, "pids", r, PROTO_RES_PIDS_LIMIT, pids, pv, 1);
	yajl_gen_map_close(pg->g);
}

/* KEY of OBJ: absent (0), an integer in [MIN, MAX] (1, *out set, BIT added), else -1. */
static int res_int(yajl_val obj, const char *sect, const char *key, long long min, long long max,
		   long long *out, unsigned bit, struct proto_resources *r, char *err, size_t errlen)
{
	yajl_val v = json_get(obj, key, yajl_t_any);
	if (!v || YAJL_IS_NULL(v))
		return 0;
	if (json_get_int(obj, key, min, max, out) < 0) {
		snprintf(err, errlen, "resources: %s.%s: not an integer in [%lld, %lld]", sect, key, min,
			 max);
		return -1;
	}
	r->set |= bit;
	return 1;
}

static int res_set(yajl_val obj, const char *key, char *out, unsigned bit, struct proto_resources *r,
		   char *err, size_t errlen)
{
	yajl_val v = json_get(obj, key, yajl_t_any);
	if (!v || YAJL_IS_NULL(v))
		return 0;
	const char *s = json_get_str(obj, key);
	size_t n = s ? strlen(s) : 0;
	if (!s || n == 0 || n >= PROTO_CPUSET_MAX || strspn(s, "0123456789,-") != n) {
		snprintf(err, errlen, "resources: cpu.%s: not a list like \"0-3,7\" (at most %d bytes)", key,
			 PROTO_CPUSET_MAX - 1);
		return -1;
	}
	memcpy(out, s, n + 1);
	r->set |= bit;
	return 1;
}

int proto_parse_resources(yajl_val res, struct proto_resources *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	if (!res || YAJL_IS_NULL(res))
		return 0;
	if (!YAJL_IS_OBJECT(res)) {
		snprintf(err, errlen, "resources: not an object");
		return -1;
	}
	static const char *const sects[] = {"memory", "cpu", "pids"};
	yajl_val s[3];
	for (int i = 0; i < 3; i++) {
		yajl_val v = json_get(res, sects[i], yajl_t_any);
		s[i] = v && YAJL_IS_OBJECT(v) ? v : NULL;
		if (v && !s[i] && !YAJL_IS_NULL(v)) {
			snprintf(err, errlen, "resources: %s: not an object", sects[i]);
			return -1;
		}
	}
	if (res_int(s[0], "memory", "limit", -1, INT64_MAX, &r->mem_limit, PROTO_RES_MEM_LIMIT, r, err,
		    errlen) < 0 ||
	    res_int(s[0], "memory", "reservation", -1, INT64_MAX, &r->mem_reservation,
		    PROTO_RES_MEM_RESERVATION, r, err, errlen) < 0 ||
	    res_int(s[0], "memory", "swap", -1, INT64_MAX, &r->mem_swap, PROTO_RES_MEM_SWAP, r, err, errlen) <
		0 ||
	    res_int(s[1], "cpu", "quota", INT64_MIN, INT64_MAX, &r->cpu_quota, PROTO_RES_CPU_QUOTA, r, err,
		    errlen) < 0 ||
	    res_int(s[1], "cpu", "period", 1000, 1000000, &r->cpu_period, PROTO_RES_CPU_PERIOD, r, err,
		    errlen) < 0 ||
	    res_int(s[1], "cpu", "shares", 0, 262144, &r->cpu_shares, PROTO_RES_CPU_SHARES, r, err, errlen) <
		0 ||
	    res_set(s[1], "cpus", r->cpus, PROTO_RES_CPU_CPUS, r, err, errlen) < 0 ||
	    res_set(s[1], "mems", r->mems, PROTO_RES_CPU_MEMS, r, err, errlen) < 0 ||
	    res_int(s[2], "pids", "limit", INT64_MIN, INT64_MAX, &r->pids_limit, PROTO_RES_PIDS_LIMIT, r, err,
		    errlen) < 0)
		return -1;
	return 0;
}
