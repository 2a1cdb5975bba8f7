/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for runm-vmm's boot structures: MP table, loader (ELF, PVH note,
 * bzImage, initrd placement, zero page, e820, page tables) without KVM. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "vmm/vm.h"
#include "vmm/x86/boot.h"

static struct vm_config cfg;
static struct vm vm;

static void setup_vm(uint64_t mib, unsigned cpus)
{
	memset(&vm, 0, sizeof(vm));
	memset(&cfg, 0, sizeof(cfg));
	cfg.cpus = cpus;
	cfg.vsock_cid = 3;
	vm.cfg = &cfg;
	vm.ncpus = cpus;
	assert_int_equal(vm_memory_init(&vm, mib, false), 0);
}

static void teardown_vm(void)
{
	vm_memory_free(&vm);
	free(cfg.cmdline);
}

static uint8_t csum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static void test_mptable(void **state)
{
	uint8_t buf[1024];
	assert_int_equal(mptable_write(buf, sizeof(buf), 0x9fc00, 4), 0);
	assert_memory_equal(buf, "_MP_", 4);
	assert_int_equal(csum(buf, 16), 0);
	uint32_t cfgp;
	memcpy(&cfgp, buf + 4, 4);
	assert_int_equal(cfgp, 0x9fc00 + 16);
	uint8_t *h = buf + 16;
	assert_memory_equal(h, "PCMP", 4);
	uint16_t len, count;
	memcpy(&len, h + 4, 2);
	memcpy(&count, h + 34, 2);
	assert_int_equal(csum(h, len), 0);
	/* 4 CPUs, bus, IOAPIC, 24 pins, 2 local interrupts */
	assert_int_equal(count, 4 + 1 + 1 + 24 + 2);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(h[44 + 20 * i], 0);
		assert_int_equal(h[44 + 20 * i + 1], i);
		assert_int_equal(h[44 + 20 * i + 3], i == 0 ? 3 : 1);
	}
	/* too small a buffer, zero CPUs */
	assert_int_equal(mptable_write(buf, 64, 0x9fc00, 4), -1);
	assert_int_equal(mptable_write(buf, sizeof(buf), 0x9fc00, 0), -1);
}

/* A minimal ELF64 with one PT_LOAD at paddr and optionally a PVH note. */
static size_t make_elf(uint8_t *out, uint64_t paddr, uint64_t entry, bool pvh, uint32_t pvh_entry)
{
	Elf64_Ehdr eh = {0};
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_entry = entry;
	eh.e_phoff = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = pvh ? 2 : 1;
	size_t off = sizeof(eh) + eh.e_phnum * sizeof(Elf64_Phdr);
	Elf64_Phdr load = {
	    .p_type = PT_LOAD, .p_offset = off, .p_paddr = paddr, .p_filesz = 16, .p_memsz = 4096};
	memcpy(out, &eh, sizeof(eh));
	memcpy(out + sizeof(eh), &load, sizeof(load));
	memset(out + off, 0xcc, 16);
	off += 16;
	if (pvh) {
		Elf64_Phdr note = {.p_type = PT_NOTE, .p_offset = off, .p_filesz = 12 + 4 + 4};
		memcpy(out + sizeof(eh) + sizeof(load), &note, sizeof(note));
		Elf64_Nhdr nh = {.n_namesz = 4, .n_descsz = 4, .n_type = XEN_ELFNOTE_PHYS32_ENTRY};
		memcpy(out + off, &nh, sizeof(nh));
		memcpy(out + off + 12, "Xen", 4);
		memcpy(out + off + 16, &pvh_entry, 4);
		off += 20;
	}
	return off;
}

