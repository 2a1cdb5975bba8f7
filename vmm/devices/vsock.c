/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock device with Firecracker-compatible hybrid UDS (docs/devices.md).
 * Host -> guest: a client connects to <uds>, writes "CONNECT <port>\n" and gets
 * "OK <hostport>\n" once the guest accepted. Guest -> host port P: we connect
 * to <uds>_P. Connection logic lives in vsock_conn.c, the UDS listener and
 * clients before their CONNECT line in vsock_uds.c; this file moves bytes
 * between the virtqueues and the host sockets.
 *
 * Queues: 0 rx (device -> guest), 1 tx (guest -> device), 2 event.
 * Back-pressure: a host socket is read only while the guest has credit and RX
 * buffers; guest data the host socket does not take at once waits in a
 * per-connection buffer of buf_alloc bytes, which the guest's credit bounds.
 */
#include "vmm/devices/vsock_priv.h"
#include "common/evloop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static void conn_cb(void *opaque, uint32_t events);
static void process_rx(struct vsock_dev *v);

/* ------------------------------------------------------------ host sockets */

static void conn_set_events(struct vsock_dev *v, struct vsock_conn *c, uint32_t want)
{
	if (c->fd < 0 || want == c->events)
		return;
	int r;
	if (!c->events)
		r = evloop_add(v->dev.loop, c->fd, want, conn_cb, c);
	else if (!want)
		r = evloop_del(v->dev.loop, c->fd);
	else
		r = evloop_mod(v->dev.loop, c->fd, want);
	if (r < 0)
		log_errno(-r, "vsock: watch connection %u<->%u", c->gport, c->hport);
	else
		c->events = want;
}

static void conn_update_events(struct vsock_dev *v, struct vsock_conn *c)
{
	uint32_t want = 0;
	/* level-triggered: only ask for input we will consume */
	if (c->state == VS_ESTABLISHED && v->dev.active && !v->dev.broken && !v->rx_starved &&
	    vsock_conn_peer_free(c))
		want |= EPOLLIN;
	if (c->buf_len)
		want |= EPOLLOUT;
	conn_set_events(v, c, want);
}

static void conn_free(struct vsock_dev *v, struct vsock_conn *c)
{
	conn_set_events(v, c, 0);
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	vsock_mux_remove(&v->mux, c);
}

static ssize_t send_nosig(int fd, const struct iovec *iov, int n)
{
	struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
	ssize_t r;
	do
		r = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Write buffered guest data to the host socket. */
static void conn_flush(struct vsock_dev *v, struct vsock_conn *c)
{
	while (c->buf_len && c->state == VS_ESTABLISHED) {
		uint32_t cap = c->buf_alloc;
		uint32_t first = c->buf_len < cap - c->buf_head ? c->buf_len : cap - c->buf_head;
		struct iovec iov[2] = {{c->buf + c->buf_head, first}, {c->buf, c->buf_len - first}};
		ssize_t n = send_nosig(c->fd, iov, iov[1].iov_len ? 2 : 1);
		if (n < 0) {
			if (errno != EAGAIN)
				vsock_conn_host_reset(&v->mux, c);
			return;
		}
		c->buf_head = (uint32_t)((c->buf_head + (size_t)n) % cap);
		c->buf_len -= (uint32_t)n;
		vsock_conn_forwarded(c, (uint32_t)n);
	}
}

/* Guest payload [off, off+len) of the element's out side goes to the host. */
static void conn_deliver(struct vsock_dev *v, struct vsock_conn *c, const struct virtq_elem *e, size_t off,
			 uint32_t len)
{
	size_t done = 0;
	if (!c->buf_len && c->fd >= 0) {
		struct iovec iov[VIRTQ_MAX_SEGS];
		int n = 0;
		size_t skip = off, left = len;
		for (unsigned i = 0; i < e->n_out && left; i++) {
			size_t l = e->iov[i].iov_len;
			if (skip >= l) {
				skip -= l;
				continue;
			}
			size_t take = l - skip < left ? l - skip : left;
			iov[n].iov_base = (uint8_t *)e->iov[i].iov_base + skip;
			iov[n++].iov_len = take;
			left -= take;
			skip = 0;
		}
		ssize_t w = send_nosig(c->fd, iov, n);
		if (w < 0 && errno != EAGAIN) {
			vsock_conn_host_reset(&v->mux, c);
			return;
		}
		if (w > 0) {
			done = (size_t)w;
			vsock_conn_forwarded(c, (uint32_t)w);
		}
	}
	if (done == len)
		return;
	/* The rest waits; credit guarantees it fits in buf_alloc. */
	if (!c->buf && !(c->buf = malloc(c->buf_alloc))) {
		vsock_conn_host_reset(&v->mux, c);
		return;
	}
	uint32_t rest = len - (uint32_t)done;
	if (rest > c->buf_alloc - c->buf_len) { /* cannot happen while credit holds */
		vsock_conn_host_reset(&v->mux, c);
		return;
	}
	uint32_t tail = (uint32_t)(((size_t)c->buf_head + c->buf_len) % c->buf_alloc);
	uint32_t first = rest < c->buf_alloc - tail ? rest : c->buf_alloc - tail;
	virtq_elem_read(e, off + done, c->buf + tail, first);
	virtq_elem_read(e, off + done + first, c->buf, rest - first);
	c->buf_len += rest;
}

static bool conn_connect_host(struct vsock_dev *v, struct vsock_conn *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", v->path, c->hport);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return false;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_debug("vsock: guest port %u -> %s: %s", c->gport, sa.sun_path, strerror(errno));
		close(fd);
		return false;
	}
	c->fd = fd;
	return true;
}

