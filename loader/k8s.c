// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kubectl JSON/YAML -> model. Each document is composed from libyaml's parser
 * events into yaml_document_t nodes (JSON is YAML flow syntax; a List's items
 * one at a time, see "documents from parser events") and walked by path.
 * Objects are reduced to small records (Service ports, endpoint sets) that are
 * joined at the end the way kube-proxy joins them (see
 * /work/shared/KUBE-PROXY.md). Any invalid field fails the whole load with
 * one "FILE:LINE:COL: Kind ns/name: path: ..." line; skipped objects get a
 * "note: FILE:LINE: skipping ..." line.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>
#include "k8s.h"

#define XS_SPLIT_MIN (4u << 20) /* bytes: a bigger JSON List is read by two threads */

#define LABEL_SERVICE_NAME "kubernetes.io/service-name"
#define LABEL_PROXY_NAME   "service.kubernetes.io/service-proxy-name"
#define LABEL_HEADLESS     "service.kubernetes.io/headless"

/* Where a Service port was read, for the duplicate-frontend error. */
struct origin {
	const char *file;
	size_t line, col, idx;
};

struct svc_port {
	char name[XS_PORT_NAME_LEN];
	uint8_t proto;
	uint16_t port;
	uint16_t node_port;      /* 0: none (or not a NodePort/LoadBalancer Service) */
	struct origin at;
};

/* An address a Service is reachable on besides its cluster IP. */
struct svc_vip {
	struct xs_addr addr;
	uint8_t scope;           /* XS_SCOPE_EXTERNAL or XS_SCOPE_LB */
};

struct svc {
	char ns[XS_NAME_LEN], name[XS_NAME_LEN];
	bool internal_local;     /* internalTrafficPolicy: Local (ClusterIP) */
	bool external_local;     /* externalTrafficPolicy: Local (NodePort, external, LB) */
	uint32_t affinity_s;     /* sessionAffinity ClientIP: its timeout; 0: none */
	struct xs_cidr *ranges;  /* loadBalancerSourceRanges (IPv4) */
	size_t n_ranges;
	struct xs_addr vip;
	struct svc_vip *vips;    /* external and load-balancer IPs (IPv4) */
	size_t n_vips;
	struct svc_port *ports;
	size_t n_ports;
};

struct ep_port {
	char name[XS_PORT_NAME_LEN];
	uint8_t proto;
	uint16_t port;           /* 0: the slice gave no number; never matches */
};

struct ep {
	struct xs_addr addr;     /* addresses[0] */
	bool ready;
	bool serving_terminating; /* serving and terminating: kept, or the fallback */
	bool local;              /* nodeName is this node */
	bool hinted;             /* has hints.forZones */
	bool for_zone;           /* ... and one of them is this node's zone */
	bool node_hinted;        /* has hints.forNodes (PreferSameNode) */
	bool for_node;           /* ... and one of them is this node */
};

/* One EndpointSlice, or one subset of a legacy v1 Endpoints. */
struct ep_set {
	char ns[XS_NAME_LEN], svc[XS_NAME_LEN]; /* svc "" matches no Service */
	bool legacy;             /* v1 Endpoints: only for a Service with no slice */
	bool ipv4;               /* IPv4 addresses; other slices only count as present */
	struct ep *eps;
	size_t n_eps;
	struct ep_port *ports;
	size_t n_ports;
};

/* An object read (Service, EndpointSlice, Endpoints; skipped ones too): the
 * API has one object per kind, namespace and name (check_idents). */
struct ident {
	char *key;               /* "Kind\0ns\0name\0FILE:LINE" */
	size_t len;              /* of "Kind\0ns\0name" */
	int file_no;             /* which file, and where in it: one node aliased twice */
	size_t at;               /* is one object */
};

struct state {
	struct svc *svcs;
	size_t n_svcs, cap_svcs;
	struct ep_set *sets;
	size_t n_sets, cap_sets;
	struct ident *ids;
	size_t n_ids, cap_ids;
};

/*
 * What `apply --watch` keeps of a file between loads (xs_config_cache): its
 * bytes, and for a List its items' byte spans and the records each produced,
 * so that an edit inside one item re-reads that item alone.
 */
struct item_span {
	size_t start, end;       /* bytes [start, end) of the item's node */
	size_t line, col;        /* where it starts, 0-based */
	size_t svc0, n_svc;      /* its records: state.svcs[svc0, svc0 + n_svc) */
	size_t set0, n_set;      /*              state.sets[set0, set0 + n_set) */
	size_t id0, n_id;        /*              state.ids[id0, id0 + n_id) */
};

struct file_cache {
	char *buf;               /* the bytes last read */
	size_t len, cap;
	char *spare;             /* the ones before: reused, its pages already mapped */
	size_t spare_cap;
	bool by_item;            /* one document, a List, no anchors, ASCII only */
	struct item_span *items;
	size_t n_items, cap_items;
	char item_kind[64], item_api[64]; /* a typed list's (see read_list) */
};

/* A Service an edit touched: its frontends are built again. */
struct svc_name {
	char ns[XS_NAME_LEN], name[XS_NAME_LEN];
};

struct xs_config_cache {
	bool valid;              /* st and files describe the last good load */
	struct xs_model last;    /* ... and this is what it built */
	struct svc_name *touched; /* during a load: Services whose records changed */
	size_t n_touched, cap_touched;
	struct state st;
	struct file_cache *files;
	int nfiles;
	char node_name[254], zone[254]; /* what the records were read for (a DNS subdomain) */
	bool shadowed;           /* the last build dropped a frontend (check_duplicates):
				  * the next one is whole */
	struct xs_config_cache_stats stats;
};

struct compose;

struct ctx {
	FILE *notes, *errors;
	const struct xs_config_opts *opts;
	struct state *st;
	const char *file;        /* as shown in messages */
	size_t line_base;        /* added to every line shown (an item read on its own) */
	yaml_document_t *doc;
	const char *kind, *ns, *name; /* the object being read (point into doc) */
	bool v1beta1;            /* ... is a discovery.k8s.io/v1beta1 EndpointSlice */
	char item_kind[64], item_api[64]; /* of a typed list's items ("": none) */
	struct compose *k;       /* the document being composed (read_file) */
	struct file_cache *fc;   /* with a cache: where the file's items are recorded */
	long item_idx;           /* >= 0: the document is items[item_idx] of a List */
	bool split;              /* a file was read in two halves (read_split) */
	bool shadowed;           /* a frontend was dropped for another's address (check_duplicates) */
	int file_no;             /* the file being read: files[file_no] */
	bool no_split;           /* ... never (the reading again after an error) */
	size_t index_base;       /* added to recorded byte offsets (half of a split file) */
};

/* --- messages */

#define XS_QUOTE_MAX 253 /* characters of a name quoted in a message (a DNS subdomain) */

/* s, at most max characters of it (then "..."), control characters as '?':
 * one short line whatever the input. */
static void put_clean(FILE *f, const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] && i < max; i++)
		fputc((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i], f);
	if (s[i])
		fputs("...", f);
}

static void print_object(FILE *f, const struct ctx *c)
{
	if (!c->kind)
		return;
	fputc(' ', f);
	put_clean(f, c->kind, XS_QUOTE_MAX);
	if (c->name) {
		fputc(' ', f);
		if (c->ns) {
			put_clean(f, c->ns, XS_QUOTE_MAX);
			fputc('/', f);
		}
		put_clean(f, c->name, XS_QUOTE_MAX);
	}
	fputc(':', f);
}

/* "FILE:LINE:COL: Kind ns/name: path.key: what is wrong"; returns -EINVAL. */
static int fail(const struct ctx *c, const yaml_node_t *at, const char *path, const char *key,
		const char *fmt, ...)
{
	va_list ap;

	fprintf(c->errors, "%s:%zu:%zu:", c->file, c->line_base + at->start_mark.line + 1, at->start_mark.column + 1);
	print_object(c->errors, c);
	if (*path || key)
		fprintf(c->errors, " %s%s%s:", path, *path && key ? "." : "", key ? key : "");
	fputc(' ', c->errors);
	va_start(ap, fmt);
	vfprintf(c->errors, fmt, ap);
	va_end(ap);
	fputc('\n', c->errors);
	return -EINVAL;
}

/*
 * A skipped object (or part of one): a record "reason TAB FILE:LINE TAB
 * Kind ns/name TAB detail" on c->notes, where the streams of items read
 * provisionally and of split halves carry them as they carry errors;
 * print_notes() turns them into notes, one line per reason. reason is a
 * fixed text; fmt (NULL: none) says which part. Returns 0.
 */
static void note_record(FILE *f, const char *reason, const char *file, size_t line, const struct ctx *c,
			const char *detail)
{
	fprintf(f, "%s\t%s:%zu\t", reason, file, line);
	print_object(f, c);
	fputc('\t', f);
	if (detail)
		put_clean(f, detail, XS_QUOTE_MAX);
	fputc('\n', f);
}

static int skip(const struct ctx *c, const yaml_node_t *at, const char *reason, const char *fmt, ...)
{
	char detail[256];
	va_list ap;

	if (!c->notes)
		return 0;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	note_record(c->notes, reason, c->file, c->line_base + at->start_mark.line + 1, c, fmt ? detail : NULL);
	return 0;
}

#define XS_NOTE_NAMES 3 /* objects named in a note about several */

/*
 * The records as notes, in the order their reasons first came: one object
 * "note: FILE:LINE: skipping Kind ns/name: detail: reason" each, up to
 * XS_NOTE_NAMES of them; more, one line "note: skipping N (reason): FILE:LINE
 * Kind ns/name (detail), ... and M more".
 */
static void print_notes(FILE *out, char *buf, size_t len)
{
	struct group {
		const char *reason;
		size_t count;
		char *first[XS_NOTE_NAMES];
	} *g = NULL;
	size_t n = 0, cap = 0;

	for (char *line = buf, *end; line < buf + len; line = end + 1) {
		char *f[4] = { line };
		size_t i;

		end = memchr(line, '\n', (size_t)(buf + len - line));
		if (!end)
			break;
		*end = 0;
		for (i = 1; i < 4 && (f[i] = strchr(f[i - 1], '\t')); i++)
			*f[i]++ = 0;
		if (i < 4)
			continue;
		for (i = 0; i < n && strcmp(g[i].reason, line); i++)
			;
		if (i == n) {
			struct group *ng = n == cap ? reallocarray(g, cap = cap ? 2 * cap : 8, sizeof(*g)) : g;

			if (!ng)
				break;
			g = ng;
			g[n++] = (struct group){ line, 0, { NULL } };
		}
		if (g[i].count < XS_NOTE_NAMES)
			g[i].first[g[i].count] = f[1];
		g[i].count++;
	}
	for (size_t i = 0; i < n; i++) {
		/* each first[] is "FILE:LINE\0 Kind ns/name:\0detail" */
		for (size_t j = 0; j < g[i].count && j < XS_NOTE_NAMES; j++) {
			char *where = g[i].first[j], *obj = where + strlen(where) + 1, *detail = obj + strlen(obj) + 1;

			if (g[i].count <= XS_NOTE_NAMES) {
				fprintf(out, "note: %s: skipping%s %s%s%s\n", where, obj, detail, *detail ? ": " : "",
					g[i].reason);
				continue;
			}
			if (!j)
				fprintf(out, "note: skipping %zu (%s):", g[i].count, g[i].reason);
			if (*obj)
				obj[strlen(obj) - 1] = 0; /* its ':' */
			fprintf(out, "%s %s%s%s%s%s", j ? "," : "", where, obj, *detail ? " (" : "", detail,
				*detail ? ")" : "");
		}
		if (g[i].count > XS_NOTE_NAMES)
			fprintf(out, " and %zu more\n", g[i].count - XS_NOTE_NAMES);
	}
	free(g);
}

static int oom(const struct ctx *c)
{
	fprintf(c->errors, "%s: out of memory\n", c->file);
	return -ENOMEM;
}

/* --- the node tree */

static yaml_node_t *node_at(const struct ctx *c, int i)
{
	return yaml_document_get_node(c->doc, i);
}

static const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_plain(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool is_null(const yaml_node_t *n)
{
	return is_plain(n) && (!*sval(n) || !strcmp(sval(n), "null") || !strcmp(sval(n), "~") ||
			       !strcmp(sval(n), "Null") || !strcmp(sval(n), "NULL"));
}

/* The value of key in a mapping, null included; NULL when absent. */
static yaml_node_t *find(const struct ctx *c, const yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(c, p->key);

		if (k && k->type == YAML_SCALAR_NODE && !strcmp(sval(k), key))
			return node_at(c, p->value);
	}
	return NULL;
}

/* The value of key, NULL when absent or null (kubectl prints "endpoints": null). */
static yaml_node_t *child(const struct ctx *c, const yaml_node_t *map, const char *key)
{
	yaml_node_t *v = find(c, map, key);

	return v && !is_null(v) ? v : NULL;
}

static size_t seq_len(const yaml_node_t *seq)
{
	return seq ? (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start) : 0;
}

static yaml_node_t *item(const struct ctx *c, const yaml_node_t *seq, size_t i)
{
	return node_at(c, seq->data.sequence.items.start[i]);
}

static int want(const struct ctx *c, const yaml_node_t *n, yaml_node_type_t type, const char *path,
		const char *key)
{
	static const char *const what[] = {
		[YAML_SCALAR_NODE] = "a scalar", [YAML_SEQUENCE_NODE] = "a list",
		[YAML_MAPPING_NODE] = "a mapping",
	};

	if (n->type == type)
		return 0;
	if (n->type == YAML_SCALAR_NODE)
		return fail(c, n, path, key, "expected %s, found %.40s", what[type], sval(n));
	return fail(c, n, path, key, "expected %s, found %s", what[type],
		    n->type == YAML_SEQUENCE_NODE ? "a list" : "a mapping");
}

/* Optional child of a given node type; *out is NULL when absent. */
static int get_node(const struct ctx *c, const yaml_node_t *parent, const char *path, const char *key,
		    yaml_node_type_t type, yaml_node_t **out)
{
	*out = child(c, parent, key);
	return *out ? want(c, *out, type, path, key) : 0;
}

static int get_str(const struct ctx *c, const yaml_node_t *parent, const char *path, const char *key,
		   const char **out)
{
	yaml_node_t *n;
	int err = get_node(c, parent, path, key, YAML_SCALAR_NODE, &n);

	*out = NULL;
	if (err || !n)
		return err;
	if (strlen(sval(n)) != n->data.scalar.length)
		return fail(c, n, path, key, "contains a NUL character");
	*out = sval(n);
	return 0;
}

static int need_str(const struct ctx *c, const yaml_node_t *parent, const char *path, const char *key,
		    const char **out)
{
	int err = get_str(c, parent, path, key, out);

	if (!err && !*out)
		return fail(c, parent, path, key, "is required");
	return err;
}

/* A name copied into a model field of len bytes; "" when absent. */
static int get_name(const struct ctx *c, const yaml_node_t *parent, const char *path, const char *key,
		    char *dst, size_t len)
{
	const char *s;
	int err = get_str(c, parent, path, key, &s);

	if (err)
		return err;
	if (!s)
		s = "";
	if (strlen(s) >= len)
		return fail(c, child(c, parent, key), path, key, "too long (%zu characters, at most %zu)",
			    strlen(s), len - 1);
	strcpy(dst, s);
	return 0;
}

/* A port number: a plain (unquoted) integer in 1..65535; *out = 0 when absent. */
static int get_port(const struct ctx *c, const yaml_node_t *parent, const char *path, const char *key,
		    bool required, uint16_t *out)
{
	yaml_node_t *n;
	const char *v;
	char *end;
	long long x;
	int err = get_node(c, parent, path, key, YAML_SCALAR_NODE, &n);

	*out = 0;
	if (err)
		return err;
	if (!n)
		return required ? fail(c, parent, path, key, "is required") : 0;
	v = sval(n);
	if (!is_plain(n))
		return fail(c, n, path, key, "\"%.40s\" is a string, expected an integer", v);
	errno = 0;
	x = strtoll(v, &end, 10);
	if ((*v != '-' && (*v < '0' || *v > '9')) || *end)
		return fail(c, n, path, key, "%.40s is not an integer", v);
	if (errno || x < 1 || x > 65535)
		return fail(c, n, path, key, "%.40s is out of range (1-65535)", v);
	*out = (uint16_t)x;
	return 0;
}

