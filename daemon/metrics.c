/*
 * metrics.c - the `metrics` answer: the counters `status` reads, in the
 * Prometheus text exposition format (version 0.0.4).  Every family has its
 * # HELP and # TYPE lines and then one sample per listener (labels
 * listener, transport, model) or one for the daemon; counters end in
 * _total, and sizes and times are in bytes and seconds.  The counts are
 * the shared ones status sums (stats.h), kept across reloads and crashes,
 * so the two never disagree and counters never go backwards while the
 * daemon runs.
 */
#include "config.h"

#include <dirent.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "master_int.h"
#include "metrics.h"
#include "pool.h"
#include "stats.h"
#include "supervisor.h"

static void __attribute__((format(printf, 2, 3)))
put(struct nl_buf *b, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0)
        nl_buf_append(b, line, (size_t)n < sizeof(line) ? (size_t)n
                                                          : sizeof(line) - 1);
}

/* A label value with \, " and newlines escaped, as the format asks. */
static void
put_value(struct nl_buf *b, const char *v)
{
    for (; *v != '\0'; v++) {
        if (*v == '\\')
            nl_buf_append(b, "\\\\", 2);
        else if (*v == '"')
            nl_buf_append(b, "\\\"", 2);
        else if (*v == '\n')
            nl_buf_append(b, "\\n", 2);
        else
            nl_buf_append(b, v, 1);
    }
}

