/* SPDX-License-Identifier: Apache-2.0 */
/* Mini-guest library: serial, printf, exits, boot params, IDT, PIC/LAPIC/IOAPIC, SMP. */
#include "guest.h"

uint64_t guest_zero_page __attribute__((section(".data")));

/* ------------------------------------------------------------------ libc */
void *memset(void *d, int c, size_t n)
{
	uint8_t *p = d;
	while (n--)
		*p++ = (uint8_t)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *a = d;
	const uint8_t *b = s;
	while (n--)
		*a++ = *b++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (uint8_t)*a - (uint8_t)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

uint64_t parse_uint(const char **sp)
{
	const char *s = *sp;
	uint64_t v = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		for (;; s++) {
			char c = *s;
			if (c >= '0' && c <= '9')
				v = v * 16 + (uint64_t)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (uint64_t)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v = v * 16 + (uint64_t)(c - 'A' + 10);
			else
				break;
		}
	} else {
		for (; *s >= '0' && *s <= '9'; s++)
			v = v * 10 + (uint64_t)(*s - '0');
	}
	*sp = s;
	return v;
}

/* ---------------------------------------------------------------- serial */
#define COM1 0x3f8

void serial_putc(char c)
{
	if (c == '\n')
		serial_putc('\r');
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (uint8_t)c);
}

void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

int serial_getc_nowait(void)
{
	if (!(inb(COM1 + 5) & 1))
		return -1;
	return inb(COM1);
}

void serial_rx_irq(bool on)
{
	outb(COM1 + 1, on ? 1 : 0);
	/* OUT2 gates the interrupt line on a PC */
	outb(COM1 + 4, on ? 0x0b : 0x03);
}

static void put_num(uint64_t v, unsigned base, bool neg)
{
	char buf[24];
	int i = 0;
	do {
		unsigned d = (unsigned)(v % base);
		buf[i++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	if (neg)
		serial_putc('-');
	while (i)
		serial_putc(buf[--i]);
}

void gvprintf(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			serial_putc(*fmt);
			continue;
		}
		fmt++;
		bool l = false;
		while (*fmt == 'l') {
			l = true;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			serial_puts(s ? s : "(null)");
			break;
		}
		case 'c':
			serial_putc((char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t v = l ? va_arg(ap, long) : va_arg(ap, int);
			put_num(v < 0 ? (uint64_t)-v : (uint64_t)v, 10, v < 0);
			break;
		}
		case 'u':
			put_num(l ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10, false);
			break;
		case 'x':
			put_num(l ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16, false);
			break;
		case 'p':
			serial_puts("0x");
			put_num((uint64_t)va_arg(ap, void *), 16, false);
			break;
		case '%':
			serial_putc('%');
			break;
		case 0:
			return;
		default:
			serial_putc('?');
		}
	}
}

void gprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	gvprintf(fmt, ap);
	va_end(ap);
}

static volatile int plock;
void print_lock(void)
{
	while (__atomic_exchange_n(&plock, 1, __ATOMIC_ACQUIRE))
		__asm__ volatile("pause");
}
void print_unlock(void)
{
	__atomic_store_n(&plock, 0, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------------ exits */
void guest_reset(void)
{
	outb(0x64, 0xfe);
	for (;;)
		__asm__ volatile("cli; hlt");
}

static void triple_fault(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} none = {0, 0};
	__asm__ volatile("cli; lidt %0; ud2" ::"m"(none));
	for (;;)
		;
}

void guest_fail(const char *fmt, ...)
{
	va_list ap;
	serial_puts("FAIL: ");
	va_start(ap, fmt);
	gvprintf(fmt, ap);
	va_end(ap);
	serial_putc('\n');
	triple_fault();
	__builtin_unreachable();
}

/* ------------------------------------------------------------ boot params */
const char *guest_cmdline(void)
{
	uint32_t p = zp_u32(ZP_CMD_LINE_PTR);
	return p ? (const char *)(uint64_t)p : "";
}

bool guest_virtio_mmio(unsigned n, uint64_t *base, uint32_t *irq)
{
	static const char key[] = "virtio_mmio.device=";
	const char *s = guest_cmdline();
	while (*s) {
		if (strncmp(s, key, sizeof(key) - 1) == 0) {
			const char *p = s + sizeof(key) - 1;
			parse_uint(&p);
			if (*p == 'K' || *p == 'k' || *p == 'M')
				p++;
			if (*p++ == '@') {
				uint64_t b = parse_uint(&p);
				if (*p++ == ':') {
					uint64_t i = parse_uint(&p);
					if (n-- == 0) {
						*base = b;
						*irq = (uint32_t)i;
						return true;
					}
				}
			}
		}
		while (*s && *s != ' ')
			s++;
		while (*s == ' ')
			s++;
	}
	return false;
}

/* --------------------------------------------------------------- the IDT */
struct idt_gate {
	uint16_t off0, sel;
	uint8_t ist, attr;
	uint16_t off1;
	uint32_t off2, zero;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));
static irq_fn handlers[256];

struct isr_frame {
	uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
	uint64_t vec, err, rip, cs, rflags, rsp, ss;
};

/* clang-format reflows this list differently on every run */
// clang-format off
#define STUBS(X)                                                                                   \
	X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)      \
	X(16) X(17) X(18) X(19) X(32) X(33) X(34) X(35) X(36) X(37) X(38) X(39) X(40) X(41) X(42)  \
	X(43) X(44) X(45) X(46) X(47)
// clang-format on
#define DECL(n) extern char isr_stub_##n[];
STUBS(DECL)
#undef DECL

