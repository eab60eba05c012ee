// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xdpsvc: the command line. Each command is a table of options with their
 * help next to them; internal functions return 0 or -errno and only main()
 * turns that into an exit code (0 ok, 1 error, 2 misuse). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "apply.h"
#include "attach.h"
#include "maps.h"
#include "node.h"

#define EXIT_MISUSE 2
/* Returned by a command that finds its arguments wrong (exit 2, not 1). */
#define XS_EMISUSE 4096

struct args {
	const char *pin;
	const char *xdp_mode;
	const char *service;
	const char *nodeport_cidrs;
	const char *cluster_cidrs;
	bool force, recreate_maps, purge, dry_run, watch, json, verbose, help, allow_empty;
	__u32 ct_size, max_services, max_backends, max_slots;
	struct xs_config cfg;
	char **pos;     /* positional arguments */
	int n_pos;
};

struct opt {
	struct option o;
	const char *arg, *help;
};

#define OPT_PIN { { "pin-path", required_argument, NULL, 'p' }, "DIR", \
		  "pin directory on a bpffs (default " XS_PIN_PATH_DEFAULT ")" }
#define OPT_HELP { { "help", no_argument, NULL, 'h' }, NULL, "show this help" }
#define OPT_VERBOSE { { "verbose", no_argument, NULL, 'v' }, NULL, "show libbpf's messages too" }
#define OPT_END { { NULL, 0, NULL, 0 }, NULL, NULL }

struct cmd {
	const char *name, *usage, *summary;
	int min_pos, max_pos;     /* -1: unbounded */
	int (*run)(struct args *a);
	struct opt opts[28];
};

static int cmd_attach(struct args *a);
static int cmd_detach(struct args *a);
static int cmd_apply(struct args *a);
static int cmd_list(struct args *a);
static int cmd_attach_pod(struct args *a);
static int cmd_detach_pod(struct args *a);
static int cmd_conntrack(struct args *a);

