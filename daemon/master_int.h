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
struct nl_commands {
    struct nl_master *m;
    /* Stops netlabd gracefully; why goes to the log. */
    void (*stop)(struct nl_master *m, const char *why);
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
    struct nl_commands cmds; /* the control socket's callback's */
    int sigpipe[2];
    int logpipe[2];
    ev_io sig_w;
    ev_io log_w;
    int ready_fd; /* daemonize pipe, until start-up is over */
    int status;   /* exit status */
    time_t start_time;
    /* The reload's (reload.c). */
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
    int reload_to_root; /* the last reload left handlers to root */
    char *reload_error;
    time_t reload_time;
};

#endif /* NL_MASTER_INT_H */
