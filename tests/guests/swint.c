/* SPDX-License-Identifier: Apache-2.0 */
/* swint: a software `int n`, which this host's KVM emulator cannot handle
 * (KVM_EXIT_INTERNAL_ERROR): runm-vmm must exit non-zero naming the vCPU, rip
 * and instruction bytes. On hardware KVM the interrupt is delivered to our
 * handler and the guest reports it instead. */
#include "guest.h"

static volatile int delivered;
static void on_vec(unsigned vec)
{
	delivered = (int)vec;
}

int guest_main(void)
{
	idt_init();
	irq_set_handler(0x21, on_vec);
	serial_puts("executing int $0x21\n");
	__asm__ volatile("int $0x21");
	gprintf("software interrupt delivered to vector 0x%x\n", delivered);
	return 0;
}
