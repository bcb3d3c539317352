/* SPDX-License-Identifier: MIT */
/* credstore.c -- wa_creds <-> the store's credentials row. */
#include "wa/credstore.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/creds.h"
#include "store/spkstore.h"

/* Truncating string copy (the lengths are checked where it matters). */
static void copy_str(char *dst, size_t len, const char *src)
{
    size_t n = strnlen(src, len - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void to_st(const struct wa_creds *w, struct st_creds *s)
{
    memset(s, 0, sizeof *s);
    memcpy(s->noise_priv, w->noise.priv, 32);
    memcpy(s->noise_pub, w->noise.pub, 32);
    memcpy(s->identity_priv, w->identity.priv, 32);
    memcpy(s->identity_pub, w->identity.pub, 32);
    s->registration_id = w->registration_id;
    s->spk_id = w->signed_prekey_id;
    memcpy(s->spk_priv, w->signed_prekey.priv, 32);
    memcpy(s->spk_pub, w->signed_prekey.pub, 32);
    memcpy(s->spk_sig, w->signed_prekey_sig, 64);
    memcpy(s->adv_secret, w->adv_secret, 32);
    copy_str(s->me_pn, sizeof s->me_pn, w->me_pn);
    copy_str(s->me_lid, sizeof s->me_lid, w->me_lid);
    copy_str(s->push_name, sizeof s->push_name, w->push_name);
    copy_str(s->platform, sizeof s->platform, w->platform);
    s->account_len = w->account_len <= sizeof s->account ? w->account_len : 0;
    memcpy(s->account, w->account, s->account_len);
    s->next_prekey_id = w->next_prekey_id;
    s->first_unuploaded_prekey_id = w->next_prekey_id;
}

static int from_st(const struct st_creds *s, struct wa_creds *w)
{
    memset(w, 0, sizeof *w);
    if (s->account_len > sizeof w->account || strlen(s->me_pn) >= sizeof w->me_pn ||
        strlen(s->me_lid) >= sizeof w->me_lid)
        return -EUCLEAN;
    memcpy(w->noise.priv, s->noise_priv, 32);
    memcpy(w->noise.pub, s->noise_pub, 32);
    memcpy(w->identity.priv, s->identity_priv, 32);
    memcpy(w->identity.pub, s->identity_pub, 32);
    w->registration_id = s->registration_id;
    w->signed_prekey_id = s->spk_id;
    memcpy(w->signed_prekey.priv, s->spk_priv, 32);
    memcpy(w->signed_prekey.pub, s->spk_pub, 32);
    memcpy(w->signed_prekey_sig, s->spk_sig, 64);
    memcpy(w->adv_secret, s->adv_secret, 32);
    copy_str(w->me_pn, sizeof w->me_pn, s->me_pn);
    copy_str(w->me_lid, sizeof w->me_lid, s->me_lid);
    copy_str(w->push_name, sizeof w->push_name, s->push_name);
    copy_str(w->platform, sizeof w->platform, s->platform);
    memcpy(w->account, s->account, s->account_len);
    w->account_len = s->account_len;
    w->next_prekey_id = s->next_prekey_id;
    return wa_creds_validate(w, NULL) < 0 ? -EUCLEAN : 0;
}

int wa_creds_store(struct st_db *db, const struct wa_creds *c)
{
    struct st_creds s;
    to_st(c, &s);
    int r = st_creds_save(db, &s);
    st_creds_wipe(&s);
    return r;
}

int wa_creds_fetch(struct st_db *db, struct wa_creds *out)
{
    struct st_creds s;
    int r = st_creds_load(db, &s);
    if (r == 0) r = from_st(&s, out);
    st_creds_wipe(&s);
    return r;
}

int wa_creds_store_spk(struct st_db *db, const struct wa_creds *nc, const uint8_t *rec, size_t len,
                       int64_t now)
{
    int r = st_db_begin(db);
    if (r < 0) return r;
    r = st_spk_put_new(db, nc->signed_prekey_id, rec, len, now);
    if (r == 0) r = wa_creds_store(db, nc);
    if (r == 0) return st_db_commit(db);
    (void)st_db_rollback(db);
    return r;
}
