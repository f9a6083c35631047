/*
 * nlbench_stream.c - nlbench's stream engine (tcp and unix): the
 * pingpong, pipeline, connrate and idle modes.
 *
 * pingpong is pipeline with one line in flight.  A connection keeps K
 * lines in a ring (slot = line number % K); a line is started (its prefix
 * written, its clock started) only when fewer than K are unanswered, so
 * a slot is never rewritten before its echo is checked, and the echo of
 * any byte sent is compared with the ring in place.  Bytes are counted
 * from the connection's opening: line L is bytes [L*S, (L+1)*S).
 *
 * connrate opens a connection, reads to the end of stream (at least one
 * byte), closes it and opens the next; idle is pingpong with one round
 * trip per connection, after which the connection is held open and
 * watched: the server closing it or saying anything is a failure.
 *
 * Sockets are edge-triggered; each drive goes until what it waits for
 * would block.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#else
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "nlbench.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum state {
    ST_CLOSED,     /* waiting to be (re)connected */
    ST_CONNECTING, /* non-blocking connect in progress */
    ST_READY,      /* connected, nothing started yet */
    ST_ACTIVE,     /* lines in flight, or (connrate) reading the greeting */
    ST_HELD,       /* idle: its round trip done, held open */
    ST_FINISHED,   /* did all its work, or the time is up */
    ST_GAVE_UP     /* failed MAX_RETRIES times in a row */
};

struct conn {
    int fd;
    enum state state;
    unsigned id;
    int fails_in_row;
    long done;          /* lines (connrate: connections) answered in time */
    uint64_t seq;       /* lines started, over all its connections */
    uint64_t started;   /* lines started on this connection */
    uint64_t sent, got; /* bytes on this connection */
    uint64_t *t0;       /* start of each line in flight, by slot */
    unsigned char *tx;  /* the K lines */
};

/* Loopback source ports ran out: new connections bind 127.0.0.x first. */
static atomic_int spread;

static int
target_is_loopback4(void)
{
    const struct sockaddr_in *in = (const struct sockaddr_in *)&target;

    return target.ss_family == AF_INET &&
           (ntohl(in->sin_addr.s_addr) >> 24) == 127;
}

/* Binds fd to 127.0.0.(2..251), chosen by id, the port left to connect():
 * each source address has the whole ephemeral port range to itself. */
static void
bind_spread(int fd, unsigned id)
{
    struct sockaddr_in sa;
    int one = 1;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(0x7f000002u + id % 250);
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    (void)bind(fd, (struct sockaddr *)&sa, sizeof(sa));
}

static void
conn_close(struct conn *c)
{
    if (c->fd != -1) {
        close(c->fd); /* also takes it out of the epoll set */
        c->fd = -1;
    }
}

static void
conn_retire(struct worker *w, struct conn *c, enum state s)
{
    if (s != ST_HELD)
        conn_close(c);
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

    c->sent = c->got = c->started = 0;
    if (O.mode == M_CONNRATE)
        c->t0[0] = now_ns();
    for (int bound = 0;; bound = 1) {
        int fd = socket(target.ss_family,
                        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        c->fd = fd;
        c->state = ST_CLOSED;
        if (fd == -1)
            return;
        if (target.ss_family != AF_UNIX && O.mode != M_CONNRATE)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (!bound && atomic_load(&spread) && target_is_loopback4())
            bound = 1;
        if (bound)
            bind_spread(fd, c->id);
        memset(&ev, 0, sizeof(ev));
        /* connrate waits only for the greeting, the end or an error:
         * what a connect that failed also raises. */
        ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
        if (O.mode != M_CONNRATE)
            ev.events |= EPOLLOUT;
        ev.data.ptr = c;
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
            conn_close(c);
            return;
        }
        if (connect(fd, (struct sockaddr *)&target, target_len) == 0) {
            c->state = ST_READY;
            return;
        }
        if (errno == EINPROGRESS) {
            c->state = ST_CONNECTING;
            return;
        }
        /* A unix socket whose backlog is full says EAGAIN: a failure. */
        if (errno != EADDRNOTAVAIL || bound || !target_is_loopback4()) {
            conn_close(c);
            return;
        }
        conn_close(c);
        atomic_store(&spread, 1);
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
        conn_close(c);
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

/* A connect in progress: 1 still going, 0 connected, -1 failed. */
static int
connect_result(const struct conn *c)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
        err = errno;
    if (err == EINPROGRESS || err == EALREADY)
        return 1;
    if (err != 0)
        return -1;
    /* Connected only when the peer address is known. */
    if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) == -1)
        return errno == ENOTCONN ? 1 : -1;
    return 0;
}

