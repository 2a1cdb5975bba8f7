/* SPDX-License-Identifier: Apache-2.0 */
/* runm check: can this host run containers in microVMs, and how will runm do it? */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "artifacts.h"
#include "io.h"
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
	char qemu[PATH_MAX], k[PATH_MAX], i[PATH_MAX], bz[PATH_MAX], hwhy[256], berr[BACKEND_REASON_MAX];
	/* the one decision (backend_plan.h), its host probe shown as the virtualization line */
	struct host_probe h;
	struct backend_plan plan;
	bool chosen = backend_choose(NULL, G.backend, &h, &plan, berr, sizeof(berr)) == 0;
	backend_host_explain(&h, hwhy, sizeof(hwhy));
	bool q = io_find_in_path("qemu-system-x86_64", qemu, sizeof(qemu));
	bool hk = find_guest_file("vmlinux", k, sizeof(k));
	bool hb = find_guest_file("bzImage", bz, sizeof(bz));
	bool hi = find_guest_file("initramfs.cpio", i, sizeof(i));
	struct utsname u;
	uname(&u);
	printf("host kernel:      %s %s %s\n", u.sysname, u.release, u.machine);
	printf("virtualization:   %s: %s\n", backend_host_hw(&h) ? "hardware" : "emulated/unusable", hwhy);
	printf("qemu:             %s\n", q ? qemu : "qemu-system-x86_64 not found in PATH");
	printf("guest kernel:     %s\n", hk ? k : "vmlinux not found (make guest)");
	printf("guest bzImage:    %s\n", hb ? bz : "bzImage not found (make guest)");
	printf("guest initramfs:  %s\n", hi ? i : "initramfs.cpio not found (make guest)");
	if (!chosen)
		printf("backend:          none: %s\n", berr);
	else if (plan.vmm == VM_BACKEND_QEMU)
		printf("backend:          qemu (%s) + runm vhost-user devices\n",
		       plan.accel == VM_ACCEL_KVM ? "KVM" : "TCG");
	else
		printf("backend:          %s\n",
		       plan.vmm == VM_BACKEND_RUNM_VMM ? "runm-vmm (KVM)" : "host-agent (no VM)");
	if (chosen)
		printf("backend reason:   %s\n", plan.reason);
	char nwhy[256];
	bool net = net_probe(nwhy, sizeof(nwhy));
	printf("network:          %s: %s\n", net ? "tc redirect" : "unavailable", nwhy);
	printf("network model:    the container's netns links carried into the VM (veth -> tc mirred -> tap "
	       "-> virtio-net); no network namespace (host network): the VM's own, loopback only\n");
	bool slow = chosen && plan.problem[0];
	bool ok = chosen && hk && hi && !slow && net;
	fflush(stdout);
	jail_report(stdout);
	if (ok)
		printf("status:           ok\n");
	else if (slow)
		printf("status:           cannot run containers: %s\n", plan.problem);
	else
		printf("status:           cannot run containers%s\n",
		       !net ? ": no tap/tc redirect for their networks" : "");
	return ok ? 0 : 1;
}
