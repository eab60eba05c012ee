#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# `make bench`: what `xdpsvc apply` costs at cluster scale.
#
# One kubectl-shaped JSON `kind: List` with 10,000 Services x 10 endpoints
# (tests/tools/svcgen: ClusterIPs from 198.19.64.0, pods in 198.18.2.0-
# 198.18.255.231, http 80/TCP -> 8080), applied inside a node namespace of
# this run (a veth nic0 carries the datapath; bpffs mounted outside /sys):
#
#   (a) full apply into empty maps (REPEAT_FULL runs, each after detach
#       --purge + attach): wall time, from the summary line and from outside,
#       and the peak RSS of the xdpsvc process;
#   (b) one endpoint of one Service changed, applied again (REPEAT runs, each
#       a new one-endpoint change): wall time and map writes;
#   (c) the same file applied again, no change (REPEAT runs): wall time;
#   (d) the one-endpoint changes again, through `apply --watch` (the way a
#       node agent runs: it keeps the files and the model it applied last,
#       re-reads the changed item and writes the changed frontend): the
#       watcher's own time from reading the files to the last map write,
#       map writes, the time from the rename to its log line (which includes
#       the 200 ms debounce), and the watcher's peak RSS.
#
# Medians are printed in one table, next to the targets, and written as JSON
# to $BUILD/bench/apply.json. Exit 0 when every apply ran (a missed target is
# reported, not fatal), 1 otherwise. Nothing outside the namespace and the
# run directory is touched; a trap removes both.
#
# Env: BUILD (default build), SERVICES (10000), ENDPOINTS (10), REPEAT (5),
# REPEAT_FULL (3).
set -u

XS_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$XS_REPO/$BUILD ;; esac
XDPSVC=$BUILD/xdpsvc
SVCGEN=$BUILD/tests/tools/svcgen
SERVICES=${SERVICES:-10000}
ENDPOINTS=${ENDPOINTS:-10}
REPEAT=${REPEAT:-5}
REPEAT_FULL=${REPEAT_FULL:-3}
APPLY_TIMEOUT=120 # seconds, per apply

NS=xsb$$node
RUN_DIR=/run/xdpsvc-bench.$$
BPFFS=$RUN_DIR/bpf
PIN=$BPFFS/xdpsvc
OUT_DIR=$BUILD/bench
NS_MADE=0
WATCH_PID=""

die() {
	echo "bench: $*" >&2
	exit 1
}

cleanup() {
	local pid
	trap - EXIT INT TERM
	[ -n "$WATCH_PID" ] && kill -KILL "$WATCH_PID" 2>/dev/null
	if [ "$NS_MADE" = 1 ]; then
		ip netns exec "$NS" "$XDPSVC" detach nic0 --purge --pin-path "$PIN" >/dev/null 2>&1
		for pid in $(ip netns pids "$NS" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$NS" 2>/dev/null
	fi
	mountpoint -q "$BPFFS" && umount "$BPFFS"
	rm -rf "$RUN_DIR"
}

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, BPF)"
for f in "$XDPSVC" "$SVCGEN"; do
	[ -x "$f" ] || die "$f is missing: run 'make test-bins'"
done
[ -x /usr/bin/time ] || die "/usr/bin/time is missing: run scripts/install-deps.sh"

trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$BPFFS" "$OUT_DIR" || die "cannot create $BPFFS or $OUT_DIR"
mount -t bpf bpf "$BPFFS" || die "cannot mount a bpffs on $BPFFS"
ip netns add "$NS" || die "cannot create namespace $NS"
NS_MADE=1
ip -n "$NS" link set lo up &&
	ip -n "$NS" link add nic0 type veth peer name nic0p &&
	ip -n "$NS" link set nic0 up &&
	ip -n "$NS" link set nic0p up || die "cannot set up nic0 in $NS"

xs() { ip netns exec "$NS" "$XDPSVC" "$@" --pin-path "$PIN"; }

attach() {
	local err
	err=$(xs attach nic0 2>&1) || die "xdpsvc attach nic0 failed: $err"
}

# --- the files ---------------------------------------------------------------

