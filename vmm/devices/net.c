/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net (virtio 1.x §5.1): one receive/transmit queue pair backed by a
 * tap opened with IFF_VNET_HDR (or a datagram socket carrying the same frames,
 * net_tap.h). The tap speaks the guest's own header (virtio_net_hdr_mrg_rxbuf,
 * 12 bytes with VERSION_1) and takes the offloads the guest accepts, so
 * headers pass through unchanged: TX is one writev of the guest's chain, RX
 * one read into a bounce buffer, copied into as many mergeable buffers as the
 * frame needs (num_buffers), published together.
 *
 * Queues: 0 receive (device -> guest), 1 transmit (guest -> device).
 * Back-pressure, bounded memory: at most one received frame waits here; while
 * the receive ring has no room for it the tap is not read (the kernel queues
 * and then drops), and the driver's next receive kick resumes. A transmit that
 * the fd refuses (EAGAIN) stays in the ring until the fd is writable.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "common/evloop.h"
#include "vmm/devices/net_tap.h"
#include "vmm/devices/virtio.h"

/* Feature bits (virtio 1.x §5.1.3). */
#define NET_F_CSUM	 0
#define NET_F_GUEST_CSUM 1
#define NET_F_MTU	 3
#define NET_F_MAC	 5
#define NET_F_GUEST_TSO4 7
#define NET_F_GUEST_TSO6 8
#define NET_F_GUEST_ECN	 9
#define NET_F_HOST_TSO4	 11
#define NET_F_HOST_TSO6	 12
#define NET_F_HOST_ECN	 13
#define NET_F_MRG_RXBUF	 15
#define NET_F_STATUS	 16
#define BIT(b)		 (1ull << (b))

#define NET_FEATURES                                                                                         \
	(BIT(NET_F_CSUM) | BIT(NET_F_GUEST_CSUM) | BIT(NET_F_MAC) | BIT(NET_F_GUEST_TSO4) |                  \
	 BIT(NET_F_GUEST_TSO6) | BIT(NET_F_GUEST_ECN) | BIT(NET_F_HOST_TSO4) | BIT(NET_F_HOST_TSO6) |        \
	 BIT(NET_F_HOST_ECN) | BIT(NET_F_MRG_RXBUF) | BIT(NET_F_STATUS))

#define NET_S_LINK_UP 1

/* virtio_net_hdr: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset. */
#define NET_HDR_GSO_NONE   0
#define NET_HDR_GSO_TCPV4  1
#define NET_HDR_GSO_TCPV6  4
#define NET_HDR_GSO_ECN	   0x80
#define NET_HDR_LEN_LEGACY 10 /* without num_buffers */
#define NET_HDR_LEN_V1	   12 /* virtio_net_hdr_mrg_rxbuf */

#define RXQ	      0
#define TXQ	      1
#define NET_QUEUE_MAX 256
/* The largest frame either way: 64 KiB of GSO payload and headers, plus an
 * Ethernet header with a VLAN tag. */
#define NET_MAX_FRAME (65536 + 18)
/* One byte more than the largest header + frame: a read that fills it was cut. */
#define NET_RX_BUF (NET_HDR_LEN_V1 + NET_MAX_FRAME + 1)
#define NET_MIN_RX (14) /* an Ethernet header */
/* Frames per callback before the loop serves others (it calls again). */
#define NET_RX_BUDGET 64
#define NET_TX_BUDGET 256

struct net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
} __attribute__((packed));

enum net_kind { NET_TAP, NET_SOCK };

struct net_dev {
	struct virtio_dev dev;
	struct virtio_dev_ops ops; /* per device: MTU is offered only when given */
	struct net_config cfg;
	int fd;
	enum net_kind kind;
	char label[48];	 /* "tap NAME" / "socket fd N", for messages */
	uint32_t events; /* what the loop watches on fd */
	unsigned hdr_len;
	bool rx_starved;	/* the receive ring had no room for the waiting frame */
	bool rx_dead;		/* read failed for good (or EOF): no reading until reset */
	bool tx_pending;	/* transmit waits for the fd to be writable */
	int rx_errno, tx_errno; /* last error logged, to log each kind once */
	uint64_t rx_dropped, tx_dropped;
	size_t rx_len; /* bytes of the waiting frame in rx_buf; 0: none */
	struct virtq_elem first, elem;
	struct virtq_used_elem used[NET_QUEUE_MAX];
	uint8_t rx_buf[NET_RX_BUF];
};

