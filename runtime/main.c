/* SPDX-License-Identifier: Apache-2.0 */
/* runm: runc-compatible CLI. Global flags, then a verb (one file per verb). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/jail.h"
#include "backend_choice.h"
#include "cmd_util.h"
#include "log.h"
#include "runm.h"
#include "version.h"

struct globals G = {.root = RUNM_DEFAULT_ROOT, .log_format = "text"};

const struct verb VERBS[] = {
    {"create", cmd_create, "<container-id>", "create a container (boots its microVM)", create_opts, false},
    {"start", cmd_start, "<container-id>", "start the user process of a created container", no_opts, false},
    {"run", cmd_run, "<container-id>", "create and start a container", create_opts, false},
    {"state", cmd_state, "<container-id>", "output the state of a container", no_opts, false},
    {"kill", cmd_kill, "<container-id> [signal]", "send a signal (default SIGTERM) to the container's init",
     kill_opts, false},
    {"delete", cmd_delete, "<container-id>", "delete a container and everything it holds", delete_opts,
     false},
    {"exec", cmd_exec, "<container-id> <command> [command options]", "run a process in a container",
     exec_opts, false},
    {"ps", cmd_ps, "<container-id> [ps options]", "processes running inside a container", ps_opts, false},
    {"list", cmd_list, "", "list containers started by runm with the given root", list_opts, false},
    {"pause", cmd_pause, "<container-id>", "pause all processes of the container (the guest cgroup freezer)",
     no_opts, false},
    {"resume", cmd_resume, "<container-id>", "resume a paused container", no_opts, false},
    {"events", cmd_events, "<container-id>", "container events and stats", events_opts, false},
    {"update", cmd_update, "<container-id>", "update container resource constraints", update_opts, false},
    {"spec", cmd_spec, "", "create a new specification file", spec_opts, false},
    {"features", cmd_features, "", "show the enabled features", no_opts, false},
    {"checkpoint", cmd_checkpoint, "<container-id>", "not supported by runm", no_opts, false},
    {"restore", cmd_restore, "<container-id>", "not supported by runm", no_opts, false},
    {"check", cmd_check, "", "check the host: virtualization, QEMU, guest artifacts, backend", no_opts,
     false},
    {"shim", cmd_shim, "<container-id>", "internal: the per-container host process", shim_opts, true},
    {NULL, NULL, NULL, NULL, NULL, false}};

const struct verb *find_verb(const char *name)
{
	for (const struct verb *v = VERBS; v->name; v++)
		if (!strcmp(v->name, name))
			return v;
	return NULL;
}

void print_verb_help(const struct verb *v, int fd)
{
	dprintf(fd, "NAME:\n   runm %s - %s\n\nUSAGE:\n   runm %s [command options] %s\n", v->name,
		v->summary, v->name, v->usage);
	if (v->opts && v->opts[0].lname) {
		dprintf(fd, "\nOPTIONS:\n");
		for (const struct optdef *o = v->opts; o->lname; o++) {
			char left[64];
			bool val = opt_takes_value(o);
			snprintf(left, sizeof(left), "--%s%s%s%s%s", o->lname, val ? " value" : "",
				 o->sname ? ", -" : "", o->sname ? (char[]){o->sname, 0} : "",
				 o->sname && val ? " value" : "");
			dprintf(fd, "   %-32s %s\n", left, o->help ? o->help : "");
		}
	}
}

int usage_error(const char *verb, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const struct verb *v = verb ? find_verb(verb) : NULL;
	if (v) {
		dprintf(STDERR_FILENO, "Incorrect Usage.\n\n");
		print_verb_help(v, STDERR_FILENO);
	}
	log_error("%s", msg);
	return 1;
}

static void print_usage(int fd)
{
	dprintf(fd,
		"NAME:\n   runm - OCI runtime that runs each container in its own KVM microVM\n\n"
		"USAGE:\n   runm [global options] command [command options] [arguments...]\n\n"
		"VERSION:\n   %s\n\nCOMMANDS:\n",
		RUNM_VERSION);
	for (const struct verb *v = VERBS; v->name; v++)
		if (!v->hidden)
			dprintf(fd, "   %-11s %s\n", v->name, v->summary);
	dprintf(
	    fd,
	    "\nGLOBAL OPTIONS:\n"
	    "   --root value         state directory (default: " RUNM_DEFAULT_ROOT ")\n"
	    "   --log value          also write errors to this file\n"
	    "   --log-format value   text or json (default: text)\n"
	    "   --debug              debug output\n"
	    "   --backend value      VMM backend: auto, runm-vmm or qemu (default: auto; see runm check)\n"
	    "   --no-jail            debugging only: run the VMM processes without their jail\n"
	    "   --systemd-cgroup     accepted: cgroups live in the guest; the VMM stays in the caller's "
	    "cgroup\n"
	    "   --rootless value     true, false or auto (accepted)\n"
	    "   --criu value         accepted and ignored (checkpoint is not supported)\n"
	    "   --help, -h           show help\n"
	    "   --version, -v        print the version\n");
}

static void print_version(void)
{
	printf("runm version %s\ncommit: %s\nspec: %s\n", RUNM_VERSION,
#ifdef RUNM_COMMIT
	       RUNM_COMMIT,
#else
	       "unknown",
#endif
	       RUNM_OCI_VERSION);
}

static int open_log(void)
{
	if (strcmp(G.log_format, "text") && strcmp(G.log_format, "json")) {
		log_error("invalid log-format: %s", G.log_format);
		return -1;
	}
	if (!G.log_file || !*G.log_file)
		return 0;
	int fd = open(G.log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_errno(errno, "open log file %s", G.log_file);
		return -1;
	}
	log_set_sink(fd, !strcmp(G.log_format, "json"));
	return 0;
}

/* Started with 0, 1 or 2 closed, the next socket or file would land there and be taken for
 * stdio (runm exec would send the shim connection as the process's stdin): /dev/null them. */