/* Moves c from CONNECTING on: 1 when it must wait, 0 otherwise (it may
 * have failed and be anywhere). */
static int
conn_connecting(struct worker *w, struct conn *c)
{
    int rc = connect_result(c);

    if (rc > 0)
        return 1;
    if (rc < 0)
        conn_fail(w, c, F_CONNECT);
    else
        c->state = ST_READY;
    return 0;
}

/* ---- lines: pingpong, pipeline, idle ---- */

static uint64_t
in_flight(const struct conn *c)
{
    return c->started - c->got / O.size;
}

/* Whether c may start another line now. */
static int
may_start(const struct conn *c, uint64_t now)
{
    if (O.rounds > 0)
        return c->done + (long)in_flight(c) < O.rounds;
    return now < atomic_load(&t_stop);
}

static void
lines_start(struct conn *c, uint64_t now)
{
    uint64_t k = (uint64_t)O.inflight;

    while (in_flight(c) < k && may_start(c, now)) {
        uint64_t slot = c->started % k;

        fill_prefix(c->tx + slot * O.size, c->id, c->seq++);
        c->t0[slot] = now;
        c->started++;
    }
}

/* n more bytes of echo arrived (and matched): counts the lines done. */
static void
lines_answered(struct worker *w, struct conn *c, size_t n)
{
    uint64_t line = c->got / O.size, end, t = now_ns();
    uint64_t stop = atomic_load(&t_stop);

    c->got += n;
    w->st.bytes_in += n;
    for (end = c->got / O.size; line < end; line++) {
        c->fails_in_row = 0;
        if (stop != 0 && t > stop) { /* after the end of a -d run */
            w->st.unfinished++;
            continue;
        }
        stats_add_latency(&w->st, t - c->t0[line % (uint64_t)O.inflight]);
        c->done++;
    }
}

/* One send of what is started but not sent: 1 when it would block,
 * -1 when the connection failed, 0 otherwise. */
