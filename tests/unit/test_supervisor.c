/*
 * test_supervisor.c - the supervisor with fake serving processes: real
 * fork()ed children that exit with a given status or wait for SIGTERM,
 * set in place of those spawn() would start (which would run handlers).
 * Reaping, the back-off, the start-up failure, a prefork pool's extras
 * (pool.c), drains, the stop and the events the supervisor tells its
 * owner.  Every wait is bounded.
 */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "pool.h"
#include "stats.h"
#include "supervisor.h"
#include "util.h"

/* How often each event was told. */
static struct {
    int all_ready, start_failed, stopped_accepting, drained, all_gone;
} seen;

static void
on_all_ready(void *arg)
{
    seen.all_ready++;
}

static void
on_start_failed(void *arg)
{
    seen.start_failed++;
}

static void
on_stopped_accepting(void *arg)
{
    seen.stopped_accepting++;
}

static void
on_drained(void *arg)
{
    seen.drained++;
}

static void
on_all_gone(void *arg)
{
    seen.all_gone++;
}

static const struct nl_sup_events events = {
    .all_ready = on_all_ready,
    .start_failed = on_start_failed,
    .stopped_accepting = on_stopped_accepting,
    .drained = on_drained,
    .all_gone = on_all_gone,
};

static struct nl_conf conf;
static struct nl_listener_conf lc;
static struct nl_sup sup;
static struct ev_loop *loop;

static int
setup(void **state)
{
    static int stats_ready;

    if (!stats_ready) {
        assert_int_equal(nl_stats_init(64), 0);
        stats_ready = 1;
    }
    memset(&seen, 0, sizeof(seen));
    memset(&conf, 0, sizeof(conf));
    memset(&lc, 0, sizeof(lc));
    conf.shutdown_timeout = 1;
    lc.name = "web";
    lc.transport = NL_TRANSPORT_TCP;
    lc.model = NL_MODEL_LIBEV;
    lc.workers = 1;
    assert_non_null(loop = ev_loop_new(EVFLAG_AUTO));
    nl_sup_init(&sup, &conf, &events);
    sup.loop = loop; /* as nl_sup_start() sets it, without spawning */
    return 0;
}

static int
teardown(void **state)
{
    nl_sup_free(&sup);
    ev_loop_destroy(loop);
    return 0;
}

/* A listener of sup, with a gate, whose processes are not started. */
static struct lst *
add_listener(const struct nl_listener_conf *l)
{
    struct lst *n = nl_lst_new(&sup, l);

    assert_non_null(n->gate = nl_stats_alloc());
    sup.lst = realloc(sup.lst, (sup.nlst + 1) * sizeof(*sup.lst));
    assert_non_null(sup.lst);
    sup.lst[sup.nlst++] = n;
    return n;
}

/* A fake serving process: exits with status at once, or (status -1)
 * waits for SIGTERM, which ends it. */
static pid_t
fake_child(int status)
{
    pid_t pid = fork();

    assert_true(pid != -1);
    if (pid == 0) {
        if (status >= 0)
            _exit(status);
        for (;;)
            pause();
    }
    return pid;
}

/* pr runs a fake process, with a counter slot. */
static void
give_process(struct proc *pr, int status)
{
    assert_non_null(pr->slot = nl_stats_alloc());
    pr->pid = fake_child(status);
    pr->started = nl_now();
    pr->generation = sup.generation;
}

/* Reaps until cond holds; fails after 5 s. */
#define REAP_UNTIL(cond)                                                       \
    do {                                                                       \
        for (int n_ = 0; !(cond); n_++) {                                      \
            assert_true(n_ < 500);                                             \
            usleep(10000);                                                     \
            nl_sup_reap(&sup);                                                 \
        }                                                                      \
    } while (0)

static void
test_describe_status(void **state)
{
    char buf[128];

    nl_describe_status(3 << 8, buf, sizeof(buf));
    assert_string_equal(buf, "exited with status 3");
    nl_describe_status(SIGKILL, buf, sizeof(buf));
    assert_string_equal(buf, "killed by signal 9 (SIGKILL)");
    nl_describe_status(SIGSEGV | 0x80, buf, sizeof(buf));
    assert_string_equal(buf, "killed by signal 11 (SIGSEGV), core dumped");
}

