/*
 * master.c - the master process: its loop, signals, start-up and stop.
 *
 * The master binds every listener, then hands them to the supervisor
 * (supervisor.c), which starts and watches their serving processes.  It
 * opens the control socket (commands.c answers it) and runs until SIGTERM,
 * SIGINT or `stop`; SIGHUP reloads (reload.c), SIGUSR1 reopens the log.
 * It tells the world how start-up went through notify.c.
 *
 * Signals reach the loop through a self-pipe rather than ev_signal: libev
 * lets only one loop own a signal, and each serving process, forked from
 * here, runs a loop of its own that must be free to watch SIGTERM.  For
 * the same reason the master's loop is not libev's default loop, which
 * would claim SIGCHLD.
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "activation.h"
#include "commands.h"
#include "conf.h"
#include "control.h"
#include "log.h"
#include "master.h"
#include "master_int.h"
#include "metrics.h"
#include "metrics_http.h"
#include "notify.h"
#include "pidfile.h"
#include "reload.h"
#include "sdnotify.h"
#include "stats.h"
#include "supervisor.h"
#include "transport.h"
#include "util.h"

/* Counter slots: one per serving process, old generations' included.
 * Pools grow to max_workers (256 by default) per prefork listener, so
 * there are many; the mapping is touched only as slots are used. */
#define STATS_SLOTS 65536

static int signal_pipe_w = -1;

static void
on_signal(int signo)
{
    unsigned char c = (unsigned char)signo;
    int saved = errno;

    /* A full pipe already holds a wake-up; losing this byte is fine. */
    (void)!write(signal_pipe_w, &c, 1);
    errno = saved;
}

static void master_stop(struct nl_master *m, const char *why);

/* The supervisor's events that are the master's. */

static void
on_all_ready(void *arg)
{
    nl_notify_ready(arg, 1);
}

static void
on_start_failed(void *arg)
{
    struct nl_master *m = arg;

    m->status = 2;
    nl_notify_ready(m, 0);
    m->sup.stopping = 1; /* STATUS= says "stopping" from here on */
    nl_notify_stopping();
    nl_sup_stop(&m->sup);
}

static void
on_all_gone(void *arg)
{
    struct nl_master *m = arg;

    ev_break(m->loop, EVBREAK_ALL);
}

/* In a forked serving process: close what belongs to the master (the
 * supervisor closes the other listeners' sockets and its pipes). */
static void
on_child(void *arg)
{
    struct nl_master *m = arg;

    if (m->ctl != NULL)
        nl_control_close_in_child(m->ctl);
    nl_metrics_http_close_in_child(m->http);
    nl_activation_close_unused();
    close(m->sigpipe[0]);
    close(m->sigpipe[1]);
    if (m->logpipe[0] != -1)
        close(m->logpipe[0]);
    if (m->ready_fd != -1)
        close(m->ready_fd);
    if (m->cwd_fd != -1)
        close(m->cwd_fd);
    /* The pidfile's lock must die with the master, not with its last
     * draining child. */
    if (m->pidfile_fd != -1)
        close(m->pidfile_fd);
}

/* Binds every listener of conf; -1 after logging why. */
static int
bind_all(struct nl_master *m, struct nl_conf *conf)
{
    char err[512];

    m->sup.lst = nl_xcalloc(conf->nlisteners, sizeof(*m->sup.lst));
    for (size_t i = 0; i < conf->nlisteners; i++) {
        struct lst *l = nl_lst_new(&m->sup, &conf->listeners[i]);

        m->sup.lst[m->sup.nlst++] = l;
        if ((l->gate = nl_stats_alloc()) == NULL) {
            nl_errx(l->lc->name, "no counter slot left");
            return -1;
        }
        if (nl_lst_sources(l, NULL) == -1)
            return -1;
        if (nl_transport_open(l->lc, &l->sk, err, sizeof(err)) == -1) {
            nl_errx(NULL, "%s:%d: listener %s: %s", conf->file, l->lc->line,
                    l->lc->name, err);
            return -1;
        }
        nl_debug(l->lc->name, "bound %s %s",
                 nl_transport_name(l->lc->transport), l->sk.address);
    }
    return 0;
}

