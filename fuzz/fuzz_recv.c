/* SPDX-License-Identifier: MIT */
/* fuzz_recv.c -- arbitrary stanzas into wa_recv_handle against a fixed SQLite store.
 *
 * Byte 0 selects the mode: even -> the rest is a binary node (wa_node_decode_body) handed over
 * as is; odd -> a <message> is built: byte 1 picks the sender shape (1:1 LID / PN, group with
 * participant, our own device with recipient, broadcast, newsletter, missing attributes),
 * byte 2 the number of <enc> children, then each enc takes a type byte, a count byte and a
 * length-prefixed slice of the input as ciphertext. Invariants: no crash, no transaction left
 * open, no local error (the store is healthy), and every committed inbox row was delivered
 * (on_message) -- garbage is never committed silently. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "signal/sg_cipher.h"
#include "signal/sg_crypto.h"
#include "store/creds.h"
#include "store/db.h"
#include "store/msgstore.h"
#include "store/sgstore.h"
#include "wa/creds.h"
#include "wa/node.h"
#include "wa/recv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct st_db *g_db;
static struct sg_store g_st;
static signal_context *g_sig;
static struct sg_ctx *g_sg;
static struct wa_creds g_creds;
static struct wa_recv_env g_env;
static struct wa_receiver *g_rcv;
static size_t g_delivered;

static int hook_send(void *ud, const struct wa_node *n)
{
    struct buf b;
    buf_init(&b, 0);
    int rc = wa_node_encode(n, &b, NULL, 0); /* whatever we send must be encodable */
    if (rc != 0) abort();
    buf_free(&b);
    return 0;
}

static void on_message(void *ud, const struct wa_inmsg *m)
{
    g_delivered++;
}

static void init(void)
{
    char dir[] = "/tmp/fuzz_recv.XXXXXX", path[64], err[256];
    if (!mkdtemp(dir)) abort();
    snprintf(path, sizeof(path), "%s/wa.db", dir);
    struct st_db_opts o = {.sync = ST_SYNC_OFF};
    if (st_db_open_ex(path, &o, &g_db, err, sizeof(err)) != 0) abort();
    if (sg_context_create(&g_sig) != 0 || wa_creds_generate(&g_creds) != 0) abort();
    snprintf(g_creds.me_pn, sizeof(g_creds.me_pn), "15551230000:7@s.whatsapp.net");
    snprintf(g_creds.me_lid, sizeof(g_creds.me_lid), "211111111111111:7@lid");
    struct st_creds c;
    memset(&c, 0, sizeof(c));
    memcpy(c.identity_priv, g_creds.identity.priv, 32);
    memcpy(c.identity_pub, g_creds.identity.pub, 32);
    c.registration_id = g_creds.registration_id;
    c.spk_id = g_creds.signed_prekey_id;
    memcpy(c.spk_priv, g_creds.signed_prekey.priv, 32);
    memcpy(c.spk_pub, g_creds.signed_prekey.pub, 32);
    memcpy(c.spk_sig, g_creds.signed_prekey_sig, 64);
    c.next_prekey_id = c.first_unuploaded_prekey_id = 1;
    if (st_creds_save(g_db, &c) != 0) abort();
    g_st = st_sgstore(g_db, SG_TRUST_ANY);
    struct sg_signed_prekey spk;
    wa_creds_sg_signed_prekey(&g_creds, &spk);
    if (sg_store_put_signed_prekey(g_sig, &g_st, &spk) != 0) abort();
    if (sg_ctx_new(&g_sg, g_sig, &g_st) != 0) abort();
    g_env = (struct wa_recv_env){.db = g_db,
                                 .sg = g_sg,
                                 .creds = &g_creds,
                                 .on_message = on_message,
                                 .send_node = hook_send};
    if (wa_receiver_new(&g_env, &g_rcv) != 0) abort();
}

