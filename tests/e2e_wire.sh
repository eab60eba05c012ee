#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# The NIC as a wire: the suites that send traffic through the NIC again, on
# the topology where the NIC's veth stands for a physical link (XS_TOPO=wire
# in tests/lib.sh: its peer runs an XDP program and computes its checksums,
# as the far end of a wire does) and the datapath is attached with
# --xdp-mode native, as on a real driver. Their default run (XS_TOPO=kind)
# has the NIC as kind's veth, where attach picks tc. Cases say "[wire]".
cd "$(dirname "$0")" || exit 1
status=0
for t in e2e_clusterip e2e_pods e2e_snat e2e_parity2 e2e_realnode; do
	XS_TOPO=wire bash "./$t.sh" || status=1
done
exit "$status"
