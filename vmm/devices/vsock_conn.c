/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock stream connections (virtio 1.x §5.10) as pure logic: the guest's
 * packets come in as decoded headers, the result is state, guest-bound control
 * packets (tx_pending, RST queue) and host actions for the plumbing.
 */
#include "vmm/devices/vsock_conn.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#define VSOCK_FIRST_HPORT (1u << 30)

static uint64_t ld64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}
static uint32_t ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}
static uint16_t ld16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return le16toh(v);
}
static void st64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}
static void st32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}
static void st16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

void vsock_hdr_decode(const uint8_t in[VSOCK_HDR_LEN], struct vsock_hdr *h)
{
	h->src_cid = ld64(in);
	h->dst_cid = ld64(in + 8);
	h->src_port = ld32(in + 16);
	h->dst_port = ld32(in + 20);
	h->len = ld32(in + 24);
	h->type = ld16(in + 28);
	h->op = ld16(in + 30);
	h->flags = ld32(in + 32);
	h->buf_alloc = ld32(in + 36);
	h->fwd_cnt = ld32(in + 40);
}

void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t out[VSOCK_HDR_LEN])
{
	st64(out, h->src_cid);
	st64(out + 8, h->dst_cid);
	st32(out + 16, h->src_port);
	st32(out + 20, h->dst_port);
	st32(out + 24, h->len);
	st16(out + 28, h->type);
	st16(out + 30, h->op);
	st32(out + 32, h->flags);
	st32(out + 36, h->buf_alloc);
	st32(out + 40, h->fwd_cnt);
}

void vsock_mux_init(struct vsock_mux *m, uint64_t guest_cid, uint32_t buf_alloc)
{
	memset(m, 0, sizeof(*m));
	m->guest_cid = guest_cid;
	m->buf_alloc = buf_alloc;
	m->next_hport = VSOCK_FIRST_HPORT;
}

void vsock_mux_clear(struct vsock_mux *m)
{
	for (unsigned i = 0; i < m->nconns; i++)
		free(m->conns[i]);
	m->nconns = 0;
	m->nrst = 0;
}

struct vsock_conn *vsock_mux_find(struct vsock_mux *m, uint32_t gport, uint32_t hport)
{
	for (unsigned i = 0; i < m->nconns; i++)
		if (m->conns[i]->gport == gport && m->conns[i]->hport == hport)
			return m->conns[i];
	return NULL;
}

void vsock_mux_remove(struct vsock_mux *m, struct vsock_conn *c)
{
	for (unsigned i = 0; i < m->nconns; i++) {
		if (m->conns[i] != c)
			continue;
		m->conns[i] = m->conns[--m->nconns];
		free(c);
		return;
	}
}

static struct vsock_conn *conn_new(struct vsock_mux *m, uint32_t gport, uint32_t hport)
{
	if (m->nconns >= VSOCK_MAX_CONNS)
		return NULL;
	struct vsock_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->gport = gport;
	c->hport = hport;
	c->buf_alloc = m->buf_alloc;
	c->fd = -1;
	m->conns[m->nconns++] = c;
	return c;
}

/* RST for (guest port, host port), independent of any connection. */
static void queue_rst(struct vsock_mux *m, uint32_t gport, uint32_t hport)
{
	if (m->nrst >= VSOCK_RST_QUEUE)
		return; /* the guest times the connection out instead */
	struct vsock_hdr *h = &m->rst[m->nrst++];
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = m->guest_cid;
	h->src_port = hport;
	h->dst_port = gport;
	h->type = VSOCK_TYPE_STREAM;
	h->op = VSOCK_OP_RST;
}

static void conn_kill(struct vsock_mux *m, struct vsock_conn *c)
{
	queue_rst(m, c->gport, c->hport);
	c->state = VS_CLOSED;
	c->tx_pending = 0;
	c->actions = VSC_ACT_CLOSE;
}

