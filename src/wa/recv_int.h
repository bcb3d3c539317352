/* SPDX-License-Identifier: MIT */
/* recv_int.h -- PRIVATE to the receive path: recv.c (messages, group commit), receipts.c
 * (receipts for our messages) and retry.c (retry receipts). Nothing else includes it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "wa/recv.h"

#define RECEIPT_LIST_MAX 256
#define NACK_PARSE       "487"

struct retry_slot {
    char key[WA_JID_STR_MAX + ST_MSGID_MAX + 2];
    unsigned count;
    unsigned long seq;
};

struct wa_receiver {
    struct wa_recv_env env;
    struct retry_slot *slots; /* WA_RECV_RETRY_SLOTS, allocated at the first failure */
    unsigned long seq;
    struct wa_recv_stats stats;
};

/* One <message> between its parts. */
struct mctx {
    struct wa_receiver *rcv;
    const struct wa_recv_env *env; /* &rcv->env */
    const struct wa_node *n;
    const char *id;
    struct wa_jid from, dev; /* stanza from; the sender device */
    bool group, own, peer;   /* group/broadcast; from our own account; category=peer */
    bool has_recipient;
    char lid_user[WA_JID_USER_MAX], pn_user[WA_JID_USER_MAX];
    struct sg_address addr;
    char gid[WA_JID_STR_MAX];
    char devjid[WA_JID_STR_MAX];
    int64_t ts;
};

/* What the transaction body found in one <message>. */
struct rx {
    struct buf content; /* inbox payload (text: valid UTF-8) */
    struct buf raw;     /* text as sent when it was not valid UTF-8 (inbox text_raw), else empty */
    char mention[WA_INMSG_MENTIONS_MAX][WA_JID_STR_MAX]; /* mentioned JIDs (longer: dropped) */
    const char *mention_p[WA_INMSG_MENTIONS_MAX];
    size_t nmention;
    const char *type; /* static string */
    char dest[WA_JID_STR_MAX];
    bool any_content;
    int peer_err;    /* first decryption failure caused by the peer (retry receipt) */
    bool force_keys; /* an skmsg without sender key and no 1:1 part: send <keys> at once */
    bool one_to_one; /* a pkmsg/msg enc was seen */
    bool dup;        /* libsignal: already processed */
};

/* A delivery/read receipt for our messages, between its parts. */
struct rcpt {
    const struct wa_node *n;
    enum st_out_state st;
    size_t k;
    const char *ids[RECEIPT_LIST_MAX];
    bool applied[RECEIPT_LIST_MAX];
};

/* recv.c: replies (the node is consumed). */
int rx_send_owned(const struct wa_recv_env *env, struct wa_node *r);
int rx_send_ack(const struct wa_recv_env *env, const struct wa_node *n, const char *cls,
                bool copy_type, const char *error);

/* receipts.c. prepare: 0 = r is ready for apply; 1 = settled without the store (retry
 * receipts, types and ids we do not track: acked). apply runs inside the transaction; done
 * after COMMIT (the ack, then on_receipt). handle = all three in a transaction of its own. */
int rx_rcpt_prepare(const struct wa_recv_env *env, const struct wa_node *n, struct rcpt *r);
int rx_rcpt_apply(const struct wa_recv_env *env, struct rcpt *r);
void rx_rcpt_done(const struct wa_recv_env *env, const struct rcpt *r);
int rx_handle_receipt(const struct wa_recv_env *env, const struct wa_node *n);

/* retry.c. failure: the message in m could not be decrypted (why: libsignal's error): send
 * the retry receipt (or give up), ack, report; 1, or a local error (nothing acked).
 * forget: m was stored (or re-acked): its retry count goes. */
int rx_retry_failure(struct mctx *m, int why, bool force_keys);
void rx_retry_forget(struct mctx *m);
