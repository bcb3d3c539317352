/* SPDX-License-Identifier: MIT */
/* spkrot.c -- part of wa/client: rotation of our signed pre-key (wa/spkplan.h decides).
 *
 * Order (so a cut anywhere leaves the old or the new key current, never none):
 *   1. a new key (next id) is generated and handed to cbs.spk->rotate, which stores its
 *      record (uploaded 0) and the credentials naming it in one transaction;
 *   2. only then <iq xmlns=encrypt type=set><rotate><skey/></rotate></iq> leaves;
 *   3. the result marks it uploaded and retires the older keys (acked), which are deleted
 *      after the grace period (prune). A login that finds the current key not uploaded (a
 *      cut between 1 and 3) sends the same rotate iq again: the server keeps the latest.
 * Other clients: Baileys (7.0.0-rc14) has rotateSignedPreKey (id + 1, the same iq) but never
 * calls it, and saves the new key in its credentials only after the server's result, replacing
 * the old one -- a crash between the two leaves the server with a key the client lost, and a
 * pkmsg on the old key fails at once. WhatsApp Web's RotateKeyJob rotates every 27 days and
 * keeps the older keys. Hence store-first and a grace period here.
 * The check runs after each login and then from the client's one deadline timer; wall-clock
 * ages (Unix s) are persisted, the timer uses loop time. Nothing here blocks beyond the
 * owner's store calls.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "wa/client_int.h"
#include "wa/nodeb.h"

static int64_t wall_now(void)
{
    return (int64_t)time(NULL);
}

static void schedule(struct wa_client *c, int64_t secs)
{
    if (secs < 1) secs = 1;
    if (secs > 400LL * 86400) secs = 400LL * 86400;
    c->pk.spk_due = wa_cl_now(c) + (uint64_t)secs * 1000u;
}

static void failed(struct wa_client *c, const char *what, int rc)
{
    c->pk.spk_fail++;
    uint32_t s = wa_spk_retry_s(c->o.spk_rotate_s, c->pk.spk_fail);
    log_warn("wa", c->acct, "signed pre-key rotation: %s failed (%d); again in %u s", what, rc, s);
    schedule(c, s);
}

static void prune(struct wa_client *c, int64_t now)
{
    const struct wa_spk_ops *ops = c->cbs.spk;
    int n = ops->prune(c->ud, c->creds.signed_prekey_id, wa_spk_keep_before(now, c->o.spk_keep_s),
                       c->o.spk_keep_max);
    if (n > 0)
        log_info("wa", c->acct,
                 "signed pre-key: %d retired key(s) deleted (grace over, or over %u kept)", n,
                 c->o.spk_keep_max);
    if (n < 0) log_debug("wa", c->acct, "signed pre-key: pruning failed: %d", n);
}

static void rotate_done(void *ud, int status, const struct wa_node *resp)
{
    struct wa_client *c = ud;
    (void)resp;
    c->pk.spk_inflight = false;
    if (status == -ENOTCONN || status == -ECANCELED) return; /* the next login looks again */
    if (status != 0) {
        failed(c, "the rotate iq", status);
        return;
    }
    unsigned gen = c->gen;
    int64_t now = wall_now();
    int rc = c->cbs.spk->acked(c->ud, c->pk.spk_sent, now);
    if (!wa_cl_alive(c, gen)) return;
    if (rc < 0) {
        failed(c, "marking the key uploaded", rc);
        return;
    }
    c->pk.spk_fail = 0;
    log_info("wa", c->acct, "signed pre-key %u is current on the server", c->pk.spk_sent);
    prune(c, now);
    if (wa_cl_alive(c, gen)) wa_cl_spk_check(c);
}