struct vsock_conn *vsock_mux_host_connect(struct vsock_mux *m, uint32_t gport)
{
	uint32_t hport = m->next_hport;
	for (unsigned tries = 0; vsock_mux_find(m, gport, hport); tries++) {
		if (tries > VSOCK_MAX_CONNS)
			return NULL;
		hport = ++m->next_hport;
	}
	struct vsock_conn *c = conn_new(m, gport, hport);
	if (!c)
		return NULL;
	m->next_hport = hport + 1 < VSOCK_FIRST_HPORT ? VSOCK_FIRST_HPORT : hport + 1;
	c->state = VS_CONNECTING_H2G;
	c->host_initiated = true;
	c->tx_pending = VSC_TX_REQUEST;
	return c;
}

enum vsock_rx_result vsock_mux_rx(struct vsock_mux *m, const struct vsock_hdr *h, size_t payload_avail,
				  struct vsock_conn **conn)
{
	*conn = NULL;
	if (h->dst_cid != VSOCK_HOST_CID || h->src_cid != m->guest_cid)
		return VSR_DROP;
	struct vsock_conn *c = vsock_mux_find(m, h->src_port, h->dst_port);
	*conn = c;
	bool bad_len = h->len > payload_avail || h->len > VSOCK_MAX_PKT || (h->len && h->op != VSOCK_OP_RW);
	if (h->type != VSOCK_TYPE_STREAM || bad_len) {
		if (h->op == VSOCK_OP_RST && !bad_len) {
			if (c) { /* the guest already reset it: no RST back */
				c->state = VS_CLOSED;
				c->tx_pending = 0;
				c->actions = VSC_ACT_CLOSE;
			}
			return VSR_DROP;
		}
		if (c)
			conn_kill(m, c);
		else
			queue_rst(m, h->src_port, h->dst_port);
		return VSR_RST;
	}

	if (!c) {
		if (h->op == VSOCK_OP_REQUEST) {
			c = conn_new(m, h->src_port, h->dst_port);
			if (!c) {
				queue_rst(m, h->src_port, h->dst_port);
				return VSR_RST;
			}
			c->state = VS_CONNECTING_G2H;
			c->peer_buf_alloc = h->buf_alloc;
			c->peer_fwd_cnt = h->fwd_cnt;
			c->actions |= VSC_ACT_CONNECT;
			*conn = c;
			return VSR_OK;
		}
		if (h->op == VSOCK_OP_RST)
			return VSR_DROP;
		queue_rst(m, h->src_port, h->dst_port);
		return VSR_RST;
	}

	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case VSOCK_OP_RST:
		c->state = VS_CLOSED;
		c->tx_pending = 0;
		c->actions = VSC_ACT_CLOSE;
		return VSR_OK;
	case VSOCK_OP_RESPONSE:
		if (c->state != VS_CONNECTING_H2G || (c->tx_pending & VSC_TX_REQUEST))
			break;
		c->state = VS_ESTABLISHED;
		c->actions |= VSC_ACT_REPLY_OK;
		return VSR_OK;
	case VSOCK_OP_RW:
		if (c->state != VS_ESTABLISHED || (c->guest_shut & VSOCK_SHUT_SEND))
			break;
		if ((uint64_t)(uint32_t)(c->rx_cnt - c->fwd_cnt) + h->len > c->buf_alloc)
			break; /* the guest ignored our credit */
		c->rx_cnt += h->len;
		return h->len ? VSR_DATA : VSR_OK;
	case VSOCK_OP_SHUTDOWN:
		if (c->state != VS_ESTABLISHED)
			break;
		c->guest_shut |= (uint8_t)(h->flags & (VSOCK_SHUT_RCV | VSOCK_SHUT_SEND));
		if (c->guest_shut & VSOCK_SHUT_SEND)
			c->actions |= VSC_ACT_SHUT_WR;
		if (c->guest_shut & VSOCK_SHUT_RCV)
			c->actions |= VSC_ACT_SHUT_RD;
		return VSR_OK;
	case VSOCK_OP_CREDIT_UPDATE:
		if (c->state != VS_ESTABLISHED)
			break;
		return VSR_OK;
	case VSOCK_OP_CREDIT_REQUEST:
		if (c->state != VS_ESTABLISHED)
			break;
		c->tx_pending |= VSC_TX_CREDIT_UPDATE;
		return VSR_OK;
	default:
		break;
	}
	/* Anything else (duplicate REQUEST, unknown op, data before the
	 * handshake or after SHUTDOWN, credit overrun) resets the connection. */
	conn_kill(m, c);
	return VSR_RST;
}

