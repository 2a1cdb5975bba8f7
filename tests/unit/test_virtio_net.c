/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net device end to end without a VM: a fake guest driver in this test
 * owns the rings in a fake guest memory; the host end is a SOCK_SEQPACKET
 * socketpair standing in for the tap (one datagram = vnet header + frame), and
 * in one test a real tap in a private network namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <arpa/inet.h>
#include <net/ethernet.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/devices/evloop.h"
#include "vmm/devices/virtio.h"

#define GPA	0x100000ull
#define MEMSZ	(4u << 20)
#define QN	64
#define RXBUF	4096
#define TXSLOT	0x11000u /* room for a 64 KiB frame and its header */
#define RX_DATA 0x100000u
#define TX_DATA 0x200000u
#define IND_OFF 0x8000u
#define HDR	12

/* feature bits */
#define F_CSUM	     (1ull << 0)
#define F_GUEST_CSUM (1ull << 1)
#define F_MTU	     (1ull << 3)
#define F_MAC	     (1ull << 5)
#define F_GUEST_TSO4 (1ull << 7)
#define F_GUEST_TSO6 (1ull << 8)
#define F_GUEST_ECN  (1ull << 9)
#define F_HOST_TSO4  (1ull << 11)
#define F_HOST_TSO6  (1ull << 12)
#define F_HOST_ECN   (1ull << 13)
#define F_MRG	     (1ull << 15)
#define F_STATUS     (1ull << 16)
#define F_V1	     (1ull << 32)
#define F_ALL                                                                                                \
	(F_CSUM | F_GUEST_CSUM | F_GUEST_TSO4 | F_GUEST_TSO6 | F_GUEST_ECN | F_HOST_TSO4 | F_HOST_TSO6 |     \
	 F_HOST_ECN | F_MRG | F_MAC | F_STATUS | F_V1)

struct vhdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
} __attribute__((packed));

static uint8_t mem[MEMSZ] __attribute__((aligned(4096)));
static struct gmem gm = {.n = 1, .r = {{.gpa = GPA, .size = MEMSZ, .hva = mem}}};

struct gq { /* guest side of one queue */
	uint32_t desc, avail, used;
	uint16_t avail_idx, last_used;
};
static struct gq gq[2];
static struct virtio_dev *dev;
static struct evloop *loop;
static int tap; /* our end of the fake tap */
static int devfd;
static int irqs[2], resets;

static void t_notify(struct virtio_dev *d, unsigned q)
{
	irqs[q]++;
}
static void t_reset(struct virtio_dev *d)
{
	resets++;
}
static const struct virtio_transport_ops tops = {.notify_queue = t_notify, .needs_reset = t_reset};

static void set_desc_at(uint32_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
			uint16_t next)
{
	uint8_t *p = mem + table + 16 * i;
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}
static void avail_add(struct gq *q, uint16_t head)
{
	memcpy(mem + q->avail + 4 + 2 * (q->avail_idx % QN), &head, 2);
	q->avail_idx++;
	memcpy(mem + q->avail + 2, &q->avail_idx, 2);
}
static int used_take(struct gq *q, uint32_t *len)
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
static uint16_t used_idx(struct gq *q)
{
	uint16_t idx;
	memcpy(&idx, mem + q->used + 2, 2);
	return idx;
}

static void pump(int rounds)
{
	for (int i = 0; i < rounds; i++)
		evloop_run_once(loop, 10);
}

/* Post RX buffer i (RXBUF bytes, or len) and kick. */
static void rx_post_len(unsigned i, uint32_t len)
{
	set_desc_at(gq[0].desc, i, GPA + RX_DATA + RXBUF * i, len, 2 /*WRITE*/, 0);
	avail_add(&gq[0], (uint16_t)i);
}
static void rx_post(unsigned first, unsigned n)
{
	for (unsigned i = first; i < first + n; i++)
		rx_post_len(i, RXBUF);
	dev->ops->queue_notify(dev, 0);
}
static uint8_t *rx_buf(unsigned i)
{
	return mem + RX_DATA + RXBUF * i;
}

/* Queue a TX chain in slot s: the header in its own descriptor, the frame split
 * in two (or all in one descriptor when split is false). */
