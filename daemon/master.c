/*
 * master.c - the supervisor.
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

#define BACKOFF_MIN  0.1  /* seconds before the first restart */
#define BACKOFF_MAX  30.0 /* and the longest wait between restarts */
#define STABLE_AFTER 10.0 /* a process that lived this long resets it */
#define KILL_GRACE   2.0  /* after shutdown_timeout, then SIGKILL */
#define STATS_SLOTS  4096
#define REPLY_WAIT   2.0 /* longest a reload answer waits for old processes */

/* Every serving process of every current listener. */
#define FOR_EACH_PROC(m, pr)                                                   \
    for (size_t i_ = 0; i_ < (m)->nlst; i_++)                                  \
        for (struct proc *pr = (m)->lst[i_]->procs;                            \
             pr < (m)->lst[i_]->procs + (m)->lst[i_]->nprocs; pr++)

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

static void
notify_ready(struct nl_master *m, int ok)
{
    if (m->ready_fd != -1) {
        /* The waiting parent exits 0 on "R"; nothing to do if it is gone. */
        (void)!write(m->ready_fd, ok ? "R" : "F", 1);
        close(m->ready_fd);
        m->ready_fd = -1;
    }
    /* Start-up is over, and the reasons of a failure were said. */
    nl_log_startup_end();
    if (ok) {
        nl_sd_ready();
        nl_notice(NULL, "ready: %zu listener(s) serving", m->nlst);
    }
}

/* 1 when every serving process of the listener is serving. */
static int
lst_ready(const struct lst *l)
{
    for (int j = 0; j < l->nprocs; j++)
        if (!l->procs[j].ready)
            return 0;
    return 1;
}

static void
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

/* In a forked serving process: close what belongs to the master. */
static void
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

/* Sends the reload answers held back, once no older process accepts any
 * more (or the wait is over). */
static void
flush_replies(struct nl_master *m, int force)
{
    struct reply **rp = &m->replies;
    double now = nl_now(), next = 0;

    while (*rp != NULL) {
        struct reply *r = *rp;
        int wait = 0;

        /* Only processes that reload (or an earlier one) retired count. */
        for (struct drain *d = m->drains; d != NULL && !wait; d = d->next)
            wait = d->accepting && d->retired <= r->generation;
        if (wait && !force && now < r->deadline) {
            if (next == 0 || r->deadline < next)
                next = r->deadline;
            rp = &r->next;
            continue;
        }
        *rp = r->next;
        nl_control_reply(r->client, r->json);
        free(r->json);
        free(r);
    }
    ev_timer_stop(m->loop, &m->replies_w);
    if (next > 0) {
        ev_timer_set(&m->replies_w, next - now, 0.0);
        ev_timer_start(m->loop, &m->replies_w);
    }
}

static void
replies_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    flush_replies(t->data, 0); /* sends those whose deadline passed */
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

static void finish_stop(struct nl_master *m);

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

static void
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
static int
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

static int
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

static void reload_next(struct nl_master *m);

static void
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
static void
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

static void
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
static void
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

/* Stops accepting everywhere and asks the serving processes to drain. */
static void
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

static void reload_abort(struct nl_master *m);

static void
master_stop(struct nl_master *m, const char *why)
{
    if (m->stopping)
        return;
    nl_notice(NULL, "%s: stopping", why);
    m->stopping = 1;
    reload_abort(m);
    finish_stop(m);
}

/*
 * Reloading.  The new file is parsed at once, its handlers are checked in
 * a child while the loop goes on (so status, restarts and logs do not wait
 * for a slow init()), and the rest is applied when the child is done.  A
 * control client gets the outcome when it is known.  A reload asked for
 * while one runs is queued and runs after it; so is one asked for while
 * NL_MAX_OLD_GENERATIONS older generations drain, until one of them ends:
 * reloads in a quick row never end a live session before its
 * shutdown_timeout, and never pile up processes.
 */
static void reload_run(struct nl_master *m, const char *why,
                       struct nl_control_client *client);

/* Answers a client's `reload`: at once if it failed, else once the old
 * processes stopped accepting, so that a client that connects after the
 * answer meets the new configuration. */
