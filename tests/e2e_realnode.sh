#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# A real node (issue 10), on the two-node cluster of tests/lib.sh with pods
# as a CNI makes them: what kube-proxy's kernel path delivers, xdpsvc must
# too. The node reaching its own NodePorts (through lo), a NodePort reply
# whose source is the node's own address (no martian), ClusterIP traffic
# from outside the cluster CIDR to another node (--cluster-cidr), the ESIPP
# short-circuit from pods and the node, 20 MB transfers both ways with
# GSO/GRO packets, a jumbo MTU, and no packet counted as sent that a device
# dropped. tests/e2e_wire.sh runs it again with the NIC as a wire.
. "$(dirname "$0")/lib.sh"

BULK=$XS_REPO/tests/tools/bulk.py
MB20=20000000
EXT_IP=198.19.1.1      # an external IP of the Local Service (routed to node-1)
CIDRS=198.18.1.0/24,198.18.2.0/24

cluster2_up || { fail "setup" "the two-node namespace cluster could not be built"; exit 1; }

# svc NAME VIP NODEPORT PODS [EXTRA_SPEC]: a NodePort Service with TCP
# 80->8080, UDP 53->5353 and bulk 9000->9000 (NodePort, +1, +2) on PODS.
svc() {
	local eps="" sep="" n
	for n in $4; do
		eps+="$sep{\"addresses\":[\"$(pod_ip "$n")\"],\"nodeName\":\"node-$([ "$n" -lt 10 ] && echo 1 || echo 2)\",\"conditions\":{\"ready\":true}}"
		sep=","
	done
	printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"e2e"},' "$1"
	printf '"spec":{"type":"NodePort","clusterIP":"%s","clusterIPs":["%s"],"ipFamilies":["IPv4"]%s,' "$2" "$2" "${5:-}"
	printf '"ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":8080,"nodePort":%s},' "$3"
	printf '{"name":"dns","port":53,"protocol":"UDP","targetPort":5353,"nodePort":%s},' "$3"
	printf '{"name":"bulk","port":9000,"protocol":"TCP","targetPort":9000,"nodePort":%s}]}}\n' "$(($3 + 2))"
	printf '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"%s-a","namespace":"e2e",' "$1"
	printf '"labels":{"kubernetes.io/service-name":"%s"}},"addressType":"IPv4","ports":[%s],"endpoints":[%s]}\n' \
		"$1" "$(k8s_ports http:8080/TCP dns:5353/UDP bulk:9000/TCP)" "$eps"
}
FILE=$RUN_DIR/realnode.json
# conntrack cases: two Services on one backend (clash1, clash2), one of two
# sharing a backend that changes (shared-a, shared-b), a streaming server
# on two pods (push).
conntrack_svcs() { # SHARED_A_PODS
	svc clash1 198.19.0.51 30092 1
	svc clash2 198.19.0.52 30095 1
	svc shared-a 198.19.0.61 30098 "$1"
	svc shared-b 198.19.0.62 30101 1
	k8s_service push 198.19.0.70 push:60/UDP:6000
	printf '\n'
	k8s_slice push push-a "$(pod_ip 1) $(pod_ip 2)" push:6000/UDP
	printf '\n'
}
objects() { # SHARED_A_PODS
	svc local 198.19.0.10 30080 1; svc remote 198.19.0.20 30083 21
	svc esipp 198.19.0.30 30086 21 ",\"externalTrafficPolicy\":\"Local\",\"externalIPs\":[\"$EXT_IP\"]"
	svc empty 198.19.0.40 30089 ""
	conntrack_svcs "$1"
}
mapfile -t items < <(objects 1)
k8s_list "${items[@]}" >"$FILE"
for a in 2 ""; do
	mapfile -t items < <(objects "$a")
	k8s_list "${items[@]}" >"$RUN_DIR/shared-a-${a:-none}.json"
done
SESS=$XS_REPO/tests/tools/udpsess.py
for n in 1 2; do
	ip netns exec "$(pod_ns "$n")" /usr/bin/python3 "$SESS" push-server 6000 "pod$n" >"$RUN_DIR/push$n.log" 2>&1 &
done

for n in 1 21; do
	ip netns exec "$(pod_ns "$n")" /usr/bin/python3 "$BULK" serve 9000 >"$RUN_DIR/bulk$n.log" 2>&1 &
done

