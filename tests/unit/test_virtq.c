/* SPDX-License-Identifier: Apache-2.0 */
/* Split virtqueue against a fake guest memory: well-formed and malformed chains. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/devices/virtio.h"

#define GPA_BASE  0x100000ull
#define MEM_SIZE  0x10000
#define QNUM	  8
#define DESC_OFF  0x0000
#define AVAIL_OFF 0x1000
#define USED_OFF  0x2000
#define DATA_OFF  0x4000

static uint8_t mem[MEM_SIZE] __attribute__((aligned(4096)));
static struct gmem gm;
static struct virtq vq;
static struct virtq_elem el;

static uint64_t gpa(uint32_t off)
{
	return GPA_BASE + off;
}

static void put16(uint32_t off, uint16_t v)
{
	memcpy(mem + off, &v, 2);
}
static uint16_t get16(uint32_t off)
{
	uint16_t v;
	memcpy(&v, mem + off, 2);
	return v;
}
static uint32_t get32(uint32_t off)
{
	uint32_t v;
	memcpy(&v, mem + off, 4);
	return v;
}

static void set_desc_at(uint32_t table_off, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
			uint16_t next)
{
	uint8_t *p = mem + table_off + 16 * i;
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}
static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	set_desc_at(DESC_OFF, i, addr, len, flags, next);
}

/* Publish head in the next avail slot. */
static void avail_add(uint16_t head)
{
	uint16_t idx = get16(AVAIL_OFF + 2);
	put16(AVAIL_OFF + 4 + 2 * (idx % QNUM), head);
	put16(AVAIL_OFF + 2, (uint16_t)(idx + 1));
}

static int setup(void **state)
{
	memset(mem, 0, sizeof(mem));
	gm.n = 1;
	gm.r[0].gpa = GPA_BASE;
	gm.r[0].size = MEM_SIZE;
	gm.r[0].hva = mem;
	memset(&vq, 0, sizeof(vq));
	vq.num = QNUM;
	vq.ready = true;
	vq.desc = gpa(DESC_OFF);
	vq.avail = gpa(AVAIL_OFF);
	vq.used = gpa(USED_OFF);
	vq.mem = &gm;
	return 0;
}

static void test_gmem_ptr(void **state)
{
	assert_ptr_equal(gmem_ptr(&gm, GPA_BASE, MEM_SIZE), mem);
	assert_ptr_equal(gmem_ptr(&gm, GPA_BASE + 10, 0), mem + 10);
	assert_null(gmem_ptr(&gm, GPA_BASE, MEM_SIZE + 1));
	assert_null(gmem_ptr(&gm, GPA_BASE - 1, 2));
	assert_null(gmem_ptr(&gm, GPA_BASE + MEM_SIZE, 0));
	assert_null(gmem_ptr(&gm, GPA_BASE + 1, UINT64_MAX));
	assert_null(gmem_ptr(&gm, UINT64_MAX, 2));
	assert_null(gmem_ptr(NULL, GPA_BASE, 1));
}

static void test_empty_and_not_ready(void **state)
{
	assert_int_equal(virtq_pop(&vq, &el), 0);
	assert_false(virtq_has_avail(&vq));
	set_desc(0, gpa(DATA_OFF), 16, 0, 0);
	avail_add(0);
	vq.ready = false;
	assert_int_equal(virtq_pop(&vq, &el), 0);
	vq.ready = true;
	assert_true(virtq_has_avail(&vq));
	assert_int_equal(virtq_pop(&vq, &el), 1);
}

