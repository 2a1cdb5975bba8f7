/* SPDX-License-Identifier: Apache-2.0 */
/* Registry, option parsing, common device helpers and virtio-rng. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/devices/virtio.h"

#define GPA_BASE 0x200000ull
#define MEM_SIZE 0x8000
#define QNUM	 4

static uint8_t mem[MEM_SIZE] __attribute__((aligned(4096)));
static struct gmem gm = {.n = 1, .r = {{.gpa = GPA_BASE, .size = MEM_SIZE, .hva = mem}}};

static int notified, needs_reset;
static void t_notify(struct virtio_dev *d, unsigned q)
{
	notified++;
}
static void t_reset(struct virtio_dev *d)
{
	needs_reset++;
}
static const struct virtio_transport_ops tops = {.notify_queue = t_notify, .needs_reset = t_reset};

static void put_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *p = mem + 16 * i;
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}
static void avail_add(uint16_t head)
{
	uint16_t idx;
	memcpy(&idx, mem + 0x1000 + 2, 2);
	memcpy(mem + 0x1000 + 4 + 2 * (idx % QNUM), &head, 2);
	idx++;
	memcpy(mem + 0x1000 + 2, &idx, 2);
}

static struct virtio_dev *make_rng(void)
{
	char err[128] = "";
	struct virtio_dev *d = virtio_dev_create("rng", NULL, err, sizeof(err));
	assert_non_null(d);
	memset(mem, 0, sizeof(mem));
	d->mem = &gm;
	d->transport = &tops;
	struct virtq *vq = &d->vq[0];
	vq->num = QNUM;
	vq->ready = true;
	vq->desc = GPA_BASE;
	vq->avail = GPA_BASE + 0x1000;
	vq->used = GPA_BASE + 0x2000;
	vq->mem = &gm;
	assert_int_equal(d->ops->activate(d), 0);
	notified = needs_reset = 0;
	return d;
}

static void test_rng_fills(void **state)
{
	struct virtio_dev *d = make_rng();
	assert_int_equal(d->ops->device_id, VIRTIO_ID_RNG);
	put_desc(0, GPA_BASE + 0x4000, 64, 2, 0);
	avail_add(0);
	d->ops->queue_notify(d, 0);
	uint16_t used_idx;
	uint32_t len;
	memcpy(&used_idx, mem + 0x2000 + 2, 2);
	memcpy(&len, mem + 0x2000 + 8, 4);
	assert_int_equal(used_idx, 1);
	assert_int_equal(len, 64);
	static const uint8_t zero[64];
	assert_memory_not_equal(mem + 0x4000, zero, 64);
	assert_int_equal(notified, 1);
	assert_false(d->broken);
	virtio_dev_destroy(d);
}

static void test_rng_malformed_marks_broken_once(void **state)
{
	struct virtio_dev *d = make_rng();
	put_desc(0, GPA_BASE + MEM_SIZE, 64, 2, 0); /* outside memory */
	avail_add(0);
	d->ops->queue_notify(d, 0);
	assert_true(d->broken);
	assert_int_equal(needs_reset, 1);
	d->ops->queue_notify(d, 0);
	virtio_dev_broken(d, "again");
	assert_int_equal(needs_reset, 1);
	/* reset clears the broken state and the rings; the device works again */
	virtio_dev_reset(d);
	assert_false(d->broken);
	assert_false(d->active);
	assert_int_equal(d->vq[0].last_avail, 0);
	memset(mem, 0, 0x3000);
	assert_int_equal(d->ops->activate(d), 0);
	put_desc(1, GPA_BASE + 0x4000, 8, 2, 0);
	avail_add(1);
	d->ops->queue_notify(d, 0);
	assert_false(d->broken);
	assert_int_equal(d->vq[0].used_idx, 1);
	virtio_dev_destroy(d);
}

static void test_rng_event_idx_suppresses_interrupts(void **state)
{
	struct virtio_dev *d = make_rng();
	d->vq[0].event_idx = true;
	const uint32_t used_event = 0x1000 + 4 + 2 * QNUM;
	/* first completion always interrupts */
	put_desc(0, GPA_BASE + 0x4000, 8, 2, 0);
	avail_add(0);
	d->ops->queue_notify(d, 0);
	assert_int_equal(notified, 1);
	/* the driver asks to be told only after used idx passes 2 */
	uint16_t ev = 2;
	memcpy(mem + used_event, &ev, 2);
	avail_add(0);
	d->ops->queue_notify(d, 0); /* used idx 2: no interrupt yet */
	assert_int_equal(notified, 1);
	avail_add(0);
	d->ops->queue_notify(d, 0); /* used idx 3 crosses 2 */
	assert_int_equal(notified, 2);
	/* the device told the driver where to kick next (avail_event) */
	uint16_t avail_event;
	memcpy(&avail_event, mem + 0x2000 + 4 + 8 * QNUM, 2);
	assert_int_equal(avail_event, 3);
	virtio_dev_destroy(d);
}

static void test_registry(void **state)
{
	char err[256];
	assert_null(virtio_dev_create("nosuch,x=1", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown device kind 'nosuch'"));
	assert_non_null(strstr(err, "rng"));
	assert_null(virtio_dev_create("", NULL, err, sizeof(err)));
	assert_null(virtio_dev_create("rng,bogus=1", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "bogus"));
	assert_non_null(strstr(virtio_dev_kinds(), "rng"));
	/* the kind must match exactly */
	assert_null(virtio_dev_create("rngx", NULL, err, sizeof(err)));
}

struct seen {
	char buf[256];
	int stop_at;
	int n;
};
static int collect(const char *k, const char *v, void *opaque)
{
	struct seen *s = opaque;
	size_t l = strlen(s->buf);
	snprintf(s->buf + l, sizeof(s->buf) - l, "[%s=%s]", k, v);
	return ++s->n == s->stop_at ? 42 : 0;
}

static void test_parse_opts(void **state)
{
	struct seen s = {0};
	assert_int_equal(virtio_parse_opts("uds=/run/x.sock,cid=3,flag", collect, &s), 0);
	assert_string_equal(s.buf, "[uds=/run/x.sock][cid=3][flag=]");
	s = (struct seen){.stop_at = 1};
	assert_int_equal(virtio_parse_opts("a=1,b=2", collect, &s), 42);
	assert_string_equal(s.buf, "[a=1]");
	s = (struct seen){0};
	assert_int_equal(virtio_parse_opts("=v", collect, &s), -EINVAL);
	assert_int_equal(virtio_parse_opts("", collect, &s), 0);
	assert_int_equal(virtio_parse_opts(NULL, collect, &s), 0);
	assert_int_equal(s.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rng_fills),
	    cmocka_unit_test(test_rng_malformed_marks_broken_once),
	    cmocka_unit_test(test_rng_event_idx_suppresses_interrupts),
	    cmocka_unit_test(test_registry),
	    cmocka_unit_test(test_parse_opts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
