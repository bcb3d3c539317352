/* SPDX-License-Identifier: MIT */
/* whurl.h -- a webhook endpoint URL fit to show in the status and on the dashboard.
 *
 * The configured URL may carry credentials: user:password@ is dropped, each value of the
 * query and the fragment become "*" (tokens often ride in them):
 * "https://u:p@h/p?token=abc&x=1#f" -> "https://h/p?token=*&x=*#*". The result is truncated
 * to outlen - 1 bytes. Pure; no allocation.
 */
#pragma once
#include <stddef.h>

void gw_webhook_url_redact(const char *url, char *out, size_t outlen);
