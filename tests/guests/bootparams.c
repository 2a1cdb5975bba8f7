/* SPDX-License-Identifier: Apache-2.0 */
/* bootparams: print what the VMM put in the zero page (cmdline, e820, initrd)
 * in a line-oriented format the pytest test parses. */
#include "guest.h"

int guest_main(void)
{
	gprintf("cmdline=%s\n", guest_cmdline());
	gprintf("hdr_version=0x%x loader=0x%x\n", *(volatile uint16_t *)(guest_zero_page + ZP_HDR_VERSION),
		zp_u8(0x210));
	gprintf("cmdline_ptr=0x%x\n", zp_u32(ZP_CMD_LINE_PTR));
	gprintf("initrd=0x%x size=%u\n", zp_u32(ZP_RAMDISK_IMAGE), zp_u32(ZP_RAMDISK_SIZE));
	unsigned n = zp_u8(ZP_E820_ENTRIES);
	gprintf("e820 entries=%u\n", n);
	for (unsigned i = 0; i < n && i < 128; i++) {
		const uint8_t *e = (const uint8_t *)(guest_zero_page + ZP_E820_TABLE + 20 * i);
		uint64_t addr, size;
		uint32_t type;
		memcpy(&addr, e, 8);
		memcpy(&size, e + 8, 8);
		memcpy(&type, e + 16, 4);
		gprintf("e820 0x%lx 0x%lx %u\n", addr, size, type);
	}
	/* checksum of the initrd so the test knows it was loaded, not just described */
	uint32_t sum = 0;
	const uint8_t *p = (const uint8_t *)(uint64_t)zp_u32(ZP_RAMDISK_IMAGE);
	uint32_t sz = zp_u32(ZP_RAMDISK_SIZE);
	for (uint32_t i = 0; i < sz && i < 4096; i++)
		sum = sum * 31 + p[i];
	gprintf("initrd_sum=%u\n", sum);
	return 0;
}
