/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the control socket's request handler with arbitrary lines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vm vm;
static struct vm_config cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	char out[1024];
	if (!init) {
		vm.cfg = &cfg;
		vm.kvm_fd = vm.vm_fd = -1;
		pthread_mutex_init(&vm.lock, NULL);
		pthread_cond_init(&vm.cond, NULL);
		init = true;
	}
	atomic_store(&vm.state, VM_RUNNING);
	char *line = malloc(size + 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = 0;
	control_handle(&vm, line, out, sizeof(out));
	if (!memchr(out, '\n', sizeof(out)))
		abort(); /* every response is one complete line */
	free(line);
	return 0;
}
