/* SPDX-License-Identifier: Apache-2.0 */
/* virtio_probe: find the first virtio-mmio device on the command line, check
 * the v2 registers, and negotiate features: a driver without VERSION_1 and a
 * driver asking for an unoffered bit must be refused; a proper one accepted. */
#include "virtio.h"

int guest_main(void)
{
	struct vdev d;
	uint64_t base;
	uint32_t irq;
	if (!guest_virtio_mmio(0, &base, &irq))
		guest_fail("no virtio_mmio.device= on the command line");
	if (vdev_probe(&d, base) < 0)
		guest_fail("bad magic/version at 0x%lx", base);
	gprintf("device id=%u irq=%u base=0x%lx vendor=0x%x\n", d.device_id, irq, base,
		vdev_r(&d, VMMIO_VENDOR_ID));
	gprintf("features=0x%lx\n", d.features);
	GUEST_ASSERT(d.features & (1ull << 32));
	/* 1: no VERSION_1 -> FEATURES_OK must not stick */
	uint64_t r = vdev_negotiate(&d, 0);
	gprintf("without VERSION_1: %s\n", r == (uint64_t)-1 ? "refused" : "accepted");
	vdev_w(&d, VMMIO_STATUS, 0);
	GUEST_ASSERT(vdev_r(&d, VMMIO_STATUS) == 0);
	/* 2: a bit the device did not offer */
	d.features |= 1ull << 40;
	r = vdev_negotiate(&d, (1ull << 32) | (1ull << 40));
	gprintf("unoffered bit: %s\n", r == (uint64_t)-1 ? "refused" : "accepted");
	vdev_w(&d, VMMIO_STATUS, 0);
	d.features &= ~(1ull << 40);
	/* 3: VERSION_1 (+ EVENT_IDX if offered) */
	r = vdev_negotiate(&d, (1ull << 32) | (1ull << 29));
	gprintf("negotiated=0x%lx status=0x%x\n", r, vdev_r(&d, VMMIO_STATUS));
	GUEST_ASSERT(r != (uint64_t)-1);
	/* queue registers: queue 0 exists, queue 7 does not */
	vdev_w(&d, VMMIO_QUEUE_SEL, 0);
	gprintf("queue0 max=%u\n", vdev_r(&d, VMMIO_QUEUE_NUM_MAX));
	vdev_w(&d, VMMIO_QUEUE_SEL, 7);
	gprintf("queue7 max=%u\n", vdev_r(&d, VMMIO_QUEUE_NUM_MAX));
	vdev_w(&d, VMMIO_STATUS, 0);
	gprintf("probe ok\n");
	return 0;
}
