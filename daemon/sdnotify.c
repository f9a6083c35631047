/*
 * sdnotify.c - systemd's notify protocol, spoken natively.
 *
 * Under Type=notify systemd names a datagram socket in NOTIFY_SOCKET (a
 * path, or @name in the abstract namespace) and reads newline-separated
 * assignments from it: READY=1, RELOADING=1, STOPPING=1, STATUS=…,
 * WATCHDOG=1.  That is the whole protocol, so netlabd sends the datagrams
 * itself instead of linking libsystemd, as HAProxy does.
 *
 * Only the master notifies: systemd takes datagrams from the main pid only
 * (NotifyAccess=main), and a serving process has nothing to tell it.  The
 * variables are read once, first thing in main(), and removed from the
 * environment so that no child, not even the one that checks handlers at
 * start-up, nor a program a handler runs, sees them; the state a forked
 * child inherits is inert, because every send first checks that it runs
 * in the process that started the loop (the master).
 *
 * A send never blocks: a receiver that stops reading fills its queue
 * (net.unix.max_dgram_qlen datagrams), and a blocking sendto() would then
 * freeze the master.  A ping or a STATUS= refresh that does not fit is
 * dropped (the next one follows soon); READY=1, RELOADING=1 and STOPPING=1
 * are tried again from a timer for a few seconds, then dropped.
 *
 * The watchdog is a timer on the master's loop, so that a master whose
 * loop hangs stops pinging and systemd acts.  STATUS= is refreshed by a
 * one-second timer and sent only when its text changed: a busy server does
 * not become a stream of datagrams.  The refresh waits while a reload runs
 * (its STATUS= says so) and before READY=1.
 *
 * Leaves to others: what the status says (the master's callback) and
 * sockets systemd passes in (activation.c).
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sdnotify.h"

enum state { STARTING, READY, RELOADING, STOPPING };

static struct {
    int enabled;
    pid_t pid; /* the process that may send */
    struct sockaddr_un sun;
    socklen_t sunlen;
    uint64_t watchdog_usec;
    int failing; /* the last send failed (and was logged) */
    enum state state;
    char status[NL_SD_MSG_MAX]; /* the last STATUS= sent */
    nl_sd_status_fn status_fn;
    void *status_arg;
    struct ev_loop *loop;
    ev_timer watchdog_w;
    ev_timer status_w;
    ev_timer retry_w;
    char pending[NL_SD_MSG_MAX]; /* a state change waiting for room */
    int retries;                 /* tries left for pending */
} sd;

/* A state change that found the receiver's queue full is tried this often,
 * this many times: a receiver busy for seconds is not reading at all. */
#define RETRY_EVERY 0.1
#define RETRY_TRIES 30

int
nl_sd_parse_socket(const char *s, struct sockaddr_un *sun, socklen_t *len,
                   char *err, size_t errlen)
{
    size_t n = strlen(s);

    if (s[0] != '/' && s[0] != '@') {
        snprintf(err, errlen,
                 "NOTIFY_SOCKET=%s: neither an absolute path nor an "
                 "@abstract name",
                 s);
        return -1;
    }
    if (n < 2) {
        snprintf(err, errlen, "NOTIFY_SOCKET=%s: empty name", s);
        return -1;
    }
    if (n >= sizeof(sun->sun_path)) {
        snprintf(err, errlen,
                 "NOTIFY_SOCKET: %zu bytes, longer than a socket address "
                 "(%zu)",
                 n, sizeof(sun->sun_path) - 1);
        return -1;
    }
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, s, n);
    if (s[0] == '@')
        sun->sun_path[0] = '\0'; /* the abstract namespace */
    *len =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (s[0] == '/'));
    return 0;
}

