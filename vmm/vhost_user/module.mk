# vhost-user backend server: serves device-library devices to QEMU.
# runm-vmm links $(VHOST_USER_SRCS) and dispatches `runm-vmm vhost-user ...`
# to vhost_user_main().
VHOST_USER_SRCS = vmm/vhost_user/vhost_user.c vmm/vhost_user/vu_backend.c vmm/vhost_user/vu_msg.c

UNIT_TESTS += test_vhost_user
test_vhost_user_SRCS = tests/unit/test_vhost_user.c vmm/vhost_user/vu_backend.c vmm/vhost_user/vu_msg.c $(DEVLIB_SRCS) $(COMMON_SRCS)

FUZZERS += fuzz_vhost_msg
fuzz_vhost_msg_SRCS = tests/fuzz/fuzz_vhost_msg.c vmm/vhost_user/vu_backend.c vmm/vhost_user/vu_msg.c $(DEVLIB_SRCS) $(COMMON_SRCS)
