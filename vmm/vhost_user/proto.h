/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost-user wire format (QEMU docs/interop/vhost-user.rst), the subset runm's
 * backend server speaks. All fields are little-endian (x86_64 host order).
 */
#ifndef RUNM_VHOST_USER_PROTO_H
#define RUNM_VHOST_USER_PROTO_H

#include <stdint.h>

enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_SEND_RARP = 19,
	VU_NET_SET_MTU = 20,
	VU_SET_SLAVE_REQ_FD = 21,
	VU_IOTLB_MSG = 22,
	VU_SET_VRING_ENDIAN = 23,
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_RESET_DEVICE = 34,
	VU_GET_MAX_MEM_SLOTS = 36,
	VU_SET_STATUS = 39,
	VU_GET_STATUS = 40,
};

/* Header flags. */
#define VU_VERSION	   0x1u
#define VU_VERSION_MASK	   0x3u
#define VU_FLAG_REPLY	   (1u << 2)
#define VU_FLAG_NEED_REPLY (1u << 3)

/* Virtio feature bit that announces the protocol-feature negotiation. */
#define VU_F_PROTOCOL_FEATURES 30
/* Dirty logging (not offered). */
#define VU_F_LOG_ALL 26

/* Protocol feature bits. */
#define VU_PROTOCOL_F_MQ	   0
#define VU_PROTOCOL_F_LOG_SHMFD	   1
#define VU_PROTOCOL_F_REPLY_ACK	   3
#define VU_PROTOCOL_F_CONFIG	   9
#define VU_PROTOCOL_F_RESET_DEVICE 13

/* u64 payload of SET_VRING_KICK/CALL/ERR. */
#define VU_VRING_IDX_MASK  0xffu
#define VU_VRING_NOFD_MASK (1u << 8)

#define VU_MAX_FDS	   8 /* fds one message may carry */
#define VU_MAX_REGIONS	   8
#define VU_MAX_CONFIG_SIZE 256
#define VU_MAX_PAYLOAD	   4096 /* larger than any message we accept */

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* payload bytes that follow */
} __attribute__((packed));

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags; /* bit 0: log */
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
} __attribute__((packed));

struct vu_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
} __attribute__((packed));

struct vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vu_mem_region regions[VU_MAX_REGIONS];
} __attribute__((packed));

struct vu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[VU_MAX_CONFIG_SIZE];
} __attribute__((packed));

#define VU_CONFIG_HDR_SIZE 12u

union vu_payload {
	uint64_t u64;
	struct vu_vring_state state;
	struct vu_vring_addr addr;
	struct vu_mem_table mem;
	struct vu_config config;
	uint8_t raw[VU_MAX_PAYLOAD];
};

/* One received message with the fds that came with it (owned by the message
 * until a handler takes them: a handler sets fds[i] = -1 for fds it keeps). */
struct vu_msg {
	struct vu_hdr hdr;
	union vu_payload p;
	int fds[VU_MAX_FDS];
	unsigned nfds;
};

const char *vu_request_name(uint32_t req);

#endif
