/*
 * blocking.h - what the blocking models (prefork, threads) share: a stop
 * request any thread can wait on, and serving one session or a stream of
 * datagrams with poll(2) until it ends, goes idle or the stop deadline
 * passes.
 */
#ifndef NL_BLOCKING_H
#define NL_BLOCKING_H

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
 * Serves an opened stream session until it is over, it has been idle for
 * the listener's idle_timeout, or a stop was asked for and shutdown_timeout
 * has passed since.  The caller then calls nl_session_end().
 */
void nl_serve_stream(struct nl_session *s, int shutdown_timeout);

/* Receives and answers datagrams on fd until a stop is asked for. */
void nl_serve_datagrams(const struct nl_session_env *env, int fd);

#endif /* NL_BLOCKING_H */
