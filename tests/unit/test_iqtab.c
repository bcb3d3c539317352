/* SPDX-License-Identifier: MIT */
/* test_iqtab.c -- the pending-iq table (wa/iqtab.h): caps, duplicate ids, completion by a
 * result and by an error node, timeouts in deadline order, fail-all, callbacks that change
 * the table they were called from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wa/iqtab.h"
#include "wa/nodetext.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct rec {
    struct wa_iqtab *t;
    char log[256]; /* "<ud name>:<status>;" per call */
    const struct wa_node *last_resp;
    int calls;
    const char *add_id; /* a callback adds this id (deadline 1000) once */
};

struct who {
    struct rec *r;
    const char *name;
};

static void cb(void *ud, int status, const struct wa_node *resp)
{
    struct who *w = ud;
    struct rec *r = w->r;
    size_t l = strlen(r->log);
    snprintf(r->log + l, sizeof(r->log) - l, "%s:%d;", w->name, status);
    r->last_resp = resp;
    r->calls++;
    if (r->add_id) {
        const char *id = r->add_id;
        r->add_id = NULL;
        static struct who added = {NULL, "added"};
        added.r = r;
        assert_int_equal(wa_iqtab_add(r->t, id, 1000, cb, &added), 0);
    }
}

static struct wa_node *parse(const char *text)
{
    struct wa_node *n = NULL;
    char err[160];
    if (wa_nodetext_parse(text, strlen(text), &n, err, sizeof(err)) < 0)
        fail_msg("%s: %s", text, err);
    return n;
}

static void test_add_caps_and_duplicates(void **state)
{
    (void)state;
    struct wa_iqtab t;
    struct rec r = {.t = &t};
    struct who a = {&r, "a"};
    wa_iqtab_init(&t, 3);
    assert_int_equal(wa_iqtab_next_deadline(&t), 0);
    assert_int_equal(wa_iqtab_add(&t, "1", 10, cb, &a), 0);
    assert_int_equal(wa_iqtab_add(&t, "1", 20, cb, &a), -EEXIST);
    assert_int_equal(wa_iqtab_add(&t, "2", 20, cb, &a), 0);
    assert_int_equal(wa_iqtab_add(&t, "3", 30, cb, &a), 0);
    assert_int_equal(wa_iqtab_add(&t, "4", 40, cb, &a), -ENOSPC);
    assert_int_equal(wa_iqtab_add(&t, "3", 40, cb, &a), -EEXIST);
    assert_int_equal(wa_iqtab_count(&t), 3);
    /* bad arguments */
    char long_id[WA_IQ_ID_MAX + 2];
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = 0;
    assert_int_equal(wa_iqtab_remove(&t, "3"), true);
    assert_int_equal(wa_iqtab_add(&t, long_id, 1, cb, &a), -EINVAL);
    long_id[WA_IQ_ID_MAX] = 0; /* exactly the maximum fits */
    assert_int_equal(wa_iqtab_add(&t, long_id, 1, cb, &a), 0);
    assert_true(wa_iqtab_has(&t, long_id));
    assert_true(wa_iqtab_remove(&t, long_id));
    assert_false(wa_iqtab_remove(&t, long_id));
    assert_int_equal(wa_iqtab_add(&t, "", 1, cb, &a), -EINVAL);
    assert_int_equal(wa_iqtab_add(&t, NULL, 1, cb, &a), -EINVAL);
    assert_int_equal(wa_iqtab_add(&t, "5", 1, NULL, &a), -EINVAL);
    assert_false(wa_iqtab_has(&t, "3"));
    assert_true(wa_iqtab_has(&t, "2"));
    assert_int_equal(wa_iqtab_next_deadline(&t), 10);
    assert_int_equal(r.calls, 0); /* removal runs nothing */
    wa_iqtab_free(&t);
    assert_int_equal(wa_iqtab_count(&t), 0);

    wa_iqtab_init(&t, 0); /* nothing fits */
    assert_int_equal(wa_iqtab_add(&t, "1", 10, cb, &a), -ENOSPC);
    wa_iqtab_free(&t);
}

static void test_complete_result_and_error(void **state)
{
    (void)state;
    struct wa_iqtab t;
    struct rec r = {.t = &t};
    struct who a = {&r, "a"}, b = {&r, "b"};
    wa_iqtab_init(&t, 8);
    assert_int_equal(wa_iqtab_add(&t, "r1", 10, cb, &a), 0);
    assert_int_equal(wa_iqtab_add(&t, "e1", 10, cb, &b), 0);
    struct wa_node *res = parse("<iq id='r1' type='result'/>");
    struct wa_node *err = parse("<iq id='e1' type='error'><error code='404'/></iq>");
    struct wa_node *get = parse("<iq id='r1' type='get'/>");
    struct wa_node *unknown = parse("<iq id='zz' type='result'/>");
    struct wa_node *noid = parse("<iq type='result'/>");
    assert_false(wa_iqtab_complete(&t, get)); /* not a response */
    assert_false(wa_iqtab_complete(&t, unknown));
    assert_false(wa_iqtab_complete(&t, noid));
    assert_int_equal(r.calls, 0);
    assert_true(wa_iqtab_complete(&t, res));
    assert_ptr_equal(r.last_resp, res);
    assert_true(wa_iqtab_complete(&t, err));
    assert_ptr_equal(r.last_resp, err);
    assert_false(wa_iqtab_complete(&t, res)); /* once */
    char want[64];
    snprintf(want, sizeof(want), "a:0;b:%d;", -EREMOTEIO);
    assert_string_equal(r.log, want);
    assert_int_equal(wa_iqtab_count(&t), 0);
    wa_node_free(res);
    wa_node_free(err);
    wa_node_free(get);
    wa_node_free(unknown);
    wa_node_free(noid);
    wa_iqtab_free(&t);
}

