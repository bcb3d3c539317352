/* SPDX-License-Identifier: MIT */
/* hook.c -- run the exec hook as a uv child process with pipes and a deadline. */
#include "gw/hook.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

struct gw_hook {
    uv_process_t proc;
    uv_pipe_t in, out;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_buf_t wbuf;
    char *input;
    struct buf output;
    char rbuf[16384]; /* each stdout read lands here, then is appended to output */
    gw_hook_cb cb;
    void *ud;
    int status; /* first failure seen, or 0 */
    int64_t exit_status;
    int term_signal;
    int open_handles; /* freed when this reaches 0 */
    int done_parts;   /* exit + stdout EOF */
    int out_done;     /* stdout finished (EOF, error, or given up after a kill) */
    int reported;
};

static void on_handle_closed(uv_handle_t *hd)
{
    struct gw_hook *h = hd->data;
    if (--h->open_handles > 0) return;
    buf_free(&h->output);
    free(h->input);
    free(h);
}

static void close_all(struct gw_hook *h)
{
    uv_handle_t *hs[] = {(uv_handle_t *)&h->proc, (uv_handle_t *)&h->in, (uv_handle_t *)&h->out,
                         (uv_handle_t *)&h->timer};
    for (size_t i = 0; i < 4; i++)
        if (!uv_is_closing(hs[i])) uv_close(hs[i], on_handle_closed);
}

/* Kill the whole process group (the shell and whatever it started), and stop
 * waiting for stdout: a grandchild that escaped the group may hold it open. */
static void kill_child(struct gw_hook *h, int status)
{
    if (!h->status) h->status = status;
    if (h->proc.pid > 0) kill(-h->proc.pid, SIGKILL);
    if (!h->out_done) {
        h->out_done = 1;
        uv_read_stop((uv_stream_t *)&h->out);
        h->done_parts++;
    }
}

/* Report once both the exit and the end of stdout were seen. */
static void maybe_finish(struct gw_hook *h)
{
    if (h->done_parts < 2 || h->reported) return;
    h->reported = 1;
    uv_timer_stop(&h->timer);
    char detail[128] = "";
    int status = h->status;
    const char *reply = NULL;
    if (!status && (h->exit_status != 0 || h->term_signal)) {
        status = -ECHILD;
        if (h->term_signal)
            snprintf(detail, sizeof detail, "killed by signal %d", h->term_signal);
        else
            snprintf(detail, sizeof detail, "exit status %lld", (long long)h->exit_status);
    }
    if (!status) {
        while (h->output.len && (h->output.data[h->output.len - 1] == '\n' ||
                                 h->output.data[h->output.len - 1] == '\r' ||
                                 h->output.data[h->output.len - 1] == ' ' ||
                                 h->output.data[h->output.len - 1] == '\t'))
            h->output.len--;
        if (buf_append_byte(&h->output, 0) < 0)
            status = -ENOMEM;
        else
            reply = (const char *)h->output.data;
    } else if (!detail[0]) {
        snprintf(detail, sizeof detail, "%s",
                 status == -ETIMEDOUT   ? "timed out"
                 : status == -EMSGSIZE  ? "output larger than 64 KiB"
                 : status == -ECANCELED ? "cancelled"
                                        : strerror(-status));
    }
    h->cb(h->ud, status, status ? NULL : reply, detail);
    close_all(h);
}

static void on_exit_cb(uv_process_t *p, int64_t exit_status, int term_signal)
{
    struct gw_hook *h = p->data;
    h->exit_status = exit_status;
    h->term_signal = term_signal;
    h->done_parts++;
    maybe_finish(h);
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *b)
{
    struct gw_hook *h = hd->data;
    b->base = h->rbuf;
    b->len = sizeof h->rbuf;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct gw_hook *h = s->data;
    if (n > 0) {
        if (h->status || buf_append(&h->output, b->base, (size_t)n) < 0)
            kill_child(h, h->status ? h->status : -EMSGSIZE);
        return;
    }
    if (n == 0 || h->out_done) return;
    h->out_done = 1;
    uv_read_stop(s);
    h->done_parts++;
    maybe_finish(h);
}

static void on_written(uv_write_t *w, int status)
{
    struct gw_hook *h = w->data;
    /* A child that does not read its stdin (EPIPE) is fine: close our end either way. */
    if (!uv_is_closing((uv_handle_t *)&h->in)) uv_close((uv_handle_t *)&h->in, on_handle_closed);
}

static void on_timeout(uv_timer_t *t)
{
    kill_child(t->data, -ETIMEDOUT);
}

void gw_hook_cancel(struct gw_hook *h)
{
    if (h && !h->reported) kill_child(h, -ECANCELED);
}

int gw_hook_run(uv_loop_t *loop, const char *command, const char *input, size_t input_len,
                unsigned timeout_ms, gw_hook_cb cb, void *ud, struct gw_hook **out)
{
    if (!loop || !command || !*command || !cb || (!input && input_len)) return -EINVAL;
    struct gw_hook *h = calloc(1, sizeof *h);
    if (!h) return -ENOMEM;
    h->input = malloc(input_len ? input_len : 1);
    if (!h->input) {
        free(h);
        return -ENOMEM;
    }
    if (input_len) memcpy(h->input, input, input_len);
    buf_init(&h->output, GW_HOOK_OUTPUT_MAX + 1);
    h->cb = cb;
    h->ud = ud;
    uv_pipe_init(loop, &h->in, 0);
    uv_pipe_init(loop, &h->out, 0);
    uv_timer_init(loop, &h->timer);
    h->proc.data = h->in.data = h->out.data = h->timer.data = h->wreq.data = h;
    char *args[] = {"/bin/sh", "-c", (char *)command, NULL};
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&h->in},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&h->out},
        {.flags = UV_INHERIT_FD, .data.fd = 2},
    };
    /* DETACHED = its own session and process group, so a kill reaches its children. */
    uv_process_options_t o = {.exit_cb = on_exit_cb,
                              .file = args[0],
                              .args = args,
                              .stdio = stdio,
                              .stdio_count = 3,
                              .flags = UV_PROCESS_DETACHED};
    int r = uv_spawn(loop, &h->proc, &o);
    if (r < 0) {
        /* Not started, but libuv still wants the process handle closed. */
        h->open_handles = 4;
        h->reported = 1;
        close_all(h);
        return r;
    }
    h->open_handles = 4;
    h->wbuf = uv_buf_init(h->input, (unsigned)input_len);
    uv_write(&h->wreq, (uv_stream_t *)&h->in, &h->wbuf, 1, on_written);
    uv_read_start((uv_stream_t *)&h->out, on_alloc, on_read);
    uv_timer_start(&h->timer, on_timeout, timeout_ms ? timeout_ms : 10000, 0);
    if (out) *out = h;
    return 0;
}
