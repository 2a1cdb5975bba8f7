/* SPDX-License-Identifier: Apache-2.0 */
/* vsock connection logic: packets in, state / guest packets / host actions out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/devices/vsock_conn.h"

#define GCID 3
#define BUF  1000

static struct vsock_mux mux;

static int setup(void **state)
{
	vsock_mux_init(&mux, GCID, BUF);
	return 0;
}
static int teardown(void **state)
{
	vsock_mux_clear(&mux);
	return 0;
}

static struct vsock_hdr gpkt(uint32_t gport, uint32_t hport, uint16_t op, uint32_t len)
{
	struct vsock_hdr h = {.src_cid = GCID,
			      .dst_cid = 2,
			      .src_port = gport,
			      .dst_port = hport,
			      .len = len,
			      .type = 1,
			      .op = op,
			      .buf_alloc = 500,
			      .fwd_cnt = 0};
	return h;
}

static enum vsock_rx_result rx(struct vsock_hdr h, struct vsock_conn **c)
{
	return vsock_mux_rx(&mux, &h, h.len, c);
}

static void expect_ctrl(uint16_t op, uint32_t gport, uint32_t hport)
{
	struct vsock_hdr h;
	assert_true(vsock_mux_next_ctrl(&mux, &h));
	assert_int_equal(h.op, op);
	assert_int_equal(h.src_cid, 2);
	assert_int_equal(h.dst_cid, GCID);
	assert_int_equal(h.dst_port, gport);
	assert_int_equal(h.src_port, hport);
	assert_int_equal(h.type, 1);
	assert_int_equal(h.len, 0);
}

static void expect_no_ctrl(void)
{
	struct vsock_hdr h;
	assert_false(vsock_mux_has_ctrl(&mux));
	assert_false(vsock_mux_next_ctrl(&mux, &h));
}

/* guest connects to host port 5000 from 1234 */
static struct vsock_conn *g2h(void)
{
	struct vsock_conn *c;
	assert_int_equal(rx(gpkt(1234, 5000, VSOCK_OP_REQUEST, 0), &c), VSR_OK);
	assert_non_null(c);
	assert_int_equal(c->state, VS_CONNECTING_G2H);
	assert_true(c->actions & VSC_ACT_CONNECT);
	c->actions = 0;
	expect_no_ctrl();
	vsock_conn_connected(&mux, c, true);
	assert_int_equal(c->state, VS_ESTABLISHED);
	expect_ctrl(VSOCK_OP_RESPONSE, 1234, 5000);
	expect_no_ctrl();
	return c;
}

static void test_hdr_roundtrip(void **state)
{
	struct vsock_hdr h = {0x1122334455667788ull, 2, 7, 8, 9, 1, 5, 3, 4096, 77}, o;
	uint8_t raw[VSOCK_HDR_LEN];
	vsock_hdr_encode(&h, raw);
	assert_int_equal(raw[0], 0x88); /* little endian */
	assert_int_equal(raw[30], 5);
	vsock_hdr_decode(raw, &o);
	assert_memory_equal(&h, &o, sizeof(h));
}

static void test_guest_connect_ok(void **state)
{
	struct vsock_conn *c = g2h();
	assert_int_equal(c->peer_buf_alloc, 500);
	assert_int_equal(vsock_conn_peer_free(c), 500);
}

static void test_guest_connect_refused(void **state)
{
	struct vsock_conn *c;
	assert_int_equal(rx(gpkt(1234, 5000, VSOCK_OP_REQUEST, 0), &c), VSR_OK);
	vsock_conn_connected(&mux, c, false);
	assert_int_equal(c->state, VS_CLOSED);
	assert_int_equal(c->actions, VSC_ACT_CLOSE);
	expect_ctrl(VSOCK_OP_RST, 1234, 5000);
	expect_no_ctrl();
}

static void test_host_connect(void **state)
{
	struct vsock_conn *c = vsock_mux_host_connect(&mux, 1024), *c2 = NULL;
	assert_non_null(c);
	assert_true(c->hport >= (1u << 30));
	expect_ctrl(VSOCK_OP_REQUEST, 1024, c->hport);
	/* guest accepts */
	assert_int_equal(rx(gpkt(1024, c->hport, VSOCK_OP_RESPONSE, 0), &c2), VSR_OK);
	assert_ptr_equal(c, c2);
	assert_int_equal(c->state, VS_ESTABLISHED);
	assert_true(c->actions & VSC_ACT_REPLY_OK);
	/* a second client gets a different host port */
	struct vsock_conn *d = vsock_mux_host_connect(&mux, 1024);
	assert_int_not_equal(d->hport, c->hport);
}

