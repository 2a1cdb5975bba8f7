/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-mmio v2 transport for devices of the library (devices/virtio.h).
 *
 * Registers are accessed from vCPU threads under a per-device lock. Anything
 * that calls into the device (activate, reset, config writes, queue kicks) is
 * run on the event-loop thread, as the library requires: queue kicks arrive
 * through one ioeventfd per queue (KVM_IOEVENTFD, datamatch = queue index) and
 * the rest is posted to the loop through an eventfd while the vCPU waits.
 * Interrupts go out through an irqfd on the device's GSI.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"
#include "virtio_mmio.h"
#include "vm.h"

enum call_kind { CALL_NONE, CALL_ACTIVATE, CALL_RESET, CALL_CONFIG_WRITE };

struct mmio_dev {
	struct vm *vm;
	struct virtio_dev *d;
	unsigned index, gsi;
	uint64_t base;
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel, status, int_status, config_gen;
	uint64_t drv_features;
	int irqfd;
	int kick_fd[VIRTIO_MAX_QUEUES];
	bool kick_registered[VIRTIO_MAX_QUEUES];
	int call_fd;
	/* one pending call into the device, run by the loop thread */
	enum call_kind call;
	uint64_t call_seq, done_seq; /* tickets: issued, completed */
	bool result_pending;	     /* done, but its caller has not read the result yet */
	int call_result;
	uint32_t cw_off, cw_len;
	uint8_t cw_buf[8];
	struct kick_ctx {
		struct mmio_dev *m;
		unsigned q;
	} kick_ctx[VIRTIO_MAX_QUEUES];
};

uint64_t mmio_dev_base(const struct mmio_dev *m)
{
	return m->base;
}
unsigned mmio_dev_gsi(const struct mmio_dev *m)
{
	return m->gsi;
}

