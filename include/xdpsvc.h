/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xdpsvc: the one header that both the BPF programs and the loader compile.
 * Every map key and value, every map name and every constant shared by the
 * two sides is declared here and nowhere else.
 *
 * Byte order: fields typed __be16/__be32 are in network order (as in the
 * packet), everything else is host order. Keys and values the loader writes
 * carry their ports in host order and their addresses also as octets, so
 * that `bpftool map dump` reads naturally: "port": 80,
 * "vip_octets": [198,19,0,10].
 */
#ifndef XDPSVC_H
#define XDPSVC_H

#include <linux/types.h>

#define XS_PIN_PATH_DEFAULT "/sys/fs/bpf/xdpsvc"

/* Pinned object names under the pin directory. */
#define XS_MAP_SERVICES     "xs_services"
#define XS_MAP_SLOTS        "xs_slots"
#define XS_MAP_BACKENDS     "xs_backends"
#define XS_MAP_CT           "xs_conntrack"
#define XS_MAP_CT_ASSURED   "xs_ct_assured"
#define XS_MAP_SVC_STATS    "xs_svc_stats"
#define XS_MAP_GLOBAL_STATS "xs_global_stats"
#define XS_MAP_SVC_META     "xs_svc_meta"
#define XS_MAP_CONFIG       "xs_config"
#define XS_MAP_VIP_BITS     "xs_vip_bits"
#define XS_MAP_SRC_RANGES   "xs_src_ranges"
#define XS_MAP_DEVS         "xs_devs"
#define XS_MAP_CLUSTER_IPS  "xs_cluster_ips"
#define XS_MAP_FRAGS        "xs_frags"
#define XS_PROG_XDP         "xs_prog_xdp"
#define XS_PROG_TC_EGRESS   "xs_prog_tc_egress"
#define XS_PROG_TC_INGRESS  "xs_prog_tc_ingress"
#define XS_PROG_TC_POD      "xs_prog_tc_pod"

/* Default capacities (entries). */
#define XS_MAX_SERVICES     65536   /* frontends (VIP, port, proto); svc ids < this */
#define XS_MAX_BACKENDS     1048576 /* distinct (addr, port, proto) backends */
#define XS_MAX_SLOTS        2097152 /* (service, generation, index) -> backend: two
				     * generations of 10,000 Services x 100 endpoints */
#define XS_MAX_CT           262144  /* conntrack entries, two per flow */
#define XS_MAX_SVC_BACKENDS 65535   /* backends of one frontend (slot index is __u16) */

/* Kubernetes namespaces, Service names and Service port names are DNS
 * labels: at most 63 characters, plus the terminating NUL. */
#define XS_NAME_LEN 64
#define XS_PORT_NAME_LEN 64
/* Node names are DNS subdomains: up to 253 characters. */
#define XS_NODE_NAME_LEN 256

/* --- xs_services: frontend (VIP, port, proto) -> service. Written by the loader. */
struct xs_svc_key {
	union {
		__be32 vip;
		__u8 vip_octets[4];
	};
	__u16 port;       /* host order */
	__u8 proto;       /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};

struct xs_svc_value {
	__u32 svc_id;     /* index into xs_svc_stats / xs_svc_meta, key of xs_slots */
	__u16 count;      /* number of backends in the active generation; 0: reject or drop */
	__u8 gen;         /* active slot generation, 0 or 1 */
	__u8 flags;       /* XS_SVC_F_* */
	__u32 affinity_s; /* ClientIP session affinity: idle timeout, seconds */
	__u32 affinity_group; /* svc_id whose affinity entries this frontend shares:
			       * the Service port's ClusterIP frontend */
	/* With XS_SVC_F_EXT_LOCAL: the Service port's ClusterIP frontend
	 * (network order; 0: none), whose endpoints the pods and the node use
	 * instead of the local ones (kube-proxy's ESIPP short-circuit). */
	__be32 cluster_vip;
	__u16 cluster_port; /* host order */
	__u16 pad;
};

/* A Local traffic policy without a local endpoint drops instead of rejecting
 * (kube-proxy). */
