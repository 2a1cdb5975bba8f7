/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The jail of every VMM-side process (QEMU, each `runm-vmm vhost-user` device
 * server, runm-vmm), in the spirit of Firecracker's jailer and crosvm's
 * minijail. The parent describes the jail (struct jail, built with ordinary
 * libc); vm_spawn starts the child with clone3(CLONE_NEWNS|NEWPID|NEWIPC|
 * NEWUTS|NEWNET|CLONE_PIDFD), so the pidfd is the jailed process itself (PID 1
 * of its namespace), and the child calls jail_enter() before execve: system
 * calls only, no allocation (the parent may be multi-threaded).
 *
 * jail_enter, in order: mounts slave; every bind source cloned (open_tree) and
 * made read-only/nosuid/nodev as asked; a small tmpfs attached at `mnt` (an
 * existing directory, hidden only in the child's namespace); the clones moved
 * onto the same paths inside it, plus symlinks (/lib → usr/lib) and a procfs
 * of the new pid namespace (subset=pid: no /proc/sys, no kcore); pivot_root
 * into it, the old root detached; the tmpfs root made read-only; hostname
 * "runm"; rlimits; bounding set reduced to `caps`; securebits locked (NOROOT,
 * and NO_SETUID_FIXUP unless caps are kept, ambient raise locked); groups,
 * gid, uid set to the VM's; capabilities = `caps` (permitted, effective,
 * inheritable, ambient, so they survive exec for a non-root uid);
 * no_new_privs; Landlock where the kernel has it. Every fd but 0..2 and the
 * documented ones is close-on-exec (close_range) in vm_spawn.
 */
#ifndef RUNM_BACKEND_JAIL_H
#define RUNM_BACKEND_JAIL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Per-VM uids and gids: base + (hash of the VM's run directory mod count); by default these: */
#define JAIL_ID_BASE  1879048192u /* 0x70000000: above any distribution's or subuid range */
#define JAIL_ID_COUNT 65536u

#define JAIL_MAX_BINDS 16
#define JAIL_MAX_LINKS 4

#define JAIL_RW	 1u /* writable (else read-only) */
#define JAIL_REC 2u /* with the mounts below it (the fs share) */
#define JAIL_DEV 4u /* a device node: no nodev */

struct jail_bind {
	char path[PATH_MAX]; /* the same path inside the jail as outside */
	unsigned flags;
	bool dir;
};

struct jail_link {
	char path[64];
	char target[64];
};

struct jail {
	uid_t uid;
	gid_t gid;
	gid_t groups[2]; /* supplementary (the group of /dev/kvm) */
	unsigned ngroups;
	uint64_t caps;	    /* capabilities kept (the fs server's file capabilities), else 0 */
	char mnt[PATH_MAX]; /* existing directory the tmpfs root is attached at, in the child's namespace */
	char exe[PATH_MAX]; /* absolute path of the program, valid inside the jail */
	char interp[PATH_MAX]; /* the ELF interpreter: with exe, all Landlock lets it execute */
	struct jail_bind bind[JAIL_MAX_BINDS];
	unsigned nbind;
	struct jail_link link[JAIL_MAX_LINKS];
	unsigned nlink;
	unsigned long nofile; /* RLIMIT_NOFILE */
	unsigned long nproc;  /* RLIMIT_NPROC (per uid: the VM's own) */
	unsigned long memlock;
	char *const *envp; /* environment of the program */
};

/* The range the per-VM ids come from (runm's config file "jail": {"id_base","id_count"}), instead
 * of JAIL_ID_BASE/JAIL_ID_COUNT. Global to the process. */
void jail_set_id_range(unsigned base, unsigned count);

/* --no-jail: debugging only. Global to the process (the shim gets the flag). */
void vm_jail_disable(void);
bool vm_jail_disabled(void);

/* Set up *j for a process of the VM whose run directory is run_dir: uid/gid from the range,
 * the system's /usr, /lib, /lib64 and /etc/ld.so.cache read-only, exe resolved (PATH for a
 * bare name). 0 or -errno after logging. */
int jail_init(struct jail *j, const char *run_dir, const char *what, const char *exe);
/* Add a bind mount of path (same path inside). 0, or -errno after logging what failed. */
int jail_bind(struct jail *j, const char *path, unsigned flags, const char *what);
/* The fs server's file capabilities (docs/security.md: why each). */
void jail_keep_fs_caps(struct jail *j);
/* The group of a device node (for /dev/kvm), added to the supplementary groups. */
void jail_add_group_of(struct jail *j, const char *dev);

/* The clone3 flags of a jailed child. */
uint64_t jail_clone_flags(void);
/* In the child, before execve: 0, or -errno with *stage naming the step that failed. */
int jail_enter(const struct jail *j, const char **stage);

/* What this host offers and what runm uses (for `runm check`). */
void jail_report(FILE *f);

#endif
