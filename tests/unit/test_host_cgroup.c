/* SPDX-License-Identifier: Apache-2.0 */
/* runtime/host_cgroup: which host cgroup a spec's cgroupsPath names (hostile paths refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "runtime/host_cgroup.h"

static int path_of(const char *cgpath, char *out, size_t outlen, char *err, size_t errlen)
{
	char doc[8192];
	if (cgpath)
		snprintf(doc, sizeof(doc), "{\"linux\":{\"cgroupsPath\":\"%s\"}}", cgpath);
	else
		snprintf(doc, sizeof(doc), "{\"linux\":{}}");
	struct spec s;
	memset(&s, 0, sizeof(s));
	char perr[128];
	s.root = json_parse(doc, strlen(doc), perr, sizeof(perr));
	assert_non_null(s.root);
	int r = host_cgroup_path(&s, "ctr1", NULL, out, outlen, err, errlen);
	yajl_tree_free(s.root);
	return r;
}

static void expect(const char *cgpath, const char *want)
{
	char out[4096], err[256] = "";
	assert_int_equal(path_of(cgpath, out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, want);
}

static void refuse(const char *cgpath, const char *why)
{
	char out[4096], err[256] = "";
	assert_int_equal(path_of(cgpath, out, sizeof(out), err, sizeof(err)), -1);
	assert_non_null(strstr(err, why));
}

static void test_engines_paths(void **st)
{
	(void)st;
	expect(NULL, "/runm/ctr1");
	expect("", "/runm/ctr1");
	expect("/libpod_parent/libpod-abc", "/libpod_parent/libpod-abc");
	expect("/docker/0123", "/docker/0123");
	expect("k8s.io/0123", "/k8s.io/0123"); /* relative as runc: below the hierarchy's root */
}

/* no cgroupsPath: the default root's containers are /runm/<id>; another root's get a suffix of
 * their own, so the same id under two roots never shares (and never kills) a group */
static void test_default_path_per_root(void **st)
{
	(void)st;
	struct spec s;
	memset(&s, 0, sizeof(s));
	char perr[128], a[256], b[256], c[256], err[256];
	s.root = json_parse("{}", 2, perr, sizeof(perr));
	assert_non_null(s.root);
	assert_int_equal(host_cgroup_path(&s, "c1", "/run/runm", a, sizeof(a), err, sizeof(err)), 0);
	assert_string_equal(a, "/runm/c1");
	assert_int_equal(host_cgroup_path(&s, "c1", "/tmp/t1/root", b, sizeof(b), err, sizeof(err)), 0);
	assert_int_equal(host_cgroup_path(&s, "c1", "/tmp/t2/root", c, sizeof(c), err, sizeof(err)), 0);
	assert_int_equal(strncmp(b, "/runm/c1-", 9), 0);
	assert_int_equal(strlen(b), strlen("/runm/c1-") + 8);
	assert_string_not_equal(b, c);
	assert_int_equal(host_cgroup_path(&s, "c1", "/tmp/t1/root", c, sizeof(c), err, sizeof(err)), 0);
	assert_string_equal(b, c); /* stable */
	yajl_tree_free(s.root);
}

static void test_systemd_form(void **st)
{
	(void)st;
	expect("system.slice:docker:abc", "/system.slice/docker-abc.scope");
	expect("machine-libpod_pod_1.slice:libpod:abc",
	       "/machine.slice/machine-libpod_pod_1.slice/libpod-abc.scope");
	expect("a-b-c.slice:p:n", "/a.slice/a-b.slice/a-b-c.slice/p-n.scope");
	expect("-.slice:p:n", "/p-n.scope");
	refuse("system:docker:abc", "is not a slice");
	refuse("system.slice:docker", "expected slice:prefix:name");
}

static void test_hostile_paths(void **st)
{
	(void)st;
	refuse("/a/../../etc", "must not contain \"..\"");
	refuse("/a/..", "must not contain \"..\"");
	refuse("/a//b", "empty components");
	char big[3000];
	memset(big, 'x', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	char out[64], err[256];
	assert_int_equal(path_of(big, out, sizeof(out), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too long"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_engines_paths),
	    cmocka_unit_test(test_default_path_per_root),
	    cmocka_unit_test(test_systemd_form),
	    cmocka_unit_test(test_hostile_paths),
	};
	return cmocka_run_group_tests_name("runtime/host_cgroup", tests, NULL, NULL);
}
