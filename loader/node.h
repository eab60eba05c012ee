/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* This node's identity as the datapath needs it: its NodePort addresses. */
#ifndef XS_NODE_H
#define XS_NODE_H

#include "xdpsvc.h"

/*
 * The NodePort addresses: with cidrs NULL, the IPv4 addresses of dev; else
 * every local IPv4 address (not loopback) inside one of the comma-separated
 * CIDRs (kube-proxy's --nodeport-addresses). At most XS_MAX_NODEPORT_ADDRS.
 * 0 or -errno, with the reason printed.
 */
int xs_nodeport_addrs(const char *dev, const char *cidrs, __be32 *out, __u32 *n);
/* The pod network, comma-separated CIDRs (attach --cluster-cidr), at most
 * XS_MAX_CLUSTER_CIDRS; 0 or -EINVAL with the reason printed. */
int xs_cluster_cidrs(const char *cidrs, struct xs_cidr4 *out, __u32 *n);

#endif
