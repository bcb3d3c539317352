/* SPDX-License-Identifier: MIT */
/* node.c -- binary node tree: builders, accessors, decoder and encoder (§4.2-4.3). */
#include "wa/node.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "wa/tokens.h"

enum {
    TAG_LIST_EMPTY = 0,
    TAG_DICT_0 = 236,
    TAG_DICT_3 = 239,
    TAG_INTEROP_JID = 245,
    TAG_FB_JID = 246,
    TAG_AD_JID = 247,
    TAG_LIST_8 = 248,
    TAG_LIST_16 = 249,
    TAG_JID_PAIR = 250,
    TAG_HEX_8 = 251,
    TAG_BINARY_8 = 252,
    TAG_BINARY_20 = 253,
    TAG_BINARY_32 = 254,
    TAG_NIBBLE_8 = 255,
};

#define PACKED_MAX      127 /* canonical packing limit, in characters */
#define PACKED_WIRE_MAX 254 /* what one packed string can hold */

/* ================================================================ strings */

static void str_free(struct wa_str *s)
{
    if (s->owned == 1) free((char *)s->s);
    s->s = "";
    s->len = 0;
    s->owned = 0;
}

static int str_copy(struct wa_str *dst, const char *s, size_t len, uint8_t enc)
{
    if (len > UINT32_MAX) return -EMSGSIZE;
    char *p = malloc(len + 1);
    if (!p) return -ENOMEM;
    if (len) memcpy(p, s, len);
    p[len] = '\0';
    dst->s = p;
    dst->len = (uint32_t)len;
    dst->enc = enc;
    dst->owned = 1;
    return 0;
}

/* Copy src into dst. Only strings the decoder took from the static token tables
 * (owned == WA_STR_STATIC) and empty strings are shared; anything a caller passes
 * is copied, whatever its `owned` says. */
static int str_dup(struct wa_str *dst, const struct wa_str *src)
{
    if (src->owned == WA_STR_STATIC || src->len == 0) {
        *dst = *src;
        if (src->len == 0) dst->s = "";
        dst->owned = src->len == 0 ? 0 : WA_STR_STATIC;
        return 0;
    }
    return str_copy(dst, src->s, src->len, src->enc);
}

static bool str_eq(const struct wa_str *a, const struct wa_str *b)
{
    return a->len == b->len && a->enc == b->enc && memcmp(a->s, b->s, a->len) == 0;
}

static bool str_is(const struct wa_str *a, const char *s)
{
    size_t n = strlen(s);
    return a->len == n && memcmp(a->s, s, n) == 0;
}

