/* SPDX-License-Identifier: MIT */
/* outcome.c -- classification of the ways a session ends. */
#include "wa/outcome.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wa/nodeb.h"

static const char *const kind_names[] = {
    "none",    "transport",  "handshake",  "protocol", "keepalive",   "stream_error",
    "failure", "stream_end", "qr_timeout", "pairing",  "md_mismatch",
};
static const char *const class_names[] = {
    "transient", "restart", "replaced", "logged_out", "temp_ban", "outdated", "needs_user", "fatal",
};

const char *wa_outcome_kind_name(enum wa_outcome_kind k)
{
    return (unsigned)k < sizeof(kind_names) / sizeof(*kind_names) ? kind_names[k] : "?";
}

const char *wa_outcome_class_name(enum wa_outcome_class c)
{
    return (unsigned)c < sizeof(class_names) / sizeof(*class_names) ? class_names[c] : "?";
}

void wa_outcome_set(struct wa_outcome *o, enum wa_outcome_kind k, enum wa_outcome_class cls,
                    int code, const char *fmt, ...)
{
    memset(o, 0, sizeof(*o));
    o->kind = k;
    o->cls = cls;
    o->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->text, sizeof(o->text), fmt, ap);
    va_end(ap);
}

static void classify_stream_error(const struct wa_node *n, struct wa_outcome *o)
{
    const struct wa_node *cf = wa_node_child(n, "conflict");
    const char *ctype = cf ? wa_node_attr(cf, "type") : NULL;
    int code = (int)wa_nb_attr_long(n, "code", cf ? 440 : 500);
    enum wa_outcome_class cls = WA_OC_TRANSIENT;
    if (code == 515)
        cls = WA_OC_RESTART;
    else if (code == 401 || (ctype && strcmp(ctype, "device_removed") == 0))
        cls = WA_OC_LOGGED_OUT;
    else if (code == 440 || (ctype && strcmp(ctype, "replaced") == 0))
        cls = WA_OC_REPLACED;
    const struct wa_node *first = wa_node_child_at(n, 0);
    wa_outcome_set(o, WA_OUT_STREAM_ERROR, cls, code, "stream:error %d%s%s%s%s", code,
                   first ? " <" : "", first ? first->tag.s : "", ctype ? " type=" : "",
                   ctype ? ctype : "");
    if (first) strncat(o->text, ">", sizeof(o->text) - strlen(o->text) - 1);
}

static void classify_failure(const struct wa_node *n, struct wa_outcome *o)
{
    int code = (int)wa_nb_attr_long(n, "reason", 500);
    enum wa_outcome_class cls = WA_OC_TRANSIENT;
    if (code == 401 || code == 403 || code == 406)
        cls = WA_OC_LOGGED_OUT;
    else if (code == 402)
        cls = WA_OC_TEMP_BAN;
    else if (code == 405)
        cls = WA_OC_OUTDATED;
    wa_outcome_set(o, WA_OUT_FAILURE, cls, code, "failure reason=%d", code);
    if (code == 402) {
        o->ban_code = (int)wa_nb_attr_long(n, "code", 0);
        o->expire = wa_nb_attr_long(n, "expire", 0);
        size_t l = strlen(o->text);
        snprintf(o->text + l, sizeof(o->text) - l, " (temporary ban, code %d, expires in %ld s)",
                 o->ban_code, o->expire);
    }
}

int wa_outcome_from_node(const struct wa_node *n, struct wa_outcome *o)
{
    if (wa_nb_is(n, "stream:error"))
        classify_stream_error(n, o);
    else if (wa_nb_is(n, "failure"))
        classify_failure(n, o);
    else if (wa_nb_is(n, "xmlstreamend"))
        wa_outcome_set(o, WA_OUT_STREAM_END, WA_OC_TRANSIENT, 428,
                       "xmlstreamend: server ended the stream");
    else
        return 0;
    return 1;
}

void wa_outcome_from_net(const struct nout *n, struct wa_outcome *o)
{
    int code = 408;
    if (n->stage == NOUT_WS && n->cause == NOUT_C_HTTP_STATUS && n->detail >= 400)
        code = (int)n->detail;
    else if (n->stage == NOUT_CLOSED || (n->stage == NOUT_WS && n->cause == NOUT_C_CLOSE_CODE))
        code = 428;
    wa_outcome_set(o, WA_OUT_TRANSPORT, nout_is_transient(n) ? WA_OC_TRANSIENT : WA_OC_FATAL, code,
                   "%s", n->text);
    o->net = *n;
}
