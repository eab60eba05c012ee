/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Header parsing shared by the XDP and tc programs: a bounds check before
 * every read, and every length field checked against the frame and against
 * the enclosing header, so a packet is only ever rewritten after all of its
 * headers were checked (xdp-tutorial common/parsing_helpers.h). */
#ifndef XS_PARSE_H
#define XS_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define XS_ETH_P_8021Q 0x8100
#define XS_IP_MF 0x2000
#define XS_IP_OFFSET 0x1fff
#define XS_TCP_FIN 0x01
#define XS_TCP_SYN 0x02
#define XS_TCP_RST 0x04
#define XS_TCP_ACK 0x10

enum xs_parse_rc {
	XS_PARSE_OK = 0,
	XS_PARSE_NOT_IPV4,
	XS_PARSE_NOT_L4,
	XS_PARSE_FRAGMENT,
	XS_PARSE_MALFORMED,
};

struct xs_pkt {
	struct iphdr *iph;
	__u16 *l4_check;   /* TCP or UDP checksum field */
	__be16 *sport_p;
	__be16 *dport_p;
	__u32 l3_off;      /* from the start of the frame */
	__u32 l4_off;
	__u16 ip_len;      /* IPv4 total length, for byte counters */
	__u8 proto;
	__u8 tcp_flags;    /* FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10; 0 for UDP */
	__u8 frag;         /* XS_FRAG_*: not a fragment, the first, a later one */
};

enum {
	XS_FRAG_NONE = 0,
	XS_FRAG_FIRST = 1, /* MF, offset 0: parsed as a packet; its L4 header is here */
	XS_FRAG_LATER = 2, /* offset > 0 (XS_PARSE_FRAGMENT): no L4 header, ports unknown */
};

struct vlan_hdr_ {
	__be16 tci;
	__be16 proto;
};

/* frame_len: the whole frame as the hook sees it (data_end - data). */
static __always_inline int xs_parse(void *data, void *data_end, __u32 frame_len, struct xs_pkt *p)
{
	struct ethhdr *eth = data;
	__u32 off = sizeof(*eth);
	__be16 proto;

	if ((void *)(eth + 1) > data_end)
		return XS_PARSE_MALFORMED;
	proto = eth->h_proto;
	if (proto == bpf_htons(XS_ETH_P_8021Q)) {
		struct vlan_hdr_ *vh = (void *)(eth + 1);

		if ((void *)(vh + 1) > data_end)
			return XS_PARSE_MALFORMED;
		proto = vh->proto;
		off += sizeof(*vh);
	}
	if (proto != bpf_htons(ETH_P_IP))
		return XS_PARSE_NOT_IPV4;

	struct iphdr *iph = data + off;
	if ((void *)(iph + 1) > data_end)
		return XS_PARSE_MALFORMED;
	if (iph->version != 4 || iph->ihl < 5)
		return XS_PARSE_MALFORMED;
	__u32 hlen = iph->ihl * 4;
	__u32 tot = bpf_ntohs(iph->tot_len);
	/* The frame may carry padding after the datagram, never less of it. */
	if (tot < hlen || off + tot > frame_len)
		return XS_PARSE_MALFORMED;
	if ((void *)iph + hlen > data_end)
		return XS_PARSE_MALFORMED;

	p->iph = iph;
	p->l3_off = off;
	p->l4_off = off + hlen;
	p->ip_len = tot;
	p->proto = iph->protocol;
	p->frag = XS_FRAG_NONE;
	/* A later fragment: the IPv4 header is all there is (the caller may
	 * know its ports from the first one). The first: parsed as a packet,
	 * but its UDP length is the whole datagram's. */
	if (iph->frag_off & bpf_htons(XS_IP_OFFSET)) {
		p->frag = XS_FRAG_LATER;
		p->l4_check = 0;
		p->sport_p = p->dport_p = 0;
		p->tcp_flags = 0;
		return XS_PARSE_FRAGMENT;
	}
	if (iph->frag_off & bpf_htons(XS_IP_MF))
		p->frag = XS_FRAG_FIRST;
	__u32 l4_len = tot - hlen;
	void *l4 = (void *)iph + hlen;

	if (iph->protocol == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end || l4_len < sizeof(*th))
			return XS_PARSE_MALFORMED;
		if (th->doff < 5 || th->doff * 4 > l4_len)
			return XS_PARSE_MALFORMED;
		p->l4_check = (__u16 *)&th->check;
		p->tcp_flags = ((__u8 *)th)[13];
		p->sport_p = &th->source;
		p->dport_p = &th->dest;
	} else if (iph->protocol == IPPROTO_UDP) {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > data_end || l4_len < sizeof(*uh))
			return XS_PARSE_MALFORMED;
		__u32 ulen = bpf_ntohs(uh->len);
		if (ulen < sizeof(*uh) || (ulen > l4_len && p->frag != XS_FRAG_FIRST))
			return XS_PARSE_MALFORMED;
		p->l4_check = (__u16 *)&uh->check;
		p->tcp_flags = 0;
		p->sport_p = &uh->source;
		p->dport_p = &uh->dest;
	} else {
		return XS_PARSE_NOT_L4;
	}
	return XS_PARSE_OK;
}

#endif