static void set_gate(unsigned v, void *fn)
{
	uint64_t a = (uint64_t)fn;
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	idt[v] = (struct idt_gate){(uint16_t)a, cs, 0, 0x8e, (uint16_t)(a >> 16), (uint32_t)(a >> 32), 0};
}

void idt_load(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} r = {sizeof(idt) - 1, (uint64_t)idt};
	__asm__ volatile("lidt %0" ::"m"(r));
}

void idt_init(void)
{
#define SET(n) set_gate(n, isr_stub_##n);
	STUBS(SET)
#undef SET
	idt_load();
}

void irq_set_handler(unsigned vec, irq_fn fn)
{
	if (vec < 256)
		handlers[vec] = fn;
}

void isr_dispatch(struct isr_frame *f);
void isr_dispatch(struct isr_frame *f)
{
	if (f->vec < 32)
		guest_fail("exception %lu at rip 0x%lx error 0x%lx", f->vec, f->rip, f->err);
	if (handlers[f->vec])
		handlers[f->vec]((unsigned)f->vec);
	else
		gprintf("spurious vector %lu\n", f->vec);
	if (f->vec != 0x2f)
		lapic_eoi();
}

/* ----------------------------------------------------- PIC, LAPIC, IOAPIC */
void pic_mask_all(void)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

void lapic_init(void)
{
	mmio_write32(LAPIC_BASE + 0x80, 0);	       /* TPR */
	mmio_write32(LAPIC_BASE + 0xf0, 0x100 | 0x2f); /* SVR: enable, spurious 0x2f */
}

void lapic_eoi(void)
{
	mmio_write32(LAPIC_BASE + 0xb0, 0);
}

uint32_t lapic_id(void)
{
	return mmio_read32(LAPIC_BASE + 0x20) >> 24;
}

static void ioapic_write(unsigned reg, uint32_t v)
{
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, v);
}

void ioapic_route(unsigned pin, unsigned vec, uint32_t dest, bool level)
{
	ioapic_write(0x11 + 2 * pin, dest << 24);
	ioapic_write(0x10 + 2 * pin, (vec & 0xff) | (level ? 1u << 15 : 0));
}

void ioapic_mask(unsigned pin)
{
	ioapic_write(0x10 + 2 * pin, 1u << 16);
}

/* -------------------------------------------------------------------- SMP */
extern char ap_tramp_start[], ap_tramp_end[], ap_gdt[], ap_gdtr[], ap_jmp32[], ap_jmp64[];
extern char ap_cr3[], ap_stack[], ap_entry64[], ap_tramp32[], ap_tramp64[], ap_base_imm[];

static uint8_t ap_stacks[GUEST_MAX_CPUS][4096] __attribute__((aligned(16)));
static void (*volatile ap_user_entry)(void);
static volatile int ap_started;

void delay_loops(unsigned n)
{
	for (volatile unsigned i = 0; i < n; i++)
		;
}

static void ap_main(void)
{
	idt_load();
	void (*fn)(void) = ap_user_entry;
	__atomic_store_n(&ap_started, 1, __ATOMIC_RELEASE);
	fn();
	for (;;)
		__asm__ volatile("cli; hlt");
}

#define TOFF(sym) ((uint64_t)(sym) - (uint64_t)ap_tramp_start)

void guest_start_ap(uint32_t apic_id, void (*entry)(void))
{
	uint8_t *t = (uint8_t *)GUEST_AP_TRAMPOLINE;
	uint32_t base = (uint32_t)GUEST_AP_TRAMPOLINE;
	uint64_t cr3;
	if (apic_id >= GUEST_MAX_CPUS)
		guest_fail("apic id %u too large", apic_id);
	memcpy(t, ap_tramp_start, (size_t)(ap_tramp_end - ap_tramp_start));
	*(uint32_t *)(t + TOFF(ap_gdtr) + 2) = base + (uint32_t)TOFF(ap_gdt);
	*(uint32_t *)(t + TOFF(ap_jmp32)) = base + (uint32_t)TOFF(ap_tramp32);
	*(uint32_t *)(t + TOFF(ap_jmp64)) = base + (uint32_t)TOFF(ap_tramp64);
	*(uint32_t *)(t + TOFF(ap_base_imm)) = base;
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	*(uint64_t *)(t + TOFF(ap_cr3)) = cr3;
	*(uint64_t *)(t + TOFF(ap_stack)) = (uint64_t)&ap_stacks[apic_id][4096];
	*(uint64_t *)(t + TOFF(ap_entry64)) = (uint64_t)ap_main;
	ap_user_entry = entry;
	ap_started = 0;
	mb();
	mmio_write32(LAPIC_BASE + 0x310, apic_id << 24);
	mmio_write32(LAPIC_BASE + 0x300, 0x4500); /* INIT, assert */
	delay_loops(1000);
	for (int i = 0; i < 2 && !__atomic_load_n(&ap_started, __ATOMIC_ACQUIRE); i++) {
		mmio_write32(LAPIC_BASE + 0x310, apic_id << 24);
		mmio_write32(LAPIC_BASE + 0x300, 0x4600 | (uint32_t)(GUEST_AP_TRAMPOLINE >> 12));
		delay_loops(20000);
	}
	for (unsigned spin = 0; !__atomic_load_n(&ap_started, __ATOMIC_ACQUIRE); spin++)
		if (spin > 50000000)
			guest_fail("AP %u did not start", apic_id);
}

/* ------------------------------------------------------------------ entry */
void guest_start(void);
void guest_start(void)
{
	int rc = guest_main();
	if (rc != 0)
		guest_fail("guest_main returned %d", rc);
	guest_reset();
}
