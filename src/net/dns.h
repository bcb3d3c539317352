/* SPDX-License-Identifier: MIT */
/* dns.h -- asynchronous name resolution on the uv loop through c-ares.
 *
 * One `struct ndns_query` resolves one name (A and AAAA). c-ares sockets are watched
 * with uv_poll and its retransmission timeouts are driven by a uv timer fed from
 * ares_timeout(), so nothing ever blocks the loop. The result is always delivered
 * from a later loop callback, never from ndns_resolve() itself.
 *
 * Ownership: the query owns itself. After the callback has run, the query is gone
 * (its memory is released in uv close callbacks); do not touch it again. Before the
 * callback, ndns_cancel() stops it: the callback will never run and all memory is
 * released asynchronously. Cancelling from inside any other callback is safe.
 */
#pragma once
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "net/outcome.h"

#define NDNS_MAX_ADDRS   16
#define NDNS_MAX_SERVERS 8
#define NDNS_NAME_MAX    255

struct ndns_opts {
    /* DNS servers as "ip[:port]" strings ("127.0.0.1:5353", "[::1]:53"); NULL or
     * nservers == 0 means the system's resolv.conf. At most NDNS_MAX_SERVERS. */
    const char *const *servers;
    size_t nservers;
    int timeout_ms; /* per-try timeout (c-ares semantics); <= 0: 2000 */
    int tries;      /* tries per server; <= 0: 2 */
};

struct ndns_result {
    enum nout_cause cause; /* NOUT_C_NONE on success, else NXDOMAIN/SERVFAIL/REFUSED/
                              NODATA/TIMEOUT or NOUT_C_ERRNO (see err, detail text) */
    int err;               /* 0 on success, negative errno equivalent on failure */
    char detail[96];       /* c-ares' error string on failure */
    struct sockaddr_storage addrs[NDNS_MAX_ADDRS]; /* port already set */
    size_t naddrs;
};

struct ndns_query;
/* `res` is valid only during the call. */
typedef void (*ndns_cb)(void *ud, const struct ndns_result *res);

/* Start resolving `name`; results carry `port`. Returns 0 and sets *out, or a negative
 * errno (-EINVAL for a bad server string or name, -ENOMEM) with a reason in `err`
 * (if non-NULL, NUL-terminated); the callback is then never called. */
int ndns_resolve(uv_loop_t *loop, const struct ndns_opts *opts, const char *name, uint16_t port,
                 ndns_cb cb, void *ud, struct ndns_query **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Cancel a pending query (callback not yet run). NULL is accepted. */
void ndns_cancel(struct ndns_query *q);

/* Map a c-ares status to the outcome cause used in ndns_result. */
enum nout_cause ndns_cause_from_ares(int status, int *err);
