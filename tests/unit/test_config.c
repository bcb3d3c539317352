/* SPDX-License-Identifier: MIT */
/* test_config.c -- config parsing (core/config.h, gw/config.h): defaults, every key, and the
 * errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/fileio.h"
#include "gw/config.h"

static int parse(struct wg_config *c, const char *json, char *err)
{
    cfg_defaults(c);
    return cfg_parse(c, json, strlen(json), err, CFG_ERR_MAX);
}

static void test_defaults(void **state)
{
    struct wg_config c;
    cfg_defaults(&c);
    assert_string_equal(c.listen, "127.0.0.1:18789");
    assert_string_equal(c.wa_endpoint, "wss://web.whatsapp.com/ws/chat");
    assert_int_equal(c.wa_noise_root[0], 0x14);
    assert_int_equal(c.wa_noise_root[31], 0x6b);
    assert_int_equal(c.log_level, WLOG_INFO);
    assert_int_equal(c.wa_dns_count, 0);
    assert_string_equal(c.token, "");
    assert_int_equal(c.max_clients, 64);
    assert_false(c.log_json);
    assert_string_equal(c.log_file, "");
}

/* core/config.h alone: the gateway.* and log.* sections, their defaults, no WhatsApp key. */
struct core_only {
    CFG_CORE_FIELDS;
};

static void test_core_sections_alone(void **state)
{
    static const struct cfg_key keys[] = {CFG_CORE_KEYS(struct core_only)};
    const struct cfg_schema s = {keys, sizeof keys / sizeof keys[0]};
    struct core_only c;
    char err[CFG_ERR_MAX] = "";
    assert_int_equal(cfg_schema_defaults(&s, &c, sizeof c), 0);
    assert_string_equal(c.listen, CFG_DEFAULT_LISTEN);
    assert_int_equal(c.max_clients, 64);
    assert_int_equal(c.log_level, WLOG_INFO);
    const char *j = "{\"log\":{\"json\":true}}";
    assert_int_equal(cfg_schema_parse(&s, &c, j, strlen(j), err, sizeof err), 0);
    assert_true(c.log_json);
    j = "{\"log\":{},\"whatsapp\":{}}";
    assert_int_equal(cfg_schema_parse(&s, &c, j, strlen(j), err, sizeof err), -EINVAL);
    assert_string_equal(err, "whatsapp: unknown key");
    /* a default that does not parse is reported (a schema bug) */
    static const struct cfg_key bad[] = {
        {.path = "log.level",
         .type = CFG_LEVEL,
         CFG_AT(struct core_only, log_level),
         .def = "loud"},
    };
    const struct cfg_schema sb = {bad, 1};
    assert_int_equal(cfg_schema_defaults(&sb, &c, sizeof c), -EINVAL);
}

static void test_full_config(void **state)
{
    struct wg_config c;
    char err[CFG_ERR_MAX] = "";
    const char *j =
        "{\"gateway\":{\"listen\":\"[::1]:9000\",\"token\":\"0123456789abcdef0123\","
        "\"max_clients\":10},\"log\":{\"level\":\"debug\",\"json\":true,"
        "\"file\":\"/tmp/x.log\"},\"whatsapp\":{\"endpoint\":\"ws://127.0.0.1:1/ws/chat\","
        "\"noise_root_pubkey\":\"00112233445566778899aabbccddeeff00112233445566778899"
        "aabbccddeeff\",\"tls_ca_file\":\"/tmp/ca.pem\",\"dns_servers\":[\"127.0.0.1:"
        "5353\",\"::1\",\"10.0.0.1\"]}}";
    assert_int_equal(parse(&c, j, err), 0);
    assert_string_equal(c.listen, "[::1]:9000");
    assert_string_equal(c.token, "0123456789abcdef0123");
    assert_int_equal(c.max_clients, 10);
    assert_int_equal(c.log_level, WLOG_DEBUG);
    assert_true(c.log_json);
    assert_string_equal(c.log_file, "/tmp/x.log");
    assert_string_equal(c.wa_endpoint, "ws://127.0.0.1:1/ws/chat");
    assert_int_equal(c.wa_noise_root[1], 0x11);
    assert_int_equal(c.wa_dns_count, 3);
    assert_string_equal(c.wa_dns_servers[0], "127.0.0.1:5353");
    assert_string_equal(c.wa_dns_servers[1], "::1");
}

struct bad_case {
    const char *json;
    const char *expect; /* substring of the error */
};

static void test_errors_name_the_key(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"gatway\":{}}", "gatway: unknown key"},
        {"{\"gateway\":{\"lisen\":\"127.0.0.1:1\"}}", "gateway.lisen: unknown key"},
        {"{\"gateway\":{\"listen\":18789}}", "gateway.listen: expected \"IP:PORT\""},
        {"{\"gateway\":{\"listen\":\"localhost:80\"}}", "gateway.listen: expected"},
        {"{\"gateway\":{\"listen\":\"127.0.0.1:70000\"}}", "gateway.listen: expected"},
        {"{\"gateway\":{\"listen\":\"127.0.0.1\"}}", "gateway.listen: expected"},
        {"{\"gateway\":{\"token\":\"short\"}}", "gateway.token: expected 16 to 128 visible ASCII"},
        {"{\"gateway\":{\"max_clients\":0}}", "gateway.max_clients: expected an integer from 1"},
        {"{\"gateway\":{\"max_clients\":1.5}}", "gateway.max_clients: expected an integer"},
        {"{\"gateway\":{\"max_clients\":\"8\"}}", "gateway.max_clients: expected an integer"},
        {"{\"gateway\":[]}", "gateway: expected an object"},
        {"{\"log\":{\"level\":\"verbose\"}}", "log.level: expected one of"},
        {"{\"log\":{\"json\":1}}", "log.json: expected true or false, got 1"},
        {"{\"whatsapp\":{\"endpoint\":\"http://x\"}}", "whatsapp.endpoint: expected a ws://"},
        {"{\"whatsapp\":{\"noise_root_pubkey\":\"zz\"}}",
         "whatsapp.noise_root_pubkey: expected 64"},
        {"{\"whatsapp\":{\"dns_servers\":[\"1.2.3.4\",\"dns.google\"]}}",
         "whatsapp.dns_servers: expected an array"},
        {"{\"whatsapp\":{\"dns_servers\":\"1.2.3.4\"}}", "whatsapp.dns_servers: expected"},
        {"[1,2]", "(top level): expected an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct wg_config c;
        char err[CFG_ERR_MAX] = "";
        assert_int_equal(parse(&c, cases[i].json, err), -EINVAL);
        if (!strstr(err, cases[i].expect))
            fail_msg("case %zu: '%s' does not contain '%s'", i, err, cases[i].expect);
    }
}

static void test_syntax_error_position(void **state)
{
    struct wg_config c;
    char err[CFG_ERR_MAX] = "";
    assert_int_equal(parse(&c, "{\n  \"log\": {\n    \"level\": debug\n  }\n}", err), -EINVAL);
    assert_non_null(strstr(err, "invalid JSON at line 3"));
}

static void test_load_file(void **state)
{
    char dir[] = "/tmp/wagate-cfg-XXXXXX", path[256], err[CFG_ERR_MAX + 256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/wagate.json", dir);
    struct wg_config c;
    assert_int_equal(cfg_load(&c, path, err, sizeof err), -ENOENT);
    const char *good = "{\"log\":{\"level\":\"warn\"}}";
    assert_int_equal(file_write_atomic(path, good, strlen(good), 0600), 0);
    assert_int_equal(cfg_load(&c, path, err, sizeof err), 0);
    assert_int_equal(c.log_level, WLOG_WARN);
    const char *badj = "{\"log\":{\"levle\":\"warn\"}}";
    assert_int_equal(file_write_atomic(path, badj, strlen(badj), 0600), 0);
    assert_int_equal(cfg_load(&c, path, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "log.levle: unknown key"));
    /* A failed load leaves defaults, never half a config. */
    assert_int_equal(c.log_level, WLOG_INFO);
    unlink(path);
    rmdir(dir);
}

static void test_default_paths(void **state)
{
    char p[512];
    setenv("XDG_CONFIG_HOME", "/x/cfg", 1);
    setenv("XDG_STATE_HOME", "/x/state", 1);
    assert_int_equal(cfg_default_path(p, sizeof p), 0);
    assert_string_equal(p, "/x/cfg/wagate/wagate.json");
    assert_int_equal(cfg_default_state_dir(p, sizeof p), 0);
    assert_string_equal(p, "/x/state/wagate");
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("XDG_STATE_HOME");
    setenv("HOME", "/home/u", 1);
    assert_int_equal(cfg_default_path(p, sizeof p), 0);
    assert_string_equal(p, "/home/u/.config/wagate/wagate.json");
    assert_int_equal(cfg_default_state_dir(p, sizeof p), 0);
    assert_string_equal(p, "/home/u/.local/state/wagate");
}

static void test_accounts(void **state)
{
    struct wg_config c;
    char err[CFG_ERR_MAX] = "";
    cfg_defaults(&c);
    assert_int_equal(c.wa_account_count, 1); /* "default" exists implicitly */
    assert_string_equal(c.wa_accounts[0], "default");
    assert_int_equal(parse(&c, "{\"whatsapp\":{\"accounts\":{\"work\":{},\"home-2\":{}}}}", err),
                     0);
    assert_int_equal(c.wa_account_count, 2);
    assert_string_equal(c.wa_accounts[0], "work");
    assert_string_equal(c.wa_accounts[1], "home-2");
    assert_int_equal(parse(&c, "{\"whatsapp\":{\"accounts\":{}}}", err), 0);
    assert_int_equal(c.wa_account_count, 0);
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"{\"whatsapp\":{\"accounts\":{\"Work\":{}}}}",
         "whatsapp.accounts.Work: account id must match [a-z0-9_-]{1,32}"},
        {"{\"whatsapp\":{\"accounts\":{\"\":{}}}}",
         "whatsapp.accounts.: account id must match [a-z0-9_-]{1,32}"},
        {"{\"whatsapp\":{\"accounts\":{\"a23456789012345678901234567890123\":{}}}}",
         "whatsapp.accounts.a23456789012345678901234567890123: account id must match "
         "[a-z0-9_-]{1,32}"},
        {"{\"whatsapp\":{\"accounts\":{\"a\":{\"phone\":\"1\"}}}}",
         "whatsapp.accounts.a.phone: unknown key"},
        {"{\"whatsapp\":{\"accounts\":{\"a\":1}}}",
         "whatsapp.accounts.a: expected an object, got 1"},
        {"{\"whatsapp\":{\"accounts\":{\"a\":{},\"a\":{}}}}", "whatsapp.accounts.a: duplicate key"},
        {"{\"whatsapp\":{\"accounts\":[\"a\"]}}",
         "whatsapp.accounts: expected an object of up to 1024 accounts, got [\"a\"]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(&c, bad[i].json, err), -EINVAL);
        assert_string_equal(err, bad[i].msg);
    }
    assert_true(cfg_account_id_valid("a_b-9"));
    assert_false(cfg_account_id_valid("a.b"));
}