static void test_host_connect_guest_rst(void **state)
{
	struct vsock_conn *c = vsock_mux_host_connect(&mux, 99), *c2;
	expect_ctrl(VSOCK_OP_REQUEST, 99, c->hport);
	assert_int_equal(rx(gpkt(99, c->hport, VSOCK_OP_RST, 0), &c2), VSR_OK);
	assert_int_equal(c->state, VS_CLOSED);
	assert_int_equal(c->actions, VSC_ACT_CLOSE);
	expect_no_ctrl(); /* never answer a RST with a RST */
}

static void test_response_before_request_sent(void **state)
{
	struct vsock_conn *c = vsock_mux_host_connect(&mux, 99), *c2;
	/* REQUEST not yet delivered: a RESPONSE is bogus */
	assert_int_equal(rx(gpkt(99, c->hport, VSOCK_OP_RESPONSE, 0), &c2), VSR_RST);
	assert_int_equal(c->state, VS_CLOSED);
	expect_ctrl(VSOCK_OP_RST, 99, c->hport);
}

static void test_data_guest_to_host_and_credit(void **state)
{
	struct vsock_conn *c = g2h(), *c2;
	assert_int_equal(rx(gpkt(1234, 5000, VSOCK_OP_RW, 400), &c2), VSR_DATA);
	assert_int_equal(c->rx_cnt, 400);
	assert_int_equal(rx(gpkt(1234, 5000, VSOCK_OP_RW, 600), &c2), VSR_DATA);
	/* our buffer (1000) is full now: one more byte violates credit */
	assert_int_equal(rx(gpkt(1234, 5000, VSOCK_OP_RW, 1), &c2), VSR_RST);
	assert_int_equal(c->state, VS_CLOSED);
	expect_ctrl(VSOCK_OP_RST, 1234, 5000);
}

static void test_small_forward_no_update(void **state)
{
	struct vsock_conn *c = g2h(), *c2;
	assert_int_equal(rx(gpkt(1234, 5000, VSOCK_OP_RW, 400), &c2), VSR_DATA);
	/* forwarding less than half the buffer does not advertise credit yet */
	vsock_conn_forwarded(c, 400);
	expect_no_ctrl();
	vsock_conn_forwarded(c, 0);
	expect_no_ctrl();
	assert_int_equal(rx(gpkt(1234, 5000, VSOCK_OP_RW, 100), &c2), VSR_DATA);
	vsock_conn_forwarded(c, 100);
	expect_ctrl(VSOCK_OP_CREDIT_UPDATE, 1234, 5000);
}

