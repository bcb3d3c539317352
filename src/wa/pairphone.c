/* SPDX-License-Identifier: MIT */
/* pairphone.c -- pairing with a phone-number code on the connection (wa/paircode.h does the
 * protocol): the request (code + companion_hello, sent once pair-device has arrived), the
 * primary's notification (ack, derive, companion_finish with the new ADV secret), and the
 * clear ends: a refused hello, a rejected finish (wrong code), the window's expiry
 * (pairflow.c's QR rotation ends the session with "pairing code expired").
 * The pair-success that follows is pairflow.c's, HMACed with the derived ADV secret.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "wa/client_int.h"
#include "wa/nodeb.h"
#include "wa/payload.h"

#define PLATFORM_DISPLAY "Chrome (Mac OS)" /* what the registration's DeviceProps say */

unsigned wa_cl_pair_window_ms(const struct wa_client *c)
{
    uint64_t now = wa_cl_now(c);
    if (!c->pair.nrefs) /* pair-device still to come: the whole rotation */
        return (unsigned)(c->o.qr_first_ms + 5 * c->o.qr_next_ms) /* 6 refs, as real servers */;
    uint64_t left = c->pair.qr_expiry > now ? c->pair.qr_expiry - now : 0;
    left += (uint64_t)(c->pair.nrefs - c->pair.ref_next) * (uint64_t)c->o.qr_next_ms;
    return (unsigned)left;
}

static void hello_done(void *ud, int status, const struct wa_node *resp)
{
    struct wa_client *c = ud;
    if (status == -ENOTCONN || status == -ECANCELED || !wa_cl_live(c)) return;
    if (status == 0) {
        if (wa_paircode_hello_result(&c->pair.code.pc, resp) < 0)
            log_debug("wa", c->acct, "client: pairing code ref too long, ignored");
        return;
    }
    const struct wa_node *e = resp ? wa_node_child(resp, "error") : NULL;
    const char *code = e ? wa_node_attr(e, "code") : NULL,
               *text = e ? wa_node_attr(e, "text") : NULL;
    wa_cl_end_with(c, WA_OUT_PAIRING, WA_OC_NEEDS_USER,
                   code ? (int)wa_nb_attr_long(e, "code", 400) : 408,
                   "the server refused the pairing-code request (%s %s): check the phone number",
                   code ? code : "timeout", text ? text : "");
}

/* The PBKDF2 of the hello (wrap) and of the finish (unwrap) run on libuv's thread pool: each
 * costs tens of milliseconds, which the loop must not spend. */
struct code_work {
    uv_work_t req;
    struct wa_client *c;
    unsigned gen;
    bool finish;
    char code[WA_PAIRCODE_LEN + 1];
    uint8_t salt[32], iv[16], pub[32];        /* hello: wrap pub */
    uint8_t wrapped[WA_PAIRCODE_WRAPPED_LEN]; /* hello: out; finish: in */
    struct wa_paircode_primary p;             /* finish */
    int rc;
};

static void work_run(uv_work_t *req)
{
    struct code_work *w = req->data;
    if (w->finish)
        w->rc = wa_paircode_unwrap(w->code, w->wrapped, sizeof w->wrapped, w->pub);
    else
        w->rc = wa_paircode_wrap(w->code, w->salt, w->iv, w->pub, w->wrapped);
}

static void hello_wrapped(struct wa_client *c, struct code_work *w);
static void finish_unwrapped(struct wa_client *c, struct code_work *w);

static void work_done(uv_work_t *req, int status)
{
    struct code_work *w = req->data;
    struct wa_client *c = w->c;
    if (wa_cl_release(c) && status == 0 && wa_cl_alive(c, w->gen)) {
        if (w->rc < 0)
            wa_cl_end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500,
                           "pairing code: key "
                           "derivation failed: %d",
                           w->rc);
        else if (w->finish)
            finish_unwrapped(c, w);
        else
            hello_wrapped(c, w);
        if (wa_cl_live(c)) wa_cl_arm(c);
    }
    OPENSSL_cleanse(w, sizeof(*w));
    free(w);
}

