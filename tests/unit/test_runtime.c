/* SPDX-License-Identifier: Apache-2.0 */
/* runtime/: runc-style argument parsing, signal names, container ids, /proc stat parsing,
 * state.json round trip, config.json validation, VM sizing from resources. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/artifacts.h"
#include "runtime/backend_choice.h"
#include "runtime/disks.h"
#include "runtime/guest_config.h"
#include "runtime/runm.h"
#include "runtime/spec.h"
#include "runtime/state.h"

struct globals G = {.root = "/tmp", .log_format = "text"};
static int usage_errors;

/* args.c reports usage errors through main.c's usage_error; count them here. */
int usage_error(const char *verb, const char *fmt, ...)
{
	usage_errors++;
	return 1;
}

struct t_opts {
	const char *bundle, *pid_file;
	bool detach, tty;
	struct optlist env;
};

static const struct optdef OPTS[] = {
    OPT_VALUE(struct t_opts, bundle, "bundle", 'b', NULL),
    OPT_FLAG(struct t_opts, detach, "detach", 'd', NULL),
    OPT_FLAG(struct t_opts, tty, "tty", 't', NULL),
    OPT_LIST(struct t_opts, env, "env", 'e', NULL),
    OPT_VALUE(struct t_opts, pid_file, "pid-file", 0, NULL),
    OPT_NOOP("no-pivot", false, NULL),
    OPT_NOOP("cgroup", true, NULL),
    OPT_END,
};

static void test_args_forms(void **st)
{
	char *argv[] = {"--bundle", "/b", "id1", "--pid-file=/p", "-dt", "-e", "A=1", "--env=B=2", "-eC=3"};
	struct parsed p;
	struct t_opts o;
	assert_int_equal(parse_args("create", OPTS, 9, argv, 0, &o, sizeof(o), &p), 0);
	assert_int_equal(p.npos, 1);
	assert_string_equal(p.pos[0], "id1");
	assert_string_equal(o.bundle, "/b");
	assert_string_equal(o.pid_file, "/p");
	assert_true(o.detach);
	assert_true(o.tty);
	assert_int_equal(o.env.n, 3);
	assert_string_equal(o.env.v[0], "A=1");
	assert_string_equal(o.env.v[1], "B=2");
	assert_string_equal(o.env.v[2], "C=3");
	assert_null(o.env.v[3]);
	parsed_free(&p);
	assert_null(o.env.v);
}

static void test_args_single_dash_long_and_bool_value(void **st)
{
	char *argv[] = {"-bundle", "/x", "--detach=false", "--tty=true", "--no-pivot", "--cgroup", "a", "id"};
	struct parsed p;
	struct t_opts o;
	assert_int_equal(parse_args("create", OPTS, 8, argv, 0, &o, sizeof(o), &p), 0);
	assert_string_equal(o.bundle, "/x");
	assert_false(o.detach);
	assert_true(o.tty);
	assert_null(o.pid_file);
	assert_int_equal(o.env.n, 0);
	assert_int_equal(p.npos, 1);
	assert_string_equal(p.pos[0], "id");
	parsed_free(&p);
}

static void test_args_stop_after(void **st)
{
	/* exec ID sh -c "echo -t": flags after the command belong to the command */
	char *argv[] = {"-t", "id", "sh", "-c", "echo", "-t", "--", "x"};
	struct parsed p;
	struct t_opts o;
	assert_int_equal(parse_args("exec", OPTS, 8, argv, 2, &o, sizeof(o), &p), 0);
	assert_int_equal(p.npos, 7);
	assert_string_equal(p.pos[1], "sh");
	assert_string_equal(p.pos[2], "-c");
	assert_string_equal(p.pos[4], "-t");
	assert_string_equal(p.pos[5], "--");
	assert_true(o.tty);
	parsed_free(&p);
}

