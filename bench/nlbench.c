/*
 * nlbench.c - a load generator for netlabd's echo handler.
 *
 * Opens CONNECTIONS stream connections (tcp or unix) and drives each one
 * through round trips: send a line of PAYLOAD bytes (the last one "\n"),
 * wait until the same number of bytes came back, check they are the bytes
 * sent, note the latency, start the next round.  It stops after a number
 * of round trips per connection (-n) or after a number of seconds (-d),
 * and reports round trips, failures, elapsed time, round trips per second
 * and the p50/p99/max latency, as one human line or as JSON (--json).
 *
 * One epoll loop per thread (-j, default 1); connections are shared out
 * between the threads.  All connections are opened before the clock
 * starts, so "elapsed" covers round trips only.  Sending and receiving
 * overlap within a round, so a payload larger than the socket buffers
 * cannot deadlock against an echo server that stops reading while its
 * output is full.
 *
 * A -d run stops starting rounds when the time is up, and gives those in
 * flight up to a second to finish (they are not counted) before it closes
 * the connections.
 *
 * Everything is bounded: a global deadline (-T, default 60 s) aborts the
 * run with exit status 2.  A connection that fails (connect error, reset,
 * early end of stream, wrong bytes) is counted, closed and opened again;
 * after MAX_RETRIES failures in a row it gives up.
 *
 * Exit status: 0 all round trips succeeded, 1 some failed (or none was
 * done), 2 usage error, setup error or deadline passed.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#else
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_RETRIES 3
#define RECV_CHUNK  65536
#define MAX_EVENTS  256
#define MAX_PAYLOAD (64u * 1024 * 1024)
#define MAX_CONNS   100000
#define MAX_THREADS 256
#define SEQ_PREFIX  16 /* bytes of each line that carry (conn, round) */
/* After a -d run, rounds in flight get this long to finish (uncounted), so
 * that no connection is closed with an echo unread, which would reset it
 * and make the server log an error that the benchmark caused. */
#define GRACE_NS 1000000000ull

/* Latency histogram: log-linear over nanoseconds, 2^HIST_SUB sub-buckets
 * per power of two, so a reported percentile is within 1% of the truth. */
#define HIST_SUB     7
#define HIST_BUCKETS ((64 - HIST_SUB + 1) << HIST_SUB)

enum state {
    ST_CLOSED,     /* waiting to be (re)connected */
    ST_CONNECTING, /* non-blocking connect in progress */
    ST_READY,      /* connected, no round started yet */
    ST_ROUND,      /* a round trip in progress */
    ST_FINISHED,   /* did all its rounds, or the time is up */
    ST_GAVE_UP     /* failed MAX_RETRIES times in a row */
};

enum failure { F_CONNECT, F_RESET, F_EOF, F_MISMATCH, F_KINDS };

static const char *const failure_name[F_KINDS] = {"connect", "reset", "eof",
                                                  "mismatch"};

struct opts {
    long conns;
    long rounds;     /* per connection; 0 with a duration */
    double duration; /* seconds; 0 with a number of rounds */
    size_t size;
    const char *unix_path;
    const char *host;
    const char *port;
    long threads;
    double deadline;
    int json;
};

struct stats {
    uint64_t roundtrips;
    uint64_t failures[F_KINDS];
    uint64_t unfinished; /* rounds cut short by the end of a -d run */
    uint64_t gave_up;
    uint64_t starved; /* connections that completed no round trip */
    uint64_t lat_max; /* ns */
    uint64_t lat_sum; /* ns */
    uint64_t hist[HIST_BUCKETS];
};

struct conn {
    int fd;
    enum state state;
    unsigned id;
    uint32_t seq; /* rounds started */
    long done;    /* rounds completed */
    int fails_in_row;
    size_t sent, got;
    uint64_t t0;
    unsigned char *tx; /* this round's line */
};

struct worker {
    pthread_t thread;
    int index;
    int ep;
    struct conn *conns;
    long nconns;
    long nlive; /* not yet FINISHED or GAVE_UP */
    unsigned char *rx;
    struct stats st;
    uint64_t t_end; /* when its last connection finished */
};

/* What every thread reads. */
static struct opts O;
static struct sockaddr_storage target;
static socklen_t target_len;
static uint64_t t_deadline; /* ns, CLOCK_MONOTONIC */
static _Atomic uint64_t t_start;
static _Atomic uint64_t t_stop; /* end of a -d run; 0 until the start */
static atomic_int aborted;
static pthread_barrier_t barrier;

