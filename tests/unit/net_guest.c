/* SPDX-License-Identifier: Apache-2.0 */
/* The fake guest driver of the virtio-net tests (net_guest.h). */
#include "tests/unit/net_guest.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

uint8_t mem[MEMSZ] __attribute__((aligned(4096)));
struct gmem gm = {.n = 1, .r = {{.gpa = GPA, .size = MEMSZ, .hva = mem}}};

struct gq gq[2];
struct virtio_dev *dev;
struct evloop *loop;
int tap;
int devfd;
int irqs[2], resets;

static void t_notify(struct virtio_dev *d, unsigned q)
{
	irqs[q]++;
}
static void t_reset(struct virtio_dev *d)
{
	resets++;
}
const struct virtio_transport_ops tops = {.notify_queue = t_notify, .needs_reset = t_reset};

void set_desc_at(uint32_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *p = mem + table + 16 * i;
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}
void avail_add(struct gq *q, uint16_t head)
{
	memcpy(mem + q->avail + 4 + 2 * (q->avail_idx % QN), &head, 2);
	q->avail_idx++;
	memcpy(mem + q->avail + 2, &q->avail_idx, 2);
}
int used_take(struct gq *q, uint32_t *len)
{
	uint16_t idx;
	memcpy(&idx, mem + q->used + 2, 2);
	if (idx == q->last_used)
		return -1;
	uint32_t id;
	memcpy(&id, mem + q->used + 4 + 8 * (q->last_used % QN), 4);
	memcpy(len, mem + q->used + 8 + 8 * (q->last_used % QN), 4);
	q->last_used++;
	return (int)id;
}
uint16_t used_idx(struct gq *q)
{
	uint16_t idx;
	memcpy(&idx, mem + q->used + 2, 2);
	return idx;
}

void pump(int rounds)
{
	for (int i = 0; i < rounds; i++)
		evloop_run_once(loop, 10);
}

/* Post RX buffer i (RXBUF bytes, or len) and kick. */
void rx_post_len(unsigned i, uint32_t len)
{
	set_desc_at(gq[0].desc, i, GPA + RX_DATA + RXBUF * i, len, 2 /*WRITE*/, 0);
	avail_add(&gq[0], (uint16_t)i);
}
void rx_post(unsigned first, unsigned n)
{
	for (unsigned i = first; i < first + n; i++)
		rx_post_len(i, RXBUF);
	dev->ops->queue_notify(dev, 0);
}
uint8_t *rx_buf(unsigned i)
{
	return mem + RX_DATA + RXBUF * i;
}

/* Queue a TX chain in slot s: the header in its own descriptor, the frame split
 * in two (or all in one descriptor when split is false). */
void tx_queue(unsigned s, const struct vhdr *h, const uint8_t *frame, uint32_t len, bool split)
{
	uint32_t a = TX_DATA + TXSLOT * s;
	memcpy(mem + a, h, HDR);
	memcpy(mem + a + HDR, frame, len);
	unsigned d = 3 * s;
	if (!split) {
		set_desc_at(gq[1].desc, d, GPA + a, HDR + len, 0, 0);
	} else {
		uint32_t half = len / 2;
		set_desc_at(gq[1].desc, d, GPA + a, HDR, 1, (uint16_t)(d + 1));
		set_desc_at(gq[1].desc, d + 1, GPA + a + HDR, half, 1, (uint16_t)(d + 2));
		set_desc_at(gq[1].desc, d + 2, GPA + a + HDR + half, len - half, 0, 0);
	}
	avail_add(&gq[1], (uint16_t)d);
}

void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + seed * 7 + (i >> 8));
}

void net_rings(struct virtio_dev *d)
{
	for (int i = 0; i < 2; i++) {
		struct virtq *vq = &d->vq[i];
		vq->num = QN;
		vq->ready = true;
		vq->desc = GPA + gq[i].desc;
		vq->avail = GPA + gq[i].avail;
		vq->used = GPA + gq[i].used;
		vq->mem = &gm;
	}
}

void make_dev(const char *opts, uint64_t features)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	tap = sv[0];
	devfd = sv[1];
	char spec[256], err[256] = "";
	snprintf(spec, sizeof(spec), "net,sockfd=%d%s%s", devfd, *opts ? "," : "", opts);
	dev = virtio_dev_create(spec, loop, err, sizeof(err));
	if (!dev)
		fail_msg("create %s: %s", spec, err);
	dev->mem = &gm;
	dev->transport = &tops;
	for (int i = 0; i < 2; i++)
		gq[i] = (struct gq){.desc = 0x4000u * (unsigned)i,
				    .avail = 0x4000u * (unsigned)i + 0x1000,
				    .used = 0x4000u * (unsigned)i + 0x2000};
	net_rings(dev);
	dev->features_acked = features;
	assert_int_equal(dev->ops->activate(dev), 0);
	assert_true(dev->active);
}

int net_setup(void **state)
{
	memset(mem, 0, sizeof(mem));
	memset(irqs, 0, sizeof(irqs));
	resets = 0;
	loop = evloop_new();
	assert_non_null(loop);
	make_dev("mac=02:11:22:33:44:55,mtu=1500", F_ALL);
	return 0;
}

int net_teardown(void **state)
{
	virtio_dev_destroy(dev);
	dev = NULL;
	/* the device closed its end: ours sees EOF */
	char b;
	assert_int_equal(recv(tap, &b, 1, MSG_DONTWAIT), 0);
	close(tap);
	evloop_free(loop);
	return 0;
}

ssize_t tap_recv(uint8_t *buf, size_t cap)
{
	for (int i = 0; i < 100; i++) {
		ssize_t n = recv(tap, buf, cap, MSG_DONTWAIT);
		if (n >= 0 || errno != EAGAIN)
			return n;
		pump(1);
	}
	return -1;
}
