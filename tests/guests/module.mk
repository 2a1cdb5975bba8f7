# Mini-guests for runm-vmm: freestanding 64-bit ELF programs booted like a
# vmlinux. Every tests/guests/<name>.c becomes build/guests/<name>.elf, linked
# with the guest library in tests/guests/lib (see lib/guest.h).
GUEST_CC     ?= gcc
GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -ffreestanding -fno-pic -fno-pie \
	-fno-stack-protector -fno-builtin -mno-red-zone -mgeneral-regs-only -mcmodel=small \
	-fcf-protection=none -Itests/guests/lib -MMD -MP
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,tests/guests/lib/guest.ld -Wl,--build-id=none \
	-Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
GUEST_NAMES  := $(basename $(notdir $(wildcard tests/guests/*.c)))
GUEST_LIB_OBJS := $(addprefix $(B)/guests/obj/,lib.o virtio.o start.o)
GUEST_ELFS   := $(addprefix $(B)/guests/,$(addsuffix .elf,$(GUEST_NAMES)))

.PHONY: guests
guests: $(GUEST_ELFS)
TEST_DEPS += guests

$(B)/guests/obj/%.o: tests/guests/lib/%.c
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@
$(B)/guests/obj/%.o: tests/guests/lib/%.S
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@
$(B)/guests/obj/g_%.o: tests/guests/%.c
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@
$(B)/guests/%.elf: $(B)/guests/obj/g_%.o $(GUEST_LIB_OBJS) tests/guests/lib/guest.ld
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $< $(GUEST_LIB_OBJS)

-include $(wildcard $(B)/guests/obj/*.d)

# bzImage variants: the guest relinked with its entry at 0x100200, flattened and
# wrapped in a setup header by mkbzimage.py.
GUEST_BZ := $(B)/guests/bootparams.bzImage
guests: $(GUEST_BZ)
$(B)/guests/%.bz.elf: $(B)/guests/obj/g_%.o $(GUEST_LIB_OBJS) tests/guests/lib/guest_bz.ld
	$(GUEST_CC) $(GUEST_CFLAGS) $(subst guest.ld,guest_bz.ld,$(GUEST_LDFLAGS)) -o $@ $< $(GUEST_LIB_OBJS)
$(B)/guests/%.bzImage: $(B)/guests/%.bz.elf tests/guests/mkbzimage.py
	objcopy -O binary $< $@.flat
	$(PYTHON) tests/guests/mkbzimage.py $@.flat $@
	@rm -f $@.flat
