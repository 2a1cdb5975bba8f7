/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueues (virtio 1.x §2.7) seen from the device side. The rings live
 * in guest memory that a vCPU may change at any moment: every descriptor is
 * copied once before use and every address, length and index is checked.
 */
#include "vmm/devices/virtio.h"

#include <errno.h>
#include <string.h>

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Ring sizes in bytes, including the trailing event-index field. */
static uint64_t avail_size(uint16_t num)
{
	return 4 + 2 * (uint64_t)num + 2;
}
static uint64_t used_size(uint16_t num)
{
	return 4 + 8 * (uint64_t)num + 2;
}

static bool vq_configured(const struct virtq *vq)
{
	return vq->ready && vq->num && vq->mem && (vq->num & (vq->num - 1)) == 0 && vq->num <= VIRTQ_MAX_SIZE;
}

static uint8_t *vq_avail(const struct virtq *vq)
{
	if (vq->avail & 1)
		return NULL;
	return gmem_ptr(vq->mem, vq->avail, avail_size(vq->num));
}

static uint8_t *vq_used(const struct virtq *vq)
{
	if (vq->used & 3)
		return NULL;
	return gmem_ptr(vq->mem, vq->used, used_size(vq->num));
}

static uint16_t ld16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static uint16_t ld16_acquire(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_ACQUIRE);
}

static void st16_release(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)(void *)p, v, __ATOMIC_RELEASE);
}

static void rd_desc(const uint8_t *table, uint32_t i, struct vdesc *d)
{
	memcpy(d, table + 16 * (uint64_t)i, sizeof(*d));
}

bool virtq_has_avail(const struct virtq *vq)
{
	if (!vq_configured(vq))
		return false;
	const uint8_t *avail = vq_avail(vq);
	if (!avail)
		return false;
	return ld16_acquire(avail + 2) != vq->last_avail;
}

