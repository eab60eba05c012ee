// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kpnft: the nftables ruleset kube-proxy's nftables mode would write on one
 * node for the given Kubernetes objects, the reference of e2e_kdiff.sh.
 *
 *   kpnft --node-name NAME [--zone ZONE] --nodeport-addresses ADDR,...
 *         --cluster-cidr CIDR,... FILE...
 *
 * FILEs are read by the loader's own reader (xs_config_load: the same
 * endpoint selection xdpsvc applies, so a difference the test sees is one of
 * the datapaths), and the model is written out in kube-proxy's layout
 * (pkg/proxy/nftables/proxier.go: setupNFTables, syncProxyRules,
 * writeServiceToEndpointRules) as `nft -f` commands for `table ip
 * kube-proxy`: the base chains at kube-proxy's priorities, the service-ips /
 * service-nodeports verdict maps, one chain per Service port policy
 * ("service-" = Cluster, "local-" = Local, "external-") and per endpoint
 * ("endpoint-", DNAT), `numgen random mod N`, the no-endpoint maps (reject,
 * or drop for a Local policy without local endpoints), masquerade by mark,
 * the cluster-ips reject, ClientIP affinity sets and the
 * loadBalancerSourceRanges firewall. NodePorts answer on
 * --nodeport-addresses only (the nodeport-ips set: kube-proxy's nftables
 * default "primary", never 127.0.0.0/8). --cluster-cidr is the local-traffic
 * detector (--detect-local-mode ClusterCIDR; several CIDRs become one set).
 * Chain names drop kube-proxy's hash prefix (it only matters on truncation).
 *
 * From the model: a frontend's flag XS_SVC_F_NO_REJECT means its traffic
 * policy is Local (internal for the ClusterIP, external for the others), its
 * backends are the set serving new flows on this node. kube-proxy also needs
 * the Service port's cluster-wide set when a policy is Local (the ESIPP
 * short-circuit, and "drop" vs "reject"): that is the backends of a frontend
 * of the same Service port with Cluster policy. A Service port with both
 * policies Local has none, the model cannot say it, and kpnft refuses it.
 *
 * Exit 0 with the ruleset on stdout; 1 on an error (stderr); 2 on misuse.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s.h"
#include "model.h"

#define T "ip kube-proxy"
#define MASQ_MARK "0x00004000" /* kube-proxy's default --masquerade-bit 14 */
#define MAX_ADDRS 16

/* One Service port: its ClusterIP frontend and its other frontends. */
struct svcport {
	const struct xs_frontend *cip;
	const struct xs_frontend **ext;
	size_t n_ext;
};

static const char *cluster_cidrs; /* "A/L, B/M" */

static const char *proto_s(uint8_t p) { return p == IPPROTO_UDP ? "udp" : "tcp"; }

static const char *ip_s(const struct xs_addr *a)
{
	static char buf[4][XS_ADDR_STRLEN];
	static int i;

	return xs_addr_str(a, buf[i++ % 4]);
}

static bool same_port(const struct xs_frontend *a, const struct xs_frontend *b)
{
	return a->proto == b->proto && !strcmp(a->ns, b->ns) && !strcmp(a->name, b->name) &&
	       !strcmp(a->port_name, b->port_name);
}

/* PREFIX-NS/NAME/PROTO/PORT, kube-proxy's chain name without the hash. */
static const char *chain(const char *prefix, const struct xs_frontend *f)
{
	static char buf[4][320];
	static int i;
	char *b = buf[i++ % 4];

	snprintf(b, sizeof(buf[0]), "%s-%s/%s/%s/%s", prefix, f->ns, f->name, proto_s(f->proto), f->port_name);
	return b;
}

/* endpoint-NS/NAME/PROTO/PORT__IP/PORT, or affinity-... */
static const char *ep_name(const char *prefix, const struct xs_frontend *f, const struct xs_backend_addr *b)
{
	static char buf[4][360];
	static int i;
	char *s = buf[i++ % 4];

	snprintf(s, sizeof(buf[0]), "%s__%s/%u", chain(prefix, f), ip_s(&b->addr), b->port);
	return s;
}

