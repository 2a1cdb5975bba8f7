/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock device end to end without a VM: a fake guest driver in this
 * test owns the rings in a fake guest memory, real UDS sockets on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/evloop.h"
#include "vmm/devices/virtio.h"
#include "vmm/devices/vsock_conn.h"

#define GPA   0x100000ull
#define MEMSZ (1u << 20)
#define QN    16
#define BUFSZ 4096
#define GCID  3

static uint8_t mem[MEMSZ] __attribute__((aligned(4096)));
static struct gmem gm = {.n = 1, .r = {{.gpa = GPA, .size = MEMSZ, .hva = mem}}};

struct gq { /* guest side of one queue */
	uint32_t desc, avail, used, data;
	uint16_t avail_idx, last_used;
};
static struct gq gq[3];
static struct virtio_dev *dev;
static struct evloop *loop;
static char dir[64], uds[128];
static int irqs[3];

static void t_notify(struct virtio_dev *d, unsigned q)
{
	irqs[q]++;
}
static const struct virtio_transport_ops tops = {.notify_queue = t_notify};

static void set_desc(struct gq *q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *p = mem + q->desc + 16 * i;
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}
static void avail_add(struct gq *q, uint16_t head)
{
	memcpy(mem + q->avail + 4 + 2 * (q->avail_idx % QN), &head, 2);
	q->avail_idx++;
	memcpy(mem + q->avail + 2, &q->avail_idx, 2);
}
static uint32_t bufaddr(struct gq *q, unsigned i)
{
	return q->data + BUFSZ * i;
}

/* Take the next used entry; returns its head or -1. */
static int used_take(struct gq *q, uint32_t *len)
{
	uint16_t idx;
	memcpy(&idx, mem + q->used + 2, 2);
	if (idx == q->last_used)
		return -1;
	uint32_t id;
	memcpy(&id, mem + q->used + 4 + 8 * (q->last_used % QN), 4);
	memcpy(len, mem + q->used + 8 + 8 * (q->last_used % QN), 4);
	q->last_used++;
	return (int)id;
}

static void rx_post(unsigned i)
{
	set_desc(&gq[0], i, GPA + bufaddr(&gq[0], i), BUFSZ, 2, 0);
	avail_add(&gq[0], (uint16_t)i);
}

static void pump(int rounds)
{
	for (int i = 0; i < rounds; i++)
		evloop_run_once(loop, 20);
}

/* Next packet the device sent to the guest; payload copied to pl. */
static bool rx_get(struct vsock_hdr *h, void *pl, size_t cap)
{
	uint32_t len;
	int head = -1;
	for (int i = 0; i < 50 && (head = used_take(&gq[0], &len)) < 0; i++)
		pump(1);
	if (head < 0)
		return false;
	assert_true(len >= VSOCK_HDR_LEN);
	vsock_hdr_decode(mem + bufaddr(&gq[0], (unsigned)head), h);
	assert_int_equal(len, VSOCK_HDR_LEN + h->len);
	if (pl)
		memcpy(pl, mem + bufaddr(&gq[0], (unsigned)head) + VSOCK_HDR_LEN,
		       h->len < cap ? h->len : cap);
	rx_post((unsigned)head);
	dev->ops->queue_notify(dev, 0);
	return true;
}

static unsigned tx_slot;
static void tx_send(uint32_t gport, uint32_t hport, uint16_t op, uint32_t flags, const void *pl, uint32_t len,
		    uint32_t buf_alloc, uint32_t fwd_cnt)
{
	struct vsock_hdr h = {GCID, 2, gport, hport, len, 1, op, flags, buf_alloc, fwd_cnt};
	struct gq *q = &gq[1];
	unsigned d = (tx_slot++ % (QN / 2)) * 2;
	uint32_t a = bufaddr(q, d);
	vsock_hdr_encode(&h, mem + a);
	if (len)
		memcpy(mem + a + BUFSZ, pl, len);
	set_desc(q, d, GPA + a, VSOCK_HDR_LEN, 1, (uint16_t)(d + 1));
	set_desc(q, d + 1, GPA + a + BUFSZ, len, 0, 0);
	avail_add(q, (uint16_t)d);
	dev->ops->queue_notify(dev, 1);
	uint32_t ulen;
	assert_true(used_take(q, &ulen) >= 0);
}

