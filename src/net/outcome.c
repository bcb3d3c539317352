/* SPDX-License-Identifier: MIT */
/* outcome.c -- typed connection outcomes and their text form. */
#include "net/outcome.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void nout_clear(struct nout *o)
{
    memset(o, 0, sizeof(*o));
}

void nout_set(struct nout *o, enum nout_stage stage, enum nout_cause cause, int err, long detail,
              const char *fmt, ...)
{
    va_list ap;

    o->stage = stage;
    o->cause = cause;
    o->err = err;
    o->detail = detail;
    va_start(ap, fmt);
    vsnprintf(o->text, sizeof(o->text), fmt, ap);
    va_end(ap);
}

const char *nout_stage_name(enum nout_stage s)
{
    switch (s) {
    case NOUT_NONE:
        return "none";
    case NOUT_URL:
        return "url";
    case NOUT_DNS:
        return "dns";
    case NOUT_CONNECT:
        return "connect";
    case NOUT_TLS:
        return "tls";
    case NOUT_WS:
        return "ws";
    case NOUT_CLOSED:
        return "closed";
    case NOUT_INTERNAL:
        return "internal";
    }
    return "?";
}

const char *nout_errno_name(int err)
{
    const char *n;

    if (err < 0) err = -err;
    n = strerrorname_np(err);
    return n ? n : "EUNKNOWN";
}

bool nout_is_transient(const struct nout *o)
{
    return o->stage != NOUT_URL && o->stage != NOUT_NONE;
}
