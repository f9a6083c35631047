/*
 * nlbench_udp.c - nlbench's datagram engine: udp (-h/-p) and unix
 * datagram (-U) echo, request by request, with loss counting.
 *
 * Each socket is connected to the server (so the kernel drops datagrams
 * from anyone else) and sends one request at a time: S bytes starting
 * with its id and request number.  The echo must be those bytes.  A
 * request unanswered after LOST_MS is lost and the next one goes out; its
 * echo, should it come later, is recognised by its number and ignored.
 *
 * A unix datagram client must have an address of its own for the answer
 * to reach it: each socket is bound to a path in a private temporary
 * folder, removed at exit (also when nlbench dies of an error).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#else
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/un.h>
#include <unistd.h>

#include "nlbench.h"

#define LOST_NS  ((uint64_t)LOST_MS * 1000000u)
#define TICK_NS  10000000u /* how often requests are checked for loss */
#define ID_CHARS 8         /* the part of the prefix naming the socket */

struct dsock {
    int fd;
    unsigned id;
    int waiting; /* a request is out */
    int retired;
    int fails_in_row;
    long sent;    /* requests sent */
    long done;    /* answered in time */
    uint64_t seq; /* the request out, or the next one */
    uint64_t t0;
    unsigned char *tx;
};

/* The folder of the unix datagram clients' addresses, "" when none. */
static char client_dir[PATH_MAX];

static void
client_path(char *buf, size_t size, unsigned id)
{
    snprintf(buf, size, "%s/%x", client_dir, id);
}

/* Removes the clients' folder and whatever is in it (at exit). */
static void
remove_client_dir(void)
{
    DIR *d;
    struct dirent *e;
    char path[PATH_MAX + 64];

    if (client_dir[0] == '\0' || (d = opendir(client_dir)) == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", client_dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(client_dir);
    client_dir[0] = '\0';
}

static void
make_client_dir(void)
{
    const char *tmp = getenv("TMPDIR");

    if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) > 60)
        tmp = "/tmp";
    snprintf(client_dir, sizeof(client_dir), "%s/nlbench.XXXXXX", tmp);
    if (mkdtemp(client_dir) == NULL) {
        client_dir[0] = '\0';
        die("cannot make a folder for the clients' sockets in %s: %s", tmp,
            strerror(errno));
    }
    atexit(remove_client_dir);
}

static void
dsock_retire(struct worker *w, struct dsock *d)
{
    d->retired = 1;
    d->waiting = 0;
    w->nlive--;
    if (w->nlive == 0)
        w->t_end = now_ns();
}

/* Counts a failure; after MAX_RETRIES in a row the socket gives up.  The
 * next request goes out at the next tick. */
static void
dsock_fail(struct worker *w, struct dsock *d, enum failure why)
{
    w->st.failures[why]++;
    d->waiting = 0;
    if (++d->fails_in_row >= MAX_RETRIES) {
        w->st.gave_up++;
        dsock_retire(w, d);
    }
}

static int
may_send(const struct dsock *d, uint64_t now)
{
    if (O.rounds > 0)
        return d->sent < O.rounds;
    return now < atomic_load(&t_stop);
}

/* Sends the next request, or retires the socket when it is done. */
static void
dsock_next(struct worker *w, struct dsock *d, uint64_t now)
{
    ssize_t n;

    if (!may_send(d, now)) {
        dsock_retire(w, d);
        return;
    }
    fill_prefix(d->tx, d->id, ++d->seq);
    d->t0 = now;
    d->waiting = 1;
    d->sent++;
    do
        n = send(d->fd, d->tx, O.size, 0);
    while (n == -1 && errno == EINTR);
    /* A full queue drops it as the network would: it will be lost. */
    if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
        dsock_fail(w, d, errno == ECONNREFUSED ? F_CONNECT : F_RESET);
}

/* One datagram from the server, n bytes in w->rx. */
static void
dsock_answer(struct worker *w, struct dsock *d, size_t n)
{
    uint64_t t, stop;

    w->st.bytes_in += n;
    if (!d->waiting || n != O.size || memcmp(w->rx, d->tx, n) != 0) {
        /* A late echo of one of its earlier requests is no failure. */
        size_t idn = O.size - 1 < ID_CHARS ? O.size - 1 : ID_CHARS;

        if (n != O.size || memcmp(w->rx, d->tx, idn) != 0)
            dsock_fail(w, d, F_MISMATCH);
        return;
    }
    t = now_ns();
    stop = atomic_load(&t_stop);
    d->waiting = 0;
    d->fails_in_row = 0;
    if (stop != 0 && t > stop) { /* after the end of a -d run */
        w->st.unfinished++;
        dsock_retire(w, d);
        return;
    }
    stats_add_latency(&w->st, t - d->t0);
    d->done++;
    dsock_next(w, d, t);
}

