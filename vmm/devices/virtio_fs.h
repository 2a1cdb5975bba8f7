/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-fs device (virtio 1.2 §5.11) on top of the FUSE passthrough server
 * in vmm/devices/fs. Spec: "fs,tag=T,dir=D[,cache=auto|always|none][,queues=N]".
 * Queue 0 is the high-priority queue (FORGET, INTERRUPT), queues 1..N carry
 * requests. Created through virtio_fs_create() (see virtio.h).
 */
#ifndef RUNM_VIRTIO_FS_H
#define RUNM_VIRTIO_FS_H

#include <stdint.h>

#define VIRTIO_FS_TAG_LEN	     36
#define VIRTIO_FS_MAX_REQUEST_QUEUES 7 /* VIRTIO_MAX_QUEUES - hiprio */

struct virtio_fs_config {
	uint8_t tag[VIRTIO_FS_TAG_LEN]; /* UTF-8, NUL-padded, not terminated when 36 long */
	uint32_t num_request_queues;	/* little endian */
} __attribute__((packed));

#endif
