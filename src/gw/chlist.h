/* SPDX-License-Identifier: MIT */
/* chlist.h -- the daemon's channels, as the API routes see them (gw/routes.c,
 * gw/routes_media.c). The list does not own the channels (gw/daemon.c does). */
#pragma once
#include <stddef.h>

#include "core/config.h"

struct gw_channel;

struct gw_channel_list {
    struct gw_channel *v[CFG_MAX_ACCOUNTS];
    size_t n;
};

/* The channel of an account, or NULL. */
struct gw_channel *gw_channel_list_find(const struct gw_channel_list *list, const char *account);
