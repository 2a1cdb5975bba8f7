/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Boot loaders: ELF vmlinux (64-bit boot protocol, or PVH when the ELF carries
 * the Xen PHYS32_ENTRY note) and bzImage (boot protocol >= 2.12, 64-bit entry),
 * the initrd at the top of low RAM, the zero page, the PVH start_info, the
 * command line, e820, the GDT, identity page tables and the MP table.
 * Every value read from the kernel image is bounds-checked.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "vmm/x86/boot.h"
#include "vmm/vm.h"

/* Map a whole regular, non-empty file read-only (what = "kernel" / "initrd"):
 * the loader then copies straight from the page cache into guest memory. */
static int map_file(const char *what, const char *path, uint8_t **data, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		log_errno(errno, "open %s %s", what, path);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		log_errno(errno, "stat %s %s", what, path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("%s %s: not a regular file", what, path);
		close(fd);
		return -1;
	}
	if (st.st_size == 0) {
		log_error("%s %s: file is empty", what, path);
		close(fd);
		return -1;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED) {
		log_errno(e, "map %s %s", what, path);
		return -1;
	}
	*data = p;
	*len = (size_t)st.st_size;
	return 0;
}

/* ------------------------------------------------------------------ ELF */

static int elf_find_pvh(const uint8_t *k, size_t len, const Elf64_Phdr *ph, uint64_t *entry)
{
	if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
		return 0;
	const uint8_t *p = k + ph->p_offset, *end = p + ph->p_filesz;
	while ((size_t)(end - p) >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		memcpy(&nh, p, sizeof(nh));
		size_t namesz = ((size_t)nh.n_namesz + 3) & ~(size_t)3;
		size_t descsz = ((size_t)nh.n_descsz + 3) & ~(size_t)3;
		p += sizeof(nh);
		if (namesz > (size_t)(end - p) || descsz > (size_t)(end - p) - namesz)
			return 0;
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 && memcmp(p, "Xen", 4) == 0) {
			const uint8_t *d = p + namesz;
			if (nh.n_descsz == 4) {
				uint32_t v;
				memcpy(&v, d, 4);
				*entry = v;
				return 1;
			}
			if (nh.n_descsz == 8) {
				uint64_t v;
				memcpy(&v, d, 8);
				*entry = v;
				return 1;
			}
			return 0;
		}
		p += namesz + descsz;
	}
	return 0;
}

static int load_elf(struct vm *vm, const char *path, const uint8_t *k, size_t len, uint64_t *kend)
{
	Elf64_Ehdr eh;
	if (len < sizeof(eh)) {
		log_error("kernel %s: truncated ELF header", path);
		return -1;
	}
	memcpy(&eh, k, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 || eh.e_type != ET_EXEC) {
		log_error("kernel %s: not an x86-64 executable ELF (vmlinux)", path);
		return -1;
	}
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phoff > len ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff) {
		log_error("kernel %s: corrupt ELF program headers", path);
		return -1;
	}
	uint64_t pvh = 0;
	int loads = 0;
	*kend = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, k + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_NOTE && !vm->pvh)
			vm->pvh = elf_find_pvh(k, len, &ph, &pvh);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_filesz > ph.p_memsz || ph.p_offset > len || ph.p_filesz > len - ph.p_offset) {
			log_error("kernel %s: segment %u lies outside the file", path, i);
			return -1;
		}
		if (ph.p_paddr < HIMEM_START) {
			log_error("kernel %s: segment %u at 0x%llx overlaps the boot area below 1 MiB", path,
				  i, (unsigned long long)ph.p_paddr);
			return -1;
		}
		uint8_t *dst = vm_gpa(vm, ph.p_paddr, ph.p_memsz);
		if (!dst) {
			log_error(
			    "kernel %s: segment %u [0x%llx, +0x%llx) does not fit in guest memory (%llu MiB)",
			    path, i, (unsigned long long)ph.p_paddr, (unsigned long long)ph.p_memsz,
			    (unsigned long long)(vm->ram_size >> 20));
			return -1;
		}
		memcpy(dst, k + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if (ph.p_paddr + ph.p_memsz > *kend)
			*kend = ph.p_paddr + ph.p_memsz;
		loads++;
	}
	if (!loads) {
		log_error("kernel %s: ELF has no loadable segment", path);
		return -1;
	}
	vm->entry = vm->pvh ? pvh : eh.e_entry;
	if (!vm_gpa(vm, vm->entry, 1)) {
		log_error("kernel %s: entry point 0x%llx is outside guest memory", path,
			  (unsigned long long)vm->entry);
		return -1;
	}
	return 0;
}

