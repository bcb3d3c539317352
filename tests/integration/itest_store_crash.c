/* SPDX-License-Identifier: MIT */
/* itest_store_crash.c -- the account store survives SIGKILL and power loss.
 *
 * (a) kill -9: a child process runs the receive path (BEGIN; decrypt through the SQLite
 *     Signal store; inbox row + processed hash; COMMIT; "ack" on a pipe) in a loop and is
 *     SIGKILLed at random moments, 30 times. After each kill the parent opens the database
 *     (integrity check), checks that the inbox holds exactly the messages before the
 *     resume point, once each and in order, that every acked message is there, and that
 *     the Signal session decrypts the next message (no Bad MAC / duplicate): session state
 *     and inbox never disagree.
 * (b) power loss: a VFS shim ("crashvfs") over the default VFS keeps an undo log of every
 *     write not yet followed by an xSync of that file. At a random I/O operation the
 *     "power" goes off (that and later writes/syncs fail); after the connection is closed
 *     the unsynced writes are reverted (all of them, or a random subset, modelling a disk
 *     that landed some), as a power cut would. With synchronous=FULL nothing whose COMMIT
 *     returned 0 may be lost and session and inbox must agree; with synchronous=OFF (the
 *     control) commits are lost, which shows that the shim really drops unsynced data.
 *     The same shim cuts the power at every single I/O operation of a series of
 *     credentials updates (fault-matrix #27): the row is always the old or the new one.
 *     Not modelled: directory entries (a created file is assumed to survive) and -shm
 *     (rebuilt from the WAL by the first connection after the cut).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/buf.h"
#include "signal/sg_cipher.h"
#include "signal/sg_crypto.h"
#include "signal/sg_memstore.h"
#include "store/creds.h"
#include "store/db.h"
#include "store/msgstore.h"
#include "store/sgstore.h"

static char g_dir[64];
static signal_context *g_sig;

static int setup_all(void **state)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/itest_store_crash.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    assert_int_equal(sg_context_create(&g_sig), 0);
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    const char *env = getenv("STORE_CRASH_SEED");
    if (env) seed = (unsigned)strtoul(env, NULL, 10);
    fprintf(stderr, "# seed %u (STORE_CRASH_SEED to repeat)\n", seed);
    srand(seed);
    return 0;
}

static int teardown_all(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
    signal_context_destroy(g_sig);
    return 0;
}

static struct st_db *db_open(const char *path, const char *vfs, enum st_sync sync)
{
    struct st_db *db = NULL;
    char err[256] = "";
    struct st_db_opts o = {.vfs = vfs, .sync = sync};
    int rc = st_db_open_ex(path, &o, &db, err, sizeof err);
    if (rc) fprintf(stderr, "open %s: %d %s\n", path, rc, err);
    assert_int_equal(rc, 0);
    return db;
}

/* ================= (a) SIGKILL during the receive path ================= */

#define NMSG  3000
#define KILLS 30

struct stream {
    uint8_t *ct[NMSG];
    size_t len[NMSG];
    char text[NMSG][24];
    int deliv[NMSG]; /* indices actually delivered (every 10th is "lost in transit") */
    int ndeliv;
};

static struct stream g_s;
static struct sg_address g_alice, g_bob;

/* Bob's database with credentials and pre-keys; Alice (in memory) builds a session from
 * Bob's bundle, gets one answer, then encrypts the stream. */
