/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the vhost-user backend with a hostile frontend. The input is:
 *   [512 bytes of initial guest memory; byte 511 odd: serve vsock, else rng]
 *   then records: [fd byte][vu_hdr (12 bytes)][payload: hdr.size bytes, capped]
 * The fd byte's low 2 bits give how many fds ride with the message, bit 2
 * picks an eventfd (else the guest-memory memfd). Each record goes through a
 * real socketpair (vu_msg_recv) into vu_backend_handle, then the kick eventfd
 * fires and the event loop runs once, so a fuzzed ring is served by the real
 * rng or vsock device. Nothing may crash, leak or read outside the mapped memory.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "common/evloop.h"
#include "vmm/devices/virtio.h"
#include "vmm/vhost_user/proto.h"
#include "vmm/vhost_user/vu_backend.h"

#define MEM_SIZE 0x10000
#define MEM_INIT 512

static int memfd = -1;

static void send_record(int fe, const uint8_t *buf, size_t len, const int *fds, unsigned nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr a;
	} ctl;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds) {
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	(void)sendmsg(fe, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void drain(int fe)
{
	char buf[4096];
	while (recv(fe, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		log_set_prog("fuzz_vhost_msg");
		memfd = memfd_create("fuzz-guest", MFD_CLOEXEC);
		if (memfd < 0 || ftruncate(memfd, MEM_SIZE) < 0)
			return 0;
		init = true;
	}
	if (size < MEM_INIT)
		return 0;
	bool vsock = data[MEM_INIT - 1] & 1;
	uint8_t zero[MEM_SIZE] = {0};
	(void)pwrite(memfd, zero, sizeof(zero), 0);
	(void)pwrite(memfd, data, MEM_INIT, 0);
	data += MEM_INIT;
	size -= MEM_INIT;

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct evloop *loop = evloop_new();
	char err[128];
	char spec[128], uds[96];
	snprintf(uds, sizeof(uds), "/tmp/fuzz-vhost-%d.sock", (int)getpid());
	snprintf(spec, sizeof(spec), "vsock,uds=%s,cid=3", uds);
	if (vsock)
		unlink(uds);
	struct virtio_dev *dev =
	    loop ? virtio_dev_create(vsock ? spec : "rng", loop, err, sizeof(err)) : NULL;
	struct vu_backend *b = dev ? vu_backend_new(dev, loop, sv[1]) : NULL;

	while (b && size >= 1 + sizeof(struct vu_hdr)) {
		uint8_t fdb = data[0];
		struct vu_hdr h;
		memcpy(&h, data + 1, sizeof(h));
		size_t plen = h.size;
		size_t avail = size - 1 - sizeof(h);
		/* Keep framing honest enough to reach the handlers most of the time. */
		if (plen > avail)
			plen = avail;
		if (plen > 2048)
			plen = 2048;
		h.size = (uint32_t)plen;
		uint8_t rec[sizeof(h) + 2048];
		memcpy(rec, &h, sizeof(h));
		memcpy(rec + sizeof(h), data + 1 + sizeof(h), plen);
		data += 1 + sizeof(h) + plen;
		size -= 1 + sizeof(h) + plen;

		int fds[4];
		unsigned nfds = fdb & 3;
		for (unsigned i = 0; i < nfds; i++)
			fds[i] = (fdb & 4) ? kick : memfd;
		send_record(sv[0], rec, sizeof(h) + plen, fds, nfds);

		struct vu_msg m;
		int r = vu_msg_recv(sv[1], &m);
		if (r <= 0)
			break;
		if (vu_backend_handle(b, &m) == -EPROTO)
			break;
		drain(sv[0]);
		uint64_t one = 1;
		(void)write(kick, &one, sizeof(one));
		evloop_run_once(loop, 0);
	}
	vu_backend_free(b);
	if (dev)
		virtio_dev_destroy(dev);
	if (loop)
		evloop_free(loop);
	if (vsock)
		unlink(uds);
	close(kick);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
