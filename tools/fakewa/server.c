/* SPDX-License-Identifier: MIT */
/* server.c -- fakewa process context: time, ids, root key persistence, certificate chain. */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "core/fileio.h"
#include "core/hex.h"
#include "wa/cert.h"

uint64_t fw_now(void)
{
    return (uint64_t)time(NULL);
}

uint64_t fw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void fw_random(void *p, size_t n)
{
    if (RAND_bytes(p, (int)n) != 1) fw_die("RAND_bytes failed");
}

_Noreturn void fw_die(const char *what)
{
    fprintf(stderr, "fakewa: fatal: %s\n", what);
    abort();
}

void fw_new_id(struct fw_server *s, const char *prefix, char *out, size_t outlen)
{
    uint8_t r[8];
    fw_random(r, sizeof(r));
    s->seq++;
    r[0] ^= (uint8_t)s->seq;
    char hex[17];
    hex_encode(hex, r, sizeof(r));
    for (char *p = hex; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
    snprintf(out, outlen, "%s%s", prefix, hex);
}

static int load_root(struct fw_server *s, const char *path)
{
    char *txt = NULL;
    size_t len = 0;
    int rc = file_read_all(path, 65536, &txt, &len);
    if (rc < 0) return rc;
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "priv");
    uint8_t priv[32];
    rc = -EINVAL;
    if (cJSON_IsString(p) && hex_decode(priv, 32, p->valuestring, strlen(p->valuestring)) == 32)
        rc = wa_keypair_from_private(&s->root, priv);
    cJSON_Delete(j);
    if (rc < 0) snprintf(s->last_error, sizeof(s->last_error), "%s: bad root key file", path);
    return rc;
}

static int save_root(struct fw_server *s, const char *path)
{
    char priv[65], pub[65], body[256];
    hex_encode(priv, s->root.priv, 32);
    hex_encode(pub, s->root.pub, 32);
    int n = snprintf(body, sizeof(body), "{\"priv\":\"%s\",\"pub\":\"%s\"}\n", priv, pub);
    int rc = file_write_atomic(path, body, (size_t)n, 0600);
    if (rc < 0) snprintf(s->last_error, sizeof(s->last_error), "cannot write %s", path);
    return rc;
}

int fw_server_init_keys(struct fw_server *s)
{
    char path[FW_STATE_PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/root.json", s->state_dir);
    int rc = load_root(s, path);
    if (rc == -ENOENT) {
        rc = wa_keypair_generate(&s->root);
        if (rc == 0) rc = save_root(s, path);
    }
    if (rc < 0) return rc;
    rc = wa_keypair_generate(&s->inter);
    if (rc == 0) rc = wa_keypair_generate(&s->noise);
    if (rc < 0) return rc;
    uint64_t now = fw_now();
    struct wa_cert_spec inter = {.serial = 7,
                                 .issuer_serial = 0,
                                 .not_before = now - 86400,
                                 .not_after = now + 365 * 86400ull};
    struct wa_cert_spec leaf = {.serial = 8,
                                .issuer_serial = 7,
                                .not_before = now - 86400,
                                .not_after = now + 30 * 86400ull};
    buf_init(&s->cert, WA_CERT_MAX_LEN);
    rc = wa_cert_generate(&s->cert, s->root.priv, s->inter.priv, s->noise.pub, &inter, &leaf);
    if (rc < 0)
        snprintf(s->last_error, sizeof(s->last_error), "certificate generation failed (%d)", rc);
    return rc;
}
