/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz runm's parsers of files others can write: config.json (spec_parse, hooks included),
 * state.json (state_parse + re-serialisation), /proc/PID/stat lines and runm's own config
 * file (/etc/runm/config.json). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/backend_choice.h"
#include "runtime/runm.h"
#include "runtime/spec.h"
#include "runtime/state.h"

struct globals G = {.root = "/tmp", .log_format = "text"};

int usage_error(const char *verb, const char *fmt, ...)
{
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	char err[256];
	struct spec sp;
	spec_parse(s, "/bundle", &sp, err, sizeof(err));
	spec_free(&sp);
	struct cstate st;
	if (state_parse(s, &st, err, sizeof(err)) == 0) {
		char *js = state_to_json(&st, true, false);
		free(js);
		state_free(&st);
	}
	struct runm_config cfg;
	backend_config_parse(s, "config.json", &cfg, err, sizeof(err));
	unsigned long long t;
	parse_stat_starttime(s, &t);
	parse_signal(s);
	valid_id(s);
	free(s);
	return 0;
}