static void
answer_reload(struct nl_master *m, struct nl_control_client *c)
{
    struct nl_buf b = {0};
    struct reply *r;

    nl_buf_printf(&b,
                  "{\"ok\": %s, \"error\": ", m->reload_ok ? "true" : "false");
    if (m->reload_error != NULL)
        nl_json_string(&b, m->reload_error);
    else
        nl_buf_printf(&b, "null");
    nl_buf_printf(&b, ", \"generation\": %u}", m->generation);
    nl_buf_append(&b, "", 1);
    if (!m->reload_ok) {
        nl_control_reply(c, nl_buf_head(&b));
        nl_buf_free(&b);
        return;
    }
    r = nl_xcalloc(1, sizeof(*r));
    r->client = c;
    r->json = nl_xstrdup(nl_buf_head(&b));
    r->generation = m->generation;
    r->deadline = nl_now() + REPLY_WAIT;
    r->next = m->replies;
    m->replies = r;
    nl_buf_free(&b);
    flush_replies(m, 0);
}

/* Records the outcome of a reload, answers who asked, starts the next. */
static void
reload_done(struct nl_master *m, int rc)
{
    struct nl_control_client *c = m->reloader;

    free(m->reload_error);
    m->reload_error = NULL;
    if (rc == -1) {
        for (size_t i = 0; i < m->check_errs.n; i++)
            nl_errx(NULL, "%s", m->check_errs.msg[i]);
        m->reload_error = nl_errs_join(&m->check_errs);
    }
    nl_errs_clear(&m->check_errs);
    m->reloaded = 1;
    m->reload_ok = rc == 0;
    m->reload_time = time(NULL);
    if (rc == 0)
        nl_notice(NULL, "reloaded: generation %u%s", m->generation,
                  m->reload_to_root ? "; handlers now run as root" : "");
    else
        nl_errx(NULL, "reload refused, configuration unchanged");
    /* Refused or not, the reload is over: systemd must not stay in
     * "reloading" (STATUS= then names the error). */
    if (m->started_up && !m->stopping)
        nl_sd_ready();
    m->reloader = NULL;
    m->reloading = 0;
    if (c != NULL)
        answer_reload(m, c);
    reload_next(m);
}

static void
check_done(struct nl_master *m, int timed_out)
{
    struct nl_conf *nc = m->check_conf;
    int rc;

    ev_io_stop(m->loop, &m->check_w);
    ev_timer_stop(m->loop, &m->check_t);
    rc = nl_check_end(m->check, timed_out);
    m->check = NULL;
    m->check_conf = NULL;
    if (rc == 0)
        rc = nl_reload_apply(m, nc, &m->check_errs);
    else
        nl_conf_free(nc);
    reload_done(m, rc);
}

static void
check_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct nl_master *m = io->data;

    if (nl_check_read(m->check))
        check_done(m, 0);
}

static void
check_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    check_done(t->data, 1);
}

/* A stop ends a reload in progress; whoever asked, for it or for one
 * queued after it, is told. */
static void
reload_abort(struct nl_master *m)
{
    if (m->check == NULL) {
        reload_next(m); /* the queue, which m->stopping refuses */
        return;
    }
    ev_io_stop(m->loop, &m->check_w);
    ev_timer_stop(m->loop, &m->check_t);
    (void)nl_check_end(m->check, 1); /* its verdict no longer matters */
    m->check = NULL;
    nl_conf_free(m->check_conf);
    m->check_conf = NULL;
    nl_errs_clear(&m->check_errs);
    nl_errs_add(&m->check_errs, "netlabd is stopping");
    reload_done(m, -1); /* runs the queue, which m->stopping refuses */
}

static void
reload_run(struct nl_master *m, const char *why,
           struct nl_control_client *client)
{
    m->reloader = client;
    m->reloading = 1;
    if (m->stopping) {
        nl_errs_add(&m->check_errs, "netlabd is stopping");
        reload_done(m, -1);
        return;
    }
    nl_notice(NULL, "%s: reloading %s", why, m->conf->file);
    if (m->started_up) {
        char what[512];

        snprintf(what, sizeof(what), "reloading %s", m->conf->file);
        nl_sd_reloading(what);
    }
    m->reload_to_root = 0;
    if ((m->check_conf = nl_reload_parse(m, &m->check_errs)) == NULL ||
        (m->check = nl_check_start(m->check_conf, &m->check_errs)) == NULL) {
        nl_conf_free(m->check_conf);
        m->check_conf = NULL;
        reload_done(m, -1);
        return;
    }
    ev_io_init(&m->check_w, check_cb, nl_check_fd(m->check), EV_READ);
    m->check_w.data = m;
    ev_io_start(m->loop, &m->check_w);
    ev_timer_set(&m->check_t, NL_CHECK_TIMEOUT, 0.0);
    ev_timer_start(m->loop, &m->check_t);
}

