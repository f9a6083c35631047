/*
 * test_stats.c - the shared counter pool: zeroed slots, folding a released
 * slot into what the master keeps, reference counting, exhaustion, counts
 * from forked processes seen by the parent, and the longest wait kept as a
 * maximum.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "stats.h"

#define NSLOTS 4

static int
group_setup(void **state)
{
    /* Nothing to hand out before the pool exists. */
    if (nl_stats_alloc() != NULL)
        return -1;
    return nl_stats_init(NSLOTS);
}

static void
fill(struct nl_counters *c, uint64_t base)
{
    c->active = base + 1;
    c->total = base + 2;
    c->refused = base + 3;
    c->bytes_in = base + 4;
    c->bytes_out = base + 5;
    c->errors = base + 6;
}

static void
assert_zero(const struct nl_counters *c)
{
    static const struct nl_counters zero;

    assert_memory_equal(c, &zero, sizeof(zero));
}

static void
test_init_zero_slots_fails(void **state)
{
    struct nl_counters *s;

    /* An empty mapping is refused; the pool in use is untouched. */
    assert_int_equal(nl_stats_init(0), -1);
    assert_int_equal(errno, EINVAL);
    s = nl_stats_alloc();
    assert_non_null(s);
    nl_stats_release(s, NULL);
}

static void
test_alloc_zeroed(void **state)
{
    struct nl_counters *s = nl_stats_alloc(), *again;

    assert_non_null(s);
    assert_zero(s);
    fill(s, 100);
    nl_stats_release(s, NULL);
    /* The same slot comes back, cleared. */
    again = nl_stats_alloc();
    assert_ptr_equal(again, s);
    assert_zero(again);
    nl_stats_release(again, NULL);
}

static void
test_release_folds_into_keep(void **state)
{
    struct nl_counters *s = nl_stats_alloc();
    struct nl_counters keep, sum = {0};

    assert_non_null(s);
    fill(s, 10);
    fill(&keep, 1000);
    nl_stats_release(s, &keep);
    /* Every count but active: the slot's process is gone. */
    assert_int_equal(keep.active, 1001);
    assert_int_equal(keep.total, 1002 + 12);
    assert_int_equal(keep.refused, 1003 + 13);
    assert_int_equal(keep.bytes_in, 1004 + 14);
    assert_int_equal(keep.bytes_out, 1005 + 15);
    assert_int_equal(keep.errors, 1006 + 16);
    /* Releasing NULL does nothing. */
    nl_stats_release(NULL, &keep);
    assert_int_equal(keep.total, 1014);

    /* nl_stats_sum adds everything, active included. */
    s = nl_stats_alloc();
    fill(s, 0);
    nl_stats_sum(&sum, s);
    nl_stats_sum(&sum, s);
    assert_int_equal(sum.active, 2);
    assert_int_equal(sum.total, 4);
    assert_int_equal(sum.refused, 6);
    assert_int_equal(sum.bytes_in, 8);
    assert_int_equal(sum.bytes_out, 10);
    assert_int_equal(sum.errors, 12);
    nl_stats_release(s, NULL);
}

static void
test_waits(void **state)
{
    struct nl_counters *a = nl_stats_alloc(), *b = nl_stats_alloc();
    struct nl_counters keep = {0}, sum = {0};

    assert_non_null(a);
    assert_non_null(b);
    nl_count_add(a, waited, 3);
    nl_count_max(&a->longest_wait_ms, 1500);
    nl_count_max(&a->longest_wait_ms, 700); /* shorter: no change */
    assert_int_equal(a->longest_wait_ms, 1500);
    nl_count_add(b, waited, 2);
    nl_count_max(&b->longest_wait_ms, 2500);
    /* Waits add up; the longest is the longest of all, not a sum. */
    nl_stats_sum(&sum, a);
    nl_stats_sum(&sum, b);
    assert_int_equal(sum.waited, 5);
    assert_int_equal(sum.longest_wait_ms, 2500);
    /* Kept across the end of a process the same way. */
    nl_stats_release(b, &keep);
    nl_stats_release(a, &keep);
    assert_int_equal(keep.waited, 5);
    assert_int_equal(keep.longest_wait_ms, 2500);
    /* The gate's log mark is no count: never summed. */
    a = nl_stats_alloc();
    a->busy_logged_ms = 12345;
    nl_stats_release(a, &keep);
    assert_int_equal(keep.busy_logged_ms, 0);
}

