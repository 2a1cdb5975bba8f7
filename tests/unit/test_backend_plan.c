/* SPDX-License-Identifier: Apache-2.0 */
/* The one backend decision (runtime/backend/backend_plan.h): the overrides' order, "auto" at a
 * level, KVM vs TCG for QEMU, a forced runm-vmm without hardware virtualization, no usable
 * backend, the test harness's host agent, and the reason sentences; the host probe is injected,
 * so nothing here depends on this machine. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/backend/backend_plan.h"

/* A host with vmx and a usable /dev/kvm; one like our CI (kvm_pvm, no vmx); no KVM at all. */
static const struct host_probe HW = {.cpu_flag = "vmx", .have_qemu = true};
static const struct host_probe PVM = {.kvm_pvm = true, .have_qemu = true};
static const struct host_probe NOKVM = {.kvm_errno = ENOENT, .have_qemu = true};

static struct backend_plan plan_ok(const struct backend_request *rq, const struct host_probe *h)
{
	struct backend_plan p;
	char err[BACKEND_REASON_MAX] = "";
	assert_int_equal(backend_plan_decide(rq, h, &p, err, sizeof(err)), 0);
	assert_int_not_equal(p.vmm, VM_BACKEND_AUTO);
	assert_int_not_equal(p.accel, VM_ACCEL_AUTO);
	return p;
}

static void test_host_facts(void **st)
{
	char why[256];
	assert_true(backend_host_hw(&HW));
	backend_host_explain(&HW, why, sizeof(why));
	assert_string_equal(why, "the host CPU has vmx and /dev/kvm opens");
	assert_false(backend_host_hw(&PVM));
	backend_host_explain(&PVM, why, sizeof(why));
	assert_string_equal(why, "the host CPU has no vmx/svm flag: /dev/kvm (kvm_pvm) runs guests emulated "
				 "(shadow paging), Linux cannot boot on it");
	backend_host_explain(&NOKVM, why, sizeof(why));
	assert_string_equal(why,
			    "the host CPU has no vmx/svm flag and /dev/kvm does not open (No such file or "
			    "directory)");
	struct host_probe denied = {.cpu_flag = "svm", .kvm_errno = EACCES};
	assert_false(backend_host_hw(&denied));
	backend_host_explain(&denied, why, sizeof(why));
	assert_string_equal(why, "the host CPU has svm but /dev/kvm does not open (Permission denied)");
}

static void test_automatic(void **st)
{
	struct backend_request rq = {0};
	struct backend_plan p = plan_ok(&rq, &HW);
	assert_int_equal(p.vmm, VM_BACKEND_RUNM_VMM);
	assert_int_equal(p.accel, VM_ACCEL_KVM);
	assert_string_equal(p.reason,
			    "runm-vmm (KVM) chosen automatically; the host CPU has vmx and /dev/kvm opens");
	assert_string_equal(p.problem, "");
	p = plan_ok(&rq, &PVM);
	assert_int_equal(p.vmm, VM_BACKEND_QEMU);
	assert_int_equal(p.accel, VM_ACCEL_TCG);
	assert_string_equal(p.reason,
			    "qemu (TCG) chosen automatically; the host CPU has no vmx/svm flag: /dev/kvm "
			    "(kvm_pvm) runs guests emulated (shadow paging), Linux cannot boot on it");
}

/* annotation > --backend > RUNM_BACKEND > config file > automatic */
static void test_override_order(void **st)
{
	struct backend_request rq = {.config_path = "/c.json"};
	rq.config = "qemu";
	struct backend_plan p = plan_ok(&rq, &HW);
	assert_int_equal(p.vmm, VM_BACKEND_QEMU);
	assert_int_equal(p.accel, VM_ACCEL_KVM); /* QEMU gets KVM where it is usable */
	assert_string_equal(p.reason,
			    "qemu (KVM) chosen by config /c.json; the host CPU has vmx and /dev/kvm opens");
	rq.env = "runm-vmm";
	p = plan_ok(&rq, &HW);
	assert_int_equal(p.vmm, VM_BACKEND_RUNM_VMM);
	assert_non_null(strstr(p.reason, "chosen by RUNM_BACKEND;"));
	rq.flag = "qemu";
	p = plan_ok(&rq, &PVM);
	assert_int_equal(p.vmm, VM_BACKEND_QEMU);
	assert_int_equal(p.accel, VM_ACCEL_TCG);
	assert_non_null(strstr(p.reason, "qemu (TCG) chosen by --backend; the host CPU has no vmx/svm flag"));
	rq.annotation = "runm-vmm";
	p = plan_ok(&rq, &HW);
	assert_int_equal(p.vmm, VM_BACKEND_RUNM_VMM);
	assert_non_null(strstr(p.reason, "runm-vmm (KVM) chosen by annotation io.runm.backend;"));
	/* "auto" at a level stops the search: the levels below do not count */
	rq.annotation = "auto";
	p = plan_ok(&rq, &PVM);
	assert_int_equal(p.vmm, VM_BACKEND_QEMU);
	assert_non_null(strstr(p.reason, "chosen automatically (annotation io.runm.backend says auto);"));
	rq = (struct backend_request){.env = "auto", .config = "runm-vmm"};
	p = plan_ok(&rq, &HW);
	assert_int_equal(p.vmm, VM_BACKEND_RUNM_VMM);
	assert_non_null(strstr(p.reason, "(RUNM_BACKEND says auto)"));
	/* empty is "not set"; the default config path names the config level */
	rq = (struct backend_request){.annotation = "", .config = "qemu"};
	p = plan_ok(&rq, &HW);
	assert_non_null(strstr(p.reason, "chosen by config /etc/runm/config.json;"));
}

