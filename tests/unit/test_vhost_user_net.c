/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net over the vhost-user backend, in the order QEMU's vhost-user
 * netdev sends its messages (rings enabled when the guest sets features,
 * before SET_FEATURES; config space and queue count stay in QEMU), with a
 * SOCK_SEQPACKET socketpair as the tap. The header size follows the features
 * of each start: 12 bytes with VERSION_1, 10 for a legacy driver.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "common/evloop.h"
#include "vmm/devices/virtio.h"
#include "vmm/vhost_user/proto.h"
#include "vmm/vhost_user/vu_backend.h"

#define MEM_SIZE 0x100000ull
#define GPA_BASE 0x40000000ull
#define UVA_BASE 0x7f1200000000ull
#define QNUM	 16
#define RING(q)	 (0x8000u * (q)) /* desc, then avail +0x1000, used +0x2000 */
#define BUF(q)	 (0x40000u + 0x10000u * (q))

#define F_GUEST_CSUM (1ull << 1)
#define F_MTU	     (1ull << 3)
#define F_MRG	     (1ull << 15)
#define F_V1	     (1ull << 32)
#define F_PF	     (1ull << VU_F_PROTOCOL_FEATURES)

struct env {
	int fe, be, tap, memfd;
	uint8_t *mem;
	struct evloop *loop;
	struct virtio_dev *dev;
	struct vu_backend *b;
	int kick[2], call[2];
	uint16_t avail[2];
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	int sv[2], tv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, tv), 0);
	e->fe = sv[0];
	e->be = sv[1];
	e->tap = tv[0];
	e->memfd = memfd_create("guest", MFD_CLOEXEC);
	assert_int_equal(ftruncate(e->memfd, MEM_SIZE), 0);
	e->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, e->memfd, 0);
	assert_true(e->mem != MAP_FAILED);
	e->loop = evloop_new();
	char spec[64], err[256] = "";
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mac=02:00:00:00:00:09", tv[1]);
	e->dev = virtio_dev_create(spec, e->loop, err, sizeof(err));
	if (!e->dev)
		fail_msg("%s", err);
	e->b = vu_backend_new(e->dev, e->loop, e->be);
	for (int q = 0; q < 2; q++) {
		e->kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		e->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	}
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	vu_backend_free(e->b);
	virtio_dev_destroy(e->dev);
	evloop_free(e->loop);
	munmap(e->mem, MEM_SIZE);
	close(e->memfd);
	close(e->fe);
	close(e->be);
	close(e->tap);
	for (int q = 0; q < 2; q++) {
		close(e->kick[q]);
		close(e->call[q]);
	}
	free(e);
	return 0;
}

/* Send one message (with NEED_REPLY when ack) and let the backend handle it. */
static void fe_msg(struct env *e, uint32_t req, bool ack, const void *p, uint32_t size, const int *fd)
{
	uint8_t buf[sizeof(struct vu_hdr) + 64];
	struct vu_hdr h = {
	    .request = req, .flags = VU_VERSION | (ack ? VU_FLAG_NEED_REPLY : 0), .size = size};
	memcpy(buf, &h, sizeof(h));
	if (size)
		memcpy(buf + sizeof(h), p, size);
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(h) + size};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd) {
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), fd, sizeof(int));
	}
	assert_int_equal(sendmsg(e->fe, &mh, 0), (ssize_t)iov.iov_len);
	struct vu_msg m;
	assert_int_equal(vu_msg_recv(e->be, &m), 1);
	assert_int_equal(vu_backend_handle(e->b, &m), 0);
}

/* The u64 (or vring state) of the reply to req. */
static uint64_t fe_reply(struct env *e, uint32_t req)
{
	struct vu_hdr h;
	uint64_t v = 0;
	assert_int_equal(recv(e->fe, &h, sizeof(h), MSG_DONTWAIT), (ssize_t)sizeof(h));
	assert_int_equal(h.request, req);
	assert_int_equal(h.size, 8);
	assert_int_equal(recv(e->fe, &v, 8, MSG_DONTWAIT), 8);
	return v;
}

