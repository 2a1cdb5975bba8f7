/* SPDX-License-Identifier: Apache-2.0 */
/* KVM: the VM (TSS, identity map, irqchip, PIT, memory slots) and its teardown.
 * vCPUs are vcpu.c's; their x86 state (CPUID, MSRs, LAPIC, boot registers) x86/cpu.c's. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

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
