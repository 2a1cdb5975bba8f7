/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost-user backend against a scripted frontend: a socketpair carries the
 * messages (with SCM_RIGHTS fds), a memfd is the guest memory, and the real
 * virtio-rng device of the device library is served. Well-formed sessions,
 * malformed messages, bad fds and memory that does not cover a ring.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#define MEM_SIZE  0x100000ull
#define GPA_BASE  0x40000000ull
#define UVA_BASE  0x7f1200000000ull /* where the "frontend" has guest memory mapped */
#define QNUM	  16
#define DESC_OFF  0x1000
#define AVAIL_OFF 0x2000
#define USED_OFF  0x3000
#define BUF_OFF	  0x10000

struct env {
	int fe, be; /* frontend / backend ends */
	int memfd;
	uint8_t *mem; /* our view of guest memory */
	struct evloop *loop;
	struct virtio_dev *dev;
	struct vu_backend *b;
	int kick, call;
};

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	e->fe = sv[0];
	e->be = sv[1];
	e->memfd = memfd_create("guest", MFD_CLOEXEC);
	assert_true(e->memfd >= 0);
	assert_int_equal(ftruncate(e->memfd, MEM_SIZE), 0);
	e->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, e->memfd, 0);
	assert_true(e->mem != MAP_FAILED);
	e->loop = evloop_new();
	assert_non_null(e->loop);
	char err[256];
	e->dev = virtio_dev_create("rng", e->loop, err, sizeof(err));
	assert_non_null(e->dev);
	e->b = vu_backend_new(e->dev, e->loop, e->be);
	assert_non_null(e->b);
	e->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	vu_backend_free(e->b);
	if (e->dev)
		virtio_dev_destroy(e->dev);
	evloop_free(e->loop);
	munmap(e->mem, MEM_SIZE);
	close(e->memfd);
	close(e->fe);
	close(e->be);
	close(e->kick);
	close(e->call);
	free(e);
	return 0;
}

/* Frontend side: send one message with optional fds. */
static void fe_send_raw(struct env *e, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr a;
	} ctl;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds) {
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	assert_int_equal(sendmsg(e->fe, &mh, 0), (ssize_t)len);
}

static void fe_send(struct env *e, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
		    const int *fds, unsigned nfds)
{
	uint8_t buf[sizeof(struct vu_hdr) + VU_MAX_PAYLOAD];
	struct vu_hdr h = {.request = req, .flags = VU_VERSION | flags, .size = size};
	memcpy(buf, &h, sizeof(h));
	if (size)
		memcpy(buf + sizeof(h), payload, size);
	fe_send_raw(e, buf, sizeof(h) + size, fds, nfds);
}

/* Backend side: receive and handle one message; returns the handle result. */
static int be_step(struct env *e)
{
	struct vu_msg m;
	int r = vu_msg_recv(e->be, &m);
	assert_int_equal(r, 1);
	return vu_backend_handle(e->b, &m);
}

/* Read one reply (non-blocking: there must be one). Returns the payload size. */
static uint32_t fe_reply(struct env *e, uint32_t req, void *payload, size_t cap)
{
	struct vu_hdr h;
	assert_int_equal(recv(e->fe, &h, sizeof(h), MSG_DONTWAIT), (ssize_t)sizeof(h));
	assert_int_equal(h.request, req);
	assert_int_equal(h.flags, VU_VERSION | VU_FLAG_REPLY);
	assert_true(h.size <= cap);
	if (h.size)
		assert_int_equal(recv(e->fe, payload, h.size, MSG_DONTWAIT), (ssize_t)h.size);
	return h.size;
}

