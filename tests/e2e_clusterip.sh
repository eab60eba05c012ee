#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# End to end: ClusterIP Services through xdpsvc on a namespace "cluster"
# (see tests/lib.sh). A client outside the cluster talks to the ClusterIPs;
# the datapath on the node's NIC must translate both directions. Case names
# follow the Kubernetes e2e tests (test/e2e/network/service.go) where one
# exists. Env: BUILD (default build), XDP_MODE (native|generic, default: the
# loader's).
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

WEB_VIP=198.19.0.10
ECHO_VIP=198.19.0.20
ALL_PODS="$(pod_ip 1) $(pod_ip 2) $(pod_ip 3)"
TWO_PODS="$(pod_ip 1) $(pod_ip 2)"

# manifest FILE WEB_ADDRS ECHO_ADDRS: Services e2e/web (http 80/TCP -> 8080)
# and e2e/echo (udp 53/UDP -> 5353) with these pod addresses.
manifest() {
	k8s_list "$(k8s_service web "$WEB_VIP" http:80/TCP:8080)" \
		"$(k8s_service echo "$ECHO_VIP" udp:53/UDP:5353)" \
		"$(k8s_slice web web-x7k2p "$2" http:8080/TCP)" \
		"$(k8s_slice echo echo-q9v4m "$3" udp:5353/UDP)" >"$1"
}

# tcp_sample N: N new HTTP connections to the web ClusterIP, one line each:
# the pod that answered, or "none".
tcp_sample() {
	local i body
	for ((i = 0; i < $1; i++)); do
		body=$(curl_vip "http://$WEB_VIP/" 2>/dev/null) || body=none
		echo "${body:-empty}"
	done
}

# udp_sample N: N queries to the echo ClusterIP, each from a new socket; one
# line per answer (unanswered queries print nothing).
udp_sample() {
	in_cl "$TOOLS/udpq" "$ECHO_VIP" 53 --count "$1" --timeout-ms 1000 2>/dev/null
}

# tally: "pod1 x7, pod2 x5" from one answer per line.
tally() {
	sort | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }'
}

# sees_all_pods: stdin has an answer from each of pod1..pod3 and nothing else.
sees_all_pods() {
	local answers
	answers=$(sort -u | tr '\n' ' ')
	[ "$answers" = "pod1 pod2 pod3 " ]
}

# sample_until_all KIND ROUNDS PER_ROUND: sample in rounds until every pod
# answered (or a round got no answer at all); prints every answer.
sample_until_all() {
	local kind=$1 rounds=$2 per=$3 r out all=""
	for ((r = 0; r < rounds; r++)); do
		out=$("${kind}_sample" "$per")
		all+="$out"$'\n'
		grep -qx 'pod[123]' <<<"$out" || break
		sees_all_pods <<<"$(grep -x 'pod[123]' <<<"$all")" && break
	done
	printf '%s' "$all"
}

list_json() { xs list --json; }

# frontend_field NS NAME JQ: a value from `list --json` for one frontend.
frontend_field() {
	list_json | jq -r --arg ns "$1" --arg n "$2" \
		".frontends[] | select(.namespace == \$ns and .name == \$n) | $3"
}

attach() {
	if [ -n "${XDP_MODE:-}" ]; then
		xs attach "$NIC" --xdp-mode "$XDP_MODE"
	else
		xs attach "$NIC"
	fi
}

# Stop here: the cases left cannot say anything useful.
give_up() {
	fail "remaining cases" "not run: $1"
	exit 1
}

# --- setup -------------------------------------------------------------------

if ! cluster_up; then
	fail "setup" "could not build the namespace cluster (see stderr)"
	exit 1
fi
FULL=$RUN_DIR/full.json
NO_POD3=$RUN_DIR/no-pod3.json
EMPTY=$RUN_DIR/empty-web.json
BAD=$RUN_DIR/bad-ip.json
manifest "$FULL" "$ALL_PODS" "$ALL_PODS"
manifest "$NO_POD3" "$TWO_PODS" "$TWO_PODS"
manifest "$EMPTY" "" ""
manifest "$BAD" "$(pod_ip 1) $(pod_ip 2) 198.18.1.300" "$ALL_PODS"

# --- cases -------------------------------------------------------------------

