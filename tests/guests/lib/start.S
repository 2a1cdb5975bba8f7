/* SPDX-License-Identifier: Apache-2.0 */
/* Mini-guest entry, the way runm-vmm enters Linux: 64-bit mode, identity
 * paging, rsi = zero page, interrupts off. Also the AP trampoline (16-bit,
 * copied below 1 MiB by guest_start_aps) that brings secondary vCPUs from the
 * SIPI vector to 64-bit mode and into ap_entry(). */
	.section .text.start, "ax"
	.code64
	.globl _start
_start:
	cli
	lea	boot_stack_top(%rip), %rsp
	mov	%rsi, guest_zero_page(%rip)
	lea	__bss_start(%rip), %rdi
	lea	__bss_end(%rip), %rcx
	sub	%rdi, %rcx
	xor	%eax, %eax
	cld
	rep stosb
	call	guest_start
1:	hlt
	jmp	1b

/* Interrupt/exception stubs: push a dummy error code where the CPU does not,
 * then the vector, then jump to the common path. */
	.macro ISR_NOERR n
	.globl isr_stub_\n
isr_stub_\n:
	pushq	$0
	pushq	$\n
	jmp	isr_common
	.endm
	.macro ISR_ERR n
	.globl isr_stub_\n
isr_stub_\n:
	pushq	$\n
	jmp	isr_common
	.endm

	.text
	ISR_NOERR 0
	ISR_NOERR 1
	ISR_NOERR 2
	ISR_NOERR 3
	ISR_NOERR 4
	ISR_NOERR 5
	ISR_NOERR 6
	ISR_NOERR 7
	ISR_ERR 8
	ISR_NOERR 9
	ISR_ERR 10
	ISR_ERR 11
	ISR_ERR 12
	ISR_ERR 13
	ISR_ERR 14
	ISR_NOERR 15
	ISR_NOERR 16
	ISR_ERR 17
	ISR_NOERR 18
	ISR_NOERR 19
	/* external interrupt vectors used by the guests: 0x20..0x2f */
	ISR_NOERR 32
	ISR_NOERR 33
	ISR_NOERR 34
	ISR_NOERR 35
	ISR_NOERR 36
	ISR_NOERR 37
	ISR_NOERR 38
	ISR_NOERR 39
	ISR_NOERR 40
	ISR_NOERR 41
	ISR_NOERR 42
	ISR_NOERR 43
	ISR_NOERR 44
	ISR_NOERR 45
	ISR_NOERR 46
	ISR_NOERR 47

isr_common:
	push	%rax
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%rbx
	lea	8(%rsp), %rdi		/* struct isr_frame * (above the saved rbx) */
	mov	%rsp, %rbx
	and	$-16, %rsp
	call	isr_dispatch
	mov	%rbx, %rsp
	pop	%rbx
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rax
	add	$16, %rsp		/* vector, error code */
	iretq

/* ---- AP trampoline: position-independent 16-bit code copied to
 * GUEST_AP_TRAMPOLINE (a page below 1 MiB). The BSP fills in the data block
 * at its end (cr3, 64-bit entry, stack pointer) before sending the SIPI. */
	.section .rodata, "a"
	.globl ap_tramp_start, ap_tramp_end
	.code16
ap_tramp_start:
	cli
	mov	%cs, %ax
	mov	%ax, %ds
	/* ds:0 = trampoline base; the GDT pointer and far jump are patched absolute */
	lgdtl	(ap_gdtr - ap_tramp_start)
	mov	%cr0, %eax
	or	$1, %eax
	mov	%eax, %cr0
	ljmpl	*(ap_jmp32 - ap_tramp_start)
	.code32
ap_tramp32:
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	/* ebx = trampoline base (patched) */
	mov	$0, %ebx
ap_base_imm = . - 4
	mov	%cr4, %eax
	or	$0x20, %eax		/* PAE */
	mov	%eax, %cr4
	mov	(ap_cr3 - ap_tramp_start)(%ebx), %eax
	mov	%eax, %cr3
	mov	$0xc0000080, %ecx	/* EFER */
	rdmsr
	or	$0x100, %eax		/* LME */
	wrmsr
	mov	%cr0, %eax
	or	$0x80000000, %eax	/* PG */
	mov	%eax, %cr0
	ljmpl	*(ap_jmp64 - ap_tramp_start)(%ebx)
	.code64
ap_tramp64:
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	%ebx, %ebx
	mov	(ap_stack - ap_tramp_start)(%rbx), %rsp
	mov	(ap_entry64 - ap_tramp_start)(%rbx), %rax
	call	*%rax
1:	hlt
	jmp	1b
	.balign 8
	.globl ap_gdt, ap_gdtr, ap_jmp32, ap_jmp64, ap_cr3, ap_stack, ap_entry64
	.globl ap_tramp32, ap_tramp64, ap_base_imm
ap_gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit code (same as runm-vmm's GDT) */
	.quad 0x00cf92000000ffff	/* 0x10: data */
	.quad 0x00cf9a000000ffff	/* 0x18: 32-bit code */
ap_gdtr:
	.word 31
	.long 0				/* patched: base + ap_gdt offset */
ap_jmp32:
	.long 0				/* patched: base + ap_tramp32 offset */
	.word 0x18
ap_jmp64:
	.long 0				/* patched: base + ap_tramp64 offset */
	.word 0x08
	.balign 8
ap_cr3:	.quad 0
ap_stack: .quad 0
ap_entry64: .quad 0
ap_tramp_end:

	.bss
	.balign 16
	.space 16384
boot_stack_top:
