// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_datapath: the XDP and tc programs run through BPF_PROG_TEST_RUN on
 * frames built here, with the maps filled by the loader's own xs_apply().
 *
 * Both skeletons are loaded with pinning switched off (every map's pin path
 * cleared) and the tc object reusing the XDP object's maps, so nothing is
 * pinned and nothing is attached: the run leaves nothing behind.
 *
 * Every output frame is compared with the input frame in which exactly the
 * translated fields were rewritten and both checksums recomputed from
 * scratch; counters and conntrack are compared as deltas. One line per case:
 * "PASS: datapath: NAME" or "FAIL: datapath: NAME: why". Exit 1 if any failed.
 * Needs root (BPF).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>
#include "bpf_objs.h"
#include "model.h"
#include "pkt.h"

/* ------------------------------------------------------------ reporting */

static int n_failed;
static char why[4096];

/* Record the first reason a case fails; returns false for `return fail(...)`. */
__attribute__((format(printf, 1, 2))) static bool fail(const char *fmt, ...)
{
	va_list ap;

	if (why[0])
		return false;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!why[0])
		snprintf(why, sizeof(why), "failed");
	return false;
}

/* Prefix the recorded reason with where it happened. */
static bool refail(const char *prefix)
{
	char w[sizeof(why)];

	memcpy(w, why, sizeof(w));
	snprintf(why, sizeof(why), "%.200s: %.3800s", prefix, w);
	return false;
}

static void report(const char *name, bool ok)
{
	if (ok && !why[0]) {
		printf("PASS: datapath: %s\n", name);
	} else {
		printf("FAIL: datapath: %s: %s\n", name, why[0] ? why : "failed");
		n_failed++;
	}
	fflush(stdout);
	why[0] = 0;
}

/* ------------------------------------------------------------ the services */

#define CLIENT "198.18.0.1"
#define NODE "198.18.0.2"
#define POD1 "198.18.1.11"
#define POD2 "198.18.1.12"
#define WEB_VIP "198.19.0.10"
#define DNS_VIP "198.19.0.20"
#define EMPTY_VIP "198.19.0.30"

struct be_def {
	const char *addr;
	uint16_t port;
};

struct fe_def {
	const char *name;
	const char *vip;
	uint16_t port;
	uint8_t proto;
	size_t n;
	struct be_def be[2];
};

static const struct fe_def FE_WEB = { "web", WEB_VIP, 80, PKT_IPPROTO_TCP, 2,
				      { { POD1, 8080 }, { POD2, 8080 } } };
static const struct fe_def FE_DNS = { "dns", DNS_VIP, 53, PKT_IPPROTO_UDP, 1, { { POD1, 5353 } } };
static const struct fe_def FE_EMPTY = { "empty", EMPTY_VIP, 443, PKT_IPPROTO_TCP, 0, { { 0 } } };
/* web after its second backend went away */
static const struct fe_def FE_WEB_ONE = { "web", WEB_VIP, 80, PKT_IPPROTO_TCP, 1, { { POD1, 8080 } } };

/* The frontends whose counters every case checks, by slot. */
enum { S_WEB, S_DNS, S_EMPTY, N_SVC };
static const struct fe_def *const svc_fe[N_SVC] = { &FE_WEB, &FE_DNS, &FE_EMPTY };

static int slot_of(const struct fe_def *f)
{
	for (int i = 0; i < N_SVC; i++)
		if (!strcmp(svc_fe[i]->vip, f->vip) && svc_fe[i]->port == f->port && svc_fe[i]->proto == f->proto)
			return i;
	return -1;
}

/* ------------------------------------------------------------ BPF objects */

static struct xs_xdp *X;
static struct xs_tc *T;
static struct xs_maps M;
static int xdp_fd, tc_egress_fd, tc_ingress_fd, tc_pod_fd;

static const char *const map_names[] = {
	XS_MAP_SERVICES, XS_MAP_SLOTS, XS_MAP_BACKENDS, XS_MAP_CT,
	XS_MAP_SVC_STATS, XS_MAP_GLOBAL_STATS, XS_MAP_SVC_META,
};
#define N_MAPS (sizeof(map_names) / sizeof(map_names[0]))

static __u32 map_id(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

static bool pinned_file_exists(const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/fs/bpf/%s", name);
	return stat(path, &st) == 0;
}

static bool setup(void)
{
	bool pre_existing[N_MAPS];

	for (size_t i = 0; i < N_MAPS; i++)
		pre_existing[i] = pinned_file_exists(map_names[i]);
	const char *err = xs_test_load(&X, &T, NULL, &M, why, sizeof(why));

	if (err)
		return false; /* the reason is in why */
	xdp_fd = bpf_program__fd(X->progs.xs_xdp_ingress);
	tc_egress_fd = bpf_program__fd(T->progs.xs_tc_egress);
	tc_ingress_fd = bpf_program__fd(T->progs.xs_tc_ingress);
	tc_pod_fd = bpf_program__fd(T->progs.xs_tc_pod);

	/* The two objects must share one instance of every map. */
	for (size_t i = 0; i < N_MAPS; i++) {
		struct bpf_map *xm = bpf_object__find_map_by_name(X->obj, map_names[i]);
		struct bpf_map *tm = bpf_object__find_map_by_name(T->obj, map_names[i]);

		if (!xm || !tm)
			return fail("map %s missing from the %s object", map_names[i], xm ? "tc" : "XDP");
		if (map_id(bpf_map__fd(xm)) != map_id(bpf_map__fd(tm)))
			return fail("map %s: XDP and tc objects hold different maps (ids %u, %u)", map_names[i],
				    map_id(bpf_map__fd(xm)), map_id(bpf_map__fd(tm)));
		if (bpf_map__is_pinned(xm) || bpf_map__is_pinned(tm) ||
		    (!pre_existing[i] && pinned_file_exists(map_names[i])))
			return fail("map %s was pinned", map_names[i]);
	}
	return true;
}

static void teardown(void)
{
	xs_tc__destroy(T);
	xs_xdp__destroy(X);
}

/* ------------------------------------------------------------ model and apply */

static bool build_model(const struct fe_def *const *fes, size_t n, struct xs_model *m)
{
	m->n = n;
	m->fe = calloc(n ? n : 1, sizeof(*m->fe));
	if (!m->fe)
		return fail("out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct fe_def *d = fes[i];
		struct xs_frontend *f = &m->fe[i];

		snprintf(f->ns, sizeof(f->ns), "test");
		snprintf(f->name, sizeof(f->name), "%s", d->name);
		f->proto = d->proto;
		/* The node's address: a NodePort (0: a ClusterIP). */
		f->scope = !strcmp(d->vip, NODE) ? XS_SCOPE_NODEPORT : XS_SCOPE_CLUSTER;
		f->port = d->port;
		if (xs_addr_parse(d->vip, &f->vip))
			return fail("bad VIP %s", d->vip);
		f->backends = calloc(d->n ? d->n : 1, sizeof(*f->backends));
		if (!f->backends)
			return fail("out of memory");
		f->n_backends = d->n;
		for (size_t j = 0; j < d->n; j++) {
			if (xs_addr_parse(d->be[j].addr, &f->backends[j].addr))
				return fail("bad backend %s", d->be[j].addr);
			f->backends[j].port = d->be[j].port;
		}
	}
	xs_model_normalize(m);
	return true;
}

static bool apply(const struct fe_def *const *fes, size_t n, struct xs_apply_result *r)
{
	struct xs_model m = {};
	bool ok = build_model(fes, n, &m);
	int err = ok ? xs_apply(&M, &m, false, NULL, r, NULL) : 0;

	xs_model_free(&m);
	if (!ok)
		return false;
	if (err)
		return fail("xs_apply: %s", strerror(-err));
	return true;
}

/* ------------------------------------------------------------ counters and conntrack */

#define GLOBAL_FIELDS(X)                                                                            \
	X(pass_not_ipv4) X(pass_not_l4) X(pass_fragment) X(pass_malformed) X(pass_miss) X(hit)   \
	X(new_flow) X(no_backend) X(reject_rst) X(reject_icmp) X(reject_limited) X(drop_ct_full) X(drop_src_range) X(tcp_backend_gone) X(ct_expired) X(reply_nat)  \
	X(local_dnat) X(fast_path) X(ct_created) X(pod_dnat) X(hairpin) X(snat) X(drop_snat) X(to_stack)    \
	X(redirect) X(redirect_peer) X(no_port) X(icmp_nat) X(ct_assured) X(nat_clash) X(frag_nat) X(frag_unknown) X(ext_local_cluster)

#define SVC_FIELDS(X) X(packets) X(bytes) X(new_flows) X(no_backend)

static bool read_global(struct xs_global_stats *sum)
{
	struct xs_global_stats *v = calloc((size_t)M.ncpus, sizeof(*v));
	__u32 zero = 0;

	memset(sum, 0, sizeof(*sum));
	if (!v)
		return fail("out of memory");
	if (bpf_map_lookup_elem(M.global_stats, &zero, v)) {
		free(v);
		return fail("reading xs_global_stats: %s", strerror(errno));
	}
	for (int c = 0; c < M.ncpus; c++) {
#define ADD(f) sum->f += v[c].f;
		GLOBAL_FIELDS(ADD)
#undef ADD
	}
	free(v);
	return true;
}

static bool svc_value(const struct fe_def *f, struct xs_svc_value *val)
{
	struct xs_svc_key k = { .vip = htonl(pkt_ip(f->vip)), .port = f->port, .proto = f->proto };

	return bpf_map_lookup_elem(M.services, &k, val) == 0;
}

/* The frontend's counters; zeros if it is not in xs_services. */
static bool read_svc(const struct fe_def *f, struct xs_svc_stats *sum)
{
	struct xs_svc_stats *v;
	struct xs_svc_value sv;

	memset(sum, 0, sizeof(*sum));
	if (!svc_value(f, &sv))
		return true;
	v = calloc((size_t)M.ncpus, sizeof(*v));
	if (!v)
		return fail("out of memory");
	if (bpf_map_lookup_elem(M.svc_stats, &sv.svc_id, v)) {
		free(v);
		return fail("reading xs_svc_stats[%u]: %s", sv.svc_id, strerror(errno));
	}
	for (int c = 0; c < M.ncpus; c++) {
#define ADD(x) sum->x += v[c].x;
		SVC_FIELDS(ADD)
#undef ADD
	}
	free(v);
	return true;
}

struct ct_ent {
	struct xs_ct_key k;
	struct xs_ct_value v;
};

/* Every conntrack entry; *n of them in a malloc'ed array (NULL on error). */
static struct ct_ent *ct_dump(size_t *n)
{
	size_t cap = 256;
	struct ct_ent *e = malloc(cap * sizeof(*e));
	struct xs_ct_key k, next;
	void *prev = NULL;

	*n = 0;
	if (!e) {
		fail("out of memory");
		return NULL;
	}
	/* both tables: the new flows' and the assured ones' */
	for (int t = 0; t < 2; t++) {
		int fd = t ? M.ct_assured : M.ct;

		prev = NULL;
		while (bpf_map_get_next_key(fd, prev, &next) == 0) {
			if (*n == cap) {
				struct ct_ent *ne = realloc(e, cap * 2 * sizeof(*e));

				if (!ne) {
					free(e);
					fail("out of memory");
					return NULL;
				}
				e = ne;
				cap *= 2;
			}
			k = next;
			prev = &k;
			e[*n].k = next;
			if (bpf_map_lookup_elem(fd, &next, &e[*n].v) == 0)
				(*n)++;
		}
	}
	return e;
}

static long ct_count(void)
{
	size_t n;
	struct ct_ent *e = ct_dump(&n);

	if (!e)
		return -1;
	free(e);
	return (long)n;
}

struct snap {
	struct xs_global_stats g;
	struct xs_svc_stats s[N_SVC];
	long ct;
};

static bool take_snap(struct snap *s)
{
	memset(s, 0, sizeof(*s));
	if (!read_global(&s->g))
		return false;
	for (int i = 0; i < N_SVC; i++)
		if (!read_svc(svc_fe[i], &s->s[i]))
			return false;
	s->ct = ct_count();
	return s->ct >= 0;
}

/* What a case expects to change: global counters, per-frontend counters,
 * conntrack entries; everything not named must stay. */
struct delta {
	struct xs_global_stats g;
	struct xs_svc_stats s[N_SVC];
	long ct;
	/* Where the translated packets went (to_stack, redirect,
	 * redirect_peer) is checked only where a case says: with no route in
	 * the test's namespace, every other one hands them to the stack. */
	bool route;
};

static bool check_delta(const struct snap *a, const struct snap *b, const struct delta *d)
{
#define CHK(f)                                                                                      \
	if (b->g.f - a->g.f != d->g.f && (d->route || (strcmp(#f, "to_stack") && strcmp(#f, "redirect") && \
						       strcmp(#f, "redirect_peer"))))          \
		return fail("global counter " #f " went up by %llu, want %llu",                    \
			    (unsigned long long)(b->g.f - a->g.f), (unsigned long long)d->g.f);
	GLOBAL_FIELDS(CHK)
#undef CHK
	for (int i = 0; i < N_SVC; i++) {
#define CHK(f)                                                                                      \
	if (b->s[i].f - a->s[i].f != d->s[i].f)                                                     \
		return fail("service %s counter " #f " went up by %llu, want %llu", svc_fe[i]->name, \
			    (unsigned long long)(b->s[i].f - a->s[i].f), (unsigned long long)d->s[i].f);
		SVC_FIELDS(CHK)
#undef CHK
	}
	if (b->ct - a->ct != d->ct)
		return fail("conntrack grew by %ld entries, want %ld", b->ct - a->ct, d->ct);
	return true;
}

/* ------------------------------------------------------------ running programs */

static const char *xdp_act(__u32 r)
{
	switch (r) {
	case XDP_ABORTED: return "XDP_ABORTED";
	case XDP_DROP: return "XDP_DROP";
	case XDP_PASS: return "XDP_PASS";
	case XDP_TX: return "XDP_TX";
	case XDP_REDIRECT: return "XDP_REDIRECT";
	default: return "?";
	}
}

static const char *tc_act(__u32 r)
{
	switch ((int)r) {
	case TC_ACT_OK: return "TC_ACT_OK";
	case TC_ACT_SHOT: return "TC_ACT_SHOT";
	case TC_ACT_REDIRECT: return "TC_ACT_REDIRECT";
	case TC_ACT_UNSPEC: return "TC_ACT_UNSPEC";
	default: return "?";
	}
}

/* One BPF_PROG_TEST_RUN of fd on in; out gets the frame and in's layout.
 * 0 or -errno. */
static int run_prog(int fd, const struct pkt *in, struct pkt *out, __u32 *retval, __u32 flags)
{
	static uint8_t empty[1];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->len ? in->b : empty, .data_size_in = (__u32)in->len,
		    .data_out = out->b, .data_size_out = sizeof(out->b), .repeat = 1, .flags = flags);
	int err;

	memset(out->b, 0, sizeof(out->b));
	out->l3 = in->l3;
	out->l4 = in->l4;
	out->tot = in->tot;
	out->proto = in->proto;
	out->vlan = in->vlan;
	err = bpf_prog_test_run_opts(fd, &o);
	if (err)
		return err < 0 ? err : -EIO;
	out->len = o.data_size_out;
	*retval = o.retval;
	return 0;
}

static bool run_xdp(const struct pkt *in, struct pkt *out, __u32 *retval)
{
	int err = run_prog(xdp_fd, in, out, retval, 0);

	if (err)
		return fail("BPF_PROG_TEST_RUN of the XDP program: %s", strerror(-err));
	return true;
}

#ifndef BPF_F_TEST_SKB_CHECKSUM_COMPLETE
#define BPF_F_TEST_SKB_CHECKSUM_COMPLETE (1U << 2)
#endif

/* The tc cases run twice: with the skb as BPF_PROG_TEST_RUN makes it
 * (CHECKSUM_NONE), and with BPF_F_TEST_SKB_CHECKSUM_COMPLETE, where the
 * kernel sets skb->csum over the packet before the run and fails it with
 * EBADMSG if the program's rewrites left skb->csum stale. */
static __u32 tc_flags;

static bool run_tc(int fd, const struct pkt *in, struct pkt *out, __u32 *retval)
{
	int err = run_prog(fd, in, out, retval, tc_flags);

	if (err == -EBADMSG && (tc_flags & BPF_F_TEST_SKB_CHECKSUM_COMPLETE))
		return fail("BPF_PROG_TEST_RUN of the tc program: EBADMSG: the program left skb->csum "
			    "(CHECKSUM_COMPLETE) inconsistent with the packet it wrote");
	if (err)
		return fail("BPF_PROG_TEST_RUN of the tc program: %s", strerror(-err));
	return true;
}

static bool same_bytes(const struct pkt *in, const struct pkt *out)
{
	char d[512];

	if (pkt_diff(out, in, d, sizeof(d)))
		return fail("output not byte-identical to the input: %s", d);
	return true;
}

/* Which of f's backends out is addressed to (dst) or comes from (!dst); -1. */
static int which_backend(const struct fe_def *f, const struct pkt *out, bool dst)
{
	uint32_t a = pkt_get32(out, out->l3 + (dst ? PKT_IP_DADDR : PKT_IP_SADDR));
	uint16_t port = pkt_get16(out, out->l4 + (dst ? 2 : 0));

	for (size_t i = 0; i < f->n; i++)
		if (a == pkt_ip(f->be[i].addr) && port == f->be[i].port)
			return (int)i;
	return -1;
}

static bool not_a_backend(const struct fe_def *f, const struct pkt *out)
{
	char a[16], list[128] = "none";
	size_t w = 0;

	for (size_t i = 0; i < f->n && w < sizeof(list); i++)
		w += (size_t)snprintf(list + w, sizeof(list) - w, "%s%s:%u", i ? ", " : "", f->be[i].addr,
				      f->be[i].port);
	return fail("destination %s:%u is none of %s's backends (%s)",
		    pkt_ipstr(pkt_get32(out, out->l3 + PKT_IP_DADDR), a), pkt_get16(out, out->l4 + 2), f->name,
		    list);
}

/*
 * out must be in with exactly the destination (dst) or source address and
 * port replaced by addr:port and the checksums those fields cover updated:
 * both checksums of out are recomputed from scratch and compared with what
 * the program stored, then every byte is compared with that expectation.
 */
static bool check_translated(const struct pkt *in, const struct pkt *out, bool dst, uint32_t addr,
			     uint16_t port)
{
	struct pkt want = *in;
	bool udp_none = in->proto == PKT_IPPROTO_UDP && pkt_get16(in, pkt_l4_check_off(in)) == 0;
	uint16_t stored, scratch;
	char d[512];

	if (out->len != in->len)
		return fail("output is %zu bytes, input %zu", out->len, in->len);
	pkt_put32(&want, want.l3 + (dst ? PKT_IP_DADDR : PKT_IP_SADDR), addr);
	pkt_put16(&want, want.l4 + (dst ? 2 : 0), port);
	pkt_fix_csums(&want, true);

	stored = pkt_get16(out, out->l3 + PKT_IP_CHECK);
	scratch = pkt_ip_csum(out);
	if (stored != scratch)
		return fail("IPv4 header checksum 0x%04x, computed from scratch 0x%04x", stored, scratch);
	stored = pkt_get16(out, pkt_l4_check_off(out));
	if (udp_none) {
		if (stored != 0)
			return fail("UDP checksum 0x%04x, want 0 (the input had none)", stored);
	} else {
		scratch = pkt_l4_csum(out);
		if (stored != scratch)
			return fail("%s checksum 0x%04x, computed from scratch 0x%04x",
				    in->proto == PKT_IPPROTO_TCP ? "TCP" : "UDP", stored, scratch);
	}
	if (pkt_diff(out, &want, d, sizeof(d)))
		return fail("output differs from the input with only %s rewritten: %s",
			    dst ? "daddr/dport" : "saddr/sport", d);
	return true;
}

/* ------------------------------------------------------------ source ports */

/* Distinct, scattered client ports: 20000..59999, 40000 of them. */
static uint16_t next_sport(void)
{
	static unsigned n;

	return (uint16_t)(20000 + (n++ * 7919u + 1234u) % 40000u);
}

/* ------------------------------------------------------------ edits of built frames */

/* Malformations: the IPv4 header checksum is kept right so that only the
 * field under test is wrong. */
static void fix_ip(struct pkt *p)
{
	pkt_put16(p, p->l3 + PKT_IP_CHECK, pkt_ip_csum(p));
}

static void e_tot_plus(struct pkt *p, int d)
{
	pkt_put16(p, p->l3 + 2, (uint16_t)(p->tot + d));
	fix_ip(p);
}

static void e_tot_set(struct pkt *p, int v)
{
	pkt_put16(p, p->l3 + 2, (uint16_t)v);
	fix_ip(p);
}

static void e_ihl(struct pkt *p, int v)
{
	p->b[p->l3] = (uint8_t)((p->b[p->l3] & 0xf0) | v);
	fix_ip(p);
}

static void e_version(struct pkt *p, int v)
{
	p->b[p->l3] = (uint8_t)((p->b[p->l3] & 0x0f) | v << 4);
	fix_ip(p);
}

static void e_doff(struct pkt *p, int v)
{
	p->b[p->l4 + 12] = (uint8_t)((p->b[p->l4 + 12] & 0x0f) | v << 4);
}

static void e_ulen_set(struct pkt *p, int v)
{
	pkt_put16(p, p->l4 + PKT_UDP_LEN, (uint16_t)v);
}

static void e_ulen_plus(struct pkt *p, int d)
{
	pkt_put16(p, p->l4 + PKT_UDP_LEN, (uint16_t)(pkt_get16(p, p->l4 + PKT_UDP_LEN) + d));
}

/* The first two payload bytes chosen so that the UDP checksum of the frame
 * after translation to be (dst) or from be (!dst), computed from scratch,
 * is 0x0000 (want_after) -- or, with !want_after, so that the input's own
 * checksum computes to 0 and is sent as 0xffff. */
static void udp_search(struct pkt *p, bool want_after, bool dst, const struct be_def *be)
{
	size_t po = p->l4 + 8;

	for (uint32_t w = 0; w <= 0xffff; w++) {
		struct pkt t;

		pkt_put16(p, po, (uint16_t)w);
		pkt_fix_csums(p, false);
		if (!want_after) {
			if (pkt_l4_csum_raw(p) == 0)
				return;
			continue;
		}
		t = *p;
		pkt_put32(&t, t.l3 + (dst ? PKT_IP_DADDR : PKT_IP_SADDR), pkt_ip(be->addr));
		pkt_put16(&t, t.l4 + (dst ? 2 : 0), be->port);
		if (pkt_l4_csum_raw(&t) == 0)
			return;
	}
	fail("test bug: no payload gives the wanted UDP checksum");
}

static void e_udp_zero_after(struct pkt *p, int unused)
{
	udp_search(p, true, true, &FE_DNS.be[0]);
}

static void e_udp_ffff_in(struct pkt *p, int unused)
{
	udp_search(p, false, true, NULL);
	if (pkt_get16(p, pkt_l4_check_off(p)) != 0xffff)
		fail("test bug: input UDP checksum 0x%04x, want 0xffff", pkt_get16(p, pkt_l4_check_off(p)));
}

/* ------------------------------------------------------------ the XDP table */

enum outcome {
	O_HIT,  /* XDP_PASS, translated to one of fe's backends, new flow */
	O_PASS, /* XDP_PASS, byte-identical, counter +1 */
	O_REJECT, /* XDP_TX, the RST built from scratch, fe's no_backend +1 */
	O_NO_PORT, /* a ClusterIP on a port no frontend has: XDP_TX, the RST or ICMP port
		    * unreachable built from scratch, no_port +1 (kube-proxy's nftables reject) */
	O_NO_PORT_LIMITED, /* ... in a frame the reject does not rebuild: XDP_DROP */
};

static void build_icmp(const struct pkt *in, struct pkt *w);

struct xcase {
	const char *name;
	struct pkt_spec s;        /* sport 0: a fresh one */
	void (*edit)(struct pkt *, int);
	int arg;
	enum outcome out;
	const struct fe_def *fe;  /* O_HIT, O_REJECT */
	size_t counter;           /* O_PASS: offsetof(struct xs_global_stats, ...) */
	size_t counter2;          /* O_PASS: another one that must move too (0: none) */
	bool want_ffff;           /* the output's UDP checksum must be 0xffff */
};

#define TCP_TO(dst, port, pl, ...)                                                                  \
	{ .proto = PKT_IPPROTO_TCP, .saddr = CLIENT, .daddr = dst, .dport = port, .payload = pl,   \
	  .seed = (uint8_t)__LINE__, __VA_ARGS__ }
#define UDP_TO(dst, port, pl, ...)                                                                  \
	{ .proto = PKT_IPPROTO_UDP, .saddr = CLIENT, .daddr = dst, .dport = port, .payload = pl,   \
	  .seed = (uint8_t)__LINE__, __VA_ARGS__ }
#define WEB(pl, ...) TCP_TO(WEB_VIP, 80, pl, __VA_ARGS__)
#define DNS(pl, ...) UDP_TO(DNS_VIP, 53, pl, __VA_ARGS__)
#define HIT(fe_) .out = O_HIT, .fe = &fe_
#define PASS(field) .out = O_PASS, .counter = offsetof(struct xs_global_stats, field)

static const struct xcase xcases[] = {
	/* translated */
	{ "TCP hit", WEB(100), HIT(FE_WEB) },
	{ "TCP hit, odd payload (101 bytes)", WEB(101), HIT(FE_WEB) },
	{ "TCP hit, 1-byte payload", WEB(1), HIT(FE_WEB) },
	{ "TCP hit, SYN without payload", WEB(0, .tcp_flags = 0x02), HIT(FE_WEB) },
	{ "TCP hit with TCP options (doff 8)", WEB(33, .doff = 8), HIT(FE_WEB) },
	{ "TCP hit with DF set (not a fragment)", WEB(64, .frag = 0x4000), HIT(FE_WEB) },
	{ "TCP hit, 1400-byte payload", WEB(1400), HIT(FE_WEB) },
	{ "UDP hit, non-zero checksum", DNS(32), HIT(FE_DNS) },
	{ "UDP hit, odd payload (33 bytes)", DNS(33), HIT(FE_DNS) },
	{ "UDP hit, empty payload", DNS(0), HIT(FE_DNS) },
	{ "UDP hit, zero checksum stays zero", DNS(40, .udp_nocsum = true), HIT(FE_DNS) },
	{ "UDP hit, zero checksum, odd payload", DNS(41, .udp_nocsum = true), HIT(FE_DNS) },
	{ "UDP hit whose rewritten checksum computes to 0 is sent as 0xffff", DNS(24), e_udp_zero_after, 0,
	  HIT(FE_DNS), .want_ffff = true },
	{ "UDP hit, input checksum 0xffff (computed 0)", DNS(24), e_udp_ffff_in, 0, HIT(FE_DNS) },
	{ "UDP hit, UDP length shorter than the IP payload", DNS(30, .udp_short = 6), HIT(FE_DNS) },
	{ "TCP hit, IP options ihl 6", WEB(20, .ihl = 6), HIT(FE_WEB) },
	{ "TCP hit, IP options ihl 7", WEB(21, .ihl = 7), HIT(FE_WEB) },
	{ "TCP hit, IP options ihl 8", WEB(22, .ihl = 8), HIT(FE_WEB) },
	{ "TCP hit, IP options ihl 9", WEB(23, .ihl = 9), HIT(FE_WEB) },
	{ "TCP hit, IP options ihl 10", WEB(24, .ihl = 10), HIT(FE_WEB) },
	{ "TCP hit, IP options ihl 11", WEB(25, .ihl = 11), HIT(FE_WEB) },
	{ "TCP hit, IP options ihl 12", WEB(26, .ihl = 12), HIT(FE_WEB) },
	{ "TCP hit, IP options ihl 13", WEB(27, .ihl = 13), HIT(FE_WEB) },
	{ "TCP hit, IP options ihl 14", WEB(28, .ihl = 14), HIT(FE_WEB) },
	{ "TCP hit, IP options ihl 15", WEB(29, .ihl = 15), HIT(FE_WEB) },
	{ "TCP hit, IP options ihl 15 and TCP options doff 15", WEB(7, .ihl = 15, .doff = 15), HIT(FE_WEB) },
	{ "UDP hit, IP options ihl 6", DNS(15, .ihl = 6), HIT(FE_DNS) },
	{ "UDP hit, IP options ihl 15", DNS(16, .ihl = 15), HIT(FE_DNS) },
	{ "TCP hit in an 802.1Q frame", WEB(50, .vlan = true), HIT(FE_WEB) },
	{ "UDP hit in an 802.1Q frame", DNS(51, .vlan = true), HIT(FE_DNS) },
	{ "TCP hit in an 802.1Q frame with IP options ihl 15", WEB(52, .vlan = true, .ihl = 15), HIT(FE_WEB) },
	{ "TCP hit, 6 bytes of Ethernet padding after the datagram", WEB(0, .tcp_flags = 0x10, .trailer = 6),
	  HIT(FE_WEB) },
	{ "UDP hit, 20 bytes of padding after the datagram", DNS(9, .trailer = 20), HIT(FE_DNS) },
	{ "UDP hit, zero checksum, padding after the datagram", DNS(9, .udp_nocsum = true, .trailer = 11),
	  HIT(FE_DNS) },
	{ "TCP hit in an 802.1Q frame with padding after the datagram", WEB(3, .vlan = true, .trailer = 9),
	  HIT(FE_WEB) },

	/* not addressed to a frontend */
	{ "miss: TCP to another VIP", TCP_TO("198.19.0.11", 80, 10), PASS(pass_miss) },
	{ "no port: TCP to the ClusterIP on another port is rejected (RST)", TCP_TO(WEB_VIP, 81, 10),
	  .out = O_NO_PORT },
	{ "no port: UDP to a TCP frontend's ClusterIP:port is rejected (ICMP port unreachable)",
	  UDP_TO(WEB_VIP, 80, 10), .out = O_NO_PORT },
	{ "no port: TCP to a UDP frontend's ClusterIP:port is rejected (RST)", TCP_TO(DNS_VIP, 53, 10),
	  .out = O_NO_PORT },
	{ "miss: UDP to a backend directly", UDP_TO(POD1, 5353, 10), PASS(pass_miss) },
	{ "miss: TCP from the VIP (reply direction)",
	  { .proto = PKT_IPPROTO_TCP, .saddr = WEB_VIP, .daddr = CLIENT, .sport = 80, .dport = 33333,
	    .payload = 10 }, PASS(pass_miss) },
	{ "no port: TCP to the ClusterIP in an 802.1Q frame on another port: dropped (reject_limited)",
	  TCP_TO(WEB_VIP, 8080, 10, .vlan = true), .out = O_NO_PORT_LIMITED },
	{ "ICMP echo to the VIP passes untouched", { .proto = PKT_IPPROTO_ICMP, .saddr = CLIENT,
	  .daddr = WEB_VIP, .payload = 56 }, PASS(pass_not_l4) },
	{ "ARP for the VIP passes untouched", { .kind = PKT_ARP, .saddr = CLIENT, .daddr = WEB_VIP },
	  PASS(pass_not_ipv4) },
	{ "ARP in an 802.1Q frame passes untouched",
	  { .kind = PKT_ARP, .saddr = CLIENT, .daddr = WEB_VIP, .vlan = true }, PASS(pass_not_ipv4) },
	{ "IPv6 UDP passes untouched", { .kind = PKT_IPV6, .sport = 1000, .dport = 53, .payload = 12 },
	  PASS(pass_not_ipv4) },

	/* fragments */
	{ "TCP first fragment (MF, offset 0) to the VIP is translated like a packet", WEB(64, .frag = 0x2000),
	  HIT(FE_WEB) },
	{ "TCP middle fragment (MF, offset 185) of a datagram never seen passes untouched",
	  WEB(64, .frag = 0x2000 | 185), PASS(pass_fragment), .counter2 = offsetof(struct xs_global_stats, frag_unknown) },
	{ "TCP last fragment (offset 185) of a datagram never seen passes untouched", WEB(64, .frag = 185),
	  PASS(pass_fragment), .counter2 = offsetof(struct xs_global_stats, frag_unknown) },
	{ "UDP first fragment (MF, offset 0) to the VIP is translated like a packet", DNS(64, .frag = 0x2000),
	  HIT(FE_DNS) },
	{ "UDP last fragment (offset 1) of a datagram never seen passes untouched", DNS(64, .frag = 1),
	  PASS(pass_fragment), .counter2 = offsetof(struct xs_global_stats, frag_unknown) },
	{ "UDP first fragment with DF|MF is translated like a packet", DNS(64, .frag = 0x6000), HIT(FE_DNS) },

	/* malformed */
	{ "malformed: IPv4 total length 1 beyond the frame", WEB(20), e_tot_plus, 1, PASS(pass_malformed) },
	{ "malformed: IPv4 total length 0xffff", DNS(20), e_tot_set, 0xffff, PASS(pass_malformed) },
	{ "malformed: IPv4 total length beyond the frame, 802.1Q", WEB(20, .vlan = true), e_tot_plus, 1,
	  PASS(pass_malformed) },
	{ "malformed: IPv4 total length 19 < ihl*4", WEB(20, .trailer = 0), e_tot_set, 19, PASS(pass_malformed) },
	{ "malformed: IPv4 total length 0", WEB(20), e_tot_set, 0, PASS(pass_malformed) },
	{ "malformed: IPv4 total length 40 < ihl*4 = 60", WEB(20, .ihl = 15), e_tot_set, 40, PASS(pass_malformed) },
	{ "malformed: IPv4 total length cuts the TCP header", WEB(20), e_tot_set, 30, PASS(pass_malformed) },
	{ "malformed: IPv4 total length cuts the UDP header", DNS(20), e_tot_set, 27, PASS(pass_malformed) },
	{ "malformed: ihl 0", WEB(20), e_ihl, 0, PASS(pass_malformed) },
	{ "malformed: ihl 1", WEB(20), e_ihl, 1, PASS(pass_malformed) },
	{ "malformed: ihl 2", WEB(20), e_ihl, 2, PASS(pass_malformed) },
	{ "malformed: ihl 3", DNS(20), e_ihl, 3, PASS(pass_malformed) },
	{ "malformed: ihl 4", WEB(20), e_ihl, 4, PASS(pass_malformed) },
	{ "malformed: ihl 15 beyond a short frame", WEB(0), e_ihl, 15, PASS(pass_malformed) },
	{ "malformed: version 6 in an IPv4 ethertype", WEB(20), e_version, 6, PASS(pass_malformed) },
	{ "malformed: version 0 in an IPv4 ethertype", DNS(20), e_version, 0, PASS(pass_malformed) },
	{ "malformed: TCP data offset 0", WEB(20), e_doff, 0, PASS(pass_malformed) },
	{ "malformed: TCP data offset 1", WEB(20), e_doff, 1, PASS(pass_malformed) },
	{ "malformed: TCP data offset 2", WEB(20), e_doff, 2, PASS(pass_malformed) },
	{ "malformed: TCP data offset 3", WEB(20), e_doff, 3, PASS(pass_malformed) },
	{ "malformed: TCP data offset 4", WEB(20), e_doff, 4, PASS(pass_malformed) },
	{ "malformed: TCP data offset 6 beyond a header-only segment", WEB(0), e_doff, 6, PASS(pass_malformed) },
	{ "malformed: TCP data offset 15 beyond the total length", WEB(10), e_doff, 15, PASS(pass_malformed) },
	{ "malformed: TCP data offset beyond the total length, padding in the frame", WEB(0, .trailer = 40),
	  e_doff, 15, PASS(pass_malformed) },
	{ "malformed: UDP length 0", DNS(20), e_ulen_set, 0, PASS(pass_malformed) },
	{ "malformed: UDP length 7", DNS(20), e_ulen_set, 7, PASS(pass_malformed) },
	{ "malformed: UDP length 1 beyond the IP payload", DNS(20), e_ulen_plus, 1, PASS(pass_malformed) },
	{ "malformed: UDP length beyond the IP payload, padding in the frame", DNS(20, .trailer = 30),
	  e_ulen_plus, 10, PASS(pass_malformed) },
	{ "malformed: UDP length 0xffff", DNS(20), e_ulen_set, 0xffff, PASS(pass_malformed) },

	/* no backend */
	{ "no backend (reject): TCP segment with ACK to 198.19.0.30:443 is answered with a RST, seq = its ack",
	  TCP_TO(EMPTY_VIP, 443, 10), .out = O_REJECT, .fe = &FE_EMPTY },
	{ "no backend (reject): TCP SYN to 198.19.0.30:443 is answered with RST|ACK, ack = its seq + 1",
	  TCP_TO(EMPTY_VIP, 443, 0, .tcp_flags = 2), .out = O_REJECT, .fe = &FE_EMPTY },
};

/* The most recent flow that XDP pinned to each web backend, for later cases. */
static uint16_t web_sport_on[2];

/* The RST a closed port answers in with (RFC 9293 3.10.7.1), built from
 * scratch: addresses, ports and MACs swapped, 20-byte IP and TCP headers,
 * checksums computed over the whole. */
static void build_rst(const struct pkt *in, struct pkt *w)
{
	size_t l3 = 14, l4 = l3 + 20;
	uint8_t flags = in->b[in->l4 + 13];
	size_t seg = in->tot - pkt_ihl_bytes(in) - (size_t)(in->b[in->l4 + 12] >> 4) * 4 + !!(flags & 2) +
		     !!(flags & 1);
	uint32_t seq = pkt_get32(in, in->l4 + 4), ack = pkt_get32(in, in->l4 + 8);

	memset(w, 0, sizeof(*w));
	memcpy(w->b, in->b + 6, 6);
	memcpy(w->b + 6, in->b, 6);
	memcpy(w->b + 12, in->b + 12, 2);
	w->b[l3] = 0x45;
	pkt_put16(w, l3 + 2, 40);
	pkt_put16(w, l3 + 6, 0x4000);
	w->b[l3 + 8] = 64;
	w->b[l3 + 9] = PKT_IPPROTO_TCP;
	memcpy(w->b + l3 + 12, in->b + in->l3 + 16, 4);
	memcpy(w->b + l3 + 16, in->b + in->l3 + 12, 4);
	memcpy(w->b + l4, in->b + in->l4 + 2, 2);
	memcpy(w->b + l4 + 2, in->b + in->l4, 2);
	pkt_put32(w, l4 + 4, (flags & 0x10) ? ack : 0);
	pkt_put32(w, l4 + 8, (flags & 0x10) ? 0 : seq + (uint32_t)seg);
	w->b[l4 + 12] = 5 << 4;
	w->b[l4 + 13] = (flags & 0x10) ? 0x04 : 0x14;
	w->len = l4 + 20;
	w->l3 = l3;
	w->l4 = l4;
	w->tot = 40;
	w->proto = PKT_IPPROTO_TCP;
	pkt_fix_csums(w, false);
}

static bool run_xcase(const struct xcase *c)
{
	struct pkt_spec s = c->s;
	struct pkt in, out;
	struct snap a, b;
	struct delta d = {};
	__u32 ret;
	int slot = c->fe ? slot_of(c->fe) : -1;

	if (!s.sport)
		s.sport = next_sport();
	pkt_build(&in, &s);
	if (c->edit)
		c->edit(&in, c->arg);
	if (why[0])
		return false;
	if (!take_snap(&a) || !run_xdp(&in, &out, &ret) || !take_snap(&b))
		return false;

	switch (c->out) {
	case O_HIT: {
		int i;

		if (ret != XDP_PASS)
			return fail("retval %u (%s), want XDP_PASS", ret, xdp_act(ret));
		i = which_backend(c->fe, &out, true);
		if (i < 0)
			return not_a_backend(c->fe, &out);
		if (!check_translated(&in, &out, true, pkt_ip(c->fe->be[i].addr), c->fe->be[i].port))
			return false;
		if (c->want_ffff && pkt_get16(&out, pkt_l4_check_off(&out)) != 0xffff)
			return fail("UDP checksum 0x%04x, want 0xffff", pkt_get16(&out, pkt_l4_check_off(&out)));
		if (c->fe == &FE_WEB)
			web_sport_on[i] = s.sport;
		d.g.hit = d.g.new_flow = 1;
		d.s[slot] = (struct xs_svc_stats){ 1, in.tot, 1, 0 };
		d.ct = d.g.ct_created = 2;
		break;
	}
	case O_PASS:
		if (ret != XDP_PASS)
			return fail("retval %u (%s), want XDP_PASS", ret, xdp_act(ret));
		if (!same_bytes(&in, &out))
			return false;
		*(__u64 *)((char *)&d.g + c->counter) = 1;
		if (c->counter2)
			*(__u64 *)((char *)&d.g + c->counter2) = 1;
		break;
	case O_REJECT: {
		struct pkt want;
		char diff[512];

		if (ret != XDP_TX)
			return fail("retval %u (%s), want XDP_TX", ret, xdp_act(ret));
		build_rst(&in, &want);
		if (pkt_diff(&out, &want, diff, sizeof(diff)))
			return fail("the RST differs from one built from scratch: %s", diff);
		d.g.no_backend = 1;
		d.g.reject_rst = 1;
		d.s[slot] = (struct xs_svc_stats){ 1, in.tot, 0, 1 };
		break;
	}
	case O_NO_PORT: {
		struct pkt want;
		char diff[512];
		bool tcp = s.proto == PKT_IPPROTO_TCP;

		if (ret != XDP_TX)
			return fail("retval %u (%s), want XDP_TX", ret, xdp_act(ret));
		if (tcp)
			build_rst(&in, &want);
		else
			build_icmp(&in, &want);
		if (pkt_diff(&out, &want, diff, sizeof(diff)))
			return fail("the %s differs from one built from scratch: %s", tcp ? "RST" : "ICMP", diff);
		d.g.no_port = 1;
		*(tcp ? &d.g.reject_rst : &d.g.reject_icmp) = 1;
		break;
	}
	case O_NO_PORT_LIMITED:
		if (ret != XDP_DROP)
			return fail("retval %u (%s), want XDP_DROP", ret, xdp_act(ret));
		d.g.no_port = d.g.reject_limited = 1;
		break;
	}
	return check_delta(&a, &b, &d);
}

/* ------------------------------------------------------------ truncation */

/* Every prefix of a frame that would be translated: below ETH_HLEN the
 * kernel refuses the run; from there on each passes byte-identical as
 * malformed and creates no conntrack entry. */
static bool truncations(struct pkt_spec s)
{
	struct pkt full, in, out;
	struct delta d = {};
	__u32 ret;

	s.sport = next_sport();
	pkt_build(&full, &s);
	d.g.pass_malformed = 1;
	for (size_t len = 0; len < full.len; len++) {
		struct snap a, b;
		int err;

		in = full;
		memset(in.b + len, 0, sizeof(in.b) - len);
		in.len = len;
		if (!take_snap(&a))
			return false;
		err = run_prog(xdp_fd, &in, &out, &ret, 0);
		if (len < 14) {
			if (!err)
				return fail("length %zu: BPF_PROG_TEST_RUN accepted a frame shorter than "
					    "ETH_HLEN (retval %s)", len, xdp_act(ret));
			continue;
		}
		if (err)
			return fail("length %zu of %zu: BPF_PROG_TEST_RUN: %s", len, full.len, strerror(-err));
		if (!take_snap(&b))
			return false;
		if (ret != XDP_PASS)
			return fail("length %zu of %zu: retval %u (%s), want XDP_PASS", len, full.len, ret,
				    xdp_act(ret));
		if (!same_bytes(&in, &out) || !check_delta(&a, &b, &d)) {
			char pre[64];

			snprintf(pre, sizeof(pre), "length %zu of %zu", len, full.len);
			return refail(pre);
		}
	}
	/* and the whole frame is a hit, so the prefixes were the interesting ones */
	{
		struct snap a, b;

		if (!take_snap(&a) || !run_xdp(&full, &out, &ret) || !take_snap(&b))
			return false;
		if (ret != XDP_PASS || b.g.hit - a.g.hit != 1)
			return fail("the untruncated frame (%zu bytes) was not translated: retval %s, hit +%llu",
				    full.len, xdp_act(ret), (unsigned long long)(b.g.hit - a.g.hit));
	}
	return true;
}

/* ------------------------------------------------------------ conntrack */

/* One XDP packet of flow sport -> fe; returns the backend index or -1. */
static int xdp_flow_packet(const struct fe_def *fe, uint16_t sport, size_t payload, uint8_t seed)
{
	struct pkt_spec s = { .proto = fe->proto, .saddr = CLIENT, .daddr = fe->vip, .sport = sport,
			      .dport = fe->port, .payload = payload, .seed = seed };
	struct pkt in, out;
	__u32 ret;
	int i;

	pkt_build(&in, &s);
	if (!run_xdp(&in, &out, &ret))
		return -1;
	if (ret != XDP_PASS)
		return fail("client port %u: retval %u (%s), want XDP_PASS", sport, ret, xdp_act(ret)), -1;
	i = which_backend(fe, &out, true);
	if (i < 0)
		return not_a_backend(fe, &out), -1;
	if (!check_translated(&in, &out, true, pkt_ip(fe->be[i].addr), fe->be[i].port))
		return -1;
	return i;
}

static bool backend_id_of(const struct fe_def *fe, int i, __u32 *id)
{
	__u32 key, next;
	void *prev = NULL;

	while (bpf_map_get_next_key(M.backends, prev, &next) == 0) {
		struct xs_backend b;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(M.backends, &key, &b))
			continue;
		if (b.addr == htonl(pkt_ip(fe->be[i].addr)) && b.port == fe->be[i].port &&
		    b.proto == fe->proto) {
			*id = key;
			return true;
		}
	}
	return fail("backend %s:%u is not in xs_backends", fe->be[i].addr, fe->be[i].port);
}

/*
 * The conntrack entries of flow client:sport -> fe: exactly one FWD entry,
 * keyed by the tuple as received, pointing at backend i, and exactly one
 * REV entry, keyed by the reply's tuple, pointing back at the VIP.
 */
static bool check_ct_flow(const struct fe_def *fe, const char *client, uint16_t sport, int i, __u8 flags)
{
	__be32 c = htonl(pkt_ip(client)), vip = htonl(pkt_ip(fe->vip)), be = htonl(pkt_ip(fe->be[i].addr));
	struct xs_ct_key fk = { .saddr = c, .daddr = vip, .sport = htons(sport), .dport = htons(fe->port),
				.proto = fe->proto, .dir = XS_CT_FWD };
	struct xs_ct_key rk = { .saddr = be, .daddr = c, .sport = htons(fe->be[i].port), .dport = htons(sport),
				.proto = fe->proto, .dir = XS_CT_REV };
	struct xs_svc_value sv;
	size_t n, nf = 0, nr = 0;
	struct ct_ent *e = ct_dump(&n), *f = NULL, *r = NULL;
	__u32 be_id;
	bool ok = false;

	if (!e)
		return false;
	if (!svc_value(fe, &sv) || !backend_id_of(fe, i, &be_id)) {
		fail("frontend %s or its backend missing from the maps", fe->name);
		goto out;
	}
	for (size_t j = 0; j < n; j++) {
		const struct xs_ct_key *k = &e[j].k;

		if (k->dir == XS_CT_FWD && k->saddr == c && k->sport == htons(sport) && k->proto == fe->proto) {
			nf++;
			f = &e[j];
		}
		if (k->dir == XS_CT_REV && k->daddr == c && k->dport == htons(sport) && k->proto == fe->proto) {
			nr++;
			r = &e[j];
		}
	}
	if (nf != 1 || nr != 1) {
		fail("flow %s:%u: %zu FWD and %zu REV conntrack entries, want 1 and 1", client, sport, nf, nr);
		goto out;
	}
	if (memcmp(&f->k, &fk, sizeof(fk))) {
		fail("FWD key {%08x %08x %u %u %u %u %u}, want {%08x %08x %u %u %u %u 0}", ntohl(f->k.saddr),
		     ntohl(f->k.daddr), ntohs(f->k.sport), ntohs(f->k.dport), f->k.proto, f->k.dir, f->k.pad,
		     ntohl(fk.saddr), ntohl(fk.daddr), sport, fe->port, fe->proto, XS_CT_FWD);
		goto out;
	}
	if (memcmp(&r->k, &rk, sizeof(rk))) {
		fail("REV key {%08x %08x %u %u %u %u %u}, want {%08x %08x %u %u %u %u 0}", ntohl(r->k.saddr),
		     ntohl(r->k.daddr), ntohs(r->k.sport), ntohs(r->k.dport), r->k.proto, r->k.dir, r->k.pad,
		     ntohl(rk.saddr), ntohl(rk.daddr), fe->be[i].port, sport, fe->proto, XS_CT_REV);
		goto out;
	}
	if (f->v.nat_addr != be || f->v.nat_port != htons(fe->be[i].port) || f->v.backend_id != be_id ||
	    f->v.svc_id != sv.svc_id || f->v.flags != flags) {
		fail("FWD value {%08x:%u backend %u svc %u flags %u}, want {%08x:%u backend %u svc %u flags %u}",
		     ntohl(f->v.nat_addr), ntohs(f->v.nat_port), f->v.backend_id, f->v.svc_id, f->v.flags,
		     ntohl(be), fe->be[i].port, be_id, sv.svc_id, flags);
		goto out;
	}
	if (r->v.nat_addr != vip || r->v.nat_port != htons(fe->port) || r->v.backend_id != be_id ||
	    r->v.svc_id != sv.svc_id || r->v.flags != flags) {
		fail("REV value {%08x:%u backend %u svc %u flags %u}, want {%08x:%u backend %u svc %u flags %u}",
		     ntohl(r->v.nat_addr), ntohs(r->v.nat_port), r->v.backend_id, r->v.svc_id, r->v.flags,
		     ntohl(vip), fe->port, be_id, sv.svc_id, flags);
		goto out;
	}
	ok = true;
out:
	free(e);
	return ok;
}

static bool test_ct_reuse(void)
{
	uint16_t sport = next_sport();
	struct snap a, b;
	struct delta d = {};
	int first = -1;
	__u64 bytes = 0;

	if (!take_snap(&a))
		return false;
	for (int k = 0; k < 50; k++) {
		size_t payload = 10 + (size_t)k * 3;
		int i = xdp_flow_packet(&FE_WEB, sport, payload, (uint8_t)k);

		if (i < 0)
			return false;
		if (first < 0)
			first = i;
		else if (i != first)
			return fail("packet %d of the flow went to %s, the first to %s", k + 1, FE_WEB.be[i].addr,
				    FE_WEB.be[first].addr);
		bytes += 20 + 20 + payload;
	}
	web_sport_on[first] = sport;
	if (!take_snap(&b))
		return false;
	d.g.hit = 50;
	d.g.new_flow = 1;
	d.s[S_WEB] = (struct xs_svc_stats){ 50, bytes, 1, 0 };
	/* Two entries created by the first packet, none by the 49 others. */
	d.ct = d.g.ct_created = 2;
	return check_delta(&a, &b, &d) && check_ct_flow(&FE_WEB, CLIENT, sport, first, 0);
}

static bool test_spread(const struct fe_def *fe, int want_only, unsigned tries)
{
	unsigned seen[2] = { 0, 0 };
	struct snap a, b;
	struct delta d = {};
	__u64 bytes = 0;

	if (!take_snap(&a))
		return false;
	for (unsigned k = 0; k < tries; k++) {
		uint16_t sport = next_sport();
		int i = xdp_flow_packet(fe, sport, k % 17, (uint8_t)k);

		if (i < 0)
			return false;
		seen[i]++;
		if (fe == &FE_WEB)
			web_sport_on[i] = sport;
		bytes += 40 + k % 17;
	}
	if (!take_snap(&b))
		return false;
	if (want_only >= 0) {
		if (seen[want_only] != tries)
			return fail("%u of %u new flows went to %s:%u, want all", seen[want_only], tries,
				    fe->be[want_only].addr, fe->be[want_only].port);
	} else if (!seen[0] || !seen[1]) {
		return fail("%u new flows: %u to %s, %u to %s; want both reached", tries, seen[0], fe->be[0].addr,
			    seen[1], fe->be[1].addr);
	}
	d.g.hit = d.g.new_flow = tries;
	d.s[slot_of(fe)] = (struct xs_svc_stats){ tries, bytes, tries, 0 };
	d.ct = 2 * (long)tries;
	d.g.ct_created = 2 * tries;
	return check_delta(&a, &b, &d);
}

/* One packet of the dns flow from sport; d gets its counters. */
static bool dns_packet(uint16_t sport, struct delta *d)
{
	if (xdp_flow_packet(&FE_DNS, sport, 10, 1) < 0)
		return false;
	d->g.hit++;
	d->s[S_DNS].packets++;
	d->s[S_DNS].bytes += 20 + 8 + 10;
	return true;
}

/* The terms of `xdpsvc list`'s eviction count: ct_created counts keys the
 * datapath inserts, not entries it rewrites; a flush adds what it deleted
 * to xs_config.ct_flushed. */
static bool test_ct_counted(void)
{
	uint16_t sport = next_sport();
	struct xs_ct_key fk = { .saddr = htonl(pkt_ip(CLIENT)), .daddr = htonl(pkt_ip(DNS_VIP)),
				.sport = htons(sport), .dport = htons(53), .proto = PKT_IPPROTO_UDP,
				.dir = XS_CT_FWD };
	struct xs_ct_value fv;
	struct xs_config c0, c1;
	struct snap a, b;
	struct delta d = {};
	unsigned long flushed;
	__u32 zero = 0;
	long n0, n1;
	int err;

	/* a new flow: its FWD and REV entries */
	if (!take_snap(&a) || !dns_packet(sport, &d) || !take_snap(&b))
		return false;
	d.g.new_flow = d.s[S_DNS].new_flows = 1;
	d.ct = d.g.ct_created = 2;
	if (!check_delta(&a, &b, &d))
		return refail("first packet of a new flow");
	/* the flow's next packet: nothing created */
	memset(&d, 0, sizeof(d));
	if (!take_snap(&a) || !dns_packet(sport, &d) || !dns_packet(sport, &d) || !take_snap(&b) ||
	    !check_delta(&a, &b, &d))
		return refail("two more packets of the flow");
	/* idle past the UDP timeout (last_seen 0: boot time): the flow is
	 * re-picked, and both entries (one backend: the same keys) rewritten */
	if (bpf_map_lookup_elem(M.ct, &fk, &fv))
		return fail("no FWD entry for the flow");
	fv.last_seen = 0;
	if (bpf_map_update_elem(M.ct, &fk, &fv, BPF_EXIST))
		return fail("cannot age the FWD entry: %s", strerror(errno));
	memset(&d, 0, sizeof(d));
	if (!take_snap(&a) || !dns_packet(sport, &d) || !take_snap(&b))
		return false;
	d.g.new_flow = d.s[S_DNS].new_flows = d.g.ct_expired = 1;
	if (!check_delta(&a, &b, &d))
		return refail("a packet after the entry expired");
	/* flushing the Service's flows */
	n0 = ct_count();
	if (bpf_map_lookup_elem(M.config, &zero, &c0))
		return fail("reading xs_config: %s", strerror(errno));
	err = xs_ct_flush(&M, "test", FE_DNS.name, &flushed);
	if (err)
		return fail("xs_ct_flush: %s", strerror(-err));
	n1 = ct_count();
	if (bpf_map_lookup_elem(M.config, &zero, &c1))
		return fail("reading xs_config: %s", strerror(errno));
	if (flushed < 2 || (long)flushed != n0 - n1)
		return fail("flush deleted %lu entries, the table went from %ld to %ld", flushed, n0, n1);
	if (c1.ct_flushed - c0.ct_flushed != flushed)
		return fail("xs_config.ct_flushed went up by %llu, want %lu",
			    (unsigned long long)(c1.ct_flushed - c0.ct_flushed), flushed);
	return true;
}

/* A mix of flows to all three frontends; every counter exact. */
static bool test_counters(void)
{
	struct snap a, b;
	struct delta d = {};
	static const struct {
		const struct fe_def *fe;
		int flows, pkts;
	} plan[] = { { &FE_WEB, 3, 4 }, { &FE_DNS, 2, 3 }, { &FE_EMPTY, 2, 2 } };

	if (!take_snap(&a))
		return false;
	for (size_t p = 0; p < sizeof(plan) / sizeof(plan[0]); p++) {
		const struct fe_def *fe = plan[p].fe;
		struct xs_svc_stats *s = &d.s[slot_of(fe)];

		for (int f = 0; f < plan[p].flows; f++) {
			uint16_t sport = next_sport();

			for (int k = 0; k < plan[p].pkts; k++) {
				struct pkt_spec sp = { .proto = fe->proto, .saddr = CLIENT, .daddr = fe->vip,
						       .sport = sport, .dport = fe->port,
						       .payload = (size_t)(f * 100 + k * 7 + 1), .seed = (uint8_t)k };
				struct pkt in, out;
				__u32 ret, want = fe->n ? XDP_PASS : XDP_TX;

				pkt_build(&in, &sp);
				if (!run_xdp(&in, &out, &ret))
					return false;
				if (ret != want)
					return fail("%s flow %d packet %d: retval %s, want %s", fe->name, f, k,
						    xdp_act(ret), xdp_act(want));
				s->packets++;
				s->bytes += in.tot;
				if (fe->n) {
					d.g.hit++;
					s->new_flows += k == 0;
					d.g.new_flow += k == 0;
					d.ct += k == 0 ? 2 : 0;
					d.g.ct_created += k == 0 ? 2 : 0;
				} else {
					s->no_backend++;
					d.g.no_backend++;
					d.g.reject_rst++;
				}
			}
		}
	}
	if (!take_snap(&b))
		return false;
	return check_delta(&a, &b, &d);
}

/* ------------------------------------------------------------ tc */

/* XDP translates a new flow client:sport -> fe; returns the backend or -1. */
static int open_flow(const struct fe_def *fe, uint16_t sport)
{
	return xdp_flow_packet(fe, sport, 12, 0x5a);
}

/* A reply be:port -> client:sport through tc egress: source back to the VIP. */
static bool test_reply(const struct fe_def *fe, struct pkt_spec s)
{
	uint16_t sport = next_sport();
	int i = open_flow(fe, sport);
	struct pkt in, out;
	struct snap a, b;
	struct delta d = {};
	__u32 ret;

	if (i < 0)
		return false;
	s.proto = fe->proto;
	s.saddr = fe->be[i].addr;
	s.sport = fe->be[i].port;
	s.daddr = CLIENT;
	s.dport = sport;
	pkt_build(&in, &s);
	if (!take_snap(&a) || !run_tc(tc_egress_fd, &in, &out, &ret) || !take_snap(&b))
		return false;
	if (ret != TC_ACT_OK)
		return fail("retval %u (%s), want TC_ACT_OK", ret, tc_act(ret));
	if (!check_translated(&in, &out, false, pkt_ip(fe->vip), fe->port))
		return false;
	d.g.reply_nat = 1;
	return check_delta(&a, &b, &d);
}

/* A reply-shaped packet no flow knows: untouched, no counter. */
static bool test_reply_unknown(int prog_fd, const struct fe_def *fe)
{
	struct pkt_spec s = { .proto = fe->proto, .saddr = fe->be[0].addr, .sport = fe->be[0].port,
			      .daddr = CLIENT, .dport = next_sport(), .payload = 21 };
	struct pkt in, out;
	struct snap a, b;
	struct delta d = {};
	__u32 ret;

	pkt_build(&in, &s);
	if (!take_snap(&a) || !run_tc(prog_fd, &in, &out, &ret) || !take_snap(&b))
		return false;
	if (ret != TC_ACT_OK)
		return fail("retval %u (%s), want TC_ACT_OK", ret, tc_act(ret));
	return same_bytes(&in, &out) && check_delta(&a, &b, &d);
}

/*
 * The node itself (NODE:nport) sends to fe through tc egress, packets times:
 * destination a backend (the same for every packet of the flow), conntrack
 * marked local; then the backend's reply through tc ingress gets the VIP back.
 */
static bool test_local(const struct fe_def *fe, uint16_t nport, int packets, bool nocsum)
{
	struct snap a, b;
	struct delta d = {};
	struct pkt in, out;
	__u32 ret;
	int first = -1;

	if (!take_snap(&a))
		return false;
	for (int k = 0; k < packets; k++) {
		struct pkt_spec s = { .proto = fe->proto, .saddr = NODE, .sport = nport, .daddr = fe->vip,
				      .dport = fe->port, .payload = (size_t)(30 + k), .seed = (uint8_t)k,
				      .udp_nocsum = nocsum };
		int i;

		pkt_build(&in, &s);
		if (!run_tc(tc_egress_fd, &in, &out, &ret))
			return false;
		if (ret != TC_ACT_OK && ret != TC_ACT_REDIRECT)
			return fail("packet %d: retval %u (%s), want TC_ACT_REDIRECT or TC_ACT_OK", k + 1, ret,
				    tc_act(ret));
		i = which_backend(fe, &out, true);
		if (i < 0)
			return not_a_backend(fe, &out);
		if (!check_translated(&in, &out, true, pkt_ip(fe->be[i].addr), fe->be[i].port))
			return false;
		if (first < 0)
			first = i;
		else if (i != first)
			return fail("packet %d went to %s, the first to %s", k + 1, fe->be[i].addr,
				    fe->be[first].addr);
		d.s[slot_of(fe)].packets++;
		d.s[slot_of(fe)].bytes += in.tot;
	}
	if (!take_snap(&b))
		return false;
	d.g.local_dnat = d.g.hit = (__u64)packets;
	d.g.new_flow = 1;
	d.s[slot_of(fe)].new_flows = 1;
	d.ct = d.g.ct_created = 2;
	if (!check_delta(&a, &b, &d) || !check_ct_flow(fe, NODE, nport, first, XS_CT_F_LOCAL))
		return false;

	/* the reply, coming back in from the backend */
	{
		struct pkt_spec s = { .proto = fe->proto, .saddr = fe->be[first].addr,
				      .sport = fe->be[first].port, .daddr = NODE, .dport = nport,
				      .payload = 99, .udp_nocsum = nocsum };
		struct delta dr = {};

		pkt_build(&in, &s);
		if (!take_snap(&a) || !run_tc(tc_ingress_fd, &in, &out, &ret) || !take_snap(&b))
			return false;
		if (ret != TC_ACT_OK)
			return fail("reply through tc ingress: retval %u (%s), want TC_ACT_OK", ret, tc_act(ret));
		if (!check_translated(&in, &out, false, pkt_ip(fe->vip), fe->port))
			return refail("reply through tc ingress");
		dr.g.reply_nat = 1;
		return check_delta(&a, &b, &dr);
	}
}

/*
 * tc mode (a veth NIC: no XDP): tc ingress translates a client's packets to
 * a frontend as XDP would, with the skb checksum helpers, and hands them on
 * (no route here: to the stack, TC_ACT_OK); the reply leaves through tc
 * egress with the VIP back.
 */
static bool test_tc_mode(const struct fe_def *fe, int packets)
{
	uint16_t cport = next_sport();
	struct snap a, b;
	struct delta d = {};
	struct pkt in, out;
	__u32 ret;
	int first = -1;

	if (!take_snap(&a))
		return false;
	for (int k = 0; k < packets; k++) {
		struct pkt_spec s = { .proto = fe->proto, .saddr = CLIENT, .sport = cport, .daddr = fe->vip,
				      .dport = fe->port, .payload = (size_t)(40 + k), .seed = (uint8_t)k };
		int i;

		pkt_build(&in, &s);
		if (!run_tc(tc_ingress_fd, &in, &out, &ret))
			return false;
		if (ret != TC_ACT_OK)
			return fail("packet %d: retval %u (%s), want TC_ACT_OK (no route: the stack)", k + 1, ret,
				    tc_act(ret));
		i = which_backend(fe, &out, true);
		if (i < 0)
			return not_a_backend(fe, &out);
		if (!check_translated(&in, &out, true, pkt_ip(fe->be[i].addr), fe->be[i].port))
			return false;
		if (first < 0)
			first = i;
		else if (i != first)
			return fail("packet %d went to %s, the first to %s", k + 1, fe->be[i].addr,
				    fe->be[first].addr);
		d.s[slot_of(fe)].packets++;
		d.s[slot_of(fe)].bytes += in.tot;
	}
	if (!take_snap(&b))
		return false;
	d.g.hit = d.g.to_stack = (__u64)packets;
	d.route = true;
	d.g.new_flow = 1;
	d.s[slot_of(fe)].new_flows = 1;
	d.ct = d.g.ct_created = 2;
	if (!check_delta(&a, &b, &d) || !check_ct_flow(fe, CLIENT, cport, first, 0))
		return false;

	struct pkt_spec r = { .proto = fe->proto, .saddr = fe->be[first].addr, .sport = fe->be[first].port,
			      .daddr = CLIENT, .dport = cport, .payload = 77 };
	pkt_build(&in, &r);
	if (!run_tc(tc_egress_fd, &in, &out, &ret))
		return false;
	if (ret != TC_ACT_OK)
		return fail("reply: retval %u (%s), want TC_ACT_OK", ret, tc_act(ret));
	return check_translated(&in, &out, false, pkt_ip(fe->vip), fe->port) || refail("reply through tc egress");
}

/*
 * An ICMP error from src to dst quoting the first qlen bytes of q's IP
 * datagram, built from scratch (Ethernet as q's, checksums computed).
 */
static void build_icmp_err(struct pkt *w, const char *src, const char *dst, uint8_t type, uint8_t code,
			   const struct pkt *q, size_t qlen)
{
	struct pkt_spec s = { .proto = PKT_IPPROTO_ICMP, .saddr = src, .daddr = dst, .payload = qlen };

	pkt_build(w, &s);
	w->b[w->l4] = type;
	w->b[w->l4 + 1] = code;
	pkt_put16(w, w->l4 + 2, 0);
	pkt_put32(w, w->l4 + 4, 0);
	memcpy(w->b + w->l4 + 8, q->b + q->l3, qlen);
	pkt_put16(w, w->l4 + 2, pkt_fold(pkt_sum(0, w->b + w->l4, 8 + qlen)));
	pkt_put16(w, w->l3 + PKT_IP_CHECK, pkt_ip_csum(w));
}

/* Run an ICMP error through a tc program; its output must be want, byte
 * for byte, and icmp_nat +1. */
static bool icmp_case(const char *what, int fd, const struct pkt *in, const struct pkt *want)
{
	struct snap a, b;
	struct delta d = {};
	struct pkt out;
	char diff[512];
	__u32 ret;

	if (!take_snap(&a) || !run_tc(fd, in, &out, &ret) || !take_snap(&b))
		return refail(what);
	if (ret != TC_ACT_OK)
		return fail("%s: retval %u (%s), want TC_ACT_OK (no route here: the stack)", what, ret, tc_act(ret));
	if (pkt_diff(&out, want, diff, sizeof(diff)))
		return fail("%s: differs from the translated error built from scratch: %s", what, diff);
	d.g.icmp_nat = 1;
	return check_delta(&a, &b, &d) || refail(what);
}

/*
 * ICMP errors about translated flows (kernel NAT's related packets): a
 * UDP flow client -> VIP:53 and a TCP flow client -> VIP:80 go through XDP;
 *  - the backend's port unreachable (8 bytes quoted) through the pod
 *    program: from the VIP, quoting client -> VIP:53 (the client's own
 *    datagram, byte for byte, checksums too);
 *  - a router's time exceeded quoting the whole TCP header (its checksum
 *    translated too) through the pod program: from the VIP too, as kernel
 *    NAT gives the outer header the flow's own translation;
 *  - a router's fragmentation needed about the reply VIP -> client, coming
 *    in on the NIC: to the backend, quoting backend -> client as it sent it;
 *  - an error quoting a flow nobody translated passes untouched.
 */
static bool test_icmp_errors(void)
{
	uint16_t up = next_sport(), tp = next_sport();
	struct pkt_spec us = { .proto = PKT_IPPROTO_UDP, .saddr = CLIENT, .sport = up, .daddr = DNS_VIP, .dport = 53,
			       .payload = 40, .seed = 7 };
	struct pkt_spec ts = { .proto = PKT_IPPROTO_TCP, .saddr = CLIENT, .sport = tp, .daddr = WEB_VIP, .dport = 80,
			       .payload = 30, .seed = 9 };
	struct pkt uin, ut, tin, tt, in, want, r, rv;
	__u32 ret;
	int i;

	pkt_build(&uin, &us);
	pkt_build(&tin, &ts);
	if (!run_xdp(&uin, &ut, &ret) || !run_xdp(&tin, &tt, &ret))
		return false;
	if ((i = which_backend(&FE_WEB, &tt, true)) < 0)
		return not_a_backend(&FE_WEB, &tt);

	build_icmp_err(&in, POD1, CLIENT, 3, 3, &ut, 28);
	build_icmp_err(&want, DNS_VIP, CLIENT, 3, 3, &uin, 28);
	if (!icmp_case("the backend's port unreachable", tc_pod_fd, &in, &want))
		return false;

	build_icmp_err(&in, "198.18.0.254", CLIENT, 11, 0, &tt, 40);
	build_icmp_err(&want, WEB_VIP, CLIENT, 11, 0, &tin, 40);
	if (!icmp_case("a router's time exceeded quoting the TCP header", tc_pod_fd, &in, &want))
		return false;

	/* The reply as the backend sent it, and as it left the node. */
	struct pkt_spec rs = { .proto = PKT_IPPROTO_UDP, .saddr = POD1, .sport = 5353, .daddr = CLIENT, .dport = up,
			       .payload = 60, .seed = 3 };
	pkt_build(&r, &rs);
	rs.saddr = DNS_VIP;
	rs.sport = 53;
	pkt_build(&rv, &rs);
	build_icmp_err(&in, "198.18.0.254", DNS_VIP, 3, 4, &rv, 28);
	build_icmp_err(&want, "198.18.0.254", POD1, 3, 4, &r, 28);
	if (!icmp_case("a router's fragmentation needed about the reply, in on the NIC", tc_ingress_fd, &in, &want))
		return false;

	struct pkt out;
	struct pkt_spec os = us;

	os.sport = next_sport();
	pkt_build(&r, &os);
	build_icmp_err(&in, POD1, CLIENT, 3, 3, &r, 28);
	if (!run_tc(tc_pod_fd, &in, &out, &ret))
		return false;
	return same_bytes(&in, &out) || refail("an error about an unknown flow");
}

static bool test_local_no_backend(void)
{
	struct pkt_spec s = { .proto = PKT_IPPROTO_TCP, .saddr = NODE, .sport = next_sport(), .daddr = EMPTY_VIP,
			      .dport = 443, .payload = 0, .tcp_flags = 2 };
	struct pkt in, out;
	struct snap a, b;
	struct delta d = {};
	__u32 ret;

	struct pkt want;
	char diff[512];

	pkt_build(&in, &s);
	if (!take_snap(&a) || !run_tc(tc_egress_fd, &in, &out, &ret) || !take_snap(&b))
		return false;
	if (ret != TC_ACT_REDIRECT)
		return fail("retval %u (%s), want TC_ACT_REDIRECT (the RST, back in)", ret, tc_act(ret));
	build_rst(&in, &want);
	if (pkt_diff(&out, &want, diff, sizeof(diff)))
		return fail("the RST differs from one built from scratch: %s", diff);
	d.g.no_backend = d.g.reject_rst = 1;
	d.s[S_EMPTY] = (struct xs_svc_stats){ 1, in.tot, 0, 1 };
	return check_delta(&a, &b, &d);
}

/* ------------------------------------------------------------ the pod program */

#define POD3 "198.18.1.13"
#define HAIRPIN "169.254.42.1"

/* The hairpin address in xs_config, as attach writes it (the tests' maps
 * start zeroed). */
static bool set_hairpin(const char *addr)
{
	struct xs_config cfg;
	__u32 zero = 0;
	int fd = bpf_map__fd(X->maps.xs_config);

	if (bpf_map_lookup_elem(fd, &zero, &cfg))
		return fail("reading xs_config: %s", strerror(errno));
	cfg.hairpin_addr = addr ? htonl(pkt_ip(addr)) : 0;
	if (bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY))
		return fail("writing xs_config: %s", strerror(errno));
	return true;
}

/* out must be in with these addresses and ports, the MACs swapped when
 * swap, both checksums right (recomputed from scratch), nothing else changed. */
static bool check_rewritten(const struct pkt *in, const struct pkt *out, const char *saddr, uint16_t sport,
			    const char *daddr, uint16_t dport, bool swap)
{
	struct pkt want = *in;
	char d[512];

	if (out->len != in->len)
		return fail("output is %zu bytes, input %zu", out->len, in->len);
	pkt_put32(&want, want.l3 + PKT_IP_SADDR, pkt_ip(saddr));
	pkt_put32(&want, want.l3 + PKT_IP_DADDR, pkt_ip(daddr));
	pkt_put16(&want, want.l4, sport);
	pkt_put16(&want, want.l4 + 2, dport);
	if (swap) {
		memcpy(want.b, in->b + 6, 6);
		memcpy(want.b + 6, in->b, 6);
	}
	pkt_fix_csums(&want, true);
	if (pkt_ip_csum(out) != pkt_get16(out, out->l3 + PKT_IP_CHECK))
		return fail("IPv4 header checksum wrong");
	if (pkt_l4_csum(out) != pkt_get16(out, pkt_l4_check_off(out)))
		return fail("L4 checksum 0x%04x, computed from scratch 0x%04x", pkt_get16(out, pkt_l4_check_off(out)),
			    pkt_l4_csum(out));
	if (pkt_diff(out, &want, d, sizeof(d)))
		return fail("output differs from %s:%u -> %s:%u%s: %s", saddr, sport, daddr, dport,
			    swap ? " with the MACs swapped" : "", d);
	return true;
}

/*
 * A pod (POD3, not a backend) sends to fe through its veth's program: the
 * destination becomes a backend, the stack routes it (TC_ACT_OK); the
 * backend's reply, leaving its own veth, gets the VIP back as source.
 */
static bool test_pod(const struct fe_def *fe, struct pkt_spec s)
{
	uint16_t sport = next_sport();
	struct snap a, b;
	struct delta d = {};
	struct pkt in, out;
	__u32 ret;
	int i;

	s.proto = fe->proto;
	s.saddr = POD3;
	s.sport = sport;
	s.daddr = fe->vip;
	s.dport = fe->port;
	pkt_build(&in, &s);
	if (!take_snap(&a) || !run_tc(tc_pod_fd, &in, &out, &ret) || !take_snap(&b))
		return false;
	if (ret != TC_ACT_OK)
		return fail("retval %u (%s), want TC_ACT_OK", ret, tc_act(ret));
	i = which_backend(fe, &out, true);
	if (i < 0)
		return not_a_backend(fe, &out);
	if (!check_translated(&in, &out, true, pkt_ip(fe->be[i].addr), fe->be[i].port))
		return false;
	d.g.pod_dnat = d.g.hit = d.g.new_flow = 1;
	d.g.ct_created = 2; /* FWD and REV */
	d.s[slot_of(fe)] = (struct xs_svc_stats){ 1, in.tot, 1, 0 };
	d.ct = 2;
	if (!check_delta(&a, &b, &d) || !check_ct_flow(fe, POD3, sport, i, 0))
		return false;

	struct pkt_spec r = s;
	struct delta dr = {};

	r.saddr = fe->be[i].addr;
	r.sport = fe->be[i].port;
	r.daddr = POD3;
	r.dport = sport;
	pkt_build(&in, &r);
	if (!take_snap(&a) || !run_tc(tc_pod_fd, &in, &out, &ret) || !take_snap(&b))
		return false;
	if (ret != TC_ACT_OK)
		return fail("reply: retval %u (%s), want TC_ACT_OK", ret, tc_act(ret));
	if (!check_translated(&in, &out, false, pkt_ip(fe->vip), fe->port))
		return refail("reply");
	dr.g.reply_nat = 1;
	return check_delta(&a, &b, &dr);
}

/*
 * Hairpin: POD1 sends to dns, whose one backend is POD1 itself. The packet
 * goes back into the veth (TC_ACT_REDIRECT, MACs swapped) from the hairpin
 * address to POD1:5353; POD1's answer to the hairpin address comes back from
 * the VIP to POD1. Without a hairpin address (0) nothing but the DNAT.
 */
static bool test_hairpin(void)
{
	uint16_t sport = next_sport();
	struct pkt_spec s = { .proto = PKT_IPPROTO_UDP, .saddr = POD1, .sport = sport, .daddr = DNS_VIP,
			      .dport = 53, .payload = 17 };
	struct snap a, b;
	struct delta d = {};
	struct pkt in, out;
	__u32 ret;

	if (!set_hairpin(HAIRPIN))
		return false;
	pkt_build(&in, &s);
	if (!take_snap(&a) || !run_tc(tc_pod_fd, &in, &out, &ret) || !take_snap(&b))
		return false;
	if (ret != TC_ACT_REDIRECT)
		return fail("retval %u (%s), want TC_ACT_REDIRECT", ret, tc_act(ret));
	if (!check_rewritten(&in, &out, HAIRPIN, sport, POD1, 5353, true))
		return false;
	d.g.pod_dnat = d.g.hit = d.g.new_flow = d.g.hairpin = 1;
	d.g.ct_created = 2; /* FWD and REV */
	d.s[S_DNS] = (struct xs_svc_stats){ 1, in.tot, 1, 0 };
	d.ct = 2;
	if (!check_delta(&a, &b, &d))
		return false;
	struct xs_ct_key rk = { .saddr = htonl(pkt_ip(POD1)), .daddr = htonl(pkt_ip(HAIRPIN)), .sport = htons(5353),
				.dport = htons(sport), .proto = PKT_IPPROTO_UDP, .dir = XS_CT_REV };
	struct xs_ct_value rv;

	if (bpf_map_lookup_elem(M.ct, &rk, &rv) || !(rv.flags & XS_CT_F_HAIRPIN) ||
	    rv.nat_addr != htonl(pkt_ip(DNS_VIP)) || rv.nat_port != htons(53))
		return fail("no REV entry POD1:5353 -> " HAIRPIN ":%u flagged hairpin, back to the VIP", sport);

	struct pkt_spec r = s;
	struct delta dr = {};

	r.saddr = POD1;
	r.sport = 5353;
	r.daddr = HAIRPIN;
	r.dport = sport;
	r.payload = 33;
	pkt_build(&in, &r);
	if (!take_snap(&a) || !run_tc(tc_pod_fd, &in, &out, &ret) || !take_snap(&b))
		return false;
	if (ret != TC_ACT_REDIRECT)
		return fail("reply: retval %u (%s), want TC_ACT_REDIRECT", ret, tc_act(ret));
	if (!check_rewritten(&in, &out, DNS_VIP, 53, POD1, sport, true))
		return refail("reply");
	dr.g.reply_nat = 1;
	if (!check_delta(&a, &b, &dr))
		return false;

	/* No hairpin address: only the DNAT (the pod would drop it). */
	s.sport = next_sport();
	pkt_build(&in, &s);
	if (!set_hairpin(NULL) || !run_tc(tc_pod_fd, &in, &out, &ret))
		return false;
	if (ret != TC_ACT_OK)
		return fail("without a hairpin address: retval %u (%s), want TC_ACT_OK", ret, tc_act(ret));
	return check_translated(&in, &out, true, pkt_ip(POD1), 5353) || refail("without a hairpin address");
}

/* tc egress must leave what it cannot parse alone, like XDP. */
/*
 * One fragmented datagram: its first fragment f (built from spec s with MF,
 * and a UDP length saying the whole datagram) and a later one l (offset 64
 * bytes, 40 bytes of payload, the same IP id).
 */
static void frag_pair(struct pkt_spec s, uint16_t id, struct pkt *f, struct pkt *l)
{
	struct pkt_spec ls = s;

	s.frag = 0x2000;
	pkt_build(f, &s);
	pkt_put16(f, f->l3 + 4, id);
	if (s.proto == PKT_IPPROTO_UDP)
		pkt_put16(f, f->l4 + PKT_UDP_LEN, (uint16_t)(8 + s.payload + 40));
	pkt_fix_csums(f, false);
	ls.proto = PKT_IPPROTO_ICMP; /* any 40 bytes after the IP header */
	ls.payload = 32;
	pkt_build(l, &ls);
	l->b[l->l3 + 9] = s.proto;
	pkt_put16(l, l->l3 + 4, id);
	pkt_put16(l, l->l3 + 6, 8); /* offset 64 bytes, last */
	pkt_put16(l, l->l3 + PKT_IP_CHECK, pkt_ip_csum(l));
}

/* l's addresses made saddr, daddr, its IP checksum right: what a later
 * fragment becomes. */
static void frag_want(const struct pkt *l, const char *saddr, const char *daddr, struct pkt *w)
{
	*w = *l;
	pkt_put32(w, w->l3 + PKT_IP_SADDR, pkt_ip(saddr));
	pkt_put32(w, w->l3 + PKT_IP_DADDR, pkt_ip(daddr));
	pkt_put16(w, w->l3 + PKT_IP_CHECK, pkt_ip_csum(w));
}

static bool frag_case(const char *what, int fd, bool xdp, const struct pkt *l, const struct pkt *want)
{
	struct snap a, b;
	struct delta d = {};
	struct pkt out;
	char diff[512];
	__u32 ret;

	if (!take_snap(&a) || !(xdp ? run_xdp(l, &out, &ret) : run_tc(fd, l, &out, &ret)) || !take_snap(&b))
		return refail(what);
	if (ret != (xdp ? (__u32)XDP_PASS : (__u32)TC_ACT_OK))
		return fail("%s: retval %u, want %s (no route here)", what, ret, xdp ? "XDP_PASS" : "TC_ACT_OK");
	if (pkt_diff(&out, want, diff, sizeof(diff)))
		return fail("%s: differs from its first fragment's translation: %s", what, diff);
	d.g.frag_nat = 1;
	return check_delta(&a, &b, &d) || refail(what);
}

static bool test_fragments(void)
{
	struct pkt_spec s = { .proto = PKT_IPPROTO_UDP, .saddr = CLIENT, .sport = next_sport(), .daddr = DNS_VIP,
			      .dport = 53, .payload = 56, .seed = 5 };
	struct pkt f, l, out, want;
	__u32 ret;

	/* a client's datagram through XDP */
	frag_pair(s, 0x1234, &f, &l);
	if (!run_xdp(&f, &out, &ret))
		return false;
	if (ret != XDP_PASS || !check_translated(&f, &out, true, pkt_ip(POD1), 5353))
		return refail("the first fragment through XDP");
	frag_want(&l, CLIENT, POD1, &want);
	if (!frag_case("the later fragment through XDP", 0, true, &l, &want))
		return false;

	/* the backend's reply in fragments, through the pod program */
	struct pkt_spec r = { .proto = PKT_IPPROTO_UDP, .saddr = POD1, .sport = 5353, .daddr = CLIENT,
			      .dport = s.sport, .payload = 80, .seed = 6 };
	frag_pair(r, 0x4321, &f, &l);
	if (!run_tc(tc_pod_fd, &f, &out, &ret) || !check_translated(&f, &out, false, pkt_ip(DNS_VIP), 53))
		return refail("the reply's first fragment through the pod program");
	frag_want(&l, DNS_VIP, CLIENT, &want);
	if (!frag_case("the reply's later fragment through the pod program", tc_pod_fd, false, &l, &want))
		return false;

	/* the same datagram id from another client is not that flow's */
	struct pkt_spec o = s;
	struct pkt of, ol;

	o.saddr = "198.18.0.9";
	frag_pair(o, 0x1234, &of, &ol);
	if (!run_tc(tc_ingress_fd, &ol, &out, &ret) || !same_bytes(&ol, &out))
		return refail("another client's later fragment with the same id");

	/* a client's datagram through tc ingress (tc mode) */
	s.sport = next_sport();
	frag_pair(s, 0x5555, &f, &l);
	if (!run_tc(tc_ingress_fd, &f, &out, &ret) || !check_translated(&f, &out, true, pkt_ip(POD1), 5353))
		return refail("the first fragment through tc ingress");
	frag_want(&l, CLIENT, POD1, &want);
	if (!frag_case("the later fragment through tc ingress", tc_ingress_fd, false, &l, &want))
		return false;

	/* the node's own datagram, through tc egress */
	s.saddr = NODE;
	s.sport = next_sport();
	frag_pair(s, 0x7777, &f, &l);
	if (!run_tc(tc_egress_fd, &f, &out, &ret) || !check_translated(&f, &out, true, pkt_ip(POD1), 5353))
		return refail("the node's first fragment through tc egress");
	frag_want(&l, NODE, POD1, &want);
	return frag_case("the node's later fragment through tc egress", tc_egress_fd, false, &l, &want);
}

static int untouched_fd; /* the program test_tc_untouched runs: 0 = tc egress */

static bool test_tc_untouched(struct pkt_spec s, void (*edit)(struct pkt *, int), int arg)
{
	struct pkt in, out;
	__u32 ret;
	long ct0, ct1;

	s.sport = next_sport();
	pkt_build(&in, &s);
	if (edit)
		edit(&in, arg);
	ct0 = ct_count();
	if (!run_tc(untouched_fd ?: tc_egress_fd, &in, &out, &ret))
		return false;
	ct1 = ct_count();
	if (ret != TC_ACT_OK)
		return fail("retval %u (%s), want TC_ACT_OK", ret, tc_act(ret));
	if (ct1 != ct0)
		return fail("conntrack grew by %ld entries, want 0", ct1 - ct0);
	return same_bytes(&in, &out);
}

/* ... and so must the pod program. */
static bool test_pod_untouched(struct pkt_spec s)
{
	bool ok;

	untouched_fd = tc_pod_fd;
	ok = test_tc_untouched(s, NULL, 0);
	untouched_fd = 0;
	return ok;
}

/* ------------------------------------------------------------ service changes */

/* xs_vip_bits holds exactly the bits of these frontends' addresses. */
static bool vip_bits_are(const struct fe_def *const *fes, size_t n)
{
	for (__u32 k = 0; k < XS_VIP_WORDS; k++) {
		__u64 got, want = 0;

		for (size_t i = 0; i < n; i++) {
			__u32 bit = xs_vip_bit(htonl(pkt_ip(fes[i]->vip)));

			if (bit >> 6 == k)
				want |= 1ULL << (bit & 63);
		}
		if (bpf_map_lookup_elem(M.vip_bits, &k, &got))
			return fail("cannot read xs_vip_bits[%u]", k);
		if (got != want)
			return fail("xs_vip_bits[%u] is %#llx, want %#llx", k, (unsigned long long)got,
				    (unsigned long long)want);
	}
	return true;
}

static bool test_apply_initial(void)
{
	static const struct fe_def *const fes[] = { &FE_WEB, &FE_DNS, &FE_EMPTY };
	struct xs_apply_result r;
	struct xs_svc_value v;

	if (!apply(fes, 3, &r))
		return false;
	if (r.fe_added != 3 || r.be_added != 3 || r.fe_changed || r.fe_removed || r.be_removed)
		return fail("apply result: %u/%u/%u frontends added/changed/removed, %u/%u backends added/removed;"
			    " want 3/0/0, 3/0", r.fe_added, r.fe_changed, r.fe_removed, r.be_added, r.be_removed);
	for (size_t i = 0; i < 3; i++) {
		if (!svc_value(fes[i], &v))
			return fail("frontend %s not in xs_services after apply", fes[i]->name);
		if (v.count != fes[i]->n)
			return fail("frontend %s: count %u, want %zu", fes[i]->name, v.count, fes[i]->n);
	}
	return vip_bits_are(fes, 3);
}

static bool test_apply_remove_backend(void)
{
	static const struct fe_def *const fes[] = { &FE_WEB_ONE, &FE_DNS, &FE_EMPTY };
	struct xs_apply_result r;
	struct xs_svc_value v;

	if (!apply(fes, 3, &r))
		return false;
	if (r.fe_changed != 1 || r.be_removed != 1 || r.fe_added || r.fe_removed || r.be_added)
		return fail("apply result: %u/%u/%u frontends added/changed/removed, %u/%u backends added/removed;"
			    " want 0/1/0, 0/1", r.fe_added, r.fe_changed, r.fe_removed, r.be_added, r.be_removed);
	if (!svc_value(&FE_WEB, &v) || v.count != 1)
		return fail("web: count %u after apply, want 1", v.count);
	return true;
}

/* A TCP flow XDP had pinned to .12 is not moved mid-stream once .12 is
 * removed: it stays on .12 (kube-proxy keeps it too), counted. */
static bool test_gone_midstream(void)
{
	uint16_t sport = web_sport_on[1];
	struct pkt_spec s = { .proto = FE_WEB.proto, .saddr = CLIENT, .daddr = FE_WEB.vip, .sport = sport,
			      .dport = FE_WEB.port, .payload = 12, .seed = 1 };
	struct pkt in, out;
	struct snap a, b;
	struct delta d = {};
	__u32 ret;

	if (!sport)
		return fail("no earlier flow went to %s", POD2);
	pkt_build(&in, &s);
	if (!take_snap(&a) || !run_xdp(&in, &out, &ret) || !take_snap(&b))
		return false;
	if (ret != XDP_PASS)
		return fail("client port %u: retval %u (%s), want XDP_PASS", sport, ret, xdp_act(ret));
	if (!check_translated(&in, &out, true, pkt_ip(POD2), 8080))
		return false;
	d.g.tcp_backend_gone = 1;
	d.g.hit = 1;
	d.s[S_WEB] = (struct xs_svc_stats){ 1, 52, 0, 0 };
	return check_delta(&a, &b, &d);
}

/* ... while a SYN on that flow (the client reconnecting from the same port)
 * is a new connection: it goes to .11. */
static bool test_repoint(void)
{
	uint16_t sport = web_sport_on[1];
	struct pkt_spec s = { .proto = FE_WEB.proto, .saddr = CLIENT, .daddr = FE_WEB.vip, .sport = sport,
			      .dport = FE_WEB.port, .payload = 12, .seed = 1, .tcp_flags = 0x02 };
	struct pkt in, out;
	struct snap a, b;
	struct delta d = {};
	__u32 ret;
	int i;

	if (!sport)
		return fail("no earlier flow went to %s", POD2);
	if (!take_snap(&a))
		return false;
	pkt_build(&in, &s);
	if (!run_xdp(&in, &out, &ret))
		return false;
	if (ret != XDP_PASS)
		return fail("client port %u: retval %u (%s), want XDP_PASS", sport, ret, xdp_act(ret));
	i = which_backend(&FE_WEB, &out, true);
	if (i < 0)
		return not_a_backend(&FE_WEB, &out);
	if (!check_translated(&in, &out, true, pkt_ip(FE_WEB.be[i].addr), FE_WEB.be[i].port))
		return false;
	if (i < 0)
		return false;
	if (i != 0)
		return fail("flow %s:%u went to %s:%u, want %s:8080", CLIENT, sport, FE_WEB.be[i].addr,
			    FE_WEB.be[i].port, POD1);
	if (!take_snap(&b))
		return false;
	d.g.hit = d.g.new_flow = 1;
	d.s[S_WEB] = (struct xs_svc_stats){ 1, 52, 1, 0 };
	/* The FWD entry is rewritten in place and a REV entry for .11 added;
	 * the stale REV entry of .12 stays until the LRU drops it. Only the
	 * REV entry counts as created. */
	d.ct = d.g.ct_created = 1;
	if (!check_delta(&a, &b, &d))
		return false;
	{
		struct xs_ct_key fk = { .saddr = htonl(pkt_ip(CLIENT)), .daddr = htonl(pkt_ip(WEB_VIP)),
					.sport = htons(sport), .dport = htons(80), .proto = PKT_IPPROTO_TCP,
					.dir = XS_CT_FWD };
		struct xs_ct_value fv;
		__u32 id;

		if (bpf_map_lookup_elem(M.ct, &fk, &fv))
			return fail("no FWD conntrack entry for the flow after the re-pick");
		if (!backend_id_of(&FE_WEB, 0, &id))
			return false;
		if (fv.nat_addr != htonl(pkt_ip(POD1)) || fv.nat_port != htons(8080) || fv.backend_id != id)
			return fail("FWD entry points at %08x:%u backend %u, want %s:8080 backend %u",
				    ntohl(fv.nat_addr), ntohs(fv.nat_port), fv.backend_id, POD1, id);
	}
	return true;
}

/* A frontend removed from the model: its packets miss. */
static bool test_apply_remove_frontend(void)
{
	static const struct fe_def *const fes[] = { &FE_WEB_ONE, &FE_EMPTY };
	struct xs_apply_result r;
	struct xs_svc_value v;

	if (!apply(fes, 2, &r))
		return false;
	if (r.fe_removed != 1 || r.be_removed != 1 || r.fe_added || r.fe_changed || r.be_added)
		return fail("apply result: %u/%u/%u frontends added/changed/removed, %u/%u backends added/removed;"
			    " want 0/0/1, 0/1", r.fe_added, r.fe_changed, r.fe_removed, r.be_added, r.be_removed);
	if (svc_value(&FE_DNS, &v))
		return fail("dns still in xs_services after its removal");
	return vip_bits_are(fes, 2);
}

/* ------------------------------------------------------------ main */

#define RUN(name, expr)                                                                             \
	do {                                                                                        \
		bool ok_ = (expr);                                                                  \
		report(name, ok_);                                                                  \
	} while (0)


/* ------------------------------------------------------------ the fast path */

/*
 * The fast path asks the FIB of the ingress device's namespace, so these
 * cases move the test into a network namespace of its own (unshare: it dies
 * with the process) holding: xin (the NIC, 198.18.0.2/24, the client and a
 * gateway 198.18.0.1 behind it) and xout (a pod's device, route to
 * 198.18.1.12/32), with static neighbours. XDP_REDIRECT and XDP_TX are only
 * returned by BPF_PROG_TEST_RUN, nothing is sent.
 */
#define FP_POD_MAC "02:00:00:00:01:12"
#define FP_GW_MAC "02:00:00:00:00:01"
static int fp_in, fp_out;

static bool fp_setup(void)
{
	static const char *const cmds[] = {
		"ip link add xin type veth peer name xin_p",
		"ip link add xout type veth peer name xout_p",
		"ip link set xin address 02:00:00:00:00:02 up",
		"ip link set xin_p up",
		"ip link set xout address 02:00:00:00:01:01 up",
		"ip link set xout_p up",
		"ip addr add 198.18.0.2/24 dev xin",
		"ip route add 198.18.1.12/32 dev xout",
		"ip route add 198.18.5.0/24 via 198.18.0.1 dev xin",
		"ip neigh add 198.18.1.12 lladdr " FP_POD_MAC " dev xout nud permanent",
		"ip neigh add 198.18.0.1 lladdr " FP_GW_MAC " dev xin nud permanent",
	};
	FILE *f;

	if (unshare(CLONE_NEWNET))
		return fail("unshare(CLONE_NEWNET): %s", strerror(errno));
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "%s >/dev/null 2>&1", cmds[i]);
		if (system(cmd))
			return fail("in the test's namespace: '%s' failed", cmds[i]);
	}
	f = fopen("/proc/sys/net/ipv4/ip_forward", "w");
	if (!f || fputs("1", f) < 0 || fclose(f))
		return fail("cannot enable forwarding in the test's namespace");
	fp_in = if_nametoindex("xin");
	fp_out = if_nametoindex("xout");
	if (!fp_in || !fp_out)
		return fail("the test's devices are missing");
	return true;
}

static void mac_parse(const char *s, uint8_t mac[6])
{
	unsigned int b[6];

	sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]);
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
}

