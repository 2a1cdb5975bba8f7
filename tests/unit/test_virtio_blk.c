/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk end to end without a VM: a fake driver owns the rings in a flat
 * "guest memory" buffer, the image is a temporary file, completions come back
 * through io_uring and the event loop. Every request type, range and
 * read-only checks, hostile chains (device needs reset), queue-depth
 * back-pressure, reset with requests in flight, options.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/devices/blk.h"
#include "evloop.h"
#include "vmm/devices/virtio.h"

#define GPA_BASE    0x200000ull
#define MEM_SIZE    0x40000
#define QNUM	    32
#define DESC	    0x0000
#define AVAIL	    0x1000
#define USED	    0x2000
#define HDRS	    0x3000 /* 32 bytes per descriptor chain: header, then status */
#define DATA	    0x8000 /* 4 KiB per chain */
#define IMG_SECTORS 256	   /* 128 KiB image */
#define BIG_GPA	    0x100000000ull
#define BIG_SIZE    0xc0000000ull

static uint8_t mem[MEM_SIZE] __attribute__((aligned(4096)));
static struct gmem gm;
static struct evloop *loop;
static struct virtio_dev *dev;
static char img[64];
static int notified, needs_reset;
static uint16_t avail_idx;

static void t_notify(struct virtio_dev *d, unsigned q)
{
	notified++;
}
static void t_reset(struct virtio_dev *d)
{
	needs_reset++;
}
static const struct virtio_transport_ops tops = {.notify_queue = t_notify, .needs_reset = t_reset};

static void put_desc(unsigned i, uint64_t gpa, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *p = mem + DESC + 16 * i;
	memcpy(p, &gpa, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static void avail_add(uint16_t head)
{
	memcpy(mem + AVAIL + 4 + 2 * (avail_idx % QNUM), &head, 2);
	avail_idx++;
	memcpy(mem + AVAIL + 2, &avail_idx, 2);
}

static uint16_t used_idx(void)
{
	uint16_t v;
	memcpy(&v, mem + USED + 2, 2);
	return v;
}

static uint32_t used_len(unsigned n)
{
	uint32_t v;
	memcpy(&v, mem + USED + 4 + 8 * (n % QNUM) + 4, 4);
	return v;
}

static uint8_t *data_of(unsigned slot)
{
	return mem + DATA + 4096 * slot;
}

static uint8_t status_of(unsigned slot)
{
	return mem[HDRS + 32 * slot + 16];
}

/* Chain `slot` (descriptors 3*slot..3*slot+2): header, data (len bytes, the
 * device writes it when `dev_writes`), status; published on the avail ring. */
static void request(unsigned slot, uint32_t type, uint64_t sector, uint32_t len, bool dev_writes)
{
	uint8_t *h = mem + HDRS + 32 * slot;
	memset(h, 0, 32);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	h[16] = 0xff;
	unsigned d = 3 * slot;
	uint64_t hg = GPA_BASE + HDRS + 32 * slot;
	if (len) {
		put_desc(d, hg, 16, 1, (uint16_t)(d + 1));
		put_desc(d + 1, GPA_BASE + DATA + 4096 * slot, len, (uint16_t)(1 | (dev_writes ? 2 : 0)),
			 (uint16_t)(d + 2));
		put_desc(d + 2, hg + 16, 1, 2, 0);
	} else {
		put_desc(d, hg, 16, 1, (uint16_t)(d + 2));
		put_desc(d + 2, hg + 16, 1, 2, 0);
	}
	avail_add((uint16_t)d);
}

/* Run the loop until `n` used elements were published (or time runs out). */
static void wait_used(uint16_t n)
{
	for (int i = 0; i < 200 && used_idx() != n; i++)
		evloop_run_once(loop, 20);
	assert_int_equal(used_idx(), n);
}

static void setup_rings(struct virtio_dev *d)
{
	virtio_dev_reset(d);
	memset(mem, 0, sizeof(mem));
	avail_idx = 0;
	d->mem = &gm;
	d->transport = &tops;
	struct virtq *vq = &d->vq[0];
	vq->num = QNUM;
	vq->ready = true;
	vq->desc = GPA_BASE + DESC;
	vq->avail = GPA_BASE + AVAIL;
	vq->used = GPA_BASE + USED;
	vq->mem = &gm;
	assert_int_equal(d->ops->activate(d), 0);
	notified = needs_reset = 0;
}

static struct virtio_dev *make_dev(const char *extra)
{
	char spec[256], err[256] = "";
	snprintf(spec, sizeof(spec), "blk,path=%s%s", img, extra);
	struct virtio_dev *d = virtio_dev_create(spec, loop, err, sizeof(err));
	if (!d)
		fail_msg("create %s: %s", spec, err);
	setup_rings(d);
	return d;
}

static int setup(void **state)
{
	strcpy(img, "/tmp/runm-blk-test-XXXXXX");
	int fd = mkstemp(img);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, IMG_SECTORS * 512), 0);
	close(fd);
	loop = evloop_new();
	assert_non_null(loop);
	gm.n = 2;
	gm.r[0] = (struct gmem_region){.gpa = GPA_BASE, .size = MEM_SIZE, .hva = mem};
	dev = make_dev(",id=serial-0123456789abc");
	return 0;
}

