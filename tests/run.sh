#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Runs every suite and counts its cases: the C suites $BUILD/tests/test_*,
# then the end-to-end scripts tests/e2e_*.sh, then the fuzzing scripts
# tests/fuzz_*.sh (FUZZ_SECONDS each, default 60). A suite prints one line per
# case, "PASS: name" or "FAIL: name: why"; anything else is shown but not
# counted, except "SKIP: ...", which counts as a failure (every case must run
# here). A suite that exits non-zero without a FAIL line counts as one
# failure. Ends with "N passed, N failed"; exit 1 if anything failed.
#
# Env: BUILD (default build); TESTS=GLOB runs only the suites whose name
# (test_model, e2e_clusterip, ...) matches the shell glob;
# SUITE_TIMEOUT (seconds, default 900) bounds each suite.
#
# Binaries built with SANITIZE=1 (ASan, UBSan) write any report to a file in
# a directory of this run (set through ASAN_OPTIONS and UBSAN_OPTIONS, so a
# report is seen even from a command whose stderr or exit status a test
# ignores); each report fails its suite and is shown.
set -u

cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
TESTS=${TESTS:-*}
SUITE_TIMEOUT=${SUITE_TIMEOUT:-900}
passed=0
failed=0

if [ "$(id -u)" -ne 0 ]; then
	echo "FAIL: tests/run.sh: the tests need root (network namespaces, BPF): run as root"
	echo "0 passed, 1 failed"
	exit 1
fi

out=$(mktemp /tmp/xdpsvc-run.XXXXXX) || exit 1
san=$(mktemp -d /tmp/xdpsvc-san.XXXXXX) || exit 1
trap 'rm -f "$out"; rm -rf "$san"' EXIT
# World-writable: the privilege tests run the loader as nobody.
chmod 1777 "$san"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=0:log_path=$san/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$san/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# run_suite NAME CMD...: run one suite, show its output live, count its lines.
run_suite() {
	local name=$1 status p f s r
	shift
	echo "=== $name"
	timeout --kill-after=10 "$SUITE_TIMEOUT" "$@" 2>&1 | tee "$out"
	status=${PIPESTATUS[0]}
	p=$(grep -c '^PASS: ' "$out")
	f=$(grep -c '^FAIL: ' "$out")
	s=$(grep -c '^SKIP: ' "$out")
	passed=$((passed + p))
	failed=$((failed + f + s))
	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		echo "FAIL: $name: timed out after ${SUITE_TIMEOUT}s"
		failed=$((failed + 1))
	elif [ "$status" -ne 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ]; then
		echo "FAIL: $name: exited with status $status"
		failed=$((failed + 1))
	elif [ "$status" -eq 0 ] && [ "$((p + f + s))" -eq 0 ]; then
		echo "FAIL: $name: ran no case"
		failed=$((failed + 1))
	fi
	for r in "$san"/*; do
		[ -f "$r" ] || continue
		echo "FAIL: $name: sanitizer report ${r##*/}:"
		cat "$r"
		rm -f "$r"
		failed=$((failed + 1))
	done
}

suites=0
for t in "$BUILD"/tests/test_*; do
	if [ ! -f "$t" ] || [ ! -x "$t" ]; then continue; fi
	# shellcheck disable=SC2254 # TESTS is a glob on purpose
	case ${t##*/} in $TESTS) ;; *) continue ;; esac
	run_suite "${t##*/}" "$t"
	suites=$((suites + 1))
done
# The namespace suites, then the fuzzing (the longest) last.
for t in tests/e2e_*.sh tests/fuzz_*.sh; do
	[ -f "$t" ] || continue
	name=${t##*/}
	# shellcheck disable=SC2254
	case ${name%.sh} in $TESTS) ;; *) continue ;; esac
	run_suite "${name%.sh}" env BUILD="$BUILD" bash "$t"
	suites=$((suites + 1))
done

if [ "$suites" -eq 0 ]; then
	echo "FAIL: tests/run.sh: no suite matches TESTS='$TESTS' (did 'make test-bins' run?)"
	failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
