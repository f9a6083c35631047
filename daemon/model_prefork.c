/*
 * model_prefork.c - one session at a time per process.  The master forks
 * `workers` serving processes for a prefork listener, each running this
 * model on the shared socket: it waits in poll() for a connection, accepts
 * it (another worker may win the race: EAGAIN is normal), serves it to its
 * end with blocking.c and waits again.  A handler that crashes takes one
 * worker and one session with it; the master starts another.
 *
 * The pool grows: each process counts itself idle in the listener's gate
 * (shared memory) while it waits for a connection, and the one that takes
 * the last idle place writes 'G' on its status pipe, so that the master
 * starts more (supervisor.c), up to max_workers.  Only then do connections
 * wait in the backlog.  The master also ends processes past `workers`
 * that stayed idle for a while (idle_since_ms in the process's slot).
 * max_connections counts sessions across the workers, so it caps a
 * prefork listener as it does the others.
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
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admit.h"
#include "blocking.h"
#include "conf.h"
#include "log.h"
#include "model.h"
#include "session.h"
#include "stats.h"
#include "util.h"

/* Seconds in the backlog past which a connection counts as having waited
 * for a worker: well above the time a free worker takes to wake. */
#define PREFORK_WAIT_NOTICED 0.1

/* This process waits for a connection: counted idle in the gate (and in
 * its slot, which the master gives back should it die), since now. */
static void
mark_idle(const struct nl_session_env *env)
{
    struct nl_counters *gate = nl_admit_gate(env);

    if (env->ctr->workers_idle)
        return;
    env->ctr->workers_idle = 1;
    __atomic_store_n(&env->ctr->idle_since_ms, (uint64_t)(nl_now() * 1000),
                     __ATOMIC_RELAXED);
    if (gate != NULL)
        nl_count_add(gate, workers_idle, 1);
}

/* 1 when the listener runs max_workers processes: a connection that
 * stayed in the backlog then waited for a worker, rather than for one
 * being started. */
static int
pool_full(const struct nl_session_env *env)
{
    struct nl_counters *gate = nl_admit_gate(env);

    return gate == NULL ||
           __atomic_load_n(&gate->workers_running, __ATOMIC_RELAXED) >=
               (uint64_t)env->lc->max_workers;
}

/* This process took a connection (tell: ask the master for another
 * process when it took the last idle place), or stops. */
static void
mark_busy(const struct nl_session_env *env, int tell)
{
    struct nl_counters *gate = nl_admit_gate(env);

    if (!env->ctr->workers_idle)
        return;
    env->ctr->workers_idle = 0;
    __atomic_store_n(&env->ctr->idle_since_ms, 0, __ATOMIC_RELAXED);
    /* One 'G' in the pipe at most: a master slow to read (a reload under
     * way) must not fill it and block this process. */
    if (gate == NULL ||
        __atomic_sub_fetch(&gate->workers_idle, 1, __ATOMIC_RELAXED) != 0 ||
        !tell)
        return;
    /* The last idle place, with no room to grow: the pool is full. */
    if (pool_full(env))
        nl_count_add(env->ctr, pool_full, 1);
    if (env->notify_fd != -1 &&
        !__atomic_exchange_n(&env->ctr->grow_asked, 1, __ATOMIC_RELAXED))
        (void)!write(env->notify_fd, "G", 1); /* the master may be gone */
}

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
        mark_busy(env, 1);
        break;
    case NL_ACCEPT_FULL:
        poll(&stop, 1, 1000);
        return;
    default:
        return; /* another worker won the race, or it was refused */
    }
    now = nl_now();
    /* A free worker takes a connection at once; one silent for longer
     * than this in the backlog, the pool full, was waiting for a worker. */
    waited = now - nl_heard_at(&c, now);
    if (waited >= PREFORK_WAIT_NOTICED && pool_full(env)) {
        nl_wait_begins(env, 1 + nl_transport_backlog(env->lc, fd));
        nl_wait_ends(env, waited);
    }
    nl_session_init(&s, env, &c, (struct sockaddr *)&ss, len);
    if (nl_session_open(&s) == 0)
        nl_serve_stream(env, &s, shutdown_timeout, now);
    nl_session_end(&s);
    nl_admit_leave(env, nl_session_conn(&s));
}

static int
prefork_run(const struct nl_session_env *env, int fd, int shutdown_timeout)
{
    struct nl_waiter w;

    if (nl_stop_init() == -1 || nl_set_nonblock(fd, 1) == -1) {
        nl_transport_close_copy(fd);
        return -1;
    }
    /* Closed as soon as the stop is seen, in the middle of a session too:
     * a draining worker must not take new connections. */
    nl_stop_close(fd, env);
    /* One worker, for status's workers_running. */
    __atomic_store_n(&env->ctr->workers_running, 1, __ATOMIC_RELAXED);
    if (nl_transport_is_dgram(env->lc->transport)) {
        nl_serve_datagrams(env, fd);
        return 0;
    }
    /* One idle worker woken per connection, not all of them. */
    nl_waiter_open(&w, fd);
    /* The stop is looked at when the wait says so (it comes first), not
     * with a poll() per connection. */
    for (;;) {
        mark_idle(env);
        if (nl_waiter_wait(&w))
            serve_one(env, fd, shutdown_timeout);
        else if (nl_stop_requested())
            break;
    }
    nl_waiter_close(&w);
    mark_busy(env, 0);
    return 0;
}

const struct nl_model_ops nl_model_prefork = {
    .name = "prefork",
    .run = prefork_run,
};
