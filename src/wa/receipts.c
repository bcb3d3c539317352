/* SPDX-License-Identifier: MIT */
/* receipts.c -- receipts for our messages: outbox states forward-only, then the ack. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wa/recv_int.h"

static bool receipt_state(const char *type, enum st_out_state *st)
{
    if (!type || !strcmp(type, "inactive") || !strcmp(type, "delivery")) {
        *st = ST_OUT_DELIVERED;
        return true;
    }
    if (!strcmp(type, "read") || !strcmp(type, "read-self") || !strcmp(type, "played") ||
        !strcmp(type, "played-self")) {
        *st = ST_OUT_READ;
        return true;
    }
    return false;
}

static size_t receipt_ids(const struct wa_node *n, const char **ids, size_t cap)
{
    size_t k = 0;
    ids[k++] = wa_node_attr(n, "id");
    const struct wa_node *list = wa_node_child(n, "list");
    for (const struct wa_node *it = list ? wa_node_next_child(list, "item", NULL) : NULL;
         it && k < cap; it = wa_node_next_child(list, "item", it)) {
        const char *id = wa_node_attr(it, "id");
        if (id && *id && strlen(id) < ST_MSGID_MAX) ids[k++] = id;
    }
    return k;
}

/* 0: r is ready for rcpt_apply; 1: settled here without the store (retry receipts, types
 * and ids we do not track: acked). */
int rx_rcpt_prepare(const struct wa_recv_env *env, const struct wa_node *n, struct rcpt *r)
{
    const char *id = wa_node_attr(n, "id"), *type = wa_node_attr(n, "type");
    struct wa_jid from;
    if (!id || !*id || wa_node_attr_jid(n, "from", &from) < 0) return 1;
    if (type && strcmp(type, "retry") == 0) {
        (void)rx_send_ack(env, n, "receipt", true, NULL);
        if (env->on_retry_receipt) env->on_retry_receipt(env->ud, n);
        return 1;
    }
    if (strlen(id) >= ST_MSGID_MAX || !receipt_state(type, &r->st)) {
        (void)rx_send_ack(env, n, "receipt", true, NULL);
        return 1;
    }
    r->n = n;
    r->k = receipt_ids(n, r->ids, RECEIPT_LIST_MAX);
    memset(r->applied, 0, sizeof(r->applied));
    return 0;
}

/* Inside the transaction: the outbox states (forward-only; unknown ids are not ours). */
int rx_rcpt_apply(const struct wa_recv_env *env, struct rcpt *r)
{
    for (size_t i = 0; i < r->k; i++) {
        int rc = st_outbox_set_state(env->db, r->ids[i], r->st, NULL);
        r->applied[i] = rc == 0;
        if (rc < 0 && rc != -ENOENT && rc != -EINVAL) return rc;
    }
    return 0;
}

/* After COMMIT: the ack, then on_receipt for each applied change. */
void rx_rcpt_done(const struct wa_recv_env *env, const struct rcpt *r)
{
    (void)rx_send_ack(env, r->n, "receipt", true, NULL);
    const char *who = wa_node_attr(r->n, "participant") ? wa_node_attr(r->n, "participant")
                                                        : wa_node_attr(r->n, "from");
    for (size_t i = 0; i < r->k && env->on_receipt; i++)
        if (r->applied[i]) env->on_receipt(env->ud, r->ids[i], r->st, who);
}

int rx_handle_receipt(const struct wa_recv_env *env, const struct wa_node *n)
{
    struct rcpt *r = malloc(sizeof(*r));
    if (!r) return -ENOMEM;
    int rc = rx_rcpt_prepare(env, n, r);
    if (rc == 0) rc = st_db_begin(env->db);
    if (rc == 0) {
        rc = rx_rcpt_apply(env, r);
        if (rc == 0)
            rc = st_db_commit(env->db);
        else
            st_db_rollback(env->db);
        if (rc == 0) rx_rcpt_done(env, r);
    }
    free(r);
    return rc < 0 ? rc : 1;
}
