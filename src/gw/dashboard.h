/* SPDX-License-Identifier: MIT */
/* dashboard.h -- the web dashboard's page and assets on the control API.
 *
 *   GET /               index.html (the page)
 *   GET /<file>         an embedded asset (gw/dashboard_assets.h): dashboard.css,
 *                       dashboard.js; anything else 404 {"error"}
 * No token is needed for these: the files hold no data. The page reads the token from its
 * URL fragment (#token=..., which browsers never send to the server) and calls the API with
 * it like any client; `wagate dashboard` prints that URL. Each answer carries a strict
 * Content-Security-Policy (only this origin's scripts, styles and connections; no inline
 * script, no framing), X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer and
 * Cache-Control: no-cache (a new binary's page is never mixed with an old script).
 * The "/" prefix catches every path no longer route claims: unknown GETs stay 404 (counted
 * under route "/" in wagate_api_requests_total instead of "unmatched"), other methods on an
 * unknown path get 405 (Allow: GET) instead of 404.
 */
#pragma once

struct api_server;

/* The asset called `name` ("" = index.html), or NULL. */
const struct gw_asset *gw_dashboard_asset(const char *name);
/* Register GET / (no auth). 0 or the api_server_add_route error. */
int gw_dashboard_add(struct api_server *s);
