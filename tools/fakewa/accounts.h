/* SPDX-License-Identifier: MIT */
/* accounts.h -- fakewa's registry: accounts (phone number, LID, primary key), devices
 * (public key material, pre-keys, offline queue, live connection) and groups.
 *
 * An account is one WhatsApp user. Device 0 is always the simulated primary phone: its
 * Signal identity is the account key pair and its private state lives in a `struct fw_sim`
 * (contacts.h). Companion devices (1..) are real clients paired by QR; the server knows only
 * their public keys. A "contact" is an account created with a name (e.g. "alice"), driven
 * through the admin API.
 *
 * Persistence: with a non-empty state dir every account is one JSON file
 * `<state>/accounts/<phone>.json` written atomically after each change (device added or
 * removed, pre-keys uploaded or handed out), and groups are in `<state>/groups.json`. Offline
 * queues and the simulated devices' Signal sessions are memory-only.
 *
 * Caps: FW_MAX_ACCOUNTS accounts, FW_MAX_DEVICES devices per account, FW_MAX_PREKEYS one-time
 * pre-keys stored per device (uploads beyond that are dropped), FW_QUEUE_MAX queued stanzas
 * per device (the oldest is dropped when full), FW_MAX_GROUPS groups of FW_MAX_MEMBERS.
 * Lifetime: accounts and devices live until fw_registry_free (or device removal); pointers
 * to them stay valid until then.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server.h"
#include "wa/jid.h"
#include "wa/keys.h"
#include "wa/node.h"

#define FW_MAX_ACCOUNTS 4096
#define FW_MAX_DEVICES  16
#define FW_MAX_PREKEYS  2048
#define FW_QUEUE_MAX    4096
#define FW_MAX_GROUPS   256
#define FW_MAX_MEMBERS  64
#define FW_PHONE_MAX    24
#define FW_NAME_MAX     32

struct fw_sim;

struct fw_prekey_pub {
    uint32_t id;
    uint8_t pub[32];
};

/* One stanza waiting for (or sent and waiting for) the device's ack/receipt. */
struct fw_qitem {
    struct fw_qitem *next;
    char id[96];
    struct wa_node *node; /* owned */
    bool sent;            /* sent on the current connection */
    uint64_t queued_ms;
};

struct fw_device {
    uint32_t id;
    bool registered; /* companion: pairing finished (pair-device-sign verified) */
    bool sim;        /* device 0: simulated by the server */
    uint32_t key_index;
    uint8_t noise_pub[32];
    uint8_t identity[32];
    uint32_t regid;
    uint32_t spk_id;
    uint8_t spk_pub[32];
    uint8_t spk_sig[64];
    /* the signed pre-key the last rotate replaced (memory only; 0 = none): what a bundle
     * fetched before the rotation held (POST /admin/contacts/<who>/send "bundle":"previous") */
    uint32_t spk_prev_id;
    uint8_t spk_prev_pub[32];
    uint8_t spk_prev_sig[64];
    unsigned spk_rotations;        /* rotate iqs accepted */
    struct fw_prekey_pub *prekeys; /* FIFO of unused one-time pre-keys */
    size_t nprekeys;
    struct fw_qitem *qhead, *qtail;
    size_t qlen;
    /* the last FW_ACKED_KEEP <message> stanzas the device acked, oldest first from
     * acked_next, for POST /admin/redeliver (a server that lost the acks) */
    struct wa_node *acked[16];
    size_t acked_next;
    struct fw_conn *conn; /* logged-in connection or NULL */
    char platform[24];
    uint64_t paired_at;
};

struct fw_account {
    char phone[FW_PHONE_MAX]; /* digits only */
    char lid[FW_PHONE_MAX];   /* digits only */
    char name[FW_NAME_MAX];   /* contact name, "" for a plain account */
    struct wa_keypair acct;   /* primary phone identity = account signature key */
    uint32_t raw_id;
    uint32_t next_device;
    uint32_t next_key_index;
    struct fw_device *dev[FW_MAX_DEVICES];
    size_t ndev;
    struct fw_sim *sim; /* device 0 private state */
    bool save_pending;  /* fw_account_save_soon() while saves are held */
};

struct fw_group {
    char id[40]; /* user part; JID is <id>@g.us */
    char subject[128];
    uint64_t creation;
    struct fw_account *creator;
    struct fw_account *members[FW_MAX_MEMBERS];
    size_t nmembers;
};

