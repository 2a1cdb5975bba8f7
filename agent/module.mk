# runm-agent: PID 1 of the guest. Static in the normal flavour (it is /init).
PROGRAMS += runm-agent
STATIC_PROGRAMS += runm-agent
runm-agent_SRCS := agent/main.c $(COMMON_SRCS)
runm-agent_LIBS := -lyajl
runm-agent_STATIC_LIBS := -lyajl_s
