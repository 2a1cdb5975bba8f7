/* SPDX-License-Identifier: Apache-2.0 */
/* Host library for the runm agent protocol: dial, typed calls, stream attach and relay. */
#include "agentclient.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "proto/proto_hooks.h"
#include "proto/proto_net.h"

#define RELAY_BUF (256 * 1024)

struct agentclient {
	int fd;
	uint64_t next_id;
	char err[1024];
	char container[PROTO_MAX_ID + 1]; /* "container" of container-wide ops, "" = the VM's own */
};

static int seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* One handshake attempt: 0 ok, 1 retryable, -1 fatal. */
static int try_dial(const char *uds, unsigned port, int *out, int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(uds) >= sizeof(sa.sun_path))
		return seterr(err, errlen, "connect %s: path too long", uds);
	strcpy(sa.sun_path, uds);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return seterr(err, errlen, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		seterr(err, errlen, "connect %s: %s", uds, strerror(e));
		return e == ENOENT || e == ECONNREFUSED || e == EAGAIN ? 1 : -1;
	}
	char line[PROTO_HANDSHAKE_MAX + 1];
	int n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (write(fd, line, (size_t)n) != n) {
		close(fd);
		seterr(err, errlen, "connect %s port %u: %s", uds, port, strerror(errno));
		return 1;
	}
	size_t got = 0;
	while (got < PROTO_HANDSHAKE_MAX) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, timeout_ms > 0 ? timeout_ms : 1000) <= 0)
			break;
		ssize_t r = read(fd, line + got, 1);
		if (r <= 0)
			break;
		if (line[got++] == '\n')
			break;
	}
	if (got == 0) {
		/* The VMM closes when nobody listens on the port yet. */
		close(fd);
		seterr(err, errlen, "connect %s port %u: closed (no listener yet)", uds, port);
		return 1;
	}
	if (proto_parse_ok(line, got) < 0) {
		close(fd);
		line[got] = '\0';
		return seterr(err, errlen, "connect %s port %u: bad handshake reply \"%.*s\"", uds, port,
			      (int)strcspn(line, "\n"), line);
	}
	*out = fd;
	return 0;
}

int ac_dial_while(const char *uds, unsigned port, int timeout_ms, bool (*alive)(void *), void *opaque,
		  char *err, size_t errlen)
{
	long long deadline = io_now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	for (int delay = 2;; delay = delay < 64 ? delay * 2 : 64) {
		int fd = -1, r = try_dial(uds, port, &fd, timeout_ms, err, errlen);
		if (r == 0)
			return fd;
		if (r < 0 || io_now_ms() >= deadline || (alive && !alive(opaque)))
			return -1;
		struct timespec ts = {.tv_nsec = delay * 1000000L};
		nanosleep(&ts, NULL);
	}
}

int ac_dial(const char *uds, unsigned port, int timeout_ms, char *err, size_t errlen)
{
	return ac_dial_while(uds, port, timeout_ms, NULL, NULL, err, errlen);
}

struct agentclient *ac_from_fd(int fd)
{
	struct agentclient *ac = calloc(1, sizeof(*ac));
	if (!ac)
		return NULL;
	ac->fd = fd;
	ac->next_id = 1;
	return ac;
}

struct agentclient *ac_connect(const char *uds, int timeout_ms, char *err, size_t errlen)
{
	return ac_connect_while(uds, timeout_ms, NULL, NULL, err, errlen);
}

struct agentclient *ac_connect_while(const char *uds, int timeout_ms, bool (*alive)(void *), void *opaque,
				     char *err, size_t errlen)
{
	int fd = ac_dial_while(uds, PROTO_PORT_CONTROL, timeout_ms, alive, opaque, err, errlen);
	if (fd < 0)
		return NULL;
	struct agentclient *ac = ac_from_fd(fd);
	if (!ac) {
		close(fd);
		seterr(err, errlen, "out of memory");
	}
	return ac;
}

void ac_close(struct agentclient *ac)
{
	if (!ac)
		return;
	close(ac->fd);
	free(ac);
}

