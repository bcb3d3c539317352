/* SPDX-License-Identifier: MIT */
/* access.c -- the access policy before the agent: the decision, the pairing state, the code. */
#include "gw/access.h"

#include <ctype.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/events.h"
#include "api/metrics.h"
#include "core/log.h"
#include "gw/json.h"
#include "store/msgstore.h"
#include "wa/jid.h"

#define COMP     "access"
#define ALPHABET "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

/* ---- the decision (pure) ---- */

enum gw_access_verdict gw_access_decide(const struct wg_access *p, const struct gw_access_in *in,
                                        const char **why)
{
    const char *w;
    enum gw_access_verdict v = GW_ACCESS_DENY;
    if (in->owner) {
        w = "owner";
        v = GW_ACCESS_ALLOW;
    } else if (in->other) {
        w = "not_a_chat";
    } else if (in->group) {
        if (p->group_policy != WG_GROUP_OPEN && !in->listed)
            w = "group_not_allowed";
        else if (p->require_mention && !in->mentioned)
            w = "no_mention";
        else {
            w = p->group_policy == WG_GROUP_OPEN ? "group_open" : "group_allowed";
            v = GW_ACCESS_ALLOW;
        }
    } else if (p->dm_policy == WG_DM_OPEN) {
        w = "dm_open";
        v = GW_ACCESS_ALLOW;
    } else if (in->listed) {
        w = "allow_from";
        v = GW_ACCESS_ALLOW;
    } else if (p->dm_policy == WG_DM_PAIRING && in->approved) {
        w = "approved";
        v = GW_ACCESS_ALLOW;
    } else if (p->dm_policy == WG_DM_PAIRING) {
        w = "not_approved";
        v = GW_ACCESS_PAIR;
    } else {
        w = "not_in_allowlist";
    }
    if (why) *why = w;
    return v;
}

int gw_pairing_code_norm(const char *in, char *out)
{
    size_t n = 0;
    for (const char *p = in; p && *p; p++) {
        if (*p == '-' || *p == ' ') continue;
        char c = (char)toupper((unsigned char)*p);
        if (!strchr(ALPHABET, c) || n >= GW_PAIRING_CODE_LEN) return -EINVAL;
        out[n++] = c;
    }
    out[n] = '\0';
    return n == GW_PAIRING_CODE_LEN ? 0 : -EINVAL;
}

/* ---- the state ---- */

struct reply {
    char to[ST_CHAT_MAX + 1];
    char code[GW_PAIRING_CODE_LEN + 1];
};

/* A live verdict, kept for the exec hook's scan (gw_access_admit). */
struct seen {
    int64_t cursor;
    bool allow;
};

struct gw_access {
    struct gw_access_opts o;
    char account[CFG_ACCOUNT_ID_MAX + 1];
    unsigned cfg_hint; /* the account's index in the config's list (cfg_access_hint) */
    /* wagate_channel_messages_blocked_total by reason, looked up once each (a lookup by
     * labels walks every account's series: O(accounts) per blocked message) */
    struct {
        char reason[24];
        struct api_metric_ref ref;
    } blocked_ref[8];
    size_t nblocked_ref;
    uv_timer_t *timer;
    struct reply pending[GW_ACCESS_PENDING];
    size_t npending;
    struct seen seen[GW_ACCESS_SEEN]; /* the live verdicts, by cursor (ring) */
    size_t nseen;
};

static void publish(struct gw_access *a, const char *type, cJSON *d)
{
    gw_json_make_utf8(d);
    if (a->o.events)
        api_events_publish(a->o.events, type, d);
    else
        cJSON_Delete(d);
}

