/* SPDX-License-Identifier: MIT */
/* itest_fakewa.c -- wagate-fakewa driven by a minimal blocking client written with the
 * project's own building blocks (WA framing, Noise initiator with every whatsmeow certificate
 * check, binary nodes, ADV verification, libsignal-protocol-c for the Signal side).
 *
 * Covers what the Baileys conformance tests cannot force: the certificate chain under strict
 * checks, registration refused for a bad eSkeySig, login refused for an unknown device or a
 * different Noise key, a second login replacing the first (conflict), the offline queue being
 * delivered after <active/> with an `offline` attribute and then <ib><offline count/>, the
 * queued message decrypting with our own Signal state, faults (stream_error 503, failure 402,
 * stall), and POST /admin/flood (one phone's texts round robin over other phones, decrypted
 * there). Every wait is bounded (poll timeouts); the child is killed on exit.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/buf.h"
#include "http1.h"
#include "signal/sg_cipher.h"
#include "signal/sg_crypto.h"
#include "signal/sg_keys.h"
#include "signal/sg_memstore.h"
#include "wa.pb-c.h"
#include "wa/frame.h"
#include "wa/keys.h"
#include "wa/node.h"
#include "wa/noise.h"

#define WAIT_MS 5000

static pid_t g_pid;
static char g_listen[192], g_admin[192], g_state[64];
static uint8_t g_root[32];

/* ---- process and HTTP ---- */

static ssize_t read_some(int fd, void *p, size_t n, int ms)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    int r = poll(&pf, 1, ms);
    if (r <= 0) return r == 0 ? -ETIMEDOUT : -errno;
    ssize_t got = read(fd, p, n);
    return got < 0 ? -errno : got;
}

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w <= 0) return -EPIPE;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* POST/GET to the admin API; returns the HTTP status (-1: no answer), body into resp. */
static int http(const char *method, const char *path, const char *json, char *resp, size_t rn)
{
    return http1_request_buf(g_admin, method, path, json, WAIT_MS, resp, rn);
}

