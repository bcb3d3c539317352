/* SPDX-License-Identifier: MIT */
/* client.c -- WhatsApp connection core: state, lifecycle, transport, Noise frames, sending,
 * the deadline timer and the dispatch of received stanzas.
 *
 * The protocol's steps live beside it and share wa/client_int.h (private): keepalive.c
 * (pings, health), prekeys.c (count, upload, top-up), pairflow.c (QR refs, pair-device,
 * pair-success), login.c (<success>, the offline marker, passive); wa/iqtab.h holds the
 * pending iqs and wa/outcome.h classifies the ways a session ends.
 *
 * Order of work: transport callbacks (nconn) feed the frame decoder; each frame is the
 * server hello (HANDSHAKE) or a transport frame that is decrypted, decoded into a node and
 * dispatched. One `tick` timer is armed, one-shot, for the earliest pending deadline (state
 * deadline, iq timeouts, QR rotation, offline marker, next keepalive) and re-armed after
 * each transport callback, new iq and tick, so an idle session sleeps until its next
 * keepalive instead of waking periodically; a zero-delay `defer` timer delivers the end of a
 * session (pending iqs fail, then on_close) so that no callback runs from the call that
 * caused it. Resources of an ended session (Noise state, frame decoder) are released at the
 * next start or at close, never while a dispatch loop may still be using them: after every
 * user callback and every frame, dispatch re-checks `wa_cl_alive()` (closing flag, generation and
 * state) before touching anything else.
 */
#include "wa/client.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "net/conn.h"
#include "signal/sg_crypto.h"
#include "wa/cert.h"
#include "wa/client_int.h"
#include "wa/nodeb.h"
#include "wa/payload.h"

#define DEFAULT_URL        "wss://web.whatsapp.com/ws/chat"
#define DEFAULT_MAX_OUTBUF (16u << 20)

/* ---------------------------------------------------------------- state */

static const char *const state_names[] = {
    "idle", "connecting", "handshake", "pairing", "logging_in", "connected", "closed",
};

const char *wa_client_state_name(enum wa_client_state s)
{
    return (unsigned)s < sizeof(state_names) / sizeof(*state_names) ? state_names[s] : "?";
}

void wa_cl_set_state(struct wa_client *c, enum wa_client_state s, const char *reason,
                     int deadline_ms)
{
    log_debug("wa", c->acct, "client: %s -> %s (%s)", wa_client_state_name(c->state),
              wa_client_state_name(s), reason);
    c->state = s;
    c->deadline = deadline_ms > 0 ? wa_cl_now(c) + (uint64_t)deadline_ms : 0;
    c->deadline_what = reason;
}

static void on_defer(uv_timer_t *t);

void wa_cl_end(struct wa_client *c, const struct wa_outcome *o)
{
    if (!wa_cl_live(c)) return;
    wa_cl_set_state(c, WA_CS_CLOSED, o->text, 0);
    nconn_close(c->nc);
    c->nc = NULL;
    uv_timer_stop(&c->tick);
    c->end_o = *o;
    c->end_pending = true;
    uv_timer_start(&c->defer, on_defer, 0, 0);
}

