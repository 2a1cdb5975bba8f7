/* SPDX-License-Identifier: Apache-2.0 */
/* Basic I/O written once (io.h). */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

long long io_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int io_ms_left(long long deadline_ms)
{
	if (deadline_ms < 0)
		return -1;
	long long left = deadline_ms - io_now_ms();
	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

char *io_read_fd(int fd, size_t max, size_t *len)
{
	size_t cap = max < 4096 ? max + 1 : 4096, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	for (;;) {
		if (n + 1 >= cap) {
			if (n >= max) {
				/* one more byte tells "exactly MAX" from "too long" */
				char c;
				ssize_t r = read(fd, &c, 1);
				if (r < 0 && errno == EINTR)
					continue;
				if (r == 0)
					break;
				free(buf);
				errno = r < 0 ? errno : EFBIG;
				return NULL;
			}
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *nb = realloc(buf, ncap);
			if (!nb) {
				free(buf);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			errno = e;
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

char *io_read_file_at(int dirfd, const char *path, size_t max, size_t *len)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return NULL;
	char *b = io_read_fd(fd, max, len);
	int e = errno;
	close(fd);
	errno = e;
	return b;
}

char *io_read_file(const char *path, size_t max, size_t *len)
{
	return io_read_file_at(AT_FDCWD, path, max, len);
}

int io_write_all_timeout(int fd, const void *buf, size_t len, int timeout_ms)
{
	const char *p = buf;
	bool sock = true;
	while (len) {
		ssize_t n = sock ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);
		if (n < 0 && sock && errno == ENOTSOCK) {
			sock = false;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			int r = poll(&pfd, 1, timeout_ms);
			if (r < 0 && errno != EINTR)
				return -errno;
			if (r == 0)
				return -ETIMEDOUT;
			continue;
		}
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int io_write_all(int fd, const void *buf, size_t len)
{
	return io_write_all_timeout(fd, buf, len, -1);
}

int io_write_str(int fd, const char *s)
{
	return io_write_all(fd, s, strlen(s));
}

int io_write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode, bool durable)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	int r = io_write_all(fd, buf, len);
	if (!r && durable && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

char *io_read_line(int fd, size_t max)
{
	size_t len = 0, cap = max < 256 ? max + 1 : 256;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	for (;;) {
		if (len + 1 >= cap) {
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *nb = len >= max ? NULL : realloc(buf, ncap);
			if (!nb) {
				int e = len >= max ? EMSGSIZE : ENOMEM;
				free(buf);
				errno = e;
				return NULL;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + len, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (n == 0 && len == 0)) {
			int e = n == 0 ? ECONNRESET : errno;
			free(buf);
			errno = e;
			return NULL;
		}
		if (n == 0 || buf[len] == '\n')
			break;
		len++;
	}
	buf[len] = '\0';
	return buf;
}

int io_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
	if (len == 0 || nfds > IO_MAX_FDS)
		return -EINVAL;
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * IO_MAX_FDS)];
	} u;
	memset(&u, 0, sizeof(u));
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds) {
		mh.msg_control = u.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	ssize_t n;
	while ((n = sendmsg(sock, &mh, MSG_NOSIGNAL)) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if ((size_t)n < len) {
		/* the fds went with the first part; the rest is plain data */
		int r = io_write_all(sock, (const char *)buf + n, len - (size_t)n);
		if (r < 0)
			return r;
	}
	return 0;
}

ssize_t io_recv_fds(int sock, void *buf, size_t cap, int *fds, size_t maxfds, size_t *nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * IO_MAX_FDS)];
	} u;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)};
	*nfds = 0;
	ssize_t n;
	while ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	bool bad = (mh.msg_flags & MSG_CTRUNC) != 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < maxfds && fds)
				fds[(*nfds)++] = fd;
			else {
				close(fd);
				bad = true;
			}
		}
	}
	if (bad) {
		for (size_t i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		return -EMSGSIZE;
	}
	return n;
}

bool io_find_in_path(const char *name, char *out, size_t cap)
{
	if (strchr(name, '/'))
		return (size_t)snprintf(out, cap, "%s", name) < cap && access(out, X_OK) == 0;
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *c = strchr(path, ':');
		size_t l = c ? (size_t)(c - path) : strlen(path);
		if (l && (size_t)snprintf(out, cap, "%.*s/%s", (int)l, path, name) < cap &&
		    access(out, X_OK) == 0)
			return true;
		path += l + (c ? 1 : 0);
	}
	return false;
}
