// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <net/if.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "maps.h"

/* ---------------------------------------------------------------- open */

struct map_desc {
	const char *name;
	size_t off;          /* of the fd in struct xs_maps */
	__u32 key_size, value_size;
};

#define MAP(n, field, k, v) { n, offsetof(struct xs_maps, field), sizeof(k), sizeof(v) }
static const struct map_desc map_descs[] = {
	MAP(XS_MAP_SERVICES, services, struct xs_svc_key, struct xs_svc_value),
	MAP(XS_MAP_SLOTS, slots, struct xs_slot_key, __u32),
	MAP(XS_MAP_BACKENDS, backends, __u32, struct xs_backend),
	MAP(XS_MAP_CT, ct, struct xs_ct_key, struct xs_ct_value),
	MAP(XS_MAP_CT_ASSURED, ct_assured, struct xs_ct_key, struct xs_ct_value),
	MAP(XS_MAP_SVC_STATS, svc_stats, __u32, struct xs_svc_stats),
	MAP(XS_MAP_GLOBAL_STATS, global_stats, __u32, struct xs_global_stats),
	MAP(XS_MAP_SVC_META, svc_meta, __u32, struct xs_svc_meta),
	MAP(XS_MAP_VIP_BITS, vip_bits, __u32, __u64),
	MAP(XS_MAP_SRC_RANGES, src_ranges, struct xs_src_key, __u8),
	MAP(XS_MAP_CONFIG, config, __u32, struct xs_config),
	MAP(XS_MAP_DEVS, devs, __u32, struct xs_dev),
	MAP(XS_MAP_CLUSTER_IPS, cluster_ips, __be32, __u8),
};
#define N_MAPS (sizeof(map_descs) / sizeof(map_descs[0]))

static int *map_fd(struct xs_maps *m, const struct map_desc *d)
{
	return (int *)((char *)m + d->off);
}

void xs_maps_close(struct xs_maps *m)
{
	for (size_t i = 0; i < N_MAPS; i++) {
		int *fd = map_fd(m, &map_descs[i]);

		if (*fd > 0)
			close(*fd);
		*fd = -1;
	}
}

int xs_maps_open(const char *pin, struct xs_maps *m)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < N_MAPS; i++)
		*map_fd(m, &map_descs[i]) = -1;
	for (size_t i = 0; i < N_MAPS; i++) {
		const struct map_desc *d = &map_descs[i];
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		int fd, err;

		snprintf(path, sizeof(path), "%s/%s", pin, d->name);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			err = -errno;
			fprintf(stderr, "xdpsvc: cannot open pinned map %s: %s%s\n", path, strerror(-err),
				err == -ENOENT ? " (run 'xdpsvc attach DEV' with the same --pin-path first)" : "");
			xs_maps_close(m);
			return err;
		}
		*map_fd(m, d) = fd;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.key_size != d->key_size ||
		    info.value_size != d->value_size) {
			fprintf(stderr, "xdpsvc: pinned map %s has another layout (key %u, value %u bytes; "
				"this xdpsvc expects %u, %u): it was made by another version; "
				"'xdpsvc detach DEV --purge' and attach again\n",
				path, info.key_size, info.value_size, d->key_size, d->value_size);
			xs_maps_close(m);
			return -EINVAL;
		}
		if (d->off == offsetof(struct xs_maps, svc_stats))
			m->max_services = info.max_entries;
		else if (d->off == offsetof(struct xs_maps, services))
			m->max_frontends = info.max_entries;
		else if (d->off == offsetof(struct xs_maps, backends))
			m->max_backends = info.max_entries;
		else if (d->off == offsetof(struct xs_maps, slots))
			m->max_slots = info.max_entries;
		else if (d->off == offsetof(struct xs_maps, ct))
			m->max_ct = info.max_entries;
	}
	m->ncpus = libbpf_num_possible_cpus();
	if (m->ncpus <= 0) {
		xs_maps_close(m);
		return -EINVAL;
	}
	return 0;
}

/* ---------------------------------------------------------------- read */

/* Every entry of a map, read in batches: O(state) in few syscalls. */
static int dump_map(int fd, size_t ksz, size_t vsz, void **keys_out, void **vals_out, size_t *n_out)
{
	size_t cap = 0, n = 0, chunk = 4096;
	char *keys = NULL, *vals = NULL;
	__u64 batch = 0;
	bool first = true;
	int err = 0;

	for (;;) {
		__u32 count = chunk;

		if (n + chunk > cap) {
			size_t ncap = cap ? cap * 2 : chunk;
			char *nk = realloc(keys, ncap * ksz), *nv;

			if (nk)
				keys = nk;
			nv = nk ? realloc(vals, ncap * vsz) : NULL;
			if (!nk || !nv) {
				err = -ENOMEM;
				break;
			}
			vals = nv;
			cap = ncap;
		}
		err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys + n * ksz,
					   vals + n * vsz, &count, NULL);
		first = false;
		if (err && errno != ENOENT) {
			err = -errno;
			break;
		}
		n += count;
		if (err) { /* ENOENT: that was the last batch */
			err = 0;
			break;
		}
	}
	if (err) {
		free(keys);
		free(vals);
		return err;
	}
	*keys_out = keys;
	*vals_out = vals;
	*n_out = n;
	return 0;
}

/* Both conntrack tables (xs_ct_assured, then xs_conntrack), as one dump. */
static int dump_ct(const struct xs_maps *m, struct xs_ct_key **keys, struct xs_ct_value **vals, size_t *n)
{
	struct xs_ct_key *k2 = NULL;
	struct xs_ct_value *v2 = NULL;
	size_t n2 = 0;
	int err = dump_map(m->ct_assured, sizeof(**keys), sizeof(**vals), (void **)keys, (void **)vals, n);

	if (!err)
		err = dump_map(m->ct, sizeof(**keys), sizeof(**vals), (void **)&k2, (void **)&v2, &n2);
	if (!err && n2) {
		struct xs_ct_key *nk = realloc(*keys, (*n + n2) * sizeof(**keys));
		struct xs_ct_value *nv = nk ? realloc(*vals, (*n + n2) * sizeof(**vals)) : NULL;

		if (nk)
			*keys = nk;
		if (nv)
			*vals = nv;
		if (!nk || !nv) {
			err = -ENOMEM;
		} else {
			memcpy(*keys + *n, k2, n2 * sizeof(**keys));
			memcpy(*vals + *n, v2, n2 * sizeof(**vals));
			*n += n2;
		}
	}
	free(k2);
	free(v2);
	return err;
}

/* Delete a flow's entry from whichever table holds it: 0, or -errno
 * (-ENOENT: in neither). */
static int delete_ct(const struct xs_maps *m, const struct xs_ct_key *k)
{
	bool a = !bpf_map_delete_elem(m->ct_assured, k), n = !bpf_map_delete_elem(m->ct, k);

	return a || n ? 0 : errno == ENOENT ? -ENOENT : -errno;
}

struct be_ent {
	__u32 id;
	struct xs_backend b;
};

struct xs_be_index {
	struct be_ent e;
};

void xs_delta_state_free(struct xs_delta_state *ds)
{
	free(ds->by_key);
	memset(ds, 0, sizeof(*ds));
}

struct slot_ent {
	struct xs_slot_key k;
	__u32 id;
};

struct cur_fe {
	struct xs_svc_key key;
	struct xs_svc_value val;
	struct xs_frontend fe;  /* names, vip, port, proto and sorted backends */
	__u32 *slot_ids;        /* backend id at each live slot index, 0 = missing */
};

struct state {
	struct cur_fe *fe;      /* sorted like the model */
	size_t n;
	struct be_ent *be;      /* sorted by id */
	size_t n_be;
	struct slot_ent *slots; /* sorted by key */
	size_t n_slots;
	struct cur_fe **by_id;  /* svc_id -> its frontend, NULL when unused */
	__u32 n_ids;
};

static const struct cur_fe *owner_of(const struct state *s, __u32 svc_id)
{
	return svc_id < s->n_ids ? s->by_id[svc_id] : NULL;
}

static int be_id_cmp(const void *a, const void *b)
{
	const struct be_ent *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static int slot_cmp(const void *a, const void *b)
{
	const struct xs_slot_key *x = a, *y = b;

	if (x->svc_id != y->svc_id)
		return x->svc_id < y->svc_id ? -1 : 1;
	if (x->gen != y->gen)
		return x->gen < y->gen ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

static int cur_fe_cmp(const void *a, const void *b)
{
	return xs_frontend_cmp(&((const struct cur_fe *)a)->fe, &((const struct cur_fe *)b)->fe);
}

static void state_free(struct state *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->fe[i].fe.backends);
		free(s->fe[i].slot_ids);
	}
	free(s->fe);
	free(s->be);
	free(s->slots);
	free(s->by_id);
	memset(s, 0, sizeof(*s));
}

static void fe_from_key(struct xs_frontend *f, const struct xs_svc_key *k)
{
	f->vip.family = AF_INET;
	f->vip.v4.s_addr = k->vip;
	f->port = k->port;
	f->proto = k->proto;
}