static void count_blocked(struct gw_access *a, const char *reason)
{
    if (!a->o.metrics) return;
    for (size_t i = 0; i < a->nblocked_ref; i++)
        if (strcmp(a->blocked_ref[i].reason, reason) == 0) {
            api_metrics_ref_add(a->o.metrics, a->blocked_ref[i].ref, 1);
            return;
        }
    char acct[80], l[200];
    api_metrics_label_escape(a->account, acct, sizeof acct);
    snprintf(l, sizeof l, "channel=\"whatsapp\",account=\"%s\",reason=\"%s\"", acct, reason);
    struct api_metric_ref r;
    size_t n = a->nblocked_ref;
    if (n < sizeof a->blocked_ref / sizeof a->blocked_ref[0] &&
        strlen(reason) < sizeof a->blocked_ref[0].reason &&
        api_metrics_ref(a->o.metrics, "wagate_channel_messages_blocked_total", l, &r) == 0) {
        snprintf(a->blocked_ref[n].reason, sizeof a->blocked_ref[n].reason, "%s", reason);
        a->blocked_ref[n].ref = r;
        a->nblocked_ref++;
        api_metrics_ref_add(a->o.metrics, r, 1);
        return;
    }
    api_metrics_add(a->o.metrics, "wagate_channel_messages_blocked_total", l, 1);
}

static void send_replies(uv_timer_t *t)
{
    struct gw_access *a = t->data;
    size_t n = a->npending;
    a->npending = 0;
    for (size_t i = 0; i < n; i++) {
        struct reply *r = &a->pending[i];
        char text[512], key[ST_IDEM_MAX];
        snprintf(text, sizeof text,
                 "Hi! This assistant only answers people its owner has approved. Your pairing "
                 "code is %s: send it to the owner; once they approve it, your messages reach "
                 "the assistant.",
                 r->code);
        snprintf(key, sizeof key, "pairing:%s:%s", a->account, r->code);
        struct wa_outmsg m = wa_outmsg_text(r->to, text, key);
        struct gw_send_result res = {0};
        int rc = a->o.send(a->o.send_ud, &m, &res);
        if (rc < 0)
            log_warn(COMP, a->account, "pairing code for %s not sent: %s", r->to,
                     res.error[0] ? res.error : strerror(-rc));
        else
            log_info(COMP, a->account,
                     "pairing code %s sent to %s (message %s); approve it with: wagate pairing "
                     "approve %s",
                     r->code, r->to, res.id, r->code);
    }
}

static int new_code(char *out)
{
    unsigned char b[GW_PAIRING_CODE_LEN];
    if (RAND_bytes(b, sizeof b) != 1) return -EIO;
    for (size_t i = 0; i < GW_PAIRING_CODE_LEN; i++)
        out[i] = ALPHABET[b[i] % (sizeof(ALPHABET) - 1)];
    out[GW_PAIRING_CODE_LEN] = '\0';
    return 0;
}

/* The sender has no code yet: store one and queue its reply. 1 queued, 0 it had one. */
static int pair(struct gw_access *a, struct st_db *db, const char *sender)
{
    char code[ST_PAIRING_CODE_MAX + 1];
    int rc = st_pairing_get(db, sender, code, sizeof code);
    if (rc != 0) return rc < 0 ? rc : 0;
    for (int tries = 0; tries < 4; tries++) { /* a code already taken: draw again */
        if ((rc = new_code(code)) < 0) return rc;
        rc = st_pairing_put(db, sender, code, (int64_t)time(NULL));
        if (rc != ST_DUPLICATE) break;
    }
    if (rc != 0) return rc < 0 ? rc : -EEXIST;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", a->account);
    cJSON_AddStringToObject(d, "sender", sender);
    cJSON_AddStringToObject(d, "code", code);
    publish(a, "access.pairing", d);
    if (a->npending >= GW_ACCESS_PENDING || !a->timer) {
        log_warn(COMP, a->account, "pairing code %s for %s stored but not sent (busy)", code,
                 sender);
        return 1;
    }
    struct reply *r = &a->pending[a->npending++];
    snprintf(r->to, sizeof r->to, "%s", sender);
    memcpy(r->code, code, GW_PAIRING_CODE_LEN); /* new_code: exactly that long */
    r->code[GW_PAIRING_CODE_LEN] = '\0';
    (void)uv_timer_start(a->timer, send_replies, 0, 0);
    return 1;
}

