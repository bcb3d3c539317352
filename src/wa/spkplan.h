/* SPDX-License-Identifier: MIT */
/* spkplan.h -- when to rotate our signed pre-key (sans-I/O; wa/spkrot.c acts on it).
 *
 * Policy (docs/config.md signal.*): a key older than rotate_s is replaced by a new one (next
 * id); a key that is stored and named by the credentials but whose rotate iq the server has
 * not acknowledged (a cut before the ack) is uploaded again first. WhatsApp Web's
 * RotateKeyJob rotates every 27 days and keeps the older keys (all of them); wagate keeps
 * retired keys for a grace period (default 90 days: peers keep presenting bundles for weeks --
 * whatsapp-rust saw pkmsgs on keys pruned after 21 days and widened its window to 81), at
 * most a few.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* The current key's row (store/spkstore.h's view, as the client sees it). */
struct wa_spk_state {
    int64_t created;        /* Unix s; <= 0 unknown */
    bool uploaded;          /* the server acknowledged it */
    int64_t oldest_retired; /* Unix s the oldest retired (kept) key was retired; 0 = none */
};

enum wa_spk_step {
    WA_SPK_WAIT = 0, /* nothing now; look again at *next_at (0: never) */
    WA_SPK_UPLOAD,   /* announce the current key again (rotate iq) */
    WA_SPK_ROTATE,   /* make a new key, persist it, announce it */
};

/* The step for the current key at `now` (Unix s); rotate_s 0 = never rotate (a pending
 * upload is still finished). A key of unknown age, or dated more than rotate_s in the
 * future (the clock went back), is rotated. */
enum wa_spk_step wa_spk_plan(const struct wa_spk_state *st, int64_t now, uint32_t rotate_s,
                             int64_t *next_at);

/* Seconds before trying again after the n-th consecutive failure (n >= 1): 60 s doubling,
 * capped at 6 h and at rotate_s / 4 (so a compressed test interval retries quickly), >= 1. */
uint32_t wa_spk_retry_s(uint32_t rotate_s, unsigned n);

/* The grace-deletion cut-off: retired keys retired before this are deleted (now - keep_s). */
int64_t wa_spk_keep_before(int64_t now, uint32_t keep_s);
/* When to look again while waiting: the earlier of the rotation (next_at from wa_spk_plan,
 * 0 = none) and the end of the oldest retired key's grace; 0 = never. */
int64_t wa_spk_next_look(const struct wa_spk_state *st, int64_t next_at, uint32_t keep_s);
