/* SPDX-License-Identifier: MIT */
/* bench_gateway.c -- the daemon's start, stop and idle cost, next to the anchors.
 *
 * Starts build/wagate (or $WAGATE_BIN) RUNS times on a loopback port and
 * measures: exec to the first 200 from /healthz (polled every 1 ms), resident
 * memory after start, voluntary context switches (wake-ups) over IDLE seconds,
 * and SIGTERM to exit. Prints medians, and the anchors' figures from
 * shared/docs/anchors.md with ratios (the anchors need Node >= 22, which this
 * machine does not have, so their figures are quoted, not re-measured). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)((ms - (time_t)(ms / 1000) * 1000) * 1e6)};
    nanosleep(&ts, NULL);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) < 0)
        return -1;
    close(fd);
    return ntohs(a.sin_port);
}

/* One GET /healthz; 1 when the answer is 200. */
static int healthz(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = 0;
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        char b[256] = {0};
        if (write(fd, req, sizeof req - 1) == (ssize_t)sizeof req - 1 &&
            read(fd, b, sizeof b - 1) > 0)
            ok = strncmp(b, "HTTP/1.1 200", 12) == 0;
    }
    if (fd >= 0) close(fd);
    return ok;
}

static long proc_field(pid_t pid, const char *file, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    FILE *f = fopen(path, "r");
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0) v = strtol(line + strlen(key), NULL, 10);
    if (f) fclose(f);
    return v;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct run {
    double start_ms, stop_ms, rss_kb, wakeups_per_s;
};

static int one_run(const char *bin, const char *dir, int idle_s, struct run *r)
{
    int port = free_port();
    char listen[64], state[512], cfg[512];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    snprintf(state, sizeof state, "%s/state", dir);
    snprintf(cfg, sizeof cfg, "%s/c.json", dir);
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        execl(bin, bin, "--config", cfg, "--state-dir", state, "gateway", "--listen", listen,
              (char *)NULL);
        _exit(127);
    }
    while (!healthz(port)) {
        if (now_ms() - t0 > 5000 || waitpid(pid, NULL, WNOHANG) == pid) return -1;
        sleep_ms(1);
    }
    r->start_ms = now_ms() - t0;
    sleep_ms(300);
    r->rss_kb = (double)proc_field(pid, "status", "VmRSS:");
    long a = proc_field(pid, "status", "voluntary_ctxt_switches:");
    sleep_ms(idle_s * 1000.0);
    long b = proc_field(pid, "status", "voluntary_ctxt_switches:");
    r->wakeups_per_s = (double)(b - a) / idle_s;
    double t1 = now_ms();
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    r->stop_ms = now_ms() - t1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *bin = getenv("WAGATE_BIN") ? getenv("WAGATE_BIN") : "build/wagate";
    int runs = argc > 1 ? atoi(argv[1]) : 15, idle = argc > 2 ? atoi(argv[2]) : 3;
    if (runs < 1 || runs > 1000 || idle < 1 || idle > 600) {
        fprintf(stderr, "usage: bench_gateway [RUNS 1..1000] [IDLE_SECONDS 1..600]\n");
        return 2;
    }
    char dir[] = "/tmp/wagate-bench-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char cfg[600];
    snprintf(cfg, sizeof cfg, "%s/c.json", dir);
    FILE *f = fopen(cfg, "w");
    fputs("{\"whatsapp\":{\"accounts\":{}}}\n", f); /* no channel: loopback only */
    fclose(f);
    double s[1000], p[1000], m[1000], w[1000];
    int n = 0;
    for (int i = 0; i < runs; i++) {
        struct run r;
        if (one_run(bin, dir, idle, &r) < 0) {
            fprintf(stderr, "run %d failed\n", i);
            continue;
        }
        s[n] = r.start_ms, p[n] = r.stop_ms, m[n] = r.rss_kb, w[n] = r.wakeups_per_s;
        n++;
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    if (n == 0) return 1;
    double ms = median(s, n), mp = median(p, n), mm = median(m, n), mw = median(w, n);
    printf("wagate gateway, %d runs (medians; first run creates the token)\n", n);
    printf("  %-34s %10s %22s %10s\n", "", "wagate", "clawdbot 2026.1.24", "ratio");
    printf("  %-34s %8.1f ms %19s %9.0fx\n", "start to first /healthz 200", ms,
           "4300-5400 ms (warm)", 4300 / ms);
    printf("  %-34s %8.1f ms %22s\n", "SIGTERM to exit", mp, "-");
    printf("  %-34s %7.2f MiB %18s %9.0fx\n", "resident memory, idle", mm / 1024, "315-327 MiB",
           315 * 1024 / mm);
    printf("  %-34s %8.2f /s %22s\n", "wake-ups while idle", mw, "-");
    printf(
        "  (openclaw 2026.9.6: start 8-19 s, RSS 760-980 MiB; anchors quoted from anchors.md)\n");
    return 0;
}
