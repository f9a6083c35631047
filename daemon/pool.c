/*
 * pool.c - a prefork pool's size, in the master.  A listener's processes
 * have places for max_workers (struct lst's procs); the first `workers`
 * always run, the others are extras, started when a worker takes the last
 * idle place (it says 'G' on its status pipe, supervisor.c passes it on
 * here) and asked to end (SIGTERM) once idle for NL_POOL_IDLE_EXIT
 * seconds.
 * The processes count themselves idle in the listener's gate and their
 * slot (model_prefork.c); the master writes the number running into the
 * gate, which the processes hold against max_workers before they count a
 * wait.  Threads pools grow inside their process (model_threads.c); only
 * what status shows of them is here.
 */
#include "config.h"

#include <ev.h>
#include <signal.h>
#include <stdint.h>

#include "blocking.h"
#include "conf.h"
#include "log.h"
#include "pool.h"
#include "stats.h"
#include "supervisor.h"
#include "transport.h"
#include "util.h"

void
nl_pool_give_back(struct nl_counters *gate, const struct nl_counters *slot)
{
    if (gate != NULL && slot != NULL && slot->workers_idle)
        nl_count_sub(gate, workers_idle, 1);
}

int
nl_lst_workers_running(const struct lst *l)
{
    uint64_t n = 0;

    /* Blocking models count their workers in their slots. */
    for (int j = 0; j < l->nprocs; j++)
        if (l->procs[j].slot != NULL)
            n += __atomic_load_n(&l->procs[j].slot->workers_running,
                                 __ATOMIC_RELAXED);
    if (!nl_model_grows(l->lc->model))
        return nl_lst_ready(l) ? l->lc->workers : 0;
    return (int)n;
}

unsigned long long
nl_lst_waiting(const struct lst *l)
{
    unsigned long long n = 0;

    if (!nl_model_grows(l->lc->model))
        return 0;
    if (!nl_model_worker_procs(l->lc->model)) {
        for (int j = 0; j < l->nprocs; j++)
            if (l->procs[j].slot != NULL)
                n += __atomic_load_n(&l->procs[j].slot->waiting,
                                     __ATOMIC_RELAXED);
        return n;
    }
    if (l->gate == NULL || l->sk.fd == -1 ||
        nl_lst_workers_running(l) < l->lc->max_workers ||
        __atomic_load_n(&l->gate->workers_idle, __ATOMIC_RELAXED) > 0)
        return 0;
    return nl_transport_backlog(l->lc, l->sk.fd);
}

/* Tells the processes of a prefork pool how many run (started, not asked
 * to end), which they hold against max_workers. */
void
nl_pool_note(struct lst *l)
{
    uint64_t n = 0;

    if (l->gate == NULL)
        return;
    for (int j = 0; j < l->nprocs; j++)
        n += l->procs[j].pid != 0 && !l->procs[j].retiring;
    __atomic_store_n(&l->gate->workers_running, n, __ATOMIC_RELAXED);
}

/*
 * A prefork worker took the last idle place, or the timer found none
 * idle with connections in the backlog: starts as many extras as there
 * are connections waiting (one at least), less those already starting,
 * up to max_workers.
 */
void
nl_pool_grow(struct lst *l)
{
    unsigned backlog;
    int want, starting = 0, full = 1;

    if (l->sup->stopping || !l->sup->started_up || l->gate == NULL ||
        __atomic_load_n(&l->gate->workers_idle, __ATOMIC_RELAXED) > 0)
        return;
    backlog = nl_transport_backlog(l->lc, l->sk.fd);
    want = 1 + (int)backlog;
    for (int j = 0; j < l->nprocs; j++)
        starting += l->procs[j].pid != 0 && !l->procs[j].ready;
    for (int j = l->nbase; j < l->nprocs && starting < want; j++) {
        struct proc *pr = &l->procs[j];

        if (pr->pid != 0 || ev_is_active(&pr->restart_w))
            continue;
        full = 0;
        pr->retiring = 0;
        nl_proc_spawn(pr);
        starting++;
    }
    nl_pool_note(l);
    /* The processes count a wait once they take the connection; the log
     * says it while it lasts. */
    if (full && starting == 0 && backlog > 0)
        nl_wait_log(l->lc->name, l->lc->max_workers, &l->gate->busy_logged_ms,
                    backlog);
}

/* Asks the extras of l that stayed idle for NL_POOL_IDLE_EXIT to end, so
 * that no more than `workers` stay; grows l should a 'G' have been
 * missed. */
static void
pool_check(struct lst *l, double now)
{
    uint64_t since, idle = 0, leaving = 0;

    if (l->gate != NULL)
        idle = __atomic_load_n(&l->gate->workers_idle, __ATOMIC_RELAXED);
    /* Those asked to end count as idle until they are gone. */
    for (int j = l->nbase; j < l->nprocs; j++)
        leaving += l->procs[j].pid != 0 && l->procs[j].retiring;
    for (int j = l->nbase; j < l->nprocs; j++) {
        struct proc *pr = &l->procs[j];

        if (pr->pid == 0 || pr->retiring || !pr->ready)
            continue;
        /* One idle process always stays: it is the one whose taking the
         * next connection says 'G'.  With none left idle, nothing would
         * grow the pool again (on a unix socket the master cannot see the
         * backlog), and the next client would wait for a session to end. */
        if (idle <= leaving + 1)
            break;
        since = __atomic_load_n(&pr->slot->idle_since_ms, __ATOMIC_RELAXED);
        if (since == 0 || now * 1000 - (double)since < NL_POOL_IDLE_EXIT * 1000)
            continue;
        nl_debug(l->lc->name, "serving process %ld idle for %d s: ending it",
                 (long)pr->pid, NL_POOL_IDLE_EXIT);
        pr->retiring = 1;
        leaving++;
        kill(pr->pid, SIGTERM);
    }
    nl_pool_note(l);
    if (nl_transport_backlog(l->lc, l->sk.fd) > 0)
        nl_pool_grow(l);
}

void
nl_pool_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct nl_sup *s = t->data;
    double now = nl_now();

    if (s->stopping)
        return;
    for (size_t i = 0; i < s->nlst; i++)
        if (nl_model_worker_procs(s->lst[i]->lc->model))
            pool_check(s->lst[i], now);
}
