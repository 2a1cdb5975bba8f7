/* SPDX-License-Identifier: Apache-2.0 */
/* smp: count the processors in the VMM's MP table, start every AP with
 * INIT-SIPI-SIPI, and have each vCPU print its LAPIC id. */
#include "guest.h"

static volatile unsigned online = 1;

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* What CPUID says about this CPU: initial APIC id (leaf 1) and x2APIC id (leaf 0xb). */
static void print_cpu(void)
{
	uint32_t r1[4], rb[4] = {0, 0, 0, 0xffffffffu}, r0[4];
	cpuid(0, 0, r0);
	cpuid(1, 0, r1);
	if (r0[0] >= 0xb)
		cpuid(0xb, 0, rb);
	gprintf("cpu apic=%u cpuid_apic=%u x2apic=%u logical=%u\n", lapic_id(), r1[1] >> 24, rb[3],
		(r1[1] >> 16) & 0xff);
}

static void ap(void)
{
	lapic_init();
	print_lock();
	print_cpu();
	print_unlock();
	__atomic_add_fetch(&online, 1, __ATOMIC_SEQ_CST);
}

/* Processor entries of the MP table that runm-vmm writes at 0x9fc00. */
static unsigned mp_cpus(uint32_t *ids, unsigned max)
{
	const uint8_t *fp = (const uint8_t *)0x9fc00;
	if (memcmp(fp, "_MP_", 4) != 0)
		guest_fail("no MP floating pointer at 0x9fc00");
	uint32_t cfg;
	memcpy(&cfg, fp + 4, 4);
	const uint8_t *h = (const uint8_t *)(uint64_t)cfg;
	if (memcmp(h, "PCMP", 4) != 0)
		guest_fail("no MP config table at 0x%x", cfg);
	uint16_t count;
	memcpy(&count, h + 34, 2);
	const uint8_t *e = h + 44;
	unsigned n = 0;
	for (unsigned i = 0; i < count; i++) {
		if (e[0] == 0) {
			if (n < max)
				ids[n] = e[1];
			n++;
			e += 20;
		} else {
			e += 8;
		}
	}
	return n;
}

int guest_main(void)
{
	uint32_t ids[GUEST_MAX_CPUS];
	idt_init();
	pic_mask_all();
	lapic_init();
	unsigned n = mp_cpus(ids, GUEST_MAX_CPUS);
	gprintf("mp cpus=%u\n", n);
	print_cpu();
	for (unsigned i = 0; i < n && i < GUEST_MAX_CPUS; i++) {
		if (ids[i] == lapic_id())
			continue;
		unsigned before = online;
		guest_start_ap(ids[i], ap);
		for (unsigned spin = 0; online == before; spin++)
			if (spin > 50000000)
				guest_fail("AP %u never reported", ids[i]);
	}
	print_lock();
	gprintf("online=%u\n", online);
	print_unlock();
	return 0;
}