static void
die(const char *fmt, ...)
{
    va_list ap;

    fputs("nlbench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL)
        die("out of memory");
    return p;
}

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- latency histogram ---- */

static unsigned
hist_index(uint64_t v)
{
    int msb;
    unsigned shift;

    if (v < (2u << HIST_SUB))
        return (unsigned)v;
    msb = 63 - __builtin_clzll(v);
    shift = (unsigned)(msb - HIST_SUB);
    return (shift << HIST_SUB) + (unsigned)(v >> shift);
}

/* The middle of the values that land in bucket i. */
static double
hist_value(unsigned i)
{
    unsigned shift, m;

    if (i < (2u << HIST_SUB))
        return (double)i;
    shift = (i >> HIST_SUB) - 1;
    m = i - (shift << HIST_SUB);
    return ((double)((uint64_t)m << shift) +
            (double)((uint64_t)(m + 1) << shift)) /
           2.0;
}

static void
stats_add_latency(struct stats *st, uint64_t ns)
{
    unsigned i = hist_index(ns);

    if (i >= HIST_BUCKETS)
        i = HIST_BUCKETS - 1;
    st->hist[i]++;
    st->lat_sum += ns;
    if (ns > st->lat_max)
        st->lat_max = ns;
    st->roundtrips++;
}

static void
stats_merge(struct stats *to, const struct stats *from)
{
    to->roundtrips += from->roundtrips;
    for (int k = 0; k < F_KINDS; k++)
        to->failures[k] += from->failures[k];
    to->unfinished += from->unfinished;
    to->gave_up += from->gave_up;
    to->starved += from->starved;
    to->lat_sum += from->lat_sum;
    if (from->lat_max > to->lat_max)
        to->lat_max = from->lat_max;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        to->hist[i] += from->hist[i];
}

/* Latency (ns) below which a fraction p of the round trips fell. */
static double
stats_percentile(const struct stats *st, double p)
{
    uint64_t rank, seen = 0;
    double v;

    if (st->roundtrips == 0)
        return 0;
    rank = (uint64_t)(p * (double)st->roundtrips + 0.999999);
    if (rank < 1)
        rank = 1;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += st->hist[i];
        if (seen >= rank) {
            v = hist_value(i);
            return v > (double)st->lat_max ? (double)st->lat_max : v;
        }
    }
    return (double)st->lat_max;
}

/* ---- connections ---- */

