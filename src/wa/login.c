/* SPDX-License-Identifier: MIT */
/* login.c -- after the login payload: <success> (CONNECTED, our LID, the post-login steps),
 * the offline queue marker <ib><offline count/> that reports on_connected, the multi-device
 * mismatch, and passive off (<iq xmlns=passive><active/>), the last post-login step.
 *
 * Post-login order: <success> -> signed pre-key in the store -> pre-key count iq -> upload
 * when low (prekeys.c) -> passive active. on_connected waits for the offline marker, at most
 * login_timeout_ms after <success> (then it is reported with count 0).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "wa/client_int.h"
#include "wa/nodeb.h"

static void passive_done(void *ud, int status, const struct wa_node *resp)
{
    struct wa_client *c = ud;
    (void)resp;
    if (status != 0 && status != -ENOTCONN && status != -ECANCELED)
        log_debug("wa", c->acct, "client: passive iq failed: %d", status);
}

void wa_cl_login_send_active(struct wa_client *c)
{
    struct wa_node *iq = wa_cl_mk_iq(c, "set", "passive");
    if (iq && !wa_nb_child(iq, "active")) {
        wa_node_free(iq);
        iq = NULL;
    }
    wa_cl_send_iq(c, iq, 0, passive_done);
}

/* <success lid=…> tells our LID: persist it through on_creds (kept only if that returns 0). */
static void learn_lid(struct wa_client *c, const char *lid)
{
    struct wa_creds nc = c->creds;
    snprintf(nc.me_lid, sizeof(nc.me_lid), "%s", lid);
    if (!c->cbs.on_creds || c->cbs.on_creds(c->ud, &nc) == 0)
        snprintf(c->creds.me_lid, sizeof(c->creds.me_lid), "%s", lid);
    wa_creds_wipe(&nc);
}

bool wa_cl_login_success(struct wa_client *c, const struct wa_node *n)
{
    if (c->state != WA_CS_LOGGING_IN) return false;
    unsigned gen = c->gen;
    const char *lid = wa_node_attr(n, "lid");
    wa_cl_set_state(c, WA_CS_CONNECTED, "success", 0);
    c->login.offline_deadline = wa_cl_now(c) + (uint64_t)c->o.login_timeout_ms;
    wa_cl_ka_start(c);
    if (lid && *lid && strlen(lid) < sizeof(c->creds.me_lid) && strcmp(lid, c->creds.me_lid)) {
        learn_lid(c, lid);
        if (!wa_cl_alive(c, gen)) return true;
    }
    wa_cl_pk_after_login(c);
    return true;
}

/* Report on_connected once per session, then the sink's connected. */
static void report_connected(struct wa_client *c, unsigned offline_count)
{
    unsigned gen = c->gen;
    c->login.connected_reported = true;
    if (c->cbs.on_connected) c->cbs.on_connected(c->ud, c->creds.me_lid, offline_count);
    if (wa_cl_alive(c, gen) && c->sink.connected) c->sink.connected(c->sink.ud);
}

bool wa_cl_login_ib(struct wa_client *c, const struct wa_node *n)
{
    const struct wa_node *off = wa_node_child(n, "offline");
    if (wa_node_child(n, "downgrade_webclient")) {
        wa_cl_end_with(c, WA_OUT_MD_MISMATCH, WA_OC_NEEDS_USER, 411,
                       "multi-device mismatch: the account cannot use linked devices");
        return true;
    }
    if (!off) return false;
    long cnt = wa_nb_attr_long(off, "count", 0);
    if (c->state == WA_CS_CONNECTED && !c->login.connected_reported) {
        log_debug("wa", c->acct, "client: connected as %s, %ld offline stanzas", c->creds.me_lid,
                  cnt);
        report_connected(c, cnt > 0 ? (unsigned)cnt : 0);
    }
    return true;
}

uint64_t wa_cl_login_deadline(const struct wa_client *c)
{
    if (c->state != WA_CS_CONNECTED || c->login.connected_reported) return 0;
    return c->login.offline_deadline;
}

void wa_cl_login_tick(struct wa_client *c, uint64_t now)
{
    if (c->state == WA_CS_CONNECTED && !c->login.connected_reported &&
        now >= c->login.offline_deadline)
        report_connected(c, 0); /* no <ib><offline/> came: report anyway */
}
