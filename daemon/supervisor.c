/*
 * supervisor.c - listeners and their serving processes.
 *
 * The master binds every listener's socket, then the supervisor forks its
 * serving processes (serve.c), which inherit the socket: one per listener,
 * or `workers` for a prefork listener.  It watches them: a serving process
 * that dies is logged with its exit status or signal and started again
 * after a back-off that doubles while it keeps failing, so a handler that
 * crashes at once cannot fork-bomb the machine.  A prefork pool grows:
 * a worker that takes the last idle place says 'G' on its status pipe
 * and pool.c starts more, up to max_workers; an extra (past `workers`)
 * that pool.c asked to end once idle is neither logged as a failure nor
 * restarted, nor is one that failed (the pool grows again when it must).
 * Counters live in shared memory (stats.c); the supervisor folds in those
 * of ended processes.  After a reload (reload.c), serving processes of
 * older generations drain (drain.c): they are listed in status and killed
 * if they outstay shutdown_timeout.
 *
 * It calls neither master.c nor reload.c: what they must know (every
 * listener serves, start-up failed, a drain stopped accepting or ended,
 * nothing is left after a stop) goes through struct nl_sup_events.
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
#include <unistd.h>

#include "admit.h"
#include "conf.h"
#include "drain.h"
#include "log.h"
#include "pool.h"
#include "serve.h"
#include "sources.h"
#include "stats.h"
#include "supervisor.h"
#include "transport.h"
#include "util.h"

#define BACKOFF_MIN  0.1  /* seconds before the first restart */
#define BACKOFF_MAX  30.0 /* and the longest wait between restarts */
#define STABLE_AFTER 10.0 /* a process that lived this long resets it */

static void ready_cb(struct ev_loop *loop, ev_io *io, int revents);
static void restart_cb(struct ev_loop *loop, ev_timer *t, int revents);
static void kill_cb(struct ev_loop *loop, ev_timer *t, int revents);

void
nl_sup_init(struct nl_sup *s, const struct nl_conf *conf,
            const struct nl_sup_events *ev)
{
    memset(s, 0, sizeof(*s));
    s->conf = conf;
    s->generation = 1;
    s->log_fd = -1;
    s->ev = *ev;
}

struct lst *
nl_lst_new(struct nl_sup *s, const struct nl_listener_conf *lc)
{
    struct lst *l = nl_xcalloc(1, sizeof(*l));

    l->sup = s;
    l->id = ++s->next_id;
    l->lc = lc;
    l->sk.fd = -1;
    l->nbase = nl_model_procs(lc);
    l->nprocs = nl_model_max_procs(lc);
    if (l->nprocs < l->nbase)
        l->nprocs = l->nbase;
    /* Once: libev knows the watchers inside. */
    l->procs = nl_xcalloc((size_t)l->nprocs, sizeof(*l->procs));
    for (int j = 0; j < l->nprocs; j++) {
        l->procs[j].l = l;
        l->procs[j].ready_fd = -1;
    }
    return l;
}

int
nl_lst_sources(struct lst *l, const struct lst *o)
{
    const struct nl_listener_conf *lc = l->lc;
    int limited = lc->max_connections_per_source > 0 ||
                  lc->max_connection_rate_per_source > 0;

    if (o != NULL && o->sources != NULL &&
        nl_sources_capacity(o->sources) >= (uint32_t)lc->max_connections) {
        l->sources = o->sources;
        nl_sources_ref(l->sources);
        return 0;
    }
    if (!limited)
        return 0;
    if (o != NULL && o->sources != NULL)
        nl_notice(lc->name, "max_connections grew: per-source counts start "
                            "anew, without the sessions open now");
    if ((l->sources = nl_sources_new((uint32_t)lc->max_connections)) == NULL) {
        nl_log_errno(lc->name, "per-source table (the listener runs without "
                               "per-source limits)");
        return -1;
    }
    return 0;
}

void
nl_lst_free(struct lst *l)
{
    if (l == NULL)
        return;
    if (l->gate != NULL)
        nl_stats_release(l->gate, NULL);
    nl_sources_unref(l->sources);
    free(l->procs);
    free(l);
}

int
nl_lst_ready(const struct lst *l)
{
    for (int j = 0; j < l->nbase; j++)
        if (!l->procs[j].ready)
            return 0;
    return 1;
}

int
nl_lst_serving(const struct lst *l)
{
    return !l->sup->stopping && nl_lst_ready(l);
}

static void
check_started(struct nl_sup *s)
{
    if (s->started_up || nl_sup_serving(s) < s->nlst)
        return;
    s->started_up = 1;
    TELL(s, all_ready);
}

/* In a forked serving process: close what belongs to the master. */
static void
child_close_fds(struct nl_sup *s, struct lst *keep)
{
    TELL(s, in_child);
    for (size_t i = 0; i < s->nlst; i++) {
        if (s->lst[i] != keep)
            nl_transport_close_copy(s->lst[i]->sk.fd);
    }
    FOR_EACH_PROC(s, pr)
    {
        if (pr->ready_fd != -1)
            close(pr->ready_fd);
    }
    for (struct drain *d = s->drains; d != NULL; d = d->next)
        if (d->notify_fd != -1)
            close(d->notify_fd);
    /* Frees the loop's memory and closes its epoll descriptor; it touches
     * no watcher, so the master's loop is unaffected. */
    ev_loop_destroy(s->loop);
}

