/* SPDX-License-Identifier: MIT */
/* pagedrop.c -- MADV_DONTNEED over the process's clean read-only file mappings. */
#include "gw/pagedrop.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

int gw_pagedrop_line(const char *line, unsigned long *start, size_t *len)
{
    unsigned long a, b, off, inode;
    char perms[8], dev[16];
    int n = 0;
    if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %n", &a, &b, perms, &off, dev, &inode, &n) < 6)
        return 0;
    /* readable, not writable, private; an inode and a path: a file, not [vdso] or anon */
    if (strlen(perms) != 4 || perms[0] != 'r' || perms[1] != '-' || perms[3] != 'p' || inode == 0 ||
        b <= a || line[n] != '/')
        return 0;
    *start = a;
    *len = (size_t)(b - a);
    return 1;
}

/* Drop the mapping found by the last header line if it holds no private (COW) page: then
 * every resident page is the file's own and comes back unchanged (RELRO pages, written by
 * the dynamic linker, are anonymous and keep their mapping untouched). */
static int flush(unsigned long start, size_t len, long anon_kb)
{
    return len && anon_kb == 0 && madvise((void *)start, len, MADV_DONTNEED) == 0;
}

int gw_pagedrop(void)
{
    FILE *f = fopen("/proc/self/smaps", "re");
    if (!f) return -errno;
    char line[4096];
    int count = 0;
    unsigned long start = 0;
    size_t len = 0;
    long anon = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long s;
        size_t l;
        long kb;
        if (sscanf(line, "Anonymous: %ld kB", &kb) == 1) {
            anon = kb;
        } else if ((line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f')) {
            /* a mapping header ("a-b perms off dev inode path"); fields are "Name: ..." */
            count += flush(start, len, anon);
            len = 0;
            anon = -1;
            if (gw_pagedrop_line(line, &s, &l) == 1) start = s, len = l;
        }
    }
    count += flush(start, len, anon);
    fclose(f);
    return count;
}
