/* SPDX-License-Identifier: MIT */
/* server_setup.c -- response helpers, the built-in routes, configuration and start. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/events.h"
#include "api/metrics.h"
#include "api/server_int.h"

/* ---- responses ---------------------------------------------------------- */

void srv_response_init(struct api_response *res)
{
    res->status = 200;
    snprintf(res->content_type, sizeof(res->content_type), "application/json");
    buf_init(&res->body, MAX_RESPONSE_BODY);
    buf_init(&res->headers, 4096);
}

void srv_response_free(struct api_response *res)
{
    buf_free(&res->body);
    buf_free(&res->headers);
}

int api_response_text(struct api_response *res, int status, const char *ctype, const char *text)
{
    res->status = status;
    snprintf(res->content_type, sizeof(res->content_type), "%s", ctype ? ctype : "text/plain");
    buf_reset(&res->body);
    return buf_append_str(&res->body, text);
}

int api_response_json(struct api_response *res, int status, cJSON *json)
{
    char *s = json ? cJSON_PrintUnformatted(json) : strdup("{}");
    cJSON_Delete(json);
    if (!s) return -ENOMEM;
    int r = api_response_text(res, status, "application/json", s);
    if (r == 0) r = buf_append_byte(&res->body, '\n');
    free(s);
    return r;
}

int api_response_error(struct api_response *res, int status, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return -ENOMEM;
    cJSON_AddStringToObject(o, "error", msg);
    return api_response_json(res, status, o);
}

int api_response_header(struct api_response *res, const char *name, const char *value)
{
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) return -EINVAL;
    return buf_printf(&res->headers, "%s: %s\r\n", name, value);
}

/* ---- built-in routes ---------------------------------------------------- */

void srv_route_healthz(const struct api_request *req, struct api_response *res, void *arg)
{
    api_response_text(res, 200, "text/plain; charset=utf-8", "ok\n");
}

static void srv_route_status(const struct api_request *req, struct api_response *res, void *arg)
{
    struct api_server *s = req->server;
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        api_response_error(res, 500, "out of memory");
        return;
    }
    cJSON_AddStringToObject(o, "version", s->version);
    cJSON_AddNumberToObject(o, "pid", (double)getpid());
    cJSON_AddNumberToObject(o, "uptime_s", (double)((uv_now(s->loop) - s->start_ms) / 1000));
    cJSON_AddStringToObject(o, "started_at", s->started_at);
    cJSON_AddItemToObject(o, "channels", cJSON_CreateArray());
    if (s->status_fill) s->status_fill(o, s->status_arg);
    api_response_json(res, 200, o);
}

static void srv_route_metrics(const struct api_request *req, struct api_response *res, void *arg)
{
    struct api_server *s = req->server;
    api_metrics_collect(s->metrics);
    api_metrics_set(s->metrics, "wagate_api_events_published_total", NULL,
                    (double)api_events_published(s->events));
    api_metrics_set(s->metrics, "wagate_api_events_last_seq", NULL,
                    (double)api_events_last_seq(s->events));
    res->status = 200;
    snprintf(res->content_type, sizeof(res->content_type), "text/plain; version=0.0.4");
    if (api_metrics_render(s->metrics, &res->body) < 0)
        api_response_error(res, 500, "metrics too large");
}

static int srv_declare_metrics(struct api_metrics *m)
{
    static const struct {
        const char *name, *help;
        enum api_metric_type type;
    } defs[] = {
        {"wagate_api_requests_total", "API requests by route and status code.", API_METRIC_COUNTER},
        {"wagate_api_clients", "Connected API clients (HTTP and WebSocket).", API_METRIC_GAUGE},
        {"wagate_api_ws_clients", "Connected WebSocket event subscribers.", API_METRIC_GAUGE},
        {"wagate_api_events_published_total", "Events published on the event stream.",
         API_METRIC_COUNTER},
        {"wagate_api_events_last_seq", "Sequence number of the last event.", API_METRIC_GAUGE},
        {"wagate_api_clients_dropped_slow_total", "Clients dropped for reading too slowly.",
         API_METRIC_COUNTER},
        {"wagate_api_clients_rejected_total",
         "Connections over max_clients or the per-peer cap (only /healthz is answered).",
         API_METRIC_COUNTER},
        {"wagate_api_auth_failures_total", "Requests with a missing or bad token.",
         API_METRIC_COUNTER},
    };
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        int r = api_metrics_declare(m, defs[i].name, defs[i].help, defs[i].type);
        if (r < 0) return r;
    }
    /* series that should show up as 0 before anything happens */
    api_metrics_set(m, "wagate_api_clients", NULL, 0);
    api_metrics_set(m, "wagate_api_ws_clients", NULL, 0);
    api_metrics_add(m, "wagate_api_clients_dropped_slow_total", NULL, 0);
    api_metrics_add(m, "wagate_api_clients_rejected_total", NULL, 0);
    api_metrics_add(m, "wagate_api_auth_failures_total", NULL, 0);
    api_metrics_add(m, "wagate_api_events_published_total", NULL, 0);
    return 0;
}

/* ---- start -------------------------------------------------------------- */

