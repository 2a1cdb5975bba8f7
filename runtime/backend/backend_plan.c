/* SPDX-License-Identifier: Apache-2.0 */
/* The one backend decision and its reason (see backend_plan.h). */
#include "runtime/backend/backend_plan.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"

/* "vmx" or "svm" when /proc/cpuinfo's flags list one, else "". */
static void cpu_virt_flag(char out[4])
{
	out[0] = '\0';
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[4096];
	while (f && !out[0] && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		for (char *save, *t = strtok_r(line, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save))
			if (!strcmp(t, "vmx") || !strcmp(t, "svm"))
				snprintf(out, 4, "%s", t);
		break;
	}
	if (f)
		fclose(f);
}

static bool qemu_in_path(void)
{
	char p[PATH_MAX];
	return io_find_in_path("qemu-system-x86_64", p, sizeof(p));
}

void backend_host_probe(struct host_probe *h)
{
	memset(h, 0, sizeof(*h));
	cpu_virt_flag(h->cpu_flag);
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	h->kvm_errno = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	h->kvm_pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
	h->have_qemu = qemu_in_path();
}

bool backend_host_hw(const struct host_probe *h)
{
	return h->cpu_flag[0] && !h->kvm_errno;
}

void backend_host_explain(const struct host_probe *h, char *out, size_t cap)
{
	if (backend_host_hw(h))
		snprintf(out, cap, "the host CPU has %s and /dev/kvm opens", h->cpu_flag);
	else if (h->cpu_flag[0])
		snprintf(out, cap, "the host CPU has %s but /dev/kvm does not open (%s)", h->cpu_flag,
			 strerror(h->kvm_errno));
	else if (!h->kvm_errno)
		snprintf(out, cap,
			 "the host CPU has no vmx/svm flag: /dev/kvm%s runs guests emulated (shadow paging), "
			 "Linux cannot boot on it",
			 h->kvm_pvm ? " (kvm_pvm)" : "");
	else
		snprintf(out, cap, "the host CPU has no vmx/svm flag and /dev/kvm does not open (%s)",
			 strerror(h->kvm_errno));
}

/* Who chose the VMM: the first level set, or automatic (*vmm stays AUTO). 0 or -1 + ERR. */
static int pick_level(const struct backend_request *rq, enum vm_backend_kind *vmm, char *who, size_t cap,
		      char *err, size_t errlen)
{
	char cfg[PATH_MAX + 16];
	snprintf(cfg, sizeof(cfg), "config %s", rq->config_path ? rq->config_path : "/etc/runm/config.json");
	const struct {
		const char *value, *source;
	} lv[] = {
	    {rq->annotation, "annotation io.runm.backend"},
	    {rq->flag, "--backend"},
	    {rq->env, "RUNM_BACKEND"},
	    {rq->config, cfg},
	};
	*vmm = VM_BACKEND_AUTO;
	snprintf(who, cap, "automatically");
	for (size_t i = 0; i < sizeof(lv) / sizeof(lv[0]); i++) {
		const char *v = lv[i].value;
		if (!v || !*v)
			continue;
		if (vm_backend_parse(v, vmm) < 0) {
			snprintf(err, errlen, "backend \"%s\" (from %s): want auto, runm-vmm or qemu", v,
				 lv[i].source);
			return -1;
		}
		if (*vmm == VM_BACKEND_AUTO)
			snprintf(who, cap, "automatically (%s says auto)", lv[i].source);
		else
			snprintf(who, cap, "by %s", lv[i].source);
		return 0;
	}
	return 0;
}

static const char *accel_upper(enum vm_accel a)
{
	return a == VM_ACCEL_KVM ? "KVM" : "TCG";
}

int backend_plan_decide(const struct backend_request *rq, const struct host_probe *h, struct backend_plan *p,
			char *err, size_t errlen)
{
	char who[PATH_MAX + 64], host[256], acc[96] = "";
	memset(p, 0, sizeof(*p));
	p->vmm = VM_BACKEND_QEMU;
	p->accel = VM_ACCEL_TCG;
	backend_host_explain(h, host, sizeof(host));
	if (pick_level(rq, &p->vmm, who, sizeof(who), err, errlen) < 0) {
		p->vmm = VM_BACKEND_QEMU;
		snprintf(p->reason, sizeof(p->reason), "%s", err);
		return -1;
	}
	bool hw = backend_host_hw(h);
	if (p->vmm == VM_BACKEND_AUTO && !hw && !h->have_qemu) {
		p->vmm = VM_BACKEND_QEMU;
		snprintf(err, errlen, "no usable VM backend: %s, and qemu-system-x86_64 is not in PATH",
			 host);
		snprintf(p->reason, sizeof(p->reason), "%s", err);
		return -1;
	}
	if (p->vmm == VM_BACKEND_AUTO)
		p->vmm = hw ? VM_BACKEND_RUNM_VMM : VM_BACKEND_QEMU;
	if (p->vmm == VM_BACKEND_RUNM_VMM) {
		p->accel = VM_ACCEL_KVM; /* runm-vmm has no emulator */
		if (!hw)
			snprintf(p->problem, sizeof(p->problem), "runm-vmm needs hardware virtualization");
	} else if (rq->accel != VM_ACCEL_AUTO) {
		p->accel = rq->accel;
		snprintf(acc, sizeof(acc), ", %s by %s", accel_upper(rq->accel),
			 rq->accel_source ? rq->accel_source : "request");
	} else {
		p->accel = hw ? VM_ACCEL_KVM : VM_ACCEL_TCG;
	}
	if (rq->host_agent) {
		snprintf(p->reason, sizeof(p->reason),
			 "host-agent (no VM) chosen by RUNM_TEST_AGENT_ON_HOST=1 (tests only; else %s (%s) "
			 "chosen %.300s)",
			 vm_backend_name(p->vmm), accel_upper(p->accel), who);
		p->vmm = VM_BACKEND_HOST_AGENT;
		p->problem[0] = '\0';
		return 0;
	}
	snprintf(p->reason, sizeof(p->reason), "%s (%s) chosen %.300s%s; %s", vm_backend_name(p->vmm),
		 accel_upper(p->accel), who, acc, host);
	return 0;
}

int backend_plan_host(enum vm_backend_kind vmm, enum vm_accel accel, struct backend_plan *p, char *err,
		      size_t errlen)
{
	struct host_probe h;
	backend_host_probe(&h);
	struct backend_request rq = {
	    .flag = vmm == VM_BACKEND_AUTO ? NULL : vm_backend_name(vmm),
	    .accel = accel,
	    .accel_source = "--accel",
	};
	return backend_plan_decide(&rq, &h, p, err, errlen);
}

bool backend_test_host_agent(void)
{
	const char *oh = getenv("RUNM_TEST_AGENT_ON_HOST");
	return oh && !strcmp(oh, "1");
}
