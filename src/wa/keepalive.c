/* SPDX-License-Identifier: MIT */
/* keepalive.c -- jittered pings while connected, health reports, the server's pings.
 *
 * One ping is in flight at a time; the next is scheduled uniformly in [keepalive_min_ms,
 * keepalive_max_ms) after the answer of the previous one, and at once after its timeout (so
 * that two missed pings take one interval plus two deadlines: the owner's health watchdog
 * ends a wedged session after 2 misses). Any answer, result or error, counts as alive. The
 * session ends once pings have been failing for keepalive_fail_ms.
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/rand.h>

#include "core/log.h"
#include "wa/client_int.h"

static uint64_t rand_between(uint64_t lo, uint64_t hi)
{
    uint32_t r = 0;
    if (hi <= lo || RAND_bytes((unsigned char *)&r, sizeof(r)) != 1) return lo;
    return lo + r % (hi - lo);
}

static void ka_schedule(struct wa_client *c)
{
    c->ka.next = wa_cl_now(c) +
                 rand_between((uint64_t)c->o.keepalive_min_ms, (uint64_t)c->o.keepalive_max_ms);
}

void wa_cl_ka_start(struct wa_client *c)
{
    ka_schedule(c);
}

static void ka_answered(struct wa_client *c)
{
    c->ka.ok++;
    c->ka.fail_since = 0;
    ka_schedule(c);
    if (c->cbs.on_health)
        c->cbs.on_health(c->ud, true, (unsigned)(wa_cl_now(c) - c->ka.sent_at), 0);
}

static void ka_done(void *ud, int status, const struct wa_node *resp)
{
    struct wa_client *c = ud;
    (void)resp;
    if (status == -ENOTCONN || status == -ECANCELED) return;
    unsigned gen = c->gen;
    c->ka.inflight = false;
    if (status != -ETIMEDOUT) { /* result or error: the server is alive */
        ka_answered(c);
        return;
    }
    if (!c->ka.fail_since) c->ka.fail_since = c->ka.sent_at;
    uint64_t failing = wa_cl_now(c) - c->ka.fail_since;
    log_debug("wa", c->acct, "client: keepalive timeout (failing for %" PRIu64 " ms)", failing);
    if (c->cbs.on_health) c->cbs.on_health(c->ud, false, 0, (unsigned)failing);
    if (!wa_cl_alive(c, gen)) return;
    if (failing >= (uint64_t)c->o.keepalive_fail_ms) {
        wa_cl_end_with(c, WA_OUT_KEEPALIVE, WA_OC_TRANSIENT, 408,
                       "keepalive timeout (no pong for %" PRIu64 " ms)", failing);
        return;
    }
    c->ka.next = wa_cl_now(c); /* a missed ping is retried at once */
    wa_cl_arm(c);
}

static void ka_ping(struct wa_client *c)
{
    c->ka.inflight = true;
    c->ka.sent_at = wa_cl_now(c);
    c->ka.sent++;
    wa_cl_send_iq(c, wa_cl_mk_iq(c, "get", "w:p"), c->o.keepalive_deadline_ms, ka_done);
}

uint64_t wa_cl_ka_deadline(const struct wa_client *c)
{
    return c->state == WA_CS_CONNECTED && !c->ka.inflight ? c->ka.next : 0;
}

void wa_cl_ka_tick(struct wa_client *c, uint64_t now)
{
    if (c->state == WA_CS_CONNECTED && !c->ka.inflight && now >= c->ka.next) ka_ping(c);
}

void wa_cl_ka_answer(struct wa_client *c, const struct wa_node *iq)
{
    struct wa_node *r = wa_cl_mk_iq(c, "result", NULL);
    if (r && wa_node_set_attr(r, "id", wa_node_attr(iq, "id")) < 0) {
        wa_node_free(r);
        r = NULL;
    }
    wa_cl_send_owned(c, r);
}

void wa_client_keepalive_stats(const struct wa_client *c, unsigned *sent, unsigned *answered)
{
    if (sent) *sent = c->ka.sent;
    if (answered) *answered = c->ka.ok;
}
