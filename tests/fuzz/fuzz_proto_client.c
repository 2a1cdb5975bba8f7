/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the host library's handling of what an agent sends back: the input is the byte stream
 * arriving on the control connection while the client makes its typed calls. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/agentclient/agentclient.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 60000)
		return 0;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	int big = 1 << 20;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (write(sv[1], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR);
	struct agentclient *ac = ac_from_fd(sv[0]);
	struct ac_exit ex;
	char proc[PROTO_MAX_ID + 1];
	pid_t pid;
	char *json = NULL;
	/* Each call consumes frames until it fails (EOF ends the input). */
	ac_hello(ac, true);
	ac_create(ac, "init", "/b", "{}", &(struct ac_stdio){.out = true}, false, &pid);
	ac_wait(ac, "init", &ex);
	if (ac_stats(ac, &json) == 0)
		free(json);
	ac_next_event(ac, &ex, proc, sizeof(proc), 0);
	struct ac_event ev;
	ac_next_event_any(ac, &ev, 0);
	ac_signal(ac, "init", 9, true);
	struct proto_ps_entry *ps;
	size_t nps;
	if (ac_ps(ac, &ps, &nps) == 0)
		free(ps);
	ac_pause(ac, true);
	ac_update(ac, &(struct proto_resources){
			  .set = PROTO_RES_PIDS_LIMIT | PROTO_RES_CPU_CPUS, .pids_limit = 5, .cpus = "0-1"});
	ac_close(ac);
	close(sv[1]);
	return 0;
}
