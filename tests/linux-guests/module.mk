# Tiny static programs used as /init of test initramfs images (booted under
# QEMU by tests/integration/test_qemu*.py and bench/qemu_*).
LINUX_GUEST_PROGS := $(B)/linux-guests/runm-test-init
EXTRA_ALL += $(LINUX_GUEST_PROGS)
TEST_DEPS += $(LINUX_GUEST_PROGS)

$(B)/linux-guests/runm-test-init: tests/linux-guests/test_init.c tests/linux-guests/blk_test.c \
		tests/linux-guests/meta_bench.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -D_GNU_SOURCE -O2 $(WARN) -static -pthread -o $@ $^
