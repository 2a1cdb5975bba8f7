/* SPDX-License-Identifier: Apache-2.0 */
/* exit_loop: N port writes (to an unclaimed port) and N MMIO reads (of an
 * unmapped address), each a round trip to runm-vmm, for bench/vmm_exits.sh.
 * N comes from "exits=N" on the command line (default 10000). */
#include "guest.h"

int guest_main(void)
{
	uint64_t n = 10000;
	const char *c = guest_cmdline();
	for (; *c; c++)
		if (strncmp(c, "exits=", 6) == 0) {
			c += 6;
			n = parse_uint(&c);
			break;
		}
	serial_puts("pio\n");
	for (uint64_t i = 0; i < n; i++)
		outb(0x2f8 + 7, (uint8_t)i);
	serial_puts("mmio\n");
	uint32_t x = 0;
	for (uint64_t i = 0; i < n; i++)
		x ^= mmio_read32(0xd0ff0000);
	gprintf("done %lu %x\n", n, x);
	return 0;
}
