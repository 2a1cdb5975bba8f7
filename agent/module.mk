# runm-agent: PID 1 of the guest. Static in the normal flavour (it is /init).
AGENT_SRCS = agent/spec.c agent/disks.c agent/mounts.c agent/identity.c agent/caps.c agent/seccomp.c agent/cgroups.c agent/devcgroup.c \
	agent/ps.c agent/proc.c agent/streams.c agent/waiters.c agent/oom.c agent/exit.c agent/server.c agent/ops.c \
	agent/init.c agent/switchroot.c \
	agent/copytree.c agent/net.c agent/hooks.c agent/ctr.c agent/userns.c \
	$(EVLOOP_SRCS) $(PROTO_SRCS) $(COMMON_SRCS)
PROGRAMS += runm-agent
STATIC_PROGRAMS += runm-agent
runm-agent_SRCS = agent/main.c $(AGENT_SRCS)
# libnl-route-3 for the network op (static archives from libnl-3-dev, libnl-route-3-dev)
CFLAGS_agent_ := $(NL_CFLAGS)
runm-agent_LIBS := -lyajl -lseccomp -lcap $(NL_LIBS)
runm-agent_STATIC_LIBS := -lyajl_s -lseccomp -lcap $(NL_LIBS)

UNIT_TESTS += test_agent_spec
test_agent_spec_SRCS = tests/unit/test_agent_spec.c agent/spec.c agent/userns.c $(PROTO_SRCS) $(COMMON_SRCS)
test_agent_spec_LIBS := -lyajl
UNIT_TESTS += test_agent_userns
test_agent_userns_SRCS = tests/unit/test_agent_userns.c agent/userns.c agent/spec.c $(PROTO_SRCS) $(COMMON_SRCS)
test_agent_userns_LIBS := -lyajl
FUZZERS += fuzz_agent_spec
fuzz_agent_spec_SRCS = tests/fuzz/fuzz_agent_spec.c agent/spec.c agent/userns.c $(PROTO_SRCS) $(COMMON_SRCS)
fuzz_agent_spec_LIBS := -lyajl

# net.c on the host as root, in network namespaces the test makes (skips when not root)
UNIT_TESTS += test_agent_net
test_agent_net_SRCS = tests/unit/test_agent_net.c agent/net.c agent/spec.c agent/userns.c $(PROTO_SRCS) $(COMMON_SRCS)
test_agent_net_LIBS := -lyajl $(NL_LIBS)

# The process / exit / waiter / stream layers without a VM or the server (server.c and ops.c
# are not linked: the layers below them never call up): real children, as root (skips otherwise)
AGENT_PROC_TEST_SRCS = agent/proc.c agent/streams.c agent/waiters.c agent/oom.c agent/exit.c agent/cgroups.c \
	agent/devcgroup.c agent/spec.c agent/mounts.c agent/copytree.c agent/identity.c agent/caps.c agent/seccomp.c \
	agent/net.c agent/userns.c $(EVLOOP_SRCS) $(PROTO_SRCS) $(COMMON_SRCS)
UNIT_TESTS += test_agent_proc
test_agent_proc_SRCS = tests/unit/test_agent_proc.c $(AGENT_PROC_TEST_SRCS)
test_agent_proc_LIBS := -lyajl -lseccomp -lcap $(NL_LIBS)

# disks.c: the blk: root path, finding a drive by serial (mounting needs a VM: test_disks.py)
UNIT_TESTS += test_agent_disks
test_agent_disks_SRCS = tests/unit/test_agent_disks.c agent/disks.c agent/spec.c agent/userns.c $(PROTO_SRCS) $(COMMON_SRCS)
test_agent_disks_LIBS := -lyajl

# devcgroup.c: the device program, run by the test's own small eBPF interpreter
UNIT_TESTS += test_agent_devcg
test_agent_devcg_SRCS = tests/unit/test_agent_devcg.c agent/devcgroup.c agent/spec.c agent/userns.c $(PROTO_SRCS) $(COMMON_SRCS)
test_agent_devcg_LIBS := -lyajl
