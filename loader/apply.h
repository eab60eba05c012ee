/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* One apply, files to maps, under the pin directory's lock; and watch mode. */
#ifndef XS_APPLY_H
#define XS_APPLY_H

#include <stdbool.h>
#include <stdio.h>

struct xs_apply_req {
	const char *pin;
	const char *const *files;
	int nfiles;
	bool dry_run;
	bool allow_empty; /* input without any Service may empty the maps */
};

/* What a process that applies again and again (apply --watch) keeps
 * between applies, so that a small change costs little: the files as last
 * read (xs_config_cache) and the model last applied (xs_apply_delta). */
struct xs_applier;
struct xs_applier *xs_applier_new(void);
void xs_applier_free(struct xs_applier *a);

/* Read and validate every file, then (unless dry_run) write the difference
 * to the pinned maps; print the one-line summary to out. A file that fails
 * changes nothing. With an applier (or NULL), re-read and re-write only what
 * changed since its last apply. 0 or -errno. */
int xs_apply_files(const struct xs_apply_req *req, FILE *out, struct xs_applier *a);

/* Apply, then again whenever a file changes (inotify, debounced; also after
 * an editor's rename-and-replace) or on SIGHUP, keeping the last good state
 * when a file is bad; returns 0 on SIGTERM/SIGINT. */
int xs_watch(const struct xs_apply_req *req);

#endif
