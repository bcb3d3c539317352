/* SPDX-License-Identifier: MIT */
/* outmsg.c -- outgoing messages as values and the durable outbox enqueue. */
#include "wa/outmsg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/utf8.h"
#include "wa/jid.h"
#include "wa/msg.h"
#include "wa/sendbuild.h"

static int check_text(const char *t, size_t min, size_t max, const char *what, char *err,
                      size_t errlen)
{
    size_t tl = t ? strlen(t) : 0;
    if (!t || tl < min || tl > max) {
        snprintf(err, errlen, "%s must be %zu..%zu bytes", what, min, max);
        return -EINVAL;
    }
    size_t bad = utf8_first_invalid(t, tl);
    if (bad < tl) { /* the API refuses it earlier; this is for every other sender (the hook) */
        snprintf(err, errlen, "%s is not valid UTF-8 (byte %zu)", what, bad);
        return -EINVAL;
    }
    return 0;
}

/* The content's own rules (before an id is spent on it). */
static int check_content(const struct wa_outmsg *m, char *err, size_t errlen)
{
    if (m->kind < WA_OM_TEXT || m->kind > WA_OM_MEDIA) {
        snprintf(err, errlen, "unknown message kind %d", (int)m->kind);
        return -EINVAL;
    }
    if (m->kind != WA_OM_TEXT && m->kind != WA_OM_MEDIA && (!m->target || !m->target[0])) {
        snprintf(err, errlen, "the message id to react to / edit / revoke is missing");
        return -EINVAL;
    }
    if (m->target && strlen(m->target) >= ST_MSGID_MAX) {
        snprintf(err, errlen, "message id too long");
        return -EINVAL;
    }
    if (m->n_mentions > WA_SEND_MENTIONS_MAX || (m->n_mentions && !m->mentions)) {
        snprintf(err, errlen, "at most %d mentions", WA_SEND_MENTIONS_MAX);
        return -EINVAL;
    }
    if (m->kind == WA_OM_REACTION)
        return check_text(m->text ? m->text : "", 0, WA_SEND_EMOJI_MAX, "emoji", err, errlen);
    if (m->kind == WA_OM_REVOKE) return 0;
    if (m->kind == WA_OM_MEDIA) {
        int rc = wa_outmedia_check(m->media, err, errlen);
        if (rc == 0 && m->text &&
            (m->media->type == WA_MEDIA_AUDIO || m->media->type == WA_MEDIA_STICKER)) {
            snprintf(err, errlen, "a %s has no caption", wa_media_type_name(m->media->type));
            rc = -EINVAL;
        }
        return rc < 0 || !m->text
                   ? rc
                   : check_text(m->text, 1, WA_SEND_TEXT_MAX, "caption", err, errlen);
    }
    return check_text(m->text, 1, WA_SEND_TEXT_MAX, "text", err, errlen);
}

/* Our own bare PN JID. */
static void my_jid(const struct wa_jid *me, char *out, size_t cap)
{
    snprintf(out, cap, "%s@%s", me->user, WA_SERVER_PN);
}

/* The target of a quote / reaction / edit / revoke in r->chat: an inbox row (from_me false)
 * or, failing that, a message we sent there. *row (inbox) or *orow (outbox) is filled:
 * 1 inbox, 2 outbox, -ENOENT. */
static int find_target(struct st_db *db, const char *chat, const char *id, bool own_only,
                       struct st_inbox_msg *row, struct st_outbox_msg *orow)
{
    memset(row, 0, sizeof(*row));
    memset(orow, 0, sizeof(*orow));
    if (!db) return -ENOENT;
    int rc = own_only ? 0 : st_inbox_get_by_id(db, chat, id, row);
    if (rc != 0) return rc;
    rc = st_outbox_get(db, id, orow);
    if (rc == 0 && orow->to && strcmp(orow->to, chat) == 0) return 2;
    if (rc == 0) st_outbox_msg_free(orow);
    memset(orow, 0, sizeof(*orow));
    return rc < 0 && rc != -ENOENT ? rc : -ENOENT;
}

/* Normalised mention JIDs into jids (n of them, WA_JID_STR_MAX apart). */
static int mention_jids(const struct wa_outmsg *m, char (*jids)[WA_JID_STR_MAX], char *err,
                        size_t errlen)
{
    for (size_t i = 0; i < m->n_mentions; i++) {
        char why[128];
        struct wa_jid j;
        int rc = wa_send_normalize_to(m->mentions[i], jids[i], WA_JID_STR_MAX, why, sizeof why);
        if (rc == 0 && (wa_jid_parse(&j, jids[i], strlen(jids[i])) < 0 || wa_jid_is_group(&j)))
            rc = -EINVAL, snprintf(why, sizeof why, "a group cannot be mentioned");
        if (rc < 0) {
            snprintf(err, errlen, "mentions[%zu]: %s", i, why);
            return -EINVAL;
        }
    }
    return 0;
}

/* The quoted message's Message bytes: an inbox text row holds the text (rebuilt as a
 * conversation), other rows and outbox rows the protobuf (its content, unwrapped, is quoted:
 * the device-sent and context wrappers stay out). */
