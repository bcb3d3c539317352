/* SPDX-License-Identifier: MIT */
/* fuzz_node.c -- binary node decoder, and the decode -> text -> parse -> encode round trip.
 *
 * Input: a frame plaintext (flags byte first). When it decodes, the text form
 * must parse back to an equal tree (pretty and compact), that tree must
 * encode, and the encoding must decode to the same tree and re-encode to the
 * same bytes. Any mismatch aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "wa/node.h"
#include "wa/nodetext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_node: round trip broken: %s\n", what);
        abort();
    }
}

static struct wa_node *text_roundtrip(const struct wa_node *n, unsigned flags)
{
    struct buf t;
    struct wa_node *back = NULL;
    char err[WA_NODE_ERR_MAX];
    buf_init(&t, 0);
    check(wa_nodetext_print(n, &t, flags) == 0, "print");
    int rc = wa_nodetext_parse((const char *)t.data, t.len, &back, err, sizeof(err));
    if (rc) fprintf(stderr, "parse: %s\n%.*s\n", err, (int)t.len, (const char *)t.data);
    check(rc == 0, "parse of printed text");
    check(wa_node_equal(n, back), "parsed tree differs");
    buf_free(&t);
    return back;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct wa_node_limits lim = {.max_input = 1u << 16, .max_inflated = 1u << 18};
    struct wa_node *n = NULL;
    char err[WA_NODE_ERR_MAX];
    if (wa_node_decode(data, size, &lim, &n, err, sizeof(err)) != 0) return 0;
    struct wa_node *p1 = text_roundtrip(n, 0);
    struct wa_node *p2 = text_roundtrip(n, WA_NODETEXT_COMPACT);
    struct buf b1, b2;
    buf_init(&b1, 0);
    buf_init(&b2, 0);
    check(wa_node_encode(p1, &b1, err, sizeof(err)) == 0, "encode");
    struct wa_node *again = NULL;
    check(wa_node_decode(b1.data, b1.len, NULL, &again, err, sizeof(err)) == 0, "re-decode");
    check(wa_node_equal(n, again), "re-decoded tree differs");
    check(wa_node_encode(again, &b2, err, sizeof(err)) == 0, "re-encode");
    check(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0, "re-encoding differs");
    wa_node_free(again);
    wa_node_free(p1);
    wa_node_free(p2);
    wa_node_free(n);
    buf_free(&b1);
    buf_free(&b2);
    return 0;
}
