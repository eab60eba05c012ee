// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pktbench: per-packet cost of the datapath, measured with BPF_PROG_TEST_RUN.
 *
 *   pktbench [--services 10,1000,10000,100000] [--repeat N] [--flows N]
 *            [--runs K] [--ct-size N] [--cpu C] [--json PATH]
 *
 * Both skeletons are loaded the way tests/test_datapath.c loads them: pin
 * paths cleared, the tc object reusing the XDP object's maps; nothing is
 * pinned or attached, and every object goes with the process. The maps are
 * sized for the largest run before load (bpf_map__set_max_entries) and stay
 * that size for every run, so that only the state in them changes:
 * xs_services / xs_svc_stats / xs_svc_meta 131072, xs_slots and xs_backends
 * 2^21, xs_conntrack --ct-size (1,048,576).
 *
 * The Services are written by the loader's own xs_apply() from a generated
 * model, changed from one count to the next (xs_apply writes the difference): frontend i is 10.96.0.0+i:80/TCP
 * with 10 backends 10.128.0.0+10i+j:8080 (distinct pods), except frontends 0
 * and 1 (see "hit" below). For each count, conntrack is "empty" (nothing but
 * the entries of the flow under test) and "full" (filled with
 * bpf_map_update_batch with --ct-size synthetic entries, so that the LRU is
 * at capacity and every insert evicts).
 *
 * Cases, per (Services, conntrack):
 *   floor  a 2-instruction XDP program (r0 = XDP_PASS; exit), loaded from raw
 *          instructions; also a 2-instruction tc program (TC_ACT_OK) for the
 *          skb path. Same test-run machinery, no work: the floor.
 *   miss   xs_xdp_ingress, TCP to 10.200.0.1:80, not a frontend.
 *   hit    xs_xdp_ingress, TCP ACK of an established flow.
 *   reply  xs_tc_egress, the backend's reply matching a REV entry.
 *   new    xs_xdp_ingress, TCP SYN of a flow conntrack has never seen.
 *
 * The trap of repeat: BPF_PROG_TEST_RUN runs the program `repeat` times on
 * ONE buffer and does not restore it between runs, so what iteration 1
 * rewrites, iteration 2 sees. A DNATed packet comes back addressed to the
 * backend: with a plain client -> VIP packet only the first of a million runs
 * would be a hit and the rest misses. So:
 *
 * - hit and reply use a two-service cycle: frontend A (10.96.0.0:80) has the
 *   one backend B:80 and frontend B (10.96.0.1:80) the one backend A:80. A
 *   client's flow to A and its flow to B are both established first (two
 *   single runs). Then the client -> A packet is translated to B, the next
 *   iteration sees client -> B, an established flow, and translates it back
 *   to A, and so on: every iteration does exactly the established-flow work
 *   (parse, service lookup, conntrack hit, backend liveness check, rewrite)
 *   on one of two real conntrack entries. Likewise the reply B:80 -> client
 *   leaves as A:80 -> client, which matches the REV entry of the other flow.
 *   The global counters prove it: `hit` (`reply_nat`) grows by exactly
 *   repeat, `new_flow` by 0, or the run is rejected.
 *
 * - new flow cannot reuse one buffer at all (with the same 5-tuple, the second
 *   iteration is an established flow). It is measured with repeat=1 over
 *   --flows distinct packets (client 172.16.0.0 + k/1024, port 10000 + k%1024),
 *   summing the kernel-reported durations. With repeat=1 that duration still
 *   excludes the syscall, the frame allocation and the copy, but includes
 *   once per packet what repeat amortizes: one ktime_get_ns() and the loop's
 *   bookkeeping. The floor and a hit are therefore measured the same way
 *   (repeat=1 over --flows packets), and a new flow's ratio is taken to that
 *   repeat=1 floor; the "hit r=1" row, against "hit", shows the size of the
 *   method's constant. In the "empty" variant conntrack is flushed (outside
 *   the timed region) every 8192 flows, so it never holds more than 16384 of
 *   its entries; in the "full" variant it is not, and every new flow's two
 *   inserts evict two older entries. `new_flow` must grow by exactly --flows
 *   and `drop_ct_full` by 0.
 *
 * Everything is reported as measured: the kernel's duration is an integer
 * average in ns per run (truncated), the median of --runs runs is shown.
 * Output: one table on stdout, JSON (with every run) to --json.
 * Needs root. Pins itself to one CPU (--cpu, default the last one).
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include "bpf_objs.h"
#include "maps.h"
#include "model.h"
#include "pkt.h"

