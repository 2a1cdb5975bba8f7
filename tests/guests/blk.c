/* SPDX-License-Identifier: Apache-2.0 */
/* blk: drive one virtio-blk request of each type through the virtio-mmio rings
 * of the first virtio-blk device (runm-vmm --drive) and print what came back: config space,
 * GET_ID, WRITE, FLUSH, READ, WRITE_ZEROES, DISCARD, an out-of-range READ and
 * an unknown type; then a chain with a short header must get the device
 * DEVICE_NEEDS_RESET, and after a reset the device must work again.
 * Completions are signalled by interrupts (counted). */
#include "virtio.h"

#define VEC_VIRTIO 0x25

#define T_IN	       0
#define T_OUT	       1
#define T_FLUSH	       4
#define T_GET_ID       8
#define T_DISCARD      11
#define T_WRITE_ZEROES 13

#define F_FLUSH	       (1ull << 9)
#define F_DISCARD      (1ull << 13)
#define F_WRITE_ZEROES (1ull << 14)
#define F_RO	       (1ull << 5)

struct req_hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

static struct vdev d;
static struct vq vq;
static volatile unsigned irqs;
static struct req_hdr hdr;
static uint8_t status;
static uint8_t data[1024] __attribute__((aligned(512)));
static uint8_t back[1024] __attribute__((aligned(512)));

static void on_irq(unsigned vec)
{
	vdev_w(&d, VMMIO_INT_ACK, vdev_r(&d, VMMIO_INT_STATUS));
	irqs++;
}

/* One request: header, optional data (device-writable when dev_writes), status. */
static int request(uint32_t type, uint64_t sector, void *buf, uint32_t len, bool dev_writes,
		   uint32_t *used_len)
{
	struct vring_desc c[3];
	unsigned n = 0;
	hdr = (struct req_hdr){.type = type, .sector = sector};
	status = 0xff;
	c[n++] = (struct vring_desc){.addr = (uint64_t)&hdr, .len = sizeof(hdr)};
	if (len)
		c[n++] = (struct vring_desc){
		    .addr = (uint64_t)buf, .len = len, .flags = dev_writes ? VRING_DESC_F_WRITE : 0};
	c[n++] = (struct vring_desc){.addr = (uint64_t)&status, .len = 1, .flags = VRING_DESC_F_WRITE};
	vq_add(&vq, c, n);
	vdev_kick(&d, 0);
	uint32_t id, l;
	for (unsigned spin = 0; !vq_get_used(&vq, &id, &l); spin++)
		if (spin > 100000000)
			guest_fail("request type %u: no completion (status=0x%x)", type,
				   vdev_r(&d, VMMIO_STATUS));
	if (used_len)
		*used_len = l;
	return status;
}

static void setup(void)
{
	static struct vq fresh;
	static uint8_t ring[4096] __attribute__((aligned(4096)));
	vdev_w(&d, VMMIO_STATUS, 0);
	uint64_t f = vdev_negotiate(&d, (1ull << 32) | F_FLUSH | F_DISCARD | F_WRITE_ZEROES);
	if (f == (uint64_t)-1)
		guest_fail("features refused");
	gprintf("features flush=%u discard=%u write_zeroes=%u ro=%u\n", !!(f & F_FLUSH), !!(f & F_DISCARD),
		!!(f & F_WRITE_ZEROES), !!(d.features & F_RO));
	vq = fresh;
	memset(ring, 0, sizeof(ring));
	uint64_t a = (uint64_t)ring;
	vq.num = 16;
	vq.desc = (volatile struct vring_desc *)ring;
	vq.avail = (volatile uint16_t *)(ring + 1024);
	vq.used = ring + 2048;
	vdev_w(&d, VMMIO_QUEUE_SEL, 0);
	vdev_w(&d, VMMIO_QUEUE_NUM, 16);
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

static void range(uint8_t *seg, uint64_t sector, uint32_t n, uint32_t flags)
{
	memcpy(seg, &sector, 8);
	memcpy(seg + 8, &n, 4);
	memcpy(seg + 12, &flags, 4);
}

int guest_main(void)
{
	uint64_t base;
	uint32_t irq, len = 0;
	idt_init();
	pic_mask_all();
	lapic_init();
	bool found = false; /* the first virtio-blk device (others may come first) */
	for (unsigned i = 0; i < 8 && !found; i++)
		found = guest_virtio_mmio(i, &base, &irq) && vdev_probe(&d, base) == 0 && d.device_id == 2;
	if (!found)
		guest_fail("no virtio-blk device");
	irq_set_handler(VEC_VIRTIO, on_irq);
	ioapic_route(irq, VEC_VIRTIO, lapic_id(), false);
	sti();
	setup();
	uint64_t cap = vdev_r(&d, VMMIO_CONFIG) | (uint64_t)vdev_r(&d, VMMIO_CONFIG + 4) << 32;
	gprintf("capacity=%u seg_max=%u blk_size=%u\n", (unsigned)cap, vdev_r(&d, VMMIO_CONFIG + 12),
		vdev_r(&d, VMMIO_CONFIG + 20));

	char id[21] = {0};
	int st = request(T_GET_ID, 0, id, 20, true, &len);
	gprintf("get_id status=%d len=%u id=%s\n", st, len, id);

	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + 5);
	st = request(T_OUT, 1, data, 1024, false, &len); /* sectors 1 and 2 */
	gprintf("write status=%d len=%u\n", st, len);
	st = request(T_FLUSH, 0, NULL, 0, false, NULL);
	gprintf("flush status=%d\n", st);
	memset(back, 0, sizeof(back));
	st = request(T_IN, 1, back, 1024, true, &len);
	gprintf("read status=%d len=%u match=%u\n", st, len, memcmp(back, data, 1024) == 0);

	uint8_t seg[16];
	range(seg, 1, 1, 0); /* zero sector 1 */
	st = request(T_WRITE_ZEROES, 0, seg, 16, false, NULL);
	memset(back, 0xee, sizeof(back));
	int st2 = request(T_IN, 1, back, 512, true, NULL);
	unsigned zero = 1;
	for (unsigned i = 0; i < 512; i++)
		zero &= back[i] == 0;
	gprintf("write_zeroes status=%d read status=%d zero=%u\n", st, st2, zero);
	range(seg, 8, 8, 0);
	st = request(T_DISCARD, 0, seg, 16, false, NULL);
	gprintf("discard status=%d\n", st);

	st = request(T_IN, cap, back, 512, true, NULL);
	gprintf("out_of_range status=%d\n", st);
	st = request(77, 0, NULL, 0, false, NULL);
	gprintf("unknown status=%d\n", st);

	/* a header of 8 bytes: the device needs a reset */
	struct vring_desc bad[2] = {{.addr = (uint64_t)&hdr, .len = 8},
				    {.addr = (uint64_t)&status, .len = 1, .flags = VRING_DESC_F_WRITE}};
	vq_add(&vq, bad, 2);
	vdev_kick(&d, 0);
	unsigned nr = 0;
	for (unsigned i = 0; i < 2000000 && !nr; i++)
		nr = !!(vdev_r(&d, VMMIO_STATUS) & VSTAT_NEEDS_RESET);
	gprintf("short_header needs_reset=%u\n", nr);
	setup();
	st = request(T_IN, 2, back, 512, true, NULL);
	gprintf("after_reset read status=%d match=%u\n", st, memcmp(back, data + 512, 512) == 0);
	cli();
	gprintf("irqs=%u\n", irqs);
	return 0;
}