static int get_bool(const struct ctx *c, const yaml_node_t *parent, const char *path, const char *key,
		    bool dflt, bool *out)
{
	yaml_node_t *n;
	int err = get_node(c, parent, path, key, YAML_SCALAR_NODE, &n);

	*out = dflt;
	if (err || !n)
		return err;
	if (is_plain(n) && (!strcmp(sval(n), "true") || !strcmp(sval(n), "false"))) {
		*out = sval(n)[0] == 't';
		return 0;
	}
	if (!is_plain(n))
		return fail(c, n, path, key, "\"%.40s\" is a string, expected true or false", sval(n));
	return fail(c, n, path, key, "expected true or false, found %.40s", sval(n));
}

/* Protocol: TCP when absent; SCTP is returned (callers skip it). */
static int get_proto(const struct ctx *c, const yaml_node_t *parent, const char *path, const char *key,
		     uint8_t *out)
{
	const char *s;
	int err = get_str(c, parent, path, key, &s);

	*out = IPPROTO_TCP;
	if (err || !s || !strcmp(s, "TCP"))
		return err;
	if (!strcmp(s, "UDP"))
		*out = IPPROTO_UDP;
	else if (!strcmp(s, "SCTP"))
		*out = IPPROTO_SCTP;
	else
		return fail(c, child(c, parent, key), path, key,
			    "unknown protocol \"%.40s\" (expected TCP, UDP or SCTP)", s);
	return 0;
}

/*
 * An IP address literal as kube-proxy reads it (k8s.io/utils/net
 * ParseIPSloppy, kept for objects written before the API server refused
 * them): IPv4 fields may have leading zeros, read as decimal
 * ("198.019.000.010" is 198.19.0.10). 0 or -EINVAL.
 */
static int parse_addr(const char *s, struct xs_addr *out)
{
	unsigned v[4];
	int i;

	if (!xs_addr_parse(s, out))
		return 0;
	for (i = 0; i < 4; i++) {
		if (i && *s++ != '.')
			return -EINVAL;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		for (v[i] = 0; *s >= '0' && *s <= '9'; s++)
			if ((v[i] = v[i] * 10 + (unsigned)(*s - '0')) > 255)
				return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	out->family = AF_INET;
	out->v4.s_addr = htonl(v[0] << 24 | v[1] << 16 | v[2] << 8 | v[3]);
	return 0;
}

/* A scalar node holding an IP address literal. */
static int parse_ip(const struct ctx *c, const yaml_node_t *n, const char *path, const char *key,
		    struct xs_addr *out)
{
	int err = want(c, n, YAML_SCALAR_NODE, path, key);

	if (err)
		return err;
	if (parse_addr(sval(n), out))
		return fail(c, n, path, key, "\"%.60s\" is not an IP address", sval(n));
	return 0;
}

/* Append s to the string of *n characters in buf (truncated like snprintf). */
static void append(char *buf, size_t len, size_t *n, const char *s)
{
	while (*s && *n + 1 < len)
		buf[(*n)++] = *s++;
	buf[*n] = 0;
}

/* "path.key" ("key" when path is ""); as snprintf "%s%s%s" (it is called per list item). */
static const char *at_key(char *buf, size_t len, const char *path, const char *key)
{
	size_t n = 0;

	buf[0] = 0;
	append(buf, len, &n, path);
	if (*path)
		append(buf, len, &n, ".");
	append(buf, len, &n, key);
	return buf;
}

/* "path.key[i]" ("key[i]" when path is "") */
static const char *at_index(char *buf, size_t len, const char *path, const char *key, size_t i)
{
	char num[24], *d = num + sizeof(num) - 1;
	size_t n = strlen(at_key(buf, len, path, key));

	*d = 0;
	do
		*--d = (char)('0' + i % 10);
	while (i /= 10);
	append(buf, len, &n, "[");
	append(buf, len, &n, d);
	append(buf, len, &n, "]");
	return buf;
}

/* p, with room for n + 1 elements of size (doubling); NULL when out of memory. */
static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
	size_t want_cap = *cap ? *cap * 2 : 16;
	void *q;

	if (n < *cap)
		return p;
	while (want_cap <= n)
		want_cap *= 2;
	q = reallocarray(p, want_cap, size);
	if (q)
		*cap = want_cap;
	return q;
}

/* A new zeroed endpoint set; NULL when out of memory. */
static struct ep_set *new_set(struct ctx *c)
{
	struct state *st = c->st;
	struct ep_set *s = grow(st->sets, &st->cap_sets, st->n_sets, sizeof(*s));

	if (!s)
		return NULL;
	st->sets = s;
	s = &st->sets[st->n_sets++];
	memset(s, 0, sizeof(*s));
	return s;
}

/* --- Service */

static bool is_headless_ip(const yaml_node_t *n)
{
	return !n || !*sval(n) || !strcmp(sval(n), "None");
}

/*
 * The IPv4 cluster IP (KUBE-PROXY.md, "Which objects count"): clusterIPs[i]
 * where ipFamilies[i] is IPv4; without ipFamilies, clusterIP if it is IPv4.
 * Returns 1 with *vip, 0 with *why (skip), or -EINVAL.
 */
static int cluster_ip(const struct ctx *c, const yaml_node_t *spec, struct xs_addr *vip, const char **why)
{
	yaml_node_t *one, *ips, *fams, *primary;
	struct xs_addr a;
	char p[64];
	int err;

	if ((err = get_node(c, spec, "spec", "clusterIP", YAML_SCALAR_NODE, &one)) ||
	    (err = get_node(c, spec, "spec", "clusterIPs", YAML_SEQUENCE_NODE, &ips)) ||
	    (err = get_node(c, spec, "spec", "ipFamilies", YAML_SEQUENCE_NODE, &fams)))
		return err;
	primary = one ? one : seq_len(ips) ? item(c, ips, 0) : NULL;
	if (primary && (err = want(c, primary, YAML_SCALAR_NODE, one ? "spec" : "spec.clusterIPs[0]",
				   one ? "clusterIP" : NULL)))
		return err;
	if (is_headless_ip(primary)) {
		*why = "headless (no cluster IP)";
		return 0;
	}
	if (one && (err = parse_ip(c, one, "spec", "clusterIP", &a)))
		return err;
	for (size_t i = 0; i < seq_len(ips); i++)
		if ((err = parse_ip(c, item(c, ips, i), at_index(p, sizeof(p), "spec", "clusterIPs", i), NULL, &a)))
			return err;
	if (!seq_len(fams)) {
		parse_addr(sval(primary), &a); /* checked above */
		if (xs_addr_is_v4(&a)) {
			*vip = a;
			return 1;
		}
	}
	for (size_t i = 0; i < seq_len(fams); i++) {
		yaml_node_t *f = item(c, fams, i), *ip;

		at_index(p, sizeof(p), "spec", "ipFamilies", i);
		if ((err = want(c, f, YAML_SCALAR_NODE, p, NULL)))
			return err;
		if (strcmp(sval(f), "IPv4") && strcmp(sval(f), "IPv6"))
			return fail(c, f, p, NULL, "unknown IP family \"%.40s\" (expected IPv4 or IPv6)", sval(f));
		if (strcmp(sval(f), "IPv4"))
			continue;
		ip = ips ? (i < seq_len(ips) ? item(c, ips, i) : NULL) : (i == 0 ? one : NULL);
		if (!ip)
			return fail(c, f, p, NULL, "IPv4 has no matching cluster IP in spec.clusterIPs");
		parse_addr(sval(ip), &a); /* checked above */
		if (!xs_addr_is_v4(&a))
			return fail(c, ip, ips ? at_index(p, sizeof(p), "spec", "clusterIPs", i) : "spec.clusterIP",
				    NULL, "%.60s is not an IPv4 address but spec.ipFamilies[%zu] is IPv4", sval(ip), i);
		*vip = a;
		return 1;
	}
	*why = "no IPv4 cluster IP (IPv6 is not supported yet)";
	return 0;
}

static int add_vip(struct ctx *c, struct svc *s, size_t *cap, const struct xs_addr *a, uint8_t scope)
{
	struct svc_vip *v;

	if (!xs_addr_is_v4(a))
		return 0; /* IPv6: with the IPv6 datapath */
	if (!(v = grow(s->vips, cap, s->n_vips, sizeof(*v))))
		return oom(c);
	s->vips = v;
	s->vips[s->n_vips++] = (struct svc_vip){ *a, scope };
	return 0;
}

/*
 * spec.externalIPs[] and status.loadBalancer.ingress[].ip: more addresses
 * the Service's ports answer on (kube-proxy's "external" path). Ingress
 * entries with ipMode Proxy (the load balancer proxies, the node never sees
 * the IP) and hostname-only entries are not programmed.
 */
static int read_extra_vips(struct ctx *c, yaml_node_t *obj, yaml_node_t *spec, struct svc *s)
{
	yaml_node_t *ext, *status, *lb, *ingress;
	struct xs_addr a;
	size_t cap = 0;
	char p[96];
	int err;

	if ((err = get_node(c, spec, "spec", "externalIPs", YAML_SEQUENCE_NODE, &ext)))
		return err;
	for (size_t i = 0; i < seq_len(ext); i++)
		if ((err = parse_ip(c, item(c, ext, i), at_index(p, sizeof(p), "spec", "externalIPs", i), NULL, &a)) ||
		    (err = add_vip(c, s, &cap, &a, XS_SCOPE_EXTERNAL)))
			return err;
	if ((err = get_node(c, obj, "", "status", YAML_MAPPING_NODE, &status)) ||
	    (err = get_node(c, status, "status", "loadBalancer", YAML_MAPPING_NODE, &lb)) ||
	    (err = get_node(c, lb, "status.loadBalancer", "ingress", YAML_SEQUENCE_NODE, &ingress)))
		return err;
	for (size_t i = 0; i < seq_len(ingress); i++) {
		yaml_node_t *it = item(c, ingress, i), *ip;
		const char *mode;

		at_index(p, sizeof(p), "status.loadBalancer", "ingress", i);
		if ((err = want(c, it, YAML_MAPPING_NODE, p, NULL)) ||
		    (err = get_node(c, it, p, "ip", YAML_SCALAR_NODE, &ip)) ||
		    (err = get_str(c, it, p, "ipMode", &mode)))
			return err;
		if (mode && strcmp(mode, "VIP") && strcmp(mode, "Proxy"))
			return fail(c, child(c, it, "ipMode"), p, "ipMode",
				    "unknown ipMode \"%.40s\" (expected VIP or Proxy)", mode);
		if (!ip || (mode && !strcmp(mode, "Proxy")))
			continue;
		if ((err = parse_ip(c, ip, p, "ip", &a)) || (err = add_vip(c, s, &cap, &a, XS_SCOPE_LB)))
			return err;
	}
	return 0;
}

/* sessionAffinity: None (the default) or ClientIP, with
 * sessionAffinityConfig.clientIP.timeoutSeconds (1..86400, default 10800). */
static int get_affinity(struct ctx *c, yaml_node_t *spec, uint32_t *timeout)
{
	yaml_node_t *cfg, *cip, *t;
	const char *v;
	long long n;
	char *end;
	int err = get_str(c, spec, "spec", "sessionAffinity", &v);

	*timeout = 0;
	if (err)
		return err;
	if (v && strcmp(v, "None") && strcmp(v, "ClientIP"))
		return fail(c, child(c, spec, "sessionAffinity"), "spec", "sessionAffinity",
			    "unknown session affinity \"%.40s\" (expected None or ClientIP)", v);
	if (!v || strcmp(v, "ClientIP"))
		return 0;
	*timeout = 10800;
	if ((err = get_node(c, spec, "spec", "sessionAffinityConfig", YAML_MAPPING_NODE, &cfg)) ||
	    (err = get_node(c, cfg, "spec.sessionAffinityConfig", "clientIP", YAML_MAPPING_NODE, &cip)) ||
	    (err = get_node(c, cip, "spec.sessionAffinityConfig.clientIP", "timeoutSeconds", YAML_SCALAR_NODE, &t)))
		return err;
	if (!t)
		return 0;
	n = strtoll(sval(t), &end, 10);
	if (!is_plain(t) || !*sval(t) || *end || n < 1 || n > 86400)
		return fail(c, t, "spec.sessionAffinityConfig.clientIP", "timeoutSeconds",
			    "\"%.40s\" is not a number of seconds in 1..86400", sval(t));
	*timeout = (uint32_t)n;
	return 0;
}

/* spec.loadBalancerSourceRanges: CIDRs; IPv6 ones wait for IPv6. */
static int get_source_ranges(struct ctx *c, yaml_node_t *spec, struct svc *s)
{
	yaml_node_t *seq;
	char p[96];
	int err = get_node(c, spec, "spec", "loadBalancerSourceRanges", YAML_SEQUENCE_NODE, &seq);

	if (err || !seq_len(seq))
		return err;
	if (!(s->ranges = calloc(seq_len(seq), sizeof(*s->ranges))))
		return oom(c);
	for (size_t i = 0; i < seq_len(seq); i++) {
		yaml_node_t *it = item(c, seq, i);
		char buf[64], *slash, *end;
		struct xs_cidr r;
		long len;

		at_index(p, sizeof(p), "spec", "loadBalancerSourceRanges", i);
		if ((err = want(c, it, YAML_SCALAR_NODE, p, NULL)))
			return err;
		/* kube-proxy trims white space ("validation mistakenly allows
		 * whitespace padding"); a longer value is no CIDR anyway */
		const char *v = sval(it);
		size_t n;

		while (*v && strchr(" \t\n\r\v\f", *v))
			v++;
		n = strlen(v);
		while (n && strchr(" \t\n\r\v\f", v[n - 1]))
			n--;
		snprintf(buf, sizeof(buf), "%.*s", (int)(n < sizeof(buf) ? n : sizeof(buf) - 1), v);
		slash = strchr(buf, '/');
		if (slash)
			*slash = 0;
		len = slash && slash[1] >= '0' && slash[1] <= '9' ? strtol(slash + 1, &end, 10) : -1;
		if (!slash || len < 0 || *end || n >= sizeof(buf) || parse_addr(buf, &r.addr) ||
		    len > (xs_addr_is_v4(&r.addr) ? 32 : 128))
			return fail(c, it, p, NULL, "\"%.60s\" is not a CIDR (address/length)", sval(it));
		if (!xs_addr_is_v4(&r.addr))
			continue;
		r.len = (uint8_t)len;
		s->ranges[s->n_ranges++] = r;
	}
	return 0;
}

/* A traffic policy: Cluster (the default) or Local. */
static int get_policy(struct ctx *c, yaml_node_t *spec, const char *key, bool *local)
{
	const char *v;
	int err = get_str(c, spec, "spec", key, &v);

	if (err)
		return err;
	if (v && strcmp(v, "Cluster") && strcmp(v, "Local"))
		return fail(c, child(c, spec, key), "spec", key, "unknown traffic policy \"%.40s\" (expected Cluster or Local)", v);
	*local = v && !strcmp(v, "Local");
	return 0;
}

