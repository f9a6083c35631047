/*
 * supervisor.c - listeners and their serving processes.
 *
 * The master binds every listener's socket, then forks its serving
 * processes (serve.c), which inherit the socket: one per listener, or
 * `workers` for a prefork listener.  It watches them: a serving process
 * that dies is logged with its exit status or signal and started again
 * after a back-off that doubles while it keeps failing, so a handler that
 * crashes at once cannot fork-bomb the machine.  Counters live in shared
 * memory (stats.c); the master folds in those of ended processes.  After a
 * reload (reload.c), serving processes of older generations drain: they
 * are listed in status and killed if they outstay shutdown_timeout.
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
#include "conf.h"
#include "log.h"
#include "master_int.h"
#include "serve.h"
#include "stats.h"
#include "transport.h"
#include "util.h"

#define BACKOFF_MIN  0.1  /* seconds before the first restart */
#define BACKOFF_MAX  30.0 /* and the longest wait between restarts */
#define STABLE_AFTER 10.0 /* a process that lived this long resets it */

struct lst *
nl_lst_new(struct nl_master *m, const struct nl_listener_conf *lc)
{
    struct lst *l = nl_xcalloc(1, sizeof(*l));

    l->m = m;
    l->id = ++m->next_id;
    l->lc = lc;
    l->sk.fd = -1;
    l->nprocs = lc->model == NL_MODEL_PREFORK ? lc->workers : 1;
    l->procs = nl_xcalloc((size_t)l->nprocs, sizeof(*l->procs));
    for (int j = 0; j < l->nprocs; j++) {
        l->procs[j].l = l;
        l->procs[j].ready_fd = -1;
    }
    return l;
}

void
nl_lst_free(struct lst *l)
{
    if (l == NULL)
        return;
    if (l->gate != NULL)
        nl_stats_release(l->gate, NULL);
    free(l->procs);
    free(l);
}

/* 1 when every serving process of the listener is serving. */
int
lst_ready(const struct lst *l)
{
    for (int j = 0; j < l->nprocs; j++)
        if (!l->procs[j].ready)
            return 0;
    return 1;
}

void
check_started(struct nl_master *m)
{
    if (m->started_up)
        return;
    for (size_t i = 0; i < m->nlst; i++)
        if (!lst_ready(m->lst[i]))
            return;
    m->started_up = 1;
    notify_ready(m, 1);
}

static void ready_cb(struct ev_loop *loop, ev_io *io, int revents);
static void restart_cb(struct ev_loop *loop, ev_timer *t, int revents);

static void
spawn(struct proc *pr)
{
    struct lst *l = pr->l;
    struct nl_master *m = l->m;
    int p[2];
    pid_t pid;

    if ((pr->slot = nl_stats_alloc()) == NULL) {
        nl_errx(l->lc->name, "no counter slot left; retrying in 1 s");
        goto retry;
    }
    if (pipe2(p, O_CLOEXEC) == -1) {
        nl_log_errno(l->lc->name, "pipe (retrying in 1 s)");
        nl_stats_release(pr->slot, &l->kept);
        pr->slot = NULL;
        goto retry;
    }
    if ((pid = nl_fork()) == -1) {
        nl_log_errno(l->lc->name, "fork (retrying in 1 s)");
        close(p[0]);
        close(p[1]);
        nl_stats_release(pr->slot, &l->kept);
        pr->slot = NULL;
        goto retry;
    }
    if (pid == 0) {
        close(p[0]);
        child_close_master_fds(m, l);
        nl_log_to_pipe(m->logpipe[1]);
        nl_serve(m->conf, l->lc, l->sk.fd, pr->slot, l->gate, p[1]);
    }
    close(p[1]);
    pr->pid = pid;
    pr->ready = 0;
    pr->generation = m->generation;
    pr->started = nl_now();
    pr->ready_fd = p[0];
    ev_io_init(&pr->ready_w, ready_cb, p[0], EV_READ);
    pr->ready_w.data = pr;
    ev_io_start(m->loop, &pr->ready_w);
    nl_debug(l->lc->name, "serving process %ld started", (long)pid);
    return;
retry:
    ev_timer_set(&pr->restart_w, 1.0, 0.0);
    ev_timer_start(m->loop, &pr->restart_w);
}

void
nl_lst_spawn(struct lst *l)
{
    for (int j = 0; j < l->nprocs; j++) {
        ev_init(&l->procs[j].restart_w, restart_cb);
        l->procs[j].restart_w.data = &l->procs[j];
        spawn(&l->procs[j]);
    }
}