BASE=$RUN_DIR/cluster-0.json
"$SVCGEN" --services "$SERVICES" --endpoints "$ENDPOINTS" >"$BASE" || die "svcgen failed"
# cluster-K: endpoint 0 of svc-00000 is 198.19.200.K; each differs from the
# one before in exactly one endpoint of one Service.
for k in $(seq "$REPEAT"); do
	"$SVCGEN" --services "$SERVICES" --endpoints "$ENDPOINTS" --change "$k" \
		>"$RUN_DIR/cluster-$k.json" || die "svcgen failed"
done
FILE_MB=$(awk -v b="$(stat -c %s "$BASE")" 'BEGIN { printf "%.1f", b / 1048576 }')

# --- measuring ---------------------------------------------------------------

# run_apply FILE: one apply; sets WALL_MS (outside: fork to exit), SELF_MS
# (the summary's "X ms", "null" for "no change"), WRITES (0 for "no change"),
# RSS_KB (peak RSS of xdpsvc) and SUMMARY. Dies if the apply fails.
run_apply() {
	local t0 t1 out
	t0=$(date +%s%N)
	ip netns exec "$NS" timeout "$APPLY_TIMEOUT" /usr/bin/time -f %M -o "$RUN_DIR/rss" \
		"$XDPSVC" apply "$1" --pin-path "$PIN" >"$RUN_DIR/out" 2>"$RUN_DIR/err" ||
		die "apply $1 failed: $(cat "$RUN_DIR/out" "$RUN_DIR/err")"
	t1=$(date +%s%N)
	WALL_MS=$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f", d / 1e6 }')
	SUMMARY=$(tail -n 1 "$RUN_DIR/out")
	RSS_KB=$(tail -n 1 "$RUN_DIR/rss")
	if [ "$SUMMARY" = "apply: no change" ]; then
		SELF_MS=null
		WRITES=0
	else
		out=$(sed -n 's/.*(\([0-9]*\) map writes, \([0-9.]*\) ms: files [0-9.]* ms, maps \([0-9.]*\) ms)$/\1 \2 \3/p' <<<"$SUMMARY")
		[ -n "$out" ] || die "unexpected summary: $SUMMARY"
		read -r WRITES SELF_MS MAPS_MS <<<"$out"
	fi
	if [ "$SUMMARY" = "apply: no change" ]; then
		MAPS_MS=null
	fi
}

# median V...: the middle value (the lower middle of an even count); "null" if none.
median() {
	[ "$#" -gt 0 ] || { echo null; return; }
	printf '%s\n' "$@" | grep -v '^null$' | sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "null" }'
}

# frontends: how many frontends `list --json` shows.
frontends() { xs list --json | jq '.frontends | length'; }

# (a) full apply into empty maps.
a_wall=() a_self=() a_maps=() a_rss=() a_writes=()
for r in $(seq "$REPEAT_FULL"); do
	if [ "$r" -gt 1 ]; then
		xs detach nic0 --purge >/dev/null 2>&1 || die "detach --purge failed"
	fi
	attach
	run_apply "$BASE"
	a_wall+=("$WALL_MS") a_self+=("$SELF_MS") a_maps+=("$MAPS_MS") a_rss+=("$RSS_KB") a_writes+=("$WRITES")
	echo "bench: full apply $r/$REPEAT_FULL: $SUMMARY; ${WALL_MS} ms outside, peak RSS ${RSS_KB} kB"
done
n=$(frontends)
[ "$n" = "$SERVICES" ] || die "after the full apply list shows $n frontends, want $SERVICES"

# (b) one endpoint of one Service, REPEAT times.
b_wall=() b_self=() b_maps=() b_rss=() b_writes=()
for k in $(seq "$REPEAT"); do
	run_apply "$RUN_DIR/cluster-$k.json"
	[ "$SUMMARY" != "apply: no change" ] || die "cluster-$k.json: apply saw no change"
	b_wall+=("$WALL_MS") b_self+=("$SELF_MS") b_maps+=("$MAPS_MS") b_rss+=("$RSS_KB") b_writes+=("$WRITES")
	echo "bench: one-endpoint change $k/$REPEAT: $SUMMARY; ${WALL_MS} ms outside"
done
got=$(xs list --json | jq -r '.frontends[] | select(.name == "svc-00000") | .backends[].address' | grep -c "^198\.19\.200\.$REPEAT\$")
[ "$got" = 1 ] || die "svc-00000 does not have the changed endpoint 198.19.200.$REPEAT"

