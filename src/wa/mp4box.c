/* SPDX-License-Identifier: MIT */
/* mp4box.c -- the ISO-BMFF box walker (see mp4box.h). */
#include "wa/mp4box.h"

#include <errno.h>
#include <string.h>

#include "core/be.h"

struct walk {
    mp4_read_fn rd;
    void *ud;
    unsigned boxes;
    struct mp4_info *out;
    /* the trak being read */
    uint32_t tk_w, tk_h;
    int tk_video;
};

struct box {
    uint64_t off, size; /* of the whole box */
    uint64_t body;      /* offset of its payload */
    char type[5];
};

static uint32_t be32p(const uint8_t *p)
{
    return (uint32_t)be_get(p, 4);
}

/* The box header at off inside [.., end). 0, -EBADMSG, or the read error. */
static int box_at(struct walk *w, uint64_t off, uint64_t end, struct box *b)
{
    uint8_t h[16];
    if (++w->boxes > MP4_BOXES_MAX || end - off < 8) return -EBADMSG;
    int rc = w->rd(w->ud, off, h, 8);
    if (rc < 0) return rc;
    uint64_t size = be32p(h), hl = 8;
    if (size == 1) {
        if (end - off < 16) return -EBADMSG;
        if ((rc = w->rd(w->ud, off + 8, h + 8, 8)) < 0) return rc;
        size = be_get(h + 8, 8), hl = 16;
    } else if (size == 0) {
        size = end - off;
    }
    if (size < hl || size > end - off) return -EBADMSG;
    b->off = off, b->size = size, b->body = off + hl;
    memcpy(b->type, h + 4, 4);
    b->type[4] = '\0';
    return 0;
}

static int read_body(struct walk *w, const struct box *b, uint8_t *buf, size_t n)
{
    if (b->off + b->size - b->body < n) return -EBADMSG;
    return w->rd(w->ud, b->body, buf, n);
}

/* mvhd: version 0 (32-bit times) or 1 (64-bit). */
static int mvhd(struct walk *w, const struct box *b)
{
    uint8_t v[32];
    int rc = read_body(w, b, v, 1);
    if (rc < 0) return rc;
    uint64_t scale, dur;
    if (v[0] == 1) {
        if ((rc = read_body(w, b, v, 32)) < 0) return rc;
        scale = be32p(v + 20), dur = be_get(v + 24, 8);
    } else {
        if ((rc = read_body(w, b, v, 20)) < 0) return rc;
        scale = be32p(v + 12), dur = be32p(v + 16);
    }
    /* all ones: unknown (fragmented files) */
    if (!scale || dur == UINT64_MAX || (v[0] != 1 && dur == UINT32_MAX)) return 0;
    if (dur / scale > MP4_SECONDS_MAX) return 0;
    uint64_t ms = dur / scale * 1000 + dur % scale * 1000 / scale;
    w->out->ms = (uint32_t)ms;
    w->out->seconds = (uint32_t)((ms + 500) / 1000);
    if (!w->out->seconds && ms) w->out->seconds = 1;
    return 0;
}

/* tkhd: width and height (16.16) at the end, the matrix before them. */
static int tkhd(struct walk *w, const struct box *b)
{
    uint8_t v[96];
    int rc = read_body(w, b, v, 1);
    if (rc < 0) return rc;
    size_t n = v[0] == 1 ? 96 : 84; /* version 1: 64-bit times and duration */
    if ((rc = read_body(w, b, v, n)) < 0) return rc;
    const uint8_t *mx = v + n - 44; /* a b u c d v x y w, 9 x 32 bits */
    uint32_t wd = be32p(v + n - 8) >> 16, ht = be32p(v + n - 4) >> 16;
    int32_t a = (int32_t)be32p(mx), bb = (int32_t)be32p(mx + 4);
    if (a == 0 && bb != 0) { /* 90 or 270 degrees: shown the other way round */
        uint32_t t = wd;
        wd = ht, ht = t;
    }
    w->tk_w = wd, w->tk_h = ht;
    return 0;
}

static int hdlr(struct walk *w, const struct box *b)
{
    uint8_t v[12];
    int rc = read_body(w, b, v, 12);
    if (rc < 0) return rc;
    if (!memcmp(v + 8, "vide", 4)) w->tk_video = 1;
    return 0;
}

static int walk_in(struct walk *w, const struct box *parent, int depth);

static int visit(struct walk *w, const struct box *b, int depth)
{
    if (!strcmp(b->type, "mvhd") && depth == 1) return mvhd(w, b);
    if (!strcmp(b->type, "tkhd") && depth == 2) return tkhd(w, b);
    if (!strcmp(b->type, "hdlr") && depth == 3) return hdlr(w, b);
    if (!strcmp(b->type, "mdia") && depth == 2) return walk_in(w, b, depth + 1);
    if (!strcmp(b->type, "trak") && depth == 1) {
        w->tk_w = w->tk_h = 0, w->tk_video = 0;
        int rc = walk_in(w, b, depth + 1);
        if (rc == 0 && w->tk_video && !w->out->width && w->tk_w && w->tk_h &&
            w->tk_w <= MP4_DIM_MAX && w->tk_h <= MP4_DIM_MAX)
            w->out->width = w->tk_w, w->out->height = w->tk_h;
        return rc;
    }
    return 0;
}

static int walk_in(struct walk *w, const struct box *parent, int depth)
{
    if (depth > MP4_DEPTH_MAX) return -EBADMSG;
    uint64_t end = parent->off + parent->size;
    for (uint64_t off = parent->body; off < end;) {
        struct box b;
        int rc = box_at(w, off, end, &b);
        if (rc < 0) return rc;
        if ((rc = visit(w, &b, depth)) < 0) return rc;
        off += b.size;
    }
    return 0;
}

int mp4_probe(mp4_read_fn rd, void *ud, uint64_t size, struct mp4_info *out)
{
    memset(out, 0, sizeof *out);
    struct walk w = {.rd = rd, .ud = ud, .out = out};
    for (uint64_t off = 0; off < size;) {
        struct box b;
        int rc = box_at(&w, off, size, &b);
        if (rc < 0) return rc;
        if (!strcmp(b.type, "moov")) return walk_in(&w, &b, 1);
        off += b.size;
    }
    return -ENOENT;
}

struct mem {
    const uint8_t *p;
    size_t n;
};

static int mem_read(void *ud, uint64_t off, uint8_t *buf, size_t n)
{
    const struct mem *m = ud;
    if (off > m->n || n > m->n - off) return -EBADMSG;
    memcpy(buf, m->p + off, n);
    return 0;
}

int mp4_probe_mem(const uint8_t *p, size_t n, struct mp4_info *out)
{
    struct mem m = {p, n};
    return mp4_probe(mem_read, &m, n, out);
}
