/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mini-guest library: tiny freestanding 64-bit programs that runm-vmm boots
 * exactly like a Linux vmlinux (ELF entry in 64-bit mode, identity-mapped
 * paging for the low 4 GiB, rsi = zero page at 0x7000, interrupts off).
 *
 * A guest is one C file defining `int guest_main(void)`. Returning 0 resets the
 * machine through the i8042 (runm-vmm exits 0); returning non-zero or calling
 * guest_fail() prints "FAIL: ..." and triple-faults (runm-vmm exits non-zero).
 *
 * Rules of this KVM (kvm_pvm, emulated): ~4 M instructions/s, so keep loops
 * short; no software `int n`; mask the 8259 (pic_mask_all) before sti.
 *
 * Build: tests/guests/module.mk compiles the lib sources plus one guest .c
 * into build/guests/<name>.elf (add the name to GUEST_NAMES).
 */
#ifndef RUNM_GUEST_H
#define RUNM_GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ----------------------------------------------------------- port / MMIO */
static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint8_t mmio_read8(uint64_t a)
{
	return *(volatile uint8_t *)a;
}
static inline uint16_t mmio_read16(uint64_t a)
{
	return *(volatile uint16_t *)a;
}
static inline uint32_t mmio_read32(uint64_t a)
{
	return *(volatile uint32_t *)a;
}
static inline void mmio_write8(uint64_t a, uint8_t v)
{
	*(volatile uint8_t *)a = v;
}
static inline void mmio_write16(uint64_t a, uint16_t v)
{
	*(volatile uint16_t *)a = v;
}
static inline void mmio_write32(uint64_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}

static inline void cli(void)
{
	__asm__ volatile("cli" ::: "memory");
}
static inline void sti(void)
{
	__asm__ volatile("sti" ::: "memory");
}
/* Enable interrupts and halt atomically (sti shadow): returns after one interrupt. */
static inline void sti_hlt(void)
{
	__asm__ volatile("sti; hlt" ::: "memory");
}
static inline void barrier(void)
{
	__asm__ volatile("" ::: "memory");
}
static inline void mb(void)
{
	__asm__ volatile("mfence" ::: "memory");
}

/* ------------------------------------------------------------ libc-ish */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
/* Parse an unsigned number (0x.. hex or decimal) at *s; advances *s. */
uint64_t parse_uint(const char **s);

/* ------------------------------------------------------- serial (COM1) */
void serial_putc(char c);
void serial_puts(const char *s);
/* printf subset: %s %c %d %u %x %lx %lu %ld %p %%; "%lx" prints without 0x. */
void gprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gvprintf(const char *fmt, va_list ap);
/* Non-blocking read of the receive register: -1 when no byte is waiting. */
int serial_getc_nowait(void);
/* Enable/disable the "received data available" interrupt (IER bit 0). */
void serial_rx_irq(bool on);

/* ----------------------------------------------------------- machine exit */
/* i8042 reset (0xFE to port 0x64): runm-vmm exits with status 0. */
__attribute__((noreturn)) void guest_reset(void);
/* Print "FAIL: <msg>" and triple-fault: runm-vmm exits non-zero. */
__attribute__((noreturn, format(printf, 1, 2))) void guest_fail(const char *fmt, ...);
#define GUEST_ASSERT(c)                                                                                      \
	do {                                                                                                 \
		if (!(c))                                                                                    \
			guest_fail("%s:%d: %s", __FILE__, __LINE__, #c);                                     \
	} while (0)

/* ------------------------------------------------------------ boot params */
extern uint64_t guest_zero_page; /* rsi at entry */
#define ZP_E820_ENTRIES	 0x1e8	 /* u8 */
#define ZP_HDR_VERSION	 0x206	 /* u16 */
#define ZP_RAMDISK_IMAGE 0x218	 /* u32 */
#define ZP_RAMDISK_SIZE	 0x21c	 /* u32 */
#define ZP_CMD_LINE_PTR	 0x228	 /* u32 */
#define ZP_CMDLINE_SIZE	 0x238	 /* u32 */
#define ZP_E820_TABLE	 0x2d0	 /* 20-byte entries: addr u64, size u64, type u32 */
static inline uint8_t zp_u8(unsigned off)
{
	return *(volatile uint8_t *)(guest_zero_page + off);
}
static inline uint32_t zp_u32(unsigned off)
{
	return *(volatile uint32_t *)(guest_zero_page + off);
}
const char *guest_cmdline(void);
/* Find the n-th "virtio_mmio.device=<size>@<base>:<irq>" on the command line. */
bool guest_virtio_mmio(unsigned n, uint64_t *base, uint32_t *irq);

/* ------------------------------------------------------------- interrupts */
/* Exceptions 0..19 print the vector/rip/error and fail; vectors 0x20..0x2f call
 * the handler set with irq_set_handler (and then send a LAPIC EOI). */
void idt_init(void);
/* Load the IDT on this CPU (APs call it after idt_init ran on the BSP). */
void idt_load(void);
typedef void (*irq_fn)(unsigned vec);
void irq_set_handler(unsigned vec, irq_fn fn);
/* Mask both 8259s: mandatory before enabling interrupts here. */
void pic_mask_all(void);

#define LAPIC_BASE  0xfee00000ull
#define IOAPIC_BASE 0xfec00000ull
/* Software-enable the local APIC (SVR), TPR 0. */
void lapic_init(void);
void lapic_eoi(void);
uint32_t lapic_id(void);
/* Route IOAPIC pin to vector on the APIC id dest (fixed, physical). */
void ioapic_route(unsigned pin, unsigned vec, uint32_t dest, bool level);
void ioapic_mask(unsigned pin);

/* ------------------------------------------------------------------- SMP */
/* Bring up APs with INIT-SIPI-SIPI through a trampoline at 0x10000; each runs
 * entry() on its own stack (idt_load is done for it). Max 8 CPUs. */
#define GUEST_AP_TRAMPOLINE 0x10000ull
#define GUEST_MAX_CPUS	    8
void guest_start_ap(uint32_t apic_id, void (*entry)(void));
void delay_loops(unsigned n);

/* Spinlock for printing from several CPUs. */
void print_lock(void);
void print_unlock(void);

int guest_main(void);

#endif