static void
on_event(struct worker *w, void *ptr)
{
    struct dsock *d = ptr;

    while (!d->retired) {
        ssize_t n = recv(d->fd, w->rx, RECV_CHUNK, 0);

        if (n >= 0) {
            dsock_answer(w, d, (size_t)n);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno != EINTR) /* e.g. nothing listens: ECONNREFUSED */
            dsock_fail(w, d, errno == ECONNREFUSED ? F_CONNECT : F_RESET);
    }
}

/* Every TICK_NS: requests out for LOST_NS are lost (or, after the end of
 * a -d run, unfinished); sockets without a request out send one. */
static void
tick(struct worker *w, uint64_t now)
{
    static _Thread_local uint64_t last;
    struct dsock *ds = w->conns;
    uint64_t stop = atomic_load(&t_stop);

    if (now - last < TICK_NS)
        return;
    last = now;
    for (long i = 0; i < w->nconns; i++) {
        struct dsock *d = &ds[i];

        if (d->retired)
            continue;
        if (d->waiting && now - d->t0 < LOST_NS)
            continue;
        if (d->waiting) {
            d->waiting = 0;
            if (stop != 0 && now > stop) {
                w->st.unfinished++;
                dsock_retire(w, d);
                continue;
            }
            w->st.lost++;
        }
        dsock_next(w, d, now);
    }
}

static int
all_done(struct worker *w)
{
    return w->nlive == 0;
}

static void *
udp_main(void *arg)
{
    struct worker *w = arg;
    struct dsock *ds = w->conns;

    /* The sockets were connected by udp_setup. */
    pthread_barrier_wait(&barrier);
    pthread_barrier_wait(&barrier); /* t_start is set */
    if (!atomic_load(&aborted)) {
        uint64_t now = now_ns();

        for (long i = 0; i < w->nconns; i++)
            dsock_next(w, &ds[i], now);
        worker_loop(w, all_done, on_event, (int)(TICK_NS / 1000000u), tick);
    }
    for (long i = 0; i < w->nconns; i++) {
        if (ds[i].waiting)
            w->st.unfinished++;
        if (ds[i].done == 0)
            w->st.unanswered++;
    }
    if (w->t_end == 0)
        w->t_end = now_ns();
    return NULL;
}

/* A socket connected to the target (bound first to its own path for a
 * unix datagram target). */
static int
dsock_open(struct worker *w, struct dsock *d)
{
    struct epoll_event ev;
    int fd =
        socket(target.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd == -1)
        die("socket: %s", strerror(errno));
    if (target.ss_family == AF_UNIX) {
        struct sockaddr_un me;

        memset(&me, 0, sizeof(me));
        me.sun_family = AF_UNIX;
        client_path(me.sun_path, sizeof(me.sun_path), d->id);
        if (bind(fd, (struct sockaddr *)&me, sizeof(me)) == -1)
            die("bind %s: %s", me.sun_path, strerror(errno));
    }
    if (connect(fd, (struct sockaddr *)&target, target_len) == -1)
        die("cannot connect to %s: %s",
            target.ss_family == AF_UNIX ? O.dgram_path : O.host,
            strerror(errno));
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = d;
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) == -1)
        die("epoll_ctl: %s", strerror(errno));
    return fd;
}

static void
udp_setup(struct worker *w)
{
    struct dsock *ds = xcalloc((size_t)w->nconns, sizeof(*ds));

    if (target.ss_family == AF_UNIX && client_dir[0] == '\0')
        make_client_dir();
    w->conns = ds;
    for (long i = 0; i < w->nconns; i++) {
        struct dsock *d = &ds[i];

        d->id = (unsigned)(w->first + i);
        d->tx = xcalloc(1, O.size);
        fill_letters(d->tx, O.size - 1, d->id);
        d->tx[O.size - 1] = '\n';
        d->fd = dsock_open(w, d);
    }
}

static void
udp_cleanup(struct worker *w)
{
    struct dsock *ds = w->conns;

    for (long i = 0; i < w->nconns; i++) {
        close(ds[i].fd);
        free(ds[i].tx);
    }
    free(ds);
    if (w->index == O.threads - 1)
        remove_client_dir();
}

const struct engine udp_engine = {
    .setup = udp_setup,
    .main = udp_main,
    .cleanup = udp_cleanup,
};