static void test_args_errors(void **st)
{
	struct parsed p;
	struct t_opts o;
	char *unknown[] = {"--nope", "id"};
	char *missing[] = {"id", "--bundle"};
	char *badbool[] = {"--detach=maybe"};
	char *badshort[] = {"-x"};
	usage_errors = 0;
	assert_int_equal(parse_args("create", OPTS, 2, unknown, 0, &o, sizeof(o), &p), -1);
	parsed_free(&p);
	assert_int_equal(parse_args("create", OPTS, 2, missing, 0, &o, sizeof(o), &p), -1);
	parsed_free(&p);
	assert_int_equal(parse_args("create", OPTS, 1, badbool, 0, &o, sizeof(o), &p), -1);
	parsed_free(&p);
	assert_int_equal(parse_args("create", OPTS, 1, badshort, 0, &o, sizeof(o), &p), -1);
	parsed_free(&p);
	assert_int_equal(usage_errors, 4);
	/* a table without a struct stores nothing: accepted no-ops parse, a stored option fails */
	char *noop[] = {"--no-pivot", "id"};
	assert_int_equal(parse_args("create", OPTS, 2, noop, 0, NULL, 0, &p), 0);
	parsed_free(&p);
	char *stored[] = {"--tty", "id"};
	assert_int_equal(parse_args("create", OPTS, 2, stored, 0, NULL, 0, &p), -1);
	parsed_free(&p);
}

static void test_signals(void **st)
{
	assert_int_equal(parse_signal("KILL"), SIGKILL);
	assert_int_equal(parse_signal("SIGKILL"), SIGKILL);
	assert_int_equal(parse_signal("kill"), SIGKILL);
	assert_int_equal(parse_signal("sigterm"), SIGTERM);
	assert_int_equal(parse_signal("9"), 9);
	assert_int_equal(parse_signal("15"), 15);
	assert_int_equal(parse_signal("WINCH"), SIGWINCH);
	assert_int_equal(parse_signal("RTMIN"), SIGRTMIN);
	assert_int_equal(parse_signal("RTMIN+2"), SIGRTMIN + 2);
	assert_int_equal(parse_signal("SIGRTMAX-1"), SIGRTMAX - 1);
	assert_int_equal(parse_signal("FOO"), -1);
	assert_int_equal(parse_signal("0"), -1);
	assert_int_equal(parse_signal("65"), -1);
	assert_int_equal(parse_signal("9x"), -1);
	assert_int_equal(parse_signal(""), -1);
	assert_int_equal(parse_signal("RTMIN+99"), -1);
	assert_string_equal(signal_name(SIGUSR1), "USR1");
}

