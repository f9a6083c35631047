/*
 * drain.c - serving processes of older generations, finishing their
 * sessions after a reload (drains), and what the end of any serving
 * process needs: its status pipe's byte, its wait status in words, and
 * the sessions it had open given back.  Part of the supervisor
 * (supervisor.c), which calls it; it calls nothing there.
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admit.h"
#include "sources.h"
#include "conf.h"
#include "drain.h"
#include "log.h"
#include "pool.h"
#include "stats.h"
#include "supervisor.h"
#include "util.h"

/* Reads the byte a serving process sent on its status pipe: 1 with it in
 * *c, 0 at EOF (or an error), -1 when there is nothing yet. */
int
nl_read_status_byte(int fd, char *c)
{
    ssize_t n = read(fd, c, 1);

    if (n == -1 && (errno == EINTR || errno == EAGAIN))
        return -1;
    return n == 1;
}

static void
drain_stopped_accepting(struct drain *d)
{
    if (d->notify_fd != -1) {
        ev_io_stop(d->sup->loop, &d->notify_w);
        close(d->notify_fd);
        d->notify_fd = -1;
    }
    d->accepting = 0;
    TELL(d->sup, stopped_accepting);
}

static void
notify_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct drain *d = io->data;
    char c;
    int n = nl_read_status_byte(d->notify_fd, &c);

    /* "S", or EOF: the process is gone. */
    if (n == 0 || (n == 1 && c == 'S'))
        drain_stopped_accepting(d);
}

void
nl_describe_status(int status, char *buf, size_t len)
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

/* The current listener a draining process belongs to, if it still has
 * one: the same one, changed (and maybe renamed) by reloads since. */
static struct lst *
lst_by_id(const struct nl_sup *s, unsigned id)
{
    for (size_t i = 0; i < s->nlst; i++)
        if (s->lst[i]->id == id)
            return s->lst[i];
    return NULL;
}

static void
drain_free(struct drain *d)
{
    if (d->notify_fd != -1) {
        ev_io_stop(d->sup->loop, &d->notify_w);
        close(d->notify_fd);
    }
    nl_sources_unref(d->sources);
    free(d->name);
    free(d);
}

/* A draining process ended: its counts go to the listener of its name. */
static void
drain_reaped(struct nl_sup *s, struct drain *d, int status)
{
    struct lst *l = lst_by_id(s, d->id);
    char how[128];

    drain_stopped_accepting(d);
    nl_describe_status(status, how, sizeof(how));
    nl_info(d->name, "serving process %ld of generation %u %s after draining",
            (long)d->pid, d->generation, how);
    nl_admit_give_back(d->gate, d->slot);
    nl_sources_give_back(d->sources, d->pid);
    nl_sources_unref(d->sources);
    d->sources = NULL;
    nl_pool_give_back(d->gate, d->slot);
    nl_stats_release(d->slot, l != NULL ? &l->kept : NULL);
    nl_stats_release(d->gate, NULL);
}

/* pr becomes a drain; the process is asked to finish (SIGTERM). */
void
nl_drain_new(struct lst *l, struct proc *pr, double deadline)
{
    struct nl_sup *s = l->sup;
    struct drain *d = nl_xcalloc(1, sizeof(*d));

    d->sup = s;
    /* The process says "S" on this pipe once it stopped accepting. */
    d->notify_fd = pr->ready_fd;
    d->accepting = pr->ready_fd != -1;
    if (d->accepting) {
        ev_io_init(&d->notify_w, notify_cb, d->notify_fd, EV_READ);
        d->notify_w.data = d;
        ev_io_start(s->loop, &d->notify_w);
    }
    pr->ready_fd = -1;
    d->pid = pr->pid;
    d->id = l->id;
    d->name = nl_xstrdup(l->lc->name);
    d->slot = pr->slot;
    d->gate = l->gate;
    nl_stats_ref(l->gate);
    if ((d->sources = l->sources) != NULL)
        nl_sources_ref(d->sources);
    d->generation = pr->generation;
    d->retired = s->generation;
    d->deadline = deadline;
    d->next = s->drains;
    s->drains = d;
    kill(pr->pid, SIGTERM);
}

int
nl_sup_old_generations(const struct nl_sup *s)
{
    int n = 0;

    /* Each generation once: where it first appears in the list. */
    for (const struct drain *d = s->drains; d != NULL; d = d->next) {
        const struct drain *e = s->drains;

        while (e != d && e->retired != d->retired)
            e = e->next;
        n += e == d;
    }
    return n;
}

int
nl_sup_accepting(const struct nl_sup *s, unsigned generation)
{
    for (const struct drain *d = s->drains; d != NULL; d = d->next)
        if (d->accepting && d->retired <= generation)
            return 1;
    return 0;
}

/* Kills draining processes that outstay shutdown_timeout. */
void
nl_drain_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct nl_sup *s = t->data;
    double now = nl_now();

    for (struct drain *d = s->drains; d != NULL; d = d->next)
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

int
nl_drain_reap(struct nl_sup *s)
{
    struct drain **dp = &s->drains;
    int status, drained = 0;

    while (*dp != NULL) {
        struct drain *d = *dp;

        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            *dp = d->next;
            drain_reaped(s, d, status);
            drain_free(d);
            drained = 1;
        } else {
            dp = &d->next;
        }
    }
    return drained;
}

void
nl_drain_free_all(struct nl_sup *s)
{
    while (s->drains != NULL) {
        struct drain *d = s->drains;

        s->drains = d->next;
        drain_free(d);
    }
}
