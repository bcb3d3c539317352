/* SPDX-License-Identifier: MIT */
/* multipart.c -- a multipart/form-data body (see multipart.h). */
#include "api/multipart.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/utf8.h"

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EBADMSG;
}

/* RFC 2046 bchars, without the trailing space rule's subtlety (a final space is refused). */
static bool bchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           strchr("'()+_,-./:=? ", c) != NULL;
}

int mp_boundary(const char *ct, char *out, size_t cap)
{
    static const char mt[] = "multipart/form-data";
    if (!ct || strncasecmp(ct, mt, sizeof mt - 1) != 0) return -ENOENT;
    const char *p = ct + sizeof mt - 1;
    if (*p && *p != ';' && *p != ' ' && *p != '\t') return -ENOENT;
    for (;;) {
        while (*p == ';' || *p == ' ' || *p == '\t')
            p++;
        if (!*p) return -EINVAL;
        const char *eq = strchr(p, '=');
        if (!eq) return -EINVAL;
        bool is_b = (size_t)(eq - p) == 8 && strncasecmp(p, "boundary", 8) == 0;
        const char *v = eq + 1, *end;
        bool quoted = *v == '"';
        if (quoted) {
            v++;
            end = strchr(v, '"');
            if (!end) return -EINVAL;
        } else {
            end = v + strcspn(v, "; \t");
        }
        if (is_b) {
            size_t n = (size_t)(end - v);
            if (n == 0 || n > MP_BOUNDARY_MAX || n >= cap || v[n - 1] == ' ') return -EINVAL;
            for (size_t i = 0; i < n; i++)
                if (!bchar(v[i])) return -EINVAL;
            memcpy(out, v, n);
            out[n] = '\0';
            return 0;
        }
        p = end + (quoted ? 1 : 0);
    }
}

/* A header parameter's value (name="value" or name=value) from a Content-Disposition value
 * (NUL-terminated), the parameters walked in order (a ';' inside a quoted value is not a
 * separator): 1 found, 0 absent, -1 malformed or too long. */
static int param(const char *h, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = h + strcspn(h, ";");
    while (*p) {
        while (*p == ';' || *p == ' ' || *p == '\t')
            p++;
        if (!*p) break;
        const char *key = p;
        while (*p && *p != '=' && *p != ';')
            p++;
        if (*p != '=') return -1;
        bool match = (size_t)(p - key) == nl && strncasecmp(key, name, nl) == 0;
        p++;
        size_t k = 0;
        bool over = false;
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1]) p++; /* a quoted-pair */
                if (k + 1 < cap)
                    out[k++] = *p;
                else
                    over = true;
            }
            if (*p != '"') return -1;
            p++;
        } else {
            for (; *p && *p != ';' && *p != ' ' && *p != '\t'; p++) {
                if (k + 1 < cap)
                    out[k++] = *p;
                else
                    over = true;
            }
        }
        if (match) {
            out[k] = '\0';
            return over ? -1 : 1;
        }
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p && *p != ';') return -1;
    }
    return 0;
}

static bool clean(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
    return utf8_valid(s, n);
}

/* One part's header block [p, p + n) (lines without their CRLF). */
static int part_headers(const char *p, size_t n, struct mp_part *pt, char *err, size_t errlen)
{
    bool disp = false;
    size_t lines = 0;
    while (n) {
        const char *eol = memmem(p, n, "\r\n", 2);
        size_t ll = eol ? (size_t)(eol - p) : n;
        if (ll >= MP_HEADER_MAX) return fail(err, errlen, "a part's header line is too long");
        if (++lines > MP_HEADERS_MAX) return fail(err, errlen, "a part has too many headers");
        char line[MP_HEADER_MAX];
        memcpy(line, p, ll);
        line[ll] = '\0';
        if (memchr(p, '\0', ll)) return fail(err, errlen, "a part's header holds a NUL");
        char *colon = strchr(line, ':');
        if (!colon) return fail(err, errlen, "a part's header line has no ':'");
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (!strcasecmp(line, "Content-Disposition")) {
            if (strncasecmp(v, "form-data", 9) != 0 || (v[9] && v[9] != ';' && v[9] != ' '))
                return fail(err, errlen, "a part's Content-Disposition is not form-data");
            char fname[MP_FNAME_MAX];
            if (param(v, "name", pt->name, sizeof pt->name) != 1 || !pt->name[0] ||
                !clean(pt->name))
                return fail(err, errlen, "a part has no usable name (at most %d bytes)",
                            MP_NAME_MAX - 1);
            int fr = param(v, "filename", fname, sizeof fname);
            if (fr < 0 || (fr == 1 && !clean(fname)))
                return fail(err, errlen, "part %s: a bad or too long filename", pt->name);
            if (fr == 1) {
                const char *b = fname + strlen(fname);
                while (b > fname && b[-1] != '/' && b[-1] != '\\')
                    b--;
                snprintf(pt->filename, sizeof pt->filename, "%s", b);
                pt->has_filename = true;
            }
            disp = true;
        } else if (!strcasecmp(line, "Content-Type")) {
            size_t vl = strlen(v);
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                v[--vl] = '\0';
            if (vl == 0 || vl >= sizeof pt->content_type || !clean(v))
                return fail(err, errlen, "a part's Content-Type is empty or too long");
            memcpy(pt->content_type, v, vl + 1);
        }
        if (!eol) break;
        p = eol + 2;
        n -= ll + 2;
    }
    if (!disp) return fail(err, errlen, "a part has no Content-Disposition");
    return 0;
}

