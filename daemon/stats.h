/*
 * stats.h - per-listener counters in memory shared between the master and
 * the serving processes.  Each serving process gets a slot of its own and
 * updates it with atomic adds; the master sums the live slots with what it
 * kept from slots whose process has ended, so a crash loses no count and
 * leaves no phantom active connection behind.  (One exception, chosen for
 * speed: libev loops that share a process count bytes and errors locally
 * and fold them in once per loop pass, so that they do not bounce one
 * cache line between them per message; a handler that crashes loses
 * what its process's loops counted in that pass.  Admission counts --
 * active, total, refused -- are always shared at once.)
 */
#ifndef NL_STATS_H
#define NL_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Why sessions ended in error -- and idle, which `errors` does not
 * count -- as metrics break them down (stats.c names them). */
enum nl_err {
    NL_ERR_HANDLER,  /* "handler_refused": open() or data() returned -1 */
    NL_ERR_LINE,     /* "line_too_long" */
    NL_ERR_IDLE,     /* "idle_timeout" */
    NL_ERR_RESET,    /* "reset": a read failed (the peer reset it) */
    NL_ERR_WRITE,    /* "write_failed": a write or a reply datagram */
    NL_ERR_OVERFLOW, /* "output_overflow": a client that does not read */
    NL_ERR_TOO_BIG,  /* "datagram_too_large": dropped unanswered */
    NL_ERR_N
};

extern const char *const nl_err_names[NL_ERR_N];

/*
 * A histogram: how many observations fell in each bucket (not cumulative;
 * the last is past every bound, +Inf) and their sum, in the unit of its
 * bounds.  Bounds are inclusive, as Prometheus' `le`.
 */
#define NL_HIST_BUCKETS 10
struct nl_hist {
    uint64_t n[NL_HIST_BUCKETS];
    uint64_t sum;
};

/* Session durations in microseconds; the handler's data() in ns. */
extern const uint64_t nl_duration_us[NL_HIST_BUCKETS - 1];
extern const uint64_t nl_handler_ns[NL_HIST_BUCKETS - 1];

struct nl_counters {
    uint64_t active;
    uint64_t total;
    uint64_t refused;
    uint64_t denied;  /* refused by allow/deny (access.h) */
    uint64_t limited; /* refused by a per-source limit (sources.h) */
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t errors;
    /* Sessions that waited for a free worker (prefork, threads), and the
     * longest such wait: a maximum, not a sum. */
    uint64_t waited;
    uint64_t longest_wait_ms;
    /* proxy_protocol: connections closed without a valid PROXY header,
     * for a bad one (or none before the client closed) and for none in
     * time. */
    uint64_t proxy_invalid;
    uint64_t proxy_timeout;
    /* Sessions ended in error by why (idle timeouts too), datagrams
     * received, replies sent, datagrams dropped (too large, refused). */
    uint64_t err[NL_ERR_N];
    uint64_t dgram_in;
    uint64_t dgram_out;
    uint64_t dgram_dropped;
    /* Times the pool was found full, max_workers all busy: threads, a
     * client began to wait with none waiting before; prefork, a process
     * took the last idle place with no room left to grow. */
    uint64_t pool_full;
    /* How long stream sessions lasted, and each data() call took. */
    struct nl_hist duration;
    struct nl_hist handler_time;
    /* In a listener's gate only: when the last "all workers busy" line
     * was logged (nl_now() in ms), so that its serving processes together
     * log it at most once a second. */
    uint64_t busy_logged_ms;
    /* In a listener's gate only: when the last line about refusals by
     * rules or per-source limits was logged, and how many there have been
     * since (admit.c). */
    uint64_t refusals_logged_ms;
    uint64_t refusals_unlogged;
    /* The same for connections closed without a valid PROXY header. */
    uint64_t proxy_logged_ms;
    uint64_t proxy_unlogged;
    /* In a listener's gate only: the most sessions open at once. */
    uint64_t peak_active;
    /* Pools that grow (prefork, threads; not summed by
     * nl_stats_sum()).  In a serving process's slot: the workers it runs
     * (threads: its threads), how many of them wait idle for a
     * connection, and since when the process has been idle (nl_now() in
     * ms, 0 while busy).  In a prefork listener's gate: its processes
     * idle (the one that takes the last idle place asks the master for
     * another) and running (the master's count, held against max_workers
     * by the processes).  grow_asked, in a prefork process's slot: 1
     * from its 'G' to the master until the master has read it, so that
     * no more than one is ever in the pipe. */
    uint64_t workers_running;
    uint64_t workers_idle;
    uint64_t idle_since_ms;
    uint64_t grow_asked;
    /* A threads process's slot: connections queued that no thread is
     * free for, the pool being at max_workers (a gauge status shows). */
    uint64_t waiting;
};

#define nl_count_add(c, field, n)                                              \
    ((void)__atomic_fetch_add(&(c)->field, (uint64_t)(n), __ATOMIC_RELAXED))
#define nl_count_sub(c, field, n)                                              \
    ((void)__atomic_fetch_sub(&(c)->field, (uint64_t)(n), __ATOMIC_RELAXED))

/* Raises *field to n if n is larger (a maximum kept across threads). */
void nl_count_max(uint64_t *field, uint64_t n);

/* Counts v (in the unit of bounds) in histogram h. */
static inline void
nl_hist_add(struct nl_hist *h, const uint64_t *bounds, uint64_t v)
{
    int i = 0;

    while (i < NL_HIST_BUCKETS - 1 && v > bounds[i])
        i++;
    nl_count_add(h, n[i], 1);
    nl_count_add(h, sum, v);
}

/* Maps the shared pool of nslots slots; call once in the master before any
 * fork.  Returns 0, or -1 with errno set. */
int nl_stats_init(size_t nslots);

/* A zeroed slot, or NULL when all are in use.  Master only. */
struct nl_counters *nl_stats_alloc(void);

/* Takes one more reference to a slot (a listener's gate, shared by the
 * serving processes of two generations during a reload). */
void nl_stats_ref(struct nl_counters *slot);

/*
 * Adds the slot's counts, all but `active`, to *keep (when not NULL) and
 * drops a reference; the slot is free once none is left.  Called by the
 * master once the slot's process is gone.
 */
void nl_stats_release(struct nl_counters *slot, struct nl_counters *keep);

/* Adds a snapshot of src into sum (longest_wait_ms: the larger one). */
void nl_stats_sum(struct nl_counters *sum, const struct nl_counters *src);

/*
 * Adds counts one thread kept in local, plain memory of its own, into the
 * shared slot (longest_wait_ms: the larger one), and zeroes them, so that
 * threads sharing a slot write it once per batch of work rather than once
 * per message.  Only the thread that owns local may call it.
 */
void nl_stats_fold(struct nl_counters *slot, struct nl_counters *local);

#endif /* NL_STATS_H */
