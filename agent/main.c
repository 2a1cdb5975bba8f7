/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder entry point: replaced by the component's own implementation. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "version.h"

int main(int argc, char **argv)
{
	log_set_prog("runm-agent");
	if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-v") == 0)) {
		printf("runm-agent version %s\n", RUNM_VERSION);
		return 0;
	}
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("usage: runm-agent [--version] [--help]\n");
		return 0;
	}
	log_error("%s: not implemented yet", argc > 1 ? argv[1] : "run");
	return 1;
}
