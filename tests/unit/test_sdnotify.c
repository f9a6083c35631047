/*
 * test_sdnotify.c - the systemd protocols' pieces: NOTIFY_SOCKET and the
 * watchdog variables read (and refused when malformed), datagrams built
 * and sent to a path and to an @abstract name, nothing sent from another
 * process or when systemd is not listening; a receiver that does not read
 * never blocks a send, and a state change waits for room on a timer;
 * LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES read, and refused when
 * malformed; passed sockets adopted, refused on a contradiction (IPv6
 * dual-stack or not included), released for good, or left alone when
 * LISTEN_PID is another process's.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "activation.h"
#include "conf.h"
#include "sdnotify.h"
#include "transport.h"

static void
test_parse_socket(void **state)
{
    struct sockaddr_un sun;
    socklen_t len;
    char err[256], longpath[200];

    assert_int_equal(
        nl_sd_parse_socket("/run/systemd/notify", &sun, &len, err, sizeof(err)),
        0);
    assert_string_equal(sun.sun_path, "/run/systemd/notify");
    assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 20);

    /* Abstract: a leading NUL, and the length says where the name ends. */
    assert_int_equal(nl_sd_parse_socket("@abc", &sun, &len, err, sizeof(err)),
                     0);
    assert_int_equal(sun.sun_path[0], '\0');
    assert_memory_equal(sun.sun_path + 1, "abc", 3);
    assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 4);

    assert_int_equal(
        nl_sd_parse_socket("run/notify", &sun, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "NOTIFY_SOCKET=run/notify: neither"));
    assert_int_equal(nl_sd_parse_socket("", &sun, &len, err, sizeof(err)), -1);
    assert_int_equal(nl_sd_parse_socket("@", &sun, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "empty name"));

    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(nl_sd_parse_socket(longpath, &sun, &len, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "199 bytes, longer than a socket address"));
}

static void
test_parse_watchdog(void **state)
{
    uint64_t usec = 1;
    char err[256];

    assert_int_equal(
        nl_sd_parse_watchdog(NULL, NULL, 42, &usec, err, sizeof(err)), 0);
    assert_int_equal(usec, 0);
    assert_int_equal(
        nl_sd_parse_watchdog("200000", NULL, 42, &usec, err, sizeof(err)), 0);
    assert_int_equal(usec, 200000);
    assert_int_equal(
        nl_sd_parse_watchdog("200000", "42", 42, &usec, err, sizeof(err)), 0);
    assert_int_equal(usec, 200000);
    /* Another process's watchdog is not ours to feed. */
    assert_int_equal(
        nl_sd_parse_watchdog("200000", "43", 42, &usec, err, sizeof(err)), 0);
    assert_int_equal(usec, 0);

    assert_int_equal(
        nl_sd_parse_watchdog("abc", NULL, 42, &usec, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "WATCHDOG_USEC=abc"));
    assert_int_equal(
        nl_sd_parse_watchdog("-5", NULL, 42, &usec, err, sizeof(err)), -1);
    assert_int_equal(
        nl_sd_parse_watchdog("0", NULL, 42, &usec, err, sizeof(err)), -1);
    assert_int_equal(nl_sd_parse_watchdog("99999999999999999999999", NULL, 42,
                                          &usec, err, sizeof(err)),
                     -1);
    assert_int_equal(
        nl_sd_parse_watchdog("1000", "x42", 42, &usec, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "WATCHDOG_PID=x42: not a process id"));
}

static void
test_format(void **state)
{
    char buf[64], small[24];

    assert_int_equal(nl_sd_format(buf, sizeof(buf), "READY=1", NULL), 7);
    assert_string_equal(buf, "READY=1");
    nl_sd_format(buf, sizeof(buf), "READY=1", "a:1: bad\nb:2: worse\tx");
    assert_string_equal(buf, "READY=1\nSTATUS=a:1: bad; b:2: worse x");
    /* Cut short, with a mark, never past the buffer. */
    nl_sd_format(small, sizeof(small), "READY=1",
                 "a status far too long to fit");
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_string_equal(small, "READY=1\nSTATUS=a sta...");
    nl_sd_format(small, 4, "READY=1", "x");
    assert_string_equal(small, "REA");
}

