/* SPDX-License-Identifier: MIT */
/* node.h -- WhatsApp binary nodes ("WABinary"): the node tree, its decoder and encoder.
 *
 * Model (wa-protocol.md §4.1): a node has a tag, an ordered list of attributes
 * (key -> string or JID) and optional content: none, a list of child nodes, a
 * byte string, a string, or a JID.
 *
 * Ownership: a `struct wa_node` owns its whole subtree (tag, attributes,
 * children, content). wa_node_free() frees the subtree. Every setter copies
 * its arguments. wa_node_add_child() takes ownership of the child on success
 * only. Pointers returned by accessors stay valid until the node is modified
 * or freed. Strings are NUL-terminated for convenience but may contain NUL
 * bytes when they come from the wire; use the `len` fields for exact data.
 * Nodes are not thread-safe (wa_node_attr caches the text of JID values).
 *
 * Encoding hints: every string carries `enc`, how it is (to be) written.
 * WA_STR_AUTO means the canonical choice of §4.3 (token, double token, nibble,
 * hex, raw). The decoder sets another value only when the wire used a
 * non-canonical form (e.g. a token sent as raw bytes, "" sent as LIST_EMPTY),
 * so that decode -> encode reproduces the input bytes for every node a real
 * peer sends. Builders create WA_STR_AUTO strings. Not preserved (re-encoded
 * canonically; the tree still compares equal): strings inside JIDs, a
 * BINARY_20/32 or LIST_16 header used for a short length, LIST_8 of size 0
 * instead of LIST_EMPTY, a non-15 pad nibble, and compression.
 *
 * Accepted on decode but never produced by real peers, and kept: duplicate
 * attribute keys (in order), empty attribute keys, JID-typed content.
 * Rejected: empty tags, LIST_EMPTY keys, JIDs in tag/key position or nested
 * in JIDs, JIDs with an empty server, JID parts with NUL bytes or longer than
 * the wa_jid fields, trailing bytes after the root node, nibbles 12-14.
 *
 * Wire: the frame plaintext is a flags byte (0x02 = zlib) followed by the
 * node. wa_node_decode() expects the flags byte; wa_node_encode() writes 0x00.
 * Errors: -EBADMSG malformed input, -EMSGSIZE a cap exceeded, -ENOMEM,
 * -EINVAL invalid node for encoding. A detail naming what and the offset
 * (in the node bytes after the flags byte / after inflating) goes to `err`.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "wa/jid.h"

#define WA_NODE_ERR_MAX 160 /* suggested size of error detail buffers */

enum wa_str_enc {
    WA_STR_AUTO = 0, /* canonical choice */
    WA_STR_RAW,      /* force BINARY_8/20/32 */
    WA_STR_NIBBLE,   /* force NIBBLE_8 (chars 0-9 - . only, <= 254 chars) */
    WA_STR_HEX,      /* force HEX_8 (chars 0-9 A-F only, <= 254 chars) */
    WA_STR_NIL,      /* LIST_EMPTY (0x00) used as a string; the string is "" */
};

struct wa_str {
    const char *s; /* NUL-terminated; heap copy if `owned`, else a static token */
    uint32_t len;
    uint8_t enc;   /* enum wa_str_enc */
    uint8_t owned; /* internal: 1 heap copy, WA_STR_STATIC token table, 0 other */
};
#define WA_STR_STATIC 2

enum wa_val_type { WA_VAL_STR = 0, WA_VAL_JID = 1 };

struct wa_attr {
    struct wa_str key;
    uint8_t type;      /* enum wa_val_type */
    struct wa_str str; /* WA_VAL_STR */
    struct wa_jid jid; /* WA_VAL_JID */
    char *jid_text;    /* internal cache for wa_node_attr() */
};

enum wa_content_type {
    WA_CONTENT_NONE = 0,
    WA_CONTENT_LIST,   /* children (possibly zero of them: an empty list) */
    WA_CONTENT_BYTES,  /* BINARY_* */
    WA_CONTENT_STRING, /* a token/packed string (raw strings decode as BYTES) */
    WA_CONTENT_JID,
};

struct wa_node {
    struct wa_str tag;
    struct wa_attr *attrs;
    uint32_t nattrs, attrs_cap;
    uint8_t content_type; /* enum wa_content_type */
    struct {
        struct wa_node **children;
        uint32_t nchildren, children_cap;
        uint8_t *bytes; /* BYTES (NULL when empty) */
        size_t nbytes;
        struct wa_str str;
        struct wa_jid jid;
    } c;
};

/* Decoder caps. A zero field means the default in brackets. */
struct wa_node_limits {
    size_t max_input;      /* frame plaintext bytes [16 MiB] */
    size_t max_inflated;   /* bytes after inflating [16 MiB] */
    unsigned max_depth;    /* nesting depth, root = 1 [64] */
    unsigned max_children; /* children per node [16384] */
    unsigned max_attrs;    /* attributes per node [128] */
    size_t max_string;     /* bytes of one string or byte content [16 MiB] */
    size_t max_nodes;      /* nodes in one tree [200000] */
};

