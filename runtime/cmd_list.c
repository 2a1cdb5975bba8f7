/* SPDX-License-Identifier: Apache-2.0 */
/* runm list [--format table|json] [-q] */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd_util.h"
#include "log.h"

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* runc prints the table through Go's tabwriter (minwidth 12, padding 3, spaces): every column
 * but the last is as wide as its longest cell plus 3, at least 12. */
#define LIST_COLS 6
struct table {
	char **cells; /* rows × LIST_COLS */
	size_t rows;
	size_t width[LIST_COLS];
};

static void table_row(struct table *t, const char *const *cols)
{
	char **nc = realloc(t->cells, sizeof(*nc) * (t->rows + 1) * LIST_COLS);
	if (!nc)
		return;
	t->cells = nc;
	for (int c = 0; c < LIST_COLS; c++) {
		char *v = strdup(cols[c] ? cols[c] : "");
		t->cells[t->rows * LIST_COLS + c] = v;
		size_t w = (v ? strlen(v) : 0) + 3;
		if (w < 12)
			w = 12;
		if (w > t->width[c])
			t->width[c] = w;
	}
	t->rows++;
}

static void table_print(struct table *t)
{
	for (size_t r = 0; r < t->rows; r++) {
		for (int c = 0; c < LIST_COLS; c++) {
			const char *v = t->cells[r * LIST_COLS + c];
			if (c == LIST_COLS - 1)
				printf("%s\n", v ? v : "");
			else
				printf("%-*s", (int)t->width[c], v ? v : "");
			free(t->cells[r * LIST_COLS + c]);
		}
	}
	free(t->cells);
}

/* runc's OWNER: the user owning the container's state directory ("#UID" without a name). */
static const char *dir_owner(const char *id, char *buf, size_t len)
{
	char path[PATH_MAX];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/%s", G.root, id);
	if (stat(path, &sb) < 0)
		return "";
	struct passwd *pw = getpwuid(sb.st_uid);
	if (pw)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "#%u", (unsigned)sb.st_uid);
	return buf;
}

struct list_opts {
	const char *format;
	bool quiet;
};

const struct optdef list_opts[] = {
    OPT_VALUE(struct list_opts, format, "format", 'f', "table or json"),
    OPT_FLAG(struct list_opts, quiet, "quiet", 'q', "display only ids"),
    OPT_END,
};

int cmd_list(int argc, char **argv)
{
	struct parsed p;
	struct list_opts o;
	if (PARSE_VERB("list", argc, argv, 0, 0, 0, &o, &p) < 0)
		return 1;
	bool quiet = o.quiet;
	const char *fmt = o.format;
	if (!fmt)
		fmt = "table";
	if (strcmp(fmt, "table") && strcmp(fmt, "json")) {
		log_error("invalid format option");
		parsed_free(&p);
		return 1;
	}
	char **ids = NULL;
	size_t n = 0;
	DIR *d = opendir(G.root);
	if (!d && errno != ENOENT) {
		log_errno(errno, "open state directory %s", G.root);
		parsed_free(&p);
		return 1;
	}
	for (struct dirent *de; d && (de = readdir(d));) {
		if (de->d_name[0] == '.' || !valid_id(de->d_name))
			continue;
		char **nids = realloc(ids, sizeof(*ids) * (n + 1));
		if (!nids)
			break;
		ids = nids;
		ids[n] = strdup(de->d_name);
		if (ids[n])
			n++;
	}
	if (d)
		closedir(d);
	if (n)
		qsort(ids, n, sizeof(*ids), cmp);
	bool first = true;
	bool table = !quiet && !strcmp(fmt, "table");
	struct table t = {0};
	if (table)
		table_row(&t, (const char *[]){"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"});
	if (!quiet && !strcmp(fmt, "json"))
		printf("[");
	for (size_t i = 0; i < n; i++) {
		struct cstate st;
		if (state_load(ids[i], &st) < 0)
			continue; /* half-created or being deleted */
		if (quiet) {
			printf("%s\n", st.id);
		} else if (table) {
			char pid[16], owner[64];
			snprintf(pid, sizeof(pid), "%d", state_pid(&st));
			table_row(&t, (const char *[]){st.id, pid, state_status(&st), st.bundle, st.created,
						       st.owner[0] ? st.owner
								   : dir_owner(st.id, owner, sizeof(owner))});
		} else {
			char *js = state_to_json(&st, false, true);
			if (js)
				printf("%s%s", first ? "" : ",", js);
			first = false;
			free(js);
		}
		state_free(&st);
	}
	if (table)
		table_print(&t);
	if (!quiet && !strcmp(fmt, "json"))
		printf("]\n");
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	parsed_free(&p);
	return 0;
}
