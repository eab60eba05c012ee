#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# End to end: updates under live traffic, on the namespace "cluster" of
# tests/lib.sh. Services e2e/web 198.19.0.10 (http 80/TCP -> 8080, echo
# 7/TCP -> 7007: `podsrv --echo`, a line service on a kept-open connection)
# and e2e/echo 198.19.0.20 (udp 53/UDP -> 5353) on pods 1..3. The pods stay up
# throughout: every failed request is the datapath's or the loader's doing.
# Env: BUILD (default build).
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

WEB_VIP=198.19.0.10
ECHO_VIP=198.19.0.20
ECHO_PORT=7007
LOOP_SECONDS=60   # each client loop runs at most this long (a bound; the test stops them) ...
LOOP_MAX=3000     # ... and at most this many requests
CHURN_APPLIES=32

# pod_ips "N...": the addresses of these pod numbers (N~: terminating).
pod_ips() {
	local n
	for n in $1; do echo "$(pod_ip "${n%\~}")${n#"${n%\~}"}"; done
}

# manifest FILE "WEB_PODS" "ECHO_PODS": the two Services (web also serving
# echo 7/TCP -> $ECHO_PORT), endpoints on these pod numbers.
manifest() {
	k8s_list "$(k8s_service web "$WEB_VIP" http:80/TCP:8080 "echo:7/TCP:$ECHO_PORT")" \
		"$(k8s_service echo "$ECHO_VIP" udp:53/UDP:5353)" \
		"$(k8s_slice web web-x7k2p "$(pod_ips "$2")" http:8080/TCP "echo:$ECHO_PORT/TCP")" \
		"$(k8s_slice echo echo-q9v4m "$(pod_ips "$3")" udp:5353/UDP)" >"$1"
}

# expected_backends "WEB_PODS" "ECHO_PODS": what list_backends should print.
expected_backends() {
	local n
	{
		for n in $1; do
			echo "e2e/web:http $(pod_ip "$n"):8080"
			echo "e2e/web:echo $(pod_ip "$n"):$ECHO_PORT"
		done
		for n in $2; do echo "e2e/echo:udp $(pod_ip "$n"):5353"; done
	} | sort
}

# list_backends: "ns/name:port_name addr:port" for every backend of e2e/*, sorted.
list_backends() {
	xs list --json | jq -r '.frontends[] | select(.namespace == "e2e") |
		"\(.namespace)/\(.name):\(.port_name) " + (.backends[] | "\(.address):\(.port)")' | sort
}

tally() {
	sort | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }'
}

ct_entries() {
	bpftool map dump pinned "$PIN/xs_conntrack" 2>/dev/null | grep -c '"key"'
}

