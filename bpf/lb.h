/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Service lookup, backend choice and conntrack, shared by XDP and tc. */
#ifndef XS_LB_H
#define XS_LB_H

#include "maps.h"
#include <stdbool.h>
#include <linux/errno.h>
#include "parse.h"

/* last_seen is refreshed at most this often, so an established flow does not
 * dirty its conntrack entry's cache line on every packet. */
#define XS_CT_REFRESH_NS 1000000000ULL

#define xs_count(field)                                                   \
	({                                                                    \
		__u32 zero_ = 0;                                              \
		struct xs_global_stats *gs_ = bpf_map_lookup_elem(&xs_global_stats, &zero_); \
		if (gs_)                                                      \
			gs_->field++;                                         \
	})

static __always_inline void xs_count_parse(int rc)
{
	switch (rc) {
	case XS_PARSE_NOT_IPV4: xs_count(pass_not_ipv4); break;
	case XS_PARSE_NOT_L4: xs_count(pass_not_l4); break;
	case XS_PARSE_FRAGMENT: xs_count(pass_fragment); break;
	default: xs_count(pass_malformed); break;
	}
}

/*
 * The frontend p is addressed to, or NULL. *no_port (may be NULL): p is
 * addressed to a ClusterIP on a port no frontend has, which kube-proxy's
 * nftables mode rejects.
 */
static __always_inline struct xs_svc_value *xs_svc_find(const struct xs_pkt *p, bool *no_port)
{
	__u32 bit = xs_vip_bit(p->iph->daddr), word = bit >> 6;
	__u64 *bits = bpf_map_lookup_elem(&xs_vip_bits, &word);
	struct xs_svc_value *sv;

	if (no_port)
		*no_port = false;
	/* Most traffic is not for a frontend: settle it without hashing. */
	if (!bits || !(*bits & (1ULL << (bit & 63))))
		return 0;
	struct xs_svc_key k = {
		.vip = p->iph->daddr,
		.port = bpf_ntohs(*p->dport_p),
		.proto = p->proto,
	};
	sv = bpf_map_lookup_elem(&xs_services, &k);
	if (!sv && no_port && bpf_map_lookup_elem(&xs_cluster_ips, &p->iph->daddr)) {
		*no_port = true;
		xs_count(no_port);
	}
	return sv;
}


/* A conntrack entry: an assured flow's (XS_CT_F_ASSURED), else a new
 * one's; NULL: none. */
static __always_inline struct xs_ct_value *xs_ct_find(const struct xs_ct_key *k)
{
	struct xs_ct_value *v = bpf_map_lookup_elem(&xs_ct_assured, k);

	return v ?: bpf_map_lookup_elem(&xs_conntrack, k);
}

/* The first fragment of a datagram was translated: remember its ports for
 * the later ones (keyed as the packet came, before its translation). */
static __always_inline void xs_frag_record(const struct xs_pkt *p)
{
	if (p->frag != XS_FRAG_FIRST)
		return;
	struct xs_frag_key k = { .saddr = p->iph->saddr, .daddr = p->iph->daddr, .id = p->iph->id,
				 .proto = p->proto };
	struct xs_frag_value v = { .sport = *p->sport_p, .dport = *p->dport_p, .seen = bpf_ktime_get_ns() };

	bpf_map_update_elem(&xs_frags, &k, &v, BPF_ANY);
}

/*
 * The conntrack entry a later fragment belongs to, in direction dir (FWD:
 * a request, REV: a reply), from the ports its first fragment had; NULL
 * when the first was not translated here, or too long ago.
 */
static __always_inline struct xs_ct_value *xs_frag_ct_key(const struct xs_frag_key *k, __u8 dir)
{
	struct xs_frag_value *v = bpf_map_lookup_elem(&xs_frags, k);

	if (!v || bpf_ktime_get_ns() - v->seen > XS_FRAG_TIMEOUT_S * 1000000000ULL)
		return 0;
	struct xs_ct_key ck = { .saddr = k->saddr, .daddr = k->daddr, .sport = v->sport, .dport = v->dport,
				.proto = k->proto, .dir = dir };

	return xs_ct_find(&ck);
}

