/* SPDX-License-Identifier: MIT */
/* child.h -- test support: run a helper binary (testdns, fakewa) as a child. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

/* Start argv[0] with stdout on a pipe; the child dies with the test
 * (PR_SET_PDEATHSIG). Reads stdout until `lines` lines have arrived (or
 * timeout_ms passes) into out (NUL-terminated), closes the pipe and returns
 * the pid, or -1. stderr is inherited. */
pid_t child_start(char *const argv[], int lines, char *out, size_t outlen, int timeout_ms);
/* SIGKILL and reap; pid <= 0 is ignored. */
void child_stop(pid_t pid);
/* Path of a binary in the build directory ($WAGATE_BUILD/name). */
const char *child_build_path(const char *name);
