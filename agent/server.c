/* SPDX-License-Identifier: Apache-2.0 */
/* The server: the event loop (common/evloop.h) and what is registered on it at this level —
 * listeners (AF_VSOCK in the guest, AF_UNIX with the hybrid CONNECT handshake in host mode),
 * control connections, stream attachment, SIGTERM/SIGINT in host mode.  Lower layers register
 * their own fds (streams, the SIGCHLD reaper, OOM watches) and report back through the hooks
 * registered here. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "base.h"
#include "ctr.h"
#include "evloop.h"
#include "exit.h"
#include "io.h"
#include "log.h"
#include "oom.h"
#include "ops.h"
#include "proc.h"
#include "proto/proto.h"
#include "streams.h"
#include "waiters.h"

enum conn_state { C_HANDSHAKE, C_CONTROL, C_STREAM_HDR };
struct conn {
	int fd;
	enum conn_state state;
	char hs[PROTO_HANDSHAKE_MAX + 1];
	size_t hs_len;
	struct proto_rx rx;
	bool events;
	bool dead; /* a send failed: closed on the next event */
	struct conn *next;
};

static struct evloop *loop;
static struct conn *conns;
static bool g_quit;
static unsigned ok_port = 1u << 30;

static void conn_release(struct conn *c, bool close_fd)
{
	evloop_del(loop, c->fd);
	if (close_fd)
		close(c->fd);
	waiters_forget_owner(c);
	proto_rx_free(&c->rx);
	for (struct conn **cp = &conns; *cp; cp = &(*cp)->next)
		if (*cp == c) {
			*cp = c->next;
			break;
		}
	free(c);
}

static void conn_close(struct conn *c)
{
	conn_release(c, true);
}

/* A host that stops reading its control connection must not stall the agent: after
 * SEND_TIMEOUT_MS of a full socket the connection is shut down (and closed on its next event). */
#define SEND_TIMEOUT_MS 5000
static int conn_send(struct conn *c, const char *json, size_t len)
{
	if (c->dead)
		return -1;
	if (proto_write_frame_timeout(c->fd, json, len, SEND_TIMEOUT_MS) < 0) {
		log_debug("send to connection %d: %s", c->fd, strerror(errno));
		c->dead = true;
		shutdown(c->fd, SHUT_RDWR);
		return -1;
	}
	return 0;
}

static void gen_exit(struct json_gen *pg, const struct proc *p)
{
	json_gen_str(pg, "process", p->id);
	json_gen_int(pg, "pid", p->pid);
	json_gen_int(pg, "status", p->wstatus);
	json_gen_int(pg, "exit_code", proto_exit_code(p->wstatus));
	if (WIFSIGNALED(p->wstatus))
		json_gen_int(pg, "signal", WTERMSIG(p->wstatus));
}

static int conn_reply_exit(void *conn, uint64_t id, const struct proc *p)
{
	struct json_gen pg;
	const char *json;
	size_t len;
	int rc = -1;
	struct conn *c = conn;
	json_gen_begin(&pg);
	json_gen_int(&pg, "id", (long long)id);
	json_gen_bool(&pg, "ok", 1);
	gen_exit(&pg, p);
	if (json_gen_end(&pg, &json, &len) == 0)
		rc = conn_send(c, json, len);
	json_gen_free(&pg);
	return rc;
}

static int server_broadcast_exit(const struct proc *p)
{
	struct json_gen pg;
	const char *json;
	size_t len;
	int n = 0;
	json_gen_begin(&pg);
	json_gen_str(&pg, "event", "exit");
	gen_exit(&pg, p);
	if (json_gen_end(&pg, &json, &len) == 0)
		for (struct conn *c = conns; c; c = c->next)
			if (c->state == C_CONTROL && c->events && conn_send(c, json, len) == 0)
				n++;
	json_gen_free(&pg);
	return n;
}