static __always_inline struct xs_ct_value *xs_frag_ct(const struct xs_pkt *p, __u8 dir)
{
	struct xs_frag_key k = { .saddr = p->iph->saddr, .daddr = p->iph->daddr, .id = p->iph->id,
				 .proto = p->proto };

	return xs_frag_ct_key(&k, dir);
}

enum xs_fwd_rc {
	XS_FWD_OK = 0,
	XS_FWD_NO_BACKEND,
	XS_FWD_CT_FULL,
};

static __always_inline __u64 xs_ct_timeout(__u8 proto, const struct xs_ct_value *ct,
					   const struct xs_config *cfg)
{
	if (proto != IPPROTO_TCP && ct->flags & XS_CT_F_REPLIED)
		return cfg->ct_udp_stream_timeout_ns ?: XS_CT_UDP_STREAM_TIMEOUT_S * 1000000000ULL;
	if (proto != IPPROTO_TCP)
		return cfg->ct_udp_timeout_ns ?: XS_CT_UDP_TIMEOUT_S * 1000000000ULL;
	if (ct->flags & XS_CT_F_CLOSING)
		return cfg->ct_tcp_close_timeout_ns ?: XS_CT_TCP_CLOSE_TIMEOUT_S * 1000000000ULL;
	return cfg->ct_tcp_timeout_ns ?: XS_CT_TCP_TIMEOUT_S * 1000000000ULL;
}

/* The settings given at attach; the one entry always exists. */
static __always_inline const struct xs_config *xs_config_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&xs_config, &zero);
}

/*
 * The backend for a new flow: with ClientIP affinity the client's recorded
 * one while it is fresh and still in its slot (a backend that left the
 * Service ends its affinity), else a uniformly random slot of the live
 * generation, then recorded for the client.
 */
static __always_inline struct xs_backend *xs_select(const struct xs_pkt *p, const struct xs_svc_value *sv,
						    __u64 now, __u32 *id_out)
{
	struct xs_aff_key ak = { .group = sv->affinity_group, .client = p->iph->saddr };
	struct xs_slot_key sk = { .svc_id = sv->svc_id, .gen = sv->gen };
	struct xs_aff_value *av = 0;
	__u32 *id;

	if (sv->flags & XS_SVC_F_AFFINITY) {
		av = bpf_map_lookup_elem(&xs_affinity, &ak);
		if (av && now - av->last_seen <= (__u64)sv->affinity_s * 1000000000ULL && av->index < sv->count) {
			sk.index = av->index;
			id = bpf_map_lookup_elem(&xs_slots, &sk);
			if (id && *id == av->backend_id) {
				av->last_seen = now;
				*id_out = *id;
				return bpf_map_lookup_elem(&xs_backends, id);
			}
		}
	}
	sk.index = bpf_get_prandom_u32() % sv->count;
	id = bpf_map_lookup_elem(&xs_slots, &sk);
	if (!id)
		return 0;
	*id_out = *id;
	if (sv->flags & XS_SVC_F_AFFINITY) {
		struct xs_aff_value nv = { .backend_id = *id, .index = sk.index, .last_seen = now };

		bpf_map_update_elem(&xs_affinity, &ak, &nv, BPF_ANY);
	}
	return bpf_map_lookup_elem(&xs_backends, id);
}

/* loadBalancerSourceRanges: may this source reach this frontend? */
static __always_inline bool xs_src_allowed(const struct xs_pkt *p, const struct xs_svc_value *sv)
{
	struct xs_src_key sk = { .prefixlen = 64, .svc_id = bpf_htonl(sv->svc_id), .addr = p->iph->saddr };

	if (!(sv->flags & XS_SVC_F_SRC_RANGES) || bpf_map_lookup_elem(&xs_src_ranges, &sk))
		return true;
	xs_count(drop_src_range);
	return false;
}

#ifndef AF_INET
#define AF_INET 2
#endif