static void make_stream(const char *path)
{
    struct sg_identity bid;
    struct sg_signed_prekey spk;
    struct sg_prekey pk[4];
    assert_int_equal(sg_identity_generate(g_sig, &bid), 0);
    assert_int_equal(sg_signed_prekey_generate(g_sig, &bid.kp, 1, &spk), 0);
    assert_int_equal(sg_prekeys_generate(g_sig, 1, 4, pk, NULL), 0);
    struct st_db *db = db_open(path, NULL, ST_SYNC_FULL);
    struct st_creds c;
    memset(&c, 0, sizeof c);
    memcpy(c.identity_priv, bid.kp.priv, 32);
    memcpy(c.identity_pub, bid.kp.pub, 32);
    c.registration_id = bid.registration_id;
    c.spk_id = 1;
    c.next_prekey_id = c.first_unuploaded_prekey_id = 5;
    assert_int_equal(st_creds_save(db, &c), 0);
    struct sg_store bst = st_sgstore(db, SG_TRUST_ANY);
    assert_int_equal(sg_store_put_signed_prekey(g_sig, &bst, &spk), 0);
    assert_int_equal(sg_store_put_prekeys(g_sig, &bst, pk, 4), 0);
    struct sg_ctx *bob = NULL;
    assert_int_equal(sg_ctx_new(&bob, g_sig, &bst), 0);

    struct sg_memstore *ams = NULL;
    struct sg_identity aid;
    assert_int_equal(sg_memstore_new(&ams, NULL), 0);
    assert_int_equal(sg_identity_generate(g_sig, &aid), 0);
    sg_memstore_set_identity(ams, &aid);
    struct sg_store ast = sg_memstore_store(ams, SG_TRUST_ANY);
    struct sg_ctx *alice = NULL;
    assert_int_equal(sg_ctx_new(&alice, g_sig, &ast), 0);
    assert_int_equal(sg_address_make(&g_alice, "15550001111", 0, 0), 0);
    assert_int_equal(sg_address_make(&g_bob, "222222222222222", 1, 0), 0);
    struct sg_bundle bun;
    sg_bundle_make(&bid, &spk, &pk[2], &bun);
    assert_int_equal(sg_session_from_bundle(alice, &g_bob, &bun), 0);

    struct buf ct, pt;
    buf_init(&ct, 1 << 16);
    buf_init(&pt, 1 << 16);
    enum sg_msg_type t;
    assert_int_equal(buf_append_str(&pt, "setup"), 0);
    assert_int_equal(sg_encrypt(alice, &g_bob, pt.data, pt.len, &t, &ct), 0);
    assert_int_equal(t, SG_PKMSG);
    buf_reset(&pt);
    assert_int_equal(st_db_begin(db), 0);
    assert_int_equal(sg_decrypt(bob, &g_alice, SG_PKMSG, ct.data, ct.len, &pt), 0);
    assert_int_equal(st_db_commit(db), 0);
    buf_reset(&ct);
    assert_int_equal(st_db_begin(db), 0);
    assert_int_equal(sg_encrypt(bob, &g_alice, pt.data, pt.len, &t, &ct), 0);
    assert_int_equal(st_db_commit(db), 0);
    buf_reset(&pt);
    assert_int_equal(sg_decrypt(alice, &g_bob, t, ct.data, ct.len, &pt), 0);

    g_s.ndeliv = 0;
    for (int i = 0; i < NMSG; i++) {
        snprintf(g_s.text[i], sizeof g_s.text[i], "message number %d", i);
        buf_reset(&ct);
        assert_int_equal(
            sg_encrypt(alice, &g_bob, (const uint8_t *)g_s.text[i], strlen(g_s.text[i]), &t, &ct),
            0);
        assert_int_equal(t, SG_MSG);
        g_s.ct[i] = malloc(ct.len);
        assert_non_null(g_s.ct[i]);
        memcpy(g_s.ct[i], ct.data, ct.len);
        g_s.len[i] = ct.len;
        if (i % 10 != 7) g_s.deliv[g_s.ndeliv++] = i;
    }
    buf_free(&ct);
    buf_free(&pt);
    sg_ctx_free(alice);
    sg_memstore_free(ams);
    sg_ctx_free(bob);
    assert_int_equal(st_db_close(db), 0);
}

/* Number of stream messages in the inbox, checking they are exactly deliv[0..k-1]. */
static int inbox_check(struct st_db *db)
{
    int k = 0;
    int64_t after = 0;
    for (;;) {
        struct st_inbox_msg *v = NULL;
        size_t n = 0;
        assert_int_equal(st_inbox_list(db, after, 500, &v, &n), 0);
        for (size_t i = 0; i < n; i++) {
            char want[16];
            assert_true(k < g_s.ndeliv);
            snprintf(want, sizeof want, "M%05d", g_s.deliv[k]);
            assert_string_equal(v[i].msg_id, want);
            assert_int_equal(v[i].payload_len, strlen(g_s.text[g_s.deliv[k]]));
            assert_memory_equal(v[i].payload, g_s.text[g_s.deliv[k]], v[i].payload_len);
            after = v[i].cursor;
            k++;
        }
        st_inbox_list_free(v, n);
        if (n < 500) return k;
    }
}

