/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runm-vmm backend: one runm-vmm process (KVM) runs the VM and serves every
 * device in-process (docs/vmm.md: the command line). Jailed like QEMU and the
 * device servers (runtime/backend/jail.h): it sees the kernel and initrd, the
 * socket directory (the vsock socket bound and listening here, passed by fd),
 * the console log (created here, owned by its uid), the shares, and /dev/kvm.
 */
#include "runtime/backend/backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "runtime/backend/jail.h"

/* What runm-vmm needs inside its jail: kernel, initrd, the console log, the socket directory
 * (guest->host connects reach <uds>_PORT there), the shares with the fs server's file
 * capabilities, and /dev/kvm with its group. 0 or -errno after logging. */
static int jail_setup(struct jail *j, const struct vm_config *c)
{
	int r = jail_bind(j, c->kernel, 0, "runm-vmm");
	if (r == 0 && c->initrd)
		r = jail_bind(j, c->initrd, 0, "runm-vmm");
	if (r == 0 && c->console_log)
		r = vm_jail_file(j, c->console_log, "runm-vmm");
	if (r == 0 && c->vsock_uds)
		r = vm_jail_bind_dir_of(j, c->vsock_uds, 0, "runm-vmm");
	for (unsigned i = 0; r == 0 && i < c->n_fs; i++)
		r = jail_bind(j, c->fs[i].dir, JAIL_RW | JAIL_REC, "runm-vmm");
	if (r == 0 && c->n_fs)
		jail_keep_fs_caps(j); /* its in-process fs device (docs/security.md) */
	if (r == 0) {
		jail_add_group_of(j, "/dev/kvm");
		r = jail_bind(j, "/dev/kvm", JAIL_RW | JAIL_DEV, "runm-vmm");
	}
	return r;
}

static int start_runm_vmm(struct vm *v, const struct vm_config *c, int log_fd)
{
	char *argv[64];
	char *own[64];
	int keep[VM_MAX_NET + VM_MAX_DISKS + 1];
	unsigned n = 0, nown = 0, nkeep = 0;
	int r = -ENOMEM;
	char *bin = c->runm_vmm ? strdup(c->runm_vmm) : vm_sibling_path("runm-vmm");
	char cpus[16], mem[16], cid[16], lfdarg[16];
	struct jail *j = NULL;

	snprintf(cpus, sizeof(cpus), "%u", c->vcpus ? c->vcpus : 1);
	snprintf(mem, sizeof(mem), "%u", c->mem_mib ? c->mem_mib : 256);
	if (!bin)
		return -ENOMEM;
	j = vm_jail_for(v, "runm-vmm", bin, &r);
	if (!j && r < 0)
		goto out;
	r = j ? jail_setup(j, c) : 0;
	if (r < 0)
		goto out;
	r = -ENOMEM;
	argv[n++] = bin;
	argv[n++] = "--kernel";
	argv[n++] = (char *)c->kernel;
	if (c->initrd) {
		argv[n++] = "--initrd";
		argv[n++] = (char *)c->initrd;
	}
	if (c->cmdline) {
		argv[n++] = "--cmdline";
		argv[n++] = (char *)c->cmdline;
	}
	argv[n++] = "--cpus";
	argv[n++] = cpus;
	argv[n++] = "--mem";
	argv[n++] = mem;
	if (c->vsock_uds) {
		snprintf(cid, sizeof(cid), "%u", c->guest_cid ? c->guest_cid : 3);
		argv[n++] = "--vsock-uds";
		argv[n++] = (char *)c->vsock_uds;
		argv[n++] = "--vsock-cid";
		argv[n++] = cid;
		vm_add_cleanup(v, c->vsock_uds);
		if (j) {
			unlink(c->vsock_uds);
			int lfd = vm_listen_at(c->vsock_uds, (uid_t)-1, (gid_t)-1, "runm-vmm");
			if (lfd < 0) {
				r = lfd;
				goto out;
			}
			keep[nkeep++] = lfd;
			snprintf(lfdarg, sizeof(lfdarg), "%d", lfd);
			argv[n++] = "--vsock-listen-fd";
			argv[n++] = lfdarg;
		}
	}
	if (c->rng)
		argv[n++] = "--rng";
	for (unsigned i = 0; i < c->n_fs; i++) {
		char *s;
		if (asprintf(&s, "%s=%s", c->fs[i].tag, c->fs[i].dir) < 0)
			goto out;
		own[nown++] = s;
		argv[n++] = "--fs";
		argv[n++] = s;
	}
	/* NICs: runm-vmm gets a duplicate of each caller's tap fd */
	for (unsigned i = 0; i < c->n_net; i++) {
		char mac[18], *s = malloc(96);
		int fd = s ? vm_net_dup(&c->net[i]) : -ENOMEM;
		if (fd < 0) {
			free(s);
			r = fd;
			log_errno(-r, "start runm-vmm: NIC %u: duplicate tap fd %d", i, c->net[i].tap_fd);
			goto out;
		}
		keep[nkeep++] = fd;
		own[nown++] = s;
		if ((r = vm_net_options(&c->net[i], fd, s, 96, mac)) < 0)
			goto out;
		argv[n++] = "--net";
		argv[n++] = s;
	}
	/* Drives: runm-vmm gets each image open (fd=N), so its jail needs no path */
	for (unsigned i = 0; i < c->n_disk; i++) {
		char *s = malloc(96);
		int fd = s ? vm_disk_open(&c->disk[i], i) : -ENOMEM;
		if (fd < 0) {
			free(s);
			r = fd;
			goto out;
		}
		keep[nkeep++] = fd;
		own[nown++] = s;
		if ((r = vm_disk_options(&c->disk[i], fd, s, 96)) < 0)
			goto out;
		argv[n++] = "--drive";
		argv[n++] = s;
	}
	argv[n++] = "--console";
	argv[n++] = (char *)(c->console_log ? c->console_log : "off");
	argv[n] = NULL;
	r = vm_spawn(v, "runm-vmm", argv, log_fd, keep, nkeep, 0, j); /* drops its own after setup */
out:
	free(j);
	for (unsigned i = 0; i < nkeep; i++)
		close(keep[i]); /* runm-vmm has its copies */
	for (unsigned i = 0; i < nown; i++)
		free(own[i]);
	free(bin);
	return r;
}

const struct vm_backend_ops vm_backend_runm_vmm = {
    .what = "VM",
    .log_name = "vmm.log",
    .boots_kernel = true,
    .start = start_runm_vmm,
    .wait = vm_group_wait,
    .kill = vm_group_kill,
    .stop = vm_group_stop,
    .pidfds = vm_group_pidfds,
};
