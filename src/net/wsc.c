/* SPDX-License-Identifier: MIT */
/* wsc.c -- WebSocket client codec: llhttp for the 101 response, wslay for frames.
 *
 * wslay is used in its event mode with memory callbacks: its recv callback reads from
 * `in` (the bytes of the current wsc_feed()), its send callback appends to `out`.
 * on_close is deferred until wslay_event_recv() has returned so that callers never see
 * it from inside wslay.
 */
#include "net/wsc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <llhttp.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <wslay/wslay.h>

#include "core/buf.h"

#define WS_GUID      "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define HDR_ITEM_MAX 1024

enum wsc_state { WSC_UPGRADE, WSC_OPEN, WSC_DONE };

struct wsc {
    enum wsc_state st;
    struct wsc_cbs cbs;
    void *ud;
    size_t max_msg, max_header, head_bytes;
    char key[WSC_KEY_LEN + 1];
    char accept[WSC_ACCEPT_LEN + 1];
    /* upgrade response parsing */
    llhttp_t http;
    llhttp_settings_t hs;
    char hname[HDR_ITEM_MAX], hval[HDR_ITEM_MAX];
    size_t hname_len, hval_len;
    bool h_trunc, saw_upgrade, saw_connection, saw_accept;
    bool head_done;
    struct nout fail; /* set by a header callback that rejects the response */
    /* frames */
    wslay_event_context_ptr ev;
    const uint8_t *in;
    size_t in_len;
    bool local_close;
    bool in_recv; /* inside wslay_event_recv(): queue only, wslay_event_send() after */
    struct buf out;
    struct nout result;
};

static void finish(struct wsc *w, const struct nout *o)
{
    if (w->st == WSC_DONE) return;
    w->st = WSC_DONE;
    w->result = *o;
    if (w->cbs.on_close) w->cbs.on_close(w->ud, &w->result);
}

static void finish_proto(struct wsc *w, const char *why)
{
    struct nout o;

    nout_set(&o, NOUT_WS, NOUT_C_PROTOCOL, -EPROTO, 0, "ws: protocol error (%s)", why);
    finish(w, &o);
}

int wsc_compute_accept(const char *key, char out[static WSC_ACCEPT_LEN + 1])
{
    char cat[128];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int n = snprintf(cat, sizeof(cat), "%s%s", key ? key : "", WS_GUID);

    if (!key || n < 0 || (size_t)n >= sizeof(cat)) return -EINVAL;
    if (EVP_Digest(cat, (size_t)n, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
        return -EINVAL;
    EVP_EncodeBlock((unsigned char *)out, md, 20);
    out[WSC_ACCEPT_LEN] = '\0';
    return 0;
}

/* ---- upgrade response ---------------------------------------------------------- */

static struct wsc *of(llhttp_t *p)
{
    return p->data;
}

static int append_item(char *dst, size_t *len, bool *trunc, const char *at, size_t n)
{
    if (*len + n >= HDR_ITEM_MAX) {
        *trunc = true;
        return 0;
    }
    memcpy(dst + *len, at, n);
    *len += n;
    dst[*len] = '\0';
    return 0;
}

static int on_hfield(llhttp_t *p, const char *at, size_t n)
{
    struct wsc *w = of(p);
    return append_item(w->hname, &w->hname_len, &w->h_trunc, at, n);
}

static int on_hvalue(llhttp_t *p, const char *at, size_t n)
{
    struct wsc *w = of(p);
    return append_item(w->hval, &w->hval_len, &w->h_trunc, at, n);
}

/* Does the comma-separated list `v` contain `tok` (case-insensitive)? */
static bool has_token(const char *v, const char *tok)
{
    size_t tl = strlen(tok);

    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        if (strncasecmp(v, tok, tl) == 0 &&
            (v[tl] == '\0' || v[tl] == ',' || v[tl] == ' ' || v[tl] == '\t'))
            return true;
        while (*v && *v != ',')
            v++;
    }
    return false;
}

static int reject(struct wsc *w, const char *why)
{
    nout_set(&w->fail, NOUT_WS, NOUT_C_PROTOCOL, -EPROTO, 0, "ws: protocol error (%s)", why);
    return -1;
}

static int on_hvalue_done(llhttp_t *p)
{
    struct wsc *w = of(p);
    const char *n = w->hname, *v = w->hval;
    int rc = 0;

    if (w->h_trunc)
        rc = reject(w, "header too long");
    else if (strcasecmp(n, "Upgrade") == 0)
        w->saw_upgrade = strcasecmp(v, "websocket") == 0;
    else if (strcasecmp(n, "Connection") == 0)
        w->saw_connection = has_token(v, "upgrade");
    else if (strcasecmp(n, "Sec-WebSocket-Accept") == 0) {
        if (strcmp(v, w->accept) != 0) rc = reject(w, "bad Sec-WebSocket-Accept");
        w->saw_accept = true;
    } else if (strcasecmp(n, "Sec-WebSocket-Extensions") == 0)
        rc = reject(w, "unrequested extension");
    w->hname_len = w->hval_len = 0;
    w->hname[0] = w->hval[0] = '\0';
    return rc;
}

static int on_head_done(llhttp_t *p)
{
    struct wsc *w = of(p);
    int status = llhttp_get_status_code(p);

    if (status != 101) {
        nout_set(&w->fail, NOUT_WS, NOUT_C_HTTP_STATUS, -EPROTO, status, "ws: HTTP %d", status);
        return -1;
    }
    if (!w->saw_upgrade) return reject(w, "missing Upgrade: websocket");
    if (!w->saw_connection) return reject(w, "missing Connection: upgrade");
    if (!w->saw_accept) return reject(w, "missing Sec-WebSocket-Accept");
    w->head_done = true;
    return 0;
}

/* ---- wslay callbacks ---------------------------------------------------------- */

static ssize_t ev_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    struct wsc *w = ud;
    size_t n = w->in_len < len ? w->in_len : len;

    if (n == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    memcpy(buf, w->in, n);
    w->in += n;
    w->in_len -= n;
    return (ssize_t)n;
}

static ssize_t ev_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
    struct wsc *w = ud;

    if (buf_append(&w->out, data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    return (ssize_t)len;
}

static int ev_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    if (RAND_bytes(buf, (int)len) != 1) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return 0;
}

static void ev_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                   void *ud)
{
    struct wsc *w = ud;

    if (a->opcode == WSLAY_BINARY_FRAME && w->cbs.on_message && w->st == WSC_OPEN)
        w->cbs.on_message(w->ud, a->msg, a->msg_length);
}

