/*
 * test_log.c - the log: file target, level threshold, line layout,
 * reopening after the file was moved away, the start-up copy of warnings
 * and errors (never twice on one terminal).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static char dir[64], path[128], moved[128];

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/nl-log-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/netlabd.log", dir);
    snprintf(moved, sizeof(moved), "%s/netlabd.log.1", dir);
    return 0;
}

static int
teardown(void **state)
{
    nl_log_open("stderr", NL_LOG_INFO);
    unlink(path);
    unlink(moved);
    rmdir(dir);
    return 0;
}

static char *
slurp(const char *p)
{
    static char buf[8192];
    FILE *f = fopen(p, "r");
    size_t n;

    if (f == NULL)
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void
test_levels(void **state)
{
    assert_int_equal(nl_log_level_parse("debug"), NL_LOG_DEBUG);
    assert_int_equal(nl_log_level_parse("error"), NL_LOG_ERROR);
    assert_int_equal(nl_log_level_parse("loud"), -1);
    assert_string_equal(nl_log_level_name(NL_LOG_WARNING), "warning");
    assert_string_equal(nl_log_level_name(42), "?");
}

static void
test_file_threshold_and_layout(void **state)
{
    char *text;

    assert_int_equal(nl_log_open(path, NL_LOG_NOTICE), 0);
    nl_info("web", "not shown");
    nl_notice("web", "shown %d", 1);
    nl_warnx(NULL, "no listener");
    errno = ENOENT;
    nl_log_errno("web", "open %s", "x");
    text = slurp(path);
    assert_non_null(text);
    assert_null(strstr(text, "not shown"));
    assert_non_null(strstr(text, "[notice] listener web: shown 1\n"));
    assert_non_null(strstr(text, "[warning] no listener\n"));
    assert_non_null(strstr(text, "[error] listener web: open x: "));
    assert_non_null(strstr(text, strerror(ENOENT)));
    /* Lines start with a date and time. */
    assert_true(text[4] == '-' && text[10] == 'T');
}

static void
test_long_line_truncated(void **state)
{
    char big[5000], *text;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(nl_log_open(path, NL_LOG_DEBUG), 0);
    nl_info(NULL, "%s", big);
    text = slurp(path);
    assert_non_null(strstr(text, "...\n"));
    assert_true(strlen(text) < 2100);
}

static void
test_reopen(void **state)
{
    assert_int_equal(nl_log_open(path, NL_LOG_INFO), 0);
    nl_info(NULL, "before");
    assert_int_equal(rename(path, moved), 0);
    nl_info(NULL, "still old");
    assert_int_equal(nl_log_reopen(), 0);
    nl_info(NULL, "after");
    assert_non_null(strstr(slurp(moved), "still old"));
    assert_null(strstr(slurp(moved), "after"));
    assert_non_null(strstr(slurp(path), "after"));
}

static void
test_open_failure_keeps_target(void **state)
{
    assert_int_equal(nl_log_open(path, NL_LOG_INFO), 0);
    assert_int_equal(nl_log_open("/nonexistent-dir/x.log", NL_LOG_INFO), -1);
    nl_info(NULL, "kept");
    assert_non_null(strstr(slurp(path), "kept"));
}

static int
count(const char *text, const char *needle)
{
    int n = 0;

    for (const char *at = text; (at = strstr(at, needle)) != NULL; at++)
        n++;
    return n;
}

/*
 * A daemon started without -f, logging to "stderr": before the fork the
 * log line reaches the terminal, and a start-up copy would repeat it;
 * after the fork (stderr on /dev/null) the copy is the only one.  fd 2 is
 * pointed at a file standing for the terminal, and put back before any
 * check.
 */
static void
test_startup_copy_once(void **state)
{
    char term[160], *text;
    int saved = dup(STDERR_FILENO), tfd, null;

    snprintf(term, sizeof(term), "%s/terminal", dir);
    tfd = open(term, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    assert_true(saved != -1 && tfd != -1 && null != -1);
    assert_int_equal(dup2(tfd, STDERR_FILENO), STDERR_FILENO);
    nl_log_open("stderr", NL_LOG_INFO);
    nl_log_startup(fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3));
    nl_errx(NULL, "before the fork");
    nl_warnx("web", "warned before");
    (void)dup2(null, STDERR_FILENO); /* daemonize() */
    nl_errx(NULL, "after the fork");
    nl_info(NULL, "only info");
    nl_log_startup_end();
    nl_errx(NULL, "once ready");
    (void)dup2(saved, STDERR_FILENO);
    close(saved);
    close(null);
    close(tfd);

    text = slurp(term);
    assert_non_null(text);
    /* Before the fork: the log line, no copy. */
    assert_int_equal(count(text, "before the fork"), 1);
    assert_non_null(strstr(text, "[error] before the fork\n"));
    assert_int_equal(count(text, "warned before"), 1);
    assert_non_null(strstr(text, "[warning] listener web: warned before\n"));
    /* After it: the copy. */
    assert_int_equal(count(text, "after the fork"), 1);
    assert_non_null(strstr(text, "\nnetlabd: after the fork\n"));
    assert_null(strstr(text, "only info"));
    assert_null(strstr(text, "once ready"));
    unlink(term);
}

/* A log file: the terminal gets the copy, the file the log line. */
static void
test_startup_copy_file(void **state)
{
    char term[160], *text;
    int tfd;

    snprintf(term, sizeof(term), "%s/terminal", dir);
    tfd = open(term, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    assert_true(tfd != -1);
    assert_int_equal(nl_log_open(path, NL_LOG_INFO), 0);
    nl_log_startup(tfd);
    nl_warnx("web", "in use");
    nl_log_startup_end();
    assert_string_equal(slurp(term),
                        "netlabd: warning: listener web: in use\n");
    text = slurp(path);
    assert_int_equal(count(text, "in use"), 1);
    assert_non_null(strstr(text, "[warning] listener web: in use\n"));
    unlink(term);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
        cmocka_unit_test_setup_teardown(test_file_threshold_and_layout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_long_line_truncated, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_failure_keeps_target, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_startup_copy_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_startup_copy_file, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