static void net_fd_cb(void *opaque, uint32_t events);

static bool has(const struct net_dev *n, unsigned bit)
{
	return n->dev.features_acked & BIT(bit);
}

static void net_update_events(struct net_dev *n)
{
	struct virtio_dev *d = &n->dev;
	uint32_t want = 0;
	if (d->active && !d->broken) {
		if (!n->rx_starved && !n->rx_dead)
			want |= EPOLLIN;
		if (n->tx_pending)
			want |= EPOLLOUT;
	}
	if (want == n->events)
		return;
	int r;
	if (!n->events)
		r = evloop_add(d->loop, n->fd, want, net_fd_cb, n);
	else if (!want)
		r = evloop_del(d->loop, n->fd);
	else
		r = evloop_mod(d->loop, n->fd, want);
	if (r < 0)
		log_errno(-r, "net: watch %s", n->label);
	else
		n->events = want;
}

/* Log a host-side I/O error once per kind; the frame is counted as dropped. */
static void net_io_error(struct net_dev *n, int *last, int e, const char *what, size_t len)
{
	if (*last != e)
		log_warn("net: %s %s: %s (%zu-byte frame dropped; further drops of this kind are counted)",
			 what, n->label, strerror(e), len);
	*last = e;
}

/* ------------------------------------------------------------- receive */

/* Whether the guest may get this header: no GSO type it did not accept, no
 * checksum flags without GUEST_CSUM (virtio 1.x §5.1.6.4.1). */
static bool rx_header_ok(struct net_dev *n)
{
	uint8_t *h = n->rx_buf;
	if (!has(n, NET_F_GUEST_CSUM))
		h[0] = 0;
	uint8_t gso = h[1] & (uint8_t)~NET_HDR_GSO_ECN;
	if ((h[1] & NET_HDR_GSO_ECN) && !has(n, NET_F_GUEST_ECN))
		return false;
	switch (gso) {
	case NET_HDR_GSO_NONE:
		return !(h[1] & NET_HDR_GSO_ECN);
	case NET_HDR_GSO_TCPV4:
		return has(n, NET_F_GUEST_TSO4);
	case NET_HDR_GSO_TCPV6:
		return has(n, NET_F_GUEST_TSO6);
	default:
		return false;
	}
}

/* Read one frame into rx_buf. True with rx_len set; false when none is ready
 * (or the fd is done: rx_dead). Frames that cannot be delivered are dropped. */
static bool net_read_frame(struct net_dev *n)
{
	for (;;) {
		ssize_t r;
		bool cut = false;
		if (n->kind == NET_SOCK) {
			struct iovec iov = {n->rx_buf, sizeof(n->rx_buf)};
			struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
			r = recvmsg(n->fd, &mh, MSG_DONTWAIT);
			cut = r >= 0 && (mh.msg_flags & MSG_TRUNC);
		} else {
			r = read(n->fd, n->rx_buf, sizeof(n->rx_buf));
		}
		if (r < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			if (e == EAGAIN)
				return false;
			log_error("net: read %s: %s; receiving stops until the device is reset", n->label,
				  strerror(e));
			n->rx_dead = true;
			return false;
		}
		if (r == 0 && n->kind == NET_SOCK) {
			/* An empty datagram, or the peer's end of stream. */
			struct pollfd p = {.fd = n->fd, .events = POLLIN | POLLRDHUP};
			if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP))) {
				log_warn("net: %s: the peer closed; receiving stops", n->label);
				n->rx_dead = true;
				return false;
			}
		}
		size_t len = (size_t)r;
		if (cut || len >= sizeof(n->rx_buf) || len < n->hdr_len + NET_MIN_RX) {
			n->rx_dropped++;
			log_debug("net: %s: %zu-byte frame dropped (%s)", n->label, len,
				  len < n->hdr_len + NET_MIN_RX ? "runt" : "too large");
			continue;
		}
		n->rx_len = len;
		return true;
	}
}

