// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xs_config_load(): kubectl JSON/YAML in, frontends out, with kube-proxy's
 * semantics (/work/shared/KUBE-PROXY.md). Table-driven: each case loads files
 * from tests/data/config/ and compares the model, rendered one frontend a line
 *     ns/name/port_name PROTO vip:port [Scope, unless ClusterIP] -> backend... | (none) [~terminating...]
 * or the one error line. Prints "PASS: config: <case>" or
 * "FAIL: config: <case>: <why>" per case; exits 1 if any failed.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "k8s.h"

#define MAX 8

struct tcase {
	const char *name;
	const char *files[MAX];  /* relative to the data directory */
	int ret;                 /* expected return: 0, -EINVAL, -ENOENT */
	const char *want;        /* the whole rendered model, or NULL */
	const char *has[MAX];    /* lines the rendered model must contain */
	const char *lacks[MAX];  /* substrings it must not contain */
	const char *notes[MAX];  /* substrings of the notes */
	const char *err[MAX];    /* substrings of the (single) error line */
	const char *nodeport[MAX]; /* the node's NodePort addresses */
	const char *node, *zone;   /* this node's name and zone */
	int services;              /* with ret 0: info.services + 1 (0: not checked) */
};

/* A node name of 252 characters (a DNS subdomain; long-node-name.yaml). */
#define LONG_NODE "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn." \
	"node-node-node-node-node-node-node-node-node-node-node-node-node-node-node-node-node-node-" \
	"node-node-node-node-node-node-node-node-node-node-node-node-node-node-node-node-node-node-" \
	"node-local1"

/* The frontends of kubectl-list.json and kubectl-stream.yaml. */
#define CLUSTER_MODEL                                                                          \
	"default/kubernetes/https TCP 10.96.0.1:443 -> 172.18.0.2:6443\n"                      \
	"kube-system/kube-dns/dns-tcp TCP 10.96.0.10:53 -> 10.244.0.2:53 10.244.0.3:53\n"      \
	"kube-system/kube-dns/dns UDP 10.96.0.10:53 -> 10.244.0.2:53 10.244.0.3:53\n"          \
	"kube-system/kube-dns/metrics TCP 10.96.0.10:9153 -> 10.244.0.2:9153 10.244.0.3:9153\n" \
	"shop/frontend/http TCP 10.96.12.40:80 -> 10.244.1.10:8080 10.244.2.20:8080\n"         \
	"shop/frontend/https TCP 10.96.12.40:443 -> 10.244.1.10:8443 10.244.2.20:8443\n"       \
	"shop/cart/http TCP 10.96.20.15:80 -> 10.244.2.31:8080\n"                              \
	"shop/cart/admin TCP 10.96.20.15:9000 -> (none)\n"                                     \
	"shop/api/http TCP 10.96.33.7:80 -> 10.244.1.30:8080\n"                                \
	"shop/checkout/ TCP 10.96.40.8:8080 -> 10.244.2.40:8080\n"

#define LIST "kubectl-list.json"

#define ERR(file, msg) .ret = -EINVAL, .files = { "bad/" file }, .err = { file msg }