name="attach picks the NIC's hook: tc on a veth, native XDP where asked (a wire)"
err=$(attach 2>&1)
status=$?
mode=$(xs list --json 2>/dev/null | jq -r '.datapath.nic.mode')
if [ "$XS_TOPO" = wire ]; then want_mode="xdp native"; else want_mode=tc; fi
[ -n "${XDP_MODE:-}" ] && want_mode="xdp $XDP_MODE"
if [ "$status" -ne 0 ]; then
	fail "$name" "xdpsvc attach $NIC exited $status: $err"
	give_up "attach failed"
elif [ "$mode" != "$want_mode" ] || ! grep -q "attached to $NIC (${want_mode%% *}" <<<"$err"; then
	fail "$name" "mode '$mode' (want '$want_mode'); attach said: $err"
elif [ "$want_mode" = tc ] && ip -n "$NS_NODE" link show "$NIC" | grep -q 'prog/xdp'; then
	fail "$name" "tc mode, yet an XDP program on $NIC: $(ip -n "$NS_NODE" -d link show "$NIC" | tr '\n' ' ')"
elif [ "$want_mode" != tc ] && ! ip -n "$NS_NODE" link show "$NIC" | grep -q 'prog/xdp'; then
	fail "$name" "no XDP program on $NIC: $(ip -n "$NS_NODE" -d link show "$NIC" | tr '\n' ' ')"
elif [ -z "$(tc -n "$NS_NODE" filter show dev "$NIC" egress)" ] || [ -z "$(tc -n "$NS_NODE" filter show dev "$NIC" ingress)" ]; then
	fail "$name" "no tc filter on $NIC egress or ingress"
else
	missing=""
	for m in xs_services xs_slots xs_backends xs_conntrack xs_svc_stats xs_global_stats xs_svc_meta xs_devs; do
		[ -e "$PIN/$m" ] || missing+=" $m"
	done
	if [ -n "$missing" ]; then
		fail "$name" "maps not pinned under $PIN:$missing"
	else
		pass "$name"
	fi
fi
[ "$XS_FAILED" -eq 0 ] || give_up "the datapath is not attached"

name="traffic not for a Service passes through untouched"
# ARP through the XDP program (client asks, node answers through tc egress),
# ICMP, and TCP to a pod address that is no frontend.
ip -n "$NS_CL" neigh flush dev cl0
if ! out=$(in_cl ping -c 1 -W 2 "$NODE_IP" 2>&1); then
	fail "$name" "ping $NODE_IP from the client failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
elif ! body=$(curl_vip "http://$(pod_ip 1):8080/" 2>&1) || [ "$body" != pod1 ]; then
	fail "$name" "direct request to pod1 got: $body"
else
	pass "$name"
fi
# From here on the client and node know each other statically: later cases
# compare counters, and a neighbour probe would count as a packet.
mac_cl=$(ip -n "$NS_CL" -br link show cl0 | awk '{print $3}')
mac_nic=$(ip -n "$NS_NODE" -br link show "$NIC" | awk '{print $3}')
ip -n "$NS_CL" neigh replace "$NODE_IP" lladdr "$mac_nic" dev cl0 nud permanent
ip -n "$NS_NODE" neigh replace "$CLIENT_IP" lladdr "$mac_cl" dev "$NIC" nud permanent

name="apply reports the frontends and backends it added"
if ! out=$(xs apply "$FULL" 2>&1); then
	fail "$name" "xdpsvc apply exited non-zero: $out"
	give_up "the first apply failed"
elif ! grep -qx 'apply: frontends 2 added, 0 changed, 0 removed; backends 6 added, 0 removed\( (.*)\)\?' <<<"$out"; then
	fail "$name" "unexpected summary: $out"
else
	pass "$name"
fi

name="should serve a basic endpoint from pods"
answers=$(sample_until_all tcp 10 20)
if sees_all_pods <<<"$(grep -v '^none$' <<<"$answers")"; then
	pass "$name"
else
	fail "$name" "$(wc -l <<<"$answers") requests to $WEB_VIP:80 got: $(tally <<<"$answers")"
fi

name="UDP through the ClusterIP reaches every pod"
answers=$(sample_until_all udp 5 30)
if sees_all_pods <<<"$answers"; then
	pass "$name"
else
	fail "$name" "queries to $ECHO_VIP:53 got: $(tally <<<"$answers")"
fi