static void fe_no_reply(struct env *e)
{
	char c;
	assert_int_equal(recv(e->fe, &c, 1, MSG_DONTWAIT), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Send with NEED_REPLY and return the REPLY_ACK value. */
static uint64_t fe_ack(struct env *e, uint32_t req, const void *payload, uint32_t size, const int *fds,
		       unsigned nfds)
{
	fe_send(e, req, VU_FLAG_NEED_REPLY, payload, size, fds, nfds);
	assert_int_equal(be_step(e), 0);
	uint64_t v = 0xdead;
	assert_int_equal(fe_reply(e, req, &v, sizeof(v)), 8);
	return v;
}

static uint64_t fe_get_u64(struct env *e, uint32_t req)
{
	fe_send(e, req, 0, NULL, 0, NULL, 0);
	assert_int_equal(be_step(e), 0);
	uint64_t v = 0;
	assert_int_equal(fe_reply(e, req, &v, sizeof(v)), 8);
	return v;
}

static void negotiate(struct env *e, bool proto)
{
	uint64_t f = fe_get_u64(e, VU_GET_FEATURES);
	assert_true(f & (1ull << VIRTIO_F_VERSION_1));
	assert_true(f & (1ull << VU_F_PROTOCOL_FEATURES));
	fe_send(e, VU_SET_OWNER, 0, NULL, 0, NULL, 0);
	assert_int_equal(be_step(e), 0);
	if (proto) {
		uint64_t pf = fe_get_u64(e, VU_GET_PROTOCOL_FEATURES);
		assert_true(pf & (1ull << VU_PROTOCOL_F_REPLY_ACK));
		/* rng has no config space: CONFIG is not offered. */
		assert_false(pf & (1ull << VU_PROTOCOL_F_CONFIG));
		uint64_t want = (1ull << VU_PROTOCOL_F_REPLY_ACK);
		fe_send(e, VU_SET_PROTOCOL_FEATURES, 0, &want, 8, NULL, 0);
		assert_int_equal(be_step(e), 0);
	} else {
		f &= ~(1ull << VU_F_PROTOCOL_FEATURES);
	}
	f &= ~(1ull << VIRTIO_F_EVENT_IDX);
	fe_send(e, VU_SET_FEATURES, 0, &f, 8, NULL, 0);
	assert_int_equal(be_step(e), 0);
	fe_no_reply(e);
}

static struct vu_mem_table one_region(void)
{
	struct vu_mem_table t = {.nregions = 1};
	t.regions[0] = (struct vu_mem_region){.guest_phys_addr = GPA_BASE,
					      .memory_size = MEM_SIZE,
					      .userspace_addr = UVA_BASE,
					      .mmap_offset = 0};
	return t;
}

static uint32_t table_size(unsigned n)
{
	return 8 + n * (uint32_t)sizeof(struct vu_mem_region);
}

static void set_mem(struct env *e)
{
	struct vu_mem_table t = one_region();
	assert_int_equal(fe_ack(e, VU_SET_MEM_TABLE, &t, table_size(1), &e->memfd, 1), 0);
	assert_int_equal(vu_backend_nregions(e->b), 1);
}

static void setup_ring(struct env *e, bool enable)
{
	struct vu_vring_state st = {.index = 0, .num = QNUM};
	assert_int_equal(fe_ack(e, VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	st.num = 0;
	assert_int_equal(fe_ack(e, VU_SET_VRING_BASE, &st, sizeof(st), NULL, 0), 0);
	struct vu_vring_addr a = {.index = 0,
				  .desc_user_addr = UVA_BASE + DESC_OFF,
				  .used_user_addr = UVA_BASE + USED_OFF,
				  .avail_user_addr = UVA_BASE + AVAIL_OFF};
	assert_int_equal(fe_ack(e, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	uint64_t idx = 0;
	assert_int_equal(fe_ack(e, VU_SET_VRING_CALL, &idx, 8, &e->call, 1), 0);
	assert_int_equal(fe_ack(e, VU_SET_VRING_KICK, &idx, 8, &e->kick, 1), 0);
	if (enable) {
		assert_false(vu_backend_active(e->b)); /* disabled until SET_VRING_ENABLE */
		st = (struct vu_vring_state){.index = 0, .num = 1};
		assert_int_equal(fe_ack(e, VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0), 0);
	}
}

/* Driver side: offer one writable buffer of len bytes at BUF_OFF. */
static void driver_offer(struct env *e, uint16_t slot, uint32_t len)
{
	struct {
		uint64_t addr;
		uint32_t len;
		uint16_t flags, next;
	} __attribute__((packed))
	desc = {.addr = GPA_BASE + BUF_OFF, .len = len, .flags = 2 /* VRING_DESC_F_WRITE */};
	memcpy(e->mem + DESC_OFF + 16 * slot, &desc, sizeof(desc));
	uint16_t idx;
	memcpy(&idx, e->mem + AVAIL_OFF + 2, 2);
	memcpy(e->mem + AVAIL_OFF + 4 + 2 * (idx % QNUM), &slot, 2);
	idx++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memcpy(e->mem + AVAIL_OFF + 2, &idx, 2);
}

static uint16_t used_idx(struct env *e)
{
	uint16_t v;
	memcpy(&v, e->mem + USED_OFF + 2, 2);
	return v;
}

static void kick_and_run(struct env *e)
{
	uint64_t one = 1;
	assert_int_equal(write(e->kick, &one, 8), 8);
	assert_true(evloop_run_once(e->loop, 1000) >= 1);
}

/* ------------------------------------------------------------------ tests */

static void test_full_session_serves_rng(void **state)
{
	struct env *e = *state;
	negotiate(e, true);
	set_mem(e);
	setup_ring(e, true);
	assert_true(vu_backend_active(e->b));

	memset(e->mem + BUF_OFF, 0, 64);
	driver_offer(e, 0, 64);
	kick_and_run(e);
	assert_int_equal(used_idx(e), 1);
	uint32_t id, len;
	memcpy(&id, e->mem + USED_OFF + 4, 4);
	memcpy(&len, e->mem + USED_OFF + 8, 4);
	assert_int_equal(id, 0);
	assert_int_equal(len, 64);
	static const uint8_t zero[64];
	assert_memory_not_equal(e->mem + BUF_OFF, zero, 64);
	uint64_t calls = 0;
	assert_int_equal(read(e->call, &calls, 8), 8); /* the guest was interrupted */
	assert_true(calls >= 1);

	/* GET_VRING_BASE stops the ring and reports where it stood. */
	struct vu_vring_state st = {.index = 0};
	fe_send(e, VU_GET_VRING_BASE, 0, &st, sizeof(st), NULL, 0);
	assert_int_equal(be_step(e), 0);
	assert_int_equal(fe_reply(e, VU_GET_VRING_BASE, &st, sizeof(st)), sizeof(st));
	assert_int_equal(st.index, 0);
	assert_int_equal(st.num, 1);
	assert_false(vu_backend_active(e->b));

	/* A stopped ring does not serve. */
	driver_offer(e, 1, 32);
	uint64_t one = 1;
	assert_int_equal(write(e->kick, &one, 8), 8);
	evloop_run_once(e->loop, 50);
	assert_int_equal(used_idx(e), 1);

	/* Restart from the saved base: the pending buffer is served at start. */
	st = (struct vu_vring_state){.index = 0, .num = 1};
	assert_int_equal(fe_ack(e, VU_SET_VRING_BASE, &st, sizeof(st), NULL, 0), 0);
	int k2 = eventfd(0, EFD_CLOEXEC);
	uint64_t idx = 0;
	assert_int_equal(fe_ack(e, VU_SET_VRING_KICK, &idx, 8, &k2, 1), 0);
	close(k2);
	st = (struct vu_vring_state){.index = 0, .num = 1};
	assert_int_equal(fe_ack(e, VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0), 0);
	assert_true(vu_backend_active(e->b));
	assert_int_equal(used_idx(e), 2);
}

static void test_without_protocol_features_ring_starts_on_kick(void **state)
{
	struct env *e = *state;
	negotiate(e, false);
	struct vu_mem_table t = one_region();
	fe_send(e, VU_SET_MEM_TABLE, 0, &t, table_size(1), &e->memfd, 1);
	assert_int_equal(be_step(e), 0);
	struct vu_vring_state st = {.index = 0, .num = QNUM};
	fe_send(e, VU_SET_VRING_NUM, 0, &st, sizeof(st), NULL, 0);
	assert_int_equal(be_step(e), 0);
	struct vu_vring_addr a = {.desc_user_addr = UVA_BASE + DESC_OFF,
				  .used_user_addr = UVA_BASE + USED_OFF,
				  .avail_user_addr = UVA_BASE + AVAIL_OFF};
	fe_send(e, VU_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0);
	assert_int_equal(be_step(e), 0);
	uint64_t idx = 0;
	fe_send(e, VU_SET_VRING_CALL, 0, &idx, 8, &e->call, 1);
	assert_int_equal(be_step(e), 0);
	assert_false(vu_backend_active(e->b));
	fe_send(e, VU_SET_VRING_KICK, 0, &idx, 8, &e->kick, 1);
	assert_int_equal(be_step(e), 0);
	assert_true(vu_backend_active(e->b));
	/* No REPLY_ACK negotiated: NEED_REPLY gets no ack. */
	fe_send(e, VU_SET_OWNER, VU_FLAG_NEED_REPLY, NULL, 0, NULL, 0);
	assert_int_equal(be_step(e), 0);
	fe_no_reply(e);
	driver_offer(e, 0, 16);
	kick_and_run(e);
	assert_int_equal(used_idx(e), 1);
}

static void test_bad_mem_tables(void **state)
{
	struct env *e = *state;
	negotiate(e, true);
	int before = count_fds();
	struct vu_mem_table t = one_region();
	int fds[VU_MAX_REGIONS + 1];
	for (unsigned i = 0; i < VU_MAX_REGIONS + 1; i++)
		fds[i] = e->memfd;

	/* Region count and payload size disagree. */
	assert_int_not_equal(fe_ack(e, VU_SET_MEM_TABLE, &t, table_size(1) - 8, fds, 1), 0);
	/* Zero regions, nine regions. */
	t.nregions = 0;
	assert_int_not_equal(fe_ack(e, VU_SET_MEM_TABLE, &t, 8, NULL, 0), 0);
	t.nregions = 9;
	assert_int_not_equal(fe_ack(e, VU_SET_MEM_TABLE, &t, table_size(8), fds, 8), 0);
	/* One region, no fd; one region, two fds. */
	t = one_region();
	assert_int_not_equal(fe_ack(e, VU_SET_MEM_TABLE, &t, table_size(1), NULL, 0), 0);
	assert_int_not_equal(fe_ack(e, VU_SET_MEM_TABLE, &t, table_size(1), fds, 2), 0);
	/* Larger than the file behind the fd (would SIGBUS). */
	t.regions[0].memory_size = MEM_SIZE * 2;
	assert_int_not_equal(fe_ack(e, VU_SET_MEM_TABLE, &t, table_size(1), fds, 1), 0);
	/* Offset past the end; wrapping addresses; empty region. */
	t = one_region();
	t.regions[0].mmap_offset = MEM_SIZE;
	assert_int_not_equal(fe_ack(e, VU_SET_MEM_TABLE, &t, table_size(1), fds, 1), 0);
	t = one_region();
	t.regions[0].guest_phys_addr = UINT64_MAX - 0x1000;
	assert_int_not_equal(fe_ack(e, VU_SET_MEM_TABLE, &t, table_size(1), fds, 1), 0);
	t = one_region();
	t.regions[0].memory_size = 0;
	assert_int_not_equal(fe_ack(e, VU_SET_MEM_TABLE, &t, table_size(1), fds, 1), 0);
	/* Overlapping regions. */
	t = one_region();
	t.nregions = 2;
	t.regions[0].memory_size = MEM_SIZE / 2;
	t.regions[1] = t.regions[0];
	t.regions[1].userspace_addr += MEM_SIZE;
	t.regions[1].mmap_offset = MEM_SIZE / 2;
	assert_int_not_equal(fe_ack(e, VU_SET_MEM_TABLE, &t, table_size(2), fds, 2), 0);
	/* An fd that is not a file: an eventfd. */
	t = one_region();
	assert_int_not_equal(fe_ack(e, VU_SET_MEM_TABLE, &t, table_size(1), &e->kick, 1), 0);

	assert_int_equal(vu_backend_nregions(e->b), 0);
	assert_int_equal(count_fds(), before); /* every passed fd was closed */

	/* Two adjacent regions from one file work. */
	t = one_region();
	t.nregions = 2;
	t.regions[0].memory_size = MEM_SIZE / 2;
	t.regions[1] = (struct vu_mem_region){.guest_phys_addr = GPA_BASE + MEM_SIZE / 2,
					      .memory_size = MEM_SIZE / 2,
					      .userspace_addr = UVA_BASE + MEM_SIZE / 2,
					      .mmap_offset = MEM_SIZE / 2};
	assert_int_equal(fe_ack(e, VU_SET_MEM_TABLE, &t, table_size(2), fds, 2), 0);
	assert_int_equal(vu_backend_nregions(e->b), 2);
	/* A failed replacement keeps the working table. */
	t.regions[1].memory_size = MEM_SIZE;
	assert_int_not_equal(fe_ack(e, VU_SET_MEM_TABLE, &t, table_size(2), fds, 2), 0);
	assert_int_equal(vu_backend_nregions(e->b), 2);
}

static void test_rings_outside_memory(void **state)
{
	struct env *e = *state;
	negotiate(e, true);
	/* Memory covers only the first 0x2800 bytes: the used ring at 0x3000 is outside. */
	struct vu_mem_table t = one_region();
	t.regions[0].memory_size = 0x2800;
	assert_int_equal(fe_ack(e, VU_SET_MEM_TABLE, &t, table_size(1), &e->memfd, 1), 0);
	struct vu_vring_state st = {.index = 0, .num = QNUM};
	assert_int_equal(fe_ack(e, VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	struct vu_vring_addr a = {.desc_user_addr = UVA_BASE + DESC_OFF,
				  .used_user_addr = UVA_BASE + USED_OFF,
				  .avail_user_addr = UVA_BASE + AVAIL_OFF};
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	/* The avail ring straddles the end of the region. */
	a.used_user_addr = UVA_BASE + 0x100;
	a.avail_user_addr = UVA_BASE + 0x2800 - 8;
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	/* A guest-physical address given instead of a frontend address. */
	a.avail_user_addr = GPA_BASE + AVAIL_OFF;
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	/* Misaligned descriptor table; dirty-log flag. */
	a.avail_user_addr = UVA_BASE + AVAIL_OFF;
	a.desc_user_addr = UVA_BASE + DESC_OFF + 8;
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	a.desc_user_addr = UVA_BASE + DESC_OFF;
	a.flags = 1;
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	a.flags = 0;
	assert_int_equal(fe_ack(e, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	/* Wrong payload size. */
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_ADDR, &a, sizeof(a) - 8, NULL, 0), 0);
}

static void test_bad_ring_messages(void **state)
{
	struct env *e = *state;
	negotiate(e, true);
	set_mem(e);
	int before = count_fds();
	struct vu_vring_state st = {.index = 1, .num = QNUM}; /* rng has one queue */
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	st = (struct vu_vring_state){.index = 0, .num = 12};
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	st.num = 0;
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	st.num = 65536;
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	st.num = 0x10000;
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_BASE, &st, sizeof(st), NULL, 0), 0);
	/* Addresses before the size. */
	struct vu_vring_addr a = {.desc_user_addr = UVA_BASE + DESC_OFF,
				  .used_user_addr = UVA_BASE + USED_OFF,
				  .avail_user_addr = UVA_BASE + AVAIL_OFF};
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);

	/* Kick/call fds: index out of range, fd count vs. the no-fd flag, unknown bits. */
	uint64_t v = 5;
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_KICK, &v, 8, &e->kick, 1), 0);
	v = 0;
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_CALL, &v, 8, NULL, 0), 0);
	v = VU_VRING_NOFD_MASK;
	int two[2] = {e->kick, e->call};
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_CALL, &v, 8, two, 1), 0);
	v = 0;
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_CALL, &v, 8, two, 2), 0);
	v = 1ull << 40;
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_ERR, &v, 8, &e->kick, 1), 0);
	/* A kick fd that cannot be polled (a regular file). */
	v = 0;
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_KICK, &v, 8, &e->memfd, 1), 0);
	assert_int_equal(count_fds(), before);
	/* ENABLE value other than 0/1. */
	st = (struct vu_vring_state){.index = 0, .num = 7};
	assert_int_not_equal(fe_ack(e, VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0), 0);
	/* Features we never offered. */
	uint64_t f = 1ull << 60;
	assert_int_not_equal(fe_ack(e, VU_SET_FEATURES, &f, 8, NULL, 0), 0);
	f = 1ull << 63;
	assert_int_not_equal(fe_ack(e, VU_SET_PROTOCOL_FEATURES, &f, 8, NULL, 0), 0);
	/* Unknown request. */
	assert_int_not_equal(fe_ack(e, 999, NULL, 0, NULL, 0), 0);
	assert_int_not_equal(fe_ack(e, VU_SET_LOG_BASE, &f, 8, NULL, 0), 0);
	assert_false(vu_backend_active(e->b));

	/* GET_VRING_BASE for a ring that does not exist: no answer possible, drop. */
	st = (struct vu_vring_state){.index = 9};
	fe_send(e, VU_GET_VRING_BASE, 0, &st, sizeof(st), NULL, 0);
	assert_int_equal(be_step(e), -EPROTO);
	/* A "reply" sent by the frontend. */
	fe_send(e, VU_GET_FEATURES, VU_FLAG_REPLY, NULL, 0, NULL, 0);
	assert_int_equal(be_step(e), -EPROTO);
}