static const struct tcase cases[] = {
	/* --- a real cluster's objects, as kubectl prints them */
	{ .name = "kubectl get services,endpointslices -A -o json (kind: List) gives every ClusterIP frontend",
	  .files = { LIST }, .want = CLUSTER_MODEL },
	{ .name = "the same objects as a multi-document YAML stream give the same frontends",
	  .files = { "kubectl-stream.yaml" }, .want = CLUSTER_MODEL },
	{ .name = "compact JSON (jq -c) is read",
	  .files = { "compact.json" },
	  .want = "kube-system/kube-dns/dns-tcp TCP 10.96.0.10:53 -> 10.244.0.2:53 10.244.0.3:53\n"
		  "kube-system/kube-dns/dns UDP 10.96.0.10:53 -> 10.244.0.2:53 10.244.0.3:53\n"
		  "kube-system/kube-dns/metrics TCP 10.96.0.10:9153 -> 10.244.0.2:9153 10.244.0.3:9153\n" },
	{ .name = "kubernetes Service gets its apiserver endpoint (no nodeName)",
	  .files = { LIST }, .has = { "default/kubernetes/https TCP 10.96.0.1:443 -> 172.18.0.2:6443" } },
	{ .name = "same port on different protocols: kube-dns 53/UDP and 53/TCP are two frontends",
	  .files = { LIST },
	  .has = { "kube-system/kube-dns/dns-tcp TCP 10.96.0.10:53 -> 10.244.0.2:53 10.244.0.3:53",
		   "kube-system/kube-dns/dns UDP 10.96.0.10:53 -> 10.244.0.2:53 10.244.0.3:53" } },
	{ .name = "multiport endpoints: each Service port takes the slice port of the same name and protocol",
	  .files = { LIST },
	  .has = { "kube-system/kube-dns/metrics TCP 10.96.0.10:9153 -> 10.244.0.2:9153 10.244.0.3:9153",
		   "shop/frontend/https TCP 10.96.12.40:443 -> 10.244.1.10:8443 10.244.2.20:8443" } },
	{ .name = "Service with two EndpointSlices gets the backends of both, one per ip:port",
	  .files = { LIST }, .has = { "shop/frontend/http TCP 10.96.12.40:80 -> 10.244.1.10:8080 10.244.2.20:8080" } },
	{ .name = "not-ready endpoint is not a backend",
	  .files = { LIST }, .lacks = { "10.244.1.11" } },
	{ .name = "endpoint without conditions.ready is ready",
	  .files = { LIST }, .has = { "shop/frontend/http TCP 10.96.12.40:80 -> 10.244.1.10:8080 10.244.2.20:8080" } },
	{ .name = "slice port without a number gives no backend; the frontend stays with none",
	  .files = { LIST }, .has = { "shop/cart/admin TCP 10.96.20.15:9000 -> (none)" } },
	{ .name = "unnamed port of a NodePort Service gets its cluster IP and the unnamed slice port",
	  .files = { LIST }, .has = { "shop/checkout/ TCP 10.96.40.8:8080 -> 10.244.2.40:8080" } },
	{ .name = "dual-stack Service (clusterIPs [IPv6, IPv4]) uses its IPv4 cluster IP",
	  .files = { LIST }, .has = { "shop/api/http TCP 10.96.33.7:80 -> 10.244.1.30:8080" } },
	{ .name = "IPv6 EndpointSlice is ignored",
	  .files = { LIST }, .lacks = { "fd00:" } },
	{ .name = "headless Service has no frontend",
	  .files = { LIST }, .lacks = { "shop/db/", "10.244.1.50" },
	  .notes = { "kubectl-list.json:193: skipping Service shop/db: headless (no cluster IP)",
		     "kubectl-list.json:669: skipping EndpointSlice shop/db-m2c6z: labelled service.kubernetes.io/headless" } },
	{ .name = "ExternalName Service has no frontend",
	  .files = { LIST }, .lacks = { "shop/payments/" },
	  .notes = { "kubectl-list.json:231: skipping Service shop/payments: type ExternalName" } },
	{ .name = "Service labelled service.kubernetes.io/service-proxy-name is ignored",
	  .files = { LIST }, .lacks = { "shop/mesh/", "10.96.50.5" },
	  .notes = { "kubectl-list.json:250: skipping Service shop/mesh: labelled service.kubernetes.io/service-proxy-name" } },
	{ .name = "EndpointSlice labelled service.kubernetes.io/service-proxy-name is ignored",
	  .files = { LIST }, .lacks = { "10.244.3.99" },
	  .notes = { "kubectl-list.json:594: skipping EndpointSlice shop/frontend-mesh: labelled service.kubernetes.io/service-proxy-name" } },

	/* --- other inputs */
	{ .name = "single JSON object: a LoadBalancer Service with no endpoints is a frontend with no backends, "
		  "on its cluster IP and its load-balancer IP",
	  .files = { "single-service.json" },
	  .want = "edge/ingress/http TCP 10.96.77.1:80 -> (none)\n"
		  "edge/ingress/http TCP 192.0.2.10:80 [LoadBalancer] -> (none)\n" },
	{ .name = "functioning NodePort: a frontend on each NodePort address of the node, on the nodePort",
	  .files = { "single-service.json" }, .nodeport = { "198.18.0.2", "198.18.0.3" },
	  .want = "edge/ingress/http TCP 10.96.77.1:80 -> (none)\n"
		  "edge/ingress/http TCP 192.0.2.10:80 [LoadBalancer] -> (none)\n"
		  "edge/ingress/http TCP 198.18.0.2:31080 [NodePort] -> (none)\n"
		  "edge/ingress/http TCP 198.18.0.3:31080 [NodePort] -> (none)\n" },
	{ .name = "externalIPs and load-balancer IPs (ipMode VIP or absent) are frontends with the same backends; "
		  "ipMode Proxy, hostname-only and IPv6 entries are not; a ClusterIP Service's nodePort is not used",
	  .files = { "external.yaml" }, .nodeport = { "198.18.0.2" },
	  .want = "shop/web/http TCP 10.96.6.1:80 -> 10.244.6.1:8080\n"
		  "shop/web/http TCP 192.0.2.1:80 [ExternalIP] -> 10.244.6.1:8080\n"
		  "shop/web/http TCP 192.0.2.2:80 [ExternalIP] -> 10.244.6.1:8080\n"
		  "shop/web/http TCP 192.0.2.3:80 [LoadBalancer] -> 10.244.6.1:8080\n"
		  "shop/web/http TCP 192.0.2.4:80 [LoadBalancer] -> 10.244.6.1:8080\n" },
	{ .name = "internalTrafficPolicy Local: ClusterIP uses this node's endpoints, drops when none; "
		  "other nodes' ready endpoints keep their flows",
	  .files = { "policies.yaml" }, .node = "node-1", .nodeport = { "198.18.0.2" },
	  .has = { "shop/int-local/http TCP 10.96.7.1:80 -> 10.244.1.1:8080 !drop-if-none ~10.244.2.1:8080",
		   "shop/int-local-none/http TCP 10.96.7.2:80 -> (none) !drop-if-none ~10.244.2.2:8080" } },
	{ .name = "externalTrafficPolicy Local: NodePort and external IPs use this node's endpoints, ClusterIP all",
	  .files = { "policies.yaml" }, .node = "node-1", .nodeport = { "198.18.0.2" },
	  .has = { "shop/ext-local/http TCP 10.96.7.3:80 -> 10.244.1.3:8080 10.244.2.3:8080",
		   "shop/ext-local/http TCP 198.18.0.2:30083 [NodePort] -> 10.244.1.3:8080 !drop-if-none ~10.244.2.3:8080",
		   "shop/ext-local/http TCP 192.0.2.7:80 [ExternalIP] -> 10.244.1.3:8080 !drop-if-none ~10.244.2.3:8080" } },
	{ .name = "fallback to local terminating endpoints when no local endpoint is ready (Local policy)",
	  .files = { "policies.yaml" }, .node = "node-1",
	  .has = { "shop/local-terminating/http TCP 10.96.7.4:80 -> 10.244.1.4:8080 !drop-if-none ~10.244.2.4:8080" } },
	{ .name = "topology hints: every ready endpoint hinted and some for this zone: only those serve",
	  .files = { "policies.yaml" }, .node = "node-1", .zone = "zone-a",
	  .has = { "shop/hinted/http TCP 10.96.7.5:80 -> 10.244.1.5:8080 ~10.244.2.5:8080",
		   "shop/half-hinted/http TCP 10.96.7.6:80 -> 10.244.1.6:8080 10.244.2.6:8080" } },
	{ .name = "topology hints not for this zone are ignored entirely",
	  .files = { "policies.yaml" }, .node = "node-1", .zone = "zone-c",
	  .has = { "shop/hinted/http TCP 10.96.7.5:80 -> 10.244.1.5:8080 10.244.2.5:8080" } },
	{ .name = "sessionAffinity ClientIP: every frontend of the port, timeoutSeconds or 10800 by default",
	  .files = { "affinity.yaml" }, .nodeport = { "198.18.0.2" },
	  .want = "shop/sticky/http TCP 10.96.8.1:80 -> 10.244.8.1:8080 affinity=60s\n"
		  "shop/sticky-default/http TCP 10.96.8.2:80 -> 10.244.8.1:8080 affinity=10800s\n"
		  "shop/sticky/http TCP 198.18.0.2:30081 [NodePort] -> 10.244.8.1:8080 affinity=60s\n" },
	{ .name = "session affinity timeout out of range is an error",
	  ERR("affinity-bad.yaml", ":8:32: Service shop/web: spec.sessionAffinityConfig.clientIP.timeoutSeconds: \"0\" is not a number of seconds in 1..86400") },
	{ .name = "loadBalancerSourceRanges apply to the load-balancer IPs only; IPv6 ranges wait for IPv6",
	  .files = { "source-ranges.yaml" }, .nodeport = { "198.18.0.2" },
	  .want = "shop/lb/http TCP 10.96.9.1:80 -> (none)\n"
		  "shop/lb/http TCP 192.0.2.9:80 [ExternalIP] -> (none)\n"
		  "shop/lb/http TCP 192.0.2.10:80 [LoadBalancer] -> (none) from=203.0.113.0/24 from=198.51.100.7/32\n"
		  "shop/lb/http TCP 198.18.0.2:30090 [NodePort] -> (none)\n" },
	{ .name = "a source range holding the node's address also allows the LB IPs themselves (kube-proxy allowFromNode)",
	  .files = { "source-ranges.yaml" }, .nodeport = { "203.0.113.50" },
	  .has = { "shop/lb/http TCP 192.0.2.10:80 [LoadBalancer] -> (none) from=203.0.113.0/24 from=198.51.100.7/32 from=192.0.2.10/32" } },
	{ .name = "a source range that is not a CIDR is an error",
	  ERR("source-range-bad.yaml", ":7:30: Service shop/lb: spec.loadBalancerSourceRanges[0]: \"203.0.113.0\" is not a CIDR (address/length)") },
	{ .name = "unknown traffic policy is an error",
	  ERR("policy-bad.yaml", ":6:26: Service shop/web: spec.internalTrafficPolicy: unknown traffic policy \"Nearby\" (expected Cluster or Local)") },
	{ .name = "bad externalIP is an error",
	  ERR("external-bad.yaml", ":9:5: Service shop/web: spec.externalIPs[1]: \"192.0.2.300\" is not an IP address") },
	{ .name = "unknown load-balancer ipMode is an error",
	  ERR("ipmode-bad.yaml", ":12:15: Service shop/web: status.loadBalancer.ingress[0].ipMode: unknown ipMode \"Tunnel\" (expected VIP or Proxy)") },
	{ .name = "services in one file and EndpointSlices in another are joined",
	  .files = { "services.yaml", "slices.json" },
	  .want = "shop/web/http TCP 10.96.3.3:80 -> 10.244.3.1:8080 10.244.3.2:8080\n"
		  "shop/dns/dns UDP 10.96.3.4:53 -> 10.244.3.5:5353\n" },
	{ .name = "absent namespace, protocol and port name take their defaults; endpoints: null and empty documents are fine",
	  .files = { "defaults.yaml" },
	  .want = "default/plain/ TCP 10.96.9.1:8080 -> 10.244.9.1:80\n"
		  "default/empty/http TCP 10.96.9.2:80 -> (none)\n" },
	{ .name = "legacy v1 Endpoints serve a Service that has no EndpointSlice (notReadyAddresses unused)",
	  .files = { "endpoints-fallback.yaml" },
	  .want = "old/legacy/http TCP 10.96.60.1:80 -> 10.244.5.2:8080 10.244.5.3:8080 10.244.6.2:8081\n"
		  "old/legacy/syslog UDP 10.96.60.1:514 -> 10.244.5.2:5514 10.244.5.3:5514\n" },
	{ .name = "legacy v1 Endpoints are ignored when the Service has an EndpointSlice",
	  .files = { "endpoints-ignored.yaml" }, .want = "old/both/http TCP 10.96.60.2:80 -> 10.244.7.7:8080\n" },
	{ .name = "SCTP port is skipped with a note, the other ports stay",
	  .files = { "sctp.yaml" }, .want = "telco/signalling/sip UDP 10.96.70.1:5060 -> 10.244.8.1:5060\n",
	  .notes = { "sctp.yaml:12: skipping Service telco/signalling: spec.ports[1] (3868/SCTP): SCTP is not supported" } },
	{ .name = "unknown kind is skipped with a note",
	  .files = { "unknown-kind.yaml" }, .want = "default/web/ TCP 10.96.1.1:80 -> (none)\n",
	  .notes = { "note: ", "unknown-kind.yaml:1: skipping ConfigMap kube-system/coredns: kind not handled" } },
	{ .name = "IPv6-only Service is skipped with a note",
	  .files = { "ipv6-only.yaml" }, .want = "",
	  .notes = { "ipv6-only.yaml:1: skipping Service default/v6: no IPv4 cluster IP (IPv6 is not supported yet)" } },
	{ .name = "YAML List with items before kind (kubectl -o yaml sorts keys) gives the same as JSON order",
	  .files = { "list-items-first.yaml" },
	  .want = "shop/web/http TCP 10.96.3.3:80 -> 10.244.3.1:8080 10.244.3.3:8080\n",
	  .notes = { "list-items-first.yaml:20: skipping Service shop/db: headless (no cluster IP)" } },
	{ .name = "top-level object that is not a List but has an items key: only the object is read",
	  .files = { "items-not-a-list.yaml" }, .want = "edge/outer/http TCP 10.96.4.1:80 -> (none)\n" },
	{ .name = "YAML aliases resolve across List items: to an earlier item's node, to a node outside items, a whole item",
	  .files = { "aliases.yaml" },
	  .want = "shop/web/http TCP 10.96.8.1:80 -> 10.244.8.1:8080\n"
		  "shop/api/http TCP 10.96.8.2:80 -> 10.244.8.2:8080\n" },
	{ .name = "serving and terminating endpoints get no new flows but are kept; not serving ones are dropped; "
		  "ready wins over terminating for one ip:port",
	  .files = { "terminating.yaml" },
	  .want = "shop/web/http TCP 10.96.5.1:80 -> 10.244.5.1:8080 10.244.5.4:8080 ~10.244.5.2:8080\n"
		  "shop/all-terminating/http TCP 10.96.5.2:80 -> 10.244.6.1:8080 10.244.6.2:8080\n" },
	{ .name = "scripts/examples/demo.yaml gives the documented demo frontends",
	  .files = { "../../../scripts/examples/demo.yaml" },
	  .want = "demo/web/http TCP 198.19.0.10:80 -> 198.18.1.11:8080 198.18.1.12:8080 198.18.1.13:8080\n"
		  "demo/echo/udp UDP 198.19.0.20:53 -> 198.18.1.11:5353 198.18.1.12:5353 198.18.1.13:5353\n" },

	/* --- what real clusters print (issue: read what real clusters print) */
	{ .name = "typed lists: a ServiceList (API JSON, kind first) and an EndpointSliceList (YAML, keys sorted: "
		  "items before kind), items without kind or apiVersion",
	  .files = { "service-list.json", "slice-list-sorted.yaml" }, .services = 1 + 1,
	  .want = "default/kubernetes/https TCP 10.96.0.1:443 -> 172.18.0.2:6443\n" },
	{ .name = "PreferSameNode: every ready endpoint hinted forNodes and one for this node: only it serves "
		  "(before the zone rule); one ready endpoint without a node hint: the zone rule",
	  .files = { "prefer-same-node.yaml" }, .node = "node-1", .zone = "zone-a",
	  .want = "shop/cache/redis TCP 10.96.7.20:6379 -> 10.244.1.20:6379 ~10.244.2.20:6379 ~10.244.3.20:6379\n"
		  "shop/mixed/http TCP 10.96.7.21:80 -> 10.244.1.21:8080 10.244.2.21:8080 ~10.244.3.21:8080\n" },
	{ .name = "PreferSameNode hints naming no endpoint on this node are ignored (zone hints then apply)",
	  .files = { "prefer-same-node.yaml" }, .node = "node-9", .zone = "zone-b",
	  .has = { "shop/cache/redis TCP 10.96.7.20:6379 -> 10.244.3.20:6379 ~10.244.1.20:6379 ~10.244.2.20:6379" } },
	{ .name = "an external IP:port on two Services and an LB IP equal to the Service's own external IP: "
		  "one frontend each, the first Service by namespace/name served, a note for the other",
	  .files = { "shared-external.yaml" },
	  .want = "shop/web-a/http TCP 10.96.9.1:80 -> (none)\n"
		  "shop/web-b/http TCP 10.96.9.2:80 -> (none)\n"
		  "shop/web-a/http TCP 192.0.2.50:80 [ExternalIP] -> (none)\n"
		  "shop/web-a/http TCP 192.0.2.51:80 [ExternalIP] -> (none)\n"
		  "shop/web-b/http TCP 192.0.2.60:80 [LoadBalancer] -> (none)\n",
	  .notes = { "shared-external.yaml:12: skipping Service shop/web-b: spec.ports[0]: 192.0.2.50:80/TCP (ExternalIP) "
		     "is served as Service shop/web-a's: an address also claimed by another Service" } },
	{ .name = "IPv4 with leading zeros (ParseIPSloppy) and white space around loadBalancerSourceRanges (trimmed) are read",
	  .files = { "tolerated.yaml" },
	  .want = "old/legacy/http TCP 192.0.2.70:80 [ExternalIP] -> 10.244.1.7:8080\n"
		  "old/legacy/http TCP 192.0.2.71:80 [LoadBalancer] -> 10.244.1.7:8080 from=203.0.113.0/24 from=198.51.100.7/32\n"
		  "old/legacy/http TCP 198.19.0.10:80 -> 10.244.1.7:8080\n" },
	{ .name = "v1 Endpoints: addresses[].nodeName makes an endpoint local (externalTrafficPolicy Local); "
		  "notReadyAddresses are not ready",
	  .files = { "endpoints-nodename.yaml" }, .node = "node-1", .nodeport = { "198.18.0.2" },
	  .want = "edge/ingress/http TCP 10.96.61.1:80 -> 10.244.1.61:8080 10.244.2.61:8080\n"
		  "edge/ingress/http TCP 198.18.0.2:30610 [NodePort] -> 10.244.1.61:8080 !drop-if-none ~10.244.2.61:8080\n" },
	{ .name = "discovery.k8s.io/v1beta1 EndpointSlice is read, its node from topology[kubernetes.io/hostname]",
	  .files = { "slice-v1beta1.yaml" }, .node = "node-1",
	  .want = "default/web/http TCP 10.96.0.80:80 -> 10.244.1.5:8080 !drop-if-none ~10.244.2.5:8080\n" },
	{ .name = "a node name of 252 characters is matched whole (not cut at 63)",
	  .files = { "long-node-name.yaml" }, .node = LONG_NODE,
	  .want = "default/local/http TCP 10.96.0.90:80 -> 10.244.1.90:80 !drop-if-none ~10.244.2.90:80\n" },
	{ .name = "an empty ServiceList reads, and says it has no Service (apply refuses it unless --allow-empty)",
	  .files = { "empty-list.json" }, .want = "", .services = 0 + 1 },
	{ .name = "a List of kubectl get all: the kubernetes Service counts",
	  .files = { LIST }, .services = 9 + 1 },
	{ .name = "many skipped objects: one note line per reason, with a count and the first names",
	  .files = { "many-skipped.yaml" }, .services = 1 + 1,
	  .notes = { "note: skipping 5 (kind not handled): ", "many-skipped.yaml:4 ConfigMap kube-system/a, ",
		     "many-skipped.yaml:6 Secret kube-system/c and 2 more\n" } },
	{ .name = "the same EndpointSlice twice in one stream is an error naming both places",
	  .ret = -EINVAL, .files = { "bad/same-object-twice.yaml" },
	  .err = { "same-object-twice.yaml:15: EndpointSlice shop/web-abc: the same object is already at ",
		   "same-object-twice.yaml:8 (the API has one object per kind, namespace and name)" } },
	{ .name = "the same file twice is an error (each object twice)",
	  .ret = -EINVAL, .files = { "services.yaml", "services.yaml" },
	  .err = { "services.yaml:", ": the same object is already at " } },
	{ .name = "nesting deeper than 64 levels is a parse error where it happens",
	  ERR("deep-nesting.json", ":1:454: parse error: nested deeper than 64 levels") },
	{ .name = "aliases expanding a small document to millions of nodes (billion laughs) are a parse error",
	  ERR("alias-bomb.yaml", ":11:38: parse error: aliases expand the document by more than a million nodes") },
	{ .name = "an error quotes at most a short prefix of a 1000-character name",
	  .ret = -EINVAL, .files = { "bad/long-value.yaml" },
	  .err = { "long-value.yaml:4:9: Service default/xxxxxxxxxx", "xxx...: metadata.name: too long (1000 characters, at most 63)" } },

	/* --- validation: exactly one error line, nothing loaded */
	{ .name = "bad clusterIP is an error",
	  ERR("bad-cluster-ip.yaml", ":7:14: Service default/web: spec.clusterIP: \"10.96.0.300\" is not an IP address") },
	{ .name = "bad EndpointSlice address is an error",
	  ERR("bad-endpoint-ip.yaml", ":11:5: EndpointSlice default/web-1: endpoints[0].addresses[0]: \"10.244.1.x\" is not an IP address") },
	{ .name = "bad Endpoints ip is an error",
	  ERR("endpoints-bad.yaml", ":9:9: Endpoints default/web: subsets[0].addresses[1].ip: \"10.244.1.256\" is not an IP address") },
	{ .name = "EndpointSlice address of the wrong family is an error",
	  ERR("wrong-family.yaml", ":13:5: EndpointSlice default/web-1: endpoints[1].addresses[0]: fd00::1 is not an IPv4 address (addressType is IPv4)") },
	{ .name = "Service port 0 is an error",
	  ERR("port-zero.yaml", ":10:11: Service default/web: spec.ports[0].port: 0 is out of range (1-65535)") },
	{ .name = "Service port 70000 is an error",
	  ERR("port-70000.yaml", ":12:11: Service default/web: spec.ports[1].port: 70000 is out of range (1-65535)") },
	{ .name = "EndpointSlice port 65536 is an error",
	  ERR("slice-port-65536.yaml", ":14:9: EndpointSlice default/web-1: ports[0].port: 65536 is out of range (1-65535)") },
	{ .name = "Endpoints port 99999 is an error",
	  ERR("endpoints-port.yaml", ":11:11: Endpoints default/web: subsets[0].ports[0].port: 99999 is out of range (1-65535)") },
	{ .name = "quoted port \"80\" is an error",
	  ERR("port-quoted.json", ":8:38: Service default/web: spec.ports[0].port: \"80\" is a string, expected an integer") },
	{ .name = "quoted ready \"true\" is an error",
	  ERR("ready-quoted.yaml", ":13:12: EndpointSlice default/web-1: endpoints[0].conditions.ready: \"true\" is a string, expected true or false") },
	{ .name = "protocol ICMP is an error",
	  ERR("protocol-icmp.yaml", ":11:15: Service default/web: spec.ports[0].protocol: unknown protocol \"ICMP\" (expected TCP, UDP or SCTP)") },
	{ .name = "EndpointSlice apiVersion discovery.k8s.io/v2 is an error",
	  .ret = -EINVAL, .files = { "bad/slice-v2.yaml" },
	  .err = { "slice-v2.yaml:1:13: EndpointSlice default/web-1: apiVersion: discovery.k8s.io/v2 is not supported for EndpointSlice (expected discovery.k8s.io/v1)" } },
	{ .name = "Service apiVersion apps/v1 is an error",
	  ERR("service-apps-v1.yaml", ":1:13: Service default/web: apiVersion: apps/v1 is not supported for Service (expected v1)") },
	{ .name = "malformed JSON (missing brace) is a parse error",
	  ERR("missing-brace.json", ":9:1: parse error: did not find expected ',' or '}'") },
	{ .name = "malformed YAML (bad indentation) is a parse error",
	  ERR("bad-indent.yaml", ":5:2: parse error: did not find expected key") },
	{ .name = "ports: 80 (not a list) is an error",
	  ERR("ports-not-list.yaml", ":9:10: Service default/web: spec.ports: expected a list, found 80") },
	{ .name = "ports as a mapping (not a list) is an error",
	  ERR("ports-mapping.yaml", ":9:5: Service default/web: spec.ports: expected a list, found a mapping") },
	{ .name = "two Services claiming one ClusterIP:port/protocol is an error",
	  .ret = -EINVAL, .files = { "bad/duplicate-frontend.yaml" },
	  .err = { "duplicate-frontend.yaml:24:7: Service other/web-copy: spec.ports[1]: 10.96.5.5:80/TCP is already the frontend of Service shop/web port \"http\" (",
		   "duplicate-frontend.yaml:12)" } },
	{ .name = "object without kind is an error",
	  ERR("no-kind.yaml", ":12:3: items[1].kind: is required") },
	{ .name = "object without apiVersion is an error",
	  ERR("no-api-version.yaml", ":1:1: Service: apiVersion: is required") },
	{ .name = "object without metadata.name is an error",
	  ERR("no-name.yaml", ":4:3: Service: metadata.name: is required") },
	{ .name = "Service name longer than 63 characters is an error",
	  ERR("name-too-long.yaml", ":4:9: Service default/this-service-name-is-far-too-long-to-be-a-dns-label-of-63-characters: metadata.name: too long (68 characters, at most 63)") },
	{ .name = "error in the 3rd item of a List (items before kind) has its line:col; earlier items' notes stay",
	  ERR("list-item3.yaml", ":28:13: Service default/db: spec.ports[1].port: 95432 is out of range (1-65535)"),
	  .notes = { "list-item3.yaml:4: skipping Service default/web: headless (no cluster IP)" } },
	{ .name = "a parse error later in a List wins over an earlier item's error",
	  ERR("list-item-then-parse-error.yaml", ":17:52: parse error: did not find expected ',' or ']' (while parsing a flow sequence at 17:39)") },
	{ .name = "error in an aliased node is reported where the anchored node is",
	  ERR("alias-error.yaml", ":15:13: Service default/api: spec.ports[0].port: 80000 is out of range (1-65535)") },
	{ .name = "alias to an undefined anchor is a parse error",
	  ERR("alias-undefined.yaml", ":11:39: parse error: found undefined alias") },
	{ .name = "anchor defined twice in a document is a parse error",
	  ERR("anchor-duplicate.yaml", ":11:39: parse error: second occurrence (found duplicate anchor; first occurrence at 7:39)") },
	{ .name = "an error in the second file fails the whole load",
	  .ret = -EINVAL, .files = { "services.yaml", "bad/second-file-bad.yaml" },
	  .err = { "second-file-bad.yaml:13:9: EndpointSlice shop/web-2b7xq: ports[0].port: -8080 is out of range (1-65535)" } },
	{ .name = "missing file is an I/O error",
	  .ret = -ENOENT, .files = { "services.yaml", "no-such-file.yaml" },
	  .err = { "no-such-file.yaml: No such file or directory" } },
};

