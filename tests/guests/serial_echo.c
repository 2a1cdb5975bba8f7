/* SPDX-License-Identifier: Apache-2.0 */
/* serial_echo: receive console input by interrupt (IRQ 4 through the IOAPIC)
 * and echo each line back as "echo: <line>"; a line "quit" ends the guest. */
#include "guest.h"

#define VEC_SERIAL 0x24

static volatile unsigned irqs;
static char line[128];
static unsigned len;
static volatile bool quit;

static void on_serial(unsigned vec)
{
	irqs++;
	int c;
	while ((c = serial_getc_nowait()) >= 0) {
		if (c == '\r' || c == '\n') {
			line[len] = 0;
			if (len)
				gprintf("echo: %s\n", line);
			if (len == 4 && memcmp(line, "quit", 4) == 0)
				quit = true;
			len = 0;
		} else if (len < sizeof(line) - 1) {
			line[len++] = (char)c;
		}
	}
}

int guest_main(void)
{
	idt_init();
	pic_mask_all();
	lapic_init();
	irq_set_handler(VEC_SERIAL, on_serial);
	ioapic_route(4, VEC_SERIAL, lapic_id(), false);
	serial_rx_irq(true);
	serial_puts("ready\n");
	while (!quit)
		sti_hlt();
	cli();
	gprintf("irqs=%u\n", irqs);
	return 0;
}
