/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for runm-vmm's command line / JSON configuration and the control
 * socket's request handling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/vm.h"

static int parse(struct vm_config *c, ...)
{
	char *argv[32] = {"runm-vmm"};
	int argc = 1;
	va_list ap;
	va_start(ap, c);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	return vm_config_parse(c, argc, argv);
}

static void test_defaults_and_flags(void **state)
{
	struct vm_config c;
	assert_int_equal(parse(&c, "--kernel", "/k", (char *)NULL), 0);
	assert_string_equal(c.kernel, "/k");
	assert_int_equal(c.cpus, 1);
	assert_int_equal(c.mem_mib, 128);
	assert_int_equal(c.vsock_cid, 3);
	assert_int_equal(c.console, CONSOLE_STDIO);
	assert_null(c.cmdline);
	assert_int_equal(vm_planned_devices(&c), 0);
	vm_config_free(&c);
	assert_int_equal(parse(&c, "--kernel", "/k", "--cpus", "4", "--mem", "256", "--vsock-uds",
			       "/run/v.sock", "--vsock-cid", "7", "--fs", "root=/srv", "--fs", "data=/d",
			       "--rng", "--console", "off", "--initrd", "/i", "--cmdline", "a b",
			       "--no-seccomp", (char *)NULL),
			 0);
	assert_int_equal(c.cpus, 4);
	assert_int_equal(c.mem_mib, 256);
	assert_string_equal(c.vsock_uds, "/run/v.sock");
	assert_int_equal(c.vsock_cid, 7);
	assert_int_equal(c.n_fs, 2);
	assert_string_equal(c.fs[1], "data=/d");
	assert_true(c.rng);
	assert_true(c.no_seccomp);
	assert_int_equal(c.console, CONSOLE_OFF);
	assert_string_equal(c.cmdline, "a b");
	assert_int_equal(vm_planned_devices(&c), 4);
	vm_config_free(&c);
	/* NICs come after the other devices, in order */
	assert_int_equal(parse(&c, "--kernel", "/k", "--rng", "--net", "tapfd=5,mac=02:00:00:00:00:01",
			       "--net", "tap=t1,mtu=9000", (char *)NULL),
			 0);
	assert_int_equal(c.n_net, 2);
	assert_string_equal(c.net[0], "tapfd=5,mac=02:00:00:00:00:01");
	assert_string_equal(c.net[1], "tap=t1,mtu=9000");
	assert_int_equal(vm_planned_devices(&c), 3);
	vm_config_free(&c);
	/* 8 shares + 8 NICs + vsock + rng: more than the machine has windows for */
	char *many[40] = {"x", "--kernel", "/k", "--rng", "--vsock-uds", "/v"};
	int na = 6;
	for (int i = 0; i < 8; i++) {
		many[na++] = "--fs";
		many[na++] = "t=/d";
		many[na++] = "--net";
		many[na++] = "tapfd=9";
	}
	many[na] = NULL;
	assert_int_equal(vm_config_parse(&c, na, many), -1);
	vm_config_free(&c);
	assert_int_equal(parse(&c, "--kernel", "/k", "--console", "/tmp/log", (char *)NULL), 0);
	assert_int_equal(c.console, CONSOLE_FILE);
	assert_string_equal(c.console_path, "/tmp/log");
	vm_config_free(&c);
}

