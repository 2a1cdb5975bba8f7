/* SPDX-License-Identifier: Apache-2.0 */
/* Non-blocking stdio relays with bounded buffers: see relay.h. */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* idx from relay_pollfds: the relay, and whether the event is on its sink */
#define IDX_OUT 0x10000

int relay_add(struct relays *rs, int from, int to, int owner, bool close_from, bool close_to)
{
	if (from < 0 || to < 0)
		return -2;
	for (int i = 0; i < RELAY_MAX; i++) {
		if (rs->r[i].active)
			continue;
		char *buf = malloc(RELAY_BUF);
		if (!buf)
			return -1;
		struct stat sb;
		rs->r[i] = (struct relay){.from = from,
					  .to = to,
					  .owner = owner,
					  .close_from = close_from,
					  .close_to = close_to,
					  .active = true,
					  .buf = buf};
		if (fstat(to, &sb) == 0) {
			rs->r[i].shut_to = S_ISSOCK(sb.st_mode);
			rs->r[i].to_fifo = S_ISFIFO(sb.st_mode);
			rs->r[i].to_file = S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode);
		}
		/* a reader that went away is an error on that relay, not the shim's death */
		signal(SIGPIPE, SIG_IGN);
		if (i >= rs->n)
			rs->n = i + 1;
		return i;
	}
	return -1;
}

int relay_room(const struct relays *rs)
{
	int c = 0;
	for (int i = 0; i < RELAY_MAX; i++)
		c += !rs->r[i].active;
	return c;
}

int relay_pollfds(struct relays *rs, struct pollfd *pfd, int *idx, int max)
{
	int k = 0;
	for (int i = 0; i < rs->n && k < max; i++) {
		struct relay *r = &rs->r[i];
		if (!r->active)
			continue;
		if (!r->eof && r->len < RELAY_BUF) {
			pfd[k] = (struct pollfd){.fd = r->from, .events = POLLIN};
			idx[k++] = i;
		}
		if (r->len > r->off && k < max) {
			pfd[k] = (struct pollfd){.fd = r->to, .events = POLLOUT};
			idx[k++] = i | IDX_OUT;
		}
	}
	return k;
}

static bool fd_used(const struct relays *rs, int fd)
{
	for (int k = 0; k < rs->n; k++)
		if (rs->r[k].active && (rs->r[k].from == fd || rs->r[k].to == fd))
			return true;
	return false;
}

static void finish(struct relays *rs, int i)
{
	struct relay *r = &rs->r[i];
	r->active = false;
	free(r->buf);
	r->buf = NULL;
	r->off = r->len = 0;
	if (r->close_to) {
		if (r->shut_to)
			shutdown(r->to, SHUT_WR);
		/* the same fd may feed several relays (a tty): close only when unused */
		if (!fd_used(rs, r->to))
			close(r->to);
	}
	if (r->close_from && !fd_used(rs, r->from))
		close(r->from);
}

/* What a pipe sink surely takes: its size minus the unread bytes, less two pages (the
 * partly used first and last slots); PIPE_BUF (what a POLLOUT promises) when less or unknown. */
static size_t pipe_room(const struct relay *r)
{
	int unread = 0, size = r->to_fifo ? fcntl(r->to, F_GETPIPE_SZ) : -1;
	if (size <= 0 || ioctl(r->to, FIONREAD, &unread) < 0 || unread < 0)
		return PIPE_BUF;
	long room = (long)size - unread - 2 * 4096;
	return room > PIPE_BUF ? (size_t)room : PIPE_BUF;
}

/* Write what fits without blocking: 0 (maybe partly), -1 when the sink failed. */
static int drain(struct relay *r, bool polled)
{
	while (r->len > r->off) {
		size_t n = r->len - r->off;
		ssize_t w;
		if (r->shut_to) {
			w = send(r->to, r->buf + r->off, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		} else {
			/* not ours to make non-blocking: write what surely fits (a file never blocks;
			 * a pipe has its free space; after POLLOUT anything takes PIPE_BUF bytes) */
			size_t fit = r->to_file ? n : pipe_room(r);
			if (!polled && !r->to_file && fit <= PIPE_BUF)
				return 0;
			w = write(r->to, r->buf + r->off, n < fit ? n : fit);
			polled = false;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w <= 0)
			return -1;
		r->off += (size_t)w;
	}
	r->off = r->len = 0;
	return 0;
}

int relay_pump(struct relays *rs, int idx)
{
	int i = idx & ~IDX_OUT;
	if (i < 0 || i >= rs->n || !rs->r[i].active)
		return 0;
	struct relay *r = &rs->r[i];
	if (idx & IDX_OUT) {
		if (drain(r, true) < 0) {
			finish(rs, i);
			return 1;
		}
	} else if (!r->eof && r->len < RELAY_BUF) {
		if (r->off && r->off == r->len)
			r->off = r->len = 0;
		ssize_t n = read(r->from, r->buf + r->len, RELAY_BUF - r->len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return 0;
		if (n <= 0)
			r->eof = true;
		else
			r->len += (size_t)n;
		/* a socket sink is tried at once; others wait for POLLOUT */
		if (drain(r, false) < 0) {
			finish(rs, i);
			return 1;
		}
	}
	if (r->eof && r->len == r->off) {
		finish(rs, i);
		return 1;
	}
	return 0;
}

int relay_count(const struct relays *rs, int owner)
{
	int c = 0;
	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].active && rs->r[i].owner == owner && rs->r[i].output)
			c++;
	return c;
}

int relay_backlog(const struct relays *rs, int owner)
{
	int c = 0;
	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].active && rs->r[i].owner == owner && rs->r[i].output &&
		    rs->r[i].len > rs->r[i].off)
			c++;
	return c;
}

void relay_close_owner(struct relays *rs, int owner)
{
	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].active && rs->r[i].owner == owner)
			finish(rs, i);
}
