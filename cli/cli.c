/* SPDX-License-Identifier: MIT */
/* cli.c -- shared CLI plumbing: global options, config, token, HTTP client. */
#include "cli.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fileio.h"
#include "core/statedir.h"
#include "report.h"

#define RESP_MAX (8 * 1024 * 1024)

int cli_take_globals(struct cli_env *e, int *argc, char **argv)
{
    int out = 0;
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            e->json = true;
        } else if (strcmp(a, "--config") == 0 || strcmp(a, "--state-dir") == 0) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "wagate: %s needs a value\n", a);
                return EXIT_USAGE;
            }
            if (a[2] == 'c')
                e->config_arg = argv[++i];
            else
                e->state_arg = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            e->config_arg = a + 9;
        } else if (strncmp(a, "--state-dir=", 12) == 0) {
            e->state_arg = a + 12;
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

/* The running daemon records where it really listens in <state>/gateway.json
 * (it may have been started with --listen or port 0): prefer that address
 * while the PID in it holds the state lock. */
static void use_runfile(struct cli_env *e)
{
    char path[PATH_MAX + 16], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/gateway.json", e->state_dir);
    if (file_read_all(path, 4096, &text, &len) < 0) return;
    cJSON *o = cJSON_Parse(text);
    free(text);
    const cJSON *pid = cJSON_GetObjectItem(o, "pid"), *listen = cJSON_GetObjectItem(o, "listen");
    if (cJSON_IsNumber(pid) && cJSON_IsString(listen) &&
        state_lock_holder(e->state_dir) == (pid_t)pid->valuedouble &&
        cfg_split_listen(listen->valuestring, NULL, 0, NULL) == 0)
        snprintf(e->cfg.listen, sizeof e->cfg.listen, "%s", listen->valuestring);
    cJSON_Delete(o);
}

int cli_load(struct cli_env *e)
{
    char err[CFG_ERR_MAX + PATH_MAX];
    if (e->config_arg)
        snprintf(e->config_path, sizeof e->config_path, "%s", e->config_arg);
    else if (cfg_default_path(e->config_path, sizeof e->config_path) < 0)
        e->config_path[0] = '\0';
    if (e->state_arg)
        snprintf(e->state_dir, sizeof e->state_dir, "%s", e->state_arg);
    else if (cfg_default_state_dir(e->state_dir, sizeof e->state_dir) < 0) {
        return cli_fail(e, EXIT_FAIL, "no_state_dir", "set --state-dir, XDG_STATE_HOME or HOME",
                        "no state directory");
    }
    cfg_defaults(&e->cfg);
    int r = e->config_path[0] ? cfg_load(&e->cfg, e->config_path, err, sizeof err) : -ENOENT;
    if (r == -ENOENT && !e->config_arg) {
        cfg_defaults(&e->cfg);
        r = 0;
    }
    if (r < 0) {
        return cli_fail(e, EXIT_FAIL, "bad_config",
                        "check the file (--config FILE); every key is in docs/config.md",
                        "config: %s", err);
    }
    use_runfile(e);
    return 0;
}

int cli_token(const struct cli_env *e, char *out, size_t outlen)
{
    if (e->cfg.token[0]) {
        snprintf(out, outlen, "%s", e->cfg.token);
        return 0;
    }
    char path[PATH_MAX + 8], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/token", e->state_dir);
    int r = file_read_all(path, 4096, &text, &len);
    if (r < 0) return r;
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    snprintf(out, outlen, "%s", text);
    free(text);
    return len ? 0 : -EINVAL;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short ev, long long deadline)
{
    struct pollfd p = {.fd = fd, .events = ev};
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) return -ETIMEDOUT;
        int n = poll(&p, 1, (int)left);
        if (n > 0) return 0;
        if (n < 0 && errno != EINTR) return -errno;
    }
}

static int connect_api(const struct cli_env *e, long long deadline)
{
    char host[64];
    int port;
    if (cfg_split_listen(e->cfg.listen, host, sizeof host, &port) < 0) return -EINVAL;
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        sl = sizeof *s4;
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        sl = sizeof *s6;
    } else {
        return -EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
        int r = -errno;
        close(fd);
        return r;
    }
    int r = wait_fd(fd, POLLOUT, deadline), soerr = 0;
    socklen_t el = sizeof soerr;
    if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) == 0 && soerr) r = -soerr;
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n, long long deadline)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
            int r = wait_fd(fd, POLLOUT, deadline);
            if (r < 0) return r;
            continue;
        }
        if (k < 0) return -errno;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Read until the peer closes (we send Connection: close). */
static int recv_all(int fd, struct buf *b, long long deadline)
{
    for (;;) {
        int r = buf_reserve(b, 4096);
        if (r < 0) return r;
        ssize_t k = recv(fd, b->data + b->len, 4096, 0);
        if (k == 0) return 0;
        if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
            r = wait_fd(fd, POLLIN, deadline);
            if (r < 0) return r;
            continue;
        }
        if (k < 0) return -errno;
        b->len += (size_t)k;
    }
}

static int parse_response(struct buf *b, int *status, char **resp)
{
    if (buf_append_byte(b, 0) < 0) return -ENOMEM;
    const char *s = (const char *)b->data;
    int major, minor;
    if (sscanf(s, "HTTP/%d.%d %d", &major, &minor, status) != 3) return -EPROTO;
    const char *body = strstr(s, "\r\n\r\n");
    if (!body) return -EPROTO;
    *resp = strdup(body + 4);
    return *resp ? 0 : -ENOMEM;
}

int cli_http(const struct cli_env *e, const char *method, const char *path, const char *body,
             int timeout_ms, int *status, char **resp)
{
    long long deadline = now_ms() + timeout_ms;
    char token[160] = "";
    cli_token(e, token, sizeof token);
    int fd = connect_api(e, deadline);
    if (fd < 0) return fd;
    struct buf req, in;
    buf_init(&req, 1 << 20);
    buf_init(&in, RESP_MAX);
    size_t blen = body ? strlen(body) : 0;
    /* "localhost:PORT" passes the daemon's Host allowlist whatever address it listens on */
    int port = 0;
    cfg_split_listen(e->cfg.listen, NULL, 0, &port);
    int r = buf_printf(&req,
                       "%s %s HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n"
                       "Authorization: Bearer %s\r\nContent-Length: %zu\r\n%s\r\n",
                       method, path, port, token, blen,
                       body ? "Content-Type: application/json\r\n" : "");
    if (r == 0 && body) r = buf_append(&req, body, blen);
    if (r == 0) r = send_all(fd, (const char *)req.data, req.len, deadline);
    if (r == 0) r = recv_all(fd, &in, deadline);
    if (r == 0) r = parse_response(&in, status, resp);
    memset(token, 0, sizeof token);
    buf_free(&req);
    buf_free(&in);
    close(fd);
    return r;
}

void cli_print_json(void *cjson)
{
    char *s = cJSON_Print(cjson);
    if (s) printf("%s\n", s);
    free(s);
    cJSON_Delete(cjson);
}
