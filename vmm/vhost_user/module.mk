# vhost-user backend server: serves device-library devices to QEMU.
# runm-vmm links $(VHOST_USER_SRCS) and dispatches `runm-vmm vhost-user ...`
# to vhost_user_main(); runm-vhost-user is the same server as its own program.
VHOST_USER_SRCS = vmm/vhost_user/vhost_user.c vmm/vhost_user/vu_backend.c

PROGRAMS += runm-vhost-user
runm-vhost-user_SRCS = vmm/vhost_user/standalone.c $(VHOST_USER_SRCS) $(DEVLIB_SRCS) $(COMMON_SRCS)
runm-vhost-user_LIBS =

UNIT_TESTS += test_vhost_user
test_vhost_user_SRCS = tests/unit/test_vhost_user.c vmm/vhost_user/vu_backend.c $(DEVLIB_SRCS) $(COMMON_SRCS)

FUZZERS += fuzz_vhost_msg
fuzz_vhost_msg_SRCS = tests/fuzz/fuzz_vhost_msg.c vmm/vhost_user/vu_backend.c $(DEVLIB_SRCS) $(COMMON_SRCS)
