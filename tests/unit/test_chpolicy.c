/* SPDX-License-Identifier: MIT */
/* test_chpolicy.c -- the channel supervisor's outcome policy: each outcome class -> next
 * state, retry or not, delay bounds, escalation, no tight loops, logged_out stops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "gw/chpolicy.h"

static uint64_t lcg_state;
static uint64_t lcg(void *ud)
{
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return lcg_state >> 11;
}
static uint64_t max_rand(void *ud)
{
    return UINT64_MAX; /* some draw near the top; the bounds must hold for any */
}
static uint64_t zero_rand(void *ud)
{
    return 0;
}

static struct wa_outcome outcome(enum wa_outcome_class cls, int code, const char *text)
{
    struct wa_outcome o = {.kind = WA_OUT_STREAM_ERROR, .cls = cls, .code = code};
    snprintf(o.text, sizeof o.text, "%s", text);
    return o;
}

/* The table: the first outcome of each class on a fresh policy. */
static void test_table_first_outcome(void **state)
{
    static const struct row {
        enum wa_outcome_class cls;
        int code;
        enum gw_ch_state next;
        bool retry;
        uint64_t min_ms, max_ms;
        bool quarantine, notify;
    } rows[] = {
        {WA_OC_TRANSIENT, 503, GW_CH_BACKOFF, true, CHPOLICY_MIN_DELAY_MS, 1000, false, false},
        {WA_OC_RESTART, 515, GW_CH_CONNECTING, true, 0, 0, false, false},
        {WA_OC_REPLACED, 440, GW_CH_CONFLICT, true, 22500, 30000, false, false},
        {WA_OC_LOGGED_OUT, 401, GW_CH_LOGGED_OUT, false, 0, 0, true, true},
        {WA_OC_TEMP_BAN, 402, GW_CH_BACKOFF, true, 600000, 600000, false, true},
        {WA_OC_OUTDATED, 405, GW_CH_STOPPED, false, 0, 0, false, true},
        {WA_OC_NEEDS_USER, 408, GW_CH_LOGGED_OUT, false, 0, 0, false, false},
        {WA_OC_FATAL, 0, GW_CH_STOPPED, false, 0, 0, false, true},
    };
    uint64_t (*rands[])(void *) = {lcg, max_rand, zero_rand};
    for (size_t r = 0; r < 3; r++) {
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            struct chpolicy p;
            struct chaction a;
            chpolicy_init(&p, rands[r], NULL);
            struct wa_outcome o = outcome(rows[i].cls, rows[i].code, "x");
            o.expire = 600;
            chpolicy_on_outcome(&p, &o, 1000, &a);
            if (a.next != rows[i].next || a.retry != rows[i].retry ||
                a.quarantine != rows[i].quarantine || a.notify != rows[i].notify)
                fail_msg("class %s: got %s retry %d q %d n %d", wa_outcome_class_name(rows[i].cls),
                         gw_ch_state_name(a.next), a.retry, a.quarantine, a.notify);
            if (a.retry && (a.delay_ms < rows[i].min_ms || a.delay_ms > rows[i].max_ms))
                fail_msg("class %s: delay %llu not in [%llu, %llu]",
                         wa_outcome_class_name(rows[i].cls), (unsigned long long)a.delay_ms,
                         (unsigned long long)rows[i].min_ms, (unsigned long long)rows[i].max_ms);
            assert_true(a.reason[0] != '\0');
        }
    }
}

/* Transient failures: forever, full jitter within [100 ms, min(60 s, 2^n s)], never zero. */
static void test_transient_forever_bounded(void **state)
{
    struct chpolicy p;
    chpolicy_init(&p, lcg, NULL);
    struct wa_outcome o = outcome(WA_OC_TRANSIENT, 408, "dns: NXDOMAIN");
    uint64_t now = 0, maxd = 0;
    for (int i = 0; i < 10000; i++) {
        struct chaction a;
        chpolicy_on_outcome(&p, &o, now, &a);
        assert_int_equal(a.next, GW_CH_BACKOFF);
        assert_true(a.retry);
        uint64_t window = i < 6 ? 1000ull << i : 60000;
        assert_true(a.delay_ms >= CHPOLICY_MIN_DELAY_MS && a.delay_ms <= window);
        if (a.delay_ms > maxd) maxd = a.delay_ms;
        now += a.delay_ms;
    }
    assert_true(maxd > 30000); /* it did reach the upper windows */
    /* 10000 attempts take hours, not a tight loop: at least 100 ms each */
    assert_true(now >= 10000ull * CHPOLICY_MIN_DELAY_MS);
}

