// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* apply --watch: apply the files, then again whenever one of them changes or
 * on SIGHUP, until SIGTERM or SIGINT.
 *
 * One poll() loop over two descriptors, no timers but poll's timeout:
 *  - an inotify fd watching each file's parent directory, not the file: an
 *    editor that writes a temporary file and renames it over the original
 *    replaces the inode, and a watch on the old inode would go quiet. Events
 *    are filtered to the watched names.
 *  - a signalfd for SIGHUP/SIGTERM/SIGINT (blocked, so they only arrive here).
 * Events are debounced: the apply runs once no event came for XS_DEBOUNCE_MS
 * (a `cp` or an editor's save is several events). A file that fails to parse
 * or validate changes nothing (xs_apply_files reads everything first), so
 * the maps keep the last good state and the loop goes on. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include "apply.h"

#define XS_DEBOUNCE_MS 200
/* A name appearing or going away, or its content or metadata changing.
 * IN_MOVED_FROM: renamed away is as good as deleted. */
#define XS_WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | \
		       IN_ATTRIB | IN_ONLYDIR)

struct watched {
	char *dir;        /* parent directory, as given ("." when none) */
	const char *name; /* last component, points into the caller's path */
	int wd;           /* -1 once the directory's watch is gone */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Split path into its directory (allocated) and last component. */
static int split_path(const char *path, struct watched *w)
{
	const char *slash = strrchr(path, '/');
	size_t dlen;

	w->wd = -1;
	w->name = slash ? slash + 1 : path;
	if (!*w->name) {
		fprintf(stderr, "xdpsvc apply --watch: %s: not a file name\n", path);
		return -EINVAL;
	}
	if (!slash)
		w->dir = strdup(".");
	else {
		dlen = slash == path ? 1 : (size_t)(slash - path); /* "/x" -> "/" */
		w->dir = strndup(path, dlen);
	}
	return w->dir ? 0 : -ENOMEM;
}

static void apply_once(const struct xs_apply_req *req, struct xs_applier *a)
{
	/* xs_apply_files printed the summary, or the precise error (and wrote
	 * nothing): one more line says what that means here. */
	if (xs_apply_files(req, stdout, a))
		fprintf(stderr, "watch: keeping the last good state\n");
}

/* Drain the inotify fd; true when an event concerns a watched file. */
static bool read_events(int ifd, struct watched *ws, int n)
{
	/* Aligned as inotify(7) asks; room for at least one maximal event. */
	char buf[4096 + sizeof(struct inotify_event) + NAME_MAX + 1]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;

	for (;;) {
		ssize_t len = read(ifd, buf, sizeof(buf));

		if (len < 0) {
			if (errno != EINTR && errno != EAGAIN)
				fprintf(stderr, "watch: reading inotify events: %s\n", strerror(errno));
			return hit;
		}
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				hit = true; /* events were lost: assume a change */
				continue;
			}
			for (int i = 0; i < n; i++) {
				if (ws[i].wd != ev->wd)
					continue;
				if (ev->mask & IN_IGNORED) {
					/* The directory went away (or its filesystem). */
					fprintf(stderr, "watch: %s is gone, no longer watching %s there"
						" (SIGHUP still re-applies)\n", ws[i].dir, ws[i].name);
					ws[i].wd = -1;
					hit = true;
				} else if (ev->len && !strcmp(ev->name, ws[i].name)) {
					hit = true;
				}
			}
		}
	}
}

int xs_watch(const struct xs_apply_req *req)
{
	struct watched *ws = NULL;
	struct xs_applier *a = NULL;
	sigset_t mask, oldmask;
	int ifd = -1, sfd = -1, err = 0;
	bool masked = false, pending = false;
	int64_t deadline = 0;

	for (int i = 0; i < req->nfiles; i++) {
		if (!strcmp(req->files[i], "-")) {
			fprintf(stderr, "xdpsvc apply: --watch cannot watch stdin ('-'): give files\n");
			return -EINVAL;
		}
	}
	/* The log is read as it is written (by people and by tests). */
	setvbuf(stdout, NULL, _IOLBF, 0);

	ws = calloc(req->nfiles, sizeof(*ws));
	a = xs_applier_new();
	if (!ws || !a) {
		free(ws);
		xs_applier_free(a);
		return -ENOMEM;
	}
	for (int i = 0; i < req->nfiles; i++) {
		err = split_path(req->files[i], &ws[i]);
		if (err)
			goto out;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, &oldmask)) {
		err = -errno;
		goto out;
	}
	masked = true;
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (sfd < 0 || ifd < 0) {
		err = -errno;
		fprintf(stderr, "xdpsvc apply --watch: %s: %s\n", sfd < 0 ? "signalfd" : "inotify_init1",
			strerror(-err));
		goto out;
	}
	/* Two files in one directory get the same wd back: one watch. */
	for (int i = 0; i < req->nfiles; i++) {
		ws[i].wd = inotify_add_watch(ifd, ws[i].dir, XS_WATCH_MASK);
		if (ws[i].wd < 0) {
			err = -errno;
			fprintf(stderr, "xdpsvc apply --watch: cannot watch directory %s (for %s): %s\n",
				ws[i].dir, req->files[i], strerror(-err));
			goto out;
		}
	}

	/* Watches first, then the first apply: a change made meanwhile is
	 * not lost. */
	apply_once(req, a);

	for (;;) {
		struct pollfd pfd[2] = { { .fd = sfd, .events = POLLIN }, { .fd = ifd, .events = POLLIN } };
		int timeout = -1, r;

		if (pending) {
			int64_t left = deadline - now_ms();

			if (left <= 0) {
				pending = false;
				apply_once(req, a);
				continue;
			}
			timeout = (int)left;
		}
		r = poll(pfd, 2, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			fprintf(stderr, "watch: poll: %s\n", strerror(-err));
			goto out;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			bool stop = false, hup = false;

			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP)
					hup = true;
				else
					stop = true;
			}
			if (stop) {
				fprintf(stderr, "watch: stopping\n");
				break;
			}
			if (hup) {
				pending = false; /* this apply covers the pending change too */
				apply_once(req, a);
			}
		}
		if ((pfd[1].revents & POLLIN) && read_events(ifd, ws, req->nfiles)) {
			pending = true;
			deadline = now_ms() + XS_DEBOUNCE_MS;
		}
	}
out:
	if (ifd >= 0)
		close(ifd);
	if (sfd >= 0)
		close(sfd);
	if (masked)
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
	for (int i = 0; i < req->nfiles; i++)
		free(ws[i].dir);
	free(ws);
	xs_applier_free(a);
	return err;
}
