/*
 * test_plugins.c - the handler loader against real shared objects: the
 * shipped echo and greeter handlers and the broken ones in tests/plugins/.
 * Each refusal must name the file and say what was found and expected;
 * init() refusals and unknown options must come back with their config
 * line; nl_plugins_check() must report FILE:LINE lines, a crash included.
 *
 * The built objects are found through NETLABD_PLUGIN_DIR (plugins/.libs)
 * and NETLABD_TEST_PLUGIN_DIR (tests/plugins/.libs), set by the Makefile.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netlabd/plugin.h>

#include "conf.h"
#include "errs.h"
#include "plugins.h"
#include "util.h"

static char *
plugin_path(const char *env, const char *fallback, const char *name)
{
    const char *dir = getenv(env);

    return nl_xasprintf("%s/%s.so", dir != NULL ? dir : fallback, name);
}

/* A handler that ships. */
static char *
shipped(const char *name)
{
    return plugin_path("NETLABD_PLUGIN_DIR", "plugins/.libs", name);
}

/* A handler from tests/plugins/. */
static char *
testing(const char *name)
{
    return plugin_path("NETLABD_TEST_PLUGIN_DIR", "tests/plugins/.libs", name);
}

/* Loads path, which must fail, and checks the message is exactly
 * "PATH: tail". */
static void
assert_refused(const char *path, const char *tail)
{
    char err[1024], *want = nl_xasprintf("%s: %s", path, tail);

    err[0] = '\0';
    assert_null(nl_plugin_load(path, err, sizeof(err)));
    assert_string_equal(err, want);
    free(want);
}

/* Runs f(path) with fd (1 or 2) sent to a file; returns what was written. */
static char *
capture(int fd, int (*f)(const char *), const char *path, int *rc)
{
    char tmpl[] = "/tmp/test_plugins.XXXXXX", *text;
    int tmp, saved;
    off_t len;

    fflush(NULL);
    assert_true((tmp = mkstemp(tmpl)) != -1);
    unlink(tmpl);
    assert_true((saved = dup(fd)) != -1);
    assert_true(dup2(tmp, fd) != -1);
    *rc = f(path);
    fflush(NULL);
    assert_true(dup2(saved, fd) != -1);
    close(saved);
    len = lseek(tmp, 0, SEEK_END);
    text = nl_xcalloc((size_t)len + 1, 1);
    assert_int_equal(pread(tmp, text, (size_t)len, 0), len);
    close(tmp);
    return text;
}

static void
test_load_good(void **state)
{
    char err[1024], *path = shipped("echo");
    const struct netlabd_handler *h;
    struct nl_plugin *p;

    p = nl_plugin_load(path, err, sizeof(err));
    if (p == NULL)
        fail_msg("%s", err);
    h = nl_plugin_handler(p);
    assert_string_equal(h->name, "echo");
    assert_int_equal(h->abi_version, NETLABD_ABI_VERSION);
    assert_int_equal(h->framing, NETLABD_FRAMING_RAW);
    assert_non_null(h->data);
    nl_plugin_unload(p);
    nl_plugin_unload(NULL);
    free(path);
}

static void
test_info(void **state)
{
    char *path = shipped("timestamp"), *out, *want;
    int rc;

    out = capture(STDOUT_FILENO, nl_plugin_info, path, &rc);
    assert_int_equal(rc, 0);
    want = nl_xasprintf("file: %s\nname: timestamp\nversion: 1.0\n"
                        "abi: %d\nframing: line\n",
                        path, NETLABD_ABI_VERSION);
    assert_string_equal(out, want);
    free(want);
    free(out);
    free(path);
}

static void
test_info_refused(void **state)
{
    char *path = testing("bad_abi"), *out, *want;
    int rc;

    out = capture(STDERR_FILENO, nl_plugin_info, path, &rc);
    assert_int_equal(rc, -1);
    want = nl_xasprintf("%s: ABI version 999, expected %d\n", path,
                        NETLABD_ABI_VERSION);
    assert_string_equal(out, want);
    free(want);
    free(out);
    free(path);
}

static void
test_bad_abi(void **state)
{
    char *path = testing("bad_abi"), *tail;

    tail = nl_xasprintf("ABI version 999, expected %d", NETLABD_ABI_VERSION);
    assert_refused(path, tail);
    free(tail);
    free(path);
}

