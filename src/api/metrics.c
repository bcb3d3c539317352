/* SPDX-License-Identifier: MIT */
/* metrics.c -- counters/gauges registry and Prometheus text rendering. */
#include "api/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_FAMILIES 128
#define MAX_SERIES   16384 /* per family: 1024 accounts x the states or causes of one */

#define MAX_COLLECTORS 4096

struct series {
    char *labels;
    double v;       /* histograms: the sum */
    uint64_t *hist; /* histograms: nb + 1 bucket counts (not cumulative), else NULL */
};

struct family {
    char *name;
    char *help;
    enum api_metric_type type;
    double bounds[API_METRICS_HIST_MAX]; /* histograms */
    size_t nb;
    struct series *s;
    size_t n, cap; /* cap doubles: a thousand accounts' series cost no quadratic copying */
};

struct collector {
    api_metrics_collect_fn fn;
    void *ud;
};

struct api_metrics {
    struct family f[MAX_FAMILIES];
    size_t n;
    struct collector *col;
    size_t ncol, capcol;
    double start_time; /* process start, read at api_metrics_new; 0 = unknown, read per render */
};

static double read_start_time(void);

int api_metrics_new(struct api_metrics **out)
{
    *out = calloc(1, sizeof(**out));
    if (!*out) return -ENOMEM;
    (*out)->start_time = read_start_time();
    return 0;
}

void api_metrics_free(struct api_metrics *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) {
        for (size_t j = 0; j < m->f[i].n; j++) {
            free(m->f[i].s[j].labels);
            free(m->f[i].s[j].hist);
        }
        free(m->f[i].s);
        free(m->f[i].name);
        free(m->f[i].help);
    }
    free(m->col);
    free(m);
}

static bool name_ok(const char *n)
{
    if (!n || !*n || (n[0] >= '0' && n[0] <= '9')) return false;
    for (; *n; n++) {
        char c = *n;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == ':'))
            return false;
    }
    return true;
}

static struct family *find(const struct api_metrics *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->f[i].name, name) == 0) return (struct family *)&m->f[i];
    return NULL;
}

int api_metrics_declare(struct api_metrics *m, const char *name, const char *help,
                        enum api_metric_type type)
{
    if (!name_ok(name)) return -EINVAL;
    struct family *f = find(m, name);
    if (f) return f->type == type ? 0 : -EEXIST;
    if (m->n >= MAX_FAMILIES) return -ENOSPC;
    f = &m->f[m->n];
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    if (!f->name || !f->help) {
        free(f->name);
        free(f->help);
        return -ENOMEM;
    }
    /* help text is one line */
    for (char *p = f->help; *p; p++)
        if (*p == '\n') *p = ' ';
    f->type = type;
    m->n++;
    return 0;
}

static struct series *series(struct api_metrics *m, const char *name, const char *labels, int *rc)
{
    struct family *f = find(m, name);
    *rc = -ENOENT;
    if (!f) return NULL;
    if (!labels) labels = "";
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->s[i].labels, labels) == 0) return &f->s[i];
    *rc = -ENOSPC;
    if (f->n >= MAX_SERIES) return NULL;
    *rc = -ENOMEM;
    if (f->n == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 8;
        struct series *ns = realloc(f->s, ncap * sizeof(*ns));
        if (!ns) return NULL;
        f->s = ns;
        f->cap = ncap;
    }
    struct series *ns = &f->s[f->n];
    ns->v = 0;
    ns->hist = NULL;
    if (f->type == API_METRIC_HISTOGRAM && !(ns->hist = calloc(f->nb + 1, sizeof(uint64_t))))
        return NULL;
    ns->labels = strdup(labels);
    if (!ns->labels) {
        free(ns->hist);
        return NULL;
    }
    f->n++;
    return ns;
}

int api_metrics_add(struct api_metrics *m, const char *name, const char *labels, double v)
{
    int rc;
    struct series *s = series(m, name, labels, &rc);
    if (!s) return rc;
    s->v += v;
    return 0;
}

int api_metrics_set(struct api_metrics *m, const char *name, const char *labels, double v)
{
    int rc;
    struct series *s = series(m, name, labels, &rc);
    if (!s) return rc;
    s->v = v;
    return 0;
}