#define XS_SVC_F_NO_REJECT 0x01
#define XS_SVC_F_AFFINITY  0x02 /* sessionAffinity: ClientIP */
#define XS_SVC_F_SRC_RANGES 0x04 /* loadBalancerSourceRanges: sources must match xs_src_ranges */
/* NodePort, external or LB address with externalTrafficPolicy Cluster: a new
 * flow to a backend behind the NIC (another node) gets xs_config.snat_addr
 * and a port of its range as source, so the reply comes back here. */
#define XS_SVC_F_SNAT 0x08
/* The frontend is a ClusterIP: its flows from outside the cluster CIDR (or
 * all, with masquerade-all) to another node are SNATed like XS_SVC_F_SNAT. */
#define XS_SVC_F_CLUSTER 0x10
/* externalTrafficPolicy Local on an external address: traffic from pods and
 * from the node goes to the endpoints of cluster_vip:cluster_port. */
#define XS_SVC_F_EXT_LOCAL 0x20

/* --- xs_src_ranges (LPM trie): the allowed sources of a load-balancer
 * frontend. prefixlen = 32 (the svc_id, always whole) + the CIDR's length.
 * Written by the loader. */
#define XS_MAX_SRC_RANGES 65536

struct xs_src_key {
	__u32 prefixlen;
	__u32 svc_id;     /* network order, like the address, for the trie */
	__be32 addr;
};

/* --- xs_affinity (LRU): a client's backend for a Service port with
 * ClientIP session affinity. Written by the datapath on each new flow. */
#define XS_MAX_AFFINITY 262144

struct xs_aff_key {
	__u32 group;      /* xs_svc_value.affinity_group */
	__be32 client;
};

struct xs_aff_value {
	__u32 backend_id;
	__u16 index;      /* its slot: still there means still a backend */
	__u16 pad;
	__u64 last_seen;  /* the last new flow */
};

/* --- xs_vip_bits (array of 64-bit words): a one-hash Bloom filter of the
 * frontend addresses. A packet whose destination's bit is clear is not for
 * a frontend: it pays one inlined array lookup instead of a hash lookup.
 * Written by the loader: a bit is set before its frontend is published and
 * cleared after the last frontend on that address is gone. */
#define XS_VIP_BITS_LOG2 20
#define XS_VIP_WORDS (1U << (XS_VIP_BITS_LOG2 - 6))

/* Bit of an IPv4 address (as it sits in the packet) in xs_vip_bits. */
static inline __u32 xs_vip_bit(__be32 addr)
{
	return ((__u32)addr * 0x9E3779B1U) >> (32 - XS_VIP_BITS_LOG2);
}

/* --- xs_slots: (service, generation, index) -> backend id. Written by the
 * loader into the inactive generation, then made live by one write of the
 * service's xs_svc_value (count, gen). */
struct xs_slot_key {
	__u32 svc_id;
	__u16 index;      /* 0 .. count-1 */
	__u8 gen;
	__u8 pad;
};

/* --- xs_backends: backend id -> pod address. Written by the loader; ids are
 * stable while the backend exists, so conntrack entries stay valid. */
struct xs_backend {
	union {
		__be32 addr;
		__u8 addr_octets[4];
	};
	__u16 port;       /* host order */
	__u8 proto;
	__u8 flags;
};

/* --- xs_ct_assured (LRU, same keys and values as xs_conntrack): flows that
 * saw a reply and then another packet of their client (TCP: the handshake's
 * last ACK; UDP: a stream), conntrack's ASSURED. A new flow starts in
 * xs_conntrack and moves here then, so that a spray of new flows filling
 * xs_conntrack evicts only other unassured flows, never an assured one (the
 * kernel's early drop). Lookups try this table first. */

/* --- xs_conntrack (LRU): one entry per direction of a translated flow.
 *  XS_CT_FWD:  key = client -> VIP tuple as received; value = the backend.
 *  XS_CT_REV:  key = backend -> client tuple as the reply leaves the node
 *              (client = the source the backend saw: the hairpin or SNAT
 *              address and port when the source was rewritten);
 *              value = the VIP to put back as source.
 * Written by the datapath only (the loader may flush). */
enum xs_ct_dir {
	XS_CT_FWD = 1,
	XS_CT_REV = 2,
};

struct xs_ct_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 dir;         /* enum xs_ct_dir */
	__u16 pad;
};