/* Where a translated packet goes: the backend, and the new source when the
 * source is rewritten too (hairpin, SNAT); saddr 0: the source stays. */
struct xs_fwd {
	__be32 addr;
	__be32 saddr;
	__be16 port;
	__be16 sport;
	__u8 flags;       /* the flow's XS_CT_F_* */
};

/* Is addr reached back out of ifindex, the device the packet came in on
 * (a backend on another node)? ctx: the program's context, for the FIB. */
static __always_inline bool xs_behind(void *ctx, const struct xs_pkt *p, __be32 addr, __u32 ifindex)
{
	struct bpf_fib_lookup fib = {
		.family = AF_INET,
		.tos = p->iph->tos,
		.l4_protocol = p->proto,
		.tot_len = 0, /* where, not whether it fits: no MTU check */
		.ifindex = ifindex,
		.ipv4_src = p->iph->saddr,
		.ipv4_dst = addr,
	};
	long rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);

	return (rc == BPF_FIB_LKUP_RET_SUCCESS || rc == BPF_FIB_LKUP_RET_NO_NEIGH) && fib.ifindex == ifindex;
}

/* Is addr inside the cluster CIDR (attach --cluster-cidr)? */
static __always_inline bool xs_in_cluster(const struct xs_config *cfg, __be32 addr)
{
	for (int i = 0; i < XS_MAX_CLUSTER_CIDRS; i++) {
		if ((__u32)i >= cfg->n_cluster_cidrs)
			break;
		if ((addr & cfg->cluster_cidrs[i].mask) == cfg->cluster_cidrs[i].addr)
			return true;
	}
	return false;
}

/*
 * Does a new flow of this frontend from outside get SNATed when its backend
 * is on another node (kube-proxy's masquerade rules)? External addresses
 * under externalTrafficPolicy Cluster (XS_SVC_F_SNAT); a ClusterIP when its
 * client is outside the cluster CIDR; everything with --masquerade-all.
 */
static __always_inline bool xs_wants_snat(const struct xs_pkt *p, const struct xs_svc_value *sv,
					  const struct xs_config *cfg)
{
	if (sv->flags & XS_SVC_F_SNAT || cfg->flags & XS_CFG_MASQ_ALL)
		return true;
	return sv->flags & XS_SVC_F_CLUSTER && cfg->n_cluster_cidrs && !xs_in_cluster(cfg, p->iph->saddr);
}

/*
 * The frontend a pod's or the node's packet is balanced by: a Local
 * external address sends them to the cluster-wide endpoints, those of the
 * Service port's ClusterIP (kube-proxy's short-circuit: "ESIPP should work
 * from pods"); anything else is its own.
 */
static __always_inline struct xs_svc_value *xs_internal_view(const struct xs_pkt *p, struct xs_svc_value *sv)
{
	if (!(sv->flags & XS_SVC_F_EXT_LOCAL) || !sv->cluster_vip)
		return sv;
	struct xs_svc_key k = { .vip = sv->cluster_vip, .port = sv->cluster_port, .proto = p->proto };
	struct xs_svc_value *cv = bpf_map_lookup_elem(&xs_services, &k);

	if (!cv)
		return sv;
	xs_count(ext_local_cluster);
	return cv;
}

/*
 * Write a conntrack entry; exists: whether the lookup just made found its
 * key. A new key counts in ct_created, a rewrite does not, so that
 * `xdpsvc list` can tell evictions from entries in use. The flag makes the
 * kernel check under the bucket lock: if another CPU inserted the key, or it
 * was evicted or flushed, since the lookup, the other way is tried once (a
 * second race fails like a full table). Not BPF_NOEXIST first for every
 * key: on a full LRU map a refused insert still evicts an entry. The FWD
 * key's exists comes from its lookup; a new flow's REV key is guessed new
 * (it exists only when a client port is reused), sparing a lookup.
 */
