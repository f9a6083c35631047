/*
 * master_int.h - what master.c and reload.c share: the master's view of
 * listeners, serving processes and the processes of older generations that
 * are still draining.  Not for other modules.
 */
#ifndef NL_MASTER_INT_H
#define NL_MASTER_INT_H

#include <ev.h>
#include <sys/types.h>
#include <time.h>

#include "errs.h"
#include "stats.h"
#include "transport.h"

struct nl_check;
struct nl_conf;
struct nl_control;
struct nl_control_client;
struct nl_listener_conf;
struct nl_master;

/* A serving process: the listener's only one, or a prefork worker. */
struct proc {
    struct lst *l;
    pid_t pid;                /* 0 when none */
    struct nl_counters *slot; /* its counters */
    unsigned generation;      /* of the config it was started with */
    int ready;
    int failures; /* restarts in a row */
    double started;
    int ready_fd; /* "R" when serving, "S" when it stopped accepting */
    ev_io ready_w;
    ev_timer restart_w;
};

/* A listener of the current configuration.  Allocated one by one: the
 * watchers inside its procs must not move while libev knows them. */
struct lst {
    struct nl_master *m;
    unsigned id; /* kept by a changed listener across reloads */
    const struct nl_listener_conf *lc;
    struct nl_socket sk;
    struct nl_counters *gate; /* gate->active: sessions open, all procs */
    struct nl_counters kept;  /* counts of ended serving processes */
    struct proc *procs;
    int nprocs; /* prefork: workers; otherwise 1 */
};

/* A serving process of an older generation, finishing its sessions. */
struct drain {
    pid_t pid;
    unsigned id; /* its listener's, whose counts it adds to */
    char *name;
    struct nl_counters *slot;
    struct nl_counters *gate; /* a reference to the listener's gate */
    unsigned generation;
    double deadline;  /* SIGKILL after this */
    int accepting;    /* has not said it stopped accepting yet */
    unsigned retired; /* the generation that replaced it */
    int notify_fd;
    ev_io notify_w;
    struct nl_master *m;
    struct drain *next;
};

/* A reload asked for while another runs: by a control client, or by
 * SIGHUP (client NULL). */
struct waiter {
    struct nl_control_client *client;
    const char *why; /* a string constant, for the log */
    struct waiter *next;
};

/* A `reload` answer held until the old processes stopped accepting. */
struct reply {
    struct nl_control_client *client;
    char *json;
    unsigned generation; /* the reload's */
    double deadline;     /* sent then at the latest */
    struct reply *next;
};

struct nl_master {
    struct ev_loop *loop;
    struct nl_conf *conf;
    char *pidfile;
    int pidfile_fd; /* holds the pidfile's lock */
    char *control_path;
    int cwd_fd; /* to read the config file as given, after chdir("/") */
    struct lst **lst;
    size_t nlst;
    struct drain *drains;
    struct nl_control *ctl;
    int sigpipe[2];
    int logpipe[2];
    ev_io sig_w;
    ev_io log_w;
    ev_timer kill_w;
    ev_timer drain_w;
    int started_up; /* every listener has been ready once */
    int ready_fd;   /* daemonize pipe, until started_up */
    int stopping;
    int status; /* exit status */
    time_t start_time;
    unsigned generation;
    unsigned next_id;                   /* for struct lst */
    struct reply *replies;              /* reload answers held back */
    struct nl_control_client *reloader; /* who asked for the one running */
    int reloading;              /* one runs (its check, or applying it) */
    struct waiter *queue;       /* reloads asked for since, first first */
    int reload_deferred;        /* the first waits for old generations */
    struct nl_check *check;     /* that reload's handler check, if any */
    struct nl_conf *check_conf; /* the configuration it checks */
    struct nl_errs check_errs;
    ev_io check_w;
    ev_timer check_t;
    ev_timer replies_w; /* bounds how long they are held */
    int reloaded;       /* last_reload is set */
    int reload_ok;
    int reload_to_root; /* the last reload left handlers to root (reload.c) */
    char *reload_error;
    time_t reload_time;
};

/* At most this many older generations drain at once: a reload waits
 * while they do (master.c, reload_next()). */
#define NL_MAX_OLD_GENERATIONS 3

/* At most this many control clients wait for a queued reload; more are
 * refused at once, so that they cannot take every place of the control
 * socket (NL_CONTROL_MAX_CLIENTS). */
#define NL_MAX_QUEUED_RELOADS 8

/* A serving process gets SIGKILL this long after shutdown_timeout. */
#define KILL_GRACE 2.0

/* Every serving process of every current listener. */
#define FOR_EACH_PROC(m, pr)                                                   \
    for (size_t i_ = 0; i_ < (m)->nlst; i_++)                                  \
        for (struct proc *pr = (m)->lst[i_]->procs;                            \
             pr < (m)->lst[i_]->procs + (m)->lst[i_]->nprocs; pr++)

/* master.c */
void child_close_master_fds(struct nl_master *m, struct lst *keep);
void finish_stop(struct nl_master *m);
void master_stop(struct nl_master *m, const char *why);
int log_reopen(struct nl_master *m);

/* notify.c */
void notify_ready(struct nl_master *m, int ok);
void sd_status(void *arg, char *buf, size_t len);

/* commands.c */
void control_cmd(void *arg, struct nl_control_client *c, const char *line);

/* supervisor.c */
int lst_ready(const struct lst *l);
void check_started(struct nl_master *m);
void reap(struct nl_master *m);
void drain_timer_cb(struct ev_loop *loop, ev_timer *t, int revents);
void kill_cb(struct ev_loop *loop, ev_timer *t, int revents);
void lst_close_socket(struct lst *l);
void drain_free(struct drain *d);
int children_left(const struct nl_master *m);
int drains_full(const struct nl_master *m);
struct lst *nl_lst_new(struct nl_master *m, const struct nl_listener_conf *lc);
void nl_lst_spawn(struct lst *l);
/* Turns l's serving processes into drains (SIGTERM) and frees l; its
 * socket is left to the caller. */
void nl_lst_retire(struct lst *l);
/* Frees l's memory and its gate reference (no process left). */
void nl_lst_free(struct lst *l);

/*
 * reload.c, in two steps around the handler check (which runs in a child
 * while the master's loop goes on).  nl_reload_parse() reads the config
 * file again as it was named at start-up; NULL after adding FILE:LINE
 * errors to errs.  nl_reload_apply() binds the new addresses and applies
 * nc; it takes nc.  Returns 0, or -1 with the errors in errs and the
 * running configuration untouched.
 */
void flush_replies(struct nl_master *m, int force);
void replies_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents);
void check_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents);
void reload_next(struct nl_master *m);
void reload_abort(struct nl_master *m);
void reload_request(struct nl_master *m, const char *why,
                    struct nl_control_client *client);
int queued_clients(const struct nl_master *m);
struct nl_conf *nl_reload_parse(struct nl_master *m, struct nl_errs *errs);
int nl_reload_apply(struct nl_master *m, struct nl_conf *nc,
                    struct nl_errs *errs);

#endif /* NL_MASTER_INT_H */