int api_metrics_declare_histogram(struct api_metrics *m, const char *name, const char *help,
                                  const double *bounds, size_t nb)
{
    if (nb < 1 || nb > API_METRICS_HIST_MAX) return -EINVAL;
    for (size_t i = 1; i < nb; i++)
        if (!(bounds[i] > bounds[i - 1])) return -EINVAL;
    struct family *f = find(m, name);
    int r = api_metrics_declare(m, name, help, API_METRIC_HISTOGRAM);
    if (r < 0 || f) return r; /* an existing one keeps its bounds */
    f = find(m, name);
    if (!f) return -ENOENT;
    memcpy(f->bounds, bounds, nb * sizeof(double));
    f->nb = nb;
    return 0;
}

int api_metrics_ref(struct api_metrics *m, const char *name, const char *labels,
                    struct api_metric_ref *out)
{
    int rc;
    *out = API_METRIC_REF_NONE;
    struct series *s = series(m, name, labels, &rc);
    if (!s) return rc;
    const struct family *f = find(m, name);
    out->f = (int)(f - m->f);
    out->s = (int)(s - f->s);
    return 0;
}

static struct series *at(struct api_metrics *m, struct api_metric_ref r)
{
    if (r.f < 0 || (size_t)r.f >= m->n || r.s < 0 || (size_t)r.s >= m->f[r.f].n) return NULL;
    return &m->f[r.f].s[r.s];
}

void api_metrics_ref_set(struct api_metrics *m, struct api_metric_ref r, double v)
{
    struct series *s = at(m, r);
    if (s && !s->hist) s->v = v;
}

void api_metrics_ref_add(struct api_metrics *m, struct api_metric_ref r, double v)
{
    struct series *s = at(m, r);
    if (s && !s->hist) s->v += v;
}

void api_metrics_hist_set(struct api_metrics *m, struct api_metric_ref r, const uint64_t *counts,
                          size_t ncounts, double sum)
{
    struct series *s = at(m, r);
    if (!s || !s->hist) return;
    size_t nb = m->f[r.f].nb + 1;
    for (size_t i = 0; i < nb; i++)
        s->hist[i] = i < ncounts ? counts[i] : 0;
    s->v = sum;
}

int api_metrics_collector_add(struct api_metrics *m, api_metrics_collect_fn fn, void *ud)
{
    if (m->ncol >= MAX_COLLECTORS) return -ENOSPC;
    if (m->ncol == m->capcol) {
        size_t nc = m->capcol ? m->capcol * 2 : 8;
        struct collector *c = realloc(m->col, nc * sizeof(*c));
        if (!c) return -ENOMEM;
        m->col = c;
        m->capcol = nc;
    }
    m->col[m->ncol++] = (struct collector){fn, ud};
    return 0;
}

void api_metrics_collector_remove(struct api_metrics *m, api_metrics_collect_fn fn, void *ud)
{
    for (size_t i = 0; i < m->ncol; i++)
        if (m->col[i].fn == fn && m->col[i].ud == ud) {
            m->col[i] = m->col[--m->ncol]; /* the order of collectors does not matter */
            return;
        }
}

void api_metrics_collect(struct api_metrics *m)
{
    for (size_t i = 0; i < m->ncol; i++)
        m->col[i].fn(m, m->col[i].ud);
}

double api_metrics_get(const struct api_metrics *m, const char *name, const char *labels)
{
    const struct family *f = find(m, name);
    if (!f) return 0;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->s[i].labels, labels ? labels : "") == 0) return f->s[i].v;
    return 0;
}

void api_metrics_label_escape(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    for (; *in && o + 2 < outlen; in++) {
        if (*in == '\\' || *in == '"') {
            out[o++] = '\\';
            out[o++] = *in;
        } else if (*in == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *in;
        }
    }
    if (outlen) out[o] = '\0';
}

static int emit_value(struct buf *out, double v)
{
    if (v == floor(v) && fabs(v) < 1e15) return buf_printf(out, "%.0f\n", v);
    return buf_printf(out, "%.17g\n", v);
}

