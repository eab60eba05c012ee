/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Both BPF objects loaded for BPF_PROG_TEST_RUN, the way test_datapath,
 * test_diff and pktbench need them: nothing pinned (the maps' pinning is
 * cleared, so no /sys/fs/bpf state is touched), the tc object sharing every
 * map of the XDP object, and a struct xs_maps of their fds and sizes for the
 * loader's own xs_apply(). A NULL return is success; else the reason.
 */
#ifndef XS_TEST_BPF_OBJS_H
#define XS_TEST_BPF_OBJS_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "xdp.skel.h"
#include "tc.skel.h"
#include "maps.h"

/* size(x), if given, runs between open and load (bpf_map__set_max_entries). */
static inline const char *xs_test_load(struct xs_xdp **xp, struct xs_tc **tp, bool (*size)(struct xs_xdp *),
				       struct xs_maps *m, char *why, size_t len)
{
	struct xs_xdp *x = xs_xdp__open();
	struct xs_tc *t = xs_tc__open();
	struct bpf_map *map;
	int err;

	*xp = x;
	*tp = t;
	if (!x || !t)
		return snprintf(why, len, "cannot open the skeletons: %s", strerror(errno)), why;
	bpf_object__for_each_map(map, x->obj)
		if (bpf_map__set_pin_path(map, NULL))
			return snprintf(why, len, "xdp: cannot clear the pin path of %s", bpf_map__name(map)), why;
	bpf_object__for_each_map(map, t->obj)
		if (bpf_map__set_pin_path(map, NULL))
			return snprintf(why, len, "tc: cannot clear the pin path of %s", bpf_map__name(map)), why;
	if (size && !size(x))
		return snprintf(why, len, "cannot size the maps"), why;
	err = xs_xdp__load(x);
	if (err)
		return snprintf(why, len, "loading the XDP object: %s", strerror(-err)), why;
	bpf_object__for_each_map(map, t->obj) {
		struct bpf_map *xm = bpf_object__find_map_by_name(x->obj, bpf_map__name(map));

		if (!xm) {
			if (!strncmp(bpf_map__name(map), "xs_", 3))
				return snprintf(why, len, "tc map %s has no twin in the XDP object",
						bpf_map__name(map)), why;
			continue;
		}
		err = bpf_map__reuse_fd(map, bpf_map__fd(xm));
		if (err)
			return snprintf(why, len, "reusing map %s: %s", bpf_map__name(map), strerror(-err)), why;
	}
	err = xs_tc__load(t);
	if (err)
		return snprintf(why, len, "loading the tc object: %s", strerror(-err)), why;
	*m = (struct xs_maps){
		.services = bpf_map__fd(x->maps.xs_services),
		.slots = bpf_map__fd(x->maps.xs_slots),
		.backends = bpf_map__fd(x->maps.xs_backends),
		.ct = bpf_map__fd(x->maps.xs_conntrack),
		.ct_assured = bpf_map__fd(x->maps.xs_ct_assured),
		.svc_stats = bpf_map__fd(x->maps.xs_svc_stats),
		.global_stats = bpf_map__fd(x->maps.xs_global_stats),
		.svc_meta = bpf_map__fd(x->maps.xs_svc_meta),
		.vip_bits = bpf_map__fd(x->maps.xs_vip_bits),
		.src_ranges = bpf_map__fd(x->maps.xs_src_ranges),
		.config = bpf_map__fd(x->maps.xs_config),
		.devs = bpf_map__fd(x->maps.xs_devs),
		.cluster_ips = bpf_map__fd(x->maps.xs_cluster_ips),
		.max_services = bpf_map__max_entries(x->maps.xs_svc_stats),
		.max_frontends = bpf_map__max_entries(x->maps.xs_services),
		.max_backends = bpf_map__max_entries(x->maps.xs_backends),
		.max_slots = bpf_map__max_entries(x->maps.xs_slots),
		.max_ct = bpf_map__max_entries(x->maps.xs_conntrack),
		.ncpus = libbpf_num_possible_cpus(),
	};
	if (m->ncpus <= 0)
		return snprintf(why, len, "libbpf_num_possible_cpus: %d", m->ncpus), why;
	return NULL;
}

#endif