/* One receive-path transaction for deliv[j]. 0, or a negative code. */
static int receive_one(struct st_db *db, struct sg_ctx *bob, int j, bool commit)
{
    int i = g_s.deliv[j];
    uint8_t h[32];
    char id[16];
    struct buf pt;
    buf_init(&pt, 4096);
    snprintf(id, sizeof id, "M%05d", i);
    st_ciphertext_hash(g_s.ct[i], g_s.len[i], h);
    int rc = st_db_begin(db);
    if (!rc) rc = st_processed_check(db, h, NULL, 0) == 0 ? 0 : -EEXIST;
    if (!rc) rc = sg_decrypt(bob, &g_alice, SG_MSG, g_s.ct[i], g_s.len[i], &pt);
    if (!rc && (pt.len != strlen(g_s.text[i]) || memcmp(pt.data, g_s.text[i], pt.len)))
        rc = -EBADMSG;
    if (!rc)
        rc = st_inbox_insert(db, "15550001111@s.whatsapp.net", "", id, i, "text", pt.data, pt.len,
                             NULL);
    if (!rc) rc = st_processed_put(db, h, id);
    if (!rc && commit)
        rc = st_db_commit(db);
    else
        st_db_rollback(db);
    buf_free(&pt);
    return rc;
}

/* The child: resume after what the inbox holds, receive until killed, ack each commit. */
static void child_run(const char *path, int ackfd)
{
    struct st_db *db = NULL;
    char err[256];
    if (st_db_open(path, &db, err, sizeof err)) _exit(20);
    struct sg_store st = st_sgstore(db, SG_TRUST_ANY);
    struct sg_ctx *bob = NULL;
    if (sg_ctx_new(&bob, g_sig, &st)) _exit(21);
    int k = inbox_check(db);
    for (int j = k; j < g_s.ndeliv; j++) {
        int rc = receive_one(db, bob, j, true);
        if (rc) {
            fprintf(stderr, "child: message %d: %d %s / %s\n", j, rc, st_db_last_error(db),
                    sg_ctx_last_error(bob));
            _exit(22);
        }
        int32_t a = j;
        if (write(ackfd, &a, sizeof a) != sizeof a) _exit(23);
    }
    sg_ctx_free(bob);
    _exit(st_db_close(db) ? 24 : 0);
}

static void test_sigkill(void **state)
{
    char path[128];
    snprintf(path, sizeof path, "%s/kill/wa.db", g_dir);
    make_stream(path);
    int killed = 0, k = 0, max_acked = -1;
    for (int round = 0; round < KILLS && k < g_s.ndeliv; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            child_run(path, p[1]);
        }
        close(p[1]);
        struct timespec ts = {0, (long)(2 + rand() % 60) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFEXITED(status)) {
            fprintf(stderr, "child exited %d\n", WEXITSTATUS(status));
            assert_int_equal(WEXITSTATUS(status), 0); /* it ran out of messages */
        } else {
            assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
            killed++;
        }
        int32_t a;
        while (read(p[0], &a, sizeof a) == (ssize_t)sizeof a)
            if (a > max_acked) max_acked = a;
        close(p[0]);

        struct st_db *db = db_open(path, NULL, ST_SYNC_FULL); /* passes quick_check */
        int nk = inbox_check(db);
        assert_true(nk >= k);
        assert_true(max_acked < nk); /* every acked (committed) message is there */
        k = nk;
        if (k < g_s.ndeliv) {
            /* the next message still decrypts with the committed session */
            struct sg_store st = st_sgstore(db, SG_TRUST_ANY);
            struct sg_ctx *bob = NULL;
            assert_int_equal(sg_ctx_new(&bob, g_sig, &st), 0);
            int rc = receive_one(db, bob, k, false);
            if (rc) fprintf(stderr, "after kill %d: %d %s\n", round, rc, sg_ctx_last_error(bob));
            assert_int_equal(rc, 0);
            sg_ctx_free(bob);
        }
        assert_int_equal(st_db_close(db), 0);
    }
    fprintf(stderr, "# sigkill: %d kills, %d messages committed\n", killed, k);
    assert_true(killed >= KILLS / 2);
    assert_true(k >= 10);
    for (int i = 0; i < NMSG; i++)
        free(g_s.ct[i]);
}

