/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost-user backend, memory: SET_MEM_TABLE maps the frontend's regions (each
 * checked for size, wrap-around, overlap and a backing file long enough to
 * map), and frontend virtual addresses are translated to guest-physical ones.
 * A new table replaces the old one only when every region of it mapped.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "vmm/vhost_user/vu_internal.h"

void vu_unmap_all(struct vu_map *map, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (map[i].addr)
			munmap(map[i].addr, map[i].len);
		map[i].addr = NULL;
	}
}

int vu_uva_to_gpa(const struct vu_backend *b, uint64_t uva, uint64_t len, uint64_t *gpa)
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

int vu_set_mem_table(struct vu_backend *b, struct vu_msg *m)
{
	const struct vu_mem_table *t = &m->p.mem;
	struct vu_map map[VU_MAX_REGIONS] = {0};
	struct gmem mem = {0};
	long page = sysconf(_SC_PAGESIZE);

	if (m->hdr.size < 8 || t->nregions == 0 || t->nregions > VU_MAX_REGIONS ||
	    m->hdr.size != 8 + t->nregions * sizeof(struct vu_mem_region)) {
		log_error("vhost-user: SET_MEM_TABLE: %u regions in a %u-byte payload (1..%d regions of "
			  "32 bytes expected)",
			  t->nregions, m->hdr.size, VU_MAX_REGIONS);
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
				  "0x%llx) is empty or wraps around",
				  i, (unsigned long long)r->guest_phys_addr,
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
			log_errno(errno, "vhost-user: SET_MEM_TABLE: region %u: fstat fd %d", i, m->fds[i]);
			goto fail;
		}
		/* A mapping past the end of the file would SIGBUS us on access. */
		if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < r->mmap_offset + r->memory_size) {
			uint64_t need = r->mmap_offset + r->memory_size;
			log_error("vhost-user: SET_MEM_TABLE: region %u: fd is not a file of at least "
				  "%" PRIu64 " bytes",
				  i, need);
			goto fail;
		}
		uint64_t delta = r->mmap_offset % (uint64_t)page;
		size_t len = (size_t)(r->memory_size + delta);
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, m->fds[i],
			       (off_t)(r->mmap_offset - delta));
		if (p == MAP_FAILED) {
			log_errno(errno, "vhost-user: SET_MEM_TABLE: mmap region %u (%zu bytes)", i, len);
			goto fail;
		}
		map[i] = (struct vu_map){.addr = p, .len = len, .uva = r->userspace_addr};
		mem.r[i] = (struct gmem_region){
		    .gpa = r->guest_phys_addr, .size = r->memory_size, .hva = (uint8_t *)p + delta};
	}
	mem.n = t->nregions;
	/* The mappings stay valid without the fds. */
	vu_msg_close_fds(m);
	/* Requests in flight read or write the old mappings. */
	if (b->d->ops->quiesce)
		b->d->ops->quiesce(b->d);
	vu_unmap_all(b->map, b->mem.n);
	memcpy(b->map, map, sizeof(map));
	b->mem = mem;
	return 0;
fail:
	vu_unmap_all(map, t->nregions);
	return -EINVAL;
}
