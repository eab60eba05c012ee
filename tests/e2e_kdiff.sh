#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Differential end-to-end suite: xdpsvc against the kernel path kube-proxy's
# nftables mode gives, on the two-node cluster of tests/lib.sh (cluster2_up).
#
# Every scenario runs twice on the same namespaces and servers:
#  1. kernel: each node gets the ruleset kube-proxy's nftables mode would
#     write for the Services of $FILE (tests/tools/kpnft, which reads the file
#     through the loader's own reader), route_localnet=1 and kube-proxy's
#     conntrack timeouts; xdpsvc is not attached;
#  2. xdpsvc: the nft table removed and conntrack flushed, `xdpsvc attach
#     nic0`, `apply`, `attach-pod` on each node (and --cluster-cidr when the
#     loader has it).
# What real clients see is compared: the set of pods that answered TRIES new
# flows (podsrv puts its name in the body; for random balancing only the
# set counts), where the source matters (pod clients: "preserve source pod
# IP"; externalTrafficPolicy Local from outside: the client's address) also
# the address the pod saw as client, the error a client got (refused,
# timeout, no-route, reset, ...), and for 20 MB transfers whether the bytes
# arrived intact (sha256). A scenario passes when both runs saw the same and
# the kernel run saw what kube-proxy is expected to give (the reference is
# checked too); otherwise it fails and prints both outcomes.
#
# The script runs itself once per topology (KDIFF_TOPOS, default
# "kind wire"; tests/lib.sh XS_TOPO), each run with its own cluster, and
# prefixes the case names with the topology. KDIFF_CASES=GLOB runs only the
# scenarios whose name matches.
set -u

if [ -z "${KDIFF_CHILD:-}" ]; then
	rc=0
	for topo in ${KDIFF_TOPOS:-kind wire}; do
		KDIFF_CHILD=1 XS_TOPO=$topo bash "$0" || rc=1
	done
	exit "$rc"
fi

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
T0=$SECONDS
# Case names carry the topology: "[kind] ...", "[wire] ..." (lib.sh's
# pass/fail tag the wire ones themselves when they have xs_case).
TAG="[$XS_TOPO] "
declare -F xs_case >/dev/null && [ "$XS_TOPO" = wire ] && TAG=""
PY=/usr/bin/python3
HAIRPIN=198.18.250.1
CIDRS=198.18.1.0/24,198.18.2.0/24
LB_IP=198.19.100.1
EXT_IP=198.19.100.2
BULK_MAX=15        # seconds a 20 MB transfer may take

for f in "$TOOLS/kpnft" "$PY"; do
	[ -x "$f" ] || { fail "${TAG}setup" "$f is missing (make test-bins)"; exit 1; }
done
cluster2_up || { fail "${TAG}setup" "the two-node namespace cluster could not be built"; exit 1; }
NODE1=$NODE_IP
NODE2=$NODE2_IP

