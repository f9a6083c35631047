/*
 * master.c - the master process: its loop, signals, start-up and stop.
 *
 * The master binds every listener (supervisor.c starts and watches their
 * serving processes), opens the control socket (commands.c answers it),
 * and runs until SIGTERM, SIGINT or `stop`; SIGHUP reloads (reload.c),
 * SIGUSR1 reopens the log.
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "activation.h"
#include "buf.h"
#include "conf.h"
#include "control.h"
#include "json.h"
#include "log.h"
#include "master.h"
#include "master_int.h"
#include "pidfile.h"
#include "plugins.h"
#include "sdnotify.h"
#include "serve.h"
#include "stats.h"
#include "transport.h"
#include "util.h"

#define STATS_SLOTS  4096

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

struct nl_master *
nl_master_new(struct nl_conf *conf, const char *pidfile)
{
    struct nl_master *m = nl_xcalloc(1, sizeof(*m));
    char err[512];
    pid_t other;

    m->conf = conf;
    m->pidfile = nl_xstrdup(pidfile ? pidfile : conf->pidfile);
    m->control_path = nl_xstrdup(conf->control);
    m->sigpipe[0] = m->sigpipe[1] = -1;
    m->logpipe[0] = m->logpipe[1] = -1;
    m->ready_fd = -1;
    m->pidfile_fd = -1;
    m->generation = 1;
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
    m->lst = nl_xcalloc(conf->nlisteners, sizeof(*m->lst));
    for (size_t i = 0; i < conf->nlisteners; i++) {
        struct lst *l = nl_lst_new(m, &conf->listeners[i]);

        m->lst[m->nlst++] = l;
        if ((l->gate = nl_stats_alloc()) == NULL) {
            nl_errx(l->lc->name, "no counter slot left");
            goto fail;
        }
        if (nl_transport_open(l->lc, &l->sk, err, sizeof(err)) == -1) {
            nl_errx(NULL, "%s:%d: listener %s: %s", conf->file, l->lc->line,
                    l->lc->name, err);
            goto fail;
        }
        nl_debug(l->lc->name, "bound %s %s",
                 nl_transport_name(l->lc->transport), l->sk.address);
    }
    return m;
fail:
    for (size_t i = 0; i < m->nlst; i++) {
        nl_transport_close(m->lst[i]->lc, &m->lst[i]->sk);
        nl_lst_free(m->lst[i]);
    }
    free(m->lst);
    nl_pidfile_release(m->pidfile, m->pidfile_fd);
    free(m->pidfile);
    free(m->control_path);
    if (m->cwd_fd != -1)
        close(m->cwd_fd);
    nl_conf_free(conf);
    free(m);
    return NULL;
}

/* In a forked serving process: close what belongs to the master. */
void
child_close_master_fds(struct nl_master *m, struct lst *keep)
{
    for (size_t i = 0; i < m->nlst; i++) {
        if (m->lst[i] != keep && m->lst[i]->sk.fd != -1)
            close(m->lst[i]->sk.fd);
    }
    FOR_EACH_PROC(m, pr)
    {
        if (pr->ready_fd != -1)
            close(pr->ready_fd);
    }
    for (struct drain *d = m->drains; d != NULL; d = d->next)
        if (d->notify_fd != -1)
            close(d->notify_fd);
    if (m->ctl != NULL)
        nl_control_close_in_child(m->ctl);
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
    /* Frees the loop's memory and closes its epoll descriptor; it touches
     * no watcher, so the master's loop is unaffected. */
    ev_loop_destroy(m->loop);
}

/* Stops accepting everywhere and asks the serving processes to drain. */
void
finish_stop(struct nl_master *m)
{
    nl_sd_stopping();
    for (size_t i = 0; i < m->nlst; i++) {
        struct lst *l = m->lst[i];

        /* Our copy of the socket goes now; the file is removed at exit. */
        lst_close_socket(l);
    }
    FOR_EACH_PROC(m, pr)
    {
        ev_timer_stop(m->loop, &pr->restart_w);
        if (pr->pid != 0)
            kill(pr->pid, SIGTERM);
    }
    if (!children_left(m)) {
        ev_break(m->loop, EVBREAK_ALL);
        return;
    }
    ev_timer_set(&m->kill_w, m->conf->shutdown_timeout + KILL_GRACE, 0.0);
    ev_timer_start(m->loop, &m->kill_w);
}