static void
test_prefork_has_workers(void **state)
{
    /* static: the listener points at it until teardown. */
    static struct nl_listener_conf pf;
    struct lst *l;

    pf = lc;
    pf.model = NL_MODEL_PREFORK;
    pf.workers = 3;
    l = add_listener(&pf);
    assert_int_equal(l->nprocs, 3);
    assert_int_equal(add_listener(&lc)->nprocs, 1);
    assert_true(l->id != sup.lst[1]->id);
    assert_int_equal(nl_sup_serving(&sup), 0);
    l->procs[0].ready = l->procs[1].ready = l->procs[2].ready = 1;
    assert_true(nl_lst_ready(l));
    assert_int_equal(nl_sup_serving(&sup), 1);
}

/*
 * A prefork pool that grows: places for max_workers, of which `workers`
 * make the listener ready; an extra that was asked to end (idle) or that
 * failed is not restarted, and what it held in the gate (an idle place)
 * is given back; status counts the workers running.
 */
static void
test_pool_extras(void **state)
{
    /* static: the listener points at it until teardown. */
    static struct nl_listener_conf pf;
    struct lst *l;
    struct proc *extra;

    pf = lc;
    pf.model = NL_MODEL_PREFORK;
    pf.workers = 2;
    pf.max_workers = 4;
    l = add_listener(&pf);
    assert_int_equal(l->nprocs, 4);
    assert_int_equal(l->nbase, 2);
    l->procs[0].ready = l->procs[1].ready = 1;
    assert_true(nl_lst_ready(l)); /* the extras' places are empty */
    sup.started_up = 1;
    for (int j = 0; j < l->nprocs; j++)
        ev_init(&l->procs[j].restart_w, NULL);

    extra = &l->procs[2];
    give_process(&l->procs[0], -1);
    give_process(extra, -1);
    l->procs[0].slot->workers_running = extra->slot->workers_running = 1;
    assert_int_equal(nl_lst_workers_running(l), 2);
    /* Asked to end while idle (this fake one dies of SIGTERM rather than
     * exiting 0, so the log calls it a failure): an extra, not restarted. */
    extra->slot->workers_idle = 1;
    l->gate->workers_idle = 2;
    extra->retiring = 1;
    kill(extra->pid, SIGTERM);
    REAP_UNTIL(extra->pid == 0);
    assert_null(extra->slot);
    assert_false(ev_is_active(&extra->restart_w));
    assert_int_equal(l->gate->workers_idle, 1); /* its place given back */
    assert_int_equal(l->gate->workers_running, 1);
    assert_int_equal(nl_lst_workers_running(l), 1);
    /* One that ends cleanly when asked is no failure at all. */
    give_process(extra, 0);
    extra->retiring = 1;
    REAP_UNTIL(extra->pid == 0);
    assert_false(ev_is_active(&extra->restart_w));
    assert_int_equal(extra->failures, 0);
    assert_int_equal(seen.start_failed, 0);
    /* A base worker that fails is restarted, as ever. */
    kill(l->procs[0].pid, SIGKILL);
    REAP_UNTIL(l->procs[0].pid == 0);
    assert_true(ev_is_active(&l->procs[0].restart_w));
    ev_timer_stop(loop, &l->procs[0].restart_w);
    /* libev's loops do not count themselves: workers, once ready. */
    l = add_listener(&lc);
    l->procs[0].ready = 1;
    assert_int_equal(nl_lst_workers_running(l), lc.workers);
}

/* A process that fails is restarted after a back-off that doubles. */
static void
test_backoff_doubles(void **state)
{
    struct proc *pr = &add_listener(&lc)->procs[0];
    double want = 0.1;

    sup.started_up = 1;
    ev_init(&pr->restart_w, NULL);
    for (int i = 0; i < 4; i++, want *= 2) {
        give_process(pr, 3);
        REAP_UNTIL(pr->pid == 0);
        assert_null(pr->slot);
        assert_int_equal(pr->failures, i + 1);
        assert_true(ev_is_active(&pr->restart_w));
        assert_true(ev_timer_remaining(loop, &pr->restart_w) <= want + 0.01);
        assert_true(ev_timer_remaining(loop, &pr->restart_w) >= want - 0.05);
        ev_timer_stop(loop, &pr->restart_w);
    }
    assert_int_equal(seen.start_failed, 0);
    /* Its ended counts are kept for the listener. */
    assert_int_equal(sup.lst[0]->kept.active, 0);
}

