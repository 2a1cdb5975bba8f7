/* SPDX-License-Identifier: Apache-2.0 */
/* `runm-vmm vhost-user`: listening sockets, connections and the event loop. */
#include "vmm/vhost_user/vhost_user.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "common/evloop.h"
#include "vmm/devices/virtio.h"
#include "vmm/vhost_user/vu_backend.h"
#include "vmm/sandbox.h"

#define VU_MAX_DEVICES 8

struct vu_slot {
	const char *path; /* socket path, or "fd N" for --fd */
	char label[24];
	int given_fd;	   /* --fd: a connected socket from the caller, else -1 */
	bool listen_given; /* --listen-fd: lfd is the caller's listening socket (its file, too) */
	const char *spec;
	int lfd; /* listening socket */
	int cfd; /* the frontend's connection */
	bool bound;
	struct virtio_dev *dev;
	struct vu_backend *be;
};

struct vu_server {
	struct evloop *loop;
	struct vu_slot slot[VU_MAX_DEVICES];
	unsigned n;
	int sfd;
	int status;
	bool no_seccomp;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: runm-vmm vhost-user {--socket PATH | --fd N | --listen-fd N} --device SPEC "
		"[{--socket PATH | --fd N} --device SPEC]... [--ready-fd FD] [--no-seccomp] [--debug]\n"
		"  --socket PATH  listen there for the frontend; --fd N  a connected socket to serve\n"
		"  --listen-fd N  a listening socket the caller bound (and removes)\n"
		"  SPEC: vsock,uds=PATH,cid=N | fs,tag=TAG,dir=DIR | rng |\n"
		"        net,{tapfd=N|tap=NAME}[,mac=MAC][,mtu=N]   (kinds here: %s)\n",
		virtio_dev_kinds());
}

static void unlisten(struct vu_server *s, struct vu_slot *sl)
{
	if (sl->lfd >= 0) {
		evloop_del(s->loop, sl->lfd);
		close(sl->lfd);
		sl->lfd = -1;
	}
	if (sl->bound && sl->given_fd < 0) {
		unlink(sl->path);
		sl->bound = false;
	}
}

static void finish(struct vu_server *s, int status)
{
	if (status > s->status)
		s->status = status;
	evloop_stop(s->loop);
}

struct conn_ref {
	struct vu_server *s;
	struct vu_slot *sl;
};
static struct conn_ref refs[VU_MAX_DEVICES];

static void on_conn(void *opaque, uint32_t events)
{
	struct conn_ref *ref = opaque;
	struct vu_slot *sl = ref->sl;
	struct vu_msg m;
	int r = vu_msg_recv(sl->cfd, &m);
	if (r == 0 || r == -ECONNRESET) {
		log_debug("vhost-user: %s: frontend disconnected", sl->path);
		finish(ref->s, 0);
		return;
	}
	if (r < 0) {
		if (r == -EAGAIN || r == -EINTR)
			return;
		if (r != -EBADMSG)
			log_errno(-r, "vhost-user: %s: receive", sl->path);
		finish(ref->s, 1);
		return;
	}
	log_debug("vhost-user: %s: %s size %u fds %u", sl->spec, vu_request_name(m.hdr.request), m.hdr.size,
		  m.nfds);
	if (vu_backend_handle(sl->be, &m) == -EPROTO) {
		log_error("vhost-user: %s: dropping the frontend after a protocol error", sl->path);
		finish(ref->s, 1);
	}
}

static void on_accept(void *opaque, uint32_t events)
{
	struct conn_ref *ref = opaque;
	struct vu_slot *sl = ref->sl;
	int fd = accept4(sl->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
			log_errno(errno, "vhost-user: accept on %s", sl->path);
			finish(ref->s, 1);
		}
		return;
	}
	/* One frontend per device: stop listening, the socket file goes away. */
	unlisten(ref->s, sl);
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)); /* bounded partial messages */
	sl->cfd = fd;
	sl->be = vu_backend_new(sl->dev, ref->s->loop, fd);
	int e = sl->be ? evloop_add(ref->s->loop, fd, EPOLLIN, on_conn, ref) : -ENOMEM;
	if (e < 0) {
		log_errno(-e, "vhost-user: serve %s", sl->path);
		finish(ref->s, 1);
	}
}

