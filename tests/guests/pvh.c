/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pvh: a guest carrying the Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY), so
 * runm-vmm enters it the way it enters our Linux vmlinux: 32-bit protected
 * mode, paging off, ebx = hvm_start_info. The 32-bit stub below builds its own
 * identity map of the first GiB, enters long mode and joins the common 64-bit
 * start; guest_main then prints the start_info for the test to compare.
 */
#include "guest.h"

/* in .data: _start clears .bss after the 32-bit stub stored it */
uint32_t pvh_start_info __attribute__((section(".data")));

__asm__(".pushsection .note.Xen, \"a\", @note\n"
	".balign 4\n"
	".long 4\n"  /* namesz */
	".long 4\n"  /* descsz */
	".long 18\n" /* XEN_ELFNOTE_PHYS32_ENTRY */
	".asciz \"Xen\"\n"
	".balign 4\n"
	".long pvh_entry32\n"
	".popsection\n"

	".pushsection .data.pvh, \"aw\"\n"
	".balign 4096\n"
	"pvh_pml4: .fill 4096, 1, 0\n"
	"pvh_pdpt: .fill 4096, 1, 0\n"
	"pvh_pd:   .fill 4096, 1, 0\n"
	".balign 8\n"
	"pvh_gdt: .quad 0\n"
	"         .quad 0x00af9a000000ffff\n" /* 0x08: 64-bit code */
	"         .quad 0x00cf92000000ffff\n" /* 0x10: data */
	"pvh_gdtr: .word 23\n"
	"          .long pvh_gdt\n"
	".popsection\n"

	".pushsection .text, \"ax\"\n"
	".code32\n"
	".globl pvh_entry32\n"
	"pvh_entry32:\n"
	"	cli\n"
	"	movl %ebx, pvh_start_info\n"
	"	movl $pvh_pdpt + 3, pvh_pml4\n"
	"	movl $pvh_pd + 3, pvh_pdpt\n"
	"	xorl %ecx, %ecx\n"
	"1:	movl %ecx, %eax\n"
	"	shll $21, %eax\n"
	"	orl $0x83, %eax\n"
	"	movl %eax, pvh_pd(,%ecx,8)\n"
	"	incl %ecx\n"
	"	cmpl $512, %ecx\n"
	"	jne 1b\n"
	"	movl $pvh_pml4, %eax\n"
	"	movl %eax, %cr3\n"
	"	movl %cr4, %eax\n"
	"	orl $0x20, %eax\n" /* PAE */
	"	movl %eax, %cr4\n"
	"	movl $0xc0000080, %ecx\n"
	"	rdmsr\n"
	"	orl $0x100, %eax\n" /* EFER.LME */
	"	wrmsr\n"
	"	movl %cr0, %eax\n"
	"	orl $0x80000001, %eax\n" /* PG | PE */
	"	movl %eax, %cr0\n"
	"	lgdt pvh_gdtr\n"
	"	ljmp $0x08, $pvh_entry64\n"
	".code64\n"
	"pvh_entry64:\n"
	"	movw $0x10, %ax\n"
	"	movw %ax, %ds\n"
	"	movw %ax, %es\n"
	"	movw %ax, %ss\n"
	"	xorl %esi, %esi\n" /* no zero page on this path */
	"	jmp _start\n"
	".popsection\n");

int guest_main(void)
{
	const uint8_t *si = (const uint8_t *)(uint64_t)pvh_start_info;
	uint32_t magic, version, nmods, nmem;
	uint64_t modlist, cmdline, memmap;
	gprintf("mode=pvh start_info=0x%x\n", pvh_start_info);
	memcpy(&magic, si, 4);
	memcpy(&version, si + 4, 4);
	memcpy(&nmods, si + 12, 4);
	memcpy(&modlist, si + 16, 8);
	memcpy(&cmdline, si + 24, 8);
	memcpy(&memmap, si + 40, 8);
	memcpy(&nmem, si + 48, 4);
	gprintf("magic=0x%x version=%u\n", magic, version);
	gprintf("cmdline=%s\n", cmdline ? (const char *)cmdline : "");
	for (uint32_t i = 0; i < nmem && i < 16; i++) {
		uint64_t a, sz;
		uint32_t t;
		memcpy(&a, (const uint8_t *)memmap + 24 * i, 8);
		memcpy(&sz, (const uint8_t *)memmap + 24 * i + 8, 8);
		memcpy(&t, (const uint8_t *)memmap + 24 * i + 16, 4);
		gprintf("memmap 0x%lx 0x%lx %u\n", a, sz, t);
	}
	gprintf("modules=%u\n", nmods);
	if (nmods) {
		uint64_t a, sz;
		memcpy(&a, (const uint8_t *)modlist, 8);
		memcpy(&sz, (const uint8_t *)modlist + 8, 8);
		uint32_t sum = 0;
		for (uint64_t i = 0; i < sz && i < 4096; i++)
			sum = sum * 31 + ((const uint8_t *)a)[i];
		gprintf("module 0x%lx size=%lu sum=%u\n", a, sz, sum);
	}
	return 0;
}
