/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost-user backend: the device library's second transport. The frontend
 * (QEMU) is a peer we do not trust: every size, index, address and fd of every
 * message is checked before it touches device state.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "vmm/devices/evloop.h"
#include "vmm/devices/virtio.h"
#include "vmm/vhost_user/vu_backend.h"

#define VU_PROTOCOL_FEATURES                                                                     \
	((1ull << VU_PROTOCOL_F_MQ) | (1ull << VU_PROTOCOL_F_REPLY_ACK) |                        \
	 (1ull << VU_PROTOCOL_F_CONFIG) | (1ull << VU_PROTOCOL_F_RESET_DEVICE))

struct vu_ring {
	int kick_fd, call_fd, err_fd;
	bool num_set, addr_set;
	bool started; /* a kick fd (or "no fd" polling) was given */
	bool enabled;
	uint16_t num;
	uint16_t base;                /* last_avail to start from / saved at stop */
	uint64_t desc, avail, used;   /* guest-physical */
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
	unsigned nq;       /* queues the device has */
	unsigned required; /* queues that must run before the device is activated */
	uint64_t offered;
	uint64_t acked;
	bool features_set;
	uint64_t proto_acked;
	struct gmem mem;
	struct vu_map map[VU_MAX_REGIONS];
	struct vu_ring ring[VIRTIO_MAX_QUEUES];
	struct vu_ring_ref ref[VIRTIO_MAX_QUEUES];
};

/* ------------------------------------------------------------ replies */

static int send_reply(struct vu_backend *b, const struct vu_msg *req, const void *payload,
		      uint32_t size)
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
	return send_reply(b, req, &v, sizeof(v));
}

/* ------------------------------------------------------------- memory */

static void unmap_all(struct vu_map *map, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (map[i].addr)
			munmap(map[i].addr, map[i].len);
		map[i].addr = NULL;
	}
}

/* Guest-physical address of frontend virtual [uva, uva+len), or -EFAULT. */
static int uva_to_gpa(const struct vu_backend *b, uint64_t uva, uint64_t len, uint64_t *gpa)
{
	for (unsigned i = 0; i < b->mem.n; i++) {
		const struct gmem_region *r = &b->mem.r[i];
		uint64_t u0 = b->map[i].uva;
		if (uva < u0 || uva - u0 >= r->size)
			continue;
		if (len > r->size - (uva - u0))
			return -EFAULT;
		*gpa = r->gpa + (uva - u0);
		return 0;
	}
	return -EFAULT;
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t c, uint64_t clen)
{
	return a < c + clen && c < a + alen;
}

static int set_mem_table(struct vu_backend *b, struct vu_msg *m)
{
	const struct vu_mem_table *t = &m->p.mem;
	struct vu_map map[VU_MAX_REGIONS] = {0};
	struct gmem mem = {0};
	long page = sysconf(_SC_PAGESIZE);

	if (m->hdr.size < 8 || t->nregions == 0 || t->nregions > VU_MAX_REGIONS ||
	    m->hdr.size != 8 + t->nregions * sizeof(struct vu_mem_region)) {
		log_error("vhost-user: SET_MEM_TABLE: %u regions in a %u-byte payload (1..%d regions of "
			  "32 bytes expected)", t->nregions, m->hdr.size, VU_MAX_REGIONS);
		return -EINVAL;
	}
	if (m->nfds != t->nregions) {
		log_error("vhost-user: SET_MEM_TABLE: %u regions but %u fds", t->nregions, m->nfds);
		return -EINVAL;
	}
	for (unsigned i = 0; i < t->nregions; i++) {
		const struct vu_mem_region *r = &t->regions[i];
		struct stat st;
		if (r->memory_size == 0 || r->guest_phys_addr + r->memory_size < r->guest_phys_addr ||
		    r->userspace_addr + r->memory_size < r->userspace_addr ||
		    r->mmap_offset + r->memory_size < r->mmap_offset || r->memory_size > SIZE_MAX / 2) {
			log_error("vhost-user: SET_MEM_TABLE: region %u (gpa 0x%llx size 0x%llx offset "
				  "0x%llx) is empty or wraps around", i,
				  (unsigned long long)r->guest_phys_addr,
				  (unsigned long long)r->memory_size, (unsigned long long)r->mmap_offset);
			goto fail;
		}
		for (unsigned j = 0; j < i; j++) {
			const struct vu_mem_region *o = &t->regions[j];
			if (ranges_overlap(r->guest_phys_addr, r->memory_size, o->guest_phys_addr,
					   o->memory_size) ||
			    ranges_overlap(r->userspace_addr, r->memory_size, o->userspace_addr,
					   o->memory_size)) {
				log_error("vhost-user: SET_MEM_TABLE: region %u overlaps region %u", i, j);
				goto fail;
			}
		}
		if (fstat(m->fds[i], &st) < 0) {
			log_errno(errno, "vhost-user: SET_MEM_TABLE: region %u: fstat fd %d", i,
				  m->fds[i]);
			goto fail;
		}
		/* A mapping past the end of the file would SIGBUS us on access. */
		if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < r->mmap_offset + r->memory_size) {
			uint64_t need = r->mmap_offset + r->memory_size;
			log_error("vhost-user: SET_MEM_TABLE: region %u: fd is not a file of at least "
				  "%" PRIu64 " bytes", i, need);
			goto fail;
		}
		uint64_t delta = r->mmap_offset % (uint64_t)page;
		size_t len = (size_t)(r->memory_size + delta);
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			       m->fds[i], (off_t)(r->mmap_offset - delta));
		if (p == MAP_FAILED) {
			log_errno(errno, "vhost-user: SET_MEM_TABLE: mmap region %u (%zu bytes)", i,
				  len);
			goto fail;
		}
		map[i] = (struct vu_map){.addr = p, .len = len, .uva = r->userspace_addr};
		mem.r[i] = (struct gmem_region){.gpa = r->guest_phys_addr, .size = r->memory_size,
						.hva = (uint8_t *)p + delta};
	}
	mem.n = t->nregions;
	/* The mappings stay valid without the fds. */
	vu_msg_close_fds(m);
	unmap_all(b->map, b->mem.n);
	memcpy(b->map, map, sizeof(map));
	b->mem = mem;
	return 0;
