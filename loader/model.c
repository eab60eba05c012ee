// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
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

void xs_model_normalize(struct xs_model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		struct xs_frontend *f = &m->fe[i];
		size_t w = 0;

		if (f->n_backends > 1)
			qsort(f->backends, f->n_backends, sizeof(*f->backends), xs_backend_addr_cmp);
		for (size_t r = 0; r < f->n_backends; r++)
			if (!w || xs_backend_addr_cmp(&f->backends[w - 1], &f->backends[r]))
				f->backends[w++] = f->backends[r];
		f->n_backends = w;
	}
	if (m->n > 1)
		qsort(m->fe, m->n, sizeof(*m->fe), xs_frontend_cmp);
}

void xs_model_free(struct xs_model *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->fe[i].backends);
	free(m->fe);
	m->fe = NULL;
	m->n = 0;
}