# The client loop, run inside the client namespace: KIND (tcp|udp) OUT STOP.
# One line per request: "ok POD" or "FAIL #I rc=RC: why". Stops at STOP's
# existence, after LOOP_SECONDS or after LOOP_MAX requests.
LOOP=$RUN_DIR/loop.sh
write_loop() {
	cat >"$LOOP" <<EOF
kind=\$1 out=\$2 stop=\$3
end=\$((SECONDS + $LOOP_SECONDS))
i=0
while [ \$i -lt $LOOP_MAX ] && [ \$SECONDS -lt \$end ] && [ ! -e "\$stop" ]; do
	if [ "\$kind" = tcp ]; then
		r=\$(curl -sS --max-time 2 http://$WEB_VIP/ 2>&1)
	else
		r=\$("$TOOLS/udpq" $ECHO_VIP 53 --timeout-ms 1000 2>&1)
	fi
	rc=\$?
	if [ \$rc -eq 0 ] && [ -n "\$r" ]; then
		echo "ok \$r"
	else
		echo "FAIL #\$i at \$(date +%T.%N) rc=\$rc: \$(echo \$r)"
	fi
	i=\$((i + 1))
done >"\$out"
EOF
}

LOOP_PIDS=()
# start_loops STOPFILE KIND...: one background client loop per KIND; logs $RUN_DIR/loop-STOP-I.
start_loops() {
	local stop=$1 kind i=0
	shift
	rm -f "$stop"
	LOOP_PIDS=()
	for kind in "$@"; do
		i=$((i + 1))
		: >"$stop.$i.log"
		in_cl bash "$LOOP" "$kind" "$stop.$i.log" "$stop" &
		LOOP_PIDS+=($!)
	done
}

# stop_loops STOPFILE: stop them and wait for them (bounded).
stop_loops() {
	local pid
	touch "$1"
	loops_done() {
		local p
		for p in "${LOOP_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && return 1; done
		return 0
	}
	wait_until $((LOOP_SECONDS + 5)) loops_done
	for pid in "${LOOP_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
}

# lines_in FILES...: how many requests the loops have made so far.
lines_in() { cat "$@" 2>/dev/null | wc -l; }

# grown FILES... BY: the logs have BY more lines than GROWN_FROM.
GROWN_FROM=0
grown() {
	local by=${!#}
	[ "$(lines_in "${@:1:$#-1}")" -ge $((GROWN_FROM + by)) ]
}

# --- setup -------------------------------------------------------------------

if ! cluster_up; then
	fail "setup" "could not build the namespace cluster (see stderr)"
	exit 1
fi
# The line service of every pod, next to lib.sh's HTTP and UDP servers.
for n in $(seq "$NPODS"); do
	in_pod "$n" "$TOOLS/podsrv" --name "pod$n" --echo "$ECHO_PORT" >"$RUN_DIR/echo$n.log" 2>&1 &
	if ! wait_until 5 grep -q '^ready$' "$RUN_DIR/echo$n.log"; then
		fail "setup" "podsrv --echo in pod$n did not start: $(cat "$RUN_DIR/echo$n.log")"
		exit 1
	fi
done
for f in "$TOOLS/tcpkeep" "$TOOLS/svcgen"; do
	[ -x "$f" ] || { fail "setup" "$f is missing: run 'make test-bins'"; exit 1; }
done
if ! err=$(xs attach "$NIC" 2>&1); then
	fail "setup" "xdpsvc attach $NIC failed: $err"
	exit 1
fi
# Static neighbours: no ARP in the way of the loops.
mac_cl=$(ip -n "$NS_CL" -br link show cl0 | awk '{print $3}')
mac_nic=$(ip -n "$NS_NODE" -br link show "$NIC" | awk '{print $3}')
ip -n "$NS_CL" neigh replace "$NODE_IP" lladdr "$mac_nic" dev cl0 nud permanent
ip -n "$NS_NODE" neigh replace "$CLIENT_IP" lladdr "$mac_cl" dev "$NIC" nud permanent

FULL=$RUN_DIR/full.json
manifest "$FULL" "1 2 3" "1 2 3"
if ! out=$(xs apply "$FULL" 2>&1); then
	fail "setup" "first apply failed: $out"
	exit 1
fi
if ! wait_until 5 curl_vip -o /dev/null "http://$WEB_VIP/"; then
	fail "setup" "$WEB_VIP:80 does not answer after the first apply"
	exit 1
fi
write_loop

# --- cases -------------------------------------------------------------------

name="no request fails while endpoints churn"
# pod1 always; pod2 and pod3 come and go (web and echo out of step).
WEB_SETS=("1 2 3" "1 2" "1" "1 3" "1 2 3" "1 3" "1 2" "1")
ECHO_SETS=("1 2" "1 2 3" "1 3" "1" "1 3" "1 2 3" "1" "1 2")
STOP=$RUN_DIR/churn-stop
gone_before=$(xs list --json | jq ".global.tcp_backend_gone // 0")
start_loops "$STOP" tcp tcp udp udp
LOGS=("$STOP".{1,2,3,4}.log)
problems=() burst_all="" prev_web="1 2 3" applies=0 bursts=0
GROWN_FROM=0
wait_until 5 grown "${LOGS[@]}" 4 || problems+=("the client loops made no request in 5 s")
for ((i = 0; i < CHURN_APPLIES; i++)); do
	web=${WEB_SETS[i % ${#WEB_SETS[@]}]}
	echo_pods=${ECHO_SETS[i % ${#ECHO_SETS[@]}]}
	manifest "$RUN_DIR/churn.json" "$web" "$echo_pods"
	echo "$(date +%T.%N) apply $((i + 1)): web $web; echo $echo_pods" >>"$RUN_DIR/churn-applies.log"
	if ! out=$(xs apply "$RUN_DIR/churn.json" 2>&1); then
		problems+=("apply $((i + 1)) (web: $web; echo: $echo_pods) failed: $out")
		continue
	fi
	applies=$((applies + 1))
	if [[ " $prev_web " == *" 3 "* && " $web " != *" 3 "* ]]; then
		# pod3 was just removed: no new connection may reach it.
		burst=$(for ((j = 0; j < 20; j++)); do curl_vip "http://$WEB_VIP/" 2>&1 || echo "curl-failed"; done)
		burst_all+="$burst"$'\n'
		bursts=$((bursts + 1))
		if grep -qvx "pod[12]" <<<"$burst"; then
			problems+=("apply $((i + 1)) removed pod3 (web: $web); the next 20 new connections got: $(tally <<<"$burst")")
		fi
	fi
	prev_web=$web
	# Let every loop get some requests in before the next apply.
	GROWN_FROM=$(lines_in "${LOGS[@]}")
	wait_until 5 grown "${LOGS[@]}" 4 || problems+=("the client loops stalled after apply $((i + 1))")
done
stop_loops "$STOP"
failures=$(cat "${LOGS[@]}" | grep -c '^FAIL')
gone=$(($(xs list --json | jq ".global.tcp_backend_gone // 0") - gone_before))
total=$(lines_in "${LOGS[@]}")
want=$(expected_backends "$web" "$echo_pods")
got=$(list_backends)
for l in "${LOGS[@]}"; do
	[ "$(grep -c '^ok' "$l")" -ge 20 ] || problems+=("${l##*/}: only $(grep -c '^ok' "$l") answered requests")
done
if [ "$failures" -gt 0 ]; then
	problems+=("$failures of $total requests failed during $applies applies: (datapath tcp_backend_gone +$gone: TCP packets of established flows kept on a removed endpoint) $(cat "${LOGS[@]}" | grep '^FAIL' | head -n 5 | tr '\n' ';')")
fi
[ "$applies" -ge 30 ] || problems+=("only $applies applies succeeded, want >= 30")
[ "$bursts" -ge 4 ] || problems+=("only $bursts bursts after removing pod3")
[ "$got" = "$want" ] || problems+=("list --json differs from the last file: $(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | tr '\n' ' ')")
if [ "${#problems[@]}" -eq 0 ]; then
	pass "$name"
else
	fail "$name" "$(printf '%s | ' "${problems[@]}")"
fi
echo "  churn: $applies applies, $total requests ($(cat "${LOGS[@]}" | awk '{ print $1 == "ok" ? $2 : "FAIL" }' | tally)); $bursts bursts after removing pod3: $(grep -v '^$' <<<"$burst_all" | tally)"
if [ "$failures" -gt 0 ]; then
	echo "  failed requests, then the applies (times):"
	cat "${LOGS[@]}" | grep "^FAIL" | sed "s/^/    /"
	sed "s/^/    /" "$RUN_DIR/churn-applies.log"
fi

name="a long-lived TCP connection keeps its backend through 20 applies"
problems=()
if ! out=$(xs apply "$FULL" 2>&1); then
	problems+=("restoring all pods failed: $out")
fi
KEEP=$RUN_DIR/keep
in_cl "$TOOLS/tcpkeep" "$WEB_VIP" 7 --count 100 --interval-ms 100 --timeout-ms 2000 \
	>"$KEEP.out" 2>"$KEEP.err" &
keep_pid=$!
if ! wait_until 5 grep -q . "$KEEP.out"; then
	problems+=("no first reply on $WEB_VIP:7: $(cat "$KEEP.err")")
else
	mine=$(head -n 1 "$KEEP.out")
	me=${mine#pod}
	others=$(for n in 1 2 3; do [ "$n" = "$me" ] || echo "$n"; done | tr '\n' ' ')
	read -r oa ob <<<"$others"
	sets=("$me" "$me $oa" "$me $oa $ob" "$me $ob")
	for ((i = 0; i < 20; i++)); do
		web=${sets[(i + 1) % 4]}
		manifest "$RUN_DIR/keep.json" "$web" "1 2 3"
		if ! out=$(xs apply "$RUN_DIR/keep.json" 2>&1); then
			problems+=("apply $((i + 1)) (web: $web) failed: $out")
		fi
		# At least one request on the connection between two applies.
		GROWN_FROM=$(lines_in "$KEEP.out")
		wait_until 3 grown "$KEEP.out" 1 || {
			problems+=("no reply after apply $((i + 1)) (web: $web): $(cat "$KEEP.err")")
			break
		}
	done
fi
wait_until 20 eval '! kill -0 $keep_pid 2>/dev/null' || kill "$keep_pid" 2>/dev/null
wait "$keep_pid"
keep_rc=$?
replies=$(wc -l <"$KEEP.out")
if [ "$keep_rc" -ne 0 ] || [ -s "$KEEP.err" ]; then
	problems+=("tcpkeep exited $keep_rc after $replies replies: $(cat "$KEEP.err")")
fi
if [ "$replies" -ne 100 ] || [ "$(sort -u "$KEEP.out")" != "${mine:-?}" ]; then
	problems+=("replies on the one connection: $(tally <"$KEEP.out") (want pod${me:-?} x100)")
fi
if [ "${#problems[@]}" -eq 0 ]; then
	pass "$name"
else
	fail "$name" "$(printf '%s | ' "${problems[@]}")"
fi

name="a terminating endpoint keeps its established flows and gets no new ones"
problems=()
manifest "$FULL" "1 2 3" "1 2 3"
xs apply "$FULL" >/dev/null 2>&1 || problems+=("restoring all pods failed")
in_cl "$TOOLS/tcpkeep" "$WEB_VIP" 7 --count 40 --interval-ms 100 --timeout-ms 2000 >"$KEEP.out" 2>"$KEEP.err" &
tcp_pid=$!
in_cl "$TOOLS/udpq" "$ECHO_VIP" 53 --same-socket --count 40 --interval-ms 100 --timeout-ms 2000 \
	>"$RUN_DIR/udpkeep.out" 2>"$RUN_DIR/udpkeep.err" &
udp_pid=$!
wait_until 5 grep -q . "$KEEP.out" || problems+=("no first TCP reply: $(cat "$KEEP.err")")
wait_until 5 grep -q . "$RUN_DIR/udpkeep.out" || problems+=("no first UDP reply: $(cat "$RUN_DIR/udpkeep.err")")
tcp_pod=$(head -n 1 "$KEEP.out") udp_pod=$(head -n 1 "$RUN_DIR/udpkeep.out")
# Those two pods turn serving-but-terminating; the others stay ready.
web_set="" echo_set=""
for n in 1 2 3; do
	if [ "pod$n" = "$tcp_pod" ]; then web_set+=" $n~"; else web_set+=" $n"; fi
	if [ "pod$n" = "$udp_pod" ]; then echo_set+=" $n~"; else echo_set+=" $n"; fi
done
manifest "$RUN_DIR/terminating.json" "$web_set" "$echo_set"
out=$(xs apply "$RUN_DIR/terminating.json" 2>&1) || problems+=("apply with terminating endpoints failed: $out")
new_tcp=$(for ((j = 0; j < 20; j++)); do curl_vip "http://$WEB_VIP/" 2>&1 || echo "curl-failed"; done)
# From ports above the kernel's ephemeral range: flows no earlier case made.
new_udp=$(in_cl "$TOOLS/udpq" "$ECHO_VIP" 53 --count 20 --timeout-ms 1000 --local-port 61000 2>&1)
grep -qx "$tcp_pod" <<<"$new_tcp" && problems+=("new connections reached the terminating $tcp_pod: $(tally <<<"$new_tcp")")
grep -qvx 'pod[123]' <<<"$new_tcp" && problems+=("new connections failed: $(tally <<<"$new_tcp")")
grep -qx "$udp_pod" <<<"$new_udp" && problems+=("new UDP flows reached the terminating $udp_pod: $(tally <<<"$new_udp")")
wait_until 10 eval '! kill -0 $tcp_pid 2>/dev/null && ! kill -0 $udp_pid 2>/dev/null' ||
	problems+=("the long-lived clients did not finish")
wait "$tcp_pid"; tcp_rc=$?
wait "$udp_pid"; udp_rc=$?
if [ "$tcp_rc" -ne 0 ] || [ "$(sort -u "$KEEP.out")" != "$tcp_pod" ] || [ "$(wc -l <"$KEEP.out")" -ne 40 ]; then
	problems+=("the TCP connection on $tcp_pod: rc $tcp_rc, replies $(tally <"$KEEP.out"): $(cat "$KEEP.err")")
fi
if [ "$udp_rc" -ne 0 ] || [ "$(sort -u "$RUN_DIR/udpkeep.out")" != "$udp_pod" ] ||
	[ "$(wc -l <"$RUN_DIR/udpkeep.out")" -ne 40 ]; then
	problems+=("the UDP flow on $udp_pod: rc $udp_rc, replies $(tally <"$RUN_DIR/udpkeep.out"): $(cat "$RUN_DIR/udpkeep.err")")
fi
xs apply "$FULL" >/dev/null 2>&1 || problems+=("restoring all pods failed")
if [ "${#problems[@]}" -eq 0 ]; then
	pass "$name"
else
	fail "$name" "$(printf '%s | ' "${problems[@]}")"
fi

name="killing the loader mid-apply leaves traffic flowing and the next apply converges"
problems=()
BIG=$RUN_DIR/big.json
"$TOOLS/svcgen" --services 5000 --endpoints 10 --ns load >"$BIG" || problems+=("svcgen failed")
if ! out=$(xs apply "$FULL" 2>&1); then
	problems+=("restoring all pods failed: $out")
fi
# The loader SIGKILLs itself after N map entries (fault injection in
# loader/maps.c): in the backends, in the slots, in the frontends (the 4th: the
# backends are there by then), and in the
# deletions of a shrinking apply, each followed by traffic checks.
kill_at() {
	local n=$1 file=$2 rc
	XDPSVC_TEST_KILL_AFTER_WRITES=$n in_node "$XDPSVC" apply "$file" "$FULL" --pin-path "$PIN" \
		>"$RUN_DIR/killed.out" 2>&1
	rc=$?
	[ "$rc" -eq 137 ] || problems+=("the apply killed after $n writes exited $rc: $(cat "$RUN_DIR/killed.out")")
	answers=$(for ((j = 0; j < 5; j++)); do curl_vip "http://$WEB_VIP/" 2>&1 || echo "curl-failed"; done)
	grep -qvx 'pod[123]' <<<"$answers" && problems+=("killed after $n writes: requests to $WEB_VIP got: $(tally <<<"$answers")")
	echo "  killed after $n writes: list shows $(xs list --json | jq '.frontends | length') frontends"
}
SMALL=$RUN_DIR/small.json
"$TOOLS/svcgen" --services 1000 --endpoints 10 --ns load >"$SMALL" || problems+=("svcgen failed")
for n in 0 20000 52000 62000; do kill_at "$n" "$BIG"; done
for n in 1 60000; do kill_at "$n" "$SMALL"; done
# Traffic to the ClusterIP still works.
answers=$(for ((j = 0; j < 20; j++)); do curl_vip "http://$WEB_VIP/" 2>&1 || echo "curl-failed"; done)
grep -qvx 'pod[123]' <<<"$answers" && problems+=("after the kill 20 requests to $WEB_VIP got: $(tally <<<"$answers")")
udp=$(in_cl "$TOOLS/udpq" "$ECHO_VIP" 53 --count 10 --timeout-ms 1000 2>&1)
[ "$(grep -cx 'pod[123]' <<<"$udp")" -eq 10 ] || problems+=("after the kill 10 UDP queries got: $(tally <<<"$udp")")
t0=$(date +%s%N)
if ! out=$(xs apply "$BIG" "$FULL" 2>&1); then
	problems+=("the next apply failed: $out")
else
	echo "  next apply: $out; $((($(date +%s%N) - t0) / 1000000)) ms"
	n=$(xs list --json | jq '.frontends | length')
	[ "$n" = 5003 ] || problems+=("list shows $n frontends, want 5003")
	got=$(list_backends)
	want=$(expected_backends "1 2 3" "1 2 3")
	[ "$got" = "$want" ] || problems+=("e2e backends differ from the file: $(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | tr '\n' ' ')")
	answers=$(for ((j = 0; j < 10; j++)); do curl_vip "http://$WEB_VIP/" 2>&1 || echo "curl-failed"; done)
	grep -qvx 'pod[123]' <<<"$answers" && problems+=("after the next apply 10 requests got: $(tally <<<"$answers")")
fi
if [ "${#problems[@]}" -eq 0 ]; then
	pass "$name"
else
	fail "$name" "$(printf '%s | ' "${problems[@]}")"
fi

name="attach again, and attach a rebuilt binary, while traffic flows"
problems=()
# A rebuild with another program but the same map layout.
REBUILT=$RUN_DIR/rebuild
make -s -C "$XS_REPO" BUILD="$REBUILT" BPF_EXTRA=-mcpu=v3 "$REBUILT/xdpsvc" >"$RUN_DIR/rebuild.log" 2>&1 ||
	problems+=("the rebuild failed: $(tail -n 3 "$RUN_DIR/rebuild.log")")
# The tags of the programs on the NIC's ingress: XDP (if any) and tc.
xdp_tag() {
	ip -n "$NS_NODE" -d link show "$NIC" | sed -n 's/.*prog\/xdp id [0-9]* name [a-z_]* tag \([0-9a-f]*\).*/\1/p'
	tc -n "$NS_NODE" -j filter show dev "$NIC" ingress | jq -r '.[] | .options.prog.tag // empty'
}
tag_before=$(xdp_tag)
STOP=$RUN_DIR/attach-stop
start_loops "$STOP" tcp udp
LOGS=("$STOP".{1,2}.log)
in_cl "$TOOLS/tcpkeep" "$WEB_VIP" 7 --count 60 --interval-ms 100 --timeout-ms 2000 \
	>"$KEEP.out" 2>"$KEEP.err" &
keep_pid=$!
GROWN_FROM=0
wait_until 5 grown "${LOGS[@]}" 10 || problems+=("the client loops made no request in 5 s")
wait_until 5 grep -q . "$KEEP.out" || problems+=("no first reply on $WEB_VIP:7: $(cat "$KEEP.err")")
ct_before=$(ct_entries)
ct_after=""
for r in 1 2; do
	bin=$XDPSVC
	[ "$r" -eq 2 ] && bin=$REBUILT/xdpsvc
	if ! err=$(in_node "$bin" attach "$NIC" --pin-path "$PIN" 2>&1); then
		problems+=("attach $r ($bin) failed: $err")
	fi
	ct_after+="$(ct_entries) "
	GROWN_FROM=$(lines_in "${LOGS[@]}")
	wait_until 5 grown "${LOGS[@]}" 10 || problems+=("the client loops stalled after attach $r")
done
stop_loops "$STOP"
wait_until 10 eval '! kill -0 $keep_pid 2>/dev/null' || kill "$keep_pid" 2>/dev/null
wait "$keep_pid"
keep_rc=$?
failures=$(cat "${LOGS[@]}" | grep -c '^FAIL')
total=$(lines_in "${LOGS[@]}")
[ "$failures" -eq 0 ] || problems+=("$failures of $total requests failed: $(cat "${LOGS[@]}" | grep '^FAIL' | head -n 5 | tr '\n' ';')")
[ "$ct_before" -gt 0 ] || problems+=("no conntrack entry before the attach")
for c in $ct_after; do
	[ "$c" -gt 0 ] || problems+=("conntrack entries before/after each attach: $ct_before / $ct_after")
done
tag_after=$(xdp_tag)
if [ -z "$tag_before" ] || [ "$tag_before" = "$tag_after" ]; then
	problems+=("the rebuilt ingress program did not replace the first: tag $tag_before -> $tag_after")
fi
if [ "$keep_rc" -ne 0 ] || [ "$(sort -u "$KEEP.out" | wc -l)" -ne 1 ] || [ "$(wc -l <"$KEEP.out")" -ne 60 ]; then
	problems+=("the long-lived connection: rc $keep_rc, replies $(tally <"$KEEP.out"): $(cat "$KEEP.err")")
fi
if [ "${#problems[@]}" -eq 0 ]; then
	pass "$name"
else
	fail "$name" "$(printf '%s | ' "${problems[@]}" | sort -u | tr '\n' ' ')"
fi
echo "  attach: $total requests, conntrack entries $ct_before before, $ct_after after each attach"

xs_status
