/* SPDX-License-Identifier: MIT */
/* pairflow.c -- QR pairing on the connection: pair-device (refs, QR rotation; a pending
 * phone-number code's hello, pairphone.c), pair-success
 * (verification by wa/pairing.h, on_paired, the pair-device-sign reply) and the primary
 * phone's identity.
 *
 * Deadlines: login_timeout_ms for pair-device (the state's), then the QR rotation
 * (qr_first_ms, then qr_next_ms per ref), then login_timeout_ms for the 515 after our reply.
 * The reply is sent only after on_paired returned 0 (the credentials are durable).
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "wa/client_int.h"
#include "wa/payload.h"

static void qr_show(struct wa_client *c)
{
    const char *ref = c->pair.refs[c->pair.ref_next];
    unsigned valid = (unsigned)(c->pair.ref_next == 0 ? c->o.qr_first_ms : c->o.qr_next_ms);
    char qr[WA_QR_MAX];
    c->pair.ref_next++;
    c->pair.qr_expiry = wa_cl_now(c) + valid;
    if (wa_pairing_qr_string(ref, strlen(ref), &c->creds, WA_QR_PLATFORM_ID, qr, sizeof(qr)) < 0) {
        wa_cl_end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500, "pairing: unusable QR ref");
        return;
    }
    log_debug("wa", c->acct, "client: QR %zu/%zu valid %u ms", c->pair.ref_next, c->pair.nrefs,
              valid);
    if (c->cbs.on_qr) c->cbs.on_qr(c->ud, qr, valid);
}

uint64_t wa_cl_pair_deadline(const struct wa_client *c)
{
    if (c->state != WA_CS_PAIRING || !c->pair.nrefs || c->pair.replied) return 0;
    return c->pair.qr_expiry;
}

void wa_cl_pair_tick(struct wa_client *c, uint64_t now)
{
    if (c->state != WA_CS_PAIRING || !c->pair.nrefs || c->pair.replied || now < c->pair.qr_expiry)
        return;
    if (c->pair.ref_next < c->pair.nrefs)
        qr_show(c);
    else if (c->pair.code.finish_sent)
        wa_cl_end_with(c, WA_OUT_QR_TIMEOUT, WA_OC_NEEDS_USER, 408,
                       "pairing code entered on the phone, but no pair-success came in time");
    else if (c->pair.code.pending)
        wa_cl_end_with(c, WA_OUT_QR_TIMEOUT, WA_OC_NEEDS_USER, 408,
                       "pairing code expired: not entered on the phone in time (request a new "
                       "one)");
    else
        wa_cl_end_with(c, WA_OUT_QR_TIMEOUT, WA_OC_NEEDS_USER, 408,
                       "QR timeout: %zu refs shown, none scanned", c->pair.nrefs);
}

/* Keep the usable <ref> children (non-empty, short, no ',' or NUL). */
static void collect_refs(struct wa_client *c, const struct wa_node *pd)
{
    c->pair.nrefs = c->pair.ref_next = 0;
    for (const struct wa_node *ref = wa_node_next_child(pd, "ref", NULL);
         ref && c->pair.nrefs < WA_PAIR_REFS_MAX; ref = wa_node_next_child(pd, "ref", ref)) {
        size_t len = 0;
        const uint8_t *b = wa_node_content_bytes(ref, &len);
        const char *s = b ? (const char *)b : wa_node_content_string(ref);
        if (!b && s) len = strlen(s);
        if (!s || len == 0 || len > WA_PAIR_REF_MAX || memchr(s, ',', len) || memchr(s, 0, len))
            continue;
        memcpy(c->pair.refs[c->pair.nrefs], s, len);
        c->pair.refs[c->pair.nrefs++][len] = 0;
    }
}

static void handle_pair_device(struct wa_client *c, const struct wa_node *iq)
{
    struct wa_node *r = wa_node_new("iq");
    struct wa_jid from;
    const char *id = wa_node_attr(iq, "id");
    if (!r || !id || wa_node_attr_jid(iq, "from", &from) < 0 ||
        wa_node_set_attr_jid(r, "to", &from) < 0 || wa_node_set_attr(r, "type", "result") < 0 ||
        wa_node_set_attr(r, "id", id) < 0) {
        wa_node_free(r);
        wa_cl_end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500, "pairing: bad pair-device iq");
        return;
    }
    wa_cl_send_owned(c, r);
    if (!wa_cl_live(c)) return;
    collect_refs(c, wa_node_child(iq, "pair-device"));
    if (!c->pair.nrefs) {
        wa_cl_end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500,
                       "pairing: pair-device without refs");
        return;
    }
    c->deadline = 0; /* the QR rotation bounds this phase now */
    qr_show(c);
    if (wa_cl_live(c)) wa_cl_code_on_pair_device(c);
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
    wa_cl_send_owned(c, wa_pairing_error_node(id, e));
    wa_cl_end_with(c, WA_OUT_PAIRING, WA_OC_TRANSIENT, e->code, "pairing rejected: %s (%d %s)",
                   e->why, e->code, e->text);
}

/* The credentials are durable: adopt them, wait for the 515, send pair-device-sign. */
static void pair_accept(struct wa_client *c, const char *id, const struct wa_creds *nc,
                        const struct wa_pair_result *res)
{
    c->creds = *nc;
    c->pair.replied = true;
    c->deadline = wa_cl_now(c) + (uint64_t)c->o.login_timeout_ms;
    c->deadline_what = "515 after pairing";
    log_debug("wa", c->acct, "client: paired as %s", nc->me_pn);
    wa_cl_send_owned(c, wa_pairing_reply_node(id, res));
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
    if (wa_cl_alive(c, gen) && rc != 0) {
        struct wa_pair_error pe = {500, "internal-error", "credentials could not be persisted"};
        pair_reject(c, id, &pe);
    } else if (wa_cl_alive(c, gen)) {
        pair_accept(c, id, &nc, res);
    }
    wa_creds_wipe(&nc);
    OPENSSL_cleanse(res, sizeof(*res));
    free(res);
}

bool wa_cl_pair_iq(struct wa_client *c, const struct wa_node *iq)
{
    if (c->state != WA_CS_PAIRING || c->pair.replied) return false;
    if (wa_node_child(iq, "pair-device"))
        handle_pair_device(c, iq);
    else if (wa_node_child(iq, "pair-success"))
        handle_pair_success(c, iq);
    else
        return false;
    return true;
}
