// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_diff: differential testing of the datapath. Random configurations
 * (frontends on 198.19.0.x, TCP/UDP, 0..5 backends, some with a Local
 * policy) are applied through the loader's xs_apply(); random frames --
 * valid flows, near misses on address/port/protocol, every kind of
 * truncation and malformation, fragments, 802.1Q, IP options, zero and
 * non-zero UDP checksums, replies through tc egress -- go both to the
 * reference model (tests/diff_model.h) and to the BPF programs through
 * BPF_PROG_TEST_RUN, and the two are compared byte for byte: verdict, frame,
 * the global and per-frontend counters, and the conntrack entries the packet
 * may have written (all of conntrack at the end of each configuration).
 *
 * Seeded and reproducible: XS_DIFF_SEED (default: from the clock; printed),
 * XS_DIFF_CASES (default 100000), XS_DIFF_EPOCH (cases per configuration,
 * default 5000). Prints "PASS: diff: ..." / "FAIL: diff: seed S case K: ..."
 * lines: the first MAX_SHOWN mismatches of each category are shown (with the
 * input frame in hex), the run stops after MAX_MISMATCH, and one line per
 * category and one for the whole run summarise it.
 *
 * Setup as test_datapath: both skeletons loaded without pinning, maps shared,
 * nothing attached. Needs root.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>
#include "bpf_objs.h"
#include "maps.h"
#include "model.h"
#include "pkt.h"
#include "diff_model.h"

#ifndef BPF_F_TEST_SKB_CHECKSUM_COMPLETE
#define BPF_F_TEST_SKB_CHECKSUM_COMPLETE (1U << 2)
#endif

/* FAIL lines shown per category; the run stops after MAX_MISMATCH in all. */
#define MAX_SHOWN 3
#define MAX_MISMATCH 1000

/* ------------------------------------------------------------ PRNG (splitmix64) */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint32_t rn(uint32_t n) /* 0 .. n-1 */
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static bool chance(unsigned pct)
{
	return rn(100) < pct;
}

/* ------------------------------------------------------------ state */

static struct xs_xdp *X;
static struct xs_tc *T;
static struct xs_maps M;
static int xdp_fd, tc_fd, rl_fd, cfg_fd;

static uint64_t seed;
static unsigned long case_no;
static int n_fail;
static bool have_csum_complete = true;

static struct xsm_cfg cfg;
static struct xsm_ct mct;
static struct xs_global_stats g_model;
static struct xs_svc_stats s_model[XSM_MAX_FE];
static unsigned long cat_n[XSM_N_CAT], cat_bad[XSM_N_CAT];
static unsigned long n_vlan_hit, n_opts_hit, n_udp0_hit, n_udpffff_out, n_udpffff_in, n_trunc, n_csum_complete, n_later, n_frag_nat;

__attribute__((format(printf, 1, 2))) static void setup_fail(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL: diff: setup: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void hex(const uint8_t *b, size_t n, char *out, size_t cap)
{
	size_t w = 0;

	out[0] = 0;
	for (size_t i = 0; i < n && w + 3 < cap; i++)
		w += (size_t)snprintf(out + w, cap - w, "%02x", b[i]);
}

/* One mismatch: a FAIL line naming the case, the category the model
 * expected, what differs, and the input frame. */
__attribute__((format(printf, 5, 6))) static void mismatch(enum xsm_cat cat, const char *prog, const uint8_t *in,
							   size_t len, const char *fmt, ...)
{
	char what[1024], h[2 * PKT_MAX + 1];
	va_list ap;

	n_fail++;
	if (++cat_bad[cat] > MAX_SHOWN)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	hex(in, len, h, sizeof(h));
	printf("FAIL: diff: seed %llu case %lu: %s: %s: %s; packet (%zu bytes) %s\n", (unsigned long long)seed,
	       case_no, prog, xsm_cat_name[cat], what, len, h);
	fflush(stdout);
}

/* ------------------------------------------------------------ setup (as test_datapath) */

static bool setup(void)
{
	char why[512];

	if (xs_test_load(&X, &T, NULL, &M, why, sizeof(why)))
		return setup_fail("%s", why), false;
	xdp_fd = bpf_program__fd(X->progs.xs_xdp_ingress);
	tc_fd = bpf_program__fd(T->progs.xs_tc_egress);
	rl_fd = bpf_map__fd(X->maps.xs_reject_rl);
	cfg_fd = bpf_map__fd(X->maps.xs_config);
	mct.e = calloc(XSM_CT_CAP, sizeof(*mct.e));
	if (!mct.e)
		return setup_fail("out of memory"), false;
	return true;
}

static void teardown(void)
{
	free(mct.e);
	xs_tc__destroy(T);
	xs_xdp__destroy(X);
}

/* ------------------------------------------------------------ kernel state */

static bool read_global(struct xs_global_stats *sum)
{
	struct xs_global_stats v[M.ncpus];
	__u32 zero = 0;

	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(M.global_stats, &zero, v))
		return false;
	for (int c = 0; c < M.ncpus; c++) {
		const __u64 *a = (const __u64 *)&v[c];
		__u64 *s = (__u64 *)sum;

		for (size_t i = 0; i < sizeof(*sum) / 8; i++)
			s[i] += a[i];
	}
	return true;
}

static bool read_svc(__u32 id, struct xs_svc_stats *sum)
{
	struct xs_svc_stats v[M.ncpus];

	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(M.svc_stats, &id, v))
		return false;
	for (int c = 0; c < M.ncpus; c++) {
		sum->packets += v[c].packets;
		sum->bytes += v[c].bytes;
		sum->new_flows += v[c].new_flows;
		sum->no_backend += v[c].no_backend;
	}
	return true;
}

/* Reject bucket on every CPU: full, or empty as of now (no token for a
 * millisecond). Returns the CLOCK_MONOTONIC time written. */
static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

static bool set_bucket(bool full, __u64 *t0)
{
	struct xs_reject_rl v[M.ncpus];
	__u32 zero = 0;

	*t0 = now_ns();
	for (int c = 0; c < M.ncpus; c++) {
		v[c].tokens = full ? XS_REJECT_BURST : 0;
		v[c].last_ns = full ? 0 : *t0;
	}
	return bpf_map_update_elem(rl_fd, &zero, v, BPF_ANY) == 0;
}

/* ------------------------------------------------------------ configurations */

static const uint16_t port_pool[] = { 53, 80, 443, 8080, 9000, 5353 };

