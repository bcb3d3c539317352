/* SPDX-License-Identifier: MIT */
/* client.c -- WhatsApp connection core: transport, Noise, pairing, login, keepalive, iqs.
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
 * user callback and every frame, dispatch re-checks `alive()` (closing flag, generation and
 * state) before touching anything else.
 */
#include "wa/client.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/be.h"
#include "core/buf.h"
#include "core/log.h"
#include "net/conn.h"
#include "signal/sg_crypto.h"
#include "wa/cert.h"
#include "wa/frame.h"
#include "wa/iqtab.h"
#include "wa/nodeb.h"
#include "wa/noise.h"
#include "wa/pairing.h"
#include "wa/payload.h"

#define DEFAULT_URL        "wss://web.whatsapp.com/ws/chat"
#define PREKEY_UPLOAD_MAX  1000u
#define DEFAULT_MAX_OUTBUF (16u << 20)

struct wa_client {
    uv_loop_t *loop;
    struct wa_client_opts o; /* resolved defaults; strings point into the copies below */
    char *url, *ca_file, *acct;
    char **dns;
    uint8_t root[32];
    struct wa_client_cbs cbs;
    void *ud;

    enum wa_client_state state;
    unsigned gen;
    struct wa_creds creds;
    const struct sg_store *store;
    signal_context *sig;

    struct nconn *nc;
    struct wa_noise *noise;
    struct wa_frame_encoder fe;
    struct wa_frame_decoder fd;
    bool fd_init;
    struct wa_node_limits lim;

    uv_timer_t tick, defer;
    int handles_open;
    bool closing;

    uint64_t deadline; /* 0 = none */
    const char *deadline_what;

    char refs[WA_PAIR_REFS_MAX][WA_PAIR_REF_MAX + 1];
    size_t nrefs, ref_next;
    uint64_t qr_expiry;
    bool pair_replied;

    uint64_t ka_next, ka_fail_since, ka_sent_at;
    unsigned ka_sent, ka_ok;
    bool ka_inflight;

    bool connected_reported, login_flow_uploading;
    uint64_t offline_deadline;

    struct wa_iqtab iqs;
    uint32_t id_prefix;
    uint64_t id_counter;

    struct wa_outcome end_o;
    bool end_pending;
};

/* ---------------------------------------------------------------- state */

static const char *const state_names[] = {
    "idle", "connecting", "handshake", "pairing", "logging_in", "connected", "closed",
};

const char *wa_client_state_name(enum wa_client_state s)
{
    return (unsigned)s < sizeof(state_names) / sizeof(*state_names) ? state_names[s] : "?";
}

static uint64_t now_ms(const struct wa_client *c)
{
    return uv_now(c->loop);
}

static void arm(struct wa_client *c);

/* The one transition function: logs, and sets the state's deadline (0 ms = none). */
static void set_state(struct wa_client *c, enum wa_client_state s, const char *reason,
                      int deadline_ms)
{
    log_debug("wa", c->acct, "client: %s -> %s (%s)", wa_client_state_name(c->state),
              wa_client_state_name(s), reason);
    c->state = s;
    c->deadline = deadline_ms > 0 ? now_ms(c) + (uint64_t)deadline_ms : 0;
    c->deadline_what = reason;
}

static bool session_live(const struct wa_client *c)
{
    return !c->closing && c->state > WA_CS_IDLE && c->state < WA_CS_CLOSED;
}

/* True while the session `gen` is still the running one (re-check after every callback). */
static bool alive(const struct wa_client *c, unsigned gen)
{
    return session_live(c) && c->gen == gen;
}

static void on_defer(uv_timer_t *t);

/* End the session: first outcome wins; on_close is delivered from the defer timer. */
static void end_session(struct wa_client *c, const struct wa_outcome *o)
{
    if (!session_live(c)) return;
    set_state(c, WA_CS_CLOSED, o->text, 0);
    nconn_close(c->nc);
    c->nc = NULL;
    uv_timer_stop(&c->tick);
    c->end_o = *o;
    c->end_pending = true;
    uv_timer_start(&c->defer, on_defer, 0, 0);
}