#define SVC_CAP (1u << 17)       /* 131072 frontends */
#define BE_CAP (1u << 21)        /* backends */
#define SLOT_CAP (1u << 21)      /* slots */
#define N_BACKENDS 10
#define NF_FLUSH_EVERY 8192      /* "empty" conntrack: flush after this many new flows */
#define MAX_RUNS 64
#define MAX_ROWS 256

#define VIP_BASE 0x0a600000u     /* 10.96.0.0 */
#define POD_BASE 0x0a800000u     /* 10.128.0.0 */
#define MISS_ADDR 0x0ac80001u    /* 10.200.0.1: no frontend */
#define HIT_CLIENT 0xc0a80001u   /* 192.168.0.1 */
#define HIT_SPORT 40000
#define NEW_CLIENT 0xac100000u   /* 172.16.0.0 */
#define SYN_CLIENT 0x64400000u   /* 100.64.0.0: synthetic conntrack entries */

static struct xs_xdp *X;
static struct xs_tc *T;
static struct xs_maps M;
static int xdp_fd, tc_egress_fd, pass_fd = -1, tc_ok_fd = -1;
static __u32 ct_cap = 1u << 20;
static __u32 repeat = 1000000, flows = 1000000;
static int runs = 5;

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "pktbench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ objects */

/* Sizes for 100,000 Services and the conntrack of --ct-size, before load. */
static bool size_maps(struct xs_xdp *x)
{
	return !bpf_map__set_max_entries(x->maps.xs_services, SVC_CAP) &&
	       !bpf_map__set_max_entries(x->maps.xs_svc_stats, SVC_CAP) &&
	       !bpf_map__set_max_entries(x->maps.xs_svc_meta, SVC_CAP) &&
	       !bpf_map__set_max_entries(x->maps.xs_cluster_ips, SVC_CAP) &&
	       !bpf_map__set_max_entries(x->maps.xs_ct_assured, ct_cap) &&
	       !bpf_map__set_max_entries(x->maps.xs_slots, SLOT_CAP) &&
	       !bpf_map__set_max_entries(x->maps.xs_backends, BE_CAP) &&
	       !bpf_map__set_max_entries(x->maps.xs_conntrack, ct_cap);
}

static void setup(void)
{
	char why[512];

	if (xs_test_load(&X, &T, size_maps, &M, why, sizeof(why)))
		die("%s", why);
	xdp_fd = bpf_program__fd(X->progs.xs_xdp_ingress);
	tc_egress_fd = bpf_program__fd(T->progs.xs_tc_egress);

	/* The floors: r0 = verdict; exit. No clang, no BTF. */
	struct bpf_insn pass[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	pass_fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xs_bench_pass", "GPL", pass, 2, NULL);
	if (pass_fd < 0)
		die("loading the XDP_PASS program: %s", strerror(errno));
	pass[0].imm = TC_ACT_OK;
	tc_ok_fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "xs_bench_tcok", "GPL", pass, 2, NULL);
	if (tc_ok_fd < 0)
		die("loading the TC_ACT_OK program: %s", strerror(errno));
}

static void teardown(void)
{
	if (pass_fd >= 0)
		close(pass_fd);
	if (tc_ok_fd >= 0)
		close(tc_ok_fd);
	xs_tc__destroy(T);
	xs_xdp__destroy(X);
}

/* ------------------------------------------------------------ services */

static void set_v4(struct xs_addr *a, __u32 host)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->v4.s_addr = htonl(host);
}

/* n frontends: 0 and 1 the hit cycle (one backend each: the other's VIP:80),
 * the rest 10 backends each. */