static int setup(void **state)
{
	memset(mem, 0, sizeof(mem));
	memset(gq, 0, sizeof(gq));
	memset(irqs, 0, sizeof(irqs));
	tx_slot = 0;
	strcpy(dir, "/tmp/test_vsock_XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	loop = evloop_new();
	char spec[200], err[256] = "";
	snprintf(spec, sizeof(spec), "vsock,uds=%s,cid=%d,timeout_ms=300", uds, GCID);
	dev = virtio_dev_create(spec, loop, err, sizeof(err));
	if (!dev) {
		fail_msg("create: %s", err);
		return -1;
	}
	dev->mem = &gm;
	dev->transport = &tops;
	for (int i = 0; i < 3; i++) {
		gq[i].desc = 0x10000u * (unsigned)i;
		gq[i].avail = gq[i].desc + 0x1000;
		gq[i].used = gq[i].desc + 0x2000;
		gq[i].data = 0x40000u + 0x40000u * (unsigned)i;
		struct virtq *vq = &dev->vq[i];
		vq->num = QN;
		vq->ready = true;
		vq->desc = GPA + gq[i].desc;
		vq->avail = GPA + gq[i].avail;
		vq->used = GPA + gq[i].used;
		vq->mem = &gm;
	}
	assert_int_equal(dev->ops->activate(dev), 0);
	for (unsigned i = 0; i < 8; i++)
		rx_post(i);
	dev->ops->queue_notify(dev, 0);
	return 0;
}

static int teardown(void **state)
{
	virtio_dev_destroy(dev);
	struct stat st;
	assert_int_equal(stat(uds, &st), -1); /* the listening socket is gone */
	evloop_free(loop);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static int client_connect(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static int listen_at(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

/* Read exactly n bytes from fd while pumping the loop. Returns the count, 0
 * for EOF (or a reset) before any byte, -2 when nothing happened in time. */
static ssize_t read_pumped(int fd, void *buf, size_t n)
{
	size_t got = 0;
	for (int i = 0; i < 100 && got < n; i++) {
		pump(1);
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 10) <= 0)
			continue;
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r <= 0)
			return got ? (ssize_t)got : 0;
		got += (size_t)r;
	}
	return got ? (ssize_t)got : -2;
}

/* Host client connects to guest port 1024; the fake guest accepts. */
static int h2g_established(uint32_t *hport, uint32_t guest_buf)
{
	int cfd = client_connect(uds);
	assert_int_equal(write(cfd, "CONNECT 1024\n", 13), 13);
	struct vsock_hdr h;
	assert_true(rx_get(&h, NULL, 0));
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	assert_int_equal(h.dst_port, 1024);
	assert_int_equal(h.dst_cid, GCID);
	*hport = h.src_port;
	tx_send(1024, h.src_port, VSOCK_OP_RESPONSE, 0, NULL, 0, guest_buf, 0);
	char ok[32] = {0};
	char want[32];
	int wl = snprintf(want, sizeof(want), "OK %u\n", h.src_port);
	assert_int_equal(read_pumped(cfd, ok, (size_t)wl), wl);
	assert_string_equal(ok, want);
	return cfd;
}

static void test_create_errors(void **state)
{
	char err[256], spec[300];
	/* path in use by a live listener (ours) */
	snprintf(spec, sizeof(spec), "vsock,uds=%s", uds);
	assert_null(virtio_dev_create(spec, loop, err, sizeof(err)));
	assert_non_null(strstr(err, "in use"));
	assert_null(virtio_dev_create("vsock", loop, err, sizeof(err)));
	assert_non_null(strstr(err, "missing uds"));
	assert_null(virtio_dev_create("vsock,uds=/tmp/x,cid=2", loop, err, sizeof(err)));
	assert_non_null(strstr(err, "bad cid"));
	assert_null(virtio_dev_create("vsock,uds=/tmp/x,color=red", loop, err, sizeof(err)));
	assert_non_null(strstr(err, "color"));
	char longp[120];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	snprintf(spec, sizeof(spec), "vsock,uds=%s", longp);
	assert_null(virtio_dev_create(spec, loop, err, sizeof(err)));
	assert_non_null(strstr(err, "too long"));
	/* a stale socket file (no listener) is replaced */
	char stale[128];
	snprintf(stale, sizeof(stale), "%s/stale.sock", dir);
	int fd = listen_at(stale);
	close(fd);
	snprintf(spec, sizeof(spec), "vsock,uds=%s", stale);
	struct virtio_dev *d2 = virtio_dev_create(spec, loop, err, sizeof(err));
	assert_non_null(d2);
	virtio_dev_destroy(d2);
	assert_int_equal(access(stale, F_OK), -1);
	/* config space holds the cid */
	uint64_t cid;
	assert_int_equal(dev->config_len, 8);
	memcpy(&cid, dev->config, 8);
	assert_int_equal(cid, GCID);
}

static void test_host_to_guest(void **state)
{
	uint32_t hport;
	int cfd = h2g_established(&hport, 65536);
	/* host -> guest data */
	assert_int_equal(write(cfd, "hello", 5), 5);
	struct vsock_hdr h;
	char pl[64] = {0};
	assert_true(rx_get(&h, pl, sizeof(pl)));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.len, 5);
	assert_memory_equal(pl, "hello", 5);
	/* guest -> host data */
	tx_send(1024, hport, VSOCK_OP_RW, 0, "world!", 6, 65536, 5);
	char buf[16] = {0};
	assert_int_equal(read_pumped(cfd, buf, 6), 6);
	assert_string_equal(buf, "world!");
	/* host half-close -> guest SHUTDOWN(SEND) */
	shutdown(cfd, SHUT_WR);
	assert_true(rx_get(&h, NULL, 0));
	assert_int_equal(h.op, VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, VSOCK_SHUT_SEND);
	/* the guest can still send; then closes: RST and the client sees EOF */
	tx_send(1024, hport, VSOCK_OP_RW, 0, "bye", 3, 65536, 5);
	tx_send(1024, hport, VSOCK_OP_SHUTDOWN, 3, NULL, 0, 65536, 5);
	assert_true(rx_get(&h, NULL, 0));
	assert_int_equal(h.op, VSOCK_OP_RST);
	assert_int_equal(read_pumped(cfd, buf, 3), 3);
	assert_memory_equal(buf, "bye", 3);
	assert_int_equal(read_pumped(cfd, buf, 1), 0);
	close(cfd);
}

