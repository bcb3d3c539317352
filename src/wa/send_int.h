/* SPDX-License-Identifier: MIT */
/* send_int.h -- PRIVATE to the send path: send.c (the sender: pipeline, encryption, group
 * commit) and the sending half of retry.c (answering peers' retry receipts). Nothing else
 * includes it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wa/send.h"
#include "wa/usync.h"

struct target {
    struct sg_address addr; /* Signal session address */
    struct wa_jid wire;     /* <to jid> (PN form) */
    struct wa_jid keyjid;   /* `encrypt get` user jid (LID form when known) */
    bool own;               /* one of our own other devices */
    int bundle; /* 0 none, 1 fetched (b valid), 2 has a session, -1 unusable (no bundle) */
    struct sg_bundle b;
};

struct job {
    struct st_outbox_msg row;
    bool group;
    struct wa_jid chat;
    char chat_str[WA_JID_STR_MAX];
    char (*users)[WA_USYNC_USER_MAX];
    size_t nusers;
    struct target *t;
    size_t nt;
};

/* A peer's retry receipt being answered. */
struct retry_req {
    char msg_id[ST_MSGID_MAX + 1];
    char to[ST_CHAT_MAX + 1];
    char count[16];
    bool group;
    struct wa_jid from;
    struct target t;
    uint8_t *payload;
    size_t len;
};

enum op_kind { OP_GROUP, OP_USYNC, OP_KEYS, OP_RETRY_KEYS };

struct op {
    struct wa_sender *s;
    enum op_kind kind;
    unsigned jobseq;
    struct retry_req *rr;
    struct op *next;
};

struct note {
    char *msg_id, *error;
    enum st_out_state state;
};

struct counter {
    char key[ST_MSGID_MAX + WA_JID_STR_MAX + 2];
    int n;
};
#define COUNTERS 128

/* sendq.c: a recipient whose rows wait after a transient failure. */
#define SND_BACKOFFS        64
#define SND_BACKOFF_BASE_MS 500
#define SND_BACKOFF_MAX_MS  30000
#define SND_SKIP_MAX        256 /* queued rows looked past to find one whose recipient is free */
struct rbackoff {
    char to[ST_CHAT_MAX + 1];
    int fails;     /* consecutive transient failures; 0: free slot */
    int64_t until; /* monotonic ms */
};

struct wa_sender {
    struct wa_sender_env env;
    struct wa_usync_cache *cache;
    struct job *job;
    unsigned jobseq;
    bool stalled;
    struct op *ops;
    char inflight[WA_SEND_INFLIGHT_MAX][ST_MSGID_MAX + 1];
    char inflight_group[WA_SEND_INFLIGHT_MAX][WA_JID_STR_MAX];
    size_t ninflight;
    struct note *notes;
    size_t nnotes;
    struct counter *attempts, *retries; /* COUNTERS each, allocated at their first use */
    unsigned attempts_next, retries_next;
    char me_user[WA_JID_USER_MAX], me_lid[WA_JID_USER_MAX];
    int me_dev;
    /* group commit: a transaction of ours is open; encrypted rows' frames wait for its COMMIT */
    bool grp;
    size_t grp_notes;  /* notes queued before the group (later ones die with a rollback) */
    bool grp_deferred; /* the group stays open for more sends until wa_sender_settle */
    struct waiter {
        wa_sender_done_fn fn;
        void *arg;
    } * waiters; /* of the deferred group, WA_SEND_WAITERS_MAX, allocated at first use */
    size_t nwaiters;
    struct wa_node *held[WA_SEND_INFLIGHT_MAX];
    size_t nheld;
    char err[WA_SEND_ERR_MAX];
    struct rbackoff *backoff; /* SND_BACKOFFS, allocated at the first failure (sendq.c) */
    uv_timer_t *timer;        /* kicks the sender when the earliest backoff ends (sendq.c) */
    wa_sender_send_fn hook;
    void *hook_ud;
};

/* One row's encryption result (sendkeys.c). */
struct encout {
    struct wa_send_part *parts;
    size_t n;
    struct buf ct;     /* all ciphertexts back to back */
    size_t *off;       /* offset of part i in ct */
    struct buf sk;     /* skmsg */
    struct buf skdm;   /* SKDM bytes */
    struct buf skdmsg; /* Message{senderKeyDistributionMessage} */
};

/* sendkeys.c: the row of s->job encrypted for every target (sessions built first). */
void snd_encout_free(struct encout *e);
int snd_enc_group(struct wa_sender *s, struct encout *e);
int snd_enc_direct(struct wa_sender *s, struct encout *e);
int snd_build_sessions(struct wa_sender *s);

/* send.c internals shared with retry.c and sendkeys.c */
int snd_send_frame(struct wa_sender *s, const struct wa_node *n);
void snd_seterr(struct wa_sender *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int snd_load_me(struct wa_sender *s);
int *snd_counter(struct counter **v, unsigned *next, const char *key);
int snd_send_iq(struct wa_sender *s, struct wa_node *iq, enum op_kind kind, struct retry_req *rr);
int snd_target_make(struct target *t, const char *pn, const char *lid, int dev, bool own);
struct wa_node *snd_keys_iq(struct wa_sender *s, struct target *t, size_t n, bool only_missing);
int snd_parse_bundle(const struct wa_node *n, const struct wa_node *reg_parent,
                     struct sg_bundle *b);
void snd_take_bundles(const struct wa_node *resp, struct target *t, size_t n);
int snd_enc_one(struct wa_sender *s, struct target *t, const uint8_t *pt, size_t len,
                enum sg_msg_type *type, struct buf *ct);
/* p copied into out and padded (§7.3). */
int snd_pad_copy(const uint8_t *p, size_t len, struct buf *out);
int snd_self_address(struct wa_sender *s, struct sg_address *a);

/* retry.c: answering a peer's retry receipt (1 handled, 0 not ours), its bundle fetch done,
 * freeing a request. */
int snd_handle_retry(struct wa_sender *s, const struct wa_node *n);
void snd_retry_keys_done(struct wa_sender *s, struct retry_req *rr, int status,
                         const struct wa_node *resp);
void snd_retry_free(struct retry_req *rr);

/* sendq.c: per-recipient backoff. fail: the delay now imposed on `to` (ms); blocked: `to` is
 * waiting at `now`; any: some recipient is; clear: `to` works again. The timer (created with
 * the sender, closed by wa_sender_free) kicks the sender when a delay ends. */
int64_t snd_now_ms(void);
int snd_timer_init(struct wa_sender *s);
void snd_timer_close(struct wa_sender *s);
int64_t snd_backoff_fail(struct wa_sender *s, const char *to);
bool snd_backoff_blocked(struct wa_sender *s, const char *to, int64_t now);
bool snd_backoff_any(struct wa_sender *s, int64_t now);
void snd_backoff_clear(struct wa_sender *s, const char *to);
void snd_backoff_rearm(struct wa_sender *s);