/* One frontend a line: "ns/name/port PROTO vip:port -> ip:port ..." */
static char *render(const struct xs_model *m)
{
	char *buf = NULL, a[XS_ADDR_STRLEN];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	for (size_t i = 0; i < m->n; i++) {
		const struct xs_frontend *fe = &m->fe[i];

		fprintf(f, "%s/%s/%s %s %s:%u%s%s%s ->", fe->ns, fe->name, fe->port_name, xs_proto_name(fe->proto),
			xs_addr_str(&fe->vip, a), fe->port, fe->scope ? " [" : "",
			fe->scope ? xs_scope_name(fe->scope) : "", fe->scope ? "]" : "");
		for (size_t j = 0; j < fe->n_backends; j++)
			fprintf(f, " %s:%u", xs_addr_str(&fe->backends[j].addr, a), fe->backends[j].port);
		fputs(fe->n_backends ? "" : " (none)", f);
		fputs(fe->flags & XS_SVC_F_NO_REJECT ? " !drop-if-none" : "", f);
		if (fe->flags & XS_SVC_F_AFFINITY)
			fprintf(f, " affinity=%us", fe->affinity_s);
		for (size_t j = 0; j < fe->n_src_ranges; j++)
			fprintf(f, " from=%s/%u", xs_addr_str(&fe->src_ranges[j].addr, a), fe->src_ranges[j].len);
		/* serving and terminating: kept for their flows, no new ones */
		for (size_t j = 0; j < fe->n_terminating; j++)
			fprintf(f, " ~%s:%u", xs_addr_str(&fe->terminating[j].addr, a), fe->terminating[j].port);
		fputs("\n", f);
	}
	fclose(f);
	return buf;
}

