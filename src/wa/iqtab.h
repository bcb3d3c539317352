/* SPDX-License-Identifier: MIT */
/* iqtab.h -- the table of iqs waiting for their result (sans-I/O).
 *
 * Each entry is an iq id, an absolute deadline (the owner's clock, e.g. uv_now in ms), a
 * callback and its user data. The table never reads a clock, a socket or a timer: its owner
 * adds entries when it sends an iq, hands it every <iq type=result|error>, asks it for the
 * earliest deadline to arm one timer, and expires entries with the time it read.
 *
 * Every callback runs exactly once, after its entry has been removed, so a callback may add,
 * complete or fail entries (or fail all) in the same table. Caps: at most `max` entries
 * (wa_iqtab_init), ids of at most WA_IQ_ID_MAX bytes.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wa/node.h"

#define WA_IQ_ID_MAX 63

/* iq callback: status 0 with the result node, -EREMOTEIO with the type=error node,
 * -ETIMEDOUT, -ENOTCONN (session ended) or -ECANCELED (wa_client_close) with resp NULL. */
typedef void (*wa_iq_cb)(void *ud, int status, const struct wa_node *resp);

struct wa_iq_wait {
    char id[WA_IQ_ID_MAX + 1];
    wa_iq_cb cb;
    void *ud;
    uint64_t deadline;
};

/* Treat as opaque; entries are kept in the order they were added. */
struct wa_iqtab {
    struct wa_iq_wait *v;
    size_t n, cap;
    size_t max;
};

/* An empty table holding at most max entries (0: no entry fits). Allocates nothing. */
void wa_iqtab_init(struct wa_iqtab *t, size_t max);
/* Release the memory without running any callback (fail them first if they must run). */
void wa_iqtab_free(struct wa_iqtab *t);

/* Add an entry. 0; -EINVAL (NULL/empty id, id longer than WA_IQ_ID_MAX, NULL cb), -EEXIST
 * (id already pending), -ENOSPC (max entries pending), -ENOMEM. */
int wa_iqtab_add(struct wa_iqtab *t, const char *id, uint64_t deadline, wa_iq_cb cb, void *ud)
    __attribute__((warn_unused_result));
/* True when id is pending. */
bool wa_iqtab_has(const struct wa_iqtab *t, const char *id);
/* Drop a pending entry without running its callback (e.g. its iq could not be sent);
 * true if it was there. */
bool wa_iqtab_remove(struct wa_iqtab *t, const char *id);

/* Complete the entry named by an <iq type=result|error id=…>: its callback gets 0 (result) or
 * -EREMOTEIO (error) and the node. True if it was ours; false (nothing runs) for an unknown id
 * or another node. */
bool wa_iqtab_complete(struct wa_iqtab *t, const struct wa_node *n);

/* Fail every entry pending now with status (in the order added); entries added by those
 * callbacks stay pending. */
void wa_iqtab_fail_all(struct wa_iqtab *t, int status);

/* Expire one entry whose deadline is <= now: the earliest deadline first (ties: the one added
 * first); its callback gets -ETIMEDOUT. Returns true if one ran; call again for the next, and
 * stop early when a callback ended the owner's session. */
bool wa_iqtab_expire_one(struct wa_iqtab *t, uint64_t now);

/* The earliest deadline pending, 0 when the table is empty. */
uint64_t wa_iqtab_next_deadline(const struct wa_iqtab *t);
/* Entries pending. */
size_t wa_iqtab_count(const struct wa_iqtab *t);
