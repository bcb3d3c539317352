/* SPDX-License-Identifier: MIT */
/* http1.c -- test support: a blocking HTTP/1.1 request (Connection: close). */
#include "http1.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RESPONSE_MAX (1 << 20)

int http1_connect(const char *hostport)
{
    char host[192];
    snprintf(host, sizeof host, "%s", hostport);
    char *colon = strrchr(host, ':');
    if (!colon) return -1;
    *colon = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) return fd;
    if (fd >= 0) close(fd);
    return -1;
}

int http1_request(const char *hostport, const char *method, const char *path, const char *json,
                  int timeout_ms, char **body)
{
    if (body) *body = NULL;
    int fd = http1_connect(hostport);
    if (fd < 0) return -1;
    size_t jl = json ? strlen(json) : 0;
    size_t rl = strlen(method) + strlen(path) + jl + 200;
    char *req = malloc(rl);
    char *all = malloc(RESPONSE_MAX);
    int status = -1;
    if (!req || !all) goto out;
    int n = snprintf(req, rl,
                     "%s %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     method, path, jl, json ? json : "");
    if (n <= 0 || (size_t)n >= rl || write(fd, req, (size_t)n) != n) goto out;
    size_t have = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (have < RESPONSE_MAX - 1 && poll(&p, 1, timeout_ms) == 1) {
        ssize_t r = read(fd, all + have, RESPONSE_MAX - 1 - have);
        if (r <= 0) break;
        have += (size_t)r;
    }
    all[have] = 0;
    if (sscanf(all, "HTTP/1.1 %d", &status) != 1) {
        status = -1;
        goto out;
    }
    const char *b = strstr(all, "\r\n\r\n");
    if (body) *body = strdup(b ? b + 4 : "");
out:
    close(fd);
    free(req);
    free(all);
    return status;
}

int http1_request_buf(const char *hostport, const char *method, const char *path, const char *json,
                      int timeout_ms, char *out, size_t outlen)
{
    char *body = NULL;
    int status = http1_request(hostport, method, path, json, timeout_ms, &body);
    if (outlen) snprintf(out, outlen, "%s", body ? body : "");
    free(body);
    return status;
}

cJSON *http1_request_json(const char *hostport, const char *method, const char *path,
                          const char *json, int timeout_ms, int *status)
{
    char *body = NULL;
    int st = http1_request(hostport, method, path, json, timeout_ms, &body);
    if (status) *status = st;
    cJSON *o = body ? cJSON_Parse(body) : NULL;
    free(body);
    return o;
}
