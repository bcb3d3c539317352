/* SPDX-License-Identifier: MIT */
/* testdns.c -- tiny scriptable DNS server on loopback UDP for wagate's tests.
 *
 * Usage: wagate-testdns --listen 127.0.0.1:PORT [--rule NAME=ACTION]... [--control FILE]
 *                       [--default ACTION] [--verbose]
 *
 * PORT 0 picks a free port. The first line on stdout is always
 *   listening 127.0.0.1:PORT
 * Only loopback addresses (127.0.0.0/8, ::1) are accepted for --listen.
 *
 * ACTION is one of:
 *   a:ADDR[,ADDR...]   answer A queries with the IPv4 and AAAA queries with the IPv6
 *                      addresses of the list (an empty answer = NOERROR/no data)
 *   nxdomain | servfail | refused   answer with that RCODE
 *   drop               never answer (the client times out)
 * NAME is matched case-insensitively without a trailing dot; names without a rule get
 * the --default action (default: nxdomain).
 *
 * Control channel: the --control FILE is re-read on every query. Each line is
 * "NAME ACTION" ('#' starts a comment); its rules take priority over --rule. Tests
 * change the behaviour at run time by rewriting the file (write a temp file, rename).
 *
 * Robustness: queries longer than 512 bytes, with QDCOUNT != 1, compression pointers
 * or bad labels in the question, or responses (QR set) are dropped. Caps: 64 rules,
 * 8 addresses per rule. SIGINT/SIGTERM stop the server.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#define MAX_RULES    64
#define MAX_ADDRS    8
#define MAX_QUERY    512
#define NAME_MAX_LEN 255

enum act { ACT_ADDR, ACT_NXDOMAIN, ACT_SERVFAIL, ACT_REFUSED, ACT_DROP };

struct rule {
    char name[NAME_MAX_LEN + 1];
    enum act act;
    int naddr;
    int fam[MAX_ADDRS];
    uint8_t addr[MAX_ADDRS][16];
};

struct server {
    uv_loop_t *loop;
    uv_udp_t udp;
    uv_signal_t sigint, sigterm;
    struct rule rules[MAX_RULES];
    int nrules;
    struct rule dflt;
    const char *control;
    bool verbose;
    uint8_t rbuf[65536];
};

static int parse_action(const char *s, struct rule *r)
{
    char tmp[512], *tok, *save = NULL;

    r->naddr = 0;
    if (strcasecmp(s, "nxdomain") == 0)
        r->act = ACT_NXDOMAIN;
    else if (strcasecmp(s, "servfail") == 0)
        r->act = ACT_SERVFAIL;
    else if (strcasecmp(s, "refused") == 0)
        r->act = ACT_REFUSED;
    else if (strcasecmp(s, "drop") == 0 || strcasecmp(s, "timeout") == 0)
        r->act = ACT_DROP;
    else if (strncasecmp(s, "a:", 2) == 0 && strlen(s) < sizeof(tmp)) {
        r->act = ACT_ADDR;
        snprintf(tmp, sizeof(tmp), "%s", s + 2);
        for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (r->naddr == MAX_ADDRS) return -1;
            if (inet_pton(AF_INET, tok, r->addr[r->naddr]) == 1)
                r->fam[r->naddr++] = AF_INET;
            else if (inet_pton(AF_INET6, tok, r->addr[r->naddr]) == 1)
                r->fam[r->naddr++] = AF_INET6;
            else
                return -1;
        }
    } else {
        return -1;
    }
    return 0;
}

static void norm_name(char *dst, const char *src)
{
    size_t n = strlen(src);

    if (n > NAME_MAX_LEN) n = NAME_MAX_LEN;
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    if (n > 0 && dst[n - 1] == '.') n--;
    dst[n] = '\0';
}

static int add_rule(struct rule *rules, int *n, const char *name, const char *action)
{
    struct rule r;

    if (*n >= MAX_RULES || strlen(name) > NAME_MAX_LEN) return -1;
    memset(&r, 0, sizeof(r));
    norm_name(r.name, name);
    if (parse_action(action, &r) != 0) return -1;
    rules[(*n)++] = r;
    return 0;
}

static const struct rule *find(const struct rule *rules, int n, const char *name)
{
    for (int i = n - 1; i >= 0; i--)
        if (strcmp(rules[i].name, name) == 0) return &rules[i];
    return NULL;
}

/* Rules from the control file (if readable) win over the command line. */
static const struct rule *lookup(struct server *s, const char *name, struct rule *tmp)
{
    static struct rule file_rules[MAX_RULES];
    int n = 0;
    const struct rule *r;
    char line[600], a[NAME_MAX_LEN + 1], b[512];
    FILE *f = s->control ? fopen(s->control, "r") : NULL;

    while (f && fgets(line, sizeof(line), f)) {
        char *hash = strchr(line, '#');

        if (hash) *hash = '\0';
        if (sscanf(line, "%255s %511s", a, b) == 2 && add_rule(file_rules, &n, a, b) != 0 &&
            s->verbose)
            fprintf(stderr, "testdns: bad control line: %s", line);
    }
    if (f) fclose(f);
    r = find(file_rules, n, name);
    if (!r) r = find(s->rules, s->nrules, name);
    if (r) {
        *tmp = *r;
        return tmp;
    }
    return &s->dflt;
}