static void end_with(struct wa_client *c, enum wa_outcome_kind k, enum wa_outcome_class cls,
                     int code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void end_with(struct wa_client *c, enum wa_outcome_kind k, enum wa_outcome_class cls,
                     int code, const char *fmt, ...)
{
    struct wa_outcome o;
    wa_outcome_set(&o, k, cls, code, "%s", "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o.text, sizeof(o.text), fmt, ap);
    va_end(ap);
    end_session(c, &o);
}

/* ---------------------------------------------------------------- iq table */

static void iq_check_timeouts(struct wa_client *c, unsigned gen)
{
    uint64_t now = now_ms(c);
    while (alive(c, gen) && wa_iqtab_expire_one(&c->iqs, now))
        ;
}

/* ---------------------------------------------------------------- sending */

void wa_client_new_id(struct wa_client *c, char *out, size_t outlen)
{
    snprintf(out, outlen, "%08" PRIx32 "-%" PRIu64, c->id_prefix, ++c->id_counter);
}

static bool can_send(const struct wa_client *c)
{
    return session_live(c) && c->nc && c->noise && wa_noise_is_transport(c->noise);
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
    uint64_t deadline = now_ms(c) + (uint64_t)(timeout_ms > 0 ? timeout_ms : c->o.iq_timeout_ms);
    int rc = wa_iqtab_add(&c->iqs, id, deadline, cb, ud);
    if (rc < 0) return rc;
    rc = wa_client_send_node(c, iq);
    if (rc < 0)
        wa_iqtab_remove(&c->iqs, id);
    else
        arm(c); /* the new iq's deadline may be the earliest */
    return rc;
}

/* <iq id=… to=s.whatsapp.net type=… xmlns=…>; NULL on ENOMEM. */
static struct wa_node *mk_iq(struct wa_client *c, const char *type, const char *xmlns)
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

/* Send an internal iq (node consumed). Failures end the session. */
static void send_iq_internal(struct wa_client *c, struct wa_node *iq, int timeout_ms, wa_iq_cb cb)
{
    int rc = iq ? wa_client_send_iq(c, iq, timeout_ms, cb, c) : -ENOMEM;
    const char *tag = iq ? "iq" : "(none)";
    wa_node_free(iq);
    if (rc < 0)
        end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500, "client: cannot send %s: %s", tag,
                 strerror(-rc));
}

/* Send a node we built (consumed); failures end the session. */
static void send_owned(struct wa_client *c, struct wa_node *n)
{
    int rc = n ? wa_client_send_node(c, n) : -ENOMEM;
    wa_node_free(n);
    if (rc < 0)
        end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500, "client: send failed: %s",
                 strerror(-rc));
}

/* ---------------------------------------------------------------- keepalive */

static uint64_t rand_between(uint64_t lo, uint64_t hi)
{
    uint32_t r = 0;
    if (hi <= lo || RAND_bytes((unsigned char *)&r, sizeof(r)) != 1) return lo;
    return lo + r % (hi - lo);
}

static void ka_schedule(struct wa_client *c)
{
    c->ka_next =
        now_ms(c) + rand_between((uint64_t)c->o.keepalive_min_ms, (uint64_t)c->o.keepalive_max_ms);
}

static void ka_done(void *ud, int status, const struct wa_node *resp)
{
    struct wa_client *c = ud;
    (void)resp;
    if (status == -ENOTCONN || status == -ECANCELED) return;
    unsigned gen = c->gen;
    c->ka_inflight = false;
    if (status != -ETIMEDOUT) { /* result or error: the server is alive */
        c->ka_ok++;
        c->ka_fail_since = 0;
        ka_schedule(c);
        if (c->cbs.on_health)
            c->cbs.on_health(c->ud, true, (unsigned)(now_ms(c) - c->ka_sent_at), 0);
        return;
    }
    if (!c->ka_fail_since) c->ka_fail_since = c->ka_sent_at;
    uint64_t failing = now_ms(c) - c->ka_fail_since;
    log_debug("wa", c->acct, "client: keepalive timeout (failing for %" PRIu64 " ms)", failing);
    if (c->cbs.on_health) c->cbs.on_health(c->ud, false, 0, (unsigned)failing);
    if (!alive(c, gen)) return;
    if (failing >= (uint64_t)c->o.keepalive_fail_ms) {
        end_with(c, WA_OUT_KEEPALIVE, WA_OC_TRANSIENT, 408,
                 "keepalive timeout (no pong for %" PRIu64 " ms)", failing);
        return;
    }
    ka_schedule(c);
}

