// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * svcgen: a large kubectl-shaped cluster dump, for benchmarks and load tests.
 *
 *   svcgen --services N [--endpoints M] [--vip-base A.B.C.D] [--ns NAMESPACE]
 *          [--change K] [--proto tcp|udp] [--port P] [--target-port T]
 *          [--pod A.B.C.D]
 *
 * Prints one JSON `kind: List` (what `kubectl get services,endpointslices -A
 * -o json` prints) with N Services "svc-00000".. (http 80/TCP -> 8080), each
 * with one EndpointSlice of M ready endpoints. ClusterIP i is VIP_BASE + i
 * (default 198.19.64.0: the whole run stays in 198.18.0.0/15; N at most
 * 16384 from the default base). Endpoint j of Service i is pod address
 * 198.18.2.0 + ((i * M + j) mod 65000): pods are shared once the range wraps,
 * as pods backing several Services are.
 *
 * --change K (1..250) replaces endpoint 0 of Service 0 with 198.19.200.K, an
 * address no other endpoint has: consecutive K give files that differ from
 * each other and from K = 0 (the default, no change) in exactly one endpoint.
 *
 * --proto, --port, --target-port set every Service's one port (default TCP
 * 80 -> 8080, named "http"); --pod makes every endpoint that one address (the
 * live benchmark's single receiving pod). Output is deterministic.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define POD_BASE 0xc6120200u /* 198.18.2.0 */
#define POD_SPAN 65000u

static long parse_num(const char *s, long min, long max)
{
	char *end;
	long v = strtol(s, &end, 10);

	return (*s && !*end && v >= min && v <= max) ? v : -1;
}

static const char *ip4(unsigned int a, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	return buf;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: svcgen --services N [--endpoints M] [--vip-base A.B.C.D] [--ns NS] [--change K]\n"
		   "              [--proto tcp|udp] [--port P] [--target-port T] [--pod A.B.C.D]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "services", required_argument, NULL, 's' },
		{ "endpoints", required_argument, NULL, 'e' },
		{ "vip-base", required_argument, NULL, 'v' },
		{ "ns", required_argument, NULL, 'n' },
		{ "change", required_argument, NULL, 'c' },
		{ "proto", required_argument, NULL, 'p' },
		{ "port", required_argument, NULL, 'P' },
		{ "target-port", required_argument, NULL, 'T' },
		{ "pod", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	long nsvc = -1, neps = 10, change = 0, port = 80, tport = 8080;
	unsigned int vip_base = 0xc6134000u; /* 198.19.64.0 */
	unsigned int one_pod = 0; /* 0: the default spread of pod addresses */
	const char *proto = "TCP";
	const char *ns = "bench";
	struct in_addr in;
	char a[16], b[16];
	int opt;

	while ((opt = getopt_long(argc, argv, "s:e:v:n:c:p:P:T:o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			nsvc = parse_num(optarg, 1, 60000);
			if (nsvc < 0)
				goto bad;
			break;
		case 'e':
			neps = parse_num(optarg, 0, 1000);
			if (neps < 0)
				goto bad;
			break;
		case 'v':
			if (inet_pton(AF_INET, optarg, &in) != 1)
				goto bad;
			vip_base = ntohl(in.s_addr);
			break;
		case 'n':
			ns = optarg;
			break;
		case 'c':
			change = parse_num(optarg, 0, 250);
			if (change < 0)
				goto bad;
			break;
		case 'p':
			if (!strcasecmp(optarg, "tcp"))
				proto = "TCP";
			else if (!strcasecmp(optarg, "udp"))
				proto = "UDP";
			else
				goto bad;
			break;
		case 'P':
			port = parse_num(optarg, 1, 65535);
			if (port < 0)
				goto bad;
			break;
		case 'T':
			tport = parse_num(optarg, 1, 65535);
			if (tport < 0)
				goto bad;
			break;
		case 'o':
			if (inet_pton(AF_INET, optarg, &in) != 1 || !in.s_addr)
				goto bad;
			one_pod = ntohl(in.s_addr);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (nsvc < 0 || optind != argc)
		goto bad;
	/* Every ClusterIP inside 198.18.0.0/15. */
	if ((vip_base & 0xfffe0000u) != 0xc6120000u ||
	    ((vip_base + (unsigned int)nsvc) & 0xfffe0000u) != 0xc6120000u) {
		fprintf(stderr, "svcgen: ClusterIPs would leave 198.18.0.0/15\n");
		return 2;
	}

	printf("{\"apiVersion\":\"v1\",\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"\"},\"items\":[\n");
	for (long i = 0; i < nsvc; i++) {
		ip4(vip_base + (unsigned int)i, a);
		printf("%s{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{"
		       "\"creationTimestamp\":\"2024-05-01T10:00:00Z\",\"labels\":{\"app\":\"svc-%05ld\"},"
		       "\"name\":\"svc-%05ld\",\"namespace\":\"%s\",\"resourceVersion\":\"%ld\","
		       "\"uid\":\"0c2d7a3e-0000-4000-8000-%012ld\"},"
		       "\"spec\":{\"clusterIP\":\"%s\",\"clusterIPs\":[\"%s\"],"
		       "\"internalTrafficPolicy\":\"Cluster\",\"ipFamilies\":[\"IPv4\"],"
		       "\"ipFamilyPolicy\":\"SingleStack\",\"ports\":[{\"name\":\"http\",\"port\":%ld,"
		       "\"protocol\":\"%s\",\"targetPort\":%ld}],\"selector\":{\"app\":\"svc-%05ld\"},"
		       "\"sessionAffinity\":\"None\",\"type\":\"ClusterIP\"},"
		       "\"status\":{\"loadBalancer\":{}}}\n",
		       i ? "," : "", i, i, ns, 1000 + i, i, a, a, port, proto, tport, i);
		printf(",{\"addressType\":\"IPv4\",\"apiVersion\":\"discovery.k8s.io/v1\","
		       "\"endpoints\":[");
		for (long j = 0; j < neps; j++) {
			unsigned int k = (unsigned int)(i * neps + j);
			unsigned int pod = one_pod ? one_pod : POD_BASE + k % POD_SPAN;

			if (i == 0 && j == 0 && change)
				pod = 0xc613c800u + (unsigned int)change; /* 198.19.200.K */
			printf("%s{\"addresses\":[\"%s\"],\"conditions\":{\"ready\":true,"
			       "\"serving\":true,\"terminating\":false},\"nodeName\":\"node-%u\","
			       "\"targetRef\":{\"kind\":\"Pod\",\"name\":\"svc-%05ld-%s\","
			       "\"namespace\":\"%s\",\"uid\":\"7f1e0b6c-0000-4000-8000-%012u\"}}",
			       j ? "," : "", ip4(pod, b), k % 50, i, b, ns, k);
		}
		printf("],\"kind\":\"EndpointSlice\",\"metadata\":{"
		       "\"creationTimestamp\":\"2024-05-01T10:00:01Z\",\"generateName\":\"svc-%05ld-\","
		       "\"generation\":1,\"labels\":{\"endpointslice.kubernetes.io/managed-by\":"
		       "\"endpointslice-controller.k8s.io\",\"kubernetes.io/service-name\":\"svc-%05ld\"},"
		       "\"name\":\"svc-%05ld-x7k2p\",\"namespace\":\"%s\",\"resourceVersion\":\"%ld\","
		       "\"uid\":\"5a9c1f20-0000-4000-8000-%012ld\"},"
		       "\"ports\":[{\"name\":\"http\",\"port\":%ld,\"protocol\":\"%s\"}]}\n",
		       i, i, i, ns, 50000 + i, i, tport, proto);
	}
	printf("]}\n");
	return fflush(stdout) ? 1 : 0;
bad:
	usage(stderr);
	return 2;
}
