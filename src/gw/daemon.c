/* SPDX-License-Identifier: MIT */
/* daemon.c -- start-up, signal handling, reload and shutdown of the gateway. */
#include "gw/daemon.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "api/events.h"
#include "api/server.h"
#include "api/guard.h"
#include "api/token.h"
#include "gw/apitls.h"
#include "gw/config.h"
#include "core/fileio.h"
#include "core/log.h"
#include "core/statedir.h"
#include "gw/channel.h"
#include "net/netmon.h"
#include "gw/json.h"
#include "gw/memtrim.h"
#include "gw/notify.h"
#include "gw/routes.h"
#include "gw/sdnotify.h"
#include "wagate_version.h"

#define SHUTDOWN_DEADLINE_MS 800 /* SIGTERM must exit within 1 s */

/* The status entry of one channel as JSON (gw/json.h). */
static cJSON *status_json(const struct gw_channel *ch)
{
    struct gw_channel_status st;
    gw_channel_status(ch, &st);
    return gw_channel_status_json(&st);
}

struct daemon {
    uv_loop_t loop;
    uv_signal_t sig_term, sig_int, sig_hup, sig_usr1;
    struct netmon *netmon; /* network changes cut reconnect delays short (NULL: unavailable) */
    uv_timer_t deadline;
    struct gw_memtrim trim; /* hands freed heap pages back once the loop is quiet */
    struct api_server *api;
    struct ntls_server *api_tls; /* gateway.tls_cert/tls_key loaded (NULL: plain HTTP) */
    struct state_lock lock;
    struct wg_config cfg;
    char config_path[PATH_MAX];
    bool config_required;
    char state_dir[PATH_MAX];
    const char *listen_override;
    bool stopping;
    struct gw_channel_list chans;  /* one WhatsApp channel per configured account */
    struct gw_notify *notify;      /* operator notifications of every channel (gw/notify.h) */
    struct sdnotify sd;            /* systemd's notify socket (fd -1 when not under one) */
    uv_timer_t watchdog;           /* WATCHDOG=1 every WATCHDOG_USEC / 2 */
    struct api_events_sub *sd_sub; /* channel.state -> STATUS= */
};

static void status_fill(cJSON *status, void *arg)
{
    struct daemon *d = arg;
    cJSON_AddStringToObject(status, "state_dir", d->state_dir);
    cJSON_AddStringToObject(status, "listen", d->cfg.listen);
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(status, "channels");
    if (!cJSON_IsArray(arr)) {
        arr = cJSON_CreateArray();
        cJSON_ReplaceItemInObjectCaseSensitive(status, "channels", arr);
    }
    for (size_t i = 0; i < d->chans.n; i++)
        cJSON_AddItemToArray(arr, status_json(d->chans.v[i]));
}

/* Stop every channel (two-step; they publish nothing more), then the notifications. */
static void close_channels(struct daemon *d)
{
    for (size_t i = 0; i < d->chans.n; i++) {
        gw_channel_detach_api(d->chans.v[i]);
        gw_channel_close(d->chans.v[i], NULL, NULL);
    }
    d->chans.n = 0;
    gw_notify_close(d->notify);
    d->notify = NULL;
}

/* notify.self_chat: a note to the account's own number ("15550001", without the device). */
static int send_self(void *ud, const char *account, const char *text)
{
    struct daemon *d = ud;
    struct gw_channel *ch = gw_channel_list_find(&d->chans, account);
    if (!ch) return -ENOENT;
    const char *jid = gw_channel_jid(ch);
    if (!jid || gw_channel_state(ch) != GW_CH_CONNECTED) return -EAGAIN;
    char num[32];
    snprintf(num, sizeof num, "%.*s", (int)strcspn(jid, ":@"), jid);
    struct wa_outmsg m = wa_outmsg_text(num, text, NULL);
    struct gw_send_result r;
    int rc = gw_channel_send(ch, &m, &r);
    if (rc < 0 && r.error[0]) log_warn("notify", account, "note to self: %s", r.error);
    return rc;
}

