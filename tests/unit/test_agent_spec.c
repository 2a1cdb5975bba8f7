/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for agent/spec.c: OCI config → struct spec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "agent/spec.h"

static const char *runc_cfg =
    "{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":true,\"consoleSize\":{\"height\":24,\"width\":80},"
    "\"user\":{\"uid\":1000,\"gid\":100,\"additionalGids\":[5,6]},\"args\":[\"sh\",\"-c\",\"x\"],"
    "\"env\":[\"PATH=/bin\",\"A=b\"],\"cwd\":\"/"
    "work\",\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_NET_RAW\"],"
    "\"effective\":[\"CAP_KILL\"],\"ambient\":[\"CAP_FUTURE_THING\"]},\"rlimits\":[{\"type\":\"RLIMIT_"
    "NOFILE\","
    "\"hard\":2048,\"soft\":1024}],\"noNewPrivileges\":true,\"oomScoreAdj\":-17},"
    "\"root\":{\"path\":\"rootfs\",\"readonly\":true},\"hostname\":\"h\","
    "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
    "{\"destination\":\"/"
    "dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"strictatime\","
    "\"mode=755\",\"size=65536k\"]},{\"destination\":\"/data\",\"source\":\"/"
    "srv\",\"options\":[\"rbind\",\"ro\","
    "\"rprivate\"]}],\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":"
    "\"network\","
    "\"path\":\"/proc/1/ns/net\"}],\"maskedPaths\":[\"/proc/kcore\"],\"readonlyPaths\":[\"/proc/sys\",\"/"
    "proc/bus\"],"
    "\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"},\"rootfsPropagation\":\"rshared\",\"resources\":{\"pids\":{"
    "\"limit\":5}}}}";

