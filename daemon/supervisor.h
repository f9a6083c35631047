/*
 * supervisor.h - listeners and their serving processes: spawning, reaping,
 * restarting after a back-off, and the processes of older generations that
 * drain after a reload.  The supervisor calls nothing of the master's or
 * the reload's: it tells them what happened through struct nl_sup_events.
 * Only the master process uses it.  supervisor.c holds the current
 * listeners' processes, drain.c the older generations'.
 */
#ifndef NL_SUPERVISOR_H
#define NL_SUPERVISOR_H

#include <ev.h>
#include <sys/types.h>

#include "stats.h"
#include "transport.h"

struct nl_conf;
struct nl_listener_conf;
struct nl_sup;

/* A serving process gets SIGKILL this long after shutdown_timeout. */
#define NL_KILL_GRACE 2.0

/* A serving process: the listener's only one, or a prefork worker. */
struct proc {
    struct lst *l;
    pid_t pid;                /* 0 when none */
    struct nl_counters *slot; /* its counters */
    unsigned generation;      /* of the config it was started with */
    int ready;
    int retiring; /* an idle extra asked to end: not a failure */
    int failures; /* restarts in a row */
    double started;
    int ready_fd; /* "R" when serving, "S" when it stopped accepting,
                     "G" when it took the last idle place (prefork) */
    ev_io ready_w;
    ev_timer restart_w;
};

/* A listener of the current configuration.  Allocated one by one: the
 * watchers inside its procs must not move while libev knows them. */
struct lst {
    struct nl_sup *sup;
    unsigned id; /* kept by a changed listener across reloads */
    const struct nl_listener_conf *lc;
    struct nl_socket sk;
    struct nl_counters *gate; /* gate->active: sessions open, all procs */
    struct nl_counters kept;  /* counts of ended serving processes */
    /* Serving processes started and killed by a signal netlabd did not
     * send, and the last such signal (0: none); kept across reloads. */
    unsigned long long procs_started, procs_crashed;
    int last_signal;
    /* Per-source counts (sources.h), when the listener has per-source
     * limits or had them; shared with the listener it replaced. */
    struct nl_sources *sources;
    struct proc *procs;       /* nprocs of them, allocated once */
    int nprocs;               /* prefork: max_workers; otherwise 1 */
    int nbase;                /* prefork: workers, always running; else 1 */
};

/* A serving process of an older generation, finishing its sessions. */
struct drain {
    pid_t pid;
    unsigned id; /* its listener's, whose counts it adds to */
    char *name;
    struct nl_counters *slot;
    struct nl_counters *gate; /* a reference to the listener's gate */
    struct nl_sources *sources; /* a reference to its table, or NULL */
    unsigned generation;
    double deadline;  /* SIGKILL after this */
    int accepting;    /* has not said it stopped accepting yet */
    unsigned retired; /* the generation that replaced it */
    int notify_fd;
    ev_io notify_w;
    struct nl_sup *sup;
    struct drain *next;
};

/* What the supervisor tells its owner; each gets arg.  Any may be NULL. */
struct nl_sup_events {
    /* Every listener serves, for the first time. */
    void (*all_ready)(void *arg);
    /* A serving process died before that: start-up failed (logged). */
    void (*start_failed)(void *arg);
    /* A draining process stopped accepting (or ended). */
    void (*stopped_accepting)(void *arg);
    /* A draining process ended: one older generation may be gone. */
    void (*drained)(void *arg);
    /* Stopping, and no serving or draining process is left. */
    void (*all_gone)(void *arg);
    /* In a new serving process, before it serves: close the owner's
     * descriptors (the supervisor closes its own). */
    void (*in_child)(void *arg);
    void *arg;
};

struct nl_sup {
    struct ev_loop *loop;
    const struct nl_conf *conf; /* the running one: what processes serve */
    struct lst **lst;
    size_t nlst;
    struct drain *drains;
    unsigned generation; /* of conf */
    unsigned next_id;    /* for struct lst */
    int started_up;      /* every listener has been ready once */
    int stopping;        /* nothing is restarted any more */
    int log_fd;          /* serving processes log into it; -1: none */
    ev_timer kill_w;
    ev_timer drain_w;
    ev_timer pool_w; /* prefork pools: ends idle extras */
    struct nl_sup_events ev;
};

/* Every serving process of every current listener. */
#define FOR_EACH_PROC(s, pr)                                                   \
    for (size_t i_ = 0; i_ < (s)->nlst; i_++)                                  \
        for (struct proc *pr = (s)->lst[i_]->procs;                            \
             pr < (s)->lst[i_]->procs + (s)->lst[i_]->nprocs; pr++)

/* Fills s (no listener yet), for loop later: see nl_sup_start(). */
void nl_sup_init(struct nl_sup *s, const struct nl_conf *conf,
                 const struct nl_sup_events *ev);

/* Starts the timers on loop and every listener's serving processes. */
void nl_sup_start(struct nl_sup *s, struct ev_loop *loop);

/* Reaps the serving and draining processes that ended (on SIGCHLD). */
void nl_sup_reap(struct nl_sup *s);

/* Stops accepting everywhere (the master's copies of the sockets close)
 * and sends SIGTERM; those that outstay shutdown_timeout get SIGKILL. */
void nl_sup_stop(struct nl_sup *s);

/* Closes every socket and frees every listener and drain record. */
void nl_sup_free(struct nl_sup *s);

/* A new listener with no socket yet (sk.fd -1) and no process. */
struct lst *nl_lst_new(struct nl_sup *s, const struct nl_listener_conf *lc);

/*
 * Gives l the per-source table its limits need: that of o (the listener l
 * replaces, or NULL) when o has one large enough for l's max_connections,
 * so that every source's count survives the reload; else a new one when
 * l has per-source limits.  Returns 0, or -1 (logged) when no table could
 * be mapped: l then runs without per-source limits.
 */
int nl_lst_sources(struct lst *l, const struct lst *o);
/* Starts its serving processes (a prefork pool's `workers`). */
void nl_lst_spawn(struct lst *l);
/* Starts pr's process (or, failing, retries it in a second, unless it is
 * an extra of a prefork pool). */
void nl_proc_spawn(struct proc *pr);
/* 1 when every serving process of the listener is serving (a prefork
 * pool's `workers`; extras come and go). */
int nl_lst_ready(const struct lst *l);
/* 1 when the listener takes new clients: ready, and netlabd not stopping
 * (what status and metrics call serving, for a balancer's checks). */
int nl_lst_serving(const struct lst *l);

/* Turns l's serving processes into drains (SIGTERM) and frees l; its
 * socket is left to the caller. */
void nl_lst_retire(struct lst *l);
/* Frees l's memory and its gate reference (no process left). */
void nl_lst_free(struct lst *l);
/* l's counts: those of its processes, ended, serving and draining. */
void nl_lst_counters(const struct nl_sup *s, const struct lst *l,
                     struct nl_counters *c);

/* Sessions open in every serving and draining process. */
unsigned long long nl_sup_active(const struct nl_sup *s);
/* How many listeners serve. */
size_t nl_sup_serving(const struct nl_sup *s);
/* How many older generations still drain (a process counts until it is
 * reaped, sessions or not). */
int nl_sup_old_generations(const struct nl_sup *s);
/* 1 while a process retired by generation (or an earlier one) accepts. */
int nl_sup_accepting(const struct nl_sup *s, unsigned generation);

/* How a wait status reads in the log: "exited with status 3", ... */
void nl_describe_status(int status, char *buf, size_t len);

#endif /* NL_SUPERVISOR_H */