fail:
	unmap_all(map, t->nregions);
	return -EINVAL;
}

/* ------------------------------------------------------------ rings */

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
static void maybe_activate(struct vu_backend *b)
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
			  "ignoring it", b->d->ops->name, ref->q, n);
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
		log_error("vhost-user: %s: payload of %u bytes (8 expected)",
			  vu_request_name(m->hdr.request), m->hdr.size);
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

static int set_vring_kick(struct vu_backend *b, struct vu_msg *m)
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
	maybe_activate(b);
	return 0;
}

static int set_vring_fd(struct vu_backend *b, struct vu_msg *m, bool call)
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
		log_error("vhost-user: %s: payload of %u bytes (8 expected)",
			  vu_request_name(m->hdr.request), m->hdr.size);
		return -EINVAL;
	}
	*rp = ring_of(b, m->p.state.index, vu_request_name(m->hdr.request));
	return *rp ? 0 : -EINVAL;
}

static bool ring_running(struct vu_backend *b, struct vu_ring *r, const char *what)
{
	unsigned q = (unsigned)(r - b->ring);
	if (b->d->active && b->d->vq[q].ready) {
		log_error("vhost-user: %s: ring %u is running (stop it with GET_VRING_BASE first)",
			  what, q);
		return true;
	}
	return false;
}

static int set_vring_num(struct vu_backend *b, struct vu_msg *m)
{
	struct vu_ring *r;
	int e = check_state(b, m, &r);
	if (e < 0 || ring_running(b, r, "SET_VRING_NUM"))
		return -EINVAL;
	uint32_t num = m->p.state.num;
	unsigned max = b->d->ops->queue_max ? b->d->ops->queue_max : VIRTQ_MAX_SIZE;
	if (num == 0 || num > max || num > VIRTQ_MAX_SIZE || (num & (num - 1))) {
		log_error("vhost-user: SET_VRING_NUM: ring %u: size %u (%s takes a power of two from 1 "
			  "to %u)", m->p.state.index, num, b->d->ops->name, max);
		return -EINVAL;
	}
	r->num = (uint16_t)num;
	r->num_set = true;
	r->addr_set = false; /* ring sizes are checked against the addresses */
	return 0;
}

static int set_vring_base(struct vu_backend *b, struct vu_msg *m)
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

static int set_vring_addr(struct vu_backend *b, struct vu_msg *m)
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
			  "supported)", a->index, a->flags);
		return -EINVAL;
	}
	if (!r->num_set) {
		log_error("vhost-user: SET_VRING_ADDR: ring %u: size not set (SET_VRING_NUM first)",
			  a->index);
		return -EINVAL;
	}
	uint64_t n = r->num;
	uint64_t desc, avail, used;
	if (uva_to_gpa(b, a->desc_user_addr, 16 * n, &desc) < 0 ||
	    uva_to_gpa(b, a->avail_user_addr, 6 + 2 * n, &avail) < 0 ||
	    uva_to_gpa(b, a->used_user_addr, 6 + 8 * n, &used) < 0) {
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

static int get_vring_base(struct vu_backend *b, struct vu_msg *m)
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
	return send_reply(b, m, &st, sizeof(st)) < 0 ? -EPROTO : 0;
}

