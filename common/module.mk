# Code shared by runm, runm-vmm and runm-agent.
COMMON_SRCS := common/log.c common/io.c

UNIT_TESTS += test_log
test_log_SRCS := tests/unit/test_log.c common/log.c

UNIT_TESTS += test_io
test_io_SRCS := tests/unit/test_io.c common/io.c

# epoll event loop: the device library's and runm-vmm's, and the agent's server.
EVLOOP_SRCS := common/evloop.c
UNIT_TESTS += test_evloop
test_evloop_SRCS := tests/unit/test_evloop.c $(EVLOOP_SRCS)
test_evloop_LIBS := -lpthread

# Netlink (libnl-route-3): the shim's network discovery and tc set-up, the agent's network op.
NL_CFLAGS := $(shell pkg-config --cflags libnl-route-3.0 2>/dev/null || echo -I/usr/include/libnl3)
NL_LIBS := -lnl-route-3 -lnl-3 -lpthread

# Mounts below a directory and removal that never crosses one (runm's state teardown, fs share).
MOUNTS_SRCS := common/mounts.c
UNIT_TESTS += test_mounts
test_mounts_SRCS := tests/unit/test_mounts.c common/mounts.c common/log.c

# JSON (yajl): limits on untrusted text, typed access, building; under both protocols.
JSON_SRCS := common/json.c
UNIT_TESTS += test_json
test_json_SRCS := tests/unit/test_json.c common/json.c
test_json_LIBS := -lyajl