static void apply_services(unsigned n)
{
	struct xs_model m = { .n = n, .fe = calloc(n, sizeof(struct xs_frontend)) };
	struct xs_apply_result r;
	int err;

	if (!m.fe)
		die("out of memory");
	for (unsigned i = 0; i < n; i++) {
		struct xs_frontend *f = &m.fe[i];
		bool cyc = i < 2;

		snprintf(f->ns, sizeof(f->ns), "bench");
		snprintf(f->name, sizeof(f->name), "svc-%06u", i);
		f->proto = PKT_IPPROTO_TCP;
		f->port = 80;
		set_v4(&f->vip, VIP_BASE + i);
		f->n_backends = cyc ? 1 : N_BACKENDS;
		f->backends = calloc(f->n_backends, sizeof(*f->backends));
		if (!f->backends)
			die("out of memory");
		for (size_t j = 0; j < f->n_backends; j++) {
			if (cyc) {
				set_v4(&f->backends[j].addr, VIP_BASE + (i ^ 1));
				f->backends[j].port = 80;
			} else {
				set_v4(&f->backends[j].addr, POD_BASE + i * N_BACKENDS + (unsigned)j);
				f->backends[j].port = 8080;
			}
		}
	}
	xs_model_normalize(&m);
	err = xs_apply(&M, &m, false, NULL, &r, NULL);
	xs_model_free(&m);
	if (err)
		die("xs_apply of %u frontends: %s", n, strerror(-err));
}

/* ------------------------------------------------------------ counters */

static struct xs_global_stats gstats(void)
{
	struct xs_global_stats *v = calloc((size_t)M.ncpus, sizeof(*v)), s = {};
	__u32 zero = 0;

	if (!v || bpf_map_lookup_elem(M.global_stats, &zero, v))
		die("reading xs_global_stats: %s", strerror(errno));
	for (int c = 0; c < M.ncpus; c++) {
		s.pass_miss += v[c].pass_miss;
		s.hit += v[c].hit;
		s.new_flow += v[c].new_flow;
		s.drop_ct_full += v[c].drop_ct_full;
		s.no_backend += v[c].no_backend;
		s.ct_expired += v[c].ct_expired;
		s.reply_nat += v[c].reply_nat;
		s.pass_malformed += v[c].pass_malformed;
	}
	free(v);
	return s;
}

/* What a measurement must have done, per packet. */
struct expect {
	__u64 pass_miss, hit, new_flow, reply_nat;
};

static void check_counters(const char *what, const struct xs_global_stats *a, const struct xs_global_stats *b,
			   const struct expect *e, __u64 n)
{
#define CK(f, want)                                                                                     \
	if (b->f - a->f != (want))                                                                      \
		die("%s: counter " #f " grew by %llu over %llu packets, want %llu: the measurement did "   \
		    "not run the path it claims", what, (unsigned long long)(b->f - a->f),               \
		    (unsigned long long)n, (unsigned long long)(want));
	CK(pass_miss, e->pass_miss * n)
	CK(hit, e->hit * n)
	CK(new_flow, e->new_flow * n)
	CK(reply_nat, e->reply_nat * n)
	CK(drop_ct_full, 0)
	CK(no_backend, 0)
	CK(ct_expired, 0)
	CK(pass_malformed, 0)
#undef CK
}

/* ------------------------------------------------------------ conntrack */

static unsigned long ct_count_fd(int fd)
{
	const __u32 chunk = 65536;
	struct xs_ct_key *k = malloc(chunk * sizeof(*k));
	struct xs_ct_value *v = malloc(chunk * sizeof(*v));
	__u64 batch = 0;
	unsigned long n = 0;
	bool first = true;

	if (!k || !v)
		die("out of memory");
	for (;;) {
		__u32 cnt = chunk;
		int err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, k, v, &cnt, NULL);

		first = false;
		n += cnt;
		if (err) {
			if (errno == ENOENT)
				break;
			die("counting conntrack: %s", strerror(errno));
		}
	}
	free(k);
	free(v);
	return n;
}

/* Entries of both conntrack tables (new flows', assured ones'). */
static unsigned long ct_count(void)
{
	return ct_count_fd(M.ct) + ct_count_fd(M.ct_assured);
}

