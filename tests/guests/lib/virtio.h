/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Minimal guest-side virtio-mmio (v2) driver for mini-guests: probe, feature
 * negotiation, one split virtqueue per call to vdev_setup_queue, kick, and
 * waiting for the used ring (by interrupt or by polling).
 *
 * Typical use:
 *   struct vdev d; uint64_t base; uint32_t irq;
 *   guest_virtio_mmio(0, &base, &irq); vdev_probe(&d, base);
 *   vdev_negotiate(&d, 1ull << 32);            // VERSION_1
 *   vdev_setup_queue(&d, 0, &vq, 8);            // rings in static guest memory
 *   vdev_driver_ok(&d);
 *   vq_add(&vq, descs, n); vdev_kick(&d, 0); ... vq_get_used(&vq, &len)
 */
#ifndef RUNM_GUEST_VIRTIO_H
#define RUNM_GUEST_VIRTIO_H

#include "guest.h"

/* virtio-mmio v2 register offsets */
#define VMMIO_MAGIC	     0x000
#define VMMIO_VERSION	     0x004
#define VMMIO_DEVICE_ID	     0x008
#define VMMIO_VENDOR_ID	     0x00c
#define VMMIO_DEV_FEATURES   0x010
#define VMMIO_DEV_FEAT_SEL   0x014
#define VMMIO_DRV_FEATURES   0x020
#define VMMIO_DRV_FEAT_SEL   0x024
#define VMMIO_QUEUE_SEL	     0x030
#define VMMIO_QUEUE_NUM_MAX  0x034
#define VMMIO_QUEUE_NUM	     0x038
#define VMMIO_QUEUE_READY    0x044
#define VMMIO_QUEUE_NOTIFY   0x050
#define VMMIO_INT_STATUS     0x060
#define VMMIO_INT_ACK	     0x064
#define VMMIO_STATUS	     0x070
#define VMMIO_QUEUE_DESC_LO  0x080
#define VMMIO_QUEUE_DESC_HI  0x084
#define VMMIO_QUEUE_AVAIL_LO 0x090
#define VMMIO_QUEUE_AVAIL_HI 0x094
#define VMMIO_QUEUE_USED_LO  0x0a0
#define VMMIO_QUEUE_USED_HI  0x0a4
#define VMMIO_CONFIG_GEN     0x0fc
#define VMMIO_CONFIG	     0x100

#define VSTAT_ACK	  1
#define VSTAT_DRIVER	  2
#define VSTAT_DRIVER_OK	  4
#define VSTAT_FEATURES_OK 8
#define VSTAT_NEEDS_RESET 64
#define VSTAT_FAILED	  128

#define VRING_DESC_F_NEXT  1
#define VRING_DESC_F_WRITE 2

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

#define VQ_MAX 16
struct vq {
	uint16_t num;
	uint16_t next_free; /* next descriptor index handed out by vq_add */
	uint16_t last_used;
	volatile struct vring_desc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[num], used_event */
	volatile uint8_t *used;	  /* flags u16, idx u16, ring[num] of used_elem */
};

struct vdev {
	uint64_t base;
	uint32_t device_id;
	uint64_t features; /* device-offered */
};

static inline uint32_t vdev_r(const struct vdev *d, unsigned off)
{
	return mmio_read32(d->base + off);
}
static inline void vdev_w(const struct vdev *d, unsigned off, uint32_t v)
{
	mmio_write32(d->base + off, v);
}

/* Check magic/version, reset, read device id and offered features. 0 or -1. */
int vdev_probe(struct vdev *d, uint64_t base);
/* ACK|DRIVER, write `want & offered`, FEATURES_OK and read it back. Returns the
 * accepted feature set, or (uint64_t)-1 when the device refused. */
uint64_t vdev_negotiate(struct vdev *d, uint64_t want);
/* Configure queue q with num entries (rings in a static pool). 0 or -1. */
int vdev_setup_queue(struct vdev *d, unsigned q, struct vq *vq, uint16_t num);
void vdev_driver_ok(struct vdev *d);
static inline void vdev_kick(struct vdev *d, unsigned q)
{
	vdev_w(d, VMMIO_QUEUE_NOTIFY, q);
}

/* Put a chain of n raw descriptors (linked in order) on the avail ring; returns
 * the head index. The caller fills addr/len/flags (NEXT is set here). */
uint16_t vq_add(struct vq *vq, const struct vring_desc *chain, unsigned n);
/* Publish raw avail ring entry `head` without touching descriptors (for
 * hostile guests). */
void vq_publish(struct vq *vq, uint16_t head);
/* 1 and id, len when a used element is waiting, else 0. */
int vq_get_used(struct vq *vq, uint32_t *id, uint32_t *len);

#endif
