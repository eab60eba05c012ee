# shellcheck shell=bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Shared helpers for the end-to-end tests and the demo: a small "cluster" of
# network namespaces, built per run and removed by a trap, and the PASS/FAIL
# reporting that tests/run.sh counts.
#
#   client ns ${P}cl    cl0 198.18.0.1/24 --- nic0 198.18.0.2/24   node ns ${P}node
#   (the outside world)                        vp1 --- eth0 198.18.1.11/32  pod ns ${P}pod1
#                                              vp2 --- eth0 198.18.1.12/32  pod ns ${P}pod2
#                                              vp3 --- eth0 198.18.1.13/32  pod ns ${P}pod3
#
# The datapath goes on nic0 (XDP ingress, tc egress). ClusterIPs live in
# 198.19.0.0/16, which the client routes to the node and nothing else knows:
# reaching a pod through one proves the datapath translated the packet.
#
# cluster2_up builds two nodes instead, each running the datapath on its own
# NIC with its own pin directory, a router between them and the client:
#
#   client ns ${P}cl   cl0 198.18.0.1/24 --- rtc 198.18.0.254/24  router ns ${P}rt
#   node ns ${P}node   nic0 198.18.10.2/24 --- rt1 198.18.10.1/24   (node-1)
#     vp1, vp2  --- pods 1, 2    198.18.1.11, 198.18.1.12    (pod CIDR 198.18.1.0/24)
#   node ns ${P}node2  nic0 198.18.20.2/24 --- rt2 198.18.20.1/24   (node-2)
#     vp21, vp22 --- pods 21, 22 198.18.2.11, 198.18.2.12    (pod CIDR 198.18.2.0/24)
#
# The router routes each pod CIDR to its node and the ClusterIPs to node-1;
# the client and the nodes reach 198.18.0.0/15 through the router.
#
# Nothing here touches the root network namespace: every link is created
# inside a namespace made by this run. Usage:
#
#   . tests/lib.sh
#   cluster_up || { fail setup "..."; exit 1; }   # the EXIT trap tears it down
#   xs attach nic0; in_cl curl ...; pass NAME / fail NAME WHY

set -u

XS_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$XS_REPO/$BUILD ;; esac
XDPSVC=$BUILD/xdpsvc
TOOLS=$BUILD/tests/tools

P=xs$$                        # prefix of every namespace of this run
NS_CL=${P}cl
NS_NODE=${P}node
NPODS=3
RUN_DIR=/run/xdpsvc-test.$$   # logs, generated files, the bpffs
BPFFS=$RUN_DIR/bpf            # outside /sys: `ip netns exec` hides /sys/fs/bpf
PIN=$BPFFS/xdpsvc

NIC=nic0
CLIENT_IP=198.18.0.1
NODE_IP=198.18.0.2

# cluster2_up: the second node, the router, node-2's pin directory.
NS_NODE2=${P}node2
NS_RT=${P}rt
PIN2=$BPFFS/xdpsvc2
NODE2_IP=198.18.20.2
ROUTER_IP=198.18.0.254
# Every (namespace, pin directory) that cluster_down detaches and purges.
XS_NODES=("$NS_NODE $PIN")

XS_PASSED=0
XS_FAILED=0
XS_NAMESPACES=()

# Case names of the wire topology say so.
xs_case() { if [ "${XS_TOPO:-kind}" = wire ]; then echo "[wire] $1"; else echo "$1"; fi; }
pass() { XS_PASSED=$((XS_PASSED + 1)); echo "PASS: $(xs_case "$1")"; }
fail() { XS_FAILED=$((XS_FAILED + 1)); echo "FAIL: $(xs_case "$1"): $2"; }

# Exit status for the end of a test script.
xs_status() { [ "$XS_FAILED" -eq 0 ]; }