static void ct_flush_fd(int fd)
{
	const __u32 chunk = 65536;
	struct xs_ct_key *k = malloc(chunk * sizeof(*k));
	struct xs_ct_value *v = malloc(chunk * sizeof(*v));

	if (!k || !v)
		die("out of memory");
	for (;;) {
		__u64 batch = 0;
		__u32 cnt = chunk;
		int err = bpf_map_lookup_and_delete_batch(fd, NULL, &batch, k, v, &cnt, NULL);

		if (err && errno != ENOENT)
			die("flushing conntrack: %s", strerror(errno));
		if (err || !cnt) {
			/* ENOENT: that batch reached the end; go round until nothing is left */
			if (!cnt)
				break;
		}
	}
	free(k);
	free(v);
}

static void ct_flush(void)
{
	ct_flush_fd(M.ct);
	ct_flush_fd(M.ct_assured);
	if (ct_count())
		die("conntrack not empty after a flush");
}

/* Fill conntrack with ct_cap synthetic flows' entries (FWD and REV of
 * ct_cap/2 flows from 100.64.0.0/10 to the n services). */
static void ct_fill(unsigned n_svc)
{
	const __u32 chunk = 65536;
	struct xs_ct_key *k = calloc(chunk, sizeof(*k));
	struct xs_ct_value *v = calloc(chunk, sizeof(*v));
	LIBBPF_OPTS(bpf_map_batch_opts, bo, .elem_flags = BPF_ANY);
	struct timespec ts;
	__u64 now;

	if (!k || !v)
		die("out of memory");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
	for (__u32 base = 0; base < ct_cap; base += chunk) {
		__u32 cnt = ct_cap - base < chunk ? ct_cap - base : chunk;

		for (__u32 x = 0; x < cnt; x++) {
			__u32 i = base + x, f = i / 2, svc = 2 + f % (n_svc > 2 ? n_svc - 2 : 1);
			__u32 client = SYN_CLIENT + (f >> 6), be = POD_BASE + svc * N_BACKENDS + f % N_BACKENDS;
			__u16 sport = (__u16)(20000 + (f & 63));

			if (i & 1)
				k[x] = (struct xs_ct_key){ .saddr = htonl(be), .daddr = htonl(client), .sport = htons(8080),
							   .dport = htons(sport), .proto = PKT_IPPROTO_TCP,
							   .dir = XS_CT_REV };
			else
				k[x] = (struct xs_ct_key){ .saddr = htonl(client), .daddr = htonl(VIP_BASE + svc),
							   .sport = htons(sport), .dport = htons(80),
							   .proto = PKT_IPPROTO_TCP, .dir = XS_CT_FWD };
			v[x] = (struct xs_ct_value){ .nat_addr = htonl(i & 1 ? VIP_BASE + svc : be),
						     .nat_port = htons(i & 1 ? 80 : 8080), .svc_id = svc,
						     .last_seen = now };
		}
		if (bpf_map_update_batch(M.ct, k, v, &cnt, &bo))
			die("filling conntrack at %u: %s", base + cnt, strerror(errno));
	}
	free(k);
	free(v);
}

/* ------------------------------------------------------------ packets and runs */

static void mkpkt(struct pkt *p, __u32 saddr, __u16 sport, __u32 daddr, __u16 dport, __u8 flags)
{
	char s[16], d[16];
	struct pkt_spec sp = { .proto = PKT_IPPROTO_TCP, .saddr = pkt_ipstr(saddr, s), .daddr = pkt_ipstr(daddr, d),
			       .sport = sport, .dport = dport, .payload = 0, .tcp_flags = flags };

	pkt_build(p, &sp);
}

/* One BPF_PROG_TEST_RUN: kernel ns per run, wall ns per run around the call. */
static __u32 run1(int fd, const struct pkt *in, __u32 rep, __u32 want_ret, double *wall_ns)
{
	static struct pkt out;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->b, .data_size_in = (__u32)in->len, .data_out = out.b,
		    .data_size_out = sizeof(out.b), .repeat = rep);
	double t0 = wall_ns ? now_s() : 0;

	if (bpf_prog_test_run_opts(fd, &o))
		die("BPF_PROG_TEST_RUN: %s", strerror(errno));
	if (wall_ns)
		*wall_ns = (now_s() - t0) * 1e9 / rep;
	if (o.retval != want_ret)
		die("BPF_PROG_TEST_RUN: retval %u, want %u", o.retval, want_ret);
	return o.duration;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct row {
	char kase[16];
	char prog[16];
	unsigned services;
	char ct[8];
	unsigned long ct_entries;
	char method[16];      /* "repeat" or "repeat=1" */
	double ns;            /* median of runs (repeat) or the mean over flows (repeat=1) */
	double floor_ns;      /* the XDP_PASS floor measured the same way */
	double wall_ns;       /* median wall time per packet around the syscall (repeat only) */
	double run_ns[MAX_RUNS];
	int nruns;
	bool is_floor_r1;
};

