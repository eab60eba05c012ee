/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reading Kubernetes objects (Service, EndpointSlice, Endpoints) from
 * kubectl JSON or YAML into the plain model, with kube-proxy's semantics.
 */
#ifndef XS_K8S_H
#define XS_K8S_H

#include <stdio.h>
#include "model.h"

/* What a successful load read (see xs_config_opts.info). */
struct xs_config_info {
	size_t services;  /* Service objects, skipped ones included (0: no Service at all) */
	size_t objects;   /* Service, EndpointSlice and Endpoints objects */
};

struct xs_config_opts {
	FILE *notes;   /* where "note: ..." lines go (skipped objects); NULL = silent */
	FILE *errors;  /* where the error message goes; NULL = stderr */
	/* The node's NodePort addresses: each Service port with a nodePort
	 * gets a frontend on each of them. */
	const struct xs_addr *nodeport_addrs;
	size_t n_nodeport_addrs;
	/* This node's name and zone, for Local traffic policies and topology
	 * hints; NULL or "" = unknown (no endpoint is local, no hints used). */
	const char *node_name, *zone;
	/* When not NULL: filled by a successful load. A real cluster always has
	 * the default/kubernetes Service: input without any Service (an empty
	 * List, empty documents) is almost always a broken export. */
	struct xs_config_info *info;
};

/*
 * Read every file ("-" = stdin) and build the model of all IPv4 frontends.
 * On success returns 0 and fills *out (caller frees with xs_model_free).
 * On any parse or validation error prints one precise message
 * ("FILE:LINE:COL: Kind ns/name: field.path: what is wrong") to opts->errors,
 * leaves *out empty and returns -EINVAL (-errno for I/O errors).
 */
int xs_config_load(const char *const *files, int nfiles, const struct xs_config_opts *opts,
		   struct xs_model *out);

/* Files read in two halves by two threads so far (a big JSON List). */
extern unsigned long xs_config_split_reads;

/*
 * The same, for a process that loads the same files again and again (apply
 * --watch): the cache keeps each file's bytes and what was read from it, and
 * a change inside one item of a List re-reads that item alone. Same result,
 * messages and notes as xs_config_load (notes only for what was re-read).
 */
struct xs_config_cache;
struct xs_config_cache_stats {
	bool whole;              /* the files were read whole */
	unsigned items_reread;   /* else: items read on their own */
};
struct xs_config_cache *xs_config_cache_new(void);
void xs_config_cache_free(struct xs_config_cache *cache);
const struct xs_config_cache_stats *xs_config_cache_stats(const struct xs_config_cache *cache);
int xs_config_load_cached(const char *const *files, int nfiles, const struct xs_config_opts *opts,
			  struct xs_config_cache *cache, struct xs_model *out);

#endif
