/* SPDX-License-Identifier: Apache-2.0 */
/* The VMM backend library (runtime/backend): names, fd hygiene, process
 * spawning and reaping, and argument validation before anything is started. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "runtime/backend/backend.h"

static void test_parse(void **state)
{
	enum vm_backend_kind k;
	enum vm_accel a;
	enum vm_machine m;
	assert_int_equal(vm_backend_parse("qemu", &k), 0);
	assert_int_equal(k, VM_BACKEND_QEMU);
	assert_int_equal(vm_backend_parse("runm-vmm", &k), 0);
	assert_int_equal(k, VM_BACKEND_RUNM_VMM);
	assert_int_equal(vm_backend_parse("auto", &k), 0);
	assert_int_equal(k, VM_BACKEND_AUTO);
	assert_int_equal(vm_backend_parse("firecracker", &k), -EINVAL);
	assert_int_equal(vm_accel_parse("tcg", &a), 0);
	assert_int_equal(a, VM_ACCEL_TCG);
	assert_int_equal(vm_accel_parse("KVM", &a), -EINVAL);
	assert_int_equal(vm_machine_parse("microvm", &m), 0);
	assert_int_equal(m, VM_MACHINE_MICROVM);
	assert_int_equal(vm_machine_parse("q35", &m), -EINVAL);
	assert_string_equal(vm_backend_name(VM_BACKEND_QEMU), "qemu");
	assert_string_equal(vm_accel_name(VM_ACCEL_KVM), "kvm");
	/* Every name parses back to its value; a value outside the enum is "auto". */
	for (int i = VM_BACKEND_AUTO; i <= VM_BACKEND_QEMU; i++) {
		assert_int_equal(vm_backend_parse(vm_backend_name((enum vm_backend_kind)i), &k), 0);
		assert_int_equal(k, i);
	}
	for (int i = VM_ACCEL_AUTO; i <= VM_ACCEL_TCG; i++) {
		assert_int_equal(vm_accel_parse(vm_accel_name((enum vm_accel)i), &a), 0);
		assert_int_equal(a, i);
	}
	assert_string_equal(vm_backend_name((enum vm_backend_kind)7), "auto");
	assert_string_equal(vm_accel_name((enum vm_accel)7), "auto");
	const char *machines[] = {"auto", "pc", "microvm"};
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vm_machine_parse(machines[i], &m), 0);
		assert_int_equal(m, i);
	}
	/* Exact names only: no prefix, no empty string. */
	assert_int_equal(vm_machine_parse("", &m), -EINVAL);
	assert_int_equal(vm_backend_parse("qem", &k), -EINVAL);
	assert_int_equal(vm_accel_parse("tcgx", &a), -EINVAL);
	/* the test harness is never a name a user gives */
	assert_int_equal(vm_backend_parse("host-agent", &k), -EINVAL);
	assert_string_equal(vm_backend_name(VM_BACKEND_HOST_AGENT), "host-agent");
	assert_ptr_equal(vm_backend_ops_of(VM_BACKEND_HOST_AGENT), &vm_backend_host_agent);
	assert_null(vm_backend_ops_of(VM_BACKEND_AUTO));
}

static void test_fd_above_stdio(void **state)
{
	int saved = dup(0);
	close(0);
	int fd = open("/dev/null", O_RDONLY); /* lands on 0 */
	assert_int_equal(fd, 0);
	int moved = vm_fd_above_stdio(fd);
	assert_true(moved > 2);
	assert_int_equal(fcntl(0, F_GETFD), -1); /* the low fd was closed */
	assert_true(fcntl(moved, F_GETFD) & FD_CLOEXEC);
	close(moved);
	assert_int_equal(vm_fd_above_stdio(7), 7); /* already above: untouched */
	assert_int_equal(vm_fd_above_stdio(-5), -5);
	dup2(saved, 0);
	close(saved);
}

static void test_spawn_reap_and_exec_failure(void **state)
{
	struct vm *v = calloc(1, sizeof(*v));
	char *ok[] = {"/bin/sh", "-c", "exit 0", NULL};
	char *bad[] = {"/nonexistent/runm-test-binary", NULL};
	int log = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int high = vm_fd_above_stdio(log);
	assert_int_equal(vm_spawn(v, "sh", ok, high, NULL, 0, 0, NULL), 0);
	assert_int_equal(v->nproc, 1);
	assert_true(v->pgid > 0);
	assert_int_equal(vm_spawn(v, "missing", bad, high, NULL, 0, 0, NULL), -ENOENT);
	assert_int_equal(v->nproc, 1); /* the failed one is not tracked */
	int st = -1;
	assert_int_equal(vm_wait(v, 5000, &st), 1);
	assert_int_equal(st, 0); /* the "VMM" (proc 0) exited 0 */
	assert_true(v->ended);
	close(high);
	vm_free(v);
}