# --- the Kubernetes objects
# service NAME VIP ETP LBIP "PODS" PORT...: a Service and its EndpointSlice,
# one ready endpoint per pod, with its node. PORT = NAME:PORT/PROTO:TARGET
# or NAME:PORT/PROTO:TARGET:NODEPORT. NodePort when a port has a nodePort,
# LoadBalancer (status ingress LBIP) when LBIP is not "-". SVC_EXTRA: more
# spec fields ('"sessionAffinity":"ClientIP"').
service() {
	local name=$1 vip=$2 etp=$3 lb=$4 pods=$5 type=ClusterIP p sps="" eps="" ports="" sep="" n
	local pname rest port proto target np extra=""
	shift 5
	for p in "$@"; do
		pname=${p%%:*} rest=${p#*:}
		port=${rest%%/*} rest=${rest#*/}
		proto=${rest%%:*} rest=${rest#*:}
		target=${rest%%:*} np=""
		[ "$rest" != "$target" ] && np=${rest#*:} && type=NodePort
		sps+="$sep{\"name\":\"$pname\",\"port\":$port,\"protocol\":\"$proto\",\"targetPort\":$target${np:+,\"nodePort\":$np}}"
		ports+="$sep{\"name\":\"$pname\",\"port\":$target,\"protocol\":\"$proto\"}"
		sep=,
	done
	sep=""
	for n in $pods; do
		eps+="$sep{\"addresses\":[\"$(pod_ip "$n")\"],\"nodeName\":\"node-$([ "$n" -lt 10 ] && echo 1 || echo 2)\",\"conditions\":{\"ready\":true}}"
		sep=,
	done
	[ "$lb" != - ] && type=LoadBalancer
	[ "$type" != ClusterIP ] && extra=",\"externalTrafficPolicy\":\"$etp\""
	extra+=${SVC_EXTRA:+,$SVC_EXTRA}
	printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"e2e"},' "$name"
	printf '"spec":{"type":"%s","clusterIP":"%s","clusterIPs":["%s"],"ipFamilies":["IPv4"],"ports":[%s]%s}' \
		"$type" "$vip" "$vip" "$sps" "$extra"
	[ "$lb" != - ] && printf ',"status":{"loadBalancer":{"ingress":[{"ip":"%s"}]}}' "$lb"
	printf '}\n{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"%s-a","namespace":"e2e",' "$name"
	printf '"labels":{"kubernetes.io/service-name":"%s"}},"addressType":"IPv4","ports":[%s],"endpoints":[%s]}\n' \
		"$name" "$ports" "$eps"
}
WEB=(http:80/TCP:8080 dns:53/UDP:5353)
FILE=$RUN_DIR/kdiff.json
mapfile -t items < <(
	service web-local 198.19.0.10 Cluster - "1" "${WEB[@]}"
	service web-remote 198.19.0.11 Cluster - "21" "${WEB[@]}"
	service web-both 198.19.0.12 Cluster - "1 21" "${WEB[@]}"
	service np-local 198.19.0.13 Cluster - "1" http:80/TCP:8080:30080 dns:53/UDP:5353:30053
	service np-remote 198.19.0.14 Cluster - "21" http:80/TCP:8080:30081 dns:53/UDP:5353:30054
	service etp-a 198.19.0.15 Local "$LB_IP" "1 21" http:80/TCP:8080:30082 dns:53/UDP:5353:30055
	service etp-b 198.19.0.16 Local - "21" http:80/TCP:8080:30083 dns:53/UDP:5353:30056
	service empty 198.19.0.20 Cluster - "" http:80/TCP:8080:30090 dns:53/UDP:5353:30091
	service noport-local 198.19.0.21 Cluster - "1" http:80/TCP:8081 dns:53/UDP:5354
	service noport-remote 198.19.0.22 Cluster - "21" http:80/TCP:8081 dns:53/UDP:5354
	service bulk-local 198.19.0.30 Cluster - "1" bulk:8000/TCP:8000
	service bulk-remote 198.19.0.31 Cluster - "21" bulk:8000/TCP:8000
	SVC_EXTRA='"sessionAffinity":"ClientIP"' service web-aff 198.19.0.17 Cluster - "1 21" "${WEB[@]}"
	SVC_EXTRA="\"externalIPs\":[\"$EXT_IP\"]" service web-ext 198.19.0.18 Cluster - "1 21" "${WEB[@]}"
	service bulk-np 198.19.0.32 Cluster - "21" bulk:8000/TCP:8000:30800
	service bulk-np-local 198.19.0.33 Cluster - "1" bulk:8000/TCP:8000:30801
	service push 198.19.0.40 Cluster - "1 2" push:60/UDP:6000
	service big-local 198.19.0.41 Cluster - "1" big:61/UDP:6001
	service big-remote 198.19.0.42 Cluster - "21" big:61/UDP:6001)
k8s_list "${items[@]}" >"$FILE"

# --- the bulk servers: GET /blob (20 MB), PUT anything: "SHA256 BYTES"
mkdir -p "$RUN_DIR/www" || exit 1
BLOB=$RUN_DIR/www/blob
head -c 20M /dev/urandom >"$BLOB"
BLOB_SHA=$(sha256sum "$BLOB" | cut -d' ' -f1)
cat >"$RUN_DIR/bulksrv.py" <<'PY'
import hashlib, http.server, os, sys
class H(http.server.SimpleHTTPRequestHandler):
    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0")); left = n; h = hashlib.sha256()
        while left > 0:
            b = self.rfile.read(min(left, 1 << 16))
            if not b:
                break
            h.update(b); left -= len(b)
        body = ("%s %d\n" % (h.hexdigest(), n - left)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
os.chdir(sys.argv[1])
srv = http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[2])), H)
print("ready", flush=True)
srv.serve_forever()
PY
for n in 1 21; do
	in_pod "$n" "$PY" "$RUN_DIR/bulksrv.py" "$RUN_DIR/www" 8000 >"$RUN_DIR/bulk$n.log" 2>&1 &
	if ! wait_until 5 grep -qs '^ready$' "$RUN_DIR/bulk$n.log"; then
		fail "${TAG}setup" "the bulk server in pod$n did not start: $(cat "$RUN_DIR/bulk$n.log")"
		exit 1
	fi
done

# --- the streaming servers: every datagram answered, then 12 more pushed
for n in 1 2; do
	in_pod "$n" "$PY" "$XS_REPO/tests/tools/udpsess.py" push-server 6000 "pod$n" >"$RUN_DIR/push$n.log" 2>&1 &
	if ! wait_until 5 grep -qs '^ready$' "$RUN_DIR/push$n.log"; then
		fail "${TAG}setup" "the push server in pod$n did not start: $(cat "$RUN_DIR/push$n.log")"
		exit 1
	fi
done
# --- a server whose UDP answers (3,500 bytes) leave in fragments
for n in 1 21; do
	in_pod "$n" "$PY" "$XS_REPO/tests/tools/udpsess.py" big-server 6001 3500 >"$RUN_DIR/big$n.log" 2>&1 &
	if ! wait_until 5 grep -qs '^ready$' "$RUN_DIR/big$n.log"; then
		fail "${TAG}setup" "the big-answer server in pod$n did not start: $(cat "$RUN_DIR/big$n.log")"
		exit 1
	fi