static bool nibble_char(char c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static bool hex_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static bool all_chars(const char *s, size_t len, bool (*ok)(char))
{
    for (size_t i = 0; i < len; i++)
        if (!ok(s[i])) return false;
    return true;
}

enum wa_str_enc wa_str_canonical(const char *s, size_t len)
{
    struct wa_token t;
    if (wa_token_find(s, len, &t) != WA_TOKEN_NONE) return WA_STR_AUTO;
    if (len == 0 || len > PACKED_MAX) return WA_STR_RAW;
    if (all_chars(s, len, nibble_char)) return WA_STR_NIBBLE;
    if (all_chars(s, len, hex_char)) return WA_STR_HEX;
    return WA_STR_RAW;
}

bool wa_str_encodable(const char *s, size_t len, enum wa_str_enc enc)
{
    switch (enc) {
    case WA_STR_AUTO:
    case WA_STR_RAW:
        return true;
    case WA_STR_NIBBLE:
        return len <= PACKED_WIRE_MAX && all_chars(s, len, nibble_char);
    case WA_STR_HEX:
        return len <= PACKED_WIRE_MAX && all_chars(s, len, hex_char);
    case WA_STR_NIL:
        return len == 0;
    default:
        return false;
    }
}

/* ================================================================ tree */

struct wa_node *wa_node_new(const char *tag)
{
    if (!tag || !*tag) return NULL;
    struct wa_node *n = calloc(1, sizeof(*n));
    if (!n) return NULL;
    if (str_copy(&n->tag, tag, strlen(tag), WA_STR_AUTO)) {
        free(n);
        return NULL;
    }
    return n;
}

static void attr_free(struct wa_attr *a)
{
    str_free(&a->key);
    str_free(&a->str);
    free(a->jid_text);
    a->jid_text = NULL;
}

void wa_node_clear_content(struct wa_node *n)
{
    for (uint32_t i = 0; i < n->c.nchildren; i++)
        wa_node_free(n->c.children[i]);
    free(n->c.children);
    free(n->c.bytes);
    str_free(&n->c.str);
    memset(&n->c, 0, sizeof(n->c));
    n->c.str.s = "";
    n->content_type = WA_CONTENT_NONE;
}

void wa_node_free(struct wa_node *n)
{
    if (!n) return;
    wa_node_clear_content(n);
    for (uint32_t i = 0; i < n->nattrs; i++)
        attr_free(&n->attrs[i]);
    free(n->attrs);
    str_free(&n->tag);
    free(n);
}

static int clone_content(struct wa_node *dst, const struct wa_node *src)
{
    switch (src->content_type) {
    case WA_CONTENT_LIST: {
        int rc = wa_node_set_empty_list(dst);
        for (uint32_t i = 0; rc == 0 && i < src->c.nchildren; i++) {
            struct wa_node *c = wa_node_clone(src->c.children[i]);
            rc = c ? wa_node_add_child(dst, c) : -ENOMEM;
            if (rc < 0) wa_node_free(c);
        }
        return rc;
    }
    case WA_CONTENT_BYTES:
        return wa_node_set_bytes(dst, src->c.bytes, src->c.nbytes);
    case WA_CONTENT_STRING:
        return wa_node_set_string(dst, &src->c.str);
    case WA_CONTENT_JID:
        return wa_node_set_jid(dst, &src->c.jid);
    default:
        return 0;
    }
}

struct wa_node *wa_node_clone(const struct wa_node *n)
{
    if (!n) return NULL;
    struct wa_node *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->c.str.s = "";
    int rc = str_dup(&c->tag, &n->tag);
    for (uint32_t i = 0; rc == 0 && i < n->nattrs; i++) {
        const struct wa_attr *a = &n->attrs[i];
        rc = wa_node_append_attr(c, &a->key, &a->str, a->type == WA_VAL_JID ? &a->jid : NULL);
    }
    if (rc == 0) rc = clone_content(c, n);
    if (rc < 0) {
        wa_node_free(c);
        return NULL;
    }
    return c;
}

static int attrs_grow(struct wa_node *n)
{
    if (n->nattrs < n->attrs_cap) return 0;
    uint32_t cap = n->attrs_cap ? n->attrs_cap * 2 : 4;
    struct wa_attr *a = realloc(n->attrs, cap * sizeof(*a));
    if (!a) return -ENOMEM;
    n->attrs = a;
    n->attrs_cap = cap;
    return 0;
}

int wa_node_append_attr(struct wa_node *n, const struct wa_str *key, const struct wa_str *value,
                        const struct wa_jid *jid)
{
    int rc = attrs_grow(n);
    if (rc) return rc;
    struct wa_attr a = {.str = {.s = ""}};
    rc = str_dup(&a.key, key);
    if (rc) return rc;
    if (jid) {
        a.type = WA_VAL_JID;
        a.jid = *jid;
    } else if ((rc = str_dup(&a.str, value)) != 0) {
        str_free(&a.key);
        return rc;
    }
    n->attrs[n->nattrs++] = a;
    return 0;
}

static struct wa_attr *find_attr(const struct wa_node *n, const char *key)
{
    if (!n) return NULL;
    for (uint32_t i = 0; i < n->nattrs; i++)
        if (str_is(&n->attrs[i].key, key)) return &n->attrs[i];
    return NULL;
}

static int set_attr(struct wa_node *n, const char *key, const char *value, const struct wa_jid *jid)
{
    struct wa_str k = {.s = key, .len = (uint32_t)strlen(key)};
    struct wa_str v = {.s = value ? value : "", .len = value ? (uint32_t)strlen(value) : 0};
    struct wa_attr *old = find_attr(n, key);
    if (!old) return wa_node_append_attr(n, &k, &v, jid);
    struct wa_attr a = {.key = old->key, .str = {.s = ""}};
    if (jid) {
        a.type = WA_VAL_JID;
        a.jid = *jid;
    } else {
        int rc = str_dup(&a.str, &v);
        if (rc) return rc;
    }
    old->key = (struct wa_str){.s = ""};
    attr_free(old);
    *old = a;
    return 0;
}

int wa_node_set_attr(struct wa_node *n, const char *key, const char *value)
{
    return set_attr(n, key, value, NULL);
}

int wa_node_set_attr_jid(struct wa_node *n, const char *key, const struct wa_jid *jid)
{
    return set_attr(n, key, NULL, jid);
}

static int children_grow(struct wa_node *n, uint32_t want)
{
    if (want <= n->c.children_cap) return 0;
    uint32_t cap = n->c.children_cap ? n->c.children_cap : 4;
    while (cap < want)
        cap *= 2;
    struct wa_node **v = realloc(n->c.children, cap * sizeof(*v));
    if (!v) return -ENOMEM;
    n->c.children = v;
    n->c.children_cap = cap;
    return 0;
}

int wa_node_set_empty_list(struct wa_node *n)
{
    if (n->content_type != WA_CONTENT_LIST) wa_node_clear_content(n);
    n->content_type = WA_CONTENT_LIST;
    return 0;
}

int wa_node_add_child(struct wa_node *parent, struct wa_node *child)
{
    if (parent->content_type != WA_CONTENT_NONE && parent->content_type != WA_CONTENT_LIST)
        return -EINVAL;
    int rc = children_grow(parent, parent->c.nchildren + 1);
    if (rc) return rc;
    parent->content_type = WA_CONTENT_LIST;
    parent->c.children[parent->c.nchildren++] = child;
    return 0;
}

int wa_node_set_bytes(struct wa_node *n, const void *p, size_t len)
{
    uint8_t *copy = NULL;
    if (len) {
        copy = malloc(len);
        if (!copy) return -ENOMEM;
        memcpy(copy, p, len);
    }
    wa_node_clear_content(n);
    n->content_type = WA_CONTENT_BYTES;
    n->c.bytes = copy;
    n->c.nbytes = len;
    return 0;
}

int wa_node_set_string(struct wa_node *n, const struct wa_str *s)
{
    struct wa_str copy;
    int rc = str_dup(&copy, s);
    if (rc) return rc;
    wa_node_clear_content(n);
    n->content_type = WA_CONTENT_STRING;
    n->c.str = copy;
    return 0;
}

int wa_node_set_jid(struct wa_node *n, const struct wa_jid *jid)
{
    wa_node_clear_content(n);
    n->content_type = WA_CONTENT_JID;
    n->c.jid = *jid;
    return 0;
}

/* ================================================================ reading */

const char *wa_node_attr(const struct wa_node *n, const char *key)
{
    struct wa_attr *a = find_attr(n, key);
    if (!a) return NULL;
    if (a->type == WA_VAL_STR) return a->str.s;
    if (!a->jid_text) {
        char tmp[WA_JID_STR_MAX];
        if (wa_jid_format(&a->jid, tmp, sizeof(tmp)) < 0) return NULL;
        a->jid_text = strdup(tmp); /* logically-const cache */
    }
    return a->jid_text;
}

int wa_node_attr_jid(const struct wa_node *n, const char *key, struct wa_jid *out)
{
    const struct wa_attr *a = find_attr(n, key);
    if (!a) return -ENOENT;
    if (a->type == WA_VAL_JID) {
        *out = a->jid;
        return 0;
    }
    return wa_jid_parse(out, a->str.s, a->str.len) ? -EINVAL : 0;
}

struct wa_node *wa_node_next_child(const struct wa_node *n, const char *tag,
                                   const struct wa_node *prev)
{
    if (!n || n->content_type != WA_CONTENT_LIST) return NULL;
    uint32_t i = 0;
    if (prev) {
        while (i < n->c.nchildren && n->c.children[i] != prev)
            i++;
        i++;
    }
    for (; i < n->c.nchildren; i++)
        if (!tag || str_is(&n->c.children[i]->tag, tag)) return n->c.children[i];
    return NULL;
}

struct wa_node *wa_node_child(const struct wa_node *n, const char *tag)
{
    return wa_node_next_child(n, tag, NULL);
}

size_t wa_node_child_count(const struct wa_node *n)
{
    return n && n->content_type == WA_CONTENT_LIST ? n->c.nchildren : 0;
}

struct wa_node *wa_node_child_at(const struct wa_node *n, size_t i)
{
    return i < wa_node_child_count(n) ? n->c.children[i] : NULL;
}

const uint8_t *wa_node_content_bytes(const struct wa_node *n, size_t *len)
{
    if (!n || n->content_type != WA_CONTENT_BYTES) {
        *len = 0;
        return NULL;
    }
    *len = n->c.nbytes;
    return n->c.bytes ? n->c.bytes : (const uint8_t *)"";
}

const char *wa_node_content_string(const struct wa_node *n)
{
    return n && n->content_type == WA_CONTENT_STRING ? n->c.str.s : NULL;
}

static bool attr_eq(const struct wa_attr *a, const struct wa_attr *b)
{
    if (!str_eq(&a->key, &b->key) || a->type != b->type) return false;
    return a->type == WA_VAL_JID ? wa_jid_equal(&a->jid, &b->jid) : str_eq(&a->str, &b->str);
}

static bool content_eq(const struct wa_node *a, const struct wa_node *b)
{
    switch (a->content_type) {
    case WA_CONTENT_LIST:
        if (a->c.nchildren != b->c.nchildren) return false;
        for (uint32_t i = 0; i < a->c.nchildren; i++)
            if (!wa_node_equal(a->c.children[i], b->c.children[i])) return false;
        return true;
    case WA_CONTENT_BYTES:
        return a->c.nbytes == b->c.nbytes &&
               (a->c.nbytes == 0 || memcmp(a->c.bytes, b->c.bytes, a->c.nbytes) == 0);
    case WA_CONTENT_STRING:
        return str_eq(&a->c.str, &b->c.str);
    case WA_CONTENT_JID:
        return wa_jid_equal(&a->c.jid, &b->c.jid);
    default:
        return true;
    }
}

bool wa_node_equal(const struct wa_node *a, const struct wa_node *b)
{
    if (!str_eq(&a->tag, &b->tag) || a->nattrs != b->nattrs || a->content_type != b->content_type)
        return false;
    for (uint32_t i = 0; i < a->nattrs; i++)
        if (!attr_eq(&a->attrs[i], &b->attrs[i])) return false;
    return content_eq(a, b);
}

/* ================================================================ decoder */

struct dec {
    const uint8_t *p;
    size_t len, pos;
    struct wa_node_limits lim;
    size_t nodes;
    char *err;
    size_t errlen;
};

/* A decoded string item: a string, a JID or LIST_EMPTY. */
enum { SV_STR, SV_JID, SV_NIL };
struct sval {
    int type;
    struct wa_str str;
    struct wa_jid jid;
};

__attribute__((format(printf, 3, 4))) static int fail(struct dec *d, int rc, const char *fmt, ...)
{
    if (d->err && d->errlen) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(d->err, d->errlen, fmt, ap);
        va_end(ap);
        if (w >= 0 && (size_t)w < d->errlen)
            snprintf(d->err + w, d->errlen - (size_t)w, " at offset %zu", d->pos);
    }
    return rc;
}

