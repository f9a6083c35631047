/*
 * test_reload_apply.c - the reload's steps (reload_apply.c) on two
 * configurations parsed from temporary files: which listeners a reload
 * keeps, gives new processes, opens and retires, and that a failing bind
 * leaves the running configuration as it was.  No serving process is
 * started: the steps are run up to the commit, without nl_reload_spawn().
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "errs.h"
#include "master_int.h"
#include "reload.h"
#include "stats.h"
#include "supervisor.h"
#include "transport.h"
#include "util.h"

static char dir[] = "/tmp/test_reload_apply.XXXXXX";
static struct nl_master m;

/* A config in dir: the settings every test shares, then extra (top-level
 * settings), then the listeners. */
static struct nl_conf *
load(const char *name, const char *extra, const char *listeners)
{
    char *path = nl_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    struct nl_errs errs = {0};
    struct nl_conf *c;

    assert_non_null(f);
    fprintf(f,
            "pidfile = \"%s/pid\";\ncontrol = \"%s/control\";\n"
            "plugin_dir = \"%s\";\n%s\nlisteners = (\n%s\n);\n",
            dir, dir, dir, extra, listeners);
    fclose(f);
    c = nl_conf_load(path, &errs);
    if (c == NULL)
        fail_msg("%s", errs.n ? errs.msg[0] : "?");
    free(path);
    return c;
}

/* The running master: conf's listeners bound, no process started. */
static void
start(struct nl_conf *conf)
{
    const struct nl_sup_events none = {0};
    char err[256];

    memset(&m, 0, sizeof(m));
    m.conf = conf;
    m.cwd_fd = -1;
    nl_sup_init(&m.sup, conf, &none);
    assert_non_null(m.sup.loop = m.loop = ev_loop_new(EVFLAG_AUTO));
    m.sup.lst = nl_xcalloc(conf->nlisteners, sizeof(*m.sup.lst));
    for (size_t i = 0; i < conf->nlisteners; i++) {
        struct lst *l = nl_lst_new(&m.sup, &conf->listeners[i]);

        m.sup.lst[m.sup.nlst++] = l;
        assert_non_null(l->gate = nl_stats_alloc());
        if (nl_transport_open(l->lc, &l->sk, err, sizeof(err)) == -1)
            fail_msg("%s", err);
    }
}

static void
stop(void)
{
    nl_sup_free(&m.sup);
    nl_conf_free(m.conf);
    ev_loop_destroy(m.loop);
}

static int
exists(const char *name)
{
    char *path = nl_xasprintf("%s/%s", dir, name);
    int rc = access(path, F_OK) == 0;

    free(path);
    return rc;
}

#define OLD_LISTENERS                                                          \
    "{ name = \"keep\"; transport = \"tcp\"; address = \"127.0.0.1\"; "        \
    "port = 0; handler = \"echo\"; },\n"                                       \
    "{ name = \"change\"; transport = \"tcp\"; address = \"127.0.0.1\"; "      \
    "port = 0; handler = \"echo\"; },\n"                                       \
    "{ name = \"gone\"; transport = \"unix\"; path = \"%s/gone.sock\"; "       \
    "handler = \"echo\"; }"

static struct nl_conf *
load_old(void)
{
    char *text = nl_xasprintf(OLD_LISTENERS, dir);
    struct nl_conf *c = load("old.conf", "", text);

    free(text);
    return c;
}

static int
setup(void **state)
{
    static int once;

    if (!once) {
        assert_non_null(mkdtemp(dir));
        assert_int_equal(nl_stats_init(64), 0);
        once = 1;
    }
    start(load_old());
    return 0;
}

static int
teardown(void **state)
{
    stop();
    return 0;
}

/* keep: unchanged; change: max_line changed; gone: not in the new file;
 * fresh: a new address. */
