/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the virtio-blk request parser (vmm/devices/blk_req.c) with arbitrary
 * chains: the guest controls how the request is split into segments, which
 * side each is on, and every byte of header, data and discard segments.
 *
 * Input: byte 0: segment count (1 + b % 12); byte 1: how many are
 * device-readable; byte 2: image size in sectors (b * 3), bit 7 of byte 3:
 * read-only; then two bytes of length per segment (little-endian, up to
 * 64 KiB); the rest is the "guest memory" the segments walk through (they
 * wrap around it). Checked: no crash or overrun, and what the parser asks the
 * image for lies inside it and matches the data segments it gathered.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/devices/blk.h"

#define MEMSZ 65536

static uint8_t mem[MEMSZ];
static struct virtq_elem e;
static struct blk_req r;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	unsigned nseg = 1 + data[0] % 12, nout = data[1] % (nseg + 1);
	struct blk_geom g = {.sectors = (uint64_t)data[2] * 3, .ro = data[3] & 0x80, .serial = "fuzz-serial"};
	size_t pos = 4;
	if (size < pos + 2 * nseg)
		return 0;
	size_t body = size - pos - 2 * nseg;
	memset(mem, 0, sizeof(mem));
	memcpy(mem, data + pos + 2 * nseg, body < MEMSZ ? body : MEMSZ);
	e.head = 0;
	e.n_out = nout;
	e.n_in = nseg - nout;
	e.out_len = e.in_len = 0;
	size_t at = 0;
	for (unsigned i = 0; i < nseg; i++) {
		size_t len = (size_t)data[pos + 2 * i] | (size_t)data[pos + 2 * i + 1] << 8;
		if (at + len > MEMSZ)
			at = 0;
		e.iov[i].iov_base = mem + at;
		e.iov[i].iov_len = len;
		at += len;
		if (i < nout)
			e.out_len += len;
		else
			e.in_len += len;
	}
	if (blk_parse(&e, &g, &r) < 0)
		return 0;
	if (!r.status_p || r.status_p < mem || r.status_p >= mem + MEMSZ)
		abort();
	if (r.op == BLK_OP_NONE)
		return 0;
	if (r.offset > g.sectors * BLK_SECTOR || r.len > g.sectors * BLK_SECTOR - r.offset)
		abort();
	if (g.ro && r.op != BLK_OP_READ && r.op != BLK_OP_FLUSH)
		abort();
	if (r.op == BLK_OP_READ || r.op == BLK_OP_WRITE) {
		uint64_t sum = 0;
		for (unsigned i = 0; i < r.ndata; i++) {
			const uint8_t *p = r.data[i].iov_base;
			if (p < mem || p + r.data[i].iov_len > mem + MEMSZ)
				abort();
			sum += r.data[i].iov_len;
		}
		if (sum != r.len || r.len % BLK_SECTOR)
			abort();
	}
	return 0;
}
