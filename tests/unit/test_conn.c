/*
 * test_conn.c - the connection side of the transports (transport.h):
 * accepting on tcp (TCP_NODELAY, TCP_INFO's silence and backlog) and
 * unix, reading and writing through the table, whole writes, the events
 * a session's wants map to, a graceful end, datagrams cut and answered,
 * releasing (plain descriptors are the caller's), the registry of
 * transports, and a listener stopped, then its socket file removed.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

static struct nl_listener_conf lc;

static int
setup(void **state)
{
    memset(&lc, 0, sizeof(lc));
    lc.name = "t";
    lc.transport = NL_TRANSPORT_TCP;
    lc.backlog = 8;
    return 0;
}

static int
is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

/* A tcp listener on 127.0.0.1 and a free port; *port gets the port. */
static int
tcp_listener(int *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(fd, 8), 0);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    *port = ntohs(sin.sin_port);
    return fd;
}

static int
tcp_dial(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

static void
test_registry(void **state)
{
    assert_ptr_equal(nl_transport_get(NL_TRANSPORT_TCP), &nl_transport_inet);
    assert_ptr_equal(nl_transport_get(NL_TRANSPORT_UDP), &nl_transport_inet);
    assert_ptr_equal(nl_transport_get(NL_TRANSPORT_UNIX), &nl_transport_unix);
    assert_ptr_equal(nl_transport_get(NL_TRANSPORT_UNIX_DGRAM),
                     &nl_transport_unix);
    assert_null(nl_transport_get((enum nl_transport_kind)99));
    assert_int_equal(nl_transport_socktype(NL_TRANSPORT_TCP), SOCK_STREAM);
    assert_int_equal(nl_transport_socktype(NL_TRANSPORT_UDP), SOCK_DGRAM);
    assert_int_equal(nl_transport_socktype(NL_TRANSPORT_UNIX), SOCK_STREAM);
    assert_int_equal(nl_transport_socktype(NL_TRANSPORT_UNIX_DGRAM),
                     SOCK_DGRAM);
}

static void
test_tcp_accept(void **state)
{
    struct sockaddr_storage peer;
    socklen_t peer_len;
    struct nl_conn c;
    int port, lfd = tcp_listener(&port), cl, on = 0;
    socklen_t len = sizeof(on);
    double silent = -1;
    char buf[16];

    /* Nothing waiting: EAGAIN, as accept4() says it. */
    assert_int_equal(nl_transport_accept(&lc, lfd, &c, &peer, &peer_len), -1);
    assert_int_equal(errno, EAGAIN);
    cl = tcp_dial(port);
    assert_int_equal(nl_transport_backlog(&lc, lfd), 1);
    assert_int_equal(nl_transport_accept(&lc, lfd, &c, &peer, &peer_len), 0);
    assert_ptr_equal(c.ops, &nl_transport_inet);
    assert_int_equal(peer.ss_family, AF_INET);
    assert_int_equal(nl_transport_backlog(&lc, lfd), 0);
    /* Non-blocking, close-on-exec; no Nagle once admitted, not before
     * (a refused connection costs no more than accept4()). */
    assert_true(fcntl(c.fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(c.fd, F_GETFD) & FD_CLOEXEC);
    getsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &on, &len);
    assert_int_equal(on, 0);
    assert_int_equal(nl_transport_admitted(&lc, &c), 0);
    len = sizeof(on);
    getsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &on, &len);
    assert_int_equal(on, 1);
    assert_int_equal(nl_conn_silent_for(&c, &silent), 0);
    assert_true(silent >= 0 && silent < 5);
    /* Through the table both ways. */
    assert_int_equal(nl_conn_write_all(&c, "hello", 5), 5);
    assert_int_equal(recv(cl, buf, sizeof(buf), 0), 5);
    assert_int_equal(send(cl, "back", 4, 0), 4);
    for (int i = 0; i < 100 && c.ops->peek(&c, buf, sizeof(buf)) < 4; i++)
        usleep(10000);
    assert_int_equal(c.ops->peek(&c, buf, sizeof(buf)), 4);
    assert_int_equal(c.ops->read(&c, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "back", 4);
    assert_int_equal(c.ops->read(&c, buf, sizeof(buf)), -1);
    assert_int_equal(errno, EAGAIN);
    /* A graceful end: the client sees EOF, not a reset. */
    assert_int_equal(send(cl, "unread", 6, 0), 6);
    usleep(20000);
    nl_conn_shutdown(&c);
    nl_conn_release(&c);
    assert_int_equal(c.fd, -1);
    assert_int_equal(recv(cl, buf, sizeof(buf), 0), 0);
    nl_conn_release(&c); /* twice is harmless */
    close(cl);
    close(lfd);
}

static void
test_unix_accept(void **state)
{
    char dir[] = "/tmp/nl-conn-XXXXXX", path[64];
    struct sockaddr_storage peer;
    socklen_t peer_len;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct nl_socket sk;
    struct nl_conn c;
    char err[256];
    double silent;
    int cl, fd;
    struct stat st;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/s", dir);
    lc.transport = NL_TRANSPORT_UNIX;
    lc.path = path;
    assert_int_equal(nl_transport_open(&lc, &sk, err, sizeof(err)), 0);
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    cl = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(connect(cl, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(nl_transport_accept(&lc, sk.fd, &c, &peer, &peer_len), 0);
    assert_ptr_equal(c.ops, &nl_transport_unix);
    assert_int_equal(peer.ss_family, AF_UNIX);
    /* No kernel clock of a unix client's silence, nor of the backlog. */
    assert_int_equal(nl_conn_silent_for(&c, &silent), -1);
    assert_int_equal(nl_transport_backlog(&lc, sk.fd), 0);
    fd = c.fd;
    nl_conn_release(&c);
    assert_false(is_open(fd));
    close(cl);
    /* A stop closes the socket and leaves the file; removal takes it. */
    fd = sk.fd;
    nl_transport_stop(&lc, &sk);
    assert_int_equal(sk.fd, -1);
    assert_false(is_open(fd));
    assert_int_equal(lstat(path, &st), 0);
    nl_transport_remove(&lc, &sk);
    assert_int_equal(lstat(path, &st), -1);
    assert_int_equal(errno, ENOENT);
    rmdir(dir);
}

/* For the socket transports what a session wants is what is waited for. */
static void
test_events(void **state)
{
    struct nl_conn c;

    nl_conn_init(&c, &lc, -1);
    assert_int_equal(nl_conn_events(&c, NL_EV_READ), NL_EV_READ);
    assert_int_equal(nl_conn_events(&c, NL_EV_WRITE), NL_EV_WRITE);
    nl_conn_plain(&c, -1, -1);
    assert_int_equal(nl_conn_events(&c, NL_EV_WRITE), NL_EV_WRITE);
}

/* A write that would block stops there, saying so, with what it wrote. */
static void
test_write_all_blocks(void **state)
{
    static char big[1 << 20];
    struct nl_conn c;
    int sp[2];
    size_t n;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp),
                     0);
    nl_conn_init(&c, &lc, sp[0]);
    n = nl_conn_write_all(&c, big, sizeof(big));
    assert_true(n > 0 && n < sizeof(big));
    assert_int_equal(errno, EAGAIN);
    nl_conn_release(&c);
    /* To a peer gone: an error, and no SIGPIPE kills the test. */
    nl_conn_init(&c, &lc, sp[1]);
    assert_int_equal(nl_conn_write_all(&c, "x", 1), 0);
    assert_int_equal(errno, EPIPE);
    nl_conn_release(&c);
}

static void
test_datagrams(void **state)
{
    static char big[2048];
    struct sockaddr_storage peer;
    socklen_t peer_len;
    struct nl_conn c;
    char buf[16];
    int sp[2];

    lc.transport = NL_TRANSPORT_UNIX_DGRAM;
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sp), 0);
    nl_conn_init(&c, &lc, sp[0]);
    /* Nothing waiting: it does not block. */
    assert_int_equal(c.ops->recvfrom(&c, buf, sizeof(buf), &peer, &peer_len),
                     -1);
    assert_int_equal(errno, EAGAIN);
    /* A datagram larger than the buffer tells its whole length. */
    assert_int_equal(send(sp[1], big, sizeof(big), 0), (ssize_t)sizeof(big));
    assert_int_equal(c.ops->recvfrom(&c, buf, sizeof(buf), &peer, &peer_len),
                     (ssize_t)sizeof(big));
    /* The pair is connected: a reply without an address reaches it. */
    assert_int_equal(c.ops->sendto(&c, "re", 2, NULL, 0), 2);
    assert_int_equal(recv(sp[1], buf, sizeof(buf), MSG_DONTWAIT), 2);
    nl_conn_release(&c);
    close(sp[1]);
}

