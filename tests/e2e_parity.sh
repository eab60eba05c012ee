#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# kube-proxy parity, end to end (issue 5), named after the Kubernetes e2e
# tests they mirror (test/e2e/network/service.go): a LoadBalancer Service
# reached from the outside world on its NodePort, an external IP and its
# load-balancer ingress IP; the cluster of tests/lib.sh.
. "$(dirname "$0")/lib.sh"

WEB_VIP=198.19.0.10
ECHO_VIP=198.19.0.20
EXTERNAL_IP=198.19.5.5
LB_IP=198.19.9.9
LB_PROXY_IP=198.19.9.10
ALL_PODS="$(pod_ip 1) $(pod_ip 2) $(pod_ip 3)"

cluster_up || { fail "setup" "the namespace cluster could not be built"; exit 1; }

# A LoadBalancer Service with everything: nodePort 30080, an external IP, an
# ingress IP in VIP mode and one in Proxy mode (not for kube-proxy to serve);
# and a NodePort UDP Service.
web_service() {
	cat <<JSON
{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"e2e"},
 "spec":{"type":"LoadBalancer","clusterIP":"$WEB_VIP","clusterIPs":["$WEB_VIP"],"ipFamilies":["IPv4"],
  "externalIPs":["$EXTERNAL_IP"],
  "ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":8080,"nodePort":30080}]},
 "status":{"loadBalancer":{"ingress":[{"ip":"$LB_IP","ipMode":"VIP"},{"ip":"$LB_PROXY_IP","ipMode":"Proxy"}]}}}
JSON
}
echo_service() {
	cat <<JSON
{"apiVersion":"v1","kind":"Service","metadata":{"name":"echo","namespace":"e2e"},
 "spec":{"type":"NodePort","clusterIP":"$ECHO_VIP","clusterIPs":["$ECHO_VIP"],"ipFamilies":["IPv4"],
  "ports":[{"name":"udp","port":53,"protocol":"UDP","targetPort":5353,"nodePort":30053}]}}
JSON
}
FILE=$RUN_DIR/parity.json
k8s_list "$(web_service)" "$(echo_service)" "$(k8s_slice web web-x7k2p "$ALL_PODS" http:8080/TCP)" \
	"$(k8s_slice echo echo-q9v4m "$ALL_PODS" udp:5353/UDP)" >"$FILE"

# reaches_all_pods URL: new connections from the client until every pod
# answered (bounded: 60 requests).
reaches_all_pods() {
	local seen="" body i
	for ((i = 0; i < 60; i++)); do
		body=$(curl_vip "$1" 2>/dev/null) || return 1
		[[ " $seen " == *" $body "* ]] || seen+=" $body"
		[ "$(wc -w <<<"$seen")" -eq 3 ] && return 0
	done
	return 1
}

name="attach with the NIC's address as the NodePort address, apply a LoadBalancer and a NodePort Service"
if ! out=$(xs attach "$NIC" 2>&1) || ! out2=$(xs apply "$FILE" 2>&1); then
	fail "$name" "$out $out2"
	exit 1
fi
scopes=$(xs list --json | jq -r '.frontends[] | "\(.name) \(.scope) \(.address):\(.port)/\(.protocol)"' | sort | tr '\n' ';')
want="echo ClusterIP $ECHO_VIP:53/UDP;echo NodePort $NODE_IP:30053/UDP;web ClusterIP $WEB_VIP:80/TCP;web ExternalIP $EXTERNAL_IP:80/TCP;web LoadBalancer $LB_IP:80/TCP;web NodePort $NODE_IP:30080/TCP;"
if [ "$scopes" = "$want" ]; then
	pass "$name"
else
	fail "$name" "list shows '$scopes', want '$want'"
fi

name="should be able to create a functioning NodePort service (TCP, from outside)"
if reaches_all_pods "http://$NODE_IP:30080/"; then
	pass "$name"
else
	fail "$name" "http://$NODE_IP:30080/ did not reach all three pods"
fi