static __always_inline long xs_ct_put(const struct xs_ct_key *k, const struct xs_ct_value *v, bool exists)
{
	long rc = bpf_map_update_elem(&xs_conntrack, k, v, exists ? BPF_EXIST : BPF_NOEXIST);


	if (rc == -EEXIST || rc == -ENOENT) {
		exists = !exists;
		rc = bpf_map_update_elem(&xs_conntrack, k, v, exists ? BPF_EXIST : BPF_NOEXIST);
	}
	if (!rc && !exists)
		xs_count(ct_created);
	return rc;
}

/* Does the SNAT port of this REV entry still belong to a live flow? Its FWD
 * entry tells (a REV entry is refreshed by replies only, and outlives the
 * connection's close). */
static __always_inline bool xs_snat_in_use(const struct xs_config *cfg, const struct xs_ct_key *rk,
					   const struct xs_ct_value *rv, __u64 now)
{
	struct xs_ct_key fk = {
		.saddr = rv->snat_addr,
		.daddr = rv->nat_addr,
		.sport = rv->snat_port,
		.dport = rv->nat_port,
		.proto = rk->proto,
		.dir = XS_CT_FWD,
	};
	struct xs_ct_value *fv = xs_ct_find(&fk);

	return fv && fv->nat_addr == rk->saddr && fv->snat_port == rk->dport &&
	       now - fv->last_seen <= xs_ct_timeout(rk->proto, fv, cfg);
}

/*
 * A new flow client -> VIP:port to a backend found this reverse entry at
 * its reply tuple: does it belong to another live flow (the same client
 * port through another frontend)? Its own frontend's entry is this flow's,
 * reused.
 */
static __always_inline bool xs_rev_clash(const struct xs_config *cfg, const struct xs_ct_key *rk,
					 const struct xs_ct_value *rv, const struct xs_ct_value *old, __u64 now)
{
	if (old->nat_addr == rv->nat_addr && old->nat_port == rv->nat_port)
		return false;
	struct xs_ct_key fk = {
		.saddr = old->snat_addr ?: rk->daddr,
		.daddr = old->nat_addr,
		.sport = old->snat_addr ? old->snat_port : rk->dport,
		.dport = old->nat_port,
		.proto = rk->proto,
		.dir = XS_CT_FWD,
	};
	struct xs_ct_value *fv = xs_ct_find(&fk);

	return fv && fv->nat_addr == rk->saddr && fv->nat_port == rk->sport &&
	       now - fv->last_seen <= xs_ct_timeout(rk->proto, fv, cfg);
}

/*
 * Record the REV entry of a SNAT flow on a free port of the range: a random
 * one, XS_SNAT_TRIES times; rk->dport receives it. A port is free when no
 * REV entry holds it for this backend, or its flow is gone. 0 or -1.
 */
static __always_inline int xs_snat_claim(const struct xs_config *cfg, struct xs_ct_key *rk,
					 const struct xs_ct_value *rv, __u64 now)
{
	__u32 min = cfg->snat_port_min, n = (__u32)cfg->snat_port_max - min + 1;

	if (!min || cfg->snat_port_max < min)
		return -1;
	for (int i = 0; i < XS_SNAT_TRIES; i++) {
		rk->dport = bpf_htons(min + bpf_get_prandom_u32() % n);
		struct xs_ct_value *old = xs_ct_find(rk);

		if (old && xs_snat_in_use(cfg, rk, old, now))
			continue;
		if (old && old->flags & XS_CT_F_ASSURED) { /* a dead flow's: back to the new flows */
			bpf_map_delete_elem(&xs_ct_assured, rk);
			if (!bpf_map_update_elem(&xs_conntrack, rk, rv, BPF_ANY))
				return 0;
			continue;
		}
		if (!xs_ct_put(rk, rv, old))
			return 0;
	}
	return -1;
}

/*
 * Record a new flow's reverse entry rk -> rv (rv->last_seen: now). SNAT
 * (XS_CT_F_SNAT in rv): on a free port of the range (rk->dport receives
 * it). Else at its reply tuple, new but for port reuse (tried without a
 * lookup first). Taken by another live flow to the same backend — this
 * client port through another frontend — it is a NAT clash, which the
 * kernel resolves by giving this flow another source port: so does this
 * (rv becomes XS_CT_F_PORTMAP, rk->dport the port). 0, 1 (another port),
 * or -1 (dropped, counted). A global function: verified once on its own.
 */