static void test_simple_chain_and_push(void **state)
{
	memcpy(mem + DATA_OFF, "hello", 6); /* with NUL; the chain takes 5 */
	set_desc(3, gpa(DATA_OFF), 5, 1 /*NEXT*/, 5);
	set_desc(5, gpa(DATA_OFF + 0x100), 10, 1 | 2 /*NEXT|WRITE*/, 6);
	set_desc(6, gpa(DATA_OFF + 0x200), 6, 2, 0);
	avail_add(3);
	assert_int_equal(virtq_pop(&vq, &el), 1);
	assert_int_equal(el.head, 3);
	assert_int_equal(el.n_out, 1);
	assert_int_equal(el.n_in, 2);
	assert_int_equal(el.out_len, 5);
	assert_int_equal(el.in_len, 16);
	char buf[16] = {0};
	assert_int_equal(virtq_elem_read(&el, 0, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(virtq_elem_read(&el, 2, buf, 2), 2);
	assert_memory_equal(buf, "ll", 2);
	/* write spans both in segments, and stops at the chain's end */
	uint8_t src[20];
	for (int i = 0; i < 20; i++)
		src[i] = (uint8_t)(0xa0 + i);
	assert_int_equal(virtq_elem_write(&el, 0, src, sizeof(src)), 16);
	assert_memory_equal(mem + DATA_OFF + 0x100, src, 10);
	assert_memory_equal(mem + DATA_OFF + 0x200, src + 10, 6);
	assert_int_equal(virtq_elem_write(&el, 12, src, 10), 4);
	assert_memory_equal(mem + DATA_OFF + 0x202, src, 4);

	assert_int_equal(virtq_push(&vq, el.head, 16), 0);
	assert_int_equal(get16(USED_OFF + 2), 1);
	assert_int_equal(get32(USED_OFF + 4), 3);
	assert_int_equal(get32(USED_OFF + 8), 16);
	assert_int_equal(virtq_pop(&vq, &el), 0);
	assert_int_equal(virtq_push(&vq, QNUM, 0), -EINVAL);
}

/* A batch lands with one used->idx store; a bad head anywhere publishes nothing. */
static void test_push_n_publishes_a_batch_at_once(void **state)
{
	vq.used_idx = (uint16_t)(QNUM - 1); /* the batch wraps around the ring */
	put16(USED_OFF + 2, vq.used_idx);
	struct virtq_used_elem bad[3] = {{1, 10}, {QNUM, 20}, {3, 30}};
	assert_int_equal(virtq_push_n(&vq, bad, 3), -EINVAL);
	assert_int_equal(get16(USED_OFF + 2), QNUM - 1);
	assert_int_equal(get32(USED_OFF + 4 + 8 * (QNUM - 1)), 0);
	struct virtq_used_elem u[3] = {{1, 10}, {2, 20}, {3, 30}};
	assert_int_equal(virtq_push_n(&vq, u, 3), 0);
	assert_int_equal(get16(USED_OFF + 2), (uint16_t)(QNUM + 2));
	assert_int_equal(vq.used_idx, (uint16_t)(QNUM + 2));
	assert_int_equal(get32(USED_OFF + 4 + 8 * (QNUM - 1)), 1);
	assert_int_equal(get32(USED_OFF + 8 + 8 * (QNUM - 1)), 10);
	assert_int_equal(get32(USED_OFF + 4), 2);
	assert_int_equal(get32(USED_OFF + 8), 20);
	assert_int_equal(get32(USED_OFF + 4 + 8), 3);
	assert_int_equal(get32(USED_OFF + 8 + 8), 30);
	/* more than the ring holds */
	struct virtq_used_elem many[QNUM + 1] = {{0, 0}};
	assert_int_equal(virtq_push_n(&vq, many, QNUM + 1), -EINVAL);
	assert_int_equal(virtq_push_n(&vq, many, 0), 0);
	assert_int_equal(get16(USED_OFF + 2), (uint16_t)(QNUM + 2));
}

static void test_unpop(void **state)
{
	set_desc(0, gpa(DATA_OFF), 4, 0, 0);
	avail_add(0);
	assert_int_equal(virtq_pop(&vq, &el), 1);
	virtq_unpop(&vq);
	assert_true(virtq_has_avail(&vq));
	assert_int_equal(virtq_pop(&vq, &el), 1);
	assert_int_equal(el.head, 0);
	assert_int_equal(virtq_pop(&vq, &el), 0);
}

static void expect_einval_and_no_progress(void)
{
	uint16_t before = vq.last_avail;
	assert_int_equal(virtq_pop(&vq, &el), -EINVAL);
	assert_int_equal(vq.last_avail, before);
}

static void test_desc_out_of_memory(void **state)
{
	set_desc(0, GPA_BASE + MEM_SIZE - 4, 8, 0, 0);
	avail_add(0);
	expect_einval_and_no_progress();
}

static void test_desc_addr_overflow(void **state)
{
	set_desc(0, UINT64_MAX - 2, 8, 0, 0);
	avail_add(0);
	expect_einval_and_no_progress();
}

static void test_head_out_of_range(void **state)
{
	avail_add(QNUM);
	expect_einval_and_no_progress();
}

static void test_next_out_of_range(void **state)
{
	set_desc(0, gpa(DATA_OFF), 4, 1, QNUM);
	avail_add(0);
	expect_einval_and_no_progress();
}

static void test_loop(void **state)
{
	set_desc(0, gpa(DATA_OFF), 4, 1, 1);
	set_desc(1, gpa(DATA_OFF), 4, 1, 0);
	avail_add(0);
	expect_einval_and_no_progress();
}

static void test_self_loop(void **state)
{
	set_desc(2, gpa(DATA_OFF), 4, 1, 2);
	avail_add(2);
	expect_einval_and_no_progress();
}

static void test_full_length_chain_ok(void **state)
{
	/* a chain that visits every descriptor exactly once is not a loop */
	for (unsigned i = 0; i < QNUM; i++)
		set_desc(i, gpa(DATA_OFF), 1, i + 1 < QNUM ? 1 : 0, (uint16_t)(i + 1));
	avail_add(0);
	assert_int_equal(virtq_pop(&vq, &el), 1);
	assert_int_equal(el.n_out, QNUM);
}

static void test_readable_after_writable(void **state)
{
	set_desc(0, gpa(DATA_OFF), 4, 1 | 2, 1);
	set_desc(1, gpa(DATA_OFF), 4, 0, 0);
	avail_add(0);
	expect_einval_and_no_progress();
}

static void test_avail_idx_jump(void **state)
{
	set_desc(0, gpa(DATA_OFF), 4, 0, 0);
	put16(AVAIL_OFF + 2, QNUM + 1);
	expect_einval_and_no_progress();
	assert_false(virtq_has_avail(&vq) == false);
	put16(AVAIL_OFF + 2, QNUM); /* exactly num ahead is legal */
	for (unsigned i = 0; i < QNUM; i++)
		assert_int_equal(virtq_pop(&vq, &el), 1);
	assert_int_equal(virtq_pop(&vq, &el), 0);
}

static void test_ring_outside_memory(void **state)
{
	vq.used = GPA_BASE + MEM_SIZE - 8;
	set_desc(0, gpa(DATA_OFF), 4, 0, 0);
	avail_add(0);
	expect_einval_and_no_progress();
	vq.used = gpa(USED_OFF) + 2; /* misaligned */
	expect_einval_and_no_progress();
	vq.used = gpa(USED_OFF);
	vq.desc = GPA_BASE + MEM_SIZE - 16 * QNUM + 16;
	expect_einval_and_no_progress();
}

static void test_indirect(void **state)
{
	uint32_t t = DATA_OFF + 0x1000;
	set_desc_at(t, 0, gpa(DATA_OFF), 3, 1, 2);
	set_desc_at(t, 2, gpa(DATA_OFF + 0x10), 7, 1 | 2, 1);
	set_desc_at(t, 1, gpa(DATA_OFF + 0x20), 9, 2, 0);
	set_desc(4, gpa(t), 3 * 16, 4 /*INDIRECT*/, 0);
	vq.indirect = true;
	avail_add(4);
	assert_int_equal(virtq_pop(&vq, &el), 1);
	assert_int_equal(el.head, 4);
	assert_int_equal(el.n_out, 1);
	assert_int_equal(el.n_in, 2);
	assert_int_equal(el.out_len, 3);
	assert_int_equal(el.in_len, 16);
	assert_ptr_equal(el.iov[2].iov_base, mem + DATA_OFF + 0x20);
}

static void test_direct_then_indirect(void **state)
{
	uint32_t t = DATA_OFF + 0x1000;
	set_desc_at(t, 0, gpa(DATA_OFF), 8, 2, 0);
	set_desc(0, gpa(DATA_OFF), 4, 1, 1);
	set_desc(1, gpa(t), 16, 4, 0);
	avail_add(0);
	assert_int_equal(virtq_pop(&vq, &el), 1);
	assert_int_equal(el.n_out, 1);
	assert_int_equal(el.n_in, 1);
}

static void test_indirect_in_indirect(void **state)
{
	uint32_t t = DATA_OFF + 0x1000;
	set_desc_at(t, 0, gpa(t), 16, 4, 0);
	set_desc(0, gpa(t), 16, 4, 0);
	avail_add(0);
	expect_einval_and_no_progress();
}

static void test_indirect_zero_len(void **state)
{
	set_desc(0, gpa(DATA_OFF + 0x1000), 0, 4, 0);
	avail_add(0);
	expect_einval_and_no_progress();
}

static void test_indirect_bad_len(void **state)
{
	set_desc(0, gpa(DATA_OFF + 0x1000), 24, 4, 0);
	avail_add(0);
	expect_einval_and_no_progress();
}

static void test_indirect_with_next(void **state)
{
	uint32_t t = DATA_OFF + 0x1000;
	set_desc_at(t, 0, gpa(DATA_OFF), 8, 0, 0);
	set_desc(0, gpa(t), 16, 4 | 1, 1);
	set_desc(1, gpa(DATA_OFF), 8, 0, 0);
	avail_add(0);
	expect_einval_and_no_progress();
}

static void test_indirect_table_outside(void **state)
{
	set_desc(0, GPA_BASE + MEM_SIZE - 16, 32, 4, 0);
	avail_add(0);
	expect_einval_and_no_progress();
}

static void test_indirect_loop(void **state)
{
	uint32_t t = DATA_OFF + 0x1000;
	set_desc_at(t, 0, gpa(DATA_OFF), 8, 1, 1);
	set_desc_at(t, 1, gpa(DATA_OFF), 8, 1, 0);
	set_desc(0, gpa(t), 32, 4, 0);
	avail_add(0);
	expect_einval_and_no_progress();
}

static void test_too_many_segs(void **state)
{
	/* indirect table of VIRTQ_MAX_SEGS + 1 entries, each 1 byte */
	uint32_t t = 0x8000;
	unsigned n = VIRTQ_MAX_SEGS + 1;
	for (unsigned i = 0; i < n; i++)
		set_desc_at(t, i, gpa(DATA_OFF), 1, i + 1 < n ? 1 : 0, (uint16_t)(i + 1));
	set_desc(0, gpa(t), 16 * n, 4, 0);
	avail_add(0);
	expect_einval_and_no_progress();
	/* exactly VIRTQ_MAX_SEGS is accepted */
	set_desc_at(t, VIRTQ_MAX_SEGS - 1, gpa(DATA_OFF), 1, 0, 0);
	set_desc(0, gpa(t), 16 * VIRTQ_MAX_SEGS, 4, 0);
	assert_int_equal(virtq_pop(&vq, &el), 1);
	assert_int_equal(el.n_out, VIRTQ_MAX_SEGS);
}

static void test_index_wraparound(void **state)
{
	/* start both sides just below 2^16 and run past it */
	vq.last_avail = 0xfffd;
	vq.used_idx = 0xfffd;
	put16(AVAIL_OFF + 2, 0xfffd);
	put16(USED_OFF + 2, 0xfffd);
	set_desc(1, gpa(DATA_OFF), 4, 0, 0);
	for (int i = 0; i < 6; i++) {
		avail_add(1);
		assert_true(virtq_has_avail(&vq));
		assert_int_equal(virtq_pop(&vq, &el), 1);
		assert_int_equal(el.head, 1);
		assert_int_equal(virtq_push(&vq, el.head, (uint32_t)i), 0);
	}
	assert_int_equal(vq.last_avail, 3);
	assert_int_equal(get16(USED_OFF + 2), 3);
	assert_int_equal(virtq_pop(&vq, &el), 0);
	/* used entry for index 0xffff sits in slot 7, the one for 0 in slot 0 */
	assert_int_equal(get32(USED_OFF + 4 + 8 * 7 + 4), 2);
	assert_int_equal(get32(USED_OFF + 4 + 8 * 0 + 4), 3);
}

static void test_notify_no_interrupt_flag(void **state)
{
	set_desc(0, gpa(DATA_OFF), 4, 0, 0);
	avail_add(0);
	assert_int_equal(virtq_pop(&vq, &el), 1);
	virtq_push(&vq, 0, 0);
	assert_true(virtq_should_notify(&vq));
	put16(AVAIL_OFF, 1); /* VIRTQ_AVAIL_F_NO_INTERRUPT */
	assert_false(virtq_should_notify(&vq));
}

static void test_notify_event_idx(void **state)
{
	vq.event_idx = true;
	const uint32_t used_event = AVAIL_OFF + 4 + 2 * QNUM;
	const uint32_t avail_event = USED_OFF + 4 + 8 * QNUM;
	set_desc(0, gpa(DATA_OFF), 4, 0, 0);
	put16(AVAIL_OFF, 1); /* flags are ignored with EVENT_IDX */

	/* first push always notifies (no valid signalled state yet) */
	avail_add(0);
	assert_int_equal(virtq_pop(&vq, &el), 1);
	assert_int_equal(get16(avail_event), 1); /* device publishes avail_event */
	virtq_push(&vq, 0, 0);
	put16(used_event, 0);
	assert_true(virtq_should_notify(&vq));
	/* nothing new pushed: no interrupt */
	assert_false(virtq_should_notify(&vq));

	/* driver wants an interrupt once used idx passes 2 (used_event = 2) */
	put16(used_event, 2);
	avail_add(0);
	virtq_pop(&vq, &el);
	virtq_push(&vq, 0, 0); /* used_idx = 2: event 2 not yet crossed (needs new > 2) */
	assert_false(virtq_should_notify(&vq));
	avail_add(0);
	virtq_pop(&vq, &el);
	virtq_push(&vq, 0, 0); /* used_idx = 3 crosses used_event 2 */
	assert_true(virtq_should_notify(&vq));

	/* several pushes at once: notify if used_event lies inside the batch */
	put16(used_event, 4);
	for (int i = 0; i < 3; i++) {
		avail_add(0);
		virtq_pop(&vq, &el);
		virtq_push(&vq, 0, 0);
	}
	assert_int_equal(vq.used_idx, 6);
	assert_true(virtq_should_notify(&vq));
	/* used_event far behind (already passed): no interrupt */
	put16(used_event, 1);
	avail_add(0);
	virtq_pop(&vq, &el);
	virtq_push(&vq, 0, 0);
	assert_false(virtq_should_notify(&vq));

	/* wrap-around of the 16-bit event index */
	vq.used_idx = 0xffff;
	vq.signalled_used = 0xfffe;
	put16(used_event, 0xffff);
	virtq_push(&vq, 0, 0); /* used_idx 0 */
	assert_true(virtq_should_notify(&vq));
}

static void test_reset(void **state)
{
	vq.last_avail = 5;
	vq.used_idx = 7;
	vq.signalled_used_valid = true;
	virtq_reset(&vq);
	assert_int_equal(vq.last_avail, 0);
	assert_int_equal(vq.used_idx, 0);
	assert_false(vq.signalled_used_valid);
	assert_int_equal(vq.desc, gpa(DESC_OFF));
}

static void test_bad_queue_size(void **state)
{
	vq.num = 6; /* not a power of two */
	set_desc(0, gpa(DATA_OFF), 4, 0, 0);
	avail_add(0);
	assert_int_equal(virtq_pop(&vq, &el), 0);
	assert_int_equal(virtq_push(&vq, 0, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup(x, setup)
	    T(test_gmem_ptr),
	    T(test_empty_and_not_ready),
	    T(test_simple_chain_and_push),
	    T(test_push_n_publishes_a_batch_at_once),
	    T(test_unpop),
	    T(test_desc_out_of_memory),
	    T(test_desc_addr_overflow),
	    T(test_head_out_of_range),
	    T(test_next_out_of_range),
	    T(test_loop),
	    T(test_self_loop),
	    T(test_full_length_chain_ok),
	    T(test_readable_after_writable),
	    T(test_avail_idx_jump),
	    T(test_ring_outside_memory),
	    T(test_indirect),
	    T(test_direct_then_indirect),
	    T(test_indirect_in_indirect),
	    T(test_indirect_zero_len),
	    T(test_indirect_bad_len),
	    T(test_indirect_with_next),
	    T(test_indirect_table_outside),
	    T(test_indirect_loop),
	    T(test_too_many_segs),
	    T(test_index_wraparound),
	    T(test_notify_no_interrupt_flag),
	    T(test_notify_event_idx),
	    T(test_reset),
	    T(test_bad_queue_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
