/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A frontend without any usable endpoint is rejected the way kube-proxy's
 * REJECT rule does it, so a client sees "connection refused" at once
 * instead of a timeout: a TCP segment is answered with a RST, a UDP
 * datagram with ICMP port unreachable, built in place and sent back out of
 * the NIC (XDP_TX). Rate-limited per CPU; the reply is built only for the
 * common frame (no 802.1Q tag, no IP options), anything else is dropped.
 * The pod program (tc.bpf.c) answers a pod with the same builders, the same
 * bucket and counters.
 */
#ifndef XS_REJECT_H
#define XS_REJECT_H

#include "lb.h"

/* <linux/icmp.h> drags in libc's socket headers: the little we need. */
#define ICMP_DEST_UNREACH 3
#define ICMP_PORT_UNREACH 3
struct icmphdr {
	__u8 type;
	__u8 code;
	__u16 checksum;
	__u32 unused;
};

/* One token, or false when the bucket is empty. */
static __always_inline bool xs_reject_allowed(void)
{
	__u32 zero = 0;
	struct xs_reject_rl *rl = bpf_map_lookup_elem(&xs_reject_rl, &zero);
	__u64 now = bpf_ktime_get_ns(), add;

	if (!rl)
		return false;
	/* A second without rejects refills the bucket (and keeps the product
	 * below from overflowing). */
	add = now - rl->last_ns >= 1000000000ULL ? XS_REJECT_BURST
						 : (now - rl->last_ns) * XS_REJECT_RATE / 1000000000ULL;
	if (add) {
		rl->tokens = rl->tokens + add > XS_REJECT_BURST ? XS_REJECT_BURST : rl->tokens + add;
		rl->last_ns = now;
	}
	if (!rl->tokens)
		return false;
	rl->tokens--;
	return true;
}

/* The checksum of len bytes (even, constant) at p, folded, not inverted. */
static __always_inline __u32 xs_sum(const void *p, int len, __u32 sum)
{
	const __u16 *w = p;

#pragma unroll
	for (int i = 0; i < len / 2; i++)
		sum += w[i];
	return sum;
}

static __always_inline __u16 xs_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static __always_inline void xs_swap_macs(struct ethhdr *eth)
{
	__u8 tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

static __always_inline void xs_ip_reply(struct iphdr *iph, __u16 tot_len, __u8 proto)
{
	__be32 a = iph->saddr;

	iph->saddr = iph->daddr;
	iph->daddr = a;
	iph->tos = 0;
	iph->tot_len = bpf_htons(tot_len);
	iph->id = 0;
	iph->frag_off = bpf_htons(0x4000); /* DF */
	iph->ttl = 64;
	iph->protocol = proto;
	iph->check = 0;
	iph->check = xs_fold(xs_sum(iph, sizeof(*iph), 0));
}

/* The RST answering a TCP segment of ip_len bytes (20-byte IP header),
 * written over its headers (RFC 9293 3.10.7.1: closed port). The caller
 * cuts the frame after th. */
static __always_inline void xs_rst_build(struct ethhdr *eth, struct iphdr *iph, struct tcphdr *th, __u16 ip_len)
{
	__u32 seg_len, seq, ack;
	bool had_ack;

	seg_len = ip_len - sizeof(*iph) - th->doff * 4 + th->syn + th->fin;
	had_ack = th->ack;
	if (had_ack) {
		seq = th->ack_seq;
		ack = 0;
	} else {
		seq = 0;
		ack = bpf_htonl(bpf_ntohl(th->seq) + seg_len);
	}
	__be16 port = th->source;
	th->source = th->dest;
	th->dest = port;
	th->seq = seq;
	th->ack_seq = ack;
	((__u8 *)th)[12] = 5 << 4;                      /* doff 5, no options */
	/* <SEQ=SEG.ACK><CTL=RST>, or <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>:
	 * the ACK bit follows the segment's, whatever the number (it may wrap to 0). */
	((__u8 *)th)[13] = XS_TCP_RST | (had_ack ? 0 : XS_TCP_ACK);
	th->window = 0;
	th->urg_ptr = 0;
	th->check = 0;
	xs_swap_macs(eth);
	xs_ip_reply(iph, sizeof(*iph) + sizeof(*th), IPPROTO_TCP);
	__u32 sum = xs_sum(&iph->saddr, 8, bpf_htons(IPPROTO_TCP) + bpf_htons(sizeof(*th)));
	th->check = xs_fold(xs_sum(th, sizeof(*th), sum));
}

/* TCP: RST, built in place. */
static __always_inline int xs_reject_tcp(struct xdp_md *ctx, const struct xs_pkt *p)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct tcphdr *th = (void *)(iph + 1);

	if ((void *)(th + 1) > data_end)
		return XDP_DROP;
	if (th->rst)
		return XDP_DROP; /* never answer a RST */
	xs_rst_build(eth, iph, th, p->ip_len);
	/* Cut the frame after the TCP header. */
	if (bpf_xdp_adjust_tail(ctx, (int)(sizeof(*eth) + sizeof(*iph) + sizeof(*th)) -
				     (int)((long)ctx->data_end - (long)ctx->data)))
		return XDP_DROP;
	return XDP_TX;
}

