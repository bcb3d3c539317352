/* SPDX-License-Identifier: MIT */
/* cursormark.c -- the inbox's high-water marker outside the database (see cursormark.h). */
#include "gw/cursormark.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "store/msgstore.h"

#define MAGIC "wagate-inbox-hw 1\n"

/* One "key N[ M]\n" line at *p; advances *p. 0 or -EINVAL. */
static int field(const char **p, const char *end, const char *key, int64_t *a, int64_t *b)
{
    size_t kl = strlen(key);
    if ((size_t)(end - *p) < kl + 2 || memcmp(*p, key, kl) != 0 || (*p)[kl] != ' ') return -EINVAL;
    const char *q = *p + kl + 1;
    int64_t *out[2] = {a, b};
    for (int i = 0; i < (b ? 2 : 1); i++) {
        if (i && (q >= end || *q++ != ' ')) return -EINVAL;
        int64_t v = 0;
        const char *d = q;
        while (q < end && *q >= '0' && *q <= '9') {
            if (v > (INT64_MAX - 9) / 10) return -EINVAL;
            v = v * 10 + (*q++ - '0');
        }
        if (q == d || q - d > 18) return -EINVAL;
        *out[i] = v;
    }
    if (q >= end || *q != '\n') return -EINVAL;
    *p = q + 1;
    return 0;
}

int cursormark_parse(struct cursormark *m, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    size_t ml = strlen(MAGIC);
    if (!text || len < ml || memcmp(p, MAGIC, ml) != 0) return -EINVAL;
    p += ml;
    int64_t e, h, f, t;
    if (field(&p, end, "epoch", &e, NULL) < 0 || field(&p, end, "hw", &h, NULL) < 0 ||
        field(&p, end, "reset", &f, &t) < 0 || p != end)
        return -EINVAL;
    if (e < 1 || f > t) return -EINVAL;
    m->epoch = e;
    m->hw = m->seen = h;
    m->reset_from = f;
    m->reset_to = t;
    return 0;
}

int cursormark_format(const struct cursormark *m, char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     MAGIC "epoch %" PRId64 "\nhw %" PRId64 "\nreset %" PRId64 " %" PRId64 "\n",
                     m->epoch, m->seen, m->reset_from, m->reset_to);
    return n < 0 || (size_t)n >= cap ? -ENOBUFS : n;
}

int cursormark_load(struct cursormark *m, const char *acct_dir)
{
    *m = (struct cursormark){.epoch = 1};
    int k = snprintf(m->path, sizeof m->path, "%s/" CURSORMARK_FILE, acct_dir);
    if (k < 0 || (size_t)k >= sizeof m->path) return -ENAMETOOLONG;
    char *text = NULL;
    size_t len = 0;
    int r = file_read_all(m->path, CURSORMARK_MAX, &text, &len);
    if (r == -ENOENT) return 0;
    if (r < 0) return r == -EFBIG ? -EINVAL : r;
    r = cursormark_parse(m, text, len);
    free(text);
    return r;
}

int cursormark_check(struct cursormark *m, int64_t db_hw)
{
    if (db_hw >= m->hw) {
        if (db_hw > m->seen) m->seen = db_hw;
        return 0;
    }
    m->epoch++;
    m->reset_from = db_hw + 1;
    m->reset_to = m->hw;
    m->seen = m->hw;
    return 1;
}

void cursormark_note(struct cursormark *m, int64_t cursor)
{
    if (cursor > m->seen) m->seen = cursor;
}

bool cursormark_dirty(const struct cursormark *m)
{
    return m->seen > m->hw;
}

int cursormark_save(struct cursormark *m)
{
    char text[CURSORMARK_MAX];
    int n = cursormark_format(m, text, sizeof text);
    if (n < 0) return n;
    int r = file_write_atomic(m->path, text, (size_t)n, 0600);
    if (r == 0) m->hw = m->seen;
    return r;
}

int cursormark_open(struct cursormark *m, const char *acct_dir, struct st_db *db, bool fresh,
                    char *text, size_t cap)
{
    int64_t db_hw = 0;
    text[0] = '\0';
    int r = cursormark_load(m, acct_dir);
    if (r == -EINVAL) {
        snprintf(text, cap, CURSORMARK_FILE " is torn or foreign: written again from the database");
        r = 0; /* starts over at epoch 1 from the database's high-water */
    }
    if (r == 0) r = st_inbox_hw(db, &db_hw);
    int reset = r == 0 ? cursormark_check(m, db_hw) : 0;
    if (reset && fresh) { /* a new database after a logout: continue above, quietly */
        m->epoch--;
        m->reset_from = m->reset_to = 0;
        reset = 0;
    }
    if (r == 0 && m->seen > db_hw) r = st_inbox_raise_hw(db, m->seen);
    if (r == 0 && (reset || cursormark_dirty(m) || m->hw == 0)) r = cursormark_save(m);
    if (r < 0) {
        snprintf(text, cap, "inbox marker: %s", strerror(-r));
        m->path[0] = '\0';
        return r;
    }
    if (reset)
        snprintf(text, cap,
                 "the database is older than the one this gateway last wrote (a restored backup "
                 "or a rolled-back disk?): inbox cursors %" PRId64 "..%" PRId64
                 " are gone; new messages continue above %" PRId64 " (epoch %" PRId64 ")",
                 m->reset_from, m->reset_to, m->reset_to, m->epoch);
    return reset;
}

int cursormark_tick(struct cursormark *m, int64_t cursor)
{
    if (!m->path[0]) return 0;
    cursormark_note(m, cursor);
    return cursormark_dirty(m) ? cursormark_save(m) : 0;
}