static int start_fakewa(void **state)
{
    (void)state;
    const char *b = getenv("WAGATE_BUILD");
    char bin[512], dir[] = "/tmp/itest-fakewa-XXXXXX";
    snprintf(bin, sizeof(bin), "%s/wagate-fakewa", b ? b : "build");
    if (!mkdtemp(dir)) return -1;
    snprintf(g_state, sizeof g_state, "%s", dir);
    int p[2];
    if (pipe(p) < 0) return -1;
    g_pid = fork();
    if (g_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(p[1], 1);
        close(p[0]);
        execl(bin, bin, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--state", dir,
              "--log-level", "warn", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    char line[256];
    while (f && fgets(line, sizeof(line), f)) {
        char k[32], v[160];
        if (sscanf(line, "%31s %159s", k, v) != 2) continue;
        if (!strcmp(k, "listen"))
            snprintf(g_listen, sizeof(g_listen), "%s", v);
        else if (!strcmp(k, "admin"))
            snprintf(g_admin, sizeof(g_admin), "%s", v);
        else if (!strcmp(k, "root"))
            for (int i = 0; i < 32; i++)
                sscanf(v + 2 * i, "%2hhx", &g_root[i]);
        else if (!strcmp(k, "ready"))
            break;
    }
    return g_listen[0] && g_admin[0] ? 0 : -1;
}

static int stop_fakewa(void **state)
{
    (void)state;
    if (g_pid > 0) {
        kill(g_pid, SIGTERM);
        int st = 0;
        for (int i = 0; i < 500 && waitpid(g_pid, &st, WNOHANG) == 0; i++)
            usleep(10000);
        if (waitpid(g_pid, &st, WNOHANG) == 0) {
            kill(g_pid, SIGKILL);
            waitpid(g_pid, &st, 0);
            return -1;
        }
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1; /* ASan leaks -> non-zero */
    }
    return 0;
}

/* ---- a minimal WA client ---- */

struct cli {
    int fd;
    struct wa_noise *noise;
    struct wa_frame_encoder fe;
    struct wa_frame_decoder fdec;
    struct buf ws;     /* raw bytes from the server not yet parsed as WS frames */
    struct buf stream; /* WS payload bytes not yet consumed by the frame decoder */
    bool closed;
};

static void cli_open(struct cli *c, const struct wa_keypair *noise_kp)
{
    memset(c, 0, sizeof(*c));
    c->fd = http1_connect(g_listen);
    assert_true(c->fd >= 0);
    const char *up = "GET /ws/chat HTTP/1.1\r\nHost: web.whatsapp.com\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nOrigin: https://web.whatsapp.com\r\n\r\n";
    assert_int_equal(write_all(c->fd, up, strlen(up)), 0);
    buf_init(&c->ws, 0);
    buf_init(&c->stream, 0);
    char resp[4096] = "";
    size_t have = 0;
    while (!strstr(resp, "\r\n\r\n")) {
        assert_true(have < sizeof(resp) - 1);
        ssize_t r = read_some(c->fd, resp + have, 1, WAIT_MS); /* byte-wise: no over-read */
        assert_true(r == 1);
        have++;
        resp[have] = 0;
    }
    assert_non_null(strstr(resp, " 101 "));
    c->noise = wa_noise_new(WA_NOISE_INITIATOR, noise_kp);
    assert_non_null(c->noise);
    wa_noise_set_cert_policy(c->noise, g_root, (uint64_t)time(NULL));
    wa_frame_encoder_init(&c->fe, true, 0);
    wa_frame_decoder_init(&c->fdec, false, 0, 0);
}

static void cli_close(struct cli *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    wa_noise_free(c->noise);
    wa_frame_decoder_free(&c->fdec);
    buf_free(&c->ws);
    buf_free(&c->stream);
}

static void ws_send(struct cli *c, const uint8_t *p, size_t n)
{
    struct buf f;
    buf_init(&f, 0);
    uint8_t h[14] = {0x82};
    size_t hl = 2;
    if (n < 126) {
        h[1] = (uint8_t)(0x80 | n);
    } else if (n <= 0xFFFF) {
        h[1] = 0x80 | 126;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        hl = 4;
    } else {
        h[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
        hl = 10;
    }
    uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(h + hl, mask, 4);
    hl += 4;
    assert_int_equal(buf_append(&f, h, hl), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(buf_append_byte(&f, p[i] ^ mask[i % 4]), 0);
    assert_int_equal(write_all(c->fd, f.data, f.len), 0);
    buf_free(&f);
}

static void send_frame(struct cli *c, const uint8_t *p, size_t n)
{
    struct buf f;
    buf_init(&f, 0);
    assert_int_equal(wa_frame_encode(&c->fe, &f, p, n), 0);
    ws_send(c, f.data, f.len);
    buf_free(&f);
}

/* Parse complete WS frames from c->ws into c->stream; false once a close frame is seen. */
static bool ws_parse(struct cli *c)
{
    for (;;) {
        if (c->ws.len < 2) return true;
        const uint8_t *b = c->ws.data;
        uint64_t len = b[1] & 0x7f;
        size_t hl = 2;
        if (len == 126) {
            if (c->ws.len < 4) return true;
            len = (uint64_t)b[2] << 8 | b[3];
            hl = 4;
        } else if (len == 127) {
            if (c->ws.len < 10) return true;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | b[2 + i];
            hl = 10;
        }
        if (c->ws.len < hl + len) return true;
        uint8_t op = b[0] & 0x0f;
        if (op == 8) return false;
        if (op == 0 || op == 2) assert_int_equal(buf_append(&c->stream, b + hl, (size_t)len), 0);
        buf_consume(&c->ws, hl + (size_t)len);
    }
}

/* Next WA frame payload into out: 1, 0 on timeout, -EPIPE when the server closed. */
static int recv_frame(struct cli *c, struct buf *out, int ms)
{
    for (;;) {
        if (c->stream.len) {
            size_t used = 0;
            const uint8_t *f;
            size_t fl;
            int rc = wa_frame_decode(&c->fdec, c->stream.data, c->stream.len, &used, &f, &fl);
            buf_consume(&c->stream, used);
            assert_true(rc >= 0);
            if (rc == 1) {
                buf_reset(out);
                assert_int_equal(buf_append(out, f, fl), 0);
                return 1;
            }
        }
        if (c->closed) return -EPIPE;
        uint8_t tmp[65536];
        ssize_t r = read_some(c->fd, tmp, sizeof(tmp), ms);
        if (r == -ETIMEDOUT) return 0;
        if (r <= 0) {
            c->closed = true;
            continue;
        }
        assert_int_equal(buf_append(&c->ws, tmp, (size_t)r), 0);
        if (!ws_parse(c)) c->closed = true;
    }
}

static void send_node(struct cli *c, const struct wa_node *n)
{
    struct buf pt, ct;
    buf_init(&pt, 0);
    buf_init(&ct, 0);
    assert_int_equal(wa_node_encode(n, &pt, NULL, 0), 0);
    assert_int_equal(wa_noise_encrypt(c->noise, pt.data, pt.len, &ct), 0);
    send_frame(c, ct.data, ct.len);
    buf_free(&pt);
    buf_free(&ct);
}

/* Next node (caller frees), or NULL on timeout / close. */
static struct wa_node *recv_node(struct cli *c, int ms)
{
    struct buf f, pt;
    buf_init(&f, 0);
    buf_init(&pt, 0);
    struct wa_node *n = NULL;
    if (recv_frame(c, &f, ms) == 1) {
        assert_int_equal(wa_noise_decrypt(c->noise, f.data, f.len, &pt), 0);
        char err[160];
        assert_int_equal(wa_node_decode(pt.data, pt.len, NULL, &n, err, sizeof(err)), 0);
    }
    buf_free(&f);
    buf_free(&pt);
    return n;
}

static struct wa_node *expect_tag(struct cli *c, const char *tag)
{
    struct wa_node *n = recv_node(c, WAIT_MS);
    assert_non_null(n);
    if (strcmp(n->tag.s, tag) != 0) fail_msg("expected <%s>, got <%s>", tag, n->tag.s);
    return n;
}

/* Noise handshake; the server's chain is verified with all whatsmeow checks. */
static void handshake(struct cli *c, const Wa__ClientPayload *cp)
{
    struct buf m, f;
    buf_init(&m, 0);
    buf_init(&f, 0);
    assert_int_equal(wa_noise_write_client_hello(c->noise, &m), 0);
    send_frame(c, m.data, m.len);
    assert_int_equal(recv_frame(c, &f, WAIT_MS), 1);
    int rc = wa_noise_read_server_hello(c->noise, f.data, f.len);
    if (rc != 0) fail_msg("server hello: %s", wa_noise_last_error(c->noise));
    uint8_t pl[4096];
    size_t n = wa__client_payload__pack(cp, pl);
    buf_reset(&m);
    assert_int_equal(wa_noise_write_client_finish(c->noise, pl, n, &m), 0);
    send_frame(c, m.data, m.len);
    buf_free(&m);
    buf_free(&f);
}

/* ---- identity of our companion ---- */

struct me {
    struct wa_keypair noise;
    struct wa_keypair ident;
    uint32_t regid;
    struct wa_keypair spk;
    uint8_t spk_sig[64];
    uint8_t adv[32];
    char jid[128];
    unsigned device;
};

static struct me g_me;

static void me_init(struct me *m)
{
    assert_int_equal(wa_keypair_generate(&m->noise), 0);
    assert_int_equal(wa_keypair_generate(&m->ident), 0);
    assert_int_equal(wa_keypair_generate(&m->spk), 0);
    uint8_t msg[33] = {5};
    memcpy(msg + 1, m->spk.pub, 32);
    assert_int_equal(wa_xeddsa_sign(m->spk_sig, m->ident.priv, msg, 33), 0);
    m->regid = 4242;
    RAND_bytes(m->adv, 32);
}

static void registration_payload(const struct me *m, Wa__ClientPayload *cp,
                                 Wa__ClientPayload__DevicePairingRegistrationData *d,
                                 uint8_t bytes[8])
{
    wa__client_payload__init(cp);
    wa__client_payload__device_pairing_registration_data__init(d);
    bytes[0] = 0, bytes[1] = 0, bytes[2] = (uint8_t)(m->regid >> 8), bytes[3] = (uint8_t)m->regid;
    bytes[4] = 5, bytes[5] = 0, bytes[6] = 0, bytes[7] = 1;
    d->has_eregid = d->has_ekeytype = d->has_eident = d->has_eskeyid = d->has_eskeyval =
        d->has_eskeysig = 1;
    d->eregid = (ProtobufCBinaryData){4, bytes};
    d->ekeytype = (ProtobufCBinaryData){1, bytes + 4};
    d->eident = (ProtobufCBinaryData){32, (uint8_t *)m->ident.pub};
    d->eskeyid = (ProtobufCBinaryData){3, bytes + 5};
    d->eskeyval = (ProtobufCBinaryData){32, (uint8_t *)m->spk.pub};
    d->eskeysig = (ProtobufCBinaryData){64, (uint8_t *)m->spk_sig};
    cp->devicepairingdata = d;
    cp->has_passive = 1;
}

static void login_payload(const struct me *m, Wa__ClientPayload *cp, uint64_t user)
{
    wa__client_payload__init(cp);
    cp->has_username = cp->has_device = cp->has_passive = 1;
    cp->username = user;
    cp->device = m->device;
    cp->passive = 1;
}

static void b64(const uint8_t *p, char out[48])
{
    EVP_EncodeBlock((unsigned char *)out, p, 32);
}

static struct wa_node *node_new(const char *tag)
{
    struct wa_node *n = wa_node_new(tag);
    assert_non_null(n);
    return n;
}

static void set(struct wa_node *n, const char *k, const char *v)
{
    struct wa_str key = {.s = k, .len = (uint32_t)strlen(k), .owned = 1};
    struct wa_str val = {.s = v, .len = (uint32_t)strlen(v), .owned = 1};
    assert_int_equal(wa_node_append_attr(n, &key, &val, NULL), 0);
}

static void add(struct wa_node *p, struct wa_node *c)
{
    assert_int_equal(wa_node_add_child(p, c), 0);
}

static struct wa_node *iq_reply(const struct wa_node *req)
{
    struct wa_node *r = node_new("iq");
    set(r, "to", "s.whatsapp.net");
    set(r, "type", "result");
    set(r, "id", wa_node_attr(req, "id"));
    return r;
}

/* Answer pair-success like a companion (verify HMAC + account signature, sign). */
static void answer_pair_success(struct cli *c, const struct wa_node *iq)
{
    struct wa_node *ps = wa_node_child(iq, "pair-success");
    assert_non_null(ps);
    size_t len = 0;
    const uint8_t *b = wa_node_content_bytes(wa_node_child(ps, "device-identity"), &len);
    Wa__ADVSignedDeviceIdentityHMAC *h = wa__advsigned_device_identity_hmac__unpack(NULL, len, b);
    assert_non_null(h);
    uint8_t mac[32];
    unsigned ml = 32;
    HMAC(EVP_sha256(), g_me.adv, 32, h->details.data, h->details.len, mac, &ml);
    assert_int_equal(h->hmac.len, 32);
    assert_memory_equal(mac, h->hmac.data, 32);
    Wa__ADVSignedDeviceIdentity *sd =
        wa__advsigned_device_identity__unpack(NULL, h->details.len, h->details.data);
    assert_non_null(sd);
    assert_int_equal(sd->accountsignaturekey.len, 32);
    uint8_t msg[512] = {6, 0};
    memcpy(msg + 2, sd->details.data, sd->details.len);
    memcpy(msg + 2 + sd->details.len, g_me.ident.pub, 32);
    assert_int_equal(wa_xeddsa_verify(sd->accountsignaturekey.data, msg, 2 + sd->details.len + 32,
                                      sd->accountsignature.data, sd->accountsignature.len),
                     0);
    Wa__ADVDeviceIdentity *di =
        wa__advdevice_identity__unpack(NULL, sd->details.len, sd->details.data);
    assert_non_null(di);
    msg[1] = 1;
    memcpy(msg + 2 + sd->details.len + 32, sd->accountsignaturekey.data, 32);
    uint8_t dsig[64];
    assert_int_equal(wa_xeddsa_sign(dsig, g_me.ident.priv, msg, 2 + sd->details.len + 64), 0);
    Wa__ADVSignedDeviceIdentity reply = WA__ADVSIGNED_DEVICE_IDENTITY__INIT;
    reply.has_details = reply.has_accountsignature = reply.has_devicesignature = 1;
    reply.details = sd->details;
    reply.accountsignature = sd->accountsignature;
    reply.devicesignature = (ProtobufCBinaryData){64, dsig};
    uint8_t out[512];
    size_t ol = wa__advsigned_device_identity__pack(&reply, out);
    struct wa_node *r = iq_reply(iq);
    struct wa_node *pds = node_new("pair-device-sign");
    struct wa_node *dn = node_new("device-identity");
    char ki[16];
    snprintf(ki, sizeof(ki), "%u", di->keyindex);
    set(dn, "key-index", ki);
    assert_int_equal(wa_node_set_bytes(dn, out, ol), 0);
    add(pds, dn);
    add(r, pds);
    send_node(c, r);
    wa_node_free(r);
    wa__advdevice_identity__free_unpacked(di, NULL);
    wa__advsigned_device_identity__free_unpacked(sd, NULL);
    wa__advsigned_device_identity_hmac__free_unpacked(h, NULL);
}

/* Log in as g_me; returns the <success> node (caller frees) or the failure. */
static struct wa_node *login(struct cli *c, const struct wa_keypair *noise, uint64_t user,
                             unsigned device)
{
    cli_open(c, noise);
    Wa__ClientPayload cp;
    struct me m = g_me;
    m.device = device;
    login_payload(&m, &cp, user);
    handshake(c, &cp);
    return recv_node(c, WAIT_MS);
}

static const char *stream_error_code(struct cli *c)
{
    static char code[32];
    struct wa_node *n = expect_tag(c, "stream:error");
    const char *v = wa_node_attr(n, "code");
    struct wa_node *cf = wa_node_child(n, "conflict");
    snprintf(code, sizeof(code), "%s%s%s", v ? v : "", cf ? "/" : "",
             cf && wa_node_attr(cf, "type") ? wa_node_attr(cf, "type") : "");
    wa_node_free(n);
    return code;
}

/* ---- tests ---- */

static void test_pair(void **state)
{
    (void)state;
    char resp[8192];
    assert_int_equal(
        http("POST", "/admin/accounts", "{\"phone\":\"+15550001\"}", resp, sizeof(resp)), 201);
    assert_int_equal(http("POST", "/admin/contacts", "{\"name\":\"alice\",\"phone\":\"+15550002\"}",
                          resp, sizeof(resp)),
                     201);
    me_init(&g_me);
    struct cli c;
    cli_open(&c, &g_me.noise);
    Wa__ClientPayload cp;
    Wa__ClientPayload__DevicePairingRegistrationData d;
    uint8_t bytes[8];
    registration_payload(&g_me, &cp, &d, bytes);
    handshake(&c, &cp);
    struct wa_node *pd = expect_tag(&c, "iq");
    struct wa_node *refs = wa_node_child(pd, "pair-device");
    assert_non_null(refs);
    assert_int_equal(wa_node_child_count(refs), 6);
    size_t rl = 0;
    const uint8_t *ref = wa_node_content_bytes(wa_node_child(refs, "ref"), &rl);
    struct wa_node *ack = iq_reply(pd);
    send_node(&c, ack);
    wa_node_free(ack);
    char n64[48], i64[48], a64[48], body[1024];
    b64(g_me.noise.pub, n64);
    b64(g_me.ident.pub, i64);
    b64(g_me.adv, a64);
    int bl = snprintf(body, sizeof(body),
                      "{\"phone\":\"+15550001\",\"qr\":\"https://wa.me/settings/"
                      "linked_devices#%.*s,%s,%s,%s,1\"}",
                      (int)rl, (const char *)ref, n64, i64, a64);
    (void)bl;
    /* a QR with someone else's identity key is refused */
    char bad[1024];
    snprintf(bad, sizeof(bad), "{\"phone\":\"+15550001\",\"qr\":\"%.*s,%s,%s,%s\"}", (int)rl,
             (const char *)ref, n64, n64, a64);
    assert_int_equal(http("POST", "/admin/scan", bad, resp, sizeof(resp)), 403);
    assert_int_equal(http("POST", "/admin/scan", body, resp, sizeof(resp)), 200);
    assert_non_null(strstr(resp, "15550001:1@s.whatsapp.net"));
    assert_int_equal(http("POST", "/admin/scan", body, resp, sizeof(resp)), 409);
    wa_node_free(pd);
    struct wa_node *ps = expect_tag(&c, "iq");
    answer_pair_success(&c, ps);
    wa_node_free(ps);
    assert_string_equal(stream_error_code(&c), "515");
    assert_null(recv_node(&c, WAIT_MS)); /* closed */
    assert_true(c.closed);
    cli_close(&c);
    g_me.device = 1;
}

static void upload_prekeys(struct cli *c, signal_context *sig, struct sg_memstore *ms)
{
    struct sg_prekey pks[5];
    assert_int_equal(sg_prekeys_generate(sig, 1, 5, pks, NULL), 0);
    struct sg_store st = sg_memstore_store(ms, SG_TRUST_ANY);
    assert_int_equal(sg_store_put_prekeys(sig, &st, pks, 5), 0);
    struct sg_signed_prekey spk = {.id = 1};
    memcpy(spk.kp.pub, g_me.spk.pub, 32);
    memcpy(spk.kp.priv, g_me.spk.priv, 32);
    memcpy(spk.sig, g_me.spk_sig, 64);
    assert_int_equal(sg_store_put_signed_prekey(sig, &st, &spk), 0);
    struct wa_node *iq = node_new("iq");
    set(iq, "xmlns", "encrypt");
    set(iq, "type", "set");
    set(iq, "id", "up-1");
    set(iq, "to", "s.whatsapp.net");
    uint8_t reg[4] = {0, 0, (uint8_t)(g_me.regid >> 8), (uint8_t)g_me.regid};
    struct wa_node *x = node_new("registration");
    assert_int_equal(wa_node_set_bytes(x, reg, 4), 0);
    add(iq, x);
    x = node_new("identity");
    assert_int_equal(wa_node_set_bytes(x, g_me.ident.pub, 32), 0);
    add(iq, x);
    struct wa_node *list = node_new("list");
    for (int i = 0; i < 5; i++) {
        struct wa_node *k = node_new("key"), *id = node_new("id"), *v = node_new("value");
        uint8_t kid[3] = {0, 0, (uint8_t)pks[i].id};
        assert_int_equal(wa_node_set_bytes(id, kid, 3), 0);
        assert_int_equal(wa_node_set_bytes(v, pks[i].kp.pub, 32), 0);
        add(k, id);
        add(k, v);
        add(list, k);
    }
    add(iq, list);
    send_node(c, iq);
    wa_node_free(iq);
    struct wa_node *r = expect_tag(c, "iq");
    assert_string_equal(wa_node_attr(r, "type"), "result");
    wa_node_free(r);
}

static void test_login_offline_queue(void **state)
{
    (void)state;
    char resp[8192];
    signal_context *sig = NULL;
    struct sg_memstore *ms = NULL;
    assert_int_equal(sg_context_create(&sig), 0);
    assert_int_equal(sg_memstore_new(&ms, NULL), 0);
    struct sg_identity id = {.registration_id = g_me.regid};
    memcpy(id.kp.pub, g_me.ident.pub, 32);
    memcpy(id.kp.priv, g_me.ident.priv, 32);
    sg_memstore_set_identity(ms, &id);

    struct cli c;
    struct wa_node *ok = login(&c, &g_me.noise, 15550001, 1);
    assert_non_null(ok);
    assert_string_equal(ok->tag.s, "success");
    assert_non_null(strstr(wa_node_attr(ok, "lid"), ":1@lid"));
    wa_node_free(ok);
    upload_prekeys(&c, sig, ms);
    struct wa_node *ping = node_new("iq");
    set(ping, "id", "p1");
    set(ping, "xmlns", "w:p");
    set(ping, "type", "get");
    set(ping, "to", "s.whatsapp.net");
    send_node(&c, ping);
    wa_node_free(ping);
    struct wa_node *pong = expect_tag(&c, "iq");
    assert_string_equal(wa_node_attr(pong, "id"), "p1");
    wa_node_free(pong);
    /* still passive: alice's message is queued, not sent */
    assert_int_equal(http("POST", "/admin/contacts/alice/send",
                          "{\"to\":\"+15550001\",\"text\":\"queued hi\"}", resp, sizeof(resp)),
                     200);
    assert_null(recv_node(&c, 300));
    struct wa_node *act = node_new("iq"), *a = node_new("active");
    set(act, "id", "a1");
    set(act, "xmlns", "passive");
    set(act, "type", "set");
    set(act, "to", "s.whatsapp.net");
    add(act, a);
    send_node(&c, act);
    wa_node_free(act);
    struct wa_node *r = expect_tag(&c, "iq");
    wa_node_free(r);
    struct wa_node *m = expect_tag(&c, "message");
    assert_string_equal(wa_node_attr(m, "offline"), "1");
    assert_string_equal(wa_node_attr(m, "addressing_mode"), "lid");
    struct wa_node *ib = expect_tag(&c, "ib");
    assert_string_equal(wa_node_attr(wa_node_child(ib, "offline"), "count"), "1");
    wa_node_free(ib);
    /* decrypt with our own Signal state */
    struct sg_store st = sg_memstore_store(ms, SG_TRUST_ANY);
    struct sg_ctx *ctx;
    assert_int_equal(sg_ctx_new(&ctx, sig, &st), 0);
    struct wa_jid from;
    assert_int_equal(wa_node_attr_jid(m, "from", &from), 0);
    struct sg_address addr;
    assert_int_equal(sg_address_make(&addr, from.user, 1, from.device), 0);
    struct wa_node *enc = wa_node_child(m, "enc");
    assert_string_equal(wa_node_attr(enc, "type"), "pkmsg");
    size_t cl = 0;
    const uint8_t *ct = wa_node_content_bytes(enc, &cl);
    struct buf pt;
    buf_init(&pt, 0);
    assert_int_equal(sg_decrypt(ctx, &addr, SG_PKMSG, ct, cl, &pt), 0);
    size_t plen;
    assert_int_equal(sg_unpad(pt.data, pt.len, &plen), 0);
    Wa__Message *msg = wa__message__unpack(NULL, plen, pt.data);
    assert_non_null(msg);
    assert_string_equal(msg->conversation, "queued hi");
    wa__message__free_unpacked(msg, NULL);
    /* delivery receipt -> alice */
    struct wa_node *rc = node_new("receipt");
    set(rc, "id", wa_node_attr(m, "id"));
    assert_int_equal(wa_node_set_attr_jid(rc, "to", &from), 0);
    send_node(&c, rc);
    wa_node_free(rc);
    struct wa_node *rack = expect_tag(&c, "ack");
    assert_string_equal(wa_node_attr(rack, "class"), "receipt");
    wa_node_free(rack);
    char path[256];
    assert_int_equal(http("GET", "/admin/contacts/alice/inbox", NULL, resp, sizeof(resp)), 200);
    snprintf(path, sizeof(path), "\"id\":\"%s\"", wa_node_attr(m, "id"));
    assert_non_null(strstr(strstr(resp, "\"receipts\""), path));
    wa_node_free(m);
    /* the server counted one unused pre-key less */
    assert_int_equal(http("GET", "/admin/devices?phone=15550001", NULL, resp, sizeof(resp)), 200);
    assert_non_null(strstr(resp, "\"prekeys\":4"));

    /* a second login of the same device replaces the first */
    struct cli c2;
    struct wa_node *ok2 = login(&c2, &g_me.noise, 15550001, 1);
    assert_non_null(ok2);
    assert_string_equal(ok2->tag.s, "success");
    wa_node_free(ok2);
    assert_string_equal(stream_error_code(&c), "/replaced");
    cli_close(&c);
    cli_close(&c2);
    buf_free(&pt);
    sg_ctx_free(ctx);
    sg_memstore_free(ms);
    signal_context_destroy(sig);
}

static void expect_failure(const struct wa_keypair *noise, uint64_t user, unsigned dev,
                           const char *reason)
{
    struct cli c;
    struct wa_node *f = login(&c, noise, user, dev);
    assert_non_null(f);
    assert_string_equal(f->tag.s, "failure");
    assert_string_equal(wa_node_attr(f, "reason"), reason);
    wa_node_free(f);
    cli_close(&c);
}

static void test_rejections(void **state)
{
    (void)state;
    struct wa_keypair other;
    assert_int_equal(wa_keypair_generate(&other), 0);
    expect_failure(&other, 15550001, 1, "401");      /* wrong noise key */
    expect_failure(&g_me.noise, 15550001, 9, "401"); /* unknown device */
    expect_failure(&g_me.noise, 19999999, 1, "401"); /* unknown account */
    expect_failure(&g_me.noise, 15550002, 0, "401"); /* the simulated phone cannot log in */
    /* registration with a signature that does not verify */
    struct me bad;
    me_init(&bad);
    bad.spk_sig[5] ^= 1;
    struct cli c;
    cli_open(&c, &bad.noise);
    Wa__ClientPayload cp;
    Wa__ClientPayload__DevicePairingRegistrationData d;
    uint8_t bytes[8];
    registration_payload(&bad, &cp, &d, bytes);
    handshake(&c, &cp);
    struct wa_node *f = expect_tag(&c, "failure");
    assert_string_equal(wa_node_attr(f, "reason"), "400");
    wa_node_free(f);
    cli_close(&c);
}

static void test_faults(void **state)
{
    (void)state;
    char resp[4096];
    struct cli c;
    struct wa_node *ok = login(&c, &g_me.noise, 15550001, 1);
    assert_string_equal(ok->tag.s, "success");
    wa_node_free(ok);
    assert_int_equal(http("POST", "/admin/fault",
                          "{\"type\":\"stream_error\",\"code\":503,\"phone\":\"+15550001\"}", resp,
                          sizeof(resp)),
                     200);
    assert_string_equal(stream_error_code(&c), "503");
    cli_close(&c);

    assert_int_equal(http("POST", "/admin/fault",
                          "{\"type\":\"failure\",\"reason\":402,\"code\":103,\"expire\":60,"
                          "\"phone\":\"+15550001\"}",
                          resp, sizeof(resp)),
                     200);
    struct wa_node *f = login(&c, &g_me.noise, 15550001, 1);
    assert_string_equal(f->tag.s, "failure");
    assert_string_equal(wa_node_attr(f, "reason"), "402");
    assert_string_equal(wa_node_attr(f, "code"), "103");
    assert_string_equal(wa_node_attr(f, "expire"), "60");
    wa_node_free(f);
    cli_close(&c);

    ok = login(&c, &g_me.noise, 15550001, 1); /* one-shot: works again */
    assert_string_equal(ok->tag.s, "success");
    wa_node_free(ok);
    assert_int_equal(http("POST", "/admin/fault", "{\"type\":\"stall\",\"duration_ms\":400}", resp,
                          sizeof(resp)),
                     200);
    struct wa_node *ping = node_new("iq");
    set(ping, "id", "p2");
    set(ping, "xmlns", "w:p");
    set(ping, "type", "get");
    set(ping, "to", "s.whatsapp.net");
    send_node(&c, ping);
    assert_null(recv_node(&c, 200)); /* stalled: no answer */
    usleep(400000);
    send_node(&c, ping);
    struct wa_node *pong = expect_tag(&c, "iq"); /* the stall expired */
    wa_node_free(pong);
    wa_node_free(ping);
    cli_close(&c);
}

/* The texts "<prefix> <k>" in contact who's inbox, as a bitmap over k < n; returns how many. */
static int inbox_texts(const char *who, const char *prefix, int n, unsigned char *seen)
{
    char path[96];
    snprintf(path, sizeof path, "/admin/contacts/%s/inbox", who);
    int st = 0;
    cJSON *o = http1_request_json(g_admin, "GET", path, NULL, WAIT_MS, &st);
    assert_int_equal(st, 200);
    int got = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItem(o, "messages"))
    {
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(m, "text"));
        int k = -1;
        char tail;
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(m, "ok")));
        if (t && strncmp(t, prefix, strlen(prefix)) == 0 &&
            sscanf(t + strlen(prefix), " %d%c", &k, &tail) == 1 && k >= 0 && k < n) {
            assert_false(seen[k]); /* each text once */
            seen[k] = 1;
            got++;
        }
    }
    cJSON_Delete(o);
    return got;
}

