/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device library contract.
 *
 * A virtio device backend is one file implementing `struct virtio_dev_ops`
 * against three abstractions defined here: guest memory (`struct gmem`), split
 * virtqueues (`struct virtq`) and an event loop (`struct evloop`, evloop.h).
 * It never knows its transport. Two transports drive devices:
 *   - virtio-mmio inside runm-vmm (vmm/virtio_mmio.c), with ioeventfd/irqfd;
 *   - vhost-user (vmm/vhost_user/), so QEMU and other VMMs run the same code.
 *
 * Threading: every callback of a device runs on the one event-loop thread that
 * owns it; devices take no locks. Guest memory is hostile: every address,
 * length and index that comes from the guest is checked here or by the device.
 */
#ifndef RUNM_VIRTIO_H
#define RUNM_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct evloop;

/* ---------------------------------------------------------------- memory */

#define GMEM_MAX_REGIONS 8

struct gmem_region {
	uint64_t gpa;  /* guest-physical start */
	uint64_t size; /* bytes */
	uint8_t *hva;  /* where it is mapped in this process */
};

struct gmem {
	unsigned n;
	struct gmem_region r[GMEM_MAX_REGIONS];
};

/* Host pointer for [gpa, gpa+len) when the whole range lies in one region,
 * else NULL. Overflow-safe; len 0 is valid inside a region. */
void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len);

/* ------------------------------------------------------------ virtqueues */

/* Feature bits the library knows (virtio 1.x). */
#define VIRTIO_F_INDIRECT_DESC	 28
#define VIRTIO_F_EVENT_IDX	 29
#define VIRTIO_F_VERSION_1	 32
#define VIRTIO_F_ACCESS_PLATFORM 33

/* Largest chain (after indirect expansion) a device will accept. */
#define VIRTQ_MAX_SEGS 256
#define VIRTQ_MAX_SIZE 32768

struct virtq {
	uint16_t num;		    /* size, power of two; 0 = not configured */
	bool ready;		    /* QueueReady / vring enabled */
	bool event_idx;		    /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;		    /* VIRTIO_F_INDIRECT_DESC negotiated */
	uint64_t desc, avail, used; /* guest-physical ring addresses */
	uint16_t last_avail;	    /* next avail entry to take */
	uint16_t used_idx;	    /* next used entry to publish */
	uint16_t signalled_used;    /* used_idx at the last interrupt */
	bool signalled_used_valid;
	const struct gmem *mem;
};

/* One request: device-readable segments (out) first, then device-writable (in). */
struct virtq_elem {
	uint16_t head;
	unsigned n_out, n_in;
	size_t out_len, in_len; /* byte totals of each side */
	struct iovec iov[VIRTQ_MAX_SEGS];
};

/* Take the next available chain. Returns 1 with *e filled, 0 when the queue is
 * empty (or not ready), or -EINVAL when the guest wrote something malformed
 * (address outside memory, loop, too many segments, readable after writable,
 * bad index...): the caller must then mark the device broken. */
int virtq_pop(struct virtq *vq, struct virtq_elem *e);

/* Put a chain back so the next pop returns it again (device short of room). */
void virtq_unpop(struct virtq *vq);

/* Publish a used element: `written` bytes were written to the in segments.
 * Returns 0, or -EINVAL when the ring is not addressable. */
int virtq_push(struct virtq *vq, uint16_t head, uint32_t written);

/* One used-ring entry: chain head and bytes written to it. */
struct virtq_used_elem {
	uint16_t head;
	uint32_t len;
};

/* Publish n used elements at once: every entry is written before used->idx
 * moves (one release store), so the driver never sees part of the batch (a
 * frame spread over several mergeable RX buffers). -EINVAL, with nothing
 * published, when the ring is not addressable or a head is out of range. */
int virtq_push_n(struct virtq *vq, const struct virtq_used_elem *u, unsigned n);

/* After one or more pushes: does the driver want an interrupt (EVENT_IDX or
 * VIRTQ_AVAIL_F_NO_INTERRUPT)? Updates the signalled state when it does. */
bool virtq_should_notify(struct virtq *vq);

/* Whether the driver published buffers not yet popped. */
bool virtq_has_avail(const struct virtq *vq);

/* Reset ring state (not the addresses) for device reset / vring stop. */
void virtq_reset(struct virtq *vq);

/* Helpers to move bytes between a flat buffer and an element's segments,
 * starting `off` bytes into the out (resp. in) side. They return the count
 * actually copied, never running past the chain. */
size_t virtq_elem_read(const struct virtq_elem *e, size_t off, void *buf, size_t len);
size_t virtq_elem_write(const struct virtq_elem *e, size_t off, const void *buf, size_t len);

/* --------------------------------------------------------------- devices */

#define VIRTIO_MAX_QUEUES 8

/* Device status bits (virtio 1.x §2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	 1
#define VIRTIO_STATUS_DRIVER		 2
#define VIRTIO_STATUS_DRIVER_OK		 4
#define VIRTIO_STATUS_FEATURES_OK	 8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED		 128

/* Device ids. */
#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG	  4
#define VIRTIO_ID_VSOCK	  19
#define VIRTIO_ID_FS	  26

