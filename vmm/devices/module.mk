# The virtio device library: guest memory, split virtqueues, the event loop (common/evloop.c),
# device registry and the devices themselves. Linked by runm-vmm and the
# vhost-user backend: `x_SRCS = ... $(DEVLIB_SRCS)`.
DEVLIB_SRCS = vmm/devices/gmem.c vmm/devices/virtq.c vmm/devices/virtio_dev.c $(EVLOOP_SRCS) \
	vmm/devices/registry.c vmm/devices/rng.c vmm/devices/vsock_conn.c vmm/devices/vsock.c vmm/devices/vsock_uds.c \
	vmm/devices/net.c vmm/devices/net_tap.c \
	$(DEVLIB_EXTRA_SRCS)

UNIT_TESTS += test_virtq test_virtq_devs test_vsock_conn test_vsock_dev test_virtio_net test_virtio_net_tap
test_virtq_SRCS = tests/unit/test_virtq.c $(DEVLIB_SRCS) $(COMMON_SRCS)
test_virtq_devs_SRCS = tests/unit/test_virtq_devs.c $(DEVLIB_SRCS) $(COMMON_SRCS)
test_vsock_conn_SRCS = tests/unit/test_vsock_conn.c vmm/devices/vsock_conn.c
test_vsock_dev_SRCS = tests/unit/test_vsock_dev.c $(DEVLIB_SRCS) $(COMMON_SRCS)
test_virtio_net_SRCS = tests/unit/test_virtio_net.c tests/unit/net_guest.c $(DEVLIB_SRCS) $(COMMON_SRCS)
test_virtio_net_tap_SRCS = tests/unit/test_virtio_net_tap.c tests/unit/net_guest.c $(DEVLIB_SRCS) $(COMMON_SRCS)

FUZZERS += fuzz_virtq fuzz_vsock fuzz_vsock_dev fuzz_virtio_net fuzz_net_opts
fuzz_virtq_SRCS = tests/fuzz/fuzz_virtq.c $(DEVLIB_SRCS) $(COMMON_SRCS)
fuzz_vsock_SRCS = tests/fuzz/fuzz_vsock.c vmm/devices/vsock_conn.c
fuzz_vsock_dev_SRCS = tests/fuzz/fuzz_vsock_dev.c $(DEVLIB_SRCS) $(COMMON_SRCS)
fuzz_virtio_net_SRCS = tests/fuzz/fuzz_virtio_net.c $(DEVLIB_SRCS) $(COMMON_SRCS)
fuzz_net_opts_SRCS = tests/fuzz/fuzz_net_opts.c $(DEVLIB_SRCS) $(COMMON_SRCS)

# virtio-blk on io_uring: its own list, so only programs that serve block
# devices link liburing (`x_SRCS += $(BLK_SRCS)`, `x_LIBS += $(BLK_LIBS)`).
# Without it the registry simply does not offer "blk" (weak constructor).
BLK_SRCS = vmm/devices/blk.c vmm/devices/blk_req.c
BLK_LIBS = -luring

UNIT_TESTS += test_virtio_blk
test_virtio_blk_SRCS = tests/unit/test_virtio_blk.c $(BLK_SRCS) $(DEVLIB_SRCS) $(COMMON_SRCS)
test_virtio_blk_LIBS = $(BLK_LIBS)

FUZZERS += fuzz_virtio_blk
fuzz_virtio_blk_SRCS = tests/fuzz/fuzz_virtio_blk.c vmm/devices/blk_req.c $(DEVLIB_SRCS) $(COMMON_SRCS)