static void test_ids(void **st)
{
	assert_true(valid_id("abc"));
	assert_true(valid_id("a.b-c_d+e"));
	assert_true(valid_id("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
	assert_false(valid_id(""));
	assert_false(valid_id("."));
	assert_false(valid_id(".."));
	assert_false(valid_id("a/b"));
	assert_false(valid_id("a b"));
	assert_false(valid_id("a\nb"));
}

static void test_stat_starttime(void **st)
{
	unsigned long long t = 0;
	/* comm with spaces and a ')' inside */
	const char *line = "1234 (we ird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 "
			   "1000 100 18446744073709551615\n";
	assert_int_equal(parse_stat_starttime(line, &t), 0);
	assert_int_equal(t, 987654ULL);
	assert_int_equal(parse_stat_starttime("1 (x) S 1 2 3", &t), -EINVAL);
	assert_int_equal(parse_stat_starttime("garbage", &t), -EINVAL);
	/* our own start time is readable and stable */
	unsigned long long a = 0, b = 1;
	assert_int_equal(proc_start_time(getpid(), &a), 0);
	assert_int_equal(proc_start_time(getpid(), &b), 0);
	assert_int_equal(a, b);
}

static void test_state_roundtrip(void **st)
{
	struct cstate s = {.pid = 42, .start_time = 777, .exit_status = 137, .nann = 1};
	strcpy(s.id, "c1");
	strcpy(s.bundle, "/b \"q\"");
	strcpy(s.rootfs, "/b/rootfs");
	strcpy(s.created, "2026-11-22T04:00:00.000000001Z");
	strcpy(s.status, "running");
	s.ann_key[0] = strdup("io.runm.vcpus");
	s.ann_val[0] = strdup("2");
	char *js = state_to_json(&s, false, false);
	assert_non_null(js);
	struct cstate r;
	char err[128];
	assert_int_equal(state_parse(js, &r, err, sizeof(err)), 0);
	assert_string_equal(r.id, "c1");
	assert_string_equal(r.bundle, "/b \"q\"");
	assert_string_equal(r.status, "running");
	assert_int_equal(r.pid, 42);
	assert_int_equal(r.start_time, 777ULL);
	assert_int_equal(r.exit_status, 137);
	assert_int_equal(r.nann, 1);
	assert_string_equal(r.ann_val[0], "2");
	/* truthful view: pid 42 with start time 777 is not a live shim → stopped, pid 0 */
	assert_string_equal(state_status(&r), "stopped");
	assert_int_equal(state_pid(&r), 0);
	/* and our own pid with our start time is alive */
	r.pid = getpid();
	assert_int_equal(proc_start_time(getpid(), &r.start_time), 0);
	assert_string_equal(state_status(&r), "running");
	assert_int_equal(state_pid(&r), getpid());
	r.start_time++;
	assert_string_equal(state_status(&r), "stopped");
	free(js);
	state_free(&r);
	state_free(&s);
	assert_int_equal(state_parse("[1]", &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(state_parse("{\"id\":\"x\"}", &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(state_parse("{", &r, err, sizeof(err)), -EINVAL);
}

static void test_state_save_atomic(void **st)
{
	char dir[] = "/tmp/runm-unit-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct cstate s = {.pid = 1, .exit_status = -1};
	strcpy(s.id, "x");
	strcpy(s.status, "created");
	assert_int_equal(state_save(dir, &s), 0);
	char path[128];
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(access(path, R_OK), 0);
	assert_int_equal(rm_rf(dir), 0);
	assert_int_not_equal(access(dir, F_OK), 0);
}

/* state_dir_remove only ever removes <root>/<valid id>, never through a symlink there */
static void test_state_dir_remove_scope(void **st)
{
	char keep[] = "/tmp/runm-unit-keep-XXXXXX", link[PATH_MAX], file[PATH_MAX + 16];
	assert_non_null(mkdtemp(keep));
	snprintf(file, sizeof(file), "%s/precious", keep);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fputs("x", f);
	fclose(f);
	assert_int_equal(state_dir_remove(keep + 4), -EPERM); /* not under --root (/tmp) */
	assert_int_equal(state_dir_remove("/tmp/../etc"), -EPERM);
	assert_int_equal(state_dir_remove("/tmp/a/b"), -EPERM);
	assert_int_equal(state_dir_remove("/tmp/"), -EPERM);
	snprintf(link, sizeof(link), "/tmp/runm-unit-link-%d", (int)getpid());
	assert_int_equal(symlink(keep, link), 0);
	assert_int_equal(state_dir_remove(link), -EPERM); /* a symlink at <root>/<id> */
	assert_int_equal(access(file, F_OK), 0);
	unlink(link);
	assert_int_equal(state_dir_remove(link), 0); /* gone already: fine */
	/* a real container directory under the root goes, content and all */
	assert_int_equal(state_dir_remove(keep), 0);
	assert_int_not_equal(access(keep, F_OK), 0);
}

static int spec_err(const char *json, char *err)
{
	struct spec s;
	int r = spec_parse(json, "/bundle", &s, err, 256);
	spec_free(&s);
	return r;
}

static void test_spec_validation(void **st)
{
	char err[256];
	const char *ok =
	    "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"terminal\":true},"
	    "\"root\":{\"path\":\"rootfs\"},\"annotations\":{\"io.runm.vcpus\":\"2\"},"
	    "\"hooks\":{\"poststop\":[{\"path\":\"/bin/true\",\"args\":[\"true\"],\"timeout\":3}]},"
	    "\"linux\":{\"resources\":{\"memory\":{\"limit\":67108864},\"cpu\":{\"quota\":150000,"
	    "\"period\":100000}}}}";
	struct spec s;
	assert_int_equal(spec_parse(ok, "/bundle", &s, err, sizeof(err)), 0);
	assert_true(s.terminal);
	assert_string_equal(s.rootfs, "/bundle/rootfs");
	assert_string_equal(spec_annotation(&s, "io.runm.vcpus"), "2");
	assert_int_equal(s.nhooks[HOOK_POSTSTOP], 1);
	assert_int_equal(s.hooks[HOOK_POSTSTOP][0].timeout, 3);
	assert_int_equal(s.mem_limit, 67108864);
	assert_int_equal(s.cpu_quota, 150000);
	spec_free(&s);

	assert_int_equal(spec_err("{", err), -1);
	assert_non_null(strstr(err, "invalid JSON"));
	assert_int_equal(spec_err("[]", err), -1);
	assert_int_equal(spec_err("{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"}}", err), -1);
	assert_non_null(strstr(err, "process"));
	assert_int_equal(
	    spec_err("{\"ociVersion\":\"1\",\"process\":{\"args\":[]},\"root\":{\"path\":\"r\"}}", err), -1);
	assert_non_null(strstr(err, "args must not be empty"));
	assert_int_equal(
	    spec_err("{\"ociVersion\":\"1\",\"process\":{\"args\":[1]},\"root\":{\"path\":\"r\"}}", err), -1);
	assert_int_equal(spec_err("{\"ociVersion\":\"1\",\"process\":{\"args\":[\"a\"],\"cwd\":\"rel\"},"
				  "\"root\":{\"path\":\"r\"}}",
				  err),
			 -1);
	assert_non_null(strstr(err, "cwd"));
	assert_int_equal(spec_err("{\"ociVersion\":\"1\",\"process\":{\"args\":[\"a\"]}}", err), -1);
	assert_non_null(strstr(err, "root.path"));
	assert_int_equal(
	    spec_err("{\"ociVersion\":\"1\",\"process\":{\"args\":[\"a\"]},\"root\":{\"path\":\"r\"},"
		     "\"hooks\":{\"prestart\":[{\"path\":\"rel\"}]}}",
		     err),
	    -1);
	assert_non_null(strstr(err, "hooks.prestart[0].path"));
	assert_int_equal(
	    spec_err("{\"ociVersion\":\"1\",\"process\":{\"args\":[\"a\"]},\"root\":{\"path\":\"r\"},"
		     "\"annotations\":{\"k\":1}}",
		     err),
	    -1);
}

static void test_vm_size(void **st)
{
	int v, m;
	char err[128];
	assert_int_equal(vm_size(0, 0, 0, NULL, NULL, NULL, 8, &v, &m, err, sizeof(err)), 0);
	assert_int_equal(v, 1);
	assert_int_equal(m, VM_DEFAULT_MEM_MIB);
	/* 64 MiB limit → 64 + overhead; quota 1.5 CPUs → 2 vCPUs */
	assert_int_equal(vm_size(64 << 20, 150000, 100000, NULL, NULL, NULL, 8, &v, &m, err, sizeof(err)), 0);
	assert_int_equal(v, 2);
	assert_int_equal(m, 64 + VM_BASE_MEM_MIB);
	assert_int_equal(vm_size(0, 0, 0, "0-2,5", NULL, NULL, 8, &v, &m, err, sizeof(err)), 0);
	assert_int_equal(v, 4);
	/* capped by host CPUs */
	assert_int_equal(vm_size(0, 800000, 100000, NULL, NULL, NULL, 2, &v, &m, err, sizeof(err)), 0);
	assert_int_equal(v, 2);
	/* annotations win */
	assert_int_equal(vm_size(64 << 20, 0, 0, NULL, "3", "512", 8, &v, &m, err, sizeof(err)), 0);
	assert_int_equal(v, 3);
	assert_int_equal(m, 512);
	assert_int_equal(vm_size(0, 0, 0, NULL, "0", NULL, 8, &v, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "io.runm.vcpus"));
	assert_int_equal(vm_size(0, 0, 0, NULL, NULL, "lots", 8, &v, &m, err, sizeof(err)), -1);
	assert_int_equal(vm_size(0, 0, 0, "3-1", NULL, NULL, 8, &v, &m, err, sizeof(err)), -1);
}

static void test_guest_config(void **st)
{
	char dir[] = "/tmp/runm-gc-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char host_file[64], host_dir[64], json[2048];
	snprintf(host_file, sizeof(host_file), "%s/hosts", dir);
	snprintf(host_dir, sizeof(host_dir), "%s/data", dir);
	FILE *f = fopen(host_file, "w");
	assert_non_null(f);
	fputs("127.0.0.1 localhost\n", f);
	fclose(f);
	assert_int_equal(mkdir(host_dir, 0755), 0);
	snprintf(json, sizeof(json),
		 "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"]},\"root\":{\"path\":\"rootfs\","
		 "\"readonly\":true},\"hooks\":{\"prestart\":[{\"path\":\"/bin/true\"}]},\"mounts\":["
		 "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
		 "{\"destination\":\"/etc/"
		 "hosts\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"rbind\",\"ro\"]},"
		 "{\"destination\":\"/data\",\"source\":\"%s\",\"options\":[\"bind\"]},"
		 "{\"destination\":\"/dev/shm\",\"type\":\"bind\",\"source\":\"%s\"}]}",
		 host_file, host_dir, host_dir);
	struct spec s;
	char err[256];
	assert_int_equal(spec_parse(json, "/bundle", &s, err, sizeof(err)), 0);
	struct guest_shares sh;
	char *out = NULL;
	assert_int_equal(guest_config(&s, dir, false, NULL, &sh, &out, err, sizeof(err)), 0);
	/* one share, DIR/share: every bind source (file or directory) in it, /dev/shm a tmpfs */
	char want[128];
	snprintf(want, sizeof(want), "%s/share", dir);
	assert_int_equal(sh.n, 1);
	assert_string_equal(sh.host, want);
	assert_int_equal(sh.nbinds, 2);
	assert_string_equal(sh.binds[0].source, host_file);
	assert_true(sh.binds[0].readonly);
	assert_string_equal(sh.binds[1].source, host_dir);
	assert_false(sh.binds[1].readonly);
	assert_non_null(strstr(out, "\"path\":\"/run/runm/share/rootfs\""));
	assert_non_null(strstr(out, "\"readonly\":true"));
	assert_null(strstr(out, "hooks"));
	/* each named after its source's path on its file system (what runc's mountinfo shows) */
	char froot[PATH_MAX], droot[PATH_MAX], wsrc[PATH_MAX + 64];
	assert_int_equal(fs_share_source_root(NULL, host_file, froot, sizeof(froot)), 0);
	assert_int_equal(fs_share_source_root(NULL, host_dir, droot, sizeof(droot)), 0);
	assert_string_equal(sh.binds[0].entry, froot);
	assert_string_equal(sh.binds[1].entry, droot);
	snprintf(wsrc, sizeof(wsrc), "\"source\":\"/run/runm/share%s\"", froot);
	assert_non_null(strstr(out, wsrc));
	snprintf(wsrc, sizeof(wsrc), "\"source\":\"/run/runm/share%s\"", droot);
	assert_non_null(strstr(out, wsrc));
	assert_null(strstr(out, "/run/runm/share/mounts/"));
	assert_non_null(strstr(out, "\"type\":\"tmpfs\""));
	assert_null(strstr(out, "\"source\":\"/tmp"));
	free(out);
	guest_shares_free(&sh);
	/* many bind mounts: no share limit */
	char big[8192];
	int bl = snprintf(big, sizeof(big),
			  "{\"ociVersion\":\"1\",\"process\":{\"args\":[\"sh\"]},"
			  "\"root\":{\"path\":\"r\"},\"mounts\":[");
	for (int i = 0; i < 12; i++)
		bl += snprintf(big + bl, sizeof(big) - (size_t)bl,
			       "%s{\"destination\":\"/v%d\",\"type\":\"bind\",\"source\":\"%s\"}",
			       i ? "," : "", i, i % 2 ? host_dir : host_file);
	snprintf(big + bl, sizeof(big) - (size_t)bl, "]}");
	struct spec s2;
	assert_int_equal(spec_parse(big, "/bundle", &s2, err, sizeof(err)), 0);
	assert_int_equal(guest_config(&s2, dir, false, NULL, &sh, &out, err, sizeof(err)), 0);
	assert_int_equal(sh.nbinds, 12);
	/* the same two sources again and again, alike: their two entries */
	assert_string_equal(sh.binds[11].entry, droot);
	assert_string_equal(sh.binds[10].entry, froot);
	assert_null(strstr(out, "/run/runm/share/mounts/"));
	free(out);
	guest_shares_free(&sh);
	spec_free(&s2);
	/* on the host: no shares, absolute host rootfs, mounts untouched */
	assert_int_equal(guest_config(&s, dir, true, NULL, &sh, &out, err, sizeof(err)), 0);
	assert_int_equal(sh.n, 0);
	assert_int_equal(sh.nbinds, 0);
	assert_non_null(strstr(out, "\"path\":\"/bundle/rootfs\""));
	assert_non_null(strstr(out, host_file));
	free(out);
	spec_free(&s);
	/* a relative bind source is relative to the bundle (as in runc), in the guest and on the host */
	snprintf(
	    json, sizeof(json),
	    "{\"ociVersion\":\"1\",\"process\":{\"args\":[\"sh\"]},\"root\":{\"path\":\"r\"},\"mounts\":["
	    "{\"destination\":\"/b\",\"type\":\"bind\",\"source\":\".\"},"
	    "{\"destination\":\"/d\",\"source\":\"data\",\"options\":[\"rbind\",\"ro\"]}]}");
	assert_int_equal(spec_parse(json, dir, &s, err, sizeof(err)), 0);
	assert_int_equal(guest_config(&s, dir, false, NULL, &sh, &out, err, sizeof(err)), 0);
	char rel_dot[80], rel_data[80];
	snprintf(rel_dot, sizeof(rel_dot), "%s/.", dir);
	snprintf(rel_data, sizeof(rel_data), "%s/data", dir);
	assert_int_equal(sh.nbinds, 2);
	assert_string_equal(sh.binds[0].source, rel_dot);
	assert_string_equal(sh.binds[1].source, rel_data);
	assert_true(sh.binds[1].readonly);
	/* the bundle directory itself, then a directory below it: that one by its index */
	char broot[PATH_MAX];
	assert_int_equal(fs_share_source_root(NULL, dir, broot, sizeof(broot)), 0);
	assert_string_equal(sh.binds[0].entry, broot);
	assert_string_equal(sh.binds[1].entry, "/mounts/1");
	assert_non_null(strstr(out, "\"source\":\"/run/runm/share/mounts/1\""));
	assert_null(strstr(out, "\"source\":\".\""));
	free(out);
	guest_shares_free(&sh);
	assert_int_equal(guest_config(&s, dir, true, NULL, &sh, &out, err, sizeof(err)), 0);
	char want_src[96];
	snprintf(want_src, sizeof(want_src), "\"source\":\"%s/.\"", dir);
	assert_non_null(strstr(out, want_src));
	assert_null(strstr(out, "\"source\":\".\""));
	free(out);
	guest_shares_free(&sh);
	spec_free(&s);
	/* a missing bind source is a clear error */
	snprintf(
	    json, sizeof(json),
	    "{\"ociVersion\":\"1\",\"process\":{\"args\":[\"sh\"]},\"root\":{\"path\":\"r\"},\"mounts\":["
	    "{\"destination\":\"/x\",\"type\":\"bind\",\"source\":\"%s/nope\"}]}",
	    dir);
	assert_int_equal(spec_parse(json, "/bundle", &s, err, sizeof(err)), 0);
	assert_int_equal(guest_config(&s, dir, false, NULL, &sh, &out, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nope"));
	spec_free(&s);
	assert_int_equal(rm_rf(dir), 0);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_backend_config_file(void **st)
{
	char dir[] = "/tmp/runm-cfg-XXXXXX", path[64], err[256];
	struct runm_config c;
	const char *b = c.backend;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config.json", dir);
	/* missing: fine for the default path, an error for one the user named */
	assert_int_equal(backend_config_read(path, false, &c, err, sizeof(err)), 0);
	assert_string_equal(b, "");
	assert_int_equal(backend_config_read(path, true, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	write_text(path, "{\"backend\": \"qemu\"}");
	assert_int_equal(backend_config_read(path, true, &c, err, sizeof(err)), 0);
	assert_string_equal(b, "qemu");
	write_text(path, "{}");
	assert_int_equal(backend_config_read(path, true, &c, err, sizeof(err)), 0);
	assert_string_equal(b, "");
	write_text(path, "{\"backend\": \"auto\", \"jail\": {\"id_base\": 200000, \"id_count\": 1000}}");
	assert_int_equal(backend_config_read(path, true, &c, err, sizeof(err)), 0);
	assert_string_equal(b, "auto");
	assert_int_equal(c.jail_id_base, 200000);
	assert_int_equal(c.jail_id_count, 1000);
	assert_false(c.rootfs_device);
	write_text(path, "{\"rootfs_device\": true}");
	assert_int_equal(backend_config_read(path, true, &c, err, sizeof(err)), 0);
	assert_true(c.rootfs_device);
	write_text(path, "{\"rootfs_device\": false}");
	assert_int_equal(backend_config_read(path, true, &c, err, sizeof(err)), 0);
	assert_false(c.rootfs_device);
	const char *bad[][2] = {
	    {"{\"rootfs_device\": \"yes\"}", "\"rootfs_device\" must be true or false"},
	    {"{\"jail\": {\"id_base\": 0, \"id_count\": 10}}", "1 <= id_base"},
	    {"{\"jail\": {\"id_base\": 4294967290, \"id_count\": 10}}", "id_base + id_count"},
	    {"{\"jail\": {\"id_base\": 1000}}", "id_count"},
	    {"{\"jail\": {\"uid\": 1000}}", "unknown key \"uid\""},
	    {"{\"jail\": 5}", "must be an object"},
	    {"{\"backend\": \"kvmtool\"}", "must be"},
	    {"{\"backend\": 1}", "must be"},
	    {"{\"kernel\": \"/k\"}", "unknown key \"kernel\""},
	    {"[\"qemu\"]", "not a JSON object"},
	    {"{\"backend\":", "parse error"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_text(path, bad[i][0]);
		assert_int_equal(backend_config_read(path, true, &c, err, sizeof(err)), -1);
		assert_non_null(strstr(err, bad[i][1]));
		assert_non_null(strstr(err, path));
	}
	char *big = malloc(70000);
	assert_non_null(big);
	memset(big, ' ', 69999);
	big[69999] = '\0';
	write_text(path, big);
	free(big);
	assert_int_equal(backend_config_read(path, true, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "larger than 64 KiB"));
	unlink(path);
	rmdir(dir);
}

/* The engine's /dev/shm is a host tmpfs of --shm-size: the guest tmpfs gets its size; a source
 * that is no tmpfs gives the guest's default. */
static void test_guest_config_shm_size(void **st)
{
	struct statfs fs;
	assert_int_equal(statfs("/dev/shm", &fs), 0);
	assert_true(fs.f_type == TMPFS_MAGIC); /* Linux always has it */
	char want[64], json[512], err[256], *out = NULL;
	snprintf(want, sizeof(want), "\"size=%lluk\"",
		 (unsigned long long)fs.f_blocks * (unsigned long long)fs.f_bsize / 1024);
	char dir[] = "/tmp/runm-gcs-XXXXXX";
	assert_non_null(mkdtemp(dir));
#define SHM_SPEC                                                                                             \
	"{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"]},\"root\":{\"path\":\"r\"},\"mounts\":["   \
	"{\"destination\":\"/dev/shm\",\"type\":\"bind\",\"source\":\"%s\"}]}"
	snprintf(json, sizeof(json), SHM_SPEC, "/dev/shm");
	struct spec s;
	struct guest_shares sh;
	assert_int_equal(spec_parse(json, "/bundle", &s, err, sizeof(err)), 0);
	assert_int_equal(guest_config(&s, dir, false, NULL, &sh, &out, err, sizeof(err)), 0);
	assert_non_null(strstr(out, "\"type\":\"tmpfs\""));
	assert_non_null(strstr(out, want));
	free(out);
	guest_shares_free(&sh);
	spec_free(&s);
	/* a plain directory (the unit test's own, on the build's file system when that is no tmpfs) */
	assert_int_equal(statfs(dir, &fs), 0);
	snprintf(json, sizeof(json), SHM_SPEC, dir);
	assert_int_equal(spec_parse(json, "/bundle", &s, err, sizeof(err)), 0);
	assert_int_equal(guest_config(&s, dir, false, NULL, &sh, &out, err, sizeof(err)), 0);
	assert_non_null(strstr(out, "\"type\":\"tmpfs\""));
	if (fs.f_type == TMPFS_MAGIC) {
		snprintf(want, sizeof(want), "\"size=%lluk\"",
			 (unsigned long long)fs.f_blocks * (unsigned long long)fs.f_bsize / 1024);
		assert_non_null(strstr(out, want));
	} else {
		assert_null(strstr(out, "size="));
	}
	free(out);
	guest_shares_free(&sh);
	spec_free(&s);
	rmdir(dir);
}

/* A pod member that shares the pod's IPC gets the VM's /dev/shm (the pod's, one per VM) for the
 * engine's shm bind, not a tmpfs of its own; one that does not share it keeps its own tmpfs. */
static void test_guest_config_member_shm(void **st)
{
	char dir[] = "/tmp/runm-gcm-XXXXXX", json[512], share[64], err[256], *out = NULL;
	assert_non_null(mkdtemp(dir));
	snprintf(share, sizeof(share), "%s/share", dir);
	snprintf(json, sizeof(json),
		 "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"]},\"root\":{\"path\":\"r\"},"
		 "\"mounts\":[{\"destination\":\"/dev/shm\",\"type\":\"bind\",\"source\":\"%s\","
		 "\"options\":[\"rbind\",\"rw\"]}]}",
		 dir);
	struct spec s;
	struct guest_shares sh;
	assert_int_equal(spec_parse(json, "/bundle", &s, err, sizeof(err)), 0);
	struct guest_member m = {
	    .sandbox = "init", .sandbox_share = share, .sub = "members/m1", .join_ipc = true};
	assert_int_equal(guest_config_member(&s, dir, false, &m, NULL, &sh, &out, err, sizeof(err)), 0);
	assert_non_null(strstr(out, "\"destination\":\"/dev/shm\""));
	assert_non_null(strstr(out, "\"source\":\"/dev/shm\""));
	assert_non_null(strstr(out, "\"rbind\""));
	assert_null(strstr(out, "tmpfs"));
	assert_null(strstr(out, dir)); /* the host's shm directory is not shared into the guest */
	assert_int_equal(sh.nbinds, 0);
	free(out);
	guest_shares_free(&sh);
	m.join_ipc = false;
	assert_int_equal(guest_config_member(&s, dir, false, &m, NULL, &sh, &out, err, sizeof(err)), 0);
	assert_non_null(strstr(out, "\"type\":\"tmpfs\""));
	assert_null(strstr(out, "\"source\":\"/dev/shm\""));
	free(out);
	guest_shares_free(&sh);
	spec_free(&s);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_state_dir_remove_scope),
	    cmocka_unit_test(test_args_forms),
	    cmocka_unit_test(test_args_single_dash_long_and_bool_value),
	    cmocka_unit_test(test_args_stop_after),
	    cmocka_unit_test(test_args_errors),
	    cmocka_unit_test(test_signals),
	    cmocka_unit_test(test_ids),
	    cmocka_unit_test(test_stat_starttime),
	    cmocka_unit_test(test_state_roundtrip),
	    cmocka_unit_test(test_state_save_atomic),
	    cmocka_unit_test(test_spec_validation),
	    cmocka_unit_test(test_vm_size),
	    cmocka_unit_test(test_guest_config),
	    cmocka_unit_test(test_guest_config_shm_size),
	    cmocka_unit_test(test_guest_config_member_shm),
	    cmocka_unit_test(test_backend_config_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