static bool has_backend(const struct xs_frontend *f, const struct xs_backend_addr *b)
{
	for (size_t i = 0; f && i < f->n_backends; i++)
		if (!xs_backend_addr_cmp(&f->backends[i], b))
			return true;
	return false;
}

/* writeServiceToEndpointRules: affinity, then numgen over the set. */
static void policy_chain(const char *name, const struct xs_frontend *set)
{
	for (size_t i = 0; (set->flags & XS_SVC_F_AFFINITY) && i < set->n_backends; i++)
		printf("add rule %s %s ip saddr @%s goto %s\n", T, name, ep_name("affinity", set, &set->backends[i]),
		       ep_name("endpoint", set, &set->backends[i]));
	printf("add rule %s %s numgen random mod %zu vmap {", T, name, set->n_backends);
	for (size_t i = 0; i < set->n_backends; i++)
		printf("%s %zu : goto %s", i ? "," : "", i, ep_name("endpoint", set, &set->backends[i]));
	printf(" }\n");
}

/* The endpoint chains: every endpoint reachable from this node (the union
 * of the two sets), declared (rules false) or filled (rules true). */
static void eps(const struct xs_frontend *cluster, const struct xs_frontend *local, bool rules)
{
	const struct xs_frontend *sets[2] = { cluster, local };

	for (int s = 0; s < 2; s++) {
		const struct xs_frontend *f = sets[s];

		for (size_t i = 0; f && i < f->n_backends; i++) {
			const struct xs_backend_addr *b = &f->backends[i];
			const char *ep = ep_name("endpoint", f, b);

			if (s == 1 && has_backend(cluster, b))
				continue; /* in both sets: one chain */
			if (!rules) {
				if (f->flags & XS_SVC_F_AFFINITY)
					printf("add set %s %s { type ipv4_addr; flags dynamic,timeout; timeout %us; }\n",
					       T, ep_name("affinity", f, b), f->affinity_s);
				printf("add chain %s %s\n", T, ep);
				continue;
			}
			printf("add rule %s %s ip saddr %s jump mark-for-masquerade\n", T, ep, ip_s(&b->addr));
			if (f->flags & XS_SVC_F_AFFINITY)
				printf("add rule %s %s update @%s { ip saddr }\n", T, ep, ep_name("affinity", f, b));
			printf("add rule %s %s meta l4proto %s dnat to %s:%u\n", T, ep, proto_s(f->proto),
			       ip_s(&b->addr), b->port);
		}
	}
}

