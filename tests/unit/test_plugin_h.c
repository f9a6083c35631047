/*
 * test_plugin_h.c - the inline wrappers of <netlabd/plugin.h> and the size
 * of the host table.  A host table from an older netlabd is shorter: each
 * wrapper must call only the functions that table's size covers, and give
 * its error value for the others instead of jumping through whatever lies
 * past the table's end.  The tables here are this test's own.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <netlabd/plugin.h>

struct fake {
    struct netlabd_handle h; /* first, as in every real session */
    int calls;
};

#define FAKE(p) ((struct fake *)(void *)(p))

static int
f_write(struct netlabd_session *s, const void *buf, size_t len)
{
    FAKE(s)->calls++;
    return (int)len;
}

static void
f_close(struct netlabd_session *s)
{
    FAKE(s)->calls++;
}

static const char *
f_peer(struct netlabd_session *s)
{
    FAKE(s)->calls++;
    return "peer";
}

static void
f_set_data(struct netlabd_session *s, void *data)
{
    FAKE(s)->calls++;
}

static void *
f_get_data(struct netlabd_session *s)
{
    FAKE(s)->calls++;
    return s;
}

static void *
f_listener_data(struct netlabd_session *s)
{
    FAKE(s)->calls++;
    return s;
}

static void
f_vlog(struct netlabd_session *s, int level, const char *fmt, va_list ap)
{
    FAKE(s)->calls++;
}

static const char *
f_option(struct netlabd_init *ini, const char *key)
{
    FAKE(ini)->calls++;
    return "value";
}

static void
f_set_listener_data(struct netlabd_init *ini, void *data)
{
    FAKE(ini)->calls++;
}

static void
f_init_error(struct netlabd_init *ini, const char *fmt, va_list ap)
{
    FAKE(ini)->calls++;
}

static const char *
f_listener_name(struct netlabd_init *ini)
{
    FAKE(ini)->calls++;
    return "name";
}

/*
 * A host table whose every slot is set, so that a wrapper that ignored the
 * size would call through and be counted.  Only `size` varies.
 */
static int
f_peer_cred(struct netlabd_session *s, pid_t *pid, uid_t *uid, gid_t *gid)
{
    FAKE(s)->calls++;
    if (uid != NULL)
        *uid = 1234;
    return 0;
}

static struct netlabd_host full = {
    .size = sizeof(struct netlabd_host),
    .write = f_write,
    .close = f_close,
    .peer = f_peer,
    .set_data = f_set_data,
    .get_data = f_get_data,
    .listener_data = f_listener_data,
    .vlog = f_vlog,
    .option = f_option,
    .set_listener_data = f_set_listener_data,
    .init_error = f_init_error,
    .listener_name = f_listener_name,
    .peer_cred = f_peer_cred,
};

/* Calls every wrapper on f; returns how many got what the table gives. */
static int
call_all(struct fake *f)
{
    struct netlabd_session *s = (struct netlabd_session *)(void *)f;
    struct netlabd_init *ini = (struct netlabd_init *)(void *)f;
    int got = 0;
    const char *p;

    got += netlabd_write(s, "abc", 3) == 3;
    netlabd_close(s);
    p = netlabd_peer(s);
    assert_non_null(p); /* "unknown" when missing: safe to print */
    got += strcmp(p, "peer") == 0;
    netlabd_set_data(s, NULL);
    got += netlabd_get_data(s) == (void *)f;
    got += netlabd_listener_data(s) == (void *)f;
    netlabd_log(s, NETLABD_LOG_INFO, "x %d", 1);
    got += netlabd_option(ini, "k") != NULL;
    netlabd_set_listener_data(ini, NULL);
    netlabd_init_error(ini, "e %d", 2);
    got += netlabd_listener_name(ini) != NULL;
    {
        uid_t uid = 0;

        got += netlabd_peer_cred(s, NULL, &uid, NULL) == 0 && uid == 1234;
    }
    return got;
}

static void
test_full_table(void **state)
{
    struct fake f = {.h.host = &full};

    assert_int_equal(call_all(&f), 7);
    assert_int_equal(f.calls, 12);
}

/* An older netlabd that had only `write` and `close`. */
static void
test_short_table(void **state)
{
    struct netlabd_host old = full;
    struct fake f = {.h.host = &old};

    old.size = (uint32_t)offsetof(struct netlabd_host, peer);
    assert_int_equal(call_all(&f), 1); /* write's return value */
    assert_int_equal(f.calls, 2);      /* write and close */
    assert_string_equal(netlabd_peer((struct netlabd_session *)(void *)&f),
                        "unknown");
    assert_null(netlabd_get_data((struct netlabd_session *)(void *)&f));
    /* A handler built with this header, on a netlabd from before
     * peer_cred: -1, never a call through a slot that is not there. */
    old.size = (uint32_t)offsetof(struct netlabd_host, peer_cred);
    f.calls = 0;
    assert_int_equal(netlabd_peer_cred((struct netlabd_session *)(void *)&f,
                                       NULL, NULL, NULL),
                     -1);
    assert_int_equal(f.calls, 0);
}

/* A size that ends inside a member does not cover it. */
static void
test_partial_member(void **state)
{
    struct netlabd_host old = full;
    struct fake f = {.h.host = &old};

    old.size = (uint32_t)offsetof(struct netlabd_host, listener_name) + 1;
    assert_int_equal(call_all(&f), 5);
    assert_int_equal(f.calls, 10);
    assert_null(netlabd_listener_name((struct netlabd_init *)(void *)&f));
    /* listener_name covered, peer_cred not. */
    old.size = (uint32_t)offsetof(struct netlabd_host, peer_cred) + 1;
    assert_int_equal(call_all(&f), 6);
}

/* During init() the session functions are NULL: wrappers skip them. */
static void
test_null_member(void **state)
{
    struct netlabd_host init_only = full;
    struct fake f = {.h.host = &init_only};

    init_only.write = NULL;
    init_only.vlog = NULL;
    init_only.peer_cred = NULL;
    assert_int_equal(call_all(&f), 5);
    assert_int_equal(f.calls, 9);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_table),
        cmocka_unit_test(test_short_table),
        cmocka_unit_test(test_partial_member),
        cmocka_unit_test(test_null_member),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
