/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsock mini-guest: a polled virtio-vsock driver talking to runm-vmm's hybrid
 * vsock. The host side is tests/integration/test_vsock_guest.py:
 *   1. guest -> host port 5000 (host listens on <uds>_5000): data both ways,
 *      our tiny receive window (64 bytes) forces a CREDIT_UPDATE round, then
 *      we shut our send side and expect SHUTDOWN + RST once the host closes;
 *   2. guest -> host port 6000 (no listener): RST;
 *   3. host -> guest: we listen on port 1024, answer the REQUEST, echo a
 *      message, see the host's SHUTDOWN(SEND) and reset the connection;
 *   4. a TX chain shorter than a packet header: the device must ask for a
 *      reset (DEVICE_NEEDS_RESET); after a driver reset it works again.
 */
#include "virtio.h"

#define HDR		 44
#define OP_REQUEST	 1
#define OP_RESPONSE	 2
#define OP_RST		 3
#define OP_SHUTDOWN	 4
#define OP_RW		 5
#define OP_CREDIT_UPDATE 6
#define GCID		 3
#define RXBUF		 128
#define MYBUF		 64 /* our receive window */

struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

static struct vdev d;
static struct vq rxq, txq, evq;
static uint8_t rxbuf[8][RXBUF];
static uint8_t txbuf[256];
static uint8_t evbuf[8];
static uint32_t fwd_cnt; /* payload bytes we consumed on the current connection */

static void rx_post(void)
{
	struct vring_desc c = {
	    .addr = (uint64_t)rxbuf[rxq.next_free], .len = RXBUF, .flags = VRING_DESC_F_WRITE};
	vq_add(&rxq, &c, 1);
}

static void send(uint32_t sport, uint32_t dport, uint16_t op, uint32_t flags, const char *pl, uint32_t len)
{
	struct hdr h = {.src_cid = GCID,
			.dst_cid = 2,
			.src_port = sport,
			.dst_port = dport,
			.len = len,
			.type = 1,
			.op = op,
			.flags = flags,
			.buf_alloc = MYBUF,
			.fwd_cnt = fwd_cnt};
	memcpy(txbuf, &h, HDR);
	memcpy(txbuf + HDR, pl, len);
	struct vring_desc c = {.addr = (uint64_t)txbuf, .len = HDR + len};
	vq_add(&txq, &c, 1);
	vdev_kick(&d, 1);
	uint32_t id, l;
	for (unsigned spin = 0; !vq_get_used(&txq, &id, &l); spin++)
		if (spin > 20000000)
			guest_fail("tx op %u not consumed", op);
}

/* Wait for the next packet; payload (up to cap) copied to pl. */
static void recv(struct hdr *h, char *pl, unsigned cap)
{
	uint32_t id, len;
	for (unsigned spin = 0; !vq_get_used(&rxq, &id, &len); spin++)
		if (spin > 20000000)
			guest_fail("no packet from the host");
	GUEST_ASSERT(id < 8 && len >= HDR && len <= RXBUF);
	memcpy(h, rxbuf[id], HDR);
	GUEST_ASSERT(h->len == len - HDR);
	GUEST_ASSERT(h->src_cid == 2 && h->dst_cid == GCID && h->type == 1);
	if (pl)
		memcpy(pl, rxbuf[id] + HDR, h->len < cap ? h->len : cap);
	rx_post();
	vdev_kick(&d, 0);
}

static void expect(struct hdr *h, uint16_t op, const char *what)
{
	if (h->op != op)
		guest_fail("%s: got op %u (flags %u), want %u", what, h->op, h->flags, op);
}

static void guest_to_host(void)
{
	struct hdr h;
	char pl[RXBUF];
	fwd_cnt = 0;
	send(1000, 5000, OP_REQUEST, 0, 0, 0);
	recv(&h, 0, 0);
	expect(&h, OP_RESPONSE, "connect to 5000");
	GUEST_ASSERT(h.src_port == 5000 && h.dst_port == 1000);
	gprintf("g2h: connected, host buf_alloc=%u\n", h.buf_alloc);
	send(1000, 5000, OP_RW, 0, "ping-from-guest", 15);
	/* the host answers "pong-from-host" and then 100 bytes: 114 bytes of
	 * stream, more than our 64-byte window, so we must give credit */
	static const char pong[] = "pong-from-host";
	uint32_t got = 0, updates = 0;
	while (got < 114) {
		recv(&h, pl, sizeof(pl));
		expect(&h, OP_RW, "stream");
		for (uint32_t i = 0; i < h.len; i++) {
			uint32_t at = got + i;
			char want = at < 14 ? pong[at] : (char)('a' + (at - 14) % 26);
			if (pl[i] != want)
				guest_fail("byte %u is 0x%x, want 0x%x", at, pl[i], want);
		}
		got += h.len;
		/* the device never sends beyond the credit we advertised */
		if (got - fwd_cnt > MYBUF)
			guest_fail("credit overrun: %u bytes past fwd_cnt %u", got, fwd_cnt);
		gprintf("g2h: %u bytes (total %u)\n", h.len, got);
		if (got - fwd_cnt >= MYBUF / 2) {
			fwd_cnt = got;
			send(1000, 5000, OP_CREDIT_UPDATE, 0, 0, 0);
			updates++;
		}
	}
	GUEST_ASSERT(got == 114 && updates >= 1);
	gprintf("g2h: credit update sent (%u)\n", updates);
	send(1000, 5000, OP_SHUTDOWN, 2 /* send */, 0, 0);
	recv(&h, 0, 0);
	expect(&h, OP_SHUTDOWN, "host close");
	GUEST_ASSERT(h.flags & 2);
	recv(&h, 0, 0);
	expect(&h, OP_RST, "final reset");
	gprintf("g2h: closed\n");
}