/* UDP: ICMP destination (port) unreachable, quoting the IP header and the
 * first 8 bytes of the datagram (RFC 792). */
#define XS_ICMP_QUOTE (sizeof(struct iphdr) + 8)

/* The ICMP port unreachable over eth (the datagram's Ethernet header);
 * quoted (its IP header and first 8 bytes) directly follows icmp. */
static __always_inline void xs_icmp_build(struct ethhdr *eth, struct iphdr *iph, struct icmphdr *icmp,
					  const struct iphdr *quoted)
{
	xs_swap_macs(eth);
	/* The outer header starts as a copy of the quoted one, swapped. */
	__builtin_memcpy(iph, quoted, sizeof(*iph));
	xs_ip_reply(iph, sizeof(*iph) + sizeof(*icmp) + XS_ICMP_QUOTE, IPPROTO_ICMP);
	icmp->type = ICMP_DEST_UNREACH;
	icmp->code = ICMP_PORT_UNREACH;
	icmp->checksum = 0;
	icmp->unused = 0;
	icmp->checksum = xs_fold(xs_sum(icmp, sizeof(*icmp) + XS_ICMP_QUOTE, 0));
}

static __always_inline int xs_reject_udp(struct xdp_md *ctx)
{
	struct ethhdr eth_copy;
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	int room = sizeof(struct iphdr) + sizeof(struct icmphdr);

	if (data + sizeof(struct ethhdr) + XS_ICMP_QUOTE > data_end)
		return XDP_DROP;
	__builtin_memcpy(&eth_copy, data, sizeof(eth_copy));
	/* New room in front for the outer IP and ICMP headers, then cut the
	 * end after the quote. */
	if (bpf_xdp_adjust_head(ctx, -room))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	int cut = (int)(sizeof(struct ethhdr) + room + XS_ICMP_QUOTE) - (int)(data_end - data);
	if (bpf_xdp_adjust_tail(ctx, cut))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;

	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct icmphdr *icmp = (void *)(iph + 1);
	struct iphdr *quoted = (void *)(icmp + 1);

	if ((void *)quoted + XS_ICMP_QUOTE > data_end)
		return XDP_DROP;
	__builtin_memcpy(eth, &eth_copy, sizeof(*eth));
	xs_icmp_build(eth, iph, icmp, quoted);
	return XDP_TX;
}

/* Reject p (addressed to a frontend without endpoints), or drop it. */
static __always_inline int xs_reject(struct xdp_md *ctx, const struct xs_pkt *p)
{
	/* A multi-buffer frame (jumbo MTU) is not cut to a reply. */
	if (p->l3_off != sizeof(struct ethhdr) || p->iph->ihl != 5 ||
	    bpf_xdp_get_buff_len(ctx) != (__u64)(ctx->data_end - ctx->data) || !xs_reject_allowed()) {
		xs_count(reject_limited);
		return XDP_DROP;
	}
	if (p->proto == IPPROTO_TCP) {
		int rc = xs_reject_tcp(ctx, p);

		if (rc == XDP_TX)
			xs_count(reject_rst);
		return rc;
	}
	int rc = xs_reject_udp(ctx);

	if (rc == XDP_TX)
		xs_count(reject_icmp);
	return rc;
}

#endif
