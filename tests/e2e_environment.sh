#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# End to end: what xdpsvc says when the environment is wrong. Each case runs
# the loader where something is missing (capabilities, a bpffs, the device,
# native XDP) and wants exit status 1, one sentence on stderr that says what
# is missing and what to do, and nothing changed (no pin directory, no
# program, no qdisc, no mount). Then the pin directory's permissions, and the
# error paths of the command line, which a SANITIZE=1 build runs under ASan
# and UBSan (tests/run.sh fails the suite on any report). Needs only the node
# namespace of tests/lib.sh, with a veth pair, a bridge and an ifb device
# (neither has native XDP). Env: BUILD (default build).
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all)
# Root, but with every capability gone (a locked-down container).
ROOT_NOCAPS=(setpriv --inh-caps=-all --bounding-set=-all)

setup() {
	trap cluster_down EXIT
	trap 'exit 130' INT TERM
	[ -x "$XDPSVC" ] || { echo "setup: $XDPSVC is missing: run 'make test-bins'" >&2; return 1; }
	step mkdir -p "$BPFFS" || return 1
	step mount -t bpf bpf "$BPFFS" || return 1
	# A copy nobody may run (the build tree may be private).
	step install -m 0755 "$XDPSVC" "$RUN_DIR/xdpsvc" || return 1
	chmod 0755 "$RUN_DIR"
	xs_netns_add "$NS_NODE" || return 1
	step ip -n "$NS_NODE" link add "$NIC" type veth peer name nic1 || return 1
	step ip -n "$NS_NODE" link add br0 type bridge || return 1
	step ip -n "$NS_NODE" link add ifb0 type ifb || return 1
	for d in "$NIC" nic1 br0 ifb0; do
		step ip -n "$NS_NODE" link set "$d" up || return 1
	done
}

# run WHO ARGS...: the loader (as root, or as WHO: nobody, nocaps) in the
# node namespace; sets $status and $err (stderr).
run() {
	local who=$1
	shift
	case $who in
	root) in_node "$XDPSVC" "$@" >"$RUN_DIR/out" 2>"$RUN_DIR/err" ;;
	nobody) in_node "${NOBODY[@]}" "$RUN_DIR/xdpsvc" "$@" >"$RUN_DIR/out" 2>"$RUN_DIR/err" ;;
	nocaps) in_node "${ROOT_NOCAPS[@]}" "$RUN_DIR/xdpsvc" "$@" >"$RUN_DIR/out" 2>"$RUN_DIR/err" ;;
	esac
	status=$?
	err=$(cat "$RUN_DIR/err")
}

# one_sentence WANT_STATUS REGEX: the last run exited WANT_STATUS and said
# exactly one line on stderr, matching REGEX (extended). Prints why not.
one_sentence() {
	if [ "$status" -ne "$1" ]; then
		echo "exit status $status, want $1 (stderr: $err)"
	elif [ "$(wc -l <<<"$err")" -ne 1 ] || [ -z "$err" ]; then
		echo "want one line on stderr, got: $(tr '\n' '|' <<<"$err")"
	elif ! grep -Eq -- "$2" <<<"$err"; then
		echo "stderr does not match /$2/: $err"
	fi
}

# state DEV: what an attach could have changed on DEV and under the bpffs.
state() {
	ip -n "$NS_NODE" -d link show "$1" | grep -o 'xdp[a-z]*\|prog/xdp.*' | tr '\n' ' '
	tc -n "$NS_NODE" qdisc show dev "$1" | grep -o 'clsact' | tr '\n' ' '
	find "$BPFFS" | sort | tr '\n' ' '
	grep -c " $RUN_DIR" /proc/self/mountinfo
}

# check NAME WANT_STATUS REGEX BEFORE DEV: one_sentence, and state DEV is BEFORE.
check() {
	local why
	why=$(one_sentence "$2" "$3")
	if [ -n "$why" ]; then
		fail "$1" "$why"
	elif [ "$(state "$5")" != "$4" ]; then
		fail "$1" "something changed: before: $4; after: $(state "$5")"
	else
		pass "$1"
	fi
}