done
# Both paths forget an unreplied UDP flow after 2 s (the kernel's
# nf_conntrack_udp_timeout, xdpsvc's --ct-timeout-udp), so that a streaming
# session outlives it in a few seconds.
UDP_UNREPLIED=2

# --- clients
# on CLIENT CMD...: CMD in cl (the outside client), node1, node2 or podN.
on() {
	local c=$1
	shift
	case $c in
	cl) in_cl "$@" ;;
	node1) in_node "$@" ;;
	node2) in_node2 "$@" ;;
	pod*) in_pod "${c#pod}" "$@" ;;
	esac
}
# curl_err RC STDERR_FILE: one word for a failed curl (-v) run.
curl_err() {
	local why
	if [ "$1" = 28 ]; then echo timeout; return; fi
	why=$(sed -n 's/^\* connect to .* failed: //p; s/^\* Immediate connect fail for [^:]*: //p' "$2" | head -n 1)
	[ -z "$why" ] && why=$(sed -n 's/^curl: ([0-9]*) //p' "$2" | head -n 1)
	case $why in
	"Connection refused") echo refused ;;
	"No route to host") echo no-route ;;
	"Network is unreachable") echo net-unreachable ;;
	*"Connection reset"*) echo reset ;;
	*) echo "curl-$1(${why// /_})" ;;
	esac
}
# try_http CLIENT URL SRC ERRFILE: the answering pod (with SRC=1 also
# "@" the address it saw as the client), or what went wrong.
try_http() {
	local out rc body seen
	out=$(on "$1" timeout -k 1 8 curl -sS -v --max-time 2 -D - "$2" 2>"$4")
	rc=$?
	if [ "$rc" -ne 0 ]; then curl_err "$rc" "$4"; return; fi
	out=$(tr -d '\r' <<<"$out")
	body=$(tail -n 1 <<<"$out")
	seen=$(sed -n 's/^X-Client: //p' <<<"$out")
	if [ "$3" = 1 ]; then echo "$body@${seen%:*}"; else echo "$body"; fi
}
# try_udp CLIENT ADDR PORT ERRFILE [MSG]: the answering pod, or what went wrong.
try_udp() {
	local out why
	if out=$(on "$1" timeout -k 1 8 "$TOOLS/udpq" "$2" "$3" --timeout-ms 1000 --msg "${5:-ping}" 2>"$4"); then
		echo "$out"
		return
	fi
	why=$(head -n 1 "$4")
	case $why in
	*"no reply"*) echo timeout ;;
	*"Connection refused") echo refused ;;
	*"No route to host") echo no-route ;;
	*"Operation not permitted") echo eperm ;; # the send itself failed (dropped on output)
	*) echo "udpq(${why// /_})" ;;
	esac
}
# bulk CLIENT dl|ul URL: "intact", "corrupt(...)" or what went wrong.
bulk() {
	local d rc got
	d=$(mktemp -d "$RUN_DIR/bulk.XXXXXX")
	if [ "$2" = dl ]; then
		on "$1" timeout -k 1 $((BULK_MAX + 5)) curl -sS -v --max-time "$BULK_MAX" -o "$d/got" "$3/blob" 2>"$d/err"
		rc=$?
		got=$(stat -c %s "$d/got" 2>/dev/null || echo 0)
		if [ "$rc" -ne 0 ]; then echo "$(curl_err "$rc" "$d/err")(got_$got)"
		elif [ "$(sha256sum <"$d/got" | cut -d' ' -f1)" = "$BLOB_SHA" ]; then echo intact
		else echo "corrupt(got_$got)"; fi
	else
		got=$(on "$1" timeout -k 1 $((BULK_MAX + 5)) curl -sS -v --max-time "$BULK_MAX" -H 'Expect:' \
			-T "$BLOB" "$3/up" 2>"$d/err")
		rc=$?
		if [ "$rc" -ne 0 ]; then curl_err "$rc" "$d/err"
		elif [ "${got%% *}" = "$BLOB_SHA" ]; then echo intact
		else echo "corrupt(server_got_${got#* })"; fi
	fi
	rm -rf "$d"
}
# gro NS on|off: GRO on that node's NIC, and it says so.
gro_state() { ip netns exec "$1" ethtool -k "$NIC" 2>/dev/null | awk '/^generic-receive-offload:/ { print $2 }'; }
gro() { ip netns exec "$1" ethtool -K "$NIC" gro "$2" >/dev/null 2>&1 && [ "$(gro_state "$1")" = "$2" ]; }
GRO0=$(gro_state "$NS_NODE")   # as lib.sh left it, restored after each GRO case

# clash_ns CLIENT "LOW HIGH": the client's ephemeral ports, so that two
# connections to two frontends share a source port (the kernel does reuse
# a port for another destination); a real client's setting.
SESS=$XS_REPO/tests/tools/udpsess.py
clash_ns() {
	local ns
	case $1 in cl) ns=$NS_CL ;; pod*) ns=$(pod_ns "${1#pod}") ;; *) return 1 ;; esac
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="$2"
}

