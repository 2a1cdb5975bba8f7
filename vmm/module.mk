# runm-vmm: the KVM microVM monitor. Devices come from the device library
# (vmm/devices, DEVLIB_SRCS) and `runm-vmm vhost-user` from vmm/vhost_user.
PROGRAMS += runm-vmm
VMM_SRCS = vmm/config.c vmm/control.c vmm/io.c vmm/kvm.c vmm/memory.c vmm/sandbox.c vmm/vcpu.c vmm/virtio_mmio.c \
	vmm/legacy/serial.c vmm/legacy/i8042.c vmm/x86/cpu.c vmm/x86/loader.c vmm/x86/mptable.c
runm-vmm_SRCS = vmm/main.c $(VMM_SRCS) $(DEVLIB_SRCS) $(BLK_SRCS) $(VHOST_USER_SRCS) $(COMMON_SRCS)
runm-vmm_LIBS = -lpthread -lyajl -lseccomp -lcap $(VHOST_USER_LIBS) $(BLK_LIBS)

# Unit tests (cmocka, ASan+UBSan) and fuzzers of runm-vmm's parsers.
VMM_TEST_SRCS = $(VMM_SRCS) $(DEVLIB_SRCS) $(COMMON_SRCS)
UNIT_TESTS += test_vmm_boot test_vmm_config test_vmm_mmio test_vmm_sandbox
test_vmm_boot_SRCS = tests/unit/test_vmm_boot.c $(VMM_TEST_SRCS)
test_vmm_boot_LIBS = -lpthread -lyajl -lseccomp -lcap
test_vmm_config_SRCS = tests/unit/test_vmm_config.c $(VMM_TEST_SRCS)
test_vmm_config_LIBS = -lpthread -lyajl -lseccomp -lcap
test_vmm_mmio_SRCS = tests/unit/test_vmm_mmio.c $(VMM_TEST_SRCS)
test_vmm_mmio_LIBS = -lpthread -lyajl -lseccomp -lcap
test_vmm_sandbox_SRCS = tests/unit/test_vmm_sandbox.c $(VMM_TEST_SRCS)
test_vmm_sandbox_LIBS = -lpthread -lyajl -lseccomp -lcap

FUZZERS += fuzz_vmm_loader fuzz_vmm_control fuzz_vmm_mmio
fuzz_vmm_loader_SRCS = tests/fuzz/fuzz_vmm_loader.c $(VMM_TEST_SRCS)
fuzz_vmm_loader_LIBS = -lpthread -lyajl -lseccomp -lcap
fuzz_vmm_control_SRCS = tests/fuzz/fuzz_vmm_control.c $(VMM_TEST_SRCS)
fuzz_vmm_control_LIBS = -lpthread -lyajl -lseccomp -lcap
fuzz_vmm_mmio_SRCS = tests/fuzz/fuzz_vmm_mmio.c $(VMM_TEST_SRCS)
fuzz_vmm_mmio_LIBS = -lpthread -lyajl -lseccomp -lcap
