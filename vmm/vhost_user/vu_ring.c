/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost-user backend, vrings: the SET/GET_VRING_* messages build each ring's
 * state (size, addresses checked against the memory table, base index, kick,
 * call and err fds, enable); once the rings a device needs are ready they are
 * loaded into its struct virtq and the device is activated. Kick fds are
 * watched on the evloop and become queue_notify calls; GET_VRING_BASE stops
 * the device and reports where each ring stood.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "common/evloop.h"
#include "vmm/vhost_user/vu_internal.h"

static struct vu_ring *ring_of(struct vu_backend *b, uint32_t idx, const char *what)
{
	if (idx >= b->nq) {
		log_error("vhost-user: %s: ring %u out of range (device %s has %u)", what, idx,
			  b->d->ops->name, b->nq);
		return NULL;
	}
	return &b->ring[idx];
}

static bool ring_ready(const struct vu_ring *r)
{
	return r->num_set && r->addr_set && r->started && r->enabled;
}

static void kick_cb(void *opaque, uint32_t events);

static void stop_kick(struct vu_backend *b, struct vu_ring *r)
{
	if (r->kick_fd >= 0) {
		evloop_del(b->loop, r->kick_fd);
		close(r->kick_fd);
		r->kick_fd = -1;
	}
}

/* Deactivate the device: remember where each ring stood, reset it. */
static void deactivate(struct vu_backend *b)
{
	struct virtio_dev *d = b->d;
	if (!d->active)
		return;
	for (unsigned q = 0; q < b->nq; q++)
		if (d->vq[q].ready)
			b->ring[q].base = d->vq[q].last_avail;
	virtio_dev_reset(d);
	for (unsigned q = 0; q < b->nq; q++)
		d->vq[q].ready = false;
	d->active = false;
}

static void load_vq(struct vu_backend *b, unsigned q)
{
	struct virtio_dev *d = b->d;
	struct vu_ring *r = &b->ring[q];
	struct virtq *vq = &d->vq[q];
	vq->num = r->num;
	vq->desc = r->desc;
	vq->avail = r->avail;
	vq->used = r->used;
	vq->mem = &b->mem;
	vq->event_idx = b->acked & (1ull << VIRTIO_F_EVENT_IDX);
	vq->indirect = b->acked & (1ull << VIRTIO_F_INDIRECT_DESC);
	vq->last_avail = r->base;
	/* The used index lives in guest memory (the ring may have run before). */
	const uint8_t *used = gmem_ptr(&b->mem, r->used, 4);
	uint16_t used_idx = 0;
	if (used)
		memcpy(&used_idx, used + 2, sizeof(used_idx));
	vq->used_idx = used_idx;
	vq->signalled_used_valid = false;
	vq->ready = true;
}

/* Activate the device once the rings it needs run; start newly ready rings of
 * an active device. */
void vu_maybe_activate(struct vu_backend *b)
{
	struct virtio_dev *d = b->d;
	if (d->broken || !b->features_set || b->mem.n == 0)
		return;
	if (d->active) {
		for (unsigned q = 0; q < b->nq; q++) {
			if (!d->vq[q].ready && ring_ready(&b->ring[q])) {
				load_vq(b, q);
				if (d->ops->queue_notify)
					d->ops->queue_notify(d, q);
			}
		}
		return;
	}
	for (unsigned q = 0; q < b->required; q++)
		if (!ring_ready(&b->ring[q]))
			return;
	d->features_acked = b->acked;
	d->mem = &b->mem;
	for (unsigned q = 0; q < b->nq; q++)
		if (ring_ready(&b->ring[q]))
			load_vq(b, q);
	int r = d->ops->activate ? d->ops->activate(d) : 0;
	if (r < 0) {
		log_errno(-r, "vhost-user: activate %s", d->ops->name);
		for (unsigned q = 0; q < b->nq; q++)
			d->vq[q].ready = false;
		d->transport->needs_reset(d);
		return;
	}
	d->active = true;
	log_debug("vhost-user: %s active", d->ops->name);
	/* Buffers the driver made available before we ran. */
	for (unsigned q = 0; q < b->nq; q++)
		if (d->vq[q].ready && d->ops->queue_notify && d->active && !d->broken)
			d->ops->queue_notify(d, q);
}

static void kick_cb(void *opaque, uint32_t events)
{
	struct vu_ring_ref *ref = opaque;
	struct vu_backend *b = ref->b;
	struct vu_ring *r = &b->ring[ref->q];
	uint64_t v;
	ssize_t n = read(r->kick_fd, &v, sizeof(v));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != (ssize_t)sizeof(v)) {
		log_error("vhost-user: %s: ring %u: kick fd is not an eventfd (read returned %zd); "
			  "ignoring it",
			  b->d->ops->name, ref->q, n);
		stop_kick(b, r);
		return;
	}
	struct virtio_dev *d = b->d;
	if (d->active && !d->broken && d->vq[ref->q].ready && d->ops->queue_notify)
		d->ops->queue_notify(d, ref->q);
}

