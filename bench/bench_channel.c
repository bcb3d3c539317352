/* SPDX-License-Identifier: MIT */
/* bench_channel.c -- inbound messages/s through the real receive path (decrypt + commit + ack +
 * event), one transaction per message and with group commit, synchronous=FULL, one core.
 *
 * usage: bench_channel [messages-per-round] [dir]   (default 3000 with group commit, a third
 * of that one per transaction; /tmp; use the disk the state directory lives on). A reference
 * figure first: the disk's commits/s of one small row right now (shared machines vary a lot). PEERS
 * simulated contacts (memstore Signal state, 1:1 sessions past the pre-key stage) pre-encrypt each
 * round's messages into encoded <message> stanzas (untimed). Timed, per message, on this one
 * thread: node decode, wa_recv_handle (or wa_recv_handle_batch over BATCH stanzas), i.e. LID/PN
 * resolution, processed-hash check, libsignal decrypt with session read/rewrite in SQLite, Message
 * decode, inbox insert, COMMIT (fsync), the <receipt> built and encoded to bytes, and the
 * message.received event JSON (chmsg_inbox_json + print) -- what the channel does minus the socket
 * and the Noise frame. Each figure is the median of ROUNDS rounds. Prints figures only; asserts
 * nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "gw/json.h"
#include "signal/sg_cipher.h"
#include "signal/sg_crypto.h"
#include "signal/sg_keys.h"
#include "signal/sg_memstore.h"
#include "signal/sg_store.h"
#include "store/creds.h"
#include "store/db.h"
#include "store/msgstore.h"
#include "store/sgstore.h"
#include "wa.pb-c.h"
#include "wa/credstore.h"
#include "wa/creds.h"
#include "wa/node.h"
#include "wa/recv.h"

#define ROUNDS 5
#define PEERS  8
#define BATCH  WA_RECV_BATCH_MAX
#define ME_LID "211111111111111"

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_channel: %s failed: %d\n", what, rc);
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

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
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

struct us {
    struct st_db *db;
    struct sg_store st;
    struct sg_ctx *ctx;
    struct wa_creds creds;
    struct wa_recv_env env;
    struct wa_receiver *rcv;
    struct buf out; /* the last encoded receipt */
    unsigned long acks, events, event_bytes;
};

struct peer {
    struct sg_memstore *ms;
    struct sg_ctx *ctx;
    struct sg_address to; /* our device as the peer sees it */
    char lid[32], pn[32];
};

static int hook_send(void *ud, const struct wa_node *n)
{
    struct us *u = ud;
    buf_reset(&u->out);
    int rc = wa_node_encode(n, &u->out, NULL, 0);
    if (rc == 0) u->acks++;
    return rc;
}

static void on_message(void *ud, const struct wa_inmsg *m)
{
    struct us *u = ud;
    cJSON *o = gw_inmsg_json("default", m);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    if (s) u->event_bytes += strlen(s);
    u->events++;
    free(s);
    cJSON_Delete(o);
}

static void us_setup(struct us *u, const char *path)
{
    char err[256] = "";
    memset(u, 0, sizeof *u);
    if (st_db_open(path, &u->db, err, sizeof err)) {
        fprintf(stderr, "bench_channel: %s\n", err);
        exit(1);
    }
    u->st = st_sgstore(u->db, SG_TRUST_ANY);
    CHECK("ctx", sg_ctx_new(&u->ctx, g_sig, &u->st));
    CHECK("creds", wa_creds_generate(&u->creds));
    snprintf(u->creds.me_pn, sizeof u->creds.me_pn, "15551230000:7@s.whatsapp.net");
    snprintf(u->creds.me_lid, sizeof u->creds.me_lid, ME_LID ":7@lid");
    u->creds.next_prekey_id = PEERS + 1;
    CHECK("creds save", wa_creds_store(u->db, &u->creds));
    struct sg_signed_prekey spk;
    wa_creds_sg_signed_prekey(&u->creds, &spk);
    CHECK("spk", sg_store_put_signed_prekey(g_sig, &u->st, &spk));
    struct sg_prekey pks[PEERS];
    CHECK("prekeys", sg_prekeys_generate(g_sig, 1, PEERS, pks, NULL));
    CHECK("prekeys put", sg_store_put_prekeys(g_sig, &u->st, pks, PEERS));
    buf_init(&u->out, 1 << 16);
    u->env = (struct wa_recv_env){.db = u->db,
                                  .sg = u->ctx,
                                  .creds = &u->creds,
                                  .on_message = on_message,
                                  .ud = u,
                                  .send_node = hook_send};
    CHECK("receiver", wa_receiver_new(&u->env, &u->rcv));
}

static void set_jid(struct wa_node *n, const char *k, const char *v)
{
    struct wa_jid j;
    CHECK("jid", wa_jid_parse(&j, v, strlen(v)));
    CHECK("jid attr", wa_node_set_attr_jid(n, k, &j));
}