counter() { list_json | jq ".global.$1"; }
# Where a translated packet to a pod on this node goes: tc sends it to the
# pod's veth itself (redirect); XDP hands it to the stack, as a veth drops
# XDP frames redirected into a pod that runs no XDP (to_stack).
if [ "$XS_TOPO" = wire ]; then sent=to_stack; else sent=redirect; fi

name="a translated packet for a local pod goes on by the path that delivers ($sent), and to the stack with --no-fast-path"
c0=$(counter "$sent") t0=$(counter to_stack) fp0=$(counter fast_path)
body=$(curl_vip "http://$WEB_VIP/" 2>&1)
c1=$(counter "$sent") t1=$(counter to_stack) fp1=$(counter fast_path)
if ! grep -qx 'pod[123]' <<<"$body" || [ "$c1" -le "$c0" ] || [ "$fp1" != "$fp0" ]; then
	fail "$name" "answer '$body', $sent $c0 -> $c1, fast_path (XDP_TX only) $fp0 -> $fp1"
elif ! out=$(xs attach "$NIC" --no-fast-path 2>&1); then
	fail "$name" "attach --no-fast-path failed: $out"
else
	c1=$(counter redirect)
	body=$(curl_vip "http://$WEB_VIP/" 2>&1)
	udp=$(in_cl "$TOOLS/udpq" "$ECHO_VIP" 53 --timeout-ms 2000 2>&1)
	c2=$(counter redirect) t2=$(counter to_stack)
	if ! grep -qx 'pod[123]' <<<"$body" || ! grep -qx 'pod[123]' <<<"$udp" || [ "$c2" != "$c1" ] || [ "$t2" -le "$t1" ]; then
		fail "$name" "--no-fast-path: answers '$body' '$udp', redirect $c1 -> $c2, to_stack $t1 -> $t2"
	elif ! out=$(xs attach "$NIC" 2>&1); then
		fail "$name" "attach back to the fast path failed: $out"
	else
		pass "$name"
	fi
fi

name="re-applying the same file reports no change"
if ! out=$(xs apply "$FULL" 2>&1); then
	fail "$name" "xdpsvc apply exited non-zero: $out"
elif [ "$out" != "apply: no change" ]; then
	fail "$name" "second apply printed: $out"
else
	pass "$name"
fi

name="apply --dry-run reports the change and writes nothing"
before=$(list_json)
if ! out=$(xs apply "$NO_POD3" --dry-run 2>&1); then
	fail "$name" "xdpsvc apply --dry-run exited non-zero: $out"
elif ! grep -qx '[a-z-]*: frontends 0 added, 2 changed, 0 removed; backends 0 added, 2 removed\( (.*)\)\?' <<<"$out"; then
	fail "$name" "dry run printed: $out"
elif [ "$(list_json)" != "$before" ]; then
	fail "$name" "list --json changed after a dry run"
else
	pass "$name"
fi

name="a rejected apply changes nothing"
before=$(list_json)
xs apply "$BAD" >"$RUN_DIR/bad.out" 2>"$RUN_DIR/bad.err"
status=$?
if [ "$status" -ne 1 ]; then
	fail "$name" "apply of a bad address exited $status, want 1"
elif ! grep -q 'addresses' "$RUN_DIR/bad.err"; then
	fail "$name" "stderr does not name the field: $(cat "$RUN_DIR/bad.err")"
elif [ "$(list_json)" != "$before" ]; then
	fail "$name" "list --json changed: $(diff <(echo "$before") <(list_json) | head -n 5 | tr '\n' ' ')"
else
	pass "$name"
fi

name="removing an endpoint stops new connections to it"
if ! out=$(xs apply "$NO_POD3" 2>&1); then
	fail "$name" "xdpsvc apply exited non-zero: $out"
else
	tcp=$(tcp_sample 60)
	udp=$(udp_sample 30)
	if grep -qvx 'pod[12]' <<<"$tcp" || ! grep -qx pod1 <<<"$tcp" || ! grep -qx pod2 <<<"$tcp"; then
		fail "$name" "60 requests after removing pod3 got: $(tally <<<"$tcp")"
	elif [ "$(grep -cx 'pod[12]' <<<"$udp")" -ne 30 ] || ! grep -qx pod1 <<<"$udp" ||
		! grep -qx pod2 <<<"$udp"; then
		fail "$name" "30 UDP queries after removing pod3 got: $(tally <<<"$udp")"
	else
		pass "$name"
	fi
