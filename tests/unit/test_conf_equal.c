/*
 * test_conf_equal.c - the comparisons a reload decides with:
 * nl_listener_same_address() (the same socket?), nl_listener_equal()
 * (the same listener, to be kept as it runs?) and nl_listener_change()
 * (which of the two, or neither), on specs built by hand.  test_conf_keys
 * changes every key of the table in turn.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"

static struct nl_option opts_a[2], opts_b[2];
static struct nl_listener_conf a, b;

/* A tcp listener with two options; b is a copy made separately, so that no
 * string is shared. */
static void
make_tcp(struct nl_listener_conf *lc, struct nl_option *opts, char *bufs)
{
    memset(lc, 0, sizeof(*lc));
    strcpy(bufs + 0, "web");
    strcpy(bufs + 16, "127.0.0.1");
    strcpy(bufs + 32, "/usr/lib/netlabd/echo.so");
    strcpy(bufs + 64, "greeting");
    strcpy(bufs + 80, "hello");
    strcpy(bufs + 96, "upper");
    strcpy(bufs + 112, "true");
    lc->name = bufs;
    lc->line = 10;
    lc->transport = NL_TRANSPORT_TCP;
    lc->address = bufs + 16;
    lc->port = 7001;
    lc->model = NL_MODEL_PREFORK;
    lc->workers = 4;
    lc->handler = "echo";
    lc->handler_path = bufs + 32;
    lc->handler_stat.st_dev = 2049;
    lc->handler_stat.st_ino = 123456;
    lc->handler_stat.st_size = 16384;
    lc->handler_stat.st_mtim.tv_sec = 1700000000;
    lc->handler_stat.st_mtim.tv_nsec = 500;
    opts[0] =
        (struct nl_option){.key = bufs + 64, .value = bufs + 80, .line = 12};
    opts[1] =
        (struct nl_option){.key = bufs + 96, .value = bufs + 112, .line = 13};
    lc->options = opts;
    lc->noptions = 2;
    lc->options_line = 11;
    lc->max_connections = NL_DEFAULT_MAX_CONNECTIONS;
    lc->idle_timeout = NL_DEFAULT_IDLE_TIMEOUT;
    lc->max_line = NL_DEFAULT_MAX_LINE;
    lc->backlog = NL_DEFAULT_BACKLOG;
}

static char bufs_a[128], bufs_b[128], path_a[64], path_b[64];

static int
setup(void **state)
{
    make_tcp(&a, opts_a, bufs_a);
    make_tcp(&b, opts_b, bufs_b);
    return 0;
}

/* The three comparisons, both ways round: another address is the
 * strongest change, then another spec on the same socket. */
static void
same(int address, int equal)
{
    int change = !address ? NL_CHANGE_ADDRESS
                 : !equal ? NL_CHANGE_RESPAWN
                          : NL_CHANGE_NONE;

    assert_int_equal(nl_listener_same_address(&a, &b), address);
    assert_int_equal(nl_listener_same_address(&b, &a), address);
    assert_int_equal(nl_listener_equal(&a, &b), equal);
    assert_int_equal(nl_listener_equal(&b, &a), equal);
    assert_int_equal(nl_listener_change(&a, &b), change);
    assert_int_equal(nl_listener_change(&b, &a), change);
}

static void
make_unix(void)
{
    strcpy(path_a, "/run/netlabd/web.sock");
    strcpy(path_b, "/run/netlabd/web.sock");
    a.transport = b.transport = NL_TRANSPORT_UNIX;
    a.address = b.address = NULL;
    a.port = b.port = 0;
    a.path = path_a;
    b.path = path_b;
    a.mode = b.mode = 0660;
    a.mode_set = b.mode_set = 1;
}

static void
test_equal(void **state)
{
    same(1, 1);
    assert_int_equal(nl_listener_equal(&a, &a), 1);
    /* Where things were written is not part of the spec. */
    b.line = 99;
    b.options_line = 100;
    opts_b[0].line = 101;
    same(1, 1);
    /* Nor the handler's name as written, only the file it resolved to. */
    b.handler = "./echo.so";
    same(1, 1);
    make_unix();
    same(1, 1);
}

static void
test_name_and_model(void **state)
{
    /* Same socket, another listener: not kept as it is. */
    strcpy(bufs_b, "api");
    same(1, 0);
    setup(state);
    b.model = NL_MODEL_THREADS;
    same(1, 0);
    setup(state);
    b.workers = 5;
    same(1, 0);
}

static void
test_address(void **state)
{
    b.port = 7002;
    same(0, 0);
    setup(state);
    strcpy(bufs_b + 16, "127.0.0.2");
    same(0, 0);
    setup(state);
    b.address = NULL; /* "any" against one address */
    same(0, 0);
    a.address = NULL;
    same(1, 1);
    setup(state);
    b.ipv6only = 1;
    same(0, 0);
    setup(state);
    b.transport = NL_TRANSPORT_UDP;
    same(0, 0);
}

static void
test_unix_address(void **state)
{
    make_unix();
    strcpy(path_b, "/run/netlabd/other.sock");
    same(0, 0);
    make_unix();
    /* Port and address mean nothing for a unix socket. */
    b.port = 7001;
    b.address = "127.0.0.1";
    same(1, 1);
    b.port = 0;
    b.transport = NL_TRANSPORT_UNIX_DGRAM;
    same(0, 0);
    make_unix();
    b.mode = 0600;
    same(1, 0);
    make_unix();
    b.mode_set = 0;
    same(1, 0);
}

static void
test_handler(void **state)
{
    strcpy(bufs_b + 32, "/usr/lib/netlabd/upper.so");
    same(1, 0);
    setup(state);
    /* The same file, changed on disk (rebuilt, copied over). */
    b.handler_stat.st_mtim.tv_sec++;
    same(1, 0);
    setup(state);
    b.handler_stat.st_mtim.tv_nsec = 501;
    same(1, 0);
    setup(state);
    b.handler_stat.st_size = 16385;
    same(1, 0);
    setup(state);
    b.handler_stat.st_ino = 654321;
    same(1, 0);
    setup(state);
    b.handler_stat.st_dev = 2050;
    same(1, 0);
    setup(state);
    /* Fields a rebuild does not matter for are ignored. */
    b.handler_stat.st_atim.tv_sec = 1;
    b.handler_stat.st_nlink = 3;
    same(1, 1);
}

static void
test_options(void **state)
{
    strcpy(bufs_b + 80, "hallo");
    same(1, 0);
    setup(state);
    strcpy(bufs_b + 96, "lower");
    same(1, 0);
    setup(state);
    /* The same options in another order are the same listener. */
    setup(state);
    b.options = (struct nl_option[]){opts_b[1], opts_b[0]};
    same(1, 1);
    setup(state);
    b.noptions = 1;
    same(1, 0);
    a.noptions = 1;
    same(1, 1);
    a.noptions = b.noptions = 0;
    a.options = b.options = NULL;
    same(1, 1);
}

static void
test_limits(void **state)
{
    b.max_connections = 10;
    same(1, 0);
    setup(state);
    b.idle_timeout = 0;
    same(1, 0);
    setup(state);
    b.max_line = 100;
    same(1, 0);
    setup(state);
    b.backlog = 16;
    same(1, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_equal, setup),
        cmocka_unit_test_setup(test_name_and_model, setup),
        cmocka_unit_test_setup(test_address, setup),
        cmocka_unit_test_setup(test_unix_address, setup),
        cmocka_unit_test_setup(test_handler, setup),
        cmocka_unit_test_setup(test_options, setup),
        cmocka_unit_test_setup(test_limits, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
