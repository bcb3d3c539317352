/* SPDX-License-Identifier: MIT */
/* sendres.h -- the domain answer to "send this message" (HTTP is made of it in gw/routes.c). */
#pragma once
#include <stdbool.h>

#include "store/msgstore.h"

struct gw_send_result {
    char id[ST_MSGID_MAX + 1]; /* the message id (of the existing row for a duplicate) */
    enum st_out_state state;   /* as committed */
    bool duplicate;            /* the idempotency key was known: nothing new queued */
    char error[256];           /* why, when the send was refused (-EINVAL, store errors) */
    size_t chunks; /* a long text sent as several messages (whatsapp.chunk_size): how many
                    * were queued (id is the first's); 0 = one message */
};
