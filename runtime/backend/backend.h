/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VMM backends: start the microVM of one container and watch it.
 *
 *   runm-vmm  the KVM VMM (needs hardware virtualization to boot Linux);
 *   qemu      qemu-system-x86_64 (KVM or TCG) with runm's own device code
 *             served over vhost-user by `runm-vmm vhost-user` processes.
 *
 * Every process of a VM is in one process group, dies with the caller
 * (PR_SET_PDEATHSIG: call vm_start from the thread that will outlive the VM)
 * and is watched through a pidfd: when any of them ends, the VM is over and
 * vm_wait tears the rest down, so no VMM, device server or socket survives.
 */
#ifndef RUNM_BACKEND_H
#define RUNM_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* HOST_AGENT: the test harness's runm-agent on the host, no VM (RUNM_TEST_AGENT_ON_HOST=1);
 * never parsed from a name, never chosen automatically (backend_plan.h). */
enum vm_backend_kind { VM_BACKEND_AUTO = 0, VM_BACKEND_RUNM_VMM, VM_BACKEND_QEMU, VM_BACKEND_HOST_AGENT };
enum vm_accel { VM_ACCEL_AUTO = 0, VM_ACCEL_KVM, VM_ACCEL_TCG };
enum vm_machine { VM_MACHINE_AUTO = 0, VM_MACHINE_PC, VM_MACHINE_MICROVM };

#define VM_MAX_FS 4

struct vm_fs_share {
	const char *tag;
	const char *dir;
};

#define VM_MAX_NET 8

/* One NIC: virtio-net on a tap the caller opened with IFF_TAP|IFF_NO_PI|
 * IFF_VNET_HDR (in the container's network namespace, typically). tap_fd
 * stays the caller's: the backend hands a duplicate to the VMM or its device
 * server and never closes it; the device makes the open file (shared with the
 * caller's fd) non-blocking. The VM may be started while the caller keeps it. */
struct vm_net {
	int tap_fd;
	uint8_t mac[6]; /* all zero: a random locally administered address */
	unsigned mtu;	/* 0: none advertised; else 68..65535 (VIRTIO_NET_F_MTU) */
};

#define VM_MAX_DISKS 8

/* One virtio-blk drive on a raw image. With path, the backend opens the image
 * itself and hands the VMM (or its device server) the open fd: no path needs
 * to exist in the jail. With path NULL, fd is the caller's open image
 * (O_RDWR, or O_RDONLY with ro): duplicated for the child, never closed. */
struct vm_disk {
	const char *path;
	int fd;
	bool ro;
	const char *serial; /* VIRTIO_BLK_T_GET_ID answer, up to 20 bytes, no commas; NULL: none */
};

struct vm_config {
	enum vm_backend_kind backend; /* AUTO: decided by backend_plan_host (backend_plan.h) */
	enum vm_accel accel;	      /* qemu only; AUTO: the same decision's */
	const char *reason;	      /* the plan's reason when the caller decided (logged) */
	enum vm_machine machine;      /* qemu only; AUTO: pc (measured faster, docs/backends.md) */
	const char *kernel;	      /* vmlinux (PVH ELF) or bzImage */
	const char *initrd;	      /* may be NULL */
	const char *cmdline;	      /* base command line; backends add device words */
	unsigned vcpus;		      /* 0 → 1 */
	unsigned mem_mib;	      /* 0 → 256 */
	const char *vsock_uds;	      /* hybrid vsock socket; NULL: no vsock device */
	uint32_t guest_cid;	      /* 0 → 3 */
	struct vm_fs_share fs[VM_MAX_FS];
	unsigned n_fs;
	bool rng;		       /* a virtio-rng device (guest entropy) */
	struct vm_net net[VM_MAX_NET]; /* NICs, in guest order (eth0 first) */
	unsigned n_net;
	struct vm_disk disk[VM_MAX_DISKS]; /* drives, in guest order (vda first) */
	unsigned n_disk;
	const char *console_log; /* guest serial console → this file; NULL: discarded */
	const char *run_dir;	 /* vmm.log; NULL: dirname(vsock_uds) (required without vsock) */
	const char *runm_vmm;	 /* NULL: runm-vmm next to this executable, else $PATH */
	const char *qemu;	 /* NULL: qemu-system-x86_64 from $PATH */
};

struct vm;

/* Start the VM. Returns 0 with *out set, or -errno after logging what failed
 * (nothing is left running and no socket is left behind). */
int vm_start(const struct vm_config *c, struct vm **out);

/* Wait up to timeout_ms (-1: forever) for the VM to end. Returns 1 when it
 * ended (then every process is reaped, sockets removed, *status set: 0 for a
 * guest reset/poweroff, else non-zero), 0 on timeout, -errno on error. */
int vm_wait(struct vm *v, int timeout_ms, int *status);

/* Signal every process of the VM (SIGKILL: immediate end). */
int vm_kill(struct vm *v, int sig);

/* Stop the VM (SIGTERM, then SIGKILL after grace_ms) and reap it. */
int vm_stop(struct vm *v, int grace_ms);

/* vm_stop(v, 0) if still running, then free. */
void vm_free(struct vm *v);

/* Processes to watch: pids of the VMM and its device servers (first = VMM). */
int vm_pids(const struct vm *v, pid_t *pids, int max);
/* The pidfds of those processes (readable when one exits), for the caller's poll. */
int vm_pidfds(const struct vm *v, int *fds, int max);
enum vm_backend_kind vm_backend_of(const struct vm *v);

const char *vm_backend_name(enum vm_backend_kind k);
const char *vm_accel_name(enum vm_accel a);
/* Parse "auto"/"runm-vmm"/"qemu", "auto"/"kvm"/"tcg", "auto"/"pc"/"microvm": 0 or -EINVAL
 * ("host-agent" is a name for messages only: not parsed). */
