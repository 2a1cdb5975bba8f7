/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz virtio-net's option parser: "net,sockfd=<a fresh duplicate of one end
 * of a SOCK_SEQPACKET pair>,<input>". Any other host end in the input must be
 * refused before anything is opened; a created device must have a unicast,
 * non-zero MAC and an MTU of 0 or 68..65535 and owns its fd; a refused one
 * leaves the fd to us.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/evloop.h"
#include "vmm/devices/virtio.h"

static struct evloop *loop;
static int pair[2] = {-1, -1};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!loop) {
		loop = evloop_new();
		if (!loop || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
			abort();
	}
	char opts[256];
	size_t n = size < sizeof(opts) - 1 ? size : sizeof(opts) - 1;
	memcpy(opts, data, n);
	opts[n] = '\0';
	int fd = fcntl(pair[1], F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		abort();
	char spec[320], err[256] = "";
	snprintf(spec, sizeof(spec), "net,sockfd=%d%s%s", fd, opts[0] ? "," : "", opts);
	struct virtio_dev *d = virtio_dev_create(spec, loop, err, sizeof(err));
	if (!d) {
		if (fcntl(fd, F_GETFD) < 0) /* a refused fd is left alone */
			abort();
		close(fd);
		return 0;
	}
	static const uint8_t zero[6];
	uint16_t mtu;
	memcpy(&mtu, d->config + 10, 2);
	if (d->config_len != 12 || (d->config[0] & 1) || !memcmp(d->config, zero, 6) || (mtu && mtu < 68))
		abort();
	virtio_dev_destroy(d); /* closes fd */
	if (fcntl(fd, F_GETFD) == 0 && fd != pair[0] && fd != pair[1])
		abort(); /* the device did not close what it owned */
	return 0;
}
