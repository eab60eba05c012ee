// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* NIC egress (and ingress) on the skb path:
 *  - egress: a reply leaving a backend (pod ip:port -> client) gets the VIP
 *    back as its source, from the conntrack reverse entry;
 *  - egress: a packet the node itself sends to a frontend never crossed XDP,
 *    so it is DNATed here and sent where the FIB says the backend is;
 *  - ingress: the reply to such a node-originated flow, or to a pod's flow,
 *    coming back from a backend behind the NIC, gets the VIP back before the
 *    socket or the pod sees it.
 * And the ingress of a pod's veth on the node side (xs_tc_pod: what the pod
 * sends), where replies of local backends and the pods' own packets to
 * frontends are translated, and a pod's packet to a frontend without
 * endpoints is rejected (reject.h).
 * The skb csum helpers keep CHECKSUM_PARTIAL packets right. */
#include <stdbool.h>
#include <stddef.h>
#include <linux/pkt_cls.h>
#include "lb.h"
#include "reject.h"
#include "csum.h"

/* Longest headers we read: Ethernet + VLAN + IPv4 with options + TCP. */
#define XS_MAX_HDR (14 + 4 + 60 + 20)

static __always_inline int xs_skb_parse(struct __sk_buff *skb, struct xs_pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	/* Headers are almost always in the linear part; make sure. */
	if (data + XS_MAX_HDR > data_end && skb->len > (__u32)(data_end - data)) {
		bpf_skb_pull_data(skb, skb->len < XS_MAX_HDR ? skb->len : XS_MAX_HDR);
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	}
	return xs_parse(data, data_end, skb->len, p);
}

/* Rewrite the source (src=true) or destination address and port. The packet
 * pointers in p are stale afterwards. */
static __always_inline void xs_skb_nat(struct __sk_buff *skb, const struct xs_pkt *p, bool src,
				       __be32 new_addr, __be16 new_port)
{
	__u32 addr_off = p->l3_off + (src ? offsetof(struct iphdr, saddr) : offsetof(struct iphdr, daddr));
	__u32 port_off = p->l4_off + (src ? 0 : 2);
	__u32 csum_off = p->l4_off + (p->proto == IPPROTO_TCP ? offsetof(struct tcphdr, check)
							       : offsetof(struct udphdr, check));
	/* UDP: a zero checksum stays zero, a result of zero becomes 0xffff. */
	__u64 mangled = p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	/* Without an L4 checksum nothing offsets the port's change in a
	 * CHECKSUM_COMPLETE skb->csum: have the store account for it. */
	__u64 port_flags = p->proto == IPPROTO_UDP && !*p->l4_check ? BPF_F_RECOMPUTE_CSUM : 0;
	__be32 old_addr = src ? p->iph->saddr : p->iph->daddr;
	__be16 old_port = src ? *p->sport_p : *p->dport_p;

	bpf_l4_csum_replace(skb, csum_off, old_addr, new_addr, BPF_F_PSEUDO_HDR | mangled | 4);
	bpf_l4_csum_replace(skb, csum_off, old_port, new_port, mangled | 2);
	bpf_l3_csum_replace(skb, p->l3_off + offsetof(struct iphdr, check), old_addr, new_addr, 4);
	bpf_skb_store_bytes(skb, addr_off, &new_addr, 4, 0);
	bpf_skb_store_bytes(skb, port_off, &new_port, 2, port_flags);
}

/*
 * The reply of a translated flow: the frontend back as source and, when the
 * flow's source was rewritten (hairpin, SNAT), the client back as
 * destination. -1: not a reply (untouched); -2: failed after a rewrite
 * (drop it); else the flow's XS_CT_F_* flags.
 */
static __always_inline int xs_reply_nat(struct __sk_buff *skb, struct xs_pkt *p)
{
	struct xs_ct_value *ct = xs_reply_lookup(p);
	__be32 client;
	__be16 client_port;
	__u8 flags;

	if (!ct)
		return -1;
	client = ct->snat_addr;
	client_port = ct->snat_port;
	flags = ct->flags;
	xs_frag_record(p);
	xs_skb_nat(skb, p, true, ct->nat_addr, ct->nat_port);
	xs_count(reply_nat);
	if (!client)
		return flags;
	if (xs_skb_parse(skb, p) != XS_PARSE_OK)
		return -2;
	xs_skb_nat(skb, p, false, client, client_port);
	return flags;
}