/* ================= (b) power loss: the crash VFS ================= */

struct cv_undo {
    int64_t off;
    size_t len;
    uint8_t *old;
    struct cv_undo *next; /* newer first */
};

struct cv_track {
    char path[512];
    int64_t synced_size;
    struct cv_undo *log;
};

#define CV_MAX_TRACKS 16
static struct cv_track g_tracks[CV_MAX_TRACKS];
static int g_ntracks;
static long g_ops, g_cut_at; /* the op numbered g_cut_at fails and the power is off */
static bool g_power_off;
static sqlite3_vfs g_cv, *g_real;

struct cv_file {
    sqlite3_file base;
    struct cv_track *t; /* NULL: not tracked (temp files) */
    sqlite3_file *real; /* allocated right after this struct */
};

static bool power_fails(void)
{
    if (g_power_off) return true;
    if (++g_ops >= g_cut_at) g_power_off = true;
    return g_power_off;
}

static void undo_free(struct cv_track *t)
{
    while (t->log) {
        struct cv_undo *u = t->log;
        t->log = u->next;
        free(u->old);
        free(u);
    }
}

/* Save what [off, off+len) ∩ [0, synced_size) holds now, before it changes. */
static int undo_push(struct cv_file *f, int64_t off, int64_t len)
{
    struct cv_track *t = f->t;
    if (!t) return SQLITE_OK;
    int64_t end = off + len < t->synced_size ? off + len : t->synced_size;
    if (end <= off) return SQLITE_OK;
    struct cv_undo *u = calloc(1, sizeof *u);
    if (!u) return SQLITE_NOMEM;
    u->off = off;
    u->len = (size_t)(end - off);
    u->old = malloc(u->len);
    if (!u->old) {
        free(u);
        return SQLITE_NOMEM;
    }
    int rc = f->real->pMethods->xRead(f->real, u->old, (int)u->len, off);
    if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) {
        free(u->old);
        free(u);
        return rc;
    }
    u->next = t->log;
    t->log = u;
    return SQLITE_OK;
}

#define CVF(p) ((struct cv_file *)(p))

static int cv_close(sqlite3_file *p)
{
    int rc = CVF(p)->real->pMethods ? CVF(p)->real->pMethods->xClose(CVF(p)->real) : SQLITE_OK;
    return rc;
}

static int cv_read(sqlite3_file *p, void *b, int n, sqlite3_int64 off)
{
    return CVF(p)->real->pMethods->xRead(CVF(p)->real, b, n, off);
}

static int cv_write(sqlite3_file *p, const void *b, int n, sqlite3_int64 off)
{
    if (CVF(p)->t && power_fails()) return SQLITE_IOERR_WRITE;
    if (CVF(p)->t) {
        int rc = undo_push(CVF(p), off, n);
        if (rc) return rc;
    }
    return CVF(p)->real->pMethods->xWrite(CVF(p)->real, b, n, off);
}

static int cv_truncate(sqlite3_file *p, sqlite3_int64 size)
{
    struct cv_file *f = CVF(p);
    if (f->t && power_fails()) return SQLITE_IOERR_TRUNCATE;
    if (f->t) {
        sqlite3_int64 cur = 0;
        int rc = f->real->pMethods->xFileSize(f->real, &cur);
        if (!rc && cur > size) rc = undo_push(f, size, cur - size);
        if (rc) return rc;
    }
    return f->real->pMethods->xTruncate(f->real, size);
}

static int cv_sync(sqlite3_file *p, int flags)
{
    struct cv_file *f = CVF(p);
    if (f->t && power_fails()) return SQLITE_IOERR_FSYNC;
    int rc = f->real->pMethods->xSync(f->real, flags);
    if (rc == SQLITE_OK && f->t) {
        sqlite3_int64 cur = 0;
        rc = f->real->pMethods->xFileSize(f->real, &cur);
        undo_free(f->t);
        f->t->synced_size = cur;
    }
    return rc;
}

static int cv_size(sqlite3_file *p, sqlite3_int64 *s)
{
    return CVF(p)->real->pMethods->xFileSize(CVF(p)->real, s);
}

