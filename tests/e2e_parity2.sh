#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# kube-proxy parity that needs two nodes (issue 5), on the cluster of
# tests/lib.sh (cluster2_up), named after the Kubernetes e2e tests they
# mirror: externalTrafficPolicy Local seen from the outside client through
# each node's NodePort. The node with a local endpoint answers and the pod
# sees the client's own address; the node without one drops (no RST, no
# ICMP: the client times out), as kube-proxy does.
. "$(dirname "$0")/lib.sh"

cluster2_up || { fail "setup" "the two-node namespace cluster could not be built"; exit 1; }

# local_np NAME VIP NODEPORT POD: a NodePort Service with
# externalTrafficPolicy Local and its slice, one endpoint: POD on its node.
local_np() {
	local node="node-1"
	[ "$4" -ge 10 ] && node="node-2"
	cat <<JSON
{"apiVersion":"v1","kind":"Service","metadata":{"name":"$1","namespace":"e2e"},
 "spec":{"type":"NodePort","clusterIP":"$2","externalTrafficPolicy":"Local",
  "ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":8080,"nodePort":$3}]}}
JSON
	printf ',{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"%s-a","namespace":"e2e",' "$1"
	printf '"labels":{"kubernetes.io/service-name":"%s"}},"addressType":"IPv4","ports":[%s],' "$1" "$(k8s_ports http:8080/TCP)"
	printf '"endpoints":[{"addresses":["%s"],"nodeName":"%s","conditions":{"ready":true}}]}' "$(pod_ip "$4")" "$node"
}
FILE=$RUN_DIR/parity2.json
k8s_list "$(local_np on1 198.19.0.80 30080 1)" "$(local_np on2 198.19.0.81 30081 21)" >"$FILE"

NODE1=$NODE_IP
# client_seen URL: "BODY ADDR:PORT", the pod that answered and the client it saw.
client_seen() {
	curl_vip -D - "$1" 2>/dev/null | tr -d '\r' |
		awk '/^X-Client: / { c = $2 } END { print last, c } NF { last = $0 }'
}
# counter XS GLOBAL: one global counter of a node (xs or xs2).
counter() { "$1" list --json | jq ".global.$2"; }

name="attach on both nodes with their node names, apply two externalTrafficPolicy Local Services"
if ! out=$(xs attach "$NIC" --node-name node-1 2>&1 && xs2 attach "$NIC" --node-name node-2 2>&1 &&
	   xs apply "$FILE" 2>&1 && xs2 apply "$FILE" 2>&1); then
	fail "$name" "$out"
	exit 1
fi
pass "$name"

# local_case NODE_ADDR NODEPORT POD: through that node the NodePort reaches
# POD and the pod sees the client's address.
local_case() {
	local body seen
	read -r body seen <<<"$(client_seen "http://$1:$2/")"
	if [ "$body" = "pod$3" ] && [ "${seen%:*}" = "$CLIENT_IP" ]; then
		return 0
	fi
	echo "through $1:$2: answer '$body', client seen '$seen' (want pod$3, $CLIENT_IP)"
	return 1
}
# dropped_case XS NODE_ADDR NODEPORT: through that node the NodePort times
# out (curl 28, not 7: no RST), the node counts no_backend and sends no
# reject.
dropped_case() {
	local nb0 rst0 nb1 rst1 rc
	nb0=$(counter "$1" no_backend) rst0=$(counter "$1" reject_rst)
	curl_vip --max-time 1 "http://$2:$3/" >/dev/null 2>&1
	rc=$?
	nb1=$(counter "$1" no_backend) rst1=$(counter "$1" reject_rst)
	if [ "$rc" = 28 ] && [ "$nb1" -gt "$nb0" ] && [ "$rst1" = "$rst0" ]; then
		return 0
	fi
	echo "through $2:$3: curl exit $rc (want 28, timed out), no_backend $nb0 -> $nb1 (want more), reject_rst $rst0 -> $rst1 (want the same)"
	return 1
}

name="ESIPP should work for type=NodePort: the node with the endpoint answers, the client's address preserved"
if why=$(local_case "$NODE1" 30080 1) && why=$(local_case "$NODE2_IP" 30081 21); then
	pass "$name"
else
	fail "$name" "$why"
fi

name="ESIPP should only target nodes with endpoints: a node without a local endpoint drops (the client times out, no RST)"
if why=$(dropped_case xs2 "$NODE2_IP" 30080) && why=$(dropped_case xs "$NODE1" 30081); then
	pass "$name"
else
	fail "$name" "$why"
fi

name="externalTrafficPolicy Local: moving the endpoint to the other node moves the answering node"
k8s_list "$(local_np on1 198.19.0.80 30080 22)" "$(local_np on2 198.19.0.81 30081 21)" >"$FILE"
out=$(xs apply "$FILE" 2>&1 && xs2 apply "$FILE" 2>&1)
if ! why=$(local_case "$NODE2_IP" 30080 22); then
	fail "$name" "apply: $out; $why"
elif ! why=$(dropped_case xs "$NODE1" 30080); then
	fail "$name" "$why"
else
	pass "$name"
fi

xs_status
