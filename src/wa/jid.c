/* SPDX-License-Identifier: MIT */
/* jid.c -- JID parsing, formatting and classification. */
#include "wa/jid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *ad_server(uint8_t agent)
{
    switch (agent) {
    case WA_DOMAIN_LID:
        return WA_SERVER_LID;
    case WA_DOMAIN_HOSTED:
        return WA_SERVER_HOSTED;
    case WA_DOMAIN_HOSTED_LID:
        return WA_SERVER_HOSTED_LID;
    default:
        return WA_SERVER_PN;
    }
}

static bool is_std_domain(unsigned a)
{
    return a == WA_DOMAIN_PN || a == WA_DOMAIN_LID || a == WA_DOMAIN_HOSTED ||
           a == WA_DOMAIN_HOSTED_LID;
}

/* Domain byte of an AD-capable server, -1 if the server cannot be AD. */
static int server_domain(const char *server)
{
    if (strcmp(server, WA_SERVER_PN) == 0) return WA_DOMAIN_PN;
    if (strcmp(server, WA_SERVER_LID) == 0) return WA_DOMAIN_LID;
    if (strcmp(server, WA_SERVER_HOSTED) == 0) return WA_DOMAIN_HOSTED;
    if (strcmp(server, WA_SERVER_HOSTED_LID) == 0) return WA_DOMAIN_HOSTED_LID;
    return -1;
}

static int copy_part(char *dst, size_t dstmax, const char *s, size_t n)
{
    if (n >= dstmax) return -ENAMETOOLONG;
    if (memchr(s, '\0', n)) return -EINVAL;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* Parse 1..5 decimal digits (no sign, no leading '+') into *v <= max. */
static int parse_uint(const char *s, size_t n, unsigned max, unsigned *v)
{
    if (n == 0 || n > 5) return -EINVAL;
    unsigned x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -EINVAL;
        x = x * 10 + (unsigned)(s[i] - '0');
    }
    if (x > max) return -EINVAL;
    *v = x;
    return 0;
}

/* Split "left:device" at the last ':'; returns 0 and sets *dev if there is a
 * valid device suffix, 1 if there is no ':', -EINVAL for a bad device. */
static int split_device(const char *s, size_t n, unsigned max, size_t *leftlen, unsigned *dev)
{
    const char *c = memrchr(s, ':', n);
    if (!c) return 1;
    *leftlen = (size_t)(c - s);
    return parse_uint(c + 1, n - *leftlen - 1, max, dev);
}

static int parse_ad(struct wa_jid *j, const char *s, size_t n, int domain)
{
    size_t left;
    unsigned dev, agent = (unsigned)domain;
    int rc = split_device(s, n, 255, &left, &dev);
    if (rc != 0) return rc;
    const char *us = memrchr(s, '_', left);
    if (domain == WA_DOMAIN_PN && us) {
        unsigned a;
        size_t ulen = (size_t)(us - s);
        if (parse_uint(us + 1, left - ulen - 1, 255, &a) == 0 && !is_std_domain(a)) {
            agent = a;
            left = ulen;
        }
    }
    rc = copy_part(j->user, sizeof(j->user), s, left);
    if (rc) return rc;
    j->form = WA_JID_FORM_AD;
    j->agent = (uint8_t)agent;
    j->device = (uint16_t)dev;
    return 0;
}

static int parse_fb(struct wa_jid *j, const char *s, size_t n)
{
    size_t left;
    unsigned dev;
    int rc = split_device(s, n, 65535, &left, &dev);
    if (rc != 0) return rc;
    j->form = WA_JID_FORM_FB;
    j->device = (uint16_t)dev;
    return copy_part(j->user, sizeof(j->user), s, left);
}

static int parse_interop(struct wa_jid *j, const char *s, size_t n)
{
    size_t left;
    unsigned dev, integ;
    int rc = split_device(s, n, 65535, &left, &dev);
    if (rc != 0) return -EINVAL;
    const char *dash = memchr(s, '-', left);
    if (!dash || parse_uint(s, (size_t)(dash - s), 65535, &integ) != 0) return -EINVAL;
    j->form = WA_JID_FORM_INTEROP;
    j->device = (uint16_t)dev;
    j->integrator = (uint16_t)integ;
    size_t off = (size_t)(dash - s) + 1;
    return copy_part(j->user, sizeof(j->user), s + off, left - off);
}

static int parse_user(struct wa_jid *j, const char *s, size_t n)
{
    int domain = server_domain(j->server);
    int rc = 1;
    if (domain >= 0)
        rc = parse_ad(j, s, n, domain);
    else if (strcmp(j->server, WA_SERVER_FB) == 0)
        rc = parse_fb(j, s, n);
    else if (strcmp(j->server, WA_SERVER_INTEROP) == 0)
        return parse_interop(j, s, n);
    if (rc <= 0) return rc;
    j->form = WA_JID_FORM_PAIR;
    return copy_part(j->user, sizeof(j->user), s, n);
}

int wa_jid_parse(struct wa_jid *j, const char *s, size_t n)
{
    memset(j, 0, sizeof(*j));
    const char *at = memrchr(s, '@', n);
    size_t ulen = at ? (size_t)(at - s) : 0;
    size_t soff = at ? ulen + 1 : 0;
    int rc = copy_part(j->server, sizeof(j->server), s + soff, n - soff);
    if (rc == 0 && j->server[0] == '\0') rc = -EINVAL;
    if (rc == 0) rc = parse_user(j, s, ulen);
    if (rc) memset(j, 0, sizeof(*j));
    return rc;
}

