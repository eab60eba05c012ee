/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Addresses, in one place. Today the datapath is IPv4 only; an xs_addr
 * already carries its family so IPv6 can be added here and in the map
 * writer without touching the config reader.
 */
#ifndef XS_ADDR_H
#define XS_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

struct xs_addr {
	uint8_t family;           /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;    /* network order */
		struct in6_addr v6;
	};
};

#define XS_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */

/* Parse a literal IPv4 or IPv6 address (no prefix, no zone). 0 or -EINVAL. */
int xs_addr_parse(const char *s, struct xs_addr *out);
/* Format into buf (XS_ADDR_STRLEN bytes); returns buf. */
const char *xs_addr_str(const struct xs_addr *a, char *buf);
int xs_addr_cmp(const struct xs_addr *a, const struct xs_addr *b);
static inline bool xs_addr_is_v4(const struct xs_addr *a) { return a->family == AF_INET; }

#endif
