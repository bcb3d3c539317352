/* SPDX-License-Identifier: MIT */
/* test_frame.c -- WA intro + 3-byte framing: encoder, reassembly, caps, ED-prefix intro. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buf.h"
#include "wa/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Decoded frames, concatenated as len(2 bytes) || payload for easy comparison. */
struct sink {
    struct buf out;
    int frames;
};

/* Feed one chunk; collect all frames. Returns the first error or 0. */
static int feed(struct wa_frame_decoder *d, struct sink *s, const uint8_t *p, size_t n)
{
    while (1) {
        size_t used = 0, flen = 0;
        const uint8_t *f = NULL;
        int rc = wa_frame_decode(d, p, n, &used, &f, &flen);
        assert_true(used <= n);
        p += used;
        n -= used;
        if (rc < 0) return rc;
        if (rc == 0) {
            assert_int_equal(n, 0);
            return 0;
        }
        uint8_t l[2] = {(uint8_t)(flen >> 8), (uint8_t)flen};
        assert_int_equal(buf_append(&s->out, l, 2), 0);
        assert_int_equal(buf_append(&s->out, f, flen), 0);
        s->frames++;
    }
}

/* Build: intro (client encoder) + frames of sizes 0, 1, 300, 5. */
static void make_stream(struct buf *wire, struct buf *expect)
{
    static const size_t sizes[] = {5, 0, 1, 300, 5};
    struct wa_frame_encoder e;
    wa_frame_encoder_init(&e, true, 0);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t p[300];
        for (size_t j = 0; j < sizes[i]; j++)
            p[j] = (uint8_t)(i * 31 + j);
        assert_int_equal(wa_frame_encode(&e, wire, p, sizes[i]), 0);
        uint8_t l[2] = {(uint8_t)(sizes[i] >> 8), (uint8_t)sizes[i]};
        assert_int_equal(buf_append(expect, l, 2), 0);
        assert_int_equal(buf_append(expect, p, sizes[i]), 0);
    }
}

static void test_encoder(void **state)
{
    struct wa_frame_encoder e;
    struct buf b;
    buf_init(&b, 0);
    wa_frame_encoder_init(&e, true, 0);
    assert_int_equal(wa_frame_encode(&e, &b, (const uint8_t *)"ab", 2), 0);
    assert_int_equal(wa_frame_encode(&e, &b, (const uint8_t *)"c", 1), 0);
    static const uint8_t want[] = {'W', 'A', 6, 3, 0, 0, 2, 'a', 'b', 0, 0, 1, 'c'};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    /* Server side: no intro; the cap is enforced; a full buf is unchanged. */
    buf_reset(&b);
    wa_frame_encoder_init(&e, false, 4);
    assert_int_equal(wa_frame_encode(&e, &b, (const uint8_t *)"abcd", 4), 0);
    assert_int_equal(b.len, 7);
    assert_int_equal(wa_frame_encode(&e, &b, (const uint8_t *)"abcde", 5), -EMSGSIZE);
    assert_int_equal(b.len, 7);
    struct buf small;
    buf_init(&small, 5);
    assert_int_equal(wa_frame_encode(&e, &small, (const uint8_t *)"abc", 3), -ENOBUFS);
    assert_int_equal(small.len, 0);
    buf_free(&small);
    /* Max limit clamps to 2^24-1. */
    wa_frame_encoder_init(&e, false, (size_t)1 << 30);
    assert_int_equal(e.max_frame, WA_FRAME_MAX_LIMIT);
    buf_free(&b);
}

static void test_split_every_boundary(void **state)
{
    struct buf wire, expect;
    buf_init(&wire, 0);
    buf_init(&expect, 0);
    make_stream(&wire, &expect);
    for (size_t cut = 0; cut <= wire.len; cut++) {
        for (size_t cut2 = cut; cut2 <= wire.len; cut2 += 7) {
            struct wa_frame_decoder d;
            struct sink s = {0};
            buf_init(&s.out, 0);
            wa_frame_decoder_init(&d, true, 0, 0);
            assert_int_equal(feed(&d, &s, wire.data, cut), 0);
            assert_int_equal(feed(&d, &s, wire.data + cut, cut2 - cut), 0);
            assert_int_equal(feed(&d, &s, wire.data + cut2, wire.len - cut2), 0);
            assert_int_equal(s.frames, 5);
            assert_int_equal(s.out.len, expect.len);
            assert_memory_equal(s.out.data, expect.data, expect.len);
            assert_false(wa_frame_decoder_has_partial(&d));
            buf_free(&s.out);
            wa_frame_decoder_free(&d);
        }
    }
    buf_free(&wire);
    buf_free(&expect);
}

static void test_byte_by_byte(void **state)
{
    struct buf wire, expect;
    struct wa_frame_decoder d;
    struct sink s = {0};
    buf_init(&wire, 0);
    buf_init(&expect, 0);
    buf_init(&s.out, 0);
    make_stream(&wire, &expect);
    wa_frame_decoder_init(&d, true, 0, 0);
    for (size_t i = 0; i < wire.len; i++) {
        assert_int_equal(feed(&d, &s, wire.data + i, 1), 0);
        /* Inside the first frame's header or body there is a partial frame. */
        if (i >= 4 && i < 4 + 3 + 5 - 1) assert_true(wa_frame_decoder_has_partial(&d));
    }
    assert_int_equal(s.frames, 5);
    assert_memory_equal(s.out.data, expect.data, expect.len);
    buf_free(&s.out);
    buf_free(&wire);
    buf_free(&expect);
    wa_frame_decoder_free(&d);
}