fi

name="should be rejected when no endpoints exist: connection refused at once (TCP), port unreachable (UDP)"
if ! out=$(xs apply "$EMPTY" 2>&1); then
	fail "$name" "xdpsvc apply exited non-zero: $out"
else
	t0=$(date +%s%N)
	curl_vip --max-time 2 "http://$WEB_VIP/" >/dev/null 2>"$RUN_DIR/refused.err"
	rc=$? ms=$((($(date +%s%N) - t0) / 1000000))
	udp=$(in_cl "$TOOLS/udpq" "$ECHO_VIP" 53 --timeout-ms 2000 2>&1)
	drops=$(frontend_field e2e web .stats.no_backend)
	if [ "$rc" != 7 ] || [ "$ms" -ge 1000 ]; then
		fail "$name" "curl to $WEB_VIP:80 exited $rc after $ms ms (want 7, connection refused, within 1 s): $(cat "$RUN_DIR/refused.err")"
	elif ! grep -q "Connection refused" <<<"$udp"; then
		fail "$name" "a UDP query to $ECHO_VIP:53 got: $udp (want Connection refused)"
	elif ! [ "${drops:-0}" -gt 0 ] 2>/dev/null; then
		fail "$name" "list --json: no_backend of e2e/web is '${drops:-}', want > 0"
	elif ! out=$(xs apply "$FULL" 2>&1); then
		fail "$name" "restoring the endpoints failed: $out"
	elif ! sees_all_pods <<<"$(sample_until_all tcp 10 20 | grep -v '^none$')"; then
		fail "$name" "after restoring the endpoints not every pod answers"
	else
		pass "$name"
	fi
fi

name="attach twice is harmless"
if ! err=$(attach 2>&1); then
	fail "$name" "second attach failed: $err"
elif [ "$(frontend_field e2e web '.backends | length')" != 3 ]; then
	fail "$name" "after the second attach list shows: $(list_json)"
elif ! body=$(curl_vip "http://$WEB_VIP/" 2>&1) || ! grep -qx 'pod[123]' <<<"$body"; then
	fail "$name" "after the second attach $WEB_VIP:80 got: $body"
else
	pass "$name"
fi

name="conntrack list shows the flows and flush --service removes them"
curl_vip "http://$WEB_VIP/" >/dev/null 2>&1
if ! ct=$(xs conntrack list --json 2>&1); then
	fail "$name" "conntrack list failed: $ct"
elif ! jq -e --arg vip "$WEB_VIP:80" '[.flows[] | select(.frontend == $vip and .namespace == "e2e"
		and .name == "web" and (.backend | test("^198\\.18\\.1\\.1[123]:8080$")))] | length > 0' \
		<<<"$ct" >/dev/null; then
	fail "$name" "no e2e/web flow to $WEB_VIP:80 in: $ct"
elif ! [ "$(list_json | jq '.capacity.conntrack.used')" -gt 0 ] 2>/dev/null; then
	fail "$name" "list --json shows no conntrack entry in use: $(list_json | jq -c .capacity)"
elif ! out=$(xs conntrack flush --service e2e/web 2>&1) || ! grep -Eq 'conntrack: [1-9][0-9]* entries flushed' <<<"$out"; then
	fail "$name" "flush --service e2e/web said: $out"
elif ! ct=$(xs conntrack list --json 2>&1) ||
	! jq -e '[.flows[] | select(.namespace == "e2e" and .name == "web")] | length == 0' <<<"$ct" >/dev/null; then
	fail "$name" "e2e/web flows left after the flush: $ct"
elif ! body=$(curl_vip "http://$WEB_VIP/" 2>&1) || ! grep -qx 'pod[123]' <<<"$body"; then
	fail "$name" "after the flush $WEB_VIP:80 got: $body"
else
	pass "$name"
fi

name="attach refuses pinned maps of another size unless --recreate-maps"
before=$(list_json)
if out=$(xs attach "$NIC" --ct-size 4096 2>&1); then
	fail "$name" "attach --ct-size 4096 over the pinned table succeeded: $out"
elif ! grep -q 'xs_conntrack (another size)' <<<"$out"; then
	fail "$name" "the refusal does not name the map: $out"
