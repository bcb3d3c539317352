/* SPDX-License-Identifier: MIT */
/* test_metrics.c -- the Prometheus registry: series of a thousand accounts are all kept,
 * counted and rendered; the per-family cap answers -ENOSPC. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/metrics.h"
#include "core/buf.h"

static void test_thousand_accounts(void **state)
{
    struct api_metrics *m = NULL;
    assert_int_equal(api_metrics_new(&m), 0);
    assert_int_equal(api_metrics_declare(m, "wagate_channel_messages_in_total", "messages in",
                                         API_METRIC_COUNTER),
                     0);
    char l[96];
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 1024; i++) {
            snprintf(l, sizeof l, "channel=\"whatsapp\",account=\"a%d\"", i);
            assert_int_equal(api_metrics_add(m, "wagate_channel_messages_in_total", l, 1), 0);
        }
    /* before: accounts past the 256th series were dropped (-ENOSPC), so /metrics under-counted */
    snprintf(l, sizeof l, "channel=\"whatsapp\",account=\"a%d\"", 1000);
    assert_true(api_metrics_get(m, "wagate_channel_messages_in_total", l) == 2.0);
    struct buf b;
    buf_init(&b, 1u << 22);
    assert_int_equal(api_metrics_render(m, &b), 0);
    size_t lines = 0;
    for (size_t i = 0; i < b.len; i++)
        lines += b.data[i] == '\n';
    char *hit = memmem(b.data, b.len, "account=\"a1023\"} 2", 18);
    assert_non_null(hit);
    assert_true(lines >= 1024 + 2); /* HELP, TYPE and every series */
    buf_free(&b);
    for (int i = 1024; i < 16384; i++) {
        snprintf(l, sizeof l, "account=\"b%d\"", i);
        assert_int_equal(api_metrics_add(m, "wagate_channel_messages_in_total", l, 1), 0);
    }
    assert_int_equal(api_metrics_add(m, "wagate_channel_messages_in_total", "account=\"x\"", 1),
                     -ENOSPC);
    api_metrics_free(m);
}

static int collected;
static void collect(struct api_metrics *m, void *ud)
{
    collected++;
    api_metrics_ref_set(m, *(struct api_metric_ref *)ud, 7);
}

static bool has(const struct buf *b, const char *s)
{
    return memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static void test_histogram_refs_collectors(void **state)
{
    struct api_metrics *m = NULL;
    assert_int_equal(api_metrics_new(&m), 0);
    const double bad[] = {1, 1};
    assert_int_equal(api_metrics_declare_histogram(m, "h_ms", "h", bad, 2), -EINVAL);
    const double bounds[] = {1, 5, 25};
    assert_int_equal(api_metrics_declare_histogram(m, "h_ms", "latency", bounds, 3), 0);
    assert_int_equal(api_metrics_declare_histogram(m, "h_ms", "latency", bounds, 3), 0);
    assert_int_equal(api_metrics_declare(m, "h_ms", "x", API_METRIC_GAUGE), -EEXIST);
    assert_int_equal(api_metrics_declare(m, "g", "a gauge", API_METRIC_GAUGE), 0);
    struct api_metric_ref h, g, none;
    assert_int_equal(api_metrics_ref(m, "h_ms", "account=\"a\"", &h), 0);
    assert_int_equal(api_metrics_ref(m, "g", "", &g), 0);
    assert_int_equal(api_metrics_ref(m, "nope", "", &none), -ENOENT);
    api_metrics_ref_set(m, none, 1);        /* a no-op */
    const uint64_t counts[] = {2, 0, 3, 1}; /* per bucket; the last one is +Inf */
    api_metrics_hist_set(m, h, counts, 4, 123.5);
    api_metrics_hist_set(m, g, counts, 4, 1); /* not a histogram: ignored */
    assert_int_equal(api_metrics_collector_add(m, collect, &g), 0);
    struct buf b;
    buf_init(&b, 1u << 16);
    api_metrics_collect(m);
    assert_int_equal(collected, 1);
    assert_int_equal(api_metrics_render(m, &b), 0);
    assert_true(has(&b, "# TYPE h_ms histogram\n"));
    assert_true(has(&b, "h_ms_bucket{account=\"a\",le=\"1\"} 2\n"));
    assert_true(has(&b, "h_ms_bucket{account=\"a\",le=\"5\"} 2\n"));
    assert_true(has(&b, "h_ms_bucket{account=\"a\",le=\"25\"} 5\n"));
    assert_true(has(&b, "h_ms_bucket{account=\"a\",le=\"+Inf\"} 6\n"));
    assert_true(has(&b, "h_ms_sum{account=\"a\"} 123.5\n"));
    assert_true(has(&b, "h_ms_count{account=\"a\"} 6\n"));
    assert_true(has(&b, "\ng 7\n"));
    api_metrics_collector_remove(m, collect, &g);
    api_metrics_collect(m);
    assert_int_equal(collected, 1);
    buf_free(&b);
    api_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_thousand_accounts),
                                       cmocka_unit_test(test_histogram_refs_collectors)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