static void set_limits(struct wa_node_limits *l, const struct wa_node_limits *in)
{
    static const struct wa_node_limits def = {
        .max_input = 16u << 20,
        .max_inflated = 16u << 20,
        .max_depth = 64,
        .max_children = 16384,
        .max_attrs = 128,
        .max_string = 16u << 20,
        .max_nodes = 200000,
    };
    *l = def;
    if (!in) return;
    l->max_input = in->max_input ? in->max_input : def.max_input;
    l->max_inflated = in->max_inflated ? in->max_inflated : def.max_inflated;
    l->max_depth = in->max_depth ? in->max_depth : def.max_depth;
    l->max_children = in->max_children ? in->max_children : def.max_children;
    l->max_attrs = in->max_attrs ? in->max_attrs : def.max_attrs;
    l->max_string = in->max_string ? in->max_string : def.max_string;
    l->max_nodes = in->max_nodes ? in->max_nodes : def.max_nodes;
}

static int rd_u8(struct dec *d, uint8_t *v, const char *what)
{
    *v = 0;
    if (d->pos >= d->len) return fail(d, -EBADMSG, "truncated input reading %s", what);
    *v = d->p[d->pos++];
    return 0;
}

static int rd_be(struct dec *d, unsigned nbytes, uint32_t *v, const char *what)
{
    *v = 0;
    if (d->len - d->pos < nbytes) return fail(d, -EBADMSG, "truncated input reading %s", what);
    uint32_t x = 0;
    for (unsigned i = 0; i < nbytes; i++)
        x = (x << 8) | d->p[d->pos++];
    *v = x;
    return 0;
}