/*
 * One packet for a one-backend frontend through XDP with ingress on xin:
 * want_ret, and (for a forwarded packet) the output must be the input
 * translated, TTL - 1, MACs from the FIB, checksums recomputed from scratch.
 */
static bool fp_case(const char *vip, const char *backend, uint8_t ttl, __u32 flags, __u32 want_ret,
		    const char *dmac, const char *smac)
{
	static uint16_t sport = 50000;
	struct pkt_spec sp = { .proto = PKT_IPPROTO_UDP, .saddr = CLIENT, .daddr = vip, .sport = ++sport,
			       .dport = 53, .payload = 21 };
	struct xs_config cfg = { .layout_version = XS_LAYOUT_VERSION, .flags = flags };
	struct xdp_md ctx = { .ingress_ifindex = (__u32)fp_in };
	struct pkt in, out, want;
	__u32 zero = 0;
	char d[512];

	if (bpf_map_update_elem(bpf_map__fd(X->maps.xs_config), &zero, &cfg, BPF_ANY))
		return fail("cannot write xs_config: %s", strerror(errno));
	pkt_build(&in, &sp);
	in.b[in.l3 + 8] = ttl;
	pkt_fix_csums(&in, false);
	ctx.data_end = (__u32)in.len;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in.b, .data_size_in = (__u32)in.len, .data_out = out.b,
		    .data_size_out = sizeof(out.b), .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
	out = in;
	if (bpf_prog_test_run_opts(xdp_fd, &o))
		return fail("BPF_PROG_TEST_RUN with ingress %d: %s", fp_in, strerror(errno));
	out.len = o.data_size_out;
	if (o.retval != want_ret)
		return fail("retval %u (%s), want %u (%s)", o.retval, xdp_act(o.retval), want_ret, xdp_act(want_ret));
	want = in;
	pkt_put32(&want, want.l3 + PKT_IP_DADDR, pkt_ip(backend));
	pkt_put16(&want, want.l4 + 2, 5353);
	if (dmac) {
		want.b[want.l3 + 8] = (uint8_t)(ttl - 1);
		mac_parse(dmac, want.b);
		mac_parse(smac, want.b + 6);
	}
	pkt_fix_csums(&want, false);
	if (pkt_diff(&out, &want, d, sizeof(d)))
		return fail("output differs from the expected forwarded packet: %s", d);
	return true;
}