void wa_cl_end_with(struct wa_client *c, enum wa_outcome_kind k, enum wa_outcome_class cls,
                    int code, const char *fmt, ...)
{
    struct wa_outcome o;
    wa_outcome_set(&o, k, cls, code, "%s", "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o.text, sizeof(o.text), fmt, ap);
    va_end(ap);
    wa_cl_end(c, &o);
}

/* Deliver the end of a session: pending iqs fail, then the sink's ended, then on_close. */
static void on_defer(uv_timer_t *t)
{
    struct wa_client *c = t->data;
    if (!c->end_pending || c->closing) return;
    struct wa_outcome o = c->end_o;
    wa_iqtab_fail_all(&c->iqs, -ENOTCONN);
    if (c->closing) return;
    log_debug("wa", c->acct, "client: session %u ended: %s [%s, code %d]", c->gen, o.text,
              wa_outcome_class_name(o.cls), o.code);
    if (c->sink.ended) { /* still end_pending: a restart from here is -EBUSY */
        c->sink.ended(c->sink.ud);
        if (c->closing) return;
    }
    c->end_pending = false;
    if (c->cbs.on_close) c->cbs.on_close(c->ud, &o);
}

/* ---------------------------------------------------------------- sending */

void wa_client_new_id(struct wa_client *c, char *out, size_t outlen)
{
    snprintf(out, outlen, "%08" PRIx32 "-%" PRIu64, c->id_prefix, ++c->id_counter);
}

static bool can_send(const struct wa_client *c)
{
    return wa_cl_live(c) && c->nc && c->noise && wa_noise_is_transport(c->noise);
}

int wa_client_send_node(struct wa_client *c, const struct wa_node *n)
{
    if (!c || !n) return -EINVAL;
    if (!can_send(c)) return -ENOTCONN;
    if (nconn_pending(c->nc) > c->o.max_outbuf) return -ENOBUFS;
    struct buf pt, ct, fr;
    buf_init(&pt, c->o.max_frame);
    buf_init(&ct, 0);
    buf_init(&fr, 0);
    char err[WA_NODE_ERR_MAX];
    int rc = wa_node_encode(n, &pt, err, sizeof(err));
    if (rc == -ENOBUFS) rc = -EMSGSIZE;
    if (rc == 0) rc = wa_noise_encrypt(c->noise, pt.data, pt.len, &ct);
    if (rc == 0) rc = wa_frame_encode(&c->fe, &fr, ct.data, ct.len);
    if (rc == 0) rc = nconn_send(c->nc, fr.data, fr.len);
    if (rc < 0) log_debug("wa", c->acct, "client: send <%s> failed: %d", n->tag.s, rc);
    buf_free(&pt);
    buf_free(&ct);
    buf_free(&fr);
    return rc;
}

int wa_client_send_iq(struct wa_client *c, const struct wa_node *iq, int timeout_ms, wa_iq_cb cb,
                      void *ud)
{
    if (!c || !iq || !cb) return -EINVAL;
    const char *id = wa_node_attr(iq, "id");
    if (!id || !*id) return -EINVAL;
    if (!can_send(c)) return -ENOTCONN;
    uint64_t deadline = wa_cl_now(c) + (uint64_t)(timeout_ms > 0 ? timeout_ms : c->o.iq_timeout_ms);
    int rc = wa_iqtab_add(&c->iqs, id, deadline, cb, ud);
    if (rc < 0) return rc;
    rc = wa_client_send_node(c, iq);
    if (rc < 0)
        wa_iqtab_remove(&c->iqs, id);
    else
        wa_cl_arm(c); /* the new iq's deadline may be the earliest */
    return rc;
}

struct wa_node *wa_cl_mk_iq(struct wa_client *c, const char *type, const char *xmlns)
{
    char id[40];
    struct wa_jid s;
    wa_client_new_id(c, id, sizeof(id));
    struct wa_node *n = wa_node_new("iq");
    if (!n || wa_node_set_attr(n, "id", id) < 0 || wa_jid_set(&s, "", WA_SERVER_PN) < 0 ||
        wa_node_set_attr_jid(n, "to", &s) < 0 || wa_node_set_attr(n, "type", type) < 0 ||
        (xmlns && wa_node_set_attr(n, "xmlns", xmlns) < 0)) {
        wa_node_free(n);
        return NULL;
    }
    return n;
}

void wa_cl_send_iq(struct wa_client *c, struct wa_node *iq, int timeout_ms, wa_iq_cb cb)
{
    int rc = iq ? wa_client_send_iq(c, iq, timeout_ms, cb, c) : -ENOMEM;
    const char *tag = iq ? "iq" : "(none)";
    wa_node_free(iq);
    if (rc < 0)
        wa_cl_end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500, "client: cannot send %s: %s", tag,
                       strerror(-rc));
}