/* A receiving socket at name (a path, or @name); returns its descriptor. */
static int
listen_at(const char *name)
{
    struct sockaddr_un sun;
    socklen_t len;
    char err[128];
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_int_equal(nl_sd_parse_socket(name, &sun, &len, err, sizeof(err)), 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
    return fd;
}

static void
recv_text(int fd, char *buf, size_t len)
{
    ssize_t n = recv(fd, buf, len - 1, MSG_DONTWAIT);

    assert_true(n > 0);
    buf[n] = '\0';
}

static void
send_to(const char *name)
{
    char err[128], buf[512];
    int fd = listen_at(name);

    setenv("NOTIFY_SOCKET", name, 1);
    setenv("WATCHDOG_USEC", "300000", 1);
    unsetenv("WATCHDOG_PID");
    assert_int_equal(nl_sd_init(err, sizeof(err)), 0);
    /* Read once, and gone from the environment, for children. */
    assert_null(getenv("NOTIFY_SOCKET"));
    assert_null(getenv("WATCHDOG_USEC"));
    assert_true(nl_sd_enabled());
    assert_int_equal(nl_sd_watchdog_usec(), 300000);

    assert_int_equal(nl_sd_send("WATCHDOG=1"), 1);
    recv_text(fd, buf, sizeof(buf));
    assert_string_equal(buf, "WATCHDOG=1");
    nl_sd_reloading("reloading x.conf");
    recv_text(fd, buf, sizeof(buf));
    assert_true(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
    assert_non_null(strstr(buf, "\nSTATUS=reloading x.conf"));
    nl_sd_stopping();
    recv_text(fd, buf, sizeof(buf));
    assert_string_equal(buf, "STOPPING=1");

    /* A forked child is not the main pid: it never sends. */
    pid_t pid = fork();
    int st;

    assert_true(pid >= 0);
    if (pid == 0)
        _exit(nl_sd_send("READY=1") == 0 ? 0 : 1);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
    close(fd);
}

static void
test_send_path(void **state)
{
    char dir[] = "/tmp/nl-sd-XXXXXX", path[64];

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/notify", dir);
    send_to(path);
    /* Nobody listening any more: -1, logged once, and no crash. */
    unlink(path);
    assert_int_equal(nl_sd_send("WATCHDOG=1"), -1);
    assert_int_equal(nl_sd_send("WATCHDOG=1"), -1);
    rmdir(dir);
}

static void
test_send_abstract(void **state)
{
    char name[64];

    snprintf(name, sizeof(name), "@nl-sd-test-%ld", (long)getpid());
    send_to(name);
}

static void
test_init_off_and_bad(void **state)
{
    char err[256];

    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(nl_sd_init(err, sizeof(err)), 0);
    assert_false(nl_sd_enabled());
    assert_int_equal(nl_sd_send("READY=1"), 0);
    nl_sd_ready(); /* nothing to tell, nothing happens */

    setenv("NOTIFY_SOCKET", "relative/path", 1);
    assert_int_equal(nl_sd_init(err, sizeof(err)), -1);
    assert_false(nl_sd_enabled());
    assert_null(getenv("NOTIFY_SOCKET"));

    /* A malformed watchdog turns the watchdog off, not notification. */
    setenv("NOTIFY_SOCKET", "@nl-sd-unused", 1);
    setenv("WATCHDOG_USEC", "soon", 1);
    assert_int_equal(nl_sd_init(err, sizeof(err)), -1);
    assert_non_null(strstr(err, "WATCHDOG_USEC=soon"));
    assert_true(nl_sd_enabled());
    assert_int_equal(nl_sd_watchdog_usec(), 0);
}

static void
status_text(void *arg, char *buf, size_t len)
{
    snprintf(buf, len, "%s", (const char *)arg);
}

static void
stop_loop(struct ev_loop *loop, ev_timer *t, int revents)
{
    ev_break(loop, EVBREAK_ALL);
}

/* A receiver whose queue is full: sends fail at once with EAGAIN (the
 * alarm turns a blocking send into a failure); READY=1 is tried again from
 * the loop's timer and arrives once the receiver reads. */
static void
test_send_full(void **state)
{
    char name[64], err[128], buf[512];
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    ev_timer stop;
    int fd, n = 0, got_ready = 0, rc;

    snprintf(name, sizeof(name), "@nl-sd-full-%ld", (long)getpid());
    fd = listen_at(name);
    setenv("NOTIFY_SOCKET", name, 1);
    unsetenv("WATCHDOG_USEC");
    assert_int_equal(nl_sd_init(err, sizeof(err)), 0);
    nl_sd_start(loop, status_text, "all well");
    signal(SIGALRM, SIG_DFL);
    alarm(10);
    while ((rc = nl_sd_send("WATCHDOG=1")) == 1 && n < 100000)
        n++;
    assert_int_equal(rc, -1);
    assert_int_equal(errno, EAGAIN);
    assert_true(n > 0);
    nl_sd_ready(); /* finds no room: waits on the timer */
    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
    ev_timer_init(&stop, stop_loop, 0.5, 0.0);
    ev_timer_start(loop, &stop);
    ev_run(loop, 0);
    alarm(0);
    while ((rc = (int)recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
        buf[rc] = '\0';
        got_ready |= strncmp(buf, "READY=1\n", 8) == 0 &&
                     strstr(buf, "STATUS=all well") != NULL;
    }
    assert_true(got_ready);
    nl_sd_stop();
    ev_loop_destroy(loop);
    close(fd);
}

static void
test_listen_parse(void **state)
{
    char err[256], **names;

    assert_int_equal(
        nl_activation_parse(NULL, "2", NULL, 42, &names, err, sizeof(err)), 0);
    /* Meant for another process. */
    assert_int_equal(
        nl_activation_parse("41", "2", NULL, 42, &names, err, sizeof(err)), 0);
    assert_null(names);
    assert_int_equal(nl_activation_parse("42", "2", "web:local", 42, &names,
                                         err, sizeof(err)),
                     2);
    assert_string_equal(names[0], "web");
    assert_string_equal(names[1], "local");
    nl_activation_free_names(names, 2);

    /* Fewer names leave the rest unnamed; more are ignored. */
    assert_int_equal(
        nl_activation_parse("42", "3", "web::", 42, &names, err, sizeof(err)),
        3);
    assert_string_equal(names[0], "web");
    assert_null(names[1]);
    assert_null(names[2]);
    nl_activation_free_names(names, 3);
    assert_int_equal(
        nl_activation_parse("42", "1", "a:b:c", 42, &names, err, sizeof(err)),
        1);
    assert_string_equal(names[0], "a");
    nl_activation_free_names(names, 1);
    assert_int_equal(
        nl_activation_parse("42", "0", NULL, 42, &names, err, sizeof(err)), 0);

    assert_int_equal(
        nl_activation_parse("42", "abc", NULL, 42, &names, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "LISTEN_FDS=abc: not a number of descriptors"));
    assert_int_equal(
        nl_activation_parse("42", "-1", NULL, 42, &names, err, sizeof(err)),
        -1);
    assert_int_equal(
        nl_activation_parse("42", "2x", NULL, 42, &names, err, sizeof(err)),
        -1);
    assert_int_equal(
        nl_activation_parse("42", "100000", NULL, 42, &names, err, sizeof(err)),
        -1);
    assert_int_equal(
        nl_activation_parse("42", NULL, NULL, 42, &names, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "LISTEN_FDS is not set"));
    assert_int_equal(
        nl_activation_parse("me", "1", NULL, 42, &names, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "LISTEN_PID=me: not a process id"));
}

/*
 * nl_activation_start() on real descriptors: a listening tcp socket put
 * at descriptor 3 (and maybe 4), as systemd would, for a config with a
 * tcp listener "web" and a unix listener "local".
 */
static struct nl_listener_conf lcs[2];
static struct nl_conf conf = {
    .file = "test.conf", .listeners = lcs, .nlisteners = 2};
static int port;

/* A listening tcp socket on 127.0.0.1 at descriptor fd; returns its port. */
static int
tcp_at(int fd, int want)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                              .sin_port = htons((uint16_t)want)};
    socklen_t len = sizeof(sin);
    int s = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(s, 8), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
    if (s != fd) {
        assert_int_equal(dup2(s, fd), fd);
        close(s);
    }
    return ntohs(sin.sin_port);
}

static void
set_listen(const char *fds, const char *names)
{
    char pid[32];

    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    setenv("LISTEN_PID", pid, 1);
    setenv("LISTEN_FDS", fds, 1);
    if (names != NULL)
        setenv("LISTEN_FDNAMES", names, 1);
    else
        unsetenv("LISTEN_FDNAMES");
    nl_activation_read(); /* as main() does, first thing */
}

static int
setup_activation(void **state)
{
    /* Descriptors 3 and 4 must be free to play systemd's part. */
    if (fcntl(3, F_GETFD) != -1 || fcntl(4, F_GETFD) != -1)
        return -1;
    port = tcp_at(3, 0);
    memset(lcs, 0, sizeof(lcs));
    lcs[0].name = "web";
    lcs[0].line = 3;
    lcs[0].transport = NL_TRANSPORT_TCP;
    lcs[0].address = "127.0.0.1";
    lcs[0].port = port;
    lcs[1].name = "local";
    lcs[1].line = 4;
    lcs[1].transport = NL_TRANSPORT_UNIX;
    lcs[1].path = "/nonexistent/local.sock";
    return 0;
}

static int
teardown_activation(void **state)
{
    close(3);
    close(4);
    return 0;
}

static void
test_adopt_by_name(void **state)
{
    struct nl_socket sk;
    char err[256];

    set_listen("1", "web");
    assert_int_equal(nl_activation_start(&conf), 0);
    assert_null(getenv("LISTEN_PID"));
    assert_null(getenv("LISTEN_FDS"));
    assert_null(getenv("LISTEN_FDNAMES"));
    /* Ours now: close-on-exec and non-blocking, as a socket of our own. */
    assert_true(fcntl(3, F_GETFD) & FD_CLOEXEC);
    assert_true(fcntl(3, F_GETFL) & O_NONBLOCK);

    assert_int_equal(nl_transport_open(&lcs[0], &sk, err, sizeof(err)), 0);
    assert_int_equal(sk.fd, 3);
    assert_true(sk.adopted);
    /* Given back on close, not closed: a reload may take it again. */
    nl_transport_close(&lcs[0], &sk);
    assert_int_not_equal(fcntl(3, F_GETFD), -1);
    assert_int_equal(nl_transport_open(&lcs[0], &sk, err, sizeof(err)), 0);
    assert_int_equal(sk.fd, 3);
    /* A forked child closes only the sockets no listener holds. */
    nl_activation_close_unused();
    assert_int_not_equal(fcntl(3, F_GETFD), -1);
    nl_transport_close(&lcs[0], &sk);

    /* At stop, released for good: closed, and no longer in the pool. */
    assert_int_equal(nl_transport_open(&lcs[0], &sk, err, sizeof(err)), 0);
    assert_int_equal(sk.fd, 3);
    nl_activation_release(&sk);
    assert_int_equal(sk.fd, -1);
    assert_int_equal(fcntl(3, F_GETFD), -1);
    assert_int_equal(nl_activation_take(&lcs[0], &sk, err, sizeof(err)), 0);
}

static void
test_adopt_by_address(void **state)
{
    struct nl_socket sk;
    char err[256];

    /* systemd's default name, which is no listener's. */
    set_listen("1", "netlabd.socket");
    assert_int_equal(nl_activation_start(&conf), 0);
    assert_int_equal(nl_transport_open(&lcs[0], &sk, err, sizeof(err)), 0);
    assert_int_equal(sk.fd, 3);
    nl_transport_close(&lcs[0], &sk);
}

static void
test_contradiction_refused(void **state)
{
    /* A tcp socket named for the unix listener. */
    set_listen("1", "local");
    assert_int_equal(nl_activation_start(&conf), -1);
    assert_null(getenv("LISTEN_FDS"));

    /* A tcp socket named for "web", at another port. */
    lcs[0].port = port == 65535 ? 1 : port + 1;
    set_listen("1", "web");
    assert_int_equal(nl_activation_start(&conf), -1);
}

static void
test_unwanted_closed(void **state)
{
    struct nl_socket sk;
    char err[256];

    /* Unnamed, at an address no listener has: closed. */
    lcs[0].port = port == 65535 ? 1 : port + 1;
    set_listen("1", NULL);
    assert_int_equal(nl_activation_start(&conf), 0);
    assert_int_equal(fcntl(3, F_GETFD), -1);
    /* And the listener binds its own. */
    assert_int_equal(nl_activation_take(&lcs[0], &sk, err, sizeof(err)), 0);
}

/* An IPv6 wildcard tcp socket on fd 3 with IPV6_V6ONLY v6only; its port,
 * or 0 when this machine has no IPv6. */
static int
tcp6_any_at(int v6only)
{
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
                                .sin6_addr = IN6ADDR_ANY_INIT};
    socklen_t len = sizeof(sin6);
    int s = socket(AF_INET6, SOCK_STREAM, 0);

    if (s == -1)
        return 0;
    assert_int_equal(setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
                                sizeof(v6only)),
                     0);
    if (bind(s, (struct sockaddr *)&sin6, sizeof(sin6)) == -1) {
        close(s);
        return 0;
    }
    assert_int_equal(listen(s, 8), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sin6, &len), 0);
    if (s != 3) {
        assert_int_equal(dup2(s, 3), 3);
        close(s);
    }
    return ntohs(sin6.sin6_port);
}