static void on_signal(void *opaque, uint32_t events)
{
	struct vu_server *s = opaque;
	struct signalfd_siginfo si;
	if (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		log_debug("vhost-user: signal %u: exiting", si.ssi_signo);
	finish(s, 0);
}

/* --fd: the caller handed us one end of a connected socket (the other end is
 * the frontend's): serve it right away. No socket file exists. */
static int serve_fd(struct vu_server *s, struct vu_slot *sl, struct conn_ref *ref)
{
	struct stat st;
	int type = 0;
	socklen_t tl = sizeof(type);
	if (fstat(sl->given_fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(sl->given_fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM) {
		log_error("vhost-user: --fd %d: not an open stream socket", sl->given_fd);
		return -1;
	}
	fcntl(sl->given_fd, F_SETFD, FD_CLOEXEC);
	struct timeval tv = {.tv_sec = 10};
	setsockopt(sl->given_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	sl->cfd = sl->given_fd;
	sl->be = vu_backend_new(sl->dev, s->loop, sl->cfd);
	int e = sl->be ? evloop_add(s->loop, sl->cfd, EPOLLIN, on_conn, ref) : -ENOMEM;
	if (e < 0) {
		log_errno(-e, "vhost-user: serve %s", sl->path);
		return -1;
	}
	return 0;
}

static int listen_on(struct vu_slot *sl)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(sl->path) >= sizeof(a.sun_path)) {
		log_error("vhost-user: socket path %s: longer than %zu bytes", sl->path,
			  sizeof(a.sun_path) - 1);
		return -1;
	}
	strcpy(a.sun_path, sl->path);
	struct stat st;
	if (lstat(sl->path, &st) == 0) {
		log_error("vhost-user: socket path %s: already exists", sl->path);
		return -1;
	}
	sl->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sl->lfd < 0) {
		log_errno(errno, "vhost-user: socket for %s", sl->path);
		return -1;
	}
	if (bind(sl->lfd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		log_errno(errno, "vhost-user: bind %s", sl->path);
		return -1;
	}
	sl->bound = true;
	if (listen(sl->lfd, 1) < 0) {
		log_errno(errno, "vhost-user: listen on %s", sl->path);
		return -1;
	}
	return 0;
}

static int parse_args(struct vu_server *s, int argc, char **argv, int *ready_fd)
{
	const char *path = NULL;
	int pending_fd = -1;
	bool pending_listen = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		}
		if (!strcmp(a, "--debug")) {
			log_set_debug(1);
			continue;
		}
		if (!strcmp(a, "--no-seccomp")) {
			s->no_seccomp = true;
			continue;
		}
		if (i + 1 >= argc) {
			log_error("vhost-user: %s: missing value or unknown option", a);
			return -1;
		}
		const char *v = argv[++i];
		if (!strcmp(a, "--listen-fd")) {
			/* A socket the caller bound and listens on (a jailed server cannot create
			 * files in the socket directory): serve the first connection. */
			char *end;
			long fd = strtol(v, &end, 10);
			if (*v == '\0' || *end || fd < 3 || fd > 65535 || path || s->n == VU_MAX_DEVICES) {
				log_error("vhost-user: --listen-fd %s: %s", v,
					  path			   ? "the previous socket has no --device"
					  : s->n == VU_MAX_DEVICES ? "too many devices"
								   : "not a file descriptor number above 2");
				return -1;
			}
			pending_fd = (int)fd;
			pending_listen = true;
			path = "";
			continue;
		}
		if (!strcmp(a, "--fd")) {
			char *end;
			long fd = strtol(v, &end, 10);
			if (*v == '\0' || *end || fd < 3 || fd > 65535) {
				log_error("vhost-user: --fd %s: not a file descriptor number above 2", v);
				return -1;
			}
			if (path) {
				log_error("vhost-user: --fd %s: the previous --socket %s has no --device", v,
					  path);
				return -1;
			}
			if (s->n == VU_MAX_DEVICES) {
				log_error("vhost-user: more than %d devices", VU_MAX_DEVICES);
				return -1;
			}
			/* The next --device is served on this fd. */
			pending_fd = (int)fd;
			path = "";
			continue;
		}
		if (!strcmp(a, "--socket")) {
			if (path) {
				log_error("vhost-user: --socket %s: the previous --socket %s has no --device",
					  v, path);
				return -1;
			}
			path = v;
		} else if (!strcmp(a, "--device")) {
			if (!path) {
				log_error("vhost-user: --device %s: give its --socket first", v);
				return -1;
			}
			if (s->n == VU_MAX_DEVICES) {
				log_error("vhost-user: more than %d devices", VU_MAX_DEVICES);
				return -1;
			}
			struct vu_slot *sl = &s->slot[s->n++];
			*sl = (struct vu_slot){
			    .path = path, .spec = v, .lfd = -1, .cfd = -1, .given_fd = pending_fd};
			if (pending_fd >= 0) {
				snprintf(sl->label, sizeof(sl->label), "%sfd %d",
					 pending_listen ? "listening " : "", pending_fd);
				sl->path = sl->label;
			}
			if (pending_listen) {
				sl->lfd = pending_fd;
				sl->given_fd = -1;
				sl->listen_given = true;
			}
			pending_fd = -1;
			pending_listen = false;
			path = NULL;
		} else if (!strcmp(a, "--ready-fd")) {
			char *end;
			long fd = strtol(v, &end, 10);
			if (*v == '\0' || *end || fd < 0 || fd > 65535) {
				log_error("vhost-user: --ready-fd %s: not a file descriptor number", v);
				return -1;
			}
			*ready_fd = (int)fd;
		} else {
			log_error("vhost-user: unknown option %s", a);
			return -1;
		}
	}
	if (path) {
		log_error("vhost-user: --socket/--fd %s has no --device", *path ? path : "");
		return -1;
	}
	if (s->n == 0) {
		usage(stderr);
		return -1;
	}
	return 0;
}