static void
conn_close(struct worker *w, struct conn *c)
{
    if (c->fd != -1) {
        epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
}

static void
conn_retire(struct worker *w, struct conn *c, enum state s)
{
    conn_close(w, c);
    c->state = s;
    w->nlive--;
    if (s == ST_GAVE_UP)
        w->st.gave_up++;
    if (w->nlive == 0)
        w->t_end = now_ns();
}

/* Starts a non-blocking connect; the state says how far it got. */
static void
conn_open(struct worker *w, struct conn *c)
{
    struct epoll_event ev;
    int one = 1;
    int fd =
        socket(target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    c->fd = fd;
    if (fd == -1) {
        c->state = ST_CLOSED;
        return;
    }
    if (target.ss_family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
        close(fd);
        c->fd = -1;
        c->state = ST_CLOSED;
        return;
    }
    if (connect(fd, (struct sockaddr *)&target, target_len) == 0)
        c->state = ST_READY;
    else if (errno == EINPROGRESS)
        c->state = ST_CONNECTING;
    else {
        /* A unix socket whose backlog is full says EAGAIN: a failure. */
        conn_close(w, c);
        c->state = ST_CLOSED;
    }
}

/* Counts a failure and reconnects (the state is then CONNECTING or
 * READY), or gives up after MAX_RETRIES failures in a row (GAVE_UP). */
static void
conn_fail(struct worker *w, struct conn *c, enum failure why)
{
    for (;;) {
        uint64_t stop = atomic_load(&t_stop);

        w->st.failures[why]++;
        conn_close(w, c);
        c->state = ST_CLOSED;
        if (++c->fails_in_row >= MAX_RETRIES || atomic_load(&aborted) ||
            (stop != 0 && now_ns() >= stop)) {
            conn_retire(w, c, ST_GAVE_UP);
            return;
        }
        conn_open(w, c);
        if (c->state != ST_CLOSED)
            return;
        why = F_CONNECT;
    }
}

/* Fills in the line for round c->seq: a prefix naming the connection and
 * the round (so a stale or misrouted echo shows up as a mismatch), then
 * the letters filled in once, then "\n". */
static void
round_start(struct conn *c)
{
    char prefix[SEQ_PREFIX + 1];
    size_t n = O.size - 1 < SEQ_PREFIX ? O.size - 1 : SEQ_PREFIX;

    snprintf(prefix, sizeof(prefix), "%08x%08x", c->id, c->seq);
    memcpy(c->tx, prefix, n);
    c->seq++;
    c->sent = 0;
    c->got = 0;
    c->state = ST_ROUND;
    c->t0 = now_ns();
}

/* Whether c may start another round now. */
static int
conn_wants_more(const struct conn *c, uint64_t now)
{
    if (O.rounds > 0)
        return c->done < O.rounds;
    return now < atomic_load(&t_stop);
}

/* Moves c on as far as it goes without blocking (the socket is
 * edge-triggered, so it goes until EAGAIN). */
static void
conn_drive(struct worker *w, struct conn *c)
{
    for (;;) {
        int send_blocked = 0, recv_blocked = 0, line_out = 0;

        if (c->state == ST_CONNECTING) {
            int err = 0;
            socklen_t len = sizeof(err);

            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
                err = errno;
            if (err == EINPROGRESS || err == EALREADY)
                return;
            if (err != 0) {
                conn_fail(w, c, F_CONNECT);
                continue;
            }
            /* Connected only when the peer address is known. */
            {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof(ss);

                if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) == -1) {
                    if (errno == ENOTCONN)
                        return;
                    conn_fail(w, c, F_CONNECT);
                    continue;
                }
            }
            c->state = ST_READY;
        }
        if (c->state == ST_READY) {
            /* Rounds wait for the start line everyone crosses together. */
            if (atomic_load(&t_start) == 0)
                return;
            if (!conn_wants_more(c, now_ns())) {
                conn_retire(w, c, ST_FINISHED);
                return;
            }
            round_start(c);
        }
        if (c->state != ST_ROUND)
            return;

        if (c->sent < O.size) {
            ssize_t n =
                send(c->fd, c->tx + c->sent, O.size - c->sent, MSG_NOSIGNAL);

            if (n > 0) {
                c->sent += (size_t)n;
                line_out = c->sent == O.size;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                send_blocked = 1;
            } else if (errno != EINTR) {
                conn_fail(w, c, F_RESET);
                continue;
            }
        }
        if (line_out && c->got == 0) {
            /* The echo cannot be complete yet; its arrival is an edge of
             * its own, so save a recv() that would say EAGAIN. */
            recv_blocked = 1;
        } else if (c->got < O.size) {
            size_t want = O.size - c->got;
            ssize_t n;

            if (want > RECV_CHUNK)
                want = RECV_CHUNK;
            n = recv(c->fd, w->rx, want, 0);
            if (n > 0) {
                if (memcmp(w->rx, c->tx + c->got, (size_t)n) != 0) {
                    conn_fail(w, c, F_MISMATCH);
                    continue;
                }
                c->got += (size_t)n;
            } else if (n == 0) {
                conn_fail(w, c, F_EOF);
                continue;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                recv_blocked = 1;
            } else if (errno != EINTR) {
                conn_fail(w, c, F_RESET);
                continue;
            }
        }
        if (c->got == O.size) {
            uint64_t t = now_ns(), stop = atomic_load(&t_stop);

            if (stop != 0 && t > stop) {
                /* Done after the end of a -d run: not counted. */
                w->st.unfinished++;
                conn_retire(w, c, ST_FINISHED);
                return;
            }
            stats_add_latency(&w->st, t - c->t0);
            c->done++;
            c->fails_in_row = 0;
            c->state = ST_READY;
            if (!conn_wants_more(c, t)) {
                conn_retire(w, c, ST_FINISHED);
                return;
            }
            continue;
        }
        /* Edge-triggered: stop once each direction is done or would
         * block; the next edge brings us back. */
        if ((c->sent == O.size || send_blocked) && recv_blocked)
            return;
    }
}

/* Runs the loop until pred(w) holds, the run is over or the deadline
 * passed.  Returns 0, or -1 when the deadline passed. */
