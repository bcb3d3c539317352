/* SPDX-License-Identifier: MIT */
/* main.c -- wagate-fakewa: a protocol-faithful fake WhatsApp server for tests and demos.
 *
 * Usage: wagate-fakewa --listen 127.0.0.1:PORT --admin 127.0.0.1:PORT --state DIR
 *                      [--listen-tls 127.0.0.1:PORT [--tls-names NAME,NAME...]]
 *                      [--media 127.0.0.1:PORT]
 *                      [--log-level error|warn|info|debug]
 *        wagate-fakewa --bench N      (in-process routing benchmark, see bench.h)
 * Port 0 picks a free port. On start it prints, one "key value" line each, on stdout:
 *   listen 127.0.0.1:PORT / [listen_tls 127.0.0.1:PORT] / admin 127.0.0.1:PORT /
 *   root <root public key hex> / [ca /abs/path/ca.pem] / ready 1
 * --listen-tls serves wss:// (same /ws/chat handler) alongside ws:// with a certificate from
 * the test CA kept in the state dir (net/testca.h: ca.pem, ca.key, server.pem, server.key),
 * valid for localhost, 127.0.0.1, ::1, web.whatsapp.test, the TLS listen host and the
 * --tls-names. Only loopback addresses are accepted. SIGINT/SIGTERM stop it cleanly.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "admin.h"
#include "mediasrv.h"
#include "bench.h"
#include "conn.h"
#include "core/fileio.h"
#include "core/hex.h"
#include "core/log.h"
#include "faults.h"
#include "net/testca.h"
#include "net/tls.h"
#include "router.h"
#include "server.h"
#include "signal/sg_crypto.h"

struct opts {
    char listen_host[64];
    int listen_port;
    char admin_host[64];
    int admin_port;
    char tls_host[64]; /* --listen-tls; "" = no wss:// */
    int tls_port;
    const char *tls_names; /* --tls-names, comma-separated extra certificate names */
    char media_host[64];   /* --media: the HTTPS media host (mediasrv.h); "" = none */
    int media_port;
    const char *state;
    const char *level;
    long bench; /* --bench N: run the in-process benchmark and exit */
};

static uv_signal_t g_sigint, g_sigterm;

static int split_hostport(const char *s, char *host, size_t hl, int *port)
{
    const char *c = strrchr(s, ':');
    if (!c || (size_t)(c - s) >= hl) return -EINVAL;
    size_t n = (size_t)(c - s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        memcpy(host, s + 1, n - 2);
        host[n - 2] = 0;
    } else {
        memcpy(host, s, n);
        host[n] = 0;
    }
    char *end;
    long p = strtol(c + 1, &end, 10);
    if (*end || p < 0 || p > 65535) return -EINVAL;
    *port = (int)p;
    if (strcmp(host, "localhost") == 0) snprintf(host, hl, "127.0.0.1");
    if (strncmp(host, "127.", 4) != 0 && strcmp(host, "::1") != 0)
        return -EPERM; /* loopback only */
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    snprintf(o->listen_host, sizeof(o->listen_host), "127.0.0.1");
    snprintf(o->admin_host, sizeof(o->admin_host), "127.0.0.1");
    for (int i = 1; i < argc; i += 2) { /* every option takes one value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!v) return -EINVAL;
        if (strcmp(a, "--listen") == 0)
            rc = split_hostport(v, o->listen_host, sizeof(o->listen_host), &o->listen_port);
        else if (strcmp(a, "--admin") == 0)
            rc = split_hostport(v, o->admin_host, sizeof(o->admin_host), &o->admin_port);
        else if (strcmp(a, "--listen-tls") == 0)
            rc = split_hostport(v, o->tls_host, sizeof(o->tls_host), &o->tls_port);
        else if (strcmp(a, "--media") == 0)
            rc = split_hostport(v, o->media_host, sizeof(o->media_host), &o->media_port);
        else if (strcmp(a, "--tls-names") == 0)
            o->tls_names = v;
        else if (strcmp(a, "--state") == 0)
            o->state = v;
        else if (strcmp(a, "--log-level") == 0)
            o->level = v;
        else if (strcmp(a, "--bench") == 0)
            o->bench = strtol(v, NULL, 10); /* checked below: > 0 */
        else
            return -EINVAL;
        if (rc < 0) return rc;
    }
    return o->state || o->bench > 0 ? 0 : -EINVAL;
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct fw_server *s = h->data;
    log_info("fakewa", NULL, "signal %d: shutting down", signum);
    uv_signal_stop(&g_sigint);
    uv_signal_stop(&g_sigterm);
    uv_close((uv_handle_t *)&g_sigint, NULL);
    uv_close((uv_handle_t *)&g_sigterm, NULL);
    fw_conn_shutdown(s);
    fw_admin_shutdown(s);
    fw_media_stop();
    fw_faults_free(s);
}