void vsock_conn_connected(struct vsock_mux *m, struct vsock_conn *c, bool ok)
{
	if (c->state != VS_CONNECTING_G2H)
		return;
	if (!ok) {
		conn_kill(m, c);
		return;
	}
	c->state = VS_ESTABLISHED;
	c->tx_pending |= VSC_TX_RESPONSE;
}

void vsock_conn_forwarded(struct vsock_conn *c, uint32_t n)
{
	c->fwd_cnt += n;
	if ((uint32_t)(c->fwd_cnt - c->fwd_cnt_sent) >= c->buf_alloc / 2)
		c->tx_pending |= VSC_TX_CREDIT_UPDATE;
}

uint32_t vsock_conn_peer_free(const struct vsock_conn *c)
{
	if (c->state != VS_ESTABLISHED || (c->guest_shut & VSOCK_SHUT_RCV) ||
	    (c->host_shut & VSOCK_SHUT_SEND))
		return 0;
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
	if (in_flight >= c->peer_buf_alloc)
		return 0;
	return c->peer_buf_alloc - in_flight;
}

void vsock_conn_host_eof(struct vsock_conn *c)
{
	if (c->state != VS_ESTABLISHED || (c->host_shut & VSOCK_SHUT_SEND))
		return;
	c->host_shut |= VSOCK_SHUT_SEND;
	c->tx_pending |= VSC_TX_SHUTDOWN;
}

void vsock_conn_host_reset(struct vsock_mux *m, struct vsock_conn *c)
{
	if (c->state == VS_CLOSED)
		return;
	conn_kill(m, c);
}

static void fill(const struct vsock_mux *m, const struct vsock_conn *c, uint16_t op, struct vsock_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = m->guest_cid;
	h->src_port = c->hport;
	h->dst_port = c->gport;
	h->type = VSOCK_TYPE_STREAM;
	h->op = op;
	h->buf_alloc = c->buf_alloc;
	h->fwd_cnt = c->fwd_cnt;
}

bool vsock_mux_has_ctrl(const struct vsock_mux *m)
{
	if (m->nrst)
		return true;
	for (unsigned i = 0; i < m->nconns; i++)
		if (m->conns[i]->tx_pending)
			return true;
	return false;
}

bool vsock_mux_next_ctrl(struct vsock_mux *m, struct vsock_hdr *h)
{
	if (m->nrst) {
		*h = m->rst[0];
		memmove(&m->rst[0], &m->rst[1], (m->nrst - 1) * sizeof(m->rst[0]));
		m->nrst--;
		return true;
	}
	static const struct {
		uint8_t bit;
		uint16_t op;
	} order[] = {
	    {VSC_TX_REQUEST, VSOCK_OP_REQUEST},
	    {VSC_TX_RESPONSE, VSOCK_OP_RESPONSE},
	    {VSC_TX_CREDIT_UPDATE, VSOCK_OP_CREDIT_UPDATE},
	    {VSC_TX_CREDIT_REQUEST, VSOCK_OP_CREDIT_REQUEST},
	    {VSC_TX_SHUTDOWN, VSOCK_OP_SHUTDOWN},
	};
	for (unsigned i = 0; i < m->nconns; i++) {
		struct vsock_conn *c = m->conns[i];
		if (!c->tx_pending)
			continue;
		for (unsigned k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
			if (!(c->tx_pending & order[k].bit))
				continue;
			c->tx_pending &= (uint8_t)~order[k].bit;
			fill(m, c, order[k].op, h);
			if (order[k].op == VSOCK_OP_SHUTDOWN)
				h->flags = c->host_shut;
			c->fwd_cnt_sent = c->fwd_cnt;
			return true;
		}
		c->tx_pending = 0;
	}
	return false;
}

void vsock_conn_make_rw(const struct vsock_mux *m, struct vsock_conn *c, uint32_t n, struct vsock_hdr *h)
{
	fill(m, c, VSOCK_OP_RW, h);
	h->len = n;
	c->tx_cnt += n;
	c->fwd_cnt_sent = c->fwd_cnt;
	if (c->tx_pending & VSC_TX_CREDIT_UPDATE)
		c->tx_pending &= (uint8_t)~VSC_TX_CREDIT_UPDATE;
}