static int cv_lock(sqlite3_file *p, int l)
{
    return CVF(p)->real->pMethods->xLock(CVF(p)->real, l);
}

static int cv_unlock(sqlite3_file *p, int l)
{
    return CVF(p)->real->pMethods->xUnlock(CVF(p)->real, l);
}

static int cv_check_lock(sqlite3_file *p, int *out)
{
    return CVF(p)->real->pMethods->xCheckReservedLock(CVF(p)->real, out);
}

static int cv_fcntl(sqlite3_file *p, int op, void *arg)
{
    return CVF(p)->real->pMethods->xFileControl(CVF(p)->real, op, arg);
}

static int cv_sector(sqlite3_file *p)
{
    return CVF(p)->real->pMethods->xSectorSize(CVF(p)->real);
}

static int cv_devchar(sqlite3_file *p)
{
    return CVF(p)->real->pMethods->xDeviceCharacteristics(CVF(p)->real);
}

static int cv_shm_map(sqlite3_file *p, int pg, int sz, int ext, void volatile **pp)
{
    return CVF(p)->real->pMethods->xShmMap(CVF(p)->real, pg, sz, ext, pp);
}

static int cv_shm_lock(sqlite3_file *p, int off, int n, int flags)
{
    return CVF(p)->real->pMethods->xShmLock(CVF(p)->real, off, n, flags);
}

static void cv_shm_barrier(sqlite3_file *p)
{
    CVF(p)->real->pMethods->xShmBarrier(CVF(p)->real);
}

static int cv_shm_unmap(sqlite3_file *p, int del)
{
    return CVF(p)->real->pMethods->xShmUnmap(CVF(p)->real, del);
}

static int cv_fetch(sqlite3_file *p, sqlite3_int64 off, int n, void **pp)
{
    *pp = NULL; /* no mmap: every read goes through xRead */
    return SQLITE_OK;
}

static int cv_unfetch(sqlite3_file *p, sqlite3_int64 off, void *pg)
{
    return SQLITE_OK;
}

static const sqlite3_io_methods cv_methods = {
    3,           cv_close,       cv_read,       cv_write, cv_truncate, cv_sync,    cv_size,
    cv_lock,     cv_unlock,      cv_check_lock, cv_fcntl, cv_sector,   cv_devchar, cv_shm_map,
    cv_shm_lock, cv_shm_barrier, cv_shm_unmap,  cv_fetch, cv_unfetch,
};

static struct cv_track *track_for(const char *name)
{
    for (int i = 0; i < g_ntracks; i++)
        if (strcmp(g_tracks[i].path, name) == 0) return &g_tracks[i];
    assert_true(g_ntracks < CV_MAX_TRACKS);
    struct cv_track *t = &g_tracks[g_ntracks++];
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", name);
    t->synced_size = -1;
    return t;
}

static int cv_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *p, int flags,
                   int *out_flags)
{
    struct cv_file *f = CVF(p);
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    int rc = g_real->xOpen(g_real, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK) return rc;
    p->pMethods = &cv_methods;
    if (name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL))) {
        f->t = track_for(name);
        if (f->t->synced_size < 0) {
            sqlite3_int64 cur = 0;
            f->real->pMethods->xFileSize(f->real, &cur);
            f->t->synced_size = cur; /* what exists at first open counts as durable */
        }
    }
    return SQLITE_OK;
}

static int cv_delete(sqlite3_vfs *vfs, const char *name, int dirsync)
{
    if (g_power_off) return SQLITE_IOERR_DELETE;
    int rc = g_real->xDelete(g_real, name, dirsync);
    for (int i = 0; rc == SQLITE_OK && i < g_ntracks; i++)
        if (strcmp(g_tracks[i].path, name) == 0) {
            undo_free(&g_tracks[i]);
            g_tracks[i].synced_size = 0;
        }
    return rc;
}

static void cv_register(void)
{
    if (g_real) return;
    g_real = sqlite3_vfs_find(NULL);
    assert_non_null(g_real);
    g_cv = *g_real;
    g_cv.zName = "crashvfs";
    g_cv.pNext = NULL;
    g_cv.szOsFile = (int)sizeof(struct cv_file) + g_real->szOsFile;
    g_cv.xOpen = cv_open;
    g_cv.xDelete = cv_delete;
    assert_int_equal(sqlite3_vfs_register(&g_cv, 0), SQLITE_OK);
}

