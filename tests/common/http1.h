/* SPDX-License-Identifier: MIT */
/* http1.h -- test support: one blocking HTTP/1.1 request to a loopback server
 * (fakewa's admin API in the integration tests).
 *
 * Every request opens its own connection (Connection: close), sends the method, path and
 * an optional JSON body (Content-Type: application/json), then reads until the server
 * closes, waiting at most timeout_ms for each read. Responses over 1 MiB are cut. No
 * cmocka here: the callers assert on what comes back.
 */
#pragma once
#include <stddef.h>

#include <cjson/cJSON.h>

/* A blocking TCP connection to "IPv4:PORT" (the one the requests use): the fd, or -1.
 * For tests that speak another protocol to such an address. */
int http1_connect(const char *hostport);
/* METHOD path with an optional JSON body to "IPv4:PORT"; waits up to timeout_ms for
 * each read. Returns the status code and, if body is non-NULL, a heap copy of the
 * response body (caller frees); -1 when nothing answered or the answer is not HTTP. */
int http1_request(const char *hostport, const char *method, const char *path, const char *json,
                  int timeout_ms, char **body);
/* http1_request with the body copied into out (NUL-terminated, cut to outlen - 1 bytes;
 * "" when there is no answer). Returns the status code, or -1 as http1_request. */
int http1_request_buf(const char *hostport, const char *method, const char *path, const char *json,
                      int timeout_ms, char *out, size_t outlen);
/* http1_request whose body is JSON: returns the parsed body (caller cJSON_Delete()s it),
 * NULL when nothing answered or the body is not JSON. *status (if non-NULL) gets the status
 * code, or -1. */
cJSON *http1_request_json(const char *hostport, const char *method, const char *path,
                          const char *json, int timeout_ms, int *status);