static void ka_ping(struct wa_client *c)
{
    c->ka_inflight = true;
    c->ka_sent_at = now_ms(c);
    c->ka_sent++;
    send_iq_internal(c, mk_iq(c, "get", "w:p"), c->o.keepalive_deadline_ms, ka_done);
}

/* ---------------------------------------------------------------- QR */

static void qr_show(struct wa_client *c)
{
    const char *ref = c->refs[c->ref_next];
    unsigned valid = (unsigned)(c->ref_next == 0 ? c->o.qr_first_ms : c->o.qr_next_ms);
    char qr[WA_QR_MAX];
    c->ref_next++;
    c->qr_expiry = now_ms(c) + valid;
    if (wa_pairing_qr_string(ref, strlen(ref), &c->creds, WA_QR_PLATFORM_ID, qr, sizeof(qr)) < 0) {
        end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500, "pairing: unusable QR ref");
        return;
    }
    log_debug("wa", c->acct, "client: QR %zu/%zu valid %u ms", c->ref_next, c->nrefs, valid);
    if (c->cbs.on_qr) c->cbs.on_qr(c->ud, qr, valid);
}

static void qr_tick(struct wa_client *c)
{
    if (c->state != WA_CS_PAIRING || !c->nrefs || c->pair_replied || now_ms(c) < c->qr_expiry)
        return;
    if (c->ref_next < c->nrefs)
        qr_show(c);
    else
        end_with(c, WA_OUT_QR_TIMEOUT, WA_OC_NEEDS_USER, 408,
                 "QR timeout: %zu refs shown, none scanned", c->nrefs);
}

/* ---------------------------------------------------------------- tick / defer */

static void on_tick(uv_timer_t *t);

static void take_min(uint64_t *next, uint64_t t)
{
    if (t && t < *next) *next = t;
}

/* The one deadline timer is armed for the earliest pending deadline and sleeps otherwise:
 * an idle connected session wakes only for its keepalive. Call after anything that may
 * set a deadline; an early wake-up is harmless (on_tick re-arms). */
static void arm(struct wa_client *c)
{
    if (!session_live(c) || uv_is_closing((uv_handle_t *)&c->tick)) return;
    uint64_t next = UINT64_MAX;
    take_min(&next, c->deadline);
    take_min(&next, wa_iqtab_next_deadline(&c->iqs));
    if (c->state == WA_CS_PAIRING && c->nrefs && !c->pair_replied) take_min(&next, c->qr_expiry);
    if (c->state == WA_CS_CONNECTED && !c->connected_reported) take_min(&next, c->offline_deadline);
    if (c->state == WA_CS_CONNECTED && !c->ka_inflight) take_min(&next, c->ka_next);
    if (next == UINT64_MAX) {
        uv_timer_stop(&c->tick);
        return;
    }
    uint64_t now = now_ms(c);
    uv_timer_start(&c->tick, on_tick, next > now ? next - now : 0, 0);
}

static void on_tick(uv_timer_t *t)
{
    struct wa_client *c = t->data;
    unsigned gen = c->gen;
    if (!alive(c, gen)) return;
    uint64_t now = now_ms(c);
    if (c->deadline && now >= c->deadline) {
        enum wa_outcome_kind k = c->state == WA_CS_HANDSHAKE ? WA_OUT_HANDSHAKE : WA_OUT_PROTOCOL;
        end_with(c, k, WA_OC_TRANSIENT, 408, "%s: timeout (%s)", wa_client_state_name(c->state),
                 c->deadline_what);
        return;
    }
    iq_check_timeouts(c, gen);
    if (!alive(c, gen)) return;
    qr_tick(c);
    if (!alive(c, gen)) return;
    if (c->state == WA_CS_CONNECTED && !c->connected_reported && now >= c->offline_deadline) {
        c->connected_reported = true; /* no <ib><offline/> came: report anyway */
        if (c->cbs.on_connected) c->cbs.on_connected(c->ud, c->creds.me_lid, 0);
        if (!alive(c, gen)) return;
    }
    if (c->state == WA_CS_CONNECTED && !c->ka_inflight && now >= c->ka_next) ka_ping(c);
    if (alive(c, gen)) arm(c);
}