/* Fill sv->str from raw wire bytes, setting the hint from the wire form. */
static int sv_set(struct dec *d, struct sval *sv, const char *s, size_t n, uint8_t wire)
{
    enum wa_str_enc canon = wa_str_canonical(s, n);
    int rc = str_copy(&sv->str, s, n, canon == wire ? WA_STR_AUTO : wire);
    if (rc) return fail(d, rc, "out of memory");
    sv->type = SV_STR;
    return 0;
}

static int rd_packed(struct dec *d, uint8_t tag, struct sval *sv)
{
    static const char nib[16] = {'0', '1', '2', '3', '4', '5', '6', '7',
                                 '8', '9', '-', '.', 0,   0,   0,   0};
    static const char hex[16] = {'0', '1', '2', '3', '4', '5', '6', '7',
                                 '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'};
    const char *alpha = tag == TAG_HEX_8 ? hex : nib;
    uint8_t b;
    int rc = rd_u8(d, &b, "packed length");
    if (rc) return rc;
    size_t nbytes = b & 0x7f;
    bool odd = b & 0x80;
    if (odd && nbytes == 0) return fail(d, -EBADMSG, "packed string with odd flag and no bytes");
    if (d->len - d->pos < nbytes) return fail(d, -EBADMSG, "truncated packed string");
    char out[PACKED_WIRE_MAX];
    for (size_t i = 0; i < nbytes; i++) {
        uint8_t v = d->p[d->pos + i];
        out[2 * i] = alpha[v >> 4];
        out[2 * i + 1] = alpha[v & 15];
        if (!out[2 * i] || (!out[2 * i + 1] && !(odd && i + 1 == nbytes)))
            return fail(d, -EBADMSG, "invalid nibble in packed string");
    }
    d->pos += nbytes;
    return sv_set(d, sv, out, nbytes * 2 - (odd ? 1 : 0),
                  tag == TAG_HEX_8 ? WA_STR_HEX : WA_STR_NIBBLE);
}

static int rd_binary(struct dec *d, uint8_t tag, const uint8_t **p, size_t *n)
{
    uint32_t len;
    int rc = tag == TAG_BINARY_8    ? rd_be(d, 1, &len, "binary length")
             : tag == TAG_BINARY_20 ? rd_be(d, 3, &len, "binary length")
                                    : rd_be(d, 4, &len, "binary length");
    if (rc) return rc;
    if (tag == TAG_BINARY_20) len &= 0xFFFFF;
    if (len > d->lim.max_string) return fail(d, -EMSGSIZE, "binary length %u over the cap", len);
    if (d->len - d->pos < len) return fail(d, -EBADMSG, "binary length %u beyond the input", len);
    *p = d->p + d->pos;
    *n = len;
    d->pos += len;
    return 0;
}

static int rd_sval(struct dec *d, struct sval *sv, bool allow_jid);

/* A string inside a JID: token, packed or binary (or LIST_EMPTY if allowed). */
static int rd_jid_part(struct dec *d, char *dst, size_t dstmax, bool allow_nil, const char *what)
{
    struct sval sv = {0};
    size_t at = d->pos;
    int rc = rd_sval(d, &sv, false);
    if (rc) return rc;
    if ((sv.type == SV_NIL || sv.str.len == 0) && !allow_nil) {
        str_free(&sv.str);
        return fail(d, -EBADMSG, "%s is empty", what);
    }
    if (sv.type == SV_NIL) {
        dst[0] = '\0';
        return 0;
    }
    rc = 0;
    if (sv.str.len >= dstmax || memchr(sv.str.s, '\0', sv.str.len)) {
        d->pos = at;
        rc = fail(d, -EBADMSG, "%s too long or has a NUL byte", what);
    } else {
        memcpy(dst, sv.str.s, sv.str.len + 1);
    }
    str_free(&sv.str);
    return rc;
}

