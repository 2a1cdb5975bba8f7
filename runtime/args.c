/* SPDX-License-Identifier: Apache-2.0 */
/* runc-compatible argument parsing: --flag value, --flag=value, -f value, -fvalue,
 * combined short flags (-dt), options before or after the positional arguments. */
#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "runm.h"

const struct optdef no_opts[] = {OPT_END};

static int opt_index(const struct optdef *opts, const char *lname)
{
	for (int i = 0; opts && opts[i].lname; i++)
		if (strcmp(opts[i].lname, lname) == 0)
			return i;
	return -1;
}

bool opt_takes_value(const struct optdef *o)
{
	return o->kind == OPT_VALUE || o->kind == OPT_LIST || o->kind == OPT_NOOP_VALUE;
}

/* Option O given (with value V) or, for a flag, turned ON or off. */
static int store(const char *verb, const struct optdef *o, const char *v, bool on, struct parsed *p)
{
	if (o->kind == OPT_NOOP_FLAG || o->kind == OPT_NOOP_VALUE)
		return 0;
	if (!p->dst_) {
		log_error("%s: internal error: --%s has no options struct to go to", verb, o->lname);
		return -1;
	}
	char *m = (char *)p->dst_ + o->off;
	if (o->kind == OPT_FLAG) {
		*(bool *)(void *)m = on;
		return 0;
	}
	if (o->kind == OPT_VALUE) {
		*(const char **)(void *)m = v;
		return 0;
	}
	struct optlist *l = (struct optlist *)(void *)m;
	const char **nv = realloc(l->v, sizeof(*nv) * ((size_t)l->n + 2));
	if (!nv) {
		log_error("%s: out of memory", verb);
		return -1;
	}
	nv[l->n++] = v;
	nv[l->n] = NULL;
	l->v = nv;
	return 0;
}

/* A boolean flag may be given as --flag=true/false (urfave/cli accepts it). */
static int bool_value(const char *verb, const char *name, const char *v, int *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "1")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(v, "false") || !strcmp(v, "0")) {
		*out = 0;
		return 0;
	}
	usage_error(verb, "invalid boolean value \"%s\" for flag --%s", v, name);
	return -1;
}

int parse_args(const char *verb, const struct optdef *opts, int argc, char **argv, int stop_after, void *dst,
	       size_t dst_size, struct parsed *p)
{
	memset(p, 0, sizeof(*p));
	if (dst)
		memset(dst, 0, dst_size);
	p->opts_ = opts;
	p->dst_ = dst;
	int only_pos = 0;
	for (int a = 0; a < argc; a++) {
		const char *s = argv[a];
		if (only_pos || s[0] != '-' || s[1] == '\0') {
			if (p->npos >= MAX_POS)
				return usage_error(verb, "too many arguments"), -1;
			p->pos[p->npos++] = s;
			if (stop_after > 0 && p->npos >= stop_after)
				only_pos = 1;
			continue;
		}
		if (!strcmp(s, "--")) {
			only_pos = 1;
			continue;
		}
		/* long option; urfave/cli also accepts -long for a multi-letter name */
		if (s[1] == '-' || (strlen(s) > 2 && opts && opt_index(opts, s + 1) >= 0)) {
			const char *name = s + (s[1] == '-' ? 2 : 1);
			const char *eq = strchr(name, '=');
			size_t nl = eq ? (size_t)(eq - name) : strlen(name);
			int i = -1;
			for (int k = 0; opts && opts[k].lname; k++)
				if (strlen(opts[k].lname) == nl && !strncmp(opts[k].lname, name, nl)) {
					i = k;
					break;
				}
			if (i < 0) {
				usage_error(verb, "flag provided but not defined: -%.*s", (int)nl, name);
				return -1;
			}
			const struct optdef *o = &opts[i];
			if (!opt_takes_value(o)) {
				int on = 1;
				if (eq && bool_value(verb, o->lname, eq + 1, &on) < 0)
					return -1;
				if (store(verb, o, NULL, on, p) < 0)
					return -1;
				continue;
			}
			const char *v = eq ? eq + 1 : NULL;
			if (!v) {
				if (a + 1 >= argc) {
					usage_error(verb, "flag needs an argument: --%s", o->lname);
					return -1;
				}
				v = argv[++a];
			}
			if (store(verb, o, v, true, p) < 0)
				return -1;
			continue;
		}
		/* short options, possibly combined: -dt, -p file, -pfile */
		for (const char *c = s + 1; *c; c++) {
			int i = -1;
			for (int k = 0; opts && opts[k].lname; k++)
				if (opts[k].sname && opts[k].sname == *c) {
					i = k;
					break;
				}
			if (i < 0) {
				usage_error(verb, "flag provided but not defined: -%c", *c);
				return -1;
			}
			const struct optdef *o = &opts[i];
			if (!opt_takes_value(o)) {
				if (store(verb, o, NULL, true, p) < 0)
					return -1;
				continue;
			}
			const char *v = c[1] ? c + 1 : NULL;
			if (v && *v == '=')
				v++;
			if (!v) {
				if (a + 1 >= argc) {
					usage_error(verb, "flag needs an argument: -%c", *c);
					return -1;
				}
				v = argv[++a];
			}
			if (store(verb, o, v, true, p) < 0)
				return -1;
			break;
		}
	}
	return 0;
}