static struct row rows[MAX_ROWS];
static int nrows;

static struct row *add_row(const char *kase, const char *prog, unsigned svc, const char *ct,
			   unsigned long ct_entries, const char *method)
{
	struct row *r;

	if (nrows == MAX_ROWS)
		die("too many rows");
	r = &rows[nrows++];
	memset(r, 0, sizeof(*r));
	snprintf(r->kase, sizeof(r->kase), "%s", kase);
	snprintf(r->prog, sizeof(r->prog), "%s", prog);
	r->services = svc;
	snprintf(r->ct, sizeof(r->ct), "%s", ct);
	r->ct_entries = ct_entries;
	snprintf(r->method, sizeof(r->method), "%s", method);
	return r;
}

/* `runs` runs of `repeat` iterations of one packet; the median. */
static void measure_repeat(struct row *r, int fd, const struct pkt *in, __u32 want_ret, const struct expect *e)
{
	double wall[MAX_RUNS], sorted[MAX_RUNS];
	struct xs_global_stats a, b;

	for (int i = 0; i < runs; i++) {
		a = gstats();
		r->run_ns[i] = run1(fd, in, repeat, want_ret, &wall[i]);
		b = gstats();
		if (e)
			check_counters(r->kase, &a, &b, e, repeat);
	}
	r->nruns = runs;
	memcpy(sorted, r->run_ns, sizeof(double) * runs);
	qsort(sorted, runs, sizeof(double), cmp_dbl);
	r->ns = runs % 2 ? sorted[runs / 2] : (sorted[runs / 2 - 1] + sorted[runs / 2]) / 2;
	qsort(wall, runs, sizeof(double), cmp_dbl);
	r->wall_ns = runs % 2 ? wall[runs / 2] : (wall[runs / 2 - 1] + wall[runs / 2]) / 2;
}

/* repeat=1 over `flows` packets; kind 0: floor, 1: hit (fresh copy of the
 * established flow's packet each time), 2: new flows. flush: flush conntrack
 * every NF_FLUSH_EVERY flows (outside the timed region). */
static void measure_r1(struct row *r, int fd, int kind, unsigned new_svc, bool flush)
{
	struct xs_global_stats a = gstats(), b;
	struct expect e = { 0 };
	__u64 sum = 0;
	struct pkt p;

	if (kind == 1)
		mkpkt(&p, HIT_CLIENT, HIT_SPORT, VIP_BASE, 80, 0);
	else
		mkpkt(&p, NEW_CLIENT, 10000, VIP_BASE + new_svc, 80, 0x02);
	for (__u32 k = 0; k < flows; k++) {
		if (kind == 2) {
			if (flush && k && k % NF_FLUSH_EVERY == 0)
				ct_flush();
			pkt_put32(&p, p.l3 + PKT_IP_SADDR, NEW_CLIENT + (k >> 10));
			pkt_put16(&p, p.l4, (uint16_t)(10000 + (k & 1023)));
			pkt_fix_csums(&p, false);
		}
		sum += run1(fd, &p, 1, XDP_PASS, NULL);
	}
	b = gstats();
	if (kind == 1)
		e.hit = 1;
	if (kind == 2)
		e.hit = e.new_flow = 1;
	if (kind)
		check_counters(r->kase, &a, &b, &e, flows);
	r->ns = (double)sum / flows;
	r->nruns = 1;
	r->run_ns[0] = r->ns;
}