/* whatsapp.accounts.<id>: the access policy keys (gw/access.h) */
static void test_access_keys(void **state)
{
    (void)state;
    struct wg_config c;
    char err[256];
    cfg_defaults(&c);
    const struct wg_access *a = cfg_access(&c, "default");
    assert_int_equal(a->dm_policy, WG_DM_PAIRING);
    assert_int_equal(a->group_policy, WG_GROUP_ALLOWLIST);
    assert_true(a->require_mention);
    assert_int_equal(
        parse(&c,
              "{\"whatsapp\":{\"accounts\":{\"work\":{},\"home\":{\"dm_policy\":\"allowlist\","
              "\"allow_from\":[\"+1 555 0002\",\"15550003@s.whatsapp.net\"],\"group_policy\":"
              "\"open\",\"groups\":[\"120363041234567890@g.us\"],\"require_mention\":false}}}}",
              err),
        0);
    a = cfg_access(&c, "work");
    assert_int_equal(a->dm_policy, WG_DM_PAIRING);
    assert_true(a->require_mention);
    a = cfg_access(&c, "home");
    assert_int_equal(a->dm_policy, WG_DM_ALLOWLIST);
    /* with a hint: the index is kept, a stale one (another account there now, or out of
     * range after a reload) is searched again */
    unsigned hint = 99, at_home;
    assert_ptr_equal(cfg_access_hint(&c, "home", &hint), a);
    assert_true(hint < c.wa_account_count);
    assert_string_equal(c.wa_accounts[hint], "home");
    at_home = hint;
    assert_ptr_equal(cfg_access_hint(&c, "home", &hint), a);
    assert_int_equal(hint, at_home);
    hint = at_home == 0 ? 1 : 0; /* the other account's index */
    assert_ptr_equal(cfg_access_hint(&c, "work", &hint), cfg_access(&c, "work"));
    assert_string_equal(c.wa_accounts[hint], "work");
    assert_ptr_equal(cfg_access_hint(&c, "home", &hint), a); /* moved: found again */
    assert_int_equal(hint, at_home);
    assert_int_equal(cfg_access_hint(&c, "nobody", &hint)->dm_policy, WG_DM_PAIRING);
    assert_int_equal(hint, at_home); /* unknown: the defaults, the hint untouched */
    unsigned nj = 0;
    const char(*jv)[CFG_ACCESS_JID_MAX] = cfg_access_jids(&c, a, false, &nj);
    assert_int_equal(a->n_allow, 2);
    assert_int_equal(nj, 2);
    assert_string_equal(jv[0], "15550002@s.whatsapp.net");
    assert_string_equal(jv[1], "15550003@s.whatsapp.net");
    assert_int_equal(a->group_policy, WG_GROUP_OPEN);
    jv = cfg_access_jids(&c, a, true, &nj);
    assert_int_equal(a->n_groups, 1);
    assert_string_equal(jv[0], "120363041234567890@g.us");
    assert_false(a->require_mention);
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"{\"whatsapp\":{\"accounts\":{\"a\":{\"dm_policy\":\"everyone\"}}}}",
         "whatsapp.accounts.a.dm_policy: expected \"pairing\", \"allowlist\" or \"open\", got "
         "\"everyone\""},
        {"{\"whatsapp\":{\"accounts\":{\"a\":{\"group_policy\":\"pairing\"}}}}",
         "whatsapp.accounts.a.group_policy: expected \"allowlist\" or \"open\", got \"pairing\""},
        {"{\"whatsapp\":{\"accounts\":{\"a\":{\"require_mention\":1}}}}",
         "whatsapp.accounts.a.require_mention: expected true or false, got 1"},
        {"{\"whatsapp\":{\"accounts\":{\"a\":{\"allow_from\":[\"0555\"]}}}}",
         "whatsapp.accounts.a.allow_from: expected an array of up to 32 phone numbers "
         "(\"+15550002\"), got \"0555\""},
        {"{\"whatsapp\":{\"accounts\":{\"a\":{\"groups\":[\"+15550002\"]}}}}",
         "whatsapp.accounts.a.groups: expected an array of up to 32 group JIDs (\"...@g.us\"), got "
         "\"+15550002\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(&c, bad[i].json, err), -EINVAL);
        assert_string_equal(err, bad[i].msg);
    }
}