/* Plain descriptors: read from one, write to the other, a datagram reply
 * written whole, and neither closed on release. */
static void
test_plain(void **state)
{
    struct nl_conn c;
    int in[2], out[2];
    char buf[16];

    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    nl_conn_plain(&c, in[0], out[1]);
    assert_int_equal(write(in[1], "abc", 3), 3);
    assert_int_equal(c.ops->read(&c, buf, sizeof(buf)), 3);
    assert_int_equal(c.ops->write(&c, "de", 2), 2);
    assert_int_equal(c.ops->sendto(&c, "fgh", 3, NULL, 0), 3);
    assert_int_equal(read(out[0], buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "defgh", 5);
    nl_conn_shutdown(&c);
    nl_conn_release(&c);
    assert_true(is_open(in[0]));
    assert_true(is_open(out[1]));
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
}

/* A serving process's copy of a listening socket: the descriptor only. */
static void
test_close_copy(void **state)
{
    int fd = dup(STDIN_FILENO);

    nl_transport_close_copy(fd);
    assert_false(is_open(fd));
    nl_transport_close_copy(-1); /* nothing to close */
}

/* A write that makes no progress and sets no errno (as SSL_write() may
 * on a closed connection) must not read as "try again": the session would
 * wait for writable and write nothing again, for ever. */
static ssize_t
no_progress_write(struct nl_conn *c, const void *buf, size_t n)
{
    (void)c, (void)buf, (void)n;
    return 0;
}

static void
test_write_all_no_progress(void **state)
{
    static const struct nl_transport_ops stuck = {
        .name = "stuck",
        .write = no_progress_write,
    };
    struct nl_conn c = {.ops = &stuck, .fd = -1, .out_fd = -1};

    (void)state;
    errno = EAGAIN; /* what an earlier call left */
    assert_int_equal(nl_conn_write_all(&c, "x", 1), 0);
    assert_int_equal(errno, EIO);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_registry, setup),
        cmocka_unit_test_setup(test_tcp_accept, setup),
        cmocka_unit_test_setup(test_unix_accept, setup),
        cmocka_unit_test_setup(test_events, setup),
        cmocka_unit_test_setup(test_write_all_blocks, setup),
        cmocka_unit_test(test_write_all_no_progress),
        cmocka_unit_test_setup(test_datagrams, setup),
        cmocka_unit_test_setup(test_plain, setup),
        cmocka_unit_test_setup(test_close_copy, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