static void test_killed_vmm_is_a_failure(void **state)
{
	struct vm *v = calloc(1, sizeof(*v));
	char *sleeper[] = {"/bin/sleep", "30", NULL};
	int log = vm_fd_above_stdio(open("/dev/null", O_WRONLY | O_CLOEXEC));
	assert_int_equal(vm_spawn(v, "vmm", sleeper, log, NULL, 0, VM_SPAWN_NO_CAPS, NULL), 0);
	assert_int_equal(vm_spawn(v, "device server", sleeper, log, NULL, 0, 0, NULL), 0);
	int st = -1;
	assert_int_equal(vm_wait(v, 50, &st), 0); /* still running */
	/* VM_SPAWN_NO_CAPS: no capability at all, even as root. */
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", v->proc[0].pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	unsigned long long eff = ~0ull, bnd = ~0ull;
	int nnp = -1;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "CapEff: %llx", &eff);
		sscanf(line, "CapBnd: %llx", &bnd);
		sscanf(line, "NoNewPrivs: %d", &nnp);
	}
	fclose(f);
	assert_int_equal(eff, 0);
	assert_int_equal(bnd, 0);
	assert_int_equal(nnp, 1);
	kill(v->proc[1].pid, SIGKILL); /* a device server dies */
	assert_int_equal(vm_wait(v, 5000, &st), 1);
	assert_int_equal(st, 1);
	/* Every process is gone and reaped. */
	for (unsigned i = 0; i < v->nproc; i++) {
		assert_true(v->proc[i].reaped);
		assert_int_equal(kill(v->proc[i].pid, 0), -1);
	}
	close(log);
	vm_free(v);
}

static void test_start_validates_before_starting(void **state)
{
	struct vm *v = NULL;
	char dir[] = "/tmp/test-vhost-backend-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct vm_config c = {.kernel = "/nonexistent/vmlinux", .run_dir = dir, .backend = VM_BACKEND_QEMU};
	assert_int_equal(vm_start(&c, &v), -ENOENT);
	c.kernel = "/proc/self/exe"; /* readable */
	c.n_fs = VM_MAX_FS + 1;
	assert_int_equal(vm_start(&c, &v), -EINVAL);
	c.n_fs = 1;
	c.fs[0] = (struct vm_fs_share){.tag = "share", .dir = "/nonexistent/dir"};
	assert_int_equal(vm_start(&c, &v), -EINVAL);
	c.fs[0].dir = "/proc/self/exe"; /* not a directory */
	assert_int_equal(vm_start(&c, &v), -EINVAL);
	struct vm_config none = {.kernel = "/proc/self/exe"}; /* neither vsock nor run_dir */
	assert_int_equal(vm_start(&none, &v), -EINVAL);
	assert_null(v);
	/* Nothing was created. */
	assert_int_equal(rmdir(dir), 0);
}

/* A start that fails before any process exists (its log cannot be created: the run directory is
 * gone) returns the error at once; it used to wait forever for no process (poll of nothing). */
static void test_start_failing_before_any_process_returns(void **state)
{
	struct vm *v = NULL;
	static const enum vm_backend_kind kinds[] = {VM_BACKEND_QEMU, VM_BACKEND_RUNM_VMM};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct vm_config c = {
		    .kernel = "/proc/self/exe", .run_dir = "/nonexistent/run", .backend = kinds[i]};
		alarm(10); /* a hang is a failure, not a stuck test run */
		assert_int_equal(vm_start(&c, &v), -ENOENT);
		alarm(0);
		assert_null(v);
	}
}

int main(void)
{
	log_set_prog("test_vhost_backend");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_fd_above_stdio),
	    cmocka_unit_test(test_spawn_reap_and_exec_failure),
	    cmocka_unit_test(test_killed_vmm_is_a_failure),
	    cmocka_unit_test(test_start_validates_before_starting),
	    cmocka_unit_test(test_start_failing_before_any_process_returns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