static int state_read(const struct xs_maps *m, struct state *s)
{
	struct xs_svc_key *keys = NULL;
	struct xs_svc_value *vals = NULL;
	__u32 *be_keys = NULL, *slot_ids = NULL;
	struct xs_backend *be_vals = NULL;
	struct xs_slot_key *slot_keys = NULL;
	int err;

	memset(s, 0, sizeof(*s));
	err = dump_map(m->services, sizeof(*keys), sizeof(*vals), (void **)&keys, (void **)&vals, &s->n) ?:
	      dump_map(m->backends, sizeof(__u32), sizeof(struct xs_backend), (void **)&be_keys,
		       (void **)&be_vals, &s->n_be) ?:
	      dump_map(m->slots, sizeof(struct xs_slot_key), sizeof(__u32), (void **)&slot_keys,
		       (void **)&slot_ids, &s->n_slots);
	if (err) {
		fprintf(stderr, "xdpsvc: cannot read the pinned maps: %s\n", strerror(-err));
		goto out;
	}
	s->fe = calloc(s->n ?: 1, sizeof(*s->fe));
	s->be = calloc(s->n_be ?: 1, sizeof(*s->be));
	s->slots = calloc(s->n_slots ?: 1, sizeof(*s->slots));
	if (!s->fe || !s->be || !s->slots) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < s->n_be; i++)
		s->be[i] = (struct be_ent){ be_keys[i], be_vals[i] };
	qsort(s->be, s->n_be, sizeof(*s->be), be_id_cmp);
	for (size_t i = 0; i < s->n_slots; i++)
		s->slots[i] = (struct slot_ent){ slot_keys[i], slot_ids[i] };
	qsort(s->slots, s->n_slots, sizeof(*s->slots), slot_cmp);

	for (size_t i = 0; i < s->n; i++) {
		struct cur_fe *c = &s->fe[i];
		struct xs_svc_meta meta = {};

		c->key = keys[i];
		c->val = vals[i];
		fe_from_key(&c->fe, &c->key);
		if (!bpf_map_lookup_elem(m->svc_meta, &c->val.svc_id, &meta)) {
			memcpy(c->fe.ns, meta.ns, sizeof(meta.ns));
			memcpy(c->fe.name, meta.name, sizeof(meta.name));
			memcpy(c->fe.port_name, meta.port_name, sizeof(meta.port_name));
			c->fe.scope = meta.scope;
			c->fe.flags = c->val.flags;
			c->fe.ns[XS_NAME_LEN - 1] = c->fe.name[XS_NAME_LEN - 1] = 0;
			c->fe.port_name[XS_PORT_NAME_LEN - 1] = 0;
		}
		c->fe.backends = calloc(c->val.count ?: 1, sizeof(*c->fe.backends));
		c->slot_ids = calloc(c->val.count ?: 1, sizeof(*c->slot_ids));
		if (!c->fe.backends || !c->slot_ids) {
			err = -ENOMEM;
			goto out;
		}
		/* The live generation's slots; a missing one (an apply killed
		 * half-way) shows as a backend short, which the next apply repairs. */
		for (__u16 j = 0; j < c->val.count; j++) {
			struct slot_ent sk = { .k = { .svc_id = c->val.svc_id, .index = j, .gen = c->val.gen } };
			struct slot_ent *se = bsearch(&sk, s->slots, s->n_slots, sizeof(sk), slot_cmp);
			struct be_ent bk = { .id = se ? se->id : 0 }, *be;

			be = se ? bsearch(&bk, s->be, s->n_be, sizeof(bk), be_id_cmp) : NULL;
			if (!be)
				continue;
			c->slot_ids[j] = be->id;
			struct xs_backend_addr *ba = &c->fe.backends[c->fe.n_backends++];
			ba->addr.family = AF_INET;
			ba->addr.v4.s_addr = be->b.addr;
			ba->port = be->b.port;
		}
		qsort(c->fe.backends, c->fe.n_backends, sizeof(*c->fe.backends), xs_backend_addr_cmp);
	}
	qsort(s->fe, s->n, sizeof(*s->fe), cur_fe_cmp);
	s->n_ids = m->max_services;
	s->by_id = calloc(s->n_ids ?: 1, sizeof(*s->by_id));
	if (!s->by_id) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < s->n; i++)
		if (s->fe[i].val.svc_id < s->n_ids)
			s->by_id[s->fe[i].val.svc_id] = &s->fe[i];
out:
	free(keys);
	free(vals);
	free(be_keys);
	free(be_vals);
	free(slot_keys);
	free(slot_ids);
	if (err)
		state_free(s);
	return err;
}

/* ---------------------------------------------------------------- write */

/*
 * Writes are queued per map and operation and issued queue by queue, in the
 * order of this enum, with batch syscalls: the make-before-break order of
 * xs_apply() (comment below) is this order, whatever order the diff finds
 * the changes in.
 */
enum wq {
	WQ_BACKENDS,      /* 1. new backends */
	WQ_STATS,         /* 2. counters of new ids zeroed */
	WQ_META,          /*    owners */
	WQ_SLOTS,         /* 2.-3. slots: new generations, in-place edits */
	WQ_VIP_BITS_ADD,  /*    bits of new addresses, before their frontends */
	WQ_SRC_ADD,       /*    allowed source ranges, before their frontends */
	WQ_SERVICES,      /*    the switches */
	WQ_CIP_ADD,       /*    ClusterIP addresses, after their frontends */
	WQ_DEL_SERVICES,  /* 4. removed frontends unreachable */
	WQ_CIP_DEL,       /*    addresses no ClusterIP frontend has any more */
	WQ_DEL_SLOTS,     /*    then their slots and old generations */
	WQ_DEL_BACKENDS,  /* 5. unreferenced backends */
	WQ_SRC_DEL,       /*    source ranges no frontend has any more */
	WQ_VIP_BITS_FINAL,/*    bits of addresses without a frontend cleared */
	WQ_N,
};

struct wqueue {
	int fd;
	size_t ksz, vsz, n, cap;
	char *k, *v;
};

struct writer {
	const struct xs_maps *m;
	struct xs_apply_result *r;
	struct wqueue q[WQ_N];
	long kill_after; /* fault injection for the tests, -1 = off */
	int err;
};

static const char *map_name(const struct xs_maps *m, int fd)
{
	for (size_t i = 0; i < N_MAPS; i++)
		if (*(const int *)((const char *)m + map_descs[i].off) == fd)
			return map_descs[i].name;
	return "?";
}

static void writer_init(struct writer *w, const struct xs_maps *m, struct xs_apply_result *r)
{
	static const struct { enum wq q; size_t fd_off, ksz, vsz; } defs[] = {
		{ WQ_BACKENDS, offsetof(struct xs_maps, backends), sizeof(__u32), sizeof(struct xs_backend) },
		{ WQ_STATS, offsetof(struct xs_maps, svc_stats), sizeof(__u32), sizeof(struct xs_svc_stats) },
		{ WQ_META, offsetof(struct xs_maps, svc_meta), sizeof(__u32), sizeof(struct xs_svc_meta) },
		{ WQ_SLOTS, offsetof(struct xs_maps, slots), sizeof(struct xs_slot_key), sizeof(__u32) },
		{ WQ_VIP_BITS_ADD, offsetof(struct xs_maps, vip_bits), sizeof(__u32), sizeof(__u64) },
		{ WQ_SRC_ADD, offsetof(struct xs_maps, src_ranges), sizeof(struct xs_src_key), sizeof(__u8) },
		{ WQ_SRC_DEL, offsetof(struct xs_maps, src_ranges), sizeof(struct xs_src_key), 0 },
		{ WQ_VIP_BITS_FINAL, offsetof(struct xs_maps, vip_bits), sizeof(__u32), sizeof(__u64) },
		{ WQ_SERVICES, offsetof(struct xs_maps, services), sizeof(struct xs_svc_key), sizeof(struct xs_svc_value) },
		{ WQ_DEL_SERVICES, offsetof(struct xs_maps, services), sizeof(struct xs_svc_key), 0 },
		{ WQ_DEL_SLOTS, offsetof(struct xs_maps, slots), sizeof(struct xs_slot_key), 0 },
		{ WQ_DEL_BACKENDS, offsetof(struct xs_maps, backends), sizeof(__u32), 0 },
		{ WQ_CIP_ADD, offsetof(struct xs_maps, cluster_ips), sizeof(__be32), sizeof(__u8) },
		{ WQ_CIP_DEL, offsetof(struct xs_maps, cluster_ips), sizeof(__be32), 0 },
	};

	memset(w, 0, sizeof(*w));
	w->m = m;
	w->r = r;
	/* Tests prove that a loader killed at any point of an apply leaves a
	 * state the datapath serves and the next apply repairs: this makes the
	 * process SIGKILL itself after that many map entries were written. */
	const char *fault = getenv("XDPSVC_TEST_KILL_AFTER_WRITES");
	w->kill_after = fault ? atol(fault) : -1;
	for (size_t i = 0; i < WQ_N; i++) {
		struct wqueue *q = &w->q[defs[i].q];

		q->fd = *(const int *)((const char *)m + defs[i].fd_off);
		q->ksz = defs[i].ksz;
		/* A per-CPU value is one copy per possible CPU. */
		q->vsz = defs[i].vsz * (defs[i].q == WQ_STATS ? m->ncpus : 1);
	}
}

static void writer_free(struct writer *w)
{
	for (size_t i = 0; i < WQ_N; i++) {
		free(w->q[i].k);
		free(w->q[i].v);
	}
}

static void w_queue(struct writer *w, enum wq qi, const void *k, const void *v)
{
	struct wqueue *q = &w->q[qi];

	if (w->err)
		return;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		char *nk = realloc(q->k, cap * q->ksz), *nv = NULL;

		if (nk)
			q->k = nk;
		if (nk && q->vsz && (nv = realloc(q->v, cap * q->vsz)))
			q->v = nv;
		if (!nk || (q->vsz && !nv)) {
			w->err = -ENOMEM;
			return;
		}
		q->cap = cap;
	}
	memcpy(q->k + q->n * q->ksz, k, q->ksz);
	if (q->vsz)
		memcpy(q->v + q->n * q->vsz, v, q->vsz);
	q->n++;
	w->r->map_writes++;
}

/* Issue every queue in order; stop at the first failure. */
static int writer_flush(struct writer *w)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo, .elem_flags = BPF_ANY);

	for (size_t qi = 0; qi < WQ_N && !w->err; qi++) {
		struct wqueue *q = &w->q[qi];
		bool del = !q->vsz;

		for (size_t done = 0; done < q->n && !w->err;) {
			__u32 count = q->n - done < 8192 ? q->n - done : 8192;

			if (w->kill_after >= 0) {
				if (w->kill_after == 0)
					raise(SIGKILL);
				if (count > w->kill_after)
					count = w->kill_after;
				w->kill_after -= count;
			}
			void *k = q->k + done * q->ksz;
			int rc = del ? bpf_map_delete_batch(q->fd, k, &count, &bo)
				     : bpf_map_update_batch(q->fd, k, q->v + done * q->vsz, &count, &bo);

			if (rc && count == 0) { /* the first entry: do it alone to tell why */
				rc = del ? bpf_map_delete_elem(q->fd, k) : bpf_map_update_elem(q->fd, k, q->v + done * q->vsz, BPF_ANY);
				if (rc && !(del && errno == ENOENT)) {
					w->err = -errno;
					fprintf(stderr, "xdpsvc: cannot %s map %s: %s%s\n", del ? "delete from" : "write",
						map_name(w->m, q->fd), strerror(errno),
						errno == E2BIG ? " (the map is full)" : "");
				}
				count = 1;
			}
			done += count;
		}
	}
	return w->err;
}

static bool same_backends(const struct xs_frontend *a, const struct xs_frontend *b)
{
	if (a->n_backends != b->n_backends)
		return false;
	for (size_t i = 0; i < a->n_backends; i++)
		if (xs_backend_addr_cmp(&a->backends[i], &b->backends[i]))
			return false;
	return true;
}

