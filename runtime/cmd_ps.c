/* SPDX-License-Identifier: Apache-2.0 */
/* runm ps [--format table|json] ID [ps options]: the container's processes (guest pids, from
 * the agent's "ps" op). json is runc's array of pids; table is `ps -ef` (UID PID PPID C STIME
 * TTY TIME CMD, procps' widths) from the guest's /proc, user names from the container's
 * /etc/passwd. ps options: -e -A -a -x -f (the container's processes in full format already)
 * and -o LIST of the columns the agent reports; anything else is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_tree.h>

#include "cmd_util.h"
#include "log.h"
#include "proto/proto.h"

enum col { C_UID, C_USER, C_PID, C_PPID, C_C, C_STIME, C_TTY, C_TIME, C_CMD, C_COMM, C_N };
static const struct {
	const char *name, *head;
	int width; /* > 0 right-aligned, < 0 left-aligned, 0 last (unpadded) */
} COLS[C_N] = {
    [C_UID] = {"uid", "UID", -8},      [C_USER] = {"user", "USER", -8}, [C_PID] = {"pid", "PID", 5},
    [C_PPID] = {"ppid", "PPID", 5},    [C_C] = {"c", "C", 2},		[C_STIME] = {"stime", "STIME", 5},
    [C_TTY] = {"tty", "TTY", -8},      [C_TIME] = {"time", "TIME", 8},	[C_CMD] = {"cmd", "CMD", 0},
    [C_COMM] = {"comm", "COMMAND", 0},
};
#define MAX_COLS 16

/* -o names, with procps' aliases */
static int col_by_name(const char *n)
{
	static const struct {
		const char *alias;
		enum col c;
	} al[] = {{"args", C_CMD},	   {"command", C_CMD}, {"euid", C_UID}, {"euser", C_USER},
		  {"start_time", C_STIME}, {"tname", C_TTY},   {"tt", C_TTY},	{"cputime", C_TIME},
		  {"ucmd", C_COMM},	   {"ucomm", C_COMM}};
	for (int i = 0; i < C_N; i++)
		if (!strcmp(n, COLS[i].name))
			return i;
	for (size_t i = 0; i < sizeof(al) / sizeof(al[0]); i++)
		if (!strcmp(n, al[i].alias))
			return (int)al[i].c;
	return -1;
}

static int add_cols(const char *list, int *cols, int *n)
{
	char *dup = strdup(list), *save = NULL;
	int rc = dup ? 0 : -1;
	for (char *t = dup ? strtok_r(dup, ", ", &save) : NULL; t; t = strtok_r(NULL, ", ", &save)) {
		int c = col_by_name(t);
		if (c < 0 || *n >= MAX_COLS) {
			log_error("ps -o %s: %s (the guest reports uid, user, pid, ppid, c, stime, tty, "
				  "time, cmd, comm)",
				  t, c < 0 ? "unknown or unsupported column" : "too many columns");
			rc = -1;
			break;
		}
		cols[(*n)++] = c;
	}
	free(dup);
	return rc;
}

/* The ps options runm can answer (docs/cli.md): COLS gets the columns to print. */
static int parse_ps_opts(const char *const *args, int nargs, int *cols, int *ncols)
{
	*ncols = 0;
	for (int i = 0; i < nargs; i++) {
		const char *a = args[i];
		if (!strcmp(a, "--"))
			continue;
		if (a[0] != '-' || !a[1]) {
			log_error(
			    "ps option %s is not supported: the container's processes run in its microVM "
			    "(supported: -e -A -a -x -f -o LIST)",
			    a);
			return -1;
		}
		for (const char *c = a + 1; *c; c++) {
			if (strchr("eAaxf", *c))
				continue; /* selection (the container's processes) and full format: as we
					     print */
			if (*c == 'o') {
				const char *list = c[1] ? c + 1 : (i + 1 < nargs ? args[++i] : NULL);
				if (!list) {
					log_error("ps option -o needs a list of columns");
					return -1;
				}
				if (add_cols(list, cols, ncols) < 0)
					return -1;
				break;
			}
			log_error("ps option -%c (in %s) is not supported: the container's processes run in "
				  "its microVM "
				  "(supported: -e -A -a -x -f -o LIST)",
				  *c, a);
			return -1;
		}
	}
	if (*ncols == 0) {
		const int ef[] = {C_UID, C_PID, C_PPID, C_C, C_STIME, C_TTY, C_TIME, C_CMD};
		memcpy(cols, ef, sizeof(ef));
		*ncols = (int)(sizeof(ef) / sizeof(ef[0]));
	}
	for (int i = 0; i < *ncols; i++)
		if (cols[i] == C_PID)
			return 0;
	log_error("couldn't find PID field in ps output"); /* runc's */
	return -1;
}

/* The name of UID in the container's /etc/passwd (as ps does, but the container's: its users
 * are the guest's); the number when unknown or longer than the column, as procps. */
static void user_name(const char *rootfs, long long uid, char *out, size_t len)
{
	snprintf(out, len, "%lld", uid);
	if (uid < 0) {
		snprintf(out, len, "?");
		return;
	}
	char path[PATH_MAX + 16], line[512];
	snprintf(path, sizeof(path), "%s/etc/passwd", rootfs);
	FILE *f = rootfs[0] ? fopen(path, "re") : NULL;
	while (f && fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || strtoll(c2 + 1, NULL, 10) != uid || c2[1] == ':')
			continue;
		*c1 = '\0';
		size_t l = strlen(line);
		if (l <= 8 && l < len)
			memcpy(out, line, l + 1); /* a name ps shows (at most 8 chars, as procps) */
		break;
	}
	if (f)
		fclose(f);
}

