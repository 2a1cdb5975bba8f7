/* SPDX-License-Identifier: Apache-2.0 */
/* KVM: the VM (TSS, identity map, irqchip, PIT, memory slots) and its vCPUs
 * (CPUID with per-vCPU APIC ids, MSRs, LAPIC LINT0/LINT1, boot registers),
 * vCPU threads, and the pause/resume/exit machinery. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "evloop.h"
#include "loader.h"
#include "log.h"
#include "vm.h"

#define TSS_ADDR       0xfffbd000ull
#define IDENT_MAP_ADDR 0xfffbc000ull

int vm_kvm_init(struct vm *vm)
{
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		log_errno(errno, "open /dev/kvm");
		return -1;
	}
	int v = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		log_error("/dev/kvm: KVM API version %d, need %d", v, KVM_API_VERSION);
		return -1;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		log_errno(errno, "KVM_CREATE_VM");
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)TSS_ADDR) < 0) {
		log_errno(errno, "KVM_SET_TSS_ADDR 0x%llx", TSS_ADDR);
		return -1;
	}
	uint64_t ident = IDENT_MAP_ADDR;
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident) < 0) {
		log_errno(errno, "KVM_SET_IDENTITY_MAP_ADDR 0x%llx", IDENT_MAP_ADDR);
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		log_errno(errno, "KVM_CREATE_IRQCHIP");
		return -1;
	}
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		log_errno(errno, "KVM_CREATE_PIT2");
		return -1;
	}
	return 0;
}

int vm_kvm_init_memory(struct vm *vm)
{
	for (unsigned i = 0; i < vm->mem.n; i++) {
		struct kvm_userspace_memory_region r = {
		    .slot = i,
		    .guest_phys_addr = vm->mem.r[i].gpa,
		    .memory_size = vm->mem.r[i].size,
		    .userspace_addr = (uint64_t)vm->mem.r[i].hva,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
			log_errno(errno, "KVM_SET_USER_MEMORY_REGION slot %u", i);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ vCPUs */

static struct kvm_cpuid2 *supported_cpuid(int kvm_fd)
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

int vm_vcpus_init(struct vm *vm)
{
	int mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(struct kvm_run)) {
		log_errno(errno, "KVM_GET_VCPU_MMAP_SIZE");
		return -1;
	}
	struct kvm_cpuid2 *base = supported_cpuid(vm->kvm_fd);
	if (!base) {
		log_errno(errno, "KVM_GET_SUPPORTED_CPUID");
		return -1;
	}
	size_t csz = sizeof(*base) + base->nent * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = malloc(csz);
	int rc = -1;
	if (!c) {
		log_errno(ENOMEM, "cpuid");
		goto out;
	}
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		int e;
		v->vm = vm;
		v->id = i;
		v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
		if (v->fd < 0) {
			log_errno(errno, "KVM_CREATE_VCPU %u", i);
			goto out;
		}
		v->run_size = (size_t)mmap_size;
		v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED) {
			v->run = NULL;
			log_errno(errno, "mmap kvm_run of vCPU %u", i);
			goto out;
		}
		memcpy(c, base, csz);
		patch_cpuid(c, i, vm->ncpus);
		if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0) {
			log_errno(errno, "KVM_SET_CPUID2 on vCPU %u", i);
			goto out;
		}
		if ((e = setup_msrs(v)) < 0) {
			log_errno(-e, "KVM_SET_MSRS on vCPU %u", i);
			goto out;
		}
		if ((e = setup_lapic(v)) < 0) {
			log_errno(-e, "LAPIC setup of vCPU %u", i);
			goto out;
		}
		/* APs wait for INIT/SIPI from the BSP (in-kernel LAPIC) */
		if (i == 0 && (e = setup_boot_regs(vm, v)) < 0) {
			log_errno(-e, "boot registers of vCPU 0");
			goto out;
		}
	}
	rc = 0;
out:
	free(c);
	free(base);
	return rc;
}

static void kick_handler(int sig)
{
	(void)sig;
}

int vm_vcpus_start(struct vm *vm)
{
	struct sigaction sa = {.sa_handler = kick_handler};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL); /* no SA_RESTART: KVM_RUN returns EINTR */
	vm->start_ns = now_ns();
	for (unsigned i = 0; i < vm->ncpus; i++) {
		int e = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);
		if (e) {
			log_errno(e, "start vCPU %u thread", i);
			vm_request_exit(vm, 1);
			return -1;
		}
		vm->vcpus[i].started = true;
	}
	return 0;
}

static void kick_all(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (v->run)
			__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (v->started && !pthread_equal(v->thread, pthread_self()))
			pthread_kill(v->thread, SIGUSR1);
	}
}

void vm_request_exit(struct vm *vm, int code)
{
	int expect = -1;
	atomic_compare_exchange_strong(&vm->exit_code, &expect, code);
	pthread_mutex_lock(&vm->lock);
	atomic_store(&vm->state, VM_STOPPING);
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	kick_all(vm);
	if (vm->loop)
		evloop_stop(vm->loop);
}

void vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	if (atomic_load(&vm->state) != VM_RUNNING) {
		pthread_mutex_unlock(&vm->lock);
		return;
	}
	atomic_store(&vm->state, VM_PAUSED);
	pthread_mutex_unlock(&vm->lock);
	kick_all(vm);
	/* wait until every vCPU is parked so "paused" is true when we answer */
	pthread_mutex_lock(&vm->lock);
	while (vm->paused_vcpus < vm->ncpus && atomic_load(&vm->state) == VM_PAUSED)
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	if (atomic_load(&vm->state) == VM_PAUSED) {
		atomic_store(&vm->state, VM_RUNNING);
		pthread_cond_broadcast(&vm->cond);
	}
	pthread_mutex_unlock(&vm->lock);
}

void vm_vcpus_join(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].started) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].started = false;
		}
}

void vm_kvm_free(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (v->run)
			munmap(v->run, v->run_size);
		if (v->fd > 0)
			close(v->fd);
		v->run = NULL;
		v->fd = -1;
	}
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
}
