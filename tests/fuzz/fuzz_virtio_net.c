/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the whole virtio-net device from both of its untrusted sides: a fake
 * guest memory holding the receive and transmit rings, their chains and
 * frames, and frames arriving from the "tap" (a SOCK_SEQPACKET socketpair).
 *
 * Input: byte 0, 1: queue sizes (1 << (b % 6)); byte 2: negotiated features
 * (bit 0 MRG_RXBUF, 1 VERSION_1, 2 GUEST_CSUM, 3 GUEST_TSO4, 4 GUEST_TSO6,
 * 5 GUEST_ECN); byte 3: EVENT_IDX per queue; bytes 4..11: actions (low two
 * bits: 0 kick receive, 1 kick transmit, 2 a frame from the tap of
 * 12 + 64 * (b >> 2) bytes taken from the memory image, 3 one loop round);
 * the rest: guest memory (rings at fixed places: desc 0x000/0x800, avail
 * +0x400, used +0x600). The device must never crash, overrun or leak.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/evloop.h"
#include "vmm/devices/virtio.h"

#define GPA   0x10000
#define MEMSZ 32768
#define HDR   12

static uint8_t mem[MEMSZ] __attribute__((aligned(4096)));
static struct gmem gm = {.n = 1, .r = {{.gpa = GPA, .size = MEMSZ, .hva = mem}}};
static struct virtio_dev *dev;
static struct evloop *loop;
static int tap, devfd;

static void t_notify(struct virtio_dev *d, unsigned q) {}
static void t_reset(struct virtio_dev *d) {}
static const struct virtio_transport_ops tops = {.notify_queue = t_notify, .needs_reset = t_reset};

static void cleanup(void)
{
	if (dev)
		virtio_dev_destroy(dev);
	if (loop)
		evloop_free(loop);
	close(tap);
}

static void init(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	tap = sv[0];
	devfd = sv[1];
	char spec[64], err[256];
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mac=02:00:00:00:00:01,mtu=1500", devfd);
	loop = evloop_new();
	dev = virtio_dev_create(spec, loop, err, sizeof(err));
	if (!dev) {
		fprintf(stderr, "fuzz_virtio_net: %s\n", err);
		abort();
	}
	atexit(cleanup);
}

/* Empty both directions of the socketpair (the device is reset: not reading). */
static void drain(void)
{
	static uint8_t buf[70000];
	while (recv(tap, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
	while (recv(devfd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dev)
		init();
	if (size < 12)
		return 0;
	virtio_dev_reset(dev);
	drain();
	memset(mem, 0, sizeof(mem));
	size_t n = size - 12 < MEMSZ ? size - 12 : MEMSZ;
	memcpy(mem, data + 12, n);
	dev->mem = &gm;
	dev->transport = &tops;
	for (unsigned q = 0; q < 2; q++) {
		struct virtq *vq = &dev->vq[q];
		vq->num = (uint16_t)(1u << (data[q] % 6)); /* 1..32 */
		vq->ready = true;
		vq->event_idx = data[3] & (1u << q);
		vq->indirect = true;
		vq->desc = GPA + 0x800 * q;
		vq->avail = vq->desc + 0x400;
		vq->used = vq->desc + 0x600;
		vq->mem = &gm;
	}
	static const unsigned bits[6] = {15, 32, 1, 7, 8, 9};
	uint64_t f = 0;
	for (unsigned i = 0; i < 6; i++)
		if (data[2] & (1u << i))
			f |= 1ull << bits[i];
	dev->features_acked = f;
	if (dev->ops->activate(dev) != 0)
		return 0;
	for (unsigned k = 4; k < 12 && !dev->broken; k++) {
		unsigned a = data[k] & 3, len = HDR + 64u * (data[k] >> 2);
		if (a < 2)
			dev->ops->queue_notify(dev, a);
		else if (a == 2)
			(void)send(tap, mem + (k * 1024u) % (MEMSZ - 4096), len, MSG_DONTWAIT);
		else
			evloop_run_once(loop, 0);
	}
	evloop_run_once(loop, 0);
	return 0;
}
