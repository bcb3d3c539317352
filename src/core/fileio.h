/* SPDX-License-Identifier: MIT */
/* fileio.h -- whole-file reads with a cap, atomic writes, directories. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

/* Read the whole file into a new NUL-terminated heap buffer (*out, caller
 * frees). Files larger than max are -EFBIG. Returns 0 or -errno. */
int file_read_all(const char *path, size_t max, char **out, size_t *len)
    __attribute__((warn_unused_result));
/* Write data to path atomically: unlink a stale "<path>.tmp", write it with
 * `mode`, fsync, rename over path, fsync the directory. Returns 0 or -errno;
 * on failure path is unchanged. */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
    __attribute__((warn_unused_result));
/* mkdir -p with `mode` for every directory created. Existing ones are kept
 * as they are. Returns 0 or -errno. */
int dir_create(const char *path, mode_t mode) __attribute__((warn_unused_result));
/* fsync a directory (after a rename or create inside it). */
int dir_sync(const char *path);
