# VMM backend abstraction used by the shim: runm-vmm (KVM) or QEMU with runm's
# devices over vhost-user. runm links $(BACKEND_SRCS).
BACKEND_SRCS = runtime/backend/backend.c runtime/backend/backend_plan.c runtime/backend/backend_qemu.c \
	runtime/backend/backend_runm_vmm.c runtime/backend/backend_host_agent.c runtime/backend/backend_jail.c runtime/backend/jail.c runtime/backend/jail_enter.c \
	runtime/backend/jail_landlock.c

# runm-vmctl: one VM through the backend library (tests, bench, debugging).
PROGRAMS += runm-vmctl
runm-vmctl_SRCS = runtime/backend/vmctl.c $(BACKEND_SRCS) $(COMMON_SRCS)

UNIT_TESTS += test_vhost_backend
test_vhost_backend_SRCS = tests/unit/test_vhost_backend.c $(BACKEND_SRCS) $(COMMON_SRCS)

# The backend decision (overrides' order, the host probe injected, the reason sentence).
UNIT_TESTS += test_backend_plan
test_backend_plan_SRCS = tests/unit/test_backend_plan.c $(BACKEND_SRCS) $(COMMON_SRCS)
