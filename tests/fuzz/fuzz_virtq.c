/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the split virtqueue: the input is the initial content of a small guest
 * memory (rings, descriptors, indirect tables) plus queue parameters. A
 * pop/push loop must never crash, overrun the memory, or return segments
 * outside it.
 */
#include <stdint.h>
#include <string.h>

#include "vmm/devices/virtio.h"

#define MEM_SIZE 8192
#define GPA_BASE 0x4000

static uint8_t mem[MEM_SIZE] __attribute__((aligned(4096)));

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 16)
		return 0;
	static struct virtq_elem el;
	struct gmem gm = {.n = 1, .r = {{.gpa = GPA_BASE, .size = MEM_SIZE, .hva = mem}}};
	struct virtq vq = {0};
	/* header: num exponent, flags, three 12-bit ring offsets, start indices */
	vq.num = (uint16_t)(1u << (data[0] % 9)); /* 1..256 */
	vq.ready = true;
	vq.event_idx = data[1] & 1;
	vq.indirect = data[1] & 2;
	vq.desc = GPA_BASE + ((data[2] | (data[3] << 8)) % MEM_SIZE);
	vq.avail = GPA_BASE + ((data[4] | (data[5] << 8)) % MEM_SIZE);
	vq.used = GPA_BASE + ((data[6] | (data[7] << 8)) % MEM_SIZE);
	vq.last_avail = (uint16_t)(data[8] | (data[9] << 8));
	vq.used_idx = (uint16_t)(data[10] | (data[11] << 8));
	vq.mem = &gm;
	memset(mem, 0, sizeof(mem));
	memcpy(mem, data + 16, size - 16 < MEM_SIZE ? size - 16 : MEM_SIZE);

	for (int round = 0; round < 64; round++) {
		int r = virtq_pop(&vq, &el);
		if (r <= 0)
			break;
		if (el.head >= vq.num || el.n_out + el.n_in > VIRTQ_MAX_SEGS)
			__builtin_trap();
		for (unsigned i = 0; i < el.n_out + el.n_in; i++) {
			const uint8_t *p = el.iov[i].iov_base;
			if (p < mem || p + el.iov[i].iov_len > mem + MEM_SIZE)
				__builtin_trap();
		}
		uint8_t buf[64];
		size_t got = virtq_elem_read(&el, data[12], buf, sizeof(buf));
		if (got > sizeof(buf) || got > el.out_len)
			__builtin_trap();
		size_t put = virtq_elem_write(&el, data[13], buf, got);
		if (put > el.in_len)
			__builtin_trap();
		if (data[14] & 1)
			virtq_unpop(&vq), virtq_pop(&vq, &el);
		virtq_push(&vq, el.head, (uint32_t)put);
		(void)virtq_should_notify(&vq);
		(void)virtq_has_avail(&vq);
	}
	return 0;
}
