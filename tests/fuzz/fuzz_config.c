// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target for the config reader, xs_config_load() (loader/k8s.c).
 *
 * The input is kubectl JSON or YAML. A NUL byte splits it in two: the part
 * before goes to a first file, the part after to a second one, so the state
 * carried from one file to the next is fuzzed too (libyaml rejects a NUL
 * inside a file anyway). Each part is written to a memfd and read through its
 * /proc/self/fd/N path, exactly as `xdpsvc apply FILE...` reads a file. Notes
 * and errors go to /dev/null; the model is freed, so the leak checker
 * (-detect_leaks=1, the default under ASan) sees any leak of the reader.
 *
 * With two parts, the reader of apply --watch is fuzzed too: one file holds
 * the first part, then the second, loaded through one xs_config_cache; the
 * second load must give what a whole load of the second part gives.
 *
 * Build and run: make fuzz (FUZZ_SECONDS=300), or tests/fuzz_config.sh.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "k8s.h"

static FILE *devnull;

static void check(bool ok, const char *what, size_t i)
{
	if (!ok) {
		fprintf(stderr, "xs_config_load: model invariant broken: %s (frontend %zu)\n", what, i);
		abort();
	}
}

/* What model.h promises of a loaded model. */
static void check_model(const struct xs_model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct xs_frontend *fe = &m->fe[i];

		check(memchr(fe->ns, 0, sizeof(fe->ns)) && memchr(fe->name, 0, sizeof(fe->name)) &&
			      memchr(fe->port_name, 0, sizeof(fe->port_name)),
		      "name not NUL-terminated", i);
		check(fe->proto == IPPROTO_TCP || fe->proto == IPPROTO_UDP || fe->proto == IPPROTO_SCTP,
		      "protocol", i);
		check(xs_addr_is_v4(&fe->vip), "frontend not IPv4", i);
		check(!i || xs_frontend_cmp(&m->fe[i - 1], fe) < 0, "frontends not sorted or duplicate", i);
		check(!fe->n_backends || fe->backends, "backends NULL", i);
		check(!fe->n_terminating || fe->terminating, "terminating NULL", i);
		for (size_t j = 1; j < fe->n_backends; j++)
			check(xs_backend_addr_cmp(&fe->backends[j - 1], &fe->backends[j]) < 0,
			      "backends not sorted or duplicate", i);
		for (size_t j = 0; j < fe->n_backends; j++)
			check(xs_addr_is_v4(&fe->backends[j].addr) && fe->backends[j].port, "backend", i);
		for (size_t j = 0; j < fe->n_terminating; j++) {
			check(xs_addr_is_v4(&fe->terminating[j].addr) && fe->terminating[j].port,
			      "terminating backend", i);
			check(!j || xs_backend_addr_cmp(&fe->terminating[j - 1], &fe->terminating[j]) < 0,
			      "terminating not sorted or duplicate", i);
			check(!fe->n_backends || !bsearch(&fe->terminating[j], fe->backends, fe->n_backends,
							  sizeof(*fe->backends), xs_backend_addr_cmp),
			      "terminating backend also ready", i);
		}
	}
}

/* A memfd holding len bytes of p; its /proc/self/fd path goes to path. */
static int memfile(const uint8_t *p, size_t len, char *path, size_t size)
{
	int fd = memfd_create("fuzz_config", MFD_CLOEXEC);

	if (fd < 0) {
		perror("memfd_create");
		abort();
	}
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("write memfd");
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
	snprintf(path, size, "/proc/self/fd/%d", fd);
	return fd;
}

static bool same_model(const struct xs_model *a, const struct xs_model *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct xs_frontend *x = &a->fe[i], *y = &b->fe[i];

		if (xs_frontend_cmp(x, y) || strcmp(x->ns, y->ns) || strcmp(x->name, y->name) ||
		    strcmp(x->port_name, y->port_name) || x->scope != y->scope || x->flags != y->flags ||
		    x->affinity_s != y->affinity_s || x->n_backends != y->n_backends ||
		    x->n_terminating != y->n_terminating || x->n_src_ranges != y->n_src_ranges)
			return false;
		for (size_t j = 0; j < x->n_backends; j++)
			if (xs_backend_addr_cmp(&x->backends[j], &y->backends[j]))
				return false;
		for (size_t j = 0; j < x->n_terminating; j++)
			if (xs_backend_addr_cmp(&x->terminating[j], &y->terminating[j]))
				return false;
		for (size_t j = 0; j < x->n_src_ranges; j++)
			if (x->src_ranges[j].len != y->src_ranges[j].len ||
			    xs_addr_cmp(&x->src_ranges[j].addr, &y->src_ranges[j].addr))
				return false;
	}
	return true;
}

/* Part 1, then part 2, in one file through one cache: as a whole load. */
static void check_cached(const uint8_t *p1, size_t len1, const uint8_t *p2, size_t len2,
			 const struct xs_config_opts *opts)
{
	struct xs_config_cache *cache = xs_config_cache_new();
	struct xs_model c = { 0 }, w = { 0 };
	char path[64];
	const char *file = path;
	int fd = memfile(p1, len1, path, sizeof(path)), rc, rw;

	if (!cache)
		abort();
	xs_config_load_cached(&file, 1, opts, cache, &c);
	xs_model_free(&c);
	if (ftruncate(fd, 0) || pwrite(fd, p2, len2, 0) != (ssize_t)len2) {
		perror("memfd");
		abort();
	}
	rc = xs_config_load_cached(&file, 1, opts, cache, &c);
	rw = xs_config_load(&file, 1, opts, &w);
	if (rc != rw || !same_model(&c, &w)) {
		fprintf(stderr, "xs_config_load_cached returned %d and %zu frontends, xs_config_load %d and %zu\n",
			rc, c.n, rw, w.n);
		abort();
	}
	check_model(&c);
	xs_model_free(&c);
	xs_model_free(&w);
	xs_config_cache_free(cache);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t len1 = nul ? (size_t)(nul - data) : size;
	char path[2][64];
	const char *files[2] = { path[0], path[1] };
	int fd[2] = { -1, -1 }, nfiles = 1;
	struct xs_config_opts opts;
	struct xs_model m = { 0 };

	if (!devnull && !(devnull = fopen("/dev/null", "w"))) {
		perror("/dev/null");
		abort();
	}
	opts = (struct xs_config_opts){ .notes = devnull, .errors = devnull };
	fd[0] = memfile(data, len1, path[0], sizeof(path[0]));
	if (nul) {
		fd[1] = memfile(nul + 1, size - len1 - 1, path[1], sizeof(path[1]));
		nfiles = 2;
	}
	if (xs_config_load(files, nfiles, &opts, &m) && (m.fe || m.n)) {
		fprintf(stderr, "xs_config_load failed but left a model (%zu frontends)\n", m.n);
		abort();
	}
	check_model(&m);
	xs_model_free(&m);
	close(fd[0]);
	if (fd[1] >= 0)
		close(fd[1]);
	if (nul)
		check_cached(data, len1, nul + 1, size - len1 - 1, &opts);
	return 0;
}