static void on_defer(uv_timer_t *t)
{
    struct wa_client *c = t->data;
    if (!c->end_pending || c->closing) return;
    struct wa_outcome o = c->end_o;
    wa_iqtab_fail_all(&c->iqs, -ENOTCONN);
    if (c->closing) return;
    c->end_pending = false;
    log_debug("wa", c->acct, "client: session %u ended: %s [%s, code %d]", c->gen, o.text,
              wa_outcome_class_name(o.cls), o.code);
    if (c->cbs.on_close) c->cbs.on_close(c->ud, &o);
}

/* ---------------------------------------------------------------- post-login */

static void passive_done(void *ud, int status, const struct wa_node *resp)
{
    struct wa_client *c = ud;
    (void)resp;
    if (status != 0 && status != -ENOTCONN && status != -ECANCELED)
        log_debug("wa", c->acct, "client: passive iq failed: %d", status);
}

static void send_active(struct wa_client *c)
{
    struct wa_node *iq = mk_iq(c, "set", "passive");
    if (iq && !wa_nb_child(iq, "active")) {
        wa_node_free(iq);
        iq = NULL;
    }
    send_iq_internal(c, iq, 0, passive_done);
}

static void upload_done(void *ud, int status, const struct wa_node *resp)
{
    struct wa_client *c = ud;
    (void)resp;
    if (status == -ENOTCONN || status == -ECANCELED) return;
    if (status != 0) log_debug("wa", c->acct, "client: pre-key upload failed: %d", status);
    if (c->login_flow_uploading) {
        c->login_flow_uploading = false;
        send_active(c);
    }
}

static struct wa_node *upload_iq(struct wa_client *c, const struct sg_prekey *pk, size_t n)
{
    struct wa_node *iq = mk_iq(c, "set", "encrypt");
    uint8_t b[4], t = SG_KEY_TYPE_DJB;
    be_put(b, c->creds.registration_id, 4);
    int rc = iq ? wa_nb_bytes(iq, "registration", b, 4) : -ENOMEM;
    if (rc == 0) rc = wa_nb_bytes(iq, "type", &t, 1);
    if (rc == 0) rc = wa_nb_bytes(iq, "identity", c->creds.identity.pub, 32);
    struct wa_node *list = rc == 0 ? wa_nb_child(iq, "list") : NULL;
    for (size_t i = 0; list && rc == 0 && i < n; i++) {
        struct wa_node *k = wa_nb_child(list, "key");
        be_put(b, pk[i].id, 3);
        rc = k ? wa_nb_bytes(k, "id", b, 3) : -ENOMEM;
        if (rc == 0) rc = wa_nb_bytes(k, "value", pk[i].kp.pub, 32);
    }
    struct wa_node *sk = rc == 0 && list ? wa_nb_child(iq, "skey") : NULL;
    be_put(b, c->creds.signed_prekey_id, 3);
    rc = sk ? wa_nb_bytes(sk, "id", b, 3) : -ENOMEM;
    if (rc == 0) rc = wa_nb_bytes(sk, "value", c->creds.signed_prekey.pub, 32);
    if (rc == 0) rc = wa_nb_bytes(sk, "signature", c->creds.signed_prekey_sig, 64);
    if (rc < 0) {
        wa_node_free(iq);
        return NULL;
    }
    return iq;
}

