/*
 * test_util.c - the small helpers of util.c and errs.c: resolving paths
 * against a config file's folder, descriptor flags, formatting, the
 * allocation wrappers (and their abort on overflow), nl_fork's signal mask
 * and stdio flush, and the error list.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "errs.h"
#include "util.h"

static char dir[64];
static int home = -1; /* the folder the test started in */

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/nl-util-XXXXXX");
    assert_non_null(mkdtemp(dir));
    home = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(home != -1);
    assert_int_equal(chdir(dir), 0);
    return 0;
}

static int
teardown(void **state)
{
    char sub[96];

    assert_int_equal(fchdir(home), 0);
    close(home);
    snprintf(sub, sizeof(sub), "%s/gone", dir);
    rmdir(sub);
    rmdir(dir);
    return 0;
}

/* Checks nl_path_resolve(file, path) against want, freeing the result. */
static void
resolves(const char *file, const char *path, const char *want)
{
    char *got = nl_path_resolve(file, path);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void
test_path_resolve(void **state)
{
    char cwd[4096], want[4200];

    assert_non_null(getcwd(cwd, sizeof(cwd)));
    /* An absolute path is kept whatever the file. */
    resolves("/etc/netlabd/netlabd.conf", "/usr/lib/h.so", "/usr/lib/h.so");
    resolves("netlabd.conf", "/usr/lib/h.so", "/usr/lib/h.so");
    /* Relative to an absolute file's folder. */
    resolves("/etc/netlabd/netlabd.conf", "h.so", "/etc/netlabd/h.so");
    resolves("/etc/netlabd/netlabd.conf", "../lib/h.so",
             "/etc/netlabd/../lib/h.so");
    resolves("/netlabd.conf", "h.so", "/h.so");
    /* A relative file: its folder under the current one. */
    snprintf(want, sizeof(want), "%s/conf/sub/h.so", cwd);
    resolves("conf/sub/netlabd.conf", "h.so", want);
    /* A bare file name: the current folder. */
    snprintf(want, sizeof(want), "%s/h.so", cwd);
    resolves("netlabd.conf", "h.so", want);
}

static void
test_path_resolve_without_cwd(void **state)
{
    char sub[96], cwd[64];

    /* In a folder that was removed, getcwd fails: the result stays
     * relative rather than wrong. */
    snprintf(sub, sizeof(sub), "%s/gone", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(chdir(sub), 0);
    assert_int_equal(rmdir(sub), 0);
    assert_null(getcwd(cwd, sizeof(cwd)));
    resolves("conf/netlabd.conf", "h.so", "conf/h.so");
    resolves("netlabd.conf", "h.so", "h.so");
    resolves("/etc/netlabd.conf", "h.so", "/etc/h.so");
    resolves("netlabd.conf", "/abs/h.so", "/abs/h.so");
}

static void
test_fd_flags(void **state)
{
    int p[2], fd;
    char c;

    assert_int_equal(pipe(p), 0);
    assert_false(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    assert_int_equal(nl_set_nonblock(p[0], 1), 0);
    assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    assert_int_equal(read(p[0], &c, 1), -1);
    assert_int_equal(errno, EAGAIN);
    /* Idempotent, and other flags are kept. */
    assert_int_equal(nl_set_nonblock(p[1], 1), 0);
    assert_int_equal(nl_set_nonblock(p[1], 1), 0);
    assert_int_equal(fcntl(p[1], F_GETFL) & O_ACCMODE, O_WRONLY);
    assert_int_equal(nl_set_nonblock(p[0], 0), 0);
    assert_false(fcntl(p[0], F_GETFL) & O_NONBLOCK);

    assert_false(fcntl(p[0], F_GETFD) & FD_CLOEXEC);
    assert_int_equal(nl_set_cloexec(p[0]), 0);
    assert_true(fcntl(p[0], F_GETFD) & FD_CLOEXEC);
    assert_int_equal(nl_set_cloexec(p[0]), 0);
    assert_true(fcntl(p[0], F_GETFD) & FD_CLOEXEC);

    /* A closed descriptor. */
    fd = p[0];
    close(p[0]);
    close(p[1]);
    errno = 0;
    assert_int_equal(nl_set_nonblock(fd, 1), -1);
    assert_int_equal(errno, EBADF);
    errno = 0;
    assert_int_equal(nl_set_cloexec(fd), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(nl_set_nonblock(-1, 0), -1);
    assert_int_equal(nl_set_cloexec(-1), -1);
}

/* nl_xasprintf(), and so nl_xvasprintf(), which it calls. */
static void
test_xasprintf_and_alloc(void **state)
{
    char *s, big[10001];
    unsigned char *z;
    int *a;

    s = nl_xasprintf("%s-%d:%c", "web", 42, 'x');
    assert_string_equal(s, "web-42:x");
    free(s);
    s = nl_xasprintf("%s", "");
    assert_string_equal(s, "");
    free(s);
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    s = nl_xasprintf("<%s>", big);
    assert_int_equal(strlen(s), sizeof(big) + 1);
    assert_int_equal(s[0], '<');
    assert_int_equal(s[sizeof(big)], '>');
    free(s);

    s = nl_xstrdup("copy");
    assert_string_equal(s, "copy");
    free(s);
    /* Zero sizes still give memory that can be freed. */
    s = nl_xmalloc(0);
    assert_non_null(s);
    free(s);
    z = nl_xcalloc(0, 0);
    assert_non_null(z);
    free(z);
    z = nl_xcalloc(16, 4);
    for (int i = 0; i < 64; i++)
        assert_int_equal(z[i], 0);
    free(z);
    a = nl_xreallocarray(NULL, 4, sizeof(*a));
    for (int i = 0; i < 4; i++)
        a[i] = i;
    a = nl_xreallocarray(a, 1000, sizeof(*a));
    assert_int_equal(a[3], 3);
    free(a);
}

static void
test_str_equal(void **state)
{
    char a[] = "web", b[] = "web";

    assert_true(nl_str_equal(a, b)); /* by content, not by pointer */
    assert_true(nl_str_equal(a, a));
    assert_true(nl_str_equal(NULL, NULL));
    assert_true(nl_str_equal("", ""));
    assert_false(nl_str_equal(a, "we"));
    assert_false(nl_str_equal("we", a));
    assert_false(nl_str_equal(a, NULL));
    assert_false(nl_str_equal(NULL, a));
    assert_false(nl_str_equal("", NULL));
}

static void
test_path_dir(void **state)
{
    static const char *const cases[][2] = {
        {"/etc/netlabd/netlabd.conf", "/etc/netlabd"},
        {"/netlabd.conf", "/"},
        {"netlabd.conf", "."},
        {"conf/netlabd.conf", "conf"},
        {"/run/netlabd/", "/run/netlabd"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *d = nl_path_dir(cases[i][0]);

        assert_string_equal(d, cases[i][1]);
        free(d);
    }
}

static void
test_overflow_aborts(void **state)
{
    int p[2], status;
    char buf[128] = "";
    ssize_t n;
    pid_t pid;

    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid != -1);
    if (pid == 0) {
        signal(SIGABRT, SIG_DFL);
        dup2(p[1], STDERR_FILENO);
        /* n * size does not fit in a size_t. */
        (void)nl_xreallocarray(NULL, SIZE_MAX / 4 + 1, 8);
        _exit(0);
    }
    close(p[1]);
    n = read(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_true(n > 0);
    assert_string_equal(buf, "netlabd: out of memory\n");
}

static void
test_fork(void **state)
{
    sigset_t usr2, now;
    char path[96], buf[64] = "";
    int status;
    FILE *f;
    pid_t pid;

    /* Buffered output before the fork is written once. */
    snprintf(path, sizeof(path), "%s/out", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("once\n", f);
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &usr2, NULL);
    pid = nl_fork();
    assert_true(pid != -1);
    if (pid == 0) {
        int code = 0;

        /* Everything blocked in the child. */
        sigprocmask(SIG_BLOCK, NULL, &now);
        if (!sigismember(&now, SIGTERM) || !sigismember(&now, SIGHUP) ||
            !sigismember(&now, SIGCHLD) || !sigismember(&now, SIGUSR1) ||
            !sigismember(&now, SIGINT))
            code = 1;
        fflush(f);
        _exit(code);
    }
    /* The parent's mask is what it was, SIGUSR2 included. */
    sigprocmask(SIG_BLOCK, NULL, &now);
    assert_false(sigismember(&now, SIGTERM));
    assert_false(sigismember(&now, SIGCHLD));
    assert_true(sigismember(&now, SIGUSR2));
    sigprocmask(SIG_UNBLOCK, &usr2, NULL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    fclose(f);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, sizeof(buf) - 1, f), 5);
    fclose(f);
    assert_string_equal(buf, "once\n");
    unlink(path);
}

static void
test_now(void **state)
{
    double t0 = nl_now(), t1;

    assert_true(t0 > 0);
    usleep(10000);
    t1 = nl_now();
    assert_true(t1 - t0 >= 0.009);
    assert_true(t1 - t0 < 5.0);
}

static void
test_errs(void **state)
{
    struct nl_errs e = {0};

    nl_errs_clear(&e); /* empty is fine */
    assert_int_equal(e.n, 0);
    nl_errs_add(&e, "%s:%d: first", "a.conf", 3);
    nl_errs_add(&e, "second");
    nl_errs_add(&e, "%s", "third");
    assert_int_equal(e.n, 3);
    assert_string_equal(e.msg[0], "a.conf:3: first");
    assert_string_equal(e.msg[1], "second");
    assert_string_equal(e.msg[2], "third");
    nl_errs_clear(&e);
    assert_int_equal(e.n, 0);
    assert_null(e.msg);
    /* Used again after clearing. */
    for (int i = 0; i < 40; i++)
        nl_errs_add(&e, "line %d", i);
    assert_int_equal(e.n, 40);
    assert_string_equal(e.msg[0], "line 0");
    assert_string_equal(e.msg[39], "line 39");
    nl_errs_clear(&e);
    assert_int_equal(e.n, 0);
}

/* "HOST:PORT" for metrics_listen: each accepted form, each refused one. */
static void
test_hostport(void **state)
{
    char host[64];
    int port = -1;

    assert_int_equal(nl_hostport_split("127.0.0.1:9109", host, sizeof(host),
                                       &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9109);
    assert_int_equal(nl_hostport_split("[::1]:0", host, sizeof(host), &port),
                     0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(nl_hostport_split("localhost:65535", host, sizeof(host),
                                       &port), 0);
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 65535);
    assert_int_equal(nl_hostport_split("::1:9109", host, sizeof(host), &port),
                     -1);
    assert_int_equal(nl_hostport_split("[::1]9109", host, sizeof(host), &port),
                     -1);
    assert_int_equal(nl_hostport_split("[::1:9109", host, sizeof(host), &port),
                     -1);
    assert_int_equal(nl_hostport_split("127.0.0.1", host, sizeof(host), &port),
                     -1);
    assert_int_equal(nl_hostport_split(":9109", host, sizeof(host), &port), -1);
    assert_int_equal(nl_hostport_split("h:65536", host, sizeof(host), &port),
                     -1);
    assert_int_equal(nl_hostport_split("h:-1", host, sizeof(host), &port), -1);
    assert_int_equal(nl_hostport_split("h:9x", host, sizeof(host), &port), -1);
    assert_int_equal(nl_hostport_split("h:", host, sizeof(host), &port), -1);
    /* A host longer than the room for it. */
    assert_int_equal(nl_hostport_split("a-very-long-name:1", host, 8, &port),
                     -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_path_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_resolve_without_cwd, setup,
                                        teardown),
        cmocka_unit_test(test_fd_flags),
        cmocka_unit_test(test_xasprintf_and_alloc),
        cmocka_unit_test(test_str_equal),
        cmocka_unit_test(test_path_dir),
        cmocka_unit_test(test_overflow_aborts),
        cmocka_unit_test_setup_teardown(test_fork, setup, teardown),
        cmocka_unit_test(test_now),
        cmocka_unit_test(test_errs),
        cmocka_unit_test(test_hostport),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