static void test_config_space(void **state)
{
	struct env *e = *state;
	negotiate(e, true);
	/* rng has no config space: any read is outside it and answered empty. */
	struct vu_config c = {.offset = 0, .size = 4};
	fe_send(e, VU_GET_CONFIG, 0, &c, VU_CONFIG_HDR_SIZE + 4, NULL, 0);
	assert_int_equal(be_step(e), 0);
	assert_int_equal(fe_reply(e, VU_GET_CONFIG, &c, sizeof(c)), 0);
	c = (struct vu_config){.offset = 0, .size = 300};
	fe_send(e, VU_GET_CONFIG, 0, &c, VU_CONFIG_HDR_SIZE + 4, NULL, 0);
	assert_int_equal(be_step(e), 0);
	assert_int_equal(fe_reply(e, VU_GET_CONFIG, &c, sizeof(c)), 0);
	/* Empty read at offset 0 of an empty space is valid. */
	c = (struct vu_config){.offset = 0, .size = 0};
	fe_send(e, VU_GET_CONFIG, 0, &c, VU_CONFIG_HDR_SIZE, NULL, 0);
	assert_int_equal(be_step(e), 0);
	assert_int_equal(fe_reply(e, VU_GET_CONFIG, &c, sizeof(c)), VU_CONFIG_HDR_SIZE);
	c = (struct vu_config){.offset = 0, .size = 4};
	assert_int_not_equal(fe_ack(e, VU_SET_CONFIG, &c, VU_CONFIG_HDR_SIZE + 4, NULL, 0), 0);
}