/* Carry out the host actions the connection logic asked for. Returns false
 * when the connection was freed. */
static bool conn_apply(struct vsock_dev *v, struct vsock_conn *c)
{
	c->owner = v;
	if (c->actions & VSC_ACT_CONNECT) {
		c->actions &= (uint8_t)~VSC_ACT_CONNECT;
		vsock_conn_connected(&v->mux, c, conn_connect_host(v, c));
	}
	if (c->actions & VSC_ACT_REPLY_OK) {
		c->actions &= (uint8_t)~VSC_ACT_REPLY_OK;
		char ok[32];
		int n = snprintf(ok, sizeof(ok), "OK %u\n", c->hport);
		struct iovec iov = {ok, (size_t)n};
		if (send_nosig(c->fd, &iov, 1) != n)
			vsock_conn_host_reset(&v->mux, c);
	}
	if (c->buf_len)
		conn_flush(v, c);
	if (c->actions & VSC_ACT_SHUT_RD) {
		c->actions &= (uint8_t)~VSC_ACT_SHUT_RD;
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_RD);
	}
	if ((c->actions & VSC_ACT_SHUT_WR) && !c->buf_len) {
		c->actions &= (uint8_t)~VSC_ACT_SHUT_WR;
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_WR);
	}
	/* Done both ways (or the guest closed): reset, as Linux expects. */
	if (c->state == VS_ESTABLISHED && (c->guest_shut & VSOCK_SHUT_SEND) && !c->buf_len &&
	    ((c->host_shut & VSOCK_SHUT_SEND) || (c->guest_shut & VSOCK_SHUT_RCV)))
		vsock_conn_host_reset(&v->mux, c);
	if (c->actions & VSC_ACT_CLOSE) {
		conn_free(v, c);
		return false;
	}
	conn_update_events(v, c);
	return true;
}

static void apply_all(struct vsock_dev *v)
{
	for (unsigned i = v->mux.nconns; i-- > 0;)
		if (i < v->mux.nconns)
			conn_apply(v, v->mux.conns[i]);
}

/* ------------------------------------------------------------- virtqueues */

static bool put_rx(struct vsock_dev *v, const struct vsock_hdr *h, size_t total)
{
	uint8_t raw[VSOCK_HDR_LEN];
	vsock_hdr_encode(h, raw);
	virtq_elem_write(&v->elem, 0, raw, sizeof(raw));
	if (virtq_push(&v->dev.vq[VSOCK_Q_RX], v->elem.head, (uint32_t)total) < 0) {
		virtio_dev_broken(&v->dev, "rx used ring not addressable");
		return false;
	}
	return true;
}

