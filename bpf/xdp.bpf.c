// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* NIC ingress: DNAT client -> ClusterIP:port to a backend pod, then send it
 * there directly when the FIB knows the way (the fast path), else let the
 * stack route it. Anything that is not a fully checked TCP/UDP packet to a
 * frontend passes untouched. */
#include "lb.h"
#include "csum.h"
#include "reject.h"

/*
 * Forward a translated packet the way the stack would, where XDP can be
 * sure the frame gets there: FIB lookup (which also checks that the node
 * forwards, the MTU and the neighbour), TTL decrement, MAC rewrite, then
 * XDP_TX back out of the NIC (a backend on another node). Everything else
 * goes to the stack (XDP_PASS), already translated: a backend on a pod's
 * veth, because a veth drops XDP frames redirected into it unless its pod's
 * end runs XDP or GRO, which the datapath cannot know; any other FIB
 * answer; an 802.1Q frame (its device is not the one XDP runs on).
 */
static __always_inline int xs_fast_path(struct xdp_md *ctx, const struct xs_pkt *p)
{
	struct ethhdr *eth = (void *)(long)ctx->data;
	struct iphdr *iph = p->iph;
	struct bpf_fib_lookup fib = {
		.family = AF_INET,
		.tos = iph->tos,
		.l4_protocol = p->proto,
		.tot_len = p->ip_len,
		.ifindex = ctx->ingress_ifindex,
		.ipv4_src = iph->saddr,
		.ipv4_dst = iph->daddr,
	};

	if ((void *)(eth + 1) > (void *)(long)ctx->data_end || p->l3_off != sizeof(*eth) || iph->ttl <= 1 ||
	    bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS ||
	    fib.ifindex != ctx->ingress_ifindex) {
		/* TTL: the stack sends the ICMP time exceeded */
		xs_count(to_stack);
		return XDP_PASS;
	}
	__u16 old_ttl_proto = *(__u16 *)&iph->ttl;
	iph->ttl--;
	csum_replace2(&iph->check, old_ttl_proto, *(__u16 *)&iph->ttl);
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	xs_count(fast_path);
	return XDP_TX;
}

/* Rewrite the source (src) or destination address and port, checksums
 * updated incrementally. A UDP checksum of zero means "none" and stays zero. */
static __always_inline void xs_nat(struct xs_pkt *p, bool src, __be32 addr, __be16 port)
{
	__be32 *a = src ? &p->iph->saddr : &p->iph->daddr;
	__be16 *pp = src ? p->sport_p : p->dport_p;

	csum_replace4(&p->iph->check, *a, addr);
	if (p->proto == IPPROTO_TCP || *p->l4_check) {
		csum_replace4(p->l4_check, *a, addr);
		csum_replace2(p->l4_check, *pp, port);
		if (p->proto == IPPROTO_UDP && !*p->l4_check)
			*p->l4_check = 0xffff;
	}
	*a = addr;
	*pp = port;
}

/* Rewrite the IPv4 source or destination address alone (a later fragment). */
static __always_inline void xs_ipnat(struct xs_pkt *p, bool src, __be32 addr)
{
	__be32 *a = src ? &p->iph->saddr : &p->iph->daddr;

	csum_replace4(&p->iph->check, *a, addr);
	*a = addr;
}

/* A later fragment of a datagram whose first fragment was translated here
 * gets the same addresses (xs_frags) and goes the same way; any other
 * passes untouched. */
static __always_inline int xs_xdp_frag(struct xdp_md *ctx, struct xs_pkt *p)
{
	struct xs_ct_value *ct = xs_frag_ct(p, XS_CT_FWD);
	const struct xs_config *cfg;

	if (!ct) {
		xs_count(pass_fragment);
		xs_count(frag_unknown);
		return XDP_PASS;
	}
	xs_ipnat(p, false, ct->nat_addr);
	if (ct->snat_addr)
		xs_ipnat(p, true, ct->snat_addr);
	xs_count(frag_nat);
	cfg = xs_config_get();
	if (!cfg || cfg->flags & XS_CFG_NO_FAST_PATH) {
		xs_count(to_stack);
		return XDP_PASS;
	}
	return xs_fast_path(ctx, p);
}

/* xdp.frags: a jumbo MTU needs multi-buffer frames; every header read is
 * in the first buffer, and the length checks use the whole frame's. */
SEC("xdp.frags")
int xs_xdp_ingress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	const struct xs_config *cfg;
	struct xs_svc_value *sv;
	struct xs_fwd f;
	struct xs_pkt p;
	int rc;

	rc = xs_parse(data, data_end, (__u32)bpf_xdp_get_buff_len(ctx), &p);
	if (rc == XS_PARSE_FRAGMENT)
		return xs_xdp_frag(ctx, &p);
	if (rc != XS_PARSE_OK) {
		xs_count_parse(rc);
		return XDP_PASS;
	}
	bool no_port;

	sv = xs_svc_find(&p, &no_port);
	if (!sv) {
		if (no_port)
			return xs_reject(ctx, &p);
		xs_count(pass_miss);
		return XDP_PASS;
	}
	cfg = xs_config_get();
	if (!cfg)
		return XDP_PASS;
	if (!xs_src_allowed(&p, sv))
		return XDP_DROP;
	switch (xs_forward(ctx, &p, sv, cfg, 0, 0, ctx->ingress_ifindex, &f)) {
	case XS_FWD_OK:
		break;
	case XS_FWD_NO_BACKEND:
		/* A Local policy without a local endpoint drops (kube-proxy). */
		return sv->flags & XS_SVC_F_NO_REJECT ? XDP_DROP : xs_reject(ctx, &p);
	default:
		return XDP_DROP;
	}

	xs_nat(&p, false, f.addr, f.port);
	/* SNAT: the stack would drop a packet coming in with the node's own
	 * address as source; what the fast path does not send, tc ingress
	 * sends on (xs_tc_ingress). */
	if (f.saddr)
		xs_nat(&p, true, f.saddr, f.sport);
	xs_count(hit);
	if (cfg->flags & XS_CFG_NO_FAST_PATH) {
		xs_count(to_stack);
		return XDP_PASS;
	}
	return xs_fast_path(ctx, &p);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
