# runm-vmm: the KVM microVM monitor. Devices come from the device library
# (vmm/devices, DEVLIB_SRCS) and `runm-vmm vhost-user` from vmm/vhost_user.
PROGRAMS += runm-vmm
VMM_SRCS = vmm/config.c vmm/control.c vmm/io.c vmm/kvm.c vmm/loader.c vmm/memory.c vmm/mptable.c \
	vmm/sandbox.c vmm/serial.c vmm/vcpu.c vmm/virtio_mmio.c
runm-vmm_SRCS = vmm/main.c $(VMM_SRCS) $(DEVLIB_SRCS) $(VHOST_USER_SRCS) $(COMMON_SRCS)
runm-vmm_LIBS = -lpthread -lyajl -lseccomp -lcap $(VHOST_USER_LIBS)