static void test_timeouts_in_deadline_order(void **state)
{
    (void)state;
    struct wa_iqtab t;
    struct rec r = {.t = &t};
    struct who a = {&r, "a"}, b = {&r, "b"}, c = {&r, "c"}, d = {&r, "d"}, e = {&r, "e"};
    wa_iqtab_init(&t, 8);
    assert_int_equal(wa_iqtab_add(&t, "a", 300, cb, &a), 0);
    assert_int_equal(wa_iqtab_add(&t, "b", 100, cb, &b), 0);
    assert_int_equal(wa_iqtab_add(&t, "c", 200, cb, &c), 0);
    assert_int_equal(wa_iqtab_add(&t, "d", 100, cb, &d), 0); /* tie with b: added later */
    assert_int_equal(wa_iqtab_add(&t, "e", 500, cb, &e), 0);
    assert_true(wa_iqtab_remove(&t, "a")); /* removal keeps the others' order */
    assert_int_equal(wa_iqtab_add(&t, "a", 300, cb, &a), 0);
    assert_int_equal(wa_iqtab_next_deadline(&t), 100);
    assert_false(wa_iqtab_expire_one(&t, 99));
    while (wa_iqtab_expire_one(&t, 300))
        ;
    char want[64];
    snprintf(want, sizeof(want), "b:%d;d:%d;c:%d;a:%d;", -ETIMEDOUT, -ETIMEDOUT, -ETIMEDOUT,
             -ETIMEDOUT);
    assert_string_equal(r.log, want);
    assert_int_equal(wa_iqtab_count(&t), 1);
    assert_int_equal(wa_iqtab_next_deadline(&t), 500);
    /* a timeout callback may add to the table it runs from */
    r.add_id = "new";
    r.log[0] = 0;
    assert_true(wa_iqtab_expire_one(&t, 600));
    assert_true(wa_iqtab_has(&t, "new"));
    assert_int_equal(wa_iqtab_next_deadline(&t), 1000);
    assert_false(wa_iqtab_expire_one(&t, 999));
    assert_true(wa_iqtab_expire_one(&t, 1000));
    snprintf(want, sizeof(want), "e:%d;added:%d;", -ETIMEDOUT, -ETIMEDOUT);
    assert_string_equal(r.log, want);
    assert_int_equal(wa_iqtab_next_deadline(&t), 0);
    wa_iqtab_free(&t);
}

static void test_fail_all(void **state)
{
    (void)state;
    struct wa_iqtab t;
    struct rec r = {.t = &t};
    struct who a = {&r, "a"}, b = {&r, "b"}, c = {&r, "c"};
    wa_iqtab_init(&t, 3);
    assert_int_equal(wa_iqtab_add(&t, "1", 30, cb, &a), 0);
    assert_int_equal(wa_iqtab_add(&t, "2", 10, cb, &b), 0);
    assert_int_equal(wa_iqtab_add(&t, "3", 20, cb, &c), 0);
    r.add_id = "4"; /* the first callback adds one: it stays pending, the old ones all fail */
    wa_iqtab_fail_all(&t, -ENOTCONN);
    char want[64];
    snprintf(want, sizeof(want), "a:%d;b:%d;c:%d;", -ENOTCONN, -ENOTCONN, -ENOTCONN);
    assert_string_equal(r.log, want);
    assert_int_equal(wa_iqtab_count(&t), 1);
    assert_true(wa_iqtab_has(&t, "4"));
    r.log[0] = 0;
    wa_iqtab_fail_all(&t, -ECANCELED);
    snprintf(want, sizeof(want), "added:%d;", -ECANCELED);
    assert_string_equal(r.log, want);
    assert_int_equal(wa_iqtab_count(&t), 0);
    wa_iqtab_fail_all(&t, -ECANCELED); /* empty: nothing runs */
    assert_int_equal(r.calls, 4);
    assert_int_equal(wa_iqtab_add(&t, "5", 1, cb, &a), 0); /* usable afterwards */
    wa_iqtab_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_caps_and_duplicates),
        cmocka_unit_test(test_complete_result_and_error),
        cmocka_unit_test(test_timeouts_in_deadline_order),
        cmocka_unit_test(test_fail_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