static void test_credit_update_after_forward(void **state)
{
	struct vsock_conn *c = g2h(), *c2;
	assert_int_equal(rx(gpkt(1234, 5000, VSOCK_OP_RW, 1000), &c2), VSR_DATA);
	vsock_conn_forwarded(c, 600);
	struct vsock_hdr h;
	assert_true(vsock_mux_next_ctrl(&mux, &h));
	assert_int_equal(h.op, VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(h.fwd_cnt, 600);
	assert_int_equal(h.buf_alloc, BUF);
	/* the guest may now send 600 more */
	assert_int_equal(rx(gpkt(1234, 5000, VSOCK_OP_RW, 600), &c2), VSR_DATA);
	assert_int_equal(c->state, VS_ESTABLISHED);
}

static void test_credit_request(void **state)
{
	struct vsock_conn *c = g2h(), *c2;
	assert_int_equal(rx(gpkt(1234, 5000, VSOCK_OP_CREDIT_REQUEST, 0), &c2), VSR_OK);
	struct vsock_hdr h;
	assert_true(vsock_mux_next_ctrl(&mux, &h));
	assert_int_equal(h.op, VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(h.fwd_cnt, c->fwd_cnt);
}

static void test_data_host_to_guest_credit_exhaustion(void **state)
{
	struct vsock_conn *c = g2h(), *c2;
	assert_int_equal(vsock_conn_peer_free(c), 500);
	struct vsock_hdr h;
	vsock_conn_make_rw(&mux, c, 300, &h);
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.len, 300);
	assert_int_equal(h.dst_cid, GCID);
	assert_int_equal(vsock_conn_peer_free(c), 200);
	vsock_conn_make_rw(&mux, c, 200, &h);
	assert_int_equal(vsock_conn_peer_free(c), 0);
	/* guest consumed 350: credit update opens the window again */
	struct vsock_hdr cu = gpkt(1234, 5000, VSOCK_OP_CREDIT_UPDATE, 0);
	cu.fwd_cnt = 350;
	assert_int_equal(rx(cu, &c2), VSR_OK);
	assert_int_equal(vsock_conn_peer_free(c), 350);
	/* a bigger buffer announced with any packet counts too */
	cu.buf_alloc = 1000;
	assert_int_equal(rx(cu, &c2), VSR_OK);
	assert_int_equal(vsock_conn_peer_free(c), 850);
	/* counters wrap around 2^32 */
	c->tx_cnt = 0xfffffff0u;
	cu.fwd_cnt = 0xffffff00u;
	assert_int_equal(rx(cu, &c2), VSR_OK);
	assert_int_equal(vsock_conn_peer_free(c), 1000 - 0xf0);
	vsock_conn_make_rw(&mux, c, 0x20, &h);
	assert_int_equal(c->tx_cnt, 0x10);
	assert_int_equal(vsock_conn_peer_free(c), 1000 - 0x110);
}

static void test_guest_shutdown_send(void **state)
{
	struct vsock_conn *c = g2h(), *c2;
	struct vsock_hdr s = gpkt(1234, 5000, VSOCK_OP_SHUTDOWN, 0);
	s.flags = VSOCK_SHUT_SEND;
	assert_int_equal(rx(s, &c2), VSR_OK);
	assert_true(c->actions & VSC_ACT_SHUT_WR);
	assert_false(c->actions & VSC_ACT_SHUT_RD);
	/* host may still send to the guest */
	assert_int_equal(vsock_conn_peer_free(c), 500);
	/* but data from the guest after SHUT_SEND is a protocol violation */
	assert_int_equal(rx(gpkt(1234, 5000, VSOCK_OP_RW, 5), &c2), VSR_RST);
}

static void test_guest_shutdown_rcv(void **state)
{
	struct vsock_conn *c = g2h(), *c2;
	struct vsock_hdr s = gpkt(1234, 5000, VSOCK_OP_SHUTDOWN, 0);
	s.flags = VSOCK_SHUT_RCV;
	assert_int_equal(rx(s, &c2), VSR_OK);
	assert_true(c->actions & VSC_ACT_SHUT_RD);
	assert_int_equal(vsock_conn_peer_free(c), 0);
	assert_int_equal(rx(gpkt(1234, 5000, VSOCK_OP_RW, 5), &c2), VSR_DATA);
}

static void test_host_eof(void **state)
{
	struct vsock_conn *c = g2h();
	vsock_conn_host_eof(c);
	struct vsock_hdr h;
	assert_true(vsock_mux_next_ctrl(&mux, &h));
	assert_int_equal(h.op, VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, VSOCK_SHUT_SEND);
	assert_int_equal(vsock_conn_peer_free(c), 0);
	vsock_conn_host_eof(c); /* only once */
	expect_no_ctrl();
}

static void test_host_reset(void **state)
{
	struct vsock_conn *c = g2h();
	vsock_conn_host_reset(&mux, c);
	assert_int_equal(c->state, VS_CLOSED);
	assert_int_equal(c->actions, VSC_ACT_CLOSE);
	expect_ctrl(VSOCK_OP_RST, 1234, 5000);
	vsock_mux_remove(&mux, c);
	assert_int_equal(mux.nconns, 0);
}

static void test_guest_rst(void **state)
{
	struct vsock_conn *c = g2h(), *c2;
	assert_int_equal(rx(gpkt(1234, 5000, VSOCK_OP_RST, 0), &c2), VSR_OK);
	assert_int_equal(c->actions, VSC_ACT_CLOSE);
	expect_no_ctrl();
}

static void test_unknown_port(void **state)
{
	struct vsock_conn *c;
	assert_int_equal(rx(gpkt(1, 2, VSOCK_OP_RW, 3), &c), VSR_RST);
	assert_null(c);
	expect_ctrl(VSOCK_OP_RST, 1, 2);
	assert_int_equal(rx(gpkt(1, 2, VSOCK_OP_RST, 0), &c), VSR_DROP);
	expect_no_ctrl();
	assert_int_equal(rx(gpkt(1, 2, VSOCK_OP_SHUTDOWN, 0), &c), VSR_RST);
	expect_ctrl(VSOCK_OP_RST, 1, 2);
}

static void test_duplicate_connect(void **state)
{
	struct vsock_conn *c = g2h(), *c2;
	assert_int_equal(rx(gpkt(1234, 5000, VSOCK_OP_REQUEST, 0), &c2), VSR_RST);
	assert_int_equal(c->state, VS_CLOSED);
	expect_ctrl(VSOCK_OP_RST, 1234, 5000);
	/* same host port from another guest port is a different connection */
	struct vsock_conn *d;
	assert_int_equal(rx(gpkt(1235, 5000, VSOCK_OP_REQUEST, 0), &d), VSR_OK);
	assert_ptr_not_equal(d, c);
}

static void test_malformed_headers(void **state)
{
	struct vsock_conn *c = g2h(), *c2;
	/* wrong cids are dropped silently */
	struct vsock_hdr h = gpkt(1234, 5000, VSOCK_OP_RW, 0);
	h.src_cid = 7;
	assert_int_equal(rx(h, &c2), VSR_DROP);
	h.src_cid = GCID;
	h.dst_cid = 5;
	assert_int_equal(rx(h, &c2), VSR_DROP);
	expect_no_ctrl();
	assert_int_equal(c->state, VS_ESTABLISHED);
	/* len larger than the payload present */
	h = gpkt(1234, 5000, VSOCK_OP_RW, 100);
	assert_int_equal(vsock_mux_rx(&mux, &h, 99, &c2), VSR_RST);
	assert_int_equal(c->state, VS_CLOSED);
	expect_ctrl(VSOCK_OP_RST, 1234, 5000);
	vsock_mux_remove(&mux, c);

	c = g2h();
	/* len beyond the largest packet */
	h = gpkt(1234, 5000, VSOCK_OP_RW, VSOCK_MAX_PKT + 1);
	assert_int_equal(vsock_mux_rx(&mux, &h, 1u << 20, &c2), VSR_RST);
	vsock_mux_remove(&mux, c);
	expect_ctrl(VSOCK_OP_RST, 1234, 5000);

	c = g2h();
	/* bad type */
	h = gpkt(1234, 5000, VSOCK_OP_RW, 0);
	h.type = 2;
	assert_int_equal(rx(h, &c2), VSR_RST);
	vsock_mux_remove(&mux, c);
	expect_ctrl(VSOCK_OP_RST, 1234, 5000);

	c = g2h();
	/* unknown op, and a payload on a control op */
	assert_int_equal(rx(gpkt(1234, 5000, 42, 0), &c2), VSR_RST);
	vsock_mux_remove(&mux, c);
	expect_ctrl(VSOCK_OP_RST, 1234, 5000);
	h = gpkt(1, 2, VSOCK_OP_REQUEST, 10);
	assert_int_equal(rx(h, &c2), VSR_RST);
	assert_null(vsock_mux_find(&mux, 1, 2));
}

static void test_table_full(void **state)
{
	struct vsock_conn *c;
	for (uint32_t i = 0; i < VSOCK_MAX_CONNS; i++)
		assert_int_equal(rx(gpkt(i, 7, VSOCK_OP_REQUEST, 0), &c), VSR_OK);
	assert_int_equal(rx(gpkt(9999, 7, VSOCK_OP_REQUEST, 0), &c), VSR_RST);
	expect_ctrl(VSOCK_OP_RST, 9999, 7);
	assert_null(vsock_mux_host_connect(&mux, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
	    T(test_hdr_roundtrip),
	    T(test_guest_connect_ok),
	    T(test_guest_connect_refused),
	    T(test_host_connect),
	    T(test_host_connect_guest_rst),
	    T(test_response_before_request_sent),
	    T(test_data_guest_to_host_and_credit),
	    T(test_small_forward_no_update),
	    T(test_credit_update_after_forward),
	    T(test_credit_request),
	    T(test_data_host_to_guest_credit_exhaustion),
	    T(test_guest_shutdown_send),
	    T(test_guest_shutdown_rcv),
	    T(test_host_eof),
	    T(test_host_reset),
	    T(test_guest_rst),
	    T(test_unknown_port),
	    T(test_duplicate_connect),
	    T(test_malformed_headers),
	    T(test_table_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