void parsed_free(struct parsed *p)
{
	for (int i = 0; p->dst_ && p->opts_ && p->opts_[i].lname; i++)
		if (p->opts_[i].kind == OPT_LIST) {
			struct optlist *l = (struct optlist *)(void *)((char *)p->dst_ + p->opts_[i].off);
			free(l->v);
			*l = (struct optlist){NULL, 0};
		}
}

bool valid_id(const char *id)
{
	if (!id || !*id || !strcmp(id, ".") || !strcmp(id, "..") || strlen(id) > 1024)
		return false;
	for (const char *c = id; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '+' && *c != '-' && *c != '.')
			return false;
	return true;
}

static const struct {
	const char *name;
	int num;
} SIGNALS[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},	      {"QUIT", SIGQUIT},     {"ILL", SIGILL},	{"TRAP", SIGTRAP},
    {"ABRT", SIGABRT}, {"IOT", SIGIOT},	      {"BUS", SIGBUS},	     {"FPE", SIGFPE},	{"KILL", SIGKILL},
    {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},     {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
    {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},     {"CLD", SIGCHLD},	{"CONT", SIGCONT},
    {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU}, {"URG", SIGURG},
    {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
    {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},	     {"SYS", SIGSYS},
};

int parse_signal(const char *s)
{
	if (!s || !*s)
		return -1;
	if (isdigit((unsigned char)s[0])) {
		char *end;
		long n = strtol(s, &end, 10);
		if (*end || n <= 0 || n > SIGRTMAX)
			return -1;
		return (int)n;
	}
	char up[32];
	size_t i;
	for (i = 0; i < sizeof(up) - 1 && s[i]; i++)
		up[i] = (char)toupper((unsigned char)s[i]);
	up[i] = '\0';
	if (s[i])
		return -1;
	const char *n = up;
	if (!strncmp(n, "SIG", 3))
		n += 3;
	for (size_t k = 0; k < sizeof(SIGNALS) / sizeof(SIGNALS[0]); k++)
		if (!strcmp(SIGNALS[k].name, n))
			return SIGNALS[k].num;
	/* RTMIN, RTMIN+n, RTMAX-n */
	if (!strncmp(n, "RTMIN", 5) || !strncmp(n, "RTMAX", 5)) {
		int base = n[3] == 'I' ? SIGRTMIN : SIGRTMAX;
		if (!n[5])
			return base;
		if (n[5] != '+' && n[5] != '-')
			return -1;
		char *end;
		long off = strtol(n + 6, &end, 10);
		if (*end || !n[6] || off < 0)
			return -1;
		long r = n[5] == '+' ? base + off : base - off;
		return r >= SIGRTMIN && r <= SIGRTMAX ? (int)r : -1;
	}
	return -1;
}

const char *signal_name(int sig)
{
	for (size_t k = 0; k < sizeof(SIGNALS) / sizeof(SIGNALS[0]); k++)
		if (SIGNALS[k].num == sig)
			return SIGNALS[k].name;
	return NULL;
}