static int take_ring_fd(struct vu_backend *b, struct vu_msg *m, struct vu_ring **rp, int *fd)
{
	if (m->hdr.size != sizeof(uint64_t)) {
		log_error("vhost-user: %s: payload of %u bytes (8 expected)", vu_request_name(m->hdr.request),
			  m->hdr.size);
		return -EINVAL;
	}
	uint64_t v = m->p.u64;
	if (v & ~(uint64_t)(VU_VRING_IDX_MASK | VU_VRING_NOFD_MASK)) {
		log_error("vhost-user: %s: unknown bits in 0x%llx", vu_request_name(m->hdr.request),
			  (unsigned long long)v);
		return -EINVAL;
	}
	*rp = ring_of(b, (uint32_t)(v & VU_VRING_IDX_MASK), vu_request_name(m->hdr.request));
	if (!*rp)
		return -EINVAL;
	bool nofd = v & VU_VRING_NOFD_MASK;
	if ((nofd && m->nfds != 0) || (!nofd && m->nfds != 1)) {
		log_error("vhost-user: %s: ring %llu: %u fds with%s the no-fd flag",
			  vu_request_name(m->hdr.request), (unsigned long long)(v & VU_VRING_IDX_MASK),
			  m->nfds, nofd ? "" : "out");
		return -EINVAL;
	}
	*fd = -1;
	if (!nofd) {
		*fd = m->fds[0];
		m->fds[0] = -1;
		m->nfds = 0;
	}
	return 0;
}

int vu_set_vring_kick(struct vu_backend *b, struct vu_msg *m)
{
	struct vu_ring *r;
	int fd;
	int e = take_ring_fd(b, m, &r, &fd);
	if (e < 0)
		return e;
	unsigned q = (unsigned)(r - b->ring);
	stop_kick(b, r);
	if (fd >= 0) {
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
			log_errno(errno, "vhost-user: SET_VRING_KICK: ring %u: fd %d", q, fd);
			close(fd);
			return -EINVAL;
		}
		e = evloop_add(b->loop, fd, EPOLLIN, kick_cb, &b->ref[q]);
		if (e < 0) {
			log_errno(-e, "vhost-user: SET_VRING_KICK: ring %u: watch fd %d", q, fd);
			close(fd);
			return -EINVAL;
		}
		r->kick_fd = fd;
	}
	/* Without F_PROTOCOL_FEATURES a ring is enabled when it starts. */
	r->started = true;
	if (!(b->acked & (1ull << VU_F_PROTOCOL_FEATURES)))
		r->enabled = true;
	vu_maybe_activate(b);
	return 0;
}

int vu_set_vring_fd(struct vu_backend *b, struct vu_msg *m, bool call)
{
	struct vu_ring *r;
	int fd;
	int e = take_ring_fd(b, m, &r, &fd);
	if (e < 0)
		return e;
	int *slot = call ? &r->call_fd : &r->err_fd;
	if (*slot >= 0)
		close(*slot);
	*slot = fd;
	return 0;
}

static int check_state(struct vu_backend *b, struct vu_msg *m, struct vu_ring **rp)
{
	if (m->hdr.size != sizeof(struct vu_vring_state)) {
		log_error("vhost-user: %s: payload of %u bytes (8 expected)", vu_request_name(m->hdr.request),
			  m->hdr.size);
		return -EINVAL;
	}
	*rp = ring_of(b, m->p.state.index, vu_request_name(m->hdr.request));
	return *rp ? 0 : -EINVAL;
}

static bool ring_running(struct vu_backend *b, struct vu_ring *r, const char *what)
{
	unsigned q = (unsigned)(r - b->ring);
	if (b->d->active && b->d->vq[q].ready) {
		log_error("vhost-user: %s: ring %u is running (stop it with GET_VRING_BASE first)", what, q);
		return true;
	}
	return false;
}

int vu_set_vring_num(struct vu_backend *b, struct vu_msg *m)
{
	struct vu_ring *r;
	int e = check_state(b, m, &r);
	if (e < 0 || ring_running(b, r, "SET_VRING_NUM"))
		return -EINVAL;
	uint32_t num = m->p.state.num;
	unsigned max = b->d->ops->queue_max ? b->d->ops->queue_max : VIRTQ_MAX_SIZE;
	if (num == 0 || num > max || num > VIRTQ_MAX_SIZE || (num & (num - 1))) {
		log_error("vhost-user: SET_VRING_NUM: ring %u: size %u (%s takes a power of two from 1 "
			  "to %u)",
			  m->p.state.index, num, b->d->ops->name, max);
		return -EINVAL;
	}
	r->num = (uint16_t)num;
	r->num_set = true;
	r->addr_set = false; /* ring sizes are checked against the addresses */
	return 0;
}

