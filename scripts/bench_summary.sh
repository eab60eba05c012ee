#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# The last step of `make bench`: every target of the three parts (per-packet
# cost, live traffic, apply cost) in one table, from the JSON they wrote
# under $BUILD/bench/, and the same as $BUILD/bench/summary.json. Figures are
# the measured ones; a missing part shows as "not run".
set -u
XS_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$XS_REPO/$BUILD ;; esac
DIR=$BUILD/bench

# rows: "part<TAB>check<TAB>measured<TAB>target<TAB>met" lines.
rows() {
	[ -f "$DIR/pkt.json" ] && jq -r '.checks[] | ["per packet", .name, (.ratio | tostring),
		("<= " + (.limit | tostring)), (if .met then "met" else "MISSED" end)] | @tsv' "$DIR/pkt.json"
	[ -f "$DIR/live.json" ] && jq -r '.ratios | to_entries[] | select(.value.target != null) |
		["live", ((.key | gsub("_"; " ")) + ", at the largest Service count"),
		 (if .value.value == null then "n/a" else (.value.value | tostring) end),
		 (">= " + (.value.target | tostring)),
		 (if .value.value == null then "not run" elif .value.met then "met" else "MISSED" end)] | @tsv' "$DIR/live.json"
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

table=$(rows)
echo
echo "make bench: targets ($(nproc) CPUs, kernel $(uname -r); details in the tables above)"
printf '%-11s %-56s %9s %9s  %s\n' "part" "check" "measured" "target" "verdict"
while IFS=$'\t' read -r part check measured target verdict; do
	[ -n "$part" ] && printf '%-11s %-56s %9s %9s  %s\n' "$part" "$check" "$measured" "$target" "$verdict"
done <<<"$table"
for f in pkt live apply; do
	[ -f "$DIR/$f.json" ] || echo "($f: not run)"
done
jq -R -s 'split("\n") | map(select(length > 0) | split("\t") |
	{part: .[0], check: .[1], measured: .[2], target: .[3], met: (.[4] == "met")})' <<<"$table" >"$DIR/summary.json"
echo "bench: wrote $DIR/summary.json"