static bool test_fast_path(void)
{
	static const struct fe_def fe_pod = { "fast-pod", "198.19.0.40", 53, PKT_IPPROTO_UDP, 1,
					      { { POD2, 5353 } } };
	static const struct fe_def fe_remote = { "fast-remote", "198.19.0.41", 53, PKT_IPPROTO_UDP, 1,
						 { { "198.18.5.5", 5353 } } };
	static const struct fe_def fe_unrouted = { "fast-unrouted", "198.19.0.42", 53, PKT_IPPROTO_UDP, 1,
						   { { "198.18.9.9", 5353 } } };
	static const struct fe_def *const fes[] = { &FE_WEB_ONE, &FE_EMPTY, &fe_pod, &fe_remote, &fe_unrouted };
	struct xs_apply_result r;
	bool ok;

	if (!fp_setup() || !apply(fes, 5, &r))
		return false;
	/* A pod's veth drops XDP frames unless the pod's end runs XDP: the
	 * stack takes it there. */
	ok = fp_case("198.19.0.40", POD2, 64, 0, XDP_PASS, NULL, NULL) ||
	     refail("local pod: translated, left to the stack (never XDP_REDIRECT into a veth)");
	ok = ok && (fp_case("198.19.0.41", "198.18.5.5", 64, 0, XDP_TX, FP_GW_MAC, "02:00:00:00:00:02") ||
		    refail("backend behind the NIC: XDP_TX to the gateway"));
	ok = ok && (fp_case("198.19.0.40", POD2, 1, 0, XDP_PASS, NULL, NULL) ||
		    refail("TTL 1: translated, left to the stack"));
	ok = ok && (fp_case("198.19.0.42", "198.18.9.9", 64, 0, XDP_PASS, NULL, NULL) ||
		    refail("no route to the backend: translated, left to the stack"));
	ok = ok && (fp_case("198.19.0.40", POD2, 64, XS_CFG_NO_FAST_PATH, XDP_PASS, NULL, NULL) ||
		    refail("--no-fast-path: translated, left to the stack"));
	return ok;
}