void wa_cl_send_owned(struct wa_client *c, struct wa_node *n)
{
    int rc = n ? wa_client_send_node(c, n) : -ENOMEM;
    wa_node_free(n);
    if (rc < 0)
        wa_cl_end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500, "client: send failed: %s",
                       strerror(-rc));
}

/* ---------------------------------------------------------------- deadlines */

static void on_tick(uv_timer_t *t);

static void take_min(uint64_t *next, uint64_t t)
{
    if (t && t < *next) *next = t;
}

/* The one deadline timer is armed for the earliest pending deadline and sleeps otherwise:
 * an idle connected session wakes only for its keepalive. Call after anything that may
 * set a deadline; an early wake-up is harmless (on_tick re-arms). */
void wa_cl_arm(struct wa_client *c)
{
    if (!wa_cl_live(c) || uv_is_closing((uv_handle_t *)&c->tick)) return;
    uint64_t next = UINT64_MAX;
    take_min(&next, c->deadline);
    take_min(&next, wa_iqtab_next_deadline(&c->iqs));
    take_min(&next, wa_cl_pair_deadline(c));
    take_min(&next, wa_cl_login_deadline(c));
    take_min(&next, wa_cl_ka_deadline(c));
    take_min(&next, wa_cl_spk_deadline(c));
    if (next == UINT64_MAX) {
        uv_timer_stop(&c->tick);
        return;
    }
    uint64_t now = wa_cl_now(c);
    uv_timer_start(&c->tick, on_tick, next > now ? next - now : 0, 0);
}

static void on_tick(uv_timer_t *t)
{
    struct wa_client *c = t->data;
    unsigned gen = c->gen;
    if (!wa_cl_alive(c, gen)) return;
    uint64_t now = wa_cl_now(c);
    if (c->deadline && now >= c->deadline) {
        enum wa_outcome_kind k = c->state == WA_CS_HANDSHAKE ? WA_OUT_HANDSHAKE : WA_OUT_PROTOCOL;
        wa_cl_end_with(c, k, WA_OC_TRANSIENT, 408, "%s: timeout (%s)",
                       wa_client_state_name(c->state), c->deadline_what);
        return;
    }
    while (wa_cl_alive(c, gen) && wa_iqtab_expire_one(&c->iqs, now))
        ;
    if (!wa_cl_alive(c, gen)) return;
    wa_cl_pair_tick(c, wa_cl_now(c));
    if (!wa_cl_alive(c, gen)) return;
    wa_cl_login_tick(c, now);
    if (!wa_cl_alive(c, gen)) return;
    wa_cl_ka_tick(c, now);
    if (!wa_cl_alive(c, gen)) return;
    wa_cl_spk_tick(c, now);
    if (wa_cl_alive(c, gen)) wa_cl_arm(c);
}

/* ---------------------------------------------------------------- dispatch */

bool wa_cl_from_server(const struct wa_node *n)
{
    struct wa_jid j;
    return wa_node_attr_jid(n, "from", &j) == 0 && !j.user[0] &&
           strcmp(j.server, WA_SERVER_PN) == 0;
}

/* Handle a server iq (set/get). True if the core handled it. */
static bool handle_server_iq(struct wa_client *c, const struct wa_node *n)
{
    const char *xmlns = wa_node_attr(n, "xmlns");
    if (!xmlns || !wa_cl_from_server(n)) return false;
    if (strcmp(xmlns, "md") == 0) return wa_cl_pair_iq(c, n);
    if (strcmp(xmlns, "urn:xmpp:ping") == 0) {
        wa_cl_ka_answer(c, n);
        return true;
    }
    return false;
}

