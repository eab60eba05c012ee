/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet building for the datapath tests: Ethernet (optionally 802.1Q)
 * + IPv4 (optionally with options) + TCP/UDP/ICMP, or ARP/IPv6 frames, with
 * every checksum computed from scratch (RFC 1071 sum over the pseudo-header
 * and the whole segment), and a field-naming byte diff for failure messages.
 * Everything works on raw offsets: no kernel headers, no struct packing.
 */
#ifndef XS_TEST_PKT_H
#define XS_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#define PKT_MAX 2048

#define PKT_IPPROTO_ICMP 1
#define PKT_IPPROTO_TCP 6
#define PKT_IPPROTO_UDP 17

enum pkt_kind {
	PKT_IPV4 = 0, /* Ethernet + IPv4 + spec.proto */
	PKT_ARP,      /* ARP request */
	PKT_IPV6,     /* Ethernet + a minimal IPv6 UDP datagram */
};

struct pkt_spec {
	enum pkt_kind kind;
	uint8_t proto;          /* PKT_IPPROTO_TCP/UDP/ICMP */
	const char *saddr, *daddr;
	uint16_t sport, dport;  /* host order */
	size_t payload;         /* L4 payload bytes */
	uint8_t seed;           /* varies the payload and a few header fields */
	bool vlan;              /* one 802.1Q tag */
	uint8_t ihl;            /* 0 means 5; 6..15 adds NOP/RR/EOL options */
	uint8_t doff;           /* TCP data offset, 0 means 5; >5 adds options */
	uint8_t tcp_flags;      /* 0 means PSH|ACK */
	uint16_t frag;          /* IPv4 frag_off field, host order (flags | offset) */
	bool udp_nocsum;        /* UDP checksum 0: none */
	size_t udp_short;       /* UDP length = 8 + payload - udp_short (rest stays in the datagram) */
	size_t trailer;         /* padding bytes after the IP datagram */
};

struct pkt {
	uint8_t b[PKT_MAX];
	size_t len;       /* frame length */
	size_t l3, l4;    /* offsets of the IPv4 and L4 headers (IPv4 frames) */
	size_t tot;       /* IPv4 total length as built */
	uint8_t proto;
	bool vlan;
};

/* --- byte access, network order */
static inline uint16_t pkt_get16(const struct pkt *p, size_t off)
{
	return (uint16_t)(p->b[off] << 8 | p->b[off + 1]);
}

static inline uint32_t pkt_get32(const struct pkt *p, size_t off)
{
	return (uint32_t)p->b[off] << 24 | (uint32_t)p->b[off + 1] << 16 | (uint32_t)p->b[off + 2] << 8 |
	       p->b[off + 3];
}

static inline void pkt_put16(struct pkt *p, size_t off, uint16_t v)
{
	p->b[off] = v >> 8;
	p->b[off + 1] = v & 0xff;
}

static inline void pkt_put32(struct pkt *p, size_t off, uint32_t v)
{
	p->b[off] = v >> 24;
	p->b[off + 1] = (v >> 16) & 0xff;
	p->b[off + 2] = (v >> 8) & 0xff;
	p->b[off + 3] = v & 0xff;
}

/* Host-order IPv4 address from a literal (0 if it is not one). */
static inline uint32_t pkt_ip(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return 0;
	return ntohl(a.s_addr);
}

static inline const char *pkt_ipstr(uint32_t host, char buf[16])
{
	struct in_addr a = { .s_addr = htonl(host) };

	inet_ntop(AF_INET, &a, buf, 16);
	return buf;
}

/* --- RFC 1071 checksums, from scratch */
static inline uint32_t pkt_sum(uint32_t sum, const uint8_t *d, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(d[i] << 8 | d[i + 1]);
	if (n & 1)
		sum += (uint32_t)d[n - 1] << 8;
	return sum;
}

static inline uint16_t pkt_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

#define PKT_IP_CHECK 10
#define PKT_IP_SADDR 12
#define PKT_IP_DADDR 16
#define PKT_TCP_CHECK 16
#define PKT_UDP_LEN 4
#define PKT_UDP_CHECK 6

static inline size_t pkt_ihl_bytes(const struct pkt *p)
{
	return (size_t)(p->b[p->l3] & 0x0f) * 4;
}

