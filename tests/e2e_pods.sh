#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Pods reaching Services (issue 5 item 7), on the two-node cluster of
# tests/lib.sh (cluster2_up), named after the Kubernetes e2e tests they
# mirror (test/e2e/network/service.go): a client pod reaches a ClusterIP
# whose backend is on its node and on the other node, and a pod reaches
# itself through its Service (hairpin), a pod's connection to a Service
# without endpoints is refused; `attach-pod` and `detach-pod`.
. "$(dirname "$0")/lib.sh"

HAIRPIN=198.18.250.1   # the hairpin source address, inside the test range
SAME_VIP=198.19.0.10   # -> pod2 (node-1)
CROSS_VIP=198.19.0.20  # -> pod21 (node-2)
SELF_VIP=198.19.0.30   # -> pod1 (node-1)
ALL_VIP=198.19.0.40    # -> every pod of both nodes
NODE1_VIP=198.19.0.50  # -> pod1, pod2 (node-1)
EMPTY_VIP=198.19.0.60  # no endpoint
LOCAL_VIP=198.19.0.61  # internalTrafficPolicy Local -> pod21 (node-2) only

cluster2_up || { fail "setup" "the two-node namespace cluster could not be built"; exit 1; }

# A Service with TCP 80 -> 8080 and UDP 53 -> 5353 on the given pods, each
# with its nodeName.
pod_service() { # NAME VIP PODS
	local eps="" sep="" n
	for n in $3; do
		eps+="$sep{\"addresses\":[\"$(pod_ip "$n")\"],\"nodeName\":\"node-$([ "$n" -lt 10 ] && echo 1 || echo 2)\",\"conditions\":{\"ready\":true}}"
		sep=","
	done
	k8s_service "$1" "$2" http:80/TCP:8080 dns:53/UDP:5353
	printf '\n'
	printf '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"%s-a","namespace":"e2e",' "$1"
	printf '"labels":{"kubernetes.io/service-name":"%s"}},"addressType":"IPv4","ports":[%s],"endpoints":[%s]}' \
		"$1" "$(k8s_ports http:8080/TCP dns:5353/UDP)" "$eps"
	printf '\n'
}
FILE=$RUN_DIR/pods.json
mapfile -t items < <(pod_service same "$SAME_VIP" 2; pod_service cross "$CROSS_VIP" 21
		     pod_service self "$SELF_VIP" 1; pod_service all "$ALL_VIP" "1 2 21 22"
		     pod_service node1 "$NODE1_VIP" "1 2"; pod_service empty "$EMPTY_VIP" ""
		     pod_service local "$LOCAL_VIP" 21 |
			     sed 's/"spec":{"type":"ClusterIP",/"spec":{"type":"ClusterIP","internalTrafficPolicy":"Local",/')
k8s_list "${items[@]}" >"$FILE"

# pod_curl N URL [curl args]: the body of one new HTTP request from pod N.
pod_curl() { local n=$1; shift; in_pod "$n" curl -sS --max-time 2 "$@"; }
# pod_udp N VIP COUNT: COUNT answers of new UDP flows from pod N to VIP:53.
pod_udp() { in_pod "$1" "$TOOLS/udpq" "$2" 53 --count "$3" --timeout-ms 1000 2>&1; }
global() { xs list --json | jq ".global.$1"; }
pod_prog_id() { # NODE_NS DEV: the id of the BPF program on DEV's tc ingress ("" if none)
	ip netns exec "$1" tc -j filter show dev "$2" ingress 2>/dev/null | jq -r '[.[] | .options.prog.id // empty][0] // ""'
}

name="attach on both nodes, apply, attach-pod to every pod's veth"
out=$(xs attach "$NIC" --node-name node-1 --hairpin-address "$HAIRPIN" 2>&1 &&
      xs2 attach "$NIC" --node-name node-2 --hairpin-address "$HAIRPIN" 2>&1 &&
      xs apply "$FILE" 2>&1 && xs2 apply "$FILE" 2>&1 &&
      xs attach-pod vp1 vp2 2>&1 && xs2 attach-pod vp21 vp22 2>&1)