static void no_listener(void)
{
	struct hdr h;
	send(1001, 6000, OP_REQUEST, 0, 0, 0);
	recv(&h, 0, 0);
	expect(&h, OP_RST, "connect to 6000");
	GUEST_ASSERT(h.dst_port == 1001 && h.src_port == 6000);
	gprintf("refused: rst\n");
}

static void host_to_guest(void)
{
	struct hdr h;
	char pl[RXBUF], out[RXBUF];
	fwd_cnt = 0;
	recv(&h, 0, 0);
	expect(&h, OP_REQUEST, "host connect");
	GUEST_ASSERT(h.dst_port == 1024);
	uint32_t hp = h.src_port;
	send(1024, hp, OP_RESPONSE, 0, 0, 0);
	gprintf("h2g: accepted from host port %u\n", hp);
	recv(&h, pl, sizeof(pl));
	expect(&h, OP_RW, "host data");
	GUEST_ASSERT(h.len < 60);
	memcpy(out, "echo:", 5);
	memcpy(out + 5, pl, h.len);
	fwd_cnt += h.len;
	send(1024, hp, OP_RW, 0, out, 5 + h.len);
	recv(&h, 0, 0);
	expect(&h, OP_SHUTDOWN, "host half-close");
	GUEST_ASSERT(h.flags == 2);
	send(1024, hp, OP_RST, 0, 0, 0);
	gprintf("h2g: reset\n");
}

/* Re-arm queue q on the same ring pages after a device reset (the guest
 * library's ring pool is used up by the first setup). */
static void requeue(unsigned q, struct vq *vq)
{
	memset((void *)vq->desc, 0, 4096);
	vq->next_free = 0;
	vq->last_used = 0;
	uint64_t a = (uint64_t)vq->desc;
	vdev_w(&d, VMMIO_QUEUE_SEL, q);
	vdev_w(&d, VMMIO_QUEUE_NUM, vq->num);
	vdev_w(&d, VMMIO_QUEUE_DESC_LO, (uint32_t)a);
	vdev_w(&d, VMMIO_QUEUE_DESC_HI, (uint32_t)(a >> 32));
	vdev_w(&d, VMMIO_QUEUE_AVAIL_LO, (uint32_t)(a + 1024));
	vdev_w(&d, VMMIO_QUEUE_AVAIL_HI, (uint32_t)((a + 1024) >> 32));
	vdev_w(&d, VMMIO_QUEUE_USED_LO, (uint32_t)(a + 2048));
	vdev_w(&d, VMMIO_QUEUE_USED_HI, (uint32_t)((a + 2048) >> 32));
	vdev_w(&d, VMMIO_QUEUE_READY, 1);
	GUEST_ASSERT(vdev_r(&d, VMMIO_QUEUE_READY) == 1);
}

static void malformed_then_reset(void)
{
	struct vring_desc c = {.addr = (uint64_t)txbuf, .len = 10};
	vq_add(&txq, &c, 1);
	vdev_kick(&d, 1);
	for (unsigned spin = 0; !(vdev_r(&d, VMMIO_STATUS) & VSTAT_NEEDS_RESET); spin++)
		if (spin > 2000000)
			guest_fail("short tx packet did not set DEVICE_NEEDS_RESET");
	gprintf("malformed: needs reset\n");
	vdev_w(&d, VMMIO_STATUS, 0);
	GUEST_ASSERT(vdev_r(&d, VMMIO_STATUS) == 0);
	if (vdev_negotiate(&d, 1ull << 32) == (uint64_t)-1)
		guest_fail("features refused after reset");
	requeue(0, &rxq);
	requeue(1, &txq);
	requeue(2, &evq);
	vdev_driver_ok(&d);
	for (int i = 0; i < 4; i++)
		rx_post();
	vdev_kick(&d, 0);
	no_listener();
	GUEST_ASSERT(!(vdev_r(&d, VMMIO_STATUS) & VSTAT_NEEDS_RESET));
	gprintf("after reset: device works\n");
}

int guest_main(void)
{
	uint64_t base;
	uint32_t irq;
	if (!guest_virtio_mmio(0, &base, &irq) || vdev_probe(&d, base) < 0 || d.device_id != 19)
		guest_fail("no virtio-vsock device");
	if (vdev_negotiate(&d, 1ull << 32) == (uint64_t)-1)
		guest_fail("features refused");
	uint32_t cid = vdev_r(&d, VMMIO_CONFIG);
	GUEST_ASSERT(cid == GCID);
	if (vdev_setup_queue(&d, 0, &rxq, 8) || vdev_setup_queue(&d, 1, &txq, 8) ||
	    vdev_setup_queue(&d, 2, &evq, 4))
		guest_fail("queue setup failed");
	vdev_driver_ok(&d);
	GUEST_ASSERT(!(vdev_r(&d, VMMIO_STATUS) & VSTAT_NEEDS_RESET));
	struct vring_desc e = {.addr = (uint64_t)evbuf, .len = sizeof(evbuf), .flags = VRING_DESC_F_WRITE};
	vq_add(&evq, &e, 1);
	for (int i = 0; i < 4; i++)
		rx_post();
	vdev_kick(&d, 0);
	gprintf("vsock ready cid=%u\n", cid);
	guest_to_host();
	no_listener();
	gprintf("listening on 1024\n");
	host_to_guest();
	GUEST_ASSERT(!(vdev_r(&d, VMMIO_STATUS) & VSTAT_NEEDS_RESET));
	malformed_then_reset();
	gprintf("vsock guest done\n");
	return 0;
}
