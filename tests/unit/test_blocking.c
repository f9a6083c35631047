/*
 * test_blocking.c - the poll loop of the blocking models (blocking.c):
 * one session served over a real socketpair until its end (echo, a line
 * past max_line, idle_timeout, output paced by a slow reader), the wait
 * counters and the once-a-second "busy" mark, the idle clock's fallback,
 * the waiters of a shared socket (EPOLLEXCLUSIVE, or poll()), datagrams
 * until a stop, and a stop cutting a session.  The stop is for
 * good in a process, so the tests that ask for it run last.
 */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "blocking.h"
#include "conf.h"
#include "session.h"
#include "stats.h"
#include "util.h"

/* The echo handler writes each line back `repeat` times. */
static int repeat;

static int
t_data(struct netlabd_session *s, const void *buf, size_t len)
{
    for (int i = 0; i < repeat; i++)
        if (netlabd_write(s, buf, len) == -1 || netlabd_write(s, "\n", 1) == -1)
            return -1;
    return 0;
}

static struct netlabd_handler handler = {
    NETLABD_HANDLER_HEADER,
    .name = "test",
    .version = "0",
    .framing = NETLABD_FRAMING_LINE,
    .data = t_data,
};

static struct nl_listener_conf lc;
static struct nl_counters ctr, gate;
static struct nl_session_env env;
static int sp[2]; /* sp[0] the session's, sp[1] the client's */

