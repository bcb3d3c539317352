/* SPDX-License-Identifier: MIT */
/* dnsprobe.h -- a resolver-only probe while DNS is what fails (issue 10, fault-matrix #1-#4).
 *
 * While the channel waits in backoff after a DNS failure, a full attempt comes only when the
 * delay is over (up to whatsapp.backoff.cap_ms). The probe asks the resolver alone (c-ares,
 * net/dns.h: no connection, no TLS) for the endpoint's name every `interval_ms`, and calls
 * on_resolved() once, from a loop callback, the first time the name resolves again; the
 * owner then cuts its delay short. One query at a time: the next probe is scheduled
 * interval_ms after the previous one ended (so a resolver that hangs is asked at most once
 * per interval + its timeout). Everything runs on the loop; nothing blocks.
 *
 * Ownership: dnsprobe_new() copies the host and the server strings. dnsprobe_start() and
 * dnsprobe_stop() may be called from anywhere on the loop thread, including from inside
 * on_resolved(); dnsprobe_close() stops it and releases the memory from libuv close
 * callbacks (on_resolved never runs after it; call it once, not from inside on_resolved()).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#define DNSPROBE_INTERVAL_MS 2000 /* default interval between probes */
#define DNSPROBE_TIMEOUT_MS  1000 /* per-try resolver timeout of one probe (one try/server) */

struct dnsprobe;

struct dnsprobe_opts {
    const char *host;           /* a DNS name (not an IP literal), <= 255 bytes */
    const char *const *servers; /* "ip[:port]"; NULL / 0: the system's resolvers */
    size_t nservers;            /* <= 8 */
    unsigned interval_ms;       /* 0: DNSPROBE_INTERVAL_MS */
    unsigned timeout_ms;        /* 0: DNSPROBE_TIMEOUT_MS */
};

/* 0, -EINVAL (bad options), -ENOMEM. The probe starts idle. */
int dnsprobe_new(uv_loop_t *loop, const struct dnsprobe_opts *o, void (*on_resolved)(void *ud),
                 void *ud, struct dnsprobe **out) __attribute__((warn_unused_result));
/* The probe for a whatsapp.endpoint URL: 0 with *out NULL when its host is an IP literal (no
 * name to probe), else as dnsprobe_new with the defaults; -EINVAL for a URL that does not
 * parse. */
int dnsprobe_new_for_url(uv_loop_t *loop, const char *url, const char *const *servers,
                         size_t nservers, void (*on_resolved)(void *ud), void *ud,
                         struct dnsprobe **out) __attribute__((warn_unused_result));
/* Begin probing (the first query interval_ms from now); no-op while already probing. */
void dnsprobe_start(struct dnsprobe *p);
/* Stop probing (a query in flight is cancelled). No-op when idle; NULL accepted. */
void dnsprobe_stop(struct dnsprobe *p);
bool dnsprobe_active(const struct dnsprobe *p);
/* Queries started since dnsprobe_new (for tests and logs). */
unsigned dnsprobe_queries(const struct dnsprobe *p);
/* Stop and free (two-step, see above). NULL accepted. */
void dnsprobe_close(struct dnsprobe *p);