static void test_host_to_guest_refused(void **state)
{
	int cfd = client_connect(uds);
	assert_int_equal(write(cfd, "CONNECT 77\n", 11), 11);
	struct vsock_hdr h;
	assert_true(rx_get(&h, NULL, 0));
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	tx_send(77, h.src_port, VSOCK_OP_RST, 0, NULL, 0, 0, 0);
	char b[8];
	assert_int_equal(read_pumped(cfd, b, 1), 0); /* closed without OK */
	close(cfd);
	/* a bad CONNECT line closes the client too */
	cfd = client_connect(uds);
	assert_int_equal(write(cfd, "CONNECT x\n", 10), 10);
	assert_int_equal(read_pumped(cfd, b, 1), 0);
	close(cfd);
}

static void test_guest_to_host(void **state)
{
	char path[160];
	snprintf(path, sizeof(path), "%s_5000", uds);
	int lfd = listen_at(path);
	tx_send(1234, 5000, VSOCK_OP_REQUEST, 0, NULL, 0, 65536, 0);
	struct vsock_hdr h;
	assert_true(rx_get(&h, NULL, 0));
	assert_int_equal(h.op, VSOCK_OP_RESPONSE);
	assert_int_equal(h.src_port, 5000);
	assert_int_equal(h.dst_port, 1234);
	int afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	tx_send(1234, 5000, VSOCK_OP_RW, 0, "ping", 4, 65536, 0);
	char buf[8] = {0};
	assert_int_equal(read_pumped(afd, buf, 4), 4);
	assert_string_equal(buf, "ping");
	assert_int_equal(write(afd, "pong", 4), 4);
	char pl[8] = {0};
	assert_true(rx_get(&h, pl, sizeof(pl)));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_memory_equal(pl, "pong", 4);
	/* guest shuts its send side: the host peer sees EOF but can still write */
	tx_send(1234, 5000, VSOCK_OP_SHUTDOWN, VSOCK_SHUT_SEND, NULL, 0, 65536, 4);
	assert_int_equal(read_pumped(afd, buf, 1), 0);
	assert_int_equal(write(afd, "late", 4), 4);
	assert_true(rx_get(&h, pl, sizeof(pl)));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_memory_equal(pl, "late", 4);
	/* host closes: SHUTDOWN to the guest, then (both done) RST */
	close(afd);
	assert_true(rx_get(&h, NULL, 0));
	assert_int_equal(h.op, VSOCK_OP_SHUTDOWN);
	assert_true(rx_get(&h, NULL, 0));
	assert_int_equal(h.op, VSOCK_OP_RST);
	close(lfd);
	unlink(path);
}

