/* SPDX-License-Identifier: MIT */
/* outmsg.c -- outgoing messages as values and the durable outbox enqueue. */
#include "wa/outmsg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/utf8.h"
#include "wa/jid.h"
#include "wa/sendbuild.h"

/* The content's own rules (before an id is spent on it). */
static int check_content(const struct wa_outmsg *m, char *err, size_t errlen)
{
    if (m->kind != WA_OM_TEXT) {
        snprintf(err, errlen, "unknown message kind %d", (int)m->kind);
        return -EINVAL;
    }
    size_t tl = m->text ? strlen(m->text) : 0;
    if (tl == 0 || tl > WA_SEND_TEXT_MAX) {
        snprintf(err, errlen, "text must be 1..%d bytes", WA_SEND_TEXT_MAX);
        return -EINVAL;
    }
    size_t bad = utf8_first_invalid(m->text, tl);
    if (bad < tl) { /* the API refuses it earlier; this is for every other sender (the hook) */
        snprintf(err, errlen, "text is not valid UTF-8 (byte %zu)", bad);
        return -EINVAL;
    }
    return 0;
}

int wa_outrow_make(struct wa_outrow *r, const struct wa_outmsg *m, const struct wa_creds *creds,
                   char *err, size_t errlen)
{
    buf_init(&r->pb, ST_PAYLOAD_MAX);
    r->chat[0] = r->id[0] = '\0';
    if (!m) return -EINVAL;
    int rc = wa_send_normalize_to(m->to, r->chat, sizeof(r->chat), err, errlen);
    if (rc < 0) return rc;
    rc = check_content(m, err, errlen);
    if (rc < 0) return rc;
    struct wa_jid me;
    if (!creds->me_pn[0] || wa_jid_parse(&me, creds->me_pn, strlen(creds->me_pn)) < 0) {
        snprintf(err, errlen, "not paired");
        return -EINVAL;
    }
    rc = wa_send_msg_id(me.user, (int64_t)time(NULL), r->id, sizeof(r->id));
    if (rc < 0) snprintf(err, errlen, "enqueue: rng");
    if (rc == 0) rc = wa_send_build_text(m->text, &r->pb);
    return rc;
}

void wa_outrow_free(struct wa_outrow *r)
{
    buf_free(&r->pb);
}

int wa_outrow_store(struct st_db *db, const struct wa_outrow *r, const char *idem_key,
                    struct st_outbox_msg *out)
{
    int rc = st_outbox_enqueue(db, idem_key ? idem_key : r->id, r->id, r->chat, r->pb.data,
                               r->pb.len, out);
    if (rc == ST_DUPLICATE && (strcmp(out->to, r->chat) != 0 || out->payload_len != r->pb.len ||
                               memcmp(out->payload, r->pb.data, r->pb.len) != 0)) {
        st_outbox_msg_free(out); /* the key names another message: not a retry of this one */
        memset(out, 0, sizeof(*out));
        return -EEXIST;
    }
    /* st_retry_get answers peers' retry receipts from this row: no second copy */
    if (rc == 0) rc = st_outbox_get(db, r->id, out);
    return rc;
}

void wa_outrow_conflict(const char *idem_key, char *err, size_t errlen)
{
    snprintf(err, errlen,
             "idempotency_key '%s' was already used for a different message (recipient or text "
             "differ)",
             idem_key ? idem_key : "");
}

int wa_outbox_enqueue(struct st_db *db, const struct wa_creds *creds, const struct wa_outmsg *m,
                      struct st_outbox_msg *out, char *err, size_t errlen)
{
    struct wa_outrow r;
    memset(out, 0, sizeof(*out));
    int rc = wa_outrow_make(&r, m, creds, err, errlen);
    if (rc < 0) {
        wa_outrow_free(&r);
        return rc;
    }
    rc = st_db_begin(db);
    if (rc == 0) {
        rc = wa_outrow_store(db, &r, m->idem_key, out);
        if (rc == 0)
            rc = st_db_commit(db);
        else
            st_db_rollback(db);
    }
    if (rc == -EEXIST)
        wa_outrow_conflict(m->idem_key, err, errlen);
    else if (rc < 0)
        snprintf(err, errlen, "enqueue: %s", st_db_last_error(db));
    if (rc < 0) st_outbox_msg_free(out);
    wa_outrow_free(&r);
    return rc;
}