# (c) the same file again.
c_wall=() c_rss=()
LAST=$RUN_DIR/cluster-$REPEAT.json
for r in $(seq "$REPEAT"); do
	run_apply "$LAST"
	[ "$SUMMARY" = "apply: no change" ] || die "re-applying the same file printed: $SUMMARY"
	c_wall+=("$WALL_MS") c_rss+=("$RSS_KB")
done

# (d) the same changes through apply --watch: back from cluster-REPEAT to
# cluster-0, one endpoint at a time.
WATCHED=$RUN_DIR/watched.json
WLOG=$RUN_DIR/watch.log
cp "$LAST" "$WATCHED" || die "cannot copy $LAST"
ip netns exec "$NS" "$XDPSVC" apply --watch "$WATCHED" --pin-path "$PIN" >"$WLOG" 2>&1 &
WATCH_PID=$!
# lines_above N: the watcher logged more than N "apply:" lines.
lines() { grep -c '^apply: ' "$WLOG"; }
lines_above() {
	local end=$((SECONDS + APPLY_TIMEOUT))
	while [ "$SECONDS" -le "$end" ]; do
		[ "$(lines)" -gt "$1" ] && return 0
		kill -0 "$WATCH_PID" 2>/dev/null || return 1
		sleep 0.01
	done
	return 1
}
lines_above 0 || die "the watcher made no first apply: $(tail -n 3 "$WLOG")"
d_self=() d_writes=() d_wall=() d_how=()
for k in $(seq $((REPEAT - 1)) -1 0); do
	n=$(lines)
	cp "$RUN_DIR/cluster-$k.json" "$WATCHED.tmp"
	t0=$(date +%s%N)
	mv "$WATCHED.tmp" "$WATCHED"
	lines_above "$n" || die "the watcher did not apply cluster-$k.json: $(tail -n 3 "$WLOG")"
	t1=$(date +%s%N)
	SUMMARY=$(grep '^apply: ' "$WLOG" | tail -n 1)
	out=$(sed -n 's/.*(\([0-9]*\) map writes, \([0-9.]*\) ms: .*/\1 \2/p' <<<"$SUMMARY")
	[ -n "$out" ] || die "unexpected watch summary: $SUMMARY"
	read -r WRITES SELF_MS <<<"$out"
	d_self+=("$SELF_MS") d_writes+=("$WRITES") d_wall+=("$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f", d / 1e6 }')")
	if grep -q 'changed items and frontends only)$' <<<"$SUMMARY"; then
		d_how+=(incremental)
	else
		d_how+=(whole)
	fi
	echo "bench: watch, one-endpoint change to cluster-$k.json: $SUMMARY"
done
D_RSS=$(awk '/^VmHWM:/ { print $2 }' "/proc/$WATCH_PID/status")
kill "$WATCH_PID"
wait "$WATCH_PID" 2>/dev/null
WATCH_PID=""
got=$(xs list --json | jq -r '.frontends[] | select(.name == "svc-00000") | .backends[].address' | grep -c '^198\.19\.200\.')
[ "$got" = 0 ] || die "after the watched changes svc-00000 still has a changed endpoint"
D_INCR=$(printf '%s\n' "${d_how[@]}" | grep -c '^incremental$')

# --- report ------------------------------------------------------------------

A_WALL=$(median "${a_wall[@]}") A_SELF=$(median "${a_self[@]}") A_MAPS=$(median "${a_maps[@]}") A_RSS=$(median "${a_rss[@]}")
A_WRITES=$(median "${a_writes[@]}")
B_WALL=$(median "${b_wall[@]}") B_SELF=$(median "${b_self[@]}") B_MAPS=$(median "${b_maps[@]}") B_RSS=$(median "${b_rss[@]}")
B_WRITES=$(median "${b_writes[@]}") B_WRITES_MAX=$(printf '%s\n' "${b_writes[@]}" | sort -g | tail -n 1)
C_WALL=$(median "${c_wall[@]}") C_RSS=$(median "${c_rss[@]}")
D_SELF=$(median "${d_self[@]}") D_WRITES=$(median "${d_writes[@]}") D_WALL=$(median "${d_wall[@]}")
D_WRITES_MAX=$(printf '%s\n' "${d_writes[@]}" | sort -g | tail -n 1)

