/* SPDX-License-Identifier: MIT */
/* sendwait.h -- API sends waiting for the COMMIT they share with the other sends of one loop
 * iteration (wa_session_send_deferred), then answered.
 *
 * A channel has one. gw_sendwait_add() makes a waiter for a row the sender left in its open
 * group (give gw_sendwait_done and the waiter to the sender); the route binds it to its
 * deferred API response (gw_sendwait_bind). A uv_check handle, started by the first waiter of
 * an iteration, runs after that iteration's I/O callbacks: it settles the group (the channel's
 * settle function: COMMIT), then for each waiter in order reports a durable row (on_durable)
 * and calls its release function with 0, or with the COMMIT's error. So every HTTP request
 * read in the same iteration costs one fsync between them, and none is answered before its
 * row is durable. Loop thread only; never frees a waiter the sender still holds.
 */
#pragma once
#include <stdint.h>

#include <uv.h>

#include "gw/sendres.h"

struct gw_sendwait;
struct gw_waiter;

/* Answer the request: rc 0 durable, else not stored (err says why). */
typedef void (*gw_release_fn)(void *arg, uint64_t ticket, int rc, const char *err);

struct gw_sendwait_ops {
    int (*settle)(void *ud);                                      /* COMMIT the open group */
    void (*on_durable)(void *ud, const struct gw_send_result *r); /* each row, once durable */
    void *ud;
};

/* 0, -ENOMEM, or a libuv error. */
int gw_sendwait_new(uv_loop_t *loop, const struct gw_sendwait_ops *ops, struct gw_sendwait **out)
    __attribute__((warn_unused_result));
/* A new waiter (NULL: no memory -- send without one). */
struct gw_waiter *gw_sendwait_add(struct gw_sendwait *w);
/* The row did not join a group after all (committed or refused on return): forget it. */
void gw_sendwait_forget(struct gw_sendwait *w, struct gw_waiter *x);
/* The result to report and whom to answer; fn NULL: nobody (the route answered already). */
void gw_sendwait_bind(struct gw_waiter *x, const struct gw_send_result *r, gw_release_fn fn,
                      void *arg, uint64_t ticket);
/* wa_sender_done_fn: the group holding x's row ended with rc. */
void gw_sendwait_done(void *x, int rc);
/* Settle and answer everything now (the check callback's work). */
void gw_sendwait_run(struct gw_sendwait *w);
/* The API is going away: answer nobody from now on. NULL ok. */
void gw_sendwait_detach(struct gw_sendwait *w);
/* Run what is left, then close (memory in the close callback). NULL ok. */
void gw_sendwait_close(struct gw_sendwait *w);
