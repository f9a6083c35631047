/*
 * model_libev.c - non-blocking sessions on a libev loop.
 *
 * Each connection has one ev_io, watching for reading while the session
 * wants input and for writing while output is queued, and one ev_timer
 * for idle_timeout (libev's "reset on activity" pattern: the timer only
 * re-arms itself, activity just notes the time).  A client that does not
 * read makes its output reach NL_SESSION_OUT_HIGH, and then we stop reading
 * from it instead of buffering more: its memory stays bounded and other
 * clients never wait for it.
 *
 * Accepting stops for a second when the process is out of descriptors
 * (EMFILE), rather than spinning on a listening socket that stays readable.
 * For the same reason a loop never returns from its accept callback with
 * a connection waiting and its watcher still on: a loop that leaves the
 * connection to the others (nl_admit_over_share) stops watching for a
 * moment too.
 *
 * With workers = N the process runs N loops in N threads, each with its own
 * sessions and its own dup() of the listening socket, so that any loop
 * with a free moment accepts the next connection and each can close its
 * copy on stop without pulling the descriptor from under the others.  The
 * main thread's loop owns SIGTERM and passes the stop on with
 * ev_async; max_connections is counted across loops (admit.c).  The
 * loops share their process's counter slot, so each counts its sessions'
 * bytes and errors in a slot of its own and adds them to the shared one
 * once per loop iteration, just before it waits (libev's release
 * callback): the shared line is written once per batch, not by every
 * loop for every message.
 *
 * What a connection's watcher waits for is the session's to say
 * (nl_session_events()); this file reads none of its fields.
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admit.h"
#include "conf.h"
#include "log.h"
#include "model.h"
#include "session.h"
#include "stats.h"
#include "util.h"

#define ACCEPT_BATCH 64
#define DGRAM_BATCH  64

/* Seconds a loop stops accepting: out of descriptors or memory, and over
 * its share (it looks again sooner when one of its sessions ends). */
#define ACCEPT_PAUSE_FULL  1.0
#define ACCEPT_PAUSE_SHARE 0.1

struct conn;

struct worker {
    struct ev_loop *loop;
    const struct nl_session_env *env; /* admission counts here */
    struct nl_session_env senv;       /* sessions' counts here: env, or */
    char pad0[64];                    /* with several loops, counts */
    struct nl_counters counts;        /* on lines of this loop's own */
    char pad1[64];
    int fd;
    int dgram;
    int stopping;
    int shutdown_timeout;
    int nactive;
    int yielding; /* accepting paused for over_share, not for EMFILE */
    ev_io listen_w;
    ev_timer backoff_w;
    ev_timer stop_w;
    ev_signal term_w; /* first loop only */
    ev_async stop_async; /* the other loops */
    struct worker *all;  /* every loop of the process, first one first */
    int nall;
    int nstopped; /* first loop only: loops that stopped accepting */
    pthread_t thread;
    struct conn *conns;
    char *dgram_buf;
};

struct conn {
    struct nl_session s;
    struct worker *w;
    ev_io io;
    ev_timer idle;
    ev_tstamp last;
    struct conn *prev, *next;
};

/* With several loops on one socket, a loop that has more than its share
 * of sessions leaves the next connection to the others, which wake for
 * it too (admit.c holds the rule). */
static int
over_share(const struct worker *w)
{
    return nl_admit_over_share(w->env, w->nactive, w->nall);
}

/* Stops watching the listening socket for `after` seconds: a watcher left
 * on with a connection waiting would fire again at once, and again. */
static void
accept_pause(struct worker *w, ev_tstamp after, int yielding)
{
    ev_io_stop(w->loop, &w->listen_w);
    ev_timer_stop(w->loop, &w->backoff_w);
    ev_timer_set(&w->backoff_w, after, 0.0);
    ev_timer_start(w->loop, &w->backoff_w);
    w->yielding = yielding;
}

static void
accept_resume(struct worker *w)
{
    ev_timer_stop(w->loop, &w->backoff_w);
    w->yielding = 0;
    if (!w->stopping)
        ev_io_start(w->loop, &w->listen_w);
}

static void
conn_free(struct conn *c)
{
    struct worker *w = c->w;

    ev_io_stop(w->loop, &c->io);
    ev_timer_stop(w->loop, &c->idle);
    nl_session_end(&c->s);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    nl_admit_leave(w->env, nl_session_conn(&c->s));
    w->nactive--;
    free(c);
    if (w->yielding && !over_share(w))
        accept_resume(w);
    if (w->stopping && w->nactive == 0)
        ev_break(w->loop, EVBREAK_ALL);
}

/* libev's event bits are the session's, so that they pass unmapped. */
_Static_assert(EV_READ == NL_EV_READ && EV_WRITE == NL_EV_WRITE,
               "libev's EV_READ/EV_WRITE differ from NL_EV_READ/NL_EV_WRITE");

/* Points the connection's watcher at `want` (NL_EV_* bits), or frees the
 * connection when the session is over (-1).  An echo's watcher stays as
 * it is from one message to the next: libev is asked for nothing. */
