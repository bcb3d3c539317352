/* SPDX-License-Identifier: MIT */
/* bench_node.c -- binary node decode (and encode) speed on a realistic stanza mix. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "wa/node.h"
#include "wa/nodetext.h"

#define RUNS 7

/* A mix like a busy session's inbound traffic: messages with enc payloads,
 * receipts, acks, iq results and a usync result. */
static const char *const mix[] = {
    "<message from=@'222222222222222@lid' sender_pn=@'15550001111@s.whatsapp.net' "
    "addressing_mode='lid' type='text' id='3EB0A1B2C3D4E5F60718' t='1795260230' notify='Alice'>"
    "<enc v='2' type='msg'>[@MSG@]</enc></message>",
    "<message from=@'120363041234567890@g.us' participant=@'211111111111111:3@lid' "
    "type='text' id='ABCDEF0123456789' t='1795260231'>"
    "<enc v='2' type='skmsg'>[@MSG@]</enc></message>",
    "<receipt from=@'15550001111:2@s.whatsapp.net' id='3EB05A4729ABDA6C0FA2D7' t='1795260234'/>",
    "<receipt from=@'15550001111@s.whatsapp.net' type='read' id='3EB05A4729ABDA6C0FA2D7' "
    "t='1795260234'><list><item id='3EB05A4729ABDA6C0FA2D8'/><item "
    "id='3EB05A4729ABDA6C0FA2D9'/></list></receipt>",
    "<ack class='message' id='3EB05A4729ABDA6C0FA2D7' from=@'15550001111@s.whatsapp.net' "
    "t='1795260230'/>",
    "<iq from=@'s.whatsapp.net' type='result' id='13207.34137-5'><props protocol='1' "
    "hash='h1'><prop config_code='10518' config_value='false'/></props></iq>",
    "<iq from=@'s.whatsapp.net' type='result' id='13207.34137-9'><usync sid='13207.34137-8' "
    "index='0' last='true'><result></result><list>"
    "<user jid=@'15551230000@s.whatsapp.net'><devices><device-list><device id='0'/>"
    "<device id='7' key-index='3'/></device-list></devices>"
    "<lid val=@'211111111111111@lid'/></user>"
    "<user jid=@'15550001111@s.whatsapp.net'><devices><device-list><device id='0'/>"
    "<device id='2' key-index='5'/></device-list></devices>"
    "<lid val=@'222222222222222@lid'/></user></list></usync></iq>",
    "<iq from=@'s.whatsapp.net' type='get' id='ping-77' xmlns='urn:xmpp:ping'/>",
    "<notification from=@'15550001111@s.whatsapp.net' type='encrypt' id='1234567' "
    "t='1795260230'><count value='5'/></notification>",
};

static size_t count_nodes(const struct wa_node *n)
{
    size_t c = 1;
    for (size_t i = 0; i < wa_node_child_count(n); i++)
        c += count_nodes(wa_node_child_at(n, i));
    return c;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Replace "@MSG@" with a 180-byte enc payload and encode. Returns the node count. */
static size_t build(struct buf *frames, size_t *offs, size_t *lens, size_t count)
{
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        char text[4096], hexmsg[400] = "180B hex ";
        for (int k = 0; k < 180; k++)
            snprintf(hexmsg + 9 + 2 * k, 3, "%02x", (k * 37 + 11) & 0xff);
        const char *src = mix[i], *at = strstr(src, "@MSG@");
        if (at)
            snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - src), src, hexmsg, at + 5);
        else
            snprintf(text, sizeof(text), "%s", src);
        struct wa_node *n;
        char err[WA_NODE_ERR_MAX];
        if (wa_nodetext_parse(text, strlen(text), &n, err, sizeof(err))) {
            fprintf(stderr, "bench_node: bad stanza %zu: %s\n", i, err);
            exit(1);
        }
        offs[i] = frames->len;
        if (wa_node_encode(n, frames, err, sizeof(err))) {
            fprintf(stderr, "bench_node: encode: %s\n", err);
            exit(1);
        }
        lens[i] = frames->len - offs[i];
        total += count_nodes(n);
        wa_node_free(n);
    }
    return total;
}

int main(int argc, char **argv)
{
    enum { COUNT = sizeof(mix) / sizeof(mix[0]) };
    size_t offs[COUNT], lens[COUNT], bytes = 0;
    long iters = argc > 1 ? atol(argv[1]) : 40000;
    struct buf frames, out;
    buf_init(&frames, 0);
    buf_init(&out, 0);
    size_t per_mix = build(&frames, offs, lens, COUNT);
    for (size_t i = 0; i < COUNT; i++)
        bytes += lens[i];
    double dec[RUNS], enc[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        for (long it = 0; it < iters; it++)
            for (size_t i = 0; i < COUNT; i++) {
                struct wa_node *n;
                if (wa_node_decode(frames.data + offs[i], lens[i], NULL, &n, NULL, 0)) return 1;
                wa_node_free(n);
            }
        dec[r] = now() - t0;
        struct wa_node *nodes[COUNT];
        for (size_t i = 0; i < COUNT; i++)
            if (wa_node_decode(frames.data + offs[i], lens[i], NULL, &nodes[i], NULL, 0)) return 1;
        t0 = now();
        for (long it = 0; it < iters; it++)
            for (size_t i = 0; i < COUNT; i++) {
                buf_reset(&out);
                if (wa_node_encode(nodes[i], &out, NULL, 0)) return 1;
            }
        enc[r] = now() - t0;
        for (size_t i = 0; i < COUNT; i++)
            wa_node_free(nodes[i]);
    }
    qsort(dec, RUNS, sizeof(double), cmp_double);
    qsort(enc, RUNS, sizeof(double), cmp_double);
    double stanzas = (double)iters * COUNT, nodes = (double)iters * (double)per_mix;
    double mb = (double)iters * (double)bytes / 1e6;
    printf("bench_node: %d stanzas (%zu nodes, %zu bytes) per mix, %ld iterations, "
           "median of %d runs\n",
           COUNT, per_mix, bytes, iters, RUNS);
    printf("decode: %.0f stanzas/s, %.0f nodes/s, %.1f MB/s\n", stanzas / dec[RUNS / 2],
           nodes / dec[RUNS / 2], mb / dec[RUNS / 2]);
    printf("encode: %.0f stanzas/s, %.0f nodes/s, %.1f MB/s\n", stanzas / enc[RUNS / 2],
           nodes / enc[RUNS / 2], mb / enc[RUNS / 2]);
    buf_free(&frames);
    buf_free(&out);
    return 0;
}