/* Run p through tc egress (a reply leaving a backend); it must come out
 * from saddr:sport to daddr:dport, translated. */
static bool reply_case(const char *what, const struct pkt *in, const char *saddr, uint16_t sport, const char *daddr,
		       uint16_t dport)
{
	struct pkt out, want = *in;
	char d[512];
	__u32 ret;

	if (!run_tc(tc_egress_fd, in, &out, &ret))
		return refail(what);
	pkt_put32(&want, want.l3 + PKT_IP_SADDR, pkt_ip(saddr));
	pkt_put16(&want, want.l4, sport);
	pkt_put32(&want, want.l3 + PKT_IP_DADDR, pkt_ip(daddr));
	pkt_put16(&want, want.l4 + 2, dport);
	pkt_fix_csums(&want, true);
	if (ret != TC_ACT_OK || pkt_diff(&out, &want, d, sizeof(d)))
		return fail("%s: retval %u; want %s:%u -> %s:%u: %s", what, ret, saddr, sport, daddr, dport, d);
	return true;
}

/*
 * A NAT clash (the kernel's answer: another source port): one client port
 * to two frontends with the same backend (dns 198.19.0.20:53 and dns2
 * 198.19.0.25:53, both -> 198.18.1.11:5353). The second flow would take the
 * first's reply tuple, so it gets a source port of the SNAT range instead;
 * each reply gets its own frontend back and the client its own port.
 */