/* ---- building and freeing ---- */

/* A deep copy of the whole tree (tags, attributes with their encoding hints, content); it
 * compares equal to n and encodes to the same bytes. NULL on ENOMEM or a NULL n. */
struct wa_node *wa_node_clone(const struct wa_node *n);

/* New node without attributes or content; NULL on ENOMEM or an empty tag. */
struct wa_node *wa_node_new(const char *tag);
/* Free a node and its subtree. Accepts NULL. */
void wa_node_free(struct wa_node *n);
/* Set attribute `key` to a string (replacing the first existing `key`). */
int wa_node_set_attr(struct wa_node *n, const char *key, const char *value)
    __attribute__((warn_unused_result));
int wa_node_set_attr_jid(struct wa_node *n, const char *key, const struct wa_jid *jid)
    __attribute__((warn_unused_result));
/* Append an attribute without looking for an existing key (the decoder and text
 * parser use this; duplicates are kept in order). Copies key and value. */
int wa_node_append_attr(struct wa_node *n, const struct wa_str *key, const struct wa_str *value,
                        const struct wa_jid *jid) __attribute__((warn_unused_result));
/* Append a child; the parent takes ownership on success (0). The content
 * becomes a list; -EINVAL if it already holds bytes/string/JID. */
int wa_node_add_child(struct wa_node *parent, struct wa_node *child)
    __attribute__((warn_unused_result));
/* Make the content an empty child list (<x></x>, distinct from no content). */
int wa_node_set_empty_list(struct wa_node *n) __attribute__((warn_unused_result));
/* Replace the content by a copy of the bytes / a string / a JID. */
int wa_node_set_bytes(struct wa_node *n, const void *p, size_t len)
    __attribute__((warn_unused_result));
int wa_node_set_string(struct wa_node *n, const struct wa_str *s)
    __attribute__((warn_unused_result));
int wa_node_set_jid(struct wa_node *n, const struct wa_jid *jid)
    __attribute__((warn_unused_result));
/* Drop the content (children freed). */
void wa_node_clear_content(struct wa_node *n);

/* ---- reading ----
 * Every reader accepts n == NULL and answers "absent" (NULL, 0, -ENOENT), so lookups
 * can be chained on peer-controlled trees: wa_node_attr(wa_node_child(n, "x"), "y"). */

/* String form of attribute `key` (first match): a string value as is, a JID
 * formatted with wa_jid_format(). NULL if absent. */
const char *wa_node_attr(const struct wa_node *n, const char *key);
/* JID value of `key`: 0, -ENOENT if absent, -EINVAL if it is a string that
 * does not parse as a JID (string values are parsed, as Baileys does). */
int wa_node_attr_jid(const struct wa_node *n, const char *key, struct wa_jid *out);
/* First child with this tag, or NULL. */
struct wa_node *wa_node_child(const struct wa_node *n, const char *tag);
/* Next child with this tag after `prev` (NULL = from the start), or NULL.
 * for (c = wa_node_next_child(n, "x", NULL); c; c = wa_node_next_child(n, "x", c)) */
struct wa_node *wa_node_next_child(const struct wa_node *n, const char *tag,
                                   const struct wa_node *prev);
size_t wa_node_child_count(const struct wa_node *n);
struct wa_node *wa_node_child_at(const struct wa_node *n, size_t i);
/* Byte content or NULL (also NULL, *len = 0, for any other content type). */
const uint8_t *wa_node_content_bytes(const struct wa_node *n, size_t *len);
/* String content or NULL. */
const char *wa_node_content_string(const struct wa_node *n);
/* Strict structural equality (hints, forms and attribute order included). */
bool wa_node_equal(const struct wa_node *a, const struct wa_node *b);

/* ---- strings ---- */

/* The encoding the canonical rule (§4.3) picks for s: returns WA_STR_AUTO for
 * a token, else WA_STR_NIBBLE, WA_STR_HEX or WA_STR_RAW. */
enum wa_str_enc wa_str_canonical(const char *s, size_t len);
/* Whether s can be written with this encoding (NIL needs len 0). */
bool wa_str_encodable(const char *s, size_t len, enum wa_str_enc enc);

/* ---- wire ---- */

/* Decode a frame plaintext (flags byte first). On success *out owns the tree.
 * lim may be NULL (defaults). err (may be NULL) receives a detail on failure.
 * Trailing bytes after the root node are an error. */
int wa_node_decode(const uint8_t *p, size_t len, const struct wa_node_limits *lim,
                   struct wa_node **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Decode node bytes without the flags byte. */
int wa_node_decode_body(const uint8_t *p, size_t len, const struct wa_node_limits *lim,
                        struct wa_node **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Append flags byte 0x00 and the encoding of n to out. On failure out is
 * left at its previous length. Errors: -EINVAL (unencodable: bad hint, device
 * out of range, more than 65535 list items), -ENOBUFS (out's cap), -ENOMEM. */
int wa_node_encode(const struct wa_node *n, struct buf *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Same without the flags byte. */
int wa_node_encode_body(const struct wa_node *n, struct buf *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