static void test_client_side_decoder(void **state)
{
    /* Client decoder (server frames): no intro expected. */
    static const uint8_t in[] = {0, 0, 3, 'x', 'y', 'z', 0, 0, 1};
    struct wa_frame_decoder d;
    struct sink s = {0};
    buf_init(&s.out, 0);
    wa_frame_decoder_init(&d, false, 0, 0);
    assert_int_equal(feed(&d, &s, in, sizeof in), 0);
    assert_int_equal(s.frames, 1);
    assert_true(wa_frame_decoder_has_partial(&d));
    assert_int_equal(feed(&d, &s, (const uint8_t *)"!", 1), 0);
    assert_int_equal(s.frames, 2);
    buf_free(&s.out);
    wa_frame_decoder_free(&d);
}

static void test_oversize(void **state)
{
    struct wa_frame_decoder d;
    struct sink s = {0};
    buf_init(&s.out, 0);
    wa_frame_decoder_init(&d, false, 100, 0);
    static const uint8_t ok[] = {0, 0, 100};
    static const uint8_t big[] = {0, 0, 101};
    assert_int_equal(feed(&d, &s, ok, sizeof ok), 0);
    uint8_t body[100] = {0};
    assert_int_equal(feed(&d, &s, body, sizeof body), 0);
    assert_int_equal(s.frames, 1);
    assert_int_equal(feed(&d, &s, big, sizeof big), -EMSGSIZE);
    assert_string_equal(wa_frame_decoder_error(&d), "frame: frame exceeds size cap");
    /* Sticky. */
    assert_int_equal(feed(&d, &s, ok, sizeof ok), -EMSGSIZE);
    wa_frame_decoder_free(&d);
    /* Default cap is 4 MiB: a 0xffffff header is refused before any allocation. */
    static const uint8_t huge[] = {0xff, 0xff, 0xff};
    wa_frame_decoder_init(&d, false, 0, 0);
    assert_int_equal(feed(&d, &s, huge, sizeof huge), -EMSGSIZE);
    wa_frame_decoder_free(&d);
    buf_free(&s.out);
}

static void test_ed_prefix(void **state)
{
    uint8_t wire[64];
    size_t n = 0;
    static const uint8_t routing[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    memcpy(wire, "ED\x00\x01", 4);
    n = 4;
    wire[n++] = 0;
    wire[n++] = 0;
    wire[n++] = sizeof routing;
    memcpy(wire + n, routing, sizeof routing);
    n += sizeof routing;
    memcpy(wire + n, wa_frame_intro, 4);
    n += 4;
    memcpy(wire + n, "\x00\x00\x02hi", 5);
    n += 5;
    for (size_t cut = 0; cut <= n; cut++) {
        struct wa_frame_decoder d;
        struct sink s = {0};
        buf_init(&s.out, 0);
        wa_frame_decoder_init(&d, true, 0, 0);
        assert_int_equal(feed(&d, &s, wire, cut), 0);
        assert_int_equal(feed(&d, &s, wire + cut, n - cut), 0);
        assert_int_equal(s.frames, 1);
        assert_memory_equal(s.out.data, "\x00\x02hi", 4);
        buf_free(&s.out);
        wa_frame_decoder_free(&d);
    }
    /* Routing info over the cap. */
    struct wa_frame_decoder d;
    struct sink s = {0};
    buf_init(&s.out, 0);
    wa_frame_decoder_init(&d, true, 0, 9);
    assert_int_equal(feed(&d, &s, wire, n), -EMSGSIZE);
    assert_string_equal(wa_frame_decoder_error(&d), "frame: routing info too long");
    wa_frame_decoder_free(&d);
    /* Wrong magic after the routing info. */
    wire[4 + 3 + sizeof routing + 2] = 5;
    wa_frame_decoder_init(&d, true, 0, 0);
    assert_int_equal(feed(&d, &s, wire, n), -EPROTO);
    wa_frame_decoder_free(&d);
    /* Empty routing info is allowed. */
    static const uint8_t empty_routing[] = {'E', 'D', 0, 1, 0, 0, 0, 'W', 'A', 6, 3, 0, 0, 0};
    wa_frame_decoder_init(&d, true, 0, 0);
    assert_int_equal(feed(&d, &s, empty_routing, sizeof empty_routing), 0);
    assert_int_equal(s.frames, 1);
    wa_frame_decoder_free(&d);
    buf_free(&s.out);
}

static void test_bad_intro(void **state)
{
    static const uint8_t bad[][4] = {
        {'W', 'A', 5, 3}, {'W', 'A', 6, 2}, {'E', 'D', 0, 2}, {0, 0, 0, 5}};
    for (size_t i = 0; i < 4; i++) {
        struct wa_frame_decoder d;
        struct sink s = {0};
        buf_init(&s.out, 0);
        wa_frame_decoder_init(&d, true, 0, 0);
        assert_int_equal(feed(&d, &s, bad[i], 3), 0); /* not decidable yet */
        assert_int_equal(feed(&d, &s, bad[i] + 3, 1), -EPROTO);
        assert_string_equal(wa_frame_decoder_error(&d), "frame: bad intro header");
        buf_free(&s.out);
        wa_frame_decoder_free(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoder),      cmocka_unit_test(test_split_every_boundary),
        cmocka_unit_test(test_byte_by_byte), cmocka_unit_test(test_client_side_decoder),
        cmocka_unit_test(test_oversize),     cmocka_unit_test(test_ed_prefix),
        cmocka_unit_test(test_bad_intro),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