static void test_backoff_keys(void **state)
{
    struct wg_config c;
    char err[CFG_ERR_MAX] = "";
    cfg_defaults(&c);
    assert_int_equal(c.wa_backoff_base_ms, 1000);
    assert_int_equal(c.wa_backoff_cap_ms, 60000);
    assert_int_equal(
        parse(&c, "{\"whatsapp\":{\"backoff\":{\"base_ms\":200,\"cap_ms\":2000}}}", err), 0);
    assert_int_equal(c.wa_backoff_base_ms, 200);
    assert_int_equal(c.wa_backoff_cap_ms, 2000);
    assert_int_equal(parse(&c, "{\"whatsapp\":{\"backoff\":{\"base_ms\":99}}}", err), -EINVAL);
    assert_string_equal(err,
                        "whatsapp.backoff.base_ms: expected an integer from 100 to 60000, got 99");
    assert_int_equal(parse(&c, "{\"whatsapp\":{\"backoff\":{\"cap\":1}}}", err), -EINVAL);
    assert_string_equal(err, "whatsapp.backoff.cap: unknown key");
}

static void test_keepalive_keys(void **state)
{
    struct wg_config c;
    char err[CFG_ERR_MAX] = "";
    cfg_defaults(&c);
    assert_int_equal(c.wa_keepalive_interval_ms, 20000);
    assert_int_equal(c.wa_keepalive_deadline_ms, 10000);
    assert_int_equal(
        parse(&c, "{\"whatsapp\":{\"keepalive\":{\"interval_ms\":1000,\"deadline_ms\":500}}}", err),
        0);
    assert_int_equal(c.wa_keepalive_interval_ms, 1000);
    assert_int_equal(c.wa_keepalive_deadline_ms, 500);
    assert_int_equal(parse(&c, "{\"whatsapp\":{\"keepalive\":{\"deadline_ms\":99}}}", err),
                     -EINVAL);
    assert_string_equal(
        err, "whatsapp.keepalive.deadline_ms: expected an integer from 100 to 120000, got 99");
}

static void test_signal_keys(void **state)
{
    struct wg_config c;
    char err[CFG_ERR_MAX] = "";
    cfg_defaults(&c);
    assert_int_equal(c.sig_spk_rotate_days, 27);
    assert_int_equal(c.sig_spk_keep_days, 90);
    assert_int_equal(c.sig_spk_keep_max, 4);
    assert_false(c.sig_spk_test_seconds);
    assert_int_equal(parse(&c,
                           "{\"signal\":{\"spk_rotate_days\":0,\"spk_keep_days\":365,"
                           "\"spk_keep_max\":1,\"spk_test_seconds\":true}}",
                           err),
                     0);
    assert_int_equal(c.sig_spk_rotate_days, 0);
    assert_int_equal(c.sig_spk_keep_days, 365);
    assert_int_equal(c.sig_spk_keep_max, 1);
    assert_true(c.sig_spk_test_seconds);
    assert_int_equal(parse(&c, "{\"signal\":{\"spk_keep_days\":0}}", err), -EINVAL);
    assert_string_equal(err, "signal.spk_keep_days: expected an integer from 1 to 365, got 0");
    assert_int_equal(parse(&c, "{\"signal\":{\"spk_rotate_days\":366}}", err), -EINVAL);
    assert_int_equal(parse(&c, "{\"signal\":{\"spk_rotate\":1}}", err), -EINVAL);
}

static void test_media_url_allow(void **state)
{
    struct wg_config c;
    char err[CFG_ERR_MAX] = "";
    cfg_defaults(&c);
    assert_int_equal(c.media_url_allow_count, 0); /* URL sources off unless listed */
    assert_int_equal(parse(&c,
                           "{\"media\":{\"url_allow\":[\"https://files.example.com/a/\","
                           "\"http://127.0.0.1:8080/\"]}}",
                           err),
                     0);
    assert_int_equal(c.media_url_allow_count, 2);
    assert_string_equal(c.media_url_allow[1], "http://127.0.0.1:8080/");
    assert_int_equal(parse(&c, "{\"media\":{\"url_allow\":[\"https://files.example.com\"]}}", err),
                     -EINVAL);
    assert_non_null(strstr(err, "media.url_allow"));
    assert_int_equal(parse(&c, "{\"media\":{\"url_allow\":\"https://h/\"}}", err), -EINVAL);
    assert_int_equal(parse(&c, "{\"media\":{\"url_allow\":[1]}}", err), -EINVAL);
}

