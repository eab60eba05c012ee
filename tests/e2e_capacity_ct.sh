#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# End to end: a full conntrack table keeps forwarding, and its evictions are
# counted. The datapath is attached with a small --ct-size; a client sends
# many more new UDP flows (one query each, from distinct source ports) through
# a ClusterIP than the table holds. Every query must be answered by a pod,
# and `list` must report the evictions: ct_created counts the entries the
# datapath made, conntrack flush the ones it deleted, and evicted is the rest
# of what is no longer in use (README, under "Commands"). Env: BUILD (default
# build), XDP_MODE (native|generic, default: the loader's).
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

ECHO_VIP=198.19.0.20
CT_SIZE=512      # entries: 256 flows
FLOWS=1500       # new flows sent, each two entries
CHUNK=250        # queries per udpq run: a broken datapath fails fast
LPORT=20000      # first client port; the kernel does not hand these out

list_json() { xs list --json; }
ct_field() { list_json | jq -r ".capacity.conntrack.$1"; }
global_field() { list_json | jq -r ".global.$1"; }

# queries N FIRST_PORT: N queries to the echo ClusterIP from ports FIRST_PORT..,
# in chunks, stopping at the first chunk with an unanswered query; one line
# per answer on stdout, udpq's complaints on stderr.
queries() {
	local n=$1 port=$2 c
	while [ "$n" -gt 0 ]; do
		c=$((n < CHUNK ? n : CHUNK))
		in_cl "$TOOLS/udpq" "$ECHO_VIP" 53 --count "$c" --local-port "$port" --timeout-ms 1000 || return 1
		n=$((n - c))
		port=$((port + c))
	done
}

cluster_up || { fail setup "the namespace cluster did not come up"; exit 1; }
mode=()
[ -n "${XDP_MODE:-}" ] && mode=(--xdp-mode "$XDP_MODE")
manifest=$RUN_DIR/echo.json
k8s_list "$(k8s_service echo "$ECHO_VIP" udp:53/UDP:5353)" \
	"$(k8s_slice echo echo-q9v4m "$(pod_ip 1) $(pod_ip 2) $(pod_ip 3)" udp:5353/UDP)" >"$manifest"
if ! out=$(xs attach "$NIC" "${mode[@]}" --ct-size "$CT_SIZE" 2>&1) || ! out=$(xs apply "$manifest" 2>&1); then
	fail setup "attach --ct-size $CT_SIZE and apply: $out"
	exit 1
fi

name="a full conntrack table keeps forwarding: $FLOWS new UDP flows through a $CT_SIZE-entry table all answered"
answers=$(queries "$FLOWS" "$LPORT" 2>"$RUN_DIR/udpq.err")
rc=$?
n=$(grep -cx 'pod[123]' <<<"$answers")
if [ "$rc" != 0 ] || [ "$n" != "$FLOWS" ]; then
	fail "$name" "$n of $FLOWS answered by a pod (udpq: $(sort "$RUN_DIR/udpq.err" | uniq -c | head -3 | tr '\n' ' '))"
else
	pass "$name"
fi

name="list --json counts the evictions: created = 2 per flow, in use <= size, evicted >= created - size"
# One query each: no flow is assured (a reply, then a client packet), all
# stay in the new flows' table.
j=$(list_json)
read -r created new_flow used max evicted flushed drops < <(jq -r '[.global.ct_created, .global.new_flow,
	.capacity.conntrack.used, .capacity.conntrack.max, .capacity.conntrack.evicted,
	.capacity.conntrack.flushed, .global.drop_ct_full] | map(tostring) | join(" ")' <<<"$j")
if [ "$created" != $((2 * FLOWS)) ] || [ "$new_flow" != "$FLOWS" ] || [ "$drops" != 0 ]; then
	fail "$name" "ct_created $created (want $((2 * FLOWS))), new_flow $new_flow (want $FLOWS), drop_ct_full $drops"
elif [ "$max" != $((2 * CT_SIZE)) ] || ! [ "$used" -ge 0 ] 2>/dev/null || [ "$used" -gt "$CT_SIZE" ]; then
	fail "$name" "conntrack in use $used of $max, want at most $CT_SIZE (new flows' table) of $((2 * CT_SIZE))"
elif ! [ "$evicted" -ge $((2 * FLOWS - CT_SIZE)) ] 2>/dev/null || [ "$evicted" -gt $((2 * FLOWS)) ] ||
	[ "$flushed" != 0 ]; then
	fail "$name" "evicted $evicted, flushed $flushed; want $((2 * FLOWS - CT_SIZE))..$((2 * FLOWS)) evicted, 0 flushed"
elif [ $((created - flushed - used)) != "$evicted" ]; then
	fail "$name" "evicted $evicted is not created $created - flushed $flushed - in use $used"
else
	pass "$name"
fi