name="should be able to create a functioning NodePort service (UDP, from outside)"
answers=$(in_cl "$TOOLS/udpq" "$NODE_IP" 30053 --count 30 --timeout-ms 1000 2>&1)
if [ "$(grep -cx 'pod[123]' <<<"$answers")" -eq 30 ] && [ "$(sort -u <<<"$answers" | wc -l)" -eq 3 ]; then
	pass "$name"
else
	fail "$name" "30 queries to $NODE_IP:30053 got: $(sort <<<"$answers" | uniq -c | tr '\n' ' ')"
fi

name="should be able to connect to an external IP"
if reaches_all_pods "http://$EXTERNAL_IP/"; then
	pass "$name"
else
	fail "$name" "http://$EXTERNAL_IP/ did not reach all three pods"
fi

name="load-balancer ingress IP (ipMode VIP) is served; ipMode Proxy is not"
if ! reaches_all_pods "http://$LB_IP/"; then
	fail "$name" "http://$LB_IP/ did not reach all three pods"
elif body=$(curl_vip --max-time 1 "http://$LB_PROXY_IP/" 2>/dev/null); then
	fail "$name" "the Proxy-mode ingress IP $LB_PROXY_IP answered: $body"
else
	pass "$name"
fi

name="a port of the node that is not a NodePort is left alone"
hits0=$(xs list --json | jq '.global.hit')
if body=$(curl_vip --max-time 1 "http://$NODE_IP:30081/" 2>/dev/null); then
	fail "$name" "$NODE_IP:30081 answered: $body"
elif [ "$(xs list --json | jq '.global.hit')" != "$hits0" ]; then
	fail "$name" "the datapath translated a packet to $NODE_IP:30081"
else
	pass "$name"
fi

name="--nodeport-addresses picks the NodePort addresses by CIDR; a bad CIDR is misuse"
xs attach "$NIC" --nodeport-addresses 198.51.100.0/24 >/dev/null 2>&1
xs apply "$FILE" >/dev/null 2>&1
none=$(xs list --json | jq '[.frontends[] | select(.scope == "NodePort")] | length')
xs attach "$NIC" --nodeport-addresses 10.0.0.0/8,198.18.0.0/24 >/dev/null 2>&1
xs apply "$FILE" >/dev/null 2>&1
back=$(xs list --json | jq -r '[.frontends[] | select(.scope == "NodePort") | .address] | unique | join(",")')
xs attach "$NIC" --nodeport-addresses 198.18.0.0/33 >/dev/null 2>"$RUN_DIR/cidr.err"
rc=$?
if [ "$none" != 0 ] || [ "$back" != "$NODE_IP" ] || [ "$rc" != 2 ] || ! grep -q '198.18.0.0/33' "$RUN_DIR/cidr.err"; then
	fail "$name" "NodePorts with 198.51.100.0/24: $none (want 0); with 198.18.0.0/24: $back (want $NODE_IP); bad CIDR exit $rc: $(cat "$RUN_DIR/cidr.err")"
else
	pass "$name"
fi

# Endpoints with a nodeName: pod1 on this node (node-1), pod2 and pod3 elsewhere.
slice_on_nodes() { # SERVICE SLICE "ADDR@NODE[~]..." PORT
	local svc=$1 slice=$2 eps="" sep="" e cond
	for e in $3; do
		# NODE~: serving and terminating, not ready (as k8s_slice's ADDR~).
		cond='"ready":true'
		[ "${e%\~}" != "$e" ] && cond='"ready":false,"serving":true,"terminating":true'
		e=${e%\~}
		eps+="$sep{\"addresses\":[\"${e%@*}\"],\"nodeName\":\"${e#*@}\",\"conditions\":{$cond}}"
		sep=","
	done
	printf '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"%s","namespace":"e2e",' "$slice"
	printf '"labels":{"kubernetes.io/service-name":"%s"}},"addressType":"IPv4","ports":[%s],"endpoints":[%s]}' \
		"$svc" "$(k8s_ports "$4")" "$eps"
}
local_service() { # NAME VIP NODEPORT: both traffic policies Local
	cat <<JSON
{"apiVersion":"v1","kind":"Service","metadata":{"name":"$1","namespace":"e2e"},
 "spec":{"type":"NodePort","clusterIP":"$2","internalTrafficPolicy":"Local","externalTrafficPolicy":"Local",
  "ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":8080,"nodePort":$3}]}}
