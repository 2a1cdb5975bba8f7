/* SPDX-License-Identifier: Apache-2.0 */
/* runtime/pod.c: who is a pod's sandbox, who joins one (containerd, CRI-O, podman, override),
 * the pod VM's size from containerd's sandbox annotations, namespace paths naming the sandbox. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/pod.h"
#include "runtime/runm.h"
#include "runtime/spec.h"

struct globals G = {.root = "/tmp", .log_format = "text"};
int usage_error(const char *verb, const char *fmt, ...)
{
	return 1;
}

static void load(struct spec *s, const char *annotations, const char *namespaces)
{
	char json[4096], err[256];
	snprintf(json, sizeof(json),
		 "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/"
		 "\"},\"root\":{\"path\":\"rootfs\"},"
		 "\"annotations\":{%s},\"linux\":{\"namespaces\":[%s]}}",
		 annotations, namespaces ? namespaces : "");
	int r = spec_parse(json, "/b", s, err, sizeof(err));
	if (r < 0)
		fail_msg("spec_parse: %s", err);
}

static int classify(const char *ann, const char *id, struct pod_info *pi, char *err)
{
	struct spec s;
	load(&s, ann, NULL);
	int r = pod_classify(&s, id, pi, err, 256);
	spec_free(&s);
	return r;
}

static void test_roles(void **st)
{
	struct pod_info pi;
	char err[256] = "";
	assert_int_equal(classify("", "c1", &pi, err), 0);
	assert_int_equal(pi.role, POD_NONE);
	/* containerd */
	assert_int_equal(
	    classify(
		"\"io.kubernetes.cri.container-type\":\"sandbox\",\"io.kubernetes.cri.sandbox-id\":\"sb\"",
		"sb", &pi, err),
	    0);
	assert_int_equal(pi.role, POD_SANDBOX);
	assert_string_equal(pi.sandbox, "sb");
	assert_int_equal(
	    classify(
		"\"io.kubernetes.cri.container-type\":\"container\",\"io.kubernetes.cri.sandbox-id\":\"sb\"",
		"c1", &pi, err),
	    0);
	assert_int_equal(pi.role, POD_MEMBER);
	assert_string_equal(pi.sandbox, "sb");
	assert_int_equal(classify("\"io.kubernetes.cri.container-type\":\"container\"", "c1", &pi, err), -1);
	assert_non_null(strstr(err, "gives no sandbox id"));
	assert_int_equal(classify("\"io.kubernetes.cri.container-type\":\"pod\"", "c1", &pi, err), -1);
	assert_string_equal(err,
			    "annotation io.kubernetes.cri.container-type=\"pod\": want sandbox or container");
	/* CRI-O */
	assert_int_equal(classify("\"io.kubernetes.cri-o.ContainerType\":\"container\",\"io.kubernetes.cri-o."
				  "SandboxID\":\"s2\"",
				  "c2", &pi, err),
			 0);
	assert_int_equal(pi.role, POD_MEMBER);
	assert_string_equal(pi.sandbox, "s2");
	assert_int_equal(
	    classify(
		"\"io.kubernetes.cri-o.ContainerType\":\"sandbox\",\"io.kubernetes.cri-o.SandboxID\":\"s2\"",
		"s2", &pi, err),
	    0);
	assert_int_equal(pi.role, POD_SANDBOX);
	/* podman: SandboxID alone; the infra container names itself */
	assert_int_equal(classify("\"io.kubernetes.cri-o.SandboxID\":\"infra1\"", "infra1", &pi, err), 0);
	assert_int_equal(pi.role, POD_SANDBOX);
	assert_int_equal(classify("\"io.kubernetes.cri-o.SandboxID\":\"infra1\"", "web", &pi, err), 0);
	assert_int_equal(pi.role, POD_MEMBER);
	assert_string_equal(pi.sandbox, "infra1");
	/* override first */
	assert_int_equal(
	    classify("\"io.runm.pod.role\":\"none\",\"io.kubernetes.cri.container-type\":\"container\"", "c1",
		     &pi, err),
	    0);
	assert_int_equal(pi.role, POD_NONE);
	assert_int_equal(
	    classify("\"io.runm.pod.role\":\"member\",\"io.runm.pod.sandbox\":\"x\"", "c1", &pi, err), 0);
	assert_int_equal(pi.role, POD_MEMBER);
	assert_string_equal(pi.sandbox, "x");
	assert_int_equal(classify("\"io.runm.pod.role\":\"sandbox\"", "me", &pi, err), 0);
	assert_int_equal(pi.role, POD_SANDBOX);
	assert_string_equal(pi.sandbox, "me");
	assert_int_equal(classify("\"io.runm.pod.role\":\"boss\"", "c1", &pi, err), -1);
	assert_int_equal(
	    classify("\"io.runm.pod.role\":\"member\",\"io.runm.pod.sandbox\":\"../x\"", "c1", &pi, err), -1);
	assert_non_null(strstr(err, "is not a valid container id"));
	assert_string_equal(pod_role_name(POD_MEMBER), "member");
}

