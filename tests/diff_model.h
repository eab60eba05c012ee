/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The reference model of the datapath for test_diff: plain C over raw frame
 * bytes, written from the documented behaviour (README "Packet path", the
 * map layouts in include/xdpsvc.h), not from the BPF sources. Given the frontends,
 * the model's conntrack and a frame, it says what the XDP program
 * (xs_xdp_ingress) or the tc egress reply path must return, the exact frame
 * it must leave, how the counters move and what conntrack must hold after.
 *
 * The one thing the model cannot know is the random backend a new flow gets:
 * the caller supplies it (xsm_pick_fn, read from what the datapath did), and
 * the model checks that it is one of the frontend's backends and derives
 * everything else from it.
 *
 * Checksums are computed from scratch (RFC 1071 over the pseudo-header and
 * the segment); the inputs test_diff translates carry correct checksums, so
 * an incremental update must land on exactly these values.
 */
#ifndef XS_DIFF_MODEL_H
#define XS_DIFF_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "xdpsvc.h"
#include "pkt.h"

/* XDP actions and tc verdicts, as the uapi numbers them. */
enum { XSM_XDP_ABORTED = 0, XSM_XDP_DROP = 1, XSM_XDP_PASS = 2, XSM_XDP_TX = 3, XSM_XDP_REDIRECT = 4 };
enum { XSM_TC_OK = 0, XSM_TC_SHOT = 2 };

#define XSM_MAX_FE 64
#define XSM_MAX_BE 5
#define XSM_OUT_MAX (PKT_MAX + 64)

struct xsm_be {
	uint32_t addr;  /* host order */
	uint16_t port;  /* host order */
	uint32_t id;    /* its xs_backends id (what conntrack records) */
};

struct xsm_fe {
	uint32_t vip;   /* host order */
	uint16_t port;
	uint8_t proto;
	uint8_t flags;  /* XS_SVC_F_* */
	uint32_t svc_id;
	size_t n;
	struct xsm_be be[XSM_MAX_BE];
};

struct xsm_cfg {
	size_t n;
	struct xsm_fe fe[XSM_MAX_FE];
};

/* ------------------------------------------------------------ conntrack */

struct xsm_ct_ent {
	struct xs_ct_key k;
	struct xs_ct_value v; /* last_seen not modelled (left 0) */
	bool used;
};

#define XSM_CT_CAP (1u << 16)

struct xsm_ct {
	struct xsm_ct_ent *e; /* XSM_CT_CAP slots, open addressing */
	size_t n;
};