/* Print s on one line, newlines shown as " | ". */
static void put_flat(FILE *f, const char *s)
{
	for (; *s; s++)
		if (*s != '\n')
			fputc(*s, f);
		else if (s[1])
			fputs(" | ", f);
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
			return true;
	return false;
}

/* Runs one case; on failure writes why to f and returns false. */
static bool check(const struct tcase *t, const char *dir, FILE *f)
{
	char *paths[MAX] = { 0 }, *errs = NULL, *notes = NULL, *got = NULL;
	size_t errs_len = 0, notes_len = 0, n = 0;
	FILE *ef = open_memstream(&errs, &errs_len), *nf = open_memstream(&notes, &notes_len);
	struct xs_addr np[MAX];
	struct xs_config_opts opts = { .notes = nf, .errors = ef, .nodeport_addrs = np, .node_name = t->node,
				       .zone = t->zone };
	struct xs_model m = { 0 };
	bool ok = false;
	int ret;

	struct xs_config_info info = { 99, 99 };

	opts.info = &info;
	if (!ef || !nf)
		abort();
	for (; opts.n_nodeport_addrs < MAX && t->nodeport[opts.n_nodeport_addrs]; opts.n_nodeport_addrs++)
		if (xs_addr_parse(t->nodeport[opts.n_nodeport_addrs], &np[opts.n_nodeport_addrs]))
			abort();
	while (n < MAX && t->files[n]) {
		if (asprintf(&paths[n], "%s/%s", dir, t->files[n]) < 0)
			abort();
		n++;
	}
	ret = xs_config_load((const char *const *)paths, (int)n, &opts, &m);
	fclose(ef);
	fclose(nf);
	got = render(&m);

	if (ret != t->ret) {
		fprintf(f, "returned %d (%s), expected %d; errors: ", ret, strerror(-ret), t->ret);
		put_flat(f, errs);
		goto out;
	}
	if (ret && (m.n || m.fe)) {
		fprintf(f, "failed load left %zu frontends in the model", m.n);
		goto out;
	}
	if (!ret && *errs) {
		fprintf(f, "unexpected error output: ");
		put_flat(f, errs);
		goto out;
	}
	if (ret && (!strchr(errs, '\n') || strchr(errs, '\n')[1])) {
		fprintf(f, "expected exactly one error line, got: ");
		put_flat(f, errs);
		goto out;
	}
	for (size_t i = 0; i < MAX && t->err[i]; i++)
		if (!strstr(errs, t->err[i])) {
			fprintf(f, "error is \"");
			put_flat(f, errs);
			fprintf(f, "\", expected it to contain \"%s\"", t->err[i]);
			goto out;
		}
	if (t->want && strcmp(got, t->want)) {
		fprintf(f, "model is \"");
		put_flat(f, got);
		fprintf(f, "\", expected \"");
		put_flat(f, t->want);
		fputc('"', f);
		goto out;
	}
	for (size_t i = 0; i < MAX && t->has[i]; i++)
		if (!has_line(got, t->has[i])) {
			fprintf(f, "model has no line \"%s\"; model is \"", t->has[i]);
			put_flat(f, got);
			fputc('"', f);
			goto out;
		}
	for (size_t i = 0; i < MAX && t->lacks[i]; i++)
		if (strstr(got, t->lacks[i])) {
			fprintf(f, "model contains \"%s\"; model is \"", t->lacks[i]);
			put_flat(f, got);
			fputc('"', f);
			goto out;
		}
	if (t->services && info.services + 1 != (size_t)t->services) {
		fprintf(f, "info.services is %zu, expected %d", info.services, t->services - 1);
		goto out;
	}
	for (size_t i = 0; i < MAX && t->notes[i]; i++)
		if (!strstr(notes, t->notes[i])) {
			fprintf(f, "notes have no \"%s\"; notes are \"", t->notes[i]);
			put_flat(f, notes);
			fputc('"', f);
			goto out;
		}
	ok = true;
out:
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(errs);
	free(notes);
	free(got);
	xs_model_free(&m);
	return ok;
}

