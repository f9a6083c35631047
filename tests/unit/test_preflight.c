/*
 * test_preflight.c - what -t checks beyond the file: missing folders at
 * the line of their key or listener, the default runtime folder that may
 * be missing (and its creation at start-up), a unix path that is not a
 * socket, addresses in use (warnings) or not on this host, privileged
 * ports without CAP_NET_BIND_SERVICE (dropped in a child), and that no
 * probe leaves a descriptor open; a unix socket in use is found without
 * connecting to it (no session opened, no wait on a full backlog).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "errs.h"
#include "preflight.h"
#include "transport.h"
#include "util.h"

static char dir[64];

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/nl-preflight-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int
teardown(void **state)
{
    char *cmd = nl_xasprintf("rm -rf '%s'", dir);

    assert_int_equal(system(cmd), 0);
    free(cmd);
    return 0;
}

static char *
at(const char *name)
{
    return nl_xasprintf("%s/%s", dir, name);
}

/* Loads text as dir/t.conf; the test fails if it does not load. */
static struct nl_conf *
load(const char *text)
{
    struct nl_errs errs = {0};
    struct nl_conf *c;
    char *path = at("t.conf");
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    c = nl_conf_load(path, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_error("%s\n", errs.msg[i]);
    assert_non_null(c);
    free(path);
    return c;
}

/* Fails unless some line of e is "<dir>/t.conf" + want. */
static void
assert_has(const struct nl_errs *e, const char *want)
{
    char *line = nl_xasprintf("%s/t.conf%s", dir, want);

    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->msg[i], line) == 0) {
            free(line);
            return;
        }
    for (size_t i = 0; i < e->n; i++)
        print_error("have: %s\n", e->msg[i]);
    fail_msg("missing: %s", line);
}

static int
open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    assert_non_null(d);
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

static void
test_missing_folders(void **state)
{
    struct nl_errs errs = {0}, warns = {0};
    struct nl_conf *c = load(
        "pidfile = \"nodir1/netlabd.pid\";\n"
        "control = \"nodir2/control.sock\";\n"
        "log_target = \"nodir3/netlabd.log\";\n"
        "listeners = (\n"
        "  { name = \"u\"; transport = \"unix\"; path = \"nodir4/u.sock\";\n"
        "    handler = \"echo\"; }\n"
        ");\n");
    char *want;

    assert_int_equal(nl_preflight(c, NULL, "/nonexistent", &errs, &warns), -1);
    assert_int_equal(errs.n, 4);
    assert_int_equal(warns.n, 0);
    want = nl_xasprintf(":1: pidfile: %s/nodir1/netlabd.pid: folder "
                        "%s/nodir1 does not exist",
                        dir, dir);
    assert_has(&errs, want);
    free(want);
    want = nl_xasprintf(":2: control: %s/nodir2/control.sock: folder "
                        "%s/nodir2 does not exist",
                        dir, dir);
    assert_has(&errs, want);
    free(want);
    want = nl_xasprintf(":3: log_target: %s/nodir3/netlabd.log: folder "
                        "%s/nodir3 does not exist",
                        dir, dir);
    assert_has(&errs, want);
    free(want);
    want = nl_xasprintf(":5: listener u: %s/nodir4/u.sock: folder "
                        "%s/nodir4 does not exist",
                        dir, dir);
    assert_has(&errs, want);
    free(want);
    nl_errs_clear(&errs);

    /* -p replaces the config's pidfile, and is named as such. */
    assert_int_equal(nl_preflight(c, "/nonexistent-pid/x.pid", "/nonexistent",
                                  &errs, &warns),
                     -1);
    assert_has(&errs, ": pidfile (-p): /nonexistent-pid/x.pid: folder "
                      "/nonexistent-pid does not exist");
    nl_errs_clear(&errs);
    nl_conf_free(c);

    /* All there: nothing to say. */
    c = load("pidfile = \"netlabd.pid\";\ncontrol = \"control.sock\";\n");
    assert_int_equal(nl_preflight(c, NULL, "/nonexistent", &errs, &warns), 0);
    assert_int_equal(errs.n + warns.n, 0);
    nl_conf_free(c);
}

/* The runtime folder may be missing when its parent is there; start-up
 * creates it 0755 whatever the umask, only when something lives in it. */