int vu_set_vring_base(struct vu_backend *b, struct vu_msg *m)
{
	struct vu_ring *r;
	int e = check_state(b, m, &r);
	if (e < 0 || ring_running(b, r, "SET_VRING_BASE"))
		return -EINVAL;
	if (m->p.state.num > 0xffff) {
		log_error("vhost-user: SET_VRING_BASE: ring %u: base %u does not fit a split ring",
			  m->p.state.index, m->p.state.num);
		return -EINVAL;
	}
	r->base = (uint16_t)m->p.state.num;
	return 0;
}

int vu_set_vring_addr(struct vu_backend *b, struct vu_msg *m)
{
	const struct vu_vring_addr *a = &m->p.addr;
	if (m->hdr.size != sizeof(*a)) {
		log_error("vhost-user: SET_VRING_ADDR: payload of %u bytes (%zu expected)", m->hdr.size,
			  sizeof(*a));
		return -EINVAL;
	}
	struct vu_ring *r = ring_of(b, a->index, "SET_VRING_ADDR");
	if (!r || ring_running(b, r, "SET_VRING_ADDR"))
		return -EINVAL;
	if (a->flags) {
		log_error("vhost-user: SET_VRING_ADDR: ring %u: flags 0x%x (dirty logging is not "
			  "supported)",
			  a->index, a->flags);
		return -EINVAL;
	}
	if (!r->num_set) {
		log_error("vhost-user: SET_VRING_ADDR: ring %u: size not set (SET_VRING_NUM first)",
			  a->index);
		return -EINVAL;
	}
	uint64_t n = r->num;
	uint64_t desc, avail, used;
	if (vu_uva_to_gpa(b, a->desc_user_addr, 16 * n, &desc) < 0 ||
	    vu_uva_to_gpa(b, a->avail_user_addr, 6 + 2 * n, &avail) < 0 ||
	    vu_uva_to_gpa(b, a->used_user_addr, 6 + 8 * n, &used) < 0) {
		log_error("vhost-user: SET_VRING_ADDR: ring %u (size %u): desc 0x%llx avail 0x%llx used "
			  "0x%llx do not lie inside the memory table (%u regions)",
			  a->index, r->num, (unsigned long long)a->desc_user_addr,
			  (unsigned long long)a->avail_user_addr, (unsigned long long)a->used_user_addr,
			  b->mem.n);
		return -EINVAL;
	}
	if ((desc & 15) || (avail & 1) || (used & 3)) {
		log_error("vhost-user: SET_VRING_ADDR: ring %u: misaligned ring addresses", a->index);
		return -EINVAL;
	}
	r->desc = desc;
	r->avail = avail;
	r->used = used;
	r->addr_set = true;
	return 0;
}

int vu_get_vring_base(struct vu_backend *b, struct vu_msg *m)
{
	struct vu_ring *r;
	if (check_state(b, m, &r) < 0)
		return -EPROTO; /* the frontend waits for a reply we cannot give */
	unsigned q = (unsigned)(r - b->ring);
	deactivate(b);
	struct vu_vring_state st = {.index = q, .num = r->base};
	stop_kick(b, r);
	r->started = false;
	r->enabled = false;
	return vu_send_reply(b, m, &st, sizeof(st)) < 0 ? -EPROTO : 0;
}

int vu_set_vring_enable(struct vu_backend *b, struct vu_msg *m)
{
	struct vu_ring *r;
	int e = check_state(b, m, &r);
	if (e < 0)
		return e;
	/* QEMU's virtio-net enables its rings when the guest sets features,
	 * before SET_FEATURES reaches us: protocol features negotiated (we
	 * offered F_PROTOCOL_FEATURES) are what makes rings start disabled. */
	if (!(b->acked & (1ull << VU_F_PROTOCOL_FEATURES)) && !b->proto_set) {
		log_error("vhost-user: SET_VRING_ENABLE without F_PROTOCOL_FEATURES");
		return -EINVAL;
	}
	if (m->p.state.num > 1) {
		log_error("vhost-user: SET_VRING_ENABLE: ring %u: value %u (0 or 1 expected)",
			  m->p.state.index, m->p.state.num);
		return -EINVAL;
	}
	unsigned q = (unsigned)(r - b->ring);
	r->enabled = m->p.state.num;
	if (!r->enabled && b->d->active && b->d->vq[q].ready) {
		r->base = b->d->vq[q].last_avail;
		b->d->vq[q].ready = false;
	}
	vu_maybe_activate(b);
	return 0;
}

void vu_reset_rings(struct vu_backend *b)
{
	deactivate(b);
	for (unsigned q = 0; q < b->nq; q++) {
		struct vu_ring *r = &b->ring[q];
		stop_kick(b, r);
		if (r->call_fd >= 0)
			close(r->call_fd);
		if (r->err_fd >= 0)
			close(r->err_fd);
		*r = (struct vu_ring){.kick_fd = -1, .call_fd = -1, .err_fd = -1};
	}
	b->acked = 0;
	b->features_set = false;
}
