/* SPDX-License-Identifier: Apache-2.0 */
/* vCPUs: creation (their x86 state from x86/cpu.c), threads, KVM_RUN and exit dispatch, and the
 * pause/resume/exit machinery that kicks them. */
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#include "evloop.h"
#include "log.h"
#include "sandbox.h"
#include "vm.h"
#include "x86/boot.h"

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void vcpu_report(struct vcpu *v, const char *why)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	char bytes[16 * 3 + 1] = "unavailable";
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		log_error("vCPU %u: %s (registers unavailable: %s)", v->id, why, strerror(errno));
		return;
	}
	uint64_t lin = s.cs.base + r.rip;
	struct kvm_translation t = {.linear_address = lin};
	uint64_t gpa = lin;
	if ((s.cr0 & 0x80000000) && ioctl(v->fd, KVM_TRANSLATE, &t) == 0 && t.valid)
		gpa = t.physical_address;
	const uint8_t *p = vm_gpa(v->vm, gpa, 16);
	if (!p)
		p = vm_gpa(v->vm, gpa, 1);
	if (p) {
		size_t n = 0;
		for (unsigned i = 0; i < 16 && vm_gpa(v->vm, gpa + i, 1); i++)
			n += (size_t)snprintf(bytes + n, sizeof(bytes) - n, "%s%02x", i ? " " : "", p[i]);
	}
	log_error("vCPU %u: %s at rip 0x%llx (cs 0x%x, cr0 0x%llx): instruction bytes %s", v->id, why,
		  (unsigned long long)r.rip, s.cs.selector, (unsigned long long)s.cr0, bytes);
}

static void park_if_paused(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	if (atomic_load(&vm->state) == VM_PAUSED) {
		vm->paused_vcpus++;
		pthread_cond_broadcast(&vm->cond);
		while (atomic_load(&vm->state) == VM_PAUSED)
			pthread_cond_wait(&vm->cond, &vm->lock);
		vm->paused_vcpus--;
	}
	pthread_mutex_unlock(&vm->lock);
}

void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	struct kvm_run *run = v->run;
	char why[96];

	snprintf(why, sizeof(why), "runm-vcpu%u", v->id);
	pthread_setname_np(pthread_self(), why);
	/* vCPUs need no capability even when the fs server keeps some */
	if (!vm->cfg->no_seccomp && (sandbox_drop_caps(false) < 0 || sandbox_seccomp_vcpu() < 0)) {
		vm_request_exit(vm, 1);
		return NULL;
	}
	for (;;) {
		int st = atomic_load(&vm->state);
		if (st == VM_STOPPING)
			break;
		if (st == VM_PAUSED) {
			park_if_paused(vm);
			continue;
		}
		__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		/* re-check after clearing: a kick between the check and here sets it again */
		if (atomic_load(&vm->state) != VM_RUNNING)
			continue;
		if (v->id == 0 && !atomic_load(&vm->first_run_ns)) {
			atomic_store(&vm->first_run_cpu_ns, cpu_ns());
			atomic_store(&vm->first_run_ns, now_ns());
		}
		int r = ioctl(v->fd, KVM_RUN, 0);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_errno(errno, "vCPU %u: KVM_RUN", v->id);
			vm_request_exit(vm, 1);
			break;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO: {
			uint8_t *data = (uint8_t *)run + run->io.data_offset;
			bool wr = run->io.direction == KVM_EXIT_IO_OUT;
			for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
				vm_pio(vm, run->io.port, wr, data, run->io.size);
			break;
		}
		case KVM_EXIT_MMIO:
			vm_mmio(vm, run->mmio.phys_addr, run->mmio.is_write, run->mmio.data, run->mmio.len);
			break;
		case KVM_EXIT_HLT:
			/* only without an in-kernel LAPIC; nothing wakes a halted CPU then */
			vcpu_report(v, "halted with interrupts off");
			vm_request_exit(vm, 1);
			break;
		case KVM_EXIT_SHUTDOWN:
			vcpu_report(v, "triple fault (KVM_EXIT_SHUTDOWN)");
			vm_request_exit(vm, 1);
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			/* guest asked for shutdown/reset: a normal end */
			vm_request_exit(vm, 0);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			snprintf(why, sizeof(why), "KVM internal error (suberror %u)",
				 run->internal.suberror);
			vcpu_report(v, why);
			vm_request_exit(vm, 1);
			break;
		case KVM_EXIT_FAIL_ENTRY:
			snprintf(why, sizeof(why), "VM entry failed (reason 0x%llx)",
				 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			vcpu_report(v, why);
			vm_request_exit(vm, 1);
			break;
		case KVM_EXIT_INTR:
			break;
		default:
			snprintf(why, sizeof(why), "unexpected KVM exit %u", run->exit_reason);
			vcpu_report(v, why);
			vm_request_exit(vm, 1);
			break;
		}
	}
	return NULL;
}

int vm_vcpus_init(struct vm *vm)
{
	int mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(struct kvm_run)) {
		log_errno(errno, "KVM_GET_VCPU_MMAP_SIZE");
		return -1;
	}
	struct kvm_cpuid2 *base = x86_supported_cpuid(vm->kvm_fd);
	if (!base) {
		log_errno(errno, "KVM_GET_SUPPORTED_CPUID");
		return -1;
	}
	int rc = -1;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
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
		if (x86_vcpu_setup(vm, v, base) < 0)
			goto out;
	}
	rc = 0;
out:
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
