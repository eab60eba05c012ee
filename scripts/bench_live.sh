#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# `make bench`, live part: packets per second a ClusterIP datapath delivers to
# a pod, xdpsvc in each of its NIC modes against kube-proxy-style iptables
# and nftables rules and an XDP_DROP ceiling, at 1 and at $SERVICES Services
# (the targets are at the last).
#
#   gen ns ${P}gen              node ns ${P}node                   pod ns ${P}pod
#   g0 198.18.0.1/24 ── veth ── nic0 198.18.0.2/24   vp0 ── veth ── eth0 198.18.1.11/32
#   trafgen, CPU $GEN_CPU       datapath here; nic0's NAPI runs     tc ingress: count, drop
#                               threaded, pinned to CPU $DP_CPU
#
# The pod is as a CNI plugin makes it: a plain veth, defaults (GRO off, no
# XDP program on either end of it); only the node's NIC, nic0, has GRO on
# (see topo_up). So the pod's eth0 has no NAPI of its own: what is sent into
# vp0 reaches it through the backlog of the CPU that sent it (netif_rx).
#
# Each (variant, Service count) gets a fresh set of namespaces (no conntrack,
# hooks or maps left over from the one before). trafgen sends 60-byte frames
# (64 on a wire with the FCS: Ethernet + IPv4 + UDP + 18 bytes) to the target
# ClusterIP:5353/UDP, correct IPv4 and UDP checksums (trafgen's header
# syntax computes them, also for the fields it changes per packet), either
#   one flow   fixed 5-tuple 198.18.0.1:40000 -> VIP:5353, or
#   new flow   source port +1 every packet (1024..65535) and a random source
#              address in 198.19.128.0/17: every packet a flow not seen
#              in the window (2^31 tuples).
# The pod's Service endpoint is 198.18.1.11:9000. The pod "receives" with a
# tc clsact ingress filter on its eth0 that drops everything (a flower filter
# for UDP to 198.18.1.11:9000 first, a matchall for anything else): the same
# cheap receiver for every variant, and the flower counter proves packets
# arrived translated. Delivered = Δ rx_packets of the pod's eth0 over a
# $WINDOW s window that starts after $WARMUP s of traffic.
#
# Variants (nothing else runs in the node namespace; every xdpsvc variant
# also runs `xdpsvc attach-pod vp0`, as a node agent does for each pod):
#   xdpsvc-tc     `xdpsvc attach nic0` (default --xdp-mode auto: a veth NIC
#                 gets tc mode, no XDP program; tc ingress translates on the
#                 skb and sends the packet on with bpf_redirect_peer into the
#                 pod's eth0) + apply. The mode of a node whose NIC is a veth.
#   xdpsvc-native `--xdp-mode native`: XDP on nic0 translates and hands the
#                 packet to the stack (XDP_PASS), which forwards it to vp0
#                 (XDP only ever XDP_TXes back out of the NIC). This stands for
#                 a physical NIC's driver; a veth's native XDP pays an extra
#                 skb -> XDP frame copy (skb_pp_cow_data) a real driver does not.
#   xdpsvc-nofp   default attach with `--no-fast-path` (tc mode, translated
#                 packets handed to the stack); n/a if attach lacks it
#   iptables      kube-proxy's iptables-mode rules (nat KUBE-SERVICES ->
#                 KUBE-SVC-* -> KUBE-SEP-* DNAT, filter KUBE-FORWARD ...)
#                 loaded with iptables-restore ($IPT backend)
#   nftables      kube-proxy's nftables-mode table (service-ips verdict map
#                 -> service chain -> numgen vmap -> endpoint chain dnat)
#   ceiling       XDP_DROP on nic0 (a 2-line program with a per-CPU counter);
#                 "delivered" = packets it dropped, read from its map
#
# For every measurement the script also takes the deltas of the devices'
# packet and drop counters (/sys/class/net/*/statistics, ethtool -S of the
# veths, the softnet backlog drops of CPU $DP_CPU) and of xdpsvc's global
# counters (to_stack, redirect, redirect_peer, ...): where packets went and
# where they were lost is in the table's notes, the JSON, and in full in
# $BUILD/bench/live-devstats.txt. A variant whose pod receives (almost)
# nothing of what trafgen sent is flagged: that is a finding, not noise.
#
# Prints one table, writes $BUILD/bench/live.json. Exit 0 when every
# measurement ran (a missed target is reported, not fatal), 1 otherwise.
# Nothing outside the namespaces and the run directory is touched (no global
# sysctl: nf_conntrack_max is global and left as it is); a trap removes
# them, also on failure and on SIGINT.
#
# Env: BUILD (default build), SERVICES (10000), WINDOW (5 s), WARMUP (1 s),
# ROUNDS (1: every variant measured once; N: N rounds, each through every
# variant in turn, and the median of each figure),
# GEN_CPU (0), DP_CPU (1), IPT (nft: iptables-nft, Debian 12's default;
# legacy: iptables-legacy), VARIANTS (default "ceiling xdpsvc-tc
# xdpsvc-native xdpsvc-nofp nftables iptables"; "xdpsvc" = xdpsvc-tc).
set -u

XS_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$XS_REPO/$BUILD ;; esac
XDPSVC=$BUILD/xdpsvc
SVCGEN=$BUILD/tests/tools/svcgen
SERVICES=${SERVICES:-10000}
WINDOW=${WINDOW:-5}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-1}
GEN_CPU=${GEN_CPU:-0}
DP_CPU=${DP_CPU:-1}
IPT=${IPT:-nft}
VARIANTS=${VARIANTS:-ceiling xdpsvc-tc xdpsvc-native xdpsvc-nofp nftables iptables}

P=xsl$$
NS_GEN=${P}gen
NS_NODE=${P}node
NS_POD=${P}pod
RUN_DIR=/run/xdpsvc-bench-live-$$ # no dot: libbpf turns dots of pin paths into _
BPFFS=$RUN_DIR/bpf
PIN=$BPFFS/xdpsvc
OUT_DIR=$BUILD/bench

GEN_IP=198.18.0.1
NODE_IP=198.18.0.2
POD_IP=198.18.1.11
VIP_BASE=198.19.64.0 # svcgen's default; Service i is VIP_BASE + i
PORT=5353
TPORT=9000
FRAMES_MAX=200000000 # trafgen -n: a bound far above WARMUP+WINDOW at any rate