/* ---- lifecycle ------------------------------------------------------------------ */

static int build_request(struct wsc *w, const struct wsc_opts *o)
{
    unsigned char raw[16];

    if (RAND_bytes(raw, sizeof(raw)) != 1) return -EIO;
    EVP_EncodeBlock((unsigned char *)w->key, raw, sizeof(raw));
    if (wsc_compute_accept(w->key, w->accept) != 0) return -EINVAL;
    return buf_printf(&w->out,
                      "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                      "Sec-WebSocket-Version: 13\r\nOrigin: %s\r\n"
                      "Cache-Control: no-cache\r\nPragma: no-cache\r\n\r\n",
                      o->path, o->host, w->key, o->origin ? o->origin : "https://web.whatsapp.com");
}

static bool header_safe(const char *s)
{
    return s && *s && !strpbrk(s, "\r\n") && strlen(s) < 1024;
}

struct wsc *wsc_new(const struct wsc_opts *o, const struct wsc_cbs *cbs, void *ud, char *err,
                    size_t errlen)
{
    static const struct wslay_event_callbacks evcb = {
        .recv_callback = ev_recv,
        .send_callback = ev_send,
        .genmask_callback = ev_genmask,
        .on_msg_recv_callback = ev_msg,
    };
    struct wsc *w;

    if (!o || !header_safe(o->host) || !header_safe(o->path) || o->path[0] != '/' ||
        (o->origin && !header_safe(o->origin))) {
        snprintf(err, errlen, "invalid WebSocket host, path or origin");
        return NULL;
    }
    w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->cbs = *cbs;
    w->ud = ud;
    w->max_msg = o->max_msg ? o->max_msg : WSC_DEFAULT_MAX_MSG;
    w->max_header = o->max_header ? o->max_header : WSC_DEFAULT_MAX_HDR;
    buf_init(&w->out, WSC_MAX_OUT);
    llhttp_settings_init(&w->hs);
    w->hs.on_header_field = on_hfield;
    w->hs.on_header_value = on_hvalue;
    w->hs.on_header_value_complete = on_hvalue_done;
    w->hs.on_headers_complete = on_head_done;
    llhttp_init(&w->http, HTTP_RESPONSE, &w->hs);
    w->http.data = w;
    if (wslay_event_context_client_init(&w->ev, &evcb, w) != 0 || build_request(w, o) != 0) {
        snprintf(err, errlen, "cannot initialise the WebSocket client");
        return wsc_free(w);
    }
    wslay_event_config_set_max_recv_msg_length(w->ev, w->max_msg);
    return w;
}

struct wsc *wsc_free(struct wsc *w)
{
    if (!w) return NULL;
    if (w->ev) wslay_event_context_free(w->ev);
    buf_free(&w->out);
    free(w);
    return NULL;
}

static void check_closed(struct wsc *w)
{
    struct nout o;

    if (wslay_event_get_close_received(w->ev)) {
        uint16_t code = wslay_event_get_status_code_received(w->ev);

        if (w->local_close)
            nout_set(&o, NOUT_CLOSED, NOUT_C_LOCAL_CLOSE, -ECONNABORTED, code,
                     "closed: by local request");
        else
            nout_set(&o, NOUT_WS, NOUT_C_CLOSE_CODE, -ECONNRESET, code,
                     "ws: closed by peer (code %u)", (unsigned)code);
        finish(w, &o);
    } else if (wslay_event_get_close_sent(w->ev) && !w->local_close) {
        char why[48];

        snprintf(why, sizeof(why), "close %u sent",
                 (unsigned)wslay_event_get_status_code_sent(w->ev));
        finish_proto(w, why);
    }
}