static int
worker_loop(struct worker *w, int (*pred)(struct worker *))
{
    struct epoll_event evs[MAX_EVENTS];

    while (!pred(w)) {
        uint64_t now = now_ns(), until = t_deadline;
        uint64_t stop = atomic_load(&t_stop);
        int timeout, n;

        if (atomic_load(&aborted))
            return -1;
        if (now >= t_deadline) {
            atomic_store(&aborted, 1);
            return -1;
        }
        if (stop != 0 && now >= stop + GRACE_NS)
            return 0;
        if (stop != 0 && stop + GRACE_NS < until)
            until = stop + GRACE_NS;
        /* Wake up at least every 100 ms to notice another thread abort. */
        timeout = (int)((until - now + 999999) / 1000000);
        if (timeout > 100)
            timeout = 100;
        n = epoll_wait(w->ep, evs, MAX_EVENTS, timeout);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;

            if (c->state == ST_CONNECTING || c->state == ST_ROUND ||
                c->state == ST_READY)
                conn_drive(w, c);
        }
    }
    return 0;
}

static int
all_connected(struct worker *w)
{
    for (long i = 0; i < w->nconns; i++)
        if (w->conns[i].state == ST_CONNECTING)
            return 0;
    return 1;
}

static int
all_done(struct worker *w)
{
    return w->nlive == 0;
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;

    /* Phase 1: connect everything (outside the measured time). */
    for (long i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];

        conn_open(w, c);
        if (c->state == ST_CLOSED)
            conn_fail(w, c, F_CONNECT);
    }
    worker_loop(w, all_connected);
    pthread_barrier_wait(&barrier); /* everyone connected */
    pthread_barrier_wait(&barrier); /* t_start is set */

    /* Phase 2: round trips. */
    if (!atomic_load(&aborted)) {
        for (long i = 0; i < w->nconns; i++) {
            struct conn *c = &w->conns[i];

            if (c->state == ST_READY)
                conn_drive(w, c);
        }
        worker_loop(w, all_done);
    }
    /* A -d run ends with rounds still in flight: they are not failures. */
    for (long i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];

        if (c->state == ST_ROUND || c->state == ST_CONNECTING)
            w->st.unfinished++;
        if (c->done == 0)
            w->st.starved++;
        conn_close(w, c);
    }
    if (w->t_end == 0)
        w->t_end = now_ns();
    return NULL;
}

/* ---- setup and report ---- */

static void
resolve_target(void)
{
    memset(&target, 0, sizeof(target));
    if (O.unix_path != NULL) {
        struct sockaddr_un *su = (struct sockaddr_un *)&target;

        if (strlen(O.unix_path) >= sizeof(su->sun_path))
            die("unix socket path too long: %s", O.unix_path);
        su->sun_family = AF_UNIX;
        strcpy(su->sun_path, O.unix_path);
        target_len = sizeof(*su);
    } else {
        struct addrinfo hints, *res;
        int rc;

        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        rc = getaddrinfo(O.host, O.port, &hints, &res);
        if (rc != 0)
            die("%s port %s: %s", O.host, O.port, gai_strerror(rc));
        memcpy(&target, res->ai_addr, res->ai_addrlen);
        target_len = res->ai_addrlen;
        freeaddrinfo(res);
    }
}

static void
raise_fd_limit(long need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= (rlim_t)need)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (rlim_t)need
                      ? (rlim_t)need
                      : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)need)
        die("%ld connections need %ld descriptors; the limit is %llu", O.conns,
            need, (unsigned long long)rl.rlim_cur);
}

