#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# External traffic to a backend on another node (issue 5 item 8), on the
# two-node cluster of tests/lib.sh (cluster2_up): NodePorts, external and
# load-balancer IPs with externalTrafficPolicy Cluster reach pods on both
# nodes from outside, through either node; a flow to the other node leaves
# with the node's address and a port of the SNAT range as source and its
# replies come back through the node; Local keeps the client's address.
. "$(dirname "$0")/lib.sh"

WEB_VIP=198.19.0.10
EXTERNAL_IP=198.19.5.5    # the router sends 198.19.0.0/16 to node-1
LB_IP=198.19.9.9
SNAT_MIN=62000
SNAT_MAX=62099

cluster2_up || { fail "setup" "the two-node namespace cluster could not be built"; exit 1; }

# slice SERVICE PODS PORT...: an EndpointSlice with each pod's nodeName.
slice() {
	local eps="" sep="" n svc=$1 pods=$2
	shift 2
	for n in $pods; do
		eps+="$sep{\"addresses\":[\"$(pod_ip "$n")\"],\"nodeName\":\"node-$([ "$n" -lt 10 ] && echo 1 || echo 2)\",\"conditions\":{\"ready\":true}}"
		sep=","
	done
	printf '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"%s-a","namespace":"e2e",' "$svc"
	printf '"labels":{"kubernetes.io/service-name":"%s"}},"addressType":"IPv4","ports":[%s],"endpoints":[%s]}' \
		"$svc" "$(k8s_ports "$@")" "$eps"
}
# nodeport NAME VIP POLICY PORT...: a NodePort Service; PORT is
# NAME:PORT/PROTO:TARGET:NODEPORT.
service() {
	local name=$1 vip=$2 policy=$3 p sep="" ports="" extra=""
	shift 3
	for p in "$@"; do
		IFS=: read -r pn rest target np <<<"$p"
		ports+="$sep{\"name\":\"$pn\",\"port\":${rest%/*},\"protocol\":\"${rest#*/}\",\"targetPort\":$target,\"nodePort\":$np}"
		sep=","
	done
	[ "$name" = web ] && extra=",\"externalIPs\":[\"$EXTERNAL_IP\"]"
	printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"e2e"},' "$name"
	printf '"spec":{"type":"LoadBalancer","clusterIP":"%s","externalTrafficPolicy":"%s","ports":[%s]%s},' \
		"$vip" "$policy" "$ports" "$extra"
	if [ "$name" = web ]; then
		printf '"status":{"loadBalancer":{"ingress":[{"ip":"%s"}]}}}' "$LB_IP"
	else
		printf '"status":{}}'
	fi
}
FILE=$RUN_DIR/snat.json
k8s_list "$(service web "$WEB_VIP" Cluster http:80/TCP:8080:30080 dns:53/UDP:5353:30053)" \
	"$(slice web "1 2 21 22" http:8080/TCP dns:5353/UDP)" \
	"$(service remote 198.19.0.20 Cluster http:80/TCP:8080:30081 dns:53/UDP:5353:30054)" \
	"$(slice remote 21 http:8080/TCP dns:5353/UDP)" \
	"$(service near 198.19.0.30 Cluster http:80/TCP:8080:30082)" "$(slice near 1 http:8080/TCP)" \
	"$(service local 198.19.0.40 Local http:80/TCP:8080:30083)" "$(slice local "1 21" http:8080/TCP)" \
	>"$FILE"

NODE1=$NODE_IP
global() { xs list --json | jq ".global.$1"; }
# client_seen URL: "BODY ADDR:PORT", the pod that answered and the client it saw.
client_seen() {
	curl_vip -D - "$1" 2>/dev/null | tr -d '\r' |
		awk '/^X-Client: / { c = $2 } END { print last, c } NF { last = $0 }'
}

name="attach on both nodes with their SNAT settings, apply a LoadBalancer Service over pods of both nodes"
out=$(xs attach "$NIC" --node-name node-1 --snat-ports "$SNAT_MIN-$SNAT_MAX" --ct-timeout-udp 120 2>&1 &&
      xs2 attach "$NIC" --node-name node-2 2>&1 && xs apply "$FILE" 2>&1 && xs2 apply "$FILE" 2>&1)
if [ $? -ne 0 ]; then
	fail "$name" "$out"
	exit 1
fi
pass "$name"

# reaches_all URL: new connections from the client until all four pods
# answered (bounded: 80 requests).
reaches_all() {
	local seen="" body i
	for ((i = 0; i < 80; i++)); do
		body=$(curl_vip "$1" 2>/dev/null) || return 1
		[[ " $seen " == *" $body "* ]] || seen+=" $body"
		[ "$(wc -w <<<"$seen")" -eq 4 ] && return 0
	done
	return 1
}

name="should be able to create a functioning NodePort service: from outside, through both nodes, to pods on both (TCP)"
if reaches_all "http://$NODE1:30080/" && reaches_all "http://$NODE2_IP:30080/"; then
	pass "$name"
else
	fail "$name" "the NodePort on node-1 or node-2 did not reach all four pods in 80 connections"
