/* SPDX-License-Identifier: Apache-2.0 */
/* fault: triple-fault on purpose; runm-vmm must exit non-zero and name the
 * vCPU, rip and instruction bytes. */
#include "guest.h"

int guest_main(void)
{
	serial_puts("about to triple fault\n");
	guest_fail("deliberate triple fault");
}