/* Generate n pre-keys, persist them (store, then next id via on_creds), then upload. */
static int upload_prekeys(struct wa_client *c, size_t n)
{
    unsigned gen = c->gen;
    if (n > PREKEY_UPLOAD_MAX) n = PREKEY_UPLOAD_MAX;
    struct sg_prekey *pk = calloc(n, sizeof(*pk));
    if (!pk) return -ENOMEM;
    uint32_t next = 0;
    int rc = sg_prekeys_generate(c->sig, c->creds.next_prekey_id, n, pk, &next);
    if (rc == 0) rc = sg_store_put_prekeys(c->sig, c->store, pk, n);
    if (rc == 0) {
        struct wa_creds nc = c->creds;
        nc.next_prekey_id = next;
        rc = c->cbs.on_creds ? c->cbs.on_creds(c->ud, &nc) : 0;
        wa_creds_wipe(&nc);
        if (rc != 0) rc = -EIO;
    }
    if (rc == 0 && alive(c, gen)) {
        c->creds.next_prekey_id = next;
        log_debug("wa", c->acct, "client: uploading %zu pre-keys", n);
        send_iq_internal(c, upload_iq(c, pk, n), 0, upload_done);
    }
    OPENSSL_cleanse(pk, n * sizeof(*pk));
    free(pk);
    return rc;
}

static size_t upload_size(const struct wa_client *c, long server_count)
{
    if (server_count >= (long)c->o.prekey_min) return 0;
    return server_count <= 0 ? c->o.prekey_initial : c->o.prekey_batch;
}

static void count_done(void *ud, int status, const struct wa_node *resp)
{
    struct wa_client *c = ud;
    if (status == -ENOTCONN || status == -ECANCELED) return;
    long cnt = status == 0 ? wa_nb_attr_long(wa_node_child(resp, "count"), "value", -1) : -1;
    size_t n = cnt >= 0 ? upload_size(c, cnt) : 0;
    log_debug("wa", c->acct, "client: server holds %ld pre-keys", cnt);
    if (n > 0) {
        c->login_flow_uploading = true;
        int rc = upload_prekeys(c, n);
        if (rc == 0) return;
        c->login_flow_uploading = false;
        log_debug("wa", c->acct, "client: pre-key generation failed: %d", rc);
    }
    if (session_live(c)) send_active(c);
}

/* Make sure the store holds our signed pre-key (a fresh pairing has not stored it yet). */
static int ensure_signed_prekey(struct wa_client *c)
{
    signal_buffer *b = NULL;
    int rc = c->store->ops->load_signed_prekey(c->store->ud, c->creds.signed_prekey_id, &b);
    if (b) signal_buffer_bzero_free(b);
    if (rc != 0) return rc < 0 ? rc : 0;
    struct sg_signed_prekey spk;
    wa_creds_sg_signed_prekey(&c->creds, &spk);
    rc = sg_store_put_signed_prekey(c->sig, c->store, &spk);
    OPENSSL_cleanse(&spk, sizeof(spk));
    return rc;
}

static void handle_success(struct wa_client *c, const struct wa_node *n)
{
    unsigned gen = c->gen;
    const char *lid = wa_node_attr(n, "lid");
    set_state(c, WA_CS_CONNECTED, "success", 0);
    c->offline_deadline = now_ms(c) + (uint64_t)c->o.login_timeout_ms;
    ka_schedule(c);
    if (lid && *lid && strlen(lid) < sizeof(c->creds.me_lid) && strcmp(lid, c->creds.me_lid)) {
        struct wa_creds nc = c->creds;
        snprintf(nc.me_lid, sizeof(nc.me_lid), "%s", lid);
        if (!c->cbs.on_creds || c->cbs.on_creds(c->ud, &nc) == 0)
            snprintf(c->creds.me_lid, sizeof(c->creds.me_lid), "%s", lid);
        wa_creds_wipe(&nc);
        if (!alive(c, gen)) return;
    }
    int rc = ensure_signed_prekey(c);
    if (rc < 0) log_debug("wa", c->acct, "client: storing the signed pre-key failed: %d", rc);
    struct wa_node *iq = mk_iq(c, "get", "encrypt");
    if (iq && !wa_nb_child(iq, "count")) {
        wa_node_free(iq);
        iq = NULL;
    }
    send_iq_internal(c, iq, 0, count_done);
}

/* ---------------------------------------------------------------- pairing */