static int read_service(struct ctx *c, yaml_node_t *obj, yaml_node_t *meta)
{
	struct state *st = c->st;
	yaml_node_t *spec, *ports;
	const char *type, *why = NULL;
	struct xs_addr vip;
	struct svc *s;
	char ns[XS_NAME_LEN], name[XS_NAME_LEN];
	int err;

	if ((err = get_name(c, meta, "metadata", "namespace", ns, sizeof(ns))) ||
	    (err = get_name(c, meta, "metadata", "name", name, sizeof(name))) ||
	    (err = get_node(c, obj, "", "spec", YAML_MAPPING_NODE, &spec)))
		return err;
	if (!spec)
		return fail(c, obj, "", "spec", "is required");
	if ((err = get_str(c, spec, "spec", "type", &type)))
		return err;
	if (type && !strcmp(type, "ExternalName"))
		return skip(c, obj, "type ExternalName", NULL);
	if (type && strcmp(type, "ClusterIP") && strcmp(type, "NodePort") && strcmp(type, "LoadBalancer"))
		return fail(c, child(c, spec, "type"), "spec", "type",
			    "unknown Service type \"%.40s\" (expected ClusterIP, NodePort, LoadBalancer or ExternalName)",
			    type);
	err = cluster_ip(c, spec, &vip, &why);
	if (err <= 0)
		return err ? err : skip(c, obj, why, NULL);
	if ((err = get_node(c, spec, "spec", "ports", YAML_SEQUENCE_NODE, &ports)))
		return err;

	if (!(s = grow(st->svcs, &st->cap_svcs, st->n_svcs, sizeof(*s))))
		return oom(c);
	st->svcs = s;
	s = &st->svcs[st->n_svcs++];
	memset(s, 0, sizeof(*s));
	strcpy(s->ns, *ns ? ns : "default");
	strcpy(s->name, name);
	s->vip = vip;
	if ((err = read_extra_vips(c, obj, spec, s)) ||
	    (err = get_policy(c, spec, "internalTrafficPolicy", &s->internal_local)) ||
	    (err = get_policy(c, spec, "externalTrafficPolicy", &s->external_local)) ||
	    (err = get_affinity(c, spec, &s->affinity_s)) ||
	    (err = get_source_ranges(c, spec, s)))
		return err;
	bool node_ports = type && (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer"));
	if (seq_len(ports) && !(s->ports = calloc(seq_len(ports), sizeof(*s->ports))))
		return oom(c);
	for (size_t i = 0; i < seq_len(ports); i++) {
		yaml_node_t *it = item(c, ports, i);
		struct svc_port *sp = &s->ports[s->n_ports];
		char p[64];

		at_index(p, sizeof(p), "spec", "ports", i);
		if ((err = want(c, it, YAML_MAPPING_NODE, p, NULL)) ||
		    (err = get_name(c, it, p, "name", sp->name, sizeof(sp->name))) ||
		    (err = get_proto(c, it, p, "protocol", &sp->proto)) ||
		    (err = get_port(c, it, p, "port", true, &sp->port)) ||
		    (node_ports && (err = get_port(c, it, p, "nodePort", false, &sp->node_port))))
			return err;
		if (sp->proto == IPPROTO_SCTP) {
			skip(c, it, "SCTP is not supported", "%s (%u/SCTP)", p, sp->port);
			continue;
		}
		sp->at = (struct origin){ c->file, c->line_base + it->start_mark.line + 1, it->start_mark.column + 1, i };
		s->n_ports++;
	}
	return 0;
}

/* --- EndpointSlice and Endpoints */

static int read_ep_topology(struct ctx *c, yaml_node_t *it, const char *p, struct ep *ep);

/* The ports of a slice or an Endpoints subset; a slice port may lack a number. */
static int read_ep_ports(struct ctx *c, struct ep_set *set, const yaml_node_t *ports, const char *path,
			 bool need_port)
{
	if (seq_len(ports) && !(set->ports = calloc(seq_len(ports), sizeof(*set->ports))))
		return oom(c);
	for (size_t i = 0; i < seq_len(ports); i++) {
		yaml_node_t *it = item(c, ports, i);
		struct ep_port *ep = &set->ports[set->n_ports++];
		char p[64];
		int err;

		at_index(p, sizeof(p), path, "ports", i);
		if ((err = want(c, it, YAML_MAPPING_NODE, p, NULL)) ||
		    (err = get_name(c, it, p, "name", ep->name, sizeof(ep->name))) ||
		    (err = get_proto(c, it, p, "protocol", &ep->proto)) ||
		    (err = get_port(c, it, p, "port", need_port, &ep->port)))
			return err;
	}
	return 0;
}

/* Copy a join key; one too long for a Service name matches nothing (""). */
static void set_key(char *dst, const char *s)
{
	if (strlen(s) < XS_NAME_LEN)
		strcpy(dst, s);
}

static int read_slice(struct ctx *c, yaml_node_t *obj, yaml_node_t *meta)
{
	yaml_node_t *labels, *ports, *eps;
	const char *svc, *type;
	struct ep_set *set;
	int family = 0;
	int err;

	if ((err = get_node(c, meta, "metadata", "labels", YAML_MAPPING_NODE, &labels)) ||
	    (err = get_str(c, labels, "metadata.labels", LABEL_SERVICE_NAME, &svc)) ||
	    (err = need_str(c, obj, "", "addressType", &type)) ||
	    (err = get_node(c, obj, "", "ports", YAML_SEQUENCE_NODE, &ports)) ||
	    (err = get_node(c, obj, "", "endpoints", YAML_SEQUENCE_NODE, &eps)))
		return err;
	if (!strcmp(type, "IPv4"))
		family = AF_INET;
	else if (!strcmp(type, "IPv6"))
		family = AF_INET6;
	else if (strcmp(type, "FQDN"))
		return fail(c, child(c, obj, "addressType"), "", "addressType",
			    "unknown addressType \"%.40s\" (expected IPv4, IPv6 or FQDN)", type);
	if (!svc)
		return skip(c, obj, "no label " LABEL_SERVICE_NAME, NULL);

	if (!(set = new_set(c)))
		return oom(c);
	set_key(set->ns, c->ns);
	set_key(set->svc, svc);
	set->ipv4 = family == AF_INET;
	if ((err = read_ep_ports(c, set, ports, "", false)))
		return err;
	if (seq_len(eps) && !(set->eps = calloc(seq_len(eps), sizeof(*set->eps))))
		return oom(c);
	for (size_t i = 0; i < seq_len(eps); i++) {
		yaml_node_t *it = item(c, eps, i), *addrs, *cond;
		struct ep *ep = &set->eps[set->n_eps];
		char p[64], q[96];
		bool serving, terminating;

		at_index(p, sizeof(p), "", "endpoints", i);
		if ((err = want(c, it, YAML_MAPPING_NODE, p, NULL)) ||
		    (err = get_node(c, it, p, "addresses", YAML_SEQUENCE_NODE, &addrs)))
			return err;
		if (!seq_len(addrs))
			return fail(c, addrs ? addrs : it, p, "addresses", "is required (at least one address)");
		for (size_t j = 0; j < seq_len(addrs); j++) {
			yaml_node_t *a = item(c, addrs, j);
			struct xs_addr addr;

			at_index(q, sizeof(q), p, "addresses", j);
			if (!family) {
				if ((err = want(c, a, YAML_SCALAR_NODE, q, NULL)))
					return err;
				continue;
			}
			if ((err = parse_ip(c, a, q, NULL, &addr)))
				return err;
			if (addr.family != family)
				return fail(c, a, q, NULL, "%.60s is not an %s address (addressType is %s)", sval(a),
					    type, type);
			if (j == 0)
				ep->addr = addr;
		}
		at_key(q, sizeof(q), p, "conditions");
		if ((err = get_node(c, it, p, "conditions", YAML_MAPPING_NODE, &cond)) ||
		    (err = get_bool(c, cond, q, "ready", true, &ep->ready)) ||
		    (err = get_bool(c, cond, q, "serving", true, &serving)) ||
		    (err = get_bool(c, cond, q, "terminating", false, &terminating)))
			return err;
		ep->serving_terminating = serving && terminating;
		if ((err = read_ep_topology(c, it, p, ep)))
			return err;
		if (set->ipv4)
			set->n_eps++;
	}
	return 0;
}

static bool is_me(const char *name, const char *mine)
{
	return name && mine && *mine && !strcmp(name, mine);
}

/* hints.forZones[].name or hints.forNodes[].name: any? one of them mine? */
static int read_hints(struct ctx *c, yaml_node_t *hints, const char *q, const char *key, const char *mine,
		      bool *any, bool *match)
{
	yaml_node_t *seq;
	int err = get_node(c, hints, q, key, YAML_SEQUENCE_NODE, &seq);

	*any = seq_len(seq) > 0;
	for (size_t i = 0; !err && i < seq_len(seq); i++) {
		yaml_node_t *h = item(c, seq, i);
		char r[160];
		const char *name;

		at_index(r, sizeof(r), q, key, i);
		if (!(err = want(c, h, YAML_MAPPING_NODE, r, NULL)) && !(err = get_str(c, h, r, "name", &name)))
			*match |= is_me(name, mine);
	}
	return err;
}

/*
 * nodeName and the hints of an endpoint, against this node's name and zone
 * (kube-proxy's topologyModeFromHints). discovery.k8s.io/v1beta1 has the
 * node in topology["kubernetes.io/hostname"] when nodeName is absent.
 */
static int read_ep_topology(struct ctx *c, yaml_node_t *it, const char *p, struct ep *ep)
{
	yaml_node_t *hints, *topo;
	const char *node;
	char q[128];
	int err;

	if ((err = get_str(c, it, p, "nodeName", &node)))
		return err;
	if (!node && c->v1beta1) {
		at_key(q, sizeof(q), p, "topology");
		if ((err = get_node(c, it, p, "topology", YAML_MAPPING_NODE, &topo)) ||
		    (err = get_str(c, topo, q, "kubernetes.io/hostname", &node)))
			return err;
	}
	ep->local = is_me(node, c->opts->node_name);
	at_key(q, sizeof(q), p, "hints");
	if ((err = get_node(c, it, p, "hints", YAML_MAPPING_NODE, &hints)) ||
	    (err = read_hints(c, hints, q, "forZones", c->opts->zone, &ep->hinted, &ep->for_zone)) ||
	    (err = read_hints(c, hints, q, "forNodes", c->opts->node_name, &ep->node_hinted, &ep->for_node)))
		return err;
	return 0;
}

/* Legacy v1 Endpoints: one set per subset; notReadyAddresses are not used;
 * addresses[].nodeName says which are local. */
static int read_endpoints(struct ctx *c, yaml_node_t *obj, yaml_node_t *meta)
{
	yaml_node_t *subsets;
	int err;

	if ((err = get_node(c, obj, "", "subsets", YAML_SEQUENCE_NODE, &subsets)))
		return err;
	for (size_t i = 0; i < seq_len(subsets); i++) {
		yaml_node_t *sub = item(c, subsets, i), *addrs, *ports;
		const char *node;
		struct ep_set *set;
		char p[64], q[96];

		at_index(p, sizeof(p), "", "subsets", i);
		if ((err = want(c, sub, YAML_MAPPING_NODE, p, NULL)) ||
		    (err = get_node(c, sub, p, "addresses", YAML_SEQUENCE_NODE, &addrs)) ||
		    (err = get_node(c, sub, p, "ports", YAML_SEQUENCE_NODE, &ports)))
			return err;
		if (!(set = new_set(c)))
			return oom(c);
		set_key(set->ns, c->ns);
		set_key(set->svc, c->name);
		set->legacy = set->ipv4 = true;
		if ((err = read_ep_ports(c, set, ports, p, true)))
			return err;
		if (seq_len(addrs) && !(set->eps = calloc(seq_len(addrs), sizeof(*set->eps))))
			return oom(c);
		for (size_t j = 0; j < seq_len(addrs); j++) {
			yaml_node_t *a = item(c, addrs, j), *ip;
			struct ep *ep = &set->eps[set->n_eps];

			at_index(q, sizeof(q), p, "addresses", j);
			if ((err = want(c, a, YAML_MAPPING_NODE, q, NULL)) ||
			    (err = get_node(c, a, q, "ip", YAML_SCALAR_NODE, &ip)))
				return err;
			if (!ip)
				return fail(c, a, q, "ip", "is required");
			if ((err = parse_ip(c, ip, q, "ip", &ep->addr)) ||
			    (err = get_str(c, a, q, "nodeName", &node)))
				return err;
			ep->ready = true;
			ep->local = is_me(node, c->opts->node_name);
			if (xs_addr_is_v4(&ep->addr))
				set->n_eps++;
		}
	}
	return 0;
}

/* --- objects and files */

static const struct kind {
	const char *kind, *api_version, *api_old; /* api_old: read too (NULL: none) */
	int (*read)(struct ctx *c, yaml_node_t *obj, yaml_node_t *meta);
} kinds[] = {
	{ "Service", "v1", NULL, read_service },
	/* v1beta1: clusters before 1.21; the same fields, and topology */
	{ "EndpointSlice", "discovery.k8s.io/v1", "discovery.k8s.io/v1beta1", read_slice },
	{ "Endpoints", "v1", NULL, read_endpoints },
};

static int read_object(struct ctx *c, yaml_node_t *obj, const char *where, bool top);
static void state_truncate(struct state *st, size_t n_svcs, size_t n_sets, size_t n_ids);
struct stream_info;
static int read_whole(struct ctx *c, const char *b, size_t len, struct stream_info *info);
static int slurp(const char *path, char **buf, size_t *cap_io, size_t *len, FILE *errors);
static bool streamed(const struct ctx *c);
static size_t n_streamed(const struct ctx *c);
static int commit_items(struct ctx *c);

/* "List", or a typed list ("ServiceList", what the API and client libraries
 * return: its items carry no kind and apiVersion, they are the list's). */
static bool is_list(const char *kind)
{
	size_t n = strlen(kind);

	return n >= 4 && !strcmp(kind + n - 4, "List");
}

/* The kind and apiVersion of a typed list's items (kind "" for "List"). */
static void set_item_kind(struct ctx *c, const char *list_kind, const char *api_version)
{
	size_t n = strlen(list_kind) - 4;

	snprintf(c->item_kind, sizeof(c->item_kind), "%.*s", (int)(n < sizeof(c->item_kind) ? n : 0), list_kind);
	snprintf(c->item_api, sizeof(c->item_api), "%s", strlen(api_version) < sizeof(c->item_api) ? api_version : "");
	if (c->fc) { /* for an item read on its own (apply --watch) */
		memcpy(c->fc->item_kind, c->item_kind, sizeof(c->item_kind));
		memcpy(c->fc->item_api, c->item_api, sizeof(c->item_api));
	}
}

/* kubectl's "kind: List", or a typed list: items are objects (those streamed
 * already read; the rest are in items, after them). */
static int read_list(struct ctx *c, yaml_node_t *obj, const char *kind, const char *api_version)
{
	yaml_node_t *items;
	size_t first = n_streamed(c);
	char p[64];
	int err;

	if (!strcmp(kind, "List") && strcmp(api_version, "v1"))
		return fail(c, child(c, obj, "apiVersion"), "", "apiVersion",
			    "%.40s is not supported for List (expected v1)", api_version);
	set_item_kind(c, kind, api_version);
	if ((err = get_node(c, obj, "", "items", YAML_SEQUENCE_NODE, &items)))
		return err;
	if (streamed(c) && (err = commit_items(c)))
		return err;
	for (size_t i = 0; i < seq_len(items); i++)
		if ((err = read_object(c, item(c, items, i), at_index(p, sizeof(p), "", "items", first + i), false)))
			return err;
	return 0;
}

/* Record the object read (c->kind, ns, name) for check_idents(). */
static int add_ident(struct ctx *c, const yaml_node_t *obj)
{
	struct state *st = c->st;
	size_t lk = strlen(c->kind), ln = strlen(c->ns), lm = strlen(c->name);
	struct ident *v = grow(st->ids, &st->cap_ids, st->n_ids, sizeof(*v));
	char *key;

	if (!v)
		return oom(c);
	st->ids = v;
	if (asprintf(&key, "%s%c%s%c%s%c%s:%zu", c->kind, 0, c->ns, 0, c->name, 0, c->file,
		     c->line_base + obj->start_mark.line + 1) < 0)
		return oom(c);
	st->ids[st->n_ids++] = (struct ident){ key, lk + ln + lm + 2, c->file_no, c->index_base + obj->start_mark.index };
	return 0;
}

static int read_object(struct ctx *c, yaml_node_t *obj, const char *where, bool top)
{
	const struct kind *k = NULL;
	yaml_node_t *meta, *labels;
	const char *api_version;
	int err;

	c->kind = c->ns = c->name = NULL;
	c->v1beta1 = false;
	if ((err = want(c, obj, YAML_MAPPING_NODE, where, NULL)) ||
	    (err = get_str(c, obj, where, "kind", &c->kind)) ||
	    (err = get_str(c, obj, "", "apiVersion", &api_version)))
		return err;
	if (!top && !c->kind && *c->item_kind) { /* an item of a typed list */
		c->kind = c->item_kind;
		if (!api_version)
			api_version = c->item_api;
	}
	if ((!c->kind && (err = need_str(c, obj, where, "kind", &c->kind))) ||
	    (!api_version && (err = need_str(c, obj, "", "apiVersion", &api_version))))
		return err;
	if (top && is_list(c->kind))
		return read_list(c, obj, c->kind, api_version);
	if ((err = get_node(c, obj, "", "metadata", YAML_MAPPING_NODE, &meta)))
		return err;
	if (!meta)
		return fail(c, obj, "", "metadata", "is required");
	if ((err = get_str(c, meta, "metadata", "namespace", &c->ns)) ||
	    (err = need_str(c, meta, "metadata", "name", &c->name)))
		return err;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(c->kind, kinds[i].kind))
			k = &kinds[i];
	if (!k)
		return skip(c, obj, "kind not handled", NULL);
	if (!c->ns)
		c->ns = "default";
	c->v1beta1 = k->api_old && !strcmp(api_version, k->api_old);
	if (strcmp(api_version, k->api_version) && !c->v1beta1)
		return fail(c, child(c, obj, "apiVersion") ?: obj, "", "apiVersion",
			    "%.40s is not supported for %s (expected %s)", api_version, k->kind, k->api_version);
	if ((err = add_ident(c, obj)) ||
	    (err = get_node(c, meta, "metadata", "labels", YAML_MAPPING_NODE, &labels)))
		return err;
	if (find(c, labels, LABEL_PROXY_NAME))
		return skip(c, obj, "labelled " LABEL_PROXY_NAME, NULL);
	if (find(c, labels, LABEL_HEADLESS))
		return skip(c, obj, "labelled " LABEL_HEADLESS, NULL);
	return k->read(c, obj, meta);
}