name="attach both nodes (--cluster-cidr), apply, attach-pod: each device's mode shown"
out=$(xs attach "$NIC" --node-name node-1 --cluster-cidr "$CIDRS" 2>&1 &&
      xs2 attach "$NIC" --node-name node-2 --cluster-cidr "$CIDRS" 2>&1 &&
      xs apply "$FILE" 2>&1 && xs2 apply "$FILE" 2>&1 &&
      xs attach-pod vp1 vp2 2>&1 && xs2 attach-pod vp21 vp22 2>&1)
if [ $? -ne 0 ]; then
	fail "$name" "$out"
	exit 1
fi
dp=$(xs list --json | jq -c '[.datapath.nic.mode, [.datapath.pods[].device]]')
if [ "$XS_TOPO" = wire ]; then want='["xdp native",["vp1","vp2"]]'; else want='["tc",["vp1","vp2"]]'; fi
if [ "$dp" = "$want" ] && wait_until 5 grep -qs '^ready$' "$RUN_DIR/bulk1.log" "$RUN_DIR/bulk21.log"; then
	pass "$name"
else
	fail "$name" "list --json datapath: $dp (want $want); bulk servers: $(cat "$RUN_DIR"/bulk*.log)"
fi

# answers WHO CMD...: the sorted set of pods that answered 6 tries.
answers() {
	local i
	for ((i = 0; i < 6; i++)); do "$@" 2>&1 || echo failed; done | sort -u | tr '\n' ' '
}
tcp_from() { local where=$1 url=$2; "$where" curl -sS --max-time 2 "$url"; }
udp_from() { "$1" "$TOOLS/udpq" "$2" "$3" --timeout-ms 1000 2>&1; }
pod1() { in_pod 1 "$@"; }

name="the node reaches its own NodePort through lo (TCP and UDP; backend on this node and on the other)"
got="$(answers tcp_from in_node "http://$NODE_IP:30080/")| $(answers udp_from in_node "$NODE_IP" 30080)|"
got+=" $(answers tcp_from in_node "http://$NODE_IP:30083/")| $(answers udp_from in_node "$NODE_IP" 30083)"
if [ "$got" = "pod1 | pod1 | pod21 | pod21 " ]; then
	pass "$name"
else
	fail "$name" "node-1 to $NODE_IP:30080 (pod1) and :30083 (pod21), TCP | UDP: $got"
fi

name="a NodePort reply with the node's own address as source reaches the client and pods (local and remote backend)"
got="$(answers tcp_from in_cl "http://$NODE_IP:30080/")| $(answers udp_from in_cl "$NODE_IP" 30080)|"
got+=" $(answers tcp_from pod1 "http://$NODE_IP:30083/")| $(answers udp_from pod1 "$NODE_IP" 30083)|"
got+=" $(answers tcp_from in_cl "http://$NODE_IP:30083/")"
if [ "$got" = "pod1 | pod1 | pod21 | pod21 | pod21 " ]; then
	pass "$name"
else
	fail "$name" "client -> :30080 TCP | UDP, pod1 -> :30083 TCP | UDP, client -> :30083: $got"
fi

name="ClusterIP from outside the cluster CIDR to a backend on another node is SNATed (--cluster-cidr), from a pod not"
seen_cl=$(curl_vip -D - -o /dev/null "http://198.19.0.20/" 2>&1 | tr -d '\r' | sed -n 's/^X-Client: \([0-9.]*\):.*/\1/p')
seen_pod=$(in_pod 2 curl -sS --max-time 2 -D - -o /dev/null "http://198.19.0.20/" 2>&1 | tr -d '\r' | sed -n 's/^X-Client: \([0-9.]*\):.*/\1/p')
if [ "$seen_cl" = "$NODE_IP" ] && [ "$seen_pod" = "$(pod_ip 2)" ]; then
	pass "$name"
else
	fail "$name" "pod21 saw the client as '$seen_cl' (want $NODE_IP) and pod2 as '$seen_pod' (want $(pod_ip 2))"
fi

name="externalTrafficPolicy Local without a local endpoint: dropped from outside, short-circuited to all endpoints from pods and the node"
outside="$(answers tcp_from in_cl "http://$NODE_IP:30086/")| $(answers tcp_from in_cl "http://$EXT_IP/")"
inside="$(answers tcp_from pod1 "http://$NODE_IP:30086/")| $(answers tcp_from pod1 "http://$EXT_IP/")|"
inside+=" $(answers udp_from pod1 "$EXT_IP" 53)| $(answers tcp_from in_node "http://$EXT_IP/")"
if [ "$inside" = "pod21 | pod21 | pod21 | pod21 " ] && ! grep -q pod <<<"$outside"; then
	pass "$name"