static void
conn_update(struct conn *c, int want)
{
    if (want == -1) {
        conn_free(c);
        return;
    }
    if (want != (c->io.events & (EV_READ | EV_WRITE))) {
        ev_io_stop(c->w->loop, &c->io);
        ev_io_set(&c->io, c->io.fd, want);
        if (want)
            ev_io_start(c->w->loop, &c->io);
    }
}

static void
conn_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct conn *c = (struct conn *)((char *)io - offsetof(struct conn, io));

    int want;

    if (ev_is_active(&c->idle)) /* idle_timeout set */
        c->last = ev_now(loop);
    want = nl_session_step(&c->s, revents & (EV_READ | EV_WRITE));
    if (want != (c->io.events & (EV_READ | EV_WRITE)))
        conn_update(c, want);
}

static void
conn_idle_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, idle));
    ev_tstamp timeout = c->w->env->lc->idle_timeout;
    ev_tstamp left = nl_session_header_left(&c->s);

    if (left == 0) { /* no PROXY header in time */
        nl_session_header_late(&c->s);
        conn_free(c);
        return;
    }
    if (left < 0 && timeout == 0) { /* the header came; no idle_timeout */
        ev_timer_stop(loop, t);
        return;
    }
    if (left < 0)
        left = c->last + timeout - ev_now(loop);
    if (left > 0) {
        t->repeat = left;
        ev_timer_again(loop, t);
        return;
    }
    nl_info(c->w->env->lc->name, "%s: idle for %d s, closing the session",
            nl_session_peer(&c->s),
            c->w->env->lc->idle_timeout);
    nl_session_ending(&c->s, NL_END_IDLE);
    conn_free(c);
}

static void
conn_new(struct worker *w, const struct nl_conn *nc, const struct sockaddr *sa,
         socklen_t len)
{
    struct conn *c = nl_xcalloc(1, sizeof(*c));

    c->w = w;
    nl_session_init(&c->s, &w->senv, nc, sa, len);
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    w->nactive++;
    ev_io_init(&c->io, conn_io_cb, nl_session_fd(&c->s), 0);
    c->last = ev_now(w->loop);
    ev_init(&c->idle, conn_idle_cb);
    /* A PROXY header is awaited first, and for less long. */
    if (nl_session_header_left(&c->s) > 0)
        c->idle.repeat = nl_session_header_left(&c->s);
    else
        c->idle.repeat = w->env->lc->idle_timeout;
    if (c->idle.repeat > 0)
        ev_timer_again(w->loop, &c->idle);
    if (nl_session_open(&c->s) == 0)
        nl_session_flush(&c->s);
    conn_update(c, nl_session_done(&c->s) ? -1 : nl_session_events(&c->s));
}

static void
backoff_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    accept_resume(t->data);
}

static void
accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct worker *w = io->data;

    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len;
        struct nl_conn nc;

        /* Left to the others, which may be paused themselves (EMFILE):
         * watching on would wake this loop again at once, and again. */
        if (over_share(w)) {
            accept_pause(w, ACCEPT_PAUSE_SHARE, 1);
            return;
        }
        switch (nl_session_accept(w->env, w->fd, &nc, &ss, &len)) {
        case NL_ACCEPT_OK:
            conn_new(w, &nc, (struct sockaddr *)&ss, len);
            break;
        case NL_ACCEPT_SKIP:
            break;
        case NL_ACCEPT_AGAIN:
            return;
        case NL_ACCEPT_FULL:
            accept_pause(w, ACCEPT_PAUSE_FULL, 0);
            return;
        }
    }
}

static void
dgram_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct worker *w = io->data;

    for (int i = 0; i < DGRAM_BATCH; i++)
        if (nl_session_recv_datagram(&w->senv, w->fd, w->dgram_buf) == 0)
            return;
}

static void
stop_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct worker *w = t->data;

    if (w->nactive > 0)
        nl_notice(w->env->lc->name,
                  "shutdown_timeout passed, closing %d open session(s)",
                  w->nactive);
    while (w->conns != NULL) {
        nl_session_ending(&w->conns->s, NL_END_STOP);
        conn_free(w->conns);
    }
    ev_break(loop, EVBREAK_ALL);
}

/* Stops accepting and lets open sessions run for shutdown_timeout. */
static void
begin_stop(struct worker *w)
{
    if (w->stopping)
        return;
    w->stopping = 1;
    ev_io_stop(w->loop, &w->listen_w);
    ev_timer_stop(w->loop, &w->backoff_w);
    w->yielding = 0;
    /* Once every copy is closed (the master closes its own), new
     * connections are refused at once. */
    nl_transport_close_copy(w->fd);
    w->fd = -1;
    if (__atomic_add_fetch(&w->all[0].nstopped, 1, __ATOMIC_ACQ_REL) == w->nall)
        nl_session_stopped_accepting(w->env);
    if (w->nactive == 0 || w->dgram) {
        ev_break(w->loop, EVBREAK_ALL);
        return;
    }
    ev_timer_set(&w->stop_w, w->shutdown_timeout, 0.0);
    ev_timer_start(w->loop, &w->stop_w);
}