/* user part of a JID string ("" when it does not parse) */
static void user_of(const char *jid, char *out, size_t cap)
{
    struct wa_jid j;
    out[0] = '\0';
    if (jid && jid[0] && wa_jid_parse(&j, jid, strlen(jid)) == 0) snprintf(out, cap, "%s", j.user);
}

static bool is_me(const struct wa_creds *c, const char *jid)
{
    char u[WA_JID_USER_MAX], pn[WA_JID_USER_MAX], lid[WA_JID_USER_MAX];
    user_of(jid, u, sizeof u);
    user_of(c->me_pn, pn, sizeof pn);
    user_of(c->me_lid, lid, sizeof lid);
    return u[0] && ((pn[0] && strcmp(u, pn) == 0) || (lid[0] && strcmp(u, lid) == 0));
}

static bool listed(const char (*v)[CFG_ACCESS_JID_MAX], unsigned n, const char *jid)
{
    for (unsigned i = 0; i < n && jid; i++)
        if (strcmp(v[i], jid) == 0) return true;
    return false;
}

static void blocked(struct gw_access *a, const struct wa_inmsg *m, const char *why)
{
    count_blocked(a, why);
    log_info(COMP, a->account, "message %s from %s in %s not handed to the agent: %s", m->id,
             m->sender, m->chat, why);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", a->account);
    cJSON_AddStringToObject(d, "id", m->id ? m->id : "");
    cJSON_AddStringToObject(d, "chat", m->chat ? m->chat : "");
    cJSON_AddStringToObject(d, "sender", m->sender ? m->sender : "");
    cJSON_AddStringToObject(d, "reason", why);
    publish(a, "access.blocked", d);
}

/* The verdict on m; *why and *sender (into m or static) say which rule and who. */
/* Whether the metadata JSON of an inbox row (wa/msgmeta.h "mentions") names us. */
static bool meta_mentions_me(const struct wa_creds *creds, const char *meta)
{
    cJSON *o = cJSON_Parse(meta);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "mentions"), *e;
    bool me = false;
    cJSON_ArrayForEach(e, a)
    {
        if (cJSON_IsString(e) && is_me(creds, e->valuestring)) me = true;
    }
    cJSON_Delete(o);
    return me;
}

static enum gw_access_verdict judge(struct gw_access *a, const struct wa_creds *creds,
                                    const struct wa_inmsg *m, const char **why,
                                    const char **sender_out, struct st_db **db_out)
{
    const struct wg_access *p = cfg_access_hint(a->o.cfg, a->account, &a->cfg_hint);
    struct wa_jid cj;
    bool parsed = m->chat && wa_jid_parse(&cj, m->chat, strlen(m->chat)) == 0;
    bool group = parsed && wa_jid_is_group(&cj);
    const char *sender = m->sender && m->sender[0] ? m->sender : m->chat;
    struct gw_access_in in = {.group = group,
                              .other =
                                  !parsed || (!group && !wa_jid_is_pn(&cj) && !wa_jid_is_lid(&cj)),
                              .owner = is_me(creds, sender) || (!group && is_me(creds, m->chat))};
    for (size_t i = 0; i < m->n_mentions && !in.mentioned; i++)
        in.mentioned = is_me(creds, m->mentions[i]);
    if (!in.mentioned && !m->n_mentions && m->meta) /* a stored row (v8): its metadata's */
        in.mentioned = meta_mentions_me(creds, m->meta);
    unsigned nl = 0;
    const char(*lv)[CFG_ACCESS_JID_MAX] = cfg_access_jids(a->o.cfg, p, group, &nl);
    in.listed = listed(lv, nl, group ? m->chat : sender);
    struct st_db *db = a->o.db ? a->o.db(a->o.db_ud) : NULL;
    if (!group && !in.owner && !in.listed && p->dm_policy == WG_DM_PAIRING && db)
        in.approved = st_access_is_approved(db, sender) == 1;
    *why = "";
    *sender_out = sender;
    *db_out = db;
    return gw_access_decide(p, &in, why);
}

