#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# End to end: `xdpsvc apply --watch` on the namespace "cluster" (see
# tests/lib.sh). One watcher runs for the whole suite; each case changes its
# file the way people and tools do (rewrite in place, write-then-rename, a
# broken file, SIGHUP) and waits for the maps and the log to follow.
# Env: BUILD (default build), XDP_MODE (native|generic, default: the loader's),
# KEEP_LOG (a path: copy the watcher's log there before the teardown).
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

WEB_VIP=198.19.0.10
ALL_PODS="$(pod_ip 1) $(pod_ip 2) $(pod_ip 3)"
WATCH_PID=""

# manifest FILE WEB_ADDRS: Service e2e/web (http 80/TCP -> 8080) and its
# EndpointSlice with one ready endpoint per address.
manifest() {
	k8s_list "$(k8s_service web "$WEB_VIP" http:80/TCP:8080)" \
		"$(k8s_slice web web-x7k2p "$2" http:8080/TCP)" >"$1"
}

list_json() { xs list --json; }

# backends: the sorted backends (ADDR:PORT) of e2e/web, space separated.
backends() {
	list_json 2>/dev/null | jq -r '.frontends[] | select(.namespace == "e2e" and .name == "web")
		| .backends[] | "\(.address):\(.port)"' 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//'
}

# backends_are ADDRS: e2e/web's backends are exactly ADDRS (sorted), on port 8080.
backends_are() {
	local want
	# shellcheck disable=SC2086 # one word per address
	want=$(printf '%s:8080 ' $1)
	[ "$(backends)" = "${want% }" ]
}

LOG=""
# apply_lines: how many summary lines the watcher logged so far.
apply_lines() { grep -c '^apply: ' "$LOG" 2>/dev/null; }
apply_lines_above() { [ "$(apply_lines)" -gt "$1" ]; }
log_has() { grep -q -- "$1" "$LOG"; }
log_count() { grep -c -- "$1" "$LOG" 2>/dev/null; }
# kept_above N: more than N "keeping the last good state" lines in the log.
kept_above() { [ "$(log_count 'keeping the last good state')" -gt "$1" ]; }

watcher_alive() { [ -n "$WATCH_PID" ] && kill -0 "$WATCH_PID" 2>/dev/null; }
watcher_gone() { ! kill -0 "$WATCH_PID" 2>/dev/null; }

# Stop the watcher whatever happens; then lib.sh's teardown.
stop_watcher() {
	if watcher_alive; then
		kill "$WATCH_PID" 2>/dev/null
		wait_until 5 watcher_gone || kill -KILL "$WATCH_PID" 2>/dev/null
		wait "$WATCH_PID" 2>/dev/null
	fi
	WATCH_PID=""
}
on_exit() {
	stop_watcher
	cluster_down
}

give_up() {
	fail "remaining cases" "not run: $1"
	exit 1
}

log_tail() { tail -n 5 "$LOG" 2>/dev/null | tr '\n' '|'; }

# --- setup -------------------------------------------------------------------

if ! cluster_up; then
	fail "setup" "could not build the namespace cluster (see stderr)"
	exit 1
fi
trap on_exit EXIT
LOG=$RUN_DIR/watch.log
FILE=$RUN_DIR/web.json
manifest "$FILE" "$ALL_PODS"

if [ -n "${XDP_MODE:-}" ]; then
	err=$(xs attach "$NIC" --xdp-mode "$XDP_MODE" 2>&1)
else
	err=$(xs attach "$NIC" 2>&1)
fi || { fail "setup" "xdpsvc attach $NIC failed: $err"; exit 1; }
# Static neighbours: nothing but the test's own traffic on the link.
mac_cl=$(ip -n "$NS_CL" -br link show cl0 | awk '{print $3}')
mac_nic=$(ip -n "$NS_NODE" -br link show "$NIC" | awk '{print $3}')
ip -n "$NS_CL" neigh replace "$NODE_IP" lladdr "$mac_nic" dev cl0 nud permanent
ip -n "$NS_NODE" neigh replace "$CLIENT_IP" lladdr "$mac_cl" dev "$NIC" nud permanent

# --- cases -------------------------------------------------------------------

name="--watch refuses stdin"
out=$(echo '{}' | xs apply --watch - 2>&1)
status=$?
if [ "$status" -eq 0 ]; then
	fail "$name" "apply --watch - exited 0: $out"
elif ! grep -q 'stdin' <<<"$out"; then
	fail "$name" "no word about stdin: $out"
else
	pass "$name"
fi

