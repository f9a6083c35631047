/*
 * blocking.c - one session at a time per thread or process, with poll(2).
 *
 * The descriptors stay non-blocking and every wait is a poll() that also
 * watches the stop pipe, so a stop wakes each waiting thread at once
 * without signals having to reach it, and idle_timeout and the shutdown
 * deadline are poll timeouts rather than timers.  The stop pipe is never
 * read: once written it stays readable, which is exactly "stopping".
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
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
            close(close_on_stop);
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
nl_heard_at(const struct nl_session_env *env, int fd, double fallback)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    if (env->lc->transport != NL_TRANSPORT_TCP ||
        getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
        return fallback;
    /* Set at the handshake, moved by each segment with data. */
    return nl_now() - ti.tcpi_last_data_recv / 1000.0;
}

unsigned
nl_backlog_len(const struct nl_session_env *env, int lfd)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    if (env->lc->transport != NL_TRANSPORT_TCP ||
        getsockopt(lfd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
        return 0;
    /* On a listening socket, Linux reports its accept queue here. */
    return ti.tcpi_unacked;
}

void
nl_wait_begins(const struct nl_session_env *env, size_t waiting)
{
    static uint64_t own; /* without a shared gate (unit tests) */
    uint64_t *at = env->busy_logged_ms != NULL ? env->busy_logged_ms : &own;
    uint64_t now = (uint64_t)(nl_now() * 1000);
    uint64_t last = __atomic_load_n(at, __ATOMIC_RELAXED);

    nl_count_add(env->ctr, waited, 1);
    /* The first process to move the mark logs; the others keep quiet. */
    if ((last != 0 && now - last < 1000) ||
        !__atomic_compare_exchange_n(at, &last, now, 0, __ATOMIC_RELAXED,
                                     __ATOMIC_RELAXED))
        return;
    nl_warnx(env->lc->name, "all %d workers busy; %zu connection%s waiting",
             env->lc->workers, waiting, waiting == 1 ? "" : "s");
}

void
nl_wait_ends(const struct nl_session_env *env, double seconds)
{
    if (seconds > 0)
        nl_count_max(&env->ctr->longest_wait_ms, (uint64_t)(seconds * 1000));
}

void
nl_serve_stream(struct nl_session *s, int shutdown_timeout, double accepted)
{
    const struct nl_listener_conf *lc = s->env->lc;
    double last = nl_heard_at(s->env, s->fd, accepted), now, idle_at;
    double stop_at = 0;
    struct pollfd p[2];
    int queued = 0;

    /* Input already there arrived while the session waited: it does not
     * restart the clock (on tcp `last` already says when it came). */
    if (ioctl(s->fd, FIONREAD, &queued) == -1)
        queued = 0;

    while (!nl_session_done(s)) {
        if (s->out.len > 0 && nl_session_flush(s) == NL_IO_ERROR)
            break;
        if (s->out.len < NL_SESSION_OUT_HIGH && nl_session_resume(s) == -1)
            break;
        if (nl_session_done(s))
            break;
        if (stop_at == 0 && nl_stop_requested())
            stop_at = stop_deadline(shutdown_timeout);
        now = nl_now();
        /* Not before what waited is read: it may be a whole request,
         * sent in time, that only a busy pool kept from being served. */
        idle_at = lc->idle_timeout > 0 && queued == 0
                      ? last + lc->idle_timeout
                      : 0;
        if (idle_at > 0 && now >= idle_at) {
            nl_info(lc->name, "%s: idle for %d s, closing the session",
                    netlabd_peer((struct netlabd_session *)s),
                    lc->idle_timeout);
            break;
        }
        if (stop_at > 0 && now >= stop_at) {
            nl_notice(lc->name, "%s: shutdown_timeout passed, closing",
                      netlabd_peer((struct netlabd_session *)s));
            break;
        }
        p[0].fd = s->fd;
        p[0].events = (nl_session_want_read(s) ? POLLIN : 0) |
                      (s->out.len > 0 ? POLLOUT : 0);
        p[1].fd = nl_stop_fd();
        p[1].events = POLLIN;
        /* Once stopping, the pipe stays readable: stop watching it. */
        if (poll(p, stop_at > 0 ? 1 : 2, timeout_ms(now, idle_at, stop_at)) <=
            0)
            continue;
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (nl_session_want_read(s)) {
                if (queued > 0)
                    queued = 0;
                else
                    last = nl_now();
                nl_session_read(s);
            } else if (!(p[0].revents & POLLOUT) &&
                       (p[0].revents & (POLLHUP | POLLERR))) {
                break;
            }
        }
        if (p[0].revents & POLLOUT)
            last = nl_now();
    }
}

void
nl_serve_datagrams(const struct nl_session_env *env, int fd)
{
    char *buf = nl_xmalloc(NL_DGRAM_MAX);
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
                          {.fd = nl_stop_fd(), .events = POLLIN}};

    while (!nl_stop_requested()) {
        if (poll(p, 2, -1) > 0 && (p[0].revents & POLLIN))
            nl_session_recv_datagram(env, fd, buf);
    }
    free(buf);
}
