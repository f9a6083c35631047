/*
 * test_pools.c - the pools that grow, inside the serving processes,
 * without the master: children run the prefork and threads models on a
 * listening socket with an echo handler written here, their counters and
 * the listener's gate in shared memory as the master maps them.
 *
 *  - prefork: each process counts itself idle in the gate (and in its own
 *    slot, with the time since when) while it waits for a connection; the
 *    one that takes the last idle place writes 'G' on its status pipe, and
 *    a process writes no other until the master has read it; a stop gives
 *    the idle places back;
 *  - threads: `workers` threads start; a connection that finds none idle
 *    starts one more, up to max_workers (workers_running in the slot);
 *    past that a connection waits (connections_waited) until a session
 *    ends.
 *
 * Every wait is bounded.  How these were seen to fail: with mark_busy()'s
 * write of 'G' taken out, test_prefork_asks_to_grow failed at its first
 * read_byte(); with enqueue() never growing, test_threads_grow failed as
 * the third client got no answer.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "model.h"
#include "session.h"
#include "stats.h"

#define MAXPROCS 4

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

/* What the master would map: a slot per process and the gate. */
struct shared {
    struct nl_counters slot[MAXPROCS];
    struct nl_counters gate;
};

struct pool {
    struct nl_listener_conf lc;
    struct shared *sh;
    int fd, port;
    int status[2]; /* the processes' status pipe: [0] is the master's */
    pid_t pid[MAXPROCS];
    int npid;
};

/* Starts nprocs children running model on a fresh tcp socket. */
static void
start(struct pool *p, const struct nl_model_ops *model, int nprocs,
      int workers, int max_workers)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    sigset_t stopsigs;

    memset(p, 0, sizeof(*p));
    p->lc.name = "t";
    p->lc.transport = NL_TRANSPORT_TCP;
    p->lc.workers = workers;
    p->lc.max_workers = max_workers;
    p->lc.max_connections = 100;
    p->lc.max_line = 8192;
    p->sh = mmap(NULL, sizeof(*p->sh), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(p->sh != MAP_FAILED);
    memset(p->sh, 0, sizeof(*p->sh));
    /* The master's count, which prefork holds against max_workers. */
    p->sh->gate.workers_running = (uint64_t)nprocs;
    p->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(p->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(p->fd, 64), 0);
    getsockname(p->fd, (struct sockaddr *)&sin, &len);
    p->port = ntohs(sin.sin_port);
    assert_int_equal(pipe2(p->status, O_CLOEXEC), 0);
    assert_int_equal(fcntl(p->status[0], F_SETFL, O_NONBLOCK), 0);
    p->npid = nprocs;
    sigemptyset(&stopsigs);
    sigaddset(&stopsigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &stopsigs, NULL);
    for (int i = 0; i < nprocs; i++) {
        assert_true((p->pid[i] = fork()) != -1);
        if (p->pid[i] == 0) {
            struct nl_session_env env = {
                .lc = &p->lc,
                .handler = &echo,
                .ctr = &p->sh->slot[i],
                .gate = &p->sh->gate.active,
                .busy_logged_ms = &p->sh->gate.busy_logged_ms,
                .notify_fd = p->status[1]};

            close(p->status[0]);
            _exit(model->run(&env, p->fd, 1) == 0 ? 0 : 1);
        }
    }
    sigprocmask(SIG_UNBLOCK, &stopsigs, NULL);
    close(p->status[1]);
}