static int
lines_send(struct worker *w, struct conn *c, uint64_t limit)
{
    size_t ring = O.size * (size_t)O.inflight;
    size_t off = (size_t)(c->sent % ring);
    size_t len =
        limit - c->sent < ring - off ? (size_t)(limit - c->sent) : ring - off;
    ssize_t n = send(c->fd, c->tx + off, len, MSG_NOSIGNAL);

    if (n > 0) {
        c->sent += (size_t)n;
        return 0;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 1;
    if (errno == EINTR)
        return 0;
    conn_fail(w, c, F_RESET);
    return -1;
}

/* One recv of echo, checked against the ring: as lines_send. */
static int
lines_recv(struct worker *w, struct conn *c)
{
    size_t ring = O.size * (size_t)O.inflight;
    size_t off = (size_t)(c->got % ring);
    size_t want =
        c->sent - c->got < ring - off ? (size_t)(c->sent - c->got) : ring - off;
    ssize_t n;

    if (want > RECV_CHUNK)
        want = RECV_CHUNK;
    n = recv(c->fd, w->rx, want, 0);
    if (n > 0) {
        if (memcmp(w->rx, c->tx + off, (size_t)n) != 0) {
            conn_fail(w, c, F_MISMATCH);
            return -1;
        }
        lines_answered(w, c, (size_t)n);
        return 0;
    }
    if (n == 0) {
        conn_fail(w, c, F_EOF);
        return -1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 1;
    if (errno == EINTR)
        return 0;
    conn_fail(w, c, F_RESET);
    return -1;
}

/* Moves c on as far as it goes without blocking. */
static void
lines_drive(struct worker *w, struct conn *c)
{
    for (;;) {
        int send_blocked = 0, recv_blocked = 0, quiet;
        uint64_t limit;

        if (c->state == ST_CONNECTING && conn_connecting(w, c))
            return;
        if (c->state == ST_READY) {
            /* Lines wait for the start everyone crosses together. */
            if (atomic_load(&t_start) == 0)
                return;
            c->state = ST_ACTIVE;
        }
        if (c->state != ST_ACTIVE)
            return;
        lines_start(c, now_ns());
        limit = c->started * O.size;
        if (c->got == limit) { /* nothing in flight, nothing to start */
            conn_retire(w, c, O.mode == M_IDLE ? ST_HELD : ST_FINISHED);
            return;
        }
        quiet = c->got == c->sent;
        if (c->sent < limit) {
            send_blocked = lines_send(w, c, limit);
            if (send_blocked < 0)
                continue;
        }
        if (c->got == c->sent || (quiet && c->sent == limit)) {
            /* Nothing to read, or the echo of what just went out cannot
             * be here yet: its arrival is an edge of its own, so save a
             * recv() that would say EAGAIN. */
            recv_blocked = 1;
        } else {
            recv_blocked = lines_recv(w, c);
            if (recv_blocked < 0)
                continue;
        }
        if ((c->sent == limit || send_blocked) && recv_blocked)
            return;
    }
}

/* Idle: anything from a held connection (data, end, reset) is a failure;
 * it is closed and not reopened. */
static void
held_event(struct worker *w, struct conn *c)
{
    ssize_t n = recv(c->fd, w->rx, RECV_CHUNK, 0);

    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    w->st.failures[n > 0 ? F_MISMATCH : n == 0 ? F_EOF : F_RESET]++;
    conn_close(c);
    c->state = ST_FINISHED;
}

/* ---- connrate ---- */

static int
may_greet(const struct conn *c, uint64_t now)
{
    if (O.rounds > 0)
        return c->done < O.rounds;
    return now < atomic_load(&t_stop);
}

/* Reads the greeting to its end; then the next connection.  A connect in
 * progress is read as if done (the least a client can do per connection:
 * no wait for writable, no getsockopt): its failure is the read's error,
 * and a greeting cannot come before the connection is made. */
static void
greet_drive(struct worker *w, struct conn *c)
{
    for (;;) {
        uint64_t t, stop;
        ssize_t n;

        if (c->state == ST_CONNECTING || c->state == ST_READY)
            c->state = ST_ACTIVE;
        if (c->state != ST_ACTIVE)
            return;
        n = recv(c->fd, w->rx, RECV_CHUNK, 0);
        if (n > 0) {
            c->got += (size_t)n;
            w->st.bytes_in += (size_t)n;
            continue;
        }
        if (n == -1) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == ECONNREFUSED || errno == ETIMEDOUT ||
                errno == ENETUNREACH || errno == EHOSTUNREACH)
                conn_fail(w, c, F_CONNECT);
            else if (errno != EINTR)
                conn_fail(w, c, F_RESET);
            continue;
        }
        if (c->got == 0) { /* closed without a word */
            conn_fail(w, c, F_EOF);
            continue;
        }
        t = now_ns();
        stop = atomic_load(&t_stop);
        if (stop != 0 && t > stop) {
            w->st.unfinished++;
        } else {
            stats_add_latency(&w->st, t - c->t0[0]);
            c->done++;
        }
        c->fails_in_row = 0;
        conn_close(c);
        if (!may_greet(c, t)) {
            conn_retire(w, c, ST_FINISHED);
            return;
        }
        /* The greeting's arrival (or the connect's failure) is an edge
         * of its own: no read until then. */
        conn_open(w, c);
        if (c->state == ST_CLOSED)
            conn_fail(w, c, F_CONNECT);
        return;
    }
}

/* ---- the worker ---- */