/* The certificate names: the defaults, the TLS listen host and --tls-names (in buf). */
static int tls_names(const struct opts *o, char *buf, size_t cap, const char **names, size_t *n)
{
    static const char *const defaults[] = {"localhost", "127.0.0.1", "::1", "web.whatsapp.test"};
    *n = 0;
    for (size_t i = 0; i < 4; i++)
        names[(*n)++] = defaults[i];
    snprintf(buf, cap, "%s,%s,%s", o->tls_host, o->media_host, o->tls_names ? o->tls_names : "");
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        bool dup = false;
        for (size_t i = 0; i < *n; i++)
            dup = dup || strcmp(names[i], t) == 0;
        if (dup) continue;
        if (*n == TESTCA_MAX_NAMES) return -E2BIG;
        names[(*n)++] = t;
    }
    return 0;
}

/* Load or create the test CA and the server certificate in the state dir. */
static int tls_setup(struct fw_server *s, const struct opts *o)
{
    const char *names[TESTCA_MAX_NAMES];
    char buf[1024], err[512], abs[PATH_MAX];
    size_t n;
    struct testca_paths p;
    int made = 0, rc = tls_names(o, buf, sizeof(buf), names, &n);
    if (rc < 0) {
        snprintf(s->last_error, sizeof(s->last_error), "too many --tls-names");
        return rc;
    }
    rc = testca_ensure_dir(s->state_dir, names, n, TESTCA_P256, &p, &made, err, sizeof(err));
    if (rc < 0) {
        snprintf(s->last_error, sizeof(s->last_error), "test CA: %s", err);
        return rc;
    }
    struct ntls_server_opts so = {.cert_file = p.cert, .key_file = p.key};
    s->tls = ntls_server_new(&so, err, sizeof(err));
    if (!s->tls) {
        snprintf(s->last_error, sizeof(s->last_error), "TLS: %s", err);
        return -EINVAL;
    }
    if (!realpath(p.ca_cert, abs)) snprintf(abs, sizeof(abs), "%s", p.ca_cert);
    if ((size_t)snprintf(s->ca_path, sizeof(s->ca_path), "%s", abs) >= sizeof(s->ca_path)) {
        snprintf(s->last_error, sizeof(s->last_error), "CA path too long");
        return -ENAMETOOLONG;
    }
    log_info("fakewa", NULL, "test CA %s: %s", made == 2 ? "created" : "kept", s->ca_path);
    if (made == 1) log_info("fakewa", NULL, "server certificate re-issued");
    return 0;
}