TRAFGEN_PID=
NAMESPACES=()

die() {
	echo "bench-live: $*" >&2
	exit 1
}
note() { echo "bench-live: $*"; }

stop_trafgen() {
	if [ -n "$TRAFGEN_PID" ]; then
		kill -INT "$TRAFGEN_PID" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$TRAFGEN_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$TRAFGEN_PID" 2>/dev/null
		wait "$TRAFGEN_PID" 2>/dev/null
		TRAFGEN_PID=
	fi
}

topo_down() {
	local ns pid
	stop_trafgen
	for ns in "${NAMESPACES[@]}"; do
		# Only processes this run started live in its namespaces.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	NAMESPACES=()
	# xdpsvc's pins of a variant (its programs are gone with the namespace).
	[ -d "$PIN" ] && rm -rf "$PIN"
}

cleanup() {
	trap - EXIT INT TERM
	topo_down
	mountpoint -q "$BPFFS" && umount "$BPFFS"
	rm -rf "$RUN_DIR"
}

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, BPF)"
for f in "$XDPSVC" "$SVCGEN"; do
	[ -x "$f" ] || die "$f is missing: run 'make test-bins'"
done
for c in trafgen ethtool tc jq clang bpftool iptables-restore nft conntrack; do
	command -v "$c" >/dev/null || die "$c is missing: run scripts/install-deps.sh"
done
case $IPT in
nft | legacy) IPT_RESTORE=iptables-$IPT-restore IPT_SAVE=iptables-$IPT-save ;;
*) die "IPT must be nft or legacy" ;;
esac
command -v "$IPT_RESTORE" >/dev/null || die "$IPT_RESTORE is missing"
[ "$(nproc)" -gt "$DP_CPU" ] && [ "$(nproc)" -gt "$GEN_CPU" ] || die "needs CPUs $GEN_CPU and $DP_CPU"

trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$BPFFS" "$OUT_DIR" || die "cannot create $BPFFS or $OUT_DIR"
mount -t bpf bpf "$BPFFS" || die "cannot mount a bpffs on $BPFFS"
# The run uses copies of the binaries (the BPF programs are embedded): a
# rebuild in the tree while it runs must not change them between variants.
cp "$XDPSVC" "$RUN_DIR/xdpsvc" && cp "$SVCGEN" "$RUN_DIR/svcgen" || die "cannot copy the binaries to $RUN_DIR"
XDPSVC=$RUN_DIR/xdpsvc SVCGEN=$RUN_DIR/svcgen

# The root namespace's rules, to show they are untouched at the end.
ROOT_RULES_BEFORE=$( (iptables-nft-save 2>/dev/null; iptables-legacy-save 2>/dev/null; nft list ruleset 2>/dev/null) | grep -v '^#' | md5sum)

# ip4hex A.B.C.D: 0xAABBCCDD.
ip4hex() {
	local IFS=.
	# shellcheck disable=SC2086 # split on the dots
	printf '0x%02x%02x%02x%02x' $1
}

# ip4add A.B.C.D N: the address N after A.B.C.D.
ip4add() {
	local IFS=. a b c d v
	read -r a b c d <<<"$1"
	v=$(((a << 24) + (b << 16) + (c << 8) + d + $2))
	echo "$((v >> 24 & 255)).$((v >> 16 & 255)).$((v >> 8 & 255)).$((v & 255))"
}

# --- topology ----------------------------------------------------------------

netns_add() {
	ip netns add "$1" || return 1
	NAMESPACES+=("$1")
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 || return 1
	ip -n "$1" link set lo up
}

napi_threads() { ps -e -o pid=,comm= | awk '$2 ~ /^napi\/nic0-/ { print $1 }' | sort; }

# topo_up: the three namespaces, addresses, routes, static neighbours, the
# pod's drop filters, nic0's NAPI threaded on DP_CPU. Sets NIC_MAC, NAPI_PINNED.
topo_up() {
	local mac_pod mac_vp before after new
	netns_add "$NS_GEN" && netns_add "$NS_NODE" && netns_add "$NS_POD" || return 1
	ip -n "$NS_GEN" link add g0 type veth peer name nic0 netns "$NS_NODE" &&
		ip -n "$NS_NODE" link add vp0 type veth peer name eth0 netns "$NS_POD" || return 1
	# trafgen computes the checksums; no offload (it also turns off TSO,
	# so every frame may take nic0's NAPI path).
	ip netns exec "$NS_GEN" ethtool -K g0 tx off >/dev/null &&
		ip -n "$NS_GEN" addr add "$GEN_IP/24" dev g0 &&
		ip -n "$NS_GEN" link set g0 up || return 1

	ip netns exec "$NS_NODE" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 &&
		ip -n "$NS_NODE" addr add "$NODE_IP/24" dev nic0 &&
		ip netns exec "$NS_NODE" sysctl -qw net.ipv4.conf.nic0.rp_filter=0 \
			net.ipv4.conf.vp0.rp_filter=0 || return 1
	# nic0 polls in NAPI for every variant, and that NAPI runs as a kernel
	# thread pinned to DP_CPU: the datapath and trafgen get one CPU each. A
	# veth has a NAPI only with GRO on or an XDP program, and the tc-mode,
	# nftables and iptables variants have no XDP program: so GRO stays on on
	# nic0, the node's end of the "wire". That models a physical NIC, whose
	# driver polls in NAPI and has GRO on by default. (The 60-byte UDP
	# datagrams are not coalesced: no UDP GRO socket, no GRO forwarding.)
	# (threaded can be set once the NAPI exists: GRO on and the link up.)
	before=$(napi_threads)
	ip netns exec "$NS_NODE" ethtool -K nic0 gro on >/dev/null &&
		ip -n "$NS_NODE" link set nic0 up &&
		ip -n "$NS_NODE" link set vp0 up &&
		ip netns exec "$NS_NODE" sh -c 'echo 1 > /sys/class/net/nic0/threaded' || return 1
	after=$(napi_threads)
	new=$(comm -13 <(echo "$before") <(echo "$after"))
	NAPI_PINNED=no
	if [ "$(echo "$new" | grep -c .)" = 1 ] && taskset -pc "$DP_CPU" "$new" >/dev/null; then
		NAPI_PINNED=yes
	else
		note "warning: could not pin nic0's NAPI thread (found: ${new:-none})"
	fi

	ip -n "$NS_POD" addr add "$POD_IP/32" dev eth0 &&
		ip -n "$NS_POD" link set eth0 up || return 1
	# The pod's veth stays as a CNI plugin leaves it: GRO off, no XDP.
	mac_pod=$(ip -n "$NS_POD" -br link show eth0 | awk '{print $3}')
	mac_vp=$(ip -n "$NS_NODE" -br link show vp0 | awk '{print $3}')
	NIC_MAC=$(ip -n "$NS_NODE" -br link show nic0 | awk '{print $3}')
	GEN_MAC=$(ip -n "$NS_GEN" -br link show g0 | awk '{print $3}')
	ip -n "$NS_NODE" route add "$POD_IP/32" dev vp0 &&
		ip -n "$NS_NODE" neigh replace "$POD_IP" lladdr "$mac_pod" dev vp0 nud permanent &&
		ip -n "$NS_NODE" neigh replace "$GEN_IP" lladdr "$GEN_MAC" dev nic0 nud permanent &&
		ip -n "$NS_POD" route add "$NODE_IP" dev eth0 &&
		ip -n "$NS_POD" route add default via "$NODE_IP" dev eth0 onlink &&
		ip -n "$NS_POD" neigh replace "$NODE_IP" lladdr "$mac_vp" dev eth0 nud permanent || return 1
	# The receiver: a tc BPF program at the pod's ingress counts what arrived
	# translated (UDP to POD_IP:TPORT) and drops everything.
	ip netns exec "$NS_POD" tc qdisc add dev eth0 clsact &&
		ip netns exec "$NS_POD" tc filter add dev eth0 ingress pref 1 bpf direct-action \
			object-pinned "$BPFFS/progs/pod_rx" || return 1
	for ns in "${NAMESPACES[@]}"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || return 1
	done
}