static int parse_error(const struct ctx *c, const yaml_parser_t *parser)
{
	const yaml_mark_t *m = parser->error == YAML_READER_ERROR ? &parser->mark : &parser->problem_mark;

	if (parser->error == YAML_MEMORY_ERROR)
		return oom(c);
	fprintf(c->errors, "%s:%zu:%zu: parse error: %s", c->file, c->line_base + m->line + 1, m->column + 1,
		parser->problem ? parser->problem : "unknown error");
	if (parser->context)
		fprintf(c->errors, " (%s at %zu:%zu)", parser->context, c->line_base + parser->context_mark.line + 1,
			parser->context_mark.column + 1);
	fputc('\n', c->errors);
	return -EINVAL;
}

/*
 * --- documents from parser events
 *
 * yaml_parser_load() builds the tree of a whole document, and kubectl's
 * "kind: List" is one document: 10,000 Services with their EndpointSlices
 * made a 600 MB tree. Here the parser's events are composed into the same
 * yaml_document_t nodes (same marks and scalar styles; no tags, nothing reads
 * them), except that the items of the first "items" list of a top-level
 * mapping are composed one at a time, each into a small document of its own
 * (the ITEM tree) that is read as items[i] and dropped. Everything else of
 * the document goes to the OUTER tree, with an empty list standing for the
 * streamed items.
 *
 * "kind" may come after "items" (kubectl -o yaml sorts keys), so the items are
 * read provisionally: their notes and their first error are kept aside, and
 * at the end of the document, if the object is a List, read_list() passes
 * them on (after the List's own checks, as when the whole tree was read);
 * otherwise what they added is taken back and the object is read as usual.
 * A parse error anywhere in the document still wins over them.
 *
 * Anchors and aliases work as with yaml_parser_load() (same duplicate and
 * undefined alias errors). An alias within one tree is the node itself; an
 * alias in an item to a node of the OUTER tree is a copy (marks kept), and
 * when an item is done, its anchored nodes are copied into the OUTER tree for
 * later items. Copies keep shared nodes shared. A list that carries an anchor
 * itself, or sits in a mapping with one, is composed whole, as it could be
 * aliased from inside its own items.
 */

enum { OUTER, ITEM };

struct chunk {
	struct chunk *next;
	size_t size, used;
	max_align_t data[];
};

/* Scalar values and child arrays of one tree; reset, not freed, between items. */
struct arena {
	struct chunk *head, *cur;
};

/* A tree's node for a node of the other tree (copied or copied from). */
struct memo {
	int id;
	unsigned long gen;       /* valid while it is compose.gen */
};

struct tree {
	yaml_document_t doc;     /* only doc.nodes is used */
	size_t *size;            /* by node id minus one: its nodes, aliases expanded */
	size_t cap_size;
	struct arena mem;
	struct memo *memo;       /* by node id of the other tree, minus one */
	size_t n_memo;
};

enum { F_SEQ, F_MAP, F_ITEMS };

/* An open collection. */
struct frame {
	int id;
	size_t base;             /* its children so far: kids[base..n_kids) */
	unsigned char tree, kind;
	bool root;               /* the document's root mapping, without an anchor */
};

struct anchor {
	const char *name;        /* in the OUTER arena; NULL: free slot */
	yaml_mark_t mark;
	int tree, id;
};

struct compose {
	yaml_parser_t *parser;
	struct tree t[2];
	unsigned long gen;       /* bumped when the ITEM tree is emptied */
	struct frame *frames;
	size_t n_frames, cap_frames;
	int *kids;               /* children (keys and values) of the open collections */
	size_t n_kids, cap_kids;
	struct anchor *anchors;  /* open addressing; cap a power of two */
	size_t n_anchors, cap_anchors;
	const char **item_anchors; /* anchors in the ITEM tree */
	size_t n_item_anchors, cap_item_anchors;
	int root;                /* the document's root node (OUTER) once complete */
	bool any_anchor;         /* an anchor or alias was seen in the file */
	size_t n_docs;           /* documents so far */
	size_t n_nodes, n_aliased; /* nodes of the document, and what aliases added */
	bool seen_items;         /* the root mapping had an "items" key */
	bool no_items;           /* never stream (an item read on its own) */
	bool was_list;           /* the document was a List with streamed items */
	/* the streamed items */
	bool streamed;
	size_t n_items;
	size_t n_streamed;       /* items read as they came (the rest: in the list node) */
	int items_err;           /* the first item's error, in errors_buf */
	size_t n_svcs, n_sets, n_ids; /* the state before the items */
	FILE *notes, *errors;
	char *notes_buf, *errors_buf;
	size_t notes_len, errors_len;
};

#define CHUNK_SIZE (64 * 1024)

/*
 * Bounds that keep every reading linear in the input. libyaml checks every
 * open flow collection at every token (its simple keys): time grows with
 * the input times its nesting, 200,000 nested "{" took minutes; no
 * Kubernetes object nests more than a few dozen levels. Aliases: a node
 * aliased many times is walked as often ("billion laughs"); Go's YAML
 * reader (kubectl) refuses excessive aliasing too.
 */
#define XS_MAX_DEPTH 64
#define XS_MAX_ALIASED ((size_t)1000000)
#define XS_STR_(x) #x
#define XS_STR(x) XS_STR_(x)

static void *arena_alloc(struct arena *a, size_t n)
{
	struct chunk *ch = a->cur;
	void *p;

	n = (n + 7) & ~(size_t)7;
	if (!ch || ch->size - ch->used < n) {
		if (ch && ch->next && ch->next->size >= n) {
			ch = ch->next;  /* kept from before a reset */
			ch->used = 0;
		} else {
			size_t size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
			struct chunk *nc = malloc(sizeof(*nc) + size);

			if (!nc)
				return NULL;
			nc->size = size;
			nc->used = 0;
			if (ch) {
				nc->next = ch->next;
				ch->next = nc;
			} else {
				nc->next = a->head;
				a->head = nc;
			}
			ch = nc;
		}
		a->cur = ch;
	}
	p = (char *)ch->data + ch->used;
	ch->used += n;
	return p;
}

static void tree_reset(struct tree *t)
{
	t->doc.nodes.top = t->doc.nodes.start;
	t->mem.cur = t->mem.head;
	if (t->mem.head)
		t->mem.head->used = 0;
}

static void tree_free(struct tree *t)
{
	for (struct chunk *ch = t->mem.head, *next; ch; ch = next) {
		next = ch->next;
		free(ch);
	}
	free(t->doc.nodes.start);
	free(t->memo);
	free(t->size);
}

static yaml_node_t *tnode(struct tree *t, int id)
{
	return &t->doc.nodes.start[id - 1];
}

/* A new node of t; its id, or 0 when out of memory. */
static int new_node(struct tree *t, yaml_node_type_t type, yaml_mark_t start, yaml_mark_t end)
{
	yaml_document_t *d = &t->doc;
	yaml_node_t *n;

	if (d->nodes.top == d->nodes.end) {
		size_t len = (size_t)(d->nodes.end - d->nodes.start), cap = len ? 2 * len : 256;

		if (cap > INT_MAX || !(n = reallocarray(d->nodes.start, cap, sizeof(*n))))
			return 0;
		d->nodes.start = n;
		d->nodes.top = n + len;
		d->nodes.end = n + cap;
	}
	if ((size_t)(d->nodes.top - d->nodes.start) >= t->cap_size) {
		size_t cap = (size_t)(d->nodes.end - d->nodes.start);
		size_t *z = reallocarray(t->size, cap, sizeof(*z));

		if (!z)
			return 0;
		t->size = z;
		t->cap_size = cap;
	}
	n = d->nodes.top++;
	t->size[n - d->nodes.start] = 1;
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->start_mark = start;
	n->end_mark = end;
	return (int)(d->nodes.top - d->nodes.start);
}

static int set_scalar(struct tree *t, int id, const yaml_char_t *v, size_t len, yaml_scalar_style_t style)
{
	yaml_char_t *s = arena_alloc(&t->mem, len + 1);
	yaml_node_t *n = tnode(t, id);

	if (!s)
		return -ENOMEM;
	memcpy(s, v, len);
	s[len] = 0;
	n->data.scalar.value = s;
	n->data.scalar.length = len;
	n->data.scalar.style = style;
	return 0;
}

