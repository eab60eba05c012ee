// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include "addr.h"

int xs_addr_parse(const char *s, struct xs_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, &out->v4) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &out->v6) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

const char *xs_addr_str(const struct xs_addr *a, char *buf)
{
	if (!inet_ntop(a->family, a->family == AF_INET ? (const void *)&a->v4 : (const void *)&a->v6,
		       buf, XS_ADDR_STRLEN))
		strcpy(buf, "?");
	return buf;
}

int xs_addr_cmp(const struct xs_addr *a, const struct xs_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->family == AF_INET) {
		uint32_t x = ntohl(a->v4.s_addr), y = ntohl(b->v4.s_addr);
		return x < y ? -1 : x > y;
	}
	return memcmp(&a->v6, &b->v6, sizeof(a->v6));
}
