/* SPDX-License-Identifier: MIT */
/* hook.h -- the exec hook: run an agent command per message, on the loop.
 *
 * The command runs through /bin/sh -c with the message JSON on stdin; what it
 * prints on stdout (trimmed) is the reply, empty = no reply. Nothing blocks:
 * the child is a uv_process with pipes, a deadline kills it (SIGKILL), and the
 * output is capped (more is an error, the child is killed). Exactly one
 * completion callback per successful gw_hook_run, always on a later loop
 * iteration. gw_hook_cancel() (e.g. at shutdown) kills the child; the callback
 * then still runs, with -ECANCELED. The command runs in its own process group; a
 * deadline or cancel kills the whole group. The process must ignore SIGPIPE (the
 * daemon does): a command that exits without reading its stdin is not an error.
 */
#pragma once
#include <stddef.h>
#include <uv.h>

#define GW_HOOK_OUTPUT_MAX (64 * 1024) /* a longer reply is refused */

struct gw_hook;

/* status 0: the command exited 0; reply is its stdout (NUL-terminated, trailing
 * whitespace removed, valid during the call). Otherwise reply is NULL and status is
 * -ETIMEDOUT, -EMSGSIZE (output over the cap), -ECANCELED, -ECHILD (non-zero exit or
 * killed by a signal: detail says which) or a spawn error; detail is one line. */
typedef void (*gw_hook_cb)(void *ud, int status, const char *reply, const char *detail);

/* Start `command` with `input` on its stdin. 0 and *out, or a negative errno (nothing
 * runs, no callback). The handle is freed by the library after the callback. */
int gw_hook_run(uv_loop_t *loop, const char *command, const char *input, size_t input_len,
                unsigned timeout_ms, gw_hook_cb cb, void *ud, struct gw_hook **out)
    __attribute__((warn_unused_result));
/* Kill the child; the callback follows with -ECANCELED unless it already ran. */
void gw_hook_cancel(struct gw_hook *h);