void
nl_proc_spawn(struct proc *pr)
{
    struct lst *l = pr->l;
    struct nl_sup *s = l->sup;
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
        child_close_fds(s, l);
        nl_log_to_pipe(s->log_fd);
        nl_serve(s->conf, l->lc, l->sk.fd, pr->slot, l->gate, l->sources,
                 p[1]);
    }
    close(p[1]);
    pr->pid = pid;
    l->procs_started++;
    pr->ready = 0;
    pr->generation = s->generation;
    pr->started = nl_now();
    pr->ready_fd = p[0];
    ev_io_init(&pr->ready_w, ready_cb, p[0], EV_READ);
    pr->ready_w.data = pr;
    ev_io_start(s->loop, &pr->ready_w);
    nl_debug(l->lc->name, "serving process %ld started", (long)pid);
    return;
retry:
    /* An extra is not retried: the pool grows again when it must. */
    if (pr - l->procs >= l->nbase)
        return;
    ev_timer_set(&pr->restart_w, 1.0, 0.0);
    ev_timer_start(s->loop, &pr->restart_w);
}

void
nl_lst_spawn(struct lst *l)
{
    for (int j = 0; j < l->nprocs; j++) {
        ev_init(&l->procs[j].restart_w, restart_cb);
        l->procs[j].restart_w.data = &l->procs[j];
    }
    /* Extras start on demand (nl_pool_grow()). */
    for (int j = 0; j < l->nbase; j++)
        nl_proc_spawn(&l->procs[j]);
    nl_pool_note(l);
}

static void
ready_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct proc *pr = io->data;
    char c;
    int n = nl_read_status_byte(pr->ready_fd, &c);

    if (n == -1)
        return;
    if (n == 1) {
        /* "R": serving.  An "S" (stopped accepting) only matters once
         * the process drains; see notify_cb(). */
        if (c == 'R') {
            pr->ready = 1;
            check_started(pr->l->sup);
        } else if (c == 'G') {
            if (pr->slot != NULL) /* it may ask again */
                __atomic_store_n(&pr->slot->grow_asked, 0, __ATOMIC_RELAXED);
            nl_pool_grow(pr->l);
        }
        return;
    }
    /* EOF: the process ended (reaping says why), or failed to start. */
    ev_io_stop(loop, io);
    close(pr->ready_fd);
    pr->ready_fd = -1;
}

static void
restart_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct proc *pr = t->data;

    if (!pr->l->sup->stopping && pr->pid == 0)
        nl_proc_spawn(pr);
}

/* Seconds before restarting pr, which just failed: doubles while it keeps
 * failing, from BACKOFF_MIN up to BACKOFF_MAX. */
static double
backoff(struct proc *pr)
{
    double delay;

    if (nl_now() - pr->started >= STABLE_AFTER)
        pr->failures = 0;
    delay = BACKOFF_MIN * (double)(1u << (pr->failures < 9 ? pr->failures : 9));
    if (delay > BACKOFF_MAX)
        delay = BACKOFF_MAX;
    pr->failures++;
    return delay;
}