static void
ready_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct proc *pr = io->data;
    char c;
    ssize_t n = read(pr->ready_fd, &c, 1);

    if (n == -1 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n == 1) {
        /* "R": serving.  An "S" (stopped accepting) only matters once
         * the process drains; see notify_cb(). */
        if (c == 'R') {
            pr->ready = 1;
            check_started(pr->l->m);
        }
        return;
    }
    /* EOF: the process ended (reaping says why), or failed to start. */
    ev_io_stop(loop, io);
    close(pr->ready_fd);
    pr->ready_fd = -1;
}

static void
drain_stopped_accepting(struct drain *d)
{
    if (d->notify_fd != -1) {
        ev_io_stop(d->m->loop, &d->notify_w);
        close(d->notify_fd);
        d->notify_fd = -1;
    }
    d->accepting = 0;
    if (d->m->replies != NULL)
        flush_replies(d->m, 0);
}

static void
notify_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct drain *d = io->data;
    char c;
    ssize_t n = read(d->notify_fd, &c, 1);

    if (n == -1 && (errno == EINTR || errno == EAGAIN))
        return;
    /* "S", or EOF: the process is gone. */
    if (n <= 0 || c == 'S')
        drain_stopped_accepting(d);
}

static void
restart_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct proc *pr = t->data;

    if (!pr->l->m->stopping && pr->pid == 0)
        spawn(pr);
}

static void
describe_status(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d (SIG%s)%s", WTERMSIG(status),
                 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status))
                                                : "?",
                 WCOREDUMP(status) ? ", core dumped" : "");
    else
        snprintf(buf, len, "ended with status 0x%x", status);
}

/* Gives back the sessions a process had open: a crashed process cannot. */
static void
close_gate(struct nl_counters *gate, struct nl_counters *slot)
{
    __atomic_sub_fetch(&gate->active,
                       __atomic_load_n(&slot->active, __ATOMIC_RELAXED),
                       __ATOMIC_RELAXED);
}



static void
reaped(struct proc *pr, int status)
{
    struct lst *l = pr->l;
    struct nl_master *m = l->m;
    char how[128];
    double delay;

    if (pr->ready_fd != -1) {
        ev_io_stop(m->loop, &pr->ready_w);
        close(pr->ready_fd);
        pr->ready_fd = -1;
    }
    close_gate(l->gate, pr->slot);
    nl_stats_release(pr->slot, &l->kept);
    pr->slot = NULL;
    pr->ready = 0;
    describe_status(status, how, sizeof(how));
    pr->pid = 0;
    if (m->stopping) {
        nl_debug(l->lc->name, "serving process %s", how);
        return;
    }
    nl_errx(l->lc->name, "serving process %s", how);
    if (!m->started_up) {
        nl_errx(NULL, "a serving process failed during start-up; stopping");
        m->status = 2;
        notify_ready(m, 0);
        m->stopping = 1;
        finish_stop(m);
        return;
    }
    if (nl_now() - pr->started >= STABLE_AFTER)
        pr->failures = 0;
    delay = BACKOFF_MIN * (double)(1u << (pr->failures < 9 ? pr->failures : 9));
    if (delay > BACKOFF_MAX)
        delay = BACKOFF_MAX;
    pr->failures++;
    nl_notice(l->lc->name, "restarting the serving process in %.1f s", delay);
    ev_timer_set(&pr->restart_w, delay, 0.0);
    ev_timer_start(m->loop, &pr->restart_w);
}

/* The current listener a draining process belongs to, if it still has
 * one: the same one, changed (and maybe renamed) by reloads since. */
static struct lst *
lst_by_id(struct nl_master *m, unsigned id)
{
    for (size_t i = 0; i < m->nlst; i++)
        if (m->lst[i]->id == id)
            return m->lst[i];
    return NULL;
}

void
drain_free(struct drain *d)
{
    if (d->notify_fd != -1) {
        ev_io_stop(d->m->loop, &d->notify_w);
        close(d->notify_fd);
    }
    free(d->name);
    free(d);
}

/* A draining process ended: its counts go to the listener of its name. */
static void
drain_reaped(struct nl_master *m, struct drain *d, int status)
{
    struct lst *l = lst_by_id(m, d->id);
    char how[128];

    drain_stopped_accepting(d);
    describe_status(status, how, sizeof(how));
    nl_info(d->name, "serving process %ld of generation %u %s after draining",
            (long)d->pid, d->generation, how);
    close_gate(d->gate, d->slot);
    nl_stats_release(d->slot, l != NULL ? &l->kept : NULL);
    nl_stats_release(d->gate, NULL);
}

