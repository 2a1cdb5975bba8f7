# The host <-> agent protocol: one header and codec compiled by both sides.
PROTO_SRCS := $(JSON_SRCS) common/proto/proto.c common/proto/proto_net.c common/proto/proto_hooks.c

UNIT_TESTS += test_proto
test_proto_SRCS = tests/unit/test_proto.c $(PROTO_SRCS)
test_proto_LIBS := -lyajl
UNIT_TESTS += test_proto_net
test_proto_net_SRCS = tests/unit/test_proto_net.c $(PROTO_SRCS)
test_proto_net_LIBS := -lyajl
FUZZERS += fuzz_proto
fuzz_proto_SRCS = tests/fuzz/fuzz_proto.c $(PROTO_SRCS)
fuzz_proto_LIBS := -lyajl
FUZZERS += fuzz_proto_net
fuzz_proto_net_SRCS = tests/fuzz/fuzz_proto_net.c $(PROTO_SRCS)
fuzz_proto_net_LIBS := -lyajl
UNIT_TESTS += test_proto_hooks
test_proto_hooks_SRCS = tests/unit/test_proto_hooks.c $(PROTO_SRCS)
test_proto_hooks_LIBS := -lyajl
