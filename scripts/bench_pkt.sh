#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Per-packet cost of the datapath, with BPF_PROG_TEST_RUN (no device, no
# namespace, nothing pinned or attached): build/tests/tools/pktbench runs
# xs_xdp_ingress (miss, established-flow hit, new flow) and xs_tc_egress
# (reply) at 10, 1,000, 10,000 and 100,000 Services x 10 endpoints, with
# conntrack empty and full, next to a bare XDP_PASS program (the floor).
# How each case is measured (and why the new flow runs with repeat=1) is in
# the comment at the top of tests/tools/pktbench.c.
#
# Prints one table and the derived checks of the targets (hit, new flow and
# miss at 100,000 Services within 20% of 10 Services; a miss within 2x the
# floor), and writes JSON to $BUILD/bench/pkt.json. A missed target is
# reported, not fatal: exit 0 when every measurement ran, 1 otherwise.
#
# Env: BUILD (default build), SERVICES (10,1000,10000,100000), REPEAT
# (1000000), FLOWS (1000000), RUNS (5), CT_SIZE (1048576), CPU (last CPU).
set -u

XS_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$XS_REPO/$BUILD ;; esac
PKTBENCH=$BUILD/tests/tools/pktbench
OUT_DIR=$BUILD/bench
OUT=$OUT_DIR/pkt.json

die() {
	echo "bench_pkt: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (BPF)"
[ -x "$PKTBENCH" ] || die "$PKTBENCH is missing: run 'make test-bins'"
mkdir -p "$OUT_DIR" || die "cannot create $OUT_DIR"

args=(--services "${SERVICES:-10,1000,10000,100000}" --repeat "${REPEAT:-1000000}"
	--flows "${FLOWS:-1000000}" --runs "${RUNS:-5}" --ct-size "${CT_SIZE:-1048576}")
[ -n "${CPU:-}" ] && args+=(--cpu "$CPU")

TMP=$(mktemp "$OUT_DIR/.pkt.json.XXXXXX") || die "cannot create a file in $OUT_DIR"
trap 'rm -f "$TMP"' EXIT
trap 'exit 130' INT TERM

echo "bench_pkt: per-packet cost (BPF_PROG_TEST_RUN), on $(nproc) CPUs, kernel $(uname -r)"
"$PKTBENCH" "${args[@]}" --json "$TMP" || die "pktbench failed"
chmod 644 "$TMP" || die "cannot chmod $TMP"
mv -f "$TMP" "$OUT" || die "cannot write $OUT"
echo "bench_pkt: JSON in $OUT"