static void test_queue_num_and_reset(void **state)
{
	struct env *e = *state;
	assert_int_equal(fe_get_u64(e, VU_GET_QUEUE_NUM), 1);
	negotiate(e, true);
	set_mem(e);
	setup_ring(e, true);
	assert_true(vu_backend_active(e->b));
	assert_int_equal(fe_ack(e, VU_RESET_DEVICE, NULL, 0, NULL, 0), 0);
	assert_false(vu_backend_active(e->b));
	assert_int_equal(vu_backend_features(e->b), 0);
	/* After a reset the ring needs a full setup again. */
	uint64_t one = 1;
	driver_offer(e, 0, 8);
	assert_int_equal(write(e->kick, &one, 8), 8);
	evloop_run_once(e->loop, 50);
	assert_int_equal(used_idx(e), 0);
}

static void test_framing_errors(void **state)
{
	struct env *e = *state;
	struct vu_msg m;
	/* Wrong version. */
	struct vu_hdr h = {.request = VU_GET_FEATURES, .flags = 2, .size = 0};
	fe_send_raw(e, &h, sizeof(h), NULL, 0);
	assert_int_equal(vu_msg_recv(e->be, &m), -EBADMSG);
	/* Payload larger than any message. */
	h = (struct vu_hdr){.request = VU_SET_FEATURES, .flags = VU_VERSION, .size = 1u << 20};
	fe_send_raw(e, &h, sizeof(h), &e->kick, 1);
	int before = count_fds();
	assert_int_equal(vu_msg_recv(e->be, &m), -EBADMSG);
	assert_int_equal(count_fds(), before); /* the passed fd did not leak */
	/* Truncated payload then EOF. */
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	h = (struct vu_hdr){.request = VU_SET_FEATURES, .flags = VU_VERSION, .size = 8};
	assert_int_equal(write(sv[0], &h, sizeof(h)), (ssize_t)sizeof(h));
	assert_int_equal(write(sv[0], "abc", 3), 3);
	close(sv[0]);
	assert_int_equal(vu_msg_recv(sv[1], &m), -EBADMSG);
	/* Clean EOF. */
	assert_int_equal(vu_msg_recv(sv[1], &m), 0);
	close(sv[1]);
}

