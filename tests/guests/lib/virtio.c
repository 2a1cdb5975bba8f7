/* SPDX-License-Identifier: Apache-2.0 */
/* Minimal guest-side virtio-mmio v2 driver (see virtio.h). */
#include "virtio.h"

#define QPAGES 4
static uint8_t qpool[QPAGES][4096] __attribute__((aligned(4096)));
static unsigned qused;

int vdev_probe(struct vdev *d, uint64_t base)
{
	d->base = base;
	if (vdev_r(d, VMMIO_MAGIC) != 0x74726976 || vdev_r(d, VMMIO_VERSION) != 2)
		return -1;
	d->device_id = vdev_r(d, VMMIO_DEVICE_ID);
	vdev_w(d, VMMIO_STATUS, 0);
	vdev_w(d, VMMIO_DEV_FEAT_SEL, 0);
	uint64_t lo = vdev_r(d, VMMIO_DEV_FEATURES);
	vdev_w(d, VMMIO_DEV_FEAT_SEL, 1);
	uint64_t hi = vdev_r(d, VMMIO_DEV_FEATURES);
	d->features = lo | hi << 32;
	return 0;
}

uint64_t vdev_negotiate(struct vdev *d, uint64_t want)
{
	uint64_t f = want & d->features;
	vdev_w(d, VMMIO_STATUS, VSTAT_ACK);
	vdev_w(d, VMMIO_STATUS, VSTAT_ACK | VSTAT_DRIVER);
	vdev_w(d, VMMIO_DRV_FEAT_SEL, 0);
	vdev_w(d, VMMIO_DRV_FEATURES, (uint32_t)f);
	vdev_w(d, VMMIO_DRV_FEAT_SEL, 1);
	vdev_w(d, VMMIO_DRV_FEATURES, (uint32_t)(f >> 32));
	vdev_w(d, VMMIO_STATUS, VSTAT_ACK | VSTAT_DRIVER | VSTAT_FEATURES_OK);
	if (!(vdev_r(d, VMMIO_STATUS) & VSTAT_FEATURES_OK))
		return (uint64_t)-1;
	return f;
}

int vdev_setup_queue(struct vdev *d, unsigned q, struct vq *vq, uint16_t num)
{
	if (qused >= QPAGES || num > 64 || num == 0 || (num & (num - 1)))
		return -1;
	uint8_t *p = qpool[qused++];
	memset(p, 0, 4096);
	vdev_w(d, VMMIO_QUEUE_SEL, q);
	if (vdev_r(d, VMMIO_QUEUE_READY) != 0)
		return -1;
	uint32_t max = vdev_r(d, VMMIO_QUEUE_NUM_MAX);
	if (max == 0 || max < num)
		return -1;
	vq->num = num;
	vq->next_free = 0;
	vq->last_used = 0;
	vq->desc = (volatile struct vring_desc *)p;
	vq->avail = (volatile uint16_t *)(p + 1024);
	vq->used = p + 2048;
	uint64_t a = (uint64_t)p;
	vdev_w(d, VMMIO_QUEUE_NUM, num);
	vdev_w(d, VMMIO_QUEUE_DESC_LO, (uint32_t)a);
	vdev_w(d, VMMIO_QUEUE_DESC_HI, (uint32_t)(a >> 32));
	vdev_w(d, VMMIO_QUEUE_AVAIL_LO, (uint32_t)(a + 1024));
	vdev_w(d, VMMIO_QUEUE_AVAIL_HI, (uint32_t)((a + 1024) >> 32));
	vdev_w(d, VMMIO_QUEUE_USED_LO, (uint32_t)(a + 2048));
	vdev_w(d, VMMIO_QUEUE_USED_HI, (uint32_t)((a + 2048) >> 32));
	vdev_w(d, VMMIO_QUEUE_READY, 1);
	return vdev_r(d, VMMIO_QUEUE_READY) == 1 ? 0 : -1;
}

void vdev_driver_ok(struct vdev *d)
{
	vdev_w(d, VMMIO_STATUS, vdev_r(d, VMMIO_STATUS) | VSTAT_DRIVER_OK);
}

void vq_publish(struct vq *vq, uint16_t head)
{
	uint16_t idx = vq->avail[1];
	vq->avail[2 + (idx % vq->num)] = head;
	mb();
	vq->avail[1] = (uint16_t)(idx + 1);
	mb();
}

uint16_t vq_add(struct vq *vq, const struct vring_desc *chain, unsigned n)
{
	uint16_t head = vq->next_free;
	for (unsigned i = 0; i < n; i++) {
		uint16_t di = (uint16_t)((head + i) % vq->num);
		vq->desc[di].addr = chain[i].addr;
		vq->desc[di].len = chain[i].len;
		vq->desc[di].flags = (uint16_t)(chain[i].flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0));
		vq->desc[di].next = (uint16_t)((di + 1) % vq->num);
	}
	vq->next_free = (uint16_t)((head + n) % vq->num);
	vq_publish(vq, head);
	return head;
}

int vq_get_used(struct vq *vq, uint32_t *id, uint32_t *len)
{
	volatile uint16_t *uidx = (volatile uint16_t *)(vq->used + 2);
	mb();
	if (*uidx == vq->last_used)
		return 0;
	volatile struct vring_used_elem *e =
	    (volatile struct vring_used_elem *)(vq->used + 4) + (vq->last_used % vq->num);
	*id = e->id;
	*len = e->len;
	vq->last_used++;
	return 1;
}