static void remember(struct gw_access *a, int64_t cursor, bool allow)
{
    if (cursor <= 0) return;
    a->seen[a->nseen % GW_ACCESS_SEEN] = (struct seen){.cursor = cursor, .allow = allow};
    a->nseen++;
}

bool gw_access_check(struct gw_access *a, const struct wa_creds *creds, const struct wa_inmsg *m)
{
    if (!a) return true;
    const char *why, *sender;
    struct st_db *db;
    enum gw_access_verdict v = judge(a, creds, m, &why, &sender, &db);
    remember(a, m->cursor, v == GW_ACCESS_ALLOW);
    if (v == GW_ACCESS_ALLOW) return true;
    if (v == GW_ACCESS_PAIR && db && m->kind == WA_IN_TEXT) { /* a reaction earns no code */
        int rc = pair(a, db, sender);
        if (rc < 0)
            log_warn(COMP, a->account, "pairing code for %s: %s", sender, st_db_last_error(db));
    }
    blocked(a, m, why);
    return false;
}

bool gw_access_admit(struct gw_access *a, const struct wa_creds *creds, const struct wa_inmsg *m)
{
    if (!a) return true;
    size_t n = a->nseen < GW_ACCESS_SEEN ? a->nseen : GW_ACCESS_SEEN;
    for (size_t i = 0; i < n; i++)
        if (a->seen[i].cursor == m->cursor) return a->seen[i].allow;
    /* not judged live (stored before a restart): judged again, quietly; a stored row's
     * mentions come from its metadata (schema v8; older rows carry none, so a group that
     * requires one does not admit them) */
    const char *why, *sender;
    struct st_db *db;
    enum gw_access_verdict v = judge(a, creds, m, &why, &sender, &db);
    if (v != GW_ACCESS_ALLOW)
        log_info(COMP, a->account, "stored message %s from %s in %s not handed to the agent: %s",
                 m->id, sender, m->chat, why);
    return v == GW_ACCESS_ALLOW;
}

int gw_access_approve(struct gw_access *a, const char *code, char *sender_out, size_t cap)
{
    char c[GW_PAIRING_CODE_LEN + 1];
    if (gw_pairing_code_norm(code, c) < 0) return -EINVAL;
    struct st_db *db = a->o.db ? a->o.db(a->o.db_ud) : NULL;
    if (!db) return -EAGAIN;
    int rc = st_pairing_approve(db, c, sender_out, cap);
    if (rc == 1) log_info(COMP, a->account, "pairing code %s approved: %s", c, sender_out);
    return rc;
}

/* ---- life ---- */

int gw_access_new(const struct gw_access_opts *o, struct gw_access **out)
{
    *out = NULL;
    if (!o || !o->loop || !o->account || !o->cfg || !o->send) return -EINVAL;
    struct gw_access *a = calloc(1, sizeof(*a));
    if (!a) return -ENOMEM;
    a->o = *o;
    snprintf(a->account, sizeof a->account, "%s", o->account);
    a->o.account = a->account;
    a->timer = calloc(1, sizeof(*a->timer));
    if (!a->timer || uv_timer_init(o->loop, a->timer) < 0) {
        free(a->timer);
        free(a);
        return -ENOMEM;
    }
    a->timer->data = a;
    if (o->metrics)
        (void)api_metrics_declare(o->metrics, "wagate_channel_messages_blocked_total",
                                  "received messages not handed to the agent by the access policy, "
                                  "by reason",
                                  API_METRIC_COUNTER);
    *out = a;
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void gw_access_free(struct gw_access *a)
{
    if (!a) return;
    uv_close((uv_handle_t *)a->timer, timer_closed);
    free(a);
}

void gw_access_detach_api(struct gw_access *a)
{
    if (!a) return;
    a->o.events = NULL;
    a->o.metrics = NULL;
}
