/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk request parsing (virtio 1.x §5.2.6): a 16-byte header (type,
 * reserved, sector) at the start of the device-readable side, the status byte
 * at the very end of the device-writable side, data in between on the side its
 * direction needs. No framing is assumed: header, data and status may share or
 * split descriptors. Every sector and length is checked against the image.
 */
#include <errno.h>
#include <string.h>

#include "vmm/devices/blk.h"

/* Copy the iovecs of e->iov[first, first+count) into out, skipping `skip`
 * bytes and keeping `len`. Returns how many iovecs out got. */
static unsigned slice(const struct virtq_elem *e, unsigned first, unsigned count, size_t skip, size_t len,
		      struct iovec *out)
{
	unsigned n = 0;
	for (unsigned i = first; i < first + count && len; i++) {
		size_t l = e->iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		size_t take = l - skip < len ? l - skip : len;
		if (take) {
			out[n].iov_base = (uint8_t *)e->iov[i].iov_base + skip;
			out[n].iov_len = take;
			n++;
		}
		len -= take;
		skip = 0;
	}
	return n;
}

static uint8_t *status_byte(const struct virtq_elem *e)
{
	for (unsigned i = e->n_out + e->n_in; i > e->n_out; i--) {
		const struct iovec *v = &e->iov[i - 1];
		if (v->iov_len)
			return (uint8_t *)v->iov_base + v->iov_len - 1;
	}
	return NULL;
}

static bool in_range(const struct blk_geom *g, uint64_t sector, uint64_t nsec)
{
	return sector <= g->sectors && nsec <= g->sectors - sector;
}

static int answer(struct blk_req *r, uint8_t status)
{
	r->op = BLK_OP_NONE;
	r->status = status;
	r->written = 1;
	return 0;
}

static int parse_rw(const struct virtq_elem *e, const struct blk_geom *g, struct blk_req *r, uint64_t sector)
{
	bool rd = r->type == BLK_T_IN;
	uint64_t len = rd ? e->in_len - 1 : e->out_len - BLK_HDR_LEN;
	if (!rd && g->ro)
		return answer(r, BLK_S_IOERR);
	if (len % BLK_SECTOR || !in_range(g, sector, len / BLK_SECTOR))
		return answer(r, BLK_S_IOERR);
	r->op = rd ? BLK_OP_READ : BLK_OP_WRITE;
	r->offset = sector * BLK_SECTOR;
	r->len = len;
	r->written = rd ? (uint32_t)len + 1 : 1;
	if (rd)
		r->ndata = slice(e, e->n_out, e->n_in, 0, len, r->data);
	else
		r->ndata = slice(e, 0, e->n_out, BLK_HDR_LEN, len, r->data);
	if (len == 0)
		return answer(r, BLK_S_OK);
	return 0;
}

/* DISCARD / WRITE_ZEROES: one segment (max_*_seg is 1). */
static int parse_range(const struct virtq_elem *e, const struct blk_geom *g, struct blk_req *r)
{
	uint8_t seg[BLK_SEG_LEN];
	if (g->ro || e->out_len - BLK_HDR_LEN != BLK_SEG_LEN ||
	    virtq_elem_read(e, BLK_HDR_LEN, seg, sizeof(seg)) != sizeof(seg))
		return answer(r, BLK_S_IOERR);
	uint64_t sector;
	uint32_t nsec, flags;
	memcpy(&sector, seg, 8);
	memcpy(&nsec, seg + 8, 4);
	memcpy(&flags, seg + 12, 4);
	uint32_t known = r->type == BLK_T_WRITE_ZEROES ? BLK_WZ_F_UNMAP : 0;
	if (flags & ~known)
		return answer(r, BLK_S_UNSUPP);
	if (nsec > BLK_MAX_DISCARD || !in_range(g, sector, nsec))
		return answer(r, BLK_S_IOERR);
	if (nsec == 0)
		return answer(r, BLK_S_OK);
	r->op = r->type == BLK_T_DISCARD ? BLK_OP_DISCARD : BLK_OP_ZERO;
	r->unmap = flags & BLK_WZ_F_UNMAP;
	r->offset = sector * BLK_SECTOR;
	r->len = (uint64_t)nsec * BLK_SECTOR;
	return 0;
}

static int parse_get_id(const struct virtq_elem *e, const struct blk_geom *g, struct blk_req *r)
{
	uint8_t id[BLK_ID_LEN] = {0};
	size_t sl = g->serial ? strnlen(g->serial, BLK_ID_LEN) : 0;
	memcpy(id, g->serial ? g->serial : "", sl);
	size_t n = e->in_len - 1 < BLK_ID_LEN ? e->in_len - 1 : BLK_ID_LEN;
	n = virtq_elem_write(e, 0, id, n);
	answer(r, BLK_S_OK);
	r->written = (uint32_t)n + 1;
	return 0;
}

int blk_parse(const struct virtq_elem *e, const struct blk_geom *g, struct blk_req *r)
{
	uint8_t hdr[BLK_HDR_LEN];
	r->op = BLK_OP_NONE;
	r->ndata = 0;
	r->unmap = false;
	r->offset = r->len = 0;
	r->status_p = NULL;
	if (e->out_len > UINT32_MAX || e->in_len > UINT32_MAX || e->out_len < BLK_HDR_LEN || e->in_len < 1)
		return -EINVAL;
	r->status_p = status_byte(e);
	if (!r->status_p || virtq_elem_read(e, 0, hdr, sizeof(hdr)) != sizeof(hdr))
		return -EINVAL;
	uint64_t sector;
	memcpy(&r->type, hdr, 4);
	memcpy(&sector, hdr + 8, 8);
	switch (r->type) {
	case BLK_T_IN:
	case BLK_T_OUT:
		return parse_rw(e, g, r, sector);
	case BLK_T_FLUSH:
		r->op = BLK_OP_FLUSH;
		r->written = 1;
		return 0;
	case BLK_T_GET_ID:
		return parse_get_id(e, g, r);
	case BLK_T_DISCARD:
	case BLK_T_WRITE_ZEROES:
		return parse_range(e, g, r);
	default:
		return answer(r, BLK_S_UNSUPP);
	}
}
