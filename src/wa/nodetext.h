/* SPDX-License-Identifier: MIT */
/* nodetext.h -- exact, readable text form of binary nodes (print and parse).
 *
 * The text keeps everything that affects the encoded bytes, so that
 * decode -> print -> parse -> encode reproduces the input of any canonically
 * encoded node (everything real clients and servers send), and the node
 * trees compare equal with wa_node_equal() for any decodable input.
 *
 * Syntax (whitespace between items is free; `<!-- ... -->` comments skipped):
 *
 *   node    = "<" name { " " name "=" value } ( "/>" | ">" content "</" name ">" )
 *   name    = bare | string      bare = 1+ of [A-Za-z0-9_:.-], a canonically
 *                                encoded string; anything else is quoted
 *   value   = string | jid | "nil"
 *   content = { node }           children; "<x></x>" is an EMPTY child list,
 *                                which differs from no content "<x/>"
 *           | string             string content, e.g. <platform>'android'</platform>
 *           | jid
 *           | bytes              byte content (BINARY_*)
 *   bytes   = "[" [ N "B " ] "hex " hexdigits "]"     e.g. [5B hex 0102030405]
 *                                (N, if present, must equal the byte count)
 *   string  = [ "r" | "n" | "h" ] "'" chars "'"
 *             no prefix: the canonical encoding (token, double-byte token,
 *             nibble, hex, raw -- §4.3); the prefix marks a NON-canonical
 *             encoding the peer used and that must be kept:
 *             r'1' raw bytes although "1" is a token, n'' NIBBLE_8, h'AB' HEX_8.
 *             chars: printable ASCII and valid UTF-8 as is; \' \\ \n \r \t
 *             and \xHH for every other byte.
 *   "nil"   = LIST_EMPTY (0x00) used as a string value (Baileys reads "").
 *   jid     = "@'" jid-text "'"  the wa_jid_format() text, e.g.
 *             to=@'s.whatsapp.net' (JID_PAIR, no user),
 *             jid=@'15550001111:0@s.whatsapp.net' (AD_JID device 0) versus
 *             jid=@'15550001111@s.whatsapp.net' (JID_PAIR);
 *           | "@pair(" string "," string ")"               user, server
 *           | "@ad(" agent "," device "," string ")"       decimal numbers, user
 *           | "@fb(" string "," device "," string ")"
 *           | "@interop(" string "," device "," integrator "," string ")"
 *             the structured forms are printed only when the text form would
 *             not parse back to the same JID (odd users such as "a:b").
 *
 * A plain string attribute that looks like a JID stays a string:
 * to='1@s.whatsapp.net' is a raw string, to=@'1@s.whatsapp.net' a JID.
 */
#pragma once
#include <stddef.h>

#include "core/buf.h"
#include "wa/node.h"

#define WA_NODETEXT_COMPACT   0x1 /* one line, no indentation */
#define WA_NODETEXT_MAX_DEPTH 256 /* nesting accepted by the parser */

/* Append the text of n (NUL not included) to out. 0, -ENOBUFS or -ENOMEM. */
int wa_nodetext_print(const struct wa_node *n, struct buf *out, unsigned flags)
    __attribute__((warn_unused_result));
/* Parse exactly one node (surrounding whitespace allowed) from len bytes.
 * On success *out owns the tree. -EINVAL on a syntax error (detail with the
 * byte offset in err), -ENOMEM. */
int wa_nodetext_parse(const char *text, size_t len, struct wa_node **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
