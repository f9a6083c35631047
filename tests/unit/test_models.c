/*
 * test_models.c - each concurrency model on its own, without the master:
 * a child process runs model->run() on a listening socket with an echo
 * handler written here; the test talks to it over real sockets, checks
 * max_connections and idle_timeout (counted from accept, time spent waiting
 * for a worker included), and stops it with SIGTERM; and the registry
 * that picks a model by kind.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "model.h"
#include "session.h"
#include "stats.h"

static int
t_data(struct netlabd_session *s, const void *buf, size_t len)
{
    return netlabd_write(s, buf, len);
}

static const struct netlabd_handler echo = {
    NETLABD_HANDLER_HEADER,
    .framing = NETLABD_FRAMING_RAW,
    .name = "t-echo",
    .version = "0",
    .data = t_data,
};

/* Shared with the child so that the test sees its counters. */
struct shared {
    struct nl_counters ctr;
    struct nl_counters gate; /* env.gate is its `active`, as serve.c sets */
};

struct run {
    const struct nl_model_ops *model;
    struct nl_listener_conf lc;
    struct shared *sh;
    int fd;
    int port;
    pid_t pid[8]; /* prefork: one per worker, as the master forks them */
    int npid;
};

static void
start(struct run *r, const struct nl_model_ops *model, int workers,
      int max_connections, int idle_timeout, int type)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    sigset_t stopsigs;

    memset(r, 0, sizeof(*r));
    r->model = model;
    r->lc.name = "t";
    r->lc.transport = type == SOCK_STREAM ? NL_TRANSPORT_TCP
                                          : NL_TRANSPORT_UDP;
    r->lc.workers = workers;
    r->lc.max_connections = max_connections;
    r->lc.idle_timeout = idle_timeout;
    r->lc.max_line = 8192;
    r->sh = mmap(NULL, sizeof(*r->sh), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(r->sh != MAP_FAILED);
    memset(r->sh, 0, sizeof(*r->sh));
    r->fd = socket(AF_INET, type, 0);
    assert_int_equal(bind(r->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    if (type == SOCK_STREAM)
        assert_int_equal(listen(r->fd, 64), 0);
    getsockname(r->fd, (struct sockaddr *)&sin, &len);
    r->port = ntohs(sin.sin_port);
    r->npid = model == &nl_model_prefork ? workers : 1;
    /* As the master does: children start with the stop signals blocked
     * and the model unblocks them once it handles them. */
    sigemptyset(&stopsigs);
    sigaddset(&stopsigs, SIGTERM);
    sigaddset(&stopsigs, SIGINT);
    sigprocmask(SIG_BLOCK, &stopsigs, NULL);
    for (int i = 0; i < r->npid; i++) {
        r->pid[i] = fork();
        assert_true(r->pid[i] != -1);
        if (r->pid[i] == 0) {
            struct nl_session_env env = {.lc = &r->lc,
                                         .handler = &echo,
                                         .ctr = &r->sh->ctr,
                                         .gate = &r->sh->gate.active,
                                         .notify_fd = -1};

            _exit(model->run(&env, r->fd, 1) == 0 ? 0 : 1);
        }
    }
    sigprocmask(SIG_UNBLOCK, &stopsigs, NULL);
}

/* SIGTERM, and the children must exit 0 within `within` seconds. */
static void
stop(struct run *r, int within)
{
    int status[8] = {0}, left = r->npid;

    for (int i = 0; i < r->npid; i++)
        kill(r->pid[i], SIGTERM);
    for (int t = 0; t < within * 20 && left > 0; t++) {
        for (int i = 0; i < r->npid; i++)
            if (r->pid[i] > 0 && waitpid(r->pid[i], &status[i], WNOHANG) > 0) {
                r->pid[i] = 0;
                left--;
            }
        if (left > 0)
            usleep(50000);
    }
    for (int i = 0; i < r->npid; i++) {
        if (r->pid[i] > 0) {
            kill(r->pid[i], SIGKILL);
            waitpid(r->pid[i], &status[i], 0);
            fail_msg("model %s did not stop within %d s", r->model->name,
                     within);
        }
        assert_true(WIFEXITED(status[i]));
        assert_int_equal(WEXITSTATUS(status[i]), 0);
    }
    close(r->fd);
    munmap(r->sh, sizeof(*r->sh));
}

static int
dial(const struct run *r, int type)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(r->port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 5};
    int fd = socket(AF_INET, type, 0);

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

static void
roundtrip(int fd, const char *msg)
{
    char buf[256];
    size_t n = strlen(msg), got = 0;

    assert_int_equal(send(fd, msg, n, 0), (ssize_t)n);
    while (got < n) {
        ssize_t k = recv(fd, buf + got, sizeof(buf) - got, 0);

        assert_true(k > 0);
        got += (size_t)k;
    }
    assert_memory_equal(buf, msg, n);
}

/* Waits (bounded) until the child's counter reaches want. */
static void
wait_count(volatile uint64_t *c, uint64_t want)
{
    for (int i = 0; i < 100 && *c != want; i++)
        usleep(20000);
    assert_int_equal(*c, want);
}

static void
check_echo(const struct nl_model_ops *model, int workers)
{
    struct run r;
    int fds[8];

    start(&r, model, workers, 100, 0, SOCK_STREAM);
    /* The blocking models serve as many sessions at once as they have
     * workers; libev serves any number. */
    int n = model == &nl_model_libev ? 8 : workers;

    for (int i = 0; i < n; i++)
        fds[i] = dial(&r, SOCK_STREAM);
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < n; i++)
            roundtrip(fds[i], "ping\n");
    for (int i = 0; i < n; i++)
        close(fds[i]);
    wait_count(&r.sh->ctr.active, 0);
    assert_int_equal(r.sh->ctr.total, n);
    assert_int_equal(r.sh->ctr.bytes_in, 15 * n);
    assert_int_equal(r.sh->ctr.bytes_out, 15 * n);
    assert_int_equal(r.sh->gate.active, 0);
    stop(&r, 2);
}

static void
check_refused(const struct nl_model_ops *model, int workers)
{
    struct run r;
    int a, b, c;
    char buf[8];

    start(&r, model, workers, 2, 0, SOCK_STREAM);
    a = dial(&r, SOCK_STREAM);
    roundtrip(a, "a");
    b = dial(&r, SOCK_STREAM);
    roundtrip(b, "b");
    /* The third is closed at once and counted. */
    c = dial(&r, SOCK_STREAM);
    assert_int_equal(recv(c, buf, sizeof(buf), 0), 0);
    wait_count(&r.sh->ctr.refused, 1);
    close(c);
    close(a);
    close(b);
    stop(&r, 2);
}

static void
check_idle(const struct nl_model_ops *model, int workers)
{
    struct run r;
    char buf[8];
    time_t t0;
    int a;

    start(&r, model, workers, 10, 1, SOCK_STREAM);
    a = dial(&r, SOCK_STREAM);
    roundtrip(a, "x");
    t0 = time(NULL);
    assert_int_equal(recv(a, buf, sizeof(buf), 0), 0);
    assert_true(time(NULL) - t0 <= 3);
    close(a);
    stop(&r, 2);
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Silent clients in front of one worker are each closed idle_timeout after
 * they connected, queued or not, and a client after them is served. */
static void
check_queued_idle(const struct nl_model_ops *model)
{
    enum { SILENT = 3 };
    struct run r;
    char buf[8];
    double t0;
    int fds[SILENT], c;

    start(&r, model, 1, 10, 1, SOCK_STREAM);
    t0 = now_s();
    for (int i = 0; i < SILENT; i++) {
        fds[i] = dial(&r, SOCK_STREAM);
        assert_int_equal(send(fds[i], "x", 1, 0), 1);
    }
    /* One worker used to close them one idle_timeout after another. */
    for (int i = 0; i < SILENT; i++) {
        /* The echo of the byte, if a worker took it, then the end. */
        for (int k = 0; k < 4 && recv(fds[i], buf, sizeof(buf), 0) > 0; k++)
            ;
        assert_true(recv(fds[i], buf, sizeof(buf), 0) <= 0);
        assert_true(now_s() - t0 < 2.5);
        close(fds[i]);
    }
    c = dial(&r, SOCK_STREAM);
    roundtrip(c, "y");
    close(c);
    wait_count(&r.sh->ctr.active, 0);
    /* The blocking models count the ones that waited for the worker. */
    if (model == &nl_model_libev) {
        assert_int_equal(r.sh->ctr.waited, 0);
    } else {
        assert_true(r.sh->ctr.waited >= SILENT - 1);
        assert_true(r.sh->ctr.longest_wait_ms >= 500);
    }
    stop(&r, 2);
}

static void
check_stop_with_open_session(const struct nl_model_ops *model, int workers)
{
    struct run r;
    int a;

    /* shutdown_timeout is 1 s: an idle session is cut after it. */
    start(&r, model, workers, 10, 0, SOCK_STREAM);
    a = dial(&r, SOCK_STREAM);
    roundtrip(a, "x");
    stop(&r, 3);
    close(a);
}

static void
check_datagrams(const struct nl_model_ops *model, int workers)
{
    struct run r;
    int a;

    start(&r, model, workers, 10, 0, SOCK_DGRAM);
    a = dial(&r, SOCK_DGRAM);
    for (int i = 0; i < 5; i++)
        roundtrip(a, "datagram");
    wait_count(&r.sh->ctr.total, 5);
    close(a);
    stop(&r, 2);
}

#define MODEL_TESTS(m, w)                                                      \
    static void test_##m##_echo(void **state)                                  \
    {                                                                          \
        check_echo(&nl_model_##m, w);                                          \
    }                                                                          \
    static void test_##m##_refused(void **state)                               \
    {                                                                          \
        check_refused(&nl_model_##m, w);                                       \
    }                                                                          \
    static void test_##m##_idle(void **state)                                  \
    {                                                                          \
        check_idle(&nl_model_##m, w);                                          \
    }                                                                          \
    static void test_##m##_stop(void **state)                                  \
    {                                                                          \
        check_stop_with_open_session(&nl_model_##m, w);                        \
    }                                                                          \
    static void test_##m##_dgram(void **state)                                 \
    {                                                                          \
        check_datagrams(&nl_model_##m, w);                                     \
    }                                                                          \
    static void test_##m##_queued_idle(void **state)                           \
    {                                                                          \
        check_queued_idle(&nl_model_##m);                                      \
    }

MODEL_TESTS(libev, 2)
MODEL_TESTS(threads, 4)
MODEL_TESTS(prefork, 3)

/* The registry: each kind its table, an unknown kind none. */
static void
test_registry(void **state)
{
    assert_ptr_equal(nl_model_get(NL_MODEL_LIBEV), &nl_model_libev);
    assert_ptr_equal(nl_model_get(NL_MODEL_THREADS), &nl_model_threads);
    assert_ptr_equal(nl_model_get(NL_MODEL_PREFORK), &nl_model_prefork);
    assert_null(nl_model_get((enum nl_model_kind)99));
}

#define MODEL_ENTRIES(m)                                                       \
    cmocka_unit_test(test_##m##_echo), cmocka_unit_test(test_##m##_refused),   \
        cmocka_unit_test(test_##m##_idle), cmocka_unit_test(test_##m##_stop),  \
        cmocka_unit_test(test_##m##_dgram),                                    \
        cmocka_unit_test(test_##m##_queued_idle)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        MODEL_ENTRIES(libev),
        MODEL_ENTRIES(threads),
        MODEL_ENTRIES(prefork),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