/* After 60 s connected, the next failure starts again from the 1 s window. */
static void test_transient_reset_after_stable(void **state)
{
    struct chpolicy p;
    chpolicy_init(&p, max_rand, NULL);
    struct wa_outcome o = outcome(WA_OC_TRANSIENT, 503, "stream:error 503");
    struct chaction a;
    for (int i = 0; i < 8; i++)
        chpolicy_on_outcome(&p, &o, 0, &a);
    chpolicy_connected(&p, 100000);
    chpolicy_on_outcome(&p, &o, 100000 + 5000, &a); /* up only 5 s: the quick retry, */
    assert_true(a.delay_ms < CHPOLICY_QUICK_MS);
    chpolicy_on_outcome(&p, &o, 100000 + 6000, &a); /* then it keeps escalating */
    assert_true(a.delay_ms > 1000);
    chpolicy_connected(&p, 200000);
    chpolicy_on_outcome(&p, &o, 200000 + 60000, &a); /* stable: back to the first window */
    assert_true(a.delay_ms <= 1000);
    chpolicy_on_outcome(&p, &o, 200000 + 61000, &a);
    assert_true(a.delay_ms <= 2000);
}

/* A session that reached connected and dropped is retried within 1 s, whatever the backoff
 * had reached (fault-matrix #6); only a transient end gets it, once per connected session. */
static void test_quick_retry_after_drop(void **state)
{
    uint64_t (*rands[])(void *) = {lcg, max_rand, zero_rand};
    for (size_t r = 0; r < 3; r++) {
        struct chpolicy p;
        struct chaction a;
        chpolicy_init(&p, rands[r], NULL);
        struct wa_outcome o = outcome(WA_OC_TRANSIENT, 428, "connection closed");
        for (int i = 0; i < 12; i++) /* deep into the backoff: 60 s windows */
            chpolicy_on_outcome(&p, &o, 1000 * (uint64_t)i, &a);
        chpolicy_connected(&p, 20000);
        chpolicy_on_outcome(&p, &o, 31000, &a); /* connected 11 s, then dropped */
        assert_true(a.retry);
        assert_true(a.delay_ms >= CHPOLICY_MIN_DELAY_MS && a.delay_ms < CHPOLICY_QUICK_MS);
        assert_int_equal(a.next, GW_CH_BACKOFF);
        chpolicy_on_outcome(&p, &o, 32000, &a); /* the quick attempt failed: backoff again */
        if (rands[r] == max_rand) assert_true(a.delay_ms > 10000);
        /* a conflict after connected is not hurried */
        chpolicy_connected(&p, 40000);
        struct wa_outcome c = outcome(WA_OC_REPLACED, 440, "stream:error conflict");
        chpolicy_on_outcome(&p, &c, 41000, &a);
        assert_true(a.delay_ms >= 22500);
        /* nor a ban, which must run its course */
        chpolicy_connected(&p, 50000);
        struct wa_outcome b = outcome(WA_OC_TEMP_BAN, 402, "failure 402");
        b.expire = 60;
        chpolicy_on_outcome(&p, &b, 51000, &a);
        assert_int_equal(a.delay_ms, 60000);
        assert_true(a.hold);
    }
}

/* 515: at once, but a server repeating it cannot make a tight loop. */
static void test_restart_burst_then_backoff(void **state)
{
    struct chpolicy p;
    chpolicy_init(&p, lcg, NULL);
    struct wa_outcome o = outcome(WA_OC_RESTART, 515, "stream:error 515");
    struct chaction a;
    for (unsigned i = 0; i < CHPOLICY_RESTART_BURST; i++) {
        chpolicy_on_outcome(&p, &o, 0, &a);
        assert_int_equal(a.next, GW_CH_CONNECTING);
        assert_int_equal(a.delay_ms, 0);
        assert_false(a.notify);
    }
    int notifies = 0;
    for (int i = 0; i < 50; i++) {
        chpolicy_on_outcome(&p, &o, 0, &a);
        assert_int_equal(a.next, GW_CH_BACKOFF);
        assert_true(a.delay_ms >= CHPOLICY_MIN_DELAY_MS);
        notifies += a.notify;
    }
    assert_int_equal(notifies, 1); /* the loop is told once, when it starts backing off */
    chpolicy_connected(&p, 1);
    chpolicy_on_outcome(&p, &o, 2, &a); /* a fresh burst after a real connection */
    assert_int_equal(a.delay_ms, 0);
}

/* 440: escalating 30 s -> 5 min; notify at the 3rd within 10 min; at most 7 attempts per
 * 10 minutes even with the shortest draws (fault-matrix #19: <= 6). */
