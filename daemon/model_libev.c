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
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "model.h"
#include "session.h"
#include "stats.h"
#include "util.h"

#define ACCEPT_BATCH 64
#define DGRAM_BATCH  64
#define DGRAM_MAX    65536

struct conn;

struct worker {
    struct ev_loop *loop;
    const struct nl_session_env *env;
    int fd;
    int dgram;
    int stopping;
    int shutdown_timeout;
    int nactive;
    ev_io listen_w;
    ev_timer backoff_w;
    ev_timer stop_w;
    ev_signal term_w;
    ev_signal int_w;
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
    nl_count_sub(w->env->ctr, active, 1);
    w->nactive--;
    free(c);
    if (w->stopping && w->nactive == 0)
        ev_break(w->loop, EVBREAK_ALL);
}

/* Points the connection's watcher at what the session needs next, or frees
 * the connection when the session is over. */
static void
conn_update(struct conn *c)
{
    int events = 0;

    if (nl_session_done(&c->s)) {
        conn_free(c);
        return;
    }
    if (nl_session_want_read(&c->s))
        events |= EV_READ;
    if (c->s.out.len > 0)
        events |= EV_WRITE;
    if (events != (c->io.events & (EV_READ | EV_WRITE))) {
        ev_io_stop(c->w->loop, &c->io);
        ev_io_set(&c->io, c->s.fd, events);
        if (events)
            ev_io_start(c->w->loop, &c->io);
    }
}

static void
conn_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct conn *c = (struct conn *)((char *)io - offsetof(struct conn, io));

    c->last = ev_now(loop);
    if ((revents & EV_READ) && nl_session_want_read(&c->s))
        nl_session_read(&c->s);
    if (!c->s.failed && c->s.out.len > 0)
        nl_session_flush(&c->s);
    conn_update(c);
}

static void
conn_idle_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, idle));
    ev_tstamp timeout = c->w->env->lc->idle_timeout;
    ev_tstamp left = c->last + timeout - ev_now(loop);

    if (left > 0) {
        t->repeat = left;
        ev_timer_again(loop, t);
        return;
    }
    nl_info(c->w->env->lc->name, "%s: idle for %d s, closing the session",
            c->s.h.host->peer((struct netlabd_session *)&c->s),
            c->w->env->lc->idle_timeout);
    conn_free(c);
}

static void
conn_new(struct worker *w, int fd, const struct sockaddr *sa, socklen_t len)
{
    struct conn *c = nl_xcalloc(1, sizeof(*c));

    c->w = w;
    nl_session_init(&c->s, w->env, fd, sa, len);
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    w->nactive++;
    nl_count_add(w->env->ctr, active, 1);
    nl_count_add(w->env->ctr, total, 1);
    ev_io_init(&c->io, conn_io_cb, fd, 0);
    c->last = ev_now(w->loop);
    if (w->env->lc->idle_timeout > 0) {
        ev_init(&c->idle, conn_idle_cb);
        c->idle.repeat = w->env->lc->idle_timeout;
        ev_timer_again(w->loop, &c->idle);
    }
    if (nl_session_open(&c->s) == 0 && c->s.out.len > 0)
        nl_session_flush(&c->s);
    conn_update(c);
}

static void
backoff_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct worker *w = t->data;

    if (!w->stopping)
        ev_io_start(loop, &w->listen_w);
}

static void
accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct worker *w = io->data;
    const struct nl_listener_conf *lc = w->env->lc;

    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(w->fd, (struct sockaddr *)&ss, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd == -1) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                nl_log_errno(lc->name, "accept (pausing for 1 s)");
                ev_io_stop(loop, &w->listen_w);
                ev_timer_set(&w->backoff_w, 1.0, 0.0);
                ev_timer_start(loop, &w->backoff_w);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                nl_log_errno(lc->name, "accept");
            }
            return;
        }
        if (w->nactive >= lc->max_connections) {
            nl_count_add(w->env->ctr, refused, 1);
            close(fd);
            continue;
        }
        conn_new(w, fd, (struct sockaddr *)&ss, len);
    }
}

static void
dgram_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct worker *w = io->data;

    for (int i = 0; i < DGRAM_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        ssize_t n = recvfrom(w->fd, w->dgram_buf, DGRAM_MAX, MSG_DONTWAIT,
                             (struct sockaddr *)&ss, &len);

        if (n == -1) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                nl_log_errno(w->env->lc->name, "recvfrom");
            return;
        }
        if (len < sizeof(sa_family_t)) {
            /* An unbound unix sender has no address at all. */
            ss.ss_family = AF_UNIX;
            len = sizeof(sa_family_t);
        }
        nl_session_datagram(w->env, w->fd, (struct sockaddr *)&ss, len,
                            w->dgram_buf, (size_t)n);
    }
}

static void
stop_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct worker *w = t->data;

    if (w->nactive > 0)
        nl_notice(w->env->lc->name,
                  "shutdown_timeout passed, closing %d open session(s)",
                  w->nactive);
    while (w->conns != NULL)
        conn_free(w->conns);
    ev_break(loop, EVBREAK_ALL);
}

static void
stop_cb(struct ev_loop *loop, ev_signal *sig, int revents)
{
    struct worker *w = sig->data;

    if (w->stopping)
        return;
    w->stopping = 1;
    ev_io_stop(loop, &w->listen_w);
    ev_timer_stop(loop, &w->backoff_w);
    /* Closing our copy of the socket makes new connections fail at once
     * once the master has closed its copy too. */
    close(w->fd);
    w->fd = -1;
    if (w->nactive == 0 || w->dgram) {
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    ev_timer_set(&w->stop_w, w->shutdown_timeout, 0.0);
    ev_timer_start(loop, &w->stop_w);
}

static int
libev_run(const struct nl_session_env *env, int fd, int shutdown_timeout)
{
    struct worker w;

    memset(&w, 0, sizeof(w));
    w.env = env;
    w.fd = fd;
    w.dgram = nl_transport_is_dgram(env->lc->transport);
    w.shutdown_timeout = shutdown_timeout;
    w.loop = ev_loop_new(EVFLAG_AUTO);
    if (w.loop == NULL) {
        nl_errx(env->lc->name, "cannot create an event loop");
        return -1;
    }
    if (nl_set_nonblock(fd, 1) == -1) {
        nl_log_errno(env->lc->name, "fcntl");
        ev_loop_destroy(w.loop);
        return -1;
    }
    if (w.dgram) {
        w.dgram_buf = nl_xmalloc(DGRAM_MAX);
        ev_io_init(&w.listen_w, dgram_cb, fd, EV_READ);
    } else {
        ev_io_init(&w.listen_w, accept_cb, fd, EV_READ);
    }
    w.listen_w.data = &w;
    ev_init(&w.backoff_w, backoff_cb);
    w.backoff_w.data = &w;
    ev_init(&w.stop_w, stop_timeout_cb);
    w.stop_w.data = &w;
    ev_signal_init(&w.term_w, stop_cb, SIGTERM);
    w.term_w.data = &w;
    ev_signal_init(&w.int_w, stop_cb, SIGINT);
    w.int_w.data = &w;
    ev_io_start(w.loop, &w.listen_w);
    ev_signal_start(w.loop, &w.term_w);
    ev_signal_start(w.loop, &w.int_w);

    ev_run(w.loop, 0);

    while (w.conns != NULL)
        conn_free(w.conns);
    if (w.fd != -1)
        close(w.fd);
    free(w.dgram_buf);
    ev_loop_destroy(w.loop);
    return 0;
}

const struct nl_model_ops nl_model_libev = {
    .name = "libev",
    .run = libev_run,
};