# --- traffic and counters ----------------------------------------------------

# trafgen_conf MODE VIP: the packet, in trafgen's header syntax.
trafgen_conf() {
	local src
	case $1 in
	one) src="ipv4(sa=$GEN_IP, da=$2, ttl=64), udp(sp=40000, dp=$PORT)" ;;
	new) src="ipv4(sa=198.19.128.0, sa[2]=drnd(128, 255), sa[3]=drnd(0, 255), da=$2, ttl=64), udp(sp=dinc(1024, 65535), dp=$PORT)" ;;
	esac
	echo "{ eth(da=$NIC_MAC, sa=$GEN_MAC), $src, fill(0x00, 18) }"
}

pod_rx() { ip netns exec "$NS_POD" cat /sys/class/net/eth0/statistics/rx_packets; }
gen_tx() { ip netns exec "$NS_GEN" cat /sys/class/net/g0/statistics/tx_packets; }
# pcpu_sum MAP: the sum over CPUs of a pinned one-entry per-CPU array.
pcpu_sum() {
	bpftool -j map dump pinned "$1" | jq '[.[0].formatted.values[].value] | add // 0'
}
pod_hits() { pcpu_sum "$BPFFS/progmaps/rxok"; }
xdp_drops() { pcpu_sum "$BPFFS/progmaps/drops"; }
now_ns() { date +%s%N; }

# devstats: "name value" lines: the packet and drop counters of the
# four veth ends, ethtool -S of each (veth's per-queue XDP and peer counters),
# the softnet backlog drops of DP_CPU (/proc/net/softnet_stat, column 2: the
# pod's eth0 has no NAPI, so what reaches it waits in that backlog), and
# xdpsvc's global counters when it is attached.
devstats() {
	local ns dev
	for nd in "$NS_GEN g0" "$NS_NODE nic0" "$NS_NODE vp0" "$NS_POD eth0"; do
		read -r ns dev <<<"$nd"
		ip netns exec "$ns" sh -c '
			for f in rx_packets rx_dropped tx_packets tx_dropped; do
				echo "$1.$f $(cat /sys/class/net/$1/statistics/$f)"
			done
			ethtool -S "$1" 2>/dev/null | awk -v d="$1" -F": *" "NF == 2 && \$1 !~ /peer_ifindex/ { gsub(/^ +/, \"\", \$1); print d \".\" \$1, \$2 }"' \
			sh "$dev"
	done
	echo "pod.rx_translated $(pod_hits)"
	echo "softnet_cpu$DP_CPU.dropped $(($(printf '0x%s' "$(awk -v c=$((DP_CPU + 1)) 'NR == c { print $2 }' /proc/net/softnet_stat)")))"
	if [ -e "$PIN" ]; then
		xs list --json 2>"$RUN_DIR/list.err" | jq -r '.global // {} | to_entries[] | "xdpsvc.\(.key) \(.value)"' ||
			echo "xdpsvc list --json failed: $(head -c 300 "$RUN_DIR/list.err")" >>"$DEVSTATS"
	fi
} 2>/dev/null
# devdelta BEFORE AFTER: the non-zero differences, "name delta" lines.
devdelta() {
	awk 'NR == FNR { b[$1] = $2; next } { d = $2 - b[$1]; if (d != 0) print $1, d }' "$1" "$2"
}
# dropsum DELTAS: one line, the deltas of the counters that count losses
# (drop, err, full), and xdpsvc's counters.
dropsum() {
	awk '$1 ~ /drop|err|full/ || $1 ~ /^xdpsvc\./ { sub(/^xdpsvc\./, "", $1); printf "%s%s=%s", s, $1, $2; s = " " }' "$1"
}