/* Pop an RX buffer able to hold a header; false when none (or broken). */
static bool pop_rx(struct vsock_dev *v)
{
	int r = virtq_pop(&v->dev.vq[VSOCK_Q_RX], &v->elem);
	if (r < 0)
		virtio_dev_broken(&v->dev, "malformed descriptor chain on rx queue");
	if (r <= 0) {
		v->rx_starved = r == 0;
		return false;
	}
	if (v->elem.in_len < VSOCK_HDR_LEN) {
		virtio_dev_broken(&v->dev, "rx buffer of %zu bytes cannot hold a header", v->elem.in_len);
		return false;
	}
	return true;
}

/* Read host data for c into a fresh RX buffer. 1 sent, 0 nothing to send, -1 stop. */
static int rx_data(struct vsock_dev *v, struct vsock_conn *c)
{
	uint32_t room = vsock_conn_peer_free(c);
	if (!room || !c->want_read || c->fd < 0)
		return 0;
	if (!pop_rx(v))
		return -1;
	size_t cap = v->elem.in_len - VSOCK_HDR_LEN;
	if (cap > room)
		cap = room;
	if (cap > VSOCK_MAX_PKT)
		cap = VSOCK_MAX_PKT;
	struct iovec iov[VIRTQ_MAX_SEGS];
	int n = 0;
	size_t skip = VSOCK_HDR_LEN, left = cap;
	for (unsigned i = v->elem.n_out; i < v->elem.n_out + v->elem.n_in && left; i++) {
		size_t l = v->elem.iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		size_t take = l - skip < left ? l - skip : left;
		iov[n].iov_base = (uint8_t *)v->elem.iov[i].iov_base + skip;
		iov[n++].iov_len = take;
		left -= take;
		skip = 0;
	}
	ssize_t r;
	do
		r = readv(c->fd, iov, n);
	while (r < 0 && errno == EINTR);
	if (r <= 0) {
		virtq_unpop(&v->dev.vq[VSOCK_Q_RX]);
		c->want_read = false;
		if (r == 0)
			vsock_conn_host_eof(c);
		else if (errno != EAGAIN)
			vsock_conn_host_reset(&v->mux, c);
		return 0;
	}
	struct vsock_hdr h;
	vsock_conn_make_rw(&v->mux, c, (uint32_t)r, &h);
	return put_rx(v, &h, VSOCK_HDR_LEN + (size_t)r) ? 1 : -1;
}

static void process_rx(struct vsock_dev *v)
{
	struct virtio_dev *d = &v->dev;
	if (!d->active || d->broken)
		return;
	bool pushed = false;
	for (int round = 0; round < 64; round++) {
		bool progress = false;
		while (vsock_mux_has_ctrl(&v->mux)) {
			if (!pop_rx(v))
				goto out;
			struct vsock_hdr h;
			if (!vsock_mux_next_ctrl(&v->mux, &h)) {
				virtq_unpop(&d->vq[VSOCK_Q_RX]);
				break;
			}
			if (!put_rx(v, &h, VSOCK_HDR_LEN))
				goto out;
			pushed = progress = true;
		}
		for (unsigned i = 0; i < v->mux.nconns; i++) {
			int r = rx_data(v, v->mux.conns[i]);
			if (r < 0)
				goto out;
			if (r > 0)
				pushed = progress = true;
		}
		if (!progress && !vsock_mux_has_ctrl(&v->mux))
			break;
	}
out:
	if (pushed)
		virtio_dev_notify(d, VSOCK_Q_RX);
}

static void process_tx(struct vsock_dev *v)
{
	struct virtio_dev *d = &v->dev;
	struct virtq *vq = &d->vq[VSOCK_Q_TX];
	bool pushed = false;
	while (!d->broken) {
		int r = virtq_pop(vq, &v->elem);
		if (r == 0)
			break;
		if (r < 0) {
			virtio_dev_broken(d, "malformed descriptor chain on tx queue");
			break;
		}
		if (v->elem.out_len < VSOCK_HDR_LEN) {
			virtio_dev_broken(d, "tx packet of %zu bytes is shorter than its header",
					  v->elem.out_len);
			break;
		}
		uint8_t raw[VSOCK_HDR_LEN];
		virtq_elem_read(&v->elem, 0, raw, sizeof(raw));
		struct vsock_hdr h;
		vsock_hdr_decode(raw, &h);
		struct vsock_conn *c = NULL;
		enum vsock_rx_result res = vsock_mux_rx(&v->mux, &h, v->elem.out_len - VSOCK_HDR_LEN, &c);
		if (res == VSR_DATA)
			conn_deliver(v, c, &v->elem, VSOCK_HDR_LEN, h.len);
		else if (res == VSR_DROP)
			log_debug("vsock: dropped tx packet op %u %u->%u", h.op, h.src_port, h.dst_port);
		if (virtq_push(vq, v->elem.head, 0) < 0) {
			virtio_dev_broken(d, "tx used ring not addressable");
			break;
		}
		pushed = true;
		if (c)
			conn_apply(v, c);
	}
	if (pushed)
		virtio_dev_notify(d, VSOCK_Q_TX);
}

