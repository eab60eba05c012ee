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
j=$(list_json)
read -r created new_flow used max evicted flushed drops < <(jq -r '[.global.ct_created, .global.new_flow,
	.capacity.conntrack.used, .capacity.conntrack.max, .capacity.conntrack.evicted,
	.capacity.conntrack.flushed, .global.drop_ct_full] | map(tostring) | join(" ")' <<<"$j")
if [ "$created" != $((2 * FLOWS)) ] || [ "$new_flow" != "$FLOWS" ] || [ "$drops" != 0 ]; then
	fail "$name" "ct_created $created (want $((2 * FLOWS))), new_flow $new_flow (want $FLOWS), drop_ct_full $drops"
elif [ "$max" != "$CT_SIZE" ] || ! [ "$used" -ge 0 ] 2>/dev/null || [ "$used" -gt "$max" ]; then
	fail "$name" "conntrack in use $used of $max, want at most $CT_SIZE"
elif ! [ "$evicted" -ge $((2 * FLOWS - CT_SIZE)) ] 2>/dev/null || [ "$evicted" -gt $((2 * FLOWS)) ] ||
	[ "$flushed" != 0 ]; then
	fail "$name" "evicted $evicted, flushed $flushed; want $((2 * FLOWS - CT_SIZE))..$((2 * FLOWS)) evicted, 0 flushed"
elif [ $((created - flushed - used)) != "$evicted" ]; then
	fail "$name" "evicted $evicted is not created $created - flushed $flushed - in use $used"
else
	pass "$name"
fi

name="list shows conntrack in use, size, evictions and flushes"
if ! out=$(xs list 2>&1) || ! grep -q "conntrack $used/$CT_SIZE ($evicted evicted, 0 flushed)" <<<"$out"; then
	fail "$name" "no 'conntrack $used/$CT_SIZE ($evicted evicted, 0 flushed)' in: $(grep capacity <<<"$out")"
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

xs_status
