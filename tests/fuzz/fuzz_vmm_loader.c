/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz runm-vmm's kernel loaders (ELF vmlinux incl. PVH notes, bzImage) and
 * initrd placement with hostile images. Byte 0 picks options; the rest is
 * split into kernel and initrd at a position given by bytes 1-2. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/vm.h"
#include "vmm/x86/boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vm vm;
static struct vm_config cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!vm.ram) {
		cfg.cpus = 1;
		vm.cfg = &cfg;
		vm.ncpus = 1;
		if (vm_memory_init(&vm, 8, false) < 0)
			abort();
	}
	if (size < 3)
		return 0;
	uint8_t opt = data[0];
	size_t split = (size_t)(data[1] | data[2] << 8);
	data += 3;
	size -= 3;
	if (split > size)
		split = size;
	vm.ncpus = 1 + (opt & 7);
	cfg.rng = opt & 8;
	loader_boot(&vm, "fuzz", data, split, "initrd", (opt & 16) ? data + split : NULL, size - split);
	return 0;
}