elif [ "$(list_json)" != "$before" ]; then
	fail "$name" "the refused attach changed list --json"
elif ! body=$(curl_vip "http://$WEB_VIP/" 2>&1) || ! grep -qx 'pod[123]' <<<"$body"; then
	fail "$name" "after the refused attach $WEB_VIP:80 got: $body"
elif ! out=$(xs attach "$NIC" --ct-size 4096 --recreate-maps 2>&1); then
	fail "$name" "attach --recreate-maps failed: $out"
elif [ "$(list_json | jq '.frontends | length')" != 0 ]; then
	fail "$name" "recreated maps are not empty: $(list_json)"
elif ! out=$(xs apply "$FULL" 2>&1) || ! body=$(curl_vip "http://$WEB_VIP/" 2>&1) ||
	! grep -qx 'pod[123]' <<<"$body"; then
	fail "$name" "after recreate and apply: $out / $body"
else
	pass "$name"
fi

name="attach refuses maps of an older layout version"
size=$(bpftool -j map show pinned "$PIN/xs_config" | jq '.bytes_value')
zeros=$(printf '0 %.0s' $(seq "${size:-0}"))
# shellcheck disable=SC2086 # one argument per byte
if ! bpftool map update pinned "$PIN/xs_config" key 0 0 0 0 value $zeros 2>&1; then
	fail "$name" "cannot set the pinned layout version to 0"
elif out=$(xs attach "$NIC" 2>&1); then
	fail "$name" "attach over layout version 0 succeeded: $out"
elif ! grep -q 'xs_config (another layout)' <<<"$out"; then
	fail "$name" "the refusal does not name the layout: $out"
elif ! out=$(xs attach "$NIC" --recreate-maps 2>&1) || ! xs apply "$FULL" >/dev/null 2>&1; then
	fail "$name" "attach --recreate-maps and apply failed: $out"
else
	pass "$name"
fi

name="an apply that does not fit is refused before anything is written, naming the map and by how much"
xs attach "$NIC" --recreate-maps --max-backends 4 --max-slots 64 >/dev/null 2>&1
before=$(list_json)
xs apply "$FULL" >"$RUN_DIR/cap.out" 2>"$RUN_DIR/cap.err"
rc=$?
cap=$(list_json | jq -c '.capacity')
if [ "$rc" != 1 ] || ! grep -q "xs_backends would need 6 entries and holds 4 (2 too many)" "$RUN_DIR/cap.err"; then
	fail "$name" "apply exited $rc: $(cat "$RUN_DIR/cap.out" "$RUN_DIR/cap.err")"
elif [ "$(list_json)" != "$before" ]; then
	fail "$name" "the refused apply changed list --json"
elif [ "$(jq -c '.backends, .slots' <<<"$cap" | tr -d '\n')" != '{"used":0,"max":4}{"used":0,"max":64}' ]; then
	fail "$name" "list --json capacity is $cap"
elif ! xs attach "$NIC" --recreate-maps --max-backends 1048576 --max-slots 2097152 >/dev/null 2>&1 ||
	! xs apply "$FULL" >/dev/null 2>&1 ||
	[ "$(list_json | jq '.capacity.backends.used')" != 6 ]; then
	fail "$name" "back to the default sizes, the apply did not take: $(list_json | jq -c .capacity)"
else
	pass "$name"
fi

name="detach leaves the NIC clean"
if ! err=$(xs detach "$NIC" --purge 2>&1); then
	fail "$name" "xdpsvc detach --purge failed: $err"
elif ip -n "$NS_NODE" link show "$NIC" | grep -q xdp; then
	fail "$name" "XDP still on $NIC: $(ip -n "$NS_NODE" link show "$NIC" | tr '\n' ' ')"
elif [ -n "$(tc -n "$NS_NODE" filter show dev "$NIC" egress)$(tc -n "$NS_NODE" filter show dev "$NIC" ingress)" ]; then
	fail "$name" "tc filters left on $NIC"
elif left=$(find "$PIN" -mindepth 1 2>/dev/null) && [ -n "$left" ]; then
	fail "$name" "pins left: $(tr '\n' ' ' <<<"$left")"
elif body=$(curl_vip --max-time 1 "http://$WEB_VIP/" 2>/dev/null); then
	fail "$name" "$WEB_VIP:80 still answers after detach: $body"
else
	pass "$name"
fi

xs_status