static uint64_t fe_get(struct env *e, uint32_t req)
{
	fe_msg(e, req, false, NULL, 0, NULL);
	return fe_reply(e, req);
}

/* A message with NEED_REPLY: the REPLY_ACK must say success. */
static void fe_ok(struct env *e, uint32_t req, const void *p, uint32_t size, const int *fd)
{
	fe_msg(e, req, true, p, size, fd);
	assert_int_equal(fe_reply(e, req), 0);
}

static void enable_rings(struct env *e)
{
	for (uint32_t q = 0; q < 2; q++) {
		struct vu_vring_state st = {.index = q, .num = 1};
		fe_ok(e, VU_SET_VRING_ENABLE, &st, sizeof(st), NULL);
	}
}

/* vhost_dev_start: features, memory, then each ring. */
static void start(struct env *e, uint64_t features)
{
	fe_msg(e, VU_SET_FEATURES, false, &features, 8, NULL);
	struct vu_mem_table t = {.nregions = 1};
	t.regions[0] = (struct vu_mem_region){
	    .guest_phys_addr = GPA_BASE, .memory_size = MEM_SIZE, .userspace_addr = UVA_BASE};
	fe_ok(e, VU_SET_MEM_TABLE, &t, 8 + sizeof(t.regions[0]), &e->memfd);
	for (uint32_t q = 0; q < 2; q++) {
		struct vu_vring_state st = {.index = q, .num = QNUM};
		fe_ok(e, VU_SET_VRING_NUM, &st, sizeof(st), NULL);
		st.num = e->avail[q];
		fe_ok(e, VU_SET_VRING_BASE, &st, sizeof(st), NULL);
		struct vu_vring_addr a = {.index = q,
					  .desc_user_addr = UVA_BASE + RING(q),
					  .avail_user_addr = UVA_BASE + RING(q) + 0x1000,
					  .used_user_addr = UVA_BASE + RING(q) + 0x2000};
		fe_ok(e, VU_SET_VRING_ADDR, &a, sizeof(a), NULL);
		uint64_t idx = q;
		fe_ok(e, VU_SET_VRING_KICK, &idx, 8, &e->kick[q]);
		fe_ok(e, VU_SET_VRING_CALL, &idx, 8, &e->call[q]);
	}
}

/* vhost_dev_stop: GET_VRING_BASE on each ring. */
static void stop(struct env *e)
{
	for (uint32_t q = 0; q < 2; q++) {
		struct vu_vring_state st = {.index = q};
		fe_msg(e, VU_GET_VRING_BASE, false, &st, sizeof(st), NULL);
		struct vu_hdr h;
		assert_int_equal(recv(e->fe, &h, sizeof(h), MSG_DONTWAIT), (ssize_t)sizeof(h));
		assert_int_equal(recv(e->fe, &st, sizeof(st), MSG_DONTWAIT), (ssize_t)sizeof(st));
		assert_int_equal(st.num, e->avail[q]);
	}
	assert_false(vu_backend_active(e->b));
}

/* Driver: one descriptor of len bytes at BUF(q) + off in slot i, published. */
static void offer(struct env *e, unsigned q, uint16_t i, uint32_t off, uint32_t len, bool writable)
{
	uint8_t *d = e->mem + RING(q) + 16 * i;
	uint64_t addr = GPA_BASE + BUF(q) + off;
	uint16_t flags = writable ? 2 : 0, next = 0;
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	uint8_t *av = e->mem + RING(q) + 0x1000;
	memcpy(av + 4 + 2 * (e->avail[q] % QNUM), &i, 2);
	e->avail[q]++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memcpy(av + 2, &e->avail[q], 2);
	uint64_t one = 1;
	assert_int_equal(write(e->kick[q], &one, 8), 8);
}

static uint16_t used(struct env *e, unsigned q, uint32_t *len)
{
	uint8_t *u = e->mem + RING(q) + 0x2000;
	uint16_t idx;
	memcpy(&idx, u + 2, 2);
	if (idx && len)
		memcpy(len, u + 8 + 8 * ((idx - 1) % QNUM), 4);
	return idx;
}