static void cv_arm(long cut_at)
{
    for (int i = 0; i < g_ntracks; i++)
        undo_free(&g_tracks[i]);
    g_ntracks = 0;
    g_ops = 0;
    g_cut_at = cut_at;
    g_power_off = false;
}

/* The power cut: revert unsynced writes (newest first), all or a random subset; cut files
 * back to their synced size. Returns the number of writes reverted. */
static int cv_power_cut(bool all)
{
    int reverted = 0;
    for (int i = 0; i < g_ntracks; i++) {
        struct cv_track *t = &g_tracks[i];
        int fd = open(t->path, O_WRONLY);
        if (fd < 0) continue; /* deleted */
        for (struct cv_undo *u = t->log; u; u = u->next) {
            if (!all && rand() % 2) continue; /* this write reached the disk */
            assert_int_equal(pwrite(fd, u->old, u->len, u->off), (ssize_t)u->len);
            reverted++;
        }
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        if (st.st_size > t->synced_size && (all || rand() % 2))
            assert_int_equal(ftruncate(fd, t->synced_size), 0);
        close(fd);
        undo_free(t);
    }
    g_ntracks = 0;
    g_power_off = false;
    return reverted;
}

#define PL_TXNS 60

/* One trial: PL_TXNS receive-style commits (inbox row + session record, 1 KB each) through
 * the crash VFS; the power goes off at op `cut`. Returns how many commits were reported
 * durable; *found gets how many rows survived. */
static int power_trial(const char *path, enum st_sync sync, long cut, bool all, int *found)
{
    unlink(path);
    struct st_db *db = db_open(path, NULL, ST_SYNC_FULL); /* schema, durable */
    assert_int_equal(st_db_close(db), 0);
    cv_arm(cut);
    db = db_open(path, "crashvfs", sync);
    const struct sg_store_ops *ops = st_sgstore_ops();
    signal_protocol_address peer = {"15550001111", 11, 0};
    uint8_t rec[1024];
    int committed = 0;
    for (int i = 0; i < PL_TXNS; i++) {
        char id[16];
        snprintf(id, sizeof id, "P%05d", i);
        memset(rec, i & 0xff, sizeof rec);
        memcpy(rec, &i, sizeof i);
        int rc = st_db_begin(db);
        if (!rc) rc = st_inbox_insert(db, "c@s.whatsapp.net", "", id, i, "text", rec, 1000, NULL);
        if (!rc) rc = ops->store_session(db, &peer, rec, sizeof rec);
        if (!rc)
            rc = st_db_commit(db);
        else
            st_db_rollback(db);
        if (rc) { /* fail-stop: the transaction is gone, nothing may be assumed durable */
            assert_int_equal(rc, -EIO);
            assert_false(st_db_in_txn(db));
            assert_non_null(strstr(st_db_last_error(db), "I/O"));
            break;
        }
        committed = i + 1;
    }
    st_db_close(db); /* may fail: the power is off */
    cv_power_cut(all);

    db = db_open(path, NULL, ST_SYNC_FULL); /* integrity check passes */
    struct st_inbox_msg *v = NULL;
    size_t n = 0;
    assert_int_equal(st_inbox_list(db, 0, ST_LIST_MAX, &v, &n), 0);
    for (size_t i = 0; i < n; i++) {
        char want[16];
        snprintf(want, sizeof want, "P%05d", (int)i);
        assert_string_equal(v[i].msg_id, want);
    }
    st_inbox_list_free(v, n);
    signal_buffer *b = NULL;
    int rc = ops->load_session(db, &peer, &b);
    assert_true(rc >= 0);
    if (n) { /* the session record is the one of the last message in the inbox */
        assert_int_equal(rc, 1);
        int last;
        memcpy(&last, signal_buffer_data(b), sizeof last);
        assert_int_equal(last, (int)n - 1);
    } else {
        assert_int_equal(rc, 0);
    }
    signal_buffer_free(b);
    assert_int_equal(st_db_close(db), 0);
    *found = (int)n;
    return committed;
}