static void
reaped(struct proc *pr, int status)
{
    struct lst *l = pr->l;
    struct nl_sup *s = l->sup;
    char how[128];
    double delay;

    if (pr->ready_fd != -1) {
        ev_io_stop(s->loop, &pr->ready_w);
        close(pr->ready_fd);
        pr->ready_fd = -1;
    }
    nl_admit_give_back(l->gate, pr->slot);
    nl_sources_give_back(l->sources, pr->pid);
    nl_pool_give_back(l->gate, pr->slot);
    nl_stats_release(pr->slot, &l->kept);
    pr->slot = NULL;
    pr->ready = 0;
    nl_describe_status(status, how, sizeof(how));
    pr->pid = 0;
    nl_pool_note(l);
    /* A crash: a signal that netlabd did not send (it sends SIGTERM to
     * stop or retire a process). */
    if (WIFSIGNALED(status) &&
        !((s->stopping || pr->retiring) && WTERMSIG(status) == SIGTERM)) {
        l->procs_crashed++;
        l->last_signal = WTERMSIG(status);
    }
    if (s->stopping ||
        (pr->retiring && WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        nl_debug(l->lc->name, "serving process %s", how);
        return;
    }
    nl_errx(l->lc->name, "serving process %s", how);
    if (pr - l->procs >= l->nbase)
        return; /* an extra: the pool grows again when it must */
    if (!s->started_up) {
        nl_errx(NULL, "a serving process failed during start-up; stopping");
        TELL(s, start_failed);
        return;
    }
    delay = backoff(pr);
    nl_notice(l->lc->name, "restarting the serving process in %.1f s", delay);
    ev_timer_set(&pr->restart_w, delay, 0.0);
    ev_timer_start(s->loop, &pr->restart_w);
}

void
nl_lst_retire(struct lst *l)
{
    struct nl_sup *s = l->sup;
    double deadline = nl_now() + s->conf->shutdown_timeout + NL_KILL_GRACE;

    for (int j = 0; j < l->nprocs; j++) {
        struct proc *pr = &l->procs[j];

        ev_timer_stop(s->loop, &pr->restart_w);
        if (pr->ready_fd != -1)
            ev_io_stop(s->loop, &pr->ready_w);
        if (pr->pid != 0)
            nl_drain_new(l, pr, deadline);
        else if (pr->ready_fd != -1)
            close(pr->ready_fd);
    }
    nl_lst_free(l);
}

unsigned long long
nl_sup_active(const struct nl_sup *s)
{
    unsigned long long active = 0;

    FOR_EACH_PROC(s, pr)
    {
        if (pr->slot != NULL)
            active += __atomic_load_n(&pr->slot->active, __ATOMIC_RELAXED);
    }
    for (const struct drain *d = s->drains; d != NULL; d = d->next)
        active += __atomic_load_n(&d->slot->active, __ATOMIC_RELAXED);
    return active;
}

size_t
nl_sup_serving(const struct nl_sup *s)
{
    size_t serving = 0;

    for (size_t i = 0; i < s->nlst; i++)
        serving += nl_lst_ready(s->lst[i]);
    return serving;
}

void
nl_lst_counters(const struct nl_sup *s, const struct lst *l,
                struct nl_counters *c)
{
    *c = l->kept;
    c->active = 0;
    for (int j = 0; j < l->nprocs; j++)
        if (l->procs[j].slot != NULL)
            nl_stats_sum(c, l->procs[j].slot);
    for (const struct drain *d = s->drains; d != NULL; d = d->next)
        if (d->id == l->id)
            nl_stats_sum(c, d->slot);
}

static int
children_left(const struct nl_sup *s)
{
    if (s->drains != NULL)
        return 1;
    FOR_EACH_PROC(s, pr)
    {
        if (pr->pid != 0)
            return 1;
    }
    return 0;
}

void
nl_sup_reap(struct nl_sup *s)
{
    int status, drained;

    /* Only our own serving processes: a plugin check child is waited for
     * by whoever forked it. */
    FOR_EACH_PROC(s, pr)
    {
        if (pr->pid != 0 && waitpid(pr->pid, &status, WNOHANG) == pr->pid)
            reaped(pr, status);
    }
    drained = nl_drain_reap(s);
    if (s->stopping && !children_left(s)) {
        TELL(s, all_gone);
        return;
    }
    /* A reload that waited for an older generation to finish may go. */
    if (drained)
        TELL(s, drained);
}

static void
kill_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct nl_sup *s = t->data;

    FOR_EACH_PROC(s, pr)
    {
        if (pr->pid != 0) {
            nl_warnx(pr->l->lc->name,
                     "serving process %ld did not stop in time; killing it",
                     (long)pr->pid);
            kill(pr->pid, SIGKILL);
        }
    }
    for (struct drain *d = s->drains; d != NULL; d = d->next)
        kill(d->pid, SIGKILL);
}

void
nl_sup_start(struct nl_sup *s, struct ev_loop *loop)
{
    s->loop = loop;
    ev_init(&s->kill_w, kill_cb);
    s->kill_w.data = s;
    ev_timer_init(&s->drain_w, nl_drain_timer_cb, 1.0, 1.0);
    s->drain_w.data = s;
    ev_timer_start(loop, &s->drain_w);
    ev_timer_init(&s->pool_w, nl_pool_timer_cb, 1.0, 1.0);
    s->pool_w.data = s;
    ev_timer_start(loop, &s->pool_w);
    for (size_t i = 0; i < s->nlst; i++)
        nl_lst_spawn(s->lst[i]);
    check_started(s);
}

void
nl_sup_stop(struct nl_sup *s)
{
    s->stopping = 1;
    /* Our copy of the socket goes now; the file is removed at exit. */
    for (size_t i = 0; i < s->nlst; i++)
        nl_transport_stop(s->lst[i]->lc, &s->lst[i]->sk);
    FOR_EACH_PROC(s, pr)
    {
        ev_timer_stop(s->loop, &pr->restart_w);
        if (pr->pid != 0)
            kill(pr->pid, SIGTERM);
    }
    if (!children_left(s)) {
        TELL(s, all_gone);
        return;
    }
    ev_timer_set(&s->kill_w, s->conf->shutdown_timeout + NL_KILL_GRACE, 0.0);
    ev_timer_start(s->loop, &s->kill_w);
}

void
nl_sup_free(struct nl_sup *s)
{
    for (size_t i = 0; i < s->nlst; i++) {
        struct lst *l = s->lst[i];

        nl_transport_stop(l->lc, &l->sk);
        nl_transport_remove(l->lc, &l->sk);
        for (int j = 0; j < l->nprocs; j++)
            if (l->procs[j].ready_fd != -1)
                close(l->procs[j].ready_fd);
        nl_lst_free(l);
    }
    free(s->lst);
    s->lst = NULL;
    s->nlst = 0;
    nl_drain_free_all(s);
}
