/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk (virtio 1.x §5.2) on a raw image file or block device, with
 * io_uring: reads and writes are readv/writev of the guest's own buffers,
 * FLUSH an fdatasync, DISCARD and WRITE_ZEROES fallocate (PUNCH_HOLE|KEEP_SIZE,
 * ZERO_RANGE|KEEP_SIZE). Completions arrive on an eventfd the event loop
 * watches; each one publishes its used element and interrupts the guest.
 *
 * The ring is created disabled, the image registered as fixed file 0, the
 * eventfd registered, then restricted to exactly those four opcodes with
 * IOSQE_FIXED_FILE required, and only then enabled: the ring can reach nothing
 * but the image.
 *
 * Back-pressure: at most `iodepth` requests are in flight (one slot and one
 * SQE each); when every slot is busy no more descriptors are taken, and the
 * next completion resumes the queues that stalled. Reset, quiesce and destroy
 * wait for the requests in flight (their buffers are guest memory).
 *
 * Spec: blk,{path=FILE|fd=N}[,ro=on][,id=SERIAL][,direct=on][,queues=N][,iodepth=N]
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "vmm/devices/blk.h"
#include "evloop.h"

#define BIT(b) (1ull << (b))
#define BLK_FEATURES                                                                                         \
	(BIT(BLK_F_SIZE_MAX) | BIT(BLK_F_SEG_MAX) | BIT(BLK_F_BLK_SIZE) | BIT(BLK_F_FLUSH) |                 \
	 BIT(BLK_F_DISCARD) | BIT(BLK_F_WRITE_ZEROES))
#define BLK_QUEUE_MAX	    256
#define BLK_DEFAULT_DEPTH   64
#define BLK_MAX_DEPTH	    256
#define BLK_DRAIN_TIMEOUT_S 30 /* reset, quiesce, destroy: the longest wait for requests in flight */

/* struct virtio_blk_config, up to the secure-erase fields (72 bytes). */
struct blk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads, sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp, alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback, unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap, unused1[3];
	uint32_t max_secure_erase_sectors, max_secure_erase_seg, secure_erase_sector_alignment;
} __attribute__((packed));

struct blk_slot {
	struct blk_req r;
	uint16_t head;
	uint8_t q;
	bool busy;
	bool retried; /* ZERO_RANGE refused: resubmitted as PUNCH_HOLE */
};

struct blk_dev {
	struct virtio_dev dev;
	struct virtio_dev_ops ops; /* per device: queue count and RO/MQ vary */
	struct blk_config cfg;
	struct blk_geom geom;
	char serial[BLK_ID_LEN + 1];
	char label[80]; /* "image PATH" / "image fd N", for messages */
	int fd, efd;
	bool ring_up, watched;
	struct io_uring ring;
	unsigned depth, busy, unsubmitted;
	unsigned nfree;
	unsigned *free_list;
	struct blk_slot *slots;
	bool stalled[VIRTIO_MAX_QUEUES];
	int last_errno;
	uint64_t io_errors;
	struct virtq_elem elem;
};

/* ------------------------------------------------------------ io_uring */

static void blk_submit_all(struct blk_dev *b)
{
	while (b->unsubmitted) {
		int r = io_uring_submit(&b->ring);
		if (r == -EINTR || r == -EAGAIN)
			continue;
		if (r < 0) {
			log_errno(-r, "blk: %s: io_uring submit of %u requests", b->label, b->unsubmitted);
			virtio_dev_broken(&b->dev, "cannot submit I/O");
			return;
		}
		b->unsubmitted -= (unsigned)r < b->unsubmitted ? (unsigned)r : b->unsubmitted;
		if (r == 0)
			return;
	}
}

static void slot_free(struct blk_dev *b, unsigned idx);

