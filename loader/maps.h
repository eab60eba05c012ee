/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The pinned maps: opening them, reading them back into the model, writing
 * the difference to a wanted model, and printing them. Knows nothing of YAML. */
#ifndef XS_MAPS_H
#define XS_MAPS_H

#include <stdio.h>
#include "model.h"

struct xs_maps {
	int services, slots, backends, ct, ct_assured, svc_stats, global_stats, svc_meta, vip_bits, src_ranges, config, devs, cluster_ips;
	__u32 max_services; /* capacity of the id-indexed maps */
	__u32 max_frontends, max_backends, max_slots, max_ct; /* of the hash maps */
	int ncpus;
};

/* Open every pinned map under pin and check its layout. */
int xs_maps_open(const char *pin, struct xs_maps *m);
void xs_maps_close(struct xs_maps *m);

struct xs_apply_result {
	unsigned fe_added, fe_changed, fe_removed;
	unsigned be_added, be_removed;
	unsigned ranges_changed;   /* loadBalancerSourceRanges entries added or removed */
	unsigned long map_writes;  /* updates + deletes issued */
	unsigned long ct_forgotten; /* conntrack entries of UDP flows to removed endpoints deleted */
};

/* What an applier that keeps its last model (apply --watch) needs to know
 * of the maps to change them without reading them: filled by xs_apply(),
 * kept up to date by xs_apply_delta(). */
struct xs_delta_state {
	__u32 next_be_id;          /* above every backend id in use */
	size_t n_slots;            /* entries in xs_slots */
	struct xs_be_index *by_key; /* every backend and its id, sorted by backend */
	size_t n_backends;
};
void xs_delta_state_free(struct xs_delta_state *ds);

/* Make the maps describe exactly `want`. With diff, print one line per
 * change there; with dry_run, change nothing. */
int xs_apply(const struct xs_maps *m, const struct xs_model *want, bool dry_run, FILE *diff,
	     struct xs_apply_result *r, struct xs_delta_state *ds);
/* The same as xs_apply() when the maps hold exactly `have` (the caller's
 * last applied model, see xs_delta_state) and only some frontends' backends
 * changed: reads and writes only those. -EAGAIN (nothing written) when
 * xs_apply() is needed. */
int xs_apply_delta(const struct xs_maps *m, const struct xs_model *have, const struct xs_model *want,
		   struct xs_delta_state *ds, struct xs_apply_result *r);
int xs_list(const struct xs_maps *m, bool json, FILE *out);
/* "xdp native", "xdp generic", "tc" (enum xs_nic_mode). */
const char *xs_nic_mode_name(__u32 mode);
/* The settings attach stored with the pinned state (node identity, ...). */
int xs_pinned_config(const char *pin, struct xs_config *cfg);
/* Translated flows (forward entries) with their service and idle time. */
int xs_ct_list(const struct xs_maps *m, bool json, FILE *out);
/* Delete conntrack entries, all or (ns non-NULL) those of one Service, and
 * add the number deleted to xs_config.ct_flushed: call it holding the pin
 * directory's lock. */
int xs_ct_flush(const struct xs_maps *m, const char *ns, const char *name, unsigned long *flushed);

#endif