static int rd_jid(struct dec *d, uint8_t tag, struct wa_jid *j)
{
    uint32_t v;
    int rc = 0;
    memset(j, 0, sizeof(*j));
    switch (tag) {
    case TAG_JID_PAIR:
        j->form = WA_JID_FORM_PAIR;
        rc = rd_jid_part(d, j->user, sizeof(j->user), true, "JID_PAIR user");
        if (!rc) rc = rd_jid_part(d, j->server, sizeof(j->server), false, "JID_PAIR server");
        return rc;
    case TAG_AD_JID:
        j->form = WA_JID_FORM_AD;
        if ((rc = rd_be(d, 1, &v, "AD_JID agent")) != 0) return rc;
        j->agent = (uint8_t)v;
        if ((rc = rd_be(d, 1, &v, "AD_JID device")) != 0) return rc;
        j->device = (uint16_t)v;
        char user[WA_JID_USER_MAX];
        if ((rc = rd_jid_part(d, user, sizeof(user), true, "AD_JID user")) != 0) return rc;
        return wa_jid_set_ad(j, user, j->agent, (uint8_t)j->device) ? -EBADMSG : 0;
    case TAG_FB_JID:
        j->form = WA_JID_FORM_FB;
        if ((rc = rd_jid_part(d, j->user, sizeof(j->user), true, "FB_JID user")) != 0) return rc;
        if ((rc = rd_be(d, 2, &v, "FB_JID device")) != 0) return rc;
        j->device = (uint16_t)v;
        return rd_jid_part(d, j->server, sizeof(j->server), false, "FB_JID server");
    default: /* TAG_INTEROP_JID */
        j->form = WA_JID_FORM_INTEROP;
        if ((rc = rd_jid_part(d, j->user, sizeof(j->user), true, "INTEROP_JID user")) != 0)
            return rc;
        if ((rc = rd_be(d, 2, &v, "INTEROP_JID device")) != 0) return rc;
        j->device = (uint16_t)v;
        if ((rc = rd_be(d, 2, &v, "INTEROP_JID integrator")) != 0) return rc;
        j->integrator = (uint16_t)v;
        return rd_jid_part(d, j->server, sizeof(j->server), false, "INTEROP_JID server");
    }
}

static int rd_token(struct dec *d, uint8_t tag, struct sval *sv)
{
    const char *s;
    size_t n;
    if (tag >= TAG_DICT_0) {
        uint8_t idx;
        int rc = rd_u8(d, &idx, "dictionary index");
        if (rc) return rc;
        s = wa_token_double(tag - TAG_DICT_0, idx);
        n = wa_token_double_len(tag - TAG_DICT_0, idx);
    } else {
        s = wa_token_single(tag);
        n = wa_token_single_len(tag);
    }
    sv->type = SV_STR;
    sv->str =
        (struct wa_str){.s = s, .len = (uint32_t)n, .enc = WA_STR_AUTO, .owned = WA_STR_STATIC};
    return 0;
}

static int rd_sval(struct dec *d, struct sval *sv, bool allow_jid)
{
    uint8_t tag;
    int rc = rd_u8(d, &tag, "string tag");
    if (rc) return rc;
    if (tag == TAG_LIST_EMPTY) {
        sv->type = SV_NIL;
        sv->str = (struct wa_str){.s = "", .enc = WA_STR_NIL};
        return 0;
    }
    if (tag <= TAG_DICT_3) return rd_token(d, tag, sv);
    if (tag == TAG_HEX_8 || tag == TAG_NIBBLE_8) return rd_packed(d, tag, sv);
    if (tag >= TAG_BINARY_8 && tag <= TAG_BINARY_32) {
        const uint8_t *p;
        size_t n;
        if ((rc = rd_binary(d, tag, &p, &n)) != 0) return rc;
        return sv_set(d, sv, (const char *)p, n, WA_STR_RAW);
    }
    d->pos--;
    if (tag == TAG_JID_PAIR || (tag >= TAG_INTEROP_JID && tag <= TAG_AD_JID)) {
        if (!allow_jid)
            return fail(d, -EBADMSG, "JID (tag 0x%02x) where a plain string is required", tag);
        d->pos++;
        sv->type = SV_JID;
        return rd_jid(d, tag, &sv->jid);
    }
    if (tag == TAG_LIST_8 || tag == TAG_LIST_16)
        return fail(d, -EBADMSG, "list (tag 0x%02x) where a string is required", tag);
    return fail(d, -EBADMSG, "invalid tag 0x%02x", tag);
}

static int rd_list_size(struct dec *d, uint8_t tag, uint32_t *n)
{
    if (tag == TAG_LIST_EMPTY) {
        *n = 0;
        return 0;
    }
    if (tag == TAG_LIST_8) return rd_be(d, 1, n, "list size");
    if (tag == TAG_LIST_16) return rd_be(d, 2, n, "list size");
    d->pos--;
    return fail(d, -EBADMSG, "expected a list tag, got 0x%02x", tag);
}

static int rd_node(struct dec *d, unsigned depth, struct wa_node **out);