/* The IPv4 header checksum of p's header, computed with the field zeroed. */
static inline uint16_t pkt_ip_csum(const struct pkt *p)
{
	size_t hl = pkt_ihl_bytes(p);
	uint32_t s;

	if (hl < 20)
		hl = 20;
	s = pkt_sum(0, p->b + p->l3, PKT_IP_CHECK);
	s = pkt_sum(s, p->b + p->l3 + PKT_IP_CHECK + 2, hl - PKT_IP_CHECK - 2);
	return pkt_fold(s);
}

static inline size_t pkt_l4_check_off(const struct pkt *p)
{
	return p->l4 + (p->proto == PKT_IPPROTO_TCP ? PKT_TCP_CHECK : PKT_UDP_CHECK);
}

/* The TCP/UDP checksum of p, from scratch: pseudo-header (addresses, proto,
 * L4 length: tot_len - ihl*4 for TCP, the UDP length field for UDP) plus
 * the whole segment with the checksum field zeroed. The raw value: UDP's
 * "0 is sent as 0xffff" is the caller's business. */
static inline uint16_t pkt_l4_csum_raw(const struct pkt *p)
{
	size_t l4len = p->proto == PKT_IPPROTO_UDP ? pkt_get16(p, p->l4 + PKT_UDP_LEN)
						  : pkt_get16(p, p->l3 + 2) - pkt_ihl_bytes(p);
	size_t co = pkt_l4_check_off(p) - p->l4;
	uint8_t ph[12];
	uint32_t s;

	if (l4len < co + 2 || p->l4 + l4len > PKT_MAX) /* not a packet to checksum */
		return 0;

	memcpy(ph, p->b + p->l3 + PKT_IP_SADDR, 8);
	ph[8] = 0;
	ph[9] = p->proto;
	ph[10] = l4len >> 8;
	ph[11] = l4len & 0xff;
	s = pkt_sum(0, ph, sizeof(ph));
	s = pkt_sum(s, p->b + p->l4, co);
	s = pkt_sum(s, p->b + p->l4 + co + 2, l4len - co - 2);
	return pkt_fold(s);
}

/* The value the checksum field must hold: UDP computes 0 -> 0xffff. */
static inline uint16_t pkt_l4_csum(const struct pkt *p)
{
	uint16_t c = pkt_l4_csum_raw(p);

	return p->proto == PKT_IPPROTO_UDP && c == 0 ? 0xffff : c;
}

/* Store both checksums from scratch; a UDP checksum of 0 ("none") stays 0
 * when keep_udp_zero. */
static inline void pkt_fix_csums(struct pkt *p, bool keep_udp_zero)
{
	pkt_put16(p, p->l3 + PKT_IP_CHECK, pkt_ip_csum(p));
	if (p->proto != PKT_IPPROTO_TCP && p->proto != PKT_IPPROTO_UDP)
		return;
	if (p->proto == PKT_IPPROTO_UDP && keep_udp_zero && pkt_get16(p, pkt_l4_check_off(p)) == 0)
		return;
	pkt_put16(p, pkt_l4_check_off(p), pkt_l4_csum(p));
}

