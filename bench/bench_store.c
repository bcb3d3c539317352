/* SPDX-License-Identifier: MIT */
/* bench_store.c -- account store throughput with synchronous=FULL: the receive path per
 * message and with group commit, outbox enqueue, and plain 1 KB upserts for reference.
 *
 * usage: bench_store [scale] [dir]   (scale multiplies the counts; dir defaults to /tmp,
 * use the disk the state directory will live on). Each figure is the median of 5 rounds.
 * Receive path = BEGIN; processed-hash check; decrypt (libsignal reads and rewrites the
 * session row through the SQLite store); inbox insert; processed insert; COMMIT.
 * Prints figures only; never asserts on timings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "signal/sg_cipher.h"
#include "signal/sg_crypto.h"
#include "signal/sg_memstore.h"
#include "store/creds.h"
#include "store/db.h"
#include "store/msgstore.h"
#include "store/sgstore.h"

#define ROUNDS 5

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_store: %s failed: %d\n", what, rc);
    exit(1);
}

#define CHECK(what, expr)                                                                          \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ < 0) die(what, rc_);                                                               \
    } while (0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

static signal_context *g_sig;
static struct sg_address g_alice, g_bob;

struct msgs {
    uint8_t **ct;
    size_t *len;
    int n, next;
};

/* Bob's database (creds, pre-keys) and `n` messages from Alice, as in the receive path. */
static struct st_db *setup(const char *path, struct msgs *m, int n)
{
    char err[256];
    struct st_db *db = NULL;
    if (st_db_open(path, &db, err, sizeof err)) {
        fprintf(stderr, "bench_store: %s\n", err);
        exit(1);
    }
    struct sg_identity bid, aid;
    struct sg_signed_prekey spk;
    struct sg_prekey pk;
    CHECK("identity", sg_identity_generate(g_sig, &bid));
    CHECK("spk", sg_signed_prekey_generate(g_sig, &bid.kp, 1, &spk));
    CHECK("prekey", sg_prekeys_generate(g_sig, 1, 1, &pk, NULL));
    struct st_creds c;
    memset(&c, 0, sizeof c);
    memcpy(c.identity_priv, bid.kp.priv, 32);
    memcpy(c.identity_pub, bid.kp.pub, 32);
    c.registration_id = bid.registration_id;
    c.spk_id = 1;
    c.next_prekey_id = c.first_unuploaded_prekey_id = 2;
    CHECK("creds", st_creds_save(db, &c));
    struct sg_store bst = st_sgstore(db, SG_TRUST_ANY);
    CHECK("store spk", sg_store_put_signed_prekey(g_sig, &bst, &spk));
    CHECK("store pk", sg_store_put_prekeys(g_sig, &bst, &pk, 1));

    struct sg_memstore *ams = NULL;
    CHECK("memstore", sg_memstore_new(&ams, NULL));
    CHECK("identity", sg_identity_generate(g_sig, &aid));
    sg_memstore_set_identity(ams, &aid);
    struct sg_store ast = sg_memstore_store(ams, SG_TRUST_ANY);
    struct sg_ctx *alice = NULL, *bob = NULL;
    CHECK("ctx", sg_ctx_new(&alice, g_sig, &ast));
    CHECK("ctx", sg_ctx_new(&bob, g_sig, &bst));
    CHECK("addr", sg_address_make(&g_alice, "15550001111", 0, 0));
    CHECK("addr", sg_address_make(&g_bob, "222222222222222", 1, 0));
    struct sg_bundle bun;
    sg_bundle_make(&bid, &spk, &pk, &bun);
    CHECK("bundle", sg_session_from_bundle(alice, &g_bob, &bun));
    struct buf ct, pt;
    buf_init(&ct, 1 << 16);
    buf_init(&pt, 1 << 16);
    enum sg_msg_type t;
    CHECK("pt", buf_append_str(&pt, "hello"));
    CHECK("encrypt", sg_encrypt(alice, &g_bob, pt.data, pt.len, &t, &ct));
    buf_reset(&pt);
    CHECK("decrypt", sg_decrypt(bob, &g_alice, t, ct.data, ct.len, &pt));
    buf_reset(&ct);
    CHECK("encrypt", sg_encrypt(bob, &g_alice, pt.data, pt.len, &t, &ct));
    buf_reset(&pt);
    CHECK("decrypt", sg_decrypt(alice, &g_bob, t, ct.data, ct.len, &pt));

    m->ct = calloc((size_t)n, sizeof *m->ct);
    m->len = calloc((size_t)n, sizeof *m->len);
    if (!m->ct || !m->len) die("calloc", -12);
    m->n = n;
    m->next = 0;
    uint8_t text[200];
    memset(text, 'x', sizeof text);
    for (int i = 0; i < n; i++) {
        buf_reset(&ct);
        CHECK("encrypt", sg_encrypt(alice, &g_bob, text, sizeof text, &t, &ct));
        m->ct[i] = malloc(ct.len);
        if (!m->ct[i]) die("malloc", -12);
        memcpy(m->ct[i], ct.data, ct.len);
        m->len[i] = ct.len;
    }
    buf_free(&ct);
    buf_free(&pt);
    sg_ctx_free(alice);
    sg_ctx_free(bob);
    sg_memstore_free(ams);
    st_creds_wipe(&c);
    return db;
}

