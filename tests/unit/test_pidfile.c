/*
 * test_pidfile.c - the locked pidfile: taking the lock and writing the
 * pid, refusing while another process holds it (naming the pid it holds),
 * taking over a file left behind whatever pid it names, messages that
 * name the pidfile, and removal only of our own file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

static long
file_pid(void)
{
    char buf[32] = {0};
    FILE *f = fopen(path, "r");

    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    return atol(buf);
}

/* The temporary name of the old implementation must never show. */
static void
assert_names_path(const char *err)
{
    assert_non_null(strstr(err, path));
    assert_null(strstr(err, ".tmp"));
}

static void
test_lock_write_release(void **state)
{
    char err[256];
    pid_t holder = -1;
    int fd;

    fd = nl_pidfile_lock(path, &holder, err, sizeof(err));
    assert_true(fd >= 0);
    assert_int_equal(holder, 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(nl_pidfile_write(fd, path, getpid(), err, sizeof(err)), 0);
    assert_int_equal(file_pid(), (long)getpid());
    /* Written again (a daemonized master): replaced, not appended. */
    assert_int_equal(nl_pidfile_write(fd, path, 7, err, sizeof(err)), 0);
    assert_int_equal(file_pid(), 7);
    nl_pidfile_release(path, fd);
    assert_int_equal(access(path, F_OK), -1);
    nl_pidfile_release(path, -1); /* nothing to do */
}

/* A child holds the lock; we must be refused, told its pid, and get the
 * lock once it is gone. */
static void
test_held_by_another(void **state)
{
    char err[256];
    int sync[2], fd;
    pid_t pid, holder = 0;
    char c;

    assert_int_equal(pipe(sync), 0);
    pid = fork();
    assert_true(pid != -1);
    if (pid == 0) {
        pid_t h;

        fd = nl_pidfile_lock(path, &h, err, sizeof(err));
        if (fd == -1 ||
            nl_pidfile_write(fd, path, getpid(), err, sizeof(err)) == -1)
            _exit(1);
        (void)!write(sync[1], "L", 1);
        pause(); /* until killed: the lock goes with the process */
        _exit(0);
    }
    close(sync[1]);
    assert_int_equal(read(sync[0], &c, 1), 1);
    close(sync[0]);

    fd = nl_pidfile_lock(path, &holder, err, sizeof(err));
    assert_int_equal(fd, -1);
    assert_int_equal(errno, EWOULDBLOCK);
    assert_int_equal(holder, pid);
    assert_non_null(strstr(err, "already running"));
    assert_names_path(err);

    /* Its pid unreadable: still refused, for the lock is what counts. */
    {
        int w = open(path, O_WRONLY | O_TRUNC);

        assert_true(w >= 0);
        close(w);
    }
    fd = nl_pidfile_lock(path, &holder, err, sizeof(err));
    assert_int_equal(fd, -1);
    assert_int_equal(holder, 0);
    assert_non_null(strstr(err, "locked"));
    assert_names_path(err);

    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    /* The holder died without cleaning up: its file is taken over. */
    fd = nl_pidfile_lock(path, &holder, err, sizeof(err));
    assert_true(fd >= 0);
    nl_pidfile_release(path, fd);
}

/* A file naming a live process that holds no lock (pid reuse after a
 * crash or reboot; here our parent) does not stop a start. */
static void
test_stale_live_pid(void **state)
{
    char err[256], text[32];
    pid_t holder = -1;
    int fd;

    snprintf(text, sizeof(text), "%ld\n", (long)getppid());
    put(text);
    fd = nl_pidfile_lock(path, &holder, err, sizeof(err));
    assert_true(fd >= 0);
    assert_int_equal(nl_pidfile_write(fd, path, getpid(), err, sizeof(err)), 0);
    assert_int_equal(file_pid(), (long)getpid());
    nl_pidfile_release(path, fd);
    put("not a pid\n");
    fd = nl_pidfile_lock(path, &holder, err, sizeof(err));
    assert_true(fd >= 0);
    nl_pidfile_release(path, fd);
}

/* A child forked from the holder that closes its copy does not keep the
 * lock once the holder lets go: serving processes must not. */
static void
test_lock_not_kept_by_child(void **state)
{
    char err[256];
    pid_t holder, pid;
    int fd, fd2, status, sync[2];
    char c;

    fd = nl_pidfile_lock(path, &holder, err, sizeof(err));
    assert_true(fd >= 0);
    assert_int_equal(pipe(sync), 0);
    pid = fork();
    assert_true(pid != -1);
    if (pid == 0) {
        close(fd); /* what a serving process does */
        (void)!write(sync[1], "C", 1);
        sleep(5);
        _exit(0);
    }
    close(sync[1]);
    assert_int_equal(read(sync[0], &c, 1), 1);
    close(sync[0]);
    close(fd); /* the master dies; its child lives on */
    fd2 = nl_pidfile_lock(path, &holder, err, sizeof(err));
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    assert_true(fd2 >= 0);
    nl_pidfile_release(path, fd2);
}

/* Our file replaced by another's (removed and made again): not removed. */
static void
test_release_only_ours(void **state)
{
    char err[256];
    pid_t holder;
    int fd;

    fd = nl_pidfile_lock(path, &holder, err, sizeof(err));
    assert_true(fd >= 0);
    assert_int_equal(unlink(path), 0);
    put("12345\n");
    nl_pidfile_release(path, fd);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(file_pid(), 12345);
}

static void
test_unwritable(void **state)
{
    char err[256];
    pid_t holder;

    assert_int_equal(nl_pidfile_lock("/nonexistent-dir/netlabd.pid", &holder,
                                     err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "/nonexistent-dir/netlabd.pid"));
    assert_non_null(strstr(err, "No such file"));
    /* A descriptor that cannot be written: the message names the path. */
    assert_int_equal(nl_pidfile_write(-1, path, 1, err, sizeof(err)), -1);
    assert_names_path(err);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lock_write_release, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_held_by_another, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_live_pid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_not_kept_by_child, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_release_only_ours, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unwritable, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
