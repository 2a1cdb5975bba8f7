/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for agent/userns.c: uid/gid mappings parsed as runc checks them, the map text,
 * and (as root) maps written into a child's new user namespace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "agent/userns.h"
#include "json.h"

static yajl_val linux_of(const char *json)
{
	char perr[128];
	yajl_val t = json_parse(json, strlen(json), perr, sizeof(perr));
	assert_non_null(t);
	return t;
}

static const char *ok_maps = "{\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
			     "\"gidMappings\":[{\"containerID\":0,\"hostID\":200000,\"size\":1},"
			     "{\"containerID\":1,\"hostID\":300000,\"size\":10}]}";

static void parses_mappings(void **state)
{
	yajl_val t = linux_of(ok_maps);
	struct userns_maps m;
	char err[256];
	assert_int_equal(userns_parse(t, true, false, &m, err, sizeof(err)), 0);
	assert_int_equal(m.nuid, 1);
	assert_int_equal(m.ngid, 2);
	assert_int_equal(m.uid[0].outside, 100000);
	assert_int_equal(m.uid[0].count, 65536);
	assert_int_equal(m.gid[1].inside, 1);
	assert_int_equal(m.gid[1].outside, 300000);
	char text[128];
	int len = userns_map_text(m.gid, m.ngid, text, sizeof(text));
	assert_string_equal(text, "0 200000 1\n1 300000 10\n");
	assert_int_equal(len, (int)strlen(text));
	/* too small a buffer: -1, never a cut map */
	assert_int_equal(userns_map_text(m.gid, m.ngid, text, 12), -1);
	userns_free(&m);
	assert_null(m.uid);
	/* no user namespace and no mappings: nothing */
	yajl_val e = linux_of("{}");
	assert_int_equal(userns_parse(e, false, false, &m, err, sizeof(err)), 0);
	assert_int_equal(m.nuid + m.ngid, 0);
	yajl_tree_free(e);
	yajl_tree_free(t);
}

static void refuses_as_runc(void **state)
{
	static const struct {
		const char *json;
		bool new_ns;
		const char *want;
	} cases[] = {
	    {"{\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}]}", false,
	     "User namespace mappings specified, but USER namespace isn't enabled in the config"},
	    {"{}", true, "User namespaces enabled, but no uid mappings found."},
	    {"{\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}]}", true,
	     "User namespaces enabled, but no gid mappings found."},
	    {"{\"uidMappings\":[{\"containerID\":1,\"hostID\":1,\"size\":1}],"
	     "\"gidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}]}",
	     true, "User namespaces enabled, but no user mapping found."},
	    {"{\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}],"
	     "\"gidMappings\":[{\"containerID\":5,\"hostID\":1,\"size\":1}]}",
	     true, "User namespaces enabled, but no group mapping found."},
	    {"{\"uidMappings\":{}}", true, "linux.uidMappings: not an array"},
	    {"{\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":0}]}", true, "linux.uidMappings[0]"},
	    {"{\"uidMappings\":[{\"containerID\":0,\"hostID\":-1,\"size\":1}]}", true,
	     "linux.uidMappings[0]"},
	    {"{\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":4294967295}]}", true,
	     "passes 2^32-1"},
	    {"{\"gidMappings\":[7]}", true, "linux.gidMappings[0]"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		yajl_val t = linux_of(cases[i].json);
		struct userns_maps m;
		char err[256] = "";
		assert_int_equal(userns_parse(t, cases[i].new_ns, false, &m, err, sizeof(err)), -1);
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, cases[i].want);
		assert_null(m.uid);
		assert_null(m.gid);
		yajl_tree_free(t);
	}
	/* at most the kernel's 340 extents */
	char *big = malloc(64 * 400);
	assert_non_null(big);
	size_t off = (size_t)sprintf(big, "{\"uidMappings\":[");
	for (int i = 0; i < 341; i++)
		off += (size_t)sprintf(big + off, "%s{\"containerID\":%d,\"hostID\":%d,\"size\":1}",
				       i ? "," : "", i, i);
	sprintf(big + off, "]}");
	yajl_val t = linux_of(big);
	struct userns_maps m;
	char err[256];
	assert_int_equal(userns_parse(t, true, false, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "at most 340"));
	yajl_tree_free(t);
	free(big);
}