static void random_cfg(struct xsm_cfg *c)
{
	size_t want = 1 + rn(24);

	memset(c, 0, sizeof(*c));
	while (c->n < want) {
		struct xsm_fe f = { 0 };

		f.vip = 0xc6130000u | (1 + rn(12));      /* 198.19.0.1-12 */
		f.port = chance(80) ? port_pool[rn(6)] : (uint16_t)(1 + rn(65535));
		f.proto = chance(50) ? PKT_IPPROTO_TCP : PKT_IPPROTO_UDP;
		if (xsm_fe_find(c, f.vip, f.port, f.proto) >= 0)
			continue;
		f.n = rn(6);
		if (chance(20))
			f.n = 0;
		if (f.n == 0 && chance(30))
			f.flags = XS_SVC_F_NO_REJECT;
		for (size_t i = 0; i < f.n; i++) {
			struct xsm_be *b = &f.be[i];
			bool dup;

			do {
				b->addr = 0xc6120100u | (1 + rn(20)); /* 198.18.1.1-20 */
				b->port = chance(70) ? port_pool[rn(6)] : (uint16_t)(1 + rn(65535));
				dup = false;
				for (size_t j = 0; j < i; j++)
					dup |= f.be[j].addr == b->addr && f.be[j].port == b->port;
			} while (dup);
		}
		c->fe[c->n++] = f;
	}
}

/* A new backend for frontend f, not one it has. */
static void random_backend(const struct xsm_fe *f, struct xsm_be *b)
{
	bool dup;

	do {
		b->addr = 0xc6120100u | (1 + rn(20)); /* 198.18.1.1-20 */
		b->port = chance(70) ? port_pool[rn(6)] : (uint16_t)(1 + rn(65535));
		dup = false;
		for (size_t j = 0; j < f->n; j++)
			dup |= f->be[j].addr == b->addr && f->be[j].port == b->port;
	} while (dup);
}

/* The live change apply --watch sees most: some frontends' backends come,
 * go or are replaced, the rest of the configuration stays. */
static void mutate_cfg(struct xsm_cfg *c)
{
	for (size_t k = 1 + rn(3); k; k--) {
		struct xsm_fe *f = &c->fe[rn(c->n)];
		unsigned how = rn(4);

		if (how == 0 && f->n < 5) {          /* one more */
			random_backend(f, &f->be[f->n]);
			f->n++;
		} else if (how == 1 && f->n) {       /* one less */
			f->be[rn(f->n)] = f->be[f->n - 1];
			f->n--;
		} else if (how == 2 && f->n) {       /* one replaced */
			struct xsm_be b;

			random_backend(f, &b);
			f->be[rn(f->n)] = b;
		} else {                             /* all new */
			size_t n = rn(6);

			f->n = 0;
			while (f->n < n) {
				random_backend(f, &f->be[f->n]);
				f->n++;
			}
		}
		if (f->n)
			f->flags &= ~XS_SVC_F_NO_REJECT;
	}
}

/* What the maps hold, for applies through xs_apply_delta(). */
static struct xs_model have;
static struct xs_delta_state have_ds;
static bool have_ok;
static unsigned long n_delta, n_delta_tried;

/* Apply c through xs_apply (or, with delta, xs_apply_delta when it can),
 * then learn the ids the loader gave: svc_id per frontend, backend id per
 * backend (through the live slots). */
static bool apply_cfg(struct xsm_cfg *c, bool delta)
{
	struct xs_model m = { 0 };
	struct xs_apply_result r;
	int err = -EAGAIN;

	m.n = c->n;
	m.fe = calloc(c->n, sizeof(*m.fe));
	if (!m.fe)
		return setup_fail("out of memory"), false;
	for (size_t i = 0; i < c->n; i++) {
		struct xs_frontend *f = &m.fe[i];

		snprintf(f->ns, sizeof(f->ns), "diff");
		snprintf(f->name, sizeof(f->name), "svc%zu", i);
		f->proto = c->fe[i].proto;
		f->port = c->fe[i].port;
		f->flags = c->fe[i].flags;
		f->vip.family = AF_INET;
		f->vip.v4.s_addr = htonl(c->fe[i].vip);
		f->n_backends = c->fe[i].n;
		f->backends = calloc(c->fe[i].n ? c->fe[i].n : 1, sizeof(*f->backends));
		if (!f->backends) {
			xs_model_free(&m);
			return setup_fail("out of memory"), false;
		}
		for (size_t j = 0; j < c->fe[i].n; j++) {
			f->backends[j].addr.family = AF_INET;
			f->backends[j].addr.v4.s_addr = htonl(c->fe[i].be[j].addr);
			f->backends[j].port = c->fe[i].be[j].port;
		}
	}
	xs_model_normalize(&m);
	if (delta && have_ok) {
		n_delta_tried++;
		err = xs_apply_delta(&M, &have, &m, &have_ds, &r);
		n_delta += !err;
	}
	if (err == -EAGAIN)
		err = xs_apply(&M, &m, false, NULL, &r, &have_ds);
	xs_model_free(&have);
	have_ok = !err;
	if (err) {
		xs_model_free(&m);
		return setup_fail("xs_apply%s: %s", delta ? "_delta" : "", strerror(-err)), false;
	}
	/* Whatever wrote them, the maps are what a whole apply would make. */
	err = xs_apply(&M, &m, true, NULL, &r, NULL);
	if (err || r.fe_added || r.fe_changed || r.fe_removed || r.be_added || r.be_removed) {
		xs_model_free(&m);
		return setup_fail("after the apply, a whole apply would still change: %d; frontends %u added, "
				  "%u changed, %u removed; backends %u added, %u removed", err, r.fe_added,
				  r.fe_changed, r.fe_removed, r.be_added, r.be_removed), false;
	}
	have = m;

	for (size_t i = 0; i < c->n; i++) {
		struct xsm_fe *f = &c->fe[i];
		struct xs_svc_key k = { .vip = htonl(f->vip), .port = f->port, .proto = f->proto };
		struct xs_svc_value v;

		if (bpf_map_lookup_elem(M.services, &k, &v))
			return setup_fail("frontend %zu not in xs_services after apply", i), false;
		/* Every frontend here is a ClusterIP (XS_SVC_F_CLUSTER); no
		 * cluster CIDR is configured, so that flag changes nothing. */
		if (v.count != f->n || v.flags != (f->flags | XS_SVC_F_CLUSTER))
			return setup_fail("frontend %zu: count %u flags %u, want %zu %u", i, v.count, v.flags, f->n,
					  f->flags | XS_SVC_F_CLUSTER), false;
		f->svc_id = v.svc_id;
		for (size_t j = 0; j < f->n; j++)
			f->be[j].id = UINT32_MAX;
		for (__u16 s = 0; s < v.count; s++) {
			struct xs_slot_key sk = { .svc_id = v.svc_id, .index = s, .gen = v.gen };
			struct xs_backend be;
			__u32 id;

			if (bpf_map_lookup_elem(M.slots, &sk, &id) || bpf_map_lookup_elem(M.backends, &id, &be))
				return setup_fail("frontend %zu: slot %u unreadable", i, s), false;
			for (size_t j = 0; j < f->n; j++)
				if (be.addr == htonl(f->be[j].addr) && be.port == f->be[j].port)
					f->be[j].id = id;
		}
		for (size_t j = 0; j < f->n; j++)
			if (f->be[j].id == UINT32_MAX)
				return setup_fail("frontend %zu: backend %zu in no live slot", i, j), false;
		if (!read_svc(v.svc_id, &s_model[i]))
			return setup_fail("reading xs_svc_stats[%u]", v.svc_id), false;
	}
	return true;
}