static void test_guest_to_host_no_listener(void **state)
{
	tx_send(1234, 6000, VSOCK_OP_REQUEST, 0, NULL, 0, 65536, 0);
	struct vsock_hdr h;
	assert_true(rx_get(&h, NULL, 0));
	assert_int_equal(h.op, VSOCK_OP_RST);
	assert_int_equal(h.dst_port, 1234);
	assert_int_equal(h.src_port, 6000);
}

static void test_credit_flow_host_to_guest(void **state)
{
	uint32_t hport;
	int cfd = h2g_established(&hport, 16); /* guest buffer: 16 bytes */
	char big[100];
	for (int i = 0; i < 100; i++)
		big[i] = (char)i;
	assert_int_equal(write(cfd, big, sizeof(big)), 100);
	struct vsock_hdr h;
	char pl[128];
	assert_true(rx_get(&h, pl, sizeof(pl)));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.len, 16);
	assert_memory_equal(pl, big, 16);
	/* no credit: nothing more arrives */
	pump(5);
	uint32_t len;
	assert_int_equal(used_take(&gq[0], &len), -1);
	/* guest consumed it: 16 more */
	tx_send(1024, hport, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0, 16, 16);
	assert_true(rx_get(&h, pl, sizeof(pl)));
	assert_int_equal(h.len, 16);
	assert_memory_equal(pl, big + 16, 16);
	/* a larger window drains the rest */
	tx_send(1024, hport, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0, 4096, 32);
	size_t got = 32;
	while (got < 100 && rx_get(&h, pl, sizeof(pl))) {
		assert_int_equal(h.op, VSOCK_OP_RW);
		assert_memory_equal(pl, big + got, h.len);
		got += h.len;
	}
	assert_int_equal(got, 100);
	close(cfd);
}

static void test_credit_flow_guest_to_host(void **state)
{
	uint32_t hport;
	int cfd = h2g_established(&hport, 65536);
	/* the device's window, from the REQUEST it sent */
	uint32_t window = 256 * 1024, fwd = 0, sent = 0;
	/* the host client does not read: a well-behaved guest sends until the
	 * window is used up; the device must take it all (socket + bounded buffer) */
	static char chunk[4096];
	for (unsigned i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)(i * 7);
	struct vsock_hdr h;
	while (sent - fwd < window) {
		uint32_t n = window - (sent - fwd);
		if (n > sizeof(chunk))
			n = sizeof(chunk);
		tx_send(1024, hport, VSOCK_OP_RW, 0, chunk, n, 65536, 0);
		sent += n;
		uint32_t len;
		int head;
		while ((head = used_take(&gq[0], &len)) >= 0) {
			vsock_hdr_decode(mem + bufaddr(&gq[0], (unsigned)head), &h);
			if (h.op == VSOCK_OP_CREDIT_UPDATE)
				fwd = h.fwd_cnt;
			assert_int_not_equal(h.op, VSOCK_OP_RST);
			rx_post((unsigned)head);
			dev->ops->queue_notify(dev, 0);
		}
	}
	assert_true(sent >= window);
	size_t total = 0;
	char buf[8192];
	/* the client reads everything: all bytes arrive, in order */
	while (total < sent) {
		ssize_t r = read_pumped(cfd, buf, sizeof(buf));
		assert_true(r > 0);
		for (ssize_t i = 0; i < r; i++)
			assert_int_equal(buf[i], chunk[(total + (size_t)i) % sizeof(chunk)]);
		total += (size_t)r;
	}
	assert_int_equal(total, sent);
	/* and the credit updates account for it */
	while (rx_get(&h, NULL, 0))
		if (h.op == VSOCK_OP_CREDIT_UPDATE)
			fwd = h.fwd_cnt;
	assert_true(sent - fwd < window / 2);
	close(cfd);
}

static void test_credit_violation_resets(void **state)
{
	uint32_t hport;
	int cfd = h2g_established(&hport, 65536);
	static char chunk[8192];
	uint32_t sent = 0;
	struct vsock_hdr h;
	bool rst = false;
	/* a guest ignoring credit while the client never reads gets a RST, and the
	 * device never buffers more than its window */
	for (int i = 0; i < 200 && !rst; i++) {
		tx_send(1024, hport, VSOCK_OP_RW, 0, chunk, sizeof(chunk), 65536, 0);
		sent += sizeof(chunk);
		uint32_t len;
		int head;
		while ((head = used_take(&gq[0], &len)) >= 0) {
			vsock_hdr_decode(mem + bufaddr(&gq[0], (unsigned)head), &h);
			rst |= h.op == VSOCK_OP_RST;
			rx_post((unsigned)head);
		}
		dev->ops->queue_notify(dev, 0);
	}
	assert_true(rst);
	close(cfd);
}

