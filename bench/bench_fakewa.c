/* SPDX-License-Identifier: MIT */
/* bench_fakewa.c -- fakewa routing throughput on one core: runs the sibling
 * `wagate-fakewa --bench N` (the benchmark lives in tools/fakewa/bench.c, next to the code it
 * measures) and prints its figures. Usage: bench_fakewa [N] (default 50000 messages).
 * Prints figures only; never asserts timings. Goal: route_msgs_per_s >= 20000.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int find_fakewa(char *out, size_t outlen)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) return -errno;
    self[n] = 0;
    const char *env = getenv("FAKEWA_BIN");
    if (env && *env)
        snprintf(out, outlen, "%s", env);
    else
        snprintf(out, outlen, "%s/wagate-fakewa", dirname(self));
    return access(out, X_OK) == 0 ? 0 : -ENOENT;
}

int main(int argc, char **argv)
{
    const char *n = argc > 1 ? argv[1] : "50000";
    char bin[PATH_MAX + 32];
    if (find_fakewa(bin, sizeof(bin)) < 0) {
        fprintf(stderr, "bench_fakewa: wagate-fakewa not found next to this binary\n");
        return 1;
    }
    int fd[2];
    if (pipe(fd) < 0) return 1;
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execl(bin, bin, "--bench", n, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *in = fdopen(fd[0], "r");
    char line[256];
    printf("# fakewa in-process routing benchmark (%s messages, one core)\n", n);
    while (in && fgets(line, sizeof(line), in))
        fputs(line, stdout);
    if (in) fclose(in);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