static void process_event(struct vsock_dev *v)
{
	if (!v->reset_event)
		return;
	struct virtq *vq = &v->dev.vq[VSOCK_Q_EVENT];
	int r = virtq_pop(vq, &v->elem);
	if (r < 0)
		virtio_dev_broken(&v->dev, "malformed descriptor chain on event queue");
	if (r <= 0)
		return;
	uint32_t id = VSOCK_EVENT_TRANSPORT_RESET;
	size_t n = virtq_elem_write(&v->elem, 0, &id, sizeof(id));
	if (virtq_push(vq, v->elem.head, (uint32_t)n) < 0) {
		virtio_dev_broken(&v->dev, "event used ring not addressable");
		return;
	}
	v->reset_event = false;
	virtio_dev_notify(&v->dev, VSOCK_Q_EVENT);
}

void vsock_run(struct vsock_dev *v)
{
	process_rx(v);
	apply_all(v);
	/* closing connections may have queued RSTs */
	if (vsock_mux_has_ctrl(&v->mux)) {
		process_rx(v);
		apply_all(v);
	}
}

static void conn_cb(void *opaque, uint32_t events)
{
	struct vsock_conn *c = opaque;
	struct vsock_dev *v = c->owner;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		c->want_read = true;
	if (events & EPOLLOUT)
		conn_flush(v, c);
	vsock_run(v);
}

static void vsock_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct vsock_dev *v = d->priv;
	if (!d->active || d->broken)
		return;
	if (q == VSOCK_Q_RX) {
		v->rx_starved = false;
	} else if (q == VSOCK_Q_TX) {
		process_tx(v);
	} else if (q == VSOCK_Q_EVENT) {
		process_event(v);
		return;
	} else {
		return;
	}
	vsock_run(v);
}

/* ------------------------------------------------------------- lifecycle */

static void drop_conns(struct vsock_dev *v)
{
	while (v->mux.nconns)
		conn_free(v, v->mux.conns[v->mux.nconns - 1]);
	v->mux.nrst = 0;
}

static int vsock_activate(struct virtio_dev *d)
{
	struct vsock_dev *v = d->priv;
	d->active = true;
	v->rx_starved = false;
	return 0;
}

static void vsock_reset(struct virtio_dev *d)
{
	struct vsock_dev *v = d->priv;
	if (v->mux.nconns)
		v->reset_event = true;
	drop_conns(v);
	d->active = false;
}

static void vsock_destroy(struct virtio_dev *d)
{
	struct vsock_dev *v = d->priv;
	drop_conns(v);
	vsock_close_clients(v);
	if (v->listen_fd >= 0) {
		if (d->loop)
			evloop_del(d->loop, v->listen_fd);
		close(v->listen_fd);
		if (!v->listen_given)
			unlink(v->path);
	}
	if (v->timer_fd >= 0) {
		if (d->loop)
			evloop_del(d->loop, v->timer_fd);
		close(v->timer_fd);
	}
	free(v);
}

static const struct virtio_dev_ops vsock_ops = {
    .name = "vsock",
    .device_id = VIRTIO_ID_VSOCK,
    .num_queues = 3,
    .queue_max = 256,
    .features = 0,
    .activate = vsock_activate,
    .queue_notify = vsock_queue_notify,
    .reset = vsock_reset,
    .destroy = vsock_destroy,
};

