/* SPDX-License-Identifier: MIT */
/* test_access.c -- the access policy (gw/access): the pure decision, pairing codes, and the
 * store's approved senders and pending codes (store/msgstore). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw/access.h"
#include "store/db.h"
#include "store/msgstore.h"

static struct wg_access pol(enum wg_dm_policy dm, enum wg_group_policy g, bool mention)
{
    struct wg_access p = {.dm_policy = dm, .group_policy = g, .require_mention = mention};
    return p;
}

static enum gw_access_verdict dec(const struct wg_access *p, struct gw_access_in in,
                                  const char *want_why)
{
    const char *why = NULL;
    enum gw_access_verdict v = gw_access_decide(p, &in, &why);
    assert_non_null(why);
    assert_string_equal(why, want_why);
    return v;
}

static void test_dm(void **state)
{
    (void)state;
    struct wg_access p = pol(WG_DM_PAIRING, WG_GROUP_ALLOWLIST, true);
    assert_int_equal(dec(&p, (struct gw_access_in){0}, "not_approved"), GW_ACCESS_PAIR);
    assert_int_equal(dec(&p, (struct gw_access_in){.approved = true}, "approved"), GW_ACCESS_ALLOW);
    assert_int_equal(dec(&p, (struct gw_access_in){.listed = true}, "allow_from"), GW_ACCESS_ALLOW);
    assert_int_equal(dec(&p, (struct gw_access_in){.owner = true}, "owner"), GW_ACCESS_ALLOW);
    p = pol(WG_DM_ALLOWLIST, WG_GROUP_ALLOWLIST, true);
    assert_int_equal(dec(&p, (struct gw_access_in){0}, "not_in_allowlist"), GW_ACCESS_DENY);
    /* an approval only counts under pairing */
    assert_int_equal(dec(&p, (struct gw_access_in){.approved = true}, "not_in_allowlist"),
                     GW_ACCESS_DENY);
    assert_int_equal(dec(&p, (struct gw_access_in){.listed = true}, "allow_from"), GW_ACCESS_ALLOW);
    p = pol(WG_DM_OPEN, WG_GROUP_ALLOWLIST, true);
    assert_int_equal(dec(&p, (struct gw_access_in){0}, "dm_open"), GW_ACCESS_ALLOW);
}

static void test_groups(void **state)
{
    (void)state;
    struct wg_access p = pol(WG_DM_OPEN, WG_GROUP_ALLOWLIST, true);
    struct gw_access_in g = {.group = true};
    assert_int_equal(dec(&p, g, "group_not_allowed"), GW_ACCESS_DENY);
    g.mentioned = true; /* a mention does not open a group that is not allowed */
    assert_int_equal(dec(&p, g, "group_not_allowed"), GW_ACCESS_DENY);
    g = (struct gw_access_in){.group = true, .listed = true};
    assert_int_equal(dec(&p, g, "no_mention"), GW_ACCESS_DENY);
    g.mentioned = true;
    assert_int_equal(dec(&p, g, "group_allowed"), GW_ACCESS_ALLOW);
    /* never a pairing code from a group, whatever the DM policy */
    p = pol(WG_DM_PAIRING, WG_GROUP_ALLOWLIST, false);
    g = (struct gw_access_in){.group = true};
    assert_int_equal(dec(&p, g, "group_not_allowed"), GW_ACCESS_DENY);
    g.listed = true;
    assert_int_equal(dec(&p, g, "group_allowed"), GW_ACCESS_ALLOW);
    p = pol(WG_DM_PAIRING, WG_GROUP_OPEN, true);
    g = (struct gw_access_in){.group = true};
    assert_int_equal(dec(&p, g, "no_mention"), GW_ACCESS_DENY);
    g.mentioned = true;
    assert_int_equal(dec(&p, g, "group_open"), GW_ACCESS_ALLOW);
    g = (struct gw_access_in){.group = true, .owner = true};
    assert_int_equal(dec(&p, g, "owner"), GW_ACCESS_ALLOW);
}

/* status@broadcast, broadcast lists, newsletters: never the agent, never a pairing code */
static void test_not_a_chat(void **state)
{
    (void)state;
    struct wg_access p = pol(WG_DM_PAIRING, WG_GROUP_OPEN, false);
    assert_int_equal(dec(&p, (struct gw_access_in){.other = true}, "not_a_chat"), GW_ACCESS_DENY);
    p = pol(WG_DM_OPEN, WG_GROUP_OPEN, false);
    assert_int_equal(dec(&p, (struct gw_access_in){.other = true, .listed = true}, "not_a_chat"),
                     GW_ACCESS_DENY);
}

static void test_code_norm(void **state)
{
    (void)state;
    char c[GW_PAIRING_CODE_LEN + 1];
    assert_int_equal(gw_pairing_code_norm("abcd-2345", c), 0);
    assert_string_equal(c, "ABCD2345");
    assert_int_equal(gw_pairing_code_norm(" ABCD 2345 ", c), 0);
    assert_int_equal(gw_pairing_code_norm("ABCD234", c), -EINVAL);   /* short */
    assert_int_equal(gw_pairing_code_norm("ABCD23456", c), -EINVAL); /* long */
    assert_int_equal(gw_pairing_code_norm("ABCD0345", c), -EINVAL);  /* 0 is not in it */
    assert_int_equal(gw_pairing_code_norm("ABCD'345", c), -EINVAL);
    assert_int_equal(gw_pairing_code_norm("", c), -EINVAL);
}

static void test_store(void **state)
{
    (void)state;
    char dir[] = "/tmp/test-access-XXXXXX", path[64], err[256], out[300];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/wa.db", dir);
    struct st_db *db = NULL;
    assert_int_equal(st_db_open(path, &db, err, sizeof err), 0);
    const char *alice = "15550002@s.whatsapp.net";
    assert_int_equal(st_access_is_approved(db, alice), 0);
    assert_int_equal(st_pairing_get(db, alice, out, sizeof out), 0);
    assert_int_equal(st_pairing_put(db, alice, "ABCD2345", 100), 0);
    assert_int_equal(st_pairing_put(db, alice, "WXYZ2345", 101), ST_DUPLICATE); /* one each */
    assert_int_equal(st_pairing_put(db, "15550003@s.whatsapp.net", "ABCD2345", 101),
                     ST_DUPLICATE); /* a code is one sender's */
    assert_int_equal(st_pairing_get(db, alice, out, sizeof out), 1);
    assert_string_equal(out, "ABCD2345");
    assert_int_equal(st_pairing_approve(db, "WXYZ2345", out, sizeof out), 0);
    assert_int_equal(st_pairing_approve(db, "ABCD2345", out, sizeof out), 1);
    assert_string_equal(out, alice);
    assert_int_equal(st_access_is_approved(db, alice), 1);
    assert_int_equal(st_pairing_get(db, alice, out, sizeof out), 0); /* the code is gone */
    assert_int_equal(st_pairing_approve(db, "ABCD2345", out, sizeof out), 0);
    assert_int_equal(st_access_approve(db, alice), ST_DUPLICATE);
    assert_int_equal(st_access_is_approved(db, ""), -EINVAL);
    st_db_close(db);
    /* it persists */
    assert_int_equal(st_db_open(path, &db, err, sizeof err), 0);
    assert_int_equal(st_access_is_approved(db, alice), 1);
    st_db_close(db);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dm),         cmocka_unit_test(test_groups),
        cmocka_unit_test(test_not_a_chat), cmocka_unit_test(test_code_norm),
        cmocka_unit_test(test_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