/*
 * xs_config_load_cached() (apply --watch) against xs_config_load(): one
 * cache follows a file through a sequence of edits; after each, both loads
 * must give the same return, model and error text. "part" says whether the
 * edit must have been read by item (1), whole (0) or either (-1): an edit
 * inside one item that the cache did not read by item is a failure too.
 */
struct edit {
	const char *what;
	const char *find, *replace; /* the first occurrence; find NULL: back to the base */
	int part;
};

static const struct edit json_edits[] = {
	{ "an endpoint address changes", "\"10.244.1.10\"", "\"10.244.1.99\"", 1 },
	{ "it changes back", "\"10.244.1.99\"", "\"10.244.1.10\"", 1 },
	{ "a Service port number changes (longer)", "\"port\": 443", "\"port\": 4443", 1 },
	{ "an endpoint becomes not ready", "\"ready\": true", "\"ready\": false", 1 },
	{ "a Service is renamed", "\"name\": \"cart\"", "\"name\": \"basket\"", 1 },
	{ "a ClusterIP collides with another Service's: the same error",
	  "\"clusterIP\": \"10.96.20.15\"", "\"clusterIP\": \"10.96.12.40\"", -1 },
	{ "fixed again", "\"clusterIP\": \"10.96.12.40\",\n                \"clusterIPs\": [\n                    \"10.96.20.15\"",
	  "\"clusterIP\": \"10.96.20.15\",\n                \"clusterIPs\": [\n                    \"10.96.20.15\"", -1 },
	{ "a syntax error inside an item: the same error", "\"kind\": \"Service\",", "\"kind\": \"Service\" ", -1 },
	{ "back to the base", NULL, NULL, 0 },
	{ "an item split in two inside its bytes", "\"spec\": {", "\"x\": 1}, {\"spec\": {", -1 },
	{ "back to the base again", NULL, NULL, 0 },
	{ "a new item inserted between two", "        {\n            \"apiVersion\": \"v1\",\n            \"kind\": \"Service\"",
	  "        {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"x\"}},\n"
	  "        {\n            \"apiVersion\": \"v1\",\n            \"kind\": \"Service\"", 0 },
	{ "an endpoint address changes after that", "\"10.244.2.20\"", "\"10.244.2.21\"", 1 },
};