static void
signal_cb(struct ev_loop *loop, ev_signal *sig, int revents)
{
    struct worker *w = sig->data;

    for (int i = 1; i < w->nall; i++)
        ev_async_send(w->all[i].loop, &w->all[i].stop_async);
    begin_stop(w);
}

static void
async_cb(struct ev_loop *loop, ev_async *a, int revents)
{
    begin_stop(a->data);
}

/* Just before the loop waits: its counts go to the shared slot. */
static void
fold_counts(struct ev_loop *loop)
{
    struct worker *w = ev_userdata(loop);

    nl_stats_fold(w->env->ctr, &w->counts);
}

static void
nothing_to_take(struct ev_loop *loop)
{
}

/* Where the sessions of loop w count: the shared slot when w is the only
 * loop, else w->counts, folded in before each wait. */
static void
worker_counts(struct worker *w)
{
    w->senv = *w->env;
    if (w->nall == 1)
        return;
    w->senv.ctr = &w->counts;
    ev_set_userdata(w->loop, w);
    ev_set_loop_release_cb(w->loop, fold_counts, nothing_to_take);
}

static void *
thread_main(void *arg)
{
    struct worker *w = arg;

    ev_run(w->loop, 0);
    return NULL;
}

static int
worker_init(struct worker *w, const struct nl_session_env *env, int fd,
            int shutdown_timeout)
{
    w->env = env;
    w->dgram = nl_transport_is_dgram(env->lc->transport);
    w->shutdown_timeout = shutdown_timeout;
    if ((w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
        nl_log_errno(env->lc->name, "dup");
        return -1;
    }
    if ((w->loop = ev_loop_new(EVFLAG_AUTO)) == NULL) {
        nl_errx(env->lc->name, "cannot create an event loop");
        nl_transport_close_copy(w->fd);
        return -1;
    }
    if (w->dgram) {
        w->dgram_buf = nl_xmalloc(NL_DGRAM_MAX);
        ev_io_init(&w->listen_w, dgram_cb, w->fd, EV_READ);
    } else {
        ev_io_init(&w->listen_w, accept_cb, w->fd, EV_READ);
    }
    w->listen_w.data = w;
    ev_init(&w->backoff_w, backoff_cb);
    w->backoff_w.data = w;
    ev_init(&w->stop_w, stop_timeout_cb);
    w->stop_w.data = w;
    ev_async_init(&w->stop_async, async_cb);
    w->stop_async.data = w;
    ev_async_start(w->loop, &w->stop_async);
    ev_io_start(w->loop, &w->listen_w);
    return 0;
}

static void
worker_fini(struct worker *w)
{
    while (w->conns != NULL) {
        nl_session_ending(&w->conns->s, NL_END_STOP);
        conn_free(w->conns);
    }
    nl_stats_fold(w->env->ctr, &w->counts);
    nl_transport_close_copy(w->fd);
    free(w->dgram_buf);
    ev_loop_destroy(w->loop);
}

static int
libev_run(const struct nl_session_env *env, int fd, int shutdown_timeout)
{
    int n = env->lc->workers > 0 ? env->lc->workers : 1, started = 0;
    struct worker *all = nl_xcalloc((size_t)n, sizeof(*all));
    sigset_t block, old;

    if (nl_set_nonblock(fd, 1) == -1) {
        nl_log_errno(env->lc->name, "fcntl");
        free(all);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (worker_init(&all[i], env, fd, shutdown_timeout) == -1) {
            while (i-- > 0)
                worker_fini(&all[i]);
            free(all);
            return -1;
        }
        all[i].all = all;
        all[i].nall = n;
        worker_counts(&all[i]);
    }
    /* The master's copy stays open until it stops; ours are the dups. */
    nl_transport_close_copy(fd);
    ev_signal_init(&all[0].term_w, signal_cb, SIGTERM);
    all[0].term_w.data = &all[0];
    ev_signal_start(all[0].loop, &all[0].term_w);

    /* Only the first loop takes signals: the others are created with
     * every signal blocked. */
    sigfillset(&block);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (int i = 1; i < n; i++) {
        int rc = pthread_create(&all[i].thread, NULL, thread_main, &all[i]);

        if (rc != 0) {
            nl_errx(env->lc->name, "cannot start event loop thread: %s",
                    strerror(rc));
            break;
        }
        started = i;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    /* serve.c keeps the stop signals blocked until they are watched. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &block, NULL);

    if (started == n - 1)
        ev_run(all[0].loop, 0);
    else
        signal_cb(all[0].loop, &all[0].term_w, 0);
    for (int i = 1; i <= started; i++)
        pthread_join(all[i].thread, NULL);
    for (int i = 0; i < n; i++)
        worker_fini(&all[i]);
    free(all);
    return started == n - 1 ? 0 : -1;
}

const struct nl_model_ops nl_model_libev = {
    .name = "libev",
    .run = libev_run,
};
