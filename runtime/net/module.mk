# The container's network, host side: netns, discovery, taps and tc redirects (libnl-route-3).
NET_SRCS = runtime/net/net.c runtime/net/net_discover.c runtime/net/net_tap.c runtime/net/net_record.c
CFLAGS_runtime_net_ := $(NL_CFLAGS)

# Discovery, taps, redirects and the clean-up record, for real in a netns of the test's own (root).
UNIT_TESTS += test_net_host
test_net_host_SRCS = tests/unit/test_net_host.c $(NET_SRCS) runtime/spec.c $(PROTO_SRCS) $(COMMON_SRCS)
test_net_host_LIBS = -lyajl $(NL_LIBS)