static void
test_exhaustion(void **state)
{
    struct nl_counters *s[NSLOTS], *again;

    for (int i = 0; i < NSLOTS; i++) {
        s[i] = nl_stats_alloc();
        assert_non_null(s[i]);
        for (int j = 0; j < i; j++)
            assert_ptr_not_equal(s[i], s[j]);
    }
    assert_null(nl_stats_alloc());
    nl_stats_release(s[2], NULL);
    again = nl_stats_alloc();
    assert_ptr_equal(again, s[2]);
    assert_null(nl_stats_alloc());
    for (int i = 0; i < NSLOTS; i++)
        nl_stats_release(s[i], NULL);
}

static void
test_refcount(void **state)
{
    struct nl_counters *s = nl_stats_alloc(), *other[NSLOTS - 1];
    struct nl_counters keep = {0};

    assert_non_null(s);
    nl_stats_ref(s);
    nl_stats_ref(s);
    nl_count_add(s, total, 7);
    /* Two of three references gone: still taken. */
    nl_stats_release(s, &keep);
    nl_stats_release(s, NULL);
    for (int i = 0; i < NSLOTS - 1; i++) {
        other[i] = nl_stats_alloc();
        assert_non_null(other[i]);
        assert_ptr_not_equal(other[i], s);
    }
    assert_null(nl_stats_alloc());
    /* The counts live on while referenced. */
    assert_int_equal(s->total, 7);
    nl_stats_release(s, NULL);
    assert_ptr_equal(nl_stats_alloc(), s);
    assert_zero(s);
    nl_stats_release(s, NULL);
    for (int i = 0; i < NSLOTS - 1; i++)
        nl_stats_release(other[i], NULL);
}