/* -------------------------------------------------------------- bzImage */

static int load_bzimage(struct vm *vm, const char *path, const uint8_t *k, size_t len, uint8_t *zp,
			uint64_t *kend, uint32_t *cmdline_max, uint32_t *initrd_max)
{
	if (len < 0x300) {
		log_error("kernel %s: truncated bzImage header", path);
		return -1;
	}
	uint16_t version = (uint16_t)(k[0x206] | k[0x207] << 8);
	if (version < 0x20c) {
		log_error("kernel %s: boot protocol %u.%u is too old (need 2.12)", path, version >> 8,
			  version & 0xff);
		return -1;
	}
	uint8_t loadflags = k[0x211];
	uint16_t xloadflags = (uint16_t)(k[0x236] | k[0x237] << 8);
	if (!(loadflags & 1) || !(xloadflags & 1)) {
		log_error("kernel %s: bzImage has no 64-bit entry point", path);
		return -1;
	}
	unsigned setup_sects = k[0x1f1] ? k[0x1f1] : 4;
	size_t setup = ((size_t)setup_sects + 1) * 512;
	size_t hdr_end = 0x202 + (size_t)k[0x201];
	if (setup >= len || hdr_end > setup || hdr_end > 0x1000) {
		log_error("kernel %s: corrupt bzImage setup header", path);
		return -1;
	}
	uint32_t init_size, cl, im;
	memcpy(&init_size, k + 0x260, 4);
	memcpy(&cl, k + 0x238, 4);
	memcpy(&im, k + 0x22c, 4);
	size_t code = len - setup;
	uint64_t need = code > init_size ? code : init_size;
	uint8_t *dst = vm_gpa(vm, HIMEM_START, need);
	if (!dst) {
		log_error("kernel %s: needs %llu MiB at 1 MiB, guest memory is %llu MiB", path,
			  (unsigned long long)(need >> 20) + 1, (unsigned long long)(vm->ram_size >> 20));
		return -1;
	}
	memcpy(dst, k + setup, code);
	memcpy(zp + 0x1f1, k + 0x1f1, hdr_end - 0x1f1);
	zp[0x211] |= 0x80; /* CAN_USE_HEAP */
	zp[0x224] = 0x00;
	zp[0x225] = 0xfe; /* heap_end_ptr 0xfe00 */
	*kend = HIMEM_START + need;
	*cmdline_max = cl ? cl : 255;
	*initrd_max = im ? im : 0x37ffffff;
	vm->entry = HIMEM_START + 0x200;
	return 0;
}

/* ------------------------------------------------------- boot structures */

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

struct e820 {
	uint64_t addr, size;
	uint32_t type;
};

static unsigned build_e820(struct vm *vm, struct e820 *e)
{
	unsigned n = 0;
	e[n++] = (struct e820){0, EBDA_START, E820_RAM};
	e[n++] = (struct e820){HIMEM_START, vm->low_size - HIMEM_START, E820_RAM};
	if (vm->ram_size > vm->low_size)
		e[n++] = (struct e820){MMIO_GAP_END, vm->ram_size - vm->low_size, E820_RAM};
	return n;
}