/* One encoded <message> stanza from peer p carrying `text`. */
static void peer_stanza(struct peer *p, const char *id, const char *text, struct buf *wire)
{
    Wa__Message m = WA__MESSAGE__INIT;
    m.conversation = (char *)text;
    struct buf pt, ct;
    buf_init(&pt, 1 << 16);
    buf_init(&ct, 1 << 16);
    size_t n = wa__message__get_packed_size(&m);
    CHECK("reserve", buf_reserve(&pt, n + 16));
    wa__message__pack(&m, pt.data);
    pt.len = n;
    CHECK("pad", sg_pad(&pt));
    enum sg_msg_type t;
    CHECK("encrypt", sg_encrypt(p->ctx, &p->to, pt.data, pt.len, &t, &ct));
    struct wa_node *s = wa_node_new("message"), *e = wa_node_new("enc");
    if (!s || !e) die("node", -ENOMEM);
    set_jid(s, "from", p->lid);
    set_jid(s, "sender_pn", p->pn);
    CHECK("attr", wa_node_set_attr(s, "addressing_mode", "lid"));
    CHECK("attr", wa_node_set_attr(s, "type", "text"));
    CHECK("attr", wa_node_set_attr(s, "id", id));
    CHECK("attr", wa_node_set_attr(s, "t", "1700000000"));
    CHECK("attr", wa_node_set_attr(e, "v", "2"));
    CHECK("attr", wa_node_set_attr(e, "type", sg_msg_type_name(t)));
    CHECK("bytes", wa_node_set_bytes(e, ct.data, ct.len));
    CHECK("child", wa_node_add_child(s, e));
    buf_reset(wire);
    CHECK("encode", wa_node_encode(s, wire, NULL, 0));
    wa_node_free(s);
    buf_free(&pt);
    buf_free(&ct);
}

/* Peer i: a session from our bundle (pre-key i+1), its first message received, and our reply
 * decrypted, so that its following messages are plain `msg` on an established session. */
static void peer_setup(struct peer *p, struct us *u, int i)
{
    memset(p, 0, sizeof *p);
    struct sg_identity id, ours;
    CHECK("memstore", sg_memstore_new(&p->ms, NULL));
    CHECK("identity", sg_identity_generate(g_sig, &id));
    sg_memstore_set_identity(p->ms, &id);
    struct sg_store st = sg_memstore_store(p->ms, SG_TRUST_ANY);
    CHECK("ctx", sg_ctx_new(&p->ctx, g_sig, &st));
    CHECK("addr", sg_address_make(&p->to, ME_LID, 1, 7));
    snprintf(p->lid, sizeof p->lid, "2222222222%05d@lid", i);
    snprintf(p->pn, sizeof p->pn, "155500%05d@s.whatsapp.net", i);
    struct sg_signed_prekey spk;
    struct sg_prekey pk;
    wa_creds_sg_identity(&u->creds, &ours);
    wa_creds_sg_signed_prekey(&u->creds, &spk);
    if (sg_store_get_prekey(g_sig, &u->st, (uint32_t)i + 1, &pk) != 1) die("get prekey", -1);
    struct sg_bundle b;
    sg_bundle_make(&ours, &spk, &pk, &b);
    CHECK("session", sg_session_from_bundle(p->ctx, &p->to, &b));
    struct buf wire;
    buf_init(&wire, 1 << 16);
    char mid[32];
    snprintf(mid, sizeof mid, "WARMUP%02d", i);
    peer_stanza(p, mid, "hello", &wire);
    struct wa_node *n = NULL;
    CHECK("decode", wa_node_decode(wire.data, wire.len, NULL, &n, NULL, 0));
    if (wa_recv_handle(u->rcv, n) != 1) die("warm-up recv", -1);
    wa_node_free(n);
    /* our reply turns the ratchet on the peer's side */
    struct sg_address them;
    char user[32];
    snprintf(user, sizeof user, "%.*s", (int)strcspn(p->lid, "@"), p->lid);
    CHECK("addr", sg_address_make(&them, user, 1, 0));
    struct buf pt, ct, out;
    buf_init(&pt, 4096);
    buf_init(&ct, 1 << 16);
    buf_init(&out, 1 << 16);
    CHECK("pt", buf_append_str(&pt, "ok"));
    CHECK("pad", sg_pad(&pt));
    enum sg_msg_type t;
    CHECK("reply encrypt", sg_encrypt(u->ctx, &them, pt.data, pt.len, &t, &ct));
    CHECK("reply decrypt", sg_decrypt(p->ctx, &p->to, t, ct.data, ct.len, &out));
    buf_free(&pt);
    buf_free(&ct);
    buf_free(&out);
    buf_free(&wire);
}

struct round {
    uint8_t **wire;
    size_t *len;
    int n;
};

