/* SPDX-License-Identifier: MIT */
/* qr.h -- QR code encoding (libqrencode) and rendering as terminal text, SVG and PNG.
 *
 * Encoding: error correction level L, automatic version (1..40), 8-bit byte
 * mode hint with libqrencode's optimal mode split (numeric/alphanumeric runs
 * inside the text get the denser modes), case sensitive. Level L is what the
 * anchors use: clawdbot/openclaw print the pairing QR with qrcode-terminal,
 * whose encoder defaults to L, and build their PNG from that encoder at L;
 * whatsmeow's examples use L too. It keeps modules large on a terminal, and a
 * screen has no print damage to correct: the observed 200-character pairing
 * string (wa-protocol.md 5.2) is version 8 (49 modules) at L against 10 (57)
 * at M; a 280-character one is version 11 against 12.
 *
 * Module coordinates: x is the column, y the row, (0,0) the top-left module;
 * "dark" means a set module (ink). Renderers add a quiet zone of light
 * modules: QR_QUIET_TEXT for the terminal, QR_QUIET_IMAGE for SVG and PNG.
 *
 * Renderers append to a caller-owned `struct buf` (whose cap bounds the
 * output). On any failure the buffer's length is put back to its value at
 * entry (its capacity may have grown), so a partial image is never left.
 * Errors are single-cause and listed per function; there is no detail string.
 * Pure computation, no I/O, fast enough for the loop thread. Measured on the
 * project machine (-O2) for the 200-character pairing string (version 8):
 * encode ~0.1 ms, text ~0.02 ms (3.7 KB), SVG ~0.1 ms (8.4 KB), PNG at
 * 8 px/module ~0.3 ms (456x456 px, 0.8 KB). Worst case, a 1024-byte input
 * (version 23) as PNG at QR_MAX_MODULE_PX: ~3 ms; that bound is why
 * module_px stops at 16 (32 took 17 ms).
 */
#pragma once
#include <stdbool.h>

#include "core/buf.h"

#define QR_MAX_INPUT     1024 /* bytes of text accepted by qr_encode() */
#define QR_QUIET_TEXT    2    /* quiet zone (modules) of qr_render_text() */
#define QR_QUIET_IMAGE   4    /* quiet zone (modules) of the SVG and PNG renderers */
#define QR_MAX_MODULE_PX 16   /* largest module_px of the SVG and PNG renderers */

/* An encoded symbol: immutable, owned by the caller of qr_encode(). */
struct qr;

/* Encode the NUL-terminated `text` (at most QR_MAX_INPUT bytes, not empty).
 * On success *out receives a new symbol to release with qr_free().
 * Errors: -EINVAL (NULL argument or empty text), -EMSGSIZE (text longer than
 * QR_MAX_INPUT, or too long for a version-40 symbol), -ENOMEM. */
int qr_encode(const char *text, struct qr **out) __attribute__((warn_unused_result));

/* Release a symbol; accepts NULL; returns NULL. */
struct qr *qr_free(struct qr *q);

/* Modules per side (21..177). */
int qr_width(const struct qr *q);
/* Symbol version (1..40): width == 17 + 4 * version. */
int qr_version(const struct qr *q);
/* True if the module at column x, row y is dark. Coordinates outside the
 * symbol (e.g. in the quiet zone) read as light. */
bool qr_module(const struct qr *q, int x, int y);

/* Append the symbol as UTF-8 text for a terminal: each character cell shows
 * two module rows with the half blocks U+2580 (upper), U+2584 (lower),
 * U+2588 (full) and a space; every line ends with '\n'. The quiet zone is
 * QR_QUIET_TEXT modules (2, not the standard 4: terminals and chat windows
 * crop or wrap wide output, and phone scanners read a 2-module margin
 * reliably, while the terminal background beyond it adds more when it is
 * the same color as the quiet zone).
 *
 * The glyphs' ink (the foreground color) paints:
 *   invert == false  the LIGHT modules and the quiet zone: for light text on a
 *                    dark background, the usual terminal (as `qrencode -t UTF8`);
 *   invert == true   the DARK modules: for dark text on a light background.
 * The symbol plus quiet zone has an odd number of rows; the lower half of
 * the last line lies outside and is left as background (a space half).
 * Output size: (width + 5) / 2 lines of width + 4 characters (1 or 3 bytes).
 * Errors: -EINVAL (NULL argument), -ENOBUFS (out's cap), -ENOMEM. */
int qr_render_text(const struct qr *q, struct buf *out, bool invert)
    __attribute__((warn_unused_result));

/* Append a standalone SVG document (no XML declaration, so it can also be
 * inlined in HTML): a white background and one black <path> made of one
 * rectangle per horizontal run of dark modules, in module units through the
 * viewBox; width and height are (width + 2 * QR_QUIET_IMAGE) * module_px.
 * module_px: 1..QR_MAX_MODULE_PX.
 * Errors: -EINVAL (NULL argument, module_px out of range), -ENOBUFS, -ENOMEM. */
int qr_render_svg(const struct qr *q, struct buf *out, int module_px)
    __attribute__((warn_unused_result));

/* Append a PNG image: 1-bit grayscale (0 = black, 1 = white), not
 * interlaced, chunks IHDR, IDAT, IEND; each module is module_px x module_px
 * pixels, plus a QR_QUIET_IMAGE quiet zone, so the side is
 * (width + 2 * QR_QUIET_IMAGE) * module_px pixels. module_px:
 * 1..QR_MAX_MODULE_PX. Memory beyond `out` is a fixed small stack buffer and
 * zlib's deflate state (~260 KB while it runs).
 * Errors: -EINVAL (NULL argument, module_px out of range), -ENOBUFS,
 * -ENOMEM (also a zlib allocation failure), -EIO (any other zlib failure). */
int qr_render_png(const struct qr *q, struct buf *out, int module_px)
    __attribute__((warn_unused_result));
