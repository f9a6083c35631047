/*
 * model_prefork.c - one session at a time per process.  The master forks
 * `workers` serving processes for a prefork listener, each running this
 * model on the shared socket: it waits in poll() for a connection, accepts
 * it (another worker may win the race: EAGAIN is normal), serves it to its
 * end with blocking.c and waits again.  A handler that crashes takes one
 * worker and one session with it; the master starts another.
 *
 * max_connections counts sessions across the workers (shared memory), so
 * it caps a prefork listener as it does the others, although `workers` is
 * the real bound here: connections beyond it wait in the backlog.
 *
 * On tcp the kernel tells how long a connection's client has been silent,
 * backlog included (nl_heard_at()): the idle clock counts that time, so a
 * connection that waited idle_timeout in the backlog behind slow clients
 * is closed as soon as a worker takes it, instead of holding the worker
 * for another idle_timeout, and the waits show in status and the log.  On
 * unix sockets the clock starts at accept.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
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

/* Seconds in the backlog past which a connection counts as having waited
 * for a worker: well above the time a free worker takes to wake. */
#define PREFORK_WAIT_NOTICED 0.1

static void
serve_one(const struct nl_session_env *env, int fd, int shutdown_timeout)
{
    struct pollfd stop = {.fd = nl_stop_fd(), .events = POLLIN};
    struct sockaddr_storage ss;
    socklen_t len;
    struct nl_session s;
    struct nl_conn c;
    double now, waited;

    switch (nl_session_accept(env, fd, &c, &ss, &len)) {
    case NL_ACCEPT_OK:
        break;
    case NL_ACCEPT_FULL:
        poll(&stop, 1, 1000);
        return;
    default:
        return; /* another worker won the race, or it was refused */
    }
    now = nl_now();
    /* A free worker takes a connection at once; one silent for longer
     * than this in the backlog was waiting for a worker. */
    waited = now - nl_heard_at(&c, now);
    if (waited >= PREFORK_WAIT_NOTICED) {
        nl_wait_begins(env, 1 + nl_transport_backlog(env->lc, fd));
        nl_wait_ends(env, waited);
    }
    nl_session_init(&s, env, &c, (struct sockaddr *)&ss, len);
    if (nl_session_open(&s) == 0)
        nl_serve_stream(env, &s, shutdown_timeout, now);
    nl_session_end(&s);
    nl_admit_leave(env);
}

static int
prefork_run(const struct nl_session_env *env, int fd, int shutdown_timeout)
{
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
                          {.fd = -1, .events = POLLIN}};

    if (nl_stop_init() == -1 || nl_set_nonblock(fd, 1) == -1) {
        nl_transport_close_copy(fd);
        return -1;
    }
    /* Closed as soon as the stop is seen, in the middle of a session too:
     * a draining worker must not take new connections. */
    nl_stop_close(fd, env);
    if (nl_transport_is_dgram(env->lc->transport)) {
        nl_serve_datagrams(env, fd);
        return 0;
    }
    p[1].fd = nl_stop_fd();
    while (!nl_stop_requested()) {
        if (poll(p, 2, -1) > 0 && (p[0].revents & POLLIN))
            serve_one(env, fd, shutdown_timeout);
    }
    return 0;
}

const struct nl_model_ops nl_model_prefork = {
    .name = "prefork",
    .run = prefork_run,
};