# measure MODE VIP COUNTER: trafgen for WARMUP + WINDOW s; sets RATE (COUNTER's
# packets per second in the window), OFFERED (g0 tx per second), OK_FRAC
# (translated share of the pod's rx over trafgen's run; "-" for the ceiling).
measure() {
	local mode=$1 vip=$2 counter=$3 c0 c1 t0 t1 g0 g1
	# A small TX ring (32 frames of 2 KiB): veth keeps a sent skb charged to
	# trafgen's socket until nic0's NAPI has consumed it; more frames in
	# flight than the default send buffer (212992 bytes; net.core.wmem_* are
	# read-only in a netns) holds makes trafgen die on EAGAIN ("Flushing
	# TX_RING failed"), and trafgen's own --no-sock-mem-less tuning would
	# change global sysctls. The small ring bounds what is in flight instead.
	local RING=64KiB
	trafgen_conf "$mode" "$vip" >"$RUN_DIR/pkt.cfg"
	devstats >"$RUN_DIR/dev0"
	ip netns exec "$NS_GEN" timeout $((WARMUP + WINDOW + 20)) \
		trafgen --dev g0 --conf "$RUN_DIR/pkt.cfg" --cpus 1 --num "$FRAMES_MAX" \
		--ring-size "$RING" --no-sock-mem --notouch-irq --no-cpu-stats --seed 1 \
		>"$RUN_DIR/trafgen.log" 2>&1 &
	TRAFGEN_PID=$!
	# trafgen pins its one worker to CPU 0 itself; GEN_CPU moves it.
	sleep 0.2
	taskset -apc "$GEN_CPU" "$TRAFGEN_PID" >/dev/null 2>&1
	for p in $(pgrep -P "$TRAFGEN_PID"); do taskset -apc "$GEN_CPU" "$p" >/dev/null 2>&1; done
	sleep "$WARMUP"
	kill -0 "$TRAFGEN_PID" 2>/dev/null || {
		echo "trafgen exited early: $(cat "$RUN_DIR/trafgen.log")" >&2
		TRAFGEN_PID=
		return 1
	}
	t0=$(now_ns) c0=$($counter) g0=$(gen_tx)
	sleep "$WINDOW"
	t1=$(now_ns) c1=$($counter) g1=$(gen_tx)
	stop_trafgen
	devstats >"$RUN_DIR/dev1"
	devdelta "$RUN_DIR/dev0" "$RUN_DIR/dev1" >"$RUN_DIR/devd"
	RATE=$(awk -v d=$((c1 - c0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.0f", d / (t / 1e9) }')
	OFFERED=$(awk -v d=$((g1 - g0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.0f", d / (t / 1e9) }')
	if [ "$counter" = pod_rx ]; then
		# Over trafgen's whole run, both read after it stopped: exact.
		OK_FRAC=$(awk '{ v[$1] = $2 } END { d = v["eth0.rx_packets"]; printf "%.4f", d ? v["pod.rx_translated"] / d : 0 }' "$RUN_DIR/devd")
	else
		OK_FRAC=-
	fi
}

# --- variants ----------------------------------------------------------------

svc_file() { # N: the kubectl JSON for N UDP Services, all endpoints the pod
	local f=$RUN_DIR/svc-$1.json
	[ -s "$f" ] || "$SVCGEN" --services "$1" --endpoints 1 --proto udp --port "$PORT" \
		--target-port "$TPORT" --pod "$POD_IP" >"$f" || return 1
	echo "$f"
}

xs() { ip netns exec "$NS_NODE" "$XDPSVC" "$@" --pin-path "$PIN"; }

# setup_xdpsvc N WANT_MODE [attach options]: attach nic0, attach-pod vp0 (the
# pod's veth, as a node agent registers every pod), apply N Services. Sets
# NIC_MODE (.datapath.nic.mode of list --json); a mode other than WANT_MODE
# fails the variant (it would measure something else than it says).
setup_xdpsvc() {
	local n=$1 want=$2 f out
	shift 2
	f=$(svc_file "$n") || return 1
	out=$(xs attach nic0 "$@" 2>&1) || { echo "xdpsvc attach nic0 $*: $out" >&2; return 1; }
	out=$(xs attach-pod vp0 2>&1) || { echo "xdpsvc attach-pod vp0: $out" >&2; return 1; }
	out=$(xs apply "$f" 2>&1) || { echo "xdpsvc apply: $out" >&2; return 1; }
	NIC_MODE=$(xs list --json 2>/dev/null | jq -r '.datapath.nic.mode // "?"')
	SETUP_NOTE="attach nic0${*:+ $*}: $NIC_MODE; attach-pod vp0; $(tail -n 1 <<<"$out")"
	[ "$NIC_MODE" = "$want" ] || { echo "xdpsvc attach nic0 $*: mode '$NIC_MODE', not '$want'" >&2; return 1; }
}

# kube-proxy iptables mode (pkg/proxy/iptables/proxier.go) for N Services of
# one endpoint each; no --cluster-cidr masquerade rule (xdpsvc does not
# masquerade either), nodeports rule last as kube-proxy writes it.
iptables_rules() {
	awk -v n="$1" -v base="$VIP_BASE" -v pod="$POD_IP" -v port="$PORT" -v tport="$TPORT" '
	function ip(i,  v) { v = b + i; return sprintf("%d.%d.%d.%d", int(v / 16777216) % 256, int(v / 65536) % 256, int(v / 256) % 256, v % 256) }
	function h(k, i) { return sprintf("KUBE-%s-%016d", k, i) }
	BEGIN {
		split(base, o, "."); b = o[1] * 16777216 + o[2] * 65536 + o[3] * 256 + o[4]
		print "*filter"
		print ":INPUT ACCEPT [0:0]"; print ":FORWARD ACCEPT [0:0]"; print ":OUTPUT ACCEPT [0:0]"
		print ":KUBE-FORWARD - [0:0]"; print ":KUBE-SERVICES - [0:0]"; print ":KUBE-PROXY-FIREWALL - [0:0]"
		print ":KUBE-EXTERNAL-SERVICES - [0:0]"
		print "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL"
		print "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES"
		print "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL"
		print "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD"
		print "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
		print "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES"
		print "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP"
		print "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT"
		print "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
		print "COMMIT"
		print "*nat"
		print ":PREROUTING ACCEPT [0:0]"; print ":INPUT ACCEPT [0:0]"; print ":OUTPUT ACCEPT [0:0]"; print ":POSTROUTING ACCEPT [0:0]"
		print ":KUBE-SERVICES - [0:0]"; print ":KUBE-NODEPORTS - [0:0]"; print ":KUBE-POSTROUTING - [0:0]"; print ":KUBE-MARK-MASQ - [0:0]"
		for (i = 0; i < n; i++) { print ":" h("SVC", i) " - [0:0]"; print ":" h("SEP", i) " - [0:0]" }
		print "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
		print "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
		print "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING"
		print "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000"
		print "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN"
		print "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000"
		print "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully"
		for (i = 0; i < n; i++) {
			c = sprintf("bench/svc-%05d:http", i)
			printf "-A KUBE-SERVICES -d %s/32 -p udp -m comment --comment \"%s cluster IP\" -m udp --dport %d -j %s\n", ip(i), c, port, h("SVC", i)
			printf "-A %s -m comment --comment \"%s -> %s:%d\" -j %s\n", h("SVC", i), c, pod, tport, h("SEP", i)
			printf "-A %s -s %s/32 -m comment --comment \"%s\" -j KUBE-MARK-MASQ\n", h("SEP", i), pod, c
			printf "-A %s -p udp -m comment --comment \"%s\" -m udp -j DNAT --to-destination %s:%d\n", h("SEP", i), c, pod, tport
		}
		print "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"
		print "COMMIT"
	}'
}

setup_iptables() { # N
	iptables_rules "$1" >"$RUN_DIR/ipt-$1.rules" || return 1
	ip netns exec "$NS_NODE" "$IPT_RESTORE" <"$RUN_DIR/ipt-$1.rules" || return 1
	SETUP_NOTE="$(ip netns exec "$NS_NODE" "$IPT_SAVE" -t nat | grep -c '^-A KUBE-SERVICES -d') rules in nat KUBE-SERVICES ($IPT_RESTORE)"
}

# kube-proxy nftables mode (pkg/proxy/nftables/proxier.go), same reductions.
nft_rules() {
	awk -v n="$1" -v base="$VIP_BASE" -v pod="$POD_IP" -v port="$PORT" -v tport="$TPORT" '
	function ip(i,  v) { v = b + i; return sprintf("%d.%d.%d.%d", int(v / 16777216) % 256, int(v / 65536) % 256, int(v / 256) % 256, v % 256) }
	BEGIN {
		split(base, o, "."); b = o[1] * 16777216 + o[2] * 65536 + o[3] * 256 + o[4]
		print "table ip kube-proxy {"
		print "  comment \"rules for kube-proxy\""
		print "  set cluster-ips { type ipv4_addr; comment \"Active ClusterIPs\"; }"
		print "  map no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict; }"
		print "  map firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict; }"
		print "  map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; comment \"ClusterIP, ExternalIP and LoadBalancer IP traffic\"; }"
		print "  map service-nodeports { type inet_proto . inet_service : verdict; }"
		print "  chain mark-for-masquerade { meta mark set meta mark or 0x4000; }"
		print "  chain masquerading { meta mark & 0x4000 == 0 return; meta mark set meta mark xor 0x4000; masquerade fully-random; }"
		print "  chain firewall-check { ip daddr . meta l4proto . th dport vmap @firewall-ips; }"
		print "  chain service-endpoints-check { ip daddr . meta l4proto . th dport vmap @no-endpoint-services; }"
		print "  chain nodeport-endpoints-check { }"
		print "  chain cluster-ips-check { ip daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\"; }"
		print "  chain forward { ct state invalid drop; }"
		print "  chain nodeports { meta l4proto . th dport vmap @service-nodeports; }"
		print "  chain services { ip daddr . meta l4proto . th dport vmap @service-ips; fib daddr type local ip daddr != 127.0.0.0/8 jump nodeports; }"
		print "  chain filter-prerouting { type filter hook prerouting priority -110; ct state new jump firewall-check; }"
		print "  chain filter-forward { type filter hook forward priority -110; ct state new jump service-endpoints-check; ct state new jump cluster-ips-check; jump forward; }"
		print "  chain filter-input { type filter hook input priority -110; ct state new jump nodeport-endpoints-check; ct state new jump service-endpoints-check; }"
		print "  chain filter-output { type filter hook output priority -110; ct state new jump service-endpoints-check; ct state new jump firewall-check; }"
		print "  chain nat-prerouting { type nat hook prerouting priority -100; jump services; }"
		print "  chain nat-output { type nat hook output priority -100; jump services; }"
		print "  chain nat-postrouting { type nat hook postrouting priority 100; jump masquerading; }"
		for (i = 0; i < n; i++) {
			printf "  chain service-%05d { numgen random mod 1 vmap { 0 : goto endpoint-%05d }; }\n", i, i
			printf "  chain endpoint-%05d { ip saddr %s jump mark-for-masquerade; meta l4proto udp dnat to %s:%d; }\n", i, pod, pod, tport
		}
		print "}"
		# The elements in chunks (one huge line is slow to parse).
		for (i = 0; i < n; i += 1000) {
			printf "add element ip kube-proxy cluster-ips {"
			for (j = i; j < i + 1000 && j < n; j++) printf "%s %s", (j > i ? "," : ""), ip(j)
			print " }"
			printf "add element ip kube-proxy service-ips {"
			for (j = i; j < i + 1000 && j < n; j++) printf "%s %s . udp . %d : goto service-%05d", (j > i ? "," : ""), ip(j), port, j
			print " }"
		}
	}'
}

setup_nftables() { # N
	nft_rules "$1" >"$RUN_DIR/nft-$1.nft" || return 1
	ip netns exec "$NS_NODE" nft -f "$RUN_DIR/nft-$1.nft" || return 1
	SETUP_NOTE="$(ip netns exec "$NS_NODE" nft list map ip kube-proxy service-ips | grep -o ' : goto ' | wc -l) elements in map service-ips"
}

# The two small programs: XDP_DROP for the ceiling, the pod's tc receiver.
# Both count in a per-CPU array; loaded and pinned once per run.
build_progs() {
	cat >"$RUN_DIR/bench_progs.bpf.c" <<EOF
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#define PCPU_COUNTER(name) struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); \
	__uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } name SEC(".maps")
PCPU_COUNTER(drops);
PCPU_COUNTER(rxok);
static __always_inline void bump(void *map)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(map, &k);
	if (v)
		(*v)++;
}
SEC("xdp") int xdp_drop(struct xdp_md *ctx) { bump(&drops); return XDP_DROP; }
SEC("tc") int pod_rx(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	if ((void *)(udp + 1) <= end && eth->h_proto == bpf_htons(ETH_P_IP) && ip->ihl == 5 &&
	    ip->protocol == IPPROTO_UDP && ip->daddr == bpf_htonl($(ip4hex "$POD_IP")) &&
	    udp->dest == bpf_htons($TPORT))
		bump(&rxok);
	return TC_ACT_SHOT;
}
char LICENSE[] SEC("license") = "GPL";
EOF
	clang -O2 -g -target bpf -I"/usr/include/$(gcc -dumpmachine)" \
		-c "$RUN_DIR/bench_progs.bpf.c" -o "$RUN_DIR/bench_progs.bpf.o" || return 1
	mkdir -p "$BPFFS/progmaps" &&
		bpftool prog loadall "$RUN_DIR/bench_progs.bpf.o" "$BPFFS/progs" pinmaps "$BPFFS/progmaps" &&
		[ -e "$BPFFS/progs/xdp_drop" ] && [ -e "$BPFFS/progs/pod_rx" ]
}

setup_ceiling() {
	ip netns exec "$NS_NODE" bpftool net attach xdpdrv pinned "$BPFFS/progs/xdp_drop" dev nic0 || return 1
	SETUP_NOTE="XDP_DROP, native, on nic0"
}

# --- the run -----------------------------------------------------------------

HAS_NOFP=no
"$XDPSVC" attach --help 2>&1 | grep -q -- '--no-fast-path' && HAS_NOFP=yes
build_progs || die "cannot build or load the XDP_DROP and pod receiver programs"

declare -A R_RATE R_OFF R_RUNS R_OFFS R_OK R_NOTE R_MODE R_WHERE R_FLAG
ROWS=()
FAILED=0
T_START=$SECONDS
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
DEVSTATS=$OUT_DIR/live-devstats.txt
echo "# bench_live $(date -u +%FT%TZ): per measurement, the non-zero deltas of the devices' and xdpsvc's counters (trafgen's whole run, warm-up included)" >"$DEVSTATS"

# run_variant VARIANT N: fresh topology, set up, measure one flow then new flows.
run_variant() {
	local v=$1 n=$2 vip key mode counter=pod_rx d flag
	key="$v/$n"
	[[ " ${ROWS[*]} " == *" $key "* ]] || ROWS+=("$key")
	if [ "$v" = xdpsvc-nofp ] && [ "$HAS_NOFP" = no ]; then
		R_NOTE[$key]="n/a: xdpsvc attach has no --no-fast-path"
		return 0
	fi
	vip=$(ip4add "$VIP_BASE" $((n - 1)))
	topo_up || { note "$key: topology setup failed"; FAILED=1; topo_down; return 1; }
	SETUP_NOTE="" NIC_MODE=""
	case $v in
	xdpsvc-tc) setup_xdpsvc "$n" tc ;;
	xdpsvc-native) setup_xdpsvc "$n" "xdp native" --xdp-mode native ;;
	xdpsvc-nofp) setup_xdpsvc "$n" tc --no-fast-path ;;
	iptables) setup_iptables "$n" ;;
	nftables) setup_nftables "$n" ;;
	ceiling) setup_ceiling; counter=xdp_drops ;;
	*) echo "unknown variant $v" >&2; false ;;
	esac || { note "$key: setup failed"; R_NOTE[$key]="setup failed"; FAILED=1; topo_down; return 1; }
	R_MODE[$key]=$NIC_MODE
	[ "$NAPI_PINNED" = yes ] || SETUP_NOTE="nic0's NAPI thread NOT pinned to CPU $DP_CPU; $SETUP_NOTE"
	for mode in one new; do
		if ! measure "$mode" "$vip" "$counter"; then
			note "$key $mode: measurement failed"
			FAILED=1
			continue
		fi
		R_RUNS[$key/$mode]+="$RATE " R_OFFS[$key/$mode]+="$OFFERED " R_OK[$key/$mode]=$OK_FRAC
		R_WHERE[$key/$mode]=$(dropsum "$RUN_DIR/devd")
		# Findings, not noise: the pod gets (almost) nothing, or untranslated
		# packets, or tc mode did not redirect into the pod's peer.
		flag=
		if [ "$counter" = pod_rx ]; then
			awk -v r="$RATE" -v o="$OFFERED" 'BEGIN { exit !(r < o / 100) }' &&
				flag+="NOT DELIVERED: the pod received under 1% of what trafgen sent; "
			awk -v k="$OK_FRAC" 'BEGIN { exit !(k < 0.99) }' && [ "$RATE" != 0 ] &&
				flag+="only $OK_FRAC of what the pod received was translated; "
		fi
		if [ "$v" = xdpsvc-tc ]; then
			d=$(awk '$1 == "xdpsvc.redirect_peer" { print $2 }' "$RUN_DIR/devd")
			[ "${d:-0}" -gt 0 ] || flag+="redirect_peer did not move; "
		fi
		R_FLAG[$key/$mode]=${flag%; }
		{
			echo "== $key $mode flows (round $ROUND): delivered $RATE pps, offered $OFFERED pps, translated share $OK_FRAC${flag:+; ${flag%; }}"
			sed 's/^/   /' "$RUN_DIR/devd"
		} >>"$DEVSTATS"
		note "$(printf '%-13s %5s Services  %-8s %10s pps delivered  (trafgen %s pps, translated share %s)' \
			"$v" "$n" "$mode" "$RATE" "$OFFERED" "$OK_FRAC")${flag:+  ** ${flag%; }}${ROUNDS_NOTE:+ (round $ROUND)}"
	done
	{
		echo "-- $key: ip -s link (node, pod) and ethtool -S of the veths at the end"
		ip -n "$NS_NODE" -s link show dev nic0
		ip -n "$NS_NODE" -s link show dev vp0
		ip -n "$NS_POD" -s link show dev eth0
		for d in nic0 vp0; do ip netns exec "$NS_NODE" ethtool -S "$d" | grep -v ': 0$'; done
		ip netns exec "$NS_POD" ethtool -S eth0 | grep -v ': 0$'
	} >>"$DEVSTATS" 2>&1
	case $v in
	iptables | nftables)
		R_NOTE[$key]="$SETUP_NOTE; conntrack: $(ip netns exec "$NS_NODE" conntrack -C 2>/dev/null) entries, $(ip netns exec "$NS_NODE" conntrack -S 2>/dev/null |
			awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); s[kv[1]] += kv[2] } } END { printf "drop=%d early_drop=%d insert_failed=%d", s["drop"], s["early_drop"], s["insert_failed"] }')"
		;;
	*) R_NOTE[$key]=$SETUP_NOTE ;;
	esac
	topo_down
}