static void test_conflict_escalates_and_notifies_once(void **state)
{
    struct chpolicy p;
    chpolicy_init(&p, zero_rand, NULL);
    struct wa_outcome o = outcome(WA_OC_REPLACED, 440, "conflict replaced");
    uint64_t now = 1, prev = 0;
    int notifies = 0, attempts = 0;
    while (now < 10 * 60 * 1000) {
        struct chaction a;
        chpolicy_on_outcome(&p, &o, now, &a);
        attempts++;
        assert_int_equal(a.next, GW_CH_CONFLICT);
        assert_true(a.delay_ms >= 22500 && a.delay_ms <= 300000);
        assert_true(a.delay_ms >= prev || a.delay_ms == 225000); /* escalates up to the cap */
        prev = a.delay_ms;
        notifies += a.notify;
        now += a.delay_ms;
    }
    assert_int_equal(notifies, 1);
    assert_true(attempts <= 6);
    struct chaction a;
    chpolicy_init(&p, max_rand, NULL);
    for (int i = 0; i < 20; i++) {
        chpolicy_on_outcome(&p, &o, 1, &a);
        assert_true(a.delay_ms <= 300000);
    }
}

/* logged_out stops retrying whatever came before, and so do outdated and fatal. */
static void test_terminal_outcomes_stop(void **state)
{
    enum wa_outcome_class cls[] = {WA_OC_LOGGED_OUT, WA_OC_OUTDATED, WA_OC_FATAL, WA_OC_NEEDS_USER};
    for (size_t i = 0; i < 4; i++) {
        struct chpolicy p;
        struct chaction a;
        chpolicy_init(&p, lcg, NULL);
        struct wa_outcome t = outcome(WA_OC_TRANSIENT, 503, "x");
        for (int k = 0; k < 5; k++)
            chpolicy_on_outcome(&p, &t, 0, &a);
        struct wa_outcome o = outcome(cls[i], 401, "device_removed");
        chpolicy_on_outcome(&p, &o, 0, &a);
        assert_false(a.retry);
        assert_true(a.next == GW_CH_LOGGED_OUT || a.next == GW_CH_STOPPED);
    }
    struct chpolicy p;
    struct chaction a;
    chpolicy_init(&p, lcg, NULL);
    struct wa_outcome o = outcome(WA_OC_OUTDATED, 405, "failure 405");
    chpolicy_on_outcome(&p, &o, 0, &a);
    assert_non_null(strstr(a.reason, "update required"));
}

/* 402: no attempt before the ban expires; absent expiry waits an hour. */
static void test_temp_ban_waits_for_expiry(void **state)
{
    struct chpolicy p;
    struct chaction a;
    chpolicy_init(&p, lcg, NULL);
    struct wa_outcome o = outcome(WA_OC_TEMP_BAN, 402, "failure 402");
    o.expire = 3600;
    o.ban_code = 101;
    chpolicy_on_outcome(&p, &o, 0, &a);
    assert_int_equal(a.delay_ms, 3600000);
    assert_non_null(strstr(a.reason, "101"));
    o.expire = 0;
    chpolicy_on_outcome(&p, &o, 0, &a);
    assert_int_equal(a.delay_ms, CHPOLICY_BAN_DEFAULT_MS);
    o.expire = 1L << 40;
    chpolicy_on_outcome(&p, &o, 0, &a);
    assert_int_equal(a.delay_ms, CHPOLICY_BAN_MAX_MS);
}

/* An operator reset forgets the escalation. */
static void test_reset(void **state)
{
    struct chpolicy p;
    struct chaction a;
    chpolicy_init(&p, max_rand, NULL);
    struct wa_outcome o = outcome(WA_OC_TRANSIENT, 503, "x");
    for (int i = 0; i < 10; i++)
        chpolicy_on_outcome(&p, &o, 0, &a);
    chpolicy_reset(&p);
    chpolicy_on_outcome(&p, &o, 0, &a);
    assert_true(a.delay_ms <= 1000);
}

static void test_state_names(void **state)
{
    const char *want[] = {"stopped", "starting", "connecting", "pairing",   "connected",
                          "backoff", "conflict", "logged_out", "repairing", "degraded"};
    for (int s = 0; s < GW_CH_STATE_COUNT; s++)
        assert_string_equal(gw_ch_state_name((enum gw_ch_state)s), want[s]);
    assert_string_equal(gw_ch_state_name(GW_CH_STATE_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_first_outcome),
        cmocka_unit_test(test_transient_forever_bounded),
        cmocka_unit_test(test_transient_reset_after_stable),
        cmocka_unit_test(test_quick_retry_after_drop),
        cmocka_unit_test(test_restart_burst_then_backoff),
        cmocka_unit_test(test_conflict_escalates_and_notifies_once),
        cmocka_unit_test(test_terminal_outcomes_stop),
        cmocka_unit_test(test_temp_ban_waits_for_expiry),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_state_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
