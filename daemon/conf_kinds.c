/*
 * conf_kinds.c - the transports and the models netlabd knows, one table
 * each.  A transport's entry says its name and what kind of socket it is
 * (datagrams or a stream, unix or inet); a model's its name, its default
 * `workers`, whether each worker is a process of its own and whether its
 * pool grows up to max_workers.  Everything
 * else asks these functions instead of switching on a kind, so that a new
 * transport or model is one line here (and its own file behind
 * transport.h or model.h).
 */
#include "config.h"

#include <string.h>

#include "conf.h"

struct transport_info {
    const char *name;
    int dgram;   /* 1: datagrams, no connections to accept */
    int is_unix; /* 1: a socket file (path), not an address and port */
};

struct model_info {
    const char *name;
    int default_workers;
    int worker_procs; /* 1: each worker is a serving process (prefork) */
    int grows;        /* 1: one session per worker, the pool grows */
};

static const struct transport_info transports[] = {
    [NL_TRANSPORT_TCP] = {.name = "tcp"},
    [NL_TRANSPORT_UDP] = {.name = "udp", .dgram = 1},
    [NL_TRANSPORT_UNIX] = {.name = "unix", .is_unix = 1},
    [NL_TRANSPORT_UNIX_DGRAM] = {.name = "unix-dgram",
                                 .dgram = 1,
                                 .is_unix = 1},
};

static const struct model_info models[] = {
    [NL_MODEL_PREFORK] = {.name = "prefork",
                          .default_workers = NL_DEFAULT_WORKERS_PREFORK,
                          .worker_procs = 1,
                          .grows = 1},
    [NL_MODEL_THREADS] = {.name = "threads",
                          .default_workers = NL_DEFAULT_WORKERS_THREADS,
                          .grows = 1},
    [NL_MODEL_LIBEV] = {.name = "libev",
                        .default_workers = NL_DEFAULT_WORKERS_LIBEV},
};

_Static_assert(sizeof(transports) / sizeof(transports[0]) == NL_TRANSPORT_KINDS,
               "NL_TRANSPORT_KINDS counts the transports");
_Static_assert(sizeof(models) / sizeof(models[0]) == NL_MODEL_KINDS,
               "NL_MODEL_KINDS counts the models");

/* The entry of t, or NULL for a value no transport has. */
static const struct transport_info *
transport(enum nl_transport_kind t)
{
    return (unsigned)t < NL_TRANSPORT_KINDS ? &transports[t] : NULL;
}

static const struct model_info *
model(enum nl_model_kind m)
{
    return (unsigned)m < NL_MODEL_KINDS ? &models[m] : NULL;
}

const char *
nl_transport_name(enum nl_transport_kind t)
{
    return transport(t) != NULL ? transport(t)->name : "?";
}

int
nl_transport_is_dgram(enum nl_transport_kind t)
{
    return transport(t) != NULL && transport(t)->dgram;
}

int
nl_transport_is_unix(enum nl_transport_kind t)
{
    return transport(t) != NULL && transport(t)->is_unix;
}

int
nl_transport_lookup(const char *name)
{
    for (unsigned t = 0; t < NL_TRANSPORT_KINDS; t++)
        if (strcmp(transports[t].name, name) == 0)
            return (int)t;
    return -1;
}

int
nl_transport_find(int is_unix, int dgram)
{
    for (unsigned t = 0; t < NL_TRANSPORT_KINDS; t++)
        if (transports[t].is_unix == !!is_unix &&
            transports[t].dgram == !!dgram)
            return (int)t;
    return -1;
}

const char *
nl_model_name(enum nl_model_kind m)
{
    return model(m) != NULL ? model(m)->name : "?";
}

int
nl_model_default_workers(enum nl_model_kind m)
{
    return model(m) != NULL ? model(m)->default_workers
                            : NL_DEFAULT_WORKERS_LIBEV;
}

int
nl_model_procs(const struct nl_listener_conf *lc)
{
    return model(lc->model) != NULL && model(lc->model)->worker_procs
               ? lc->workers
               : 1;
}

int
nl_model_grows(enum nl_model_kind m)
{
    return model(m) != NULL && model(m)->grows;
}

int
nl_model_max_procs(const struct nl_listener_conf *lc)
{
    if (model(lc->model) == NULL || !model(lc->model)->worker_procs)
        return 1;
    /* A datagram holds no worker for long: such a pool does not grow. */
    return nl_transport_is_dgram(lc->transport) ? lc->workers : lc->max_workers;
}

int
nl_model_worker_procs(enum nl_model_kind m)
{
    return model(m) != NULL && model(m)->worker_procs;
}
