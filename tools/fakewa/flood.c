/* SPDX-License-Identifier: MIT */
/* flood.c -- POST /admin/flood: one phone's texts round robin over many accounts, sent in
 * slices from an idle handle: one slice per loop iteration, with the I/O polled in between
 * (a 0 ms timer re-armed from its own callback would run again in the same timer phase on
 * libuv 1.44, and the flood would starve every connection until its end). */
#include "flood.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "accounts.h"
#include "contacts.h"
#include "core/log.h"

#define TEXT_MAX 256

struct target {
    struct fw_group *g; /* a group, or */
    struct fw_account *a;
};

struct fw_flood {
    uv_idle_t idle;
    struct fw_server *s;
    struct fw_account *from;
    struct target *to;
    size_t nto, count, sent;
    char text[TEXT_MAX + 1];
    fw_flood_done_fn done;
    void *arg;
    double t0_ms, cpu0_ms;
};

static struct fw_flood *g_flood; /* the one running */

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0) return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static void on_closed(uv_handle_t *h)
{
    struct fw_flood *f = h->data;
    free(f->to);
    free(f);
}

/* The hold on account saves ends: the pre-keys the flood took are written now. */
static size_t release_saves(struct fw_server *s)
{
    s->hold_saves = false;
    return fw_account_save_held(s);
}

static void finish(struct fw_flood *f, int rc, const char *err)
{
    struct fw_flood_result r = {.sent = f->sent,
                                .wall_ms = mono_ms() - f->t0_ms,
                                .cpu_ms = cpu_ms() - f->cpu0_ms,
                                .rc = rc};
    snprintf(r.error, sizeof r.error, "%s", err ? err : "");
    struct fw_server *s = f->s;
    g_flood = NULL;
    uv_close((uv_handle_t *)&f->idle, on_closed);
    f->done(f->arg, &r); /* the answer is written before the saves block the loop */
    double t = mono_ms();
    size_t n = release_saves(s);
    if (n) log_info("fakewa", NULL, "flood: %zu accounts saved in %.0f ms", n, mono_ms() - t);
}

static void on_slice(uv_idle_t *h)
{
    struct fw_flood *f = h->data;
    size_t end = f->sent + FW_FLOOD_SLICE < f->count ? f->sent + FW_FLOOD_SLICE : f->count;
    char text[TEXT_MAX + 32], id[64], err[256] = "";
    while (f->sent < end) {
        snprintf(text, sizeof text, "%s %zu", f->text, f->sent);
        Wa__Message m = WA__MESSAGE__INIT;
        m.conversation = text;
        const struct target *t = &f->to[f->sent % f->nto];
        int rc = fw_sim_send_to(f->s, f->from, t->g, t->a, &m, id, err, sizeof err);
        if (rc < 0) {
            finish(f, rc, err);
            return;
        }
        f->sent++;
    }
    if (f->sent == f->count) finish(f, 0, NULL);
}

static int parse(struct fw_server *s, const cJSON *body, struct fw_flood *f, char *err,
                 size_t errlen)
{
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(body, "from");
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(body, "to");
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(body, "count");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(body, "text");
    int nto = cJSON_IsArray(to) ? cJSON_GetArraySize(to) : 0;
    if (!cJSON_IsString(from) || nto < 1 || nto > FW_FLOOD_TARGETS_MAX || !cJSON_IsNumber(count) ||
        count->valuedouble < 1 || count->valuedouble > FW_FLOOD_COUNT_MAX ||
        (text &&
         (!cJSON_IsString(text) || !*text->valuestring || strlen(text->valuestring) > TEXT_MAX))) {
        snprintf(err, errlen,
                 "need from (string), to (1..%d accounts), count (1..%d), text? (1..%d bytes)",
                 FW_FLOOD_TARGETS_MAX, FW_FLOOD_COUNT_MAX, TEXT_MAX);
        return -EINVAL;
    }
    f->from = fw_account_lookup(s, from->valuestring);
    if (!f->from || !f->from->sim) {
        snprintf(err, errlen, "unknown sender %s (or no simulated phone)", from->valuestring);
        return -ENOENT;
    }
    f->to = calloc((size_t)nto, sizeof *f->to);
    if (!f->to) return -ENOMEM;
    f->nto = (size_t)nto;
    size_t i = 0;
    for (const cJSON *t = to->child; t; t = t->next, i++) {
        const char *v = cJSON_GetStringValue(t);
        struct target *d = &f->to[i];
        d->g = v && strchr(v, '@') && !strstr(v, "@g.us") ? NULL : v ? fw_group_find(s, v) : NULL;
        d->a = !d->g && v ? fw_account_lookup(s, v) : NULL;
        if ((!d->g && !d->a) || d->a == f->from) {
            snprintf(err, errlen, "to[%zu]: unknown account or group (or the sender)", i);
            return -ENOENT;
        }
    }
    f->count = (size_t)count->valuedouble;
    snprintf(f->text, sizeof f->text, "%s", text ? text->valuestring : "flood");
    return 0;
}

int fw_flood_start(struct fw_server *s, const cJSON *body, fw_flood_done_fn done, void *arg,
                   struct fw_flood **out, char *err, size_t errlen)
{
    if (out) *out = NULL;
    if (g_flood) {
        snprintf(err, errlen, "a flood is running");
        return -EBUSY;
    }
    struct fw_flood *f = calloc(1, sizeof *f);
    if (!f) return -ENOMEM;
    int rc = parse(s, body, f, err, errlen);
    if (rc < 0) {
        free(f->to);
        free(f);
        return rc;
    }
    f->s = s;
    f->done = done;
    f->arg = arg;
    f->t0_ms = mono_ms();
    f->cpu0_ms = cpu_ms();
    uv_idle_init(s->loop, &f->idle);
    f->idle.data = f;
    uv_idle_start(&f->idle, on_slice);
    s->hold_saves = true;
    g_flood = f;
    if (out) *out = f;
    return 0;
}

void fw_flood_cancel(struct fw_flood *f)
{
    if (!f || f != g_flood) return;
    g_flood = NULL;
    (void)release_saves(f->s);
    uv_close((uv_handle_t *)&f->idle, on_closed);
}
