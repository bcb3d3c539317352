/* SPDX-License-Identifier: MIT */
/* usync.h -- device-list queries (usync, wa-protocol.md §8.2): build, parse, small cache.
 *
 * Sans-I/O: wa_usync_build() makes the `<iq xmlns='usync'>` for a list of phone-number users,
 * wa_usync_parse() reads the result into plain values, and `struct wa_usync_cache` keeps
 * the answers for a while (WA_USYNC_TTL_S, as Baileys' 5 minutes) so that a burst of messages
 * to the same chat costs one query. Users are PN user parts ("15550002"); LIDs are user parts
 * too ("222222222222222").
 *
 * Device rules (§8.2): device 0 is always kept; a non-zero device without `key-index` is
 * dropped (Baileys: "produces a bad request otherwise"), and so is a hosted one
 * (`is_hosted='true'`). Caps (peer-controlled): WA_USYNC_MAX_DEVICES per user (extra ones are
 * ignored), WA_USYNC_MAX_USERS per query/result (extra users ignored).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wa/node.h"

#define WA_USYNC_MAX_DEVICES 64
#define WA_USYNC_MAX_USERS   512
#define WA_USYNC_USER_MAX    64 /* user part with NUL */
#define WA_USYNC_CACHE_MAX   256
#define WA_USYNC_TTL_S       300

struct wa_usync_user {
    char pn[WA_USYNC_USER_MAX];  /* PN user part */
    char lid[WA_USYNC_USER_MAX]; /* LID user part, "" if the server sent none */
    uint16_t ndev;
    uint16_t dev[WA_USYNC_MAX_DEVICES]; /* device ids, in the server's order */
};

/* The query iq: id (request id, also used as sid), users = PN user parts (1..MAX_USERS).
 * Returns a new node (caller frees) or NULL (ENOMEM / bad argument). */
struct wa_node *wa_usync_build(const char *id, const char *const *users, size_t n);

/* Parse a usync result iq. Fills out[0..*n-1] (cap entries). Users whose jid is not a PN JID
 * are skipped. 0, or -EPROTO when the result has no <usync><list>. */
int wa_usync_parse(const struct wa_node *iq, struct wa_usync_user *out, size_t cap, size_t *n)
    __attribute__((warn_unused_result));

/* ---- cache ---- */

struct wa_usync_cache;

/* 0 or -ENOMEM. ttl_s <= 0: WA_USYNC_TTL_S. */
int wa_usync_cache_new(int ttl_s, struct wa_usync_cache **out) __attribute__((warn_unused_result));
void wa_usync_cache_free(struct wa_usync_cache *c);
/* Fresh entry for this PN user at time `now` (seconds, any monotonic clock), or NULL. The
 * pointer stays valid until the next put/drop/clear. */
const struct wa_usync_user *wa_usync_cache_get(struct wa_usync_cache *c, const char *pn,
                                               int64_t now);
/* Insert or replace (the oldest entry is evicted when full). An entry without devices
 * (ndev == 0) records "not on WhatsApp": get returns NULL for it, absent true. */
void wa_usync_cache_put(struct wa_usync_cache *c, const struct wa_usync_user *u, int64_t now);
/* Record that the server listed no device for this PN user (not on WhatsApp), for the TTL. */
void wa_usync_cache_put_absent(struct wa_usync_cache *c, const char *pn, int64_t now);
/* true while a fresh "not on WhatsApp" answer for this PN user is cached. */
bool wa_usync_cache_absent(struct wa_usync_cache *c, const char *pn, int64_t now);
void wa_usync_cache_drop(struct wa_usync_cache *c, const char *pn);
void wa_usync_cache_clear(struct wa_usync_cache *c);
