/* SPDX-License-Identifier: Apache-2.0 */
/* Stream relays between a process's pipes (or pty) and host connections, with back-pressure:
 * data only moves when the destination can take it (splice for pipes, bounded buffers for the
 * pty), so nothing is buffered without bound. */
#include "streams.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "base.h"
#include "evloop.h"
#include "proc.h"

#define ERR(...)     agent_errf(err, errlen, __VA_ARGS__)
#define SPLICE_CHUNK (1 << 20)
#define TTY_BUF	     (64 * 1024)

static struct evloop *loop;
static void (*on_done)(struct proc *p);

void streams_init(struct evloop *l)
{
	loop = l;
}

void streams_on_done(void (*fn)(struct proc *p))
{
	on_done = fn;
}

void set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

static void unwatch(int fd)
{
	if (loop)
		evloop_del(loop, fd);
}

struct stream *stream_new(struct proc *p, int kind, int pfd)
{
	struct stream *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->p = p;
	st->kind = kind;
	st->pfd = pfd;
	st->sock = -1;
	st->splice_ok = kind != PROTO_TTY;
	p->streams[kind] = st;
	return st;
}

void stream_free(struct stream *st)
{
	if (!st)
		return;
	if (st->pfd >= 0) {
		unwatch(st->pfd);
		close(st->pfd);
	}
	if (st->sock >= 0) {
		unwatch(st->sock);
		close(st->sock);
	}
	free(st->to_host);
	free(st->to_proc);
	free(st);
}

static void pump(struct stream *st);

static void stream_cb(void *opaque, uint32_t events)
{
	pump(opaque);
}

static int watch_fd(struct stream *st, int fd)
{
	int r =
	    loop ? evloop_add(loop, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, stream_cb, st) : -EINVAL;
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

int streams_register(struct proc *p)
{
	for (int i = 0; i < PROTO_NSTREAMS; i++)
		if (p->streams[i] && watch_fd(p->streams[i], p->streams[i]->pfd) < 0)
			return -1;
	return 0;
}

static void stream_finish(struct stream *st)
{
	if (st->done)
		return;
	st->done = true;
	if (st->pfd >= 0) {
		unwatch(st->pfd);
		close(st->pfd);
		st->pfd = -1;
	}
	if (st->sock >= 0) {
		unwatch(st->sock);
		shutdown(st->sock, SHUT_WR);
		close(st->sock);
		st->sock = -1;
	}
	if (on_done)
		on_done(st->p);
}

/* One direction between two fds, at least one a pipe: splice until it would block. */
static int pump_splice(struct stream *st, int from, int to)
{
	for (;;) {
		ssize_t n = splice(from, NULL, to, NULL, SPLICE_CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0)
			continue;
		if (n == 0)
			return 1; /* EOF */
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		if (errno == EINVAL) {
			st->splice_ok = false;
			return 2;
		}
		return -1;
	}
}

/* Bounded copy FROM → TO through BUF (for ptys and sockets that cannot splice).
 * 1 = EOF on FROM (and BUF flushed), 0 = would block, -1 = error on either side. */
static int pump_copy(int from, int to, char **buf, size_t *len, size_t *off, bool *eof)
{
	if (!*buf && !(*buf = malloc(TTY_BUF)))
		return -1;
	for (;;) {
		while (*off < *len) {
			ssize_t w = write(to, *buf + *off, *len - *off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return errno == EAGAIN ? 0 : -1;
			}
			*off += (size_t)w;
		}
		*off = *len = 0;
		if (*eof)
			return 1;
		ssize_t r = read(from, *buf, TTY_BUF);
		if (r > 0) {
			*len = (size_t)r;
			continue;
		}
		if (r == 0 || errno == EIO) { /* EIO: pty master after the last slave closed */
			*eof = true;
			return 1;
		}
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? 0 : -1;
	}
}

static void pump(struct stream *st)
{
	if (st->done || st->sock < 0)
		return; /* not attached yet: data waits in the pipe (back-pressure on the process) */
	int r;
	switch (st->kind) {
	case PROTO_STDOUT:
	case PROTO_STDERR:
		r = st->splice_ok ? pump_splice(st, st->pfd, st->sock) : 2;
		if (r == 2)
			r = pump_copy(st->pfd, st->sock, &st->to_host, &st->th_len, &st->th_off,
				      &st->pfd_eof);
		if (r != 0)
			stream_finish(st); /* EOF (all output delivered) or the host went away */
		break;
	case PROTO_STDIN:
		r = st->splice_ok ? pump_splice(st, st->sock, st->pfd) : 2;
		if (r == 2)
			r = pump_copy(st->sock, st->pfd, &st->to_proc, &st->tp_len, &st->tp_off,
				      &st->sock_eof);
		if (r != 0)
			stream_finish(st); /* host closed stdin (or process closed its end) */
		break;
	case PROTO_TTY:
		if (!st->sock_eof) {
			r = pump_copy(st->sock, st->pfd, &st->to_proc, &st->tp_len, &st->tp_off,
				      &st->sock_eof);
			if (r < 0)
				st->sock_eof = true;
		}
		r = pump_copy(st->pfd, st->sock, &st->to_host, &st->th_len, &st->th_off, &st->pfd_eof);
		if (r != 0)
			stream_finish(st);
		break;
	}
}

int streams_attach(struct proc *p, int kind, int sock, char *err, size_t errlen)
{
	struct stream *st = p->streams[kind];
	if (!st)
		return ERR("process %s has no %s stream", p->id, proto_stream_name((enum proto_stream)kind));
	if (st->attached)
		return ERR("stream %s of process %s is already attached",
			   proto_stream_name((enum proto_stream)kind), p->id);
	set_nonblock(sock, true);
	st->sock = sock;
	st->attached = true;
	if (watch_fd(st, sock) < 0) {
		st->sock = -1;
		st->attached = false;
		return ERR("register stream: %s", strerror(errno));
	}
	pump(st);
	return 0;
}

bool streams_output_done(const struct proc *p)
{
	for (int i = PROTO_STDOUT; i < PROTO_NSTREAMS; i++)
		if (p->streams[i] && !p->streams[i]->done)
			return false;
	return true;
}

int streams_resize(struct proc *p, unsigned rows, unsigned cols)
{
	struct stream *st = p->streams[PROTO_TTY];
	if (!st || st->pfd < 0) {
		errno = ENOTTY;
		return -1;
	}
	struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
	return ioctl(st->pfd, TIOCSWINSZ, &ws);
}

/* The process exited: its stdin is useless now; close it so the host sees EPIPE/EOF. */
void streams_process_exited(struct proc *p)
{
	struct stream *st = p->streams[PROTO_STDIN];
	if (st && !st->done && st->attached)
		stream_finish(st);
}
