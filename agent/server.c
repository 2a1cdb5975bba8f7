/* SPDX-License-Identifier: Apache-2.0 */
/* Event loop: listeners (AF_VSOCK in the guest, AF_UNIX with the hybrid CONNECT handshake in
 * host mode), control connections, stream attachment, SIGCHLD. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "log.h"

enum conn_state { C_HANDSHAKE, C_CONTROL, C_STREAM_HDR };
struct conn {
	int fd;
	enum conn_state state;
	char hs[PROTO_HANDSHAKE_MAX + 1];
	size_t hs_len;
	struct proto_rx rx;
	bool events;
	bool dead; /* a send failed: closed on the next event */
	struct watch w;
	struct conn *next;
};

static int epfd = -1;
static struct conn *conns;
static bool g_quit;
static unsigned ok_port = 1u << 30;
int ops_dispatch(struct conn *c, struct proto_msg *m);

void set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

int loop_add(int fd, uint32_t events, struct watch *w)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int loop_mod(int fd, uint32_t events, struct watch *w)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* Stream watches are heap objects owned by their registration: track them to free them. */
struct wlist {
	int fd;
	struct watch *w;
	struct wlist *next;
};
static struct wlist *stream_watches, *graveyard;

/* Watches are freed after the current batch of events (a later event of the batch may still
 * point at one). */
void loop_del(int fd)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	for (struct wlist **wp = &stream_watches; *wp; wp = &(*wp)->next)
		if ((*wp)->fd == fd) {
			struct wlist *x = *wp;
			*wp = x->next;
			x->w->kind = W_SIGNAL + 1; /* dead: ignored */
			x->next = graveyard;
			graveyard = x;
			return;
		}
}

static void bury(void)
{
	while (graveyard) {
		struct wlist *x = graveyard;
		graveyard = x->next;
		free(x->w);
		free(x);
	}
}

int loop_add_stream(int fd, uint32_t events, struct watch *w)
{
	struct wlist *x = calloc(1, sizeof(*x));
	if (!x)
		return -1;
	if (loop_add(fd, events, w) < 0) {
		free(x);
		return -1;
	}
	x->fd = fd;
	x->w = w;
	x->next = stream_watches;
	stream_watches = x;
	return 0;
}

static void conn_release(struct conn *c, bool close_fd)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	if (close_fd)
		close(c->fd);
	proc_forget_conn(c);
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
int conn_send(struct conn *c, const char *json, size_t len)
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

static void gen_exit(struct json_gen *pg, struct proc *p)
{
	json_gen_str(pg, "process", p->id);
	json_gen_int(pg, "pid", p->pid);
	json_gen_int(pg, "status", p->wstatus);
	json_gen_int(pg, "exit_code", proto_exit_code(p->wstatus));
	if (WIFSIGNALED(p->wstatus))
		json_gen_int(pg, "signal", WTERMSIG(p->wstatus));
}

int conn_reply_exit(struct conn *c, uint64_t id, struct proc *p)
{
	struct json_gen pg;
	const char *json;
	size_t len;
	int rc = -1;
	json_gen_begin(&pg);
	json_gen_int(&pg, "id", (long long)id);
	json_gen_bool(&pg, "ok", 1);
	gen_exit(&pg, p);
	if (json_gen_end(&pg, &json, &len) == 0)
		rc = conn_send(c, json, len);
	json_gen_free(&pg);
	return rc;
}

int server_broadcast_exit(struct proc *p)
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

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void server_broadcast_oom(const char *process, long long kills)
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

void server_check_done(void)
{
	if (!proc_init_reported())
		return;
	if (proc_all_reported())
		g_quit = true;
	else if (!grace_deadline)
		grace_deadline = mono_ms() + EXEC_GRACE_MS;
}

void server_quit(void)
{
	g_quit = true;
}

void conn_set_events(struct conn *c, bool on)
{
	c->events = on;
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
		snprintf(err, sizeof(err), "stream header needs \"process\" and \"stream\" (stdin|stdout|stderr|tty)");
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
	if (proc_attach(p, kind, fd, err, sizeof(err)) < 0) {
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

static void conn_event(struct conn *c)
{
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
	c->w = (struct watch){.kind = W_CONN, .obj = c, .fd = fd};
	set_nonblock(fd, true);
	if (loop_add(fd, EPOLLIN | EPOLLRDHUP, &c->w) < 0) {
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
	struct watch w;
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

static int add_listener(int fd, enum conn_state first)
{
	struct listener *l = &listeners[nlisteners++];
	l->fd = fd;
	l->first = first;
	l->w = (struct watch){.kind = W_LISTEN, .obj = l, .fd = fd};
	return loop_add(fd, EPOLLIN, &l->w);
}

int server_run(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		log_errno(errno, "epoll_create1");
		return 1;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	if (!g_opts.pid1) {
		sigaddset(&mask, SIGTERM);
		sigaddset(&mask, SIGINT);
	}
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	static struct watch sw = {.kind = W_SIGNAL};
	if (sfd < 0 || loop_add(sfd, EPOLLIN, &sw) < 0) {
		log_errno(errno, "signalfd");
		return 1;
	}
	if (g_opts.listen_unix) {
		int fd = listen_unix(g_opts.listen_unix);
		if (fd < 0 || add_listener(fd, C_HANDSHAKE) < 0)
			return 1;
	} else {
		int c = listen_vsock(PROTO_PORT_CONTROL), s = listen_vsock(PROTO_PORT_STREAM);
		if (c < 0 || s < 0 || add_listener(c, C_CONTROL) < 0 || add_listener(s, C_STREAM_HDR) < 0)
			return 1;
	}
	log_debug("listening");
	while (!g_quit) {
		struct epoll_event evs[32];
		int wait = -1;
		if (grace_deadline) {
			long long left = grace_deadline - mono_ms();
			if (left <= 0) {
				log_warn("exit statuses of exec'd processes not collected in %d ms: shutting down",
					 EXEC_GRACE_MS);
				break;
			}
			wait = (int)left;
		}
		int n = epoll_wait(epfd, evs, 32, wait);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_errno(errno, "epoll_wait");
			return 1;
		}
		for (int i = 0; i < n && !g_quit; i++) {
			struct watch *w = evs[i].data.ptr;
			switch (w->kind) {
			case W_LISTEN: {
				struct listener *l = w->obj;
				int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
				if (fd >= 0)
					add_conn(fd, l->first);
				break;
			}
			case W_CONN:
				conn_event(w->obj);
				/* the conn may be gone: later events in this batch for it are stale, but
				 * epoll only reports each fd once per wait. */
				break;
			case W_STREAM:
				stream_event(w->obj, w->fd, evs[i].events);
				break;
			case W_OOM:
				proc_oom_event(w->obj);
				break;
			default:
				break;
			case W_SIGNAL: {
				struct signalfd_siginfo si;
				while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
					if (si.ssi_signo == SIGCHLD)
						proc_reap();
					else
						g_quit = true;
				}
				break;
			}
			}
		}
		bury();
	}
	proc_kill_all();
	if (g_opts.listen_unix)
		unlink(g_opts.listen_unix);
	return 0;
}
