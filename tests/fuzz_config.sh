#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Fuzzes the config reader, xs_config_load() (loader/k8s.c), with libFuzzer
# under ASan + UBSan (target: tests/fuzz/fuzz_config.c). Cases:
#   - every seed input (tests/fuzz/corpus) runs clean;
#   - every regression input (tests/fuzz/regressions: what fuzzing once
#     found) runs clean, one case each;
#   - FUZZ_SECONDS of fuzzing on the working corpus $BUILD/fuzz/corpus (kept
#     between runs, seeded from tests/fuzz/corpus) finds no crash, leak,
#     timeout or out-of-memory; what it finds goes to $BUILD/fuzz/artifacts/.
# A found input: copy it to tests/fuzz/regressions/ (a name saying what it
# broke), fix, and it is run every time from then on.
# Slowness fails too: one input taking longer than FUZZ_TIMEOUT seconds is a
# timeout (libFuzzer writes it as timeout-*), the reader must stay linear in
# its input (tests/fuzz/regressions/slow-*: what once was not).
# Env: BUILD (default build), FUZZ_SECONDS (default 60), FUZZ_TIMEOUT (seconds
# one input may take under ASan and UBSan, default 2).
set -u

cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-2}
BIN=$BUILD/fuzz/fuzz_config
CORPUS=$BUILD/fuzz/corpus
ARTIFACTS=$BUILD/fuzz/artifacts
LOG=$BUILD/fuzz/fuzz.log
failed=0

fail() { echo "FAIL: fuzz: $1: $2"; failed=1; }

# Build (or rebuild) the target: make knows whether it is up to date.
if ! make --no-print-directory -s BUILD="$BUILD" fuzz-bin; then
	echo "FAIL: fuzz: building $BIN failed (clang with libFuzzer: libclang-rt-14-dev)"
	exit 1
fi
mkdir -p "$CORPUS" "$ARTIFACTS" || exit 1

# Options for every run; leaks are detected by default (ASan). Sanitizer
# reports go to stderr, into our output and log, whatever log_path the caller
# set (tests/run.sh sets one): the report is what a FAIL line quotes.
OPTS=(-timeout="$FUZZ_TIMEOUT" -rss_limit_mb=2048 -malloc_limit_mb=2048)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=stderr"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=stderr:print_stacktrace=1"
scratch=$(mktemp -d /tmp/xdpsvc-fuzz.XXXXXX) || exit 1
trap 'rm -rf "$scratch"' EXIT

# The first line of a sanitizer's or libFuzzer's report.
REPORT='==[0-9]+==ERROR|runtime error:|ALARM: working on the last Unit|out-of-memory|model invariant|deadly signal'

# run_inputs CASE FILE...: run the target once on the files (libFuzzer does
# that when given files, not directories).
run_inputs() {
	local name=$1 out
	shift
	if out=$("$BIN" "${OPTS[@]}" -artifact_prefix="$scratch/" "$@" 2>&1); then
		echo "PASS: fuzz: $name"
	else
		fail "$name" "$(printf '%s\n' "$out" | grep -m1 -E "$REPORT" | sed 's/^ *//')"
		printf '%s\n' "$out" | grep -E '^(Running:|==|    #|SUMMARY|.*runtime error)' | head -40
	fi
}

mapfile -t seeds < <(find tests/fuzz/corpus -type f | sort)
if [ "${#seeds[@]}" -eq 0 ]; then
	fail "seed corpus" "tests/fuzz/corpus is empty"
else
	run_inputs "the ${#seeds[@]} seed inputs (tests/fuzz/corpus) run clean" "${seeds[@]}"
fi
for f in tests/fuzz/regressions/*; do
	[ -f "$f" ] || continue
	[ "${f##*.}" = md ] && continue # notes on the regressions
	run_inputs "regression ${f##*/} runs clean" "$f"
done

# The fuzzing itself. New artifacts of this run (not slow-unit reports) fail it.
cp -n "${seeds[@]}" "$CORPUS"/ 2>/dev/null
before=$(find "$ARTIFACTS" -type f ! -name 'slow-unit-*' | sort)
"$BIN" "${OPTS[@]}" -max_total_time="$FUZZ_SECONDS" -dict=tests/fuzz/k8s.dict \
	-artifact_prefix="$ARTIFACTS/" -print_final_stats=1 "$CORPUS" >"$LOG" 2>&1
status=$?
new=$(comm -13 <(printf '%s\n' "$before") <(find "$ARTIFACTS" -type f ! -name 'slow-unit-*' | sort) | grep -v '^$' | tr '\n' ' ' | sed 's/ $//')
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG" | tail -1)
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$LOG" | tail -1)
cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$LOG" | tail -1)
if [ "$status" -eq 0 ] && [ -z "$new" ]; then
	echo "PASS: fuzz: config reader, $FUZZ_SECONDS s, ${runs:-?} runs, no crash (${speed:-?} exec/s, ${cov:-no stats})"
else
	why=$(grep -m1 -E "$REPORT" "$LOG" | sed 's/^ *//')
	fail "config reader, $FUZZ_SECONDS s" \
		"${why:-libFuzzer exited with status $status}; input: ${new:-none written}; log: $LOG"
	grep -E '^(==|    #|SUMMARY|.*runtime error|artifact_prefix|Test unit written)' "$LOG" | head -40
fi
[ "$failed" -eq 0 ]
