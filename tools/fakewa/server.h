/* SPDX-License-Identifier: MIT */
/* server.h -- fakewa's process-wide context: loop, keys, registries, stats, id generation.
 *
 * There is exactly one `struct fw_server` per process, created by main.c and passed to
 * every module. Everything runs on the libuv loop thread; nothing here is thread-safe.
 * Ownership: the server owns the account registry (accounts.h), the group registry
 * (groups live in accounts.h too), the connection list (conn.h), the fault state and the
 * router's message tracking table.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include <signal_protocol.h>

#include "core/buf.h"
#include "wa/keys.h"

struct fw_conn;
struct fw_registry;
struct fw_faults;
struct fw_track;
struct ntls_server;

#define FW_STATE_PATH_MAX 512

struct fw_stats {
    uint64_t connections;       /* TCP connections accepted on the WA port */
    uint64_t handshakes;        /* Noise handshakes completed */
    uint64_t logins;            /* successful <success/> */
    uint64_t login_failures;    /* <failure/> sent at login */
    uint64_t pairings;          /* devices paired (pair-device-sign verified) */
    uint64_t paircode_typed;    /* codes typed on a simulated phone (paircode.h) */
    uint64_t paircode_rejected; /* companion_finish refused: the typed code was wrong */
    uint64_t nodes_in;          /* nodes received from clients */
    uint64_t nodes_out;         /* nodes sent to clients */
    uint64_t messages_routed;   /* per-device message deliveries (live + queued + simulated) */
    uint64_t messages_queued;   /* deliveries queued for offline devices */
    uint64_t receipts_routed;   /* receipts forwarded */
    uint64_t sim_decrypted;     /* messages decrypted by simulated devices */
    uint64_t sim_decrypt_failures;
    uint64_t sim_retries_answered;    /* retry receipts answered with a resend */
    uint64_t sim_sessions_rebuilt;    /* ... of which on a new session (pkmsg) */
    uint64_t sim_placeholder_answers; /* phones' answers to placeholder resend requests */
    uint64_t faults_applied;
};

struct fw_server {
    uv_loop_t *loop;
    char state_dir[FW_STATE_PATH_MAX];
    signal_context *sig;     /* libsignal global context (OpenSSL provider) */
    struct wa_keypair root;  /* test root; persisted in state_dir/root.json */
    struct wa_keypair inter; /* intermediate; per process */
    struct wa_keypair noise; /* server Noise static = leaf key; per process */
    struct buf cert;         /* serialized CertChain presented in every handshake */
    struct fw_registry *reg; /* accounts, devices, groups */
    struct fw_conn *conns;   /* live WA connections (doubly linked) */
    struct fw_stats stats;
    struct fw_faults *faults; /* faults.h */
    struct fw_track *track;   /* router.h: FW_TRACK_SLOTS message senders, lazily allocated */
    struct ntls_server *tls;  /* wss:// configuration (net/tls.h), NULL without --listen-tls */
    char ca_path[FW_STATE_PATH_MAX + 16]; /* test CA of the wss:// certificate ("" = none) */
    uint64_t seq;                         /* for ids */
    bool hold_saves; /* accounts.h fw_account_save_soon: marked, written when the hold ends */
    char last_error[1024];
};

/* Unix time in seconds (wall clock). */
uint64_t fw_now(void);
/* Unix time in milliseconds. */
uint64_t fw_now_ms(void);
/* A fresh stanza/iq id "<prefix><16 upper-case hex>" written into out (size >= 40). */
void fw_new_id(struct fw_server *s, const char *prefix, char *out, size_t outlen);
/* Random bytes (OpenSSL CSPRNG); aborts if the RNG fails (cannot continue safely). */
void fw_random(void *p, size_t n);
/* Abort with a message: only for allocation failure and broken invariants. */
_Noreturn void fw_die(const char *what);

/* Load the root key from state_dir/root.json or create and persist it; generate the
 * intermediate, the Noise static key and the certificate chain. 0 or negative errno
 * (detail in s->last_error). */
int fw_server_init_keys(struct fw_server *s) __attribute__((warn_unused_result));
