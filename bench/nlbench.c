/*
 * nlbench.c - a load generator for netlabd's handlers (and bench/nlbase).
 *
 *   nlbench [-m pingpong|pipeline|connrate|udp|idle] [-c N] [-k K]
 *           [-s BYTES] [-n OPS_PER_CONN | -d SECONDS] [-j THREADS]
 *           [-T DEADLINE_S] [-P PID]... [--json]
 *           (-h HOST -p PORT | -u UNIX_PATH | -U UNIX_DGRAM_PATH)
 *
 * Modes (an "op" is what the rate and the latencies count):
 *   pingpong  C connections, each sends a line of S bytes (the last one
 *             "\n") and waits for the whole echo; an op is one echo.
 *   pipeline  the same with K lines in flight per connection.
 *   connrate  C connectors, each connects, reads until the server closes
 *             (the greeter) and starts again; an op is one connection,
 *             its latency from connect() to the end of stream.
 *   udp       C sockets, each sends a datagram of S bytes and waits for
 *             its echo; after LOST_MS it counts the request as lost and
 *             sends the next one.  -h/-p is udp, -U a unix datagram path.
 *   idle      opens C connections, does one round trip on each, prints
 *             "holding N connections" and holds them until -d seconds
 *             pass or SIGTERM/SIGINT comes (the benchmark measures the
 *             server's memory meanwhile), then closes them.
 *
 * Every echo is checked: each line or datagram starts with the connection
 * and request number, so a stale or crossed answer shows up.  With -P the
 * report adds the CPU time the server used during the measured interval.
 *
 * One epoll loop per thread (-j); connections are shared out between the
 * threads.  Stream connections are opened before the clock starts (but
 * connrate's, which are what it measures).  A -d run stops starting
 * requests when the time is up and gives those in flight up to a second
 * to finish (not counted).  Everything is bounded: a global deadline (-T,
 * default 60 s) aborts the run.  A connection that fails is counted,
 * closed and opened again; after MAX_RETRIES failures in a row it gives
 * up.
 *
 * Exit status: 0 every op succeeded, 1 some failed (or none was done),
 * 2 usage error, setup error, deadline passed or interrupted (idle mode
 * ends on a signal normally).  Lost datagrams do not change the status.
 *
 * This file: the command line, the phases of a run, the histogram, the
 * server's CPU time and the report; the engines are nlbench_stream.c and
 * nlbench_udp.c.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#else
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "nlbench.h"

#define MAX_PAYLOAD  (64u * 1024 * 1024)
#define MAX_DATAGRAM 65507
#define MAX_CONNS    200000
#define MAX_THREADS  256
#define MAX_INFLIGHT 4096

struct opts O;
struct sockaddr_storage target;
socklen_t target_len;
uint64_t t_deadline;
_Atomic uint64_t t_start;
_Atomic uint64_t t_stop;
atomic_int aborted;
atomic_int released;
pthread_barrier_t barrier;

/* Idle mode is holding its connections: a signal then ends the hold
 * (released) instead of aborting the run. */
static atomic_int holding;
static atomic_int signalled;

static const char *const mode_name[M_MODES] = {"pingpong", "pipeline",
                                               "connrate", "udp", "idle"};
static const char *const failure_name[F_KINDS] = {"connect", "reset", "eof",
                                                  "mismatch"};

void
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

void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL)
        die("out of memory");
    return p;
}

uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* n letters from a xorshift seeded by seed: the body of every request. */
void
fill_letters(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);

    for (size_t k = 0; k < n; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[k] = (unsigned char)('a' + x % 26);
    }
}

/* The start of a request: 8 hex digits of the connection, 8 of the
 * request number, as many as fit before the final byte. */
void
fill_prefix(unsigned char *line, unsigned id, uint64_t seq)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = O.size - 1 < SEQ_PREFIX ? O.size - 1 : SEQ_PREFIX;
    unsigned char p[SEQ_PREFIX];

    for (int i = 0; i < 8; i++) {
        p[7 - i] = (unsigned char)hex[(id >> (4 * i)) & 15];
        p[15 - i] = (unsigned char)hex[(seq >> (4 * i)) & 15];
    }
    memcpy(line, p, n);
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

