// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

const char *xs_proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP: return "TCP";
	case IPPROTO_UDP: return "UDP";
	case IPPROTO_SCTP: return "SCTP";
	default: return "?";
	}
}

const char *xs_scope_name(uint8_t scope)
{
	switch (scope) {
	case XS_SCOPE_CLUSTER: return "ClusterIP";
	case XS_SCOPE_NODEPORT: return "NodePort";
	case XS_SCOPE_EXTERNAL: return "ExternalIP";
	case XS_SCOPE_LB: return "LoadBalancer";
	default: return "?";
	}
}

int xs_backend_addr_cmp(const void *a, const void *b)
{
	const struct xs_backend_addr *x = a, *y = b;
	int c = xs_addr_cmp(&x->addr, &y->addr);

	if (c)
		return c;
	return (x->port > y->port) - (x->port < y->port);
}

int xs_frontend_cmp(const void *a, const void *b)
{
	const struct xs_frontend *x = a, *y = b;
	int c = xs_addr_cmp(&x->vip, &y->vip);

	if (c)
		return c;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return (x->proto > y->proto) - (x->proto < y->proto);
}

/* Sort and drop duplicates, and (with not) entries also found in not. */
static void sort_unique(struct xs_backend_addr *a, size_t *n, const struct xs_backend_addr *not, size_t n_not)
{
	size_t w = 0;

	if (*n > 1)
		qsort(a, *n, sizeof(*a), xs_backend_addr_cmp);
	for (size_t r = 0; r < *n; r++)
		if ((!w || xs_backend_addr_cmp(&a[w - 1], &a[r])) &&
		    !(n_not && bsearch(&a[r], not, n_not, sizeof(*not), xs_backend_addr_cmp)))
			a[w++] = a[r];
	*n = w;
}

void xs_model_normalize(struct xs_model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		struct xs_frontend *f = &m->fe[i];

		sort_unique(f->backends, &f->n_backends, NULL, 0);
		/* The same ip:port ready in one slice and terminating in
		 * another: the ready one wins (kube-proxy). */
		sort_unique(f->terminating, &f->n_terminating, f->backends, f->n_backends);
	}
	if (m->n > 1)
		qsort(m->fe, m->n, sizeof(*m->fe), xs_frontend_cmp);
}

static void *dup_array(const void *src, size_t n, size_t size, bool *ok)
{
	void *p;

	if (!n)
		return NULL;
	if (!(p = malloc(n * size)))
		*ok = false;
	else
		memcpy(p, src, n * size);
	return p;
}

int xs_model_copy(struct xs_model *dst, const struct xs_model *src)
{
	bool ok = true;

	dst->n = 0;
	dst->fe = dup_array(src->fe, src->n, sizeof(*src->fe), &ok);
	if (!ok)
		return -ENOMEM;
	for (; dst->n < src->n; dst->n++) {
		struct xs_frontend *f = &dst->fe[dst->n];

		f->backends = dup_array(f->backends, f->n_backends, sizeof(*f->backends), &ok);
		f->terminating = dup_array(f->terminating, f->n_terminating, sizeof(*f->terminating), &ok);
		f->src_ranges = dup_array(f->src_ranges, f->n_src_ranges, sizeof(*f->src_ranges), &ok);
		if (!ok) {
			dst->n++;
			xs_model_free(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

void xs_model_free(struct xs_model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->fe[i].backends);
		free(m->fe[i].terminating);
		free(m->fe[i].src_ranges);
	}
	free(m->fe);
	m->fe = NULL;
	m->n = 0;
}