static void test_not_active_closes_clients(void **state)
{
	virtio_dev_reset(dev);
	int cfd = client_connect(uds);
	char b;
	assert_int_equal(read_pumped(cfd, &b, 1), 0);
	close(cfd);
}

static void test_reset_drops_connections_and_sends_event(void **state)
{
	uint32_t hport;
	int cfd = h2g_established(&hport, 65536);
	virtio_dev_reset(dev);
	char b;
	assert_int_equal(read_pumped(cfd, &b, 1), 0);
	close(cfd);
	/* after re-activation the event queue carries TRANSPORT_RESET */
	for (int i = 0; i < 3; i++) {
		gq[i].avail_idx = gq[i].last_used = 0;
		memset(mem + gq[i].avail, 0, 0x1000);
		memset(mem + gq[i].used, 0, 0x1000);
	}
	assert_int_equal(dev->ops->activate(dev), 0);
	set_desc(&gq[2], 0, GPA + gq[2].data, 8, 2, 0);
	avail_add(&gq[2], 0);
	dev->ops->queue_notify(dev, 2);
	uint32_t len = 0;
	assert_int_equal(used_take(&gq[2], &len), 0);
	assert_int_equal(len, 4);
	uint32_t id;
	memcpy(&id, mem + gq[2].data, 4);
	assert_int_equal(id, 0);
	assert_true(irqs[2] > 0);
}

static void test_broken_device_does_not_spin(void **state)
{
	uint32_t hport;
	int cfd = h2g_established(&hport, 65536);
	/* the guest breaks the device while host data is waiting */
	struct gq *q = &gq[1];
	set_desc(q, 0, GPA + q->data, 10, 0, 0);
	avail_add(q, 0);
	dev->ops->queue_notify(dev, 1);
	assert_true(dev->broken);
	assert_int_equal(write(cfd, "data", 4), 4);
	pump(3);
	/* nothing is delivered and the loop is idle (no level-triggered spin) */
	uint32_t len;
	assert_int_equal(used_take(&gq[0], &len), -1);
	assert_int_equal(evloop_run_once(loop, 0), 0);
	close(cfd);
}

static void test_timeouts(void **state)
{
	/* a client that never sends its CONNECT line is dropped */
	int idle = client_connect(uds);
	/* a guest that never answers a REQUEST: RST to the guest, client closed */
	int cfd = client_connect(uds);
	assert_int_equal(write(cfd, "CONNECT 4000\n", 13), 13);
	struct vsock_hdr h;
	assert_true(rx_get(&h, NULL, 0));
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	char b;
	assert_int_equal(read_pumped(cfd, &b, 1), 0);
	assert_true(rx_get(&h, NULL, 0));
	assert_int_equal(h.op, VSOCK_OP_RST);
	assert_int_equal(h.dst_port, 4000);
	assert_int_equal(read_pumped(idle, &b, 1), 0);
	close(idle);
	close(cfd);
	/* nothing pending any more: the loop goes idle (the tick is disarmed) */
	pump(10);
	assert_int_equal(evloop_run_once(loop, 250), 0);
	char err[128];
	assert_null(virtio_dev_create("vsock,uds=/tmp/x,timeout_ms=0", loop, err, sizeof(err)));
	assert_non_null(strstr(err, "timeout_ms"));
}

static void test_malformed_tx_marks_broken(void **state)
{
	/* a TX chain shorter than a header */
	struct gq *q = &gq[1];
	set_desc(q, 0, GPA + q->data, 10, 0, 0);
	avail_add(q, 0);
	dev->ops->queue_notify(dev, 1);
	assert_true(dev->broken);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
	    T(test_create_errors),
	    T(test_host_to_guest),
	    T(test_host_to_guest_refused),
	    T(test_guest_to_host),
	    T(test_guest_to_host_no_listener),
	    T(test_credit_flow_host_to_guest),
	    T(test_credit_flow_guest_to_host),
	    T(test_credit_violation_resets),
	    T(test_not_active_closes_clients),
	    T(test_reset_drops_connections_and_sends_event),
	    T(test_malformed_tx_marks_broken),
	    T(test_broken_device_does_not_spin),
	    T(test_timeouts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
