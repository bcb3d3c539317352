/* SPDX-License-Identifier: MIT */
/* recv_int.h -- PRIVATE to the receive path: recv.c (messages, group commit), receipts.c
 * (receipts for our messages) and retry.c (retry receipts). Nothing else includes it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "wa.pb-c.h"
#include "wa/msgmeta.h"
#include "wa/recv.h"

#define RECEIPT_LIST_MAX 256
#define NACK_PARSE       "487"

/* One message under repair (retry.c). */
struct retry_slot {
    char key[WA_JID_STR_MAX + ST_MSGID_MAX + 2]; /* "<device jid>|<id>"; "" = free */
    unsigned count;                              /* retry receipts sent */
    unsigned long seq;                           /* LRU */
    bool active;                                 /* its `undecryptable` row is in the store */
    bool group, peer;                            /* a group/broadcast message; category=peer */
    uint64_t sent_ms;                            /* loop time of the last receipt */
    uint64_t due_ms;                             /* loop time of the next step (0: none) */
    uint64_t phone_due_ms;  /* loop time to ask our phone (0: not / already asked) */
    uint64_t phone_wait_ms; /* asked: give up no sooner than this (0: not asked) */
    struct wa_node *head;   /* the failed stanza (a copy): receipts sent from the timer */
    struct wa_node *held;   /* a receipt waiting for the gap */
    struct st_undec u;      /* the store row */
    struct sg_address addr;
    char gid[WA_JID_STR_MAX];
};

#define RX_PEER_RING 64 /* peers whose session was dropped (per-peer hold), failing peers */

struct rx_peer_mark {
    char name[SG_NAME_MAX + 16];
    int64_t t_ms; /* wall clock */
};

struct wa_receiver {
    struct wa_recv_env env;
    struct retry_slot *slots; /* WA_RECV_RETRY_SLOTS, allocated at the first failure */
    unsigned long seq;
    struct wa_recv_stats stats;
    uv_loop_t *loop; /* NULL: no pacing */
    uv_timer_t *tm;  /* allocated with the slots; closed (two-step) by wa_receiver_free */
    struct rx_peer_mark dropped[RX_PEER_RING]; /* per-peer hold (memory only) */
    struct rx_peer_mark failing[RX_PEER_RING]; /* first failures, for the store-wide check */
    size_t failing_next;
    int64_t win_start_ms, tripped_ms;
    unsigned win_ok, win_fail;
    /* a message's transaction failed (the store cannot write): every later message is refused
     * too (-EAGAIN, not acked) for the rest of this receiver's life, so nothing newer is
     * stored before what the server must redeliver (issue 17: the order per chat) */
    bool held;
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

/* The kind-specific part of a message (wa/msgmeta.h), copied out of the decoded Message
 * (heap: only messages that have one carry it). */
struct rx_kind {
    char *meta;                /* metadata JSON or NULL */
    char *edit_text;           /* edit: the new text */
    char target[ST_MSGID_MAX]; /* edit / revoke: the target id ("" none) */
    bool has_media;
    char mimetype[WA_META_MIME_MAX + 1], direct_path[WA_META_URL_MAX + 1], url[WA_META_URL_MAX + 1];
    uint8_t key[32], sha[32], enc[32];
    struct st_media_ref media; /* pointers into this struct */
};

/* What the transaction body found in one <message>. */
struct rx {
    struct rx_kind *kind; /* NULL: a plain text (or nothing) */
    struct buf content;   /* inbox payload (text: valid UTF-8) */
    struct buf raw; /* text as sent when it was not valid UTF-8 (inbox text_raw), else empty */
    char mention[WA_INMSG_MENTIONS_MAX][WA_JID_STR_MAX]; /* mentioned JIDs (longer: dropped) */
    const char *mention_p[WA_INMSG_MENTIONS_MAX];
    size_t nmention;
    const char *type; /* static string */
    char dest[WA_JID_STR_MAX];
    bool any_content;
    int peer_err;           /* first decryption failure caused by the peer (retry receipt) */
    bool force_keys;        /* an skmsg without sender key and no 1:1 part: send <keys> at once */
    bool one_to_one;        /* a pkmsg/msg enc was seen */
    bool dup;               /* libsignal: already processed */
    struct retry_slot *ovr; /* our phone's placeholder resend of this slot's message: the
                             * inbox row is that message's (recv_repair.c) */
};

/* A delivery/read receipt for our messages, between its parts. */
struct rcpt {
    const struct wa_node *n;
    enum st_out_state st;
    size_t k;
    const char *ids[RECEIPT_LIST_MAX];
    bool applied[RECEIPT_LIST_MAX];
};

/* recv.c: free x->kind (NULL ok). */
void rx_kind_free(struct rx *x);

/* recv.c: the inbox names of m (chat, sender: WA_JID_STR_MAX each). */
void rx_names(const struct mctx *m, const char *dest, char *chat, char *sender);

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
/* A decrypted peer message from our phone: if it answers a placeholder resend for an active
 * slot, x takes that message's content and x->ovr the slot (1), else 0; < 0 local error. */
int rx_phone_response(struct mctx *m, const Wa__Message *content, struct rx *x);
/* After the COMMIT that stored x->ovr's message: forget the slot. */
void rx_phone_recovered(struct wa_receiver *rcv, struct retry_slot *s);
/* A message decrypted (for the store-wide failure ratio). */
void rx_retry_note_ok(struct wa_receiver *rcv);
/* At creation: resume the store's `undecryptable` rows (0 or a store error); at free: the
 * slots and the timer. */
int rx_retry_resume(struct wa_receiver *rcv);
void rx_retry_free(struct wa_receiver *rcv);
