/*
 * test_admit.c - admission: max_connections across a shared gate (full,
 * freed, refusals counted), the order of leaving, the master's give-back
 * of a dead process's sessions, and the fair share of event loops.
 */
#include "config.h"

#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "admit.h"
#include "conf.h"
#include "session.h"
#include "stats.h"

static struct nl_listener_conf lc;
static struct nl_counters ctr, gate;
static struct nl_session_env env;
static struct sockaddr_in peer = {.sin_family = AF_INET};

static int
setup(void **state)
{
    memset(&lc, 0, sizeof(lc));
    memset(&ctr, 0, sizeof(ctr));
    memset(&gate, 0, sizeof(gate));
    lc.name = "t";
    lc.max_connections = 2;
    env.lc = &lc;
    env.ctr = &ctr;
    env.gate = &gate.active;
    env.notify_fd = -1;
    return 0;
}

static int
admit(void)
{
    return nl_admit(&env, (struct sockaddr *)&peer, sizeof(peer));
}

static void
test_gate_full(void **state)
{
    assert_int_equal(admit(), 0);
    assert_int_equal(admit(), 0);
    /* The third is refused, counted, and leaves the gate as it was. */
    assert_int_equal(admit(), -1);
    assert_int_equal(gate.active, 2);
    assert_int_equal(ctr.active, 2);
    assert_int_equal(ctr.total, 2);
    assert_int_equal(ctr.refused, 1);
    /* One leaves: the next is served. */
    nl_admit_leave(&env);
    assert_int_equal(gate.active, 1);
    assert_int_equal(ctr.active, 1);
    assert_int_equal(admit(), 0);
    assert_int_equal(ctr.total, 3);
    assert_int_equal(ctr.refused, 1);
}

/* Another process's sessions count against the same gate. */
static void
test_gate_shared(void **state)
{
    gate.active = 2;
    assert_int_equal(admit(), -1);
    assert_int_equal(ctr.refused, 1);
    assert_int_equal(ctr.active, 0);
    gate.active = 1;
    assert_int_equal(admit(), 0);
    assert_int_equal(gate.active, 2);
}

/* No address at all (an unbound unix client) is admitted as any. */
static void
test_no_peer(void **state)
{
    assert_int_equal(nl_admit(&env, NULL, 0), 0);
    assert_int_equal(gate.active, 1);
}

/* A process that died with two sessions open: the master gives back
 * exactly what its slot still counted, and other processes' stay. */
static void
test_give_back(void **state)
{
    struct nl_counters slot = {0};

    env.ctr = &slot;
    assert_int_equal(admit(), 0);
    assert_int_equal(admit(), 0);
    env.ctr = &ctr;
    gate.active += 3; /* others' */
    nl_admit_give_back(&gate, &slot);
    assert_int_equal(gate.active, 3);
    /* Nothing open: nothing given back. */
    slot.active = 0;
    nl_admit_give_back(&gate, &slot);
    assert_int_equal(gate.active, 3);
}

static void
test_over_share(void **state)
{
    /* One loop takes everything. */
    gate.active = 100;
    assert_false(nl_admit_over_share(&env, 100, 1));
    /* Two loops, 10 open: up to an even share and one more each. */
    gate.active = 10;
    assert_false(nl_admit_over_share(&env, 5, 2));
    assert_false(nl_admit_over_share(&env, 6, 2));
    assert_true(nl_admit_over_share(&env, 7, 2));
    /* Four loops, nothing open yet: a loop may take one. */
    gate.active = 0;
    assert_false(nl_admit_over_share(&env, 1, 4));
    assert_true(nl_admit_over_share(&env, 2, 4));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_gate_full, setup),
        cmocka_unit_test_setup(test_gate_shared, setup),
        cmocka_unit_test_setup(test_no_peer, setup),
        cmocka_unit_test_setup(test_give_back, setup),
        cmocka_unit_test_setup(test_over_share, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
