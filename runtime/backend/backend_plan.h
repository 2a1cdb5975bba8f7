/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one decision of what runs a container's VM, and its one reason sentence:
 * which VMM (runm-vmm or QEMU), which accelerator (KVM or TCG), or the test-only
 * host agent. The host is probed once (backend_host_probe); the decision itself
 * (backend_plan_decide) is pure, so tests inject the probe. `runm check`, the
 * shim's boot path and `runm-vmctl --explain` all print the plan's reason.
 *
 * Overrides, the first one set wins ("auto" there: decide automatically, the
 * levels below it do not count):
 *   1. the annotation io.runm.backend, 2. the flag --backend, 3. RUNM_BACKEND,
 *   4. "backend" in the config file ($RUNM_CONFIG, else /etc/runm/config.json),
 * then automatic: runm-vmm where KVM has hardware virtualization, else QEMU (TCG)
 * when qemu-system-x86_64 is in PATH. QEMU runs with KVM under the same condition
 * (unless the accelerator is forced: runm-vmctl --accel), runm-vmm always with KVM.
 */
#ifndef RUNM_BACKEND_PLAN_H
#define RUNM_BACKEND_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/backend/backend.h"

/* What the host offers (backend_host_probe fills it; tests write their own). */
struct host_probe {
	char cpu_flag[4]; /* "vmx" or "svm" among the CPU's flags, "" when neither */
	int kvm_errno;	  /* 0: /dev/kvm opens read-write, else the errno of that open */
	bool kvm_pvm;	  /* kvm_pvm is loaded: a /dev/kvm without hardware virtualization */
	bool have_qemu;	  /* qemu-system-x86_64 in PATH */
};

void backend_host_probe(struct host_probe *h);
/* Whether KVM can run a Linux guest here (vmx/svm and /dev/kvm opens). */
bool backend_host_hw(const struct host_probe *h);
/* The host's facts in one clause, e.g. "the host CPU has vmx and /dev/kvm opens". */
void backend_host_explain(const struct host_probe *h, char *out, size_t cap);

/* Each level's value: "auto", "runm-vmm" or "qemu"; NULL or "" when not set. */
struct backend_request {
	const char *annotation, *flag, *env, *config;
	const char *config_path;  /* names the config level in reasons (NULL: the default path) */
	enum vm_accel accel;	  /* AUTO, or forced by accel_source */
	const char *accel_source; /* e.g. "--accel" */
	bool host_agent;	  /* RUNM_TEST_AGENT_ON_HOST=1 (tests only): no VM */
};

#define BACKEND_REASON_MAX 768

struct backend_plan {
	enum vm_backend_kind vmm;	 /* RUNM_VMM, QEMU or HOST_AGENT; never AUTO */
	enum vm_accel accel;		 /* KVM or TCG; never AUTO */
	char reason[BACKEND_REASON_MAX]; /* the one sentence: what runs, who chose it, the host's facts */
	char problem[96];		 /* "" or why this plan cannot run containers on this host */
};

/* The decision. 0, or -1 with ERR (a bad value naming its level, or no usable backend);
 * on -1 the plan is still filled (QEMU with TCG, ERR as its reason) for --explain. */
int backend_plan_decide(const struct backend_request *rq, const struct host_probe *h, struct backend_plan *p,
			char *err, size_t errlen);

/* backend_plan_decide on this host for a VMM and accelerator given by enum (AUTO: decide),
 * as runm-vmctl and vm_start do: VMM is the --backend level, ACCEL the --accel one. */
int backend_plan_host(enum vm_backend_kind vmm, enum vm_accel accel, struct backend_plan *p, char *err,
		      size_t errlen);

/* RUNM_TEST_AGENT_ON_HOST=1: the test harness's agent on the host (never chosen by runm). */
bool backend_test_host_agent(void);

#endif