/* A decimal number without sign, spaces or overflow. */
static int
parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int
nl_sd_parse_watchdog(const char *usec, const char *pid, pid_t self,
                     uint64_t *out, char *err, size_t errlen)
{
    uint64_t v;

    *out = 0;
    if (usec == NULL)
        return 0;
    if (pid != NULL) {
        if (parse_u64(pid, &v) == -1 || v == 0) {
            snprintf(err, errlen, "WATCHDOG_PID=%s: not a process id", pid);
            return -1;
        }
        if (v != (uint64_t)self)
            return 0; /* another process's watchdog */
    }
    /* Below a millisecond, a ping every half of it could not keep up. */
    if (parse_u64(usec, &v) == -1 || v < 1000) {
        snprintf(err, errlen,
                 "WATCHDOG_USEC=%s: not a number of microseconds (at least "
                 "1000)",
                 usec);
        return -1;
    }
    *out = v;
    return 0;
}

size_t
nl_sd_format(char *buf, size_t len, const char *head, const char *status)
{
    static const char ellipsis[] = "...";
    size_t n;

    if (len == 0)
        return 0;
    n = (size_t)snprintf(buf, len, "%s", head);
    if (n >= len)
        return len - 1;
    if (status == NULL)
        return n;
    n += (size_t)snprintf(buf + n, len - n, "\nSTATUS=");
    if (n >= len)
        return len - 1;
    /* One assignment per line: a newline inside the value would end it,
     * so lines become "; " and other control characters spaces. */
    for (const char *p = status; *p != '\0'; p++) {
        const char *add = *p == '\n' ? "; " : NULL;
        char c = (unsigned char)*p < ' ' ? ' ' : *p;
        size_t need = add != NULL ? 2 : 1;

        if (n + need + sizeof(ellipsis) > len) {
            if (n + sizeof(ellipsis) <= len) {
                memcpy(buf + n, ellipsis, sizeof(ellipsis));
                n += sizeof(ellipsis) - 1;
            }
            break;
        }
        if (add != NULL)
            memcpy(buf + n, add, 2);
        else
            buf[n] = c;
        n += need;
    }
    buf[n] = '\0';
    return n;
}

int
nl_sd_init(char *err, size_t errlen)
{
    const char *s = getenv("NOTIFY_SOCKET");
    int rc = 0;

    memset(&sd, 0, sizeof(sd));
    sd.pid = getpid();
    if (s != NULL) {
        if (nl_sd_parse_socket(s, &sd.sun, &sd.sunlen, err, errlen) == 0)
            sd.enabled = 1;
        else
            rc = -1;
    }
    if (sd.enabled &&
        nl_sd_parse_watchdog(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"),
                             sd.pid, &sd.watchdog_usec, err, errlen) == -1)
        rc = -1;
    /* Ours alone: a serving process is not the main pid. */
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    return rc;
}

int
nl_sd_enabled(void)
{
    return sd.enabled;
}

uint64_t
nl_sd_watchdog_usec(void)
{
    return sd.enabled ? sd.watchdog_usec : 0;
}

int
nl_sd_send(const char *msg)
{
    int fd, rc, e;

    if (!sd.enabled || getpid() != sd.pid)
        return 0;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        goto fail;
    /* MSG_DONTWAIT: EAGAIN when the receiver's queue is full, never a
     * master stuck until systemd reads. */
    rc = (int)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
                     (struct sockaddr *)&sd.sun, sd.sunlen);
    e = errno;
    close(fd);
    errno = e;
    if (rc == -1)
        goto fail;
    if (sd.failing)
        nl_info(NULL, "notifying systemd works again");
    sd.failing = 0;
    return 1;
fail:
    e = errno;
    /* The watchdog would repeat the same error many times a second. */
    if (!sd.failing)
        nl_log_errno(NULL, "notifying systemd (NOTIFY_SOCKET %s%s)",
                     sd.sun.sun_path[0] == '\0' ? "@" : "",
                     sd.sun.sun_path[0] == '\0' ? sd.sun.sun_path + 1
                                                : sd.sun.sun_path);
    sd.failing = 1;
    errno = e;
    return -1;
}

static void
retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    int rc = nl_sd_send(sd.pending);

    if (rc == -1 && errno == EAGAIN && --sd.retries > 0)
        return;
    ev_timer_stop(loop, t);
    if (rc == -1 && errno == EAGAIN)
        nl_warnx(NULL,
                 "systemd did not read its notify socket for %.0f s; "
                 "dropped %.*s",
                 RETRY_EVERY * RETRY_TRIES, (int)strcspn(sd.pending, "\n"),
                 sd.pending);
}

