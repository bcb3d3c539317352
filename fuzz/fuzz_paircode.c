/* SPDX-License-Identifier: MIT */
/* fuzz_paircode.c -- the pairing-code parsers on peer-controlled bytes.
 *
 * The input is a binary node (flags byte first), handed to wa_paircode_parse_notification as
 * the primary's <notification type=link_code_companion_reg> and to wa_paircode_hello_result
 * as the companion_hello's iq result; a parsed notification then goes through
 * wa_paircode_finish with a fixed pending pairing (unwrap, X25519 on peer keys, bundle) for
 * one input size in 16 (the PBKDF2 is slow by design).
 * Nothing may crash or leak; a parsed notification must respect the caps. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wa/keys.h"
#include "wa/node.h"
#include "wa/paircode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct wa_paircode g_pc;
static struct wa_keypair g_ident;
static int g_ready;

static void setup(void)
{
    if (g_ready) return;
    struct wa_paircode_hello_rand r;
    memset(&r, 0x11, sizeof r);
    uint8_t noise[32] = {9};
    struct wa_node *hello = NULL;
    if (wa_paircode_hello(&g_pc, "+15550001234", &r, noise, "1", "Chrome (Linux)", &hello) != 0)
        abort();
    wa_node_free(hello);
    if (wa_keypair_generate(&g_ident) != 0) abort();
    g_ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192) return 0;
    setup();
    struct wa_node *n = NULL;
    char err[256];
    if (wa_node_decode(data, size, NULL, &n, err, sizeof err) != 0) return 0;
    struct wa_paircode pc = g_pc;
    if (wa_paircode_hello_result(&pc, n) == 0 && pc.ref_len > WA_PAIRCODE_REF_MAX) abort();
    pc.ref_len = 0;
    struct wa_paircode_primary p;
    /* finish costs two PBKDF2 rounds of 131072 iterations: only for 1 input in 16 */
    if (wa_paircode_parse_notification(n, &p) == 0 && (size & 15) == 0) {
        if (p.ref_len == 0 || p.ref_len > WA_PAIRCODE_REF_MAX) abort();
        struct wa_paircode_finish_rand fr;
        memset(&fr, 0x22, sizeof fr);
        uint8_t adv[32];
        struct wa_node *fin = NULL;
        if (wa_paircode_finish(&pc, &g_ident, &p, &fr, adv, &fin) == 0 && !fin) abort();
        wa_node_free(fin);
    }
    wa_node_free(n);
    return 0;
}
