/*
 * test_sources.c - the per-source table: open sessions per source, the
 * rate (a burst of `rate`, then `rate` a second), sources without an
 * address, a table full of rate memories, more sessions than cells, the
 * count shared with a forked process and given back when it dies.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "access.h"
#include "sources.h"

static struct nl_source
src4(uint32_t a)
{
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(a)};
    struct nl_source s;

    nl_source_from_addr(&s, (struct sockaddr *)&in, sizeof(in));
    return s;
}

static void
test_open_limit(void **state)
{
    struct nl_sources *t = nl_sources_new(8);
    struct nl_source a = src4(0x7f000002), b = src4(0x7f000003);
    uint32_t t1, t2, t3;

    assert_int_equal(nl_sources_enter(t, &a, 2, 0, 1, 1, &t1), NL_SRC_OK);
    assert_int_equal(nl_sources_enter(t, &a, 2, 0, 1, 1, &t2), NL_SRC_OK);
    assert_int_not_equal(t1, t2);
    assert_int_equal(nl_sources_enter(t, &a, 2, 0, 1, 1, &t3),
                     NL_SRC_TOO_MANY);
    assert_int_equal(t3, 0);
    assert_int_equal(nl_sources_open(t, &a), 2);
    assert_int_equal(nl_sources_enter(t, &b, 2, 0, 1, 1, &t3), NL_SRC_OK);
    nl_sources_leave(t, t1);
    nl_sources_leave(t, t1); /* twice: no harm */
    assert_int_equal(nl_sources_open(t, &a), 1);
    assert_int_equal(nl_sources_enter(t, &a, 2, 0, 1, 1, &t1), NL_SRC_OK);
    /* 0: no limit. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(nl_sources_enter(t, &b, 0, 0, 1, 1, &t3), NL_SRC_OK);
    assert_int_equal(nl_sources_open(t, &b), 5);
    nl_sources_unref(t);
}

static void
test_rate(void **state)
{
    struct nl_sources *t = nl_sources_new(64);
    struct nl_source a = src4(0x7f000002);
    uint64_t now = 5000000;
    uint32_t k;

    /* 4 a second: a burst of 4 at once... */
    for (int i = 0; i < 4; i++)
        assert_int_equal(nl_sources_enter(t, &a, 0, 4, 0, now, &k), NL_SRC_OK);
    assert_int_equal(nl_sources_enter(t, &a, 0, 4, 0, now, &k),
                     NL_SRC_TOO_FAST);
    /* ...then one each quarter of a second, not sooner. */
    assert_int_equal(nl_sources_enter(t, &a, 0, 4, 0, now + 200000, &k),
                     NL_SRC_TOO_FAST);
    assert_int_equal(nl_sources_enter(t, &a, 0, 4, 0, now + 250000, &k),
                     NL_SRC_OK);
    assert_int_equal(nl_sources_enter(t, &a, 0, 4, 0, now + 260000, &k),
                     NL_SRC_TOO_FAST);
    /* A refused attempt costs nothing: after a quiet second, a whole
     * burst again. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(
            nl_sources_enter(t, &a, 0, 4, 0, now + 1300000, &k), NL_SRC_OK);
    /* Another source has its own allowance. */
    struct nl_source b = src4(0x7f000003);

    assert_int_equal(nl_sources_enter(t, &b, 0, 4, 0, now + 1300000, &k),
                     NL_SRC_OK);
    nl_sources_unref(t);
}

static void
test_untracked(void **state)
{
    struct nl_sources *t = nl_sources_new(2);
    struct nl_source none, a = src4(1), b = src4(2), c = src4(3);
    uint32_t k;

    /* A unix peer without credentials has nothing to be counted by. */
    nl_source_from_addr(&none, NULL, 0);
    assert_int_equal(nl_sources_enter(t, &none, 1, 1, 1, 1, &k),
                     NL_SRC_UNTRACKED);
    /* More sessions than the table has cells for: admitted, uncounted. */
    assert_int_equal(nl_sources_enter(t, &a, 1, 0, 1, 1, &k), NL_SRC_OK);
    assert_int_equal(nl_sources_enter(t, &b, 1, 0, 1, 1, &k), NL_SRC_OK);
    assert_int_equal(nl_sources_enter(t, &c, 1, 0, 1, 1, &k),
                     NL_SRC_UNTRACKED);
    assert_int_equal(k, 0);
    nl_sources_unref(t);
}

