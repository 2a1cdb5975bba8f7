/* SPDX-License-Identifier: Apache-2.0 */
/*
 * net mini-guest: a polled virtio-net driver for runm-vmm's net device on a
 * tap. The host side is tests/integration/test_vmm_net.py (an AF_PACKET peer
 * on the tap in a throw-away network namespace):
 *   1. features (VERSION_1, MRG_RXBUF, MAC, STATUS, MTU) and the config space;
 *   2. one Ethernet frame out (ethertype 0x88b5, "hello from the mini-guest");
 *   3. the host's answer in (skipping whatever else the host kernel sends),
 *      with num_buffers = 1 in its header;
 *   4. a transmit chain shorter than the header: DEVICE_NEEDS_RESET.
 * Activation sets the tap's header size and offloads from the event-loop
 * thread, which runs under its seccomp filter: this guest proves they pass.
 */
#include "virtio.h"

#define HDR	     12
#define F_MTU	     (1ull << 3)
#define F_MAC	     (1ull << 5)
#define F_MRG	     (1ull << 15)
#define F_STATUS     (1ull << 16)
#define F_V1	     (1ull << 32)
#define ETHERTYPE_HI 0x88
#define ETHERTYPE_LO 0xb5
#define NRX	     6
#define RXBUF	     2048

static struct vdev d;
static struct vq rxq, txq;
static uint8_t rxbuf[8][RXBUF];
static uint8_t txbuf[128];
static uint8_t mac[6];

/* gprintf has no field widths: two hex digits */
static void hex2(uint8_t b)
{
	gprintf("%s%x", b < 16 ? "0" : "", b);
}

static void rx_post(unsigned slot)
{
	struct vring_desc c = {.addr = (uint64_t)rxbuf[slot], .len = RXBUF, .flags = VRING_DESC_F_WRITE};
	vq_add(&rxq, &c, 1);
}

static void send_frame(const char *text)
{
	memset(txbuf, 0, sizeof(txbuf));
	uint8_t *f = txbuf + HDR;
	memset(f, 0xff, 6); /* broadcast */
	memcpy(f + 6, mac, 6);
	f[12] = ETHERTYPE_HI;
	f[13] = ETHERTYPE_LO;
	memcpy(f + 14, text, strlen(text));
	struct vring_desc c[2] = {{.addr = (uint64_t)txbuf, .len = HDR},
				  {.addr = (uint64_t)f, .len = 60}}; /* header in its own descriptor */
	vq_add(&txq, c, 2);
	vdev_kick(&d, 1);
	uint32_t id, len;
	for (unsigned spin = 0; !vq_get_used(&txq, &id, &len); spin++)
		if (spin > 50000000)
			guest_fail("transmit chain not consumed");
}

/* The next frame of our ethertype; others are handed back to the device. */
static const uint8_t *recv_frame(uint32_t *flen, uint16_t *nbuf)
{
	for (unsigned spin = 0; spin < 400000000; spin++) {
		uint32_t id, len;
		if (!vq_get_used(&rxq, &id, &len))
			continue;
		GUEST_ASSERT(id < 8 && len >= HDR + 14 && len <= RXBUF);
		/* one descriptor per buffer, handed out in order: descriptor i is buffer i */
		const uint8_t *b = rxbuf[id];
		const uint8_t *f = b + HDR;
		if (f[12] == ETHERTYPE_HI && f[13] == ETHERTYPE_LO && !memcmp(f, mac, 6)) {
			*flen = len - HDR;
			*nbuf = (uint16_t)(b[10] | b[11] << 8);
			return f;
		}
		gprintf("skipped a frame of type 0x");
		hex2(f[12]);
		hex2(f[13]);
		gprintf("\n");
		rx_post(rxq.next_free % 8);
		vdev_kick(&d, 0);
	}
	guest_fail("no frame from the host");
}

int guest_main(void)
{
	uint64_t base;
	uint32_t irq;
	if (!guest_virtio_mmio(0, &base, &irq) || vdev_probe(&d, base) < 0 || d.device_id != 1)
		guest_fail("no virtio-net device");
	uint64_t want = F_V1 | F_MRG | F_MAC | F_STATUS | F_MTU;
	uint64_t got = vdev_negotiate(&d, want);
	if (got != want)
		guest_fail("features: offered 0x%lx, accepted 0x%lx", (unsigned long)d.features,
			   (unsigned long)got);
	for (unsigned i = 0; i < 6; i++)
		mac[i] = mmio_read8(base + VMMIO_CONFIG + i);
	uint16_t status = mmio_read16(base + VMMIO_CONFIG + 6), pairs = mmio_read16(base + VMMIO_CONFIG + 8),
		 mtu = mmio_read16(base + VMMIO_CONFIG + 10);
	gprintf("net mac=");
	for (unsigned i = 0; i < 6; i++) {
		hex2(mac[i]);
		gprintf("%s", i < 5 ? ":" : "");
	}
	gprintf(" status=%u pairs=%u mtu=%u\n", status, pairs, mtu);
	if (vdev_setup_queue(&d, 0, &rxq, 8) || vdev_setup_queue(&d, 1, &txq, 8))
		guest_fail("queue setup failed");
	vdev_driver_ok(&d);
	GUEST_ASSERT(!(vdev_r(&d, VMMIO_STATUS) & VSTAT_NEEDS_RESET));
	for (unsigned i = 0; i < NRX; i++)
		rx_post(i);
	vdev_kick(&d, 0);
	gprintf("net ready\n");
	send_frame("hello from the mini-guest");
	gprintf("net sent\n");
	uint32_t flen;
	uint16_t nbuf;
	const uint8_t *f = recv_frame(&flen, &nbuf);
	char text[64] = {0};
	memcpy(text, f + 14, flen - 14 < sizeof(text) - 1 ? flen - 14 : sizeof(text) - 1);
	gprintf("net received len=%u num_buffers=%u: %s\n", flen, nbuf, text);
	GUEST_ASSERT(!(vdev_r(&d, VMMIO_STATUS) & VSTAT_NEEDS_RESET));
	/* a transmit chain shorter than the header */
	struct vring_desc c = {.addr = (uint64_t)txbuf, .len = 4};
	vq_add(&txq, &c, 1);
	vdev_kick(&d, 1);
	for (unsigned spin = 0; !(vdev_r(&d, VMMIO_STATUS) & VSTAT_NEEDS_RESET); spin++)
		if (spin > 20000000)
			guest_fail("short transmit chain did not set DEVICE_NEEDS_RESET");
	gprintf("net malformed: needs reset\n");
	gprintf("net guest done\n");
	return 0;
}