/* The client's flows to A and to B, established by two single runs. */
static void prime_cycle(void)
{
	struct xs_global_stats a = gstats(), b;
	struct pkt p, q;
	__u32 ret;

	mkpkt(&p, HIT_CLIENT, HIT_SPORT, VIP_BASE, 80, 0);
	mkpkt(&q, HIT_CLIENT, HIT_SPORT, VIP_BASE + 1, 80, 0);
	for (int i = 0; i < 2; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = i ? q.b : p.b, .data_size_in = (__u32)p.len, .repeat = 1);

		if (bpf_prog_test_run_opts(xdp_fd, &o))
			die("priming: %s", strerror(errno));
		ret = o.retval;
		if (ret != XDP_PASS)
			die("priming: retval %u", ret);
	}
	b = gstats();
	if (b.new_flow - a.new_flow != 2)
		die("priming the hit cycle made %llu new flows, want 2",
		    (unsigned long long)(b.new_flow - a.new_flow));
}

/* ------------------------------------------------------------ one configuration */

static void run_config(unsigned svc, bool full)
{
	const char *ct = full ? "full" : "empty";
	struct expect e_miss = { .pass_miss = 1 }, e_hit = { .hit = 1 }, e_reply = { .reply_nat = 1 };
	unsigned long ents;
	struct pkt miss, hit, reply;
	struct row *fl, *fl1, *r;
	double t0 = now_s();

	ct_flush();
	if (full)
		ct_fill(svc);
	prime_cycle();
	ents = ct_count();

	mkpkt(&miss, HIT_CLIENT, HIT_SPORT + 1, MISS_ADDR, 80, 0);
	mkpkt(&hit, HIT_CLIENT, HIT_SPORT, VIP_BASE, 80, 0);
	mkpkt(&reply, VIP_BASE + 1, 80, HIT_CLIENT, HIT_SPORT, 0);

	fl = add_row("floor", "xdp_pass", svc, ct, ents, "repeat");
	measure_repeat(fl, pass_fd, &miss, XDP_PASS, NULL);
	r = add_row("floor", "tc_ok", svc, ct, ents, "repeat");
	measure_repeat(r, tc_ok_fd, &reply, TC_ACT_OK, NULL);
	r->floor_ns = fl->ns;
	r = add_row("miss", "xdp", svc, ct, ents, "repeat");
	measure_repeat(r, xdp_fd, &miss, XDP_PASS, &e_miss);
	r->floor_ns = fl->ns;
	r = add_row("hit", "xdp", svc, ct, ents, "repeat");
	measure_repeat(r, xdp_fd, &hit, XDP_PASS, &e_hit);
	r->floor_ns = fl->ns;
	r = add_row("reply", "tc_egress", svc, ct, ents, "repeat");
	measure_repeat(r, tc_egress_fd, &reply, TC_ACT_OK, &e_reply);
	r->floor_ns = fl->ns;
	fl->floor_ns = fl->ns;

	fl1 = add_row("floor", "xdp_pass", svc, ct, ents, "repeat=1");
	measure_r1(fl1, pass_fd, 0, 0, false);
	fl1->floor_ns = fl1->ns;
	fl1->is_floor_r1 = true;
	r = add_row("hit", "xdp", svc, ct, ents, "repeat=1");
	measure_r1(r, xdp_fd, 1, 0, false);
	r->floor_ns = fl1->ns;
	r = add_row("new", "xdp", svc, ct, ents, "repeat=1");
	measure_r1(r, xdp_fd, 2, svc - 1, !full);
	r->floor_ns = fl1->ns;
	fprintf(stderr, "pktbench: %u services, conntrack %s (%lu entries): %.1f s\n", svc, ct, ents,
		now_s() - t0);
}

/* ------------------------------------------------------------ output */

static const struct row *find(const char *kase, const char *prog, unsigned svc, const char *ct, const char *method)
{
	for (int i = 0; i < nrows; i++)
		if (!strcmp(rows[i].kase, kase) && !strcmp(rows[i].prog, prog) && rows[i].services == svc &&
		    !strcmp(rows[i].ct, ct) && !strcmp(rows[i].method, method))
			return &rows[i];
	return NULL;
}

struct check {
	char name[96];
	double ratio, limit;
	bool met;
};

static struct check checks[64];
static int nchecks;