/* <stream:error>, <failure>, <xmlstreamend/>: the session ends (wa/outcome.h). */
static bool on_session_end(struct wa_client *c, const struct wa_node *n)
{
    struct wa_outcome o;
    if (!wa_outcome_from_node(n, &o)) return false;
    wa_cl_end(c, &o);
    return true;
}

/* iq result/error: the pending-iq table; get/set from the server: handle_server_iq. */
static bool on_iq(struct wa_client *c, const struct wa_node *n)
{
    const char *type = wa_node_attr(n, "type");
    if (type && (!strcmp(type, "result") || !strcmp(type, "error")))
        return wa_iqtab_complete(&c->iqs, n);
    return handle_server_iq(c, n);
}

/* type=encrypt <count>: pre-key top-up; type=link_code_companion_reg: pairing by code. */
static bool on_notification(struct wa_client *c, const struct wa_node *n)
{
    return wa_cl_pk_notification(c, n) || wa_cl_code_notification(c, n);
}

/* The stanzas the connection core owns. A handler returns true when it handled the stanza;
 * anything else (and what a handler declines) goes up: to the sink, or cbs.on_node. */
static const struct {
    const char *tag;
    bool (*fn)(struct wa_client *c, const struct wa_node *n);
} stanza_table[] = {
    {"stream:error", on_session_end},
    {"failure", on_session_end},
    {"xmlstreamend", on_session_end},
    {"iq", on_iq},
    {"success", wa_cl_login_success},  /* while logging in */
    {"ib", wa_cl_login_ib},            /* offline marker, downgrade_webclient */
    {"notification", on_notification}, /* pre-key count, pairing-code stage */
};

static void dispatch(struct wa_client *c, const struct wa_node *n)
{
    bool handled = false;
    for (size_t i = 0; i < sizeof(stanza_table) / sizeof(*stanza_table); i++) {
        if (!wa_nb_is(n, stanza_table[i].tag)) continue;
        handled = stanza_table[i].fn(c, n);
        break;
    }
    if (handled || !wa_cl_live(c)) return;
    if (c->sink_set) {
        if (c->sink.node) c->sink.node(c->sink.ud, n);
    } else if (c->cbs.on_node) {
        c->cbs.on_node(c->ud, n);
    }
}

/* ---------------------------------------------------------------- transport */

static int send_raw_frame(struct wa_client *c, const struct buf *payload)
{
    struct buf fr;
    buf_init(&fr, 0);
    int rc = wa_frame_encode(&c->fe, &fr, payload->data, payload->len);
    if (rc == 0) rc = nconn_send(c->nc, fr.data, fr.len);
    buf_free(&fr);
    return rc;
}

static void handshake_frame(struct wa_client *c, const uint8_t *f, size_t len)
{
    int rc = wa_noise_read_server_hello(c->noise, f, len);
    if (rc < 0) {
        wa_cl_end_with(c, WA_OUT_HANDSHAKE, WA_OC_TRANSIENT, 500, "noise: %s",
                       wa_noise_last_error(c->noise));
        return;
    }
    bool paired = wa_creds_is_paired(&c->creds);
    struct buf pl, msg;
    buf_init(&pl, WA_PAYLOAD_MAX);
    buf_init(&msg, 0);
    rc = paired ? wa_payload_login(&c->creds, &pl) : wa_payload_registration(&c->creds, &pl);
    if (rc == 0) rc = wa_noise_write_client_finish(c->noise, pl.data, pl.len, &msg);
    if (rc == 0) rc = send_raw_frame(c, &msg);
    buf_free(&pl);
    buf_free(&msg);
    if (rc < 0) {
        wa_cl_end_with(c, WA_OUT_HANDSHAKE, WA_OC_TRANSIENT, 500, "noise: client finish failed: %s",
                       strerror(-rc));
        return;
    }
    wa_cl_set_state(c, paired ? WA_CS_LOGGING_IN : WA_CS_PAIRING,
                    paired ? "login payload sent" : "registration payload sent",
                    c->o.login_timeout_ms);
}

