/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost-user backend state machine: one frontend connection serving one
 * device of the device library (vmm/devices/virtio.h). The backend is the
 * device's transport: it maps the frontend's memory, turns vring messages into
 * struct virtq state, kick fds into queue_notify and notify_queue into call-fd
 * writes. Every callback runs on the evloop thread.
 */
#ifndef RUNM_VU_BACKEND_H
#define RUNM_VU_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/vhost_user/proto.h"

struct virtio_dev;
struct evloop;
struct vu_backend;

/* Serve `d` (not owned) on the loop; replies go to `sock` (not owned). */
struct vu_backend *vu_backend_new(struct virtio_dev *d, struct evloop *loop, int sock);
/* Reset the device, stop every ring, unmap memory, close fds; free. */
void vu_backend_free(struct vu_backend *b);

/* Handle one message (takes ownership of its fds: all are closed or kept).
 * Returns 0 when handled (errors the frontend can be told about are told via
 * REPLY_ACK and logged), or -EPROTO when the connection must be dropped. */
int vu_backend_handle(struct vu_backend *b, struct vu_msg *m);

/* Read one whole message from a stream socket: 1 with *m filled, 0 on EOF,
 * -errno (-EBADMSG for a malformed header, which ends the connection). */
int vu_msg_recv(int sock, struct vu_msg *m);
void vu_msg_close_fds(struct vu_msg *m);

/* Introspection for tests. */
bool vu_backend_active(const struct vu_backend *b);
unsigned vu_backend_nregions(const struct vu_backend *b);
uint64_t vu_backend_features(const struct vu_backend *b);

#endif