static int set_vring_enable(struct vu_backend *b, struct vu_msg *m)
{
	struct vu_ring *r;
	int e = check_state(b, m, &r);
	if (e < 0)
		return e;
	if (!(b->acked & (1ull << VU_F_PROTOCOL_FEATURES))) {
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
	maybe_activate(b);
	return 0;
}

/* ------------------------------------------------------- reset, config */

static void reset_rings(struct vu_backend *b)
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

static int get_config(struct vu_backend *b, struct vu_msg *m)
{
	struct vu_config *c = &m->p.config;
	struct virtio_dev *d = b->d;
	if (m->hdr.size < VU_CONFIG_HDR_SIZE || c->size > VU_MAX_CONFIG_SIZE ||
	    m->hdr.size != VU_CONFIG_HDR_SIZE + c->size || c->offset > d->config_len ||
	    c->size > d->config_len - c->offset) {
		log_error("vhost-user: GET_CONFIG: offset %u size %u (payload %u bytes) outside the "
			  "%u-byte config space of %s", c->offset, c->size, m->hdr.size,
			  d->config_len, d->ops->name);
		/* An empty reply is how the protocol says "failed". */
		return send_reply(b, m, NULL, 0) < 0 ? -EPROTO : -EINVAL;
	}
	if (c->size)
		memcpy(c->region, d->config + c->offset, c->size);
	return send_reply(b, m, c, VU_CONFIG_HDR_SIZE + c->size) < 0 ? -EPROTO : 0;
}

static int set_config(struct vu_backend *b, struct vu_msg *m)
{
	struct vu_config *c = &m->p.config;
	struct virtio_dev *d = b->d;
	if (m->hdr.size < VU_CONFIG_HDR_SIZE || c->size > VU_MAX_CONFIG_SIZE ||
	    m->hdr.size != VU_CONFIG_HDR_SIZE + c->size || c->offset > d->config_len ||
	    c->size > d->config_len - c->offset) {
		log_error("vhost-user: SET_CONFIG: offset %u size %u (payload %u bytes) outside the "
			  "%u-byte config space of %s", c->offset, c->size, m->hdr.size,
			  d->config_len, d->ops->name);
		return -EINVAL;
	}
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
	log_error("vhost-user: %s: payload of %u bytes (%u expected)",
		  vu_request_name(m->hdr.request), m->hdr.size, size);
	return -EINVAL;
}

/* CONFIG only where the frontend reads the config space from us (QEMU warns
 * otherwise): not without one, and not for fs (QEMU builds the tag itself). */
static uint64_t protocol_features(const struct vu_backend *b)
{
	uint64_t f = VU_PROTOCOL_FEATURES;
	if (b->d->config_len == 0 || b->d->ops->device_id == VIRTIO_ID_FS)
		f &= ~(1ull << VU_PROTOCOL_F_CONFIG);
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
		maybe_activate(b);
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
		return 0;
	case VU_GET_QUEUE_NUM:
		*replied = true;
		return reply_u64(b, m, b->nq) < 0 ? -EPROTO : 0;
	case VU_SET_OWNER:
		return expect_size(m, 0);
	case VU_RESET_OWNER:
	case VU_RESET_DEVICE:
		reset_rings(b);
		return 0;
	case VU_SET_MEM_TABLE:
		return set_mem_table(b, m);
	case VU_SET_VRING_NUM:
		return set_vring_num(b, m);
	case VU_SET_VRING_ADDR:
		return set_vring_addr(b, m);
	case VU_SET_VRING_BASE:
		return set_vring_base(b, m);
	case VU_GET_VRING_BASE:
		*replied = true;
		return get_vring_base(b, m);
	case VU_SET_VRING_KICK:
		return set_vring_kick(b, m);
	case VU_SET_VRING_CALL:
		return set_vring_fd(b, m, true);
	case VU_SET_VRING_ERR:
		return set_vring_fd(b, m, false);
	case VU_SET_VRING_ENABLE:
		return set_vring_enable(b, m);
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
	b->offered = (d->ops->features | (1ull << VIRTIO_F_VERSION_1) |
		      (1ull << VIRTIO_F_EVENT_IDX) | (1ull << VIRTIO_F_INDIRECT_DESC) |
		      (1ull << VU_F_PROTOCOL_FEATURES)) &
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
	reset_rings(b);
	unmap_all(b->map, b->mem.n);
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