static void blk_prep(struct blk_dev *b, unsigned idx)
{
	struct blk_slot *s = &b->slots[idx];
	struct blk_req *r = &s->r;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
	if (!sqe) { /* cannot happen: the SQ has a slot per request */
		blk_submit_all(b);
		sqe = io_uring_get_sqe(&b->ring);
	}
	if (!sqe) {
		log_error("blk: %s: io_uring submission queue full", b->label);
		slot_free(b, idx);
		virtio_dev_broken(&b->dev, "submission queue full");
		return;
	}
	int mode;
	switch (r->op) {
	case BLK_OP_READ:
		io_uring_prep_readv(sqe, 0, r->data, r->ndata, r->offset);
		break;
	case BLK_OP_WRITE:
		io_uring_prep_writev(sqe, 0, r->data, r->ndata, r->offset);
		/* A driver without FLUSH expects completed writes to be durable. */
		if (!(b->dev.features_acked & BIT(BLK_F_FLUSH)))
			sqe->rw_flags = RWF_DSYNC;
		break;
	case BLK_OP_FLUSH:
		io_uring_prep_fsync(sqe, 0, IORING_FSYNC_DATASYNC);
		break;
	default:
		mode = r->op == BLK_OP_ZERO && !r->unmap ? FALLOC_FL_ZERO_RANGE : FALLOC_FL_PUNCH_HOLE;
		io_uring_prep_fallocate(sqe, 0, mode | FALLOC_FL_KEEP_SIZE, r->offset, r->len);
		break;
	}
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, idx);
	b->unsubmitted++;
}

/* The status a completion gives its request. */
static uint8_t blk_status(struct blk_dev *b, const struct blk_slot *s, int res)
{
	const struct blk_req *r = &s->r;
	if (res >= 0) {
		bool rw = r->op == BLK_OP_READ || r->op == BLK_OP_WRITE;
		if (!rw || (uint64_t)res == r->len)
			return BLK_S_OK;
		res = -EIO; /* short: the image shrank under us, or the disk is full */
	}
	if (r->op == BLK_OP_DISCARD && (res == -EOPNOTSUPP || res == -EINVAL))
		return BLK_S_OK; /* discard is a hint */
	b->io_errors++;
	if (b->last_errno != -res)
		log_warn("blk: %s: %s of %llu bytes at %llu: %s (further errors of this kind are counted)",
			 b->label,
			 r->op == BLK_OP_READ	 ? "read"
			 : r->op == BLK_OP_WRITE ? "write"
			 : r->op == BLK_OP_FLUSH ? "flush"
						 : "fallocate",
			 (unsigned long long)r->len, (unsigned long long)r->offset, strerror(-res));
	b->last_errno = -res;
	return BLK_S_IOERR;
}

static void slot_free(struct blk_dev *b, unsigned idx)
{
	b->slots[idx].busy = false;
	b->busy--;
	b->free_list[b->nfree++] = idx;
}

/* Publish request idx with status st; mark its queue for an interrupt. */
static void blk_finish(struct blk_dev *b, unsigned idx, uint8_t st, bool *pushed)
{
	struct virtio_dev *d = &b->dev;
	struct blk_slot *s = &b->slots[idx];
	unsigned q = s->q;
	if (d->active && !d->broken) {
		*s->r.status_p = st;
		uint32_t len = st == BLK_S_OK ? s->r.written : 1;
		if (virtq_push(&d->vq[q], s->head, len) < 0)
			virtio_dev_broken(d, "used ring of queue %u not addressable", q);
		else
			pushed[q] = true;
	}
	slot_free(b, idx);
}

static void blk_complete(struct blk_dev *b, uint64_t data, int res, bool *pushed)
{
	if (data >= b->depth || !b->slots[data].busy) {
		log_error("blk: %s: completion for unknown request %llu", b->label, (unsigned long long)data);
		return;
	}
	unsigned idx = (unsigned)data;
	struct blk_slot *s = &b->slots[idx];
	if (s->r.op == BLK_OP_ZERO && !s->r.unmap && !s->retried && (res == -EOPNOTSUPP || res == -EINVAL)) {
		/* No ZERO_RANGE here (tmpfs, some block devices): a hole reads as zeroes too. */
		s->retried = true;
		s->r.unmap = true;
		blk_prep(b, idx);
		return;
	}
	blk_finish(b, idx, blk_status(b, s, res), pushed);
}