static void round_make(struct round *r, struct peer *peers, int n, int tag)
{
    static const char text[] = "Benchmark message: the quick brown fox jumps over the lazy dog, "
                               "then asks the gateway for the weather in Lisbon tomorrow.";
    r->n = n;
    r->wire = calloc((size_t)n, sizeof *r->wire);
    r->len = calloc((size_t)n, sizeof *r->len);
    if (!r->wire || !r->len) die("calloc", -ENOMEM);
    struct buf w;
    buf_init(&w, 1 << 16);
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "3EB0%02X%08X", tag, (unsigned)i);
        peer_stanza(&peers[i % PEERS], id, text, &w);
        r->wire[i] = malloc(w.len);
        if (!r->wire[i]) die("malloc", -ENOMEM);
        memcpy(r->wire[i], w.data, w.len);
        r->len[i] = w.len;
    }
    buf_free(&w);
}

static void round_free(struct round *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->wire[i]);
    free(r->wire);
    free(r->len);
}

/* Feed one round; returns messages/s (wall); *cpu_rate gets messages per CPU-second. */
static double round_run(struct us *u, const struct round *r, int batch, double *cpu_rate)
{
    unsigned long ev0 = u->events, ack0 = u->acks;
    struct wa_node *nodes[WA_RECV_BATCH_MAX];
    double t0 = now(), c0 = cpu_now();
    for (int i = 0; i < r->n; i += batch) {
        int k = r->n - i < batch ? r->n - i : batch;
        for (int j = 0; j < k; j++)
            CHECK("decode",
                  wa_node_decode(r->wire[i + j], r->len[i + j], NULL, &nodes[j], NULL, 0));
        if (batch == 1) {
            if (wa_recv_handle(u->rcv, nodes[0]) != 1) die("recv", -1);
        } else {
            CHECK("recv batch", wa_recv_handle_batch(u->rcv, (const struct wa_node *const *)nodes,
                                                     (size_t)k, NULL));
        }
        for (int j = 0; j < k; j++)
            wa_node_free(nodes[j]);
    }
    double dt = now() - t0;
    *cpu_rate = r->n / (cpu_now() - c0);
    if (u->events - ev0 != (unsigned long)r->n || u->acks - ack0 != (unsigned long)r->n)
        die("not every message was stored, acked and delivered", -1);
    return r->n / dt;
}

static void bench(struct us *u, struct peer *peers, int n, int batch, int *tag)
{
    double v[ROUNDS], c[ROUNDS];
    for (int k = 0; k < ROUNDS; k++) {
        struct round r;
        round_make(&r, peers, n, (*tag)++);
        v[k] = round_run(u, &r, batch, &c[k]);
        round_free(&r);
    }
    double med = median(v, ROUNDS);
    printf("inbound (decrypt+commit+ack+event), %s: %.0f msgs/s  (median of %d x %d; min %.0f max "
           "%.0f)\n",
           batch == 1 ? "one transaction per message" : "group commit, 64 per transaction", med,
           ROUNDS, n, v[0], v[ROUNDS - 1]);
    printf("  CPU only (fsync waits excluded): %.0f msgs per CPU-second\n", median(c, ROUNDS));
}

/* The disk's price: commits/s of one small row (what bounds one transaction per message). */
static void bench_commit(struct us *u)
{
    double v[ROUNDS];
    for (int k = 0; k < ROUNDS; k++) {
        double t0 = now();
        for (int i = 0; i < 100; i++) {
            uint8_t h[32];
            char id[32];
            snprintf(id, sizeof id, "FSYNC%02d%04d", k, i);
            st_ciphertext_hash((const uint8_t *)id, strlen(id), h);
            CHECK("begin", st_db_begin(u->db));
            CHECK("put", st_processed_put(u->db, h, id));
            CHECK("commit", st_db_commit(u->db));
        }
        v[k] = 100 / (now() - t0);
    }
    printf("reference: this disk now does %.0f commits/s of one small row (synchronous=FULL)\n",
           median(v, ROUNDS));
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 3000;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    if (n < 1) n = 3000;
    char tmpl[256], path[300];
    snprintf(tmpl, sizeof tmpl, "%s/bench_channel.XXXXXX", dir);
    if (!mkdtemp(tmpl)) die("mkdtemp", -errno);
    snprintf(path, sizeof path, "%s/wa.db", tmpl);
    CHECK("signal", sg_context_create(&g_sig));
    struct us u;
    us_setup(&u, path);
    struct peer peers[PEERS];
    for (int i = 0; i < PEERS; i++)
        peer_setup(&peers[i], &u, i);
    printf("bench_channel: synchronous=FULL, %d peers (1:1, established sessions), one thread, "
           "db in %s\n",
           PEERS, dir);
    int tag = 0;
    bench_commit(&u);
    bench(&u, peers, n / 3 > 0 ? n / 3 : 1, 1, &tag);
    bench(&u, peers, n, BATCH, &tag);
    printf("goal: >= 3000 inbound msgs/s on one core\n");
    for (int i = 0; i < PEERS; i++) {
        sg_ctx_free(peers[i].ctx);
        sg_memstore_free(peers[i].ms);
    }
    sg_ctx_free(u.ctx);
    buf_free(&u.out);
    wa_receiver_free(u.rcv);
    if (st_db_close(u.db)) die("close", -1);
    signal_context_destroy(g_sig);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
    return system(cmd) == 0 ? 0 : 1;
}