static void test_bad_flags(void **state)
{
	struct vm_config c;
	char longpath[200];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = 0;
	const char *bad[][3] = {
	    {"--cpus", "0", NULL},	{"--cpus", "33", NULL},		 {"--cpus", "-1", NULL},
	    {"--mem", "0", NULL},	{"--mem", "12x", NULL},		 {"--vsock-cid", "2", NULL},
	    {"--fs", "noequals", NULL}, {"--fs", "=dir", NULL},		 {"--fs", "a=b,c", NULL},
	    {"--console", "", NULL},	{"--vsock-uds", longpath, NULL}, {"--control", "", NULL},
	    {"--net", "", NULL},	{"--net", ",mac=x", NULL},	 {"--net", "tapfd=3,,mtu=9", NULL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&c, "--kernel", "/k", bad[i][0], bad[i][1], (char *)NULL), -1);
		vm_config_free(&c);
	}
	assert_int_equal(parse(&c, (char *)NULL), -1); /* no kernel */
	vm_config_free(&c);
	assert_int_equal(parse(&c, "--kernel", "/k", "extra", (char *)NULL), -1);
	vm_config_free(&c);
	assert_int_equal(parse(&c, "--help", (char *)NULL), 1);
	vm_config_free(&c);
}

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/runm-vmm-test-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_json(void **state)
{
	struct vm_config c;
	char *p = write_tmp("{\"kernel\":\"/vmlinux\",\"mem\":64,\"cpus\":2,\"rng\":true,"
			    "\"fs\":[\"a=/x\",\"b=/y\"],\"vsock-uds\":\"/v\",\"console\":\"off\","
			    "\"net\":[\"tapfd=7\",\"tap=x,mtu=1400\"]}");
	assert_int_equal(parse(&c, "--config", p, "--cpus", "3", (char *)NULL), 0);
	assert_string_equal(c.kernel, "/vmlinux");
	assert_int_equal(c.mem_mib, 64);
	assert_int_equal(c.cpus, 3); /* later flag wins */
	assert_true(c.rng);
	assert_int_equal(c.n_fs, 2);
	assert_string_equal(c.vsock_uds, "/v");
	assert_int_equal(c.n_net, 2);
	assert_string_equal(c.net[1], "tap=x,mtu=1400");
	vm_config_free(&c);
	unlink(p);
	free(p);
	const char *bad[] = {"[1,2]",
			     "{\"kernel\":",
			     "{\"mem\":\"lots\"}",
			     "{\"cpus\":1.5}",
			     "{\"rng\":\"yes\",\"kernel\":\"k\"}",
			     "{\"unknown\":1}",
			     "{\"fs\":[1]}",
			     "{\"net\":[7]}",
			     "{\"config\":\"/etc/x\"}",
			     "{\"colour\":true}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = write_tmp(bad[i]);
		assert_int_equal(parse(&c, "--config", p, (char *)NULL), -1);
		vm_config_free(&c);
		unlink(p);
		free(p);
	}
	assert_int_equal(parse(&c, "--config", "/nonexistent/x.json", (char *)NULL), -1);
	vm_config_free(&c);
}

static void test_control_requests(void **state)
{
	struct vm_config cfg = {0};
	struct vm vm;
	char out[1024];
	memset(&vm, 0, sizeof(vm));
	vm.cfg = &cfg;
	vm.ncpus = 0; /* no vCPU threads: pause completes at once */
	vm.ram_size = 64ull << 20;
	vm.kvm_fd = vm.vm_fd = -1;
	atomic_init(&vm.state, VM_RUNNING);
	atomic_init(&vm.exit_code, -1);
	pthread_mutex_init(&vm.lock, NULL);
	pthread_cond_init(&vm.cond, NULL);
	assert_int_equal(control_handle(&vm, "{\"cmd\":\"status\"}", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"state\":\"running\""));
	assert_non_null(strstr(out, "\"memory_mib\":64"));
	assert_int_equal(control_handle(&vm, "{\"cmd\":\"pause\"}", out, sizeof(out)), 0);
	assert_string_equal(out, "{\"ok\":true,\"state\":\"paused\"}\n");
	assert_int_equal(atomic_load(&vm.state), VM_PAUSED);
	assert_int_equal(control_handle(&vm, "{\"cmd\":\"resume\"}", out, sizeof(out)), 0);
	assert_int_equal(atomic_load(&vm.state), VM_RUNNING);
	assert_int_equal(control_handle(&vm, "nonsense", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"ok\":false"));
	assert_int_equal(control_handle(&vm, "{\"cmd\":7}", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "missing"));
	assert_int_equal(control_handle(&vm, "{\"cmd\":\"x\\\"y\"}", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "unknown cmd \\\"x?y\\\""));
	assert_int_equal(control_handle(&vm, "{\"cmd\":\"stop\"}", out, sizeof(out)), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_and_flags),
	    cmocka_unit_test(test_bad_flags),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_control_requests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
