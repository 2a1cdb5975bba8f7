/* SPDX-License-Identifier: Apache-2.0 */
/* Byte relays between host fds and guest stream fds, driven by the shim's poll loop. */
#ifndef RUNM_RUNTIME_RELAY_H
#define RUNM_RUNTIME_RELAY_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#define RELAY_MAX 64

struct relay {
	int from, to;
	int owner;        /* index of the process it belongs to (0 = init) */
	bool close_from;  /* close FROM when done */
	bool close_to;    /* close TO on EOF (propagates EOF: guest stdin, host pipes) */
	bool shut_to;     /* TO is a socket: shutdown(SHUT_WR) instead of close on EOF */
	bool output;      /* guest → host: the process's output (drained before exit) */
	bool active;
};

struct relays {
	struct relay r[RELAY_MAX];
	int n;
};

/* Index of the new relay, -2 when an fd is -1, -1 when full. */
int relay_add(struct relays *rs, int from, int to, int owner, bool close_from, bool close_to);
/* Append pollfds for the active relays to PFD (returns how many were added; IDX maps back). */
int relay_pollfds(struct relays *rs, struct pollfd *pfd, int *idx, int max);
/* Move bytes for relay I after poll said FROM is readable/hung up. Returns 1 when the relay
 * finished (EOF or error). */
int relay_pump(struct relays *rs, int i);
/* Active relays of OWNER that read from the guest (output streams). */
int relay_count(const struct relays *rs, int owner);
void relay_close_owner(struct relays *rs, int owner);

#endif