note "trafgen on CPU $GEN_CPU, nic0's NAPI thread on CPU $DP_CPU; window ${WINDOW} s after ${WARMUP} s; iptables backend: $IPT"
ROUNDS_NOTE=
[ "$ROUNDS" -gt 1 ] && ROUNDS_NOTE=yes
for ROUND in $(seq "$ROUNDS"); do
	for v in $VARIANTS; do
		[ "$v" = xdpsvc ] && v=xdpsvc-tc
		if [ "$v" = ceiling ]; then
			run_variant ceiling 1
		else
			run_variant "$v" 1
			run_variant "$v" "$SERVICES"
		fi
	done
done
T_RUN=$((SECONDS - T_START))
# median LIST: the median of space-separated numbers (the lower middle one
# of an even count).
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
for k in "${!R_RUNS[@]}"; do
	R_RATE[$k]=$(median "${R_RUNS[$k]}") R_OFF[$k]=$(median "${R_OFFS[$k]}")
done

ROOT_RULES_AFTER=$( (iptables-nft-save 2>/dev/null; iptables-legacy-save 2>/dev/null; nft list ruleset 2>/dev/null) | grep -v '^#' | md5sum)
[ "$ROOT_RULES_BEFORE" = "$ROOT_RULES_AFTER" ] || { note "the root namespace's rules changed during the run"; FAILED=1; }