void
master_stop(struct nl_master *m, const char *why)
{
    if (m->stopping)
        return;
    nl_notice(NULL, "%s: stopping", why);
    m->stopping = 1;
    reload_abort(m);
    finish_stop(m);
}

int
log_reopen(struct nl_master *m)
{
    if (nl_log_reopen() == -1) {
        nl_log_errno(NULL, "reopening the log");
        return -1;
    }
    nl_info(NULL, "log reopened");
    return 0;
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
            reap(m);
            break;
        case SIGUSR1:
            log_reopen(m);
            break;
        case SIGHUP:
            reload_request(m, "SIGHUP", NULL);
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
    m->stopping = 1; /* a reload still queued is refused, not run */
    if (m->loop != NULL)
        reload_abort(m); /* a reload still checking, after a failed start */
    for (size_t i = 0; i < m->nlst; i++) {
        struct lst *l = m->lst[i];

        lst_close_socket(l);
        if (l->lc->path != NULL)
            nl_unix_unlink(l->lc->path, &l->sk);
        for (int j = 0; j < l->nprocs; j++)
            if (l->procs[j].ready_fd != -1)
                close(l->procs[j].ready_fd);
        nl_lst_free(l);
    }
    if (m->loop != NULL)
        flush_replies(m, 1);
    while (m->drains != NULL) {
        struct drain *d = m->drains;

        m->drains = d->next;
        drain_free(d);
    }
    nl_control_close(m->ctl);
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
    free(m->lst);
    free(m->pidfile);
    free(m->control_path);
    free(m->reload_error);
    nl_conf_free(m->conf);
    free(m);
}

int
nl_master_run(struct nl_master *m, int ready_fd)
{
    char err[512];
    int status;

    m->ready_fd = ready_fd;
    m->start_time = time(NULL);
    m->loop = ev_loop_new(EVFLAG_AUTO);
    if (m->loop == NULL) {
        nl_errx(NULL, "cannot create the event loop");
        goto fail;
    }
    ev_init(&m->kill_w, kill_cb);
    m->kill_w.data = m;
    ev_init(&m->check_t, check_timeout_cb);
    m->check_t.data = m;
    ev_init(&m->replies_w, replies_timeout_cb);
    m->replies_w.data = m;
    ev_timer_init(&m->drain_w, drain_timer_cb, 1.0, 1.0);
    m->drain_w.data = m;
    ev_timer_start(m->loop, &m->drain_w);
    /* Here, after daemonize(): the process systemd hears from is this one
     * (main() read the variables, before anything forked). */
    nl_sd_start(m->loop, sd_status, m);
    if (setup_signals(m) == -1) {
        nl_log_errno(NULL, "signals");
        goto fail;
    }
    if (nl_log_pipe(m->logpipe) == 0) {
        ev_io_init(&m->log_w, log_pipe_cb, m->logpipe[0], EV_READ);
        ev_io_start(m->loop, &m->log_w);
    }
    if (nl_pidfile_write(m->pidfile_fd, m->pidfile, getpid(), err,
                         sizeof(err)) == -1) {
        nl_errx(NULL, "%s", err);
        goto fail;
    }
    m->ctl =
        nl_control_open(m->loop, m->control_path, (int)m->conf->control_mode,
                        control_cmd, m, err, sizeof(err));
    if (m->ctl == NULL) {
        nl_errx(NULL, "control socket: %s", err);
        goto fail;
    }
    for (size_t i = 0; i < m->nlst; i++)
        nl_lst_spawn(m->lst[i]);
    check_started(m);
    ev_run(m->loop, 0);
    status = m->status;
    nl_notice(NULL, "stopped");
    master_free(m);
    return status;
fail:
    notify_ready(m, 0);
    master_free(m);
    return 2;
}
