#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# End to end: two `xdpsvc apply` at once on one pin directory are serialised
# (flock on the directory). Two big, disjoint cluster dumps A (3000 Services
# in namespace a, 3 endpoints each) and B (2000 in namespace b, 4 endpoints)
# are applied concurrently, several times, in both start orders. After both
# end, the maps must describe exactly A or exactly B (compared in full,
# counters aside), and the two summaries must tell one consistent story:
# from state A, either A ran first ("no change") and B replaced it, or B ran
# first and A put itself back. Needs only the node namespace of tests/lib.sh
# with a veth pair. Env: BUILD (default build), ROUNDS (default 12).
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-12}
A=$RUN_DIR/a.json
B=$RUN_DIR/b.json
NA=3000
NB=2000

setup() {
	trap cluster_down EXIT
	trap 'exit 130' INT TERM
	for f in "$XDPSVC" "$TOOLS/svcgen"; do
		[ -x "$f" ] || { echo "setup: $f is missing: run 'make test-bins'" >&2; return 1; }
	done
	step mkdir -p "$BPFFS" || return 1
	step mount -t bpf bpf "$BPFFS" || return 1
	xs_netns_add "$NS_NODE" || return 1
	step ip -n "$NS_NODE" link add "$NIC" type veth peer name nic1 || return 1
	step ip -n "$NS_NODE" link set "$NIC" up || return 1
	step ip -n "$NS_NODE" link set nic1 up || return 1
	step "$TOOLS/svcgen" --services "$NA" --endpoints 3 --ns a >"$A" || return 1
	step "$TOOLS/svcgen" --services "$NB" --endpoints 4 --ns b --vip-base 198.19.128.0 >"$B" || return 1
	step xs attach "$NIC" >/dev/null
}

# state: the frontends and their backends, in a canonical order, without
# counters or ids (which depend on the history).
state() {
	xs list --json | jq -c '[.frontends[] | {namespace, name, address, port, protocol,
		backends: (.backends | sort_by(.address, .port))}] | sort_by(.namespace, .name, .port)'
}

if ! setup; then
	fail setup "could not build the test namespace (see stderr)"
	exit 1
fi

# summary_of OUTPUT: an apply's summary without its timing.
summary_of() { sed 's/ (.*//' <<<"$1"; }

# The summaries of A over B and B over A by themselves (the pods of A and B
# overlap, so not every backend changes), and the states.
name="reference states of A and B"
if ! out=$(xs apply "$B" 2>&1) || ! out=$(xs apply "$A" 2>&1) || ! A_OVER_B=$(summary_of "$out") ||
	! STATE_A=$(state) || ! out=$(xs apply "$B" 2>&1) || ! B_OVER_A=$(summary_of "$out") ||
	! STATE_B=$(state) || ! out=$(xs apply "$A" 2>&1); then
	fail "$name" "apply or list failed: $out"
	exit 1
elif [ "$(jq length <<<"$STATE_A")" -ne "$NA" ] || [ "$(jq length <<<"$STATE_B")" -ne "$NB" ]; then
	fail "$name" "A has $(jq length <<<"$STATE_A") frontends (want $NA), B $(jq length <<<"$STATE_B") (want $NB)"
	exit 1
fi
pass "$name"

# Each round starts from state A. Order "a first": A says no change, B
# replaces it, final B. Order "b first": B replaces A, A replaces B, final A.
# In odd rounds the test holds the lock itself (flock(1) on the directory)
# while both read their files, so both wait for it and then race for it the
# same instant: without the lock their writes would interleave. Even rounds
# start B DELAY s after A, so sometimes one of them clearly goes first.
DELAYS=(0 0.2 0.4 0.6)
HOLD=3
name="concurrent applies are serialised: the maps are exactly A or B, the summaries agree"
problems=()
orders=""
for ((r = 0; r < ROUNDS; r++)); do
	ph=""
	if ((r % 2)); then
		flock "$PIN" sleep "$HOLD" &
		ph=$!
		sleep 0.2
	fi
	xs apply "$A" >"$RUN_DIR/a.out" 2>&1 &
	pa=$!
	[ -z "$ph" ] && sleep "${DELAYS[r / 2 % ${#DELAYS[@]}]}"
	xs apply "$B" >"$RUN_DIR/b.out" 2>&1 &
	pb=$!
	if [ -n "$ph" ]; then
		sleep $((HOLD - 1))
		if ! kill -0 "$pa" 2>/dev/null || ! kill -0 "$pb" 2>/dev/null; then
			problems+=("round $r: an apply ended while another process held the lock")
		fi
		wait "$ph"
	fi
	wait "$pa"
	sa=$?
	wait "$pb"
	sb=$?
	oa=$(summary_of "$(cat "$RUN_DIR/a.out")")
	ob=$(summary_of "$(cat "$RUN_DIR/b.out")")
	final=$(state)
	if [ "$sa" -ne 0 ] || [ "$sb" -ne 0 ]; then
		problems+=("round $r: exit $sa/$sb: $oa / $ob")
	elif [ "$oa" = "apply: no change" ] && [ "$ob" = "$B_OVER_A" ]; then
		orders+="a"
		[ "$final" = "$STATE_B" ] || problems+=("round $r: A then B, but the maps are not B's ($(jq length <<<"$final") frontends)")
	elif [ "$ob" = "$B_OVER_A" ] && [ "$oa" = "$A_OVER_B" ]; then
		orders+="b"
		[ "$final" = "$STATE_A" ] || problems+=("round $r: B then A, but the maps are not A's ($(jq length <<<"$final") frontends)")
	else
		problems+=("round $r: summaries tell no serial story: A: $oa / B: $ob")
	fi
	# Back to state A for the next round.
	if [ "$final" != "$STATE_A" ] && ! out=$(xs apply "$A" 2>&1); then
		problems+=("round $r: re-applying A failed: $out")
		break
	fi
done
if [ "${#problems[@]}" -gt 0 ]; then
	fail "$name" "${problems[*]}"
else
	pass "$name"
	echo "  orders seen (a: A locked first, b: B first): $orders"
fi

xs_status
