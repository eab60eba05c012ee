// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include "apply.h"
#include "attach.h"
#include "k8s.h"
#include "maps.h"

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1e3 + (b->tv_nsec - a->tv_nsec) / 1e6;
}

int xs_apply_files(const struct xs_apply_req *req, FILE *out)
{
	struct xs_addr nodeport[XS_MAX_NODEPORT_ADDRS];
	struct xs_config cfg;
	struct xs_config_opts co = { .notes = stderr, .errors = stderr, .nodeport_addrs = nodeport };
	struct xs_model model = {};
	struct xs_apply_result r;
	struct xs_maps maps;
	struct timespec t0, t1, t2;
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
	err = xs_config_load(req->files, req->nfiles, &co, &model);
	if (err)
		return err;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	lock = xs_pin_dir_lock(req->pin);
	if (lock < 0) {
		err = lock;
		goto out;
	}
	err = xs_maps_open(req->pin, &maps);
	if (!err) {
		err = xs_apply(&maps, &model, req->dry_run, req->dry_run ? out : NULL, &r);
		xs_maps_close(&maps);
	}
	close(lock);
	if (err)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t2);
	if (!r.fe_added && !r.fe_changed && !r.fe_removed && !r.be_added && !r.be_removed && !r.ranges_changed)
		fprintf(out, "%s: no change\n", req->dry_run ? "dry-run" : "apply");
	else
		fprintf(out, "%s: frontends %u added, %u changed, %u removed; backends %u added, %u removed"
			" (%lu map writes, %.1f ms: files %.1f ms, maps %.1f ms)\n",
			req->dry_run ? "dry-run" : "apply", r.fe_added, r.fe_changed, r.fe_removed, r.be_added,
			r.be_removed, r.map_writes, ms_between(&t0, &t2), ms_between(&t0, &t1), ms_between(&t1, &t2));
	fflush(out);
out:
	xs_model_free(&model);
	return err;
}
