/* SPDX-License-Identifier: Apache-2.0 */
/* Byte relays between host fds and guest stream fds, driven by the shim's poll loop. Never
 * blocking the loop: each relay has a bounded buffer; it reads only when the buffer has room
 * (back-pressure by not reading) and writes only what poll says fits (sockets with
 * MSG_DONTWAIT; other fds PIPE_BUF at a time after POLLOUT, which a pipe always takes). The
 * fds' own flags are never changed: they are shared with the engine and `runm exec`. */
#ifndef RUNM_RUNTIME_RELAY_H
#define RUNM_RUNTIME_RELAY_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#define RELAY_MAX_EXECS	  128 /* exec'd processes a shim relays at once */
#define RELAY_PER_PROCESS 3   /* stdin, stdout, stderr (a tty takes 2) */
#define RELAY_MAX	  (RELAY_PER_PROCESS * (RELAY_MAX_EXECS + 1)) /* + the init */
#define RELAY_MAX_POLLFDS (2 * RELAY_MAX) /* each relay polls its source and its sink */
#define RELAY_BUF	  65536
#define RELAY_XSTR(x)	  #x
#define RELAY_STR(x)	  RELAY_XSTR(x)

struct relay {
	int from, to;
	int owner;	       /* index of the process it belongs to (0 = init) */
	bool close_from;       /* close FROM when done */
	bool close_to;	       /* close TO on EOF (propagates EOF: guest stdin, host pipes) */
	bool shut_to;	       /* TO is a socket: shutdown(SHUT_WR) instead of close on EOF */
	bool to_fifo, to_file; /* TO is a pipe (its free space is known) / a file (never blocks) */
	bool output;	       /* guest → host: the process's output (drained before exit) */
	bool active;
	bool eof;  /* FROM ended: flush what is buffered, then finish */
	char *buf; /* RELAY_BUF bytes: [off, len) still to write */
	size_t off, len;
};

struct relays {
	struct relay r[RELAY_MAX];
	int n;
};

/* Index of the new relay, -2 when an fd is -1, -1 when full or out of memory. */
int relay_add(struct relays *rs, int from, int to, int owner, bool close_from, bool close_to);
/* Free relay slots (an exec needs RELAY_PER_PROCESS before it is started). */
int relay_room(const struct relays *rs);
/* Append pollfds for the active relays to PFD (at most MAX; returns how many were added;
 * IDX maps each back for relay_pump). */
int relay_pollfds(struct relays *rs, struct pollfd *pfd, int *idx, int max);
/* Move bytes for IDX (from relay_pollfds) after poll reported an event on it. Returns 1 when
 * the relay finished (EOF flushed, or an error). */
int relay_pump(struct relays *rs, int idx);
/* Active relays of OWNER that read from the guest (output streams). */
int relay_count(const struct relays *rs, int owner);
/* Of those, the ones holding bytes their sink has not taken yet (a slow reader, not the guest). */
int relay_backlog(const struct relays *rs, int owner);
void relay_close_owner(struct relays *rs, int owner);

#endif
