/* SPDX-License-Identifier: MIT */
/* chlist.c -- see chlist.h. */
#include "gw/chlist.h"

#include <string.h>

#include "gw/channel.h"

struct gw_channel *gw_channel_list_find(const struct gw_channel_list *list, const char *account)
{
    for (size_t i = 0; i < list->n; i++)
        if (strcmp(gw_channel_account(list->v[i]), account) == 0) return list->v[i];
    return NULL;
}