static int quoted_bytes(const struct st_inbox_msg *row, const struct st_outbox_msg *orow,
                        struct buf *out)
{
    if (row->msg_id && row->type && strcmp(row->type, "text") == 0) {
        /* Not strndup: the payload is not NUL-terminated, and ASan's strict string checks
         * (as CI runs them) flag strndup reading one byte past it. */
        char *t = malloc(row->payload_len + 1);
        if (t) {
            memcpy(t, row->payload, row->payload_len);
            t[row->payload_len] = '\0';
        }
        int rc = t ? wa_send_build_text(t, out) : -ENOMEM;
        free(t);
        return rc;
    }
    const uint8_t *p = row->msg_id ? row->payload : orow->payload;
    size_t n = row->msg_id ? row->payload_len : orow->payload_len;
    struct wa_msg_info mi;
    int rc = wa_msg_decode(p, n, &mi);
    if (rc < 0 || !mi.content) {
        if (rc == 0) wa_msg_info_free(&mi);
        return rc < 0 ? rc : -EBADMSG;
    }
    Wa__Message c = *mi.content;
    c.messagecontextinfo = NULL;
    c.senderkeydistributionmessage = NULL;
    c.devicesentmessage = NULL;
    size_t len = wa__message__get_packed_size(&c);
    rc = buf_reserve(out, len);
    if (rc == 0) {
        wa__message__pack(&c, out->data + out->len);
        out->len += len;
    }
    wa_msg_info_free(&mi);
    return rc;
}

static int build_content(struct wa_outrow *r, const struct wa_outmsg *m, const struct wa_jid *me,
                         struct st_db *db, char *err, size_t errlen)
{
    char mine[WA_JID_STR_MAX];
    my_jid(me, mine, sizeof mine);
    struct wa_jid chat;
    bool group = wa_jid_parse(&chat, r->chat, strlen(r->chat)) == 0 && wa_jid_is_group(&chat);
    struct st_inbox_msg row;
    struct st_outbox_msg orow;
    int found = 0;
    if (m->target) {
        found = find_target(db, r->chat, m->target,
                            m->kind == WA_OM_EDIT || m->kind == WA_OM_REVOKE, &row, &orow);
        if (found < 0) {
            if (found == -ENOENT)
                snprintf(err, errlen, "no message %s in %s%s", m->target, r->chat,
                         m->kind == WA_OM_EDIT || m->kind == WA_OM_REVOKE ? " sent by us" : "");
            return found;
        }
    }
    const char *sender = found == 1 ? (row.sender && row.sender[0] ? row.sender : row.chat) : mine;
    int rc = 0;
    int64_t now_ms = (int64_t)time(NULL) * 1000;
    if (m->kind == WA_OM_TEXT || m->kind == WA_OM_MEDIA) {
        char jids[WA_SEND_MENTIONS_MAX][WA_JID_STR_MAX];
        const char *jp[WA_SEND_MENTIONS_MAX];
        struct buf q;
        buf_init(&q, ST_PAYLOAD_MAX);
        rc = mention_jids(m, jids, err, errlen);
        for (size_t i = 0; i < m->n_mentions; i++)
            jp[i] = jids[i];
        if (rc == 0 && found) rc = quoted_bytes(&row, &orow, &q);
        struct wa_send_ctx ctx = {.stanza_id = m->target,
                                  .participant = sender,
                                  .quoted = found ? q.data : NULL,
                                  .quoted_len = q.len,
                                  .mentions = jp,
                                  .n_mentions = m->n_mentions};
        if (rc == 0 && m->kind == WA_OM_MEDIA)
            rc = wa_outmedia_build(m->media, m->text, &ctx, &r->pb);
        else if (rc == 0)
            rc = wa_send_build_rich(m->text, &ctx, &r->pb);
        buf_free(&q);
    } else {
        struct wa_send_key k = {.chat = r->chat,
                                .id = m->target,
                                .from_me = found == 2,
                                .participant = group && found == 1 ? sender : NULL};
        r->stamped = true;
        if (m->kind == WA_OM_REACTION)
            rc = wa_send_build_reaction(&k, m->text ? m->text : "", now_ms, &r->pb);
        else
            rc = wa_send_build_amend(&k, m->kind == WA_OM_EDIT ? m->text : NULL, now_ms, &r->pb);
    }
    if (found == 1) st_inbox_msg_free(&row);
    if (found == 2) st_outbox_msg_free(&orow);
    return rc;
}

int wa_outrow_make(struct wa_outrow *r, const struct wa_outmsg *m, const struct wa_creds *creds,
                   struct st_db *db, char *err, size_t errlen)
{
    buf_init(&r->pb, ST_PAYLOAD_MAX);
    r->chat[0] = r->id[0] = '\0';
    r->stamped = false;
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
    /* a file's bytes change with its upload: a retry is recognised by its key and recipient */
    r->stamped = m->kind == WA_OM_MEDIA;
    if (rc == 0 && m->kind == WA_OM_TEXT && !m->target && !m->n_mentions)
        rc = wa_send_build_text(m->text, &r->pb);
    else if (rc == 0)
        rc = build_content(r, m, &me, db, err, errlen);
    if (rc == -EBADMSG) snprintf(err, errlen, "the quoted message cannot be read back");
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
    if (rc == ST_DUPLICATE &&
        (strcmp(out->to, r->chat) != 0 ||
         (!r->stamped &&
          (out->payload_len != r->pb.len || memcmp(out->payload, r->pb.data, r->pb.len) != 0)))) {
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
    int rc = wa_outrow_make(&r, m, creds, db, err, errlen);
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
