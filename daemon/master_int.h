/*
 * master_int.h - the master's state, which master.c, reload.c,
 * reload_apply.c, commands.c and notify.c share.  The listeners and their
 * processes are the supervisor's (m->sup, supervisor.h).  Not for other
 * modules.
 */
#ifndef NL_MASTER_INT_H
#define NL_MASTER_INT_H

#include <ev.h>
#include <time.h>

#include "errs.h"
#include "supervisor.h"

struct nl_check;
struct nl_conf;
struct nl_control;
struct nl_control_client;

/* What the control commands work on (commands.c does not call master.c:
 * a stop goes through stop). */
struct nl_metrics_http;

struct nl_commands {
    struct nl_master *m;
    /* Stops netlabd gracefully; why goes to the log. */
    void (*stop)(struct nl_master *m, const char *why);
};

/* The reload's state (reload.c); status and STATUS= read its outcome. */
struct nl_reload_state {
    struct waiter *queue;             /* asked for, first first */
    int deferred;                     /* the first waits for old generations */
    int running;                      /* one runs (its check, or applying it) */
    struct nl_control_client *client; /* who asked for the one running */
    struct nl_check *check;           /* its handler check, if any */
    struct nl_conf *check_conf;       /* the configuration it checks */
    struct nl_errs errs;              /* why it failed */
    ev_io check_w;
    ev_timer check_t;
    struct reply *replies; /* `reload` answers held back */
    ev_timer replies_w;    /* bounds how long they are held */
    int to_root;           /* it left handlers to root */
    /* The outcome of the last one, for status and STATUS=. */
    int done; /* one has run: last_reload is set */
    int ok;
    unsigned long long nok, nfailed; /* reloads applied and refused */
    char *error;
    time_t time;
};

struct nl_master {
    struct ev_loop *loop;
    struct nl_conf *conf; /* m->sup.conf too */
    struct nl_sup sup;    /* listeners and serving processes */
    char *pidfile;
    int pidfile_fd; /* holds the pidfile's lock */
    char *control_path;
    int cwd_fd; /* to read the config file as given, after chdir("/") */
    struct nl_control *ctl;
    struct nl_metrics_http *http; /* metrics_listen, or NULL */
    struct nl_commands cmds; /* the control socket's callback's */
    int sigpipe[2];
    int logpipe[2];
    ev_io sig_w;
    ev_io log_w;
    int ready_fd; /* daemonize pipe, until start-up is over */
    int status;   /* exit status */
    time_t start_time;
    struct nl_reload_state rl;
};

#endif /* NL_MASTER_INT_H */
