/* SPDX-License-Identifier: MIT */
/* creds.c -- generation, validation and conversions of the device credentials. */
#include "wa/creds.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

static int sign_spk(struct wa_creds *c)
{
    uint8_t msg[33] = {SG_KEY_TYPE_DJB};
    memcpy(msg + 1, c->signed_prekey.pub, 32);
    return wa_xeddsa_sign(c->signed_prekey_sig, c->identity.priv, msg, sizeof(msg));
}

int wa_creds_generate(struct wa_creds *c)
{
    memset(c, 0, sizeof(*c));
    int rc = wa_keypair_generate(&c->noise);
    if (rc == 0) rc = wa_keypair_generate(&c->identity);
    if (rc == 0) rc = wa_keypair_generate(&c->signed_prekey);
    if (rc == 0) rc = sg_registration_id_generate(&c->registration_id);
    if (rc == 0) rc = sign_spk(c);
    if (rc == 0 && RAND_bytes(c->adv_secret, sizeof(c->adv_secret)) != 1) rc = -EIO;
    if (rc < 0) {
        wa_creds_wipe(c);
        return -EIO;
    }
    c->signed_prekey_id = 1;
    c->next_prekey_id = 1;
    return 0;
}

bool wa_creds_is_paired(const struct wa_creds *c)
{
    return c->me_pn[0] != 0;
}

static bool pair_ok(const struct wa_keypair *kp)
{
    struct wa_keypair t;
    bool ok = wa_keypair_from_private(&t, kp->priv) == 0 && memcmp(t.pub, kp->pub, 32) == 0;
    wa_keypair_wipe(&t);
    return ok;
}

static bool terminated(const char *s, size_t n)
{
    return memchr(s, 0, n) != NULL;
}

int wa_creds_validate(const struct wa_creds *c, const char **why)
{
    const char *w = NULL;
    uint8_t msg[33] = {SG_KEY_TYPE_DJB};
    memcpy(msg + 1, c->signed_prekey.pub, 32);
    if (!pair_ok(&c->noise))
        w = "noise key pair mismatch";
    else if (!pair_ok(&c->identity))
        w = "identity key pair mismatch";
    else if (!pair_ok(&c->signed_prekey))
        w = "signed pre-key pair mismatch";
    else if (wa_xeddsa_verify(c->identity.pub, msg, 33, c->signed_prekey_sig, 64) != 0)
        w = "signed pre-key signature does not verify";
    else if (c->registration_id == 0)
        w = "registration id is 0";
    else if (c->signed_prekey_id == 0 || c->signed_prekey_id > SG_PREKEY_ID_MAX ||
             c->next_prekey_id == 0 || c->next_prekey_id > SG_PREKEY_ID_MAX)
        w = "pre-key id out of range";
    else if (!terminated(c->me_pn, sizeof(c->me_pn)) || !terminated(c->me_lid, sizeof(c->me_lid)) ||
             !terminated(c->push_name, sizeof(c->push_name)) ||
             !terminated(c->platform, sizeof(c->platform)))
        w = "unterminated string";
    else if (c->account_len > sizeof(c->account))
        w = "account too long";
    if (why) *why = w ? w : "";
    return w ? -EINVAL : 0;
}

void wa_creds_sg_identity(const struct wa_creds *c, struct sg_identity *out)
{
    memcpy(out->kp.pub, c->identity.pub, 32);
    memcpy(out->kp.priv, c->identity.priv, 32);
    out->registration_id = c->registration_id;
}

void wa_creds_sg_signed_prekey(const struct wa_creds *c, struct sg_signed_prekey *out)
{
    memset(out, 0, sizeof(*out));
    out->id = c->signed_prekey_id;
    memcpy(out->kp.pub, c->signed_prekey.pub, 32);
    memcpy(out->kp.priv, c->signed_prekey.priv, 32);
    memcpy(out->sig, c->signed_prekey_sig, 64);
}

void wa_creds_wipe(struct wa_creds *c)
{
    OPENSSL_cleanse(c, sizeof(*c));
}
