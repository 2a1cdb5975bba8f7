/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the whole virtio-vsock device (vsock.c plumbing + connection logic)
 * from the guest side: the input is a fake guest memory holding the three
 * rings, descriptor chains and packets, followed by a list of queue kicks.
 * Guest connects go to <uds>_<port>, which nobody listens on (RST path); the
 * device must never crash, overrun the memory or leak.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/evloop.h"
#include "vmm/devices/virtio.h"

#define GPA   0x10000
#define MEMSZ 16384

static uint8_t mem[MEMSZ] __attribute__((aligned(4096)));
static struct gmem gm = {.n = 1, .r = {{.gpa = GPA, .size = MEMSZ, .hva = mem}}};
static struct virtio_dev *dev;
static struct evloop *loop;
static char dir[64];

static void t_notify(struct virtio_dev *d, unsigned q) {}
static void t_reset(struct virtio_dev *d) {}
static const struct virtio_transport_ops tops = {.notify_queue = t_notify, .needs_reset = t_reset};

static void cleanup(void)
{
	if (dev)
		virtio_dev_destroy(dev);
	if (loop)
		evloop_free(loop);
	rmdir(dir);
}

static void init(void)
{
	snprintf(dir, sizeof(dir), "/tmp/fuzz_vsock_%d", (int)getpid());
	mkdir(dir, 0700);
	char spec[128], err[256];
	snprintf(spec, sizeof(spec), "vsock,uds=%s/v.sock,cid=3", dir);
	loop = evloop_new();
	dev = virtio_dev_create(spec, loop, err, sizeof(err));
	if (!dev) {
		fprintf(stderr, "fuzz_vsock_dev: %s\n", err);
		abort();
	}
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dev)
		init();
	if (size < 8)
		return 0;
	memset(mem, 0, sizeof(mem));
	size_t n = size - 8 < MEMSZ ? size - 8 : MEMSZ;
	memcpy(mem, data + 8, n);
	virtio_dev_reset(dev);
	dev->mem = &gm;
	dev->transport = &tops;
	/* fixed ring layout, sizes from the input: 3 × (desc 0x400, avail 0x100, used 0x200) */
	for (unsigned q = 0; q < 3; q++) {
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
	dev->ops->activate(dev);
	dev->active = true;
	/* kicks: bytes 4..7 pick queues */
	for (unsigned k = 4; k < 8 && !dev->broken; k++)
		dev->ops->queue_notify(dev, data[k] % 4);
	evloop_run_once(loop, 0);
	return 0;
}
