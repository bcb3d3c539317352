/* SPDX-License-Identifier: MIT */
/* notify_int.h -- what gw/notify.c and gw/notifyfile.c share: one entry of the recent list
 * and the notifications file's codec (gw/notify.h describes the file's role). Internal to
 * those two files.
 *
 * The file (version NOTIFY_FILE_VERSION, UTF-8 JSON, at most NOTIFY_FILE_MAX bytes read):
 *   {"version":1,"next_id":N,"notes":[{"id","kind","level","account","text","created_ms",
 *    "open","repeats","pending"?,"res_id"?,"res_ms"?,"res_text"?}, ...oldest first]}
 * "pending": the PEND_* bits of the sinks not yet handed the item.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw/notify.h"

struct note {
    long long id;
    enum gw_note_kind kind;
    enum gw_note_level level;
    char account[CFG_ACCOUNT_ID_MAX + 1];
    char text[NOTIFY_TEXT_MAX];
    int64_t created_ms;
    bool open;
    unsigned repeats;
    uint64_t settle_at; /* a resolution waits until this loop time (0 = none pending) */
    long long res_id;   /* the follow-up, 0 = none yet */
    unsigned pending;   /* PEND_* bits: sinks still owed this item (kept across a restart) */
    int64_t res_ms;
    char res_text[NOTIFY_TEXT_MAX];
};

/* The sinks an item still waits for: the notification's (CMD, SELF), its follow-up's. */
enum { PEND_CMD = 1, PEND_SELF = 2, PEND_RES_CMD = 4, PEND_RES_SELF = 8 };

/* The file's text for v[0..n) and next_id (heap, free it), NULL on OOM. */
char *notifyfile_encode(const struct note *v, size_t n, long long next_id);
/* Parse the file: 0 with v[0..*n) (oldest first; beyond cap the newest are kept), *next_id
 * (at least every id read), *skipped of *total entries that did not validate (an unknown
 * kind, a missing field, a second open one of a kind and account, ...). -EINVAL: not a
 * notifications file (torn, garbage); -EPROTO: another version. */
int notifyfile_decode(const char *txt, size_t len, struct note *v, size_t cap, size_t *n,
                      long long *next_id, size_t *skipped, size_t *total);
/* Rename path to <path>.bad-<UTC YYYYmmddTHHMMSSZ> (the name in bad): 0 or -errno. */
int notifyfile_set_aside(const char *path, char *bad, size_t badlen);