static bool same_owner(const struct xs_frontend *a, const struct xs_frontend *b)
{
	return !strcmp(a->ns, b->ns) && !strcmp(a->name, b->name) && !strcmp(a->port_name, b->port_name) &&
	       a->scope == b->scope;
}

static void fe_desc(const struct xs_frontend *f, char *buf, size_t len)
{
	char a[XS_ADDR_STRLEN];

	snprintf(buf, len, "%s/%s%s%s %s %s:%u", f->ns, f->name, f->port_name[0] ? ":" : "",
		 f->port_name, xs_proto_name(f->proto), xs_addr_str(&f->vip, a), f->port);
}

static void print_backend_diff(FILE *out, const struct xs_frontend *old, const struct xs_frontend *new)
{
	size_t i = 0, j = 0;
	char a[XS_ADDR_STRLEN];

	while (i < old->n_backends || j < new->n_backends) {
		int c = i == old->n_backends ? 1 : j == new->n_backends ? -1 :
			xs_backend_addr_cmp(&old->backends[i], &new->backends[j]);

		if (c < 0)
			fprintf(out, "    - backend %s:%u\n", xs_addr_str(&old->backends[i].addr, a),
				old->backends[i].port), i++;
		else if (c > 0)
			fprintf(out, "    + backend %s:%u\n", xs_addr_str(&new->backends[j].addr, a),
				new->backends[j].port), j++;
		else
			i++, j++;
	}
}

static int be_key_cmp(const void *a, const void *b)
{
	const struct xs_backend *x = a, *y = b;

	if (x->addr != y->addr)
		return ntohl(x->addr) < ntohl(y->addr) ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return (x->proto > y->proto) - (x->proto < y->proto);
}

static int be_ent_key_cmp(const void *a, const void *b)
{
	return be_key_cmp(&((const struct be_ent *)a)->b, &((const struct be_ent *)b)->b);
}

/* A wanted backend and where it goes: slot pos of wanted frontend fe. */
struct be_want {
	struct xs_backend b; /* first: sorted with be_key_cmp */
	__u32 fe, pos;       /* pos NO_SLOT: a terminating backend, kept but unslotted */
};
#define NO_SLOT UINT32_MAX

static struct xs_backend to_backend(const struct xs_backend_addr *ba, __u8 proto)
{
	return (struct xs_backend){ .addr = ba->addr.v4.s_addr, .port = ba->port, .proto = proto };
}

static ssize_t id_index(const __u32 *ids, size_t n, __u32 id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return i;
	return -1;
}

/*
 * A one-backend change made in the live generation, with at most two slot
 * writes and each intermediate state a valid old or new set:
 *  replace: slot[i] := new                      (one write: old -> new)
 *  add:     slot[count] := new; count + 1       (the slot is unread until the count says so)
 *  remove:  slot[i] := slot[last]; count - 1    (after the first write the set already is
 *                                                the new one, the last backend counted twice)
 * Returns false when the change is bigger: the caller switches generations.
 */
#define XS_INPLACE_MAX 1024
static bool plan_in_place(const struct cur_fe *cur, const __u32 *want_ids, size_t n_want,
			  ssize_t *rm_idx, ssize_t *add_pos)
{
	size_t n_cur = cur->val.count, n_rm = 0, n_add = 0;

	*rm_idx = *add_pos = -1;
	if (n_cur > XS_INPLACE_MAX || n_want > XS_INPLACE_MAX || id_index(cur->slot_ids, n_cur, 0) >= 0)
		return false;
	for (size_t i = 0; i < n_cur; i++)
		if (id_index(want_ids, n_want, cur->slot_ids[i]) < 0)
			n_rm++, *rm_idx = i;
	for (size_t i = 0; i < n_want; i++)
		if (id_index(cur->slot_ids, n_cur, want_ids[i]) < 0)
			n_add++, *add_pos = i;
	return n_rm + n_add >= 1 && n_rm <= 1 && n_add <= 1;
}

/* Queue the writes of plan_in_place()'s plan; val is the frontend's new
 * value (its gen is set here). Returns how many slots were added (1) or
 * removed (-1); a removed one is deleted when del_slot. */
static int queue_in_place(struct writer *w, const struct cur_fe *cur, const __u32 *want_ids, ssize_t rm,
			  ssize_t add, const struct xs_svc_key *key, struct xs_svc_value *val, bool del_slot)
{
	struct xs_slot_key sk = { .svc_id = val->svc_id, .gen = cur->val.gen };
	__u16 last = cur->val.count - 1;

	val->gen = cur->val.gen;
	if (add >= 0) { /* replace in place, or append past the count */
		sk.index = rm >= 0 ? rm : cur->val.count;
		w_queue(w, WQ_SLOTS, &sk, &want_ids[add]);
	} else if (rm != last) { /* remove: the last one fills the hole */
		sk.index = rm;
		w_queue(w, WQ_SLOTS, &sk, &cur->slot_ids[last]);
	}
	if (memcmp(val, &cur->val, sizeof(*val)))
		w_queue(w, WQ_SERVICES, key, val);
	if (add < 0 && del_slot) { /* the slot left past the count */
		sk.index = last;
		w_queue(w, WQ_DEL_SLOTS, &sk, NULL);
	}
	return add >= 0 && rm < 0 ? 1 : add < 0 ? -1 : 0;
}

/* The frontend-address bitmap: bits of new addresses set (as old | new)
 * before any frontend is published, then each changed word written as it
 * must end up once the removed frontends are gone. */
static int be32_cmp(const void *a, const void *b)
{
	__u32 x = ntohl(*(const __be32 *)a), y = ntohl(*(const __be32 *)b);

	return (x > y) - (x < y);
}

/* xs_cluster_ips := the addresses of the ClusterIP frontends of want. */
static int queue_cluster_ips(const struct xs_maps *m, const struct xs_model *want, struct writer *w)
{
	__be32 *have = NULL, *wanted = malloc((want->n ?: 1) * sizeof(*wanted));
	__u8 *vals = NULL, one = 1;
	size_t n_have = 0, n_want = 0, i, j;
	int err = wanted ? dump_map(m->cluster_ips, sizeof(*have), sizeof(*vals), (void **)&have, (void **)&vals,
				    &n_have) : -ENOMEM;

	for (i = 0; !err && i < want->n; i++)
		if (want->fe[i].scope == XS_SCOPE_CLUSTER)
			wanted[n_want++] = want->fe[i].vip.v4.s_addr;
	if (!err) {
		qsort(wanted, n_want, sizeof(*wanted), be32_cmp);
		qsort(have, n_have, sizeof(*have), be32_cmp);
	}
	for (i = j = 0; !err && (i < n_have || j < n_want);) {
		int c = i == n_have ? 1 : j == n_want ? -1 : be32_cmp(&have[i], &wanted[j]);

		if (c < 0)
			w_queue(w, WQ_CIP_DEL, &have[i++], NULL);
		else if (c > 0)
			w_queue(w, WQ_CIP_ADD, &wanted[j], &one);
		if (c >= 0) /* skip the duplicates of this address */
			for (__be32 a = wanted[j]; j < n_want && wanted[j] == a; j++)
				;
		if (c == 0)
			i++;
	}
	if (err)
		fprintf(stderr, "xdpsvc: cannot read %s: %s\n", XS_MAP_CLUSTER_IPS, strerror(-err));
	free(have);
	free(vals);
	free(wanted);
	return err;
}

static int queue_vip_bits(const struct xs_maps *m, const struct xs_model *want, struct writer *w)
{
	__u64 *old = calloc(XS_VIP_WORDS, sizeof(*old)), *new = calloc(XS_VIP_WORDS, sizeof(*new));
	__u32 *keys = NULL;
	__u64 *vals = NULL;
	size_t n = 0;
	int err = old && new ? dump_map(m->vip_bits, sizeof(*keys), sizeof(*vals), (void **)&keys,
					(void **)&vals, &n) : -ENOMEM;

	for (size_t i = 0; !err && i < n; i++)
		if (keys[i] < XS_VIP_WORDS)
			old[keys[i]] = vals[i];
	for (size_t i = 0; !err && i < want->n; i++) {
		__u32 bit = xs_vip_bit(want->fe[i].vip.v4.s_addr);

		new[bit >> 6] |= 1ULL << (bit & 63);
	}
	for (__u32 k = 0; !err && k < XS_VIP_WORDS; k++) {
		__u64 both = old[k] | new[k];

		if (both != old[k])
			w_queue(w, WQ_VIP_BITS_ADD, &k, &both);
		if (both != new[k])
			w_queue(w, WQ_VIP_BITS_FINAL, &k, &new[k]);
	}
	if (err)
		fprintf(stderr, "xdpsvc: cannot read %s: %s\n", XS_MAP_VIP_BITS, strerror(-err));
	free(old);
	free(new);
	free(keys);
	free(vals);
	return err;
}

/*
 * Refuse, before anything is written, an apply whose peak would not fit:
 * new entries are written before old ones are deleted, so the peak of each
 * hash map is what it holds now plus what the queues add to it.
 */
static int check_capacity(const struct xs_maps *m, const struct state *s, const struct writer *w)
{
	const struct wqueue *q;
	size_t slots = s->n_slots, services = s->n, backends = s->n_be + w->q[WQ_BACKENDS].n;
	int err = 0;

	q = &w->q[WQ_SLOTS];
	for (size_t i = 0; i < q->n; i++)
		slots += !bsearch(q->k + i * q->ksz, s->slots, s->n_slots, sizeof(*s->slots), slot_cmp);
	services += w->r->fe_added; /* removed ones go only after the additions */
#define FITS(name, need, have, option)                                                             \
	if ((need) > (have)) {                                                                      \
		fprintf(stderr, "xdpsvc: this apply does not fit: %s would need %zu entries and holds %u " \
			"(%zu too many); nothing was written. Attach with a larger " option             \
			" (and --recreate-maps).\n", name, (size_t)(need), (have), (size_t)(need) - (have)); \
		err = -E2BIG;                                                                       \
	}
	FITS(XS_MAP_SERVICES, services, m->max_frontends, "--max-services")
	else FITS(XS_MAP_BACKENDS, backends, m->max_backends, "--max-backends")
	else FITS(XS_MAP_SLOTS, slots, m->max_slots, "--max-slots")
#undef FITS
	return err;
}

/* A frontend's owner and protocol, for finding the ClusterIP frontend of a
 * Service port. */