static void
test_counts_from_children(void **state)
{
    enum { NCHILD = 4, ROUNDS = 10000 };
    struct nl_counters *s = nl_stats_alloc(), sum = {0};
    pid_t pids[NCHILD];
    int status;

    assert_non_null(s);
    for (int i = 0; i < NCHILD; i++) {
        pids[i] = fork();
        assert_true(pids[i] != -1);
        if (pids[i] == 0) {
            /* Concurrent adds from every child: none may be lost. */
            for (int r = 0; r < ROUNDS; r++) {
                nl_count_add(s, total, 1);
                nl_count_add(s, active, 1);
                nl_count_add(s, bytes_in, 3);
                nl_count_sub(s, active, 1);
            }
            nl_count_add(s, active, 1);
            _exit(0);
        }
    }
    for (int i = 0; i < NCHILD; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    nl_stats_sum(&sum, s);
    assert_int_equal(sum.total, NCHILD * ROUNDS);
    assert_int_equal(sum.bytes_in, 3 * NCHILD * ROUNDS);
    assert_int_equal(sum.active, NCHILD);
    assert_int_equal(sum.errors, 0);
    nl_stats_release(s, NULL);
}

/* Two slots never share a cache line: serving processes counting in
 * their own slots do not slow each other down. */
static void
test_slots_on_own_lines(void **state)
{
    struct nl_counters *a = nl_stats_alloc(), *b = nl_stats_alloc();

    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal((uintptr_t)a % 64, 0);
    assert_int_equal((uintptr_t)b % 64, 0);
    if (b < a) {
        struct nl_counters *t = a;

        a = b;
        b = t;
    }
    assert_true((const char *)b >= (const char *)a + sizeof(*a));
    /* Writing one leaves the other as it was. */
    fill(a, 100);
    assert_zero(b);
    nl_stats_release(a, NULL);
    nl_stats_release(b, NULL);
}

/* A thread's local counts go into the shared slot, added (the longest
 * wait as a maximum), and are zeroed for the next batch. */
static void
test_fold(void **state)
{
    struct nl_counters *s = nl_stats_alloc(), local = {0}, sum = {0};

    assert_non_null(s);
    fill(s, 10);
    s->longest_wait_ms = 50;
    fill(&local, 0);
    local.waited = 2;
    local.longest_wait_ms = 70;
    nl_stats_fold(s, &local);
    assert_zero(&local);
    nl_stats_sum(&sum, s);
    assert_int_equal(sum.active, 11 + 1);
    assert_int_equal(sum.total, 12 + 2);
    assert_int_equal(sum.refused, 13 + 3);
    assert_int_equal(sum.bytes_in, 14 + 4);
    assert_int_equal(sum.bytes_out, 15 + 5);
    assert_int_equal(sum.errors, 16 + 6);
    assert_int_equal(sum.waited, 2);
    assert_int_equal(sum.longest_wait_ms, 70);
    /* Nothing new: folding again changes nothing. */
    nl_stats_fold(s, &local);
    memset(&sum, 0, sizeof(sum));
    nl_stats_sum(&sum, s);
    assert_int_equal(sum.bytes_out, 20);
    local.longest_wait_ms = 5; /* a shorter wait keeps the longest */
    nl_stats_fold(s, &local);
    assert_int_equal(s->longest_wait_ms, 70);
    nl_stats_release(s, NULL);
}

/* Histograms: a value lands in the first bucket whose bound it does not
 * pass (bounds inclusive), the sum grows by it; errors by reason,
 * datagrams and histograms are folded and summed like the rest. */
static void
test_histograms_and_reasons(void **state)
{
    struct nl_counters *s = nl_stats_alloc(), local = {0}, sum = {0};

    assert_non_null(s);
    nl_hist_add(&local.duration, nl_duration_us, 0);
    nl_hist_add(&local.duration, nl_duration_us, nl_duration_us[0]);
    nl_hist_add(&local.duration, nl_duration_us, nl_duration_us[0] + 1);
    nl_hist_add(&local.duration, nl_duration_us, ~(uint64_t)0 >> 8);
    assert_int_equal(local.duration.n[0], 2);
    assert_int_equal(local.duration.n[1], 1);
    assert_int_equal(local.duration.n[NL_HIST_BUCKETS - 1], 1);
    nl_hist_add(&local.handler_time, nl_handler_ns, 7000);
    assert_int_equal(local.handler_time.n[2], 1); /* 5 us < 7 us <= 10 us */
    assert_int_equal(local.handler_time.sum, 7000);
    local.err[NL_ERR_LINE] = 2;
    local.err[NL_ERR_IDLE] = 1;
    local.dgram_in = 5;
    local.dgram_out = 4;
    local.dgram_dropped = 1;
    local.pool_full = 3;
    nl_stats_fold(s, &local);
    assert_zero(&local);
    nl_stats_sum(&sum, s);
    nl_stats_sum(&sum, s);
    assert_int_equal(sum.duration.n[0], 4);
    assert_int_equal(sum.duration.sum, 2 * (nl_duration_us[0] * 2 + 1 +
                                            (~(uint64_t)0 >> 8)));
    assert_int_equal(sum.handler_time.n[2], 2);
    assert_int_equal(sum.err[NL_ERR_LINE], 4);
    assert_int_equal(sum.err[NL_ERR_IDLE], 2);
    assert_int_equal(sum.dgram_in, 10);
    assert_int_equal(sum.dgram_out, 8);
    assert_int_equal(sum.dgram_dropped, 2);
    assert_int_equal(sum.pool_full, 6);
    for (int r = 0; r < NL_ERR_N; r++)
        assert_non_null(nl_err_names[r]);
    nl_stats_release(s, NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_zero_slots_fails),
        cmocka_unit_test(test_alloc_zeroed),
        cmocka_unit_test(test_release_folds_into_keep),
        cmocka_unit_test(test_waits),
        cmocka_unit_test(test_exhaustion),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_counts_from_children),
        cmocka_unit_test(test_slots_on_own_lines),
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_histograms_and_reasons),
    };

    return cmocka_run_group_tests(tests, group_setup, NULL);
}