/* Deliver the waiting frame: 1 delivered or dropped (the frame is gone), 0 the
 * ring lacks room (nothing consumed), -1 the device broke. */
static int net_rx_deliver(struct net_dev *n)
{
	struct virtio_dev *d = &n->dev;
	struct virtq *vq = &d->vq[RXQ];
	bool mrg = has(n, NET_F_MRG_RXBUF);
	size_t len = n->rx_len, off = 0;
	unsigned nu = 0;
	if (!rx_header_ok(n)) {
		n->rx_dropped++;
		log_debug("net: %s: frame with gso_type 0x%x the guest did not accept dropped", n->label,
			  n->rx_buf[1]);
		return 1;
	}
	while (off < len) {
		if (nu == NET_QUEUE_MAX) {
			/* only a ring re-offering buffers it never got back gets here */
			for (; nu; nu--)
				virtq_unpop(vq);
			n->rx_dropped++;
			return 1;
		}
		struct virtq_elem *e = nu ? &n->elem : &n->first;
		int r = virtq_pop(vq, e);
		if (r < 0) {
			virtio_dev_broken(d, "malformed descriptor chain on the receive queue");
			return -1;
		}
		if (r == 0) {
			for (; nu; nu--)
				virtq_unpop(vq);
			return 0;
		}
		if (e->n_out) {
			virtio_dev_broken(d, "receive chain %u has %u device-readable descriptors", e->head,
					  e->n_out);
			return -1;
		}
		if (e->in_len < n->hdr_len) {
			virtio_dev_broken(d, "receive buffer %u of %zu bytes cannot hold the %u-byte header",
					  e->head, e->in_len, n->hdr_len);
			return -1;
		}
		if (!mrg && e->in_len < len) {
			/* Without mergeable buffers a frame needs one chain: the driver's are
			 * too small for this one. Drop it, keep the buffer. */
			virtq_unpop(vq);
			n->rx_dropped++;
			log_debug("net: %s: %zu-byte frame dropped: receive buffer of %zu bytes", n->label,
				  len, e->in_len);
			return 1;
		}
		size_t take = e->in_len < len - off ? e->in_len : len - off;
		virtq_elem_write(e, 0, n->rx_buf + off, take);
		n->used[nu++] = (struct virtq_used_elem){.head = e->head, .len = (uint32_t)take};
		off += take;
	}
	if (n->hdr_len == NET_HDR_LEN_V1) {
		uint16_t nb = (uint16_t)nu; /* le16; x86 */
		virtq_elem_write(&n->first, 10, &nb, sizeof(nb));
	}
	if (virtq_push_n(vq, n->used, nu) < 0) {
		virtio_dev_broken(d, "used ring of the receive queue not addressable");
		return -1;
	}
	return 1;
}

static void net_rx(struct net_dev *n)
{
	struct virtio_dev *d = &n->dev;
	bool pushed = false;
	for (unsigned k = 0; k < NET_RX_BUDGET && d->active && !d->broken; k++) {
		if (!n->rx_len && !net_read_frame(n))
			break;
		uint16_t before = d->vq[RXQ].used_idx;
		int r = net_rx_deliver(n);
		if (r < 0)
			break;
		if (r == 0) {
			n->rx_starved = true;
			break;
		}
		pushed |= d->vq[RXQ].used_idx != before;
		n->rx_len = 0;
	}
	if (pushed)
		virtio_dev_notify(d, RXQ);
}

/* ------------------------------------------------------------ transmit */