static void test_hooks(void **state)
{
    struct wg_config c;
    char err[CFG_ERR_MAX] = "";
    cfg_defaults(&c);
    assert_string_equal(c.hook_exec_command, ""); /* no hook unless configured */
    assert_int_equal(c.hook_exec_timeout_ms, 10000);
    assert_int_equal(c.hook_exec_max_running, 4);
    assert_int_equal(c.hook_exec_max_queued, 64);
    assert_int_equal(parse(&c,
                           "{\"hooks\":{\"exec\":{\"command\":\"./bot.sh --x\",\"timeout_ms\":250,"
                           "\"max_running\":2,\"max_queued\":0}}}",
                           err),
                     0);
    assert_string_equal(c.hook_exec_command, "./bot.sh --x");
    assert_int_equal(c.hook_exec_timeout_ms, 250);
    assert_int_equal(c.hook_exec_max_running, 2);
    assert_int_equal(c.hook_exec_max_queued, 0);
    assert_int_equal(parse(&c, "{\"hooks\":{}}", err), 0);
    assert_string_equal(c.hook_exec_command, "");
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"{\"hooks\":{\"exec\":{\"cmd\":\"x\"}}}", "hooks.exec.cmd: unknown key"},
        {"{\"hooks\":{\"nope\":{}}}", "hooks.nope: unknown key"},
        {"{\"hooks\":{\"exec\":\"echo\"}}", "hooks.exec: expected an object, got \"echo\""},
        {"{\"hooks\":{\"exec\":{\"command\":\"\"}}}",
         "hooks.exec.command: expected a string of 1 to 1023 characters, got \"\""},
        {"{\"hooks\":{\"exec\":{\"command\":[\"a\"]}}}",
         "hooks.exec.command: expected a string, got [\"a\"]"},
        {"{\"hooks\":{\"exec\":{\"timeout_ms\":99}}}",
         "hooks.exec.timeout_ms: expected an integer from 100 to 600000, got 99"},
        {"{\"hooks\":{\"exec\":{\"timeout_ms\":1.5}}}",
         "hooks.exec.timeout_ms: expected an integer from 100 to 600000, got 1.5"},
        {"{\"hooks\":{\"exec\":{\"max_running\":0}}}",
         "hooks.exec.max_running: expected an integer from 1 to 64, got 0"},
        {"{\"hooks\":{\"exec\":{\"max_queued\":10001}}}",
         "hooks.exec.max_queued: expected an integer from 0 to 10000, got 10001"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(&c, bad[i].json, err), -EINVAL);
        assert_string_equal(err, bad[i].msg);
    }
    /* a command longer than the cap is refused, naming the key */
    char big[CFG_HOOK_CMD_MAX + 64];
    int n = snprintf(big, sizeof big, "{\"hooks\":{\"exec\":{\"command\":\"");
    memset(big + n, 'x', CFG_HOOK_CMD_MAX);
    snprintf(big + n + CFG_HOOK_CMD_MAX, sizeof big - (size_t)n - CFG_HOOK_CMD_MAX, "\"}}}");
    assert_int_equal(parse(&c, big, err), -EINVAL);
    assert_non_null(strstr(err, "hooks.exec.command: expected a string of 1 to 1023"));
}

