/* SPDX-License-Identifier: Apache-2.0 */
/* Capabilities from process.capabilities with libcap (bounding, permitted/effective/inheritable,
 * ambient).  Called after the uid change (PR_SET_KEEPCAPS kept the permitted set). */
#include "setup.h"

#include <errno.h>
#include <stdio.h>
#include <sys/capability.h>
#include <sys/prctl.h>

enum { SET_BOUNDING, SET_EFFECTIVE, SET_INHERITABLE, SET_PERMITTED, SET_AMBIENT };

/* Needs CAP_SETPCAP in the effective set: before the uid change. */
int process_caps_bounding(const struct spec_process *p, struct setup_err *e)
{
	cap_value_t last = (cap_value_t)cap_max_bits() - 1;
	uint64_t none[SPEC_CAP_SETS] = {0};
	const uint64_t *c = p->has_caps ? p->caps : none;
	for (cap_value_t v = 0; v <= last && v < 64; v++) {
		if (c[SET_BOUNDING] & (1ULL << v))
			continue;
		if (prctl(PR_CAPBSET_DROP, v, 0, 0, 0) < 0 && errno != EINVAL) {
			char t[32];
			snprintf(t, sizeof(t), "%s", cap_to_name(v) ? cap_to_name(v) : "?");
			return setup_fail(e, "drop bounding capability", t, errno);
		}
	}
	return 0;
}

int process_caps(const struct spec_process *p, struct setup_err *e)
{
	cap_value_t last = (cap_value_t)cap_max_bits() - 1;
	uint64_t none[SPEC_CAP_SETS] = {0};
	const uint64_t *c = p->has_caps ? p->caps : none;
	cap_t caps = cap_init();
	if (!caps)
		return setup_fail(e, "cap_init", "", errno);
	static const struct {
		int set;
		cap_flag_t flag;
	} map[] = {{SET_EFFECTIVE, CAP_EFFECTIVE},
		   {SET_PERMITTED, CAP_PERMITTED},
		   {SET_INHERITABLE, CAP_INHERITABLE}};
	for (size_t m = 0; m < 3; m++)
		for (cap_value_t v = 0; v <= last && v < 64; v++)
			if (c[map[m].set] & (1ULL << v))
				cap_set_flag(caps, map[m].flag, 1, &v, CAP_SET);
	int r = cap_set_proc(caps);
	int err = errno;
	cap_free(caps);
	if (r < 0)
		return setup_fail(e, "set capabilities", "process.capabilities", err);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return setup_fail(e, "clear ambient capabilities", "", errno);
	for (cap_value_t v = 0; v <= last && v < 64; v++) {
		if (!(c[SET_AMBIENT] & (1ULL << v)))
			continue;
		/* An ambient capability must also be permitted and inheritable: skip it otherwise,
		 * as runc does. */
		if (!(c[SET_PERMITTED] & c[SET_INHERITABLE] & (1ULL << v)))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, v, 0, 0) < 0) {
			char t[32];
			snprintf(t, sizeof(t), "%s", cap_to_name(v) ? cap_to_name(v) : "?");
			return setup_fail(e, "raise ambient capability", t, errno);
		}
	}
	return 0;
}
