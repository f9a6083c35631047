/*
 * test_pidfile.c - atomic pidfile writing, detecting a live netlabd,
 * ignoring stale or foreign files.
 */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pidfile.h"

static char dir[64], path[128];

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/nl-pid-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/netlabd.pid", dir);
    return 0;
}

static int
teardown(void **state)
{
    unlink(path);
    rmdir(dir);
    return 0;
}

static void
put(const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
test_write_and_remove(void **state)
{
    char err[256], buf[32] = {0};
    FILE *f;

    assert_int_equal(nl_pidfile_write(path, getpid(), err, sizeof(err)), 0);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    assert_int_equal(atol(buf), (long)getpid());
    /* Our own pid is not "another netlabd". */
    assert_int_equal(nl_pidfile_running(path), 0);
    nl_pidfile_remove(path, getpid());
    assert_int_equal(access(path, F_OK), -1);
}

static void
test_live_process_detected(void **state)
{
    char text[32];

    snprintf(text, sizeof(text), "%ld\n", (long)getppid());
    put(text);
    assert_int_equal(nl_pidfile_running(path), getppid());
    /* Not ours: left alone. */
    nl_pidfile_remove(path, getpid());
    assert_int_equal(access(path, F_OK), 0);
}

static void
test_stale_and_garbage(void **state)
{
    pid_t pid = fork();
    char text[32];

    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    snprintf(text, sizeof(text), "%ld\n", (long)pid);
    put(text);
    assert_int_equal(nl_pidfile_running(path), 0);
    put("not a pid\n");
    assert_int_equal(nl_pidfile_running(path), 0);
    put("");
    assert_int_equal(nl_pidfile_running(path), 0);
    unlink(path);
    assert_int_equal(nl_pidfile_running(path), 0);
}

static void
test_unwritable(void **state)
{
    char err[256];

    assert_int_equal(
        nl_pidfile_write("/nonexistent-dir/netlabd.pid", 1, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "/nonexistent-dir/"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_and_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_process_detected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stale_and_garbage, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unwritable, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