const char *ac_error(const struct agentclient *ac)
{
	return ac->err;
}

int ac_fd(const struct agentclient *ac)
{
	return ac->fd;
}

/* Send the request in PG (already holding the op fields), wait for its response. */
static int call(struct agentclient *ac, struct json_gen *pg, uint64_t id, struct proto_msg *resp)
{
	const char *json;
	size_t len;
	memset(resp, 0, sizeof(*resp));
	if (json_gen_end(pg, &json, &len) < 0) {
		json_gen_free(pg);
		return seterr(ac->err, sizeof(ac->err), "encode request: out of memory");
	}
	int r = proto_write_frame(ac->fd, json, len);
	json_gen_free(pg);
	if (r < 0)
		return seterr(ac->err, sizeof(ac->err), "send to agent: %s", strerror(errno));
	for (;;) {
		char *buf;
		size_t n;
		/* a dead or wedged guest must not hang the shim (and every verb behind it) */
		if (proto_read_frame(ac->fd, &buf, &n, AC_CALL_TIMEOUT_MS) < 0)
			return seterr(ac->err, sizeof(ac->err), "receive from agent: %s",
				      errno == ECONNRESET  ? "connection closed"
				      : errno == ETIMEDOUT ? "no answer within " AC_CALL_TIMEOUT_TEXT
							   : strerror(errno));
		char perr[256];
		r = proto_msg_parse(buf, n, resp, perr, sizeof(perr));
		free(buf);
		if (r < 0)
			return seterr(ac->err, sizeof(ac->err), "bad message from agent: %s", perr);
		if (resp->kind == PROTO_EVENT) {
			proto_msg_free(resp);
			continue; /* events are read with ac_next_event on subscribed connections */
		}
		if (resp->kind != PROTO_RESPONSE || resp->id != id) {
			proto_msg_free(resp);
			return seterr(ac->err, sizeof(ac->err),
				      "agent answered out of order (id %llu, expected %llu)",
				      (unsigned long long)resp->id, (unsigned long long)id);
		}
		if (!resp->ok) {
			seterr(ac->err, sizeof(ac->err), "%s", resp->error);
			proto_msg_free(resp);
			return -1;
		}
		return 0;
	}
}

static uint64_t begin(struct agentclient *ac, struct json_gen *pg, const char *op)
{
	static const char *const per_container[] = {"exec", "ps", "pause", "resume", "update", "stats"};
	uint64_t id = ac->next_id++;
	json_gen_begin(pg);
	json_gen_int(pg, "id", (long long)id);
	json_gen_str(pg, "op", op);
	for (size_t i = 0; ac->container[0] && i < sizeof(per_container) / sizeof(per_container[0]); i++)
		if (!strcmp(op, per_container[i]))
			json_gen_str(pg, "container", ac->container);
	return id;
}

int ac_set_container(struct agentclient *ac, const char *id)
{
	if (id && strlen(id) > PROTO_MAX_ID)
		return -1;
	snprintf(ac->container, sizeof(ac->container), "%s", id ? id : "");
	return 0;
}

static int simple(struct agentclient *ac, struct json_gen *pg, uint64_t id)
{
	struct proto_msg m;
	if (call(ac, pg, id, &m) < 0)
		return -1;
	proto_msg_free(&m);
	return 0;
}

