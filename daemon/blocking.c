/*
 * blocking.c - one session at a time per thread or process, with poll(2).
 *
 * The descriptors stay non-blocking and every wait is a poll() that also
 * watches the stop pipe, so a stop wakes each waiting thread at once
 * without signals having to reach it, and idle_timeout and the shutdown
 * deadline are poll timeouts rather than timers.  The stop pipe is never
 * read: once written it stays readable, which is exactly "stopping".
 *
 * Where several threads or processes wait for one shared socket (the
 * datagrams of threads and prefork, prefork's accept), each waits in an
 * epoll instance of its own that holds the socket with EPOLLEXCLUSIVE:
 * the kernel then wakes one of the idle ones per arrival instead of all
 * of them, a herd that cost eight wake-ups per datagram and collapsed
 * throughput when the clients shared the cores.  The stop pipe is in
 * each instance without it, so a stop still wakes them all.
 *
 * What a session waits for is the session's to say (nl_session_events()),
 * as under libev, and what the kernel knows of a client's silence is the
 * transport's (nl_conn_silent_for()); this file reads no session field.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blocking.h"
#include "conf.h"
#include "log.h"
#include "session.h"
#include "stats.h"
#include "util.h"

static int stop_pipe[2] = {-1, -1};
static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;
static double stop_time; /* when the stop was first seen, 0 before */
static int close_on_stop = -1;
static const struct nl_session_env *close_env;

static void
on_stop_signal(int signo)
{
    int saved = errno;

    /* One byte is enough; a full pipe is already "stopping". */
    (void)!write(stop_pipe[1], "S", 1);
    errno = saved;
}

int
nl_stop_init(void)
{
    struct sigaction sa;

    if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
        nl_log_errno(NULL, "pipe");
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) == -1) {
        nl_log_errno(NULL, "sigaction");
        return -1;
    }
    /* serve.c keeps it blocked until here. */
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &sa.sa_mask, NULL);
    return 0;
}

void
nl_stop_request(void)
{
    on_stop_signal(SIGTERM);
}

void
nl_stop_close(int fd, const struct nl_session_env *env)
{
    close_on_stop = fd;
    close_env = env;
}

int
nl_stop_fd(void)
{
    return stop_pipe[0];
}

int
nl_stop_requested(void)
{
    struct pollfd p = {.fd = stop_pipe[0], .events = POLLIN};
    int stopping;

    pthread_mutex_lock(&stop_lock);
    stopping = stop_time > 0;
    if (!stopping && poll(&p, 1, 0) == 1) {
        stop_time = nl_now();
        stopping = 1;
        if (close_on_stop != -1) {
            nl_transport_close_copy(close_on_stop);
            nl_session_stopped_accepting(close_env);
        }
        close_on_stop = -1;
    }
    pthread_mutex_unlock(&stop_lock);
    return stopping;
}

static double
stop_deadline(int shutdown_timeout)
{
    double t;

    pthread_mutex_lock(&stop_lock);
    t = stop_time;
    pthread_mutex_unlock(&stop_lock);
    return t + shutdown_timeout;
}

/* The poll timeout in ms until the earlier of two moments (0 = none). */
static int
timeout_ms(double now, double a, double b)
{
    double t = a > 0 && (b <= 0 || a < b) ? a : b;

    if (t <= 0)
        return -1;
    if (t <= now)
        return 0;
    return (int)((t - now) * 1000) + 1;
}

double
nl_heard_at(const struct nl_conn *c, double fallback)
{
    double silent;

    if (nl_conn_silent_for(c, &silent) == -1)
        return fallback;
    return nl_now() - silent;
}

void
nl_wait_log(const char *name, int max_workers, uint64_t *logged_ms,
            size_t waiting)
{
    static uint64_t own; /* without a shared gate (unit tests) */

    if (!nl_log_due(logged_ms != NULL ? logged_ms : &own))
        return;
    nl_warnx(name, "all %d workers busy; %zu connection%s waiting", max_workers,
             waiting, waiting == 1 ? "" : "s");
}

void
nl_wait_begins(const struct nl_session_env *env, size_t waiting)
{
    nl_count_add(env->ctr, waited, 1);
    nl_wait_log(env->lc->name, env->lc->max_workers, env->busy_logged_ms,
                waiting);
}

void
nl_wait_ends(const struct nl_session_env *env, double seconds)
{
    if (seconds > 0)
        nl_count_max(&env->ctr->longest_wait_ms, (uint64_t)(seconds * 1000));
}

/* A stream session's clocks. */
struct clocks {
    double last;    /* when the client was last heard from */
    double stop_at; /* the shutdown deadline, once a stop was asked for */
    int queued;     /* bytes that waited for the session, not yet read */
    int check_stop; /* the stop pipe may have turned readable */
};

/* 1 when the session is to end now, idle or past the shutdown deadline
 * (said in the log); otherwise *wait is how long poll() may wait. */
static int
time_is_up(const struct nl_session_env *env, struct nl_session *s,
           struct clocks *k, int shutdown_timeout, int *wait)
{
    const struct nl_listener_conf *lc = env->lc;
    double now, idle_at, header_left = nl_session_header_left(s);