struct xs_ct_value {
	__be32 nat_addr;  /* FWD: backend address; REV: VIP */
	__be16 nat_port;  /* FWD: backend port;    REV: service port (network order) */
	__u8 flags;       /* XS_CT_F_* */
	__u8 pad;
	__u32 backend_id; /* FWD: the chosen backend */
	__u32 svc_id;
	__u64 last_seen;  /* bpf_ktime_get_ns() of the last packet, coarse */
	/* Hairpin and SNAT flows (0 otherwise). FWD: the source the flow's
	 * packets get; REV: the client, put back as the reply's destination. */
	__be32 snat_addr;
	__be16 snat_port;
	__u16 pad2;
};

#define XS_CT_F_LOCAL   0x01 /* flow opened by the node itself (tc egress DNAT) */
#define XS_CT_F_CLOSING 0x02 /* TCP FIN or RST seen: the short timeout applies */
#define XS_CT_F_HAIRPIN 0x04 /* a pod reached itself through a frontend: its source
			      * was rewritten to xs_config.hairpin_addr, and the REV
			      * entry is keyed on that address and also puts the pod
			      * back as destination */
#define XS_CT_F_SNAT    0x08 /* external flow to another node: source := snat_addr:snat_port */
#define XS_CT_F_REPLIED 0x10 /* a reply was seen (conntrack's SEEN_REPLY): the longer UDP timeout */
#define XS_CT_F_ASSURED 0x40 /* in xs_ct_assured */
#define XS_CT_F_PORTMAP 0x20 /* the client's port was taken by another flow to the same backend
			      * (a NAT clash): source port := snat_port, as the kernel does */

/* Conntrack idle timeouts (defaults; `attach --ct-timeout-*` sets them).
 * UDP as the kernel's nf_conntrack_udp_timeout (unreplied) and
 * nf_conntrack_udp_timeout_stream (once replied). */
#define XS_CT_TCP_TIMEOUT_S       21600 /* established TCP: 6 h */
#define XS_CT_TCP_CLOSE_TIMEOUT_S 10    /* after FIN or RST */
#define XS_CT_UDP_TIMEOUT_S       30
#define XS_CT_UDP_STREAM_TIMEOUT_S 120

/* --- xs_config (array, one entry): runtime settings given at attach.
 * Written by the loader at attach, read by the datapath on every translated
 * packet. A zero timeout means the default above. ct_flushed is the one
 * counter here: conntrack entries the loader deleted (`conntrack flush`),
 * added under the pin directory's lock and kept by later attaches, for the
 * eviction count of `xdpsvc list` (see struct xs_global_stats). */
/* Bump whenever a key or value declared here changes meaning, so that
 * `attach` refuses pinned maps from an older layout instead of misreading them. */
#define XS_LAYOUT_VERSION 12

#define XS_CFG_NO_FAST_PATH 0x1 /* XDP passes translated packets to the stack */
#define XS_CFG_MASQ_ALL     0x2 /* attach --masquerade-all: every flow to another node is SNATed */
#define XS_MAX_NODEPORT_ADDRS 15
#define XS_MAX_CLUSTER_CIDRS 8

/* How the NIC's ingress is translated (xs_config.nic_mode). */
enum xs_nic_mode {
	XS_NIC_XDP_NATIVE = 1, /* XDP in the driver; tc ingress sees what it passed */
	XS_NIC_XDP_GENERIC = 2, /* XDP on the skb (--xdp-mode generic) */
	XS_NIC_TC = 3,         /* no XDP: tc ingress translates (a veth, a driver without XDP) */
};

struct xs_cidr4 {
	__be32 addr;
	__be32 mask;
};

