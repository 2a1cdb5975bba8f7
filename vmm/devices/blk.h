/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk internals shared by the device (blk.c: options, config space,
 * io_uring, queues) and its request parser (blk_req.c, pure: the fuzz target).
 */
#ifndef RUNM_BLK_H
#define RUNM_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/devices/virtio.h"

/* Feature bits (virtio 1.x §5.2.3). */
#define BLK_F_SIZE_MAX	   1
#define BLK_F_SEG_MAX	   2
#define BLK_F_RO	   5
#define BLK_F_BLK_SIZE	   6
#define BLK_F_FLUSH	   9
#define BLK_F_MQ	   12
#define BLK_F_DISCARD	   13
#define BLK_F_WRITE_ZEROES 14

/* Request types. */
#define BLK_T_IN	   0
#define BLK_T_OUT	   1
#define BLK_T_FLUSH	   4
#define BLK_T_GET_ID	   8
#define BLK_T_DISCARD	   11
#define BLK_T_WRITE_ZEROES 13

/* Status byte. */
#define BLK_S_OK     0
#define BLK_S_IOERR  1
#define BLK_S_UNSUPP 2

#define BLK_WZ_F_UNMAP 1

#define BLK_SECTOR	  512u
#define BLK_HDR_LEN	  16u
#define BLK_ID_LEN	  20u
#define BLK_SEG_LEN	  16u /* one discard / write-zeroes segment */
#define BLK_SIZE_MAX	  (1u << 20)
#define BLK_MAX_DISCARD	  (1u << 22) /* sectors per discard / write-zeroes (2 GiB) */
#define BLK_DISCARD_ALIGN 8u	     /* sectors: 4 KiB, the page cache's granularity */

/* What a request asks the image for. */
enum blk_op {
	BLK_OP_NONE,	/* answered right away: `status` (and GET_ID's bytes) */
	BLK_OP_READ,	/* preadv of `data` at `offset` */
	BLK_OP_WRITE,	/* pwritev of `data` at `offset` */
	BLK_OP_FLUSH,	/* fsync */
	BLK_OP_DISCARD, /* fallocate PUNCH_HOLE|KEEP_SIZE of [offset, offset+len) */
	BLK_OP_ZERO,	/* fallocate ZERO_RANGE (or PUNCH_HOLE with unmap) */
};

struct blk_req {
	enum blk_op op;
	uint32_t type;
	uint8_t status;	   /* for BLK_OP_NONE; the result otherwise */
	bool unmap;	   /* write-zeroes may punch a hole */
	uint64_t offset;   /* bytes into the image */
	uint64_t len;	   /* bytes */
	uint8_t *status_p; /* the status byte in guest memory */
	uint32_t written;  /* used-ring length once it succeeds (data + status) */
	unsigned ndata;
	struct iovec data[VIRTQ_MAX_SEGS];
};

/* The image as requests see it. */
struct blk_geom {
	uint64_t sectors;
	bool ro;
	const char *serial; /* GET_ID answer (up to 20 bytes, not NUL-terminated when 20) */
};

/* Parse the chain e into r. Returns 0 (r->op says what to do, r->status_p is
 * set), or -EINVAL when the chain is malformed (header short, no writable
 * status byte, lengths past 4 GiB): the device needs a reset. Requests that
 * are well formed but cannot be served (out of range, unaligned, read-only,
 * unknown type) come back as BLK_OP_NONE with IOERR or UNSUPP. GET_ID's bytes
 * are copied into the chain here. */
int blk_parse(const struct virtq_elem *e, const struct blk_geom *g, struct blk_req *r);

#endif