static void test_elf_64bit_entry(void **state)
{
	uint8_t img[512] = {0};
	size_t n = make_elf(img, 0x200000, 0x200000, false, 0);
	setup_vm(16, 1);
	assert_int_equal(loader_boot(&vm, "k", img, n, NULL, NULL, 0), 0);
	assert_false(vm.pvh);
	assert_int_equal(vm.entry, 0x200000);
	uint8_t *seg = vm_gpa(&vm, 0x200000, 4096);
	assert_int_equal(seg[0], 0xcc);
	assert_int_equal(seg[16], 0); /* bss zeroed */
	uint8_t *zp = vm_gpa(&vm, ZERO_PAGE_ADDR, 4096);
	uint32_t cl;
	memcpy(&cl, zp + 0x228, 4);
	assert_int_equal(cl, CMDLINE_ADDR);
	assert_string_equal((char *)vm_gpa(&vm, CMDLINE_ADDR, 1), DEFAULT_CMDLINE);
	assert_int_equal(zp[0x1e8], 2);
	uint64_t a, sz;
	memcpy(&a, zp + 0x2d0 + 20, 8);
	memcpy(&sz, zp + 0x2d0 + 28, 8);
	assert_int_equal(a, 0x100000);
	assert_int_equal(sz, (16 << 20) - 0x100000);
	/* identity map: PML4[0] -> PDPT, PD entry for 0xfee00000 */
	uint64_t e;
	memcpy(&e, vm_gpa(&vm, PML4_ADDR, 8), 8);
	assert_int_equal(e, (PML4_ADDR + 0x1000) | 3);
	memcpy(&e, vm_gpa(&vm, PML4_ADDR + 0x2000 + 3 * 0x1000 + 503 * 8, 8), 8);
	assert_int_equal(e, 0xfee00000ull | 0x83);
	/* GDT code segment is 64-bit */
	memcpy(&e, vm_gpa(&vm, GDT_ADDR + 8, 8), 8);
	assert_int_equal(e, GDT_CODE64);
	teardown_vm();
}

static void test_elf_pvh_note(void **state)
{
	uint8_t img[512] = {0};
	size_t n = make_elf(img, 0x200000, 0x200000, true, 0x200008);
	uint8_t initrd[5000];
	memset(initrd, 0x5a, sizeof(initrd));
	setup_vm(16, 1);
	assert_int_equal(loader_boot(&vm, "k", img, n, "i", initrd, sizeof(initrd)), 0);
	assert_true(vm.pvh);
	assert_int_equal(vm.entry, 0x200008);
	uint8_t *si = vm_gpa(&vm, PVH_INFO_ADDR, 4096);
	uint32_t magic, nmods;
	uint64_t modlist, mod_addr, mod_size, cmd;
	memcpy(&magic, si, 4);
	memcpy(&nmods, si + 12, 4);
	memcpy(&modlist, si + 16, 8);
	memcpy(&cmd, si + 24, 8);
	assert_int_equal(magic, 0x336ec578);
	assert_int_equal(nmods, 1);
	assert_int_equal(cmd, CMDLINE_ADDR);
	memcpy(&mod_addr, vm_gpa(&vm, modlist, 16), 8);
	memcpy(&mod_size, vm_gpa(&vm, modlist + 8, 8), 8);
	assert_int_equal(mod_size, sizeof(initrd));
	assert_int_equal(mod_addr % 4096, 0);
	assert_true(mod_addr + mod_size <= 16 << 20);
	assert_true(mod_addr + mod_size > (16 << 20) - 4096);
	assert_memory_equal(vm_gpa(&vm, mod_addr, sizeof(initrd)), initrd, sizeof(initrd));
	uint64_t e;
	memcpy(&e, vm_gpa(&vm, GDT_ADDR + 8, 8), 8);
	assert_int_equal(e, GDT_CODE32);
	teardown_vm();
}

static void test_elf_rejects(void **state)
{
	uint8_t img[512] = {0};
	size_t n = make_elf(img, 0x1000, 0x1000, false, 0); /* below 1 MiB */
	setup_vm(16, 1);
	assert_int_equal(loader_boot(&vm, "k", img, n, NULL, NULL, 0), -1);
	n = make_elf(img, 0x2000000, 0x2000000, false, 0); /* beyond 16 MiB */
	assert_int_equal(loader_boot(&vm, "k", img, n, NULL, NULL, 0), -1);
	n = make_elf(img, 0x200000, 0x200000, false, 0);
	assert_int_equal(loader_boot(&vm, "k", img, 40, NULL, NULL, 0), -1); /* truncated */
	uint8_t junk[300];
	memset(junk, 0x41, sizeof(junk));
	assert_int_equal(loader_boot(&vm, "k", junk, sizeof(junk), NULL, NULL, 0), -1);
	/* initrd that does not fit above the kernel */
	static uint8_t big[15 << 20];
	assert_int_equal(loader_boot(&vm, "k", img, n, "i", big, sizeof(big)), -1);
	/* command line too long for an ELF kernel (2048) */
	cfg.cmdline = calloc(1, 3000);
	memset(cfg.cmdline, 'x', 2999);
	assert_int_equal(loader_boot(&vm, "k", img, n, NULL, NULL, 0), -1);
	teardown_vm();
}

