/* SPDX-License-Identifier: Apache-2.0 */
#include "relay.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int relay_add(struct relays *rs, int from, int to, int owner, bool close_from, bool close_to)
{
	if (from < 0 || to < 0)
		return -2;
	for (int i = 0; i < RELAY_MAX; i++) {
		if (rs->r[i].active)
			continue;
		struct stat sb;
		rs->r[i] = (struct relay){.from = from, .to = to, .owner = owner, .close_from = close_from,
					  .close_to = close_to, .active = true};
		rs->r[i].shut_to = fstat(to, &sb) == 0 && S_ISSOCK(sb.st_mode);
		if (i >= rs->n)
			rs->n = i + 1;
		return i;
	}
	return -1;
}

int relay_pollfds(struct relays *rs, struct pollfd *pfd, int *idx, int max)
{
	int k = 0;
	for (int i = 0; i < rs->n && k < max; i++) {
		if (!rs->r[i].active)
			continue;
		pfd[k].fd = rs->r[i].from;
		pfd[k].events = POLLIN;
		pfd[k].revents = 0;
		idx[k++] = i;
	}
	return k;
}

static void finish(struct relays *rs, int i)
{
	struct relay *r = &rs->r[i];
	r->active = false;
	if (r->close_to) {
		if (r->shut_to)
			shutdown(r->to, SHUT_WR);
		/* the same fd may feed several relays (a tty): close only when unused */
		bool used = false;
		for (int k = 0; k < rs->n; k++)
			if (rs->r[k].active && (rs->r[k].from == r->to || rs->r[k].to == r->to))
				used = true;
		if (!used)
			close(r->to);
	}
	if (r->close_from) {
		bool used = false;
		for (int k = 0; k < rs->n; k++)
			if (rs->r[k].active && (rs->r[k].from == r->from || rs->r[k].to == r->from))
				used = true;
		if (!used)
			close(r->from);
	}
}

static int write_all(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			/* a non-blocking peer: wait for room rather than dropping bytes */
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			poll(&p, 1, 1000);
			continue;
		}
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int relay_pump(struct relays *rs, int i)
{
	struct relay *r = &rs->r[i];
	char buf[65536];
	ssize_t n = read(r->from, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0 || write_all(r->to, buf, (size_t)n) < 0) {
		finish(rs, i);
		return 1;
	}
	return 0;
}

int relay_count(const struct relays *rs, int owner)
{
	int c = 0;
	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].active && rs->r[i].owner == owner && rs->r[i].output)
			c++;
	return c;
}

void relay_close_owner(struct relays *rs, int owner)
{
	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].active && rs->r[i].owner == owner)
			finish(rs, i);
}