static void write_gdt_and_page_tables(struct vm *vm)
{
	uint8_t *gdt = vm_gpa(vm, GDT_ADDR, 32);
	put64(gdt, 0);
	put64(gdt + 8, vm->pvh ? GDT_CODE32 : GDT_CODE64);
	put64(gdt + 16, GDT_DATA);
	put64(gdt + 24, GDT_TSS);
	/* identity map of the low 4 GiB with 2 MiB pages */
	uint8_t *pml4 = vm_gpa(vm, PML4_ADDR, 0x6000);
	memset(pml4, 0, 0x6000);
	put64(pml4, (PML4_ADDR + 0x1000) | 3);
	for (uint64_t i = 0; i < 4; i++) {
		uint64_t pd = PML4_ADDR + 0x2000 + i * 0x1000;
		put64(pml4 + 0x1000 + i * 8, pd | 3);
		for (uint64_t j = 0; j < 512; j++)
			put64(pml4 + (pd - PML4_ADDR) + j * 8, ((i << 30) + (j << 21)) | 0x83);
	}
}

static void write_pvh_info(struct vm *vm, const struct e820 *e, unsigned ne)
{
	uint8_t *si = vm_gpa(vm, PVH_INFO_ADDR, 0x1000);
	memset(si, 0, 0x1000);
	put32(si + 0, 0x336ec578); /* XEN_HVM_START_MAGIC_VALUE */
	put32(si + 4, 1);	   /* version with memmap */
	put64(si + 24, CMDLINE_ADDR);
	put64(si + 40, PVH_INFO_ADDR + PVH_MEMMAP_OFF);
	put32(si + 48, ne);
	for (unsigned i = 0; i < ne; i++) {
		uint8_t *m = si + PVH_MEMMAP_OFF + 24 * i;
		put64(m, e[i].addr);
		put64(m + 8, e[i].size);
		put32(m + 16, e[i].type);
	}
	if (vm->initrd_size) {
		put32(si + 12, 1);
		put64(si + 16, PVH_INFO_ADDR + PVH_MODLIST_OFF);
		put64(si + PVH_MODLIST_OFF, vm->initrd_addr);
		put64(si + PVH_MODLIST_OFF + 8, vm->initrd_size);
	}
}

static int place_initrd(struct vm *vm, const char *path, const uint8_t *data, size_t len, uint64_t kend,
			uint32_t initrd_max)
{
	uint64_t top = vm->low_size;
	if (top > (uint64_t)initrd_max + 1)
		top = (uint64_t)initrd_max + 1;
	uint64_t kend_aligned = (kend + 0xfff) & ~0xfffull;
	if (len > top || ((top - len) & ~0xfffull) < kend_aligned) {
		log_error("initrd %s: %zu bytes do not fit in guest memory (%llu MiB) above the kernel", path,
			  len, (unsigned long long)(vm->ram_size >> 20));
		return -1;
	}
	vm->initrd_addr = (top - len) & ~0xfffull;
	vm->initrd_size = len;
	memcpy(vm_gpa(vm, vm->initrd_addr, len), data, len);
	return 0;
}