/* Reap what completed; returns how many. */
static unsigned blk_reap(struct blk_dev *b, bool *pushed)
{
	unsigned n = 0;
	struct io_uring_cqe *cqe;
	while (io_uring_peek_cqe(&b->ring, &cqe) == 0) {
		uint64_t data = io_uring_cqe_get_data64(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&b->ring, cqe);
		blk_complete(b, data, res, pushed);
		n++;
	}
	return n;
}

static void blk_notify_pushed(struct blk_dev *b, const bool *pushed)
{
	for (unsigned q = 0; q < b->ops.num_queues; q++)
		if (pushed[q])
			virtio_dev_notify(&b->dev, q);
}

/* Wait for every request in flight (reset, quiesce, destroy). */
static void blk_drain(struct blk_dev *b)
{
	bool pushed[VIRTIO_MAX_QUEUES] = {0};
	while (b->busy) {
		blk_submit_all(b);
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = {.tv_sec = BLK_DRAIN_TIMEOUT_S};
		int r = io_uring_wait_cqe_timeout(&b->ring, &cqe, &ts);
		if (r == -EINTR)
			continue;
		if (r < 0) {
			/* Never hang the loop (a submit that keeps failing): give them up. */
			log_errno(-r,
				  "blk: %s: waiting for %u requests in flight (%u unsubmitted); giving up "
				  "on them",
				  b->label, b->busy, b->unsubmitted);
			return;
		}
		blk_reap(b, pushed);
	}
	blk_notify_pushed(b, pushed);
}

/* -------------------------------------------------------------- queues */

/* Take requests from queue q while a slot is free. */
static void blk_process(struct blk_dev *b, unsigned q, bool *pushed)
{
	struct virtio_dev *d = &b->dev;
	b->stalled[q] = false;
	while (d->active && !d->broken) {
		if (!b->nfree) {
			b->stalled[q] = true; /* resumed by the next completion */
			return;
		}
		int r = virtq_pop(&d->vq[q], &b->elem);
		if (r == 0)
			return;
		if (r < 0) {
			virtio_dev_broken(d, "malformed descriptor chain on request queue %u", q);
			return;
		}
		unsigned idx = b->free_list[--b->nfree];
		struct blk_slot *s = &b->slots[idx];
		s->busy = true;
		s->retried = false;
		s->head = b->elem.head;
		s->q = (uint8_t)q;
		b->busy++;
		if (blk_parse(&b->elem, &b->geom, &s->r) < 0) {
			slot_free(b, idx);
			virtio_dev_broken(
			    d,
			    "malformed request on queue %u (%zu readable, %zu writable bytes: a 16-byte "
			    "header and a status byte are needed, each side under 4 GiB)",
			    q, b->elem.out_len, b->elem.in_len);
			return;
		}
		if (s->r.op == BLK_OP_NONE)
			blk_finish(b, idx, s->r.status, pushed);
		else
			blk_prep(b, idx);
	}
}

static void blk_run(struct blk_dev *b, bool *pushed)
{
	for (unsigned q = 0; q < b->ops.num_queues; q++)
		if (b->stalled[q] && b->nfree)
			blk_process(b, q, pushed);
	blk_submit_all(b);
}

static void blk_efd_cb(void *opaque, uint32_t events)
{
	struct blk_dev *b = opaque;
	uint64_t v;
	if (read(b->efd, &v, sizeof(v)) < 0 && errno != EAGAIN && errno != EINTR)
		log_errno(errno, "blk: %s: completion eventfd", b->label);
	bool pushed[VIRTIO_MAX_QUEUES] = {0};
	if (blk_reap(b, pushed))
		blk_run(b, pushed);
	blk_notify_pushed(b, pushed);
}

static void blk_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct blk_dev *b = d->priv;
	if (q >= b->ops.num_queues || !d->active || d->broken)
		return;
	bool pushed[VIRTIO_MAX_QUEUES] = {0};
	blk_process(b, q, pushed);
	blk_submit_all(b);
	blk_notify_pushed(b, pushed);
}

