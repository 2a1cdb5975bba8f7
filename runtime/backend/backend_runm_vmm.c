/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runm-vmm backend: one runm-vmm process (KVM) runs the VM and serves every
 * device in-process (design brief §4 command line).
 */
#include "runtime/backend/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int vm_start_runm_vmm(struct vm *v, const struct vm_config *c, int log_fd)
{
	char *argv[48];
	char *own[48];
	unsigned n = 0, nown = 0;
	int keep[VM_MAX_NET]; /* the NICs' taps, duplicated above stdio for the child */
	unsigned nkeep = 0;
	int r = -ENOMEM;
	char *bin = c->runm_vmm ? strdup(c->runm_vmm) : vm_sibling_path("runm-vmm");
	char cpus[16], mem[16], cid[16];

	snprintf(cpus, sizeof(cpus), "%u", c->vcpus ? c->vcpus : 1);
	snprintf(mem, sizeof(mem), "%u", c->mem_mib ? c->mem_mib : 256);
	if (!bin)
		return -ENOMEM;
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
	for (unsigned i = 0; i < c->n_net; i++) {
		char opts[96], *o;
		int tfd = fcntl(c->net[i].tap_fd, F_DUPFD_CLOEXEC, 3);
		if (tfd < 0) {
			r = -errno;
			log_errno(-r, "start VM: NIC %u: duplicate tap fd %d", i, c->net[i].tap_fd);
			goto out;
		}
		keep[nkeep++] = tfd;
		vm_net_opts(&c->net[i], tfd, opts, sizeof(opts));
		if (!(o = strdup(opts)))
			goto out;
		own[nown++] = o;
		argv[n++] = "--net";
		argv[n++] = o;
	}
	argv[n++] = "--console";
	argv[n++] = (char *)(c->console_log ? c->console_log : "off");
	argv[n] = NULL;
	r = vm_spawn(v, "runm-vmm", argv, log_fd, keep, nkeep, 0); /* drops its own after setup */
out:
	for (unsigned i = 0; i < nkeep; i++)
		close(keep[i]);
	for (unsigned i = 0; i < nown; i++)
		free(own[i]);
	free(bin);
	return r;
}