static void transport_frame(struct wa_client *c, const uint8_t *f, size_t len)
{
    struct buf pt;
    buf_init(&pt, c->o.max_frame);
    int rc = wa_noise_decrypt(c->noise, f, len, &pt);
    if (rc < 0) {
        buf_free(&pt);
        wa_cl_end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500, "noise: %s",
                       wa_noise_last_error(c->noise));
        return;
    }
    struct wa_node *n = NULL;
    char err[WA_NODE_ERR_MAX] = "";
    rc = wa_node_decode(pt.data, pt.len, &c->lim, &n, err, sizeof(err));
    buf_free(&pt);
    if (rc < 0) {
        wa_cl_end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500, "node: %s", err);
        return;
    }
    dispatch(c, n);
    wa_node_free(n);
}

static void on_nc_open(struct nconn *nc, void *ud)
{
    struct wa_client *c = ud;
    if (nc != c->nc || !wa_cl_live(c)) return;
    struct buf hello;
    buf_init(&hello, 0);
    int rc = wa_noise_write_client_hello(c->noise, &hello);
    if (rc == 0) rc = send_raw_frame(c, &hello);
    buf_free(&hello);
    if (rc < 0) {
        wa_cl_end_with(c, WA_OUT_HANDSHAKE, WA_OC_TRANSIENT, 500, "noise: client hello failed: %s",
                       strerror(-rc));
        return;
    }
    wa_cl_set_state(c, WA_CS_HANDSHAKE, "transport open, client hello sent",
                    c->o.handshake_timeout_ms);
    wa_cl_arm(c);
}

static void on_nc_message(struct nconn *nc, void *ud, const uint8_t *data, size_t len)
{
    struct wa_client *c = ud;
    unsigned gen = c->gen;
    while (nc == c->nc && wa_cl_alive(c, gen) && len > 0) {
        size_t used = 0, flen = 0;
        const uint8_t *f = NULL;
        int rc = wa_frame_decode(&c->fd, data, len, &used, &f, &flen);
        data += used;
        len -= used;
        if (rc < 0) {
            wa_cl_end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500, "frame: %s",
                           wa_frame_decoder_error(&c->fd));
            return;
        }
        if (rc == 0) break;
        if (c->state == WA_CS_HANDSHAKE)
            handshake_frame(c, f, flen);
        else if (c->state > WA_CS_HANDSHAKE)
            transport_frame(c, f, flen);
        else
            wa_cl_end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500, "frame before the handshake");
    }
    if (nc == c->nc && wa_cl_alive(c, gen))
        wa_cl_arm(c); /* frames move deadlines (state, iqs, pings) */
}

static void on_nc_close(struct nconn *nc, void *ud, const struct nout *no)
{
    struct wa_client *c = ud;
    if (nc != c->nc || !wa_cl_live(c)) return;
    struct wa_outcome o;
    wa_outcome_from_net(no, &o);
    wa_cl_end(c, &o);
}

/* ---------------------------------------------------------------- lifecycle */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int dflt(int v, int d)
{
    return v > 0 ? v : d;
}