# --- report ------------------------------------------------------------------

get() { echo "${R_RATE[$1]:-null}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "null" || b == "null" || b == 0) print "null"; else printf "%.2f", a / b }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { if (t == "null") print "-"; else if (r == "null") print "n/a"; else print (r + 0 >= t) ? "ok" : "MISSED" }'; }
fmt() { [ "$1" = null ] && echo "n/a" || awk -v v="$1" 'BEGIN { printf "%.3f", v / 1e6 }'; }
jbool() { case $1 in ok) echo true ;; MISSED | n/a) echo false ;; *) echo null ;; esac; }

N=$SERVICES
# The checks at N Services: "variant flows against target label" lines; target
# "null" = shown for comparison, no target. The targets hold for the default
# mode of a veth NIC (tc) and for native XDP (a physical NIC's driver).
CHECKS="xdpsvc-tc new nftables 1.4 tc (default on a veth NIC)
xdpsvc-tc one nftables 1.3 tc (default on a veth NIC)
xdpsvc-native new nftables 1.4 native XDP (a physical NIC's driver)
xdpsvc-native one nftables 1.3 native XDP (a physical NIC's driver)
xdpsvc-nofp new nftables null --no-fast-path (tc, to the stack)
xdpsvc-nofp one nftables null --no-fast-path (tc, to the stack)
xdpsvc-tc new iptables 50 tc (default on a veth NIC)
xdpsvc-tc one iptables null tc (default on a veth NIC)
xdpsvc-native new iptables null native XDP (a physical NIC's driver)
xdpsvc-tc one ceiling 0.65 tc (default on a veth NIC)
xdpsvc-tc new ceiling null tc (default on a veth NIC)
xdpsvc-native one ceiling null native XDP (a physical NIC's driver)
xdpsvc-native new ceiling null native XDP (a physical NIC's driver)"
C_LINES=()
while read -r cv cf cb ct clabel; do
	[ -n "$cv" ] || continue
	bkey="$cb/$N/$cf"
	[ "$cb" = ceiling ] && bkey="ceiling/1/$cf"
	cr=$(ratio "$(get "$cv/$N/$cf")" "$(get "$bkey")")
	C_LINES+=("$cv|$cf|$cb|$ct|$cr|$(verdict "$cr" "$ct")|$clabel")
done <<<"$CHECKS"
# check VARIANT FLOWS AGAINST: the ratio of a check above.
check() {
	local l
	for l in "${C_LINES[@]}"; do
		IFS='|' read -r cv cf cb ct cr cvd clabel <<<"$l"
		[ "$cv|$cf|$cb" = "$1|$2|$3" ] && { echo "$cr"; return; }
	done
	echo null
}
flowname() { [ "$1" = new ] && echo "new flow" || echo "one flow"; }

echo
echo "live datapath: Mpps delivered to the pod (ceiling: dropped by XDP on nic0); 60-byte UDP frames"
echo "$(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r)"
echo "trafgen on CPU $GEN_CPU; nic0 NAPI (threaded: datapath, forwarding, the pod's backlog) on CPU $DP_CPU; ${WINDOW} s window after ${WARMUP} s"
echo "pod veth as a CNI leaves it (GRO off, no XDP); GRO on on nic0 (as on a physical NIC; gives it the NAPI thread)"
echo "load average at start: $LOAD_START, at end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"
[ "$ROUNDS" -gt 1 ] && echo "median of $ROUNDS rounds (each round: every variant in turn, fresh namespaces each)"
printf '%-14s %8s %11s %11s %10s %10s   %s\n' variant services "one flow" "new flows" "offered1" "offeredN" "notes"
for key in "${ROWS[@]}"; do
	printf '%-14s %8s %11s %11s %10s %10s   %s\n' "${key%/*}" "${key#*/}" \
		"$(fmt "$(get "$key/one")")" "$(fmt "$(get "$key/new")")" \
		"$(fmt "${R_OFF[$key/one]:-null}")" "$(fmt "${R_OFF[$key/new]:-null}")" "${R_NOTE[$key]:-}"
done
echo "(offered1/offeredN: what trafgen put on g0, Mpps, one flow / new flows)"
echo "(xdpsvc-native stands for a physical NIC's driver: XDP translates, the stack forwards (XDP_PASS); on a veth"
echo " its XDP also pays a copy of every skb into an XDP frame that a real driver does not)"
echo
echo "where the packets went (deltas over each trafgen run, warm-up included; all counters in ${DEVSTATS#"$XS_REPO"/}):"
for key in "${ROWS[@]}"; do
	for mode in one new; do
		[ -n "${R_RATE[$key/$mode]:-}" ] || continue
		printf '  %-20s %-4s %s%s\n' "$key" "$mode" "${R_WHERE[$key/$mode]:-no drop counter moved}" \
			"${R_FLAG[$key/$mode]:+  ** ${R_FLAG[$key/$mode]}}"
	done
done
echo
echo "ratios at $N Services"
for l in "${C_LINES[@]}"; do
	IFS='|' read -r cv cf cb ct cr cvd clabel <<<"$l"
	printf '  %-48s %8s   %s\n' "$(flowname "$cf"): $cv / $cb" "$cr" \
		"$([ "$ct" = null ] && echo "($clabel)" || echo "target >= $ct: $cvd  ($clabel)")"
done
echo "(run took ${T_RUN} s)"

# JSON. "ratios" is the default attach of a veth NIC (xdpsvc-tc), under the
# names it always had; "checks" has every ratio of every mode, with or
# without a target (bench_summary.sh reads "checks").
R_NEW_NFT=$(check xdpsvc-tc new nftables) R_ONE_NFT=$(check xdpsvc-tc one nftables)
R_NEW_IPT=$(check xdpsvc-tc new iptables) R_ONE_IPT=$(check xdpsvc-tc one iptables)
R_NEW_CEIL=$(check xdpsvc-tc new ceiling) R_ONE_CEIL=$(check xdpsvc-tc one ceiling)
{
	echo "{"
	echo "  \"cpus\": $(nproc), \"kernel\": \"$(uname -r)\","
	echo "  \"cpu_model\": $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo | jq -R .),"
	echo "  \"services\": $N, \"frame_bytes\": 60, \"window_s\": $WINDOW, \"warmup_s\": $WARMUP, \"rounds\": $ROUNDS,"
	echo "  \"gen_cpu\": $GEN_CPU, \"datapath_cpu\": $DP_CPU, \"iptables_backend\": \"$IPT\","
	echo "  \"fast_path_option\": $([ "$HAS_NOFP" = yes ] && echo true || echo false),"
	echo "  \"pod_veth\": \"GRO off, no XDP (as a CNI plugin makes it)\", \"nic_gro\": true,"
	echo "  \"results\": ["
	sep=""
	for key in "${ROWS[@]}"; do
		for mode in one new; do
			printf '%s    {"variant": "%s", "services": %s, "flows": "%s", "pps": %s, "pps_rounds": [%s], "offered_pps": %s, "translated_share": %s, "nic_mode": %s, "note": %s, "flag": %s, "deltas": %s}' \
				"$sep" "${key%/*}" "${key#*/}" "$mode" "$(get "$key/$mode")" "$(r=${R_RUNS[$key/$mode]:-}; r=${r% }; echo "${r// /, }")" "${R_OFF[$key/$mode]:-null}" \
				"$(o=${R_OK[$key/$mode]:-null}; [ "$o" = - ] && echo null || echo "$o")" \
				"$([ -n "${R_MODE[$key]:-}" ] && printf '%s' "${R_MODE[$key]}" | jq -Rs . || echo null)" \
				"$(printf '%s' "${R_NOTE[$key]:-}" | jq -Rs .)" \
				"$([ -n "${R_FLAG[$key/$mode]:-}" ] && printf '%s' "${R_FLAG[$key/$mode]}" | jq -Rs . || echo null)" \
				"$(printf '%s' "${R_WHERE[$key/$mode]:-}" | jq -Rsc 'split(" ") | map(select(length > 0) | split("=") | {(.[0]): (.[1] | tonumber)}) | add // {}')"
			sep=$',\n'
		done
	done
	echo
	echo "  ],"
	echo "  \"ratios\": {"
	echo "    \"new_flow_vs_nftables\": {\"value\": $R_NEW_NFT, \"target\": 1.4, \"met\": $(jbool "$(verdict "$R_NEW_NFT" 1.4)")},"
	echo "    \"new_flow_vs_iptables\": {\"value\": $R_NEW_IPT, \"target\": 50, \"met\": $(jbool "$(verdict "$R_NEW_IPT" 50)")},"
	echo "    \"new_flow_vs_ceiling\": {\"value\": $R_NEW_CEIL},"
	echo "    \"one_flow_vs_nftables\": {\"value\": $R_ONE_NFT, \"target\": 1.3, \"met\": $(jbool "$(verdict "$R_ONE_NFT" 1.3)")},"
	echo "    \"one_flow_vs_iptables\": {\"value\": $R_ONE_IPT},"
	echo "    \"one_flow_vs_ceiling\": {\"value\": $R_ONE_CEIL, \"target\": 0.65, \"met\": $(jbool "$(verdict "$R_ONE_CEIL" 0.65)")}"
	echo "  },"
	echo "  \"checks\": ["
	sep=""
	for l in "${C_LINES[@]}"; do
		IFS='|' read -r cv cf cb ct cr cvd clabel <<<"$l"
		printf '%s    {"name": %s, "variant": "%s", "mode": %s, "flows": "%s", "against": "%s", "services": %s, "value": %s, "target": %s, "met": %s}' \
			"$sep" "$(printf '%s' "$(flowname "$cf"), $cv / $cb" | jq -Rs .)" "$cv" "$(printf '%s' "$clabel" | jq -Rs .)" \
			"$cf" "$cb" "$N" "$cr" "$ct" "$(jbool "$cvd")"
		sep=$',\n'
	done
	echo
	echo "  ],"
	echo "  \"loadavg_start\": \"$LOAD_START\", \"loadavg_end\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","
	echo "  \"run_seconds\": $T_RUN"
	echo "}"
} >"$OUT_DIR/live.json"
jq -e . "$OUT_DIR/live.json" >/dev/null || { note "wrote invalid JSON to $OUT_DIR/live.json"; FAILED=1; }
note "wrote ${OUT_DIR#"$XS_REPO"/}/live.json"
exit "$FAILED"
