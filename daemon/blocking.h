/*
 * blocking.h - what the blocking models (prefork, threads) share: a stop
 * request any thread can wait on, and serving one session or a stream of
 * datagrams with poll(2) until it ends, goes idle or the stop deadline
 * passes.
 */
#ifndef NL_BLOCKING_H
#define NL_BLOCKING_H

#include <stddef.h>
#include <stdint.h>

struct nl_conn;
struct nl_session;
struct nl_session_env;

/*
 * Installs SIGTERM and SIGINT handlers that make nl_stop_fd() readable for
 * good.  Returns 0, or -1 after logging.
 */
int nl_stop_init(void);

/*
 * Has fd closed as soon as a stop is seen, even while a session is being
 * served, so that new connections are refused at once, and the master
 * told (nl_session_stopped_accepting).  For a process
 * whose only thread that uses fd is the one that sees the stop (prefork).
 */
void nl_stop_close(int fd, const struct nl_session_env *env);

/* Asks for a stop from inside the process, as SIGTERM would. */
void nl_stop_request(void);

/* The descriptor that turns readable once a stop was asked for. */
int nl_stop_fd(void);

/* 1 once a stop was asked for; the first caller to see it starts the
 * shutdown_timeout clock. */
int nl_stop_requested(void);

/*
 * Serves an opened stream session of env until it is over, it has been idle for
 * the listener's idle_timeout, or a stop was asked for and shutdown_timeout
 * has passed since.  The idle clock starts at `accepted` (nl_now()'s
 * clock), when the connection was accepted, so that time spent waiting for
 * a worker counts; on tcp it starts when the client's last byte arrived
 * (nl_heard_at()), and input that arrived while the session waited counts
 * from then, not from when it is read.  The caller then calls
 * nl_session_end().
 */
void nl_serve_stream(const struct nl_session_env *env, struct nl_session *s,
                     int shutdown_timeout, double accepted);

/*
 * When the client on the stream connection c was last heard from, on
 * nl_now()'s clock: on tcp, when its last byte arrived, or its handshake
 * if it sent none, as the kernel noted it, time in the listen backlog
 * included; where the transport cannot tell, `fallback`.
 */
double nl_heard_at(const struct nl_conn *c, double fallback);

/*
 * Counts a connection that has to wait for a free worker (status's
 * connections_waited) and logs "all N workers busy; M connections
 * waiting", N being max_workers (the pool is full: it waits only then),
 * at most once a second per listener, whatever the number of serving
 * processes.
 */
void nl_wait_begins(const struct nl_session_env *env, size_t waiting);

/* The log line of nl_wait_begins() alone, for the master, which sees a
 * full prefork pool with connections in the backlog; logged_ms is the
 * listener's gate's busy_logged_ms, or NULL. */
void nl_wait_log(const char *name, int max_workers, uint64_t *logged_ms,
                 size_t waiting);

/* Notes that a connection waited `seconds` for a worker (status's
 * longest_wait_ms). */
void nl_wait_ends(const struct nl_session_env *env, double seconds);

/*
 * A wait for input on a socket that other threads or processes wait for
 * too (a shared datagram or listening socket): of the idle waiters, the
 * kernel wakes one per arrival (EPOLLEXCLUSIVE), not all; a stop wakes
 * all.  After nl_stop_init().
 */
struct nl_waiter {
    int fd;
    int ep; /* its epoll instance; -1: poll() (without EPOLLEXCLUSIVE) */
};

void nl_waiter_open(struct nl_waiter *w, int fd);
/* Waits until fd has input (1), or a stop was asked for or a signal came
 * (0: a stop comes first, input or not). */
int nl_waiter_wait(struct nl_waiter *w);
/* Closes the epoll instance; fd is the caller's. */
void nl_waiter_close(struct nl_waiter *w);

/* Receives and answers datagrams on fd until a stop is asked for, woken
 * one reader per datagram (struct nl_waiter). */
void nl_serve_datagrams(const struct nl_session_env *env, int fd);

#endif /* NL_BLOCKING_H */
