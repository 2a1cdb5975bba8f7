/* SPDX-License-Identifier: Apache-2.0 */
/* The runm CLI: global options, verb table and the helpers the verbs share. */
#ifndef RUNM_RUNTIME_RUNM_H
#define RUNM_RUNTIME_RUNM_H

#include <stdbool.h>
#include <stddef.h>

#define RUNM_DEFAULT_ROOT "/run/runm"

struct globals {
	const char *root;
	const char *log_file;
	const char *log_format;
	bool debug;
	bool systemd_cgroup;
	const char *rootless;
	const char *backend; /* --backend: NULL unless given (backend_choice.h) */
	const char *argv0;
};
extern struct globals G;

/* One option of a verb, stored into the verb's own options struct (crun's shape): each cmd_X.c
 * declares `struct X_opts` and its table with the macros below, which check at compile time
 * that the member has the option's type (a misspelled member does not compile). */
enum opt_kind {
	OPT_FLAG,	/* bool */
	OPT_VALUE,	/* const char *: the last value */
	OPT_LIST,	/* struct optlist: every value (repeatable) */
	OPT_NOOP_FLAG,	/* accepted, nothing stored */
	OPT_NOOP_VALUE, /* accepted with a value (repeatable), nothing stored */
};
struct optlist {
	const char **v; /* NULL-terminated, malloc'd (parsed_free) */
	int n;
};
struct optdef {
	const char *lname;
	char sname;
	enum opt_kind kind;
	size_t off; /* of the member in the verb's options struct */
	const char *help;
};
#define OPT_MEMBER_(T, m, type) _Generic(((T *)0)->m, type : offsetof(T, m))
#define OPT_FLAG(T, m, lname, sname, help)                                                                   \
	{                                                                                                    \
		lname, sname, OPT_FLAG, OPT_MEMBER_(T, m, bool), help                                        \
	}
#define OPT_VALUE(T, m, lname, sname, help)                                                                  \
	{                                                                                                    \
		lname, sname, OPT_VALUE, OPT_MEMBER_(T, m, const char *), help                               \
	}
#define OPT_LIST(T, m, lname, sname, help)                                                                   \
	{                                                                                                    \
		lname, sname, OPT_LIST, OPT_MEMBER_(T, m, struct optlist), help                              \
	}
#define OPT_NOOP(lname, takes_value, help)                                                                   \
	{                                                                                                    \
		lname, 0, (takes_value) ? OPT_NOOP_VALUE : OPT_NOOP_FLAG, 0, help                            \
	}
#define OPT_END                                                                                              \
	{                                                                                                    \
		NULL, 0, OPT_FLAG, 0, NULL                                                                   \
	}
/* The table of a verb without options. */
extern const struct optdef no_opts[];

#define MAX_POS 256
struct parsed {
	const char *pos[MAX_POS];
	int npos;
	/* where the options went (for parsed_free) */
	const struct optdef *opts_;
	void *dst_;
};

/* Parse argv (after the verb) against OPTS into the options struct DST (zeroed first; NULL
 * only when OPTS stores nothing). Options may come before or after the positional
 * arguments; "--" ends options; after STOP_AFTER positionals (if > 0) everything is
 * positional (exec's command line). Returns 0, or -1 after printing "incorrect usage" style
 * errors. */
int parse_args(const char *verb, const struct optdef *opts, int argc, char **argv, int stop_after, void *dst,
	       size_t dst_size, struct parsed *p);
/* A value follows the option (--name value). */
bool opt_takes_value(const struct optdef *o);
/* Frees the option lists in the options struct too. */
void parsed_free(struct parsed *p);

struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage; /* "<container-id> [signal]" */
	const char *summary;
	const struct optdef *opts;
	bool hidden;
};
extern const struct verb VERBS[];
void print_verb_help(const struct verb *v, int fd);
const struct verb *find_verb(const char *name);
/* "runm: "kill" requires ... argument(s)" + usage; returns 1. */
int usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Verbs (cmd_*.c) and their option tables. */
extern const struct optdef create_opts[], kill_opts[], delete_opts[], exec_opts[], ps_opts[], list_opts[],
    events_opts[], update_opts[], spec_opts[], shim_opts[];
int cmd_create(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_state(int argc, char **argv);
int cmd_kill(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_update(int argc, char **argv);
int cmd_spec(int argc, char **argv);
int cmd_features(int argc, char **argv);
int cmd_checkpoint(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_shim(int argc, char **argv);

/* Container ids: runc's ^[\w+-\.]+$ and not "." / "..". */
bool valid_id(const char *id);
/* Signal by name ("KILL", "SIGKILL", "kill") or number; -1 if unknown. */
int parse_signal(const char *s);
const char *signal_name(int sig);

/* Directory of the running runm binary (for guest artifacts). */
int self_dir(char *out, size_t cap);

#endif