/*
 * Starts the first reload asked for, unless one runs, or
 * NL_MAX_OLD_GENERATIONS older generations still drain: then it waits for
 * one of them to end (reap() calls again), which it does at the latest
 * when its processes are killed after shutdown_timeout.  A reload that
 * waits reads the file when it runs, so it applies what was asked for
 * meanwhile too.
 */
static void
reload_next(struct nl_master *m)
{
    struct waiter *w = m->queue;
    const char *why;
    struct nl_control_client *c;

    if (w == NULL || m->reloading)
        return;
    if (!m->stopping && drains_full(m)) {
        if (!m->reload_deferred)
            nl_notice(NULL,
                      "%s: reload deferred: %d older generations still "
                      "draining",
                      w->why, NL_MAX_OLD_GENERATIONS);
        m->reload_deferred = 1;
        return;
    }
    m->reload_deferred = 0;
    m->queue = w->next;
    why = w->why;
    c = w->client;
    free(w);
    reload_run(m, why, c);
}

/* Control clients whose reload waits in the queue. */
static int
queued_clients(const struct nl_master *m)
{
    int n = 0;

    for (const struct waiter *w = m->queue; w != NULL; w = w->next)
        n += w->client != NULL;
    return n;
}

/* A reload asked for by client (NULL: SIGHUP): now, or after those that
 * run or wait.  A SIGHUP while one waits is coalesced into it: that one
 * reads the file later.  A client's reload is its own, answered with its
 * outcome. */
static void
reload_request(struct nl_master *m, const char *why,
               struct nl_control_client *client)
{
    struct waiter **tail = &m->queue;

    if (client == NULL && m->queue != NULL)
        return;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = nl_xcalloc(1, sizeof(**tail));
    (*tail)->client = client;
    (*tail)->why = why;
    reload_next(m);
}

static int
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

static void
counters_json(struct nl_buf *b, const struct nl_counters *c)
{
    nl_buf_printf(
        b,
        "\"connections_active\": %llu, "
        "\"connections_total\": %llu, "
        "\"connections_refused\": %llu, \"bytes_in\": %llu, "
        "\"bytes_out\": %llu, \"errors\": %llu, "
        "\"connections_waited\": %llu, \"longest_wait_ms\": %llu",
        (unsigned long long)c->active, (unsigned long long)c->total,
        (unsigned long long)c->refused, (unsigned long long)c->bytes_in,
        (unsigned long long)c->bytes_out, (unsigned long long)c->errors,
        (unsigned long long)c->waited, (unsigned long long)c->longest_wait_ms);
}

static void
listener_json(struct nl_master *m, const struct lst *l, struct nl_buf *b)
{
    struct nl_counters c = l->kept;

    c.active = 0;
    for (int j = 0; j < l->nprocs; j++)
        if (l->procs[j].slot != NULL)
            nl_stats_sum(&c, l->procs[j].slot);
    for (const struct drain *d = m->drains; d != NULL; d = d->next)
        if (d->id == l->id)
            nl_stats_sum(&c, d->slot);
    nl_buf_printf(b, "{\"name\": ");
    nl_json_string(b, l->lc->name);
    nl_buf_printf(b, ", \"transport\": ");
    nl_json_string(b, nl_transport_name(l->lc->transport));
    nl_buf_printf(b, ", \"address\": ");
    nl_json_string(b, l->sk.address);
    nl_buf_printf(b, ", \"model\": ");
    nl_json_string(b, nl_model_name(l->lc->model));
    nl_buf_printf(b, ", \"workers\": %d, \"handler\": ", l->lc->workers);
    nl_json_string(b, l->lc->handler);
    nl_buf_printf(b, ", ");
    counters_json(b, &c);
    nl_buf_printf(b, ", \"serving\": %s}", lst_ready(l) ? "true" : "false");
}

