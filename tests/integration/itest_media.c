/* SPDX-License-Identifier: MIT */
/* itest_media.c -- wa/mediaxfer (over net/httpc's streaming mode) against wagate-fakewa's
 * media host (--media, HTTPS with the test CA): upload a file past a dead first host, download
 * it back byte for byte into a 0600 file, and the failure paths: a wrong expected hash and a
 * corrupted file (-EBADMSG, no file left), an expired URL (-ENOENT after one request, no
 * retry), a bad auth (-EACCES), a 503 on the first try (retried after the backoff), a body cut
 * mid-way (resumed with a Range request). A 48 MiB round trip prints its time and the growth
 * of the process's peak RSS (asserted under 16 MiB: the file never sits in memory). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "child.h"
#include "http1.h"
#include "loop.h"

#include "core/hex.h"
#include "wa/mediaxfer.h"

#define WAIT_MS 30000

static pid_t g_pid;
static char g_admin[64], g_media[64], g_ca[512], g_dir[64];
static uv_loop_t g_loop;

struct up {
    int calls;
    struct wa_mupload_result r;
};
struct down {
    int calls;
    struct wa_mdownload_result r;
};

static void on_up(void *ud, const struct wa_mupload_result *r)
{
    struct up *u = ud;
    u->calls++;
    u->r = *r;
}

static void on_down(void *ud, const struct wa_mdownload_result *r)
{
    struct down *d = ud;
    d->calls++;
    d->r = *r;
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN); /* as the daemon: a peer that closes gives EPIPE */
    snprintf(g_dir, sizeof(g_dir), "/tmp/itest-media-XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    char st[128], out[2048];
    snprintf(st, sizeof(st), "%s/fw", g_dir);
    char *argv[] = {(char *)child_build_path("wagate-fakewa"),
                    "--listen",
                    "127.0.0.1:0",
                    "--admin",
                    "127.0.0.1:0",
                    "--media",
                    "127.0.0.1:0",
                    "--state",
                    st,
                    "--log-level",
                    "warn",
                    NULL};
    g_pid = child_start(argv, 6, out, sizeof(out), 10000);
    if (g_pid <= 0) return -1;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(l, "admin ", 6)) snprintf(g_admin, sizeof(g_admin), "%s", l + 6);
        if (!strncmp(l, "media ", 6)) snprintf(g_media, sizeof(g_media), "%s", l + 6);
        if (!strncmp(l, "ca ", 3)) snprintf(g_ca, sizeof(g_ca), "%s", l + 3);
    }
    uv_loop_init(&g_loop);
    return g_admin[0] && g_media[0] && g_ca[0] ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    child_stop(g_pid);
    loop_run_for(&g_loop, 50);
    uv_loop_close(&g_loop);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static cJSON *adm(const char *method, const char *path, const char *json, int *status)
{
    return http1_request_json(g_admin, method, path, json, WAIT_MS, status);
}

static char *media_auth(void)
{
    int st = 0;
    cJSON *j = adm("GET", "/admin/media", NULL, &st);
    assert_int_equal(st, 200);
    char *a = strdup(cJSON_GetObjectItem(j, "auth")->valuestring);
    cJSON_Delete(j);
    return a;
}

static double media_stat(const char *name)
{
    int st = 0;
    cJSON *j = adm("GET", "/admin/media", NULL, &st);
    double v = cJSON_GetObjectItem(j, name)->valuedouble;
    cJSON_Delete(j);
    return v;
}

/* A file of n pattern bytes. */
static void make_file(const char *path, size_t n, unsigned seed)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint8_t b[65536];
    for (size_t off = 0; off < n;) {
        size_t k = n - off < sizeof(b) ? n - off : sizeof(b);
        for (size_t i = 0; i < k; i++)
            b[i] = (uint8_t)((off + i) * 131 + seed + ((off + i) >> 12));
        assert_int_equal(fwrite(b, 1, k, f), k);
        off += k;
    }
    fclose(f);
}

static bool same_file(const char *a, const char *b)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "cmp -s %s %s", a, b);
    return system(cmd) == 0;
}

