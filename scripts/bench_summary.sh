#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# The last step of `make bench`: every target of the three parts (per-packet
# cost, live traffic, apply cost) in one table, from the JSON they wrote
# under $BUILD/bench/, and the same as $BUILD/bench/summary.json. Figures are
# the measured ones; a missing part shows as "not run". Live traffic: at the
# largest Service count, new flow and one flow of each xdpsvc NIC mode as a
# ratio to nftables (targets for tc, the default on a veth NIC, and for
# native XDP; --no-fast-path for comparison), against iptables and the
# XDP_DROP ceiling as before; a live.json without "checks" (an older
# bench_live.sh) shows its "ratios".
set -u
XS_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$XS_REPO/$BUILD ;; esac
DIR=$BUILD/bench

# rows: "part<TAB>check<TAB>measured<TAB>target<TAB>met" lines.
rows() {
	[ -f "$DIR/pkt.json" ] && jq -r '.checks[] | ["per packet", .name, (.ratio | tostring),
		("<= " + (.limit | tostring)), (if .met then "met" else "MISSED" end)] | @tsv' "$DIR/pkt.json"
	[ -f "$DIR/live.json" ] && jq -r '
		if .checks then
			.services as $n | .checks[] | select(.target != null or .against == "nftables") |
			["live", "\(.name), \($n) Services",
			 (if .value == null then "n/a" else (.value | tostring) end),
			 (if .target == null then "-" else ">= " + (.target | tostring) end),
			 (if .value == null then "not run" elif .target == null then "info" elif .met then "met" else "MISSED" end)]
		else
			.ratios | to_entries[] | select(.value.target != null) |
			["live", ((.key | gsub("_"; " ")) + ", at the largest Service count"),
			 (if .value.value == null then "n/a" else (.value.value | tostring) end),
			 (">= " + (.value.target | tostring)),
			 (if .value.value == null then "not run" elif .value.met then "met" else "MISSED" end)]
		end | @tsv' "$DIR/live.json"
	[ -f "$DIR/apply.json" ] && jq -r '
		["apply", "full apply, wall ms", (.full_apply.wall_ms | tostring),
		 ("< " + (.full_apply.target_wall_ms | tostring)), (if .full_apply.target_met then "met" else "MISSED" end)],
		["apply", "one-endpoint change, wall ms", (.one_endpoint_change.wall_ms | tostring),
		 ("< " + (.one_endpoint_change.target_wall_ms | tostring)),
		 (if .one_endpoint_change.target_met then "met" else "MISSED" end)],
		["apply", "one-endpoint change, map writes (max)", (.one_endpoint_change.map_writes_max | tostring),
		 "a handful", (if .one_endpoint_change.map_writes_max < 16 then "met" else "MISSED" end)],
		["apply", "one-endpoint change via apply --watch, self ms",
		 (.watch_one_endpoint_change.self_ms | tostring), ("< " + (.watch_one_endpoint_change.target_self_ms | tostring)),
		 (if .watch_one_endpoint_change.target_met then "met" else "MISSED" end)],
		["apply", "one-endpoint change via apply --watch, map writes (max)",
		 (.watch_one_endpoint_change.map_writes_max | tostring), "a handful",
		 (if .watch_one_endpoint_change.map_writes_max < 16 then "met" else "MISSED" end)] | @tsv' "$DIR/apply.json"
}

table=$(rows 2>"$DIR/.summary.err")
[ -s "$DIR/.summary.err" ] && echo "bench: some JSON under $DIR could not be read: $(head -c 300 "$DIR/.summary.err")" >&2
rm -f "$DIR/.summary.err"
echo
echo "make bench: targets ($(nproc) CPUs, kernel $(uname -r); details in the tables above)"
printf '%-11s %-60s %9s %9s  %s\n' "part" "check" "measured" "target" "verdict"
while IFS=$'\t' read -r part check measured target verdict; do
	[ -n "$part" ] && printf '%-11s %-60s %9s %9s  %s\n' "$part" "$check" "$measured" "$target" "$verdict"
done <<<"$table"
if [ -f "$DIR/live.json" ] && jq -e '.checks' "$DIR/live.json" >/dev/null 2>&1; then
	echo "(live: xdpsvc-tc = default attach on a veth NIC (tc mode, bpf_redirect_peer into the pod); xdpsvc-native ="
	echo " --xdp-mode native, standing for a physical NIC's driver (translated packets go to the stack); xdpsvc-nofp ="
	echo " --no-fast-path; \"info\": no target, for comparison)"
fi
for f in pkt live apply; do
	[ -f "$DIR/$f.json" ] || echo "($f: not run)"
done
jq -R -s 'split("\n") | map(select(length > 0) | split("\t") |
	{part: .[0], check: .[1], measured: .[2], target: .[3],
	 met: (if .[4] == "met" then true elif .[4] == "MISSED" then false else null end)})' <<<"$table" >"$DIR/summary.json"
echo "bench: wrote $DIR/summary.json"
