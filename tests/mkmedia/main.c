/* SPDX-License-Identifier: MIT */
/* wagate-test-mkmedia -- the shell tests' media files (tests/common/mediagen.h), and a check
 * of a received thumbnail:
 *   wagate-test-mkmedia jpeg W H OUT [gray|progressive|exif1..exif8]
 *   wagate-test-mkmedia png W H OUT [alpha|interlaced]
 *   wagate-test-mkmedia mp4 W H MS OUT [MDAT_BYTES]   (moov after the mdat, as cameras write)
 *   wagate-test-mkmedia opus MS OUT [half]
 *   wagate-test-mkmedia jpeginfo FILE      prints "W H R,G,B" (size, top-left pixel) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mediagen.h"

#include "core/fileio.h"

static int usage(void)
{
    fprintf(stderr, "usage: wagate-test-mkmedia jpeg|png W H OUT [flag] | mp4 W H MS OUT | "
                    "opus MS OUT [half] | jpeginfo FILE\n");
    return 2;
}

static int write_mp4(uint32_t w, uint32_t h, uint32_t ms, const char *out, size_t mdat)
{
    struct mg_mp4 o = {.width = w,
                       .height = h,
                       .timescale = 1000,
                       .duration = ms,
                       .audio_first = true,
                       .moov_last = true,
                       .mdat_len = mdat,
                       .largesize = mdat > 1000000};
    uint8_t *p;
    size_t n;
    if (mg_mp4_bytes(&o, &p, &n) < 0) return -1;
    int rc = file_write_atomic(out, p, n, 0644);
    free(p);
    return rc;
}

static int jpeginfo(const char *path)
{
    char *d = NULL;
    size_t n;
    uint32_t w, h;
    uint8_t *rgb;
    if (file_read_all(path, 1u << 20, &d, &n) < 0) return 1;
    int rc = mg_jpeg_decode((const uint8_t *)d, n, &w, &h, &rgb);
    free(d);
    if (rc < 0) {
        fprintf(stderr, "%s: not a JPEG\n", path);
        return 1;
    }
    printf("%u %u %u,%u,%u\n", w, h, rgb[0], rgb[1], rgb[2]);
    free(rgb);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) return usage();
    const char *k = argv[1], *flag = argc > 5 ? argv[5] : "";
    int rc;
    if (!strcmp(k, "jpeginfo")) return jpeginfo(argv[2]);
    if (!strcmp(k, "opus") && argc >= 4)
        rc = mg_opus(argv[3], (uint32_t)atoi(argv[2]), argc > 4 && !strcmp(argv[4], "half"));
    else if (!strcmp(k, "jpeg") && argc >= 5)
        rc = mg_jpeg_exif(argv[4], (uint32_t)atoi(argv[2]), (uint32_t)atoi(argv[3]),
                          !strcmp(flag, "gray"), !strcmp(flag, "progressive"),
                          !strncmp(flag, "exif", 4) ? atoi(flag + 4) : 0);
    else if (!strcmp(k, "png") && argc >= 5)
        rc = mg_png(argv[4], (uint32_t)atoi(argv[2]), (uint32_t)atoi(argv[3]),
                    !strcmp(flag, "alpha"), !strcmp(flag, "interlaced"));
    else if (!strcmp(k, "mp4") && argc >= 6)
        rc = write_mp4((uint32_t)atoi(argv[2]), (uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4]),
                       argv[5], argc > 6 ? (size_t)strtoull(argv[6], NULL, 10) : 4096);
    else
        return usage();
    if (rc < 0) fprintf(stderr, "wagate-test-mkmedia: cannot write the file\n");
    return rc < 0 ? 1 : 0;
}