/* Strictness (issue 13): what used to be accepted silently is an error naming the key. */
static void test_strict(void **state)
{
    struct wg_config c;
    char err[CFG_ERR_MAX] = "";
    /* duplicate keys, at the top, in a section, in a custom object */
    assert_int_equal(parse(&c, "{\"log\":{\"level\":\"debug\",\"level\":\"info\"}}", err), -EINVAL);
    assert_string_equal(err, "log.level: duplicate key");
    assert_int_equal(parse(&c, "{\"log\":{},\"gateway\":{},\"log\":{}}", err), -EINVAL);
    assert_string_equal(err, "log: duplicate key");
    assert_int_equal(
        parse(&c, "{\"whatsapp\":{\"accounts\":{\"a\":{},\"b\":{\"x\":1,\"x\":2}}}}", err),
        -EINVAL);
    assert_string_equal(err, "whatsapp.accounts.b.x: duplicate key");
    /* a BOM */
    assert_int_equal(parse(&c, "\xef\xbb\xbf{}", err), -EINVAL);
    assert_non_null(strstr(err, "byte order mark"));
    /* tokens with whitespace inside */
    const char *bad_tokens[] = {"0123456789 abcdef", "0123456789abcdef\n", "\t0123456789abcdef",
                                "0123456789abcdef\u00e9"};
    for (size_t i = 0; i < sizeof bad_tokens / sizeof bad_tokens[0]; i++) {
        char j[128];
        snprintf(j, sizeof j, "{\"gateway\":{\"token\":\"%s\"}}", bad_tokens[i]);
        assert_int_equal(parse(&c, j, err), -EINVAL);
        if (!strstr(err, "gateway.token: expected 16 to 128 visible ASCII"))
            fail_msg("%s -> %s", j, err);
    }
    assert_int_equal(parse(&c, "{\"gateway\":{\"token\":\"0123456789abcdef!~\"}}", err), 0);
    /* the API exposure keys */
    assert_int_equal(parse(&c,
                           "{\"gateway\":{\"allowed_hosts\":[\"wagate.example.com\","
                           "\"10.0.0.5:18789\",\"[fd00::1]:80\"],\"metrics_public\":true,"
                           "\"allow_remote\":true}}",
                           err),
                     0);
    assert_int_equal(c.allowed_hosts.n, 3);
    assert_string_equal(c.allowed_hosts.name[1], "10.0.0.5:18789");
    assert_true(c.metrics_public);
    assert_true(c.allow_remote);
    const char *bad_hosts[] = {"[\"a b\"]", "[\"h:0\"]", "[\"h:99999\"]", "[\"[zz]\"]",
                               "[\"\"]",    "[1]",       "\"h\"",         "[\"h/x\"]"};
    for (size_t i = 0; i < sizeof bad_hosts / sizeof bad_hosts[0]; i++) {
        char j[128];
        snprintf(j, sizeof j, "{\"gateway\":{\"allowed_hosts\":%s}}", bad_hosts[i]);
        assert_int_equal(parse(&c, j, err), -EINVAL);
        if (strncmp(err, "gateway.allowed_hosts: expected", 31) != 0) fail_msg("%s -> %s", j, err);
    }
    cfg_defaults(&c);
    assert_false(c.metrics_public);
    assert_false(c.allow_remote);
    assert_int_equal(c.allowed_hosts.n, 0);
}

static void test_split_listen(void **state)
{
    char host[64];
    int port;
    assert_int_equal(cfg_split_listen("127.0.0.1:18789", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 18789);
    assert_int_equal(cfg_split_listen("[::1]:0", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(cfg_split_listen("::1:80", NULL, 0, NULL), -EINVAL);
    assert_int_equal(cfg_split_listen("[::1]80", NULL, 0, NULL), -EINVAL);
    assert_int_equal(cfg_split_listen("1.2.3.4:", NULL, 0, NULL), -EINVAL);
    assert_int_equal(cfg_split_listen("1.2.3.4:-1", NULL, 0, NULL), -EINVAL);
    assert_int_equal(cfg_split_listen(":80", NULL, 0, NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_core_sections_alone),
        cmocka_unit_test(test_full_config),
        cmocka_unit_test(test_errors_name_the_key),
        cmocka_unit_test(test_syntax_error_position),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_default_paths),
        cmocka_unit_test(test_split_listen),
        cmocka_unit_test(test_strict),
        cmocka_unit_test(test_accounts),
        cmocka_unit_test(test_access_keys),
        cmocka_unit_test(test_hooks),
        cmocka_unit_test(test_backoff_keys),
        cmocka_unit_test(test_keepalive_keys),
        cmocka_unit_test(test_signal_keys),
        cmocka_unit_test(test_media_url_allow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
