# Code shared by runm, runm-vmm and runm-agent.
COMMON_SRCS := common/log.c

UNIT_TESTS += test_log
test_log_SRCS := tests/unit/test_log.c common/log.c

# Mounts below a directory and removal that never crosses one (runm's state teardown, fs share).
MOUNTS_SRCS := common/mounts.c
UNIT_TESTS += test_mounts
test_mounts_SRCS := tests/unit/test_mounts.c common/mounts.c common/log.c
