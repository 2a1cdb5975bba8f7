# runm: the runc-compatible CLI and the per-container shim.
PROGRAMS += runm
# The container's share directory on the host (rootfs + bind sources), exported to the guest as
# one virtio-fs tag: runtime code, not the device library's (the fs server only serves it).
FS_SHARE_SRCS = runtime/share.c $(MOUNTS_SRCS)
UNIT_TESTS += test_fs_share
test_fs_share_SRCS = tests/unit/test_fs_share.c $(FS_SHARE_SRCS) $(FS_SRCS) $(COMMON_SRCS)
# The VM's drives (disks.h): which, and a device root lent by the host (state.c gives one back).
DISKS_SRCS = runtime/disks.c runtime/disks_rootdev.c
RUNTIME_CORE_SRCS := $(DISKS_SRCS) runtime/args.c runtime/state.c runtime/spec.c runtime/hooks.c runtime/ctl.c \
	runtime/artifacts.c runtime/backend_choice.c runtime/relay.c runtime/cmd_util.c runtime/sockdir.c runtime/pod.c \
	runtime/run_tty.c runtime/ctl_proto.c
RUNTIME_CMD_SRCS := $(sort $(wildcard runtime/cmd_*.c))
runm_SRCS = runtime/main.c $(RUNTIME_CORE_SRCS) $(RUNTIME_CMD_SRCS) runtime/shim.c runtime/shim_ops.c runtime/guest.c runtime/guest_config.c \
	runtime/host_view.c runtime/host_cgroup.c runtime/exec_process.c runtime/pod_member.c \
	$(NET_SRCS) $(FS_SHARE_SRCS) $(AGENTCLIENT_SRCS) $(BACKEND_SRCS) $(PROTO_SRCS) $(COMMON_SRCS)
runm_LIBS = -lyajl $(NL_LIBS)

# Unit tests: argument parsing, signals, ids, state files, spec validation, VM sizing.
UNIT_TESTS += test_runtime
test_runtime_SRCS = tests/unit/test_runtime.c runtime/args.c runtime/state.c runtime/spec.c \
	runtime/artifacts.c runtime/backend_choice.c runtime/guest_config.c $(DISKS_SRCS) $(FS_SHARE_SRCS) $(BACKEND_SRCS) \
	$(PROTO_SRCS) $(COMMON_SRCS)
test_runtime_LIBS := -lyajl

# The drive plan, the device root's recognition (fake mountinfo and /sys/dev/block), the guest
# config naming drives
UNIT_TESTS += test_runtime_disks
test_runtime_disks_SRCS = tests/unit/test_runtime_disks.c runtime/spec.c runtime/guest_config.c \
	$(DISKS_SRCS) $(FS_SHARE_SRCS) $(BACKEND_SRCS) $(PROTO_SRCS) $(COMMON_SRCS)
test_runtime_disks_LIBS := -lyajl

# Fuzz the state.json and config.json parsers (both read files an attacker may write).
FUZZERS += fuzz_runtime_spec
fuzz_runtime_spec_SRCS = tests/fuzz/fuzz_runtime_spec.c runtime/state.c runtime/spec.c runtime/args.c $(DISKS_SRCS) \
	runtime/backend_choice.c runtime/artifacts.c $(MOUNTS_SRCS) $(BACKEND_SRCS) $(PROTO_SRCS) $(COMMON_SRCS)
fuzz_runtime_spec_LIBS := -lyajl

# Pods: sandbox/member classification, the pod VM's size, namespaces naming the sandbox.
UNIT_TESTS += test_pod
test_pod_SRCS = tests/unit/test_pod.c runtime/pod.c runtime/spec.c runtime/args.c \
	$(PROTO_SRCS) $(COMMON_SRCS)
test_pod_LIBS := -lyajl

UNIT_TESTS += test_host_cgroup
test_host_cgroup_SRCS = tests/unit/test_host_cgroup.c runtime/host_cgroup.c $(JSON_SRCS) $(COMMON_SRCS)
test_host_cgroup_LIBS := -lyajl

# The CLI <-> shim control protocol (ctl_proto.c): round trips, version, hostile fields, oversize.
UNIT_TESTS += test_ctl_proto
test_ctl_proto_SRCS = tests/unit/test_ctl_proto.c runtime/ctl_proto.c runtime/ctl.c $(JSON_SRCS) $(COMMON_SRCS)
test_ctl_proto_LIBS := -lyajl

# Fuzz its decoders: the shim decodes what any local client writes to its socket.
FUZZERS += fuzz_ctl_proto
fuzz_ctl_proto_SRCS = tests/fuzz/fuzz_ctl_proto.c runtime/ctl_proto.c $(JSON_SRCS)
fuzz_ctl_proto_LIBS := -lyajl