static void handle_pair_device(struct wa_client *c, const struct wa_node *iq)
{
    const struct wa_node *pd = wa_node_child(iq, "pair-device");
    struct wa_node *r = wa_node_new("iq");
    struct wa_jid from;
    const char *id = wa_node_attr(iq, "id");
    if (!r || !id || wa_node_attr_jid(iq, "from", &from) < 0 ||
        wa_node_set_attr_jid(r, "to", &from) < 0 || wa_node_set_attr(r, "type", "result") < 0 ||
        wa_node_set_attr(r, "id", id) < 0) {
        wa_node_free(r);
        end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500, "pairing: bad pair-device iq");
        return;
    }
    send_owned(c, r);
    if (!session_live(c)) return;
    c->nrefs = c->ref_next = 0;
    for (const struct wa_node *ref = wa_node_next_child(pd, "ref", NULL);
         ref && c->nrefs < WA_PAIR_REFS_MAX; ref = wa_node_next_child(pd, "ref", ref)) {
        size_t len = 0;
        const uint8_t *b = wa_node_content_bytes(ref, &len);
        const char *s = b ? (const char *)b : wa_node_content_string(ref);
        if (!b && s) len = strlen(s);
        if (!s || len == 0 || len > WA_PAIR_REF_MAX || memchr(s, ',', len) || memchr(s, 0, len))
            continue;
        memcpy(c->refs[c->nrefs], s, len);
        c->refs[c->nrefs++][len] = 0;
    }
    if (!c->nrefs) {
        end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500, "pairing: pair-device without refs");
        return;
    }
    c->deadline = 0; /* the QR rotation bounds this phase now */
    qr_show(c);
}

/* The primary's identity key = identity of (its LID user, device 0). Best effort. */
static void save_primary_identity(struct wa_client *c, const struct wa_creds *nc,
                                  const uint8_t key[32])
{
    struct wa_jid j;
    char name[WA_JID_STR_MAX];
    const char *src = nc->me_lid[0] ? nc->me_lid : nc->me_pn;
    if (wa_jid_parse(&j, src, strlen(src)) < 0) return;
    j.device = 0;
    int len = wa_jid_signal_name(&j, name, sizeof(name));
    if (len < 0) return;
    signal_protocol_address a = {.name = name, .name_len = (size_t)len, .device_id = 0};
    int rc = c->store->ops->save_identity(c->store->ud, &a, key);
    if (rc < 0) log_debug("wa", c->acct, "client: saving the primary identity failed: %d", rc);
}

static void pair_reject(struct wa_client *c, const char *id, const struct wa_pair_error *e)
{
    send_owned(c, wa_pairing_error_node(id, e));
    end_with(c, WA_OUT_PAIRING, WA_OC_TRANSIENT, e->code, "pairing rejected: %s (%d %s)", e->why,
             e->code, e->text);
}

static void handle_pair_success(struct wa_client *c, const struct wa_node *iq)
{
    unsigned gen = c->gen;
    const char *id = wa_node_attr(iq, "id");
    struct wa_creds nc;
    struct wa_pair_result *res = calloc(1, sizeof(*res));
    struct wa_pair_error e = {500, "internal-error", "out of memory"};
    if (!id || !res || wa_pairing_process(iq, &c->creds, &nc, res, &e) < 0) {
        pair_reject(c, id ? id : "", &e);
        free(res);
        return;
    }
    save_primary_identity(c, &nc, res->account_key);
    int rc = c->cbs.on_paired ? c->cbs.on_paired(c->ud, &nc) : -1;
    if (alive(c, gen) && rc != 0) {
        struct wa_pair_error pe = {500, "internal-error", "credentials could not be persisted"};
        pair_reject(c, id, &pe);
    } else if (alive(c, gen)) {
        c->creds = nc;
        c->pair_replied = true;
        c->deadline = now_ms(c) + (uint64_t)c->o.login_timeout_ms;
        c->deadline_what = "515 after pairing";
        log_debug("wa", c->acct, "client: paired as %s", nc.me_pn);
        send_owned(c, wa_pairing_reply_node(id, res));
    }
    wa_creds_wipe(&nc);
    OPENSSL_cleanse(res, sizeof(*res));
    free(res);
}

/* ---------------------------------------------------------------- dispatch */