/* name_bucket{labels,le="b"} (cumulative), name_sum, name_count */
static int emit_hist(struct buf *out, const struct family *f, const struct series *s)
{
    const char *sep = s->labels[0] ? "," : "";
    uint64_t cum = 0;
    int r = 0;
    for (size_t i = 0; r == 0 && i <= f->nb; i++) {
        cum += s->hist[i];
        char le[32];
        if (i == f->nb)
            snprintf(le, sizeof le, "+Inf");
        else
            snprintf(le, sizeof le, "%g", f->bounds[i]);
        r = buf_printf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", f->name, s->labels, sep, le,
                       (unsigned long long)cum);
    }
    const char *lb = s->labels[0] ? "{" : "", *rb = s->labels[0] ? "}" : "";
    if (r == 0) r = buf_printf(out, "%s_sum%s%s%s ", f->name, lb, s->labels, rb);
    if (r == 0) r = emit_value(out, s->v);
    if (r == 0)
        r = buf_printf(out, "%s_count%s%s%s %llu\n", f->name, lb, s->labels, rb,
                       (unsigned long long)cum);
    return r;
}

static int emit(struct buf *out, const char *name, const char *help, const char *type,
                const char *labels, double v)
{
    int r = 0;
    if (help) r = buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    if (r < 0) return r;
    if (labels && *labels)
        r = buf_printf(out, "%s{%s} ", name, labels);
    else
        r = buf_printf(out, "%s ", name);
    if (r < 0) return r;
    return emit_value(out, v);
}

static long count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the directory stream itself */
}

/* Start time from /proc/self/stat field 22 (clock ticks since boot) and btime; 0 if unknown. */
static double read_start_time(void)
{
    char b[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return 0;
    size_t n = fread(b, 1, sizeof(b) - 1, f);
    fclose(f);
    b[n] = '\0';
    char *p = strrchr(b, ')'); /* comm may contain spaces */
    unsigned long long ticks = 0;
    if (!p || sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
                     "%*d %*d %llu",
                     &ticks) != 1)
        return 0;
    f = fopen("/proc/stat", "r");
    if (!f) return 0;
    unsigned long long btime = 0;
    char line[256];
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "btime %llu", &btime) == 1) break;
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (btime == 0 || hz <= 0) return 0;
    return (double)btime + (double)ticks / (double)hz;
}

static int render_process(const struct api_metrics *m, struct buf *out)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned long long vsz = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &vsz, &rss) != 2) vsz = rss = 0;
        fclose(f);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                 ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    struct rlimit rl;
    double maxfds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (double)rl.rlim_cur : 0;
    int r = emit(out, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge",
                 NULL, (double)rss * (double)page);
    if (r == 0)
        r = emit(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge",
                 NULL, (double)vsz * (double)page);
    if (r == 0)
        r = emit(out, "process_cpu_seconds_total", "Total user and system CPU time in seconds.",
                 "counter", NULL, cpu);
    if (r == 0)
        r = emit(out, "process_open_fds", "Number of open file descriptors.", "gauge", NULL,
                 (double)count_fds());
    if (r == 0)
        r = emit(out, "process_max_fds", "Maximum number of open file descriptors.", "gauge", NULL,
                 maxfds);
    if (r == 0)
        r = emit(out, "process_start_time_seconds",
                 "Start time of the process since unix epoch in seconds.", "gauge", NULL,
                 m->start_time > 0 ? m->start_time : read_start_time());
    return r;
}

int api_metrics_render(const struct api_metrics *m, struct buf *out)
{
    int r = render_process(m, out);
    for (size_t i = 0; r == 0 && i < m->n; i++) {
        const struct family *f = &m->f[i];
        const char *type = f->type == API_METRIC_COUNTER ? "counter"
                           : f->type == API_METRIC_GAUGE ? "gauge"
                                                         : "histogram";
        r = buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, type);
        for (size_t j = 0; r == 0 && j < f->n; j++)
            r = f->s[j].hist ? emit_hist(out, f, &f->s[j])
                             : emit(out, f->name, NULL, NULL, f->s[j].labels, f->s[j].v);
    }
    return r;
}