if [ $? -ne 0 ]; then
	fail "$name" "$out"
	exit 1
fi
ids="$(pod_prog_id "$NS_NODE" vp1) $(pod_prog_id "$NS_NODE" vp2) $(pod_prog_id "$NS_NODE2" vp21)"
if [ "$(wc -w <<<"$ids")" = 3 ]; then
	pass "$name"
else
	fail "$name" "programs on vp1 vp2 vp21 ingress: '$ids'"
fi

name="should be able to reach a Service from a pod, backend on the same node (TCP and UDP)"
tcp=$(for ((j = 0; j < 5; j++)); do pod_curl 1 "http://$SAME_VIP/" 2>&1 || echo failed; done | sort | uniq -c | tr -s ' \n' ' ')
udp=$(pod_udp 1 "$SAME_VIP" 5 | sort | uniq -c | tr -s ' \n' ' ')
if [ "$tcp" = " 5 pod2 " ] && [ "$udp" = " 5 pod2 " ]; then
	pass "$name"
else
	fail "$name" "5 requests from pod1 to $SAME_VIP got: TCP '$tcp', UDP '$udp' (want pod2 only)"
fi

name="should be able to reach a Service from a pod, backend on another node (TCP and UDP)"
tcp=$(for ((j = 0; j < 5; j++)); do pod_curl 1 "http://$CROSS_VIP/" 2>&1 || echo failed; done | sort | uniq -c | tr -s ' \n' ' ')
udp=$(pod_udp 1 "$CROSS_VIP" 5 | sort | uniq -c | tr -s ' \n' ' ')
if [ "$tcp" = " 5 pod21 " ] && [ "$udp" = " 5 pod21 " ]; then
	pass "$name"
else
	fail "$name" "5 requests from pod1 to $CROSS_VIP got: TCP '$tcp', UDP '$udp' (want pod21 only)"
fi

name="should preserve source pod IP for traffic thru service cluster IP"
hdr=$(pod_curl 1 -D - -o /dev/null "http://$SAME_VIP/" 2>&1 | tr -d '\r' | sed -n 's/^X-Client: //p')
hdr2=$(pod_curl 1 -D - -o /dev/null "http://$CROSS_VIP/" 2>&1 | tr -d '\r' | sed -n 's/^X-Client: //p')
if [ "${hdr%:*}" = "$(pod_ip 1)" ] && [ "${hdr2%:*}" = "$(pod_ip 1)" ]; then
	pass "$name"
else
	fail "$name" "pod2 saw the client as '$hdr', pod21 as '$hdr2' (want $(pod_ip 1))"
fi

name="should be rejected when no endpoints exist: from a pod, connection refused (TCP), port unreachable (UDP); Local without a local endpoint drops"
r0=$(global reject_rst) i0=$(global reject_icmp)
pod_curl 1 "http://$EMPTY_VIP/" >/dev/null 2>"$RUN_DIR/refused.err"
rc=$?
udp=$(in_pod 1 "$TOOLS/udpq" "$EMPTY_VIP" 53 --timeout-ms 2000 2>&1)
r1=$(global reject_rst) i1=$(global reject_icmp)
pod_curl 1 --max-time 1 "http://$LOCAL_VIP/" >/dev/null 2>&1
lrc=$?
# curl says "Couldn't connect" for a RST; reject_rst below tells it was one.
if [ "$rc" != 7 ]; then
	fail "$name" "curl from pod1 to $EMPTY_VIP:80 exited $rc (want 7, connection refused, not 28, timed out): $(cat "$RUN_DIR/refused.err")"
elif ! grep -q "Connection refused" <<<"$udp"; then
	fail "$name" "a UDP query from pod1 to $EMPTY_VIP:53 got: $udp (want Connection refused)"
elif [ "$r1" -le "$r0" ] || [ "$i1" -le "$i0" ]; then
	fail "$name" "node-1 counters reject_rst $r0 -> $r1, reject_icmp $i0 -> $i1 (want both more)"
elif [ "$lrc" != 28 ]; then
	fail "$name" "curl from pod1 to $LOCAL_VIP (internalTrafficPolicy Local, endpoint on node-2 only) exited $lrc (want 28, timed out)"
