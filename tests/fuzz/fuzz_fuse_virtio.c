/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the virtio-fs device glue: the input is a small guest memory (rings,
 * descriptors, FUSE requests, reply buffers — which may overlap anything) and
 * queue parameters. The device pops chains, runs them through the FUSE server
 * against a temporary directory and pushes replies; it must never touch
 * memory outside the guest's, nor crash. A well-formed FUSE_INIT chain is
 * served first so later requests reach the operations.
 */
#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/devices/virtio.h"

#define MEM_SIZE 16384
#define GPA_BASE 0x10000
#define INIT_OFF 0x3000 /* harness-owned: the INIT chain's ring and buffers */

static uint8_t mem[MEM_SIZE] __attribute__((aligned(4096)));
static struct gmem gm = {.n = 1, .r = {{.gpa = GPA_BASE, .size = MEM_SIZE, .hva = mem}}};
static struct virtio_dev *dev;
static char base[64];
static unsigned notifies;

static void t_notify(struct virtio_dev *d, unsigned q)
{
	notifies++;
}
static void t_needs_reset(struct virtio_dev *d) {}
static const struct virtio_transport_ops tops = {.notify_queue = t_notify, .needs_reset = t_needs_reset};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	if (flag == FTW_DP)
		rmdir(p);
	else
		unlink(p);
	return 0;
}

/* Everything the previous input created goes, so the tree stays small. */
static int rm_children(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	if (f->level == 0)
		return 0;
	return rm_one(p, st, flag, f);
}

static void reset_tree(void)
{
	chmod(base, 0755);
	nftw(base, rm_children, 16, FTW_DEPTH | FTW_PHYS);
	char p[128];
	snprintf(p, sizeof(p), "%s/file", base);
	int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "data\n", 5) != 5)
		abort();
	close(fd);
}

static void remove_base(void)
{
	if (dev)
		virtio_dev_destroy(dev);
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snprintf(base, sizeof(base), "/tmp/runm-fuzz-vfs.XXXXXX");
	if (!mkdtemp(base))
		abort();
	char p[128];
	snprintf(p, sizeof(p), "%s/file", base);
	int fd = open(p, O_CREAT | O_WRONLY, 0644);
	if (fd < 0 || write(fd, "data\n", 5) != 5)
		abort();
	close(fd);
	struct rlimit rl = {1 << 20, 1 << 20};
	setrlimit(RLIMIT_FSIZE, &rl);
	char spec[128], err[256];
	snprintf(spec, sizeof(spec), "fs,tag=fuzz,dir=%s,queues=2", base);
	dev = virtio_dev_create(spec, NULL, err, sizeof(err));
	if (!dev) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	dev->mem = &gm;
	dev->transport = &tops;
	atexit(remove_base);
	return 0;
}

static void put(uint32_t off, const void *v, size_t n)
{
	memcpy(mem + off, v, n);
}

/* Serve a well-formed INIT on queue 1 from the harness-owned area. */
static void send_init(void)
{
	struct {
		struct fuse_in_header h;
		struct fuse_init_in i;
	} req = {.h = {.len = sizeof(req), .opcode = FUSE_INIT, .unique = 1},
		 .i = {.major = 7, .minor = FUSE_KERNEL_MINOR_VERSION}};
	uint32_t desc = INIT_OFF, avail = INIT_OFF + 0x100, used = INIT_OFF + 0x200, data = INIT_OFF + 0x400;
	memset(mem + INIT_OFF, 0, MEM_SIZE - INIT_OFF);
	put(data, &req, sizeof(req));
	uint64_t a0 = GPA_BASE + data, a1 = GPA_BASE + data + 0x100;
	uint32_t l0 = sizeof(req), l1 = 0x100;
	uint16_t f0 = 1, f1 = 2, n0 = 1, n1 = 0, idx = 1, head = 0;
	put(desc, &a0, 8), put(desc + 8, &l0, 4), put(desc + 12, &f0, 2), put(desc + 14, &n0, 2);
	put(desc + 16, &a1, 8), put(desc + 24, &l1, 4), put(desc + 28, &f1, 2), put(desc + 30, &n1, 2);
	put(avail + 4, &head, 2), put(avail + 2, &idx, 2);
	struct virtq *vq = &dev->vq[1];
	*vq = (struct virtq){.num = 2,
			     .ready = true,
			     .desc = GPA_BASE + desc,
			     .avail = GPA_BASE + avail,
			     .used = GPA_BASE + used,
			     .mem = &gm};
	dev->ops->activate(dev);
	dev->ops->queue_notify(dev, 1);
	virtio_dev_reset(dev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 16)
		return 0;
	signal(SIGXFSZ, SIG_IGN);
	send_init();
	/* header: queue, size exponent, flags, ring offsets (inside the fuzzed area) */
	unsigned q = data[0] % 4; /* 3 is not a queue of this device */
	struct virtq vq = {0};
	vq.num = (uint16_t)(1u << (data[1] % 6)); /* 1..32 */
	vq.ready = true;
	vq.event_idx = data[2] & 1;
	vq.indirect = data[2] & 2;
	vq.desc = GPA_BASE + ((data[3] | (data[4] << 8)) % INIT_OFF);
	vq.avail = GPA_BASE + ((data[5] | (data[6] << 8)) % INIT_OFF);
	vq.used = GPA_BASE + ((data[7] | (data[8] << 8)) % INIT_OFF);
	vq.mem = &gm;
	memset(mem, 0, INIT_OFF);
	memcpy(mem, data + 16, size - 16 < INIT_OFF ? size - 16 : INIT_OFF);
	if (q < dev->ops->num_queues)
		dev->vq[q] = vq;
	dev->ops->activate(dev);
	dev->ops->queue_notify(dev, q);
	if (data[9] & 1) /* kick again: the ring may have been refilled in place */
		dev->ops->queue_notify(dev, q);
	virtio_dev_reset(dev);
	reset_tree();
	return 0;
}