/* ------------------------------------------------------------ conntrack comparisons */

static bool ct_same(const struct xs_ct_value *a, const struct xs_ct_value *b)
{
	return a->nat_addr == b->nat_addr && a->nat_port == b->nat_port && a->flags == b->flags &&
	       a->backend_id == b->backend_id && a->svc_id == b->svc_id;
}

static void ct_str(const struct xs_ct_value *v, char *buf, size_t n)
{
	char a[16];

	if (!v) {
		snprintf(buf, n, "absent");
		return;
	}
	snprintf(buf, n, "{nat %s:%u flags %u backend %u svc %u}", pkt_ipstr(ntohl(v->nat_addr), a), ntohs(v->nat_port),
		 v->flags, v->backend_id, v->svc_id);
}

static void key_str(const struct xs_ct_key *k, char *buf, size_t n)
{
	char a[16], b[16];

	snprintf(buf, n, "%s %s:%u -> %s:%u proto %u", k->dir == XS_CT_FWD ? "FWD" : "REV",
		 pkt_ipstr(ntohl(k->saddr), a), ntohs(k->sport), pkt_ipstr(ntohl(k->daddr), b), ntohs(k->dport),
		 k->proto);
}

/* The keys a case may have written: kernel and model must agree on each. */
static bool check_ct_keys(const struct xsm_out *o, const char *prog, const uint8_t *in, size_t len)
{
	for (size_t i = 0; i < o->nkeys; i++) {
		struct xs_ct_value kv, *mv = xsm_ct_get(&mct, &o->keys[i]);
		bool kp = bpf_map_lookup_elem(M.ct_assured, &o->keys[i], &kv) == 0 ||
			  bpf_map_lookup_elem(M.ct, &o->keys[i], &kv) == 0;
		char ks[96], w[96], g[96];

		if (kp && kv.last_seen == 0) {
			key_str(&o->keys[i], ks, sizeof(ks));
			mismatch(o->cat, prog, in, len, "conntrack %s: last_seen 0", ks);
			return false;
		}
		if (kp == !!mv && (!kp || ct_same(&kv, mv)))
			continue;
		key_str(&o->keys[i], ks, sizeof(ks));
		ct_str(mv, w, sizeof(w));
		ct_str(kp ? &kv : NULL, g, sizeof(g));
		mismatch(o->cat, prog, in, len, "conntrack %s: got %s, want %s", ks, g, w);
		/* Follow the datapath from here on, so one difference is reported once. */
		if (kp)
			xsm_ct_put(&mct, &o->keys[i], &kv);
		else if (mv)
			xsm_ct_slot(&mct, &o->keys[i])->v.svc_id = UINT32_MAX; /* stale; end-of-epoch check reports it */
		return false;
	}
	return true;
}

/* End of a configuration: all of conntrack must be what the model holds;
 * then both are emptied. */
static bool ct_compare_flush(void)
{
	struct xs_ct_key k, next, *prev = NULL;
	size_t n = 0;
	bool ok = true;
	struct xs_ct_key *keys = malloc(XSM_CT_CAP * sizeof(*keys));

	if (!keys)
		return false;
	for (int t = 0; t < 2; t++)
	for (prev = NULL; bpf_map_get_next_key(t ? M.ct_assured : M.ct, prev, &next) == 0 && n < XSM_CT_CAP;) {
		struct xs_ct_value v, *mv;

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(t ? M.ct_assured : M.ct, &next, &v))
			continue;
		keys[n++] = next;
		mv = xsm_ct_get(&mct, &next);
		if (ok && (!mv || !ct_same(mv, &v))) {
			char ks[96], w[96], g[96];

			key_str(&next, ks, sizeof(ks));
			ct_str(mv, w, sizeof(w));
			ct_str(&v, g, sizeof(g));
			n_fail++;
			if (++cat_bad[XSM_C_NEW] <= MAX_SHOWN)
				printf("FAIL: diff: seed %llu end of configuration at case %lu: conntrack %s: got %s, "
				       "want %s\n", (unsigned long long)seed, case_no, ks, g, w);
			ok = false;
		}
	}
	if (ok && n != mct.n) {
		n_fail++;
		if (++cat_bad[XSM_C_NEW] <= MAX_SHOWN)
			printf("FAIL: diff: seed %llu end of configuration at case %lu: conntrack holds %zu entries, "
			       "the model %zu\n", (unsigned long long)seed, case_no, n, mct.n);
		ok = false;
	}
	for (size_t i = 0; i < n; i++) {
		bpf_map_delete_elem(M.ct, &keys[i]);
		bpf_map_delete_elem(M.ct_assured, &keys[i]);
	}
	free(keys);
	/* and the fragments' ports, which the model forgets with it */
	int ffd = bpf_map__fd(X->maps.xs_frags);
	struct xs_frag_key fk;

	while (bpf_map_get_next_key(ffd, NULL, &fk) == 0)
		bpf_map_delete_elem(ffd, &fk);
	xsm_ct_clear(&mct);
	return ok;
}

/* ------------------------------------------------------------ packets */

#define N_CLIENTS 4
struct flow {
	uint32_t client;
	uint16_t sport;
	int fe;
};
#define N_FLOWS 64
static struct flow flows[N_FLOWS];
static size_t n_flows, flow_next;

struct gen {
	struct pkt p;
	bool tc;          /* through tc egress instead of XDP */
	bool empty_bucket;
};

static uint8_t rand_tcp_flags(void)
{
	static const uint8_t common[] = { 0x18, 0x18, 0x18, 0x10, 0x02, 0x02, 0x11, 0x04, 0x14, 0x12, 0x01, 0x03 };

	return chance(90) ? common[rn(sizeof(common))] : (uint8_t)rn(256);
}

static size_t rand_payload(void)
{
	switch (rn(8)) {
	case 0: return 0;
	case 1: return 1 + rn(3);
	case 2: return 400 + rn(1000);
	default: return rn(120);
	}
}

/* Correct checksums for whatever parses (the translated ones are checked
 * from scratch); a header that does not parse keeps whatever it has. */
static void fix(struct pkt *p)
{
	struct xsm_pkt mp;
	int rc = xsm_parse(p->b, p->len, &mp);

	if (rc == XSM_OK) {
		xsm_fix_csums(p->b, &mp, true);
	} else if (mp.l3 && mp.hl >= 20 && mp.l3 + mp.hl <= p->len) {
		xsm_p16(p->b + mp.l3 + 10, 0);
		xsm_p16(p->b + mp.l3 + 10, xsm_ip_csum(p->b + mp.l3, mp.hl));
	}
}