if ! setup; then
	fail setup "could not build the test namespace (see stderr)"
	exit 1
fi

ROOT_MSG='this process lacks .*CAP_.*: run xdpsvc as root$'

before=$(state "$NIC")
run nobody attach "$NIC" --pin-path "$PIN"
check "attach as nobody says it needs root and changes nothing" 1 "^xdpsvc attach: $ROOT_MSG" "$before" "$NIC"

run nocaps attach "$NIC" --pin-path "$PIN"
check "attach as root without capabilities says it needs root and changes nothing" 1 \
	"^xdpsvc attach: this process lacks CAP_BPF \(or CAP_SYS_ADMIN\) and CAP_NET_ADMIN, .*run xdpsvc as root$" \
	"$before" "$NIC"

run root attach nosuch0 --pin-path "$PIN"
check "attach to a device that does not exist names it and changes nothing" 1 \
	"^xdpsvc: no network device named 'nosuch0' in this network namespace$" "$before" "$NIC"

for dev in br0 ifb0; do
	before=$(state "$dev")
	run root attach "$dev" --pin-path "$PIN" --xdp-mode native
	check "--xdp-mode native on a $dev device without native XDP says what works and changes nothing" 1 \
		"^xdpsvc: cannot attach XDP in native mode to $dev: .*leave --xdp-mode out \(tc translates then\) or try --xdp-mode generic" \
		"$before" "$dev"
done

name="attach without --xdp-mode on a device without native XDP picks tc mode, and says why"
run root attach br0 --pin-path "$PIN"
mode=$(ip netns exec "$NS_NODE" "$XDPSVC" list --json --pin-path "$PIN" 2>/dev/null | jq -r .datapath.nic.mode)
if [ "$status" -ne 0 ]; then
	fail "$name" "exit $status: $err"
elif [ "$mode" != tc ] || ! grep -q "attached to br0 (tc: the driver of br0 (bridge) took no native XDP program" "$RUN_DIR/out"; then
	fail "$name" "mode '$mode', attach said: $(cat "$RUN_DIR/out")"
elif ip -n "$NS_NODE" link show br0 | grep -q xdp; then
	fail "$name" "an XDP program on br0: $(ip -n "$NS_NODE" link show br0 | tr '\n' ' ')"
elif [ -z "$(tc -n "$NS_NODE" filter show dev br0 ingress)" ]; then
	fail "$name" "no tc filter on br0's ingress"
else
	run root detach br0 --pin-path "$PIN" --purge
	if [ "$status" -ne 0 ] || [ -e "$PIN" ]; then
		fail "$name" "detach --purge: exit $status: $err"
	else
		pass "$name"
	fi
fi

name="attach in generic mode works where native XDP is missing"
run root attach ifb0 --pin-path "$PIN" --xdp-mode generic
if [ "$status" -ne 0 ]; then
	fail "$name" "exit $status: $err"
elif ! ip -n "$NS_NODE" link show ifb0 | grep -q xdpgeneric; then
	fail "$name" "no generic XDP on ifb0: $(ip -n "$NS_NODE" link show ifb0 | tr '\n' ' ')"
else
	run root detach ifb0 --pin-path "$PIN" --purge
	if [ "$status" -ne 0 ] || [ -e "$PIN" ]; then
		fail "$name" "detach --purge: exit $status: $err"
	else
		pass "$name"
	fi
fi

# A plain directory (/run is a tmpfs) is no pin directory.
PLAIN=$RUN_DIR/plain
mkdir -p "$PLAIN/pins"
echo keep >"$PLAIN/keep"
MANIFEST=$RUN_DIR/one.json
k8s_list >"$RUN_DIR/empty.json"
k8s_list "$(k8s_service web 198.19.0.10 http:80/TCP:8080)" \
	"$(k8s_slice web web-1 "$(pod_ip 1)" http:8080/TCP)" >"$MANIFEST"
before=$(state "$NIC")
run root list --pin-path "$PLAIN/pins"
check "list on a pin path that is not on a bpffs says so" 1 \
	"^xdpsvc: $PLAIN/pins is not on a bpffs, so it holds no xdpsvc state: pass the --pin-path" "$before" "$NIC"
