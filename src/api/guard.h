/* SPDX-License-Identifier: MIT */
/* guard.h -- who may talk to the API: the Host allowlist (DNS rebinding), the Origin check of
 * WebSocket upgrades, and the loopback test of an address.
 *
 * Host: a request whose Host header names a host that is not allowed is refused (403), so a
 * page whose DNS name was rebound to 127.0.0.1 cannot read the API with its own name in Host.
 * Always allowed, with the port the server is bound to: "localhost", "127.0.0.1", "[::1]" and
 * the listen address itself when it is a specific IP. Configured names (gateway.allowed_hosts)
 * are "NAME" (any port, or none: a reverse proxy usually forwards its own Host) or "NAME:PORT"
 * (that port only). A Host without a port means the scheme's default (80, or 443 with TLS).
 * Names compare case-insensitively; a request without Host (HTTP/1.0) passes.
 *
 * Origin: a WebSocket upgrade carrying an Origin header must name an allowed host with the
 * same rules ("http://localhost:18789"); "null" and anything unparsable are refused. No
 * Origin (a non-browser client) passes. The token is checked as well, separately.
 *
 * Pure functions of their inputs; no allocation, no I/O.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include <sys/socket.h>

#define API_GUARD_MAX_HOSTS 16  /* configured names */
#define API_GUARD_HOST_MAX  256 /* bytes of one name, incl. the NUL */

struct api_guard {
    char hosts[API_GUARD_MAX_HOSTS][API_GUARD_HOST_MAX]; /* lower case, "[v6]" bracketed */
    int host_port[API_GUARD_MAX_HOSTS];                  /* -1 = any port */
    size_t nhosts;
    char listen_host[64]; /* the bound IP when it is a specific one ("" otherwise) */
    int port;             /* the bound port */
    bool tls;             /* default port 443 instead of 80 */
};

/* Fill g: listen is the "IP:PORT" the server bound (port is the real one, for port 0),
 * extra the configured names (may be NULL when n is 0). Returns 0, or -EINVAL for an entry
 * that is empty, too long or has a bad port, -E2BIG for more than API_GUARD_MAX_HOSTS. */
int api_guard_init(struct api_guard *g, const char *listen, int port, bool tls,
                   const char *const *extra, size_t n);
/* True if a Host header value is allowed (NULL: no Host header, allowed). */
bool api_guard_host_ok(const struct api_guard *g, const char *host);
/* True if an Origin header value is allowed (NULL: no Origin header, allowed). */
bool api_guard_origin_ok(const struct api_guard *g, const char *origin);
/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
bool api_addr_is_loopback(const struct sockaddr *sa);
/* True if an "IP:PORT" / "[V6]:PORT" listen address is a loopback one (0.0.0.0 and :: are not).
 * False for anything unparsable. */
bool api_listen_is_loopback(const char *listen);