static int blk_activate(struct virtio_dev *d)
{
	struct blk_dev *b = d->priv;
	memset(b->stalled, 0, sizeof(b->stalled));
	d->active = true;
	return 0;
}

/* Finish what is in flight (published while the rings are still valid). */
static void blk_quiesce(struct virtio_dev *d)
{
	blk_drain(d->priv);
}

static void blk_reset(struct virtio_dev *d)
{
	struct blk_dev *b = d->priv;
	blk_drain(b);
	memset(b->stalled, 0, sizeof(b->stalled));
	d->active = false;
}

static void blk_destroy(struct virtio_dev *d)
{
	struct blk_dev *b = d->priv;
	d->active = false;
	if (b->ring_up) {
		blk_drain(b);
		io_uring_queue_exit(&b->ring);
	}
	if (b->watched)
		evloop_del(d->loop, b->efd);
	if (b->efd >= 0)
		close(b->efd);
	if (b->fd >= 0)
		close(b->fd);
	if (b->io_errors)
		log_debug("blk: %s: %llu I/O errors", b->label, (unsigned long long)b->io_errors);
	free(b->slots);
	free(b->free_list);
	free(b);
}

static const struct virtio_dev_ops blk_ops_template = {
    .name = "blk",
    .device_id = VIRTIO_ID_BLOCK,
    .num_queues = 1,
    .queue_max = BLK_QUEUE_MAX,
    .features = BLK_FEATURES,
    .activate = blk_activate,
    .queue_notify = blk_queue_notify,
    .quiesce = blk_quiesce,
    .reset = blk_reset,
    .destroy = blk_destroy,
};

/* The ring: disabled, fixed file 0, completion eventfd, restricted, enabled. */
static int blk_ring_setup(struct blk_dev *b, char *err, size_t errlen)
{
	struct io_uring_params p = {.flags = IORING_SETUP_R_DISABLED};
	int r = io_uring_queue_init_params(b->depth, &b->ring, &p);
	if (r < 0) {
		snprintf(err, errlen, "io_uring_setup (%u entries): %s", b->depth, strerror(-r));
		return -1;
	}
	b->ring_up = true;
	static const struct io_uring_restriction res[] = {
	    {.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READV},
	    {.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITEV},
	    {.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FSYNC},
	    {.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FALLOCATE},
	    {.opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED, .sqe_flags = IOSQE_FIXED_FILE},
	    {.opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED, .sqe_flags = IOSQE_FIXED_FILE},
	};
	const char *what = "register the image";
	if ((r = io_uring_register_files(&b->ring, &b->fd, 1)) < 0)
		goto fail;
	what = "register the completion eventfd";
	if ((r = io_uring_register_eventfd(&b->ring, b->efd)) < 0)
		goto fail;
	/* Debian's liburing 2.3 does not export io_uring_register_restrictions()
	 * nor io_uring_enable_rings(): the raw io_uring_register() it does. */
	what = "register restrictions";
	if ((r = io_uring_register(b->ring.ring_fd, IORING_REGISTER_RESTRICTIONS, res,
				   sizeof(res) / sizeof(res[0]))) < 0)
		goto fail;
	what = "enable the ring";
	if ((r = io_uring_register(b->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0)) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "io_uring: %s: %s", what, strerror(-r));
	return -1;
}

/* ---------------------------------------------------------------- options */

struct blk_opts {
	char *path; /* the option strings die with virtio_parse_opts: copies */
	int fd;
	bool ro, direct;
	unsigned queues, depth;
	char id[BLK_ID_LEN + 1];
	char *err;
	size_t errlen;
};

static int parse_bool(const char *k, const char *v, bool *out, struct blk_opts *o)
{
	if (!strcmp(v, "on") || !strcmp(v, "") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else {
		snprintf(o->err, o->errlen, "%s=%.32s: on or off expected", k, v);
		return -EINVAL;
	}
	return 0;
}

static int parse_num(const char *k, const char *v, unsigned long min, unsigned long max, unsigned *out,
		     struct blk_opts *o)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno || !*v || *end || *v == '-' || n < min || n > max) {
		snprintf(o->err, o->errlen, "%s=%.32s: a number from %lu to %lu expected", k, v, min, max);
		return -EINVAL;
	}
	*out = (unsigned)n;
	return 0;
}