static inline uint32_t xsm_ct_hash(const struct xs_ct_key *k)
{
	const uint8_t *b = (const uint8_t *)k;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static inline struct xsm_ct_ent *xsm_ct_slot(struct xsm_ct *ct, const struct xs_ct_key *k)
{
	uint32_t i = xsm_ct_hash(k) & (XSM_CT_CAP - 1);

	while (ct->e[i].used && memcmp(&ct->e[i].k, k, sizeof(*k)))
		i = (i + 1) & (XSM_CT_CAP - 1);
	return &ct->e[i];
}

static inline struct xs_ct_value *xsm_ct_get(struct xsm_ct *ct, const struct xs_ct_key *k)
{
	struct xsm_ct_ent *e = xsm_ct_slot(ct, k);

	return e->used ? &e->v : NULL;
}

/* 1: a new key (the datapath counts it in ct_created), 0: an entry
 * rewritten, -1: the table is (nearly) full; the test keeps far below that. */
static inline int xsm_ct_put(struct xsm_ct *ct, const struct xs_ct_key *k, const struct xs_ct_value *v)
{
	struct xsm_ct_ent *e = xsm_ct_slot(ct, k);
	int created = !e->used;

	if (created) {
		if (ct->n >= XSM_CT_CAP / 2)
			return -1;
		e->used = true;
		e->k = *k;
		ct->n++;
	}
	e->v = *v;
	e->v.last_seen = 0;
	return created;
}

/* xs_frags: a first fragment's ports, by (source, destination, IP id,
 * protocol); cleared with the conntrack table (no timeout, no eviction: the
 * test keeps far below its size). */
struct xsm_frag {
	bool used;
	uint32_t saddr, daddr;
	uint16_t id, sport, dport;
	uint8_t proto;
};
#define XSM_FRAG_CAP (1u << 14)
static struct xsm_frag xsm_frags[XSM_FRAG_CAP];

static inline struct xsm_frag *xsm_frag_slot(uint32_t sa, uint32_t da, uint16_t id, uint8_t proto)
{
	uint32_t i = ((sa * 2654435761u) ^ (da * 40503u) ^ (uint32_t)id * 97u ^ proto) & (XSM_FRAG_CAP - 1);

	while (xsm_frags[i].used && !(xsm_frags[i].saddr == sa && xsm_frags[i].daddr == da &&
				      xsm_frags[i].id == id && xsm_frags[i].proto == proto))
		i = (i + 1) & (XSM_FRAG_CAP - 1);
	return &xsm_frags[i];
}

static inline void xsm_ct_clear(struct xsm_ct *ct)
{
	memset(ct->e, 0, XSM_CT_CAP * sizeof(*ct->e));
	ct->n = 0;
	memset(xsm_frags, 0, sizeof(xsm_frags));
}

/* ------------------------------------------------------------ parsing */

static inline uint16_t xsm_g16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint32_t xsm_g32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline void xsm_p16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static inline void xsm_p32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

enum xsm_parse_rc { XSM_OK, XSM_NOT_IPV4, XSM_NOT_L4, XSM_FRAGMENT, XSM_MALFORMED };

struct xsm_pkt {
	size_t l3, l4;     /* offsets */
	size_t hl, tot;    /* IPv4 header bytes, total length */
	uint8_t proto;
	uint8_t tcp_flags;
	bool vlan;
	uint32_t saddr, daddr;  /* host order */
	uint16_t sport, dport;
	uint16_t id;       /* IP id */
	uint8_t frag;      /* 0, 1: the first fragment (MF, offset 0), 2: a later one */
};

/*
 * README: Ethernet, at most one 802.1Q tag, IPv4 (version 4, IHL >= 5, the
 * header within the frame, total length >= IHL*4 and within the frame --
 * padding after it is allowed), a first fragment (MF, offset 0) parsed as a
 * packet (its UDP length the datagram's), a later one as far as its IPv4
 * header (XSM_FRAGMENT), TCP with
 * a data offset >= 5 whose header fits the datagram, UDP whose length is
 * >= 8 and within the IP payload.
 */
static inline int xsm_parse(const uint8_t *b, size_t len, struct xsm_pkt *p)
{
	size_t off = 14;
	uint16_t et;

	memset(p, 0, sizeof(*p));
	if (len < 14)
		return XSM_MALFORMED;
	et = xsm_g16(b + 12);
	if (et == 0x8100) {
		if (len < 18)
			return XSM_MALFORMED;
		et = xsm_g16(b + 16);
		off = 18;
		p->vlan = true;
	}
	if (et != 0x0800)
		return XSM_NOT_IPV4;
	if (len < off + 20)
		return XSM_MALFORMED;
	p->l3 = off;
	if (b[off] >> 4 != 4 || (b[off] & 0xf) < 5)
		return XSM_MALFORMED;
	p->hl = (size_t)(b[off] & 0xf) * 4;
	p->tot = xsm_g16(b + off + 2);
	if (p->tot < p->hl || off + p->tot > len)
		return XSM_MALFORMED;
	p->proto = b[off + 9];
	p->saddr = xsm_g32(b + off + 12);
	p->daddr = xsm_g32(b + off + 16);
	p->id = xsm_g16(b + off + 4);
	if (xsm_g16(b + off + 6) & 0x1fff) {
		p->frag = 2;
		return XSM_FRAGMENT;
	}
	if (xsm_g16(b + off + 6) & 0x2000)
		p->frag = 1;
	p->l4 = off + p->hl;
	size_t l4len = p->tot - p->hl;
	const uint8_t *l4 = b + p->l4;

	if (p->proto == PKT_IPPROTO_TCP) {
		if (l4len < 20)
			return XSM_MALFORMED;
		size_t doff = l4[12] >> 4;
		if (doff < 5 || doff * 4 > l4len)
			return XSM_MALFORMED;
		p->tcp_flags = l4[13];
	} else if (p->proto == PKT_IPPROTO_UDP) {
		if (l4len < 8)
			return XSM_MALFORMED;
		size_t ulen = xsm_g16(l4 + 4);
		if (ulen < 8 || (ulen > l4len && p->frag != 1))
			return XSM_MALFORMED;
	} else {
		return XSM_NOT_L4;
	}
	p->sport = xsm_g16(l4);
	p->dport = xsm_g16(l4 + 2);
	return XSM_OK;
}

/* ------------------------------------------------------------ checksums from scratch */

static inline uint16_t xsm_ip_csum(const uint8_t *iph, size_t hl)
{
	uint32_t s = pkt_sum(0, iph, 10);

	s = pkt_sum(s, iph + 12, hl - 12);
	return pkt_fold(s);
}

/* L4 checksum over the pseudo-header and l4len bytes, field taken as 0. */
static inline uint16_t xsm_l4_csum(const uint8_t *iph, const uint8_t *l4, uint8_t proto, size_t l4len)
{
	size_t co = proto == PKT_IPPROTO_TCP ? 16 : 6;
	uint8_t ph[12];
	uint32_t s;

	memcpy(ph, iph + 12, 8);
	ph[8] = 0;
	ph[9] = proto;
	xsm_p16(ph + 10, (uint16_t)l4len);
	s = pkt_sum(0, ph, 12);
	s = pkt_sum(s, l4, co);
	s = pkt_sum(s, l4 + co + 2, l4len - co - 2);
	return pkt_fold(s);
}

/* Store both checksums of a parsed packet from scratch. UDP: a zero checksum
 * ("none") stays zero when keep_zero, a computed zero is sent as 0xffff. */
static inline void xsm_fix_csums(uint8_t *b, const struct xsm_pkt *p, bool keep_zero)
{
	uint8_t *iph = b + p->l3, *l4 = b + p->l4;

	xsm_p16(iph + 10, 0);
	xsm_p16(iph + 10, xsm_ip_csum(iph, p->hl));
	if (p->proto == PKT_IPPROTO_TCP) {
		xsm_p16(l4 + 16, xsm_l4_csum(iph, l4, p->proto, p->tot - p->hl));
	} else if (p->proto == PKT_IPPROTO_UDP) {
		uint16_t c;

		if (keep_zero && xsm_g16(l4 + 6) == 0)
			return;
		c = xsm_l4_csum(iph, l4, p->proto, xsm_g16(l4 + 4));
		xsm_p16(l4 + 6, c ? c : 0xffff);
	}
}

/* ------------------------------------------------------------ the verdicts */

enum xsm_cat {
	XSM_C_REFUSED,        /* < 14 bytes: BPF_PROG_TEST_RUN refuses it */
	XSM_C_NOT_IPV4,
	XSM_C_NOT_L4,
	XSM_C_FRAGMENT,
	XSM_C_MALFORMED,
	XSM_C_MISS,
	XSM_C_NEW,            /* new flow translated */
	XSM_C_ESTABLISHED,    /* conntrack hit translated */
	XSM_C_REOPEN,         /* SYN on a closing flow: a new pick */
	XSM_C_REJECT_RST,
	XSM_C_REJECT_RST_ACK0, /* RST answering a segment without ACK whose SEG.SEQ+SEG.LEN is 0 */
	XSM_C_REJECT_ICMP,
	XSM_C_LIMITED_FRAME,  /* no backend, 802.1Q or IP options: dropped */
	XSM_C_LIMITED_RATE,   /* no backend, bucket empty: dropped */
	XSM_C_DROP_LOCAL,     /* no backend, Local policy: dropped */
	XSM_C_DROP_RST,       /* no backend, a RST is never answered */
	XSM_C_TC_REPLY,       /* tc egress: reply translated back to the VIP */
	XSM_C_TC_UNKNOWN,     /* tc egress: parsed, no reverse entry: untouched */
	XSM_C_TC_UNPARSED,    /* tc egress: does not parse: untouched */
	XSM_C_TC_ICMP,        /* tc egress: an ICMP error about a translated flow, translated */
	XSM_N_CAT
};

static const char *const xsm_cat_name[XSM_N_CAT] = {
	"refused (< 14 bytes)", "not IPv4", "not TCP/UDP", "fragment", "malformed", "miss",
	"new flow", "established flow", "SYN on a closing flow", "reject: TCP RST",
	"reject: TCP RST, ack wraps to 0", "reject: ICMP port unreachable", "no backend: 802.1Q or IP options, dropped",
	"no backend: over the rate limit, dropped", "no backend: Local policy, dropped",
	"no backend: RST not answered", "tc egress: reply to the VIP", "tc egress: unknown flow untouched",
	"tc egress: unparsed untouched", "tc egress: ICMP error about a flow, translated",
};

struct xsm_out {
	bool refused;          /* test_run must fail (EINVAL) */
	uint32_t ret;
	size_t len;
	enum xsm_cat cat;
	int fe;                /* the frontend matched, or -1 */
	bool bad_pick;         /* the datapath's choice is none of fe's backends */
	bool clash;            /* XDP_DROP is allowed: a NAT clash without SNAT ports */
	/* conntrack keys this packet could have written */
	struct xs_ct_key keys[3];
	size_t nkeys;
	uint8_t b[XSM_OUT_MAX]; /* the frame (len bytes); last: the rest is cleared per packet */
};

/* Which backend of fe the datapath chose for a new flow: an index, or -1. */
typedef int (*xsm_pick_fn)(void *arg, const struct xsm_fe *fe, const struct xsm_pkt *p);

static inline int xsm_fe_find(const struct xsm_cfg *c, uint32_t vip, uint16_t port, uint8_t proto)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->fe[i].vip == vip && c->fe[i].port == port && c->fe[i].proto == proto)
			return (int)i;
	return -1;
}