/*
 * Sends a state change; when the receiver's queue is full, keeps it for
 * the retry timer.  Only the latest state counts, so it replaces one
 * still waiting.
 */
static void
send_state(const char *msg)
{
    if (sd.loop != NULL)
        ev_timer_stop(sd.loop, &sd.retry_w);
    if (nl_sd_send(msg) != -1 || errno != EAGAIN || sd.loop == NULL)
        return;
    snprintf(sd.pending, sizeof(sd.pending), "%s", msg);
    sd.retries = RETRY_TRIES;
    ev_timer_set(&sd.retry_w, RETRY_EVERY, RETRY_EVERY);
    ev_timer_start(sd.loop, &sd.retry_w);
}

/* Sends head with the status text of now, and remembers that text. */
static void
notify(const char *head, const char *status)
{
    char text[NL_SD_MSG_MAX], msg[NL_SD_MSG_MAX];

    if (!sd.enabled || getpid() != sd.pid)
        return;
    if (status == NULL && sd.status_fn != NULL) {
        sd.status_fn(sd.status_arg, text, sizeof(text));
        status = text;
    }
    nl_sd_format(msg, sizeof(msg), head, status);
    if (status != NULL)
        snprintf(sd.status, sizeof(sd.status), "%s", status);
    send_state(msg); /* failures are logged in nl_sd_send() */
}

void
nl_sd_ready(void)
{
    char head[64];

    sd.state = READY;
    snprintf(head, sizeof(head), "READY=1\nMAINPID=%ld", (long)getpid());
    notify(head, NULL);
}

void
nl_sd_reloading(const char *what)
{
    struct timespec ts;
    char head[96];

    sd.state = RELOADING;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    /* MONOTONIC_USEC tells systemd which reload this is about. */
    snprintf(head, sizeof(head), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
             (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
    notify(head, what);
}

void
nl_sd_stopping(void)
{
    sd.state = STOPPING;
    notify("STOPPING=1", NULL);
}

static void
watchdog_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)nl_sd_send("WATCHDOG=1");
}

static void
status_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    char text[NL_SD_MSG_MAX], msg[NL_SD_MSG_MAX];

    if (sd.status_fn == NULL || (sd.state != READY && sd.state != STOPPING))
        return;
    sd.status_fn(sd.status_arg, text, sizeof(text));
    if (strcmp(text, sd.status) == 0)
        return;
    snprintf(sd.status, sizeof(sd.status), "%s", text);
    nl_sd_format(msg, sizeof(msg), "", text);
    /* Without a state change, the datagram is the STATUS= line alone;
     * one that did not go is sent again at the next tick. */
    if (nl_sd_send(msg + 1) == -1)
        sd.status[0] = '\0';
}

void
nl_sd_start(struct ev_loop *loop, nl_sd_status_fn fn, void *arg)
{
    sd.pid = getpid(); /* the master, after daemonize() */
    if (!sd.enabled)
        return;
    sd.loop = loop;
    sd.status_fn = fn;
    sd.status_arg = arg;
    ev_timer_init(&sd.status_w, status_cb, 1.0, 1.0);
    ev_timer_start(loop, &sd.status_w);
    ev_init(&sd.retry_w, retry_cb);
    if (sd.watchdog_usec > 0) {
        double every = (double)sd.watchdog_usec / 2e6;

        ev_timer_init(&sd.watchdog_w, watchdog_cb, every, every);
        ev_timer_start(loop, &sd.watchdog_w);
        nl_info(NULL, "systemd watchdog: a ping every %.3f s", every);
    }
}

void
nl_sd_stop(void)
{
    if (sd.loop == NULL)
        return;
    ev_timer_stop(sd.loop, &sd.status_w);
    ev_timer_stop(sd.loop, &sd.watchdog_w);
    ev_timer_stop(sd.loop, &sd.retry_w);
    sd.loop = NULL;
}