static void
test_match_bind_commit(void **state)
{
    struct lst *keep = m.sup.lst[0], *change = m.sup.lst[1];
    int change_fd = change->sk.fd;
    unsigned change_id = change->id;
    struct nl_errs errs = {0};
    struct nl_reload_plan p;
    char *text = nl_xasprintf(
        "{ name = \"keep\"; transport = \"tcp\"; address = \"127.0.0.1\"; "
        "port = 0; handler = \"echo\"; },\n"
        "{ name = \"fresh\"; transport = \"unix\"; path = \"%s/fresh.sock\"; "
        "handler = \"echo\"; },\n"
        "{ name = \"change\"; transport = \"tcp\"; address = \"127.0.0.1\"; "
        "port = 0; handler = \"echo\"; max_line = 100; }",
        dir);
    struct nl_conf *nc = load("new.conf", "", text);

    free(text);
    assert_true(exists("gone.sock"));
    nl_reload_match(&m, nc, &p);
    assert_ptr_equal(p.match[0], keep); /* port 0 ones, told by name */
    assert_null(p.match[1]);
    assert_ptr_equal(p.match[2], change);
    assert_int_equal(p.taken[0] + p.taken[1] + p.taken[2], 2);
    assert_false(p.taken[2]);

    assert_int_equal(nl_reload_bind(&m, &p, &errs), 0);
    assert_int_equal(errs.n, 0);
    assert_non_null(p.next[1]);
    assert_true(p.next[1]->sk.fd != -1);
    assert_true(exists("fresh.sock"));
    assert_ptr_equal(m.conf->listeners, m.sup.lst[0]->lc); /* untouched */

    nl_reload_commit(&m, &p);
    assert_ptr_equal(m.conf, nc);
    assert_ptr_equal(m.sup.conf, nc);
    assert_int_equal(m.sup.generation, 2);
    assert_int_equal(m.sup.nlst, 3);
    assert_ptr_equal(m.sup.lst[0], keep); /* kept as it runs */
    assert_ptr_equal(keep->lc, &nc->listeners[0]);
    assert_string_equal(m.sup.lst[1]->lc->name, "fresh");
    /* changed: a new listener on the same socket, with the same id */
    assert_true(m.sup.lst[2] != change);
    assert_int_equal(m.sup.lst[2]->sk.fd, change_fd);
    assert_int_equal(m.sup.lst[2]->id, change_id);
    assert_false(exists("gone.sock")); /* removed: closed and unlinked */
    nl_reload_plan_free(&p, 1);
}

/* A global setting the processes took with them: every listener is
 * replaced, though its own spec did not change. */
static void
test_settings_replace_all(void **state)
{
    struct lst *keep = m.sup.lst[0];
    char *text = nl_xasprintf(OLD_LISTENERS, dir);
    struct nl_conf *nc = load("new.conf", "shutdown_timeout = 3;", text);
    struct nl_errs errs = {0};
    struct nl_reload_plan p;

    free(text);

    nl_reload_match(&m, nc, &p);
    assert_int_equal(nl_reload_bind(&m, &p, &errs), 0);
    nl_reload_commit(&m, &p);
    nl_reload_plan_free(&p, 1);
    assert_int_equal(m.sup.nlst, 3);
    assert_true(m.sup.lst[0] != keep);
    assert_true(exists("gone.sock")); /* the same address: kept */
}

/* A bind that fails leaves everything running as it was, and closes what
 * the reload had opened. */
static void
test_failing_bind(void **state)
{
    struct nl_conf *old = m.conf;
    struct lst *lst0 = m.sup.lst[0];
    struct nl_errs errs = {0};
    struct nl_reload_plan p;
    char *text = nl_xasprintf(
        "{ name = \"fresh\"; transport = \"unix\"; path = \"%s/fresh.sock\"; "
        "handler = \"echo\"; },\n"
        "{ name = \"bad\"; transport = \"unix\"; path = \"%s/no/such.sock\"; "
        "handler = \"echo\"; }",
        dir, dir);
    struct nl_conf *nc = load("bad.conf", "", text);
    char *want = nl_xasprintf("%s/bad.conf:7: listener bad: ", dir);

    free(text);
    nl_reload_match(&m, nc, &p);
    assert_int_equal(nl_reload_bind(&m, &p, &errs), -1);
    assert_int_equal(errs.n, 1);
    assert_memory_equal(errs.msg[0], want, strlen(want));
    nl_reload_plan_free(&p, 0);
    assert_false(exists("fresh.sock"));
    assert_ptr_equal(m.conf, old);
    assert_int_equal(m.sup.generation, 1);
    assert_int_equal(m.sup.nlst, 3);
    assert_ptr_equal(m.sup.lst[0], lst0);
    assert_true(exists("gone.sock"));
    free(want);
    nl_errs_clear(&errs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_match_bind_commit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_settings_replace_all, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failing_bind, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char *cmd = nl_xasprintf("rm -rf '%s'", dir);

    if (system(cmd) != 0)
        rc = 1;
    free(cmd);
    return rc;
}