static void send_rotate(struct wa_client *c)
{
    struct wa_node *iq = wa_cl_mk_iq(c, "set", "encrypt");
    struct wa_node *rot = iq ? wa_nb_child(iq, "rotate") : NULL;
    if (!rot || wa_cl_pk_add_skey(c, rot) < 0) {
        wa_node_free(iq);
        iq = NULL;
    }
    c->pk.spk_inflight = iq != NULL;
    c->pk.spk_sent = c->creds.signed_prekey_id;
    wa_cl_send_iq(c, iq, 0, rotate_done); /* NULL: ENOMEM ends the session */
}

/* New key with the next id; persisted by the owner with the credentials; then current. */
static int make_new(struct wa_client *c, int64_t now)
{
    struct sg_identity id;
    struct sg_signed_prekey spk;
    signal_buffer *rec = NULL;
    wa_creds_sg_identity(&c->creds, &id);
    uint32_t nid = sg_prekey_id_next(c->creds.signed_prekey_id);
    int rc = sg_signed_prekey_generate(c->sig, &id.kp, nid, &spk);
    if (rc == 0) rc = sg_signed_prekey_record(c->sig, &spk, &rec);
    struct wa_creds nc = c->creds;
    nc.signed_prekey_id = nid;
    memcpy(nc.signed_prekey.priv, spk.kp.priv, 32);
    memcpy(nc.signed_prekey.pub, spk.kp.pub, 32);
    memcpy(nc.signed_prekey_sig, spk.sig, 64);
    unsigned gen = c->gen;
    if (rc == 0)
        rc = c->cbs.spk->rotate(c->ud, &nc, signal_buffer_data(rec), signal_buffer_len(rec), now);
    if (rc == 0 && wa_cl_alive(c, gen)) {
        c->creds.signed_prekey_id = nc.signed_prekey_id;
        c->creds.signed_prekey = nc.signed_prekey;
        memcpy(c->creds.signed_prekey_sig, nc.signed_prekey_sig, 64);
        log_info("wa", c->acct, "signed pre-key rotated: %u stored, uploading it", nid);
    }
    if (rec) signal_buffer_bzero_free(rec);
    wa_creds_wipe(&nc);
    OPENSSL_cleanse(&spk, sizeof spk);
    OPENSSL_cleanse(&id, sizeof id);
    return rc < 0 ? rc : rc > 0 ? -EIO : 0;
}

void wa_cl_spk_check(struct wa_client *c)
{
    const struct wa_spk_ops *ops = c->cbs.spk;
    if (!ops || c->state != WA_CS_CONNECTED || c->pk.spk_inflight) return;
    c->pk.spk_due = 0;
    unsigned gen = c->gen;
    int64_t now = wall_now(), at = 0;
    struct wa_spk_state st = {0};
    int rc = ops->state(c->ud, c->creds.signed_prekey_id, &st);
    if (!wa_cl_alive(c, gen)) return;
    if (rc < 0) {
        failed(c, "reading its state", rc);
        return;
    }
    enum wa_spk_step step = wa_spk_plan(&st, now, c->o.spk_rotate_s, &at);
    if (step == WA_SPK_ROTATE) {
        rc = make_new(c, now);
        if (!wa_cl_alive(c, gen)) return;
        if (rc < 0) {
            failed(c, "storing the new key", rc);
            return;
        }
    }
    if (step == WA_SPK_WAIT) {
        prune(c, now); /* grace periods end while nothing rotates */
        if (!wa_cl_alive(c, gen)) return;
        int64_t look = wa_spk_next_look(&st, at, c->o.spk_keep_s);
        if (look) schedule(c, look - now);
        return;
    }
    if (step == WA_SPK_UPLOAD)
        log_info("wa", c->acct, "signed pre-key %u not acknowledged yet: uploading it again",
                 c->creds.signed_prekey_id);
    send_rotate(c);
}

uint64_t wa_cl_spk_deadline(const struct wa_client *c)
{
    return c->pk.spk_due;
}

void wa_cl_spk_tick(struct wa_client *c, uint64_t now)
{
    if (c->pk.spk_due && now >= c->pk.spk_due) wa_cl_spk_check(c);
}