/* A malformed chain breaks the device: the transport signals the ring's error
 * eventfd and stops serving until the frontend resets. */
static void test_malformed_chain_signals_error_fd(void **state)
{
	struct env *e = *state;
	negotiate(e, true);
	set_mem(e);
	int errfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t idx = 0;
	assert_int_equal(fe_ack(e, VU_SET_VRING_ERR, &idx, 8, &errfd, 1), 0);
	setup_ring(e, true);
	assert_true(vu_backend_active(e->b));
	/* A descriptor pointing outside guest memory. */
	uint64_t addr = GPA_BASE + MEM_SIZE + 0x1000;
	uint32_t len = 64;
	uint16_t flags = 2, slot = 0, one16 = 1;
	memcpy(e->mem + DESC_OFF, &addr, 8);
	memcpy(e->mem + DESC_OFF + 8, &len, 4);
	memcpy(e->mem + DESC_OFF + 12, &flags, 2);
	memcpy(e->mem + AVAIL_OFF + 4, &slot, 2);
	memcpy(e->mem + AVAIL_OFF + 2, &one16, 2);
	kick_and_run(e);
	uint64_t v = 0;
	assert_int_equal(read(errfd, &v, 8), 8);
	assert_true(v >= 1);
	assert_int_equal(used_idx(e), 0);
	/* Broken: a good buffer is not served until reset. */
	driver_offer(e, 1, 16);
	uint64_t one = 1;
	assert_int_equal(write(e->kick, &one, 8), 8);
	evloop_run_once(e->loop, 50);
	assert_int_equal(used_idx(e), 0);
	close(errfd);
}

