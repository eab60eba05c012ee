/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Loading the programs, pinning them and their maps, attaching to a device. */
#ifndef XS_ATTACH_H
#define XS_ATTACH_H

#include <stdbool.h>
#include "xdpsvc.h"

struct xs_attach_opts {
	const char *dev;
	const char *pin;
	/* Which hook translates the NIC's ingress: XS_ATTACH_AUTO picks one
	 * that delivers (see xs_attach); the others insist. */
	enum { XS_ATTACH_AUTO, XS_ATTACH_NATIVE, XS_ATTACH_GENERIC, XS_ATTACH_TC } mode;
	bool force;     /* replace someone else's XDP program */
	bool recreate_maps; /* replace pinned maps this build cannot reuse */
	/* Map sizes (entries); 0 = keep the pinned size, or the default. */
	__u32 max_services; /* frontends: xs_services, xs_svc_stats, xs_svc_meta */
	__u32 max_backends; /* xs_backends */
	__u32 max_slots;    /* xs_slots */
	__u32 ct_size;      /* xs_conntrack, two entries per flow */
	struct xs_config cfg; /* timeouts; zero fields take the defaults */
};

/* 0, or -EPERM after saying on stderr which capabilities this process lacks
 * for cmd ("attach" and "detach" need more than the others; NULL: a command
 * that only uses the pinned maps). */
int xs_check_privileges(const char *cmd);
/* Make sure pin is a directory on a bpffs. With create, mount a bpffs on its
 * parent when there is none (and say so) and create the directory. */
int xs_pin_dir_ensure(const char *pin, bool create);
/* Take the pin directory's lock, which serialises the writers of its state:
 * the open descriptor (close it to unlock), or -errno after saying why. */
int xs_pin_dir_lock(const char *pin);
/* *chosen: the enum xs_nic_mode attach settled on; why: in words. */
int xs_attach(const struct xs_attach_opts *o, __u32 *chosen, char *why, size_t why_len);
int xs_detach(const char *dev, const char *pin, bool purge);
/* The pinned pod program (pinned by xs_attach) on the ingress of each of
 * devs, the node's end of a pod's veth; every device is checked before any
 * is changed. Detach also removes it from every device of the namespace. */
int xs_attach_pod(const char *const *devs, int n, const char *pin);
int xs_detach_pod(const char *const *devs, int n, const char *pin);
/* Route libbpf's messages: warnings only, everything with verbose. */
void xs_libbpf_logging(bool verbose);

#endif