static void tx_queue(unsigned s, const struct vhdr *h, const uint8_t *frame, uint32_t len, bool split)
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

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + seed * 7 + (i >> 8));
}

/* A device on a fresh fake tap with `features` negotiated and active. */
static void make_dev(const char *opts, uint64_t features)
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
	for (int i = 0; i < 2; i++) {
		gq[i] = (struct gq){.desc = 0x4000u * (unsigned)i,
				    .avail = 0x4000u * (unsigned)i + 0x1000,
				    .used = 0x4000u * (unsigned)i + 0x2000};
		struct virtq *vq = &dev->vq[i];
		vq->num = QN;
		vq->ready = true;
		vq->desc = GPA + gq[i].desc;
		vq->avail = GPA + gq[i].avail;
		vq->used = GPA + gq[i].used;
		vq->mem = &gm;
	}
	dev->features_acked = features;
	assert_int_equal(dev->ops->activate(dev), 0);
	assert_true(dev->active);
}

static int setup(void **state)
{
	memset(mem, 0, sizeof(mem));
	memset(irqs, 0, sizeof(irqs));
	resets = 0;
	loop = evloop_new();
	assert_non_null(loop);
	make_dev("mac=02:11:22:33:44:55,mtu=1500", F_ALL);
	return 0;
}

static int teardown(void **state)
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

static ssize_t tap_recv(uint8_t *buf, size_t cap)
{
	for (int i = 0; i < 100; i++) {
		ssize_t n = recv(tap, buf, cap, MSG_DONTWAIT);
		if (n >= 0 || errno != EAGAIN)
			return n;
		pump(1);
	}
	return -1;
}

/* ------------------------------------------------------------------ tests */

static void test_config_and_features(void **state)
{
	const uint8_t mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
	assert_int_equal(dev->config_len, 12);
	assert_memory_equal(dev->config, mac, 6);
	uint16_t status, pairs, mtu;
	memcpy(&status, dev->config + 6, 2);
	memcpy(&pairs, dev->config + 8, 2);
	memcpy(&mtu, dev->config + 10, 2);
	assert_int_equal(status, 1); /* link up */
	assert_int_equal(pairs, 1);
	assert_int_equal(mtu, 1500);
	uint64_t want = (F_ALL & ~F_V1) | F_MTU;
	assert_int_equal(dev->ops->features, want);
	assert_int_equal(dev->ops->device_id, VIRTIO_ID_NET);
	assert_int_equal(dev->ops->num_queues, 2);

	/* no mtu=: no MTU feature; no mac=: a random locally administered unicast one */
	struct virtio_dev *keep = dev;
	int keep_tap = tap, keep_fd = devfd;
	make_dev("", F_ALL);
	assert_int_equal(dev->ops->features & F_MTU, 0);
	uint8_t m1[6];
	memcpy(m1, dev->config, 6);
	assert_int_equal(m1[0] & 3, 2);
	virtio_dev_destroy(dev);
	close(tap);
	make_dev("", F_ALL);
	assert_memory_not_equal(m1, dev->config, 6);
	assert_int_equal(dev->config[0] & 3, 2);
	virtio_dev_destroy(dev);
	close(tap);
	dev = keep;
	tap = keep_tap;
	devfd = keep_fd;
}

