# runm-vmm: the KVM microVM monitor and the virtio device library.
PROGRAMS += runm-vmm
runm-vmm_SRCS := vmm/main.c $(COMMON_SRCS)
runm-vmm_LIBS :=