static void
json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void
report(const struct stats *st, double elapsed, const char *target_text)
{
    uint64_t failures = 0;
    double rate = elapsed > 0 ? (double)st->roundtrips / elapsed : 0;
    double p50 = stats_percentile(st, 0.50) / 1000.0;
    double p99 = stats_percentile(st, 0.99) / 1000.0;
    double max = (double)st->lat_max / 1000.0;
    double mean = st->roundtrips
                      ? (double)st->lat_sum / (double)st->roundtrips / 1000.0
                      : 0;
    int ab = atomic_load(&aborted);

    for (int k = 0; k < F_KINDS; k++)
        failures += st->failures[k];
    if (O.json) {
        printf("{\"target\": ");
        json_string(stdout, target_text);
        printf(", \"connections\": %ld, \"payload\": %zu, \"threads\": %ld, "
               "\"roundtrips\": %llu, \"failures\": %llu, ",
               O.conns, O.size, O.threads, (unsigned long long)st->roundtrips,
               (unsigned long long)failures);
        for (int k = 0; k < F_KINDS; k++)
            printf("\"failures_%s\": %llu, ", failure_name[k],
                   (unsigned long long)st->failures[k]);
        printf("\"gave_up\": %llu, \"starved\": %llu, \"unfinished\": %llu, "
               "\"elapsed_s\": %.6f, \"roundtrips_per_s\": %.1f, "
               "\"lat_mean_us\": %.1f, \"lat_p50_us\": %.1f, "
               "\"lat_p99_us\": %.1f, \"lat_max_us\": %.1f, "
               "\"aborted\": %s}\n",
               (unsigned long long)st->gave_up, (unsigned long long)st->starved,
               (unsigned long long)st->unfinished, elapsed, rate, mean, p50,
               p99, max, ab ? "true" : "false");
    } else {
        printf("nlbench: %s c=%ld s=%zu: %llu round trips, %llu failures",
               target_text, O.conns, O.size, (unsigned long long)st->roundtrips,
               (unsigned long long)failures);
        if (failures > 0) {
            printf(" (");
            for (int k = 0; k < F_KINDS; k++)
                printf("%s%s %llu", k ? ", " : "", failure_name[k],
                       (unsigned long long)st->failures[k]);
            printf("; %llu connections gave up)",
                   (unsigned long long)st->gave_up);
        }
        if (st->starved > 0)
            printf(", %llu connections starved (no round trip done)",
                   (unsigned long long)st->starved);
        printf(", %.3f s, %.0f rt/s, latency p50 %.1f us p99 %.1f us max "
               "%.1f us%s\n",
               elapsed, rate, p50, p99, max, ab ? " (ABORTED)" : "");
    }
    fflush(stdout);
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: nlbench [-c CONNECTIONS] [-n ROUNDTRIPS_PER_CONN | -d "
               "SECONDS]\n"
               "               [-s PAYLOAD_BYTES] [-j THREADS] [-T DEADLINE_S] "
               "[--json]\n"
               "               (-u UNIX_PATH | -h HOST -p PORT)\n"
               "  -c  concurrent connections (default 100)\n"
               "  -n  round trips per connection (default 1000)\n"
               "  -d  run for SECONDS instead of a number of round trips\n"
               "  -s  bytes per line, the final \"\\n\" included (default 64)\n"
               "  -j  threads, each with its own share of connections "
               "(default 1)\n"
               "  -T  abort with an error after this many seconds "
               "(default 60)\n"
               "  --json  print the result as one JSON object\n"
               "Exit status: 0 ok, 1 some round trips failed, 2 error or "
               "deadline.\n");
}

static long
parse_long(const char *s, const char *what, long min, long max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        die("%s must be an integer from %ld to %ld, not \"%s\"", what, min, max,
            s);
    return v;
}

