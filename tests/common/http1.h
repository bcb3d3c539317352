/* SPDX-License-Identifier: MIT */
/* http1.h -- test support: one blocking HTTP/1.1 request to a loopback server
 * (fakewa's admin API in the integration tests). */
#pragma once

/* METHOD path with an optional JSON body to "IPv4:PORT"; waits up to timeout_ms for
 * each read. Returns the status code and, if body is non-NULL, a heap copy of the
 * response body (caller frees); -1 when nothing answered or the answer is not HTTP. */
int http1_request(const char *hostport, const char *method, const char *path, const char *json,
                  int timeout_ms, char **body);
