#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# A guided tour: builds a throw-away namespace "cluster" (tests/lib.sh),
# attaches xdpsvc to the node's NIC, applies scripts/examples/demo.yaml and
# sends traffic to the ClusterIPs from a client outside the cluster. Removes
# everything on exit. Needs root; env BUILD (default build).
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../tests/lib.sh"

DEMO_YAML=$XS_REPO/scripts/examples/demo.yaml
WEB_VIP=198.19.0.10
ECHO_VIP=198.19.0.20

say() { printf '\n== %s\n' "$*"; }
# run CMD...: show a command, then run it (xs is the loader in the node ns).
run() {
	if [ "$1" = xs ]; then
		printf '$ xdpsvc %s --pin-path %s\n' "${*:2}" "$PIN"
	else
		printf '$ %s\n' "$*"
	fi
	"$@"
}
die() { echo "demo: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, BPF)"
[ -f "$DEMO_YAML" ] || die "$DEMO_YAML is missing"

say "Building the cluster: client ns $NS_CL, node ns $NS_NODE, pods ${P}pod1..3"
cluster_up || die "could not build the cluster"
echo "client 198.18.0.1 -> node NIC $NIC 198.18.0.2 -> pods $(pod_ip 1), $(pod_ip 2), $(pod_ip 3)"
echo "each pod answers HTTP on :8080 and UDP on :5353 with its name"

say "Before xdpsvc: nobody owns the ClusterIP $WEB_VIP"
curl_vip --max-time 1 "http://$WEB_VIP/" || echo "(no answer, as expected)"

say "Attaching the datapath to $NIC (a veth: tc ingress and egress, as attach explains); maps pinned under $PIN"
run xs attach "$NIC" || die "attach failed"

say "Applying $DEMO_YAML"
run xs apply "$DEMO_YAML" || die "apply failed"

say "12 HTTP requests from the client to http://$WEB_VIP/"
for i in $(seq 12); do
	printf 'request %2d answered by: %s\n' "$i" "$(curl_vip "http://$WEB_VIP/" 2>&1)"
done

say "6 UDP queries to $ECHO_VIP:53, each from a new source port"
echo "(udpq connect()s to the ClusterIP: the kernel accepts only replies from $ECHO_VIP:53)"
in_cl "$TOOLS/udpq" "$ECHO_VIP" 53 --count 6 | nl -w2 -s' answered by: ' | sed 's/^/query /'

say "What the loader sees: services, backends and counters"
run xs list

say "The pinned maps, raw"
run bpftool map dump pinned "$PIN/xs_services"
run bpftool map dump pinned "$PIN/xs_backends"

say "Detaching and cleaning up"
run xs detach "$NIC" --purge