/* SIGTERM; every child must exit 0 within 3 s. */
static void
stop(struct pool *p)
{
    for (int i = 0; i < p->npid; i++)
        kill(p->pid[i], SIGTERM);
    for (int i = 0; i < p->npid; i++) {
        int status = 0, t;

        for (t = 0; t < 60 && waitpid(p->pid[i], &status, WNOHANG) == 0; t++)
            usleep(50000);
        if (t == 60) {
            kill(p->pid[i], SIGKILL);
            waitpid(p->pid[i], &status, 0);
            fail_msg("process %d did not stop within 3 s", i);
        }
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    close(p->fd);
    close(p->status[0]);
}

static int
dial(const struct pool *p)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(p->port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 5};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

static void
roundtrip(int fd)
{
    char buf[8];

    assert_int_equal(send(fd, "ping", 4, 0), 4);
    assert_int_equal(recv(fd, buf, sizeof(buf), MSG_WAITALL), 4);
    assert_memory_equal(buf, "ping", 4);
}

/* Waits (bounded) until *c is want. */
static void
wait_count(volatile uint64_t *c, uint64_t want)
{
    for (int i = 0; i < 250 && *c != want; i++)
        usleep(20000);
    assert_int_equal(*c, want);
}

/* The next byte on the status pipe, waiting up to ms; -1 for none. */
static int
read_byte(const struct pool *p, int ms)
{
    struct pollfd pf = {.fd = p->status[0], .events = POLLIN};
    char c;

    if (poll(&pf, 1, ms) != 1 || read(p->status[0], &c, 1) != 1)
        return -1;
    return c;
}

static void
test_prefork_asks_to_grow(void **state)
{
    struct pool p;
    int a, b, c;

    (void)state;
    start(&p, &nl_model_prefork, 2, 2, 4);
    wait_count(&p.sh->gate.workers_idle, 2);
    assert_true(p.sh->slot[0].idle_since_ms > 0);
    assert_int_equal(p.sh->slot[0].workers_running, 1);
    a = dial(&p);
    roundtrip(a);
    assert_int_equal(p.sh->gate.workers_idle, 1);
    assert_int_equal(read_byte(&p, 200), -1); /* one is still idle */
    /* The last idle place taken: the master is asked for more. */
    b = dial(&p);
    roundtrip(b);
    assert_int_equal(p.sh->gate.workers_idle, 0);
    assert_int_equal(read_byte(&p, 5000), 'G');
    assert_true(p.sh->slot[0].idle_since_ms == 0 &&
                p.sh->slot[1].idle_since_ms == 0);
    /* The other process takes the last place next: its 'G'. */
    close(a);
    wait_count(&p.sh->gate.workers_idle, 1);
    c = dial(&p);
    roundtrip(c);
    assert_int_equal(read_byte(&p, 5000), 'G');
    /* Each has one in the pipe now: until the master has read them
     * (grow_asked cleared), neither writes another. */
    assert_true(p.sh->slot[0].grow_asked && p.sh->slot[1].grow_asked);
    close(b);
    close(c);
    wait_count(&p.sh->gate.workers_idle, 2);
    a = dial(&p);
    b = dial(&p);
    roundtrip(a);
    roundtrip(b);
    assert_int_equal(p.sh->gate.workers_idle, 0);
    assert_int_equal(read_byte(&p, 200), -1);
    close(a);
    close(b);
    wait_count(&p.sh->gate.workers_idle, 2);
    /* Read: they may ask again. */
    p.sh->slot[0].grow_asked = p.sh->slot[1].grow_asked = 0;
    a = dial(&p);
    b = dial(&p);
    roundtrip(a);
    roundtrip(b);
    assert_int_equal(read_byte(&p, 5000), 'G');
    close(a);
    close(b);
    wait_count(&p.sh->gate.workers_idle, 2);
    stop(&p);
    /* Stopping, each gave its idle place back. */
    assert_int_equal(p.sh->gate.workers_idle, 0);
    munmap(p.sh, sizeof(*p.sh));
}

static void
test_threads_grow(void **state)
{
    struct pool p;
    int fds[4];
    char buf[8];

    (void)state;
    start(&p, &nl_model_threads, 1, 2, 3);
    wait_count(&p.sh->slot[0].workers_running, 2);
    for (int i = 0; i < 3; i++) {
        fds[i] = dial(&p);
        roundtrip(fds[i]);
    }
    assert_int_equal(p.sh->slot[0].workers_running, 3);
    assert_int_equal(p.sh->slot[0].waited, 0);
    /* max_workers sessions open: the next one waits, and is counted. */
    fds[3] = dial(&p);
    assert_int_equal(send(fds[3], "ping", 4, 0), 4);
    wait_count(&p.sh->slot[0].waited, 1);
    assert_int_equal(recv(fds[3], buf, sizeof(buf), MSG_DONTWAIT), -1);
    assert_int_equal(p.sh->slot[0].workers_running, 3);
    close(fds[0]);
    assert_int_equal(recv(fds[3], buf, sizeof(buf), MSG_WAITALL), 4);
    for (int i = 1; i < 4; i++)
        close(fds[i]);
    stop(&p);
    munmap(p.sh, sizeof(*p.sh));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefork_asks_to_grow),
        cmocka_unit_test(test_threads_grow),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