static bool test_nat_clash(void)
{
	static const struct fe_def fe2 = { "dns2", "198.19.0.25", 53, PKT_IPPROTO_UDP, 1, { { POD1, 5353 } } };
	static const struct fe_def *const fes[] = { &FE_WEB, &FE_DNS, &FE_EMPTY, &fe2 };
	struct xs_config cfg = { .layout_version = XS_LAYOUT_VERSION, .snat_port_min = 62000, .snat_port_max = 62009 };
	uint16_t cport = next_sport(), port2;
	struct pkt_spec a = { .proto = PKT_IPPROTO_UDP, .saddr = CLIENT, .sport = cport, .daddr = DNS_VIP, .dport = 53,
			      .payload = 20 };
	struct pkt_spec b = a;
	struct xs_apply_result r;
	struct pkt in, out1, out2;
	struct snap s0, s1;
	__u32 zero = 0, ret;
	bool ok;

	b.daddr = fe2.vip;
	if (!apply(fes, 4, &r) || bpf_map_update_elem(bpf_map__fd(X->maps.xs_config), &zero, &cfg, BPF_ANY))
		return fail("setup: %s", strerror(errno));
	pkt_build(&in, &a);
	ok = run_xdp(&in, &out1, &ret) && check_translated(&in, &out1, true, pkt_ip(POD1), 5353);
	pkt_build(&in, &b);
	ok = ok && take_snap(&s0) && run_xdp(&in, &out2, &ret) && take_snap(&s1);
	port2 = pkt_get16(&out2, out2.l4);
	if (ok && (pkt_get32(&out2, out2.l3 + PKT_IP_DADDR) != pkt_ip(POD1) || port2 < 62000 || port2 > 62009 ||
		   s1.g.nat_clash - s0.g.nat_clash != 1))
		ok = fail("the second flow: to %08x, source port %u (want 62000-62009), nat_clash +%llu",
			  pkt_get32(&out2, out2.l3 + PKT_IP_DADDR), port2,
			  (unsigned long long)(s1.g.nat_clash - s0.g.nat_clash));
	struct pkt_spec r1 = { .proto = PKT_IPPROTO_UDP, .saddr = POD1, .sport = 5353, .daddr = CLIENT, .dport = cport,
			       .payload = 30 };
	struct pkt_spec r2 = r1;

	r2.dport = port2;
	pkt_build(&in, &r1);
	ok = ok && reply_case("the first flow's reply", &in, DNS_VIP, 53, CLIENT, cport);
	pkt_build(&in, &r2);
	ok = ok && reply_case("the second flow's reply", &in, fe2.vip, 53, CLIENT, cport);
	cfg.snat_port_min = cfg.snat_port_max = 0;
	bpf_map_update_elem(bpf_map__fd(X->maps.xs_config), &zero, &cfg, BPF_ANY);
	return apply(svc_fe, N_SVC, &r) && ok;
}