static void test_forced_runm_vmm_without_hw(void **st)
{
	struct backend_request rq = {.flag = "runm-vmm"};
	/* allowed (runm-vmm's mini-guests run on such a KVM), but it cannot run containers */
	struct backend_plan p = plan_ok(&rq, &PVM);
	assert_int_equal(p.vmm, VM_BACKEND_RUNM_VMM);
	assert_int_equal(p.accel, VM_ACCEL_KVM);
	assert_string_equal(p.problem, "runm-vmm needs hardware virtualization");
	assert_non_null(
	    strstr(p.reason, "runm-vmm (KVM) chosen by --backend; the host CPU has no vmx/svm flag"));
	p = plan_ok(&rq, &HW);
	assert_string_equal(p.problem, "");
}

static void test_forced_accel(void **st)
{
	struct backend_request rq = {.flag = "qemu", .accel = VM_ACCEL_KVM, .accel_source = "--accel"};
	struct backend_plan p = plan_ok(&rq, &PVM);
	assert_int_equal(p.accel, VM_ACCEL_KVM);
	assert_non_null(strstr(p.reason, "qemu (KVM) chosen by --backend, KVM by --accel;"));
	rq.accel = VM_ACCEL_TCG;
	p = plan_ok(&rq, &HW);
	assert_int_equal(p.accel, VM_ACCEL_TCG);
	/* runm-vmm has no emulator: the accelerator is KVM whatever was asked */
	rq.flag = "runm-vmm";
	p = plan_ok(&rq, &HW);
	assert_int_equal(p.accel, VM_ACCEL_KVM);
}

static void test_errors(void **st)
{
	struct backend_plan p;
	char err[BACKEND_REASON_MAX];
	/* a bad value names its level (the first level set decides, the ones below are not read) */
	struct backend_request rq = {.annotation = "firecracker", .flag = "qemu"};
	assert_int_equal(backend_plan_decide(&rq, &HW, &p, err, sizeof(err)), -1);
	assert_string_equal(err, "backend \"firecracker\" (from annotation io.runm.backend): want auto, "
				 "runm-vmm or qemu");
	rq = (struct backend_request){.config = "host-agent", .config_path = "/c.json"};
	assert_int_equal(backend_plan_decide(&rq, &HW, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "(from config /c.json)"));
	/* no hardware virtualization and no QEMU: nothing runs; the plan still says why */
	struct host_probe none = {.kvm_errno = ENOENT};
	rq = (struct backend_request){0};
	assert_int_equal(backend_plan_decide(&rq, &none, &p, err, sizeof(err)), -1);
	assert_string_equal(err,
			    "no usable VM backend: the host CPU has no vmx/svm flag and /dev/kvm does not "
			    "open (No such file or directory), and qemu-system-x86_64 is not in PATH");
	assert_string_equal(p.reason, err);
	assert_int_equal(p.vmm, VM_BACKEND_QEMU);
	/* a forced QEMU is tried even where it is not in PATH (its exec then fails by name) */
	rq.flag = "qemu";
	p = plan_ok(&rq, &none);
	assert_int_equal(p.vmm, VM_BACKEND_QEMU);
}

static void test_host_agent(void **st)
{
	struct backend_request rq = {.flag = "runm-vmm", .host_agent = true};
	struct backend_plan p = plan_ok(&rq, &PVM);
	assert_int_equal(p.vmm, VM_BACKEND_HOST_AGENT);
	assert_string_equal(p.problem, "");
	assert_string_equal(p.reason,
			    "host-agent (no VM) chosen by RUNM_TEST_AGENT_ON_HOST=1 (tests only; else "
			    "runm-vmm (KVM) chosen by --backend)");
	assert_true(vm_backend_ops_of(p.vmm)->agent_on_host);
	/* bad input is still an error: the harness runs the same checks */
	rq.flag = "kvmtool";
	char err[BACKEND_REASON_MAX];
	assert_int_equal(backend_plan_decide(&rq, &PVM, &p, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_host_facts),	   cmocka_unit_test(test_automatic),
	    cmocka_unit_test(test_override_order), cmocka_unit_test(test_forced_runm_vmm_without_hw),
	    cmocka_unit_test(test_forced_accel),   cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_host_agent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