/*
 * Send a translated packet on where the FIB says, past the stack's
 * forwarding, as the stack would: TTL decrement, MACs, then into a pod
 * (bpf_redirect_peer, from an ingress hook to a pod's veth known from
 * attach-pod), out of its device (bpf_redirect), or through the neighbour
 * layer when the next hop's MAC is not known yet (bpf_redirect_neigh).
 * tot_len 0: the kernel checks the skb against the MTU itself, GSO-aware (a
 * GRO or GSO skb is longer than the MTU and still fits). Anything else (the
 * node's own address, too big, TTL 1, no route) goes to the stack, which
 * answers as it does for any packet — unless must: a packet with the
 * node's own address as its source (SNAT), which the stack would drop as a
 * martian, is dropped here. A global function, verified once on its own.
 */
__noinline int xs_deliver(struct __sk_buff *skb, int must, int ingress)
{
	struct xs_pkt p;
	int rc = xs_skb_parse(skb, &p);

	/* An ICMP error and a later fragment are sent on too. */
	if (rc != XS_PARSE_OK && rc != XS_PARSE_NOT_L4 && rc != XS_PARSE_FRAGMENT)
		return TC_ACT_SHOT;
	struct bpf_fib_lookup fib = {
		.family = AF_INET,
		.tos = p.iph->tos,
		.l4_protocol = p.proto,
		.tot_len = 0,
		.ifindex = skb->ifindex,
		.ipv4_src = p.iph->saddr,
		.ipv4_dst = p.iph->daddr,
	};
	long frc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);

	if ((frc != BPF_FIB_LKUP_RET_SUCCESS && frc != BPF_FIB_LKUP_RET_NO_NEIGH) ||
	    (ingress && p.iph->ttl <= 1) || p.l3_off != sizeof(struct ethhdr)) {
		if (must)
			return TC_ACT_SHOT;
		xs_count(to_stack);
		return TC_ACT_OK;
	}
	/* Forwarded: one hop less (the node's own packets leave with theirs). */
	if (ingress) {
		__u16 old = *(__u16 *)&p.iph->ttl, new;
		__u8 ttl = p.iph->ttl - 1;

		((__u8 *)&new)[0] = ttl;
		((__u8 *)&new)[1] = p.iph->protocol;
		bpf_l3_csum_replace(skb, p.l3_off + offsetof(struct iphdr, check), old, new, 2);
		bpf_skb_store_bytes(skb, p.l3_off + offsetof(struct iphdr, ttl), &ttl, 1, 0);
	}
	xs_count(redirect);
	if (frc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_dest), fib.dmac, ETH_ALEN, 0);
	bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_source), fib.smac, ETH_ALEN, 0);
	if (ingress) {
		struct xs_dev *d = bpf_map_lookup_elem(&xs_devs, &fib.ifindex);

		if (d && d->flags & XS_DEV_F_POD) {
			xs_count(redirect_peer);
			return bpf_redirect_peer(fib.ifindex, 0);
		}
	}
	return bpf_redirect(fib.ifindex, 0);
}