static int port_cmp(const struct xs_frontend *a, const struct xs_frontend *b)
{
	int c = strcmp(a->ns, b->ns);

	c = c ?: strcmp(a->name, b->name);
	c = c ?: strcmp(a->port_name, b->port_name);
	return c ?: (a->proto > b->proto) - (a->proto < b->proto);
}

static int cluster_idx_cmp(const void *a, const void *b, void *model)
{
	const struct xs_model *m = model;

	return port_cmp(&m->fe[*(const size_t *)a], &m->fe[*(const size_t *)b]);
}

/*
 * ClientIP affinity is per Service port, whichever of its addresses a client
 * used (kube-proxy): every frontend of the port shares the affinity entries
 * of the port's ClusterIP frontend, keyed by that frontend's id.
 */
static int affinity_groups(const struct xs_model *want, const __u32 *fe_id, __u32 **out, size_t **cluster_out)
{
	size_t *cl = calloc(want->n ?: 1, sizeof(*cl)), n = 0;
	__u32 *group = calloc(want->n ?: 1, sizeof(*group));
	size_t *cluster = malloc((want->n ?: 1) * sizeof(*cluster));

	if (!cl || !group || !cluster) {
		free(cl);
		free(group);
		free(cluster);
		return -ENOMEM;
	}
	for (size_t i = 0; i < want->n; i++)
		cluster[i] = SIZE_MAX;
	for (size_t i = 0; i < want->n; i++) {
		group[i] = fe_id[i];
		if (want->fe[i].scope == XS_SCOPE_CLUSTER)
			cl[n++] = i;
	}
	qsort_r(cl, n, sizeof(*cl), cluster_idx_cmp, (void *)want);
	for (size_t i = 0; i < want->n; i++) {
		size_t lo = 0, hi = n;

		if (want->fe[i].scope == XS_SCOPE_CLUSTER)
			continue;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			int c = port_cmp(&want->fe[cl[mid]], &want->fe[i]);

			if (!c) {
				if (want->fe[i].flags & XS_SVC_F_AFFINITY)
					group[i] = fe_id[cl[mid]];
				cluster[i] = cl[mid];
				break;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	free(cl);
	*out = group;
	*cluster_out = cluster;
	return 0;
}

static int src_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct xs_src_key));
}

/*
 * The allowed sources of load-balancer frontends with
 * loadBalancerSourceRanges: entries {svc_id, range} added before the
 * frontends are published, the ones no frontend has deleted after.
 */
static int queue_src_ranges(const struct xs_maps *m, const struct xs_model *want, const __u32 *fe_id,
			    struct writer *w)
{
	struct xs_src_key *have = NULL, *need = NULL, k, *prev = NULL;
	size_t n_have = 0, n_need = 0, cap = 0;
	static const __u8 one = 1;
	int err = 0;

	while (!bpf_map_get_next_key(m->src_ranges, prev, &k)) {
		struct xs_src_key *nh = n_have == cap ? realloc(have, (cap = cap * 2 + 64) * sizeof(*have)) : have;

		if (!nh) {
			err = -ENOMEM;
			goto out;
		}
		have = nh;
		have[n_have++] = k;
		prev = &have[n_have - 1];
	}
	for (size_t i = 0; i < want->n; i++)
		n_need += want->fe[i].n_src_ranges;
	need = calloc(n_need ?: 1, sizeof(*need));
	if (!need) {
		err = -ENOMEM;
		goto out;
	}
	n_need = 0;
	for (size_t i = 0; i < want->n; i++)
		for (size_t j = 0; j < want->fe[i].n_src_ranges; j++) {
			const struct xs_cidr *r = &want->fe[i].src_ranges[j];
			__u32 mask = r->len ? htonl(~0U << (32 - r->len)) : 0;

			need[n_need++] = (struct xs_src_key){ .prefixlen = 32 + r->len, .svc_id = htonl(fe_id[i]),
							      .addr = r->addr.v4.s_addr & mask };
		}
	if (n_have)
		qsort(have, n_have, sizeof(*have), src_key_cmp);
	if (n_need)
		qsort(need, n_need, sizeof(*need), src_key_cmp);
	for (size_t i = 0; i < n_need; i++)
		if ((!i || src_key_cmp(&need[i - 1], &need[i])) &&
		    (!n_have || !bsearch(&need[i], have, n_have, sizeof(*have), src_key_cmp))) {
			w_queue(w, WQ_SRC_ADD, &need[i], &one);
			w->r->ranges_changed++;
		}
	for (size_t i = 0; i < n_have; i++)
		if (!bsearch(&have[i], need, n_need, sizeof(*need), src_key_cmp)) {
			w_queue(w, WQ_SRC_DEL, &have[i], NULL);
			w->r->ranges_changed++;
		}
out:
	free(have);
	free(need);
	return err;
}

/* What a wanted frontend becomes: its id, live generation and count. */
struct live {
	__u32 svc_id;
	__u8 gen;
	__u16 count;
};

static int live_cmp(const void *a, const void *b)
{
	const struct live *x = a, *y = b;

	return (x->svc_id > y->svc_id) - (x->svc_id < y->svc_id);
}

/*
 * The order of writes, and why every packet sees either a service's old or
 * its new backend set while this runs:
 *  1. New backends are written first. Nothing refers to them yet.
 *  2. A new frontend gets its counters zeroed, its owner and its slots
 *     written, and only then its xs_services entry: that entry is the one
 *     write that makes it reachable, complete.
 *  3. A changed frontend gets its new backend set written into the slot
 *     generation that packets do not read (gen ^ 1), then one write of its
 *     xs_services value {count, gen ^ 1} switches every later packet to the
 *     new set at once; a packet that read the old value still finds the old
 *     generation intact, because:
 *  4. Removed frontends lose their xs_services entry before anything else of
 *     theirs, and slots of old generations and removed frontends are deleted
 *     only after every switch above.
 *  5. Backends no frontend refers to any more are deleted last.
 * The bit of a new frontend address in xs_vip_bits (the datapath's first
 * check) is set before step 2 publishes the frontend, and a bit is cleared
 * only after step 4 removed the last frontend on that address.
 * A conntrack entry whose backend disappeared is re-pointed by the datapath.
 * The write queues (enum wq) issue the writes in exactly this order.
 * A loader killed anywhere leaves only unreachable leftovers (slots and
 * backends nothing live points at); the next apply reads every slot and
 * backend and deletes them in steps 4 and 5.
 */
struct ct_gone;
static int ct_gone_backends(const struct xs_frontend *o, const struct xs_frontend *f, __u32 svc_id,
			    struct ct_gone **g, size_t *n, size_t *cap);
static long ct_forget(const struct xs_maps *m, const struct ct_gone *g, size_t n);

int xs_apply(const struct xs_maps *m, const struct xs_model *want, bool dry_run, FILE *diff,
	     struct xs_apply_result *r, struct xs_delta_state *ds)
{
	struct writer w;
	struct be_ent *by_key = NULL; /* existing backends sorted by address */
	struct be_want *wants = NULL;
	size_t n_wants = 0;
	__u32 next_id = 1, id;
	struct state s;
	struct live *live = NULL;
	__u32 **be_ids = NULL;   /* per wanted frontend, the id of each backend */
	bool *be_used = NULL;    /* per existing backend (s.be order) */
	__u8 *id_used = NULL;
	__u32 *fe_id = NULL, *group = NULL; /* per wanted frontend: its id, its affinity group */
	size_t *cluster_of = NULL;          /* ... and its Service port's ClusterIP frontend */
	void *zero_stats = NULL;
	struct xs_be_index *kept = NULL; /* for ds: the backends after this apply */
	size_t i, j, n_live = 0, n_kept = 0;
	__u32 next_free = 0;
	char desc[256];
	int err;

	memset(r, 0, sizeof(*r));
	writer_init(&w, m, r);
	for (i = 0; i < want->n; i++) {
		const struct xs_frontend *f = &want->fe[i];

		if (!xs_addr_is_v4(&f->vip))
			return -EAFNOSUPPORT; /* the reader keeps IPv4 only, for now */
		if (f->n_backends > XS_MAX_SVC_BACKENDS) {
			fprintf(stderr, "xdpsvc: Service %s/%s port %s has %zu backends, at most %u are supported\n",
				f->ns, f->name, f->port_name, f->n_backends, XS_MAX_SVC_BACKENDS);
			return -E2BIG;
		}
	}
	err = state_read(m, &s);
	if (err)
		return err;

