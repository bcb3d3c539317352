/* SPDX-License-Identifier: MIT */
/* cursormark.h -- the inbox's high-water marker, kept outside the database (issue 17).
 *
 * <account dir>/inbox.hw (CURSORMARK_FILE) is a small text file written next to wa.db:
 *
 *   wagate-inbox-hw 1
 *   epoch E          1 for a new account; +1 at every reset
 *   hw N             the largest inbox cursor this gateway is known to have given out
 *   reset F T        the cursors lost at the last reset (F..T), "reset 0 0" before any
 *
 * At open the owner compares the database's own high-water (st_inbox_hw) with it: a database
 * that is behind the marker is not the one this gateway last wrote (a restored backup, a disk
 * rolled back, a copy from elsewhere). Then cursormark_check() starts a new epoch and records
 * the lost range, and the owner raises the database's high-water to the marker's
 * (st_inbox_raise_hw), so new messages get cursors above every cursor an agent may hold:
 * cursors never go backwards, and an agent is told (an event, and the `cursor_reset` field of
 * GET /api/v1/messages) instead of silently missing messages.
 *
 * The marker is written (atomically, fsynced) at open, at a reset, at most once per
 * housekeeping tick while new messages arrive, and at close; a crash can leave it behind the
 * database (no false alarm then) but never ahead. A restore of a copy taken less than a tick
 * (1 s) before the last write is the one case not detected.
 *
 * No I/O except cursormark_load and cursormark_save. Not thread-safe (loop thread).
 */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CURSORMARK_FILE "inbox.hw"
#define CURSORMARK_MAX  512 /* bytes of a marker file read back */

struct cursormark {
    char path[PATH_MAX];
    int64_t epoch;      /* >= 1 */
    int64_t hw;         /* as last written */
    int64_t seen;       /* the largest cursor noted since (>= hw once noted) */
    int64_t reset_from; /* the last reset's lost range, 0 0 none */
    int64_t reset_to;
};

/* Parse a marker's text into m's fields (path untouched). 0, or -EINVAL for anything but the
 * exact format above with epoch >= 1 and 0 <= F <= T, hw >= 0. */
int cursormark_parse(struct cursormark *m, const char *text, size_t len);
/* Format m (no path) into out. The length, or -ENOBUFS. */
int cursormark_format(const struct cursormark *m, char *out, size_t cap);

/* Load <acct_dir>/inbox.hw into m. An absent file: epoch 1, hw 0 (a new account, or one from
 * before markers) and 0. -EINVAL for a torn or foreign file (the caller says so and starts
 * again from the database: no reset), other -errno from reading. */
int cursormark_load(struct cursormark *m, const char *acct_dir);
/* The database's high-water db_hw against the marker: 1 when the database is behind it (a new
 * epoch begins: epoch+1, reset_from = db_hw+1, reset_to = hw; the caller raises the database
 * to hw and saves), else 0 (m->seen becomes max(seen, db_hw)). */
int cursormark_check(struct cursormark *m, int64_t db_hw);
/* A cursor the inbox gave out. */
void cursormark_note(struct cursormark *m, int64_t cursor);
/* True when seen is ahead of what was written. */
bool cursormark_dirty(const struct cursormark *m);
/* Write the marker (atomic, fsynced) with hw = seen. 0 or -errno. */
int cursormark_save(struct cursormark *m);

/* At a database's open: load the marker of acct_dir, compare with db's high-water, raise db
 * when it is behind, save. fresh: the database holds no credentials (never paired, or a new
 * one after a logout): then a lower high-water is raised without a reset (cursors go on across
 * a re-link; the old inbox went aside with its database). Returns 1 on a reset (text: what
 * happened, for the operator), 0, or a negative errno (text says why; the marker is then not
 * kept: m->path is cleared). */
struct st_db;
int cursormark_open(struct cursormark *m, const char *acct_dir, struct st_db *db, bool fresh,
                    char *text, size_t cap);
/* Housekeeping: note the latest cursor given out and write the marker when it moved. 0 or
 * -errno from writing (a marker never opened: 0, nothing done). */
int cursormark_tick(struct cursormark *m, int64_t cursor);
