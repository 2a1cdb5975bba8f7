# Host side of the agent protocol, used by the shim and `runm exec`; runm-agentctl drives an
# agent from the command line (tests, benchmarks).
AGENTCLIENT_SRCS = runtime/agentclient/agentclient.c $(PROTO_SRCS) common/io.c
PROGRAMS += runm-agentctl
runm-agentctl_SRCS = runtime/agentclient/agentctl.c $(AGENTCLIENT_SRCS) $(COMMON_SRCS)
runm-agentctl_LIBS := -lyajl

FUZZERS += fuzz_proto_client
fuzz_proto_client_SRCS = tests/fuzz/fuzz_proto_client.c $(AGENTCLIENT_SRCS)
fuzz_proto_client_LIBS := -lyajl
UNIT_TESTS += test_agent_client
test_agent_client_SRCS = tests/unit/test_agent_client.c $(AGENTCLIENT_SRCS)
test_agent_client_LIBS := -lyajl -lpthread