static void derive_checks(unsigned lo, unsigned hi)
{
	static const char *const cts[] = { "empty", "full" };
	static const struct { const char *kase, *prog, *method; } sc[] = {
		{ "hit", "xdp", "repeat" }, { "new", "xdp", "repeat=1" }, { "miss", "xdp", "repeat" },
	};

	for (size_t c = 0; c < 2; c++)
		for (size_t s = 0; s < sizeof(sc) / sizeof(sc[0]); s++) {
			const struct row *a = find(sc[s].kase, sc[s].prog, lo, cts[c], sc[s].method);
			const struct row *b = find(sc[s].kase, sc[s].prog, hi, cts[c], sc[s].method);
			struct check *k;

			if (!a || !b || lo == hi)
				continue;
			k = &checks[nchecks++];
			snprintf(k->name, sizeof(k->name), "%s: %u vs %u Services, conntrack %s", sc[s].kase, hi, lo,
				 cts[c]);
			k->ratio = a->ns > 0 ? b->ns / a->ns : 0;
			k->limit = 1.20;
			k->met = a->ns > 0 && k->ratio <= k->limit;
		}
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		struct check *k;

		if (strcmp(r->kase, "miss"))
			continue;
		k = &checks[nchecks++];
		snprintf(k->name, sizeof(k->name), "miss vs XDP_PASS floor: %u Services, conntrack %s", r->services,
			 r->ct);
		k->ratio = r->floor_ns > 0 ? r->ns / r->floor_ns : 0;
		k->limit = 2.0;
		k->met = r->floor_ns > 0 && k->ratio <= k->limit;
	}
}

static void print_table(FILE *f)
{
	fprintf(f, "\nper-packet cost, BPF_PROG_TEST_RUN (repeat=%u, median of %d runs; repeat=1 rows: mean over %u "
		   "packets)\n",
		repeat, runs, flows);
	fprintf(f, "%-6s %-10s %9s %-6s %10s %-9s %9s %9s\n", "case", "program", "services", "ct", "ct_entries",
		"method", "ns/pkt", "x floor");
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];

		fprintf(f, "%-6s %-10s %9u %-6s %10lu %-9s %9.1f ", r->kase, r->prog, r->services, r->ct,
			r->ct_entries, r->method, r->ns);
		if (r->floor_ns > 0)
			fprintf(f, "%9.2f\n", r->ns / r->floor_ns);
		else
			fprintf(f, "%9s\n", "-");
	}
	fprintf(f, "(x floor: to the XDP_PASS floor measured the same way, in the same configuration)\n");
	fprintf(f, "\ntargets\n");
	for (int i = 0; i < nchecks; i++)
		fprintf(f, "  %-58s ratio %5.2f (limit %.2f) %s\n", checks[i].name, checks[i].ratio, checks[i].limit,
			checks[i].met ? "PASS" : "MISS");
}

static void write_json(const char *path, const unsigned *svcs, int nsvc)
{
	struct utsname u;
	FILE *f = fopen(path, "w");

	if (!f)
		die("cannot write %s: %s", path, strerror(errno));
	uname(&u);
	fprintf(f, "{\n  \"kernel\": \"%s\",\n  \"cpus\": %d,\n  \"repeat\": %u,\n  \"runs\": %d,\n"
		   "  \"flows\": %u,\n  \"backends_per_service\": %d,\n  \"ct_capacity\": %u,\n"
		   "  \"services_capacity\": %u,\n  \"services\": [",
		u.release, M.ncpus, repeat, runs, flows, N_BACKENDS, ct_cap, SVC_CAP);
	for (int i = 0; i < nsvc; i++)
		fprintf(f, "%s%u", i ? "," : "", svcs[i]);
	fprintf(f, "],\n  \"new_flow_method\": \"repeat=1 over `flows` distinct 5-tuples, kernel durations summed; "
		   "conntrack 'empty' flushed every %d flows\",\n"
		   "  \"hit_method\": \"repeat over a two-Service cycle A->B, B->A: every iteration an established "
		   "flow\",\n  \"rows\": [\n",
		NF_FLUSH_EVERY);
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];

		fprintf(f, "    {\"case\": \"%s\", \"program\": \"%s\", \"services\": %u, \"ct\": \"%s\", "
			   "\"ct_entries\": %lu, \"method\": \"%s\", \"ns_per_pkt\": %.2f, ",
			r->kase, r->prog, r->services, r->ct, r->ct_entries, r->method, r->ns);
		if (r->floor_ns > 0)
			fprintf(f, "\"floor_ns\": %.2f, \"ratio_to_floor\": %.3f, ", r->floor_ns, r->ns / r->floor_ns);
		else
			fprintf(f, "\"floor_ns\": null, \"ratio_to_floor\": null, ");
		if (!strcmp(r->method, "repeat")) {
			fprintf(f, "\"wall_ns_per_pkt\": %.2f, \"runs_ns\": [", r->wall_ns);
			for (int j = 0; j < r->nruns; j++)
				fprintf(f, "%s%.0f", j ? "," : "", r->run_ns[j]);
			fprintf(f, "]}");
		} else {
			fprintf(f, "\"packets\": %u}", flows);
		}
		fprintf(f, "%s\n", i + 1 < nrows ? "," : "");
	}
	fprintf(f, "  ],\n  \"checks\": [\n");
	for (int i = 0; i < nchecks; i++)
		fprintf(f, "    {\"name\": \"%s\", \"ratio\": %.3f, \"limit\": %.2f, \"met\": %s}%s\n", checks[i].name,
			checks[i].ratio, checks[i].limit, checks[i].met ? "true" : "false", i + 1 < nchecks ? "," : "");
	fprintf(f, "  ]\n}\n");
	if (fclose(f))
		die("writing %s: %s", path, strerror(errno));
}

