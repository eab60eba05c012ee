/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The maps, one definition for both programs. Each is pinned by name under
 * the pin directory, so the XDP and the tc object share one instance and the
 * state outlives the loader. Layouts are in include/xdpsvc.h. */
#ifndef XS_MAPS_H
#define XS_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xdpsvc.h"

/* Frontends (VIP, port, proto) -> service id, backend count, slot generation.
 * Written by the loader; the one write that makes a new backend set live. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XS_MAX_SERVICES);
	__type(key, struct xs_svc_key);
	__type(value, struct xs_svc_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xs_services SEC(".maps");

/* Frontend addresses as a bitmap (see include/xdpsvc.h). Written by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XS_VIP_WORDS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xs_vip_bits SEC(".maps");

/* (service id, generation, index) -> backend id. Written by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* memory as used: sized for the worst case */
	__uint(max_entries, XS_MAX_SLOTS);
	__type(key, struct xs_slot_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xs_slots SEC(".maps");

/* Backend id -> pod address and port. Written by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XS_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xs_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xs_backends SEC(".maps");

/* Both directions of every translated flow. Written by the datapath. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XS_MAX_CT);
	__type(key, struct xs_ct_key);
	__type(value, struct xs_ct_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xs_conntrack SEC(".maps");

/* Assured flows, moved from xs_conntrack (include/xdpsvc.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XS_MAX_CT);
	__type(key, struct xs_ct_key);
	__type(value, struct xs_ct_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xs_ct_assured SEC(".maps");

/* Per-frontend counters, indexed by service id. Written by the datapath. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XS_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct xs_svc_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xs_svc_stats SEC(".maps");

/* Global counters by reason, one entry. Written by the datapath. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xs_global_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xs_global_stats SEC(".maps");

/* Service id -> owner (namespace, name, port name). Written by the loader,
 * never read here: it names frontends for `xdpsvc list` and bpftool. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XS_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct xs_svc_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xs_svc_meta SEC(".maps");

/* Allowed sources of load-balancer frontends. Written by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XS_MAX_SRC_RANGES);
	__type(key, struct xs_src_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xs_src_ranges SEC(".maps");

/* ClientIP session affinity. Written by the datapath. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XS_MAX_AFFINITY);
	__type(key, struct xs_aff_key);
	__type(value, struct xs_aff_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xs_affinity SEC(".maps");

/* Token bucket of the rejects, per CPU. Written by the datapath. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xs_reject_rl);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xs_reject_rl SEC(".maps");

/* Settings given at attach (timeouts). Written by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xs_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xs_config SEC(".maps");

/* Every ClusterIP address, for kube-proxy's reject of undefined ports. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XS_MAX_CLUSTER_IPS);
	__type(key, __be32);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xs_cluster_ips SEC(".maps");

/* The ports of fragmented datagrams, from their first fragments. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XS_MAX_FRAGS);
	__type(key, struct xs_frag_key);
	__type(value, struct xs_frag_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xs_frags SEC(".maps");

/* Per-CPU scratch space for what does not fit the programs' stack (an
 * ICMP error's quote, as read and as rewritten). */
#define XS_SCRATCH_LEN 128
struct xs_scratch_buf {
	__u8 b[XS_SCRATCH_LEN];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xs_scratch_buf);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xs_scratch SEC(".maps");

/* Devices the tc programs deliver to (pods' veths). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XS_MAX_DEVS);
	__type(key, __u32);
	__type(value, struct xs_dev);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xs_devs SEC(".maps");

#endif