__noinline int xs_rev_put(struct xs_ct_key *rk, struct xs_ct_value *rv, const struct xs_config *cfg)
{
	if (!rk || !rv || !cfg)
		return -1;
	__u64 now = rv->last_seen;

	if (rv->flags & XS_CT_F_SNAT) {
		if (xs_snat_claim(cfg, rk, rv, now)) {
			xs_count(drop_snat);
			return -1;
		}
		xs_count(snat);
		return 0;
	}
	struct xs_ct_value *aold = bpf_map_lookup_elem(&xs_ct_assured, rk);
	long rc = aold ? -EEXIST : bpf_map_update_elem(&xs_conntrack, rk, rv, BPF_NOEXIST);

	if (!rc) {
		xs_count(ct_created);
		return 0;
	}
	if (rc == -EEXIST) {
		struct xs_ct_value *old = aold ?: bpf_map_lookup_elem(&xs_conntrack, rk);

		if (old && xs_rev_clash(cfg, rk, rv, old, now)) {
			rv->flags |= XS_CT_F_PORTMAP;
			rv->snat_addr = rk->daddr;
			rv->snat_port = rk->dport;
			if (xs_snat_claim(cfg, rk, rv, now)) {
				xs_count(drop_snat);
				return -1;
			}
			xs_count(nat_clash);
			return 1;
		}
		if (aold) { /* a dead flow's: moved back to the new flows, not a new key */
			bpf_map_delete_elem(&xs_ct_assured, rk);
			if (!bpf_map_update_elem(&xs_conntrack, rk, rv, BPF_ANY))
				return 0;
		} else if (!xs_ct_put(rk, rv, true)) {
			return 0;
		}
	}
	xs_count(drop_ct_full);
	return -1;
}

/*
 * Move an unassured flow (its forward entry fk, ct) to xs_ct_assured, its
 * reverse entry first, then delete both from xs_conntrack; counted in
 * ct_assured. When xs_ct_assured is full its LRU gives up its least
 * recently used assured flow: the only way an assured flow is evicted. A
 * global function (verified once, its stack its own); 1 when moved.
 */
__noinline int xs_ct_assure(const struct xs_ct_key *fk, struct xs_ct_value *ct)
{
	if (!fk || !ct)
		return 0;
	struct xs_ct_key rk = {
		.saddr = ct->nat_addr,
		.daddr = ct->snat_addr ?: fk->saddr,
		.sport = ct->nat_port,
		.dport = ct->snat_addr ? ct->snat_port : fk->sport,
		.proto = fk->proto,
		.dir = XS_CT_REV,
	};
	struct xs_ct_value *rvp = bpf_map_lookup_elem(&xs_conntrack, &rk);
	struct xs_ct_value fv = *ct, rv;

	if (!rvp)
		return 0;
	rv = *rvp;
	rv.flags |= XS_CT_F_ASSURED;
	fv.flags |= XS_CT_F_ASSURED;
	if (bpf_map_update_elem(&xs_ct_assured, &rk, &rv, BPF_ANY) ||
	    bpf_map_update_elem(&xs_ct_assured, fk, &fv, BPF_ANY))
		return 0;
	bpf_map_delete_elem(&xs_conntrack, fk);
	bpf_map_delete_elem(&xs_conntrack, &rk);
	xs_count(ct_assured);
	return 1;
}

/*
 * The backend of this client->VIP flow: the one in conntrack while it is
 * still a backend at the same address, else a new random pick, recorded in
 * both directions. Fails closed: no conntrack entry, no translation.
 * f receives the backend and the new source, if any (network order):
 *  - hairpin_addr (0: none): when a new flow's backend is the client
 *    itself, the source becomes hairpin_addr (same port);
 *  - snat_ifindex (0: none): a new flow of an XS_SVC_F_SNAT frontend whose
 *    backend is reached back out of that device gets xs_config.snat_addr
 *    and a free port of the range as source.
 * The reply is then expected to that source.
 */