struct nl_master *
nl_master_new(struct nl_conf *conf, const char *pidfile)
{
    struct nl_master *m = nl_xcalloc(1, sizeof(*m));
    const struct nl_sup_events ev = {
        .all_ready = on_all_ready,
        .start_failed = on_start_failed,
        .stopped_accepting = nl_reload_on_stopped_accepting,
        .drained = nl_reload_on_drained,
        .all_gone = on_all_gone,
        .in_child = on_child,
        .arg = m,
    };
    char err[512];
    pid_t other;

    m->conf = conf;
    nl_sup_init(&m->sup, conf, &ev);
    m->cmds.m = m;
    m->cmds.stop = master_stop;
    m->pidfile = nl_xstrdup(pidfile ? pidfile : conf->pidfile);
    m->control_path = nl_xstrdup(conf->control);
    m->sigpipe[0] = m->sigpipe[1] = -1;
    m->logpipe[0] = m->logpipe[1] = -1;
    m->ready_fd = -1;
    m->pidfile_fd = -1;
    m->cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if ((m->pidfile_fd =
             nl_pidfile_lock(m->pidfile, &other, err, sizeof(err))) == -1) {
        nl_errx(NULL, "%s", err);
        goto fail;
    }
    if (nl_stats_init(STATS_SLOTS) == -1) {
        nl_log_errno(NULL, "shared memory for counters");
        goto fail;
    }
    if (bind_all(m, conf) == -1)
        goto fail;
    return m;
fail:
    for (size_t i = 0; i < m->sup.nlst; i++) {
        nl_transport_close(m->sup.lst[i]->lc, &m->sup.lst[i]->sk);
        nl_lst_free(m->sup.lst[i]);
    }
    free(m->sup.lst);
    nl_pidfile_release(m->pidfile, m->pidfile_fd);
    free(m->pidfile);
    free(m->control_path);
    if (m->cwd_fd != -1)
        close(m->cwd_fd);
    nl_conf_free(conf);
    free(m);
    return NULL;
}

static void
master_stop(struct nl_master *m, const char *why)
{
    if (m->sup.stopping)
        return;
    nl_notice(NULL, "%s: stopping", why);
    m->sup.stopping = 1;
    nl_reload_abort(m);
    /* Stops accepting everywhere and asks the serving processes to
     * drain. */
    nl_notify_stopping();
    nl_sup_stop(&m->sup);
}

static void
signal_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct nl_master *m = io->data;
    unsigned char sigs[64];
    ssize_t n = read(m->sigpipe[0], sigs, sizeof(sigs));

    for (ssize_t i = 0; i < n; i++) {
        switch (sigs[i]) {
        case SIGTERM:
            master_stop(m, "SIGTERM");
            break;
        case SIGINT:
            master_stop(m, "SIGINT");
            break;
        case SIGCHLD:
            nl_sup_reap(&m->sup);
            break;
        case SIGUSR1:
            nl_commands_log_reopen();
            break;
        case SIGHUP:
            nl_reload_request(m, "SIGHUP", NULL);
            break;
        }
    }
}

static void
log_pipe_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    nl_log_pump(io->fd);
}

static int
setup_signals(struct nl_master *m)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD};
    struct sigaction sa;

    if (pipe2(m->sigpipe, O_CLOEXEC | O_NONBLOCK) == -1)
        return -1;
    signal_pipe_w = m->sigpipe[1];
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
        if (sigaction(sigs[i], &sa, NULL) == -1)
            return -1;
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    ev_io_init(&m->sig_w, signal_cb, m->sigpipe[0], EV_READ);
    m->sig_w.data = m;
    ev_io_start(m->loop, &m->sig_w);
    return 0;
}

