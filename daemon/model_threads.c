/*
 * model_threads.c - one process, a pool of threads, blocking I/O per
 * session (blocking.c).
 *
 * The main thread accepts and queues connections; a worker thread takes
 * one, serves it to its end and takes the next.  `workers` threads start;
 * when a connection is queued and no thread is idle to take it, one more
 * starts, up to max_workers, so that a client waits only once that many
 * sessions are open.  A thread past `workers` that finds no work for
 * NL_POOL_IDLE_EXIT seconds ends (the main thread joins it), so a burst
 * leaves no threads behind.  The queue never holds more than
 * max_connections: a connection is admitted (counted against
 * max_connections, queued or served) or closed at once and counted as
 * refused, so a flood costs a counter, not memory.  A session that does
 * not move holds its thread until idle_timeout; other sessions go on in
 * the other threads.  On datagram transports `workers` threads receive
 * and answer on the shared socket (blocking.c wakes one per datagram);
 * the pool does not grow: a datagram holds no thread for long.
 *
 * The idle clock runs from accept, in the queue too: the main thread
 * closes a queued connection whose client has been silent for
 * idle_timeout, and a worker that takes one counts the time it waited.  So
 * clients that connect and say nothing cannot line up in front of a later
 * one for longer than idle_timeout, however few the workers.  A connection
 * queued while max_workers threads are busy is counted
 * (connections_waited) and said in the log, once a second at most.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "admit.h"
#include "blocking.h"
#include "conf.h"
#include "log.h"
#include "model.h"
#include "proxy.h"
#include "session.h"
#include "stats.h"
#include "util.h"

struct pending {
    struct nl_conn conn;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    double accepted; /* nl_now() */
    int waited;      /* queued while no worker was free */
};

/* A worker thread's place in the pool: only the main thread starts and
 * joins them; a thread that ends marks its place ENDED. */
enum { T_FREE, T_RUNNING, T_ENDED };

struct worker {
    struct pool *p;
    pthread_t thread;
    int state; /* T_*, under the pool's lock */
};

struct pool {
    const struct nl_session_env *env;
    int fd;
    int shutdown_timeout;
    pthread_mutex_t lock;
    pthread_cond_t more;   /* on CLOCK_MONOTONIC, as nl_now() */
    struct pending *queue; /* a ring of max_connections entries */
    size_t head, count, cap;
    struct worker *workers; /* max of them, allocated once */
    int min, max;           /* workers, max_workers */
    int running;            /* threads started and not ending */
    int ended;              /* places T_ENDED, not joined yet */
    int idle;               /* workers waiting in pool_take() */
    int stopping;
    double sweep_at; /* main thread: when a queued one may expire, or 0 */
};

/* Notes the number of threads running where status reads it.  Under the
 * pool's lock. */
static void
note_running(struct pool *p)
{
    __atomic_store_n(&p->env->ctr->workers_running, (uint64_t)p->running,
                     __ATOMIC_RELAXED);
}

/* Notes how many queued connections wait with the pool full, where status
 * reads it (connections_waiting).  Under the pool's lock. */
static void
note_waiting(struct pool *p)
{
    uint64_t n = p->running >= p->max && p->count > (size_t)p->idle
                     ? p->count - (size_t)p->idle
                     : 0;

    /* The first to wait: the pool has just been found at max_workers. */
    if (n > 0 && __atomic_load_n(&p->env->ctr->waiting, __ATOMIC_RELAXED) == 0)
        nl_count_add(p->env->ctr, pool_full, 1);
    __atomic_store_n(&p->env->ctr->waiting, n, __ATOMIC_RELAXED);
}

/* Waits for work; a thread past `min` gives up after NL_POOL_IDLE_EXIT
 * seconds.  Returns 1 when w is to end (its place marked T_ENDED), 0
 * otherwise.  Under the pool's lock. */
