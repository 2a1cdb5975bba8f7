/* SPDX-License-Identifier: Apache-2.0 */
/* hello: print over the 8250 and reset through the i8042 (runm-vmm exits 0). */
#include "guest.h"

int guest_main(void)
{
	serial_puts("hello from runm mini-guest\n");
	return 0;
}