/* vsock: QEMU keeps the event queue (2) in the frontend, so the device runs
 * once rx (0) and tx (1) do; its config space (guest_cid) is read with
 * GET_CONFIG, which is offered for it. */
static void test_vsock_runs_on_rx_tx_and_reports_cid(void **state)
{
	struct env *e = *state;
	char dir[] = "/tmp/test-vhost-vsock-XXXXXX", uds[64], err[256];
	assert_non_null(mkdtemp(dir));
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	char spec[128];
	snprintf(spec, sizeof(spec), "vsock,uds=%s,cid=42", uds);
	struct virtio_dev *vs = virtio_dev_create(spec, e->loop, err, sizeof(err));
	assert_non_null(vs);
	vu_backend_free(e->b);
	virtio_dev_destroy(e->dev);
	e->dev = vs;
	e->b = vu_backend_new(vs, e->loop, e->be);

	assert_int_equal(fe_get_u64(e, VU_GET_QUEUE_NUM), 3);
	uint64_t pf = fe_get_u64(e, VU_GET_PROTOCOL_FEATURES);
	assert_true(pf & (1ull << VU_PROTOCOL_F_CONFIG));
	uint64_t want = (1ull << VU_PROTOCOL_F_REPLY_ACK) | (1ull << VU_PROTOCOL_F_CONFIG);
	fe_send(e, VU_SET_PROTOCOL_FEATURES, 0, &want, 8, NULL, 0);
	assert_int_equal(be_step(e), 0);
	struct vu_config c = {.offset = 0, .size = 8};
	fe_send(e, VU_GET_CONFIG, 0, &c, VU_CONFIG_HDR_SIZE + 8, NULL, 0);
	assert_int_equal(be_step(e), 0);
	assert_int_equal(fe_reply(e, VU_GET_CONFIG, &c, sizeof(c)), VU_CONFIG_HDR_SIZE + 8);
	uint64_t cid;
	memcpy(&cid, c.region, 8);
	assert_int_equal(cid, 42);
	/* The range check GET_CONFIG and SET_CONFIG share, at the edges of the
	 * 8-byte space: crossing its end or wrapping around is refused (an empty
	 * reply), an empty read at its end is valid. */
	const struct vu_config edges[] = {
	    {.offset = 4, .size = 8}, {.offset = 9, .size = 0}, {.offset = UINT32_MAX, .size = 8}};
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		c = edges[i];
		fe_send(e, VU_GET_CONFIG, 0, &c, VU_CONFIG_HDR_SIZE + c.size, NULL, 0);
		assert_int_equal(be_step(e), 0);
		assert_int_equal(fe_reply(e, VU_GET_CONFIG, &c, sizeof(c)), 0);
	}
	c = (struct vu_config){.offset = 8, .size = 0};
	fe_send(e, VU_GET_CONFIG, 0, &c, VU_CONFIG_HDR_SIZE, NULL, 0);
	assert_int_equal(be_step(e), 0);
	assert_int_equal(fe_reply(e, VU_GET_CONFIG, &c, sizeof(c)), VU_CONFIG_HDR_SIZE);
	/* In range, but vsock's config space is read-only; out of range likewise. */
	c = (struct vu_config){.offset = 0, .size = 8};
	assert_int_not_equal(fe_ack(e, VU_SET_CONFIG, &c, VU_CONFIG_HDR_SIZE + 8, NULL, 0), 0);
	c = (struct vu_config){.offset = 4, .size = 8};
	assert_int_not_equal(fe_ack(e, VU_SET_CONFIG, &c, VU_CONFIG_HDR_SIZE + 8, NULL, 0), 0);

	uint64_t f = fe_get_u64(e, VU_GET_FEATURES);
	fe_send(e, VU_SET_FEATURES, 0, &f, 8, NULL, 0);
	assert_int_equal(be_step(e), 0);
	set_mem(e);
	int kicks[2], calls[2];
	for (uint32_t q = 0; q < 2; q++) {
		kicks[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		calls[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		uint32_t base = q * 0x8000;
		struct vu_vring_state st = {.index = q, .num = QNUM};
		assert_int_equal(fe_ack(e, VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
		struct vu_vring_addr a = {.index = q,
					  .desc_user_addr = UVA_BASE + base + DESC_OFF,
					  .used_user_addr = UVA_BASE + base + USED_OFF,
					  .avail_user_addr = UVA_BASE + base + AVAIL_OFF};
		assert_int_equal(fe_ack(e, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
		uint64_t idx = q;
		assert_int_equal(fe_ack(e, VU_SET_VRING_CALL, &idx, 8, &calls[q], 1), 0);
		assert_int_equal(fe_ack(e, VU_SET_VRING_KICK, &idx, 8, &kicks[q], 1), 0);
		st = (struct vu_vring_state){.index = q, .num = 1};
		assert_int_equal(fe_ack(e, VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0), 0);
		/* Active exactly when both rx and tx run; the event queue never comes. */
		assert_int_equal(vu_backend_active(e->b), q == 1);
	}
	/* Stopping one ring stops the device. */
	struct vu_vring_state st = {.index = 1};
	fe_send(e, VU_GET_VRING_BASE, 0, &st, sizeof(st), NULL, 0);
	assert_int_equal(be_step(e), 0);
	assert_int_equal(fe_reply(e, VU_GET_VRING_BASE, &st, sizeof(st)), sizeof(st));
	assert_false(vu_backend_active(e->b));
	for (int q = 0; q < 2; q++) {
		close(kicks[q]);
		close(calls[q]);
	}
	vu_backend_free(e->b);
	e->b = NULL;
	virtio_dev_destroy(e->dev);
	e->dev = NULL;
	unlink(uds);
	rmdir(dir);
}

int main(void)
{
	log_set_prog("test_vhost_user");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_full_session_serves_rng, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_without_protocol_features_ring_starts_on_kick, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_bad_mem_tables, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rings_outside_memory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_ring_messages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_num_and_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_framing_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vsock_runs_on_rx_tx_and_reports_cid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_chain_signals_error_fd, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
