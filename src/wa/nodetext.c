/* SPDX-License-Identifier: MIT */
/* nodetext.c -- print binary nodes as XML-like text and parse that text back. */
#include "wa/nodetext.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"

/* ================================================================ printer */

static bool bare_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == ':' || c == '.' || c == '-';
}

static bool is_bare(const struct wa_str *s)
{
    if (s->enc != WA_STR_AUTO || s->len == 0) return false;
    for (uint32_t i = 0; i < s->len; i++)
        if (!bare_char((unsigned char)s->s[i])) return false;
    return true;
}

/* Length of a valid UTF-8 multi-byte sequence at p (0 if none). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    size_t len;
    unsigned cp;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        len = 2, cp = p[0] & 0x1F;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        len = 3, cp = p[0] & 0x0F;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        len = 4, cp = p[0] & 0x07;
    else
        return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static int print_escape(struct buf *b, unsigned char c)
{
    switch (c) {
    case '\'':
        return buf_append_str(b, "\\'");
    case '\\':
        return buf_append_str(b, "\\\\");
    case '\n':
        return buf_append_str(b, "\\n");
    case '\r':
        return buf_append_str(b, "\\r");
    case '\t':
        return buf_append_str(b, "\\t");
    default:
        return buf_printf(b, "\\x%02x", c);
    }
}

static int print_quoted(struct buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    int rc = buf_append_byte(b, '\'');
    for (size_t i = 0; !rc && i < n;) {
        size_t run = 0;
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'' && p[i] != '\\')
            run = 1;
        else if (p[i] >= 0x80)
            run = utf8_seq(p + i, n - i);
        if (run) {
            rc = buf_append(b, p + i, run);
            i += run;
        } else {
            rc = print_escape(b, p[i++]);
        }
    }
    return rc ? rc : buf_append_byte(b, '\'');
}

static int print_str(struct buf *b, const struct wa_str *s)
{
    static const char prefix[] = {[WA_STR_RAW] = 'r', [WA_STR_NIBBLE] = 'n', [WA_STR_HEX] = 'h'};
    int rc = 0;
    if (s->enc == WA_STR_NIL) return buf_append_str(b, "nil");
    if (s->enc != WA_STR_AUTO && s->enc < sizeof(prefix))
        rc = buf_append_byte(b, (uint8_t)prefix[s->enc]);
    return rc ? rc : print_quoted(b, s->s, s->len);
}

static int print_name(struct buf *b, const struct wa_str *s)
{
    return is_bare(s) ? buf_append(b, s->s, s->len) : print_str(b, s);
}

static int print_qs(struct buf *b, const char *s)
{
    return print_quoted(b, s, strlen(s));
}

static int print_jid_struct(struct buf *b, const struct wa_jid *j)
{
    int rc;
    switch (j->form) {
    case WA_JID_FORM_AD:
        rc = buf_printf(b, "@ad(%u,%u,", j->agent, j->device);
        rc = rc ? rc : print_qs(b, j->user);
        break;
    case WA_JID_FORM_FB:
    case WA_JID_FORM_INTEROP:
        rc = buf_append_str(b, j->form == WA_JID_FORM_FB ? "@fb(" : "@interop(");
        rc = rc ? rc : print_qs(b, j->user);
        rc = rc ? rc : buf_printf(b, ",%u,", j->device);
        if (!rc && j->form == WA_JID_FORM_INTEROP) rc = buf_printf(b, "%u,", j->integrator);
        rc = rc ? rc : print_qs(b, j->server);
        break;
    default:
        rc = buf_append_str(b, "@pair(");
        rc = rc ? rc : print_qs(b, j->user);
        rc = rc ? rc : buf_append_byte(b, ',');
        rc = rc ? rc : print_qs(b, j->server);
        break;
    }
    return rc ? rc : buf_append_byte(b, ')');
}

static int print_jid(struct buf *b, const struct wa_jid *j)
{
    char text[WA_JID_STR_MAX];
    struct wa_jid back;
    int n = wa_jid_format(j, text, sizeof(text));
    bool simple = n > 0 && wa_jid_parse(&back, text, (size_t)n) == 0 && wa_jid_equal(&back, j);
    for (int i = 0; simple && i < n; i++)
        simple = (unsigned char)text[i] >= 0x20 && text[i] != '\'' && text[i] != '\\' &&
                 (unsigned char)text[i] < 0x7f;
    if (!simple) return print_jid_struct(b, j);
    int rc = buf_append_byte(b, '@');
    return rc ? rc : print_quoted(b, text, (size_t)n);
}

static int print_indent(struct buf *b, unsigned depth, unsigned flags)
{
    if (flags & WA_NODETEXT_COMPACT) return 0;
    int rc = 0;
    for (unsigned i = 0; !rc && i < depth; i++)
        rc = buf_append_str(b, "  ");
    return rc;
}

static int print_bytes(struct buf *b, const uint8_t *p, size_t n)
{
    int rc = buf_printf(b, "[%zuB hex ", n);
    for (size_t i = 0; !rc && i < n; i++)
        rc = buf_printf(b, "%02x", p[i]);
    return rc ? rc : buf_append_byte(b, ']');
}

static int print_node(struct buf *b, const struct wa_node *n, unsigned depth, unsigned flags);

static int print_content(struct buf *b, const struct wa_node *n, unsigned depth, unsigned flags)
{
    int rc = 0;
    switch (n->content_type) {
    case WA_CONTENT_LIST:
        if (n->c.nchildren && !(flags & WA_NODETEXT_COMPACT)) rc = buf_append_byte(b, '\n');
        for (uint32_t i = 0; !rc && i < n->c.nchildren; i++)
            rc = print_node(b, n->c.children[i], depth + 1, flags);
        if (!rc && n->c.nchildren) rc = print_indent(b, depth, flags);
        return rc;
    case WA_CONTENT_BYTES:
        return print_bytes(b, n->c.bytes, n->c.nbytes);
    case WA_CONTENT_STRING:
        return print_str(b, &n->c.str);
    case WA_CONTENT_JID:
        return print_jid(b, &n->c.jid);
    default:
        return 0;
    }
}

static int print_node(struct buf *b, const struct wa_node *n, unsigned depth, unsigned flags)
{
    int rc = print_indent(b, depth, flags);
    rc = rc ? rc : buf_append_byte(b, '<');
    rc = rc ? rc : print_name(b, &n->tag);
    for (uint32_t i = 0; !rc && i < n->nattrs; i++) {
        const struct wa_attr *a = &n->attrs[i];
        rc = buf_append_byte(b, ' ');
        rc = rc ? rc : print_name(b, &a->key);
        rc = rc ? rc : buf_append_byte(b, '=');
        if (!rc) rc = a->type == WA_VAL_JID ? print_jid(b, &a->jid) : print_str(b, &a->str);
    }
    if (rc) return rc;
    if (n->content_type == WA_CONTENT_NONE) {
        rc = buf_append_str(b, "/>");
    } else {
        rc = buf_append_byte(b, '>');
        rc = rc ? rc : print_content(b, n, depth, flags);
        rc = rc ? rc : buf_append_str(b, "</");
        rc = rc ? rc : print_name(b, &n->tag);
        rc = rc ? rc : buf_append_byte(b, '>');
    }
    if (!rc && !(flags & WA_NODETEXT_COMPACT)) rc = buf_append_byte(b, '\n');
    return rc;
}

int wa_nodetext_print(const struct wa_node *n, struct buf *out, unsigned flags)
{
    size_t start = out->len;
    int rc = print_node(out, n, 0, flags);
    if (rc) out->len = start;
    return rc;
}

/* ================================================================ parser */

