/* SPDX-License-Identifier: MIT */
/* cmd_proto.c -- `wagate proto`: offline protocol tools (binary node <-> text). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "core/buf.h"
#include "core/hex.h"
#include "wa/node.h"
#include "wa/nodetext.h"

#define STDIN_MAX (64u << 20) /* hex or text read from stdin */

static const char usage_text[] =
    "usage: wagate proto decode-node [--no-flags] [--compact] [HEX|-]\n"
    "       wagate proto encode-node [--no-flags] [--compact] < TEXT\n"
    "\n"
    "decode-node  print a binary node as text. HEX is the frame plaintext as in\n"
    "             wa-vectors.json: the flags byte first (00, or 02 = zlib), then the\n"
    "             node; with --no-flags, the node bytes alone. Whitespace in HEX is\n"
    "             ignored; HEX missing or '-' reads it from stdin.\n"
    "encode-node  read one node in the text form (see src/wa/nodetext.h) on stdin\n"
    "             and print its hex, with the 00 flags byte unless --no-flags.\n"
    "       wagate proto connect [--json] [URL]\n"
    "         connect to URL (default whatsapp.endpoint) with the whatsapp.* config: DNS, TCP,\n"
    "         TLS, WebSocket, then the Noise handshake up to the server's certificate chain,\n"
    "         which is verified against whatsapp.noise_root_pubkey; prints the outcome\n"
    "exit status: 0 ok, 1 bad input or failure, 2 usage.\n";

static int usage(void)
{
    fputs(usage_text, stderr);
    return 2;
}

static int read_stdin(struct buf *b)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
        if (buf_append(b, chunk, n)) return -ENOBUFS;
    return ferror(stdin) ? -EIO : 0;
}

static int print_hex(const uint8_t *p, size_t n)
{
    char *hex = malloc(2 * n + 1);
    if (!hex) return -ENOMEM;
    hex_encode(hex, p, n);
    puts(hex);
    free(hex);
    return 0;
}

static int decode_node(const char *arg, bool flags, unsigned tflags)
{
    struct buf in, text;
    buf_init(&in, STDIN_MAX);
    buf_init(&text, 0);
    int rc = 0;
    if (!arg || strcmp(arg, "-") == 0)
        rc = read_stdin(&in);
    else
        rc = buf_append_str(&in, arg);
    uint8_t *bin = malloc(in.len / 2 + 1);
    long n = rc || !bin ? -ENOMEM : hex_decode(bin, in.len / 2 + 1, (char *)in.data, in.len);
    struct wa_node *node = NULL;
    char err[WA_NODE_ERR_MAX] = "";
    int status = 1;
    if (n < 0) {
        fprintf(stderr, "wagate proto decode-node: %s\n",
                n == -EINVAL ? "invalid hex" : "cannot read the input");
    } else if ((rc = flags ? wa_node_decode(bin, (size_t)n, NULL, &node, err, sizeof(err))
                           : wa_node_decode_body(bin, (size_t)n, NULL, &node, err, sizeof(err))) !=
               0) {
        fprintf(stderr, "wagate proto decode-node: %s (%s)\n", err, strerror(-rc));
    } else if (wa_nodetext_print(node, &text, tflags) != 0) {
        fprintf(stderr, "wagate proto decode-node: out of memory\n");
    } else {
        fwrite(text.data, 1, text.len, stdout);
        if (tflags & WA_NODETEXT_COMPACT) putchar('\n');
        status = 0;
    }
    wa_node_free(node);
    free(bin);
    buf_free(&in);
    buf_free(&text);
    return status;
}

static int encode_node(bool flags)
{
    struct buf in, out;
    buf_init(&in, STDIN_MAX);
    buf_init(&out, 0);
    struct wa_node *node = NULL;
    char err[WA_NODE_ERR_MAX] = "";
    int status = 1, rc = read_stdin(&in);
    if (rc) {
        fprintf(stderr, "wagate proto encode-node: cannot read stdin (%s)\n", strerror(-rc));
    } else if ((rc = wa_nodetext_parse((char *)in.data, in.len, &node, err, sizeof(err))) != 0) {
        fprintf(stderr, "wagate proto encode-node: %s\n", err);
    } else if ((rc = flags ? wa_node_encode(node, &out, err, sizeof(err))
                           : wa_node_encode_body(node, &out, err, sizeof(err))) != 0) {
        fprintf(stderr, "wagate proto encode-node: %s (%s)\n", err, strerror(-rc));
    } else if (print_hex(out.data, out.len) == 0) {
        status = 0;
    }
    wa_node_free(node);
    buf_free(&in);
    buf_free(&out);
    return status;
}

int cmd_proto_main(int argc, char **argv)
{
    /* connect needs the config: find it after the global options, which it parses. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "--state-dir") == 0) {
            i++;
            continue;
        }
        if (strcmp(argv[i], "connect") == 0) {
            memmove(argv + i, argv + i + 1, (size_t)(argc - i) * sizeof *argv);
            return cmd_connect_main(argc - 1, argv);
        }
        if (argv[i][0] != '-') break;
    }
    bool flags = true;
    unsigned tflags = 0;
    const char *sub = NULL, *arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-flags") == 0)
            flags = false;
        else if (strcmp(argv[i], "--compact") == 0)
            tflags |= WA_NODETEXT_COMPACT;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return usage();
        else if (!sub)
            sub = argv[i];
        else if (!arg)
            arg = argv[i];
        else
            return usage();
    }
    if (sub && strcmp(sub, "decode-node") == 0) return decode_node(arg, flags, tflags);
    if (sub && strcmp(sub, "encode-node") == 0 && !arg) return encode_node(flags);
    return usage();
}
