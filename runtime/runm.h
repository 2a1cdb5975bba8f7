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

/* One option of a verb. has_arg: 0 flag, 1 value, 2 repeatable value. */
struct optdef {
	const char *lname;
	char sname;
	int has_arg;
	const char *help;
};

#define MAX_OPTS 24
#define MAX_POS 256
struct parsed {
	int set[MAX_OPTS];             /* how many times each option was given */
	const char *val[MAX_OPTS];     /* last value */
	const char **list[MAX_OPTS];   /* every value of a repeatable option */
	const char *pos[MAX_POS];
	int npos;
};

/* Parse argv (after the verb) against OPTS. Options may come before or after the
 * positional arguments; "--" ends options; after STOP_AFTER positionals (if > 0)
 * everything is positional (exec's command line). Returns 0, or -1 after
 * printing "incorrect usage" style errors. */
int parse_args(const char *verb, const struct optdef *opts, int argc, char **argv, int stop_after,
	       struct parsed *p);
void parsed_free(struct parsed *p);
/* Index of option NAME in OPTS (by long name). */
int opt_index(const struct optdef *opts, const char *lname);
/* Shorthand: value / count of option LNAME. */
const char *optval(const struct optdef *opts, const struct parsed *p, const char *lname);
int optset(const struct optdef *opts, const struct parsed *p, const char *lname);

struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;   /* "<container-id> [signal]" */
	const char *summary;
	const struct optdef *opts;
	bool hidden;
};
extern const struct verb VERBS[];
void print_verb_help(const struct verb *v, int fd);
const struct verb *find_verb(const char *name);
/* "runm: "kill" requires ... argument(s)" + usage; returns 1. */
int usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Verbs (cmd_*.c). */
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