JSON
}
LOCAL_FILE=$RUN_DIR/local.json
k8s_list "$(local_service local 198.19.0.50 30050)" "$(local_service remote 198.19.0.51 30051)" \
	"$(slice_on_nodes local local-a "$(pod_ip 1)@node-1 $(pod_ip 2)@node-2 $(pod_ip 3)@node-2" http:8080/TCP)" \
	"$(slice_on_nodes remote remote-a "$(pod_ip 2)@node-2 $(pod_ip 3)@node-2" http:8080/TCP)" >"$LOCAL_FILE"

name="should only target nodes with endpoints: internalTrafficPolicy and externalTrafficPolicy Local use this node's endpoints"
xs attach "$NIC" --node-name node-1 >/dev/null 2>&1
out=$(xs apply "$LOCAL_FILE" 2>&1)
answers=$(for ((j = 0; j < 20; j++)); do curl_vip "http://198.19.0.50/" 2>&1 || echo failed; done
	  for ((j = 0; j < 20; j++)); do curl_vip "http://$NODE_IP:30050/" 2>&1 || echo failed; done)
if [ "$(sort -u <<<"$answers")" = pod1 ]; then
	pass "$name"
else
	fail "$name" "apply: $out; 40 requests (ClusterIP and NodePort) got: $(sort <<<"$answers" | uniq -c | tr '\n' ' ') (want pod1 only)"
fi

name="Local policy with no endpoint on this node drops (no reject): the client times out"
curl_vip --max-time 1 "http://198.19.0.51/" >/dev/null 2>&1
rc1=$?
curl_vip --max-time 1 "http://$NODE_IP:30051/" >/dev/null 2>&1
rc2=$?
if [ "$rc1" = 28 ] && [ "$rc2" = 28 ]; then
	pass "$name"
else
	fail "$name" "curl exit codes $rc1 (ClusterIP) and $rc2 (NodePort); want 28 (timed out), not 7 (refused)"
fi

# sticky_service AFFINITY TIMEOUT: a NodePort Service with sessionAffinity
# AFFINITY (None or ClientIP) and that timeout.
sticky_file() {
	k8s_list "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"sticky\",\"namespace\":\"e2e\"},
 \"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"198.19.0.60\",\"sessionAffinity\":\"$1\",
  \"sessionAffinityConfig\":{\"clientIP\":{\"timeoutSeconds\":$2}},
  \"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\",\"targetPort\":8080,\"nodePort\":30060}]}}" \
		"$(k8s_slice sticky sticky-a "$ALL_PODS" http:8080/TCP)" >"$RUN_DIR/sticky.json"
}
# pods_seen URL N: which pods N new connections reached, sorted and unique.
pods_seen() {
	local j
	for ((j = 0; j < $2; j++)); do curl_vip "$1" 2>/dev/null || echo failed; done | sort -u | tr '\n' ' '
}

name="should have session affinity work for service with type clusterIP and NodePort"
xs attach "$NIC" >/dev/null 2>&1
sticky_file ClientIP 10800
out=$(xs apply "$RUN_DIR/sticky.json" 2>&1)
cl=$(pods_seen "http://198.19.0.60/" 20)
np=$(pods_seen "http://$NODE_IP:30060/" 20)
if [ "$(wc -w <<<"$cl")" = 1 ] && [ "$np" = "$cl" ] && [[ "$cl" == pod* ]]; then
	pass "$name"
else
	fail "$name" "apply: $out; 20 connections to the ClusterIP reached '$cl', 20 to the NodePort '$np' (want one and the same pod)"
fi

name="should be able to switch session affinity for service"
sticky_file None 10800
xs apply "$RUN_DIR/sticky.json" >/dev/null 2>&1
off=$(pods_seen "http://198.19.0.60/" 30)
sticky_file ClientIP 10800
xs apply "$RUN_DIR/sticky.json" >/dev/null 2>&1
on=$(pods_seen "http://198.19.0.60/" 20)
if [ "$(wc -w <<<"$off")" -ge 2 ] && [ "$(wc -w <<<"$on")" = 1 ] && [[ "$on" == pod* ]]; then
	pass "$name"