# Not through in_node: `$!` of a backgrounded shell function is a subshell,
# and signals must reach xdpsvc itself (ip netns exec execs it, same PID).
ip netns exec "$NS_NODE" "$XDPSVC" apply --watch "$FILE" --pin-path "$PIN" >"$LOG" 2>&1 &
WATCH_PID=$!
is_xdpsvc() { [ "$(cat "/proc/$WATCH_PID/comm" 2>/dev/null)" = xdpsvc ]; }
wait_until 5 is_xdpsvc || give_up "PID $WATCH_PID is not xdpsvc: $(cat "/proc/$WATCH_PID/comm" 2>&1)"

name="initial apply programs every backend"
if ! wait_until 10 backends_are "$ALL_PODS"; then
	fail "$name" "backends are '$(backends)', want '$ALL_PODS'; log: $(log_tail)"
	give_up "the watcher did not apply the file"
elif [ "$(apply_lines)" -ne 1 ]; then
	fail "$name" "want exactly one apply line, log: $(log_tail)"
else
	pass "$name"
fi

name="editing the file in place is applied"
n=$(apply_lines)
manifest "$RUN_DIR/two.json" "$(pod_ip 1) $(pod_ip 2)"
cat "$RUN_DIR/two.json" >"$FILE"   # same inode: IN_CLOSE_WRITE
if ! wait_until 5 backends_are "$(pod_ip 1) $(pod_ip 2)"; then
	fail "$name" "backends are '$(backends)'; log: $(log_tail)"
elif ! wait_until 5 apply_lines_above "$n"; then
	fail "$name" "no new apply line; log: $(log_tail)"
elif ! grep '^apply: ' "$LOG" | tail -n 1 | grep -q 'backends 0 added, 1 removed'; then
	fail "$name" "unexpected summary: $(grep '^apply: ' "$LOG" | tail -n 1)"
else
	pass "$name"
fi

name="replacing the file by rename is applied"
n=$(apply_lines)
manifest "$FILE.tmp" "$(pod_ip 2) $(pod_ip 3)"
mv "$FILE.tmp" "$FILE"             # new inode: IN_MOVED_TO in the directory
if ! wait_until 5 backends_are "$(pod_ip 2) $(pod_ip 3)"; then
	fail "$name" "backends are '$(backends)'; log: $(log_tail)"
elif ! wait_until 5 apply_lines_above "$n"; then
	fail "$name" "no new apply line; log: $(log_tail)"
else
	pass "$name"
fi

# The edits above changed one item (the slice) of an unchanged List: the
# watcher re-read that item alone and wrote only the changed frontend; the
# maps must be exactly what a whole apply of the file makes.
name="a one-endpoint edit re-reads one item, touches one frontend, and equals a whole apply"
n=$(apply_lines)
manifest "$FILE.tmp" "$(pod_ip 2) $(pod_ip 1)"   # pod 3 replaced by pod 1: one endpoint
mv "$FILE.tmp" "$FILE"
if ! wait_until 5 backends_are "$(pod_ip 1) $(pod_ip 2)"; then
	fail "$name" "backends are '$(backends)'; log: $(log_tail)"
elif ! wait_until 5 apply_lines_above "$n"; then
	fail "$name" "no new apply line; log: $(log_tail)"
elif ! grep '^apply: ' "$LOG" | tail -n 1 | grep -q 'changed items and frontends only)$'; then
	fail "$name" "not applied incrementally: $(grep '^apply: ' "$LOG" | tail -n 1)"
elif ! out=$(xs apply --dry-run "$FILE" 2>&1) || [ "$out" != "dry-run: no change" ]; then
	fail "$name" "a whole apply would still change the maps: $out"
else
	pass "$name"
fi

# Another apply changed the maps behind the watcher's back: its next apply
# must not trust what it applied last (xs_config.apply_seq says so).
name="after another apply, the watcher reads the maps again"
manifest "$RUN_DIR/other.json" "$(pod_ip 3)"
n=$(apply_lines)
if ! out=$(xs apply "$RUN_DIR/other.json" 2>&1) || ! backends_are "$(pod_ip 3)"; then
	fail "$name" "the other apply failed: $out; backends '$(backends)'"