static void reserve_stdio(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int n = open("/dev/null", O_RDWR); /* the lowest free fd: this one */
		if (n != fd) {
			if (n >= 0)
				close(n);
			_exit(255); /* no stderr to say it on */
		}
	}
}

int main(int argc, char **argv)
{
	reserve_stdio();
	log_set_prog("runm");
	G.argv0 = argv[0];
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		const char *name = a + (a[1] == '-' ? 2 : 1);
		const char *eq = strchr(name, '=');
		size_t nl = eq ? (size_t)(eq - name) : strlen(name);
		const char *val = eq ? eq + 1 : NULL;
#define IS(n) (nl == strlen(n) && !strncmp(name, n, nl))
#define NEEDVAL()                                                                                            \
	do {                                                                                                 \
		if (!val) {                                                                                  \
			if (i + 1 >= argc) {                                                                 \
				log_error("flag needs an argument: %s", a);                                  \
				return 1;                                                                    \
			}                                                                                    \
			val = argv[++i];                                                                     \
		}                                                                                            \
	} while (0)
		if (IS("version") || IS("v")) {
			print_version();
			return 0;
		} else if (IS("help") || IS("h")) {
			print_usage(STDOUT_FILENO);
			return 0;
		} else if (IS("root")) {
			NEEDVAL();
			G.root = val;
		} else if (IS("log")) {
			NEEDVAL();
			G.log_file = val;
		} else if (IS("log-format")) {
			NEEDVAL();
			G.log_format = val;
		} else if (IS("criu")) {
			NEEDVAL();
		} else if (IS("rootless")) {
			/* urfave: --rootless takes a value (true|false|auto); accept the bare form too */
			if (!val && i + 1 < argc &&
			    (!strcmp(argv[i + 1], "true") || !strcmp(argv[i + 1], "false") ||
			     !strcmp(argv[i + 1], "auto")))
				val = argv[++i];
			G.rootless = val ? val : "true";
		} else if (IS("backend")) {
			NEEDVAL();
			if (!backend_name_valid(val)) {
				log_error("--backend %s: want auto, runm-vmm or qemu", val);
				return 1;
			}
			G.backend = val;
		} else if (IS("debug")) {
			G.debug = true;
		} else if (IS("no-jail")) {
			vm_jail_disable(); /* debugging only: VMM processes unjailed (docs/security.md) */
		} else if (IS("systemd-cgroup")) {
			G.systemd_cgroup = true;
		} else {
			log_error("flag provided but not defined: %s", a);
			print_usage(STDERR_FILENO);
			return 1;
		}
	}
	static char abslog[PATH_MAX];
	/* the shim runs in "/": a relative --log must name the same file there */
	if (G.log_file && *G.log_file && !(G.log_file = abs_arg("--log", G.log_file, abslog)))
		return 1;
	if (open_log() < 0)
		return 1;
	log_set_debug(G.debug);
	if (!G.root[0] || G.root[0] != '/') {
		/* runc makes --root absolute; do the same so the shim and hooks agree */
		static char absroot[4096];
		char cwd[2048];
		if (!getcwd(cwd, sizeof(cwd)) ||
		    (size_t)snprintf(absroot, sizeof(absroot), "%s/%s", cwd, G.root) >= sizeof(absroot)) {
			log_error("--root %s: cannot make it absolute", G.root);
			return 1;
		}
		G.root = absroot;
	}
	if (i >= argc) {
		print_usage(STDOUT_FILENO);
		return 0;
	}
	const struct verb *v = find_verb(argv[i]);
	if (!v) {
		log_error("No help topic for '%s'", argv[i]);
		return 1;
	}
	/* "runm VERB --help": print the verb's help (checkpoint/restore handle it themselves). */
	for (int k = i + 1; k < argc; k++) {
		if (!strcmp(argv[k], "--"))
			break;
		if ((!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) && v->fn != cmd_checkpoint &&
		    v->fn != cmd_restore && v->fn != cmd_exec) {
			print_verb_help(v, STDOUT_FILENO);
			return 0;
		}
	}
	return v->fn(argc - i - 1, argv + i + 1);
}