static int service_port(const struct svcport *sp)
{
	const struct xs_frontend *c = sp->cip, *e = sp->n_ext ? sp->ext[0] : NULL;
	bool itp_local = c->flags & XS_SVC_F_NO_REJECT, etp_local = e && (e->flags & XS_SVC_F_NO_REJECT);
	/* kube-proxy's clusterEndpoints and localEndpoints, as the model has them */
	const struct xs_frontend *cluster = !itp_local ? c : (e && !etp_local) ? e : NULL;
	const struct xs_frontend *local = itp_local ? c : etp_local ? e : NULL;
	bool has_eps, has_int, has_ext, nodeport_done = false;
	const char *verdict;

	if (cluster)
		has_eps = cluster->n_backends > 0;
	else if (local->n_backends > 0 && !etp_local)
		has_eps = true;
	else {
		fprintf(stderr, "kpnft: %s/%s port '%s' %s: internalTrafficPolicy Local%s: the model holds no "
			"cluster-wide endpoint set for it (a Cluster-policy frontend of the same port)\n",
			c->ns, c->name, c->port_name, proto_s(c->proto),
			etp_local ? " with externalTrafficPolicy Local" : " without local endpoints");
		return -1;
	}
	has_int = has_eps && (!itp_local || c->n_backends > 0);
	has_ext = has_eps && (!etp_local || e->n_backends > 0);
	/* no endpoint anywhere: reject; a Local policy without local ones: drop */
	verdict = !has_eps ? "goto reject-chain" : "drop";

	bool uses_cluster = cluster && cluster->n_backends > 0 && (!itp_local || e);
	bool uses_local = local && local->n_backends > 0;
	char int_chain[320], ext[320], svc[320], loc[320];

	/* chain() returns one of a few rotating buffers: keep these */
	snprintf(svc, sizeof(svc), "%s", chain("service", c));
	snprintf(loc, sizeof(loc), "%s", chain("local", c));
	snprintf(ext, sizeof(ext), "%s", chain("external", c));
	snprintf(int_chain, sizeof(int_chain), "%s", itp_local ? loc : svc);

	/* Every chain first (the maps and rules below refer to them), then
	 * the rules in kube-proxy's order. */
	if (uses_cluster)
		printf("add chain %s %s\n", T, svc);
	if (uses_local)
		printf("add chain %s %s\n", T, loc);
	if (has_eps && e)
		printf("add chain %s %s\n", T, ext);
	eps(cluster, local, false);
	/* the ClusterIP */
	printf("add element %s cluster-ips { %s }\n", T, ip_s(&c->vip));
	if (has_int) {
		printf("add element %s service-ips { %s . %s . %u : goto %s }\n", T, ip_s(&c->vip),
		       proto_s(c->proto), c->port, int_chain);
		printf("add rule %s %s ip daddr %s %s dport %u ip saddr != { %s } jump mark-for-masquerade\n", T,
		       int_chain, ip_s(&c->vip), proto_s(c->proto), c->port, cluster_cidrs);
	} else {
		printf("add element %s no-endpoint-services { %s . %s . %u : %s }\n", T, ip_s(&c->vip),
		       proto_s(c->proto), c->port, verdict);
	}
	if (e && has_eps) {
		/* external chain: masquerade (Cluster), or the ESIPP short-circuits (Local) */
		if (!etp_local) {
			printf("add rule %s %s jump mark-for-masquerade\n", T, ext);
		} else {
			printf("add rule %s %s ip saddr { %s } goto %s\n", T, ext, cluster_cidrs, svc);
			printf("add rule %s %s fib saddr type local jump mark-for-masquerade\n", T, ext);
			printf("add rule %s %s fib saddr type local goto %s\n", T, ext, svc);
		}
		if (has_ext)
			printf("add rule %s %s goto %s\n", T, ext, etp_local ? loc : svc);
	}
	bool fw_done = false;
	for (size_t i = 0; e && i < sp->n_ext; i++) {
		const struct xs_frontend *f = sp->ext[i];

		if (f->scope == XS_SCOPE_NODEPORT) {
			if (nodeport_done)
				continue; /* one nodePort, one element, whatever the addresses */
			nodeport_done = true;
			if (has_eps)
				printf("add element %s service-nodeports { %s . %u : goto %s }\n", T, proto_s(f->proto),
				       f->port, ext);
			if (!has_ext)
				printf("add element %s no-endpoint-nodeports { %s . %u : %s }\n", T, proto_s(f->proto),
				       f->port, verdict);
			continue;
		}
		if (has_eps)
			printf("add element %s service-ips { %s . %s . %u : goto %s }\n", T, ip_s(&f->vip),
			       proto_s(f->proto), f->port, ext);
		if (!has_ext)
			printf("add element %s no-endpoint-services { %s . %s . %u : %s }\n", T, ip_s(&f->vip),
			       proto_s(f->proto), f->port, verdict);
		if (f->flags & XS_SVC_F_SRC_RANGES) {
			char fw[320];

			snprintf(fw, sizeof(fw), "%s", chain("firewall", c));

			if (!fw_done) {
				printf("add chain %s %s\nadd rule %s %s ip saddr != {", T, fw, T, fw);
				for (size_t r = 0; r < f->n_src_ranges; r++)
					printf("%s %s/%u", r ? "," : "", ip_s(&f->src_ranges[r].addr),
					       f->src_ranges[r].len);
				printf(" } drop\n");
				fw_done = true;
			}
			printf("add element %s firewall-ips { %s . %s . %u : goto %s }\n", T, ip_s(&f->vip),
			       proto_s(f->proto), f->port, fw);
		}
	}
	if (uses_cluster)
		policy_chain(svc, cluster);
	if (uses_local)
		policy_chain(loc, local);
	eps(cluster, local, true);
	return 0;
}

