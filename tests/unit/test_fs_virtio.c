/* SPDX-License-Identifier: Apache-2.0 */
/* The virtio-fs device: spec parsing, config space, requests through real
 * split virtqueues in a fake guest memory, hiprio FORGET, malformed chains, reset. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/fuse.h>

#include "vmm/devices/virtio.h"
#include "vmm/devices/virtio_fs.h"

#define GPA_BASE 0x100000ull
#define MEM_SIZE 0x40000
#define QNUM	 8
#define QSTRIDE	 0x3000 /* per queue: desc, avail, used pages */
#define DATA_OFF 0x20000

static uint8_t mem[MEM_SIZE] __attribute__((aligned(4096)));
static struct gmem gm;
static char dir[64];
static unsigned notified[VIRTIO_MAX_QUEUES], resets;

static void t_notify(struct virtio_dev *d, unsigned q)
{
	notified[q]++;
}
static void t_needs_reset(struct virtio_dev *d)
{
	resets++;
}
static const struct virtio_transport_ops tops = {.notify_queue = t_notify, .needs_reset = t_needs_reset};

static uint32_t qoff(unsigned q)
{
	return q * QSTRIDE;
}

static void set_desc(unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *p = mem + qoff(q) + 16 * i;
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static void avail_add(unsigned q, uint16_t head)
{
	uint8_t *a = mem + qoff(q) + 0x1000;
	uint16_t idx;
	memcpy(&idx, a + 2, 2);
	memcpy(a + 4 + 2 * (idx % QNUM), &head, 2);
	idx++;
	memcpy(a + 2, &idx, 2);
}

/* Length of used entry number n of queue q. */
static uint32_t used_len(unsigned q, unsigned n)
{
	uint32_t len;
	memcpy(&len, mem + qoff(q) + 0x2000 + 4 + 8 * (n % QNUM) + 4, 4);
	return len;
}

static uint16_t used_idx(unsigned q)
{
	uint16_t v;
	memcpy(&v, mem + qoff(q) + 0x2000 + 2, 2);
	return v;
}

static struct virtio_dev *make_dev(unsigned queues)
{
	char spec[160], err[256];
	snprintf(spec, sizeof(spec), "fs,tag=myfs,dir=%s,cache=auto,queues=%u", dir, queues);
	struct virtio_dev *d = virtio_dev_create(spec, NULL, err, sizeof(err));
	if (!d)
		fail_msg("%s", err);
	memset(mem, 0, sizeof(mem));
	gm.n = 1;
	gm.r[0] = (struct gmem_region){.gpa = GPA_BASE, .size = MEM_SIZE, .hva = mem};
	d->mem = &gm;
	d->transport = &tops;
	for (unsigned q = 0; q < d->ops->num_queues; q++) {
		struct virtq *vq = &d->vq[q];
		vq->num = QNUM;
		vq->ready = true;
		vq->desc = GPA_BASE + qoff(q);
		vq->avail = GPA_BASE + qoff(q) + 0x1000;
		vq->used = GPA_BASE + qoff(q) + 0x2000;
		vq->mem = &gm;
	}
	memset(notified, 0, sizeof(notified));
	resets = 0;
	assert_int_equal(d->ops->activate(d), 0);
	return d;
}

/* Send one request (header + body) on queue q through a 2-descriptor chain
 * (request split over two readable descriptors plus one writable); returns
 * the used length, copies the reply out. */
static unsigned slot;
static uint32_t send(struct virtio_dev *d, unsigned q, uint32_t opcode, uint64_t nodeid, const void *body,
		     size_t blen, void *reply, size_t rcap)
{
	static uint64_t unique;
	unique++;
	struct fuse_in_header h = {
	    .len = (uint32_t)(sizeof(h) + blen), .opcode = opcode, .unique = unique, .nodeid = nodeid};
	uint32_t base = DATA_OFF + (slot % 4) * 0x4000;
	unsigned head = (slot * 3) % QNUM;
	slot++;
	memcpy(mem + base, &h, sizeof(h));
	memcpy(mem + base + 0x100, body, blen);
	memset(mem + base + 0x1000, 0xee, 0x3000);
	set_desc(q, head, GPA_BASE + base, sizeof(h), 1 /* NEXT */, (uint16_t)((head + 1) % QNUM));
	set_desc(q, (head + 1) % QNUM, GPA_BASE + base + 0x100, (uint32_t)blen, 1,
		 (uint16_t)((head + 2) % QNUM));
	set_desc(q, (head + 2) % QNUM, GPA_BASE + base + 0x1000, (uint32_t)rcap, 2 /* WRITE */, 0);
	uint16_t before = used_idx(q);
	avail_add(q, (uint16_t)head);
	d->ops->queue_notify(d, q);
	assert_int_equal(used_idx(q), (uint16_t)(before + 1));
	uint32_t n = used_len(q, before);
	if (n >= sizeof(struct fuse_out_header)) {
		struct fuse_out_header *oh = (void *)(mem + base + 0x1000);
		assert_int_equal(oh->unique, unique);
		assert_int_equal(oh->len, n);
	}
	if (reply)
		memcpy(reply, mem + base + 0x1000, n < rcap ? n : rcap);
	return n;
}

static void test_spec_errors(void **state)
{
	char err[256], spec[256];
	struct {
		const char *opts, *want;
	} bad[] = {
	    {"dir=/tmp", "tag="},
	    {"tag=,dir=/tmp", "tag="},
	    {"tag=0123456789012345678901234567890123456,dir=/tmp", "1..36"},
	    {"tag=x", "missing dir"},
	    {"tag=x,dir=/tmp,cache=sometimes", "cache=sometimes"},
	    {"tag=x,dir=/tmp,queues=0", "queues=0"},
	    {"tag=x,dir=/tmp,queues=9", "queues=9"},
	    {"tag=x,dir=/tmp,colour=red", "unknown option 'colour'"},
	    {"tag=x,dir=/nonexistent/share", "/nonexistent/share: No such file"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(spec, sizeof(spec), "fs,%s", bad[i].opts);
		err[0] = 0;
		assert_null(virtio_dev_create(spec, NULL, err, sizeof(err)));
		if (!strstr(err, bad[i].want))
			fail_msg("spec %s: error '%s' lacks '%s'", spec, err, bad[i].want);
		assert_non_null(strstr(err, "device fs: "));
	}
	assert_non_null(strstr(virtio_dev_kinds(), "fs"));
}

static void test_config_space(void **state)
{
	struct virtio_dev *d = make_dev(3);
	assert_int_equal(d->ops->device_id, VIRTIO_ID_FS);
	assert_int_equal(d->ops->num_queues, 4);
	assert_int_equal(d->config_len, 40);
	const struct virtio_fs_config *c = (const void *)d->config;
	assert_memory_equal(c->tag, "myfs\0\0\0\0", 8);
	assert_int_equal(c->num_request_queues, 3);
	virtio_dev_destroy(d);
	/* a 36-byte tag fills the field without a terminator */
	char spec[160], err[256];
	snprintf(spec, sizeof(spec), "fs,tag=%s,dir=%s", "abcdefghijklmnopqrstuvwxyz0123456789", dir);
	d = virtio_dev_create(spec, NULL, err, sizeof(err));
	assert_non_null(d);
	assert_memory_equal(d->config, "abcdefghijklmnopqrstuvwxyz0123456789", 36);
	assert_int_equal(d->ops->num_queues, 2);
	virtio_dev_destroy(d);
}

static void test_requests_through_queues(void **state)
{
	struct virtio_dev *d = make_dev(2);
	uint8_t rep[4096];
	struct fuse_init_in in = {.major = 7, .minor = FUSE_KERNEL_MINOR_VERSION, .max_readahead = 1 << 16};
	assert_int_equal(send(d, 1, FUSE_INIT, 0, &in, sizeof(in), rep, sizeof(rep)),
			 sizeof(struct fuse_out_header) + sizeof(struct fuse_init_out));
	assert_int_equal(((struct fuse_out_header *)rep)->error, 0);
	assert_true(notified[1] >= 1);
	/* lookup on the second request queue */
	assert_int_equal(send(d, 2, FUSE_LOOKUP, FUSE_ROOT_ID, "hello", 6, rep, sizeof(rep)),
			 sizeof(struct fuse_out_header) + sizeof(struct fuse_entry_out));
	struct fuse_entry_out *e = (void *)(rep + sizeof(struct fuse_out_header));
	assert_int_equal(e->attr.size, 5);
	uint64_t node = e->nodeid;
	/* open + read: data lands in the writable descriptor */
	struct fuse_open_in o = {.flags = O_RDONLY};
	assert_int_equal(send(d, 1, FUSE_OPEN, node, &o, sizeof(o), rep, sizeof(rep)),
			 16 + sizeof(struct fuse_open_out));
	uint64_t fh = ((struct fuse_open_out *)(rep + 16))->fh;
	struct fuse_read_in r = {.fh = fh, .size = 100};
	assert_int_equal(send(d, 1, FUSE_READ, node, &r, sizeof(r), rep, sizeof(rep)), 16 + 5);
	assert_memory_equal(rep + 16, "world", 5);
	/* FORGET on the hiprio queue is consumed with no reply */
	struct fuse_forget_in f = {.nlookup = 1};
	assert_int_equal(send(d, 0, FUSE_FORGET, node, &f, sizeof(f), NULL, 64), 0);
	assert_int_equal(send(d, 1, FUSE_GETATTR, node, &(struct fuse_getattr_in){0},
			      sizeof(struct fuse_getattr_in), rep, sizeof(rep)),
			 16);
	assert_int_equal(((struct fuse_out_header *)rep)->error, -EBADF);
	/* a reply buffer too small for the answer gets an error header */
	assert_int_equal(send(d, 1, FUSE_LOOKUP, FUSE_ROOT_ID, "hello", 6, rep, 20), 16);
	assert_int_equal(((struct fuse_out_header *)rep)->error, -EIO);
	assert_int_equal(resets, 0);
	/* device reset (a vhost-user ring stop on VM pause looks the same): the
	 * FUSE session survives, node ids stay valid */
	assert_int_equal(send(d, 1, FUSE_LOOKUP, FUSE_ROOT_ID, "hello", 6, rep, sizeof(rep)),
			 16 + sizeof(struct fuse_entry_out));
	node = ((struct fuse_entry_out *)(rep + 16))->nodeid;
	virtio_dev_reset(d);
	for (unsigned q = 0; q < d->ops->num_queues; q++) {
		d->vq[q].num = QNUM;
		d->vq[q].ready = true;
	}
	memset(mem, 0, DATA_OFF);
	assert_int_equal(d->ops->activate(d), 0);
	struct fuse_getattr_in ga = {0};
	assert_int_equal(send(d, 1, FUSE_GETATTR, node, &ga, sizeof(ga), rep, sizeof(rep)),
			 16 + sizeof(struct fuse_attr_out));
	/* a new session (INIT again) forgets the old node ids */
	assert_int_equal(send(d, 1, FUSE_INIT, 0, &in, sizeof(in), rep, sizeof(rep)),
			 sizeof(struct fuse_out_header) + sizeof(struct fuse_init_out));
	assert_int_equal(send(d, 1, FUSE_GETATTR, node, &ga, sizeof(ga), rep, sizeof(rep)), 16);
	assert_int_equal(((struct fuse_out_header *)rep)->error, -EBADF);
	virtio_dev_destroy(d);
}

static void test_malformed_chain(void **state)
{
	struct virtio_dev *d = make_dev(1);
	/* descriptor pointing outside guest memory */
	set_desc(1, 0, GPA_BASE + MEM_SIZE + 0x1000, 64, 0, 0);
	avail_add(1, 0);
	d->ops->queue_notify(d, 1);
	assert_true(d->broken);
	assert_int_equal(resets, 1);
	assert_int_equal(used_idx(1), 0);
	/* further kicks are ignored until reset */
	d->ops->queue_notify(d, 1);
	assert_int_equal(used_idx(1), 0);
	/* kicks of queues the device does not have are ignored */
	d->ops->queue_notify(d, 5);
	virtio_dev_destroy(d);
	/* a chain too short for a FUSE header completes with 0 bytes */
	d = make_dev(1);
	set_desc(1, 0, GPA_BASE + DATA_OFF, 8, 1, 1);
	set_desc(1, 1, GPA_BASE + DATA_OFF + 0x1000, 64, 2, 0);
	avail_add(1, 0);
	d->ops->queue_notify(d, 1);
	assert_false(d->broken);
	assert_int_equal(used_idx(1), 1);
	assert_int_equal(used_len(1, 0), 0);
	virtio_dev_destroy(d);
}

static int group_setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/runm-test-vfs.XXXXXX");
	assert_non_null(mkdtemp(dir));
	char p[128];
	snprintf(p, sizeof(p), "%s/hello", dir);
	FILE *f = fopen(p, "w");
	fputs("world", f);
	fclose(f);
	return 0;
}

static int group_teardown(void **state)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/hello", dir);
	unlink(p);
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spec_errors),
	    cmocka_unit_test(test_config_space),
	    cmocka_unit_test(test_requests_through_queues),
	    cmocka_unit_test(test_malformed_chain),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