static __always_inline int xs_forward(void *ctx, const struct xs_pkt *p, const struct xs_svc_value *sv,
				      const struct xs_config *cfg, __u8 ct_flags, __be32 hairpin_addr,
				      __u32 snat_ifindex, struct xs_fwd *f)
{
	struct xs_ct_key fk = {
		.saddr = p->iph->saddr,
		.daddr = p->iph->daddr,
		.sport = *p->sport_p,
		.dport = *p->dport_p,
		.proto = p->proto,
		.dir = XS_CT_FWD,
	};
	__u64 now = bpf_ktime_get_ns();
	struct xs_ct_value *ct = xs_ct_find(&fk);
	/* What a new flow's forward entry meets: an entry in xs_conntrack (where
	 * it goes), or a dead one in xs_ct_assured (to delete). */
	__u8 was = ct ? (ct->flags & XS_CT_F_ASSURED ? 2 : 1) : 0;
	struct xs_svc_stats *ss = bpf_map_lookup_elem(&xs_svc_stats, &sv->svc_id);
	struct xs_backend *be;
	__u32 be_id = 0;

	f->saddr = 0;
	f->sport = 0;
	if (ss) {
		ss->packets++;
		ss->bytes += p->ip_len;
	}
	/* A SYN on a closing entry is a new connection reusing the ports. */
	if (ct && p->tcp_flags & XS_TCP_SYN && !(p->tcp_flags & XS_TCP_ACK) && ct->flags & XS_CT_F_CLOSING)
		ct = 0;
	if (ct && now - ct->last_seen > xs_ct_timeout(p->proto, ct, cfg)) {
		xs_count(ct_expired);
		ct = 0;
	}
	if (ct) {
		be = bpf_map_lookup_elem(&xs_backends, &ct->backend_id);
		bool alive = be && be->addr == ct->nat_addr && bpf_htons(be->port) == ct->nat_port;

		/* A removed backend: UDP moves to a live one. A TCP stream is
		 * not moved mid-way: like kube-proxy (kernel conntrack), it
		 * stays on the address it was translated to until it closes
		 * or idles out; a SYN picks a live backend. */
		if (alive || (p->proto == IPPROTO_TCP && !(p->tcp_flags & XS_TCP_SYN))) {
			if (!alive)
				xs_count(tcp_backend_gone);
			if (now - ct->last_seen > XS_CT_REFRESH_NS)
				ct->last_seen = now;
			if (p->tcp_flags & (XS_TCP_FIN | XS_TCP_RST) && !(ct->flags & XS_CT_F_CLOSING))
				ct->flags |= XS_CT_F_CLOSING;
			f->addr = ct->nat_addr;
			f->port = ct->nat_port;
			f->saddr = ct->snat_addr;
			f->sport = ct->snat_port;
			f->flags = ct->flags;
			xs_frag_record(p);
			/* A client packet after a reply: the flow is assured. */
			if ((ct->flags & (XS_CT_F_REPLIED | XS_CT_F_ASSURED)) == XS_CT_F_REPLIED)
				xs_ct_assure(&fk, ct);
			return XS_FWD_OK;
		}
	}
	if (was == 2) /* a stale assured entry: the new flow starts unassured */
		bpf_map_delete_elem(&xs_ct_assured, &fk);
	if (sv->count == 0 || !(be = xs_select(p, sv, now, &be_id))) {
		if (ss)
			ss->no_backend++;
		xs_count(no_backend);
		return XS_FWD_NO_BACKEND;
	}
	f->addr = be->addr;
	f->port = bpf_htons(be->port);

	if (p->tcp_flags & (XS_TCP_FIN | XS_TCP_RST))
		ct_flags |= XS_CT_F_CLOSING;
	if (hairpin_addr && f->addr == p->iph->saddr) {
		ct_flags |= XS_CT_F_HAIRPIN;
		f->saddr = hairpin_addr;
		f->sport = *p->sport_p;
	} else if (snat_ifindex && cfg->snat_addr && xs_wants_snat(p, sv, cfg) &&
		   xs_behind(ctx, p, f->addr, snat_ifindex)) {
		ct_flags |= XS_CT_F_SNAT;
		f->saddr = cfg->snat_addr;
	}
	struct xs_ct_key rk = {
		.saddr = f->addr,
		.daddr = f->saddr ?: p->iph->saddr,
		.sport = f->port,
		.dport = *p->sport_p,
		.proto = p->proto,
		.dir = XS_CT_REV,
	};
	struct xs_ct_value rv = {
		.nat_addr = p->iph->daddr,
		.nat_port = *p->dport_p,
		.flags = ct_flags,
		.backend_id = be_id,
		.svc_id = sv->svc_id,
		.last_seen = now,
		.snat_addr = f->saddr ? p->iph->saddr : 0,
		.snat_port = f->saddr ? *p->sport_p : 0,
	};
	/* Reverse first: a reply can only exist once the forward packet left. */
	int rc = xs_rev_put(&rk, &rv, cfg);

	if (rc < 0)
		return XS_FWD_CT_FULL;
	if (ct_flags & XS_CT_F_SNAT) {
		f->sport = rk.dport;
	} else if (rc == 1) { /* a NAT clash: another source port */
		ct_flags |= XS_CT_F_PORTMAP;
		f->saddr = p->iph->saddr;
		f->sport = rk.dport;
	}
	f->flags = ct_flags;
	struct xs_ct_value fv = {
		.nat_addr = f->addr,
		.nat_port = f->port,
		.flags = ct_flags,
		.backend_id = be_id,
		.svc_id = sv->svc_id,
		.last_seen = now,
		.snat_addr = f->saddr,
		.snat_port = f->sport,
	};
	/* A stale assured entry goes back to the new flows: not a new key. */
	if (was == 2 ? bpf_map_update_elem(&xs_conntrack, &fk, &fv, BPF_ANY) : xs_ct_put(&fk, &fv, was == 1)) {
		xs_count(drop_ct_full);
		return XS_FWD_CT_FULL;
	}
	if (ss)
		ss->new_flows++;
	xs_count(new_flow);
	xs_frag_record(p);
	return XS_FWD_OK;
}