static uint64_t offered_features(const struct mmio_dev *m)
{
	return m->d->ops->features | (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
	       (1ull << VIRTIO_F_INDIRECT_DESC);
}

static void raise_irq(struct mmio_dev *m)
{
	uint64_t one = 1;
	if (m->irqfd >= 0) {
		if (write(m->irqfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_errno(errno, "virtio-mmio %s: irqfd", m->d->ops->name);
		return;
	}
	struct kvm_irq_level l = {.irq = m->gsi, .level = 1};
	ioctl(m->vm->vm_fd, KVM_IRQ_LINE, &l);
	l.level = 0;
	ioctl(m->vm->vm_fd, KVM_IRQ_LINE, &l);
}

/* ------------------------------------------------ transport ops (loop side) */

static void t_notify_queue(struct virtio_dev *d, unsigned q)
{
	struct mmio_dev *m = d->transport_priv;
	pthread_mutex_lock(&m->lock);
	m->int_status |= VMMIO_INT_VRING;
	pthread_mutex_unlock(&m->lock);
	raise_irq(m);
}

static void t_notify_config(struct virtio_dev *d)
{
	struct mmio_dev *m = d->transport_priv;
	pthread_mutex_lock(&m->lock);
	m->int_status |= VMMIO_INT_CONFIG;
	m->config_gen++;
	pthread_mutex_unlock(&m->lock);
	raise_irq(m);
}

static void t_needs_reset(struct virtio_dev *d)
{
	struct mmio_dev *m = d->transport_priv;
	bool irq = false;
	pthread_mutex_lock(&m->lock);
	if (!(m->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)) {
		m->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
		if (m->status & VIRTIO_STATUS_DRIVER_OK) {
			m->int_status |= VMMIO_INT_CONFIG;
			irq = true;
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (irq)
		raise_irq(m);
}

static const struct virtio_transport_ops mmio_transport = {
    .notify_queue = t_notify_queue,
    .notify_config = t_notify_config,
    .needs_reset = t_needs_reset,
};

static void on_kick(void *opaque, uint32_t events)
{
	const struct kick_ctx *k = opaque;
	struct mmio_dev *m = k->m;
	unsigned q = k->q;
	uint64_t v;
	if (read(m->kick_fd[q], &v, sizeof(v)) < 0)
		return;
	struct virtio_dev *d = m->d;
	if (d->active && !d->broken && d->vq[q].ready && d->ops->queue_notify)
		d->ops->queue_notify(d, q);
}

static void on_call(void *opaque, uint32_t events)
{
	struct mmio_dev *m = opaque;
	struct virtio_dev *d = m->d;
	uint64_t v;
	if (read(m->call_fd, &v, sizeof(v)) < 0)
		return;
	pthread_mutex_lock(&m->lock);
	enum call_kind k = m->call;
	pthread_mutex_unlock(&m->lock);
	int r = 0;
	switch (k) {
	case CALL_ACTIVATE:
		r = d->ops->activate ? d->ops->activate(d) : 0;
		if (r == 0)
			d->active = true;
		break;
	case CALL_RESET:
		virtio_dev_reset(d);
		break;
	case CALL_CONFIG_WRITE:
		if (d->ops->config_write)
			d->ops->config_write(d, m->cw_off, m->cw_buf, m->cw_len);
		break;
	case CALL_NONE:
		return;
	}
	pthread_mutex_lock(&m->lock);
	m->call = CALL_NONE;
	m->call_result = r;
	m->done_seq = m->call_seq;
	m->result_pending = true;
	pthread_cond_broadcast(&m->done_cond);
	pthread_mutex_unlock(&m->lock);
}

/* Wait on done_cond for at most 50 ms (so a stopping VM never strands us). */
static void timed_wait(struct mmio_dev *m)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 50 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&m->done_cond, &m->lock, &ts);
}

/* vCPU side, lock held: run a call on the loop thread and wait for it. Calls
 * are serialised (another vCPU may be waiting for its own); the lock is
 * released while waiting. */
static int call_device(struct mmio_dev *m, enum call_kind k)
{
	uint64_t one = 1;
	while (m->call != CALL_NONE || m->result_pending) {
		if (atomic_load(&m->vm->state) == VM_STOPPING)
			return -ECANCELED;
		timed_wait(m);
	}
	uint64_t ticket = ++m->call_seq;
	m->call = k;
	if (write(m->call_fd, &one, sizeof(one)) < 0) {
		m->call = CALL_NONE;
		pthread_cond_broadcast(&m->done_cond);
		return -errno;
	}
	while (m->done_seq < ticket) {
		if (atomic_load(&m->vm->state) == VM_STOPPING)
			return -ECANCELED;
		timed_wait(m);
	}
	int r = m->call_result;
	m->result_pending = false; /* the slot is free for the next caller */
	pthread_cond_broadcast(&m->done_cond);
	return r;
}

/* ------------------------------------------------------ registers (vCPU) */

static bool queue_config_ok(const struct mmio_dev *m, const struct virtq *vq)
{
	uint16_t n = vq->num;
	if (n == 0 || (n & (n - 1)) || n > m->d->ops->queue_max)
		return false;
	if ((vq->desc & 15) || (vq->avail & 1) || (vq->used & 3))
		return false;
	return gmem_ptr(m->d->mem, vq->desc, 16ull * n) && gmem_ptr(m->d->mem, vq->avail, 6 + 2ull * n) &&
	       gmem_ptr(m->d->mem, vq->used, 6 + 8ull * n);
}

static void do_reset(struct mmio_dev *m)
{
	call_device(m, CALL_RESET);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		struct virtq *vq = &m->d->vq[q];
		vq->ready = false;
		vq->num = 0;
		vq->desc = vq->avail = vq->used = 0;
	}
	m->status = 0;
	m->int_status = 0;
	m->drv_features = 0;
	m->dev_feat_sel = m->drv_feat_sel = m->queue_sel = 0;
}

static void write_status(struct mmio_dev *m, uint32_t v)
{
	struct virtio_dev *d = m->d;
	if (v == 0) {
		do_reset(m);
		return;
	}
	uint32_t old = m->status;
	uint32_t keep = old & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t f = m->drv_features;
		if ((f & ~offered_features(m)) || !(f & (1ull << VIRTIO_F_VERSION_1)) ||
		    (old & VIRTIO_STATUS_DRIVER_OK)) {
			v &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK; /* refused: driver sees it unset */
		} else {
			d->features_acked = f;
		}
	}
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
		bool ok = (v & VIRTIO_STATUS_FEATURES_OK) && !keep;
		for (unsigned q = 0; ok && q < d->ops->num_queues; q++) {
			struct virtq *vq = &d->vq[q];
			vq->mem = d->mem;
			vq->event_idx = d->features_acked & (1ull << VIRTIO_F_EVENT_IDX);
			vq->indirect = d->features_acked & (1ull << VIRTIO_F_INDIRECT_DESC);
		}
		m->status = v | keep;
		if (!ok || call_device(m, CALL_ACTIVATE) != 0) {
			m->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
			log_error("virtio-mmio %s: activation failed: device needs reset", d->ops->name);
		}
		return;
	}
	m->status = v | keep;
}

