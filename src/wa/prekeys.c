/* SPDX-License-Identifier: MIT */
/* prekeys.c -- our pre-keys on the server: the signed pre-key in the store, the count of
 * one-time pre-keys the server holds, generation and upload of a batch.
 *
 * An upload is durable before it is sent: the keys go to the store, the advanced next id to
 * the owner (on_creds), and only then the <iq xmlns=encrypt> leaves. The login's count/upload
 * is followed by passive active (login.c); a top-up (wa_client_prekey_topup, called for
 * the server's count notification) is not.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/be.h"
#include "core/log.h"
#include "wa/client_int.h"
#include "wa/nodeb.h"

#define PREKEY_UPLOAD_MAX 1000u

static void upload_done(void *ud, int status, const struct wa_node *resp)
{
    struct wa_client *c = ud;
    (void)resp;
    if (status == -ENOTCONN || status == -ECANCELED) return;
    if (status != 0) log_debug("wa", c->acct, "client: pre-key upload failed: %d", status);
    if (c->pk.login_uploading) {
        c->pk.login_uploading = false;
        wa_cl_login_send_active(c);
    }
}

/* <skey><id/><value/><signature/></skey> under parent (the upload iq, or <rotate>). */
int wa_cl_pk_add_skey(struct wa_client *c, struct wa_node *parent)
{
    uint8_t b[3];
    struct wa_node *sk = wa_nb_child(parent, "skey");
    be_put(b, c->creds.signed_prekey_id, 3);
    int rc = sk ? wa_nb_bytes(sk, "id", b, 3) : -ENOMEM;
    if (rc == 0) rc = wa_nb_bytes(sk, "value", c->creds.signed_prekey.pub, 32);
    if (rc == 0) rc = wa_nb_bytes(sk, "signature", c->creds.signed_prekey_sig, 64);
    return rc;
}

static struct wa_node *upload_iq(struct wa_client *c, const struct sg_prekey *pk, size_t n)
{
    struct wa_node *iq = wa_cl_mk_iq(c, "set", "encrypt");
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
    rc = rc == 0 && list ? wa_cl_pk_add_skey(c, iq) : -ENOMEM;
    if (rc < 0) {
        wa_node_free(iq);
        return NULL;
    }
    return iq;
}

/* Store the keys, then hand the advanced next id to the owner (on_creds). */
static int persist_prekeys(struct wa_client *c, const struct sg_prekey *pk, size_t n, uint32_t next)
{
    int rc = sg_store_put_prekeys(c->sig, c->store, pk, n);
    if (rc != 0) return rc;
    struct wa_creds nc = c->creds;
    nc.next_prekey_id = next;
    rc = c->cbs.on_creds ? c->cbs.on_creds(c->ud, &nc) : 0;
    wa_creds_wipe(&nc);
    return rc != 0 ? -EIO : 0;
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
    if (rc == 0) rc = persist_prekeys(c, pk, n, next);
    if (rc == 0 && wa_cl_alive(c, gen)) {
        c->creds.next_prekey_id = next;
        log_debug("wa", c->acct, "client: uploading %zu pre-keys", n);
        wa_cl_send_iq(c, upload_iq(c, pk, n), 0, upload_done);
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
        c->pk.login_uploading = true;
        int rc = upload_prekeys(c, n);
        if (rc == 0) return;
        c->pk.login_uploading = false;
        log_debug("wa", c->acct, "client: pre-key generation failed: %d", rc);
    }
    if (wa_cl_live(c)) wa_cl_login_send_active(c);
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

void wa_cl_pk_after_login(struct wa_client *c)
{
    unsigned gen = c->gen;
    int rc = ensure_signed_prekey(c);
    if (rc < 0) log_debug("wa", c->acct, "client: storing the signed pre-key failed: %d", rc);
    wa_cl_spk_check(c);
    if (!wa_cl_alive(c, gen)) return;
    struct wa_node *iq = wa_cl_mk_iq(c, "get", "encrypt");
    if (iq && !wa_nb_child(iq, "count")) {
        wa_node_free(iq);
        iq = NULL;
    }
    wa_cl_send_iq(c, iq, 0, count_done);
}

/* <ack id to=from class=<tag> [participant] [type]> (as Baileys' sendMessageAck). */
static void send_ack(struct wa_client *c, const struct wa_node *n)
{
    struct wa_node *a = wa_nb_ack(n, n->tag.s, true, NULL);
    if (a) wa_cl_send_owned(c, a);
}

int wa_client_prekey_topup(struct wa_client *c, long server_count)
{
    if (!c || server_count < 0) return -EINVAL;
    if (!wa_cl_live(c) || c->state != WA_CS_CONNECTED) return -ENOTCONN;
    if (server_count >= (long)c->o.prekey_min || c->pk.login_uploading) return 0;
    return upload_prekeys(c, c->o.prekey_batch);
}

bool wa_cl_pk_notification(struct wa_client *c, const struct wa_node *n)
{
    const char *type = wa_node_attr(n, "type");
    const struct wa_node *cnt = wa_node_child(n, "count");
    if (!type || strcmp(type, "encrypt") != 0 || !cnt || !wa_cl_from_server(n)) return false;
    unsigned gen = c->gen;
    send_ack(c, n);
    long v = wa_nb_attr_long(cnt, "value", -1);
    if (!wa_cl_alive(c, gen) || v < 0) return true;
    int rc = wa_client_prekey_topup(c, v);
    if (rc < 0 && rc != -ENOTCONN)
        log_debug("wa", c->acct, "client: pre-key top-up failed: %d", rc);
    return true;
}