static int start(struct fw_server *s, const struct opts *o)
{
    int lp = 0, ap = 0, tp = 0, mp = 0;
    int rc = sg_context_create(&s->sig);
    if (rc == 0) rc = dir_create(s->state_dir, 0700);
    if (rc == 0) rc = fw_server_init_keys(s);
    if (rc == 0) rc = fw_registry_new(s);
    if (rc == 0) rc = fw_registry_load(s);
    if (rc == 0) rc = fw_faults_init(s);
    if (rc == 0 && (o->tls_host[0] || o->media_host[0])) rc = tls_setup(s, o);
    if (rc == 0) rc = fw_conn_listen(s, o->listen_host, o->listen_port, &lp);
    if (rc == 0 && o->tls_host[0]) rc = fw_conn_listen_tls(s, o->tls_host, o->tls_port, &tp);
    if (rc == 0) rc = fw_admin_listen(s, o->admin_host, o->admin_port, &ap);
    if (rc == 0 && o->media_host[0]) rc = fw_media_start(s, o->media_host, o->media_port, &mp);
    if (rc < 0) return rc;
    char root[65];
    hex_encode(root, s->root.pub, 32);
    printf("listen %s:%d\n", o->listen_host, lp);
    if (o->tls_host[0]) printf("listen_tls %s:%d\n", o->tls_host, tp);
    printf("admin %s:%d\nroot %s\n", o->admin_host, ap, root);
    if (o->media_host[0]) printf("media %s:%d\n", o->media_host, mp);
    if (o->tls_host[0] || o->media_host[0]) printf("ca %s\n", s->ca_path);
    printf("ready 1\n");
    fflush(stdout);
    log_info("fakewa", NULL, "WA on %s:%d, admin on %s:%d, %zu accounts loaded", o->listen_host, lp,
             o->admin_host, ap, s->reg->nacc);
    return 0;
}

static int run_bench(struct fw_server *s, size_t n)
{
    wlog_set_level(WLOG_WARN);
    int rc = sg_context_create(&s->sig);
    if (rc == 0) rc = fw_registry_new(s);
    if (rc == 0) rc = fw_bench_run(s, n, stdout);
    fw_router_free(s);
    fw_registry_free(s);
    if (s->sig) signal_context_destroy(s->sig);
    if (rc < 0) fprintf(stderr, "fakewa: bench failed: %s\n", strerror(-rc));
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc < 0) {
        fprintf(stderr,
                "usage: %s --listen 127.0.0.1:PORT --admin 127.0.0.1:PORT --state DIR "
                "[--listen-tls 127.0.0.1:PORT [--tls-names N1,N2...]] [--media 127.0.0.1:PORT] "
                "[--log-level LEVEL]%s\n",
                argv[0], rc == -EPERM ? " (loopback addresses only)" : "");
        return 2;
    }
    enum wlog_level lvl = WLOG_INFO;
    if (o.level && wlog_parse_level(o.level, &lvl) < 0) {
        fprintf(stderr, "bad --log-level\n");
        return 2;
    }
    wlog_set_level(lvl);
    static struct fw_server s;
    s.loop = uv_default_loop();
    if (o.bench > 0) return run_bench(&s, (size_t)o.bench);
    snprintf(s.state_dir, sizeof(s.state_dir), "%s", o.state);
    rc = start(&s, &o);
    if (rc < 0) {
        fprintf(stderr, "fakewa: %s (%s)\n", s.last_error[0] ? s.last_error : "start failed",
                strerror(-rc));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN); /* a write to a peer that went away is an error, not a kill */
    uv_signal_init(s.loop, &g_sigint);
    uv_signal_init(s.loop, &g_sigterm);
    g_sigint.data = g_sigterm.data = &s;
    uv_signal_start(&g_sigint, on_signal, SIGINT);
    uv_signal_start(&g_sigterm, on_signal, SIGTERM);
    uv_run(s.loop, UV_RUN_DEFAULT);
    fw_router_free(&s);
    fw_registry_free(&s);
    buf_free(&s.cert);
    ntls_server_free(s.tls);
    wa_keypair_wipe(&s.root);
    wa_keypair_wipe(&s.inter);
    wa_keypair_wipe(&s.noise);
    signal_context_destroy(s.sig);
    uv_loop_close(s.loop);
    return 0;
}