static void
test_rundir(void **state)
{
    struct nl_errs errs = {0}, warns = {0};
    struct nl_conf *c = load("pidfile = \"run/netlabd.pid\";\n"
                             "control = \"run/control.sock\";\n");
    char *rundir = at("run"), *deep = at("x/run"), *other = at("other");
    char err[256];
    struct stat st;
    mode_t old;

    assert_int_equal(nl_preflight(c, NULL, rundir, &errs, &warns), 0);
    assert_int_equal(errs.n, 0);
    /* Another folder gets no such pass. */
    assert_int_equal(nl_preflight(c, NULL, other, &errs, &warns), -1);
    assert_int_equal(errs.n, 2);
    nl_errs_clear(&errs);

    assert_int_equal(nl_rundir_make(c, NULL, other, err, sizeof(err)), 0);
    assert_int_equal(access(other, F_OK), -1); /* nothing lives there */
    old = umask(077);
    assert_int_equal(nl_rundir_make(c, NULL, rundir, err, sizeof(err)), 0);
    umask(old);
    assert_int_equal(stat(rundir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0755);
    /* There already: fine. */
    assert_int_equal(nl_rundir_make(c, NULL, rundir, err, sizeof(err)), 0);
    nl_conf_free(c);

    /* Its parent must exist: -t says so, and start-up fails. */
    c = load("pidfile = \"x/run/netlabd.pid\";\ncontrol = \"c.sock\";\n");
    assert_int_equal(nl_preflight(c, NULL, deep, &errs, &warns), -1);
    assert_int_equal(errs.n, 1);
    nl_errs_clear(&errs);
    assert_int_equal(nl_rundir_make(c, NULL, deep, err, sizeof(err)), -1);
    assert_non_null(strstr(err, deep));
    assert_non_null(strstr(err, "No such file"));
    nl_conf_free(c);
    free(rundir);
    free(deep);
    free(other);
}

/* Unix paths: a file that is not a socket is an error (start-up would not
 * remove it); a socket someone answers on is a warning. */
static void
test_unix_paths(void **state)
{
    struct nl_errs errs = {0}, warns = {0};
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char *plain = at("plain"), *live = at("live.sock"), *want;
    struct nl_conf *c;
    int fd, before;
    FILE *f;

    assert_non_null(f = fopen(plain, "w"));
    fclose(f);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", live);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(fd, 1), 0);
    c = load("listeners = (\n"
             "  { name = \"p\"; transport = \"unix\"; path = \"plain\";\n"
             "    handler = \"echo\"; },\n"
             "  { name = \"l\"; transport = \"unix\"; path = \"live.sock\";\n"
             "    handler = \"echo\"; }\n"
             ");\n"
             "control = \"control.sock\";\n"
             "pidfile = \"netlabd.pid\";\n");
    before = open_fds();
    assert_int_equal(nl_preflight(c, NULL, "/nonexistent", &errs, &warns), -1);
    assert_int_equal(open_fds(), before);
    assert_int_equal(errs.n, 1);
    want = nl_xasprintf(":2: listener p: %s exists and is not a socket", plain);
    assert_has(&errs, want);
    free(want);
    assert_int_equal(warns.n, 1);
    want = nl_xasprintf(":4: warning: listener l: %s is in use now (by a "
                        "running netlabd, or start-up will fail)",
                        live);
    assert_has(&warns, want);
    free(want);
    nl_errs_clear(&errs);
    nl_errs_clear(&warns);
    close(fd);
    nl_conf_free(c);
    free(plain);
    free(live);
}

/* A listening unix socket at dir/name, non-blocking, with backlog. */
static int
unix_listener(const char *name, int backlog)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char *path = at(name);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

    assert_true(fd != -1);
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(fd, backlog), 0);
    free(path);
    return fd;
}

/*
 * A listener whose backlog is full (a hung netlabd) and a control socket
 * with room: both warned about, the check does not wait (run in a child
 * that an alarm ends), and no connection reaches either socket.
 */