    if (k->stop_at == 0 && k->check_stop && nl_stop_requested())
        k->stop_at = stop_deadline(shutdown_timeout);
    if (header_left == 0) { /* no PROXY header in time */
        nl_session_header_late(s);
        return 1;
    }
    now = nl_now();
    /* Not before what waited is read: it may be a whole request, sent in
     * time, that only a busy pool kept from being served. */
    idle_at = lc->idle_timeout > 0 && k->queued == 0 && header_left < 0
                  ? k->last + lc->idle_timeout
                  : 0;
    if (idle_at > 0 && now >= idle_at) {
        nl_info(lc->name, "%s: idle for %d s, closing the session",
                nl_session_peer(s), lc->idle_timeout);
        nl_session_ending(s, NL_END_IDLE);
        return 1;
    }
    if (k->stop_at > 0 && now >= k->stop_at) {
        nl_notice(lc->name, "%s: shutdown_timeout passed, closing",
                  nl_session_peer(s));
        nl_session_ending(s, NL_END_STOP);
        return 1;
    }
    if (header_left > 0) /* idle_at is 0 then */
        idle_at = now + header_left;
    *wait = timeout_ms(now, idle_at, k->stop_at);
    return 0;
}

/* Acts on what poll() said of the session's descriptor.  Returns -1 when
 * the session is to end: the peer hung up and nothing is left to do. */
static int
on_ready(struct nl_session *s, struct clocks *k, short revents)
{
    int ready = (revents & (POLLIN | POLLHUP | POLLERR) ? NL_EV_READ : 0) |
                (revents & POLLOUT ? NL_EV_WRITE : 0);

    if (nl_session_read_ready(s, ready)) {
        int waited = k->queued > 0, header = nl_session_header_left(s) >= 0;

        if (waited)
            k->queued = 0;
        else
            k->last = nl_now();
        nl_session_read(s);
        /* A PROXY header is read alone: the request that waited behind
         * it is still to be read, and still does not start the clock. */
        if (waited && header &&
            ioctl(nl_session_fd(s), FIONREAD, &k->queued) == -1)
            k->queued = 0;
    } else if ((revents & (POLLHUP | POLLERR)) && !(revents & POLLOUT)) {
        return -1;
    }
    if (revents & POLLOUT)
        k->last = nl_now();
    return 0;
}

void
nl_serve_stream(const struct nl_session_env *env, struct nl_session *s,
                int shutdown_timeout, double accepted)
{
    const struct nl_conn *c = nl_session_conn(s);
    /* The stop is looked at first, then only when poll() says the pipe
     * turned readable: a poll() of it per message would cost a system
     * call in four. */
    struct clocks k = {.last = nl_heard_at(c, accepted), .check_stop = 1};
    struct pollfd p[2];
    int wait = -1, ev, n;

    /* Input already there arrived while the session waited: it does not
     * restart the clock (on tcp `last` already says when it came). */
    if (ioctl(c->fd, FIONREAD, &k.queued) == -1)
        k.queued = 0;

    while (!nl_session_done(s)) {
        if (nl_session_flush(s) == NL_IO_ERROR || nl_session_resume(s) == -1)
            break;
        if (nl_session_done(s) ||
            time_is_up(env, s, &k, shutdown_timeout, &wait))
            break;
        ev = nl_session_events(s);
        p[0].fd = c->fd;
        p[0].events = (ev & NL_EV_READ ? POLLIN : 0) |
                      (ev & NL_EV_WRITE ? POLLOUT : 0);
        p[1].fd = nl_stop_fd();
        p[1].events = POLLIN;
        /* Once stopping, the pipe stays readable: stop watching it. */
        n = poll(p, k.stop_at > 0 ? 1 : 2, wait);
        /* A signal, or the pipe turned readable: look at the stop. */
        k.check_stop = n == -1 || (k.stop_at == 0 && (p[1].revents & POLLIN));
        if (n <= 0)
            continue;
        if (on_ready(s, &k, p[0].revents) == -1)
            break;
    }
}

void
nl_waiter_open(struct nl_waiter *w, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = fd};

    w->fd = fd;
    /* Without it (an old kernel: EINVAL, or no descriptor left), poll()
     * does the same, with the herd. */
    if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
        return;
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) == -1)
        goto fallback;
    ev.events = EPOLLIN;
    ev.data.fd = nl_stop_fd();
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, ev.data.fd, &ev) == 0)
        return;
fallback:
    close(w->ep);
    w->ep = -1;
}

int
nl_waiter_wait(struct nl_waiter *w)
{
    struct epoll_event ev[2];
    struct pollfd p[2] = {{.fd = w->fd, .events = POLLIN},
                          {.fd = nl_stop_fd(), .events = POLLIN}};

    int n, input = 0;

    /* A stop first: under a steady load the socket is never quiet. */
    if (w->ep == -1)
        return poll(p, 2, -1) > 0 && !p[1].revents && (p[0].revents & POLLIN);
    n = epoll_wait(w->ep, ev, 2, -1);
    for (int i = 0; i < n; i++) {
        if (ev[i].data.fd != w->fd)
            return 0;
        input = (ev[i].events & EPOLLIN) != 0;
    }
    return input;
}

void
nl_waiter_close(struct nl_waiter *w)
{
    /* The socket is still open in other processes: the instance would
     * go on reporting it, so it goes before its descriptor is reused. */
    if (w->ep != -1)
        close(w->ep);
    w->ep = -1;
}

void
nl_serve_datagrams(const struct nl_session_env *env, int fd)
{
    char *buf = nl_xmalloc(NL_DGRAM_MAX);
    struct nl_waiter w;

    nl_waiter_open(&w, fd);
    /* The stop is looked at only when the wait says there is no input: a
     * poll() of the pipe per datagram would double the system calls. */
    for (;;) {
        if (nl_waiter_wait(&w))
            nl_session_recv_datagram(env, fd, buf);
        else if (nl_stop_requested())
            break;
    }
    nl_waiter_close(&w);
    free(buf);
}
