/* SPDX-License-Identifier: MIT */
/* bench.c -- routing and simulated-Signal throughput measured in-process. */
#include "bench.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "accounts.h"
#include "contacts.h"
#include "nb.h"
#include "router.h"
#include "wa/noise.h"

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct fw_device *companion(struct fw_account *a)
{
    struct fw_device *d;
    if (fw_device_add(a, &d) < 0) fw_die("bench: device");
    d->registered = true;
    return d;
}

static struct wa_node *template_msg(struct fw_account *a, struct fw_account *b)
{
    struct wa_node *m = nb_new("message", "id", "X", "type", "text", NULL);
    char j[WA_JID_STR_MAX];
    fw_pn_jid(b, 0, false, j);
    nb_attr_jid(m, "to", j);
    struct wa_node *ps = nb_add(m, "participants", NULL);
    uint8_t ct[120];
    memset(ct, 0x33, sizeof(ct));
    const struct {
        struct fw_account *acc;
        uint32_t dev;
    } to[] = {{b, 1}, {b, 2}, {a, 2}};
    for (size_t i = 0; i < 3; i++) {
        fw_pn_jid(to[i].acc, to[i].dev, false, j);
        struct wa_node *t = nb_add(ps, "to", NULL);
        nb_attr_jid(t, "jid", j);
        nb_bytes(nb_add(t, "enc", "v", "2", "type", "msg", NULL), ct, sizeof(ct));
    }
    return m;
}

/* Send every unsent queued stanza of d (encode + encrypt), then clear it with a receipt. */
static void drain(struct fw_server *s, struct fw_account *a, struct fw_device *d,
                  struct wa_noise *tx, struct buf *pt, struct buf *ct)
{
    while (d->qhead) {
        struct fw_qitem *q = d->qhead;
        buf_reset(pt);
        buf_reset(ct);
        if (wa_node_encode(q->node, pt, NULL, 0) < 0 ||
            wa_noise_encrypt(tx, pt->data, pt->len, ct) < 0)
            fw_die("bench: encode");
        if (strcmp(q->node->tag.s, "message") == 0) {
            struct wa_node *r = nb_new("receipt", "id", q->id, NULL);
            struct wa_jid from;
            if (wa_node_attr_jid(q->node, "from", &from) == 0) nb_attr_jidv(r, "to", &from);
            fw_route_receipt(s, a, d, r); /* drops q */
            wa_node_free(r);
        } else {
            fw_queue_drop(d, q->id); /* the sender's ack of the forwarded receipt */
        }
    }
}

static int bench_route(struct fw_server *s, size_t n, FILE *out)
{
    struct fw_account *a, *b;
    int rc = fw_account_create(s, "+15551000", NULL, &a);
    if (rc == 0) rc = fw_account_create(s, "+15551001", NULL, &b);
    if (rc < 0) return rc;
    struct fw_device *a1 = companion(a), *a2 = companion(a), *b1 = companion(b), *b2 = companion(b);
    uint8_t k1[32] = {1}, k2[32] = {2};
    struct wa_noise *tx = wa_noise_new_transport(WA_NOISE_RESPONDER, k1, k2);
    struct wa_node *tmpl = template_msg(a, b);
    struct buf wire, pt, ct;
    buf_init(&wire, 0);
    buf_init(&pt, 0);
    buf_init(&ct, 0);
    size_t deliveries = 0;
    double t0 = mono();
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "3EB0%018zu", i);
        nb_attr(tmpl, "id", id);
        buf_reset(&wire);
        struct wa_node *m = NULL;
        if (wa_node_encode(tmpl, &wire, NULL, 0) < 0 ||
            wa_node_decode(wire.data, wire.len, NULL, &m, NULL, 0) < 0)
            fw_die("bench: wire");
        deliveries += fw_route_message(s, a, a1, m);
        wa_node_free(m);
        drain(s, b, b1, tx, &pt, &ct);
        drain(s, b, b2, tx, &pt, &ct);
        drain(s, a, a2, tx, &pt, &ct);
        drain(s, a, a1, tx, &pt, &ct);
    }
    double dt = mono() - t0;
    fprintf(out, "route_messages %zu\nroute_deliveries %zu\nroute_seconds %.3f\n", n, deliveries,
            dt);
    fprintf(out, "route_msgs_per_s %.0f\nroute_deliveries_per_s %.0f\n", (double)n / dt,
            (double)deliveries / dt);
    wa_node_free(tmpl);
    wa_noise_free(tx);
    buf_free(&wire);
    buf_free(&pt);
    buf_free(&ct);
    return 0;
}

static int bench_signal(struct fw_server *s, size_t n, FILE *out)
{
    struct fw_account *x, *y;
    int rc = fw_account_create(s, "+15552000", "benchx", &x);
    if (rc == 0) rc = fw_account_create(s, "+15552001", "benchy", &y);
    if (rc < 0) return rc;
    char id[64], err[256];
    double t0 = mono();
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fw_sim_send_text(s, i % 2 ? y : x, i % 2 ? "benchx" : "benchy", "benchmark text", id,
                              err, sizeof(err));
    double dt = mono() - t0;
    if (rc < 0) {
        fprintf(out, "signal_error %s\n", err);
        return rc;
    }
    fprintf(out, "signal_messages %zu\nsignal_seconds %.3f\nsignal_msgs_per_s %.0f\n", n, dt,
            (double)n / dt);
    fprintf(out, "signal_decrypt_failures %llu\n",
            (unsigned long long)s->stats.sim_decrypt_failures);
    return 0;
}

int fw_bench_run(struct fw_server *s, size_t n, FILE *out)
{
    int rc = bench_route(s, n, out);
    if (rc == 0) rc = bench_signal(s, n / 10 ? n / 10 : 1, out);
    return rc;
}