static void test_sandbox_size(void **st)
{
	struct spec s;
	char err[256];
	long long mem = 0, q = 0, p = 100000;
	load(&s,
	     "\"io.kubernetes.cri.sandbox-memory\":\"536870912\",\"io.kubernetes.cri.sandbox-cpu-quota\":"
	     "\"150000\","
	     "\"io.kubernetes.cri.sandbox-cpu-period\":\"50000\"",
	     NULL);
	assert_int_equal(pod_sandbox_size(&s, &mem, &q, &p, err, sizeof(err)), 0);
	assert_int_equal(mem, 536870912);
	assert_int_equal(q, 150000);
	assert_int_equal(p, 50000);
	/* the spec's own limits win */
	mem = 1 << 20;
	q = 0;
	assert_int_equal(pod_sandbox_size(&s, &mem, &q, &p, err, sizeof(err)), 0);
	assert_int_equal(mem, 1 << 20);
	spec_free(&s);
	load(&s, "\"io.kubernetes.cri.sandbox-memory\":\"lots\"", NULL);
	mem = 0;
	assert_int_equal(pod_sandbox_size(&s, &mem, &q, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "io.kubernetes.cri.sandbox-memory=\"lots\""));
	spec_free(&s);
}

static void test_member_joins(void **st)
{
	struct spec s;
	bool ipc, uts;
	char ns[512], err[512];
	int me = getpid();
	snprintf(ns, sizeof(ns),
		 "{\"type\":\"ipc\",\"path\":\"/proc/%d/ns/ipc\"},{\"type\":\"uts\"},"
		 "{\"type\":\"network\",\"path\":\"/proc/%d/ns/net\"}",
		 me, me);
	load(&s, "", ns);
	assert_int_equal(pod_ns_paths(&s, me, &ipc, &uts, err, sizeof(err)), 0);
	assert_true(ipc);
	assert_false(uts);
	spec_free(&s);
	/* the same namespace by another name (inode match); the sandbox's pid namespace is fine
	 * (the member's own in the guest) */
	snprintf(ns, sizeof(ns),
		 "{\"type\":\"uts\",\"path\":\"/proc/self/ns/uts\"},{\"type\":\"pid\",\"path\":\"/proc/%d/ns/"
		 "pid\"}",
		 me);
	load(&s, "", ns);
	assert_int_equal(pod_ns_paths(&s, me, &ipc, &uts, err, sizeof(err)), 0);
	assert_true(uts);
	assert_false(ipc);
	spec_free(&s);
	/* a namespace that is not the sandbox's: a clear error naming it */
	snprintf(ns, sizeof(ns), "{\"type\":\"ipc\",\"path\":\"/nonexistent\"}");
	load(&s, "", ns);
	assert_int_equal(pod_ns_paths(&s, me, &ipc, &uts, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ipc namespace /nonexistent: a namespace on the host cannot be joined"));
	spec_free(&s);
}

static void test_standalone_ns_paths(void **st)
{
	struct spec s;
	bool ipc, uts;
	char err[512];
	/* the host's netns is joined by the shim: fine; a host ipc namespace cannot be */
	load(&s, "", "{\"type\":\"network\",\"path\":\"/proc/1/ns/net\"},{\"type\":\"mount\"}");
	assert_int_equal(pod_ns_paths(&s, -1, &ipc, &uts, err, sizeof(err)), 0);
	spec_free(&s);
	load(&s, "", "{\"type\":\"network\"},{\"type\":\"uts\",\"path\":\"/proc/1/ns/uts\"}");
	assert_int_equal(pod_ns_paths(&s, -1, &ipc, &uts, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "uts namespace /proc/1/ns/uts"));
	spec_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_roles), cmocka_unit_test(test_sandbox_size),
					   cmocka_unit_test(test_member_joins),
					   cmocka_unit_test(test_standalone_ns_paths)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