static int rd_children(struct dec *d, struct wa_node *n, unsigned depth)
{
    uint8_t tag;
    uint32_t m = 0;
    int rc = rd_u8(d, &tag, "child list");
    if (!rc) rc = rd_list_size(d, tag, &m);
    if (rc) return rc;
    if (m > d->lim.max_children) return fail(d, -EMSGSIZE, "%u children over the cap", m);
    if (m > (d->len - d->pos) / 2)
        return fail(d, -EBADMSG, "%u children cannot fit in the input", m);
    if (depth + 1 > d->lim.max_depth)
        return fail(d, -EMSGSIZE, "nesting deeper than %u", d->lim.max_depth);
    n->content_type = WA_CONTENT_LIST;
    if ((rc = children_grow(n, m)) != 0) return fail(d, rc, "out of memory");
    for (uint32_t i = 0; i < m; i++) {
        if ((rc = rd_node(d, depth + 1, &n->c.children[i])) != 0) return rc;
        n->c.nchildren++;
    }
    return 0;
}

static int rd_content(struct dec *d, struct wa_node *n, unsigned depth)
{
    if (d->pos >= d->len) return fail(d, -EBADMSG, "truncated input reading content");
    uint8_t tag = d->p[d->pos];
    if (tag == TAG_LIST_EMPTY || tag == TAG_LIST_8 || tag == TAG_LIST_16)
        return rd_children(d, n, depth);
    if (tag >= TAG_BINARY_8 && tag <= TAG_BINARY_32) {
        const uint8_t *p;
        size_t len;
        d->pos++;
        int rc = rd_binary(d, tag, &p, &len);
        if (rc) return rc;
        rc = wa_node_set_bytes(n, p, len);
        return rc ? fail(d, rc, "out of memory") : 0;
    }
    struct sval sv = {0};
    int rc = rd_sval(d, &sv, true);
    if (rc) return rc;
    if (sv.type == SV_JID) {
        n->content_type = WA_CONTENT_JID;
        n->c.jid = sv.jid;
    } else {
        n->content_type = WA_CONTENT_STRING;
        n->c.str = sv.str;
    }
    return 0;
}

static int rd_attrs(struct dec *d, struct wa_node *n, uint32_t k)
{
    if (k > d->lim.max_attrs) return fail(d, -EMSGSIZE, "%u attributes over the cap", k);
    if (k > (d->len - d->pos) / 2)
        return fail(d, -EBADMSG, "%u attributes cannot fit in the input", k);
    if (k && !(n->attrs = calloc(k, sizeof(*n->attrs)))) return fail(d, -ENOMEM, "out of memory");
    n->attrs_cap = k;
    for (uint32_t i = 0; i < k; i++) {
        struct wa_attr *a = &n->attrs[i];
        struct sval key = {0}, val = {0};
        int rc = rd_sval(d, &key, false);
        if (rc) return rc;
        if (key.type == SV_NIL) return fail(d, -EBADMSG, "attribute key is LIST_EMPTY");
        a->key = key.str;
        a->str.s = "";
        n->nattrs++;
        if ((rc = rd_sval(d, &val, true)) != 0) return rc;
        if (val.type == SV_JID) {
            a->type = WA_VAL_JID;
            a->jid = val.jid;
        } else {
            a->str = val.str;
        }
    }
    return 0;
}