static void parses_runc_config(void **state)
{
	struct spec s;
	char err[512];
	int r = spec_parse(runc_cfg, "/bundles/b", &s, err, sizeof(err));
	assert_int_equal(r, 0);
	assert_string_equal(s.root_path, "/bundles/b/rootfs");
	assert_true(s.root_ro);
	assert_string_equal(s.hostname, "h");
	assert_string_equal(s.proc.args[2], "x");
	assert_null(s.proc.args[3]);
	assert_string_equal(s.proc.env[1], "A=b");
	assert_string_equal(s.proc.cwd, "/work");
	assert_int_equal(s.proc.uid, 1000);
	assert_int_equal(s.proc.gid, 100);
	assert_int_equal(s.proc.ngids, 2);
	assert_int_equal(s.proc.gids[1], 6);
	assert_true(s.proc.terminal);
	assert_int_equal(s.proc.rows, 24);
	assert_int_equal(s.proc.cols, 80);
	assert_true(s.proc.has_caps);
	assert_int_equal(s.proc.caps[0], (1ULL << 5) | (1ULL << 13));
	assert_int_equal(s.proc.caps[1], 1ULL << 5);
	assert_int_equal(s.proc.caps[4], 0); /* unknown names ignored */
	assert_int_equal(s.proc.nrlimits, 1);
	assert_int_equal(s.proc.rlimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(s.proc.rlimits[0].soft, 1024);
	assert_int_equal(s.proc.rlimits[0].hard, 2048);
	assert_true(s.proc.no_new_privs);
	assert_true(s.proc.has_oom);
	assert_int_equal(s.proc.oom_score_adj, -17);
	assert_int_equal(s.nmounts, 3);
	assert_string_equal(s.mounts[1].data, "mode=755,size=65536k");
	assert_int_equal(s.mounts[1].flags, MS_NOSUID | MS_STRICTATIME);
	assert_true(s.mounts[2].bind);
	assert_int_equal(s.mounts[2].flags, MS_BIND | MS_REC | MS_RDONLY);
	assert_int_equal(s.mounts[2].propagation, MS_PRIVATE | MS_REC);
	assert_true(s.ns_new[NS_PID] && s.ns_new[NS_MNT] && !s.ns_new[NS_NET] && !s.ns_new[NS_UTS]);
	assert_string_equal(s.ns_path[NS_NET], "/proc/1/ns/net");
	assert_int_equal(s.nmasked, 1);
	assert_int_equal(s.nreadonly, 2);
	assert_string_equal(s.sysctl[0].key, "net.ipv4.ip_forward");
	assert_int_equal(s.rootfs_propagation, MS_SHARED | MS_REC);
	assert_non_null(s.resources);
	spec_free(&s);
}

static void rejects_bad_configs(void **state)
{
	static const struct {
		const char *json, *bundle, *want;
	} cases[] = {
	    {"{", "/b", "invalid JSON"},
	    {"[]", "/b", "not a JSON object"},
	    {"{\"root\":{\"path\":\"r\"}}", "/b", "process"},
	    {"{\"process\":{\"args\":[]},\"root\":{\"path\":\"r\"}}", "/b", "process.args"},
	    {"{\"process\":{\"args\":[1]},\"root\":{\"path\":\"r\"}}", "/b", "process.args[0]"},
	    {"{\"process\":{\"args\":[\"a\"],\"cwd\":\"rel\"},\"root\":{\"path\":\"r\"}}", "/b", "cwd"},
	    {"{\"process\":{\"args\":[\"a\"]},\"root\":{\"path\":\"r\"}}", NULL, "relative"},
	    {"{\"process\":{\"args\":[\"a\"]}}", "/b", "root.path"},
	    {"{\"process\":{\"args\":[\"a\"],\"rlimits\":[{\"type\":\"RLIMIT_BOGUS\",\"soft\":1,\"hard\":1}]}"
	     ","
	     "\"root\":{\"path\":\"/r\"}}",
	     NULL, "RLIMIT_BOGUS"},
	    {"{\"process\":{\"args\":[\"a\"],\"user\":{\"uid\":-1}},\"root\":{\"path\":\"/r\"}}", NULL,
	     "uid"},
	    {"{\"process\":{\"args\":[\"a\"],\"oomScoreAdj\":5000},\"root\":{\"path\":\"/r\"}}", NULL,
	     "oomScoreAdj"},
	    {"{\"process\":{\"args\":[\"a\"]},\"root\":{\"path\":\"/"
	     "r\"},\"linux\":{\"namespaces\":[{\"type\":\"x\"}]}}",
	     NULL, "unknown type x"},
	    {"{\"process\":{\"args\":[\"a\"]},\"root\":{\"path\":\"/"
	     "r\"},\"linux\":{\"namespaces\":[{\"type\":\"time\"}]}}",
	     NULL, "not supported"},
	    {"{\"process\":{\"args\":[\"a\"]},\"root\":{\"path\":\"/"
	     "r\"},\"linux\":{\"namespaces\":[{\"type\":\"user\"}]}}",
	     NULL, "no uid mappings found"},
	    {"{\"process\":{\"args\":[\"a\"]},\"root\":{\"path\":\"/"
	     "r\"},\"linux\":{\"namespaces\":[{\"type\":\"user\","
	     "\"path\":\"/proc/9/ns/user\"}]}}",
	     NULL, "joining a user namespace by path is not supported"},
	    {"{\"process\":{\"args\":[\"a\"]},\"root\":{\"path\":\"/"
	     "r\"},\"mounts\":[{\"destination\":\"rel\"}]}",
	     NULL, "mounts[0]"},
	    {"{\"process\":{\"args\":[\"a\"]},\"root\":{\"path\":\"/r\"},\"linux\":{\"sysctl\":{\"../"
	     "x\":\"1\"}}}",
	     NULL, "sysctl"},
	    {"{\"process\":{\"args\":[\"a\"]},\"root\":{\"path\":\"/"
	     "r\"},\"linux\":{\"rootfsPropagation\":\"weird\"}}",
	     NULL, "rootfsPropagation"},
	    {"{\"process\":{\"args\":[\"a\"]},\"root\":{\"path\":\"/"
	     "r\"},\"linux\":{\"devices\":[{\"path\":\"/etc/x\","
	     "\"type\":\"c\",\"major\":1,\"minor\":3}]}}",
	     NULL, "must be under /dev/"},
	    {"{\"process\":{\"args\":[\"a\"]},\"root\":{\"path\":\"/"
	     "r\"},\"linux\":{\"devices\":[{\"path\":\"/dev/x\","
	     "\"type\":\"c\",\"major\":1}]}}",
	     NULL, "major/minor"},
	    {"{\"process\":{\"args\":[\"a\"]},\"root\":{\"path\":\"/"
	     "r\"},\"linux\":{\"devices\":[{\"path\":\"/dev/x\","
	     "\"type\":\"z\"}]}}",
	     NULL, "type must be"},
	    {"{\"process\":{\"args\":[\"a\"],\"user\":{\"umask\":4096}},\"root\":{\"path\":\"/r\"}}", NULL,
	     "umask"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spec s;
		char err[512] = "";
		assert_int_equal(spec_parse(cases[i].json, cases[i].bundle, &s, err, sizeof(err)), -1);
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, cases[i].want);
		assert_null(s.root);
	}
}

/* A user namespace: new with mappings, or another container's (a pod member's) without. */
static void user_namespaces(void **state)
{
	struct spec s;
	char err[512];
	const char *fresh =
	    "{\"process\":{\"args\":[\"a\"]},\"root\":{\"path\":\"/r\"},\"linux\":{\"namespaces\":["
	    "{\"type\":\"user\"},{\"type\":\"pid\"}],\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,"
	    "\"size\":10}],\"gidMappings\":[{\"containerID\":0,\"hostID\":2000,\"size\":10}]}}";
	assert_int_equal(spec_parse(fresh, NULL, &s, err, sizeof(err)), 0);
	assert_true(s.ns_new[NS_USER]);
	assert_int_equal(s.userns.nuid, 1);
	assert_int_equal(s.userns.gid[0].outside, 2000);
	spec_free(&s);
	const char *member =
	    "{\"process\":{\"args\":[\"a\"]},\"root\":{\"path\":\"/r\"},\"linux\":{\"namespaces\":["
	    "{\"type\":\"user\",\"container\":\"sb\"}]}}";
	assert_int_equal(spec_parse(member, NULL, &s, err, sizeof(err)), 0);
	assert_false(s.ns_new[NS_USER]);
	assert_string_equal(s.ns_ctr[NS_USER], "sb");
	assert_int_equal(s.userns.nuid, 0);
	spec_free(&s);
}

static void exec_process_json(void **state)
{
	yajl_val tree;
	struct spec_process p;
	char err[256];
	assert_int_equal(
	    spec_process_parse_json("{\"args\":[\"ls\"],\"terminal\":false}", &tree, &p, err, sizeof(err)),
	    0);
	assert_string_equal(p.cwd, "/");
	assert_non_null(p.env);
	assert_null(p.env[0]);
	assert_false(p.has_caps);
	spec_process_free(&p);
	yajl_tree_free(tree);
	assert_int_equal(
	    spec_process_parse_json("{\"args\":[\"ls\"],\"terminal\":\"yes\"}", &tree, &p, err, sizeof(err)),
	    -1);
	assert_null(tree);
	assert_int_equal(spec_process_parse_json("{\"args\":\"ls\"}", &tree, &p, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parses_runc_config),
	    cmocka_unit_test(rejects_bad_configs),
	    cmocka_unit_test(user_namespaces),
	    cmocka_unit_test(exec_process_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