/*
 * Both directions refresh a flow, as conntrack does: a reply sets the
 * forward entry's last_seen (the one that expires) and marks both entries
 * replied (the longer UDP timeout applies).
 */
static bool test_reply_refresh(void)
{
	uint16_t cport = next_sport();
	struct pkt_spec a = { .proto = PKT_IPPROTO_UDP, .saddr = CLIENT, .sport = cport, .daddr = DNS_VIP, .dport = 53,
			      .payload = 20 };
	struct pkt_spec rs = { .proto = PKT_IPPROTO_UDP, .saddr = POD1, .sport = 5353, .daddr = CLIENT, .dport = cport,
			       .payload = 30 };
	struct xs_ct_key fk = { .saddr = htonl(pkt_ip(CLIENT)), .daddr = htonl(pkt_ip(DNS_VIP)), .sport = htons(cport),
				.dport = htons(53), .proto = PKT_IPPROTO_UDP, .dir = XS_CT_FWD };
	struct xs_ct_key rk = { .saddr = htonl(pkt_ip(POD1)), .daddr = htonl(pkt_ip(CLIENT)), .sport = htons(5353),
				.dport = htons(cport), .proto = PKT_IPPROTO_UDP, .dir = XS_CT_REV };
	struct xs_ct_value fv, rv;
	struct pkt in, out;
	__u64 old;
	__u32 ret;

	pkt_build(&in, &a);
	if (!run_xdp(&in, &out, &ret) || bpf_map_lookup_elem(M.ct, &fk, &fv))
		return fail("the flow's forward entry is missing");
	if (fv.flags & XS_CT_F_REPLIED)
		return fail("a flow without a reply is marked replied");
	old = fv.last_seen -= 20000000000ULL; /* 20 s ago */
	if (bpf_map_update_elem(M.ct, &fk, &fv, BPF_EXIST))
		return fail("cannot age the entry: %s", strerror(errno));
	pkt_build(&in, &rs);
	if (!reply_case("the reply", &in, DNS_VIP, 53, CLIENT, cport))
		return false;
	if (bpf_map_lookup_elem(M.ct, &fk, &fv) || bpf_map_lookup_elem(M.ct, &rk, &rv))
		return fail("an entry of the flow is gone");
	if (fv.last_seen <= old || !(fv.flags & XS_CT_F_REPLIED) || !(rv.flags & XS_CT_F_REPLIED))
		return fail("after the reply: forward last_seen %s, flags forward 0x%x reverse 0x%x (want refreshed, "
			    "both replied)", fv.last_seen <= old ? "not refreshed" : "refreshed", fv.flags, rv.flags);
	return true;
}

/*
 * SNAT (a NodePort, externalTrafficPolicy Cluster): a new flow to a backend
 * behind the NIC gets the SNAT address and a port of the range as source,
 * the same port for its next packet, and goes out by XDP_TX; one to a pod on
 * this node keeps its source. The backend's reply through tc ingress gets
 * the NodePort as source and the client as destination back, and is sent
 * on by bpf_redirect_neigh (TC_ACT_REDIRECT), past the stack.
 */
static bool test_snat(void)
{
	static const struct fe_def fe_remote = { "snat-remote", NODE, 30053, PKT_IPPROTO_UDP, 1,
						 { { "198.18.5.5", 5353 } } };
	static const struct fe_def fe_pod = { "snat-pod", NODE, 30054, PKT_IPPROTO_UDP, 1, { { POD2, 5353 } } };
	static const struct fe_def *const fes[] = { &FE_WEB_ONE, &FE_EMPTY, &fe_remote, &fe_pod };
	struct xs_config cfg = { .layout_version = XS_LAYOUT_VERSION, .snat_addr = htonl(pkt_ip(NODE)),
				 .snat_port_min = 62000, .snat_port_max = 62009 };
	struct xdp_md ctx = { .ingress_ifindex = (__u32)fp_in };
	struct __sk_buff skb_ctx = { .ifindex = (__u32)fp_in };
	struct xs_apply_result r;
	struct pkt in, out, want;
	uint16_t port = 0;
	__u32 zero = 0;
	char d[512];

	if (!apply(fes, 4, &r))
		return false;
	if (bpf_map_update_elem(bpf_map__fd(X->maps.xs_config), &zero, &cfg, BPF_ANY))
		return fail("cannot write xs_config: %s", strerror(errno));
	for (int k = 0; k < 3; k++) {
		bool pod = k == 2;
		struct pkt_spec sp = { .proto = PKT_IPPROTO_UDP, .saddr = CLIENT, .daddr = NODE, .sport = 41000,
				       .dport = pod ? 30054 : 30053, .payload = (size_t)(20 + k) };

		pkt_build(&in, &sp);
		ctx.data_end = (__u32)in.len;
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in.b, .data_size_in = (__u32)in.len, .data_out = out.b,
			    .data_size_out = sizeof(out.b), .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
		if (bpf_prog_test_run_opts(xdp_fd, &o))
			return fail("BPF_PROG_TEST_RUN: %s", strerror(errno));
		out.len = o.data_size_out;
		if (o.retval != (pod ? XDP_PASS : XDP_TX))
			return fail("packet %d: retval %u (%s), want %s", k + 1, o.retval, xdp_act(o.retval),
				    pod ? "XDP_PASS" : "XDP_TX");
		uint16_t got = pkt_get16(&out, in.l4);

		if (!pod && (got < 62000 || got > 62009 || (port && got != port)))
			return fail("packet %d: source port %u, want %s in 62000-62009", k + 1, got,
				    port ? "the first packet's" : "one");
		if (!pod)
			port = got;
		want = in;
		pkt_put32(&want, want.l3 + PKT_IP_DADDR, pkt_ip(pod ? POD2 : "198.18.5.5"));
		pkt_put16(&want, want.l4 + 2, 5353);
		if (!pod) {
			pkt_put32(&want, want.l3 + PKT_IP_SADDR, pkt_ip(NODE));
			pkt_put16(&want, want.l4, port);
		}
		if (!pod) { /* sent on: TTL and MACs; to the stack as it came */
			want.b[want.l3 + 8]--;
			mac_parse(FP_GW_MAC, want.b);
			mac_parse("02:00:00:00:00:02", want.b + 6);
		}
		pkt_fix_csums(&want, true);
		if (pkt_diff(&out, &want, d, sizeof(d)))
			return fail("packet %d differs from the input %s: %s", k + 1,
				    pod ? "DNATed to the local pod, source kept" : "DNATed and SNATed", d);
	}

	struct pkt_spec rp = { .proto = PKT_IPPROTO_UDP, .saddr = "198.18.5.5", .sport = 5353, .daddr = NODE,
			       .dport = port, .payload = 40 };
	pkt_build(&in, &rp);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in.b, .data_size_in = (__u32)in.len, .data_out = out.b,
		    .data_size_out = sizeof(out.b), .ctx_in = &skb_ctx, .ctx_size_in = sizeof(skb_ctx), .repeat = 1);
	if (bpf_prog_test_run_opts(tc_ingress_fd, &o))
		return fail("BPF_PROG_TEST_RUN of tc ingress: %s", strerror(errno));
	out.len = o.data_size_out;
	if ((int)o.retval != TC_ACT_REDIRECT)
		return fail("reply: retval %u (%s), want TC_ACT_REDIRECT", o.retval, tc_act(o.retval));
	want = in;
	pkt_put32(&want, want.l3 + PKT_IP_SADDR, pkt_ip(NODE));
	pkt_put16(&want, want.l4, 30053);
	pkt_put32(&want, want.l3 + PKT_IP_DADDR, pkt_ip(CLIENT));
	pkt_put16(&want, want.l4 + 2, 41000);
	want.b[want.l3 + 8]--; /* forwarded: TTL, and the client's MAC from the FIB */
	mac_parse(FP_GW_MAC, want.b);
	mac_parse("02:00:00:00:00:02", want.b + 6);
	pkt_fix_csums(&want, true);
	if (pkt_diff(&out, &want, d, sizeof(d)))
		return fail("reply differs from %s:30053 -> %s:41000 (TTL-1, MACs): %s", NODE, CLIENT, d);
	cfg.snat_addr = 0;
	return !bpf_map_update_elem(bpf_map__fd(X->maps.xs_config), &zero, &cfg, BPF_ANY) ||
	       fail("cannot write xs_config: %s", strerror(errno));
}

/* ------------------------------------------------------------ reject */

/* The ICMP port unreachable answering in (20-byte IP header, no 802.1Q):
 * quoting its IP header and first 8 bytes, built from scratch. */
static void build_icmp(const struct pkt *in, struct pkt *w)
{
	memset(w, 0, sizeof(*w));
	memcpy(w->b, in->b + 6, 6);
	memcpy(w->b + 6, in->b, 6);
	memcpy(w->b + 12, in->b + 12, 2);
	w->b[14] = 0x45;
	pkt_put16(w, 16, 20 + 8 + 28);
	pkt_put16(w, 20, 0x4000);
	w->b[22] = 64;
	w->b[23] = PKT_IPPROTO_ICMP;
	memcpy(w->b + 26, in->b + in->l3 + 16, 4);
	memcpy(w->b + 30, in->b + in->l3 + 12, 4);
	w->b[34] = 3; /* destination unreachable */
	w->b[35] = 3; /* port unreachable */
	memcpy(w->b + 42, in->b + in->l3, 28); /* the datagram's IP header and 8 bytes */
	w->len = 14 + 20 + 8 + 28;
	w->l3 = 14;
	w->l4 = 34;
	w->tot = 56;
	w->proto = PKT_IPPROTO_ICMP;
	pkt_put16(w, 24, pkt_fold(pkt_sum(0, w->b + 14, 20)));
	pkt_put16(w, 36, pkt_fold(pkt_sum(0, w->b + 34, 36)));
}