else
	fail "$name" "from outside (want no answer): $outside; from pod1 NodePort | external IP | UDP, node-1 external IP (want pod21): $inside"
fi

name="a NAT clash (one client port to two Services with one backend): each answer from its own Service, as the kernel gives"
got=$(in_cl /usr/bin/python3 "$SESS" two 198.19.0.51 198.19.0.52 53 40000 2>&1)
got2=$(in_pod 2 /usr/bin/python3 "$SESS" two 198.19.0.51 198.19.0.52 53 40001 2>&1)
want="198.19.0.51 198.19.0.52 198.19.0.51 198.19.0.52"
if [ "$got" = "$want" ] && [ "$got2" = "$want" ]; then
	pass "$name"
else
	fail "$name" "answers came from: client '$got', pod2 '$got2' (want $want)"
fi

name="a TCP NAT clash (two source ports for four connections to two Services with one backend): all four answered"
ip netns exec "$NS_CL" sysctl -qw net.ipv4.ip_local_port_range="40100 40101"
got=$(in_cl /usr/bin/python3 "$SESS" tcp4 198.19.0.51 198.19.0.52 80 2>&1)
ip netns exec "$NS_CL" sysctl -qw net.ipv4.ip_local_port_range="32768 60999"
if [ "$got" = "pod1 pod1 pod1 pod1" ]; then
	pass "$name"
else
	fail "$name" "answers: '$got' (want pod1 four times)"
fi

name="an endpoint removed from one Service moves that Service's UDP flows, though another Service keeps it; emptied: refused"
q() { in_cl "$TOOLS/udpq" 198.19.0.61 53 --local-port 41000 --timeout-ms 1000 2>&1; }
before=$(q)
out=$(xs apply "$RUN_DIR/shared-a-2.json" 2>&1)
after=$(q)
other=$(in_cl "$TOOLS/udpq" 198.19.0.62 53 --timeout-ms 1000 2>&1)
out2=$(xs apply "$RUN_DIR/shared-a-none.json" 2>&1)
emptied=$(q)
xs apply "$FILE" >/dev/null 2>&1
if [ "$before" = pod1 ] && [ "$after" = pod2 ] && [ "$other" = pod1 ] && grep -q "Connection refused" <<<"$emptied" &&
	grep -q "UDP flows to removed endpoints forgotten" <<<"$out"; then
	pass "$name"
else
	fail "$name" "one client port to shared-a: '$before', after pod1 left it: '$after' (apply: $out), shared-b: '$other', emptied: '$emptied' ($out2)"
fi

name="a server that streams keeps its UDP flows: replies refresh them (unreplied timeout 2 s, 6 sessions of 4 s)"
ok=true
if ! wait_until 5 grep -qs '^ready$' "$RUN_DIR/push1.log" "$RUN_DIR/push2.log" ||
	! out=$(xs attach "$NIC" --node-name node-1 --cluster-cidr "$CIDRS" --ct-timeout-udp 2 2>&1); then
	ok=false
	got="setup: $out $(cat "$RUN_DIR"/push*.log)"
else
	pids=()
	for i in 1 2 3 4 5 6; do
		in_cl /usr/bin/python3 "$SESS" push-client 198.19.0.70 60 $((42000 + i)) 4 >"$RUN_DIR/sess$i" 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}"
	got=$(cat "$RUN_DIR"/sess? | tr '\n' ';')
	[ "$(grep -c '^same pod' "$RUN_DIR"/sess? | awk -F: '{ s += $2 } END { print s }')" = 6 ] || ok=false
	xs attach "$NIC" --node-name node-1 --cluster-cidr "$CIDRS" >/dev/null 2>&1
fi
if $ok; then pass "$name"; else fail "$name" "sessions: $got"; fi

name="the node's own connection to a Service without endpoints is refused (TCP), port unreachable (UDP)"
t0=$(date +%s%N)
tcp=$(in_node curl -sS --max-time 2 "http://198.19.0.40/" 2>&1)
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
udp=$(udp_from in_node 198.19.0.40 53)
if [ "$rc" -eq 7 ] && [ "$ms" -lt 1000 ] && grep -q "Connection refused" <<<"$udp"; then
	pass "$name"