else
	fail "$name" "affinity off: 30 connections reached '$off' (want several pods); on again: '$on' (want one)"
fi

name="should have session affinity timeout work for service"
sticky_file ClientIP 1
xs apply "$RUN_DIR/sticky.json" >/dev/null 2>&1
first=$(curl_vip "http://198.19.0.60/" 2>/dev/null)
moved=""
# The client idles past the 1 s timeout before each new connection (its
# pace, not a wait for a condition); a different pod shows it expired.
for ((j = 0; j < 12; j++)); do
	[ -n "$moved" ] && break
	sleep 1.3
	body=$(curl_vip "http://198.19.0.60/" 2>/dev/null)
	[ -n "$body" ] && [ "$body" != "$first" ] && moved=$body
done
if [ -n "$moved" ]; then
	pass "$name"
else
	fail "$name" "after idling past the timeout, 12 connections all reached $first"
fi

name="loadBalancerSourceRanges: the load-balancer IP admits only those sources; the NodePort is not subject to them"
ranged_file() { # CIDR
	local svc
	svc=$(web_service | sed "s|\"externalIPs\"|\"loadBalancerSourceRanges\":[\"$1\"],\"externalIPs\"|")
	k8s_list "$svc" "$(k8s_slice web web-x7k2p "$ALL_PODS" http:8080/TCP)" >"$RUN_DIR/ranged.json"
}
ranged_file 198.51.100.0/24
xs apply "$RUN_DIR/ranged.json" >/dev/null 2>&1
drops0=$(xs list --json | jq '.global.drop_src_range')
denied=$(curl_vip --max-time 1 "http://$LB_IP/" 2>/dev/null); denied_rc=$?
np=$(curl_vip "http://$NODE_IP:30080/" 2>/dev/null)
drops1=$(xs list --json | jq '.global.drop_src_range')
ranged_file 198.18.0.0/24
out=$(xs apply "$RUN_DIR/ranged.json" 2>&1)
allowed=$(curl_vip "http://$LB_IP/" 2>/dev/null)
if [ "$denied_rc" = 0 ] || [ "$drops1" -le "$drops0" ]; then
	fail "$name" "from 198.18.0.1 outside 198.51.100.0/24 the LB IP answered '$denied' (drop_src_range $drops0 -> $drops1)"
elif ! grep -qx 'pod[123]' <<<"$np"; then
	fail "$name" "the NodePort did not answer: '$np'"
elif ! grep -qx 'pod[123]' <<<"$allowed"; then
	fail "$name" "with 198.18.0.0/24 allowed ($out) the LB IP answered '$allowed'"
else
	pass "$name"
fi

# A second server in every pod, on its own ports (9090, TCP and UDP), that
# answers with another name: "podN-b". A packet sent to the wrong target
# port shows as the wrong name (or no answer).
for n in 1 2 3; do
	in_pod "$n" "$TOOLS/podsrv" --name "pod$n-b" --tcp 9090 --udp 9090 >"$RUN_DIR/pod$n-b.log" 2>&1 &
done
for n in 1 2 3; do
	wait_until 5 grep -qs '^ready$' "$RUN_DIR/pod$n-b.log" ||
		{ fail "setup" "the second podsrv of pod$n did not start: $(cat "$RUN_DIR/pod$n-b.log")"; exit 1; }