/* Make the UDP checksum of the datagram compute to 0 (sent as 0xffff)
 * after its destination becomes addr:port (or as it is, with addr 0), by
 * choosing its first two payload bytes. Needs 2 payload bytes in the UDP length. */
static bool craft_udp_zero(struct pkt *p, uint32_t addr, uint16_t port)
{
	struct pkt t = *p;
	size_t ulen = pkt_get16(p, p->l4 + 4);
	uint32_t s;

	if (ulen < 10)
		return false;
	if (addr) {
		pkt_put32(&t, t.l3 + PKT_IP_DADDR, addr);
		pkt_put16(&t, t.l4 + 2, port);
	}
	pkt_put16(&t, t.l4 + 8, 0);
	/* the sum with the checksum field 0: ~fold */
	s = (uint16_t)~xsm_l4_csum(t.b + t.l3, t.b + t.l4, PKT_IPPROTO_UDP, ulen);
	if (s == 0)
		s = 0xffff;
	pkt_put16(p, p->l4 + 8, (uint16_t)(0xffff - s));
	return true;
}

static uint16_t rand_port(void)
{
	return chance(50) ? port_pool[rn(6)] : (uint16_t)(1 + rn(65535));
}

/* A frame for XDP: see the file comment for the mix. */
static void gen_xdp(struct gen *g)
{
	struct pkt_spec s = { .kind = PKT_IPV4 };
	char sa[16], da[16];
	uint32_t src = 0xc6120000u | (1 + rn(N_CLIENTS)), dst;
	uint16_t sport = (uint16_t)(1024 + rn(64512)), dport;
	uint8_t proto = chance(50) ? PKT_IPPROTO_TCP : PKT_IPPROTO_UDP;
	int fe = -1;
	unsigned kind = rn(100);

	if (kind < 5) { /* ARP or IPv6 */
		s.kind = chance(50) ? PKT_ARP : PKT_IPV6;
		dst = cfg.fe[rn((uint32_t)cfg.n)].vip;
	} else if (kind < 50 || !cfg.n) { /* a frontend's flow: an earlier one, or new */
		if (n_flows && chance(50)) {
			struct flow *f = &flows[rn((uint32_t)n_flows)];

			src = f->client;
			sport = f->sport;
			fe = f->fe;
		} else {
			fe = (int)rn((uint32_t)cfg.n);
			flows[flow_next] = (struct flow){ src, sport, fe };
			flow_next = (flow_next + 1) % N_FLOWS;
			if (n_flows < N_FLOWS)
				n_flows++;
		}
		dst = cfg.fe[fe].vip;
		dport = cfg.fe[fe].port;
		proto = cfg.fe[fe].proto;
	} else { /* near misses */
		const struct xsm_fe *f = &cfg.fe[rn((uint32_t)cfg.n)];

		dst = f->vip;
		dport = f->port;
		proto = f->proto;
		switch (rn(6)) {
		case 0: dst += chance(50) ? 1 : (uint32_t)-1; break;
		case 1: dport = (uint16_t)(dport + (chance(50) ? 1 : -1)); break;
		case 2: proto = proto == PKT_IPPROTO_TCP ? PKT_IPPROTO_UDP : PKT_IPPROTO_TCP; break;
		case 3: /* straight to a backend */
			if (f->n) {
				dst = f->be[0].addr;
				dport = f->be[0].port;
			} else {
				dport = rand_port();
			}
			break;
		case 4: /* the reply direction */
			dst = src;
			src = f->vip;
			dport = sport;
			sport = f->port;
			break;
		default: dport = rand_port(); break;
		}
	}
	if (fe < 0) {
		/* dport set in every branch but ARP/IPv6 */
		dport = s.kind == PKT_IPV4 ? dport : 53;
	}
	s.proto = proto;
	s.saddr = pkt_ipstr(src, sa);
	s.daddr = pkt_ipstr(dst, da);
	s.sport = sport;
	s.dport = dport;
	s.payload = rand_payload();
	s.seed = (uint8_t)rn(256);
	s.vlan = chance(12);
	s.ihl = chance(12) ? (uint8_t)(6 + rn(10)) : 0;
	s.doff = proto == PKT_IPPROTO_TCP && chance(15) ? (uint8_t)(6 + rn(10)) : 0;
	s.tcp_flags = rand_tcp_flags();
	s.frag = chance(30) ? 0x4000 : 0;
	s.udp_nocsum = proto == PKT_IPPROTO_UDP && chance(25);
	s.udp_short = proto == PKT_IPPROTO_UDP && s.payload && chance(10) ? rn((uint32_t)s.payload + 1) : 0;
	s.trailer = chance(12) ? 1 + rn(40) : 0;
	pkt_build(&g->p, &s);
	struct pkt *p = &g->p;

	if (s.kind != PKT_IPV4)
		return;
	p->b[p->l3 + 1] = (uint8_t)rn(256);      /* tos */
	p->b[p->l3 + 8] = (uint8_t)rn(256);      /* ttl */
	if (proto == PKT_IPPROTO_TCP) {
		pkt_put32(p, p->l4 + 4, (uint32_t)rnd());
		pkt_put32(p, p->l4 + 8, (uint32_t)rnd());
		/* a segment without ACK whose SEQ + LEN wraps to 0 */
		if (!(s.tcp_flags & 0x10) && chance(10)) {
			uint32_t len = (uint32_t)s.payload + !!(s.tcp_flags & 2) + !!(s.tcp_flags & 1);

			pkt_put32(p, p->l4 + 4, (uint32_t)0 - len);
		}
	}
	if (chance(8))
		p->b[p->l3 + 9] = (uint8_t)(chance(50) ? PKT_IPPROTO_ICMP : rn(256)); /* not TCP/UDP (mostly) */
	/* the first fragment of a datagram: MF, and a UDP length that says
	 * the bytes of its later fragments too */
	if (chance(6)) {
		pkt_put16(p, p->l3 + 6, (uint16_t)(pkt_get16(p, p->l3 + 6) | 0x2000));
		if (proto == PKT_IPPROTO_UDP && chance(60))
			pkt_put16(p, p->l4 + PKT_UDP_LEN, (uint16_t)(pkt_get16(p, p->l4 + PKT_UDP_LEN) + 8 + rn(400)));
	}
	fix(p);
	/* UDP checksums that compute to 0: as the input's value (0xffff), or
	 * after translation to a one-backend frontend. */
	if (proto == PKT_IPPROTO_UDP && !s.udp_nocsum && s.payload - s.udp_short >= 2 && chance(6)) {
		if (fe >= 0 && cfg.fe[fe].n == 1 && chance(70)) {
			craft_udp_zero(p, cfg.fe[fe].be[0].addr, cfg.fe[fe].be[0].port);
		} else {
			craft_udp_zero(p, 0, 0);
		}
		fix(p);
	}

	/* malformations, one or two, on a third of the frames */
	for (int m = chance(33) ? 1 + (int)rn(2) : 0; m > 0; m--) {
		size_t l3 = p->l3, l4 = p->l4;

		switch (rn(9)) {
		case 0: p->b[l3] = (uint8_t)((p->b[l3] & 0xf0) | rn(16)); break;                 /* ihl */
		case 1: pkt_put16(p, l3 + 2, (uint16_t)(pkt_get16(p, l3 + 2) + (int)rn(81) - 40)); break;
		case 2: pkt_put16(p, l3 + 2, (uint16_t)rnd()); break;                             /* tot_len */
		case 3: p->b[l4 + 12] = (uint8_t)((p->b[l4 + 12] & 0x0f) | rn(16) << 4); break;   /* doff */
		case 4: { /* fragments */
			static const uint16_t fr[] = { 0x2000, 0x6000, 0x0001, 0x2000 | 185, 0x1fff, 0x4001 };

			pkt_put16(p, l3 + 6, fr[rn(6)]);
			break;
		}
		case 5: pkt_put16(p, l4 + 4, chance(50) ? (uint16_t)rn(12) : /* udp length */
					(uint16_t)(pkt_get16(p, l4 + 4) + (int)rn(21) - 10));
			break;
		case 6: p->b[l3] = (uint8_t)((p->b[l3] & 0x0f) | rn(16) << 4); break;             /* version */
		case 7: { /* ethertype: another, or a second tag */
			static const uint16_t et[] = { 0x86dd, 0x0806, 0x88a8, 0x8100, 0x0801, 0x0000 };

			pkt_put16(p, l3 - 2, et[rn(6)]);
			break;
		}
		default: p->b[l3 + 9] = (uint8_t)rn(256); break;                                  /* protocol */
		}
		if (chance(70))
			fix(p); /* usually keep the IP checksum right, so only the field under test is off */
	}
	/* What still parses is translated: its checksums must be right (the
	 * model computes the translated ones from scratch). */
	{
		struct xsm_pkt mp;

		if (xsm_parse(p->b, p->len, &mp) == XSM_OK)
			fix(p);
	}
	/* every truncation, over the run */
	if (chance(10)) {
		size_t len = rn((uint32_t)p->len);

		memset(p->b + len, 0, sizeof(p->b) - len);
		p->len = len;
		n_trunc++;
	}
	g->empty_bucket = fe >= 0 && cfg.fe[fe].n == 0 && chance(15);
}