	live = calloc(want->n ?: 1, sizeof(*live));
	be_ids = calloc(want->n ?: 1, sizeof(*be_ids));
	be_used = calloc(s.n_be ?: 1, sizeof(*be_used));
	id_used = calloc(m->max_services ?: 1, 1);
	zero_stats = calloc(m->ncpus, sizeof(struct xs_svc_stats));
	for (i = 0; i < want->n; i++)
		n_wants += want->fe[i].n_backends + want->fe[i].n_terminating;
	by_key = calloc(s.n_be ?: 1, sizeof(*by_key));
	wants = calloc(n_wants ?: 1, sizeof(*wants));
	if (!live || !be_ids || !be_used || !id_used || !zero_stats || !by_key || !wants) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < s.n_ids; i++)
		id_used[i] = !!s.by_id[i];

	/* Step 1: every wanted backend gets an id (the existing one for its
	 * address, else a new one above all existing ids); new ones are written.
	 * Sorting both sides keeps this O(n log n) for any number of backends. */
	for (i = 0; i < s.n_be; i++) {
		by_key[i] = s.be[i];
		if (s.be[i].id >= next_id)
			next_id = s.be[i].id + 1;
	}
	qsort(by_key, s.n_be, sizeof(*by_key), be_ent_key_cmp);
	n_wants = 0;
	for (i = 0; i < want->n; i++) {
		const struct xs_frontend *f = &want->fe[i];

		be_ids[i] = calloc(f->n_backends ?: 1, sizeof(**be_ids));
		if (!be_ids[i]) {
			err = -ENOMEM;
			goto out;
		}
		for (j = 0; j < f->n_backends; j++)
			wants[n_wants++] = (struct be_want){ to_backend(&f->backends[j], f->proto), i, j };
		/* Terminating endpoints stay in xs_backends, so that their
		 * established flows stay valid, but get no slot. */
		for (j = 0; j < f->n_terminating; j++)
			wants[n_wants++] = (struct be_want){ to_backend(&f->terminating[j], f->proto), i, NO_SLOT };
	}
	qsort(wants, n_wants, sizeof(*wants), be_key_cmp);
	if (ds && !(kept = calloc(n_wants ?: 1, sizeof(*kept)))) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0, id = 0; i < n_wants; i++) {
		struct be_ent k = { .b = wants[i].b }, *e;
		bool same = i && !be_key_cmp(&wants[i - 1].b, &wants[i].b);

		if (same) {
			/* same backend as the previous entry: same id */
		} else if ((e = bsearch(&k, by_key, s.n_be, sizeof(k), be_ent_key_cmp))) {
			struct be_ent *old = bsearch(e, s.be, s.n_be, sizeof(*e), be_id_cmp);

			id = e->id;
			be_used[old - s.be] = true;
		} else {
			id = next_id++;
			r->be_added++;
			if (!dry_run)
				w_queue(&w, WQ_BACKENDS, &id, &k.b);
		}
		if (kept && !same)
			kept[n_kept++] = (struct xs_be_index){ { id, k.b } };
		if (wants[i].pos != NO_SLOT)
			be_ids[wants[i].fe][wants[i].pos] = id;
	}
	for (i = 0; i < s.n_be; i++)
		r->be_removed += !be_used[i];

	/* Ids: a frontend keeps its own; new ones take the lowest free. */
	fe_id = calloc(want->n ?: 1, sizeof(*fe_id));
	if (!fe_id) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0, j = 0; j < want->n;) {
		int c = i == s.n ? 1 : xs_frontend_cmp(&s.fe[i].fe, &want->fe[j]);

		if (c < 0) {
			i++;
		} else if (c == 0) {
			fe_id[j++] = s.fe[i++].val.svc_id;
		} else {
			while (next_free < m->max_services && id_used[next_free])
				next_free++;
			if (next_free == m->max_services) {
				fprintf(stderr, "xdpsvc: too many frontends: the maps hold %u\n", m->max_services);
				err = -E2BIG;
				goto out;
			}
			id_used[next_free] = 1;
			fe_id[j++] = next_free;
		}
	}
	err = affinity_groups(want, fe_id, &group, &cluster_of);
	if (err)
		goto out;

	/* Steps 2 and 3: merge-walk current and wanted frontends (both sorted). */
	for (i = 0, j = 0; i < s.n || j < want->n;) {
		int c = i == s.n ? 1 : j == want->n ? -1 : xs_frontend_cmp(&s.fe[i].fe, &want->fe[j]);

		if (c < 0) { /* removed: step 4 */
			r->fe_removed++;
			if (diff) {
				fe_desc(&s.fe[i].fe, desc, sizeof(desc));
				fprintf(diff, "  - frontend %s\n", desc);
			}
			i++;
			continue;
		}
		const struct xs_frontend *f = &want->fe[j];
		const struct cur_fe *cur = c == 0 ? &s.fe[i] : NULL;
		struct xs_svc_key key = { .vip = f->vip.v4.s_addr, .port = f->port, .proto = f->proto };
		/* Not Local (which drops instead of rejecting): external traffic
		 * policy Cluster, whose flows to other nodes are SNATed. */
		__u8 snat = f->scope != XS_SCOPE_CLUSTER && !(f->flags & XS_SVC_F_NO_REJECT) ? XS_SVC_F_SNAT : 0;
		/* A ClusterIP (SNATed from outside the cluster CIDR); a Local
		 * external address, whose pods' and node's traffic goes to
		 * the endpoints of the port's ClusterIP (ESIPP short-circuit). */
		__u8 kind = f->scope == XS_SCOPE_CLUSTER ? XS_SVC_F_CLUSTER :
			    f->flags & XS_SVC_F_NO_REJECT && cluster_of[j] != SIZE_MAX ? XS_SVC_F_EXT_LOCAL : 0;
		const struct xs_frontend *cf = kind == XS_SVC_F_EXT_LOCAL ? &want->fe[cluster_of[j]] : NULL;
		struct xs_svc_value val = {
			.svc_id = fe_id[j], .count = f->n_backends, .flags = f->flags | snat | kind,
			.affinity_s = f->flags & XS_SVC_F_AFFINITY ? f->affinity_s : 0,
			.affinity_group = f->flags & XS_SVC_F_AFFINITY ? group[j] : 0,
			.cluster_vip = cf ? cf->vip.v4.s_addr : 0,
			.cluster_port = cf ? cf->port : 0,
		};
		bool owner_changed = cur && !same_owner(&cur->fe, f);

		if (cur && !owner_changed && same_backends(&cur->fe, f) && cur->val.flags == val.flags &&
		    cur->val.affinity_s == val.affinity_s && cur->val.affinity_group == val.affinity_group &&
		    cur->val.cluster_vip == val.cluster_vip && cur->val.cluster_port == val.cluster_port) {
			live[n_live++] = (struct live){ cur->val.svc_id, cur->val.gen, cur->val.count };
			i++, j++;
			continue;
		}
		if (cur) {
			r->fe_changed++;
			val.gen = cur->val.gen ^ 1;
		} else {
			r->fe_added++;
		}
		if (diff) {
			static const struct xs_frontend none;

			fe_desc(f, desc, sizeof(desc));
			fprintf(diff, "  %c frontend %s (%zu backends)\n", cur ? '~' : '+', desc, f->n_backends);
			print_backend_diff(diff, cur ? &cur->fe : &none, f);
		}
		if (!dry_run) {
			if (!cur) /* a new id starts its counters from zero */
				w_queue(&w, WQ_STATS, &val.svc_id, zero_stats);
			if (!cur || owner_changed) {
				struct xs_svc_meta meta = {};

				memcpy(meta.ns, f->ns, sizeof(meta.ns));
				memcpy(meta.name, f->name, sizeof(meta.name));
				memcpy(meta.port_name, f->port_name, sizeof(meta.port_name));
				meta.scope = f->scope;
				w_queue(&w, WQ_META, &val.svc_id, &meta);
			}
			ssize_t rm, add;

			if (cur && plan_in_place(cur, be_ids[j], f->n_backends, &rm, &add)) {
				/* A slot left past the count goes with the sweep below. */
				queue_in_place(&w, cur, be_ids[j], rm, add, &key, &val, false);
			} else {
				for (__u16 k = 0; k < f->n_backends; k++) {
					struct xs_slot_key sk = { .svc_id = val.svc_id, .index = k, .gen = val.gen };

					w_queue(&w, WQ_SLOTS, &sk, &be_ids[j][k]);
				}
				w_queue(&w, WQ_SERVICES, &key, &val); /* the switch */
			}
		}
		live[n_live++] = (struct live){ val.svc_id, val.gen, val.count };
		if (cur)
			i++;
		j++;
	}

	if (!dry_run)
		err = queue_vip_bits(m, want, &w) ?: queue_src_ranges(m, want, fe_id, &w) ?:
		      queue_cluster_ips(m, want, &w);
	if (!dry_run && !err)
		err = check_capacity(m, &s, &w);
	if (!dry_run && !err) {
		/* Step 4: removed frontends become unreachable, then every slot
		 * that no live (svc_id, gen, index < count) refers to goes. */
		for (i = 0, j = 0; i < s.n; i++) {
			while (j < want->n && xs_frontend_cmp(&want->fe[j], &s.fe[i].fe) < 0)
				j++;
			if (j == want->n || xs_frontend_cmp(&want->fe[j], &s.fe[i].fe))
				w_queue(&w, WQ_DEL_SERVICES, &s.fe[i].key, NULL);
		}
		qsort(live, n_live, sizeof(*live), live_cmp);
		for (i = 0; i < s.n_slots; i++) {
			const struct xs_slot_key *k = &s.slots[i].k;
			struct live lk = { .svc_id = k->svc_id }, *l;

			l = bsearch(&lk, live, n_live, sizeof(lk), live_cmp);
			if (!l || l->gen != k->gen || k->index >= l->count)
				w_queue(&w, WQ_DEL_SLOTS, k, NULL);
		}
		/* Step 5. */
		for (i = 0; i < s.n_be; i++)
			if (!be_used[i])
				w_queue(&w, WQ_DEL_BACKENDS, &s.be[i].id, NULL);
		err = writer_flush(&w);
		/* Then the UDP flows of removed endpoints and frontends. */
		struct ct_gone *gone = NULL;
		size_t n_gone = 0, cap = 0;

		for (i = 0, j = 0; !err && (i < s.n || j < want->n);) {
			int c = i == s.n ? 1 : j == want->n ? -1 : xs_frontend_cmp(&s.fe[i].fe, &want->fe[j]);

			if (c <= 0)
				err = ct_gone_backends(&s.fe[i].fe, c ? NULL : &want->fe[j], s.fe[i].val.svc_id, &gone,
						       &n_gone, &cap);
			i += c <= 0;
			j += c >= 0;
		}
		long forgot = err ? 0 : ct_forget(m, gone, n_gone);

		if (forgot < 0)
			err = (int)forgot;
		else
			r->ct_forgotten = (unsigned long)forgot;
		free(gone);
	}
	if (!dry_run && !err && ds) {
		xs_delta_state_free(ds);
		ds->next_be_id = next_id;
		ds->by_key = kept;
		ds->n_backends = n_kept;
		kept = NULL;
		for (i = 0; i < want->n; i++)
			ds->n_slots += want->fe[i].n_backends;
	}
out:
	free(kept);
	writer_free(&w);
	for (i = 0; be_ids && i < want->n; i++)
		free(be_ids[i]);
	free(be_ids);
	free(by_key);
	free(wants);
	free(be_used);
	free(live);
	free(id_used);
	free(fe_id);
	free(group);
	free(cluster_of);
	free(zero_stats);
	state_free(&s);
	return err;
}

/* ---------------------------------------------------------------- delta */

#define XS_DELTA_MAX 16 /* frontends; more go to xs_apply() */

static bool same_ranges(const struct xs_frontend *a, const struct xs_frontend *b)
{
	if (a->n_src_ranges != b->n_src_ranges)
		return false;
	for (size_t i = 0; i < a->n_src_ranges; i++)
		if (a->src_ranges[i].len != b->src_ranges[i].len ||
		    xs_addr_cmp(&a->src_ranges[i].addr, &b->src_ranges[i].addr))
			return false;
	return true;
}

static bool same_terminating(const struct xs_frontend *a, const struct xs_frontend *b)
{
	if (a->n_terminating != b->n_terminating)
		return false;
	for (size_t i = 0; i < a->n_terminating; i++)
		if (xs_backend_addr_cmp(&a->terminating[i], &b->terminating[i]))
			return false;
	return true;
}

static int be_index_cmp(const void *a, const void *b)
{
	return be_key_cmp(&((const struct xs_be_index *)a)->e.b, &((const struct xs_be_index *)b)->e.b);
}