static bool from_server(const struct wa_node *n)
{
    struct wa_jid j;
    return wa_node_attr_jid(n, "from", &j) == 0 && !j.user[0] &&
           strcmp(j.server, WA_SERVER_PN) == 0;
}

/* <ack id to=from class=<tag> [participant] [type]> (as Baileys' sendMessageAck). */
static void send_ack(struct wa_client *c, const struct wa_node *n)
{
    struct wa_node *a = wa_nb_ack(n, n->tag.s, true, NULL);
    if (a) send_owned(c, a);
}

/* Handle a server iq (set/get). True if the core handled it. */
static bool handle_server_iq(struct wa_client *c, const struct wa_node *n)
{
    const char *xmlns = wa_node_attr(n, "xmlns");
    if (!xmlns || !from_server(n)) return false;
    if (strcmp(xmlns, "md") == 0 && wa_node_child(n, "pair-device") && c->state == WA_CS_PAIRING &&
        !c->pair_replied) {
        handle_pair_device(c, n);
        return true;
    }
    if (strcmp(xmlns, "md") == 0 && wa_node_child(n, "pair-success") && c->state == WA_CS_PAIRING &&
        !c->pair_replied) {
        handle_pair_success(c, n);
        return true;
    }
    if (strcmp(xmlns, "urn:xmpp:ping") == 0) {
        struct wa_node *r = mk_iq(c, "result", NULL);
        if (r && wa_node_set_attr(r, "id", wa_node_attr(n, "id")) < 0) {
            wa_node_free(r);
            r = NULL;
        }
        send_owned(c, r);
        return true;
    }
    return false;
}

static bool handle_ib(struct wa_client *c, const struct wa_node *n)
{
    const struct wa_node *off = wa_node_child(n, "offline");
    if (wa_node_child(n, "downgrade_webclient")) {
        end_with(c, WA_OUT_MD_MISMATCH, WA_OC_NEEDS_USER, 411,
                 "multi-device mismatch: the account cannot use linked devices");
        return true;
    }
    if (!off) return false;
    long cnt = wa_nb_attr_long(off, "count", 0);
    if (c->state == WA_CS_CONNECTED && !c->connected_reported) {
        c->connected_reported = true;
        log_debug("wa", c->acct, "client: connected as %s, %ld offline stanzas", c->creds.me_lid,
                  cnt);
        if (c->cbs.on_connected)
            c->cbs.on_connected(c->ud, c->creds.me_lid, cnt > 0 ? (unsigned)cnt : 0);
    }
    return true;
}

/* <notification type=encrypt from=s.whatsapp.net><count value=N/>: ack, top up pre-keys. */
static bool handle_notification(struct wa_client *c, const struct wa_node *n)
{
    const char *type = wa_node_attr(n, "type");
    const struct wa_node *cnt = wa_node_child(n, "count");
    if (!type || strcmp(type, "encrypt") != 0 || !cnt || !from_server(n)) return false;
    unsigned gen = c->gen;
    send_ack(c, n);
    long v = wa_nb_attr_long(cnt, "value", -1);
    if (alive(c, gen) && c->state == WA_CS_CONNECTED && v >= 0 && v < (long)c->o.prekey_min &&
        !c->login_flow_uploading) {
        int rc = upload_prekeys(c, c->o.prekey_batch);
        if (rc < 0) log_debug("wa", c->acct, "client: pre-key top-up failed: %d", rc);
    }
    return true;
}