/* A process that dies before every listener served fails the start. */
static void
test_start_failure(void **state)
{
    struct proc *pr = &add_listener(&lc)->procs[0];

    ev_init(&pr->restart_w, NULL);
    give_process(pr, 1);
    REAP_UNTIL(pr->pid == 0);
    assert_int_equal(seen.start_failed, 1);
    assert_false(ev_is_active(&pr->restart_w));
    /* Once stopping, a death is no failure and nothing restarts. */
    sup.stopping = 1;
    give_process(pr, 1);
    REAP_UNTIL(pr->pid == 0);
    assert_int_equal(seen.start_failed, 1);
    assert_false(ev_is_active(&pr->restart_w));
    assert_int_equal(seen.all_gone, 1); /* nothing is left */
}

/* Retired processes drain; when one ends, its counts go to the listener
 * that replaced it, and the owner hears of it. */
static void
test_drain(void **state)
{
    struct lst *old = add_listener(&lc), *now;
    struct proc *pr = &old->procs[0];
    unsigned id = old->id;
    int p[2];

    ev_init(&pr->restart_w, NULL);
    give_process(pr, -1);
    pr->slot->total = 5;
    assert_int_equal(pipe(p), 0);
    pr->ready_fd = p[0]; /* accepting until it says "S" or ends */
    sup.generation = 2;
    now = nl_lst_new(&sup, &lc);
    now->id = id;
    now->gate = old->gate;
    nl_stats_ref(old->gate);
    sup.lst[0] = now;
    nl_lst_retire(old);
    close(p[1]);
    assert_non_null(sup.drains);
    assert_int_equal(sup.drains->retired, 2);
    assert_int_equal(sup.drains->generation, 1);
    assert_int_equal(nl_sup_old_generations(&sup), 1);
    assert_true(nl_sup_accepting(&sup, 2));
    assert_false(nl_sup_accepting(&sup, 1)); /* retired by a later one */
    REAP_UNTIL(sup.drains == NULL);          /* SIGTERM ended it */
    assert_int_equal(seen.drained, 1);
    assert_int_equal(seen.stopped_accepting, 1);
    assert_int_equal(now->kept.total, 5);
    assert_int_equal(nl_sup_old_generations(&sup), 0);
}

/* Each reload retires one generation: they are counted once each. */
static void
test_old_generations(void **state)
{
    for (unsigned g = 2; g <= 4; g++) {
        struct lst *l = add_listener(&lc);

        ev_init(&l->procs[0].restart_w, NULL);
        give_process(&l->procs[0], -1);
        sup.generation = g;
        sup.lst[--sup.nlst] = NULL;
        nl_lst_retire(l);
        if (g == 3) { /* two processes retired by one reload */
            l = add_listener(&lc);
            ev_init(&l->procs[0].restart_w, NULL);
            give_process(&l->procs[0], -1);
            sup.lst[--sup.nlst] = NULL;
            nl_lst_retire(l);
        }
    }
    assert_int_equal(nl_sup_old_generations(&sup), 3);
    REAP_UNTIL(sup.drains == NULL);
    assert_int_equal(seen.drained > 0, 1);
}

/* A stop sends SIGTERM; once every process is gone the owner is told. */
static void
test_stop(void **state)
{
    struct lst *l = add_listener(&lc);

    ev_init(&l->procs[0].restart_w, NULL);
    give_process(&l->procs[0], -1);
    nl_sup_stop(&sup);
    assert_true(sup.stopping);
    assert_true(ev_is_active(&sup.kill_w)); /* SIGKILL, if need be */
    assert_int_equal(seen.all_gone, 0);
    REAP_UNTIL(seen.all_gone == 1);
    assert_int_equal(l->procs[0].pid, 0);
    ev_timer_stop(loop, &sup.kill_w);
    /* With nothing running, a stop is over at once. */
    nl_sup_stop(&sup);
    assert_int_equal(seen.all_gone, 2);
    ev_timer_stop(loop, &sup.kill_w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describe_status),
        cmocka_unit_test_setup_teardown(test_prefork_has_workers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pool_extras, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff_doubles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_generations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