static const struct edit yaml_edits[] = {
	{ "a Service port changes", "port: 80\n", "port: 81\n", 1 },
	{ "a Service is renamed", "name: web\n", "name: www\n", 1 },
	{ "a line of an item loses its indentation: the same error", "    clusterIPs:", "   clusterIPs:", -1 },
	{ "fixed again", "   clusterIPs:", "    clusterIPs:", -1 },
	{ "a key appended at the end of an item", "    type: ClusterIP\n", "    type: ClusterIP\n    foo: bar\n", 1 },
	{ "a new item at the top", "items:\n", "items:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: x\n", 0 },
	{ "back to the base", NULL, NULL, 0 },
};

static char *slurp_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int ch;

	if (!f || !m)
		abort();
	while ((ch = fgetc(f)) != EOF)
		fputc(ch, m);
	fclose(f);
	fclose(m);
	return buf;
}

/* Load path both ways; false (and why in f) when they differ. */
static bool same_loads(const char *path, struct xs_config_cache *cache, int part, FILE *f)
{
	char *e1 = NULL, *e2 = NULL, *m1 = NULL, *m2 = NULL;
	size_t l1 = 0, l2 = 0;
	FILE *f1 = open_memstream(&e1, &l1), *f2 = open_memstream(&e2, &l2);
	struct xs_config_opts o1 = { .errors = f1 }, o2 = { .errors = f2 };
	struct xs_model a = { 0 }, b = { 0 };
	const struct xs_config_cache_stats *st = xs_config_cache_stats(cache);
	int r1, r2;
	bool ok = false;

	if (!f1 || !f2)
		abort();
	r1 = xs_config_load(&path, 1, &o1, &a);
	r2 = xs_config_load_cached(&path, 1, &o2, cache, &b);
	fclose(f1);
	fclose(f2);
	m1 = render(&a);
	m2 = render(&b);
	if (r1 != r2 || strcmp(e1, e2) || strcmp(m1, m2)) {
		fprintf(f, "whole load returned %d, error \"", r1);
		put_flat(f, e1);
		fprintf(f, "\", model \"");
		put_flat(f, m1);
		fprintf(f, "\"; cached load returned %d, error \"", r2);
		put_flat(f, e2);
		fprintf(f, "\", model \"");
		put_flat(f, m2);
		fputc('"', f);
	} else if (part >= 0 && !r2 && st->whole != !part) {
		fprintf(f, "read %s, expected %s", st->whole ? "whole" : "by item", part ? "by item" : "whole");
	} else if (!r2 && !st->whole && st->items_reread != 1) {
		fprintf(f, "%u items re-read, expected 1", st->items_reread);
	} else {
		ok = true;
	}
	free(e1);
	free(e2);
	free(m1);
	free(m2);
	xs_model_free(&a);
	xs_model_free(&b);
	return ok;
}