static int rd_node(struct dec *d, unsigned depth, struct wa_node **out)
{
    uint8_t b;
    uint32_t size = 0;
    size_t at = d->pos;
    int rc = rd_u8(d, &b, "node list");
    if (!rc) rc = rd_list_size(d, b, &size);
    if (rc) return rc;
    if (size == 0) {
        d->pos = at;
        return fail(d, -EBADMSG, "node list of size 0");
    }
    if (++d->nodes > d->lim.max_nodes)
        return fail(d, -EMSGSIZE, "more than %zu nodes", d->lim.max_nodes);
    struct wa_node *n = calloc(1, sizeof(*n));
    if (!n) return fail(d, -ENOMEM, "out of memory");
    n->c.str.s = "";
    struct sval tag = {0};
    rc = rd_sval(d, &tag, false);
    if (!rc) {
        n->tag = tag.str;
        if (tag.type == SV_NIL || tag.str.len == 0) rc = fail(d, -EBADMSG, "empty node tag");
    }
    if (!rc) rc = rd_attrs(d, n, (size - 1) >> 1);
    if (!rc && (size & 1) == 0) rc = rd_content(d, n, depth);
    if (rc) {
        wa_node_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

int wa_node_decode_body(const uint8_t *p, size_t len, const struct wa_node_limits *lim,
                        struct wa_node **out, char *err, size_t errlen)
{
    struct dec d = {.p = p, .len = len, .err = err, .errlen = errlen};
    set_limits(&d.lim, lim);
    *out = NULL;
    if (err && errlen) err[0] = '\0';
    if (len == 0) return fail(&d, -EBADMSG, "empty node");
    if (len > d.lim.max_input) return fail(&d, -EMSGSIZE, "input of %zu bytes over the cap", len);
    struct wa_node *n;
    int rc = rd_node(&d, 1, &n);
    if (rc) return rc;
    if (d.pos != d.len) {
        wa_node_free(n);
        return fail(&d, -EBADMSG, "%zu trailing bytes", d.len - d.pos);
    }
    *out = n;
    return 0;
}

/* Inflate into a malloc'd buffer of at most cap bytes (*out freed by caller). */
static int inflate_capped(const uint8_t *p, size_t len, size_t cap, uint8_t **out, size_t *outlen)
{
    z_stream zs = {0};
    if (inflateInit(&zs) != Z_OK) return -ENOMEM;
    size_t have = 0, size = 0;
    uint8_t *b = NULL;
    int rc = 0, zr = Z_OK;
    zs.next_in = (Bytef *)p;
    zs.avail_in = (uInt)len;
    while (zr != Z_STREAM_END && rc == 0) {
        if (have == size) {
            size_t nsize = size ? size * 2 : 4096;
            if (nsize > cap + 1) nsize = cap + 1; /* one byte more than the cap detects overflow */
            uint8_t *nb = realloc(b, nsize);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            b = nb;
            size = nsize;
        }
        zs.next_out = b + have;
        zs.avail_out = (uInt)(size - have);
        zr = inflate(&zs, Z_NO_FLUSH);
        have = size - zs.avail_out;
        if (have > cap)
            rc = -EMSGSIZE;
        else if (zr == Z_MEM_ERROR)
            rc = -ENOMEM;
        else if (zr != Z_OK && zr != Z_STREAM_END)
            rc = -EBADMSG;
        else if (zr == Z_OK && zs.avail_in == 0 && zs.avail_out != 0)
            rc = -EBADMSG; /* truncated stream */
    }
    inflateEnd(&zs);
    if (rc) {
        free(b);
        return rc;
    }
    *out = b;
    *outlen = have;
    return 0;
}

int wa_node_decode(const uint8_t *p, size_t len, const struct wa_node_limits *lim,
                   struct wa_node **out, char *err, size_t errlen)
{
    struct dec d = {.err = err, .errlen = errlen};
    set_limits(&d.lim, lim);
    *out = NULL;
    if (len == 0) return fail(&d, -EBADMSG, "empty frame plaintext");
    if (len > d.lim.max_input) return fail(&d, -EMSGSIZE, "input of %zu bytes over the cap", len);
    if (!(p[0] & 0x02)) return wa_node_decode_body(p + 1, len - 1, lim, out, err, errlen);
    uint8_t *b = NULL;
    size_t blen = 0;
    int rc = inflate_capped(p + 1, len - 1, d.lim.max_inflated, &b, &blen);
    if (rc == -EMSGSIZE)
        rc = fail(&d, rc, "inflated size over the cap of %zu bytes", d.lim.max_inflated);
    else if (rc)
        rc = fail(&d, rc, "zlib stream invalid or truncated (compressed payload)");
    else
        rc = wa_node_decode_body(b, blen, lim, out, err, errlen);
    free(b);
    return rc;
}

/* ================================================================ encoder */

struct enc {
    struct buf *b;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int efail(struct enc *e, int rc, const char *fmt, ...)
{
    if (e->err && e->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->err, e->errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int put(struct enc *e, const void *p, size_t n)
{
    int rc = buf_append(e->b, p, n);
    return rc ? efail(e, rc, "output buffer: %s", rc == -ENOBUFS ? "over its cap" : "no memory")
              : 0;
}

static int put_u8(struct enc *e, unsigned v)
{
    uint8_t c = (uint8_t)v;
    return put(e, &c, 1);
}

static int put_list_header(struct enc *e, size_t n)
{
    if (n == 0) return put_u8(e, TAG_LIST_EMPTY);
    if (n < 256) {
        uint8_t h[2] = {TAG_LIST_8, (uint8_t)n};
        return put(e, h, 2);
    }
    if (n > 0xFFFF) return efail(e, -EINVAL, "list of %zu items (max 65535)", n);
    uint8_t h[3] = {TAG_LIST_16, (uint8_t)(n >> 8), (uint8_t)n};
    return put(e, h, 3);
}

static int put_binary(struct enc *e, const void *p, size_t n)
{
    uint8_t h[5];
    size_t hl;
    if (n < 256) {
        h[0] = TAG_BINARY_8;
        h[1] = (uint8_t)n;
        hl = 2;
    } else if (n < (1u << 20)) {
        h[0] = TAG_BINARY_20;
        h[1] = (uint8_t)((n >> 16) & 0x0F);
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        hl = 4;
    } else if (n <= UINT32_MAX) {
        h[0] = TAG_BINARY_32;
        h[1] = (uint8_t)(n >> 24);
        h[2] = (uint8_t)(n >> 16);
        h[3] = (uint8_t)(n >> 8);
        h[4] = (uint8_t)n;
        hl = 5;
    } else {
        return efail(e, -EINVAL, "byte string of %zu bytes", n);
    }
    int rc = put(e, h, hl);
    return rc ? rc : put(e, p, n);
}

static uint8_t pack_nibble(char c, bool hex)
{
    if (c >= '0' && c <= '9') return (uint8_t)(c - '0');
    if (hex) return (uint8_t)(c - 'A' + 10);
    return c == '-' ? 10 : 11;
}

static int put_packed(struct enc *e, const char *s, size_t n, bool hex)
{
    uint8_t out[2 + PACKED_WIRE_MAX / 2];
    size_t nb = (n + 1) / 2;
    out[0] = hex ? TAG_HEX_8 : TAG_NIBBLE_8;
    out[1] = (uint8_t)(nb | ((n & 1) ? 0x80 : 0));
    for (size_t i = 0; i < nb; i++) {
        uint8_t hi = pack_nibble(s[2 * i], hex);
        uint8_t lo = 2 * i + 1 < n ? pack_nibble(s[2 * i + 1], hex) : 15;
        out[2 + i] = (uint8_t)(hi << 4 | lo);
    }
    return put(e, out, 2 + nb);
}

static int put_str(struct enc *e, const struct wa_str *s)
{
    enum wa_str_enc enc = s->enc;
    if (!wa_str_encodable(s->s, s->len, enc))
        return efail(e, -EINVAL, "string '%.40s' cannot be written with encoding %d", s->s, enc);
    if (enc == WA_STR_AUTO) enc = wa_str_canonical(s->s, s->len);
    switch (enc) {
    case WA_STR_AUTO: {
        struct wa_token t;
        wa_token_find(s->s, s->len, &t);
        if (t.kind == WA_TOKEN_SINGLE) return put_u8(e, t.index);
        uint8_t h[2] = {(uint8_t)(TAG_DICT_0 + t.dict), t.index};
        return put(e, h, 2);
    }
    case WA_STR_NIBBLE:
    case WA_STR_HEX:
        return put_packed(e, s->s, s->len, enc == WA_STR_HEX);
    case WA_STR_NIL:
        return put_u8(e, TAG_LIST_EMPTY);
    default:
        return put_binary(e, s->s, s->len);
    }
}

static int put_cstr(struct enc *e, const char *s)
{
    struct wa_str w = {.s = s, .len = (uint32_t)strlen(s)};
    return put_str(e, &w);
}

/* JID users: "" is written as LIST_EMPTY. */
static int put_jid_user(struct enc *e, const char *user)
{
    return user[0] ? put_cstr(e, user) : put_u8(e, TAG_LIST_EMPTY);
}

static int put_u16(struct enc *e, unsigned v)
{
    uint8_t h[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return put(e, h, 2);
}

static int put_jid(struct enc *e, const struct wa_jid *j)
{
    int rc;
    switch (j->form) {
    case WA_JID_FORM_PAIR:
        if (!j->server[0]) return efail(e, -EINVAL, "JID with an empty server");
        if ((rc = put_u8(e, TAG_JID_PAIR)) || (rc = put_jid_user(e, j->user))) return rc;
        return put_cstr(e, j->server);
    case WA_JID_FORM_AD:
        if (j->device > 255) return efail(e, -EINVAL, "AD_JID device %u > 255", j->device);
        if ((rc = put_u8(e, TAG_AD_JID)) || (rc = put_u8(e, j->agent)) ||
            (rc = put_u8(e, j->device)))
            return rc;
        return put_jid_user(e, j->user);
    case WA_JID_FORM_FB:
    case WA_JID_FORM_INTEROP: {
        bool fb = j->form == WA_JID_FORM_FB;
        if (!j->server[0]) return efail(e, -EINVAL, "JID with an empty server");
        if ((rc = put_u8(e, fb ? TAG_FB_JID : TAG_INTEROP_JID)) ||
            (rc = put_jid_user(e, j->user)) || (rc = put_u16(e, j->device)))
            return rc;
        if (!fb && (rc = put_u16(e, j->integrator))) return rc;
        return put_cstr(e, j->server);
    }
    default:
        return efail(e, -EINVAL, "JID with unknown form %u", j->form);
    }
}

static int put_node(struct enc *e, const struct wa_node *n, unsigned depth)
{
    if (depth > 1000) return efail(e, -EINVAL, "node tree too deep");
    if (n->tag.len == 0) return efail(e, -EINVAL, "node with an empty tag");
    size_t count = 1 + 2 * (size_t)n->nattrs + (n->content_type != WA_CONTENT_NONE);
    int rc = put_list_header(e, count);
    if (!rc) rc = put_str(e, &n->tag);
    for (uint32_t i = 0; !rc && i < n->nattrs; i++) {
        const struct wa_attr *a = &n->attrs[i];
        rc = put_str(e, &a->key);
        if (!rc) rc = a->type == WA_VAL_JID ? put_jid(e, &a->jid) : put_str(e, &a->str);
    }
    if (rc) return rc;
    switch (n->content_type) {
    case WA_CONTENT_LIST:
        rc = put_list_header(e, n->c.nchildren);
        for (uint32_t i = 0; !rc && i < n->c.nchildren; i++)
            rc = put_node(e, n->c.children[i], depth + 1);
        return rc;
    case WA_CONTENT_BYTES:
        return put_binary(e, n->c.bytes, n->c.nbytes);
    case WA_CONTENT_STRING:
        return put_str(e, &n->c.str);
    case WA_CONTENT_JID:
        return put_jid(e, &n->c.jid);
    default:
        return 0;
    }
}

int wa_node_encode_body(const struct wa_node *n, struct buf *out, char *err, size_t errlen)
{
    struct enc e = {.b = out, .err = err, .errlen = errlen};
    size_t start = out->len;
    if (err && errlen) err[0] = '\0';
    int rc = put_node(&e, n, 1);
    if (rc) out->len = start;
    return rc;
}

int wa_node_encode(const struct wa_node *n, struct buf *out, char *err, size_t errlen)
{
    size_t start = out->len;
    int rc = buf_append_byte(out, 0x00);
    if (rc) return rc;
    rc = wa_node_encode_body(n, out, err, errlen);
    if (rc) out->len = start;
    return rc;
}
