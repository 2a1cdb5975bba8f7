/* SPDX-License-Identifier: Apache-2.0 */
/* Constants of the x86 boot protocols used by loader.c. */
#ifndef RUNM_VMM_LOADER_H
#define RUNM_VMM_LOADER_H

#define E820_RAM      1
#define E820_RESERVED 2

#define GDT_CODE64 0x00af9b000000ffffull /* 64-bit code, selector 0x08 */
#define GDT_CODE32 0x00cf9b000000ffffull /* 32-bit code for PVH entry */
#define GDT_DATA   0x00cf93000000ffffull /* flat data, selector 0x10 */
#define GDT_TSS	   0x008f8b000000ffffull /* busy TSS, selector 0x18 */

#define PVH_MEMMAP_OFF	0x40
#define PVH_MODLIST_OFF 0x200
#ifndef XEN_ELFNOTE_PHYS32_ENTRY
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#endif

/* x86 COMMAND_LINE_SIZE: the limit for ELF kernels without a setup header. */
#define LINUX_COMMAND_LINE_SIZE 2048

#define DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.dumbkbd pci=off"

#endif
