/*
 * nlbench.h - what the load generator's parts share: the options, the
 * per-thread statistics, the clock that every thread reads, and the two
 * engines that drive connections (nlbench_stream.c: pingpong, pipeline,
 * connrate, idle; nlbench_udp.c: udp and unix datagrams).
 *
 * nlbench.c owns main(), the command line, the phases every run goes
 * through (connect, start together, run, report) and the report.
 */
#ifndef NLBENCH_H
#define NLBENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define MAX_RETRIES 3
#define RECV_CHUNK  65536
#define MAX_EVENTS  256
#define MAX_PIDS    16
#define SEQ_PREFIX  16  /* bytes of each line that carry (conn, round) */
#define LOST_MS     200 /* udp: a request unanswered this long is lost */
/* After a -d run, requests in flight get this long to finish (uncounted),
 * so that no connection is closed with an echo unread, which would reset
 * it and make the server log an error that the benchmark caused. */
#define GRACE_NS 1000000000ull

/* Latency histogram: log-linear over nanoseconds, 2^HIST_SUB sub-buckets
 * per power of two, so a reported percentile is within 1% of the truth. */
#define HIST_SUB     7
#define HIST_BUCKETS ((64 - HIST_SUB + 1) << HIST_SUB)

enum mode { M_PINGPONG, M_PIPELINE, M_CONNRATE, M_UDP, M_IDLE, M_MODES };

enum failure { F_CONNECT, F_RESET, F_EOF, F_MISMATCH, F_KINDS };

struct opts {
    enum mode mode;
    long conns;
    long inflight;   /* lines in flight per connection (1 but in pipeline) */
    long rounds;     /* per connection; 0 with a duration */
    double duration; /* seconds; 0 with a number of rounds */
    size_t size;
    const char *unix_path;  /* -u: a unix stream socket */
    const char *dgram_path; /* -U: a unix datagram socket */
    const char *host;
    const char *port;
    long threads;
    double deadline;
    int json;
    pid_t pids[MAX_PIDS]; /* -P: the server, for its CPU time */
    int npids;
};

struct stats {
    uint64_t ops;
    uint64_t failures[F_KINDS];
    uint64_t unfinished; /* requests cut short by the end of a -d run */
    uint64_t gave_up;
    uint64_t unanswered; /* connections or sockets that got no answer */
    uint64_t lost;       /* datagrams whose echo did not come in time */
    uint64_t held;       /* idle: connections still open at the end */
    uint64_t bytes_in;
    uint64_t lat_max; /* ns */
    uint64_t lat_sum; /* ns */
    uint64_t hist[HIST_BUCKETS];
};

/* One thread: its epoll loop, its share of the connections (the engine's
 * own array), its statistics. */
struct worker {
    pthread_t thread;
    int index;
    int ep;
    long first; /* the index of its first connection among all */
    long nconns;
    long nlive; /* not yet finished or given up */
    void *conns;
    unsigned char *rx;
    struct stats st;
    uint64_t t_end; /* when its last connection finished */
};

/* An engine: set up a worker's connections, run the worker (a thread),
 * free what setup allocated. */
struct engine {
    void (*setup)(struct worker *w);
    void *(*main)(void *w);
    void (*cleanup)(struct worker *w);
};

extern const struct engine stream_engine, udp_engine;

/* What every thread reads (defined in nlbench.c). */
extern struct opts O;
extern struct sockaddr_storage target;
extern socklen_t target_len;
extern uint64_t t_deadline;       /* ns, CLOCK_MONOTONIC */
extern _Atomic uint64_t t_start;  /* 0 until the start */
extern _Atomic uint64_t t_stop;   /* end of a -d run; 0 without one */
extern atomic_int aborted;        /* deadline passed or a signal came */
extern atomic_int released;       /* idle: stop holding */
extern pthread_barrier_t barrier; /* the threads and main */

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *xcalloc(size_t n, size_t size);
uint64_t now_ns(void);
void stats_add_latency(struct stats *st, uint64_t ns);
void fill_letters(unsigned char *p, size_t n, uint64_t seed);
void fill_prefix(unsigned char *line, unsigned id, uint64_t seq);
int worker_loop(struct worker *w, int (*done)(struct worker *),
                void (*on_event)(struct worker *, void *), int max_wait_ms,
                void (*tick)(struct worker *, uint64_t now));

#endif