/* Does a frontend of model use backend b (slotted or terminating)? */
static bool model_uses(const struct xs_model *mo, const struct xs_backend *b)
{
	for (size_t i = 0; i < mo->n; i++) {
		const struct xs_frontend *f = &mo->fe[i];

		if (f->proto != b->proto)
			continue;
		for (size_t j = 0; j < f->n_backends; j++)
			if (f->backends[j].addr.v4.s_addr == b->addr && f->backends[j].port == b->port)
				return true;
		for (size_t j = 0; j < f->n_terminating; j++)
			if (f->terminating[j].addr.v4.s_addr == b->addr && f->terminating[j].port == b->port)
				return true;
	}
	return false;
}

/*
 * Read frontend f (as `have` knows it) back from the maps: its value and the
 * backend id at each live slot. False when the maps say otherwise.
 */
static bool read_frontend(const struct xs_maps *m, const struct xs_frontend *f, struct cur_fe *cur,
			  struct be_ent *ents)
{
	struct xs_svc_key key = { .vip = f->vip.v4.s_addr, .port = f->port, .proto = f->proto };
	size_t n = 0;

	cur->key = key;
	if (bpf_map_lookup_elem(m->services, &key, &cur->val) || cur->val.count != f->n_backends ||
	    cur->val.count > XS_INPLACE_MAX)
		return false;
	for (__u16 i = 0; i < cur->val.count; i++) {
		struct xs_slot_key sk = { .svc_id = cur->val.svc_id, .index = i, .gen = cur->val.gen };
		struct be_ent *e = &ents[n++];

		if (bpf_map_lookup_elem(m->slots, &sk, &cur->slot_ids[i]) ||
		    bpf_map_lookup_elem(m->backends, &cur->slot_ids[i], &e->b) || e->b.proto != f->proto)
			return false;
		e->id = cur->slot_ids[i];
	}
	qsort(ents, n, sizeof(*ents), be_ent_key_cmp);
	for (size_t i = 0; i < n; i++) {
		struct xs_backend want = to_backend(&f->backends[i], f->proto);

		if (be_key_cmp(&ents[i].b, &want)) /* f->backends is sorted the same way */
			return false;
	}
	return true;
}

/* A Service port's UDP flows to forget: to one removed backend, or (all)
 * every one of a removed frontend. Addresses and ports as in the packet. */
struct ct_gone {
	__u32 svc_id;
	__be32 vip, be_addr;
	__be16 vport, be_port;
	bool all;
};

static int ct_gone_add(struct ct_gone **g, size_t *n, size_t *cap, struct ct_gone e)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct ct_gone *ng = realloc(*g, nc * sizeof(*ng));

		if (!ng)
			return -ENOMEM;
		*g = ng;
		*cap = nc;
	}
	(*g)[(*n)++] = e;
	return 0;
}

/* The UDP backends of o that f serves no more, new flows or old. */
static int ct_gone_backends(const struct xs_frontend *o, const struct xs_frontend *f, __u32 svc_id,
			    struct ct_gone **g, size_t *n, size_t *cap)
{
	int err = 0;

	if (o->proto != IPPROTO_UDP)
		return 0;
	if (!f) /* the whole frontend */
		return ct_gone_add(g, n, cap, (struct ct_gone){ .svc_id = svc_id, .vip = o->vip.v4.s_addr,
							      .vport = htons(o->port), .all = true });
	for (size_t i = 0; i < o->n_backends && !err; i++) {
		const struct xs_backend_addr *b = &o->backends[i];

		if (bsearch(b, f->backends, f->n_backends, sizeof(*b), xs_backend_addr_cmp) ||
		    bsearch(b, f->terminating, f->n_terminating, sizeof(*b), xs_backend_addr_cmp))
			continue;
		err = ct_gone_add(g, n, cap, (struct ct_gone){ .svc_id = svc_id, .vip = o->vip.v4.s_addr,
							     .vport = htons(o->port), .be_addr = b->addr.v4.s_addr,
							     .be_port = htons(b->port) });
	}
	return err;
}

/*
 * kube-proxy's conntrack cleanup: after an apply, the UDP flows of a
 * Service port to an endpoint it no longer has are forgotten, so their next
 * datagram picks a live one (or is rejected when none is left), whatever
 * other Services share that pod:port. The forward entry is deleted (it is
 * what a client's datagram finds); the reverse one stays, so that a reply
 * already on its way still gets the Service's address, and goes with the
 * LRU (a reverse entry without its forward one is a dead flow's: no port
 * check counts it). Counted as flushed (xs_config.ct_flushed), not evicted.
 * Returns the entries deleted, or -errno.
 */
static long ct_forget(const struct xs_maps *m, const struct ct_gone *g, size_t n)
{
	struct xs_ct_key *keys = NULL;
	struct xs_ct_value *vals = NULL;
	struct xs_config cfg;
	size_t nk = 0;
	__u64 deleted = 0;
	__u32 zero = 0;
	int err;

	if (!n)
		return 0;
	err = dump_ct(m, &keys, &vals, &nk);
	for (size_t i = 0; !err && i < nk; i++) {
		const struct xs_ct_key *k = &keys[i];
		const struct xs_ct_value *v = &vals[i];
		bool hit = false;

		if (k->proto != IPPROTO_UDP || k->dir != XS_CT_FWD)
			continue;
		for (size_t j = 0; j < n && !hit; j++) {
			const struct ct_gone *e = &g[j];

			hit = v->svc_id == e->svc_id && k->daddr == e->vip && k->dport == e->vport &&
			      (e->all || (v->nat_addr == e->be_addr && v->nat_port == e->be_port));
		}
		if (hit && !delete_ct(m, k))
			deleted++;
	}
	if (deleted && !bpf_map_lookup_elem(m->config, &zero, &cfg)) {
		cfg.ct_flushed += deleted;
		bpf_map_update_elem(m->config, &zero, &cfg, BPF_EXIST);
	}
	if (err)
		fprintf(stderr, "xdpsvc: cannot read %s to forget the flows of removed endpoints: %s\n", XS_MAP_CT,
			strerror(-err));
	free(keys);
	free(vals);
	return err ? err : (long)deleted;
}

/*
 * xs_apply() for the common live change, some endpoints of some Services,
 * without reading the whole state: the frontends whose backends changed are
 * read back one by one (and must match `have`), their new backends get ids
 * above all others, and the same writes as xs_apply()'s steps 1, 3 and 5 go
 * through the same queues, in the same make-before-break order. A backend
 * is deleted only when no frontend of `want` uses it.
 */
int xs_apply_delta(const struct xs_maps *m, const struct xs_model *have, const struct xs_model *want,
		   struct xs_delta_state *ds, struct xs_apply_result *r)
{
	size_t changed[XS_DELTA_MAX], n_changed = 0, n_fresh = 0, n_gone = 0, n_idx, i, j;
	__u32 changed_id[XS_DELTA_MAX];     /* their svc ids, as read back */
	struct ct_gone *cgone = NULL;       /* their UDP flows to forget */
	size_t n_cgone = 0, cgone_cap = 0;
	struct be_ent fresh[XS_DELTA_MAX * 4], gone[XS_DELTA_MAX * 4];
	struct xs_be_index *idx = NULL;
	struct be_ent *ents = NULL;
	__u32 *want_ids = NULL, next_id = ds->next_be_id;
	long slots = (long)ds->n_slots, peak = 0;
	struct cur_fe cur = {};
	struct writer w;
	int err = -EAGAIN;

	memset(r, 0, sizeof(*r));
	if (have->n != want->n)
		return -EAGAIN;
	for (i = 0; i < want->n; i++) {
		const struct xs_frontend *o = &have->fe[i], *f = &want->fe[i];

		if (xs_frontend_cmp(o, f) || !same_owner(o, f) || o->flags != f->flags ||
		    o->affinity_s != f->affinity_s || !same_ranges(o, f))
			return -EAGAIN;
		if (same_backends(o, f) && same_terminating(o, f))
			continue;
		if (n_changed == XS_DELTA_MAX || !same_terminating(o, f))
			return -EAGAIN;
		changed[n_changed++] = i;
	}
	if (!n_changed)
		return 0;
	if (!ds->by_key)
		return -EAGAIN;