static int push_kid(struct compose *k, int id)
{
	if (k->n_kids == k->cap_kids) {
		size_t cap = k->cap_kids ? 2 * k->cap_kids : 256;
		int *p = reallocarray(k->kids, cap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		k->kids = p;
		k->cap_kids = cap;
	}
	k->kids[k->n_kids++] = id;
	return 0;
}

/* Give collection id of t its children kids[base..] (keys and values for a mapping). */
static int finish_node(struct compose *k, struct tree *t, int id, size_t base)
{
	size_t n = k->n_kids - base;
	const int *kid = k->kids ? k->kids + base : NULL; /* no kids yet: NULL + 0 is UB */
	yaml_node_t *node = tnode(t, id);

	if (!n) { /* an empty collection: no items, no pairs */
		k->n_kids = base;
		return 0;
	}
	if (node->type == YAML_SEQUENCE_NODE) {
		yaml_node_item_t *it = arena_alloc(&t->mem, n * sizeof(*it));

		if (!it)
			return -ENOMEM;
		memcpy(it, kid, n * sizeof(*it));
		node->data.sequence.items.start = it;
		node->data.sequence.items.top = node->data.sequence.items.end = it + n;
	} else {
		yaml_node_pair_t *p = arena_alloc(&t->mem, n / 2 * sizeof(*p));

		if (!p)
			return -ENOMEM;
		for (size_t i = 0; i < n / 2; i++)
			p[i] = (yaml_node_pair_t){ kid[2 * i], kid[2 * i + 1] };
		node->data.mapping.pairs.start = p;
		node->data.mapping.pairs.top = node->data.mapping.pairs.end = p + n / 2;
	}
	k->n_kids = base;
	return 0;
}

/* t's entry for node id of the other tree; NULL when out of memory. */
static struct memo *memo_at(struct tree *t, int id)
{
	if ((size_t)id > t->n_memo) {
		size_t n = t->n_memo ? 2 * t->n_memo : 256;
		struct memo *m;

		if (n < (size_t)id)
			n = (size_t)id;
		if (!(m = reallocarray(t->memo, n, sizeof(*m))))
			return NULL;
		memset(m + t->n_memo, 0, (n - t->n_memo) * sizeof(*m));
		t->memo = m;
		t->n_memo = n;
	}
	return &t->memo[id - 1];
}

/* Node sid of the other tree, copied into tree dst (once); its id, or 0 when out of memory. */
static int copy_node(struct compose *k, int dst, int sid)
{
	struct tree *d = &k->t[dst], *s = &k->t[!dst];
	const yaml_node_t *sn = tnode(s, sid); /* s does not change while copying */
	struct memo *m = memo_at(d, sid);
	size_t base = k->n_kids;
	int id;

	if (!m)
		return 0;
	if (m->gen == k->gen)
		return m->id;
	if (!(id = new_node(d, sn->type, sn->start_mark, sn->end_mark)))
		return 0;
	*m = (struct memo){ id, k->gen };
	if (!(m = memo_at(s, id)))
		return 0;
	*m = (struct memo){ sid, k->gen };
	switch (sn->type) {
	case YAML_SCALAR_NODE:
		d->size[id - 1] = 1;
		return set_scalar(d, id, sn->data.scalar.value, sn->data.scalar.length,
				  sn->data.scalar.style) ? 0 : id;
	case YAML_SEQUENCE_NODE:
		tnode(d, id)->data.sequence.style = sn->data.sequence.style;
		for (const yaml_node_item_t *it = sn->data.sequence.items.start; it < sn->data.sequence.items.top; it++) {
			int kid = copy_node(k, dst, *it);

			if (!kid || push_kid(k, kid))
				return 0;
		}
		break;
	case YAML_MAPPING_NODE:
		tnode(d, id)->data.mapping.style = sn->data.mapping.style;
		for (const yaml_node_pair_t *p = sn->data.mapping.pairs.start; p < sn->data.mapping.pairs.top; p++) {
			int key = copy_node(k, dst, p->key), value = key ? copy_node(k, dst, p->value) : 0;

			if (!value || push_kid(k, key) || push_kid(k, value))
				return 0;
		}
		break;
	default:
		return 0;
	}
	d->size[id - 1] = s->size[sid - 1];
	return finish_node(k, d, id, base) ? 0 : id;
}

static uint64_t hash(const char *s)
{
	uint64_t h = 14695981039346656037u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211u;
	return h;
}

/* The slot of anchor name: its entry, or the free slot for it. */
static struct anchor *anchor_slot(struct compose *k, const char *name)
{
	size_t mask = k->cap_anchors - 1;

	for (size_t i = hash(name) & mask;; i = (i + 1) & mask)
		if (!k->anchors[i].name || !strcmp(k->anchors[i].name, name))
			return &k->anchors[i];
}

static int composer_error(struct ctx *c, const char *context, yaml_mark_t context_mark, const char *problem,
			  yaml_mark_t problem_mark)
{
	yaml_parser_t *parser = c->k->parser;

	/* what yaml_parser_load() reports */
	parser->error = YAML_COMPOSER_ERROR;
	parser->context = context;
	parser->context_mark = context_mark;
	parser->problem = problem;
	parser->problem_mark = problem_mark;
	return parse_error(c, parser);
}

static int add_anchor(struct ctx *c, const yaml_char_t *name, int tree, int id)
{
	struct compose *k = c->k;
	yaml_mark_t mark = tnode(&k->t[tree], id)->start_mark;
	struct anchor *a;
	char *copy;

	if (2 * (k->n_anchors + 1) > k->cap_anchors) {
		size_t cap = k->cap_anchors ? 2 * k->cap_anchors : 64;
		struct anchor *old = k->anchors, *new = calloc(cap, sizeof(*new));

		if (!new)
			return oom(c);
		k->anchors = new;
		k->cap_anchors = cap;
		for (size_t i = 0; i < cap / 2; i++)
			if (old && old[i].name)
				*anchor_slot(k, old[i].name) = old[i];
		free(old);
	}
	k->any_anchor = true;
	a = anchor_slot(k, (const char *)name);
	if (a->name)
		return composer_error(c, "found duplicate anchor; first occurrence", a->mark, "second occurrence", mark);
	if (!(copy = arena_alloc(&k->t[OUTER].mem, strlen((const char *)name) + 1)))
		return oom(c);
	strcpy(copy, (const char *)name);
	*a = (struct anchor){ copy, mark, tree, id };
	k->n_anchors++;
	if (tree == ITEM) {
		if (k->n_item_anchors == k->cap_item_anchors) {
			size_t cap = k->cap_item_anchors ? 2 * k->cap_item_anchors : 16;
			const char **p = reallocarray(k->item_anchors, cap, sizeof(*p));

			if (!p)
				return oom(c);
			k->item_anchors = p;
			k->cap_item_anchors = cap;
		}
		k->item_anchors[k->n_item_anchors++] = copy;
	}
	return 0;
}

static bool streamed(const struct ctx *c)
{
	return c->k && c->k->streamed;
}

static size_t n_streamed(const struct ctx *c)
{
	return streamed(c) ? c->k->n_streamed : 0;
}

static int start_items(struct ctx *c)
{
	struct compose *k = c->k;

	k->streamed = true;
	k->n_svcs = c->st->n_svcs;
	k->n_sets = c->st->n_sets;
	k->n_ids = c->st->n_ids;
	if (!(k->errors = open_memstream(&k->errors_buf, &k->errors_len)) ||
	    (c->notes && !(k->notes = open_memstream(&k->notes_buf, &k->notes_len))))
		return oom(c);
	return 0;
}

static void end_items(struct compose *k)
{
	if (k->errors)
		fclose(k->errors);
	if (k->notes)
		fclose(k->notes);
	free(k->errors_buf);
	free(k->notes_buf);
	k->errors = k->notes = NULL;
	k->errors_buf = k->notes_buf = NULL;
	k->streamed = false;
}

/* Take back what the items added: the object was not a List. */
static void drop_items(struct ctx *c)
{
	state_truncate(c->st, c->k->n_svcs, c->k->n_sets, c->k->n_ids);
	if (c->fc)
		c->fc->n_items = 0;
	end_items(c->k);
}

/* The List's items are good: pass on their notes, and their error if any. */
static int commit_items(struct ctx *c)
{
	struct compose *k = c->k;

	if (k->notes && (fflush(k->notes) || fwrite(k->notes_buf, 1, k->notes_len, c->notes) != k->notes_len))
		return oom(c);
	if (!k->items_err)
		return 0;
	if (fflush(k->errors))
		return oom(c);
	fwrite(k->errors_buf, 1, k->errors_len, c->errors);
	return k->items_err;
}

static int record_item(const struct ctx *c, const yaml_node_t *n, size_t svc0, size_t set0, size_t id0)
{
	struct file_cache *fc = c->fc;
	const struct state *st = c->st;
	struct item_span *it = grow(fc->items, &fc->cap_items, fc->n_items, sizeof(*it));

	if (!it)
		return -ENOMEM;
	fc->items = it;
	fc->items[fc->n_items++] = (struct item_span){
		.start = c->index_base + n->start_mark.index, .end = c->index_base + n->end_mark.index,
		.line = c->line_base + n->start_mark.line, .col = n->start_mark.column,
		.svc0 = svc0, .n_svc = st->n_svcs - svc0, .set0 = set0, .n_set = st->n_sets - set0,
		.id0 = id0, .n_id = st->n_ids - id0,
	};
	return 0;
}

/* The value of key in the root mapping so far (the streamed list's
 * siblings before it), or NULL. */
static const char *root_value(struct compose *k, const char *key)
{
	const struct frame *root = &k->frames[0], *items = &k->frames[k->n_frames - 1];

	for (size_t j = root->base; j + 1 < items->base; j += 2) {
		const yaml_node_t *kn = tnode(&k->t[OUTER], k->kids[j]), *v = tnode(&k->t[OUTER], k->kids[j + 1]);

		if (kn->type == YAML_SCALAR_NODE && v->type == YAML_SCALAR_NODE &&
		    !strcmp((const char *)kn->data.scalar.value, key))
			return (const char *)v->data.scalar.value;
	}
	return NULL;
}

/*
 * Item i of the streamed list is node id of tree: read it (until one fails).
 * A typed list's items carry no kind: when the list's kind came before its
 * items, they are read with it; when it comes after (YAML with sorted keys)
 * the first item without a kind and all later ones are composed into the
 * OUTER tree and read with the list (read_list).
 */
static int item_done(struct ctx *c, int tree, int id)
{
	struct compose *k = c->k;
	size_t i = k->n_items++;
	const char *list_kind = root_value(k, "kind"), *api = root_value(k, "apiVersion");
	bool has_kind;

	c->doc = &k->t[tree].doc;
	has_kind = find(c, tnode(&k->t[tree], id), "kind");
	c->doc = NULL;
	if (!list_kind && !has_kind) {
		int oid = tree == OUTER ? id : copy_node(k, OUTER, id);

		if (!oid || push_kid(k, oid))
			return oom(c);
		k->frames[k->n_frames - 1].kind = F_SEQ; /* the rest too */
		goto anchors;
	}
	k->n_streamed = k->n_items;
	if (list_kind && is_list(list_kind))
		set_item_kind(c, list_kind, api ?: "");
	else
		c->item_kind[0] = 0;
	if (!k->items_err) {
		FILE *notes = c->notes, *errors = c->errors;
		char p[64];

		size_t svc0 = c->st->n_svcs, set0 = c->st->n_sets, id0 = c->st->n_ids;

		c->doc = &k->t[tree].doc;
		c->notes = k->notes;
		c->errors = k->errors;
		k->items_err = read_object(c, tnode(&k->t[tree], id), at_index(p, sizeof(p), "", "items", i), false);
		c->notes = notes;
		c->errors = errors;
		c->doc = NULL;
		if (c->fc && !k->items_err && record_item(c, tnode(&k->t[tree], id), svc0, set0, id0))
			return oom(c);
	}
anchors:
	if (tree != ITEM)
		return 0;
	/* keep the item's anchored nodes for later aliases */
	for (size_t j = 0; j < k->n_item_anchors; j++) {
		struct anchor *a = anchor_slot(k, k->item_anchors[j]);

		if (!(a->id = copy_node(k, OUTER, a->id)))
			return oom(c);
		a->tree = OUTER;
	}
	k->n_item_anchors = 0;
	return 0;
}

/* Node id of tree is complete: a child of the open collection, or the root. */
static int attach(struct ctx *c, int tree, int id)
{
	struct compose *k = c->k;
	struct frame *top = k->n_frames ? &k->frames[k->n_frames - 1] : NULL;

	if (!top) {
		k->root = id;
		return 0;
	}
	if (top->kind == F_ITEMS)
		return item_done(c, tree, id);
	return push_kid(k, id) ? oom(c) : 0;
}

/* Does the value of the first "items" key of the root mapping start now? */
static bool items_value(struct compose *k, const struct frame *top)
{
	const yaml_node_t *key;

	if (!top || !top->root || (k->n_kids - top->base) % 2 == 0)
		return false;
	key = tnode(&k->t[OUTER], k->kids[k->n_kids - 1]);
	if (k->no_items || key->type != YAML_SCALAR_NODE || strcmp((const char *)key->data.scalar.value, "items") || k->seen_items)
		return false;
	k->seen_items = true;
	return true;
}

static int on_alias(struct ctx *c, const yaml_event_t *ev)
{
	struct compose *k = c->k;
	struct frame *top = k->n_frames ? &k->frames[k->n_frames - 1] : NULL;
	struct anchor *a = k->cap_anchors ? anchor_slot(k, (const char *)ev->data.alias.anchor) : NULL;
	int tree, id;

	items_value(k, top);
	k->any_anchor = true;
	if (!a || !a->name)
		return composer_error(c, NULL, ev->start_mark, "found undefined alias", ev->start_mark);
	k->n_aliased += k->t[a->tree].size[a->id - 1];
	if (k->n_aliased > XS_MAX_ALIASED + k->n_nodes)
		return composer_error(c, NULL, ev->start_mark,
				      "aliases expand the document by more than a million nodes beyond its own", ev->start_mark);
	if (top && top->kind == F_ITEMS)
		return item_done(c, a->tree, a->id); /* read in place */
	tree = top ? top->tree : OUTER;
	id = a->tree == tree ? a->id : copy_node(k, tree, a->id);
	return id ? attach(c, tree, id) : oom(c);
}

/* A scalar, or the start of a collection. */
static int on_node(struct ctx *c, const yaml_event_t *ev)
{
	struct compose *k = c->k;
	struct frame *top = k->n_frames ? &k->frames[k->n_frames - 1] : NULL;
	bool items = items_value(k, top);
	const yaml_char_t *anchor;
	yaml_node_type_t type;
	int tree, id, err;
	struct frame *f;

	if (++k->n_nodes && ev->type != YAML_SCALAR_EVENT && k->n_frames >= XS_MAX_DEPTH)
		return composer_error(c, NULL, ev->start_mark,
				      "nested deeper than " XS_STR(XS_MAX_DEPTH) " levels (no Kubernetes object is)",
				      ev->start_mark);
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		type = YAML_SCALAR_NODE;
		anchor = ev->data.scalar.anchor;
		break;
	case YAML_SEQUENCE_START_EVENT:
		type = YAML_SEQUENCE_NODE;
		anchor = ev->data.sequence_start.anchor;
		break;
	default:
		type = YAML_MAPPING_NODE;
		anchor = ev->data.mapping_start.anchor;
		break;
	}
	tree = !top ? OUTER : top->kind == F_ITEMS ? ITEM : top->tree;
	if (top && top->kind == F_ITEMS) {
		tree_reset(&k->t[ITEM]); /* a new item */
		k->gen++;
	}
	if (!(id = new_node(&k->t[tree], type, ev->start_mark, ev->end_mark)))
		return oom(c);
	if (anchor && (err = add_anchor(c, anchor, tree, id)))
		return err;
	if (type == YAML_SCALAR_NODE)
		return set_scalar(&k->t[tree], id, ev->data.scalar.value, ev->data.scalar.length,
				  ev->data.scalar.style) ? oom(c) : attach(c, tree, id);
	if (type == YAML_SEQUENCE_NODE)
		tnode(&k->t[tree], id)->data.sequence.style = ev->data.sequence_start.style;
	else
		tnode(&k->t[tree], id)->data.mapping.style = ev->data.mapping_start.style;

	if (k->n_frames == k->cap_frames) {
		size_t cap = k->cap_frames ? 2 * k->cap_frames : 32;

		if (!(f = reallocarray(k->frames, cap, sizeof(*f))))
			return oom(c);
		k->frames = f;
		k->cap_frames = cap;
	}
	f = &k->frames[k->n_frames++];
	*f = (struct frame){
		.id = id, .base = k->n_kids, .tree = tree,
		.kind = type == YAML_MAPPING_NODE ? F_MAP : items && !anchor ? F_ITEMS : F_SEQ,
		.root = !top && type == YAML_MAPPING_NODE && !anchor,
	};
	return f->kind == F_ITEMS ? start_items(c) : 0;
}

static int on_end(struct ctx *c, const yaml_event_t *ev)
{
	struct compose *k = c->k;
	struct frame f = k->frames[--k->n_frames];
	struct tree *t = &k->t[f.tree];

	tnode(t, f.id)->end_mark = ev->end_mark;
	for (size_t i = f.base; i < k->n_kids; i++) /* saturating: aliases of aliases grow fast */
		t->size[f.id - 1] += t->size[k->kids[i] - 1] < XS_MAX_ALIASED ? t->size[k->kids[i] - 1] : XS_MAX_ALIASED;
	if (t->size[f.id - 1] > XS_MAX_ALIASED)
		t->size[f.id - 1] = XS_MAX_ALIASED;
	if (finish_node(k, t, f.id, f.base)) /* an empty list stands for streamed items */
		return oom(c);
	return attach(c, f.tree, f.id);
}

/* The document is complete: read it. */
static int read_root(struct ctx *c)
{
	struct compose *k = c->k;
	yaml_node_t *root = tnode(&k->t[OUTER], k->root), *kind;
	int err;

	c->doc = &k->t[OUTER].doc;
	if (c->item_idx >= 0) { /* an item of a List, read on its own */
		char p[64];

		err = read_object(c, root, at_index(p, sizeof(p), "", "items", (size_t)c->item_idx), false);
		c->doc = NULL;
		return err;
	}
	kind = find(c, root, "kind");
	c->item_kind[0] = 0;
	if (k->streamed && !(kind && kind->type == YAML_SCALAR_NODE && is_list(sval(kind))))
		drop_items(c);
	k->was_list = k->streamed;
	err = is_null(root) ? 0 : read_object(c, root, "", true);
	c->doc = NULL;
	return err;
}

/* One document, after its DOCUMENT-START event. */
static int read_document(struct ctx *c)
{
	struct compose *k = c->k;
	int err = 0;

	tree_reset(&k->t[OUTER]);
	tree_reset(&k->t[ITEM]);
	k->gen++;
	if (k->n_anchors)
		memset(k->anchors, 0, k->cap_anchors * sizeof(*k->anchors));
	k->n_anchors = k->n_item_anchors = 0;
	k->n_frames = k->n_kids = 0;
	k->root = 0;
	k->seen_items = false;
	k->n_items = k->n_streamed = 0;
	k->n_nodes = k->n_aliased = 0;
	k->items_err = 0;
	while (!err) {
		yaml_event_t ev;

		if (!yaml_parser_parse(k->parser, &ev))
			return parse_error(c, k->parser);
		switch (ev.type) {
		case YAML_ALIAS_EVENT:
			err = on_alias(c, &ev);
			break;
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			err = on_node(c, &ev);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			err = on_end(c, &ev);
			break;
		default: /* DOCUMENT-END */
			yaml_event_delete(&ev);
			return read_root(c);
		}
		yaml_event_delete(&ev);
	}
	return err;
}

struct stream_info {
	size_t n_docs;
	bool any_anchor, was_list;
};

/* Every document of the parser's input. */
static int read_stream(struct ctx *c, yaml_parser_t *parser, bool no_items, struct stream_info *info)
{
	struct compose k = { .parser = parser, .no_items = no_items };
	int err = 0;

	c->k = &k;
	while (!err) {
		yaml_event_t ev;
		yaml_event_type_t type;

		if (!yaml_parser_parse(parser, &ev)) {
			err = parse_error(c, parser);
			break;
		}
		type = ev.type;
		yaml_event_delete(&ev);
		if (type == YAML_STREAM_END_EVENT)
			break;
		if (type == YAML_DOCUMENT_START_EVENT) {
			k.n_docs++;
			err = read_document(c);
			end_items(&k);
		}
	}
	c->k = NULL;
	end_items(&k);
	if (info)
		*info = (struct stream_info){ k.n_docs, k.any_anchor, k.was_list };
	tree_free(&k.t[OUTER]);
	tree_free(&k.t[ITEM]);
	free(k.frames);
	free(k.kids);
	free(k.anchors);
	free(k.item_anchors);
	return err;
}

static int read_file(struct ctx *c, const char *path)
{
	bool is_stdin = !strcmp(path, "-");
	FILE *f = is_stdin ? stdin : fopen(path, "r");
	yaml_parser_t parser;
	int err;

	c->file = is_stdin ? "<stdin>" : path;
	if (!f) {
		err = -errno;
		fprintf(c->errors, "%s: %s\n", path, strerror(errno));
		return err;
	}
	if (!is_stdin && !c->no_split) { /* a big file: in memory, maybe in two halves */
		struct stat sb;

		if (!fstat(fileno(f), &sb) && S_ISREG(sb.st_mode) && (size_t)sb.st_size >= XS_SPLIT_MIN) {
			struct stream_info info;
			char *buf = NULL;
			size_t cap = 0, len;

			fclose(f);
			err = slurp(path, &buf, &cap, &len, c->errors) ?: read_whole(c, buf, len, &info);
			free(buf);
			return err;
		}
	}
	if (!yaml_parser_initialize(&parser)) {
		err = oom(c);
	} else {
		yaml_parser_set_input_file(&parser, f);
		err = read_stream(c, &parser, false, NULL);
		yaml_parser_delete(&parser);
	}
	if (!is_stdin)
		fclose(f);
	return err;
}

/* Bytes in memory (watch's cache): the whole file, or one item of a List. */
static int read_buffer(struct ctx *c, const char *buf, size_t len, bool item, struct stream_info *info)
{
	yaml_parser_t parser;
	int err;

	if (!yaml_parser_initialize(&parser))
		return oom(c);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	err = read_stream(c, &parser, item, info);
	yaml_parser_delete(&parser);
	return err;
}