/* Parse the question; returns its end offset or -1. */
static int parse_question(const uint8_t *q, size_t n, char *name, uint16_t *qtype)
{
    size_t off = 12, out = 0;

    if (n < 12 || n > MAX_QUERY || (q[2] & 0x80) || q[4] != 0 || q[5] != 1) return -1;
    for (;;) {
        uint8_t l;

        if (off >= n) return -1;
        l = q[off++];
        if (l == 0) break;
        if (l > 63 || off + l > n || out + l + 1 > NAME_MAX_LEN) return -1;
        if (out) name[out++] = '.';
        for (uint8_t i = 0; i < l; i++)
            name[out++] = (char)tolower(q[off + i]);
        off += l;
    }
    name[out] = '\0';
    if (off + 4 > n) return -1;
    *qtype = (uint16_t)(q[off] << 8 | q[off + 1]);
    return (int)(off + 4);
}

static size_t put_answers(uint8_t *o, size_t off, const struct rule *r, uint16_t qtype,
                          uint16_t *count)
{
    int want = qtype == 1 ? AF_INET : qtype == 28 ? AF_INET6 : 0;

    for (int i = 0; i < r->naddr; i++) {
        size_t len = r->fam[i] == AF_INET ? 4 : 16;

        if (r->fam[i] != want) continue;
        const uint8_t rr[] = {0xc0, 0x0c, 0, (uint8_t)qtype, 0, 1, 0, 0, 0, 60, 0, (uint8_t)len};
        memcpy(o + off, rr, sizeof(rr));
        memcpy(o + off + sizeof(rr), r->addr[i], len);
        off += sizeof(rr) + len;
        (*count)++;
    }
    return off;
}

static void on_sent(uv_udp_send_t *req, int status)
{
    free(req);
}

static void answer(struct server *s, const uint8_t *q, size_t n, const struct sockaddr *from)
{
    char name[NAME_MAX_LEN + 1];
    uint16_t qtype = 0, an = 0;
    struct rule tmp;
    const struct rule *r;
    int qend = parse_question(q, n, name, &qtype);
    uv_udp_send_t *req;
    uint8_t *o;
    size_t off;
    uv_buf_t b;

    if (qend < 0) return;
    r = lookup(s, name, &tmp);
    if (s->verbose) fprintf(stderr, "testdns: %s type %u -> %d\n", name, qtype, (int)r->act);
    if (r->act == ACT_DROP) return;
    req = malloc(sizeof(*req) + MAX_QUERY + MAX_ADDRS * 28);
    if (!req) return;
    o = (uint8_t *)(req + 1);
    memcpy(o, q, (size_t)qend);
    o[2] = (uint8_t)(0x80 | (q[2] & 0x79)); /* QR, opcode, RD */
    o[3] = (uint8_t)(0x80 | (r->act == ACT_NXDOMAIN   ? 3
                             : r->act == ACT_SERVFAIL ? 2
                             : r->act == ACT_REFUSED  ? 5
                                                      : 0));
    off = r->act == ACT_ADDR ? put_answers(o, (size_t)qend, r, qtype, &an) : (size_t)qend;
    o[6] = (uint8_t)(an >> 8);
    o[7] = (uint8_t)an;
    memset(o + 8, 0, 4); /* no authority / additional records */
    b = uv_buf_init((char *)o, (unsigned)off);
    if (uv_udp_send(req, &s->udp, &b, 1, from, on_sent) != 0) free(req);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct server *s = h->data;

    *b = uv_buf_init((char *)s->rbuf, sizeof(s->rbuf));
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *from,
                    unsigned flags)
{
    if (n <= 0 || !from || (flags & UV_UDP_PARTIAL)) return;
    answer(h->data, (const uint8_t *)b->base, (size_t)n, from);
}

