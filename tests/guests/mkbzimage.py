#!/usr/bin/env python3
"""Wrap a flat mini-guest image (linked with guest_bz.ld: loaded at 1 MiB, 64-bit
entry at +0x200) into a minimal bzImage: boot sector + setup header (protocol
2.15, LOADED_HIGH, XLF_KERNEL_64) + 4 setup sectors, then the protected-mode
code. Usage: mkbzimage.py FLAT.bin OUT.bzImage"""
import struct
import sys

SETUP_SECTS = 4


def main(flat_path, out_path):
    code = open(flat_path, "rb").read()
    setup = bytearray((SETUP_SECTS + 1) * 512)
    setup[0x1F1] = SETUP_SECTS
    struct.pack_into("<H", setup, 0x1FE, 0xAA55)
    setup[0x200] = 0xEB                      # jump over the header (unused here)
    setup[0x201] = 0x6A                      # header length: up to 0x26c
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, 0x020F)   # protocol 2.15
    setup[0x211] = 0x01                      # LOADED_HIGH
    struct.pack_into("<I", setup, 0x214, 0x100000)  # code32_start
    struct.pack_into("<I", setup, 0x22C, 0x7FFFFFFF)  # initrd_addr_max
    struct.pack_into("<I", setup, 0x230, 0x200000)  # kernel_alignment
    struct.pack_into("<H", setup, 0x236, 0x0001)   # XLF_KERNEL_64
    struct.pack_into("<I", setup, 0x238, 1024)     # cmdline_size
    struct.pack_into("<I", setup, 0x260, (len(code) + 0xFFFF) & ~0xFFFF)  # init_size
    with open(out_path, "wb") as f:
        f.write(bytes(setup) + code)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
