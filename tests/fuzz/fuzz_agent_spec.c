/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the agent's OCI config and process.json parsing (host-supplied, treated as hostile). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	struct spec sp;
	char err[512];
	if (spec_parse(s, "/bundle", &sp, err, sizeof(err)) == 0)
		spec_free(&sp);
	yajl_val tree;
	struct spec_process p;
	if (spec_process_parse_json(s, &tree, &p, err, sizeof(err)) == 0) {
		spec_process_free(&p);
		yajl_tree_free(tree);
	}
	free(s);
	return 0;
}
