/* SPDX-License-Identifier: Apache-2.0 */
/* virtio_rng: read random bytes through a virtqueue; the completion must be
 * signalled by an interrupt (irqfd -> IOAPIC -> LAPIC -> our handler). */
#include "virtio.h"

#define VEC_VIRTIO 0x25

static struct vdev d;
static volatile unsigned irqs, isr_bits;
static uint8_t buf[2][64];

static void on_irq(unsigned vec)
{
	uint32_t st = vdev_r(&d, VMMIO_INT_STATUS);
	isr_bits |= st;
	vdev_w(&d, VMMIO_INT_ACK, st);
	irqs++;
}

int guest_main(void)
{
	struct vq vq;
	uint64_t base;
	uint32_t irq, id, len;
	idt_init();
	pic_mask_all();
	lapic_init();
	if (!guest_virtio_mmio(0, &base, &irq) || vdev_probe(&d, base) < 0 || d.device_id != 4)
		guest_fail("no virtio-rng device");
	irq_set_handler(VEC_VIRTIO, on_irq);
	ioapic_route(irq, VEC_VIRTIO, lapic_id(), false);
	if (vdev_negotiate(&d, 1ull << 32) == (uint64_t)-1)
		guest_fail("features refused");
	if (vdev_setup_queue(&d, 0, &vq, 8) < 0)
		guest_fail("queue setup failed");
	gprintf("queue ready\n");
	vdev_driver_ok(&d);
	gprintf("driver ok status=0x%x\n", vdev_r(&d, VMMIO_STATUS));
	for (unsigned round = 0; round < 2; round++) {
		struct vring_desc c = {
		    .addr = (uint64_t)buf[round], .len = sizeof(buf[round]), .flags = VRING_DESC_F_WRITE};
		unsigned before = irqs;
		cli();
		vq_add(&vq, &c, 1);
		vdev_kick(&d, 0);
		gprintf("kicked\n");
		sti();
		for (unsigned spin = 0; irqs == before; spin++) {
			if (spin > 50000000) {
				cli();
				guest_fail("no interrupt: used=%d isr=0x%x status=0x%x",
					   vq_get_used(&vq, &id, &len), vdev_r(&d, VMMIO_INT_STATUS),
					   vdev_r(&d, VMMIO_STATUS));
			}
		}
		cli();
		if (!vq_get_used(&vq, &id, &len))
			guest_fail("interrupt but no used buffer");
		unsigned nz = 0;
		for (unsigned i = 0; i < sizeof(buf[round]); i++)
			nz += buf[round][i] != 0;
		gprintf("round %u: used id=%u len=%u nonzero=%u\n", round, id, len, nz);
	}
	GUEST_ASSERT(memcmp(buf[0], buf[1], sizeof(buf[0])) != 0);
	gprintf("irqs=%u isr=0x%x status=0x%x\n", irqs, isr_bits, vdev_r(&d, VMMIO_STATUS));
	return 0;
}
