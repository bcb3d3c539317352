/* SPDX-License-Identifier: MIT */
/* cmd_connect.c -- `wagate proto connect [URL]`: reach a WhatsApp endpoint through the
 * real connector (DNS, TCP, TLS, WebSocket) with the whatsapp.* config, start the Noise
 * handshake and verify the server's certificate chain, then hang up. Prints the typed
 * outcome of the first stage that failed, or what was verified. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "cli.h"
#include "commands.h"
#include "core/buf.h"
#include "core/hex.h"
#include "net/conn.h"
#include "wa/frame.h"
#include "wa/keys.h"
#include "wa/noise.h"

#define CONNECT_DEADLINE_MS 30000

struct probe {
    struct cli_env *env;
    uv_loop_t loop;
    uv_timer_t deadline;
    struct nconn *conn;
    struct wa_noise *noise;
    struct wa_frame_decoder dec;
    long long t0;
    int status;        /* exit status */
    char result[512];  /* what happened */
    const char *stage; /* "noise", "dns", ... */
    bool done;
};

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void finish(struct probe *p, int status, const char *stage, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void finish(struct probe *p, int status, const char *stage, const char *fmt, ...)
{
    if (p->done) return;
    p->done = true;
    p->status = status;
    p->stage = stage;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->result, sizeof p->result, fmt, ap);
    va_end(ap);
    nconn_close(p->conn);
    p->conn = NULL;
    uv_close((uv_handle_t *)&p->deadline, NULL);
}

static void on_open(struct nconn *c, void *ud)
{
    struct probe *p = ud;
    struct buf hello, wire;
    buf_init(&hello, WA_NOISE_MAX_HANDSHAKE_MSG);
    buf_init(&wire, WA_NOISE_MAX_HANDSHAKE_MSG + 16);
    struct wa_frame_encoder enc;
    wa_frame_encoder_init(&enc, true, WA_FRAME_MAX_DEFAULT);
    int r = wa_noise_write_client_hello(p->noise, &hello);
    if (r == 0) r = wa_frame_encode(&enc, &wire, hello.data, hello.len);
    if (r == 0) r = nconn_send(c, wire.data, wire.len);
    buf_free(&hello);
    buf_free(&wire);
    if (r < 0) finish(p, EXIT_FAIL, "noise", "noise: cannot send client hello: %s", strerror(-r));
}

static void on_message(struct nconn *c, void *ud, const uint8_t *data, size_t len)
{
    struct probe *p = ud;
    while (len > 0 && !p->done) {
        size_t used = 0;
        const uint8_t *frame;
        size_t flen;
        int r = wa_frame_decode(&p->dec, data, len, &used, &frame, &flen);
        data += used;
        len -= used;
        if (r < 0) {
            finish(p, EXIT_FAIL, "frame", "frame: %s", wa_frame_decoder_error(&p->dec));
            return;
        }
        if (r == 0) return;
        r = wa_noise_read_server_hello(p->noise, frame, flen);
        if (r < 0)
            finish(p, EXIT_FAIL, "noise", "noise: %s", wa_noise_last_error(p->noise));
        else
            finish(p, EXIT_OK, "noise",
                   "server certificate chain verified against the configured root (%s)",
                   nconn_peer(c));
    }
}

static void on_close(struct nconn *c, void *ud, const struct nout *o)
{
    struct probe *p = ud;
    finish(p, EXIT_FAIL, nout_stage_name(o->stage), "%s", o->text);
}

static void on_deadline(uv_timer_t *t)
{
    struct probe *p = t->data;
    finish(p, EXIT_FAIL, "timeout", "no answer within %d s", CONNECT_DEADLINE_MS / 1000);
}

static void report(const struct probe *p, const char *url)
{
    long long ms = mono_ms() - p->t0;
    if (!p->env->json) {
        printf("%s: %s%s (%lld ms)\n", url, p->status == EXIT_OK ? "ok: " : "", p->result, ms);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "url", url);
    cJSON_AddBoolToObject(o, "ok", p->status == EXIT_OK);
    cJSON_AddStringToObject(o, "stage", p->stage ? p->stage : "");
    cJSON_AddStringToObject(o, "result", p->result);
    cJSON_AddNumberToObject(o, "elapsed_ms", (double)ms);
    cli_print_json(o);
}

static int run_probe(struct probe *p, const char *url)
{
    const struct wg_config *cfg = &p->env->cfg;
    const char *dns[CFG_MAX_DNS];
    for (unsigned i = 0; i < cfg->wa_dns_count; i++)
        dns[i] = cfg->wa_dns_servers[i];
    struct nconn_opts o = {
        .url = url,
        .dns_servers = dns,
        .ndns_servers = cfg->wa_dns_count,
        .ca_file = cfg->wa_tls_ca_file[0] ? cfg->wa_tls_ca_file : NULL,
    };
    struct nconn_cbs cbs = {on_open, on_message, on_close};
    struct wa_keypair static_kp;
    if (wa_keypair_generate(&static_kp) < 0) return EXIT_FAIL;
    p->noise = wa_noise_new(WA_NOISE_INITIATOR, &static_kp);
    wa_keypair_wipe(&static_kp);
    if (!p->noise) return EXIT_FAIL;
    wa_noise_set_cert_policy(p->noise, cfg->wa_noise_root, (uint64_t)time(NULL));
    wa_frame_decoder_init(&p->dec, false, WA_FRAME_MAX_DEFAULT, 0);
    uv_loop_init(&p->loop);
    uv_timer_init(&p->loop, &p->deadline);
    p->deadline.data = p;
    uv_timer_start(&p->deadline, on_deadline, CONNECT_DEADLINE_MS, 0);
    p->t0 = mono_ms();
    if (nconn_start(&p->loop, &o, &cbs, p, &p->conn) < 0)
        finish(p, EXIT_FAIL, "internal", "cannot start the connector");
    uv_run(&p->loop, UV_RUN_DEFAULT);
    uv_loop_close(&p->loop);
    wa_frame_decoder_free(&p->dec);
    wa_noise_free(p->noise);
    report(p, url);
    return p->status;
}

int cmd_connect_main(int argc, char **argv)
{
    struct cli_env e = {0};
    int r = cli_take_globals(&e, &argc, argv);
    if (r) return r;
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: wagate proto connect [--json] [URL]\n");
        return EXIT_USAGE;
    }
    if ((r = cli_load(&e)) != 0) return r;
    struct probe p = {.env = &e};
    return run_probe(&p, argc == 2 ? argv[1] : e.cfg.wa_endpoint);
}