/*
 * An ICMP error on its way to a client of flow f, for tc egress: from its
 * backend (bsrc:bport) or a router, about the flow's packet as the backend
 * got it (or a near miss), quoting 28 to 48 bytes; now and then of another
 * type, with quoted IP options, or as a reply's error (the other way).
 */
static bool gen_icmp_err(struct gen *g, const struct flow *f, const struct xsm_fe *fe, uint32_t bsrc, uint16_t bport)
{
	static const uint8_t types[] = { 3, 3, 3, 11, 12, 0, 8 };
	struct pkt_spec s = { .kind = PKT_IPV4, .proto = PKT_IPPROTO_ICMP };
	struct pkt *p = &g->p;
	char sa[16], da[16];
	size_t ql = 28 + rn(21);
	bool back = chance(25); /* about a reply VIP -> client, on its way to the VIP */
	uint32_t qs = back ? fe->vip : f->client, qd = back ? f->client : bsrc;
	uint16_t qsp = back ? fe->port : f->sport, qdp = back ? f->sport : bport;
	uint8_t q[48];

	if (chance(10))
		qdp = (uint16_t)(qdp + 1);
	memset(q, 0, sizeof(q));
	q[0] = chance(5) ? 0x46 : 0x45;
	q[2] = 0, q[3] = (uint8_t)(20 + 8 + rn(1000));
	q[6] = chance(5) ? 0x20 : 0x40;
	q[7] = chance(5) ? 0x10 : 0;
	q[8] = (uint8_t)rn(256);
	q[9] = fe->proto;
	for (int i = 0; i < 4; i++) {
		q[12 + i] = (uint8_t)(qs >> (24 - 8 * i));
		q[16 + i] = (uint8_t)(qd >> (24 - 8 * i));
	}
	uint32_t sum = pkt_sum(0, q, 10);

	sum = pkt_sum(sum, q + 12, 8);
	q[10] = (uint8_t)(pkt_fold(sum) >> 8), q[11] = (uint8_t)pkt_fold(sum);
	q[20] = (uint8_t)(qsp >> 8), q[21] = (uint8_t)qsp, q[22] = (uint8_t)(qdp >> 8), q[23] = (uint8_t)qdp;
	for (size_t i = 24; i < ql; i++)
		q[i] = (uint8_t)rn(256);
	if (fe->proto == PKT_IPPROTO_UDP && chance(20))
		q[26] = q[27] = 0; /* no UDP checksum */
	s.saddr = pkt_ipstr(back ? 0xc6120001u + rn(3) : chance(70) ? bsrc : 0xc61200feu, sa);
	s.daddr = pkt_ipstr(back ? fe->vip : f->client, da);
	s.payload = ql;
	s.vlan = chance(10);
	pkt_build(p, &s);
	p->b[p->l4] = types[rn(sizeof(types))];
	p->b[p->l4 + 1] = (uint8_t)rn(16);
	pkt_put16(p, p->l4 + 2, 0);
	pkt_put32(p, p->l4 + 4, chance(50) ? 0 : (uint32_t)rnd());
	memcpy(p->b + p->l4 + 8, q, ql);
	pkt_put16(p, p->l4 + 2, pkt_fold(pkt_sum(0, p->b + p->l4, 8 + ql)));
	pkt_put16(p, p->l3 + PKT_IP_CHECK, pkt_ip_csum(p));
	if (chance(5)) {
		size_t len = rn((uint32_t)p->len);

		memset(p->b + len, 0, sizeof(p->b) - len);
		p->len = len;
		n_trunc++;
	}
	g->tc = true;
	return true;
}

/* A reply leaving a backend, for tc egress: of a flow the model holds, or
 * near it; sometimes malformed or truncated. */