# verdict VALUE LIMIT: "ok" when VALUE < LIMIT.
verdict() { awk -v v="$1" -v l="$2" 'BEGIN { print (v + 0 < l + 0) ? "ok" : "MISSED" }'; }
A_OK=$(verdict "$A_WALL" 1000)
B_OK=$(verdict "$B_WALL" 20)
W_OK=$(verdict "$B_WRITES_MAX" 16)
D_OK=$(verdict "$D_SELF" 20)
DW_OK=$(verdict "$D_WRITES_MAX" 16)

echo
echo "xdpsvc apply: $SERVICES Services x $ENDPOINTS endpoints, one $FILE_MB MB JSON List ($(nproc) CPUs, kernel $(uname -r))"
echo "medians; wall = fork to exit, measured outside; self = the summary's own ms; maps = its part after reading the files"
printf '%-34s %10s %10s %9s %10s %12s   %s\n' "case" "wall ms" "self ms" "maps ms" "writes" "peak RSS kB" "target"
printf '%-34s %10s %10s %9s %10s %12s   %s\n' "(a) full apply, empty maps (x$REPEAT_FULL)" "$A_WALL" "$A_SELF" "$A_MAPS" "$A_WRITES" "$A_RSS" "wall < 1000 ms: $A_OK"
printf '%-34s %10s %10s %9s %10s %12s   %s\n' "(b) one endpoint changed (x$REPEAT)" "$B_WALL" "$B_SELF" "$B_MAPS" "$B_WRITES" "$B_RSS" "wall < 20 ms: $B_OK; writes (max $B_WRITES_MAX) a handful (< 16): $W_OK"
printf '%-34s %10s %10s %9s %10s %12s   %s\n' "(c) same file again (x$REPEAT)" "$C_WALL" "-" "-" "0" "$C_RSS" ""
printf '%-34s %10s %10s %9s %10s %12s   %s\n' "(d) one endpoint, apply --watch (x$REPEAT)" "$D_WALL" "$D_SELF" "-" "$D_WRITES" "$D_RSS" "self < 20 ms: $D_OK; writes (max $D_WRITES_MAX) < 16: $DW_OK; $D_INCR of $REPEAT incremental"
echo "(d) wall = rename to log line, including the watcher's 200 ms debounce; self = the watcher's own read-to-written time"

jarr() { local IFS=,; echo "[$*]"; }
cat >"$OUT_DIR/apply.json" <<EOF
{
  "services": $SERVICES,
  "endpoints_per_service": $ENDPOINTS,
  "file_bytes": $(stat -c %s "$BASE"),
  "cpus": $(nproc),
  "kernel": "$(uname -r)",
  "full_apply": {"runs": $REPEAT_FULL, "wall_ms": $A_WALL, "self_ms": $A_SELF, "maps_ms": $A_MAPS, "map_writes": $A_WRITES,
    "peak_rss_kb": $A_RSS, "wall_ms_all": $(jarr "${a_wall[@]}"), "target_wall_ms": 1000, "target_met": $([ "$A_OK" = ok ] && echo true || echo false)},
  "one_endpoint_change": {"runs": $REPEAT, "wall_ms": $B_WALL, "self_ms": $B_SELF, "maps_ms": $B_MAPS, "map_writes": $B_WRITES,
    "map_writes_max": $B_WRITES_MAX, "peak_rss_kb": $B_RSS, "wall_ms_all": $(jarr "${b_wall[@]}"),
    "map_writes_all": $(jarr "${b_writes[@]}"), "target_wall_ms": 20,
    "target_met": $([ "$B_OK" = ok ] && [ "$W_OK" = ok ] && echo true || echo false)},
  "no_change": {"runs": $REPEAT, "wall_ms": $C_WALL, "peak_rss_kb": $C_RSS, "wall_ms_all": $(jarr "${c_wall[@]}")},
  "watch_one_endpoint_change": {"runs": $REPEAT, "self_ms": $D_SELF, "self_ms_all": $(jarr "${d_self[@]}"),
    "rename_to_log_ms": $D_WALL, "debounce_ms": 200, "map_writes": $D_WRITES, "map_writes_max": $D_WRITES_MAX,
    "incremental": $D_INCR, "peak_rss_kb": $D_RSS, "target_self_ms": 20,
    "target_met": $([ "$D_OK" = ok ] && [ "$DW_OK" = ok ] && echo true || echo false)}
}
EOF
jq -e . "$OUT_DIR/apply.json" >/dev/null || die "wrote invalid JSON to $OUT_DIR/apply.json"
echo "bench: wrote ${OUT_DIR#"$XS_REPO"/}/apply.json"