void
nl_lst_retire(struct lst *l)
{
    struct nl_master *m = l->m;
    double deadline = nl_now() + m->conf->shutdown_timeout + KILL_GRACE;

    for (int j = 0; j < l->nprocs; j++) {
        struct proc *pr = &l->procs[j];
        struct drain *d;

        ev_timer_stop(m->loop, &pr->restart_w);
        if (pr->ready_fd != -1)
            ev_io_stop(m->loop, &pr->ready_w);
        if (pr->pid == 0) {
            if (pr->ready_fd != -1)
                close(pr->ready_fd);
            continue;
        }
        d = nl_xcalloc(1, sizeof(*d));
        d->m = m;
        /* The process says "S" on this pipe once it stopped accepting. */
        d->notify_fd = pr->ready_fd;
        d->accepting = pr->ready_fd != -1;
        if (d->accepting) {
            ev_io_init(&d->notify_w, notify_cb, d->notify_fd, EV_READ);
            d->notify_w.data = d;
            ev_io_start(m->loop, &d->notify_w);
        }
        pr->ready_fd = -1;
        d->pid = pr->pid;
        d->id = l->id;
        d->name = nl_xstrdup(l->lc->name);
        d->slot = pr->slot;
        d->gate = l->gate;
        nl_stats_ref(l->gate);
        d->generation = pr->generation;
        d->retired = m->generation;
        d->deadline = deadline;
        d->next = m->drains;
        m->drains = d;
        kill(pr->pid, SIGTERM);
    }
    nl_lst_free(l);
}

/* 1 when NL_MAX_OLD_GENERATIONS generations still drain: a reload now
 * would add one more.  Each reload retires at most one generation, and a
 * process is counted until it is reaped, sessions or not. */
int
drains_full(const struct nl_master *m)
{
    unsigned gens[NL_MAX_OLD_GENERATIONS];
    int n = 0;

    for (const struct drain *d = m->drains; d != NULL; d = d->next) {
        int seen = 0;

        for (int i = 0; i < n; i++)
            seen |= gens[i] == d->retired;
        if (!seen)
            gens[n++] = d->retired;
        if (n == NL_MAX_OLD_GENERATIONS)
            return 1;
    }
    return 0;
}

int
children_left(const struct nl_master *m)
{
    if (m->drains != NULL)
        return 1;
    FOR_EACH_PROC(m, pr)
    {
        if (pr->pid != 0)
            return 1;
    }
    return 0;
}



void
reap(struct nl_master *m)
{
    struct drain **dp = &m->drains;
    int status, drained = 0;

    /* Only our own serving processes: a plugin check child is waited for
     * by whoever forked it. */
    FOR_EACH_PROC(m, pr)
    {
        if (pr->pid != 0 && waitpid(pr->pid, &status, WNOHANG) == pr->pid)
            reaped(pr, status);
    }
    while (*dp != NULL) {
        struct drain *d = *dp;

        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            *dp = d->next;
            drain_reaped(m, d, status);
            drain_free(d);
            drained = 1;
        } else {
            dp = &d->next;
        }
    }
    if (m->stopping && !children_left(m)) {
        ev_break(m->loop, EVBREAK_ALL);
        return;
    }
    /* A reload that waited for an older generation to finish may go. */
    if (drained)
        reload_next(m);
}

/* Kills draining processes that outstay shutdown_timeout. */
void
drain_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct nl_master *m = t->data;
    double now = nl_now();

    for (struct drain *d = m->drains; d != NULL; d = d->next)
        if (now > d->deadline) {
            nl_warnx(d->name,
                     "serving process %ld of generation %u did not finish "
                     "draining in time; killing it",
                     (long)d->pid, d->generation);
            kill(d->pid, SIGKILL);
            d->deadline = now + 60; /* once */
        }
    nl_log_tick();
}

void
kill_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct nl_master *m = t->data;

    FOR_EACH_PROC(m, pr)
    {
        if (pr->pid != 0) {
            nl_warnx(pr->l->lc->name,
                     "serving process %ld did not stop in time; killing it",
                     (long)pr->pid);
            kill(pr->pid, SIGKILL);
        }
    }
    for (struct drain *d = m->drains; d != NULL; d = d->next)
        kill(d->pid, SIGKILL);
}

/* Closes the master's copy of l's socket for good; a socket systemd
 * passed in leaves the pool too, so that nothing holds a stale descriptor
 * (its file is systemd's, and nl_unix_unlink() leaves it). */
void
lst_close_socket(struct lst *l)
{
    if (l->sk.fd == -1)
        return;
    if (l->sk.adopted)
        nl_activation_release(&l->sk);
    else
        close(l->sk.fd);
    l->sk.fd = -1;
}
