// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "node.h"

struct cidr {
	__u32 net, mask; /* host order */
};

static int parse_cidrs(const char *opt, const char *s, struct cidr *out, size_t max, size_t *n)
{
	char *copy = strdup(s), *save = NULL;
	int err = copy ? 0 : -ENOMEM;

	*n = 0;
	for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && !err; tok = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(tok, '/'), *end;
		struct in_addr a;
		long len = slash ? strtol(slash + 1, &end, 10) : -1;

		if (slash)
			*slash = 0;
		if (!slash || *end || len < 0 || len > 32 || inet_pton(AF_INET, tok, &a) != 1 || *n == max) {
			fprintf(stderr, "xdpsvc: --%s: '%s%s%s' is not an IPv4 CIDR (A.B.C.D/N)%s\n", opt,
				tok, slash ? "/" : "", slash ? slash + 1 : "", *n == max ? " or one too many" : "");
			err = -EINVAL;
			break;
		}
		out[*n].mask = len ? ~0U << (32 - len) : 0;
		out[(*n)++].net = ntohl(a.s_addr) & (len ? ~0U << (32 - len) : 0);
	}
	free(copy);
	return err;
}

int xs_nodeport_addrs(const char *dev, const char *cidrs, __be32 *out, __u32 *n)
{
	struct cidr nets[XS_MAX_NODEPORT_ADDRS];
	struct ifaddrs *ifa, *i;
	size_t n_nets = 0;
	int err = cidrs ? parse_cidrs("nodeport-addresses", cidrs, nets, XS_MAX_NODEPORT_ADDRS, &n_nets) : 0;

	*n = 0;
	if (err)
		return err;
	if (getifaddrs(&ifa)) {
		err = -errno;
		fprintf(stderr, "xdpsvc: cannot list the node's addresses: %s\n", strerror(-err));
		return err;
	}
	for (i = ifa; i; i = i->ifa_next) {
		__u32 a;
		bool take = false;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		a = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
		if (!cidrs)
			take = !strcmp(i->ifa_name, dev);
		for (size_t k = 0; k < n_nets && !take; k++)
			take = (a & nets[k].mask) == nets[k].net;
		if (!take)
			continue;
		if (*n == XS_MAX_NODEPORT_ADDRS) {
			fprintf(stderr, "xdpsvc: note: more than %d NodePort addresses; the rest are not used\n",
				XS_MAX_NODEPORT_ADDRS);
			break;
		}
		out[(*n)++] = htonl(a);
	}
	freeifaddrs(ifa);
	return 0;
}

int xs_cluster_cidrs(const char *cidrs, struct xs_cidr4 *out, __u32 *n)
{
	struct cidr nets[XS_MAX_CLUSTER_CIDRS];
	size_t k;
	int err = parse_cidrs("cluster-cidr", cidrs, nets, XS_MAX_CLUSTER_CIDRS, &k);

	*n = 0;
	if (err)
		return err;
	for (size_t i = 0; i < k; i++)
		out[i] = (struct xs_cidr4){ .addr = htonl(nets[i].net), .mask = htonl(nets[i].mask) };
	*n = k;
	return 0;
}
