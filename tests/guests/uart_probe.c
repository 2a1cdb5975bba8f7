/* SPDX-License-Identifier: Apache-2.0 */
/* uart_probe: the checks Linux's 8250 driver makes before it trusts ttyS0
 * (scratch register, IER, loopback modem lines, 16550A FIFO, THRE interrupt
 * identification, loopback data), each printed as "name=ok|BAD". */
#include "guest.h"

#define COM1 0x3f8

static bool check(const char *name, bool ok)
{
	gprintf("%s=%s\n", name, ok ? "ok" : "BAD");
	return ok;
}

int guest_main(void)
{
	bool all = true;
	outb(COM1 + 7, 0xa5);
	all &= check("scratch", inb(COM1 + 7) == 0xa5);
	outb(COM1 + 1, 0x0f);
	all &= check("ier", inb(COM1 + 1) == 0x0f);
	outb(COM1 + 1, 0);
	/* loopback: RTS|OUT2 -> CTS|DCD (0x90); DTR|OUT1 -> DSR|RI (0x60) */
	outb(COM1 + 4, 0x10 | 0x0a);
	uint8_t m1 = inb(COM1 + 6) & 0xf0;
	outb(COM1 + 4, 0x10 | 0x05);
	uint8_t m2 = inb(COM1 + 6) & 0xf0;
	/* loopback data: THR -> RBR (nothing may be printed while looped) */
	outb(COM1, 'Z');
	bool dr = inb(COM1 + 5) & 1;
	uint8_t got = inb(COM1);
	bool empty = !(inb(COM1 + 5) & 1);
	outb(COM1 + 4, 0x03);
	all &= check("loopback_msr", m1 == 0x90 && m2 == 0x60);
	all &= check("loopback_data", dr && got == 'Z' && empty);
	/* FIFO: 16550A reports 0xc0 in IIR */
	outb(COM1 + 2, 0x01);
	all &= check("fifo", (inb(COM1 + 2) & 0xc0) == 0xc0);
	/* THRE interrupt identification, cleared by reading IIR */
	outb(COM1 + 1, 0x02);
	uint8_t iir1 = inb(COM1 + 2) & 0x0f, iir2 = inb(COM1 + 2) & 0x0f;
	outb(COM1 + 1, 0);
	all &= check("thre_iir", iir1 == 0x02 && iir2 == 0x01);
	/* divisor latch */
	outb(COM1 + 3, 0x83);
	outb(COM1, 0x01);
	outb(COM1 + 1, 0x00);
	bool dl = inb(COM1) == 0x01 && inb(COM1 + 1) == 0;
	outb(COM1 + 3, 0x03);
	all &= check("dlab", dl);
	/* i8042: what Linux's probe asks (self-test, CTR read/write, interface test) */
	all &= check("i8042_status", (inb(0x64) & 0x01) == 0);
	outb(0x64, 0xaa);
	bool obf = inb(0x64) & 0x01;
	all &= check("i8042_selftest", obf && inb(0x60) == 0x55 && !(inb(0x64) & 0x01));
	outb(0x64, 0x60);
	outb(0x60, 0x47);
	outb(0x64, 0x20);
	all &= check("i8042_ctr", inb(0x60) == 0x47);
	outb(0x64, 0xab);
	all &= check("i8042_iface", (inb(0x64) & 0x01) && inb(0x60) == 0x00);
	all &= check("unknown_port", inb(0x2e8 + 5) == 0xff);
	all &= check("unmapped_mmio", mmio_read32(0xd0ff0000) == 0xffffffffu);
	gprintf("uart %s\n", all ? "ok" : "BAD");
	return 0;
}