static void
test_bad_magic(void **state)
{
    char *path = testing("bad_magic");

    assert_refused(path, "netlabd_handler has magic 0xdeadbeef, expected "
                         "0x4e4c4844 (not a netlabd handler table?)");
    free(path);
}

static void
test_no_symbol(void **state)
{
    char *path = testing("no_symbol");

    assert_refused(path, "no symbol netlabd_handler (not a netlabd handler?)");
    free(path);
}

static void
test_not_elf(void **state)
{
    char tmpl[] = "/tmp/test_plugins.XXXXXX", err[1024], *want;
    static const char text[] = "this is not a shared object\n";
    int fd;

    assert_true((fd = mkstemp(tmpl)) != -1);
    assert_int_equal(write(fd, text, sizeof(text) - 1), sizeof(text) - 1);
    close(fd);
    assert_null(nl_plugin_load(tmpl, err, sizeof(err)));
    want = nl_xasprintf("%s: cannot load: ", tmpl);
    assert_memory_equal(err, want, strlen(want));
    /* dlerror()'s own text follows, without the path said twice. */
    assert_true(strlen(err) > strlen(want));
    assert_null(strstr(err + strlen(want), tmpl));
    unlink(tmpl);
    free(want);
}

static void
test_missing(void **state)
{
    char *path = testing("does_not_exist"), *want, err[1024];

    assert_null(nl_plugin_load(path, err, sizeof(err)));
    want = nl_xasprintf("%s: cannot load: ", path);
    assert_memory_equal(err, want, strlen(want));
    assert_non_null(strstr(err, "No such file"));
    free(want);
    free(path);
}

/* A listener for init() and the check; options may be NULL. */
static struct nl_listener_conf
listener(char *name, int line, char *path, struct nl_option *opts, size_t nopts,
         int options_line)
{
    struct nl_listener_conf lc;

    memset(&lc, 0, sizeof(lc));
    lc.name = name;
    lc.line = line;
    lc.handler = path;
    lc.handler_path = path;
    lc.options = opts;
    lc.noptions = nopts;
    lc.options_line = options_line;
    return lc;
}

/* Loads path and runs its init() for lc; returns init's result. */
static int
run_init(const char *path, const struct nl_listener_conf *lc, char *err,
         size_t errlen, int *line)
{
    struct nl_plugin *p;
    void *st = NULL;
    int rc;

    p = nl_plugin_load(path, err, errlen);
    if (p == NULL)
        fail_msg("%s", err);
    rc = nl_plugin_init(p, lc, &st, err, errlen, line);
    if (rc == 0)
        nl_plugin_fini(p, st);
    else
        assert_null(st);
    nl_plugin_unload(p);
    return rc;
}

static void
test_init_ok(void **state)
{
    char *path = shipped("greeter"), err[1024];
    struct nl_option opts[] = {{"message", "hello\n", 5}};
    struct nl_listener_conf lc = listener("g", 3, path, opts, 1, 4);
    struct nl_plugin *p;
    void *st = NULL;
    int line = 0;

    assert_non_null(p = nl_plugin_load(path, err, sizeof(err)));
    assert_int_equal(nl_plugin_init(p, &lc, &st, err, sizeof(err), &line), 0);
    assert_non_null(st);
    nl_plugin_fini(p, st);
    nl_plugin_unload(p);
    free(path);
}

static void
test_init_refused(void **state)
{
    char *path = testing("init_fail"), err[1024];
    struct nl_option opts[] = {{"reason", "too tired", 12}};
    struct nl_listener_conf lc = listener("f", 10, path, opts, 1, 11);
    int line = 0;

    assert_int_equal(run_init(path, &lc, err, sizeof(err), &line), -1);
    assert_string_equal(err, "handler init_fail: refused: too tired");
    assert_int_equal(line, 11);
    free(path);
}

static void
test_unknown_option(void **state)
{
    char *path = shipped("greeter"), err[1024];
    struct nl_option opts[] = {{"message", "hi\n", 21}, {"mesage", "x", 22}};
    struct nl_listener_conf lc = listener("g", 20, path, opts, 2, 20);
    int line = 0;

    /* init() succeeded and stored state: the loader must fini() it, which
     * LeakSanitizer checks. */
    assert_int_equal(run_init(path, &lc, err, sizeof(err), &line), -1);
    assert_string_equal(err, "unknown option `mesage'");
    assert_int_equal(line, 22);
    free(path);
}