static void on_signal(uv_signal_t *h, int sig)
{
    struct server *s = h->data;

    uv_close((uv_handle_t *)&s->udp, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
}

static int parse_listen(const char *spec, struct sockaddr_storage *ss)
{
    char host[64];
    const char *colon = strrchr(spec, ':');
    size_t hl;
    long port;
    char *end;

    if (!colon || (hl = (size_t)(colon - spec)) == 0 || hl >= sizeof(host)) return -1;
    memcpy(host, spec, hl);
    host[hl] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) return -1;
    if (host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        if (uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)ss) != 0 ||
            strcmp(host + 1, "::1") != 0)
            return -1;
        return 0;
    }
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) != 0 || strncmp(host, "127.", 4))
        return -1;
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: wagate-testdns --listen 127.0.0.1:PORT [--rule NAME=ACTION]... "
                    "[--control FILE] [--default ACTION] [--verbose]\n");
    return 2;
}

static int parse_args(struct server *s, int argc, char **argv, struct sockaddr_storage *ss)
{
    bool have_listen = false;

    parse_action("nxdomain", &s->dflt);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--verbose") == 0) {
            s->verbose = true;
            continue;
        }
        if (!v) return -1;
        i++;
        if (strcmp(a, "--listen") == 0) {
            if (parse_listen(v, ss) != 0) return -1;
            have_listen = true;
        } else if (strcmp(a, "--control") == 0) {
            s->control = v;
        } else if (strcmp(a, "--default") == 0) {
            if (parse_action(v, &s->dflt) != 0) return -1;
        } else if (strcmp(a, "--rule") == 0) {
            char name[NAME_MAX_LEN + 1];
            const char *eq = strchr(v, '=');

            if (!eq || (size_t)(eq - v) > NAME_MAX_LEN) return -1;
            memcpy(name, v, (size_t)(eq - v));
            name[eq - v] = '\0';
            if (add_rule(s->rules, &s->nrules, name, eq + 1) != 0) return -1;
        } else {
            return -1;
        }
    }
    return have_listen ? 0 : -1;
}

static int print_bound(struct server *s)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN];
    int port;

    if (uv_udp_getsockname(&s->udp, (struct sockaddr *)&ss, &len) != 0) return -1;
    if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        printf("listening [%s]:%d\n", ip, port);
    } else {
        uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        printf("listening %s:%d\n", ip, port);
    }
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    static struct server s;
    struct sockaddr_storage ss;
    int rc;

    memset(&ss, 0, sizeof(ss));
    if (parse_args(&s, argc, argv, &ss) != 0) return usage();
    s.loop = uv_default_loop();
    uv_udp_init(s.loop, &s.udp);
    s.udp.data = &s;
    rc = uv_udp_bind(&s.udp, (const struct sockaddr *)&ss, 0);
    if (rc == 0) rc = uv_udp_recv_start(&s.udp, on_alloc, on_recv);
    if (rc != 0 || print_bound(&s) != 0) {
        fprintf(stderr, "wagate-testdns: cannot listen: %s\n", uv_strerror(rc));
        return 1;
    }
    uv_signal_init(s.loop, &s.sigint);
    uv_signal_init(s.loop, &s.sigterm);
    s.sigint.data = s.sigterm.data = &s;
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    uv_run(s.loop, UV_RUN_DEFAULT);
    uv_loop_close(s.loop);
    return 0;
}
