/* SPDX-License-Identifier: Apache-2.0 */
/* The shim's control-socket server: a request decoded once (ctl_proto.c), then the handler of
 * its op from OPS. A handler fills the reply; exec's keeps the connection for the exit reply. */
#include "shim_ops.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ctl.h"
#include "guest.h"
#include "hooks.h"
#include "log.h"

/* A handler's result: the dispatcher sends REP and closes the connection, or the handler kept it. */
enum op_result { OP_REPLY, OP_KEPT };

struct op_call {
	struct shim *s;
	int conn;
	const struct ctl_req *req;
	int *fds; /* the request's descriptors: the handler's when the op takes them */
	int nfds;
	struct ctl_reply *rep;
	char err[512]; /* the text behind rep->error */
};

void shim_save_state(struct shim *s, const char *status)
{
	snprintf(s->st.status, sizeof(s->st.status), "%s", status);
	int r = state_save(s->dir, &s->st);
	if (r < 0)
		log_errno(-r, "write %s/state.json", s->dir);
}

void shim_forward_winsize(struct shim *s)
{
	struct winsize ws;
	if (s->tty_slave >= 0 && ioctl(s->tty_slave, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
		guest_resize(s->g, guest_init_id(s->g), ws.ws_row, ws.ws_col);
}

static enum op_result fail(struct op_call *c, const char *msg)
{
	if (msg != c->err)
		snprintf(c->err, sizeof(c->err), "%s", msg);
	c->rep->error = c->err;
	return OP_REPLY;
}

/* --- start --------------------------------------------------------------------------------- */

/* An engine that attached the network between create and start (Docker >= 26, podman
 * --userns) gets it wired onto the spare NIC and configured in the guest now. */
static int late_network(struct shim *s, char *err, size_t errlen)
{
	bool changed = false;
	if (s->pod.role == POD_MEMBER)
		return 0; /* the pod's network is the sandbox's */
	if (net_late(&s->net, &changed, err, errlen) < 0)
		return -1;
	if (!changed)
		return 0;
	int r = net_record(&s->net, s->dir);
	if (r < 0) {
		snprintf(err, errlen, "record the network in the state directory: %s", strerror(-r));
		return -1;
	}
	return guest_network(s->g, s->id, &s->net.cfg, err, errlen);
}

static enum op_result op_start(struct op_call *c)
{
	struct shim *s = c->s;
	if (strcmp(s->st.status, "created"))
		return fail(c, "cannot start an already running container");
	char *js = state_to_json(&s->st, false, false);
	/* startContainer hooks run in the container, in the guest (agent/hooks.c) */
	if (!js)
		return fail(c, "start: out of memory");
	if (guest_hooks(s->g, &s->spec, HOOK_START_CONTAINER, js, c->err, sizeof(c->err)) < 0) {
		/* as runc, whose init fails then: the container is stopped */
		char kerr[256];
		guest_signal(s->g, "init", SIGKILL, false, kerr, sizeof(kerr));
		free(js);
		return fail(c, c->err);
	}
	free(js);
	if (late_network(s, c->err, sizeof(c->err)) < 0)
		return fail(c, c->err);
	shim_forward_winsize(s); /* a size the engine (or `runm run`) set after create, before the exec */
	if (guest_start(s->g, c->err, sizeof(c->err)) < 0)
		return fail(c, c->err);
	shim_save_state(s, "running");
	js = state_to_json(&s->st, false, false);
	/* before start returns (runtime-spec); a failure is a warning */
	if (js)
		run_hooks(&s->spec, HOOK_POSTSTART, js, false);
	free(js);
	return OP_REPLY;
}

/* --- signals, terminal, freezer ------------------------------------------------------------ */

static enum op_result op_kill(struct op_call *c)
{
	const struct ctl_kill *k = &c->req->kill;
	if (c->s->init_exited && !k->process)
		return fail(c, "container not running");
	if (guest_signal(c->s->g, k->process ? k->process : guest_init_id(c->s->g), k->signal, k->all, c->err,
			 sizeof(c->err)) < 0)
		return fail(c, c->err);
	return OP_REPLY;
}

static enum op_result op_resize(struct op_call *c)
{
	const struct ctl_resize *r = &c->req->resize;
	if (guest_resize(c->s->g, r->process ? r->process : guest_init_id(c->s->g), r->rows, r->cols) < 0)
		return fail(c, "resize failed");
	return OP_REPLY;
}

static enum op_result pause_resume(struct op_call *c, bool pause)
{
	struct shim *s = c->s;
	if (guest_pause(s->g, pause, c->err, sizeof(c->err)) < 0)
		return fail(c, c->err);
	/* resume returns to where pause left: created stays created */
	if (pause)
		snprintf(s->before_pause, sizeof(s->before_pause), "%s", s->st.status);
	shim_save_state(s, pause ? "paused" : s->before_pause[0] ? s->before_pause : "running");
	return OP_REPLY;
}

static enum op_result op_pause(struct op_call *c)
{
	return pause_resume(c, true);
}

static enum op_result op_resume(struct op_call *c)
{
	return pause_resume(c, false);
}

/* --- queries ------------------------------------------------------------------------------- */

static enum op_result op_oom(struct op_call *c)
{
	c->rep->has_oom = true;
	c->rep->oom_kills = guest_oom_kills(c->s->g);
	return OP_REPLY;
}

/* ps / stats: the guest's object as the reply's data (freed by the dispatcher via DATA). */
static enum op_result query(struct op_call *c, int (*fn)(struct guest *, char **, char *, size_t))
{
	char *js = NULL;
	if (fn(c->s->g, &js, c->err, sizeof(c->err)) < 0)
		return fail(c, c->err);
	c->rep->data = js;
	return OP_REPLY;
}

static enum op_result op_ps(struct op_call *c)
{
	return query(c, guest_ps);
}

static enum op_result op_stats(struct op_call *c)
{
	return query(c, guest_stats);
}

static enum op_result op_update(struct op_call *c)
{
	if (guest_update(c->s->g, c->req->update.resources, c->err, sizeof(c->err)) < 0)
		return fail(c, c->err);
	return OP_REPLY;
}

/* --- exec ---------------------------------------------------------------------------------- */

static int new_exec_slot(struct shim *s)
{
	for (int i = 1; i <= MAX_EXECS; i++)
		if (!s->ex[i].used)
			return i;
	return -1;
}

void shim_finish_exec(struct shim *s, int i)
{
	struct execp *e = &s->ex[i];
	relay_close_owner(&s->rs, i);
	if (e->conn >= 0) {
		struct ctl_reply rep = {.has_exit = true, .exit = e->status};
		ctl_send_reply(e->conn, &rep);
		close(e->conn);
	}
	for (int k = 0; k < e->nfds; k++)
		close(e->fds[k]);
	memset(e, 0, sizeof(*e));
}

/* The guest's stdio streams IO relayed to the caller's fds; -1 when a relay could not be set up
 * (the streams no relay took over are closed). */
static int relay_exec(struct shim *s, int slot, bool tty, const int *fds, int nfds, struct guest_stdio *io)
{
	int k0, k1, k2 = -2;
	if (tty) {
		k0 = relay_add(&s->rs, fds[0], io->tty, slot, false, false);
		k1 = relay_add(&s->rs, io->tty, fds[nfds - 1], slot, true, false);
	} else {
		k0 = relay_add(&s->rs, fds[0], io->in, slot, false, true);
		k1 = relay_add(&s->rs, io->out, fds[1], slot, true, false);
		k2 = relay_add(&s->rs, io->err, fds[2], slot, true, false);
	}
	if (k0 == -1 || k1 < 0 || k2 == -1) {
		relay_close_owner(&s->rs, slot);
		if (tty && k1 < 0)
			close(io->tty);
		if (!tty && k0 < 0 && io->in >= 0)
			close(io->in);
		if (!tty && k1 < 0 && io->out >= 0)
			close(io->out);
		if (!tty && k2 < 0 && io->err >= 0)
			close(io->err);
		return -1;
	}
	s->rs.r[k1].output = true;
	if (k2 >= 0)
		s->rs.r[k2].output = true;
	return 0;
}

static enum op_result exec_start(struct op_call *c)
{
	struct shim *s = c->s;
	const struct ctl_exec *x = &c->req->exec;
	if (s->init_exited)
		return fail(c, "cannot exec in a stopped container");
	int slot = new_exec_slot(s);
	if (slot < 0 || relay_room(&s->rs) < RELAY_PER_PROCESS)
		return fail(c,
			    "exec: too many exec processes (at most " RELAY_STR(RELAY_MAX_EXECS) " at once)");
	/* tty: one fd both ways (a pty slave), or input and output fds (runm exec -t's stdin, stdout) */
	if (x->tty ? c->nfds < 1 || c->nfds > 2 : c->nfds != 3)
		return fail(c, "exec: malformed request");
	struct guest_stdio io = {-1, -1, -1, -1};
	if (guest_exec(s->g, x->id, x->process, x->want_stdin, &io, c->err, sizeof(c->err)) < 0)
		return fail(c, c->err);
	struct execp *e = &s->ex[slot];
	e->used = true;
	snprintf(e->id, sizeof(e->id), "%s", x->id);
	if (relay_exec(s, slot, x->tty, c->fds, c->nfds, &io) < 0) {
		/* started but cannot be relayed: never run it with its output dropped */
		guest_signal(s->g, e->id, SIGKILL, false, c->err, sizeof(c->err));
		memset(e, 0, sizeof(*e));
		return fail(c, "exec: cannot relay the process's stdio (out of memory)");
	}
	e->conn = c->conn;
	e->nfds = c->nfds;
	memcpy(e->fds, c->fds, sizeof(int) * (size_t)c->nfds);
	struct ctl_reply started = {.started = true};
	ctl_send_reply(c->conn, &started);
	return OP_KEPT;
}

static enum op_result op_exec(struct op_call *c)
{
	enum op_result r = exec_start(c);
	if (r != OP_KEPT)
		for (int k = 0; k < c->nfds; k++)
			close(c->fds[k]);
	return r;
}

/* --- dispatch ------------------------------------------------------------------------------ */

static const struct {
	enum op_result (*fn)(struct op_call *c);
	bool takes_fds; /* else the request's fds are closed before the handler runs */
} OPS[CTL_OP_COUNT] = {
    [CTL_OP_START] = {op_start, false},	  [CTL_OP_KILL] = {op_kill, false},
    [CTL_OP_RESIZE] = {op_resize, false}, [CTL_OP_PAUSE] = {op_pause, false},
    [CTL_OP_RESUME] = {op_resume, false}, [CTL_OP_OOM] = {op_oom, false},
    [CTL_OP_PS] = {op_ps, false},	  [CTL_OP_STATS] = {op_stats, false},
    [CTL_OP_UPDATE] = {op_update, false}, [CTL_OP_EXEC] = {op_exec, true},
};

void shim_serve(struct shim *s, int conn)
{
	int fds[CTL_MAX_FDS], nfds = 0;
	struct timeval tv = {5, 0};
	setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char *line = ctl_read_request(conn, fds, CTL_MAX_FDS, &nfds);
	if (!line) {
		close(conn);
		return;
	}
	struct ctl_req req;
	struct ctl_reply rep = {0};
	struct op_call c = {.s = s, .conn = conn, .req = &req, .fds = fds, .nfds = nfds, .rep = &rep};
	enum op_result r = OP_REPLY;
	bool decoded = ctl_req_decode(line, strlen(line), &req, c.err, sizeof(c.err)) == 0;
	if (!decoded || !OPS[req.op].takes_fds)
		for (int k = 0; k < nfds; k++)
			close(fds[k]);
	if (!decoded)
		rep.error = c.err;
	else
		r = OPS[req.op].fn(&c);
	if (r == OP_REPLY) {
		ctl_send_reply(conn, &rep);
		close(conn);
	}
	free((char *)rep.data);
	if (decoded)
		ctl_req_free(&req);
	free(line);
}
