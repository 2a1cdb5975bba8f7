/* SPDX-License-Identifier: Apache-2.0 */
/* x86 state of a vCPU before it first runs: CPUID with per-vCPU APIC ids and a one-socket
 * topology, MSRs, LAPIC LINT0/LINT1, and vCPU 0's 64-bit boot registers (vmm/x86/boot.h). */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"
#include "vmm/vm.h"
#include "vmm/x86/boot.h"

struct kvm_cpuid2 *x86_supported_cpuid(int kvm_fd)
{
	for (unsigned n = 128; n <= 1024; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));
		if (!c)
			return NULL;
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		int e = errno;
		free(c);
		if (e != E2BIG) {
			errno = e;
			return NULL;
		}
	}
	errno = E2BIG;
	return NULL;
}

static unsigned bits_for(unsigned n)
{
	unsigned b = 0;
	while ((1u << b) < n)
		b++;
	return b;
}

/* Per-vCPU CPUID: APIC ids and a topology of one socket with ncpus cores. */
static void patch_cpuid(struct kvm_cpuid2 *c, unsigned id, unsigned ncpus)
{
	unsigned core_bits = bits_for(ncpus);
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffff) | (id << 24) | ((ncpus & 0xff) << 16);
			e->ecx |= 1u << 31; /* hypervisor */
			if (ncpus > 1)
				e->edx |= 1u << 28; /* HTT: ebx[23:16] is valid */
			break;
		case 4:
			e->eax = (e->eax & 0x3ff) | (((1u << core_bits) - 1) << 26);
			break;
		case 0xb:
		case 0x1f: /* v2 extended topology: Linux prefers it when present */
			e->edx = id;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1u << 8) | 0;
			} else if (e->index == 1) {
				e->eax = core_bits;
				e->ebx = ncpus;
				e->ecx = (2u << 8) | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 6:
			e->ecx &= ~1u; /* no APERF/MPERF */
			break;
		default:
			break;
		}
	}
}

static int setup_msrs(struct vcpu *v)
{
	static const uint32_t idx[] = {0x174,	   0x175,      0x176, 0xc0000081, 0xc0000082, 0xc0000083,
				       0xc0000084, 0xc0000102, 0x10,  0x1a0,	  0x2ff};
	const size_t n = sizeof(idx) / sizeof(idx[0]);
	struct kvm_msrs *m = calloc(1, sizeof(*m) + n * sizeof(struct kvm_msr_entry));
	if (!m)
		return -ENOMEM;
	m->nmsrs = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		m->entries[i].index = idx[i];
		m->entries[i].data = 0;
	}
	m->entries[9].data = 1;		      /* IA32_MISC_ENABLE: fast strings */
	m->entries[10].data = (1u << 11) | 6; /* MTRRdefType: enabled, write-back */
	int r = ioctl(v->fd, KVM_SET_MSRS, m);
	free(m);
	if (r < 0)
		return -errno;
	/* KVM stops at the first MSR it refuses: continue without the rest */
	return 0;
}

static int setup_lapic(struct vcpu *v)
{
	struct kvm_lapic_state l;
	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0)
		return -errno;
	uint32_t lint0, lint1;
	memcpy(&lint0, l.regs + 0x350, 4);
	memcpy(&lint1, l.regs + 0x360, 4);
	lint0 = (lint0 & ~0x700u) | (7u << 8); /* ExtINT */
	lint1 = (lint1 & ~0x700u) | (4u << 8); /* NMI */
	memcpy(l.regs + 0x350, &lint0, 4);
	memcpy(l.regs + 0x360, &lint1, 4);
	if (ioctl(v->fd, KVM_SET_LAPIC, &l) < 0)
		return -errno;
	return 0;
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool l, bool db)
{
	*s = (struct kvm_segment){.base = 0,
				  .limit = 0xffffffff,
				  .selector = sel,
				  .type = type,
				  .present = 1,
				  .dpl = 0,
				  .db = db,
				  .s = 1,
				  .l = l,
				  .g = 1};
}

static int setup_boot_regs(struct vm *vm, struct vcpu *v)
{
	struct kvm_sregs s;
	struct kvm_regs r;
	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	s.gdt.base = GDT_ADDR;
	s.gdt.limit = 31;
	s.idt.base = 0;
	s.idt.limit = 0;
	memset(&r, 0, sizeof(r));
	r.rflags = 2;
	r.rip = vm->entry;
	if (vm->pvh) {
		/* PVH: 32-bit protected mode, paging off, ebx = hvm_start_info */
		seg(&s.cs, 0x08, 11, false, true);
		seg(&s.ds, 0x10, 3, false, true);
		s.cr0 = 0x11; /* PE | ET */
		s.cr4 = 0;
		s.efer = 0;
		r.rbx = PVH_INFO_ADDR;
	} else {
		/* Linux 64-bit boot protocol: long mode, identity paging, rsi = zero page */
		seg(&s.cs, 0x08, 11, true, false);
		seg(&s.ds, 0x10, 3, false, true);
		s.cr3 = PML4_ADDR;
		s.cr4 = 0x20;	    /* PAE */
		s.cr0 = 0x80000011; /* PG | ET | PE */
		s.efer = 0x500;	    /* LME | LMA */
		r.rsi = ZERO_PAGE_ADDR;
		r.rsp = r.rbp = BOOT_STACK;
	}
	s.es = s.fs = s.gs = s.ss = s.ds;
	s.tr = (struct kvm_segment){.selector = 0x18, .limit = 0xfffff, .type = 11, .present = 1};
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
		return -errno;
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	return 0;
}

int x86_vcpu_setup(struct vm *vm, struct vcpu *v, const struct kvm_cpuid2 *base)
{
	size_t csz = sizeof(*base) + base->nent * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = malloc(csz);
	int e;
	if (!c) {
		log_errno(ENOMEM, "cpuid");
		return -1;
	}
	memcpy(c, base, csz);
	patch_cpuid(c, v->id, vm->ncpus);
	e = ioctl(v->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	if (e < 0) {
		log_errno(-e, "KVM_SET_CPUID2 on vCPU %u", v->id);
		return -1;
	}
	if ((e = setup_msrs(v)) < 0) {
		log_errno(-e, "KVM_SET_MSRS on vCPU %u", v->id);
		return -1;
	}
	if ((e = setup_lapic(v)) < 0) {
		log_errno(-e, "LAPIC setup of vCPU %u", v->id);
		return -1;
	}
	/* APs wait for INIT/SIPI from the BSP (in-kernel LAPIC) */
	if (v->id == 0 && (e = setup_boot_regs(vm, v)) < 0) {
		log_errno(-e, "boot registers of vCPU 0");
		return -1;
	}
	return 0;
}
