# runm-agent: PID 1 of the guest. Static in the normal flavour (it is /init).
AGENT_SRCS = agent/spec.c agent/mounts.c agent/identity.c agent/caps.c agent/seccomp.c agent/cgroups.c agent/devcgroup.c agent/ps.c \
	agent/proc.c agent/streams.c agent/exit.c agent/server.c agent/ops.c agent/init.c agent/switchroot.c agent/copytree.c \
	$(PROTO_SRCS) $(COMMON_SRCS)
PROGRAMS += runm-agent
STATIC_PROGRAMS += runm-agent
runm-agent_SRCS = agent/main.c $(AGENT_SRCS)
runm-agent_LIBS := -lyajl -lseccomp -lcap
runm-agent_STATIC_LIBS := -lyajl_s -lseccomp -lcap

UNIT_TESTS += test_agent_spec
test_agent_spec_SRCS = tests/unit/test_agent_spec.c agent/spec.c $(PROTO_SRCS) $(COMMON_SRCS)
test_agent_spec_LIBS := -lyajl
FUZZERS += fuzz_agent_spec
fuzz_agent_spec_SRCS = tests/fuzz/fuzz_agent_spec.c agent/spec.c $(PROTO_SRCS) $(COMMON_SRCS)
fuzz_agent_spec_LIBS := -lyajl