done
# udp_seen ADDR PORT N: which pods N UDP queries reached, as pods_seen.
udp_seen() {
	in_cl "$TOOLS/udpq" "$1" "$2" --count "$3" --timeout-ms 1000 2>/dev/null | sort -u | tr '\n' ' '
}
# svc_json NAME VIP TYPE EXTRA PORT...: a Service; EXTRA is more of its spec
# (e.g. '"internalTrafficPolicy":"Local",') and PORT is
# NAME:PORT/PROTO:TARGET[:NODEPORT].
svc_json() {
	local name=$1 vip=$2 type=$3 extra=$4 p pn rest target np ports="" sep=""
	shift 4
	for p in "$@"; do
		IFS=: read -r pn rest target np <<<"$p"
		ports+="$sep{\"name\":\"$pn\",\"port\":${rest%/*},\"protocol\":\"${rest#*/}\",\"targetPort\":$target"
		[ -n "$np" ] && ports+=",\"nodePort\":$np"
		ports+="}"
		sep=","
	done
	printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"e2e"},' "$name"
	printf '"spec":{"type":"%s","clusterIP":"%s","clusterIPs":["%s"],"ipFamilies":["IPv4"],%s"ports":[%s]}}' \
		"$type" "$vip" "$vip" "$extra" "$ports"
}

name="should serve multiport endpoints from pods"
k8s_list "$(svc_json multi 198.19.0.70 ClusterIP "" http:80/TCP:8080 alt:81/TCP:9090)" \
	"$(k8s_slice multi multi-a "$ALL_PODS" http:8080/TCP alt:9090/TCP)" >"$RUN_DIR/multi.json"
xs attach "$NIC" >/dev/null 2>&1
out=$(xs apply "$RUN_DIR/multi.json" 2>&1)
p80=$(pods_seen "http://198.19.0.70:80/" 30)
p81=$(pods_seen "http://198.19.0.70:81/" 30)
if [ "$p80" = "pod1 pod2 pod3 " ] && [ "$p81" = "pod1-b pod2-b pod3-b " ]; then
	pass "$name"
else
	fail "$name" "apply: $out; 30 connections to port 80 reached '$p80' (want pod1 pod2 pod3, target 8080), to port 81 '$p81' (want pod1-b pod2-b pod3-b, target 9090)"
fi

name="should serve endpoints on same port and different protocols (TCP and UDP on port 80, each to its own target port)"
k8s_list "$(svc_json dual 198.19.0.71 ClusterIP "" tcp:80/TCP:8080 udp:80/UDP:9090)" \
	"$(k8s_slice dual dual-a "$ALL_PODS" tcp:8080/TCP udp:9090/UDP)" >"$RUN_DIR/dual.json"
out=$(xs apply "$RUN_DIR/dual.json" 2>&1)
tcp=$(pods_seen "http://198.19.0.71/" 30)
udp=$(udp_seen 198.19.0.71 80 30)
if [ "$tcp" = "pod1 pod2 pod3 " ] && [ "$udp" = "pod1-b pod2-b pod3-b " ]; then
	pass "$name"
else
	fail "$name" "apply: $out; 30 TCP connections to port 80 reached '$tcp' (want pod1 pod2 pod3), 30 UDP queries '$udp' (want pod1-b pod2-b pod3-b)"
fi

# Terminating fallback: "fbc" (both policies Cluster) has only serving and
# terminating endpoints; "fbl" (both Local) has a terminating one on this
# node (pod1), a ready one and a terminating one on node-2: Local falls back
# to this node's terminating endpoints, whatever node-2 has.
FB_FILE=$RUN_DIR/fallback.json
k8s_list "$(svc_json fbc 198.19.0.72 NodePort "" http:80/TCP:8080:30072)" \
	"$(slice_on_nodes fbc fbc-a "$(pod_ip 1)@node-1~ $(pod_ip 2)@node-2~ $(pod_ip 3)@node-2~" http:8080/TCP)" \
	"$(svc_json fbl 198.19.0.73 NodePort '"internalTrafficPolicy":"Local","externalTrafficPolicy":"Local",' \
		http:80/TCP:8080:30073)" \
	"$(slice_on_nodes fbl fbl-a "$(pod_ip 1)@node-1~ $(pod_ip 2)@node-2 $(pod_ip 3)@node-2~" http:8080/TCP)" >"$FB_FILE"
xs attach "$NIC" --node-name node-1 >/dev/null 2>&1
fb_out=$(xs apply "$FB_FILE" 2>&1)

name="should fallback to terminating endpoints when there are no ready endpoints with internalTrafficPolicy=Cluster"
seen=$(pods_seen "http://198.19.0.72/" 30)
if [ "$seen" = "pod1 pod2 pod3 " ]; then
	pass "$name"
