# vhost-user backend server: serves device-library devices to QEMU.
# runm-vmm links $(VHOST_USER_SRCS) and dispatches `runm-vmm vhost-user ...`
# to vhost_user_main().
# The backend state machine: dispatch (vu_backend.c), memory table (vu_mem.c),
# vrings (vu_ring.c), message reading (vu_msg.c).
VU_BACKEND_SRCS = vmm/vhost_user/vu_backend.c vmm/vhost_user/vu_mem.c \
	vmm/vhost_user/vu_ring.c vmm/vhost_user/vu_msg.c
VHOST_USER_SRCS = vmm/vhost_user/vhost_user.c $(VU_BACKEND_SRCS)

UNIT_TESTS += test_vhost_user test_vhost_user_net
test_vhost_user_SRCS = tests/unit/test_vhost_user.c $(VU_BACKEND_SRCS) $(DEVLIB_SRCS) $(COMMON_SRCS)
test_vhost_user_net_SRCS = tests/unit/test_vhost_user_net.c $(VU_BACKEND_SRCS) $(DEVLIB_SRCS) $(COMMON_SRCS)

FUZZERS += fuzz_vhost_msg
fuzz_vhost_msg_SRCS = tests/fuzz/fuzz_vhost_msg.c $(VU_BACKEND_SRCS) $(DEVLIB_SRCS) $(COMMON_SRCS)
