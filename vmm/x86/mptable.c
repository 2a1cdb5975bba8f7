/* SPDX-License-Identifier: Apache-2.0 */
/* Intel MP table (spec 1.4) so a Linux guest with X86_MPPARSE finds its CPUs,
 * the IOAPIC and the ISA interrupt routing without ACPI. Written at the start
 * of the EBDA (0x9fc00), which Linux scans. */
#include <string.h>

#include "vmm/vm.h"

#define MP_IOAPIC_PINS 24

/* Fixed-width, space-padded fields (not C strings). */
static const uint8_t mp_sig_fp[4] = {'_', 'M', 'P', '_'};
static const uint8_t mp_sig_table[4] = {'P', 'C', 'M', 'P'};
static const uint8_t mp_oem[8] = {'R', 'U', 'N', 'M', ' ', ' ', ' ', ' '};
static const uint8_t mp_product[12] = {'M', 'I', 'C', 'R', 'O', 'V', 'M', ' ', ' ', ' ', ' ', ' '};

static uint8_t csum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return (uint8_t)-s;
}

int mptable_write(uint8_t *dst, size_t room, uint64_t gpa, unsigned ncpus)
{
	size_t need = 16 + 44 + 20 * (size_t)ncpus + 8 + 8 + 8 * MP_IOAPIC_PINS + 2 * 8;
	if (need > room || ncpus == 0 || ncpus >= 255)
		return -1;
	memset(dst, 0, need);
	uint8_t *fp = dst, *hdr = dst + 16, *p = hdr + 44;
	uint16_t entries = 0;
	uint8_t ioapic_id = (uint8_t)ncpus;

	for (unsigned i = 0; i < ncpus; i++, entries++, p += 20) {
		p[0] = 0;				/* processor */
		p[1] = (uint8_t)i;			/* local APIC id */
		p[2] = 0x14;				/* APIC version */
		p[3] = (uint8_t)(1 | (i == 0 ? 2 : 0)); /* enabled, BSP */
		uint32_t sig = 0x600, feat = 0x201;	/* family 6; FPU, APIC */
		memcpy(p + 4, &sig, 4);
		memcpy(p + 8, &feat, 4);
	}
	p[0] = 1; /* bus 0: ISA */
	memcpy(p + 2, "ISA   ", 6);
	p += 8, entries++;
	p[0] = 2; /* IOAPIC */
	p[1] = ioapic_id;
	p[2] = 0x11;
	p[3] = 1;
	uint32_t ioapic = 0xfec00000;
	memcpy(p + 4, &ioapic, 4);
	p += 8, entries++;
	for (unsigned pin = 0; pin < MP_IOAPIC_PINS; pin++, p += 8, entries++) {
		p[0] = 3; /* I/O interrupt assignment */
		p[1] = 0; /* INT */
		p[4] = 0; /* source bus */
		p[5] = (uint8_t)pin;
		p[6] = ioapic_id;
		p[7] = (uint8_t)pin;
	}
	p[0] = 4; /* local interrupt: ExtINT -> LINT0 of all */
	p[1] = 3;
	p[6] = 0xff;
	p[7] = 0;
	p += 8, entries++;
	p[0] = 4; /* NMI -> LINT1 of all */
	p[1] = 1;
	p[6] = 0xff;
	p[7] = 1;
	p += 8, entries++;

	uint16_t len = (uint16_t)(p - hdr);
	memcpy(hdr, mp_sig_table, sizeof(mp_sig_table));
	memcpy(hdr + 4, &len, 2);
	hdr[6] = 4; /* spec 1.4 */
	memcpy(hdr + 8, mp_oem, sizeof(mp_oem));
	memcpy(hdr + 16, mp_product, sizeof(mp_product));
	memcpy(hdr + 34, &entries, 2);
	uint32_t lapic = 0xfee00000;
	memcpy(hdr + 36, &lapic, 4);
	hdr[7] = csum(hdr, len);

	uint32_t cfg = (uint32_t)(gpa + 16);
	memcpy(fp, mp_sig_fp, sizeof(mp_sig_fp));
	memcpy(fp + 4, &cfg, 4);
	fp[8] = 1; /* length in 16-byte units */
	fp[9] = 4;
	fp[10] = csum(fp, 16);
	return 0;
}
