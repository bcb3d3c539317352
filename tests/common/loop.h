/* SPDX-License-Identifier: MIT */
/* loop.h -- test support: run a uv loop until something has happened, with a deadline.
 *
 * Tests drive the real code on their own uv loop and count what its callbacks report
 * (connected, closes, messages). These helpers run that loop until a condition holds or a
 * deadline passes, so no wait in a test can hang. The deadline is a private uv timer (the
 * guard) on the same loop; it is closed, and its close completed, before a helper returns,
 * so the loop is left holding nothing of theirs (uv_loop_close works afterwards).
 * Call them from the test's own code, never from inside a callback of the same loop
 * (uv_run is not reentrant).
 */
#pragma once
#include <stdbool.h>
#include <uv.h>

/* Run `loop` one iteration at a time (UV_RUN_ONCE) until *counter >= want or `ms`
 * milliseconds have passed; a last UV_RUN_NOWAIT pass closes the guard (and handles
 * anything already pending). Returns whether *counter >= want. A condition that already
 * holds returns true after that single pass. */
bool loop_run_until(uv_loop_t *loop, const int *counter, int want, int ms);
/* The same with any condition: until done(arg) returns true. */
bool loop_run_until_fn(uv_loop_t *loop, bool (*done)(void *arg), void *arg, int ms);
/* Run the loop for `ms` milliseconds whatever happens: let timers fire and I/O settle. */
void loop_run_for(uv_loop_t *loop, int ms);