static int check_cached(const char *dir, const char *base, const struct edit *edits, size_t n)
{
	char tmpl[] = "/tmp/xs-test-config.XXXXXX", *path = NULL, *src = NULL, *text;
	struct xs_config_cache *cache = xs_config_cache_new();
	int failed = 0;

	if (!cache || !mkdtemp(tmpl) || asprintf(&path, "%s/%s", tmpl, base) < 0 ||
	    asprintf(&src, "%s/%s", dir, base) < 0)
		abort();
	text = slurp_text(src);
	for (size_t i = 0; i <= n; i++) {
		const struct edit *e = i ? &edits[i - 1] : NULL;
		char *why = NULL, *next = NULL, *at;
		size_t len = 0;
		FILE *f = open_memstream(&why, &len), *out;
		bool ok = false;

		if (!f)
			abort();
		if (e && e->find && !(at = strstr(text, e->find))) {
			fprintf(f, "the edit does not apply: no \"%s\"", e->find);
		} else {
			if (!e) {
				next = strdup(text);
			} else if (!e->find) {
				next = slurp_text(src);
			} else if (asprintf(&next, "%.*s%s%s", (int)(at - text), text, e->replace,
					    at + strlen(e->find)) < 0) {
				abort();
			}
			if (!next || !(out = fopen(path, "w")))
				abort();
			fputs(next, out);
			fclose(out);
			free(text);
			text = next;
			ok = same_loads(path, cache, e ? e->part : 0, f);
		}
		fclose(f);
		if (ok)
			printf("PASS: config: cached %s: %s\n", base, e ? e->what : "first load");
		else
			printf("FAIL: config: cached %s: %s: %s\n", base, e ? e->what : "first load", why);
		failed += !ok;
		free(why);
	}
	unlink(path);
	rmdir(tmpl);
	free(path);
	free(src);
	free(text);
	xs_config_cache_free(cache);
	return failed;
}

/*
 * A JSON List big enough to be read in two halves (read_split) against the
 * same read in one piece (XDPSVC_NO_SPLIT): same model, notes and errors.
 * Variants: clean; a skipped object in each half (notes in file order); a
 * ClusterIP taken twice across the halves (the join error, with its lines);
 * a syntax error in the second half.
 */