static ssize_t net_send(struct net_dev *n, const struct virtq_elem *e)
{
	ssize_t w;
	do {
		if (n->kind == NET_SOCK) {
			struct msghdr mh = {.msg_iov = (struct iovec *)e->iov, .msg_iovlen = e->n_out};
			w = sendmsg(n->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		} else {
			w = writev(n->fd, e->iov, (int)e->n_out);
		}
	} while (w < 0 && errno == EINTR);
	return w;
}

static void net_tx(struct net_dev *n)
{
	struct virtio_dev *d = &n->dev;
	struct virtq *vq = &d->vq[TXQ];
	struct virtq_elem *e = &n->elem;
	bool pushed = false;
	unsigned k;
	for (k = 0; k < NET_TX_BUDGET && d->active && !d->broken; k++) {
		int r = virtq_pop(vq, e);
		if (r == 0)
			break;
		if (r < 0) {
			virtio_dev_broken(d, "malformed descriptor chain on the transmit queue");
			break;
		}
		if (e->out_len < n->hdr_len) {
			virtio_dev_broken(d,
					  "transmit chain %u of %zu bytes is shorter than the %u-byte header",
					  e->head, e->out_len, n->hdr_len);
			break;
		}
		if (e->out_len > n->hdr_len + NET_MAX_FRAME) {
			n->tx_dropped++;
			net_io_error(n, &n->tx_errno, EMSGSIZE, "send to", e->out_len - n->hdr_len);
		} else if (net_send(n, e) < 0) {
			int err = errno;
			if (err == EAGAIN || err == ENOBUFS) {
				virtq_unpop(vq); /* stays in the ring until the fd is writable */
				n->tx_pending = true;
				break;
			}
			n->tx_dropped++;
			net_io_error(n, &n->tx_errno, err, "send to", e->out_len - n->hdr_len);
		}
		/* transmit buffers are only read: nothing written */
		if (virtq_push(vq, e->head, 0) < 0) {
			virtio_dev_broken(d, "used ring of the transmit queue not addressable");
			break;
		}
		pushed = true;
	}
	/* Budget spent: continue once the fd is writable, after others had a turn. */
	if (k == NET_TX_BUDGET)
		n->tx_pending = true;
	if (pushed)
		virtio_dev_notify(d, TXQ);
}

/* ------------------------------------------------------------ device ops */

static void net_fd_cb(void *opaque, uint32_t events)
{
	struct net_dev *n = opaque;
	if (n->tx_pending && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		n->tx_pending = false;
		net_tx(n);
	}
	if ((n->events & EPOLLIN) && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		net_rx(n);
	net_update_events(n);
}

static void net_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct net_dev *n = d->priv;
	if (!d->active || d->broken)
		return;
	if (q == RXQ && n->rx_starved) {
		n->rx_starved = false;
		net_rx(n);
	} else if (q == TXQ && !n->tx_pending) {
		net_tx(n);
	}
	net_update_events(n);
}

static int net_activate(struct virtio_dev *d)
{
	struct net_dev *n = d->priv;
	n->hdr_len = d->features_acked & (BIT(VIRTIO_F_VERSION_1) | BIT(NET_F_MRG_RXBUF))
			 ? NET_HDR_LEN_V1
			 : NET_HDR_LEN_LEGACY;
	if (n->kind == NET_TAP) {
		unsigned off = 0;
		if (has(n, NET_F_GUEST_CSUM)) {
			off |= NET_TAP_OFF_CSUM;
			if (has(n, NET_F_GUEST_TSO4))
				off |= NET_TAP_OFF_TSO4;
			if (has(n, NET_F_GUEST_TSO6))
				off |= NET_TAP_OFF_TSO6;
			if (has(n, NET_F_GUEST_ECN) && (off & (NET_TAP_OFF_TSO4 | NET_TAP_OFF_TSO6)))
				off |= NET_TAP_OFF_ECN;
		}
		char err[192];
		int r = net_tap_configure(n->fd, n->hdr_len, off, err, sizeof(err));
		if (r < 0) {
			log_error("net: %s", err);
			return r;
		}
	}
	n->rx_len = 0;
	n->rx_starved = n->rx_dead = n->tx_pending = false;
	d->active = true;
	log_debug("net: %s active: %u-byte header, %s receive buffers, guest offloads%s%s%s%s", n->label,
		  n->hdr_len, has(n, NET_F_MRG_RXBUF) ? "mergeable" : "one-chain",
		  has(n, NET_F_GUEST_CSUM) ? " csum" : "", has(n, NET_F_GUEST_TSO4) ? " tso4" : "",
		  has(n, NET_F_GUEST_TSO6) ? " tso6" : "", has(n, NET_F_GUEST_ECN) ? " ecn" : "");
	net_update_events(n);
	return 0;
}

static void net_reset(struct virtio_dev *d)
{
	struct net_dev *n = d->priv;
	n->rx_len = 0; /* a frame waiting for room is lost with the rings */
	n->rx_starved = n->rx_dead = n->tx_pending = false;
	d->active = false;
	net_update_events(n);
}

static void net_destroy(struct virtio_dev *d)
{
	struct net_dev *n = d->priv;
	if (n->events && d->loop)
		evloop_del(d->loop, n->fd);
	if (n->rx_dropped || n->tx_dropped)
		log_debug("net: %s: %llu received and %llu sent frames dropped", n->label,
			  (unsigned long long)n->rx_dropped, (unsigned long long)n->tx_dropped);
	close(n->fd);
	free(n);
}

static const struct virtio_dev_ops net_ops_template = {
    .name = "net",
    .device_id = VIRTIO_ID_NET,
    .num_queues = 2,
    .queue_max = NET_QUEUE_MAX,
    .features = NET_FEATURES,
    .activate = net_activate,
    .queue_notify = net_queue_notify,
    .reset = net_reset,
    .destroy = net_destroy,
};

/* ---------------------------------------------------------------- options */

struct net_opts {
	int tapfd, sockfd;
	char tap[IFNAMSIZ + 1];
	bool have_tap, have_mac;
	unsigned seen; /* keys given, each at most once (an fd must not be replaced) */
	uint8_t mac[6];
	unsigned mtu;
	char *err;
	size_t errlen;
};

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* "aa:bb:cc:dd:ee:ff" → mac; 0 or -1 (with why in err). */
static int parse_mac(const char *s, uint8_t mac[6], char *err, size_t errlen)
{
	const char *p = s;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(p[0]), lo = hi < 0 ? -1 : hexval(p[1]);
		if (hi < 0 || lo < 0 || (i < 5 && p[2] != ':') || (i == 5 && p[2])) {
			snprintf(err, errlen, "mac=%.32s: six hex pairs separated by ':' expected", s);
			return -1;
		}
		mac[i] = (uint8_t)(hi << 4 | lo);
		p += 3;
	}
	static const uint8_t zero[6];
	if (mac[0] & 1) {
		snprintf(err, errlen, "mac=%s: a multicast address (first byte odd) cannot be a NIC's", s);
		return -1;
	}
	if (!memcmp(mac, zero, 6)) {
		snprintf(err, errlen, "mac=%s: the all-zero address is not valid", s);
		return -1;
	}
	return 0;
}

