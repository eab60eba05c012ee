// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "apply.h"
#include "attach.h"
#include "k8s.h"
#include "maps.h"

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1e3 + (b->tv_nsec - a->tv_nsec) / 1e6;
}

struct xs_applier {
	struct xs_config_cache *cache;
	struct xs_model have;        /* the model last applied */
	bool have_valid;             /* ... and the maps still hold it if apply_seq is: */
	__u64 seq;
	struct xs_delta_state ds;
};

struct xs_applier *xs_applier_new(void)
{
	struct xs_applier *a = calloc(1, sizeof(*a));

	if (a && !(a->cache = xs_config_cache_new())) {
		free(a);
		a = NULL;
	}
	return a;
}

void xs_applier_free(struct xs_applier *a)
{
	if (!a)
		return;
	xs_config_cache_free(a->cache);
	xs_delta_state_free(&a->ds);
	xs_model_free(&a->have);
	free(a);
}

/* Under the lock: bump xs_config.apply_seq before any write; *seq is the
 * value found. */
static int bump_seq(const char *pin, __u64 *seq, __u64 *now)
{
	char path[PATH_MAX];
	struct xs_config cfg;
	__u32 zero = 0;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", pin, XS_MAP_CONFIG);
	fd = bpf_obj_get(path);
	if (fd < 0 || bpf_map_lookup_elem(fd, &zero, &cfg)) {
		err = -errno;
	} else {
		*seq = cfg.apply_seq++;
		*now = cfg.apply_seq;
		if (bpf_map_update_elem(fd, &zero, &cfg, BPF_EXIST))
			err = -errno;
	}
	if (err)
		fprintf(stderr, "xdpsvc: cannot update %s: %s\n", path, strerror(-err));
	if (fd >= 0)
		close(fd);
	return err;
}

int xs_apply_files(const struct xs_apply_req *req, FILE *out, struct xs_applier *a)
{
	struct xs_addr nodeport[XS_MAX_NODEPORT_ADDRS];
	struct xs_config cfg;
	struct xs_config_info info = {};
	struct xs_config_opts co = { .notes = stderr, .errors = stderr, .nodeport_addrs = nodeport, .info = &info };
	struct xs_model model = {};
	struct xs_apply_result r;
	struct xs_maps maps;
	struct timespec t0, t1, t2;
	bool delta = false, reread;
	__u64 seq = 0, seq_now = 0;
	int err, lock;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* This node's identity comes with the pinned state. */
	err = xs_check_privileges("apply") ?:
	      xs_pin_dir_ensure(req->pin, false) ?:
	      xs_pinned_config(req->pin, &cfg);
	if (err)
		return err;
	for (__u32 i = 0; i < cfg.n_nodeport_addrs; i++)
		nodeport[co.n_nodeport_addrs++] = (struct xs_addr){ .family = AF_INET, .v4.s_addr = cfg.nodeport_addrs[i] };
	co.node_name = cfg.node_name;
	co.zone = cfg.zone;
	/* Read and validate everything before touching a map. */
	err = a ? xs_config_load_cached(req->files, req->nfiles, &co, a->cache, &model)
		: xs_config_load(req->files, req->nfiles, &co, &model);
	if (err)
		return err;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	lock = xs_pin_dir_lock(req->pin);
	if (lock < 0) {
		err = lock;
		goto out;
	}
	err = xs_maps_open(req->pin, &maps);
	/* A real cluster always has the default/kubernetes Service: input
	 * without any (an empty List, empty documents) is a broken export far
	 * more often than a wish to remove every frontend. */
	if (!err && !info.services && !req->allow_empty) {
		struct xs_svc_key k;

		if (!bpf_map_get_next_key(maps.services, NULL, &k)) {
			fprintf(stderr, "xdpsvc apply: the input has no Service at all (a real cluster always has "
				"default/kubernetes), and the maps hold frontends: nothing was changed; --allow-empty "
				"removes every frontend\n");
			err = -EINVAL;
		}
		if (err)
			xs_maps_close(&maps);
	}
	if (!err && !req->dry_run)
		err = bump_seq(req->pin, &seq, &seq_now);
	if (!err) {
		err = -EAGAIN;
		/* Only this process applied since its last apply: the maps hold
		 * its last model, and only the difference needs reading. */
		if (a && a->have_valid && seq == a->seq && !req->dry_run) {
			err = xs_apply_delta(&maps, &a->have, &model, &a->ds, &r);
			delta = !err;
		}
		if (err == -EAGAIN)
			err = xs_apply(&maps, &model, req->dry_run, req->dry_run ? out : NULL, &r, a ? &a->ds : NULL);
		xs_maps_close(&maps);
	}
	close(lock);
	if (a && !req->dry_run) {
		a->have_valid = !err;
		a->seq = seq_now;
		xs_model_free(&a->have);
		if (!err) {
			a->have = model; /* kept for the next apply */
			model = (struct xs_model){};
		}
	}
	if (err)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t2);
	reread = a && !xs_config_cache_stats(a->cache)->whole;
	char forgot[96] = "";

	if (r.ct_forgotten)
		snprintf(forgot, sizeof(forgot), "; %lu UDP flows to removed endpoints forgotten",
			 r.ct_forgotten);
	if (!r.fe_added && !r.fe_changed && !r.fe_removed && !r.be_added && !r.be_removed && !r.ranges_changed)
		fprintf(out, "%s: no change\n", req->dry_run ? "dry-run" : "apply");
	else
		fprintf(out, "%s: frontends %u added, %u changed, %u removed; backends %u added, %u removed"
			" (%lu map writes, %.1f ms: files %.1f ms, maps %.1f ms%s%s)\n",
			req->dry_run ? "dry-run" : "apply", r.fe_added, r.fe_changed, r.fe_removed, r.be_added,
			r.be_removed, r.map_writes, ms_between(&t0, &t2), ms_between(&t0, &t1), ms_between(&t1, &t2),
			reread && delta ? "; changed items and frontends only" : reread ? "; changed items only" :
			delta ? "; changed frontends only" : "", forgot);
	fflush(out);
out:
	xs_model_free(&model);
	return err;
}