/* Once the init's status is delivered, exec'd processes (killed with the container) get
 * EXEC_GRACE_MS for their statuses to be collected; a host that never asks (a crashed exec shim)
 * must not keep the VM alive. */
#define EXEC_GRACE_MS 10000
static long long grace_deadline;

static void server_broadcast_oom(const char *process, long long kills)
{
	struct json_gen pg;
	const char *json;
	size_t len;
	json_gen_begin(&pg);
	json_gen_str(&pg, "event", "oom");
	json_gen_str(&pg, "process", process);
	json_gen_int(&pg, "oom_kills", kills);
	if (json_gen_end(&pg, &json, &len) == 0)
		for (struct conn *c = conns; c; c = c->next)
			if (c->state == C_CONTROL && c->events)
				conn_send(c, json, len);
	json_gen_free(&pg);
}

static void server_quit(void)
{
	g_quit = true;
	evloop_break(loop);
}

static void server_check_done(void)
{
	if (!ctr_first_init_reported())
		return;
	if (proc_all_reported())
		server_quit();
	else if (!grace_deadline)
		grace_deadline = io_now_ms() + EXEC_GRACE_MS;
}

static void conn_set_events(void *conn, bool on)
{
	struct conn *c = conn;
	c->events = on;
}

static int conn_send_cb(void *conn, const char *json, size_t len)
{
	return conn_send(conn, json, len);
}

static void reply_error(struct conn *c, uint64_t id, const char *msg)
{
	struct json_gen pg;
	const char *json;
	size_t len;
	json_gen_begin(&pg);
	json_gen_int(&pg, "id", (long long)id);
	json_gen_bool(&pg, "ok", 0);
	json_gen_str(&pg, "error", msg);
	if (json_gen_end(&pg, &json, &len) == 0)
		conn_send(c, json, len);
	json_gen_free(&pg);
}

static void stream_reply(int fd, const char *error)
{
	struct json_gen pg;
	const char *json;
	size_t len;
	json_gen_begin(&pg);
	json_gen_bool(&pg, "ok", error == NULL);
	if (error)
		json_gen_str(&pg, "error", error);
	if (json_gen_end(&pg, &json, &len) == 0)
		proto_write_frame(fd, json, len);
	json_gen_free(&pg);
}

/* First frame of a stream connection: {"process":"id","stream":"stdout"}. */
static void handle_stream_hdr(struct conn *c, char *buf, size_t len)
{
	char err[512];
	yajl_val t = json_parse(buf, len, err, sizeof(err));
	const char *pid = json_get_str(t, "process"), *sname = json_get_str(t, "stream");
	int kind = proto_stream_parse(sname);
	struct proc *p = pid ? proc_find(pid) : NULL;
	if (!t)
		;
	else if (!pid || kind < 0)
		snprintf(err, sizeof(err),
			 "stream header needs \"process\" and \"stream\" (stdin|stdout|stderr|tty)");
	else if (!p)
		snprintf(err, sizeof(err), "process %s does not exist", pid);
	else if (!p->streams[kind])
		snprintf(err, sizeof(err), "process %s has no %s stream", pid, sname);
	else if (p->streams[kind]->attached)
		snprintf(err, sizeof(err), "stream %s of process %s is already attached", sname, pid);
	else
		err[0] = '\0';
	if (t)
		yajl_tree_free(t);
	if (err[0]) {
		stream_reply(c->fd, err);
		conn_close(c);
		return;
	}
	/* The connection becomes the stream: hand the fd over. */
	int fd = c->fd;
	conn_release(c, false);
	set_nonblock(fd, false);
	stream_reply(fd, NULL);
	if (streams_attach(p, kind, fd, err, sizeof(err)) < 0) {
		log_debug("attach: %s", err);
		close(fd);
	}
}

