/* SPDX-License-Identifier: MIT */
/* server_admit.c -- who gets a client slot (max_clients, the per-peer cap, closing the
 * oldest idle client to make room) and the triage of the others (server.h, "Admission"). */
#include <netinet/in.h>
#include <string.h>

#include "api/server_int.h"

void srv_peer_of(struct client *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) < 0) return;
    if (ss.ss_family == AF_INET) {
        memcpy(c->peer, &((struct sockaddr_in *)&ss)->sin_addr, 4);
        c->peer_len = 4;
    } else if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        bool mapped = IN6_IS_ADDR_V4MAPPED(a);
        memcpy(c->peer, mapped ? a->s6_addr + 12 : a->s6_addr, mapped ? 4 : 16);
        c->peer_len = mapped ? 4 : 16;
    }
}

static bool same_peer(const struct client *a, const struct client *b)
{
    return a->peer_len && a->peer_len == b->peer_len && memcmp(a->peer, b->peer, a->peer_len) == 0;
}

/* The oldest client holding a slot with nothing going on (no partial request, nothing
 * unsent), from the same peer as `like` when like is not NULL. */
static struct client *oldest_idle(struct api_server *s, const struct client *like)
{
    struct client *best = NULL;
    for (struct client *o = s->clients; o; o = o->next)
        if (o->counted && o->state == C_HTTP && !o->pending && !http_parser_busy(o->hp) &&
            (!like || same_peer(o, like)) && (!best || o->born <= best->born))
            best = o;
    return best;
}

struct client *srv_oldest_triaged(struct api_server *s)
{
    struct client *best = NULL;
    for (struct client *o = s->clients; o; o = o->next)
        if (o->triage && o->state != C_CLOSED && (!best || o->born <= best->born)) best = o;
    return best;
}

/* Whether c may take a client slot, making room by closing an idle client if needed. */
bool srv_admit(struct api_server *s, struct client *c)
{
    size_t same = 0;
    for (struct client *o = s->clients; o; o = o->next)
        if (o != c && o->counted && o->state != C_CLOSED && same_peer(o, c)) same++;
    if (same >= s->cfg.max_clients_per_peer) {
        struct client *idle = oldest_idle(s, c);
        if (!idle) return false;
        srv_client_close(idle);
    }
    if (s->nclients < s->cfg.max_clients) return true;
    struct client *idle = oldest_idle(s, NULL);
    if (!idle) return false;
    srv_client_close(idle);
    return true;
}

/* A triaged connection: /healthz gets its answer, anything else 503; then it closes. */
void srv_triage_answer(struct client *c, const struct http_request *req)
{
    struct api_server *s = c->srv;
    if (strcmp(req->method, "GET") == 0 && strcmp(req->path, HEALTHZ_PATH) == 0) {
        struct api_response res;
        srv_response_init(&res);
        srv_route_healthz(NULL, &res, NULL);
        srv_count_request(s, HEALTHZ_PATH, res.status);
        srv_send_response(c, &res, false);
        srv_response_free(&res);
        return;
    }
    srv_count_request(s, "rejected", 503);
    srv_send_error(c, 503, "too many clients", "Retry-After: 1\r\n", false);
}