struct tp {
    const char *s;
    size_t len, pos;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int perr(struct tp *t, int rc, const char *fmt, ...)
{
    if (t->err && t->errlen) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(t->err, t->errlen, fmt, ap);
        va_end(ap);
        if (w >= 0 && (size_t)w < t->errlen)
            snprintf(t->err + w, t->errlen - (size_t)w, " at offset %zu", t->pos);
    }
    return rc;
}

static bool at_end(const struct tp *t)
{
    return t->pos >= t->len;
}

static int peek(const struct tp *t)
{
    return at_end(t) ? -1 : (unsigned char)t->s[t->pos];
}

static bool starts(const struct tp *t, const char *lit)
{
    size_t n = strlen(lit);
    return t->len - t->pos >= n && memcmp(t->s + t->pos, lit, n) == 0;
}

static int skip_ws(struct tp *t)
{
    for (;;) {
        while (!at_end(t) && strchr(" \t\r\n", t->s[t->pos]))
            t->pos++;
        if (!starts(t, "<!--")) return 0;
        const char *end = memmem(t->s + t->pos, t->len - t->pos, "-->", 3);
        if (!end) return perr(t, -EINVAL, "unterminated comment");
        t->pos = (size_t)(end - t->s) + 3;
    }
}

static int expect(struct tp *t, const char *lit)
{
    if (!starts(t, lit)) return perr(t, -EINVAL, "expected '%s'", lit);
    t->pos += strlen(lit);
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int unescape(struct tp *t, struct buf *b)
{
    int c = peek(t);
    t->pos++;
    switch (c) {
    case '\'':
    case '\\':
        return buf_append_byte(b, (uint8_t)c);
    case 'n':
        return buf_append_byte(b, '\n');
    case 'r':
        return buf_append_byte(b, '\r');
    case 't':
        return buf_append_byte(b, '\t');
    case 'x': {
        int hi = hexval(peek(t));
        t->pos++;
        int lo = hexval(peek(t));
        t->pos++;
        if (hi < 0 || lo < 0) return perr(t, -EINVAL, "bad \\x escape");
        return buf_append_byte(b, (uint8_t)(hi << 4 | lo));
    }
    default:
        return perr(t, -EINVAL, "bad escape");
    }
}

/* Quoted string at t->pos (after any prefix) into a fresh heap string. */
static int parse_quoted(struct tp *t, struct wa_str *out, uint8_t enc)
{
    struct buf b;
    int rc = expect(t, "'");
    if (rc) return rc;
    buf_init(&b, 16u << 20);
    while (!rc && peek(t) != '\'') {
        if (at_end(t))
            rc = perr(t, -EINVAL, "unterminated string");
        else if (peek(t) == '\\' && ++t->pos)
            rc = unescape(t, &b);
        else
            rc = buf_append_byte(&b, (uint8_t)t->s[t->pos++]);
    }
    if (!rc) {
        t->pos++;
        rc = buf_append_byte(&b, 0);
    }
    if (rc) {
        buf_free(&b);
        return rc == -EINVAL ? rc : perr(t, rc, "string too long or out of memory");
    }
    *out =
        (struct wa_str){.s = (char *)b.data, .len = (uint32_t)(b.len - 1), .enc = enc, .owned = 1};
    return 0;
}

static void tstr_free(struct wa_str *s)
{
    if (s->owned) free((char *)s->s);
    *s = (struct wa_str){.s = ""};
}

/* A string with optional r/n/h prefix; normalises a redundant prefix. */
static int parse_string(struct tp *t, struct wa_str *out)
{
    uint8_t enc = WA_STR_AUTO;
    int c = peek(t);
    if (c == 'r' || c == 'n' || c == 'h') {
        enc = c == 'r' ? WA_STR_RAW : c == 'n' ? WA_STR_NIBBLE : WA_STR_HEX;
        t->pos++;
    }
    size_t at = t->pos;
    int rc = parse_quoted(t, out, enc);
    if (rc) return rc;
    if (!wa_str_encodable(out->s, out->len, enc)) {
        tstr_free(out);
        t->pos = at;
        return perr(t, -EINVAL, "string cannot use the encoding its prefix asks for");
    }
    if (enc != WA_STR_AUTO && wa_str_canonical(out->s, out->len) == enc) out->enc = WA_STR_AUTO;
    return 0;
}

static int parse_name(struct tp *t, struct wa_str *out)
{
    size_t start = t->pos;
    while (!at_end(t) && bare_char((unsigned char)t->s[t->pos]))
        t->pos++;
    if (t->pos == start) {
        /* quoted or prefixed: a bare run would have consumed r/n/h, so back up */
        return parse_string(t, out);
    }
    if (peek(t) == '\'' && t->pos - start == 1 && strchr("rnh", t->s[start])) {
        t->pos = start;
        return parse_string(t, out);
    }
    char *p = malloc(t->pos - start + 1);
    if (!p) return perr(t, -ENOMEM, "out of memory");
    memcpy(p, t->s + start, t->pos - start);
    p[t->pos - start] = '\0';
    *out = (struct wa_str){.s = p, .len = (uint32_t)(t->pos - start), .owned = 1};
    return 0;
}

static int parse_num(struct tp *t, unsigned max, unsigned *v)
{
    unsigned x = 0;
    size_t start = t->pos;
    while (!at_end(t) && t->s[t->pos] >= '0' && t->s[t->pos] <= '9' && t->pos - start < 6)
        x = x * 10 + (unsigned)(t->s[t->pos++] - '0');
    if (t->pos == start || x > max) return perr(t, -EINVAL, "expected a number <= %u", max);
    *v = x;
    return 0;
}

/* A quoted string copied into a bounded JID field. */
static int parse_jid_part(struct tp *t, char *dst, size_t dstmax)
{
    struct wa_str s = {.s = ""};
    int rc = parse_quoted(t, &s, WA_STR_AUTO);
    if (rc) return rc;
    if (s.len >= dstmax || memchr(s.s, '\0', s.len))
        rc = perr(t, -EINVAL, "JID part too long or has a NUL byte");
    else
        memcpy(dst, s.s, s.len + 1);
    tstr_free(&s);
    return rc;
}

static int parse_jid_struct(struct tp *t, struct wa_jid *j)
{
    unsigned a = 0, dev = 0, integ = 0;
    int rc;
    memset(j, 0, sizeof(*j));
    if (starts(t, "pair(")) {
        j->form = WA_JID_FORM_PAIR;
        t->pos += 5;
        if ((rc = parse_jid_part(t, j->user, sizeof(j->user))) || (rc = expect(t, ",")) ||
            (rc = parse_jid_part(t, j->server, sizeof(j->server))))
            return rc;
    } else if (starts(t, "ad(")) {
        char user[WA_JID_USER_MAX];
        t->pos += 3;
        if ((rc = parse_num(t, 255, &a)) || (rc = expect(t, ",")) ||
            (rc = parse_num(t, 255, &dev)) || (rc = expect(t, ",")) ||
            (rc = parse_jid_part(t, user, sizeof(user))))
            return rc;
        if (wa_jid_set_ad(j, user, (uint8_t)a, (uint8_t)dev)) return perr(t, -EINVAL, "bad AD JID");
    } else if (starts(t, "fb(") || starts(t, "interop(")) {
        bool fb = starts(t, "fb(");
        j->form = fb ? WA_JID_FORM_FB : WA_JID_FORM_INTEROP;
        t->pos += fb ? 3 : 8;
        if ((rc = parse_jid_part(t, j->user, sizeof(j->user))) || (rc = expect(t, ",")) ||
            (rc = parse_num(t, 65535, &dev)) || (rc = expect(t, ",")))
            return rc;
        if (!fb && ((rc = parse_num(t, 65535, &integ)) || (rc = expect(t, ",")))) return rc;
        if ((rc = parse_jid_part(t, j->server, sizeof(j->server)))) return rc;
        j->device = (uint16_t)dev;
        j->integrator = (uint16_t)integ;
    } else {
        return perr(t, -EINVAL, "expected a JID");
    }
    if (j->server[0] == '\0') return perr(t, -EINVAL, "JID with an empty server");
    return expect(t, ")");
}

static int parse_jid(struct tp *t, struct wa_jid *j)
{
    t->pos++; /* '@' */
    if (peek(t) != '\'') return parse_jid_struct(t, j);
    struct wa_str s = {.s = ""};
    size_t at = t->pos;
    int rc = parse_quoted(t, &s, WA_STR_AUTO);
    if (rc) return rc;
    rc = wa_jid_parse(j, s.s, s.len);
    tstr_free(&s);
    if (rc) {
        t->pos = at;
        return perr(t, -EINVAL, "invalid JID text (%s)", strerror(-rc));
    }
    return 0;
}

static int parse_value(struct tp *t, struct wa_node *n, const struct wa_str *key)
{
    if (peek(t) == '@') {
        struct wa_jid j = {0};
        int rc = parse_jid(t, &j);
        return rc ? rc : wa_node_append_attr(n, key, NULL, &j);
    }
    struct wa_str v = {.s = ""};
    if (starts(t, "nil")) {
        t->pos += 3;
        v = (struct wa_str){.s = "", .enc = WA_STR_NIL};
        return wa_node_append_attr(n, key, &v, NULL);
    }
    int rc = parse_string(t, &v);
    if (rc) return rc;
    rc = wa_node_append_attr(n, key, &v, NULL);
    tstr_free(&v);
    return rc;
}

static int parse_attrs(struct tp *t, struct wa_node *n)
{
    for (;;) {
        int rc = skip_ws(t);
        if (rc) return rc;
        int c = peek(t);
        if (c == '/' || c == '>') return 0;
        if (c < 0) return perr(t, -EINVAL, "unexpected end of text in a tag");
        struct wa_str key = {.s = ""};
        if ((rc = parse_name(t, &key)) != 0) return rc;
        rc = expect(t, "=");
        if (!rc) rc = parse_value(t, n, &key);
        tstr_free(&key);
        if (rc) return rc == -ENOMEM ? perr(t, rc, "out of memory") : rc;
    }
}

static int parse_bytes(struct tp *t, struct wa_node *n)
{
    unsigned long want = 0;
    bool have_want = false;
    int rc;
    t->pos++; /* '[' */
    while (peek(t) >= '0' && peek(t) <= '9' && want < (1ul << 40)) {
        want = want * 10 + (unsigned long)(t->s[t->pos++] - '0');
        have_want = true;
    }
    if (have_want && ((rc = expect(t, "B")) != 0 || (rc = skip_ws(t)) != 0)) return rc;
    rc = expect(t, "hex");
    if (rc) return rc;
    const char *close = memchr(t->s + t->pos, ']', t->len - t->pos);
    if (!close) return perr(t, -EINVAL, "unterminated byte content");
    size_t hexlen = (size_t)(close - (t->s + t->pos));
    uint8_t *tmp = malloc(hexlen / 2 + 1);
    if (!tmp) return perr(t, -ENOMEM, "out of memory");
    long got = hex_decode(tmp, hexlen / 2 + 1, t->s + t->pos, hexlen);
    if (got < 0 || (have_want && (unsigned long)got != want))
        rc = perr(t, -EINVAL, got < 0 ? "bad hex in byte content" : "byte count mismatch");
    else
        rc = wa_node_set_bytes(n, tmp, (size_t)got);
    free(tmp);
    t->pos = (size_t)(close - t->s) + 1;
    return rc;
}

static int parse_node(struct tp *t, unsigned depth, struct wa_node **out);

static int parse_children(struct tp *t, struct wa_node *n, unsigned depth)
{
    int rc = wa_node_set_empty_list(n);
    while (!rc) {
        if ((rc = skip_ws(t)) != 0 || starts(t, "</")) return rc;
        struct wa_node *child = NULL;
        if ((rc = parse_node(t, depth + 1, &child)) != 0) return rc;
        if ((rc = wa_node_add_child(n, child)) != 0) {
            wa_node_free(child);
            return perr(t, rc, "out of memory");
        }
    }
    return rc;
}

static int parse_content(struct tp *t, struct wa_node *n, unsigned depth)
{
    int rc = skip_ws(t);
    int c = peek(t);
    if (rc) return rc;
    if (c == '[') return parse_bytes(t, n);
    if (c == '@') {
        struct wa_jid j = {0};
        rc = parse_jid(t, &j);
        return rc ? rc : wa_node_set_jid(n, &j);
    }
    if (c == '\'' ||
        ((c == 'r' || c == 'n' || c == 'h') && t->pos + 1 < t->len && t->s[t->pos + 1] == '\'')) {
        struct wa_str s = {.s = ""};
        if ((rc = parse_string(t, &s)) != 0) return rc;
        rc = wa_node_set_string(n, &s);
        tstr_free(&s);
        return rc;
    }
    return parse_children(t, n, depth);
}

static int parse_close(struct tp *t, const struct wa_str *tag)
{
    struct wa_str end = {.s = ""};
    int rc = skip_ws(t);
    if (!rc) rc = expect(t, "</");
    if (!rc) rc = parse_name(t, &end);
    if (rc) return rc;
    bool same = end.len == tag->len && end.enc == tag->enc && !memcmp(end.s, tag->s, end.len);
    tstr_free(&end);
    if (!same) return perr(t, -EINVAL, "closing tag does not match '%.40s'", tag->s);
    return expect(t, ">");
}

static int parse_node(struct tp *t, unsigned depth, struct wa_node **out)
{
    struct wa_str tag = {.s = ""};
    if (depth > WA_NODETEXT_MAX_DEPTH)
        return perr(t, -EINVAL, "nesting deeper than %d", WA_NODETEXT_MAX_DEPTH);
    int rc = skip_ws(t);
    if (!rc) rc = expect(t, "<");
    if (!rc) rc = parse_name(t, &tag);
    if (rc) return rc;
    if (tag.len == 0 || tag.enc == WA_STR_NIL) {
        tstr_free(&tag);
        return perr(t, -EINVAL, "empty tag");
    }
    struct wa_node *n = wa_node_new("x");
    if (!n) {
        tstr_free(&tag);
        return perr(t, -ENOMEM, "out of memory");
    }
    free((char *)n->tag.s);
    n->tag = tag;
    rc = parse_attrs(t, n);
    if (!rc && starts(t, "/>")) {
        t->pos += 2;
    } else if (!rc && (rc = expect(t, ">")) == 0) {
        rc = parse_content(t, n, depth);
        if (!rc) rc = parse_close(t, &n->tag);
    }
    if (rc) {
        wa_node_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

int wa_nodetext_parse(const char *text, size_t len, struct wa_node **out, char *err, size_t errlen)
{
    struct tp t = {.s = text, .len = len, .err = err, .errlen = errlen};
    struct wa_node *n;
    *out = NULL;
    if (err && errlen) err[0] = '\0';
    int rc = parse_node(&t, 1, &n);
    if (rc) return rc;
    if ((rc = skip_ws(&t)) != 0 || !at_end(&t)) {
        wa_node_free(n);
        return rc ? rc : perr(&t, -EINVAL, "trailing text after the node");
    }
    *out = n;
    return 0;
}
