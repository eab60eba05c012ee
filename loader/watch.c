// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include "apply.h"

int xs_watch(const struct xs_apply_req *req)
{
	fprintf(stderr, "xdpsvc: --watch is not implemented yet\n");
	return -ENOSYS;
}
