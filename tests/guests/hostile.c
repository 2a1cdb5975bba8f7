/* SPDX-License-Identifier: Apache-2.0 */
/* hostile: feed the rng device malformed rings. After each, the device must
 * report DEVICE_NEEDS_RESET (and the VMM must stay up); after a reset it must
 * work again. */
#include "virtio.h"

static struct vdev d;
static struct vq vq;
static uint8_t buf[32];

static void setup(void)
{
	static struct vq fresh;
	vdev_w(&d, VMMIO_STATUS, 0);
	if (vdev_negotiate(&d, 1ull << 32) == (uint64_t)-1)
		guest_fail("features refused");
	vq = fresh;
	/* reuse one ring page: re-register it */
	static uint8_t ring[4096] __attribute__((aligned(4096)));
	memset(ring, 0, sizeof(ring));
	uint64_t a = (uint64_t)ring;
	vq.num = 8;
	vq.desc = (volatile struct vring_desc *)ring;
	vq.avail = (volatile uint16_t *)(ring + 1024);
	vq.used = ring + 2048;
	vdev_w(&d, VMMIO_QUEUE_SEL, 0);
	vdev_w(&d, VMMIO_QUEUE_NUM, 8);
	vdev_w(&d, VMMIO_QUEUE_DESC_LO, (uint32_t)a);
	vdev_w(&d, VMMIO_QUEUE_DESC_HI, 0);
	vdev_w(&d, VMMIO_QUEUE_AVAIL_LO, (uint32_t)a + 1024);
	vdev_w(&d, VMMIO_QUEUE_AVAIL_HI, 0);
	vdev_w(&d, VMMIO_QUEUE_USED_LO, (uint32_t)a + 2048);
	vdev_w(&d, VMMIO_QUEUE_USED_HI, 0);
	vdev_w(&d, VMMIO_QUEUE_READY, 1);
	GUEST_ASSERT(vdev_r(&d, VMMIO_QUEUE_READY) == 1);
	vdev_driver_ok(&d);
}

static bool wait_status(uint32_t bit)
{
	for (unsigned i = 0; i < 200000; i++)
		if (vdev_r(&d, VMMIO_STATUS) & bit)
			return true;
	return false;
}

static void expect_reset(const char *name)
{
	vdev_kick(&d, 0);
	bool nr = wait_status(VSTAT_NEEDS_RESET);
	gprintf("case %s: needs_reset=%u\n", name, nr ? 1 : 0);
}

int guest_main(void)
{
	uint64_t base;
	uint32_t irq, id, len;
	if (!guest_virtio_mmio(0, &base, &irq) || vdev_probe(&d, base) < 0)
		guest_fail("no virtio device");

	setup(); /* address far outside guest memory */
	vq.desc[0] = (struct vring_desc){.addr = 0xfffffffff000ull, .len = 16, .flags = VRING_DESC_F_WRITE};
	vq_publish(&vq, 0);
	expect_reset("addr_out_of_range");

	setup(); /* descriptor chain that loops */
	vq.desc[0] = (struct vring_desc){
	    .addr = (uint64_t)buf, .len = 8, .flags = VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, .next = 1};
	vq.desc[1] = (struct vring_desc){
	    .addr = (uint64_t)buf, .len = 8, .flags = VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, .next = 0};
	vq_publish(&vq, 0);
	expect_reset("loop");

	setup(); /* huge length from a valid address */
	vq.desc[0] =
	    (struct vring_desc){.addr = (uint64_t)buf, .len = 0xffffffffu, .flags = VRING_DESC_F_WRITE};
	vq_publish(&vq, 0);
	expect_reset("huge_len");

	setup(); /* avail idx runs more than a ring ahead */
	vq.desc[0] = (struct vring_desc){.addr = (uint64_t)buf, .len = 8, .flags = VRING_DESC_F_WRITE};
	vq.avail[2] = 0;
	vq.avail[1] = 1000;
	expect_reset("bad_avail_idx");

	setup(); /* head index beyond the ring size */
	vq_publish(&vq, 200);
	expect_reset("bad_head");

	setup(); /* next index beyond the ring size */
	vq.desc[0] = (struct vring_desc){
	    .addr = (uint64_t)buf, .len = 8, .flags = VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, .next = 4000};
	vq_publish(&vq, 0);
	expect_reset("bad_next");

	/* register abuse: unaligned/short accesses, huge queue numbers, bogus selectors */
	mmio_write8(base + VMMIO_STATUS, 0xff);
	mmio_write16(base + VMMIO_QUEUE_NUM, 0xffff);
	vdev_w(&d, VMMIO_QUEUE_SEL, 0xffffffffu);
	vdev_w(&d, VMMIO_QUEUE_NUM, 0xffffffffu);
	vdev_w(&d, VMMIO_QUEUE_READY, 1);
	vdev_w(&d, VMMIO_QUEUE_NOTIFY, 0xffffffffu);
	(void)mmio_read32(base + VMMIO_CONFIG + 0xefc);
	mmio_write32(base + VMMIO_CONFIG + 0xefc, 1);

	setup(); /* after a reset the device works again */
	struct vring_desc c = {.addr = (uint64_t)buf, .len = sizeof(buf), .flags = VRING_DESC_F_WRITE};
	vq_add(&vq, &c, 1);
	vdev_kick(&d, 0);
	unsigned spin = 0;
	while (!vq_get_used(&vq, &id, &len))
		if (++spin > 20000000)
			guest_fail("device did not recover after reset");
	gprintf("recovered: used len=%u status=0x%x\n", len, vdev_r(&d, VMMIO_STATUS));
	return 0;
}