/* Send the packet back into the device it came from: the pod gets it. */
static __always_inline int xs_bounce(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u8 mac[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_SHOT;
	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	return bpf_redirect(skb->ifindex, 0);
}

/* The answers to a pod, built on the stack: 2 bytes of padding put the IP
 * header on a 4-byte boundary (the verifier wants aligned stack access). */
struct xs_rst_frame {
	__u8 pad[2];
	struct ethhdr eth;
	struct iphdr iph;
	struct tcphdr th;
};
struct xs_icmp_frame {
	__u8 pad[2];
	struct ethhdr eth;
	struct iphdr iph;
	struct icmphdr icmp;
	struct iphdr quoted;
	__u8 quoted_l4[8];
};
#define XS_RST_LEN  (sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct tcphdr))
#define XS_ICMP_LEN (sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct icmphdr) + XS_ICMP_QUOTE)

/*
 * Make the frame len bytes long and write it. The bytes go or come right
 * after the Ethernet header (bpf_skb_change_tail would turn a
 * CHECKSUM_COMPLETE skb into CHECKSUM_NONE); a CHECKSUM_COMPLETE skb->csum
 * (the sum past the Ethernet header) is then set to the new bytes' sum:
 * bpf_csum_update(skb, 0) reads it (-ENOTSUPP for the other kinds), adding
 * want - old sets it.
 */
static __always_inline int xs_skb_replace(struct __sk_buff *skb, const struct ethhdr *frame, __u32 len)
{
	__s32 diff = (__s32)len - (__s32)skb->len;
	__s64 old, want;
	__u64 delta;

	if (diff && bpf_skb_adjust_room(skb, diff, BPF_ADJ_ROOM_NET, 0))
		return -1;
	if (bpf_skb_store_bytes(skb, 0, frame, len, 0))
		return -1;
	old = bpf_csum_update(skb, 0);
	if (old < 0)
		return 0;
	want = bpf_csum_diff(NULL, 0, (void *)(frame + 1), len - sizeof(*frame), 0);
	if (want < 0)
		return -1;
	delta = (__u64)(__u32)want + (__u32)~(__u32)old;
	bpf_csum_update(skb, (__u32)((delta & 0xffffffff) + (delta >> 32)));
	return 0;
}

/*
 * A pod's packet to a frontend without endpoints gets the answer XDP gives
 * on the NIC (reject.h, same token bucket and counters): built from the
 * packet's headers on the stack, written over the frame, sent back into
 * the veth, to the pod.
 */
static __always_inline int xs_reject_skb(struct __sk_buff *skb, const struct xs_pkt *p, __u64 flags)
{
	/* A GSO skb (UDP_SEGMENT) cannot be cut to one reply. */
	if (p->l3_off != sizeof(struct ethhdr) || p->iph->ihl != 5 || skb->gso_size || !xs_reject_allowed()) {
		xs_count(reject_limited);
		return TC_ACT_SHOT;
	}
	if (p->proto == IPPROTO_TCP) {
		struct xs_rst_frame r;

		if (bpf_skb_load_bytes(skb, 0, &r.eth, XS_RST_LEN) || r.th.rst)
			return TC_ACT_SHOT; /* never answer a RST */
		xs_rst_build(&r.eth, &r.iph, &r.th, p->ip_len);
		if (xs_skb_replace(skb, &r.eth, XS_RST_LEN))
			return TC_ACT_SHOT;
		xs_count(reject_rst);
	} else {
		struct xs_icmp_frame r;

		if (bpf_skb_load_bytes(skb, 0, &r.eth, sizeof(r.eth)) ||
		    bpf_skb_load_bytes(skb, sizeof(r.eth), &r.quoted, XS_ICMP_QUOTE))
			return TC_ACT_SHOT;
		xs_icmp_build(&r.eth, &r.iph, &r.icmp, &r.quoted);
		if (xs_skb_replace(skb, &r.eth, XS_ICMP_LEN))
			return TC_ACT_SHOT;
		xs_count(reject_icmp);
	}
	return bpf_redirect(skb->ifindex, flags);
}

#define XS_ICMP_TIME_EXCEEDED 11
#define XS_ICMP_PARAMETERPROB 12

/* An ICMP error as far as its translation reads it: the ICMP header, the
 * quoted IPv4 header (no options) and up to 20 bytes of the quoted TCP or
 * UDP header (RFC 792 promises 8; Linux quotes more, and then a TCP
 * checksum is in it). */
struct xs_icmp_quote {
	struct icmphdr icmp;
	struct iphdr ip;
	__be16 sport;
	__be16 dport;
	__u8 rest[16];  /* L4 bytes 4..19: UDP length and checksum, or TCP seq... checksum */
};
#define XS_QUOTE_MIN (sizeof(struct icmphdr) + sizeof(struct iphdr) + 8)

/* A verdict of a global function: send the packet on with xs_deliver(must,
 * ingress), which the caller does (the stack of one call less). */
#define XS_DELIVER(must, ingress) (1000 + ((must) ? 2 : 0) + ((ingress) ? 1 : 0))

/* The quote as it came and as it leaves, in xs_scratch (bpf/maps.h): off
 * the stack, which the programs' callers nearly fill. */
struct xs_icmp_scratch {
	struct xs_icmp_quote q, n;
};
_Static_assert(sizeof(struct xs_icmp_scratch) <= XS_SCRATCH_LEN, "xs_scratch is too small");
#define XS_QUOTE_MAX sizeof(struct xs_icmp_quote)

/* The quoted L4 checksum after its addresses and ports changed from q to
 * n (UDP: unless zero, "none"). */
static __always_inline void xs_quote_l4(__u16 *check, bool udp, const struct xs_icmp_quote *q,
					const struct xs_icmp_quote *n)
{
	if (udp && !*check)
		return;
	csum_replace4(check, q->ip.saddr, n->ip.saddr);
	csum_replace4(check, q->ip.daddr, n->ip.daddr);
	csum_replace2(check, q->sport, n->sport);
	csum_replace2(check, q->dport, n->dport);
	if (udp && !*check)
		*check = 0xffff;
}

/*
 * An ICMP error (destination unreachable, all codes; time exceeded;
 * parameter problem) quoting a packet of a translated flow gets the
 * translation of that flow, as kernel NAT gives it: the quoted header is
 * made the packet its receiver sent or got (VIP, client), the outer
 * addresses follow, and the quoted IP, quoted L4 and ICMP checksums and the
 * outer one are updated. Two directions:
 *  - about a packet to the backend (its reverse entry): the backend's port
 *    unreachable, a router's "fragmentation needed" or "time exceeded", the
 *    stack's own: it goes to the client, quoting client -> VIP:port;
 *  - about a reply to the client (its forward entry): a router's or the
 *    client's error goes to the backend, quoting backend -> client as the
 *    backend sent it.
 * -1: not such an error (untouched); XS_DELIVER (ingress): translated, to
 * send on as a reply; TC_ACT_OK (egress): translated, on its way.
 */
/* A global function, verified once on its own (it keeps the programs that
 * call it within the verifier's bounds): it gets the outer header's
 * offsets (l3_off, l4_off) and ingress packed in meta, and its addresses. */
__noinline int xs_icmp_nat(struct __sk_buff *skb, __u32 meta, __u32 ip_len, __be32 osrc, __be32 odst)
{
	__u32 zero = 0;
	struct xs_icmp_scratch *sc = bpf_map_lookup_elem(&xs_scratch, &zero);
	__u32 l3_off = meta & 0xff, l4_off = (meta >> 8) & 0xff;
	bool ingress = meta >> 16;
	__u32 off = l4_off, avail = ip_len - (l4_off - l3_off); /* the ICMP message, not padding */
	bool full;

	if (!sc || l4_off < l3_off || avail < XS_QUOTE_MIN || avail > 0xffff)
		return -1;
	struct xs_icmp_quote *qp = &sc->q, *np = &sc->n;
#define q (*qp)
#define n (*np)
	full = avail >= XS_QUOTE_MAX;
	if (full ? bpf_skb_load_bytes(skb, off, &q, XS_QUOTE_MAX) : bpf_skb_load_bytes(skb, off, &q, XS_QUOTE_MIN))
		return -1;
	if (q.icmp.type != ICMP_DEST_UNREACH && q.icmp.type != XS_ICMP_TIME_EXCEEDED &&
	    q.icmp.type != XS_ICMP_PARAMETERPROB)
		return -1;
	if (q.ip.version != 4 || q.ip.ihl != 5 || q.ip.frag_off & bpf_htons(XS_IP_OFFSET) ||
	    (q.ip.protocol != IPPROTO_TCP && q.ip.protocol != IPPROTO_UDP))
		return -1;
	struct xs_ct_key k = {
		.saddr = q.ip.daddr,
		.daddr = q.ip.saddr,
		.sport = q.dport,
		.dport = q.sport,
		.proto = q.ip.protocol,
		.dir = XS_CT_REV,
	};
	struct xs_ct_value *ct = xs_ct_find(&k);
	bool to_client = ct;

	if (!ct) {
		k.dir = XS_CT_FWD;
		ct = xs_ct_find(&k);
		if (!ct)
			return -1;
	}
	bool udp = q.ip.protocol == IPPROTO_UDP;
	__be32 nsrc = osrc, ndst = odst;
	__be32 qsrc = q.ip.saddr, qdst = q.ip.daddr, nqsrc = qsrc, nqdst = qdst;
	__be16 qsport = q.sport, qdport = q.dport, nqsport = qsport, nqdport = qdport;

	/* The outer header as kernel NAT leaves it (nf_nat_icmp_reply_translation):
	 * the flow's own translation of the direction the error travels, so
	 * that it comes from the frontend to the client, and from the SNAT
	 * address (if any) to the backend, whoever sent it. */
	if (to_client) {
		/* quoted: client (or SNAT, hairpin source) -> backend */
		nqdst = ct->nat_addr, nqdport = ct->nat_port;
		nsrc = ct->nat_addr;
		if (ct->snat_addr) {
			nqsrc = ct->snat_addr, nqsport = ct->snat_port;
			ndst = ct->snat_addr;
		}
	} else {
		/* quoted: VIP -> client, a reply */
		nqsrc = ct->nat_addr, nqsport = ct->nat_port;
		ndst = ct->nat_addr;
		if (ct->snat_addr) {
			nqdst = ct->snat_addr, nqdport = ct->snat_port;
			nsrc = ct->snat_addr;
		}
	}
	n = q;
	n.ip.saddr = nqsrc;
	n.ip.daddr = nqdst;
	n.sport = nqsport;
	n.dport = nqdport;
	csum_replace4(&n.ip.check, qsrc, nqsrc);
	csum_replace4(&n.ip.check, qdst, nqdst);
	if (udp)
		xs_quote_l4((__u16 *)&n.rest[2], true, &q, &n);
	else if (full)
		xs_quote_l4((__u16 *)&n.rest[12], false, &q, &n);

	/* The quote, and the ICMP checksum by the difference (no pseudo-header;
	 * it also keeps a CHECKSUM_COMPLETE skb->csum right). */
	__u32 ip_off = off + sizeof(struct icmphdr);
	__s64 diff = full ? bpf_csum_diff((__be32 *)&q.ip, XS_QUOTE_MAX - sizeof(struct icmphdr), (__be32 *)&n.ip,
					  XS_QUOTE_MAX - sizeof(struct icmphdr), 0)
			  : bpf_csum_diff((__be32 *)&q.ip, XS_QUOTE_MIN - sizeof(struct icmphdr), (__be32 *)&n.ip,
					  XS_QUOTE_MIN - sizeof(struct icmphdr), 0);
	if (diff < 0)
		return TC_ACT_OK;
	if (full ? bpf_skb_store_bytes(skb, ip_off, &n.ip, XS_QUOTE_MAX - sizeof(struct icmphdr), 0)
		 : bpf_skb_store_bytes(skb, ip_off, &n.ip, XS_QUOTE_MIN - sizeof(struct icmphdr), 0))
		return TC_ACT_SHOT;
	bpf_l4_csum_replace(skb, off + offsetof(struct icmphdr, checksum), 0, (__u32)diff, 0);
	if (nsrc != osrc) {
		bpf_l3_csum_replace(skb, l3_off + offsetof(struct iphdr, check), osrc, nsrc, 4);
		bpf_skb_store_bytes(skb, l3_off + offsetof(struct iphdr, saddr), &nsrc, 4, 0);
	}
	if (ndst != odst) {
		bpf_l3_csum_replace(skb, l3_off + offsetof(struct iphdr, check), odst, ndst, 4);
		bpf_skb_store_bytes(skb, l3_off + offsetof(struct iphdr, daddr), &ndst, 4, 0);
	}
	xs_count(icmp_nat);
	return ingress ? XS_DELIVER(false, true) : TC_ACT_OK;
#undef q
#undef n
}

enum xs_hook { XS_HOOK_EGRESS, XS_HOOK_INGRESS, XS_HOOK_POD };

/* Rewrite the IPv4 source or destination address old (a later fragment:
 * no L4 header to update). */
static __always_inline void xs_skb_ipnat(struct __sk_buff *skb, __u32 l3_off, bool src, __be32 old, __be32 addr)
{
	if (old == addr)
		return;
	bpf_l3_csum_replace(skb, l3_off + offsetof(struct iphdr, check), old, addr, 4);
	bpf_skb_store_bytes(skb, l3_off + (src ? offsetof(struct iphdr, saddr) : offsetof(struct iphdr, daddr)),
			    &addr, 4, 0);
}

/*
 * A later fragment (no L4 header) of a datagram whose first fragment was
 * translated gets the same addresses (xs_frags), as a reply (its reverse
 * entry) or a request (its forward one), and goes where its first went;
 * any other passes untouched, counted. A global function (verified once):
 * meta = the IPv4 header's offset | hook << 8; idproto = IP id | proto << 16.
 */
__noinline int xs_tc_frag(struct __sk_buff *skb, __u32 meta, __be32 osrc, __be32 odst, __u32 idproto)
{
	__u32 l3_off = meta & 0xff, hook = (meta >> 8) & 0xff;
	struct xs_frag_key fk = { .saddr = osrc, .daddr = odst, .id = (__be16)(idproto & 0xffff),
				  .proto = (__u8)(idproto >> 16) };
	struct xs_ct_value *ct = xs_frag_ct_key(&fk, XS_CT_REV);
	bool reply = ct;
	__be32 saddr, daddr;
	__u8 flags;

	if (!ct)
		ct = xs_frag_ct_key(&fk, XS_CT_FWD);
	if (!ct) {
		xs_count(pass_fragment);
		xs_count(frag_unknown);
		return TC_ACT_OK;
	}
	flags = ct->flags;
	saddr = reply ? ct->nat_addr : ct->snat_addr ?: osrc;
	daddr = reply ? ct->snat_addr ?: odst : ct->nat_addr;
	xs_skb_ipnat(skb, l3_off, true, osrc, saddr);
	xs_skb_ipnat(skb, l3_off, false, odst, daddr);
	xs_count(frag_nat);
	if (hook == XS_HOOK_POD && flags & XS_CT_F_HAIRPIN)
		return xs_bounce(skb);
	if (hook == XS_HOOK_EGRESS)
		return reply ? TC_ACT_OK : XS_DELIVER(false, false);
	return XS_DELIVER(flags & XS_CT_F_SNAT, true);
}

/* Parse; an ICMP error about a translated flow (xs_icmp_nat) and a later
 * fragment (xs_tc_frag) are settled here, *verdict saying how. */
static __always_inline int xs_tc_parse(struct __sk_buff *skb, struct xs_pkt *p, enum xs_hook hook, int *verdict)
{
	int rc = xs_skb_parse(skb, p);

	*verdict = TC_ACT_OK;
	if (rc == XS_PARSE_NOT_L4 && p->proto == IPPROTO_ICMP) {
		int v = xs_icmp_nat(skb, p->l3_off | p->l4_off << 8 | (hook != XS_HOOK_EGRESS) << 16, p->ip_len,
				    p->iph->saddr, p->iph->daddr);

		if (v >= 0)
			*verdict = v;
	} else if (rc == XS_PARSE_FRAGMENT) {
		*verdict = xs_tc_frag(skb, p->l3_off | hook << 8, p->iph->saddr, p->iph->daddr,
				      p->iph->id | (__u32)p->proto << 16);
	}
	if (*verdict >= 1000)
		*verdict = xs_deliver(skb, *verdict & 2, *verdict & 1);
	return rc;
}

SEC("tc")
int xs_tc_egress(struct __sk_buff *skb)
{
	struct xs_svc_value *sv;
	struct xs_fwd f;
	struct xs_pkt p;
	int v;

	if (xs_tc_parse(skb, &p, XS_HOOK_EGRESS, &v) != XS_PARSE_OK)
		return v;
	int rc = xs_reply_nat(skb, &p);

	if (rc != -1)
		return rc == -2 ? TC_ACT_SHOT : TC_ACT_OK;
	bool no_port;

	sv = xs_svc_find(&p, &no_port);
	if (!sv)
		return no_port ? xs_reject_skb(skb, &p, BPF_F_INGRESS) : TC_ACT_OK;

	/* The node itself talks to a frontend; a Local external address
	 * sends it to every endpoint, as kube-proxy does. */
	const struct xs_config *cfg = xs_config_get();

	if (!cfg)
		return TC_ACT_OK;
	sv = xs_internal_view(&p, sv);
	switch (xs_forward(skb, &p, sv, cfg, XS_CT_F_LOCAL, 0, 0, &f)) {
	case XS_FWD_OK:
		break;
	case XS_FWD_NO_BACKEND:
		/* Refused, as kube-proxy's REJECT refuses the node's own
		 * connection: the answer comes back in through this device. */
		return sv->flags & XS_SVC_F_NO_REJECT ? TC_ACT_SHOT : xs_reject_skb(skb, &p, BPF_F_INGRESS);
	default:
		return TC_ACT_SHOT;
	}
	xs_skb_nat(skb, &p, false, f.addr, f.port);
	if (f.saddr) { /* another source port: a NAT clash */
		if (xs_skb_parse(skb, &p) != XS_PARSE_OK)
			return TC_ACT_SHOT;
		xs_skb_nat(skb, &p, true, f.saddr, f.sport);
	}
	xs_count(local_dnat);
	xs_count(hit);
	/* The route to the VIP need not be the route to the backend (a pod's
	 * veth, another node): looked up again, as if the packet came in on
	 * this device (an output lookup would be bound to it). */
	return xs_deliver(skb, false, false);
}

/*
 * The NIC's ingress, on the skb path. In tc mode (a veth NIC, a driver
 * without XDP: no XDP program) it translates what XDP would — a client's
 * packet to a frontend, its reject, SNAT — with the skb checksum helpers,
 * which are right for partial checksums too, and sends it on (xs_deliver).
 * In XDP mode the requests arrive translated already and pass. Either way:
 * replies of flows translated on the way out (the node's, pods', SNAT
 * ones), sent on past the stack; and SNAT packets XDP left to the stack.
 */
SEC("tc")
int xs_tc_ingress(struct __sk_buff *skb)
{
	const struct xs_config *cfg;
	struct xs_svc_value *sv;
	struct xs_fwd f;
	struct xs_pkt p;
	int rc, v;

	if (xs_tc_parse(skb, &p, XS_HOOK_INGRESS, &v) != XS_PARSE_OK)
		return v;
	rc = xs_reply_nat(skb, &p);
	if (rc == -2)
		return TC_ACT_SHOT;
	/* A reply to a pod here or a client elsewhere goes straight on: its
	 * new source may be the node's own address (a NodePort), which the
	 * stack would take for a martian. To the node itself: the stack. */
	if (rc >= 0)
		return xs_deliver(skb, rc & XS_CT_F_SNAT, true);
	cfg = xs_config_get();
	if (!cfg)
		return TC_ACT_OK;
	bool no_port;

	sv = xs_svc_find(&p, &no_port);
	if (no_port)
		return xs_reject_skb(skb, &p, 0);
	if (sv) {
		if (!xs_src_allowed(&p, sv))
			return TC_ACT_SHOT;
		switch (xs_forward(skb, &p, sv, cfg, 0, 0, skb->ifindex, &f)) {
		case XS_FWD_OK:
			break;
		case XS_FWD_NO_BACKEND:
			return sv->flags & XS_SVC_F_NO_REJECT ? TC_ACT_SHOT : xs_reject_skb(skb, &p, 0);
		default:
			return TC_ACT_SHOT;
		}
		xs_skb_nat(skb, &p, false, f.addr, f.port);
		if (f.saddr) {
			if (xs_skb_parse(skb, &p) != XS_PARSE_OK)
				return TC_ACT_SHOT;
			xs_skb_nat(skb, &p, true, f.saddr, f.sport);
		}
		xs_count(hit);
		/* SNAT: the node's own address as source, which the stack drops */
		bool snat = f.flags & XS_CT_F_SNAT;

		if (cfg->flags & XS_CFG_NO_FAST_PATH && !snat) {
			xs_count(to_stack);
			return TC_ACT_OK;
		}
		return xs_deliver(skb, snat, true);
	}
	/* A packet that comes in with the SNAT address as source was
	 * translated by XDP (--no-fast-path, or no neighbour yet), if its
	 * flow says so: the stack would drop it. */
	if (!cfg->snat_addr || p.iph->saddr != cfg->snat_addr)
		return TC_ACT_OK;
	struct xs_ct_key rk = {
		.saddr = p.iph->daddr,
		.daddr = p.iph->saddr,
		.sport = *p.dport_p,
		.dport = *p.sport_p,
		.proto = p.proto,
		.dir = XS_CT_REV,
	};
	struct xs_ct_value *ct = xs_ct_find(&rk);

	if (!ct || !(ct->flags & XS_CT_F_SNAT))
		return TC_ACT_OK;
	return xs_deliver(skb, true, true);
}

/*
 * Ingress of a pod's veth on the node side: what the pod sends.
 *  - A reply of a backend pod to a translated flow (a client outside, the
 *    node, another pod) gets the frontend back as its source; the stack
 *    routes it on.
 *  - A packet of the pod to a frontend is translated as on the NIC (same
 *    lookup, conntrack, affinity, source ranges; ClusterIPs with their
 *    internal traffic policy) and the stack routes it: to a pod's veth on
 *    this node, or out of the NIC to the backend's node.
 *  - Hairpin: when the backend is the pod itself, its source becomes
 *    xs_config.hairpin_addr, an address that is not the pod's, so the
 *    pod's stack answers the flow back through this veth instead of to
 *    itself; the reply gets the frontend as source and the pod as
 *    destination back. Both directions go straight back into the veth.
 * A frontend without endpoints is rejected as on the NIC, back into the
 * veth; a Local policy without a local endpoint drops.
 */
SEC("tc")
int xs_tc_pod(struct __sk_buff *skb)
{
	const struct xs_config *cfg;
	struct xs_svc_value *sv;
	struct xs_fwd f;
	struct xs_pkt p;
	int rc, v;

	if (xs_tc_parse(skb, &p, XS_HOOK_POD, &v) != XS_PARSE_OK)
		return v;
	rc = xs_reply_nat(skb, &p);
	if (rc == -2)
		return TC_ACT_SHOT;
	/* A reply goes straight on too: a NodePort's source is the node's
	 * own address, which the stack would take for a martian. */
	if (rc >= 0)
		return rc & XS_CT_F_HAIRPIN ? xs_bounce(skb) : xs_deliver(skb, false, true);
	bool no_port;

	sv = xs_svc_find(&p, &no_port);
	if (!sv)
		return no_port ? xs_reject_skb(skb, &p, 0) : TC_ACT_OK;
	cfg = xs_config_get();
	if (!cfg)
		return TC_ACT_OK;
	if (!xs_src_allowed(&p, sv))
		return TC_ACT_SHOT;
	sv = xs_internal_view(&p, sv);
	switch (xs_forward(skb, &p, sv, cfg, 0, cfg->hairpin_addr, 0, &f)) {
	case XS_FWD_OK:
		break;
	case XS_FWD_NO_BACKEND:
		return sv->flags & XS_SVC_F_NO_REJECT ? TC_ACT_SHOT : xs_reject_skb(skb, &p, 0);
	default:
		return TC_ACT_SHOT;
	}
	xs_skb_nat(skb, &p, false, f.addr, f.port);
	xs_count(pod_dnat);
	xs_count(hit);
	if (!f.saddr)
		return xs_deliver(skb, false, true);
	if (xs_skb_parse(skb, &p) != XS_PARSE_OK)
		return TC_ACT_SHOT;
	xs_skb_nat(skb, &p, true, f.saddr, f.sport);
	if (!(f.flags & XS_CT_F_HAIRPIN)) /* another source port: a NAT clash */
		return xs_deliver(skb, false, true);
	xs_count(hairpin);
	return xs_bounce(skb);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