static int seterr(char *err, size_t errlen, int rc, const char *what)
{
    if (err && errlen)
        snprintf(err, errlen, "%s%s%s", what, rc ? ": " : "", rc ? uv_strerror(rc) : "");
    return rc ? rc : -EINVAL;
}

/* "127.0.0.1:18789" or "[::1]:18789" (numeric addresses only). */
static int parse_listen(const char *listen, struct sockaddr_storage *ss)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen) return -EINVAL;
    const char *h = listen;
    size_t hl = (size_t)(colon - listen);
    if (h[0] == '[') {
        if (hl < 2 || h[hl - 1] != ']') return -EINVAL;
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof(host)) return -EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 0 || port > 65535) return -EINVAL;
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0) return 0;
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0) return 0;
    return -EINVAL;
}

static void apply_defaults(struct api_config *c)
{
    if (!c->max_clients) c->max_clients = 64;
    if (!c->max_request_bytes) c->max_request_bytes = 1024 * 1024;
    if (!c->max_client_pending) c->max_client_pending = 4u << 20;
    if (!c->idle_timeout_ms) c->idle_timeout_ms = 60000;
    if (!c->request_timeout_ms) c->request_timeout_ms = 10000;
    if (!c->header_timeout_ms) c->header_timeout_ms = 5000;
    if (!c->max_clients_per_peer)
        c->max_clients_per_peer = c->max_clients / 4 > 4 ? c->max_clients / 4 : 4;
    if (!c->event_ring) c->event_ring = 1024;
}

static void on_failed_listener_closed(uv_handle_t *h)
{
    srv_server_free(h->data);
}

static int listen_on(struct api_server *s, const struct sockaddr_storage *ss, char *err,
                     size_t errlen)
{
    int r = uv_tcp_bind(&s->listener, (const struct sockaddr *)ss, 0);
    if (r == 0) r = uv_listen((uv_stream_t *)&s->listener, 128, srv_on_connection);
    if (r < 0) return seterr(err, errlen, r, s->cfg.listen);
    struct sockaddr_storage got;
    int len = sizeof(got);
    r = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&got, &len);
    if (r < 0) return seterr(err, errlen, r, "getsockname");
    s->port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                              : ((struct sockaddr_in *)&got)->sin_port);
    return 0;
}

static int server_init(struct api_server *s, const struct api_config *cfg, char *err, size_t errlen)
{
    s->cfg = *cfg;
    apply_defaults(&s->cfg);
    s->cfg.allowed_hosts = NULL; /* the guard keeps its own copy */
    s->token = strdup(cfg->token);
    s->version = strdup(cfg->version ? cfg->version : "unknown");
    s->cfg.spool_dir = NULL; /* s->spool_dir is the copy */
    s->spool_dir = cfg->spool_dir && cfg->spool_dir[0] ? strdup(cfg->spool_dir) : NULL;
    if (!s->token || !s->version || (cfg->spool_dir && cfg->spool_dir[0] && !s->spool_dir) ||
        api_events_new(s->cfg.event_ring, 0, &s->events) < 0 || api_metrics_new(&s->metrics) < 0 ||
        srv_declare_metrics(s->metrics) < 0)
        return seterr(err, errlen, 0, "out of memory");
    s->start_ms = uv_now(s->loop);
    api_events_now_iso(s->started_at, sizeof(s->started_at));
    if (api_server_add_route(s, "GET", "/healthz", false, srv_route_healthz, NULL) < 0 ||
        api_server_add_route(s, "GET", "/metrics", !s->cfg.metrics_public, srv_route_metrics,
                             NULL) < 0 ||
        api_server_add_route(s, "GET", "/api/v1/status", true, srv_route_status, NULL) < 0)
        return seterr(err, errlen, 0, "out of memory");
    return 0;
}

int api_server_start(uv_loop_t *loop, const struct api_config *cfg, struct api_server **out,
                     char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen) err[0] = '\0';
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (!cfg || !cfg->listen || parse_listen(cfg->listen, &ss) < 0)
        return seterr(err, errlen, 0, "bad listen address (want IP:PORT or [IPv6]:PORT)");
    if (!cfg->token || !*cfg->token) return seterr(err, errlen, 0, "empty API token");
    struct api_server *s = calloc(1, sizeof(*s));
    if (!s) return seterr(err, errlen, UV_ENOMEM, "server");
    s->loop = loop;
    int r = server_init(s, cfg, err, errlen);
    if (r < 0) {
        srv_server_free(s);
        return r;
    }
    r = uv_tcp_init(loop, &s->listener);
    if (r < 0) {
        srv_server_free(s);
        return seterr(err, errlen, r, "tcp");
    }
    s->listener.data = s;
    s->listener_open = true;
    r = listen_on(s, &ss, err, errlen);
    if (r == 0 && api_guard_init(&s->guard, cfg->listen, s->port, cfg->tls != NULL,
                                 cfg->allowed_hosts, cfg->nallowed_hosts) < 0)
        r = seterr(err, errlen, 0, "bad allowed host (want NAME or NAME:PORT, at most 16)");
    if (r < 0) {
        uv_close((uv_handle_t *)&s->listener, on_failed_listener_closed);
        return r;
    }
    *out = s;
    return 0;
}