run root apply "$MANIFEST" --pin-path "$PLAIN/pins"
check "apply on a pin path that is not on a bpffs says so" 1 \
	"^xdpsvc: $PLAIN/pins is not on a bpffs" "$before" "$NIC"
run root list --pin-path "$RUN_DIR/nothing/here"
check "list on a pin path that does not exist says to attach first" 1 \
	"^xdpsvc: no xdpsvc state under $RUN_DIR/nothing/here \(no such directory\): run 'xdpsvc attach DEV' first$" \
	"$before" "$NIC"
name="attach does not hide a non-empty directory under a new bpffs"
run root attach "$NIC" --pin-path "$PLAIN/xdpsvc"
why=$(one_sentence 1 "^xdpsvc: $PLAIN/xdpsvc is not on a bpffs and its parent $PLAIN is a non-empty directory")
if [ -n "$why" ]; then
	fail "$name" "$why"
elif [ "$(state "$NIC")" != "$before" ] || [ "$(cat "$PLAIN/keep" 2>&1)" != keep ]; then
	fail "$name" "something changed: $(state "$NIC"); $PLAIN: $(find "$PLAIN" -printf '%P ')"
else
	pass "$name"
fi

# Pre-create the pin directory world-readable: attach makes it private.
mkdir -m 0755 "$PIN"
name="the pin directory is root's only: 0700, every pin 0600"
run root attach "$NIC" --pin-path "$PIN"
if [ "$status" -ne 0 ]; then
	fail "$name" "attach exited $status: $err"
	fail "remaining cases" "not run: attach failed"
	exit 1
fi
bad=$(find "$PIN" -mindepth 1 \( ! -user root -o ! -perm 0600 -o ! -type f \) -printf '%p %m %u; ')
modes=$(stat -c '%a %U' "$PIN")
if [ "$modes" != "700 root" ]; then
	fail "$name" "$PIN is $modes"
elif [ -n "$bad" ]; then
	fail "$name" "not 0600 root files: $bad"
elif [ "$(find "$PIN" -mindepth 1 | wc -l)" -lt 5 ]; then
	fail "$name" "too few pins: $(find "$PIN" -printf '%P ')"
else
	pass "$name"
fi
run root apply "$MANIFEST" --pin-path "$PIN"
listed=$(in_node "$XDPSVC" list --json --pin-path "$PIN" 2>&1)

before=$(state "$NIC")
for who in nobody nocaps; do
	run "$who" list --pin-path "$PIN"
	check "list as $who says it needs root" 1 "^xdpsvc: $ROOT_MSG" "$before" "$NIC"
	run "$who" apply "$RUN_DIR/empty.json" --pin-path "$PIN"
	check "apply as $who says it needs root and changes nothing" 1 "$ROOT_MSG" "$before" "$NIC"
	run "$who" detach "$NIC" --pin-path "$PIN" --purge
	check "detach as $who says it needs root and changes nothing" 1 "^xdpsvc detach: $ROOT_MSG" "$before" "$NIC"
done
name="the maps are untouched by the refused commands"
if [ "$(in_node "$XDPSVC" list --json --pin-path "$PIN" 2>&1)" != "$listed" ]; then
	fail "$name" "list --json changed: $(diff <(echo "$listed") <(in_node "$XDPSVC" list --json --pin-path "$PIN" 2>&1) | head -c 600)"
else
	pass "$name"
fi

# The error paths of every command: each exits 1 (or 2, misuse) with a
# message. Under SANITIZE=1 each must also leave no sanitizer report.
printf 'kind: List\nitems:\n- {kind: Service, metadata: {name: a}, spec: [oops\n' >"$RUN_DIR/bad.yaml"
k8s_list "$(k8s_service web 198.19.0.300 http:80/TCP:8080)" >"$RUN_DIR/badaddr.json"
name="error paths exit with their status and a message"
errs=""
while IFS='|' read -r want args; do
	# shellcheck disable=SC2086 # one word per argument
	run root $args
	if [ "$status" -ne "$want" ] || [ -z "$err" ]; then
		errs+="'$args': exit $status (want $want), stderr '$(head -n 1 <<<"$err")'; "
	fi