static int feed_frames(struct wsc *w, const uint8_t *data, size_t n)
{
    int rc;

    w->in = data;
    w->in_len = n;
    w->in_recv = true;
    rc = wslay_event_recv(w->ev);
    w->in_recv = false;
    w->in = NULL;
    w->in_len = 0;
    wslay_event_send(w->ev); /* pongs and close replies into `out` */
    if (rc != 0) {
        finish_proto(w, rc == WSLAY_ERR_NOMEM ? "out of memory" : "invalid frame");
        return -EPROTO;
    }
    check_closed(w);
    return w->st == WSC_DONE ? -EPIPE : 0;
}

static int feed_head(struct wsc *w, const uint8_t *data, size_t n)
{
    llhttp_errno_t e;
    size_t used;
    struct nout o;

    e = llhttp_execute(&w->http, (const char *)data, n);
    if (e == HPE_OK && !w->head_done) {
        w->head_bytes += n;
        if (w->head_bytes > w->max_header) {
            finish_proto(w, "upgrade response too large");
            return -EPROTO;
        }
        return 0;
    }
    if (e != HPE_PAUSED_UPGRADE || !w->head_done) {
        if (w->fail.stage == NOUT_NONE)
            nout_set(&w->fail, NOUT_WS, NOUT_C_PROTOCOL, -EPROTO, 0, "ws: protocol error (%s)",
                     e == HPE_OK ? "no upgrade" : llhttp_errno_name(e));
        o = w->fail;
        finish(w, &o);
        return -EPROTO;
    }
    used = (size_t)(llhttp_get_error_pos(&w->http) - (const char *)data);
    if (used > n || w->head_bytes + used > w->max_header) {
        finish_proto(w, "upgrade response too large");
        return -EPROTO;
    }
    w->st = WSC_OPEN;
    if (w->cbs.on_open) w->cbs.on_open(w->ud);
    if (w->st != WSC_OPEN) return -EPIPE;
    return used < n ? feed_frames(w, data + used, n - used) : 0;
}

int wsc_feed(struct wsc *w, const uint8_t *data, size_t n)
{
    if (w->st == WSC_DONE) return -EPIPE;
    if (n == 0) return 0;
    if (w->st == WSC_UPGRADE) return feed_head(w, data, n);
    return feed_frames(w, data, n);
}

void wsc_feed_eof(struct wsc *w)
{
    struct nout o;

    if (w->st == WSC_UPGRADE)
        nout_set(&o, NOUT_WS, NOUT_C_EOF, -EPIPE, 0, "ws: closed during upgrade");
    else if (w->local_close)
        nout_set(&o, NOUT_CLOSED, NOUT_C_LOCAL_CLOSE, -ECONNABORTED, 0, "closed: by local request");
    else
        nout_set(&o, NOUT_WS, NOUT_C_CLOSE_CODE, -ECONNRESET, 1006,
                 "ws: closed by peer (code 1006)");
    finish(w, &o);
}

int wsc_send_binary(struct wsc *w, const void *data, size_t n)
{
    struct wslay_event_msg m = {.opcode = WSLAY_BINARY_FRAME, .msg = data, .msg_length = n};
    int rc;

    if (w->st != WSC_OPEN || w->local_close) return -ENOTCONN;
    if (n > w->max_msg) return -EMSGSIZE;
    if (wsc_pending(w) + n > WSC_MAX_OUT) return -ENOBUFS;
    rc = wslay_event_queue_msg(w->ev, &m);
    if (rc == WSLAY_ERR_NOMEM) return -ENOMEM;
    if (rc != 0) return -ENOTCONN;
    if (!w->in_recv) wslay_event_send(w->ev);
    return 0;
}

int wsc_close(struct wsc *w, uint16_t code)
{
    if (w->st != WSC_OPEN || w->local_close) return 0;
    w->local_close = true;
    if (wslay_event_queue_close(w->ev, code, NULL, 0) != 0) return -ENOTCONN;
    if (!w->in_recv) wslay_event_send(w->ev);
    return 0;
}

const uint8_t *wsc_out(const struct wsc *w, size_t *len)
{
    *len = w->out.len;
    return w->out.data;
}

void wsc_out_consume(struct wsc *w, size_t n)
{
    buf_consume(&w->out, n > w->out.len ? w->out.len : n);
    if (w->st == WSC_OPEN && !w->in_recv)
        wslay_event_send(w->ev); /* pull more queued frames now that there is room */
}

size_t wsc_pending(const struct wsc *w)
{
    return w->out.len + (w->ev ? wslay_event_get_queued_msg_length(w->ev) : 0);
}

bool wsc_is_open(const struct wsc *w)
{
    return w->st == WSC_OPEN;
}

bool wsc_is_done(const struct wsc *w)
{
    return w->st == WSC_DONE;
}

const char *wsc_key(const struct wsc *w)
{
    return w->key;
}

const char *wsc_expected_accept(const struct wsc *w)
{
    return w->accept;
}
