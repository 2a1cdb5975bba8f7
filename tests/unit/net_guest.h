/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fake guest driver for the virtio-net device tests: a 4 MiB guest memory
 * with the receive (0) and transmit (1) rings, buffers and frames, and a net
 * device on a SOCK_SEQPACKET socketpair standing in for the tap (one datagram
 * = vnet header + frame). Used by test_virtio_net.c and test_virtio_net_tap.c.
 */
#ifndef RUNM_TEST_NET_GUEST_H
#define RUNM_TEST_NET_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/evloop.h"
#include "vmm/devices/virtio.h"

#define GPA	0x100000ull
#define MEMSZ	(4u << 20)
#define QN	64
#define RXBUF	4096
#define TXSLOT	0x11000u /* room for a 64 KiB frame and its header */
#define RX_DATA 0x100000u
#define TX_DATA 0x200000u
#define IND_OFF 0x8000u
#define HDR	12

/* feature bits */
#define F_CSUM	     (1ull << 0)
#define F_GUEST_CSUM (1ull << 1)
#define F_MTU	     (1ull << 3)
#define F_MAC	     (1ull << 5)
#define F_GUEST_TSO4 (1ull << 7)
#define F_GUEST_TSO6 (1ull << 8)
#define F_GUEST_ECN  (1ull << 9)
#define F_HOST_TSO4  (1ull << 11)
#define F_HOST_TSO6  (1ull << 12)
#define F_HOST_ECN   (1ull << 13)
#define F_MRG	     (1ull << 15)
#define F_STATUS     (1ull << 16)
#define F_V1	     (1ull << 32)
#define F_ALL                                                                                                \
	(F_CSUM | F_GUEST_CSUM | F_GUEST_TSO4 | F_GUEST_TSO6 | F_GUEST_ECN | F_HOST_TSO4 | F_HOST_TSO6 |     \
	 F_HOST_ECN | F_MRG | F_MAC | F_STATUS | F_V1)

struct vhdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
} __attribute__((packed));

struct gq { /* guest side of one queue */
	uint32_t desc, avail, used;
	uint16_t avail_idx, last_used;
};

extern uint8_t mem[MEMSZ];
extern struct gmem gm;
extern struct gq gq[2];
extern struct virtio_dev *dev;
extern struct evloop *loop;
extern int tap;	  /* our end of the fake tap */
extern int devfd; /* the device's end */
extern int irqs[2], resets;
extern const struct virtio_transport_ops tops;

void set_desc_at(uint32_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);
void avail_add(struct gq *q, uint16_t head);
/* Take the next used entry: its head, or -1. */
int used_take(struct gq *q, uint32_t *len);
uint16_t used_idx(struct gq *q);
void pump(int rounds);
/* Post receive buffer i (RXBUF bytes, or len); rx_post also kicks. */
void rx_post_len(unsigned i, uint32_t len);
void rx_post(unsigned first, unsigned n);
uint8_t *rx_buf(unsigned i);
/* Queue a transmit chain in slot s: the header in its own descriptor and the
 * frame split in two, or everything in one descriptor. */
void tx_queue(unsigned s, const struct vhdr *h, const uint8_t *frame, uint32_t len, bool split);
void fill(uint8_t *p, size_t n, unsigned seed);
/* A device (spec "net,sockfd=<fake tap>,<opts>") with features negotiated, active. */
void make_dev(const char *opts, uint64_t features);
/* Point the device's rings at the fake guest's (after a reset, say). */
void net_rings(struct virtio_dev *d);
ssize_t tap_recv(uint8_t *buf, size_t cap);
/* cmocka setup/teardown: a fresh loop, memory and device (mac 02:11:22:33:44:55, mtu 1500). */
int net_setup(void **state);
int net_teardown(void **state);

#endif
