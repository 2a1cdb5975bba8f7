/* SPDX-License-Identifier: Apache-2.0 */
/* runm list [--format table|json] [-q] */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_util.h"
#include "log.h"

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cmd_list(int argc, char **argv)
{
	struct parsed p;
	if (parse_verb("list", argc, argv, 0, 0, 0, &p) < 0)
		return 1;
	const char *fmt;
	bool quiet = optset(find_verb("list")->opts, &p, "quiet");
	fmt = optval(find_verb("list")->opts, &p, "format");
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
	if (!quiet && !strcmp(fmt, "table"))
		printf("%-12s%-12s%-12s%-12s%-12s%s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
	if (!quiet && !strcmp(fmt, "json"))
		printf("[");
	for (size_t i = 0; i < n; i++) {
		struct cstate st;
		if (state_load(ids[i], &st) < 0)
			continue; /* half-created or being deleted */
		if (quiet)
			printf("%s\n", st.id);
		else if (!strcmp(fmt, "table"))
			printf("%-12s%-12d%-12s%-12s%-12s%s\n", st.id, state_pid(&st), state_status(&st), st.bundle,
			       st.created, st.owner);
		else {
			char *js = state_to_json(&st, false, true);
			if (js)
				printf("%s%s", first ? "" : ",", js);
			first = false;
			free(js);
		}
		state_free(&st);
	}
	if (!quiet && !strcmp(fmt, "json"))
		printf("]\n");
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	parsed_free(&p);
	return 0;
}
