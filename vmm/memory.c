/* SPDX-License-Identifier: Apache-2.0 */
/* Guest RAM: one anonymous MAP_NORESERVE mapping (optionally hugepages), split
 * around the MMIO gap below 4 GiB: [0, low) at gpa 0 and the rest at 4 GiB. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>

#include "log.h"
#include "vm.h"

#define MIN_MEM_MIB 4

int vm_memory_init(struct vm *vm, uint64_t mem_mib, bool hugepages)
{
	struct sysinfo si;
	if (mem_mib < MIN_MEM_MIB) {
		log_error("--mem %llu: guest memory must be at least %d MiB", (unsigned long long)mem_mib,
			  MIN_MEM_MIB);
		return -1;
	}
	if (sysinfo(&si) == 0) {
		uint64_t host = (uint64_t)si.totalram * si.mem_unit;
		if (mem_mib > host >> 20) {
			log_error("--mem %llu: more than the host's RAM (%llu MiB)",
				  (unsigned long long)mem_mib, (unsigned long long)(host >> 20));
			return -1;
		}
	}
	uint64_t size = mem_mib << 20;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	if (hugepages) /* reserve at mmap time: no SIGBUS on first touch when the pool is short */
		flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED) {
		log_errno(errno, "mmap %llu MiB of guest memory%s", (unsigned long long)mem_mib,
			  hugepages ? " (hugepages)" : "");
		return -1;
	}
	madvise(p, size, MADV_DONTDUMP);
	if (!hugepages) {
		madvise(p, size, MADV_HUGEPAGE);
		/* The first 2 MiB hold a few scattered pages of boot structures (zero
		 * page, command line, GDT, page tables, MP table): a huge page there
		 * would be 2 MiB zeroed at start for ~20 KiB used. */
		madvise(p, size < (2u << 20) ? size : (2u << 20), MADV_NOHUGEPAGE);
	}
	vm->ram = p;
	vm->map_size = size;
	vm->ram_size = size;
	vm->low_size = size < MMIO_GAP_START ? size : MMIO_GAP_START;
	vm->mem.n = 1;
	vm->mem.r[0] = (struct gmem_region){.gpa = 0, .size = vm->low_size, .hva = vm->ram};
	if (size > vm->low_size) {
		vm->mem.n = 2;
		vm->mem.r[1] = (struct gmem_region){
		    .gpa = MMIO_GAP_END, .size = size - vm->low_size, .hva = vm->ram + vm->low_size};
	}
	return 0;
}

void vm_memory_free(struct vm *vm)
{
	if (vm->ram)
		munmap(vm->ram, vm->map_size);
	vm->ram = NULL;
}

void *vm_gpa(struct vm *vm, uint64_t gpa, uint64_t len)
{
	return gmem_ptr(&vm->mem, gpa, len);
}

uint64_t vm_guest_resident(struct vm *vm)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t pages = vm->map_size / (size_t)page;
	unsigned char *vec = malloc(pages ? pages : 1);
	uint64_t n = 0;
	if (!vec || mincore(vm->ram, vm->map_size, vec) < 0) {
		free(vec);
		return 0;
	}
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	return n * (uint64_t)page;
}