static void
test_option_without_init(void **state)
{
    char *path = shipped("echo"), err[1024];
    struct nl_option opts[] = {{"loud", "true", 31}};
    struct nl_listener_conf lc = listener("e", 30, path, opts, 1, 30);
    int line = 0;

    assert_int_equal(run_init(path, &lc, err, sizeof(err), &line), -1);
    assert_string_equal(err, "unknown option `loud'");
    assert_int_equal(line, 31);
    free(path);
}

static void
test_check_ok(void **state)
{
    char *echo = shipped("echo"), *greeter = shipped("greeter");
    struct nl_option opts[] = {{"message", "hi\n", 9}};
    struct nl_listener_conf ls[] = {
        listener("a", 3, echo, NULL, 0, 3),
        listener("b", 7, greeter, opts, 1, 8),
        listener("c", 11, echo, NULL, 0, 11), /* the same .so again */
    };
    struct nl_conf conf = {.file = "ok.conf", .listeners = ls, .nlisteners = 3};
    struct nl_errs errs = {0};

    assert_int_equal(nl_plugins_check(&conf, &errs), 0);
    assert_int_equal(errs.n, 0);
    /* The check says each handler's version. */
    for (int i = 0; i < 3; i++) {
        assert_non_null(ls[i].handler_version);
        assert_string_equal(ls[i].handler_version, "1.0");
        free(ls[i].handler_version);
        ls[i].handler_version = NULL;
    }
    conf.nlisteners = 0;
    assert_int_equal(nl_plugins_check(&conf, &errs), 0);
    assert_int_equal(errs.n, 0);
    free(echo);
    free(greeter);
}

static void
test_check_errors(void **state)
{
    char *echo = shipped("echo"), *abi = testing("bad_abi");
    char *fail = testing("init_fail"), *crash = testing("crash");
    char *want;
    struct nl_option o1[] = {{"bogus", "1", 15}};
    struct nl_option o2[] = {{"crash_in_init", "true", 25}};
    struct nl_listener_conf ls[] = {
        listener("good", 3, echo, NULL, 0, 3),
        listener("old", 7, abi, NULL, 0, 7),
        listener("picky", 10, fail, NULL, 0, 11),
        listener("typo", 14, echo, o1, 1, 14),
        listener("boom", 24, crash, o2, 1, 24),
    };
    struct nl_conf conf = {.file = "t.conf", .listeners = ls, .nlisteners = 5};
    struct nl_errs errs = {0};

    assert_int_equal(nl_plugins_check(&conf, &errs), -1);
    assert_int_equal(errs.n, 4);
    want = nl_xasprintf("t.conf:7: listener old: %s: ABI version 999, "
                        "expected %d",
                        abi, NETLABD_ABI_VERSION);
    assert_string_equal(errs.msg[0], want);
    assert_string_equal(errs.msg[1], "t.conf:11: listener picky: handler "
                                     "init_fail: refused: always refuses");
    assert_string_equal(errs.msg[2],
                        "t.conf:15: listener typo: unknown option `bogus'");
    assert_string_equal(errs.msg[3],
                        "t.conf:24: listener boom: handler crashed in "
                        "init(): killed by SIGSEGV (Segmentation fault)");
    nl_errs_clear(&errs);
    free(want);
    /* A version for those that loaded, none for the one that did not. */
    assert_string_equal(ls[0].handler_version, "1.0");
    assert_null(ls[1].handler_version);
    for (size_t i = 0; i < sizeof(ls) / sizeof(ls[0]); i++)
        free(ls[i].handler_version); /* the check set them */
    free(echo);
    free(abi);
    free(fail);
    free(crash);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_good),
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_info_refused),
        cmocka_unit_test(test_bad_abi),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_no_symbol),
        cmocka_unit_test(test_not_elf),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_init_ok),
        cmocka_unit_test(test_init_refused),
        cmocka_unit_test(test_unknown_option),
        cmocka_unit_test(test_option_without_init),
        cmocka_unit_test(test_check_ok),
        cmocka_unit_test(test_check_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
