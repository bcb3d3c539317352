/* SPDX-License-Identifier: MIT */
/* metrics.h -- a small registry of counters and gauges rendered in the
 * Prometheus text exposition format 0.0.4, plus process metrics.
 *
 * A metric family has a name, a help line and a type; each series in it is
 * identified by its label set, written as the Prometheus label text without
 * braces (e.g. `route="/healthz",code="200"`, or "" for none). Label values
 * must be escaped by the caller (api_metrics_label_escape helps).
 * Caps: 128 families, 16384 series per family (-ENOSPC beyond). Names must
 * match [a-zA-Z_:][a-zA-Z0-9_:]* (-EINVAL otherwise). Not thread-safe: use
 * from the loop thread.
 */
#pragma once
#include <stddef.h>

#include "core/buf.h"

enum api_metric_type { API_METRIC_COUNTER, API_METRIC_GAUGE };

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

/* Render everything: process_* metrics (resident memory from
 * /proc/self/statm, CPU seconds, open fds, start time), then the registry.
 * Returns 0 or -ENOBUFS/-ENOMEM. */
int api_metrics_render(const struct api_metrics *m, struct buf *out)
    __attribute__((warn_unused_result));

/* Escape a label value (\\, \", \n) into out; truncates to outlen-1. */
void api_metrics_label_escape(const char *in, char *out, size_t outlen);