static int parse_fd(const char *k, const char *v, int *out, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	long fd = strtol(v, &end, 10);
	if (errno || !*v || *end || fd < 0 || fd > 65535) {
		snprintf(err, errlen, "%s=%.32s: a file descriptor number expected", k, v);
		return -1;
	}
	*out = (int)fd;
	return 0;
}

static int net_opt(const char *k, const char *v, void *opaque)
{
	static const char *const keys[] = {"tapfd", "sockfd", "tap", "mac", "mtu"};
	struct net_opts *o = opaque;
	for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(k, keys[i]))
			continue;
		if (o->seen & (1u << i)) {
			snprintf(o->err, o->errlen, "%s given twice", k);
			return -EINVAL;
		}
		o->seen |= 1u << i;
	}
	if (!strcmp(k, "tapfd"))
		return parse_fd(k, v, &o->tapfd, o->err, o->errlen) ? -EINVAL : 0;
	if (!strcmp(k, "sockfd"))
		return parse_fd(k, v, &o->sockfd, o->err, o->errlen) ? -EINVAL : 0;
	if (!strcmp(k, "tap")) {
		if (!*v || strlen(v) >= IFNAMSIZ) {
			snprintf(o->err, o->errlen, "tap=%.32s: an interface name of 1 to %d bytes expected",
				 v, IFNAMSIZ - 1);
			return -EINVAL;
		}
		strcpy(o->tap, v);
		o->have_tap = true;
		return 0;
	}
	if (!strcmp(k, "mac")) {
		if (parse_mac(v, o->mac, o->err, o->errlen) < 0)
			return -EINVAL;
		o->have_mac = true;
		return 0;
	}
	if (!strcmp(k, "mtu")) {
		char *end;
		errno = 0;
		unsigned long m = strtoul(v, &end, 10);
		if (errno || !*v || *end || *v == '-' || m < 68 || m > 65535) {
			snprintf(o->err, o->errlen, "mtu=%.32s: a number from 68 to 65535 expected", v);
			return -EINVAL;
		}
		o->mtu = (unsigned)m;
		return 0;
	}
	snprintf(o->err, o->errlen, "unknown option '%s' (tapfd=N, tap=NAME, sockfd=N, mac=MAC, mtu=N)", k);
	return -EINVAL;
}

