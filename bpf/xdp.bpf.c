// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* NIC ingress: DNAT client -> ClusterIP:port to a backend pod, then let the
 * stack route it. Anything that is not a fully checked TCP/UDP packet to a
 * frontend passes untouched. */
#include "lb.h"
#include "csum.h"

SEC("xdp")
int xs_xdp_ingress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xs_svc_value *sv;
	__be32 be_addr;
	__be16 be_port;
	struct xs_pkt p;
	int rc;

	rc = xs_parse(data, data_end, (__u32)(data_end - data), &p);
	if (rc != XS_PARSE_OK) {
		xs_count_parse(rc);
		return XDP_PASS;
	}
	sv = xs_svc_lookup(&p);
	if (!sv) {
		xs_count(pass_miss);
		return XDP_PASS;
	}
	if (xs_forward(&p, sv, 0, &be_addr, &be_port) != XS_FWD_OK)
		return XDP_DROP;

	__be32 old_addr = p.iph->daddr;
	__be16 old_port = *p.dport_p;

	csum_replace4(&p.iph->check, old_addr, be_addr);
	p.iph->daddr = be_addr;
	/* A UDP checksum of zero means "none" and stays zero. */
	if (p.proto == IPPROTO_TCP || *p.l4_check) {
		csum_replace4(p.l4_check, old_addr, be_addr);
		csum_replace2(p.l4_check, old_port, be_port);
		if (p.proto == IPPROTO_UDP && !*p.l4_check)
			*p.l4_check = 0xffff;
	}
	*p.dport_p = be_port;
	xs_count(hit);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