static int queue_work(struct wa_client *c, struct code_work *w)
{
    w->req.data = w;
    w->c = c;
    w->gen = c->gen;
    memcpy(w->code, c->pair.code.pc.code, sizeof w->code);
    wa_cl_hold(c);
    int rc = uv_queue_work(c->loop, &w->req, work_run, work_done);
    if (rc < 0) {
        (void)wa_cl_release(c); /* the client is live: not freed here */
        OPENSSL_cleanse(w, sizeof(*w));
        free(w);
    }
    return rc;
}

static void hello_wrapped(struct wa_client *c, struct code_work *w)
{
    struct wa_node *reg = NULL, *iq = NULL;
    int rc = wa_paircode_hello_node(&c->pair.code.pc, w->wrapped, c->creds.noise.pub,
                                    WA_QR_PLATFORM_ID, PLATFORM_DISPLAY, &reg);
    if (rc == 0) iq = wa_cl_mk_iq(c, "set", "md");
    if (iq && wa_node_add_child(iq, reg) < 0) {
        wa_node_free(iq);
        iq = NULL;
    }
    if (!iq) wa_node_free(reg);
    log_debug("wa", c->acct, "client: companion_hello for a pairing code sent");
    wa_cl_send_iq(c, iq, 0, hello_done);
}

static void send_hello(struct wa_client *c)
{
    struct wa_cl_code *k = &c->pair.code;
    struct code_work *w = calloc(1, sizeof(*w));
    k->hello_sent = true;
    if (w) {
        memcpy(w->salt, k->rand.salt, sizeof w->salt);
        memcpy(w->iv, k->rand.iv, sizeof w->iv);
        memcpy(w->pub, k->pc.eph.pub, sizeof w->pub);
    }
    if (!w || queue_work(c, w) < 0)
        wa_cl_end_with(c, WA_OUT_PROTOCOL, WA_OC_TRANSIENT, 500, "pairing code: out of memory");
}

void wa_cl_code_on_pair_device(struct wa_client *c)
{
    if (c->pair.code.pending && !c->pair.code.hello_sent && wa_cl_live(c)) send_hello(c);
}

int wa_client_pair_phone(struct wa_client *c, const char *phone, char code[9], unsigned *valid_ms)
{
    char digits[WA_PAIRCODE_PHONE_MAX + 1];
    if (!c || !code) return -EINVAL;
    struct wa_cl_code *k = &c->pair.code;
    if (!wa_cl_live(c) || c->state > WA_CS_PAIRING || c->pair.replied ||
        wa_creds_is_paired(&c->creds))
        return -ENOTCONN;
    if (k->pending) {
        memcpy(code, k->pc.code, 9);
        if (valid_ms) *valid_ms = wa_cl_pair_window_ms(c);
        return -EBUSY;
    }
    if (wa_paircode_phone(phone, digits) < 0) return -EINVAL;
    if (RAND_bytes((unsigned char *)&k->rand, sizeof k->rand) != 1) return -EIO;
    int rc = wa_paircode_init(&k->pc, digits, k->rand.code, k->rand.eph_priv);
    if (rc < 0) {
        OPENSSL_cleanse(&k->rand, sizeof k->rand);
        return rc;
    }
    k->pending = true;
    memcpy(code, k->pc.code, 9);
    if (valid_ms) *valid_ms = wa_cl_pair_window_ms(c);
    log_info("wa", c->acct, "client: pairing code requested for +%s", digits);
    if (c->state == WA_CS_PAIRING && c->pair.nrefs) send_hello(c);
    return 0;
}

const char *wa_client_pair_phone_pending(const struct wa_client *c)
{
    return c && c->pair.code.pending ? c->pair.code.pc.phone : NULL;
}