int loader_boot(struct vm *vm, const char *kname, const uint8_t *k, size_t klen, const char *iname,
		const uint8_t *initrd, size_t ilen)
{
	char cmdline[CMDLINE_MAX];
	uint8_t *zp = vm_gpa(vm, ZERO_PAGE_ADDR, 0x1000);
	uint64_t kend = 0;
	uint32_t cmdline_max = LINUX_COMMAND_LINE_SIZE, initrd_max = 0x37ffffff;
	int rc;

	if (!zp || vm->low_size < HIMEM_START) {
		log_error("guest memory: too small for the boot structures");
		return -1;
	}
	if (vm_build_cmdline(vm, cmdline, sizeof(cmdline)) < 0)
		return -1;
	memset(zp, 0, 0x1000);
	vm->pvh = false;
	vm->initrd_addr = vm->initrd_size = 0;
	if (klen >= 4 && memcmp(k, ELFMAG, SELFMAG) == 0)
		rc = load_elf(vm, kname, k, klen, &kend);
	else if (klen >= 0x206 && memcmp(k + 0x202, "HdrS", 4) == 0)
		rc = load_bzimage(vm, kname, k, klen, zp, &kend, &cmdline_max, &initrd_max);
	else {
		log_error("kernel %s: neither an ELF vmlinux nor a bzImage", kname);
		rc = -1;
	}
	if (rc < 0)
		return -1;
	size_t cl = strlen(cmdline);
	if (cl + 1 > cmdline_max) {
		log_error("cmdline: %zu bytes is longer than the kernel accepts (%u)", cl, cmdline_max - 1);
		return -1;
	}
	if (initrd && place_initrd(vm, iname, initrd, ilen, kend, initrd_max) < 0)
		return -1;

	memcpy(vm_gpa(vm, CMDLINE_ADDR, cl + 1), cmdline, cl + 1);
	struct e820 e[4];
	unsigned ne = build_e820(vm, e);
	/* zero page (also for ELF kernels: the 64-bit boot protocol reads it) */
	put16(zp + 0x1fe, 0xaa55);
	static const uint8_t hdrs[4] = {'H', 'd', 'r', 'S'}; /* setup header magic */
	memcpy(zp + 0x202, hdrs, sizeof(hdrs));
	if (!zp[0x206] && !zp[0x207])
		put16(zp + 0x206, 0x020c);
	zp[0x210] = 0xff; /* type_of_loader: undefined */
	if (!zp[0x230] && !zp[0x231] && !zp[0x232] && !zp[0x233])
		put32(zp + 0x230, 0x01000000); /* kernel_alignment */
	put32(zp + 0x228, (uint32_t)CMDLINE_ADDR);
	put32(zp + 0x238, cmdline_max);
	put32(zp + 0x218, (uint32_t)vm->initrd_addr);
	put32(zp + 0x21c, (uint32_t)vm->initrd_size);
	zp[0x1e8] = (uint8_t)ne;
	for (unsigned i = 0; i < ne; i++) {
		put64(zp + 0x2d0 + 20 * i, e[i].addr);
		put64(zp + 0x2d0 + 20 * i + 8, e[i].size);
		put32(zp + 0x2d0 + 20 * i + 16, e[i].type);
	}
	write_pvh_info(vm, e, ne);
	write_gdt_and_page_tables(vm);
	if (mptable_write(vm_gpa(vm, MPTABLE_ADDR, 0x400), 0x400, MPTABLE_ADDR, vm->ncpus) < 0) {
		log_error("mptable: %u vCPUs do not fit in the MP table area", vm->ncpus);
		return -1;
	}
	return 0;
}

int vm_load_kernel(struct vm *vm)
{
	const struct vm_config *c = vm->cfg;
	uint8_t *k = NULL, *initrd = NULL;
	size_t klen = 0, ilen = 0;
	int rc = -1;
	if (map_file("kernel", c->kernel, &k, &klen) < 0)
		return -1;
	if (!c->initrd || map_file("initrd", c->initrd, &initrd, &ilen) == 0)
		rc = loader_boot(vm, c->kernel, k, klen, c->initrd, initrd, ilen);
	munmap(k, klen);
	if (initrd)
		munmap(initrd, ilen);
	return rc;
}

int vm_build_cmdline(struct vm *vm, char *out, size_t outlen)
{
	const char *base = vm->cfg->cmdline ? vm->cfg->cmdline : DEFAULT_CMDLINE;
	int n = snprintf(out, outlen, "%s", base);
	/* devices get windows and GSIs by index, so the line is known before they exist */
	for (unsigned i = 0; i < vm_planned_devices(vm->cfg) && n >= 0 && (size_t)n < outlen; i++)
		n += snprintf(out + n, outlen - (size_t)n, " virtio_mmio.device=4K@0x%llx:%u",
			      (unsigned long long)(VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_SIZE),
			      VIRTIO_MMIO_GSI0 + i);
	if (n < 0 || (size_t)n >= outlen) {
		log_error("cmdline: longer than %zu bytes", outlen - 1);
		return -1;
	}
	return 0;
}
