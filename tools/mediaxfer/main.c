/* SPDX-License-Identifier: MIT */
/* main.c -- wagate-mediaxfer: one media upload or download with wa/mediaxfer, for tests and
 * debugging (tests/conformance/media.test.mjs drives it against fakewa and real Baileys).
 *
 *   wagate-mediaxfer upload   --host H[,H2...] --auth AUTH --type TYPE --file PATH [--ca PEM]
 *                             [--key HEX]
 *       prints {"url","direct_path","media_key","file_sha256","file_enc_sha256","file_length"}
 *   wagate-mediaxfer download --host H[,H2...] --type TYPE --path DIRECT_PATH --key HEX
 *                             --out DEST [--sha256 HEX] [--enc-sha256 HEX] [--ca PEM]
 *       prints {"file_length","http_status","resumed"}
 * Hashes and keys are hex. Exit 0 on success, 1 with {"error","errno","detail"} on stdout.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/hex.h"
#include "wa/mediaxfer.h"

struct args {
    const char *cmd, *hosts, *auth, *type, *file, *ca, *key, *path, *out, *sha, *esha;
};

static int done_rc = -1;

static void print_err(int err, int status, const char *detail)
{
    printf("{\"error\":\"%s\",\"errno\":%d,\"http_status\":%d,\"detail\":\"", strerror(-err), err,
           status);
    for (const char *p = detail; *p; p++)
        if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) putchar(*p);
    printf("\"}\n");
}

static void hexout(const char *name, const uint8_t *p, size_t n, const char *sep)
{
    char h[65];
    hex_encode(h, p, n);
    printf("\"%s\":\"%s\"%s", name, h, sep);
}

static void on_up(void *ud, const struct wa_mupload_result *r)
{
    (void)ud;
    done_rc = r->err;
    if (r->err < 0) {
        print_err(r->err, r->http_status, r->detail);
        return;
    }
    printf("{\"url\":\"%s\",\"direct_path\":\"%s\",", r->url, r->direct_path);
    hexout("media_key", r->media_key, 32, ",");
    hexout("file_sha256", r->file_sha256, 32, ",");
    hexout("file_enc_sha256", r->file_enc_sha256, 32, ",");
    printf("\"file_length\":%llu}\n", (unsigned long long)r->file_length);
}

static void on_down(void *ud, const struct wa_mdownload_result *r)
{
    (void)ud;
    done_rc = r->err;
    if (r->err < 0) {
        print_err(r->err, r->http_status, r->detail);
        return;
    }
    printf("{\"file_length\":%llu,\"http_status\":%d,\"resumed\":%d}\n",
           (unsigned long long)r->file_length, r->http_status, r->resumed);
}

static int parse(int argc, char **argv, struct args *a)
{
    if (argc < 2) return -EINVAL;
    a->cmd = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        const char **dst = !strcmp(k, "--host")         ? &a->hosts
                           : !strcmp(k, "--auth")       ? &a->auth
                           : !strcmp(k, "--type")       ? &a->type
                           : !strcmp(k, "--file")       ? &a->file
                           : !strcmp(k, "--ca")         ? &a->ca
                           : !strcmp(k, "--key")        ? &a->key
                           : !strcmp(k, "--path")       ? &a->path
                           : !strcmp(k, "--out")        ? &a->out
                           : !strcmp(k, "--sha256")     ? &a->sha
                           : !strcmp(k, "--enc-sha256") ? &a->esha
                                                        : NULL;
        if (!dst) return -EINVAL;
        *dst = v;
    }
    return a->hosts && a->type ? 0 : -EINVAL;
}

static int hex32(const char *h, uint8_t out[32])
{
    return h && hex_decode(out, 32, h, strlen(h)) == 32 ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
    struct args a = {0};
    enum wa_media_type t;
    if (parse(argc, argv, &a) < 0 || wa_media_type_parse(a.type, &t) < 0) {
        fprintf(stderr, "usage: see tools/mediaxfer/main.c\n");
        return 2;
    }
    char hostbuf[1024];
    const char *hosts[WA_MXFER_HOSTS_MAX];
    size_t nh = 0;
    snprintf(hostbuf, sizeof(hostbuf), "%s", a.hosts);
    for (char *s = NULL, *h = strtok_r(hostbuf, ",", &s); h && nh < WA_MXFER_HOSTS_MAX;
         h = strtok_r(NULL, ",", &s))
        hosts[nh++] = h;
    struct wa_mxfer_opts o = {
        .hosts = hosts, .nhosts = nh, .auth = a.auth, .ca_file = a.ca, .backoff_ms = 200};
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct wa_mxfer *x = NULL;
    uint8_t key[32], sha[32], esha[32];
    int rc;
    if (!strcmp(a.cmd, "upload") && a.file && a.auth) {
        bool k = a.key != NULL;
        if (k && hex32(a.key, key) < 0) return 2;
        rc = wa_media_upload(&loop, &o, a.file, t, k ? key : NULL, on_up, NULL, &x);
    } else if (!strcmp(a.cmd, "download") && a.path && a.out && hex32(a.key, key) == 0) {
        if ((a.sha && hex32(a.sha, sha) < 0) || (a.esha && hex32(a.esha, esha) < 0)) return 2;
        struct wa_mdownload_req r = {.direct_path = a.path,
                                     .media_key = key,
                                     .type = t,
                                     .file_sha256 = a.sha ? sha : NULL,
                                     .file_enc_sha256 = a.esha ? esha : NULL,
                                     .dest = a.out};
        rc = wa_media_download(&loop, &o, &r, on_down, NULL, &x);
    } else {
        fprintf(stderr, "usage: see tools/mediaxfer/main.c\n");
        return 2;
    }
    if (rc < 0) {
        print_err(rc, 0, "not started");
        return 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return done_rc == 0 ? 0 : 1;
}