int ac_hello(struct agentclient *ac, bool events)
{
	struct json_gen pg;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t id = begin(ac, &pg, "hello");
	json_gen_int(&pg, "version", PROTO_VERSION);
	json_gen_int(&pg, "time_ns", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	json_gen_bool(&pg, "events", events);
	struct proto_msg m;
	if (call(ac, &pg, id, &m) < 0)
		return -1;
	long long v;
	int r = json_get_int(m.root, "version", 0, INT32_MAX, &v) == 0 && v == PROTO_VERSION ? 0 : -1;
	proto_msg_free(&m);
	if (r < 0)
		seterr(ac->err, sizeof(ac->err), "agent speaks another protocol version");
	return r;
}

int ac_mount(struct agentclient *ac, const char *source, const char *target, const char *fstype,
	     const char *options, bool readonly)
{
	struct json_gen pg;
	uint64_t id = begin(ac, &pg, "mount");
	json_gen_str(&pg, "source", source);
	json_gen_str(&pg, "target", target);
	json_gen_str(&pg, "fstype", fstype);
	if (options)
		json_gen_str(&pg, "options", options);
	json_gen_bool(&pg, "readonly", readonly);
	return simple(ac, &pg, id);
}

static void gen_stdio(struct json_gen *pg, const struct ac_stdio *io)
{
	json_gen_key(pg, "stdio");
	if (pg->err)
		return;
	yajl_gen_map_open(pg->g);
	const bool want[3] = {io && io->in, io && io->out, io && io->err};
	for (int i = 0; i < 3; i++) {
		const char *k = proto_stream_name((enum proto_stream)i);
		yajl_gen_string(pg->g, (const unsigned char *)k, strlen(k));
		yajl_gen_bool(pg->g, want[i]);
	}
	yajl_gen_map_close(pg->g);
}

static int with_pid(struct agentclient *ac, struct json_gen *pg, uint64_t id, pid_t *pid)
{
	struct proto_msg m;
	if (call(ac, pg, id, &m) < 0)
		return -1;
	long long v = 0;
	json_get_int(m.root, "pid", 0, INT32_MAX, &v);
	if (pid)
		*pid = (pid_t)v;
	proto_msg_free(&m);
	return 0;
}

int ac_create(struct agentclient *ac, const char *pid_id, const char *bundle, const char *config,
	      const struct ac_stdio *io, bool no_pivot, pid_t *pid)
{
	struct json_gen pg;
	uint64_t id = begin(ac, &pg, "create");
	json_gen_str(&pg, "process", pid_id);
	if (bundle)
		json_gen_str(&pg, "bundle", bundle);
	json_gen_str(&pg, "config", config);
	json_gen_bool(&pg, "no_pivot", no_pivot);
	gen_stdio(&pg, io);
	return with_pid(ac, &pg, id, pid);
}

int ac_start(struct agentclient *ac, const char *pid_id)
{
	struct json_gen pg;
	uint64_t id = begin(ac, &pg, "start");
	json_gen_str(&pg, "process", pid_id);
	return simple(ac, &pg, id);
}

int ac_hooks(struct agentclient *ac, const char *pid_id, const char *kind, const struct proto_hook *h,
	     size_t n, const char *state)
{
	struct json_gen pg;
	uint64_t id = begin(ac, &pg, "hooks");
	json_gen_str(&pg, "process", pid_id);
	json_gen_str(&pg, "kind", kind);
	json_gen_str(&pg, "state", state);
	proto_gen_hooks(&pg, "hooks", h, n);
	return simple(ac, &pg, id);
}

int ac_exec(struct agentclient *ac, const char *pid_id, const char *process_json, const struct ac_stdio *io,
	    pid_t *pid)
{
	struct json_gen pg;
	uint64_t id = begin(ac, &pg, "exec");
	json_gen_str(&pg, "process", pid_id);
	json_gen_str(&pg, "spec", process_json);
	gen_stdio(&pg, io);
	return with_pid(ac, &pg, id, pid);
}

int ac_signal(struct agentclient *ac, const char *pid_id, int sig, bool all)
{
	struct json_gen pg;
	uint64_t id = begin(ac, &pg, "signal");
	json_gen_str(&pg, "process", pid_id);
	json_gen_int(&pg, "signal", sig);
	json_gen_bool(&pg, "all", all);
	return simple(ac, &pg, id);
}

int ac_resize(struct agentclient *ac, const char *pid_id, unsigned rows, unsigned cols)
{
	struct json_gen pg;
	uint64_t id = begin(ac, &pg, "resize");
	json_gen_str(&pg, "process", pid_id);
	json_gen_int(&pg, "rows", rows);
	json_gen_int(&pg, "cols", cols);
	return simple(ac, &pg, id);
}

int ac_pause(struct agentclient *ac, bool pause)
{
	struct json_gen pg;
	uint64_t id = begin(ac, &pg, pause ? "pause" : "resume");
	return simple(ac, &pg, id);
}

int ac_update(struct agentclient *ac, const struct proto_resources *res)
{
	struct json_gen pg;
	uint64_t id = begin(ac, &pg, "update");
	proto_gen_resources(&pg, "resources", res);
	return simple(ac, &pg, id);
}

int ac_network(struct agentclient *ac, const char *container, const struct proto_net *n)
{
	struct json_gen pg;
	uint64_t id = begin(ac, &pg, "network");
	json_gen_str(&pg, "container", container);
	proto_gen_net(&pg, n);
	return simple(ac, &pg, id);
}

int ac_ps(struct agentclient *ac, struct proto_ps_entry **procs, size_t *n)
{
	struct json_gen pg;
	*procs = NULL;
	*n = 0;
	uint64_t id = begin(ac, &pg, "ps");
	struct proto_msg m;
	if (call(ac, &pg, id, &m) < 0)
		return -1;
	int r = proto_parse_ps(m.root, procs, n, ac->err, sizeof(ac->err));
	proto_msg_free(&m);
	return r;
}

static void get_exit(yajl_val root, struct ac_exit *ex)
{
	long long v;
	memset(ex, 0, sizeof(*ex));
	if (json_get_int(root, "pid", 0, INT32_MAX, &v) == 0)
		ex->pid = (pid_t)v;
	if (json_get_int(root, "status", INT32_MIN, INT32_MAX, &v) == 0)
		ex->status = (int)v;
	ex->exit_code = json_get_int(root, "exit_code", 0, 255, &v) == 0 ? (int)v : 255;
	if (json_get_int(root, "signal", 1, 64, &v) == 0)
		ex->signal = (int)v;
}

int ac_wait(struct agentclient *ac, const char *pid_id, struct ac_exit *ex)
{
	struct json_gen pg;
	uint64_t id = begin(ac, &pg, "wait");
	json_gen_str(&pg, "process", pid_id);
	struct proto_msg m;
	if (call(ac, &pg, id, &m) < 0)
		return -1;
	get_exit(m.root, ex);
	proto_msg_free(&m);
	return 0;
}

int ac_stats(struct agentclient *ac, char **json)
{
	struct json_gen pg;
	uint64_t id = begin(ac, &pg, "stats");
	struct proto_msg m;
	if (call(ac, &pg, id, &m) < 0)
		return -1;
	/* Re-encode the response object. */
	yajl_gen g = yajl_gen_alloc(NULL);
	yajl_gen_map_open(g);
	for (size_t i = 0; i < m.root->u.object.len; i++) {
		yajl_val v = m.root->u.object.values[i];
		const char *k = m.root->u.object.keys[i];
		yajl_gen_string(g, (const unsigned char *)k, strlen(k));
		if (YAJL_IS_INTEGER(v))
			yajl_gen_integer(g, YAJL_GET_INTEGER(v));
		else if (YAJL_IS_STRING(v))
			yajl_gen_string(g, (const unsigned char *)v->u.string, strlen(v->u.string));
		else
			yajl_gen_bool(g, YAJL_IS_TRUE(v));
	}
	yajl_gen_map_close(g);
	*json = json_gen_take(g);
	proto_msg_free(&m);
	return *json ? 0 : -1;
}

int ac_shutdown(struct agentclient *ac)
{
	struct json_gen pg;
	uint64_t id = begin(ac, &pg, "shutdown");
	return simple(ac, &pg, id);
}

int ac_next_event(struct agentclient *ac, struct ac_exit *ex, char *process, size_t len, int timeout_ms)
{
	for (;;) {
		char *buf;
		size_t n;
		if (proto_read_frame(ac->fd, &buf, &n, timeout_ms) < 0)
			return seterr(ac->err, sizeof(ac->err), "receive event: %s", strerror(errno));
		struct proto_msg m;
		char perr[256];
		int r = proto_msg_parse(buf, n, &m, perr, sizeof(perr));
		free(buf);
		if (r < 0)
			return seterr(ac->err, sizeof(ac->err), "bad message from agent: %s", perr);
		if (m.kind == PROTO_EVENT && strcmp(m.op, "exit") == 0) {
			get_exit(m.root, ex);
			const char *p = json_get_str(m.root, "process");
			snprintf(process, len, "%s", p ? p : "");
			proto_msg_free(&m);
			return 0;
		}
		proto_msg_free(&m);
	}
}

int ac_next_event_any(struct agentclient *ac, struct ac_event *ev, int timeout_ms)
{
	for (;;) {
		char *buf;
		size_t n;
		if (proto_read_frame(ac->fd, &buf, &n, timeout_ms) < 0)
			return seterr(ac->err, sizeof(ac->err), "receive event: %s", strerror(errno));
		struct proto_msg m;
		char perr[256];
		int r = proto_msg_parse(buf, n, &m, perr, sizeof(perr));
		free(buf);
		if (r < 0)
			return seterr(ac->err, sizeof(ac->err), "bad message from agent: %s", perr);
		if (m.kind != PROTO_EVENT) {
			proto_msg_free(&m);
			continue;
		}
		memset(ev, 0, sizeof(*ev));
		snprintf(ev->name, sizeof(ev->name), "%s", m.op);
		const char *p = json_get_str(m.root, "process");
		snprintf(ev->process, sizeof(ev->process), "%s", p ? p : "");
		if (strcmp(m.op, "exit") == 0)
			get_exit(m.root, &ev->exit);
		long long k;
		if (json_get_int(m.root, "oom_kills", 0, INT64_MAX, &k) == 0)
			ev->oom_kills = k;
		proto_msg_free(&m);
		return 0;
	}
}

int ac_attach(const char *uds, const char *pid_id, enum proto_stream kind, int timeout_ms, char *err,
	      size_t errlen)
{
	int fd = ac_dial(uds, PROTO_PORT_STREAM, timeout_ms, err, errlen);
	if (fd < 0)
		return -1;
	struct json_gen pg;
	const char *json;
	size_t len;
	json_gen_begin(&pg);
	json_gen_str(&pg, "process", pid_id);
	json_gen_str(&pg, "stream", proto_stream_name(kind));
	int r = json_gen_end(&pg, &json, &len) == 0 ? proto_write_frame(fd, json, len) : -1;
	json_gen_free(&pg);
	char *buf = NULL;
	size_t n;
	if (r < 0 || proto_read_frame(fd, &buf, &n, timeout_ms) < 0) {
		seterr(err, errlen, "attach %s of %s: %s", proto_stream_name(kind), pid_id, strerror(errno));
		close(fd);
		return -1;
	}
	char perr[256];
	struct proto_msg m;
	r = proto_msg_parse(buf, n, &m, perr, sizeof(perr));
	free(buf);
	if (r < 0 || m.kind != PROTO_RESPONSE || !m.ok) {
		seterr(err, errlen, "attach %s of %s: %s", proto_stream_name(kind), pid_id,
		       r < 0	 ? perr
		       : m.error ? m.error
				 : "unexpected reply");
		if (r == 0)
			proto_msg_free(&m);
		close(fd);
		return -1;
	}
	proto_msg_free(&m);
	return fd;
}

/* --- relay --------------------------------------------------------------------------------- */
static void pipe_finish(struct ac_pipe *p)
{
	p->done = true;
	if (p->close_to)
		close(p->to);
	else
		shutdown(p->to, SHUT_WR); /* harmless ENOTSOCK on pipes and ttys */
	free(p->buf);
	p->buf = NULL;
}

/* Move what can move without blocking. */
static void pipe_step(struct ac_pipe *p)
{
	if (!p->nosplice && !p->len) {
		for (;;) {
			ssize_t n =
			    splice(p->from, NULL, p->to, NULL, 1 << 20, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0)
				continue;
			if (n == 0) {
				pipe_finish(p);
				return;
			}
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				/* Source empty, or destination full? Decides what to wait for. */
				struct pollfd sp = {.fd = p->from, .events = POLLIN};
				p->out_blocked = poll(&sp, 1, 0) == 1;
				return;
			}
			if (errno == EINVAL || errno == ENOSYS || errno == EBADF) {
				p->nosplice = true;
				break;
			}
			pipe_finish(p); /* EPIPE etc: destination gone */
			return;
		}
	}
	if (!p->buf && !(p->buf = malloc(RELAY_BUF))) {
		pipe_finish(p);
		return;
	}
	for (;;) {
		while (p->off < p->len) {
			ssize_t w = write(p->to, p->buf + p->off, p->len - p->off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN)
					pipe_finish(p);
				return;
			}
			p->off += (size_t)w;
		}
		p->off = p->len = 0;
		if (p->eof) {
			pipe_finish(p);
			return;
		}
		ssize_t r = read(p->from, p->buf, RELAY_BUF);
		if (r > 0) {
			p->len = (size_t)r;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
			p->eof = true;
			continue;
		}
		if (errno == EAGAIN)
			return;
	}
}