static void dispatch(struct wa_client *c, const struct wa_node *n)
{
    struct wa_outcome o;
    if (wa_outcome_from_node(n, &o)) {
        end_session(c, &o);
        return;
    }
    const char *type = wa_node_attr(n, "type");
    bool handled = false;
    if (wa_nb_is(n, "iq") && type && (!strcmp(type, "result") || !strcmp(type, "error")))
        handled = wa_iqtab_complete(&c->iqs, n);
    else if (wa_nb_is(n, "iq"))
        handled = handle_server_iq(c, n);
    else if (wa_nb_is(n, "success") && c->state == WA_CS_LOGGING_IN) {
        handle_success(c, n);
        handled = true;
    } else if (wa_nb_is(n, "ib"))
        handled = handle_ib(c, n);
    else if (wa_nb_is(n, "notification"))
        handled = handle_notification(c, n);
    if (!handled && session_live(c) && c->cbs.on_node) c->cbs.on_node(c->ud, n);
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
        end_with(c, WA_OUT_HANDSHAKE, WA_OC_TRANSIENT, 500, "noise: %s",
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
        end_with(c, WA_OUT_HANDSHAKE, WA_OC_TRANSIENT, 500, "noise: client finish failed: %s",
                 strerror(-rc));
        return;
    }
    set_state(c, paired ? WA_CS_LOGGING_IN : WA_CS_PAIRING,
              paired ? "login payload sent" : "registration payload sent", c->o.login_timeout_ms);
}

static void transport_frame(struct wa_client *c, const uint8_t *f, size_t len)
{
    struct buf pt;
    buf_init(&pt, c->o.max_frame);
    int rc = wa_noise_decrypt(c->noise, f, len, &pt);
    if (rc < 0) {
        buf_free(&pt);
        end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500, "noise: %s",
                 wa_noise_last_error(c->noise));
        return;
    }
    struct wa_node *n = NULL;
    char err[WA_NODE_ERR_MAX] = "";
    rc = wa_node_decode(pt.data, pt.len, &c->lim, &n, err, sizeof(err));
    buf_free(&pt);
    if (rc < 0) {
        end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500, "node: %s", err);
        return;
    }
    dispatch(c, n);
    wa_node_free(n);
}

static void on_nc_open(struct nconn *nc, void *ud)
{
    struct wa_client *c = ud;
    if (nc != c->nc || !session_live(c)) return;
    struct buf hello;
    buf_init(&hello, 0);
    int rc = wa_noise_write_client_hello(c->noise, &hello);
    if (rc == 0) rc = send_raw_frame(c, &hello);
    buf_free(&hello);
    if (rc < 0) {
        end_with(c, WA_OUT_HANDSHAKE, WA_OC_TRANSIENT, 500, "noise: client hello failed: %s",
                 strerror(-rc));
        return;
    }
    set_state(c, WA_CS_HANDSHAKE, "transport open, client hello sent", c->o.handshake_timeout_ms);
    arm(c);
}

static void on_nc_message(struct nconn *nc, void *ud, const uint8_t *data, size_t len)
{
    struct wa_client *c = ud;
    unsigned gen = c->gen;
    while (nc == c->nc && alive(c, gen) && len > 0) {
        size_t used = 0, flen = 0;
        const uint8_t *f = NULL;
        int rc = wa_frame_decode(&c->fd, data, len, &used, &f, &flen);
        data += used;
        len -= used;
        if (rc < 0) {
            end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500, "frame: %s",
                     wa_frame_decoder_error(&c->fd));
            return;
        }
        if (rc == 0) break;
        if (c->state == WA_CS_HANDSHAKE)
            handshake_frame(c, f, flen);
        else if (c->state > WA_CS_HANDSHAKE)
            transport_frame(c, f, flen);
        else
            end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500, "frame before the handshake");
    }
    if (nc == c->nc && alive(c, gen)) arm(c); /* frames move deadlines (state, iqs, pings) */
}

static void on_nc_close(struct nconn *nc, void *ud, const struct nout *no)
{
    struct wa_client *c = ud;
    if (nc != c->nc || !session_live(c)) return;
    struct wa_outcome o;
    wa_outcome_from_net(no, &o);
    end_session(c, &o);
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
    c->nrefs = c->ref_next = 0;
    c->pair_replied = c->ka_inflight = c->connected_reported = c->login_flow_uploading = false;
    c->ka_fail_since = c->ka_sent = c->ka_ok = 0;
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
    set_state(c, WA_CS_CONNECTING, wa_creds_is_paired(creds) ? "start (login)" : "start (pairing)",
              0);
    arm(c);
    return 0;
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

void wa_client_keepalive_stats(const struct wa_client *c, unsigned *sent, unsigned *answered)
{
    if (sent) *sent = c->ka_sent;
    if (answered) *answered = c->ka_ok;
}
