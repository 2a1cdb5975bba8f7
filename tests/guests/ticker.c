/* SPDX-License-Identifier: Apache-2.0 */
/* ticker: print "tick N" forever (until the VMM stops it), so tests can see
 * whether the vCPU runs (pause/resume/stop on the control socket). */
#include "guest.h"

int guest_main(void)
{
	/* "ticker.fast" on the command line: no pause between lines (floods the console) */
	bool fast = false;
	for (const char *c = guest_cmdline(); *c; c++)
		if (strncmp(c, "ticker.fast", 11) == 0)
			fast = true;
	for (uint64_t n = 0;; n++) {
		gprintf("tick %lu\n", n);
		if (!fast)
			delay_loops(2000);
	}
}
