/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the CLI ↔ shim protocol's decoders (runtime/ctl_proto.c): the shim decodes whatever a
 * local client writes to its control socket, the CLI whatever the socket's peer answers. A
 * decoded message must hold only values in the protocol's ranges and encode again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ctl_proto.h"

static void check_req(const struct ctl_req *q)
{
	char err[256], *line;
	size_t len;
	if ((unsigned)q->op >= CTL_OP_COUNT)
		abort();
	if (q->op == CTL_OP_KILL && (q->kill.signal < 0 || q->kill.signal > 64))
		abort();
	if (q->op == CTL_OP_RESIZE &&
	    (!q->resize.rows || q->resize.rows > 65535 || !q->resize.cols || q->resize.cols > 65535))
		abort();
	if (q->op == CTL_OP_EXEC && (!q->exec.id || strlen(q->exec.id) > CTL_EXEC_ID_MAX || !q->exec.process))
		abort();
	if (q->op == CTL_OP_UPDATE && !q->update.resources)
		abort();
	/* what was accepted encodes again (an exec's request may grow past the limit: escapes) */
	if (ctl_req_encode(q, &line, &len, err, sizeof(err)) == 0) {
		struct ctl_req d;
		if (ctl_req_decode(line, len, &d, err, sizeof(err)) < 0 || d.op != q->op)
			abort();
		ctl_req_free(&d);
		free(line);
	} else if (q->op != CTL_OP_EXEC && q->op != CTL_OP_UPDATE) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	char err[512];
	struct ctl_req q;
	if (ctl_req_decode(line, size, &q, err, sizeof(err)) == 0) {
		check_req(&q);
		ctl_req_free(&q);
	} else if (q.tree_ || q.nested_) {
		abort();
	}
	struct ctl_reply r;
	if (ctl_reply_decode(line, size, &r, err, sizeof(err)) == 0) {
		if (r.error && r.started)
			abort();
		if (r.data_val && !YAJL_IS_OBJECT(r.data_val))
			abort();
		ctl_reply_free(&r);
	} else if (r.tree_) {
		abort();
	}
	free(line);
	return 0;
}