static char *big_list(const char *dir, int variant)
{
	char *path = NULL;
	FILE *f;
	int n = 12000; /* about 5 MB */

	if (asprintf(&path, "%s/big-%d.json", dir, variant) < 0 || !(f = fopen(path, "w")))
		abort();
	fprintf(f, "{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n");
	for (int i = 0; i < n; i++) {
		int ip = i == n - 10 && variant == 2 ? 5 : i;

		fprintf(f, "        {\n            \"apiVersion\": \"v1\",\n            \"kind\": \"%s\",\n"
			   "            \"metadata\": {\"name\": \"s%d\", \"namespace\": \"big\"},\n"
			   "            \"spec\": {\"clusterIP\": \"10.96.%d.%d\", \"ports\": [{\"name\": \"http\", "
			   "\"port\": 80, \"protocol\": \"TCP\"}]}\n        },\n",
			variant == 1 && (i == 7 || i == n - 7) ? "ConfigMap" : "Service", i, ip / 250, ip % 250 + 1);
		fprintf(f, "        {\n            \"addressType\": \"IPv4\",\n            \"apiVersion\": \"discovery.k8s.io/v1\",\n"
			   "            \"kind\": \"EndpointSlice\",\n"
			   "            \"metadata\": {\"labels\": {\"kubernetes.io/service-name\": \"s%d\"}, \"name\": \"s%d-x\", "
			   "\"namespace\": \"big\"},\n"
			   "            \"endpoints\": [{\"addresses\": [\"10.244.%d.%d\"]}, {\"addresses\": [\"10.245.%d.%d\"]}],\n"
			   "            \"ports\": [{\"name\": \"http\", \"port\": 8080, \"protocol\": \"TCP\"}]\n        }%s\n",
			i, i, i / 250, i % 250, i / 250, i % 250,
			variant == 3 && i == n - 3 ? ",," : i == n - 1 ? "" : ",");
	}
	fprintf(f, "    ],\n    \"kind\": \"List\",\n    \"metadata\": {\"resourceVersion\": \"\"}\n}\n");
	fclose(f);
	return path;
}

static int check_split(void)
{
	static const char *what[] = { "a clean List", "a skipped object in each half",
				      "a ClusterIP taken twice across the halves", "a syntax error in the second half" };
	char tmpl[] = "/tmp/xs-test-split.XXXXXX";
	int failed = 0;

	if (!mkdtemp(tmpl))
		abort();
	for (int v = 0; v < 4; v++) {
		char *path = big_list(tmpl, v), *text[2][3] = {};
		size_t len[2][3];
		int ret[2] = { 0, 0 };

		for (int split = 0; split < 2; split++) {
			FILE *ef = open_memstream(&text[split][0], &len[split][0]);
			FILE *nf = open_memstream(&text[split][1], &len[split][1]);
			struct xs_config_opts o = { .errors = ef, .notes = nf };
			struct xs_model m = { 0 };
			const char *file = path;

			unsigned long before = xs_config_split_reads;

			if (split)
				unsetenv("XDPSVC_NO_SPLIT");
			else
				setenv("XDPSVC_NO_SPLIT", "1", 1);
			ret[split] = xs_config_load(&file, 1, &o, &m);
			if (split && v < 3 && xs_config_split_reads == before)
				ret[split] = -EDOM; /* not read in two halves (the syntax error falls back) */
			fclose(ef);
			fclose(nf);
			text[split][2] = render(&m);
			xs_model_free(&m);
		}
		unsetenv("XDPSVC_NO_SPLIT");
		bool ok = ret[0] == ret[1] && !strcmp(text[0][0], text[1][0]) && !strcmp(text[0][1], text[1][1]) &&
			  !strcmp(text[0][2], text[1][2]) && (v < 2 ? !ret[0] && strlen(text[0][2]) > 100000 : ret[0]) &&
			  (v != 1 || (strstr(text[0][1], "s7") && strstr(text[0][1], "s11993")));

		if (ok) {
			printf("PASS: config: a 5 MB JSON List read in two halves equals one reading: %s\n", what[v]);
		} else {
			printf("FAIL: config: a 5 MB JSON List read in two halves equals one reading: %s: one reading "
			       "returned %d, errors \"", what[v], ret[0]);
			put_flat(stdout, text[0][0]);
			printf("\", notes \"");
			put_flat(stdout, text[0][1]);
			printf("\"; two halves returned %d, errors \"", ret[1]);
			put_flat(stdout, text[1][0]);
			printf("\", notes \"");
			put_flat(stdout, text[1][1]);
			printf("\"; models %s\n", strcmp(text[0][2], text[1][2]) ? "differ" : "equal");
		}
		failed += !ok;
		if (v == 0) { /* apply --watch: read in two halves, then an edit in the second half */
			struct xs_config_cache *cache = xs_config_cache_new();
			FILE *out = NULL;
			char *why = NULL, *edited = NULL, *at;
			size_t why_len = 0;
			FILE *wf = open_memstream(&why, &why_len);
			struct xs_model m = { 0 };
			const char *file = path;
			unsigned long before = xs_config_split_reads;

			if (!cache || !wf || xs_config_load_cached(&file, 1, NULL, cache, &m))
				abort();
			xs_model_free(&m);
			edited = slurp_text(path);
			if (!(at = strstr(edited, "\"10.245.40.1\"")))
				abort();
			memcpy(at, "\"10.245.40.9\"", 13);
			if (!(out = fopen(path, "w")))
				abort();
			fputs(edited, out);
			fclose(out);
			ok = xs_config_split_reads > before && same_loads(path, cache, 1, wf);
			fclose(wf);
			printf("%s: config: apply --watch after a reading in two halves re-reads one item%s%s\n",
			       ok ? "PASS" : "FAIL", ok ? "" : ": ", ok ? "" : xs_config_split_reads > before ? why :
			       "the first load was not read in two halves");
			failed += !ok;
			free(why);
			free(edited);
			xs_config_cache_free(cache);
		}
		for (int i = 0; i < 2; i++)
			for (int j = 0; j < 3; j++)
				free(text[i][j]);
		unlink(path);
		free(path);
	}
	rmdir(tmpl);
	return failed;
}

/* tests/data/config: $XS_TEST_DATA, else from the current directory (the
 * repository root), else next to this source file. */
static char *data_dir(void)
{
	const char *env = getenv("XS_TEST_DATA");
	char *src, *dir;

	if (env)
		return strdup(env);
	if (!access("tests/data/config", R_OK | X_OK))
		return strdup("tests/data/config");
	src = strdup(__FILE__);
	if (!src || asprintf(&dir, "%s/data/config", dirname(src)) < 0)
		abort();
	free(src);
	return dir;
}

int main(void)
{
	char *dir = data_dir();
	int failed = 0;

	if (!dir)
		abort();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *why = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&why, &len);
		bool ok;

		if (!f)
			abort();
		ok = check(&cases[i], dir, f);
		fclose(f);
		if (ok)
			printf("PASS: config: %s\n", cases[i].name);
		else
			printf("FAIL: config: %s: %s\n", cases[i].name, why);
		failed += !ok;
		free(why);
	}
	failed += check_cached(dir, LIST, json_edits, sizeof(json_edits) / sizeof(json_edits[0]));
	failed += check_cached(dir, "list-items-first.yaml", yaml_edits, sizeof(yaml_edits) / sizeof(yaml_edits[0]));
	failed += check_split();
	free(dir);
	return failed ? 1 : 0;
}