static int relay_loop(struct ac_pipe *pipes, size_t n, int signal_fd, void (*on_signal)(void *), void *arg,
		      struct pollfd *pfd);

int ac_relay(struct ac_pipe *pipes, size_t n, int signal_fd, void (*on_signal)(void *), void *arg)
{
	struct pollfd pfd[2 * 8 + 1];
	if (n > 8) {
		errno = EINVAL;
		return -1;
	}
	/* Non-blocking for the relay; the original flags come back at the end (the fds may be
	 * shared with other processes, e.g. an interactive terminal). */
	int saved[2 * 8];
	for (size_t i = 0; i < n; i++) {
		saved[2 * i] = fcntl(pipes[i].from, F_GETFL);
		saved[2 * i + 1] = fcntl(pipes[i].to, F_GETFL);
		fcntl(pipes[i].from, F_SETFL, saved[2 * i] | O_NONBLOCK);
		fcntl(pipes[i].to, F_SETFL, saved[2 * i + 1] | O_NONBLOCK);
	}
	int rc = relay_loop(pipes, n, signal_fd, on_signal, arg, pfd);
	for (size_t i = 0; i < n; i++) {
		if (saved[2 * i] >= 0)
			fcntl(pipes[i].from, F_SETFL, saved[2 * i]);
		if (saved[2 * i + 1] >= 0 && !(pipes[i].done && pipes[i].close_to))
			fcntl(pipes[i].to, F_SETFL, saved[2 * i + 1]);
	}
	return rc;
}

