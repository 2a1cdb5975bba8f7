/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost-user backend: the device library's second transport. The frontend
 * (QEMU) is a peer we do not trust: every size, index, address and fd of every
 * message is checked before it touches device state.
 *
 * This file: replies, feature negotiation, message dispatch, the config space
 * and the device's virtio_transport_ops. The memory table is in vu_mem.c, the
 * vrings and device activation in vu_ring.c (shared state: vu_internal.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "vmm/vhost_user/vu_internal.h"

#define VU_PROTOCOL_FEATURES                                                                                 \
	((1ull << VU_PROTOCOL_F_MQ) | (1ull << VU_PROTOCOL_F_REPLY_ACK) | (1ull << VU_PROTOCOL_F_CONFIG) |   \
	 (1ull << VU_PROTOCOL_F_RESET_DEVICE))

/* ------------------------------------------------------------ replies */

int vu_send_reply(struct vu_backend *b, const struct vu_msg *req, const void *payload, uint32_t size)
{
	struct {
		struct vu_hdr h;
		uint8_t p[sizeof(struct vu_config)];
	} __attribute__((packed)) out;
	out.h.request = req->hdr.request;
	out.h.flags = VU_VERSION | VU_FLAG_REPLY;
	out.h.size = size;
	if (size > sizeof(out.p))
		return -EINVAL;
	if (size)
		memcpy(out.p, payload, size);
	size_t len = sizeof(out.h) + size, done = 0;
	while (done < len) {
		ssize_t n = send(b->sock, (char *)&out + done, len - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_errno(errno, "vhost-user: send %s reply", vu_request_name(req->hdr.request));
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

static int reply_u64(struct vu_backend *b, const struct vu_msg *req, uint64_t v)
{
	return vu_send_reply(b, req, &v, sizeof(v));
}

/* ------------------------------------------------------------- config */

/* Whether the GET/SET_CONFIG payload is well formed and its range lies inside
 * the device's config space; logs why not. */
static bool config_range_ok(const struct vu_backend *b, const struct vu_msg *m)
{
	const struct vu_config *c = &m->p.config;
	const struct virtio_dev *d = b->d;
	if (m->hdr.size >= VU_CONFIG_HDR_SIZE && c->size <= VU_MAX_CONFIG_SIZE &&
	    m->hdr.size == VU_CONFIG_HDR_SIZE + c->size && c->offset <= d->config_len &&
	    c->size <= d->config_len - c->offset)
		return true;
	log_error("vhost-user: %s: offset %u size %u (payload %u bytes) outside the %u-byte config "
		  "space of %s",
		  vu_request_name(m->hdr.request), c->offset, c->size, m->hdr.size, d->config_len,
		  d->ops->name);
	return false;
}

static int get_config(struct vu_backend *b, struct vu_msg *m)
{
	struct vu_config *c = &m->p.config;
	struct virtio_dev *d = b->d;
	/* An empty reply is how the protocol says "failed". */
	if (!config_range_ok(b, m))
		return vu_send_reply(b, m, NULL, 0) < 0 ? -EPROTO : -EINVAL;
	if (c->size)
		memcpy(c->region, d->config + c->offset, c->size);
	return vu_send_reply(b, m, c, VU_CONFIG_HDR_SIZE + c->size) < 0 ? -EPROTO : 0;
}

static int set_config(struct vu_backend *b, struct vu_msg *m)
{
	struct vu_config *c = &m->p.config;
	struct virtio_dev *d = b->d;
	if (!config_range_ok(b, m))
		return -EINVAL;
	if (!d->ops->config_write) {
		log_error("vhost-user: SET_CONFIG: %s has no writable config", d->ops->name);
		return -EINVAL;
	}
	d->ops->config_write(d, c->offset, c->region, c->size);
	return 0;
}

/* ---------------------------------------------------------- transport */

static void tp_notify_queue(struct virtio_dev *d, unsigned q)
{
	struct vu_backend *b = d->transport_priv;
	if (q >= b->nq || b->ring[q].call_fd < 0)
		return;
	uint64_t one = 1;
	if (write(b->ring[q].call_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_errno(errno, "vhost-user: %s: ring %u: signal call fd", d->ops->name, q);
}

static void tp_notify_config(struct virtio_dev *d)
{
	/* Needs the backend request channel (SLAVE_REQ), which we do not offer. */
	log_warn("vhost-user: %s: config change cannot be signalled to the frontend", d->ops->name);
}

static void tp_needs_reset(struct virtio_dev *d)
{
	struct vu_backend *b = d->transport_priv;
	log_error("vhost-user: %s needs a reset: stopping its rings until the frontend resets it",
		  d->ops->name);
	for (unsigned q = 0; q < b->nq; q++) {
		d->vq[q].ready = false;
		if (b->ring[q].err_fd >= 0) {
			uint64_t one = 1;
			if (write(b->ring[q].err_fd, &one, sizeof(one)) < 0)
				log_errno(errno, "vhost-user: ring %u: signal error fd", q);
		}
	}
}

static const struct virtio_transport_ops vu_transport = {
    .notify_queue = tp_notify_queue,
    .notify_config = tp_notify_config,
    .needs_reset = tp_needs_reset,
};

/* ------------------------------------------------------------ dispatch */

static int expect_size(const struct vu_msg *m, uint32_t size)
{
	if (m->hdr.size == size)
		return 0;
	log_error("vhost-user: %s: payload of %u bytes (%u expected)", vu_request_name(m->hdr.request),
		  m->hdr.size, size);
	return -EINVAL;
}

/* CONFIG only where the frontend reads the config space from us (QEMU warns
 * otherwise): not without one, and not for fs (QEMU builds the tag itself) nor
 * net (QEMU's virtio-net owns mac, status and mtu). MQ not for net: its
 * GET_QUEUE_NUM counts queue pairs and we serve one (no MQ, no control queue). */
static uint64_t protocol_features(const struct vu_backend *b)
{
	uint64_t f = VU_PROTOCOL_FEATURES;
	uint32_t id = b->d->ops->device_id;
	if (b->d->config_len == 0 || id == VIRTIO_ID_FS || id == VIRTIO_ID_NET)
		f &= ~(1ull << VU_PROTOCOL_F_CONFIG);
	if (id == VIRTIO_ID_NET)
		f &= ~(1ull << VU_PROTOCOL_F_MQ);
	return f;
}

static int dispatch(struct vu_backend *b, struct vu_msg *m, bool *replied)
{
	int e;
	switch (m->hdr.request) {
	case VU_GET_FEATURES:
		*replied = true;
		return reply_u64(b, m, b->offered) < 0 ? -EPROTO : 0;
	case VU_SET_FEATURES:
		if ((e = expect_size(m, 8)) < 0)
			return e;
		if (m->p.u64 & ~b->offered) {
			log_error("vhost-user: SET_FEATURES: 0x%llx has bits we did not offer (0x%llx)",
				  (unsigned long long)m->p.u64, (unsigned long long)b->offered);
			return -EINVAL;
		}
		if (b->d->active && m->p.u64 != b->acked) {
			log_error("vhost-user: SET_FEATURES: device is running");
			return -EINVAL;
		}
		b->acked = m->p.u64;
		b->features_set = true;
		vu_maybe_activate(b);
		return 0;
	case VU_GET_PROTOCOL_FEATURES:
		*replied = true;
		return reply_u64(b, m, protocol_features(b)) < 0 ? -EPROTO : 0;
	case VU_SET_PROTOCOL_FEATURES:
		if ((e = expect_size(m, 8)) < 0)
			return e;
		if (m->p.u64 & ~protocol_features(b)) {
			log_error("vhost-user: SET_PROTOCOL_FEATURES: 0x%llx has bits we did not offer",
				  (unsigned long long)m->p.u64);
			return -EINVAL;
		}
		b->proto_acked = m->p.u64;
		b->proto_set = true;
		return 0;
	case VU_GET_QUEUE_NUM:
		*replied = true;
		return reply_u64(b, m, b->nq) < 0 ? -EPROTO : 0;
	case VU_SET_OWNER:
		return expect_size(m, 0);
	case VU_RESET_OWNER:
	case VU_RESET_DEVICE:
		vu_reset_rings(b);
		return 0;
	case VU_SET_MEM_TABLE:
		return vu_set_mem_table(b, m);
	case VU_SET_VRING_NUM:
		return vu_set_vring_num(b, m);
	case VU_SET_VRING_ADDR:
		return vu_set_vring_addr(b, m);
	case VU_SET_VRING_BASE:
		return vu_set_vring_base(b, m);
	case VU_GET_VRING_BASE:
		*replied = true;
		return vu_get_vring_base(b, m);
	case VU_SET_VRING_KICK:
		return vu_set_vring_kick(b, m);
	case VU_SET_VRING_CALL:
		return vu_set_vring_fd(b, m, true);
	case VU_SET_VRING_ERR:
		return vu_set_vring_fd(b, m, false);
	case VU_SET_VRING_ENABLE:
		return vu_set_vring_enable(b, m);
	case VU_GET_CONFIG:
		*replied = true;
		return get_config(b, m);
	case VU_SET_CONFIG:
		return set_config(b, m);
	default:
		log_error("vhost-user: %s (%u): not supported", vu_request_name(m->hdr.request),
			  m->hdr.request);
		return -ENOTSUP;
	}
}

int vu_backend_handle(struct vu_backend *b, struct vu_msg *m)
{
	bool replied = false;
	if (m->hdr.flags & VU_FLAG_REPLY) {
		log_error("vhost-user: %s: the frontend sent a reply", vu_request_name(m->hdr.request));
		vu_msg_close_fds(m);
		return -EPROTO;
	}
	int e = dispatch(b, m, &replied);
	vu_msg_close_fds(m); /* fds the handler did not keep */
	if (e == -EPROTO)
		return e;
	if (!replied && (m->hdr.flags & VU_FLAG_NEED_REPLY) &&
	    (b->proto_acked & (1ull << VU_PROTOCOL_F_REPLY_ACK))) {
		if (reply_u64(b, m, e < 0 ? 1 : 0) < 0)
			return -EPROTO;
	}
	return 0;
}

struct vu_backend *vu_backend_new(struct virtio_dev *d, struct evloop *loop, int sock)
{
	struct vu_backend *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->d = d;
	b->loop = loop;
	b->sock = sock;
	b->nq = d->ops->num_queues > VIRTIO_MAX_QUEUES ? VIRTIO_MAX_QUEUES : d->ops->num_queues;
	/* QEMU's vhost-user-vsock keeps the event queue (2) in the frontend:
	 * only rx and tx reach the backend. */
	b->required = d->ops->device_id == VIRTIO_ID_VSOCK && b->nq > 2 ? 2 : b->nq;
	/* vhost-user-blk may use fewer queues than we serve (its num-queues). */
	if (d->ops->device_id == VIRTIO_ID_BLOCK)
		b->required = 1;
	b->offered = (d->ops->features | (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
		      (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VU_F_PROTOCOL_FEATURES)) &
		     ~(1ull << VIRTIO_F_ACCESS_PLATFORM) & ~(1ull << VU_F_LOG_ALL);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		b->ring[q] = (struct vu_ring){.kick_fd = -1, .call_fd = -1, .err_fd = -1};
		b->ref[q] = (struct vu_ring_ref){.b = b, .q = q};
	}
	d->transport = &vu_transport;
	d->transport_priv = b;
	d->mem = &b->mem;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d->vq[q].mem = &b->mem;
	return b;
}

void vu_backend_free(struct vu_backend *b)
{
	if (!b)
		return;
	vu_reset_rings(b);
	vu_unmap_all(b->map, b->mem.n);
	b->mem.n = 0;
	free(b);
}

bool vu_backend_active(const struct vu_backend *b)
{
	return b->d->active;
}

unsigned vu_backend_nregions(const struct vu_backend *b)
{
	return b->mem.n;
}

uint64_t vu_backend_features(const struct vu_backend *b)
{
	return b->acked;
}