static void test_power_loss(void **state)
{
    cv_register();
    char path[128];
    snprintf(path, sizeof path, "%s/power/wa.db", g_dir);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/power", g_dir);
    mkdir(dir, 0700);
    /* how many I/O ops a full run takes */
    int found = 0;
    int c = power_trial(path, ST_SYNC_FULL, 1L << 40, true, &found);
    assert_int_equal(c, PL_TXNS);
    assert_int_equal(found, PL_TXNS);
    long total = g_ops;
    assert_true(total > PL_TXNS);
    int mid = 0;
    for (int t = 0; t < 30; t++) {
        long cut = 1 + rand() % total;
        bool all = t % 2 == 0;
        c = power_trial(path, ST_SYNC_FULL, cut, all, &found);
        if (found < c || found > c + 1)
            fprintf(stderr, "trial %d cut %ld/%ld: committed %d found %d\n", t, cut, total, c,
                    found);
        assert_true(found >= c);     /* nothing committed is lost */
        assert_true(found <= c + 1); /* at most the one whose COMMIT reported the cut */
        if (c > 0 && c < PL_TXNS) mid++;
    }
    assert_true(mid > 8);
    /* control: without fsync the same cuts lose commits */
    int lost = 0;
    for (int t = 0; t < 10; t++) {
        c = power_trial(path, ST_SYNC_OFF, 1L << 40, true, &found);
        assert_int_equal(c, PL_TXNS);
        lost += c - found;
    }
    fprintf(stderr, "# power loss: FULL 30 cuts (%d mid-run), 0 lost; OFF lost %d commits\n", mid,
            lost);
    assert_true(lost > 0);
}

/* fault-matrix #27: a power cut at EVERY I/O operation of a series of credentials updates
 * leaves the old or the new row, never an empty or mixed one. */
static int creds_trial(const char *path, long cut, bool all, uint32_t *got)
{
    unlink(path);
    struct st_db *db = db_open(path, NULL, ST_SYNC_FULL);
    struct st_creds c;
    memset(&c, 0, sizeof c);
    memset(c.identity_priv, 0x42, 32);
    c.registration_id = 77;
    c.spk_id = 1;
    c.next_prekey_id = c.first_unuploaded_prekey_id = 9;
    assert_int_equal(st_creds_save(db, &c), 0);
    assert_int_equal(st_db_close(db), 0);
    cv_arm(cut);
    db = db_open(path, "crashvfs", ST_SYNC_FULL);
    uint32_t last_ok = 9;
    for (uint32_t v = 10; v < 16; v++) {
        c.next_prekey_id = v;
        memset(c.spk_priv, (int)v, 32); /* a rotated key travels with the counter */
        if (st_creds_save(db, &c) != 0) break;
        last_ok = v;
    }
    st_db_close(db);
    cv_power_cut(all);
    db = db_open(path, NULL, ST_SYNC_FULL);
    struct st_creds r;
    assert_int_equal(st_creds_load(db, &r), 0);
    assert_int_equal(r.registration_id, 77);
    assert_int_equal(r.identity_priv[31], 0x42);
    uint8_t want[32];
    memset(want, r.next_prekey_id == 9 ? 0 : (int)r.next_prekey_id, 32);
    assert_memory_equal(r.spk_priv, want, 32);
    assert_true(r.next_prekey_id == last_ok || r.next_prekey_id == last_ok + 1);
    *got = r.next_prekey_id;
    st_creds_wipe(&r);
    assert_int_equal(st_db_close(db), 0);
    return (int)last_ok;
}

static void test_power_loss_creds(void **state)
{
    cv_register();
    char path[160], dir[128];
    snprintf(dir, sizeof dir, "%s/creds", g_dir);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/wa.db", dir);
    uint32_t got = 0;
    assert_int_equal(creds_trial(path, 1L << 40, true, &got), 15);
    long total = g_ops;
    int older = 0;
    for (long cut = 1; cut <= total; cut++) {
        int last = creds_trial(path, cut, cut % 2 == 0, &got);
        older += (int)got < 15;
        assert_true(last <= 15);
    }
    fprintf(stderr, "# creds: power cut at each of %ld I/O ops, %d runs kept an older row\n", total,
            older);
    assert_true(older > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill),
        cmocka_unit_test(test_power_loss),
        cmocka_unit_test(test_power_loss_creds),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
