/*
 * test_log.c - the log: file target, level threshold, line layout,
 * reopening after the file was moved away, the start-up copy of warnings
 * and errors (never twice on one terminal), the limit on lines repeated
 * word for word.
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
    static char buf[65536];
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

/* A listener name longer than a log line (the config does not bound it)
 * is cut like a long message, not written past the line's end. */
static void
test_long_listener_name_truncated(void **state)
{
    char big[5000], *text;

    memset(big, 'n', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(nl_log_open(path, NL_LOG_DEBUG), 0);
    nl_info(big, "restarting the serving process in %d s", 1);
    /* Names that end just past the line, where AddressSanitizer sees a
     * write beyond it. */
    for (size_t len = 1990; len < 2100; len++) {
        big[len] = '\0';
        nl_info(big, "restarting the serving process in %d s", 1);
        big[len] = 'n';
    }
    text = slurp(path);
    assert_non_null(strstr(text, "[info] listener nnnn"));
    assert_non_null(strstr(text, "...\n"));
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

/* The repeat limit's clock, moved by hand. */
static double fake_now;

static double
fake_clock(void)
{
    return fake_now;
}

static int
setup_clock(void **state)
{
    fake_now = 1000.0;
    nl_log_set_clock(fake_clock);
    return setup(state);
}

static int
teardown_clock(void **state)
{
    int rc = teardown(state);

    nl_log_set_clock(NULL);
    return rc;
}

/* A flood of one line: NL_LOG_BURST copies, then one line telling how many
 * more there were once the second is over; then the next second's. */
static void
test_repeats_limited(void **state)
{
    char *text;

    assert_int_equal(nl_log_open(path, NL_LOG_INFO), 0);
    for (int i = 0; i < 50; i++)
        nl_errx("web", "accept: Too many open files");
    fake_now += 0.5;
    nl_info(NULL, "something else");
    text = slurp(path);
    assert_int_equal(count(text, "Too many open files\n"), NL_LOG_BURST);
    assert_null(strstr(text, "more like this"));
    assert_int_equal(count(text, "something else"), 1);

    /* The second is over: the next line, any line, brings the count. */
    fake_now += 0.6;
    nl_info(NULL, "later");
    text = slurp(path);
    assert_int_equal(count(text, "more like this"), 1);
    assert_non_null(strstr(text, "[error] listener web: accept: Too many open "
                                 "files (40 more like this)\n"));
    /* Before the line that brought it. */
    assert_true(strstr(text, "more like this") < strstr(text, "later"));

    /* A new second: written again, and nothing more to tell. */
    for (int i = 0; i < 3; i++)
        nl_errx("web", "accept: Too many open files");
    fake_now += 5;
    nl_info(NULL, "much later");
    text = slurp(path);
    assert_int_equal(count(text, "Too many open files\n"), NL_LOG_BURST + 3);
    assert_int_equal(count(text, "more like this"), 1);
}

/* Lines that differ in any way are all written, however many at once:
 * another argument, another listener, another level. */
/* A process that falls quiet still tells its held repeats: the master's
 * one-second tick does, without waiting for another line. */
static void
test_repeats_told_on_tick(void **state)
{
    char *text;

    assert_int_equal(nl_log_open(path, NL_LOG_INFO), 0);
    for (int i = 0; i < 30; i++)
        nl_errx(NULL, "control socket: accept: Too many open files");
    nl_log_tick(); /* the second is not over: nothing to tell yet */
    assert_null(strstr(slurp(path), "more like this"));
    fake_now += 1.1;
    nl_log_tick();
    text = slurp(path);
    assert_non_null(strstr(text, "Too many open files (20 more like this)\n"));
    nl_log_tick(); /* told once */
    assert_int_equal(count(slurp(path), "more like this"), 1);
}

static void
test_distinct_lines_all_written(void **state)
{
    char *text;

    assert_int_equal(nl_log_open(path, NL_LOG_DEBUG), 0);
    for (int i = 0; i < 200; i++)
        nl_info("web", "client %d: line too long", i);
    for (int i = 0; i < NL_LOG_BURST; i++) {
        nl_info("web", "same words");
        nl_info("mail", "same words");
        nl_info(NULL, "same words");
        nl_warnx("web", "same words");
    }
    nl_log_flush();
    text = slurp(path);
    assert_int_equal(count(text, ": line too long\n"), 200);
    assert_non_null(strstr(text, "client 0: line too long\n"));
    assert_non_null(strstr(text, "client 199: line too long\n"));
    assert_int_equal(count(text, "[info] listener web: same words\n"),
                     NL_LOG_BURST);
    assert_int_equal(count(text, "[info] listener mail: same words\n"),
                     NL_LOG_BURST);
    assert_int_equal(count(text, "[info] same words\n"), NL_LOG_BURST);
    assert_int_equal(count(text, "[warning] listener web: same words\n"),
                     NL_LOG_BURST);
    assert_null(strstr(text, "more like this"));
}

/* The table is bounded: a flood pushed out by many other lines is told at
 * once; the count is also told on a flush and when the log is closed. */
static void
test_repeats_told_on_eviction_and_close(void **state)
{
    char *text;

    assert_int_equal(nl_log_open(path, NL_LOG_INFO), 0);
    for (int i = 0; i < NL_LOG_BURST + 7; i++)
        nl_errx(NULL, "flood");
    for (int i = 0; i < 100; i++) {
        fake_now += 0.001; /* the flood stays the oldest, in its second */
        nl_info(NULL, "other %d", i);
    }
    text = slurp(path);
    assert_non_null(strstr(text, "[error] flood (7 more like this)\n"));
    assert_int_equal(count(text, "more like this"), 1);

    for (int i = 0; i < NL_LOG_BURST + 2; i++)
        nl_errx(NULL, "again");
    nl_log_flush();
    assert_non_null(strstr(slurp(path), "[error] again (2 more like this)\n"));

    for (int i = 0; i < NL_LOG_BURST + 3; i++)
        nl_errx(NULL, "at the end");
    nl_log_close();
    assert_non_null(
        strstr(slurp(path), "[error] at the end (3 more like this)\n"));
    assert_int_equal(count(slurp(path), "more like this"), 3);
}

/* Below the threshold, repeats cost nothing and are never told. */
static void
test_repeats_below_threshold(void **state)
{
    assert_int_equal(nl_log_open(path, NL_LOG_NOTICE), 0);
    for (int i = 0; i < 100; i++)
        nl_info(NULL, "quiet");
    nl_log_flush();
    assert_null(strstr(slurp(path), "quiet"));
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
        cmocka_unit_test_setup_teardown(test_long_listener_name_truncated,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_failure_keeps_target, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_startup_copy_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_startup_copy_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_repeats_limited, setup_clock,
                                        teardown_clock),
        cmocka_unit_test_setup_teardown(test_repeats_told_on_tick, setup_clock,
                                        teardown_clock),
        cmocka_unit_test_setup_teardown(test_distinct_lines_all_written,
                                        setup_clock, teardown_clock),
        cmocka_unit_test_setup_teardown(
            test_repeats_told_on_eviction_and_close, setup_clock,
            teardown_clock),
        cmocka_unit_test_setup_teardown(test_repeats_below_threshold,
                                        setup_clock, teardown_clock),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
