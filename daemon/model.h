/*
 * model.h - concurrency models.  A model serves one listener's socket in a
 * serving process: it waits for connections or datagrams and drives
 * sessions (session.h) until asked to stop.  One file per model, each
 * filling in a struct nl_model_ops; model.c picks the table for a kind.
 * A model waits and calls in: it asks the session what to wait for
 * (nl_session_events()) and admit.c whether to take a connection, and
 * knows nothing of the transport it serves.
 */
#ifndef NL_MODEL_H
#define NL_MODEL_H

#include "conf.h"

struct nl_session_env;

struct nl_model_ops {
    const char *name;
    /*
     * Serves the listening or bound socket fd until SIGTERM or SIGINT, then
     * stops accepting, lets open sessions finish for up to
     * shutdown_timeout seconds, closes the rest and returns 0.  Returns -1
     * after logging when it cannot start.
     */
    int (*run)(const struct nl_session_env *env, int fd, int shutdown_timeout);
};

extern const struct nl_model_ops nl_model_libev;
extern const struct nl_model_ops nl_model_prefork;
extern const struct nl_model_ops nl_model_threads;

/* The model for m. */
const struct nl_model_ops *nl_model_get(enum nl_model_kind m);

#endif /* NL_MODEL_H */