static void
test_unix_busy(void **state)
{
    struct nl_errs errs = {0}, warns = {0};
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char *full = at("full.sock");
    int lfd = unix_listener("full.sock", 0);
    int cfd = unix_listener("control.sock", 8);
    int clients[64], nclients = 0, status, queued;
    struct nl_conf *c;
    pid_t pid;

    /* Fill the backlog: connects until one would wait. */
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", full);
    while (nclients < 64) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

        assert_true(fd != -1);
        if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
            assert_int_equal(errno, EAGAIN);
            close(fd);
            break;
        }
        clients[nclients++] = fd;
    }
    assert_true(nclients < 64);
    c = load("control = \"control.sock\";\npidfile = \"netlabd.pid\";\n"
             "listeners = (\n"
             "  { name = \"full\"; transport = \"unix\"; path = "
             "\"full.sock\";\n"
             "    handler = \"echo\"; }\n"
             ");\n");
    pid = fork();
    assert_true(pid != -1);
    if (pid == 0) {
        char *want;

        alarm(5);
        if (nl_preflight(c, NULL, "/nonexistent", &errs, &warns) != 0 ||
            warns.n != 2)
            _exit(10);
        want = nl_xasprintf("%s/t.conf:1: warning: control: %s/control.sock "
                            "is in use now (by a running netlabd, or "
                            "start-up will fail)",
                            dir, dir);
        if (strcmp(warns.msg[0], want) != 0)
            _exit(11);
        free(want);
        want = nl_xasprintf("%s/t.conf:4: warning: listener full: %s is in "
                            "use now (by a running netlabd, or start-up will "
                            "fail)",
                            dir, full);
        if (strcmp(warns.msg[1], want) != 0)
            _exit(12);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("the check was killed by signal %d (SIGALRM: it waited on "
                 "the full backlog)",
                 WTERMSIG(status));
    assert_true(WIFEXITED(status));
    /* Non-zero: the number of the check that failed in the child. */
    assert_int_equal(WEXITSTATUS(status), 0);
    /* Nobody connected: the control socket has nothing to accept, the
     * full one only the clients made here. */
    assert_int_equal(accept(cfd, NULL, NULL), -1);
    assert_int_equal(errno, EAGAIN);
    for (queued = 0; queued < 64; queued++) {
        int fd = accept(lfd, NULL, NULL);

        if (fd == -1)
            break;
        close(fd);
    }
    assert_int_equal(queued, nclients);
    for (int i = 0; i < nclients; i++)
        close(clients[i]);
    close(lfd);
    close(cfd);
    nl_conf_free(c);
    free(full);
}

/* A bound socket nobody listens on is stale (start-up replaces it), and
 * a datagram socket bound at the path is in use. */
