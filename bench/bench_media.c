/* SPDX-License-Identifier: MIT */
/* bench_media.c -- media crypto throughput (wa/media.h) on one core: encryption (AES-256-CBC +
 * HMAC-SHA256 + both SHA-256s) and verified decryption of an in-memory file fed in 64 KiB
 * pieces, the median of 5 rounds.
 *
 * usage: bench_media [MiB]   (default 64). Prints figures only; asserts nothing (the
 * decrypted bytes are compared once so the figure is of a correct run).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wa/media.h"

#define ROUNDS 5
#define PIECE  65536

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 64;
    size_t n = (mib ? mib : 64) << 20;
    uint8_t *plain = malloc(n), *enc = malloc(n + 64), *back = malloc(n + 64);
    if (!plain || !enc || !back) return 1;
    for (size_t i = 0; i < n; i++)
        plain[i] = (uint8_t)(i * 131 + (i >> 12));
    uint8_t key[32];
    memset(key, 0x42, sizeof(key));
    double te[ROUNDS], td[ROUNDS];
    size_t en = 0, bn = 0;
    for (int r = 0; r < ROUNDS; r++) {
        struct wa_media_enc *e = NULL;
        struct wa_media_dec *d = NULL;
        struct wa_media_result res, dres;
        size_t got = 0;
        double t0 = now();
        if (wa_media_enc_new(key, WA_MEDIA_DOCUMENT, 0, &e) != 0) return 1;
        en = 0;
        for (size_t off = 0; off < n; off += PIECE) {
            size_t k = n - off < PIECE ? n - off : PIECE;
            if (wa_media_enc_update(e, plain + off, k, enc + en, k + WA_MEDIA_BLOCK, &got) != 0)
                return 1;
            en += got;
        }
        if (wa_media_enc_final(e, enc + en, WA_MEDIA_FINAL_MAX, &got, &res) != 0) return 1;
        en += got;
        double t1 = now();
        if (wa_media_dec_new(key, WA_MEDIA_DOCUMENT, res.file_sha256, res.file_enc_sha256, 0, &d) !=
            0)
            return 1;
        bn = 0;
        for (size_t off = 0; off < en; off += PIECE) {
            size_t k = en - off < PIECE ? en - off : PIECE;
            if (wa_media_dec_update(d, enc + off, k, back + bn, k + WA_MEDIA_OUT_SLACK, &got) != 0)
                return 1;
            bn += got;
        }
        if (wa_media_dec_final(d, back + bn, WA_MEDIA_FINAL_MAX, &got, &dres) != 0) return 1;
        bn += got;
        double t2 = now();
        te[r] = t1 - t0;
        td[r] = t2 - t1;
        wa_media_enc_free(e);
        wa_media_dec_free(d);
    }
    if (bn != n || memcmp(back, plain, n) != 0) {
        fprintf(stderr, "bench_media: round trip broken\n");
        return 1;
    }
    qsort(te, ROUNDS, sizeof(double), cmp);
    qsort(td, ROUNDS, sizeof(double), cmp);
    printf("bench_media: %zu MiB document, %d KiB pieces, median of %d rounds\n", n >> 20,
           PIECE >> 10, ROUNDS);
    printf("encrypt: %.0f MB/s\n", (double)n / te[ROUNDS / 2] / 1e6);
    printf("decrypt+verify: %.0f MB/s\n", (double)n / td[ROUNDS / 2] / 1e6);
    free(plain);
    free(enc);
    free(back);
    return 0;
}
