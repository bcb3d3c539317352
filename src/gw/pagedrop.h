/* SPDX-License-Identifier: MIT */
/* pagedrop.h -- unmap the resident pages of program and library code from this process.
 *
 * Shared libraries (libcrypto alone is 4.5 MiB of code) become resident in 64 KiB windows
 * around every page the process touches (the kernel's fault-around), and at start-up and
 * login the daemon touches code, symbol tables and constants it does not need again.
 * gw_pagedrop() walks /proc/self/smaps and calls madvise(MADV_DONTNEED) on every private,
 * readable, non-writable, file-backed mapping that holds no anonymous (copy-on-write) page:
 * every resident page of such a mapping is the file's own, so dropping it loses nothing;
 * what the loop runs next comes back from the page cache with minor faults (no disk I/O
 * while the file stays cached). Writable mappings, RELRO segments (relocated by the dynamic
 * linker: anonymous pages) and anonymous memory are never touched. This is what keeps the idle RSS
 * of the dynamically linked daemon near the statically linked one (docs/internals/memory.md).
 *
 * Synchronous and cheap (one read of /proc/self/smaps, a few dozen madvise calls): run it
 * at a quiet moment, e.g. after memtrim's malloc_trim.
 */
#pragma once
#include <stddef.h>

/* Sans-I/O part: does one /proc/PID/maps (or smaps header) line name a mapping that may be
 * dropped (r--p or r-xp, file-backed)? 1 and start/len filled, or 0. The caller still checks
 * that it holds no anonymous page. */
int gw_pagedrop_line(const char *line, unsigned long *start, size_t *len);
/* Drop them; returns the number of mappings advised, or -errno (reading maps failed). */
int gw_pagedrop(void);