else
	pass "$name"
fi

name="should allow pods to hairpin back to themselves through services (TCP and UDP)"
h0=$(global hairpin)
resp=$(pod_curl 1 -D - "http://$SELF_VIP/" 2>&1 | tr -d '\r')
udp=$(pod_udp 1 "$SELF_VIP" 5 | sort | uniq -c | tr -s ' \n' ' ')
seen=$(sed -n 's/^X-Client: //p' <<<"$resp")
body=$(tail -n 1 <<<"$resp")
h1=$(global hairpin)
if [ "$body" != pod1 ] || [ "$udp" != " 5 pod1 " ]; then
	fail "$name" "pod1 through $SELF_VIP got: TCP '$body', UDP '$udp' (want pod1)"
elif [ "${seen%:*}" != "$HAIRPIN" ]; then
	fail "$name" "pod1 saw its own request come from '$seen', want the hairpin address $HAIRPIN"
elif [ "$h1" -le "$h0" ]; then
	fail "$name" "the hairpin counter did not move ($h0 -> $h1)"
else
	pass "$name"
fi

# reaches_all FROM VIP N: new connections from pod FROM (or the client: cl)
# until N different pods answered (bounded: 80 requests).
reaches_all() {
	local seen="" body i
	for ((i = 0; i < 80; i++)); do
		if [ "$1" = cl ]; then body=$(curl_vip "http://$2/" 2>/dev/null) || return 1
		else body=$(pod_curl "$1" "http://$2/" 2>/dev/null) || return 1; fi
		[[ " $seen " == *" $body "* ]] || seen+=" $body"
		[ "$(wc -w <<<"$seen")" -eq "$3" ] && return 0
	done
	return 1
}

name="a pod reaches every pod of both nodes through one Service, itself included"
if reaches_all 22 "$ALL_VIP" 4 && reaches_all 1 "$ALL_VIP" 4; then
	pass "$name"
else
	fail "$name" "pod22 or pod1 did not reach all four pods through $ALL_VIP in 80 requests"
fi

name="the outside client still reaches the pods (their replies translated on the pod veth)"
r0=$(global reply_nat)
if ! reaches_all cl "$NODE1_VIP" 2; then
	fail "$name" "the client did not reach pod1 and pod2 through $NODE1_VIP"
elif [ "$(global reply_nat)" -le "$r0" ]; then
	fail "$name" "reply_nat did not move"
else
	pass "$name"
fi

name="the node reaches a ClusterIP whose backend is on the node, and one on another node"
same=$(in_node curl -sS --max-time 2 "http://$SAME_VIP/" 2>&1)
cross=$(in_node curl -sS --max-time 2 "http://$CROSS_VIP/" 2>&1)
if [ "$same" = pod2 ] && [ "$cross" = pod21 ]; then
	pass "$name"
else
	fail "$name" "node-1 to $SAME_VIP got '$same' (want pod2), to $CROSS_VIP '$cross' (want pod21)"
fi

name="attach again: the pods' veths get the new program and keep working"
old=$(pod_prog_id "$NS_NODE" vp1)
out=$(xs attach "$NIC" --node-name node-1 --hairpin-address "$HAIRPIN" 2>&1)
new=$(pod_prog_id "$NS_NODE" vp1)
pinned=$(in_node bpftool -j prog show pinned "$PIN/xs_prog_tc_pod" 2>/dev/null | jq -r .id)
body=$(pod_curl 1 "http://$SAME_VIP/" 2>&1)
if [ -z "$new" ] || [ "$new" = "$old" ] || [ "$new" != "$pinned" ] || [ "$body" != pod2 ]; then
	fail "$name" "vp1's program $old -> $new (pinned: $pinned); pod1 to $SAME_VIP: '$body'; attach said: $out"
else
	pass "$name"
fi