/* ------------------------------------------------------------ main */

static unsigned long parse_num(const char *s, unsigned long min, unsigned long max, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		die("bad %s '%s' (%lu..%lu)", what, s, min, max);
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "services", required_argument, NULL, 's' }, { "repeat", required_argument, NULL, 'r' },
		{ "flows", required_argument, NULL, 'f' },    { "runs", required_argument, NULL, 'k' },
		{ "ct-size", required_argument, NULL, 'c' },  { "cpu", required_argument, NULL, 'p' },
		{ "json", required_argument, NULL, 'j' },     { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned svcs[16] = { 10, 1000, 10000, 100000 };
	int nsvc = 4, cpu = -1, c;
	const char *json = NULL;
	double t0 = now_s();

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': {
			char *s = strdup(optarg), *save = NULL, *tok;

			nsvc = 0;
			for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (nsvc == 16)
					die("at most 16 Service counts");
				svcs[nsvc++] = (unsigned)parse_num(tok, 3, SVC_CAP, "service count");
			}
			free(s);
			if (!nsvc)
				die("no service count");
			break;
		}
		case 'r': repeat = (__u32)parse_num(optarg, 1, 1000000000, "repeat"); break;
		case 'f': flows = (__u32)parse_num(optarg, 1, 1u << 24, "flows"); break;
		case 'k': runs = (int)parse_num(optarg, 1, MAX_RUNS, "runs"); break;
		case 'c': ct_cap = (__u32)parse_num(optarg, 1024, 1u << 26, "ct size"); break;
		case 'p': cpu = (int)parse_num(optarg, 0, 4095, "cpu"); break;
		case 'j': json = optarg; break;
		default:
			fprintf(stderr, "usage: %s [--services 10,1000,10000,100000] [--repeat N] [--flows N] "
					"[--runs K] [--ct-size N] [--cpu C] [--json PATH]\n",
				argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}

	/* One CPU for the whole run: test runs stay on the CPU they start on
	 * (per-CPU counters, LRU local lists), and so does everything between. */
	if (cpu < 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		cpu = n > 0 ? (int)n - 1 : 0;
	}
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("cannot pin to CPU %d: %s", cpu, strerror(errno));

	setup();
	for (int i = 0; i < nsvc; i++) {
		double ta = now_s();

		apply_services(svcs[i]);
		fprintf(stderr, "pktbench: applied %u services x %d backends in %.1f s\n", svcs[i], N_BACKENDS,
			now_s() - ta);
		run_config(svcs[i], false);
		run_config(svcs[i], true);
	}
	ct_flush();
	derive_checks(svcs[0], svcs[nsvc - 1]);
	print_table(stdout);
	fflush(stdout);
	if (json)
		write_json(json, svcs, nsvc);
	teardown();
	fprintf(stderr, "pktbench: done in %.1f s\n", now_s() - t0);
	return 0;
}