static int
setup(void **state)
{
    struct timeval tv = {.tv_sec = 10};

    memset(&lc, 0, sizeof(lc));
    memset(&ctr, 0, sizeof(ctr));
    memset(&gate, 0, sizeof(gate));
    repeat = 1;
    lc.name = "t";
    lc.transport = NL_TRANSPORT_UNIX;
    lc.max_line = 64;
    lc.workers = 2;
    env.lc = &lc;
    env.handler = &handler;
    env.ctr = &ctr;
    env.gate = &gate.active;
    env.busy_logged_ms = &gate.busy_logged_ms;
    env.notify_fd = -1;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    assert_int_equal(nl_set_nonblock(sp[0], 1), 0);
    /* A client read that would hang fails the test instead. */
    setsockopt(sp[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return 0;
}

static int
teardown(void **state)
{
    close(sp[1]);
    return 0;
}

/* Serves the session on sp[0] to its end, as a worker does. */
static void
serve(int shutdown_timeout)
{
    struct nl_session s;
    struct nl_conn c;

    nl_conn_init(&c, &lc, sp[0]);
    nl_session_init(&s, &env, &c, NULL, 0);
    if (nl_session_open(&s) == 0)
        nl_serve_stream(&env, &s, shutdown_timeout, nl_now());
    nl_session_end(&s);
}

/* Reads the client side to its end (EOF, or a reset when the session was
 * closed on unread input); returns the bytes, at most cap of them kept. */
static size_t
read_all(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    char sink[65536];
    ssize_t n;

    while ((n = recv(fd, sink, sizeof(sink), 0)) > 0) {
        if (got < cap)
            memcpy(buf + got, sink,
                   (size_t)n < cap - got ? (size_t)n : cap - got);
        got += (size_t)n;
    }
    return got;
}

static void
test_echo(void **state)
{
    char buf[64];

    assert_int_equal(send(sp[1], "hello\r\nworld\n", 13, 0), 13);
    shutdown(sp[1], SHUT_WR);
    serve(1);
    assert_int_equal(read_all(sp[1], buf, sizeof(buf)), 12);
    assert_memory_equal(buf, "hello\nworld\n", 12);
    assert_int_equal(ctr.bytes_in, 13);
    assert_int_equal(ctr.bytes_out, 12);
    assert_int_equal(ctr.errors, 0);
}

/* A line past max_line ends the session without an answer to it. */
static void
test_line_too_long(void **state)
{
    char line[100], buf[64];

    memset(line, 'x', sizeof(line));
    line[sizeof(line) - 1] = '\n';
    assert_int_equal(send(sp[1], "ok\n", 3, 0), 3);
    assert_int_equal(send(sp[1], line, sizeof(line), 0), (ssize_t)sizeof(line));
    serve(1);
    assert_int_equal(ctr.errors, 1);
    /* The session ended at once: what was answered before, if anything,
     * and then the end, never the long line. */
    assert_true(read_all(sp[1], buf, sizeof(buf)) <= 3);
}

static void
test_idle_timeout(void **state)
{
    char buf[8];
    double t0 = nl_now(), took;

    lc.idle_timeout = 1;
    serve(1);
    took = nl_now() - t0;
    assert_true(took >= 0.9);
    assert_true(took < 3);
    assert_int_equal(recv(sp[1], buf, sizeof(buf), 0), 0);
    assert_int_equal(ctr.errors, 0);
}

static void *
slow_reader(void *arg)
{
    size_t *got = arg;

    usleep(200000); /* let output reach NL_SESSION_OUT_HIGH first */
    *got = read_all(sp[1], NULL, 0);
    return NULL;
}

/* Lines whose answers fill the output are held back, not refused, and go
 * on as the reader drains: every answer arrives, none is lost. */
static void
test_held_lines(void **state)
{
    enum { LINES = 40, REPEAT = 200 };
    char line[] = "0123456789012345678901234567890123456789\n";
    size_t got = 0, want = (size_t)LINES * REPEAT * (sizeof(line) - 1);
    pthread_t t;

    repeat = REPEAT;
    for (int i = 0; i < LINES; i++)
        assert_int_equal(send(sp[1], line, sizeof(line) - 1, 0),
                         (ssize_t)sizeof(line) - 1);
    shutdown(sp[1], SHUT_WR);
    assert_true(want > 2 * NL_SESSION_OUT_HIGH);
    assert_int_equal(pthread_create(&t, NULL, slow_reader, &got), 0);
    serve(1);
    pthread_join(t, NULL);
    assert_int_equal(got, want);
    assert_int_equal(ctr.bytes_out, want);
    assert_int_equal(ctr.errors, 0);
}

/* Unix sockets keep no time of a client's last byte: the caller's. */
static void
test_heard_at_fallback(void **state)
{
    struct nl_conn c;

    nl_conn_init(&c, &lc, sp[0]);
    assert_true(nl_heard_at(&c, 1234.5) == 1234.5);
    close(sp[0]);
}

/* Each wait is counted; the "busy" line's mark moves once a second at
 * most, whatever the number of callers. */
static void
test_wait_counters(void **state)
{
    uint64_t mark;

    nl_wait_begins(&env, 3);
    mark = gate.busy_logged_ms;
    assert_true(mark > 0);
    nl_wait_begins(&env, 4);
    assert_int_equal(gate.busy_logged_ms, mark);
    assert_int_equal(ctr.waited, 2);
    /* A mark more than a second old moves again. */
    gate.busy_logged_ms = mark - 1500;
    nl_wait_begins(&env, 1);
    assert_true(gate.busy_logged_ms >= mark);
    nl_wait_ends(&env, 0.25);
    nl_wait_ends(&env, 0.125);
    assert_int_equal(ctr.longest_wait_ms, 250);
    close(sp[0]);
}

/* A UDP socket bound to the loopback, non-blocking, and its address. */
static int
udp_socket(struct sockaddr_in *sin)
{
    socklen_t len = sizeof(*sin);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
    getsockname(fd, (struct sockaddr *)sin, &len);
    return fd;
}

/* Waiters on a shared socket, each with its epoll instance, see its
 * input; one on a descriptor epoll refuses (a regular file) falls back
 * to poll(). */
static void
test_waiters(void **state)
{
    struct nl_waiter w1, w2, wf;
    struct sockaddr_in sin;
    char path[] = "/tmp/test_blocking.XXXXXX";
    int fd = udp_socket(&sin), cl = socket(AF_INET, SOCK_DGRAM, 0);
    int ffd = mkstemp(path);

    close(sp[0]);
    assert_true(ffd != -1);
    unlink(path);
    assert_int_equal(write(ffd, "x", 1), 1);
    assert_int_equal(nl_stop_init(), 0);
    nl_waiter_open(&w1, fd);
    nl_waiter_open(&w2, fd);
    nl_waiter_open(&wf, ffd);
    assert_true(w1.ep != -1 && w2.ep != -1 && w1.ep != w2.ep);
    assert_int_equal(wf.ep, -1);
    assert_int_equal(sendto(cl, "a", 1, 0, (struct sockaddr *)&sin,
                            sizeof(sin)),
                     1);
    assert_int_equal(nl_waiter_wait(&w1), 1);
    assert_int_equal(nl_waiter_wait(&w2), 1); /* still there: level */
    assert_int_equal(nl_waiter_wait(&wf), 1);
    nl_waiter_close(&w1);
    nl_waiter_close(&w2);
    nl_waiter_close(&wf);
    assert_int_equal(w1.ep, -1);
    close(ffd);
    close(cl);
    close(fd);
}

struct dgram_run {
    int fd;
};

static void *
dgram_server(void *arg)
{
    struct dgram_run *r = arg;

    nl_serve_datagrams(&env, r->fd);
    return NULL;
}

/* Datagrams are answered until a stop is asked for. */
static void
test_datagrams_until_stop(void **state)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    struct timeval tv = {.tv_sec = 5};
    struct dgram_run r;
    char buf[64];
    pthread_t t;
    int cl;

    close(sp[0]);
    lc.transport = NL_TRANSPORT_UDP;
    r.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_int_equal(bind(r.fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    getsockname(r.fd, (struct sockaddr *)&sin, &len);
    cl = socket(AF_INET, SOCK_DGRAM, 0);
    setsockopt(cl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(connect(cl, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(nl_stop_init(), 0);
    assert_int_equal(pthread_create(&t, NULL, dgram_server, &r), 0);
    /* A line handler sees the datagram without its newline, and each of
     * its writes goes back as one datagram. */
    assert_int_equal(send(cl, "ping\n", 5, 0), 5);
    assert_int_equal(recv(cl, buf, sizeof(buf), 0), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(recv(cl, buf, sizeof(buf), 0), 1);
    nl_stop_request();
    pthread_join(t, NULL);
    assert_true(nl_stop_requested());
    assert_int_equal(ctr.total, 1);
    close(cl);
    close(r.fd);
}

/* Once stopping, a waiter's wait returns 0 though input waits. */
static void
test_waiters_stopped(void **state)
{
    struct nl_waiter w;
    struct sockaddr_in sin;
    int fd = udp_socket(&sin), cl = socket(AF_INET, SOCK_DGRAM, 0);
    int p[2];

    close(sp[0]);
    assert_true(nl_stop_requested());
    nl_waiter_open(&w, fd);
    assert_true(w.ep != -1);
    assert_int_equal(sendto(cl, "a", 1, 0, (struct sockaddr *)&sin,
                            sizeof(sin)),
                     1);
    assert_int_equal(nl_waiter_wait(&w), 0);
    nl_waiter_close(&w);
    /* The poll() fallback likewise (a pipe with input, epoll refused by
     * giving it a descriptor that is not open: -1). */
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    w.fd = p[0];
    w.ep = -1;
    assert_int_equal(nl_waiter_wait(&w), 0);
    close(p[0]);
    close(p[1]);
    close(cl);
    close(fd);
}

/* Once stopping, an open session is cut after shutdown_timeout. */
static void
test_stop_cuts_session(void **state)
{
    double t0 = nl_now();
    char buf[8];

    assert_true(nl_stop_requested());
    serve(0);
    assert_true(nl_now() - t0 < 2);
    assert_int_equal(recv(sp[1], buf, sizeof(buf), 0), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heard_at_fallback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_wait_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waiters, setup, teardown),
        /* These ask for the stop, for good: last. */
        cmocka_unit_test_setup_teardown(test_datagrams_until_stop, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_waiters_stopped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stop_cuts_session, setup,
                                        teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
