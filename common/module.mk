# Code shared by runm, runm-vmm and runm-agent.
COMMON_SRCS := common/log.c

UNIT_TESTS += test_log
test_log_SRCS := tests/unit/test_log.c common/log.c