static int start_notify(struct daemon *d)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", d->state_dir, NOTIFY_FILE);
    struct gw_notify_opts no = {
        .loop = &d->loop, .cfg = &d->cfg, .events = api_server_events(d->api), .path = path};
    if (gw_notify_new(&no, &d->notify) < 0 || gw_routes_add_notify(d->api, d->notify) < 0) {
        log_error("gateway", NULL, "cannot set up the notifications");
        return -1;
    }
    gw_notify_set_sender(d->notify, send_self, d);
    return 0;
}

/* Each account holds about five descriptors (its database, WAL and shared memory, the socket,
 * a hook's pipes): with many accounts the usual soft limit of 1024 is too low. Raise it to the
 * hard limit (at most 1 << 20); say so when even that is short. */
static void raise_fd_limit(unsigned accounts)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return;
    rlim_t want =
        rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1u << 20) ? (1u << 20) : rl.rlim_max;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t need = 64 + (rlim_t)accounts * 8;
    if (rl.rlim_cur < need)
        log_warn("gateway", NULL,
                 "the open-file limit is %llu, %u accounts may need %llu (raise `ulimit -n`)",
                 (unsigned long long)rl.rlim_cur, accounts, (unsigned long long)need);
}

static int start_channels(struct daemon *d)
{
    if (start_notify(d) < 0) return -1;
    raise_fd_limit(d->cfg.wa_account_count);
    for (unsigned i = 0; i < d->cfg.wa_account_count; i++) {
        struct gw_channel_opts o = {
            .account = d->cfg.wa_accounts[i],
            .state_dir = d->state_dir,
            .cfg = &d->cfg,
            .events = api_server_events(d->api),
            .metrics = api_server_metrics(d->api),
            .notify = d->notify,
            .keepalive_min_ms = (int)d->cfg.wa_keepalive_interval_ms,
            .keepalive_max_ms = (int)(d->cfg.wa_keepalive_interval_ms / 2 * 3),
            .keepalive_deadline_ms = (int)d->cfg.wa_keepalive_deadline_ms,
        };
        int r = gw_channel_new(&d->loop, &o, &d->chans.v[d->chans.n]);
        if (r < 0) {
            log_error("gateway", o.account, "cannot create the channel: %s", strerror(-r));
            return -1;
        }
        d->chans.n++;
    }
    if (gw_routes_add(d->api, &d->chans) < 0) {
        log_error("gateway", NULL, "cannot register the channel routes");
        return -1;
    }
    for (size_t i = 0; i < d->chans.n; i++)
        gw_channel_start(d->chans.v[i]);
    return 0;
}

static void apply_log_format(const struct wg_config *c)
{
    wlog_set_level(c->log_level);
    wlog_set_json(c->log_json);
}

/* The log file (what `wagate logs` reads): log.file, else <state>/logs/gateway.log (its
 * directory made 0700), capped at log.file_max_kb with one old file. path gets the file's
 * name. 0 or -errno; on an error the log goes to stderr only. */
static int apply_log_file(const struct daemon *d, const struct wg_config *c, char *path, size_t n)
{
    int r = 0;
    path[0] = '\0';
    if (c->log_file[0]) {
        snprintf(path, n, "%s", c->log_file);
    } else if ((r = state_log_path(d->state_dir, path, n)) == 0) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        r = dir_create(dir, 0700);
    }
    wlog_set_file_max((unsigned long long)c->log_file_max_kb * 1024);
    if (r == 0) r = wlog_set_file(path);
    if (r < 0) wlog_set_file(NULL);
    return r;
}

