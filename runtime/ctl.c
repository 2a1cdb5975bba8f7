/* SPDX-License-Identifier: Apache-2.0 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "log.h"

/* sun_path is 108 bytes: address the socket through an O_PATH fd of its directory. */
static int sock_addr(const char *dir, struct sockaddr_un *sa, int *dfd)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	*dfd = -1;
	if (snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", dir, CTL_SOCK) < (int)sizeof(sa->sun_path))
		return 0;
	*dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*dfd < 0)
		return -errno;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", *dfd, CTL_SOCK);
	return 0;
}

int ctl_connect(const char *dir)
{
	struct sockaddr_un sa;
	int dfd, r = sock_addr(dir, &sa, &dfd);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(s);
		s = -1;
		errno = e;
	}
	if (dfd >= 0) {
		int e = errno;
		close(dfd);
		errno = e;
	}
	return s;
}

int ctl_listen(const char *dir)
{
	struct sockaddr_un sa;
	int dfd, r = sock_addr(dir, &sa, &dfd);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s >= 0 && (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 16) < 0)) {
		int e = errno;
		close(s);
		s = -1;
		errno = e;
	}
	if (dfd >= 0) {
		int e = errno;
		close(dfd);
		errno = e;
	}
	return s;
}

int ctl_write_all(int fd, const char *buf, size_t len)
{
	bool sock = true;
	while (len) {
		/* a peer that went away is an error (EPIPE), not a SIGPIPE that kills us silently */
		ssize_t n = sock ? send(fd, buf, len, MSG_NOSIGNAL) : write(fd, buf, len);
		if (n < 0 && sock && errno == ENOTSOCK) {
			sock = false;
			continue;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int send_fd(int sock, int fd, const char *payload)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = (void *)payload, .iov_len = strlen(payload)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	memset(cbuf, 0, sizeof(cbuf));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	while (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* One '\n'-terminated line (without the '\n') of at most max bytes, read byte by byte so that
 * nothing after the line is consumed. NULL with errno: ECONNRESET on EOF before any byte,
 * EMSGSIZE when longer than max, ENOMEM, or the read error. EOF after some bytes ends the line. */
static char *read_line(int fd, size_t max)
{
	size_t len = 0, cap = 256;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	for (;;) {
		if (len + 1 >= cap) {
			char *nb = cap >= max ? NULL : realloc(buf, cap * 2);
			if (!nb) {
				int err = cap >= max ? EMSGSIZE : ENOMEM;
				free(buf);
				errno = err;
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (n == 0 && len == 0)) {
			int err = n == 0 ? ECONNRESET : errno;
			free(buf);
			errno = err;
			return NULL;
		}
		if (n == 0 || buf[len] == '\n')
			break;
		len++;
	}
	buf[len] = '\0';
	return buf;
}

int ctl_call(const char *dir, const char *req, const int *fds, int nfds, char **reply)
{
	*reply = NULL;
	int s = ctl_connect(dir);
	if (s < 0)
		return -errno;
	size_t len = strlen(req);
	char *line = malloc(len + 2);
	if (!line) {
		close(s);
		return -ENOMEM;
	}
	snprintf(line, len + 2, "%s\n", req);
	struct iovec iov = {.iov_base = line, .iov_len = len + 1};
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds > 0 && nfds <= 8) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	ssize_t n;
	while ((n = sendmsg(s, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	int e = errno;
	free(line);
	if (n < 0) {
		close(s);
		return -e;
	}
	/* the rest of the line, if sendmsg was short */
	if ((size_t)n < len + 1 && ctl_write_all(s, req + n, len - (size_t)n) < 0) {
		close(s);
		return -EPIPE;
	}
	if ((size_t)n < len + 1 && ctl_write_all(s, "\n", 1) < 0) {
		close(s);
		return -EPIPE;
	}
	*reply = read_line(s, CTL_MAX_MSG);
	e = errno;
	close(s);
	return *reply ? 0 : -e;
}

char *ctl_read_request(int conn, int *fds, int maxfds, int *nfds)
{
	*nfds = 0;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	/* First chunk with recvmsg to collect fds, then byte-wise until newline. */
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];
	struct iovec iov = {.iov_base = buf, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	ssize_t n;
	while ((n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n <= 0) {
		free(buf);
		return NULL;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int cnt = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int *in = (int *)CMSG_DATA(c);
		for (int i = 0; i < cnt; i++) {
			if (*nfds < maxfds)
				fds[(*nfds)++] = in[i];
			else
				close(in[i]);
		}
	}
	if (buf[0] == '\n') {
		buf[0] = '\0';
		return buf;
	}
	len = 1;
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= CTL_MAX_MSG)
				goto fail;
			cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb)
				goto fail;
			buf = nb;
		}
		n = read(conn, buf + len, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || buf[len] == '\n')
			break;
		len++;
	}
	buf[len] = '\0';
	return buf;
fail:
	for (int i = 0; i < *nfds; i++)
		close(fds[i]);
	*nfds = 0;
	free(buf);
	return NULL;
}

int ctl_reply_error(const char *reply)
{
	char err[128];
	yajl_val v = yajl_tree_parse(reply, err, sizeof(err));
	if (!v) {
		log_error("shim: malformed reply");
		return 1;
	}
	const char *pe[] = {"error", NULL};
	yajl_val e = yajl_tree_get(v, pe, yajl_t_string);
	int r = 0;
	if (e) {
		log_error("%s", YAJL_GET_STRING(e));
		r = 1;
	}
	yajl_tree_free(v);
	return r;
}
