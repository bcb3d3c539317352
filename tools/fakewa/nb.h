/* SPDX-License-Identifier: MIT */
/* nb.h -- terse builders for binary nodes the fake server sends.
 *
 * Only for nodes built from values the server itself controls: every function aborts the
 * process (fw_die) on allocation failure or on an invalid argument (a programming error),
 * so callers need no error paths. Values coming from a peer must be validated first
 * (e.g. parse JID text with wa_jid_parse before passing it to nb_attr_jid).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "wa/jid.h"
#include "wa/node.h"

/* New node; the variadic part is key, value string pairs terminated by NULL. */
struct wa_node *nb_new(const char *tag, ...);
/* New child of parent with key/value pairs (NULL-terminated); returns the child. */
struct wa_node *nb_add(struct wa_node *parent, const char *tag, ...);
/* Set a string attribute (printf-free convenience). */
void nb_attr(struct wa_node *n, const char *key, const char *value);
/* Set a decimal integer attribute. */
void nb_attr_u64(struct wa_node *n, const char *key, uint64_t v);
/* Set a JID attribute from its text form ("s.whatsapp.net", "1555:7@s.whatsapp.net"). */
void nb_attr_jid(struct wa_node *n, const char *key, const char *jid_text);
void nb_attr_jidv(struct wa_node *n, const char *key, const struct wa_jid *j);
/* Byte content. */
void nb_bytes(struct wa_node *n, const void *p, size_t len);
/* Child with byte content; returns the child. */
struct wa_node *nb_add_bytes(struct wa_node *parent, const char *tag, const void *p, size_t len);
/* Adopt an existing node as a child. */
void nb_adopt(struct wa_node *parent, struct wa_node *child);
/* Deep copy of a node (re-encodes; aborts on failure). */
struct wa_node *nb_clone(const struct wa_node *n);
/* Big-endian helpers for key material in nodes. */
void nb_be(uint8_t *out, uint64_t v, unsigned nbytes);
uint64_t nb_rd_be(const uint8_t *p, size_t nbytes);
