/* SPDX-License-Identifier: MIT */
/* fuzz_netmon.c -- libFuzzer harness for the rtnetlink summary parser (netmon.h): any bytes,
 * at any offset alignment; the parse never reads past the buffer and counts only what it
 * validated. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/netmon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t skew = data[0] & 7; /* misaligned buffers too */
    uint8_t *buf = malloc(size + 8);
    if (!buf) return 0;
    memcpy(buf + skew, data + 1, size - 1);
    struct netmon_summary s = {0};
    int rc = netmon_parse(buf + skew, size - 1, &s);
    unsigned total = s.links_up + s.links_down + s.addrs_added + s.addrs_removed + s.routes_added +
                     s.routes_removed;
    if (total > (size - 1) / 16 + 1) abort(); /* a header is 16 bytes: never more messages */
    if (rc != 0 && rc != -EBADMSG) abort();
    char t[128];
    netmon_summary_text(&s, t, sizeof t);
    free(buf);
    return 0;
}