static void resolve_opts(struct wa_client_opts *o)
{
    o->handshake_timeout_ms = dflt(o->handshake_timeout_ms, 20000);
    o->login_timeout_ms = dflt(o->login_timeout_ms, 20000);
    o->qr_first_ms = dflt(o->qr_first_ms, 60000);
    o->qr_next_ms = dflt(o->qr_next_ms, 20000);
    o->keepalive_min_ms = dflt(o->keepalive_min_ms, 20000);
    o->keepalive_max_ms = dflt(o->keepalive_max_ms, 30000);
    if (o->keepalive_max_ms < o->keepalive_min_ms) o->keepalive_max_ms = o->keepalive_min_ms;
    o->keepalive_deadline_ms = dflt(o->keepalive_deadline_ms, 10000);
    o->keepalive_fail_ms = dflt(o->keepalive_fail_ms, 180000);
    o->iq_timeout_ms = dflt(o->iq_timeout_ms, 30000);
    if (!o->prekey_min) o->prekey_min = 5;
    if (!o->prekey_initial) o->prekey_initial = 812;
    if (!o->prekey_batch) o->prekey_batch = 50;
    if (!o->spk_keep_s) o->spk_keep_s = 90u * 86400u;
    if (!o->spk_keep_max) o->spk_keep_max = 4;
    if (!o->max_pending_iq) o->max_pending_iq = 256;
    if (!o->max_frame || o->max_frame > WA_FRAME_MAX_LIMIT) o->max_frame = WA_FRAME_MAX_DEFAULT;
    if (!o->max_outbuf) o->max_outbuf = DEFAULT_MAX_OUTBUF;
}

static void free_client(struct wa_client *c)
{
    wa_noise_free(c->noise);
    if (c->fd_init) wa_frame_decoder_free(&c->fd);
    for (size_t i = 0; c->dns && i < c->o.ndns_servers; i++)
        free(c->dns[i]);
    free(c->dns);
    free(c->url);
    free(c->ca_file);
    free(c->acct);
    wa_iqtab_free(&c->iqs);
    if (c->sig) signal_context_destroy(c->sig);
    wa_creds_wipe(&c->creds);
    OPENSSL_cleanse(&c->pair, sizeof(c->pair));
    free(c);
}

static int copy_opts(struct wa_client *c, const struct wa_client_opts *opts)
{
    c->o = *opts;
    resolve_opts(&c->o);
    c->url = strdup(opts->url ? opts->url : DEFAULT_URL);
    c->ca_file = dup_or_null(opts->ca_file);
    c->acct = strdup(opts->log_account ? opts->log_account : "default");
    if (!c->url || (opts->ca_file && !c->ca_file) || !c->acct) return -ENOMEM;
    memcpy(c->root, opts->noise_root_pub ? opts->noise_root_pub : wa_cert_root_pubkey, 32);
    if (opts->ndns_servers) {
        c->dns = calloc(opts->ndns_servers, sizeof(*c->dns));
        if (!c->dns) return -ENOMEM;
        for (size_t i = 0; i < opts->ndns_servers; i++)
            if (!(c->dns[i] = strdup(opts->dns_servers[i]))) return -ENOMEM;
    }
    c->o.url = c->url;
    c->o.ca_file = c->ca_file;
    c->o.log_account = c->acct;
    c->o.dns_servers = (const char *const *)c->dns;
    c->o.noise_root_pub = c->root;
    return 0;
}

int wa_client_new(uv_loop_t *loop, const struct wa_client_opts *opts,
                  const struct wa_client_cbs *cbs, void *ud, struct wa_client **out)
{
    if (!loop || !opts || !cbs || !out) return -EINVAL;
    *out = NULL;
    struct wa_client *c = calloc(1, sizeof(*c));
    if (!c) return -ENOMEM;
    c->loop = loop;
    c->cbs = *cbs;
    c->ud = ud;
    int rc = copy_opts(c, opts);
    wa_iqtab_init(&c->iqs, c->o.max_pending_iq);
    if (rc == 0) rc = sg_context_create(&c->sig);
    if (rc == 0 && RAND_bytes((unsigned char *)&c->id_prefix, sizeof(c->id_prefix)) != 1) rc = -EIO;
    if (rc < 0) {
        free_client(c);
        return rc;
    }
    uv_timer_init(loop, &c->tick);
    uv_timer_init(loop, &c->defer);
    c->tick.data = c->defer.data = c;
    c->handles_open = 2;
    *out = c;
    return 0;
}