static void test_tx_frame_arrives_with_its_header(void **state)
{
	/* offload fields as a guest sends a TSO frame: all must reach the tap unchanged */
	struct vhdr h = {.flags = 1,
			 .gso_type = 1,
			 .hdr_len = 54,
			 .gso_size = 1448,
			 .csum_start = 34,
			 .csum_offset = 16,
			 .num_buffers = 0};
	uint8_t frame[3000], got[4000];
	fill(frame, sizeof(frame), 1);
	tx_queue(0, &h, frame, sizeof(frame), true);
	h.gso_type = 0x81; /* TCPV4 | ECN */
	tx_queue(1, &h, frame, 60, false);
	dev->ops->queue_notify(dev, 1);
	ssize_t n = tap_recv(got, sizeof(got));
	assert_int_equal(n, HDR + sizeof(frame));
	h.gso_type = 1;
	assert_memory_equal(got, &h, HDR);
	assert_memory_equal(got + HDR, frame, sizeof(frame));
	n = tap_recv(got, sizeof(got));
	assert_int_equal(n, HDR + 60);
	h.gso_type = 0x81;
	assert_memory_equal(got, &h, HDR);
	assert_memory_equal(got + HDR, frame, 60);
	uint32_t len;
	assert_int_equal(used_take(&gq[1], &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(used_take(&gq[1], &len), 3);
	assert_true(irqs[1] >= 1);
	assert_false(dev->broken);
}

static void test_rx_frame_lands_with_num_buffers(void **state)
{
	rx_post(0, 4);
	uint8_t pkt[HDR + 1000];
	struct vhdr h = {.flags = 1,
			 .gso_type = 0,
			 .hdr_len = 0,
			 .gso_size = 0,
			 .csum_start = 34,
			 .csum_offset = 6,
			 .num_buffers = 0x7777};
	memcpy(pkt, &h, HDR);
	fill(pkt + HDR, 1000, 2);
	assert_int_equal(send(tap, pkt, sizeof(pkt), 0), (ssize_t)sizeof(pkt));
	uint32_t len = 0;
	int head = -1;
	for (int i = 0; i < 50 && (head = used_take(&gq[0], &len)) < 0; i++)
		pump(1);
	assert_int_equal(head, 0);
	assert_int_equal(len, sizeof(pkt));
	h.num_buffers = 1;
	assert_memory_equal(rx_buf(0), &h, HDR);
	assert_memory_equal(rx_buf(0) + HDR, pkt + HDR, 1000);
	assert_true(irqs[0] >= 1);
	assert_int_equal(used_take(&gq[0], &len), -1);
}

static void test_64k_frame_across_mergeable_buffers(void **state)
{
	rx_post(0, 20);
	static uint8_t pkt[HDR + 65536];
	struct vhdr h = {.flags = 1,
			 .gso_type = 4 /*TCPV6*/,
			 .hdr_len = 74,
			 .gso_size = 1428,
			 .csum_start = 54,
			 .csum_offset = 16};
	memcpy(pkt, &h, HDR);
	fill(pkt + HDR, 65536, 3);
	assert_int_equal(send(tap, pkt, sizeof(pkt), 0), (ssize_t)sizeof(pkt));
	unsigned want = (sizeof(pkt) + RXBUF - 1) / RXBUF; /* 17 */
	for (int i = 0; i < 100 && used_idx(&gq[0]) == 0; i++)
		pump(1);
	/* all buffers of the frame were published at once */
	assert_int_equal(used_idx(&gq[0]), want);
	static uint8_t got[HDR + 65536];
	size_t off = 0;
	for (unsigned i = 0; i < want; i++) {
		uint32_t len;
		assert_int_equal(used_take(&gq[0], &len), i);
		assert_int_equal(len, i + 1 < want ? RXBUF : sizeof(pkt) - RXBUF * (want - 1));
		memcpy(got + off, rx_buf(i), len);
		off += len;
	}
	assert_int_equal(off, sizeof(pkt));
	h.num_buffers = (uint16_t)want;
	assert_memory_equal(got, &h, HDR);
	assert_memory_equal(got + HDR, pkt + HDR, 65536);
}

/* Checksum flags and GSO types the guest did not accept never reach it. */
static void test_offloads_the_guest_refused(void **state)
{
	virtio_dev_destroy(dev);
	close(tap);
	make_dev("", F_V1 | F_MRG | F_CSUM);
	rx_post(0, 4);
	uint8_t pkt[HDR + 100];
	fill(pkt + HDR, 100, 4);
	struct vhdr gso = {.flags = 1, .gso_type = 1, .gso_size = 1448, .hdr_len = 54};
	memcpy(pkt, &gso, HDR);
	assert_int_equal(send(tap, pkt, sizeof(pkt), 0), (ssize_t)sizeof(pkt)); /* dropped */
	struct vhdr csum = {.flags = 2 /*DATA_VALID*/};
	memcpy(pkt, &csum, HDR);
	assert_int_equal(send(tap, pkt, sizeof(pkt), 0), (ssize_t)sizeof(pkt)); /* flags cleared */
	uint32_t len;
	int head = -1;
	for (int i = 0; i < 50 && (head = used_take(&gq[0], &len)) < 0; i++)
		pump(1);
	assert_int_equal(head, 0);
	assert_int_equal(len, sizeof(pkt));
	struct vhdr want = {.num_buffers = 1};
	assert_memory_equal(rx_buf(0), &want, HDR);
	pump(3);
	assert_int_equal(used_take(&gq[0], &len), -1);
	assert_false(dev->broken);
}

/* Without VERSION_1 and mergeable buffers: the 10-byte legacy header, and a
 * frame needs one buffer (one that is too small keeps its place). */
static void test_legacy_header_and_one_buffer_per_frame(void **state)
{
	virtio_dev_destroy(dev);
	close(tap);
	make_dev("", F_GUEST_CSUM);
	rx_post_len(0, 200); /* too small for the first frame */
	dev->ops->queue_notify(dev, 0);
	uint8_t big[10 + 500], small[10 + 100];
	memset(big, 0, 10);
	fill(big + 10, 500, 5);
	memset(small, 0, 10);
	small[0] = 1; /* NEEDS_CSUM, accepted with GUEST_CSUM */
	fill(small + 10, 100, 6);
	assert_int_equal(send(tap, big, sizeof(big), 0), (ssize_t)sizeof(big));
	assert_int_equal(send(tap, small, sizeof(small), 0), (ssize_t)sizeof(small));
	uint32_t len;
	int head = -1;
	for (int i = 0; i < 50 && (head = used_take(&gq[0], &len)) < 0; i++)
		pump(1);
	assert_int_equal(head, 0);
	assert_int_equal(len, sizeof(small));
	assert_memory_equal(rx_buf(0), small, sizeof(small));
	/* TX with the 10-byte header */
	struct vhdr h = {.flags = 0};
	uint8_t frame[64], got[128];
	fill(frame, sizeof(frame), 7);
	uint32_t a = TX_DATA;
	memcpy(mem + a, &h, 10);
	memcpy(mem + a + 10, frame, sizeof(frame));
	set_desc_at(gq[1].desc, 0, GPA + a, 10 + sizeof(frame), 0, 0);
	avail_add(&gq[1], 0);
	dev->ops->queue_notify(dev, 1);
	assert_int_equal(tap_recv(got, sizeof(got)), 10 + sizeof(frame));
	assert_memory_equal(got + 10, frame, sizeof(frame));
}

/* RX ring empty: the device holds one frame and stops reading the tap (not
 * even polling it); buffers + a kick resume, in order. */
static void test_rx_back_pressure(void **state)
{
	uint8_t pkt[HDR + 200];
	memset(pkt, 0, HDR);
	for (unsigned i = 0; i < 3; i++) {
		fill(pkt + HDR, 200, 10 + i);
		assert_int_equal(send(tap, pkt, sizeof(pkt), 0), (ssize_t)sizeof(pkt));
	}
	pump(5);
	assert_int_equal(used_idx(&gq[0]), 0);
	/* one frame taken, two still queued in the "tap"; the fd is not watched */
	int inq = -1;
	assert_int_equal(ioctl(devfd, SIOCINQ, &inq), 0);
	assert_int_equal(inq, 2 * (int)sizeof(pkt));
	assert_int_equal(evloop_run_once(loop, 0), 0);
	rx_post(0, 2);
	pump(5);
	/* two buffers: two frames; the third waits again */
	assert_int_equal(used_idx(&gq[0]), 2);
	assert_int_equal(ioctl(devfd, SIOCINQ, &inq), 0);
	assert_int_equal(inq, 0);
	assert_int_equal(evloop_run_once(loop, 0), 0);
	rx_post(2, 1);
	pump(3);
	assert_int_equal(used_idx(&gq[0]), 3);
	for (unsigned i = 0; i < 3; i++) {
		uint32_t len;
		assert_int_equal(used_take(&gq[0], &len), i);
		assert_int_equal(len, sizeof(pkt));
		fill(pkt + HDR, 200, 10 + i);
		assert_memory_equal(rx_buf(i) + HDR, pkt + HDR, 200);
	}
}

/* A full tap: the chain it refused stays in the ring (not dropped, not
 * buffered here) until the tap is writable again. */
static void test_tx_back_pressure(void **state)
{
	int sz = 4096; /* the kernel doubles it */
	assert_int_equal(setsockopt(devfd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	struct vhdr h = {0};
	uint8_t frame[1500], got[2000];
	for (unsigned s = 0; s < 16; s++) {
		fill(frame, sizeof(frame), 20 + s);
		tx_queue(s, &h, frame, sizeof(frame), s % 2);
	}
	dev->ops->queue_notify(dev, 1);
	pump(2);
	uint16_t done = used_idx(&gq[1]);
	assert_true(done > 0 && done < 16);
	assert_int_equal(dev->vq[1].last_avail, done); /* the rest was not taken */
	pump(3);				       /* nothing moves while nobody reads */
	assert_int_equal(used_idx(&gq[1]), done);
	for (unsigned s = 0; s < 16; s++) {
		ssize_t n = tap_recv(got, sizeof(got));
		assert_int_equal(n, HDR + sizeof(frame));
		fill(frame, sizeof(frame), 20 + s);
		assert_memory_equal(got + HDR, frame, sizeof(frame));
	}
	pump(2);
	assert_int_equal(used_idx(&gq[1]), 16);
	assert_int_equal(recv(tap, got, sizeof(got), MSG_DONTWAIT), -1);
	assert_false(dev->broken);
}

static void expect_broken(void)
{
	assert_true(dev->broken);
	assert_int_equal(resets, 1);
	/* a broken device does not poll the tap, even with data waiting */
	uint8_t pkt[HDR + 60] = {0};
	assert_int_equal(send(tap, pkt, sizeof(pkt), 0), (ssize_t)sizeof(pkt));
	assert_int_equal(evloop_run_once(loop, 0), 0);
}

/* After a reset the device works again. */
static void expect_recovers(void)
{
	virtio_dev_reset(dev);
	memset(mem, 0, 0x10000);
	for (int i = 0; i < 2; i++) {
		gq[i].avail_idx = gq[i].last_used = 0;
		dev->vq[i].ready = true;
	}
	dev->features_acked = F_ALL;
	assert_int_equal(dev->ops->activate(dev), 0);
	uint8_t pkt[HDR + 80] = {0}, drain[HDR + 80];
	while (recv(tap, drain, sizeof(drain), MSG_DONTWAIT) > 0)
		;
	while (recv(devfd, drain, sizeof(drain), MSG_DONTWAIT) > 0)
		;
	rx_post(0, 1);
	fill(pkt + HDR, 80, 99);
	assert_int_equal(send(tap, pkt, sizeof(pkt), 0), (ssize_t)sizeof(pkt));
	uint32_t len;
	int head = -1;
	for (int i = 0; i < 50 && (head = used_take(&gq[0], &len)) < 0; i++)
		pump(1);
	assert_int_equal(head, 0);
	assert_memory_equal(rx_buf(0) + HDR, pkt + HDR, 80);
	assert_false(dev->broken);
}

static void test_tx_chain_shorter_than_header(void **state)
{
	set_desc_at(gq[1].desc, 0, GPA + TX_DATA, 8, 0, 0);
	avail_add(&gq[1], 0);
	dev->ops->queue_notify(dev, 1);
	expect_broken();
	expect_recovers();
}

static void test_rx_chain_with_readable_descriptor(void **state)
{
	set_desc_at(gq[0].desc, 0, GPA + RX_DATA, 100, 1 /*NEXT, readable*/, 1);
	set_desc_at(gq[0].desc, 1, GPA + RX_DATA + 100, 1000, 2, 0);
	avail_add(&gq[0], 0);
	dev->ops->queue_notify(dev, 0);
	uint8_t pkt[HDR + 60] = {0};
	assert_int_equal(send(tap, pkt, sizeof(pkt), 0), (ssize_t)sizeof(pkt));
	pump(3);
	expect_broken();
	expect_recovers();
}

static void test_rx_buffer_smaller_than_header(void **state)
{
	rx_post_len(0, 8);
	dev->ops->queue_notify(dev, 0);
	uint8_t pkt[HDR + 60] = {0};
	assert_int_equal(send(tap, pkt, sizeof(pkt), 0), (ssize_t)sizeof(pkt));
	pump(3);
	expect_broken();
	expect_recovers();
}

static void test_descriptor_outside_memory(void **state)
{
	set_desc_at(gq[1].desc, 0, GPA + MEMSZ - 4, 64, 0, 0);
	avail_add(&gq[1], 0);
	dev->ops->queue_notify(dev, 1);
	expect_broken();
	expect_recovers();
}

static void test_too_many_segments(void **state)
{
	/* an indirect table of VIRTQ_MAX_SEGS + 1 writable descriptors */
	for (unsigned i = 0; i <= VIRTQ_MAX_SEGS; i++)
		set_desc_at(IND_OFF, i, GPA + RX_DATA + 16 * i, 16,
			    (uint16_t)(2 | (i < VIRTQ_MAX_SEGS ? 1 : 0)), (uint16_t)(i + 1));
	set_desc_at(gq[0].desc, 0, GPA + IND_OFF, 16 * (VIRTQ_MAX_SEGS + 1), 4 /*INDIRECT*/, 0);
	avail_add(&gq[0], 0);
	dev->ops->queue_notify(dev, 0);
	uint8_t pkt[HDR + 60] = {0};
	assert_int_equal(send(tap, pkt, sizeof(pkt), 0), (ssize_t)sizeof(pkt));
	pump(3);
	expect_broken();
	expect_recovers();
}

/* A TX frame larger than any the tap takes is completed and dropped. */
static void test_oversized_tx_frame_dropped(void **state)
{
	set_desc_at(gq[1].desc, 0, GPA + TX_DATA, HDR + 65536 + 19, 0, 0);
	avail_add(&gq[1], 0);
	uint8_t frame[100];
	struct vhdr h = {0};
	fill(frame, sizeof(frame), 30);
	tx_queue(1, &h, frame, sizeof(frame), false);
	dev->ops->queue_notify(dev, 1);
	uint8_t got[200];
	assert_int_equal(tap_recv(got, sizeof(got)), HDR + sizeof(frame));
	assert_memory_equal(got + HDR, frame, sizeof(frame));
	assert_int_equal(used_idx(&gq[1]), 2);
	assert_false(dev->broken);
}

static void test_reset_drops_the_waiting_frame(void **state)
{
	uint8_t pkt[HDR + 60] = {0};
	pkt[HDR] = 1;
	assert_int_equal(send(tap, pkt, sizeof(pkt), 0), (ssize_t)sizeof(pkt));
	pump(3); /* waits for a buffer */
	virtio_dev_reset(dev);
	assert_false(dev->active);
	assert_int_equal(evloop_run_once(loop, 0), 0);
	pkt[HDR] = 2;
	assert_int_equal(send(tap, pkt, sizeof(pkt), 0), (ssize_t)sizeof(pkt));
	pump(2); /* inactive: not read */
	int inq = -1;
	assert_int_equal(ioctl(devfd, SIOCINQ, &inq), 0);
	assert_int_equal(inq, (int)sizeof(pkt));
	memset(mem, 0, 0x10000);
	for (int i = 0; i < 2; i++) {
		gq[i].avail_idx = gq[i].last_used = 0;
		dev->vq[i].ready = true;
	}
	dev->features_acked = F_ALL;
	assert_int_equal(dev->ops->activate(dev), 0);
	rx_post(0, 2);
	pump(3);
	uint32_t len;
	assert_int_equal(used_take(&gq[0], &len), 0);
	assert_int_equal(rx_buf(0)[HDR], 2);
	assert_int_equal(used_take(&gq[0], &len), -1);
}

static void expect_create_error(const char *spec, const char *msg)
{
	char err[256] = "";
	struct virtio_dev *d = virtio_dev_create(spec, loop, err, sizeof(err));
	if (d)
		fail_msg("%s: created", spec);
	if (!strstr(err, msg))
		fail_msg("%s: error '%s' lacks '%s'", spec, err, msg);
}

static void test_create_errors(void **state)
{
	char spec[128], msg[128];
	expect_create_error("net", "no host end");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,tap=x", devfd);
	expect_create_error(spec, "more than one host end");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mac=", devfd);
	expect_create_error(spec, "six hex pairs");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mac=02:11:22:33:44", devfd);
	expect_create_error(spec, "six hex pairs");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mac=02:11:22:33:44:5g", devfd);
	expect_create_error(spec, "six hex pairs");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mac=02:11:22:33:44:55:66", devfd);
	expect_create_error(spec, "six hex pairs");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mac=01:00:5e:00:00:01", devfd);
	expect_create_error(spec, "multicast");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mac=00:00:00:00:00:00", devfd);
	expect_create_error(spec, "all-zero");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mtu=67", devfd);
	expect_create_error(spec, "mtu=67: a number from 68 to 65535");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mtu=65536", devfd);
	expect_create_error(spec, "mtu=65536");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mtu=-1", devfd);
	expect_create_error(spec, "mtu=-1");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,speed=10", devfd);
	expect_create_error(spec, "unknown option 'speed'");
	expect_create_error("net,tapfd=x", "tapfd=x: a file descriptor number");
	expect_create_error("net,tap=", "tap=: an interface name");
	expect_create_error("net,tap=a-name-far-too-long", "an interface name of 1 to 15 bytes");
	/* tapfd that is not a tap: the fd is left alone */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	snprintf(spec, sizeof(spec), "net,tapfd=%d", null);
	snprintf(msg, sizeof(msg), "tapfd=%d: not a tap device", null);
	expect_create_error(spec, msg);
	assert_int_equal(fcntl(null, F_GETFL) & O_NONBLOCK, 0);
	close(null);
	snprintf(spec, sizeof(spec), "net,tapfd=%d", null);
	snprintf(msg, sizeof(msg), "tapfd=%d: not an open file descriptor", null);
	expect_create_error(spec, msg);
	/* /dev/net/tun opened but never attached */
	int tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tun >= 0) {
		snprintf(spec, sizeof(spec), "net,tapfd=%d", tun);
		expect_create_error(spec, "attached to no device");
		close(tun);
	}
	/* sockets of the wrong kind */
	int st[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st), 0);
	snprintf(spec, sizeof(spec), "net,sockfd=%d", st[0]);
	expect_create_error(spec, "SOCK_SEQPACKET or SOCK_DGRAM socket expected");
	close(st[0]);
	close(st[1]);
	int lone = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(spec, sizeof(spec), "net,sockfd=%d", lone);
	expect_create_error(spec, "not connected");
	close(lone);
	snprintf(spec, sizeof(spec), "net,sockfd=%d", devfd);
	assert_null(virtio_dev_create(spec, NULL, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "needs an event loop"));
}

/* ------------------------------------------------------- a real tap */

static int child_tap_test(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		return 77;
	loop = evloop_new(); /* the parent's epoll instance is shared: not that one */
	if (!loop)
		return 13;
	char err[256] = "";
	/* tap=NAME creates the tap; the device checks what it opened */
	struct virtio_dev *d = virtio_dev_create("net,tap=rt0,mac=02:00:00:00:00:07", loop, err, sizeof(err));
	if (!d) {
		fprintf(stderr, "tap create: %s\n", err);
		return 1;
	}
	int ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	struct ifreq ifr = {0};
	strcpy(ifr.ifr_name, "rt0");
	if (ps < 0 || ioctl(ps, SIOCGIFFLAGS, &ifr) < 0)
		return 2;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(ps, SIOCSIFFLAGS, &ifr) < 0 || ioctl(ps, SIOCGIFINDEX, &ifr) < 0)
		return 3;
	struct sockaddr_ll ll = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifr.ifr_ifindex};
	if (bind(ps, (struct sockaddr *)&ll, sizeof(ll)) < 0)
		return 4;
	dev = d;
	memset(mem, 0, 0x10000);
	for (int i = 0; i < 2; i++) {
		gq[i].avail_idx = gq[i].last_used = 0;
		struct virtq *vq = &d->vq[i];
		vq->num = QN;
		vq->ready = true;
		vq->desc = GPA + gq[i].desc;
		vq->avail = GPA + gq[i].avail;
		vq->used = GPA + gq[i].used;
		vq->mem = &gm;
	}
	d->mem = &gm;
	d->transport = &tops;
	d->features_acked = F_ALL;
	if (d->ops->activate(d) != 0)
		return 5;
	/* activation set the 12-byte header: find the tap's fd through its TUNGETIFF */
	int fd = -1;
	for (int f = 3; f < 1024 && fd < 0; f++) {
		struct ifreq q = {0};
		if (ioctl(f, TUNGETIFF, &q) == 0 && !strcmp(q.ifr_name, "rt0"))
			fd = f;
	}
	int hs = 0;
	if (fd < 0 || ioctl(fd, TUNGETVNETHDRSZ, &hs) < 0 || hs != HDR)
		return 6;
	/* guest -> tap: the frame comes out of the interface */
	uint8_t frame[60];
	memset(frame, 0xff, 6);
	memcpy(frame + 6, "\x02\x00\x00\x00\x00\x07", 6);
	frame[12] = 0x88;
	frame[13] = 0xb5; /* local experimental ethertype */
	fill(frame + 14, sizeof(frame) - 14, 40);
	struct vhdr h = {0};
	tx_queue(0, &h, frame, sizeof(frame), true);
	d->ops->queue_notify(d, 1);
	uint8_t got[2000];
	ssize_t n = -1;
	for (int i = 0; i < 100; i++) {
		n = recv(ps, got, sizeof(got), MSG_DONTWAIT);
		if (n == (ssize_t)sizeof(frame) && !memcmp(got, frame, sizeof(frame)))
			break;
		pump(1);
	}
	if (n != (ssize_t)sizeof(frame) || memcmp(got, frame, sizeof(frame)))
		return 7;
	/* interface -> guest: with the header the tap writes in front */
	rx_post(0, 2);
	frame[13] = 0xb6;
	if (send(ps, frame, sizeof(frame), 0) != (ssize_t)sizeof(frame))
		return 8;
	uint32_t len = 0;
	int head = -1;
	for (int i = 0; i < 100; i++) {
		head = used_take(&gq[0], &len);
		if (head >= 0 && len == HDR + sizeof(frame) &&
		    !memcmp(rx_buf((unsigned)head) + HDR, frame, sizeof(frame)))
			break;
		if (head >= 0) { /* something else the kernel sent (IPv6 router solicitation...) */
			rx_post((unsigned)head, 1);
			head = -1;
		}
		pump(1);
	}
	if (head < 0)
		return 9;
	struct vhdr got_h;
	memcpy(&got_h, rx_buf((unsigned)head), HDR);
	if (got_h.num_buffers != 1 || got_h.gso_type != 0)
		return 10;
	virtio_dev_destroy(d);
	/* a tun and a tap without IFF_VNET_HDR are refused by tapfd= (a tap without
	 * IFF_NO_PI cannot be made here: this kernel's TUNGETIFF reports the flag) */
	static const short bad[] = {IFF_TUN | IFF_NO_PI | IFF_VNET_HDR, IFF_TAP | IFF_NO_PI};
	static const char *why[] = {"a tun (layer 3) device", "without IFF_VNET_HDR"};
	for (int i = 0; i < 2; i++) {
		int t = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		struct ifreq r = {0};
		snprintf(r.ifr_name, sizeof(r.ifr_name), "bad%d", i);
		r.ifr_flags = bad[i];
		if (t < 0 || ioctl(t, TUNSETIFF, &r) < 0)
			return 11;
		char spec[64];
		snprintf(spec, sizeof(spec), "net,tapfd=%d", t);
		if (virtio_dev_create(spec, loop, err, sizeof(err)) || !strstr(err, why[i])) {
			fprintf(stderr, "%s: '%s'\n", spec, err);
			return 12;
		}
		close(t);
	}
	return 0;
}

static void test_real_tap_in_a_private_netns(void **state)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fflush(stdout);
		_exit(child_tap_test());
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77) {
		print_message("no private network namespace here (unshare: needs CAP_SYS_ADMIN): skipped\n");
		skip();
	}
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
	    T(test_config_and_features),
	    T(test_tx_frame_arrives_with_its_header),
	    T(test_rx_frame_lands_with_num_buffers),
	    T(test_64k_frame_across_mergeable_buffers),
	    T(test_offloads_the_guest_refused),
	    T(test_legacy_header_and_one_buffer_per_frame),
	    T(test_rx_back_pressure),
	    T(test_tx_back_pressure),
	    T(test_tx_chain_shorter_than_header),
	    T(test_rx_chain_with_readable_descriptor),
	    T(test_rx_buffer_smaller_than_header),
	    T(test_descriptor_outside_memory),
	    T(test_too_many_segments),
	    T(test_oversized_tx_frame_dropped),
	    T(test_reset_drops_the_waiting_frame),
	    T(test_create_errors),
	    T(test_real_tap_in_a_private_netns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