static uint32_t reg_read(struct mmio_dev *m, uint64_t off)
{
	struct virtio_dev *d = m->d;
	struct virtq *vq = m->queue_sel < d->ops->num_queues ? &d->vq[m->queue_sel] : NULL;
	switch (off) {
	case VMMIO_MAGIC:
		return 0x74726976; /* "virt" */
	case VMMIO_VERSION:
		return 2;
	case VMMIO_DEVICE_ID:
		return d->ops->device_id;
	case VMMIO_VENDOR_ID:
		return 0x4d4e5552; /* "RUNM" */
	case VMMIO_DEV_FEATURES:
		return m->dev_feat_sel < 2 ? (uint32_t)(offered_features(m) >> (32 * m->dev_feat_sel)) : 0;
	case VMMIO_QUEUE_NUM_MAX:
		return vq ? d->ops->queue_max : 0;
	case VMMIO_QUEUE_READY:
		return vq ? vq->ready : 0;
	case VMMIO_INT_STATUS:
		return m->int_status;
	case VMMIO_STATUS:
		return m->status;
	case VMMIO_QUEUE_DESC_LO:
		return vq ? (uint32_t)vq->desc : 0;
	case VMMIO_QUEUE_DESC_HI:
		return vq ? (uint32_t)(vq->desc >> 32) : 0;
	case VMMIO_QUEUE_AVAIL_LO:
		return vq ? (uint32_t)vq->avail : 0;
	case VMMIO_QUEUE_AVAIL_HI:
		return vq ? (uint32_t)(vq->avail >> 32) : 0;
	case VMMIO_QUEUE_USED_LO:
		return vq ? (uint32_t)vq->used : 0;
	case VMMIO_QUEUE_USED_HI:
		return vq ? (uint32_t)(vq->used >> 32) : 0;
	case VMMIO_SHM_LEN_LO:
	case VMMIO_SHM_LEN_HI:
		return 0xffffffff; /* no shared memory regions */
	case VMMIO_CONFIG_GEN:
		return m->config_gen;
	default:
		return 0;
	}
}

static void set_addr(uint64_t *a, bool hi, uint32_t v)
{
	*a = hi ? (*a & 0xffffffffull) | (uint64_t)v << 32 : (*a & ~0xffffffffull) | v;
}

static void reg_write(struct mmio_dev *m, uint64_t off, uint32_t v)
{
	struct virtio_dev *d = m->d;
	struct virtq *vq = m->queue_sel < d->ops->num_queues ? &d->vq[m->queue_sel] : NULL;
	bool qcfg = vq && !vq->ready && !(m->status & VIRTIO_STATUS_DRIVER_OK);
	switch (off) {
	case VMMIO_DEV_FEAT_SEL:
		m->dev_feat_sel = v;
		break;
	case VMMIO_DRV_FEATURES:
		if (m->drv_feat_sel < 2 && !(m->status & VIRTIO_STATUS_FEATURES_OK)) {
			unsigned sh = 32 * m->drv_feat_sel;
			m->drv_features = (m->drv_features & ~(0xffffffffull << sh)) | ((uint64_t)v << sh);
		}
		break;
	case VMMIO_DRV_FEAT_SEL:
		m->drv_feat_sel = v;
		break;
	case VMMIO_QUEUE_SEL:
		m->queue_sel = v;
		break;
	case VMMIO_QUEUE_NUM:
		if (qcfg)
			vq->num = v <= VIRTQ_MAX_SIZE ? (uint16_t)v : 0;
		break;
	case VMMIO_QUEUE_READY:
		if (!vq)
			break;
		if (v == 1 && !vq->ready) {
			if (queue_config_ok(m, vq)) {
				vq->mem = d->mem;
				vq->ready = true;
			}
		} else if (v == 0) {
			vq->ready = false;
		}
		break;
	case VMMIO_QUEUE_NOTIFY:
		/* reached only when the ioeventfd is not registered */
		if (v < d->ops->num_queues) {
			uint64_t one = 1;
			if (write(m->kick_fd[v], &one, sizeof(one)) < 0)
				log_errno(errno, "virtio-mmio %s: kick", d->ops->name);
		}
		break;
	case VMMIO_INT_ACK:
		m->int_status &= ~v;
		break;
	case VMMIO_STATUS:
		write_status(m, v);
		break;
	case VMMIO_QUEUE_DESC_LO:
	case VMMIO_QUEUE_DESC_HI:
		if (qcfg)
			set_addr(&vq->desc, off == VMMIO_QUEUE_DESC_HI, v);
		break;
	case VMMIO_QUEUE_AVAIL_LO:
	case VMMIO_QUEUE_AVAIL_HI:
		if (qcfg)
			set_addr(&vq->avail, off == VMMIO_QUEUE_AVAIL_HI, v);
		break;
	case VMMIO_QUEUE_USED_LO:
	case VMMIO_QUEUE_USED_HI:
		if (qcfg)
			set_addr(&vq->used, off == VMMIO_QUEUE_USED_HI, v);
		break;
	default:
		break;
	}
}

