/* SPDX-License-Identifier: MIT */
/* sdnotify.h -- the service manager's readiness protocol (systemd's sd_notify), written here.
 *
 * When the daemon runs under systemd with Type=notify, $NOTIFY_SOCKET names a unix datagram
 * socket: a filesystem path ("/run/user/1000/systemd/notify") or an abstract name ("@..."
 * with the '@' standing for the leading NUL byte). Each state report is one datagram of
 * newline-separated KEY=VALUE lines: READY=1, STATUS=<text>, WATCHDOG=1, RELOADING=1,
 * STOPPING=1. $WATCHDOG_USEC (with $WATCHDOG_PID, when set, naming this process) asks for a
 * WATCHDOG=1 at least that often: the daemon sends one every half of it from a timer of its
 * uv loop, so a wedged loop stops the pings and systemd restarts the service.
 *
 * Why not libsystemd: the protocol is one sendto() on a datagram socket; the library would be
 * a dependency (and ~1 MB mapped) for those few lines, and macOS has neither. The socket is
 * non-blocking and sends use MSG_NOSIGNAL: a full or gone receiver loses a report (-EAGAIN,
 * -ECONNREFUSED, ...) and never blocks the loop.
 *
 * sdnotify_open() reads and then unsets NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID, so the
 * processes the daemon starts (exec hooks) neither inherit nor misuse them.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#define SDNOTIFY_MAX 4096 /* bytes of one report (longer STATUS text is cut) */

struct sdnotify {
    int fd; /* -1: not under a notifying service manager (every send is a no-op) */
    struct sockaddr_un addr;
    socklen_t addrlen;
    uint64_t watchdog_usec; /* 0: no watchdog requested */
};

/* From the environment (see above). 0 when NOTIFY_SOCKET is unset (n->fd = -1) or the socket
 * is ready; -EINVAL for a malformed NOTIFY_SOCKET (too long, relative, empty), -errno from
 * socket(). The watchdog is read in every case (0 when unset, malformed or for another pid). */
int sdnotify_open(struct sdnotify *n);
/* Send one report: `msg` verbatim (e.g. "READY=1\nSTATUS=listening"). 0 (also when not
 * enabled), -EMSGSIZE over SDNOTIFY_MAX, -errno from sendto(). */
int sdnotify_send(const struct sdnotify *n, const char *msg);
/* "STATUS=<text>" (printf-style); newlines in the text become spaces. */
int sdnotify_status(const struct sdnotify *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool sdnotify_enabled(const struct sdnotify *n);
void sdnotify_close(struct sdnotify *n);
