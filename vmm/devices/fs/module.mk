# virtio-fs FUSE passthrough server (transport independent) and share helper.
FS_SRCS := vmm/devices/fs/fs_server.c vmm/devices/fs/fs_inode.c vmm/devices/fs/fs_handle.c \
	vmm/devices/fs/fs_iov.c vmm/devices/fs/fs_entry.c vmm/devices/fs/fs_dir.c \
	vmm/devices/fs/fs_file.c vmm/devices/fs/fs_xattr.c

UNIT_TESTS += test_fs_ops
test_fs_ops_SRCS = tests/unit/test_fs_ops.c tests/unit/test_fs_util.c $(FS_SRCS) $(COMMON_SRCS)

UNIT_TESTS += test_fs_escape
test_fs_escape_SRCS = tests/unit/test_fs_escape.c tests/unit/test_fs_util.c $(FS_SRCS) $(COMMON_SRCS)

UNIT_TESTS += test_fs_dir
test_fs_dir_SRCS = tests/unit/test_fs_dir.c tests/unit/test_fs_util.c $(FS_SRCS) $(COMMON_SRCS)

FUZZERS += fuzz_fuse
fuzz_fuse_SRCS = tests/fuzz/fuzz_fuse.c $(FS_SRCS) $(COMMON_SRCS)

# Host-side FUSE mount of the same server (tests, debugging, benchmarks).
PROGRAMS += runm-fusemount
runm-fusemount_SRCS = vmm/devices/fs/fusemount.c $(FS_SRCS) $(COMMON_SRCS)

# The virtio-fs device joins the device library (runm-vmm, vhost-user backend).
DEVLIB_EXTRA_SRCS += vmm/devices/virtio_fs.c $(FS_SRCS)

UNIT_TESTS += test_fs_virtio
test_fs_virtio_SRCS = tests/unit/test_fs_virtio.c $(DEVLIB_SRCS) $(COMMON_SRCS)


# bench/fs_ops: the server's per-op cost vs native syscalls (bench/fs_ops.sh).
FS_BENCH_SRCS = bench/fs_ops.c $(FS_SRCS) $(COMMON_SRCS)
ALL_SRCS += bench/fs_ops.c
EXTRA_ALL += $(B)/bench/fs_ops
$(B)/bench/fs_ops: $(patsubst %.c,$(B)/obj/%.o,$(FS_BENCH_SRCS))
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^

FUZZERS += fuzz_fuse_virtio
fuzz_fuse_virtio_SRCS = tests/fuzz/fuzz_fuse_virtio.c $(DEVLIB_SRCS) $(COMMON_SRCS)