/* setupNFTables: base chains, top-level chains, sets and maps. */
static void setup(const struct xs_addr *np, size_t n_np)
{
	/* kube-proxy says dstnat (-100) and srcnat (100); nft 1.0.6 takes the
	 * names in prerouting and postrouting only, so numbers here. */
	static const char *const base[][2] = {
		{ "filter-prerouting", "filter hook prerouting priority -110" },
		{ "filter-input", "filter hook input priority -110" },
		{ "filter-forward", "filter hook forward priority -110" },
		{ "filter-output", "filter hook output priority -110" },
		{ "filter-output-post-dnat", "filter hook output priority -90" },
		{ "nat-prerouting", "nat hook prerouting priority -100" },
		{ "nat-output", "nat hook output priority -100" },
		{ "nat-postrouting", "nat hook postrouting priority 100" },
	};
	/* nftablesJumpChains, in order: DST SRC EXTRA */
	static const char *const jumps[][3] = {
		{ "nodeport-endpoints-check", "filter-input", "ct state new " },
		{ "service-endpoints-check", "filter-input", "ct state new " },
		{ "service-endpoints-check", "filter-forward", "ct state new " },
		{ "service-endpoints-check", "filter-output", "ct state new " },
		{ "firewall-check", "filter-prerouting", "ct state new " },
		{ "firewall-check", "filter-output", "ct state new " },
		{ "services", "nat-output", "" },
		{ "services", "nat-prerouting", "" },
		{ "masquerading", "nat-postrouting", "" },
		{ "cluster-ips-check", "filter-forward", "ct state new " },
		{ "cluster-ips-check", "filter-output-post-dnat", "ct state new " },
	};
	static const char *const vmaps[][2] = {
		{ "no-endpoint-services", "ipv4_addr . inet_proto . inet_service" },
		{ "no-endpoint-nodeports", "inet_proto . inet_service" },
		{ "firewall-ips", "ipv4_addr . inet_proto . inet_service" },
		{ "service-ips", "ipv4_addr . inet_proto . inet_service" },
		{ "service-nodeports", "inet_proto . inet_service" },
	};
	size_t i;

	printf("add table %s { comment \"rules for kube-proxy\"; }\n", T);
	for (i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		printf("add chain %s %s { type %s; }\n", T, base[i][0], base[i][1]);
	for (i = 0; i < sizeof(jumps) / sizeof(jumps[0]); i++)
		printf("add chain %s %s\n", T, jumps[i][0]);
	printf("add chain %s mark-for-masquerade\nadd chain %s reject-chain\n", T, T);
	for (i = 0; i < sizeof(jumps) / sizeof(jumps[0]); i++)
		printf("add rule %s %s %sjump %s\n", T, jumps[i][1], jumps[i][2], jumps[i][0]);
	printf("add rule %s mark-for-masquerade mark set mark or %s\n", T, MASQ_MARK);
	printf("add rule %s masquerading mark and %s == 0 return\n", T, MASQ_MARK);
	printf("add rule %s masquerading mark set mark xor %s\n", T, MASQ_MARK);
	printf("add rule %s masquerading masquerade fully-random\n", T);
	printf("add set %s cluster-ips { type ipv4_addr; comment \"Active ClusterIPs\"; }\n", T);
	printf("add rule %s cluster-ips-check ip daddr @cluster-ips reject\n", T);
	printf("add set %s nodeport-ips { type ipv4_addr; comment \"IPs that accept NodePort traffic\"; }\n", T);
	for (i = 0; i < n_np; i++)
		printf("add element %s nodeport-ips { %s }\n", T, ip_s(&np[i]));
	for (i = 0; i < sizeof(vmaps) / sizeof(vmaps[0]); i++)
		printf("add map %s %s { type %s : verdict; }\n", T, vmaps[i][0], vmaps[i][1]);
	printf("add rule %s reject-chain reject\n", T);
	printf("add rule %s service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services\n", T);
	printf("add rule %s nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap "
	       "@no-endpoint-nodeports\n", T);
	printf("add rule %s firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips\n", T);
	printf("add rule %s services ip daddr . meta l4proto . th dport vmap @service-ips\n", T);
	printf("add rule %s services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports\n", T);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: kpnft --node-name NAME [--zone ZONE] --nodeport-addresses ADDR,... "
		   "--cluster-cidr CIDR,... FILE...\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node-name", required_argument, NULL, 'n' },
		{ "zone", required_argument, NULL, 'z' },
		{ "nodeport-addresses", required_argument, NULL, 'a' },
		{ "cluster-cidr", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct xs_addr np[MAX_ADDRS];
	struct xs_config_opts co = { .errors = stderr };
	struct xs_model m = { 0 };
	struct svcport *sps;
	static char cidrs[1024];
	size_t n_np = 0, n_sps = 0, i, j;
	char *tok, *save;
	int opt, rc = 0;

	while ((opt = getopt_long(argc, argv, "n:z:a:c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			co.node_name = optarg;
			break;
		case 'z':
			co.zone = optarg;
			break;
		case 'a':
			for (tok = strtok_r(optarg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (n_np == MAX_ADDRS || xs_addr_parse(tok, &np[n_np]) || !xs_addr_is_v4(&np[n_np])) {
					fprintf(stderr, "kpnft: --nodeport-addresses: bad or too many: '%s'\n", tok);
					return 2;
				}
				n_np++;
			}
			break;
		case 'c':
			/* nft parses the CIDRs; only what a CIDR list can hold gets through */
			if (strspn(optarg, "0123456789./,") != strlen(optarg) || strlen(optarg) > 500 || !*optarg) {
				fprintf(stderr, "kpnft: --cluster-cidr: bad list '%s'\n", optarg);
				return 2;
			}
			for (tok = strtok_r(optarg, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
				snprintf(cidrs + strlen(cidrs), sizeof(cidrs) - strlen(cidrs), "%s%s", *cidrs ? ", " : "",
					 tok);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!co.node_name || !*cidrs || optind == argc) {
		usage(stderr);
		return 2;
	}
	cluster_cidrs = cidrs;
	co.nodeport_addrs = np;
	co.n_nodeport_addrs = n_np;
	if (xs_config_load((const char *const *)argv + optind, argc - optind, &co, &m))
		return 1;

	/* group the frontends by Service port */
	if (!(sps = calloc(m.n ? m.n : 1, sizeof(*sps))))
		return 1;
	for (i = 0; i < m.n; i++) {
		const struct xs_frontend *f = &m.fe[i];

		for (j = 0; j < n_sps && !same_port(sps[j].cip ? sps[j].cip : sps[j].ext[0], f); j++)
			;
		if (j == n_sps)
			n_sps++;
		if (f->scope == XS_SCOPE_CLUSTER) {
			sps[j].cip = f;
			continue;
		}
		if (!(sps[j].ext = realloc(sps[j].ext, (sps[j].n_ext + 1) * sizeof(*sps[j].ext))))
			return 1;
		sps[j].ext[sps[j].n_ext++] = f;
	}
	setup(np, n_np);
	for (j = 0; j < n_sps && !rc; j++) {
		if (!sps[j].cip) {
			fprintf(stderr, "kpnft: %s/%s: a Service port without its ClusterIP frontend\n",
				sps[j].ext[0]->ns, sps[j].ext[0]->name);
			rc = 1;
		} else if (service_port(&sps[j])) {
			rc = 1;
		}
	}
	for (j = 0; j < n_sps; j++)
		free(sps[j].ext);
	free(sps);
	xs_model_free(&m);
	return rc;
}