	writer_init(&w, m, r);
	ents = calloc(XS_INPLACE_MAX, sizeof(*ents));
	want_ids = calloc(XS_INPLACE_MAX, sizeof(*want_ids));
	cur.slot_ids = calloc(XS_INPLACE_MAX, sizeof(*cur.slot_ids));
	if (!ents || !want_ids || !cur.slot_ids) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t c = 0; c < n_changed; c++) {
		const struct xs_frontend *o = &have->fe[changed[c]], *f = &want->fe[changed[c]];
		struct xs_svc_value val;
		ssize_t rm, add;

		if (f->n_backends > XS_INPLACE_MAX || !read_frontend(m, o, &cur, ents))
			goto out;
		/* Step 1: ids of the wanted backends; new ones written first. */
		for (i = 0; i < f->n_backends; i++) {
			struct be_ent k = { .b = to_backend(&f->backends[i], f->proto) }, *e;
			struct xs_be_index *known = bsearch(&k, ds->by_key, ds->n_backends, sizeof(*known),
							   be_index_cmp);

			e = known ? &known->e : NULL;
			for (j = 0; !e && j < n_fresh; j++)
				if (!be_key_cmp(&fresh[j].b, &k.b))
					e = &fresh[j];
			if (!e) {
				if (n_fresh == sizeof(fresh) / sizeof(fresh[0]))
					goto out;
				k.id = next_id++;
				fresh[n_fresh++] = k;
				e = &k;
				w_queue(&w, WQ_BACKENDS, &k.id, &k.b);
				r->be_added++;
			}
			want_ids[i] = e->id;
		}
		for (i = 0; i < o->n_backends; i++) { /* candidates for step 5 */
			bool kept = false;

			for (j = 0; j < f->n_backends && !kept; j++)
				kept = want_ids[j] == ents[i].id;
			for (j = 0; j < n_gone && !kept; j++)
				kept = gone[j].id == ents[i].id;
			if (kept)
				continue;
			if (n_gone == sizeof(gone) / sizeof(gone[0]))
				goto out;
			gone[n_gone++] = ents[i];
		}
		/* Step 3: in place when one backend comes or goes, else a new
		 * generation and one switch. */
		val = cur.val;
		changed_id[c] = cur.val.svc_id;
		val.count = f->n_backends;
		if (plan_in_place(&cur, want_ids, f->n_backends, &rm, &add)) {
			slots += queue_in_place(&w, &cur, want_ids, rm, add, &cur.key, &val, true);
			peak = peak > slots + 1 ? peak : slots + 1;
		} else {
			val.gen = cur.val.gen ^ 1;
			for (__u16 k = 0; k < f->n_backends; k++) {
				struct xs_slot_key sk = { .svc_id = val.svc_id, .index = k, .gen = val.gen };

				w_queue(&w, WQ_SLOTS, &sk, &want_ids[k]);
			}
			w_queue(&w, WQ_SERVICES, &cur.key, &val);
			peak = peak > slots + (long)f->n_backends ? peak : slots + (long)f->n_backends;
			for (__u16 k = 0; k < cur.val.count; k++) { /* step 4: the old generation */
				struct xs_slot_key sk = { .svc_id = val.svc_id, .index = k, .gen = cur.val.gen };

				w_queue(&w, WQ_DEL_SLOTS, &sk, NULL);
			}
			slots += (long)f->n_backends - (long)cur.val.count;
		}
		r->fe_changed++;
	}
	/* Step 5: backends no frontend uses any more. */
	for (i = 0; i < n_gone; i++) {
		if (model_uses(want, &gone[i].b)) {
			gone[i].id = 0; /* kept (ids start at 1) */
			continue;
		}
		w_queue(&w, WQ_DEL_BACKENDS, &gone[i].id, NULL);
		r->be_removed++;
	}
	/* Capacity: the precise refusal is xs_apply()'s. */
	if (ds->n_backends + r->be_added > m->max_backends || (size_t)peak > m->max_slots)
		goto out;
	/* The index after this apply: a merge of the kept and the new. */
	n_idx = ds->n_backends + n_fresh;
	if (!(idx = malloc((n_idx ?: 1) * sizeof(*idx)))) {
		err = -ENOMEM;
		goto out;
	}
	qsort(fresh, n_fresh, sizeof(*fresh), be_ent_key_cmp);
	n_idx = 0;
	for (i = 0, j = 0; i < ds->n_backends || j < n_fresh;) {
		const struct be_ent *e = j == n_fresh || (i < ds->n_backends &&
			be_key_cmp(&ds->by_key[i].e.b, &fresh[j].b) < 0) ? &ds->by_key[i++].e : &fresh[j++];
		bool deleted = false;

		for (size_t g = 0; g < n_gone && !deleted; g++)
			deleted = gone[g].id == e->id;
		if (!deleted)
			idx[n_idx++].e = *e;
	}
	err = w.err ?: writer_flush(&w);
	for (size_t c = 0; !err && c < n_changed; c++) {
		const struct xs_frontend *o = &have->fe[changed[c]], *f = &want->fe[changed[c]];

		err = ct_gone_backends(o, f, changed_id[c], &cgone, &n_cgone, &cgone_cap);
	}
	if (!err) {
		long forgot = ct_forget(m, cgone, n_cgone);

		if (forgot < 0)
			err = (int)forgot;
		else
			r->ct_forgotten = (unsigned long)forgot;
	}
	if (!err) {
		free(ds->by_key);
		ds->by_key = idx;
		ds->n_backends = n_idx;
		idx = NULL;
		ds->next_be_id = next_id;
		ds->n_slots = (size_t)slots;
	}
out:
	if (err == -EAGAIN)
		memset(r, 0, sizeof(*r));
	free(cgone);
	free(idx);
	writer_free(&w);
	free(ents);
	free(want_ids);
	free(cur.slot_ids);
	return err;
}

/* ---------------------------------------------------------------- list */

static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(out, "\\u%04x", *s);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static int sum_svc_stats(const struct xs_maps *m, __u32 id, struct xs_svc_stats *sum)
{
	struct xs_svc_stats *v = calloc(m->ncpus, sizeof(*v));

	memset(sum, 0, sizeof(*sum));
	if (!v)
		return -ENOMEM;
	if (!bpf_map_lookup_elem(m->svc_stats, &id, v))
		for (int c = 0; c < m->ncpus; c++) {
			sum->packets += v[c].packets;
			sum->bytes += v[c].bytes;
			sum->new_flows += v[c].new_flows;
			sum->no_backend += v[c].no_backend;
		}
	free(v);
	return 0;
}

/* The global counters, summed over CPUs, as (name, value) pairs. */
#define GLOBAL_FIELDS(X) X(pass_not_ipv4) X(pass_not_l4) X(pass_fragment) X(pass_malformed) \
	X(pass_miss) X(hit) X(new_flow) X(no_backend) X(reject_rst) X(reject_icmp) X(reject_limited) X(drop_ct_full) X(drop_src_range) X(tcp_backend_gone) \
	X(ct_expired) X(reply_nat) X(local_dnat) X(fast_path) X(ct_created) X(pod_dnat) X(hairpin) X(snat) X(drop_snat) \
	X(to_stack) X(redirect) X(redirect_peer) X(no_port) X(icmp_nat) X(ct_assured) X(nat_clash) X(frag_nat) X(frag_unknown) X(ext_local_cluster)

static int sum_global_stats(const struct xs_maps *m, struct xs_global_stats *sum)
{
	struct xs_global_stats *v = calloc(m->ncpus, sizeof(*v));
	__u32 zero = 0;

	memset(sum, 0, sizeof(*sum));
	if (!v)
		return -ENOMEM;
	if (!bpf_map_lookup_elem(m->global_stats, &zero, v))
		for (int c = 0; c < m->ncpus; c++) {
#define ADD(f) sum->f += v[c].f;
			GLOBAL_FIELDS(ADD)
#undef ADD
		}
	free(v);
	return 0;
}

/* How many entries a map holds, read in batches into one reused buffer. */
static long count_entries(int fd, size_t ksz, size_t vsz)
{
	const __u32 chunk = 4096;
	char *keys = malloc(chunk * ksz), *vals = malloc(chunk * vsz);
	__u64 batch = 0;
	long n = 0;
	bool first = true;

	while (keys && vals) {
		__u32 count = chunk;
		int rc = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals, &count, NULL);

		first = false;
		if (rc && errno != ENOENT) {
			n = -errno;
			break;
		}
		n += count;
		if (rc)
			break;
	}
	if (!keys || !vals)
		n = -ENOMEM;
	free(keys);
	free(vals);
	return n;
}

static int u32_cmp(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return (x > y) - (x < y);
}

const char *xs_nic_mode_name(__u32 mode)
{
	return mode == XS_NIC_XDP_NATIVE ? "xdp native" : mode == XS_NIC_XDP_GENERIC ? "xdp generic" :
	       mode == XS_NIC_TC ? "tc" : "?";
}