static bool gen_tc(struct gen *g)
{
	struct pkt_spec s = { .kind = PKT_IPV4 };
	char sa[16], da[16];
	struct flow *f;
	const struct xsm_fe *fe;
	uint32_t src, dst;
	uint16_t sport, dport;

	if (!n_flows)
		return false;
	f = &flows[rn((uint32_t)n_flows)];
	fe = &cfg.fe[f->fe];
	struct xs_ct_key fk = xsm_key(f->client, fe->vip, f->sport, fe->port, fe->proto, XS_CT_FWD);
	struct xs_ct_value *cv = xsm_ct_get(&mct, &fk);

	if (cv) {
		src = ntohl(cv->nat_addr);
		sport = ntohs(cv->nat_port);
	} else if (fe->n) {
		src = fe->be[rn((uint32_t)fe->n)].addr;
		sport = fe->be[0].port;
	} else {
		src = 0xc6120101u;
		sport = rand_port();
	}
	dst = f->client;
	dport = f->sport;
	if (chance(25))
		return gen_icmp_err(g, f, fe, src, sport);
	s.proto = fe->proto;
	switch (rn(8)) {
	case 0: dport = (uint16_t)(dport + 1); break;
	case 1: sport = (uint16_t)(sport + 1); break;
	case 2: s.proto = s.proto == PKT_IPPROTO_TCP ? PKT_IPPROTO_UDP : PKT_IPPROTO_TCP; break;
	case 3: dst++; break;
	default: break;
	}
	if (xsm_fe_find(&cfg, dst, dport, s.proto) >= 0)
		return false;
	s.saddr = pkt_ipstr(src, sa);
	s.daddr = pkt_ipstr(dst, da);
	s.sport = sport;
	s.dport = dport;
	s.payload = rand_payload();
	s.seed = (uint8_t)rn(256);
	s.vlan = chance(12);
	s.ihl = chance(12) ? (uint8_t)(6 + rn(10)) : 0;
	s.doff = s.proto == PKT_IPPROTO_TCP && chance(15) ? (uint8_t)(6 + rn(10)) : 0;
	s.tcp_flags = rand_tcp_flags();
	s.udp_nocsum = s.proto == PKT_IPPROTO_UDP && chance(25);
	s.trailer = chance(12) ? 1 + rn(40) : 0;
	pkt_build(&g->p, &s);
	if (chance(15)) {
		struct pkt *p = &g->p;

		switch (rn(4)) {
		case 0: p->b[p->l3] = (uint8_t)((p->b[p->l3] & 0xf0) | rn(5)); break;
		case 1: pkt_put16(p, p->l3 + 2, (uint16_t)(pkt_get16(p, p->l3 + 2) + 1 + rn(40))); break;
		case 2: pkt_put16(p, p->l3 + 6, 0x2000); break;
		default: p->b[p->l4 + 12] = (uint8_t)((p->b[p->l4 + 12] & 0x0f) | rn(5) << 4); break;
		}
		fix(p);
	}
	if (chance(5)) {
		size_t len = rn((uint32_t)g->p.len);

		memset(g->p.b + len, 0, sizeof(g->p.b) - len);
		g->p.len = len;
		n_trunc++;
	}
	g->tc = true;
	return true;
}

/* The last first fragment generated for each program (0: XDP, 1: tc
 * egress), for later fragments of its datagram. */
static struct pkt last_first[2];
static bool have_first[2];

static void remember_first(const struct pkt *p, int tc)
{
	struct xsm_pkt mp;

	if (xsm_parse(p->b, p->len, &mp) == XSM_OK && mp.frag == 1) {
		last_first[tc] = *p;
		have_first[tc] = true;
	}
}

/* A later fragment of the last first fragment's datagram (the same
 * addresses, id and protocol, an offset, its own bytes); false if none. */
static bool gen_later(struct gen *g, int tc)
{
	struct pkt *p = &g->p;

	if (!have_first[tc])
		return false;
	*p = last_first[tc];
	size_t hl = (size_t)(p->b[p->l3] & 0xf) * 4, pay = 8 + rn(200);

	p->l4 = p->l3 + hl;
	p->tot = hl + pay;
	for (size_t i = 0; i < pay; i++)
		p->b[p->l4 + i] = (uint8_t)rn(256);
	pkt_put16(p, p->l3 + 2, (uint16_t)p->tot);
	pkt_put16(p, p->l3 + 6, (uint16_t)((chance(50) ? 0x2000 : 0) | (1 + rn(185))));
	p->len = p->l3 + p->tot;
	memset(p->b + p->len, 0, sizeof(p->b) - p->len);
	pkt_put16(p, p->l3 + PKT_IP_CHECK, pkt_ip_csum(p));
	g->tc = tc;
	n_later++;
	return true;
}

/* ------------------------------------------------------------ running one case */

struct pick_arg {
	const uint8_t *out;
	size_t out_len, in_len;
	__u32 ret;
};

/* The backend the datapath chose: the destination of its output frame. */
static int pick_from_output(void *arg, const struct xsm_fe *fe, const struct xsm_pkt *p)
{
	const struct pick_arg *a = arg;

	if (a->ret != XSM_XDP_PASS || a->out_len != a->in_len)
		return -1;
	uint32_t addr = xsm_g32(a->out + p->l3 + 16);
	uint16_t port = xsm_g16(a->out + p->l4 + 2);

	for (size_t i = 0; i < fe->n; i++)
		if (fe->be[i].addr == addr && fe->be[i].port == port)
			return (int)i;
	return -1;
}

