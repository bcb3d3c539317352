/* SPDX-License-Identifier: MIT */
/* metrics.h -- a small registry of counters and gauges rendered in the
 * Prometheus text exposition format 0.0.4, plus process metrics.
 *
 * A metric family has a name, a help line and a type; each series in it is
 * identified by its label set, written as the Prometheus label text without
 * braces (e.g. `route="/healthz",code="200"`, or "" for none). Label values
 * must be escaped by the caller (api_metrics_label_escape helps).
 * A histogram family (api_metrics_declare_histogram) has fixed bucket bounds; its series are
 * set whole (api_metrics_hist_set: per-bucket counts and the sum) and rendered as the
 * cumulative _bucket{le="..."}, _sum and _count lines.
 * Series are never removed, so a reference to one (api_metrics_ref) stays valid for the
 * registry's life: updating through it costs no lookup (many accounts, every scrape).
 * Collectors (api_metrics_collector_add) run at the start of each render: owners refresh the
 * values that are cheaper to read when asked than to push on every change.
 * Caps: 128 families, 16384 series per family (-ENOSPC beyond). Names must
 * match [a-zA-Z_:][a-zA-Z0-9_:]* (-EINVAL otherwise). Not thread-safe: use
 * from the loop thread.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum api_metric_type { API_METRIC_COUNTER, API_METRIC_GAUGE, API_METRIC_HISTOGRAM };

#define API_METRICS_HIST_MAX 16 /* bucket bounds of a histogram, +Inf excluded */

/* A series found or created by api_metrics_ref; {-1, -1} = none (updates are no-ops). */
struct api_metric_ref {
    int f, s;
};
#define API_METRIC_REF_NONE ((struct api_metric_ref){-1, -1})

struct api_metrics;

int api_metrics_new(struct api_metrics **out) __attribute__((warn_unused_result));
void api_metrics_free(struct api_metrics *m); /* NULL ok */

/* Declare a family (idempotent; a second call with another type is -EEXIST). */
int api_metrics_declare(struct api_metrics *m, const char *name, const char *help,
                        enum api_metric_type type);
/* Add v to a series (created at 0 if new; the family must be declared). */
int api_metrics_add(struct api_metrics *m, const char *name, const char *labels, double v);
/* Set a series to v (gauges). */
int api_metrics_set(struct api_metrics *m, const char *name, const char *labels, double v);
/* Current value of a series (0 if absent). */
double api_metrics_get(const struct api_metrics *m, const char *name, const char *labels);

/* Declare a histogram family with nb (1..API_METRICS_HIST_MAX) increasing upper bounds
 * (the +Inf bucket is implied). Idempotent like api_metrics_declare. */
int api_metrics_declare_histogram(struct api_metrics *m, const char *name, const char *help,
                                  const double *bounds, size_t nb);
/* The series (created at 0 if new) for later updates without a lookup: 0, or -ENOENT (no such
 * family), -ENOSPC, -ENOMEM (then *out is API_METRIC_REF_NONE). */
int api_metrics_ref(struct api_metrics *m, const char *name, const char *labels,
                    struct api_metric_ref *out);
void api_metrics_ref_set(struct api_metrics *m, struct api_metric_ref r, double v);
void api_metrics_ref_add(struct api_metrics *m, struct api_metric_ref r, double v);
/* A histogram series: counts[nb + 1] per bucket (NOT cumulative; the last one is +Inf) and
 * the sum of the observations. A ref to a non-histogram series is ignored. */
void api_metrics_hist_set(struct api_metrics *m, struct api_metric_ref r, const uint64_t *counts,
                          size_t ncounts, double sum);

/* fn(m, ud) runs at the start of every api_metrics_collect (the /metrics route calls it before
 * rendering). At most 4096 collectors (-ENOSPC); remove with the same fn and ud (a no-op if
 * absent). */
typedef void (*api_metrics_collect_fn)(struct api_metrics *m, void *ud);
int api_metrics_collector_add(struct api_metrics *m, api_metrics_collect_fn fn, void *ud);
void api_metrics_collector_remove(struct api_metrics *m, api_metrics_collect_fn fn, void *ud);
void api_metrics_collect(struct api_metrics *m);

/* Render everything: process_* metrics (resident memory from
 * /proc/self/statm, CPU seconds, open fds, start time), then the registry.
 * Returns 0 or -ENOBUFS/-ENOMEM. */
int api_metrics_render(const struct api_metrics *m, struct buf *out)
    __attribute__((warn_unused_result));

/* Escape a label value (\\, \", \n) into out; truncates to outlen-1. */
void api_metrics_label_escape(const char *in, char *out, size_t outlen);
