# Code shared by runm, runm-vmm and runm-agent.
COMMON_SRCS := common/log.c
