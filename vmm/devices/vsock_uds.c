/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hybrid UDS front of the virtio-vsock device (docs/devices.md): the
 * listening socket at <uds>, host clients until their "CONNECT <port>" line,
 * and the periodic tick that times out clients and unanswered REQUESTs.
 */
#include "vmm/devices/vsock_priv.h"
#include "common/evloop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"

/* ------------------------------------------------------------------ timer */

static bool timer_needed(const struct vsock_dev *v)
{
	if (v->listen_paused)
		return true;
	for (unsigned i = 0; i < VSOCK_MAX_CLIENTS; i++)
		if (v->clients[i])
			return true;
	for (unsigned i = 0; i < v->mux.nconns; i++)
		if (v->mux.conns[i]->state == VS_CONNECTING_H2G)
			return true;
	return false;
}

/* A periodic tick runs only while something can time out. */
static void timer_update(struct vsock_dev *v)
{
	bool need = timer_needed(v);
	if (need == v->timer_armed)
		return;
	struct itimerspec it = {0};
	if (need) {
		it.it_value.tv_nsec = VSOCK_TICK_MS * 1000000L;
		it.it_interval = it.it_value;
	}
	if (timerfd_settime(v->timer_fd, 0, &it, NULL) == 0)
		v->timer_armed = need;
}

static void client_close(struct vsock_dev *v, struct vsock_client *cl, bool close_fd);

void vsock_timer_cb(void *opaque, uint32_t events)
{
	struct vsock_dev *v = opaque;
	uint64_t ticks;
	if (read(v->timer_fd, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
		return;
	uint64_t now = (uint64_t)io_now_ms();
	for (unsigned i = 0; i < VSOCK_MAX_CLIENTS; i++)
		if (v->clients[i] && v->clients[i]->deadline <= now)
			client_close(v, v->clients[i], true);
	for (unsigned i = 0; i < v->mux.nconns; i++) {
		struct vsock_conn *c = v->mux.conns[i];
		if (c->state == VS_CONNECTING_H2G && c->deadline <= now) {
			log_debug("vsock: guest port %u did not answer the connect", c->gport);
			vsock_conn_host_reset(&v->mux, c);
		}
	}
	if (v->listen_paused && evloop_mod(v->dev.loop, v->listen_fd, EPOLLIN) == 0)
		v->listen_paused = false;
	vsock_run(v);
	timer_update(v);
}

/* ------------------------------------------------------------ host clients */

static void client_close(struct vsock_dev *v, struct vsock_client *cl, bool close_fd)
{
	evloop_del(v->dev.loop, cl->fd);
	if (close_fd)
		close(cl->fd);
	for (unsigned i = 0; i < VSOCK_MAX_CLIENTS; i++)
		if (v->clients[i] == cl)
			v->clients[i] = NULL;
	free(cl);
}

/* "CONNECT <port>" with a decimal port: returns the port or -1. */
static long parse_connect(const char *s)
{
	if (strncmp(s, "CONNECT ", 8) != 0)
		return -1;
	s += 8;
	if (*s < '0' || *s > '9')
		return -1;
	long port = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		port = port * 10 + (*s - '0');
		if (port > 0xffffffffL)
			return -1;
	}
	return *s ? -1 : port;
}

static void client_cb(void *opaque, uint32_t events)
{
	struct vsock_client *cl = opaque;
	struct vsock_dev *v = cl->v;
	for (;;) { /* byte by byte: what follows the line belongs to the stream */
		char ch;
		ssize_t r = read(cl->fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0 || cl->len + 1 >= sizeof(cl->line)) {
			client_close(v, cl, true);
			return;
		}
		if (ch != '\n') {
			cl->line[cl->len++] = ch;
			continue;
		}
		if (cl->len && cl->line[cl->len - 1] == '\r')
			cl->len--;
		cl->line[cl->len] = '\0';
		long port = parse_connect(cl->line);
		struct vsock_conn *c = NULL;
		if (port >= 0 && v->dev.active && !v->dev.broken)
			c = vsock_mux_host_connect(&v->mux, (uint32_t)port);
		int fd = cl->fd;
		client_close(v, cl, !c);
		if (!c)
			return;
		c->fd = fd;
		c->owner = v;
		c->deadline = (uint64_t)io_now_ms() + v->timeout_ms;
		vsock_run(v);
		timer_update(v);
		return;
	}
}

void vsock_listen_cb(void *opaque, uint32_t events)
{
	struct vsock_dev *v = opaque;
	for (;;) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_errno(errno, "vsock: accept on %s", v->path);
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* level-triggered: stop watching until the next tick */
				if (evloop_mod(v->dev.loop, v->listen_fd, 0) == 0)
					v->listen_paused = true;
				timer_update(v);
			}
			return;
		}
		unsigned slot = 0;
		while (slot < VSOCK_MAX_CLIENTS && v->clients[slot])
			slot++;
		struct vsock_client *cl = NULL;
		/* No driver yet: there can be no listener in the guest. */
		if (!v->dev.active || slot == VSOCK_MAX_CLIENTS || !(cl = calloc(1, sizeof(*cl)))) {
			close(fd);
			continue;
		}
		cl->v = v;
		cl->fd = fd;
		cl->deadline = (uint64_t)io_now_ms() + v->timeout_ms;
		if (evloop_add(v->dev.loop, fd, EPOLLIN, client_cb, cl) < 0) {
			close(fd);
			free(cl);
			continue;
		}
		v->clients[slot] = cl;
		timer_update(v);
	}
}

void vsock_close_clients(struct vsock_dev *v)
{
	for (unsigned i = 0; i < VSOCK_MAX_CLIENTS; i++)
		if (v->clients[i])
			client_close(v, v->clients[i], true);
}

/* Bind the hybrid-vsock socket; refuses a live listener, replaces a stale socket. */
int vsock_uds_bind(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	/* guest->host connections use "<path>_<port>": keep room for the suffix */
	if (strlen(path) + 11 >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "uds path %s: too long (max %zu bytes)", path,
			 sizeof(sa.sun_path) - 12);
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "uds path %s: exists and is not a socket", path);
			goto fail;
		}
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (probe >= 0)
			close(probe);
		if (live) {
			snprintf(err, errlen, "uds path %s: in use by a live listener", path);
			goto fail;
		}
		unlink(path);
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "bind %s: %s", path, strerror(errno));
		goto fail;
	}
	if (listen(fd, 128) < 0) {
		snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}