static int
wait_for_work(struct pool *p, struct worker *w)
{
    struct timespec until;

    if (p->running <= p->min) {
        pthread_cond_wait(&p->more, &p->lock);
        return 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += NL_POOL_IDLE_EXIT;
    while (p->count == 0 && !p->stopping)
        if (pthread_cond_timedwait(&p->more, &p->lock, &until) == ETIMEDOUT)
            break;
    if (p->count > 0 || p->stopping || p->running <= p->min)
        return 0;
    p->running--;
    p->ended++;
    w->state = T_ENDED;
    note_running(p);
    return 1;
}

/* Takes the next queued connection.  Returns 0, or -1 when the thread is
 * to end: a stop, or it stayed idle past `workers`. */
static int
pool_take(struct pool *p, struct worker *w, struct pending *out)
{
    int ending = 0;

    pthread_mutex_lock(&p->lock);
    p->idle++;
    while (p->count == 0 && !p->stopping && !ending)
        ending = wait_for_work(p, w);
    p->idle--;
    if (p->count == 0) {
        pthread_mutex_unlock(&p->lock);
        return -1;
    }
    *out = p->queue[p->head];
    p->head = (p->head + 1) % p->cap;
    p->count--;
    note_waiting(p);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static void *
stream_worker(void *arg)
{
    struct worker *w = arg;
    struct pool *p = w->p;
    struct pending c;
    struct nl_session s;

    while (pool_take(p, w, &c) == 0) {
        if (c.waited)
            nl_wait_ends(p->env, nl_now() - c.accepted);
        nl_session_init(&s, p->env, &c.conn, (struct sockaddr *)&c.peer,
                        c.peer_len);
        if (nl_session_open(&s) == 0)
            nl_serve_stream(p->env, &s, p->shutdown_timeout, c.accepted);
        nl_session_end(&s);
        nl_admit_leave(p->env, nl_session_conn(&s));
    }
    return NULL;
}

static void *
dgram_worker(void *arg)
{
    struct pool *p = ((struct worker *)arg)->p;

    nl_serve_datagrams(p->env, p->fd);
    return NULL;
}

/* Closes a queued connection whose client has been silent for idle_timeout
 * (no worker has seen it: no handler call is due). */
static void
expire(struct pool *p, struct pending *c, double now)
{
    const struct nl_listener_conf *lc = p->env->lc;
    char peer[128];

    nl_count_add(p->env->ctr, err[NL_ERR_IDLE], 1);
    nl_info(lc->name,
            "%s: idle for %d s waiting for a worker, closing the session",
            nl_sockaddr_text((const struct sockaddr *)&c->peer, c->peer_len,
                             peer, sizeof(peer)),
            lc->idle_timeout);
    if (c->waited)
        nl_wait_ends(p->env, now - c->accepted);
    nl_conn_release(&c->conn);
    nl_admit_leave(p->env, &c->conn);
}

/* 1 when what a queued client sent may be a whole request: any bytes for
 * a raw handler, a whole line for a line handler (a part of one is what
 * a slow client leaves). */
static int
request_waiting(const struct nl_session_env *env, struct nl_conn *c)
{
    char buf[4096];
    ssize_t n = c->ops->peek(c, buf, sizeof(buf));
    size_t used = 0;

    if (n <= 0)
        return 0;
    /* Behind a balancer the request is what follows the PROXY header; a
     * bad header is left to a worker, which closes it and counts it. */
    if (env->lc->proxy_protocol) {
        struct nl_proxy px;
        const char *why;

        switch (nl_proxy_parse((const unsigned char *)buf, (size_t)n, &px,
                               &used, &why)) {
        case NL_PROXY_MORE:
            return 0;
        case NL_PROXY_BAD:
            return 1;
        case NL_PROXY_OK:
            break;
        }
    }
    if (used == (size_t)n)
        return 0;
    return env->handler->framing != NETLABD_FRAMING_LINE ||
           memchr(buf + used, '\n', (size_t)n - used) != NULL;
}

/* Closes the queued connections that have been idle for idle_timeout, keeps
 * the others in order, and notes when the next one may expire. */
static void
sweep(struct pool *p)
{
    int idle = p->env->lc->idle_timeout;
    double now = nl_now(), next = 0;
    size_t kept = 0;

    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->count; i++) {
        struct pending *c = &p->queue[(p->head + i) % p->cap];
        double at = nl_heard_at(&c->conn, c->accepted) + idle;

        /* A whole request sent in time deserves its answer however long
         * the pool was busy: it is left to a worker. */
        if (request_waiting(p->env, &c->conn))
            at = 0;
        if (at > 0 && at <= now) {
            expire(p, c, now);
            continue;
        }
        if (at > 0 && (next == 0 || at < next))
            next = at;
        p->queue[(p->head + kept++) % p->cap] = *c;
    }
    p->count = kept;
    note_waiting(p);
    pthread_mutex_unlock(&p->lock);
    p->sweep_at = next;
}

/* Joins the threads that ended.  Main thread only. */
static void
reap_ended(struct pool *p)
{
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->max && p->ended > 0; i++) {
        if (p->workers[i].state != T_ENDED)
            continue;
        /* It has only to return: its place is set as its last act under
         * the lock. */
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->workers[i].thread, NULL);
        pthread_mutex_lock(&p->lock);
        p->workers[i].state = T_FREE;
        p->ended--;
    }
    pthread_mutex_unlock(&p->lock);
}

