/* SPDX-License-Identifier: Apache-2.0 */
/* runm-vmm: the machine, its configuration and the pieces that make it up. */
#ifndef RUNM_VMM_VM_H
#define RUNM_VMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio.h"

#define VMM_MAX_CPUS	32
#define VMM_MAX_FS	8
#define VMM_MAX_NET	8
#define VMM_MAX_DRIVES	8
#define VMM_MAX_DEVICES 16

/* Guest-physical layout (docs/vmm.md, Guest-physical layout). */
#define GDT_ADDR	 0x500ull
#define PVH_INFO_ADDR	 0x6000ull /* hvm_start_info + modlist + memmap */
#define ZERO_PAGE_ADDR	 0x7000ull
#define BOOT_STACK	 0x8ff0ull
#define PML4_ADDR	 0x9000ull  /* then PDPT 0xa000, PDs 0xb000..0xefff */
#define MPTABLE_ADDR	 0x9fc00ull /* EBDA: the MP floating pointer + table */
#define CMDLINE_ADDR	 0x20000ull
#define CMDLINE_MAX	 0x10000ull /* incl. NUL; the region ends at 0x30000 */
#define HIMEM_START	 0x100000ull
#define EBDA_START	 0x9fc00ull
#define MMIO_GAP_START	 0xd0000000ull /* virtio-mmio windows, IOAPIC, LAPIC */
#define MMIO_GAP_END	 0x100000000ull
#define VIRTIO_MMIO_BASE 0xd0000000ull
#define VIRTIO_MMIO_SIZE 0x1000ull
#define VIRTIO_MMIO_GSI0 5

enum console_mode { CONSOLE_STDIO, CONSOLE_OFF, CONSOLE_FILE };

struct vm_config {
	char *kernel;
	char *initrd;
	char *cmdline; /* extra arguments; NULL = default */
	unsigned cpus;
	uint64_t mem_mib;
	char *vsock_uds;
	int vsock_listen_fd; /* the socket at vsock_uds, bound and listening (a jailed runm-vmm cannot
				create it); -1: runm-vmm binds it */
	unsigned vsock_cid;
	char *fs[VMM_MAX_FS]; /* "TAG=DIR" */
	unsigned n_fs;
	bool rng;
	char *net[VMM_MAX_NET]; /* device options: "tapfd=N,mac=..,mtu=.." or "tap=NAME,..." */
	unsigned n_net;
	char *drive[VMM_MAX_DRIVES]; /* blk device options: "path=FILE|fd=N[,ro=on][,id=..]..." */
	unsigned n_drive;
	enum console_mode console;
	char *console_path;
	char *control;
	bool hugepages;
	bool no_seccomp;
};

/* config.c */
/* Parse argv (and --config FILE.json). Returns 0 to run, 1 when --help or
 * --version was printed (exit 0), -1 after printing one error (exit 1). */
int vm_config_parse(struct vm_config *c, int argc, char **argv);
int vm_config_load_json(struct vm_config *c, const char *path);
void vm_config_free(struct vm_config *c);
/* Number of virtio devices the configuration asks for (vsock, fs..., rng, net..., drives...). */
unsigned vm_planned_devices(const struct vm_config *c);

enum vm_state { VM_RUNNING, VM_PAUSED, VM_STOPPING };

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool started;
};

struct serial;
struct mmio_dev;

struct vm {
	struct vm_config *cfg;
	int kvm_fd, vm_fd;
	struct gmem mem; /* RAM regions as the device library sees them */
	uint8_t *ram;	 /* one mapping; [0, low) at gpa 0, rest at 4 GiB */
	uint64_t ram_size, low_size;
	size_t map_size;
	unsigned ncpus;
	struct vcpu vcpus[VMM_MAX_CPUS];
	struct evloop *loop;
	struct serial *serial;
	struct i8042 *i8042;
	struct mmio_dev *devs[VMM_MAX_DEVICES];
	struct virtio_dev *virtio[VMM_MAX_DEVICES];
	unsigned ndevs;
	int sig_fd;
	/* boot */
	uint64_t entry;
	bool pvh;
	uint64_t initrd_addr, initrd_size;
	/* lifecycle */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	_Atomic int state;     /* enum vm_state */
	_Atomic int exit_code; /* -1 until decided */
	unsigned paused_vcpus;
	uint64_t start_ns;		   /* vCPUs started */
	uint64_t exec_ns;		   /* main() entered */
	_Atomic uint64_t first_run_ns;	   /* vCPU 0 entered KVM_RUN the first time */
	_Atomic uint64_t first_run_cpu_ns; /* process CPU time at that moment */
	/* control socket */
	int control_fd;
	char *control_path;
	pthread_t control_thread;
	bool control_running;
	int control_stop_fd;
};

/* memory.c */
int vm_memory_init(struct vm *vm, uint64_t mem_mib, bool hugepages);
void vm_memory_free(struct vm *vm);
/* Host pointer for guest-physical [gpa, gpa+len) or NULL. */
void *vm_gpa(struct vm *vm, uint64_t gpa, uint64_t len);

/* kvm.c: the VM; vcpu.c: its vCPUs and their threads */
int vm_kvm_init(struct vm *vm);
int vm_kvm_init_memory(struct vm *vm);
int vm_vcpus_init(struct vm *vm);
int vm_vcpus_start(struct vm *vm);
void vm_vcpus_join(struct vm *vm);
void vm_kvm_free(struct vm *vm);
/* Ends the VM with this status (first caller wins) and wakes every thread. */
void vm_request_exit(struct vm *vm, int code);
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);

/* vcpu.c */
void *vcpu_thread(void *arg);
/* Describe a failing vCPU: "vCPU n: <why> at rip 0x...: instruction bytes ..." */
void vcpu_report(struct vcpu *v, const char *why);

/* io.c: port I/O and MMIO dispatch from vCPU threads */
void vm_pio(struct vm *vm, uint16_t port, bool write, uint8_t *data, unsigned size);
void vm_mmio(struct vm *vm, uint64_t addr, bool write, uint8_t *data, unsigned size);

/* virtio_mmio.c */
struct mmio_dev *mmio_dev_new(struct vm *vm, struct virtio_dev *d, unsigned index, char *err, size_t errlen);
void mmio_dev_access(struct mmio_dev *m, uint64_t off, bool is_write, uint8_t *data, unsigned size);
uint64_t mmio_dev_base(const struct mmio_dev *m);
unsigned mmio_dev_gsi(const struct mmio_dev *m);
void mmio_dev_free(struct mmio_dev *m);

/* control.c */
int control_open(struct vm *vm, const char *path);
void control_close(struct vm *vm);
/* One request line -> response line in out; returns 1 when the VM must stop. */
int control_handle(struct vm *vm, const char *line, char *out, size_t outlen);

uint64_t now_ns(void);
uint64_t cpu_ns(void);
/* Bytes of guest RAM resident in this process (mincore). */
uint64_t vm_guest_resident(struct vm *vm);

#endif