/* --- building */
static inline void pkt_build(struct pkt *p, const struct pkt_spec *s)
{
	static const uint8_t dmac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
	static const uint8_t smac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	uint8_t *b = p->b;
	size_t off = 12, hl, l4h, i;

	memset(p, 0, sizeof(*p));
	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	if (s->vlan) {
		pkt_put16(p, off, 0x8100);
		pkt_put16(p, off + 2, 0x2064); /* PCP 1, VID 100 */
		off += 4;
		p->vlan = true;
	}
	if (s->kind == PKT_ARP) {
		pkt_put16(p, off, 0x0806);
		off += 2;
		pkt_put16(p, off, 1);          /* Ethernet */
		pkt_put16(p, off + 2, 0x0800); /* IPv4 */
		b[off + 4] = 6;
		b[off + 5] = 4;
		pkt_put16(p, off + 6, 1); /* request */
		memcpy(b + off + 8, smac, 6);
		pkt_put32(p, off + 14, pkt_ip(s->saddr));
		pkt_put32(p, off + 24, pkt_ip(s->daddr));
		p->len = off + 28;
		p->l3 = off;
		return;
	}
	if (s->kind == PKT_IPV6) {
		pkt_put16(p, off, 0x86dd);
		off += 2;
		p->l3 = off;
		b[off] = 0x60;
		pkt_put16(p, off + 4, (uint16_t)(8 + s->payload));
		b[off + 6] = PKT_IPPROTO_UDP;
		b[off + 7] = 64;
		b[off + 8] = 0xfd;
		b[off + 23] = 1;
		b[off + 24] = 0xfd;
		b[off + 39] = 2;
		p->l4 = off + 40;
		pkt_put16(p, p->l4, s->sport);
		pkt_put16(p, p->l4 + 2, s->dport);
		pkt_put16(p, p->l4 + 4, (uint16_t)(8 + s->payload));
		pkt_put16(p, p->l4 + 6, 0x1234);
		for (i = 0; i < s->payload; i++)
			b[p->l4 + 8 + i] = (uint8_t)(i * 7 + s->seed);
		p->len = p->l4 + 8 + s->payload;
		return;
	}

	pkt_put16(p, off, 0x0800);
	off += 2;
	p->l3 = off;
	p->proto = s->proto;
	hl = (size_t)(s->ihl ? s->ihl : 5) * 4;
	l4h = s->proto == PKT_IPPROTO_TCP ? (size_t)(s->doff ? s->doff : 5) * 4 : 8;
	p->l4 = off + hl;
	p->tot = hl + l4h + s->payload;

	b[off] = (uint8_t)(0x40 | hl / 4);
	b[off + 1] = 0x10; /* some DSCP */
	pkt_put16(p, off + 2, (uint16_t)p->tot);
	pkt_put16(p, off + 4, (uint16_t)(0x4000 + s->seed * 257));
	pkt_put16(p, off + 6, s->frag);
	b[off + 8] = 63;
	b[off + 9] = s->proto;
	pkt_put32(p, off + PKT_IP_SADDR, pkt_ip(s->saddr));
	pkt_put32(p, off + PKT_IP_DADDR, pkt_ip(s->daddr));
	if (hl > 20) {
		/* Options: NOPs and an EOL when short, else NOP, a Record Route
		 * with distinctive addresses, EOL, zero padding. */
		size_t n = hl - 20, o = off + 20;

		if (n < 12) {
			memset(b + o, 1, n - 1);
			b[o + n - 1] = 0;
		} else {
			size_t k = (n - 5) / 4;

			b[o] = 1;
			b[o + 1] = 7;
			b[o + 2] = (uint8_t)(3 + 4 * k);
			b[o + 3] = 4;
			for (i = 0; i < 4 * k; i++)
				b[o + 4 + i] = (uint8_t)(0xa0 + i);
			b[o + 4 + 4 * k] = 0; /* EOL, then zeros */
		}
	}
	off = p->l4;
	if (s->proto == PKT_IPPROTO_TCP) {
		pkt_put16(p, off, s->sport);
		pkt_put16(p, off + 2, s->dport);
		pkt_put32(p, off + 4, 0x10203040u + s->seed);
		pkt_put32(p, off + 8, 0x50607080u);
		b[off + 12] = (uint8_t)((l4h / 4) << 4);
		b[off + 13] = s->tcp_flags ? s->tcp_flags : 0x18;
		pkt_put16(p, off + 14, 502);
		pkt_put16(p, off + 18, 0);
		if (l4h > 20) {
			b[off + 20] = 2; /* MSS 1460, then NOPs */
			b[off + 21] = 4;
			pkt_put16(p, off + 22, 1460);
			memset(b + off + 24, 1, l4h - 24);
		}
	} else if (s->proto == PKT_IPPROTO_UDP) {
		pkt_put16(p, off, s->sport);
		pkt_put16(p, off + 2, s->dport);
		pkt_put16(p, off + 4, (uint16_t)(8 + s->payload - s->udp_short));
	} else if (s->proto == PKT_IPPROTO_ICMP) {
		b[off] = 8; /* echo request */
		pkt_put16(p, off + 4, 0x0b0b);
		pkt_put16(p, off + 6, s->seed);
		l4h = 8;
		p->tot = hl + l4h + s->payload;
		pkt_put16(p, p->l3 + 2, (uint16_t)p->tot);
	}
	for (i = 0; i < s->payload; i++)
		b[off + l4h + i] = (uint8_t)(i * 13 + s->seed + 1);
	p->len = p->l3 + p->tot;
	for (i = 0; i < s->trailer; i++)
		b[p->len + i] = (uint8_t)(0xe0 + i);
	p->len += s->trailer;

	if (s->proto == PKT_IPPROTO_ICMP) {
		pkt_put16(p, p->l3 + PKT_IP_CHECK, pkt_ip_csum(p));
		pkt_put16(p, off + 2, pkt_fold(pkt_sum(0, b + off, l4h + s->payload)));
		return;
	}
	if (s->proto == PKT_IPPROTO_UDP && s->udp_nocsum) {
		pkt_put16(p, p->l3 + PKT_IP_CHECK, pkt_ip_csum(p));
		return;
	}
	pkt_fix_csums(p, false);
}