/* procps: HH:MM within the last 24 hours, MonDD within the year, else the year. */
static void fmt_stime(long long start, char *out, size_t len)
{
	time_t t = (time_t)start, now = time(NULL);
	struct tm tm, tn;
	if (start < 0 || !localtime_r(&t, &tm) || !localtime_r(&now, &tn)) {
		snprintf(out, len, "?");
		return;
	}
	strftime(out, len, now - t < 24 * 3600 ? "%H:%M" : tm.tm_year == tn.tm_year ? "%b%d" : "%Y", &tm);
}

static void fmt_time(long long s, char *out, size_t len)
{
	if (s < 0)
		snprintf(out, len, "?");
	else if (s >= 86400)
		snprintf(out, len, "%lld-%02lld:%02lld:%02lld", s / 86400, s / 3600 % 24, s / 60 % 60,
			 s % 60);
	else
		snprintf(out, len, "%02lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
}

static void print_cell(const char *v, int width, bool last)
{
	if (last && width <= 0) /* procps pads no last column */
		printf("%s\n", v);
	else if (last)
		printf("%*s\n", width, v);
	else if (width < 0)
		printf("%-*s ", -width, v);
	else
		printf("%*s ", width, v);
}

static void print_table(const struct proto_ps_entry *e, size_t n, const int *cols, int ncols,
			const char *rootfs)
{
	for (int k = 0; k < ncols; k++)
		print_cell(COLS[cols[k]].head, COLS[cols[k]].width, k == ncols - 1);
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < ncols; k++) {
			char v[PROTO_PS_CMD_MAX];
			switch (cols[k]) {
			case C_UID:
			case C_USER:
				user_name(rootfs, e[i].uid, v, sizeof(v));
				break;
			case C_PID:
				snprintf(v, sizeof(v), "%d", e[i].pid);
				break;
			case C_PPID:
			case C_C:
				if ((cols[k] == C_PPID ? e[i].ppid : e[i].c) < 0)
					snprintf(v, sizeof(v), "?");
				else
					snprintf(v, sizeof(v), "%d", cols[k] == C_PPID ? e[i].ppid : e[i].c);
				break;
			case C_STIME:
				fmt_stime(e[i].start, v, sizeof(v));
				break;
			case C_TTY:
				snprintf(v, sizeof(v), "%s", e[i].tty[0] ? e[i].tty : "?");
				break;
			case C_TIME:
				fmt_time(e[i].time, v, sizeof(v));
				break;
			case C_COMM: {
				/* the program's name: the first word of the command line, without its path */
				size_t w = strcspn(e[i].cmd, " ");
				const char *s = e[i].cmd;
				for (size_t j = 0; j < w; j++)
					if (e[i].cmd[j] == '/')
						s = e[i].cmd + j + 1;
				snprintf(v, sizeof(v), "%.*s", (int)(e[i].cmd + w - s), s);
				break;
			}
			default:
				snprintf(v, sizeof(v), "%s", e[i].cmd);
			}
			print_cell(v, COLS[cols[k]].width, k == ncols - 1);
		}
}

struct ps_opts {
	const char *format;
};

const struct optdef ps_opts[] = {
    OPT_VALUE(struct ps_opts, format, "format", 'f', "table or json"),
    OPT_END,
};

int cmd_ps(int argc, char **argv)
{
	struct parsed p;
	struct ps_opts o;
	if (PARSE_VERB("ps", argc, argv, 1, -1, 1, &o, &p) < 0)
		return 1;
	const char *fmt = o.format;
	int rc = 1, cols[MAX_COLS], ncols = 0;
	if (!fmt)
		fmt = "table";
	if (strcmp(fmt, "table") && strcmp(fmt, "json")) {
		log_error("invalid format option");
		parsed_free(&p);
		return 1;
	}
	/* json ignores ps options, as runc */
	if (!strcmp(fmt, "table") && parse_ps_opts(p.pos + 1, p.npos - 1, cols, &ncols) < 0) {
		parsed_free(&p);
		return 1;
	}
	struct cstate st;
	char dir[PATH_MAX];
	if (load_container(p.pos[0], &st, dir) < 0)
		goto out;
	struct proto_ps_entry *e = NULL;
	size_t n = 0;
	if (!strcmp(state_status(&st), "stopped")) {
		/* runc 1.1.5: no processes, the header (or an empty list) and exit 0 */
		goto print;
	}
	struct ctl_reply rep;
	if (shim_call(dir, &(struct ctl_req){.op = CTL_OP_PS}, &rep))
		goto out_st;
	char err[256] = "no data";
	if (!rep.data_val || proto_parse_ps(rep.data_val, &e, &n, err, sizeof(err)) < 0) {
		log_error("ps: malformed reply from the shim: %s", err);
		ctl_reply_free(&rep);
		goto out_st;
	}
	ctl_reply_free(&rep);
print:
	if (!strcmp(fmt, "json")) {
		printf("[");
		for (size_t i = 0; i < n; i++)
			printf("%s%d", i ? "," : "", e[i].pid);
		printf("]\n");
	} else {
		print_table(e, n, cols, ncols, st.rootfs);
	}
	free(e);
	rc = 0;
out_st:
	state_free(&st);
out:
	parsed_free(&p);
	return rc;
}