static struct wa_mxfer_opts opts(const char *const *hosts, size_t n, const char *auth)
{
    struct wa_mxfer_opts o = {.hosts = hosts,
                              .nhosts = n,
                              .auth = auth,
                              .ca_file = g_ca,
                              .backoff_ms = 100,
                              .timeout_ms = 5000,
                              .max_attempts = 3};
    return o;
}

static struct wa_mupload_result upload(const char *path, enum wa_media_type t,
                                       const struct wa_mxfer_opts *o)
{
    struct up u = {0};
    struct wa_mxfer *x = NULL;
    assert_int_equal(wa_media_upload(&g_loop, o, path, t, NULL, on_up, &u, &x), 0);
    assert_true(loop_run_until(&g_loop, &u.calls, 1, WAIT_MS));
    assert_int_equal(u.calls, 1);
    return u.r;
}

static struct wa_mdownload_result download(const struct wa_mupload_result *up, enum wa_media_type t,
                                           const uint8_t *want_sha, const char *dest)
{
    const char *hosts[] = {g_media};
    struct wa_mxfer_opts o = opts(hosts, 1, NULL);
    struct wa_mdownload_req rq = {.direct_path = up->direct_path,
                                  .media_key = up->media_key,
                                  .type = t,
                                  .file_sha256 = want_sha,
                                  .file_enc_sha256 = up->file_enc_sha256,
                                  .dest = dest};
    struct down d = {0};
    struct wa_mxfer *x = NULL;
    assert_int_equal(wa_media_download(&g_loop, &o, &rq, on_down, &d, &x), 0);
    assert_true(loop_run_until(&g_loop, &d.calls, 1, WAIT_MS));
    char part[600];
    snprintf(part, sizeof(part), "%s.part", dest);
    assert_int_not_equal(access(part, F_OK), 0); /* never left behind */
    return d.r;
}

