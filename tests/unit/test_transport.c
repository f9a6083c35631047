/*
 * test_transport.c - binding listeners: unix socket files (stale ones
 * replaced, live ones and non-sockets left alone, mode applied, removal
 * only of our own file) and inet sockets (port 0, IPv6, host names).
 * test_conn.c tests the connection side.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "transport.h"

static char dir[64];
static char path[100];
static struct nl_listener_conf lc;
static char err[512];

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/nl-transport-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/s.sock", dir);
    memset(&lc, 0, sizeof(lc));
    lc.name = "t";
    lc.transport = NL_TRANSPORT_UNIX;
    lc.path = path;
    lc.backlog = 8;
    err[0] = '\0';
    return 0;
}

static int
teardown(void **state)
{
    unlink(path);
    rmdir(dir);
    return 0;
}

static int
connect_unix(const char *p)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", p);
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
        close(fd);
        return -1;
    }
    return fd;
}

static void
test_unix_bind_mode_and_remove(void **state)
{
    struct nl_socket sk;
    struct stat st;
    int c;

    lc.mode = 0600;
    lc.mode_set = 1;
    assert_int_equal(nl_transport_open(&lc, &sk, err, sizeof(err)), 0);
    assert_string_equal(sk.address, path);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_true((c = connect_unix(path)) != -1);
    close(c);
    nl_transport_close(&lc, &sk);
    assert_int_equal(lstat(path, &st), -1);
}

static void
test_stale_socket_replaced(void **state)
{
    struct nl_socket old, sk;
    struct stat st;

    /* A socket file nobody listens on any more. */
    assert_int_equal(nl_transport_open(&lc, &old, err, sizeof(err)), 0);
    close(old.fd);
    assert_int_equal(nl_transport_open(&lc, &sk, err, sizeof(err)), 0);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    /* The new socket is the one that answers. */
    int c = connect_unix(path);
    assert_true(c != -1);
    close(c);
    nl_transport_close(&lc, &sk);
}

static void
test_live_socket_refused(void **state)
{
    struct nl_socket first, second;

    assert_int_equal(nl_transport_open(&lc, &first, err, sizeof(err)), 0);
    assert_int_equal(nl_transport_open(&lc, &second, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "in use by another process"));
    /* The first one still answers. */
    int c = connect_unix(path);
    assert_true(c != -1);
    close(c);
    nl_transport_close(&lc, &first);
}

/* A live listener whose backlog is full is in use, and says so at once:
 * a blocking probe would hold the master up until a slot frees. */
static void
test_full_backlog_refused_at_once(void **state)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct nl_socket sk;
    int l, c[8], n = 0;

    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    l = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(l, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(l, 0), 0);
    /* Fill the backlog: connect until a non-blocking one is refused. */
    while (n < 8) {
        c[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (connect(c[n], (struct sockaddr *)&sun, sizeof(sun)) == -1) {
            assert_int_equal(errno, EAGAIN);
            close(c[n]);
            break;
        }
        n++;
    }
    assert_true(n < 8);
    alarm(10); /* a blocking probe fails the test instead of hanging it */
    assert_int_equal(nl_transport_open(&lc, &sk, err, sizeof(err)), -1);
    alarm(0);
    assert_non_null(strstr(err, "in use by another process"));
    while (n-- > 0)
        close(c[n]);
    close(l);
}

static void
test_not_a_socket_kept(void **state)
{
    struct nl_socket sk;
    struct stat st;
    int fd = open(path, O_WRONLY | O_CREAT, 0644);

    assert_true(fd != -1);
    assert_int_equal(write(fd, "data", 4), 4);
    close(fd);
    assert_int_equal(nl_transport_open(&lc, &sk, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "is not a socket"));
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 4);
}

static void
test_replaced_file_not_removed(void **state)
{
    struct nl_socket sk;
    struct stat st;
    int fd;

    assert_int_equal(nl_transport_open(&lc, &sk, err, sizeof(err)), 0);
    /* Somebody else puts a file there: closing must not delete it. */
    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT, 0644);
    close(fd);
    nl_transport_close(&lc, &sk);
    assert_int_equal(lstat(path, &st), 0);
}

static void
test_unix_dgram(void **state)
{
    struct nl_socket sk;
    int type;
    socklen_t len = sizeof(type);

    lc.transport = NL_TRANSPORT_UNIX_DGRAM;
    assert_int_equal(nl_transport_open(&lc, &sk, err, sizeof(err)), 0);
    getsockopt(sk.fd, SOL_SOCKET, SO_TYPE, &type, &len);
    assert_int_equal(type, SOCK_DGRAM);
    nl_transport_close(&lc, &sk);
}

static void
test_path_too_long(void **state)
{
    char lng[200];
    struct nl_socket sk;

    memset(lng, 'a', sizeof(lng) - 1);
    lng[0] = '/';
    lng[sizeof(lng) - 1] = '\0';
    lc.path = lng;
    assert_int_equal(nl_transport_open(&lc, &sk, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "path longer than"));
}

static void
open_inet(enum nl_transport_kind t, const char *addr, const char *prefix)
{
    struct nl_listener_conf l = {.name = "i",
                                 .transport = t,
                                 .address = (char *)addr,
                                 .port = 0,
                                 .backlog = 8};
    struct nl_socket sk;

    assert_int_equal(nl_transport_open(&l, &sk, err, sizeof(err)), 0);
    /* Port 0 is shown as the port actually bound. */
    assert_int_equal(strncmp(sk.address, prefix, strlen(prefix)), 0);
    assert_true(atoi(sk.address + strlen(prefix)) > 0);
    nl_transport_close(&l, &sk);
}

static void
test_inet(void **state)
{
    open_inet(NL_TRANSPORT_TCP, "127.0.0.1", "127.0.0.1:");
    open_inet(NL_TRANSPORT_UDP, "127.0.0.1", "127.0.0.1:");
    open_inet(NL_TRANSPORT_TCP, "::", "[::]:");
    open_inet(NL_TRANSPORT_TCP, "localhost", "");
}

static void
test_inet_errors(void **state)
{
    struct nl_listener_conf l = {.name = "i",
                                 .transport = NL_TRANSPORT_TCP,
                                 .address = "127.0.0.1",
                                 .port = 0,
                                 .backlog = 8};
    struct nl_socket a, b;
    char port[16];

    assert_int_equal(nl_transport_open(&l, &a, err, sizeof(err)), 0);
    snprintf(port, sizeof(port), "%s", strrchr(a.address, ':') + 1);
    l.port = atoi(port);
    assert_int_equal(nl_transport_open(&l, &b, err, sizeof(err)), -1);
    assert_non_null(strstr(err, strerror(EADDRINUSE)));
    nl_transport_close(&l, &a);
    l.address = "no-such-host.invalid";
    assert_int_equal(nl_transport_open(&l, &b, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot resolve no-such-host.invalid"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unix_bind_mode_and_remove, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stale_socket_replaced, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_live_socket_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_full_backlog_refused_at_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_socket_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_replaced_file_not_removed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unix_dgram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_too_long, setup, teardown),
        cmocka_unit_test(test_inet),
        cmocka_unit_test(test_inet_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