static void run(struct env *e, int rounds)
{
	for (int i = 0; i < rounds; i++)
		evloop_run_once(e->loop, 20);
}

static void test_net_session_in_qemu_order(void **state)
{
	struct env *e = *state;
	uint64_t f = fe_get(e, VU_GET_FEATURES);
	assert_true(f & F_PF);
	assert_true(f & F_V1);
	assert_true(f & F_MRG);
	assert_true(f & F_GUEST_CSUM);
	assert_false(f & F_MTU); /* no mtu= */
	uint64_t pf = fe_get(e, VU_GET_PROTOCOL_FEATURES);
	assert_true(pf & (1ull << VU_PROTOCOL_F_REPLY_ACK));
	assert_false(pf & (1ull << VU_PROTOCOL_F_CONFIG)); /* QEMU owns mac, status, mtu */
	assert_false(pf & (1ull << VU_PROTOCOL_F_MQ));	   /* one queue pair */
	uint64_t want = 1ull << VU_PROTOCOL_F_REPLY_ACK;
	fe_msg(e, VU_SET_PROTOCOL_FEATURES, false, &want, 8, NULL);
	fe_msg(e, VU_SET_OWNER, false, NULL, 0, NULL);
	/* the guest set its features: QEMU enables the rings before starting them */
	enable_rings(e);
	start(e, F_V1 | F_MRG | F_PF | F_GUEST_CSUM);
	assert_true(vu_backend_active(e->b));

	/* TX: a 12-byte header + frame reaches the tap as one datagram */
	uint8_t pkt[12 + 60], got[128];
	for (unsigned i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 3 + 1);
	memcpy(e->mem + BUF(1), pkt, sizeof(pkt));
	offer(e, 1, 0, 0, sizeof(pkt), false);
	run(e, 3);
	assert_int_equal(recv(e->tap, got, sizeof(got), MSG_DONTWAIT), (ssize_t)sizeof(pkt));
	assert_memory_equal(got, pkt, sizeof(pkt));
	assert_int_equal(used(e, 1, NULL), 1);
	/* RX: num_buffers filled in */
	offer(e, 0, 0, 0, 2048, true);
	run(e, 1);
	memset(pkt, 0, 12);
	assert_int_equal(send(e->tap, pkt, sizeof(pkt), 0), (ssize_t)sizeof(pkt));
	uint32_t len = 0;
	for (int i = 0; i < 20 && !used(e, 0, &len); i++)
		run(e, 1);
	assert_int_equal(used(e, 0, &len), 1);
	assert_int_equal(len, sizeof(pkt));
	uint16_t nb;
	memcpy(&nb, e->mem + BUF(0) + 10, 2);
	assert_int_equal(nb, 1);
	assert_memory_equal(e->mem + BUF(0) + 12, pkt + 12, 60);

	/* The guest resets and comes back as a legacy driver: QEMU stops the
	 * rings, starts them with the new features and restores their enable
	 * state. The header is now 10 bytes. */
	stop(e);
	start(e, F_PF);
	assert_false(vu_backend_active(e->b)); /* rings start disabled */
	enable_rings(e);
	assert_true(vu_backend_active(e->b));
	memcpy(e->mem + BUF(1) + 256, pkt, 10 + 60);
	offer(e, 1, 1, 256, 10 + 60, false);
	run(e, 3);
	assert_int_equal(recv(e->tap, got, sizeof(got), MSG_DONTWAIT), 10 + 60);
	offer(e, 0, 1, 4096, 2048, true);
	run(e, 1);
	assert_int_equal(send(e->tap, pkt, 10 + 60, 0), 10 + 60);
	for (int i = 0; i < 20 && used(e, 0, &len) < 2; i++)
		run(e, 1);
	assert_int_equal(used(e, 0, &len), 2);
	assert_int_equal(len, 10 + 60);
	assert_memory_equal(e->mem + BUF(0) + 4096 + 10, pkt + 10, 60);
}

int main(void)
{
	log_set_prog("test_vhost_user_net");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_net_session_in_qemu_order, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