struct xs_config {
	__u32 layout_version; /* XS_LAYOUT_VERSION of the build that made the maps */
	__u32 flags;          /* XS_CFG_* */
	__u64 ct_tcp_timeout_ns;
	__u64 ct_tcp_close_timeout_ns;
	__u64 ct_udp_timeout_ns;       /* unreplied */
	__u64 ct_udp_stream_timeout_ns; /* once replied */
	/* This node, for Local traffic policies and topology hints
	 * (attach --node-name, --zone). */
	char node_name[XS_NODE_NAME_LEN];
	char zone[XS_NAME_LEN];
	/* The node's NodePort addresses (attach --nodeport-addresses). */
	__u32 n_nodeport_addrs;
	__be32 nodeport_addrs[XS_MAX_NODEPORT_ADDRS];
	/* Bumped by every apply before it writes (under the pin directory's
	 * lock), and by attach: a process that keeps the model it applied last
	 * (apply --watch) knows from it that nobody else changed the maps. */
	__u64 apply_seq;
	__u64 ct_flushed;
	/* The source a pod's packets get when its Service sends them back to
	 * itself (attach --hairpin-address; default XS_HAIRPIN_ADDR_DEFAULT). */
	__be32 hairpin_addr;
	/* SNAT of XS_SVC_F_SNAT flows (attach --snat-address, --snat-ports):
	 * the node's address and the source ports it hands out (host order). */
	__be32 snat_addr;
	__u16 snat_port_min;
	__u16 snat_port_max;
	/* The pod network (attach --cluster-cidr): ClusterIP traffic from
	 * outside it to another node is SNATed, as kube-proxy masquerades it. */
	__u32 n_cluster_cidrs;
	struct xs_cidr4 cluster_cidrs[XS_MAX_CLUSTER_CIDRS];
	__u32 nic_ifindex;     /* the device attach runs on */
	__u32 nic_mode;        /* enum xs_nic_mode */
};

/* --- xs_cluster_ips (hash): every ClusterIP address (network order) -> 1.
 * Written by the loader. A packet to one of them on a port no frontend has
 * is rejected, as kube-proxy's nftables mode rejects it, instead of being
 * routed on (the address is nobody's). */
#define XS_MAX_CLUSTER_IPS XS_MAX_SERVICES

/* --- xs_frags (LRU): the ports of a fragmented datagram, learnt from its
 * first fragment (which alone carries the TCP/UDP header) when it was
 * translated, so that the later ones, looked up by (source, destination,
 * IP id, protocol) as they arrive, get the same translation (Cilium keeps
 * such a map). Written by the datapath; an entry older than
 * XS_FRAG_TIMEOUT_S is not used. */
#define XS_MAX_FRAGS 16384
#define XS_FRAG_TIMEOUT_S 10

struct xs_frag_key {
	__be32 saddr;
	__be32 daddr;
	__be16 id;
	__u8 proto;
	__u8 pad;
};

struct xs_frag_value {
	__be16 sport;
	__be16 dport;
	__u32 pad;
	__u64 seen;       /* bpf_ktime_get_ns() of the first fragment */
};

/* --- xs_devs (hash): devices the datapath delivers to, by ifindex. Written
 * by the loader (attach-pod); the tc programs read it to pick how a
 * translated packet reaches a device. */
#define XS_MAX_DEVS 4096
#define XS_DEV_F_POD 0x1 /* the node's end of a pod's veth: bpf_redirect_peer into the pod */

struct xs_dev {
	__u32 flags;           /* XS_DEV_F_* */
};

/* Above Linux's default ephemeral range (32768-60999) and the NodePort range. */
#define XS_SNAT_PORT_MIN_DEFAULT 61000
#define XS_SNAT_PORT_MAX_DEFAULT 65535
/* Random ports tried for a new SNAT flow before it is dropped (drop_snat). */
#define XS_SNAT_TRIES 8

/* Cilium's service loopback address: link-local, so it is nobody's address
 * and never leaves the node. */
#define XS_HAIRPIN_ADDR_DEFAULT "169.254.42.1"

/* --- xs_svc_stats (per-CPU array indexed by svc_id). Written by the datapath;
 * the loader zeroes an id's entry when it hands the id to a new service. */
struct xs_svc_stats {
	__u64 packets;
	__u64 bytes;
	__u64 new_flows;
	__u64 no_backend;  /* no usable endpoint: rejected or dropped */
};

/* --- xs_global_stats (per-CPU array, one entry): why packets went where.
 * ct_created counts conntrack keys the datapath inserted (not the entries it
 * rewrote). The datapath never deletes an entry and the loader only flushes
 * (xs_config.ct_flushed), so every other entry that is gone was evicted by
 * the LRU: evicted = ct_created - ct_flushed - entries in use. */