int vm_backend_parse(const char *s, enum vm_backend_kind *k);
int vm_accel_parse(const char *s, enum vm_accel *a);
int vm_machine_parse(const char *s, enum vm_machine *m);

/* ---- shared by the backends (backend.c) ---- */
#define VM_MAX_PROCS (1 + 2 + VM_MAX_FS + VM_MAX_NET + VM_MAX_DISKS) /* VMM, vsock, rng, fs, NICs, drives */

struct vm_proc {
	pid_t pid;
	int pidfd;
	bool reaped;
	int status;    /* wait status once reaped */
	char what[64]; /* a copy: callers name processes from buffers of their own */
};

struct vm;
/* What differs between backends; each implements it in its own file (backend_qemu.c,
 * backend_runm_vmm.c, backend_host_agent.c) and vm_start/vm_wait/… call through it. */
struct vm_backend_ops {
	const char *what;     /* in errors: "start <what>: …" */
	const char *log_name; /* run_dir/log_name: stderr of every process (log_fd of start) */
	bool boots_kernel;    /* a VM: kernel, shares and NICs are checked and used */
	bool agent_on_host;   /* no VM: the agent runs on the host, no share, no network op */
	/* Spawn the processes into v (vm_spawn). 0 or -errno after logging. */
	int (*start)(struct vm *v, const struct vm_config *c, int log_fd);
	int (*wait)(struct vm *v, int timeout_ms, int *status); /* as vm_wait */
	int (*kill)(struct vm *v, int sig);			/* as vm_kill */
	int (*stop)(struct vm *v, int grace_ms);		/* as vm_stop */
	int (*pidfds)(const struct vm *v, int *fds, int max);	/* as vm_pidfds */
};
extern const struct vm_backend_ops vm_backend_qemu, vm_backend_runm_vmm, vm_backend_host_agent;
/* The ops of a decided kind (AUTO: NULL). */
const struct vm_backend_ops *vm_backend_ops_of(enum vm_backend_kind k);

/* The process-group implementations the backends share (backend.c). */
int vm_group_wait(struct vm *v, int timeout_ms, int *status);
int vm_group_kill(struct vm *v, int sig);
int vm_group_stop(struct vm *v, int grace_ms);
int vm_group_pidfds(const struct vm *v, int *fds, int max);

struct vm {
	enum vm_backend_kind kind;
	const struct vm_backend_ops *ops;
	struct vm_proc proc[VM_MAX_PROCS];
	unsigned nproc; /* proc[0] is the VMM */
	pid_t pgid;
	char *cleanup[VM_MAX_PROCS + 1]; /* socket paths to remove at the end */
	unsigned ncleanup;
	char *log_path; /* vmm.log: stderr of every VM process */
	bool ended;
	bool stopping; /* vm_stop asked for the end: no failure report */
	int netns_fd1; /* 1 + fd of the VM's empty network namespace (jail), 0: none yet */
	int status;
};

/* fork+exec argv with PDEATHSIG, in v's process group, stdin/stdout to
 * /dev/null, stderr to log_fd; the nkeep fds in keep (all > 2) survive exec.
 * An exec failure is logged and returned. */
#define VM_SPAWN_NO_CAPS 1u /* empty bounding set + no_new_privs: no capability even as root */
struct jail;
/* j (runtime/backend/jail.h): start the child in its jail (NULL: none, as with --no-jail). */
int vm_spawn(struct vm *v, const char *what, char *const argv[], int log_fd, const int *keep, unsigned nkeep,
	     unsigned flags, const struct jail *j);
int vm_add_cleanup(struct vm *v, const char *path);

/* backend_jail.c. A jail for a process of v running exe (NULL with --no-jail, or *err < 0
 * after logging); free() it after vm_spawn. */
struct jail *vm_jail_for(const struct vm *v, const char *what, const char *exe, int *err);
/* Bind the directory holding path (a socket directory) into j. */
int vm_jail_bind_dir_of(struct jail *j, const char *path, unsigned flags, const char *what);
/* A listening unix socket at path, bound here (a jailed process cannot create it), owned by
 * uid/gid when they are not -1. The fd (above stdio), or -errno after logging. */
int vm_listen_at(const char *path, uid_t uid, gid_t gid, const char *what);
/* Create (truncate) the file path owned by j's uid/gid and bind it writable: a log the jailed
 * process appends to. 0 or -errno after logging. */
int vm_jail_file(struct jail *j, const char *path, const char *what);
/* fd itself when > 2, else a CLOEXEC duplicate above stdio (fd closed); -errno on error.
 * The caller may run with stdin/stdout/stderr closed (a detached shim). */
int vm_fd_above_stdio(int fd);
/* Path of a sibling program of this executable (or the bare name for $PATH). */
char *vm_sibling_path(const char *name);

/* The device options of NIC n on fd ("tapfd=FD,mac=MAC[,mtu=N]"); mac gets the
 * address (random when n has none), for QEMU's -device. 0 or -ENOSPC. */
int vm_net_options(const struct vm_net *n, int fd, char *opts, size_t len, char mac[18]);
/* A close-on-exec duplicate of the caller's tap fd above stdio, for a child. */
int vm_net_dup(const struct vm_net *n);
/* The image of drive d open (close-on-exec, above stdio) for a child, or -errno after logging. */
int vm_disk_open(const struct vm_disk *d, unsigned i);
/* The blk device options of drive d on fd: "fd=FD[,ro=on][,id=SERIAL]". 0 or -ENOSPC. */
int vm_disk_options(const struct vm_disk *d, int fd, char *opts, size_t len);

#endif
