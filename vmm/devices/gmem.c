/* SPDX-License-Identifier: Apache-2.0 */
/* Guest-physical to host-virtual translation with overflow-safe bounds checks. */
#include "vmm/devices/virtio.h"

void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	if (!m)
		return NULL;
	unsigned n = m->n < GMEM_MAX_REGIONS ? m->n : GMEM_MAX_REGIONS;
	for (unsigned i = 0; i < n; i++) {
		const struct gmem_region *r = &m->r[i];
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		/* off < size and len <= size - off: no addition can overflow. */
		if (off >= r->size)
			continue;
		if (len > r->size - off)
			return NULL;
		return r->hva + off;
	}
	return NULL;
}