/* UDP to a frontend without endpoints: ICMP port unreachable quoting the
 * datagram's IP header and first 8 bytes, built from scratch here. */
static bool test_reject_udp(void)
{
	static const struct fe_def fe_udp_empty = { "empty-udp", "198.19.0.31", 53, PKT_IPPROTO_UDP, 0, { { 0 } } };
	static const struct fe_def *const fes[] = { &FE_WEB_ONE, &FE_EMPTY, &fe_udp_empty };
	struct pkt_spec sp = { .proto = PKT_IPPROTO_UDP, .saddr = CLIENT, .daddr = "198.19.0.31", .sport = 40404,
			       .dport = 53, .payload = 33 };
	struct xs_apply_result r;
	struct pkt in, out, want;
	char diff[512];
	__u32 ret;

	if (!apply(fes, 3, &r))
		return false;
	pkt_build(&in, &sp);
	if (!run_xdp(&in, &out, &ret))
		return false;
	if (ret != XDP_TX)
		return fail("retval %u (%s), want XDP_TX", ret, xdp_act(ret));
	build_icmp(&in, &want);
	if (pkt_diff(&out, &want, diff, sizeof(diff)))
		return fail("the ICMP port unreachable differs from one built from scratch: %s", diff);
	return true;
}

/*
 * A pod (POD3) sends to frontends without endpoints through its veth's
 * program: a SYN gets RST|ACK and a UDP datagram ICMP port unreachable,
 * back into the veth (TC_ACT_REDIRECT), byte for byte what XDP answers; a
 * Local policy (XS_SVC_F_NO_REJECT) drops the SYN instead.
 */
static bool pod_reject_cases(void)
{
	struct pkt_spec st = { .proto = PKT_IPPROTO_TCP, .saddr = POD3, .sport = next_sport(), .daddr = EMPTY_VIP,
			       .dport = 443, .tcp_flags = 2 };
	struct pkt_spec su = { .proto = PKT_IPPROTO_UDP, .saddr = POD3, .sport = next_sport(), .daddr = "198.19.0.31",
			       .dport = 53, .payload = 33 };
	struct xs_svc_key k = { .vip = htonl(pkt_ip(EMPTY_VIP)), .port = 443, .proto = PKT_IPPROTO_TCP };
	struct xs_svc_value v;
	struct pkt in, out, want;
	struct snap a, b;
	struct delta d = {};
	char diff[512];
	__u32 ret;

	pkt_build(&in, &st);
	if (!take_snap(&a) || !run_tc(tc_pod_fd, &in, &out, &ret) || !take_snap(&b))
		return refail("SYN");
	if (ret != TC_ACT_REDIRECT)
		return fail("SYN: retval %u (%s), want TC_ACT_REDIRECT", ret, tc_act(ret));
	build_rst(&in, &want);
	if (pkt_diff(&out, &want, diff, sizeof(diff)))
		return fail("the RST differs from one built from scratch: %s", diff);
	d.g.no_backend = d.g.reject_rst = 1;
	d.s[S_EMPTY] = (struct xs_svc_stats){ 1, in.tot, 0, 1 };
	if (!check_delta(&a, &b, &d))
		return refail("SYN");

	pkt_build(&in, &su);
	if (!take_snap(&a) || !run_tc(tc_pod_fd, &in, &out, &ret) || !take_snap(&b))
		return refail("UDP");
	if (ret != TC_ACT_REDIRECT)
		return fail("UDP: retval %u (%s), want TC_ACT_REDIRECT", ret, tc_act(ret));
	build_icmp(&in, &want);
	if (pkt_diff(&out, &want, diff, sizeof(diff)))
		return fail("the ICMP port unreachable differs from one built from scratch: %s", diff);
	d = (struct delta){};
	d.g.no_backend = d.g.reject_icmp = 1;
	if (!check_delta(&a, &b, &d))
		return refail("UDP");

	/* Local policy: the flag set by hand, cleared by the caller's apply. */
	if (bpf_map_lookup_elem(M.services, &k, &v))
		return fail("empty not in xs_services");
	v.flags |= XS_SVC_F_NO_REJECT;
	if (bpf_map_update_elem(M.services, &k, &v, BPF_EXIST))
		return fail("cannot write xs_services: %s", strerror(errno));
	st.sport = next_sport();
	pkt_build(&in, &st);
	if (!take_snap(&a) || !run_tc(tc_pod_fd, &in, &out, &ret) || !take_snap(&b))
		return refail("Local policy");
	if (ret != TC_ACT_SHOT)
		return fail("Local policy: retval %u (%s), want TC_ACT_SHOT", ret, tc_act(ret));
	if (!same_bytes(&in, &out))
		return refail("Local policy");
	d = (struct delta){};
	d.g.no_backend = 1;
	d.s[S_EMPTY] = (struct xs_svc_stats){ 1, in.tot, 0, 1 };
	return check_delta(&a, &b, &d) || refail("Local policy");
}

static bool test_pod_reject(void)
{
	static const struct fe_def fe_udp_empty = { "empty-udp", "198.19.0.31", 53, PKT_IPPROTO_UDP, 0, { { 0 } } };
	static const struct fe_def *const fes[] = { &FE_WEB, &FE_DNS, &FE_EMPTY, &fe_udp_empty };
	struct xs_apply_result r;
	bool ok = apply(fes, 4, &r) && pod_reject_cases();

	/* Back to the frontends the other cases expect, also after a failure
	 * (fail() keeps the first reason). */
	return apply(svc_fe, N_SVC, &r) && ok;
}

/* Rejects are rate-limited per CPU (XS_REJECT_BURST, XS_REJECT_RATE/s):
 * a burst of 3 x BURST SYNs gets about BURST answers, the rest dropped. */
static bool test_reject_rate_limit(void)
{
	struct snap a, b;
	unsigned tx = 0, drop = 0;

	if (!take_snap(&a))
		return false;
	for (int i = 0; i < 3 * XS_REJECT_BURST; i++) {
		struct pkt_spec sp = { .proto = PKT_IPPROTO_TCP, .saddr = CLIENT, .daddr = EMPTY_VIP,
				       .sport = (uint16_t)(20000 + i), .dport = 443, .tcp_flags = 2 };
		struct pkt in, out;
		__u32 ret;

		pkt_build(&in, &sp);
		if (!run_xdp(&in, &out, &ret))
			return false;
		tx += ret == XDP_TX;
		drop += ret == XDP_DROP;
	}
	if (!take_snap(&b))
		return false;
	if (tx + drop != 3 * XS_REJECT_BURST || tx < XS_REJECT_BURST / 2 || tx > 2 * XS_REJECT_BURST)
		return fail("%u answered, %u dropped of %d; want about %d answered", tx, drop, 3 * XS_REJECT_BURST,
			    XS_REJECT_BURST);
	if (b.g.reject_rst - a.g.reject_rst != tx || b.g.reject_limited - a.g.reject_limited != drop)
		return fail("counters reject_rst +%llu, reject_limited +%llu; want +%u, +%u",
			    (unsigned long long)(b.g.reject_rst - a.g.reject_rst),
			    (unsigned long long)(b.g.reject_limited - a.g.reject_limited), tx, drop);
	return true;
}

int main(void)
{
	bool ok;

	ok = setup();
	report("setup: both objects loaded, maps shared, nothing pinned", ok);
	if (!ok) {
		teardown();
		return 1;
	}
	ok = test_apply_initial();
	report("xs_apply: web (2 backends), dns (1), empty (0)", ok);
	if (!ok) {
		teardown();
		return 1;
	}

	for (size_t i = 0; i < sizeof(xcases) / sizeof(xcases[0]); i++)
		RUN(xcases[i].name, run_xcase(&xcases[i]));

	{
		struct pkt_spec tcp = WEB(23), udp = DNS(23), vlan = WEB(5, .vlan = true, .ihl = 6);

		RUN("every truncation of a TCP hit (0..full-1; <14 refused by test_run)", truncations(tcp));
		RUN("every truncation of a UDP hit (0..full-1; <14 refused by test_run)", truncations(udp));
		RUN("every truncation of an 802.1Q TCP hit with IP options", truncations(vlan));
	}

	RUN("conntrack: 50 packets of one flow, one backend, one FWD and one REV entry", test_ct_reuse());
	RUN("conntrack: 200 new flows reach both backends", test_spread(&FE_WEB, -1, 200));
	RUN("per-service and global counters over a mix of flows", test_counters());
	RUN("conntrack: ct_created counts inserted keys (not rewrites), a flush counts its deletions",
	    test_ct_counted());

	/* tc, in both checksum modes (see run_tc) */
	for (int mode = 0; mode < 2; mode++) {
		struct pkt_spec tcp = { .payload = 77, .tcp_flags = 0x10 }, udp = { .payload = 45 };
		struct pkt_spec udp0 = { .payload = 45, .udp_nocsum = true };
		struct pkt_spec opts = { .payload = 31, .ihl = 9 }, vlan = { .payload = 8, .vlan = true };
		struct pkt_spec pad = { .payload = 1, .trailer = 13 }, odd = { .payload = 3 };
		struct pkt_spec frag = { .proto = PKT_IPPROTO_TCP, .saddr = NODE, .daddr = WEB_VIP, .dport = 80,
					 .payload = 40, .frag = 185 };
		struct pkt_spec arp = { .kind = PKT_ARP, .saddr = NODE, .daddr = WEB_VIP };
		struct pkt_spec udpm = DNS(20), tcpm = WEB(20);
		const char *sfx = mode ? " [CHECKSUM_COMPLETE]" : "";
		uint16_t np = (uint16_t)(40000 + 2 * mode);
		char n[256];

		if (mode == 1) {
			/* Does this kernel have the flag? (6.11+) */
			struct pkt in, out;
			__u32 ret;

			pkt_build(&in, &arp);
			if (run_prog(tc_egress_fd, &in, &out, &ret, BPF_F_TEST_SKB_CHECKSUM_COMPLETE) == -EINVAL) {
				printf("note: this kernel has no BPF_F_TEST_SKB_CHECKSUM_COMPLETE: "
				       "tc cases not repeated with CHECKSUM_COMPLETE\n");
				break;
			}
			tc_flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE;
		}
#define TC(name, expr)                                          \
	do {                                                    \
		snprintf(n, sizeof(n), "%s%s", name, sfx);      \
		RUN(n, expr);                                   \
	} while (0)
		TC("tc egress: TCP reply from the backend gets VIP:80 back as source", test_reply(&FE_WEB, tcp));
		TC("tc egress: TCP reply, odd payload", test_reply(&FE_WEB, odd));
		TC("tc egress: UDP reply from the backend gets VIP:53 back as source", test_reply(&FE_DNS, udp));
		TC("tc egress: UDP reply, odd payload", test_reply(&FE_DNS, odd));
		TC("tc egress: UDP reply with zero checksum keeps it zero", test_reply(&FE_DNS, udp0));
		TC("tc egress: TCP reply with IP options", test_reply(&FE_WEB, opts));
		TC("tc egress: TCP reply in an 802.1Q frame", test_reply(&FE_WEB, vlan));
		TC("tc egress: UDP reply with padding after the datagram", test_reply(&FE_DNS, pad));
		TC("tc egress: TCP reply of an unknown flow passes untouched",
		   test_reply_unknown(tc_egress_fd, &FE_WEB));
		TC("tc egress: UDP reply of an unknown flow passes untouched",
		   test_reply_unknown(tc_egress_fd, &FE_DNS));
		TC("tc ingress: TCP reply of an unknown flow passes untouched",
		   test_reply_unknown(tc_ingress_fd, &FE_WEB));
		snprintf(n, sizeof(n), "tc local DNAT: node 198.18.0.2:%u -> 198.19.0.10:80, reply through tc ingress%s",
			 np, sfx);
		RUN(n, test_local(&FE_WEB, np, 3, false));
		snprintf(n, sizeof(n), "tc local DNAT: node 198.18.0.2:%u -> 198.19.0.20:53 (UDP), reply through "
			 "tc ingress%s", np + 1, sfx);
		RUN(n, test_local(&FE_DNS, np + 1, 2, false));
		TC("tc local DNAT: UDP with zero checksum, reply through tc ingress",
		   test_local(&FE_DNS, next_sport(), 1, true));
		TC("tc mode: tc ingress DNATs a client's TCP flow (3 packets) like XDP, the reply gets the VIP back",
		   test_tc_mode(&FE_WEB, 3));
		TC("tc mode: tc ingress DNATs a client's UDP flow (2 packets) like XDP, the reply gets the VIP back",
		   test_tc_mode(&FE_DNS, 2));
		TC("tc: ICMP errors about translated flows get their translation (outer, quoted, every checksum), "
		   "both directions; others pass", test_icmp_errors());
		TC("tc local DNAT: no backend: the node's SYN gets the RST XDP builds, back in (TC_ACT_REDIRECT)",
		   test_local_no_backend());
		TC("tc pod: TCP from a pod to the VIP goes to a backend, the reply gets the VIP back",
		   test_pod(&FE_WEB, tcp));
		TC("tc pod: UDP from a pod to the VIP goes to a backend, the reply gets the VIP back",
		   test_pod(&FE_DNS, udp));
		TC("tc pod: UDP with zero checksum", test_pod(&FE_DNS, udp0));
		TC("tc pod: TCP with IP options", test_pod(&FE_WEB, opts));
		TC("tc pod: hairpin: source := hairpin address, back into the veth; the reply from the VIP",
		   test_hairpin());
		TC("tc pod: no backend (reject): a SYN gets RST|ACK, UDP ICMP port unreachable, back into the veth "
		   "byte for byte as XDP builds them; a Local policy drops", test_pod_reject());
		TC("tc pod: TCP reply of an unknown flow passes untouched", test_reply_unknown(tc_pod_fd, &FE_WEB));
		TC("tc pod: a later fragment to the VIP of a datagram never seen passes untouched",
		   test_pod_untouched(frag));
		TC("tc egress: a later fragment to the VIP of a datagram never seen passes untouched",
		   test_tc_untouched(frag, NULL, 0));
		TC("fragments: a datagram's later fragments get its first fragment's translation (XDP, tc "
		   "ingress, pod program both ways, the node's own), byte for byte", test_fragments());
		TC("tc egress: UDP length beyond the IP payload passes untouched",
		   test_tc_untouched(udpm, e_ulen_plus, 1));
		TC("tc egress: total length beyond the frame passes untouched",
		   test_tc_untouched(tcpm, e_tot_plus, 1));
		TC("tc egress: ARP passes untouched", test_tc_untouched(arp, NULL, 0));
#undef TC
	}
	tc_flags = 0;

	RUN("xs_apply: backend 198.18.1.12 removed from web", test_apply_remove_backend());
	RUN("after the change 200 new flows all go to 198.18.1.11", test_spread(&FE_WEB_ONE, 0, 200));
	RUN("after the change a TCP packet mid-stream stays on the removed 198.18.1.12, counted",
	    test_gone_midstream());
	RUN("after the change a SYN on the flow pinned to 198.18.1.12 is re-pointed to 198.18.1.11", test_repoint());
	RUN("xs_apply: frontend dns removed", test_apply_remove_frontend());
	{
		static const struct xcase gone = { "UDP to the removed frontend misses", DNS(20), PASS(pass_miss) };

		RUN(gone.name, run_xcase(&gone));
	}
	RUN("no backend (reject): UDP is answered with ICMP port unreachable quoting it", test_reject_udp());
	RUN("no backend (reject): rejects are rate-limited per CPU, the rest dropped and counted",
	    test_reject_rate_limit());
	RUN("fast path: FIB answer behind the NIC -> TTL-1, MACs, XDP_TX; a local pod (a veth), TTL 1, no route "
	    "and --no-fast-path -> XDP_PASS, translated", test_fast_path());
	RUN("NAT clash: one client port to two frontends with one backend: the second flow gets another source "
	    "port, each reply its own frontend and the client's port back", test_nat_clash());
	RUN("conntrack: a reply refreshes its flow's forward entry and marks both replied", test_reply_refresh());
	RUN("SNAT: NodePort to a backend behind the NIC: source := node:62000-62009, same port per flow, XDP_TX; "
	    "to a local pod the source stays (XDP_PASS); the reply gets NodePort and client back, TC_ACT_REDIRECT",
	    test_snat());

	teardown();
	return n_failed ? 1 : 0;
}