/* As root: a child in a new user namespace gets the maps and becomes its root. */
static void writes_maps_into_a_child(void **state)
{
	if (geteuid() != 0)
		skip();
	int go[2], ready[2];
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(ready), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c = 0;
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(2);
		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(3);
		const char *step;
		if (userns_become_root(&step) < 0)
			_exit(4);
		char buf[128] = "";
		FILE *f = fopen("/proc/self/uid_map", "r");
		if (!f || !fgets(buf, sizeof(buf), f))
			_exit(5);
		fclose(f);
		unsigned a, b, n;
		_exit(getuid() == 0 && getgid() == 0 && sscanf(buf, "%u %u %u", &a, &b, &n) == 3 && a == 0 &&
			      b == 100000 && n == 65536
			  ? 0
			  : 6);
	}
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	yajl_val t = linux_of(ok_maps);
	struct userns_maps m;
	char err[256];
	assert_int_equal(userns_parse(t, true, false, &m, err, sizeof(err)), 0);
	int r = userns_write_maps(pid, &m, err, sizeof(err));
	if (r < 0)
		fail_msg("%s", err);
	/* the kernel takes a map once: a second write names the file and the reason */
	assert_int_equal(userns_write_maps(pid, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "uid_map"));
	assert_int_equal(write(go[1], &c, 1), 1);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	userns_free(&m);
	yajl_tree_free(t);
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	close(ready[1]);
}

/* The child userns_clone_in makes: in the target user namespace, our child. */
static int in_target(void *arg)
{
	const struct stat *want = arg;
	struct stat st;
	return stat("/proc/self/ns/user", &st) == 0 && st.st_ino == want->st_ino && getppid() > 0 ? 0 : 9;
}

static void clones_into_another_user_namespace(void **state)
{
	if (geteuid() != 0)
		skip();
	int fds[NS_COUNT];
	for (int i = 0; i < NS_COUNT; i++)
		fds[i] = -1;
	/* our own: nothing to join */
	fds[NS_USER] = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
	assert_true(fds[NS_USER] >= 0);
	assert_int_equal(userns_join_target(fds), 0);
	assert_int_equal(fds[NS_USER], -1);
	/* another: a process in a new user namespace of its own */
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t holder = fork();
	assert_true(holder >= 0);
	if (holder == 0) {
		char c = unshare(CLONE_NEWUSER) == 0 ? 'k' : 'e';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char c;
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'k');
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)holder);
	fds[NS_USER] = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fds[NS_USER] >= 0);
	assert_int_equal(userns_join_target(fds), 1);
	struct stat want;
	assert_int_equal(fstat(fds[NS_USER], &want), 0);
	pid_t kid = userns_clone_in(fds[NS_USER], in_target, &want, SIGCHLD);
	assert_true(kid > 0);
	int st;
	assert_int_equal(waitpid(kid, &st, 0), kid); /* CLONE_PARENT: ours */
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* a bad fd: the helper's errno */
	assert_int_equal(userns_clone_in(p[0], in_target, &want, SIGCHLD), -1);
	assert_int_equal(errno, EINVAL);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	close(fds[NS_USER]);
	close(p[0]);
	close(p[1]);
}

/* As root: limits and oom_score_adj of another process, set from outside. */
static void applies_limits_from_outside(void **state)
{
	if (geteuid() != 0)
		skip();
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		pause();
		_exit(0);
	}
	struct spec_rlimit rl[] = {{.resource = RLIMIT_NOFILE, .soft = 100, .hard = 200}};
	struct spec_process p = {.rlimits = rl, .nrlimits = 1, .has_oom = true, .oom_score_adj = 123};
	char err[256];
	assert_int_equal(userns_apply_limits(kid, &p, err, sizeof(err)), 0);
	struct rlimit got;
	assert_int_equal(prlimit(kid, RLIMIT_NOFILE, NULL, &got), 0);
	assert_int_equal(got.rlim_cur, 100);
	assert_int_equal(got.rlim_max, 200);
	char path[64], buf[16] = "";
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)kid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "123\n");
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	/* a process that is gone: the error names it */
	assert_int_equal(userns_apply_limits(kid, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "prlimit resource 7"));
}

static void joins_nothing_without_fds(void **state)
{
	int fds[NS_COUNT], saved[NS_COUNT];
	char err[128];
	for (int i = 0; i < NS_COUNT; i++)
		fds[i] = -1;
	assert_int_equal(userns_join_before_clone(fds, saved, err, sizeof(err)), 0);
	for (int i = 0; i < NS_COUNT; i++)
		assert_int_equal(saved[i], -1);
	userns_restore_after_clone(saved);
	/* a mount namespace is not joined by the agent itself */
	fds[NS_MNT] = 0;
	assert_int_equal(userns_join_before_clone(fds, saved, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "mount"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parses_mappings),
	    cmocka_unit_test(refuses_as_runc),
	    cmocka_unit_test(writes_maps_into_a_child),
	    cmocka_unit_test(clones_into_another_user_namespace),
	    cmocka_unit_test(applies_limits_from_outside),
	    cmocka_unit_test(joins_nothing_without_fds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