/* Rewrite the destination (dst) or source address and port, checksums from scratch. */
/* RFC 1624 eqn. 3 on a 16-bit checksum: word from -> to. */
static inline uint16_t xsm_csum_upd16(uint16_t c, uint16_t from, uint16_t to)
{
	uint32_t s = (uint16_t)~c + (uint16_t)~from + to;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* ... and for a 32-bit word (an address, host order) from -> to. */
static inline uint16_t xsm_csum_upd32(uint16_t c, uint32_t from, uint32_t to)
{
	return xsm_csum_upd16(xsm_csum_upd16(c, from >> 16, to >> 16), from & 0xffff, to & 0xffff);
}

static inline void xsm_nat(uint8_t *b, const struct xsm_pkt *p, bool dst, uint32_t addr, uint16_t port)
{
	uint8_t *l4 = b + p->l4;

	/* A first fragment's UDP checksum covers bytes that are not here:
	 * only an update can be right (a zero stays zero, a 0 result is
	 * sent as 0xffff). */
	if (p->frag == 1 && p->proto == PKT_IPPROTO_UDP && xsm_g16(l4 + 4) > p->tot - p->hl) {
		uint32_t oa = xsm_g32(b + p->l3 + (dst ? 16 : 12));
		uint16_t c = xsm_g16(l4 + 6), op = xsm_g16(l4 + (dst ? 2 : 0));

		if (c) {
			c = xsm_csum_upd16(xsm_csum_upd32(c, oa, addr), op, port);
			xsm_p16(l4 + 6, c ? c : 0xffff);
		}
		xsm_p32(b + p->l3 + (dst ? 16 : 12), addr);
		xsm_p16(l4 + (dst ? 2 : 0), port);
		xsm_p16(b + p->l3 + 10, 0);
		xsm_p16(b + p->l3 + 10, xsm_ip_csum(b + p->l3, p->hl));
		return;
	}
	xsm_p32(b + p->l3 + (dst ? 16 : 12), addr);
	xsm_p16(b + p->l4 + (dst ? 2 : 0), port);
	xsm_fix_csums(b, p, true);
}

/* RFC 9293 3.10.7.1 (closed port): if ACK, <SEQ=SEG.ACK><CTL=RST>, else
 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; plain 20-byte headers, DF,
 * TTL 64, MACs, addresses and ports swapped. */
static inline void xsm_build_rst(const uint8_t *in, const struct xsm_pkt *p, struct xsm_out *o)
{
	const uint8_t *th = in + p->l4;
	uint8_t *b = o->b, *ip = b + 14, *t = b + 34;
	uint8_t fl = th[13];
	uint32_t seglen = (uint32_t)(p->tot - p->hl - (size_t)(th[12] >> 4) * 4) + !!(fl & 0x02) + !!(fl & 0x01);

	memset(b, 0, 54);
	memcpy(b, in + 6, 6);
	memcpy(b + 6, in, 6);
	xsm_p16(b + 12, 0x0800);
	ip[0] = 0x45;
	xsm_p16(ip + 2, 40);
	xsm_p16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = PKT_IPPROTO_TCP;
	xsm_p32(ip + 12, p->daddr);
	xsm_p32(ip + 16, p->saddr);
	xsm_p16(ip + 10, xsm_ip_csum(ip, 20));
	xsm_p16(t, p->dport);
	xsm_p16(t + 2, p->sport);
	if (fl & 0x10) {
		xsm_p32(t + 4, xsm_g32(th + 8));
		t[13] = 0x04;
	} else {
		xsm_p32(t + 8, xsm_g32(th + 4) + seglen);
		t[13] = 0x14;
		if (xsm_g32(th + 4) + seglen == 0)
			o->cat = XSM_C_REJECT_RST_ACK0;
	}
	t[12] = 5 << 4;
	xsm_p16(t + 16, xsm_l4_csum(ip, t, PKT_IPPROTO_TCP, 20));
	o->len = 54;
}

/* RFC 792 destination unreachable, code 3 (port), quoting the datagram's IP
 * header and first 8 bytes; outer header DF, TTL 64, addresses swapped. */
static inline void xsm_build_icmp(const uint8_t *in, const struct xsm_pkt *p, struct xsm_out *o)
{
	uint8_t *b = o->b, *ip = b + 14, *ic = b + 34;

	memset(b, 0, 70);
	memcpy(b, in + 6, 6);
	memcpy(b + 6, in, 6);
	xsm_p16(b + 12, 0x0800);
	ip[0] = 0x45;
	xsm_p16(ip + 2, 20 + 8 + 28);
	xsm_p16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = PKT_IPPROTO_ICMP;
	xsm_p32(ip + 12, p->daddr);
	xsm_p32(ip + 16, p->saddr);
	xsm_p16(ip + 10, xsm_ip_csum(ip, 20));
	ic[0] = 3;
	ic[1] = 3;
	memcpy(ic + 8, in + p->l3, 28);
	xsm_p16(ic + 2, pkt_fold(pkt_sum(0, ic, 36)));
	o->len = 70;
}

static inline struct xs_ct_key xsm_key(uint32_t sa, uint32_t da, uint16_t sp, uint16_t dp, uint8_t proto, uint8_t dir)
{
	struct xs_ct_key k;

	memset(&k, 0, sizeof(k));
	k.saddr = htonl(sa);
	k.daddr = htonl(da);
	k.sport = htons(sp);
	k.dport = htons(dp);
	k.proto = proto;
	k.dir = dir;
	return k;
}

/* The reject of a packet nothing serves (no endpoint, or a ClusterIP port
 * no frontend has): the RST or ICMP port unreachable, rate-limited. */
static inline void xsm_reject(const uint8_t *in, const struct xsm_pkt *pp, struct xs_global_stats *g, bool rate_ok,
			      struct xsm_out *o)
{
	struct xsm_pkt p = *pp;

	/* The reply is rebuilt only for an untagged frame without IP options. */
	if (p.vlan || p.hl != 20) {
		g->reject_limited++;
		o->ret = XSM_XDP_DROP;
		o->cat = XSM_C_LIMITED_FRAME;
		return;
	}
	if (!rate_ok) {
		g->reject_limited++;
		o->ret = XSM_XDP_DROP;
		o->cat = XSM_C_LIMITED_RATE;
		return;
	}
	if (p.proto == PKT_IPPROTO_TCP) {
		if (p.tcp_flags & 0x04) {
			o->ret = XSM_XDP_DROP;
			o->cat = XSM_C_DROP_RST;
			return;
		}
		g->reject_rst++;
		o->ret = XSM_XDP_TX;
		o->cat = XSM_C_REJECT_RST;
		xsm_build_rst(in, &p, o);
		return;
	}
	g->reject_icmp++;
	o->ret = XSM_XDP_TX;
	o->cat = XSM_C_REJECT_ICMP;
	xsm_build_icmp(in, &p, o);
	return;
}

/* A first fragment translated: its ports for the later ones. */
static inline void xsm_frag_record(const struct xsm_pkt *p)
{
	struct xsm_frag *f;

	if (p->frag != 1)
		return;
	f = xsm_frag_slot(p->saddr, p->daddr, p->id, p->proto);
	*f = (struct xsm_frag){ true, p->saddr, p->daddr, p->id, p->sport, p->dport, p->proto };
}

/* The conntrack entry of a later fragment in direction dir, from its
 * first fragment's ports; NULL: unknown. */
static inline struct xs_ct_value *xsm_frag_ct(struct xsm_ct *ct, const struct xsm_pkt *p, uint8_t dir,
					      struct xs_ct_key *k)
{
	struct xsm_frag *f = xsm_frag_slot(p->saddr, p->daddr, p->id, p->proto);

	if (!f->used)
		return NULL;
	*k = xsm_key(p->saddr, p->daddr, f->sport, f->dport, p->proto, dir);
	return xsm_ct_get(ct, k);
}

/* A later fragment's addresses rewritten, its IPv4 checksum updated for
 * them (a wrong one stays wrong: nothing else here made it so). */
static inline void xsm_frag_nat(uint8_t *b, const struct xsm_pkt *p, uint32_t saddr, uint32_t daddr)
{
	uint8_t *ip = b + p->l3;
	uint16_t c = xsm_g16(ip + 10);
	uint32_t os = xsm_g32(ip + 12), od = xsm_g32(ip + 16);

	xsm_p16(ip + 10, xsm_csum_upd32(xsm_csum_upd32(c, os, saddr), od, daddr));
	xsm_p32(ip + 12, saddr);
	xsm_p32(ip + 16, daddr);
}

/*
 * xs_xdp_ingress on `in` (len bytes), run without an ingress device: the
 * fast path's FIB lookup cannot succeed, so a translated packet goes to the
 * stack (XDP_PASS). rate_ok: the reject bucket has a token. g and st (per
 * frontend index) are the counters, moved as the datapath must move them;
 * ct is updated as the datapath must update xs_conntrack.
 */
static inline void xsm_xdp(const struct xsm_cfg *cfg, struct xsm_ct *ct, struct xs_global_stats *g,
			   struct xs_svc_stats *st, bool rate_ok, const uint8_t *in, size_t len,
			   xsm_pick_fn pick, void *arg, struct xsm_out *o)
{
	struct xsm_pkt p;
	int rc;

	memset(o, 0, offsetof(struct xsm_out, b));
	o->fe = -1;
	o->ret = XSM_XDP_PASS;
	o->len = len;
	memcpy(o->b, in, len);
	if (len < 14) {
		o->refused = true;
		o->cat = XSM_C_REFUSED;
		return;
	}
	rc = xsm_parse(in, len, &p);
	switch (rc) {
	case XSM_NOT_IPV4: g->pass_not_ipv4++; o->cat = XSM_C_NOT_IPV4; return;
	case XSM_NOT_L4: g->pass_not_l4++; o->cat = XSM_C_NOT_L4; return;
	case XSM_FRAGMENT: {
		struct xs_ct_key k;
		struct xs_ct_value *cv = xsm_frag_ct(ct, &p, XS_CT_FWD, &k);

		o->cat = XSM_C_FRAGMENT;
		if (!cv) {
			g->pass_fragment++;
			g->frag_unknown++;
			return;
		}
		o->keys[o->nkeys++] = k;
		g->frag_nat++;
		g->to_stack++;
		xsm_frag_nat(o->b, &p, p.saddr, ntohl(cv->nat_addr));
		return;
	}
	case XSM_MALFORMED: g->pass_malformed++; o->cat = XSM_C_MALFORMED; return;
	}
	int fi = xsm_fe_find(cfg, p.daddr, p.dport, p.proto);
	if (fi < 0) {
		/* Every frontend here is a ClusterIP: its address on a port
		 * no frontend has is rejected (kube-proxy's nftables mode). */
		for (size_t i = 0; i < cfg->n; i++)
			if (cfg->fe[i].vip == p.daddr) {
				g->no_port++;
				xsm_reject(in, &p, g, rate_ok, o);
				return;
			}
		g->pass_miss++;
		o->cat = XSM_C_MISS;
		return;
	}
	const struct xsm_fe *fe = &cfg->fe[fi];
	struct xs_svc_stats *s = &st[fi];
	bool syn = p.tcp_flags & 0x02, ack = p.tcp_flags & 0x10, closing = p.tcp_flags & 0x05;
	struct xs_ct_key fk = xsm_key(p.saddr, p.daddr, p.sport, p.dport, p.proto, XS_CT_FWD);
	struct xs_ct_value *cv = xsm_ct_get(ct, &fk);

	o->fe = fi;
	o->keys[o->nkeys++] = fk;
	s->packets++;
	s->bytes += p.tot;
	o->cat = XSM_C_NEW;
	/* Conntrack hit: the recorded backend (it is alive: the configuration
	 * does not change under a flow here, and nothing expires). A SYN
	 * without ACK on a flow that saw FIN or RST opens a new one. */
	if (cv && p.proto == PKT_IPPROTO_TCP && syn && !ack && (cv->flags & XS_CT_F_CLOSING)) {
		cv = NULL;
		o->cat = XSM_C_REOPEN;
	}
	if (cv) {
		if (closing)
			cv->flags |= XS_CT_F_CLOSING;
		/* A client packet after a reply: the flow moves to the assured
		 * table (both entries, flagged), if its reverse entry is there. */
		if ((cv->flags & (XS_CT_F_REPLIED | XS_CT_F_ASSURED)) == XS_CT_F_REPLIED) {
			struct xs_ct_key ak = xsm_key(ntohl(cv->nat_addr), cv->snat_addr ? ntohl(cv->snat_addr) : p.saddr,
						      ntohs(cv->nat_port), cv->snat_addr ? ntohs(cv->snat_port) : p.sport,
						      p.proto, XS_CT_REV);
			struct xs_ct_value *av = xsm_ct_get(ct, &ak);

			if (av) {
				av->flags |= XS_CT_F_ASSURED;
				cv->flags |= XS_CT_F_ASSURED;
				g->ct_assured++;
				if (o->nkeys < 3)
					o->keys[o->nkeys++] = ak;
			}
		}
		g->hit++;
		g->to_stack++; /* no FIB here: XDP_PASS, translated */
		xsm_frag_record(&p);
		o->cat = XSM_C_ESTABLISHED;
		xsm_nat(o->b, &p, true, ntohl(cv->nat_addr), ntohs(cv->nat_port));
		return;
	}
	if (fe->n == 0) {
		g->no_backend++;
		s->no_backend++;
		if (fe->flags & XS_SVC_F_NO_REJECT) {
			o->ret = XSM_XDP_DROP;
			o->cat = XSM_C_DROP_LOCAL;
			return;
		}
		xsm_reject(in, &p, g, rate_ok, o);
		return;
	}
	int bi = pick(arg, fe, &p);
	if (bi < 0 || (size_t)bi >= fe->n) {
		/* A NAT clash: the backend picked would get this client port's
		 * reply tuple, which another live flow (through another
		 * frontend) holds; the datapath would give this one a port of
		 * the SNAT range, which the test leaves empty: dropped. Allowed
		 * when some backend of fe clashes. */
		for (size_t i = 0; i < fe->n; i++) {
			struct xs_ct_key ck = xsm_key(fe->be[i].addr, p.saddr, fe->be[i].port, p.sport, p.proto,
						      XS_CT_REV);
			struct xs_ct_value *cr = xsm_ct_get(ct, &ck);

			if (!cr || (ntohl(cr->nat_addr) == p.daddr && ntohs(cr->nat_port) == p.dport))
				continue;
			struct xs_ct_key ok = xsm_key(cr->snat_addr ? ntohl(cr->snat_addr) : p.saddr, ntohl(cr->nat_addr),
						      cr->snat_addr ? ntohs(cr->snat_port) : p.sport, ntohs(cr->nat_port),
						      p.proto, XS_CT_FWD);
			struct xs_ct_value *of = xsm_ct_get(ct, &ok);

			if (of && ntohl(of->nat_addr) == fe->be[i].addr && ntohs(of->nat_port) == fe->be[i].port) {
				g->drop_snat++;
				o->ret = XSM_XDP_DROP;
				o->clash = true;
				return;
			}
		}
		o->bad_pick = true;
		return;
	}
	const struct xsm_be *be = &fe->be[bi];
	uint8_t fl = closing ? XS_CT_F_CLOSING : 0;
	struct xs_ct_key rk = xsm_key(be->addr, p.saddr, be->port, p.sport, p.proto, XS_CT_REV);
	struct xs_ct_value fv = { .nat_addr = htonl(be->addr), .nat_port = htons(be->port), .flags = fl,
				  .backend_id = be->id, .svc_id = fe->svc_id };
	struct xs_ct_value rv = { .nat_addr = htonl(p.daddr), .nat_port = htons(p.dport), .flags = fl,
				  .backend_id = be->id, .svc_id = fe->svc_id };

	g->ct_created += (xsm_ct_put(ct, &rk, &rv) == 1) + (xsm_ct_put(ct, &fk, &fv) == 1);
	o->keys[o->nkeys++] = rk;
	g->hit++;
	g->to_stack++;
	g->new_flow++;
	s->new_flows++;
	xsm_frag_record(&p);
	xsm_nat(o->b, &p, true, be->addr, be->port);
}

/*
 * An ICMP error (destination unreachable, time exceeded, parameter
 * problem) quoting a TCP/UDP header of a translated flow (no quoted IP
 * options, not a later fragment): the quoted addresses and ports, the outer
 * addresses (the flow's own translation of the way the error travels), and
 * every checksum updated, as xs_icmp_nat does (incrementally: a wrong
 * checksum stays wrong). False: not such an error, untouched.
 */
static inline bool xsm_icmp(struct xsm_ct *ct, struct xs_global_stats *g, const struct xsm_pkt *p, uint8_t *b,
			    struct xsm_out *o)
{
	size_t avail = p->tot - p->hl, off = p->l4;
	uint8_t *ic = b + off, *q = ic + 8, *ql4 = q + 20;

	if (p->proto != PKT_IPPROTO_ICMP || avail < 36)
		return false;
	bool full = avail >= 48;

	if (ic[0] != 3 && ic[0] != 11 && ic[0] != 12)
		return false;
	if (q[0] != 0x45 || (xsm_g16(q + 6) & 0x1fff) || (q[9] != PKT_IPPROTO_TCP && q[9] != PKT_IPPROTO_UDP))
		return false;
	uint8_t proto = q[9];
	uint32_t qs = xsm_g32(q + 12), qd = xsm_g32(q + 16);
	uint16_t qsp = xsm_g16(ql4), qdp = xsm_g16(ql4 + 2);
	struct xs_ct_key k = xsm_key(qd, qs, qdp, qsp, proto, XS_CT_REV);
	struct xs_ct_value *v = xsm_ct_get(ct, &k);
	bool to_client = v;

	if (!v) {
		k = xsm_key(qd, qs, qdp, qsp, proto, XS_CT_FWD);
		v = xsm_ct_get(ct, &k);
		if (!v)
			return false;
	}
	o->keys[o->nkeys++] = k;
	uint32_t os = p->saddr, od = p->daddr, ns = os, nd = od, nqs = qs, nqd = qd;
	uint16_t nqsp = qsp, nqdp = qdp;
	uint32_t nat = ntohl(v->nat_addr), snat = ntohl(v->snat_addr);

	if (to_client) {
		nqd = nat, nqdp = ntohs(v->nat_port), ns = nat;
		if (snat)
			nqs = snat, nqsp = ntohs(v->snat_port), nd = snat;
	} else {
		nqs = nat, nqsp = ntohs(v->nat_port), nd = nat;
		if (snat)
			nqd = snat, nqdp = ntohs(v->snat_port), ns = snat;
	}
	size_t qlen = full ? 40 : 28;
	uint8_t old[40];

	memcpy(old, q, qlen);
	/* quoted IP header and its checksum */
	uint16_t c = xsm_g16(q + 10);

	xsm_p16(q + 10, xsm_csum_upd32(xsm_csum_upd32(c, qs, nqs), qd, nqd));
	xsm_p32(q + 12, nqs);
	xsm_p32(q + 16, nqd);
	xsm_p16(ql4, nqsp);
	xsm_p16(ql4 + 2, nqdp);
	/* the quoted L4 checksum, where the quote holds it */
	uint8_t *l4c = proto == PKT_IPPROTO_UDP ? ql4 + 6 : full ? ql4 + 16 : NULL;

	if (l4c && (proto != PKT_IPPROTO_UDP || xsm_g16(l4c))) {
		c = xsm_csum_upd32(xsm_csum_upd32(xsm_g16(l4c), qs, nqs), qd, nqd);
		c = xsm_csum_upd16(c, qsp, nqsp);
		c = xsm_csum_upd16(c, qdp, nqdp);
		if (proto == PKT_IPPROTO_UDP && !c)
			c = 0xffff;
		xsm_p16(l4c, c);
	}
	/* the ICMP checksum, for every word of the quote that changed */
	c = xsm_g16(ic + 2);
	for (size_t i = 0; i < qlen; i += 2)
		c = xsm_csum_upd16(c, xsm_g16(old + i), xsm_g16(q + i));
	xsm_p16(ic + 2, c);
	/* the outer header */
	xsm_p16(b + p->l3 + 10, xsm_csum_upd32(xsm_csum_upd32(xsm_g16(b + p->l3 + 10), os, ns), od, nd));
	xsm_p32(b + p->l3 + 12, ns);
	xsm_p32(b + p->l3 + 16, nd);
	g->icmp_nat++;
	return true;
}

/*
 * xs_tc_egress on a packet leaving the node, as long as it is not addressed
 * to a frontend (node-originated DNAT is not modelled; the caller does not
 * send such packets): a reply whose reverse entry exists gets the VIP:port
 * back as its source; anything else leaves untouched and uncounted.
 */
static inline bool xsm_tc_egress(const struct xsm_cfg *cfg, struct xsm_ct *ct, struct xs_global_stats *g,
				 const uint8_t *in, size_t len, struct xsm_out *o)
{
	struct xsm_pkt p;

	memset(o, 0, offsetof(struct xsm_out, b));
	o->fe = -1;
	o->ret = XSM_TC_OK;
	o->len = len;
	memcpy(o->b, in, len);
	/* BPF_PROG_TEST_RUN of an skb program wants the Ethernet header, and
	 * the network header of an (untagged) IPv4 or IPv6 frame. */
	if (len < 14 || (xsm_g16(in + 12) == 0x0800 && len < 34) || (xsm_g16(in + 12) == 0x86dd && len < 54)) {
		o->refused = true;
		o->cat = XSM_C_REFUSED;
		return true;
	}
	int rc = xsm_parse(in, len, &p);

	if (rc == XSM_FRAGMENT) {
		/* A later fragment: a reply's (reverse entry) or the node's own
		 * request's (forward: DNAT, then no route: the stack). */
		struct xs_ct_key k;
		struct xs_ct_value *v = xsm_frag_ct(ct, &p, XS_CT_REV, &k);
		bool reply = v;

		o->cat = XSM_C_TC_UNPARSED;
		if (!v)
			v = xsm_frag_ct(ct, &p, XS_CT_FWD, &k);
		if (!v) {
			g->pass_fragment++;
			g->frag_unknown++;
			return true;
		}
		o->keys[o->nkeys++] = k;
		g->frag_nat++;
		if (reply) {
			xsm_frag_nat(o->b, &p, ntohl(v->nat_addr), p.daddr);
		} else {
			g->to_stack++;
			xsm_frag_nat(o->b, &p, p.saddr, ntohl(v->nat_addr));
		}
		return true;
	}
	if (rc == XSM_NOT_L4 && xsm_icmp(ct, g, &p, o->b, o)) {
		o->cat = XSM_C_TC_ICMP;
		return true;
	}
	if (rc != XSM_OK) {
		o->cat = XSM_C_TC_UNPARSED;
		return true;
	}
	struct xs_ct_key rk = xsm_key(p.saddr, p.daddr, p.sport, p.dport, p.proto, XS_CT_REV);
	struct xs_ct_value *rv = xsm_ct_get(ct, &rk);

	o->keys[o->nkeys++] = rk;
	if (rv) {
		/* a reply marks both entries replied (the refresh of last_seen
		 * is not modelled) */
		struct xs_ct_key fk = xsm_key(rv->snat_addr ? ntohl(rv->snat_addr) : p.daddr, ntohl(rv->nat_addr),
					      rv->snat_addr ? ntohs(rv->snat_port) : p.dport, ntohs(rv->nat_port),
					      p.proto, XS_CT_FWD);
		struct xs_ct_value *fv = xsm_ct_get(ct, &fk);

		rv->flags |= XS_CT_F_REPLIED;
		if (fv && ntohl(fv->nat_addr) == p.saddr && ntohs(fv->nat_port) == p.sport) {
			fv->flags |= XS_CT_F_REPLIED;
			o->keys[o->nkeys++] = fk;
		}
		g->reply_nat++;
		xsm_frag_record(&p);
		o->cat = XSM_C_TC_REPLY;
		xsm_nat(o->b, &p, false, ntohl(rv->nat_addr), ntohs(rv->nat_port));
		return true;
	}
	if (xsm_fe_find(cfg, p.daddr, p.dport, p.proto) >= 0)
		return false; /* local DNAT: not modelled */
	for (size_t i = 0; i < cfg->n; i++)
		if (cfg->fe[i].vip == p.daddr)
			return false; /* the node's own packet to a ClusterIP port nobody has: refused, not modelled */
	o->cat = XSM_C_TC_UNKNOWN;
	return true;
}

#endif