fi

name="should be able to create a functioning NodePort service: from outside, through both nodes, to pods on both (UDP)"
a1=$(in_cl "$TOOLS/udpq" "$NODE1" 30053 --count 40 --timeout-ms 1000 2>&1)
a2=$(in_cl "$TOOLS/udpq" "$NODE2_IP" 30053 --count 40 --timeout-ms 1000 2>&1)
if [ "$(sort -u <<<"$a1" | tr '\n' ' ')" = "pod1 pod2 pod21 pod22 " ] &&
	[ "$(sort -u <<<"$a2" | tr '\n' ' ')" = "pod1 pod2 pod21 pod22 " ]; then
	pass "$name"
else
	fail "$name" "40 queries through node-1 got: $(sort <<<"$a1" | uniq -c | tr '\n' ' '); through node-2: $(sort <<<"$a2" | uniq -c | tr '\n' ' ')"
fi

name="should be able to connect to an external IP and a load-balancer IP, to pods on both nodes"
if reaches_all "http://$EXTERNAL_IP/" && reaches_all "http://$LB_IP/"; then
	pass "$name"
else
	fail "$name" "$EXTERNAL_IP or $LB_IP (routed to node-1) did not reach all four pods in 80 connections"
fi

name="a backend on another node sees the node's address and a port of the SNAT range; on this node, the client"
s0=$(global snat)
read -r remote rseen <<<"$(client_seen "http://$NODE1:30081/")"
read -r near nseen <<<"$(client_seen "http://$NODE1:30082/")"
s1=$(global snat)
rport=${rseen#*:}
if [ "$remote" != pod21 ] || [ "${rseen%:*}" != "$NODE1" ] || [ "$rport" -lt "$SNAT_MIN" ] || [ "$rport" -gt "$SNAT_MAX" ]; then
	fail "$name" "through node-1 to pod21: answer '$remote', client seen '$rseen' (want $NODE1:$SNAT_MIN-$SNAT_MAX)"
elif [ "$near" != pod1 ] || [ "${nseen%:*}" != "$CLIENT_IP" ]; then
	fail "$name" "through node-1 to pod1 (on node-1): answer '$near', client seen '$nseen' (want $CLIENT_IP)"
elif [ "$s1" != $((s0 + 1)) ]; then
	fail "$name" "the snat counter went $s0 -> $s1, want one more"
else
	pass "$name"
fi

name="externalTrafficPolicy Local: the client's address is preserved"
read -r body seen <<<"$(client_seen "http://$NODE2_IP:30083/")"
if [ "$body" = pod21 ] && [ "${seen%:*}" = "$CLIENT_IP" ]; then
	pass "$name"
else
	fail "$name" "through node-2's Local NodePort: answer '$body', client seen '$seen' (want pod21, $CLIENT_IP)"
fi

# Two SNAT ports: two UDP flows to pod21 (alive for 120 s) take both, a
# third finds none and is dropped; once conntrack is flushed, the ports are
# free again.
name="SNAT ports run out: the flow beyond the range is dropped and counted; freed ports are used again"
xs attach "$NIC" --node-name node-1 --snat-ports 62000-62001 --ct-timeout-udp 120 >/dev/null 2>&1
xs conntrack flush >/dev/null 2>&1
d0=$(global drop_snat)
two=$(in_cl "$TOOLS/udpq" "$NODE1" 30054 --count 2 --timeout-ms 1000 2>&1)
third=$(in_cl "$TOOLS/udpq" "$NODE1" 30054 --count 1 --timeout-ms 500 2>&1)
rc3=$?
d1=$(global drop_snat)
xs conntrack flush >/dev/null 2>&1
again=$(in_cl "$TOOLS/udpq" "$NODE1" 30054 --count 2 --timeout-ms 1000 2>&1)
if [ "$(tr '\n' ' ' <<<"$two")" != "pod21 pod21 " ] || [ "$rc3" = 0 ] || [ "$d1" -le "$d0" ]; then
	fail "$name" "first two: '$two'; the third: exit $rc3 '$third' (want a timeout); drop_snat $d0 -> $d1"
elif [ "$(tr '\n' ' ' <<<"$again")" != "pod21 pod21 " ]; then
	fail "$name" "after the flush, two new flows got: '$again'"
else
	pass "$name"
fi

name="--snat-ports and --snat-address refuse bad values (misuse)"
bad=""
for arg in "--snat-ports 0-10" "--snat-ports 10-5" "--snat-ports 1-70000" "--snat-ports 5" \
	"--snat-address 224.1.1.1" "--snat-address nope"; do
	# shellcheck disable=SC2086 # option and value
	xs attach "$NIC" $arg >/dev/null 2>"$RUN_DIR/bad.err"
	rc=$?
	[ "$rc" = 2 ] && grep -q -- "${arg%% *}" "$RUN_DIR/bad.err" || bad+=" '$arg': exit $rc $(cat "$RUN_DIR/bad.err");"
done
if [ -z "$bad" ]; then
	pass "$name"
else
	fail "$name" "$bad"
fi

xs_status