static const char *act_name(bool tc, __u32 r)
{
	static const char *const x[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT" };

	if (tc)
		return (int)r == TC_ACT_OK ? "TC_ACT_OK" : (int)r == TC_ACT_SHOT ? "TC_ACT_SHOT" : "TC_ACT_?";
	return r < 5 ? x[r] : "?";
}

static void frame_diff(const uint8_t *got, size_t gl, const uint8_t *want, size_t wl, char *buf, size_t n)
{
	struct pkt *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct xsm_pkt mp;

	if (!a || !b) {
		snprintf(buf, n, "frames differ");
		free(a);
		free(b);
		return;
	}
	memcpy(a->b, got, gl < PKT_MAX ? gl : PKT_MAX);
	a->len = gl < PKT_MAX ? gl : PKT_MAX;
	memcpy(b->b, want, wl < PKT_MAX ? wl : PKT_MAX);
	b->len = wl < PKT_MAX ? wl : PKT_MAX;
	/* name fields after the wanted frame's layout */
	if (xsm_parse(b->b, b->len, &mp) == XSM_OK || mp.l3) {
		b->l3 = mp.l3;
		b->l4 = mp.l4;
		b->tot = mp.tot;
		b->proto = mp.proto;
	}
	pkt_diff(a, b, buf, n);
	free(a);
	free(b);
}

static void run_case(void)
{
	static struct gen g;
	static uint8_t out[XSM_OUT_MAX];
	static struct xsm_out o;
	struct xs_global_stats g_before = g_model, kg;
	__u32 tc_flags = 0;
	__u64 t0 = 0, t1;
	bool tc, ok = true;
	const char *prog;
	int err;

	memset(&g, 0, sizeof(g));
	if (chance(4) && gen_later(&g, chance(30))) {
		tc = g.tc;
	} else {
		tc = chance(10) && gen_tc(&g);
		if (!tc)
			gen_xdp(&g);
		remember_first(&g.p, tc);
	}
	prog = tc ? "tc egress" : "xdp";
	if (tc && have_csum_complete && chance(50))
		tc_flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE;
	if (!tc && !set_bucket(!g.empty_bucket, &t0)) {
		mismatch(XSM_C_NEW, prog, g.p.b, g.p.len, "cannot write xs_reject_rl: %s", strerror(errno));
		return;
	}
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = g.p.b, .data_size_in = (__u32)g.p.len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1, .flags = tc_flags);
	memset(out, 0, sizeof(out));
	err = bpf_prog_test_run_opts(tc ? tc_fd : xdp_fd, &opts);
	if (err)
		err = -errno;
	t1 = now_ns();
	struct pick_arg pa = { out, opts.data_size_out, g.p.len, opts.retval };

	if (tc) {
		xsm_tc_egress(&cfg, &mct, &g_model, g.p.b, g.p.len, &o);
	} else {
		struct xs_svc_stats s_before[XSM_MAX_FE];

		memcpy(s_before, s_model, sizeof(s_before));
		xsm_xdp(&cfg, &mct, &g_model, s_model, !g.empty_bucket, g.p.b, g.p.len, pick_from_output, &pa, &o);
		/* An empty bucket refills at XS_REJECT_RATE/s: after a
		 * millisecond the datapath may have had a token. */
		if (o.cat == XSM_C_LIMITED_RATE && opts.retval != XSM_XDP_DROP && t1 - t0 >= 1000000) {
			g_model = g_before;
			memcpy(s_model, s_before, sizeof(s_before));
			xsm_xdp(&cfg, &mct, &g_model, s_model, true, g.p.b, g.p.len, pick_from_output, &pa, &o);
		}
	}
	cat_n[o.cat]++;
	if (tc_flags && o.cat == XSM_C_TC_REPLY)
		n_csum_complete++;
	n_frag_nat += g_model.frag_nat != g_before.frag_nat;

	if (o.refused || err) {
		if (!o.refused)
			mismatch(o.cat, prog, g.p.b, g.p.len, "BPF_PROG_TEST_RUN failed: %s", strerror(-err));
		else if (!err)
			mismatch(o.cat, prog, g.p.b, g.p.len, "BPF_PROG_TEST_RUN accepted a %zu-byte frame (%s)",
				 g.p.len, act_name(tc, opts.retval));
		return;
	}
	if (o.bad_pick) {
		char a[16];
		struct xsm_pkt mp;

		xsm_parse(g.p.b, g.p.len, &mp);
		mismatch(o.cat, prog, g.p.b, g.p.len,
			 "new flow: got %s, %u bytes, destination %s:%u, want XDP_PASS translated to one of the "
			 "frontend's %zu backends", act_name(tc, opts.retval), opts.data_size_out,
			 pkt_ipstr(opts.data_size_out >= mp.l3 + 20 ? xsm_g32(out + mp.l3 + 16) : 0, a),
			 opts.data_size_out >= mp.l4 + 4 ? xsm_g16(out + mp.l4 + 2) : 0, cfg.fe[o.fe].n);
		ok = false;
	} else if (opts.retval != o.ret) {
		mismatch(o.cat, prog, g.p.b, g.p.len, "verdict %s, want %s", act_name(tc, opts.retval),
			 act_name(tc, o.ret));
		ok = false;
	} else if (opts.data_size_out != o.len || memcmp(out, o.b, o.len)) {
		char d[512];

		frame_diff(out, opts.data_size_out, o.b, o.len, d, sizeof(d));
		mismatch(o.cat, prog, g.p.b, g.p.len, "output frame: %s", d);
		ok = false;
	}
	if (ok && !tc && (o.cat == XSM_C_NEW || o.cat == XSM_C_ESTABLISHED || o.cat == XSM_C_REOPEN)) {
		struct xsm_pkt mp;

		xsm_parse(g.p.b, g.p.len, &mp);
		n_vlan_hit += mp.vlan;
		n_opts_hit += mp.hl > 20;
		if (mp.proto == PKT_IPPROTO_UDP) {
			n_udp0_hit += xsm_g16(g.p.b + mp.l4 + 6) == 0;
			n_udpffff_in += xsm_g16(g.p.b + mp.l4 + 6) == 0xffff;
			n_udpffff_out += xsm_g16(o.b + mp.l4 + 6) == 0xffff;
		}
	}

	/* counters: global, and the frontend's */
	if (!read_global(&kg)) {
		mismatch(o.cat, prog, g.p.b, g.p.len, "cannot read xs_global_stats: %s", strerror(errno));
		return;
	}
	if (memcmp(&kg, &g_model, sizeof(kg))) {
#define GF(f) { offsetof(struct xs_global_stats, f) / 8, #f }
		static const struct {
			size_t i;
			const char *n;
		} names[] = { GF(pass_not_ipv4), GF(pass_not_l4), GF(pass_fragment), GF(pass_malformed), GF(pass_miss),
			      GF(hit), GF(new_flow), GF(no_backend), GF(reject_rst), GF(reject_icmp), GF(reject_limited),
			      GF(drop_ct_full), GF(tcp_backend_gone), GF(ct_expired), GF(reply_nat), GF(local_dnat),
			      GF(fast_path), GF(ct_created), GF(to_stack), GF(redirect), GF(no_port),
			      GF(icmp_nat), GF(frag_nat), GF(frag_unknown), GF(ct_assured), GF(nat_clash) };
#undef GF
		const __u64 *k = (const __u64 *)&kg, *m = (const __u64 *)&g_model, *b = (const __u64 *)&g_before;
		char d[512], nb[32];
		size_t w = 0;

		d[0] = 0;
		for (size_t i = 0; i < sizeof(kg) / 8 && w < sizeof(d); i++) {
			/* a counter not listed above is named by its index */
			const char *nm = nb;

			snprintf(nb, sizeof(nb), "counter #%zu", i);
			for (size_t j = 0; j < sizeof(names) / sizeof(names[0]); j++)
				if (names[j].i == i)
					nm = names[j].n;
			if (k[i] != m[i])
				w += (size_t)snprintf(d + w, sizeof(d) - w, "%s%s +%lld want +%lld", w ? ", " : "",
						      nm, (long long)(k[i] - b[i]), (long long)(m[i] - b[i]));
		}
		if (ok)
			mismatch(o.cat, prog, g.p.b, g.p.len, "global counters: %s", d);
		g_model = kg;
		ok = false;
	}
	if (o.fe >= 0) {
		struct xs_svc_stats ks;
		const struct xs_svc_stats *ms = &s_model[o.fe];

		if (!read_svc(cfg.fe[o.fe].svc_id, &ks)) {
			mismatch(o.cat, prog, g.p.b, g.p.len, "cannot read xs_svc_stats");
			return;
		}
		if (memcmp(&ks, ms, sizeof(ks))) {
			if (ok)
				mismatch(o.cat, prog, g.p.b, g.p.len,
					 "frontend counters packets/bytes/new_flows/no_backend %llu/%llu/%llu/%llu, want "
					 "%llu/%llu/%llu/%llu", (unsigned long long)ks.packets,
					 (unsigned long long)ks.bytes, (unsigned long long)ks.new_flows,
					 (unsigned long long)ks.no_backend, (unsigned long long)ms->packets,
					 (unsigned long long)ms->bytes, (unsigned long long)ms->new_flows,
					 (unsigned long long)ms->no_backend);
			s_model[o.fe] = ks;
			ok = false;
		}
	}
	if (ok)
		check_ct_keys(&o, prog, g.p.b, g.p.len);
}