/* After a delimiter "--B": skip LWSP, then CRLF (another part) or "--" (the end). 1 part
 * follows, 0 the end, -1 malformed; *at moves past it. */
static int after_delim(const uint8_t *b, size_t len, size_t *at)
{
    size_t i = *at;
    if (len - i >= 2 && b[i] == '-' && b[i + 1] == '-') {
        *at = i + 2;
        return 0;
    }
    while (i < len && (b[i] == ' ' || b[i] == '\t'))
        i++;
    if (len - i < 2 || b[i] != '\r' || b[i + 1] != '\n') return -1;
    *at = i + 2;
    return 1;
}

int mp_parse(const uint8_t *body, size_t len, const char *boundary, struct mp_part *parts,
             size_t cap, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    size_t bl = boundary ? strlen(boundary) : 0;
    if (!bl || bl > MP_BOUNDARY_MAX) return fail(err, errlen, "no boundary");
    char delim[MP_BOUNDARY_MAX + 5] = "\r\n--";
    memcpy(delim + 4, boundary, bl);
    size_t dl = bl + 4;
    if (!body) len = 0;
    /* the first delimiter may start the body (no CRLF before it) */
    size_t at;
    if (len >= dl - 2 && memcmp(body, delim + 2, dl - 2) == 0) {
        at = dl - 2;
    } else {
        const uint8_t *d = len ? memmem(body, len, delim, dl) : NULL;
        if (!d) return fail(err, errlen, "no \"--%s\" delimiter in the body", boundary);
        at = (size_t)(d - body) + dl;
    }
    for (;;) {
        int more = after_delim(body, len, &at);
        if (more < 0) return fail(err, errlen, "a malformed delimiter line");
        if (more == 0) return 0;
        if (*n == cap || *n == MP_PARTS_MAX)
            return fail(err, errlen, "more than %zu parts",
                        cap < MP_PARTS_MAX ? cap : MP_PARTS_MAX);
        const uint8_t *hend = memmem(body + at, len - at, "\r\n\r\n", 4);
        const uint8_t *next = memmem(body + at, len - at, delim, dl);
        struct mp_part *pt = &parts[*n];
        memset(pt, 0, sizeof *pt);
        size_t hstart = at;
        if (len - at >= 2 && body[at] == '\r' && body[at + 1] == '\n') { /* no headers */
            hend = body + at - 2;
        }
        if (!hend || (next && hend > next))
            return fail(err, errlen, "a part's headers do not end in a blank line");
        size_t hlen = (size_t)(hend - body) > hstart ? (size_t)(hend - body) - hstart : 0;
        int r = part_headers((const char *)body + hstart, hlen, pt, err, errlen);
        if (r < 0) return r;
        size_t dstart = (size_t)(hend - body) + 4;
        if (!next) return fail(err, errlen, "part %s: no closing delimiter", pt->name);
        /* "...header CRLF" + "CRLF--B": the last header line's CRLF is the delimiter's, and
         * the part has no body section at all (RFC 2046: body-part := headers [CRLF *OCTET]) */
        if ((size_t)(next - body) < dstart) dstart = (size_t)(next - body);
        pt->len = (size_t)(next - body) - dstart;
        pt->data = pt->len ? body + dstart : NULL;
        (*n)++;
        at = (size_t)(next - body) + dl;
    }
}

const struct mp_part *mp_find(const struct mp_part *parts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(parts[i].name, name)) return &parts[i];
    return NULL;
}