int xs_list(const struct xs_maps *m, bool json, FILE *out)
{
	struct xs_global_stats g;
	struct state s;
	char a[XS_ADDR_STRLEN], desc[256];
	int err = state_read(m, &s);

	if (err)
		return err;
	if (json)
		fprintf(out, "{\"frontends\":[");
	else
		fprintf(out, "%-32s %-31s %8s %12s %14s %10s %10s\n", "SERVICE", "FRONTEND", "BACKENDS",
			"PACKETS", "BYTES", "NEW_FLOWS", "NO_BACKEND");
	for (size_t i = 0; i < s.n; i++) {
		const struct cur_fe *c = &s.fe[i];
		struct xs_svc_stats st;

		err = sum_svc_stats(m, c->val.svc_id, &st);
		if (err)
			goto out;
		if (!json) {
			char fe[64];

			snprintf(desc, sizeof(desc), "%s/%s%s%s", c->fe.ns, c->fe.name,
				 c->fe.port_name[0] ? ":" : "", c->fe.port_name);
			snprintf(fe, sizeof(fe), "%s:%u/%s%s", xs_addr_str(&c->fe.vip, a), c->fe.port,
				 xs_proto_name(c->fe.proto), c->fe.scope == XS_SCOPE_NODEPORT ? " NodePort" :
				 c->fe.scope == XS_SCOPE_EXTERNAL ? " External" : c->fe.scope == XS_SCOPE_LB ? " LB" : "");
			fprintf(out, "%-32s %-31s %8zu %12llu %14llu %10llu %10llu\n", desc, fe,
				c->fe.n_backends, st.packets, st.bytes, st.new_flows, st.no_backend);
			for (size_t j = 0; j < c->fe.n_backends; j++)
				fprintf(out, "    -> %s:%u\n", xs_addr_str(&c->fe.backends[j].addr, a),
					c->fe.backends[j].port);
			continue;
		}
		fprintf(out, "%s{\"namespace\":", i ? "," : "");
		json_str(out, c->fe.ns);
		fprintf(out, ",\"name\":");
		json_str(out, c->fe.name);
		fprintf(out, ",\"port_name\":");
		json_str(out, c->fe.port_name);
		fprintf(out, ",\"scope\":\"%s\",\"protocol\":\"%s\",\"address\":\"%s\",\"port\":%u,\"svc_id\":%u,"
			"\"backends\":[", xs_scope_name(c->fe.scope), xs_proto_name(c->fe.proto),
			xs_addr_str(&c->fe.vip, a), c->fe.port, c->val.svc_id);
		for (size_t j = 0; j < c->fe.n_backends; j++)
			fprintf(out, "%s{\"address\":\"%s\",\"port\":%u}", j ? "," : "",
				xs_addr_str(&c->fe.backends[j].addr, a), c->fe.backends[j].port);
		fprintf(out, "],\"stats\":{\"packets\":%llu,\"bytes\":%llu,\"new_flows\":%llu,\"no_backend\":%llu}}",
			st.packets, st.bytes, st.new_flows, st.no_backend);
	}
	/*
	 * The kernel does not count LRU evictions; they are what is missing.
	 * Every conntrack entry is created by the datapath (ct_created, new
	 * keys only) and leaves by a flush (ct_flushed) or by eviction, so
	 * evicted = created - flushed - in use. Exact when the table does not
	 * change during the walk; while it does, off by the entries created,
	 * evicted or flushed meanwhile: created is read before the walk and
	 * flushed after it, so that those mostly hide evictions rather than
	 * fake them (and a negative result shows as 0). An LRU hash map starts
	 * evicting before it is full: free entries go to per-CPU lists in
	 * batches, and a CPU whose list is empty may evict instead of taking
	 * another CPU's.
	 */
	struct xs_config cfg;
	__u32 zero = 0;

	err = sum_global_stats(m, &g);
	if (err)
		goto out;
	long ct_new = count_entries(m->ct, sizeof(struct xs_ct_key), sizeof(struct xs_ct_value));
	long ct_assured = count_entries(m->ct_assured, sizeof(struct xs_ct_key), sizeof(struct xs_ct_value));
	long ct_used = ct_new + ct_assured;

	if (ct_new < 0 || ct_assured < 0) {
		err = (int)(ct_new < 0 ? ct_new : ct_assured);
		goto out;
	}
	if (bpf_map_lookup_elem(m->config, &zero, &cfg)) {
		err = -errno;
		goto out;
	}
	__u64 left = cfg.ct_flushed + (__u64)ct_used;
	__u64 evicted = g.ct_created > left ? g.ct_created - left : 0;
	/* Which hook translates where (attach's choice), and the pods' veths. */
	char nic[IF_NAMESIZE] = "?", pod[IF_NAMESIZE];
	__u32 *pods = NULL;
	size_t n_pods = 0;

	if (cfg.nic_ifindex && !if_indextoname(cfg.nic_ifindex, nic))
		snprintf(nic, sizeof(nic), "#%u", cfg.nic_ifindex);
	{
		void *keys = NULL, *vals = NULL;

		if (!dump_map(m->devs, sizeof(__u32), sizeof(struct xs_dev), &keys, &vals, &n_pods)) {
			pods = keys;
			qsort(pods, n_pods, sizeof(*pods), u32_cmp);
		}
		free(vals);
	}
	if (json) {
		fprintf(out, "],\"datapath\":{\"nic\":{\"device\":");
		json_str(out, nic);
		fprintf(out, ",\"ifindex\":%u,\"mode\":\"%s\"},\"pods\":[", cfg.nic_ifindex,
			xs_nic_mode_name(cfg.nic_mode));
		for (size_t i = 0; i < n_pods; i++) {
			if (!if_indextoname(pods[i], pod))
				snprintf(pod, sizeof(pod), "#%u", pods[i]);
			fprintf(out, "%s{\"device\":", i ? "," : "");
			json_str(out, pod);
			fprintf(out, ",\"ifindex\":%u,\"mode\":\"tc, bpf_redirect_peer\"}", pods[i]);
		}
		fprintf(out, "]}");
	} else {
		fprintf(out, "\ndatapath: %s: %s; pods:", nic, xs_nic_mode_name(cfg.nic_mode));
		for (size_t i = 0; i < n_pods; i++)
			fprintf(out, " %s", if_indextoname(pods[i], pod) ? pod : "?");
		fprintf(out, "%s", n_pods ? " (tc, bpf_redirect_peer)" : " none attached");
	}
	free(pods);
	if (json) {
		const char *sep = "";

		fprintf(out, ",\"global\":{");
#define PRINT(f) fprintf(out, "%s\"" #f "\":%llu", sep, g.f), sep = ",";
		GLOBAL_FIELDS(PRINT)
#undef PRINT
		fprintf(out, "},\"capacity\":{\"frontends\":{\"used\":%zu,\"max\":%u},"
			"\"backends\":{\"used\":%zu,\"max\":%u},\"slots\":{\"used\":%zu,\"max\":%u},"
			"\"conntrack\":{\"used\":%ld,\"max\":%u,\"new\":%ld,\"assured\":%ld,\"evicted\":%llu,"
			"\"flushed\":%llu}}}\n", s.n,
			m->max_frontends, s.n_be, m->max_backends, s.n_slots, m->max_slots, ct_used, 2 * m->max_ct,
			ct_new, ct_assured, (unsigned long long)evicted, (unsigned long long)cfg.ct_flushed);
	} else {
		fprintf(out, "\nglobal:");
#define PRINT(f) fprintf(out, " " #f "=%llu", g.f);
		GLOBAL_FIELDS(PRINT)
#undef PRINT
		fprintf(out, "\ncapacity: frontends %zu/%u, backends %zu/%u, slots %zu/%u, conntrack %ld/%u "
			"(new %ld/%u, assured %ld/%u; %llu evicted, %llu flushed)\n", s.n, m->max_frontends, s.n_be,
			m->max_backends, s.n_slots, m->max_slots, ct_used, 2 * m->max_ct, ct_new, m->max_ct, ct_assured,
			m->max_ct, (unsigned long long)evicted, (unsigned long long)cfg.ct_flushed);
	}
out:
	state_free(&s);
	return err;
}

/* ---------------------------------------------------------------- conntrack */

int xs_ct_list(const struct xs_maps *m, bool json, FILE *out)
{
	struct xs_ct_key *keys = NULL;
	struct xs_ct_value *vals = NULL;
	struct timespec now;
	struct state s;
	size_t n = 0, shown = 0;
	char a[3][INET_ADDRSTRLEN];
	int err;

	err = state_read(m, &s);
	if (err)
		return err;
	err = dump_ct(m, &keys, &vals, &n);
	if (err) {
		fprintf(stderr, "xdpsvc: cannot read %s: %s\n", XS_MAP_CT, strerror(-err));
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &now); /* the clock of bpf_ktime_get_ns() */
	__u64 t = now.tv_sec * 1000000000ULL + now.tv_nsec;
	if (json)
		fprintf(out, "{\"flows\":[");
	else
		fprintf(out, "%-5s %-21s %-21s %-21s %-32s %8s %s\n", "PROTO", "CLIENT", "FRONTEND", "BACKEND",
			"SERVICE", "IDLE_S", "FLAGS");
	for (size_t i = 0; i < n; i++) {
		const struct xs_ct_key *k = &keys[i];
		const struct xs_ct_value *v = &vals[i];
		const struct cur_fe *owner = owner_of(&s, v->svc_id);

		if (k->dir != XS_CT_FWD)
			continue;
		inet_ntop(AF_INET, &k->saddr, a[0], sizeof(a[0]));
		inet_ntop(AF_INET, &k->daddr, a[1], sizeof(a[1]));
		inet_ntop(AF_INET, &v->nat_addr, a[2], sizeof(a[2]));
		double idle = t > v->last_seen ? (t - v->last_seen) / 1e9 : 0;
		char flags[32];

		snprintf(flags, sizeof(flags), "%s%s%s%s", v->flags & XS_CT_F_CLOSING ? ",closing" : "",
			 v->flags & XS_CT_F_LOCAL ? ",local" : "", v->flags & XS_CT_F_HAIRPIN ? ",hairpin" : "",
			 v->flags & XS_CT_F_SNAT ? ",snat" : "");
		memmove(flags, flags + 1, strlen(flags)); /* the first comma; "" stays "" */
		if (!flags[0])
			strcpy(flags, "-");
		if (json) {
			fprintf(out, "%s{\"protocol\":\"%s\",\"client\":\"%s:%u\",\"frontend\":\"%s:%u\","
				"\"backend\":\"%s:%u\",\"namespace\":", shown ? "," : "", xs_proto_name(k->proto),
				a[0], ntohs(k->sport), a[1], ntohs(k->dport), a[2], ntohs(v->nat_port));
			json_str(out, owner ? owner->fe.ns : "");
			fprintf(out, ",\"name\":");
			json_str(out, owner ? owner->fe.name : "");
			fprintf(out, ",\"idle_s\":%.1f,\"flags\":\"%s\"}", idle, flags);
		} else {
			char c[32], f[32], b[32], svc[160];

			snprintf(c, sizeof(c), "%s:%u", a[0], ntohs(k->sport));
			snprintf(f, sizeof(f), "%s:%u", a[1], ntohs(k->dport));
			snprintf(b, sizeof(b), "%s:%u", a[2], ntohs(v->nat_port));
			snprintf(svc, sizeof(svc), "%s/%s", owner ? owner->fe.ns : "?", owner ? owner->fe.name : "?");
			fprintf(out, "%-5s %-21s %-21s %-21s %-32s %8.1f %s\n", xs_proto_name(k->proto), c, f, b,
				svc, idle, flags);
		}
		shown++;
	}
	if (json)
		fprintf(out, "]}\n");
out:
	free(keys);
	free(vals);
	state_free(&s);
	return err;
}

int xs_ct_flush(const struct xs_maps *m, const char *ns, const char *name, unsigned long *flushed)
{
	struct xs_ct_key *keys = NULL;
	struct xs_ct_value *vals = NULL;
	struct xs_config cfg;
	struct state s;
	size_t n = 0;
	__u64 deleted = 0;
	__u32 zero = 0;
	int err;

	*flushed = 0;
	err = state_read(m, &s);
	if (err)
		return err;
	err = dump_ct(m, &keys, &vals, &n);
	for (size_t i = 0; !err && i < n; i++) {
		const struct cur_fe *owner = owner_of(&s, vals[i].svc_id);
		int e;

		if (ns && (!owner || strcmp(owner->fe.ns, ns) || strcmp(owner->fe.name, name)))
			continue;
		if (!(e = delete_ct(m, &keys[i])))
			deleted++;
		else if (e != -ENOENT) /* ENOENT: evicted (or moved) since the dump */
			err = e;
		else
			(*flushed)++;
	}
	*flushed += deleted;
	if (err)
		fprintf(stderr, "xdpsvc: cannot flush %s: %s\n", XS_MAP_CT, strerror(-err));
	/* What was deleted is counted even after an error: it is gone. */
	if (deleted && (bpf_map_lookup_elem(m->config, &zero, &cfg) ||
			(cfg.ct_flushed += deleted, bpf_map_update_elem(m->config, &zero, &cfg, BPF_EXIST)))) {
		int e = -errno;

		fprintf(stderr, "xdpsvc: cannot count the flushed entries in %s: %s (list will show them "
			"as evicted)\n", XS_MAP_CONFIG, strerror(-e));
		err = err ?: e;
	}
	free(keys);
	free(vals);
	state_free(&s);
	return err;
}

int xs_pinned_config(const char *pin, struct xs_config *cfg)
{
	char path[PATH_MAX];
	__u32 zero = 0;
	int fd, err = 0;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(path, sizeof(path), "%s/%s", pin, XS_MAP_CONFIG);
	fd = bpf_obj_get(path);
	if (fd < 0 || bpf_map_lookup_elem(fd, &zero, cfg)) {
		err = -errno;
		fprintf(stderr, "xdpsvc: cannot read %s: %s (run 'xdpsvc attach DEV' with the same --pin-path first)\n",
			path, strerror(-err));
	}
	if (fd >= 0)
		close(fd);
	cfg->node_name[XS_NODE_NAME_LEN - 1] = cfg->zone[XS_NAME_LEN - 1] = 0;
	if (cfg->n_nodeport_addrs > XS_MAX_NODEPORT_ADDRS)
		cfg->n_nodeport_addrs = XS_MAX_NODEPORT_ADDRS;
	return err;
}