int vhost_user_main(int argc, char **argv)
{
	struct vu_server s = {.sfd = -1};
	int ready_fd = -1, ret = 1;
	sigset_t mask;

	if (parse_args(&s, argc, argv, &ready_fd) < 0)
		return 2;
	s.loop = evloop_new();
	if (!s.loop) {
		log_errno(errno, "vhost-user: create event loop");
		return 1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	s.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s.sfd < 0 || evloop_add(s.loop, s.sfd, EPOLLIN, on_signal, &s) < 0) {
		log_errno(errno, "vhost-user: signalfd");
		goto out;
	}
	for (unsigned i = 0; i < s.n; i++) {
		struct vu_slot *sl = &s.slot[i];
		char err[256] = "";
		sl->dev = virtio_dev_create(sl->spec, s.loop, err, sizeof(err));
		if (!sl->dev) {
			log_error("vhost-user: --device %s: %s", sl->spec, err);
			goto out;
		}
		refs[i] = (struct conn_ref){.s = &s, .sl = sl};
		if (sl->given_fd >= 0) {
			if (serve_fd(&s, sl, &refs[i]) < 0)
				goto out;
			continue;
		}
		if (sl->listen_given) {
			int on = 0;
			socklen_t len = sizeof(on);
			if (getsockopt(sl->lfd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0 || !on) {
				log_error("vhost-user: --listen-fd %d: not a listening socket", sl->lfd);
				sl->lfd = -1;
				goto out;
			}
			fcntl(sl->lfd, F_SETFD, FD_CLOEXEC);
			fcntl(sl->lfd, F_SETFL, fcntl(sl->lfd, F_GETFL) | O_NONBLOCK);
		} else if (listen_on(sl) < 0) {
			goto out;
		}
		int e = evloop_add(s.loop, sl->lfd, EPOLLIN, on_accept, &refs[i]);
		if (e < 0) {
			log_errno(-e, "vhost-user: watch %s", sl->path);
			goto out;
		}
	}
	/* Everything is open: drop privileges (an fs server keeps the file
	 * capabilities it serves with) and confine the loop thread with the
	 * allowlist that guards runm-vmm's own event loop (same device code). */
	if (!s.no_seccomp) {
		bool fs = false;
		for (unsigned i = 0; i < s.n; i++) {
			const char *sp = s.slot[i].spec;
			fs |= !strncmp(sp, "fs", 2) && (sp[2] == ',' || !sp[2]);
		}
		if (sandbox_drop_caps(fs) < 0 || sandbox_seccomp_loop() < 0)
			goto out;
	}
	if (ready_fd >= 0) {
		if (write(ready_fd, "1", 1) != 1)
			log_errno(errno, "vhost-user: --ready-fd %d", ready_fd);
		close(ready_fd);
	}
	int e = evloop_run(s.loop);
	if (e < 0) {
		log_errno(-e, "vhost-user: event loop");
		goto out;
	}
	ret = s.status;
out:
	for (unsigned i = 0; i < s.n; i++) {
		struct vu_slot *sl = &s.slot[i];
		unlisten(&s, sl);
		vu_backend_free(sl->be);
		if (sl->cfd >= 0) {
			evloop_del(s.loop, sl->cfd);
			close(sl->cfd);
		}
		if (sl->dev)
			virtio_dev_destroy(sl->dev);
	}
	if (s.sfd >= 0) {
		evloop_del(s.loop, s.sfd);
		close(s.sfd);
	}
	evloop_free(s.loop);
	return ret;
}