done <<EOF
1|apply $RUN_DIR/missing.json --pin-path $PIN
1|apply $RUN_DIR/bad.yaml --pin-path $PIN
1|apply $RUN_DIR/badaddr.json --pin-path $PIN
1|apply $RUN_DIR/empty.json $RUN_DIR/missing.json --pin-path $PIN
1|apply $RUN_DIR/empty.json --pin-path $PIN
1|apply $RUN_DIR/empty.json --pin-path $RUN_DIR/nothing
1|apply $RUN_DIR/empty.json --dry-run --pin-path $RUN_DIR/nothing
1|list --pin-path $RUN_DIR/nothing
1|list --json --pin-path $PLAIN
1|conntrack list --pin-path $RUN_DIR/nothing
1|conntrack flush --service e2e/web --pin-path $PLAIN
1|attach nosuch0 --pin-path $PIN
1|detach nosuch0 --pin-path $PIN
1|attach $NIC --ct-size 4096 --pin-path $PIN
1|attach br0 --xdp-mode native --pin-path $PIN
2|attach --pin-path $PIN
2|attach $NIC --xdp-mode turbo --pin-path $PIN
2|attach $NIC --node-name $(printf 'n%.0s' $(seq 254)) --pin-path $PIN
2|attach $NIC --ct-size 0 --pin-path $PIN
2|attach $NIC --bogus --pin-path $PIN
2|list extra --pin-path $PIN
2|apply --watch --dry-run $RUN_DIR/empty.json --pin-path $PIN
2|conntrack frobnicate --pin-path $PIN
2|conntrack flush --service nope --pin-path $PIN
2|frobnicate --pin-path $PIN
EOF
if [ -n "$errs" ]; then
	fail "$name" "$errs"
elif [ "$(in_node "$XDPSVC" list --json --pin-path "$PIN" 2>&1)" != "$listed" ]; then
	fail "$name" "list --json changed: $(diff <(echo "$listed") <(in_node "$XDPSVC" list --json --pin-path "$PIN" 2>&1) | head -c 600)"
else
	pass "$name"
fi

name="a node name of 253 characters (a DNS subdomain) is taken whole, and a Local endpoint on it is this node's"
long=$(printf 'n%.0s' $(seq 252))x
k8s_list "$(k8s_service web 198.19.0.10 http:80/TCP:8080 | sed 's/"spec":{/"spec":{"internalTrafficPolicy":"Local",/')" \
	"$(k8s_slice web web-a "$(pod_ip 1)" http:8080/TCP | sed "s/\"conditions\"/\"nodeName\":\"$long\",\"conditions\"/")" \
	>"$RUN_DIR/long-node.json"
run root attach "$NIC" --node-name "$long" --pin-path "$PIN"
a_status=$status a_err=$err
run root apply "$RUN_DIR/long-node.json" --pin-path "$PIN"
n=$(in_node "$XDPSVC" list --json --pin-path "$PIN" 2>/dev/null | jq '[.frontends[] | select(.name == "web") | .backends | length] | add')
if [ "$a_status" -eq 0 ] && [ "$status" -eq 0 ] && [ "$n" = 1 ]; then
	pass "$name"
else
	fail "$name" "attach: exit $a_status ($a_err); apply: exit $status ($err); the Local frontend has '$n' backends (want 1)"
fi
run root apply "$MANIFEST" --pin-path "$PIN"

name="input without any Service is refused while the maps hold frontends; --allow-empty removes them"
run root apply "$RUN_DIR/empty.json" --pin-path "$PIN"
refused="$status $(grep -c 'has no Service at all' "$RUN_DIR/err")"
run root apply "$RUN_DIR/empty.json" --allow-empty --pin-path "$PIN"
left=$(in_node "$XDPSVC" list --json --pin-path "$PIN" 2>/dev/null | jq '.frontends | length')
if [ "$refused" = "1 1" ] && [ "$status" -eq 0 ] && [ "$left" = 0 ]; then
	pass "$name"
else
	fail "$name" "without --allow-empty: exit and message '$refused' (want '1 1'); with it: exit $status, $left frontends left: $err"
fi

xs_status
