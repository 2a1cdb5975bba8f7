/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the frame receiver and message parser both sides use: the input is a byte stream as it
 * would arrive on a connection (frames, handshake line). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* handshake lines */
	size_t nl = 0;
	while (nl < size && nl < PROTO_HANDSHAKE_MAX && data[nl] != '\n')
		nl++;
	proto_parse_connect((const char *)data, nl < size ? nl + 1 : nl);
	proto_parse_ok((const char *)data, nl < size ? nl + 1 : nl);

	/* the stream through a pipe, as the agent's non-blocking receiver sees it */
	int p[2];
	if (pipe2(p, O_NONBLOCK) < 0)
		return 0;
	size_t off = 0;
	struct proto_rx rx = {0};
	for (int rounds = 0; rounds < 64; rounds++) {
		if (off < size) {
			ssize_t w = write(p[1], data + off, size - off > 4096 ? 4096 : size - off);
			if (w > 0)
				off += (size_t)w;
		}
		if (off >= size && p[1] >= 0) {
			close(p[1]);
			p[1] = -1;
		}
		int r;
		while ((r = proto_rx_read(&rx, p[0])) == 1) {
			size_t len;
			char *buf = proto_rx_take(&rx, &len);
			struct proto_msg m;
			char err[256];
			if (proto_msg_parse(buf, len, &m, err, sizeof(err)) == 0) {
				long long v;
				json_get_str(m.root, "process");
				json_get_int(m.root, "signal", 0, 64, &v);
				json_get_bool(m.root, "all", 0);
				json_get(m.root, "stdio", yajl_t_object);
				struct proto_ps_entry *ps;
				size_t nps;
				if (proto_parse_ps(m.root, &ps, &nps, err, sizeof(err)) == 0) {
					for (size_t i = 0; i < nps; i++)
						if (ps[i].pid <= 0 || strlen(ps[i].cmd) >= PROTO_PS_CMD_MAX ||
						    strlen(ps[i].tty) >= PROTO_PS_TTY_MAX || ps[i].c < -1 ||
						    ps[i].c > 99 || ps[i].ppid < -1 || ps[i].uid < -1 ||
						    ps[i].start < -1 || ps[i].time < -1)
							abort();
					free(ps);
				}
				struct proto_resources res;
				if (proto_parse_resources(json_get(m.root, "resources", yajl_t_any), &res,
							  err, sizeof(err)) == 0 &&
				    (strlen(res.cpus) >= PROTO_CPUSET_MAX ||
				     strlen(res.mems) >= PROTO_CPUSET_MAX ||
				     strspn(res.cpus, "0123456789,-") != strlen(res.cpus)))
					abort();
				proto_msg_free(&m);
			}
			free(buf);
		}
		if (r < 0 || p[1] < 0)
			break;
	}
	proto_rx_free(&rx);
	close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return 0;
}