static void
family(struct nl_buf *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{listener="...",transport="...",model="..."[,extra]} */
static void
listener_labels(struct nl_buf *b, const char *name, const struct lst *l,
                const char *extra)
{
    put(b, "%s{listener=\"", name);
    put_value(b, l->lc->name);
    put(b, "\",transport=\"%s\",model=\"%s\"",
        nl_transport_name(l->lc->transport), nl_model_name(l->lc->model));
    /* Appended as it is: put() would cut a long one. */
    if (extra != NULL) {
        nl_buf_append(b, ",", 1);
        nl_buf_append(b, extra, strlen(extra));
    }
    nl_buf_append(b, "}", 1);
}

/* What a listener family shows of one listener. */
enum what {
    ACCEPTED,
    ACTIVE,
    REFUSED_FULL,
    REFUSED_RULES,
    REFUSED_LIMITS,
    BYTES_IN,
    BYTES_OUT,
    ERRORS,
    DGRAM_IN,
    DGRAM_OUT,
    DGRAM_DROPPED,
    PEAK,
    POOL_FULL,
    PROXY_INVALID,
    PROXY_TIMEOUT,
    WAITED,
    WAITING,
    WORKERS,
    MAX_WORKERS,
    SERVING,
    STARTED,
    CRASHED
};

static const struct lfamily {
    const char *name, *type, *help, *extra;
    enum what what;
} lfamilies[] = {
    {"netlabd_connections_accepted_total", "counter",
     "Sessions accepted (datagrams: each one).", NULL, ACCEPTED},
    {"netlabd_connections_active", "gauge", "Sessions open now.", NULL,
     ACTIVE},
    {"netlabd_connections_refused_total", "counter",
     "Connections closed at once, or datagrams dropped, by reason: "
     "max_connections, the allow/deny rules, the per-source limits.",
     "reason=\"max_connections\"", REFUSED_FULL},
    {NULL, NULL, NULL, "reason=\"access_rules\"", REFUSED_RULES},
    {NULL, NULL, NULL, "reason=\"per_source_limit\"", REFUSED_LIMITS},
    {"netlabd_received_bytes_total", "counter", "Bytes received from clients.",
     NULL, BYTES_IN},
    {"netlabd_sent_bytes_total", "counter", "Bytes sent to clients.", NULL,
     BYTES_OUT},
    {"netlabd_session_errors_total", "counter",
     "Sessions ended by an error, by reason; idle_timeout is counted here "
     "but not in status' errors.",
     NULL, ERRORS},
    {"netlabd_datagrams_received_total", "counter",
     "Datagrams received (udp, unix-dgram).", NULL, DGRAM_IN},
    {"netlabd_datagrams_sent_total", "counter",
     "Reply datagrams sent (udp, unix-dgram).", NULL, DGRAM_OUT},
    {"netlabd_datagrams_dropped_total", "counter",
     "Datagrams dropped unanswered: too large, or refused by the rules or "
     "the per-source rate.",
     NULL, DGRAM_DROPPED},
    {"netlabd_connections_peak", "gauge",
     "The most sessions open at once since the listener's socket opened.",
     NULL, PEAK},
    {"netlabd_proxy_header_errors_total", "counter",
     "Connections closed without a valid PROXY header (proxy_protocol), "
     "by reason: invalid (a bad header, or the client closed before a "
     "whole one), timeout (none in time).",
     "reason=\"invalid\"", PROXY_INVALID},
    {NULL, NULL, NULL, "reason=\"timeout\"", PROXY_TIMEOUT},
    {"netlabd_connections_waited_total", "counter",
     "Sessions that waited for a free worker (prefork, threads).", NULL,
     WAITED},
    {"netlabd_connections_waiting", "gauge",
     "Connections waiting now for a free worker, the pool being at "
     "max_workers.",
     NULL, WAITING},
    {"netlabd_workers", "gauge",
     "Workers running: processes (prefork), threads (threads), event loops "
     "(libev).",
     NULL, WORKERS},
    {"netlabd_workers_max", "gauge", "max_workers: what a pool may grow to.",
     NULL, MAX_WORKERS},
    {"netlabd_max_workers_reached_total", "counter",
     "Times the pool was found full: max_workers running, all busy "
     "(prefork, threads).",
     NULL, POOL_FULL},
    {"netlabd_listener_serving", "gauge",
     "1 when the listener takes new clients: every serving process ready, "
     "netlabd not stopping.",
     NULL, SERVING},
    {"netlabd_serving_processes_started_total", "counter",
     "Serving processes started for the listener.", NULL, STARTED},
    {"netlabd_serving_processes_crashed_total", "counter",
     "Serving processes ended by a signal netlabd did not send (status "
     "shows the last one).",
     NULL, CRASHED},
};

static unsigned long long
value(const struct nl_sup *s, const struct lst *l, const struct nl_counters *c,
      enum what w)
{
    switch (w) {
    case ACCEPTED:
        return c->total;
    case ACTIVE:
        return c->active;
    case REFUSED_FULL:
        return c->refused;
    case REFUSED_RULES:
        return c->denied;
    case REFUSED_LIMITS:
        return c->limited;
    case BYTES_IN:
        return c->bytes_in;
    case BYTES_OUT:
        return c->bytes_out;
    case ERRORS: /* by reason: listener_families() */
        return c->errors;
    case DGRAM_IN:
        return c->dgram_in;
    case DGRAM_OUT:
        return c->dgram_out;
    case DGRAM_DROPPED:
        return c->dgram_dropped;
    case PEAK:
        return l->gate != NULL ? __atomic_load_n(&l->gate->peak_active,
                                                 __ATOMIC_RELAXED)
                               : 0;
    case POOL_FULL:
        return c->pool_full;
    case PROXY_INVALID:
        return c->proxy_invalid;
    case PROXY_TIMEOUT:
        return c->proxy_timeout;
    case WAITED:
        return c->waited;
    case WAITING:
        return nl_lst_waiting(l);
    case WORKERS:
        return (unsigned long long)nl_lst_workers_running(l);
    case MAX_WORKERS:
        return (unsigned long long)l->lc->max_workers;
    case SERVING:
        return (unsigned long long)nl_lst_serving(l);
    case STARTED:
        return l->procs_started;
    case CRASHED:
        return l->procs_crashed;
    }
    (void)s;
    return 0;
}

/* The session errors of listener l, one sample per reason. */
static void
by_reason(struct nl_buf *b, const char *name, const struct lst *l,
          const struct nl_counters *c)
{
    char extra[64];

    for (int r = 0; r < NL_ERR_N; r++) {
        snprintf(extra, sizeof(extra), "reason=\"%s\"", nl_err_names[r]);
        listener_labels(b, name, l, extra);
        put(b, " %llu\n", (unsigned long long)c[0].err[r]);
    }
}

/* A histogram family: per listener, cumulative buckets by `le` (bounds
 * divided by scale: seconds), then _sum and _count. */
static void
histogram(struct nl_buf *b, const struct nl_sup *s, const struct nl_counters *c,
          const char *name, const char *help, size_t off,
          const uint64_t *bounds, double scale)
{
    char bucket[128], sum[128], count[128], le[64];

    snprintf(bucket, sizeof(bucket), "%s_bucket", name);
    snprintf(sum, sizeof(sum), "%s_sum", name);
    snprintf(count, sizeof(count), "%s_count", name);
    family(b, name, "histogram", help);
    for (size_t i = 0; i < s->nlst; i++) {
        const struct nl_hist *h =
            (const struct nl_hist *)((const char *)&c[i] + off);
        unsigned long long n = 0;

        for (int k = 0; k < NL_HIST_BUCKETS; k++) {
            n += h->n[k];
            if (k < NL_HIST_BUCKETS - 1)
                snprintf(le, sizeof(le), "le=\"%g\"", bounds[k] / scale);
            else
                snprintf(le, sizeof(le), "le=\"+Inf\"");
            listener_labels(b, bucket, s->lst[i], le);
            put(b, " %llu\n", n);
        }
        listener_labels(b, sum, s->lst[i], NULL);
        put(b, " %.15g\n", h->sum / scale);
        listener_labels(b, count, s->lst[i], NULL);
        put(b, " %llu\n", n);
    }
}

/* Which handler, at which version, each listener runs. */
static void
handler_info(struct nl_buf *b, const struct nl_sup *s)
{
    family(b, "netlabd_handler_info", "gauge",
           "Always 1; the listener's handler and its version are labels.");
    for (size_t i = 0; i < s->nlst; i++) {
        const struct nl_listener_conf *lc = s->lst[i]->lc;
        struct nl_buf extra = {0};

        put(&extra, "handler=\"");
        put_value(&extra, lc->handler);
        put(&extra, "\",version=\"");
        put_value(&extra, lc->handler_version != NULL ? lc->handler_version
                                                      : "");
        put(&extra, "\"");
        nl_buf_append(&extra, "", 1);
        listener_labels(b, "netlabd_handler_info", s->lst[i],
                        nl_buf_head(&extra));
        put(b, " 1\n");
        nl_buf_free(&extra);
    }
}

static void
listener_families(struct nl_buf *b, const struct nl_sup *s)
{
    size_t nf = sizeof(lfamilies) / sizeof(lfamilies[0]);
    struct nl_counters *c = s->nlst > 0 ? calloc(s->nlst, sizeof(*c)) : NULL;

    if (s->nlst > 0 && c == NULL)
        return;
    /* One snapshot per listener, so that a family's samples agree. */
    for (size_t i = 0; i < s->nlst; i++)
        nl_lst_counters(s, s->lst[i], &c[i]);
    for (size_t f = 0; f < nf; f++) {
        const struct lfamily *lf = &lfamilies[f];
        const char *name = lf->name;

        /* A family's further reasons follow it without a header. */
        for (size_t g = f; name == NULL && g-- > 0;)
            name = lfamilies[g].name;
        if (lf->name != NULL)
            family(b, name, lf->type, lf->help);
        for (size_t i = 0; i < s->nlst; i++) {
            if (lf->what == ERRORS) {
                by_reason(b, name, s->lst[i], &c[i]);
                continue;
            }
            listener_labels(b, name, s->lst[i], lf->extra);
            put(b, " %llu\n", value(s, s->lst[i], &c[i], lf->what));
        }
    }
    histogram(b, s, c, "netlabd_session_duration_seconds",
              "How long stream sessions lasted, from when they were taken "
              "to close.",
              offsetof(struct nl_counters, duration), nl_duration_us, 1e6);
    histogram(b, s, c, "netlabd_handler_data_duration_seconds",
              "Time spent in the handler's data() callback, per call.",
              offsetof(struct nl_counters, handler_time), nl_handler_ns, 1e9);
    handler_info(b, s);
    free(c);
}

/* Descriptors open in the master, and its limit. */
static void
fds(struct nl_buf *b)
{
    struct rlimit rl;
    struct dirent *e;
    long n = 0;
    DIR *d = opendir("/proc/self/fd");

    if (d != NULL) {
        while ((e = readdir(d)) != NULL)
            n += e->d_name[0] != '.';
        closedir(d);
        n--; /* the one opendir() holds */
        family(b, "netlabd_open_fds", "gauge",
               "Descriptors open in the master.");
        put(b, "netlabd_open_fds %ld\n", n);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        family(b, "netlabd_max_fds", "gauge",
               "The master's limit of open descriptors (RLIMIT_NOFILE).");
        put(b, "netlabd_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    }
}

void
nl_metrics_write(struct nl_master *m, struct nl_buf *b)
{
    time_t now = time(NULL);

    family(b, "netlabd_build_info", "gauge",
           "Always 1; the version of netlabd is its label.");
    put(b, "netlabd_build_info{version=\"");
    put_value(b, PACKAGE_VERSION);
    put(b, "\"} 1\n");
    family(b, "netlabd_start_time_seconds", "gauge",
           "When the master started, in seconds since the epoch.");
    put(b, "netlabd_start_time_seconds %lld\n", (long long)m->start_time);
    family(b, "netlabd_uptime_seconds", "gauge",
           "Seconds since the master started.");
    put(b, "netlabd_uptime_seconds %lld\n", (long long)(now - m->start_time));
    family(b, "netlabd_generation", "gauge",
           "The configuration's generation: 1 at start, +1 per successful "
           "reload.");
    put(b, "netlabd_generation %u\n", m->sup.generation);
    family(b, "netlabd_reloads_total", "counter", "Reloads, by outcome.");
    put(b, "netlabd_reloads_total{outcome=\"ok\"} %llu\n",
        (unsigned long long)m->rl.nok);
    put(b, "netlabd_reloads_total{outcome=\"error\"} %llu\n",
        (unsigned long long)m->rl.nfailed);
    family(b, "netlabd_last_reload_timestamp_seconds", "gauge",
           "When the last reload ended, in seconds since the epoch; 0 before "
           "any.");
    put(b, "netlabd_last_reload_timestamp_seconds %lld\n",
        m->rl.done ? (long long)m->rl.time : 0LL);
    family(b, "netlabd_last_reload_success", "gauge",
           "1 when the last reload was applied (or none ran), 0 when it was "
           "refused.");
    put(b, "netlabd_last_reload_success %d\n", !m->rl.done || m->rl.ok);
    fds(b);
    listener_families(b, &m->sup);
}