static void finish_done(void *ud, int status, const struct wa_node *resp)
{
    struct wa_client *c = ud;
    if (status == -ENOTCONN || status == -ECANCELED || !wa_cl_live(c)) return;
    if (status == 0) return; /* pair-success follows */
    const struct wa_node *e = resp ? wa_node_child(resp, "error") : NULL;
    const char *code = e ? wa_node_attr(e, "code") : NULL,
               *text = e ? wa_node_attr(e, "text") : NULL;
    wa_cl_end_with(c, WA_OUT_PAIRING, WA_OC_NEEDS_USER,
                   code ? (int)wa_nb_attr_long(e, "code", 401) : 408,
                   "pairing code rejected (%s %s): the code typed on the phone did not match; "
                   "request a new one",
                   code ? code : "timeout", text ? text : "");
}

bool wa_cl_code_notification(struct wa_client *c, const struct wa_node *n)
{
    const char *type = wa_node_attr(n, "type");
    if (!type || strcmp(type, "link_code_companion_reg") != 0) return false;
    unsigned gen = c->gen;
    struct wa_node *ack = wa_nb_ack(n, "notification", true, NULL);
    if (ack) wa_cl_send_owned(c, ack);
    if (!wa_cl_alive(c, gen)) return true;
    struct wa_cl_code *k = &c->pair.code;
    if (c->state != WA_CS_PAIRING || !k->hello_sent || k->finish_sent || c->pair.replied ||
        !wa_cl_from_server(n)) {
        log_debug("wa", c->acct, "client: unexpected link_code_companion_reg notification");
        return true;
    }
    struct code_work *w = calloc(1, sizeof(*w));
    int rc = w ? wa_paircode_parse_notification(n, &w->p) : -ENOMEM;
    if (rc == 0) {
        memcpy(w->wrapped, w->p.wrapped, sizeof w->wrapped);
        w->finish = true;
        k->finish_sent = true; /* one notification is answered */
        rc = queue_work(c, w); /* frees w on failure */
        w = NULL;
    }
    free(w);
    if (rc < 0)
        wa_cl_end_with(c, WA_OUT_PAIRING, WA_OC_TRANSIENT, 500,
                       "pairing code: the phone's answer is unusable (%s)",
                       rc == -EBADMSG ? "malformed" : strerror(-rc));
    return true;
}

/* The primary's ephemeral is unwrapped: derive, adopt the ADV secret, send the finish. */
static void finish_unwrapped(struct wa_client *c, struct code_work *w)
{
    struct wa_paircode_finish_rand r;
    uint8_t adv[32];
    struct wa_node *reg = NULL;
    int rc = 0;
    if (RAND_bytes(r.salt, sizeof r.salt) != 1 || RAND_bytes(r.iv, sizeof r.iv) != 1 ||
        RAND_bytes(r.random, sizeof r.random) != 1)
        rc = -EIO;
    if (rc == 0)
        rc = wa_paircode_finish_unwrapped(&c->pair.code.pc, &c->creds.identity, &w->p, w->pub, &r,
                                          adv, &reg);
    OPENSSL_cleanse(&r, sizeof r);
    if (rc < 0) {
        OPENSSL_cleanse(adv, sizeof adv);
        wa_cl_end_with(c, WA_OUT_PAIRING, rc == -EBADMSG ? WA_OC_TRANSIENT : WA_OC_NEEDS_USER, 500,
                       "pairing code: the phone's answer is unusable (%s)",
                       rc == -EBADMSG ? "another ref" : "key rejected");
        return;
    }
    memcpy(c->creds.adv_secret, adv, sizeof adv); /* pair-success is HMACed with it */
    OPENSSL_cleanse(adv, sizeof adv);
    struct wa_node *iq = wa_cl_mk_iq(c, "set", "md");
    if (!iq || wa_node_add_child(iq, reg) < 0) {
        wa_node_free(reg);
        wa_node_free(iq);
        iq = NULL;
    }
    log_debug("wa", c->acct, "client: companion_finish sent; waiting for pair-success");
    wa_cl_send_iq(c, iq, 0, finish_done);
}