/* --- describing bytes, for failure messages */
static inline void pkt_field_name(const struct pkt *p, size_t off, char *buf, size_t len)
{
	static const char *const ip[20] = {
		"ip.ver_ihl", "ip.tos", "ip.tot_len", "ip.tot_len", "ip.id", "ip.id", "ip.frag_off",
		"ip.frag_off", "ip.ttl", "ip.protocol", "ip.check", "ip.check", "ip.saddr", "ip.saddr",
		"ip.saddr", "ip.saddr", "ip.daddr", "ip.daddr", "ip.daddr", "ip.daddr",
	};
	static const char *const tcp[20] = {
		"tcp.source", "tcp.source", "tcp.dest", "tcp.dest", "tcp.seq", "tcp.seq", "tcp.seq",
		"tcp.seq", "tcp.ack_seq", "tcp.ack_seq", "tcp.ack_seq", "tcp.ack_seq", "tcp.doff",
		"tcp.flags", "tcp.window", "tcp.window", "tcp.check", "tcp.check", "tcp.urg_ptr",
		"tcp.urg_ptr",
	};
	static const char *const udp[8] = {
		"udp.source", "udp.source", "udp.dest", "udp.dest", "udp.len", "udp.len", "udp.check",
		"udp.check",
	};

	if (off < 12)
		snprintf(buf, len, "eth.addr+%zu", off);
	else if (!p->l3 || off < p->l3)
		snprintf(buf, len, "l2+%zu", off);
	else if (p->tot && off >= p->l3 + p->tot)
		snprintf(buf, len, "trailer+%zu", off - p->l3 - p->tot);
	else if (!p->l4)
		snprintf(buf, len, "l3+%zu", off - p->l3);
	else if (off < p->l3 + 20)
		snprintf(buf, len, "%s", ip[off - p->l3]);
	else if (off < p->l4)
		snprintf(buf, len, "ip.options+%zu", off - p->l3 - 20);
	else if (p->proto == PKT_IPPROTO_TCP && off < p->l4 + 20)
		snprintf(buf, len, "%s", tcp[off - p->l4]);
	else if (p->proto == PKT_IPPROTO_UDP && off < p->l4 + 8)
		snprintf(buf, len, "%s", udp[off - p->l4]);
	else
		snprintf(buf, len, "l4+%zu", off - p->l4);
}

/* Appends "at byte N (field): got xx xx.., want yy yy.." for the first
 * difference between got and want (len_got/len_want bytes), or "" if equal.
 * Returns true if they differ. */
static inline bool pkt_diff(const struct pkt *got, const struct pkt *want, char *buf, size_t len)
{
	size_t n = got->len < want->len ? got->len : want->len, i, j, w = 0;
	char field[40];

	buf[0] = 0;
	for (i = 0; i < n && got->b[i] == want->b[i]; i++)
		;
	if (i == n && got->len == want->len)
		return false;
	if (i == n) {
		snprintf(buf, len, "length %zu, want %zu", got->len, want->len);
		return true;
	}
	pkt_field_name(want, i, field, sizeof(field));
	w += (size_t)snprintf(buf + w, len - w, "first difference at byte %zu (%s): got", i, field);
	for (j = i; j < i + 8 && j < got->len && w < len; j++)
		w += (size_t)snprintf(buf + w, len - w, " %02x", got->b[j]);
	if (w < len)
		w += (size_t)snprintf(buf + w, len - w, ", want");
	for (j = i; j < i + 8 && j < want->len && w < len; j++)
		w += (size_t)snprintf(buf + w, len - w, " %02x", want->b[j]);
	if (got->len != want->len && w < len)
		snprintf(buf + w, len - w, " (length %zu, want %zu)", got->len, want->len);
	return true;
}

#endif