static const struct cmd cmds[] = {
	{ "attach", "DEV", "load the programs, pin them and their maps, attach XDP and tc to DEV",
	  1, 1, cmd_attach, {
		{ { "xdp-mode", required_argument, NULL, 'm' }, "auto|native|generic|tc",
		  "how the NIC's ingress is translated (default auto: native XDP on a real driver that "
		  "has it, else tc; a veth gets tc)" },
		{ { "cluster-cidr", required_argument, NULL, 'I' }, "CIDR,...",
		  "the pod network: ClusterIP traffic from outside it to another node is SNATed" },
		{ { "masquerade-all", no_argument, NULL, 'M' }, NULL,
		  "SNAT every translated flow from outside to another node (kube-proxy --masquerade-all)" },
		{ { "force", no_argument, NULL, 'f' }, NULL,
		  "replace an XDP program on DEV that is not xdpsvc's" },
		{ { "nodeport-addresses", required_argument, NULL, 'N' }, "CIDR,...",
		  "NodePorts answer on the node's addresses in these CIDRs (default: DEV's addresses)" },
		{ { "node-name", required_argument, NULL, 'O' }, "NAME",
		  "this node's name, as endpoints' nodeName says it (default: the host name)" },
		{ { "zone", required_argument, NULL, 'Z' }, "ZONE", "this node's zone, for topology hints" },
		{ { "hairpin-address", required_argument, NULL, 'H' }, "ADDR",
		  "source of a pod's packets that its Service sends back to itself (default "
		  XS_HAIRPIN_ADDR_DEFAULT ")" },
		{ { "snat-address", required_argument, NULL, 'A' }, "ADDR",
		  "source of external flows to backends on other nodes (default: DEV's first address)" },
		{ { "snat-ports", required_argument, NULL, 'W' }, "MIN-MAX",
		  "source ports of those flows (default 61000-65535)" },
		{ { "no-fast-path", no_argument, NULL, 'F' }, NULL,
		  "XDP passes translated packets to the stack instead of sending them on itself" },
		{ { "recreate-maps", no_argument, NULL, 'R' }, NULL,
		  "replace pinned maps of another layout or size with empty ones" },
		{ { "max-services", required_argument, NULL, 'S' }, "N",
		  "frontends the maps hold (default 65536)" },
		{ { "max-backends", required_argument, NULL, 'B' }, "N",
		  "distinct backends (address, port, protocol) the maps hold (default 1048576)" },
		{ { "max-slots", required_argument, NULL, 'L' }, "N",
		  "backend slots, two per backend of a frontend while its set changes (default 2097152)" },
		{ { "ct-size", required_argument, NULL, 'c' }, "N",
		  "conntrack entries, two per flow (default 262144)" },
		{ { "ct-timeout-tcp", required_argument, NULL, 'T' }, "SECONDS",
		  "idle timeout of an established TCP flow (default 21600)" },
		{ { "ct-timeout-tcp-closing", required_argument, NULL, 'C' }, "SECONDS",
		  "idle timeout after a FIN or RST (default 10)" },
		{ { "ct-timeout-udp", required_argument, NULL, 'U' }, "SECONDS",
		  "idle timeout of a UDP flow without a reply (default 30, nf_conntrack_udp_timeout)" },
		{ { "ct-timeout-udp-stream", required_argument, NULL, 'D' }, "SECONDS",
		  "idle timeout of a UDP flow that saw a reply (default 120, nf_conntrack_udp_timeout_stream)" },
		OPT_PIN, OPT_VERBOSE, OPT_HELP, OPT_END } },
	{ "detach", "DEV", "remove the XDP and tc programs from DEV",
	  1, 1, cmd_detach, {
		{ { "purge", no_argument, NULL, 'P' }, NULL, "also remove the pinned maps" },
		OPT_PIN, OPT_VERBOSE, OPT_HELP, OPT_END } },
	{ "attach-pod", "DEV...", "attach the pod program to DEVs, the node's ends of pods' veths "
	  "(pods reach Services, local backends' replies are translated)",
	  1, -1, cmd_attach_pod, {
		OPT_PIN, OPT_VERBOSE, OPT_HELP, OPT_END } },
	{ "detach-pod", "DEV...", "remove the pod program from DEVs",
	  1, -1, cmd_detach_pod, {
		OPT_PIN, OPT_VERBOSE, OPT_HELP, OPT_END } },
	{ "apply", "FILE...", "make the maps describe exactly the Services and EndpointSlices in FILEs "
	  "(JSON or YAML as kubectl prints them; - reads stdin)",
	  1, -1, cmd_apply, {
		{ { "dry-run", no_argument, NULL, 'n' }, NULL, "print the changes, write nothing" },
		{ { "watch", no_argument, NULL, 'w' }, NULL,
		  "stay running: apply again when a FILE changes or on SIGHUP; stop on SIGTERM/SIGINT" },
		{ { "allow-empty", no_argument, NULL, 'E' }, NULL,
		  "let input without any Service remove every frontend (refused otherwise)" },
		OPT_PIN, OPT_VERBOSE, OPT_HELP, OPT_END } },
	{ "list", "", "show frontends, backends and counters from the pinned maps",
	  0, 0, cmd_list, {
		{ { "json", no_argument, NULL, 'j' }, NULL, "print JSON" },
		OPT_PIN, OPT_VERBOSE, OPT_HELP, OPT_END } },
	{ "conntrack", "list|flush", "list the translated flows, or flush them (all, or one Service's)",
	  1, 1, cmd_conntrack, {
		{ { "json", no_argument, NULL, 'j' }, NULL, "list: print JSON" },
		{ { "service", required_argument, NULL, 's' }, "NS/NAME", "flush: only this Service's flows" },
		OPT_PIN, OPT_VERBOSE, OPT_HELP, OPT_END } },
};
#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage_main(FILE *f)
{
	fprintf(f, "Usage: xdpsvc COMMAND [OPTIONS] [ARGS]\n\n"
		"Kubernetes Service virtual IPs in XDP and tc, without kube-proxy.\n\nCommands:\n");
	for (size_t i = 0; i < N_CMDS; i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n'xdpsvc COMMAND --help' shows a command's options.\n");
}

static void usage_cmd(FILE *f, const struct cmd *c)
{
	fprintf(f, "Usage: xdpsvc %s %s [OPTIONS]\n\n%s\n\nOptions:\n", c->name, c->usage, c->summary);
	for (const struct opt *o = c->opts; o->o.name; o++) {
		char left[64];

		snprintf(left, sizeof(left), "--%s%s%s", o->o.name, o->arg ? " " : "", o->arg ?: "");
		fprintf(f, "  %-26s %s\n", left, o->help);
	}
}

/* GNU getopt_long permutes argv, so options may come anywhere on the line;
 * the positionals end up at argv[optind...]. Misuse returns -EINVAL. */
static int parse_args(const struct cmd *c, int argc, char **argv, struct args *a)
{
	struct option longopts[28];
	size_t n = 0;

	for (const struct opt *o = c->opts; o->o.name; o++)
		longopts[n++] = o->o;
	longopts[n] = (struct option){ 0 };
	memset(a, 0, sizeof(*a));
	a->pin = XS_PIN_PATH_DEFAULT;
	optind = 1;
	opterr = 0;
	for (int ch; (ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1;) {
		switch (ch) {
		case 'p': a->pin = optarg; break;
		case 'm': a->xdp_mode = optarg; break;
		case 'f': a->force = true; break;
		case 'R': a->recreate_maps = true; break;
		case 'F': a->cfg.flags |= XS_CFG_NO_FAST_PATH; break;
		case 'N': a->nodeport_cidrs = optarg; break;
		case 'I': a->cluster_cidrs = optarg; break;
		case 'M': a->cfg.flags |= XS_CFG_MASQ_ALL; break;
		case 'O':
		case 'Z':
			/* a node name is a DNS subdomain (253), a zone a label value (63) */
			if (strlen(optarg) > (ch == 'O' ? 253u : XS_NAME_LEN - 1u)) {
				fprintf(stderr, "xdpsvc %s: --%s is longer than %u characters\n", c->name,
					ch == 'O' ? "node-name" : "zone", ch == 'O' ? 253u : XS_NAME_LEN - 1u);
				return -EINVAL;
			}
			strcpy(ch == 'O' ? a->cfg.node_name : a->cfg.zone, optarg);
			break;
		case 'H':
		case 'A': {
			struct in_addr in;
			__u32 h;

			if (inet_pton(AF_INET, optarg, &in) != 1 || !(h = ntohl(in.s_addr)) || h >> 28 >= 14 ||
			    h >> 24 == 127) {
				fprintf(stderr, "xdpsvc %s: --%s needs a unicast IPv4 address, not '%s'\n", c->name,
					ch == 'H' ? "hairpin-address" : "snat-address", optarg);
				return -EINVAL;
			}
			*(ch == 'H' ? &a->cfg.hairpin_addr : &a->cfg.snat_addr) = in.s_addr;
			break;
		}
		case 'W': {
			unsigned lo, hi;
			int used = 0;

			if (sscanf(optarg, "%5u-%5u%n", &lo, &hi, &used) != 2 || optarg[used] || !lo || lo > hi ||
			    hi > 65535) {
				fprintf(stderr, "xdpsvc %s: --snat-ports needs MIN-MAX with 1 <= MIN <= MAX <= 65535, "
					"not '%s'\n", c->name, optarg);
				return -EINVAL;
			}
			a->cfg.snat_port_min = lo;
			a->cfg.snat_port_max = hi;
			break;
		}
		case 'P': a->purge = true; break;
		case 'n': a->dry_run = true; break;
		case 'w': a->watch = true; break;
		case 'E': a->allow_empty = true; break;
		case 'j': a->json = true; break;
		case 's': a->service = optarg; break;
		case 'v': a->verbose = true; break;
		case 'h': a->help = true; break;
		case 'c':
		case 'S':
		case 'B':
		case 'L':
		case 'T':
		case 'C':
		case 'D':
		case 'U': {
			char *end;
			unsigned long long v = strtoull(optarg, &end, 10);

			bool size = strchr("cSBL", ch);

			if (!*optarg || *end || v == 0 || v > (size ? (1ULL << 31) : 31536000ULL)) {
				fprintf(stderr, "xdpsvc %s: '%s' is not a valid %s\n", c->name, optarg,
					size ? "size (entries, 1..2^31)" : "timeout (seconds, 1..31536000)");
				return -EINVAL;
			}
			if (size)
				*(ch == 'c' ? &a->ct_size : ch == 'S' ? &a->max_services : ch == 'B' ? &a->max_backends
											  : &a->max_slots) = v;
			else
				*(ch == 'T' ? &a->cfg.ct_tcp_timeout_ns : ch == 'C' ? &a->cfg.ct_tcp_close_timeout_ns :
				  ch == 'D' ? &a->cfg.ct_udp_stream_timeout_ns : &a->cfg.ct_udp_timeout_ns) =
					v * 1000000000ULL;
			break;
		}
		case ':':
			fprintf(stderr, "xdpsvc %s: option %s needs a value\n", c->name, argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr, "xdpsvc %s: unknown option %s (see 'xdpsvc %s --help')\n", c->name,
				argv[optind - 1], c->name);
			return -EINVAL;
		}
	}
	if (a->xdp_mode && strcmp(a->xdp_mode, "native") && strcmp(a->xdp_mode, "generic") &&
	    strcmp(a->xdp_mode, "auto") && strcmp(a->xdp_mode, "tc")) {
		fprintf(stderr, "xdpsvc %s: --xdp-mode must be auto, native, generic or tc, not '%s'\n", c->name,
			a->xdp_mode);
		return -EINVAL;
	}
	a->pos = argv + optind;
	a->n_pos = argc - optind;
	return 0;
}

static int cmd_attach(struct args *a)
{
	struct xs_attach_opts o = {
		.dev = a->pos[0], .pin = a->pin, .force = a->force, .recreate_maps = a->recreate_maps,
		.mode = !a->xdp_mode || !strcmp(a->xdp_mode, "auto") ? XS_ATTACH_AUTO :
			!strcmp(a->xdp_mode, "native") ? XS_ATTACH_NATIVE :
			!strcmp(a->xdp_mode, "generic") ? XS_ATTACH_GENERIC : XS_ATTACH_TC,
		.ct_size = a->ct_size, .max_services = a->max_services, .max_backends = a->max_backends,
		.max_slots = a->max_slots, .cfg = a->cfg,
	};
	int err = xs_nodeport_addrs(o.dev, a->nodeport_cidrs, o.cfg.nodeport_addrs, &o.cfg.n_nodeport_addrs);

	if (!err && a->cluster_cidrs)
		err = xs_cluster_cidrs(a->cluster_cidrs, o.cfg.cluster_cidrs, &o.cfg.n_cluster_cidrs);
	if (err)
		return err == -EINVAL ? -XS_EMISUSE : err;
	if (!o.cfg.node_name[0] && gethostname(o.cfg.node_name, sizeof(o.cfg.node_name) - 1))
		o.cfg.node_name[0] = 0;
	if (!o.cfg.hairpin_addr)
		inet_pton(AF_INET, XS_HAIRPIN_ADDR_DEFAULT, &o.cfg.hairpin_addr);
	if (!o.cfg.snat_port_min) {
		o.cfg.snat_port_min = XS_SNAT_PORT_MIN_DEFAULT;
		o.cfg.snat_port_max = XS_SNAT_PORT_MAX_DEFAULT;
	}
	if (!o.cfg.snat_addr) {
		__be32 own[XS_MAX_NODEPORT_ADDRS];
		__u32 n = 0;

		err = xs_nodeport_addrs(o.dev, NULL, own, &n);
		if (err)
			return err;
		if (n)
			o.cfg.snat_addr = own[0];
	}
	char why[256] = "";
	__u32 mode = 0;

	err = xs_attach(&o, &mode, why, sizeof(why));
	if (err)
		return err;
	printf("attached to %s (%s), state pinned under %s\n", o.dev, why, o.pin);
	if (!o.cfg.snat_addr)
		fprintf(stderr, "xdpsvc: note: %s has no IPv4 address and no --snat-address was given: external "
			"flows to backends on other nodes keep their source (their replies will not come back "
			"through this node)\n", o.dev);
	return 0;
}

static int cmd_detach(struct args *a)
{
	int err = xs_detach(a->pos[0], a->pin, a->purge);

	if (!err)
		printf("detached from %s%s\n", a->pos[0], a->purge ? ", pinned maps removed" : "");
	return err;
}

static int cmd_attach_pod(struct args *a)
{
	int err = xs_attach_pod((const char *const *)a->pos, a->n_pos, a->pin);

	for (int i = 0; !err && i < a->n_pos; i++)
		printf("attached the pod program to %s\n", a->pos[i]);
	return err;
}

static int cmd_detach_pod(struct args *a)
{
	int err = xs_detach_pod((const char *const *)a->pos, a->n_pos, a->pin);

	for (int i = 0; !err && i < a->n_pos; i++)
		printf("detached the pod program from %s\n", a->pos[i]);
	return err;
}

static int cmd_apply(struct args *a)
{
	struct xs_apply_req req = {
		.pin = a->pin, .files = (const char *const *)a->pos, .nfiles = a->n_pos,
		.dry_run = a->dry_run, .allow_empty = a->allow_empty,
	};

	if (a->watch) {
		if (a->dry_run) {
			fprintf(stderr, "xdpsvc apply: --watch and --dry-run do not go together\n");
			return -XS_EMISUSE;
		}
		return xs_watch(&req);
	}
	return xs_apply_files(&req, stdout, NULL);
}

static int cmd_list(struct args *a)
{
	struct xs_maps maps;
	int err = xs_pin_dir_ensure(a->pin, false);

	if (err)
		return err;
	err = xs_maps_open(a->pin, &maps);
	if (err)
		return err;
	err = xs_list(&maps, a->json, stdout);
	xs_maps_close(&maps);
	return err;
}

static int cmd_conntrack(struct args *a)
{
	bool list = !strcmp(a->pos[0], "list");
	char ns[XS_NAME_LEN] = "", *name = NULL;
	unsigned long flushed;
	struct xs_maps maps;
	int err;

	if (!list && strcmp(a->pos[0], "flush")) {
		fprintf(stderr, "xdpsvc conntrack: expected list or flush, not '%s'\n", a->pos[0]);
		return -XS_EMISUSE;
	}
	if (a->service) {
		const char *slash = strchr(a->service, '/');

		if (list || !slash || slash == a->service || !slash[1] || slash - a->service >= XS_NAME_LEN) {
			fprintf(stderr, "xdpsvc conntrack: --service takes NAMESPACE/NAME and goes with flush\n");
			return -XS_EMISUSE;
		}
		memcpy(ns, a->service, slash - a->service);
		name = (char *)slash + 1;
	}
	err = xs_pin_dir_ensure(a->pin, false) ?: xs_maps_open(a->pin, &maps);
	if (err)
		return err;
	if (list) {
		err = xs_ct_list(&maps, a->json, stdout);
	} else {
		/* Serialised with attach and other flushes: both write xs_config. */
		int lock = xs_pin_dir_lock(a->pin);

		err = lock < 0 ? lock : xs_ct_flush(&maps, name ? ns : NULL, name, &flushed);
		if (lock >= 0)
			close(lock);
		if (!err)
			printf("conntrack: %lu entries flushed\n", flushed);
	}
	xs_maps_close(&maps);
	return err;
}

int main(int argc, char **argv)
{
	const struct cmd *c = NULL;
	struct args a;
	int err;

	if (argc < 2) {
		usage_main(stderr);
		return EXIT_MISUSE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage_main(stdout);
		return 0;
	}
	for (size_t i = 0; i < N_CMDS; i++)
		if (!strcmp(argv[1], cmds[i].name))
			c = &cmds[i];
	if (!c) {
		fprintf(stderr, "xdpsvc: unknown command '%s'\n\n", argv[1]);
		usage_main(stderr);
		return EXIT_MISUSE;
	}
	if (parse_args(c, argc - 1, argv + 1, &a))
		return EXIT_MISUSE;
	if (a.help) {
		usage_cmd(stdout, c);
		return 0;
	}
	if (a.n_pos < c->min_pos || (c->max_pos >= 0 && a.n_pos > c->max_pos)) {
		fprintf(stderr, "xdpsvc %s: expected %s%s\n", c->name, c->usage[0] ? c->usage : "no arguments",
			a.n_pos < c->min_pos ? "" : ", got more arguments");
		usage_cmd(stderr, c);
		return EXIT_MISUSE;
	}
	xs_libbpf_logging(a.verbose);
	err = c->run(&a);
	return err == -XS_EMISUSE ? EXIT_MISUSE : err ? 1 : 0;
}