static void
test_unix_stale_and_dgram(void **state)
{
    struct nl_errs errs = {0}, warns = {0};
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char *stale = at("stale.sock"), *dgram = at("d.sock"), *want;
    int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
    int dfd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct nl_conf *c;

    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", stale);
    assert_int_equal(bind(sfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", dgram);
    assert_int_equal(bind(dfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    c = load("control = \"control.sock\";\npidfile = \"netlabd.pid\";\n"
             "listeners = (\n"
             "  { name = \"s\"; transport = \"unix\"; path = "
             "\"stale.sock\"; handler = \"echo\"; },\n"
             "  { name = \"d\"; transport = \"unix-dgram\"; path = "
             "\"d.sock\"; handler = \"echo\"; }\n"
             ");\n");
    assert_int_equal(nl_preflight(c, NULL, "/nonexistent", &errs, &warns), 0);
    assert_int_equal(warns.n, 1);
    want = nl_xasprintf(":5: warning: listener d: %s is in use now (by a "
                        "running netlabd, or start-up will fail)",
                        dgram);
    assert_has(&warns, want);
    free(want);
    nl_errs_clear(&warns);
    close(sfd);
    close(dfd);
    nl_conf_free(c);
    free(stale);
    free(dgram);
}

/* The one place the unprivileged range is read: the sysctl, else 1024. */
static void
test_unprivileged_start(void **state)
{
    FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "r");
    int want = NL_PRIVILEGED_PORTS;

    if (f != NULL) {
        assert_int_equal(fscanf(f, "%d", &want), 1);
        fclose(f);
    }
    assert_int_equal(nl_unprivileged_port_start(), want);
}

static void
test_inet(void **state)
{
    struct nl_errs errs = {0}, warns = {0};
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    struct nl_conf *c;
    char *text, *want;
    int fd, udp, before, port;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    port = ntohs(sin.sin_port);
    /* The same port over udp is free: no warning for that one. */
    udp = socket(AF_INET, SOCK_DGRAM, 0);
    text = nl_xasprintf(
        "control = \"control.sock\";\npidfile = \"netlabd.pid\";\n"
        "metrics_listen = \"127.0.0.1:%d\";\n"
        "listeners = (\n"
        "  { name = \"busy\"; transport = \"tcp\"; address = \"127.0.0.1\";\n"
        "    port = %d; handler = \"echo\"; },\n"
        "  { name = \"u\"; transport = \"udp\"; address = \"127.0.0.1\";\n"
        "    port = %d; handler = \"echo\"; },\n"
        "  { name = \"far\"; transport = \"tcp\"; address = \"192.0.2.1\";\n"
        "    port = 0; handler = \"echo\"; },\n"
        "  { name = \"any\"; transport = \"tcp\"; address = \"127.0.0.1\";\n"
        "    port = 0; handler = \"echo\"; }\n"
        ");\n",
        port, port, port);
    c = load(text);
    free(text);
    before = open_fds();
    assert_int_equal(nl_preflight(c, NULL, "/nonexistent", &errs, &warns), -1);
    assert_int_equal(open_fds(), before);
    assert_int_equal(warns.n, 2);
    want = nl_xasprintf(":5: warning: listener busy: tcp 127.0.0.1:%d is in "
                        "use now (by a running netlabd, or start-up will "
                        "fail)",
                        port);
    assert_has(&warns, want);
    free(want);
    want = nl_xasprintf(":3: warning: metrics_listen: tcp 127.0.0.1:%d is in "
                        "use now (by a running netlabd, or start-up will "
                        "fail)",
                        port);
    assert_has(&warns, want);
    free(want);
    assert_int_equal(errs.n, 1);
    assert_has(&errs, ":9: listener far: 192.0.2.1:0: Cannot assign "
                      "requested address");
    /* The probe did not disturb the socket it found. */
    len = sizeof(sin);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    assert_int_equal(ntohs(sin.sin_port), port);
    nl_errs_clear(&errs);
    nl_errs_clear(&warns);
    close(fd);
    close(udp);
    nl_conf_free(c);
}

/* Drops CAP_NET_BIND_SERVICE from this process's effective set. */
static int
drop_bind_cap(void)
{
    struct __user_cap_header_struct h = {.version =
                                             _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct d[2];

    if (syscall(SYS_capget, &h, d) == -1)
        return -1;
    d[0].effective &= ~(1u << CAP_NET_BIND_SERVICE);
    return (int)syscall(SYS_capset, &h, d);
}

/* A port below 1024: an error saying what would allow it, unless the
 * process may bind it.  Checked in a child without the capability. */
static void
test_privileged_port(void **state)
{
    struct nl_errs errs = {0}, warns = {0};
    struct nl_conf *c = load(
        "control = \"control.sock\";\npidfile = \"netlabd.pid\";\n"
        "listeners = (\n"
        "  { name = \"low\"; transport = \"tcp\"; address = \"127.0.0.1\";\n"
        "    port = 1; handler = \"echo\"; }\n"
        ");\n");
    int status;
    pid_t pid = fork();

    assert_true(pid != -1);
    if (pid == 0) {
        FILE *f;
        int start = 1024;

        if (drop_bind_cap() == -1 && geteuid() == 0)
            _exit(10);
        f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "r");
        if (f != NULL) {
            if (fscanf(f, "%d", &start) != 1)
                start = 1024;
            fclose(f);
        }
        if (start <= 1)
            _exit(0); /* the system lets anyone bind port 1 */
        if (nl_preflight(c, NULL, "/nonexistent", &errs, &warns) != -1 ||
            errs.n != 1)
            _exit(11);
        if (strstr(errs.msg[0], ":4: listener low: 127.0.0.1:1: a port "
                                "below ") == NULL ||
            strstr(errs.msg[0], "CAP_NET_BIND_SERVICE") == NULL ||
            strstr(errs.msg[0], "run netlabd as root") == NULL)
            _exit(12);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* With the capability (root, normally): no error about the port. */
    if (geteuid() == 0) {
        (void)nl_preflight(c, NULL, "/nonexistent", &errs, &warns);
        for (size_t i = 0; i < errs.n; i++)
            assert_null(strstr(errs.msg[i], "CAP_NET_BIND_SERVICE"));
        nl_errs_clear(&errs);
        nl_errs_clear(&warns);
    }
    nl_conf_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_folders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rundir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unix_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unix_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unix_stale_and_dgram, setup,
                                        teardown),
        cmocka_unit_test(test_unprivileged_start),
        cmocka_unit_test_setup_teardown(test_inet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_privileged_port, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