/* Starts a worker thread in a free place, already counted in p->running.
 * Returns 0, or -1 after logging (the count is taken back).  Main thread
 * only, so no other thread takes or frees a place meanwhile. */
static int
start_worker(struct pool *p, void *(*fn)(void *))
{
    struct worker *w = NULL;
    int rc;

    reap_ended(p);
    for (int i = 0; i < p->max && w == NULL; i++)
        if (p->workers[i].state == T_FREE)
            w = &p->workers[i];
    if (w == NULL) {
        rc = EAGAIN;
    } else {
        /* Before it runs: it may mark its place T_ENDED. */
        pthread_mutex_lock(&p->lock);
        w->state = T_RUNNING;
        pthread_mutex_unlock(&p->lock);
        rc = pthread_create(&w->thread, NULL, fn, w);
    }
    pthread_mutex_lock(&p->lock);
    if (rc != 0) {
        p->running--;
        if (w != NULL)
            w->state = T_FREE;
    }
    note_running(p);
    pthread_mutex_unlock(&p->lock);
    if (rc != 0)
        nl_errx(p->env->lc->name, "cannot start a worker thread: %s",
                strerror(rc));
    return rc == 0 ? 0 : -1;
}

/* Queues an admitted connection for the workers, with one more worker
 * when none is idle to take it and max_workers allows. */
static void
enqueue(struct pool *p, struct pending *c)
{
    size_t waiting;
    int idle = p->env->lc->idle_timeout, grow;

    c->accepted = nl_now();
    pthread_mutex_lock(&p->lock);
    /* Admission keeps count <= max_connections = cap.  Each queued one
     * is some idle worker's: past their number, this one needs a new
     * worker, or waits when the pool is full. */
    grow = p->count >= (size_t)p->idle && p->running < p->max;
    c->waited = p->count >= (size_t)p->idle && !grow;
    if (grow)
        p->running++;
    p->queue[(p->head + p->count) % p->cap] = *c;
    p->count++;
    waiting = p->count - (size_t)p->idle;
    note_waiting(p);
    pthread_cond_signal(&p->more);
    pthread_mutex_unlock(&p->lock);
    if (grow)
        start_worker(p, stream_worker);
    if (c->waited)
        nl_wait_begins(p->env, waiting);
    if (idle > 0 && (p->sweep_at == 0 || c->accepted + idle < p->sweep_at))
        p->sweep_at = c->accepted + idle;
}

/* How long the accept loop may sleep (ms, -1: until woken): until the
 * next queued connection may expire, and a second at most while threads
 * past `workers` run, so that those that end are joined soon. */
static int
accept_wait(struct pool *p)
{
    int wait = -1, extra;

    if (p->sweep_at > 0) {
        double left = p->sweep_at - nl_now();

        wait = left > 0 ? (int)(left * 1000) + 1 : 0;
    }
    pthread_mutex_lock(&p->lock);
    extra = p->running > p->min || p->ended > 0;
    pthread_mutex_unlock(&p->lock);
    if (extra && (wait == -1 || wait > 1000))
        wait = 1000;
    return wait;
}

