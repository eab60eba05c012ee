/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Incremental Internet checksum updates (RFC 1624, eqn. 3) for XDP, where
 * the skb csum helpers are not available. Values are taken as they sit in
 * the packet; one's complement sums do not care about byte order as long as
 * both sides use the same one. */
#ifndef XS_CSUM_H
#define XS_CSUM_H

#include <linux/types.h>

static __always_inline __u16 csum_fold32(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* *sum is the stored (complemented) checksum; replace 32 bits from -> to. */
static __always_inline void csum_replace4(__u16 *sum, __u32 from, __u32 to)
{
	__u32 s = (__u16)~*sum;

	s += (__u16)~(from & 0xffff) + (__u16)~(from >> 16);
	s += (to & 0xffff) + (to >> 16);
	*sum = (__u16)~csum_fold32(s);
}

static __always_inline void csum_replace2(__u16 *sum, __u16 from, __u16 to)
{
	__u32 s = (__u16)~*sum;

	s += (__u16)~from + to;
	*sum = (__u16)~csum_fold32(s);
}

#endif