# wait_until TIMEOUT_S CMD...: run CMD every 0.1 s until it succeeds (0) or
# TIMEOUT_S seconds have passed (1). Bounded both in time and in tries.
wait_until() {
	local timeout=$1 end tries=0
	shift
	end=$((SECONDS + timeout + 1))
	while [ "$tries" -le $((timeout * 10)) ]; do
		"$@" && return 0
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
		tries=$((tries + 1))
	done
	return 1
}

# XS_TOPO: what the NIC's veth stands for.
#  kind (default): a kind-style node, whose NIC is a veth with its peer left
#    untouched: default offloads (senders leave partial L4 checksums), GRO
#    off, no XDP program. `xs attach` picks its hook (tc) by itself.
#  wire: a physical link. The peer runs an XDP program (so XDP_TX reaches
#    it, as frames sent on a wire reach the other end) and computes its
#    checksums (tx checksumming off: a wire carries complete ones); the
#    datapath is attached with --xdp-mode native (XS_ATTACH_MODE).
# Pods are the same in both: a CNI plugin's veth, its pod end untouched.
XS_TOPO=${XS_TOPO:-kind}
case $XS_TOPO in
kind) XS_ATTACH_MODE=() ;;
wire) XS_ATTACH_MODE=(--xdp-mode native) ;;
*) echo "lib.sh: XS_TOPO must be kind or wire, not '$XS_TOPO'" >&2; exit 2 ;;
esac

# wire_up NS DEV: DEV, the far end of a NIC's veth, as XS_TOPO says.
wire_up() {
	[ "$XS_TOPO" = wire ] || return 0
	step ip netns exec "$1" ethtool -K "$2" tx off >/dev/null || return 1
	step ip -n "$1" link set dev "$2" xdpdrv obj "$BUILD/tests/xdp_pass.bpf.o" sec xdp.frags
}

pod_ns() { echo "${P}pod$1"; }
# Pods 1-9 are node-1's (198.18.1.1N), pods 21-29 node-2's (198.18.2.1N).
pod_ip() { if [ "$1" -lt 10 ]; then echo "198.18.1.1$1"; else echo "198.18.$(($1 / 10)).1$(($1 % 10))"; fi; }

in_cl() { ip netns exec "$NS_CL" "$@"; }
in_node() { ip netns exec "$NS_NODE" "$@"; }
in_node2() { ip netns exec "$NS_NODE2" "$@"; }
in_pod() { local n=$1; shift; ip netns exec "$(pod_ns "$n")" "$@"; }