static void test_roundtrip_and_failures(void **state)
{
    (void)state;
    char src[128], dst[128], cmd[400];
    snprintf(src, sizeof(src), "%s/photo.jpg", g_dir);
    make_file(src, 3 * 1000 * 1000 + 5, 7);
    char *auth = media_auth();
    const char *hosts[] = {"127.0.0.1:1", g_media}; /* the first refuses: fallback */
    struct wa_mxfer_opts o = opts(hosts, 2, auth);
    struct wa_mupload_result up = upload(src, WA_MEDIA_IMAGE, &o);
    assert_int_equal(up.err, 0);
    assert_int_equal(up.http_status, 200);
    assert_int_equal(up.file_length, 3 * 1000 * 1000 + 5);
    assert_int_equal(strncmp(up.direct_path, "/v/t62.7118-24/", 15), 0);
    /* fakewa stored exactly the enc file whose hash we computed */
    char hex[65], path[200];
    hex_encode(hex, up.file_enc_sha256, 32);
    snprintf(path, sizeof(path), "/admin/media/file?enc_sha256=%s", hex);
    int st = 0;
    cJSON *f = adm("GET", path, NULL, &st);
    assert_int_equal(st, 200);
    assert_int_equal((uint64_t)cJSON_GetObjectItem(f, "size")->valuedouble,
                     (3 * 1000 * 1000 + 5) / 16 * 16 + 16 + 10);
    cJSON_Delete(f);

    snprintf(dst, sizeof(dst), "%s/got.jpg", g_dir);
    struct wa_mdownload_result d = download(&up, WA_MEDIA_IMAGE, up.file_sha256, dst);
    assert_int_equal(d.err, 0);
    assert_int_equal(d.file_length, up.file_length);
    assert_true(same_file(src, dst));
    struct stat sb;
    assert_int_equal(stat(dst, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* A wrong expected plaintext hash: not authentic, nothing written. */
    uint8_t bad[32];
    memcpy(bad, up.file_sha256, 32);
    bad[0] ^= 1;
    snprintf(dst, sizeof(dst), "%s/bad.jpg", g_dir);
    d = download(&up, WA_MEDIA_IMAGE, bad, dst);
    assert_int_equal(d.err, -EBADMSG);
    assert_int_not_equal(access(dst, F_OK), 0);
    /* The wrong type's keys: the MAC fails. */
    d = download(&up, WA_MEDIA_VIDEO, NULL, dst);
    assert_int_equal(d.err, -EBADMSG);

    /* A 503 on the first try: retried after the backoff. */
    cJSON_Delete(adm("POST", "/admin/media/fail", "{\"op\":\"download\",\"count\":1}", &st));
    assert_int_equal(st, 200);
    snprintf(dst, sizeof(dst), "%s/retry.jpg", g_dir);
    d = download(&up, WA_MEDIA_IMAGE, up.file_sha256, dst);
    assert_int_equal(d.err, 0);
    assert_true(same_file(src, dst));

    /* The body cut after 1 MB: resumed with a Range request, same bytes. */
    cJSON_Delete(
        adm("POST", "/admin/media/fail", "{\"op\":\"cut\",\"count\":1,\"bytes\":1000003}", &st));
    snprintf(dst, sizeof(dst), "%s/resumed.jpg", g_dir);
    d = download(&up, WA_MEDIA_IMAGE, up.file_sha256, dst);
    assert_int_equal(d.err, 0);
    assert_int_equal(d.resumed, 1);
    assert_int_equal(d.http_status, 206);
    assert_true(same_file(src, dst));

    /* Corrupted on the server: -EBADMSG. */
    snprintf(cmd, sizeof(cmd), "{\"enc_sha256\":\"%s\"}", hex);
    cJSON_Delete(adm("POST", "/admin/media/corrupt", cmd, &st));
    assert_int_equal(st, 200);
    snprintf(dst, sizeof(dst), "%s/corrupt.jpg", g_dir);
    d = download(&up, WA_MEDIA_IMAGE, up.file_sha256, dst);
    assert_int_equal(d.err, -EBADMSG);
    assert_int_not_equal(access(dst, F_OK), 0);

    /* Expired: -ENOENT at once (one request, no retry round). */
    cJSON_Delete(adm("POST", "/admin/media/expire", cmd, &st));
    double before = media_stat("refused");
    d = download(&up, WA_MEDIA_IMAGE, up.file_sha256, dst);
    assert_int_equal(d.err, -ENOENT);
    assert_int_equal(d.http_status, 410);
    assert_true(media_stat("refused") == before + 1);

    /* A bad auth: -EACCES, not retried. */
    struct wa_mxfer_opts o2 = opts(hosts + 1, 1, "not-the-auth");
    struct wa_mupload_result u2 = upload(src, WA_MEDIA_DOCUMENT, &o2);
    assert_int_equal(u2.err, -EACCES);
    assert_int_equal(u2.http_status, 401);
    free(auth);
}

static long maxrss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void test_big_file_memory(void **state)
{
    (void)state;
    char src[128], dst[128];
    snprintf(src, sizeof(src), "%s/video.mp4", g_dir);
    snprintf(dst, sizeof(dst), "%s/video-got.mp4", g_dir);
    const size_t n = 48u << 20;
    make_file(src, n, 3);
    char *auth = media_auth();
    const char *hosts[] = {g_media};
    struct wa_mxfer_opts o = opts(hosts, 1, auth);
    long rss0 = maxrss_kib();
    uint64_t t0 = uv_hrtime();
    struct wa_mupload_result up = upload(src, WA_MEDIA_VIDEO, &o);
    uint64_t t1 = uv_hrtime();
    assert_int_equal(up.err, 0);
    struct wa_mdownload_result d = download(&up, WA_MEDIA_VIDEO, up.file_sha256, dst);
    uint64_t t2 = uv_hrtime();
    assert_int_equal(d.err, 0);
    assert_true(same_file(src, dst));
    long grow = maxrss_kib() - rss0;
    print_message("48 MiB video: upload %.0f ms (hash pass + encrypt on the fly), download + "
                  "verify %.0f ms, peak RSS %ld KiB before, %ld KiB after (growth %ld KiB)\n",
                  (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6, rss0, rss0 + grow, grow);
    unlink(src);
    unlink(dst);
    free(auth);
#ifndef __SANITIZE_ADDRESS__ /* ASan keeps freed buffers in its quarantine (~70 MiB here) */
    assert_true(grow < 16 * 1024);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_failures),
        cmocka_unit_test(test_big_file_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
