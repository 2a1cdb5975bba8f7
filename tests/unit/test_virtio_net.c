/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net device end to end without a VM: the fake guest driver of
 * net_guest.h owns the rings; the host end is a SOCK_SEQPACKET socketpair
 * standing in for the tap. Frames both ways, mergeable buffers, offload
 * headers, back-pressure both ways, hostile chains, reset.
 */
#include <errno.h>
#include <linux/sockios.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/net_guest.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, net_setup, net_teardown)
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