static int teardown(void **state)
{
	virtio_dev_destroy(dev);
	evloop_free(loop);
	unlink(img);
	return 0;
}

static void read_image(uint64_t off, void *buf, size_t len)
{
	int fd = open(img, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* ------------------------------------------------------------------ tests */

static void test_config(void **state)
{
	assert_int_equal(dev->ops->device_id, VIRTIO_ID_BLOCK);
	assert_int_equal(dev->config_len, 72);
	uint64_t cap;
	uint32_t seg_max, blk_size;
	memcpy(&cap, dev->config, 8);
	memcpy(&seg_max, dev->config + 12, 4);
	memcpy(&blk_size, dev->config + 20, 4);
	assert_int_equal(cap, IMG_SECTORS);
	assert_int_equal(seg_max, 254);
	assert_int_equal(blk_size, 512);
	uint64_t f = dev->ops->features;
	assert_true(f & (1ull << BLK_F_FLUSH));
	assert_true(f & (1ull << BLK_F_DISCARD));
	assert_true(f & (1ull << BLK_F_WRITE_ZEROES));
	assert_false(f & (1ull << BLK_F_RO));
	assert_false(f & (1ull << BLK_F_MQ));
	assert_non_null(strstr(virtio_dev_kinds(), "blk"));

	struct virtio_dev *d = make_dev(",ro=on,queues=4,iodepth=8");
	assert_true(d->ops->features & (1ull << BLK_F_RO));
	assert_true(d->ops->features & (1ull << BLK_F_MQ));
	assert_int_equal(d->ops->num_queues, 4);
	uint16_t nq;
	memcpy(&nq, d->config + 34, 2);
	assert_int_equal(nq, 4);
	virtio_dev_destroy(d);
	setup_rings(dev);
}

static void test_write_read_flush(void **state)
{
	setup_rings(dev);
	for (int i = 0; i < 4096; i++)
		data_of(0)[i] = (uint8_t)(i * 7 + 1);
	request(0, BLK_T_OUT, 8, 4096, false);
	dev->ops->queue_notify(dev, 0);
	wait_used(1);
	assert_int_equal(status_of(0), BLK_S_OK);
	assert_int_equal(used_len(0), 1);
	assert_true(notified >= 1);
	uint8_t buf[4096];
	read_image(8 * 512, buf, sizeof(buf));
	assert_memory_equal(buf, data_of(0), 4096);

	request(1, BLK_T_IN, 8, 4096, true);
	request(2, BLK_T_FLUSH, 0, 0, false);
	dev->ops->queue_notify(dev, 0);
	wait_used(3);
	assert_int_equal(status_of(1), BLK_S_OK);
	assert_int_equal(status_of(2), BLK_S_OK);
	assert_memory_equal(data_of(1), data_of(0), 4096);
	/* used lengths: the read reports its data and status byte */
	uint32_t l1 = used_len(1), l2 = used_len(2);
	assert_true((l1 == 4097 && l2 == 1) || (l1 == 1 && l2 == 4097));
	assert_false(dev->broken);
}

static void test_discard_and_write_zeroes(void **state)
{
	setup_rings(dev);
	memset(data_of(0), 0xab, 4096);
	request(0, BLK_T_OUT, 16, 4096, false);
	memset(data_of(1), 0xcd, 4096);
	request(1, BLK_T_OUT, 24, 4096, false);
	dev->ops->queue_notify(dev, 0);
	wait_used(2);

	/* one segment each: sector, count, flags */
	uint8_t seg[16] = {0};
	uint64_t s = 16;
	uint32_t n = 8, fl = 0;
	memcpy(seg, &s, 8);
	memcpy(seg + 8, &n, 4);
	memcpy(data_of(2), seg, 16);
	request(2, BLK_T_DISCARD, 0, 16, false);
	s = 24;
	memcpy(seg, &s, 8);
	memcpy(seg + 12, &fl, 4);
	memcpy(data_of(3), seg, 16);
	request(3, BLK_T_WRITE_ZEROES, 0, 16, false);
	dev->ops->queue_notify(dev, 0);
	wait_used(4);
	assert_int_equal(status_of(2), BLK_S_OK);
	assert_int_equal(status_of(3), BLK_S_OK);
	uint8_t buf[8192], zero[8192] = {0};
	read_image(16 * 512, buf, sizeof(buf));
	assert_memory_equal(buf, zero, sizeof(buf));

	/* unknown discard flags: UNSUPP; two segments (max_discard_seg is 1): IOERR */
	fl = 1;
	memcpy(seg + 12, &fl, 4);
	memcpy(data_of(4), seg, 16);
	request(4, BLK_T_DISCARD, 0, 16, false);
	request(5, BLK_T_DISCARD, 0, 32, false);
	/* write-zeroes with UNMAP is allowed */
	memcpy(data_of(6), seg, 16);
	request(6, BLK_T_WRITE_ZEROES, 0, 16, false);
	dev->ops->queue_notify(dev, 0);
	wait_used(7);
	assert_int_equal(status_of(4), BLK_S_UNSUPP);
	assert_int_equal(status_of(5), BLK_S_IOERR);
	assert_int_equal(status_of(6), BLK_S_OK);
	assert_false(dev->broken);
}

static void test_get_id_and_unknown(void **state)
{
	setup_rings(dev);
	request(0, BLK_T_GET_ID, 0, 20, true);
	request(1, 77, 0, 0, false);
	dev->ops->queue_notify(dev, 0);
	wait_used(2);
	assert_int_equal(status_of(0), BLK_S_OK);
	assert_memory_equal(data_of(0), "serial-0123456789abc", 20);
	assert_int_equal(used_len(0), 21);
	assert_int_equal(status_of(1), BLK_S_UNSUPP);
	assert_false(dev->broken);
}

static void test_out_of_range(void **state)
{
	setup_rings(dev);
	request(0, BLK_T_IN, IMG_SECTORS, 512, true);	   /* one past the end */
	request(1, BLK_T_IN, IMG_SECTORS - 1, 1024, true); /* runs past the end */
	request(2, BLK_T_OUT, UINT64_MAX, 512, false);	   /* sector * 512 would wrap */
	request(3, BLK_T_IN, 0, 100, true);		   /* not whole sectors */
	request(4, BLK_T_IN, IMG_SECTORS - 1, 512, true);  /* the last sector: fine */
	dev->ops->queue_notify(dev, 0);
	wait_used(5);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(status_of(i), BLK_S_IOERR);
	assert_int_equal(status_of(4), BLK_S_OK);
	assert_false(dev->broken);
}

static void test_read_only(void **state)
{
	struct virtio_dev *d = make_dev(",ro=on");
	memset(data_of(0), 0x5a, 512);
	request(0, BLK_T_OUT, 0, 512, false);
	memset(data_of(1), 0, 16);
	data_of(1)[8] = 1;
	request(1, BLK_T_DISCARD, 0, 16, false);
	request(2, BLK_T_WRITE_ZEROES, 0, 16, false);
	request(3, BLK_T_IN, 0, 512, true);
	request(4, BLK_T_FLUSH, 0, 0, false);
	d->ops->queue_notify(d, 0);
	wait_used(5);
	assert_int_equal(status_of(0), BLK_S_IOERR);
	assert_int_equal(status_of(1), BLK_S_IOERR);
	assert_int_equal(status_of(2), BLK_S_IOERR);
	assert_int_equal(status_of(3), BLK_S_OK);
	assert_int_equal(status_of(4), BLK_S_OK);
	uint8_t buf[512];
	read_image(0, buf, sizeof(buf));
	assert_int_not_equal(buf[0], 0x5a);
	virtio_dev_destroy(d);
}

static void expect_broken(void)
{
	dev->ops->queue_notify(dev, 0);
	assert_true(dev->broken);
	assert_int_equal(needs_reset, 1);
	assert_int_equal(used_idx(), 0);
	virtio_dev_reset(dev);
	assert_false(dev->broken);
}

static void test_hostile_chains(void **state)
{
	/* header too short */
	setup_rings(dev);
	put_desc(0, GPA_BASE + HDRS, 8, 1, 1);
	put_desc(1, GPA_BASE + HDRS + 16, 1, 2, 0);
	avail_add(0);
	expect_broken();

	/* status descriptor not writable */
	setup_rings(dev);
	put_desc(0, GPA_BASE + HDRS, 16, 1, 1);
	put_desc(1, GPA_BASE + HDRS + 16, 1, 0, 0);
	avail_add(0);
	expect_broken();

	/* device-writable lengths summing past 4 GiB */
	setup_rings(dev);
	put_desc(0, GPA_BASE + HDRS, 16, 1, 1);
	put_desc(1, BIG_GPA, (uint32_t)BIG_SIZE, 3, 2);
	put_desc(2, BIG_GPA, (uint32_t)BIG_SIZE, 2, 0);
	avail_add(0);
	expect_broken();

	/* a descriptor outside guest memory */
	setup_rings(dev);
	put_desc(0, GPA_BASE + MEM_SIZE, 16, 1, 1);
	put_desc(1, GPA_BASE + HDRS + 16, 1, 2, 0);
	avail_add(0);
	expect_broken();

	/* after a reset the device works again */
	setup_rings(dev);
	request(0, BLK_T_IN, 0, 512, true);
	dev->ops->queue_notify(dev, 0);
	wait_used(1);
	assert_int_equal(status_of(0), BLK_S_OK);
}

static void test_queue_depth_backpressure(void **state)
{
	struct virtio_dev *d = make_dev(",iodepth=2");
	for (unsigned i = 0; i < 5; i++)
		request(i, BLK_T_IN, i, 512, true);
	d->ops->queue_notify(d, 0);
	/* two taken, the rest left in the ring until completions come back */
	assert_int_equal(d->vq[0].last_avail, 2);
	assert_int_equal(used_idx(), 0);
	d->ops->queue_notify(d, 0);
	assert_int_equal(d->vq[0].last_avail, 2);
	wait_used(5);
	assert_int_equal(d->vq[0].last_avail, 5);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(status_of(i), BLK_S_OK);
	virtio_dev_destroy(d);
}

static void test_reset_waits_for_inflight(void **state)
{
	struct virtio_dev *d = make_dev(",iodepth=4");
	for (unsigned i = 0; i < 4; i++) {
		memset(data_of(i), (int)(0x10 + i), 4096);
		request(i, BLK_T_OUT, 64 + 8 * i, 4096, false);
	}
	d->ops->queue_notify(d, 0);
	assert_int_equal(d->vq[0].last_avail, 4);
	/* the requests finish (and are published) before the rings go away */
	virtio_dev_reset(d);
	assert_int_equal(used_idx(), 4);
	for (unsigned i = 0; i < 4; i++) {
		uint8_t buf[4096];
		assert_int_equal(status_of(i), BLK_S_OK);
		read_image((64 + 8 * i) * 512, buf, sizeof(buf));
		assert_memory_equal(buf, data_of(i), sizeof(buf));
	}
	/* quiesce (vhost-user memory table change) does the same without a reset */
	setup_rings(d);
	request(0, BLK_T_IN, 0, 4096, true);
	d->ops->queue_notify(d, 0);
	d->ops->quiesce(d);
	assert_int_equal(used_idx(), 1);
	virtio_dev_destroy(d);
}

static void test_second_queue(void **state)
{
	/* queues=2: requests on queue 1 complete there (the rings of queue 0 moved to queue 1) */
	struct virtio_dev *d = make_dev(",queues=2,iodepth=1");
	d->vq[1] = d->vq[0];
	d->vq[0].ready = false;
	request(0, BLK_T_IN, 0, 512, true);
	request(1, BLK_T_IN, 1, 512, true);
	d->ops->queue_notify(d, 0); /* not ready: nothing taken */
	assert_int_equal(d->vq[1].last_avail, 0);
	d->ops->queue_notify(d, 1);
	assert_int_equal(d->vq[1].last_avail, 1); /* depth 1: the second waits */
	d->ops->queue_notify(d, 7);		  /* no such queue: ignored */
	wait_used(2);
	assert_int_equal(status_of(0), BLK_S_OK);
	assert_int_equal(status_of(1), BLK_S_OK);
	assert_false(d->broken);
	virtio_dev_destroy(d);
}

static void test_options(void **state)
{
	static const char *const bad[] = {
	    "blk",					/* no image */
	    "blk,path=/nonexistent/x",			/* cannot open */
	    "blk,path=/dev/null",			/* not a file or block device */
	    "blk,path=/tmp,fd=3",			/* both */
	    "blk,path=/tmp/x,bogus=1",			/* unknown option */
	    "blk,path=/tmp/x,id=123456789012345678901", /* serial too long */
	    "blk,path=/tmp/x,queues=9",			/* more than VIRTIO_MAX_QUEUES */
	    "blk,path=/tmp/x,iodepth=0",
	    "blk,path=/tmp/x,ro=maybe",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";
		assert_null(virtio_dev_create(bad[i], loop, err, sizeof(err)));
		assert_true(err[0]);
	}
	char err[256] = "";
	assert_null(virtio_dev_create("blk,path=/tmp/x", NULL, err, sizeof(err)));

	/* fd=N: a read-only fd needs ro=on; the device owns the fd afterwards */
	int fd = open(img, O_RDONLY);
	assert_true(fd >= 0);
	char spec[64];
	snprintf(spec, sizeof(spec), "blk,fd=%d", fd);
	assert_null(virtio_dev_create(spec, loop, err, sizeof(err)));
	assert_non_null(strstr(err, "ro=on"));
	assert_true(fcntl(fd, F_GETFD) >= 0); /* still the caller's */
	snprintf(spec, sizeof(spec), "blk,fd=%d,ro=on", fd);
	struct virtio_dev *d = virtio_dev_create(spec, loop, err, sizeof(err));
	assert_non_null(d);
	virtio_dev_destroy(d);
	assert_true(fcntl(fd, F_GETFD) < 0);
}

int main(void)
{
	/* A second region, never touched, that descriptors past 4 GiB can name. */
	void *big = mmap(NULL, BIG_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (big == MAP_FAILED)
		return 1;
	gm.r[1] = (struct gmem_region){.gpa = BIG_GPA, .size = BIG_SIZE, .hva = big};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config),
	    cmocka_unit_test(test_write_read_flush),
	    cmocka_unit_test(test_discard_and_write_zeroes),
	    cmocka_unit_test(test_get_id_and_unknown),
	    cmocka_unit_test(test_out_of_range),
	    cmocka_unit_test(test_read_only),
	    cmocka_unit_test(test_hostile_chains),
	    cmocka_unit_test(test_queue_depth_backpressure),
	    cmocka_unit_test(test_reset_waits_for_inflight),
	    cmocka_unit_test(test_second_queue),
	    cmocka_unit_test(test_options),
	};
	int r = cmocka_run_group_tests(tests, setup, teardown);
	munmap(big, BIG_SIZE);
	return r;
}
