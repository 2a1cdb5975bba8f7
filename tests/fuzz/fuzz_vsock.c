/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the vsock packet parser and connection state machine: the input is a
 * script of guest packets (raw 44-byte headers) and host-side events. Checks
 * the invariants the plumbing relies on: buffered guest data never exceeds
 * the advertised window, data to the guest never exceeds its credit, the
 * table stays bounded, and closed connections are reported for freeing.
 */
#include <stdint.h>
#include <string.h>

#include "vmm/devices/vsock_conn.h"

#define CHECK(x)                                                                                             \
	do {                                                                                                 \
		if (!(x))                                                                                    \
			__builtin_trap();                                                                    \
	} while (0)

static struct vsock_conn *pick(struct vsock_mux *m, uint8_t b)
{
	return m->nconns ? m->conns[b % m->nconns] : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vsock_mux m;
	vsock_mux_init(&m, 3, 4096);
	size_t i = 0;
	while (i + 2 <= size) {
		uint8_t op = data[i], arg = data[i + 1];
		i += 2;
		struct vsock_conn *c = pick(&m, arg);
		switch (op % 9) {
		case 0: { /* guest packet */
			uint8_t raw[VSOCK_HDR_LEN] = {0};
			size_t n = size - i < VSOCK_HDR_LEN ? size - i : VSOCK_HDR_LEN;
			memcpy(raw, data + i, n);
			i += n;
			struct vsock_hdr h;
			vsock_hdr_decode(raw, &h);
			/* mostly keep cids and type valid so the state machine is reached */
			if (!(arg & 0x80)) {
				h.src_cid = 3;
				h.dst_cid = 2;
				h.type = 1;
				h.op = (uint16_t)(h.op % 9);
				h.len %= 8192;
			}
			uint8_t back[VSOCK_HDR_LEN];
			vsock_hdr_encode(&h, back);
			struct vsock_hdr h2;
			uint8_t again[VSOCK_HDR_LEN];
			vsock_hdr_decode(back, &h2);
			vsock_hdr_encode(&h2, again);
			CHECK(!memcmp(back, again, sizeof(back)));
			struct vsock_conn *rc = NULL;
			enum vsock_rx_result r = vsock_mux_rx(&m, &h, (size_t)h.len + (arg & 1), &rc);
			if (r == VSR_DATA) {
				CHECK(rc && rc->state == VS_ESTABLISHED);
				CHECK(h.len <= VSOCK_MAX_PKT);
			}
			break;
		}
		case 1:
			vsock_mux_host_connect(&m, arg);
			break;
		case 2:
			if (c)
				vsock_conn_connected(&m, c, arg & 1);
			break;
		case 3:
			if (c) { /* forward part of what is buffered */
				uint32_t buffered = c->rx_cnt - c->fwd_cnt;
				vsock_conn_forwarded(c, buffered ? arg % (buffered + 1) : 0);
			}
			break;
		case 4:
			if (c)
				vsock_conn_host_eof(c);
			break;
		case 5:
			if (c)
				vsock_conn_host_reset(&m, c);
			break;
		case 6: {
			struct vsock_hdr h;
			while (vsock_mux_next_ctrl(&m, &h))
				CHECK(h.src_cid == 2 && h.dst_cid == 3 && h.len == 0);
			CHECK(!vsock_mux_has_ctrl(&m));
			break;
		}
		case 7:
			if (c) {
				uint32_t room = vsock_conn_peer_free(c);
				if (room) {
					struct vsock_hdr h;
					uint32_t n = 1 + arg % room;
					vsock_conn_make_rw(&m, c, n, &h);
					CHECK(h.len == n && h.op == VSOCK_OP_RW);
				}
			}
			break;
		case 8: /* the plumbing frees what it was told to close */
			for (unsigned k = m.nconns; k-- > 0;)
				if (m.conns[k]->actions & VSC_ACT_CLOSE)
					vsock_mux_remove(&m, m.conns[k]);
			break;
		}
		CHECK(m.nconns <= VSOCK_MAX_CONNS && m.nrst <= VSOCK_RST_QUEUE);
		for (unsigned k = 0; k < m.nconns; k++) {
			struct vsock_conn *x = m.conns[k];
			CHECK((uint32_t)(x->rx_cnt - x->fwd_cnt) <= x->buf_alloc);
			CHECK((uint32_t)(x->tx_cnt - x->peer_fwd_cnt) <= x->peer_buf_alloc ||
			      vsock_conn_peer_free(x) == 0);
			if (x->state == VS_CLOSED)
				CHECK(x->actions & VSC_ACT_CLOSE);
		}
	}
	vsock_mux_clear(&m);
	return 0;
}
