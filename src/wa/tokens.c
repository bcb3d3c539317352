/* SPDX-License-Identifier: MIT */
/* tokens.c -- token lookup over the generated tables (hash with linear probing). */
#include "wa/tokens.h"

#include <string.h>

#include "wa/tokens_gen.h"

#define HASH_MASK ((1u << WA_TOKEN_HASH_BITS) - 1u)

/* 32-bit FNV-1a; must match fnv1a() in tools/gen-tokens.js. */
static uint32_t token_hash(const char *s, size_t n)
{
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x01000193u;
    }
    return h;
}

static const char *code_string(unsigned code)
{
    if (code < 256) return wa_single_byte_tokens[code];
    code -= 256;
    return wa_double_byte_tokens[code >> 8][code & 0xff];
}

/* Index into wa_token_lengths for a code. */
static unsigned code_len_index(unsigned code)
{
    return code < 256 ? code : WA_TOKEN_SINGLE_COUNT + (code - 256);
}

enum wa_token_kind wa_token_find(const char *s, size_t n, struct wa_token *tok)
{
    tok->kind = WA_TOKEN_NONE;
    tok->dict = 0;
    tok->index = 0;
    if (n == 0 || n > 255) return WA_TOKEN_NONE;
    uint32_t h = token_hash(s, n) & HASH_MASK;
    for (unsigned probe = 0; probe < WA_TOKEN_HASH_MAX_PROBE; probe++) {
        unsigned slot = wa_token_hash_slots[h];
        if (slot == 0) return WA_TOKEN_NONE;
        unsigned code = slot - 1u;
        if (wa_token_lengths[code_len_index(code)] == n && memcmp(code_string(code), s, n) == 0) {
            if (code < 256) {
                tok->kind = WA_TOKEN_SINGLE;
                tok->index = (uint8_t)code;
            } else {
                tok->kind = WA_TOKEN_DOUBLE;
                tok->dict = (uint8_t)((code - 256) >> 8);
                tok->index = (uint8_t)((code - 256) & 0xff);
            }
            return tok->kind;
        }
        h = (h + 1u) & HASH_MASK;
    }
    return WA_TOKEN_NONE;
}

const char *wa_token_single(unsigned index)
{
    return index < WA_TOKEN_SINGLE_COUNT ? wa_single_byte_tokens[index] : NULL;
}

const char *wa_token_double(unsigned dict, unsigned index)
{
    if (dict >= WA_TOKEN_DICT_COUNT || index >= WA_TOKEN_DICT_SIZE) return NULL;
    return wa_double_byte_tokens[dict][index];
}

size_t wa_token_single_len(unsigned index)
{
    return index < WA_TOKEN_SINGLE_COUNT ? wa_token_lengths[index] : 0;
}

size_t wa_token_double_len(unsigned dict, unsigned index)
{
    if (dict >= WA_TOKEN_DICT_COUNT || index >= WA_TOKEN_DICT_SIZE) return 0;
    return wa_token_lengths[WA_TOKEN_SINGLE_COUNT + dict * WA_TOKEN_DICT_SIZE + index];
}
