/* SPDX-License-Identifier: Apache-2.0 */
/* ticker: print "tick N" forever (until the VMM stops it), so tests can see
 * whether the vCPU runs (pause/resume/stop on the control socket). */
#include "guest.h"

int guest_main(void)
{
	for (uint64_t n = 0;; n++) {
		gprintf("tick %lu\n", n);
		delay_loops(2000);
	}
}