/* The one-time pre-keys the account file of +15550001's device 1 lists (-1: unreadable). */
static int saved_prekeys(void)
{
    char path[128], txt[65536];
    snprintf(path, sizeof path, "%s/accounts/15550001.json", g_state);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(txt, 1, sizeof txt - 1, f);
    fclose(f);
    txt[n] = '\0';
    cJSON *o = cJSON_Parse(txt);
    int got = -1;
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItem(o, "devices"))
    {
        if (cJSON_GetNumberValue(cJSON_GetObjectItem(d, "id")) == 1)
            got = cJSON_GetArraySize(cJSON_GetObjectItem(d, "prekeys"));
    }
    cJSON_Delete(o);
    return got;
}

static void test_flood(void **state)
{
    (void)state;
    char resp[4096];
    static const char *phones[] = {"{\"name\":\"flooder\",\"phone\":\"+15550301\"}",
                                   "{\"name\":\"sink1\",\"phone\":\"+15550302\"}",
                                   "{\"name\":\"sink2\",\"phone\":\"+15550303\"}"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(http("POST", "/admin/contacts", phones[i], resp, sizeof resp), 201);
    /* 150 texts (more than two slices), round robin: even k to sink1, odd k to sink2 */
    enum { N = 150 };
    int st = 0;
    cJSON *r = http1_request_json(
        g_admin, "POST", "/admin/flood",
        "{\"from\":\"flooder\",\"to\":[\"sink1\",\"+15550303\"],\"count\":150,\"text\":\"fl\"}",
        WAIT_MS, &st);
    assert_int_equal(st, 200);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "sent")), N);
    assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "wall_ms")) >= 0);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(r, "cpu_ms")));
    cJSON_Delete(r);
    unsigned char seen1[N] = {0}, seen2[N] = {0};
    assert_int_equal(inbox_texts("sink1", "fl", N, seen1), N / 2);
    assert_int_equal(inbox_texts("sink2", "fl", N, seen2), N / 2);
    for (int k = 0; k < N; k++)
        assert_int_equal(seen1[k] + 2 * seen2[k], k % 2 ? 2 : 1);

    /* a group target: every member's phone gets every text (sender keys, as the send route) */
    cJSON *g = http1_request_json(
        g_admin, "POST", "/admin/groups",
        "{\"subject\":\"fl\",\"members\":[\"flooder\",\"sink1\",\"sink2\"]}", WAIT_MS, &st);
    assert_int_equal(st, 201);
    char body[256];
    snprintf(body, sizeof body,
             "{\"from\":\"flooder\",\"to\":[\"%s\"],\"count\":70,\"text\":\"grp\"}",
             cJSON_GetStringValue(cJSON_GetObjectItem(g, "jid")));
    cJSON_Delete(g);
    assert_int_equal(http("POST", "/admin/flood", body, resp, sizeof resp), 200);
    unsigned char g1[70] = {0}, g2[70] = {0};
    assert_int_equal(inbox_texts("sink1", "grp", 70, g1), 70);
    assert_int_equal(inbox_texts("sink2", "grp", 70, g2), 70);

    /* refused before anything is sent */
    static const struct {
        const char *body;
        int status;
    } bad[] = {
        {"{\"from\":\"flooder\",\"to\":[\"sink1\",\"nobody\"],\"count\":5}", 404},
        {"{\"from\":\"flooder\",\"to\":[\"flooder\"],\"count\":5}", 404},
        {"{\"from\":\"nobody\",\"to\":[\"sink1\"],\"count\":5}", 404},
        {"{\"from\":\"flooder\",\"to\":[],\"count\":5}", 400},
        {"{\"from\":\"flooder\",\"to\":[\"sink1\"],\"count\":0}", 400},
        {"{\"from\":\"flooder\",\"to\":[\"sink1\"],\"count\":5,\"text\":\"\"}", 400},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (http("POST", "/admin/flood", bad[i].body, resp, sizeof resp) != bad[i].status)
            fail_msg("case %zu: %s", i, resp);
    unsigned char again[N] = {0};
    assert_int_equal(inbox_texts("sink1", "fl", N, again), N / 2); /* nothing more arrived */

    /* the first text to +15550001's device takes one of its pre-keys: the account file is
     * written once the flood is over (saves are held while it runs) */
    int before = saved_prekeys();
    assert_true(before > 0);
    assert_int_equal(http("POST", "/admin/flood",
                          "{\"from\":\"flooder\",\"to\":[\"+15550001\"],\"count\":3}", resp,
                          sizeof resp),
                     200);
    int after = -1;
    for (int i = 0; i < 100 && after != before - 1; i++) {
        usleep(10000);
        after = saved_prekeys();
    }
    assert_int_equal(after, before - 1);

    /* one flood at a time: a second one while the first runs gets 409; the first stops when
     * its requester goes away (it would take minutes), and the next one is accepted again */
    int fd = http1_connect(g_admin);
    assert_true(fd >= 0);
    static const char big[] = "{\"from\":\"flooder\",\"to\":[\"sink1\"],\"count\":1000000,"
                              "\"text\":\"busy\"}";
    char req[512];
    int len = snprintf(req, sizeof req,
                       "POST /admin/flood HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\n\r\n%s",
                       strlen(big), big);
    assert_int_equal(write_all(fd, req, (size_t)len), 0);
    static const char one[] = "{\"from\":\"flooder\",\"to\":[\"sink2\"],\"count\":1}";
    int busy = 0;
    for (int i = 0; i < 200 && busy != 409; i++) /* until fakewa has read the first one */
        busy = http("POST", "/admin/flood", one, resp, sizeof resp);
    assert_int_equal(busy, 409);
    close(fd);
    int ok = 0;
    for (int i = 0; i < 200 && ok != 200; i++) {
        ok = http("POST", "/admin/flood", one, resp, sizeof resp);
        if (ok != 200) usleep(10000);
    }
    assert_int_equal(ok, 200);
    int st1 = 0, st2 = 0;
    cJSON *s1 = http1_request_json(g_admin, "GET", "/admin/stats", NULL, WAIT_MS, &st1);
    usleep(200000);
    cJSON *s2 = http1_request_json(g_admin, "GET", "/admin/stats", NULL, WAIT_MS, &st2);
    assert_int_equal(st1, 200);
    assert_int_equal(st2, 200);
    double d1 = cJSON_GetNumberValue(cJSON_GetObjectItem(s1, "sim_decrypted"));
    double d2 = cJSON_GetNumberValue(cJSON_GetObjectItem(s2, "sim_decrypted"));
    assert_true(d1 > 0);
    assert_true(d2 == d1); /* nothing is sent any more */
    cJSON_Delete(s1);
    cJSON_Delete(s2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair),       cmocka_unit_test(test_login_offline_queue),
        cmocka_unit_test(test_rejections), cmocka_unit_test(test_faults),
        cmocka_unit_test(test_flood),
    };
    return cmocka_run_group_tests(tests, start_fakewa, stop_fakewa);
}
