/* SPDX-License-Identifier: MIT */
/* bench_signal.c -- Signal layer throughput: one-way 1:1, ping-pong round trips, group decrypts.
 *
 * usage: bench_signal [scale]   (scale multiplies the iteration counts; default 1)
 * Prints figures only; never asserts on timings. Parties use sg_memstore, so the numbers
 * include record (de)serialisation on every operation, as a real store would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "signal/sg_cipher.h"
#include "signal/sg_crypto.h"
#include "signal/sg_keys.h"
#include "signal/sg_memstore.h"
#include "signal/sg_store.h"

#define GROUP "120363041234567890@g.us"

struct party {
    struct sg_memstore *ms;
    struct sg_ctx *ctx;
    struct sg_identity id;
    struct sg_signed_prekey spk;
    struct sg_prekey pk;
    struct sg_address addr;
};

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_signal: %s failed: %d (%s)\n", what, rc, sg_strerror(rc));
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

static void party_init(signal_context *sig, struct party *p, const char *user)
{
    memset(p, 0, sizeof *p);
    CHECK("memstore", sg_memstore_new(&p->ms, NULL));
    CHECK("identity", sg_identity_generate(sig, &p->id));
    sg_memstore_set_identity(p->ms, &p->id);
    struct sg_store st = sg_memstore_store(p->ms, SG_TRUST_ANY);
    CHECK("ctx", sg_ctx_new(&p->ctx, sig, &st));
    CHECK("spk", sg_signed_prekey_generate(sig, &p->id.kp, 1, &p->spk));
    CHECK("store spk", sg_store_put_signed_prekey(sig, &st, &p->spk));
    CHECK("prekey", sg_prekeys_generate(sig, 1, 1, &p->pk, NULL));
    CHECK("store prekey", sg_store_put_prekeys(sig, &st, &p->pk, 1));
    CHECK("address", sg_address_make(&p->addr, user, 1, 0));
}

static void party_free(struct party *p)
{
    sg_ctx_free(p->ctx);
    sg_memstore_free(p->ms);
}

static const uint8_t PT[] = "\x0a\x1ahello from the signal bench\x03\x03\x03";

static void send1(struct party *from, struct party *to, struct buf *ct, struct buf *pt)
{
    enum sg_msg_type t;
    buf_reset(ct);
    buf_reset(pt);
    CHECK("encrypt", sg_encrypt(from->ctx, &to->addr, PT, sizeof PT - 1, &t, ct));
    CHECK("decrypt", sg_decrypt(to->ctx, &from->addr, t, ct->data, ct->len, pt));
}

/* Session a -> b established and answered once (both sides on msg). */
static void connect(struct party *a, struct party *b, struct buf *ct, struct buf *pt)
{
    struct sg_bundle bun;
    sg_bundle_make(&b->id, &b->spk, &b->pk, &bun);
    CHECK("bundle", sg_session_from_bundle(a->ctx, &b->addr, &bun));
    send1(a, b, ct, pt);
    send1(b, a, ct, pt);
}

static void bench_one_way(signal_context *sig, long n)
{
    struct party a, b;
    struct buf ct, pt;
    buf_init(&ct, 1 << 16);
    buf_init(&pt, 1 << 16);
    party_init(sig, &a, "111");
    party_init(sig, &b, "222");
    connect(&a, &b, &ct, &pt);
    double enc = 0, dec = 0;
    for (long i = 0; i < n; i++) {
        enum sg_msg_type t;
        buf_reset(&ct);
        buf_reset(&pt);
        double t0 = now();
        CHECK("encrypt", sg_encrypt(a.ctx, &b.addr, PT, sizeof PT - 1, &t, &ct));
        double t1 = now();
        CHECK("decrypt", sg_decrypt(b.ctx, &a.addr, t, ct.data, ct.len, &pt));
        enc += t1 - t0;
        dec += now() - t1;
    }
    printf("1:1 one-way (same chain): %ld msgs: %.0f msgs/s (encrypt %.0f/s, decrypt %.0f/s)\n", n,
           (double)n / (enc + dec), (double)n / enc, (double)n / dec);
    party_free(&a);
    party_free(&b);
    buf_free(&ct);
    buf_free(&pt);
}

static void bench_ping_pong(signal_context *sig, long n)
{
    struct party a, b;
    struct buf ct, pt;
    buf_init(&ct, 1 << 16);
    buf_init(&pt, 1 << 16);
    party_init(sig, &a, "111");
    party_init(sig, &b, "222");
    connect(&a, &b, &ct, &pt);
    double t0 = now();
    for (long i = 0; i < n; i++) {
        send1(&a, &b, &ct, &pt);
        send1(&b, &a, &ct, &pt);
    }
    double dt = now() - t0;
    printf("1:1 ping-pong (ratchet turns every message): %ld round trips: %.0f round trips/s\n", n,
           (double)n / dt);
    party_free(&a);
    party_free(&b);
    buf_free(&ct);
    buf_free(&pt);
}

static void bench_group(signal_context *sig, long n)
{
    struct party a, b;
    struct buf skdm, ct, pt;
    buf_init(&skdm, 4096);
    buf_init(&ct, 1 << 16);
    buf_init(&pt, 1 << 16);
    party_init(sig, &a, "111");
    party_init(sig, &b, "222");
    CHECK("group create", sg_group_create(a.ctx, GROUP, &a.addr, &skdm));
    CHECK("skdm", sg_group_process_skdm(b.ctx, GROUP, &a.addr, skdm.data, skdm.len));
    double enc = 0, dec = 0;
    for (long i = 0; i < n; i++) {
        buf_reset(&ct);
        buf_reset(&pt);
        double t0 = now();
        CHECK("group encrypt", sg_group_encrypt(a.ctx, GROUP, &a.addr, PT, sizeof PT - 1, &ct));
        double t1 = now();
        CHECK("group decrypt", sg_group_decrypt(b.ctx, GROUP, &a.addr, ct.data, ct.len, &pt));
        enc += t1 - t0;
        dec += now() - t1;
    }
    printf("group: %ld msgs: %.0f decrypts/s (encrypts %.0f/s)\n", n, (double)n / dec,
           (double)n / enc);
    party_free(&a);
    party_free(&b);
    buf_free(&skdm);
    buf_free(&ct);
    buf_free(&pt);
}

int main(int argc, char **argv)
{
    long scale = argc > 1 ? atol(argv[1]) : 1;
    if (scale < 1) scale = 1;
    signal_context *sig = NULL;
    CHECK("signal context", sg_context_create(&sig));
    bench_one_way(sig, 20000 * scale);
    bench_ping_pong(sig, 1000 * scale);
    bench_group(sig, 10000 * scale);
    signal_context_destroy(sig);
    return 0;
}