/* Accepts until a stop is asked for, and expires queued connections. */
static void
accept_loop(struct pool *p)
{
    struct pollfd pf[2] = {{.fd = p->fd, .events = POLLIN},
                           {.fd = nl_stop_fd(), .events = POLLIN}};

    int check_stop = 1, n;

    /* The stop is looked at first, then when poll() says the pipe turned
     * readable (or a signal came), not with a poll() per connection. */
    while (!(check_stop && nl_stop_requested())) {
        struct pending c;
        int wait = accept_wait(p);

        reap_ended(p);
        if (p->sweep_at > 0 && p->sweep_at <= nl_now()) {
            sweep(p);
            continue;
        }
        n = poll(pf, 2, wait);
        check_stop = n == -1 || (pf[1].revents & POLLIN);
        if (n <= 0 || !(pf[0].revents & POLLIN))
            continue;
        switch (
            nl_session_accept(p->env, p->fd, &c.conn, &c.peer, &c.peer_len)) {
        case NL_ACCEPT_OK:
            break;
        case NL_ACCEPT_FULL:
            poll(&pf[1], 1, 1000);
            continue;
        default:
            continue;
        }
        enqueue(p, &c);
    }
}

/* The main thread's part until a stop: accepting, or for datagrams
 * (which every worker receives) only waiting. */
static void
main_thread(struct pool *p, int dgram)
{
    struct pollfd pf = {.fd = nl_stop_fd(), .events = POLLIN};

    if (!dgram) {
        accept_loop(p);
        return;
    }
    while (!nl_stop_requested())
        poll(&pf, 1, -1);
}

/* Sets up p for env's listener; the queue and every worker's place are
 * allocated once. */
static void
pool_init(struct pool *p, const struct nl_session_env *env, int fd,
          int shutdown_timeout, int dgram)
{
    pthread_condattr_t ca;

    memset(p, 0, sizeof(*p));
    p->env = env;
    p->fd = fd;
    p->shutdown_timeout = shutdown_timeout;
    p->cap = (size_t)env->lc->max_connections;
    p->queue = nl_xcalloc(p->cap, sizeof(*p->queue));
    p->min = env->lc->workers;
    p->max =
        dgram || env->lc->max_workers < p->min ? p->min : env->lc->max_workers;
    p->workers = nl_xcalloc((size_t)p->max, sizeof(*p->workers));
    for (int i = 0; i < p->max; i++)
        p->workers[i].p = p;
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->more, &ca);
    pthread_condattr_destroy(&ca);
}

/* Joins every thread started, those that ended on their own too. */
static void
join_all(struct pool *p)
{
    for (int i = 0; i < p->max; i++)
        if (p->workers[i].state != T_FREE)
            pthread_join(p->workers[i].thread, NULL);
}

static int
threads_run(const struct nl_session_env *env, int fd, int shutdown_timeout)
{
    int dgram = nl_transport_is_dgram(env->lc->transport), ok = 0;
    struct pool p;

    pool_init(&p, env, fd, shutdown_timeout, dgram);
    if (nl_stop_init() == -1 || nl_set_nonblock(fd, 1) == -1)
        goto out;
    ok = 1;
    for (int i = 0; i < p.min && ok; i++) {
        pthread_mutex_lock(&p.lock);
        p.running++;
        pthread_mutex_unlock(&p.lock);
        ok = start_worker(&p, dgram ? dgram_worker : stream_worker) == 0;
    }
    if (ok)
        main_thread(&p, dgram);
    else
        nl_stop_request(); /* the threads started must not wait for one */
    /* Stop accepting now; queued and open sessions are served until
     * shutdown_timeout. */
    pthread_mutex_lock(&p.lock);
    p.stopping = 1;
    pthread_cond_broadcast(&p.more);
    pthread_mutex_unlock(&p.lock);
    if (!dgram) {
        nl_transport_close_copy(fd);
        fd = -1;
        nl_session_stopped_accepting(env);
    }
    join_all(&p);
    if (dgram)
        nl_session_stopped_accepting(env);
out:
    nl_transport_close_copy(fd);
    pthread_cond_destroy(&p.more);
    pthread_mutex_destroy(&p.lock);
    free(p.queue);
    free(p.workers);
    return ok ? 0 : -1;
}

const struct nl_model_ops nl_model_threads = {
    .name = "threads",
    .run = threads_run,
};