else
	manifest "$FILE.tmp" "$(pod_ip 2) $(pod_ip 3)"   # one endpoint changed in the watched file
	mv "$FILE.tmp" "$FILE"
	if ! wait_until 5 backends_are "$(pod_ip 2) $(pod_ip 3)"; then
		fail "$name" "backends are '$(backends)'; log: $(log_tail)"
	elif ! wait_until 5 apply_lines_above "$n"; then
		fail "$name" "no new apply line; log: $(log_tail)"
	elif ! grep '^apply: ' "$LOG" | tail -n 1 | grep -q 'changed items only)$'; then
		fail "$name" "unexpected summary: $(grep '^apply: ' "$LOG" | tail -n 1)"
	elif ! out=$(xs apply --dry-run "$FILE" 2>&1) || [ "$out" != "dry-run: no change" ]; then
		fail "$name" "a whole apply would still change the maps: $out"
	else
		pass "$name"
	fi
fi

name="a broken file keeps the last good state"
before=$(list_json)
n=$(apply_lines)
k=$(log_count 'keeping the last good state')
printf '{"apiVersion":"v1","kind":"List","items":[{"kind":' >"$FILE"
if ! wait_until 5 kept_above "$k"; then
	fail "$name" "no 'keeping the last good state' in the log: $(log_tail)"
elif ! grep -q "$FILE" "$LOG"; then
	fail "$name" "the parse error does not name the file: $(log_tail)"
elif ! watcher_alive; then
	fail "$name" "the watcher exited: $(log_tail)"
elif [ "$(list_json)" != "$before" ]; then
	fail "$name" "list --json changed: $(diff <(echo "$before") <(list_json) | head -n 5 | tr '\n' ' ')"
elif [ "$(apply_lines)" -ne "$n" ]; then
	fail "$name" "an apply line was logged for a broken file: $(log_tail)"
else
	pass "$name"
fi

name="fixing the broken file is applied"
n=$(apply_lines)
manifest "$FILE.tmp" "$(pod_ip 1) $(pod_ip 3)"
mv "$FILE.tmp" "$FILE"
if ! wait_until 5 backends_are "$(pod_ip 1) $(pod_ip 3)"; then
	fail "$name" "backends are '$(backends)'; log: $(log_tail)"
elif ! wait_until 5 apply_lines_above "$n"; then
	fail "$name" "no new apply line; log: $(log_tail)"
else
	pass "$name"
fi

name="other files in the directory are ignored"
n=$(apply_lines)
echo junk >"$RUN_DIR/unrelated.json"
mv "$RUN_DIR/unrelated.json" "$RUN_DIR/unrelated2.json"
# Absence can only be waited for: 1 s is five debounce periods.
if wait_until 1 apply_lines_above "$n"; then
	fail "$name" "an unrelated file triggered an apply: $(log_tail)"
else
	pass "$name"
fi

name="SIGHUP re-applies at once"
n=$(apply_lines)
kill -HUP "$WATCH_PID"
if ! wait_until 2 apply_lines_above "$n"; then
	fail "$name" "no new apply line after SIGHUP; log: $(log_tail)"
elif [ "$(tail -n 1 "$LOG")" != "apply: no change" ]; then
	fail "$name" "last log line is '$(tail -n 1 "$LOG")', want 'apply: no change'"
elif [ "$(apply_lines)" -ne $((n + 1)) ]; then
	fail "$name" "want exactly one new apply line: $(log_tail)"
else
	pass "$name"
fi

name="traffic reaches only the pods of the last good file"
answers=""
for ((i = 0; i < 40; i++)); do
	body=$(curl_vip "http://$WEB_VIP/" 2>/dev/null) || body=none
	answers+="${body:-empty}"$'\n'
done
seen=$(grep -v '^$' <<<"$answers" | sort | uniq -c | awk '{printf "%s x%s ", $2, $1}')
if grep -v '^$' <<<"$answers" | grep -qvx 'pod[13]'; then
	fail "$name" "40 requests got: $seen"
elif ! grep -qx pod1 <<<"$answers" || ! grep -qx pod3 <<<"$answers"; then
	fail "$name" "not both pod1 and pod3 answered: $seen"
else
	pass "$name"
fi

name="SIGTERM stops the watcher with status 0"
kill -TERM "$WATCH_PID"
if ! wait_until 5 watcher_gone; then
	fail "$name" "still running 5 s after SIGTERM"
else
	wait "$WATCH_PID"
	status=$?
	WATCH_PID=""
	if [ "$status" -ne 0 ]; then
		fail "$name" "exited $status; log: $(log_tail)"
	elif ! backends_are "$(pod_ip 1) $(pod_ip 3)"; then
		fail "$name" "the maps changed on exit: '$(backends)'"
	else
		pass "$name"
	fi
fi

if [ -n "${KEEP_LOG:-}" ]; then
	cp "$LOG" "$KEEP_LOG"
fi
xs_status