/* The host end the options name, checked (a tap by name is opened here).
 * Returns its fd, or -1 with why in err. */
static int net_open_backend(const struct net_opts *o, struct net_dev *n, char *err, size_t errlen)
{
	int given = (o->tapfd >= 0) + (o->sockfd >= 0) + o->have_tap;
	if (given != 1) {
		snprintf(err, errlen, "%s: give exactly one of tapfd=N, tap=NAME, sockfd=N",
			 given ? "more than one host end" : "no host end");
		return -1;
	}
	char name[IFNAMSIZ] = "";
	if (o->have_tap) {
		int fd = net_tap_open(o->tap, err, errlen);
		if (fd < 0)
			return -1;
		n->kind = NET_TAP;
		snprintf(n->label, sizeof(n->label), "tap %s", o->tap);
		return fd;
	}
	int fd = o->tapfd >= 0 ? o->tapfd : o->sockfd;
	if (o->tapfd >= 0 ? net_tap_check(fd, name, err, errlen) < 0 : net_sock_check(fd, err, errlen) < 0)
		return -1;
	n->kind = o->tapfd >= 0 ? NET_TAP : NET_SOCK;
	if (n->kind == NET_TAP)
		snprintf(n->label, sizeof(n->label), "tap %s", name);
	else
		snprintf(n->label, sizeof(n->label), "socket fd %d", fd);
	/* Ours from now on: non-blocking for the loop, not inherited further. */
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		snprintf(err, errlen, "%s: fcntl: %s", n->label, strerror(errno));
		return -1;
	}
	return fd;
}

struct virtio_dev *virtio_net_create(const char *opts, struct evloop *loop, char *err, size_t errlen)
{
	struct net_opts o = {.tapfd = -1, .sockfd = -1, .err = err, .errlen = errlen};
	err[0] = '\0';
	if (virtio_parse_opts(opts, net_opt, &o)) {
		if (!err[0])
			snprintf(err, errlen, "malformed options '%.64s'", opts);
		return NULL;
	}
	if (!loop) {
		snprintf(err, errlen, "needs an event loop");
		return NULL;
	}
	if (!o.have_mac) {
		if (getrandom(o.mac, sizeof(o.mac), 0) != (ssize_t)sizeof(o.mac)) {
			snprintf(err, errlen, "random MAC address: getrandom: %s", strerror(errno));
			return NULL;
		}
		o.mac[0] = (uint8_t)((o.mac[0] & 0xfe) | 0x02); /* locally administered unicast */
	}
	struct net_dev *n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n->fd = net_open_backend(&o, n, err, errlen);
	if (n->fd < 0) {
		free(n);
		return NULL;
	}
	memcpy(n->cfg.mac, o.mac, sizeof(o.mac));
	n->cfg.status = NET_S_LINK_UP; /* le16 fields; x86 */
	n->cfg.max_virtqueue_pairs = 1;
	n->cfg.mtu = (uint16_t)o.mtu;
	n->hdr_len = NET_HDR_LEN_V1;
	n->ops = net_ops_template;
	if (o.mtu)
		n->ops.features |= BIT(NET_F_MTU);
	n->dev.ops = &n->ops;
	n->dev.priv = n;
	n->dev.config = (uint8_t *)&n->cfg;
	n->dev.config_len = sizeof(n->cfg);
	n->dev.loop = loop;
	log_debug("net: %s, mac %02x:%02x:%02x:%02x:%02x:%02x%s", n->label, o.mac[0], o.mac[1], o.mac[2],
		  o.mac[3], o.mac[4], o.mac[5], o.mtu ? ", mtu given" : "");
	return &n->dev;
}