static int handle_handshake(struct conn *c)
{
	while (c->hs_len < PROTO_HANDSHAKE_MAX) {
		ssize_t n = read(c->fd, c->hs + c->hs_len, 1);
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (c->hs[c->hs_len++] == '\n')
			break;
	}
	long port = proto_parse_connect(c->hs, c->hs_len);
	if (port < 0 && c->hs_len < PROTO_HANDSHAKE_MAX && c->hs[c->hs_len - 1] != '\n')
		return 0;
	if (port != PROTO_PORT_CONTROL && port != PROTO_PORT_STREAM)
		return -1; /* like the VMM: no listener → close */
	char ok[32];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", ok_port++);
	if (write(c->fd, ok, (size_t)n) != n)
		return -1;
	c->state = port == PROTO_PORT_CONTROL ? C_CONTROL : C_STREAM_HDR;
	return 1;
}

static void conn_event(void *opaque, uint32_t events)
{
	struct conn *c = opaque;
	if (c->dead) {
		conn_close(c);
		return;
	}
	if (c->state == C_HANDSHAKE) {
		int r = handle_handshake(c);
		if (r < 0) {
			conn_close(c);
			return;
		}
		if (r == 0)
			return;
	}
	for (;;) {
		int r = proto_rx_read(&c->rx, c->fd);
		if (r < 0) {
			if (errno == EPROTO)
				log_debug("connection %d: bad frame (oversized or truncated)", c->fd);
			conn_close(c);
			return;
		}
		if (r == 0)
			return;
		size_t len;
		char *buf = proto_rx_take(&c->rx, &len);
		if (c->state == C_STREAM_HDR) {
			handle_stream_hdr(c, buf, len);
			free(buf);
			return;
		}
		struct proto_msg m;
		char err[512];
		if (proto_msg_parse(buf, len, &m, err, sizeof(err)) < 0) {
			reply_error(c, 0, err);
		} else if (m.kind != PROTO_REQUEST) {
			reply_error(c, m.id, "expected a request");
			proto_msg_free(&m);
		} else {
			ops_dispatch(c, &m);
			proto_msg_free(&m);
			if (c->dead) {
				free(buf);
				conn_close(c);
				return;
			}
		}
		free(buf);
	}
}

static int add_conn(int fd, enum conn_state st)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -1;
	}
	c->fd = fd;
	c->state = st;
	set_nonblock(fd, true);
	if (evloop_add(loop, fd, EPOLLIN | EPOLLRDHUP, conn_event, c) < 0) {
		close(fd);
		free(c);
		return -1;
	}
	c->next = conns;
	conns = c;
	return 0;
}