static int reset_session(struct wa_client *c)
{
    wa_noise_free(c->noise);
    c->noise = wa_noise_new(WA_NOISE_INITIATOR, &c->creds.noise);
    if (!c->noise) return -ENOMEM;
    wa_noise_set_cert_policy(c->noise, c->root, (uint64_t)time(NULL));
    if (c->fd_init) wa_frame_decoder_free(&c->fd);
    wa_frame_decoder_init(&c->fd, false, c->o.max_frame, 0);
    c->fd_init = true;
    wa_frame_encoder_init(&c->fe, true, c->o.max_frame);
    memset(&c->lim, 0, sizeof(c->lim));
    c->lim.max_input = c->o.max_frame;
    c->lim.max_inflated = c->o.max_frame;
    OPENSSL_cleanse(&c->pair, sizeof(c->pair)); /* holds a pending code's keys */
    memset(&c->ka, 0, sizeof(c->ka));
    memset(&c->login, 0, sizeof(c->login));
    memset(&c->pk, 0, sizeof(c->pk));
    return 0;
}

int wa_client_start(struct wa_client *c, const struct wa_creds *creds, const struct sg_store *store)
{
    if (!c || !creds || !store || !store->ops || c->closing) return -EINVAL;
    if ((c->state != WA_CS_IDLE && c->state != WA_CS_CLOSED) || c->end_pending) return -EBUSY;
    if (wa_creds_validate(creds, NULL) < 0) return -EINVAL;
    c->creds = *creds;
    c->store = store;
    int rc = reset_session(c);
    if (rc < 0) return rc;
    struct nconn_opts no = {
        .url = c->url,
        .dns_servers = c->o.dns_servers,
        .ndns_servers = c->o.ndns_servers,
        .connect_timeout_ms = c->o.connect_timeout_ms,
        .ca_file = c->ca_file,
    };
    static const struct nconn_cbs ncb = {on_nc_open, on_nc_message, on_nc_close};
    c->gen++;
    rc = nconn_start(c->loop, &no, &ncb, c, &c->nc);
    if (rc < 0) return rc;
    wa_cl_set_state(c, WA_CS_CONNECTING,
                    wa_creds_is_paired(creds) ? "start (login)" : "start (pairing)", 0);
    wa_cl_arm(c);
    return 0;
}

void wa_cl_hold(struct wa_client *c)
{
    c->handles_open++;
}

bool wa_cl_release(struct wa_client *c)
{
    if (--c->handles_open > 0) return true;
    free_client(c);
    return false;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct wa_client *c = h->data;
    if (--c->handles_open == 0) free_client(c);
}

void wa_client_close(struct wa_client *c)
{
    if (!c || c->closing) return;
    c->closing = true;
    nconn_close(c->nc);
    c->nc = NULL;
    c->end_pending = false;
    if (c->state > WA_CS_IDLE && c->state < WA_CS_CLOSED)
        log_debug("wa", c->acct, "client: %s -> closed (closed by owner)",
                  wa_client_state_name(c->state));
    c->state = WA_CS_CLOSED;
    wa_iqtab_fail_all(&c->iqs, -ECANCELED);
    uv_close((uv_handle_t *)&c->tick, on_handle_closed);
    uv_close((uv_handle_t *)&c->defer, on_handle_closed);
}

void wa_client_set_sink(struct wa_client *c, const struct wa_client_sink *sink)
{
    if (!c) return;
    c->sink_set = sink != NULL;
    if (sink)
        c->sink = *sink;
    else
        memset(&c->sink, 0, sizeof(c->sink));
}

uv_loop_t *wa_client_loop(const struct wa_client *c)
{
    return c->loop;
}

enum wa_client_state wa_client_state(const struct wa_client *c)
{
    return c->state;
}

const struct wa_creds *wa_client_creds(const struct wa_client *c)
{
    return &c->creds;
}

unsigned wa_client_generation(const struct wa_client *c)
{
    return c->gen;
}