static double
parse_seconds(const char *s, const char *what)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v > 0) || v > 86400)
        die("%s must be a number of seconds above 0, not \"%s\"", what, s);
    return v;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'J'},
        {"help", no_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    struct worker *workers;
    struct stats *total;
    char target_text[256];
    uint64_t t_last = 0;
    long rounds = 0;
    double elapsed;
    int opt, rc;

    O.conns = 100;
    O.size = 64;
    O.threads = 1;
    O.deadline = 60;
    while ((opt = getopt_long(argc, argv, "c:n:d:s:u:h:p:j:T:", longopts,
                              NULL)) != -1) {
        switch (opt) {
        case 'c':
            O.conns = parse_long(optarg, "-c", 1, MAX_CONNS);
            break;
        case 'n':
            rounds = parse_long(optarg, "-n", 1, LONG_MAX);
            break;
        case 'd':
            O.duration = parse_seconds(optarg, "-d");
            break;
        case 's':
            O.size = (size_t)parse_long(optarg, "-s", 1, MAX_PAYLOAD);
            break;
        case 'u':
            O.unix_path = optarg;
            break;
        case 'h':
            O.host = optarg;
            break;
        case 'p':
            O.port = optarg;
            break;
        case 'j':
            O.threads = parse_long(optarg, "-j", 1, MAX_THREADS);
            break;
        case 'T':
            O.deadline = parse_seconds(optarg, "-T");
            break;
        case 'J':
            O.json = 1;
            break;
        case 'H':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (rounds > 0 && O.duration > 0)
        die("-n and -d exclude each other");
    if (rounds == 0 && O.duration == 0)
        rounds = 1000;
    O.rounds = rounds;
    if ((O.unix_path != NULL) == (O.host != NULL || O.port != NULL))
        die("give either -u PATH or -h HOST -p PORT");
    if (O.unix_path == NULL && (O.host == NULL || O.port == NULL))
        die("-h HOST needs -p PORT and the other way round");
    if (O.duration > 0 && O.duration + GRACE_NS / 1e9 >= O.deadline)
        die("-d %g does not fit in the deadline (-T %g)", O.duration,
            O.deadline);
    if (O.threads > O.conns)
        O.threads = O.conns;

    signal(SIGPIPE, SIG_IGN);
    resolve_target();
    if (O.unix_path != NULL)
        snprintf(target_text, sizeof(target_text), "unix:%s", O.unix_path);
    else
        snprintf(target_text, sizeof(target_text), "tcp:%s:%s", O.host, O.port);
    raise_fd_limit(O.conns + O.threads + 32);
    t_deadline = now_ns() + (uint64_t)(O.deadline * 1e9);

    /* Share out the connections; each gets its own line buffer. */
    workers = xcalloc((size_t)O.threads, sizeof(*workers));
    for (long t = 0; t < O.threads; t++) {
        struct worker *w = &workers[t];

        w->index = (int)t;
        w->nconns = O.conns / O.threads + (t < O.conns % O.threads);
        w->nlive = w->nconns;
        w->conns = xcalloc((size_t)w->nconns, sizeof(*w->conns));
        w->rx = xcalloc(1, RECV_CHUNK);
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->ep == -1)
            die("epoll_create1: %s", strerror(errno));
        for (long i = 0; i < w->nconns; i++) {
            struct conn *c = &w->conns[i];
            uint64_t x =
                0x9e3779b97f4a7c15ull * (uint64_t)(t * O.conns + i + 1);

            c->fd = -1;
            c->id = (unsigned)(i * O.threads + t);
            c->tx = xcalloc(1, O.size);
            for (size_t k = 0; k + 1 < O.size; k++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                c->tx[k] = (unsigned char)('a' + x % 26);
            }
            c->tx[O.size - 1] = '\n';
        }
    }

    if (pthread_barrier_init(&barrier, NULL, (unsigned)O.threads + 1) != 0)
        die("pthread_barrier_init failed");
    for (long t = 0; t < O.threads; t++) {
        int err =
            pthread_create(&workers[t].thread, NULL, worker_main, &workers[t]);

        if (err != 0)
            die("pthread_create: %s", strerror(err));
    }
    pthread_barrier_wait(&barrier); /* all connected (or failed) */
    {
        uint64_t t0 = now_ns();

        if (O.duration > 0)
            atomic_store(&t_stop, t0 + (uint64_t)(O.duration * 1e9));
        atomic_store(&t_start, t0);
    }
    pthread_barrier_wait(&barrier);

    total = xcalloc(1, sizeof(*total));
    for (long t = 0; t < O.threads; t++) {
        pthread_join(workers[t].thread, NULL);
        stats_merge(total, &workers[t].st);
        if (workers[t].t_end > t_last)
            t_last = workers[t].t_end;
    }
    if (t_last > atomic_load(&t_start))
        elapsed = (double)(t_last - atomic_load(&t_start)) / 1e9;
    else
        elapsed = 0; /* every connection failed before the start */
    /* A -d run that went the distance ran for exactly -d seconds; the
     * grace time after it does not count. */
    if (O.duration > 0 && elapsed > O.duration)
        elapsed = O.duration;

    report(total, elapsed, target_text);
    {
        uint64_t failures = 0;

        for (int k = 0; k < F_KINDS; k++)
            failures += total->failures[k];
        rc = failures > 0 || total->roundtrips == 0 ? 1 : 0;
    }
    if (atomic_load(&aborted)) {
        fprintf(stderr, "nlbench: deadline of %g s passed, aborting\n",
                O.deadline);
        rc = 2;
    }

    for (long t = 0; t < O.threads; t++) {
        for (long i = 0; i < workers[t].nconns; i++)
            free(workers[t].conns[i].tx);
        free(workers[t].conns);
        free(workers[t].rx);
        close(workers[t].ep);
    }
    free(workers);
    free(total);
    pthread_barrier_destroy(&barrier);
    return rc;
}
