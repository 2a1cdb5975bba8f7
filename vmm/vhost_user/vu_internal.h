/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost-user backend internals shared by its three files (not a public API:
 * vu_backend.h is). vu_backend.c: replies, config space, the device transport,
 * message dispatch and feature negotiation. vu_mem.c: the memory table and
 * frontend-address translation. vu_ring.c: vring state, kick/call/err fds and
 * device activation.
 */
#ifndef RUNM_VU_INTERNAL_H
#define RUNM_VU_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/devices/virtio.h"
#include "vmm/vhost_user/vu_backend.h"

struct vu_ring {
	int kick_fd, call_fd, err_fd;
	bool num_set, addr_set;
	bool started; /* a kick fd (or "no fd" polling) was given */
	bool enabled;
	uint16_t num;
	uint16_t base;		    /* last_avail to start from / saved at stop */
	uint64_t desc, avail, used; /* guest-physical */
};

struct vu_backend;
/* Opaque of a kick fd watch: which ring of which backend. */
struct vu_ring_ref {
	struct vu_backend *b;
	unsigned q;
};

struct vu_map {
	void *addr;
	size_t len;
	uint64_t uva; /* frontend virtual address of the region */
};

struct vu_backend {
	struct virtio_dev *d;
	struct evloop *loop;
	int sock;
	unsigned nq;	   /* queues the device has */
	unsigned required; /* queues that must run before the device is activated */
	uint64_t offered;
	uint64_t acked;
	bool features_set;
	uint64_t proto_acked;
	bool proto_set; /* SET_PROTOCOL_FEATURES was received */
	struct gmem mem;
	struct vu_map map[VU_MAX_REGIONS];
	struct vu_ring ring[VIRTIO_MAX_QUEUES];
	struct vu_ring_ref ref[VIRTIO_MAX_QUEUES];
};

/* vu_backend.c: send a reply of `size` payload bytes to request `req`. */
int vu_send_reply(struct vu_backend *b, const struct vu_msg *req, const void *payload, uint32_t size);

/* vu_mem.c */
void vu_unmap_all(struct vu_map *map, unsigned n);
/* Guest-physical address of frontend virtual [uva, uva+len), or -EFAULT. */
int vu_uva_to_gpa(const struct vu_backend *b, uint64_t uva, uint64_t len, uint64_t *gpa);
int vu_set_mem_table(struct vu_backend *b, struct vu_msg *m);

/* vu_ring.c: the vring messages (each checks its payload and ring index). */
int vu_set_vring_num(struct vu_backend *b, struct vu_msg *m);
int vu_set_vring_addr(struct vu_backend *b, struct vu_msg *m);
int vu_set_vring_base(struct vu_backend *b, struct vu_msg *m);
int vu_get_vring_base(struct vu_backend *b, struct vu_msg *m);
int vu_set_vring_kick(struct vu_backend *b, struct vu_msg *m);
/* SET_VRING_CALL (call) or SET_VRING_ERR (!call). */
int vu_set_vring_fd(struct vu_backend *b, struct vu_msg *m, bool call);
int vu_set_vring_enable(struct vu_backend *b, struct vu_msg *m);
/* Activate the device once the rings it needs run; start newly ready rings of
 * an active device. */
void vu_maybe_activate(struct vu_backend *b);
/* Deactivate the device, close every ring's fds, forget the features. */
void vu_reset_rings(struct vu_backend *b);

#endif