static int blk_opt(const char *k, const char *v, void *opaque)
{
	struct blk_opts *o = opaque;
	if (!strcmp(k, "path")) {
		if (!*v) {
			snprintf(o->err, o->errlen, "path=: empty file name");
			return -EINVAL;
		}
		free(o->path);
		o->path = strdup(v);
		if (!o->path) {
			snprintf(o->err, o->errlen, "out of memory");
			return -ENOMEM;
		}
		return 0;
	}
	if (!strcmp(k, "fd")) {
		unsigned fd;
		if (parse_num(k, v, 0, 65535, &fd, o))
			return -EINVAL;
		o->fd = (int)fd;
		return 0;
	}
	if (!strcmp(k, "ro"))
		return parse_bool(k, v, &o->ro, o);
	if (!strcmp(k, "direct"))
		return parse_bool(k, v, &o->direct, o);
	if (!strcmp(k, "queues"))
		return parse_num(k, v, 1, VIRTIO_MAX_QUEUES, &o->queues, o);
	if (!strcmp(k, "iodepth"))
		return parse_num(k, v, 1, BLK_MAX_DEPTH, &o->depth, o);
	if (!strcmp(k, "id")) {
		if (strlen(v) > BLK_ID_LEN) {
			snprintf(o->err, o->errlen, "id=%.32s: at most %u bytes", v, BLK_ID_LEN);
			return -EINVAL;
		}
		snprintf(o->id, sizeof(o->id), "%s", v);
		return 0;
	}
	snprintf(o->err, o->errlen,
		 "unknown option '%s' (path=FILE or fd=N, ro=on, id=SERIAL, direct=on, queues=N, iodepth=N)",
		 k);
	return -EINVAL;
}

