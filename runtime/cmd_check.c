/* SPDX-License-Identifier: Apache-2.0 */
/* runm check: can this host run containers in microVMs, and how will runm do it? */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "artifacts.h"
#include "backend/jail.h"
#include "backend_choice.h"
#include "runm.h"
#include "cmd_util.h"
#include "net/net.h"

int cmd_check(int argc, char **argv)
{
	struct parsed p;
	if (parse_verb("check", argc, argv, 0, 0, 0, &p) < 0)
		return 1;
	parsed_free(&p);
	char why[256], qemu[PATH_MAX], k[PATH_MAX], i[PATH_MAX], bz[PATH_MAX];
	bool hw = host_hw_virt(why, sizeof(why));
	bool q = find_in_path("qemu-system-x86_64", qemu, sizeof(qemu));
	bool hk = find_guest_file("vmlinux", k, sizeof(k));
	bool hb = find_guest_file("bzImage", bz, sizeof(bz));
	bool hi = find_guest_file("initramfs.cpio", i, sizeof(i));
	struct utsname u;
	uname(&u);
	printf("host kernel:      %s %s %s\n", u.sysname, u.release, u.machine);
	printf("virtualization:   %s: %s\n", hw ? "hardware" : "emulated/unusable", why);
	printf("qemu:             %s\n", q ? qemu : "qemu-system-x86_64 not found in PATH");
	printf("guest kernel:     %s\n", hk ? k : "vmlinux not found (make guest)");
	printf("guest bzImage:    %s\n", hb ? bz : "bzImage not found (make guest)");
	printf("guest initramfs:  %s\n", hi ? i : "initramfs.cpio not found (make guest)");
	char backend[16], bwhy[512], berr[512];
	bool chosen = backend_choose(NULL, G.backend, backend, sizeof(backend), bwhy, sizeof(bwhy), berr,
				     sizeof(berr)) == 0;
	if (!chosen)
		printf("backend:          none: %s\n", berr);
	else if (!strcmp(backend, "qemu"))
		printf("backend:          qemu (%s) + runm vhost-user devices\n", hw ? "KVM" : "TCG");
	else
		printf("backend:          runm-vmm (KVM)\n");
	if (chosen)
		printf("backend reason:   %s\n", bwhy);
	char nwhy[256];
	bool net = net_probe(nwhy, sizeof(nwhy));
	printf("network:          %s: %s\n", net ? "tc redirect" : "unavailable", nwhy);
	printf("network model:    the container's netns links carried into the VM (veth -> tc mirred -> tap "
	       "-> virtio-net); no network namespace (host network): the VM's own, loopback only\n");
	bool slow = chosen && !hw && !strcmp(backend, "runm-vmm");
	bool ok = chosen && hk && hi && !slow && net;
	fflush(stdout);
	jail_report(stdout);
	printf("status:           %s\n", ok ? "ok"
					 : slow
					     ? "cannot run containers: runm-vmm needs hardware virtualization"
					     : !net ? "cannot run containers: no tap/tc redirect for their networks"
						    : "cannot run containers");
	return ok ? 0 : 1;
}