struct virtio_dev;

/* What a transport offers its devices. */
struct virtio_transport_ops {
	/* Used buffers were published on queue q and the driver wants to know:
	 * raise the interrupt (irqfd write, vhost-user call fd). */
	void (*notify_queue)(struct virtio_dev *d, unsigned q);
	/* Config space changed. */
	void (*notify_config)(struct virtio_dev *d);
	/* The device met malformed input: set DEVICE_NEEDS_RESET and tell the driver. */
	void (*needs_reset)(struct virtio_dev *d);
};

struct virtio_dev_ops {
	const char *name;   /* "vsock", "rng", "fs", ... */
	uint32_t device_id; /* VIRTIO_ID_* */
	uint16_t num_queues;
	uint16_t queue_max; /* largest queue size the device accepts */
	/* Device features offered (the transport adds VERSION_1, and EVENT_IDX and
	 * INDIRECT_DESC, which the library implements for every device). */
	uint64_t features;
	/* Config space: the transport reads `config`/`config_len` of the device
	 * directly; writes go through config_write when set (else are ignored). */
	void (*config_write)(struct virtio_dev *d, uint32_t off, const void *buf, uint32_t len);
	/* The driver set DRIVER_OK: features are final, queues are set up. Return
	 * 0 or -errno (the transport then sets DEVICE_NEEDS_RESET). */
	int (*activate)(struct virtio_dev *d);
	/* The driver kicked queue q. */
	void (*queue_notify)(struct virtio_dev *d, unsigned q);
	/* Optional: finish the requests in flight that touch guest memory
	 * (publishing them in the rings) before the transport changes or unmaps
	 * that memory. Devices that work synchronously leave it NULL. */
	void (*quiesce)(struct virtio_dev *d);
	/* Device reset by the driver (status 0) or the transport: drop all
	 * in-flight state; the device may be activated again later. */
	void (*reset)(struct virtio_dev *d);
	/* Free everything; the device is gone. */
	void (*destroy)(struct virtio_dev *d);
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv;	 /* the device's own state */
	uint8_t *config; /* device config space (owned by the device) */
	uint32_t config_len;
	uint64_t features_acked; /* negotiated features */
	struct virtq vq[VIRTIO_MAX_QUEUES];
	const struct gmem *mem; /* guest memory; set by the transport */
	struct evloop *loop;	/* event loop the device may add fds to */
	const struct virtio_transport_ops *transport;
	void *transport_priv;
	bool active; /* between activate and reset */
	bool broken; /* met malformed input; waits for reset */
};

/* Mark the device broken: log "<name>: <msg>" once, tell the transport.
 * Further queue work is ignored until reset. */
void virtio_dev_broken(struct virtio_dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* After pushing used buffers on q: interrupt the guest if it wants one. */
void virtio_dev_notify(struct virtio_dev *d, unsigned q);

/* Common part of a transport's reset: virtq_reset every queue, clear
 * features/active/broken, call ops->reset. */
void virtio_dev_reset(struct virtio_dev *d);

/* ------------------------------------------------------ device registry */

/* Create a device from a spec string such as "vsock,uds=/run/x/vsock.sock,cid=3",
 * "rng", "fs,tag=rootfs,dir=/srv", "net,tapfd=5,mac=02:00:00:00:00:01" or
 * "blk,path=/img,ro=on". On failure returns NULL and writes a
 * one-line reason into err. Known kinds are listed by virtio_dev_kinds(). */
struct virtio_dev *virtio_dev_create(const char *spec, struct evloop *loop, char *err, size_t errlen);
const char *virtio_dev_kinds(void);

/* Parse "k=v,k=v" options after the kind: calls fn(key, value, opaque) for each;
 * a non-zero return stops and is returned. Used by each device's constructor. */
int virtio_parse_opts(const char *opts, int (*fn)(const char *k, const char *v, void *opaque), void *opaque);

/* A device constructor: `opts` is the spec after "kind," ("" when none). On
 * failure it returns NULL with a one-line reason in err and leaves nothing
 * behind. The returned device is freed with virtio_dev_destroy(). */
typedef struct virtio_dev *(*virtio_dev_ctor)(const char *opts, struct evloop *loop, char *err,
					      size_t errlen);
struct virtio_dev *virtio_rng_create(const char *opts, struct evloop *loop, char *err, size_t errlen);
struct virtio_dev *virtio_vsock_create(const char *opts, struct evloop *loop, char *err, size_t errlen);
struct virtio_dev *virtio_fs_create(const char *opts, struct evloop *loop, char *err, size_t errlen);
struct virtio_dev *virtio_net_create(const char *opts, struct evloop *loop, char *err, size_t errlen);
struct virtio_dev *virtio_blk_create(const char *opts, struct evloop *loop, char *err, size_t errlen);

/* ops->destroy: frees the device's state, its config space and `d` itself. */
void virtio_dev_destroy(struct virtio_dev *d);

#endif