struct listener {
	int fd;
	enum conn_state first;
};
static struct listener listeners[2];
static int nlisteners;

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_error("listen %s: path too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		log_errno(errno, "socket AF_UNIX");
		return -1;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		log_errno(errno, "listen on %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

static int listen_vsock(unsigned port)
{
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		log_errno(errno, "socket AF_VSOCK");
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		log_errno(errno, "listen on vsock port %u", port);
		close(fd);
		return -1;
	}
	return fd;
}

static void on_accept(void *opaque, uint32_t events)
{
	struct listener *l = opaque;
	int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		add_conn(fd, l->first);
}

static int add_listener(int fd, enum conn_state first)
{
	struct listener *l = &listeners[nlisteners++];
	l->fd = fd;
	l->first = first;
	return evloop_add(loop, fd, EPOLLIN, on_accept, l);
}

/* host mode: SIGTERM / SIGINT end the agent */
static int sig_fd = -1;
static void on_signal(void *opaque, uint32_t events)
{
	struct signalfd_siginfo si;
	while (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		server_quit();
}

static const struct exit_hooks exit_hooks = {
    .reply = conn_reply_exit,
    .broadcast = server_broadcast_exit,
    .reported = server_check_done,
};
static const struct ops_conn_ops conn_ops = {
    .send = conn_send_cb,
    .set_events = conn_set_events,
    .quit = server_quit,
};

/* The loop, each layer's registrations on it, the hooks they report through. */
static int setup_layers(void)
{
	loop = evloop_new();
	if (!loop) {
		log_errno(errno, "event loop");
		return -1;
	}
	streams_init(loop);
	oom_init(loop, server_broadcast_oom);
	exit_set_hooks(&exit_hooks);
	ops_set_conn_ops(&conn_ops);
	if (exit_init(loop) < 0) {
		log_errno(errno, "signalfd for SIGCHLD");
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (g_opts.pid1)
		return 0;
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0 || evloop_add(loop, sig_fd, EPOLLIN, on_signal, NULL) < 0) {
		log_errno(errno, "signalfd");
		return -1;
	}
	return 0;
}

static int listen_all(void)
{
	if (g_opts.listen_unix) {
		int fd = listen_unix(g_opts.listen_unix);
		if (fd < 0 || add_listener(fd, C_HANDSHAKE) < 0)
			return -1;
	} else {
		int c = listen_vsock(PROTO_PORT_CONTROL), s = listen_vsock(PROTO_PORT_STREAM);
		if (c < 0 || s < 0 || add_listener(c, C_CONTROL) < 0 || add_listener(s, C_STREAM_HDR) < 0)
			return -1;
	}
	return 0;
}

/* The exit statuses just sent may still sit in the guest kernel's vsock queue (a worker sends
 * it): a reboot now loses them, and the host reads "Connection reset by peer" instead of the
 * container's status (seen with `runm run` of a container that ran `sync`, which left the
 * poweroff's sync nothing to wait for). So each connection is shut down for writing — the host
 * reads all that was sent before that end — and the VM goes down once the host has acted on it:
 * every event connection closed, or a request (the shim's shutdown, sent once it has drained the
 * container's output) arrived. The output still queued in the guest's vsock transmit path goes
 * out meanwhile: a loaded host may take seconds to read it (twenty TCG guests on two cores lost
 * the last 2 KiB of a megabyte with a 1 s limit), and the host stops the VM itself anyway, so
 * LINGER_MS only bounds a host that never answers. */
#define LINGER_MS 30000
static void server_linger(void)
{
	struct pollfd pf[64];
	bool ev[64];
	nfds_t n = 0;
	size_t waiting = 0;
	for (struct conn *c = conns; c && n < 64; c = c->next) {
		if (c->dead)
			continue;
		shutdown(c->fd, SHUT_WR);
		pf[n] = (struct pollfd){.fd = c->fd, .events = POLLIN};
		ev[n] = c->events;
		waiting += c->events;
		n++;
	}
	long long deadline = io_now_ms() + LINGER_MS;
	while (waiting) {
		long long left = deadline - io_now_ms();
		if (left <= 0 || poll(pf, n, (int)left) < 0)
			break;
		for (nfds_t i = 0; i < n; i++) {
			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			char buf[512];
			ssize_t r = read(pf[i].fd, buf, sizeof(buf));
			if (r > 0) {
				log_debug("linger: the host sent a request after the last exit: going down");
				return;
			}
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			pf[i].fd = -1;
			waiting -= ev[i];
		}
	}
}

int server_run(void)
{
	if (setup_layers() < 0 || listen_all() < 0)
		return 1;
	log_debug("listening");
	while (!g_quit) {
		int wait = -1;
		if (grace_deadline) {
			long long left = grace_deadline - io_now_ms();
			if (left <= 0) {
				log_warn(
				    "exit statuses of exec'd processes not collected in %d ms: shutting down",
				    EXEC_GRACE_MS);
				break;
			}
			wait = (int)left;
		}
		int r = evloop_run_once(loop, wait);
		if (r < 0) {
			log_errno(-r, "epoll_wait");
			return 1;
		}
	}
	proc_kill_all();
	if (g_opts.listen_unix)
		unlink(g_opts.listen_unix);
	else
		server_linger();
	return 0;
}