/*
 * --- a big JSON List read by two threads
 *
 * libyaml reads about 60 MB/s; a node has more than one core. A JSON file
 * (strictly JSON: a stray YAML construct and it is read the usual way) whose
 * top-level object has an "items" array is cut at the element boundary
 * nearest its middle into two documents that read exactly as the whole:
 * the file without the second half's items, and a List of those items. Each
 * is read by its own thread into its own records, which are then joined in
 * file order. Any error, and a join error later, means the file is read
 * again the usual way, so that messages are exactly those of one read.
 */

static size_t count_lines(const char *b, size_t n)
{
	size_t lines = 0;

	for (const char *p = b, *end = b + n; (p = memchr(p, '\n', (size_t)(end - p))); p++)
		lines++;
	return lines;
}

unsigned long xs_config_split_reads;

struct json_cut {
	size_t end_prev;   /* the first half's items end here ... */
	size_t close;      /* ... and the file resumes at the array's "]" */
	size_t start_next; /* the second half's items: [start_next, close) */
};

static bool json_cut(const char *b, size_t len, struct json_cut *cut)
{
	size_t depth = 0, i = 0, key_start = 0, key_len = 0, last_end = 0;
	bool items = false, want_items = false, found = false;

	while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
		i++;
	if (i == len || b[i] != '{')
		return false;
	memset(cut, 0, sizeof(*cut));
	for (; i < len; i++) {
		char ch = b[i];

		switch (ch) {
		case '"': {
			size_t start = ++i;

			if (want_items)
				return false;
			for (;;) { /* the closing quote: one not escaped by an odd run of backslashes */
				const char *q = memchr(b + i, '"', len - i);
				size_t bs = 0;

				if (!q)
					return false;
				i = (size_t)(q - b);
				while (i - bs > start && b[i - bs - 1] == '\\')
					bs++;
				if (!(bs & 1))
					break;
				i++;
			}
			key_start = start;
			key_len = i - start;
			last_end = i + 1;
			break;
		}
		case '{':
		case '[':
			if (want_items) {
				if (ch != '[')
					return false;
				items = true;
				want_items = false;
			}
			depth++;
			break;
		case '}':
		case ']':
			if (!depth)
				return false;
			if (items && depth == 2) { /* the items array closes */
				if (ch != ']')
					return false;
				items = false;
				cut->close = i;
				if (!found)
					return false;
			}
			depth--;
			last_end = i + 1;
			if (!depth) { /* only white space may follow */
				for (size_t j = i + 1; j < len; j++)
					if (b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r')
						return false;
				return cut->close != 0;
			}
			break;
		case ':':
			if (depth == 1 && !cut->close && !items && key_len == 5 && !memcmp(b + key_start, "items", 5) &&
			    !found)
				want_items = true;
			break;
		case ',':
			if (items && depth == 2 && !found && i >= len / 2) {
				size_t j = i + 1;

				while (j < len && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r'))
					j++;
				cut->end_prev = last_end;
				cut->start_next = j;
				found = true;
			}
			break;
		case ' ': case '\t': case '\n': case '\r':
			break;
		default: /* numbers, true, false, null */
			if (!(ch == '-' || ch == '+' || ch == '.' || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
			      ch == 'E'))
				return false;
			last_end = i + 1;
			if (want_items)
				return false;
		}
	}
	return false; /* unbalanced */
}

/* A document made of pieces of the file, read without copying them. */
struct pieces {
	const char *p[3];
	size_t n[3];
	int i;
};

static int read_pieces(void *data, unsigned char *buf, size_t size, size_t *got)
{
	struct pieces *ps = data;

	*got = 0;
	while (ps->i < 3 && *got < size) {
		size_t k = ps->n[ps->i] < size - *got ? ps->n[ps->i] : size - *got;

		if (!k) { /* an empty piece (or none) */
			ps->i++;
			continue;
		}
		memcpy(buf + *got, ps->p[ps->i], k);
		*got += k;
		ps->p[ps->i] += k;
		if (!(ps->n[ps->i] -= k))
			ps->i++;
	}
	return 1;
}

struct half {
	struct ctx c;
	struct state st;
	struct file_cache fc;
	struct pieces doc;
	char *notes_buf, *errors_buf;
	size_t notes_len, errors_len;
	struct stream_info info;
	int err;
};

static void *read_half(void *arg)
{
	struct half *h = arg;

	yaml_parser_t parser;

	if (!yaml_parser_initialize(&parser)) {
		h->err = oom(&h->c);
		return NULL;
	}
	yaml_parser_set_input(&parser, read_pieces, &h->doc);
	h->err = read_stream(&h->c, &parser, false, &h->info);
	yaml_parser_delete(&parser);
	return NULL;
}

/* Append the records (and item spans) of half h to c's. */
static int join_half(struct ctx *c, struct half *h)
{
	struct state *st = c->st;
	size_t svc0 = st->n_svcs, set0 = st->n_sets, id0 = st->n_ids;

	if (h->st.n_svcs) {
		struct svc *v = grow(st->svcs, &st->cap_svcs, st->n_svcs + h->st.n_svcs - 1, sizeof(*v));

		if (!v)
			return -ENOMEM;
		st->svcs = v;
		memcpy(v + st->n_svcs, h->st.svcs, h->st.n_svcs * sizeof(*v));
		st->n_svcs += h->st.n_svcs;
	}
	if (h->st.n_sets) {
		struct ep_set *v = grow(st->sets, &st->cap_sets, st->n_sets + h->st.n_sets - 1, sizeof(*v));

		if (!v)
			return -ENOMEM;
		st->sets = v;
		memcpy(v + st->n_sets, h->st.sets, h->st.n_sets * sizeof(*v));
		st->n_sets += h->st.n_sets;
	}
	if (h->st.n_ids) {
		struct ident *v = grow(st->ids, &st->cap_ids, st->n_ids + h->st.n_ids - 1, sizeof(*v));

		if (!v)
			return -ENOMEM;
		st->ids = v;
		memcpy(v + st->n_ids, h->st.ids, h->st.n_ids * sizeof(*v));
		st->n_ids += h->st.n_ids;
	}
	h->st.n_svcs = h->st.n_sets = h->st.n_ids = 0; /* moved */
	for (size_t i = 0; c->fc && i < h->fc.n_items; i++) {
		struct item_span *it = grow(c->fc->items, &c->fc->cap_items, c->fc->n_items, sizeof(*it));

		if (!it)
			return -ENOMEM;
		c->fc->items = it;
		it = &c->fc->items[c->fc->n_items++];
		*it = h->fc.items[i];
		it->svc0 += svc0;
		it->set0 += set0;
		it->id0 += id0;
	}
	return 0;
}

/* 1: b was read (into c's records), 0: not (read it the usual way), <0: out of memory. */
static int read_split(struct ctx *c, const char *b, size_t len, struct stream_info *info)
{
	static const char list[] = "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [";
	struct half h[2] = {};
	struct json_cut cut;
	pthread_t tid;
	int ret = 0;

	if (c->no_split || len < XS_SPLIT_MIN || getenv("XDPSVC_NO_SPLIT") || !json_cut(b, len, &cut))
		return 0;
	/* the file without the second half's items; a List of them */
	h[0].doc = (struct pieces){ { b, b + cut.close }, { cut.end_prev, len - cut.close }, 0 };
	h[1].doc = (struct pieces){ { list, b + cut.start_next, "]}" },
				    { sizeof(list) - 1, cut.close - cut.start_next, 2 }, 0 };
	for (int i = 0; i < 2; i++) {
		h[i].c = *c;
		h[i].c.st = &h[i].st;
		h[i].c.fc = c->fc ? &h[i].fc : NULL;
		h[i].c.k = NULL;
		h[i].c.errors = open_memstream(&h[i].errors_buf, &h[i].errors_len);
		h[i].c.notes = c->notes ? open_memstream(&h[i].notes_buf, &h[i].notes_len) : NULL;
		if (!h[i].c.errors || (c->notes && !h[i].c.notes))
			ret = -ENOMEM;
	}
	h[1].c.line_base = count_lines(b, cut.start_next);
	h[1].c.index_base = cut.start_next - (sizeof(list) - 1);
	if (ret)
		goto out;
	if (pthread_create(&tid, NULL, read_half, &h[1])) {
		ret = 0;
		goto out;
	}
	read_half(&h[0]);
	pthread_join(tid, NULL);
	for (int i = 0; i < 2; i++) {
		if (h[i].c.errors)
			fclose(h[i].c.errors);
		if (h[i].c.notes)
			fclose(h[i].c.notes);
		h[i].c.errors = h[i].c.notes = NULL;
	}
	if (h[0].err || h[1].err || !h[0].info.was_list || !h[1].info.was_list || h[0].info.n_docs != 1 ||
	    h[1].info.n_docs != 1)
		goto out; /* read again, the usual way */
	if (join_half(c, &h[0]) || join_half(c, &h[1])) {
		ret = -ENOMEM;
		goto out;
	}
	if (c->notes) {
		fwrite(h[0].notes_buf, 1, h[0].notes_len, c->notes);
		fwrite(h[1].notes_buf, 1, h[1].notes_len, c->notes);
	}
	*info = (struct stream_info){ 1, h[0].info.any_anchor || h[1].info.any_anchor, true };
	c->split = true;
	xs_config_split_reads++;
	ret = 1;
out:
	for (int i = 0; i < 2; i++) {
		if (h[i].c.errors)
			fclose(h[i].c.errors);
		if (h[i].c.notes)
			fclose(h[i].c.notes);
		free(h[i].notes_buf);
		free(h[i].errors_buf);
		free(h[i].fc.items);
		state_truncate(&h[i].st, 0, 0, 0);
		free(h[i].st.svcs);
		free(h[i].st.sets);
		free(h[i].st.ids);
	}
	return ret;
}

/* A whole file in memory: in two halves when it can, else the usual way. */
static int read_whole(struct ctx *c, const char *b, size_t len, struct stream_info *info)
{
	int r = read_split(c, b, len, info);

	return r < 0 ? oom(c) : r ? 0 : read_buffer(c, b, len, false, info);
}

/* --- the join */

static int set_cmp(const void *a, const void *b)
{
	const struct ep_set *x = *(const struct ep_set *const *)a, *y = *(const struct ep_set *const *)b;
	int r = strcmp(x->ns, y->ns);

	return r ? r : strcmp(x->svc, y->svc);
}

struct fe_ref {
	const struct xs_frontend *fe;
	const struct origin *at;
};

static int fe_ref_cmp(const void *a, const void *b)
{
	const struct fe_ref *x = a, *y = b;
	int r = xs_frontend_cmp(x->fe, y->fe);

	return r ? r : (x->fe > y->fe) - (x->fe < y->fe); /* then load order */
}

/* Which of two frontends on one address:port/protocol is served: a cluster
 * IP's, else the first Service by namespace and name, and in one Service its
 * first address (cluster IP, externalIPs, load-balancer IPs, NodePorts). */
static bool fe_wins(const struct xs_frontend *x, const struct xs_frontend *y)
{
	int r;

	if ((x->scope == XS_SCOPE_CLUSTER) != (y->scope == XS_SCOPE_CLUSTER))
		return x->scope == XS_SCOPE_CLUSTER;
	r = strcmp(x->ns, y->ns) ?: strcmp(x->name, y->name);
	return r ? r < 0 : x < y;
}

/*
 * Frontends on one address:port/protocol. Two cluster IPs', or two
 * NodePorts of different Services, cannot be (the API server allocates
 * them): an error on the later one. Otherwise (an external or load-balancer
 * IP also claimed elsewhere, which the API allows and kube-proxy programs)
 * one is served (fe_wins) and the others are dropped, with a note when they
 * are another Service's.
 */
static int check_duplicates(struct ctx *c, struct xs_model *m, struct fe_ref *refs)
{
	char vip[XS_ADDR_STRLEN];
	bool *drop = NULL;
	size_t n = 0;

	qsort(refs, m->n, sizeof(*refs), fe_ref_cmp);
	for (size_t g = 0, e; g < m->n; g = e) {
		const struct fe_ref *win = &refs[g];

		for (e = g + 1; e < m->n && !xs_frontend_cmp(refs[g].fe, refs[e].fe); e++)
			if (fe_wins(refs[e].fe, win->fe))
				win = &refs[e];
		for (size_t i = g, cluster = e, nodeport = e; i < e; i++) { /* in load order */
			const struct fe_ref *a = NULL, *b = &refs[i];

			if (b->fe->scope == XS_SCOPE_CLUSTER && cluster < e)
				a = &refs[cluster];
			else if (b->fe->scope == XS_SCOPE_NODEPORT && nodeport < e &&
				 (strcmp(refs[nodeport].fe->ns, b->fe->ns) || strcmp(refs[nodeport].fe->name, b->fe->name)))
				a = &refs[nodeport];
			if (b->fe->scope == XS_SCOPE_CLUSTER && cluster == e)
				cluster = i;
			if (b->fe->scope == XS_SCOPE_NODEPORT && nodeport == e)
				nodeport = i;
			if (!a)
				continue;
			fprintf(c->errors,
				"%s:%zu:%zu: Service %s/%s: spec.ports[%zu]: %s:%u/%s is already the frontend of Service %s/%s port \"%s\" (%s:%zu)\n",
				b->at->file, b->at->line, b->at->col, b->fe->ns, b->fe->name, b->at->idx,
				xs_addr_str(&b->fe->vip, vip), b->fe->port, xs_proto_name(b->fe->proto), a->fe->ns,
				a->fe->name, a->fe->port_name, a->at->file, a->at->line);
			free(drop);
			return -EINVAL;
		}
		for (size_t i = g; i < e; i++) {
			const struct xs_frontend *fe = refs[i].fe;

			if (&refs[i] == win)
				continue;
			if (!drop && !(drop = calloc(m->n, sizeof(*drop))))
				return oom(c);
			drop[fe - m->fe] = true;
			if (c->notes && (strcmp(fe->ns, win->fe->ns) || strcmp(fe->name, win->fe->name))) {
				struct ctx o = *c;
				char detail[400];

				o.kind = "Service";
				o.ns = fe->ns;
				o.name = fe->name;
				snprintf(detail, sizeof(detail), "spec.ports[%zu]: %s:%u/%s (%s) is served as Service %s/%s's",
					 refs[i].at->idx, xs_addr_str(&fe->vip, vip), fe->port, xs_proto_name(fe->proto),
					 xs_scope_name(fe->scope), win->fe->ns, win->fe->name);
				note_record(c->notes, "an address also claimed by another Service", refs[i].at->file,
					    refs[i].at->line, &o, detail);
			}
		}
	}
	if (!drop)
		return 0;
	c->shadowed = true;
	for (size_t i = 0; i < m->n; i++) {
		if (!drop[i]) {
			m->fe[n++] = m->fe[i];
			continue;
		}
		free(m->fe[i].backends);
		free(m->fe[i].terminating);
		free(m->fe[i].src_ranges);
	}
	m->n = n;
	free(drop);
	return 0;
}

static int ident_cmp(const void *a, const void *b)
{
	const struct ident *x = *(const struct ident *const *)a, *y = *(const struct ident *const *)b;
	int r = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);

	if (!r)
		r = (x->len > y->len) - (x->len < y->len);
	return r ? r : (x > y) - (x < y); /* then read order */
}

/* One object per kind, namespace and name: the same one twice is an error,
 * on the later copy. Fills opts->info. */
static int check_idents(struct ctx *c)
{
	const struct state *st = c->st;
	const struct ident **v = malloc((st->n_ids ?: 1) * sizeof(*v));
	const struct ident *dup = NULL, *first = NULL;
	size_t services = 0;

	if (!v)
		return oom(c);
	for (size_t i = 0; i < st->n_ids; i++) {
		v[i] = &st->ids[i];
		services += !strcmp(v[i]->key, "Service");
	}
	qsort(v, st->n_ids, sizeof(*v), ident_cmp);
	for (size_t i = 1; i < st->n_ids && !dup; i++)
		if (v[i]->len == v[i - 1]->len && !memcmp(v[i]->key, v[i - 1]->key, v[i]->len) &&
		    (v[i]->file_no != v[i - 1]->file_no || v[i]->at != v[i - 1]->at)) /* not one node, aliased */
			dup = v[i], first = v[i - 1];
	free(v);
	if (dup) {
		const char *ns = dup->key + strlen(dup->key) + 1, *name = ns + strlen(ns) + 1;

		fprintf(c->errors, "%s: %s ", name + strlen(name) + 1, dup->key);
		put_clean(c->errors, ns, XS_QUOTE_MAX);
		fputc('/', c->errors);
		put_clean(c->errors, name, XS_QUOTE_MAX);
		fprintf(c->errors, ": the same object is already at %s (the API has one object per kind, namespace and name)\n",
			first->key + first->len + 1);
		return -EINVAL;
	}
	if (c->opts->info)
		*c->opts->info = (struct xs_config_info){ .services = services, .objects = st->n_ids };
	return 0;
}

/* Does set s feed Service port sp? Returns the backend port, or 0. */
static uint16_t set_port(const struct ep_set *s, const struct svc_port *sp)
{
	for (size_t i = 0; i < s->n_ports; i++)
		if (s->ports[i].port && s->ports[i].proto == sp->proto && !strcmp(s->ports[i].name, sp->name))
			return s->ports[i].port;
	return 0;
}

/*
 * The endpoints of one frontend (kube-proxy's pkg/proxy/topology.go): the
 * ready ones of the Service port — with a Local traffic policy only those on
 * this node; cluster-wide only those hinted for this node's zone when every
 * ready one has hints and some name the zone. With none, the serving and
 * terminating ones serve (the fallback). Endpoints that do not serve but are
 * serving (terminating, or ready elsewhere) keep their established flows.
 */
static int fill_endpoints(struct xs_frontend *fe, const struct ep_set *const *sets, size_t n_sets, bool slices,
			  const struct svc_port *sp, bool local)
{
	size_t n = 0, n_ready = 0;
	bool all_hinted = true, any_zone = false, by_zone, all_node_hinted = true, any_node = false, by_node;

	for (size_t k = 0; k < n_sets; k++)
		if (sets[k]->legacy != slices && sets[k]->ipv4 && set_port(sets[k], sp)) {
			n += sets[k]->n_eps;
			for (size_t e = 0; e < sets[k]->n_eps; e++) {
				const struct ep *ep = &sets[k]->eps[e];

				if (!ep->ready || (local && !ep->local))
					continue;
				n_ready++;
				all_hinted &= ep->hinted;
				any_zone |= ep->for_zone;
				all_node_hinted &= ep->node_hinted;
				any_node |= ep->for_node;
			}
		}
	if (n && (!(fe->backends = calloc(n, sizeof(*fe->backends))) ||
		  !(fe->terminating = calloc(n, sizeof(*fe->terminating)))))
		return -ENOMEM;
	/* PreferSameNode before PreferSameZone (topologyModeFromHints) */
	by_node = !local && n_ready && all_node_hinted && any_node;
	by_zone = !local && !by_node && n_ready && all_hinted && any_zone;
	for (size_t k = 0; k < n_sets; k++) {
		const struct ep_set *set = sets[k];
		uint16_t port = set->legacy != slices && set->ipv4 ? set_port(set, sp) : 0;

		for (size_t e = 0; port && e < set->n_eps; e++) {
			const struct ep *ep = &set->eps[e];
			struct xs_backend_addr ba = { ep->addr, port };
			bool mine = !local || ep->local;

			if (ep->ready && mine && (by_node ? ep->for_node : !by_zone || ep->for_zone))
				fe->backends[fe->n_backends++] = ba;
			else if (ep->ready || ep->serving_terminating)
				fe->terminating[fe->n_terminating++] = ba;
		}
	}
	if (!fe->n_backends) { /* the fallback: serving and terminating ones, mine */
		for (size_t k = 0; k < n_sets; k++) {
			const struct ep_set *set = sets[k];
			uint16_t port = set->legacy != slices && set->ipv4 ? set_port(set, sp) : 0;

			for (size_t e = 0; port && e < set->n_eps; e++)
				if (set->eps[e].serving_terminating && (!local || set->eps[e].local))
					fe->backends[fe->n_backends++] = (struct xs_backend_addr){ set->eps[e].addr, port };
		}
	}
	return 0;
}

static bool in_cidr(const struct xs_cidr *r, const struct xs_addr *a)
{
	uint32_t mask = r->len ? htonl(~0U << (32 - r->len)) : 0;

	return xs_addr_is_v4(a) && !((a->v4.s_addr ^ r->addr.v4.s_addr) & mask);
}

/*
 * The sources an LB frontend with loadBalancerSourceRanges allows: the
 * ranges and, when one of them holds an address of this node, the Service's
 * load-balancer IPs themselves (kube-proxy's allowFromNode: a node reaching
 * its own LB IP may come back from the load balancer with that source).
 */
static int lb_source_ranges(const struct ctx *c, const struct svc *s, struct xs_frontend *fe)
{
	bool from_node = false;
	size_t n = s->n_ranges;

	for (size_t i = 0; i < s->n_ranges && !from_node; i++)
		for (size_t j = 0; j < c->opts->n_nodeport_addrs && !from_node; j++)
			from_node = in_cidr(&s->ranges[i], &c->opts->nodeport_addrs[j]);
	if (!(fe->src_ranges = malloc((s->n_ranges + (from_node ? s->n_vips : 0)) * sizeof(*fe->src_ranges))))
		return -ENOMEM;
	memcpy(fe->src_ranges, s->ranges, s->n_ranges * sizeof(*s->ranges));
	for (size_t v = 0; from_node && v < s->n_vips; v++)
		if (s->vips[v].scope == XS_SCOPE_LB)
			fe->src_ranges[n++] = (struct xs_cidr){ s->vips[v].addr, 32 };
	fe->n_src_ranges = n;
	return 0;
}

/* The frontends of Services svcs, from the sets by_svc (sorted by set_cmp). */
static int build_from(struct ctx *c, const struct svc *const *svcs, size_t n_svcs,
		      const struct ep_set *const *by_svc, size_t n_sets, struct xs_model *out)
{
	struct fe_ref *refs;
	size_t total = 0;
	int err;

	for (size_t i = 0; i < n_svcs; i++)
		for (size_t j = 0; j < svcs[i]->n_ports; j++)
			total += 1 + svcs[i]->n_vips +
				 (svcs[i]->ports[j].node_port ? c->opts->n_nodeport_addrs : 0);
	if (!total)
		return 0;
	out->fe = calloc(total, sizeof(*out->fe));
	refs = calloc(total, sizeof(*refs));
	if (!out->fe || !refs) {
		free(refs);
		return oom(c);
	}
	for (size_t i = 0; i < n_svcs; i++) {
		const struct svc *s = svcs[i];
		size_t lo = 0, hi = n_sets;
		bool slices = false;

		/* [lo, hi): the sets of this Service */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int r = strcmp(by_svc[mid]->ns, s->ns);

			if ((r ? r : strcmp(by_svc[mid]->svc, s->name)) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (hi = lo; hi < n_sets && !strcmp(by_svc[hi]->ns, s->ns) &&
			      !strcmp(by_svc[hi]->svc, s->name); hi++)
			slices |= !by_svc[hi]->legacy;

		/* this Service's sets (by_svc is NULL without any) */
		const struct ep_set *const *sets = by_svc ? by_svc + lo : NULL;

		for (size_t j = 0; j < s->n_ports; j++) {
			const struct svc_port *sp = &s->ports[j];
			struct xs_frontend *fe = &out->fe[out->n];

			refs[out->n++] = (struct fe_ref){ fe, &sp->at };
			strcpy(fe->ns, s->ns);
			strcpy(fe->name, s->name);
			strcpy(fe->port_name, sp->name);
			fe->proto = sp->proto;
			fe->vip = s->vip;
			fe->port = sp->port;
			fe->flags = (s->internal_local ? XS_SVC_F_NO_REJECT : 0) | (s->affinity_s ? XS_SVC_F_AFFINITY : 0);
			fe->affinity_s = s->affinity_s;
			if ((err = fill_endpoints(fe, sets, hi - lo, slices, sp, s->internal_local))) {
				free(refs);
				return oom(c);
			}
			/* The same port on the Service's other addresses. */
			err = 0;
			for (size_t v = 0; v < s->n_vips + (sp->node_port ? c->opts->n_nodeport_addrs : 0); v++) {
				struct xs_frontend *more = &out->fe[out->n];
				bool np = v >= s->n_vips;

				refs[out->n++] = (struct fe_ref){ more, &sp->at };
				*more = *fe;
				more->backends = more->terminating = NULL;
				more->n_backends = more->n_terminating = 0;
				more->vip = np ? c->opts->nodeport_addrs[v - s->n_vips] : s->vips[v].addr;
				more->scope = np ? XS_SCOPE_NODEPORT : s->vips[v].scope;
				more->flags = (s->external_local ? XS_SVC_F_NO_REJECT : 0) |
					      (s->affinity_s ? XS_SVC_F_AFFINITY : 0);
				if (np)
					more->port = sp->node_port;
				more->src_ranges = NULL;
				more->n_src_ranges = 0;
				if (more->scope == XS_SCOPE_LB && s->n_ranges) {
					more->flags |= XS_SVC_F_SRC_RANGES;
					if ((err = lb_source_ranges(c, s, more)))
						break;
				}
				if ((err = fill_endpoints(more, sets, hi - lo, slices, sp, s->external_local)))
					break;
			}
			if (err) {
				free(refs);
				return oom(c);
			}
		}
	}
	err = check_duplicates(c, out, refs);
	free(refs);
	return err;
}

/* Set pointers, sorted by Service; NULL (and -ENOMEM) or the array. */
static const struct ep_set **sets_by_svc(struct ep_set *sets, size_t n, bool (*pick)(const struct ep_set *, void *),
					 void *arg, size_t *n_out)
{
	const struct ep_set **by_svc = malloc((n ?: 1) * sizeof(*by_svc));

	*n_out = 0;
	if (!by_svc)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!pick || pick(&sets[i], arg))
			by_svc[(*n_out)++] = &sets[i];
	if (*n_out > 1)
		qsort(by_svc, *n_out, sizeof(*by_svc), set_cmp);
	return by_svc;
}

static int build(struct ctx *c, struct xs_model *out)
{
	const struct state *st = c->st;
	const struct svc **svcs = malloc((st->n_svcs ?: 1) * sizeof(*svcs));
	size_t n_sets;
	const struct ep_set **by_svc = sets_by_svc(st->sets, st->n_sets, NULL, NULL, &n_sets);
	int err;

	if (!svcs || !by_svc) {
		err = oom(c);
	} else if (!(err = check_idents(c))) {
		for (size_t i = 0; i < st->n_svcs; i++)
			svcs[i] = &st->svcs[i];
		err = build_from(c, svcs, st->n_svcs, by_svc, n_sets, out);
	}
	free(svcs);
	free(by_svc);
	return err;
}

static int build_touched(struct ctx *c, struct xs_config_cache *cache);

/* build(), or with a cache build_touched(), with its messages dropped: the
 * reading that follows a failure reports them. */
static int build_quietly(struct ctx *c, struct xs_config_cache *cache, struct xs_model *out)
{
	FILE *errors = c->errors;
	int err;

	c->errors = fopen("/dev/null", "w");
	err = !c->errors ? -ENOMEM : cache ? build_touched(c, cache) : build(c, out);
	if (c->errors)
		fclose(c->errors);
	c->errors = errors;
	return err;
}

static void svc_free(struct svc *s)
{
	free(s->ports);
	free(s->vips);
	free(s->ranges);
}

static void set_free(struct ep_set *s)
{
	free(s->eps);
	free(s->ports);
}

/* Take back the records added after the first n_svcs and n_sets. */
static void state_truncate(struct state *st, size_t n_svcs, size_t n_sets, size_t n_ids)
{
	while (st->n_ids > n_ids)
		free(st->ids[--st->n_ids].key);
	while (st->n_svcs > n_svcs)
		svc_free(&st->svcs[--st->n_svcs]);
	while (st->n_sets > n_sets)
		set_free(&st->sets[--st->n_sets]);
}

static void state_free(struct state *st)
{
	state_truncate(st, 0, 0, 0);
	free(st->svcs);
	free(st->sets);
	free(st->ids);
	memset(st, 0, sizeof(*st));
}

static struct ctx ctx_init(const struct xs_config_opts *opts, struct state *st)
{
	static const struct xs_config_opts none;

	return (struct ctx){
		.opts = opts ? opts : &none,
		.notes = opts ? opts->notes : NULL,
		.errors = opts && opts->errors ? opts->errors : stderr,
		.st = st,
		.file = "xdpsvc",
		.item_idx = -1,
	};
}

/* The load's notes are records until notes_end() prints them (print_notes). */
struct notes {
	FILE *out;
	char *buf;
	size_t len;
};

static void notes_begin(struct ctx *c, struct notes *n)
{
	*n = (struct notes){ .out = c->notes };
	if (c->notes && !(c->notes = open_memstream(&n->buf, &n->len)))
		n->out = NULL; /* out of memory: no notes */
}

static void notes_end(struct ctx *c, struct notes *n)
{
	if (n->out) {
		fclose(c->notes);
		print_notes(n->out, n->buf, n->len);
	}
	free(n->buf);
	c->notes = n->out;
}

static int load(struct ctx *c, const char *const *files, int nfiles, struct xs_model *out);

int xs_config_load(const char *const *files, int nfiles, const struct xs_config_opts *opts,
		   struct xs_model *out)
{
	struct state st = { 0 };
	struct ctx c = ctx_init(opts, &st);
	struct notes n;
	int err;

	notes_begin(&c, &n);
	err = load(&c, files, nfiles, out);
	notes_end(&c, &n);
	state_free(&st);
	return err;
}

/* Read the files and build; the notes of a reading in two halves that is read
 * again (a join error) are those of the second reading alone. */
static int load(struct ctx *c_, const char *const *files, int nfiles, struct xs_model *out)
{
	struct ctx c = *c_;
	FILE *notes = c.notes;
	char *tbuf = NULL;
	size_t tlen = 0;
	bool built = false;
	int err = 0;

	out->fe = NULL;
	out->n = 0;
	if (notes && !(c.notes = open_memstream(&tbuf, &tlen)))
		return oom(&c);
	for (int i = 0; i < nfiles && !err; i++)
		c.file_no = i, err = read_file(&c, files[i]);
	if (!err && c.split) {
		/* A join error is reported by a reading in one piece. */
		err = build_quietly(&c, NULL, out);
		built = !err;
		if (err) {
			xs_model_free(out);
			state_free(c.st);
			if (notes)
				rewind(c.notes);
			c.no_split = true;
			err = 0;
			for (int i = 0; i < nfiles && !err; i++)
				c.file_no = i, err = read_file(&c, files[i]);
		}
	}
	if (notes) {
		long at = ftell(c.notes);

		fclose(c.notes);
		fwrite(tbuf, 1, at > 0 ? (size_t)at : 0, notes);
		free(tbuf);
		c.notes = notes;
	}
	if (!err && !built)
		err = build(&c, out);
	if (err)
		xs_model_free(out);
	else
		xs_model_normalize(out);
	return err;
}

/* --- loads that re-read only what changed (apply --watch) */

struct xs_config_cache *xs_config_cache_new(void)
{
	return calloc(1, sizeof(struct xs_config_cache));
}

static void cache_reset(struct xs_config_cache *cache)
{
	for (int i = 0; i < cache->nfiles; i++) {
		free(cache->files[i].buf);
		free(cache->files[i].spare);
		free(cache->files[i].items);
	}
	free(cache->files);
	cache->files = NULL;
	cache->nfiles = 0;
	state_free(&cache->st);
	xs_model_free(&cache->last);
	cache->valid = false;
}

void xs_config_cache_free(struct xs_config_cache *cache)
{
	if (!cache)
		return;
	cache_reset(cache);
	free(cache->touched);
	free(cache);
}

const struct xs_config_cache_stats *xs_config_cache_stats(const struct xs_config_cache *cache)
{
	return &cache->stats;
}

/* Read path whole into *buf (of *cap bytes, reused when large enough). */
static int slurp(const char *path, char **buf, size_t *cap_io, size_t *len, FILE *errors)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap, n = 0;
	struct stat sb;
	char *b = *buf;
	int err = 0;

	if (fd < 0 || fstat(fd, &sb)) {
		err = -errno;
		fprintf(errors, "%s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return err;
	}
	/* A regular file: one allocation with room to see the end (and for the
	 * file to grow a little before a reused buffer is too small). */
	cap = S_ISREG(sb.st_mode) ? (size_t)sb.st_size + 2 : 1 << 16;
	if (b && *cap_io >= cap) {
		cap = *cap_io;
	} else {
		free(b);
		b = NULL;
		if (S_ISREG(sb.st_mode))
			cap += cap / 64;
	}
	for (;;) {
		ssize_t got;

		if (!b || n + 1 == cap) {
			char *nb = realloc(b, b ? (cap *= 2) : cap);

			if (!nb) {
				err = -ENOMEM;
				fprintf(errors, "%s: out of memory\n", path);
				break;
			}
			b = nb;
		}
		got = read(fd, b + n, cap - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			fprintf(errors, "%s: %s\n", path, strerror(errno));
			break;
		}
		if (!got)
			break;
		n += (size_t)got;
	}
	close(fd);
	*buf = b;
	*cap_io = cap;
	*len = n;
	return err;
}

static bool ascii(const char *b, size_t n)
{
	unsigned char acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= (unsigned char)b[i];
	return acc < 0x80;
}

/*
 * The file changed from fc->buf to nb: if every changed byte lies inside one
 * item of the List, read that item on its own and put its records in place
 * of the old ones. True when done; false when the file must be read whole
 * (a change outside the items or across two, an item that no longer reads as
 * one object with the same number of records, any error: the whole read then
 * gives the authoritative result and message).
 *
 * Why this equals reading the whole file: the bytes before and after the
 * item are the same, and JSON or YAML read the item's bytes the same way in
 * the List as alone, indented as they were (a block mapping is padded back
 * to its column); a change that reaches outside the item makes its bytes
 * fail to read as one complete object.
 */
static bool touch(struct xs_config_cache *cache, const char *ns, const char *name)
{
	struct svc_name *t;

	if (!*name)
		return true; /* a set of no Service */
	t = grow(cache->touched, &cache->cap_touched, cache->n_touched, sizeof(*t));
	if (!t)
		return false;
	cache->touched = t;
	t = &cache->touched[cache->n_touched++];
	snprintf(t->ns, sizeof(t->ns), "%s", ns);
	snprintf(t->name, sizeof(t->name), "%s", name);
	return true;
}

static bool is_touched(const struct xs_config_cache *cache, const char *ns, const char *name)
{
	for (size_t i = 0; i < cache->n_touched; i++)
		if (!strcmp(cache->touched[i].name, name) && !strcmp(cache->touched[i].ns, ns))
			return true;
	return false;
}

static bool reread_item(struct ctx *c, struct xs_config_cache *cache, struct file_cache *fc, const char *nb,
			size_t nlen)
{
	size_t olen = fc->len, pre = 0, suf = 0, lim = olen < nlen ? olen : nlen, lo = 0, hi = fc->n_items;
	struct state *st = c->st;
	size_t svc0 = st->n_svcs, set0 = st->n_sets, id0 = st->n_ids, nstart, nend, pad, blen;
	FILE *notes = c->notes, *errors = c->errors;
	char *notes_buf = NULL, *errors_buf = NULL, *b;
	size_t notes_len = 0, errors_len = 0;
	struct stream_info info;
	struct item_span *it;
	bool ok;
	int err;

	if (!fc->by_item)
		return false;
	/* The common prefix and suffix, a page at a time, then bytes. */
	while (lim - pre >= 4096 && !memcmp(nb + pre, fc->buf + pre, 4096))
		pre += 4096;
	while (pre < lim && nb[pre] == fc->buf[pre])
		pre++;
	while (lim - pre - suf >= 4096 && !memcmp(nb + nlen - suf - 4096, fc->buf + olen - suf - 4096, 4096))
		suf += 4096;
	while (suf < lim - pre && nb[nlen - 1 - suf] == fc->buf[olen - 1 - suf])
		suf++;
	if (pre == olen && pre == nlen)
		return true; /* the same bytes */
	while (lo < hi) { /* the last item starting at or before pre */
		size_t mid = lo + (hi - lo) / 2;

		if (fc->items[mid].start <= pre)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return false;
	it = &fc->items[lo - 1];
	if (olen - suf > it->end)
		return false;
	nstart = it->start;
	nend = it->end + nlen - olen;
	if (nend < nstart || nend > nlen || !ascii(nb + nstart, nend - nstart))
		return false;
	/* A block mapping's lines keep their indentation: pad its first line
	 * back to its column. A flow mapping ("{", JSON) needs none. */
	pad = nb[nstart] == '{' || nb[nstart] == '[' ? 0 : it->col;
	blen = pad + nend - nstart;
	if (!(b = malloc(blen ?: 1)))
		return false;
	memset(b, ' ', pad);
	memcpy(b + pad, nb + nstart, nend - nstart);

	c->line_base = it->line;
	c->item_idx = (long)(it - fc->items);
	memcpy(c->item_kind, fc->item_kind, sizeof(c->item_kind));
	c->index_base = nstart - pad; /* the item's bytes where they are in the file */
	memcpy(c->item_api, fc->item_api, sizeof(c->item_api));
	c->errors = open_memstream(&errors_buf, &errors_len);
	c->notes = notes ? open_memstream(&notes_buf, &notes_len) : NULL;
	err = c->errors && (!notes || c->notes) ? read_buffer(c, b, blen, true, &info) : -ENOMEM;
	if (c->errors)
		fclose(c->errors);
	if (c->notes)
		fclose(c->notes);
	c->notes = notes;
	c->errors = errors;
	c->line_base = 0;
	c->item_idx = -1;
	c->item_kind[0] = 0;
	c->index_base = 0;
	free(b);
	ok = !err && info.n_docs == 1 && !info.any_anchor && st->n_svcs - svc0 == it->n_svc &&
	     st->n_sets - set0 == it->n_set && st->n_ids - id0 == it->n_id;
	/* The Services of the old and of the new records. */
	for (size_t i = 0; ok && i < it->n_svc; i++)
		ok = touch(cache, st->svcs[it->svc0 + i].ns, st->svcs[it->svc0 + i].name) &&
		     touch(cache, st->svcs[svc0 + i].ns, st->svcs[svc0 + i].name);
	for (size_t i = 0; ok && i < it->n_set; i++)
		ok = touch(cache, st->sets[it->set0 + i].ns, st->sets[it->set0 + i].svc) &&
		     touch(cache, st->sets[set0 + i].ns, st->sets[set0 + i].svc);
	if (ok) {
		long dl = (long)count_lines(nb + nstart, nend - nstart) - (long)count_lines(fc->buf + nstart, it->end - nstart);

		if (notes && notes_len)
			fwrite(notes_buf, 1, notes_len, notes);
		for (size_t i = 0; i < it->n_svc; i++) {
			svc_free(&st->svcs[it->svc0 + i]);
			st->svcs[it->svc0 + i] = st->svcs[svc0 + i];
		}
		for (size_t i = 0; i < it->n_set; i++) {
			set_free(&st->sets[it->set0 + i]);
			st->sets[it->set0 + i] = st->sets[set0 + i];
		}
		for (size_t i = 0; i < it->n_id; i++) {
			free(st->ids[it->id0 + i].key);
			st->ids[it->id0 + i] = st->ids[id0 + i];
		}
		st->n_svcs = svc0;
		st->n_sets = set0;
		st->n_ids = id0;
		it->end = nend;
		for (struct item_span *j = it + 1; j < fc->items + fc->n_items; j++) {
			j->start += nlen - olen; /* modular: also when the file shrank */
			j->end += nlen - olen;
			j->line += dl;
		}
	} else {
		state_truncate(st, svc0, set0, id0);
	}
	free(notes_buf);
	free(errors_buf);
	return ok;
}

static bool pick_touched(const struct ep_set *set, void *cache)
{
	return is_touched(cache, set->ns, set->svc);
}

/*
 * The touched Services' frontends built again and put in place of their old
 * ones in cache->last (both sorted: a merge). -EEXIST when one now collides
 * with a frontend of another Service (the whole build reports it).
 */
static int build_touched(struct ctx *c, struct xs_config_cache *cache)
{
	const struct state *st = c->st;
	struct xs_model sub = {}, *last = &cache->last;
	const struct svc **svcs = malloc((st->n_svcs ?: 1) * sizeof(*svcs));
	size_t n_svcs = 0, n_sets, n = 0, i = 0, j = 0;
	const struct ep_set **by_svc = sets_by_svc(st->sets, st->n_sets, pick_touched, cache, &n_sets);
	struct xs_frontend *fe = NULL;
	int err = 0;

	if (!svcs || !by_svc) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < st->n_svcs; k++)
		if (is_touched(cache, st->svcs[k].ns, st->svcs[k].name))
			svcs[n_svcs++] = &st->svcs[k];
	err = check_idents(c) ?: build_from(c, svcs, n_svcs, by_svc, n_sets, &sub);
	if (err)
		goto out;
	xs_model_normalize(&sub);
	if (!(fe = malloc((last->n + sub.n) * sizeof(*fe) ?: 1))) {
		err = -ENOMEM;
		goto out;
	}
	while (i < last->n || j < sub.n) {
		int cmp;

		if (i < last->n && is_touched(cache, last->fe[i].ns, last->fe[i].name)) {
			i++;
			continue;
		}
		cmp = i == last->n ? 1 : j == sub.n ? -1 : xs_frontend_cmp(&last->fe[i], &sub.fe[j]);
		if (!cmp) {
			err = -EEXIST;
			goto out;
		}
		fe[n++] = cmp < 0 ? last->fe[i++] : sub.fe[j++];
	}
	/* Done: the old frontends of the touched Services go, the new ones
	 * move in. */
	for (i = 0; i < last->n; i++)
		if (is_touched(cache, last->fe[i].ns, last->fe[i].name)) {
			free(last->fe[i].backends);
			free(last->fe[i].terminating);
			free(last->fe[i].src_ranges);
		}
	free(last->fe);
	last->fe = fe;
	last->n = n;
	fe = NULL;
	free(sub.fe);
	sub = (struct xs_model){};
out:
	free(fe);
	xs_model_free(&sub);
	free(svcs);
	free(by_svc);
	return err;
}

/* Read every file whole into a reset cache, recording items; the buffers
 * move into the cache (and stay reachable from bufs for a second reading). */
static int read_all(struct ctx *c, struct xs_config_cache *cache, const char *const *files, int nfiles,
		    char **bufs, size_t *caps, size_t *lens)
{
	int err = 0;

	for (int i = 0; i < cache->nfiles; i++) { /* keep the bytes: they are bufs[i] */
		if (cache->files[i].buf == bufs[i])
			cache->files[i].buf = NULL;
	}
	cache_reset(cache);
	if (!(cache->files = calloc(nfiles ?: 1, sizeof(*cache->files))))
		return oom(c);
	cache->nfiles = nfiles;
	for (int i = 0; i < nfiles && !err; i++) {
		struct file_cache *fc = &cache->files[i];
		struct stream_info info;

		c->file = files[i];
		c->file_no = i;
		c->fc = fc;
		err = read_whole(c, bufs[i], lens[i], &info);
		c->fc = NULL;
		fc->by_item = !err && info.n_docs == 1 && !info.any_anchor && info.was_list && ascii(bufs[i], lens[i]);
		fc->buf = bufs[i];
		fc->cap = caps[i];
		fc->len = lens[i];
		/* The next read goes to the spare: its pages mapped now, not then. */
		if (!err && fc->by_item && (fc->spare = malloc(fc->cap))) {
			memset(fc->spare, 0, fc->cap);
			fc->spare_cap = fc->cap;
		}
	}
	return err;
}

static int load_cached(const char *const *files, int nfiles, const struct xs_config_opts *opts,
		       struct xs_config_cache *cache, struct xs_model *out);

int xs_config_load_cached(const char *const *files, int nfiles, const struct xs_config_opts *opts,
			  struct xs_config_cache *cache, struct xs_model *out)
{
	struct xs_config_opts o = opts ? *opts : (struct xs_config_opts){ 0 };
	struct ctx c = ctx_init(&o, NULL);
	struct notes n;
	int err;

	notes_begin(&c, &n);
	o.notes = c.notes;
	err = load_cached(files, nfiles, &o, cache, out);
	notes_end(&c, &n);
	return err;
}

static int load_cached(const char *const *files, int nfiles, const struct xs_config_opts *opts,
		       struct xs_config_cache *cache, struct xs_model *out)
{
	struct ctx c = ctx_init(opts, &cache->st);
	const char *node = c.opts->node_name ?: "", *zone = c.opts->zone ?: "";
	char **bufs = calloc(nfiles ?: 1, sizeof(*bufs));
	size_t *lens = calloc(nfiles ?: 1, sizeof(*lens)), *caps = calloc(nfiles ?: 1, sizeof(*caps));
	bool by_item = cache->valid && !cache->shadowed && cache->nfiles == nfiles && strlen(node) < sizeof(cache->node_name) &&
		       strlen(zone) < sizeof(cache->zone) && !strcmp(cache->node_name, node) && !strcmp(cache->zone, zone);
	int err = 0;

	out->fe = NULL;
	out->n = 0;
	memset(&cache->stats, 0, sizeof(cache->stats));
	cache->n_touched = 0;
	if (!bufs || !lens || !caps) {
		err = oom(&c);
		goto out;
	}
	for (int i = 0; by_item && i < nfiles; i++) { /* read into the spare buffers */
		bufs[i] = cache->files[i].spare;
		caps[i] = cache->files[i].spare_cap;
		cache->files[i].spare = NULL;
	}
	for (int i = 0; i < nfiles && !err; i++)
		err = slurp(files[i], &bufs[i], &caps[i], &lens[i], c.errors);
	if (err)
		goto out; /* nothing read: the cache still holds the last good load */

	for (int i = 0; by_item && i < nfiles; i++) {
		struct file_cache *fc = &cache->files[i];

		c.file = files[i];
		c.file_no = i;
		if (lens[i] != fc->len || memcmp(bufs[i], fc->buf, lens[i])) {
			by_item = reread_item(&c, cache, fc, bufs[i], lens[i]);
			cache->stats.items_reread += by_item;
		}
	}
	if (by_item) {
		/* A join error is reported by the whole read below. */
		err = build_quietly(&c, cache, NULL);
		by_item = !err;
		err = 0;
	}
	if (by_item) {
		for (int i = 0; i < nfiles; i++) {
			struct file_cache *fc = &cache->files[i];

			fc->spare = fc->buf;
			fc->spare_cap = fc->cap;
			fc->buf = bufs[i];
			fc->cap = caps[i];
			fc->len = lens[i];
			bufs[i] = NULL;
		}
	} else {
		cache->stats.whole = true;
		err = read_all(&c, cache, files, nfiles, bufs, caps, lens);
		if (!err && c.split) {
			/* A join error is reported by a reading in one piece. */
			err = build_quietly(&c, NULL, &cache->last);
			if (err) {
				xs_model_free(&cache->last);
				c.no_split = true;
				err = read_all(&c, cache, files, nfiles, bufs, caps, lens);
				c.split = false;
			}
		}
		if (!err && !c.split)
			err = build(&c, &cache->last);
		for (int i = 0; i < cache->nfiles; i++) /* the cache owns them now */
			if (cache->files[i].buf == bufs[i])
				bufs[i] = NULL;
		if (err) {
			cache_reset(cache);
			goto out;
		}
		xs_model_normalize(&cache->last);
	}
	/* The caller's own copy; the cache keeps its own for the next load. */
	err = xs_model_copy(out, &cache->last);
	if (err) {
		oom(&c);
		cache_reset(cache);
		goto out;
	}
	cache->shadowed = c.shadowed;
	snprintf(cache->node_name, sizeof(cache->node_name), "%s", node);
	snprintf(cache->zone, sizeof(cache->zone), "%s", zone);
	cache->valid = true;
out:
	if (err)
		xs_model_free(out);
	for (int i = 0; bufs && i < nfiles; i++)
		free(bufs[i]);
	free(bufs);
	free(lens);
	free(caps);
	return err;
}