static void test_bzimage(void **state)
{
	static uint8_t bz[0x2000 + 4096];
	memset(bz, 0, sizeof(bz));
	bz[0x1f1] = 4;	  /* setup_sects: setup = 5 * 512 */
	bz[0x201] = 0x6a; /* header length */
	memcpy(bz + 0x202, "HdrS", 4);
	bz[0x206] = 0x0f;
	bz[0x207] = 0x02; /* protocol 2.15 */
	bz[0x211] = 1;	  /* LOADED_HIGH */
	bz[0x236] = 1;	  /* XLF_KERNEL_64 */
	uint32_t init_size = 0x10000, cl = 4096;
	memcpy(bz + 0x260, &init_size, 4);
	memcpy(bz + 0x238, &cl, 4);
	memset(bz + 5 * 512, 0x90, 16);
	setup_vm(16, 2);
	assert_int_equal(loader_boot(&vm, "bz", bz, sizeof(bz), NULL, NULL, 0), 0);
	assert_false(vm.pvh);
	assert_int_equal(vm.entry, 0x100200);
	assert_int_equal(*(uint8_t *)vm_gpa(&vm, 0x100000, 1), 0x90);
	uint8_t *zp = vm_gpa(&vm, ZERO_PAGE_ADDR, 4096);
	assert_int_equal(zp[0x206], 0x0f);
	assert_int_equal(zp[0x210], 0xff);
	assert_true(zp[0x211] & 0x80);
	/* MP table with both CPUs */
	assert_memory_equal(vm_gpa(&vm, MPTABLE_ADDR, 4), "_MP_", 4);
	/* old protocol */
	bz[0x206] = 0x0b;
	assert_int_equal(loader_boot(&vm, "bz", bz, sizeof(bz), NULL, NULL, 0), -1);
	bz[0x206] = 0x0f;
	bz[0x236] = 0; /* no 64-bit entry */
	assert_int_equal(loader_boot(&vm, "bz", bz, sizeof(bz), NULL, NULL, 0), -1);
	bz[0x236] = 1;
	bz[0x1f1] = 200; /* setup beyond the file */
	assert_int_equal(loader_boot(&vm, "bz", bz, sizeof(bz), NULL, NULL, 0), -1);
	teardown_vm();
}

static void test_cmdline_declares_devices(void **state)
{
	char out[512];
	setup_vm(16, 1);
	cfg.cmdline = strdup("console=ttyS0");
	cfg.vsock_uds = (char *)"/x";
	cfg.rng = true;
	vm_build_cmdline(&vm, out, sizeof(out));
	assert_string_equal(
	    out, "console=ttyS0 virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=4K@0xd0001000:6");
	assert_int_equal(vm_build_cmdline(&vm, out, 20), -1);
	cfg.vsock_uds = NULL;
	teardown_vm();
}

static void test_memory_layout(void **state)
{
	setup_vm(4096, 1); /* 4 GiB: split around the MMIO gap */
	assert_int_equal(vm.mem.n, 2);
	assert_int_equal(vm.mem.r[0].size, MMIO_GAP_START);
	assert_int_equal(vm.mem.r[1].gpa, MMIO_GAP_END);
	assert_int_equal(vm.mem.r[1].size, (4096ull << 20) - MMIO_GAP_START);
	assert_null(vm_gpa(&vm, MMIO_GAP_START, 1));
	assert_non_null(vm_gpa(&vm, MMIO_GAP_END, 1));
	teardown_vm();
	memset(&vm, 0, sizeof(vm));
	assert_int_equal(vm_memory_init(&vm, 0, false), -1);
	assert_int_equal(vm_memory_init(&vm, 1ull << 40, false), -1);
}

/* VmFlags of the mapping of this process that starts at addr ("" if none). */
static void vma_flags(const void *addr, char *out, size_t outlen)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false;
	out[0] = '\0';
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = lo == (unsigned long)addr;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(out, outlen, "%s", line + 8);
			break;
		}
	}
	fclose(f);
}

static void test_memory_huge_pages_but_boot_area(void **state)
{
	char flags[256];
	setup_vm(128, 1);
	vma_flags(vm.ram, flags, sizeof(flags)); /* boot structures: no transparent huge page */
	assert_non_null(strstr(flags, " nh"));
	vma_flags(vm.ram + (2u << 20), flags, sizeof(flags)); /* the rest: huge pages wanted */
	assert_non_null(strstr(flags, " hg"));
	teardown_vm();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mptable),	  cmocka_unit_test(test_elf_64bit_entry),
	    cmocka_unit_test(test_elf_pvh_note),  cmocka_unit_test(test_elf_rejects),
	    cmocka_unit_test(test_bzimage),	  cmocka_unit_test(test_cmdline_declares_devices),
	    cmocka_unit_test(test_memory_layout), cmocka_unit_test(test_memory_huge_pages_but_boot_area),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
