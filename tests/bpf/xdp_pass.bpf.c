// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* For the tests' client veth: a veth delivers what its peer sends with
 * XDP_TX only when it runs an XDP program itself (the kernel's veth kicks the
 * receiving NAPI only then). A real NIC needs nothing of the kind. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