static const char *const FROM[] = {
    "222222222222222:3@lid",   "15550001111:2@s.whatsapp.net",
    "120363041234567890@g.us", "15551230000:2@s.whatsapp.net",
    "status@broadcast",        "1234@newsletter",
    "s.whatsapp.net",          "x@bot",
};

static void set_jid(struct wa_node *n, const char *k, const char *v)
{
    struct wa_jid j;
    if (wa_jid_parse(&j, v, strlen(v)) == 0 && wa_node_set_attr_jid(n, k, &j) == 0) return;
    abort();
}

static struct wa_node *build(const uint8_t *p, size_t n)
{
    if (n < 2) return NULL;
    struct wa_node *m = wa_node_new("message");
    if (!m) abort();
    unsigned shape = p[0] % 8;
    const char *from = FROM[shape];
    set_jid(m, "from", from);
    if (shape == 2 || shape == 4) set_jid(m, "participant", "222222222222222:3@lid");
    if (shape == 2) set_jid(m, "participant_pn", "15550001111:3@s.whatsapp.net");
    if (shape == 0) set_jid(m, "sender_pn", "15550001111@s.whatsapp.net");
    if (shape == 1) set_jid(m, "sender_lid", "222222222222222@lid");
    if (shape == 3 && (p[0] & 8)) set_jid(m, "recipient", "15550009999@s.whatsapp.net");
    if (p[0] & 16) {
        if (wa_node_set_attr(m, "category", "peer") != 0) abort();
    }
    if (!(p[0] & 32)) {
        if (wa_node_set_attr(m, "id", (p[0] & 64) ? "" : "FUZZ0001") != 0) abort();
    }
    if (wa_node_set_attr(m, "t", "1700000000") != 0) abort();
    unsigned nenc = p[1] % 7;
    size_t i = 2;
    static const char *const TYPES[] = {"pkmsg", "msg", "skmsg", "msmsg", "", "PKMSG"};
    for (unsigned k = 0; k < nenc && i + 3 <= n; k++) {
        struct wa_node *e = wa_node_new("enc");
        if (!e) abort();
        if (wa_node_set_attr(e, "v", "2") != 0 || wa_node_set_attr(e, "type", TYPES[p[i] % 6]) != 0)
            abort();
        char cnt[8];
        snprintf(cnt, sizeof(cnt), "%u", p[i + 1] % 8);
        if (p[i + 1] & 8 && wa_node_set_attr(e, "count", cnt) != 0) abort();
        size_t len = p[i + 2];
        i += 3;
        if (len > n - i) len = n - i;
        if (len && wa_node_set_bytes(e, p + i, len) != 0) abort();
        i += len;
        if (wa_node_add_child(m, e) != 0) abort();
    }
    return m;
}

static size_t inbox_rows(void)
{
    struct st_inbox_msg *v = NULL;
    size_t n = 0, total = 0;
    int64_t after = 0;
    do {
        if (st_inbox_list(g_db, after, ST_LIST_MAX, &v, &n) != 0) abort();
        if (n) after = v[n - 1].cursor;
        total += n;
        st_inbox_list_free(v, n);
    } while (n == ST_LIST_MAX);
    return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_db) init();
    if (size < 1 || size > 64 * 1024) return 0;
    struct wa_node *n = NULL;
    if (data[0] & 1) {
        n = build(data + 1, size - 1);
    } else if (wa_node_decode_body(data + 1, size - 1, NULL, &n, NULL, 0) != 0) {
        n = NULL;
    }
    if (!n) return 0;
    size_t before = inbox_rows(), delivered = g_delivered;
    int rc = wa_recv_handle(g_rcv, n);
    wa_node_free(n);
    if (rc < 0 || rc > 1) abort();   /* the store is healthy: no local error */
    if (st_db_in_txn(g_db)) abort(); /* never left open */
    if (inbox_rows() - before != g_delivered - delivered) abort(); /* committed == delivered */
    return 0;
}
