/* SPDX-License-Identifier: MIT */
/* fuzz_signal.c -- decrypt arbitrary pkmsg / msg / skmsg / SKDM bytes against a fixed state.
 *
 * The state is the recipient "Bob" of wa-vectors.json (fixed identity, signed pre-key 1,
 * one-time pre-key 77) plus the vector group's sender key, held in an sg_memstore that is
 * restored from a snapshot before every input, so each input runs against the same state.
 * Two snapshots: "fresh" (no session yet: pkmsgs from the vector decrypt) and "established"
 * (after pkmsg1: msg inputs reach the ratchet and MAC checks).
 *
 * Input: byte 0 selects the operation (low 3 bits), the rest is the message:
 *   0 pkmsg (fresh)   1 pkmsg (established)   2 msg (established)   3 skmsg
 *   4 SKDM, then the vector's first skmsg     5 two messages: [len16 BE][pkmsg][msg] (fresh)
 * Only error codes are expected; crashes, leaks and sanitizer reports are the findings.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hex.h"
#include "signal/sg_cipher.h"
#include "signal/sg_crypto.h"
#include "signal/sg_keys.h"
#include "signal/sg_memstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GROUP "120363041234567890@g.us"

static const char BOB_IK[] = "1011111111111111111111111111111111111111111111111111111111111151";
static const char BOB_SPK[] = "1012121212121212121212121212121212121212121212121212121212121252";
static const char BOB_SPK_SIG[] =
    "a05210758105918c6ff0362383e191c13cad199c9a75ed356b9fbb49d58dbbb2"
    "77d11079e889c4bf6b8bebbd92b3214434e09f6082ada395d26a1cbcc389df8d";
static const char BOB_OPK[] = "1013131313131313131313131313131313131313131313131313131313131353";
static const char PKMSG1[] =
    "33084d1221055932c4b0e093623d483dffe88c31ba3dcc6f36bb8356fc80b911d8fc0afb603d1a21057d34a481"
    "5fa6b982535e60af3bd9b49556816080f1641ff81d2b7c8ae8268a442252330a2105b1bfb2b8ea1b9dc04cd10a"
    "a689f43ac7579d2f652fdc4799be1d3963369c05571000180022204be2b64001f28616aa9ae1ac558f77ea21ef"
    "49a596a784ba34b01fc0dc9fdd939145bee32bb6c52f28d2093001";
static const char SKDM[] = "3308f99585c70410001a209116ca9c4e4a42969d66be6974259fad8fa6f55d60f8b2e9"
                           "45b0352ce982c29b22210557f5516dd6c13217a32b3010ec9da6eb96eed3fd12b3e3b0"
                           "526eed0f8b7bd21c";
static const char SKMSG0[] =
    "3308f99585c70410001a102cb82870469c6a52d0241492bcf025c84b226ba31284983e68b3e9395f1d1dda179b"
    "a0eea82bd6a6c18d7f00f22bd649eb9764fd7694bf68c0b3724e3d0ff9ee22309156cdad99ccd4c095065a9bf5"
    "0a";

static signal_context *g_sig;
static struct sg_memstore *g_ms, *g_fresh, *g_est;
static struct sg_ctx *g_ctx;
static struct sg_address g_alice, g_sender;
static uint8_t g_skmsg0[128];
static size_t g_skmsg0_len;

static void must(int ok)
{
    if (!ok) abort();
}

static size_t unhex(uint8_t *out, size_t max, const char *h)
{
    long n = hex_decode(out, max, h, strlen(h));
    must(n > 0);
    return (size_t)n;
}

static void key(const char *h, struct sg_keypair *kp)
{
    uint8_t priv[32];
    must(unhex(priv, sizeof priv, h) == 32);
    must(sg_keypair_from_private(g_sig, priv, kp) == 0);
}

static void init_state(void)
{
    struct sg_identity id = {.registration_id = 4321};
    struct sg_signed_prekey spk = {.id = 1};
    struct sg_prekey pk = {.id = 77};
    must(sg_context_create(&g_sig) == 0);
    key(BOB_IK, &id.kp);
    key(BOB_SPK, &spk.kp);
    key(BOB_OPK, &pk.kp);
    must(unhex(spk.sig, sizeof spk.sig, BOB_SPK_SIG) == 64);
    must(sg_memstore_new(&g_ms, NULL) == 0);
    sg_memstore_set_identity(g_ms, &id);
    struct sg_store st = sg_memstore_store(g_ms, SG_TRUST_ANY);
    must(sg_store_put_signed_prekey(g_sig, &st, &spk) == 0);
    must(sg_store_put_prekeys(g_sig, &st, &pk, 1) == 0);
    must(sg_ctx_new(&g_ctx, g_sig, &st) == 0);
    must(sg_address_make(&g_alice, "15550001111", 0, 0) == 0);
    must(sg_address_make(&g_sender, "15550001111", 0, 0) == 0);

    uint8_t m[512];
    size_t n = unhex(m, sizeof m, SKDM);
    must(sg_group_process_skdm(g_ctx, GROUP, &g_sender, m, n) == 0);
    g_skmsg0_len = unhex(g_skmsg0, sizeof g_skmsg0, SKMSG0);
    must(sg_memstore_clone(g_ms, &g_fresh) == 0);

    struct buf pt;
    buf_init(&pt, 4096);
    n = unhex(m, sizeof m, PKMSG1);
    must(sg_decrypt(g_ctx, &g_alice, SG_PKMSG, m, n, &pt) == 0);
    buf_free(&pt);
    must(sg_memstore_clone(g_ms, &g_est) == 0);
}

static void check_plain(int rc, struct buf *pt)
{
    size_t n;
    if (rc == 0 && pt->len) (void)sg_unpad(pt->data, pt->len, &n);
    buf_reset(pt);
}

static void one(int op, const uint8_t *d, size_t n, struct buf *pt)
{
    int rc;
    switch (op) {
    case 0:
    case 1:
        rc = sg_decrypt(g_ctx, &g_alice, SG_PKMSG, d, n, pt);
        break;
    case 2:
        rc = sg_decrypt(g_ctx, &g_alice, SG_MSG, d, n, pt);
        break;
    case 3:
        rc = sg_group_decrypt(g_ctx, GROUP, &g_sender, d, n, pt);
        break;
    default:
        rc = sg_group_process_skdm(g_ctx, GROUP, &g_sender, d, n);
        if (rc == 0) rc = sg_group_decrypt(g_ctx, GROUP, &g_sender, g_skmsg0, g_skmsg0_len, pt);
        break;
    }
    if (rc > 0) abort(); /* only 0 or negative codes are allowed */
    check_plain(rc, pt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_sig) init_state();
    if (size < 1) return 0;
    int op = data[0] & 7;
    must(sg_memstore_restore(g_ms, (op == 0 || op == 5) ? g_fresh : g_est) == 0);
    struct buf pt;
    buf_init(&pt, SG_MAX_MESSAGE);
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    if (op == 5) {
        size_t l = n >= 2 ? ((size_t)d[0] << 8 | d[1]) : 0;
        d += n >= 2 ? 2 : n;
        n -= n >= 2 ? 2 : n;
        if (l > n) l = n;
        one(0, d, l, &pt);
        one(2, d + l, n - l, &pt);
    } else if (op <= 4) {
        one(op, d, n, &pt);
    }
    buf_free(&pt);
    return 0;
}