static void receive(struct st_db *db, struct sg_ctx *bob, struct msgs *m, struct buf *pt)
{
    int i = m->next++;
    if (i >= m->n) die("out of messages", -1);
    uint8_t h[32];
    char id[24];
    snprintf(id, sizeof id, "B%08d", i);
    st_ciphertext_hash(m->ct[i], m->len[i], h);
    if (st_processed_check(db, h, NULL, 0) != 0) die("processed check", -1);
    buf_reset(pt);
    CHECK("decrypt", sg_decrypt(bob, &g_alice, SG_MSG, m->ct[i], m->len[i], pt));
    CHECK("inbox", st_inbox_insert(db, "15550001111@s.whatsapp.net", "", id, i, "text", pt->data,
                                   pt->len, NULL));
    CHECK("processed", st_processed_put(db, h, id));
}

/* Messages per second with `batch` messages per transaction, median of ROUNDS rounds. */
static double bench_receive(struct st_db *db, struct sg_ctx *bob, struct msgs *m, int batch,
                            int per_round)
{
    double v[ROUNDS];
    struct buf pt;
    buf_init(&pt, 1 << 16);
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now();
        for (int k = 0; k < per_round; k += batch) {
            CHECK("begin", st_db_begin(db));
            for (int j = 0; j < batch; j++)
                receive(db, bob, m, &pt);
            CHECK("commit", st_db_commit(db));
        }
        v[r] = per_round / (now() - t0);
    }
    buf_free(&pt);
    return median(v, ROUNDS);
}

static double bench_outbox(struct st_db *db, int batch, int per_round, int *seq)
{
    double v[ROUNDS];
    uint8_t pb[200];
    memset(pb, 'y', sizeof pb);
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now();
        for (int k = 0; k < per_round; k += batch) {
            CHECK("begin", st_db_begin(db));
            for (int j = 0; j < batch; j++) {
                char key[32], id[32];
                int s = (*seq)++;
                snprintf(key, sizeof key, "idem-%d", s);
                snprintf(id, sizeof id, "3EB0%012d", s);
                CHECK("enqueue",
                      st_outbox_enqueue(db, key, id, "15550001111@s.whatsapp.net", pb, 200, NULL));
                CHECK("retry", st_retry_put(db, id, "15550001111@s.whatsapp.net", pb, 200, 1));
            }
            CHECK("commit", st_db_commit(db));
        }
        v[r] = per_round / (now() - t0);
    }
    return median(v, ROUNDS);
}

/* 1 KB session-record upserts, one per transaction (the notes' reference figure). */
static double bench_upsert(struct st_db *db, int per_round)
{
    double v[ROUNDS];
    uint8_t rec[1024];
    signal_protocol_address a = {"upsert", 6, 0};
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now();
        for (int k = 0; k < per_round; k++) {
            memset(rec, k & 0xff, sizeof rec);
            CHECK("begin", st_db_begin(db));
            CHECK("upsert", st_sgstore_ops()->store_session(db, &a, rec, sizeof rec));
            CHECK("commit", st_db_commit(db));
        }
        v[r] = per_round / (now() - t0);
    }
    return median(v, ROUNDS);
}

int main(int argc, char **argv)
{
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    const char *base = argc > 2 ? argv[2] : "/tmp";
    if (scale < 1) scale = 1;
    char dir[256], path[300], cmd[320];
    snprintf(dir, sizeof dir, "%s/bench_store.XXXXXX", base);
    if (!mkdtemp(dir)) die("mkdtemp", -1);
    snprintf(path, sizeof path, "%s/wa.db", dir);
    CHECK("signal context", sg_context_create(&g_sig));

    int single = 100 * scale, grp = 500 * scale;
    struct msgs m;
    struct st_db *db = setup(path, &m, ROUNDS * (single + 2 * grp));
    struct sg_store st = st_sgstore(db, SG_TRUST_ANY);
    struct sg_ctx *bob = NULL;
    CHECK("ctx", sg_ctx_new(&bob, g_sig, &st));

    printf("bench_store (synchronous=FULL, WAL, %s; medians of %d rounds)\n", base, ROUNDS);
    double r1 = bench_receive(db, bob, &m, 1, single);
    printf("  receive path, 1 msg/txn     %8.0f msg/s  (%.2f ms per message)\n", r1, 1000 / r1);
    double r10 = bench_receive(db, bob, &m, 10, grp);
    printf("  receive path, 10 msg/txn    %8.0f msg/s\n", r10);
    double r100 = bench_receive(db, bob, &m, 100, grp);
    printf("  receive path, 100 msg/txn   %8.0f msg/s\n", r100);
    int seq = 0;
    double o1 = bench_outbox(db, 1, single, &seq);
    printf("  outbox+retry enqueue, 1/txn %8.0f msg/s\n", o1);
    double o100 = bench_outbox(db, 100, grp, &seq);
    printf("  outbox+retry enqueue, 100/txn%8.0f msg/s\n", o100);
    double u = bench_upsert(db, single);
    printf("  1 KB upsert, 1/txn          %8.0f commits/s\n", u);

    sg_ctx_free(bob);
    CHECK("close", st_db_close(db));
    for (int i = 0; i < m.n; i++)
        free(m.ct[i]);
    free(m.ct);
    free(m.len);
    signal_context_destroy(g_sig);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