static int finish(int w, size_t outlen)
{
    if (w < 0 || (size_t)w >= outlen) return -ENOBUFS;
    return w;
}

int wa_jid_format(const struct wa_jid *j, char *out, size_t outlen)
{
    switch (j->form) {
    case WA_JID_FORM_AD:
        if (!is_std_domain(j->agent))
            return finish(
                snprintf(out, outlen, "%s_%u:%u@%s", j->user, j->agent, j->device, j->server),
                outlen);
        return finish(snprintf(out, outlen, "%s:%u@%s", j->user, j->device, j->server), outlen);
    case WA_JID_FORM_FB:
        return finish(snprintf(out, outlen, "%s:%u@%s", j->user, j->device, j->server), outlen);
    case WA_JID_FORM_INTEROP:
        return finish(
            snprintf(out, outlen, "%u-%s:%u@%s", j->integrator, j->user, j->device, j->server),
            outlen);
    default:
        return wa_jid_format_bare(j, out, outlen);
    }
}

int wa_jid_format_bare(const struct wa_jid *j, char *out, size_t outlen)
{
    if (j->user[0] == '\0') return finish(snprintf(out, outlen, "%s", j->server), outlen);
    return finish(snprintf(out, outlen, "%s@%s", j->user, j->server), outlen);
}

int wa_jid_set(struct wa_jid *j, const char *user, const char *server)
{
    memset(j, 0, sizeof(*j));
    int rc = copy_part(j->user, sizeof(j->user), user ? user : "", user ? strlen(user) : 0);
    if (rc == 0) rc = copy_part(j->server, sizeof(j->server), server, strlen(server));
    if (rc == 0 && j->server[0] == '\0') rc = -EINVAL;
    if (rc) memset(j, 0, sizeof(*j));
    return rc;
}

int wa_jid_set_ad(struct wa_jid *j, const char *user, uint8_t domain, uint8_t device)
{
    int rc = wa_jid_set(j, user, ad_server(domain));
    if (rc) return rc;
    j->form = WA_JID_FORM_AD;
    j->agent = domain;
    j->device = device;
    return 0;
}

enum wa_jid_kind wa_jid_kind(const struct wa_jid *j)
{
    static const struct {
        const char *server;
        enum wa_jid_kind kind;
    } map[] = {
        {WA_SERVER_PN, WA_JID_KIND_PN},
        {WA_SERVER_LEGACY_PN, WA_JID_KIND_PN},
        {WA_SERVER_LID, WA_JID_KIND_LID},
        {WA_SERVER_GROUP, WA_JID_KIND_GROUP},
        {WA_SERVER_BROADCAST, WA_JID_KIND_BROADCAST},
        {WA_SERVER_NEWSLETTER, WA_JID_KIND_NEWSLETTER},
        {WA_SERVER_BOT, WA_JID_KIND_BOT},
        {WA_SERVER_HOSTED, WA_JID_KIND_HOSTED},
        {WA_SERVER_HOSTED_LID, WA_JID_KIND_HOSTED},
        {WA_SERVER_FB, WA_JID_KIND_FB},
        {WA_SERVER_INTEROP, WA_JID_KIND_INTEROP},
    };
    if (j->user[0] == '\0') return WA_JID_KIND_SERVER;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(j->server, map[i].server) == 0) return map[i].kind;
    return WA_JID_KIND_OTHER;
}

bool wa_jid_is_group(const struct wa_jid *j)
{
    return wa_jid_kind(j) == WA_JID_KIND_GROUP;
}

bool wa_jid_is_broadcast(const struct wa_jid *j)
{
    return wa_jid_kind(j) == WA_JID_KIND_BROADCAST;
}

bool wa_jid_is_status_broadcast(const struct wa_jid *j)
{
    return wa_jid_is_broadcast(j) && strcmp(j->user, "status") == 0;
}

bool wa_jid_is_pn(const struct wa_jid *j)
{
    return wa_jid_kind(j) == WA_JID_KIND_PN;
}

bool wa_jid_is_lid(const struct wa_jid *j)
{
    return wa_jid_kind(j) == WA_JID_KIND_LID;
}

bool wa_jid_is_server(const struct wa_jid *j)
{
    return j->user[0] == '\0';
}

uint8_t wa_jid_domain_type(const struct wa_jid *j)
{
    if (j->form == WA_JID_FORM_AD) return j->agent;
    int d = server_domain(j->server);
    return d < 0 ? 0 : (uint8_t)d;
}

int wa_jid_signal_name(const struct wa_jid *j, char *out, size_t outlen)
{
    uint8_t d = wa_jid_domain_type(j);
    if (d == 0) return finish(snprintf(out, outlen, "%s", j->user), outlen);
    return finish(snprintf(out, outlen, "%s_%u", j->user, d), outlen);
}

bool wa_jid_equal(const struct wa_jid *a, const struct wa_jid *b)
{
    return a->form == b->form && a->agent == b->agent && a->device == b->device &&
           a->integrator == b->integrator && strcmp(a->user, b->user) == 0 &&
           strcmp(a->server, b->server) == 0;
}

bool wa_jid_same_user(const struct wa_jid *a, const struct wa_jid *b)
{
    return strcmp(a->user, b->user) == 0 && strcmp(a->server, b->server) == 0;
}
