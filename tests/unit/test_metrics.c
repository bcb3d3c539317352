/* SPDX-License-Identifier: MIT */
/* test_metrics.c -- the Prometheus registry: series of a thousand accounts are all kept,
 * counted and rendered; the per-family cap answers -ENOSPC. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_thousand_accounts)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
