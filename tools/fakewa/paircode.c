/* SPDX-License-Identifier: MIT */
/* paircode.c -- companion_hello, the typed code (the phone's notification), companion_finish. */
#include "paircode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "accounts.h"
#include "core/log.h"
#include "nb.h"
#include "pairing.h"
#include "wa/paircode.h"

struct fw_paircode {
    char phone[FW_PHONE_MAX];
    char ref[48];
    uint8_t wrapped[WA_PAIRCODE_WRAPPED_LEN]; /* the companion's */
    bool typed;
    struct wa_keypair eph; /* the phone's ephemeral, after the code was typed */
    uint8_t comp_eph[32];  /* the companion's ephemeral as the typed code unwrapped it */
    unsigned attempts;
    char notif_id[64]; /* the notification we sent */
    bool acked;        /* the companion acked it */
    bool ready;        /* finish verified: pair-success waits only for the ack */
    uint8_t adv[32];   /* the derived ADV secret (ready) */
};

void fw_paircode_free(struct fw_paircode *p)
{
    if (!p) return;
    OPENSSL_cleanse(p, sizeof(*p));
    free(p);
}

static void send_free(struct fw_conn *c, struct wa_node *n)
{
    (void)fw_conn_send(c, n);
    wa_node_free(n);
}

static struct wa_node *reply(const struct wa_node *req, const char *type)
{
    const char *id = wa_node_attr(req, "id");
    struct wa_node *r = nb_new("iq", "type", type, "id", id ? id : "", NULL);
    nb_attr_jid(r, "from", "s.whatsapp.net");
    return r;
}

static void error(struct fw_conn *c, const struct wa_node *req, int code, const char *text)
{
    struct wa_node *r = reply(req, "error");
    struct wa_node *e = nb_add(r, "error", "text", text, NULL);
    nb_attr_u64(e, "code", (uint64_t)code);
    send_free(c, r);
}

static const uint8_t *bytes(const struct wa_node *n, const char *tag, size_t *len)
{
    struct wa_node *ch = wa_node_child(n, tag);
    *len = 0;
    const uint8_t *b = ch ? wa_node_content_bytes(ch, len) : NULL;
    if (!b && ch && wa_node_content_string(ch)) {
        b = (const uint8_t *)wa_node_content_string(ch);
        *len = strlen((const char *)b);
    }
    return b;
}

static void hello(struct fw_conn *c, const struct wa_node *iq, const struct wa_node *reg)
{
    struct wa_jid j;
    size_t wl = 0, nl = 0, dl = 0;
    const uint8_t *w = bytes(reg, "link_code_pairing_wrapped_companion_ephemeral_pub", &wl);
    const uint8_t *noise = bytes(reg, "companion_server_auth_key_pub", &nl);
    const uint8_t *disp = bytes(reg, "companion_platform_display", &dl);
    struct fw_account *a = wa_node_attr_jid(reg, "jid", &j) == 0 && !j.device
                               ? fw_account_by_phone(c->srv, j.user)
                               : NULL;
    if (!w || wl != WA_PAIRCODE_WRAPPED_LEN || !noise || nl != 32 ||
        memcmp(noise, c->client_static, 32) != 0 || !disp || !dl) {
        log_warn("fakewa", c->name, "companion_hello malformed");
        error(c, iq, 400, "bad-request");
        return;
    }
    if (!a) {
        log_warn("fakewa", c->name, "companion_hello for an unknown number");
        error(c, iq, 404, "item-not-found");
        return;
    }
    struct fw_paircode **slot = fw_pairing_code_slot(c);
    struct fw_paircode *p = calloc(1, sizeof(*p));
    if (!slot || !p) {
        free(p);
        error(c, iq, 500, "internal-server-error");
        return;
    }
    fw_paircode_free(*slot);
    *slot = p;
    snprintf(p->phone, sizeof(p->phone), "%s", a->phone);
    memcpy(p->wrapped, w, sizeof(p->wrapped));
    uint8_t r[9];
    fw_random(r, sizeof(r));
    snprintf(p->ref, sizeof(p->ref), "2@lc%02x%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2],
             r[3], r[4], r[5], r[6], r[7], r[8]);
    struct wa_node *res = reply(iq, "result");
    struct wa_node *lr = nb_add(res, "link_code_companion_reg", NULL);
    nb_add_bytes(lr, "link_code_pairing_ref", p->ref, strlen(p->ref));
    log_info("fakewa", c->name, "pairing code requested for +%s (ref %s)", a->phone, p->ref);
    send_free(c, res);
}