static void
test_credentials(void **state)
{
    struct nl_sources *t = nl_sources_new(4);
    struct nl_source u1 = {.family = AF_UNIX, .has_cred = 1, .uid = 1000};
    struct nl_source u1b = {.family = AF_UNIX, .has_cred = 1, .uid = 1000,
                            .pid = 77};
    struct nl_source u2 = {.family = AF_UNIX, .has_cred = 1, .uid = 1001};
    uint32_t k;

    /* Per uid: another process of the same user is the same source. */
    assert_int_equal(nl_sources_enter(t, &u1, 1, 0, 1, 1, &k), NL_SRC_OK);
    assert_int_equal(nl_sources_enter(t, &u1b, 1, 0, 1, 1, &k),
                     NL_SRC_TOO_MANY);
    assert_int_equal(nl_sources_enter(t, &u2, 1, 0, 1, 1, &k), NL_SRC_OK);
    nl_sources_unref(t);
}

/* Many more sources than the table holds, each connecting once under a
 * rate limit: old rate memories make way, nobody is refused. */
static void
test_many_sources(void **state)
{
    struct nl_sources *t = nl_sources_new(16);
    uint32_t k;

    for (uint32_t i = 0; i < 20000; i++) {
        struct nl_source s = src4(0x0a000000 + i);

        assert_int_equal(nl_sources_enter(t, &s, 0, 1, 0, 1000000 + i, &k),
                         NL_SRC_OK);
    }
    /* The newest still remembers its rate. */
    struct nl_source last = src4(0x0a000000 + 19999);

    assert_int_equal(nl_sources_enter(t, &last, 0, 1, 0, 1020000, &k),
                     NL_SRC_TOO_FAST);
    nl_sources_unref(t);
}

/* Two processes count against one table; the sessions of one that dies
 * without ending them are given back by its pid, the others' stay. */
static void
test_shared_and_given_back(void **state)
{
    struct nl_sources *t = nl_sources_new(8);
    struct nl_source a = src4(0x7f000002);
    uint32_t k;
    int status;
    pid_t pid;

    assert_int_equal(nl_sources_enter(t, &a, 3, 0, 1, 1, &k), NL_SRC_OK);
    pid = fork();
    assert_true(pid != -1);
    if (pid == 0) {
        uint32_t k1, k2;

        /* The child takes the two places left and dies holding them. */
        _exit(nl_sources_enter(t, &a, 3, 0, 1, 1, &k1) == NL_SRC_OK &&
                      nl_sources_enter(t, &a, 3, 0, 1, 1, &k2) == NL_SRC_OK &&
                      nl_sources_enter(t, &a, 3, 0, 1, 1, &k2) ==
                          NL_SRC_TOO_MANY
                  ? 0
                  : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(nl_sources_open(t, &a), 3);
    assert_int_equal(nl_sources_enter(t, &a, 3, 0, 1, 1, &k),
                     NL_SRC_TOO_MANY);
    assert_int_equal(nl_sources_give_back(t, pid), 2);
    assert_int_equal(nl_sources_open(t, &a), 1);
    assert_int_equal(nl_sources_give_back(t, pid), 0);
    assert_int_equal(nl_sources_enter(t, &a, 3, 0, 1, 1, &k), NL_SRC_OK);
    nl_sources_unref(t);
}

/* A process that dies holding the lock does not lock the others out. */
static void
test_owner_died(void **state)
{
    struct nl_sources *t = nl_sources_new(8);
    struct nl_source a = src4(0x7f000002);
    uint32_t k;
    int status;
    pid_t pid = fork();

    assert_true(pid != -1);
    if (pid == 0) {
        /* The table's first member is its lock. */
        pthread_mutex_lock((pthread_mutex_t *)(void *)t);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(nl_sources_enter(t, &a, 1, 0, 1, 1, &k), NL_SRC_OK);
    assert_int_equal(nl_sources_open(t, &a), 1);
    nl_sources_unref(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_limit),
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_untracked),
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_many_sources),
        cmocka_unit_test(test_shared_and_given_back),
        cmocka_unit_test(test_owner_died),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
