/* SPDX-License-Identifier: Apache-2.0 */
/* Port I/O and MMIO dispatch for vCPU threads. */
#include <string.h>

#include "log.h"
#include "legacy/legacy.h"
#include "vm.h"

#define COM1_BASE  0x3f8
#define I8042_DATA 0x60
#define I8042_CMD  0x64

void vm_pio(struct vm *vm, uint16_t port, bool write, uint8_t *data, unsigned size)
{
	if (port >= COM1_BASE && port < COM1_BASE + 8 && size == 1) {
		serial_io(vm->serial, port - COM1_BASE, write, data);
		return;
	}
	if ((port == I8042_DATA || port == I8042_CMD) && size == 1) {
		i8042_io(vm->i8042, port, write, data);
		return;
	}
	if (!write)
		memset(data, 0xff, size);
}

void vm_mmio(struct vm *vm, uint64_t addr, bool write, uint8_t *data, unsigned size)
{
	if (addr >= VIRTIO_MMIO_BASE && addr < VIRTIO_MMIO_BASE + (uint64_t)vm->ndevs * VIRTIO_MMIO_SIZE) {
		unsigned i = (unsigned)((addr - VIRTIO_MMIO_BASE) / VIRTIO_MMIO_SIZE);
		mmio_dev_access(vm->devs[i], (addr - VIRTIO_MMIO_BASE) % VIRTIO_MMIO_SIZE, write, data, size);
		return;
	}
	if (!write)
		memset(data, 0xff, size);
}