static struct fw_conn *waiting_conn(struct fw_server *s, const char *phone)
{
    for (struct fw_conn *c = s->conns; c; c = c->next) {
        struct fw_paircode **slot = c->state == FWC_PAIRING ? fw_pairing_code_slot(c) : NULL;
        if (slot && *slot && strcmp((*slot)->phone, phone) == 0) return c;
    }
    return NULL;
}

int fw_paircode_type(struct fw_server *s, const char *phone, const char *code, char *err,
                     size_t errlen)
{
    char typed[WA_PAIRCODE_LEN + 1];
    struct fw_account *a = phone ? fw_account_lookup(s, phone) : NULL;
    struct fw_conn *c = a ? waiting_conn(s, a->phone) : NULL;
    if (!c) {
        snprintf(err, errlen, "no companion is waiting for a code for this phone");
        return -ENOENT;
    }
    if (!code || wa_paircode_normalize(code, typed) < 0) {
        snprintf(err, errlen, "a code is 8 characters of %s", WA_PAIRCODE_ALPHABET);
        return -EINVAL;
    }
    struct fw_paircode *p = *fw_pairing_code_slot(c);
    if (p->typed) {
        snprintf(err, errlen, "a code was typed already: waiting for the companion");
        return -EALREADY;
    }
    uint8_t salt[32], iv[16], wrapped[WA_PAIRCODE_WRAPPED_LEN];
    fw_random(salt, sizeof(salt));
    fw_random(iv, sizeof(iv));
    int rc = wa_paircode_unwrap(typed, p->wrapped, sizeof(p->wrapped), p->comp_eph);
    if (rc == 0) rc = wa_keypair_generate(&p->eph);
    if (rc == 0) rc = wa_paircode_wrap(typed, salt, iv, p->eph.pub, wrapped);
    OPENSSL_cleanse(typed, sizeof(typed));
    if (rc < 0) {
        snprintf(err, errlen, "key derivation failed");
        return -EIO;
    }
    p->typed = true;
    p->attempts++;
    s->stats.paircode_typed++;
    fw_conn_iq_id(c, "lc-", p->notif_id, sizeof(p->notif_id));
    p->acked = false;
    struct wa_node *n =
        nb_new("notification", "type", "link_code_companion_reg", "id", p->notif_id, NULL);
    nb_attr_jid(n, "from", "s.whatsapp.net");
    nb_attr_u64(n, "t", fw_now());
    struct wa_node *reg = nb_add(n, "link_code_companion_reg", "stage", "primary_hello", NULL);
    nb_add_bytes(reg, "link_code_pairing_ref", p->ref, strlen(p->ref));
    nb_add_bytes(reg, "link_code_pairing_wrapped_primary_ephemeral_pub", wrapped, sizeof(wrapped));
    nb_add_bytes(reg, "primary_identity_pub", a->acct.pub, 32);
    log_info("fakewa", c->name, "the phone of +%s typed a code", a->phone);
    send_free(c, n);
    return 0;
}

/* pair-success, once the finish was verified and the notification acked (Baileys acks it only
 * after its handler, i.e. after the finish's result: sending pair-success and then the 515
 * earlier races its ack on a closing socket). */
static void complete(struct fw_conn *c, struct fw_paircode *p, struct fw_account *a)
{
    char jid[WA_JID_STR_MAX], err[160];
    p->ready = false;
    int rc = fw_pairing_complete(c, a, p->adv, jid, err, sizeof(err));
    OPENSSL_cleanse(p->adv, sizeof(p->adv));
    if (rc < 0)
        log_warn("fakewa", c->name, "pairing by code: %s", err);
    else
        log_info("fakewa", c->name, "pairing code accepted by +%s: device %s", a->phone, jid);
}

