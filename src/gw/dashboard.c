/* SPDX-License-Identifier: MIT */
/* dashboard.c -- serves the embedded dashboard files (gw/dashboard.h). */
#include "gw/dashboard.h"

#include <string.h>

#include "api/server.h"
#include "gw/dashboard_assets.h"

#define CSP                                                                                        \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "        \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const struct gw_asset *gw_dashboard_asset(const char *name)
{
    if (!name[0]) name = "index.html";
    for (size_t i = 0; i < gw_dashboard_nassets; i++)
        if (strcmp(gw_dashboard_assets[i].name, name) == 0) return &gw_dashboard_assets[i];
    return NULL;
}

static void serve(const struct api_request *req, struct api_response *res, void *arg)
{
    const struct gw_asset *a = gw_dashboard_asset(req->rest);
    if (!a) {
        api_response_error(res, 404, "not found");
        return;
    }
    buf_reset(&res->body);
    if (buf_append(&res->body, a->data, a->len) < 0) {
        api_response_error(res, 500, "cannot send the asset");
        return;
    }
    res->status = 200;
    strncpy(res->content_type, a->ctype, sizeof res->content_type - 1);
    res->content_type[sizeof res->content_type - 1] = '\0';
    if (api_response_header(res, "Content-Security-Policy", CSP) < 0 ||
        api_response_header(res, "X-Content-Type-Options", "nosniff") < 0 ||
        api_response_header(res, "Referrer-Policy", "no-referrer") < 0 ||
        api_response_header(res, "X-Frame-Options", "DENY") < 0 ||
        api_response_header(res, "Cache-Control", "no-cache") < 0)
        api_response_error(res, 500, "cannot send the asset");
}

int gw_dashboard_add(struct api_server *s)
{
    return api_server_add_route(s, "GET", "/", false, serve, NULL);
}
