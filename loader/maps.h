/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The pinned maps: opening them, reading them back into the model, writing
 * the difference to a wanted model, and printing them. Knows nothing of YAML. */
#ifndef XS_MAPS_H
#define XS_MAPS_H

#include <stdio.h>
#include "model.h"

struct xs_maps {
	int services, slots, backends, ct, svc_stats, global_stats, svc_meta, vip_bits, src_ranges, config;
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
};

/* Make the maps describe exactly `want`. With diff, print one line per
 * change there; with dry_run, change nothing. */
int xs_apply(const struct xs_maps *m, const struct xs_model *want, bool dry_run, FILE *diff,
	     struct xs_apply_result *r);
int xs_list(const struct xs_maps *m, bool json, FILE *out);
/* The settings attach stored with the pinned state (node identity, ...). */
int xs_pinned_config(const char *pin, struct xs_config *cfg);
/* Translated flows (forward entries) with their service and idle time. */
int xs_ct_list(const struct xs_maps *m, bool json, FILE *out);
/* Delete conntrack entries, all or (ns non-NULL) those of one Service, and
 * add the number deleted to xs_config.ct_flushed: call it holding the pin
 * directory's lock. */
int xs_ct_flush(const struct xs_maps *m, const char *ns, const char *name, unsigned long *flushed);

#endif