# pmtu_hop dlmtu|ulmtu2 on|off: the router's route to the client (dlmtu) or
# to node-2's pods (ulmtu2) gets (or loses) an MTU of 1400, locked, so that
# full-sized packets on it need path MTU discovery through the Service
# (ICMP fragmentation needed). Every namespace's learnt path MTUs are
# forgotten first, so that each run discovers it anew.
pmtu_hop() {
	local ns
	for ns in "${XS_NAMESPACES[@]}"; do ip -n "$ns" route flush cache 2>/dev/null; done
	case $1.$2 in
	dlmtu.on) ip -n "$NS_RT" route add "$CLIENT_IP/32" dev rtc mtu lock 1400 ;;
	dlmtu.off) ip -n "$NS_RT" route del "$CLIENT_IP/32" dev rtc ;;
	ulmtu2.on) ip -n "$NS_RT" route replace 198.18.2.0/24 via "$NODE2_IP" mtu lock 1400 ;;
	ulmtu2.off) ip -n "$NS_RT" route replace 198.18.2.0/24 via "$NODE2_IP" ;;
	esac
}

# outcome CLIENT KIND TARGET TRIES: what TRIES new flows got, as the sorted
# set of distinct answers. KIND: tcp, tcpsrc (with the client address the
# pod saw), udp, udpbig (a 2000-byte datagram: fragmented), dl / ul (20 MB GET / PUT), dlgro / ulgro (the same with GRO
# on node-1's NIC), aff (ClientIP affinity: "sticky" when every try got the
# same pod). The tries run in parallel, each bounded (aff: one after the
# other, so the first flow's choice is recorded before the next).
outcome() {
	local c=$1 kind=$2 t=$3 n=$4 d i pids=() ip=${3%:*} port=${3##*:}
	d=$(mktemp -d "$RUN_DIR/try.XXXXXX")
	for ((i = 0; i < n; i++)); do
		case $kind in
		tcp) try_http "$c" "http://$t/" 0 "$d/e$i" >"$d/o$i" & ;;
		tcpsrc) try_http "$c" "http://$t/" 1 "$d/e$i" >"$d/o$i" & ;;
		udp) try_udp "$c" "$ip" "$port" "$d/e$i" >"$d/o$i" & ;;
		udpbig) try_udp "$c" "$ip" "$port" "$d/e$i" "$BIG" >"$d/o$i" & ;;
		aff) try_http "$c" "http://$t/" 0 "$d/e$i" >"$d/o$i"; continue ;;
		dl | ul) bulk "$c" "$kind" "http://$t" >"$d/o$i" & ;;
		push) # six sessions of 4 s, longer than the unreplied timeout, kept alive by the server
			for ((j = 0; j < 6; j++)); do
				on "$c" "$PY" "$SESS" push-client "$ip" "$port" $((41000 + j)) 4 >"$d/p$j" 2>&1 &
			done
			wait
			sed 's/ .*//' "$d"/p? | sort -u | paste -sd' ' >"$d/o$i"
			continue ;;
		ttl1 | ttl2) # a datagram with TTL 1 or 2 (traceroute): who says "time exceeded"
			on "$c" "$PY" "$SESS" ttl "$ip" "$port" "${kind#ttl}" >"$d/o$i" 2>&1 & ;;
		bigreply) # a 3,500-byte UDP answer, in fragments on its way back
			on "$c" "$PY" "$SESS" big-client "$ip" "$port" >"$d/o$i" 2>&1 & ;;
		uclash) # one UDP socket (port 40000 + i) asks both addresses, twice
			on "$c" "$PY" "$SESS" two "${ip%+*}" "${ip#*+}" "$port" $((40000 + i)) >"$d/o$i" 2>&1
			continue ;;
		tclash) # four TCP connections from two source ports, two to each address
			clash_ns "$c" "40100 40101" &&
				on "$c" "$PY" "$SESS" tcp4 "${ip%+*}" "${ip#*+}" "$port" >"$d/o$i" 2>&1
			clash_ns "$c" "32768 60999"
			continue ;;
		dlmtu | ulmtu2) # one at a time: a 1400-MTU hop on the router (mtu lock)
			pmtu_hop "$kind" on && bulk "$c" "${kind%%mtu*}" "http://$t" >"$d/o$i" ||
				echo pmtu-setup-failed >"$d/o$i"
			pmtu_hop "$kind" off || echo pmtu-restore-failed >>"$d/o$i"
			continue ;;
		dlgro | ulgro) # one at a time: GRO is the NIC's
			if gro "$NS_NODE" on; then
				bulk "$c" "${kind%gro}" "http://$t" >"$d/o$i"
			else
				echo gro-on-failed >"$d/o$i"
			fi
			gro "$NS_NODE" "$GRO0" || echo "gro-$GRO0-failed" >>"$d/o$i"
			continue ;;
		esac
		pids+=($!)
	done
	[ ${#pids[@]} -gt 0 ] && wait "${pids[@]}"
	if [ "$kind" = aff ] && [ "$(sort -u "$d"/o* | wc -l)" = 1 ] && grep -qx 'pod[0-9]*' "$d/o0"; then
		echo sticky
	else
		sort -u "$d"/o* | paste -sd' '
	fi
	rm -rf "$d"
}

# --- the scenarios: NAME|CLIENT|KIND|TARGET|TRIES|WHAT KUBE-PROXY GIVES
CL=$CLIENT_IP POD2=$(pod_ip 2) POD22=$(pod_ip 22)
BIG=$(head -c 2000 /dev/zero | tr '\0' x)
CASES=(
	"ClusterIP TCP from outside, backend on node-1|cl|tcp|198.19.0.10:80|4|pod1"
	"ClusterIP UDP from outside, backend on node-1|cl|udp|198.19.0.10:53|4|pod1"
	"ClusterIP TCP from outside, backend on node-2 (masqueraded)|cl|tcp|198.19.0.11:80|4|pod21"
	"ClusterIP UDP from outside, backend on node-2 (masqueraded)|cl|udp|198.19.0.11:53|4|pod21"
	"ClusterIP TCP from a pod, backend on its node, source pod IP kept|pod2|tcpsrc|198.19.0.10:80|4|pod1@$POD2"
	"ClusterIP UDP from a pod, backend on its node|pod2|udp|198.19.0.10:53|4|pod1"
	"ClusterIP TCP from a pod, backend on node-2, source pod IP kept|pod2|tcpsrc|198.19.0.11:80|4|pod21@$POD2"
	"ClusterIP UDP from a pod, backend on node-2|pod2|udp|198.19.0.11:53|4|pod21"
	"ClusterIP TCP from node-1, backend on node-1|node1|tcp|198.19.0.10:80|4|pod1"
	"ClusterIP UDP from node-1, backend on node-1|node1|udp|198.19.0.10:53|4|pod1"
	"ClusterIP TCP from node-1, backend on node-2|node1|tcp|198.19.0.11:80|4|pod21"
	"ClusterIP UDP from node-1, backend on node-2|node1|udp|198.19.0.11:53|4|pod21"
	"ClusterIP TCP from a pod on node-2, backend on node-1|pod22|tcpsrc|198.19.0.10:80|4|pod1@$POD22"
	"ClusterIP UDP from a pod on node-2, backend on node-1|pod22|udp|198.19.0.10:53|4|pod1"
	"ClusterIP TCP from node-2, backend on node-1|node2|tcp|198.19.0.10:80|4|pod1"
	"ClusterIP TCP hairpin: a pod reaches itself through its Service|pod1|tcp|198.19.0.10:80|4|pod1"
	"ClusterIP UDP hairpin: a pod reaches itself through its Service|pod1|udp|198.19.0.10:53|4|pod1"
	"ClusterIP UDP 2000-byte datagram (fragmented) from outside, backend on node-1|cl|udpbig|198.19.0.10:53|2|pod1"
	"ClusterIP UDP 2000-byte datagram (fragmented) from outside, backend on node-2|cl|udpbig|198.19.0.11:53|2|pod21"
	"ClusterIP UDP 2000-byte datagram (fragmented) from a pod, backend on its node|pod2|udpbig|198.19.0.10:53|2|pod1"
	"ClusterIP UDP 2000-byte datagram (fragmented) from node-1, backend on node-2|node1|udpbig|198.19.0.11:53|2|pod21"
	"NodePort UDP 2000-byte datagram (fragmented) from outside, backend on the node|cl|udpbig|$NODE1:30053|2|pod1"
	"ClusterIP TCP to a port the Service does not define: rejected|cl|tcp|198.19.0.10:81|1|refused"
	"ClusterIP UDP to a port the Service does not define: rejected|cl|udp|198.19.0.10:54|1|refused"
	"ClusterIP TCP from a pod to a port the Service does not define: rejected|pod2|tcp|198.19.0.10:81|1|refused"
	"ClusterIP UDP from a pod to a port the Service does not define: rejected|pod2|udp|198.19.0.10:54|1|refused"
	"backend port closed: TCP from outside, pod on node-1: its RST|cl|tcp|198.19.0.21:80|2|refused"
	"backend port closed: UDP from outside, pod on node-1: its port unreachable, translated|cl|udp|198.19.0.21:53|2|refused"
	"backend port closed: TCP from outside, pod on node-2: its RST|cl|tcp|198.19.0.22:80|2|refused"
	"backend port closed: UDP from outside, pod on node-2: its port unreachable, translated|cl|udp|198.19.0.22:53|2|refused"
	"backend port closed: UDP from a pod, pod on its node: port unreachable, translated|pod2|udp|198.19.0.21:53|2|refused"
	"backend port closed: UDP from a pod, pod on node-2: port unreachable, translated|pod2|udp|198.19.0.22:53|2|refused"
	"backend port closed: UDP from node-1, pod on node-1: port unreachable, translated|node1|udp|198.19.0.21:53|2|refused"
	"ClusterIP TCP from outside, random over a pod of each node|cl|tcp|198.19.0.12:80|16|pod1 pod21"
	"ClusterIP UDP from outside, random over a pod of each node|cl|udp|198.19.0.12:53|16|pod1 pod21"
	"ClusterIP TCP from a pod, random over a pod of each node|pod2|tcp|198.19.0.12:80|16|pod1 pod21"
	"NodePort TCP from outside, backend on the node|cl|tcp|$NODE1:30080|4|pod1"
	"NodePort UDP from outside, backend on the node|cl|udp|$NODE1:30053|4|pod1"
	"NodePort TCP from outside, backend on the other node|cl|tcp|$NODE1:30081|4|pod21"
	"NodePort UDP from outside, backend on the other node|cl|udp|$NODE1:30054|4|pod21"
	"NodePort TCP from outside through node-2, backend on node-1|cl|tcp|$NODE2:30080|4|pod1"
	"NodePort UDP from outside through node-2, backend on node-1|cl|udp|$NODE2:30053|4|pod1"
	"NodePort TCP from a pod, backend on the other node|pod2|tcp|$NODE1:30081|4|pod21"
	"NodePort UDP from a pod, backend on the other node|pod2|udp|$NODE1:30054|4|pod21"
	"NodePort TCP from a pod on node-2 to node-1's NodePort, backend on node-1|pod22|tcp|$NODE1:30080|4|pod1"
	"NodePort TCP from node-1 to its own NIC address|node1|tcp|$NODE1:30080|4|pod1"
	"NodePort UDP from node-1 to its own NIC address|node1|udp|$NODE1:30053|4|pod1"
	"NodePort TCP from node-1 to 127.0.0.1 (nftables mode: not a NodePort)|node1|tcp|127.0.0.1:30080|2|refused"
	"NodePort UDP from node-1 to 127.0.0.1 (nftables mode: not a NodePort)|node1|udp|127.0.0.1:30053|2|refused"
	"external IP TCP from outside, random over a pod of each node|cl|tcp|$EXT_IP:80|16|pod1 pod21"
	"external IP UDP from outside, random over a pod of each node|cl|udp|$EXT_IP:53|16|pod1 pod21"
	"external IP TCP from node-1|node1|tcp|$EXT_IP:80|16|pod1 pod21"
	"session affinity ClientIP TCP from outside: every connection to one pod|cl|aff|198.19.0.17:80|12|sticky"
	"session affinity ClientIP TCP from a pod: every connection to one pod|pod2|aff|198.19.0.17:80|12|sticky"
	"ETP Local TCP from outside, node with an endpoint: it, client address kept|cl|tcpsrc|$NODE1:30082|4|pod1@$CL"
	"ETP Local UDP from outside, node with an endpoint: it|cl|udp|$NODE1:30055|4|pod1"
	"ETP Local TCP from outside through node-2: its endpoint, client address kept|cl|tcpsrc|$NODE2:30082|4|pod21@$CL"
	"ETP Local UDP from outside through node-2: its endpoint|cl|udp|$NODE2:30055|4|pod21"
	"ETP Local TCP from outside to the LB IP: node-1's endpoint, client address kept|cl|tcpsrc|$LB_IP:80|4|pod1@$CL"
	"ETP Local UDP from outside to the LB IP: node-1's endpoint|cl|udp|$LB_IP:53|4|pod1"
	"ETP Local TCP from outside, node without an endpoint: dropped|cl|tcp|$NODE1:30083|3|timeout"
	"ETP Local UDP from outside, node without an endpoint: dropped|cl|udp|$NODE1:30056|3|timeout"
	"ETP Local TCP from a pod to the NodePort: all endpoints, source kept|pod2|tcpsrc|$NODE1:30082|16|pod1@$POD2 pod21@$POD2"
	"ETP Local UDP from a pod to the NodePort: all endpoints|pod2|udp|$NODE1:30055|16|pod1 pod21"
	"ETP Local TCP from a pod to the LB IP: all endpoints|pod2|tcp|$LB_IP:80|16|pod1 pod21"
	"ETP Local TCP from node-1 to its NodePort: all endpoints|node1|tcp|$NODE1:30082|16|pod1 pod21"
	"ETP Local UDP from node-1 to its NodePort: all endpoints|node1|udp|$NODE1:30055|16|pod1 pod21"
	"ETP Local TCP from node-1 to the LB IP: all endpoints|node1|tcp|$LB_IP:80|16|pod1 pod21"
	"ETP Local TCP from a pod, node without an endpoint: the other node's|pod2|tcpsrc|$NODE1:30083|4|pod21@$POD2"
	"ETP Local UDP from a pod, node without an endpoint: the other node's|pod2|udp|$NODE1:30056|4|pod21"
	"ETP Local TCP from node-1, no endpoint on it: the other node's|node1|tcp|$NODE1:30083|4|pod21"
	"ETP Local UDP from node-1, no endpoint on it: the other node's|node1|udp|$NODE1:30056|4|pod21"
	# The kernel sends at most 6 ICMP errors to one address in a burst, then
	# 1/s (icmp_ratelimit): one try per reject case from the client.
	"no endpoints: ClusterIP TCP from outside refused|cl|tcp|198.19.0.20:80|1|refused"
	"no endpoints: ClusterIP UDP from outside port unreachable|cl|udp|198.19.0.20:53|1|refused"
	"no endpoints: ClusterIP TCP from a pod refused|pod2|tcp|198.19.0.20:80|2|refused"
	"no endpoints: ClusterIP UDP from a pod port unreachable|pod2|udp|198.19.0.20:53|2|refused"
	"no endpoints: ClusterIP TCP from node-1 refused|node1|tcp|198.19.0.20:80|2|refused"
	# nft's reject on output drops the node's own datagram: send() fails,
	# EPERM. xdpsvc answers it with a port unreachable as it answers every
	# other client (ECONNREFUSED at once): a difference on purpose, in the
	# README (Limits); the 7th field is what xdpsvc must give instead.
	"no endpoints: ClusterIP UDP from node-1 (kernel: send fails, EPERM; xdpsvc: refused)|node1|udp|198.19.0.20:53|2|eperm|refused"
	"no endpoints: NodePort TCP from outside refused|cl|tcp|$NODE1:30090|1|refused"
	"no endpoints: NodePort UDP from outside port unreachable|cl|udp|$NODE1:30091|1|refused"
	"bulk: node-1 downloads 20 MB from a ClusterIP, pod on node-1|node1|dl|198.19.0.30:8000|1|intact"
	"bulk: node-1 uploads 20 MB to a ClusterIP, pod on node-1|node1|ul|198.19.0.30:8000|1|intact"
	"bulk: node-1 downloads 20 MB from a ClusterIP, pod on node-2|node1|dl|198.19.0.31:8000|1|intact"
	"bulk: node-1 uploads 20 MB to a ClusterIP, pod on node-2|node1|ul|198.19.0.31:8000|1|intact"
	"bulk: 20 MB download from outside through a ClusterIP, pod on node-2|cl|dl|198.19.0.31:8000|1|intact"
	"bulk: 20 MB upload from outside through a ClusterIP, pod on node-2|cl|ul|198.19.0.31:8000|1|intact"
	"TTL 2 to a ClusterIP from outside (traceroute's probe that dies at the node): time exceeded, from the VIP|cl|ttl2|198.19.0.10:53|1|EHOSTUNREACH from 198.19.0.10"
	"a backend's 3,500-byte UDP answer in fragments (a big DNS answer), pod on node-1, from outside|cl|bigreply|198.19.0.41:61|2|3500"
	"a backend's 3,500-byte UDP answer in fragments, pod on node-2, from outside|cl|bigreply|198.19.0.42:61|2|3500"
	"a backend's 3,500-byte UDP answer in fragments, pod on node-1, from a pod|pod2|bigreply|198.19.0.41:61|2|3500"
	"a backend's 3,500-byte UDP answer in fragments, pod on node-2, from node-1|node1|bigreply|198.19.0.42:61|2|3500"
	"UDP flows refreshed by replies: six streaming sessions outlive the unreplied timeout on the same pod, from outside|cl|push|198.19.0.40:60|1|same"
	"UDP flows refreshed by replies: six streaming sessions outlive the unreplied timeout on the same pod, from a pod|pod21|push|198.19.0.40:60|1|same"
	"NAT clash: one UDP socket to two ClusterIPs with one backend, from outside: each answer from its own|cl|uclash|198.19.0.10+198.19.0.13:53|1|198.19.0.10 198.19.0.13 198.19.0.10 198.19.0.13"
	"NAT clash: one UDP socket to two ClusterIPs with one backend, from a pod|pod2|uclash|198.19.0.10+198.19.0.13:53|1|198.19.0.10 198.19.0.13 198.19.0.10 198.19.0.13"
	"NAT clash: four TCP connections from two source ports to two ClusterIPs with one backend, from outside|cl|tclash|198.19.0.10+198.19.0.13:80|1|pod1 pod1 pod1 pod1"
	"NAT clash: four TCP connections from two source ports to two ClusterIPs with one backend, from a pod|pod2|tclash|198.19.0.10+198.19.0.13:80|1|pod1 pod1 pod1 pod1"
	"path MTU: 20 MB download from outside through a ClusterIP, pod on node-1, a 1400 hop to the client|cl|dlmtu|198.19.0.30:8000|1|intact"
	"path MTU: 20 MB download from outside through node-1's NodePort (SNAT), pod on node-2, a 1400 hop to the client|cl|dlmtu|$NODE1:30800|1|intact"
	"path MTU: 20 MB upload from outside through node-1's NodePort (SNAT) to a pod on node-2 behind a 1400 hop|cl|ulmtu2|$NODE1:30800|1|intact"
	"path MTU: a pod uploads 20 MB to a ClusterIP whose backend is on node-2 behind a 1400 hop|pod2|ulmtu2|198.19.0.31:8000|1|intact"
	"bulk: 20 MB download through node-1's NodePort, pod on node-1, GRO on node-1's NIC|cl|dlgro|$NODE1:30801|1|intact"
	"bulk: 20 MB upload through node-1's NodePort, pod on node-1, GRO on node-1's NIC|cl|ulgro|$NODE1:30801|1|intact"
	"bulk: 20 MB download through node-1's NodePort, pod on node-2, GRO on node-1's NIC|cl|dlgro|$NODE1:30800|1|intact"
	"bulk: 20 MB upload through node-1's NodePort, pod on node-2, GRO on node-1's NIC|cl|ulgro|$NODE1:30800|1|intact"
)

# run_all MODE: every scenario's outcome into R[MODE.i].
declare -A R
# shellcheck disable=SC2053 # a glob on purpose
selected() { [[ $1 == ${KDIFF_CASES:-*} ]]; }
run_all() {
	local i name c kind t n want
	for i in "${!CASES[@]}"; do
		IFS='|' read -r name c kind t n _ <<<"${CASES[$i]}"
		selected "$name" || continue
		R[$1.$i]=$(outcome "$c" "$kind" "$t" "$n")
	done
}

# --- 1. the kernel path: kube-proxy's nftables rules, no xdpsvc
kernel_up() {
	local ns=$1 node=$2 addr=$3
	"$TOOLS/kpnft" --node-name "$node" --nodeport-addresses "$addr" --cluster-cidr "$CIDRS" "$FILE" \
		>"$RUN_DIR/$node.nft" 2>"$RUN_DIR/kpnft.err" || { cat "$RUN_DIR/kpnft.err"; return 1; }
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.route_localnet=1 || return 1
	ip netns exec "$ns" nft -f "$RUN_DIR/$node.nft" 2>&1 || return 1
	# kube-proxy's conntrack settings (tcpEstablishedTimeout 24 h, tcpCloseWaitTimeout 1 h)
	ip netns exec "$ns" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_established=86400 \
		net.netfilter.nf_conntrack_tcp_timeout_close_wait=3600 \
		net.netfilter.nf_conntrack_udp_timeout="$UDP_UNREPLIED"
}
kernel_down() {
	local ns=$1
	ip netns exec "$ns" nft delete table ip kube-proxy || return 1
	ip netns exec "$ns" conntrack -F >/dev/null 2>&1
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.route_localnet=0 || return 1
	[ -z "$(ip netns exec "$ns" nft list tables)" ]
}
if ! out=$(kernel_up "$NS_NODE" node-1 "$NODE1" 2>&1 && kernel_up "$NS_NODE2" node-2 "$NODE2" 2>&1); then
	fail "${TAG}setup" "the kube-proxy nftables rules could not be loaded: $out"
	exit 1
fi
run_all kernel
TK=$((SECONDS - T0))
if ! out=$(kernel_down "$NS_NODE" 2>&1 && kernel_down "$NS_NODE2" 2>&1); then
	fail "${TAG}setup" "the kube-proxy nftables rules could not be removed: $out"
	exit 1
fi

# --- 2. xdpsvc, no nft rules
extra=(--cluster-cidr "$CIDRS" --ct-timeout-udp "$UDP_UNREPLIED")
if out=$(xs attach "$NIC" --node-name node-1 --hairpin-address "$HAIRPIN" "${extra[@]}" 2>&1 &&
	 xs2 attach "$NIC" --node-name node-2 --hairpin-address "$HAIRPIN" "${extra[@]}" 2>&1 &&
	 xs apply "$FILE" 2>&1 && xs2 apply "$FILE" 2>&1 &&
	 xs attach-pod vp1 vp2 2>&1 && xs2 attach-pod vp21 vp22 2>&1); then
	run_all xdpsvc
	# That run went through xdpsvc: both nodes translated flows.
	h1=$(xs list --json 2>&1 | jq -r .global.hit 2>&1) h2=$(xs2 list --json 2>&1 | jq -r .global.hit 2>&1)
	if [ -n "${KDIFF_CASES:-}" ]; then
		: # a subset need not cross both nodes
	elif [[ $h1 =~ ^[0-9]+$ && $h2 =~ ^[0-9]+$ && $h1 -gt 0 && $h2 -gt 0 ]]; then
		pass "${TAG}the xdpsvc run went through xdpsvc on both nodes (hit counters $h1, $h2)"
	else
		fail "${TAG}the xdpsvc run went through xdpsvc on both nodes" "hit counters: node-1 '$h1', node-2 '$h2'"
	fi
else
	XS_SETUP_ERR="xdpsvc setup failed: $(tr '\n' ' ' <<<"$out")"
fi

# --- the verdicts
for i in "${!CASES[@]}"; do
	IFS='|' read -r name c kind t n want xwant <<<"${CASES[$i]}"
	selected "$name" || continue
	k=${R[kernel.$i]}
	x=${R[xdpsvc.$i]:-${XS_SETUP_ERR:-}}
	if [ "$k" != "$want" ]; then
		fail "$TAG$name" "the kernel path (reference) got '$k', want '$want' (xdpsvc: '$x')"
	elif [ -n "$xwant" ] && [ "$x" != "$xwant" ]; then
		fail "$TAG$name" "kernel '$k' (as expected), xdpsvc '$x' (want '$xwant', the documented difference)"
	elif [ -z "$xwant" ] && [ "$x" != "$k" ]; then
		fail "$TAG$name" "kernel '$k' vs xdpsvc '$x'"
	else
		pass "$TAG$name"
	fi
done
n_sel=0
for i in "${!CASES[@]}"; do selected "${CASES[$i]%%|*}" && n_sel=$((n_sel + 1)); done
echo "kdiff [$XS_TOPO]: $n_sel of ${#CASES[@]} scenarios, kernel run ${TK}s, total $((SECONDS - T0))s"
xs_status