struct fw_registry {
    struct fw_account **acc;
    size_t nacc;
    struct fw_group **grp;
    size_t ngrp;
};

int fw_registry_new(struct fw_server *s) __attribute__((warn_unused_result));
void fw_registry_free(struct fw_server *s);
/* Load every account file and groups.json from the state dir (if any). */
int fw_registry_load(struct fw_server *s) __attribute__((warn_unused_result));

/* Normalise "+1 555-0001" to digits into out (5..20 digits). 0 or -EINVAL. */
int fw_phone_norm(const char *in, char out[FW_PHONE_MAX]);

/* Create an account with device 0 simulated. name may be NULL/"" (plain account).
 * -EEXIST (phone or name taken), -ENOSPC (cap), -EINVAL, -ENOMEM, or a crypto error. */
int fw_account_create(struct fw_server *s, const char *phone, const char *name,
                      struct fw_account **out) __attribute__((warn_unused_result));
struct fw_account *fw_account_by_phone(struct fw_server *s, const char *digits);
struct fw_account *fw_account_by_lid(struct fw_server *s, const char *digits);
struct fw_account *fw_account_by_name(struct fw_server *s, const char *name);
/* Account of a user JID (PN or LID server; device ignored), else NULL. */
struct fw_account *fw_account_by_jid(struct fw_server *s, const struct wa_jid *j);
/* Account by "+phone", phone digits, or contact name. */
struct fw_account *fw_account_lookup(struct fw_server *s, const char *key);
/* Persist an account (no-op without a state dir). Errors are logged, not returned. */
void fw_account_save(struct fw_server *s, struct fw_account *a);
/* The same, unless saves are held (s->hold_saves: a flood, flood.h): then the account is
 * only marked, and fw_account_save_held() writes it once when the hold ends. Each save is
 * an atomic write with two fsyncs on the loop: a flood's first texts to 1,000 accounts each
 * take a one-time pre-key, and saving each at once made fakewa wait on the disk for most
 * of the flood. A crash meanwhile can hand a taken pre-key out again (a test server). */
void fw_account_save_soon(struct fw_server *s, struct fw_account *a);
/* Write every marked account (see above); returns how many. */
size_t fw_account_save_held(struct fw_server *s);

struct fw_device *fw_device_get(struct fw_account *a, uint32_t id);
/* Add a companion device (registered=false until pairing completes). -ENOSPC when full. */
int fw_device_add(struct fw_account *a, struct fw_device **out) __attribute__((warn_unused_result));
/* Remove and free a companion device (its queue is dropped). */
void fw_device_remove(struct fw_account *a, struct fw_device *d);

/* JID texts: "<phone>[:dev]@s.whatsapp.net", "<lid>[:dev]@lid" (device 0 has no ":0"
 * unless ad is true). out must hold WA_JID_STR_MAX. */
void fw_pn_jid(const struct fw_account *a, uint32_t dev, bool ad, char *out);
void fw_lid_jid(const struct fw_account *a, uint32_t dev, bool ad, char *out);

/* One-time pre-keys: append (dropping beyond FW_MAX_PREKEYS; returns how many were kept),
 * take the oldest (1 taken, 0 none left). */
size_t fw_prekeys_add(struct fw_device *d, const struct fw_prekey_pub *pk, size_t n);
int fw_prekey_take(struct fw_device *d, struct fw_prekey_pub *out);

/* Queue a stanza for a device (takes ownership). When full the oldest item is dropped. */
void fw_queue_push(struct fw_device *d, struct wa_node *node, const char *id);
/* Drop the queued item(s) with this id; returns the number dropped. */
size_t fw_queue_drop(struct fw_device *d, const char *id);
/* Mark every item unsent (the device's connection went away). */
void fw_queue_reset_sent(struct fw_device *d);
void fw_queue_clear(struct fw_device *d);
/* Queue again (unsent) copies of the last n (<= 16) <message> stanzas the device acked, in
 * the order they were first delivered, as a server that lost their acks would. The number
 * queued. */
size_t fw_queue_redeliver(struct fw_device *d, size_t n);

/* Groups. */
int fw_group_create(struct fw_server *s, const char *subject, struct fw_account *creator,
                    struct fw_account **members, size_t n, struct fw_group **out)
    __attribute__((warn_unused_result));
struct fw_group *fw_group_find(struct fw_server *s, const char *id_or_jid);
bool fw_group_has(const struct fw_group *g, const struct fw_account *a);
void fw_groups_save(struct fw_server *s);