else
	fail "$name" "apply: $fb_out; 30 connections to the ClusterIP reached '$seen' (want pod1 pod2 pod3, all terminating)"
fi

name="should fallback to terminating endpoints when there are no ready endpoints with externalTrafficPolicy=Cluster"
seen=$(pods_seen "http://$NODE_IP:30072/" 30)
if [ "$seen" = "pod1 pod2 pod3 " ]; then
	pass "$name"
else
	fail "$name" "30 connections to the NodePort reached '$seen' (want pod1 pod2 pod3, all terminating)"
fi

name="should fallback to terminating endpoints when there are no ready endpoints with internalTrafficPolicy=Local"
seen=$(pods_seen "http://198.19.0.73/" 20)
if [ "$seen" = "pod1 " ]; then
	pass "$name"
else
	fail "$name" "20 connections to the ClusterIP reached '$seen' (want pod1: the terminating one on node-1, not node-2's)"
fi

name="should fallback to terminating endpoints when there are no ready endpoints with externalTrafficPolicy=Local"
seen=$(pods_seen "http://$NODE_IP:30073/" 20)
if [ "$seen" = "pod1 " ]; then
	pass "$name"
else
	fail "$name" "20 connections to the NodePort reached '$seen' (want pod1: the terminating one on node-1, not node-2's)"
fi

# proxy_file LABEL: Service "disabled" labelled with a proxy name, and
# "toggled", labelled too when LABEL is yes; both over all three pods.
proxy_file() {
	local label='"labels":{"service.kubernetes.io/service-proxy-name":"foo-bar"},' toggled
	toggled=$(svc_json toggled 198.19.0.75 ClusterIP "" http:80/TCP:8080)
	[ "$1" = yes ] && toggled=${toggled/\"name\":\"toggled\",/\"name\":\"toggled\",$label}
	k8s_list "$(svc_json disabled 198.19.0.74 ClusterIP "" http:80/TCP:8080 |
			sed "s|\"name\":\"disabled\",|\"name\":\"disabled\",$label|")" \
		"$(k8s_slice disabled disabled-a "$ALL_PODS" http:8080/TCP)" \
		"$toggled" "$(k8s_slice toggled toggled-a "$ALL_PODS" http:8080/TCP)" >"$RUN_DIR/proxy.json"
}
# not_served VIP: a new connection gets no answer and the datapath
# translates nothing.
not_served() {
	local h0
	h0=$(xs list --json | jq '.global.hit')
	! curl_vip --max-time 1 "http://$1/" >/dev/null 2>&1 && [ "$(xs list --json | jq '.global.hit')" = "$h0" ]
}

name="should implement service.kubernetes.io/service-proxy-name"
xs attach "$NIC" >/dev/null 2>&1
proxy_file no
out=$(xs apply "$RUN_DIR/proxy.json" 2>&1)
up1=$(pods_seen "http://198.19.0.75/" 30)
not_served 198.19.0.74; down1=$?
proxy_file yes
xs apply "$RUN_DIR/proxy.json" >/dev/null 2>&1
not_served 198.19.0.75; down2=$?
proxy_file no
xs apply "$RUN_DIR/proxy.json" >/dev/null 2>&1
up2=$(pods_seen "http://198.19.0.75/" 30)
if [ "$up1" != "pod1 pod2 pod3 " ] || [ "$down1" != 0 ]; then
	fail "$name" "apply: $out; toggled (no label) reached '$up1' (want pod1 pod2 pod3); disabled (labelled) not served: $([ "$down1" = 0 ] && echo yes || echo no)"
elif ! grep -q 'service-proxy-name' <<<"$out"; then
	fail "$name" "apply did not note the skipped Service: $out"
elif [ "$down2" != 0 ]; then
	fail "$name" "toggled, once labelled, was still served"
elif [ "$up2" != "pod1 pod2 pod3 " ]; then
	fail "$name" "toggled, with the label removed again, reached '$up2' (want pod1 pod2 pod3)"
else
	pass "$name"
fi

xs_status
