/* SPDX-License-Identifier: Apache-2.0 */
/* Stream relays (streams.c) between a process's pipes (or pty) and host connections.  Each
 * stream registers its own fds on the event loop; when the output streams of a process are
 * all done the layer that registered with streams_on_done is told (exit.c). */
#ifndef RUNM_AGENT_STREAMS_H
#define RUNM_AGENT_STREAMS_H

#include <stdbool.h>
#include <stddef.h>

struct evloop;
struct proc;

struct stream {
	struct proc *p;
	int kind; /* enum proto_stream */
	int pfd;  /* process side: pipe read end (out), write end (stdin), pty master (tty) */
	int sock; /* host connection, -1 until attached */
	bool attached, done;
	bool pfd_eof, sock_eof;
	/* tty only: bounded buffers each way */
	char *to_host, *to_proc;
	size_t th_len, th_off, tp_len, tp_off;
	bool splice_ok;
};
/* The loop stream fds are registered on (before any stream is made). */
void streams_init(struct evloop *l);
/* FN(P) runs whenever a stream of P finished (P's output may now be drained). */
void streams_on_done(void (*fn)(struct proc *p));
/* A stream of KIND on the agent's end PFD (-1: a pty master still to come), as P's. */
struct stream *stream_new(struct proc *p, int kind, int pfd);
void stream_free(struct stream *st);
/* Watch the process ends of P's streams. */
int streams_register(struct proc *p);
/* Every output stream of P reached EOF and was closed (or it has none). */
bool streams_output_done(const struct proc *p);
/* The process exited: its stdin is useless now; closed so the host sees EPIPE/EOF. */
void streams_process_exited(struct proc *p);
/* Attach a host connection SOCK as stream KIND of P; 0 or -1 with ERR. */
int streams_attach(struct proc *p, int kind, int sock, char *err, size_t errlen);
/* The window size of P's pty (ENOTTY without one). */
int streams_resize(struct proc *p, unsigned rows, unsigned cols);
void set_nonblock(int fd, bool on);

#endif