/* The reverse entry of a reply leaving a backend, or NULL. */
static __always_inline struct xs_ct_value *xs_reply_lookup(const struct xs_pkt *p)
{
	struct xs_ct_key rk = {
		.saddr = p->iph->saddr,
		.daddr = p->iph->daddr,
		.sport = *p->sport_p,
		.dport = *p->dport_p,
		.proto = p->proto,
		.dir = XS_CT_REV,
	};
	struct xs_ct_value *ct = xs_ct_find(&rk);

	if (!ct)
		return 0;
	__u64 now = bpf_ktime_get_ns();

	/* A reply refreshes its flow, both entries, as conntrack does (the
	 * forward one is what expires: a server that pushes datagrams keeps
	 * its client's flow), and marks it replied. At most once a second. */
	if (now - ct->last_seen > XS_CT_REFRESH_NS || !(ct->flags & XS_CT_F_REPLIED)) {
		struct xs_ct_key fk = {
			.saddr = ct->snat_addr ?: rk.daddr,
			.daddr = ct->nat_addr,
			.sport = ct->snat_addr ? ct->snat_port : rk.dport,
			.dport = ct->nat_port,
			.proto = rk.proto,
			.dir = XS_CT_FWD,
		};
		struct xs_ct_value *fv = xs_ct_find(&fk);

		ct->last_seen = now;
		ct->flags |= XS_CT_F_REPLIED;
		/* Only the entry of this very flow (its backend is the source). */
		if (fv && fv->nat_addr == rk.saddr && fv->nat_port == rk.sport) {
			fv->last_seen = now;
			fv->flags |= XS_CT_F_REPLIED;
		}
	}
	return ct;
}

#endif
