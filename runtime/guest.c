/* SPDX-License-Identifier: Apache-2.0 */
/* guest.h on top of runtime/backend and runtime/agentclient. Until those libraries are in
 * the tree every operation fails with an explicit reason (create then fails cleanly). */
#include "guest.h"

#include <stdio.h>

#define UNAVAILABLE "no microVM backend in this build yet (runtime/backend and runtime/agentclient are not integrated)"

int guest_boot(const char *id, const char *dir, const struct spec *s, const struct vm_plan *plan,
	       struct guest **out, char *err, size_t errlen)
{
	*out = NULL;
	snprintf(err, errlen, "%s", UNAVAILABLE);
	return -1;
}

int guest_create(struct guest *g, const struct spec *s, bool want_stdin, struct guest_stdio *io, char *err,
		 size_t errlen)
{
	snprintf(err, errlen, "%s", UNAVAILABLE);
	return -1;
}

int guest_start(struct guest *g, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s", UNAVAILABLE);
	return -1;
}

int guest_signal(struct guest *g, const char *process, int sig, bool all, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s", UNAVAILABLE);
	return -1;
}

int guest_resize(struct guest *g, const char *process, unsigned rows, unsigned cols)
{
	return -1;
}

int guest_exec(struct guest *g, const char *exec_id, const char *process_json, bool want_stdin,
	       struct guest_stdio *io, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s", UNAVAILABLE);
	return -1;
}

int guest_pause(struct guest *g, bool pause, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s", UNAVAILABLE);
	return -1;
}

int guest_ps(struct guest *g, char **json, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s", UNAVAILABLE);
	return -1;
}

int guest_stats(struct guest *g, char **json, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s", UNAVAILABLE);
	return -1;
}

int guest_update(struct guest *g, const char *resources_json, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s", UNAVAILABLE);
	return -1;
}

int guest_event_fd(struct guest *g)
{
	return -1;
}

int guest_next_exit(struct guest *g, struct guest_exit *ex)
{
	return -1;
}

void guest_destroy(struct guest *g)
{
}