/* Open (or adopt) the image; sets b->fd, b->label and the capacity. */
static int blk_open_image(struct blk_dev *b, const struct blk_opts *o, char *err, size_t errlen)
{
	if ((o->path != NULL) == (o->fd >= 0)) {
		snprintf(err, errlen, "give exactly one of path=FILE and fd=N");
		return -1;
	}
	if (o->path) {
		snprintf(b->label, sizeof(b->label), "image %.64s", o->path);
		b->fd = open(o->path, (o->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | (o->direct ? O_DIRECT : 0));
		if (b->fd < 0) {
			snprintf(err, errlen, "open %.128s: %s", o->path, strerror(errno));
			return -1;
		}
	} else {
		snprintf(b->label, sizeof(b->label), "image fd %d", o->fd);
		int fl = fcntl(o->fd, F_GETFL);
		if (fl < 0) {
			snprintf(err, errlen, "fd=%d: %s", o->fd, strerror(errno));
			return -1;
		}
		if ((fl & O_ACCMODE) == O_RDONLY && !o->ro) {
			snprintf(err, errlen, "fd=%d is open read-only: give ro=on", o->fd);
			return -1;
		}
		b->fd = o->fd;
		if (fcntl(b->fd, F_SETFD, FD_CLOEXEC) < 0 ||
		    (o->direct && fcntl(b->fd, F_SETFL, fl | O_DIRECT) < 0)) {
			snprintf(err, errlen, "fd=%d: fcntl: %s", o->fd, strerror(errno));
			return -1;
		}
	}
	struct stat st;
	uint64_t size = 0;
	if (fstat(b->fd, &st) < 0) {
		snprintf(err, errlen, "%s: fstat: %s", b->label, strerror(errno));
		return -1;
	}
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (!S_ISBLK(st.st_mode) || ioctl(b->fd, BLKGETSIZE64, &size) < 0) {
		snprintf(err, errlen, "%s: not a regular file or block device", b->label);
		return -1;
	}
	if (size % BLK_SECTOR)
		log_warn("blk: %s: size %llu is not a multiple of %u: the last %llu bytes are not used",
			 b->label, (unsigned long long)size, BLK_SECTOR,
			 (unsigned long long)(size % BLK_SECTOR));
	b->geom.sectors = size / BLK_SECTOR;
	return 0;
}

static void blk_fill_config(struct blk_dev *b, const struct blk_opts *o)
{
	struct blk_config *c = &b->cfg;
	c->capacity = b->geom.sectors;
	c->size_max = BLK_SIZE_MAX;
	c->seg_max = (VIRTQ_MAX_SEGS < BLK_QUEUE_MAX ? VIRTQ_MAX_SEGS : BLK_QUEUE_MAX) - 2;
	c->blk_size = BLK_SECTOR;
	c->num_queues = (uint16_t)o->queues;
	c->max_discard_sectors = BLK_MAX_DISCARD;
	c->max_discard_seg = 1;
	c->discard_sector_alignment = BLK_DISCARD_ALIGN;
	c->max_write_zeroes_sectors = BLK_MAX_DISCARD;
	c->max_write_zeroes_seg = 1;
	c->write_zeroes_may_unmap = 1;
	b->ops = blk_ops_template;
	b->ops.num_queues = (uint16_t)o->queues;
	if (o->ro)
		b->ops.features |= BIT(BLK_F_RO);
	if (o->queues > 1)
		b->ops.features |= BIT(BLK_F_MQ);
}

static struct blk_dev *blk_alloc(unsigned depth)
{
	struct blk_dev *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->fd = b->efd = -1;
	b->depth = depth;
	b->slots = calloc(depth, sizeof(*b->slots));
	b->free_list = calloc(depth, sizeof(*b->free_list));
	if (!b->slots || !b->free_list) {
		free(b->slots);
		free(b->free_list);
		free(b);
		return NULL;
	}
	for (unsigned i = 0; i < depth; i++)
		b->free_list[i] = depth - 1 - i;
	b->nfree = depth;
	return b;
}

struct virtio_dev *virtio_blk_create(const char *opts, struct evloop *loop, char *err, size_t errlen)
{
	struct blk_opts o = {.fd = -1, .queues = 1, .depth = BLK_DEFAULT_DEPTH, .err = err, .errlen = errlen};
	err[0] = '\0';
	struct blk_dev *b = NULL;
	if (virtio_parse_opts(opts, blk_opt, &o)) {
		if (!err[0])
			snprintf(err, errlen, "malformed options '%.64s'", opts);
		goto out;
	}
	if (!loop) {
		snprintf(err, errlen, "needs an event loop");
		goto out;
	}
	b = blk_alloc(o.depth);
	if (!b) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	b->dev.loop = loop;
	b->dev.priv = b;
	if (blk_open_image(b, &o, err, errlen) < 0)
		goto fail;
	b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->efd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if (blk_ring_setup(b, err, errlen) < 0)
		goto fail;
	int r = evloop_add(loop, b->efd, EPOLLIN, blk_efd_cb, b);
	if (r < 0) {
		snprintf(err, errlen, "watch the completion eventfd: %s", strerror(-r));
		goto fail;
	}
	b->watched = true;
	memcpy(b->serial, o.id, sizeof(b->serial));
	b->geom.ro = o.ro;
	b->geom.serial = b->serial;
	blk_fill_config(b, &o);
	b->dev.ops = &b->ops;
	b->dev.config = (uint8_t *)&b->cfg;
	b->dev.config_len = sizeof(b->cfg);
	log_debug("blk: %s, %llu sectors%s%s, %u queue(s), depth %u", b->label,
		  (unsigned long long)b->geom.sectors, o.ro ? ", read-only" : "",
		  o.direct ? ", O_DIRECT" : "", o.queues, o.depth);
	free(o.path);
	return &b->dev;
fail:
	if (o.fd >= 0 && b->fd == o.fd)
		b->fd = -1; /* not ours to close on failure: the caller still owns it */
	b->dev.ops = &blk_ops_template;
	blk_destroy(&b->dev);
	b = NULL;
out:
	free(o.path);
	return NULL;
}
