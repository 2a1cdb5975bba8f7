/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the virtio-mmio transport's guest-facing register interface: each input
 * is a program of register reads/writes (any offset, any width) and writes into
 * guest memory, run against a virtio-rng device whose event loop runs on its
 * own thread as in runm-vmm. Without KVM (vm_fd -1) the transport uses its
 * userspace fallbacks for kicks and interrupts.
 *
 * Program: records of 8 bytes: op u8, pad u8, off u16, val u32.
 *   op & 3 == 0: register read, 1: register write, 2: guest memory write
 *   (val at off * 8 in the first 512 KiB), 3: reset the device.
 *   (op >> 2) & 3 selects the access width 1, 2, 4 or 8.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/evloop.h"
#include "vmm/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vm vm;
static struct vm_config cfg;
static struct mmio_dev *dev;

static void *loop_main(void *arg)
{
	evloop_run(vm.loop);
	return NULL;
}

static void init(void)
{
	char err[256];
	pthread_t t;
	vm.cfg = &cfg;
	vm.kvm_fd = vm.vm_fd = -1;
	vm.ncpus = 1;
	atomic_init(&vm.state, VM_RUNNING);
	atomic_init(&vm.exit_code, -1);
	pthread_mutex_init(&vm.lock, NULL);
	pthread_cond_init(&vm.cond, NULL);
	if (vm_memory_init(&vm, 4, false) < 0)
		abort();
	vm.loop = evloop_new();
	struct virtio_dev *d = vm.loop ? virtio_dev_create("rng", vm.loop, err, sizeof(err)) : NULL;
	dev = d ? mmio_dev_new(&vm, d, 0, err, sizeof(err)) : NULL;
	if (!dev || pthread_create(&t, NULL, loop_main, NULL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool done;
	if (!done) {
		init();
		done = true;
	}
	uint8_t zero[4] = {0};
	mmio_dev_access(dev, 0x70, true, zero, 4); /* start from a reset device */
	for (size_t i = 0; i + 8 <= size && i < 8 * 256; i += 8) {
		uint8_t op = data[i];
		uint16_t off;
		uint8_t val[8];
		memcpy(&off, data + i + 2, 2);
		memcpy(val, data + i + 4, 4);
		memcpy(val + 4, data + i + 4, 4);
		unsigned width = 1u << ((op >> 2) & 3);
		switch (op & 3) {
		case 0:
			mmio_dev_access(dev, off % VIRTIO_MMIO_SIZE, false, val, width);
			break;
		case 1:
			mmio_dev_access(dev, off % VIRTIO_MMIO_SIZE, true, val, width);
			break;
		case 2:
			memcpy(vm.ram + (uint64_t)off * 8, val, 8);
			break;
		case 3:
			mmio_dev_access(dev, 0x70, true, zero, 4);
			break;
		}
	}
	return 0;
}