void fw_paircode_on_ack(struct fw_conn *c, const struct wa_node *ack)
{
    struct fw_paircode **slot = fw_pairing_code_slot(c);
    struct fw_paircode *p = slot ? *slot : NULL;
    const char *id = wa_node_attr(ack, "id");
    if (!p || !id || !p->notif_id[0] || strcmp(id, p->notif_id) != 0) return;
    p->acked = true;
    struct fw_account *a = fw_account_by_phone(c->srv, p->phone);
    if (p->ready && a) complete(c, p, a);
}

/* The bundle opened: check it, derive the ADV secret, answer, send pair-success. */
static void finish_ok(struct fw_conn *c, const struct wa_node *iq, struct fw_paircode *p,
                      struct fw_account *a, const uint8_t shared[32], const uint8_t ci[32],
                      const uint8_t pi[32], const uint8_t random[32])
{
    const uint8_t *ident = fw_pairing_companion_identity(c);
    uint8_t ish[32], adv[32];
    if (memcmp(ci, ident, 32) != 0 || memcmp(pi, a->acct.pub, 32) != 0) {
        log_warn("fakewa", c->name, "companion_finish: the bundle names other identity keys");
        error(c, iq, 400, "bad-request");
        return;
    }
    if (wa_dh(ish, a->acct.priv, ident) < 0 ||
        wa_paircode_adv_secret(shared, ish, random, adv) < 0) {
        error(c, iq, 500, "internal-server-error");
        return;
    }
    OPENSSL_cleanse(ish, sizeof(ish));
    send_free(c, reply(iq, "result"));
    memcpy(p->adv, adv, sizeof(adv));
    OPENSSL_cleanse(adv, sizeof(adv));
    p->ready = true;
    if (p->acked) complete(c, p, a);
}

static void finish(struct fw_conn *c, const struct wa_node *iq, const struct wa_node *reg)
{
    struct fw_paircode **slot = fw_pairing_code_slot(c);
    struct fw_paircode *p = slot ? *slot : NULL;
    size_t bl = 0, il = 0, rl = 0;
    const uint8_t *b = bytes(reg, "link_code_pairing_wrapped_key_bundle", &bl);
    const uint8_t *id = bytes(reg, "companion_identity_public", &il);
    const uint8_t *ref = bytes(reg, "link_code_pairing_ref", &rl);
    struct fw_account *a = p ? fw_account_by_phone(c->srv, p->phone) : NULL;
    if (!p || !p->typed || !a) {
        error(c, iq, 400, "bad-request");
        return;
    }
    if (!b || bl != WA_PAIRCODE_BUNDLE_LEN || !id || il != 32 ||
        memcmp(id, fw_pairing_companion_identity(c), 32) != 0 || !ref || rl != strlen(p->ref) ||
        memcmp(ref, p->ref, rl) != 0) {
        log_warn("fakewa", c->name, "companion_finish malformed");
        error(c, iq, 400, "bad-request");
        return;
    }
    uint8_t shared[32], ci[32], pi[32], random[32];
    int rc = wa_dh(shared, p->eph.priv, p->comp_eph);
    if (rc == 0) rc = wa_paircode_bundle_open(shared, b, bl, ci, pi, random);
    if (rc < 0) {
        /* a wrong code: both sides derived different shared secrets */
        log_warn("fakewa", c->name, "pairing code: the code typed on the phone was wrong");
        p->typed = false;
        c->srv->stats.paircode_rejected++;
        error(c, iq, 401, "incorrect-code");
    } else {
        finish_ok(c, iq, p, a, shared, ci, pi, random);
    }
    OPENSSL_cleanse(shared, sizeof(shared));
    OPENSSL_cleanse(random, sizeof(random));
}

bool fw_paircode_on_iq(struct fw_conn *c, const struct wa_node *iq)
{
    const char *xmlns = wa_node_attr(iq, "xmlns"), *type = wa_node_attr(iq, "type");
    const struct wa_node *reg = wa_node_child(iq, "link_code_companion_reg");
    if (!reg || !xmlns || strcmp(xmlns, "md") != 0 || !type || strcmp(type, "set") != 0)
        return false;
    const char *stage = wa_node_attr(reg, "stage");
    if (stage && strcmp(stage, "companion_hello") == 0)
        hello(c, iq, reg);
    else if (stage && strcmp(stage, "companion_finish") == 0)
        finish(c, iq, reg);
    else
        error(c, iq, 400, "bad-request");
    return true;
}
