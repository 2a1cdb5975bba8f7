/* SPDX-License-Identifier: Apache-2.0 */
/* vhost-user messages off the wire: header, payload and the fds riding with them. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "vmm/vhost_user/vu_backend.h"

const char *vu_request_name(uint32_t req)
{
	static const char *const names[] = {
	    [VU_GET_FEATURES] = "GET_FEATURES",
	    [VU_SET_FEATURES] = "SET_FEATURES",
	    [VU_SET_OWNER] = "SET_OWNER",
	    [VU_RESET_OWNER] = "RESET_OWNER",
	    [VU_SET_MEM_TABLE] = "SET_MEM_TABLE",
	    [VU_SET_LOG_BASE] = "SET_LOG_BASE",
	    [VU_SET_LOG_FD] = "SET_LOG_FD",
	    [VU_SET_VRING_NUM] = "SET_VRING_NUM",
	    [VU_SET_VRING_ADDR] = "SET_VRING_ADDR",
	    [VU_SET_VRING_BASE] = "SET_VRING_BASE",
	    [VU_GET_VRING_BASE] = "GET_VRING_BASE",
	    [VU_SET_VRING_KICK] = "SET_VRING_KICK",
	    [VU_SET_VRING_CALL] = "SET_VRING_CALL",
	    [VU_SET_VRING_ERR] = "SET_VRING_ERR",
	    [VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	    [VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	    [VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
	    [VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	    [VU_SEND_RARP] = "SEND_RARP",
	    [VU_NET_SET_MTU] = "NET_SET_MTU",
	    [VU_SET_SLAVE_REQ_FD] = "SET_SLAVE_REQ_FD",
	    [VU_IOTLB_MSG] = "IOTLB_MSG",
	    [VU_SET_VRING_ENDIAN] = "SET_VRING_ENDIAN",
	    [VU_GET_CONFIG] = "GET_CONFIG",
	    [VU_SET_CONFIG] = "SET_CONFIG",
	    [VU_RESET_DEVICE] = "RESET_DEVICE",
	    [VU_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
	    [VU_SET_STATUS] = "SET_STATUS",
	    [VU_GET_STATUS] = "GET_STATUS",
	};
	if (req < sizeof(names) / sizeof(names[0]) && names[req])
		return names[req];
	return "unknown request";
}

/* ------------------------------------------------------------ messages */

void vu_msg_close_fds(struct vu_msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++) {
		if (m->fds[i] >= 0)
			close(m->fds[i]);
		m->fds[i] = -1;
	}
	m->nfds = 0;
}

static int read_full(int sock, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = recv(sock, (char *)buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		got += (size_t)n;
	}
	return 0;
}

int vu_msg_recv(int sock, struct vu_msg *m)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = &m->hdr, .iov_len = sizeof(m->hdr)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
	ssize_t n;

	m->nfds = 0;
	for (unsigned i = 0; i < VU_MAX_FDS; i++)
		m->fds[i] = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fds = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < cnt; i++) {
			int fd;
			memcpy(&fd, &fds[i], sizeof(fd));
			if (m->nfds < VU_MAX_FDS)
				m->fds[m->nfds++] = fd;
			else
				close(fd);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		log_error("vhost-user: message carries more than %d fds", VU_MAX_FDS);
		vu_msg_close_fds(m);
		return -EBADMSG;
	}
	if ((size_t)n < sizeof(m->hdr)) {
		int r = read_full(sock, (char *)&m->hdr + n, sizeof(m->hdr) - (size_t)n);
		if (r < 0) {
			log_errno(-r, "vhost-user: read message header");
			vu_msg_close_fds(m);
			return -EBADMSG;
		}
	}
	if ((m->hdr.flags & VU_VERSION_MASK) != VU_VERSION) {
		log_error("vhost-user: %s: unsupported protocol version %u", vu_request_name(m->hdr.request),
			  m->hdr.flags & VU_VERSION_MASK);
		vu_msg_close_fds(m);
		return -EBADMSG;
	}
	if (m->hdr.size > VU_MAX_PAYLOAD) {
		log_error("vhost-user: %s: payload of %u bytes is larger than %u",
			  vu_request_name(m->hdr.request), m->hdr.size, VU_MAX_PAYLOAD);
		vu_msg_close_fds(m);
		return -EBADMSG;
	}
	memset(&m->p, 0, sizeof(m->p));
	if (m->hdr.size) {
		int r = read_full(sock, &m->p, m->hdr.size);
		if (r < 0) {
			log_errno(-r, "vhost-user: %s: read %u-byte payload", vu_request_name(m->hdr.request),
				  m->hdr.size);
			vu_msg_close_fds(m);
			return -EBADMSG;
		}
	}
	return 1;
}