static void
on_event(struct worker *w, void *ptr)
{
    struct conn *c = ptr;

    if (c->state == ST_HELD)
        held_event(w, c);
    else if (O.mode == M_CONNRATE)
        greet_drive(w, c);
    else
        lines_drive(w, c);
}

static int
all_connected(struct worker *w)
{
    struct conn *cs = w->conns;

    for (long i = 0; i < w->nconns; i++)
        if (cs[i].state == ST_CONNECTING)
            return 0;
    return 1;
}

static int
all_done(struct worker *w)
{
    return w->nlive == 0;
}

static int
is_released(struct worker *w)
{
    (void)w;
    return atomic_load(&released);
}

static uint64_t
count_held(struct worker *w)
{
    struct conn *cs = w->conns;
    uint64_t n = 0;

    for (long i = 0; i < w->nconns; i++)
        n += cs[i].state == ST_HELD;
    return n;
}

static void *
stream_main(void *arg)
{
    struct worker *w = arg;
    struct conn *cs = w->conns;

    /* Phase 1: connect everything, outside the measured time (connrate
     * measures its connects: it opens them in phase 2). */
    if (O.mode != M_CONNRATE) {
        for (long i = 0; i < w->nconns; i++) {
            conn_open(w, &cs[i]);
            if (cs[i].state == ST_CLOSED)
                conn_fail(w, &cs[i], F_CONNECT);
        }
        worker_loop(w, all_connected, on_event, 100, NULL);
    }
    pthread_barrier_wait(&barrier); /* everyone connected */
    pthread_barrier_wait(&barrier); /* t_start is set */

    /* Phase 2: the work. */
    if (!atomic_load(&aborted)) {
        for (long i = 0; i < w->nconns; i++) {
            struct conn *c = &cs[i];

            if (O.mode == M_CONNRATE) {
                conn_open(w, c);
                if (c->state == ST_CLOSED)
                    conn_fail(w, c, F_CONNECT);
            } else if (c->state == ST_READY) {
                lines_drive(w, c);
            }
        }
        worker_loop(w, all_done, on_event, 100, NULL);
    }
    /* Idle, phase 3: hold until main says so, watching for closes. */
    if (O.mode == M_IDLE) {
        w->st.held = count_held(w);
        pthread_barrier_wait(&barrier);
        worker_loop(w, is_released, on_event, 100, NULL);
        w->st.held = count_held(w);
    }
    /* A -d run ends with lines in flight: they are not failures. */
    for (long i = 0; i < w->nconns; i++) {
        struct conn *c = &cs[i];

        if (c->state == ST_ACTIVE || c->state == ST_CONNECTING)
            w->st.unfinished += O.mode == M_CONNRATE ? 1 : in_flight(c);
        if (c->done == 0)
            w->st.unanswered++;
        conn_close(c);
    }
    if (w->t_end == 0)
        w->t_end = now_ns();
    return NULL;
}

static void
stream_setup(struct worker *w)
{
    struct conn *cs = xcalloc((size_t)w->nconns, sizeof(*cs));
    size_t k = (size_t)O.inflight;

    for (long i = 0; i < w->nconns; i++) {
        struct conn *c = &cs[i];

        c->fd = -1;
        c->id = (unsigned)(w->first + i);
        c->t0 = xcalloc(k, sizeof(*c->t0));
        if (O.mode == M_CONNRATE)
            continue;
        c->tx = xcalloc(k, O.size);
        for (size_t j = 0; j < k; j++) {
            fill_letters(c->tx + j * O.size, O.size - 1, c->id);
            c->tx[j * O.size + O.size - 1] = '\n';
        }
    }
    w->conns = cs;
}

static void
stream_cleanup(struct worker *w)
{
    struct conn *cs = w->conns;

    for (long i = 0; i < w->nconns; i++) {
        free(cs[i].t0);
        free(cs[i].tx);
    }
    free(cs);
}

const struct engine stream_engine = {
    .setup = stream_setup,
    .main = stream_main,
    .cleanup = stream_cleanup,
};
