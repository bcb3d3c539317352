/* SPDX-License-Identifier: MIT */
/* jid.h -- WhatsApp JIDs ("user@server" addresses) as small value structs.
 *
 * A `struct wa_jid` is a value type (no heap): callers embed and copy it. It
 * keeps the *wire form* the JID had (or will have) in binary nodes, so that a
 * decoded JID re-encodes to the same bytes:
 *   WA_JID_FORM_PAIR     JID_PAIR     user@server           (user may be empty)
 *   WA_JID_FORM_AD       AD_JID       user:device@server    server from the agent byte
 *   WA_JID_FORM_FB       FB_JID       user:device@msgr
 *   WA_JID_FORM_INTEROP  INTEROP_JID  integrator-user:device@interop
 *
 * Text form (wa_jid_format / wa_jid_parse), an exact inverse for every JID
 * whose user contains none of ":@" and does not look like "x_N":
 *   PAIR, empty user   "s.whatsapp.net"          (parse also accepts "@s.whatsapp.net")
 *   PAIR               "15551230000@s.whatsapp.net", "120363041234567890@g.us"
 *   AD                 "15551230000:7@s.whatsapp.net", "2111:0@lid" (":device" is ALWAYS
 *                      printed for AD, even 0 -- that is what distinguishes AD from PAIR),
 *                      "user_<agent>:device@s.whatsapp.net" for a non-standard agent byte
 *                      (not 0, 1, 128, 129)
 *   FB                 "user:device@msgr" (a PAIR for msgr has no ":device")
 *   INTEROP            "integrator-user:device@interop"
 * Parsing picks AD for an explicit ":device" on s.whatsapp.net/lid/hosted/
 * hosted.lid (as Baileys does), FB for msgr with ":device", INTEROP for
 * interop, otherwise PAIR.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WA_JID_USER_MAX   64                                         /* bytes including the NUL */
#define WA_JID_SERVER_MAX 32                                         /* bytes including the NUL */
#define WA_JID_STR_MAX    (WA_JID_USER_MAX + WA_JID_SERVER_MAX + 32) /* formatted, with NUL */

#define WA_SERVER_PN         "s.whatsapp.net"
#define WA_SERVER_LEGACY_PN  "c.us"
#define WA_SERVER_LID        "lid"
#define WA_SERVER_GROUP      "g.us"
#define WA_SERVER_BROADCAST  "broadcast"
#define WA_SERVER_NEWSLETTER "newsletter"
#define WA_SERVER_BOT        "bot"
#define WA_SERVER_HOSTED     "hosted"
#define WA_SERVER_HOSTED_LID "hosted.lid"
#define WA_SERVER_FB         "msgr"
#define WA_SERVER_INTEROP    "interop"

/* AD_JID domain types (byte 1 of AD_JID); any other value is a raw agent. */
#define WA_DOMAIN_PN         0
#define WA_DOMAIN_LID        1
#define WA_DOMAIN_HOSTED     128
#define WA_DOMAIN_HOSTED_LID 129

enum wa_jid_form {
    WA_JID_FORM_PAIR = 0,
    WA_JID_FORM_AD = 1,
    WA_JID_FORM_FB = 2,
    WA_JID_FORM_INTEROP = 3,
};

enum wa_jid_kind {
    WA_JID_KIND_SERVER,     /* empty user: "s.whatsapp.net", "g.us", ... */
    WA_JID_KIND_PN,         /* s.whatsapp.net / c.us user (any device) */
    WA_JID_KIND_LID,        /* lid */
    WA_JID_KIND_GROUP,      /* g.us */
    WA_JID_KIND_BROADCAST,  /* broadcast (incl. status@broadcast) */
    WA_JID_KIND_NEWSLETTER, /* newsletter */
    WA_JID_KIND_BOT,        /* bot */
    WA_JID_KIND_HOSTED,     /* hosted, hosted.lid */
    WA_JID_KIND_FB,         /* msgr */
    WA_JID_KIND_INTEROP,    /* interop */
    WA_JID_KIND_OTHER,
};

struct wa_jid {
    char user[WA_JID_USER_MAX];     /* NUL-terminated, may be empty */
    char server[WA_JID_SERVER_MAX]; /* NUL-terminated */
    uint8_t form;                   /* enum wa_jid_form */
    uint8_t agent;                  /* AD: the domain-type/agent byte; else 0 */
    uint16_t device;                /* AD: 0..255; FB/INTEROP: 0..65535; PAIR: 0 */
    uint16_t integrator;            /* INTEROP only */
};

/* Parse text (n bytes, need not be NUL-terminated) per the rules above.
 * Returns 0, -EINVAL (malformed: bad device number, NUL byte, ...) or
 * -ENAMETOOLONG (user or server does not fit). *j is zeroed on failure. */
int wa_jid_parse(struct wa_jid *j, const char *s, size_t n) __attribute__((warn_unused_result));
/* Format into out (outlen >= WA_JID_STR_MAX always suffices). Returns the
 * length written (without NUL) or -ENOBUFS. */
int wa_jid_format(const struct wa_jid *j, char *out, size_t outlen);
/* "user@server" without device/agent (or just "server" for an empty user). */
int wa_jid_format_bare(const struct wa_jid *j, char *out, size_t outlen);

/* Build a PAIR JID (user may be "" or NULL). 0, -ENAMETOOLONG or -EINVAL. */
int wa_jid_set(struct wa_jid *j, const char *user, const char *server)
    __attribute__((warn_unused_result));
/* Build an AD JID: domain is WA_DOMAIN_* (or a raw agent), device 0..255. */
int wa_jid_set_ad(struct wa_jid *j, const char *user, uint8_t domain, uint8_t device)
    __attribute__((warn_unused_result));

enum wa_jid_kind wa_jid_kind(const struct wa_jid *j);
bool wa_jid_is_group(const struct wa_jid *j);
bool wa_jid_is_broadcast(const struct wa_jid *j);
bool wa_jid_is_status_broadcast(const struct wa_jid *j);
bool wa_jid_is_pn(const struct wa_jid *j);
bool wa_jid_is_lid(const struct wa_jid *j);
bool wa_jid_is_server(const struct wa_jid *j);
/* Domain type: 0 PN, 1 LID, 128 hosted, 129 hosted.lid, the agent byte for
 * an AD JID with a non-standard agent, 0 for everything else. */
uint8_t wa_jid_domain_type(const struct wa_jid *j);
/* Signal address name: user, or "user_<domainType>" when the domain type is
 * not 0 (§4.5). The Signal device id is j->device. Returns length or -ENOBUFS. */
int wa_jid_signal_name(const struct wa_jid *j, char *out, size_t outlen);

/* Exact equality of every field (form included). */
bool wa_jid_equal(const struct wa_jid *a, const struct wa_jid *b);
/* Same account: user and server equal (device, agent and form ignored). */
bool wa_jid_same_user(const struct wa_jid *a, const struct wa_jid *b);