void mmio_dev_access(struct mmio_dev *m, uint64_t off, bool is_write, uint8_t *data, unsigned size)
{
	pthread_mutex_lock(&m->lock);
	if (off >= VMMIO_CONFIG) {
		uint64_t c = off - VMMIO_CONFIG;
		struct virtio_dev *d = m->d;
		if (size > 8 || c >= d->config_len || size > d->config_len - c) {
			if (!is_write)
				memset(data, 0, size);
		} else if (!is_write) {
			memcpy(data, d->config + c, size);
		} else {
			m->cw_off = (uint32_t)c;
			m->cw_len = size;
			memcpy(m->cw_buf, data, size);
			call_device(m, CALL_CONFIG_WRITE);
		}
	} else if (size != 4 || (off & 3)) {
		/* registers are 32-bit wide; other accesses are ignored */
		if (!is_write)
			memset(data, 0, size);
	} else if (is_write) {
		uint32_t v;
		memcpy(&v, data, 4);
		reg_write(m, off, v);
	} else {
		uint32_t v = reg_read(m, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&m->lock);
}

/* --------------------------------------------------------- construction */

struct mmio_dev *mmio_dev_new(struct vm *vm, struct virtio_dev *d, unsigned index, char *err, size_t errlen)
{
	struct mmio_dev *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->vm = vm;
	m->d = d;
	m->index = index;
	m->base = VIRTIO_MMIO_BASE + index * VIRTIO_MMIO_SIZE;
	m->gsi = VIRTIO_MMIO_GSI0 + index;
	m->irqfd = -1;
	m->call_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		m->kick_fd[q] = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->done_cond, NULL);
	d->mem = &vm->mem;
	d->transport = &mmio_transport;
	d->transport_priv = m;
	if (d->ops->num_queues > VIRTIO_MAX_QUEUES) {
		snprintf(err, errlen, "%s: %u queues, at most %d", d->ops->name, d->ops->num_queues,
			 VIRTIO_MAX_QUEUES);
		goto fail;
	}
	m->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->irqfd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	struct kvm_irqfd irqfd = {.fd = (uint32_t)m->irqfd, .gsi = m->gsi};
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		log_warn("virtio-mmio %s: KVM_IRQFD gsi %u: %s; using KVM_IRQ_LINE", d->ops->name, m->gsi,
			 strerror(errno));
		close(m->irqfd);
		m->irqfd = -1;
	}
	m->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int r = 0;
	if (m->call_fd < 0 || (r = evloop_add(vm->loop, m->call_fd, EPOLLIN, on_call, m)) < 0) {
		snprintf(err, errlen, "event loop: %s", strerror(m->call_fd < 0 ? errno : -r));
		goto fail;
	}
	for (unsigned q = 0; q < d->ops->num_queues; q++) {
		m->kick_ctx[q].m = m;
		m->kick_ctx[q].q = q;
		m->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->kick_fd[q] < 0 ||
		    (r = evloop_add(vm->loop, m->kick_fd[q], EPOLLIN, on_kick, &m->kick_ctx[q])) < 0) {
			snprintf(err, errlen, "queue %u eventfd: %s", q,
				 strerror(m->kick_fd[q] < 0 ? errno : -r));
			goto fail;
		}
		struct kvm_ioeventfd io = {.datamatch = q,
					   .addr = m->base + VMMIO_QUEUE_NOTIFY,
					   .len = 4,
					   .fd = m->kick_fd[q],
					   .flags = KVM_IOEVENTFD_FLAG_DATAMATCH};
		if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) == 0)
			m->kick_registered[q] = true;
		else
			log_debug("virtio-mmio %s: KVM_IOEVENTFD queue %u: %s", d->ops->name, q,
				  strerror(errno));
	}
	return m;
fail:
	d->transport = NULL;
	mmio_dev_free(m);
	return NULL;
}

void mmio_dev_free(struct mmio_dev *m)
{
	if (!m)
		return;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (m->kick_fd[q] < 0)
			continue;
		if (m->kick_registered[q]) {
			struct kvm_ioeventfd io = {.datamatch = q,
						   .addr = m->base + VMMIO_QUEUE_NOTIFY,
						   .len = 4,
						   .fd = m->kick_fd[q],
						   .flags = KVM_IOEVENTFD_FLAG_DATAMATCH |
							    KVM_IOEVENTFD_FLAG_DEASSIGN};
			ioctl(m->vm->vm_fd, KVM_IOEVENTFD, &io);
		}
		evloop_del(m->vm->loop, m->kick_fd[q]);
		close(m->kick_fd[q]);
	}
	if (m->call_fd >= 0) {
		evloop_del(m->vm->loop, m->call_fd);
		close(m->call_fd);
	}
	if (m->irqfd >= 0)
		close(m->irqfd);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->done_cond);
	free(m);
}
