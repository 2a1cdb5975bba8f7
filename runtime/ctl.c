/* SPDX-License-Identifier: Apache-2.0 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "io.h"

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

/* LINE (LEN bytes, no '\n') and its '\n' on SOCK, the fds with the first bytes. */
static int send_line(int sock, const char *line, size_t len, const int *fds, int nfds)
{
	/* the fds ride on the first byte; the rest is a plain stream */
	int r = io_send_fds(sock, line, 1, fds, nfds > 0 ? (size_t)nfds : 0);
	if (r == 0 && len > 1)
		r = io_write_all(sock, line + 1, len - 1);
	if (r == 0)
		r = io_write_all(sock, "\n", 1);
	return r;
}

int ctl_read_reply(int conn, struct ctl_reply *rep, char *err, size_t errlen)
{
	memset(rep, 0, sizeof(*rep));
	char *line = io_read_line(conn, CTL_MAX_MSG);
	if (!line)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
	int r = ctl_reply_decode(line, strlen(line), rep, err, errlen) < 0 ? -EBADMSG : 0;
	free(line);
	return r;
}

static void set_timeouts(int s, int timeout_ms)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int ctl_call(const char *dir, const struct ctl_req *req, const int *fds, int nfds, int timeout_ms,
	     struct ctl_reply *rep, int *conn, char *err, size_t errlen)
{
	char *line;
	size_t len;
	memset(rep, 0, sizeof(*rep));
	if (conn)
		*conn = -1;
	if (ctl_req_encode(req, &line, &len, err, errlen) < 0)
		return -errno;
	int s = ctl_connect(dir);
	if (s < 0) {
		int e = errno;
		free(line);
		return -e;
	}
	set_timeouts(s, timeout_ms);
	int r = send_line(s, line, len, fds, nfds);
	free(line);
	if (r == 0)
		r = ctl_read_reply(s, rep, err, errlen);
	if (r == 0 && conn) {
		set_timeouts(s, 0);
		*conn = s;
		return 0;
	}
	close(s);
	return r;
}

char *ctl_read_request(int conn, int *fds, int maxfds, int *nfds)
{
	char first[1];
	size_t n = 0;
	*nfds = 0;
	ssize_t got = io_recv_fds(conn, first, 1, fds, maxfds > 0 ? (size_t)maxfds : 0, &n);
	if (got <= 0)
		return NULL;
	*nfds = (int)n;
	char *rest = first[0] == '\n' ? strdup("") : io_read_line(conn, CTL_MAX_MSG - 1);
	if (!rest && errno == ECONNRESET)
		rest = strdup(""); /* the line was its first byte */
	char *line = rest ? malloc(strlen(rest) + 2) : NULL;
	if (line) {
		line[0] = first[0] == '\n' ? '\0' : first[0];
		strcpy(line + (first[0] != '\n'), rest);
	}
	free(rest);
	if (!line) {
		for (int i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
	}
	return line;
}

int ctl_send_reply(int conn, const struct ctl_reply *rep)
{
	char *line, err[256];
	size_t len;
	if (ctl_reply_encode(rep, &line, &len, err, sizeof(err)) < 0) {
		/* still an answer: what went wrong, in the protocol's error shape */
		char err2[64];
		struct ctl_reply e = {.error = err};
		if (ctl_reply_encode(&e, &line, &len, err2, sizeof(err2)) < 0)
			return -ENOMEM;
	}
	int r = io_write_all(conn, line, len);
	if (r == 0)
		r = io_write_all(conn, "\n", 1);
	free(line);
	return r;
}