static void
test_ipv6only(void **state)
{
    struct nl_socket sk;
    char err[256];

    close(3);
    for (int v6only = 0; v6only <= 1; v6only++) {
        int p = tcp6_any_at(v6only);

        if (p == 0) {
            skip(); /* no IPv6 here */
            return;
        }
        lcs[0].address = "::";
        lcs[0].port = p;
        /* By name, then by address: the other ipv6only does not fit. */
        lcs[0].ipv6only = !v6only;
        set_listen("1", "web");
        assert_int_equal(nl_activation_start(&conf), -1);
        set_listen("1", NULL);
        assert_int_equal(nl_activation_start(&conf), -1);
        /* The same one does, and is taken. */
        lcs[0].ipv6only = v6only;
        set_listen("1", NULL);
        assert_int_equal(nl_activation_start(&conf), 0);
        assert_int_equal(nl_transport_open(&lcs[0], &sk, err, sizeof(err)), 0);
        assert_int_equal(sk.fd, 3);
        nl_activation_release(&sk);
    }
}

/* LISTEN_PID of another process: ignored, and descriptor 3 left as it
 * was, not ours to close or to mark close-on-exec. */
static void
test_other_pid(void **state)
{
    struct nl_socket sk;
    char err[256];

    setenv("LISTEN_PID", "1", 1);
    setenv("LISTEN_FDS", "1", 1);
    setenv("LISTEN_FDNAMES", "web", 1);
    nl_activation_read();
    assert_null(getenv("LISTEN_PID"));
    assert_null(getenv("LISTEN_FDS"));
    assert_int_equal(nl_activation_start(&conf), 0);
    assert_int_not_equal(fcntl(3, F_GETFD), -1);
    assert_false(fcntl(3, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(nl_activation_take(&lcs[0], &sk, err, sizeof(err)), 0);
}

static void
test_missing_descriptor(void **state)
{
    set_listen("2", "web:other");
    assert_int_equal(nl_activation_start(&conf), -1);
    set_listen("many", NULL);
    assert_int_equal(nl_activation_start(&conf), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_socket),
        cmocka_unit_test(test_parse_watchdog),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_send_path),
        cmocka_unit_test(test_send_abstract),
        cmocka_unit_test(test_init_off_and_bad),
        cmocka_unit_test(test_send_full),
        cmocka_unit_test(test_listen_parse),
        cmocka_unit_test_setup_teardown(test_adopt_by_name, setup_activation,
                                        teardown_activation),
        cmocka_unit_test_setup_teardown(test_adopt_by_address, setup_activation,
                                        teardown_activation),
        cmocka_unit_test_setup_teardown(test_contradiction_refused,
                                        setup_activation, teardown_activation),
        cmocka_unit_test_setup_teardown(test_unwanted_closed, setup_activation,
                                        teardown_activation),
        cmocka_unit_test_setup_teardown(test_missing_descriptor,
                                        setup_activation, teardown_activation),
        cmocka_unit_test_setup_teardown(test_ipv6only, setup_activation,
                                        teardown_activation),
        cmocka_unit_test_setup_teardown(test_other_pid, setup_activation,
                                        teardown_activation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