/* With EVENT_IDX, tell the driver which avail index should make it kick next. */
static void publish_avail_event(struct virtq *vq)
{
	if (!vq->event_idx)
		return;
	uint8_t *used = vq_used(vq);
	if (!used)
		return;
	st16_release(used + 4 + 8 * (uint64_t)vq->num, vq->last_avail);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

int virtq_pop(struct virtq *vq, struct virtq_elem *e)
{
	if (!vq_configured(vq))
		return 0;
	const uint8_t *avail = vq_avail(vq);
	const uint8_t *desc = (vq->desc & 15) ? NULL : gmem_ptr(vq->mem, vq->desc, 16 * (uint64_t)vq->num);
	if (!avail || !desc || !vq_used(vq))
		return -EINVAL;

	uint16_t avail_idx = ld16_acquire(avail + 2);
	uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
	if (pending > vq->num)
		return -EINVAL;
	if (pending == 0) {
		publish_avail_event(vq);
		/* The driver may have added a buffer before it saw avail_event. */
		avail_idx = ld16_acquire(avail + 2);
		pending = (uint16_t)(avail_idx - vq->last_avail);
		if (pending > vq->num)
			return -EINVAL;
		if (pending == 0)
			return 0;
	}

	uint16_t head = ld16(avail + 4 + 2 * (uint64_t)(vq->last_avail & (vq->num - 1)));
	if (head >= vq->num)
		return -EINVAL;

	e->head = head;
	e->n_out = e->n_in = 0;
	e->out_len = e->in_len = 0;

	const uint8_t *table = desc;
	uint32_t tnum = vq->num, visited = 0, i = head;
	bool in_indirect = false;
	for (;;) {
		struct vdesc d;
		if (++visited > tnum)
			return -EINVAL; /* loop */
		rd_desc(table, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (in_indirect || (d.flags & VIRTQ_DESC_F_NEXT))
				return -EINVAL;
			if (d.len == 0 || d.len % 16 || d.len / 16 > VIRTQ_MAX_SIZE)
				return -EINVAL;
			table = gmem_ptr(vq->mem, d.addr, d.len);
			if (!table)
				return -EINVAL;
			tnum = d.len / 16;
			visited = 0;
			i = 0;
			in_indirect = true;
			continue;
		}
		if (e->n_out + e->n_in >= VIRTQ_MAX_SEGS)
			return -EINVAL;
		void *p = gmem_ptr(vq->mem, d.addr, d.len);
		if (!p)
			return -EINVAL;
		struct iovec *iov = &e->iov[e->n_out + e->n_in];
		iov->iov_base = p;
		iov->iov_len = d.len;
		if (d.flags & VIRTQ_DESC_F_WRITE) {
			e->n_in++;
			e->in_len += d.len;
		} else {
			if (e->n_in)
				return -EINVAL; /* readable after writable */
			e->n_out++;
			e->out_len += d.len;
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= tnum)
			return -EINVAL;
		i = d.next;
	}

	vq->last_avail++;
	publish_avail_event(vq);
	return 1;
}

void virtq_unpop(struct virtq *vq)
{
	vq->last_avail--;
}

int virtq_push_n(struct virtq *vq, const struct virtq_used_elem *u, unsigned n)
{
	if (!vq->num || !vq->mem || (vq->num & (vq->num - 1)) || vq->num > VIRTQ_MAX_SIZE || n > vq->num)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (u[i].head >= vq->num)
			return -EINVAL;
	uint8_t *used = vq_used(vq);
	if (!used)
		return -EINVAL;
	uint16_t idx = vq->used_idx;
	for (unsigned i = 0; i < n; i++, idx++) {
		uint8_t *ent = used + 4 + 8 * (uint64_t)(idx & (vq->num - 1));
		uint32_t id = u[i].head;
		memcpy(ent, &id, 4);
		memcpy(ent + 4, &u[i].len, 4);
	}
	vq->used_idx = idx;
	st16_release(used + 2, vq->used_idx);
	return 0;
}

int virtq_push(struct virtq *vq, uint16_t head, uint32_t written)
{
	struct virtq_used_elem u = {.head = head, .len = written};
	return virtq_push_n(vq, &u, 1);
}

bool virtq_should_notify(struct virtq *vq)
{
	if (!vq->num || !vq->mem || (vq->num & (vq->num - 1)) || vq->num > VIRTQ_MAX_SIZE)
		return false;
	const uint8_t *avail = vq_avail(vq);
	if (!avail)
		return false;
	/* Our used-ring stores must be visible before we read the driver's flags. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(ld16_acquire(avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);

	uint16_t event = ld16_acquire(avail + 4 + 2 * (uint64_t)vq->num);
	uint16_t old = vq->signalled_used, new = vq->used_idx;
	bool valid = vq->signalled_used_valid;
	vq->signalled_used = new;
	vq->signalled_used_valid = true;
	if (!valid)
		return true;
	/* virtio 1.x §2.7.10: notify when event lies in (old, new]. */
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

void virtq_reset(struct virtq *vq)
{
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_used_valid = false;
}

size_t virtq_elem_read(const struct virtq_elem *e, size_t off, void *buf, size_t len)
{
	size_t done = 0;
	for (unsigned i = 0; i < e->n_out && done < len; i++) {
		const struct iovec *v = &e->iov[i];
		if (off >= v->iov_len) {
			off -= v->iov_len;
			continue;
		}
		size_t n = v->iov_len - off;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)buf + done, (const uint8_t *)v->iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t virtq_elem_write(const struct virtq_elem *e, size_t off, const void *buf, size_t len)
{
	size_t done = 0;
	for (unsigned i = e->n_out; i < e->n_out + e->n_in && done < len; i++) {
		const struct iovec *v = &e->iov[i];
		if (off >= v->iov_len) {
			off -= v->iov_len;
			continue;
		}
		size_t n = v->iov_len - off;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)v->iov_base + off, (const uint8_t *)buf + done, n);
		done += n;
		off = 0;
	}
	return done;
}