else
	fail "$name" "TCP: curl exit $rc after $ms ms (want 7, refused, at once): $tcp; UDP: $udp"
fi

bulk() { "$1" /usr/bin/python3 "$BULK" "$2" "$3" "$4" "$5" 2>&1; }
name="the node's own bulk TCP through a ClusterIP: 20 MB each way, to a pod here and on the other node"
got="$(bulk in_node get 198.19.0.10 9000 $MB20) $(bulk in_node put 198.19.0.10 9000 $MB20)"
got+=" $(bulk in_node get 198.19.0.20 9000 $MB20) $(bulk in_node put 198.19.0.20 9000 $MB20)"
if [ "$got" = "ok ok ok ok" ]; then
	pass "$name"
else
	fail "$name" "download | upload, pod1 then pod21: $got"
fi

# The NIC as kind leaves it (GRO off), then as a physical NIC has it by
# default (GRO on: the node's NIC only, never a pod's end).
for gro in off on; do
	name="20 MB each way through a NodePort to a pod on the other node, GRO $gro on the NIC"
	step ip netns exec "$NS_NODE" ethtool -K "$NIC" gro "$gro" >/dev/null
	got="$(bulk in_cl get "$NODE_IP" 30085 $MB20) $(bulk in_cl put "$NODE_IP" 30085 $MB20)"
	got+=" $(bulk pod1 get "$NODE_IP" 30085 $MB20) $(bulk pod1 get 198.19.0.20 9000 $MB20)"
	step ip netns exec "$NS_NODE" ethtool -K "$NIC" gro off >/dev/null
	if [ "$got" = "ok ok ok ok" ]; then
		pass "$name"
	else
		fail "$name" "client download | upload, pod1 download through the NodePort | the ClusterIP: $got"
	fi
done

# Every packet the datapath counted as sent on must have arrived: no XDP
# transmit error and no receive drop on any veth of the run, and no device's
# TX drops (XDP_DROP, xdp_drops, is the datapath's own verdict: Local
# policies without a local endpoint).
drops() {
	local ns dev
	for ns in "${XS_NAMESPACES[@]}"; do
		for dev in $(ip -n "$ns" -o link show type veth | awk -F': ' '{print $2}' | cut -d@ -f1); do
			ip netns exec "$ns" ethtool -S "$dev" 2>/dev/null |
				awk -v d="$ns/$dev" '/xdp_tx_errors|xdp_xmit_errors|rx_queue_[0-9]+_drops/ && $2 > 0 { printf "%s %s %s; ", d, $1, $2 }'
			ip -n "$ns" -s -j link show "$dev" | jq -r --arg d "$ns/$dev" '.[0].stats64.tx.dropped as $t | if $t > 0 then "\($d) tx dropped \($t); " else empty end'
		done
	done
}
name="no packet the datapath sent on was dropped by a device (XDP errors, veth drops)"
sent=$(xs list --json | jq '.global | .fast_path + .redirect')
d=$(drops)
if [ -z "$d" ] && [ "$sent" -gt 0 ]; then
	pass "$name"
else
	fail "$name" "sent on: $sent; drops: $d"
fi

name="a jumbo MTU (9001) on the NIC: attach takes it (xdp.frags where XDP runs), 20 MB through a ClusterIP arrive"
mtu_ok=true
for l in "$NS_NODE $NIC" "$NS_RT rt1" "$NS_RT rtc" "$NS_CL cl0" "$NS_NODE2 $NIC" "$NS_RT rt2"; do
	step ip -n "${l% *}" link set "${l#* }" mtu 9001 || { mtu_ok=false; break; }
done
out=$(xs attach "$NIC" --node-name node-1 --cluster-cidr "$CIDRS" 2>&1)
rc=$?
$mtu_ok || { rc=1; out+=" (the MTU could not be set)"; }
mtu=$(ip -n "$NS_NODE" -j link show "$NIC" | jq '.[0].mtu')
got="$(bulk in_cl get 198.19.0.20 9000 $MB20) $(bulk in_cl put 198.19.0.20 9000 $MB20)"
if [ "$rc" -eq 0 ] && [ "$mtu" = 9001 ] && [ "$got" = "ok ok" ]; then
	pass "$name"
else
	fail "$name" "attach (rc $rc, MTU $mtu): $out; client download | upload through 198.19.0.20: $got"
fi

xs_status
