/* SPDX-License-Identifier: MIT */
/* child.c -- test support: run a helper binary as a child process. */
#include "child.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

pid_t child_start(char *const argv[], int lines, char *out, size_t outlen, int timeout_ms)
{
    int pfd[2];
    if (outlen == 0 || pipe(pfd) < 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t off = 0;
    out[0] = '\0';
    struct pollfd p = {.fd = pfd[0], .events = POLLIN};
    while (off < outlen - 1 && count_lines(out) < lines) {
        if (poll(&p, 1, timeout_ms) != 1) break;
        ssize_t n = read(pfd[0], out + off, outlen - 1 - off);
        if (n <= 0) break;
        off += (size_t)n;
        out[off] = '\0';
    }
    close(pfd[0]);
    if (count_lines(out) < lines) {
        child_stop(pid);
        return -1;
    }
    return pid;
}

void child_stop(pid_t pid)
{
    if (pid <= 0) return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

const char *child_build_path(const char *name)
{
    static char path[4096];
    const char *build = getenv("WAGATE_BUILD");
    snprintf(path, sizeof path, "%s/%s", build && *build ? build : ".", name);
    return path;
}