/* ------------------------------------------------------------ main */

static unsigned long env_ul(const char *name, unsigned long def)
{
	const char *v = getenv(name);
	char *end;
	unsigned long r;

	if (!v || !*v)
		return def;
	errno = 0;
	r = strtoul(v, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "test_diff: %s=%s is not a number; using %lu\n", name, v, def);
		return def;
	}
	return r;
}

int main(void)
{
	unsigned long cases = env_ul("XS_DIFF_CASES", 100000), epoch = env_ul("XS_DIFF_EPOCH", 5000), n_cfg = 0;
	struct xs_config xc = { .layout_version = XS_LAYOUT_VERSION };
	__u32 zero = 0;
	time_t start = time(NULL);

	seed = env_ul("XS_DIFF_SEED", (unsigned long)now_ns() ^ (unsigned long)getpid() << 20);
	rng_state = seed;
	printf("test_diff: seed %llu (XS_DIFF_SEED=%llu reproduces), %lu cases, a new configuration every %lu\n",
	       (unsigned long long)seed, (unsigned long long)seed, cases, epoch);
	fflush(stdout);
	if (!epoch)
		epoch = 5000;
	if (!setup()) {
		teardown();
		return 1;
	}
	/* Nothing expires during the run (the closing timeout is 10 s by default). */
	xc.ct_tcp_timeout_ns = xc.ct_tcp_close_timeout_ns = xc.ct_udp_timeout_ns = 1000000000ull * 86400 * 365;
	if (bpf_map_update_elem(cfg_fd, &zero, &xc, BPF_ANY)) {
		setup_fail("cannot write xs_config: %s", strerror(errno));
		teardown();
		return 1;
	}
	/* BPF_F_TEST_SKB_CHECKSUM_COMPLETE: 6.11+ */
	{
		uint8_t f[60] = { [12] = 0x08, [13] = 0x06 }, o[128];
		LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = f, .data_size_in = sizeof(f), .data_out = o,
			    .data_size_out = sizeof(o), .repeat = 1, .flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE);

		if (bpf_prog_test_run_opts(tc_fd, &t) && errno == EINVAL) {
			have_csum_complete = false;
			printf("note: no BPF_F_TEST_SKB_CHECKSUM_COMPLETE on this kernel: tc cases run with "
			       "CHECKSUM_NONE only\n");
		}
	}
	if (!read_global(&g_model)) {
		setup_fail("cannot read xs_global_stats");
		teardown();
		return 1;
	}

	for (case_no = 0; case_no < cases && n_fail < MAX_MISMATCH; case_no++) {
		if (case_no % epoch == 0) {
			if (case_no)
				ct_compare_flush();
			bool delta = n_cfg && chance(50);

			if (delta)
				mutate_cfg(&cfg);
			else
				random_cfg(&cfg);
			/* the fast path is never taken here (no ingress device): both answer XDP_PASS */
			xc.flags = chance(30) ? XS_CFG_NO_FAST_PATH : 0;
			if (bpf_map_update_elem(cfg_fd, &zero, &xc, BPF_ANY) || !apply_cfg(&cfg, delta)) {
				teardown();
				return 1;
			}
			n_flows = flow_next = 0;
			n_cfg++;
		}
		run_case();
	}
	if (n_fail < MAX_MISMATCH)
		ct_compare_flush();

	unsigned long bad = 0;

	for (int c = 0; c < XSM_N_CAT; c++)
		bad += cat_bad[c];
	if (n_fail >= MAX_MISMATCH)
		printf("FAIL: diff: seed %llu: stopped after %d mismatches at case %lu\n", (unsigned long long)seed,
		       n_fail, case_no);
	for (int c = 0; c < XSM_N_CAT; c++) {
		if (c == XSM_C_REFUSED)
			continue;
		if (cat_bad[c])
			printf("FAIL: diff: %s: %lu of %lu cases differ (seed %llu)\n", xsm_cat_name[c], cat_bad[c],
			       cat_n[c], (unsigned long long)seed);
		else if (!cat_n[c] && cases >= 50000 && c != XSM_C_REJECT_RST_ACK0)
			printf("FAIL: diff: %s: no case generated in %lu (seed %llu)\n", xsm_cat_name[c], cases,
			       (unsigned long long)seed);
		else
			printf("PASS: diff: %s: %lu cases\n", xsm_cat_name[c], cat_n[c]);
	}
	if (n_delta_tried && !n_delta)
		printf("FAIL: diff: live changes: none of %lu went through xs_apply_delta (seed %llu)\n",
		       n_delta_tried, (unsigned long long)seed);
	else
		printf("PASS: diff: live changes: %lu of %lu configurations applied by xs_apply_delta\n", n_delta,
		       n_delta_tried);
	if (n_frag_nat)
		printf("PASS: diff: fragments: %lu later fragments generated, %lu translated as their first one was\n",
		       n_later, n_frag_nat);
	else
		printf("FAIL: diff: fragments: %lu later fragments generated, none translated (seed %llu)\n", n_later,
		       (unsigned long long)seed);
	printf("note: of the translated: %lu in 802.1Q frames, %lu with IP options, %lu UDP without checksum, "
	       "%lu UDP with input checksum 0xffff, %lu UDP sent with 0xffff; %lu truncated frames (%lu refused, "
	       "< 14 bytes); %lu tc replies under CHECKSUM_COMPLETE\n",
	       n_vlan_hit, n_opts_hit, n_udp0_hit, n_udpffff_in, n_udpffff_out, n_trunc, cat_n[XSM_C_REFUSED],
	       n_csum_complete);
	if (bad || n_fail)
		printf("FAIL: diff: %lu random packets, %lu configurations, seed %llu: %lu mismatches (%ld s)\n",
		       case_no, n_cfg, (unsigned long long)seed, bad, (long)(time(NULL) - start));
	else
		printf("PASS: diff: %lu random packets, %lu configurations, seed %llu: 0 mismatches (%ld s)\n",
		       case_no, n_cfg, (unsigned long long)seed, (long)(time(NULL) - start));
	teardown();
	xs_model_free(&have);
	xs_delta_state_free(&have_ds);
	return bad || n_fail || (n_delta_tried && !n_delta) ? 1 : 0;
}