name="list shows conntrack in use, size, evictions and flushes"
want="conntrack $used/$((2 * CT_SIZE)) (new $used/$CT_SIZE, assured 0/$CT_SIZE; $evicted evicted, 0 flushed)"
if ! out=$(xs list 2>&1) || ! grep -qF "$want" <<<"$out"; then
	fail "$name" "no '$want' in: $(grep capacity <<<"$out")"
else
	pass "$name"
fi

name="conntrack flush is counted as flushed, not as evicted, and survives a re-attach"
if ! out=$(xs conntrack flush 2>&1) || ! grep -qx "conntrack: $used entries flushed" <<<"$out"; then
	fail "$name" "flush said '$out', want $used entries flushed"
elif [ "$(ct_field used)" != 0 ] || [ "$(ct_field flushed)" != "$used" ] || [ "$(ct_field evicted)" != "$evicted" ]; then
	fail "$name" "after the flush: $(list_json | jq -c .capacity.conntrack), want used 0, flushed $used, evicted $evicted"
elif ! out=$(xs attach "$NIC" "${mode[@]}" 2>&1); then
	fail "$name" "re-attach failed: $out"
elif [ "$(ct_field flushed)" != "$used" ] || [ "$(ct_field evicted)" != "$evicted" ] ||
	[ "$(global_field ct_created)" != "$created" ]; then
	fail "$name" "after the re-attach: $(list_json | jq -c .capacity.conntrack), ct_created\
 $(global_field ct_created); want flushed $used, evicted $evicted, ct_created $created"
else
	pass "$name"
fi

name="new flows in a table with room: created, not evicted"
answers=$(queries 20 $((LPORT + FLOWS)) 2>&1)
if [ "$(grep -cx 'pod[123]' <<<"$answers")" != 20 ]; then
	fail "$name" "20 queries after the flush got: $(tr '\n' ' ' <<<"$answers")"
elif [ "$(global_field ct_created)" != $((created + 40)) ] || [ "$(ct_field used)" != 40 ] ||
	[ "$(ct_field evicted)" != "$evicted" ]; then
	fail "$name" "ct_created $(global_field ct_created) (want $((created + 40))),\
 $(list_json | jq -c .capacity.conntrack) (want used 40, evicted $evicted)"
else
	pass "$name"
fi

name="a spray of new flows never evicts an assured one: 10 idle TCP connections outlive 600 new UDP flows in a $CT_SIZE-entry table"
TCP_VIP=198.19.0.30
for n in 1 2 3; do
	in_pod "$n" "$TOOLS/podsrv" --name "pod$n" --echo 7007 >"$RUN_DIR/echo$n.log" 2>&1 &
done
k8s_list "$(k8s_service echo "$ECHO_VIP" udp:53/UDP:5353)" "$(k8s_service keep "$TCP_VIP" keep:7/TCP:7007)" \
	"$(k8s_slice echo echo-q9v4m "$(pod_ip 1) $(pod_ip 2) $(pod_ip 3)" udp:5353/UDP)" \
	"$(k8s_slice keep keep-a "$(pod_ip 1) $(pod_ip 2) $(pod_ip 3)" keep:7007/TCP)" >"$RUN_DIR/keep.json"
problems=()
wait_until 5 grep -qs '^ready$' "$RUN_DIR/echo1.log" "$RUN_DIR/echo2.log" "$RUN_DIR/echo3.log" ||
	problems+=("podsrv --echo did not start")
out=$(xs apply "$RUN_DIR/keep.json" 2>&1) || problems+=("apply: $out")
pids=()
for i in $(seq 10); do
	# a line now and one 5 s later: idle while the spray runs
	in_cl "$TOOLS/tcpkeep" "$TCP_VIP" 7 --count 2 --interval-ms 5000 --timeout-ms 2000 >"$RUN_DIR/keep$i.out" \
		2>"$RUN_DIR/keep$i.err" &
	pids+=($!)
done
wait_until 3 eval '[ "$(cat "$RUN_DIR"/keep*.out 2>/dev/null | wc -l)" -ge 10 ]' || problems+=("the connections did not start")
a0=$(global_field ct_assured)
sprayed=$(queries 600 $((LPORT + FLOWS + 100)) 2>/dev/null | grep -cx 'pod[123]')
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
for i in $(seq 10); do
	[ "$(sort -u "$RUN_DIR/keep$i.out" | wc -l)" = 1 ] && [ "$(wc -l <"$RUN_DIR/keep$i.out")" = 2 ] ||
		problems+=("connection $i: $(sort "$RUN_DIR/keep$i.out" | uniq -c | tr -s ' \n' ' ') $(cat "$RUN_DIR/keep$i.err")")
done
[ "$rc" = 0 ] || problems+=("a tcpkeep failed")
[ "$sprayed" = 600 ] || problems+=("$sprayed of 600 UDP queries answered")
[ "$a0" -ge 10 ] 2>/dev/null || problems+=("ct_assured $a0 before the spray, want the 10 connections")
if [ "${#problems[@]}" -eq 0 ]; then
	pass "$name"
else
	fail "$name" "$(printf '%s | ' "${problems[@]}")"
fi

xs_status