name="attach --hairpin-address refuses what is not a unicast IPv4 address (misuse), changing nothing"
bad=""
for a in 224.0.0.1 0.0.0.0 127.0.0.1 198.18.250 2001:db8::1; do
	xs attach "$NIC" --node-name node-1 --hairpin-address "$a" >/dev/null 2>"$RUN_DIR/h.err"
	rc=$?
	[ "$rc" = 2 ] && grep -q -- "--hairpin-address.*'$a'" "$RUN_DIR/h.err" || bad+=" $a: exit $rc $(cat "$RUN_DIR/h.err");"
done
resp=$(pod_curl 1 -D - "http://$SELF_VIP/" 2>&1 | tr -d '\r' | sed -n 's/^X-Client: //p')
if [ -z "$bad" ] && [ "${resp%:*}" = "$HAIRPIN" ]; then
	pass "$name"
else
	fail "$name" "${bad:-hairpin source afterwards '$resp', want $HAIRPIN}"
fi

name="attach-pod refuses the NIC and a missing device, and changes nothing"
nic=$(pod_prog_id "$NS_NODE" "$NIC")
in_node "$XDPSVC" detach-pod vp2 >/dev/null 2>&1
xs attach-pod vp2 "$NIC" >/dev/null 2>"$RUN_DIR/nic.err"
rc1=$?
xs attach-pod vp2 nosuchdev >/dev/null 2>"$RUN_DIR/missing.err"
rc2=$?
vp2=$(pod_prog_id "$NS_NODE" vp2)
nic2=$(pod_prog_id "$NS_NODE" "$NIC")
xs attach-pod vp2 >/dev/null 2>&1
if [ "$rc1" != 1 ] || [ "$rc2" != 1 ] || ! grep -q "NIC programs" "$RUN_DIR/nic.err" ||
	! grep -q "nosuchdev" "$RUN_DIR/missing.err"; then
	fail "$name" "exit $rc1 ($(cat "$RUN_DIR/nic.err")), exit $rc2 ($(cat "$RUN_DIR/missing.err"))"
elif [ -n "$vp2" ] || [ -z "$nic" ] || [ "$nic2" != "$nic" ]; then
	fail "$name" "vp2 (detached before) got program '$vp2'; the NIC's ingress program went '$nic' -> '$nic2'"
else
	pass "$name"
fi

# Without the pod program, pod1's packets to a ClusterIP still leave through
# the NIC (the node routes the ClusterIPs to the router), where tc egress
# translates them: a backend elsewhere answers, but hairpin cannot work.
name="detach-pod removes the program: the pod's packets are no longer translated on its veth, hairpin fails"
nic=$(pod_prog_id "$NS_NODE" "$NIC")
out=$(in_node "$XDPSVC" detach-pod vp1 2>&1)
rc=$?
left=$(pod_prog_id "$NS_NODE" vp1)
d0=$(global pod_dnat)
pod_curl 1 --max-time 1 "http://$SELF_VIP/" >/dev/null 2>&1
crc=$?
d1=$(global pod_dnat)
if [ "$rc" != 0 ] || [ -n "$left" ]; then
	fail "$name" "detach-pod exit $rc ($out); program left on vp1: '$left'"
elif [ "$crc" = 0 ] || [ "$d1" != "$d0" ]; then
	fail "$name" "pod1 still reached itself through $SELF_VIP (curl exit $crc, pod_dnat $d0 -> $d1)"
elif [ -z "$nic" ] || [ "$(pod_prog_id "$NS_NODE" "$NIC")" != "$nic" ]; then
	fail "$name" "the NIC's ingress program changed: '$nic' -> '$(pod_prog_id "$NS_NODE" "$NIC")'"
else
	pass "$name"
fi

name="detach of the NIC removes the pod program from every pod's veth"
xs attach-pod vp1 >/dev/null 2>&1
xs detach "$NIC" >/dev/null 2>&1
left="$(pod_prog_id "$NS_NODE" vp1)$(pod_prog_id "$NS_NODE" vp2)"
if [ -z "$left" ] && [ -n "$(pod_prog_id "$NS_NODE2" vp21)" ]; then
	pass "$name"
else
	fail "$name" "left on vp1/vp2: '$left'; node-2's vp21 has '$(pod_prog_id "$NS_NODE2" vp21)' (want it kept)"
fi

xs_status