/* Load the config file; a missing default file means defaults. */
static int load_config(struct daemon *d, struct wg_config *c, char *err, size_t errlen)
{
    if (!d->config_path[0]) {
        cfg_defaults(c);
        return 0;
    }
    int r = cfg_load(c, d->config_path, err, errlen);
    if (r == -ENOENT && !d->config_required) {
        cfg_defaults(c);
        return 0;
    }
    if (r == 0 && d->listen_override)
        snprintf(c->listen, sizeof c->listen, "%s", d->listen_override);
    return r;
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void api_closed(void *arg)
{
    struct daemon *d = arg;
    d->api = NULL;
    d->api_tls = gw_apitls_free(d->api_tls);
    close_handle((uv_handle_t *)&d->sig_term);
    close_handle((uv_handle_t *)&d->sig_int);
    close_handle((uv_handle_t *)&d->sig_hup);
    close_handle((uv_handle_t *)&d->sig_usr1);
    close_handle((uv_handle_t *)&d->deadline);
    close_handle((uv_handle_t *)&d->watchdog);
    netmon_close(d->netmon);
    d->netmon = NULL;
    gw_memtrim_close(&d->trim);
}

static void on_deadline(uv_timer_t *t)
{
    log_warn("gateway", NULL, "shutdown took longer than %d ms; stopping now",
             SHUTDOWN_DEADLINE_MS);
    uv_stop(t->loop);
}

static void shutdown_begin(struct daemon *d, const char *why)
{
    if (d->stopping) return;
    d->stopping = true;
    log_info("gateway", NULL, "stopping (%s)", why);
    (void)sdnotify_send(&d->sd, "STOPPING=1");
    uv_timer_stop(&d->watchdog);
    if (d->api) api_events_unsubscribe(api_server_events(d->api), d->sd_sub);
    d->sd_sub = NULL;
    uv_timer_start(&d->deadline, on_deadline, SHUTDOWN_DEADLINE_MS, 0);
    uv_unref((uv_handle_t *)&d->deadline);
    close_channels(d);
    if (d->api)
        api_server_close(d->api, api_closed, d);
    else
        api_closed(d);
}

/* whatsapp.* as the channels use it (they copied it at start). */
static bool wa_config_changed(const struct wg_config *a, const struct wg_config *b)
{
    return strcmp(a->wa_endpoint, b->wa_endpoint) != 0 ||
           memcmp(a->wa_noise_root, b->wa_noise_root, sizeof a->wa_noise_root) != 0 ||
           strcmp(a->wa_tls_ca_file, b->wa_tls_ca_file) != 0 ||
           a->wa_dns_count != b->wa_dns_count ||
           memcmp(a->wa_dns_servers, b->wa_dns_servers, sizeof a->wa_dns_servers) != 0 ||
           a->wa_account_count != b->wa_account_count ||
           memcmp(a->wa_accounts, b->wa_accounts, sizeof a->wa_accounts) != 0;
}

static void reload(struct daemon *d)
{
    struct wg_config c;
    char err[CFG_ERR_MAX];
    (void)sdnotify_send(&d->sd, "RELOADING=1");
    if (load_config(d, &c, err, sizeof err) < 0) {
        log_error("gateway", NULL, "reload failed, keeping the running config: %s", err);
        (void)sdnotify_send(&d->sd, "READY=1");
        return;
    }
    char lpath[PATH_MAX];
    apply_log_format(&c);
    int r = apply_log_file(d, &c, lpath, sizeof lpath);
    if (r < 0) log_error("gateway", NULL, "log file %s: %s", lpath, strerror(-r));
    if (strcmp(c.listen, d->cfg.listen) != 0)
        log_warn("gateway", NULL, "gateway.listen changed to %s: takes effect after a restart",
                 c.listen);
    if (wa_config_changed(&c, &d->cfg))
        log_warn("gateway", NULL, "whatsapp.* changed: takes effect after a restart");
    if (strcmp(c.token, d->cfg.token) != 0 && c.token[0]) api_server_set_token(d->api, c.token);
    snprintf(c.listen, sizeof c.listen, "%s", d->cfg.listen);
    d->cfg = c;
    log_info("gateway", NULL, "configuration reloaded");
    (void)sdnotify_send(&d->sd, "READY=1");
}

/* Every channel waiting to reconnect tries now (a network change, SIGUSR1). */
static void retry_all(struct daemon *d, const char *why)
{
    if (d->stopping) return;
    for (size_t i = 0; i < d->chans.n; i++)
        (void)gw_channel_retry_now(d->chans.v[i], why);
}

static void on_netchange(void *ud, const struct netmon_summary *s)
{
    struct daemon *d = ud;
    char text[160], why[200];
    netmon_summary_text(s, text, sizeof text);
    log_debug("gateway", NULL, "network change: %s", text);
    if (!netmon_summary_up(s)) return;
    snprintf(why, sizeof why, "network change: %s", text);
    retry_all(d, why);
}

static void start_netmon(struct daemon *d)
{
    int r = netmon_new(&d->loop, on_netchange, d, &d->netmon);
    if (r < 0)
        log_warn("gateway", NULL,
                 "no network-change events (%s): reconnects follow the backoff alone",
                 strerror(-r));
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct daemon *d = h->data;
    if (signum == SIGHUP)
        reload(d);
    else if (signum == SIGUSR1)
        retry_all(d, "SIGUSR1");
    else
        shutdown_begin(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static int start_signals(struct daemon *d)
{
    uv_signal_t *hs[] = {&d->sig_term, &d->sig_int, &d->sig_hup, &d->sig_usr1};
    int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
    for (int i = 0; i < 4; i++) {
        uv_signal_init(&d->loop, hs[i]);
        hs[i]->data = d;
        int r = uv_signal_start(hs[i], on_signal, sigs[i]);
        if (r < 0) return r;
    }
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int resolve_paths(struct daemon *d, const struct daemon_opts *o)
{
    if (o->config_path)
        snprintf(d->config_path, sizeof d->config_path, "%s", o->config_path);
    else if (cfg_default_path(d->config_path, sizeof d->config_path) < 0)
        d->config_path[0] = '\0';
    d->config_required = o->config_required;
    if (o->state_dir) {
        snprintf(d->state_dir, sizeof d->state_dir, "%s", o->state_dir);
        return 0;
    }
    return cfg_default_state_dir(d->state_dir, sizeof d->state_dir);
}

/* With port 0 the kernel picked the port: record what was really bound. */
static void bound_listen(struct daemon *d)
{
    char host[64];
    int port;
    if (cfg_split_listen(d->cfg.listen, host, sizeof host, &port) < 0 || port != 0) return;
    snprintf(d->cfg.listen, sizeof d->cfg.listen, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host,
             api_server_port(d->api));
}

/* <state>/gateway.json tells the CLI where this daemon listens. */
static int write_runfile(struct daemon *d)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/gateway.json", d->state_dir);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "pid", (double)getpid());
    cJSON_AddStringToObject(o, "listen", d->cfg.listen);
    cJSON_AddStringToObject(o, "version", WAGATE_VERSION);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) return -ENOMEM;
    int r = file_write_atomic(path, text, strlen(text), 0600);
    free(text);
    return r;
}

/* gateway.tls_cert + gateway.tls_key: both or neither. */
static int load_api_tls(struct daemon *d)
{
    const char *cert = d->cfg.tls_cert, *key = d->cfg.tls_key;
    if (!cert[0] && !key[0]) return 0;
    if (!cert[0] || !key[0]) {
        log_error("gateway", NULL, "%s is set without %s: set both or neither",
                  cert[0] ? "gateway.tls_cert" : "gateway.tls_key",
                  cert[0] ? "gateway.tls_key" : "gateway.tls_cert");
        return -1;
    }
    char err[256];
    d->api_tls = gw_apitls_new(cert, key, err, sizeof err);
    if (!d->api_tls) {
        log_error("gateway", NULL, "gateway.tls_cert/tls_key: %s", err);
        return -1;
    }
    return 0;
}

/* Listening beyond loopback needs gateway.allow_remote, and is said out loud. */
static int check_remote(const struct daemon *d)
{
    if (api_listen_is_loopback(d->cfg.listen)) return 0;
    if (!d->cfg.allow_remote) {
        log_error("gateway", NULL,
                  "gateway.listen %s is not a loopback address: the API would be reachable "
                  "from the network over plain HTTP. Set gateway.allow_remote to true to do it "
                  "anyway (behind a TLS proxy or a firewall), or listen on 127.0.0.1",
                  d->cfg.listen);
        return -1;
    }
    if (d->cfg.tls_cert[0])
        log_warn("gateway", NULL,
                 "gateway.listen %s is reachable from the network (gateway.allow_remote), "
                 "over TLS: keep the token secret and the port firewalled",
                 d->cfg.listen);
    else
        log_warn("gateway", NULL,
                 "gateway.listen %s is reachable from the network (gateway.allow_remote): plain "
                 "HTTP, the token travels in clear; set gateway.tls_cert/tls_key or put a TLS "
                 "proxy in front of it",
                 d->cfg.listen);
    return 0;
}

/* <state>/spool: large request bodies as they arrive (api/server.h spool_dir), 0700; what a
 * crash left there is removed. 0, or -1 (logged: then bodies over the in-memory cap get 413). */
static int prepare_spool(const struct daemon *d, char *path, size_t cap)
{
    if ((size_t)snprintf(path, cap, "%s/spool", d->state_dir) >= cap ||
        dir_create(path, 0700) < 0) {
        log_warn("gateway", NULL, "cannot create %s: %s (large uploads refused)", path,
                 strerror(errno));
        return -1;
    }
    DIR *dir = opendir(path);
    for (struct dirent *e; dir && (e = readdir(dir));) {
        if (strncmp(e->d_name, "body-", 5) != 0) continue;
        char f[PATH_MAX + 300];
        snprintf(f, sizeof f, "%s/%s", path, e->d_name);
        (void)unlink(f);
    }
    if (dir) closedir(dir);
    return 0;
}

static int start_api(struct daemon *d)
{
    char err[256] = "";
    char token[129];
    if (check_remote(d) < 0 || load_api_tls(d) < 0) return -1;
    if (d->cfg.token[0]) {
        snprintf(token, sizeof token, "%s", d->cfg.token);
    } else if (api_token_load_or_create(d->state_dir, token, sizeof token, err, sizeof err) < 0) {
        log_error("gateway", NULL, "token: %s", err);
        return -1;
    }
    struct api_config ac = {
        .listen = d->cfg.listen,
        .token = token,
        .version = WAGATE_VERSION,
        .max_clients = d->cfg.max_clients,
        .metrics_public = d->cfg.metrics_public,
        .tls = d->api_tls ? &gw_apitls_ops : NULL,
        .tls_ctx = d->api_tls,
    };
    char spool[PATH_MAX + 16];
    if (prepare_spool(d, spool, sizeof spool) == 0) ac.spool_dir = spool;
    const char *hosts[CFG_MAX_HOSTS];
    for (unsigned i = 0; i < d->cfg.allowed_hosts.n; i++)
        hosts[i] = d->cfg.allowed_hosts.name[i];
    ac.allowed_hosts = hosts;
    ac.nallowed_hosts = d->cfg.allowed_hosts.n;
    int r = api_server_start(&d->loop, &ac, &d->api, err, sizeof err);
    memset(token, 0, sizeof token);
    if (r < 0) {
        log_error("gateway", NULL, "cannot listen on %s: %s", d->cfg.listen, err);
        return -1;
    }
    api_server_set_status_cb(d->api, status_fill, d);
    bound_listen(d);
    if (write_runfile(d) < 0)
        log_warn("gateway", NULL, "cannot write %s/gateway.json: the CLI may not find the API",
                 d->state_dir);
    log_info("gateway", NULL, "wagate %s listening on %s://%s (pid %ld, state %s)", WAGATE_VERSION,
             d->api_tls ? "https" : "http", d->cfg.listen, (long)getpid(), d->state_dir);
    return 0;
}

/* ---- the service manager (gw/sdnotify.h) ---- */

/* STATUS=: where the API listens and each account's state. */
static void sd_status(struct daemon *d)
{
    char text[512];
    int n = snprintf(text, sizeof text, "listening on %s", d->cfg.listen);
    for (size_t i = 0; i < d->chans.n && n > 0 && (size_t)n < sizeof text; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, "%s %s %s", i ? "," : ";",
                      gw_channel_account(d->chans.v[i]),
                      gw_ch_state_name(gw_channel_state(d->chans.v[i])));
    (void)sdnotify_status(&d->sd, "%s", text);
}

static void sd_on_event(void *arg, long long seq, const char *json, size_t len)
{
    static const char want[] = "\"type\":\"channel.state\"";
    if (memmem(json, len, want, sizeof want - 1)) sd_status(arg);
}

static void on_watchdog(uv_timer_t *t)
{
    struct daemon *d = t->data;
    (void)sdnotify_send(&d->sd, "WATCHDOG=1");
}

/* Everything is up: READY=1, then the watchdog pings and STATUS= on each state change. */
static void sd_ready(struct daemon *d)
{
    if (!sdnotify_enabled(&d->sd)) return;
    if (api_events_subscribe(api_server_events(d->api), sd_on_event, d, &d->sd_sub) < 0)
        d->sd_sub = NULL;
    int r = sdnotify_send(&d->sd, "READY=1");
    if (r < 0) log_warn("gateway", NULL, "NOTIFY_SOCKET: cannot send READY=1: %s", strerror(-r));
    sd_status(d);
    if (d->sd.watchdog_usec) {
        uint64_t ms = d->sd.watchdog_usec / 2000;
        uv_timer_start(&d->watchdog, on_watchdog, ms ? ms : 1, ms ? ms : 1);
        (void)sdnotify_send(&d->sd, "WATCHDOG=1");
    }
}

static int startup(struct daemon *d, const struct daemon_opts *o)
{
    char err[CFG_ERR_MAX + PATH_MAX];
    int sr = sdnotify_open(&d->sd); /* first: unsets the variables for every child */
    if (sr < 0)
        log_warn("gateway", NULL, "NOTIFY_SOCKET is unusable (%s): no readiness reports",
                 strerror(-sr));
    if (resolve_paths(d, o) < 0) {
        log_error("gateway", NULL, "no state directory: set --state-dir, XDG_STATE_HOME or HOME");
        return -1;
    }
    if (load_config(d, &d->cfg, err, sizeof err) < 0) {
        log_error("gateway", NULL, "config: %s", err);
        return -1;
    }
    apply_log_format(&d->cfg);
    if (state_dir_prepare(d->state_dir, err, sizeof err) < 0) {
        log_error("gateway", NULL, "%s", err);
        return -1;
    }
    pid_t holder;
    if (state_lock_acquire(d->state_dir, &d->lock, &holder, err, sizeof err) < 0) {
        log_error("gateway", NULL, "%s", err);
        return -1;
    }
    /* the file once the state dir is ours: a second daemon must not rotate it */
    char lpath[PATH_MAX];
    int lr = apply_log_file(d, &d->cfg, lpath, sizeof lpath);
    if (lr < 0)
        log_error("gateway", NULL, "log file %s: %s: logging to stderr only", lpath, strerror(-lr));
    uv_timer_init(&d->loop, &d->deadline);
    uv_timer_init(&d->loop, &d->watchdog);
    d->watchdog.data = d;
    if (gw_memtrim_start(&d->loop, &d->trim, 0) < 0)
        log_warn("gateway", NULL, "cannot start the heap trimmer: freed memory stays resident");
    if (start_signals(d) < 0 || start_api(d) < 0 || start_channels(d) < 0) return -1;
    start_netmon(d);
    sd_ready(d);
    return 0;
}

static void close_any(uv_handle_t *h, void *arg)
{
    close_handle(h);
}

static void drain_loop(uv_loop_t *loop)
{
    uv_walk(loop, close_any, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
}

int daemon_run(const struct daemon_opts *o)
{
    struct daemon *d = calloc(1, sizeof *d);
    if (!d) return 1;
    d->lock.fd = -1;
    d->sd.fd = -1;
    d->listen_override = o->listen;
    uv_loop_init(&d->loop);
    int status = 0;
    if (startup(d, o) < 0) {
        status = 1;
        close_channels(d);
        if (d->api) api_server_close(d->api, NULL, NULL);
    } else {
        uv_run(&d->loop, UV_RUN_DEFAULT);
        log_info("gateway", NULL, "stopped");
    }
    drain_loop(&d->loop);
    uv_loop_close(&d->loop);
    if (d->lock.fd >= 0) {
        char path[PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/gateway.json", d->state_dir);
        unlink(path);
    }
    state_lock_release(&d->lock);
    sdnotify_close(&d->sd);
    wlog_set_file(NULL);
    free(d);
    return status;
}