# xs ARGS...: the loader inside the node namespace, on this run's pin dir;
# xs2: the same on node-2 (cluster2_up).
# `attach` gets XS_ATTACH_MODE (the wire topology's --xdp-mode native).
xs_mode() { [ "${1:-}" = attach ] && [ ${#XS_ATTACH_MODE[@]} -gt 0 ] && printf '%s\n' "${XS_ATTACH_MODE[@]}"; }
xs() { local m; mapfile -t m < <(xs_mode "$@"); in_node "$XDPSVC" "$@" "${m[@]}" --pin-path "$PIN"; }
xs2() { local m; mapfile -t m < <(xs_mode "$@"); in_node2 "$XDPSVC" "$@" "${m[@]}" --pin-path "$PIN2"; }

# curl_vip URL [curl args]: the body of one new HTTP request from the client.
curl_vip() { in_cl curl -sS --max-time 2 "$@"; }

# Run a setup step; on failure say which one (the caller returns 1).
step() {
	"$@" && return 0
	echo "setup: failed: $*" >&2
	return 1
}

xs_netns_add() {
	step ip netns add "$1" || return 1
	XS_NAMESPACES+=("$1")
	# No IPv6: its router solicitations and MLD reports would be the only
	# unsolicited packets on the links, and tests compare counters.
	step ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 || return 1
	step ip -n "$1" link set lo up
}

# pod_up N [NODE_NS NODE_ADDR]: pod namespace N with its veth vpN to the
# node (default the single node) and its servers.
pod_up() {
	local n=$1 ns ip mac_pod mac_node
	local NS_NODE=${2:-$NS_NODE} NODE_IP=${3:-$NODE_IP}
	ns=$(pod_ns "$n")
	ip=$(pod_ip "$n")
	xs_netns_add "$ns" || return 1
	step ip -n "$NS_NODE" link add "vp$n" type veth peer name eth0 netns "$ns" || return 1
	step ip -n "$ns" addr add "$ip/32" dev eth0 || return 1
	step ip -n "$ns" link set eth0 up || return 1
	step ip -n "$NS_NODE" link set "vp$n" up || return 1
	# The pod's end stays as a CNI plugin leaves it: default offloads (GRO
	# off, tx checksumming on), no XDP program.
	# The pod reaches everything through the node; static neighbours both ways
	# keep ARP out of the picture.
	mac_pod=$(ip -n "$ns" -br link show eth0 | awk '{print $3}')
	mac_node=$(ip -n "$NS_NODE" -br link show "vp$n" | awk '{print $3}')
	step ip -n "$ns" route add "$NODE_IP" dev eth0 || return 1
	step ip -n "$ns" route add default via "$NODE_IP" dev eth0 onlink || return 1
	step ip -n "$ns" neigh replace "$NODE_IP" lladdr "$mac_node" dev eth0 nud permanent || return 1
	step ip -n "$NS_NODE" route add "$ip/32" dev "vp$n" || return 1
	step ip -n "$NS_NODE" neigh replace "$ip" lladdr "$mac_pod" dev "vp$n" nud permanent || return 1
	step ip netns exec "$NS_NODE" sysctl -qw "net.ipv4.conf.vp$n.rp_filter=0" || return 1

	ip netns exec "$ns" "$TOOLS/podsrv" --name "pod$n" --tcp 8080 --udp 5353 \
		>"$RUN_DIR/pod$n.log" 2>&1 &
	if ! wait_until 5 grep -qs '^ready$' "$RUN_DIR/pod$n.log"; then
		echo "setup: podsrv in $ns did not start: $(cat "$RUN_DIR/pod$n.log")" >&2
		return 1
	fi
}

# cluster_up: build everything and install the teardown trap. Returns 1 (with
# a reason on stderr) if any step failed; the trap still cleans up.
cluster_up() {
	local n f ns
	trap cluster_down EXIT
	trap 'exit 130' INT TERM
	for f in "$XDPSVC" "$TOOLS/podsrv" "$TOOLS/udpq" "$BUILD/tests/xdp_pass.bpf.o"; do
		[ -f "$f" ] || { echo "setup: $f is missing: run 'make test-bins'" >&2; return 1; }
	done
	step mkdir -p "$BPFFS" || return 1
	step mount -t bpf bpf "$BPFFS" || return 1

	xs_netns_add "$NS_CL" || return 1
	xs_netns_add "$NS_NODE" || return 1
	step ip -n "$NS_CL" link add cl0 type veth peer name "$NIC" netns "$NS_NODE" || return 1
	step ip -n "$NS_CL" addr add "$CLIENT_IP/24" dev cl0 || return 1
	step ip -n "$NS_CL" link set cl0 up || return 1
	wire_up "$NS_CL" cl0 || return 1
	step ip -n "$NS_CL" route add 198.19.0.0/16 via "$NODE_IP" || return 1
	step ip -n "$NS_CL" route add 198.18.1.0/24 via "$NODE_IP" || return 1

	step ip netns exec "$NS_NODE" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 || return 1
	step ip -n "$NS_NODE" addr add "$NODE_IP/24" dev "$NIC" || return 1
	step ip -n "$NS_NODE" link set "$NIC" up || return 1
	step ip netns exec "$NS_NODE" sysctl -qw "net.ipv4.conf.$NIC.rp_filter=0" || return 1

	for n in $(seq "$NPODS"); do
		pod_up "$n" || return 1
	done
	# Links created after the first sysctl got IPv6 from their own defaults.
	for ns in "${XS_NAMESPACES[@]}"; do
		step ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || return 1
	done
	# The cluster works without the datapath: the client reaches a pod directly.
	if ! wait_until 5 curl_vip -o /dev/null "http://$(pod_ip 1):8080/"; then
		echo "setup: client cannot reach pod1 directly" >&2
		return 1
	fi
}

# veth_pair NS1 DEV1 ADDR1/LEN NS2 DEV2 ADDR2/LEN: a link between two
# namespaces, addressed and up on both ends.
veth_pair() {
	step ip -n "$1" link add "$2" type veth peer name "$5" netns "$4" || return 1
	step ip -n "$1" addr add "$3" dev "$2" || return 1
	step ip -n "$4" addr add "$6" dev "$5" || return 1
	step ip -n "$1" link set "$2" up || return 1
	step ip -n "$4" link set "$5" up
}

# node_ns_up NS: a node's forwarding and its NIC's settings.
node_ns_up() {
	step ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 || return 1
	step ip netns exec "$1" sysctl -qw "net.ipv4.conf.$NIC.rp_filter=0"
}

# cluster2_up: the two-node cluster drawn at the top, with the teardown trap.
# Returns 1 (with a reason on stderr) if any step failed.
cluster2_up() {
	local n f ns
	trap cluster_down EXIT
	trap 'exit 130' INT TERM
	for f in "$XDPSVC" "$TOOLS/podsrv" "$TOOLS/udpq" "$BUILD/tests/xdp_pass.bpf.o"; do
		[ -f "$f" ] || { echo "setup: $f is missing: run 'make test-bins'" >&2; return 1; }
	done
	NODE_IP=198.18.10.2
	XS_NODES+=("$NS_NODE2 $PIN2")
	step mkdir -p "$BPFFS" || return 1
	step mount -t bpf bpf "$BPFFS" || return 1
	for ns in "$NS_CL" "$NS_RT" "$NS_NODE" "$NS_NODE2"; do
		xs_netns_add "$ns" || return 1
	done
	veth_pair "$NS_CL" cl0 "$CLIENT_IP/24" "$NS_RT" rtc "$ROUTER_IP/24" || return 1
	veth_pair "$NS_NODE" "$NIC" "$NODE_IP/24" "$NS_RT" rt1 198.18.10.1/24 || return 1
	veth_pair "$NS_NODE2" "$NIC" "$NODE2_IP/24" "$NS_RT" rt2 198.18.20.1/24 || return 1
	wire_up "$NS_RT" rt1 || return 1
	wire_up "$NS_RT" rt2 || return 1
	[ "$XS_TOPO" = wire ] && { step ip netns exec "$NS_CL" ethtool -K cl0 tx off >/dev/null || return 1; }
	step ip -n "$NS_CL" route add 198.18.0.0/15 via "$ROUTER_IP" || return 1
	step ip netns exec "$NS_RT" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 || return 1
	step ip -n "$NS_RT" route add 198.18.1.0/24 via "$NODE_IP" || return 1
	step ip -n "$NS_RT" route add 198.18.2.0/24 via "$NODE2_IP" || return 1
	step ip -n "$NS_RT" route add 198.19.0.0/16 via "$NODE_IP" || return 1
	node_ns_up "$NS_NODE" || return 1
	node_ns_up "$NS_NODE2" || return 1
	step ip -n "$NS_NODE" route add 198.18.0.0/15 via 198.18.10.1 || return 1
	step ip -n "$NS_NODE2" route add 198.18.0.0/15 via 198.18.20.1 || return 1

	for n in 1 2; do
		pod_up "$n" || return 1
		pod_up "2$n" "$NS_NODE2" "$NODE2_IP" || return 1
	done
	for ns in "${XS_NAMESPACES[@]}"; do
		step ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || return 1
	done
	# Without the datapath: the client reaches a pod of each node, pods
	# reach each other across the router.
	for n in 1 21; do
		if ! wait_until 5 curl_vip -o /dev/null "http://$(pod_ip "$n"):8080/"; then
			echo "setup: client cannot reach pod$n directly" >&2
			return 1
		fi
	done
	if ! wait_until 5 in_pod 1 curl -sS --max-time 2 -o /dev/null "http://$(pod_ip 21):8080/"; then
		echo "setup: pod1 cannot reach pod21 directly" >&2
		return 1
	fi
}

xs_pids_in() { ip netns pids "$1" 2>/dev/null; }

cluster_down() {
	local ns pid node
	trap - EXIT INT TERM
	for node in "${XS_NODES[@]}"; do
		if [ -x "$XDPSVC" ] && ip netns list | grep -qw "${node% *}"; then
			ip netns exec "${node% *}" "$XDPSVC" detach "$NIC" --purge --pin-path "${node#* }" >/dev/null 2>&1
		fi
	done
	for ns in "${XS_NAMESPACES[@]}"; do
		# Only processes this run started live in its namespaces.
		for pid in $(xs_pids_in "$ns"); do
			kill "$pid" 2>/dev/null
		done
		wait_until 5 test -z "$(xs_pids_in "$ns")" || for pid in $(xs_pids_in "$ns"); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	if mountpoint -q "$BPFFS"; then
		umount "$BPFFS"
	fi
	rm -rf "$RUN_DIR"
	return 0
}

# Kubernetes objects of namespace e2e, as `kubectl get ... -o json` prints them.
# PORT arguments are NAME:PORT/PROTO, or NAME:PORT/PROTO:TARGET for a Service.
k8s_ports() {
	local p sep="" name rest port proto
	for p in "$@"; do
		name=${p%%:*} rest=${p#*:}
		port=${rest%%/*} rest=${rest#*/}
		proto=${rest%%:*}
		printf '%s{"name":"%s","port":%s,"protocol":"%s"' "$sep" "$name" "$port" "$proto"
		[ "$rest" != "$proto" ] && printf ',"targetPort":%s' "${rest#*:}"
		printf '}'
		sep=","
	done
}

# k8s_service NAME VIP PORT...: a ClusterIP Service.
k8s_service() {
	local name=$1 vip=$2
	shift 2
	printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"e2e"},' "$name"
	printf '"spec":{"type":"ClusterIP","clusterIP":"%s","clusterIPs":["%s"],"ipFamilies":["IPv4"],' "$vip" "$vip"
	printf '"ports":[%s]}}' "$(k8s_ports "$@")"
}

# k8s_slice SERVICE SLICE "ADDR..." PORT...: its EndpointSlice, one ready
# endpoint per address; ADDR~ is serving but terminating (not ready).
k8s_slice() {
	local svc=$1 slice=$2 addrs=$3 a sep="" eps="" cond
	shift 3
	for a in $addrs; do
		cond='"ready":true'
		[ "${a%\~}" != "$a" ] && cond='"ready":false,"serving":true,"terminating":true'
		eps+="$sep{\"addresses\":[\"${a%\~}\"],\"conditions\":{$cond}}"
		sep=","
	done
	printf '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"%s",' "$slice"
	printf '"namespace":"e2e","labels":{"kubernetes.io/service-name":"%s"}},"addressType":"IPv4",' "$svc"
	printf '"ports":[%s],"endpoints":[%s]}' "$(k8s_ports "$@")" "$eps"
}

# k8s_list ITEM...: a kind: List of the items, one per line.
k8s_list() {
	local item sep=""
	printf '{"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":""},"items":['
	for item in "$@"; do
		printf '%s\n %s' "$sep" "$item"
		sep=","
	done
	printf '\n]}\n'
}