static void
master_free(struct nl_master *m)
{
    m->sup.stopping = 1; /* a reload still queued is refused, not run */
    if (m->loop != NULL)
        nl_reload_abort(m); /* a reload still checking, after a failed start */
    if (m->loop != NULL)
        nl_reload_flush(m);
    nl_sup_free(&m->sup);
    nl_control_close(m->ctl);
    nl_metrics_http_close(m->http);
    nl_pidfile_release(m->pidfile, m->pidfile_fd);
    if (m->sigpipe[0] != -1) {
        close(m->sigpipe[0]);
        close(m->sigpipe[1]);
    }
    if (m->logpipe[0] != -1) {
        nl_log_pump(m->logpipe[0]);
        close(m->logpipe[0]);
        close(m->logpipe[1]);
    }
    if (m->cwd_fd != -1)
        close(m->cwd_fd);
    nl_sd_stop();
    if (m->loop != NULL)
        ev_loop_destroy(m->loop);
    free(m->pidfile);
    free(m->control_path);
    free(m->rl.error);
    nl_conf_free(m->conf);
    free(m);
}

/* Everything before the loop runs; -1 after logging why. */
static void
metrics_cb(void *arg, struct nl_buf *b)
{
    nl_metrics_write(arg, b);
}

/* The HTTP endpoint for Prometheus (metrics_listen).  -1 after logging. */
static int
open_metrics(struct nl_master *m)
{
    char host[256], err[512];
    int port;

    /* conf_value.c checked the form. */
    if (nl_hostport_split(m->conf->metrics_listen, host, sizeof(host),
                          &port) == -1)
        return -1;
    m->http = nl_metrics_http_open(m->loop, host, port, metrics_cb, m, err,
                                   sizeof(err));
    if (m->http == NULL) {
        nl_errx(NULL, "%s:%d: metrics_listen: %s", m->conf->file,
                nl_conf_line(m->conf, "metrics_listen"), err);
        return -1;
    }
    nl_info(NULL, "metrics at http://%s/metrics",
            nl_metrics_http_address(m->http));
    return 0;
}

static int
master_start(struct nl_master *m)
{
    char err[512];

    m->loop = ev_loop_new(EVFLAG_AUTO);
    if (m->loop == NULL) {
        nl_errx(NULL, "cannot create the event loop");
        return -1;
    }
    nl_reload_init(m);
    /* Here, after daemonize(): the process systemd hears from is this one
     * (main() read the variables, before anything forked). */
    nl_sd_start(m->loop, nl_notify_status, m);
    if (setup_signals(m) == -1) {
        nl_log_errno(NULL, "signals");
        return -1;
    }
    if (nl_log_pipe(m->logpipe) == 0) {
        ev_io_init(&m->log_w, log_pipe_cb, m->logpipe[0], EV_READ);
        ev_io_start(m->loop, &m->log_w);
    }
    m->sup.log_fd = m->logpipe[1];
    if (nl_pidfile_write(m->pidfile_fd, m->pidfile, getpid(), err,
                         sizeof(err)) == -1) {
        nl_errx(NULL, "%s", err);
        return -1;
    }
    m->ctl =
        nl_control_open(m->loop, m->control_path, (int)m->conf->control_mode,
                        nl_commands_run, &m->cmds, err, sizeof(err));
    if (m->ctl == NULL) {
        nl_errx(NULL, "control socket: %s", err);
        return -1;
    }
    if (m->conf->metrics_listen != NULL && open_metrics(m) == -1)
        return -1;
    if (m->conf->control_group != NULL) {
        struct group *gr = getgrnam(m->conf->control_group);

        if (gr == NULL) {
            nl_errx(NULL, "control socket: control_group %s: no such group",
                    m->conf->control_group);
            return -1;
        }
        if (chown(m->control_path, (uid_t)-1, gr->gr_gid) == -1) {
            nl_log_errno(NULL, "control socket: chown %s to group %s",
                         m->control_path, m->conf->control_group);
            return -1;
        }
    }
    return 0;
}

int
nl_master_run(struct nl_master *m, int ready_fd)
{
    int status;

    m->ready_fd = ready_fd;
    m->start_time = time(NULL);
    if (master_start(m) == -1) {
        nl_notify_ready(m, 0);
        master_free(m);
        return 2;
    }
    nl_sup_start(&m->sup, m->loop);
    ev_run(m->loop, 0);
    status = m->status;
    nl_notice(NULL, "stopped");
    master_free(m);
    return status;
}