static int relay_loop(struct ac_pipe *pipes, size_t n, int signal_fd, void (*on_signal)(void *), void *arg,
		      struct pollfd *pfd)
{
	for (size_t i = 0; i < n; i++)
		pipe_step(&pipes[i]);
	for (;;) {
		size_t k = 0, live = 0;
		for (size_t i = 0; i < n; i++) {
			struct ac_pipe *p = &pipes[i];
			if (p->done)
				continue;
			if (!p->optional)
				live++;
			/* Wait for the side that blocked: writable destination if we hold data, else
			 * readable source (and writable destination for splice). */
			bool out = p->nosplice ? p->len > 0 : p->out_blocked;
			pfd[k++] = (struct pollfd){.fd = out ? -1 : p->from, .events = POLLIN};
			pfd[k++] = (struct pollfd){.fd = out ? p->to : -1, .events = POLLOUT};
		}
		if (!live)
			return 0;
		if (signal_fd >= 0)
			pfd[k++] = (struct pollfd){.fd = signal_fd, .events = POLLIN};
		if (poll(pfd, k, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (signal_fd >= 0 && (pfd[k - 1].revents & POLLIN) && on_signal)
			on_signal(arg);
		for (size_t i = 0; i < n; i++)
			if (!pipes[i].done)
				pipe_step(&pipes[i]);
	}
}
