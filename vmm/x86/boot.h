/* SPDX-License-Identifier: Apache-2.0 */
/* x86 boot: the constants of the boot protocols (loader.c), the loader and MP table, and the
 * vCPU state a guest starts with (cpu.c). */
#ifndef RUNM_VMM_X86_BOOT_H
#define RUNM_VMM_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct vcpu;
struct kvm_cpuid2;

#define E820_RAM      1
#define E820_RESERVED 2

#define GDT_CODE64 0x00af9b000000ffffull /* 64-bit code, selector 0x08 */
#define GDT_CODE32 0x00cf9b000000ffffull /* 32-bit code for PVH entry */
#define GDT_DATA   0x00cf93000000ffffull /* flat data, selector 0x10 */
#define GDT_TSS	   0x008f8b000000ffffull /* busy TSS, selector 0x18 */

#define PVH_MEMMAP_OFF	0x40
#define PVH_MODLIST_OFF 0x200
#ifndef XEN_ELFNOTE_PHYS32_ENTRY
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#endif

/* x86 COMMAND_LINE_SIZE: the limit for ELF kernels without a setup header. */
#define LINUX_COMMAND_LINE_SIZE 2048

#define DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.dumbkbd pci=off"

/* x86/loader.c: kernel + initrd + zero page/PVH info + cmdline + page tables + GDT + MP table */
int vm_load_kernel(struct vm *vm);
/* The same from memory: kernel image k (ELF or bzImage) and an optional initrd.
 * Fills guest memory and sets vm->entry / vm->pvh. Hostile input is fine. */
int loader_boot(struct vm *vm, const char *kname, const uint8_t *k, size_t klen, const char *iname,
		const uint8_t *initrd, size_t ilen);
/* The full command line (defaults + device declarations + user cmdline). */
int vm_build_cmdline(struct vm *vm, char *out, size_t outlen);

/* x86/mptable.c */
int mptable_write(uint8_t *dst, size_t room, uint64_t gpa, unsigned ncpus);

/* x86/cpu.c: KVM's supported CPUID (malloc'd; NULL with errno), and one vCPU's state from it:
 * CPUID, MSRs, LAPIC, and for vCPU 0 the boot registers. 0, or -1 after logging. */
struct kvm_cpuid2 *x86_supported_cpuid(int kvm_fd);
int x86_vcpu_setup(struct vm *vm, struct vcpu *v, const struct kvm_cpuid2 *base);

#endif
