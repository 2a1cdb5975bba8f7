/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock connection logic without sockets or guest memory: packet
 * headers in, state changes, packets to send and host-side actions out.
 * vsock.c does the plumbing (virtqueues, UDS sockets, event loop).
 */
#ifndef RUNM_VSOCK_CONN_H
#define RUNM_VSOCK_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSOCK_HDR_LEN	  44
#define VSOCK_HOST_CID	  2
#define VSOCK_TYPE_STREAM 1

enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

#define VSOCK_SHUT_RCV	1 /* sender will receive no more */
#define VSOCK_SHUT_SEND 2 /* sender will send no more */

/* Largest payload of one packet either way; also bounds a guest packet. */
#define VSOCK_MAX_PKT	65536
#define VSOCK_MAX_CONNS 256
#define VSOCK_RST_QUEUE 256

struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

void vsock_hdr_decode(const uint8_t in[VSOCK_HDR_LEN], struct vsock_hdr *h);
void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t out[VSOCK_HDR_LEN]);

enum vsock_state {
	VS_CONNECTING_H2G = 1, /* host client asked; REQUEST to the guest pending/sent */
	VS_CONNECTING_G2H,     /* guest asked; host connect in progress */
	VS_ESTABLISHED,
	VS_CLOSED, /* RST sent or received: plumbing frees it */
};

/* Guest-bound control packets waiting for an RX buffer. */
#define VSC_TX_REQUEST	      0x01
#define VSC_TX_RESPONSE	      0x02
#define VSC_TX_RST	      0x04
#define VSC_TX_SHUTDOWN	      0x08
#define VSC_TX_CREDIT_UPDATE  0x10
#define VSC_TX_CREDIT_REQUEST 0x20

/* Host-side actions for the plumbing (cleared by it once done). */
#define VSC_ACT_CONNECT	 0x01 /* connect to <uds>_<hport>, then vsock_conn_connected() */
#define VSC_ACT_REPLY_OK 0x02 /* write "OK <hport>\n" to the host client */
#define VSC_ACT_SHUT_WR	 0x04 /* guest sends no more: shutdown(SHUT_WR) once the buffer drained */
#define VSC_ACT_SHUT_RD	 0x08 /* guest receives no more: stop reading the host socket */
#define VSC_ACT_CLOSE	 0x10 /* close the host socket and free the connection */

struct vsock_conn {
	uint32_t gport, hport; /* guest-side and host-side port */
	enum vsock_state state;
	bool host_initiated;
	/* credit the guest gave us */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint32_t tx_cnt; /* payload bytes sent to the guest */
	/* credit we give the guest */
	uint32_t buf_alloc;    /* our per-connection buffer */
	uint32_t rx_cnt;       /* payload bytes received from the guest */
	uint32_t fwd_cnt;      /* of which forwarded to the host socket */
	uint32_t fwd_cnt_sent; /* fwd_cnt last advertised */
	uint8_t guest_shut;    /* VSOCK_SHUT_* the guest announced */
	uint8_t host_shut;     /* VSOCK_SHUT_* we announced to the guest */
	uint8_t tx_pending;    /* VSC_TX_* */
	uint8_t actions;       /* VSC_ACT_* */
	/* plumbing state (vsock.c) */
	int fd;
	uint32_t events;
	uint8_t *buf; /* guest->host bytes the socket did not take yet */
	uint32_t buf_head, buf_len;
	bool want_read;	   /* the host socket signalled readable */
	uint64_t deadline; /* host-initiated: give up waiting for the guest (ms) */
	void *owner;	   /* the device */
};

struct vsock_mux {
	uint64_t guest_cid;
	uint32_t buf_alloc; /* advertised per connection (≤ VSOCK_MAX_PKT * 4) */
	uint32_t next_hport;
	unsigned nconns;
	struct vsock_conn *conns[VSOCK_MAX_CONNS];
	unsigned nrst;
	struct vsock_hdr rst[VSOCK_RST_QUEUE]; /* RSTs for packets without a connection */
};

void vsock_mux_init(struct vsock_mux *m, uint64_t guest_cid, uint32_t buf_alloc);
/* Free every connection (their fds are the plumbing's). */
void vsock_mux_clear(struct vsock_mux *m);
struct vsock_conn *vsock_mux_find(struct vsock_mux *m, uint32_t gport, uint32_t hport);
void vsock_mux_remove(struct vsock_mux *m, struct vsock_conn *c);

/* A host client asked for guest port `gport`: new connection with a REQUEST
 * pending, or NULL when the table is full. */
struct vsock_conn *vsock_mux_host_connect(struct vsock_mux *m, uint32_t gport);

/* Result of one packet from the guest. */
enum vsock_rx_result {
	VSR_DROP = 0, /* ignored (wrong cid, stray packet) */
	VSR_OK,	      /* handled; look at conn->actions / tx_pending */
	VSR_DATA,     /* *conn receives hdr->len payload bytes: deliver them */
	VSR_RST,      /* answered with a RST (queued) */
};

/* One packet the guest put on its TX queue; payload_avail is how many payload
 * bytes follow the header in the chain. */
enum vsock_rx_result vsock_mux_rx(struct vsock_mux *m, const struct vsock_hdr *h, size_t payload_avail,
				  struct vsock_conn **conn);

/* Host connect for a guest REQUEST finished. */
void vsock_conn_connected(struct vsock_mux *m, struct vsock_conn *c, bool ok);
/* n payload bytes from the guest reached the host socket. */
void vsock_conn_forwarded(struct vsock_conn *c, uint32_t n);
/* How many bytes the guest can take now (0 when not established or shut). */
uint32_t vsock_conn_peer_free(const struct vsock_conn *c);
/* The host socket reached EOF (SHUT_SEND to the guest) / failed (RST). */
void vsock_conn_host_eof(struct vsock_conn *c);
void vsock_conn_host_reset(struct vsock_mux *m, struct vsock_conn *c);

/* Next guest-bound control packet, if any; updates the state it reports. */
bool vsock_mux_next_ctrl(struct vsock_mux *m, struct vsock_hdr *h);
bool vsock_mux_has_ctrl(const struct vsock_mux *m);
/* Header of a data packet of n bytes (n ≤ vsock_conn_peer_free). */
void vsock_conn_make_rw(const struct vsock_mux *m, struct vsock_conn *c, uint32_t n, struct vsock_hdr *h);

#endif
