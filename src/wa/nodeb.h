/* SPDX-License-Identifier: MIT */
/* nodeb.h -- small builders shared by everything that writes stanzas.
 *
 * Ownership as wa/node.h: a child added with wa_nb_child()/wa_nb_bytes() belongs to its
 * parent; wa_nb_reply()/wa_nb_ack() return a new tree the caller frees (or hands to a send
 * function that consumes it). All return NULL / a negative errno on ENOMEM or bad input
 * and never leave a half-added child behind.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "wa/node.h"

/* True when n is a node with this tag (NULL-safe). */
bool wa_nb_is(const struct wa_node *n, const char *tag);
/* An attribute as a decimal long; def when absent or not a number. */
long wa_nb_attr_long(const struct wa_node *n, const char *key, long def);
/* New empty child `tag` appended to parent; NULL on ENOMEM (or a NULL parent). */
struct wa_node *wa_nb_child(struct wa_node *parent, const char *tag);
/* New child `tag` with byte content; 0 or -ENOMEM/-EINVAL. */
int wa_nb_bytes(struct wa_node *parent, const char *tag, const void *p, size_t len);
/* Copy the JID attribute src[skey] to dst[dkey]; absent -> 0 (nothing set). */
int wa_nb_copy_jid(struct wa_node *dst, const char *dkey, const struct wa_node *src,
                   const char *skey);
/* <tag id=n.id to=n.from [participant=n.participant] [recipient=n.recipient if recipient]>. */
struct wa_node *wa_nb_reply(const char *tag, const struct wa_node *n, bool recipient);
/* <ack id to class=cls [participant] [type=n.type if copy_type] [error]> for stanza n. */
struct wa_node *wa_nb_ack(const struct wa_node *n, const char *cls, bool copy_type,
                          const char *error);