struct vsock_opts {
	char uds[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint64_t cid;
	uint32_t timeout_ms;
	int listen_fd; /* listenfd=N, else -1 */
	char *err;
	size_t errlen;
};

static int vsock_opt(const char *k, const char *v, void *opaque)
{
	struct vsock_opts *o = opaque;
	if (!strcmp(k, "uds") || !strcmp(k, "path")) {
		if (!*v || strlen(v) >= sizeof(o->uds)) {
			snprintf(o->err, o->errlen, "uds path '%.40s...': %s", v, *v ? "too long" : "empty");
			return -EINVAL;
		}
		strcpy(o->uds, v);
		return 0;
	}
	if (!strcmp(k, "timeout_ms")) {
		char *end;
		errno = 0;
		unsigned long ms = strtoul(v, &end, 10);
		if (errno || !*v || *end || ms == 0 || ms > 3600000) {
			snprintf(o->err, o->errlen, "bad timeout_ms '%s' (1..3600000)", v);
			return -EINVAL;
		}
		o->timeout_ms = (uint32_t)ms;
		return 0;
	}
	if (!strcmp(k, "listenfd")) {
		/* A listening socket the caller bound at uds= (a jailed server cannot create files
		 * in the socket directory; the caller removes the file). */
		char *end;
		errno = 0;
		long fd = strtol(v, &end, 10);
		int on = 0;
		socklen_t len = sizeof(on);
		if (errno || !*v || *end || fd < 3 || fd > 1 << 20 ||
		    getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0 || !on) {
			snprintf(o->err, o->errlen, "listenfd '%s': not a listening socket", v);
			return -EINVAL;
		}
		o->listen_fd = (int)fd;
		return 0;
	}
	if (!strcmp(k, "cid")) {
		char *end;
		errno = 0;
		unsigned long long cid = strtoull(v, &end, 0);
		if (errno || !*v || *end || cid < 3 || cid > 0xffffffffull) {
			snprintf(o->err, o->errlen, "bad cid '%s' (3..4294967295)", v);
			return -EINVAL;
		}
		o->cid = cid;
		return 0;
	}
	snprintf(o->err, o->errlen, "unknown option '%s' (uds=PATH,cid=N,timeout_ms=MS,listenfd=N)", k);
	return -EINVAL;
}

struct virtio_dev *virtio_vsock_create(const char *opts, struct evloop *loop, char *err, size_t errlen)
{
	struct vsock_opts o = {
	    .cid = 3, .timeout_ms = VSOCK_DEFAULT_TIMEOUT_MS, .listen_fd = -1, .err = err, .errlen = errlen};
	if (virtio_parse_opts(opts, vsock_opt, &o))
		return NULL;
	if (!o.uds[0]) {
		snprintf(err, errlen, "missing uds=PATH");
		return NULL;
	}
	const char *uds = o.uds;
	if (!loop) {
		snprintf(err, errlen, "needs an event loop");
		return NULL;
	}
	struct vsock_dev *v = calloc(1, sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (o.listen_fd >= 0) {
		v->listen_fd = o.listen_fd;
		v->listen_given = true;
		fcntl(v->listen_fd, F_SETFD, FD_CLOEXEC);
		fcntl(v->listen_fd, F_SETFL, fcntl(v->listen_fd, F_GETFL) | O_NONBLOCK);
	} else {
		v->listen_fd = vsock_uds_bind(uds, err, errlen);
	}
	if (v->listen_fd < 0) {
		free(v);
		return NULL;
	}
	strcpy(v->path, uds);
	v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	int ar = v->timer_fd < 0 ? -errno : evloop_add(loop, v->listen_fd, EPOLLIN, vsock_listen_cb, v);
	if (ar == 0) {
		ar = evloop_add(loop, v->timer_fd, EPOLLIN, vsock_timer_cb, v);
		if (ar < 0)
			evloop_del(loop, v->listen_fd);
	}
	if (ar < 0) {
		snprintf(err, errlen, "watch %s: %s", uds, strerror(-ar));
		if (v->timer_fd >= 0)
			close(v->timer_fd);
		close(v->listen_fd);
		if (!v->listen_given)
			unlink(uds);
		free(v);
		return NULL;
	}
	v->timeout_ms = o.timeout_ms;
	vsock_mux_init(&v->mux, o.cid, VSOCK_BUF_ALLOC);
	for (int i = 0; i < 8; i++)
		v->config[i] = (uint8_t)(o.cid >> (8 * i));
	v->dev.ops = &vsock_ops;
	v->dev.priv = v;
	v->dev.config = v->config;
	v->dev.config_len = sizeof(v->config);
	v->dev.loop = loop;
	return &v->dev;
}