static void
status_json(struct nl_master *m, struct nl_buf *b)
{
    char when[32];
    struct tm tm;

    nl_buf_printf(b, "{\"pid\": %ld, \"version\": ", (long)getpid());
    nl_json_string(b, PACKAGE_VERSION);
    nl_buf_printf(b, ", \"uptime_s\": %ld, \"config\": ",
                  (long)(time(NULL) - m->start_time));
    nl_json_string(b, m->conf->file);
    nl_buf_printf(b, ", \"generation\": %u, \"last_reload\": ", m->generation);
    if (!m->reloaded) {
        nl_buf_printf(b, "null");
    } else {
        gmtime_r(&m->reload_time, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        nl_buf_printf(
            b, "{\"ok\": %s, \"error\": ", m->reload_ok ? "true" : "false");
        if (m->reload_error != NULL)
            nl_json_string(b, m->reload_error);
        else
            nl_buf_printf(b, "null");
        nl_buf_printf(b, ", \"time\": \"%s\"}", when);
    }
    nl_buf_printf(b, ", \"listeners\": [");
    for (size_t i = 0; i < m->nlst; i++) {
        nl_buf_printf(b, "%s", i ? ", " : "");
        listener_json(m, m->lst[i], b);
    }
    nl_buf_printf(b, "], \"draining\": [");
    for (const struct drain *d = m->drains; d != NULL; d = d->next) {
        nl_buf_printf(b, "%s{\"listener\": ", d == m->drains ? "" : ", ");
        nl_json_string(b, d->name);
        nl_buf_printf(b,
                      ", \"pid\": %ld, \"generation\": %u, "
                      "\"connections_active\": %llu}",
                      (long)d->pid, d->generation,
                      (unsigned long long)__atomic_load_n(&d->slot->active,
                                                          __ATOMIC_RELAXED));
    }
    nl_buf_printf(b, "]}");
}

static void
control_cmd(void *arg, struct nl_control_client *c, const char *line)
{
    struct nl_master *m = arg;
    struct nl_buf b = {0};
    int stop = 0;

    if (strcmp(line, "status") == 0) {
        status_json(m, &b);
    } else if (strcmp(line, "stop") == 0) {
        nl_buf_printf(&b, "{\"ok\": true}");
        stop = 1;
    } else if (strcmp(line, "reload") == 0) {
        /* Each waits for its answer with a place of the control socket's:
         * past a few, more would fill them all and shut `status` and
         * `stop` out, so the newcomer is told to come back. */
        if (queued_clients(m) >= NL_MAX_QUEUED_RELOADS) {
            nl_buf_printf(&b,
                          "{\"ok\": false, \"error\": \"%d reloads asked "
                          "for on the control socket are waiting already; "
                          "try again once they are done\"}",
                          NL_MAX_QUEUED_RELOADS);
        } else {
            /* Answered when the reload is done (answer_reload()). */
            reload_request(m, "reload requested on the control socket", c);
            return;
        }
    } else if (strcmp(line, "log-reopen") == 0) {
        if (log_reopen(m) == 0) {
            nl_buf_printf(&b, "{\"ok\": true}");
        } else {
            nl_buf_printf(&b, "{\"ok\": false, \"error\": ");
            nl_json_string(&b, strerror(errno));
            nl_buf_printf(&b, "}");
        }
    } else if (strcmp(line, "help") == 0) {
        nl_buf_printf(&b, "{\"commands\": {"
                          "\"status\": \"listeners, counters and reloads\", "
                          "\"reload\": \"read the config again and apply it\", "
                          "\"stop\": \"stop gracefully\", "
                          "\"log-reopen\": \"reopen the log file\", "
                          "\"help\": \"this list\"}}");
    } else {
        nl_buf_printf(&b, "{\"error\": ");
        nl_json_string(&b, line[0] ? "unknown command; try help"
                                   : "empty command; try help");
        nl_buf_printf(&b, ", \"command\": ");
        nl_json_string(&b, line);
        nl_buf_printf(&b, "}");
    }
    nl_buf_append(&b, "", 1);
    nl_control_reply(c, nl_buf_head(&b));
    nl_buf_free(&b);
    if (stop)
        master_stop(m, "stop requested on the control socket");
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

/* The line systemctl status shows: STATUS= (sdnotify.c sends it). */
static void
sd_status(void *arg, char *buf, size_t len)
{
    struct nl_master *m = arg;
    unsigned long long active = 0;
    size_t serving = 0;
    int n;

    FOR_EACH_PROC(m, pr)
    {
        if (pr->slot != NULL)
            active += __atomic_load_n(&pr->slot->active, __ATOMIC_RELAXED);
    }
    for (const struct drain *d = m->drains; d != NULL; d = d->next)
        active += __atomic_load_n(&d->slot->active, __ATOMIC_RELAXED);
    if (m->stopping) {
        snprintf(buf, len, "stopping; %llu active connection(s)", active);
        return;
    }
    for (size_t i = 0; i < m->nlst; i++)
        serving += lst_ready(m->lst[i]);
    n = snprintf(buf, len,
                 "generation %u; %zu/%zu listener(s) serving; %llu active "
                 "connection(s)",
                 m->generation, serving, m->nlst, active);
    if (m->reloaded && !m->reload_ok && m->reload_error != NULL && n > 0 &&
        (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, "; last reload refused: %s",
                 m->reload_error);
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
