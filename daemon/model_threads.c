/*
 * model_threads.c - one process, a pool of `workers` threads, blocking I/O
 * per session (blocking.c).
 *
 * The main thread accepts and queues connections; a worker thread takes
 * one, serves it to its end and takes the next.  The queue never holds
 * more than max_connections: a connection is admitted (counted against
 * max_connections, queued or served) or closed at once and counted as
 * refused, so a flood costs a counter, not memory.  A session that does not
 * move holds its thread until idle_timeout; other sessions go on in the
 * other threads.  On datagram transports every thread receives and answers
 * on the shared socket.
 *
 * The idle clock runs from accept, in the queue too: the main thread
 * closes a queued connection whose client has been silent for
 * idle_timeout, and a worker that takes one counts the time it waited.  So
 * clients that connect and say nothing cannot line up in front of a later
 * one for longer than idle_timeout, however few the workers.  A connection
 * queued while every worker is busy is counted (connections_waited) and
 * said in the log, once a second at most.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admit.h"
#include "blocking.h"
#include "conf.h"
#include "log.h"
#include "model.h"
#include "session.h"
#include "util.h"

struct pending {
    struct nl_conn conn;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    double accepted; /* nl_now() */
    int waited;      /* queued while no worker was free */
};

struct pool {
    const struct nl_session_env *env;
    int fd;
    int shutdown_timeout;
    pthread_mutex_t lock;
    pthread_cond_t more;
    struct pending *queue; /* a ring of max_connections entries */
    size_t head, count, cap;
    int idle; /* workers waiting in pool_take() */
    int stopping;
    double sweep_at; /* main thread: when a queued one may expire, or 0 */
};

static int
pool_take(struct pool *p, struct pending *out)
{
    pthread_mutex_lock(&p->lock);
    p->idle++;
    while (p->count == 0 && !p->stopping)
        pthread_cond_wait(&p->more, &p->lock);
    p->idle--;
    if (p->count == 0) {
        pthread_mutex_unlock(&p->lock);
        return -1;
    }
    *out = p->queue[p->head];
    p->head = (p->head + 1) % p->cap;
    p->count--;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static void *
stream_worker(void *arg)
{
    struct pool *p = arg;
    struct pending c;
    struct nl_session s;

    while (pool_take(p, &c) == 0) {
        if (c.waited)
            nl_wait_ends(p->env, nl_now() - c.accepted);
        nl_session_init(&s, p->env, &c.conn, (struct sockaddr *)&c.peer,
                        c.peer_len);
        if (nl_session_open(&s) == 0)
            nl_serve_stream(p->env, &s, p->shutdown_timeout, c.accepted);
        nl_session_end(&s);
        nl_admit_leave(p->env);
    }
    return NULL;
}

static void *
dgram_worker(void *arg)
{
    struct pool *p = arg;

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

    nl_info(lc->name,
            "%s: idle for %d s waiting for a worker, closing the session",
            nl_sockaddr_text((const struct sockaddr *)&c->peer, c->peer_len,
                             peer, sizeof(peer)),
            lc->idle_timeout);
    if (c->waited)
        nl_wait_ends(p->env, now - c->accepted);
    nl_conn_release(&c->conn);
    nl_admit_leave(p->env);
}

/* 1 when what a queued client sent may be a whole request: any bytes for
 * a raw handler, a whole line for a line handler (a part of one is what
 * a slow client leaves). */
static int
request_waiting(const struct nl_session_env *env, struct nl_conn *c)
{
    char buf[4096];
    ssize_t n = c->ops->peek(c, buf, sizeof(buf));

    if (n <= 0)
        return 0;
    return env->handler->framing != NETLABD_FRAMING_LINE ||
           memchr(buf, '\n', (size_t)n) != NULL;
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
    pthread_mutex_unlock(&p->lock);
    p->sweep_at = next;
}

/* Queues an admitted connection for the workers. */
static void
enqueue(struct pool *p, struct pending *c)
{
    size_t waiting;
    int idle = p->env->lc->idle_timeout;

    c->accepted = nl_now();
    pthread_mutex_lock(&p->lock);
    /* Admission keeps count <= max_connections = cap.  Each queued one
     * is some idle worker's: past their number, this one waits. */
    c->waited = p->count >= (size_t)p->idle;
    p->queue[(p->head + p->count) % p->cap] = *c;
    p->count++;
    waiting = p->count - (size_t)p->idle;
    pthread_cond_signal(&p->more);
    pthread_mutex_unlock(&p->lock);
    if (c->waited)
        nl_wait_begins(p->env, waiting);
    if (idle > 0 && (p->sweep_at == 0 || c->accepted + idle < p->sweep_at))
        p->sweep_at = c->accepted + idle;
}

/* Accepts until a stop is asked for, and expires queued connections. */
static void
accept_loop(struct pool *p)
{
    struct pollfd pf[2] = {{.fd = p->fd, .events = POLLIN},
                           {.fd = nl_stop_fd(), .events = POLLIN}};

    while (!nl_stop_requested()) {
        struct pending c;
        int wait = -1;

        if (p->sweep_at > 0) {
            double left = p->sweep_at - nl_now();

            wait = left > 0 ? (int)(left * 1000) + 1 : 0;
        }
        if (p->sweep_at > 0 && wait == 0) {
            sweep(p);
            continue;
        }
        if (poll(pf, 2, wait) <= 0 || !(pf[0].revents & POLLIN))
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

static int
threads_run(const struct nl_session_env *env, int fd, int shutdown_timeout)
{
    int dgram = nl_transport_is_dgram(env->lc->transport);
    int n = env->lc->workers, started = 0;
    pthread_t *threads = nl_xcalloc((size_t)n, sizeof(*threads));
    struct pool p;

    memset(&p, 0, sizeof(p));
    p.env = env;
    p.fd = fd;
    p.shutdown_timeout = shutdown_timeout;
    p.cap = (size_t)env->lc->max_connections;
    p.queue = nl_xcalloc(p.cap, sizeof(*p.queue));
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.more, NULL);
    if (nl_stop_init() == -1 || nl_set_nonblock(fd, 1) == -1)
        goto out;
    for (; started < n; started++) {
        int rc = pthread_create(&threads[started], NULL,
                                dgram ? dgram_worker : stream_worker, &p);

        if (rc != 0) {
            nl_errx(env->lc->name, "cannot start a worker thread: %s",
                    strerror(rc));
            break;
        }
    }
    if (started == n)
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
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    if (dgram)
        nl_session_stopped_accepting(env);
out:
    nl_transport_close_copy(fd);
    pthread_cond_destroy(&p.more);
    pthread_mutex_destroy(&p.lock);
    free(p.queue);
    free(threads);
    return started == n ? 0 : -1;
}

const struct nl_model_ops nl_model_threads = {
    .name = "threads",
    .run = threads_run,
};