struct xs_global_stats {
	__u64 pass_not_ipv4;   /* not IPv4 (ARP, IPv6, ...) */
	__u64 pass_not_l4;     /* IPv4 but neither TCP nor UDP (ICMP, ...) */
	__u64 pass_fragment;   /* IPv4 fragment: never translated */
	__u64 pass_malformed;  /* truncated or inconsistent headers */
	__u64 pass_miss;       /* TCP/UDP not addressed to a frontend */
	__u64 hit;             /* translated to a backend (XDP or tc DNAT) */
	__u64 new_flow;        /* backend chosen for a new flow */
	__u64 no_backend;      /* frontend with no usable endpoint: rejected or dropped */
	__u64 reject_rst;      /* ... answered with a TCP RST (XDP_TX) */
	__u64 reject_icmp;     /* ... answered with ICMP port unreachable (XDP_TX) */
	__u64 reject_limited;  /* ... dropped: over the reject rate limit, or a frame the
				* reject does not rebuild (802.1Q, IP options) */
	__u64 drop_ct_full;    /* conntrack insert failed */
	__u64 drop_src_range;  /* source outside loadBalancerSourceRanges */
	__u64 tcp_backend_gone; /* TCP mid-stream packet kept on its removed backend */
	__u64 ct_expired;      /* conntrack entry found idle past its timeout */
	__u64 reply_nat;       /* reply rewritten back to the VIP (tc) */
	__u64 local_dnat;      /* node-originated packet to a VIP (tc egress) */
	__u64 fast_path;       /* translated and sent back out of the NIC by XDP (XDP_TX) */
	__u64 ct_created;      /* conntrack entries inserted (a new key) */
	__u64 pod_dnat;        /* a pod's packet to a frontend (tc on its veth) */
	__u64 hairpin;         /* ... whose backend is the pod itself: source rewritten too */
	__u64 snat;            /* new external flow to another node: source rewritten (XDP) */
	__u64 drop_snat;       /* ... no free SNAT port after XS_SNAT_TRIES tries: dropped */
	__u64 to_stack;        /* translated, then handed to the stack to route */
	__u64 redirect;        /* translated on tc and sent to its device (redirect, peer or neigh) */
	__u64 redirect_peer;   /* ... of which straight into a pod (bpf_redirect_peer) */
	__u64 no_port;         /* to a ClusterIP on a port no frontend has: rejected */
	__u64 icmp_nat;        /* ICMP error about a translated flow: outer and quoted headers
				* translated (tc) */
	__u64 ct_assured;      /* flows moved to xs_ct_assured (two entries each) */
	__u64 nat_clash;       /* a new flow whose reply tuple another live flow had: another
				* source port (XS_CT_F_PORTMAP) */
	__u64 frag_nat;        /* a later fragment translated as its first one was */
	__u64 frag_unknown;    /* a later fragment whose first one was not translated here (or
				* came later): passed untouched (also counted as pass_fragment) */
	__u64 ext_local_cluster; /* a pod's or the node's packet to a Local external
				  * frontend, sent to the cluster-wide endpoints */
};

/* Which address of a Service a frontend is on. */
enum xs_scope {
	XS_SCOPE_CLUSTER = 0,  /* spec.clusterIP */
	XS_SCOPE_NODEPORT = 1, /* a node address : spec.ports[].nodePort */
	XS_SCOPE_EXTERNAL = 2, /* spec.externalIPs[] */
	XS_SCOPE_LB = 3,       /* status.loadBalancer.ingress[].ip */
};

/* Rejects sent per CPU per second at most, and the burst (token bucket). */
#define XS_REJECT_RATE 1000
#define XS_REJECT_BURST 100

/* --- xs_reject_rl (per-CPU array, one entry): the rejects' token bucket.
 * Written by the datapath. */
struct xs_reject_rl {
	__u64 tokens;
	__u64 last_ns;
};

/* --- xs_svc_meta (array indexed by svc_id): who a frontend belongs to.
 * Written by the loader, never read by the datapath; it lets `xdpsvc list`,
 * `apply` and bpftool name a frontend from the pinned maps alone. Only the
 * ids that xs_services refers to are meaningful. */
struct xs_svc_meta {
	char ns[XS_NAME_LEN];
	char name[XS_NAME_LEN];
	char port_name[XS_PORT_NAME_LEN];
	__u8 scope;        /* enum xs_scope */
	__u8 pad[7];
};

#endif /* XDPSVC_H */