void
stats_add_latency(struct stats *st, uint64_t ns)
{
    unsigned i = hist_index(ns);

    if (i >= HIST_BUCKETS)
        i = HIST_BUCKETS - 1;
    st->hist[i]++;
    st->lat_sum += ns;
    if (ns > st->lat_max)
        st->lat_max = ns;
    st->ops++;
}

static void
stats_merge(struct stats *to, const struct stats *from)
{
    to->ops += from->ops;
    for (int k = 0; k < F_KINDS; k++)
        to->failures[k] += from->failures[k];
    to->unfinished += from->unfinished;
    to->gave_up += from->gave_up;
    to->unanswered += from->unanswered;
    to->lost += from->lost;
    to->held += from->held;
    to->bytes_in += from->bytes_in;
    to->lat_sum += from->lat_sum;
    if (from->lat_max > to->lat_max)
        to->lat_max = from->lat_max;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        to->hist[i] += from->hist[i];
}

/* Latency (ns) below which a fraction p of the ops fell. */
static double
stats_percentile(const struct stats *st, double p)
{
    uint64_t rank, seen = 0;
    double v;

    if (st->ops == 0)
        return 0;
    rank = (uint64_t)(p * (double)st->ops + 0.999999);
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

/* ---- the event loop every engine runs ---- */

/* Runs w's loop, handing each ready connection to on_event and calling
 * tick (if any) after every wake-up, until done(w) holds, a -d run's
 * grace time is over or the run is aborted.  Returns 0, or -1 when the
 * deadline passed or a signal aborted the run. */
int
worker_loop(struct worker *w, int (*done)(struct worker *),
            void (*on_event)(struct worker *, void *), int max_wait_ms,
            void (*tick)(struct worker *, uint64_t now))
{
    struct epoll_event evs[MAX_EVENTS];

    while (!done(w)) {
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
        /* Wake up now and then to notice another thread abort. */
        timeout = (int)((until - now + 999999) / 1000000);
        if (timeout > max_wait_ms)
            timeout = max_wait_ms;
        n = epoll_wait(w->ep, evs, MAX_EVENTS, timeout);
        if (n == -1 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++)
            on_event(w, evs[i].data.ptr);
        if (tick != NULL)
            tick(w, now_ns());
    }
    return 0;
}

/* ---- the server's CPU time ---- */

struct proc {
    pid_t pid, ppid;
    uint64_t ticks;
    int in; /* one of the -P processes or a descendant */
};

/* Reads /proc/PID/stat: parent and utime+stime+cutime+cstime in ticks.
 * The children's times (cutime, cstime) are those of children already
 * waited for, which are no longer in the tree: counting them keeps a
 * serving process that ends between the two samples (a prefork worker
 * retired) in the total; one that ends but is not yet waited for is read
 * from its zombie.  A process that starts and ends between the samples
 * without being waited for is missed, and one that is not yet waited for
 * at the first sample and reaped before the second counts its whole life;
 * both are rare for a server under a steady load. */
static int
proc_read(pid_t pid, struct proc *p)
{
    char path[64], buf[1024], *s;
    unsigned long long f[15];
    FILE *f_in;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((f_in = fopen(path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f_in);
    fclose(f_in);
    buf[n] = '\0';
    /* After the command's closing parenthesis: state ppid ... utime is
     * the 14th field of the line, the 12th after the state. */
    if ((s = strrchr(buf, ')')) == NULL)
        return -1;
    s += 2;
    if (*s == '\0')
        return -1;
    s++; /* the state letter */
    for (int i = 0; i < 15; i++) {
        char *end;

        f[i] = strtoull(s, &end, 10);
        if (end == s)
            return -1;
        s = end;
    }
    p->pid = pid;
    p->ppid = (pid_t)f[0];
    p->ticks = f[10] + f[11] + f[12] + f[13];
    p->in = 0;
    return 0;
}

/* CPU seconds used so far by the -P processes and all their descendants
 * (found by walking every process's parent; a -P pid that is itself a
 * descendant of another is counted once). */
static double
server_cpu(void)
{
    struct proc *ps = NULL;
    size_t n = 0, cap = 0;
    uint64_t ticks = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    int changed = 1;

    if (d == NULL)
        die("/proc: %s", strerror(errno));
    while ((e = readdir(d)) != NULL) {
        struct proc p;

        if (e->d_name[0] < '1' || e->d_name[0] > '9' ||
            proc_read((pid_t)atoi(e->d_name), &p) == -1)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 512;
            if ((ps = realloc(ps, cap * sizeof(*ps))) == NULL)
                die("out of memory");
        }
        for (int k = 0; k < O.npids; k++)
            if (p.pid == O.pids[k])
                p.in = 1;
        ps[n++] = p;
    }
    closedir(d);
    /* Each pass takes in the children of what is in; depth bounds it. */
    for (size_t pass = 0; changed && pass < n; pass++) {
        changed = 0;
        for (size_t i = 0; i < n; i++) {
            if (ps[i].in)
                continue;
            for (size_t j = 0; j < n; j++)
                if (ps[j].in && ps[j].pid == ps[i].ppid) {
                    ps[i].in = changed = 1;
                    break;
                }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (ps[i].in)
            ticks += ps[i].ticks;
    free(ps);
    return (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

/* ---- setup ---- */

static void
resolve_target(void)
{
    const char *path = O.unix_path ? O.unix_path : O.dgram_path;

    memset(&target, 0, sizeof(target));
    if (path != NULL) {
        struct sockaddr_un *su = (struct sockaddr_un *)&target;

        if (strlen(path) >= sizeof(su->sun_path))
            die("unix socket path too long: %s", path);
        su->sun_family = AF_UNIX;
        strcpy(su->sun_path, path);
        target_len = sizeof(*su);
    } else {
        struct addrinfo hints, *res;
        int rc;

        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = O.mode == M_UDP ? SOCK_DGRAM : SOCK_STREAM;
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
on_signal(int sig)
{
    (void)sig;
    atomic_store(&signalled, 1);
    if (atomic_load(&holding))
        atomic_store(&released, 1);
    else
        atomic_store(&aborted, 1);
}

/* ---- report ---- */

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
json_number_or_null(const char *key, int have, double v, const char *fmt)
{
    printf(", \"%s\": ", key);
    if (have)
        printf(fmt, v);
    else
        printf("null");
}

static void
report_json(const struct stats *st, double elapsed, const char *target_text,
            int have_cpu, double cpu, uint64_t failures)
{
    double rate = elapsed > 0 ? (double)st->ops / elapsed : 0;
    unsigned long long ops = (unsigned long long)st->ops;

    printf("{\"mode\": \"%s\", \"target\": ", mode_name[O.mode]);
    json_string(stdout, target_text);
    printf(", \"connections\": %ld, \"inflight\": %ld, \"payload\": %zu, "
           "\"threads\": %ld, \"ops\": %llu, \"ops_per_s\": %.1f, "
           "\"roundtrips\": %llu, \"roundtrips_per_s\": %.1f, "
           "\"failures\": %llu",
           O.conns, O.inflight, O.size, O.threads, ops, rate, ops, rate,
           (unsigned long long)failures);
    for (int k = 0; k < F_KINDS; k++)
        printf(", \"failures_%s\": %llu", failure_name[k],
               (unsigned long long)st->failures[k]);
    printf(", \"gave_up\": %llu, \"unanswered\": %llu, \"starved\": %llu, "
           "\"unfinished\": %llu, \"lost\": %llu, \"held\": %llu, "
           "\"bytes_in\": %llu, \"elapsed_s\": %.6f, \"lat_mean_us\": %.1f, "
           "\"lat_p50_us\": %.1f, \"lat_p99_us\": %.1f, "
           "\"lat_p999_us\": %.1f, \"lat_max_us\": %.1f",
           (unsigned long long)st->gave_up, (unsigned long long)st->unanswered,
           (unsigned long long)st->unanswered,
           (unsigned long long)st->unfinished, (unsigned long long)st->lost,
           (unsigned long long)st->held, (unsigned long long)st->bytes_in,
           elapsed,
           st->ops ? (double)st->lat_sum / (double)st->ops / 1000.0 : 0,
           stats_percentile(st, 0.50) / 1000.0,
           stats_percentile(st, 0.99) / 1000.0,
           stats_percentile(st, 0.999) / 1000.0, (double)st->lat_max / 1000.0);
    json_number_or_null("server_cpu_s", have_cpu, cpu, "%.6f");
    json_number_or_null("server_cpu_us_per_op", have_cpu && st->ops > 0,
                        st->ops ? cpu * 1e6 / (double)st->ops : 0, "%.3f");
    printf(", \"aborted\": %s}\n", atomic_load(&aborted) ? "true" : "false");
}

static void
report_text(const struct stats *st, double elapsed, const char *target_text,
            int have_cpu, double cpu, uint64_t failures)
{
    const char *what = O.mode == M_CONNRATE ? "connections" : "round trips";

    printf("nlbench: %s %s c=%ld", mode_name[O.mode], target_text, O.conns);
    if (O.mode == M_PIPELINE)
        printf(" k=%ld", O.inflight);
    printf(" s=%zu: %llu %s, %llu failures", O.size,
           (unsigned long long)st->ops, what, (unsigned long long)failures);
    if (failures > 0) {
        printf(" (");
        for (int k = 0; k < F_KINDS; k++)
            printf("%s%s %llu", k ? ", " : "", failure_name[k],
                   (unsigned long long)st->failures[k]);
        printf("; %llu connections gave up)", (unsigned long long)st->gave_up);
    }
    if (st->unanswered > 0)
        printf(", %llu connections unanswered (no answer at all)",
               (unsigned long long)st->unanswered);
    if (O.mode == M_UDP)
        printf(", %llu lost", (unsigned long long)st->lost);
    if (O.mode == M_IDLE)
        printf(", %llu held", (unsigned long long)st->held);
    printf(", %.3f s, %.0f ops/s, latency p50 %.1f us p99 %.1f us p99.9 "
           "%.1f us max %.1f us",
           elapsed, elapsed > 0 ? (double)st->ops / elapsed : 0,
           stats_percentile(st, 0.50) / 1000.0,
           stats_percentile(st, 0.99) / 1000.0,
           stats_percentile(st, 0.999) / 1000.0, (double)st->lat_max / 1000.0);
    if (have_cpu)
        printf(", server CPU %.3f s (%.1f us/op)", cpu,
               st->ops ? cpu * 1e6 / (double)st->ops : 0);
    printf("%s\n", atomic_load(&aborted) ? " (ABORTED)" : "");
}

/* ---- command line ---- */

static void
usage(FILE *f)
{
    fprintf(
        f,
        "usage: nlbench [-m pingpong|pipeline|connrate|udp|idle] [-c N] [-k K]"
        "\n"
        "               [-s BYTES] [-n OPS_PER_CONN | -d SECONDS] [-j THREADS]"
        "\n"
        "               [-T DEADLINE_S] [-P PID]... [--json]\n"
        "               (-h HOST -p PORT | -u UNIX_PATH | -U UNIX_DGRAM_PATH)"
        "\n"
        "  -m  pingpong (default): each connection sends a line, waits for\n"
        "        its echo; pipeline: -k lines in flight per connection;\n"
        "        connrate: connect, read until the server closes, again;\n"
        "        udp: datagram echo over udp (-h/-p) or a unix datagram\n"
        "        socket (-U), a request unanswered in %d ms is lost;\n"
        "        idle: one round trip per connection, then print \"holding N\n"
        "        connections\" and hold them until -d or SIGTERM/SIGINT\n"
        "        (or -T, which is then an error)\n"
        "  -c  connections, connectors or sockets (default 100)\n"
        "  -k  lines in flight per connection, pipeline only (default 16;\n"
        "        refused with another mode)\n"
        "  -s  bytes per line or datagram, the final \"\\n\" included "
        "(default 64)\n"
        "  -n  ops per connection (default 1000; not with idle)\n"
        "  -d  run for SECONDS instead (idle: hold for SECONDS)\n"
        "  -j  threads, each with its own share of connections (default 1)\n"
        "  -T  abort with an error after this many seconds (default 60)\n"
        "  -P  the server's pid (repeatable): report the CPU time it and its\n"
        "        descendants used while measured\n"
        "  -u  a unix stream socket; -U a unix datagram socket (udp mode)\n"
        "  --json  print the result as one JSON object on one line\n"
        "Exit status: 0 ok, 1 some ops failed or none was done, 2 usage or\n"
        "setup error, deadline passed or interrupted.\n",
        LOST_MS);
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

static enum mode
parse_mode(const char *s)
{
    for (int m = 0; m < M_MODES; m++)
        if (strcmp(s, mode_name[m]) == 0)
            return (enum mode)m;
    die("-m must be pingpong, pipeline, connrate, udp or idle, not \"%s\"", s);
    return M_PINGPONG;
}

/* Checks that the options make sense together; fills in the defaults. */
static void
check_opts(long rounds)
{
    if (O.inflight > 0 && O.mode != M_PIPELINE)
        die("-k is for -m pipeline only");
    if (O.inflight == 0)
        O.inflight = O.mode == M_PIPELINE ? 16 : 1;
    if ((size_t)O.inflight * O.size > MAX_PAYLOAD)
        die("-k %ld lines of -s %zu bytes is more than %u bytes in flight",
            O.inflight, O.size, MAX_PAYLOAD);
    if (O.mode == M_UDP && O.size > MAX_DATAGRAM)
        die("-s %zu is more than a datagram holds (%d)", O.size, MAX_DATAGRAM);
    if (rounds > 0 && O.duration > 0)
        die("-n and -d exclude each other");
    if (O.mode == M_IDLE) {
        if (rounds > 0)
            die("-n is not for -m idle (it does one round trip each; -d "
                "says how long to hold)");
        rounds = 1;
    } else if (rounds == 0 && O.duration == 0)
        rounds = 1000;
    O.rounds = rounds;
    if ((O.unix_path != NULL) + (O.dgram_path != NULL) +
            (O.host != NULL || O.port != NULL) !=
        1)
        die("give one of -h HOST -p PORT, -u UNIX_PATH or -U UNIX_DGRAM_PATH");
    if (O.unix_path == NULL && O.dgram_path == NULL &&
        (O.host == NULL || O.port == NULL))
        die("-h HOST needs -p PORT and the other way round");
    if (O.dgram_path != NULL && O.mode != M_UDP)
        die("-U UNIX_DGRAM_PATH is for -m udp");
    if (O.unix_path != NULL && O.mode == M_UDP)
        die("-m udp takes -h HOST -p PORT or -U UNIX_DGRAM_PATH, not -u");
    if (O.duration > 0 && O.mode != M_IDLE &&
        O.duration + GRACE_NS / 1e9 >= O.deadline)
        die("-d %g does not fit in the deadline (-T %g)", O.duration,
            O.deadline);
    if (O.duration > 0 && O.mode == M_IDLE && O.duration >= O.deadline)
        die("-d %g does not fit in the deadline (-T %g)", O.duration,
            O.deadline);
    if (O.threads > O.conns)
        O.threads = O.conns;
    for (int k = 0; k < O.npids; k++)
        if (kill(O.pids[k], 0) == -1 && errno == ESRCH)
            die("-P %d: no such process", (int)O.pids[k]);
}

static void
parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'J'},
        {"help", no_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    long rounds = 0;
    int opt;

    O.conns = 100;
    O.size = 64;
    O.threads = 1;
    O.deadline = 60;
    while ((opt = getopt_long(argc, argv, "m:c:k:n:d:s:u:U:h:p:j:T:P:",
                              longopts, NULL)) != -1) {
        switch (opt) {
        case 'm':
            O.mode = parse_mode(optarg);
            break;
        case 'c':
            O.conns = parse_long(optarg, "-c", 1, MAX_CONNS);
            break;
        case 'k':
            O.inflight = parse_long(optarg, "-k", 1, MAX_INFLIGHT);
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
        case 'U':
            O.dgram_path = optarg;
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
        case 'P':
            if (O.npids == MAX_PIDS)
                die("at most %d -P", MAX_PIDS);
            O.pids[O.npids++] = (pid_t)parse_long(optarg, "-P", 1, INT_MAX);
            break;
        case 'J':
            O.json = 1;
            break;
        case 'H':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind != argc) {
        usage(stderr);
        exit(2);
    }
    check_opts(rounds);
}

/* ---- the run ---- */

/* Idle mode, once every connection did its round trip: says how many it
 * holds, then holds them until -d passes, a signal comes or the deadline
 * (an abort).  Returns when the hold ended. */
static uint64_t
hold(const struct worker *workers)
{
    uint64_t held = 0, now = now_ns();
    uint64_t until =
        O.duration > 0 ? now + (uint64_t)(O.duration * 1e9) : t_deadline;

    for (long t = 0; t < O.threads; t++)
        held += workers[t].st.held;
    atomic_store(&holding, 1);
    if (atomic_load(&signalled))
        atomic_store(&released, 1);
    printf("holding %llu connections\n", (unsigned long long)held);
    fflush(stdout);
    while (!atomic_load(&released) && !atomic_load(&aborted)) {
        struct timespec ts = {0, 50 * 1000000L};

        now = now_ns();
        if (now >= until) {
            if (until == t_deadline)
                atomic_store(&aborted, 1);
            break;
        }
        if (until - now < 50000000u)
            ts.tv_nsec = (long)(until - now);
        nanosleep(&ts, NULL);
    }
    now = now_ns();
    atomic_store(&released, 1);
    return now;
}

/* Sleeps until the end of a -d run (or an abort): the end of the
 * measured interval, for the server's CPU time. */
static void
wait_stop(void)
{
    uint64_t stop = atomic_load(&t_stop), now;

    while ((now = now_ns()) < stop && !atomic_load(&aborted)) {
        struct timespec ts = {0, 20 * 1000000L};

        if (stop - now < 20000000u)
            ts.tv_nsec = (long)(stop - now);
        nanosleep(&ts, NULL);
    }
}

static void
describe_target(char *buf, size_t size)
{
    if (O.unix_path != NULL)
        snprintf(buf, size, "unix:%s", O.unix_path);
    else if (O.dgram_path != NULL)
        snprintf(buf, size, "unix-dgram:%s", O.dgram_path);
    else
        snprintf(buf, size, "%s:%s:%s", O.mode == M_UDP ? "udp" : "tcp", O.host,
                 O.port);
}

/* Shares out the connections and starts one thread per share. */
static struct worker *
workers_start(const struct engine *eng)
{
    struct worker *workers = xcalloc((size_t)O.threads, sizeof(*workers));

    for (long t = 0, first = 0; t < O.threads; t++) {
        struct worker *w = &workers[t];

        w->index = (int)t;
        w->first = first;
        w->nconns = O.conns / O.threads + (t < O.conns % O.threads);
        first += w->nconns;
        w->nlive = w->nconns;
        w->rx = xcalloc(1, RECV_CHUNK);
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->ep == -1)
            die("epoll_create1: %s", strerror(errno));
        eng->setup(w);
    }
    if (pthread_barrier_init(&barrier, NULL, (unsigned)O.threads + 1) != 0)
        die("pthread_barrier_init failed");
    for (long t = 0; t < O.threads; t++) {
        int err =
            pthread_create(&workers[t].thread, NULL, eng->main, &workers[t]);

        if (err != 0)
            die("pthread_create: %s", strerror(err));
    }
    return workers;
}

/* Takes the threads through the run: all connected, the start, (idle)
 * the hold, the end; sums their statistics into total.  Returns the
 * measured time in seconds; *cpu is the server's CPU time in it. */
static double
run_phases(struct worker *workers, struct stats *total, double *cpu)
{
    uint64_t t_last = 0, t0;
    double cpu0 = 0, elapsed;

    pthread_barrier_wait(&barrier); /* all connected (or failed) */
    if (O.npids > 0)
        cpu0 = server_cpu();
    t0 = now_ns();
    if (O.duration > 0 && O.mode != M_IDLE)
        atomic_store(&t_stop, t0 + (uint64_t)(O.duration * 1e9));
    atomic_store(&t_start, t0);
    pthread_barrier_wait(&barrier);
    if (O.mode == M_IDLE) {
        pthread_barrier_wait(&barrier); /* round trips done */
        t_last = hold(workers);
    } else if (O.duration > 0) {
        wait_stop();
    }
    /* The measured interval ends at the end of the hold or of the -d
     * run, or (-n) when the last thread is done. */
    if (O.npids > 0 && (O.duration > 0 || O.mode == M_IDLE))
        *cpu = server_cpu() - cpu0;
    for (long t = 0; t < O.threads; t++) {
        pthread_join(workers[t].thread, NULL);
        stats_merge(total, &workers[t].st);
        if (O.mode != M_IDLE && workers[t].t_end > t_last)
            t_last = workers[t].t_end;
    }
    if (O.npids > 0 && O.duration == 0 && O.mode != M_IDLE)
        *cpu = server_cpu() - cpu0;
    /* 0 when every connection failed before the start. */
    elapsed = t_last > t0 ? (double)(t_last - t0) / 1e9 : 0;
    /* A -d run that went the distance ran for exactly -d seconds; the
     * grace time after it does not count. */
    if (O.duration > 0 && O.mode != M_IDLE && elapsed > O.duration)
        elapsed = O.duration;
    return elapsed;
}

int
main(int argc, char **argv)
{
    const struct engine *eng;
    struct worker *workers;
    struct stats *total;
    char target_text[256];
    uint64_t failures = 0;
    double elapsed, cpu = 0;
    int rc;

    parse_args(argc, argv);
    eng = O.mode == M_UDP ? &udp_engine : &stream_engine;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    resolve_target();
    describe_target(target_text, sizeof(target_text));
    raise_fd_limit(O.conns + O.threads + 32);
    t_deadline = now_ns() + (uint64_t)(O.deadline * 1e9);

    workers = workers_start(eng);
    total = xcalloc(1, sizeof(*total));
    elapsed = run_phases(workers, total, &cpu);

    for (int k = 0; k < F_KINDS; k++)
        failures += total->failures[k];
    if (O.json)
        report_json(total, elapsed, target_text, O.npids > 0, cpu, failures);
    else
        report_text(total, elapsed, target_text, O.npids > 0, cpu, failures);
    fflush(stdout);
    rc = failures > 0 || total->ops == 0 ? 1 : 0;
    if (atomic_load(&aborted)) {
        if (atomic_load(&signalled))
            fprintf(stderr, "nlbench: interrupted\n");
        else
            fprintf(stderr, "nlbench: deadline of %g s passed, aborting\n",
                    O.deadline);
        rc = 2;
    }

    for (long t = 0; t < O.threads; t++) {
        eng->cleanup(&workers[t]);
        free(workers[t].rx);
        close(workers[t].ep);
    }
    free(workers);
    free(total);
    pthread_barrier_destroy(&barrier);
    return rc;
}
