// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The far end of a NIC's veth in the tests' "wire" topology (XS_TOPO=wire),
 * standing for a physical link: a veth delivers what its peer sends with
 * XDP_TX only when it runs an XDP program itself (the kernel's veth kicks the
 * receiving NAPI only then), which the other end of a wire never needs.
 * xdp.frags: a program without it would cap the link's MTU at a page, which
 * a wire does not either. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp.frags")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
