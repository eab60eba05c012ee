/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The plain model between the config reader (k8s.c: Kubernetes objects in,
 * model out; knows nothing of BPF) and the map writer (maps.c: model in,
 * maps out; knows nothing of YAML).
 */
#ifndef XS_MODEL_H
#define XS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "addr.h"
#include "../include/xdpsvc.h"

struct xs_cidr {
	struct xs_addr addr;      /* the network */
	uint8_t len;
};

struct xs_backend_addr {
	struct xs_addr addr;
	uint16_t port;            /* host order */
};

/* One frontend: one port of one Service on one virtual IP. */
struct xs_frontend {
	char ns[XS_NAME_LEN];
	char name[XS_NAME_LEN];
	char port_name[XS_PORT_NAME_LEN]; /* "" for an unnamed port */
	uint8_t proto;            /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t scope;            /* enum xs_scope: which of the Service's addresses */
	uint8_t flags;            /* XS_SVC_F_* */
	uint32_t affinity_s;      /* with XS_SVC_F_AFFINITY: the idle timeout */
	struct xs_cidr *src_ranges; /* with XS_SVC_F_SRC_RANGES: the allowed sources */
	size_t n_src_ranges;
	struct xs_addr vip;
	uint16_t port;            /* host order */
	struct xs_backend_addr *backends; /* sorted by (addr, port), no duplicates */
	size_t n_backends;
	/* Serving but terminating endpoints while ready ones exist: they get no
	 * new flows but keep their established ones (sorted, none in backends). */
	struct xs_backend_addr *terminating;
	size_t n_terminating;
};

/* Frontends sorted by (vip, port, proto); no two share (vip, port, proto). */
struct xs_model {
	struct xs_frontend *fe;
	size_t n;
};

void xs_model_free(struct xs_model *m);
/* A deep copy; 0 or -ENOMEM (dst empty). */
int xs_model_copy(struct xs_model *dst, const struct xs_model *src);
/* Sort frontends and their backends, drop duplicate backends. */
void xs_model_normalize(struct xs_model *m);
int xs_frontend_cmp(const void *a, const void *b);
int xs_backend_addr_cmp(const void *a, const void *b);
const char *xs_proto_name(uint8_t proto);
const char *xs_scope_name(uint8_t scope);

#endif
